/*
 * reqcheck.h: the front door's checks of a request head.
 *
 * Pure functions: no I/O, no allocation, no globals; any thread. The caller
 * owns every pointer passed in; results point at static strings.
 *
 * libmicrohttpd 0.9.75 parses the head in place in its read buffer and is
 * more tolerant than a server that forwards may be (RFC 9112): it joins
 * obs-fold lines, cuts a field or the target at a NUL byte, accepts bare LF
 * line ends, keeps whitespace before the colon in the name and uses the
 * first of several Content-Length fields. What it leaves behind is still
 * visible: the request line and the fields lie one after the other in its
 * read buffer, each separator replaced by NUL bytes. reqcheck_head() checks
 * that layout (anything MHD moved or cut shows up as a gap or a jump) and
 * then the fields themselves. tests/t70_front.sh's desync probes check the
 * layout assumption against the real library.
 */
#ifndef DEFGATE_REQCHECK_H
#define DEFGATE_REQCHECK_H

#include <stddef.h>

#define REQCHECK_MAX_TARGET	(16 * 1024)	/* longer: 414 */
#define REQCHECK_MAX_FIELDS	(16 * 1024)	/* header section; more: 431 */

/* One field as MHD_get_connection_values_n() reports it, in order. */
struct reqcheck_field {
	const char	*name;
	size_t		 namelen;
	const char	*value;
	size_t		 valuelen;
};

/* A request head as MHD left it in its read buffer. */
struct reqcheck_head {
	const char			*method;	/* NUL-terminated */
	const char			*target;	/* in MHD's buffer: layout */
	size_t				 targetlen;	/* its strlen() in the URI
							   callback */
	const char			*target_copy;	/* the same bytes, intact
							   (MHD unescapes in place),
							   up to MAX_TARGET + 1 */
	const char			*version;	/* NUL-terminated */
	const struct reqcheck_field	*fields;
	size_t				 nfields;
};

/* The verdict: status 0 when the head is acceptable. */
struct reqcheck_result {
	unsigned	 status;	/* 0, 400, 414, 431 or 501 */
	const char	*code;		/* error code for the JSON body */
	const char	*why;		/* message for the JSON body */
	int		 body;		/* a body follows (length or chunked) */
};

/*
 * Framing exactly as RFC 9112 asks (§2.2, §3, §5, §6.1, §6.3): layout, one
 * Host on HTTP/1.1, field names are tokens, no control bytes in values, one
 * Content-Length value, no Transfer-Encoding with Content-Length, no
 * Transfer-Encoding but "chunked" (501). Reads only bytes of the head plus
 * the four NUL bytes MHD left for the final CRLF CRLF.
 */
void	 reqcheck_head(const struct reqcheck_head *, struct reqcheck_result *);

/*
 * Host (RFC 9110 §7.2) against DNS rebinding: 1 when host (n bytes) names
 * loopback (localhost, 127.0.0.0/8, [::1]), the listen host, any IP literal
 * when listen_host is a wildcard (0.0.0.0, [::], empty), or one of the names
 * in server_names (comma-separated, may be NULL); an optional :port follows.
 */
int	 reqcheck_host_ok(const char *host, size_t n, const char *listen_host,
	    const char *server_names);

/*
 * Origin (RFC 6454): 1 when origin (n bytes) is http://HOST[:port] with an
 * accepted HOST (above), or is listed exactly in cors_origins
 * (comma-separated, may be NULL). "null" and anything else: 0.
 */
int	 reqcheck_origin_ok(const char *origin, size_t n,
	    const char *listen_host, const char *server_names,
	    const char *cors_origins);

/* 1 when origin (n bytes) is listed exactly in cors_origins. */
int	 reqcheck_cors_listed(const char *origin, size_t n,
	    const char *cors_origins);

/* 1 when a Content-Type value (n bytes) is application/json (any params). */
int	 reqcheck_json_type(const char *ctype, size_t n);

#endif

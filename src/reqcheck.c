/*
 * reqcheck.c: checks of a request head. Pure; see reqcheck.h.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "reqcheck.h"

static void
verdict(struct reqcheck_result *res, unsigned status, const char *why)
{
	res->status = status;
	res->why = why;
	switch (status) {
	case 414: res->code = "URITooLong"; break;
	case 431: res->code = "RequestHeaderFieldsTooLarge"; break;
	case 501: res->code = "NotImplemented"; break;
	default: res->code = "BadRequest"; break;
	}
}

/* RFC 9110 §5.6.2 tchar */
static int
is_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z'))
		return (1);
	return (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int
is_ows(char c)
{
	return (c == ' ' || c == '\t');
}

static int
ieq(const char *a, size_t n, const char *b)
{
	return (strlen(b) == n && strncasecmp(a, b, n) == 0);
}

static void
trim(const char **v, size_t *n)
{
	while (*n > 0 && is_ows(**v)) {
		(*v)++;
		(*n)--;
	}
	while (*n > 0 && is_ows((*v)[*n - 1]))
		(*n)--;
}

/* n NUL bytes at p, where MHD wrote over CR LF (or CR LF CR LF). */
static int
nuls(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != '\0')
			return (0);
	return (1);
}

/*
 * Why the next line is not where MHD would have left it after a plain
 * "name: value CR LF" line; end is the end of the previous line's content.
 */
static const char *
layout_why(const char *end)
{
	if (end[1] == '\0' && is_ows(end[2]))
		return ("obs-fold (a header line that starts with "
		    "whitespace) is not accepted");
	return ("a NUL byte in a header field, or a line that ends in a "
	    "bare LF: lines must end in CR LF");
}

static int
check_layout(const struct reqcheck_head *h, struct reqcheck_result *res)
{
	const char	*start, *end;

	if (h->method + strlen(h->method) + 1 != h->target) {
		verdict(res, 400, "the request line must be METHOD SP target "
		    "SP version");
		return (-1);
	}
	if (h->target + h->targetlen + 1 != h->version) {
		verdict(res, 400, h->version > h->target + h->targetlen + 1 ?
		    "a NUL byte in the request target" : "the request line "
		    "must be METHOD SP target SP version");
		return (-1);
	}
	end = h->version + strlen(h->version);
	start = end + 2;
	for (size_t i = 0; i < h->nfields; i++) {
		const struct reqcheck_field *f = &h->fields[i];

		if (!nuls(end, 2)) {
			verdict(res, 400, layout_why(end));
			return (-1);
		}
		if (f->name != end + 2) {
			/* MHD copies a field elsewhere only to join a fold */
			verdict(res, 400, "obs-fold (a header line that "
			    "starts with whitespace) is not accepted");
			return (-1);
		}
		/* the colon became a NUL; then whitespace, then the value */
		if (f->namelen == 0 || f->name[f->namelen] != '\0' ||
		    f->value < f->name + f->namelen + 1) {
			verdict(res, 400, "a header line without a name");
			return (-1);
		}
		for (const char *p = f->name + f->namelen + 1; p < f->value;
		    p++)
			if (!is_ows(*p)) {
				verdict(res, 400, "a header line is "
				    "malformed");
				return (-1);
			}
		end = f->value + f->valuelen;
	}
	if (!nuls(end, 4)) {
		verdict(res, 400, layout_why(end));
		return (-1);
	}
	if (end > start && (size_t)(end - start) > REQCHECK_MAX_FIELDS) {
		verdict(res, 431, "the header section is larger than 16 KiB "
		    "(16384 bytes)");
		return (-1);
	}
	return (0);
}

static int
check_target(const struct reqcheck_head *h, struct reqcheck_result *res)
{
	if (h->targetlen > REQCHECK_MAX_TARGET) {
		verdict(res, 414, "the request target is longer than 16 KiB "
		    "(16384 bytes)");
		return (-1);
	}
	if (h->target_copy[0] != '/' && strcmp(h->target_copy, "*") != 0) {
		verdict(res, 400, "defgate serves origin-form targets only "
		    "(/path?query): it is not a forward proxy");
		return (-1);
	}
	for (size_t i = 0; i < h->targetlen; i++) {
		unsigned char c = (unsigned char)h->target_copy[i];

		if (c <= 0x20 || c >= 0x7f) {
			verdict(res, 400, "the request target contains a "
			    "control byte, a space or a non-ASCII byte: "
			    "percent-encode it");
			return (-1);
		}
	}
	return (0);
}

static int
check_fields(const struct reqcheck_head *h, struct reqcheck_result *res)
{
	const char	*cl = NULL;
	size_t		 cllen = 0, nhost = 0, nte = 0;
	int		 chunked = 0, other_te = 0;

	for (size_t i = 0; i < h->nfields; i++) {
		const struct reqcheck_field *f = &h->fields[i];
		const char	*v = f->value;
		size_t		 vl = f->valuelen;

		for (size_t k = 0; k < f->namelen; k++)
			if (!is_tchar((unsigned char)f->name[k])) {
				verdict(res, 400, is_ows(f->name[k]) ?
				    "whitespace in a header field name or "
				    "before its colon" : "a header field name "
				    "has a byte that is not allowed");
				return (-1);
			}
		for (size_t k = 0; k < vl; k++) {
			unsigned char c = (unsigned char)v[k];

			if ((c < 0x20 && c != '\t') || c == 0x7f) {
				verdict(res, 400, c == '\r' ? "a bare CR in "
				    "a header field" : "a control byte in a "
				    "header field");
				return (-1);
			}
		}
		trim(&v, &vl);
		if (ieq(f->name, f->namelen, "host"))
			nhost++;
		else if (ieq(f->name, f->namelen, "content-length")) {
			if (vl == 0 || vl > 18 ||
			    strspn(v, "0123456789") < vl) {
				verdict(res, 400, "invalid Content-Length");
				return (-1);
			}
			if (cl != NULL && (cllen != vl ||
			    memcmp(cl, v, vl) != 0)) {
				verdict(res, 400, "Content-Length fields "
				    "with different values");
				return (-1);
			}
			cl = v;
			cllen = vl;
		} else if (ieq(f->name, f->namelen, "transfer-encoding")) {
			nte++;
			if (ieq(v, vl, "chunked"))
				chunked = 1;
			else
				other_te = 1;
		}
	}
	if (nhost > 1) {
		verdict(res, 400, "more than one Host header field");
		return (-1);
	}
	if (nhost == 0 && strcmp(h->version, "HTTP/1.0") != 0) {
		verdict(res, 400, "HTTP/1.1 requires a Host header field");
		return (-1);
	}
	if (nte > 0 && cl != NULL) {
		verdict(res, 400, "both Transfer-Encoding and Content-Length "
		    "are set");
		return (-1);
	}
	if (nte > 0 && strcmp(h->version, "HTTP/1.1") != 0) {
		verdict(res, 400, "Transfer-Encoding in an HTTP/1.0 request");
		return (-1);
	}
	if (other_te || nte > 1) {
		verdict(res, 501, "Transfer-Encoding other than exactly "
		    "\"chunked\" is not supported");
		return (-1);
	}
	res->body = chunked || (cl != NULL && strspn(cl, "0") < cllen);
	return (0);
}

void
reqcheck_head(const struct reqcheck_head *h, struct reqcheck_result *res)
{
	memset(res, 0, sizeof(*res));
	if (check_layout(h, res) == 0 && check_target(h, res) == 0)
		(void)check_fields(h, res);
}

/* Is s (n bytes) an element of the comma-separated list? Case-insensitive. */
static int
in_list(const char *s, size_t n, const char *list)
{
	const char	*p = list;

	if (list == NULL || n == 0)
		return (0);
	while (*p) {
		const char	*e = strchr(p, ',');
		size_t		 l = e ? (size_t)(e - p) : strlen(p);
		const char	*q = p;

		trim(&q, &l);
		if (l == n && strncasecmp(q, s, n) == 0)
			return (1);
		p += e ? (size_t)(e - p) + 1 : strlen(p);
	}
	return (0);
}

/* An IP literal: a.b.c.d or [v6]. Fills a (16 bytes); 4 or 6, else 0. */
static int
ip_literal(const char *h, size_t n, unsigned char *a)
{
	char	tmp[64];

	if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
		if (n - 2 >= sizeof(tmp))
			return (0);
		memcpy(tmp, h + 1, n - 2);
		tmp[n - 2] = '\0';
		return (inet_pton(AF_INET6, tmp, a) == 1 ? 6 : 0);
	}
	if (n >= sizeof(tmp))
		return (0);
	memcpy(tmp, h, n);
	tmp[n] = '\0';
	return (inet_pton(AF_INET, tmp, a) == 1 ? 4 : 0);
}

static int
loopback_name(const char *h, size_t n)
{
	static const unsigned char v6lo[16] = { [15] = 1 };
	static const unsigned char v4map[12] = { [10] = 0xff, [11] = 0xff };
	unsigned char	 a[16];

	if (n > 0 && h[n - 1] == '.')
		n--;		/* "localhost." is the same name */
	if (ieq(h, n, "localhost"))
		return (1);
	switch (ip_literal(h, n, a)) {
	case 4:
		return (a[0] == 127);
	case 6:
		return (memcmp(a, v6lo, 16) == 0 ||
		    (memcmp(a, v4map, 12) == 0 && a[12] == 127));
	default:
		return (0);
	}
}

static int
wildcard(const char *listen_host)
{
	return (listen_host == NULL || *listen_host == '\0' ||
	    strcmp(listen_host, "0.0.0.0") == 0 ||
	    strcmp(listen_host, "[::]") == 0 || strcmp(listen_host, "::") == 0 ||
	    strcmp(listen_host, "*") == 0);
}

int
reqcheck_host_ok(const char *host, size_t n, const char *listen_host,
    const char *server_names)
{
	unsigned char	 a[16];
	size_t		 hl = n;
	const char	*colon = NULL;

	if (host == NULL || n == 0 || n > 255)
		return (0);
	/* split off :port (digits only) */
	for (size_t i = n; i > 0; i--) {
		if (host[i - 1] == ']')
			break;
		if (host[i - 1] == ':') {
			colon = host + i - 1;
			break;
		}
	}
	if (colon != NULL) {
		size_t pl = n - (size_t)(colon - host) - 1;

		if (pl == 0 || pl > 5 || strspn(colon + 1, "0123456789") < pl)
			return (0);
		hl = (size_t)(colon - host);
	}
	if (hl == 0)
		return (0);
	for (size_t i = 0; i < hl; i++)
		if (!(is_tchar((unsigned char)host[i]) || host[i] == '[' ||
		    host[i] == ']' || host[i] == ':'))
			return (0);
	if (loopback_name(host, hl))
		return (1);
	if (listen_host != NULL && ieq(host, hl, listen_host))
		return (1);
	if (wildcard(listen_host) && ip_literal(host, hl, a) != 0)
		return (1);
	return (in_list(host, hl, server_names));
}

int
reqcheck_cors_listed(const char *origin, size_t n, const char *cors_origins)
{
	return (in_list(origin, n, cors_origins));
}

int
reqcheck_origin_ok(const char *origin, size_t n, const char *listen_host,
    const char *server_names, const char *cors_origins)
{
	size_t skip;

	if (origin == NULL)
		return (0);
	if (reqcheck_cors_listed(origin, n, cors_origins))
		return (1);
	if (n > 7 && strncasecmp(origin, "http://", 7) == 0)
		skip = 7;
	else if (n > 8 && strncasecmp(origin, "https://", 8) == 0)
		skip = 8;
	else
		return (0);	/* "null", other schemes */
	if (memchr(origin + skip, '/', n - skip) != NULL ||
	    memchr(origin + skip, '@', n - skip) != NULL)
		return (0);
	return (reqcheck_host_ok(origin + skip, n - skip, listen_host,
	    server_names));
}

int
reqcheck_json_type(const char *ctype, size_t n)
{
	const char	*semi;
	size_t		 l = n;

	if (ctype == NULL)
		return (0);
	if ((semi = memchr(ctype, ';', n)) != NULL)
		l = (size_t)(semi - ctype);
	trim(&ctype, &l);
	return (ieq(ctype, l, "application/json"));
}

/*
 * front.c: the front door's policy for each request and connection.
 * Front (MHD) workers, several at once. See front.h.
 */
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "cfgref.h"
#include "config.h"
#include "front.h"
#include "httpd.h"
#include "log.h"
#include "proxy.h"
#include "reqcheck.h"

#define FRONT_MAX_FIELDS	256	/* more header fields: 431 */
#define FRONT_HOST_MAX		256

struct collect {
	struct reqcheck_field	 f[FRONT_MAX_FIELDS];
	size_t			 n;
	int			 over;
};

static enum MHD_Result
collect_cb(void *cls, enum MHD_ValueKind kind, const char *key, size_t ks,
    const char *value, size_t vs)
{
	struct collect *col = cls;

	(void)kind;
	if (col->n == FRONT_MAX_FIELDS) {
		col->over = 1;
		return (MHD_NO);
	}
	col->f[col->n].name = key;
	col->f[col->n].namelen = ks;
	col->f[col->n].value = value ? value : "";
	col->f[col->n].valuelen = value ? vs : 0;
	col->n++;
	return (MHD_YES);
}

static void
set_verdict(struct front_verdict *v, unsigned status, const char *code,
    const char *msg, int close)
{
	v->status = status;
	v->code = code;
	snprintf(v->msg, sizeof(v->msg), "%s", msg);
	v->close = close;
}

int
front_check_head(struct MHD_Connection *c, struct gw_request *r,
    const char *method, const char *version, struct front_verdict *v)
{
	struct collect		 col;	/* 8 KiB; MHD's workers have the
					 * default (8 MiB) thread stacks */
	struct reqcheck_head	 h;
	struct reqcheck_result	 res;

	memset(v, 0, sizeof(*v));
	if (r->uri_raw == NULL || r->uri == NULL || method == NULL ||
	    version == NULL) {
		set_verdict(v, 400, "BadRequest", "malformed request line", 1);
		return (-1);
	}
	col.n = 0;
	col.over = 0;
	MHD_get_connection_values_n(c, MHD_HEADER_KIND, collect_cb, &col);
	if (col.over) {
		set_verdict(v, 431, "RequestHeaderFieldsTooLarge", "more "
		    "than 256 header fields", 1);
		return (-1);
	}
	h.method = method;
	h.target = r->uri_raw;
	h.targetlen = r->uri_len;
	h.target_copy = r->uri;
	h.version = version;
	h.fields = col.f;
	h.nfields = col.n;
	reqcheck_head(&h, &res);
	if (res.status == 0)
		return (0);
	set_verdict(v, res.status, res.code, res.why, 1);
	return (-1);
}

/* The host part of listen ("127.0.0.1:8080", "[::1]:8080"). */
static void
listen_host(const struct gw_config *cf, char *out, size_t outlen)
{
	const char	*l = cf->listen ? cf->listen : "";
	const char	*e = l[0] == '[' ? strchr(l, ']') : strrchr(l, ':');
	size_t		 n = e ? (size_t)(e - l) + (l[0] == '[') : strlen(l);

	if (n >= outlen)
		n = 0;
	memcpy(out, l, n);
	out[n] = '\0';
}

static const char *
header(struct MHD_Connection *c, const char *name)
{
	return (MHD_lookup_connection_value(c, MHD_HEADER_KIND, name));
}

int
front_check_caller(struct MHD_Connection *c, const struct gw_config *cf,
    struct front_verdict *v)
{
	const char	*host = header(c, MHD_HTTP_HEADER_HOST);
	const char	*origin = header(c, "Origin");
	const char	*site = header(c, "Sec-Fetch-Site");
	char		 lh[FRONT_HOST_MAX];

	memset(v, 0, sizeof(*v));
	listen_host(cf, lh, sizeof(lh));
	/* HTTP/1.0 without Host: front_check_head let it through */
	if (host != NULL && !reqcheck_host_ok(host, strlen(host), lh,
	    cf->server_names)) {
		set_verdict(v, 421, "MisdirectedRequest", "this Host is not "
		    "served here: use localhost or the listen address, or "
		    "add the name to server_names (DEFGATE_SERVER_NAMES)", 0);
		return (-1);
	}
	if (origin != NULL && !reqcheck_origin_ok(origin, strlen(origin), lh,
	    cf->server_names, cf->cors_origins)) {
		set_verdict(v, 403, "CrossOriginForbidden", "requests from "
		    "other web origins are refused (see cors_origins)", 0);
		return (-1);
	}
	if (site != NULL && strcmp(site, "cross-site") == 0 &&
	    (origin == NULL || !reqcheck_cors_listed(origin, strlen(origin),
	    cf->cors_origins))) {
		set_verdict(v, 403, "CrossOriginForbidden", "cross-site "
		    "requests are refused (Sec-Fetch-Site: cross-site)", 0);
		return (-1);
	}
	return (0);
}

int
front_check_media(struct MHD_Connection *c, struct front_verdict *v)
{
	const char *ct = header(c, MHD_HTTP_HEADER_CONTENT_TYPE);

	memset(v, 0, sizeof(*v));
	if (ct != NULL && reqcheck_json_type(ct, strlen(ct)))
		return (0);
	set_verdict(v, 415, "UnsupportedMediaType", "the request body must "
	    "be JSON: send Content-Type: application/json", 0);
	return (-1);
}

void
front_decorate(struct MHD_Connection *c, const struct gw_config *cf,
    struct MHD_Response *resp)
{
	const char		*origin = header(c, "Origin");

	if (origin == NULL || cf == NULL || cf->cors_origins == NULL ||
	    !reqcheck_cors_listed(origin, strlen(origin), cf->cors_origins))
		return;
	MHD_add_response_header(resp, "Access-Control-Allow-Origin", origin);
	MHD_add_response_header(resp, "Access-Control-Expose-Headers",
	    "client-request-id, request-id, Retry-After");
	MHD_add_response_header(resp, "Vary", "Origin");
}

enum MHD_Result
front_answer(struct MHD_Connection *c, struct gw_request *r,
    const struct front_verdict *v, const char *allow)
{
	struct MHD_Response	*resp;
	enum MHD_Result		 ret;

	r->status = v->status;
	if ((resp = proxy_error_response(v->status, v->code, v->msg,
	    r->reqid)) == NULL)
		return (MHD_NO);
	if (allow != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	if (v->close)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION,
		    "close");
	front_decorate(c, r->cf, resp);
	ret = MHD_queue_response(c, v->status, resp);
	MHD_destroy_response(resp);
	return (ret);
}

enum MHD_Result
front_options(struct MHD_Connection *c, struct gw_request *r,
    const char *allow)
{
	struct MHD_Response	*resp;
	enum MHD_Result		 ret;

	r->status = 204;
	resp = MHD_create_response_from_buffer(0, (void *)"",
	    MHD_RESPMEM_PERSISTENT);
	if (resp == NULL)
		return (MHD_NO);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	MHD_add_response_header(resp, "client-request-id", r->reqid);
	front_decorate(c, r->cf, resp);
	if (MHD_get_response_header(resp, "Access-Control-Allow-Origin")) {
		MHD_add_response_header(resp, "Access-Control-Allow-Methods",
		    allow);
		MHD_add_response_header(resp, "Access-Control-Allow-Headers",
		    "Content-Type, client-request-id");
		MHD_add_response_header(resp, "Access-Control-Max-Age",
		    "600");
	}
	ret = MHD_queue_response(c, 204, resp);
	MHD_destroy_response(resp);
	return (ret);
}

/* 127.0.0.1, ::1 and ::ffff:127.0.0.1 */
static int
canonical_loopback(const struct sockaddr *sa)
{
	static const unsigned char v4map[16] = { [10] = 0xff, [11] = 0xff,
	    [12] = 127, [15] = 1 };

	if (sa->sa_family == AF_INET)
		return (((const struct sockaddr_in *)(const void *)sa)->
		    sin_addr.s_addr == htonl(INADDR_LOOPBACK));
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a =
		    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;

		return (IN6_IS_ADDR_LOOPBACK(a) ||
		    memcmp(a->s6_addr, v4map, 16) == 0);
	}
	return (0);
}

enum MHD_Result
front_accept(void *cls, const struct sockaddr *sa, socklen_t len)
{
	const struct gw_config	*cf;
	int			 ok;

	(void)cls;
	(void)len;
	if (sa == NULL)
		return (MHD_NO);
	if (canonical_loopback(sa))
		return (MHD_YES);
	cf = httpd_config_get();
	ok = config_allowed(cf, sa);
	cfgref_put(cf);
	if (ok)
		return (MHD_YES);
	log_debug("refused a connection from outside allow_from");
	return (MHD_NO);
}

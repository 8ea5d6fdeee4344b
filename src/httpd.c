/*
 * httpd.c: the front threads (see httpd.h).
 *
 * Request lifecycle: the URI log callback
 * allocates the struct gw_request when the request line arrives (it is the
 * only place the raw request-target, query included, is visible); the
 * access handler routes on the first call, buffers the body (capped) on the
 * following calls, then answers or hands over to proxy.c; the completion
 * callback counts and frees, the only free.
 *
 * Threads: every callback here may run on any of the front workers at
 * once (each worker serves its own connections), so nothing below keeps
 * per-request state outside the struct gw_request; h is written by the
 * main thread before the daemon starts, except cf (under cfmu) and
 * inflight (atomic).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <microhttpd.h>

#include "accesslog.h"
#include "cfgref.h"
#include "config.h"
#include "front.h"
#include "job.h"
#include "log.h"
#include "proxy.h"
#include "metrics.h"
#include "reqcheck.h"
#include "status.h"
#include "telemetry.h"
#include "upstream.h"
#include "util.h"
#include "httpd.h"

/*
 * Per-connection pool: request line, headers and MHD's buffers. defgate
 * answers a target over 16 KiB (414) and a header section over 16 KiB
 * (431) itself, in the JSON shape (reqcheck.c). Measured with MHD 0.9.75:
 * a 32 KiB pool holds heads up to about 31 KiB with room for that answer;
 * only larger heads meet libmicrohttpd's own HTML 414/431 (README,
 * "Limits"). MHD touches the whole pool: about 34 KiB RSS per open
 * connection (18 KiB with the former 16 KiB pool).
 */
#define HTTPD_MEMORY_LIMIT	(32 * 1024)
#define HTTPD_ASSET_MAX		(1024 * 1024)

struct asset {
	const char		*name;
	const char		*type;
	char			*data;
	size_t			 len;
	struct MHD_Response	*resp;
};

static struct {
	struct MHD_Daemon		*d;
	pthread_mutex_t			 cfmu;	/* guards cf */
	const struct gw_config		*cf;	/* a reference (cfgref.h) */
	struct upstream			*up;
	atomic_int			 inflight;
	atomic_ulong			 received;	/* requests, ever */
	unsigned short			 port;
	unsigned int			 threads;	/* front workers */
	int				 lsock;	/* quiesced listener, or -1 */
	struct MHD_Response		*healthz;
	struct asset			 assets[3];
} h = { .cfmu = PTHREAD_MUTEX_INITIALIZER, .lsock = -1 };

/* The configuration a new request uses, with a reference for it. */
static const struct gw_config *
config_take(void)
{
	const struct gw_config *cf;

	pthread_mutex_lock(&h.cfmu);
	cf = cfgref_get(h.cf);
	pthread_mutex_unlock(&h.cfmu);
	return (cf);
}

static const char *const html_csp = "default-src 'self'; img-src 'self' "
    "data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

static void
add_security_headers(struct MHD_Response *resp)
{
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Content-Security-Policy", html_csp);
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
	    "no-cache");
}

static const char *
www_dir(void)
{
	const char	*env = getenv("DEFGATE_WWW_DIR");
	struct stat	 st;

	if (env && *env)
		return (env);
	if (stat(WWWDIR "/status.html", &st) == 0)
		return (WWWDIR);
	return (SRCWWWDIR);
}

static void
load_assets(void)
{
	static const struct { const char *name, *type; } files[] = {
		{ "status.html", "text/html; charset=utf-8" },
		{ "status.css", "text/css; charset=utf-8" },
		{ "status.js", "text/javascript; charset=utf-8" },
	};
	const char *dir = www_dir();

	for (size_t i = 0; i < 3; i++) {
		struct asset	*a = &h.assets[i];
		char		 path[4096];
		struct buf	 b;
		char		 chunk[8192];
		ssize_t		 n;
		int		 fd;

		a->name = files[i].name;
		a->type = files[i].type;
		snprintf(path, sizeof(path), "%s/%s", dir, a->name);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
			log_warn("status page file %s (set DEFGATE_WWW_DIR "
			    "to the www directory)", path);
			continue;
		}
		buf_init(&b, HTTPD_ASSET_MAX);
		while ((n = read(fd, chunk, sizeof(chunk))) > 0)
			if (buf_append(&b, chunk, (size_t)n) == -1)
				break;
		close(fd);
		a->data = buf_take(&b, &a->len);
		/* built once, shared by every connection (refcounted) */
		a->resp = MHD_create_response_from_buffer(a->len, a->data,
		    MHD_RESPMEM_PERSISTENT);
		MHD_add_response_header(a->resp, MHD_HTTP_HEADER_CONTENT_TYPE,
		    a->type);
		add_security_headers(a->resp);
	}
}

static enum MHD_Result
queue_static(struct MHD_Connection *c, struct gw_request *r,
    struct MHD_Response *resp, unsigned status)
{
	r->status = status;
	return (MHD_queue_response(c, status, resp));
}

static enum MHD_Result
serve_asset(struct MHD_Connection *c, struct gw_request *r, const char *name)
{
	for (size_t i = 0; i < 3; i++)
		if (h.assets[i].resp && strcmp(h.assets[i].name, name) == 0)
			return (queue_static(c, r, h.assets[i].resp, 200));
	return (proxy_error(c, r, 404, "NotFound", "the status page files "
	    "are not installed (see the log)"));
}

static enum MHD_Result
serve_json(struct MHD_Connection *c, struct gw_request *r, unsigned status,
    char *json, size_t len)
{
	struct MHD_Response	*resp;
	enum MHD_Result		 ret;

	if (json == NULL)
		return (MHD_NO);
	resp = MHD_create_response_from_buffer(len, json,
	    MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(json);
		return (MHD_NO);
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "application/json; charset=utf-8");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
	    "no-store");
	MHD_add_response_header(resp, "client-request-id", r->reqid);
	front_decorate(c, r->cf, resp);
	r->status = status;
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return (ret);
}

static enum MHD_Result
serve_readyz(struct MHD_Connection *c, struct gw_request *r)
{
	char msg[768];

	if (status_ready(msg, sizeof(msg))) {
		const char *ok = "{\"status\":\"ready\"}";

		return (serve_json(c, r, 200, strdup(ok), strlen(ok)));
	}
	return (proxy_error(c, r, 503, "TokenUnavailable", msg));
}

static enum MHD_Result
serve_metrics(struct MHD_Connection *c, struct gw_request *r)
{
	struct MHD_Response	*resp;
	enum MHD_Result		 ret;
	size_t			 len;
	char			*text = telemetry_render(r->cf, &len);

	if (text == NULL)
		return (proxy_error(c, r, 500, "InternalError", "the metrics "
		    "do not fit their buffer"));
	resp = MHD_create_response_from_buffer(len, text,
	    MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(text);
		return (MHD_NO);
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    METRICS_CONTENT_TYPE);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
	    "no-store");
	r->status = 200;
	ret = MHD_queue_response(c, 200, resp);
	MHD_destroy_response(resp);
	return (ret);
}

/* The client's own client-request-id is kept when it is a sane token. */
static void
make_reqid(struct MHD_Connection *c, struct gw_request *r)
{
	const char	*v = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    "client-request-id");
	size_t		 n = 0;

	if (v != NULL) {
		for (; v[n] && n <= 64; n++)
			if (!((v[n] >= '0' && v[n] <= '9') ||
			    (v[n] >= 'a' && v[n] <= 'z') ||
			    (v[n] >= 'A' && v[n] <= 'Z') || v[n] == '-'))
				break;
		if (n > 0 && n <= 64 && v[n] == '\0') {
			memcpy(r->reqid, v, n + 1);
			return;
		}
	}
	util_uuid(r->reqid);
}

/*
 * An error decided on the first call is answered after the body has been
 * read (and dropped), so that the connection stays usable (keep-alive).
 * A chunked body of unknown size is not waited for: answered now, closed.
 */
static enum MHD_Result
pend(struct MHD_Connection *c, struct gw_request *r, unsigned status,
    const char *code, const char *msg)
{
	struct front_verdict v;

	if (MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL) {
		v.status = status;
		v.code = code;
		snprintf(v.msg, sizeof(v.msg), "%s", msg);
		v.close = 1;
		return (front_answer(c, r, &v, status == 405 ? r->m.allow :
		    NULL));
	}
	r->pend_status = status;
	r->pend_code = code;
	snprintf(r->pend_msg, sizeof(r->pend_msg), "%s", msg);
	return (MHD_YES);
}

static enum MHD_Result
answer_pending(struct MHD_Connection *c, struct gw_request *r)
{
	struct front_verdict v;

	if (r->pend_status == 204)	/* OPTIONS; pend_msg is Allow */
		return (front_options(c, r, r->pend_msg));
	v.status = r->pend_status;
	v.code = r->pend_code;
	memcpy(v.msg, r->pend_msg, sizeof(v.msg));
	v.close = 0;
	return (front_answer(c, r, &v, v.status == 405 ? r->m.allow : NULL));
}

/* OPTIONS: the route's methods, with HEAD beside GET, and OPTIONS. */
static enum MHD_Result
pend_options(struct gw_request *r)
{
	snprintf(r->pend_msg, sizeof(r->pend_msg), "%s%s, OPTIONS",
	    r->m.allow, strstr(r->m.allow, "GET") ? ", HEAD" : "");
	r->pend_status = 204;
	return (MHD_YES);
}

/* First call: headers only. Decide everything that can be decided now. */
static enum MHD_Result
first_call(struct MHD_Connection *c, struct gw_request *r, const char *method,
    const char *version)
{
	const struct gw_config		*cf;
	const union MHD_ConnectionInfo	*ci;
	struct front_verdict		 v;
	const char			*cl;
	char				 msg[256];

	r->started = 1;
	r->cf = cf = config_take();
	r->start_ms = util_mono_ms();
	make_reqid(c, r);
	/* framing (RFC 9112) first: a head we cannot trust closes */
	if (front_check_head(c, r, method, version, &v) != 0)
		return (front_answer(c, r, &v, NULL));
	cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl) {
		long long n;

		if (util_parse_ll(cl, 0, (1LL << 62), &n) == -1)
			return (proxy_error(c, r, 400, "BadRequest",
			    "invalid Content-Length"));
		if ((size_t)n > cf->max_body) {
			snprintf(msg, sizeof(msg), "the request body is larger "
			    "than max_body (%zu bytes)", cf->max_body);
			return (proxy_error(c, r, 413, "PayloadTooLarge",
			    msg));
		}
	}
	buf_init(&r->body, cf->max_body);
	/* HEAD is GET without the body, which MHD leaves out */
	r->rr = router_match(strcmp(method, "HEAD") == 0 ? "GET" : method,
	    r->uri ? r->uri : "", &r->m);

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if ((r->m.route == NULL || r->m.route->kind != RK_HEALTHZ) &&
	    !config_allowed(cf, ci ? ci->client_addr : NULL))
		return (pend(c, r, 403, "Forbidden", "this address "
		    "may not use defgate: see allow_from"));
	if (front_check_caller(c, cf, &v) != 0)
		return (pend(c, r, v.status, v.code, v.msg));
	switch (r->rr) {
	case ROUTER_OK:
		break;
	case ROUTER_NOT_FOUND:
		return (pend(c, r, 404, "NotFound", "no such endpoint: "
		    "use /incidents, /incidents/{id}, /hunting, the Defender "
		    "XDR, MDE or Graph paths listed on /status, /status.json, "
		    "/healthz or /readyz"));
	case ROUTER_BAD_METHOD:
		if (strcmp(method, "OPTIONS") == 0)
			return (pend_options(r));
		snprintf(msg, sizeof(msg), "%s is not allowed here; allowed: "
		    "%s", method, r->m.allow);
		return (pend(c, r, 405, "MethodNotAllowed", msg));
	case ROUTER_BAD_PATH:
	case ROUTER_BAD_QUERY:
		return (pend(c, r, 400, "BadRequest", r->m.reason));
	}
	if (!routes_enabled(r->m.route, cf))
		return (pend(c, r, 403, "WriteDisabled", "updating "
		    "incidents is disabled: set allow_write = true "
		    "(DEFGATE_ALLOW_WRITE) to enable PATCH"));
	if ((strcmp(method, "POST") == 0 || strcmp(method, "PATCH") == 0) &&
	    front_check_media(c, &v) != 0)
		return (pend(c, r, v.status, v.code, v.msg));
	return (MHD_YES);
}

static enum MHD_Result
access_cb(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct gw_request	*r = *con_cls;
	char			 msg[128];

	(void)cls;
	(void)url;
	if (r == NULL)
		return (MHD_NO);	/* the URI callback failed: OOM */
	if (!r->started)
		return (first_call(c, r, method, version));
	if (*upload_data_size != 0) {
		/* a pending error's body is read and dropped */
		if (!r->too_large && !r->pend_status &&
		    buf_append(&r->body, upload_data,
		    *upload_data_size) == -1) {
			r->too_large = 1;
			buf_free(&r->body);
		}
		*upload_data_size = 0;
		return (MHD_YES);
	}
	if (r->job != NULL)
		return (proxy_respond(c, r));
	if (r->pend_status)
		return (answer_pending(c, r));
	if (r->too_large) {
		snprintf(msg, sizeof(msg), "the request body is larger than "
		    "max_body (%zu bytes)", r->cf->max_body);
		return (proxy_error(c, r, 413, "PayloadTooLarge", msg));
	}
	switch (r->m.route->kind) {
	case RK_PROXY:
	case RK_HUNT:
		return (proxy_start(c, r, h.up));
	case RK_STATUS_PAGE:
		return (serve_asset(c, r, "status.html"));
	case RK_ASSET:
		return (serve_asset(c, r, r->m.route->asset));
	case RK_STATUS_JSON: {
		size_t	 len;
		char	*json = status_render_json(&len);

		return (serve_json(c, r, 200, json, len));
	}
	case RK_HEALTHZ:
		return (queue_static(c, r, h.healthz, 200));
	case RK_READYZ:
		return (serve_readyz(c, r));
	case RK_METRICS:
		return (serve_metrics(c, r));
	}
	return (proxy_error(c, r, 404, "NotFound", "no such endpoint"));
}

static void *
uri_cb(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct gw_request *r;

	(void)cls;
	(void)c;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return (NULL);
	if (uri != NULL) {
		/* never cut: a longer target is refused (414), not shortened */
		r->uri_raw = uri;
		r->uri_len = strlen(uri);
		r->uri = util_strndup(uri, r->uri_len > REQCHECK_MAX_TARGET ?
		    REQCHECK_MAX_TARGET + 1 : r->uri_len);
	}
	atomic_fetch_add(&h.inflight, 1);
	atomic_fetch_add_explicit(&h.received, 1, memory_order_relaxed);
	return (r);
}

static void
completed_cb(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct gw_request	*r = *con_cls;
	int			 upstream;

	(void)cls;
	(void)c;
	if (r == NULL)
		return;
	*con_cls = NULL;
	upstream = r->job != NULL;	/* proxy_finish drops the job */
	accesslog_request(c, r);	/* before the job is dropped */
	proxy_finish(r, h.up);
	if (r->status) {
		status_count(r->m.id, r->status);
		status_answered(r->m.id, r->cache, r->status, upstream);
		telemetry_request(r->m.id, r->status, r->cache,
		    util_mono_ms() - r->start_ms);
	}
	if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
		log_debug("%s: connection ended early (%d)", r->reqid,
		    (int)toe);
	buf_free(&r->body);
	cfgref_put(r->cf);
	free(r->uri);
	free(r);
	atomic_fetch_sub(&h.inflight, 1);
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	log_debug("httpd: %s", line);
}

int
httpd_start(const struct gw_config *cf, struct upstream *up)
{
	const union MHD_DaemonInfo	*di;
	unsigned int			 flags;
	static const char		 ok[] = "{\"status\":\"ok\"}";
	struct MHD_OptionItem		 pool[] = {
		{ MHD_OPTION_END, 0, NULL },
		{ MHD_OPTION_END, 0, NULL },
	};

	cfgref_swap(&h.cfmu, &h.cf, cf);
	h.up = up;
	load_assets();
	h.healthz = MHD_create_response_from_buffer(strlen(ok), (void *)ok,
	    MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(h.healthz, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "application/json");
	MHD_add_response_header(h.healthz, MHD_HTTP_HEADER_CACHE_CONTROL,
	    "no-store");
	/*
	 * poll, not epoll: MHD 0.9.75's epoll loop stalls under load. With
	 * threads > 1 MHD runs that many poll workers that all accept on
	 * the listening socket; a connection stays on the worker that
	 * accepted it, which is what makes MHD_suspend_connection() from its
	 * callbacks legal. MHD refuses a pool larger than the connection
	 * limit (each worker gets an equal share of it), and prints a
	 * warning for a pool size of 0 or 1: the option goes only with 2+.
	 */
	h.threads = cf->threads < cf->max_clients ? cf->threads :
	    cf->max_clients;
	if (h.threads < 1)
		h.threads = 1;
	if (h.threads < cf->threads)
		log_info("front threads: %u, not %u: max_clients (%u) is "
		    "shared among them", h.threads, cf->threads,
		    cf->max_clients);
	pool[0].option = h.threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE :
	    MHD_OPTION_END;
	pool[0].value = (intptr_t)h.threads;
	flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
	    MHD_USE_ERROR_LOG;
	if (cf->listen_addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* allow_from at accept: refused peers never hold a slot (front.c) */
	h.d = MHD_start_daemon(flags, 0, front_accept, NULL,
	    access_cb, NULL,
	    /* first: MHD's own complaints about the options go to our log */
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
	    MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&cf->listen_addr,
	    MHD_OPTION_CONNECTION_LIMIT, cf->max_clients,
	    MHD_OPTION_CONNECTION_TIMEOUT, cf->client_timeout,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTPD_MEMORY_LIMIT,
	    MHD_OPTION_LISTENING_ADDRESS_REUSE, 1U,
	    MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024U,
	    MHD_OPTION_URI_LOG_CALLBACK, uri_cb, NULL,
	    MHD_OPTION_NOTIFY_COMPLETED, completed_cb, NULL,
	    MHD_OPTION_ARRAY, pool,
	    MHD_OPTION_END);
	if (h.d == NULL) {
		log_warnx("cannot listen on %s (listen / DEFGATE_LISTEN): "
		    "address in use or not available", cf->listen);
		return (-1);
	}
	di = MHD_get_daemon_info(h.d, MHD_DAEMON_INFO_BIND_PORT);
	h.port = di ? di->port : 0;
	return (0);
}

unsigned short
httpd_port(void)
{
	return (h.port);
}

unsigned int
httpd_threads(void)
{
	return (h.threads);
}

/*
 * MHD stops polling the listening socket (each worker is told through its
 * ITC) but may still be in a poll() that includes it: closing it now could
 * hand its number to a new descriptor under a worker's feet. shutdown()
 * refuses new connections at once; close() waits for httpd_stop().
 */
void
httpd_quiesce(void)
{
	MHD_socket s;

	if (h.d && (s = MHD_quiesce_daemon(h.d)) != MHD_INVALID_SOCKET) {
		(void)shutdown(s, SHUT_RDWR);
		h.lsock = s;
	}
}

int
httpd_inflight(void)
{
	return (atomic_load(&h.inflight));
}

unsigned long
httpd_received(void)
{
	return (atomic_load_explicit(&h.received, memory_order_relaxed));
}

void
httpd_stop(void)
{
	if (h.d)
		MHD_stop_daemon(h.d);
	h.d = NULL;
	if (h.lsock != -1)
		close(h.lsock);
	h.lsock = -1;
	cfgref_swap(&h.cfmu, &h.cf, NULL);
	if (h.healthz)
		MHD_destroy_response(h.healthz);
	for (size_t i = 0; i < 3; i++) {
		if (h.assets[i].resp)
			MHD_destroy_response(h.assets[i].resp);
		free(h.assets[i].data);
		memset(&h.assets[i], 0, sizeof(h.assets[i]));
	}
}

void
httpd_set_config(const struct gw_config *cf)
{
	cfgref_swap(&h.cfmu, &h.cf, cf);
}

const struct gw_config *
httpd_config_get(void)
{
	return (config_take());
}

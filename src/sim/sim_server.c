/*
 * sim_server.c: the simulation's HTTPS server (libmicrohttpd, its own CA
 * from sim_tls.c): struct sim and its settings, one struct sim_req per
 * request, the optional hooks (the test fake's faults and control
 * endpoints; the daemon's --demo passes none), and streamed bodies.
 * Requests go to sim_entra.c (token endpoint) or sim_api.c (the APIs).
 *
 * Threads: sim_start()/sim_port()/sim_stop() run on the caller's thread.
 * MHD runs one thread per connection (so hooks and streams may sleep;
 * every sleep is sliced and watches `stopping`, so sim_stop() returns
 * quickly). Everything in struct sim below `mtx` is guarded by it; the
 * incident store has its own lock; key material is read-only.
 * Ownership: struct sim owns everything it points to; a struct sim_req
 * is made in the URI callback and freed in the completion callback; a
 * struct stream belongs to its MHD response.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "sim_int.h"
#include "util.h"

#define API_BODY_MAX	(1024 * 1024)
#define TOKEN_BODY_MAX	(64 * 1024)
#define BIG_HEADER_MAX	(900 * 1024)
#define ODATA_PREFIX	"{\"@odata.context\":\"https://api.security." \
			"microsoft.com/api/$metadata#Incidents\",\"value\":[]," \
			"\"padding\":\""

/* ---- small helpers ---- */

int
sim_stopping(struct sim *s)
{
	return (atomic_load(&s->stopping));
}

/* Sleep in slices of <= 50 ms; -1 when the sim is stopping. */
int
sim_sleep(struct sim *s, long ms)
{
	struct timespec	 ts;
	long		 step;

	while (ms > 0) {
		if (sim_stopping(s))
			return (-1);
		step = ms < 50 ? ms : 50;
		ts.tv_sec = 0;
		ts.tv_nsec = step * 1000000L;
		nanosleep(&ts, NULL);
		ms -= step;
	}
	return (sim_stopping(s) ? -1 : 0);
}

static char *
dupstr(const char *s)
{
	return (s ? xstrdup(s) : NULL);
}

const char *
sim_header(struct MHD_Connection *c, const char *name)
{
	return (MHD_lookup_connection_value(c, MHD_HEADER_KIND, name));
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

/* Percent-decode n bytes of s (with '+' as space when plus is set). */
char *
sim_pct_decode(const char *s, size_t n, int plus)
{
	char	*o = xmalloc(n + 1), *p = o;
	int	 hi, lo;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '+' && plus) {
			*p++ = ' ';
		} else if (s[i] == '%' && i + 2 < n &&
		    (hi = hexval(s[i + 1])) >= 0 &&
		    (lo = hexval(s[i + 2])) >= 0) {
			*p++ = (char)(hi << 4 | lo);
			i += 2;
		} else
			*p++ = s[i];
	}
	*p = '\0';
	return (o);
}

char *
sim_print_json(cJSON *o)
{
	char	*t = cJSON_PrintUnformatted(o);

	cJSON_Delete(o);
	return (t);
}

const char *
sim_claim(const cJSON *o, const char *name)
{
	const cJSON	*v = cJSON_GetObjectItemCaseSensitive(o, name);

	return (cJSON_IsString(v) ? v->valuestring : NULL);
}

/* The raw path (before '?') and raw query ("" if none) of a target. */
char *
sim_raw_path(const char *uri)
{
	return (util_strndup(uri, strcspn(uri, "?")));
}

const char *
sim_raw_query(const char *uri)
{
	const char	*q = strchr(uri, '?');

	return (q ? q + 1 : "");
}

/* ---- responses and streamed bodies ---- */

struct MHD_Response *
sim_mem_response(char *body)
{
	struct MHD_Response	*r;

	if (body == NULL)
		return (MHD_create_response_from_buffer(0, (void *)"",
		    MHD_RESPMEM_PERSISTENT));
	r = MHD_create_response_from_buffer(strlen(body), body,
	    MHD_RESPMEM_MUST_FREE);
	if (r == NULL)
		free(body);
	return (r);
}

enum MHD_Result
sim_queue(struct MHD_Connection *c, unsigned status, struct MHD_Response *r)
{
	enum MHD_Result	 ret;

	if (r == NULL)
		return (MHD_NO);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return (ret);
}

enum skind { S_MEM, S_HUNT, S_PAD, S_CUT };

struct stream {
	struct sim	*s;
	enum skind	 kind;
	char		*mem;		/* S_MEM */
	size_t		 len;
	struct sim_hunt	*hunt;		/* S_HUNT */
	uint64_t	 total;		/* S_PAD, S_CUT: declared size */
	long		 stall_ms;	/* > 0: pause once at stall_at */
	uint64_t	 stall_at;
	int		 stalled;
	uint64_t	 cut_at;	/* > 0: reset the connection here */
};

/* Bytes [pos, pos+n) of a valid JSON document of exactly `total` bytes. */
static void
pad_fill(uint64_t total, uint64_t pos, char *out, size_t n)
{
	static const char	 pre[] = ODATA_PREFIX, suf[] = "\"}";
	const uint64_t		 plen = sizeof(pre) - 1;
	const uint64_t		 slen = sizeof(suf) - 1;

	for (size_t i = 0; i < n; i++) {
		uint64_t p = pos + i;

		if (p < plen)
			out[i] = pre[p];
		else if (p >= total - slen)
			out[i] = suf[p - (total - slen)];
		else
			out[i] = 'x';
	}
}

static ssize_t
stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct stream	*st = cls;
	long		 n;

	if (sim_stopping(st->s))
		return (MHD_CONTENT_READER_END_WITH_ERROR);
	if (st->cut_at > 0) {
		if (pos >= st->cut_at)
			return (MHD_CONTENT_READER_END_WITH_ERROR);
		if (max > st->cut_at - pos)
			max = (size_t)(st->cut_at - pos);
	}
	if (st->stall_ms > 0 && !st->stalled) {
		if (pos >= st->stall_at) {
			st->stalled = 1;
			if (sim_sleep(st->s, st->stall_ms) == -1)
				return (MHD_CONTENT_READER_END_WITH_ERROR);
		} else if (max > st->stall_at - pos)
			max = (size_t)(st->stall_at - pos);
	}
	switch (st->kind) {
	case S_MEM:
		if (pos >= st->len)
			return (MHD_CONTENT_READER_END_OF_STREAM);
		if (max > st->len - pos)
			max = (size_t)(st->len - pos);
		memcpy(out, st->mem + pos, max);
		return ((ssize_t)max);
	case S_HUNT:
		if ((n = sim_hunt_read(st->hunt, out, max)) < 0)
			return (MHD_CONTENT_READER_END_WITH_ERROR);
		if (n == 0)
			return (MHD_CONTENT_READER_END_OF_STREAM);
		return ((ssize_t)n);
	case S_PAD:
	case S_CUT:
		if (st->kind == S_CUT && pos >= st->total / 3)
			return (MHD_CONTENT_READER_END_WITH_ERROR);
		if (pos >= st->total)
			return (MHD_CONTENT_READER_END_OF_STREAM);
		if (max > st->total - pos)
			max = (size_t)(st->total - pos);
		if (st->kind == S_CUT && max > st->total / 3 - pos)
			max = (size_t)(st->total / 3 - pos);
		pad_fill(st->total, pos, out, max);
		return ((ssize_t)max);
	}
	return (MHD_CONTENT_READER_END_WITH_ERROR);
}

static void
stream_free(void *cls)
{
	struct stream	*st = cls;

	free(st->mem);
	sim_hunt_free(st->hunt);
	free(st);
}

static struct MHD_Response *
stream_start(struct stream *st, uint64_t size)
{
	struct MHD_Response	*r;

	r = MHD_create_response_from_callback(size, 64 * 1024, stream_read,
	    st, stream_free);
	if (r == NULL)
		stream_free(st);
	return (r);
}

struct MHD_Response *
sim_stream_response(struct sim_req *r, struct sim_hunt *hunt, char *mem)
{
	struct stream	*st = xcalloc(1, sizeof(*st));
	uint64_t	 size = MHD_SIZE_UNKNOWN;

	st->s = r->s;
	st->kind = hunt ? S_HUNT : S_MEM;
	st->hunt = hunt;
	if (hunt == NULL) {
		st->mem = mem;
		st->len = mem ? strlen(mem) : 0;
		size = st->len;
	} else
		free(mem);
	if (r->cut) {
		/* half of a known body; 8 KiB into a streamed one */
		st->cut_at = size != MHD_SIZE_UNKNOWN ? size / 2 : 8192;
		if (st->cut_at == 0)
			st->cut_at = 1;
	}
	if (r->stall_ms > 0) {
		st->stall_ms = r->stall_ms;
		st->stall_at = 16;
		if (size != MHD_SIZE_UNKNOWN && size < 32)
			st->stall_at = size / 2;
	}
	return (stream_start(st, size));
}

struct MHD_Response *
sim_pad_response(struct sim_req *r, uint64_t total, int cut)
{
	struct stream	*st = xcalloc(1, sizeof(*st));
	uint64_t	 min = sizeof(ODATA_PREFIX) - 1 + 2;

	st->s = r->s;
	st->kind = cut ? S_CUT : S_PAD;
	st->total = total < min ? min : total;
	/* unknown size: MHD frames the body with chunked encoding */
	return (stream_start(st, r->s->pad_chunked ? MHD_SIZE_UNKNOWN :
	    st->total));
}

/* ---- settings ---- */

const char *
sim_audience_name(int aud)
{
	return (aud >= 0 && aud < SIM_AUD_N ? sim_auds[aud].name : "");
}

const char *
sim_audience_resource(int aud)
{
	return (aud >= 0 && aud < SIM_AUD_N ? sim_auds[aud].resource : "");
}

int
sim_audience_find(const char *s)
{
	for (int i = 0; s != NULL && i < SIM_AUD_N; i++)
		if (strcmp(s, sim_auds[i].name) == 0 ||
		    strcmp(s, sim_auds[i].resource) == 0 ||
		    strcmp(s, sim_auds[i].appid) == 0)
			return (i);
	return (-1);
}

const char *
sim_all_roles(int aud)
{
	return (sim_auds[aud].roles);
}

void
sim_set_roles(struct sim *s, int aud, const char *roles)
{
	char	*n = dupstr(roles);

	pthread_mutex_lock(&s->mtx);
	free(s->roles[aud]);
	s->roles[aud] = n;
	pthread_mutex_unlock(&s->mtx);
}

char *
sim_roles(struct sim *s, int aud)
{
	char	*r;

	pthread_mutex_lock(&s->mtx);
	r = xstrdup(s->roles[aud] ? s->roles[aud] : sim_auds[aud].roles);
	pthread_mutex_unlock(&s->mtx);
	return (r);
}

void
sim_set_token_lifetime(struct sim *s, int seconds)
{
	pthread_mutex_lock(&s->mtx);
	s->lifetime = seconds;
	pthread_mutex_unlock(&s->mtx);
}

void
sim_set_token_version(struct sim *s, int version)
{
	pthread_mutex_lock(&s->mtx);
	s->version = version == 2 ? 2 : 1;
	pthread_mutex_unlock(&s->mtx);
}

void
sim_set_machines(struct sim *s, int present)
{
	pthread_mutex_lock(&s->mtx);
	s->no_machines = !present;
	pthread_mutex_unlock(&s->mtx);
}

int
sim_machines(struct sim *s)
{
	int	 m;

	pthread_mutex_lock(&s->mtx);
	m = !s->no_machines;
	pthread_mutex_unlock(&s->mtx);
	return (m);
}

void
sim_revoke(struct sim *s, int aud)
{
	pthread_mutex_lock(&s->mtx);
	for (int i = 0; i < SIM_AUD_N; i++)
		if (aud < 0 || aud == i)
			s->revoked[i] = s->serial;
	pthread_mutex_unlock(&s->mtx);
}

/* The quotas as the options set them, counters from zero. */
static void
quota_restart(struct sim *s)
{
	for (int g = 0; g < SIM_QUOTA_N; g++)
		sim_quota_set(&s->quota, s->quota0, g, s->quota_limits0[g]);
	sim_quota_zero(&s->quota, util_mono_ms());
}

int
sim_quota_valid(const char *limits)
{
	unsigned	 l[SIM_QUOTA_WINDOWS];
	long long	 t[SIM_QUOTA_WINDOWS];

	return (sim_quota_parse(limits, l, t) == 0);
}

int
sim_set_quota(struct sim *s, int on, int group, const char *limits)
{
	if (group >= SIM_QUOTA_N)
		return (-1);
	return (sim_quota_set(&s->quota, on, group, limits));
}

char *
sim_quota_stats(struct sim *s)
{
	return (sim_print_json(sim_quota_json(&s->quota, util_mono_ms())));
}

void
sim_reset(struct sim *s)
{
	pthread_mutex_lock(&s->mtx);
	memset(s->revoked, 0, sizeof(s->revoked));
	for (int i = 0; i < SIM_AUD_N; i++) {
		free(s->roles[i]);
		s->roles[i] = dupstr(s->roles0[i]);
	}
	s->lifetime = s->lifetime0;
	s->version = s->version0;
	s->no_machines = s->no_machines0;
	pthread_mutex_unlock(&s->mtx);
	sim_store_reset(s->store);
	quota_restart(s);
}

/* ---- one request, for the hooks ---- */

enum sim_req_kind
sim_req_kind(const struct sim_req *r)
{
	return (r->kind);
}

const char *
sim_req_method(const struct sim_req *r)
{
	return (r->method);
}

const char *
sim_req_path(const struct sim_req *r)
{
	return (r->url);
}

const char *
sim_req_target(const struct sim_req *r)
{
	return (r->uri);
}

const char *
sim_req_query(const struct sim_req *r)
{
	return (sim_raw_query(r->uri));
}

const char *
sim_req_body(const struct sim_req *r, size_t *len)
{
	*len = r->body.len;
	return (r->body.data ? r->body.data : "");
}

const char *
sim_req_header(const struct sim_req *r, const char *name)
{
	return (sim_header(r->c, name));
}

struct hdr_walk {
	void	(*fn)(void *, const char *, const char *);
	void	*arg;
};

static enum MHD_Result
hdr_each(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct hdr_walk	*w = cls;

	w->fn(w->arg, key, value ? value : "");
	return (MHD_YES);
}

void
sim_req_headers(const struct sim_req *r,
    void (*fn)(void *, const char *, const char *), void *arg)
{
	struct hdr_walk	 w = { fn, arg };

	MHD_get_connection_values(r->c, MHD_HEADER_KIND, hdr_each, &w);
}

int
sim_req_audience(const struct sim_req *r)
{
	return (r->aud);
}

const struct cJSON *
sim_req_form(const struct sim_req *r)
{
	return (r->form);
}

int
sim_req_sleep(struct sim_req *r, long ms)
{
	return (sim_sleep(r->s, ms));
}

void
sim_req_shape(struct sim_req *r, long stall_ms, int cut, long long big)
{
	if (stall_ms > 0)
		r->stall_ms = stall_ms;
	if (cut)
		r->cut = 1;
	if (big > 0)
		r->big_header = big > BIG_HEADER_MAX ? BIG_HEADER_MAX : big;
}

char *
sim_req_issue_token(struct sim_req *r, int *lifetime)
{
	return (sim_token_issue(r->s, r->aud >= 0 ? r->aud :
	    SIM_AUD_DEFENDER, lifetime));
}

static enum sim_verdict
verdict(enum MHD_Result ret)
{
	return (ret == MHD_YES ? SIM_ANSWERED : SIM_CLOSE);
}

enum sim_verdict
sim_reply(struct sim_req *r, unsigned status, char *body, long retry_after)
{
	struct MHD_Response	*resp;

	if (r->kind == SIM_REQ_TOKEN)
		return (verdict(sim_entra_reply(r, status, body,
		    retry_after)));
	if (r->kind == SIM_REQ_API)
		return (verdict(sim_api_reply(r, status,
		    sim_mem_response(body), retry_after)));
	if ((resp = sim_mem_response(body)) == NULL)
		return (SIM_CLOSE);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    SIM_JSON_CT);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
	    "no-store");
	return (verdict(sim_queue(r->c, status, resp)));
}

enum sim_verdict
sim_reply_entra_error(struct sim_req *r, unsigned status, const char *error,
    long aadsts, const char *text, long retry_after)
{
	return (verdict(sim_entra_reply(r, status, sim_entra_error(error,
	    aadsts, text, sim_header(r->c, "client-request-id")),
	    retry_after)));
}

enum sim_verdict
sim_reply_api_error(struct sim_req *r, unsigned status, long retry_after)
{
	return (verdict(sim_api_reply(r, status, sim_mem_response(
	    sim_api_error_body(r, status)), retry_after)));
}

enum sim_verdict
sim_reply_padded(struct sim_req *r, uint64_t total, int cut)
{
	return (verdict(sim_api_reply(r, 200, sim_pad_response(r, total, cut),
	    -1)));
}

/* ---- libmicrohttpd glue ---- */

static struct sim_req *
sreq_new(struct sim *s, const char *uri)
{
	struct sim_req	*r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return (NULL);
	if ((r->uri = strdup(uri ? uri : "/")) == NULL) {
		free(r);
		return (NULL);
	}
	r->s = s;
	r->aud = -1;
	buf_init(&r->body, API_BODY_MAX);
	return (r);
}

static void *
uri_cb(void *cls, const char *uri, struct MHD_Connection *c)
{
	return (sreq_new(cls, uri));
}

/* The managed-identity listener's requests are marked as such from the
 * start (comparing daemons would read s->mi_d, which the main thread
 * writes after MHD has started its threads). */
static void *
mi_uri_cb(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct sim_req *r = sreq_new(cls, uri);

	if (r != NULL)
		r->kind = SIM_REQ_MI;
	return (r);
}

static void
completed_cb(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct sim_req	*r = *con_cls;

	if (r == NULL)
		return;
	*con_cls = NULL;
	buf_wipe(&r->body);
	cJSON_Delete(r->form);
	free(r->tenant);
	free(r->uri);
	free(r);
}

static void
conn_cb(void *cls, struct MHD_Connection *c, void **socket_context,
    enum MHD_ConnectionNotificationCode toe)
{
	struct sim	*s = cls;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED && s->hooks.connection)
		s->hooks.connection(s->hooks.arg);
}

static void	mhd_log(void *, const char *, va_list)
		    __attribute__((__format__(__printf__, 2, 0)));

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char	 line[512];
	size_t	 n;

	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	log_debug("sim: libmicrohttpd: %s", line);
}

/* Route one complete request: the hook first, then the sim. */
static enum MHD_Result
dispatch(struct sim *s, struct sim_req *r)
{
	struct MHD_Response	*resp;

	if (r->kind == SIM_REQ_TOKEN)
		sim_entra_prepare(s, r);
	else if (r->kind == SIM_REQ_API)
		sim_api_prepare(s, r);
	else if (r->kind == SIM_REQ_MI)
		sim_mi_prepare(s, r);
	if (s->hooks.request != NULL) {
		switch (s->hooks.request(s->hooks.arg, s, r)) {
		case SIM_ANSWERED:
			return (MHD_YES);
		case SIM_CLOSE:
			return (MHD_NO);
		case SIM_PASS:
			break;
		}
	}
	if (r->kind == SIM_REQ_TOKEN)
		return (sim_entra_answer(s, r));
	if (r->kind == SIM_REQ_API)
		return (sim_api_answer(s, r));
	if (r->kind == SIM_REQ_MI)
		return (sim_mi_answer(s, r));
	if ((resp = sim_mem_response(xstrdup("{\"error\":{\"code\":"
	    "\"NotFound\",\"message\":\"Resource not found.\"}}"))) == NULL)
		return (MHD_NO);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    SIM_JSON_CT);
	return (sim_queue(r->c, 404, resp));
}

static enum MHD_Result
access_cb(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **con_cls)
{
	struct sim	*s = cls;
	struct sim_req	*r = *con_cls;

	if (r == NULL) {
		if ((r = sreq_new(s, url)) == NULL)
			return (MHD_NO);
		*con_cls = r;
	}
	if (!r->started) {
		/* first call: headers only; never answer before the body */
		r->started = 1;
		r->c = c;
		r->url = url;
		r->method = method;
		if (r->kind == SIM_REQ_MI)
			;	/* set by mi_uri_cb */
		else if (sim_entra_path(url)) {
			r->kind = SIM_REQ_TOKEN;
			r->body.max = TOKEN_BODY_MAX;
		} else if (strncmp(url, "/api/", 5) == 0 ||
		    strncmp(url, "/v1.0/", 6) == 0 ||
		    strncmp(url, "/beta/", 6) == 0)
			r->kind = SIM_REQ_API;
		else
			r->kind = SIM_REQ_OTHER;
		return (MHD_YES);
	}
	if (*upload_size != 0) {
		if (!r->too_big &&
		    buf_append(&r->body, upload, *upload_size) == -1) {
			r->too_big = 1;
			buf_reset(&r->body);
		}
		*upload_size = 0;
		return (MHD_YES);
	}
	if (sim_stopping(s))
		return (MHD_NO);
	if (s->verbose)
		log_info("sim: %s %.300s (%zu body bytes)", method, r->uri,
		    r->body.len);
	return (dispatch(s, r));
}

/* ---- public interface ---- */

static void
sim_free(struct sim *s)
{
	EVP_PKEY_free(s->cert_key);
	EVP_PKEY_free(s->fed_key);
	free(s->x5t);
	free(s->x5t256);
	free(s->fed_iss);
	free(s->fed_sub);
	free(s->fed_aud);
	free(s->mi_client);
	util_free_secret(s->mi_header);
	sim_store_free(s->store);
	sim_tls_free(&s->tls);
	free(s->tenant);
	free(s->client);
	util_free_secret(s->secret);
	for (int i = 0; i < SIM_AUD_N; i++) {
		free(s->roles0[i]);
		free(s->roles[i]);
	}
	for (int g = 0; g < SIM_QUOTA_N; g++)
		free(s->quota_limits0[g]);
	sim_quota_free(&s->quota);
	pthread_mutex_destroy(&s->mtx);
	free(s);
}

static void
set_errmsg(char **err, const char *msg)
{
	if (err != NULL) {
		free(*err);
		*err = strdup(msg);
	}
}

/*
 * The managed-identity listener: plain HTTP (as IMDS), on the address of
 * the HTTPS one (loopback), same callbacks; requests are told apart by
 * their daemon.
 */
static int
mi_start(struct sim *s, const struct sockaddr_storage *ss0,
    unsigned short port, unsigned int flags, char **err)
{
	struct sockaddr_storage	 ss = *ss0;
	const union MHD_DaemonInfo *di;

	if (ss.ss_family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
	s->mi_d = MHD_start_daemon(flags & ~(unsigned int)MHD_USE_TLS, port,
	    NULL, NULL, access_cb, s,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_CONNECTION_LIMIT, 1000U,
	    MHD_OPTION_CONNECTION_TIMEOUT, 60U,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(256 * 1024),
	    MHD_OPTION_THREAD_STACK_SIZE, (size_t)(1024 * 1024),
	    MHD_OPTION_URI_LOG_CALLBACK, mi_uri_cb, s,
	    MHD_OPTION_NOTIFY_COMPLETED, completed_cb, s,
	    MHD_OPTION_NOTIFY_CONNECTION, conn_cb, s,
	    MHD_OPTION_END);
	if (s->mi_d == NULL) {
		set_errmsg(err, "cannot start the managed-identity listener");
		return (-1);
	}
	di = MHD_get_daemon_info(s->mi_d, MHD_DAEMON_INFO_BIND_PORT);
	s->mi_port = di ? di->port : port;
	return (0);
}

struct sim *
sim_start(const struct sim_options *o, char **err)
{
	struct sim		*s;
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	const char		*host;
	const union MHD_DaemonInfo *di;
	unsigned int		 flags;

	if (err != NULL)
		*err = NULL;
	if (o == NULL || o->tenant_id == NULL || o->client_id == NULL ||
	    o->client_secret == NULL) {
		set_errmsg(err, "tenant_id, client_id and client_secret are "
		    "required");
		return (NULL);
	}
	s = xcalloc(1, sizeof(*s));
	pthread_mutex_init(&s->mtx, NULL);
	sim_quota_init(&s->quota);
	atomic_init(&s->stopping, 0);
	s->tenant = xstrdup(o->tenant_id);
	s->client = xstrdup(o->client_id);
	s->secret = xstrdup(o->client_secret);
	for (int i = 0; i < SIM_AUD_N; i++) {
		s->roles0[i] = dupstr(o->roles[i]);
		s->roles[i] = dupstr(o->roles[i]);
	}
	s->no_machines0 = s->no_machines = o->no_machines;
	s->t0 = util_now();
	s->lifetime0 = s->lifetime = o->token_lifetime > 0 ?
	    o->token_lifetime : 3599;
	s->version0 = s->version = o->token_version == 2 ? 2 : 1;
	s->verbose = o->verbose;
	s->pad_chunked = o->pad_chunked;
	if (o->hooks != NULL)
		s->hooks = *o->hooks;
	if (o->cert_pem != NULL && sim_tls_cert(o->cert_pem, &s->cert_key,
	    &s->x5t, &s->x5t256, err) == -1)
		goto fail;
	if (o->fed_issuer != NULL || o->fed_subject != NULL ||
	    o->fed_key_pem != NULL) {
		if (o->fed_issuer == NULL || o->fed_subject == NULL ||
		    o->fed_key_pem == NULL ||
		    (s->fed_key = sim_tls_pubkey(o->fed_key_pem)) == NULL) {
			set_errmsg(err, "a federated credential needs an "
			    "issuer, a subject and a PEM public key or "
			    "certificate");
			goto fail;
		}
		s->fed_iss = xstrdup(o->fed_issuer);
		s->fed_sub = xstrdup(o->fed_subject);
		s->fed_aud = xstrdup(o->fed_audience ? o->fed_audience :
		    "api://AzureADTokenExchange");
	}
	s->quota0 = o->quota != 0;
	for (int g = 0; g < SIM_QUOTA_N; g++) {
		s->quota_limits0[g] = xstrdup(o->quota_limits[g] ?
		    o->quota_limits[g] : sim_quota_default(g));
		if (!sim_quota_valid(s->quota_limits0[g])) {
			set_errmsg(err, "invalid quota limits (want e.g. "
			    "50/min,1500/h, 3/2s or off)");
			goto fail;
		}
	}
	quota_restart(s);
	s->mi_client = dupstr(o->mi_client_id);
	s->mi_header = dupstr(o->mi_identity_header);
	s->mi_expires_number = o->mi_expires_on_number;
	s->store = sim_store_new();

	memset(&ss, 0, sizeof(ss));
	flags = MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL | MHD_USE_TLS |
	    MHD_USE_ERROR_LOG;
	host = o->bind_host ? o->bind_host : "127.0.0.1";
	if (strcmp(host, "localhost") == 0)
		host = "127.0.0.1";
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(o->port);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(o->port);
		flags |= MHD_USE_IPv6;
	} else {
		set_errmsg(err, "bind_host must be an IP address");
		goto fail;
	}

	if (sim_tls_init(&s->tls, err) == -1)
		goto fail;
	if (o->ca_out != NULL && sim_tls_write_ca(&s->tls, o->ca_out,
	    err) == -1)
		goto fail;

	s->d = MHD_start_daemon(flags, o->port, NULL, NULL, access_cb, s,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_HTTPS_MEM_KEY, s->tls.key_pem,
	    MHD_OPTION_HTTPS_MEM_CERT, s->tls.cert_pem,
	    MHD_OPTION_CONNECTION_LIMIT, 4000U,
	    MHD_OPTION_CONNECTION_TIMEOUT, 120U,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(1024 * 1024),
	    MHD_OPTION_THREAD_STACK_SIZE, (size_t)(1024 * 1024),
	    MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096U,
	    MHD_OPTION_URI_LOG_CALLBACK, uri_cb, s,
	    MHD_OPTION_NOTIFY_COMPLETED, completed_cb, s,
	    MHD_OPTION_NOTIFY_CONNECTION, conn_cb, s,
	    MHD_OPTION_END);
	if (s->d == NULL) {
		set_errmsg(err, "cannot start the HTTPS server (address in "
		    "use or TLS setup failed)");
		goto fail;
	}
	di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = di ? di->port : o->port;
	if (o->mi_enable && mi_start(s, &ss, o->mi_port, flags, err) == -1)
		goto fail;
	if (s->verbose)
		log_info("sim: listening on https://%s%s%s:%u", strchr(host,
		    ':') ? "[" : "", host, strchr(host, ':') ? "]" : "",
		    s->port);
	return (s);
fail:
	sim_free(s);
	return (NULL);
}

unsigned short
sim_port(const struct sim *s)
{
	return (s->port);
}

unsigned short
sim_mi_port(const struct sim *s)
{
	return (s->mi_port);
}

void
sim_stop(struct sim *s)
{
	if (s == NULL)
		return;
	atomic_store(&s->stopping, 1);
	if (s->d != NULL)
		MHD_stop_daemon(s->d);
	if (s->mi_d != NULL)
		MHD_stop_daemon(s->mi_d);
	sim_free(s);
}

/*
 * proxy.c: build jobs from local requests, answer from finished jobs.
 * Front (MHD) workers, several at once: no state outside the request and
 * its job. See proxy.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "front.h"
#include "job.h"
#include "log.h"
#include "proxy.h"
#include "steward.h"
#include "upstream.h"
#include "util.h"

#define PROXY_BLOCK_SIZE	(16 * 1024)	/* MHD's copy-out block */
#define PROXY_MAX_HDR_VALUE	256

static enum MHD_Result	proxy_follow(struct MHD_Connection *,
			    struct gw_request *);

struct MHD_Response *
proxy_error_response(unsigned status, const char *code, const char *message,
    const char *reqid)
{
	struct MHD_Response	*resp;
	cJSON			*root, *e;
	char			*out;

	(void)status;
	root = cJSON_CreateObject();
	e = cJSON_AddObjectToObject(root, "error");
	cJSON_AddStringToObject(e, "code", code);
	cJSON_AddStringToObject(e, "message", message);
	cJSON_AddStringToObject(e, "target", reqid ? reqid : "");
	out = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	if (out == NULL)
		return (NULL);
	resp = MHD_create_response_from_buffer(strlen(out), out,
	    MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(out);
		return (NULL);
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "application/json; charset=utf-8");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
	    "no-store");
	if (reqid && *reqid)
		MHD_add_response_header(resp, "client-request-id", reqid);
	return (resp);
}

enum MHD_Result
proxy_error(struct MHD_Connection *c, struct gw_request *r, unsigned status,
    const char *code, const char *message)
{
	struct MHD_Response	*resp;
	enum MHD_Result		 ret;

	r->status = status;
	if ((resp = proxy_error_response(status, code, message,
	    r->reqid)) == NULL)
		return (MHD_NO);
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return (ret);
}

/* Printable ASCII without CR/LF, short: safe to pass on upstream. */
static int
header_ok(const char *v)
{
	size_t n = 0;

	if (v == NULL)
		return (0);
	for (; v[n]; n++)
		if ((unsigned char)v[n] < 0x20 || (unsigned char)v[n] > 0x7e)
			return (0);
	return (n > 0 && n <= PROXY_MAX_HDR_VALUE);
}

static int
utf8_ok(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		size_t k;

		if (c < 0x80) {
			if (c == 0)
				return (0);
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0 && c >= 0xc2)
			k = 1;
		else if ((c & 0xf0) == 0xe0)
			k = 2;
		else if ((c & 0xf8) == 0xf0 && c <= 0xf4)
			k = 3;
		else
			return (0);
		if (i + k >= n)
			return (0);
		for (size_t m = 1; m <= k; m++)
			if ((s[i + m] & 0xc0) != 0x80)
				return (0);
		i += k + 1;
	}
	return (1);
}

/* Only whitespace from p to end? */
static int
json_rest_empty(const char *p, const char *end)
{
	for (; p < end; p++)
		if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
			return (0);
	return (1);
}

/*
 * The hunting body: one object whose members are one non-empty string
 * "Query" and at most one string "Timespan", nothing else.
 */
static const char *
check_hunting(const cJSON *j, char *why, size_t whylen)
{
	const cJSON	*m;
	int		 nq = 0, nt = 0;

	cJSON_ArrayForEach(m, j) {
		if (strcmp(m->string, "Query") == 0) {
			if (nq++ > 0)
				return ("\"Query\" appears more than once");
			if (!cJSON_IsString(m) || m->valuestring[0] == '\0')
				return ("\"Query\" must be a non-empty string");
		} else if (strcmp(m->string, "Timespan") == 0) {
			if (nt++ > 0)
				return ("\"Timespan\" appears more than once");
			if (!cJSON_IsString(m))
				return ("\"Timespan\" must be a string, e.g. "
				    "\"P1D\"");
		} else {
			snprintf(why, whylen, "unknown member \"%.60s\": "
			    "the body takes only \"Query\" and \"Timespan\"",
			    m->string);
			return (why);
		}
	}
	if (nq == 0)
		return ("the body needs a non-empty string \"Query\" "
		    "(case-sensitive), e.g. {\"Query\":\"DeviceInfo | "
		    "take 5\"}");
	return (NULL);
}

/* POST /hunting and PATCH bodies must be one JSON object, nothing after.
 * A reason built on the fly goes to why. */
static const char *
check_body(struct gw_request *r, char *why_buf, size_t whylen)
{
	cJSON		*j;
	const char	*why = NULL, *end = NULL;

	if (r->body.len == 0)
		return ("a JSON request body is required");
	j = cJSON_ParseWithLengthOpts(r->body.data, r->body.len, &end, 0);
	if (j == NULL)
		why = "the request body is not valid JSON";
	else if (!cJSON_IsObject(j))
		why = "the request body is not a JSON object";
	else if (!json_rest_empty(end, r->body.data + r->body.len))
		why = "there is more after the JSON object: send exactly one";
	else if (r->m.route->body == RB_HUNT)
		why = check_hunting(j, why_buf, whylen);
	cJSON_Delete(j);
	return (why);
}

/* GET /hunting?query=KQL becomes the JSON body {"Query": KQL}. */
static const char *
hunting_from_query(struct gw_request *r, char **body, size_t *bodylen)
{
	cJSON	*o;
	char	*kql;
	size_t	 n;

	kql = router_query_param(r->m.query, r->m.querylen, "query", &n);
	if (kql == NULL || n == 0) {
		free(kql);
		return ("GET /hunting needs ?query=<KQL> (URL-encoded), e.g. "
		    "curl -G localhost:8080/hunting --data-urlencode "
		    "'query=DeviceInfo | take 5'; or POST {\"Query\":...}");
	}
	if (!utf8_ok((unsigned char *)kql, n)) {
		free(kql);
		return ("the query parameter is not valid UTF-8");
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "Query", kql);
	free(kql);
	*body = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (*body == NULL)
		return ("out of memory");
	*bodylen = strlen(*body);
	return (NULL);
}

/* The upstream path and query of a forwarded row: its template with the
 * id put in, and the client's query when the row passes it on. */
static int
upstream_path(const struct gw_request *r, struct buf *b)
{
	const struct route	*rt = r->m.route;
	const char		*t = rt->upstream, *id;

	if (rt->kind != RK_PROXY)
		return (0);	/* the back thread picks the hunting path */
	if ((id = strstr(t, "{id}")) != NULL) {
		if (buf_append(b, t, (size_t)(id - t)) == -1 ||
		    buf_addstr(b, r->m.item_id) == -1 ||
		    buf_addstr(b, id + 4) == -1)
			return (-1);
	} else if (buf_addstr(b, t) == -1)
		return (-1);
	if ((rt->flags & ROUTE_QUERY) && r->m.query != NULL &&
	    (buf_addstr(b, "?") == -1 ||
	    buf_append(b, r->m.query, r->m.querylen) == -1))
		return (-1);
	return (0);
}

enum MHD_Result
proxy_start(struct MHD_Connection *c, struct gw_request *r,
    struct upstream *up)
{
	const struct route	*rt = r->m.route;
	struct job		*j;
	struct buf		 path;
	struct steward_ticket	 ticket;
	enum MHD_Result		 ret;
	const char		*why = NULL, *accept, *ctype;
	char			 whybuf[160];
	enum job_method		 method = JOB_GET;
	char			*body = NULL;
	size_t			 bodylen = 0;
	int			 built = 0;

	if (r->follow != NULL)
		return (proxy_follow(c, r));
	switch (rt->body) {
	case RB_HUNT_QUERY:
		method = JOB_POST;
		why = hunting_from_query(r, &body, &bodylen);
		built = 1;
		break;
	case RB_HUNT:
		method = JOB_POST;
		if ((why = check_body(r, whybuf, sizeof(whybuf))) == NULL)
			body = buf_take(&r->body, &bodylen);
		break;
	case RB_JSON:
		method = strcmp(rt->method, "PATCH") == 0 ? JOB_PATCH :
		    JOB_POST;
		if ((why = check_body(r, whybuf, sizeof(whybuf))) == NULL)
			body = buf_take(&r->body, &bodylen);
		break;
	case RB_NONE:
		break;
	}
	if (why != NULL) {
		free(body);
		return (proxy_error(c, r, 400, "BadRequest", why));
	}

	/* a 16 KiB target (reqcheck) plus the upstream prefix */
	buf_init(&path, 32 * 1024);
	if (upstream_path(r, &path) == -1) {
		buf_free(&path);
		free(body);
		return (proxy_error(c, r, 414, "BadRequest",
		    "the request URI is too long"));
	}
	/* a cached answer, or the quota says no: answered here */
	if (steward_front(c, r, path.data ? path.data : "", path.len, &ticket,
	    &ret)) {
		buf_free(&path);
		free(body);
		return (ret);
	}
	if ((j = job_new(c, rt, method, r->reqid)) == NULL) {
		buf_free(&path);
		free(body);
		steward_ticket_free(&ticket);
		return (MHD_NO);
	}
	j->cache = ticket;
	j->path = buf_take(&path, NULL);
	j->body = body;
	j->bodylen = bodylen;

	/* an allowlist: nothing else the client sent goes upstream */
	accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_ACCEPT);
	job_add_header(j, "Accept", header_ok(accept) ? accept :
	    "application/json");
	if (method != JOB_GET) {
		ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_CONTENT_TYPE);
		if (built)
			ctype = NULL;	/* we built the body ourselves */
		job_add_header(j, "Content-Type", header_ok(ctype) ? ctype :
		    "application/json");
	}
	job_add_header(j, "client-request-id", r->reqid);
	job_add_header(j, "Expect", "");

	j->eof_gone = !r->cf->half_close;
	r->job = j;
	if (!proxy_park(r)) {
		/* suspend BEFORE publishing: the back thread may finish first */
		j->front_suspended = 1;
		MHD_suspend_connection(c);
	}
	upstream_submit(up, j);
	return (MHD_YES);
}

/*
 * A connection suspended in the call that completed its request keeps
 * libmicrohttpd's "read" polling state, and after the resume MHD 0.9.75
 * reads the client's end of input (a half-close) and closes the connection
 * before we can answer. Returned once without an answer or a suspension,
 * the connection is polled for errors only from then on, and MHD calls the
 * handler again in its next turn without waiting (it counts the connection
 * as having work pending): proxy_respond suspends then, under j->mu, unless
 * the answer is already here. The extra turn costs a few percent of CPU at
 * most (bench/RESULTS.md, side-by-side runs). With half_close = off, where a
 * half-closed client is taken as gone anyway, the first call suspends.
 */
int
proxy_park(struct gw_request *r)
{
	if (r->parked || !r->cf->half_close)
		return (0);
	r->parked = 1;
	return (1);
}

/*
 * A suspended connection is not polled by MHD, so a client that hangs up
 * while we wait would go unnoticed until the upstream answers. With
 * half_close = off, peek at the socket: end of input or an error means
 * nobody is waiting any more. With half_close = on (the default) end of
 * input is a half-close, and a client that reset the connection is seen by
 * MHD itself, which polls the connection whenever the back thread wakes
 * it (at least once a second: upstream_probe).
 */
static int
client_gone(struct MHD_Connection *c, int eof_gone)
{
	const union MHD_ConnectionInfo	*ci;
	char				 b;
	ssize_t				 n;

	if (!eof_gone)
		return (0);
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci == NULL)
		return (0);
	n = recv(ci->connect_fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	return (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
	    errno != EINTR));
}

/*
 * The content reader of a streamed answer: the leader's (rd NULL, its
 * suspended flag the job's) or a follower's (steward.c coalescing). Runs
 * on the reader's own front worker.
 */
static ssize_t
stream_read(struct job *j, struct job_reader *rd, char *out, size_t max)
{
	struct MHD_Connection	*c = rd ? rd->conn : j->conn;
	size_t			 n;
	int			 unpause;
	ssize_t			 ret;

	pthread_mutex_lock(&j->mu);
	n = rd ? job_reader_get(j, rd, out, max) : job_ring_get(j, out, max);
	unpause = job_want_unpause(j);
	if (n > 0)
		ret = (ssize_t)n;
	else if ((rd ? rd : &j->lead)->cut)
		ret = MHD_CONTENT_READER_END_WITH_ERROR;	/* too slow */
	else if (j->done)
		ret = j->failed ? MHD_CONTENT_READER_END_WITH_ERROR :
		    MHD_CONTENT_READER_END_OF_STREAM;
	else if (client_gone(c, j->eof_gone))
		ret = MHD_CONTENT_READER_END_WITH_ERROR;
	else {
		/* nothing yet: sleep until the back thread has more */
		if (rd)
			rd->suspended = 1;
		else
			j->front_suspended = 1;
		MHD_suspend_connection(c);
		ret = 0;
	}
	pthread_mutex_unlock(&j->mu);
	if (unpause)
		upstream_unpause(j->owner, j);
	return (ret);
}

static ssize_t
proxy_reader(void *cls, uint64_t pos, char *out, size_t max)
{
	(void)pos;
	return (stream_read(cls, NULL, out, max));
}

static ssize_t
follow_reader(void *cls, uint64_t pos, char *out, size_t max)
{
	struct job_reader *rd = cls;

	(void)pos;
	return (stream_read(rd->job, rd, out, max));
}

/* j->mu held: the headers an answer of j carries, whoever reads it. */
static void
add_headers(struct MHD_Connection *c, struct gw_request *r,
    struct MHD_Response *resp, const struct job *j)
{
	if (j->content_type[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
		    j->content_type);
	if (j->retry_after[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER,
		    j->retry_after);
	if (j->request_id[0])
		MHD_add_response_header(resp, "request-id", j->request_id);
	MHD_add_response_header(resp, "client-request-id", r->reqid);
	front_decorate(c, r->cf, resp);	/* CORS for cors_origins */
}

/* A follower (steward.c): the leader's answer, streamed from its job. */
static enum MHD_Result
proxy_follow(struct MHD_Connection *c, struct gw_request *r)
{
	struct job_reader	*rd = r->follow;
	struct job		*j = rd->job;
	struct MHD_Response	*resp;
	enum MHD_Result		 ret;

	pthread_mutex_lock(&j->mu);
	if (rd->cut) {
		pthread_mutex_unlock(&j->mu);
		return (MHD_NO);
	}
	resp = MHD_create_response_from_callback(j->content_length >= 0 ?
	    (uint64_t)j->content_length : MHD_SIZE_UNKNOWN, PROXY_BLOCK_SIZE,
	    follow_reader, rd, NULL);
	if (resp != NULL) {
		add_headers(c, r, resp, j);
		MHD_add_response_header(resp, "X-Cache", "COALESCED");
	}
	pthread_mutex_unlock(&j->mu);
	if (resp == NULL)
		return (MHD_NO);
	r->status = 200;	/* only a 200 is shared */
	r->cache = ST_CACHE_COALESCED;
	ret = MHD_queue_response(c, 200, resp);
	MHD_destroy_response(resp);
	return (ret);
}

enum MHD_Result
proxy_respond(struct MHD_Connection *c, struct gw_request *r)
{
	struct job		*j = r->job;
	struct MHD_Response	*resp;
	enum MHD_Result		 ret;
	unsigned		 status;

	pthread_mutex_lock(&j->mu);
	if (steward_stale_wanted(j)) {
		/* a 5xx, a timeout or a 429: the stale answer instead */
		pthread_mutex_unlock(&j->mu);
		return (steward_answer(c, r, j->cache.stale, ST_CACHE_STALE));
	}
	if (j->err_status) {
		char msg[sizeof(j->err_msg)], ra[sizeof(j->retry_after)];
		const char *code = j->err_code;

		status = j->err_status;
		memcpy(msg, j->err_msg, sizeof(msg));
		memcpy(ra, j->retry_after, sizeof(ra));
		pthread_mutex_unlock(&j->mu);
		r->status = status;
		resp = proxy_error_response(status, code, msg, r->reqid);
		if (resp == NULL)
			return (MHD_NO);
		if (ra[0])
			MHD_add_response_header(resp,
			    MHD_HTTP_HEADER_RETRY_AFTER, ra);
		ret = MHD_queue_response(c, status, resp);
		MHD_destroy_response(resp);
		return (ret);
	}
	if (j->shared && j->lead.cut) {
		/* too slow for the readers it shares the answer with */
		pthread_mutex_unlock(&j->mu);
		return (MHD_NO);
	}
	if (!j->headers_ready || (!j->done && !j->curl_paused &&
	    !j->shared)) {
		/*
		 * Not yet (whole body, or a full buffer for large ones). The
		 * back thread also wakes us about once a second while we wait
		 * (upstream_probe): a client that has gone away ends the
		 * request here, which cancels the transfer.
		 */
		if (client_gone(c, j->eof_gone)) {
			pthread_mutex_unlock(&j->mu);
			log_debug("%s: client went away while waiting", r->reqid);
			return (MHD_NO);
		}
		j->front_suspended = 1;
		MHD_suspend_connection(c);
		pthread_mutex_unlock(&j->mu);
		return (MHD_YES);
	}
	status = (unsigned)j->status;
	if (j->done && !j->failed && !j->shared) {
		/*
		 * The common case: the whole body is here. Hand the buffer to
		 * MHD (no copy, no reader block), which sends headers and body
		 * in one write.
		 */
		char	*data = j->ring;
		size_t	 len = j->rlen;

		if (j->roff != 0 || data == NULL) {
			data = util_strndup(j->ring ? j->ring + j->roff : "",
			    len);
			if (data == NULL) {
				pthread_mutex_unlock(&j->mu);
				return (MHD_NO);
			}
			free(j->ring);
		}
		j->ring = NULL;
		j->rcap = j->rlen = j->roff = 0;
		resp = MHD_create_response_from_buffer(len, data,
		    MHD_RESPMEM_MUST_FREE);
		if (resp == NULL)
			free(data);
	} else {
		j->streaming = 1;
		resp = MHD_create_response_from_callback(
		    j->content_length >= 0 ? (uint64_t)j->content_length :
		    MHD_SIZE_UNKNOWN, PROXY_BLOCK_SIZE, proxy_reader, j, NULL);
	}
	if (resp != NULL) {
		add_headers(c, r, resp, j);
		steward_headers(resp, j);
	}
	pthread_mutex_unlock(&j->mu);
	if (resp == NULL)
		return (MHD_NO);
	r->status = status;
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return (ret);
}

/* A reader of a shared answer is done: the others go on; the last one
 * of an unfinished transfer cancels it. */
static void
detach(struct upstream *up, struct job *j, struct job_reader *rd)
{
	int cancel, unpause;

	pthread_mutex_lock(&j->mu);
	cancel = job_reader_detach(j, rd);
	unpause = !cancel && job_want_unpause(j);
	pthread_mutex_unlock(&j->mu);
	if (cancel)
		upstream_cancel(up, j);
	else if (unpause)
		upstream_unpause(up, j);
}

void
proxy_finish(struct gw_request *r, struct upstream *up)
{
	struct job	*j = r->job;
	int		 done, shared;

	if (r->follow != NULL) {
		j = r->follow->job;
		detach(up, j, r->follow);
		r->follow = NULL;
		job_unref(j);
		j = r->job;
	}
	if (j == NULL)
		return;
	pthread_mutex_lock(&j->mu);
	done = j->done;
	shared = j->shared;
	j->lead_gone = 1;	/* nobody follows it from now on */
	pthread_mutex_unlock(&j->mu);
	if (shared)
		detach(up, j, &j->lead);
	else if (!done)
		upstream_cancel(up, j);
	r->job = NULL;
	job_unref(j);
}

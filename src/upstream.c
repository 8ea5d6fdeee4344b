/*
 * upstream.c: the back thread (see upstream.h).
 *
 * Loop: drain the inbox, keep the token fresh, drive curl_multi_perform(),
 * finish completed transfers, sleep in curl_multi_poll() until a socket, a
 * timer or curl_multi_wakeup() needs us. Jobs wait for a token on a plain
 * list, so at most one token request is ever in flight (single-flight), and
 * all waiters start together when it completes.
 *
 * Streaming: response bytes go into the job's bounded ring buffer; when it
 * is full the transfer is paused (CURL_WRITEFUNC_PAUSE) until the front
 * thread has sent some of it to the client and posts an unpause.
 *
 * Queueing: curl is handed a transfer only when a connection to its
 * origin is free; the others wait in a FIFO of ours, one per origin
 * (a "lane"; backends whose URLs share scheme, host and port share it, as
 * they share curl's per-host connection limit). libcurl 7.88's own
 * pending list wakes only its head when a transfer ends, and a handle
 * added meanwhile often takes the free connection first: requests were
 * served out of order and the slowest waited many times the fastest. A
 * transfer counts as one connection on HTTP/1.x; once finished transfers
 * have shown that the origin speaks HTTP/2, those that asked for it count
 * as one of UP_H2_STREAMS streams of a connection. Until then the origin
 * is assumed HTTP/1.1: a few transfers wait that need not, none is
 * handed to curl's pending list. A queued transfer still ends within the
 * request timeout (504), which counts from when it queued.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "backend.h"
#include "buf.h"
#include "cfgref.h"
#include "config.h"
#include "cred.h"
#include "egress.h"
#include "hunting.h"
#include "huntshape.h"
#include "job.h"
#include "log.h"
#include "redact.h"
#include "routes.h"
#include "status.h"
#include "steward.h"
#include "telemetry.h"
#include "tokensrc.h"
#include "upstream.h"
#include "util.h"

#define UP_POOL_MAX		64
#define UP_MAX_HEADER_BYTES	(64 * 1024)
#define UP_POLL_CAP_MS		1000
#define UP_PROBE_MS		1000
/*
 * Fairness: a transfer whose client has read nothing for
 * UP_STALL_MS (paused all that time, its buffer and the sockets full) is
 * dropped when a request has waited UP_WAIT_MS for an upstream connection
 * while every connection is taken. One per waiting request, longest
 * stalled first; readers that read anything at all are never dropped.
 */
#define UP_STALL_MS		2000
#define UP_WAIT_MS		1000
#define UP_WARN_EVERY_MS	(3600 * 1000LL)
#define UP_RESHAPE_CHUNK	(16 * 1024)
/*
 * HTTP/2 streams per connection: curl's default max concurrent streams,
 * set explicitly so the lanes' arithmetic and curl agree. Beyond
 * connections x streams, transfers queue in order here as on HTTP/1.1.
 */
#define UP_H2_STREAMS		100
#define UP_NLANES		BACKEND__COUNT

/* The transfers to one origin; see "Queueing" above. Back thread only. */
TAILQ_HEAD(jobq, job);

struct lane {
	struct jobq	 q;		/* our FIFO, arrival order */
	int		 nqueued;
	int		 own;		/* in curl, a connection each */
	int		 mux;		/* in curl, HTTP/2 streams */
	int		 h2;		/* the origin answered over HTTP/2 */
};

struct upstream {
	const struct gw_config	*cf;		/* back thread; a cfgref */
	pthread_t		 thread;
	CURLM			*multi;
	struct tokensrc		*src[BACKEND__COUNT];	/* see tokensrc.h */

	pthread_mutex_t		 mu;		/* inbox and flags below */
	struct job_msg		*in_head, *in_tail;
	const struct gw_config	*new_cf;
	int			 stopping;
	int			 exited;

	/* back thread only */
	CURL			*pool[UP_POOL_MAX];
	int			 npool;
	struct jobq		 active;	/* transfers in the multi */
	struct lane		 lane[UP_NLANES];
	int			 lane_of[BACKEND__COUNT];
	long			 max_conns;	/* curl's per-host limit */
	long long		 last_probe_ms;
	long long		 last_warn_ms;
};

static void	dispatch(struct upstream *, struct job *);
static void	poll_source(struct upstream *, struct tokensrc *, long long);
static void	active_add(struct upstream *, struct job *);
static void	active_del(struct upstream *, struct job *);
static void	launch(struct upstream *, struct job *);

/* ---- easy handle setup shared by API and token transfers ---- */

void
upstream_easy_common(const struct gw_config *cf, void *e)
{
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	if (cf->ca_file && *cf->ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, cf->ca_file);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, cf->connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
	curl_easy_setopt(e, CURLOPT_HTTP_CONTENT_DECODING, 0L);
	/* 4 KiB receive buffer per handle: 256 in flight cost 1 MiB, not 4 */
	curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 4096L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, PACKAGE_NAME "/"
	    PACKAGE_VERSION);
	egress_apply(cf, e, 0);
}

static CURL *
pool_get(struct upstream *up)
{
	CURL *e;

	if (up->npool > 0)
		return (up->pool[--up->npool]);
	if ((e = curl_easy_init()) == NULL)
		return (NULL);
	upstream_easy_common(up->cf, e);
	return (e);
}

static void
pool_put(struct upstream *up, CURL *e)
{
	if (up->npool < UP_POOL_MAX)
		up->pool[up->npool++] = e;
	else
		curl_easy_cleanup(e);
}

/* ---- API transfers ---- */

static void
headers_complete(struct upstream *up, struct job *j)
{
	const char *problem;

	if (j->status == 401 && !j->retried) {
		/* a young token's 401 is the API's answer: pass it on */
		if (tokensrc_rejected(j->ts, j->tok, util_mono_ms()) ==
		    TOKPOLICY_RETRY) {
			j->discard = 1;	/* retried once with a fresh token */
			return;
		}
	} else if (j->status != 401)
		tokensrc_accepted(j->ts);
	if (j->reshape && j->status >= 300)
		j->errbody = 1;		/* answered as a local error */
	pthread_mutex_lock(&j->mu);
	/* judged on the headers as received, before reshaping drops the length */
	problem = job_framing_problem(j);
	if (j->reshape)
		j->content_length = -1;	/* the reshaped length differs */
	if (problem != NULL)
		job_set_error(j, 502, "UpstreamError", "the %s %s",
		    backend_title(j->backend), problem);
	else if (j->errbody)
		;	/* not ready: finish_api turns the body into an error */
	else if (j->content_length > (long long)up->cf->max_response)
		job_set_error(j, 502, "UpstreamError", "the %s answered %lld "
		    "bytes, more than max_response (%zu)",
		    backend_title(j->backend), j->content_length,
		    up->cf->max_response);
	else
		/*
		 * No wake-up yet: the front starts the response once the
		 * body is complete or fills the buffer, so a small response
		 * that fails midway can still be answered with a clean 502/504.
		 */
		j->headers_ready = 1;
	pthread_mutex_unlock(&j->mu);
}

static size_t
api_header_cb(char *b, size_t size, size_t n, void *arg)
{
	struct job	*j = arg;
	struct upstream	*up = j->owner;

	n *= size;
	j->hdr_bytes += n;
	if (j->hdr_bytes > UP_MAX_HEADER_BYTES) {
		pthread_mutex_lock(&j->mu);
		job_set_error(j, 502, "UpstreamError", "the %s sent more than "
		    "%d bytes of response headers", backend_title(j->backend),
		    UP_MAX_HEADER_BYTES);
		pthread_mutex_unlock(&j->mu);
		return (0);
	}
	if (job_header_line(j, b, n) == JOB_HDR_END && j->status >= 200)
		headers_complete(up, j);
	return (n);
}

/* Keep the start of an error body (403 roles text, Graph errors). */
static void
peek_add(struct job *j, const char *b, size_t n)
{
	size_t k = sizeof(j->peek) - 1 - j->peeklen;

	if (k > n)
		k = n;
	memcpy(j->peek + j->peeklen, b, k);
	j->peeklen += k;
	j->peek[j->peeklen] = '\0';
}

/*
 * Store n body bytes, reshaped when the job asks for it. j->mu held.
 * 0: stored; 1: no room (pause; curl delivers the same bytes again, so
 * nothing was fed to the reshaper); -1: malformed or over the cap.
 */
static int
store(struct upstream *up, struct job *j, const char *b, size_t n)
{
	char	 chunk[UP_RESHAPE_CHUNK];
	ssize_t	 out;

	if (j->total + n > up->cf->max_response) {
		if (j->streaming)
			j->failed = 1;
		else
			job_set_error(j, 502, "UpstreamError", "the %s answered "
			    "more than max_response (%zu bytes)",
			    backend_title(j->backend), up->cf->max_response);
		return (-1);
	}
	if (!j->reshape)
		return (job_ring_put(j, b, n));
	if (!job_ring_room(j, n + HUNTSHAPE_MAX_HOLD))
		return (1);
	while (n > 0) {
		size_t k = n < sizeof(chunk) ? n : sizeof(chunk);

		if ((out = huntshape_feed(j->hs, b, k, chunk)) < 0) {
			if (j->streaming)
				j->failed = 1;
			else
				job_set_error(j, 502, "UpstreamError", "the "
				    "Graph hunting answer is not the "
				    "documented JSON shape");
			return (-1);
		}
		if (out > 0)
			(void)job_ring_put(j, chunk, (size_t)out);
		b += k;
		n -= k;
	}
	return (0);
}

static size_t
api_write_cb(char *b, size_t size, size_t n, void *arg)
{
	struct job	*j = arg;
	size_t		 rc = n * size;
	int		 r = -1;

	n *= size;
	if (j->discard)
		return (n);
	if (j->errbody || (j->status == 403 && j->peeklen <
	    sizeof(j->peek) - 1))
		peek_add(j, b, n);
	if (j->errbody)
		return (n);
	pthread_mutex_lock(&j->mu);
	if (j->cancelled || !j->headers_ready)
		rc = 0;				/* abort the transfer */
	else if ((r = store(j->owner, j, b, n)) == -1)
		rc = 0;
	else if (r == 1) {
		/* full: pause the transfer until the client has read some */
		j->curl_paused = 1;
		j->unpause_queued = 0;
		j->paused_ms = util_mono_ms();
		rc = CURL_WRITEFUNC_PAUSE;
		job_notify(j);
	} else if (j->streaming)
		job_notify(j);
	pthread_mutex_unlock(&j->mu);
	if (r == 0)
		steward_body(j, b, n);	/* a copy for the response cache */
	return (rc);
}

static void
fail_job(struct job *j, unsigned status, const char *code, const char *msg,
    const char *retry_after)
{
	pthread_mutex_lock(&j->mu);
	if (j->streaming)
		j->failed = 1;
	else
		job_set_error(j, status, code, "%s", msg);
	if (retry_after)
		snprintf(j->retry_after, sizeof(j->retry_after), "%s",
		    retry_after);
	j->done = 1;
	job_notify(j);
	pthread_mutex_unlock(&j->mu);
	job_unref(j);		/* the back thread's reference */
}

/* ---- lanes: our FIFO in front of curl (see "Queueing") ---- */

/* The scheme://host:port part of a URL. */
static size_t
origin_len(const char *url)
{
	const char *p = strstr(url, "://");

	p = p ? p + 3 : url;
	return ((size_t)(p - url) + strcspn(p, "/?#"));
}

/* Which lane each backend uses: the first backend with the same origin. */
static void
lanes_map(struct upstream *up)
{
	int changed = 0;

	for (int b = 0; b < BACKEND__COUNT; b++) {
		const char	*u = backend_url(up->cf, b);
		size_t		 n = origin_len(u);
		int		 l = b;

		for (int c = 0; c < b; c++) {
			const char *v = backend_url(up->cf, c);

			if (origin_len(v) == n && strncasecmp(u, v, n) == 0) {
				l = up->lane_of[c];
				break;
			}
		}
		changed |= up->lane_of[b] != l;
		up->lane_of[b] = l;
	}
	/* a lane may now be another origin: what it learnt is void */
	for (int l = 0; changed && l < UP_NLANES; l++)
		up->lane[l].h2 = 0;
}

static void
queued_gauge(struct upstream *up)
{
	long n = 0;

	for (int l = 0; l < UP_NLANES; l++)
		n += up->lane[l].nqueued;
	telemetry_upstream_queued(n);
}

/* j's transfer will share a connection as an HTTP/2 stream. */
static int
lane_mux(struct upstream *up, const struct lane *l, const struct job *j)
{
	long httpver, fresh;

	backend_transport(up->cf, j->backend, j->method == JOB_PATCH,
	    j->rt->body == RB_HUNT || j->rt->body == RB_HUNT_QUERY, &httpver,
	    &fresh);
	return (l->h2 && httpver != CURL_HTTP_VERSION_1_1 && !fresh);
}

/* 1 when j's transfer finds a connection free in curl. */
static int
lane_admits(struct upstream *up, const struct lane *l, const struct job *j)
{
	int mux = lane_mux(up, l, j);
	int own = l->own + !mux;
	int streams = l->mux + mux;

	return (own + (streams + UP_H2_STREAMS - 1) / UP_H2_STREAMS <=
	    up->max_conns);
}

/* A transfer of j was handed to curl (d = 1) or taken back (d = -1). */
static void
lane_count(struct upstream *up, struct job *j, int d)
{
	struct lane *l;

	if (d > 0) {
		j->lane = up->lane_of[j->backend];
		l = &up->lane[j->lane];
		j->mux = lane_mux(up, l, j);
	} else
		l = &up->lane[j->lane];
	if (j->mux)
		l->mux += d;
	else
		l->own += d;
}

static void
fifo_del(struct upstream *up, struct job *j)
{
	struct lane *l = &up->lane[j->lane];

	TAILQ_REMOVE(&l->q, j, qentry);
	j->queued = 0;
	l->nqueued--;
	queued_gauge(up);
}

/* Queue j at the tail, or at the head when it is a 401 retry (it had
 * its turn). */
static void
fifo_add(struct upstream *up, struct job *j)
{
	struct lane *l;

	j->lane = up->lane_of[j->backend];
	l = &up->lane[j->lane];
	if (j->q_ms == 0)
		j->q_ms = util_mono_ms();
	j->queued = 1;
	if (j->retried)
		TAILQ_INSERT_HEAD(&l->q, j, qentry);
	else
		TAILQ_INSERT_TAIL(&l->q, j, qentry);
	l->nqueued++;
	queued_gauge(up);
}

/* Hand queued transfers to curl while their origin has room; how many
 * left the queues. */
static int
fifo_pump(struct upstream *up)
{
	struct job	*j;
	int		 n = 0;

	for (int i = 0; i < UP_NLANES; i++) {
		struct lane *l = &up->lane[i];

		while ((j = TAILQ_FIRST(&l->q)) != NULL && lane_admits(up, l, j)) {
			fifo_del(up, j);
			launch(up, j);
			n++;
		}
	}
	return (n);
}

/* Answer 504 for what waited in a FIFO past the request timeout. Arrival
 * order: the heads expire first. */
static void
fifo_expire(struct upstream *up, long long now)
{
	struct job *j;

	for (int i = 0; i < UP_NLANES; i++) {
		struct lane *l = &up->lane[i];

		while ((j = TAILQ_FIRST(&l->q)) != NULL && now - j->q_ms >=
		    up->cf->timeout_ms) {
			char msg[256];

			fifo_del(up, j);
			snprintf(msg, sizeof(msg), "no connection to the %s "
			    "became free within %ld s (timeout; all "
			    "max_upstream_connections were busy)",
			    backend_title(j->backend),
			    up->cf->timeout_ms / 1000);
			log_warnx("%s: 504 UpstreamTimeout: %s; %d more "
			    "queued", j->reqid, msg, l->nqueued);
			fail_job(j, 504, "UpstreamTimeout", msg, NULL);
		}
	}
}

/* How long until the next queued transfer expires, at most cap. */
static long
fifo_next_ms(const struct upstream *up, long long now, long cap)
{
	for (int i = 0; i < UP_NLANES; i++) {
		const struct job *j = TAILQ_FIRST(&up->lane[i].q);
		long long left;

		if (j == NULL)
			continue;
		left = j->q_ms + up->cf->timeout_ms - now;
		if (left < cap)
			cap = left < 0 ? 0 : (long)left;
	}
	return (cap);
}

/* A finished transfer tells what its origin speaks. */
static void
lane_learn(struct upstream *up, struct job *j, CURLcode res)
{
	long v = 0;

	if (res != CURLE_OK || !j->want_h2 || curl_easy_getinfo(j->easy,
	    CURLINFO_HTTP_VERSION, &v) != CURLE_OK || v == 0)
		return;
	up->lane[j->lane].h2 = v == CURL_HTTP_VERSION_2_0;
}

static void
start_transfer(struct upstream *up, struct job *j, struct token *tok)
{
	CURL	*e;
	long	 httpver, fresh, left;

	if ((e = pool_get(up)) == NULL) {
		fail_job(j, 502, "UpstreamError", "out of memory", NULL);
		return;
	}
	j->easy = e;
	j->tok = tok;
	token_ref(tok);
	/* the Authorization line is the token's own string: no copy */
	j->auth.data = (char *)(uintptr_t)token_header(tok);
	j->auth.next = j->nhdr ? &j->hdr[0] : NULL;
	j->hdr_bytes = 0;
	j->peeklen = 0;
	j->errbuf[0] = '\0';
	curl_easy_setopt(e, CURLOPT_URL, j->url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, &j->auth);
	j->owner = up;
	curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)j);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, api_header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, j);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, api_write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, j);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, j->errbuf);
	backend_transport(up->cf, j->backend, j->method == JOB_PATCH,
	    j->rt->body == RB_HUNT || j->rt->body == RB_HUNT_QUERY, &httpver,
	    &fresh);
	j->up_start_ms = util_mono_ms();
	/* the time spent queued counts: the request timeout is the bound */
	left = up->cf->timeout_ms;
	if (j->q_ms != 0 && (left = j->q_ms + up->cf->timeout_ms -
	    j->up_start_ms) < 1)
		left = 1;
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, left);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, httpver);
	j->want_h2 = httpver != CURL_HTTP_VERSION_1_1;
	curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, fresh);
	switch (j->method) {
	case JOB_GET:
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, NULL);
		break;
	case JOB_POST:
	case JOB_PATCH:
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, j->body ? j->body : "");
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)j->bodylen);
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST,
		    j->method == JOB_PATCH ? "PATCH" : NULL);
		break;
	}
	if (j->reshape && j->hs == NULL && (j->hs = huntshape_new()) == NULL) {
		token_unref(j->tok);
		j->tok = NULL;
		j->easy = NULL;
		pool_put(up, e);
		fail_job(j, 502, "UpstreamError", "out of memory", NULL);
		return;
	}
	if (curl_multi_add_handle(up->multi, e) != CURLM_OK) {
		token_unref(j->tok);
		j->tok = NULL;
		j->easy = NULL;
		pool_put(up, e);
		fail_job(j, 502, "UpstreamError", "cannot start the upstream "
		    "transfer", NULL);
		return;
	}
	active_add(up, j);
	lane_count(up, j, 1);
}

/* 503 with the reason the source has no token, AADSTS code and hint. */
static void
fail_token(struct job *j)
{
	char	 msg[512], ra[24];
	long	 wait_s;

	tokensrc_unavailable(j->ts, msg, sizeof(msg), &wait_s);
	snprintf(ra, sizeof(ra), "%ld", wait_s);
	fail_job(j, 503, "TokenUnavailable", msg, ra);
}

/* Take a job's transfer out of the multi handle; the job stays alive. */
static void
detach(struct upstream *up, struct job *j)
{
	curl_multi_remove_handle(up->multi, j->easy);
	pool_put(up, j->easy);
	j->easy = NULL;
	active_del(up, j);
	lane_count(up, j, -1);
	j->q_ms = 0;
	token_unref(j->tok);
	j->tok = NULL;
}


/*
 * A Graph error on a route answered in the Defender shape: the local
 * error shape with Graph's status, code and message (and a fix for 403).
 * j->mu held.
 */
static void
graph_error(struct upstream *up, struct job *j)
{
	cJSON		*root, *e, *code, *msg;
	const char	*c = NULL;
	char		 m[512] = "";

	root = cJSON_ParseWithLength(j->peek, j->peeklen);
	e = cJSON_GetObjectItemCaseSensitive(root, "error");
	code = cJSON_GetObjectItemCaseSensitive(e, "code");
	msg = cJSON_GetObjectItemCaseSensitive(e, "message");
	if (cJSON_IsString(code))
		c = code->valuestring;
	if (cJSON_IsString(msg)) {
		/* an API may echo the bearer or more: never onto a page */
		snprintf(m, sizeof(m), "%s", msg->valuestring);
		cred_redact(up->cf, m, sizeof(m));
	}
	if (c == NULL)
		c = j->status == 429 ? "TooManyRequests" : j->status == 403 ?
		    "Forbidden" : j->status == 400 ? "BadRequest" :
		    "UpstreamError";
	job_set_error(j, (unsigned)j->status, c, "Microsoft Graph: %s%s%s",
	    m[0] ? m : "no error message", j->status == 403 ? "; fix: " : "",
	    j->status == 403 ? hunting_fix : "");
	cJSON_Delete(root);
}

/* The last bytes of a reshaped answer; j->mu held. store() kept room. */
static void
reshape_end(struct job *j)
{
	char	 tail[HUNTSHAPE_MAX_HOLD];
	ssize_t	 n = huntshape_finish(j->hs, tail, sizeof(tail));

	if (n > 0)
		(void)job_ring_put(j, tail, (size_t)n);
	else if (n < 0) {
		if (j->streaming)
			j->failed = 1;
		else
			job_set_error(j, 502, "UpstreamError", "the Graph "
			    "hunting answer is not the documented shape: %s",
			    huntshape_error(j->hs));
	}
}

/*
 * An API's error answer may echo what it was sent: the bearer, or more.
 * Such an answer is small and complete when this runs: the
 * token, JWT-shaped strings and this configuration's secrets are removed
 * before the client sees it. Success answers pass byte for byte, and so
 * does an error answer already streaming (over JOB_RING_MAX) or holding
 * NUL bytes (not text). j->mu held; bearer is the token sent, or NULL.
 */
static void
redact_error_body(const struct gw_config *cf, struct job *j,
    const char *bearer)
{
	const char	*secrets[1] = { bearer };
	char		*out;
	size_t		 cap, n;

	if (j->status < 400 || j->streaming || j->rlen == 0 ||
	    j->ring == NULL || memchr(j->ring + j->roff, '\0', j->rlen))
		return;
	/* room for every match to grow into the mark */
	cap = j->rlen * 2 + sizeof(REDACT_MARK) * 8 + 1;
	if ((out = malloc(cap)) == NULL)
		return;
	(void)redact_copy(out, cap, j->ring + j->roff, j->rlen, secrets,
	    bearer ? 1 : 0);
	cred_redact(cf, out, cap);
	n = strlen(out);
	free(j->ring);
	j->ring = out;
	j->rcap = cap;
	j->roff = 0;
	j->rlen = n;
}

static void
finish_api(struct upstream *up, struct job *j, CURLcode res)
{
	/* the time queued in our FIFO is part of the upstream's latency */
	long long	 ms = util_mono_ms() - (j->q_ms ? j->q_ms :
			    j->up_start_ms);
	char		 perr[320];
	/* before detach(): the handle still knows how the proxy answered */
	int		 proxy_fault = egress_error(up->cf, j->easy, res, perr,
			    sizeof(perr));
	char		*bearer = NULL;

	/* before detach() drops the token: what an error answer may echo */
	if (j->status >= 400 && j->tok != NULL) {
		const char *h = token_header(j->tok), *b = strstr(h, "Bearer ");

		b = b ? b + 7 : h;
		bearer = util_strndup(b, strlen(b));
	}
	lane_learn(up, j, res);
	detach(up, j);
	status_upstream((int)(j->rt - routes), ms, res == CURLE_OK ?
	    j->status : 0);
	telemetry_upstream(j->backend, res == CURLE_OK ? j->status : 0);
	if (j->status == 403 && j->peeklen > 0 &&
	    strstr(j->peek, "Missing application roles") != NULL) {
		/* an API may echo the bearer or more: never onto the page */
		cred_redact(up->cf, j->peek, sizeof(j->peek));
		j->peeklen = strlen(j->peek);
		status_forbidden((int)(j->rt - routes), j->peek, j->peeklen);
	}
	if (j->discard && !j->cancelled) {
		util_free_secret(bearer);
		/* 401 on a live token: it was revoked; refresh and retry once */
		j->discard = 0;
		j->retried = 1;
		j->status = 0;
		log_info("%s: upstream 401, retrying once with a new token",
		    j->reqid);
		dispatch(up, j);
		return;
	}
	pthread_mutex_lock(&j->mu);
	if (res == CURLE_OK && j->errbody)
		graph_error(up, j);
	else if (res == CURLE_OK && j->hs && j->err_status == 0)
		reshape_end(j);
	if (res == CURLE_OK && j->err_status == 0)
		redact_error_body(up->cf, j, bearer);
	util_free_secret(bearer);
	if (res != CURLE_OK)	/* curl's text goes to the log and the client */
		cred_redact(up->cf, j->errbuf, sizeof(j->errbuf));
	if (res != CURLE_OK && !j->streaming) {
		if (res == CURLE_OPERATION_TIMEDOUT)
			job_set_error(j, 504, "UpstreamTimeout", "the %s did "
			    "not answer within %ld s (timeout)",
			    backend_title(j->backend),
			    up->cf->timeout_ms / 1000);
		else if (res == CURLE_PEER_FAILED_VERIFICATION ||
		    res == CURLE_SSL_CACERT_BADFILE)
			job_set_error(j, 502, "UpstreamError", "TLS "
			    "verification of the %s failed: %s (check "
			    "ca_file)", backend_title(j->backend),
			    j->errbuf[0] ? j->errbuf : curl_easy_strerror(res));
		else if (proxy_fault)
			job_set_error(j, 502, "UpstreamError", "cannot reach "
			    "the %s: %s", backend_title(j->backend), perr);
		else
			job_set_error(j, 502, "UpstreamError", "cannot reach "
			    "the %s: %s", backend_title(j->backend),
			    j->errbuf[0] ? j->errbuf : curl_easy_strerror(res));
	} else if (res != CURLE_OK)
		j->failed = 1;
	if (j->err_status == 0 && !j->headers_ready)
		job_set_error(j, 502, "UpstreamError", "the %s closed the "
		    "connection without a response", backend_title(j->backend));
	if (j->err_status)
		log_warnx("%s: %u %s: %s", j->reqid, j->err_status,
		    j->err_code, j->err_msg);
	else if (j->failed)
		log_warnx("%s: response aborted after %zu bytes: %s", j->reqid,
		    j->total, j->errbuf[0] ? j->errbuf :
		    curl_easy_strerror(res));
	j->done = 1;
	job_notify(j);
	pthread_mutex_unlock(&j->mu);
	steward_finished(j);	/* cache, invalidation, upstream 429 */
	job_unref(j);
}

/* ---- backend selection ---- */

/* The Defender XDR body has only "Query": drop a Graph-only Timespan. */
static void
legacy_body(struct job *j)
{
	cJSON	*o, *t;
	char	*b;

	if (j->body == NULL || memmem(j->body, j->bodylen, "Timespan", 8) ==
	    NULL)
		return;
	o = cJSON_ParseWithLength(j->body, j->bodylen);
	t = cJSON_DetachItemFromObjectCaseSensitive(o, "Timespan");
	if (t != NULL && (b = cJSON_PrintUnformatted(o)) != NULL) {
		log_info("%s: Timespan dropped: the legacy hunting API has "
		    "no such parameter (Graph has)", j->reqid);
		free(j->body);
		j->body = b;
		j->bodylen = strlen(b);
	}
	cJSON_Delete(t);
	cJSON_Delete(o);
}

/*
 * Choose the backend (for hunting rows, hunting.h) and build the URL.
 * 0: resolved; 1: parked on the Graph source to decide; -1: answered.
 */
static int
resolve(struct upstream *up, struct job *j)
{
	struct hunting_decision	 d;
	const char		*path = j->path;
	struct buf		 url;
	int			 failed;
	enum hunting_graph	 g;

	j->backend = j->rt->backend;
	if (j->rt->kind == RK_HUNT) {
		g = tokensrc_graph_state(up->src[BACKEND_GRAPH], &failed);
		hunting_select(up->cf->hunting_backend, g, failed, util_now(),
		    &d);
		switch (d.choice) {
		case HUNTING_GONE:
			fail_job(j, 410, "Gone", "the Defender hunting API "
			    "was retired on 2027-02-01 and hunting_backend = "
			    "defender: set hunting_backend = auto (or graph) "
			    "and grant the application permission "
			    "ThreatHunting.Read.All on Microsoft Graph, then "
			    "grant admin consent", NULL);
			return (-1);
		case HUNTING_WAIT_GRAPH:
			j->ts = up->src[BACKEND_GRAPH];
			tokensrc_park(j->ts, j);
			poll_source(up, j->ts, util_mono_ms());
			return (1);
		case HUNTING_USE_GRAPH:
			j->backend = BACKEND_GRAPH;
			path = HUNTING_GRAPH_PATH;
			j->reshape = 1;
			break;
		case HUNTING_USE_LEGACY:
			path = j->rt->upstream;
			legacy_body(j);
			if (util_mono_ms() - up->last_warn_ms >=
			    UP_WARN_EVERY_MS || up->last_warn_ms == 0) {
				up->last_warn_ms = util_mono_ms();
				log_warnx("hunting uses the %s (%s); it stops "
				    "returning data on 2027-02-01, in %ld "
				    "day(s): %s", backend_title(j->backend),
				    d.why, d.days_left, hunting_fix);
			}
			break;
		}
	}
	buf_init(&url, 32 * 1024);
	if (buf_addstr(&url, backend_url(up->cf, j->backend)) == -1 ||
	    buf_addstr(&url, path ? path : "") == -1) {
		buf_free(&url);
		fail_job(j, 414, "BadRequest", "the request URI is too long",
		    NULL);
		return (-1);
	}
	free(j->url);
	j->url = buf_take(&url, NULL);
	j->ts = up->src[j->backend];
	j->resolved = 1;
	return (0);
}

/* ---- jobs and messages ---- */

/* Queue j behind others waiting for its origin, or start it now. */
static void
dispatch(struct upstream *up, struct job *j)
{
	struct lane *l;

	if (!j->resolved && resolve(up, j) != 0)
		return;
	l = &up->lane[up->lane_of[j->backend]];
	if ((!TAILQ_EMPTY(&l->q) && !j->retried) || !lane_admits(up, l, j))
		fifo_add(up, j);
	else
		launch(up, j);
}

/* Start j's transfer, or park it until its token source has a token. */
static void
launch(struct upstream *up, struct job *j)
{
	struct token	*tok;
	long long	 now_ms = util_mono_ms();

	if ((tok = tokensrc_token(j->ts)) != NULL) {
		start_transfer(up, j, tok);
		return;
	}
	if (tokensrc_backing_off(j->ts, now_ms)) {
		fail_token(j);
		return;
	}
	tokensrc_park(j->ts, j);
	poll_source(up, j->ts, now_ms);
}

/* A token request ended: everyone who waited continues together. */
static void
release_waiters(struct upstream *up, struct tokensrc *ts)
{
	struct job *j, *next;

	j = tokensrc_take_waiters(ts);
	for (; j != NULL; j = next) {
		next = j->wnext;
		j->wnext = NULL;
		j->waiting = 0;
		if (j->resolved && tokensrc_token(ts) == NULL)
			fail_token(j);
		else
			dispatch(up, j);
	}
}

static void
finish_token(struct upstream *up, struct tokensrc *ts, CURLcode res)
{
	tokensrc_finished(ts, up->multi, res);
	release_waiters(up, ts);
}

/* Start ts's token request when due; one that could not be built (e.g.
 * no federated token file yet) has already failed: release its waiters. */
static void
poll_source(struct upstream *up, struct tokensrc *ts, long long now_ms)
{
	if (tokensrc_poll(ts, up->multi, now_ms) == -1)
		release_waiters(up, ts);
}

static void
handle_msg(struct upstream *up, struct job_msg *m)
{
	struct job	*j = m->job;
	int		 paused;

	switch (m->type) {
	case JOB_MSG_SUBMIT:
		dispatch(up, j);
		break;
	case JOB_MSG_UNPAUSE:
		pthread_mutex_lock(&j->mu);
		paused = j->curl_paused;
		j->curl_paused = 0;
		j->unpause_queued = 0;
		j->paused_ms = 0;
		pthread_mutex_unlock(&j->mu);
		/* not under j->mu: curl may call the write callback here */
		if (paused && j->easy)
			curl_easy_pause(j->easy, CURLPAUSE_CONT);
		job_unref(j);		/* the message's reference */
		break;
	case JOB_MSG_CANCEL:
		if (j->queued) {
			fifo_del(up, j);
			log_debug("%s: client went away while queued",
			    j->reqid);
			job_unref(j);	/* the back thread's reference */
		} else if (j->waiting) {
			tokensrc_unpark(j->ts, j);
			job_unref(j);	/* the back thread's reference */
		} else if (j->easy) {
			detach(up, j);
			log_debug("%s: client went away: transfer cancelled",
			    j->reqid);
			job_unref(j);	/* the back thread's reference */
		}
		job_unref(j);		/* the message's reference */
		break;
	}
}

static int
drain_inbox(struct upstream *up)
{
	struct job_msg		*m, *next;
	const struct gw_config	*ncf, *old;
	int			 stopping;

	pthread_mutex_lock(&up->mu);
	m = up->in_head;
	up->in_head = up->in_tail = NULL;
	stopping = up->stopping;
	ncf = up->new_cf;
	up->new_cf = NULL;
	pthread_mutex_unlock(&up->mu);
	if (ncf) {
		old = up->cf;
		/* who defgate is: tenant, app, authority, and the credential
		 * (kind, secret, certificate, federated file, identity
		 * endpoint); each source also drops its token when its
		 * scope changed (tokensrc_reload) */
		int changed = strcmp(old->tenant_id ? old->tenant_id : "",
		    ncf->tenant_id ? ncf->tenant_id : "") ||
		    strcmp(old->client_id ? old->client_id : "",
		    ncf->client_id ? ncf->client_id : "") ||
		    strcmp(old->authority_host, ncf->authority_host) ||
		    old->token_version != ncf->token_version ||
		    cred_identity_changed(old, ncf);

		/*
		 * The old config's secrets and key go with its last
		 * reference (config_free -> cred_forget_secrets): requests
		 * and the status page may still read it, so it is not
		 * wiped here; the secret a reload needs lives in main.c.
		 */
		up->cf = ncf;
		/* a token request in flight finishes with the old settings */
		for (int b = 0; b < BACKEND__COUNT; b++)
			tokensrc_reload(up->src[b], ncf, changed);
		lanes_map(up);
		/* new credentials: idle handles pick up new TLS settings */
		while (up->npool > 0)
			curl_easy_cleanup(up->pool[--up->npool]);
		cfgref_put(old);
		log_info("configuration reloaded");
	}
	for (; m != NULL; m = next) {
		next = m->next;
		m->next = NULL;
		handle_msg(up, m);
	}
	return (stopping);
}

/* The back thread is gone (shutdown): answer what it would have. */
static void
msg_after_exit(struct job_msg *m)
{
	if (m->type == JOB_MSG_SUBMIT)
		fail_job(m->job, 503, "ServiceUnavailable", "defgate is "
		    "shutting down", NULL);
	else
		job_unref(m->job);
}

static void
post(struct upstream *up, struct job_msg *m)
{
	int posted = 0, wake = 0;

	pthread_mutex_lock(&up->mu);
	if (!up->exited) {
		m->next = NULL;
		/* one wake-up per batch: a non-empty inbox has one pending */
		wake = up->in_head == NULL;
		if (up->in_tail)
			up->in_tail->next = m;
		else
			up->in_head = m;
		up->in_tail = m;
		posted = 1;
	}
	pthread_mutex_unlock(&up->mu);
	if (!posted)
		msg_after_exit(m);
	else if (wake)
		curl_multi_wakeup(up->multi);
}

static void
active_add(struct upstream *up, struct job *j)
{
	TAILQ_INSERT_HEAD(&up->active, j, aentry);
}

static void
active_del(struct upstream *up, struct job *j)
{
	TAILQ_REMOVE(&up->active, j, aentry);
}

/* Shutdown: every job still here is answered (503) or its stream ended. */
static void
fail_everything(struct upstream *up)
{
	struct job *j, *next;

	for (int i = 0; i < UP_NLANES; i++)
		while ((j = TAILQ_FIRST(&up->lane[i].q)) != NULL) {
			fifo_del(up, j);
			fail_job(j, 503, "ServiceUnavailable", "defgate is "
			    "shutting down", NULL);
		}
	for (int b = 0; b < BACKEND__COUNT; b++)
		for (j = tokensrc_take_waiters(up->src[b]); j; j = next) {
			next = j->wnext;
			j->waiting = 0;
			fail_job(j, 503, "ServiceUnavailable", "defgate is "
			    "shutting down", NULL);
		}
	while ((j = TAILQ_FIRST(&up->active)) != NULL) {
		detach(up, j);
		fail_job(j, 503, "ServiceUnavailable", "defgate is shutting "
		    "down", NULL);
	}
}

static void
probe_job(struct job *j, long long now)
{
	if (now - j->start_ms < UP_PROBE_MS)
		return;
	pthread_mutex_lock(&j->mu);
	job_notify(j);
	pthread_mutex_unlock(&j->mu);
}

/* 1 when the job's request has not been sent yet: no connection so far. */
static int
unsent(const struct job *j)
{
	curl_off_t t = 0;

	return (j->easy && curl_easy_getinfo(j->easy,
	    CURLINFO_PRETRANSFER_TIME_T, &t) == CURLE_OK && t == 0);
}

/* See UP_STALL_MS: for one lane. */
static void
drop_stalled_lane(struct upstream *up, int lane, long long now)
{
	struct job	*j, *worst;
	long long	 p, worst_p;
	int		 waiting = 0, curl_waiting = 0, sending = 0;

	/* requests queued for a second in our FIFO */
	TAILQ_FOREACH(j, &up->lane[lane].q, qentry)
		if (now - j->q_ms >= UP_WAIT_MS)
			waiting++;
	/* or in curl's own pending list (an HTTP/2 server allowing fewer
	 * streams than UP_H2_STREAMS, a token request on the same host) */
	TAILQ_FOREACH(j, &up->active, aentry) {
		if (j->lane != lane)
			continue;
		if (!unsent(j))
			sending++;
		else if (now - j->up_start_ms >= UP_WAIT_MS)
			curl_waiting++;
	}
	if (sending >= up->max_conns)
		waiting += curl_waiting;
	while (waiting-- > 0) {
		worst = NULL;
		worst_p = 0;
		TAILQ_FOREACH(j, &up->active, aentry) {
			if (j->lane != lane)
				continue;
			pthread_mutex_lock(&j->mu);
			p = j->curl_paused ? j->paused_ms : 0;
			pthread_mutex_unlock(&j->mu);
			if (p && now - p >= UP_STALL_MS &&
			    (worst == NULL || p < worst_p)) {
				worst = j;
				worst_p = p;
			}
		}
		if (worst == NULL)
			return;
		log_warnx("%s: dropped: the client read nothing for %lld s "
		    "while requests waited for an upstream connection",
		    worst->reqid, (now - worst_p) / 1000);
		detach(up, worst);
		fail_job(worst, 503, "ServiceUnavailable", "the client read "
		    "nothing while other requests waited", NULL);
	}
}

static void
drop_stalled(struct upstream *up, long long now)
{
	for (int l = 0; l < UP_NLANES; l++)
		drop_stalled_lane(up, l, now);
}

/*
 * About once a second, wake the front for every job it has been waiting on
 * for a while, so it can notice clients that hung up (proxy.c client_gone)
 * and cancel their transfers instead of running them to the timeout.
 */
static void
probe(struct upstream *up)
{
	long long	 now = util_mono_ms();
	struct job	*j, *w;

	if (now - up->last_probe_ms < UP_PROBE_MS)
		return;
	up->last_probe_ms = now;
	drop_stalled(up, now);
	TAILQ_FOREACH(j, &up->active, aentry)
		probe_job(j, now);
	for (int l = 0; l < UP_NLANES; l++)
		TAILQ_FOREACH(j, &up->lane[l].q, qentry)
			probe_job(j, now);
	for (int b = 0; b < BACKEND__COUNT; b++) {
		for (w = tokensrc_waiters(up->src[b]); w; w = w->wnext)
			probe_job(w, now);
	}
}

/* Finish the transfers curl has completed. */
static void
reap(struct upstream *up)
{
	CURLMsg	*msg;
	int	 left;

	while ((msg = curl_multi_info_read(up->multi, &left)) != NULL) {
		CURL		*e = msg->easy_handle;
		CURLcode	 res = msg->data.result;
		struct job	*j = NULL;
		int		 b;

		if (msg->msg != CURLMSG_DONE)
			continue;
		for (b = 0; b < BACKEND__COUNT; b++)
			if (tokensrc_owns(up->src[b], e))
				break;
		if (b < BACKEND__COUNT) {
			finish_token(up, up->src[b], res);
			continue;
		}
		curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&j);
		if (j)
			finish_api(up, j, res);
	}
}

static void *
upstream_main(void *arg)
{
	struct upstream	*up = arg;
	int		 running;
	long		 wait_ms;

	for (;;) {
		long long now_ms;

		if (drain_inbox(up))
			break;
		now_ms = util_mono_ms();
		/* hunting on Graph in any case (graph, or auto after the
		 * retirement): keep its token ready, /readyz depends on it */
		if (up->cf->hunting_backend == CONFIG_HUNT_GRAPH ||
		    (up->cf->hunting_backend == CONFIG_HUNT_AUTO &&
		    util_now() >= HUNTING_RETIREMENT))
			tokensrc_use(up->src[BACKEND_GRAPH]);
		for (int b = 0; b < BACKEND__COUNT; b++)
			poll_source(up, up->src[b], now_ms);
		curl_multi_perform(up->multi, &running);
		reap(up);
		probe(up);
		now_ms = util_mono_ms();
		fifo_expire(up, now_ms);
		/*
		 * Connections freed above (finished, cancelled, dropped) go
		 * to the queue's heads, whose requests are sent right away:
		 * not one more trip through poll() per transfer, as curl's
		 * own queue would not take either.
		 */
		if (fifo_pump(up) > 0) {
			curl_multi_perform(up->multi, &running);
			reap(up);
			fifo_pump(up);
		}
		wait_ms = fifo_next_ms(up, now_ms, UP_POLL_CAP_MS);
		for (int b = 0; b < BACKEND__COUNT; b++)
			wait_ms = tokensrc_next_ms(up->src[b], now_ms, wait_ms);
		curl_multi_poll(up->multi, NULL, 0, (int)wait_ms, NULL);
	}
	fail_everything(up);
	pthread_mutex_lock(&up->mu);
	up->exited = 1;
	pthread_mutex_unlock(&up->mu);
	/* anything posted between the last drain and exited=1 */
	{
		struct job_msg *m, *next;

		pthread_mutex_lock(&up->mu);
		m = up->in_head;
		up->in_head = up->in_tail = NULL;
		pthread_mutex_unlock(&up->mu);
		for (; m; m = next) {
			next = m->next;
			if (m->type == JOB_MSG_CANCEL && m->job->waiting)
				tokensrc_unpark(m->job->ts, m->job);
			msg_after_exit(m);
		}
	}
	return (NULL);
}

struct upstream *
upstream_start(const struct gw_config *cf)
{
	struct upstream *up = xcalloc(1, sizeof(*up));

	up->cf = cfgref_get(cf);
	pthread_mutex_init(&up->mu, NULL);
	TAILQ_INIT(&up->active);
	for (int l = 0; l < UP_NLANES; l++)
		TAILQ_INIT(&up->lane[l].q);
	if ((up->multi = curl_multi_init()) == NULL)
		fatalx("curl_multi_init failed");
	curl_multi_setopt(up->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
	curl_multi_setopt(up->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
	    cf->max_upstream_conns);
	curl_multi_setopt(up->multi, CURLMOPT_MAX_CONCURRENT_STREAMS,
	    (long)UP_H2_STREAMS);
	/* curl's limit is set once: the lanes keep to the same number */
	up->max_conns = cf->max_upstream_conns;
	lanes_map(up);
	curl_multi_setopt(up->multi, CURLMOPT_MAXCONNECTS,
	    cf->max_upstream_conns * 2 + 2);
	for (int b = 0; b < BACKEND__COUNT; b++)
		up->src[b] = tokensrc_new((enum backend_id)b, cf);
	/* /incidents (and /readyz) need the Defender token from the start;
	 * the others are fetched when a request first needs them */
	tokensrc_use(up->src[BACKEND_DEFENDER]);
	if (pthread_create(&up->thread, NULL, upstream_main, up) != 0)
		fatal("pthread_create");
	return (up);
}

struct tokensrc *
upstream_tokensrc(struct upstream *up, enum backend_id b)
{
	return (up->src[b]);
}

void
upstream_submit(struct upstream *up, struct job *j)
{
	job_ref(j);		/* the back thread's reference */
	post(up, &j->msg_submit);
}

void
upstream_unpause(struct upstream *up, struct job *j)
{
	job_ref(j);
	post(up, &j->msg_unpause);
}

void
upstream_cancel(struct upstream *up, struct job *j)
{
	pthread_mutex_lock(&j->mu);
	j->cancelled = 1;
	pthread_mutex_unlock(&j->mu);
	job_ref(j);
	post(up, &j->msg_cancel);
}

void
upstream_reload(struct upstream *up, const struct gw_config *cf)
{
	const struct gw_config *prev;

	cfgref_get(cf);
	pthread_mutex_lock(&up->mu);
	prev = up->new_cf;	/* two reloads before the thread woke up */
	up->new_cf = cf;
	pthread_mutex_unlock(&up->mu);
	cfgref_put(prev);
	curl_multi_wakeup(up->multi);
}

void
upstream_stop(struct upstream *up)
{
	if (up == NULL)
		return;
	pthread_mutex_lock(&up->mu);
	up->stopping = 1;
	pthread_mutex_unlock(&up->mu);
	curl_multi_wakeup(up->multi);
	pthread_join(up->thread, NULL);
}

void
upstream_free(struct upstream *up)
{
	if (up == NULL)
		return;
	for (int b = 0; b < BACKEND__COUNT; b++)
		tokensrc_free(up->src[b], up->multi);
	while (up->npool > 0)
		curl_easy_cleanup(up->pool[--up->npool]);
	curl_multi_cleanup(up->multi);
	pthread_mutex_lock(&up->mu);
	cfgref_put(up->new_cf);
	pthread_mutex_unlock(&up->mu);
	cfgref_put(up->cf);
	pthread_mutex_destroy(&up->mu);
	free(up);
}

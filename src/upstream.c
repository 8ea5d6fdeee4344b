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
 */
#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "buf.h"
#include "config.h"
#include "cred.h"
#include "egress.h"
#include "job.h"
#include "log.h"
#include "oauth.h"
#include "status.h"
#include "token.h"
#include "upstream.h"
#include "util.h"

#define UP_POOL_MAX		64
#define UP_MAX_HEADER_BYTES	(64 * 1024)
#define UP_TOKEN_BODY_MAX	(64 * 1024)
#define UP_POLL_CAP_MS		1000
#define UP_PROBE_MS		1000

struct upstream {
	const struct gw_config	*cf;
	pthread_t		 thread;
	CURLM			*multi;
	struct token_cache	*tc;

	pthread_mutex_t		 mu;		/* inbox and flags below */
	struct job_msg		*in_head, *in_tail;
	const struct gw_config	*new_cf;
	int			 stopping;
	int			 exited;

	/* back thread only */
	struct job		*w_head, *w_tail;	/* token waiters */
	CURL			*pool[UP_POOL_MAX];
	int			 npool;
	struct job		*active;	/* transfers in the multi */
	CURL			*tok_easy;
	int			 tok_active;
	struct cred_req		 tok_req;	/* secret inside: wiped */
	struct buf		 tok_body;
	long			 tok_retry_after;
	char			 tok_err[CURL_ERROR_SIZE];
	long long		 last_probe_ms;
};

static void	dispatch(struct upstream *, struct job *);
static void	active_add(struct upstream *, struct job *);
static void	active_del(struct upstream *, struct job *);

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
	if (j->status == 401 && !j->retried) {
		j->discard = 1;		/* retried once with a fresh token */
		return;
	}
	pthread_mutex_lock(&j->mu);
	if (j->content_length > (long long)up->cf->max_response)
		job_set_error(j, 502, "UpstreamError", "the Defender API "
		    "answered %lld bytes, more than max_response (%zu)",
		    j->content_length, up->cf->max_response);
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
		job_set_error(j, 502, "UpstreamError", "the Defender API "
		    "sent more than %d bytes of response headers",
		    UP_MAX_HEADER_BYTES);
		pthread_mutex_unlock(&j->mu);
		return (0);
	}
	if (job_header_line(j, b, n) == JOB_HDR_END && j->status >= 200)
		headers_complete(up, j);
	return (n);
}

static size_t
api_write_cb(char *b, size_t size, size_t n, void *arg)
{
	struct job	*j = arg;
	struct upstream	*up;
	size_t		 rc = n * size;

	n *= size;
	if (j->discard)
		return (n);
	if (j->status == 403 && j->peeklen < sizeof(j->peek) - 1) {
		size_t k = sizeof(j->peek) - 1 - j->peeklen;

		if (k > n)
			k = n;
		memcpy(j->peek + j->peeklen, b, k);
		j->peeklen += k;
	}
	up = j->owner;
	pthread_mutex_lock(&j->mu);
	if (j->cancelled || !j->headers_ready)
		rc = 0;				/* abort the transfer */
	else if (j->total + n > up->cf->max_response) {
		if (j->streaming)
			j->failed = 1;
		else
			job_set_error(j, 502, "UpstreamError", "the Defender "
			    "API answered more than max_response (%zu bytes)",
			    up->cf->max_response);
		rc = 0;
	} else if (job_ring_put(j, b, n) == 1) {
		/* full: pause the transfer until the client has read some */
		j->curl_paused = 1;
		j->unpause_queued = 0;
		rc = CURL_WRITEFUNC_PAUSE;
		job_notify(j);
	} else if (j->streaming)
		job_notify(j);
	pthread_mutex_unlock(&j->mu);
	return (rc);
}

static void
start_transfer(struct upstream *up, struct job *j, struct token *tok)
{
	CURL *e;

	if ((e = pool_get(up)) == NULL) {
		pthread_mutex_lock(&j->mu);
		job_set_error(j, 502, "UpstreamError", "out of memory");
		j->done = 1;
		job_notify(j);
		pthread_mutex_unlock(&j->mu);
		job_unref(j);
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
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, up->cf->timeout_ms);
	/*
	 * Hunting results can be tens of MiB. On HTTP/2, libcurl 7.88 keeps
	 * reading a paused stream up to its fixed 32 MiB window, so a slow
	 * client would make us buffer that much; on HTTP/1.1 a paused
	 * transfer leaves the bytes in the socket and TCP pushes back.
	 */
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, up->cf->http2 &&
	    j->route != ROUTE_HUNTING ? (long)CURL_HTTP_VERSION_2TLS :
	    (long)CURL_HTTP_VERSION_1_1);
	/*
	 * libcurl silently resends a request when a reused connection turns
	 * out dead before any answer. Fine for reads; a PATCH may append a
	 * comment, so writes always take a fresh connection instead.
	 */
	curl_easy_setopt(e, CURLOPT_FRESH_CONNECT,
	    j->method == JOB_PATCH ? 1L : 0L);
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
	j->up_start_ms = util_mono_ms();
	if (curl_multi_add_handle(up->multi, e) != CURLM_OK) {
		token_unref(j->tok);
		j->tok = NULL;
		j->easy = NULL;
		pool_put(up, e);
		pthread_mutex_lock(&j->mu);
		job_set_error(j, 502, "UpstreamError", "cannot start the "
		    "upstream transfer");
		j->done = 1;
		job_notify(j);
		pthread_mutex_unlock(&j->mu);
		job_unref(j);
		return;
	}
	active_add(up, j);
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

/* 503 with the reason the token cache has none, AADSTS code and hint. */
static void
fail_token(struct upstream *up, struct job *j)
{
	const struct oauth_error	*e = token_last_error(up->tc);
	char				 msg[512], why[448], ra[24];
	long long			 wait_ms;

	if (e == NULL) {
		fail_job(j, 503, "TokenUnavailable", "no access token for the "
		    "Defender API is available yet", "1");
		return;
	}
	oauth_error_describe(e, why, sizeof(why));
	snprintf(msg, sizeof(msg), "no access token for the Defender API: %s",
	    why);
	wait_ms = token_next_event_ms(up->tc, util_mono_ms(), 600000);
	snprintf(ra, sizeof(ra), "%lld", wait_ms / 1000 + 1);
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
}

static void
finish_api(struct upstream *up, struct job *j, CURLcode res)
{
	long long	 ms = util_mono_ms() - j->up_start_ms;
	char		 perr[320];
	/* before detach(): the handle still knows how the proxy answered */
	int		 proxy_fault = egress_error(up->cf, j->easy, res, perr,
			    sizeof(perr));

	detach(up, j);
	status_upstream(ms, res == CURLE_OK ? j->status : 0);
	if (j->status == 403 && j->peeklen > 0 &&
	    strstr(j->peek, "Missing application roles") != NULL) {
		/* an API may echo the bearer or more: never onto the page */
		cred_redact(up->cf, j->peek, sizeof(j->peek));
		status_forbidden(j->peek, strlen(j->peek));
	}
	if (j->discard && !j->cancelled) {
		/* 401 on a live token: it was revoked; refresh and retry once */
		token_invalidate(up->tc, token_generation(j->tok));
		token_unref(j->tok);
		j->tok = NULL;
		j->discard = 0;
		j->retried = 1;
		j->status = 0;
		log_info("%s: upstream 401, retrying once with a new token",
		    j->reqid);
		dispatch(up, j);
		return;
	}
	token_unref(j->tok);
	j->tok = NULL;
	pthread_mutex_lock(&j->mu);
	if (res != CURLE_OK && !j->streaming) {
		if (res == CURLE_OPERATION_TIMEDOUT)
			job_set_error(j, 504, "UpstreamTimeout", "the Defender "
			    "API did not answer within %ld s (timeout)",
			    up->cf->timeout_ms / 1000);
		else if (res == CURLE_PEER_FAILED_VERIFICATION ||
		    res == CURLE_SSL_CACERT_BADFILE)
			job_set_error(j, 502, "UpstreamError", "TLS "
			    "verification of the Defender API failed: %s "
			    "(check ca_file)", j->errbuf[0] ? j->errbuf :
			    curl_easy_strerror(res));
		else if (proxy_fault)
			job_set_error(j, 502, "UpstreamError", "cannot reach "
			    "the Defender API: %s", perr);
		else
			job_set_error(j, 502, "UpstreamError", "cannot reach "
			    "the Defender API: %s", j->errbuf[0] ? j->errbuf :
			    curl_easy_strerror(res));
	} else if (res != CURLE_OK)
		j->failed = 1;
	if (j->err_status == 0 && !j->headers_ready)
		job_set_error(j, 502, "UpstreamError", "the Defender API "
		    "closed the connection without a response");
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
	job_unref(j);
}

/* ---- token transfers ---- */

static size_t
tok_write_cb(char *b, size_t size, size_t n, void *arg)
{
	struct upstream *up = arg;

	n *= size;
	return (buf_append(&up->tok_body, b, n) == 0 ? n : 0);
}

static size_t
tok_header_cb(char *b, size_t size, size_t n, void *arg)
{
	struct upstream	*up = arg;
	char		 v[32];

	n *= size;
	if (n > 12 && strncasecmp(b, "retry-after:", 12) == 0) {
		job_header_value(v, sizeof(v), b + 12, n - 12);
		up->tok_retry_after = strtol(v, NULL, 10);
	}
	return (n);
}

/* single-flight: everyone who waited continues together */
static void
release_waiters(struct upstream *up)
{
	struct job	*j, *next;
	struct token	*tok;

	j = up->w_head;
	up->w_head = up->w_tail = NULL;
	tok = token_current(up->tc, util_now());
	for (; j != NULL; j = next) {
		next = j->wnext;
		j->wnext = NULL;
		j->waiting = 0;
		if (tok)
			start_transfer(up, j, tok);
		else
			fail_token(up, j);
	}
}

static void
start_token_request(struct upstream *up)
{
	struct oauth_error err;

	if (up->tok_active)
		return;
	if (up->tok_easy == NULL) {
		if ((up->tok_easy = curl_easy_init()) == NULL)
			return;
		upstream_easy_common(up->cf, up->tok_easy);
		curl_easy_setopt(up->tok_easy, CURLOPT_WRITEFUNCTION,
		    tok_write_cb);
		curl_easy_setopt(up->tok_easy, CURLOPT_WRITEDATA, up);
		curl_easy_setopt(up->tok_easy, CURLOPT_HEADERFUNCTION,
		    tok_header_cb);
		curl_easy_setopt(up->tok_easy, CURLOPT_HEADERDATA, up);
		curl_easy_setopt(up->tok_easy, CURLOPT_ERRORBUFFER,
		    up->tok_err);
		curl_easy_setopt(up->tok_easy, CURLOPT_PIPEWAIT, 0L);
	}
	cred_req_free(&up->tok_req);
	if (cred_req_build(up->cf, up->cf->scope, &up->tok_req, &err) == -1) {
		/* e.g. no federated token yet: a token error, backed off */
		token_refresh_started(up->tc);
		token_refresh_failed(up->tc, &err);
		release_waiters(up);
		return;
	}
	cred_req_apply(up->cf, &up->tok_req, up->tok_easy);
	curl_easy_setopt(up->tok_easy, CURLOPT_TIMEOUT_MS,
	    up->cf->token_timeout_ms);
	buf_wipe(&up->tok_body);
	buf_init(&up->tok_body, UP_TOKEN_BODY_MAX);
	up->tok_retry_after = 0;
	up->tok_err[0] = '\0';
	if (curl_multi_add_handle(up->multi, up->tok_easy) != CURLM_OK) {
		log_warnx("cannot start the token request");
		return;
	}
	up->tok_active = 1;
	token_refresh_started(up->tc);
	log_debug("token request started");
}

static void
finish_token(struct upstream *up, CURLcode res)
{
	long		 status = 0;
	char		 terr[CURL_ERROR_SIZE + 320];

	curl_easy_getinfo(up->tok_easy, CURLINFO_RESPONSE_CODE, &status);
	/* a failure of the egress proxy is named as such (MI goes direct) */
	if (res != CURLE_OK && (up->tok_req.is_get ||
	    !egress_error(up->cf, up->tok_easy, res, terr, sizeof(terr))))
		snprintf(terr, sizeof(terr), "%s%s",
		    res == CURLE_OPERATION_TIMEDOUT ? "timed out: " :
		    (res == CURLE_PEER_FAILED_VERIFICATION ?
		    "TLS verification failed (check ca_file): " : ""),
		    up->tok_err[0] ? up->tok_err : curl_easy_strerror(res));
	curl_multi_remove_handle(up->multi, up->tok_easy);
	up->tok_active = 0;
	cred_req_free(&up->tok_req);
	if (res != CURLE_OK) {
		cred_redact(up->cf, terr, sizeof(terr));
		(void)token_refresh_finished(up->tc, 0, NULL, 0, 0, terr);
	} else
		(void)token_refresh_finished(up->tc, status,
		    up->tok_body.data, up->tok_body.len, up->tok_retry_after,
		    NULL);
	buf_wipe(&up->tok_body);
	release_waiters(up);
}

/* ---- jobs and messages ---- */

static void
dispatch(struct upstream *up, struct job *j)
{
	struct token *tok = token_current(up->tc, util_now());

	if (tok) {
		start_transfer(up, j, tok);
		return;
	}
	if (!token_refreshing(up->tc) && token_backing_off(up->tc)) {
		fail_token(up, j);
		return;
	}
	j->waiting = 1;
	j->wnext = NULL;
	if (up->w_tail)
		up->w_tail->wnext = j;
	else
		up->w_head = j;
	up->w_tail = j;
	start_token_request(up);
}

static void
waiters_remove(struct upstream *up, struct job *j)
{
	struct job **pp, *prev = NULL;

	for (pp = &up->w_head; *pp; prev = *pp, pp = &(*pp)->wnext) {
		if (*pp != j)
			continue;
		*pp = j->wnext;
		if (up->w_tail == j)
			up->w_tail = prev;
		j->waiting = 0;
		return;
	}
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
		pthread_mutex_unlock(&j->mu);
		/* not under j->mu: curl may call the write callback here */
		if (paused && j->easy)
			curl_easy_pause(j->easy, CURLPAUSE_CONT);
		job_unref(j);		/* the message's reference */
		break;
	case JOB_MSG_CANCEL:
		if (j->waiting) {
			waiters_remove(up, j);
			job_unref(j);	/* the back thread's reference */
		} else if (j->easy) {
			detach(up, j);
			token_unref(j->tok);
			j->tok = NULL;
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
	const struct gw_config	*ncf;
	int			 stopping;

	pthread_mutex_lock(&up->mu);
	m = up->in_head;
	up->in_head = up->in_tail = NULL;
	stopping = up->stopping;
	ncf = up->new_cf;
	up->new_cf = NULL;
	pthread_mutex_unlock(&up->mu);
	if (ncf) {
		/*
		 * Only this thread reads the secret: wipe the old one now
		 * rather than when the old config is freed at exit.
		 */
		struct gw_config *old = (struct gw_config *)(uintptr_t)up->cf;
		int changed = strcmp(old->tenant_id ? old->tenant_id : "",
		    ncf->tenant_id ? ncf->tenant_id : "") ||
		    strcmp(old->client_id ? old->client_id : "",
		    ncf->client_id ? ncf->client_id : "") ||
		    strcmp(old->authority_host, ncf->authority_host) ||
		    strcmp(old->scope, ncf->scope) ||
		    old->token_version != ncf->token_version ||
		    cred_identity_changed(old, ncf);

		cred_forget_secrets(old);
		up->cf = ncf;
		/* a token request in flight finishes with the old settings */
		token_config_changed(up->tc, ncf, changed);
		/* new credentials: idle handles pick up new TLS settings */
		while (up->npool > 0)
			curl_easy_cleanup(up->pool[--up->npool]);
		if (!up->tok_active && up->tok_easy) {
			curl_easy_cleanup(up->tok_easy);
			up->tok_easy = NULL;
		}
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
	j->aprev = NULL;
	j->anext = up->active;
	if (up->active)
		up->active->aprev = j;
	up->active = j;
}

static void
active_del(struct upstream *up, struct job *j)
{
	if (j->aprev)
		j->aprev->anext = j->anext;
	else
		up->active = j->anext;
	if (j->anext)
		j->anext->aprev = j->aprev;
	j->anext = j->aprev = NULL;
}

/* Shutdown: every job still here is answered (503) or its stream ended. */
static void
fail_everything(struct upstream *up)
{
	struct job *j, *next;

	for (j = up->w_head; j != NULL; j = next) {
		next = j->wnext;
		j->waiting = 0;
		fail_job(j, 503, "ServiceUnavailable", "defgate is shutting "
		    "down", NULL);
	}
	up->w_head = up->w_tail = NULL;
	while ((j = up->active) != NULL) {
		detach(up, j);
		token_unref(j->tok);
		j->tok = NULL;
		fail_job(j, 503, "ServiceUnavailable", "defgate is shutting "
		    "down", NULL);
	}
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
	struct job	*j;

	if (now - up->last_probe_ms < UP_PROBE_MS)
		return;
	up->last_probe_ms = now;
	for (int pass = 0; pass < 2; pass++)
		for (j = pass ? up->w_head : up->active; j != NULL;
		    j = pass ? j->wnext : j->anext) {
			if (now - j->start_ms < UP_PROBE_MS)
				continue;
			pthread_mutex_lock(&j->mu);
			job_notify(j);
			pthread_mutex_unlock(&j->mu);
		}
}

static void *
upstream_main(void *arg)
{
	struct upstream	*up = arg;
	CURLMsg		*msg;
	int		 running, left;
	long		 wait_ms;

	for (;;) {
		if (drain_inbox(up))
			break;
		if (token_refresh_due(up->tc, util_now()))
			start_token_request(up);
		curl_multi_perform(up->multi, &running);
		while ((msg = curl_multi_info_read(up->multi, &left)) != NULL) {
			CURL	*e = msg->easy_handle;
			CURLcode res = msg->data.result;

			if (msg->msg != CURLMSG_DONE)
				continue;
			if (e == up->tok_easy)
				finish_token(up, res);
			else {
				struct job *j = NULL;

				curl_easy_getinfo(e, CURLINFO_PRIVATE,
				    (char **)&j);
				if (j)
					finish_api(up, j, res);
			}
		}
		probe(up);
		wait_ms = token_next_event_ms(up->tc, util_mono_ms(),
		    UP_POLL_CAP_MS);
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
				waiters_remove(up, m->job);
			msg_after_exit(m);
		}
	}
	return (NULL);
}

struct upstream *
upstream_start(const struct gw_config *cf)
{
	struct upstream *up = xcalloc(1, sizeof(*up));

	up->cf = cf;
	pthread_mutex_init(&up->mu, NULL);
	buf_init(&up->tok_body, UP_TOKEN_BODY_MAX);
	if ((up->multi = curl_multi_init()) == NULL)
		fatalx("curl_multi_init failed");
	curl_multi_setopt(up->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
	curl_multi_setopt(up->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
	    cf->max_upstream_conns);
	curl_multi_setopt(up->multi, CURLMOPT_MAXCONNECTS,
	    cf->max_upstream_conns * 2 + 2);
	up->tc = token_cache_new(cf);
	if (pthread_create(&up->thread, NULL, upstream_main, up) != 0)
		fatal("pthread_create");
	return (up);
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
	pthread_mutex_lock(&up->mu);
	up->new_cf = cf;
	pthread_mutex_unlock(&up->mu);
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
	if (up->tok_active)
		curl_multi_remove_handle(up->multi, up->tok_easy);
	if (up->tok_easy)
		curl_easy_cleanup(up->tok_easy);
	while (up->npool > 0)
		curl_easy_cleanup(up->pool[--up->npool]);
	curl_multi_cleanup(up->multi);
	token_cache_free(up->tc);
	cred_req_free(&up->tok_req);
	buf_wipe(&up->tok_body);
	pthread_mutex_destroy(&up->mu);
	free(up);
}

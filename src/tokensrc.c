/*
 * tokensrc.c: token sources (see tokensrc.h for the policy and threads).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/rand.h>

#include "buf.h"
#include "config.h"
#include "cred.h"
#include "egress.h"
#include "job.h"
#include "log.h"
#include "tokensrc.h"
#include "upstream.h"
#include "util.h"

#define TOKEN_BODY_MAX		(64 * 1024)
#define RETRY_AFTER_MAX_S	600

struct token {
	int		 refs;		/* back thread only */
	unsigned	 gen;
	long long	 expires_at;	/* unix s, from Entra */
	long long	 usable_until;	/* unix s: expiry minus a margin */
	long long	 obtained_ms;	/* mono */
	char		*header;	/* "Authorization: Bearer ..." */
};

struct tokensrc {
	enum backend_id		 backend;
	const struct gw_config	*cf;

	/* back thread */
	struct tokpolicy	 pol;
	struct token		*cur;
	unsigned		 gen;
	long long		 req_sent;	/* unix s: request started */
	struct job		*w_head, *w_tail;	/* parked jobs */
	CURL			*easy;
	int			 active;
	struct cred_req		 req;		/* secret inside: wiped */
	struct buf		 body;
	long			 retry_after;
	char			 errbuf[CURL_ERROR_SIZE];
	struct oauth_error	 err;
	int			 have_error;
	unsigned long		 failures, rejections;	/* copied to the view */

	/* any thread */
	atomic_llong		 ready_until;	/* unix s */
	atomic_int		 graph;		/* enum hunting_graph */
	atomic_int		 failed;
	pthread_mutex_t		 mu;		/* guards view */
	struct token_view	 view;
};

static unsigned
rnd32(void)
{
	unsigned r;

	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		r = (unsigned)util_mono_ms();
	return (r);
}

/* ---- policy ---- */

/* The k-th backoff step (k >= 1), with 0-25% jitter taken off. */
static long
backoff_step(int k, unsigned rnd)
{
	long ms = TOKENSRC_BACKOFF_MIN_MS;

	while (--k > 0 && ms < TOKENSRC_BACKOFF_MAX_MS)
		ms *= 2;
	if (ms > TOKENSRC_BACKOFF_MAX_MS)
		ms = TOKENSRC_BACKOFF_MAX_MS;
	return (ms - (long)(rnd % (unsigned)(ms / 4 + 1)));
}

/* Consecutive setbacks: failed requests plus refused tokens after the
 * first (one 401 on an old token is a normal revocation). */
static int
setbacks(const struct tokpolicy *p)
{
	return (p->fails + (p->rejects > 1 ? p->rejects - 1 : 0));
}

int
tokpolicy_due(const struct tokpolicy *p, int have_token, long long now_ms)
{
	if (!p->used || p->refreshing || now_ms < p->next_attempt_ms)
		return (0);
	if (p->last_fetch_ms && now_ms - p->last_fetch_ms < TOKENSRC_FLOOR_MS)
		return (0);
	return (!have_token || now_ms >= p->refresh_at_ms);
}

int
tokpolicy_backing_off(const struct tokpolicy *p, long long now_ms)
{
	return (!p->refreshing && setbacks(p) > 0 &&
	    now_ms < p->next_attempt_ms);
}

void
tokpolicy_started(struct tokpolicy *p, long long now_ms)
{
	p->refreshing = 1;
	p->last_fetch_ms = now_ms;
}

void
tokpolicy_failed(struct tokpolicy *p, long long now_ms, long retry_after_s,
    unsigned rnd)
{
	long ms;

	p->refreshing = 0;
	p->fails++;
	ms = backoff_step(setbacks(p), rnd);
	if (retry_after_s > 0) {
		if (retry_after_s > RETRY_AFTER_MAX_S)
			retry_after_s = RETRY_AFTER_MAX_S;
		if (ms < retry_after_s * 1000)
			ms = retry_after_s * 1000;
	}
	p->last_step_ms = ms;
	p->next_attempt_ms = now_ms + ms;
}

void
tokpolicy_succeeded(struct tokpolicy *p, long long now_ms,
    long long lifetime_ms, long long usable_ms, unsigned rnd)
{
	long long ahead;

	p->refreshing = 0;
	p->fails = 0;
	/* refresh ahead at ~80% of the lifetime, minus up to 5% jitter */
	ahead = lifetime_ms * 8 / 10 - (long long)(rnd % (unsigned)
	    (lifetime_ms / 20 + 1));
	/* room for a failed refresh and one retry before it is unusable */
	if (ahead > usable_ms - 2 * TOKENSRC_BACKOFF_MIN_MS)
		ahead = usable_ms - 2 * TOKENSRC_BACKOFF_MIN_MS;
	if (ahead < TOKENSRC_FLOOR_MS)
		ahead = TOKENSRC_FLOOR_MS;
	p->refresh_at_ms = now_ms + ahead;
	/* a pending 401 backoff (rejects) is kept: see tokpolicy_rejected */
	if (p->rejects <= 1)
		p->next_attempt_ms = 0;
}

enum tokpolicy_401
tokpolicy_rejected(struct tokpolicy *p, unsigned gen, long long obtained_ms,
    long long now_ms, unsigned rnd)
{
	if (p->rejected_gen != gen) {
		p->rejected_gen = gen;
		p->rejects++;
	}
	if (now_ms - obtained_ms < TOKENSRC_YOUNG_MS)
		return (TOKPOLICY_PASS);
	if (p->rejects > 1) {
		p->last_step_ms = backoff_step(setbacks(p), rnd);
		p->next_attempt_ms = now_ms + p->last_step_ms;
	}
	return (TOKPOLICY_RETRY);
}

void
tokpolicy_accepted(struct tokpolicy *p)
{
	p->rejects = 0;
}

long
tokpolicy_next_ms(const struct tokpolicy *p, int have_token, long long now_ms,
    long cap_ms)
{
	long long at;

	if (!p->used || p->refreshing)
		return (cap_ms);
	at = have_token ? p->refresh_at_ms : now_ms;
	if (at < p->next_attempt_ms)
		at = p->next_attempt_ms;
	if (p->last_fetch_ms && at < p->last_fetch_ms + TOKENSRC_FLOOR_MS)
		at = p->last_fetch_ms + TOKENSRC_FLOOR_MS;
	at -= now_ms;
	if (at < 0)
		at = 0;
	return (at > cap_ms ? cap_ms : (long)at);
}

/* ---- tokens ---- */

void
token_ref(struct token *t)
{
	t->refs++;
}

void
token_unref(struct token *t)
{
	if (t == NULL || --t->refs > 0)
		return;
	util_free_secret(t->header);
	free(t);
}

const char *
token_header(const struct token *t)
{
	return (t->header);
}

/* ---- the view ---- */

const char *
tokensrc_state_name(enum token_state s)
{
	switch (s) {
	case TOKEN_VALID:	return ("valid");
	case TOKEN_REFRESHING:	return ("refreshing");
	case TOKEN_EXPIRED:	return ("expired");
	case TOKEN_ERROR:	return ("error");
	default:		return ("none");
	}
}

/* Back thread: bring the view and the atomics up to date. */
static void
publish(struct tokensrc *ts)
{
	long long	 now_ms = util_mono_ms(), now = util_now();
	int		 valid = ts->cur && now < ts->cur->usable_until;
	struct token_view *v = &ts->view;

	pthread_mutex_lock(&ts->mu);
	v->used = ts->pol.used;
	/*
	 * A credential that fails stays "error" while its retry is in
	 * flight: the page must not flip to "refreshing" and back with
	 * every attempt, and with no valid token that error is the news.
	 */
	if (ts->pol.refreshing && (valid || !ts->have_error))
		v->state = TOKEN_REFRESHING;
	else if (valid)
		v->state = TOKEN_VALID;
	else if (ts->have_error)
		v->state = TOKEN_ERROR;
	else if (v->obtained_at)
		v->state = TOKEN_EXPIRED;
	else
		v->state = TOKEN_NONE;
	v->stale = v->have_claims && !valid;
	v->expires_at = ts->cur ? ts->cur->expires_at : 0;
	v->next_refresh_at = ts->cur ? now + (ts->pol.refresh_at_ms -
	    now_ms) / 1000 : 0;
	v->failures = ts->failures;
	v->rejections = ts->rejections;
	v->have_error = ts->have_error;
	if (ts->have_error)
		v->last_error = ts->err;
	pthread_mutex_unlock(&ts->mu);
	atomic_store(&ts->ready_until, valid ? ts->cur->usable_until : 0);
	atomic_store(&ts->failed, ts->have_error);
}

void
tokensrc_view(struct tokensrc *ts, struct token_view *out)
{
	const struct jwt_claims *c;

	pthread_mutex_lock(&ts->mu);
	*out = ts->view;
	memset(&out->claims, 0, sizeof(out->claims));
	if (ts->view.have_claims) {
		c = &ts->view.claims;
#define DUP(f)	out->claims.f = c->f ? strdup(c->f) : NULL
		DUP(alg); DUP(aud); DUP(iss); DUP(tid); DUP(app_id);
		DUP(app_displayname); DUP(ver); DUP(idtyp); DUP(oid);
		DUP(credential);
#undef DUP
		out->claims.iat = c->iat;
		out->claims.nbf = c->nbf;
		out->claims.exp = c->exp;
		out->claims.has_roles = c->has_roles;
		for (int i = 0; i < c->nroles; i++)
			if ((out->claims.roles[out->claims.nroles] =
			    strdup(c->roles[i])) != NULL)
				out->claims.nroles++;
	}
	pthread_mutex_unlock(&ts->mu);
	/* the view's state is as of the last event: expiry since then */
	if ((out->state == TOKEN_VALID || out->state == TOKEN_REFRESHING) &&
	    !tokensrc_ready(ts)) {
		if (out->state == TOKEN_VALID)
			out->state = TOKEN_EXPIRED;
		out->stale = out->have_claims;
	}
}

void
tokensrc_view_free(struct token_view *v)
{
	jwt_claims_free(&v->claims);
}

int
tokensrc_ready(const struct tokensrc *ts)
{
	return (util_now() < atomic_load(&ts->ready_until));
}

enum hunting_graph
tokensrc_graph_state(struct tokensrc *ts, int *failed)
{
	*failed = atomic_load(&ts->failed);
	return ((enum hunting_graph)atomic_load(&ts->graph));
}

/* ---- the source ---- */

struct tokensrc *
tokensrc_new(enum backend_id b, const struct gw_config *cf)
{
	struct tokensrc *ts = xcalloc(1, sizeof(*ts));

	ts->backend = b;
	ts->cf = cf;
	ts->view.backend = b;
	pthread_mutex_init(&ts->mu, NULL);
	buf_init(&ts->body, TOKEN_BODY_MAX);
	atomic_init(&ts->ready_until, 0);
	atomic_init(&ts->graph, HUNTING_GRAPH_UNKNOWN);
	atomic_init(&ts->failed, 0);
	return (ts);
}

void
tokensrc_free(struct tokensrc *ts, CURLM *multi)
{
	if (ts == NULL)
		return;
	if (ts->active && multi)
		curl_multi_remove_handle(multi, ts->easy);
	if (ts->easy)
		curl_easy_cleanup(ts->easy);
	cred_req_free(&ts->req);
	buf_wipe(&ts->body);
	token_unref(ts->cur);
	jwt_claims_free(&ts->view.claims);
	pthread_mutex_destroy(&ts->mu);
	free(ts);
}

/* Forget the current token (jobs in flight keep their reference). */
static void
drop_token(struct tokensrc *ts)
{
	token_unref(ts->cur);
	ts->cur = NULL;
	publish(ts);
}

/*
 * Expiry is checked against the wall clock in whole seconds, as Entra's exp
 * is: the token is never sent in the second it expires.
 */
struct token *
tokensrc_token(struct tokensrc *ts)
{
	if (ts->cur && util_now() < ts->cur->usable_until)
		return (ts->cur);
	if (ts->cur)
		drop_token(ts);	/* past its margin: never send it again */
	return (NULL);
}

void
tokensrc_use(struct tokensrc *ts)
{
	if (!ts->pol.used) {
		ts->pol.used = 1;
		log_debug("%s token source: in use", backend_name(ts->backend));
	}
}

void
tokensrc_park(struct tokensrc *ts, struct job *j)
{
	tokensrc_use(ts);
	j->waiting = 1;
	j->wnext = NULL;
	if (ts->w_tail)
		ts->w_tail->wnext = j;
	else
		ts->w_head = j;
	ts->w_tail = j;
}

int
tokensrc_unpark(struct tokensrc *ts, struct job *j)
{
	struct job **pp, *prev = NULL;

	for (pp = &ts->w_head; *pp; prev = *pp, pp = &(*pp)->wnext) {
		if (*pp != j)
			continue;
		*pp = j->wnext;
		if (ts->w_tail == j)
			ts->w_tail = prev;
		j->waiting = 0;
		j->wnext = NULL;
		return (1);
	}
	return (0);
}

struct job *
tokensrc_waiters(const struct tokensrc *ts)
{
	return (ts->w_head);
}

struct job *
tokensrc_take_waiters(struct tokensrc *ts)
{
	struct job *j = ts->w_head;

	ts->w_head = ts->w_tail = NULL;
	return (j);
}

int
tokensrc_backing_off(const struct tokensrc *ts, long long now_ms)
{
	return (tokpolicy_backing_off(&ts->pol, now_ms));
}

long
tokensrc_next_ms(const struct tokensrc *ts, long long now_ms, long cap_ms)
{
	return (tokpolicy_next_ms(&ts->pol, ts->cur != NULL, now_ms, cap_ms));
}

int
tokensrc_owns(const struct tokensrc *ts, const CURL *e)
{
	return (ts->easy != NULL && ts->easy == e);
}

static size_t
write_cb(char *b, size_t size, size_t n, void *arg)
{
	struct tokensrc *ts = arg;

	n *= size;
	return (buf_append(&ts->body, b, n) == 0 ? n : 0);
}

static size_t
header_cb(char *b, size_t size, size_t n, void *arg)
{
	struct tokensrc	*ts = arg;
	char		 v[32];

	n *= size;
	if (n > 12 && strncasecmp(b, "retry-after:", 12) == 0) {
		job_header_value(v, sizeof(v), b + 12, n - 12);
		ts->retry_after = strtol(v, NULL, 10);
	}
	return (n);
}

static void record_failure(struct tokensrc *, const struct oauth_error *,
    long);

int
tokensrc_poll(struct tokensrc *ts, CURLM *multi, long long now_ms)
{
	struct oauth_error err;

	if (ts->active || !tokpolicy_due(&ts->pol, tokensrc_token(ts) != NULL,
	    now_ms))
		return (0);
	if (ts->easy == NULL) {
		if ((ts->easy = curl_easy_init()) == NULL)
			return (0);
		upstream_easy_common(ts->cf, ts->easy);
		curl_easy_setopt(ts->easy, CURLOPT_WRITEFUNCTION, write_cb);
		curl_easy_setopt(ts->easy, CURLOPT_WRITEDATA, ts);
		curl_easy_setopt(ts->easy, CURLOPT_HEADERFUNCTION, header_cb);
		curl_easy_setopt(ts->easy, CURLOPT_HEADERDATA, ts);
		curl_easy_setopt(ts->easy, CURLOPT_ERRORBUFFER, ts->errbuf);
		curl_easy_setopt(ts->easy, CURLOPT_PIPEWAIT, 0L);
	}
	cred_req_free(&ts->req);
	if (cred_req_build(ts->cf, backend_scope(ts->cf, ts->backend),
	    &ts->req, &err) == -1) {
		/* e.g. no federated token yet: a token error, backed off */
		tokpolicy_started(&ts->pol, now_ms);
		record_failure(ts, &err, 0);
		publish(ts);
		return (-1);
	}
	cred_req_apply(ts->cf, &ts->req, ts->easy);
	curl_easy_setopt(ts->easy, CURLOPT_TIMEOUT_MS,
	    ts->cf->token_timeout_ms);
	buf_wipe(&ts->body);
	buf_init(&ts->body, TOKEN_BODY_MAX);
	ts->retry_after = 0;
	ts->errbuf[0] = '\0';
	if (curl_multi_add_handle(multi, ts->easy) != CURLM_OK) {
		log_warnx("%s: cannot start the token request",
		    backend_name(ts->backend));
		cred_req_free(&ts->req);
		return (0);
	}
	ts->active = 1;
	ts->req_sent = util_now();
	tokpolicy_started(&ts->pol, now_ms);
	publish(ts);
	log_debug("%s: token request started (scope %s)",
	    backend_name(ts->backend), backend_scope(ts->cf, ts->backend));
	return (0);
}

static void
record_failure(struct tokensrc *ts, const struct oauth_error *oe,
    long retry_after)
{
	char why[512];

	ts->err = *oe;
	ts->err.retry_after = retry_after;
	ts->have_error = 1;
	tokpolicy_failed(&ts->pol, util_mono_ms(), retry_after, rnd32());
	ts->failures++;
	oauth_error_describe(&ts->err, why, sizeof(why));
	log_warnx("%s token request failed: %s (HTTP %ld); next attempt in "
	    "%ld ms%s", backend_name(ts->backend), why, oe->http_status,
	    ts->pol.last_step_ms, ts->cur ? "; the current token stays in use"
	    : "");
}

static void
record_success(struct tokensrc *ts, struct oauth_token *ot)
{
	struct token		*t;
	struct jwt_claims	 claims;
	const char		*jerr = NULL;
	long long		 now = util_now(), now_ms = util_mono_ms();
	long long		 margin, left;
	int			 decoded;

	t = xcalloc(1, sizeof(*t));
	t->refs = 1;
	t->gen = ++ts->gen;
	t->expires_at = ot->expires_at;
	t->obtained_ms = now_ms;
	/* margin: 10% of the lifetime, at most 60 s, so short tokens scale */
	margin = ot->lifetime / 10;
	if (margin > 60)
		margin = 60;
	t->usable_until = ot->expires_at - margin;
	left = t->usable_until - now;
	t->header = xmalloc(22 + ot->len + 1);
	memcpy(t->header, "Authorization: Bearer ", 22);
	memcpy(t->header + 22, ot->access_token, ot->len + 1);
	tokpolicy_succeeded(&ts->pol, now_ms, ot->lifetime * 1000,
	    left > 0 ? left * 1000 : 0, rnd32());
	decoded = jwt_decode(ot->access_token, ot->len, &claims, &jerr) == 0;
	if (!decoded) {
		memset(&claims, 0, sizeof(claims));
		log_info("%s: the token is not a decodable JWT (%s): roles "
		    "cannot be shown", backend_name(ts->backend), jerr);
	}
	pthread_mutex_lock(&ts->mu);
	jwt_claims_free(&ts->view.claims);
	ts->view.claims = claims;
	ts->view.have_claims = decoded;
	ts->view.refreshes++;
	ts->view.obtained_at = now;
	pthread_mutex_unlock(&ts->mu);
	atomic_store(&ts->graph, jwt_has_role(&claims, HUNTING_GRAPH_ROLE) ?
	    HUNTING_GRAPH_HAS_ROLE : HUNTING_GRAPH_NO_ROLE);
	token_unref(ts->cur);
	ts->cur = t;
	ts->have_error = 0;
	log_info("%s token acquired: expires in %lld s, refresh in %lld s, "
	    "%d role(s)", backend_name(ts->backend), t->expires_at - now,
	    (ts->pol.refresh_at_ms - now_ms) / 1000, claims.nroles);
}

void
tokensrc_finished(struct tokensrc *ts, CURLM *multi, CURLcode res)
{
	struct oauth_token	 ot;
	struct oauth_error	 oe;
	long			 status = 0;

	curl_easy_getinfo(ts->easy, CURLINFO_RESPONSE_CODE, &status);
	if (res != CURLE_OK) {
		memset(&oe, 0, sizeof(oe));
		snprintf(oe.error, sizeof(oe.error), "%s",
		    "token_endpoint_unreachable");
		/* a failure of the egress proxy is named as such (managed
		 * identity goes direct); asked before the handle leaves */
		if (ts->req.is_get || !egress_error(ts->cf, ts->easy, res,
		    oe.description, sizeof(oe.description)))
			snprintf(oe.description, sizeof(oe.description),
			    "%s%s", res == CURLE_OPERATION_TIMEDOUT ?
			    "timed out: " : (res ==
			    CURLE_PEER_FAILED_VERIFICATION ? "TLS "
			    "verification failed (check ca_file): " : ""),
			    ts->errbuf[0] ? ts->errbuf :
			    curl_easy_strerror(res));
		cred_redact(ts->cf, oe.description, sizeof(oe.description));
		oe.when = util_now();
	}
	curl_multi_remove_handle(multi, ts->easy);
	ts->active = 0;
	cred_req_free(&ts->req);
	if (res != CURLE_OK)
		record_failure(ts, &oe, 0);
	else if (cred_parse_response(ts->cf, status, ts->body.data,
	    ts->body.len,
	    /* expires_in counts from issue: date it from when we asked */
	    ts->req_sent, &ot, &oe) == 0) {
		record_success(ts, &ot);
		oauth_token_free(&ot);
	} else
		record_failure(ts, &oe, ts->retry_after);
	buf_wipe(&ts->body);
	publish(ts);
}

enum tokpolicy_401
tokensrc_rejected(struct tokensrc *ts, struct token *tok, long long now_ms)
{
	enum tokpolicy_401 r;

	if (tok != ts->cur)
		return (TOKPOLICY_RETRY);	/* already replaced */
	r = tokpolicy_rejected(&ts->pol, tok->gen, tok->obtained_ms, now_ms,
	    rnd32());
	ts->rejections++;
	if (r == TOKPOLICY_PASS) {
		log_info("%s rejected a token obtained %lld ms ago (401): not "
		    "fetching another one yet; check %s",
		    backend_title(ts->backend), now_ms - tok->obtained_ms,
		    backend_scope_key(ts->backend));
		publish(ts);
		return (r);
	}
	log_info("%s rejected the token (401): fetching a new one",
	    backend_title(ts->backend));
	if (ts->pol.rejects > 1) {
		memset(&ts->err, 0, sizeof(ts->err));
		snprintf(ts->err.error, sizeof(ts->err.error), "%s",
		    "token_rejected");
		snprintf(ts->err.description, sizeof(ts->err.description),
		    "the API answered 401 to %d fresh tokens in a row: check "
		    "%s and the app's permissions", ts->pol.rejects,
		    backend_scope_key(ts->backend));
		ts->err.http_status = 401;
		ts->err.when = util_now();
		ts->have_error = 1;
	}
	drop_token(ts);
	return (r);
}

void
tokensrc_accepted(struct tokensrc *ts)
{
	if (ts->pol.rejects)
		tokpolicy_accepted(&ts->pol);
}

void
tokensrc_unavailable(const struct tokensrc *ts, char *msg, size_t msglen,
    long *retry_after_s)
{
	char why[448];
	long ms;

	if (!ts->have_error) {
		snprintf(msg, msglen, "no access token for the %s is available "
		    "yet", backend_title(ts->backend));
		*retry_after_s = 1;
		return;
	}
	oauth_error_describe(&ts->err, why, sizeof(why));
	snprintf(msg, msglen, "no access token for the %s: %s",
	    backend_title(ts->backend), why);
	ms = tokpolicy_next_ms(&ts->pol, ts->cur != NULL, util_mono_ms(),
	    600000);
	*retry_after_s = ms / 1000 + 1;
}

void
tokensrc_reload(struct tokensrc *ts, const struct gw_config *cf,
    int identity_changed)
{
	if (strcmp(backend_scope(ts->cf, ts->backend),
	    backend_scope(cf, ts->backend)) != 0)
		identity_changed = 1;
	ts->cf = cf;
	ts->pol.fails = 0;
	ts->pol.rejects = 0;
	ts->pol.next_attempt_ms = 0;
	if (identity_changed && ts->cur)
		drop_token(ts);
	/* new TLS settings for the next request: a new handle */
	if (!ts->active && ts->easy) {
		curl_easy_cleanup(ts->easy);
		ts->easy = NULL;
	}
	publish(ts);
}

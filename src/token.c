/*
 * token.c: token cache, refresh schedule and backoff. Back thread only;
 * the only cross-thread output is status_token_publish().
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "config.h"
#include "cred.h"
#include "jwt.h"
#include "log.h"
#include "oauth.h"
#include "status.h"
#include "token.h"
#include "util.h"

#define BACKOFF_MIN_MS		1000
#define BACKOFF_MAX_MS		60000
#define RETRY_AFTER_MAX_S	600

struct token {
	int		 refs;
	unsigned	 gen;
	long long	 expires_at;	/* unix seconds, from Entra */
	long long	 usable_until;	/* expires_at minus a safety margin */
	char		*header;	/* "Authorization: Bearer ..." */
	size_t		 headerlen;
};

struct token_cache {
	const struct gw_config	*cf;
	struct token		*cur;
	unsigned		 gen;
	int			 refreshing;
	long long		 refresh_at;	/* unix s: refresh-ahead time */
	long long		 next_attempt_ms; /* mono ms, after a failure */
	long			 backoff_ms;
	long long		 req_sent;	/* unix s: token request sent */
	int			 have_error;
	struct oauth_error	 err;
	struct token_view	 view;		/* what status shows */
};

static unsigned
rnd(unsigned n)
{
	unsigned r;

	if (n == 0)
		return (0);
	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		r = (unsigned)util_mono_ms();
	return (r % n);
}

struct token_cache *
token_cache_new(const struct gw_config *cf)
{
	struct token_cache *tc = xcalloc(1, sizeof(*tc));

	tc->cf = cf;
	tc->view.state = TOKEN_NONE;
	status_token_publish(&tc->view);
	return (tc);
}

void
token_unref(struct token *t)
{
	if (t == NULL || --t->refs > 0)
		return;
	util_free_secret(t->header);
	free(t);
}

void
token_ref(struct token *t)
{
	t->refs++;
}

void
token_cache_free(struct token_cache *tc)
{
	if (tc == NULL)
		return;
	token_unref(tc->cur);
	jwt_claims_free(&tc->view.claims);
	free(tc);
}

const char *
token_header(const struct token *t)
{
	return (t->header);
}

unsigned
token_generation(const struct token *t)
{
	return (t->gen);
}

static void
publish(struct token_cache *tc)
{
	long long now = util_now();

	if (tc->refreshing)
		tc->view.state = TOKEN_REFRESHING;
	else if (tc->cur && now < tc->cur->usable_until)
		tc->view.state = TOKEN_VALID;
	else if (tc->have_error)
		tc->view.state = TOKEN_ERROR;
	else if (tc->view.obtained_at)
		tc->view.state = TOKEN_EXPIRED;
	else
		tc->view.state = TOKEN_NONE;
	/* a refresh-ahead with a valid token in hand is still "valid" */
	if (tc->refreshing && tc->cur && now < tc->cur->usable_until)
		tc->view.state = TOKEN_REFRESHING;
	tc->view.expires_at = tc->cur ? tc->cur->expires_at : 0;
	tc->view.usable_until = tc->cur ? tc->cur->usable_until : 0;
	tc->view.next_refresh_at = tc->cur ? tc->refresh_at : 0;
	tc->view.have_error = tc->have_error;
	if (tc->have_error)
		tc->view.last_error = tc->err;
	status_token_publish(&tc->view);
}

struct token *
token_current(struct token_cache *tc, long long now)
{
	if (tc->cur && now < tc->cur->usable_until)
		return (tc->cur);
	if (tc->cur) {
		/* past its margin: never send it again */
		token_unref(tc->cur);
		tc->cur = NULL;
		publish(tc);
	}
	return (NULL);
}

int
token_refreshing(const struct token_cache *tc)
{
	return (tc->refreshing);
}

int
token_backing_off(const struct token_cache *tc)
{
	return (tc->have_error && util_mono_ms() < tc->next_attempt_ms);
}

int
token_refresh_due(struct token_cache *tc, long long now)
{
	if (tc->refreshing)
		return (0);
	if (tc->have_error && util_mono_ms() < tc->next_attempt_ms)
		return (0);
	if (tc->cur == NULL || now >= tc->cur->usable_until)
		return (1);
	return (now >= tc->refresh_at);
}

long
token_next_event_ms(const struct token_cache *tc, long long now_ms,
    long cap_ms)
{
	long long at = -1, now_s = util_now();

	if (tc->refreshing)
		return (cap_ms);
	if (tc->have_error && tc->next_attempt_ms > now_ms)
		at = tc->next_attempt_ms - now_ms;
	else if (tc->cur) {
		at = (tc->refresh_at - now_s) * 1000;
		if (at < 0)
			at = 0;
	}
	if (at < 0 || at > cap_ms)
		return (cap_ms);
	return ((long)at);
}

void
token_refresh_started(struct token_cache *tc)
{
	tc->refreshing = 1;
	tc->req_sent = util_now();
	publish(tc);
}

static void
schedule_backoff(struct token_cache *tc, long retry_after)
{
	long ms;

	tc->backoff_ms = tc->backoff_ms ? tc->backoff_ms * 2 : BACKOFF_MIN_MS;
	if (tc->backoff_ms > BACKOFF_MAX_MS)
		tc->backoff_ms = BACKOFF_MAX_MS;
	/* jitter: 75% to 100% of the step */
	ms = tc->backoff_ms - (long)rnd((unsigned)(tc->backoff_ms / 4 + 1));
	if (retry_after > 0) {
		if (retry_after > RETRY_AFTER_MAX_S)
			retry_after = RETRY_AFTER_MAX_S;
		if (ms < retry_after * 1000)
			ms = retry_after * 1000;
	}
	tc->next_attempt_ms = util_mono_ms() + ms;
}

int
token_refresh_failed(struct token_cache *tc, const struct oauth_error *e)
{
	char why[512];

	tc->refreshing = 0;
	tc->err = *e;
	tc->have_error = 1;
	tc->view.failures++;
	schedule_backoff(tc, e->retry_after);
	oauth_error_describe(e, why, sizeof(why));
	log_warnx("token request failed: %s (HTTP %ld); next attempt in %lld "
	    "ms%s", why, e->http_status, tc->next_attempt_ms - util_mono_ms(),
	    tc->cur ? "; the current token stays in use" : "");
	publish(tc);
	return (-1);
}

int
token_refresh_finished(struct token_cache *tc, long status, const char *body,
    size_t len, long retry_after, const char *transport_err)
{
	struct oauth_token	 ot;
	struct oauth_error	 oe;
	struct token		*t;
	struct jwt_claims	 claims;
	const char		*jerr;
	long long		 now = util_now(), margin, ahead;

	tc->refreshing = 0;
	if (transport_err != NULL) {
		memset(&oe, 0, sizeof(oe));
		strncpy(oe.error, "token_endpoint_unreachable",
		    sizeof(oe.error) - 1);
		strncpy(oe.description, transport_err,
		    sizeof(oe.description) - 1);
		oe.when = now;
	} else if (cred_parse_response(tc->cf, status, body, len,
	    /* expires_in counts from issue: date it from when we asked */
	    tc->req_sent ? tc->req_sent : now, &ot, &oe) == 0)
		goto success;
	oe.retry_after = retry_after;
	return (token_refresh_failed(tc, &oe));

success:
	t = xcalloc(1, sizeof(*t));
	t->refs = 1;
	t->gen = ++tc->gen;
	t->expires_at = ot.expires_at;
	/* margin: 10% of the lifetime, at most 60 s, so short tokens scale */
	margin = ot.lifetime / 10;
	if (margin > 60)
		margin = 60;
	t->usable_until = ot.expires_at - margin;
	t->headerlen = strlen("Authorization: Bearer ") + ot.len;
	t->header = xmalloc(t->headerlen + 1);
	memcpy(t->header, "Authorization: Bearer ", 22);
	memcpy(t->header + 22, ot.access_token, ot.len + 1);
	/* refresh ahead at ~80% of the lifetime, minus up to 5% jitter */
	ahead = ot.lifetime * 8 / 10 - (long long)rnd(
	    (unsigned)(ot.lifetime / 20 + 1));
	tc->refresh_at = now + (ahead > 0 ? ahead : 0);
	if (tc->refresh_at > t->usable_until)
		tc->refresh_at = t->usable_until;
	if (jwt_decode(ot.access_token, ot.len, &claims, &jerr) == 0) {
		jwt_claims_free(&tc->view.claims);
		tc->view.claims = claims;
		tc->view.have_claims = 1;
	} else {
		jwt_claims_free(&tc->view.claims);
		tc->view.have_claims = 0;
		log_info("token is not a decodable JWT (%s): roles cannot be "
		    "shown", jerr);
	}
	oauth_token_free(&ot);
	token_unref(tc->cur);
	tc->cur = t;
	tc->have_error = 0;
	tc->backoff_ms = 0;
	tc->next_attempt_ms = 0;
	tc->view.refreshes++;
	tc->view.obtained_at = now;
	log_info("token acquired: expires in %lld s, refresh in %lld s, "
	    "%d role(s)", t->expires_at - now, tc->refresh_at - now,
	    tc->view.claims.nroles);
	publish(tc);
	return (0);
}

void
token_invalidate(struct token_cache *tc, unsigned gen)
{
	if (tc->cur == NULL || tc->cur->gen != gen)
		return;		/* already replaced */
	log_info("upstream rejected the token (401): fetching a new one");
	token_unref(tc->cur);
	tc->cur = NULL;
	publish(tc);
}

const struct oauth_error *
token_last_error(const struct token_cache *tc)
{
	return (tc->have_error ? &tc->err : NULL);
}

void
token_config_changed(struct token_cache *tc, const struct gw_config *cf,
    int identity_changed)
{
	tc->cf = cf;
	tc->backoff_ms = 0;
	tc->next_attempt_ms = 0;
	if (identity_changed && tc->cur) {
		token_unref(tc->cur);
		tc->cur = NULL;
	}
	publish(tc);
}

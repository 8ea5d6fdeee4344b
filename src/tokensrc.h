/*
 * tokensrc.c: one token source per audience (per backend, backend.h).
 *
 * A source owns everything about its tokens: the refresh policy, the
 * token request transfer (its curl easy handle runs on the caller's multi
 * handle), the jobs waiting for a token, and the read-only view that the
 * status page and /readyz show.
 *
 * Threads: every function is for the back thread (upstream.c) or, in
 * --check, for the main thread before any other thread exists, except
 * tokensrc_view(), tokensrc_ready() and tokensrc_graph_state(), which any
 * thread may call (the view is copied under the source's own mutex; the
 * front threads read it, nobody pushes into it).
 *
 * Policy:
 *  - single-flight: at most one token request per source; waiters start
 *    together when it completes;
 *  - refresh ahead at ~80% of the lifetime with jitter, never sooner than
 *    TOKENSRC_FLOOR_MS after the previous request, whatever expires_in says;
 *  - failures back off exponentially with jitter, Retry-After honoured;
 *    the current token stays in use while it is valid;
 *  - an API 401 drops the token and the job is retried once with a new
 *    one, unless the token is younger than TOKENSRC_YOUNG_MS (then the 401
 *    is the API's answer and is passed on); repeated 401s back off like
 *    failures, and only an accepted API call (not a successful token
 *    request) resets that backoff;
 *  - a source nobody has asked for fetches nothing.
 */
#ifndef DEFGATE_TOKENSRC_H
#define DEFGATE_TOKENSRC_H

#include <stddef.h>

#include <curl/curl.h>

#include "backend.h"
#include "hunting.h"
#include "jwt.h"
#include "oauth.h"

#define TOKENSRC_FLOOR_MS	1000
#define TOKENSRC_YOUNG_MS	2000
#define TOKENSRC_BACKOFF_MIN_MS	1000
#define TOKENSRC_BACKOFF_MAX_MS	60000

struct gw_config;
struct job;
struct token;
struct tokensrc;

enum token_state {
	TOKEN_NONE = 0,		/* never fetched */
	TOKEN_VALID,
	TOKEN_REFRESHING,	/* a token request is in flight */
	TOKEN_EXPIRED,
	TOKEN_ERROR		/* no valid token, last attempt failed */
};

/* What the status page shows of one source. Claims are the last good
 * token's; stale is 1 when that token is no longer the one in use. */
struct token_view {
	enum backend_id		 backend;
	int			 used;		/* something asked for it */
	enum token_state	 state;
	int			 have_claims;
	int			 stale;
	struct jwt_claims	 claims;	/* owned by the view */
	long long		 expires_at;	/* unix s, 0: none */
	long long		 obtained_at;
	long long		 next_refresh_at;
	unsigned long		 refreshes;	/* successful token requests */
	unsigned long		 failures;	/* failed token requests */
	unsigned long		 rejections;	/* API 401s */
	int			 have_error;
	struct oauth_error	 last_error;
};

/* ---- the pure policy, exposed for tests/test_tokensrc.c ---- */

struct tokpolicy {
	int		 used;
	int		 refreshing;
	long long	 last_fetch_ms;		/* mono: last request started */
	long long	 next_attempt_ms;	/* mono: not before (backoff) */
	long long	 refresh_at_ms;		/* mono: refresh ahead */
	int		 fails;			/* token requests failed in a row */
	int		 rejects;		/* tokens the API refused, in a row */
	unsigned	 rejected_gen;		/* last generation counted */
	long		 last_step_ms;		/* the last backoff chosen */
};

enum tokpolicy_401 {
	TOKPOLICY_RETRY = 0,	/* drop the token, retry the job once */
	TOKPOLICY_PASS		/* young token: the 401 is the answer */
};

/* 1 when a token request should start now. */
int	 tokpolicy_due(const struct tokpolicy *, int have_token,
	    long long now_ms);
/* 1 when a job without a token should fail now rather than wait. */
int	 tokpolicy_backing_off(const struct tokpolicy *, long long now_ms);
void	 tokpolicy_started(struct tokpolicy *, long long now_ms);
void	 tokpolicy_failed(struct tokpolicy *, long long now_ms,
	    long retry_after_s, unsigned rnd);
/* A token valid for lifetime_ms (usable for usable_ms) arrived. */
void	 tokpolicy_succeeded(struct tokpolicy *, long long now_ms,
	    long long lifetime_ms, long long usable_ms, unsigned rnd);
/* An API 401 for a token of generation gen obtained at obtained_ms. */
enum tokpolicy_401 tokpolicy_rejected(struct tokpolicy *, unsigned gen,
	    long long obtained_ms, long long now_ms, unsigned rnd);
/* An API call with a token got an answer other than 401. */
void	 tokpolicy_accepted(struct tokpolicy *);
/* Milliseconds until the policy wants attention, at most cap_ms. */
long	 tokpolicy_next_ms(const struct tokpolicy *, int have_token,
	    long long now_ms, long cap_ms);

/* ---- the source ---- */

struct tokensrc	*tokensrc_new(enum backend_id, const struct gw_config *);
/* Removes its transfer from multi (may be NULL) and frees everything. */
void		 tokensrc_free(struct tokensrc *, CURLM *multi);

/* The token to send now, or NULL. */
struct token	*tokensrc_token(struct tokensrc *);
void		 token_ref(struct token *);
void		 token_unref(struct token *);
/* "Authorization: Bearer <token>": for curl's header list only. */
const char	*token_header(const struct token *);

/* Mark the source as needed: from now on it keeps a token fresh. */
void		 tokensrc_use(struct tokensrc *);
/* Park a job until the token request completes (linked through wnext). */
void		 tokensrc_park(struct tokensrc *, struct job *);
/* Remove a parked job (client gone); 1 when it was parked here. */
int		 tokensrc_unpark(struct tokensrc *, struct job *);
/* The first parked job, to walk (wnext) without taking them. */
struct job	*tokensrc_waiters(const struct tokensrc *);
/* Take every parked job (shutdown, or after a token request). */
struct job	*tokensrc_take_waiters(struct tokensrc *);
/* 1 when a job without a token should get a 503 now. */
int		 tokensrc_backing_off(const struct tokensrc *, long long now_ms);
/* Start a token request on multi when one is due. -1 when the request
 * could not be built (cred_req_build: e.g. no federated token file): that
 * is a failed token request, backed off; the caller takes the waiters. */
int		 tokensrc_poll(struct tokensrc *, CURLM *multi,
		    long long now_ms);
/* 1 when e is this source's token transfer. */
int		 tokensrc_owns(const struct tokensrc *, const CURL *e);
/* The token transfer e finished with res: record the outcome. The parked
 * jobs are left for the caller to take (tokensrc_take_waiters). */
void		 tokensrc_finished(struct tokensrc *, CURLM *multi,
		    CURLcode res);
long		 tokensrc_next_ms(const struct tokensrc *, long long now_ms,
		    long cap_ms);
/* The API answered 401 (or not) to a request sent with tok. */
enum tokpolicy_401 tokensrc_rejected(struct tokensrc *, struct token *tok,
		    long long now_ms);
void		 tokensrc_accepted(struct tokensrc *);
/* Why there is no token, for a 503: message and seconds to wait. */
void		 tokensrc_unavailable(const struct tokensrc *, char *msg,
		    size_t msglen, long *retry_after_s);
/* SIGHUP: new settings; retry at once; drop the token when the identity
 * or the audience changed. cf must outlive the source's use of it. */
void		 tokensrc_reload(struct tokensrc *, const struct gw_config *,
		    int identity_changed);

/* ---- any thread ---- */

/* A copy of the view; free its claims with tokensrc_view_free(). */
void		 tokensrc_view(struct tokensrc *, struct token_view *);
void		 tokensrc_view_free(struct token_view *);
/* 1 while the source holds a token that may be sent. */
int		 tokensrc_ready(const struct tokensrc *);
/* The hunting selection input (hunting.h) from this source's token; *failed
 * is set when the last token request failed. */
enum hunting_graph tokensrc_graph_state(struct tokensrc *, int *failed);
const char	*tokensrc_state_name(enum token_state);

#endif

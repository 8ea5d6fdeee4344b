/*
 * token.c: the token cache and its refresh policy. Back thread only.
 *
 * Holds at most one current token (refcounted, so jobs in flight keep the
 * one they were started with), decides when to refresh (ahead of expiry,
 * ~80% of the lifetime with jitter), backs off after failures (exponential,
 * jitter, Retry-After honoured), and publishes a read-only view for the
 * status page. The token transfer itself is run by upstream.c.
 */
#ifndef DEFGATE_TOKEN_H
#define DEFGATE_TOKEN_H

#include "oauth.h"

struct gw_config;
struct token;
struct token_cache;

struct token_cache	*token_cache_new(const struct gw_config *);
void			 token_cache_free(struct token_cache *);

/* The current token when it may still be sent at now, else NULL. */
struct token		*token_current(struct token_cache *, long long now);
void			 token_ref(struct token *);
void			 token_unref(struct token *);
/* "Authorization: Bearer <token>": for curl's header list only. */
const char		*token_header(const struct token *);
unsigned		 token_generation(const struct token *);

/* 1 when a token request should start now (none in flight). */
int			 token_refresh_due(struct token_cache *, long long now);
int			 token_refreshing(const struct token_cache *);
/* 1 when there is no usable token and the next attempt is not yet due. */
int			 token_backing_off(const struct token_cache *);
/* Milliseconds until the cache wants attention (capped at cap_ms). */
long			 token_next_event_ms(const struct token_cache *,
			    long long now_ms, long cap_ms);
void			 token_refresh_started(struct token_cache *);
/*
 * Record the outcome of a token request. transport_err is a curl error text
 * when there was no HTTP answer. Returns 0 when a new token is current.
 */
int			 token_refresh_finished(struct token_cache *,
			    long http_status, const char *body, size_t len,
			    long retry_after, const char *transport_err);
/* A token request that could not even be sent (e.g. no federated token). */
int			 token_refresh_failed(struct token_cache *,
			    const struct oauth_error *);
/* An upstream 401 for a token of this generation: drop it. */
void			 token_invalidate(struct token_cache *, unsigned gen);
/*
 * The configuration was reloaded: retry at once instead of waiting out a
 * backoff, and drop the token when it belongs to another identity.
 */
void			 token_config_changed(struct token_cache *,
			    const struct gw_config *, int identity_changed);
/* The last failure, or NULL. */
const struct oauth_error *token_last_error(const struct token_cache *);

#endif

/*
 * status.c: what /status.json and the status page show.
 *
 * Counters are C11 atomics, bumped by the front thread (requests) and the
 * back thread (upstream latency). The token view is written by the back
 * thread (status_token_publish) and read by the front thread under a small
 * mutex; it never holds the token itself.
 */
#ifndef DEFGATE_STATUS_H
#define DEFGATE_STATUS_H

#include "jwt.h"
#include "oauth.h"
#include "router.h"

struct gw_config;

enum token_state {
	TOKEN_NONE = 0,		/* never fetched */
	TOKEN_VALID,
	TOKEN_REFRESHING,	/* a token request is in flight */
	TOKEN_EXPIRED,
	TOKEN_ERROR		/* no valid token, last attempt failed */
};

struct token_view {
	enum token_state	 state;
	int			 have_claims;
	struct jwt_claims	 claims;	/* owned by the view */
	long long		 expires_at;
	long long		 usable_until;	/* expires_at minus margin */
	long long		 obtained_at;
	long long		 next_refresh_at;
	unsigned long		 refreshes;	/* successful token requests */
	unsigned long		 failures;	/* failed token requests */
	int			 have_error;
	struct oauth_error	 last_error;
};

void	 status_init(const struct gw_config *, int demo);
/* Main thread, after SIGHUP: the config shown on the status page. */
void	 status_set_config(const struct gw_config *);
void	 status_cleanup(void);
/* Back thread: replace the published view (claims are deep-copied). */
void	 status_token_publish(const struct token_view *);
/* Any thread: 1 while a valid token is held. */
int	 status_token_ready(void);
/* Front thread: a copy of the last token error (0 if none). */
int	 status_token_error(struct oauth_error *);
/* Front thread: count a finished request. */
void	 status_count(enum route_id, unsigned int http_status);
/* Back thread: one upstream API exchange took ms. */
void	 status_upstream(long long ms, long http_status);
/* Back thread: remember the last 403 "Missing application roles" text. */
void	 status_forbidden(const char *msg, size_t len);
/* Front thread: render /status.json; malloc'd, caller frees. */
char	*status_render_json(size_t *len);
const char *status_state_name(enum token_state);

/* The routes table: which roles each route needs (any of them). */
struct status_route {
	const char	*method, *path, *upstream;
	const char	*requires[2];
	int		 write;
};
extern const struct status_route status_routes[];
extern const int status_nroutes;
/* 1 when the claims grant one of the route's roles. */
int	 status_route_allowed(const struct status_route *,
	    const struct jwt_claims *);

#endif

/*
 * status.c: what /status, /status.json, /readyz and the log's view of the
 * gateway show. Two parts, both read-only towards the rest:
 *  - counters: C11 atomics bumped by the front threads (requests) and the
 *    back thread (upstream latency, last 403 text under a small mutex);
 *  - views: rendered on demand from the route table (routes.h), the
 *    token sources' views (tokensrc_view), the hunting selection
 *    (hunting.h) and the front's pool size (status_set_threads). Nothing
 *    pushes token state into status.c.
 *  - the quota card ("quota" in /status.json): per quota group the
 *    upstream calls made in the last minute and hour (quota.h, fed here by
 *    status_upstream) against the limits, the closure by an upstream 429,
 *    the calls left, the requests answered without an upstream call
 *    (status_answered), and the cache's size and hit ratio. Every number
 *    comes from the same counters as /metrics (telemetry.c).
 * status_init/set_config/set_sources/cleanup: main thread. Rendering and
 * status_ready: front threads (any thread is safe, several at once).
 */
#ifndef DEFGATE_STATUS_H
#define DEFGATE_STATUS_H

#include <stddef.h>

#include "backend.h"
#include "jwt.h"

struct gw_config;
struct route;
struct tokensrc;

void	 status_init(const struct gw_config *, int demo);
/* Main thread, after SIGHUP: the config shown (takes a reference). */
void	 status_set_config(const struct gw_config *);
/* Main thread, once the front runs: its worker count (httpd_threads). */
void	 status_set_threads(unsigned int);
/* Main thread: the token sources to show (valid until status_cleanup). */
void	 status_set_sources(struct tokensrc *const src[BACKEND__COUNT]);
void	 status_cleanup(void);
/* Front threads: count a finished request of route row id (-1: none). */
void	 status_count(int id, unsigned int http_status);
/*
 * Front thread, a finished request of route row id: its cache result
 * (enum steward_cache), the status answered and whether it had a job
 * (went upstream). Counted per quota group for the card.
 */
void	 status_answered(int id, int cache, unsigned int http_status,
	    int upstream);
/*
 * Back thread: one upstream API exchange of route row id took ms; it is
 * also counted as a call made of the row's quota group (quota_called). A 2xx
 * clears the last 403 when it was on the same route. http_status 0: no
 * answer (transport failure).
 */
void	 status_upstream(int id, long long ms, long http_status);
/* Back thread: remember the last 403 "Missing application roles" text,
 * its route row and when. */
void	 status_forbidden(int id, const char *msg, size_t len);
/*
 * /readyz: 1 when the Defender XDR token is valid and, when /hunting is
 * served by Graph, the Graph token too. Otherwise 0 and why in msg.
 */
int	 status_ready(char *msg, size_t msglen);
/* Render /status.json; malloc'd, caller frees. */
char	*status_render_json(size_t *len);
/* 1 when the claims grant one of the roles (NULL-ended). */
int	 status_roles_ok(const char *const *roles, const struct jwt_claims *);

#endif

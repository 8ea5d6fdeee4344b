/*
 * status.c: what /status, /status.json, /readyz and the log's view of the
 * gateway show. Two parts, both read-only towards the rest:
 *  - counters: C11 atomics bumped by the front threads (requests) and the
 *    back thread (upstream latency, last 403 text under a small mutex);
 *  - views: rendered on demand from the route table (routes.h), the
 *    token sources' views (tokensrc_view) and the hunting selection
 *    (hunting.h). Nothing pushes token state into status.c.
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
/* Main thread: the token sources to show (valid until status_cleanup). */
void	 status_set_sources(struct tokensrc *const src[BACKEND__COUNT]);
void	 status_cleanup(void);
/* Front threads: count a finished request of route row id (-1: none). */
void	 status_count(int id, unsigned int http_status);
/*
 * Back thread: one upstream API exchange of route row id took ms. A 2xx
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

/*
 * upstream.c: the back thread. It owns the only curl multi handle, its
 * inbox and every transfer: API calls, and the token requests of the token
 * sources (tokensrc.h), which it polls and whose waiting jobs it starts.
 * One thread owning all of it is what makes connection reuse, HTTP/2
 * multiplexing and single-flight token requests lock-free. Other threads
 * talk to it only through the functions below, which post to its inbox and
 * wake it with curl_multi_wakeup().
 *
 * The back thread resolves each job's backend (the hunting selection,
 * hunting.h, for hunting rows), builds its URL from the configuration and
 * the route table, and reshapes Graph hunting answers (huntshape.h).
 */
#ifndef DEFGATE_UPSTREAM_H
#define DEFGATE_UPSTREAM_H

#include "backend.h"

struct gw_config;
struct job;
struct tokensrc;
struct upstream;

/* Any thread, on its own handle: the security and timeout settings every
 * defgate transfer uses (https only, verification on, no redirects). */
void		 upstream_easy_common(const struct gw_config *, void *curl);
/* Main thread: create the multi handle, the token sources and start the
 * back thread. Takes a reference on cf (cfgref.h). */
struct upstream	*upstream_start(const struct gw_config *);
/* The token source of a backend: for the status view (tokensrc_view and
 * other any-thread functions only). Valid until upstream_free(). */
struct tokensrc	*upstream_tokensrc(struct upstream *, enum backend_id);
/* Any thread: hand a job over (the front suspended its connection first). */
void		 upstream_submit(struct upstream *, struct job *);
/* Front thread: the client drained some buffer; resume a paused transfer. */
void		 upstream_unpause(struct upstream *, struct job *);
/* Front thread: the request is gone; stop its transfer. */
void		 upstream_cancel(struct upstream *, struct job *);
/* Main thread: fail what is left with 503 and stop the thread. */
void		 upstream_stop(struct upstream *);
/* Main thread, after upstream_stop() and httpd_stop(): free everything. */
void		 upstream_free(struct upstream *);
/* Main thread: replace the config (SIGHUP); takes effect for new work.
 * Takes a reference on cf and drops the old one when done with it. */
void		 upstream_reload(struct upstream *, const struct gw_config *);

#endif

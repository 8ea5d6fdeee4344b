/*
 * upstream.c: the back thread. It owns the only curl multi handle, every
 * transfer (API calls and token requests) and the token cache, so
 * connection reuse, HTTP/2 multiplexing and single-flight token refresh
 * need no locks. Other threads talk to it only through the functions
 * below, which post to its inbox and wake it with curl_multi_wakeup().
 */
#ifndef DEFGATE_UPSTREAM_H
#define DEFGATE_UPSTREAM_H

struct gw_config;
struct job;
struct upstream;

/* Any thread, on its own handle: the security and timeout settings every
 * defgate transfer uses (https only, verification on, no redirects). */
void		 upstream_easy_common(const struct gw_config *, void *curl);
/* Main thread: create the multi handle and start the back thread. */
struct upstream	*upstream_start(const struct gw_config *);
/* Any thread: hand a job over (the front suspended its connection first). */
void		 upstream_submit(struct upstream *, struct job *);
/* Front thread: the client drained some buffer; resume a paused transfer. */
void		 upstream_unpause(struct upstream *, struct job *);
/* Front thread: the request is gone; stop its transfer. */
void		 upstream_cancel(struct upstream *, struct job *);
/* Main thread: fail what is left with 503, stop the thread, free all. */
void		 upstream_stop(struct upstream *);
/* Main thread: replace the config (SIGHUP); takes effect for new work. */
void		 upstream_reload(struct upstream *, const struct gw_config *);

#endif

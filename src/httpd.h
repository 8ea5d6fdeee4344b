/*
 * httpd.c: the front threads. One libmicrohttpd daemon in internal poll
 * mode with suspend/resume and a pool of `threads` workers; routes
 * requests, answers local endpoints (status page, health) and cache hits
 * itself and hands forwarded ones to proxy.c.
 * httpd_start/quiesce/stop/set_config are called from the main thread;
 * everything else in httpd.c runs on one of MHD's workers, several at
 * once. A connection is served by one worker for its whole life (the one
 * that accepted it): every callback for it runs there, so suspending it
 * from a callback is legal; resuming it is legal from any thread.
 */
#ifndef DEFGATE_HTTPD_H
#define DEFGATE_HTTPD_H

struct gw_config;
struct upstream;

int		 httpd_start(const struct gw_config *, struct upstream *);
/* The port actually bound (useful with port 0). */
unsigned short	 httpd_port(void);
/* The number of front worker threads actually started. */
unsigned int	 httpd_threads(void);
/* Stop accepting new connections; in-flight requests continue. */
void		 httpd_quiesce(void);
/* Requests received but not yet completed. */
int		 httpd_inflight(void);
/* Requests received since start (any thread; a relaxed count). */
unsigned long	 httpd_received(void);
void		 httpd_stop(void);
/* SIGHUP: new requests see the new config; the old one stays allocated. */
void		 httpd_set_config(const struct gw_config *);
/* Any thread: the configuration new requests are served with, with a
 * reference for the caller (cfgref_put). */
const struct gw_config *httpd_config_get(void);

#endif

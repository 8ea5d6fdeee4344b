/*
 * httpd.c: the front thread. One libmicrohttpd daemon in internal poll
 * mode with suspend/resume; routes requests, answers local endpoints
 * (status page, health) itself and hands forwarded ones to proxy.c.
 * httpd_start/quiesce/stop/set_config are called from the main thread;
 * everything else in httpd.c runs on MHD's thread.
 */
#ifndef DEFGATE_HTTPD_H
#define DEFGATE_HTTPD_H

struct gw_config;
struct upstream;

int		 httpd_start(const struct gw_config *, struct upstream *);
/* The port actually bound (useful with port 0). */
unsigned short	 httpd_port(void);
/* Stop accepting new connections; in-flight requests continue. */
void		 httpd_quiesce(void);
/* Requests received but not yet completed. */
int		 httpd_inflight(void);
void		 httpd_stop(void);
/* SIGHUP: new requests see the new config; the old one stays allocated. */
void		 httpd_set_config(const struct gw_config *);
/* Front thread: the configuration requests are served with now. */
const struct gw_config *httpd_config_get(void);

#endif

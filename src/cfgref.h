/*
 * cfgref.c: reference counts on configurations, so that SIGHUP can
 * replace the configuration any number of times while requests still read
 * the one they started with. The last cfgref_put() frees it (and wipes the
 * secret, config_free()).
 *
 * Owners of a reference: main.c (the current one), httpd.c (the one new
 * requests get), each request (from its first callback to completion),
 * status.c and the back thread (upstream.c). Any thread.
 */
#ifndef DEFGATE_CFGREF_H
#define DEFGATE_CFGREF_H

#include <pthread.h>

struct gw_config;

/* A zeroed config with one reference (the caller's). */
struct gw_config	*cfgref_alloc(void);
/* Take a reference; returns cf. NULL is fine. */
const struct gw_config	*cfgref_get(const struct gw_config *);
/* Drop a reference; the last one frees. NULL is fine. */
void			 cfgref_put(const struct gw_config *);
/* Under mu: make *slot cf (a new reference) and drop the old one's
 * reference after unlocking. cf may be NULL (release). */
void			 cfgref_swap(pthread_mutex_t *mu,
			    const struct gw_config **slot,
			    const struct gw_config *cf);
/* Configurations allocated and not yet freed (for tests and the log). */
int			 cfgref_live(void);

#endif

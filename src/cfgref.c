/*
 * cfgref.c: refcounted configurations (see cfgref.h).
 */
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "cfgref.h"
#include "config.h"
#include "util.h"

struct cfgref {
	atomic_int		 refs;
	struct gw_config	 cf;
};

static atomic_int live;

static struct cfgref *
outer(const struct gw_config *cf)
{
	return ((struct cfgref *)(void *)((char *)(uintptr_t)cf -
	    offsetof(struct cfgref, cf)));
}

struct gw_config *
cfgref_alloc(void)
{
	struct cfgref *r = xcalloc(1, sizeof(*r));

	atomic_init(&r->refs, 1);
	atomic_fetch_add(&live, 1);
	return (&r->cf);
}

const struct gw_config *
cfgref_get(const struct gw_config *cf)
{
	if (cf != NULL)
		atomic_fetch_add(&outer(cf)->refs, 1);
	return (cf);
}

void
cfgref_put(const struct gw_config *cf)
{
	struct cfgref *r;

	if (cf == NULL)
		return;
	r = outer(cf);
	if (atomic_fetch_sub(&r->refs, 1) != 1)
		return;
	config_free(&r->cf);
	free(r);
	atomic_fetch_sub(&live, 1);
}

int
cfgref_live(void)
{
	return (atomic_load(&live));
}

void
cfgref_swap(pthread_mutex_t *mu, const struct gw_config **slot,
    const struct gw_config *cf)
{
	const struct gw_config *old;

	cfgref_get(cf);
	pthread_mutex_lock(mu);
	old = *slot;
	*slot = cf;
	pthread_mutex_unlock(mu);
	cfgref_put(old);
}

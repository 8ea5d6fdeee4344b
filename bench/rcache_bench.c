/*
 * rcache_bench.c: the cost of a response cache lookup (src/rcache.c), the
 * work a cache hit does before MHD sends the body: build the key, find the
 * entry, take and drop a reference. Not a test: it prints numbers.
 *
 *	build/bench/rcache_bench [threads] [seconds]
 *
 * 1,000 entries with realistic keys (~80 bytes) and 8 KiB bodies; every
 * thread looks up random keys for the given time. Prints lookups per second
 * per thread and in total, and ns per lookup, with the key built on each
 * lookup (snprintf of the path + rcache_key, as the front does) and with
 * prebuilt keys (the table and lock alone).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rcache.h"

#define NKEYS	1000
#define BODY	8192

static struct rcache	*c;
static atomic_int	 stop;
static int		 prebuilt;
static char		 keys[NKEYS][128];
static size_t		 keylens[NKEYS];
static double		 seconds = 2.0;

static const char *aud = "https://api.security.microsoft.com";

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

static void *
worker(void *arg)
{
	unsigned long		*count = arg;
	unsigned		 seed = (unsigned)(size_t)count;
	char			 path[64], key[256];
	struct rcache_entry	*e;
	unsigned long		 n = 0;

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		int	 pl;
		long	 kl;

		seed = seed * 1103515245u + 12345u;
		if (prebuilt) {
			unsigned i = (seed >> 8) % NKEYS;

			if (rcache_lookup(c, keys[i], keylens[i], 0, &e) !=
			    RCACHE_FRESH)
				abort();
			rcache_entry_unref(e);
			n++;
			continue;
		}
		pl = snprintf(path, sizeof(path), "/api/incidents/%u?$expand="
		    "alerts", (seed >> 8) % NKEYS);
		kl = rcache_key(key, sizeof(key), aud, path, (size_t)pl,
		    "incident");
		if (rcache_lookup(c, key, (size_t)kl, 0, &e) != RCACHE_FRESH)
			abort();
		rcache_entry_unref(e);
		n++;
	}
	*count = n;
	return (NULL);
}

int
main(int argc, char **argv)
{
	int			 nth = argc > 1 ? atoi(argv[1]) : 1;
	static unsigned long	 counts[64];
	pthread_t		 th[64];
	char			*body = malloc(BODY);
	char			 path[64], key[256];
	unsigned long		 total = 0;
	double			 t0, dt;

	if (argc > 2)
		seconds = atof(argv[2]);
	if (nth < 1 || nth > 64 || body == NULL)
		return (2);
	memset(body, 'x', BODY);
	c = rcache_new(64u << 20, 10, 0);
	for (int i = 0; i < NKEYS; i++) {
		int pl = snprintf(path, sizeof(path),
		    "/api/incidents/%d?$expand=alerts", i);
		long kl = rcache_key(key, sizeof(key), aud, path, (size_t)pl,
		    "incident");
		struct rcache_entry *e;

		memcpy(keys[i], key, (size_t)kl);
		keylens[i] = (size_t)kl;
		e = rcache_entry_new(key, (size_t)kl,
		    body, BODY, NULL, 0, 0, 1000000);

		if (e == NULL || rcache_insert(c, e, rcache_gen(c)) != 0)
			return (1);
	}
	for (prebuilt = 0; prebuilt < 2; prebuilt++) {
		total = 0;
		atomic_store(&stop, 0);
		t0 = now_s();
		for (int i = 0; i < nth; i++)
			pthread_create(&th[i], NULL, worker, &counts[i]);
		while (now_s() - t0 < seconds) {
			struct timespec ts = { 0, 50 * 1000 * 1000 };

			nanosleep(&ts, NULL);
		}
		atomic_store(&stop, 1);
		for (int i = 0; i < nth; i++) {
			pthread_join(th[i], NULL);
			total += counts[i];
		}
		dt = now_s() - t0;
		printf("%s, threads %d: %.0f lookups/s total, %.0f per thread, "
		    "%.0f ns per lookup (per thread)\n", prebuilt ?
		    "prebuilt keys" : "key built per lookup", nth,
		    (double)total / dt, (double)total / dt / nth,
		    dt * 1e9 * nth / (double)total);
	}
	rcache_free(c);
	free(body);
	return (0);
}

/*
 * telemetry.c: counters and the /metrics exposition (see telemetry.h).
 *
 * Status codes are counted in a fixed table of the codes defgate answers
 * or passes on, plus "other": the series set stays small and bounded
 * whatever the upstream sends. Rows of the route table that share a name
 * (GET and POST /hunting) are summed into one series.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "httpd.h"
#include "metrics.h"
#include "quota.h"
#include "rcache.h"
#include "router.h"
#include "routes.h"
#include "steward.h"
#include "telemetry.h"
#include "tokensrc.h"
#include "util.h"

#define TEL_MAX_TEXT	(1024 * 1024)

static const unsigned codes[] = { 0, 200, 201, 204, 206, 304, 400, 401, 403,
    404, 405, 408, 409, 410, 413, 414, 415, 429, 431, 500, 501, 502, 503,
    504 };
#define NCODES	((int)(sizeof(codes) / sizeof(codes[0])) + 1)	/* + other */

/* latency buckets, seconds: 0.5 ms to the 200 s upstream timeout */
static const double lat_le[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01,
    0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 200 };

static struct {
	atomic_ulong		 req[ROUTES_MAX + 1][NCODES][ST_CACHE__COUNT];
	atomic_ulong		 up[BACKEND__COUNT][NCODES];
	struct metrics_hist	 lat;
	atomic_long		 queued;
	struct tokensrc		*src[BACKEND__COUNT];
} tel;

void
telemetry_upstream_queued(long n)
{
	atomic_store(&tel.queued, n);
}

static int
code_index(long status)
{
	for (int i = 0; i < NCODES - 1; i++)
		if ((long)codes[i] == status)
			return (i);
	return (NCODES - 1);
}

static const char *
code_label(int i, char *out, size_t n)
{
	if (i == NCODES - 1)
		return ("other");
	snprintf(out, n, "%u", codes[i]);
	return (out);
}

static pthread_once_t lat_once = PTHREAD_ONCE_INIT;

static void
lat_init(void)
{
	(void)metrics_hist_init(&tel.lat, lat_le,
	    (int)(sizeof(lat_le) / sizeof(lat_le[0])));
}

/* The latency histogram, set up by its first user; all atomics after. */
static struct metrics_hist *
lat_hist(void)
{
	pthread_once(&lat_once, lat_init);
	return (&tel.lat);
}

void
telemetry_set_sources(struct tokensrc *const src[BACKEND__COUNT])
{
	for (int b = 0; b < BACKEND__COUNT; b++)
		tel.src[b] = src[b];
	(void)lat_hist();
}

void
telemetry_request(int id, unsigned status, int cache, long long ms)
{
	int row = id >= 0 && id < nroutes ? id : ROUTES_MAX;

	if ((unsigned)cache >= ST_CACHE__COUNT)
		cache = ST_CACHE_NONE;
	atomic_fetch_add_explicit(&tel.req[row][code_index(status)][cache], 1,
	    memory_order_relaxed);
	metrics_hist_observe_us(lat_hist(), ms * 1000);
}

void
telemetry_upstream(enum backend_id b, long status)
{
	if ((unsigned)b < BACKEND__COUNT)
		atomic_fetch_add_explicit(&tel.up[b][code_index(status)], 1,
		    memory_order_relaxed);
}

/* ---- rendering ---- */

static unsigned long
req_sum(int row, int code, int cache)
{
	unsigned long n = 0;

	if (row == ROUTES_MAX)
		return (atomic_load(&tel.req[ROUTES_MAX][code][cache]));
	/* every row with this row's name; counted at its first row only */
	for (int k = 0; k < nroutes; k++)
		if (strcmp(routes[k].name, routes[row].name) == 0) {
			if (k < row)
				return (0);
			n += atomic_load(&tel.req[k][code][cache]);
		}
	return (n);
}

static int
render_requests(struct buf *b)
{
	char	 cl[16];
	int	 r = 0;

	r |= metrics_family(b, "defgate_requests_total", METRICS_COUNTER,
	    "Requests answered, by route, HTTP status and cache result "
	    "(none: not a cached route or the cache is off).");
	for (int row = 0; row <= nroutes; row++) {
		int id = row == nroutes ? ROUTES_MAX : row;

		for (int c = 0; c < NCODES; c++)
			for (int k = 0; k < ST_CACHE__COUNT; k++) {
				unsigned long	 n = req_sum(id, c, k);
				const char	*l[] = { "route", id ==
				    ROUTES_MAX ? "other" : routes[id].name,
				    "status", code_label(c, cl, sizeof(cl)),
				    "cache", steward_cache_name(k), NULL };

				if (n > 0)
					r |= metrics_u64(b,
					    "defgate_requests_total", l, n);
			}
	}
	r |= metrics_family(b, "defgate_request_duration_seconds",
	    METRICS_HISTOGRAM, "Time from a request's first byte to its "
	    "answer being queued (streamed bodies: to their headers).");
	r |= metrics_hist(b, "defgate_request_duration_seconds", NULL,
	    lat_hist());
	r |= metrics_family(b, "defgate_requests_in_flight", METRICS_GAUGE,
	    "Requests being answered now.");
	r |= metrics_u64(b, "defgate_requests_in_flight", NULL,
	    (unsigned long long)httpd_inflight());
	r |= metrics_family(b, "defgate_upstream_queued", METRICS_GAUGE,
	    "Requests waiting for a free upstream connection.");
	r |= metrics_u64(b, "defgate_upstream_queued", NULL,
	    (unsigned long long)atomic_load(&tel.queued));
	return (r);
}

/* One family over the token sources' views: all requests or failures. */
static int
render_tokens(struct buf *b, const struct gw_config *cf, const char *name,
    const char *help, int failures)
{
	int r = metrics_family(b, name, METRICS_COUNTER, help);

	for (int be = 0; be < BACKEND__COUNT; be++) {
		struct token_view	 v;
		const char		*l[] = { "backend", backend_name(be),
		    "audience", backend_scope(cf, be), NULL };

		if (tel.src[be] == NULL)
			continue;
		tokensrc_view(tel.src[be], &v);
		r |= metrics_u64(b, name, l, failures ? v.failures :
		    v.refreshes + v.failures);
		tokensrc_view_free(&v);
	}
	return (r);
}

static int
render_upstream(struct buf *b, const struct gw_config *cf)
{
	char	 cl[16];
	int	 r = 0;

	r |= metrics_family(b, "defgate_upstream_calls_total",
	    METRICS_COUNTER, "Calls to the upstream APIs, by backend and "
	    "HTTP status (0: no answer: timeout, reset, TLS).");
	for (int be = 0; be < BACKEND__COUNT; be++)
		for (int c = 0; c < NCODES; c++) {
			unsigned long	 n = atomic_load(&tel.up[be][c]);
			const char	*l[] = { "backend", backend_name(be),
			    "status", code_label(c, cl, sizeof(cl)), NULL };

			if (n > 0)
				r |= metrics_u64(b,
				    "defgate_upstream_calls_total", l, n);
		}
	r |= render_tokens(b, cf, "defgate_token_requests_total", "Token "
	    "requests to Entra ID, by backend and audience (the scope asked "
	    "for).", 0);
	r |= render_tokens(b, cf, "defgate_token_failures_total", "Token "
	    "requests that failed, by backend and audience.", 1);
	return (r);
}

static int
render_quota(struct buf *b)
{
	static const char *const wname[QUOTA__WINDOWS] = { "minute", "hour" };
	struct quota		*q = steward_quota();
	struct quota_view	 v[QUOTA__COUNT];
	long long		 now = util_mono_ms();
	int			 r = 0;

	if (q == NULL)
		return (0);
	for (int g = 0; g < QUOTA__COUNT; g++)
		quota_view(q, g, now, &v[g]);
	r |= metrics_family(b, "defgate_quota_remaining", METRICS_GAUGE,
	    "Upstream calls left in the window before defgate answers 429 "
	    "itself, by quota group (-1: no limit).");
	for (int g = 0; g < QUOTA__COUNT; g++)
		for (int w = 0; w < QUOTA__WINDOWS; w++) {
			const char *l[] = { "group", quota_group_name(g),
			    "window", wname[w], NULL };

			r |= metrics_f64(b, "defgate_quota_remaining", l,
			    (double)v[g].remaining[w]);
		}
	r |= metrics_family(b, "defgate_quota_calls", METRICS_GAUGE,
	    "Upstream calls made in the last minute and hour (the current "
	    "second or minute and the 59 before), by quota group.");
	for (int g = 0; g < QUOTA__COUNT; g++)
		for (int w = 0; w < QUOTA__WINDOWS; w++) {
			const char *l[] = { "group", quota_group_name(g),
			    "window", wname[w], NULL };

			r |= metrics_u64(b, "defgate_quota_calls", l,
			    v[g].made[w]);
		}
	r |= metrics_family(b, "defgate_quota_denied_total", METRICS_COUNTER,
	    "Requests defgate did not send upstream because the group's "
	    "quota was used up or closed.");
	for (int g = 0; g < QUOTA__COUNT; g++) {
		const char *l[] = { "group", quota_group_name(g), NULL };

		r |= metrics_u64(b, "defgate_quota_denied_total", l,
		    v[g].denied);
	}
	r |= metrics_family(b, "defgate_quota_throttled_total",
	    METRICS_COUNTER, "Upstream 429 answers, by quota group.");
	for (int g = 0; g < QUOTA__COUNT; g++) {
		const char *l[] = { "group", quota_group_name(g), NULL };

		r |= metrics_u64(b, "defgate_quota_throttled_total", l,
		    v[g].throttled);
	}
	r |= metrics_family(b, "defgate_quota_closed_seconds", METRICS_GAUGE,
	    "Seconds until an upstream 429's Retry-After ends (0: open).");
	for (int g = 0; g < QUOTA__COUNT; g++) {
		const char *l[] = { "group", quota_group_name(g), NULL };

		r |= metrics_f64(b, "defgate_quota_closed_seconds", l,
		    (double)v[g].closed_ms / 1000);
	}
	return (r);
}

static int
render_cache(struct buf *b)
{
	static const struct {
		const char		*name;
		enum metrics_type	 type;
		const char		*help;
		size_t			 off;
	} f[] = {
#define CS(m)	offsetof(struct rcache_stats, m)
		{ "defgate_cache_entries", METRICS_GAUGE,
		  "Answers in the response cache.", CS(entries) },
		{ "defgate_cache_bytes", METRICS_GAUGE,
		  "Bytes the response cache holds (cache_max_bytes bounds it).",
		  CS(bytes) },
		{ "defgate_cache_max_bytes", METRICS_GAUGE,
		  "cache_max_bytes.", CS(max_bytes) },
		{ "defgate_cache_hits_total", METRICS_COUNTER,
		  "Fresh cached answers served.", CS(hits) },
		{ "defgate_cache_misses_total", METRICS_COUNTER,
		  "Lookups without a fresh answer.", CS(misses) },
		{ "defgate_cache_stale_total", METRICS_COUNTER,
		  "Stale answers served (quota used up, upstream error).",
		  CS(stale) },
		{ "defgate_cache_evictions_total", METRICS_COUNTER,
		  "Answers evicted to stay within cache_max_bytes.",
		  CS(evictions) },
#undef CS
	};
	struct rcache		*c = steward_cache();
	struct rcache_stats	 s;
	int			 r = 0;

	if (c == NULL)
		return (0);
	rcache_stats(c, &s);
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		r |= metrics_family(b, f[i].name, f[i].type, f[i].help);
		r |= metrics_u64(b, f[i].name, NULL, *(const unsigned long *)
		    (const void *)((const char *)&s + f[i].off));
	}
	return (r);
}

char *
telemetry_render(const struct gw_config *cf, size_t *len)
{
	struct buf	 b;
	int		 r = 0;

	buf_init(&b, TEL_MAX_TEXT);
	r |= render_requests(&b);
	r |= render_upstream(&b, cf);
	r |= render_quota(&b);
	r |= render_cache(&b);
	if (r != 0) {
		buf_free(&b);
		return (NULL);
	}
	return (buf_take(&b, len));
}

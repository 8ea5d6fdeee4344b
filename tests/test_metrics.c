/*
 * test_metrics.c: the Prometheus text renderer (src/metrics.c).
 *
 *	test_metrics		TAP unit tests: exact output, escaping, names,
 *				number spellings, histogram buckets
 *	test_metrics --sample	prints a realistic exposition (every family
 *				GET /metrics serves, with awkward label
 *				values) for tests/t90_metrics.sh to give to
 *				promtool check metrics
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "metrics.h"
#include "tap.h"

static void
test_plain(void)
{
	struct buf		 b;
	const char *const	 l[] = { "route", "incidents", "status", "200",
	    NULL };

	buf_init(&b, 4096);
	is_int(metrics_family(&b, "defgate_requests_total", METRICS_COUNTER,
	    "Requests answered."), 0, "family");
	is_int(metrics_u64(&b, "defgate_requests_total", l, 42), 0, "sample");
	is_int(metrics_u64(&b, "defgate_up", NULL, 1), 0, "no labels");
	is_str(b.data, "# HELP defgate_requests_total Requests answered.\n"
	    "# TYPE defgate_requests_total counter\n"
	    "defgate_requests_total{route=\"incidents\",status=\"200\"} 42\n"
	    "defgate_up 1\n", "exact text");
	buf_reset(&b);

	is_int(metrics_family(&b, "g", METRICS_GAUGE, "a \\ and a\nnewline "
	    "and \"quotes\""), 0, "HELP escaping");
	is_str(b.data, "# HELP g a \\\\ and a\\nnewline and \"quotes\"\n"
	    "# TYPE g gauge\n", "HELP escapes \\ and newline, not quotes");
	buf_reset(&b);
	{
		const char *const lv[] = { "v", "a\"b\\c\nd", NULL };

		is_int(metrics_u64(&b, "m", lv, 0), 0, "label escaping");
		is_str(b.data, "m{v=\"a\\\"b\\\\c\\nd\"} 0\n",
		    "label values escape \", \\ and newline");
	}
	buf_reset(&b);

	is_int(metrics_f64(&b, "f", NULL, 0.25), 0, "double");
	is_int(metrics_f64(&b, "f", NULL, 0.1), 0, "0.1");
	is_int(metrics_f64(&b, "f", NULL, 1e21), 0, "1e21");
	is_int(metrics_f64(&b, "f", NULL, INFINITY), 0, "+Inf");
	is_int(metrics_f64(&b, "f", NULL, -INFINITY), 0, "-Inf");
	is_int(metrics_f64(&b, "f", NULL, NAN), 0, "NaN");
	is_int(metrics_f64(&b, "f", NULL, -3), 0, "-3");
	is_str(b.data, "f 0.25\nf 0.1\nf 1e+21\nf +Inf\nf -Inf\nf NaN\nf -3\n",
	    "shortest round-trip numbers, Prometheus' special values");
	buf_reset(&b);
	is_int(metrics_u64(&b, "big", NULL, 18446744073709551615ULL), 0,
	    "u64 max");
	is_str(b.data, "big 18446744073709551615\n", "... printed whole");
	buf_free(&b);
}

static void
test_names(void)
{
	struct buf		 b;
	const char *const	 bad1[] = { "__name", "x", NULL };
	const char *const	 bad2[] = { "a:b", "x", NULL };
	const char *const	 bad3[] = { "9a", "x", NULL };
	const char *const	 bad4[] = { "a", NULL };
	const char *const	 good[] = { "_a9", "", NULL };

	buf_init(&b, 4096);
	is_int(metrics_family(&b, "9abc", METRICS_GAUGE, ""), -1,
	    "a name may not start with a digit");
	is_int(metrics_family(&b, "a-b", METRICS_GAUGE, ""), -1,
	    "no '-' in names");
	is_int(metrics_family(&b, "", METRICS_GAUGE, ""), -1, "empty name");
	is_int(metrics_family(&b, "ns:sub_total", METRICS_COUNTER, ""), 0,
	    "':' is fine in a metric name");
	is_int(metrics_u64(&b, "m", bad1, 1), -1, "'__' labels are reserved");
	is_int(metrics_u64(&b, "m", bad2, 1), -1, "no ':' in label names");
	is_int(metrics_u64(&b, "m", bad3, 1), -1, "label names: no digit first");
	is_int(metrics_u64(&b, "m", bad4, 1), -1, "a label without a value");
	buf_reset(&b);
	is_int(metrics_u64(&b, "m", good, 1), 0, "an empty value is fine");
	is_str(b.data, "m{_a9=\"\"} 1\n", "... and rendered");
	buf_free(&b);

	buf_init(&b, 40);
	is_int(metrics_family(&b, "defgate_requests_total", METRICS_COUNTER,
	    "Requests answered by defgate."), -1,
	    "a full buffer is reported, not ignored");
	buf_free(&b);
}

static void
test_hist(void)
{
	static const double	 le[] = { 0.005, 0.05, 0.5 };
	static const double	 bad[] = { 0.5, 0.05 };
	struct metrics_hist	 h;
	struct buf		 b;
	const char *const	 l[] = { "route", "incidents", NULL };

	is_int(metrics_hist_init(&h, bad, 2), -1, "bounds must ascend");
	is_int(metrics_hist_init(&h, le, 3), 0, "init");
	metrics_hist_observe_us(&h, 1000);	/* 0.001 */
	metrics_hist_observe_us(&h, 5000);	/* 0.005: le is inclusive */
	metrics_hist_observe_us(&h, 20000);
	metrics_hist_observe_us(&h, 2000000);
	metrics_hist_observe_us(&h, -5);	/* counted as 0 */
	buf_init(&b, 4096);
	is_int(metrics_family(&b, "lat_seconds", METRICS_HISTOGRAM, "L."), 0,
	    "family");
	is_int(metrics_hist(&b, "lat_seconds", l, &h), 0, "render");
	is_str(b.data, "# HELP lat_seconds L.\n# TYPE lat_seconds histogram\n"
	    "lat_seconds_bucket{route=\"incidents\",le=\"0.005\"} 3\n"
	    "lat_seconds_bucket{route=\"incidents\",le=\"0.05\"} 4\n"
	    "lat_seconds_bucket{route=\"incidents\",le=\"0.5\"} 4\n"
	    "lat_seconds_bucket{route=\"incidents\",le=\"+Inf\"} 5\n"
	    "lat_seconds_sum{route=\"incidents\"} 2.026\n"
	    "lat_seconds_count{route=\"incidents\"} 5\n",
	    "cumulative buckets, +Inf == _count, _sum in seconds");
	buf_reset(&b);
	is_int(metrics_hist(&b, "x", NULL, &h), 0, "no labels");
	like(b.data, "x_bucket{le=\"+Inf\"} 5\nx_sum 2.026\nx_count 5\n",
	    "le is the only label then");
	buf_free(&b);
}

/* ---- the realistic sample ---- */

static int
sample(void)
{
	static const double le[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	    0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 180 };
	static const char *const routes[] = { "incidents", "incident",
	    "hunting", "mde_alerts", "graph_incidents", "other" };
	static const char *const codes[] = { "200", "304", "403", "429",
	    "502" };
	static const char *const caches[] = { "HIT", "MISS", "STALE", "NONE" };
	struct metrics_hist	 h;
	struct buf		 b;
	int			 r = 0;

	buf_init(&b, 1 << 20);
	metrics_hist_init(&h, le, 16);
	for (long long us = 37; us < 200000000; us = us * 3 / 2 + 11)
		metrics_hist_observe_us(&h, us);
	r |= metrics_family(&b, "defgate_requests_total", METRICS_COUNTER,
	    "Requests answered, by route, HTTP status and cache result.");
	for (int i = 0; i < 6; i++)
		for (int k = 0; k < 5; k++)
			for (int c = 0; c < 4; c++) {
				const char *const l[] = { "route", routes[i],
				    "status", codes[k], "cache", caches[c],
				    NULL };

				r |= metrics_u64(&b, "defgate_requests_total",
				    l, (unsigned long long)(i * 100 + k * 10 +
				    c));
			}
	r |= metrics_family(&b, "defgate_request_duration_seconds",
	    METRICS_HISTOGRAM, "Time from the request line to the answer.");
	r |= metrics_hist(&b, "defgate_request_duration_seconds", NULL, &h);
	r |= metrics_family(&b, "defgate_upstream_calls_total",
	    METRICS_COUNTER, "Upstream API calls, by backend and status "
	    "(0: no answer).");
	{
		const char *const a[] = { "backend", "defender", "status",
		    "200", NULL };
		const char *const c[] = { "backend", "graph", "status", "0",
		    NULL };

		r |= metrics_u64(&b, "defgate_upstream_calls_total", a, 1234);
		r |= metrics_u64(&b, "defgate_upstream_calls_total", c, 2);
	}
	r |= metrics_family(&b, "defgate_token_requests_total",
	    METRICS_COUNTER, "Token requests to Entra ID, by audience.");
	r |= metrics_family(&b, "defgate_token_failures_total",
	    METRICS_COUNTER, "Failed token requests, by audience.");
	{
		const char *const a[] = { "audience",
		    "https://api.security.microsoft.com", NULL };
		const char *const w[] = { "audience", "we\"ird\\aud\nience",
		    NULL };

		r |= metrics_u64(&b, "defgate_token_requests_total", a, 3);
		r |= metrics_u64(&b, "defgate_token_requests_total", w, 1);
	}
	r |= metrics_family(&b, "defgate_quota_remaining", METRICS_GAUGE,
	    "Calls left in the window before defgate answers 429 itself "
	    "(-1: no limit).");
	{
		const char *const m[] = { "group", "incidents", "window", "min",
		    NULL };
		const char *const hr[] = { "group", "graph", "window", "hour",
		    NULL };

		r |= metrics_f64(&b, "defgate_quota_remaining", m, 47);
		r |= metrics_f64(&b, "defgate_quota_remaining", hr, -1);
	}
	r |= metrics_family(&b, "defgate_cache_bytes", METRICS_GAUGE,
	    "Bytes held by the response cache.");
	r |= metrics_u64(&b, "defgate_cache_bytes", NULL, 123456);
	r |= metrics_family(&b, "defgate_cache_hits_total", METRICS_COUNTER,
	    "Fresh cached answers served.");
	r |= metrics_u64(&b, "defgate_cache_hits_total", NULL, 99);
	r |= metrics_family(&b, "defgate_requests_in_flight", METRICS_GAUGE,
	    "Requests being answered now.");
	r |= metrics_f64(&b, "defgate_requests_in_flight", NULL, 3);
	if (r == 0)
		fwrite(b.data, 1, b.len, stdout);
	buf_free(&b);
	return (r == 0 ? 0 : 1);
}

int
main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--sample") == 0)
		return (sample());
	plan_lazy();
	test_plain();
	test_names();
	test_hist();
	return (done_testing());
}

/*
 * test_quota.c: local rate limits (src/quota.c). Time is the now_ms
 * argument: no sleeps. Checks that no 60 s (3,600 s) window ever holds more
 * calls than the limit whatever the request pattern, that Retry-After is
 * exact (refused 1 ms before, admitted at it), bursts, upstream 429
 * closures, the views, the counts of calls made (exact, from any thread)
 * and the two parsers of outside text.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "quota.h"
#include "tap.h"

#define MIN_MS	60000LL
#define HOUR_MS	3600000LL

static struct quota *
q_default(void)
{
	struct quota_limit lim[QUOTA__COUNT];

	quota_defaults(lim);
	return (quota_new(lim));
}

/* The largest number of timestamps (sorted) inside any window of span. */
static int
max_in_window(const long long *t, int n, long long span)
{
	int best = 0;

	for (int i = 0, j = 0; i < n; i++) {
		while (t[i] - t[j] >= span)
			j++;
		if (i - j + 1 > best)
			best = i - j + 1;
	}
	return (best);
}

static void
test_defaults(void)
{
	struct quota_limit	lim[QUOTA__COUNT];

	quota_defaults(lim);
	is_str(quota_group_name(QUOTA_INCIDENTS), "incidents", "name");
	is_str(quota_group_name(QUOTA_GRAPH), "graph", "name graph");
	ok(quota_group_name(QUOTA__COUNT) == NULL, "no name out of range");
	is_int(lim[QUOTA_INCIDENTS].limit[QUOTA_MIN], 50, "incidents 50/min");
	is_int(lim[QUOTA_INCIDENTS].limit[QUOTA_HOUR], 1500,
	    "incidents 1500/h");
	is_int(lim[QUOTA_HUNTING].limit[QUOTA_MIN], 45, "hunting 45/min");
	is_int(lim[QUOTA_MDE].limit[QUOTA_MIN], 100, "mde 100/min");
	is_int(lim[QUOTA_MDE].limit[QUOTA_HOUR], 1500, "mde 1500/h");
	is_int(lim[QUOTA_GRAPH].limit[QUOTA_MIN], 150, "graph 150/min");
	is_int(lim[QUOTA_GRAPH].limit[QUOTA_HOUR], 0, "graph: no hourly limit");
}

static void
test_burst_and_retry(void)
{
	struct quota		*q = q_default();
	struct quota_view	 v;
	long long		 ra = 0;
	int			 okn = 0;

	for (int i = 0; i < 60; i++)
		okn += quota_take(q, QUOTA_INCIDENTS, 1000, &ra) == 0;
	is_int(okn, 50, "a burst: 50 of 60 calls admitted at once");
	/* the 50 calls sit in the slot of t=1 s, counted until t=62 s */
	is_int(ra, 61000, "Retry-After: when the burst leaves the window");
	is_int(quota_retry_after_ms(q, QUOTA_INCIDENTS, 1000), 61000,
	    "quota_retry_after_ms agrees");
	is_int(quota_take(q, QUOTA_INCIDENTS, 61999, &ra), -1,
	    "still refused 1 ms before");
	is_int(ra, 1, "... with 1 ms to go");
	is_int(quota_take(q, QUOTA_INCIDENTS, 62000, NULL), 0,
	    "admitted when the Retry-After has passed");
	is_int(quota_take(q, QUOTA_HUNTING, 1000, NULL), 0,
	    "another group is not affected");
	quota_view(q, QUOTA_INCIDENTS, 62000, &v);
	is_int(v.calls[QUOTA_MIN], 1, "calls in the last minute: 1");
	is_int(v.calls[QUOTA_HOUR], 51, "calls in the last hour: 51");
	is_int(v.remaining[QUOTA_HOUR], 1449, "remaining this hour: 1449");
	ok(v.remaining[QUOTA_MIN] >= 0 && v.remaining[QUOTA_MIN] <= 49,
	    "remaining this minute: %ld", v.remaining[QUOTA_MIN]);
	is_int(v.taken, 51, "taken counted");
	is_int(v.denied, 11, "local refusals counted");
	quota_view(q, QUOTA_GRAPH, 62000, &v);
	is_int(v.remaining[QUOTA_HOUR], -1, "no hourly limit: remaining -1");
	is_int(v.remaining[QUOTA_MIN], 150, "an unused group: full");
	quota_free(q);
}

/* Many request patterns: no window ever holds more than the limit, and a
 * refusal's Retry-After is exact. */
static void
test_windows_hold(void)
{
	static long long	 t[20000];
	struct quota		*q;
	int			 n = 0, exact = 1, tries = 0;
	long long		 now = 5, ra;
	unsigned		 seed = 7;

	q = q_default();
	while (now < 2 * HOUR_MS && n < 20000) {
		seed = seed * 1103515245u + 12345u;
		/* bursts, lulls and steady polling: 0..2 s apart */
		now += (seed >> 16) % 2000;
		tries++;
		if (quota_take(q, QUOTA_INCIDENTS, now, &ra) == 0) {
			t[n++] = now;
			continue;
		}
		if (ra < 1)
			exact = 0;
		/* exact: refused 1 ms before, admitted at the time */
		if (ra > 1 && quota_retry_after_ms(q, QUOTA_INCIDENTS,
		    now + ra - 1) == 0)
			exact = 0;
		if (quota_retry_after_ms(q, QUOTA_INCIDENTS, now + ra) != 0)
			exact = 0;
	}
	ok(max_in_window(t, n, MIN_MS) <= 50,
	    "2 h of random traffic: at most 50 calls in any 60 s (max %d)",
	    max_in_window(t, n, MIN_MS));
	ok(max_in_window(t, n, HOUR_MS) <= 1500,
	    "... at most 1500 in any hour (max %d)",
	    max_in_window(t, n, HOUR_MS));
	ok(n >= 2800, "... and the quota is used: %d of %d tries admitted",
	    n, tries);
	ok(exact, "every Retry-After was exact");
	quota_free(q);

	/* steady polling every 100 ms: 50 a minute, not 100 */
	q = q_default();
	n = 0;
	for (now = 0; now < 10 * MIN_MS; now += 100)
		if (quota_take(q, QUOTA_INCIDENTS, now, NULL) == 0)
			t[n++] = now;
	ok(max_in_window(t, n, MIN_MS) <= 50,
	    "polling at 10/s: at most 50 in any 60 s (max %d)",
	    max_in_window(t, n, MIN_MS));
	ok(n >= 450 && n <= 500, "10 minutes at 10/s: %d calls (~50/min)", n);
	quota_free(q);
}

static void
test_burst_setting(void)
{
	struct quota_limit	 lim[QUOTA__COUNT];
	struct quota		*q;
	const char		*why;
	long long		 ra = 0;
	int			 okn = 0;

	quota_defaults(lim);
	is_int(quota_parse_limit("50/min:10", &lim[QUOTA_INCIDENTS], &why), 0,
	    "parse 50/min:10");
	q = quota_new(lim);
	for (int i = 0; i < 20; i++)
		okn += quota_take(q, QUOTA_INCIDENTS, 0, &ra) == 0;
	is_int(okn, 10, "burst 10: 10 at once");
	is_int(ra, 1200, "then one every 1.2 s (60 s / 50)");
	is_int(quota_take(q, QUOTA_INCIDENTS, 1199, NULL), -1, "not at 1199");
	is_int(quota_take(q, QUOTA_INCIDENTS, 1200, NULL), 0, "at 1200");
	quota_free(q);
}

static void
test_throttled(void)
{
	struct quota		*q = q_default();
	struct quota_view	 v;
	long long		 ra = 0;

	quota_throttled(q, QUOTA_HUNTING, 10000, 30000);
	is_int(quota_take(q, QUOTA_HUNTING, 10000, &ra), -1,
	    "an upstream 429 closes the group");
	is_int(ra, 30000, "... for its Retry-After");
	is_int(quota_take(q, QUOTA_HUNTING, 39999, NULL), -1,
	    "closed 1 ms before the end");
	quota_view(q, QUOTA_HUNTING, 39999, &v);
	is_int(v.closed_ms, 1, "the view shows the closure");
	is_int(v.throttled, 1, "the 429 is counted");
	is_int(quota_take(q, QUOTA_HUNTING, 40000, NULL), 0, "open again");
	is_int(quota_take(q, QUOTA_MDE, 10000, NULL), 0,
	    "other groups stay open");
	quota_throttled(q, QUOTA_HUNTING, 40000, 10LL * HOUR_MS);
	is_int(quota_retry_after_ms(q, QUOTA_HUNTING, 40000), HOUR_MS,
	    "a closure is capped at an hour");
	quota_throttled(q, QUOTA_HUNTING, 40000, 5);
	is_int(quota_retry_after_ms(q, QUOTA_HUNTING, 40000), HOUR_MS,
	    "a shorter 429 does not shorten a closure");
	quota_free(q);

	{
		struct quota_limit lim[QUOTA__COUNT];

		quota_defaults(lim);
		memset(&lim[QUOTA_GRAPH], 0, sizeof(lim[QUOTA_GRAPH]));
		q = quota_new(lim);
		quota_throttled(q, QUOTA_GRAPH, 0, 30000);
		is_int(quota_take(q, QUOTA_GRAPH, 1, NULL), 0,
		    "a group whose limits are off is never closed");
		quota_view(q, QUOTA_GRAPH, 1, &v);
		is_int(v.throttled, 1, "... but its 429 is counted");
		quota_free(q);
	}
}

static void
test_set_limits(void)
{
	struct quota_limit	 lim[QUOTA__COUNT];
	struct quota		*q = q_default();
	struct quota_view	 v;

	for (int i = 0; i < 30; i++)
		(void)quota_take(q, QUOTA_MDE, 0, NULL);
	quota_defaults(lim);
	lim[QUOTA_MDE].limit[QUOTA_MIN] = 20;
	quota_set_limits(q, lim, 1);
	is_int(quota_take(q, QUOTA_MDE, 2, NULL), -1,
	    "a lower limit applies to the calls already made");
	quota_view(q, QUOTA_MDE, 2, &v);
	is_int(v.calls[QUOTA_MIN], 30, "counts are kept across a reload");
	is_int(v.remaining[QUOTA_MIN], 0, "remaining 0");
	quota_free(q);
}

static void
test_parse_limit(void)
{
	static const struct {
		const char	*in;
		int		 ret;
		unsigned	 m, h, mb;
	} cases[] = {
		{ "50/min,1500/h", 0, 50, 1500, 0 },
		{ " 100/m , 1500/hour ", 0, 100, 1500, 0 },
		{ "45/minute", 0, 45, 0, 0 },
		{ "1500/h", 0, 0, 1500, 0 },
		{ "50/min:5,1500/h", 0, 50, 1500, 5 },
		{ "off", 0, 0, 0, 0 },
		{ "", -1, 0, 0, 0 },
		{ "0/min", -1, 0, 0, 0 },
		{ "50", -1, 0, 0, 0 },
		{ "50/s", -1, 0, 0, 0 },
		{ "50/min,60/min", -1, 0, 0, 0 },
		{ "50/min;1500/h", -1, 0, 0, 0 },
		{ "50/min:51", -1, 0, 0, 0 },
		{ "1000001/min", -1, 0, 0, 0 },
		{ "99999999999999999999/min", -1, 0, 0, 0 },
		{ "-5/min", -1, 0, 0, 0 },
		{ "50/min,", -1, 0, 0, 0 },
		{ "offx", -1, 0, 0, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct quota_limit	 l;
		const char		*why = NULL;
		int			 r;

		memset(&l, 0xff, sizeof(l));
		r = quota_parse_limit(cases[i].in, &l, &why);
		is_int(r, cases[i].ret, cases[i].in);
		if (r == 0)
			ok(l.limit[QUOTA_MIN] == cases[i].m &&
			    l.limit[QUOTA_HOUR] == cases[i].h &&
			    l.burst[QUOTA_MIN] == cases[i].mb,
			    "  '%s': %u/min (burst %u), %u/h", cases[i].in,
			    l.limit[QUOTA_MIN], l.burst[QUOTA_MIN],
			    l.limit[QUOTA_HOUR]);
		else
			ok(why != NULL && *why, "  '%s': %s", cases[i].in,
			    why ? why : "(no reason)");
	}
}

static void
test_parse_retry_after(void)
{
	long long	 now = 784111777LL;	/* Sun, 06 Nov 1994 08:49:37 GMT */
	long long	 ms = -7;
	char		 longv[200];

	is_int(quota_parse_retry_after("120", now, &ms), 0, "delta-seconds");
	is_int(ms, 120000, "120 s");
	is_int(quota_parse_retry_after(" 5 ", now, &ms), 0, "spaces around");
	is_int(ms, 5000, "5 s");
	is_int(quota_parse_retry_after("0", now, &ms), 0, "0");
	is_int(ms, 0, "0 s");
	is_int(quota_parse_retry_after("99999999999999999999999", now, &ms), 0,
	    "a huge number");
	is_int(ms, QUOTA_MAX_CLOSE_MS, "... is capped, without overflow");
	is_int(quota_parse_retry_after("Sun, 06 Nov 1994 08:51:07 GMT", now,
	    &ms), 0, "IMF-fixdate");
	is_int(ms, 90000, "90 s later");
	is_int(quota_parse_retry_after("Sunday, 06-Nov-94 08:50:37 GMT", now,
	    &ms), 0, "RFC 850 date");
	is_int(ms, 60000, "60 s later");
	is_int(quota_parse_retry_after("Sun Nov  6 08:49:47 1994", now, &ms), 0,
	    "asctime date");
	is_int(ms, 10000, "10 s later");
	is_int(quota_parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now,
	    &ms), 0, "a date in the past");
	is_int(ms, 0, "... means now");
	ms = -7;
	is_int(quota_parse_retry_after(NULL, now, &ms), -1, "absent");
	is_int(quota_parse_retry_after("", now, &ms), -1, "empty");
	is_int(quota_parse_retry_after("-1", now, &ms), -1, "negative");
	is_int(quota_parse_retry_after("1.5", now, &ms), -1, "fraction");
	is_int(quota_parse_retry_after("12abc", now, &ms), -1, "trailing junk");
	is_int(quota_parse_retry_after("Sun, 06 Nov 1994 08:51:07 GMTX", now,
	    &ms), -1, "a date with junk");
	is_int(quota_parse_retry_after("Sun, 32 Nov 1994 08:51:07 GMT", now,
	    &ms), -1, "day 32");
	memset(longv, '1', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = '\0';
	is_int(quota_parse_retry_after(longv, now, &ms), -1,
	    "a value over 64 bytes");
	is_int(ms, -7, "failures leave *ms alone");
}

static void
test_called(void)
{
	struct quota_limit	 lim[QUOTA__COUNT];
	struct quota		*q;
	struct quota_view	 v;
	long long		 t0 = 10 * HOUR_MS;

	quota_defaults(lim);
	memset(&lim[QUOTA_GRAPH], 0, sizeof(lim[QUOTA_GRAPH]));	/* off */
	q = quota_new(lim);
	/* a take is not a call: only quota_called counts */
	is_int(quota_take(q, QUOTA_INCIDENTS, t0, NULL), 0, "taken");
	quota_view(q, QUOTA_INCIDENTS, t0, &v);
	is_int(v.made[QUOTA_MIN], 0, "a take alone is no call made");
	is_int(v.calls[QUOTA_MIN], 1, "... though the limiter counts it");
	quota_called(q, QUOTA_INCIDENTS, t0);
	quota_called(q, QUOTA_INCIDENTS, t0 + 999);	/* same second */
	quota_called(q, QUOTA_INCIDENTS, t0 + 30000);
	quota_view(q, QUOTA_INCIDENTS, t0 + 30000, &v);
	is_int(v.made[QUOTA_MIN], 3, "3 calls in the last minute");
	is_int(v.made[QUOTA_HOUR], 3, "3 calls in the last hour");
	is_int(v.made_total, 3, "3 calls ever");
	quota_view(q, QUOTA_HUNTING, t0 + 30000, &v);
	is_int(v.made[QUOTA_MIN] + v.made_total, 0, "other groups: none");
	/* the second of t0 is the oldest of the minute until 59 s later */
	quota_view(q, QUOTA_INCIDENTS, t0 + 59999, &v);
	is_int(v.made[QUOTA_MIN], 3, "at +59.999 s: still 3");
	quota_view(q, QUOTA_INCIDENTS, t0 + 60000, &v);
	is_int(v.made[QUOTA_MIN], 1, "at +60 s: the first second left");
	quota_view(q, QUOTA_INCIDENTS, t0 + 90000, &v);
	is_int(v.made[QUOTA_MIN], 0, "at +90 s: none in the minute");
	is_int(v.made[QUOTA_HOUR], 3, "... all 3 in the hour");
	quota_view(q, QUOTA_INCIDENTS, t0 + HOUR_MS, &v);
	is_int(v.made[QUOTA_HOUR], 0, "an hour later: none");
	is_int(v.made_total, 3, "... and still 3 ever");
	/* a reused slot starts from zero */
	quota_called(q, QUOTA_INCIDENTS, t0 + HOUR_MS);
	quota_view(q, QUOTA_INCIDENTS, t0 + HOUR_MS, &v);
	is_int(v.made[QUOTA_MIN], 1, "a reused second slot starts at 0");
	is_int(v.made[QUOTA_HOUR], 1, "a reused minute slot starts at 0");
	/* counted whatever the limits, even over them */
	for (int i = 0; i < 200; i++)
		quota_called(q, QUOTA_GRAPH, t0 + i * 10);
	quota_view(q, QUOTA_GRAPH, t0 + 2000, &v);
	is_int(v.made[QUOTA_MIN], 200, "limits off: 200 calls counted");
	is_int(v.remaining[QUOTA_MIN], -1, "... and no limit shown");
	quota_called(q, QUOTA__COUNT, t0);	/* ignored */
	quota_free(q);
}

#define CALL_THREADS	4
#define CALLS_EACH	5000

static void *
caller(void *arg)
{
	struct quota *q = arg;

	for (int i = 0; i < CALLS_EACH; i++)
		quota_called(q, (enum quota_group)(i % QUOTA__COUNT),
		    HOUR_MS + i);
	return (NULL);
}

static void
test_called_threads(void)
{
	struct quota		*q = q_default();
	struct quota_view	 v;
	pthread_t		 th[CALL_THREADS];
	unsigned long		 sum = 0, total = 0;

	for (int i = 0; i < CALL_THREADS; i++)
		pthread_create(&th[i], NULL, caller, q);
	for (int i = 0; i < CALL_THREADS; i++)
		pthread_join(th[i], NULL);
	for (int g = 0; g < QUOTA__COUNT; g++) {
		quota_view(q, g, HOUR_MS + CALLS_EACH, &v);
		sum += v.made[QUOTA_MIN];
		total += v.made_total;
	}
	is_int(total, CALL_THREADS * CALLS_EACH, "every call from 4 threads "
	    "counted once");
	is_int(sum, CALL_THREADS * CALLS_EACH, "... all within the minute");
	quota_free(q);
}

int
main(void)
{
	plan_lazy();
	test_defaults();
	test_burst_and_retry();
	test_windows_hold();
	test_burst_setting();
	test_throttled();
	test_set_limits();
	test_parse_limit();
	test_parse_retry_after();
	test_called();
	test_called_threads();
	return (done_testing());
}

/*
 * test_tokensrc.c: the token policy of src/tokensrc.c, on a simulated
 * clock: single-flight, refresh ahead, the 1 s floor, backoff with
 * Retry-After, and the 401 rules (young tokens, repeated 401s).
 */
#include <string.h>

#include "tap.h"
#include "tokensrc.h"

static void
test_due(void)
{
	struct tokpolicy p;

	memset(&p, 0, sizeof(p));
	is_int(tokpolicy_due(&p, 0, 1000), 0, "unused source: never due");
	p.used = 1;
	is_int(tokpolicy_due(&p, 0, 1000), 1, "used, no token: due");
	tokpolicy_started(&p, 1000);
	is_int(tokpolicy_due(&p, 0, 5000), 0, "single-flight: not due while "
	    "a request is in flight");
	tokpolicy_succeeded(&p, 1200, 3600 * 1000LL, 3540 * 1000LL, 0);
	ok(p.refresh_at_ms >= 1200 + 3600 * 1000LL * 3 / 4 &&
	    p.refresh_at_ms <= 1200 + 3600 * 1000LL * 8 / 10,
	    "refresh ahead at 75-80%% of the lifetime (%lld)",
	    p.refresh_at_ms - 1200);
	is_int(tokpolicy_due(&p, 1, 1300), 0, "valid token: not due");
	{
		struct tokpolicy q;

		memset(&q, 0, sizeof(q));
		q.used = 1;
		tokpolicy_started(&q, 0);
		tokpolicy_succeeded(&q, 0, 6000, 5000, 0);
		ok(q.refresh_at_ms <= 5000 - 2 * TOKENSRC_BACKOFF_MIN_MS,
		    "6 s token usable 5 s: refresh at %lld ms leaves room for "
		    "a failed refresh and a retry", q.refresh_at_ms);
	}
	is_int(tokpolicy_due(&p, 1, p.refresh_at_ms), 1,
	    "due at the refresh-ahead time");
	is_int(tokpolicy_due(&p, 0, 1500), 0, "no token, 300 ms after the "
	    "last request: the 1 s floor holds");
	is_int(tokpolicy_due(&p, 0, 2000), 1, "no token, 1 s after: due");
	is_int(tokpolicy_next_ms(&p, 0, 1500, 60000), 500,
	    "next event: the end of the floor");
}

/* expires_in: 1 must not drive more than one request a second. */
static void
test_floor_short_tokens(void)
{
	struct tokpolicy	 p;
	long long		 now, valid_until = 0;
	int			 fetches = 0, rnd = 7;

	memset(&p, 0, sizeof(p));
	p.used = 1;
	for (now = 0; now < 10000; now++) {
		int have = now < valid_until;

		if (p.refreshing && now >= p.last_fetch_ms + 20) {
			/* 20 ms later Entra answers expires_in: 1 */
			tokpolicy_succeeded(&p, now, 1000, 1000, (unsigned)rnd++);
			valid_until = now + 1000;
			continue;
		}
		if (tokpolicy_due(&p, have, now)) {
			tokpolicy_started(&p, now);
			fetches++;
		}
	}
	ok(fetches <= 11, "expires_in 1 for 10 s: %d token requests (<= 11)",
	    fetches);
	ok(fetches >= 5, "expires_in 1: still refreshed (%d)", fetches);
}

static void
test_backoff(void)
{
	struct tokpolicy	 p;
	long long		 prev = 0;

	memset(&p, 0, sizeof(p));
	p.used = 1;
	tokpolicy_started(&p, 0);
	tokpolicy_failed(&p, 100, 0, 0);
	ok(p.next_attempt_ms >= 100 + 750 && p.next_attempt_ms <= 1100,
	    "first failure: about 1 s (%lld)", p.next_attempt_ms - 100);
	is_int(tokpolicy_backing_off(&p, 200), 1, "backing off: jobs fail "
	    "fast");
	is_int(tokpolicy_due(&p, 0, 200), 0, "no request while backing off");
	for (int i = 0; i < 10; i++) {
		long long step;

		tokpolicy_started(&p, p.next_attempt_ms);
		tokpolicy_failed(&p, p.last_fetch_ms, 0, 0);
		step = p.next_attempt_ms - p.last_fetch_ms;
		ok(step >= prev || step == TOKENSRC_BACKOFF_MAX_MS,
		    "failure %d: step %lld grows", i + 2, step);
		ok(step <= TOKENSRC_BACKOFF_MAX_MS, "step capped at 60 s");
		prev = step;
	}
	tokpolicy_started(&p, p.next_attempt_ms);
	tokpolicy_failed(&p, p.last_fetch_ms, 300, 0);
	is_int(p.next_attempt_ms - p.last_fetch_ms, 300000,
	    "Retry-After: 300 s honoured beyond the backoff");
	tokpolicy_started(&p, p.next_attempt_ms);
	tokpolicy_succeeded(&p, p.last_fetch_ms + 10, 3600000, 3540000, 0);
	is_int(p.fails, 0, "success resets the failures");
	is_int(tokpolicy_backing_off(&p, p.last_fetch_ms + 20), 0,
	    "success: no backoff");
}

static void
test_401(void)
{
	struct tokpolicy	 p;
	long long		 t = 100000;

	memset(&p, 0, sizeof(p));
	p.used = 1;
	tokpolicy_started(&p, t);
	tokpolicy_succeeded(&p, t, 3600000, 3540000, 0);
	is_int(tokpolicy_rejected(&p, 1, t, t + 500, 0), TOKPOLICY_PASS,
	    "401 on a token 500 ms old: passed on, no fetch");
	is_int(tokpolicy_rejected(&p, 1, t, t + 1999, 0), TOKPOLICY_PASS,
	    "401 at 1999 ms: still passed on");
	is_int(p.rejects, 1, "one token refused, counted once");
	is_int(tokpolicy_rejected(&p, 1, t, t + 2000, 0), TOKPOLICY_RETRY,
	    "401 at 2 s: drop the token and retry");
	is_int(tokpolicy_backing_off(&p, t + 2000), 0,
	    "a first refusal (a revoked token) refetches at once");

	/* the API answers 401 to every token (wrong audience) */
	t += 3000;
	tokpolicy_started(&p, t);
	tokpolicy_succeeded(&p, t, 3600000, 3540000, 0);
	is_int(tokpolicy_rejected(&p, 2, t, t + 2500, 0), TOKPOLICY_RETRY,
	    "second token refused: retry");
	ok(p.next_attempt_ms >= t + 2500 + 750, "second refusal backs off "
	    "(%lld ms)", p.next_attempt_ms - t - 2500);
	is_int(tokpolicy_backing_off(&p, t + 2600), 1,
	    "repeated 401s: jobs fail fast meanwhile");
	t = p.next_attempt_ms;
	tokpolicy_started(&p, t);
	tokpolicy_succeeded(&p, t, 3600000, 3540000, 0);
	is_int(p.rejects, 2, "a successful fetch does not reset the 401 run");
	is_int(tokpolicy_rejected(&p, 3, t, t + 2500, 0), TOKPOLICY_RETRY,
	    "third token refused");
	ok(p.next_attempt_ms - (t + 2500) >= 1500, "... and the backoff grew "
	    "(%lld ms)", p.next_attempt_ms - t - 2500);
	tokpolicy_accepted(&p);
	is_int(p.rejects, 0, "an accepted API call ends the 401 run");

	/* 16 clients against an API that 401s everything for 60 s */
	{
		struct tokpolicy	 q;
		long long		 now, obtained = -1;
		unsigned		 gen = 0;
		int			 fetches = 0;

		memset(&q, 0, sizeof(q));
		q.used = 1;
		for (now = 0; now < 60000; now += 10) {
			int have = obtained >= 0;

			if (q.refreshing && now >= q.last_fetch_ms + 20) {
				tokpolicy_succeeded(&q, now, 3600000, 3540000,
				    0);
				obtained = now;
				gen++;
				continue;
			}
			if (tokpolicy_due(&q, have, now)) {
				tokpolicy_started(&q, now);
				fetches++;
			}
			/* every 10 ms a client request gets 401 */
			if (have && tokpolicy_rejected(&q, gen, obtained, now,
			    0) == TOKPOLICY_RETRY)
				obtained = -1;
		}
		ok(fetches <= 10, "API answering 401 for 60 s: %d token "
		    "requests (<= 10)", fetches);
	}
}

int
main(void)
{
	test_due();
	test_floor_short_tokens();
	test_backoff();
	test_401();
	return (done_testing());
}

/*
 * quota.c: per-group token buckets and call counts (see quota.h).
 *
 * Bucket arithmetic is in integers: a window of span S ms and limit L
 * holds its level in units where one call costs S and every millisecond
 * adds L, capped at burst * S. The wait for the next call is then
 * ceil((S - level) / L) ms, exactly.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "quota.h"

#define QUOTA_SLOTS	61		/* the window's 60 slots + a partial one */
#define QUOTA_NO_SLOT	(-(1LL << 62))
#define QUOTA_MADE_SLOTS	60	/* the current period and the 59 before */
#define QUOTA_MAX_VALUE	64		/* bytes of a Retry-After we look at */

struct window {
	unsigned	 limit;		/* 0: none */
	long long	 cap;		/* burst * span */
	long long	 level;
	long long	 last_ms;	/* last refill */
	long long	 slot[QUOTA_SLOTS];
	unsigned	 cnt[QUOTA_SLOTS];
};

/* Calls made: slot i holds the count of period slot[i] (a second or a
 * minute since the clock's origin). Separate from the windows, which
 * count takes and err high on purpose. */
struct made {
	long long	 slot[QUOTA__WINDOWS][QUOTA_MADE_SLOTS];
	unsigned long	 cnt[QUOTA__WINDOWS][QUOTA_MADE_SLOTS];
	unsigned long	 total;
};

struct group {
	struct quota_limit	 lim;
	struct window		 w[QUOTA__WINDOWS];
	struct made		 made;
	long long		 closed_until;	/* mono ms; 0: open */
	unsigned long		 taken, denied, throttled;
};

struct quota {
	pthread_mutex_t		 mu;
	struct group		 g[QUOTA__COUNT];
};

static const long long span_ms[QUOTA__WINDOWS] = { 60 * 1000LL,
    3600 * 1000LL };
static const long long slot_ms[QUOTA__WINDOWS] = { 1000LL, 60 * 1000LL };

static const char *const group_names[QUOTA__COUNT] = { "incidents",
    "hunting", "mde", "graph" };

const char *
quota_group_name(enum quota_group g)
{
	return ((unsigned)g < QUOTA__COUNT ? group_names[g] : NULL);
}

void
quota_defaults(struct quota_limit out[QUOTA__COUNT])
{
	memset(out, 0, sizeof(*out) * QUOTA__COUNT);
	out[QUOTA_INCIDENTS].limit[QUOTA_MIN] = 50;
	out[QUOTA_INCIDENTS].limit[QUOTA_HOUR] = 1500;
	out[QUOTA_HUNTING].limit[QUOTA_MIN] = 45;
	out[QUOTA_HUNTING].limit[QUOTA_HOUR] = 1500;
	out[QUOTA_MDE].limit[QUOTA_MIN] = 100;
	out[QUOTA_MDE].limit[QUOTA_HOUR] = 1500;
	out[QUOTA_GRAPH].limit[QUOTA_MIN] = 150;
}

/* ---- parsing ---- */

static const char *
skip_ws(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return (s);
}

/* Decimal 1..QUOTA_MAX_LIMIT at *sp; advances *sp. -1 when not one. */
static long
parse_count(const char **sp)
{
	const char	*s = *sp;
	long		 v = 0;

	if (*s < '0' || *s > '9')
		return (-1);
	for (; *s >= '0' && *s <= '9'; s++) {
		v = v * 10 + (*s - '0');
		if (v > QUOTA_MAX_LIMIT)
			return (-1);
	}
	*sp = s;
	return (v);
}

static int
unit_is(const char *s, size_t n, const char *const *names)
{
	for (; *names; names++)
		if (strlen(*names) == n && strncmp(s, *names, n) == 0)
			return (1);
	return (0);
}

int
quota_parse_limit(const char *s, struct quota_limit *out, const char **why)
{
	static const char *const mins[] = { "min", "m", "minute", NULL };
	static const char *const hours[] = { "h", "hour", NULL };
	struct quota_limit	 l;
	int			 seen[QUOTA__WINDOWS] = { 0, 0 };

	memset(&l, 0, sizeof(l));
	*why = NULL;
	s = skip_ws(s);
	if (strncmp(s, "off", 3) == 0 && *skip_ws(s + 3) == '\0') {
		*out = l;
		return (0);
	}
	for (;;) {
		const char	*u;
		long		 n, b = 0;
		int		 w;

		s = skip_ws(s);
		if ((n = parse_count(&s)) < 1) {
			*why = "expected a number of calls from 1 to 1000000, "
			    "e.g. 50/min,1500/h (or off)";
			return (-1);
		}
		s = skip_ws(s);
		if (*s++ != '/') {
			*why = "expected /min or /h after the number";
			return (-1);
		}
		for (u = s; *s >= 'a' && *s <= 'z'; s++)
			;
		if (unit_is(u, (size_t)(s - u), mins))
			w = QUOTA_MIN;
		else if (unit_is(u, (size_t)(s - u), hours))
			w = QUOTA_HOUR;
		else {
			*why = "the window must be min or h";
			return (-1);
		}
		if (seen[w]++) {
			*why = "a window is given twice";
			return (-1);
		}
		if (*s == ':') {
			s++;
			if ((b = parse_count(&s)) < 1 || b > n) {
				*why = "the burst after ':' must be from 1 to "
				    "the limit";
				return (-1);
			}
		}
		l.limit[w] = (unsigned)n;
		l.burst[w] = (unsigned)b;
		s = skip_ws(s);
		if (*s == '\0')
			break;
		if (*s++ != ',') {
			*why = "separate the windows with a comma";
			return (-1);
		}
	}
	*out = l;
	return (0);
}

int
quota_parse_retry_after(const char *v, long long now_s, long long *ms)
{
	static const char *const fmts[] = {
		"%a, %d %b %Y %H:%M:%S GMT",	/* IMF-fixdate */
		"%A, %d-%b-%y %H:%M:%S GMT",	/* RFC 850 */
		"%a %b %d %H:%M:%S %Y",		/* asctime */
	};
	char		 b[QUOTA_MAX_VALUE + 1];
	size_t		 n;
	long long	 s = 0, t;

	if (v == NULL)
		return (-1);
	v = skip_ws(v);
	n = strnlen(v, QUOTA_MAX_VALUE + 1);
	if (n > QUOTA_MAX_VALUE)
		return (-1);
	memcpy(b, v, n);
	while (n > 0 && (b[n - 1] == ' ' || b[n - 1] == '\t'))
		n--;
	b[n] = '\0';
	if (n == 0)
		return (-1);
	if (b[0] >= '0' && b[0] <= '9') {
		for (size_t i = 0; i < n; i++) {
			if (b[i] < '0' || b[i] > '9')
				return (-1);
			if (s < QUOTA_MAX_CLOSE_MS)	/* saturate, no overflow */
				s = s * 10 + (b[i] - '0');
		}
		t = s * 1000;
	} else {
		size_t i;

		for (i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
			struct tm	 tm;
			const char	*end;

			memset(&tm, 0, sizeof(tm));
			end = strptime(b, fmts[i], &tm);
			if (end != NULL && *end == '\0') {
				t = ((long long)timegm(&tm) - now_s) * 1000;
				break;
			}
		}
		if (i == sizeof(fmts) / sizeof(fmts[0]))
			return (-1);
	}
	*ms = t < 0 ? 0 : t > QUOTA_MAX_CLOSE_MS ? QUOTA_MAX_CLOSE_MS : t;
	return (0);
}

/* ---- windows (under q->mu) ---- */

static void
window_set(struct window *w, int k, unsigned limit, unsigned burst)
{
	w->limit = limit;
	w->cap = (long long)(burst ? burst : limit) * span_ms[k];
	if (w->level > w->cap)
		w->level = w->cap;
}

static void
refill(struct window *w, long long now)
{
	if (now > w->last_ms) {
		long long add = (now - w->last_ms) * (long long)w->limit;

		w->level = add >= w->cap - w->level ? w->cap : w->level + add;
		w->last_ms = now;
	}
}

static unsigned long
window_count(const struct window *w, int k, long long now)
{
	long long	 cur = now / slot_ms[k];
	unsigned long	 n = 0;

	for (int i = 0; i < QUOTA_SLOTS; i++)
		if (w->slot[i] > cur - QUOTA_SLOTS && w->slot[i] <= cur)
			n += w->cnt[i];
	return (n);
}

/* Milliseconds until the window admits a call; 0: now. Refilled first. */
static long long
window_wait(const struct window *w, int k, long long now)
{
	long long	 wait = 0, cur = now / slot_ms[k];
	unsigned long	 n;

	if (w->limit == 0)
		return (0);
	if (w->level < span_ms[k])
		wait = (span_ms[k] - w->level + w->limit - 1) / w->limit;
	if ((n = window_count(w, k, now)) >= w->limit) {
		/* the oldest slots leave the count one by one (now >= 0,
		 * so no slot is negative) */
		long long s0 = cur - QUOTA_SLOTS + 1 > 0 ?
		    cur - QUOTA_SLOTS + 1 : 0;

		for (long long s = s0; s <= cur; s++) {
			int i = (int)(s % QUOTA_SLOTS);

			if (w->slot[i] != s)
				continue;
			n -= w->cnt[i];
			if (n < w->limit) {
				long long t = (s + QUOTA_SLOTS) * slot_ms[k] -
				    now;

				if (t > wait)
					wait = t;
				break;
			}
		}
	}
	return (wait);
}

static void
window_add(struct window *w, int k, long long now)
{
	long long	 cur = now / slot_ms[k];
	int		 i = (int)(cur % QUOTA_SLOTS);

	if (w->limit == 0)
		return;
	if (w->slot[i] != cur) {
		w->slot[i] = cur;
		w->cnt[i] = 0;
	}
	w->cnt[i]++;
	w->level -= span_ms[k];
}

static long long
group_wait(struct group *g, long long now)
{
	long long wait = 0, t;

	for (int k = 0; k < QUOTA__WINDOWS; k++) {
		refill(&g->w[k], now);
		if ((t = window_wait(&g->w[k], k, now)) > wait)
			wait = t;
	}
	if (g->closed_until > now && g->closed_until - now > wait)
		wait = g->closed_until - now;
	return (wait);
}

/* ---- the quota ---- */

struct quota *
quota_new(const struct quota_limit lim[QUOTA__COUNT])
{
	struct quota *q;

	if ((q = calloc(1, sizeof(*q))) == NULL)
		return (NULL);
	pthread_mutex_init(&q->mu, NULL);
	for (int g = 0; g < QUOTA__COUNT; g++)
		for (int k = 0; k < QUOTA__WINDOWS; k++) {
			struct window *w = &q->g[g].w[k];

			for (int i = 0; i < QUOTA_SLOTS; i++)
				w->slot[i] = QUOTA_NO_SLOT;
			for (int i = 0; i < QUOTA_MADE_SLOTS; i++)
				q->g[g].made.slot[k][i] = QUOTA_NO_SLOT;
		}
	quota_set_limits(q, lim, 0);
	for (int g = 0; g < QUOTA__COUNT; g++)
		for (int k = 0; k < QUOTA__WINDOWS; k++)
			q->g[g].w[k].level = q->g[g].w[k].cap;
	return (q);
}

void
quota_free(struct quota *q)
{
	if (q == NULL)
		return;
	pthread_mutex_destroy(&q->mu);
	free(q);
}

void
quota_set_limits(struct quota *q, const struct quota_limit lim[QUOTA__COUNT],
    long long now_ms)
{
	pthread_mutex_lock(&q->mu);
	for (int g = 0; g < QUOTA__COUNT; g++) {
		q->g[g].lim = lim[g];
		for (int k = 0; k < QUOTA__WINDOWS; k++) {
			if (now_ms > 0)
				refill(&q->g[g].w[k], now_ms);
			window_set(&q->g[g].w[k], k, lim[g].limit[k],
			    lim[g].burst[k]);
		}
	}
	pthread_mutex_unlock(&q->mu);
}

int
quota_take(struct quota *q, enum quota_group gi, long long now_ms,
    long long *retry_ms)
{
	struct group	*g;
	long long	 wait;

	if ((unsigned)gi >= QUOTA__COUNT)
		return (-1);
	if (now_ms < 0)
		now_ms = 0;
	g = &q->g[gi];
	pthread_mutex_lock(&q->mu);
	if ((wait = group_wait(g, now_ms)) > 0) {
		g->denied++;
		pthread_mutex_unlock(&q->mu);
		if (retry_ms)
			*retry_ms = wait;
		return (-1);
	}
	for (int k = 0; k < QUOTA__WINDOWS; k++)
		window_add(&g->w[k], k, now_ms);
	g->taken++;
	pthread_mutex_unlock(&q->mu);
	return (0);
}

long long
quota_retry_after_ms(struct quota *q, enum quota_group gi, long long now_ms)
{
	long long wait;

	if ((unsigned)gi >= QUOTA__COUNT)
		return (0);
	if (now_ms < 0)
		now_ms = 0;
	pthread_mutex_lock(&q->mu);
	wait = group_wait(&q->g[gi], now_ms);
	pthread_mutex_unlock(&q->mu);
	return (wait);
}

void
quota_throttled(struct quota *q, enum quota_group gi, long long now_ms,
    long long delay_ms)
{
	struct group *g;

	if ((unsigned)gi >= QUOTA__COUNT)
		return;
	if (delay_ms < 0)
		delay_ms = 0;
	if (delay_ms > QUOTA_MAX_CLOSE_MS)
		delay_ms = QUOTA_MAX_CLOSE_MS;
	g = &q->g[gi];
	pthread_mutex_lock(&q->mu);
	g->throttled++;
	/* a group without limits ("off") is not stewarded: never closed */
	if ((g->lim.limit[QUOTA_MIN] || g->lim.limit[QUOTA_HOUR]) &&
	    now_ms + delay_ms > g->closed_until)
		g->closed_until = now_ms + delay_ms;
	pthread_mutex_unlock(&q->mu);
}

void
quota_called(struct quota *q, enum quota_group gi, long long now_ms)
{
	struct made *m;

	if ((unsigned)gi >= QUOTA__COUNT)
		return;
	if (now_ms < 0)
		now_ms = 0;
	m = &q->g[gi].made;
	pthread_mutex_lock(&q->mu);
	for (int k = 0; k < QUOTA__WINDOWS; k++) {
		long long	 cur = now_ms / slot_ms[k];
		int		 i = (int)(cur % QUOTA_MADE_SLOTS);

		if (m->slot[k][i] != cur) {
			m->slot[k][i] = cur;
			m->cnt[k][i] = 0;
		}
		m->cnt[k][i]++;
	}
	m->total++;
	pthread_mutex_unlock(&q->mu);
}

/* q->mu held: calls made in window k's current period and the 59 before. */
static unsigned long
made_count(const struct made *m, int k, long long now)
{
	long long	 cur = now / slot_ms[k];
	unsigned long	 n = 0;

	for (int i = 0; i < QUOTA_MADE_SLOTS; i++)
		if (m->slot[k][i] > cur - QUOTA_MADE_SLOTS &&
		    m->slot[k][i] <= cur)
			n += m->cnt[k][i];
	return (n);
}

void
quota_view(struct quota *q, enum quota_group gi, long long now_ms,
    struct quota_view *v)
{
	struct group *g;

	memset(v, 0, sizeof(*v));
	if ((unsigned)gi >= QUOTA__COUNT)
		return;
	if (now_ms < 0)
		now_ms = 0;
	g = &q->g[gi];
	pthread_mutex_lock(&q->mu);
	v->lim = g->lim;
	for (int k = 0; k < QUOTA__WINDOWS; k++) {
		struct window	*w = &g->w[k];
		long		 byb, byc;

		refill(w, now_ms);
		v->calls[k] = window_count(w, k, now_ms);
		v->made[k] = made_count(&g->made, k, now_ms);
		if (w->limit == 0) {
			v->remaining[k] = -1;
			continue;
		}
		byb = w->level > 0 ? (long)(w->level / span_ms[k]) : 0;
		byc = v->calls[k] >= w->limit ? 0 :
		    (long)(w->limit - v->calls[k]);
		v->remaining[k] = byb < byc ? byb : byc;
	}
	v->closed_ms = g->closed_until > now_ms ? g->closed_until - now_ms : 0;
	v->taken = g->taken;
	v->denied = g->denied;
	v->throttled = g->throttled;
	v->made_total = g->made.total;
	pthread_mutex_unlock(&q->mu);
}

/*
 * sim_quota.c: the per-tenant call quotas of the simulated APIs, and the
 * counters that show what a client really sent.
 *
 * Each quota group (incidents, hunting, mde, graph) has up to two windows
 * ("50/min,1500/h"). A window is a sliding log: the times of the last
 * `limit` admitted calls in a ring. A call is refused when the ring is full
 * and its oldest call is still inside the window; Retry-After is the time
 * until that oldest call leaves it, so a client that waits as told gets
 * through. Sliding rather than fixed windows because "maximum allowed 50
 * per 00:01:00" does not say where a minute starts: a fixed window lets
 * 2x the limit through across a boundary, and a client that keeps within
 * every sliding window keeps within any fixed one, whatever its phase. So
 * the sim is the strict reading of the documented quota.
 * Refused calls do not use the quota (they were not run).
 *
 * The counters run whether or not the quota is enforced: every call the
 * API front sees for a group (after the bearer and role checks), per
 * second for the last hour (the most calls seen in any 60 and any 3600
 * whole seconds, which errs high by under a second) and per minute since
 * the counters started (the last SIM_QUOTA_MINUTES of them), with the
 * 429s among them.
 *
 * Threads: any; one mutex per struct sim_quota guards it all. Time: every
 * call takes now_ms (a monotonic clock in ms) from the caller, so tests
 * control time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sim_int.h"
#include "util.h"

static const char *const group_names[SIM_QUOTA_N] = {
	"incidents", "hunting", "mde", "graph"
};

/* What the APIs document (hunting: the 45/min floor of all backends). */
static const char *const group_defaults[SIM_QUOTA_N] = {
	"50/min,1500/h", "45/min", "100/min,1500/h", "150/min"
};

const char *
sim_quota_group_name(int g)
{
	return (g >= 0 && g < SIM_QUOTA_N ? group_names[g] : NULL);
}

int
sim_quota_group_find(const char *name)
{
	for (int g = 0; name != NULL && g < SIM_QUOTA_N; g++)
		if (strcmp(name, group_names[g]) == 0)
			return (g);
	return (-1);
}

const char *
sim_quota_default(int g)
{
	return (g >= 0 && g < SIM_QUOTA_N ? group_defaults[g] : NULL);
}

/* One "N/unit" item: unit min, m, minute, h, hour, s or Ks (K seconds). */
static int
parse_item(const char *p, size_t n, unsigned *limit, long long *span_ms)
{
	char		 item[48], *slash, *u;
	long long	 v, k = 1;

	if (n == 0 || n >= sizeof(item))
		return (-1);
	memcpy(item, p, n);
	item[n] = '\0';
	if ((slash = strchr(item, '/')) == NULL)
		return (-1);
	*slash = '\0';
	u = slash + 1;
	if (util_parse_ll(item, 1, SIM_QUOTA_MAX_LIMIT, &v) == -1)
		return (-1);
	*limit = (unsigned)v;
	if (strcmp(u, "min") == 0 || strcmp(u, "m") == 0 ||
	    strcmp(u, "minute") == 0)
		*span_ms = 60 * 1000LL;
	else if (strcmp(u, "h") == 0 || strcmp(u, "hour") == 0)
		*span_ms = 3600 * 1000LL;
	else if (*u != '\0' && u[strlen(u) - 1] == 's') {
		u[strlen(u) - 1] = '\0';
		if (*u != '\0' && util_parse_ll(u, 1, 86400, &k) == -1)
			return (-1);
		*span_ms = k * 1000;
	} else
		return (-1);
	return (0);
}

int
sim_quota_parse(const char *spec, unsigned limit[SIM_QUOTA_WINDOWS],
    long long span_ms[SIM_QUOTA_WINDOWS])
{
	const char	*p, *e;
	int		 n = 0;

	memset(limit, 0, SIM_QUOTA_WINDOWS * sizeof(*limit));
	memset(span_ms, 0, SIM_QUOTA_WINDOWS * sizeof(*span_ms));
	if (spec == NULL)
		return (-1);
	if (strcmp(spec, "off") == 0)
		return (0);
	for (p = spec; ; p = e + 1) {
		while (*p == ' ')
			p++;
		e = p + strcspn(p, ",");
		if (n == SIM_QUOTA_WINDOWS ||
		    parse_item(p, (size_t)(e - p), &limit[n], &span_ms[n]) == -1)
			return (-1);
		n++;
		if (*e == '\0')
			return (0);
	}
}

static void
window_free(struct sim_window *w)
{
	free(w->t);
	memset(w, 0, sizeof(*w));
}

void
sim_quota_init(struct sim_quota *q)
{
	memset(q, 0, sizeof(*q));
	pthread_mutex_init(&q->mtx, NULL);
}

void
sim_quota_free(struct sim_quota *q)
{
	for (int g = 0; g < SIM_QUOTA_N; g++)
		for (int i = 0; i < SIM_QUOTA_WINDOWS; i++)
			window_free(&q->w[g][i]);
	pthread_mutex_destroy(&q->mtx);
}

int
sim_quota_set(struct sim_quota *q, int enabled, int g, const char *spec)
{
	unsigned	 lim[SIM_QUOTA_WINDOWS];
	long long	 span[SIM_QUOTA_WINDOWS];

	if (g >= 0 && spec != NULL && sim_quota_parse(spec, lim, span) == -1)
		return (-1);
	pthread_mutex_lock(&q->mtx);
	if (enabled >= 0)
		q->enabled = enabled;
	if (g >= 0 && g < SIM_QUOTA_N && spec != NULL) {
		/* new limits start with an empty log */
		for (int i = 0; i < SIM_QUOTA_WINDOWS; i++) {
			window_free(&q->w[g][i]);
			q->w[g][i].limit = lim[i];
			q->w[g][i].span_ms = span[i];
			if (lim[i] > 0)
				q->w[g][i].t = xcalloc(lim[i],
				    sizeof(long long));
		}
		snprintf(q->spec[g], sizeof(q->spec[g]), "%s", spec);
	}
	pthread_mutex_unlock(&q->mtx);
	return (0);
}

void
sim_quota_zero(struct sim_quota *q, long long now_ms)
{
	pthread_mutex_lock(&q->mtx);
	memset(q->c, 0, sizeof(q->c));
	q->t0_ms = now_ms;
	for (int g = 0; g < SIM_QUOTA_N; g++) {
		q->c[g].sec = now_ms / 1000;
		for (int i = 0; i < SIM_QUOTA_WINDOWS; i++) {
			q->w[g][i].n = q->w[g][i].head = 0;
		}
	}
	pthread_mutex_unlock(&q->mtx);
}

/* Move group g's per-second ring to second `sec`. Locked. */
static void
advance(struct sim_counts *c, long long sec)
{
	long long	 s;

	if (sec <= c->sec)
		return;
	if (sec - c->sec >= SIM_QUOTA_SECS) {
		memset(c->persec, 0, sizeof(c->persec));
		c->sum60 = c->sum3600 = 0;
		c->sec = sec;
		return;
	}
	for (s = c->sec + 1; s <= sec; s++) {
		/* second s-60 leaves the minute, s-3600 the hour (seconds
		   before the clock's zero never counted anything) */
		if (s >= 60)
			c->sum60 -= c->persec[(s - 60) % SIM_QUOTA_SECS];
		c->sum3600 -= c->persec[s % SIM_QUOTA_SECS];
		c->persec[s % SIM_QUOTA_SECS] = 0;
	}
	c->sec = sec;
}

/* Move group g's per-minute ring to minute `min`. Locked. */
static void
advance_minute(struct sim_counts *c, long long min)
{
	for (long long m = c->minute + 1; m <= min &&
	    m <= c->minute + SIM_QUOTA_MINUTES; m++) {
		c->min_calls[m % SIM_QUOTA_MINUTES] = 0;
		c->min_429[m % SIM_QUOTA_MINUTES] = 0;
	}
	if (min > c->minute)
		c->minute = min;
}

/* Count one call of group g (throttled or not). Locked. */
static void
count(struct sim_quota *q, int g, long long now_ms, int throttled)
{
	struct sim_counts	*c = &q->c[g];
	long long		 min = (now_ms - q->t0_ms) / 60000;

	advance(c, now_ms / 1000);
	c->persec[c->sec % SIM_QUOTA_SECS]++;
	c->sum60++;
	c->sum3600++;
	if (c->sum60 > c->max60)
		c->max60 = c->sum60;
	if (c->sum3600 > c->max3600)
		c->max3600 = c->sum3600;
	if (min < 0)
		min = 0;
	advance_minute(c, min);
	c->min_calls[min % SIM_QUOTA_MINUTES]++;
	c->calls++;
	if (throttled) {
		c->min_429[min % SIM_QUOTA_MINUTES]++;
		c->throttled++;
	}
}

long
sim_quota_take(struct sim_quota *q, int g, long long now_ms,
    unsigned *limit, long long *span_ms)
{
	struct sim_window	*w;
	long long		 wait = 0, left;

	if (g < 0 || g >= SIM_QUOTA_N)
		return (0);
	pthread_mutex_lock(&q->mtx);
	for (int i = 0; q->enabled && i < SIM_QUOTA_WINDOWS; i++) {
		w = &q->w[g][i];
		if (w->limit == 0 || w->n < w->limit)
			continue;
		left = w->t[w->head] + w->span_ms - now_ms;
		if (left > wait) {
			wait = left;
			if (limit != NULL)
				*limit = w->limit;
			if (span_ms != NULL)
				*span_ms = w->span_ms;
		}
	}
	if (wait == 0) {
		for (int i = 0; q->enabled && i < SIM_QUOTA_WINDOWS; i++) {
			w = &q->w[g][i];
			if (w->limit == 0)
				continue;
			w->t[(w->head + w->n) % w->limit] = now_ms;
			if (w->n < w->limit)
				w->n++;
			else
				w->head = (w->head + 1) % w->limit;
		}
	}
	count(q, g, now_ms, wait > 0);
	pthread_mutex_unlock(&q->mtx);
	return (wait > 0 ? (long)((wait + 999) / 1000) : 0);
}

cJSON *
sim_quota_json(struct sim_quota *q, long long now_ms)
{
	cJSON			*o = cJSON_CreateObject(), *gs, *go, *ms, *m;
	struct sim_counts	*c;
	long long		 first;

	pthread_mutex_lock(&q->mtx);
	cJSON_AddBoolToObject(o, "enabled", q->enabled);
	cJSON_AddNumberToObject(o, "seconds", (double)(now_ms - q->t0_ms) /
	    1000.0);
	gs = cJSON_AddObjectToObject(o, "groups");
	for (int g = 0; g < SIM_QUOTA_N; g++) {
		c = &q->c[g];
		advance(c, now_ms / 1000);
		advance_minute(c, (now_ms - q->t0_ms) / 60000);
		go = cJSON_AddObjectToObject(gs, group_names[g]);
		cJSON_AddStringToObject(go, "limits", q->spec[g]);
		cJSON_AddNumberToObject(go, "calls", (double)c->calls);
		cJSON_AddNumberToObject(go, "throttled", (double)c->throttled);
		cJSON_AddNumberToObject(go, "last_60s", (double)c->sum60);
		cJSON_AddNumberToObject(go, "max_60s", (double)c->max60);
		cJSON_AddNumberToObject(go, "max_3600s", (double)c->max3600);
		/* [calls, 429s] per minute since the counters started */
		ms = cJSON_AddArrayToObject(go, "minutes");
		first = c->minute - SIM_QUOTA_MINUTES + 1;
		if (first < 0)
			first = 0;
		for (long long i = first; i <= c->minute; i++) {
			m = cJSON_CreateArray();
			cJSON_AddItemToArray(m, cJSON_CreateNumber(
			    c->min_calls[i % SIM_QUOTA_MINUTES]));
			cJSON_AddItemToArray(m, cJSON_CreateNumber(
			    c->min_429[i % SIM_QUOTA_MINUTES]));
			cJSON_AddItemToArray(ms, m);
		}
	}
	pthread_mutex_unlock(&q->mtx);
	return (o);
}

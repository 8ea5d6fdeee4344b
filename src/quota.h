/*
 * quota.c: local rate limits that keep defgate within the upstream APIs'
 * per-tenant quotas.
 *
 * One struct quota serves one tenant (defgate has one tenant per
 * configuration; a new tenant gets a new struct quota). It has one state
 * per quota group. Each group has up to two windows, a minute and an hour,
 * and each window is enforced two ways:
 *  - a token bucket: capacity `burst` (default: the limit), refilled at
 *    limit per window. It shapes bursts and gives Retry-After;
 *  - a count of the calls made in the window (61 slots of 1 s or 1 min; the
 *    oldest, partly outside the window, is counted whole, so the count
 *    errs high). A call is refused when the count has reached the limit.
 *    A token bucket alone lets a full bucket plus its refill through in
 *    one window (2x the limit); the count is what keeps "50 a minute"
 *    true in every 60 s, as the API counts it.
 * A call goes upstream only when every window of its group admits it. An
 * upstream 429 closes the group until its Retry-After has passed
 * (quota_throttled); meanwhile every take() is refused.
 *
 * Apart from the limits, each group counts the upstream calls actually
 * made (quota_called, one per exchange: a 401 retry is a second call, a
 * taken call that never left is none), in 60 per-second and 60 per-minute
 * slots. quota_view's made[] is exact for "the current second (minute)
 * and the 59 before it"; it is what /metrics and the status page show as
 * calls in the last minute and hour, whatever the limits (also "off").
 *
 * Defaults (document any change in README and etc/defgate.conf):
 *   incidents  50/min, 1500/h   Defender XDR incidents (list 50/min; get
 *                               100/min but the overall incident quota is
 *                               50/min, 1,500/h, shared with PATCH)
 *   hunting    45/min, 1500/h   every hunting call, on whichever backend
 *                               (XDR advanced hunting, Graph
 *                               runHuntingQuery, MDE advanced queries): one
 *                               bucket, because /hunting moves between
 *                               backends with the configuration and the
 *                               date; 45/min is the documented floor of all
 *                               three and 1,500/h is MDE's
 *   mde        100/min, 1500/h  MDE alerts and machines
 *   graph      150/min          Graph /security (incidents, alerts_v2);
 *                               no hourly limit is documented
 * Limits are settable per group (quota_parse_limit: "50/min,1500/h").
 *
 * Threads: any; one mutex per struct quota, held for arithmetic only.
 * Time: every call takes now_ms (a monotonic clock in ms) from the caller,
 * so tests control time; quota_parse_retry_after takes the wall clock.
 */
#ifndef DEFGATE_QUOTA_H
#define DEFGATE_QUOTA_H

#define QUOTA_MAX_LIMIT		1000000		/* calls per window */
#define QUOTA_MAX_CLOSE_MS	(3600 * 1000LL)	/* longest upstream 429 closure */
#define QUOTA_DEFAULT_CLOSE_MS	(60 * 1000LL)	/* 429 without a Retry-After */

enum quota_group {
	QUOTA_INCIDENTS = 0,
	QUOTA_HUNTING,
	QUOTA_MDE,
	QUOTA_GRAPH,
	QUOTA__COUNT
};

enum quota_window { QUOTA_MIN = 0, QUOTA_HOUR, QUOTA__WINDOWS };

/* One group's limits; 0 means no limit for that window. */
struct quota_limit {
	unsigned	 limit[QUOTA__WINDOWS];
	unsigned	 burst[QUOTA__WINDOWS];	/* 0: the limit */
};

/* What metrics and the status page show of one group. */
struct quota_view {
	struct quota_limit	 lim;
	long			 remaining[QUOTA__WINDOWS];	/* -1: no limit */
	unsigned long		 calls[QUOTA__WINDOWS];	/* in the window */
	long long		 closed_ms;	/* until an upstream 429 ends */
	unsigned long		 taken;		/* calls let through, ever */
	unsigned long		 denied;	/* refused locally, ever */
	unsigned long		 throttled;	/* upstream 429s, ever */
	unsigned long		 made[QUOTA__WINDOWS];	/* calls made (above) */
	unsigned long		 made_total;	/* calls made, ever */
};

struct quota;

/* "incidents", "hunting", "mde", "graph"; NULL when out of range. */
const char	*quota_group_name(enum quota_group);
/* The documented defaults above. */
void		 quota_defaults(struct quota_limit out[QUOTA__COUNT]);
/*
 * Parse a group's limits from configuration text: "50/min,1500/h",
 * "45/min", "100/m, 1500/hour", "off" (no limit). Each item may carry a
 * burst: "50/min:10". 0 or -1 with *why (static text) set.
 */
int		 quota_parse_limit(const char *s, struct quota_limit *out,
		    const char **why);
/*
 * An upstream Retry-After value: delta-seconds or an HTTP-date (IMF-fixdate,
 * RFC 850 or asctime form), relative to now_s (unix seconds). 0 with *ms
 * set (capped to QUOTA_MAX_CLOSE_MS, never negative), or -1 when absent
 * or malformed. Pure; any bytes.
 */
int		 quota_parse_retry_after(const char *v, long long now_s,
		    long long *ms);

/* NULL on OOM. Buckets start full. */
struct quota	*quota_new(const struct quota_limit lim[QUOTA__COUNT]);
void		 quota_free(struct quota *);
/* New limits (SIGHUP): counts and closures are kept, buckets clamped. */
void		 quota_set_limits(struct quota *,
		    const struct quota_limit lim[QUOTA__COUNT], long long now_ms);

/*
 * Ask for one upstream call now. 0: taken (counted in the windows);
 * -1: refused, *retry_ms (when not NULL) says when a call may go (>= 1).
 */
int		 quota_take(struct quota *, enum quota_group, long long now_ms,
		    long long *retry_ms);
/* 0 when a call could go now, else the wait in ms. Takes nothing. */
long long	 quota_retry_after_ms(struct quota *, enum quota_group,
		    long long now_ms);
/* The upstream answered 429: close the group for delay_ms (capped). A
 * group whose limits are off is counted but never closed. */
void		 quota_throttled(struct quota *, enum quota_group,
		    long long now_ms, long long delay_ms);
/* One upstream call of the group was made (or attempted) now. */
void		 quota_called(struct quota *, enum quota_group,
		    long long now_ms);
void		 quota_view(struct quota *, enum quota_group, long long now_ms,
		    struct quota_view *);

#endif

/*
 * metrics.c: the Prometheus text exposition format, version 0.0.4, for
 * GET /metrics. A renderer and a histogram, nothing else:
 * what is counted lives with whoever counts it.
 *
 * Rendering writes into a caller's struct buf (buf.h, capped): one
 * metrics_family() line pair (# HELP, # TYPE) per metric family, then its
 * samples. Names are checked ([a-zA-Z_:][a-zA-Z0-9_:]*, labels
 * [a-zA-Z_][a-zA-Z0-9_]*, no reserved "__" labels), label values and
 * HELP text are escaped (\\, \", \n). Labels are passed as a NULL-ended
 * array of name, value pairs. Every function returns 0, or -1 when a name
 * is invalid or the buffer is full (then the output is truncated: the
 * caller answers 500, never a partial exposition).
 * Renderer: one thread at a time per struct buf; no state of its own.
 *
 * Histograms: fixed upper bounds given at init (ascending, finite), one
 * atomic counter per bucket and an atomic sum in microseconds, so any
 * thread may observe while another renders; the rendered _bucket series is
 * cumulative, ends with le="+Inf", and equals _count.
 */
#ifndef DEFGATE_METRICS_H
#define DEFGATE_METRICS_H

#include <stdatomic.h>

struct buf;

#define METRICS_CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"
#define METRICS_MAX_BUCKETS	24

enum metrics_type { METRICS_COUNTER, METRICS_GAUGE, METRICS_HISTOGRAM };

struct metrics_hist {
	int			 nb;
	double			 le[METRICS_MAX_BUCKETS];
	atomic_ullong		 n[METRICS_MAX_BUCKETS + 1];	/* last: +Inf */
	atomic_ullong		 sum_us;
};

/* "# HELP name help" and "# TYPE name type". */
int	 metrics_family(struct buf *, const char *name, enum metrics_type,
	    const char *help);
/* "name{labels} value" for a count and for any double (NaN, +Inf...). */
int	 metrics_u64(struct buf *, const char *name,
	    const char *const *labels, unsigned long long v);
int	 metrics_f64(struct buf *, const char *name,
	    const char *const *labels, double v);

/* Bounds in seconds, ascending; -1 when not (or too many). */
int	 metrics_hist_init(struct metrics_hist *, const double *le, int n);
/* Any thread: one observation of us microseconds (negative: 0). */
void	 metrics_hist_observe_us(struct metrics_hist *, long long us);
/* name_bucket{labels,le}, name_sum{labels} (seconds), name_count{labels}. */
int	 metrics_hist(struct buf *, const char *name,
	    const char *const *labels, struct metrics_hist *);

#endif

/*
 * metrics.c: Prometheus text format 0.0.4 (see metrics.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "metrics.h"

#define METRICS_MAX_NAME	128
#define METRICS_SUFFIX		16	/* room for "_bucket" and the like */

static int
name_ok(const char *s, int label)
{
	size_t n = 0;

	if (s == NULL || *s == '\0')
		return (0);
	if (label && s[0] == '_' && s[1] == '_')
		return (0);	/* reserved for Prometheus itself */
	for (; s[n]; n++) {
		char c = s[n];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    c == '_' || (!label && c == ':') ||
		    (n > 0 && c >= '0' && c <= '9')))
			return (0);
	}
	return (n <= METRICS_MAX_NAME);
}

/* Escape s: label values escape '"' too, HELP text does not. */
static int
put_escaped(struct buf *b, const char *s, int quote)
{
	const char *run = s;

	for (; *s; s++) {
		const char *rep = NULL;

		if (*s == '\\')
			rep = "\\\\";
		else if (*s == '\n')
			rep = "\\n";
		else if (quote && *s == '"')
			rep = "\\\"";
		if (rep == NULL)
			continue;
		if (buf_append(b, run, (size_t)(s - run)) == -1 ||
		    buf_addstr(b, rep) == -1)
			return (-1);
		run = s + 1;
	}
	return (buf_addstr(b, run));
}

int
metrics_family(struct buf *b, const char *name, enum metrics_type t,
    const char *help)
{
	static const char *const types[] = { "counter", "gauge", "histogram" };

	if (!name_ok(name, 0) || (unsigned)t > METRICS_HISTOGRAM)
		return (-1);
	if (buf_printf(b, "# HELP %s ", name) == -1 ||
	    put_escaped(b, help ? help : "", 0) == -1 ||
	    buf_printf(b, "\n# TYPE %s %s\n", name, types[t]) == -1)
		return (-1);
	return (0);
}

/* name{l1="v1",...[,extra="ev"]} with a trailing space. */
static int
series(struct buf *b, const char *name, const char *suffix,
    const char *const *labels, const char *extra, const char *ev)
{
	int first = 1;

	if (!name_ok(name, 0) || buf_addstr(b, name) == -1 ||
	    (suffix && buf_addstr(b, suffix) == -1))
		return (-1);
	for (; labels && labels[0]; labels += 2) {
		if (!name_ok(labels[0], 1) || labels[1] == NULL)
			return (-1);
		if (buf_printf(b, "%s%s=\"", first ? "{" : ",", labels[0]) ==
		    -1 || put_escaped(b, labels[1], 1) == -1 ||
		    buf_addstr(b, "\"") == -1)
			return (-1);
		first = 0;
	}
	if (extra && (buf_printf(b, "%s%s=\"", first ? "{" : ",", extra) ==
	    -1 || put_escaped(b, ev, 1) == -1 || buf_addstr(b, "\"") == -1))
		return (-1);
	if ((!first || extra) && buf_addstr(b, "}") == -1)
		return (-1);
	return (buf_addstr(b, " "));
}

/* The shortest text that reads back as v; Prometheus' spellings of the
 * special values. out >= 32 bytes. */
static void
fmt_double(char *out, size_t n, double v)
{
	if (isnan(v)) {
		snprintf(out, n, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(out, n, "%s", v > 0 ? "+Inf" : "-Inf");
		return;
	}
	for (int p = 1; p <= 17; p++) {
		snprintf(out, n, "%.*g", p, v);
		if (strtod(out, NULL) == v)
			return;
	}
}

int
metrics_u64(struct buf *b, const char *name, const char *const *labels,
    unsigned long long v)
{
	if (series(b, name, NULL, labels, NULL, NULL) == -1)
		return (-1);
	return (buf_printf(b, "%llu\n", v));
}

int
metrics_f64(struct buf *b, const char *name, const char *const *labels,
    double v)
{
	char num[40];

	if (series(b, name, NULL, labels, NULL, NULL) == -1)
		return (-1);
	fmt_double(num, sizeof(num), v);
	return (buf_printf(b, "%s\n", num));
}

int
metrics_hist_init(struct metrics_hist *h, const double *le, int n)
{
	memset(h, 0, sizeof(*h));
	if (n < 0 || n > METRICS_MAX_BUCKETS)
		return (-1);
	for (int i = 0; i < n; i++) {
		if (!isfinite(le[i]) || (i > 0 && le[i] <= le[i - 1]))
			return (-1);
		h->le[i] = le[i];
	}
	h->nb = n;
	for (int i = 0; i <= n; i++)
		atomic_init(&h->n[i], 0);
	atomic_init(&h->sum_us, 0);
	return (0);
}

void
metrics_hist_observe_us(struct metrics_hist *h, long long us)
{
	double	 s;
	int	 i;

	if (us < 0)
		us = 0;
	s = (double)us / 1e6;
	for (i = 0; i < h->nb && s > h->le[i]; i++)
		;
	atomic_fetch_add_explicit(&h->n[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_us, (unsigned long long)us,
	    memory_order_relaxed);
}

int
metrics_hist(struct buf *b, const char *name, const char *const *labels,
    struct metrics_hist *h)
{
	unsigned long long	 cum = 0, sum_us;
	char			 le[40];

	if (strlen(name) > METRICS_MAX_NAME - METRICS_SUFFIX)
		return (-1);
	sum_us = atomic_load_explicit(&h->sum_us, memory_order_relaxed);
	for (int i = 0; i <= h->nb; i++) {
		cum += atomic_load_explicit(&h->n[i], memory_order_relaxed);
		if (i < h->nb)
			fmt_double(le, sizeof(le), h->le[i]);
		else
			snprintf(le, sizeof(le), "+Inf");
		if (series(b, name, "_bucket", labels, "le", le) == -1 ||
		    buf_printf(b, "%llu\n", cum) == -1)
			return (-1);
	}
	fmt_double(le, sizeof(le), (double)sum_us / 1e6);
	if (series(b, name, "_sum", labels, NULL, NULL) == -1 ||
	    buf_printf(b, "%s\n", le) == -1 ||
	    series(b, name, "_count", labels, NULL, NULL) == -1 ||
	    buf_printf(b, "%llu\n", cum) == -1)
		return (-1);
	return (0);
}

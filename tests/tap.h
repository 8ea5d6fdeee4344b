/*
 * tap.h: a tiny header-only TAP producer for the unit tests (picotest-like).
 *
 *	plan_lazy();
 *	ok(cond, "name %d", n);  is_int(got, want, "name");
 *	is_str(got, want, "name");  like(str, "substring", "name");
 *	unlike(str, "substring", "name");  diag("fmt", ...);
 *	return (done_testing());	prints "1..N", returns the exit status
 *
 * Failures print "# " diagnostic lines (file:line, got/expected). The exit
 * status is non-zero when any test failed. Everything is static inline so
 * any number of test files can include it.
 */
#ifndef DEFGATE_TAP_H
#define DEFGATE_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct tap_state {
	int	 run;
	int	 failed;
};

static inline struct tap_state *
tap_state(void)
{
	static struct tap_state s;

	return (&s);
}

static inline void tap_diag(const char *, ...)
    __attribute__((__format__(__printf__, 1, 2)));
static inline void
tap_diag(const char *fmt, ...)
{
	char	 text[8192];
	const char *p = text, *nl;
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	do {		/* every line of the text becomes a "# " line */
		nl = strchr(p, '\n');
		printf("# %.*s\n", (int)(nl ? (size_t)(nl - p) : strlen(p)), p);
		p = nl + 1;
	} while (nl != NULL && *p != '\0');
	fflush(stdout);
}

static inline int tap_ok(int, const char *, int, const char *, ...)
    __attribute__((__format__(__printf__, 4, 5)));
static inline int
tap_ok(int cond, const char *file, int line, const char *fmt, ...)
{
	struct tap_state *s = tap_state();
	va_list ap;

	s->run++;
	printf("%sok %d - ", cond ? "" : "not ", s->run);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond) {
		s->failed++;
		tap_diag("  Failed test at %s line %d", file, line);
	}
	fflush(stdout);
	return (cond);
}

/* Print a possibly-NULL string for diagnostics. */
#define TAP_S(s)	((s) ? "\"" : ""), ((s) ? (s) : "NULL"), ((s) ? "\"" : "")

static inline int
tap_is_int(long long got, long long want, const char *name,
    const char *file, int line)
{
	int r = tap_ok(got == want, file, line, "%s", name);

	if (!r)
		tap_diag("       got: %lld\n  expected: %lld", got, want);
	return (r);
}

static inline int
tap_is_str(const char *got, const char *want, const char *name,
    const char *file, int line)
{
	int eq = (got == NULL || want == NULL) ? got == want :
	    strcmp(got, want) == 0;
	int r = tap_ok(eq, file, line, "%s", name);

	if (!r)
		tap_diag("       got: %s%s%s\n  expected: %s%s%s",
		    TAP_S(got), TAP_S(want));
	return (r);
}

static inline int
tap_like(const char *str, const char *sub, int want, const char *name,
    const char *file, int line)
{
	int found = str != NULL && sub != NULL && strstr(str, sub) != NULL;
	int r = tap_ok(str != NULL && found == want, file, line, "%s", name);

	if (!r)
		tap_diag("   %s: %s%s%s\n   %s: \"%s\"", "string", TAP_S(str),
		    want ? "should contain" : "should not contain",
		    sub ? sub : "NULL");
	return (r);
}

static inline int
tap_done_testing(void)
{
	struct tap_state *s = tap_state();

	printf("1..%d\n", s->run);
	if (s->failed)
		tap_diag("Looks like you failed %d test%s of %d.", s->failed,
		    s->failed == 1 ? "" : "s", s->run);
	fflush(stdout);
	return (s->failed ? 1 : 0);
}

#define plan_lazy()		((void)tap_state())
#define done_testing()		tap_done_testing()
#define diag(...)		tap_diag(__VA_ARGS__)
#define ok(cond, ...)		tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, name)	tap_is_int((long long)(got), \
				    (long long)(want), (name), __FILE__, __LINE__)
#define is_str(got, want, name)	tap_is_str((got), (want), (name), \
				    __FILE__, __LINE__)
#define like(str, sub, name)	tap_like((str), (sub), 1, (name), \
				    __FILE__, __LINE__)
#define unlike(str, sub, name)	tap_like((str), (sub), 0, (name), \
				    __FILE__, __LINE__)

#endif

/*
 * timeshift.c: a test-only LD_PRELOAD shim that moves defgate's own wall
 * clock. DEFGATE_TEST_TIME_AT=<unix seconds> makes time() return that
 * moment plus the seconds elapsed since the process started, for calls
 * made from the defgate executable itself only: libcurl and OpenSSL (TLS
 * certificate checks against the simulator's short-lived certificate) keep
 * the real time. Never installed; set by tests/t85_retirement.sh only, so
 * no HTTP client can reach this clock.
 *
 * Single-threaded initialisation on first use is racy only in that two
 * threads may both compute the same offset; the result is the same.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long long	offset;
static int		ready;

static time_t
real_time(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (ts.tv_sec);
}

static int
from_executable(const void *ra)
{
	Dl_info i;

	if (dladdr(ra, &i) == 0 || i.dli_fname == NULL)
		return (0);
	/* shared objects (libc, libcurl, libcrypto...) keep the real time */
	return (strstr(i.dli_fname, ".so") == NULL);
}

time_t
time(time_t *out)
{
	time_t t = real_time();

	if (!ready) {
		const char *at = getenv("DEFGATE_TEST_TIME_AT");

		offset = at ? strtoll(at, NULL, 10) - (long long)t : 0;
		ready = 1;
	}
	if (from_executable(__builtin_return_address(0)))
		t += (time_t)offset;
	if (out)
		*out = t;
	return (t);
}

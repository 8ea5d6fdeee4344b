/*
 * util.c: small shared helpers. Thread-safe.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "log.h"
#include "util.h"

long long
util_now(void)
{
	return ((long long)time(NULL));
}

long long
util_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

char *
util_strndup(const char *s, size_t n)
{
	char *p;

	if ((p = malloc(n + 1)) == NULL)
		return (NULL);
	memcpy(p, s, n);
	p[n] = '\0';
	return (p);
}

void *
xmalloc(size_t n)
{
	void *p;

	if ((p = malloc(n ? n : 1)) == NULL)
		fatal("xmalloc: %zu bytes", n);
	return (p);
}

void *
xcalloc(size_t n, size_t size)
{
	void *p;

	if ((p = calloc(n ? n : 1, size ? size : 1)) == NULL)
		fatal("xcalloc: %zu x %zu bytes", n, size);
	return (p);
}

char *
xstrdup(const char *s)
{
	char *p;

	if ((p = strdup(s)) == NULL)
		fatal("xstrdup");
	return (p);
}

/*
 * Request ids need to be unique, not secret: a per-thread xorshift seeded
 * once from the OpenSSL DRBG keeps RAND_bytes off the request path.
 */
static _Thread_local unsigned long long uuid_state[2];

static unsigned long long
uuid_next(void)
{
	unsigned long long s1 = uuid_state[0], s0 = uuid_state[1];

	uuid_state[0] = s0;
	s1 ^= s1 << 23;
	uuid_state[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
	return (uuid_state[1] + s0);
}

void
util_uuid(char out[37])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char	 b[16];
	unsigned long long a, c;
	int		 i, j;

	if (uuid_state[0] == 0 && uuid_state[1] == 0) {
		if (RAND_bytes((unsigned char *)uuid_state,
		    sizeof(uuid_state)) != 1)
			uuid_state[0] = (unsigned long long)time(NULL) |
			    1ULL << 40;
		uuid_state[1] |= 1;
	}
	a = uuid_next();
	c = uuid_next();
	memcpy(b, &a, 8);
	memcpy(b + 8, &c, 8);
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	for (i = 0, j = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[j++] = '-';
		out[j++] = hex[b[i] >> 4];
		out[j++] = hex[b[i] & 15];
	}
	out[j] = '\0';
}

void
util_free_secret(char *s)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}

int
util_parse_ll(const char *s, long long min, long long max, long long *out)
{
	char		*end;
	long long	 v;

	if (s == NULL || *s == '\0')
		return (-1);
	for (const char *p = s; *p; p++)
		if ((*p < '0' || *p > '9') && !(p == s && *p == '-'))
			return (-1);
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return (-1);
	*out = v;
	return (0);
}

void
util_iso8601(long long t, char *out, size_t outlen)
{
	struct tm	 tm;
	time_t		 tt = (time_t)t;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, outlen, "%lld", t);
}

int
util_strieq(const char *a, size_t alen, const char *b)
{
	return (strlen(b) == alen && strncasecmp(a, b, alen) == 0);
}

/*
 * fuzz.h: shared helpers for the libFuzzer harnesses in tests/fuzz/.
 *
 * A broken invariant aborts, so libFuzzer saves the input as a crash
 * artifact exactly as it does for a sanitizer report.
 */
#ifndef DEFGATE_FUZZ_H
#define DEFGATE_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: invariant broken: %s\n",	\
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* An exactly-sized heap copy, so ASan flags any read past its end. */
static inline char *
fuzz_dup(const void *p, size_t n)
{
	char *d = malloc(n ? n : 1);

	if (d == NULL)
		abort();
	if (n)
		memcpy(d, p, n);
	return (d);
}

/* A NUL-terminated heap copy (embedded NULs cut the string short). */
static inline char *
fuzz_strdup(const void *p, size_t n)
{
	char *d = malloc(n + 1);

	if (d == NULL)
		abort();
	if (n)
		memcpy(d, p, n);
	d[n] = '\0';
	return (d);
}

/* 1 when s (NUL-terminated within n bytes) holds a NUL in [0, n). */
static inline int
fuzz_terminated(const char *s, size_t n)
{
	return (memchr(s, '\0', n) != NULL);
}

#endif

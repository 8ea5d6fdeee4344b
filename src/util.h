/*
 * util.c: small helpers shared by several modules. Pure, thread-safe.
 */
#ifndef DEFGATE_UTIL_H
#define DEFGATE_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Wall clock in seconds and a monotonic clock in milliseconds. */
long long	 util_now(void);
long long	 util_mono_ms(void);
/* malloc'd copy or NULL; xstrdup/xmalloc abort on OOM (startup only). */
char		*util_strndup(const char *, size_t);
void		*xmalloc(size_t);
void		*xcalloc(size_t, size_t);
char		*xstrdup(const char *);
/* Fills out[37] with a random RFC 4122 version 4 UUID. */
void		 util_uuid(char out[37]);
/* Zero and free a NUL-terminated secret; NULL is fine. */
void		 util_free_secret(char *);
/* Strict decimal parsing: 0 on success, -1 when not all digits/out of range. */
int		 util_parse_ll(const char *, long long min, long long max,
		    long long *out);
/* Format a unix time as "2026-11-21T10:00:00Z" into out (>= 21 bytes). */
void		 util_iso8601(long long t, char *out, size_t outlen);
/* Case-insensitive equality of a length-bounded token and a C string. */
int		 util_strieq(const char *a, size_t alen, const char *b);

#endif

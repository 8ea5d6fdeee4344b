/*
 * test_rcache.c: the response cache store (src/rcache.c): keys, TTL and the
 * stale window, the byte bound with LRU eviction, the size share, readers
 * outliving eviction, invalidation (one key, a prefix, the generation) and
 * concurrent readers against a writer (run under TSan by scripts/test).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rcache.h"
#include "tap.h"

static const struct rcache_hdr hdrs[] = {
	{ "Content-Type", "application/json; odata.metadata=minimal" },
	{ "request-id", "abc-123" },
};

/* Build and insert key -> body; returns rcache_insert()'s result. */
static int
put(struct rcache *c, const char *key, const char *body, long long now,
    long long ttl)
{
	struct rcache_entry *e;

	e = rcache_entry_new(key, strlen(key), body, strlen(body), hdrs, 2,
	    now, ttl);
	if (e == NULL)
		return (-2);
	return (rcache_insert(c, e, rcache_gen(c)));
}

static enum rcache_state
get(struct rcache *c, const char *key, long long now, char *body, size_t n)
{
	struct rcache_entry	*e;
	enum rcache_state	 st;

	st = rcache_lookup(c, key, strlen(key), now, &e);
	if (body)
		snprintf(body, n, "%s", e ? e->body : "");
	rcache_entry_unref(e);
	return (st);
}

static void
test_key(void)
{
	char	 k[128];
	long	 n;

	n = rcache_key(k, sizeof(k), "https://api.security.microsoft.com",
	    "/api/incidents?$top=2", 21, "incidents");
	is_str(k, "https://api.security.microsoft.com\n/api/incidents?$top=2"
	    "\nincidents", "key layout: audience, path?query, route");
	is_int(n, (long)strlen(k), "key length returned");
	is_int(rcache_key(k, sizeof(k), "a", "/x\ny", 4, "r"), -1,
	    "a newline in the path is refused");
	is_int(rcache_key(k, sizeof(k), "a\n", "/x", 2, "r"), -1,
	    "a newline in the audience is refused");
	is_int(rcache_key(k, 8, "aud", "/path", 5, "route"), -1,
	    "a key longer than the buffer is refused");
	n = rcache_key(k, sizeof(k), "a", "/x?q=\0z", 7, "r");
	is_int(n, 11, "the path is taken byte for byte (NUL included)");
	ok(memcmp(k, "a\n/x?q=\0z\nr", 12) == 0, "... and copied as is");
}

static void
test_fresh_stale_miss(void)
{
	struct rcache		*c = rcache_new(1 << 20, 50, 10000);
	struct rcache_entry	*e;
	struct rcache_stats	 st;
	char			 b[64];

	is_int(put(c, "k1", "{\"value\":[1]}", 1000, 5000), 0, "insert");
	is_int(get(c, "k1", 1000, b, sizeof(b)), RCACHE_FRESH,
	    "fresh at once");
	is_str(b, "{\"value\":[1]}", "the body byte for byte");
	is_int(get(c, "k1", 5999, NULL, 0), RCACHE_FRESH,
	    "fresh 1 ms before the TTL ends");
	is_int(get(c, "k1", 6000, NULL, 0), RCACHE_STALE,
	    "stale when the TTL has passed");
	is_int(get(c, "k1", 15999, NULL, 0), RCACHE_STALE,
	    "still stale at the end of stale_max_age");
	is_int(get(c, "k1", 16000, NULL, 0), RCACHE_MISS,
	    "a miss past stale_max_age");
	rcache_stats(c, &st);
	is_int(st.entries, 0, "the dead entry was dropped");
	is_int(st.bytes, 0, "... and its bytes");
	is_int(st.hits, 2, "2 hits counted");
	is_int(st.misses, 3, "stale and missing lookups are misses");
	is_int(get(c, "nope", 0, NULL, 0), RCACHE_MISS, "unknown key: miss");

	is_int(put(c, "k2", "x", 0, 10000), 0, "insert k2");
	is_int(rcache_lookup(c, "k2", 2, 2500, &e), RCACHE_FRESH, "lookup k2");
	is_str(rcache_entry_header(e, "content-type"),
	    "application/json; odata.metadata=minimal",
	    "Content-Type kept (case-insensitive name)");
	is_str(rcache_entry_header(e, "Request-Id"), "abc-123",
	    "request-id kept");
	ok(rcache_entry_header(e, "Retry-After") == NULL,
	    "no header that was not stored");
	is_int(rcache_entry_age_s(e, 2500), 2, "Age in whole seconds");
	is_int(rcache_entry_age_s(e, -5), 0, "Age is never negative");
	rcache_entry_unref(e);
	rcache_served_stale(c);
	rcache_stats(c, &st);
	is_int(st.stale, 1, "stale answers served are counted");

	is_int(put(c, "k3", "x", 0, 0), -1, "TTL 0: not stored");
	rcache_free(c);

	c = rcache_new(0, 100, 0);
	is_int(put(c, "k", "x", 0, 1000), -1, "a cache sized 0 stores nothing");
	rcache_free(c);
}

static void
test_bound_lru(void)
{
	struct rcache		*c;
	struct rcache_entry	*e, *held;
	struct rcache_stats	 st;
	char			 body[1000];
	size_t			 one;

	memset(body, 'a', sizeof(body) - 1);
	body[sizeof(body) - 1] = '\0';
	e = rcache_entry_new("A", 1, body, strlen(body), hdrs, 2, 0, 1000);
	one = e->cost;
	rcache_entry_unref(e);
	ok(one > 999, "an entry costs at least its body (%zu)", one);

	/* room for exactly three entries of this size */
	c = rcache_new(3 * one, 100, 0);
	is_int(put(c, "A", body, 0, 100000), 0, "A");
	is_int(put(c, "B", body, 0, 100000), 0, "B");
	is_int(put(c, "C", body, 0, 100000), 0, "C");
	rcache_stats(c, &st);
	is_int(st.bytes, 3 * one, "three entries: bytes add up");
	is_int(get(c, "A", 1, NULL, 0), RCACHE_FRESH, "touch A");
	(void)rcache_lookup(c, "B", 1, 1, &held);
	ok(held != NULL, "a reader holds B");
	(void)get(c, "C", 1, NULL, 0);
	(void)get(c, "A", 1, NULL, 0);
	/* LRU order now (old -> new): B C A; D evicts B */
	is_int(put(c, "D", body, 2, 100000), 0, "D");
	rcache_stats(c, &st);
	is_int(st.entries, 3, "still three entries");
	ok(st.bytes <= 3 * one, "bytes within cache_max_bytes (%lu)",
	    st.bytes);
	is_int(st.evictions, 1, "one eviction");
	is_int(get(c, "B", 3, NULL, 0), RCACHE_MISS,
	    "the least recently used entry (B) was evicted");
	is_int(get(c, "A", 3, NULL, 0), RCACHE_FRESH, "A kept");
	is_int(get(c, "C", 3, NULL, 0), RCACHE_FRESH, "C kept");
	ok(held->bodylen == strlen(body) && memcmp(held->body, body,
	    held->bodylen) == 0, "the reader of B still reads all of it "
	    "after its eviction");
	rcache_entry_unref(held);

	/* replacing a key frees the old bytes */
	is_int(put(c, "A", "short", 4, 100000), 0, "replace A");
	rcache_stats(c, &st);
	is_int(st.entries, 3, "replace: same count");
	ok(st.bytes < 3 * one, "replace: the smaller answer's bytes");
	rcache_free(c);

	/* the share: an answer over 10 % of the bound is never stored */
	c = rcache_new(10 * one, 10, 0);
	is_int(put(c, "A", body, 0, 1000), 0,
	    "an answer of exactly the share is stored");
	body[sizeof(body) - 2] = '\0';
	is_int(put(c, "B", body, 0, 1000), 0, "a smaller one too");
	{
		char big[2000];

		memset(big, 'b', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		is_int(put(c, "huge", big, 0, 1000), -1,
		    "an answer over the share is refused");
	}
	rcache_stats(c, &st);
	is_int(st.too_large, 1, "refusals for size are counted");
	is_int(st.entries, 2, "the refused answer evicted nothing");
	rcache_free(c);

	/* many small entries: the bound holds, whatever their number */
	c = rcache_new(20 * one, 10, 0);
	for (int i = 0; i < 500; i++) {
		char k[16];

		snprintf(k, sizeof(k), "k%d", i);
		(void)put(c, k, body, i, 100000);
	}
	rcache_stats(c, &st);
	ok(st.bytes <= 20 * one, "500 inserts: bytes %lu <= bound %zu",
	    st.bytes, 20 * one);
	is_int(get(c, "k499", 600, NULL, 0), RCACHE_FRESH,
	    "the newest entry is there");
	is_int(get(c, "k0", 600, NULL, 0), RCACHE_MISS,
	    "the oldest is gone");
	rcache_free(c);
}

static void
test_invalidate(void)
{
	struct rcache		*c = rcache_new(1 << 20, 50, 0);
	struct rcache_stats	 st;
	const char		*aud = "https://api.security.microsoft.com";
	const char		*paths[] = { "/api/incidents",
	    "/api/incidents?$top=2", "/api/incidents/7", "/api/incidents/77",
	    "/api/incidents/7?x=1", "/api/alerts" };
	char			 k[256], p[256];
	unsigned long		 gen;
	long			 n;

	for (size_t i = 0; i < 6; i++) {
		rcache_key(k, sizeof(k), aud, paths[i], strlen(paths[i]),
		    "r");
		is_int(put(c, k, "{}", 0, 100000), 0, paths[i]);
	}
	rcache_key(k, sizeof(k), "https://graph.microsoft.com",
	    "/api/incidents", 14, "r");
	is_int(put(c, k, "{}", 0, 100000), 0, "another audience, same path");

	/* PATCH /incidents/7: the incident itself (with any query) */
	snprintf(p, sizeof(p), "%s\n/api/incidents/7\n", aud);
	is_int(rcache_invalidate_prefix(c, p, strlen(p)), 1,
	    "prefix '/api/incidents/7\\n' drops exactly incident 7");
	snprintf(p, sizeof(p), "%s\n/api/incidents/7?", aud);
	is_int(rcache_invalidate_prefix(c, p, strlen(p)), 1,
	    "prefix '/api/incidents/7?' drops it with a query");
	/* ... and every list */
	snprintf(p, sizeof(p), "%s\n/api/incidents\n", aud);
	is_int(rcache_invalidate_prefix(c, p, strlen(p)), 1, "the list");
	snprintf(p, sizeof(p), "%s\n/api/incidents?", aud);
	is_int(rcache_invalidate_prefix(c, p, strlen(p)), 1,
	    "the lists with a query");
	rcache_stats(c, &st);
	is_int(st.entries, 3, "incident 77, alerts and Graph's are kept");
	is_int(st.invalidated, 4, "4 invalidated");
	n = rcache_key(k, sizeof(k), aud, "/api/incidents/77", 17, "r");
	is_int(get(c, k, 1, NULL, 0), RCACHE_FRESH, "incident 77 kept");
	is_int(rcache_invalidate(c, k, (size_t)n), 1, "exact invalidation");
	is_int(rcache_invalidate(c, k, (size_t)n), 0, "... once");
	is_int(get(c, k, 1, NULL, 0), RCACHE_MISS, "gone");

	/* an answer fetched before an invalidation is not stored after it */
	gen = rcache_gen(c);
	(void)rcache_invalidate_prefix(c, "x", 1);
	{
		struct rcache_entry *e = rcache_entry_new("late", 4, "{}", 2,
		    NULL, 0, 0, 1000);

		is_int(rcache_insert(c, e, gen), -1,
		    "an insert older than an invalidation is refused");
	}
	is_int(get(c, "late", 1, NULL, 0), RCACHE_MISS, "not stored");
	rcache_free(c);
}

static void
test_entry_limits(void)
{
	char			 longv[RCACHE_MAX_HDR + 2];
	struct rcache_hdr	 h = { "X", longv };
	struct rcache_entry	*e;

	memset(longv, 'v', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = '\0';
	ok(rcache_entry_new("k", 1, "", 0, &h, 1, 0, 1) == NULL,
	    "a header value over RCACHE_MAX_HDR is refused");
	ok(rcache_entry_new("k", 1, "", 0, hdrs, RCACHE_MAX_HDRS + 1, 0, 1) ==
	    NULL, "more than RCACHE_MAX_HDRS headers are refused");
	e = rcache_entry_new("k", 1, NULL, 0, NULL, 0, 0, 1);
	ok(e != NULL && e->bodylen == 0 && e->body[0] == '\0',
	    "an empty body is fine");
	rcache_entry_unref(e);
}

/* ---- concurrency: readers on several threads, one writer ---- */

#define NREADERS	4
#define NKEYS		64

static struct rcache	*shared;
static atomic_int	 stop_flag;
static atomic_int	 bad_reads;

static void *
reader(void *arg)
{
	char			 k[16];
	unsigned		 seed = (unsigned)(size_t)arg;
	struct rcache_entry	*e;

	while (!atomic_load(&stop_flag)) {
		seed = seed * 1103515245u + 12345u;
		snprintf(k, sizeof(k), "key%u", (seed >> 8) % NKEYS);
		if (rcache_lookup(shared, k, strlen(k), 0, &e) != RCACHE_MISS) {
			/* every body is its key repeated: check it all */
			for (size_t i = 0; i < e->bodylen; i++)
				if (e->body[i] != k[i % strlen(k)])
					atomic_fetch_add(&bad_reads, 1);
			rcache_entry_unref(e);
		}
	}
	return (NULL);
}

static void
test_threads(void)
{
	pthread_t		 th[NREADERS];
	struct rcache_stats	 st;
	char			 k[16], body[4096];

	shared = rcache_new(64 * 1024, 20, 0);
	for (int i = 0; i < NREADERS; i++)
		pthread_create(&th[i], NULL, reader, (void *)(size_t)(i + 1));
	for (int round = 0; round < 3000; round++) {
		size_t kl, bl = (size_t)(round * 37 % (int)sizeof(body));

		snprintf(k, sizeof(k), "key%d", round % NKEYS);
		kl = strlen(k);
		for (size_t i = 0; i < bl; i++)
			body[i] = k[i % kl];
		body[bl] = '\0';
		(void)put(shared, k, body, 0, 1000000);
		if (round % 100 == 0)
			(void)rcache_invalidate_prefix(shared, "key1", 4);
	}
	atomic_store(&stop_flag, 1);
	for (int i = 0; i < NREADERS; i++)
		pthread_join(th[i], NULL);
	rcache_stats(shared, &st);
	is_int(atomic_load(&bad_reads), 0,
	    "concurrent readers never saw a torn or freed body");
	ok(st.bytes <= 64 * 1024, "bound held under concurrency (%lu bytes)",
	    st.bytes);
	ok(st.hits > 0, "readers found entries (%lu hits)", st.hits);
	rcache_free(shared);
}

int
main(void)
{
	plan_lazy();
	test_key();
	test_fresh_stale_miss();
	test_bound_lru();
	test_invalidate();
	test_entry_limits();
	test_threads();
	return (done_testing());
}

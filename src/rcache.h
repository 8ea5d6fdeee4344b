/*
 * rcache.c: the in-memory response cache. Never on disk: the
 * answers are security data.
 *
 * What is stored: complete 200 answers of read-only routes, with the
 * headers defgate passes back (Content-Type, request-id...) and the time
 * they were stored. An entry is immutable once built and refcounted: a
 * reader that found it keeps it alive (and may hand its body to MHD without
 * a copy) after it was evicted, replaced or invalidated.
 *
 * The key is the audience, the upstream path with its query byte for byte,
 * and the route name, laid out by rcache_key() as
 *	"<audience>\n<upstream path[?query]>\n<route>"
 * so that a prefix such as "<audience>\n/api/incidents" names every
 * cached answer of one API collection (rcache_invalidate_prefix()). None
 * of the three parts contains '\n' (the router rejects control bytes).
 *
 * Bounds: total bytes (max_bytes, counting key, body, headers and the
 * entry itself) with LRU eviction; an entry larger than max_share_pct % of
 * max_bytes is never stored; at most RCACHE_MAX_ENTRIES entries. Entries
 * still held by readers after eviction are outside the bound (they are
 * bounded by the number of connections, each holding at most one).
 *
 * Threads: any. One mutex guards the table, the LRU list and the counters;
 * it is held for pointer work only, never while copying a body (entries
 * are built before rcache_insert() and read after rcache_lookup()).
 *
 * Time: every call that needs it takes now_ms (monotonic milliseconds)
 * from the caller, so tests control time.
 */
#ifndef DEFGATE_RCACHE_H
#define DEFGATE_RCACHE_H

#include <stdatomic.h>
#include <stddef.h>
#include <sys/queue.h>

#define RCACHE_MAX_ENTRIES	65536
#define RCACHE_MAX_KEY		(16 * 1024)
#define RCACHE_MAX_HDRS		4	/* headers kept with an answer */
#define RCACHE_MAX_HDR		256	/* bytes of one name or value */

struct rcache;

struct rcache_hdr {
	const char	*name;
	const char	*value;
};

/* An immutable answer. Read it freely while holding a reference. */
struct rcache_entry {
	const char		*key;
	size_t			 keylen;
	const char		*body;
	size_t			 bodylen;
	struct rcache_hdr	 hdrs[RCACHE_MAX_HDRS];
	int			 nhdrs;
	long long		 stored_ms;	/* monotonic */
	long long		 ttl_ms;
	size_t			 cost;		/* bytes counted against the bound */

	/* private: refs atomic; the rest under the cache's mutex */
	atomic_int		 refs;
	struct rcache_entry	*hnext;
	TAILQ_ENTRY(rcache_entry) lru;
	unsigned		 hash;
};

enum rcache_state {
	RCACHE_MISS = 0,	/* nothing usable */
	RCACHE_FRESH,		/* younger than its TTL */
	RCACHE_STALE		/* expired, within stale_max_age of expiry */
};

struct rcache_stats {
	unsigned long	 entries;
	unsigned long	 bytes;
	unsigned long	 max_bytes;
	unsigned long	 hits;		/* fresh answers found */
	unsigned long	 misses;	/* lookups without a fresh answer */
	unsigned long	 stale;		/* stale answers served (rcache_served_stale) */
	unsigned long	 inserts;
	unsigned long	 evictions;	/* LRU evictions for room */
	unsigned long	 too_large;	/* answers refused for their size */
	unsigned long	 invalidated;	/* entries dropped by invalidation */
};

/*
 * max_bytes: the byte bound (0 stores nothing). max_share_pct: 1..100,
 * the largest entry as a share of max_bytes. stale_max_age_ms: how long
 * after expiry an entry may still be served stale (and is kept).
 * NULL on OOM.
 */
struct rcache	*rcache_new(size_t max_bytes, unsigned max_share_pct,
		    long long stale_max_age_ms);
/* Frees the cache; entries held by readers stay valid until unref'd. */
void		 rcache_free(struct rcache *);

/* Build the key into out (capacity cap). Length, or -1 when it does not
 * fit or a part contains '\n'. */
long		 rcache_key(char *out, size_t cap, const char *audience,
		    const char *path, size_t pathlen, const char *route);

/*
 * Build an entry (one allocation; copies everything). Any thread, no lock.
 * Returns NULL on OOM or when a header is too long. The caller owns one
 * reference.
 */
struct rcache_entry *rcache_entry_new(const char *key, size_t keylen,
		    const char *body, size_t bodylen,
		    const struct rcache_hdr *hdrs, int nhdrs, long long now_ms,
		    long long ttl_ms);
void		 rcache_entry_ref(struct rcache_entry *);
void		 rcache_entry_unref(struct rcache_entry *);
/* The value of a stored header (case-insensitive name) or NULL. */
const char	*rcache_entry_header(const struct rcache_entry *,
		    const char *name);
/* Age in whole seconds, as the Age header says it. */
long long	 rcache_entry_age_s(const struct rcache_entry *,
		    long long now_ms);

/*
 * The invalidation generation. Read it before asking upstream and pass it
 * to rcache_insert(): an answer fetched before an invalidation is not
 * stored after it.
 */
unsigned long	 rcache_gen(struct rcache *);

/*
 * Store e, taking over the caller's reference. Replaces an entry with the
 * same key; evicts least recently used entries for room. Returns 0 when
 * stored, -1 when refused (too large, TTL 0, cache sized 0, or an
 * invalidation happened since gen).
 */
int		 rcache_insert(struct rcache *, struct rcache_entry *e,
		    unsigned long gen);

/*
 * Find key. FRESH or STALE: *out holds a new reference (unref it when
 * done). MISS: *out is NULL. Counts a hit (FRESH) or a miss (otherwise);
 * an entry past its stale window is dropped.
 */
enum rcache_state rcache_lookup(struct rcache *, const char *key,
		    size_t keylen, long long now_ms,
		    struct rcache_entry **out);
/* The caller answered with a stale entry (for the counters). */
void		 rcache_served_stale(struct rcache *);

/* Drop one key / every key starting with prefix. Bumps the generation.
 * Returns the number of entries dropped. */
int		 rcache_invalidate(struct rcache *, const char *key,
		    size_t keylen);
int		 rcache_invalidate_prefix(struct rcache *, const char *prefix,
		    size_t prefixlen);

void		 rcache_stats(struct rcache *, struct rcache_stats *);

#endif

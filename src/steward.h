/*
 * steward.c: quota stewardship in the daemon. It owns the one
 * response cache (rcache.h) and the one set of local rate limits
 * (quota.h) of this tenant, and makes the decisions around a forwarded
 * request:
 *  - front, before a job exists (steward_front): a fresh cached answer is
 *    served at once (X-Cache: HIT, Age); otherwise the request takes one
 *    call from its quota group; when the group has none left (bucket empty
 *    or closed by an upstream 429) a stale answer within stale_max_age is
 *    served (X-Cache: STALE), else a local 429 with Retry-After from the
 *    bucket. A client's Cache-Control: no-cache (or Pragma: no-cache)
 *    skips cached answers, never the rate limit;
 *  - front, coalescing: a cached GET that misses while an identical one is
 *    already in flight waits for it (its connection suspended, no upstream
 *    call, no quota) and is answered from the entry the first one stores
 *    (X-Cache: COALESCED): one upstream call, identical complete bodies,
 *    and no shared buffer for a slow reader to hold up. When the first
 *    one's 200 is over the size share, or of unknown length and more than
 *    its client's buffer (so that client reads it before it is whole), the
 *    waiters instead read its one exchange as it comes (job_share_begin,
 *    job.h: a window bounded per exchange; a reader holding it full too
 *    long is cut; an answer that fits is still stored); identical
 *    requests arriving after that make their own call. When the first one
 *    stores nothing otherwise (an error), each waiter goes on by itself,
 *    once. A client's no-cache never waits;
 *  - front, when the job ends in a 5xx, a timeout or a 429 and a stale
 *    answer was found (steward_stale_wanted, steward_answer);
 *  - back, when a transfer ends (steward_body, steward_finished): store a
 *    complete 200 answer of a cached route, drop the incident and every
 *    list after a successful PATCH, close the group after an upstream 429.
 *
 * Ownership: a struct steward_ticket lives in its job (job.h) and is freed
 * with it (steward_ticket_free). The front fills it before submitting the
 * job; then the front reads key/stale and the back writes only body and
 * give_up.
 * Threads: steward_init/reload/cleanup on the main thread (init before the
 * front and back threads start, cleanup after they stopped); the rest on
 * the thread named above. The cache and quota lock themselves.
 */
#ifndef DEFGATE_STEWARD_H
#define DEFGATE_STEWARD_H

#include <stddef.h>

#include <microhttpd.h>

#include "buf.h"

struct gw_config;
struct gw_request;
struct job;
struct rcache;
struct rcache_entry;
struct route;
struct quota;

/* What the cache did for a request (metrics label). */
enum steward_cache {
	ST_CACHE_NONE = 0,	/* not a cached route, or the cache is off */
	ST_CACHE_HIT,
	ST_CACHE_MISS,
	ST_CACHE_STALE,
	ST_CACHE_COALESCED,	/* waited for an identical request in flight */
	ST_CACHE__COUNT
};

struct steward_ticket {
	int			 group;		/* enum quota_group; -1: none */
	char			*key;		/* rcache key; NULL: not cached */
	size_t			 keylen;
	unsigned long		 gen;		/* rcache_gen() at the start */
	long long		 ttl_ms;
	struct rcache_entry	*stale;		/* for stale-if-error, or NULL */
	int			 leader;	/* others wait for this one */
	char			*inval;		/* PATCH: "<aud>\n<item path>" */
	size_t			 coll_len;	/* ... its collection's length */
	/* back thread only */
	struct buf		 body;		/* a copy of a 200 body to store */
	int			 give_up;	/* too large: store nothing */
};

int		 steward_init(const struct gw_config *);
void		 steward_reload(const struct gw_config *);
void		 steward_cleanup(void);
/* For metrics and the status page; NULL before init. */
struct rcache	*steward_cache(void);
struct quota	*steward_quota(void);
const char	*steward_cache_name(enum steward_cache);
/* The quota group of a forwarded row, -1 for local rows. */
int		 steward_group(const struct route *);

/*
 * Front: decide before the job is made. path is the upstream path and
 * query (empty for hunting rows). Returns 1 when the request was answered
 * here (*ret is MHD's result), 0 when it goes upstream with t filled.
 */
int		 steward_front(struct MHD_Connection *, struct gw_request *,
		    const char *path, size_t pathlen,
		    struct steward_ticket *t, enum MHD_Result *ret);
/* Front, j->mu held: 1 when the job's outcome should be replaced by its
 * stale answer (a 5xx, a timeout, an upstream 429). */
int		 steward_stale_wanted(const struct job *);
/* Front: answer from a cache entry. */
enum MHD_Result	 steward_answer(struct MHD_Connection *, struct gw_request *,
		    struct rcache_entry *, enum steward_cache);
/* Front: the X-Cache header of a forwarded answer. */
void		 steward_headers(struct MHD_Response *, const struct job *);

/* Back: n body bytes of the final answer arrived (after they were
 * stored for the client); the first ones over the share, or of an answer
 * of unknown length past JOB_RING_MAX, of a leader with waiters make it a
 * shared answer (each waiter's request->follow). */
void		 steward_body(struct job *, const char *, size_t);
/* Back: the transfer ended (j->done set, j->mu not held). */
void		 steward_finished(struct job *);

/* Frees the ticket; a leader's waiters are woken. Any thread. */
void		 steward_ticket_free(struct steward_ticket *);
/* Main thread, shutdown, after upstream_stop(): wake every waiter. */
void		 steward_wake_all(void);

#endif

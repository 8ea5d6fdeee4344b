/*
 * steward.c: the response cache and the local rate limits around forwarded
 * requests (see steward.h).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "backend.h"
#include "config.h"
#include "job.h"
#include "log.h"
#include "proxy.h"
#include "quota.h"
#include "rcache.h"
#include "routes.h"
#include "steward.h"
#include "util.h"

/* A cached GET in flight, and the connections waiting for its answer. */
struct waiter {
	struct waiter		*next;
	struct MHD_Connection	*conn;
	struct gw_request	*r;	/* suspended: nobody else touches it */
};

struct flight {
	struct flight		*next;
	char			*key;
	size_t			 keylen;
	struct waiter		*waiters;
};

static struct {
	struct rcache	*cache;
	struct quota	*quota;
	size_t		 max_entry;	/* largest body worth copying */
	pthread_mutex_t	 fmu;		/* flights */
	struct flight	*flights;
} st = { .fmu = PTHREAD_MUTEX_INITIALIZER };

static const char *const cache_names[ST_CACHE__COUNT] = { "none", "hit",
    "miss", "stale", "coalesced" };

const char *
steward_cache_name(enum steward_cache c)
{
	return ((unsigned)c < ST_CACHE__COUNT ? cache_names[c] : "none");
}

int
steward_init(const struct gw_config *cf)
{
	st.cache = rcache_new(cf->cache_max_bytes, cf->cache_max_share,
	    cf->stale_max_age_ms);
	st.quota = quota_new(cf->quota);
	if (st.cache == NULL || st.quota == NULL) {
		steward_cleanup();
		return (-1);
	}
	st.max_entry = cf->cache_max_bytes / 100 * cf->cache_max_share;
	return (0);
}

void
steward_reload(const struct gw_config *cf)
{
	/* cache = on|off and cache_ttl follow each request's configuration;
	 * the cache's size and stale window are fixed at start */
	if (st.quota)
		quota_set_limits(st.quota, cf->quota, util_mono_ms());
}

void
steward_cleanup(void)
{
	rcache_free(st.cache);
	quota_free(st.quota);
	st.cache = NULL;
	st.quota = NULL;
}

struct rcache *
steward_cache(void)
{
	return (st.cache);
}

struct quota *
steward_quota(void)
{
	return (st.quota);
}

int
steward_group(const struct route *rt)
{
	if (rt == NULL || !routes_forwarded(rt))
		return (-1);
	if (rt->kind == RK_HUNT || rt->body == RB_HUNT ||
	    rt->body == RB_HUNT_QUERY)
		return (QUOTA_HUNTING);
	switch (rt->backend) {
	case BACKEND_DEFENDER:
		return (QUOTA_INCIDENTS);
	case BACKEND_MDE:
		return (QUOTA_MDE);
	case BACKEND_GRAPH:
	case BACKEND__COUNT:
		break;
	}
	return (QUOTA_GRAPH);
}

/* ---- coalescing: fmu guards the flights; MHD calls outside it ---- */

static struct flight **
flight_find(const char *key, size_t keylen)
{
	struct flight **fp;

	for (fp = &st.flights; *fp != NULL; fp = &(*fp)->next)
		if ((*fp)->keylen == keylen && memcmp((*fp)->key, key,
		    keylen) == 0)
			break;
	return (fp);
}

/* Wake the waiters of a list of flights and free them. A waiter may be
 * served by another front worker than the caller (or the caller is the
 * back or main thread): MHD_resume_connection is legal from any thread, it
 * flags the connection under its worker's lock and wakes that worker. */
static void
flights_wake(struct flight *f)
{
	struct flight	*fn;
	struct waiter	*w, *wn;

	for (; f != NULL; f = fn) {
		fn = f->next;
		for (w = f->waiters; w != NULL; w = wn) {
			wn = w->next;
			MHD_resume_connection(w->conn);
			free(w);
		}
		free(f->key);
		free(f);
	}
}

/* The leader is done (answered, failed or gone): wake its waiters. */
static void
flight_end(struct steward_ticket *t)
{
	struct flight **fp, *f = NULL;

	if (!t->leader)
		return;
	t->leader = 0;
	pthread_mutex_lock(&st.fmu);
	fp = flight_find(t->key, t->keylen);
	if ((f = *fp) != NULL) {
		*fp = f->next;
		f->next = NULL;
	}
	pthread_mutex_unlock(&st.fmu);
	flights_wake(f);
}

void
steward_wake_all(void)
{
	struct flight *f;

	pthread_mutex_lock(&st.fmu);
	f = st.flights;
	st.flights = NULL;
	pthread_mutex_unlock(&st.fmu);
	flights_wake(f);
}

/* fmu held: wait for an identical request in flight. 1 when waiting (the
 * connection is suspended) or told to come back in MHD's next turn
 * (proxy_park), 0 when there is none. */
static int
flight_join(struct MHD_Connection *c, struct gw_request *r,
    const struct steward_ticket *t)
{
	struct flight	*f = *flight_find(t->key, t->keylen);
	struct waiter	*w;

	if (f == NULL)
		return (0);
	if (proxy_park(r))
		return (1);
	if ((w = malloc(sizeof(*w))) == NULL)
		return (0);
	r->waited = 1;
	w->conn = c;
	w->r = r;
	MHD_suspend_connection(c);	/* before the leader can wake it */
	w->next = f->waiters;
	f->waiters = w;
	return (1);
}

/* fmu held: t goes upstream; identical requests will wait for it. */
static void
flight_lead(struct steward_ticket *t)
{
	struct flight *f;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return;
	if ((f->key = malloc(t->keylen)) == NULL) {
		free(f);
		return;
	}
	memcpy(f->key, t->key, t->keylen);
	f->keylen = t->keylen;
	f->next = st.flights;
	st.flights = f;
	t->leader = 1;
}

void
steward_ticket_free(struct steward_ticket *t)
{
	flight_end(t);
	free(t->key);
	free(t->inval);
	rcache_entry_unref(t->stale);
	buf_free(&t->body);
	t->key = t->inval = NULL;
	t->stale = NULL;
}

/* ---- front ---- */

/* 1 when a request header asks for no cached answer. */
static int
no_cache(struct MHD_Connection *c)
{
	const char *cc = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CACHE_CONTROL);
	const char *pr = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_PRAGMA);

	return ((cc && (strcasestr(cc, "no-cache") ||
	    strcasestr(cc, "max-age=0"))) || (pr && strcasestr(pr,
	    "no-cache")));
}

static void
release_entry(void *cls)
{
	rcache_entry_unref(cls);
}

enum MHD_Result
steward_answer(struct MHD_Connection *c, struct gw_request *r,
    struct rcache_entry *e, enum steward_cache how)
{
	struct MHD_Response	*resp;
	enum MHD_Result		 ret;
	char			 age[24];

	if (how == ST_CACHE_STALE)
		rcache_served_stale(st.cache);
	rcache_entry_ref(e);	/* the response's, until MHD is done */
	resp = MHD_create_response_from_buffer_with_free_callback_cls(
	    e->bodylen, (void *)(uintptr_t)e->body, release_entry, e);
	if (resp == NULL) {
		rcache_entry_unref(e);
		return (MHD_NO);
	}
	for (int i = 0; i < e->nhdrs; i++)
		MHD_add_response_header(resp, e->hdrs[i].name,
		    e->hdrs[i].value);
	MHD_add_response_header(resp, "client-request-id", r->reqid);
	MHD_add_response_header(resp, "X-Cache", how == ST_CACHE_STALE ?
	    "STALE" : how == ST_CACHE_COALESCED ? "COALESCED" : "HIT");
	snprintf(age, sizeof(age), "%lld", rcache_entry_age_s(e,
	    util_mono_ms()));
	MHD_add_response_header(resp, "Age", age);
	r->status = 200;
	r->cache = how;
	ret = MHD_queue_response(c, 200, resp);
	MHD_destroy_response(resp);
	return (ret);
}

/* 429 in the local error shape, Retry-After from the bucket. */
static enum MHD_Result
limited(struct MHD_Connection *c, struct gw_request *r, int group,
    long long wait_ms)
{
	struct MHD_Response	*resp;
	struct quota_view	 v;
	enum MHD_Result		 ret;
	char			 msg[512], lim[64] = "", ra[24];
	long long		 secs = (wait_ms + 999) / 1000;

	quota_view(st.quota, group, util_mono_ms(), &v);
	if (v.lim.limit[QUOTA_MIN])
		snprintf(lim, sizeof(lim), "%u/min", v.lim.limit[QUOTA_MIN]);
	if (v.lim.limit[QUOTA_HOUR])
		snprintf(lim + strlen(lim), sizeof(lim) - strlen(lim),
		    "%s%u/h", lim[0] ? ", " : "", v.lim.limit[QUOTA_HOUR]);
	if (v.closed_ms > 0)
		snprintf(msg, sizeof(msg), "the API answered 429 (too many "
		    "requests) for the %s quota group; defgate holds every "
		    "call of that group until its Retry-After has passed: "
		    "retry in %lld s", quota_group_name(group), secs);
	else
		snprintf(msg, sizeof(msg), "defgate's rate limit for the %s "
		    "quota group (%s, the API's quota for this tenant, shared "
		    "with every app) is used up: retry in %lld s; the limits "
		    "are the quota_%s setting", quota_group_name(group), lim,
		    secs, quota_group_name(group));
	r->status = 429;
	if ((resp = proxy_error_response(429, "TooManyRequests", msg,
	    r->reqid)) == NULL)
		return (MHD_NO);
	snprintf(ra, sizeof(ra), "%lld", secs < 1 ? 1 : secs);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
	ret = MHD_queue_response(c, 429, resp);
	MHD_destroy_response(resp);
	return (ret);
}

/* 1 when the request may go upstream (its quota group has a call). */
static int
admit(const struct steward_ticket *t, long long now, long long *wait)
{
	return (t->group < 0 || st.quota == NULL || quota_take(st.quota,
	    t->group, now, wait) == 0);
}

/* Build the cache key of a cached GET row into t; 0 when it has one. */
static int
cache_key(const struct gw_request *r, const char *path, size_t pathlen,
    struct steward_ticket *t)
{
	const struct route	*rt = r->m.route;
	const char		*aud = backend_scope(r->cf, rt->backend);
	size_t			 cap = strlen(aud) + pathlen + strlen(rt->name) +
	    3;
	long			 n;

	if ((t->key = malloc(cap)) == NULL)
		return (-1);
	if ((n = rcache_key(t->key, cap, aud, path, pathlen, rt->name)) < 0) {
		free(t->key);
		t->key = NULL;
		return (-1);
	}
	t->keylen = (size_t)n;
	return (0);
}

/* PATCH: remember "<aud>\n<item path>" to drop it and its lists later. */
static void
write_target(const struct gw_request *r, const char *path, size_t pathlen,
    struct steward_ticket *t)
{
	const char	*aud = backend_scope(r->cf, r->m.route->backend);
	const char	*q = memchr(path, '?', pathlen), *slash;
	size_t		 item = q ? (size_t)(q - path) : pathlen, al;
	struct buf	 b;

	if (item == 0 || (slash = memrchr(path, '/', item)) == NULL)
		return;
	buf_init(&b, RCACHE_MAX_KEY);
	al = strlen(aud);
	if (buf_addstr(&b, aud) == -1 || buf_addstr(&b, "\n") == -1 ||
	    buf_append(&b, path, item) == -1) {
		buf_free(&b);
		return;
	}
	t->coll_len = al + 1 + (size_t)(slash - path);
	t->inval = buf_take(&b, NULL);
}

int
steward_front(struct MHD_Connection *c, struct gw_request *r,
    const char *path, size_t pathlen, struct steward_ticket *t,
    enum MHD_Result *ret)
{
	const struct route	*rt = r->m.route;
	struct rcache_entry	*e = NULL;
	long long		 now = util_mono_ms(), wait = 0;
	int			 cached, fresh_only, admitted;

	memset(t, 0, sizeof(*t));
	t->group = steward_group(rt);
	cached = st.cache && r->cf->cache && rt->cache_ttl > 0 &&
	    rt->kind == RK_PROXY && !(rt->flags & ROUTE_WRITE) &&
	    strcmp(rt->method, "GET") == 0 &&
	    cache_key(r, path, pathlen, t) == 0;
	fresh_only = cached && no_cache(c);
	if (cached) {
		if (!fresh_only) {
			switch (rcache_lookup(st.cache, t->key, t->keylen,
			    now, &e)) {
			case RCACHE_FRESH:
				*ret = steward_answer(c, r, e, r->waited ?
				    ST_CACHE_COALESCED : ST_CACHE_HIT);
				rcache_entry_unref(e);
				steward_ticket_free(t);
				return (1);
			case RCACHE_STALE:
				t->stale = e;
				break;
			case RCACHE_MISS:
				break;
			}
		}
		r->cache = ST_CACHE_MISS;
		t->gen = rcache_gen(st.cache);
		t->ttl_ms = (long long)(r->cf->cache_ttl ? r->cf->cache_ttl :
		    rt->cache_ttl) * 1000;
		buf_init(&t->body, st.max_entry);
	}
	if (rt->flags & ROUTE_WRITE)
		write_target(r, path, pathlen, t);
	if (cached && !fresh_only && !r->waited) {
		pthread_mutex_lock(&st.fmu);
		if (flight_join(c, r, t)) {
			pthread_mutex_unlock(&st.fmu);
			steward_ticket_free(t);
			*ret = MHD_YES;
			return (1);
		}
		if ((admitted = admit(t, now, &wait)))
			flight_lead(t);
		pthread_mutex_unlock(&st.fmu);
	} else
		admitted = admit(t, now, &wait);
	if (!admitted) {
		if (t->stale != NULL)
			*ret = steward_answer(c, r, t->stale, ST_CACHE_STALE);
		else
			*ret = limited(c, r, t->group, wait);
		steward_ticket_free(t);
		return (1);
	}
	return (0);
}

int
steward_stale_wanted(const struct job *j)
{
	if (j->cache.stale == NULL || j->streaming)
		return (0);
	if (j->err_status)
		return (j->err_status >= 500 || j->err_status == 429);
	return (j->headers_ready && j->done && !j->failed &&
	    (j->status >= 500 || j->status == 429));
}

void
steward_headers(struct MHD_Response *resp, const struct job *j)
{
	if (j->cache.key != NULL)
		MHD_add_response_header(resp, "X-Cache", "MISS");
}

/* ---- back ---- */

/*
 * The leader's 200 will not be stored (over the size share), or is
 * streamed to its client before it is whole (of unknown length, larger
 * than the leader's buffer): rather than each waiter making its own
 * upstream call afterwards, or waiting for the leader's client to read it
 * all, they all read this one exchange from its first byte. The cache's
 * copy so far plus this chunk is the whole body, whatever the leader's
 * client has read already. Identical requests arriving later no longer
 * find the flight and go upstream themselves (possibly leading a flight
 * of their own).
 */
static void
share(struct job *j, const char *b, size_t n)
{
	struct steward_ticket	*t = &j->cache;
	struct flight		**fp, *f;
	struct waiter		*w;
	int			 ok, nf = 0;

	pthread_mutex_lock(&st.fmu);
	fp = flight_find(t->key, t->keylen);
	if ((f = *fp) != NULL) {
		*fp = f->next;
		f->next = NULL;
	}
	t->leader = 0;
	pthread_mutex_unlock(&st.fmu);
	if (f == NULL)
		return;
	pthread_mutex_lock(&j->mu);
	ok = f->waiters != NULL && job_share_begin(j, t->body.data,
	    t->body.len, b, n) == 0;
	for (w = f->waiters; ok && w != NULL; w = w->next)
		if ((w->r->follow = job_share_add(j, w->conn,
		    w->r->reqid)) != NULL)
			nf++;
	pthread_mutex_unlock(&j->mu);
	if (ok)
		log_debug("%s: %s: %d identical request(s) read it as it "
		    "comes", j->reqid, t->give_up ? "the answer is too large "
		    "to store" : "the answer streams", nf);
	flights_wake(f);	/* followers stream, the rest go alone */
}

void
steward_body(struct job *j, const char *b, size_t n)
{
	struct steward_ticket *t = &j->cache;

	if (t->key == NULL || t->give_up || j->status != 200)
		return;
	if ((j->content_length >= 0 &&
	    (unsigned long long)j->content_length > st.max_entry) ||
	    buf_append(&t->body, b, n) == -1) {
		t->give_up = 1;		/* over the share: never stored */
		if (t->leader)
			share(j, b, n);
		buf_free(&t->body);
	} else if (t->leader && j->content_length < 0 &&
	    t->body.len > JOB_RING_MAX)
		/*
		 * Of unknown length and more than the leader's buffer: its
		 * client is reading it already. Were it shared only once over
		 * the share (up to max_entry bytes on), the followers would
		 * start that far behind the leader, hold the transfer up
		 * until they caught up, and be cut for it as too slow. The
		 * copy goes on: an answer that fits is still stored.
		 */
		share(j, NULL, 0);
}

static void
invalidate(const struct steward_ticket *t)
{
	char		 p[RCACHE_MAX_KEY + 2];
	size_t		 n = strlen(t->inval);
	int		 dropped = 0;
	const char	*ends = "\n?";

	if (n + 2 > sizeof(p))
		return;
	/* the item and its collection, each with and without a query */
	for (int k = 0; k < 4; k++) {
		size_t len = k < 2 ? n : t->coll_len;

		memcpy(p, t->inval, len);
		p[len] = ends[k % 2];
		dropped += rcache_invalidate_prefix(st.cache, p, len + 1);
	}
	log_debug("cache: a write dropped %d answer(s)", dropped);
}

void
steward_finished(struct job *j)
{
	struct steward_ticket	*t = &j->cache;
	struct rcache_hdr	 h[2];
	struct rcache_entry	*e;
	long long		 ms, now = util_mono_ms();
	int			 nh = 0;

	if (t->group >= 0 && j->status == 429 && st.quota != NULL) {
		if (quota_parse_retry_after(j->retry_after, util_now(),
		    &ms) == -1)
			ms = QUOTA_DEFAULT_CLOSE_MS;
		quota_throttled(st.quota, t->group, now, ms);
		log_warnx("%s: the %s answered 429: no %s call goes upstream "
		    "for %lld s", j->reqid, backend_title(j->backend),
		    quota_group_name(t->group), (ms + 999) / 1000);
	}
	if (t->inval != NULL && st.cache != NULL && j->err_status == 0 &&
	    j->status >= 200 && j->status < 300)
		invalidate(t);
	if (t->key != NULL && !t->give_up && st.cache != NULL &&
	    j->err_status == 0 && !j->failed && j->status == 200) {
		if (j->content_type[0])
			h[nh++] = (struct rcache_hdr){ "Content-Type",
			    j->content_type };
		if (j->request_id[0])
			h[nh++] = (struct rcache_hdr){ "request-id",
			    j->request_id };
		e = rcache_entry_new(t->key, t->keylen, t->body.data ?
		    t->body.data : "", t->body.len, h, nh, now, t->ttl_ms);
		if (e != NULL)
			(void)rcache_insert(st.cache, e, t->gen);
	}
	buf_free(&t->body);
	flight_end(t);		/* the waiters find the answer stored */
}

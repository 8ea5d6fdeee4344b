/*
 * rcache.c: the in-memory response cache (see rcache.h).
 *
 * A chained hash table (FNV-1a over the key) and one LRU list, both under
 * one mutex. Lookups move a hit to the head of the LRU list; insertions
 * evict from the tail until the new entry fits. Every entry is one
 * allocation: the struct, then the key, the header strings and the body.
 *
 * Hash flooding is not a concern worth a keyed hash here: only upstream
 * 200 answers are inserted, and each insertion costs an upstream call that
 * the local rate limit (quota.h) admits at most a few dozen times a minute.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rcache.h"

#define RCACHE_BUCKETS	8192	/* power of two */

struct rcache {
	pthread_mutex_t		 mu;
	struct rcache_entry	*tab[RCACHE_BUCKETS];
	TAILQ_HEAD(rcache_lru, rcache_entry) lru;	/* first: most recent */
	size_t			 max_bytes;
	size_t			 max_entry;
	long long		 stale_ms;
	unsigned long		 gen;
	struct rcache_stats	 st;
};

static unsigned
hash_key(const char *k, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)k[i];
		h *= 16777619u;
	}
	return (h);
}

struct rcache *
rcache_new(size_t max_bytes, unsigned max_share_pct, long long stale_max_age_ms)
{
	struct rcache *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return (NULL);
	pthread_mutex_init(&c->mu, NULL);
	TAILQ_INIT(&c->lru);
	if (max_share_pct < 1)
		max_share_pct = 1;
	if (max_share_pct > 100)
		max_share_pct = 100;
	c->max_bytes = max_bytes;
	c->max_entry = max_bytes / 100 * max_share_pct +
	    max_bytes % 100 * max_share_pct / 100;
	c->stale_ms = stale_max_age_ms > 0 ? stale_max_age_ms : 0;
	c->st.max_bytes = max_bytes;
	return (c);
}

long
rcache_key(char *out, size_t cap, const char *audience, const char *path,
    size_t pathlen, const char *route)
{
	size_t al = strlen(audience), rl = strlen(route);

	if (memchr(audience, '\n', al) || memchr(path, '\n', pathlen) ||
	    memchr(route, '\n', rl))
		return (-1);
	if (al + pathlen + rl + 3 > cap || al + pathlen + rl + 2 >
	    RCACHE_MAX_KEY)
		return (-1);
	memcpy(out, audience, al);
	out[al] = '\n';
	memcpy(out + al + 1, path, pathlen);
	out[al + 1 + pathlen] = '\n';
	memcpy(out + al + pathlen + 2, route, rl);
	out[al + pathlen + rl + 2] = '\0';
	return ((long)(al + pathlen + rl + 2));
}

struct rcache_entry *
rcache_entry_new(const char *key, size_t keylen, const char *body,
    size_t bodylen, const struct rcache_hdr *hdrs, int nhdrs, long long now_ms,
    long long ttl_ms)
{
	struct rcache_entry	*e;
	size_t			 hl[RCACHE_MAX_HDRS][2], size, hsum = 0;
	char			*p;

	if (nhdrs < 0 || nhdrs > RCACHE_MAX_HDRS || keylen > RCACHE_MAX_KEY)
		return (NULL);
	for (int i = 0; i < nhdrs; i++) {
		hl[i][0] = strnlen(hdrs[i].name, RCACHE_MAX_HDR + 1);
		hl[i][1] = strnlen(hdrs[i].value, RCACHE_MAX_HDR + 1);
		if (hl[i][0] > RCACHE_MAX_HDR || hl[i][1] > RCACHE_MAX_HDR)
			return (NULL);
		hsum += hl[i][0] + hl[i][1] + 2;
	}
	if (bodylen > SIZE_MAX / 2)
		return (NULL);
	size = sizeof(*e) + keylen + 1 + hsum + bodylen + 1;
	if ((e = malloc(size)) == NULL)
		return (NULL);
	memset(e, 0, sizeof(*e));
	p = (char *)(e + 1);
	memcpy(p, key, keylen);
	p[keylen] = '\0';
	e->key = p;
	e->keylen = keylen;
	p += keylen + 1;
	for (int i = 0; i < nhdrs; i++) {
		memcpy(p, hdrs[i].name, hl[i][0] + 1);
		e->hdrs[i].name = p;
		p += hl[i][0] + 1;
		memcpy(p, hdrs[i].value, hl[i][1] + 1);
		e->hdrs[i].value = p;
		p += hl[i][1] + 1;
	}
	e->nhdrs = nhdrs;
	if (bodylen > 0)
		memcpy(p, body, bodylen);
	p[bodylen] = '\0';
	e->body = p;
	e->bodylen = bodylen;
	e->stored_ms = now_ms;
	e->ttl_ms = ttl_ms;
	e->cost = size;
	e->hash = hash_key(key, keylen);
	atomic_init(&e->refs, 1);
	return (e);
}

void
rcache_entry_ref(struct rcache_entry *e)
{
	atomic_fetch_add(&e->refs, 1);
}

void
rcache_entry_unref(struct rcache_entry *e)
{
	if (e != NULL && atomic_fetch_sub(&e->refs, 1) == 1)
		free(e);
}

const char *
rcache_entry_header(const struct rcache_entry *e, const char *name)
{
	for (int i = 0; i < e->nhdrs; i++)
		if (strcasecmp(e->hdrs[i].name, name) == 0)
			return (e->hdrs[i].value);
	return (NULL);
}

long long
rcache_entry_age_s(const struct rcache_entry *e, long long now_ms)
{
	return (now_ms > e->stored_ms ? (now_ms - e->stored_ms) / 1000 : 0);
}

/* ---- under c->mu ---- */

static struct rcache_entry **
slot_of(struct rcache *c, const char *key, size_t keylen, unsigned h)
{
	struct rcache_entry **pp = &c->tab[h & (RCACHE_BUCKETS - 1)];

	for (; *pp != NULL; pp = &(*pp)->hnext)
		if ((*pp)->hash == h && (*pp)->keylen == keylen &&
		    memcmp((*pp)->key, key, keylen) == 0)
			break;
	return (pp);
}

/* Unlink e (found at *pp) from table and list; the table's reference is
 * returned to the caller, who drops it after unlocking. */
static struct rcache_entry *
detach(struct rcache *c, struct rcache_entry **pp)
{
	struct rcache_entry *e = *pp;

	*pp = e->hnext;
	e->hnext = NULL;
	TAILQ_REMOVE(&c->lru, e, lru);
	c->st.entries--;
	c->st.bytes -= e->cost;
	return (e);
}

/* Drop-list: entries whose last references are released after unlock. */
struct droplist {
	struct rcache_entry	*first;
};

static void
drop_later(struct droplist *d, struct rcache_entry *e)
{
	e->hnext = d->first;	/* free to reuse: e is out of the table */
	d->first = e;
}

static void
drop_now(struct droplist *d)
{
	struct rcache_entry *e, *next;

	for (e = d->first; e != NULL; e = next) {
		next = e->hnext;
		rcache_entry_unref(e);
	}
	d->first = NULL;
}

/* ---- the public operations ---- */

unsigned long
rcache_gen(struct rcache *c)
{
	unsigned long g;

	pthread_mutex_lock(&c->mu);
	g = c->gen;
	pthread_mutex_unlock(&c->mu);
	return (g);
}

int
rcache_insert(struct rcache *c, struct rcache_entry *e, unsigned long gen)
{
	struct rcache_entry	**pp, *v;
	struct droplist		  d = { NULL };
	int			  ret = -1;

	pthread_mutex_lock(&c->mu);
	if (e->ttl_ms <= 0 || e->cost > c->max_entry || c->gen != gen) {
		if (e->cost > c->max_entry)
			c->st.too_large++;
		drop_later(&d, e);
		goto out;
	}
	pp = slot_of(c, e->key, e->keylen, e->hash);
	if (*pp != NULL)
		drop_later(&d, detach(c, pp));
	while ((v = TAILQ_LAST(&c->lru, rcache_lru)) != NULL &&
	    (c->st.bytes + e->cost > c->max_bytes ||
	    c->st.entries >= RCACHE_MAX_ENTRIES)) {
		drop_later(&d, detach(c, slot_of(c, v->key, v->keylen,
		    v->hash)));
		c->st.evictions++;
	}
	pp = &c->tab[e->hash & (RCACHE_BUCKETS - 1)];
	e->hnext = *pp;
	*pp = e;
	TAILQ_INSERT_HEAD(&c->lru, e, lru);
	c->st.entries++;
	c->st.bytes += e->cost;
	c->st.inserts++;
	ret = 0;
out:
	pthread_mutex_unlock(&c->mu);
	drop_now(&d);
	return (ret);
}

enum rcache_state
rcache_lookup(struct rcache *c, const char *key, size_t keylen,
    long long now_ms, struct rcache_entry **out)
{
	struct rcache_entry	**pp, *e;
	struct droplist		  d = { NULL };
	enum rcache_state	  st = RCACHE_MISS;
	unsigned		  h = hash_key(key, keylen);
	long long		  age;

	*out = NULL;
	pthread_mutex_lock(&c->mu);
	pp = slot_of(c, key, keylen, h);
	if ((e = *pp) != NULL) {
		age = now_ms - e->stored_ms;
		if (age < e->ttl_ms)
			st = RCACHE_FRESH;
		else if (age < e->ttl_ms + c->stale_ms)
			st = RCACHE_STALE;
		else
			drop_later(&d, detach(c, pp));
		if (st != RCACHE_MISS) {
			rcache_entry_ref(e);
			TAILQ_REMOVE(&c->lru, e, lru);
			TAILQ_INSERT_HEAD(&c->lru, e, lru);
			*out = e;
		}
	}
	if (st == RCACHE_FRESH)
		c->st.hits++;
	else
		c->st.misses++;
	pthread_mutex_unlock(&c->mu);
	drop_now(&d);
	return (st);
}

void
rcache_served_stale(struct rcache *c)
{
	pthread_mutex_lock(&c->mu);
	c->st.stale++;
	pthread_mutex_unlock(&c->mu);
}

int
rcache_invalidate(struct rcache *c, const char *key, size_t keylen)
{
	struct rcache_entry	**pp;
	struct droplist		  d = { NULL };
	int			  n = 0;

	pthread_mutex_lock(&c->mu);
	c->gen++;
	pp = slot_of(c, key, keylen, hash_key(key, keylen));
	if (*pp != NULL) {
		drop_later(&d, detach(c, pp));
		n = 1;
	}
	c->st.invalidated += (unsigned long)n;
	pthread_mutex_unlock(&c->mu);
	drop_now(&d);
	return (n);
}

int
rcache_invalidate_prefix(struct rcache *c, const char *prefix, size_t plen)
{
	struct rcache_entry	*e, *next;
	struct droplist		 d = { NULL };
	int			 n = 0;

	pthread_mutex_lock(&c->mu);
	c->gen++;
	/* walk the LRU list: it holds every entry exactly once */
	for (e = TAILQ_FIRST(&c->lru); e != NULL; e = next) {
		next = TAILQ_NEXT(e, lru);	/* e may be detached */
		if (e->keylen < plen || memcmp(e->key, prefix, plen) != 0)
			continue;
		drop_later(&d, detach(c, slot_of(c, e->key, e->keylen,
		    e->hash)));
		n++;
	}
	c->st.invalidated += (unsigned long)n;
	pthread_mutex_unlock(&c->mu);
	drop_now(&d);
	return (n);
}

void
rcache_stats(struct rcache *c, struct rcache_stats *out)
{
	pthread_mutex_lock(&c->mu);
	*out = c->st;
	pthread_mutex_unlock(&c->mu);
}

void
rcache_free(struct rcache *c)
{
	struct rcache_entry *e, *next;

	if (c == NULL)
		return;
	for (e = TAILQ_FIRST(&c->lru); e != NULL; e = next) {
		next = TAILQ_NEXT(e, lru);
		rcache_entry_unref(e);
	}
	pthread_mutex_destroy(&c->mu);
	free(c);
}

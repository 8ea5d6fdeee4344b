/*
 * status.c: counters and read-only views behind /status, /status.json and
 * /readyz (see status.h).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cfgref.h"
#include "config.h"
#include "cred.h"
#include "hunting.h"
#include "oauth.h"
#include "quota.h"
#include "rcache.h"
#include "router.h"
#include "routes.h"
#include "status.h"
#include "steward.h"
#include "tokensrc.h"
#include "util.h"

static const unsigned status_codes[] = {
	200, 201, 204, 400, 401, 403, 404, 405, 410, 413, 429, 500, 502, 503,
	504
};
#define NCODES	(sizeof(status_codes) / sizeof(status_codes[0]))

/* upper bounds in ms of the latency histogram; the last is "more" */
static const long long lat_bounds[] = {
	1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 30000,
	60000
};
#define NBUCKETS	(sizeof(lat_bounds) / sizeof(lat_bounds[0]) + 1)

static struct {
	/* [0] is "other", [1 + row] a row of the route table */
	atomic_ulong		 req[ROUTES_MAX + 1][NCODES + 1];
	atomic_ulong		 lat[NBUCKETS];
	atomic_ullong		 lat_sum_ms;
	atomic_llong		 lat_max_ms;
	atomic_ulong		 up_requests;
	atomic_ulong		 up_errors;	/* no answer, or 5xx */
	atomic_ulong		 up_4xx;	/* answered 4xx (403, 429, …) */
	/* per quota group: requests by cache result, local 429s, and those
	 * answered without an upstream call */
	atomic_ulong		 ans[QUOTA__COUNT][ST_CACHE__COUNT];
	atomic_ulong		 local429[QUOTA__COUNT];
	atomic_ulong		 avoided[QUOTA__COUNT];

	pthread_mutex_t		 mu;	/* guards the fields below */
	char			 forbidden[512];
	int			 forbidden_id;	/* its route row */
	long long		 forbidden_at;
	const struct gw_config	*cf;	/* a reference */
	struct tokensrc		*src[BACKEND__COUNT];
	int			 demo;
	unsigned int		 threads;	/* front workers running */
	long long		 started;
} st = { .mu = PTHREAD_MUTEX_INITIALIZER };

void
status_init(const struct gw_config *cf, int demo)
{
	cfgref_swap(&st.mu, &st.cf, cf);
	pthread_mutex_lock(&st.mu);
	st.demo = demo;
	st.started = util_now();
	pthread_mutex_unlock(&st.mu);
}

void
status_set_config(const struct gw_config *cf)
{
	cfgref_swap(&st.mu, &st.cf, cf);
}

void
status_set_threads(unsigned int n)
{
	pthread_mutex_lock(&st.mu);
	st.threads = n;
	pthread_mutex_unlock(&st.mu);
}

void
status_set_sources(struct tokensrc *const src[BACKEND__COUNT])
{
	pthread_mutex_lock(&st.mu);
	for (int b = 0; b < BACKEND__COUNT; b++)
		st.src[b] = src[b];
	pthread_mutex_unlock(&st.mu);
}

void
status_cleanup(void)
{
	pthread_mutex_lock(&st.mu);
	memset(st.src, 0, sizeof(st.src));
	pthread_mutex_unlock(&st.mu);
	cfgref_swap(&st.mu, &st.cf, NULL);
}

void
status_count(int id, unsigned int code)
{
	size_t i;

	if (id < 0 || id >= nroutes)
		id = -1;
	for (i = 0; i < NCODES && status_codes[i] != code; i++)
		;
	atomic_fetch_add_explicit(&st.req[id + 1][i], 1,
	    memory_order_relaxed);
}

/* The quota group of route row id, -1 for none. */
static int
row_group(int id)
{
	return (id >= 0 && id < nroutes ? steward_group(&routes[id]) : -1);
}

void
status_answered(int id, int cache, unsigned int code, int upstream)
{
	int	 g = row_group(id), local;

	if (g < 0 || g >= QUOTA__COUNT)
		return;
	if ((unsigned)cache >= ST_CACHE__COUNT)
		cache = ST_CACHE_NONE;
	atomic_fetch_add_explicit(&st.ans[g][cache], 1, memory_order_relaxed);
	local = !upstream && code == 429;
	if (local)
		atomic_fetch_add_explicit(&st.local429[g], 1,
		    memory_order_relaxed);
	if (!upstream && (local || cache == ST_CACHE_HIT ||
	    cache == ST_CACHE_COALESCED || cache == ST_CACHE_STALE))
		atomic_fetch_add_explicit(&st.avoided[g], 1,
		    memory_order_relaxed);
}

void
status_upstream(int id, long long ms, long code)
{
	struct quota	*q = steward_quota();
	size_t		 b;
	long long	 max;
	int		 g = row_group(id);

	if (q != NULL && g >= 0)
		quota_called(q, g, util_mono_ms());

	for (b = 0; b < NBUCKETS - 1 && ms > lat_bounds[b]; b++)
		;
	atomic_fetch_add_explicit(&st.lat[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&st.lat_sum_ms, (unsigned long long)ms,
	    memory_order_relaxed);
	atomic_fetch_add_explicit(&st.up_requests, 1, memory_order_relaxed);
	if (code == 0 || code >= 500)
		atomic_fetch_add_explicit(&st.up_errors, 1,
		    memory_order_relaxed);
	else if (code >= 400)
		atomic_fetch_add_explicit(&st.up_4xx, 1, memory_order_relaxed);
	else if (code >= 200 && code < 300) {
		/* the route works now: its last 403 is history */
		pthread_mutex_lock(&st.mu);
		if (st.forbidden[0] && st.forbidden_id == id)
			st.forbidden[0] = '\0';
		pthread_mutex_unlock(&st.mu);
	}
	max = atomic_load_explicit(&st.lat_max_ms, memory_order_relaxed);
	while (ms > max && !atomic_compare_exchange_weak(&st.lat_max_ms, &max,
	    ms))
		;
}

void
status_forbidden(int id, const char *msg, size_t len)
{
	pthread_mutex_lock(&st.mu);
	st.forbidden_id = id;
	st.forbidden_at = util_now();
	if (len >= sizeof(st.forbidden))
		len = sizeof(st.forbidden) - 1;
	memcpy(st.forbidden, msg, len);
	st.forbidden[len] = '\0';
	pthread_mutex_unlock(&st.mu);
}

int
status_roles_ok(const char *const *roles, const struct jwt_claims *c)
{
	for (int i = 0; i < ROUTE_MAX_ROLES && roles[i]; i++)
		if (jwt_has_role(c, roles[i]))
			return (1);
	return (0);
}

/* st.mu held: the hunting decision as the back thread would take it. */
static void
decide(struct hunting_decision *d)
{
	enum hunting_graph	 g = HUNTING_GRAPH_UNKNOWN;
	int			 failed = 0;

	if (st.src[BACKEND_GRAPH])
		g = tokensrc_graph_state(st.src[BACKEND_GRAPH], &failed);
	hunting_select(st.cf ? st.cf->hunting_backend : CONFIG_HUNT_AUTO, g,
	    failed, util_now(), d);
}

static int
source_ready(enum backend_id b, char *msg, size_t msglen)
{
	struct token_view	 v;
	char			 why[448];

	if (st.src[b] == NULL) {
		snprintf(msg, msglen, "defgate is starting");
		return (0);
	}
	if (tokensrc_ready(st.src[b]))
		return (1);
	tokensrc_view(st.src[b], &v);
	if (v.have_error) {
		oauth_error_describe(&v.last_error, why, sizeof(why));
		snprintf(msg, msglen, "no valid token for the %s: %s",
		    backend_title(b), why);
	} else
		snprintf(msg, msglen, "no valid token for the %s yet",
		    backend_title(b));
	tokensrc_view_free(&v);
	return (0);
}

int
status_ready(char *msg, size_t msglen)
{
	struct hunting_decision	 d;
	int			 ok;

	pthread_mutex_lock(&st.mu);
	ok = source_ready(BACKEND_DEFENDER, msg, msglen);
	if (ok) {
		decide(&d);
		if (d.choice == HUNTING_USE_GRAPH)
			ok = source_ready(BACKEND_GRAPH, msg, msglen);
	}
	pthread_mutex_unlock(&st.mu);
	return (ok);
}

static long long
lat_quantile(const unsigned long *h, unsigned long n, double q)
{
	unsigned long	 want = (unsigned long)(q * (double)n), acc = 0;

	for (size_t b = 0; b < NBUCKETS; b++) {
		acc += h[b];
		if (acc > want || (acc == n && acc > 0))
			return (b < NBUCKETS - 1 ? lat_bounds[b] :
			    lat_bounds[NBUCKETS - 2] * 2);
	}
	return (0);
}

static void
add_str(cJSON *o, const char *k, const char *v)
{
	if (v)
		cJSON_AddStringToObject(o, k, v);
	else
		cJSON_AddNullToObject(o, k);
}

static cJSON *
render_error(const struct oauth_error *e)
{
	cJSON		*o = cJSON_CreateObject();
	const char	*hint = oauth_hint(e->aadsts);

	cJSON_AddStringToObject(o, "error", e->error);
	if (e->aadsts)
		cJSON_AddNumberToObject(o, "aadsts", (double)e->aadsts);
	else
		cJSON_AddNullToObject(o, "aadsts");
	add_str(o, "hint", hint);
	cJSON_AddStringToObject(o, "description", e->description);
	cJSON_AddNumberToObject(o, "http_status", (double)e->http_status);
	cJSON_AddNumberToObject(o, "time", (double)e->when);
	if (e->trace_id[0])
		cJSON_AddStringToObject(o, "trace_id", e->trace_id);
	if (e->correlation_id[0])
		cJSON_AddStringToObject(o, "correlation_id",
		    e->correlation_id);
	if (e->retry_after)
		cJSON_AddNumberToObject(o, "retry_after",
		    (double)e->retry_after);
	return (o);
}

static void
add_time(cJSON *o, const char *k, long long t)
{
	if (t)
		cJSON_AddNumberToObject(o, k, (double)t);
	else
		cJSON_AddNullToObject(o, k);
}

static void
render_view(cJSON *t, const struct token_view *v, long long now)
{
	const struct jwt_claims	*c = &v->claims;
	cJSON			*roles;

	cJSON_AddStringToObject(t, "state", tokensrc_state_name(v->state));
	cJSON_AddBoolToObject(t, "used", v->used);
	/* the claims shown are those of the last good token */
	cJSON_AddBoolToObject(t, "stale", v->stale);
	roles = cJSON_AddArrayToObject(t, "roles");
	for (int i = 0; v->have_claims && i < c->nroles; i++)
		cJSON_AddItemToArray(roles, cJSON_CreateString(c->roles[i]));
	cJSON_AddBoolToObject(t, "has_roles", v->have_claims && c->has_roles);
	cJSON_AddBoolToObject(t, "decoded", v->have_claims);
	add_str(t, "tenant_id", c->tid);
	add_str(t, "app_id", c->app_id);
	add_str(t, "app_displayname", c->app_displayname);
	add_str(t, "audience", c->aud);
	add_str(t, "issuer", c->iss);
	add_str(t, "version", c->ver);
	add_str(t, "credential", c->credential);
	add_str(t, "idtyp", c->idtyp);
	add_str(t, "alg", c->alg);
	cJSON_AddNumberToObject(t, "issued_at", (double)c->iat);
	cJSON_AddNumberToObject(t, "not_before", (double)c->nbf);
	add_time(t, "expires_at", v->expires_at);
	if (v->expires_at)
		cJSON_AddNumberToObject(t, "expires_in", (double)
		    (v->expires_at > now ? v->expires_at - now : 0));
	else
		cJSON_AddNullToObject(t, "expires_in");
	if (c->iat && c->exp > c->iat)
		cJSON_AddNumberToObject(t, "lifetime", (double)(c->exp -
		    c->iat));
	else
		cJSON_AddNullToObject(t, "lifetime");
	cJSON_AddNumberToObject(t, "obtained_at", (double)v->obtained_at);
	cJSON_AddNumberToObject(t, "next_refresh_at",
	    (double)v->next_refresh_at);
	cJSON_AddNumberToObject(t, "refreshes", (double)v->refreshes);
	cJSON_AddNumberToObject(t, "failures", (double)v->failures);
	cJSON_AddNumberToObject(t, "rejections", (double)v->rejections);
	if (v->have_error)
		cJSON_AddItemToObject(t, "last_error",
		    render_error(&v->last_error));
	else
		cJSON_AddNullToObject(t, "last_error");
}

static cJSON *
render_hunting(const struct hunting_decision *d)
{
	cJSON *h = cJSON_CreateObject();

	cJSON_AddStringToObject(h, "mode", st.cf ?
	    hunting_mode_name(st.cf->hunting_backend) : "auto");
	cJSON_AddStringToObject(h, "backend", d->choice == HUNTING_USE_GRAPH ?
	    "graph" : d->choice == HUNTING_GONE ? "none" :
	    d->choice == HUNTING_WAIT_GRAPH ? "pending" : "defender");
	cJSON_AddStringToObject(h, "why", d->why);
	cJSON_AddStringToObject(h, "retirement", "2027-02-01T00:00:00Z");
	cJSON_AddNumberToObject(h, "retirement_at",
	    (double)HUNTING_RETIREMENT);
	cJSON_AddNumberToObject(h, "days_left", (double)d->days_left);
	cJSON_AddBoolToObject(h, "warning", d->warn ||
	    d->choice == HUNTING_GONE);
	cJSON_AddStringToObject(h, "fix", hunting_fix);
	return (h);
}

/* st.mu held. views[b] are the sources' views. */
static cJSON *
render_routes(const struct token_view *views, const struct hunting_decision *d)
{
	cJSON *a = cJSON_CreateArray();

	for (int i = 0; i < nroutes; i++) {
		const struct route	*r = &routes[i];
		const struct token_view	*v;
		const char		*path;
		const char *const	*roles;
		enum backend_id		 b;
		cJSON			*o, *req, *miss;
		char			 up[256];
		int			 known, ok;

		if (!routes_forwarded(r))
			continue;
		hunting_route(r, d, &b, &path, &roles);
		v = &views[b];
		known = v->have_claims;
		ok = known && !v->stale && status_roles_ok(roles, &v->claims);
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", r->name);
		cJSON_AddStringToObject(o, "method", r->method);
		cJSON_AddStringToObject(o, "path", r->path);
		cJSON_AddStringToObject(o, "backend", backend_name(b));
		snprintf(up, sizeof(up), "%s %s", routes_upstream_method(r),
		    path);
		cJSON_AddStringToObject(o, "upstream", up);
		req = cJSON_AddArrayToObject(o, "requires");
		miss = cJSON_AddArrayToObject(o, "missing");
		for (int k = 0; k < ROUTE_MAX_ROLES && roles[k]; k++) {
			cJSON_AddItemToArray(req, cJSON_CreateString(roles[k]));
			if (known && !status_roles_ok(roles, &v->claims))
				cJSON_AddItemToArray(miss,
				    cJSON_CreateString(roles[k]));
		}
		cJSON_AddBoolToObject(o, "allowed", ok);
		cJSON_AddBoolToObject(o, "enabled", st.cf == NULL ||
		    routes_enabled(r, st.cf));
		cJSON_AddBoolToObject(o, "hunting", r->kind == RK_HUNT);
		cJSON_AddNumberToObject(o, "cache_ttl", (double)r->cache_ttl);
		cJSON_AddItemToArray(a, o);
	}
	return (a);
}

static void
render_config(cJSON *c)
{
	const struct gw_config *cf = st.cf;

	if (cf == NULL)
		return;
	cJSON_AddStringToObject(c, "api_url", cf->api_url);
	cJSON_AddStringToObject(c, "graph_url", cf->graph_url);
	cJSON_AddStringToObject(c, "mde_url", cf->mde_url);
	cJSON_AddStringToObject(c, "authority_host", cf->authority_host);
	add_str(c, "tenant_id", cf->tenant_id);
	add_str(c, "client_id", cf->client_id);
	cJSON_AddStringToObject(c, "token_version", cf->token_version == 1 ?
	    "v1" : "v2");
	cJSON_AddStringToObject(c, "scope", cf->scope);
	cJSON_AddStringToObject(c, "graph_scope", cf->graph_scope);
	cJSON_AddStringToObject(c, "mde_scope", cf->mde_scope);
	cJSON_AddStringToObject(c, "hunting_backend",
	    hunting_mode_name(cf->hunting_backend));
	cJSON_AddBoolToObject(c, "allow_write", cf->allow_write);
	cJSON_AddStringToObject(c, "listen", cf->listen);
	/*
	 * The workers running, not cf->threads: the pool is sized once at
	 * start (a reload keeps it) and lowered to max_clients.
	 */
	cJSON_AddNumberToObject(c, "threads", (double)st.threads);
	cJSON_AddBoolToObject(c, "demo", st.demo);
}

/* Rows answered by defgate itself: the status page, its data and probes. */
static int
own_traffic(int r)
{
	return (r >= 0 && r < nroutes && !routes_forwarded(&routes[r]));
}

/* The counts of the rows with own_traffic(row) == own, by name and code. */
static cJSON *
count_rows(int own, unsigned long *total)
{
	cJSON *by = cJSON_CreateObject();

	*total = 0;
	for (int r = -1; r < nroutes; r++) {
		const char	*name = router_name(r);
		cJSON		*rc = cJSON_GetObjectItemCaseSensitive(by, name);

		if (own_traffic(r) != own)
			continue;
		for (size_t i = 0; i <= NCODES; i++) {
			unsigned long k = atomic_load_explicit(
			    &st.req[r + 1][i], memory_order_relaxed);
			char code[8];
			cJSON *n;

			if (k == 0)
				continue;
			if (rc == NULL)
				rc = cJSON_AddObjectToObject(by, name);
			if (i < NCODES)
				snprintf(code, sizeof(code), "%u",
				    status_codes[i]);
			else
				snprintf(code, sizeof(code), "other");
			/* rows sharing a name add up */
			if ((n = cJSON_GetObjectItemCaseSensitive(rc,
			    code)) != NULL)
				cJSON_SetNumberValue(n, n->valuedouble +
				    (double)k);
			else
				cJSON_AddNumberToObject(rc, code, (double)k);
			*total += k;
		}
	}
	return (by);
}

/*
 * requests: API traffic (forwarded routes and unknown paths); own: the
 * status page, its assets, /status.json, /healthz and /readyz.
 */
static void
render_requests(cJSON *root)
{
	cJSON		*reqs, *own, *by;
	unsigned long	 total;

	reqs = cJSON_AddObjectToObject(root, "requests");
	by = count_rows(0, &total);
	cJSON_AddNumberToObject(reqs, "total", (double)total);
	cJSON_AddItemToObject(reqs, "by_route", by);
	own = cJSON_AddObjectToObject(root, "own_requests");
	by = count_rows(1, &total);
	cJSON_AddNumberToObject(own, "total", (double)total);
	cJSON_AddItemToObject(own, "by_route", by);
}

static void
add_limit(cJSON *o, const char *k, long v)
{
	if (v >= 0)
		cJSON_AddNumberToObject(o, k, (double)v);
	else
		cJSON_AddNullToObject(o, k);
}

/*
 * The quota card. Calls made, remaining, closure: quota_view (as
 * defgate_quota_calls, _remaining, _closed_seconds). Answers by cache
 * result: the requests counted in defgate_requests_total, by group.
 * Cache size: rcache_stats (defgate_cache_*).
 */
static cJSON *
render_quota(int cache_on)
{
	cJSON			*o = cJSON_CreateObject(), *groups, *cache;
	struct quota		*q = steward_quota();
	struct rcache		*rc = steward_cache();
	struct rcache_stats	 cs;
	long long		 mono = util_mono_ms(), now = util_now();
	unsigned long		 hits = 0, cacheable = 0;

	cJSON_AddBoolToObject(o, "enabled", q != NULL);
	groups = cJSON_AddArrayToObject(o, "groups");
	for (int g = 0; q != NULL && g < QUOTA__COUNT; g++) {
		struct quota_view	 v;
		cJSON			*e = cJSON_CreateObject(), *a;
		unsigned long		 n[ST_CACHE__COUNT], gc = 0;

		quota_view(q, g, mono, &v);
		cJSON_AddStringToObject(e, "name", quota_group_name(g));
		cJSON_AddBoolToObject(e, "limited", v.lim.limit[QUOTA_MIN] ||
		    v.lim.limit[QUOTA_HOUR]);
		add_limit(e, "limit_minute", v.lim.limit[QUOTA_MIN] ?
		    (long)v.lim.limit[QUOTA_MIN] : -1);
		add_limit(e, "limit_hour", v.lim.limit[QUOTA_HOUR] ?
		    (long)v.lim.limit[QUOTA_HOUR] : -1);
		cJSON_AddNumberToObject(e, "calls_minute",
		    (double)v.made[QUOTA_MIN]);
		cJSON_AddNumberToObject(e, "calls_hour",
		    (double)v.made[QUOTA_HOUR]);
		cJSON_AddNumberToObject(e, "calls_total", (double)v.made_total);
		add_limit(e, "remaining_minute", v.remaining[QUOTA_MIN]);
		add_limit(e, "remaining_hour", v.remaining[QUOTA_HOUR]);
		cJSON_AddBoolToObject(e, "closed", v.closed_ms > 0);
		cJSON_AddNumberToObject(e, "closed_s", (double)
		    ((v.closed_ms + 999) / 1000));
		/* wall clock for the page; the quota runs on the mono one */
		if (v.closed_ms > 0)
			cJSON_AddNumberToObject(e, "closed_until", (double)
			    (now + (v.closed_ms + 999) / 1000));
		else
			cJSON_AddNullToObject(e, "closed_until");
		cJSON_AddNumberToObject(e, "upstream_429", (double)v.throttled);
		cJSON_AddNumberToObject(e, "denied", (double)v.denied);
		a = cJSON_AddObjectToObject(e, "answered");
		for (int k = 0; k < ST_CACHE__COUNT; k++) {
			n[k] = atomic_load_explicit(&st.ans[g][k],
			    memory_order_relaxed);
			if (k != ST_CACHE_NONE)
				gc += n[k];
		}
		cJSON_AddNumberToObject(a, "hit", (double)n[ST_CACHE_HIT]);
		cJSON_AddNumberToObject(a, "coalesced",
		    (double)n[ST_CACHE_COALESCED]);
		cJSON_AddNumberToObject(a, "stale", (double)n[ST_CACHE_STALE]);
		cJSON_AddNumberToObject(a, "miss", (double)n[ST_CACHE_MISS]);
		cJSON_AddNumberToObject(a, "uncached",
		    (double)n[ST_CACHE_NONE]);
		cJSON_AddNumberToObject(a, "local_429", (double)
		    atomic_load_explicit(&st.local429[g],
		    memory_order_relaxed));
		cJSON_AddNumberToObject(e, "avoided", (double)
		    atomic_load_explicit(&st.avoided[g],
		    memory_order_relaxed));
		if (gc > 0)
			cJSON_AddNumberToObject(e, "hit_ratio",
			    (double)n[ST_CACHE_HIT] / (double)gc);
		else
			cJSON_AddNullToObject(e, "hit_ratio");
		hits += n[ST_CACHE_HIT];
		cacheable += gc;
		cJSON_AddItemToArray(groups, e);
	}
	cache = cJSON_AddObjectToObject(o, "cache");
	cJSON_AddBoolToObject(cache, "on", cache_on && rc != NULL);
	memset(&cs, 0, sizeof(cs));
	if (rc != NULL)
		rcache_stats(rc, &cs);
	cJSON_AddNumberToObject(cache, "entries", (double)cs.entries);
	cJSON_AddNumberToObject(cache, "bytes", (double)cs.bytes);
	cJSON_AddNumberToObject(cache, "max_bytes", (double)cs.max_bytes);
	cJSON_AddNumberToObject(cache, "hits", (double)hits);
	cJSON_AddNumberToObject(cache, "cacheable", (double)cacheable);
	if (cacheable > 0)
		cJSON_AddNumberToObject(cache, "hit_ratio", (double)hits /
		    (double)cacheable);
	else
		cJSON_AddNullToObject(cache, "hit_ratio");
	cJSON_AddStringToObject(cache, "hit_ratio_is", "fresh hits / "
	    "requests of cached routes (hit, miss, coalesced, stale)");
	return (o);
}

char *
status_render_json(size_t *len)
{
	cJSON			*root = cJSON_CreateObject(), *c, *up, *lat, *srcs;
	struct token_view	 views[BACKEND__COUNT];
	struct hunting_decision	 d;
	unsigned long		 h[NBUCKETS], n = 0;
	long long		 now = util_now();
	char			*out;
	int			 cache_on;

	pthread_mutex_lock(&st.mu);
	cache_on = st.cf != NULL && st.cf->cache;
	cJSON_AddStringToObject(root, "version", PACKAGE_VERSION);
	cJSON_AddNumberToObject(root, "uptime_s", (double)(now - st.started));
	cJSON_AddNumberToObject(root, "now", (double)now);
	c = cJSON_AddObjectToObject(root, "config");
	render_config(c);
	if (st.cf)
		cred_status_json(st.cf, root);	/* "cloud", "credential" */
	for (int b = 0; b < BACKEND__COUNT; b++) {
		memset(&views[b], 0, sizeof(views[b]));
		views[b].backend = (enum backend_id)b;
		if (st.src[b])
			tokensrc_view(st.src[b], &views[b]);
	}
	decide(&d);
	/* the Defender XDR token, as before there were several */
	render_view(cJSON_AddObjectToObject(root, "token"),
	    &views[BACKEND_DEFENDER], now);
	srcs = cJSON_AddArrayToObject(root, "token_sources");
	for (int b = 0; b < BACKEND__COUNT; b++) {
		cJSON *t = cJSON_CreateObject();

		cJSON_AddStringToObject(t, "backend",
		    backend_name((enum backend_id)b));
		cJSON_AddStringToObject(t, "api",
		    backend_title((enum backend_id)b));
		cJSON_AddStringToObject(t, "permissions_app",
		    backend_permission_app((enum backend_id)b));
		if (st.cf) {
			cJSON_AddStringToObject(t, "url",
			    backend_url(st.cf, (enum backend_id)b));
			cJSON_AddStringToObject(t, "scope",
			    backend_scope(st.cf, (enum backend_id)b));
		}
		render_view(t, &views[b], now);
		cJSON_AddItemToArray(srcs, t);
	}
	cJSON_AddItemToObject(root, "hunting", render_hunting(&d));
	cJSON_AddItemToObject(root, "routes", render_routes(views, &d));
	up = cJSON_CreateObject();
	add_str(up, "last_forbidden", st.forbidden[0] ? st.forbidden : NULL);
	if (st.forbidden[0]) {
		cJSON_AddNumberToObject(up, "last_forbidden_at",
		    (double)st.forbidden_at);
		cJSON_AddStringToObject(up, "last_forbidden_route",
		    router_name(st.forbidden_id));
	} else {
		cJSON_AddNullToObject(up, "last_forbidden_at");
		cJSON_AddNullToObject(up, "last_forbidden_route");
	}
	pthread_mutex_unlock(&st.mu);
	for (int b = 0; b < BACKEND__COUNT; b++)
		tokensrc_view_free(&views[b]);

	render_requests(root);
	cJSON_AddItemToObject(root, "quota", render_quota(cache_on));
	for (size_t b = 0; b < NBUCKETS; b++) {
		h[b] = atomic_load_explicit(&st.lat[b], memory_order_relaxed);
		n += h[b];
	}
	cJSON_AddNumberToObject(up, "requests", (double)atomic_load(
	    &st.up_requests));
	cJSON_AddNumberToObject(up, "errors", (double)atomic_load(
	    &st.up_errors));
	cJSON_AddStringToObject(up, "errors_are",
	    "no answer (connect, TLS, timeout, reset) or a 5xx answer");
	cJSON_AddNumberToObject(up, "answers_4xx", (double)atomic_load(
	    &st.up_4xx));
	lat = cJSON_AddObjectToObject(up, "latency_ms");
	cJSON_AddNumberToObject(lat, "avg", n ? (double)atomic_load(
	    &st.lat_sum_ms) / (double)n : 0);
	cJSON_AddNumberToObject(lat, "p50", (double)lat_quantile(h, n, 0.5));
	cJSON_AddNumberToObject(lat, "p99", (double)lat_quantile(h, n, 0.99));
	cJSON_AddNumberToObject(lat, "max", (double)atomic_load(
	    &st.lat_max_ms));
	/* p50/p99 are the upper bounds of the histogram buckets they fall in */
	cJSON_AddStringToObject(lat, "percentiles_are", "bucket upper bounds");
	cJSON_AddItemToObject(root, "upstream", up);

	out = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	if (len)
		*len = out ? strlen(out) : 0;
	return (out);
}

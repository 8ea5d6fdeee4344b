/*
 * status.c: counters and the token view behind /status and /status.json.
 *
 * Request and latency counters are relaxed C11 atomics (front and back
 * thread write, the front thread reads). The token view and the last 403
 * text are guarded by one small mutex, written by the back thread a few
 * times per token lifetime, read when /status.json is rendered.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "cred.h"
#include "status.h"
#include "util.h"

static const unsigned status_codes[] = {
	200, 201, 204, 400, 401, 403, 404, 405, 413, 429, 500, 502, 503, 504
};
#define NCODES	(sizeof(status_codes) / sizeof(status_codes[0]))

/* upper bounds in ms of the latency histogram; the last is "more" */
static const long long lat_bounds[] = {
	1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 30000,
	60000
};
#define NBUCKETS	(sizeof(lat_bounds) / sizeof(lat_bounds[0]) + 1)

const struct status_route status_routes[] = {
	{ "GET", "/incidents", "GET /api/incidents",
	  { "Incident.Read.All", "Incident.ReadWrite.All" }, 0 },
	{ "GET", "/incidents/{id}", "GET /api/incidents/{id}",
	  { "Incident.Read.All", "Incident.ReadWrite.All" }, 0 },
	{ "PATCH", "/incidents/{id}", "PATCH /api/incidents/{id}",
	  { "Incident.ReadWrite.All", NULL }, 1 },
	{ "POST", "/hunting", "POST /api/advancedhunting/run",
	  { "AdvancedHunting.Read.All", NULL }, 0 },
	{ "GET", "/hunting?query=KQL", "POST /api/advancedhunting/run",
	  { "AdvancedHunting.Read.All", NULL }, 0 },
};
const int status_nroutes = sizeof(status_routes) / sizeof(status_routes[0]);

static struct {
	atomic_ulong		 req[ROUTE__COUNT][NCODES + 1];
	atomic_ulong		 lat[NBUCKETS];
	atomic_ullong		 lat_sum_ms;
	atomic_llong		 lat_max_ms;
	atomic_ulong		 up_requests;
	atomic_ulong		 up_errors;
	atomic_llong		 ready_until;

	pthread_mutex_t		 mu;	/* guards the fields below */
	struct token_view	 view;
	char			 forbidden[512];
	const struct gw_config	*cf;
	int			 demo;
	long long		 started;
} st = { .mu = PTHREAD_MUTEX_INITIALIZER };

void
status_init(const struct gw_config *cf, int demo)
{
	pthread_mutex_lock(&st.mu);
	st.cf = cf;
	st.demo = demo;
	st.started = util_now();
	pthread_mutex_unlock(&st.mu);
}

void
status_set_config(const struct gw_config *cf)
{
	pthread_mutex_lock(&st.mu);
	st.cf = cf;
	pthread_mutex_unlock(&st.mu);
}

void
status_cleanup(void)
{
	pthread_mutex_lock(&st.mu);
	jwt_claims_free(&st.view.claims);
	memset(&st.view, 0, sizeof(st.view));
	pthread_mutex_unlock(&st.mu);
}

static char *
dup_or_null(const char *s)
{
	return (s ? strdup(s) : NULL);
}

static void
claims_copy(struct jwt_claims *d, const struct jwt_claims *s)
{
	memset(d, 0, sizeof(*d));
	d->alg = dup_or_null(s->alg);
	d->aud = dup_or_null(s->aud);
	d->iss = dup_or_null(s->iss);
	d->tid = dup_or_null(s->tid);
	d->app_id = dup_or_null(s->app_id);
	d->app_displayname = dup_or_null(s->app_displayname);
	d->ver = dup_or_null(s->ver);
	d->idtyp = dup_or_null(s->idtyp);
	d->oid = dup_or_null(s->oid);
	d->credential = dup_or_null(s->credential);
	d->iat = s->iat;
	d->nbf = s->nbf;
	d->exp = s->exp;
	d->has_roles = s->has_roles;
	for (int i = 0; i < s->nroles; i++)
		if ((d->roles[d->nroles] = dup_or_null(s->roles[i])) != NULL)
			d->nroles++;
}

void
status_token_publish(const struct token_view *v)
{
	struct jwt_claims old;

	pthread_mutex_lock(&st.mu);
	old = st.view.claims;
	st.view = *v;
	if (v->have_claims)
		claims_copy(&st.view.claims, &v->claims);
	else
		memset(&st.view.claims, 0, sizeof(st.view.claims));
	atomic_store_explicit(&st.ready_until,
	    v->state == TOKEN_VALID || v->state == TOKEN_REFRESHING ?
	    v->usable_until : 0, memory_order_relaxed);
	pthread_mutex_unlock(&st.mu);
	jwt_claims_free(&old);
}

int
status_token_ready(void)
{
	return (util_now() < atomic_load_explicit(&st.ready_until,
	    memory_order_relaxed));
}

int
status_token_error(struct oauth_error *out)
{
	int have;

	pthread_mutex_lock(&st.mu);
	have = st.view.have_error;
	if (have)
		*out = st.view.last_error;
	pthread_mutex_unlock(&st.mu);
	return (have);
}

void
status_count(enum route_id r, unsigned int code)
{
	size_t i;

	if ((unsigned)r >= ROUTE__COUNT)
		r = ROUTE_NONE;
	for (i = 0; i < NCODES && status_codes[i] != code; i++)
		;
	atomic_fetch_add_explicit(&st.req[r][i], 1, memory_order_relaxed);
}

void
status_upstream(long long ms, long code)
{
	size_t		 b;
	long long	 max;

	for (b = 0; b < NBUCKETS - 1 && ms > lat_bounds[b]; b++)
		;
	atomic_fetch_add_explicit(&st.lat[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&st.lat_sum_ms, (unsigned long long)ms,
	    memory_order_relaxed);
	atomic_fetch_add_explicit(&st.up_requests, 1, memory_order_relaxed);
	if (code == 0 || code >= 500)
		atomic_fetch_add_explicit(&st.up_errors, 1,
		    memory_order_relaxed);
	max = atomic_load_explicit(&st.lat_max_ms, memory_order_relaxed);
	while (ms > max && !atomic_compare_exchange_weak(&st.lat_max_ms, &max,
	    ms))
		;
}

void
status_forbidden(const char *msg, size_t len)
{
	pthread_mutex_lock(&st.mu);
	if (len >= sizeof(st.forbidden))
		len = sizeof(st.forbidden) - 1;
	memcpy(st.forbidden, msg, len);
	st.forbidden[len] = '\0';
	pthread_mutex_unlock(&st.mu);
}

const char *
status_state_name(enum token_state s)
{
	switch (s) {
	case TOKEN_VALID:	return ("valid");
	case TOKEN_REFRESHING:	return ("refreshing");
	case TOKEN_EXPIRED:	return ("expired");
	case TOKEN_ERROR:	return ("error");
	default:		return ("none");
	}
}

int
status_route_allowed(const struct status_route *r, const struct jwt_claims *c)
{
	for (int i = 0; i < 2 && r->requires[i]; i++)
		if (jwt_has_role(c, r->requires[i]))
			return (1);
	return (0);
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

static cJSON *
render_token(const struct token_view *v, long long now)
{
	cJSON				*t = cJSON_CreateObject(), *roles;
	const struct jwt_claims		*c = &v->claims;
	enum token_state		 state = v->state;

	if ((state == TOKEN_VALID || state == TOKEN_REFRESHING) &&
	    v->expires_at && now >= v->expires_at)
		state = TOKEN_EXPIRED;
	cJSON_AddStringToObject(t, "state", status_state_name(state));
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
	if (v->expires_at) {
		cJSON_AddNumberToObject(t, "expires_at",
		    (double)v->expires_at);
		cJSON_AddNumberToObject(t, "expires_in", (double)
		    (v->expires_at > now ? v->expires_at - now : 0));
	} else {
		cJSON_AddNullToObject(t, "expires_at");
		cJSON_AddNullToObject(t, "expires_in");
	}
	cJSON_AddNumberToObject(t, "obtained_at", (double)v->obtained_at);
	cJSON_AddNumberToObject(t, "next_refresh_at",
	    (double)v->next_refresh_at);
	cJSON_AddNumberToObject(t, "refreshes", (double)v->refreshes);
	cJSON_AddNumberToObject(t, "failures", (double)v->failures);
	if (v->have_error)
		cJSON_AddItemToObject(t, "last_error",
		    render_error(&v->last_error));
	else
		cJSON_AddNullToObject(t, "last_error");
	return (t);
}

static cJSON *
render_routes(const struct token_view *v, const struct gw_config *cf)
{
	cJSON *a = cJSON_CreateArray();

	for (int i = 0; i < status_nroutes; i++) {
		const struct status_route	*r = &status_routes[i];
		cJSON				*o = cJSON_CreateObject();
		cJSON				*req, *miss;
		int				 ok;

		ok = v->have_claims && status_route_allowed(r, &v->claims);
		cJSON_AddStringToObject(o, "method", r->method);
		cJSON_AddStringToObject(o, "path", r->path);
		cJSON_AddStringToObject(o, "upstream", r->upstream);
		req = cJSON_AddArrayToObject(o, "requires");
		miss = cJSON_AddArrayToObject(o, "missing");
		for (int k = 0; k < 2 && r->requires[k]; k++) {
			cJSON_AddItemToArray(req,
			    cJSON_CreateString(r->requires[k]));
			if (!ok)
				cJSON_AddItemToArray(miss,
				    cJSON_CreateString(r->requires[k]));
		}
		cJSON_AddBoolToObject(o, "allowed", ok);
		cJSON_AddBoolToObject(o, "enabled", !r->write ||
		    (cf && cf->allow_write));
		cJSON_AddItemToArray(a, o);
	}
	return (a);
}

char *
status_render_json(size_t *len)
{
	cJSON		*root = cJSON_CreateObject(), *c, *reqs, *by, *up, *lat;
	unsigned long	 h[NBUCKETS], n = 0, total = 0;
	long long	 now = util_now();
	char		*out;

	pthread_mutex_lock(&st.mu);
	cJSON_AddStringToObject(root, "version", PACKAGE_VERSION);
	cJSON_AddNumberToObject(root, "uptime_s", (double)(now - st.started));
	cJSON_AddNumberToObject(root, "now", (double)now);
	c = cJSON_AddObjectToObject(root, "config");
	if (st.cf) {
		cJSON_AddStringToObject(c, "api_url", st.cf->api_url);
		cJSON_AddStringToObject(c, "authority_host",
		    st.cf->authority_host);
		add_str(c, "tenant_id", st.cf->tenant_id);
		add_str(c, "client_id", st.cf->client_id);
		cJSON_AddStringToObject(c, "token_version",
		    st.cf->token_version == 1 ? "v1" : "v2");
		cJSON_AddStringToObject(c, "scope", st.cf->scope);
		cJSON_AddBoolToObject(c, "allow_write", st.cf->allow_write);
		cJSON_AddStringToObject(c, "listen", st.cf->listen);
		cJSON_AddBoolToObject(c, "demo", st.demo);
		cred_status_json(st.cf, root);	/* "cloud", "credential" */
	}
	cJSON_AddItemToObject(root, "token", render_token(&st.view, now));
	cJSON_AddItemToObject(root, "routes", render_routes(&st.view, st.cf));
	up = cJSON_CreateObject();
	add_str(up, "last_forbidden", st.forbidden[0] ? st.forbidden : NULL);
	pthread_mutex_unlock(&st.mu);

	reqs = cJSON_AddObjectToObject(root, "requests");
	by = cJSON_CreateObject();
	for (int r = 0; r < ROUTE__COUNT; r++) {
		cJSON *rc = NULL;

		for (size_t i = 0; i <= NCODES; i++) {
			unsigned long k = atomic_load_explicit(&st.req[r][i],
			    memory_order_relaxed);
			char code[8];

			if (k == 0)
				continue;
			if (rc == NULL)
				rc = cJSON_AddObjectToObject(by,
				    router_name((enum route_id)r));
			if (i < NCODES)
				snprintf(code, sizeof(code), "%u",
				    status_codes[i]);
			else
				snprintf(code, sizeof(code), "other");
			cJSON_AddNumberToObject(rc, code, (double)k);
			total += k;
		}
	}
	cJSON_AddNumberToObject(reqs, "total", (double)total);
	cJSON_AddItemToObject(reqs, "by_route", by);

	for (size_t b = 0; b < NBUCKETS; b++) {
		h[b] = atomic_load_explicit(&st.lat[b], memory_order_relaxed);
		n += h[b];
	}
	cJSON_AddNumberToObject(up, "requests", (double)atomic_load(
	    &st.up_requests));
	cJSON_AddNumberToObject(up, "errors", (double)atomic_load(
	    &st.up_errors));
	lat = cJSON_AddObjectToObject(up, "latency_ms");
	cJSON_AddNumberToObject(lat, "avg", n ? (double)atomic_load(
	    &st.lat_sum_ms) / (double)n : 0);
	cJSON_AddNumberToObject(lat, "p50", (double)lat_quantile(h, n, 0.5));
	cJSON_AddNumberToObject(lat, "p99", (double)lat_quantile(h, n, 0.99));
	cJSON_AddNumberToObject(lat, "max", (double)atomic_load(
	    &st.lat_max_ms));
	cJSON_AddItemToObject(root, "upstream", up);

	out = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	if (len)
		*len = out ? strlen(out) : 0;
	return (out);
}

/*
 * sim_api.c: the front of the simulated APIs (Defender XDR, MDE, Graph):
 * the route table, the bearer-token check (signature, expiry, tenant,
 * revocation, and the audience the route needs: another audience's token
 * is a 401), the role check (a 403 naming the required and the granted
 * roles), the error shape of each API, and the delivery of answers.
 * The handlers are in sim_defender.c, sim_graph.c and sim_mde.c.
 *
 * Threads: any MHD thread. Ownership: an answer's body or generator is
 * handed to the MHD response; claims are freed here.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "sim_int.h"
#include "util.h"

#define GRAPH_CT	"application/json;odata.metadata=minimal;" \
			"odata.streaming=true;IEEE754Compatible=false;charset=utf-8"

#define ROLES_INC	"Incident.Read.All,Incident.ReadWrite.All"
#define ROLES_ALERT	"Alert.Read.All,Alert.ReadWrite.All"
#define ROLES_MACHINE	"Machine.Read.All,Machine.ReadWrite.All"
#define ROLES_G_INC	"SecurityIncident.Read.All,SecurityIncident.ReadWrite.All"
#define ROLES_G_ALERT	"SecurityAlert.Read.All,SecurityAlert.ReadWrite.All"

/* Every API route of the simulation: who may call it and who answers. */
static const struct route routes[] = {
	{ "GET", "/api/incidents", 0, SIM_AUD_DEFENDER, ROLES_INC,
	  H_INC_LIST, sim_defender_incidents },
	{ "GET", "/api/incidents", 1, SIM_AUD_DEFENDER, ROLES_INC,
	  H_INC_GET, sim_defender_incidents },
	{ "PATCH", "/api/incidents", 1, SIM_AUD_DEFENDER,
	  "Incident.ReadWrite.All", H_INC_PATCH, sim_defender_incidents },
	{ "POST", "/api/advancedhunting/run", 0, SIM_AUD_DEFENDER,
	  "AdvancedHunting.Read.All", H_HUNT, sim_defender_hunting },
	{ "GET", "/api/alerts", 0, SIM_AUD_MDE, ROLES_ALERT, H_MDE_ALERTS,
	  sim_mde_answer },
	{ "GET", "/api/alerts", 1, SIM_AUD_MDE, ROLES_ALERT, H_MDE_ALERT,
	  sim_mde_answer },
	{ "GET", "/api/machines", 0, SIM_AUD_MDE, ROLES_MACHINE, H_MACHINES,
	  sim_mde_answer },
	{ "GET", "/api/machines", 1, SIM_AUD_MDE, ROLES_MACHINE, H_MACHINE,
	  sim_mde_answer },
	{ "POST", "/api/advancedqueries/run", 0, SIM_AUD_MDE,
	  "AdvancedQuery.Read.All", H_HUNT, sim_defender_hunting },
	{ "POST", "/v1.0/security/runHuntingQuery", 0, SIM_AUD_GRAPH,
	  "ThreatHunting.Read.All", H_HUNT, sim_defender_hunting },
	{ "GET", "/v1.0/security/incidents", 0, SIM_AUD_GRAPH, ROLES_G_INC,
	  H_G_INCIDENTS, sim_graph_answer },
	{ "GET", "/v1.0/security/incidents", 1, SIM_AUD_GRAPH, ROLES_G_INC,
	  H_G_INCIDENT, sim_graph_answer },
	{ "GET", "/v1.0/security/alerts_v2", 0, SIM_AUD_GRAPH, ROLES_G_ALERT,
	  H_G_ALERTS, sim_graph_answer },
	{ "GET", "/v1.0/security/alerts_v2", 1, SIM_AUD_GRAPH, ROLES_G_ALERT,
	  H_G_ALERT, sim_graph_answer },
};

/* The Defender/MDE error code and message for a status. */
static const struct {
	unsigned	 status;
	const char	*code, *msg;
} api_errs[] = {
	{ 400, "BadRequest", "General bad request" },
	{ 401, "Unauthorized", "The access token is missing, invalid or "
	    "expired." },
	{ 404, "NotFound", "Resource not found." },
	{ 429, "TooManyRequests", "API calls quota exceeded! maximum allowed "
	    "50 per 00:01:00" },
	{ 500, "InternalServerError", "" },
	{ 502, "BadGateway", "Bad gateway." },
	{ 503, "ServiceUnavailable", "The service is temporarily unavailable. "
	    "Please retry later." },
	{ 504, "GatewayTimeout", "The request timed out." },
};

/*
 * {"error":{"code":..,"message":..,"target":..}}; the target is the
 * request-id of the answer (a new uuid when NULL).
 */
static char *
defender_error(const char *code, const char *msg, const char *reqid)
{
	cJSON	*o = cJSON_CreateObject(), *e;
	char	 target[37];

	if (reqid != NULL)
		snprintf(target, sizeof(target), "%s", reqid);
	else
		util_uuid(target);
	e = cJSON_AddObjectToObject(o, "error");
	cJSON_AddStringToObject(e, "code", code);
	cJSON_AddStringToObject(e, "message", msg);
	cJSON_AddStringToObject(e, "target", target);
	return (sim_print_json(o));
}

/*
 * Graph's error: {"error":{"code","message","innerError":{"date",
 * "request-id","client-request-id"}}}.
 */
static char *
graph_error(const char *code, const char *msg, const char *reqid,
    const char *crid)
{
	cJSON	*o = cJSON_CreateObject(), *e, *in;
	char	 date[32];
	time_t	 t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	e = cJSON_AddObjectToObject(o, "error");
	cJSON_AddStringToObject(e, "code", code);
	cJSON_AddStringToObject(e, "message", msg);
	in = cJSON_AddObjectToObject(e, "innerError");
	cJSON_AddStringToObject(in, "date", date);
	cJSON_AddStringToObject(in, "request-id", reqid);
	cJSON_AddStringToObject(in, "client-request-id", crid && *crid ?
	    crid : reqid);
	return (sim_print_json(o));
}

/* An API error in the shape of the API that path belongs to. */
static char *
api_error_body(int graph, const char *code, const char *msg,
    const char *reqid, const char *crid)
{
	if (graph)
		return (graph_error(code, msg, reqid, crid));
	return (defender_error(code, msg, reqid));
}

/* Whether the roles claim holds any of the comma-separated roles. */
static int
has_any_role(const cJSON *claims, const char *any)
{
	const cJSON	*r, *a;
	const char	*p, *e;
	size_t		 n;

	a = cJSON_GetObjectItemCaseSensitive(claims, "roles");
	cJSON_ArrayForEach(r, a) {
		if (!cJSON_IsString(r))
			continue;
		for (p = any; p != NULL; p = e ? e + 1 : NULL) {
			e = strchr(p, ',');
			n = e ? (size_t)(e - p) : strlen(p);
			if (n > 0 && strlen(r->valuestring) == n &&
			    strncmp(r->valuestring, p, n) == 0)
				return (1);
		}
	}
	return (0);
}

/* "Missing application roles. ..." for the required roles. */
static char *
forbidden_body(const cJSON *claims, const char *required, int graph,
    const char *reqid, const char *crid)
{
	struct buf	 b;
	const cJSON	*r, *a;
	int		 first = 1;
	char		*body;

	buf_init(&b, 64 * 1024);
	buf_printf(&b, "Missing application roles. API required roles: %s, "
	    "application roles: ", required);
	a = claims ? cJSON_GetObjectItemCaseSensitive(claims, "roles") : NULL;
	cJSON_ArrayForEach(r, a) {
		if (!cJSON_IsString(r))
			continue;
		buf_printf(&b, "%s%s", first ? "" : ",", r->valuestring);
		first = 0;
	}
	buf_addstr(&b, ".");
	body = api_error_body(graph, "Forbidden", b.data ? b.data : "", reqid,
	    crid);
	buf_free(&b);
	return (body);
}

/*
 * Verified claims of the request's bearer token for audience want (-1:
 * any of ours), or NULL (*why set).
 */
static cJSON *
bearer(struct sim *s, struct MHD_Connection *c, int want, const char **why)
{
	const char		*h = sim_header(c, MHD_HTTP_HEADER_AUTHORIZATION);
	const char		*aud, *uti;
	size_t			 n;
	cJSON			*p, *exp, *nbf;
	long long		 now = util_now();
	unsigned long long	 serial, revoked = 0;
	int			 a;

	*why = "Authorization header is missing or is not a bearer token.";
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return (NULL);
	h += 7;
	while (*h == ' ')
		h++;
	n = strlen(h);
	while (n > 0 && (h[n - 1] == ' ' || h[n - 1] == '\t'))
		n--;
	*why = "The access token is invalid (signature validation failed).";
	if (n == 0 || (p = sim_jwt_verify(&s->tls, h, n)) == NULL)
		return (NULL);
	exp = cJSON_GetObjectItemCaseSensitive(p, "exp");
	nbf = cJSON_GetObjectItemCaseSensitive(p, "nbf");
	aud = sim_claim(p, "aud");
	uti = sim_claim(p, "uti");
	a = sim_audience_find(aud);
	pthread_mutex_lock(&s->mtx);
	if (a >= 0)
		revoked = s->revoked[a];
	pthread_mutex_unlock(&s->mtx);
	if (!cJSON_IsNumber(exp) || (long long)exp->valuedouble <= now)
		*why = "The access token has expired.";
	else if (cJSON_IsNumber(nbf) && (long long)nbf->valuedouble > now + 300)
		*why = "The access token is not yet valid.";
	else if (a < 0 || (want >= 0 && a != want))
		*why = "The access token audience is invalid.";
	else if (sim_claim(p, "tid") == NULL ||
	    strcmp(sim_claim(p, "tid"), s->tenant) != 0)
		*why = "The access token was issued for another tenant.";
	else if (uti == NULL || (serial = sim_token_serial(uti)) == 0 ||
	    serial <= revoked)
		*why = "The access token has been revoked.";
	else
		return (p);
	cJSON_Delete(p);
	return (NULL);
}

/* The route of a request (*id: the {id} segment), or NULL. */
static const struct route *
route_find(const char *url, const char *method, const char **id)
{
	size_t		 n;
	const char	*rest;

	*id = NULL;
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		n = strlen(routes[i].path);
		if (strncmp(url, routes[i].path, n) != 0 ||
		    strcmp(method, routes[i].method) != 0)
			continue;
		rest = url + n;
		if (!routes[i].has_id && *rest == '\0')
			return (&routes[i]);
		if (routes[i].has_id && rest[0] == '/' && rest[1] != '\0' &&
		    strchr(rest + 1, '/') == NULL) {
			*id = rest + 1;
			return (&routes[i]);
		}
	}
	return (NULL);
}

/* The decoded value of a query parameter (malloc'd), or NULL. */
char *
sim_query_value(const char *q, const char *name)
{
	const char	*p = q, *e, *eq;
	char		*k, *v = NULL;

	while (*p != '\0' && v == NULL) {
		e = p + strcspn(p, "&");
		eq = memchr(p, '=', (size_t)(e - p));
		k = sim_pct_decode(p, (size_t)((eq ? eq : e) - p), 1);
		if (strcmp(k, name) == 0)
			v = eq ? sim_pct_decode(eq + 1, (size_t)(e - eq - 1), 1) :
			    xstrdup("");
		free(k);
		p = *e ? e + 1 : e;
	}
	return (v);
}

/* $top/$skip from the raw query: 0 absent, 1 found (*out), -1 invalid. */
static int
query_long(const char *q, const char *name, long *out)
{
	char		*v = sim_query_value(q, name);
	long long	 n;
	int		 rc;

	if (v == NULL)
		return (0);
	rc = util_parse_ll(v, 0, LONG_MAX, &n) == 0 ? 1 : -1;
	if (rc == 1)
		*out = (long)n;
	free(v);
	return (rc);
}

void
sim_answer_error(const struct sim_req *r, struct answer *a, unsigned status,
    const char *code, const char *msg)
{
	a->status = status;
	a->body = api_error_body(r->graph, code, msg, r->reqid,
	    sim_header(r->c, "client-request-id"));
}

/* $top/$skip from the raw query: 0 absent, 1 found (*out), -1 invalid. */
int
sim_paging(const struct sim_req *r, struct answer *a, long *top, long *skip)
{
	*top = -1;
	*skip = 0;
	if (query_long(sim_raw_query(r->uri), "$top", top) == -1 ||
	    query_long(sim_raw_query(r->uri), "$skip", skip) == -1) {
		sim_answer_error(r, a, 400, r->graph ? "BadRequest" :
		    "ODataError", "Invalid OData URI query $top/$skip");
		return (-1);
	}
	return (0);
}

void
sim_api_prepare(struct sim *s, struct sim_req *r)
{
	r->graph = strncmp(r->url, "/v1.0/", 6) == 0 ||
	    strncmp(r->url, "/beta/", 6) == 0;
	r->route = route_find(r->url, r->method, &r->id);
	r->aud = r->route ? r->route->aud : -1;
	util_uuid(r->reqid);
}

static void
api_headers(struct MHD_Response *resp, const struct sim_req *r,
    long retry_after)
{
	const char	*crid = sim_header(r->c, "client-request-id");
	char		 ra[24];

	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    r->graph ? GRAPH_CT : SIM_JSON_CT);
	MHD_add_response_header(resp, "OData-Version", "4.0");
	MHD_add_response_header(resp, "request-id", r->reqid);
	if (crid != NULL)
		MHD_add_response_header(resp, "client-request-id", crid);
	if (retry_after >= 0) {
		snprintf(ra, sizeof(ra), "%ld", retry_after);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
	}
}

enum MHD_Result
sim_api_reply(struct sim_req *r, unsigned status, struct MHD_Response *resp,
    long retry_after)
{
	char		*big;

	if (resp == NULL)
		return (MHD_NO);
	api_headers(resp, r, retry_after);
	if (r->big_header > 0) {
		big = xmalloc((size_t)r->big_header + 1);
		memset(big, 'a', (size_t)r->big_header);
		big[r->big_header] = '\0';
		MHD_add_response_header(resp, "x-big", big);
		free(big);
	}
	return (sim_queue(r->c, status, resp));
}

char *
sim_api_error_body(const struct sim_req *r, unsigned status)
{
	const char	*code = "Error", *msg = "Simulated error.", *why;
	const char	*crid = sim_header(r->c, "client-request-id");
	cJSON		*claims;
	char		*body;

	for (size_t i = 0; i < sizeof(api_errs) / sizeof(api_errs[0]); i++)
		if (api_errs[i].status == status) {
			code = api_errs[i].code;
			msg = api_errs[i].msg;
		}
	if (r->graph && status == 429)
		msg = "Too many requests.";
	if (status != 403)
		return (api_error_body(r->graph, code, msg, r->reqid, crid));
	claims = bearer(r->s, r->c, -1, &why);
	body = forbidden_body(claims, r->route ? r->route->roles : ROLES_INC,
	    r->graph, r->reqid, crid);
	cJSON_Delete(claims);
	return (body);
}

/* The quota group of a route. */
static int
route_group(const struct route *rt)
{
	switch (rt->h) {
	case H_INC_LIST:
	case H_INC_GET:
	case H_INC_PATCH:
		return (SIM_QUOTA_INCIDENTS);
	case H_HUNT:
		return (SIM_QUOTA_HUNTING);
	case H_MDE_ALERTS:
	case H_MDE_ALERT:
	case H_MACHINES:
	case H_MACHINE:
		return (SIM_QUOTA_MDE);
	default:
		return (SIM_QUOTA_GRAPH);
	}
}

/*
 * Count the call against its group's quota; 1 when it is refused, with
 * a's 429 in the API's shape: Defender and MDE name the window that ran
 * out ("maximum allowed 45 per 00:01:00", code "429", as observed),
 * Graph says "Too many requests."; both carry Retry-After (seconds).
 */
static int
over_quota(struct sim *s, const struct sim_req *r, struct answer *a)
{
	unsigned	 limit = 0;
	long long	 span = 0, secs;
	long		 ra;
	char		 msg[128];

	ra = sim_quota_take(&s->quota, route_group(r->route), util_mono_ms(),
	    &limit, &span);
	if (ra == 0)
		return (0);
	secs = span / 1000;
	snprintf(msg, sizeof(msg), "API calls quota exceeded! maximum allowed "
	    "%u per %02lld:%02lld:%02lld", limit, secs / 3600,
	    secs / 60 % 60, secs % 60);
	if (r->graph)
		sim_answer_error(r, a, 429, "TooManyRequests",
		    "Too many requests.");
	else
		sim_answer_error(r, a, 429, "429", msg);
	a->retry_after = ra;
	return (1);
}

/* The normal answer of the APIs, into a. */
static void
api_answer(struct sim *s, struct sim_req *r, struct answer *a)
{
	const char	*why;
	cJSON		*claims;
	char		 text[256];

	if ((claims = bearer(s, r->c, r->route ? r->route->aud : -1,
	    &why)) == NULL) {
		sim_answer_error(r, a, 401, r->graph ?
		    "InvalidAuthenticationToken" : "Unauthorized", why);
		return;
	}
	if (r->route == NULL) {
		snprintf(text, sizeof(text), "No HTTP resource was found that "
		    "matches the request %s %.150s.", r->method, r->url);
		sim_answer_error(r, a, 404, "NotFound", text);
	} else if (!has_any_role(claims, r->route->roles)) {
		a->status = 403;
		a->body = forbidden_body(claims, r->route->roles, r->graph,
		    r->reqid, sim_header(r->c, "client-request-id"));
	} else if (!over_quota(s, r, a))
		r->route->fn(s, r, claims, a);
	cJSON_Delete(claims);
	if (a->body == NULL && a->hunt == NULL)
		sim_answer_error(r, a, 500, "InternalServerError", "");
}

enum MHD_Result
sim_api_answer(struct sim *s, struct sim_req *r)
{
	struct answer		 a;
	struct MHD_Response	*resp;

	memset(&a, 0, sizeof(a));
	api_answer(s, r, &a);
	if (a.hunt != NULL || r->cut || r->stall_ms > 0)
		resp = sim_stream_response(r, a.hunt, a.body);
	else
		resp = sim_mem_response(a.body);
	return (sim_api_reply(r, a.status, resp, a.retry_after > 0 ?
	    a.retry_after : -1));
}

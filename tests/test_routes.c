/*
 * test_routes.c: the route table (src/routes.c) walked row by row: the
 * router finds every row, the status view lists every forwarded row, and
 * the hunting selection (src/hunting.c) on a clock the test sets.
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "hunting.h"
#include "router.h"
#include "routes.h"
#include "status.h"
#include "tap.h"

/* The row's pattern with "{id}" replaced by id. */
static void
fill(const char *pat, const char *id, char *out, size_t n)
{
	const char *p = strstr(pat, "{id}");

	if (p == NULL)
		snprintf(out, n, "%s", pat);
	else
		snprintf(out, n, "%.*s%s%s", (int)(p - pat), pat, id, p + 4);
}

static void
test_walk(void)
{
	struct route_match	 m;
	char			 uri[256], *json;
	cJSON			*root, *list;
	int			 nfwd = 0;

	json = status_render_json(NULL);
	root = cJSON_Parse(json);
	list = cJSON_GetObjectItemCaseSensitive(root, "routes");
	ok(cJSON_IsArray(list), "/status.json has a routes array");
	for (int i = 0; i < nroutes; i++) {
		const struct route	*r = &routes[i];
		const cJSON		*o;
		int			 found = 0;

		fill(r->path, "abc-42", uri, sizeof(uri));
		ok(router_match(r->method, uri, &m) == ROUTER_OK,
		    "router: %s %s", r->method, uri);
		ok(m.route == r, "router: %s %s is row %d (%s)", r->method, uri,
		    i, r->name);
		ok(strstr(r->path, "{id}") == NULL ||
		    strcmp(m.item_id, "abc-42") == 0, "router: %s id copied",
		    r->name);
		ok(strstr(m.allow, r->method) != NULL, "Allow of %s lists %s",
		    r->path, r->method);
		ok(!(r->flags & ROUTE_WRITE) || r->cache_ttl == 0,
		    "%s: a write row is never cached", r->name);
		if (!routes_forwarded(r))
			continue;
		nfwd++;
		ok(r->upstream != NULL && r->upstream[0] == '/',
		    "%s: an upstream path", r->name);
		ok(r->roles[0] != NULL, "%s: names the roles it needs",
		    r->name);
		cJSON_ArrayForEach(o, list) {
			const cJSON *mm = cJSON_GetObjectItem(o, "method");
			const cJSON *pp = cJSON_GetObjectItem(o, "path");
			const cJSON *nn = cJSON_GetObjectItem(o, "name");

			if (strcmp(mm->valuestring, r->method) == 0 &&
			    strcmp(pp->valuestring, r->path) == 0 &&
			    strcmp(nn->valuestring, r->name) == 0)
				found++;
		}
		ok(found == 1, "/status.json lists %s %s once", r->method,
		    r->path);
	}
	ok(cJSON_GetArraySize(list) == nfwd,
	    "/status.json lists exactly the forwarded rows (%d)", nfwd);
	cJSON_Delete(root);
	free(json);

	/* nothing else reaches an upstream */
	is_int(router_match("GET", "/api/users", &m), ROUTER_NOT_FOUND,
	    "no row: /api/users");
	is_int(router_match("DELETE", "/api/incidents/1", &m),
	    ROUTER_BAD_METHOD, "DELETE on a row's path: 405");
	is_str(m.allow, "GET, PATCH", "Allow: GET, PATCH");
}

static void
test_selection(void)
{
	struct hunting_decision	 d;
	const long long		 before = HUNTING_RETIREMENT - 1;
	const long long		 at = HUNTING_RETIREMENT;

	is_int(HUNTING_RETIREMENT, 1801440000LL, "retirement is "
	    "2027-02-01T00:00:00Z");
	hunting_select(CONFIG_HUNT_AUTO, HUNTING_GRAPH_HAS_ROLE, 0, before, &d);
	is_int(d.choice, HUNTING_USE_GRAPH, "auto + role: Graph");
	is_int(d.warn, 0, "auto + role: no warning");
	hunting_select(CONFIG_HUNT_AUTO, HUNTING_GRAPH_NO_ROLE, 0, before, &d);
	is_int(d.choice, HUNTING_USE_LEGACY, "auto, no role, before: legacy");
	is_int(d.warn, 1, "... with a warning");
	is_int(d.days_left, 1, "... 1 day left one second before");
	hunting_select(CONFIG_HUNT_AUTO, HUNTING_GRAPH_NO_ROLE, 0,
	    at - 66 * 86400, &d);
	is_int(d.days_left, 66, "66 days left on 2026-11-27");
	hunting_select(CONFIG_HUNT_AUTO, HUNTING_GRAPH_UNKNOWN, 0, before, &d);
	is_int(d.choice, HUNTING_WAIT_GRAPH, "auto, no Graph token yet: wait");
	hunting_select(CONFIG_HUNT_AUTO, HUNTING_GRAPH_UNKNOWN, 1, before, &d);
	is_int(d.choice, HUNTING_USE_LEGACY, "auto, Graph token failed: legacy");
	hunting_select(CONFIG_HUNT_AUTO, HUNTING_GRAPH_NO_ROLE, 0, at, &d);
	is_int(d.choice, HUNTING_USE_GRAPH, "auto, no role, at the retirement: "
	    "never legacy");
	hunting_select(CONFIG_HUNT_AUTO, HUNTING_GRAPH_UNKNOWN, 1, at + 86400,
	    &d);
	is_int(d.choice, HUNTING_USE_GRAPH, "auto after it, Graph failing: "
	    "still Graph");
	hunting_select(CONFIG_HUNT_DEFENDER, HUNTING_GRAPH_HAS_ROLE, 0, before,
	    &d);
	is_int(d.choice, HUNTING_USE_LEGACY, "defender before: legacy");
	hunting_select(CONFIG_HUNT_DEFENDER, HUNTING_GRAPH_HAS_ROLE, 0, at, &d);
	is_int(d.choice, HUNTING_GONE, "defender at the retirement: 410");
	is_int(d.days_left, 0, "0 days left");
	hunting_select(CONFIG_HUNT_GRAPH, HUNTING_GRAPH_NO_ROLE, 0, before, &d);
	is_int(d.choice, HUNTING_USE_GRAPH, "graph: Graph, role or not");
	like(hunting_fix, "ThreatHunting.Read.All", "the fix names the role");
	like(hunting_fix, "admin consent", "the fix names admin consent");

	/* where each hunting row goes */
	for (int i = 0; i < nroutes; i++) {
		const struct route	*r = &routes[i];
		const char		*path;
		const char *const	*roles;
		enum backend_id		 b;

		if (r->kind != RK_HUNT)
			continue;
		d.choice = HUNTING_USE_GRAPH;
		hunting_route(r, &d, &b, &path, &roles);
		ok(b == BACKEND_GRAPH && strcmp(path, HUNTING_GRAPH_PATH) == 0 &&
		    strcmp(roles[0], HUNTING_GRAPH_ROLE) == 0,
		    "%s %s on Graph: runHuntingQuery, ThreatHunting.Read.All",
		    r->method, r->path);
		d.choice = HUNTING_USE_LEGACY;
		hunting_route(r, &d, &b, &path, &roles);
		ok(b == r->backend && strcmp(path, r->upstream) == 0,
		    "%s %s legacy: %s %s", r->method, r->path, backend_name(b),
		    path);
	}
}

int
main(void)
{
	test_walk();
	test_selection();
	return (done_testing());
}

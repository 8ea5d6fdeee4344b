/*
 * test_router.c: routes, methods, path and query validation, and query
 * parameter decoding (src/router.c).
 */
#include <stdlib.h>
#include <string.h>

#include "router.h"
#include "tap.h"

/* A test name for raw bytes: control and non-ASCII bytes as \xNN. */
static const char *
esc(const char *s)
{
	static char	 out[512];
	size_t		 n = 0;

	if (s == NULL)
		return ("(null)");
	for (; *s && n < sizeof(out) - 5; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c >= 0x7f || c == '#')
			n += (size_t)snprintf(out + n, sizeof(out) - n,
			    "\\x%02x", c);
		else
			out[n++] = (char)c;
	}
	out[n] = '\0';
	return (out);
}

struct route_case {
	const char		*method;
	const char		*uri;
	enum router_result	 want;
	const char		*name;		/* the row's name */
	const char		*allow;
};

static void
test_routes(void)
{
	static const struct route_case cases[] = {
		{ "GET", "/incidents", ROUTER_OK, "incidents", "GET" },
		{ "POST", "/incidents", ROUTER_BAD_METHOD, "incidents", "GET" },
		{ "PATCH", "/incidents", ROUTER_BAD_METHOD, "incidents", "GET" },
		{ "DELETE", "/incidents", ROUTER_BAD_METHOD, "incidents", "GET" },
		{ "HEAD", "/incidents", ROUTER_BAD_METHOD, "incidents", "GET" },
		{ "get", "/incidents", ROUTER_BAD_METHOD, "incidents", "GET" },
		{ "GET", "/incidents/42", ROUTER_OK, "incident", "GET, PATCH" },
		{ "PATCH", "/incidents/42", ROUTER_OK, "incident_update",
		  "GET, PATCH" },
		{ "POST", "/incidents/42", ROUTER_BAD_METHOD, "incident",
		  "GET, PATCH" },
		{ "DELETE", "/incidents/42", ROUTER_BAD_METHOD, "incident",
		  "GET, PATCH" },
		{ "PUT", "/incidents/42", ROUTER_BAD_METHOD, "incident",
		  "GET, PATCH" },
		{ "GET", "/hunting", ROUTER_OK, "hunting", "GET, POST" },
		{ "POST", "/hunting", ROUTER_OK, "hunting", "GET, POST" },
		{ "PATCH", "/hunting", ROUTER_BAD_METHOD, "hunting",
		  "GET, POST" },
		{ "PUT", "/hunting", ROUTER_BAD_METHOD, "hunting", "GET, POST" },
		{ "GET", "/status", ROUTER_OK, "status", "GET" },
		{ "GET", "/", ROUTER_OK, "status", "GET" },
		{ "POST", "/status", ROUTER_BAD_METHOD, "status", "GET" },
		{ "POST", "/", ROUTER_BAD_METHOD, "status", "GET" },
		{ "GET", "/status.json", ROUTER_OK, "status.json", "GET" },
		{ "PUT", "/status.json", ROUTER_BAD_METHOD, "status.json",
		  "GET" },
		{ "GET", "/status.css", ROUTER_OK, "assets", "GET" },
		{ "GET", "/status.js", ROUTER_OK, "assets", "GET" },
		{ "DELETE", "/status.js", ROUTER_BAD_METHOD, "assets", "GET" },
		{ "GET", "/healthz", ROUTER_OK, "healthz", "GET" },
		{ "POST", "/healthz", ROUTER_BAD_METHOD, "healthz", "GET" },
		{ "GET", "/readyz", ROUTER_OK, "readyz", "GET" },
		{ "POST", "/readyz", ROUTER_BAD_METHOD, "readyz", "GET" },
		/* 404s */
		{ "GET", "/nope", ROUTER_NOT_FOUND, NULL, NULL },
		{ "POST", "/nope", ROUTER_NOT_FOUND, NULL, NULL },
		{ "GET", "/incidents/", ROUTER_NOT_FOUND, NULL, NULL },
		{ "GET", "/incidents/1/2", ROUTER_NOT_FOUND, NULL, NULL },
		{ "PATCH", "/incidents/1/", ROUTER_NOT_FOUND, NULL, NULL },
		{ "GET", "/incidentsX", ROUTER_NOT_FOUND, NULL, NULL },
		{ "GET", "/Incidents", ROUTER_NOT_FOUND, NULL, NULL },
		{ "GET", "/hunting/", ROUTER_NOT_FOUND, NULL, NULL },
		{ "GET", "/hunting/run", ROUTER_NOT_FOUND, NULL, NULL },
		{ "GET", "/status/", ROUTER_NOT_FOUND, NULL, NULL },
		{ "GET", "/status.html", ROUTER_NOT_FOUND, NULL, NULL },
		{ "GET", "/healthz/", ROUTER_NOT_FOUND, NULL, NULL },
		{ "GET", "//incidents", ROUTER_NOT_FOUND, NULL, NULL },
		{ "GET", "/api/incidents", ROUTER_OK, "xdr_incidents", "GET" },
		{ "PATCH", "/api/incidents/7", ROUTER_OK, "xdr_incident_update",
		  "GET, PATCH" },
		{ "GET", "/api/alerts/abc", ROUTER_OK, "mde_alert", "GET" },
		{ "POST", "/api/machines", ROUTER_BAD_METHOD, "mde_machines",
		  "GET" },
		{ "POST", "/api/advancedqueries/run", ROUTER_OK, "mde_hunting",
		  "POST" },
		{ "GET", "/api/advancedhunting/run", ROUTER_BAD_METHOD,
		  "xdr_hunting", "POST" },
		{ "POST", "/v1.0/security/runHuntingQuery", ROUTER_OK,
		  "graph_hunting", "POST" },
		{ "GET", "/v1.0/security/alerts_v2/x-1", ROUTER_OK,
		  "graph_alert", "GET" },
		{ "GET", "/v1.0/security/alerts", ROUTER_NOT_FOUND, NULL, NULL },
		{ "GET", "/api/users", ROUTER_NOT_FOUND, NULL, NULL },
		{ "GET", "/api/incidents/1/alerts", ROUTER_NOT_FOUND, NULL,
		  NULL },
		{ "GET", "/beta/security/incidents", ROUTER_NOT_FOUND, NULL,
		  NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct route_case	*c = &cases[i];
		struct route_match	 m;
		enum router_result	 r;
		char			 name[128];

		r = router_match(c->method, c->uri, &m);
		snprintf(name, sizeof(name), "%s %s -> result %d", c->method,
		    c->uri, (int)c->want);
		is_int(r, c->want, name);
		if (c->want == ROUTER_NOT_FOUND)
			continue;
		snprintf(name, sizeof(name), "%s %s -> route %s", c->method,
		    c->uri, c->name);
		is_str(router_name(m.id), c->name, name);
		snprintf(name, sizeof(name), "%s %s -> Allow: %s", c->method,
		    c->uri, c->allow);
		is_str(m.allow, c->allow, name);
	}
}

static void
test_details(void)
{
	struct route_match	 m;
	char			 id128[ROUTER_MAX_ID + 1 + 11];
	char			 id129[ROUTER_MAX_ID + 2 + 11];

	is_int(router_match("GET", "/incidents/abc-DEF_123", &m), ROUTER_OK,
	    "incident id with letters, digits, - and _");
	is_str(m.item_id, "abc-DEF_123", "incident id copied");
	is_int(m.is_write, 0, "GET is not a write");
	ok(m.query == NULL && m.querylen == 0, "no query");

	is_int(router_match("PATCH", "/incidents/924565", &m), ROUTER_OK,
	    "PATCH incident");
	is_str(m.item_id, "924565", "PATCH incident id");
	is_int(m.is_write, 1, "PATCH is a write");

	is_int(router_match("GET", "/status.css", &m), ROUTER_OK, "css");
	is_str(m.route->asset, "status.css", "css asset name");
	is_int(router_match("GET", "/status.js", &m), ROUTER_OK, "js");
	is_str(m.route->asset, "status.js", "js asset name");
	is_int(router_match("GET", "/status", &m), ROUTER_OK, "status");
	ok(m.route->asset == NULL, "status has no asset");

	/* incident id length limits */
	memcpy(id128, "/incidents/", 11);
	memset(id128 + 11, '7', ROUTER_MAX_ID);
	id128[11 + ROUTER_MAX_ID] = '\0';
	is_int(router_match("GET", id128, &m), ROUTER_OK, "128-char id ok");
	is_int(strlen(m.item_id), 128, "128-char id copied whole");
	memcpy(id129, id128, sizeof(id128));
	id129[11 + ROUTER_MAX_ID] = '7';
	id129[12 + ROUTER_MAX_ID] = '\0';
	is_int(router_match("GET", id129, &m), ROUTER_BAD_PATH,
	    "129-char id refused");
	ok(m.reason != NULL, "129-char id has a reason");
	is_str(m.item_id, "", "129-char id not copied");

	{
		static const char *const bad_ids[] = { "/incidents/1.2",
		    "/incidents/a:b", "/incidents/a;b", "/incidents/%41",
		    "/incidents/a~b", "/incidents/a,b", "/incidents/a$b",
		    "/incidents/a'b", "/incidents/a+b" };

		for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]);
		    i++) {
			is_int(router_match("GET", bad_ids[i], &m),
			    ROUTER_BAD_PATH, bad_ids[i]);
			ok(m.reason != NULL, "bad id has a reason");
		}
	}

	/* names */
	is_str(router_name(0), routes[0].name, "name of row 0");
	is_str(router_name(-1), "other", "name none");
	is_str(router_name(nroutes), "other", "out of range -> other");
	is_str(router_name(-2), "other", "negative -> other");
	for (int i = 0; i < nroutes; i++)
		ok(router_name(i) != NULL && *router_name(i), "route %d named",
		    i);
}

static void
test_query(void)
{
	struct route_match	 m;
	const char		*uri;
	static const char	 q[] =
	    "$filter=lastUpdateTime+ge+2024-01-01T00:00:00Z&$top=10";

	uri = "/incidents?$filter=lastUpdateTime+ge+2024-01-01T00:00:00Z&$top=10";
	is_int(router_match("GET", uri, &m), ROUTER_OK, "query accepted");
	is_int(m.querylen, strlen(q), "query length");
	ok(m.query != NULL && memcmp(m.query, q, strlen(q)) == 0,
	    "query bytes kept");
	ok(m.query == uri + strlen("/incidents?"),
	    "query points into the request target (no copy, no decode)");

	uri = "/incidents?%24filter=status%20eq%20%27Active%27&%24top=5&x=%2F%2e%00";
	is_int(router_match("GET", uri, &m), ROUTER_OK,
	    "encoded query accepted as is");
	is_int(m.querylen, strlen(uri) - 11, "encoded query length");
	ok(m.query == uri + 11, "encoded query kept byte for byte");

	is_int(router_match("GET", "/incidents?", &m), ROUTER_OK,
	    "empty query ok");
	ok(m.query == NULL && m.querylen == 0, "empty query is no query");

	is_int(router_match("GET", "/incidents/7?a=b", &m), ROUTER_OK,
	    "query on an incident");
	is_str(m.item_id, "7", "id stops at '?'");
	is_int(m.querylen, 3, "incident query length");

	is_int(router_match("GET", "/hunting?query=DeviceInfo+%7C+take+1", &m),
	    ROUTER_OK, "hunting query");
	is_int(router_match("GET", "/incidents?a=/../x", &m), ROUTER_OK,
	    "dots and slashes in the query are not path segments");
	is_int(router_match("GET", "/incidents?a=b?c", &m), ROUTER_OK,
	    "second '?' belongs to the query");
	is_int(m.querylen, 5, "query after the first '?'");
	is_int(router_match("POST", "/nope?x=1", &m), ROUTER_NOT_FOUND,
	    "404 with a query");
	is_int(router_match("PUT", "/incidents?x=1", &m), ROUTER_BAD_METHOD,
	    "405 with a query");

	{
		static const char *const bad[] = {
		    "/incidents?a=b\r\nX-Injected: 1", "/incidents?a=\n",
		    "/incidents?a=\r", "/incidents?a=\tb", "/incidents?a=b c",
		    "/incidents?a=\xff", "/incidents?a=\xc3\xa9",
		    "/incidents?a=\x7f", "/incidents?a=\x01", "/incidents?a=b#f",
		    "/hunting?query=x y",
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			char name[600];

			snprintf(name, sizeof(name), "bad query %s -> "
			    "ROUTER_BAD_QUERY", esc(bad[i]));
			is_int(router_match("GET", bad[i], &m), ROUTER_BAD_QUERY,
			    name);
			ok(m.reason != NULL && *m.reason, "bad query has a reason");
		}
	}
}

static void
test_bad_paths(void)
{
	static const char *const bad[] = {
		"/incidents/..", "/incidents/.", "/incidents/../status",
		"/../incidents", "/./incidents", "/incidents/./1", "/..",
		"/.", "/a/../incidents",
		"/incidents/%2e%2e", "/incidents/%2E%2E", "/incidents/%2e",
		"/incidents/.%2e", "/incidents/%2e.", "/incidents%2F..%2Fstatus",
		"/incidents/1%2F2", "/incidents/1%2f2", "/incidents/1%5C2",
		"/incidents/1%5c2", "/incidents/1\\2", "/incidents\\..\\x",
		"/incidents/1%00", "/incidents/1%0a", "/incidents/1%0D%0A",
		"/incidents/1%7f", "/incidents/1%25", "/incidents/1%252e",
		"/incidents/1\x01", "/incidents/1\x1f", "/incidents/1\x7f",
		"/incidents/1\r\n", "/incidents/1 2", "/incidents /1",
		"/incidents/1\t", "/incidents/\x80", "/incidents/\xff",
		"/incidents/caf\xc3\xa9", "/incidents/%2", "/incidents/%",
		"/incidents/%zz", "/incidents/%g0", "/incidents/%0g",
		"/inc%2", "/incidents#frag", "/incidents/1#x",
		"http://evil/incidents", "https://evil.example/incidents",
		"evil:443", "*", "", "incidents", " /incidents",
	};
	struct route_match m;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *method = strcmp(bad[i], "evil:443") == 0 ?
		    "CONNECT" : "GET";
		char name[600];

		snprintf(name, sizeof(name), "%s %s -> ROUTER_BAD_PATH", method,
		    esc(bad[i]));
		is_int(router_match(method, bad[i], &m), ROUTER_BAD_PATH, name);
		ok(m.reason != NULL && *m.reason, "bad path has a reason");
	}
	is_int(router_match("PATCH", "/incidents/..", &m), ROUTER_BAD_PATH,
	    "PATCH dot segment refused");
	is_int(router_match("GET", NULL, &m), ROUTER_BAD_PATH,
	    "NULL target refused");
	is_int(router_match("GET", "/incidents/1%2F2?x=1", &m), ROUTER_BAD_PATH,
	    "bad path wins over a good query");
	is_int(router_match("GET", "/incidents/..?a=\r", &m), ROUTER_BAD_PATH,
	    "bad path checked before the query");

	/* things that look odd but are safe and must not be refused */
	is_int(router_match("GET", "/incidents/...", &m), ROUTER_BAD_PATH,
	    "'...' is refused as an id (dot not allowed)");
	is_int(router_match("GET", "/status.json", &m), ROUTER_OK,
	    "a dot inside a segment is fine");
	is_int(router_match("GET", "/incidents/%41", &m), ROUTER_BAD_PATH,
	    "percent-encoded id refused by the id check");
	is_int(router_match("GET", "/no%41pe", &m), ROUTER_NOT_FOUND,
	    "harmless escape in an unknown path: 404");
}

static void
test_query_param(void)
{
	const char	*q;
	char		*v;
	size_t		 n;

	q = "query=DeviceInfo+%7C+take+10&other=1";
	v = router_query_param(q, strlen(q), "query", &n);
	is_str(v, "DeviceInfo | take 10", "'+' is space, %7C is '|'");
	is_int(n, strlen("DeviceInfo | take 10"), "decoded length");
	free(v);

	v = router_query_param(q, strlen(q), "other", &n);
	is_str(v, "1", "second parameter");
	free(v);

	n = 99;
	v = router_query_param(q, strlen(q), "missing", &n);
	ok(v == NULL, "missing parameter -> NULL");
	is_int(n, 0, "missing parameter -> length 0");

	q = "queryx=1&query=2";
	v = router_query_param(q, strlen(q), "query", &n);
	is_str(v, "2", "name that is a prefix of another is not confused");
	free(v);
	v = router_query_param(q, strlen(q), "quer", &n);
	ok(v == NULL, "prefix of a name does not match");
	q = "xquery=1";
	v = router_query_param(q, strlen(q), "query", &n);
	ok(v == NULL, "suffix of a name does not match");

	q = "a=&query=&b=1";
	v = router_query_param(q, strlen(q), "query", &n);
	is_str(v, "", "empty value -> empty string");
	is_int(n, 0, "empty value length");
	free(v);
	q = "a=1&query";
	v = router_query_param(q, strlen(q), "query", &n);
	is_str(v, "", "parameter without '=' -> empty string");
	free(v);

	{
		static const char *const bad[] = { "query=%", "query=%2",
		    "query=%zz", "query=%g1", "query=a%2", "query=a%2&b=1" };

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			n = 99;
			v = router_query_param(bad[i], strlen(bad[i]), "query",
			    &n);
			ok(v == NULL, "bad escape \"%s\" -> NULL", bad[i]);
			free(v);
		}
	}

	q = "query=%41%62%2b%25%26%3D";
	v = router_query_param(q, strlen(q), "query", &n);
	is_str(v, "Ab+%&=", "escapes decoded (mixed case hex)");
	free(v);

	q = "query=a%00b";
	v = router_query_param(q, strlen(q), "query", &n);
	ok(v != NULL && n == 3 && memcmp(v, "a\0b", 3) == 0,
	    "%%00 decoded with the true length");
	free(v);

	/* querylen bounds the search: nothing past it is read */
	q = "a=1&query=xyz";
	v = router_query_param(q, 3, "query", &n);
	ok(v == NULL, "parameter beyond querylen is not seen");
	v = router_query_param(q, strlen(q) - 1, "query", &n);
	is_str(v, "xy", "value cut at querylen");
	free(v);
	v = router_query_param(NULL, 0, "query", &n);
	ok(v == NULL, "NULL query -> NULL");

	/* from a routed request */
	{
		struct route_match m;

		is_int(router_match("GET",
		    "/hunting?query=DeviceProcessEvents%20%7C%20take%205", &m),
		    ROUTER_OK, "routed hunting GET");
		v = router_query_param(m.query, m.querylen, "query", &n);
		is_str(v, "DeviceProcessEvents | take 5",
		    "query parameter of a routed request");
		free(v);
	}
}

int
main(void)
{
	plan_lazy();
	test_routes();
	test_details();
	test_query();
	test_bad_paths();
	test_query_param();
	return (done_testing());
}

/*
 * test_oauth.c: the client-credentials grant as data (src/oauth.c): token
 * URL, form body, v1/v2 answers, Entra error bodies, AADSTS hints.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "jwt.h"
#include "oauth.h"
#include "tap.h"
#include "util.h"

#define TENANT	"11111111-2222-3333-4444-555555555555"
#define CLIENT	"aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
#define NOW	1700000000LL

static void
make_config(struct gw_config *cf, int version, const char *secret)
{
	config_defaults(cf);
	config_set(cf, "tenant_id", TENANT, NULL);
	config_set(cf, "client_id", CLIENT, NULL);
	config_set(cf, "client_secret", secret, NULL);
	cf->token_version = version;
}

static void
test_url(void)
{
	struct gw_config cf;
	char		*u;

	make_config(&cf, 2, "s");
	u = oauth_token_url(&cf);
	is_str(u, "https://login.microsoftonline.com/" TENANT
	    "/oauth2/v2.0/token", "v2 token URL");
	free(u);
	cf.token_version = 1;
	u = oauth_token_url(&cf);
	is_str(u, "https://login.microsoftonline.com/" TENANT "/oauth2/token",
	    "v1 token URL");
	free(u);
	config_set(&cf, "authority_host", "https://login.microsoftonline.us",
	    NULL);
	config_set(&cf, "tenant_id", "contoso.onmicrosoft.com", NULL);
	cf.token_version = 2;
	u = oauth_token_url(&cf);
	is_str(u, "https://login.microsoftonline.us/contoso.onmicrosoft.com"
	    "/oauth2/v2.0/token", "v2 URL with another authority and domain");
	free(u);
	config_free(&cf);
}

static void
test_body(void)
{
	struct gw_config cf;
	char		*b;
	size_t		 len = 0;

	make_config(&cf, 2, "a&b=c+d e%f~g.h_i-j/k");
	b = oauth_token_body(&cf, cf.scope, &len);
	is_str(b, "grant_type=client_credentials"
	    "&client_id=" CLIENT
	    "&scope=https%3A%2F%2Fapi.security.microsoft.com%2F.default"
	    "&client_secret=a%26b%3Dc%2Bd%20e%25f~g.h_i-j%2Fk",
	    "v2 body: form-encoded, scope, secret escaped");
	is_int(len, b ? strlen(b) : 0, "v2 body length");
	unlike(b, "resource=", "v2 body has no resource");
	unlike(b, "a&b", "raw '&' of the secret not in the body");
	util_free_secret(b);

	cf.token_version = 1;
	b = oauth_token_body(&cf, cf.scope, &len);
	is_str(b, "grant_type=client_credentials"
	    "&client_id=" CLIENT
	    "&resource=https%3A%2F%2Fapi.security.microsoft.com"
	    "&client_secret=a%26b%3Dc%2Bd%20e%25f~g.h_i-j%2Fk",
	    "v1 body: resource without /.default");
	is_int(len, b ? strlen(b) : 0, "v1 body length");
	unlike(b, "scope=", "v1 body has no scope");
	unlike(b, ".default", "v1 body has no .default");
	util_free_secret(b);

	/* a v1 resource that has no /.default suffix is used as is */
	config_set(&cf, "scope", "https://graph.microsoft.com", NULL);
	b = oauth_token_body(&cf, cf.scope, NULL);
	like(b, "&resource=https%3A%2F%2Fgraph.microsoft.com&",
	    "v1 resource without suffix kept");
	util_free_secret(b);
	config_set(&cf, "scope", "/.default", NULL);
	b = oauth_token_body(&cf, cf.scope, NULL);
	like(b, "&resource=%2F.default&",
	    "a scope that is only /.default is not cut to nothing");
	util_free_secret(b);

	/* non-ASCII secret bytes are escaped too */
	config_set(&cf, "client_secret", "\xc3\xa9\x01", NULL);
	cf.token_version = 2;
	b = oauth_token_body(&cf, cf.scope, NULL);
	like(b, "&client_secret=%C3%A9%01", "non-ASCII secret escaped");
	util_free_secret(b);
	config_free(&cf);
}

struct parse_case {
	long		 status;
	const char	*body;
	long long	 expires_at;	/* 0: expect failure */
};

static void
test_parse_ok(void)
{
	static const struct parse_case cases[] = {
		/* v2: numbers */
		{ 200, "{\"token_type\":\"Bearer\",\"expires_in\":3599,"
		  "\"ext_expires_in\":3599,\"access_token\":\"eyJ0.eyJ1.sig\"}",
		  NOW + 3599 },
		/* v1: strings, expires_on preferred */
		{ 200, "{\"access_token\":\"eyJ0.eyJ1.sig\",\"token_type\":"
		  "\"Bearer\",\"expires_in\":\"3599\",\"expires_on\":"
		  "\"1700003000\",\"not_before\":\"1699999999\",\"resource\":"
		  "\"https://api.security.microsoft.com\"}", NOW + 3000 },
		/* v1, local clock behind: never past now + expires_in */
		{ 200, "{\"access_token\":\"eyJ0.eyJ1.sig\",\"token_type\":"
		  "\"Bearer\",\"expires_in\":\"3599\",\"expires_on\":"
		  "\"1700005000\"}", NOW + 3599 },
		/* expires_on as a number */
		{ 200, "{\"access_token\":\"t\",\"token_type\":\"Bearer\","
		  "\"expires_in\":3599,\"expires_on\":1700001000}", NOW + 1000 },
		/* expires_in only, as string */
		{ 200, "{\"access_token\":\"t\",\"token_type\":\"Bearer\","
		  "\"expires_in\":\"60\"}", NOW + 60 },
		/* expires_on only */
		{ 200, "{\"access_token\":\"t\",\"token_type\":\"Bearer\","
		  "\"expires_on\":\"1700000100\"}", NOW + 100 },
		/* token_type case-insensitive, and optional */
		{ 200, "{\"access_token\":\"t\",\"token_type\":\"bearer\","
		  "\"expires_in\":10}", NOW + 10 },
		{ 200, "{\"access_token\":\"t\",\"expires_in\":10}", NOW + 10 },
		/* a fractional number is truncated */
		{ 200, "{\"access_token\":\"t\",\"expires_in\":3599.9}",
		  NOW + 3599 },
		/* a bad expires_in next to a good expires_on */
		{ 200, "{\"access_token\":\"t\",\"expires_in\":\"soon\","
		  "\"expires_on\":1700000500}", NOW + 500 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct oauth_token	 tok;
		struct oauth_error	 err;
		const char		*b = cases[i].body;
		char			 name[64];
		int			 rc;

		rc = oauth_parse_response(cases[i].status, b, strlen(b), NOW,
		    &tok, &err);
		snprintf(name, sizeof(name), "good answer %zu parses", i);
		is_int(rc, 0, name);
		snprintf(name, sizeof(name), "good answer %zu expires_at", i);
		is_int(tok.expires_at, cases[i].expires_at, name);
		snprintf(name, sizeof(name), "good answer %zu lifetime", i);
		is_int(tok.lifetime, cases[i].expires_at - NOW, name);
		ok(tok.access_token != NULL && tok.len ==
		    strlen(tok.access_token), "good answer %zu token and len", i);
		oauth_token_free(&tok);
		ok(tok.access_token == NULL && tok.len == 0 &&
		    tok.expires_at == 0, "token_free clears");
	}
	{
		struct oauth_token	 tok;
		struct oauth_error	 err;
		const char		*b = "{\"access_token\":\"eyJ0.eyJ1.sig\","
		    "\"expires_in\":3599}trailing bytes not passed";

		is_int(oauth_parse_response(200, b, strlen(b) -
		    strlen("trailing bytes not passed"), NOW, &tok,
		    &err), 0, "body bounded by len");
		is_str(tok.access_token, "eyJ0.eyJ1.sig", "access_token copied");
		is_int(tok.len, 13, "token length");
		oauth_token_free(&tok);
		oauth_token_free(NULL);
		ok(1, "token_free(NULL) harmless");
	}
}

static void
test_parse_fail(void)
{
	static const struct {
		long		 status;
		const char	*body;
		const char	*error;
	} cases[] = {
		{ 200, "{\"access_token\":\"t\",\"token_type\":\"mac\","
		  "\"expires_in\":3599}", "malformed_response" },
		{ 200, "{\"access_token\":\"t\",\"token_type\":\"pop\","
		  "\"expires_in\":3599}", "malformed_response" },
		{ 200, "{\"access_token\":\"t\",\"token_type\":1,"
		  "\"expires_in\":3599}", "malformed_response" },
		{ 200, "{\"token_type\":\"Bearer\",\"expires_in\":3599}",
		  "malformed_response" },
		{ 200, "{\"access_token\":\"\",\"expires_in\":3599}",
		  "malformed_response" },
		{ 200, "{\"access_token\":42,\"expires_in\":3599}",
		  "malformed_response" },
		{ 200, "{\"access_token\":null,\"expires_in\":3599}",
		  "malformed_response" },
		{ 200, "{\"access_token\":\"t\",\"token_type\":\"Bearer\"}",
		  "malformed_response" },
		{ 200, "{\"access_token\":\"t\",\"expires_in\":\"3599s\"}",
		  "malformed_response" },
		{ 200, "{\"access_token\":\"t\",\"expires_in\":1e15}",
		  "malformed_response" },
		{ 200, "{\"access_token\":\"t\",\"expires_in\":0}",
		  "malformed_response" },
		{ 200, "{\"access_token\":\"t\",\"expires_in\":-5}",
		  "malformed_response" },
		{ 200, "{\"access_token\":\"t\",\"expires_on\":1699999999}",
		  "malformed_response" },
		{ 200, "{\"access_token\":\"t\",\"expires_on\":\"1700000000\"}",
		  "malformed_response" },
		{ 200, "{\"access_token\":\"t\",\"expires_in\":3599,"
		  "\"expires_on\":\"1\"}", "malformed_response" },
		{ 200, "{\"access_token\":\"a\\r\\nX-Injected: 1\","
		  "\"expires_in\":3599}", "malformed_response" },
		{ 200, "{\"access_token\":\"a b\",\"expires_in\":3599}",
		  "malformed_response" },
		{ 200, "{\"access_token\":\"a\\\"b\",\"expires_in\":3599}",
		  "malformed_response" },
		{ 200, "{not json", "malformed_response" },
		{ 200, "[{\"access_token\":\"t\",\"expires_in\":3599}]",
		  "malformed_response" },
		{ 200, "\"eyJ0.eyJ1.sig\"", "malformed_response" },
		{ 200, "", "malformed_response" },
		{ 500, "<html><body>Internal Server Error</body></html>",
		  "http_error" },
		{ 503, "", "http_error" },
		{ 502, "[1,2]", "http_error" },
		{ 400, "{\"error_description\":\"no class\"}", "http_error" },
		{ 400, "{\"error\":17}", "http_error" },
		/* a 2xx other than 200 is not a token answer */
		{ 201, "{\"access_token\":\"t\",\"expires_in\":3599}",
		  "http_error" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct oauth_token	 tok;
		struct oauth_error	 err;
		const char		*b = cases[i].body;
		char			 name[64];

		memset(&tok, 0x5a, sizeof(tok));
		snprintf(name, sizeof(name), "bad answer %zu (HTTP %ld) fails",
		    i, cases[i].status);
		is_int(oauth_parse_response(cases[i].status, b, strlen(b), NOW,
		    &tok, &err), -1, name);
		snprintf(name, sizeof(name), "bad answer %zu error class", i);
		is_str(err.error, cases[i].error, name);
		snprintf(name, sizeof(name), "bad answer %zu http_status", i);
		is_int(err.http_status, cases[i].status, name);
		/* JSON error objects carry their own (maybe absent) text */
		if (strchr(b, '{') == NULL || cases[i].status == 200)
			ok(err.description[0] != '\0',
			    "bad answer %zu has a description", i);
		is_int(err.when, NOW, "error time recorded");
		ok(tok.access_token == NULL && tok.len == 0,
		    "no token on failure");
		oauth_token_free(&tok);
	}
	{
		struct oauth_token	 tok;
		struct oauth_error	 err;

		is_int(oauth_parse_response(500, NULL, 0, NOW, &tok, &err), -1,
		    "NULL body fails");
		like(err.description, "HTTP 500", "non-JSON error names the status");
		is_int(err.aadsts, 0, "no AADSTS without a body");
		is_int(oauth_parse_response(200, NULL, 0, NOW, &tok, &err), -1,
		    "NULL 200 body fails");
		is_str(err.error, "malformed_response", "NULL 200 is malformed");
		{
			/* access_token over JWT_MAX_LEN */
			size_t	 n = JWT_MAX_LEN + 64;
			char	*big = malloc(n);
			size_t	 o;

			o = (size_t)snprintf(big, n, "{\"expires_in\":3599,"
			    "\"access_token\":\"");
			memset(big + o, 'a', JWT_MAX_LEN + 1);
			snprintf(big + o + JWT_MAX_LEN + 1,
			    n - o - JWT_MAX_LEN - 1, "\"}");
			is_int(oauth_parse_response(200, big, strlen(big), NOW,
			    &tok, &err), -1, "oversize access_token fails");
			is_str(err.error, "malformed_response",
			    "oversize access_token is malformed");
			free(big);
		}
	}
}

static void
test_entra_errors(void)
{
	struct oauth_token	 tok;
	struct oauth_error	 err;
	const char		*b;

	b = "{\"error\":\"invalid_client\",\"error_description\":"
	    "\"AADSTS7000215: Invalid client secret provided. Ensure the "
	    "secret being sent in the request is the client secret value, not "
	    "the client secret ID, for a secret added to app 'x'.\\r\\n"
	    "Trace ID: 0000aaaa-1111\\r\\nCorrelation ID: aaaa0000-2222\\r\\n"
	    "Timestamp: 2024-01-09 02:02:12Z\",\"error_codes\":[7000215],"
	    "\"timestamp\":\"2024-01-09 02:02:12Z\",\"trace_id\":"
	    "\"0000aaaa-1111\",\"correlation_id\":\"aaaa0000-2222\","
	    "\"error_uri\":\"https://login.microsoftonline.com/error?code="
	    "7000215\"}";
	is_int(oauth_parse_response(401, b, strlen(b), NOW, &tok, &err), -1,
	    "401 Entra error fails");
	is_str(err.error, "invalid_client", "error class copied");
	is_int(err.aadsts, 7000215, "AADSTS from error_codes[0]");
	is_int(err.http_status, 401, "HTTP status kept");
	is_str(err.description, "AADSTS7000215: Invalid client secret "
	    "provided. Ensure the secret being sent in the request is the "
	    "client secret value, not the client secret ID, for a secret added "
	    "to app 'x'.", "only the first line of error_description kept");
	unlike(err.description, "Trace ID", "trace line dropped");
	is_str(err.trace_id, "0000aaaa-1111", "trace_id copied");
	is_str(err.correlation_id, "aaaa0000-2222", "correlation_id copied");
	is_int(err.when, NOW, "time of the error");
	ok(tok.access_token == NULL, "no token");

	b = "{\"error\":\"invalid_request\",\"error_description\":"
	    "\"AADSTS90002: Tenant 'x' not found.\\nTrace ID: t\","
	    "\"error_codes\":[90002,50001]}";
	is_int(oauth_parse_response(400, b, strlen(b), NOW, &tok, &err), -1,
	    "400 Entra error fails");
	is_int(err.aadsts, 90002, "first of several error_codes");
	is_str(err.description, "AADSTS90002: Tenant 'x' not found.",
	    "LF-separated description cut at the first line");
	is_str(err.trace_id, "", "absent trace_id empty");
	is_str(err.correlation_id, "", "absent correlation_id empty");

	b = "{\"error\":\"temporarily_unavailable\",\"error_codes\":[],"
	    "\"error_description\":\"tab\\there\"}";
	is_int(oauth_parse_response(503, b, strlen(b), NOW, &tok, &err), -1,
	    "503 Entra error fails");
	is_str(err.error, "temporarily_unavailable", "503 error class");
	is_int(err.aadsts, 0, "empty error_codes -> 0");
	is_str(err.description, "tab here", "control bytes become spaces");

	b = "{\"error\":\"invalid_grant\",\"error_codes\":[\"7000222\"]}";
	is_int(oauth_parse_response(400, b, strlen(b), NOW, &tok, &err), -1,
	    "string error_codes fail");
	is_int(err.aadsts, 0, "non-numeric error_codes -> 0");
	is_str(err.description, "", "absent description empty");

	{
		/* over-long fields are cut, never overflow */
		char	 big[4096];
		char	 lng[700];

		memset(lng, 'x', sizeof(lng) - 1);
		lng[sizeof(lng) - 1] = '\0';
		snprintf(big, sizeof(big), "{\"error\":\"%s\","
		    "\"error_description\":\"%s\",\"trace_id\":\"%s\","
		    "\"correlation_id\":\"%s\",\"error_codes\":[7000222]}",
		    lng, lng, lng, lng);
		is_int(oauth_parse_response(401, big, strlen(big), NOW, &tok,
		    &err), -1, "long error fields fail");
		is_int(strlen(err.error), sizeof(err.error) - 1, "error cut");
		is_int(strlen(err.description), sizeof(err.description) - 1,
		    "description cut");
		is_int(strlen(err.trace_id), sizeof(err.trace_id) - 1,
		    "trace_id cut");
		is_int(strlen(err.correlation_id),
		    sizeof(err.correlation_id) - 1, "correlation_id cut");
		is_int(err.aadsts, 7000222, "code still read");
	}
}

static void
test_hints(void)
{
	static const struct {
		long		 code;
		const char	*word;
	} cases[] = {
		{ 7000215, "Secret ID" },
		{ 7000222, "expired" },
		{ 700016, "consent" },
		{ 90002, "tenant" },
		{ 500011, "service principal" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char	*h = oauth_hint(cases[i].code);
		char		 name[64];

		snprintf(name, sizeof(name), "hint for %ld mentions %s",
		    cases[i].code, cases[i].word);
		like(h, cases[i].word, name);
	}
	ok(oauth_hint(0) == NULL, "no hint for 0");
	ok(oauth_hint(12345) == NULL, "no hint for an unknown code");
	ok(oauth_hint(-1) == NULL, "no hint for -1");
	ok(oauth_hint(50126) == NULL, "no hint for a user-credential error");
}

/* a lifetime beyond Entra's ~24 h is cut, and said so */
static void
test_lifetime_cap(void)
{
	struct oauth_token	 t;
	struct oauth_error	 e;
	const char		*b = "{\"access_token\":\"eyJ0.eyJ0.c2ln\","
	    "\"expires_in\":1000000000000}";
	const char		*ok24 = "{\"access_token\":\"a-b_c.d~e+f/g=\","
	    "\"expires_in\":86400}";

	is_int(oauth_parse_response(200, b, strlen(b), NOW, &t, &e), 0,
	    "expires_in 1e12: accepted");
	is_int(t.expires_at, NOW + OAUTH_MAX_LIFETIME, "... but cut to 24 h");
	is_int(t.capped_from, 1000000000000LL, "... and the claim is kept "
	    "for the warning");
	oauth_token_free(&t);
	is_int(oauth_parse_response(200, ok24, strlen(ok24), NOW, &t, &e), 0,
	    "24 h and every b64token character: accepted");
	is_int(t.capped_from, 0, "24 h is not cut");
	oauth_token_free(&t);
}

int
main(void)
{
	plan_lazy();
	test_url();
	test_body();
	test_parse_ok();
	test_parse_fail();
	test_entra_errors();
	test_hints();
	test_lifetime_cap();
	return (done_testing());
}

/*
 * test_sim.c: the simulation as the daemon's --demo uses it (src/sim/,
 * no test hooks): the helpers a demo needs to run with each credential
 * kind (a client certificate, an external IdP's federated token, the
 * managed-identity listener), checked end to end over loopback with
 * libcurl against the sim's own token endpoint and APIs; and the sim's
 * per-tenant quotas: the sliding window with a test clock, then a live
 * 429 with Retry-After and the window freeing up again.
 *
 * Threads: main only (the sim runs its own). Ownership: each test frees
 * what it makes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "sim/sim_int.h"
#include "tap.h"
#include "util.h"

#define TENANT	"4b2f6c1e-8a7d-4e3b-9c5a-1d0e2f3a4b5c"
#define CLIENT	"9e8d7c6b-5a49-4382-b1a0-f9e8d7c6b5a4"
#define ISSUER	"https://oidc.demo.invalid"
#define SUBJECT	"system:serviceaccount:demo:defgate"

static char	 ca[64];
static char	 retry_after[32];	/* of the last fetch(), "" none */

static size_t
sink(char *p, size_t sz, size_t n, void *arg)
{
	return (buf_append(arg, p, sz * n) == 0 ? sz * n : 0);
}

static size_t
hdr_cb(char *p, size_t sz, size_t n, void *arg)
{
	size_t	 len = sz * n;

	(void)arg;
	if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0)
		snprintf(retry_after, sizeof(retry_after), "%.*s",
		    (int)strcspn(p + 12 + strspn(p + 12, " "), "\r\n"),
		    p + 12 + strspn(p + 12, " "));
	return (len);
}

/* GET (body NULL) or POST url; the status, the body into *out. */
static long
fetch(const char *url, const char *body, const char *hdr, struct buf *out)
{
	CURL			*c = curl_easy_init();
	struct curl_slist	*h = NULL;
	long			 status = 0;

	buf_reset(out);
	retry_after[0] = '\0';
	if (c == NULL)
		return (0);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, hdr_cb);
	curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	if (body != NULL)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	if (hdr != NULL) {
		h = curl_slist_append(h, hdr);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	}
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return (status);
}

/* A v2 Graph token request carrying assertion (malloc'd). */
static char *
assertion_form(const char *assertion)
{
	CURL		*c = curl_easy_init();
	char		*e = c ? curl_easy_escape(c, assertion ? assertion : "",
			    0) : NULL;
	struct buf	 f;

	buf_init(&f, 64 * 1024);
	buf_printf(&f, "grant_type=client_credentials&client_id=" CLIENT
	    "&client_assertion_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3A"
	    "client-assertion-type%%3Ajwt-bearer&client_assertion=%s"
	    "&scope=https%%3A%%2F%%2Fgraph.microsoft.com%%2F.default",
	    e ? e : "");
	curl_free(e);
	curl_easy_cleanup(c);
	return (buf_take(&f, NULL));
}

/* The sliding window, on a test clock. */
static void
test_window(void)
{
	struct sim_quota	 q;
	unsigned		 lim[SIM_QUOTA_WINDOWS], limit = 0;
	long long		 span[SIM_QUOTA_WINDOWS], spanms = 0, t;
	long			 ra;
	int			 n;
	cJSON			*j, *g;

	ok(sim_quota_parse("50/min,1500/h", lim, span) == 0 &&
	    lim[0] == 50 && span[0] == 60000 && lim[1] == 1500 &&
	    span[1] == 3600000, "parse 50/min,1500/h");
	ok(sim_quota_parse("3/2s", lim, span) == 0 && lim[0] == 3 &&
	    span[0] == 2000 && lim[1] == 0, "parse 3/2s");
	ok(sim_quota_parse("off", lim, span) == 0 && lim[0] == 0,
	    "parse off");
	ok(sim_quota_parse("50", lim, span) == -1 &&
	    sim_quota_parse("50/day", lim, span) == -1 &&
	    sim_quota_parse("0/min", lim, span) == -1 &&
	    sim_quota_parse("1/min,2/h,3/s", lim, span) == -1,
	    "refuse 50, 50/day, 0/min and three windows");

	sim_quota_init(&q);
	sim_quota_set(&q, 1, SIM_QUOTA_INCIDENTS, "50/min,1500/h");
	sim_quota_zero(&q, 1000000);
	/* 50 calls spread over 49 s go through, the 51st does not */
	for (n = 0, t = 1000000; n < 50; n++, t += 1000)
		if (sim_quota_take(&q, SIM_QUOTA_INCIDENTS, t, NULL, NULL))
			break;
	ok(n == 50, "50 calls within a minute are admitted (%d)", n);
	ra = sim_quota_take(&q, SIM_QUOTA_INCIDENTS, 1050000, &limit, &spanms);
	ok(ra == 10 && limit == 50 && spanms == 60000,
	    "the 51st at 50 s: refused, Retry-After 10 s (the first call "
	    "leaves the window at 60 s) (%ld)", ra);
	ok(sim_quota_take(&q, SIM_QUOTA_INCIDENTS, 1059999, NULL, NULL) == 1,
	    "... still refused 1 ms before, Retry-After 1");
	ok(sim_quota_take(&q, SIM_QUOTA_INCIDENTS, 1060000, NULL, NULL) == 0,
	    "... admitted when the window frees a call");
	/* sliding, not fixed: no second burst of 50 at the minute mark */
	ok(sim_quota_take(&q, SIM_QUOTA_INCIDENTS, 1060001, NULL, NULL) > 0,
	    "... and only one: the window slides");
	ok(sim_quota_take(&q, SIM_QUOTA_HUNTING, 1060001, NULL, NULL) == 0,
	    "hunting has no limits set here: its calls are only counted");
	j = sim_quota_json(&q, 1061000);
	g = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "groups"), "incidents");
	ok(cJSON_GetObjectItem(g, "calls")->valuedouble == 54 &&
	    cJSON_GetObjectItem(g, "throttled")->valuedouble == 3 &&
	    cJSON_GetObjectItem(g, "max_60s")->valuedouble == 53 &&
	    cJSON_GetArraySize(cJSON_GetObjectItem(g, "minutes")) == 2,
	    "counters: 54 calls, 3 refused, at most 53 in 60 s (the first left), 2 minutes");
	cJSON_Delete(j);

	/* off: counted, never refused */
	sim_quota_set(&q, 0, -1, NULL);
	for (n = 0; n < 100; n++)
		if (sim_quota_take(&q, SIM_QUOTA_INCIDENTS, 1061000, NULL,
		    NULL))
			break;
	ok(n == 100, "quota off: 100 calls at once all admitted");
	sim_quota_free(&q);
}

/* The live sim with incidents limited to 3 per 2 s. */
static void
test_live_quota(void)
{
	struct sim_options	 o;
	struct sim		*s;
	struct buf		 out;
	char			 url[256], auth[4096], *err = NULL, *st;
	const char		*tok;
	cJSON			*j;
	long			 codes[4];

	buf_init(&out, 1 << 20);
	memset(&o, 0, sizeof(o));
	o.ca_out = ca;
	o.tenant_id = TENANT;
	o.client_id = CLIENT;
	o.client_secret = "quota-secret";
	o.quota = 1;
	o.quota_limits[SIM_QUOTA_INCIDENTS] = "3/2s";
	ok((s = sim_start(&o, &err)) != NULL, "a sim with incidents 3/2s");
	if (s == NULL)
		return;
	snprintf(url, sizeof(url), "https://127.0.0.1:%u/" TENANT
	    "/oauth2/v2.0/token", sim_port(s));
	fetch(url, "grant_type=client_credentials&client_id=" CLIENT
	    "&client_secret=quota-secret&scope=https%3A%2F%2F"
	    "api.security.microsoft.com%2F.default", NULL, &out);
	j = cJSON_Parse(out.data ? out.data : "");
	tok = cJSON_GetStringValue(cJSON_GetObjectItem(j, "access_token"));
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
	    tok ? tok : "");
	cJSON_Delete(j);
	snprintf(url, sizeof(url), "https://127.0.0.1:%u/api/incidents",
	    sim_port(s));
	for (int i = 0; i < 4; i++)
		codes[i] = fetch(url, NULL, auth, &out);
	ok(codes[0] == 200 && codes[1] == 200 && codes[2] == 200,
	    "3 calls: 200");
	ok(codes[3] == 429 && out.data && strstr(out.data,
	    "\"code\":\"429\"") != NULL && strstr(out.data,
	    "maximum allowed 3 per 00:00:02") != NULL,
	    "the 4th: 429 with Defender's body (%.200s)", out.data ? out.data : "");
	ok(strcmp(retry_after, "1") == 0 || strcmp(retry_after, "2") == 0,
	    "... and Retry-After: %s", retry_after);
	usleep((useconds_t)(strtol(retry_after, NULL, 10) * 1000000 + 100000));
	ok(fetch(url, NULL, auth, &out) == 200,
	    "after Retry-After: 200 again");
	st = sim_quota_stats(s);
	ok(st && strstr(st, "\"incidents\":{\"limits\":\"3/2s\","
	    "\"calls\":5,\"throttled\":1") != NULL,
	    "stats: 5 incident calls, 1 throttled (%s)", st ? st : "");
	free(st);
	sim_reset(s);
	st = sim_quota_stats(s);
	ok(st && strstr(st, "\"calls\":5") == NULL,
	    "sim_reset zeroes the counters");
	free(st);
	sim_stop(s);
	buf_free(&out);
}

int
main(void)
{
	struct sim_options	 o;
	struct sim		*s;
	struct buf		 out;
	char			*cert = NULL, *key = NULL, *fed, *err = NULL;
	char			*form, url[256], dir[] = "/tmp/test_sim.XXXXXX";

	curl_global_init(CURL_GLOBAL_DEFAULT);
	buf_init(&out, 1 << 20);
	ok(mkdtemp(dir) != NULL, "a temp dir");
	snprintf(ca, sizeof(ca), "%s/ca.pem", dir);

	ok(sim_make_client_cert("defgate-demo", 30, &cert, &key) == 0,
	    "a demo client certificate and key");
	ok(cert && strstr(cert, "BEGIN CERTIFICATE") != NULL,
	    "... the certificate is PEM");
	ok(key && strstr(key, "PRIVATE KEY") != NULL, "... the key is PEM");

	/* the demo's federated credential: trust the key's certificate */
	memset(&o, 0, sizeof(o));
	o.ca_out = ca;
	o.tenant_id = TENANT;
	o.client_id = CLIENT;
	o.client_secret = "unused-demo-secret";
	o.cert_pem = cert;
	o.fed_issuer = ISSUER;
	o.fed_subject = SUBJECT;
	o.fed_key_pem = cert;
	o.mi_enable = 1;
	o.mi_client_id = CLIENT;
	o.mi_identity_header = "demo-identity-header";
	s = sim_start(&o, &err);
	ok(s != NULL, "the sim starts with every credential kind (%s)",
	    err ? err : "ok");
	if (s == NULL)
		return (done_testing());
	ok(sim_mi_port(s) != 0 && sim_mi_port(s) != sim_port(s),
	    "... and a second port for managed identity");

	fed = sim_federated_token(key, ISSUER, SUBJECT, 600);
	ok(fed != NULL, "a federated token from the demo key");
	form = assertion_form(fed);
	snprintf(url, sizeof(url), "https://127.0.0.1:%u/" TENANT
	    "/oauth2/v2.0/token", sim_port(s));
	ok(fetch(url, form, NULL, &out) == 200 && out.data &&
	    strstr(out.data, "\"access_token\"") != NULL,
	    "the federated token buys a Graph token");
	ok(fetch(url, form, NULL, &out) == 200,
	    "... again (a federated token is not single-use)");
	free(form);
	free(fed);

	fed = sim_federated_token(key, ISSUER, "system:serviceaccount:x:y",
	    600);
	form = assertion_form(fed);
	ok(fetch(url, form, NULL, &out) == 400 && out.data &&
	    strstr(out.data, "AADSTS70021") != NULL,
	    "another subject: AADSTS70021");
	free(form);
	free(fed);

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/metadata/identity/"
	    "oauth2/token?api-version=2018-02-01&resource=https%%3A%%2F%%2F"
	    "api.security.microsoft.com", sim_mi_port(s));
	ok(fetch(url, NULL, "Metadata: true", &out) == 200 && out.data &&
	    strstr(out.data, "\"expires_on\":\"") != NULL,
	    "IMDS answers over plain HTTP");
	ok(fetch(url, NULL, NULL, &out) == 400,
	    "... and refuses a request without Metadata: true");

	sim_stop(s);
	test_window();
	test_live_quota();
	util_free_secret(key);
	free(cert);
	buf_free(&out);
	unlink(ca);
	rmdir(dir);
	curl_global_cleanup();
	return (done_testing());
}

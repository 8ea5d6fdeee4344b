/*
 * test_sim.c: the simulation as the daemon's --demo uses it (src/sim/,
 * no test hooks): the helpers a demo needs to run with each credential
 * kind (a client certificate, an external IdP's federated token, the
 * managed-identity listener), checked end to end over loopback with
 * libcurl against the sim's own token endpoint and APIs.
 *
 * Threads: main only (the sim runs its own). Ownership: each test frees
 * what it makes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "buf.h"
#include "sim/sim.h"
#include "tap.h"
#include "util.h"

#define TENANT	"4b2f6c1e-8a7d-4e3b-9c5a-1d0e2f3a4b5c"
#define CLIENT	"9e8d7c6b-5a49-4382-b1a0-f9e8d7c6b5a4"
#define ISSUER	"https://oidc.demo.invalid"
#define SUBJECT	"system:serviceaccount:demo:defgate"

static char	 ca[64];

static size_t
sink(char *p, size_t sz, size_t n, void *arg)
{
	return (buf_append(arg, p, sz * n) == 0 ? sz * n : 0);
}

/* GET (body NULL) or POST url; the status, the body into *out. */
static long
fetch(const char *url, const char *body, const char *hdr, struct buf *out)
{
	CURL			*c = curl_easy_init();
	struct curl_slist	*h = NULL;
	long			 status = 0;

	buf_reset(out);
	if (c == NULL)
		return (0);
	curl_easy_setopt(c, CURLOPT_URL, url);
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
	util_free_secret(key);
	free(cert);
	buf_free(&out);
	unlink(ca);
	rmdir(dir);
	curl_global_cleanup();
	return (done_testing());
}

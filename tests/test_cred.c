/*
 * test_cred.c: src/cred.c, src/cloud.c and the credential keys of
 * src/config.c: choosing the credential, client assertions (verified here
 * with libcrypto: header, claims, PS256/RS256 signature, x5c), PKCS#12,
 * the federated token file read per request, managed-identity requests and
 * answers, cloud presets, and secrets kept out of error texts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "buf.h"
#include "config.h"
#include "cred.h"
#include "jwt.h"
#include "oauth.h"
#include "tap.h"
#include "util.h"

#define TENANT	"11111111-2222-3333-4444-555555555555"
#define CLIENT	"aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"

static char	 dir[64];

static const char *
path(const char *name)
{
	static char p[4][128];
	static int i;

	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", dir, name);
	return (p[i]);
}

/* Build a config from "key=value" entries only (no file, no env). */
static int
build(struct gw_config *cf, struct buf *errs, const char *const *sets)
{
	char	*v[24];
	int	 n = 0, rc;

	while (n < 24 && sets[n] != NULL) {
		v[n] = (char *)(uintptr_t)sets[n];
		n++;
	}
	buf_init(errs, CONFIG_MAX_ERRORS);
	rc = config_build(cf, NULL, v, n, errs);
	return (rc);
}

/* "client_certificate_path=<dir>/name" */
static const char *
cert_set(const char *name)
{
	static char set[4][160];
	static int i;

	i = (i + 1) % 4;
	snprintf(set[i], sizeof(set[i]), "client_certificate_path=%s",
	    path(name));
	return (set[i]);
}

static void
done(struct gw_config *cf, struct buf *e)
{
	config_free(cf);
	buf_free(e);
}

static X509 *
make_cert(EVP_PKEY *key, const char *cn, long days, EVP_PKEY *signer,
    X509 *issuer)
{
	X509		*x = X509_new();
	X509_NAME	*name = X509_NAME_new();

	ASN1_INTEGER_set(X509_get_serialNumber(x), (long)util_now() & 0xffff);
	X509_set_version(x, 2);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), days * 86400);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, name);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
	X509_set_pubkey(x, key);
	X509_sign(x, signer ? signer : key, EVP_sha256());
	X509_NAME_free(name);
	return (x);
}

static void
write_pem(const char *file, EVP_PKEY *key, X509 *leaf, X509 *ca, int mode)
{
	FILE *f = fopen(file, "w");

	if (leaf)
		PEM_write_X509(f, leaf);
	if (key)
		PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	if (ca)
		PEM_write_X509(f, ca);
	fclose(f);
	chmod(file, (mode_t)mode);
}

static void
write_file(const char *file, const char *text)
{
	FILE *f = fopen(file, "w");

	fputs(text, f);
	fclose(f);
}

/* The URL-decoded value of field k in a form body; malloc'd. */
static char *
form_value(const char *body, const char *k)
{
	char		 pat[64];
	const char	*p;
	char		*v, *d;
	size_t		 n;

	snprintf(pat, sizeof(pat), "%s=", k);
	for (p = body; (p = strstr(p, pat)) != NULL; p++)
		if (p == body || p[-1] == '&')
			break;
	if (p == NULL)
		return (NULL);
	p += strlen(pat);
	n = strcspn(p, "&");
	v = util_strndup(p, n);
	d = curl_easy_unescape(NULL, v, 0, NULL);
	free(v);
	v = strdup(d);
	curl_free(d);
	return (v);
}

static cJSON *
jwt_part(const char *jwt, int idx)
{
	const char	*p = jwt;
	size_t		 n, len;
	unsigned char	*raw;
	cJSON		*j;

	for (int i = 0; i < idx; i++)
		p = strchr(p, '.') + 1;
	n = strcspn(p, ".");
	raw = jwt_b64url_decode(p, n, &len);
	j = raw ? cJSON_ParseWithLength((char *)raw, len) : NULL;
	free(raw);
	return (j);
}

static const char *
jstr(const cJSON *o, const char *k)
{
	return (cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k)));
}

static double
jnum(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return (cJSON_IsNumber(v) ? v->valuedouble : -1);
}

static char *
b64url_of(const unsigned char *in, size_t n)
{
	char *out = malloc(4 * ((n + 2) / 3) + 1);
	int len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);

	while (len > 0 && out[len - 1] == '=')
		out[--len] = '\0';
	for (char *p = out; *p; p++)
		*p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
	return (out);
}

static int
verify(const char *jwt, X509 *cert, int pss)
{
	const char	*dot2 = strrchr(jwt, '.');
	unsigned char	*sig;
	size_t		 siglen;
	EVP_MD_CTX	*md = EVP_MD_CTX_new();
	EVP_PKEY_CTX	*pctx = NULL;
	int		 ok;

	sig = jwt_b64url_decode(dot2 + 1, strlen(dot2 + 1), &siglen);
	ok = sig && EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL,
	    X509_get0_pubkey(cert)) == 1 &&
	    (!pss || (EVP_PKEY_CTX_set_rsa_padding(pctx,
	    RSA_PKCS1_PSS_PADDING) == 1 &&
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) == 1)) &&
	    EVP_DigestVerify(md, sig, siglen, (const unsigned char *)jwt,
	    (size_t)(dot2 - jwt)) == 1;
	EVP_MD_CTX_free(md);
	free(sig);
	return (ok);
}

static char *
assertion_of(struct gw_config *cf, struct cred_req *req)
{
	struct oauth_error err;

	if (cred_req_build(cf, cf->scope, req, &err) != 0) {
		diag("cred_req_build: %s", err.description);
		return (NULL);
	}
	return (form_value(req->body, "client_assertion"));
}

#define ID	"tenant_id=" TENANT, "client_id=" CLIENT
#define SECRET	"client_secret=s3cret-value"

static void
test_choose(void)
{
	static const struct {
		const char	*sets[6];
		int		 rc, kind;
		const char	*has, *hasnt, *name;
	} t[] = {
	{ { ID, SECRET }, 0, CRED_SECRET, NULL, NULL, "secret alone" },
	{ { ID, "federated_token_file=/nonexistent/yet" }, 0, CRED_FEDERATED,
	  NULL, NULL, "federated inferred; the file may come later" },
	{ { ID, SECRET, "client_certificate_path=/x.pem" }, -1, 0,
	  "client_secret (AZURE_CLIENT_SECRET) is set", "s3cret-value",
	  "secret and certificate: a line for the secret, not echoed" },
	{ { ID, SECRET, "client_certificate_path=/x.pem" }, -1, 0,
	  "client_certificate_path (AZURE_CLIENT_CERTIFICATE_PATH) is set",
	  NULL, "secret and certificate: a line for the certificate" },
	{ { ID, SECRET, "federated_token_file=/x", "credential=federated" }, 0,
	  CRED_FEDERATED, NULL, NULL, "an explicit credential resolves it" },
	{ { ID, "credential=password" }, -1, 0,
	  "credential (DEFGATE_CREDENTIAL) \"password\" is unknown", NULL,
	  "unknown credential refused" },
	{ { ID, "client_certificate_path=" }, -1, 0, "is required", NULL,
	  "no credential at all refused" },
	{ { "credential=managed_identity", "imds_url=http://127.0.0.1:9" }, 0,
	  CRED_MANAGED_IDENTITY, NULL, NULL,
	  "managed identity needs no tenant, client or secret; http IMDS" },
	{ { "identity_endpoint=http://127.0.0.1:9/msi/token",
	    "identity_header=hdr-secret" }, 0, CRED_MANAGED_IDENTITY, NULL,
	  NULL, "IDENTITY_ENDPOINT + IDENTITY_HEADER: managed identity" },
	{ { "identity_endpoint=http://127.0.0.1:9/msi/token" }, -1, 0,
	  "identity_header (IDENTITY_HEADER)", NULL,
	  "IDENTITY_ENDPOINT without IDENTITY_HEADER refused" },
	{ { ID, SECRET, "api_url=http://127.0.0.1:9" }, -1, 0, "https://",
	  NULL, "http stays refused for the API" },
	{ { ID, SECRET, "proxy=socks5://user:pw-4711@p:1080" }, -1, 0,
	  "socks5://[redacted]@p:1080", "pw-4711",
	  "a socks proxy refused, named without its password" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct gw_config	 cf;
		struct buf		 e;
		const char		*sets[7] = { NULL };
		int			 rc;

		memcpy(sets, t[i].sets, sizeof(t[i].sets));
		rc = build(&cf, &e, sets);

		is_int(rc, t[i].rc, t[i].name);
		if (rc == 0)
			is_int(cf.credential, t[i].kind, t[i].name);
		if (t[i].has)
			like(e.data, t[i].has, t[i].name);
		if (t[i].hasnt)
			unlike(e.data ? e.data : "", t[i].hasnt, t[i].name);
		done(&cf, &e);
	}
}

static void
test_cloud(void)
{
	struct gw_config	 cf;
	struct buf		 e;

	is_int(build(&cf, &e, (const char *[]){ "tenant_id=" TENANT,
	    "client_id=" CLIENT, "client_secret=s3cret-value", "cloud=gcchigh",
	    "api_url=https://override.example", NULL }), 0, "cloud gcchigh");
	is_str(cf.authority_host, "https://login.microsoftonline.us",
	    "gcchigh: authority");
	is_str(cf.scope, "https://api-gov.security.microsoft.us/.default",
	    "gcchigh: scope");
	is_str(cf.api_url, "https://override.example",
	    "gcchigh: a single value is still overridden");
	done(&cf, &e);
	is_int(build(&cf, &e, (const char *[]){ "tenant_id=" TENANT,
	    "client_id=" CLIENT, "client_secret=s3cret-value", "cloud=gcc",
	    NULL }), 0, "cloud gcc");
	is_str(cf.api_url, "https://api-gcc.security.microsoft.us",
	    "gcc: API URL");
	is_str(cf.authority_host, "https://login.microsoftonline.com",
	    "gcc: worldwide login");
	done(&cf, &e);
	is_int(build(&cf, &e, (const char *[]){ "tenant_id=" TENANT,
	    "client_id=" CLIENT, "client_secret=s3cret-value", "cloud=china",
	    NULL }), -1, "unknown cloud refused");
	like(e.data, "use public, gcc, gcchigh or dod", "unknown cloud: fix");
	done(&cf, &e);
}

static void
test_certificate(void)
{
	EVP_PKEY		*key = EVP_RSA_gen(2048), *cakey = EVP_RSA_gen(2048);
	X509			*ca = make_cert(cakey, "Test CA", 365, NULL, NULL);
	X509			*leaf = make_cert(key, "defgate-test", 365, cakey,
				    ca);
	X509			*soon = make_cert(key, "short-lived", 10, NULL,
				    NULL);
	struct gw_config	 cf;
	struct buf		 e;
	struct cred_req		 req;
	cJSON			*h, *p, *x5c;
	char			*a1, *a2, *tokurl, *x;
	unsigned char		 md[32], *der = NULL;
	unsigned int		 mdlen;
	long long		 now = util_now();
	int			 n;

	write_pem(path("c.pem"), key, leaf, ca, 0600);
	is_int(build(&cf, &e, (const char *[]){ "tenant_id=" TENANT,
	    "client_id=" CLIENT, "client_certificate_path=/dev/null", NULL }),
	    -1, "an empty certificate file is refused");
	done(&cf, &e);
	is_int(build(&cf, &e, (const char *[]){ "tenant_id=" TENANT,
	    "client_id=" CLIENT, "client_certificate_path=",
	    NULL }), -1, "no credential at all: refused");
	done(&cf, &e);

	is_int(build(&cf, &e, (const char *[]){ "tenant_id=" TENANT,
	    "client_id=" CLIENT, cert_set("c.pem"), NULL }), 0,
	    "PEM with certificate, key and CA loads");
	if (e.len)
		diag("%s", e.data);
	is_int(cf.credential, CRED_CERTIFICATE, "certificate inferred");
	X509_digest(leaf, EVP_sha256(), md, &mdlen);
	ok(cred_cert_info(&cf) != NULL, "certificate info kept");
	{
		char hex[65];

		for (unsigned i = 0; i < mdlen; i++)
			snprintf(hex + 2 * i, 3, "%02X", md[i]);
		is_str(cred_cert_info(&cf)->thumbprint_sha256, hex,
		    "SHA-256 thumbprint of the leaf, not the CA");
	}
	is_str(cred_cert_info(&cf)->subject, "CN=defgate-test", "subject");

	a1 = assertion_of(&cf, &req);
	ok(a1 != NULL, "PS256: a client assertion in the body");
	x = form_value(req.body, "client_assertion_type");
	is_str(x, "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
	    "client_assertion_type");
	free(x);
	ok(form_value(req.body, "client_secret") == NULL, "no client_secret");
	tokurl = strdup(req.url);
	cred_req_free(&req);
	h = jwt_part(a1, 0);
	p = jwt_part(a1, 1);
	is_str(jstr(h, "alg"), "PS256", "header alg PS256");
	is_str(jstr(h, "typ"), "JWT", "header typ JWT");
	x = b64url_of(md, mdlen);
	is_str(jstr(h, "x5t#S256"), x, "x5t#S256 = base64url SHA-256 of the "
	    "DER");
	free(x);
	ok(cJSON_GetObjectItem(h, "x5t") == NULL, "no x5t with PS256");
	ok(cJSON_GetObjectItem(h, "x5c") == NULL, "no x5c by default");
	is_str(jstr(p, "aud"), tokurl, "aud is the token endpoint");
	is_str(jstr(p, "iss"), CLIENT, "iss is the client ID");
	is_str(jstr(p, "sub"), CLIENT, "sub is the client ID");
	ok(jstr(p, "jti") && strlen(jstr(p, "jti")) == 36, "jti is a GUID");
	ok(jnum(p, "nbf") >= now - 5 && jnum(p, "nbf") <= now + 5,
	    "nbf is now");
	is_int((long long)(jnum(p, "exp") - jnum(p, "nbf")), 300,
	    "lifetime 5 minutes");
	ok(verify(a1, leaf, 1), "PS256 signature verifies with the "
	    "certificate's public key");
	ok(!verify(a1, ca, 1), "and not with another key");
	a2 = assertion_of(&cf, &req);
	cred_req_free(&req);
	{
		cJSON *p2 = jwt_part(a2, 1);

		ok(strcmp(jstr(p, "jti"), jstr(p2, "jti")) != 0,
		    "every assertion has its own jti");
		cJSON_Delete(p2);
	}
	cJSON_Delete(h);
	cJSON_Delete(p);
	free(a1);
	free(a2);
	free(tokurl);
	{
		cJSON *st = cJSON_CreateObject(), *c;

		cred_status_json(&cf, st);
		c = cJSON_GetObjectItem(cJSON_GetObjectItem(st, "credential"),
		    "certificate");
		is_str(jstr(cJSON_GetObjectItem(st, "credential"), "kind"),
		    "certificate", "status.json credential.kind");
		ok(cJSON_IsNull(cJSON_GetObjectItem(c, "warning")),
		    "a year-long certificate: no expiry warning");
		is_str(jstr(st, "cloud"), "public", "status.json cloud");
		cJSON_Delete(st);
	}
	done(&cf, &e);

	/* RS256 + x5t, with the chain as x5c */
	is_int(build(&cf, &e, (const char *[]){ "tenant_id=" TENANT,
	    "client_id=" CLIENT, cert_set("c.pem"),
	    "client_assertion_alg=RS256", "send_certificate_chain=true",
	    NULL }), 0, "RS256 config");
	a1 = assertion_of(&cf, &req);
	cred_req_free(&req);
	h = jwt_part(a1, 0);
	is_str(jstr(h, "alg"), "RS256", "RS256: alg");
	X509_digest(leaf, EVP_sha1(), md, &mdlen);
	x = b64url_of(md, mdlen);
	is_str(jstr(h, "x5t"), x, "RS256: x5t = base64url SHA-1");
	free(x);
	ok(verify(a1, leaf, 0), "RS256 signature verifies (PKCS#1 v1.5)");
	x5c = cJSON_GetObjectItem(h, "x5c");
	is_int(cJSON_GetArraySize(x5c), 2, "x5c: leaf and CA");
	n = i2d_X509(leaf, &der);
	{
		char *std = malloc(4 * ((size_t)(n + 2) / 3) + 1);

		EVP_EncodeBlock((unsigned char *)std, der, n);
		is_str(cJSON_GetStringValue(cJSON_GetArrayItem(x5c, 0)), std,
		    "x5c[0] is the leaf, standard base64 DER");
		free(std);
	}
	OPENSSL_free(der);
	cJSON_Delete(h);
	free(a1);
	done(&cf, &e);

	/* PKCS#12 with a password */
	{
		PKCS12	*p12;
		FILE	*f;
		char	 set[160];

		p12 = PKCS12_create("p12-pass", "defgate", key, leaf, NULL, 0,
		    0, 0, 0, 0);
		f = fopen(path("c.p12"), "wb");
		i2d_PKCS12_fp(f, p12);
		fclose(f);
		PKCS12_free(p12);
		snprintf(set, sizeof(set), "%s", cert_set("c.p12"));
		is_int(build(&cf, &e, (const char *[]){ "tenant_id=" TENANT,
		    "client_id=" CLIENT, set,
		    "client_certificate_password=p12-pass", NULL }), 0,
		    "PKCS#12 with its password loads");
		a1 = assertion_of(&cf, &req);
		cred_req_free(&req);
		ok(a1 && verify(a1, leaf, 1), "PKCS#12: assertion verifies");
		free(a1);
		done(&cf, &e);
		is_int(build(&cf, &e, (const char *[]){ "tenant_id=" TENANT,
		    "client_id=" CLIENT, set,
		    "client_certificate_password=wrong-pass", NULL }), -1,
		    "PKCS#12 with a wrong password refused");
		like(e.data, "client_certificate_password", "wrong password: "
		    "the fix names the password setting");
		unlike(e.data, "wrong-pass", "the password is not echoed");
		done(&cf, &e);
	}

	/* a certificate that expires in 10 days: warning */
	write_pem(path("soon.pem"), key, soon, NULL, 0600);
	{
		cJSON	*st = cJSON_CreateObject(), *c;

		is_int(build(&cf, &e, (const char *[]){ "tenant_id=" TENANT,
		    "client_id=" CLIENT, cert_set("soon.pem"), NULL }), 0,
		    "short-lived cert");
		cred_status_json(&cf, st);
		c = cJSON_GetObjectItem(cJSON_GetObjectItem(st, "credential"),
		    "certificate");
		like(jstr(c, "warning"), "expires on", "10 days left: warning "
		    "on the status page");
		ok(jnum(c, "days_left") >= 9 && jnum(c, "days_left") <= 10,
		    "days_left");
		cJSON_Delete(st);
		/* a reload wipes the key: no assertion can be made any more */
		cred_forget_secrets(&cf);
		{
			struct oauth_error err;

			is_int(cred_req_build(&cf, cf.scope, &req, &err), -1,
			    "after the key is forgotten nothing is signed");
		}
		done(&cf, &e);
	}
	X509_free(ca);
	X509_free(leaf);
	X509_free(soon);
	EVP_PKEY_free(key);
	EVP_PKEY_free(cakey);
}

static void
test_federated(void)
{
	struct gw_config	 cf;
	struct buf		 e;
	struct cred_req		 req;
	struct oauth_error	 err;
	char			 set[160], *a;

	snprintf(set, sizeof(set), "federated_token_file=%s", path("fed"));
	write_file(path("fed"), "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJvbmUifQ.c2ln\n");
	is_int(build(&cf, &e, (const char *[]){ "tenant_id=" TENANT,
	    "client_id=" CLIENT, set, NULL }), 0, "federated config");
	is_int(cred_req_build(&cf, cf.scope, &req, &err), 0, "federated "
	    "request");
	a = form_value(req.body, "client_assertion");
	is_str(a, "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJvbmUifQ.c2ln",
	    "the token file's content is the assertion (newline trimmed)");
	free(a);
	cred_req_free(&req);
	write_file(path("fed"), "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ0d28ifQ.c2ln");
	cred_req_build(&cf, cf.scope, &req, &err);
	a = form_value(req.body, "client_assertion");
	is_str(a, "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ0d28ifQ.c2ln",
	    "a rotated token file is read again for the next request");
	free(a);
	cred_req_free(&req);
	write_file(path("fed"), "");
	is_int(cred_req_build(&cf, cf.scope, &req, &err), -1,
	    "an empty token file: error");
	is_str(err.error, "credential_unavailable", "empty: error class");
	like(err.description, "is empty", "empty: says so");
	unlink(path("fed"));
	is_int(cred_req_build(&cf, cf.scope, &req, &err), -1,
	    "a missing token file: error, not a crash");
	like(err.description, "No such file", "missing: the reason");
	like(err.description, "AZURE_FEDERATED_TOKEN_FILE", "missing: the "
	    "setting");
	done(&cf, &e);
}

static void
test_managed_identity(void)
{
	struct gw_config	 cf;
	struct buf		 e;
	struct cred_req		 req;
	struct oauth_error	 err;
	struct oauth_token	 tok;

	is_int(build(&cf, &e, (const char *[]){ "credential=managed_identity",
	    "imds_url=http://127.0.0.1:4711/", "client_id=" CLIENT, NULL }), 0,
	    "IMDS config");
	is_int(cred_req_build(&cf, "https://graph.microsoft.com/.default",
	    &req, &err), 0, "IMDS request");
	is_str(req.url, "http://127.0.0.1:4711/metadata/identity/oauth2/token"
	    "?api-version=2018-02-01&resource=https%3A%2F%2Fgraph.microsoft."
	    "com&client_id=" CLIENT, "IMDS URL: resource without /.default, "
	    "user-assigned client_id");
	ok(req.is_get && req.body == NULL, "IMDS: a GET");
	is_str(req.headers ? req.headers->data : NULL, "Metadata: true",
	    "IMDS: Metadata: true");
	cred_req_free(&req);
	is_int(cred_parse_response(&cf, 200, "{\"access_token\":\"eyJ0.eyJ0."
	    "c2ln\",\"expires_in\":\"3599\",\"expires_on\":\"1700003599\","
	    "\"token_type\":\"Bearer\",\"resource\":\"x\"}", 131, 1700000000,
	    &tok, &err), 0, "IMDS answer (numbers as strings)");
	is_int(tok.expires_at, 1700003599, "IMDS: expires_on");
	oauth_token_free(&tok);
	{
		const char *b = "{\"error\":\"invalid_request\","
		    "\"error_description\":\"Identity not found\"}";

		is_int(cred_parse_response(&cf, 400, b, strlen(b), 1700000000,
		    &tok, &err), -1, "IMDS 400");
		like(err.description, "Identity not found", "IMDS 400: the "
		    "endpoint's words");
		like(err.description, "no identity is assigned", "IMDS 400: "
		    "hint");
	}
	done(&cf, &e);

	is_int(build(&cf, &e, (const char *[]){ "identity_endpoint=http://"
	    "127.0.0.1:4712/msi/token", "identity_header=hdr-secret-42",
	    NULL }), 0, "App Service config");
	is_int(cred_req_build(&cf, cf.scope, &req, &err), 0, "App Service "
	    "request");
	is_str(req.url, "http://127.0.0.1:4712/msi/token?api-version="
	    "2019-08-01&resource=https%3A%2F%2Fapi.security.microsoft.com",
	    "App Service URL, system-assigned");
	is_str(req.headers ? req.headers->data : NULL,
	    "X-IDENTITY-HEADER: hdr-secret-42", "X-IDENTITY-HEADER");
	cred_req_free(&req);
	{
		const char *b = "{\"access_token\":\"eyJ0.eyJ0.c2ln\","
		    "\"expires_on\":1700000600,\"token_type\":\"Bearer\"}";
		const char *b2 = "{\"statusCode\":400,\"message\":\"Unable to "
		    "load the proper Managed Identity. hdr-secret-42\"}";
		const char *b3 = "{\"error\":{\"code\":\"BadRequest\","
		    "\"message\":\"unknown client\"}}";

		is_int(cred_parse_response(&cf, 200, b, strlen(b), 1700000000,
		    &tok, &err), 0, "App Service answer (expires_on number)");
		is_int(tok.expires_at, 1700000600, "App Service: expires_on");
		oauth_token_free(&tok);
		cred_parse_response(&cf, 400, b2, strlen(b2), 1700000000, &tok,
		    &err);
		like(err.description, "Unable to load the proper Managed "
		    "Identity", "{statusCode,message} shape understood");
		unlike(err.description, "hdr-secret-42", "IDENTITY_HEADER "
		    "echoed by the endpoint is redacted");
		cred_parse_response(&cf, 400, b3, strlen(b3), 1700000000, &tok,
		    &err);
		is_str(err.error, "BadRequest", "{error:{code,message}}: code");
		like(err.description, "unknown client", "... and message");
	}
	done(&cf, &e);
}

static void
test_redaction(void)
{
	struct gw_config	 cf;
	struct buf		 e;
	struct oauth_token	 tok;
	struct oauth_error	 err;
	char			 body[1024];

	is_int(build(&cf, &e, (const char *[]){ "tenant_id=" TENANT,
	    "client_id=" CLIENT, "client_secret=Sec ret/with+chars",
	    "proxy=http://puser:ppass-99@127.0.0.1:3128", NULL }), 0,
	    "secret config with a proxy");
	snprintf(body, sizeof(body), "{\"error\":\"invalid_client\","
	    "\"error_description\":\"AADSTS7000215: got Sec%%20ret%%2Fwith%%2B"
	    "chars, Sec ret/with+chars and client_assertion=eyJhbGciOiJQUzI1"
	    "NiJ9.eyJ4IjoxfQ.c2ln via ppass-99\",\"error_codes\":[7000215]}");
	is_int(cred_parse_response(&cf, 401, body, strlen(body), 1700000000,
	    &tok, &err), -1, "echoing token endpoint: an error");
	unlike(err.description, "Sec ret", "plain secret redacted");
	unlike(err.description, "Sec%20ret", "URL-encoded secret redacted");
	unlike(err.description, "eyJhbGci", "assertion redacted");
	unlike(err.description, "ppass-99", "proxy password redacted");
	like(err.description, "AADSTS7000215: got", "the rest is kept");
	is_int(err.aadsts, 7000215, "AADSTS code kept");
	{
		char s[256] = "x Sec ret/with+chars y";

		cred_redact(&cf, s, sizeof(s));
		is_str(s, "x [redacted] y", "cred_redact");
	}
	done(&cf, &e);
}

int
main(void)
{
	plan_lazy();
	unsetenv("AZURE_CLIENT_SECRET");
	unsetenv("AZURE_TENANT_ID");
	unsetenv("AZURE_CLIENT_ID");
	unsetenv("HTTPS_PROXY");
	unsetenv("https_proxy");
	snprintf(dir, sizeof(dir), "/tmp/defgate-test-cred.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return (1);
	test_choose();
	test_cloud();
	test_certificate();
	test_federated();
	test_managed_identity();
	test_redaction();
	unlink(path("c.pem"));
	unlink(path("c.p12"));
	unlink(path("soon.pem"));
	unlink(path("fed"));
	rmdir(dir);
	return (done_testing());
}

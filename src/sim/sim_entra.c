/*
 * sim_entra.c: the simulated Entra ID token endpoint (v1 and v2 client
 * credentials) and the access tokens it issues: one audience per token
 * (Defender XDR, Graph, MDE), aud = the resource, that audience's roles.
 * Requests are validated in Entra's order and refused with Entra's error
 * body and AADSTS codes.
 *
 * Threads: any MHD thread; token settings are read under the sim's lock.
 * Ownership: the request's form and tenant belong to its struct sim_req;
 * tokens and bodies returned are malloc'd and the caller's.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "log.h"
#include "sim_int.h"
#include "util.h"

#define SIM_OID		"c2f9a0b4-7d1e-4c58-9a36-e5b7d8f01a2c"

static char	*issue_now(struct sim *, int aud, long long now, int *lifetime);

/*
 * The token audiences: the v1 resource (the token's aud), the resource's
 * application id (the aud of a v2-shaped token) and all of its roles (the
 * default grant). Indexed by enum sim_audience.
 */
const struct sim_aud_info sim_auds[SIM_AUD_N] = {
	{ "defender", "https://api.security.microsoft.com",
	  "8ee8fdad-f234-4243-8f3b-15c294843740",
	  "Incident.Read.All,Incident.ReadWrite.All,AdvancedHunting.Read.All" },
	{ "graph", "https://graph.microsoft.com",
	  "00000003-0000-0000-c000-000000000000",
	  "SecurityIncident.Read.All,SecurityIncident.ReadWrite.All,"
	  "SecurityAlert.Read.All,SecurityAlert.ReadWrite.All,"
	  "ThreatHunting.Read.All" },
	{ "mde", "https://api.securitycenter.microsoft.com",
	  "fc780465-2017-40d4-a0c5-307022471b92",
	  "Alert.Read.All,Alert.ReadWrite.All,Machine.Read.All,"
	  "Machine.ReadWrite.All,AdvancedQuery.Read.All" },
};

/* Entra's timestamp form: "2026-11-21 10:00:00Z". */
static void
entra_time(char *out, size_t len)
{
	struct tm	 tm;
	time_t		 t = time(NULL);

	gmtime_r(&t, &tm);
	strftime(out, len, "%Y-%m-%d %H:%M:%SZ", &tm);
}

/* Entra ID error JSON; corr is the client-request-id when one was sent. */
char *
sim_entra_error(const char *error, long code, const char *text, const char *corr)
{
	cJSON	*o = cJSON_CreateObject(), *codes;
	char	 trace[37], cid[37], ts[32], uri[96], *desc;
	size_t	 n;

	util_uuid(trace);
	if (corr == NULL || strlen(corr) != 36)
		util_uuid(cid);
	else
		memcpy(cid, corr, sizeof(cid));
	entra_time(ts, sizeof(ts));
	n = strlen(text) + 200;
	desc = xmalloc(n);
	snprintf(desc, n, "AADSTS%ld: %s\r\nTrace ID: %s\r\nCorrelation ID: "
	    "%s\r\nTimestamp: %s", code, text, trace, cid, ts);
	snprintf(uri, sizeof(uri),
	    "https://login.microsoftonline.com/error?code=%ld", code);
	cJSON_AddStringToObject(o, "error", error);
	cJSON_AddStringToObject(o, "error_description", desc);
	codes = cJSON_AddArrayToObject(o, "error_codes");
	cJSON_AddItemToArray(codes, cJSON_CreateNumber((double)code));
	cJSON_AddStringToObject(o, "timestamp", ts);
	cJSON_AddStringToObject(o, "trace_id", trace);
	cJSON_AddStringToObject(o, "correlation_id", cid);
	cJSON_AddStringToObject(o, "error_uri", uri);
	free(desc);
	return (sim_print_json(o));
}

static char *
rand_b64(size_t n)
{
	unsigned char	 r[64];

	if (n > sizeof(r))
		n = sizeof(r);
	if (RAND_bytes(r, (int)n) != 1)
		return (NULL);
	return (sim_b64url(r, n));
}

/* uti: 8 random bytes, then the serial XOR those bytes (opaque, unique). */
static char *
make_uti(unsigned long long serial)
{
	unsigned char	 b[16];

	if (RAND_bytes(b, 8) != 1)
		return (NULL);
	for (int i = 0; i < 8; i++)
		b[8 + i] = b[i] ^ (unsigned char)(serial >> (56 - 8 * i));
	return (sim_b64url(b, sizeof(b)));
}

/* The serial hidden in a uti, or 0 when it is not one of ours. */
unsigned long long
sim_token_serial(const char *uti)
{
	unsigned char		*b;
	size_t			 n;
	unsigned long long	 serial = 0;

	if ((b = sim_b64url_decode(uti, strlen(uti), &n)) == NULL)
		return (0);
	if (n == 16)
		for (int i = 0; i < 8; i++)
			serial = serial << 8 | (unsigned char)(b[8 + i] ^ b[i]);
	free(b);
	return (serial);
}

/* The roles claim: roles (NULL: all of aud's; "": no claim at all). */
static void
add_roles(cJSON *o, const char *roles, int aud)
{
	cJSON		*a;
	const char	*p, *e;
	char		*item;

	if (roles == NULL)
		roles = sim_auds[aud].roles;
	if (*roles == '\0')
		return;		/* no roles claim at all */
	a = cJSON_AddArrayToObject(o, "roles");
	for (p = roles; p != NULL; p = e ? e + 1 : NULL) {
		e = strchr(p, ',');
		item = util_strndup(p, e ? (size_t)(e - p) : strlen(p));
		if (item != NULL && *item != '\0')
			cJSON_AddItemToArray(a, cJSON_CreateString(item));
		free(item);
	}
}

/* Sign a new access token for aud; the claim shape follows `version`. */
static char *
issue_token(struct sim *s, long long now, int lifetime, int version,
    int aud, const char *roles, unsigned long long serial)
{
	cJSON	*o = cJSON_CreateObject();
	char	 iss[160], *aio, *rh, *uti, *tok = NULL, *rnd;

	aio = rand_b64(36);
	rnd = rand_b64(42);
	uti = make_uti(serial);
	rh = NULL;
	if (rnd != NULL) {
		size_t n = strlen(rnd) + 8;

		rh = xmalloc(n);
		snprintf(rh, n, "0.A%sAA.", rnd);
	}
	if (aio == NULL || rh == NULL || uti == NULL)
		goto out;
	if (version == 2)
		snprintf(iss, sizeof(iss),
		    "https://login.microsoftonline.com/%s/v2.0", s->tenant);
	else
		snprintf(iss, sizeof(iss), "https://sts.windows.net/%s/",
		    s->tenant);
	cJSON_AddStringToObject(o, "aud", version == 2 ? sim_auds[aud].appid :
	    sim_auds[aud].resource);
	cJSON_AddStringToObject(o, "iss", iss);
	cJSON_AddNumberToObject(o, "iat", (double)now);
	cJSON_AddNumberToObject(o, "nbf", (double)now);
	cJSON_AddNumberToObject(o, "exp", (double)(now + lifetime));
	cJSON_AddStringToObject(o, "aio", aio);
	cJSON_AddStringToObject(o, "app_displayname", "defgate-demo");
	if (version == 2) {
		cJSON_AddStringToObject(o, "azp", s->client);
		cJSON_AddStringToObject(o, "azpacr", "1");
	} else {
		cJSON_AddStringToObject(o, "appid", s->client);
		cJSON_AddStringToObject(o, "appidacr", "1");
	}
	cJSON_AddStringToObject(o, "idp", iss);
	cJSON_AddStringToObject(o, "idtyp", "app");
	cJSON_AddStringToObject(o, "oid", SIM_OID);
	cJSON_AddStringToObject(o, "rh", rh);
	add_roles(o, roles, aud);
	cJSON_AddStringToObject(o, "sub", SIM_OID);
	cJSON_AddStringToObject(o, "tid", s->tenant);
	cJSON_AddStringToObject(o, "uti", uti);
	cJSON_AddStringToObject(o, "ver", version == 2 ? "2.0" : "1.0");
	tok = sim_jwt_sign(&s->tls, o);
out:
	cJSON_Delete(o);
	free(aio);
	free(rnd);
	free(rh);
	free(uti);
	return (tok);
}

/* application/x-www-form-urlencoded into an object (first value wins). */
static cJSON *
parse_form(const char *body, size_t len)
{
	cJSON		*f = cJSON_CreateObject();
	const char	*p = body, *end = body + len, *amp, *e, *eq;
	char		*k, *v;

	while (p < end) {
		amp = memchr(p, '&', (size_t)(end - p));
		e = amp ? amp : end;
		if (e > p) {
			eq = memchr(p, '=', (size_t)(e - p));
			k = sim_pct_decode(p, (size_t)((eq ? eq : e) - p), 1);
			v = eq ? sim_pct_decode(eq + 1, (size_t)(e - eq - 1), 1) :
			    xstrdup("");
			if (*k != '\0' && !cJSON_HasObjectItem(f, k))
				cJSON_AddStringToObject(f, k, v);
			free(k);
			free(v);
		}
		p = e + 1;
	}
	return (f);
}

enum MHD_Result
sim_entra_reply(struct sim_req *req, unsigned status, char *body,
    long retry_after)
{
	struct MHD_Response	*r = sim_mem_response(body);
	struct MHD_Connection	*c = req->c;
	const char		*crid = sim_header(c, "client-request-id");
	char			 id[37], ra[24];

	if (r == NULL)
		return (MHD_NO);
	util_uuid(id);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, SIM_JSON_CT);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL,
	    "no-store, no-cache");
	MHD_add_response_header(r, MHD_HTTP_HEADER_PRAGMA, "no-cache");
	MHD_add_response_header(r, "x-ms-request-id", id);
	MHD_add_response_header(r, "x-ms-ests-server",
	    "2.1.18874.3 - defgate-sim");
	if (crid != NULL)
		MHD_add_response_header(r, "client-request-id", crid);
	if (retry_after >= 0) {
		snprintf(ra, sizeof(ra), "%ld", retry_after);
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, ra);
	}
	return (sim_queue(c, status, r));
}

static enum MHD_Result
token_error(struct sim_req *r, unsigned status, const char *error,
    long code, const char *fmt, ...)
    __attribute__((__format__(__printf__, 5, 6)));

/* An Entra error answer with a printf-formatted description. */
static enum MHD_Result
token_error(struct sim_req *r, unsigned status, const char *error,
    long code, const char *fmt, ...)
{
	char	 text[1024];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	return (sim_entra_reply(r, status, sim_entra_error(error, code, text,
	    sim_header(r->c, "client-request-id")), -1));
}

/*
 * "/{tenant}/oauth2/token" (1) or "/{tenant}/oauth2/v2.0/token" (2), with
 * the tenant segment in *tenant when asked; 0 for any other path.
 */
static int
token_path(const char *url, char **tenant)
{
	const char	*sl;
	int		 v;

	if (url[0] != '/' || (sl = strchr(url + 1, '/')) == NULL ||
	    sl == url + 1)
		return (0);
	if (strcmp(sl, "/oauth2/token") == 0)
		v = 1;
	else if (strcmp(sl, "/oauth2/v2.0/token") == 0)
		v = 2;
	else
		return (0);
	if (tenant != NULL)
		*tenant = util_strndup(url + 1, (size_t)(sl - url - 1));
	return (v);
}

static const char *
form_get(const cJSON *form, const char *key)
{
	return (sim_claim(form, key));
}

/*
 * The audience a token request asks for: v1 resource= (the App ID URI,
 * a trailing '/' allowed, or the application id), v2 scope= (the same
 * followed by "/.default"); -1 when it names none of ours.
 */
static int
requested_aud(const cJSON *form, int v2)
{
	const char	*v = form_get(form, v2 ? "scope" : "resource");
	size_t		 n;

	if (v == NULL)
		return (-1);
	n = strlen(v);
	if (v2) {
		if (n < 9 || strcmp(v + n - 9, "/.default") != 0)
			return (-1);
		n -= 9;
	} else if (n > 0 && v[n - 1] == '/')
		n--;
	for (int i = 0; i < SIM_AUD_N; i++)
		if ((strlen(sim_auds[i].resource) == n &&
		    strncmp(v, sim_auds[i].resource, n) == 0) ||
		    (strlen(sim_auds[i].appid) == n &&
		    strncmp(v, sim_auds[i].appid, n) == 0))
			return (i);
	return (-1);
}

/* ---- client assertions (certificate and federated credentials) ---- */

#define JWT_BEARER	"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#define FIC_AUDIENCE	"api://AzureADTokenExchange"
#define SKEW		300	/* seconds of clock skew allowed */

static long long
num_claim(const cJSON *o, const char *name)
{
	const cJSON	*v = cJSON_GetObjectItemCaseSensitive(o, name);

	return (cJSON_IsNumber(v) ? (long long)v->valuedouble : -1);
}

/*
 * Remember a certificate assertion's jti until its exp; 0 when it is new,
 * -1 when it was used before (a replay).
 */
static int
jti_use(struct sim *s, const char *jti, long long exp, long long now)
{
	int	 seen = 0;

	pthread_mutex_lock(&s->mtx);
	for (size_t i = 0; i < SIM_JTI_MAX && !seen; i++)
		seen = s->jtis[i].exp >= now &&
		    strcmp(s->jtis[i].jti, jti) == 0;
	if (!seen) {
		snprintf(s->jtis[s->jti_next].jti, sizeof(s->jtis[0].jti),
		    "%s", jti);
		s->jtis[s->jti_next].exp = exp + SKEW;
		s->jti_next = (s->jti_next + 1) % SIM_JTI_MAX;
	}
	pthread_mutex_unlock(&s->mtx);
	return (seen ? -1 : 0);
}

/* Whether aud names this token endpoint (its v1 or v2 URL). */
static int
aud_is_endpoint(const struct sim_req *r, const char *aud)
{
	const char	*host = sim_header(r->c, MHD_HTTP_HEADER_HOST);
	const char	*hosts[] = { "login.microsoftonline.com", host };
	char		 want[512];

	for (size_t h = 0; h < 2 && aud != NULL; h++) {
		if (hosts[h] == NULL)
			continue;
		for (int v = 0; v < 2; v++) {
			snprintf(want, sizeof(want), "https://%s/%s/oauth2/%s"
			    "token", hosts[h], r->tenant, v ? "v2.0/" : "");
			if (strcmp(aud, want) == 0)
				return (1);
		}
	}
	return (0);
}

static void
time7(long long t, char *out, size_t len)
{
	sim_time7(t, 0, out, len);
}

/*
 * Check a client assertion as Entra does: an assertion whose iss is the
 * client id is a certificate credential (registered thumbprint, RS256 or
 * PS256 signature, aud = this token endpoint, exp/nbf, iss = sub, a jti
 * used once); any other iss is a federated credential (iss, sub and aud
 * of the registered federated credential, signature by its key, exp/nbf;
 * a federated token may be exchanged many times, so no jti rule). 0 when
 * it passes; -1 with *ret the error answer.
 */
static int
assertion_check(struct sim *s, struct sim_req *r, enum MHD_Result *ret)
{
	const char	*type = form_get(r->form, "client_assertion_type");
	const char	*tok = form_get(r->form, "client_assertion");
	const char	*alg, *iss, *sub, *aud, *jti, *x5t, *want;
	cJSON		*hdr = NULL, *pl = NULL;
	EVP_PKEY	*key;
	long long	 now = util_now(), exp, nbf;
	char		 t1[40], t2[40], t3[40];
	int		 cert;

	*ret = MHD_NO;
	if (type == NULL || strcmp(type, JWT_BEARER) != 0) {
		*ret = token_error(r, 400, "invalid_request", 50027,
		    "Invalid client_assertion_type '%s'; expected '%s'.",
		    type ? type : "", JWT_BEARER);
		return (-1);
	}
	if (sim_jwt_split(tok, strlen(tok), &hdr, &pl) == -1) {
		*ret = token_error(r, 401, "invalid_client", 50027,
		    "JWT token is invalid or malformed.");
		return (-1);
	}
	alg = sim_claim(hdr, "alg");
	iss = sim_claim(pl, "iss");
	sub = sim_claim(pl, "sub");
	aud = sim_claim(pl, "aud");
	jti = sim_claim(pl, "jti");
	exp = num_claim(pl, "exp");
	nbf = num_claim(pl, "nbf");
	cert = iss != NULL && strcmp(iss, s->client) == 0;
	if (cert) {
		x5t = sim_claim(hdr, "x5t#S256");
		want = s->x5t256;
		if (x5t == NULL) {
			x5t = sim_claim(hdr, "x5t");
			want = s->x5t;
		}
		key = s->cert_key;
		if (key == NULL || x5t == NULL || strcmp(x5t, want) != 0) {
			*ret = token_error(r, 401, "invalid_client", 700027,
			    "The certificate with identifier used to sign the "
			    "client assertion is not registered on application. "
			    "[Reason - The key was not found., Thumbprint of key "
			    "used by client: '%.64s', Please visit the Azure "
			    "Portal, Graph Explorer or directly use MS Graph to "
			    "see configured keys for app Id '%s'.]",
			    x5t ? x5t : "", s->client);
			goto fail;
		}
	} else {
		key = s->fed_key;
		if (key == NULL || iss == NULL || sub == NULL || aud == NULL ||
		    strcmp(iss, s->fed_iss) != 0 ||
		    strcmp(sub, s->fed_sub) != 0 ||
		    strcmp(aud, s->fed_aud) != 0) {
			*ret = token_error(r, 400, "invalid_client", 70021,
			    "No matching federated identity record found for "
			    "presented assertion. Assertion Issuer: '%.200s'. "
			    "Assertion Subject: '%.200s'. Assertion Audience: "
			    "'%.200s'.", iss ? iss : "", sub ? sub : "",
			    aud ? aud : "");
			goto fail;
		}
	}
	if (alg == NULL || !sim_jwt_sig_ok(key, tok, strlen(tok), alg)) {
		*ret = token_error(r, 401, "invalid_client", 700027,
		    "Client assertion failed signature validation. [Reason - "
		    "The provided signature value did not match the expected "
		    "signature value., Thumbprint of key used by client: "
		    "'%.64s', Found key 'Start=..., End=...', alg '%.16s']",
		    cert ? (s->x5t256 ? s->x5t256 : "") : "", alg ? alg : "");
		goto fail;
	}
	if (cert && (sub == NULL || strcmp(sub, iss) != 0)) {
		*ret = token_error(r, 401, "invalid_client", 50048,
		    "Subject mismatches Issuer claim in the client assertion "
		    "for application '%s'.", s->client);
		goto fail;
	}
	if (cert && !aud_is_endpoint(r, aud)) {
		*ret = token_error(r, 401, "invalid_client", 50012,
		    "Client assertion audience claim does not match Realm "
		    "issuer. Review the documentation at "
		    "https://learn.microsoft.com/entra/identity-platform/"
		    "certificate-credentials. Audience: '%.200s'.",
		    aud ? aud : "");
		goto fail;
	}
	if (exp < 0 || exp + SKEW < now || (nbf >= 0 && nbf - SKEW > now)) {
		time7(now, t1, sizeof(t1));
		time7(nbf >= 0 ? nbf : 0, t2, sizeof(t2));
		time7(exp >= 0 ? exp : 0, t3, sizeof(t3));
		*ret = token_error(r, 401, "invalid_client", 700024,
		    "Client assertion is not within its valid time range. "
		    "Current time: %s, assertion valid from %s, expiry time "
		    "of assertion %s.", t1, t2, t3);
		goto fail;
	}
	if (cert && (jti == NULL || *jti == '\0' || strlen(jti) >= 80 ||
	    jti_use(s, jti, exp, now) == -1)) {
		*ret = token_error(r, 401, "invalid_client", 50013,
		    "Assertion is invalid: the client assertion's jti "
		    "'%.80s' is missing or was already used (replayed).",
		    jti ? jti : "");
		goto fail;
	}
	cJSON_Delete(hdr);
	cJSON_Delete(pl);
	return (0);
fail:
	cJSON_Delete(hdr);
	cJSON_Delete(pl);
	return (-1);
}

/* Validate a token request (order as Entra) and issue a token. */
static enum MHD_Result
token_normal(struct sim *s, struct sim_req *r)
{
	const cJSON		*form = r->form;
	const char		*tenant = r->tenant ? r->tenant : "";
	const char		*method = r->method;
	int			 v2 = r->v2;
	const char		*gt, *cid, *sec, *scope, *res;
	char			*tok, n[32], now_s[32], exp_s[32];
	int			 lifetime, aud;
	long long		 now;
	cJSON			*o;
	enum MHD_Result		 ret;

	if (strcmp(method, "POST") != 0)
		return (token_error(r, 400, "invalid_request", 900561,
		    "The endpoint only accepts POST, OPTIONS requests. "
		    "Received a %s request.", method));
	if (r->too_big)
		return (token_error(r, 413, "invalid_request", 90020,
		    "The request body is too large."));
	gt = form_get(form, "grant_type");
	cid = form_get(form, "client_id");
	sec = form_get(form, "client_secret");
	scope = form_get(form, "scope");
	res = form_get(form, "resource");
	aud = requested_aud(form, v2);
	if (gt == NULL || strcmp(gt, "client_credentials") != 0)
		return (token_error(r, 400, "unsupported_grant_type", 70003,
		    "The app requested an unsupported grant type '%s'.",
		    gt ? gt : ""));
	if (strcmp(tenant, s->tenant) != 0)
		return (token_error(r, 400, "invalid_request", 90002,
		    "Tenant '%s' not found. Check to make sure you have the "
		    "correct tenant ID and are signing into the correct cloud. "
		    "Check with your subscription administrator, this may "
		    "happen if there are no active subscriptions for the "
		    "tenant.", tenant));
	if (cid == NULL || strcmp(cid, s->client) != 0)
		return (token_error(r, 400, "unauthorized_client", 700016,
		    "Application with identifier '%s' was not found in the "
		    "directory '%s'. This can happen if the application has "
		    "not been installed by the administrator of the tenant or "
		    "consented to by any user in the tenant. You may have sent "
		    "your authentication request to the wrong tenant.",
		    cid ? cid : "", tenant));
	if (sec == NULL && form_get(form, "client_assertion") == NULL)
		return (token_error(r, 401, "invalid_client", 7000218,
		    "The request body must contain the following parameter: "
		    "'client_assertion' or 'client_secret'."));
	if (sec == NULL && assertion_check(s, r, &ret) == -1)
		return (ret);
	if (sec != NULL && strcmp(sec, s->secret) != 0)
		return (token_error(r, 401, "invalid_client", 7000215,
		    "Invalid client secret provided. Ensure the secret being "
		    "sent in the request is the client secret value, not the "
		    "client secret ID, for a secret added to app '%s'.",
		    s->client));
	if (v2 && res != NULL)
		return (token_error(r, 400, "invalid_request", 901002,
		    "The 'resource' request parameter is not supported."));
	if (v2 && scope == NULL)
		return (token_error(r, 400, "invalid_request", 900144,
		    "The request body must contain the following parameter: "
		    "'scope'."));
	if (v2 && aud < 0)
		return (token_error(r, 400, "invalid_scope", 70011,
		    "The provided request must include a 'scope' input "
		    "parameter. The provided value for the input parameter "
		    "'scope' is not valid. The scope %s is not valid.", scope));
	if (!v2 && aud < 0)
		return (token_error(r, 400, "invalid_resource", 500011,
		    "The resource principal named %s was not found in the "
		    "tenant named %s. This can happen if the application has "
		    "not been installed by the administrator of the tenant or "
		    "consented to by any user in the tenant. You might have "
		    "sent your authentication request to the wrong tenant.",
		    res ? res : "", tenant));

	now = util_now();
	tok = issue_now(s, aud, now, &lifetime);
	if (tok == NULL)
		return (token_error(r, 500, "server_error", 90033,
		    "A transient error has occurred. Please try again."));
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "token_type", "Bearer");
	if (v2) {
		cJSON_AddNumberToObject(o, "expires_in", lifetime);
		cJSON_AddNumberToObject(o, "ext_expires_in", lifetime);
	} else {
		snprintf(n, sizeof(n), "%d", lifetime);
		snprintf(now_s, sizeof(now_s), "%lld", now);
		snprintf(exp_s, sizeof(exp_s), "%lld", now + lifetime);
		cJSON_AddStringToObject(o, "expires_in", n);
		cJSON_AddStringToObject(o, "ext_expires_in", n);
		cJSON_AddStringToObject(o, "expires_on", exp_s);
		cJSON_AddStringToObject(o, "not_before", now_s);
		cJSON_AddStringToObject(o, "resource", sim_auds[aud].resource);
	}
	cJSON_AddStringToObject(o, "access_token", tok);
	util_free_secret(tok);
	if (s->verbose)
		log_info("sim: issued a %s token (%d s)", sim_auds[aud].name,
		    lifetime);
	return (sim_entra_reply(r, 200, sim_print_json(o), -1));
}

/* A token for aud with the current settings, dated now. */
static char *
issue_now(struct sim *s, int aud, long long now, int *lifetime)
{
	char			*roles, *tok;
	int			 version;
	unsigned long long	 serial;

	pthread_mutex_lock(&s->mtx);
	*lifetime = s->lifetime;
	version = s->version;
	roles = s->roles[aud] ? xstrdup(s->roles[aud]) : NULL;
	serial = ++s->serial;
	pthread_mutex_unlock(&s->mtx);
	tok = issue_token(s, now, *lifetime, version, aud, roles, serial);
	free(roles);
	return (tok);
}

char *
sim_token_issue(struct sim *s, int aud, int *lifetime)
{
	return (issue_now(s, aud, util_now(), lifetime));
}

int
sim_entra_path(const char *url)
{
	return (token_path(url, NULL));
}

void
sim_entra_prepare(struct sim *s, struct sim_req *r)
{
	r->v2 = token_path(r->url, &r->tenant) == 2;
	r->form = parse_form(r->body.data ? r->body.data : "", r->body.len);
	r->aud = requested_aud(r->form, r->v2);
}

enum MHD_Result
sim_entra_answer(struct sim *s, struct sim_req *r)
{
	return (token_normal(s, r));
}

/*
 * oauth.c: the OAuth 2.0 client-credentials grant against Entra ID as data.
 * Builds the v1 (resource=) or v2 (scope=) request and parses both answer
 * shapes (expires_in as number or string, expires_on when present) and the
 * error shape (error, error_codes, error_description). Pure; any thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/crypto.h>

#include "buf.h"
#include "config.h"
#include "jwt.h"
#include "oauth.h"
#include "util.h"

#define OAUTH_BODY_MAX	(16 * 1024)

char *
oauth_token_url(const struct gw_config *cf)
{
	struct buf b;

	buf_init(&b, 4096);
	if (buf_printf(&b, "%s/%s/oauth2/%stoken", cf->authority_host,
	    cf->tenant_id, cf->token_version == 1 ? "" : "v2.0/") == -1) {
		buf_free(&b);
		return (NULL);
	}
	return (buf_take(&b, NULL));
}

/* v1 wants the bare App ID URI as resource: drop a "/.default" suffix. */
static char *
v1_resource(const char *scope)
{
	size_t n = strlen(scope), s = strlen("/.default");

	if (n > s && strcmp(scope + n - s, "/.default") == 0)
		n -= s;
	return (util_strndup(scope, n));
}

static int
add_param(struct buf *b, const char *k, const char *v)
{
	char	*e;
	int	 rc;

	if ((e = curl_easy_escape(NULL, v, 0)) == NULL)
		return (-1);
	rc = buf_printf(b, "%s%s=%s", b->len ? "&" : "", k, e);
	OPENSSL_cleanse(e, strlen(e));
	curl_free(e);
	return (rc);
}

char *
oauth_token_body(const struct gw_config *cf, const char *scope, size_t *len)
{
	struct buf	 b;
	char		*res = NULL;
	int		 rc;

	buf_init(&b, OAUTH_BODY_MAX);
	rc = add_param(&b, "grant_type", "client_credentials");
	rc |= add_param(&b, "client_id", cf->client_id);
	if (cf->token_version == 1) {
		if ((res = v1_resource(scope)) == NULL)
			rc = -1;
		else
			rc |= add_param(&b, "resource", res);
		free(res);
	} else
		rc |= add_param(&b, "scope", scope);
	rc |= add_param(&b, "client_secret", cf->client_secret);
	if (rc != 0) {
		buf_wipe(&b);
		return (NULL);
	}
	return (buf_take(&b, len));
}

static void
copy_field(char *dst, size_t dstlen, const char *src, int first_line)
{
	size_t n = 0;

	if (src == NULL) {
		dst[0] = '\0';
		return;
	}
	for (; src[n] && n < dstlen - 1; n++) {
		if (first_line && (src[n] == '\r' || src[n] == '\n'))
			break;
		dst[n] = (unsigned char)src[n] < 0x20 ? ' ' : src[n];
	}
	dst[n] = '\0';
}

static int
num_field(const cJSON *o, const char *name, long long *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	if (cJSON_IsNumber(v)) {
		if (v->valuedouble < -1e12 || v->valuedouble > 1e12)
			return (-1);
		*out = (long long)v->valuedouble;
		return (0);
	}
	if (cJSON_IsString(v) && v->valuestring)
		return (util_parse_ll(v->valuestring, -1000000000000LL,
		    1000000000000LL, out));
	return (-1);
}

static int
fail(struct oauth_error *err, long status, const char *error,
    const char *desc)
{
	copy_field(err->error, sizeof(err->error), error, 1);
	copy_field(err->description, sizeof(err->description), desc, 1);
	err->http_status = status;
	return (-1);
}

int
oauth_parse_response(long status, const char *body, size_t len,
    long long now, struct oauth_token *tok, struct oauth_error *err)
{
	cJSON		*j;
	const cJSON	*at, *tt, *codes, *e;
	long long	 expires_in = -1, expires_on = -1, exp;
	int		 rc = -1;

	memset(tok, 0, sizeof(*tok));
	memset(err, 0, sizeof(*err));
	err->when = now;
	j = body && len ? cJSON_ParseWithLength(body, len) : NULL;
	if (status != 200) {
		char desc[128];

		if (!cJSON_IsObject(j)) {
			snprintf(desc, sizeof(desc), "the token endpoint "
			    "answered HTTP %ld without an OAuth error body",
			    status);
			fail(err, status, "http_error", desc);
			goto out;
		}
		e = cJSON_GetObjectItemCaseSensitive(j, "error");
		fail(err, status, cJSON_IsString(e) ? e->valuestring :
		    "http_error", cJSON_GetStringValue(
		    cJSON_GetObjectItemCaseSensitive(j, "error_description")));
		codes = cJSON_GetObjectItemCaseSensitive(j, "error_codes");
		if (cJSON_IsArray(codes) && cJSON_GetArraySize(codes) > 0 &&
		    cJSON_IsNumber(cJSON_GetArrayItem(codes, 0))) {
			double d = cJSON_GetArrayItem(codes, 0)->valuedouble;

			/* AADSTS codes are small positive integers */
			err->aadsts = d > 0 && d < 1e9 ? (long)d : 0;
		}
		copy_field(err->trace_id, sizeof(err->trace_id),
		    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j,
		    "trace_id")), 1);
		copy_field(err->correlation_id, sizeof(err->correlation_id),
		    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j,
		    "correlation_id")), 1);
		goto out;
	}
	if (!cJSON_IsObject(j)) {
		fail(err, status, "malformed_response", "the token endpoint "
		    "answered 200 with a body that is not a JSON object");
		goto out;
	}
	at = cJSON_GetObjectItemCaseSensitive(j, "access_token");
	if (!cJSON_IsString(at) || at->valuestring[0] == '\0' ||
	    strlen(at->valuestring) > JWT_MAX_LEN) {
		fail(err, status, "malformed_response", "the token endpoint "
		    "answered 200 without a usable access_token");
		goto out;
	}
	tt = cJSON_GetObjectItemCaseSensitive(j, "token_type");
	if (tt != NULL && (!cJSON_IsString(tt) ||
	    strcasecmp(tt->valuestring, "bearer") != 0)) {
		fail(err, status, "malformed_response", "the token endpoint "
		    "answered a token_type other than Bearer");
		goto out;
	}
	if (num_field(j, "expires_in", &expires_in) == -1)
		expires_in = -1;
	if (num_field(j, "expires_on", &expires_on) == -1)
		expires_on = -1;
	if (expires_in < 0 && expires_on < 0) {
		fail(err, status, "malformed_response", "the token endpoint "
		    "answered 200 without expires_in or expires_on");
		goto out;
	}
	/*
	 * expires_on is authoritative when present, but a local clock that
	 * runs behind must not stretch the token past now + expires_in.
	 */
	exp = expires_on >= 0 ? expires_on : now + expires_in;
	if (expires_in >= 0 && exp > now + expires_in)
		exp = now + expires_in;
	if (exp <= now) {
		fail(err, status, "malformed_response", "the token endpoint "
		    "answered a token that has already expired (check the "
		    "system clock)");
		goto out;
	}
	if ((tok->access_token = strdup(at->valuestring)) == NULL) {
		fail(err, status, "out_of_memory", "out of memory");
		goto out;
	}
	tok->len = strlen(tok->access_token);
	tok->expires_at = exp;
	tok->lifetime = exp - now;
	rc = 0;
out:
	/* the parsed tree holds a copy of the token: wipe it */
	if (cJSON_IsObject(j) && (at = cJSON_GetObjectItemCaseSensitive(j,
	    "access_token")) != NULL && cJSON_IsString(at))
		OPENSSL_cleanse(at->valuestring, strlen(at->valuestring));
	cJSON_Delete(j);
	return (rc);
}

void
oauth_token_free(struct oauth_token *t)
{
	if (t == NULL)
		return;
	util_free_secret(t->access_token);
	memset(t, 0, sizeof(*t));
}

static const struct {
	long		 code;
	const char	*hint;
} hints[] = {
	{ 7000215, "wrong secret value: use the secret's Value, not its "
	    "Secret ID (a common mix-up), in client_secret" },
	{ 7000222, "the client secret has expired: create a new secret for "
	    "the app registration and update client_secret" },
	{ 7000218, "no credential was sent: set client_secret or "
	    "client_secret_file" },
	{ 70002, "the client credential does not match the app: check "
	    "client_id and client_secret" },
	{ 700016, "the app is not in this tenant or has no admin consent: "
	    "check tenant_id and client_id, and grant admin consent" },
	{ 700011, "the app is not in this tenant: check tenant_id and "
	    "client_id" },
	{ 7000112, "the application is disabled in the tenant" },
	{ 90002, "tenant not found: check tenant_id, and authority_host for "
	    "government clouds" },
	{ 90038, "the tenant belongs to another national cloud: set "
	    "authority_host for that cloud" },
	{ 500011, "the Defender service principal (Microsoft Threat "
	    "Protection) is missing in the tenant: check scope and grant "
	    "admin consent for the app's API permissions" },
	{ 50001, "the resource does not exist or is disabled: check scope" },
	{ 70011, "invalid scope: use https://api.security.microsoft.com/"
	    ".default" },
	{ 700022, "the scope names more than one resource: use one "
	    "\".../.default\" scope" },
	{ 901002, "the v2 endpoint does not take resource=: use "
	    "token_version = v2 with scope, or v1" },
	{ 9001023, "use your tenant ID, not /common or /consumers" },
	{ 50194, "the app is single-tenant: use your tenant ID, not /common" },
	{ 53003, "blocked by a Conditional Access policy for workload "
	    "identities" },
	{ 90055, "the tenant is being throttled: defgate backs off" },
	{ 50196, "the same token was requested too often: check that only "
	    "one defgate uses this credential" },
};

const char *
oauth_hint(long code)
{
	for (size_t i = 0; i < sizeof(hints) / sizeof(hints[0]); i++)
		if (hints[i].code == code)
			return (hints[i].hint);
	return (NULL);
}

void
oauth_error_describe(const struct oauth_error *e, char *out, size_t outlen)
{
	const char	*hint = e->aadsts ? oauth_hint(e->aadsts) : NULL;
	char		 code[24] = "";

	if (e->aadsts)
		snprintf(code, sizeof(code), " AADSTS%ld", e->aadsts);
	snprintf(out, outlen, "%s%s%s%s%s%s%s", e->error, code,
	    hint ? " - hint: " : "", hint ? hint : "",
	    e->description[0] ? " (" : "", e->description,
	    e->description[0] ? ")" : "");
}

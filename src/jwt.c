/*
 * jwt.c: decode an access token's header and payload for display.
 * The signature is never checked here: Entra tokens for Microsoft APIs are
 * opaque to clients, so nothing in defgate trusts these claims for a
 * security decision; they only explain what the token grants.
 * Pure; any thread. Callers own the claims and free them with
 * jwt_claims_free().
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "jwt.h"

unsigned char *
jwt_b64url_decode(const char *in, size_t inlen, size_t *outlen)
{
	unsigned char	*tmp, *out;
	size_t		 padded = (inlen + 3) / 4 * 4, i;
	int		 n, pad;

	*outlen = 0;
	if (inlen == 0 || inlen > JWT_MAX_LEN || inlen % 4 == 1)
		return (NULL);
	if ((tmp = malloc(padded + 1)) == NULL)
		return (NULL);
	for (i = 0; i < inlen; i++) {
		char c = in[i];

		if (c == '-')
			c = '+';
		else if (c == '_')
			c = '/';
		else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9'))) {
			free(tmp);
			return (NULL);
		}
		tmp[i] = (unsigned char)c;
	}
	pad = (int)(padded - inlen);
	for (; i < padded; i++)
		tmp[i] = '=';
	tmp[padded] = '\0';
	if ((out = malloc(padded / 4 * 3 + 1)) == NULL) {
		free(tmp);
		return (NULL);
	}
	n = EVP_DecodeBlock(out, tmp, (int)padded);
	free(tmp);
	if (n < 0 || n < pad) {
		free(out);
		return (NULL);
	}
	n -= pad;		/* EVP_DecodeBlock counts the padding bytes */
	out[n] = '\0';
	*outlen = (size_t)n;
	return (out);
}

static cJSON *
decode_part(const char *p, size_t n)
{
	unsigned char	*raw;
	size_t		 len;
	cJSON		*j;

	if ((raw = jwt_b64url_decode(p, n, &len)) == NULL)
		return (NULL);
	j = cJSON_ParseWithLength((const char *)raw, len);
	free(raw);
	if (j != NULL && !cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return (NULL);
	}
	return (j);
}

static char *
claim_str(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	if (cJSON_IsString(v) && v->valuestring != NULL)
		return (strdup(v->valuestring));
	return (NULL);
}

static long long
claim_time(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	if (cJSON_IsNumber(v) && v->valuedouble > 0 && v->valuedouble < 1e13)
		return ((long long)v->valuedouble);
	if (cJSON_IsString(v) && v->valuestring)
		return (strtoll(v->valuestring, NULL, 10));
	return (0);
}

int
jwt_decode(const char *tok, size_t len, struct jwt_claims *c,
    const char **err)
{
	const char	*d1, *d2;
	cJSON		*hdr = NULL, *pl = NULL;
	const cJSON	*roles, *r;
	char		*acr;

	memset(c, 0, sizeof(*c));
	*err = NULL;
	if (len == 0 || len > JWT_MAX_LEN) {
		*err = "token is empty or too long";
		return (-1);
	}
	if ((d1 = memchr(tok, '.', len)) == NULL ||
	    (d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - tok))) == NULL) {
		*err = "not a JWT (expected header.payload.signature)";
		return (-1);
	}
	if ((hdr = decode_part(tok, (size_t)(d1 - tok))) == NULL) {
		*err = "JWT header is not base64url JSON";
		return (-1);
	}
	if ((pl = decode_part(d1 + 1, (size_t)(d2 - d1 - 1))) == NULL) {
		cJSON_Delete(hdr);
		*err = "JWT payload is not base64url JSON";
		return (-1);
	}
	c->alg = claim_str(hdr, "alg");
	c->aud = claim_str(pl, "aud");
	c->iss = claim_str(pl, "iss");
	c->tid = claim_str(pl, "tid");
	if ((c->app_id = claim_str(pl, "appid")) == NULL)
		c->app_id = claim_str(pl, "azp");		/* v2 */
	c->app_displayname = claim_str(pl, "app_displayname");
	c->ver = claim_str(pl, "ver");
	c->idtyp = claim_str(pl, "idtyp");
	c->oid = claim_str(pl, "oid");
	if ((acr = claim_str(pl, "appidacr")) == NULL)
		acr = claim_str(pl, "azpacr");			/* v2 */
	if (acr) {
		const char *k = strcmp(acr, "0") == 0 ? "public client" :
		    strcmp(acr, "1") == 0 ? "client secret" :
		    strcmp(acr, "2") == 0 ? "certificate" : acr;

		c->credential = strdup(k);
		free(acr);
	}
	c->iat = claim_time(pl, "iat");
	c->nbf = claim_time(pl, "nbf");
	c->exp = claim_time(pl, "exp");
	roles = cJSON_GetObjectItemCaseSensitive(pl, "roles");
	if (cJSON_IsArray(roles)) {
		c->has_roles = 1;
		cJSON_ArrayForEach(r, roles) {
			if (!cJSON_IsString(r) || c->nroles >= JWT_MAX_ROLES)
				continue;
			if ((c->roles[c->nroles] = strdup(r->valuestring)))
				c->nroles++;
		}
	}
	cJSON_Delete(hdr);
	cJSON_Delete(pl);
	return (0);
}

void
jwt_claims_free(struct jwt_claims *c)
{
	if (c == NULL)
		return;
	free(c->alg);
	free(c->aud);
	free(c->iss);
	free(c->tid);
	free(c->app_id);
	free(c->app_displayname);
	free(c->ver);
	free(c->idtyp);
	free(c->oid);
	free(c->credential);
	for (int i = 0; i < c->nroles; i++)
		free(c->roles[i]);
	memset(c, 0, sizeof(*c));
}

int
jwt_has_role(const struct jwt_claims *c, const char *role)
{
	for (int i = 0; i < c->nroles; i++)
		if (strcasecmp(c->roles[i], role) == 0)
			return (1);
	return (0);
}

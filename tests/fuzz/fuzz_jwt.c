/*
 * fuzz_jwt.c: libFuzzer harness for src/jwt.c (access-token decoding).
 *
 * The token comes from the token endpoint, i.e. from the network. Each
 * input is used three ways:
 *  1. as a raw token: jwt_decode(input) on an exactly-sized copy;
 *  2. as raw base64url: jwt_b64url_decode(input);
 *  3. as JSON, so mutations reach the claim code behind the base64url
 *     layer: the input up to the first NUL is the header JSON and the rest
 *     the payload JSON (no NUL: a fixed RS256 header and the whole input as
 *     payload); the harness encodes them and decodes "h.p.sig".
 * Invariants: nroles <= JWT_MAX_ROLES with every role set; has_roles when
 * nroles > 0; on -1 err is set and the claims are empty; on 0 err is NULL;
 * jwt_has_role() agrees with the roles; b64url output is NUL-terminated and
 * no longer than 3/4 of the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "jwt.h"

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* base64url without padding; writes to out, returns the length. */
static size_t
enc(const uint8_t *in, size_t n, char *out)
{
	size_t o = 0, i;

	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
		    in[i + 2];

		out[o++] = b64url_alphabet[v >> 18 & 63];
		out[o++] = b64url_alphabet[v >> 12 & 63];
		out[o++] = b64url_alphabet[v >> 6 & 63];
		out[o++] = b64url_alphabet[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;

		out[o++] = b64url_alphabet[v >> 18 & 63];
		out[o++] = b64url_alphabet[v >> 12 & 63];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;

		out[o++] = b64url_alphabet[v >> 18 & 63];
		out[o++] = b64url_alphabet[v >> 12 & 63];
		out[o++] = b64url_alphabet[v >> 6 & 63];
	}
	return (o);
}

static void
check_claims(int rc, const struct jwt_claims *c, const char *err)
{
	FUZZ_CHECK(rc == 0 || rc == -1);
	FUZZ_CHECK(c->nroles >= 0 && c->nroles <= JWT_MAX_ROLES);
	if (rc == -1) {
		FUZZ_CHECK(err != NULL && *err != '\0');
		FUZZ_CHECK(c->alg == NULL && c->aud == NULL &&
		    c->app_id == NULL && c->nroles == 0 && c->has_roles == 0);
		return;
	}
	FUZZ_CHECK(err == NULL);
	if (c->nroles > 0)
		FUZZ_CHECK(c->has_roles);
	for (int i = 0; i < c->nroles; i++) {
		FUZZ_CHECK(c->roles[i] != NULL);
		FUZZ_CHECK(jwt_has_role(c, c->roles[i]));
	}
	if (c->nroles == 0)
		FUZZ_CHECK(!jwt_has_role(c, "Incident.Read.All"));
}

static void
decode_token(const char *tok, size_t len)
{
	struct jwt_claims	 c;
	const char		*err = (const char *)"unset";
	int			 rc;

	rc = jwt_decode(tok, len, &c, &err);
	check_claims(rc, &c, err);
	/* the same token must decode the same way twice (no hidden state) */
	{
		struct jwt_claims	 c2;
		const char		*err2;

		FUZZ_CHECK(jwt_decode(tok, len, &c2, &err2) == rc);
		FUZZ_CHECK(c2.nroles == c.nroles && c2.exp == c.exp);
		jwt_claims_free(&c2);
	}
	jwt_claims_free(&c);
	FUZZ_CHECK(c.alg == NULL && c.nroles == 0);
}

static void
decode_b64(const char *in, size_t len)
{
	unsigned char	*out;
	size_t		 outlen = 12345;

	out = jwt_b64url_decode(in, len, &outlen);
	if (out == NULL) {
		FUZZ_CHECK(outlen == 0);
		return;
	}
	FUZZ_CHECK(len > 0 && len <= JWT_MAX_LEN && len % 4 != 1);
	FUZZ_CHECK(outlen == len / 4 * 3 + (len % 4 == 0 ? 0 : len % 4 - 1));
	FUZZ_CHECK(out[outlen] == '\0');
	/*
	 * Round trip: encoding the output gives the input back, except the
	 * unused low bits of a last partial quantum (decoders ignore them).
	 */
	{
		char	*re = malloc(outlen / 3 * 4 + 5);
		size_t	 rl, cmp = len % 4 == 0 ? len : len - 1;

		if (re == NULL)
			abort();
		rl = enc(out, outlen, re);
		FUZZ_CHECK(rl == len && memcmp(re, in, cmp) == 0);
		free(re);
	}
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char	 hdr_fixed[] =
	    "{\"typ\":\"JWT\",\"alg\":\"RS256\",\"kid\":\"fuzz\"}";
	const uint8_t		*nul, *h, *p;
	size_t			 hl, pl, tl;
	char			*raw, *tok;

	if (size > 4 * JWT_MAX_LEN)
		return (0);

	raw = fuzz_dup(data, size);
	decode_token(raw, size);
	decode_b64(raw, size);
	free(raw);

	/* structured: header JSON NUL payload JSON */
	if ((nul = memchr(data, '\0', size)) != NULL) {
		h = data;
		hl = (size_t)(nul - data);
		p = nul + 1;
		pl = size - hl - 1;
	} else {
		h = (const uint8_t *)hdr_fixed;
		hl = sizeof(hdr_fixed) - 1;
		p = data;
		pl = size;
	}
	tl = (hl + 2) / 3 * 4 + 1 + (pl + 2) / 3 * 4 + 1 + 8;
	tok = malloc(tl);
	if (tok == NULL)
		abort();
	tl = enc(h, hl, tok);
	tok[tl++] = '.';
	tl += enc(p, pl, tok + tl);
	memcpy(tok + tl, ".c2lnbg", 7);
	tl += 7;
	raw = fuzz_dup(tok, tl);
	free(tok);
	decode_token(raw, tl);
	free(raw);
	return (0);
}

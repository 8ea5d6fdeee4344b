/*
 * redact.c: see redact.h. Pure; any thread.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "redact.h"

#define REDACT_MIN_SECRET	4	/* shorter "secrets" would eat text */

/*
 * Length of the text at p (n bytes available) that spells secret, each byte
 * either literal, as %XX, or '+' for a space; 0 when it does not match.
 */
static size_t
match_secret(const char *p, size_t n, const char *secret)
{
	size_t i = 0;

	for (; *secret; secret++) {
		unsigned char c = (unsigned char)*secret;
		int hi, lo;

		if (i < n && (unsigned char)p[i] == c)
			i++;
		else if (i < n && p[i] == '+' && c == ' ')
			i++;
		else if (i + 2 < n && p[i] == '%' &&
		    (hi = OPENSSL_hexchar2int((unsigned char)p[i + 1])) >= 0 &&
		    (lo = OPENSSL_hexchar2int((unsigned char)p[i + 2])) >= 0 &&
		    (hi << 4 | lo) == c)
			i += 3;
		else
			return (0);
	}
	return (i);
}

static int
b64url_char(int c)
{
	return (isalnum(c) || c == '-' || c == '_');
}

/* RFC 6750 b64token characters: what a bearer value is made of. */
static int
b64token_char(int c)
{
	return (b64url_char(c) || c == '.' || c == '~' || c == '+' ||
	    c == '/' || c == '=');
}

/* A JWT at p: "eyJ" base64url '.' base64url '.' base64url*; its length. */
static size_t
match_jwt(const char *p, size_t n)
{
	size_t i, dots = 0;

	if (n < 3 || strncmp(p, "eyJ", 3) != 0)
		return (0);
	for (i = 3; i < n; i++) {
		if (p[i] == '.')
			dots++;
		else if (!b64url_char((unsigned char)p[i]))
			break;
	}
	return (dots >= 2 ? i : 0);
}

/* "Bearer x", "client_secret=x" …: the length of the prefix, or 0. */
static size_t
match_prefix(const char *p, size_t n, int *form)
{
	static const char *const fields[] = { "client_secret=",
	    "client_assertion=", "access_token=", "password=",
	    "\"client_secret\":\"", "\"client_assertion\":\"",
	    "\"access_token\":\"" };
	size_t k;

	if (n > 7 && strncasecmp(p, "bearer ", 7) == 0) {
		*form = 0;
		return (7);
	}
	for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
		k = strlen(fields[f]);
		if (n > k && strncasecmp(p, fields[f], k) == 0) {
			*form = 1;
			return (k);
		}
	}
	return (0);
}

static size_t
put(char *out, size_t outlen, size_t o, const char *s, size_t n)
{
	if (o + 1 >= outlen)
		return (o);
	if (n > outlen - 1 - o)
		n = outlen - 1 - o;
	memcpy(out + o, s, n);
	return (o + n);
}

size_t
redact_copy(char *out, size_t outlen, const char *in, size_t inlen,
    const char *const *secrets, size_t nsecrets)
{
	size_t	 i = 0, o = 0, m, k;
	int	 form;

	if (outlen == 0)
		return (0);
	if (nsecrets > REDACT_MAX)
		nsecrets = REDACT_MAX;
	while (i < inlen && o + 1 < outlen) {
		const char	*p = in + i;
		size_t		 n = inlen - i;

		m = 0;
		for (size_t s = 0; s < nsecrets && m == 0; s++)
			if (secrets[s] != NULL &&
			    strlen(secrets[s]) >= REDACT_MIN_SECRET)
				m = match_secret(p, n, secrets[s]);
		if (m == 0)
			m = match_jwt(p, n);
		if (m > 0) {
			o = put(out, outlen, o, REDACT_MARK,
			    strlen(REDACT_MARK));
			i += m;
			continue;
		}
		if ((k = match_prefix(p, n, &form)) > 0) {
			/* keep the name, drop the value up to its end */
			o = put(out, outlen, o, p, k);
			for (m = k; m < n; m++) {
				int c = (unsigned char)p[m];

				if (form ? (c == '&' || c == '"' ||
				    isspace(c)) : !b64token_char(c))
					break;
			}
			if (m > k)
				o = put(out, outlen, o, REDACT_MARK,
				    strlen(REDACT_MARK));
			i += m;
			continue;
		}
		out[o++] = in[i++];
	}
	out[o] = '\0';
	return (o);
}

void
redact_inplace(char *s, size_t cap, const char *const *secrets,
    size_t nsecrets)
{
	char	 tmp[4096];
	size_t	 n = strlen(s);

	if (cap == 0)
		return;
	/* callers' fields are small; longer texts are cut at 4 KiB */
	if (n > sizeof(tmp) - 1)
		n = sizeof(tmp) - 1;
	redact_copy(tmp, sizeof(tmp) < cap ? sizeof(tmp) : cap, s, n,
	    secrets, nsecrets);
	memcpy(s, tmp, strlen(tmp) + 1);
	memset(tmp, 0, sizeof(tmp));
}

void
redact_url_userinfo(char *out, size_t outlen, const char *url)
{
	const char	*scheme = strstr(url, "://"), *auth, *end, *at = NULL;
	size_t		 o = 0;

	if (outlen == 0)
		return;
	auth = scheme ? scheme + 3 : url;
	end = auth + strcspn(auth, "/?#");
	for (const char *p = auth; p < end; p++)
		if (*p == '@')
			at = p;
	o = put(out, outlen, o, url, (size_t)(auth - url));
	if (at != NULL)
		o = put(out, outlen, o, REDACT_MARK "@",
		    strlen(REDACT_MARK) + 1);
	o = put(out, outlen, o, at ? at + 1 : auth,
	    strlen(at ? at + 1 : auth));
	out[o] = '\0';
}

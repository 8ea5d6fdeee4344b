/*
 * fuzz_query.c: libFuzzer harness for the query validator: the input is
 * the raw query a client sends, checked the way defgate sees it, as
 * "GET /incidents?" + input (OData options forwarded as they are) and
 * "GET|POST /hunting?query=" + input (the KQL text, decoded by
 * router_query_param()).
 *
 * Invariants: those of router_check.h; router_query_param() never returns
 * more bytes than the input; and for /hunting it agrees with a reference
 * decoder written here (value up to the first '&', '+' is a space, %XX
 * needs two hex digits, anything else is NULL).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "router.h"
#include "router_check.h"

static int
hexv(int c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

/* Reference decoder of the first parameter's value; -1 when malformed. */
static long
ref_decode(const char *v, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n && v[i] != '&'; i++) {
		if (v[i] == '+')
			out[o++] = ' ';
		else if (v[i] == '%') {
			int hi, lo;

			if (i + 2 >= n || (hi = hexv((unsigned char)v[i + 1]))
			    < 0 || (lo = hexv((unsigned char)v[i + 2])) < 0)
				return (-1);
			/* an escape may not straddle the '&' either */
			if (v[i + 1] == '&' || v[i + 2] == '&')
				return (-1);
			out[o++] = (char)(hi * 16 + lo);
			i += 2;
		} else
			out[o++] = v[i];
	}
	return ((long)o);
}

static char *
concat(const char *prefix, const char *s)
{
	size_t	 pl = strlen(prefix), sl = strlen(s);
	char	*u = malloc(pl + sl + 1);

	if (u == NULL)
		abort();
	memcpy(u, prefix, pl);
	memcpy(u + pl, s, sl + 1);
	return (u);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct route_match	 m;
	enum router_result	 r;
	char			*in, *uri, *v, *ref;
	size_t			 inlen, outlen;
	long			 rl;

	in = fuzz_strdup(data, size);
	inlen = strlen(in);

	/* GET /incidents?<input> */
	uri = concat("/incidents?", in);
	r = router_match("GET", uri, &m);
	router_check("GET", uri, r, &m);
	if (m.query != NULL) {
		FUZZ_CHECK(m.querylen == inlen);
		query_param_check(m.query, m.querylen, "$top");
		query_param_check(m.query, m.querylen, "$filter");
		query_param_check(m.query, m.querylen, "query");
	}
	free(uri);

	/* POST (odd length) or GET /hunting?query=<input> */
	uri = concat("/hunting?query=", in);
	r = router_match(inlen % 2 ? "POST" : "GET", uri, &m);
	router_check(inlen % 2 ? "POST" : "GET", uri, r, &m);
	FUZZ_CHECK(m.query != NULL);
	if (r == ROUTER_OK) {
		v = router_query_param(m.query, m.querylen, "query", &outlen);
		ref = malloc(inlen + 1);
		if (ref == NULL)
			abort();
		rl = ref_decode(in, inlen, ref);
		if (v == NULL) {
			FUZZ_CHECK(rl == -1);
		} else {
			FUZZ_CHECK(outlen <= inlen);
			FUZZ_CHECK(v[outlen] == '\0');
			FUZZ_CHECK(rl == (long)outlen);
			FUZZ_CHECK(memcmp(v, ref, outlen) == 0);
		}
		free(ref);
		free(v);
	}
	free(uri);

	/* the input as a bare query, in an exactly-sized buffer */
	uri = fuzz_dup(data, size);
	query_param_check(uri, size, "query");
	query_param_check(uri, size, "$top");
	free(uri);
	free(in);
	return (0);
}

/*
 * test_jwt.c: decoding (never verifying) Entra access tokens for display
 * (src/jwt.c): v1 and v2 claim names, roles, times, malformed input.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "jwt.h"
#include "tap.h"

#define TID	"11111111-2222-3333-4444-555555555555"
#define APPID	"aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"

/* base64url without padding, malloc'd */
static char *
b64url(const void *in, size_t len)
{
	char	*out = malloc(4 * ((len + 2) / 3) + 1);
	int	 n;

	if (out == NULL)
		abort();
	n = EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	while (n > 0 && out[n - 1] == '=')
		n--;
	out[n] = '\0';
	for (char *p = out; *p; p++) {
		if (*p == '+')
			*p = '-';
		else if (*p == '/')
			*p = '_';
	}
	return (out);
}

/* header.payload.signature from two JSON texts, malloc'd */
static char *
make_token(const char *header, const char *payload)
{
	char	*h = b64url(header, strlen(header));
	char	*p = b64url(payload, strlen(payload));
	size_t	 n = strlen(h) + strlen(p) + 32;
	char	*t = malloc(n);

	if (t == NULL)
		abort();
	snprintf(t, n, "%s.%s.c2lnbmF0dXJlLW5vdC1jaGVja2Vk", h, p);
	free(h);
	free(p);
	return (t);
}

static const char *const HDR =
    "{\"typ\":\"JWT\",\"alg\":\"RS256\",\"x5t\":\"abc\",\"kid\":\"abc\"}";

static void
test_v1(void)
{
	struct jwt_claims c;
	const char	*err = "unset";
	char		*t;

	t = make_token(HDR,
	    "{\"aud\":\"https://api.security.microsoft.com\","
	    "\"iss\":\"https://sts.windows.net/" TID "/\","
	    "\"iat\":1700000000,\"nbf\":1700000000,\"exp\":1700003599,"
	    "\"aio\":\"x\",\"app_displayname\":\"defgate-prod\","
	    "\"appid\":\"" APPID "\",\"appidacr\":\"1\","
	    "\"idp\":\"https://sts.windows.net/" TID "/\","
	    "\"idtyp\":\"app\",\"oid\":\"99999999-0000-0000-0000-000000000000\","
	    "\"rh\":\"0.x\",\"roles\":[\"Incident.Read.All\","
	    "\"AdvancedHunting.Read.All\",\"Incident.ReadWrite.All\"],"
	    "\"sub\":\"s\",\"tid\":\"" TID "\",\"uti\":\"u\",\"ver\":\"1.0\"}");
	is_int(jwt_decode(t, strlen(t), &c, &err), 0, "v1 token decodes");
	ok(err == NULL, "v1: err cleared");
	is_str(c.alg, "RS256", "v1 alg from the header");
	is_str(c.aud, "https://api.security.microsoft.com", "v1 aud");
	is_str(c.iss, "https://sts.windows.net/" TID "/", "v1 iss");
	is_str(c.tid, TID, "v1 tid");
	is_str(c.app_id, APPID, "v1 appid -> app_id");
	is_str(c.app_displayname, "defgate-prod", "app_displayname");
	is_str(c.ver, "1.0", "v1 ver");
	is_str(c.idtyp, "app", "idtyp");
	is_str(c.oid, "99999999-0000-0000-0000-000000000000", "oid");
	is_str(c.credential, "client secret", "appidacr 1 -> client secret");
	is_int(c.iat, 1700000000, "iat");
	is_int(c.nbf, 1700000000, "nbf");
	is_int(c.exp, 1700003599, "exp");
	is_int(c.has_roles, 1, "v1 has roles");
	is_int(c.nroles, 3, "v1 three roles");
	is_str(c.roles[0], "Incident.Read.All", "role 0");
	is_str(c.roles[1], "AdvancedHunting.Read.All", "role 1");
	is_str(c.roles[2], "Incident.ReadWrite.All", "role 2");
	is_int(jwt_has_role(&c, "Incident.Read.All"), 1, "has Incident.Read.All");
	is_int(jwt_has_role(&c, "incident.read.all"), 1,
	    "has_role is case-insensitive (lower)");
	is_int(jwt_has_role(&c, "ADVANCEDHUNTING.READ.ALL"), 1,
	    "has_role is case-insensitive (upper)");
	is_int(jwt_has_role(&c, "Incidents.Read.All"), 0,
	    "plural name is a different role");
	is_int(jwt_has_role(&c, "Incident.Read"), 0, "prefix is not a role");
	is_int(jwt_has_role(&c, ""), 0, "empty role name");
	jwt_claims_free(&c);
	ok(c.alg == NULL && c.nroles == 0 && c.has_roles == 0,
	    "claims_free resets the struct");
	jwt_claims_free(&c);
	jwt_claims_free(NULL);
	ok(1, "claims_free twice and on NULL is harmless");
	free(t);
}

static void
test_v2(void)
{
	struct jwt_claims c;
	const char	*err;
	char		*t;

	t = make_token("{\"typ\":\"JWT\",\"alg\":\"RS256\",\"kid\":\"k\"}",
	    "{\"aud\":\"8ee8fdad-f234-4243-8f3b-15c294843740\","
	    "\"iss\":\"https://login.microsoftonline.com/" TID "/v2.0\","
	    "\"iat\":1700000000,\"nbf\":1700000000,\"exp\":1700003599,"
	    "\"azp\":\"" APPID "\",\"azpacr\":\"2\","
	    "\"roles\":[\"AdvancedHunting.Read.All\"],"
	    "\"tid\":\"" TID "\",\"ver\":\"2.0\"}");
	is_int(jwt_decode(t, strlen(t), &c, &err), 0, "v2 token decodes");
	is_str(c.app_id, APPID, "v2 azp -> app_id");
	is_str(c.credential, "certificate", "azpacr 2 -> certificate");
	is_str(c.ver, "2.0", "v2 ver");
	is_str(c.iss, "https://login.microsoftonline.com/" TID "/v2.0",
	    "v2 iss");
	is_str(c.aud, "8ee8fdad-f234-4243-8f3b-15c294843740", "v2 aud GUID");
	ok(c.app_displayname == NULL && c.idtyp == NULL && c.oid == NULL,
	    "absent claims are NULL");
	is_int(c.nroles, 1, "v2 one role");
	is_int(jwt_has_role(&c, "AdvancedHunting.Read.All"), 1, "v2 has role");
	is_int(jwt_has_role(&c, "Incident.Read.All"), 0, "v2 lacks role");
	jwt_claims_free(&c);
	free(t);

	/* appid wins over azp; other acr values */
	t = make_token(HDR, "{\"appid\":\"v1-id\",\"azp\":\"v2-id\","
	    "\"appidacr\":\"0\"}");
	is_int(jwt_decode(t, strlen(t), &c, &err), 0, "mixed token decodes");
	is_str(c.app_id, "v1-id", "appid preferred over azp");
	is_str(c.credential, "public client", "acr 0 -> public client");
	jwt_claims_free(&c);
	free(t);
	t = make_token(HDR, "{\"azpacr\":\"7\"}");
	is_int(jwt_decode(t, strlen(t), &c, &err), 0, "unknown acr decodes");
	is_str(c.credential, "7", "unknown acr shown as is");
	ok(c.app_id == NULL, "no app id claim -> NULL");
	jwt_claims_free(&c);
	free(t);
}

static void
test_roles_and_times(void)
{
	struct jwt_claims c;
	const char	*err;
	char		*t;

	t = make_token(HDR, "{\"appid\":\"x\",\"exp\":1700003599}");
	is_int(jwt_decode(t, strlen(t), &c, &err), 0, "no roles claim decodes");
	is_int(c.has_roles, 0, "no roles claim -> has_roles 0");
	is_int(c.nroles, 0, "no roles claim -> nroles 0");
	is_int(jwt_has_role(&c, "Incident.Read.All"), 0, "no roles: no role");
	jwt_claims_free(&c);
	free(t);

	t = make_token(HDR, "{\"roles\":[]}");
	is_int(jwt_decode(t, strlen(t), &c, &err), 0, "empty roles decodes");
	is_int(c.has_roles, 1, "empty roles -> has_roles 1");
	is_int(c.nroles, 0, "empty roles -> nroles 0");
	jwt_claims_free(&c);
	free(t);

	t = make_token(HDR, "{\"roles\":\"Incident.Read.All\"}");
	is_int(jwt_decode(t, strlen(t), &c, &err), 0, "string roles decodes");
	is_int(c.has_roles, 0, "roles not an array -> not counted");
	is_int(c.nroles, 0, "roles not an array -> nroles 0");
	jwt_claims_free(&c);
	free(t);

	t = make_token(HDR, "{\"roles\":[\"A\",1,null,{\"x\":1},\"B\"]}");
	is_int(jwt_decode(t, strlen(t), &c, &err), 0, "mixed roles decodes");
	is_int(c.nroles, 2, "only string roles kept");
	is_str(c.roles[0], "A", "first string role");
	is_str(c.roles[1], "B", "second string role");
	jwt_claims_free(&c);
	free(t);

	{
		/* more roles than JWT_MAX_ROLES: capped, no overflow */
		char	 pl[4096] = "{\"roles\":[";
		size_t	 n = strlen(pl);

		for (int i = 0; i < JWT_MAX_ROLES + 10; i++)
			n += (size_t)snprintf(pl + n, sizeof(pl) - n,
			    "%s\"Role.%d\"", i ? "," : "", i);
		snprintf(pl + n, sizeof(pl) - n, "]}");
		t = make_token(HDR, pl);
		is_int(jwt_decode(t, strlen(t), &c, &err), 0, "many roles");
		is_int(c.nroles, JWT_MAX_ROLES, "roles capped at JWT_MAX_ROLES");
		is_str(c.roles[JWT_MAX_ROLES - 1], "Role.63", "last kept role");
		jwt_claims_free(&c);
		free(t);
	}

	t = make_token(HDR, "{\"exp\":\"1700003599\",\"iat\":\"1700000000\","
	    "\"nbf\":1.7e9}");
	is_int(jwt_decode(t, strlen(t), &c, &err), 0, "string times decode");
	is_int(c.exp, 1700003599, "string exp");
	is_int(c.iat, 1700000000, "string iat");
	is_int(c.nbf, 1700000000, "exponent-form nbf");
	jwt_claims_free(&c);
	free(t);

	t = make_token(HDR, "{\"exp\":-5,\"iat\":true,\"nbf\":1e300}");
	is_int(jwt_decode(t, strlen(t), &c, &err), 0, "odd times decode");
	is_int(c.exp, 0, "negative exp -> 0");
	is_int(c.iat, 0, "boolean iat -> 0");
	is_int(c.nbf, 0, "absurd nbf -> 0 (no overflow)");
	jwt_claims_free(&c);
	free(t);

	/* non-ASCII and escaped strings survive */
	t = make_token(HDR, "{\"app_displayname\":\"d\\u00e9fgate \\\"x\\\"\"}");
	is_int(jwt_decode(t, strlen(t), &c, &err), 0, "escaped strings decode");
	is_str(c.app_displayname, "d\xc3\xa9" "fgate \"x\"",
	    "JSON escapes decoded");
	jwt_claims_free(&c);
	free(t);

	/* a token with only two parts and an empty signature is fine */
	{
		char *h = b64url(HDR, strlen(HDR)), *p = b64url("{}", 2);
		char  buf[512];

		snprintf(buf, sizeof(buf), "%s.%s.", h, p);
		is_int(jwt_decode(buf, strlen(buf), &c, &err), 0,
		    "empty signature part accepted (never verified)");
		jwt_claims_free(&c);
		/* len bounds the token: trailing garbage beyond len ignored */
		snprintf(buf, sizeof(buf), "%s.%s.sig\x01garbage", h, p);
		is_int(jwt_decode(buf, strlen(h) + strlen(p) + 6, &c, &err), 0,
		    "token bounded by len");
		jwt_claims_free(&c);
		free(h);
		free(p);
	}
}

static void
expect_bad(const char *tok, size_t len, const char *name)
{
	struct jwt_claims c;
	const char	*err = NULL;
	char		 n2[160];

	memset(&c, 0x5a, sizeof(c));	/* garbage in: must be cleared */
	is_int(jwt_decode(tok, len, &c, &err), -1, name);
	snprintf(n2, sizeof(n2), "%s: err set", name);
	ok(err != NULL && *err != '\0', "%s", n2);
	snprintf(n2, sizeof(n2), "%s: claims left empty", name);
	ok(c.alg == NULL && c.aud == NULL && c.app_id == NULL &&
	    c.nroles == 0 && c.has_roles == 0, "%s", n2);
	jwt_claims_free(&c);		/* must be safe after a failure */
}

static void
test_malformed(void)
{
	char	*h = b64url(HDR, strlen(HDR));
	char	*arr = b64url("[1,2,3]", 7);
	char	*notjson = b64url("not json at all", 15);
	char	*str = b64url("\"a string\"", 10);
	char	*good = b64url("{\"appid\":\"x\"}", 13);
	char	 buf[1024], *huge;

	expect_bad("", 0, "empty token");
	expect_bad("abc", 3, "no dots");
	snprintf(buf, sizeof(buf), "%s.%s", h, good);
	expect_bad(buf, strlen(buf), "one dot");
	snprintf(buf, sizeof(buf), "%s.%s.sig", h, notjson);
	expect_bad(buf, strlen(buf), "payload not JSON");
	snprintf(buf, sizeof(buf), "%s.%s.sig", h, arr);
	expect_bad(buf, strlen(buf), "payload a JSON array");
	snprintf(buf, sizeof(buf), "%s.%s.sig", h, str);
	expect_bad(buf, strlen(buf), "payload a JSON string");
	snprintf(buf, sizeof(buf), "%s.%s.sig", arr, good);
	expect_bad(buf, strlen(buf), "header a JSON array");
	snprintf(buf, sizeof(buf), "%s.%s.sig", notjson, good);
	expect_bad(buf, strlen(buf), "header not JSON");
	snprintf(buf, sizeof(buf), "%s.%s!.sig", h, good);
	expect_bad(buf, strlen(buf), "bad base64 char in payload");
	snprintf(buf, sizeof(buf), "%s.%s=.sig", h, good);
	expect_bad(buf, strlen(buf), "padding char in payload");
	snprintf(buf, sizeof(buf), "%s+.%s.sig", h, good);
	expect_bad(buf, strlen(buf), "standard alphabet '+' in header");
	snprintf(buf, sizeof(buf), "%s.A.sig", h);
	expect_bad(buf, strlen(buf), "payload of one base64 char");
	snprintf(buf, sizeof(buf), ".%s.sig", good);
	expect_bad(buf, strlen(buf), "empty header");
	snprintf(buf, sizeof(buf), "%s..sig", h);
	expect_bad(buf, strlen(buf), "empty payload");
	expect_bad("..", 2, "only dots");
	snprintf(buf, sizeof(buf), "Bearer %s.%s.sig", h, good);
	expect_bad(buf, strlen(buf), "a 'Bearer ' prefix is not a token");

	/* over JWT_MAX_LEN */
	huge = malloc(JWT_MAX_LEN + 100);
	snprintf(huge, JWT_MAX_LEN + 100, "%s.%s.", h, good);
	memset(huge + strlen(huge), 'A', JWT_MAX_LEN + 99 - strlen(huge));
	huge[JWT_MAX_LEN + 99] = '\0';
	expect_bad(huge, JWT_MAX_LEN + 1, "JWT_MAX_LEN + 1 bytes");
	expect_bad(huge, JWT_MAX_LEN + 99, "well over JWT_MAX_LEN");
	{
		struct jwt_claims c;
		const char	*err;

		is_int(jwt_decode(huge, JWT_MAX_LEN, &c, &err), 0,
		    "exactly JWT_MAX_LEN bytes accepted");
		is_str(c.app_id, "x", "long token decoded");
		jwt_claims_free(&c);
	}
	free(huge);
	free(h);
	free(arr);
	free(notjson);
	free(str);
	free(good);
}

static void
test_b64url(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "YWJj", "abc" },		/* no padding needed */
		{ "YWJjZA", "abcd" },		/* two '=' dropped */
		{ "YWJjZGU", "abcde" },		/* one '=' dropped */
		{ "YQ", "a" },
		{ "YWI", "ab" },
		{ "eyJhIjoxfQ", "{\"a\":1}" },
	};
	unsigned char	*d;
	size_t		 n;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char name[64];

		d = jwt_b64url_decode(cases[i].in, strlen(cases[i].in), &n);
		snprintf(name, sizeof(name), "decode %s", cases[i].in);
		is_str((char *)d, cases[i].out, name);
		snprintf(name, sizeof(name), "decode %s length", cases[i].in);
		is_int(n, strlen(cases[i].out), name);
		free(d);
	}

	/* url alphabet: 0xfb 0xff 0xbf encodes to "-_-_" */
	d = jwt_b64url_decode("-_-_", 4, &n);
	ok(d != NULL && n == 3 && d[0] == 0xfb && d[1] == 0xff &&
	    d[2] == 0xbf, "'-' and '_' decode to 62 and 63");
	free(d);
	{
		unsigned char bin[] = { 0x00, 0xff, 0xfe, 0x00, 0x3e };
		char *e = b64url(bin, sizeof(bin));

		d = jwt_b64url_decode(e, strlen(e), &n);
		ok(d != NULL && n == sizeof(bin) && memcmp(d, bin, n) == 0,
		    "binary with NULs round-trips");
		ok(d != NULL && d[n] == '\0', "output NUL-terminated");
		free(d);
		free(e);
	}
	{
		static const char *const bad[] = { "YWJj=", "YW==", "YWJ=",
		    "YW+j", "YW/j", "YW j", "YW.j", "YWJjZ", "A", "YW\nJj" };

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			n = 99;
			d = jwt_b64url_decode(bad[i], strlen(bad[i]), &n);
			ok(d == NULL, "invalid base64url %zu refused", i);
			is_int(n, 0, "invalid input: outlen 0");
			free(d);
		}
	}
	n = 99;
	d = jwt_b64url_decode("", 0, &n);
	ok(d == NULL && n == 0, "empty input -> NULL");
	free(d);
	d = jwt_b64url_decode("YWJjZGVm", 4, &n);
	is_str((char *)d, "abc", "inlen bounds the input");
	free(d);
}

int
main(void)
{
	plan_lazy();
	test_v1();
	test_v2();
	test_roles_and_times();
	test_malformed();
	test_b64url();
	return (done_testing());
}

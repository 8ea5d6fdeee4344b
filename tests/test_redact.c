/*
 * test_redact.c: src/redact.c: secrets in plain and URL-encoded form, JWTs,
 * bearer values and credential form fields never survive; other text does.
 */
#include <string.h>

#include "redact.h"
#include "tap.h"

#define JWT	"eyJhbGciOiJQUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"

static const char *
r(const char *in, const char *secret)
{
	static char	 out[1024];
	const char	*s[1] = { secret };

	redact_copy(out, sizeof(out), in, strlen(in), s, secret ? 1 : 0);
	return (out);
}

int
main(void)
{
	char	 small[8], buf[64];
	const char *two[2] = { "first-secret", "second secret/+" };

	plan_lazy();
	is_str(r("AADSTS7000215: bad secret My~Secret.Val!ue here",
	    "My~Secret.Val!ue"),
	    "AADSTS7000215: bad secret " REDACT_MARK " here",
	    "plain secret redacted, the rest kept");
	is_str(r("body=a%20b%2Fc%2bd", "a b/c+d"), "body=" REDACT_MARK,
	    "URL-encoded secret (mixed hex case) redacted");
	is_str(r("q=a+b", "a b"), "q=a+b", "secrets shorter than 4 bytes are "
	    "not matched (would eat text)");
	is_str(r("q=abc+def", "abc def"), "q=" REDACT_MARK,
	    "'+' for a space matches");
	is_str(r("grant_type=client_credentials&client_secret=unknownvalue&"
	    "scope=x", NULL), "grant_type=client_credentials&client_secret="
	    REDACT_MARK "&scope=x", "client_secret= value redacted without "
	    "knowing it");
	is_str(r("client_assertion=" JWT "&x=1", NULL),
	    "client_assertion=" REDACT_MARK "&x=1", "client_assertion value "
	    "redacted");
	is_str(r("echo: Authorization: Bearer abc.def-ghi~ tail", NULL),
	    "echo: Authorization: Bearer " REDACT_MARK " tail",
	    "Bearer value redacted");
	is_str(r("token " JWT " end", NULL), "token " REDACT_MARK " end",
	    "a bare JWT redacted");
	is_str(r("{\"access_token\":\"opaque-token\",\"x\":1}", NULL),
	    "{\"access_token\":\"" REDACT_MARK "\",\"x\":1}",
	    "a JSON access_token value redacted");
	is_str(r("eyJ is just text, eyJhbGc.x too", NULL),
	    "eyJ is just text, eyJhbGc.x too", "text that is not a JWT kept");
	redact_copy(buf, sizeof(buf), "a first-secret b second%20secret%2F%2B"
	    " c", 40, two, 2);
	is_str(buf, "a " REDACT_MARK " b " REDACT_MARK " c",
	    "several secrets in one text");
	redact_copy(small, sizeof(small), "0123456789", 10, NULL, 0);
	is_str(small, "0123456", "output is cut to its buffer, NUL-terminated");
	redact_copy(small, sizeof(small), "x " JWT, strlen(JWT) + 2, NULL, 0);
	unlike(small, "eyJhbG", "a cut mark never leaves a prefix of the JWT");
	snprintf(buf, sizeof(buf), "x first-secret y");
	redact_inplace(buf, sizeof(buf), two, 2);
	is_str(buf, "x " REDACT_MARK " y", "in place");
	redact_url_userinfo(buf, sizeof(buf), "http://user:p%40ss@proxy:3128");
	is_str(buf, "http://" REDACT_MARK "@proxy:3128",
	    "proxy credentials dropped");
	redact_url_userinfo(buf, sizeof(buf), "http://proxy:3128/x@y");
	is_str(buf, "http://proxy:3128/x@y", "an @ after the authority kept");
	return (done_testing());
}

/*
 * fuzz_oauth.c: libFuzzer harness for oauth_parse_response() (src/oauth.c),
 * the parser of the token endpoint's answers.
 *
 * Input: 2 bytes choosing the HTTP status, then the body. v = b0 << 8 | b1;
 * v % 8 picks 200, 400, 401, 403, 429, 500, 503, or (7) v % 1000. With ASCII
 * digits as prefix: "00" is 200, "01" 400, "02" 401, "03" 403, "04" 429,
 * "05" 500, "06" 503, "07" 343 (so seed files stay readable).
 * Invariants: on 0 the token is non-empty, len == strlen, expires_at > now
 * and lifetime == expires_at - now (at most OAUTH_MAX_LIFETIME), the token
 * is an RFC 6750 b64token; on -1 no token, http_status is the
 * status, every error field is NUL-terminated and free of control bytes
 * (they reach logs and the status page); the body is left unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "oauth.h"

#define NOW	1767225600LL	/* 2026-01-01T00:00:00Z */

static void
check_text(const char *s, size_t n)
{
	FUZZ_CHECK(fuzz_terminated(s, n));
	for (; *s; s++)
		FUZZ_CHECK((unsigned char)*s >= 0x20);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long	 statuses[] = { 200, 400, 401, 403, 429, 500,
	    503, -1 };
	struct oauth_token	 tok;
	struct oauth_error	 err;
	unsigned		 v;
	long			 status;
	char			*body;
	int			 rc;

	if (size < 2)
		return (0);
	v = (unsigned)data[0] << 8 | data[1];
	status = statuses[v % 8];
	if (status == -1)
		status = (long)(v % 1000);
	body = fuzz_dup(data + 2, size - 2);	/* not NUL-terminated */

	memset(&tok, 0xa5, sizeof(tok));
	memset(&err, 0xa5, sizeof(err));
	rc = oauth_parse_response(status, body, size - 2, NOW, &tok, &err);
	FUZZ_CHECK(rc == 0 || rc == -1);
	if (rc == 0) {
		FUZZ_CHECK(status == 200);
		FUZZ_CHECK(tok.access_token != NULL);
		FUZZ_CHECK(tok.access_token[0] != '\0');
		FUZZ_CHECK(tok.len == strlen(tok.access_token));
		FUZZ_CHECK(tok.expires_at > NOW);
		FUZZ_CHECK(tok.lifetime == tok.expires_at - NOW);
		FUZZ_CHECK(tok.lifetime > 0);
		/* a token goes into a header line, so only b64token characters;
		 * and Entra issues at most about a day: a longer lifetime is cut */
		FUZZ_CHECK(oauth_token_chars_ok(tok.access_token, tok.len));
		FUZZ_CHECK(tok.lifetime <= OAUTH_MAX_LIFETIME);
	} else {
		FUZZ_CHECK(tok.access_token == NULL && tok.len == 0);
		FUZZ_CHECK(err.http_status == status);
		FUZZ_CHECK(err.when == NOW);
		FUZZ_CHECK(err.retry_after >= 0);
		check_text(err.error, sizeof(err.error));
		check_text(err.description, sizeof(err.description));
		check_text(err.trace_id, sizeof(err.trace_id));
		check_text(err.correlation_id, sizeof(err.correlation_id));
	}
	oauth_token_free(&tok);
	FUZZ_CHECK(tok.access_token == NULL);
	/* the parser must not change the body it was given */
	FUZZ_CHECK(memcmp(body, data + 2, size - 2) == 0);
	free(body);
	return (0);
}

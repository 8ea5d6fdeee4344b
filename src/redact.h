/*
 * redact.c: remove secrets from text that came from outside (a token
 * endpoint's error, an API's 403 body, a curl error) before it reaches a
 * log line, the status page or an error body.
 *
 * Always removed: JWT-shaped strings ("eyJ….….…": bearer tokens, client
 * assertions, federated tokens), the value after "Bearer ", and the values
 * of the form fields client_secret, client_assertion, access_token and
 * password. Removed when given: each listed secret, matched in plain form
 * and URL-encoded (any %XX case, '+' for space, mixed).
 *
 * Pure: no allocation, no global state; any thread. The caller owns both
 * buffers.
 */
#ifndef DEFGATE_REDACT_H
#define DEFGATE_REDACT_H

#include <stddef.h>

#define REDACT_MARK	"[redacted]"
#define REDACT_MAX	8		/* secrets per call */

/*
 * Copy in[0..inlen) to out (outlen > 0, always NUL-terminated, truncated
 * when short) with every secret replaced by REDACT_MARK. secrets may hold
 * NULL or "" entries, which are skipped; at most REDACT_MAX are used.
 * Returns the length written.
 */
size_t	 redact_copy(char *out, size_t outlen, const char *in, size_t inlen,
	    const char *const *secrets, size_t nsecrets);
/* The same in place on a NUL-terminated string of capacity cap. */
void	 redact_inplace(char *s, size_t cap, const char *const *secrets,
	    size_t nsecrets);
/*
 * A URL shown without its user:password@ part (proxy URLs): copies url to
 * out, dropping everything between "://" and the last '@' of the
 * authority.
 */
void	 redact_url_userinfo(char *out, size_t outlen, const char *url);

#endif

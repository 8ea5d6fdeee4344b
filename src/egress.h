/*
 * egress.c: the egress proxy (proxy key, HTTPS_PROXY / NO_PROXY) for token
 * and API transfers, and how its failures are worded. TLS is verified end
 * to end through the CONNECT tunnel; the proxy's user:password is used by
 * curl but never shown (redact_url_userinfo). Managed-identity endpoints
 * are always reached directly. Any thread, on handles it owns.
 */
#ifndef DEFGATE_EGRESS_H
#define DEFGATE_EGRESS_H

#include <stddef.h>

#include <curl/curl.h>

struct buf;
struct gw_config;

/* Config check of a proxy URL: -1 with one line in errs. */
int	 egress_check(const char *proxy, struct buf *errs);
/* Proxy settings on an easy handle; direct = 1 bypasses any proxy. */
void	 egress_apply(const struct gw_config *, CURL *, int direct);
/* The proxy URL without credentials, or "" when there is none. */
void	 egress_display(const struct gw_config *, char *out, size_t outlen);
/*
 * When res on handle e was the proxy's fault (unreachable, refused the
 * CONNECT, wants authentication), a sentence naming the proxy in out and
 * 1; else 0.
 */
int	 egress_error(const struct gw_config *, CURL *e, CURLcode res,
	    char *out, size_t outlen);

#endif

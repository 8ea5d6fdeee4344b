/*
 * oauth.c: the client-credentials grant as data: building the token request
 * and parsing Entra's v1 and v2 answers and errors. Pure; any thread.
 */
#ifndef DEFGATE_OAUTH_H
#define DEFGATE_OAUTH_H

#include <stddef.h>

struct gw_config;

struct oauth_token {
	char		*access_token;	/* secret: wipe with oauth_token_free */
	size_t		 len;
	long long	 expires_at;	/* unix seconds */
	long long	 lifetime;	/* seconds from issue to expiry */
};

struct oauth_error {
	char		 error[64];	/* OAuth error class or gateway reason */
	long		 aadsts;	/* first of error_codes, 0 if none */
	char		 description[384];	/* first line of error_description */
	char		 trace_id[64];
	char		 correlation_id[64];
	long		 http_status;	/* 0 when no HTTP answer */
	long		 retry_after;	/* seconds, 0 if none */
	long long	 when;		/* unix seconds */
};

/* The token endpoint for the configured version. malloc'd. */
char		*oauth_token_url(const struct gw_config *);
/* The form body for one audience's scope (v2 "scope=", v1 "resource=" is
 * the scope without "/.default"); contains the secret: free with
 * util_free_secret(). */
char		*oauth_token_body(const struct gw_config *, const char *scope,
		    size_t *len);
/*
 * Parse an answer of the token endpoint. 0: tok filled. -1: err filled
 * (an HTTP error, an Entra error body, or a malformed 200).
 */
int		 oauth_parse_response(long http_status, const char *body,
		    size_t len, long long now, struct oauth_token *tok,
		    struct oauth_error *err);
void		 oauth_token_free(struct oauth_token *);
/* One line for users: "error AADSTSn - hint: ... (description)". */
void		 oauth_error_describe(const struct oauth_error *, char *out,
		    size_t outlen);
/* A plain-language fix for an AADSTS code, or NULL. */
const char	*oauth_hint(long aadsts);

#endif

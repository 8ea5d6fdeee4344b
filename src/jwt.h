/*
 * jwt.c: decode (never verify) the claims of an Entra access token for
 * display. Handles v1 and v2 claim names. Pure; any thread.
 */
#ifndef DEFGATE_JWT_H
#define DEFGATE_JWT_H

#include <stddef.h>

#define JWT_MAX_ROLES	64
#define JWT_MAX_LEN	16384

struct jwt_claims {
	char		*alg;
	char		*aud;
	char		*iss;
	char		*tid;
	char		*app_id;	/* appid (v1) or azp (v2) */
	char		*app_displayname;
	char		*ver;
	char		*idtyp;
	char		*oid;
	char		*credential;	/* appidacr/azpacr: "secret", "certificate"... */
	long long	 iat, nbf, exp;
	int		 has_roles;	/* the claim was present */
	int		 nroles;
	char		*roles[JWT_MAX_ROLES];
};

/* 0 and claims filled, or -1 with *err set to a static reason. */
int	 jwt_decode(const char *token, size_t len, struct jwt_claims *,
	    const char **err);
void	 jwt_claims_free(struct jwt_claims *);
/* base64url decode into a malloc'd NUL-terminated buffer; NULL on error. */
unsigned char *jwt_b64url_decode(const char *in, size_t inlen, size_t *outlen);
/* 1 when the claims grant role (case-insensitive). */
int	 jwt_has_role(const struct jwt_claims *, const char *role);

#endif

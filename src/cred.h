/*
 * cred.c: the four ways defgate proves who it is to Entra, as one interface
 * for the token source:
 *   secret            client_secret (or client_secret_file)
 *   certificate       a client assertion signed with the certificate's key
 *                     (PS256 + x5t#S256; RS256 + x5t on request; x5c with
 *                     send_certificate_chain)
 *   federated         the workload's token file (AZURE_FEDERATED_TOKEN_FILE)
 *                     sent as a jwt-bearer assertion, re-read per request
 *   managed_identity  IMDS, or IDENTITY_ENDPOINT + IDENTITY_HEADER
 *
 * Threads and memory: cred_choose/cred_load/cred_forget_secrets run on the
 * main thread while a gw_config is built or retired (the back thread also
 * calls cred_forget_secrets on the config it just stopped using). The
 * loaded certificate (struct cred_cert) belongs to its gw_config and is
 * read-only afterwards: cred_req_build (back thread, or main for --check)
 * signs with it. Everything a cred_req holds is owned by it and wiped by
 * cred_req_free.
 */
#ifndef DEFGATE_CRED_H
#define DEFGATE_CRED_H

#include <stddef.h>

#include <curl/curl.h>

struct buf;
struct cJSON;
struct gw_config;
struct oauth_error;
struct oauth_token;

enum cred_kind {
	CRED_NONE = 0,
	CRED_SECRET,
	CRED_CERTIFICATE,
	CRED_FEDERATED,
	CRED_MANAGED_IDENTITY
};

#define CRED_ASSERTION_LIFETIME	300	/* seconds: exp - nbf */
#define CRED_EXPIRY_WARN_DAYS	30
#define CRED_FILE_MAX		(256 * 1024)	/* certificate / PKCS#12 */
#define CRED_FEDERATED_MAX	(16 * 1024)	/* a projected token */

struct cred_req {
	char			*url;		/* malloc'd */
	int			 is_get;	/* managed identity */
	char			*body;		/* malloc'd; secret inside */
	size_t			 bodylen;
	struct curl_slist	*headers;	/* owned; may hold a secret */
};

/* What the status page and --check show about a certificate. */
struct cred_cert_info {
	char		 thumbprint_sha256[65];	/* hex, upper case */
	char		 thumbprint_sha1[41];
	char		 subject[256];
	long long	 not_before, not_after;	/* unix seconds */
};

struct cred_cert;

/* Settings -> cf->credential (explicit or inferred); one line per conflict. */
int		 cred_choose(struct gw_config *, struct buf *errs);
/* Load the certificate and key of a certificate credential (once per load). */
int		 cred_load(struct gw_config *, struct buf *errs);
void		 cred_cert_free(struct cred_cert *);
const struct cred_cert_info *cred_cert_info(const struct gw_config *);
/* cred_cert.c: the certificate's assertion (malloc'd; NULL without a key),
   the key freed, the expiry warning logged at most daily, the warning text
   (NULL when more than 30 days are left) and "PS256, x5t#S256" or
   "RS256, x5t". */
char		*cred_cert_assertion(const struct gw_config *, const char *aud,
		    long long now);
void		 cred_cert_forget_key(struct cred_cert *);
void		 cred_cert_check_expiry(const struct gw_config *, long long now);
const char	*cred_cert_warning(const struct cred_cert_info *, long long now,
		    char *out, size_t outlen);
const char	*cred_cert_assertion_form(const struct gw_config *);
/* Wipe the secrets and free the private key of a config no longer used. */
void		 cred_forget_secrets(struct gw_config *);
/* 1 when a reload changed who defgate is (the token must go). */
int		 cred_identity_changed(const struct gw_config *old,
		    const struct gw_config *cf);
const char	*cred_kind_name(int kind);

/*
 * Back thread. scope is the audience's v2 scope ("…/.default"). 0, or -1
 * with err filled (e.g. a missing federated token file).
 */
int		 cred_req_build(const struct gw_config *, const char *scope,
		    struct cred_req *, struct oauth_error *err);
void		 cred_req_free(struct cred_req *);	/* wipes secrets */
/* URL, method, body, headers, protocols and proxy of req on handle e. */
void		 cred_req_apply(const struct gw_config *,
		    const struct cred_req *, CURL *e);
/*
 * Parse the answer (Entra v1/v2 or managed-identity shapes); error texts
 * have this config's secrets removed; a capped lifetime is logged.
 */
int		 cred_parse_response(const struct gw_config *, long http_status,
		    const char *body, size_t len, long long now,
		    struct oauth_token *, struct oauth_error *);
/* Remove this config's secrets (and any JWT) from s in place. */
void		 cred_redact(const struct gw_config *, char *s, size_t cap);

/* status.json: "cloud", "credential" {kind, certificate…, proxy}. */
void		 cred_status_json(const struct gw_config *, struct cJSON *root);
/* --check: the credential lines; a certificate expiry warning too. */
void		 cred_check_print(const struct gw_config *, long long now);

#endif

/*
 * cred.c: credentials (see cred.h).
 *
 * Certificates: PEM (certificate(s) and private key, the key optionally
 * encrypted with client_certificate_password) or PKCS#12 with that
 * password. The leaf is the certificate that matches the key; any others
 * form the chain sent as x5c. Client assertions are signed with EVP
 * (RSA-PSS, SHA-256, salt = digest length for PS256; PKCS#1 v1.5 for
 * RS256); base64 is libcrypto's EVP_EncodeBlock, turned into base64url.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "buf.h"
#include "config.h"
#include "cred.h"
#include "egress.h"
#include "log.h"
#include "oauth.h"
#include "redact.h"
#include "util.h"

/* config problems go to errs, one line each (errs may be NULL) */
#define ERRLINE(errs, ...)	do { if ((errs) != NULL) \
	(void)buf_printf((errs), __VA_ARGS__); } while (0)

#define ASSERTION_TYPE	"urn:ietf:params:oauth:client-assertion-type:" \
			"jwt-bearer"
#define CRED_MAX_CHAIN	8

/* When the certificate expiry warning was last logged (load or refresh). */
static _Atomic long long	last_expiry_warning;

struct cred_cert {
	EVP_PKEY		*key;		/* wiped by cred_forget_secrets */
	char			 x5t_s256[48];	/* base64url SHA-256 of the DER */
	char			 x5t[32];	/* base64url SHA-1 of the DER */
	char			*x5c[CRED_MAX_CHAIN + 1];	/* base64 DER */
	int			 nx5c;
	struct cred_cert_info	 info;
};

static int
set(const char *s)
{
	return (s != NULL && *s != '\0');
}

const char *
cred_kind_name(int kind)
{
	switch (kind) {
	case CRED_SECRET:		return ("secret");
	case CRED_CERTIFICATE:		return ("certificate");
	case CRED_FEDERATED:		return ("federated");
	case CRED_MANAGED_IDENTITY:	return ("managed_identity");
	default:			return ("none");
	}
}

/* ---- choosing the credential ---- */

static const struct {
	int		 kind;
	const char	*key, *env;
	size_t		 off;
} cred_settings[] = {
	{ CRED_SECRET, "client_secret", "AZURE_CLIENT_SECRET",
	  offsetof(struct gw_config, client_secret) },
	{ CRED_SECRET, "client_secret_file", "AZURE_CLIENT_SECRET_FILE",
	  offsetof(struct gw_config, client_secret_file) },
	{ CRED_CERTIFICATE, "client_certificate_path",
	  "AZURE_CLIENT_CERTIFICATE_PATH",
	  offsetof(struct gw_config, client_certificate_path) },
	{ CRED_FEDERATED, "federated_token_file", "AZURE_FEDERATED_TOKEN_FILE",
	  offsetof(struct gw_config, federated_token_file) },
	{ CRED_MANAGED_IDENTITY, "identity_endpoint", "IDENTITY_ENDPOINT",
	  offsetof(struct gw_config, identity_endpoint) },
};
#define NSETTINGS	(sizeof(cred_settings) / sizeof(cred_settings[0]))

static const char *
setting(const struct gw_config *cf, size_t i)
{
	return (*(char *const *)(const void *)((const char *)cf +
	    cred_settings[i].off));
}

static int
kind_from_name(const char *name)
{
	for (int k = CRED_SECRET; k <= CRED_MANAGED_IDENTITY; k++)
		if (strcasecmp(name, cred_kind_name(k)) == 0)
			return (k);
	return (CRED_NONE);
}

/* The first kind with a setting present, azure-identity's order. */
static int
infer(const struct gw_config *cf, int *nkinds)
{
	int kinds = 0, first = CRED_NONE, seen[CRED_MANAGED_IDENTITY + 1];

	memset(seen, 0, sizeof(seen));
	for (size_t i = 0; i < NSETTINGS; i++)
		if (set(setting(cf, i)) &&
		    cred_settings[i].kind != CRED_MANAGED_IDENTITY &&
		    !seen[cred_settings[i].kind]++) {
			kinds++;
			if (first == CRED_NONE)
				first = cred_settings[i].kind;
		}
	*nkinds = kinds;
	if (first == CRED_NONE && set(cf->identity_endpoint))
		first = CRED_MANAGED_IDENTITY;
	return (first);
}

int
cred_choose(struct gw_config *cf, struct buf *errs)
{
	int n, rc = 0;

	if (set(cf->credential_name)) {
		if ((cf->credential = kind_from_name(cf->credential_name)) ==
		    CRED_NONE) {
			ERRLINE(errs, "credential (DEFGATE_CREDENTIAL) "
			    "\"%s\" is unknown: use secret, certificate, "
			    "federated or managed_identity\n",
			    cf->credential_name);
			return (-1);
		}
		for (size_t i = 0; i < NSETTINGS; i++)
			if (set(setting(cf, i)) &&
			    cred_settings[i].kind != cf->credential)
				log_warnx("%s (%s) is ignored: credential = %s",
				    cred_settings[i].key, cred_settings[i].env,
				    cred_kind_name(cf->credential));
	} else {
		cf->credential = infer(cf, &n);
		if (n > 1) {
			for (size_t i = 0; i < NSETTINGS; i++)
				if (set(setting(cf, i)) && cred_settings[i].kind
				    != CRED_MANAGED_IDENTITY)
					ERRLINE(errs, "%s (%s) is set, and so "
					    "is another credential's setting: "
					    "keep one, or choose with "
					    "credential (DEFGATE_CREDENTIAL)\n",
					    cred_settings[i].key,
					    cred_settings[i].env);
			return (-1);
		}
	}
	switch (cf->credential) {
	case CRED_NONE:
	case CRED_SECRET:
		if (set(cf->client_secret) && set(cf->client_secret_file)) {
			ERRLINE(errs, "client_secret (AZURE_CLIENT_SECRET) "
			    "and client_secret_file (AZURE_CLIENT_SECRET_FILE) "
			    "are both set: keep only one\n");
			rc = -1;
		} else if (!set(cf->client_secret) &&
		    !set(cf->client_secret_file)) {
			ERRLINE(errs, "client_secret (AZURE_CLIENT_SECRET) "
			    "is required: set it or client_secret_file "
			    "(AZURE_CLIENT_SECRET_FILE) to the client secret's "
			    "Value, or use client_certificate_path, "
			    "federated_token_file or credential = "
			    "managed_identity\n");
			rc = -1;
		}
		cf->credential = CRED_SECRET;
		break;
	case CRED_CERTIFICATE:
		if (!set(cf->client_certificate_path)) {
			ERRLINE(errs, "client_certificate_path "
			    "(AZURE_CLIENT_CERTIFICATE_PATH) is required with "
			    "credential = certificate\n");
			rc = -1;
		}
		break;
	case CRED_FEDERATED:
		if (!set(cf->federated_token_file)) {
			ERRLINE(errs, "federated_token_file "
			    "(AZURE_FEDERATED_TOKEN_FILE) is required with "
			    "credential = federated\n");
			rc = -1;
		}
		break;
	case CRED_MANAGED_IDENTITY:
		if (set(cf->identity_endpoint) != set(cf->identity_header)) {
			ERRLINE(errs, "%s is set without %s: both come "
			    "from App Service / Container Apps, or neither "
			    "(IMDS)\n", set(cf->identity_endpoint) ?
			    "identity_endpoint (IDENTITY_ENDPOINT)" :
			    "identity_header (IDENTITY_HEADER)",
			    set(cf->identity_endpoint) ?
			    "identity_header (IDENTITY_HEADER)" :
			    "identity_endpoint (IDENTITY_ENDPOINT)");
			rc = -1;
		}
		break;
	}
	if (set(cf->client_assertion_alg) &&
	    strcasecmp(cf->client_assertion_alg, "PS256") != 0 &&
	    strcasecmp(cf->client_assertion_alg, "RS256") != 0) {
		ERRLINE(errs, "client_assertion_alg "
		    "(DEFGATE_CLIENT_ASSERTION_ALG) \"%s\" is unknown: use "
		    "PS256 (default) or RS256\n", cf->client_assertion_alg);
		rc = -1;
	}
	return (rc);
}

/* ---- the certificate ---- */

/* base64 (std or url) of n bytes; malloc'd; NULL on error. */
static char *
b64(const unsigned char *in, size_t n, int url)
{
	char	*out;
	int	 len;

	if (n > (1U << 24) || (out = malloc(4 * ((n + 2) / 3) + 1)) == NULL)
		return (NULL);
	len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	if (url) {
		while (len > 0 && out[len - 1] == '=')
			len--;
		out[len] = '\0';
		for (char *p = out; *p; p++)
			if (*p == '+')
				*p = '-';
			else if (*p == '/')
				*p = '_';
	}
	return (out);
}

static void
b64_into(char *dst, size_t dstlen, const unsigned char *in, size_t n)
{
	char *s = b64(in, n, 1);

	snprintf(dst, dstlen, "%s", s ? s : "");
	free(s);
}

static long long
asn1_unix(const ASN1_TIME *t)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return (0);
	return ((long long)timegm(&tm));
}

/* Read at most CRED_FILE_MAX bytes of path; warn when others can read. */
static unsigned char *
read_private_file(const char *path, const char *what, size_t *len,
    struct buf *errs)
{
	struct stat	 st;
	unsigned char	*data;
	ssize_t		 r;
	size_t		 n = 0;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		ERRLINE(errs, "%s: cannot read %s: %s\n", what, path,
		    strerror(errno));
		return (NULL);
	}
	if (fstat(fd, &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)))
		log_warnx("%s %s is readable by group or others: run chmod "
		    "600 %s", what, path, path);
	data = xmalloc(CRED_FILE_MAX + 1);
	while (n < CRED_FILE_MAX &&
	    (r = read(fd, data + n, CRED_FILE_MAX - n)) > 0)
		n += (size_t)r;
	close(fd);
	if (n == 0 || n >= CRED_FILE_MAX) {
		ERRLINE(errs, "%s: %s is %s\n", what, path, n == 0 ?
		    "empty" : "too large (max 256 KiB)");
		OPENSSL_cleanse(data, CRED_FILE_MAX + 1);
		free(data);
		return (NULL);
	}
	data[n] = '\0';
	*len = n;
	return (data);
}

/* PEM: every certificate, and the (maybe encrypted) key. */
static int
parse_pem(const unsigned char *data, size_t len, const char *pass,
    EVP_PKEY **key, STACK_OF(X509) *certs)
{
	BIO	*bio;
	X509	*x;

	if ((bio = BIO_new_mem_buf(data, (int)len)) == NULL)
		return (-1);
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
		if (!sk_X509_push(certs, x))
			X509_free(x);
	BIO_free(bio);
	if ((bio = BIO_new_mem_buf(data, (int)len)) == NULL)
		return (-1);
	*key = PEM_read_bio_PrivateKey(bio, NULL, NULL,
	    (void *)(uintptr_t)(pass ? pass : ""));
	BIO_free(bio);
	return (*key && sk_X509_num(certs) > 0 ? 0 : -1);
}

static int
parse_p12(const unsigned char *data, size_t len, const char *pass,
    EVP_PKEY **key, STACK_OF(X509) *certs)
{
	BIO		*bio;
	PKCS12		*p12;
	X509		*leaf = NULL;
	STACK_OF(X509)	*ca = NULL;
	int		 rc = -1;

	if ((bio = BIO_new_mem_buf(data, (int)len)) == NULL)
		return (-1);
	p12 = d2i_PKCS12_bio(bio, NULL);
	BIO_free(bio);
	if (p12 == NULL)
		return (-1);
	if (PKCS12_parse(p12, pass ? pass : "", key, &leaf, &ca) == 1 &&
	    *key != NULL && leaf != NULL) {
		sk_X509_push(certs, leaf);
		leaf = NULL;
		while (ca && sk_X509_num(ca) > 0)
			sk_X509_push(certs, sk_X509_shift(ca));
		rc = 0;
	}
	X509_free(leaf);
	sk_X509_pop_free(ca, X509_free);
	PKCS12_free(p12);
	return (rc);
}

static void
fill_info(struct cred_cert *c, X509 *x)
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 n;
	BIO		*bio;

	if (X509_digest(x, EVP_sha256(), md, &n) == 1) {
		for (unsigned i = 0; i < n; i++)
			snprintf(c->info.thumbprint_sha256 + 2 * i, 3, "%02X",
			    md[i]);
		b64_into(c->x5t_s256, sizeof(c->x5t_s256), md, n);
	}
	if (X509_digest(x, EVP_sha1(), md, &n) == 1) {
		for (unsigned i = 0; i < n; i++)
			snprintf(c->info.thumbprint_sha1 + 2 * i, 3, "%02X",
			    md[i]);
		b64_into(c->x5t, sizeof(c->x5t), md, n);
	}
	if ((bio = BIO_new(BIO_s_mem())) != NULL) {
		char	*p;
		long	 len;

		X509_NAME_print_ex(bio, X509_get_subject_name(x), 0,
		    XN_FLAG_RFC2253);
		len = BIO_get_mem_data(bio, &p);
		snprintf(c->info.subject, sizeof(c->info.subject), "%.*s",
		    (int)len, p);
		BIO_free(bio);
	}
	c->info.not_before = asn1_unix(X509_get0_notBefore(x));
	c->info.not_after = asn1_unix(X509_get0_notAfter(x));
}

static int
add_x5c(struct cred_cert *c, X509 *x)
{
	unsigned char	*der = NULL;
	int		 n;

	if (c->nx5c >= CRED_MAX_CHAIN || (n = i2d_X509(x, &der)) <= 0)
		return (-1);
	c->x5c[c->nx5c] = b64(der, (size_t)n, 0);
	OPENSSL_free(der);
	return (c->x5c[c->nx5c++] ? 0 : -1);
}

static void
warn_expiry(const struct cred_cert_info *i, const char *path, long long now)
{
	char ts[32];

	util_iso8601(i->not_after, ts, sizeof(ts));
	if (i->not_after <= now)
		log_warnx("certificate %s (%s) expired on %s: Entra will "
		    "refuse it; upload a new one and update "
		    "client_certificate_path", path, i->thumbprint_sha256, ts);
	else if (i->not_after - now < CRED_EXPIRY_WARN_DAYS * 86400LL)
		log_warnx("certificate %s (%s) expires on %s, in %lld day(s): "
		    "upload its successor to the app registration and "
		    "update client_certificate_path", path,
		    i->thumbprint_sha256, ts, (i->not_after - now) / 86400);
}

int
cred_load(struct gw_config *cf, struct buf *errs)
{
	static const char	 what[] = "client_certificate_path "
	    "(AZURE_CLIENT_CERTIFICATE_PATH)";
	STACK_OF(X509)		*certs;
	struct cred_cert	*c;
	EVP_PKEY		*key = NULL;
	unsigned char		*data;
	size_t			 len = 0;
	int			 leaf = -1, rc;

	if (cf->credential != CRED_CERTIFICATE ||
	    !set(cf->client_certificate_path))
		return (0);
	if ((data = read_private_file(cf->client_certificate_path, what, &len,
	    errs)) == NULL)
		return (-1);
	if ((certs = sk_X509_new_null()) == NULL)
		fatalx("out of memory");
	if (memmem(data, len, "-----BEGIN", 10) != NULL)
		rc = parse_pem(data, len, cf->client_certificate_password,
		    &key, certs);
	else
		rc = parse_p12(data, len, cf->client_certificate_password,
		    &key, certs);
	OPENSSL_cleanse(data, CRED_FILE_MAX + 1);
	free(data);
	for (int i = 0; rc == 0 && i < sk_X509_num(certs) && leaf < 0; i++)
		if (X509_check_private_key(sk_X509_value(certs, i), key) == 1)
			leaf = i;
	if (rc != 0 || leaf < 0 || !EVP_PKEY_is_a(key, "RSA")) {
		ERRLINE(errs, "%s: %s %s\n", what,
		    cf->client_certificate_path, rc != 0 ? "holds no "
		    "certificate with a private key that can be read (a PEM "
		    "with both, or a PKCS#12 file with "
		    "client_certificate_password)" : leaf < 0 ? "has no "
		    "certificate matching its private key" : "has a non-RSA "
		    "key: Entra client assertions need RSA");
		EVP_PKEY_free(key);
		sk_X509_pop_free(certs, X509_free);
		return (-1);
	}
	c = xcalloc(1, sizeof(*c));
	c->key = key;
	fill_info(c, sk_X509_value(certs, leaf));
	add_x5c(c, sk_X509_value(certs, leaf));
	for (int i = 0; i < sk_X509_num(certs); i++)
		if (i != leaf)
			add_x5c(c, sk_X509_value(certs, i));
	sk_X509_pop_free(certs, X509_free);
	cred_cert_free(cf->cert);
	cf->cert = c;
	warn_expiry(&c->info, cf->client_certificate_path, util_now());
	atomic_store(&last_expiry_warning, util_now());
	return (0);
}

void
cred_cert_free(struct cred_cert *c)
{
	if (c == NULL)
		return;
	EVP_PKEY_free(c->key);	/* RSA private parts are cleared on free */
	for (int i = 0; i < c->nx5c; i++)
		free(c->x5c[i]);
	free(c);
}

const struct cred_cert_info *
cred_cert_info(const struct gw_config *cf)
{
	return (cf->cert ? &cf->cert->info : NULL);
}

void
cred_forget_secrets(struct gw_config *cf)
{
	util_free_secret(cf->client_secret);
	cf->client_secret = NULL;
	util_free_secret(cf->client_certificate_password);
	cf->client_certificate_password = NULL;
	util_free_secret(cf->identity_header);
	cf->identity_header = NULL;
	util_free_secret(cf->proxy);
	cf->proxy = NULL;
	if (cf->cert) {
		EVP_PKEY_free(cf->cert->key);
		cf->cert->key = NULL;
	}
}

static int
differ(const char *a, const char *b)
{
	return (strcmp(a ? a : "", b ? b : "") != 0);
}

int
cred_identity_changed(const struct gw_config *o, const struct gw_config *n)
{
	return (o->credential != n->credential ||
	    differ(o->client_secret, n->client_secret) ||
	    differ(o->federated_token_file, n->federated_token_file) ||
	    differ(o->identity_endpoint, n->identity_endpoint) ||
	    differ(o->imds_url, n->imds_url) ||
	    (o->cert != NULL) != (n->cert != NULL) ||
	    (o->cert && strcmp(o->cert->info.thumbprint_sha256,
	    n->cert->info.thumbprint_sha256) != 0));
}

/* ---- token requests ---- */

static int
req_fail(struct oauth_error *err, const char *fmt, ...)
    __attribute__((__format__(__printf__, 2, 3)));

static int
req_fail(struct oauth_error *err, const char *fmt, ...)
{
	va_list ap;

	memset(err, 0, sizeof(*err));
	snprintf(err->error, sizeof(err->error), "credential_unavailable");
	va_start(ap, fmt);
	vsnprintf(err->description, sizeof(err->description), fmt, ap);
	va_end(ap);
	err->when = util_now();
	return (-1);
}

static int
sign(const struct gw_config *cf, const char *in, size_t inlen,
    unsigned char **sig, size_t *siglen)
{
	EVP_MD_CTX	*md;
	EVP_PKEY_CTX	*pctx = NULL;
	int		 ok = 0, pss = !set(cf->client_assertion_alg) ||
			    strcasecmp(cf->client_assertion_alg, "PS256") == 0;

	*sig = NULL;
	if ((md = EVP_MD_CTX_new()) == NULL)
		return (-1);
	if (EVP_DigestSignInit(md, &pctx, EVP_sha256(), NULL,
	    cf->cert->key) == 1 &&
	    (!pss || (EVP_PKEY_CTX_set_rsa_padding(pctx,
	    RSA_PKCS1_PSS_PADDING) == 1 && EVP_PKEY_CTX_set_rsa_pss_saltlen(
	    pctx, RSA_PSS_SALTLEN_DIGEST) == 1)) &&
	    EVP_DigestSign(md, NULL, siglen, (const unsigned char *)in,
	    inlen) == 1 && (*sig = malloc(*siglen)) != NULL &&
	    EVP_DigestSign(md, *sig, siglen, (const unsigned char *)in,
	    inlen) == 1)
		ok = 1;
	EVP_MD_CTX_free(md);
	if (!ok) {
		free(*sig);
		*sig = NULL;
	}
	return (ok ? 0 : -1);
}

/* The signed client assertion for the token endpoint aud. malloc'd. */
static char *
make_assertion(const struct gw_config *cf, const char *aud, long long now)
{
	cJSON		*h, *p, *x5c;
	char		*hs, *ps, *h64 = NULL, *p64 = NULL, *s64 = NULL;
	char		 jti[37];
	unsigned char	*sig = NULL;
	size_t		 siglen = 0;
	struct buf	 b;
	int		 pss = !set(cf->client_assertion_alg) ||
			    strcasecmp(cf->client_assertion_alg, "PS256") == 0;

	h = cJSON_CreateObject();
	cJSON_AddStringToObject(h, "alg", pss ? "PS256" : "RS256");
	cJSON_AddStringToObject(h, "typ", "JWT");
	if (pss)
		cJSON_AddStringToObject(h, "x5t#S256", cf->cert->x5t_s256);
	else
		cJSON_AddStringToObject(h, "x5t", cf->cert->x5t);
	if (cf->send_certificate_chain) {
		x5c = cJSON_AddArrayToObject(h, "x5c");
		for (int i = 0; x5c && i < cf->cert->nx5c; i++)
			cJSON_AddItemToArray(x5c,
			    cJSON_CreateString(cf->cert->x5c[i]));
	}
	util_uuid(jti);
	p = cJSON_CreateObject();
	cJSON_AddStringToObject(p, "aud", aud);
	cJSON_AddStringToObject(p, "iss", cf->client_id);
	cJSON_AddStringToObject(p, "sub", cf->client_id);
	cJSON_AddStringToObject(p, "jti", jti);
	cJSON_AddNumberToObject(p, "nbf", (double)now);
	cJSON_AddNumberToObject(p, "iat", (double)now);
	cJSON_AddNumberToObject(p, "exp", (double)(now +
	    CRED_ASSERTION_LIFETIME));
	hs = cJSON_PrintUnformatted(h);
	ps = cJSON_PrintUnformatted(p);
	cJSON_Delete(h);
	cJSON_Delete(p);
	buf_init(&b, 64 * 1024);
	if (hs && ps && (h64 = b64((unsigned char *)hs, strlen(hs), 1)) &&
	    (p64 = b64((unsigned char *)ps, strlen(ps), 1)) &&
	    buf_printf(&b, "%s.%s", h64, p64) == 0 &&
	    sign(cf, b.data, b.len, &sig, &siglen) == 0 &&
	    (s64 = b64(sig, siglen, 1)) != NULL &&
	    buf_printf(&b, ".%s", s64) == 0) {
		/* done */
	} else
		buf_wipe(&b);
	cJSON_free(hs);
	cJSON_free(ps);
	free(h64);
	free(p64);
	free(s64);
	free(sig);
	return (b.data ? buf_take(&b, NULL) : NULL);
}

/* The federated token file, read now (it rotates); malloc'd secret. */
static char *
read_federated(const char *path, struct oauth_error *err)
{
	char	*tok;
	ssize_t	 r;
	size_t	 n = 0;
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		req_fail(err, "federated_token_file (AZURE_FEDERATED_TOKEN_FILE)"
		    " %s cannot be read: %s: check the projected service "
		    "account token volume", path, strerror(errno));
		return (NULL);
	}
	tok = xmalloc(CRED_FEDERATED_MAX + 1);
	while (n < CRED_FEDERATED_MAX &&
	    (r = read(fd, tok + n, CRED_FEDERATED_MAX - n)) > 0)
		n += (size_t)r;
	close(fd);
	while (n > 0 && (tok[n - 1] == '\n' || tok[n - 1] == '\r' ||
	    tok[n - 1] == ' '))
		n--;
	tok[n] = '\0';
	if (n == 0 || n >= CRED_FEDERATED_MAX ||
	    !oauth_token_chars_ok(tok, n)) {
		req_fail(err, "federated_token_file (AZURE_FEDERATED_TOKEN_FILE)"
		    " %s %s", path, n == 0 ? "is empty: the token has not been "
		    "projected yet" : "does not hold a single JWT");
		util_free_secret(tok);
		return (NULL);
	}
	return (tok);
}

static int
build_mi(const struct gw_config *cf, const char *scope, struct cred_req *req,
    struct oauth_error *err)
{
	struct buf	 b, h;
	char		*res, *eres, *ecid = NULL;
	int		 rc, app = set(cf->identity_endpoint);

	if ((res = oauth_scope_resource(scope)) == NULL)
		return (req_fail(err, "out of memory"));
	eres = curl_easy_escape(NULL, res, 0);
	free(res);
	if (set(cf->client_id))
		ecid = curl_easy_escape(NULL, cf->client_id, 0);
	buf_init(&b, 8192);
	rc = buf_printf(&b, app ? "%s?api-version=2019-08-01&resource=%s" :
	    "%s/metadata/identity/oauth2/token?api-version=2018-02-01"
	    "&resource=%s", app ? cf->identity_endpoint : cf->imds_url,
	    eres ? eres : "");
	if (ecid)
		rc |= buf_printf(&b, "&client_id=%s", ecid);
	curl_free(eres);
	curl_free(ecid);
	buf_init(&h, 8192);
	if (app)
		rc |= buf_printf(&h, "X-IDENTITY-HEADER: %s",
		    cf->identity_header);
	else
		rc |= buf_printf(&h, "Metadata: true");
	if (rc == 0)
		req->headers = curl_slist_append(req->headers, h.data);
	buf_wipe(&h);
	if (rc != 0 || req->headers == NULL) {
		buf_free(&b);
		return (req_fail(err, "the managed-identity request does not "
		    "fit"));
	}
	req->url = buf_take(&b, NULL);
	req->is_get = 1;
	return (0);
}

int
cred_req_build(const struct gw_config *cf, const char *scope,
    struct cred_req *req, struct oauth_error *err)
{
	const char	*kv[4] = { NULL, NULL, NULL, NULL };
	char		*assertion = NULL;
	size_t		 nkv = 2;

	memset(req, 0, sizeof(*req));
	memset(err, 0, sizeof(*err));
	if (cf->credential == CRED_MANAGED_IDENTITY) {
		if (build_mi(cf, scope, req, err) == -1) {
			cred_req_free(req);
			return (-1);
		}
		goto accept;
	}
	if ((req->url = oauth_token_url(cf)) == NULL)
		return (req_fail(err, "out of memory"));
	switch (cf->credential) {
	case CRED_CERTIFICATE:
		if (cf->cert == NULL || cf->cert->key == NULL) {
			cred_req_free(req);
			return (req_fail(err, "the certificate's key is not "
			    "loaded"));
		}
		if ((assertion = make_assertion(cf, req->url,
		    util_now())) == NULL) {
			cred_req_free(req);
			return (req_fail(err, "cannot sign the client "
			    "assertion with the certificate's key"));
		}
		break;
	case CRED_FEDERATED:
		if ((assertion = read_federated(cf->federated_token_file,
		    err)) == NULL) {
			cred_req_free(req);
			return (-1);
		}
		break;
	default:
		kv[0] = "client_secret";
		kv[1] = cf->client_secret ? cf->client_secret : "";
		break;
	}
	if (assertion) {
		kv[0] = "client_assertion_type";
		kv[1] = ASSERTION_TYPE;
		kv[2] = "client_assertion";
		kv[3] = assertion;
		nkv = 4;
	}
	req->body = oauth_form_body(cf, scope, kv, nkv, &req->bodylen);
	util_free_secret(assertion);
	if (req->body == NULL) {
		cred_req_free(req);
		return (req_fail(err, "the token request does not fit"));
	}
accept:
	req->headers = curl_slist_append(req->headers,
	    "Accept: application/json");
	if (req->headers == NULL) {
		cred_req_free(req);
		return (req_fail(err, "out of memory"));
	}
	return (0);
}

void
cred_req_free(struct cred_req *req)
{
	if (req == NULL)
		return;
	for (struct curl_slist *l = req->headers; l; l = l->next)
		OPENSSL_cleanse(l->data, strlen(l->data));
	curl_slist_free_all(req->headers);
	free(req->url);
	if (req->body)
		OPENSSL_cleanse(req->body, req->bodylen);
	free(req->body);
	memset(req, 0, sizeof(*req));
}

void
cred_req_apply(const struct gw_config *cf, const struct cred_req *req,
    CURL *e)
{
	curl_easy_setopt(e, CURLOPT_URL, req->url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, req->headers);
	if (req->is_get) {
		/* IMDS is plain http on a link-local address: never proxied */
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
		egress_apply(cf, e, 1);
	} else {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)req->bodylen);
		curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https");
		egress_apply(cf, e, 0);
	}
}

/* ---- answers and redaction ---- */

void
cred_redact(const struct gw_config *cf, char *s, size_t cap)
{
	const char	*secrets[5];
	char		 userinfo[256] = "";
	const char	*p, *at;
	size_t		 n = 0;

	secrets[n++] = cf->client_secret;
	secrets[n++] = cf->client_certificate_password;
	secrets[n++] = cf->identity_header;
	/* the proxy's user:password, not its (shown) address */
	if (cf->proxy && (p = strstr(cf->proxy, "://")) != NULL &&
	    (at = strchr(p + 3, '@')) != NULL &&
	    (size_t)(at - p - 3) < sizeof(userinfo)) {
		memcpy(userinfo, p + 3, (size_t)(at - p - 3));
		userinfo[at - p - 3] = '\0';
		secrets[n++] = userinfo;
		/* the password alone, as a proxy might echo it */
		if ((p = strchr(userinfo, ':')) != NULL)
			secrets[n++] = p + 1;
	}
	redact_inplace(s, cap, secrets, n);
	OPENSSL_cleanse(userinfo, sizeof(userinfo));
}

int
cred_parse_response(const struct gw_config *cf, long status,
    const char *body, size_t len, long long now, struct oauth_token *tok,
    struct oauth_error *err)
{
	char	 desc[sizeof(err->description) + 256];
	int	 rc;

	rc = oauth_parse_response(status, body, len, now, tok, err);
	if (rc == 0 && cf->cert != NULL &&
	    now - atomic_load(&last_expiry_warning) >= 86400 &&
	    cf->cert->info.not_after - now < CRED_EXPIRY_WARN_DAYS * 86400LL) {
		/* a long-running daemon crosses into the 30 days too */
		atomic_store(&last_expiry_warning, now);
		warn_expiry(&cf->cert->info, cf->client_certificate_path, now);
	}
	if (rc == 0) {
		if (tok->capped_from > 0)
			log_warnx("the token endpoint gave a lifetime of %lld s;"
			    " using %lld s (Entra issues at most about 24 h)",
			    tok->capped_from, (long long)OAUTH_MAX_LIFETIME);
		return (0);
	}
	cred_redact(cf, err->error, sizeof(err->error));
	cred_redact(cf, err->description, sizeof(err->description));
	cred_redact(cf, err->trace_id, sizeof(err->trace_id));
	cred_redact(cf, err->correlation_id, sizeof(err->correlation_id));
	if (cf->credential == CRED_MANAGED_IDENTITY && status >= 400) {
		snprintf(desc, sizeof(desc), "%s%smanaged identity: %s",
		    err->description, err->description[0] ? " - hint: " : "",
		    status == 400 ? "no identity is assigned to this "
		    "resource, or client_id (AZURE_CLIENT_ID) is not one of "
		    "its identities" : status == 404 ? "the identity is not "
		    "ready yet (retried)" : "the identity endpoint failed "
		    "(retried)");
		desc[sizeof(err->description) - 1] = '\0';	/* cut */
		memcpy(err->description, desc, sizeof(err->description));
	}
	return (-1);
}

/* ---- status page and --check ---- */

static const char *
expiry_warning(const struct cred_cert_info *i, long long now, char *out,
    size_t outlen)
{
	char ts[32];

	util_iso8601(i->not_after, ts, sizeof(ts));
	if (i->not_after <= now)
		snprintf(out, outlen, "the certificate expired on %s", ts);
	else if (i->not_after - now < CRED_EXPIRY_WARN_DAYS * 86400LL)
		snprintf(out, outlen, "the certificate expires on %s, in %lld "
		    "day(s): upload its successor", ts,
		    (i->not_after - now) / 86400);
	else
		return (NULL);
	return (out);
}

void
cred_status_json(const struct gw_config *cf, cJSON *root)
{
	const struct cred_cert_info	*i = cred_cert_info(cf);
	cJSON				*c, *ce;
	char				 ts[32], warn[160], proxy[256];
	long long			 now = util_now();

	cJSON_AddStringToObject(root, "cloud", cf->cloud);
	c = cJSON_AddObjectToObject(root, "credential");
	if (c == NULL)
		return;
	cJSON_AddStringToObject(c, "kind", cred_kind_name(cf->credential));
	if (i && (ce = cJSON_AddObjectToObject(c, "certificate")) != NULL) {
		const char *w = expiry_warning(i, now, warn, sizeof(warn));

		cJSON_AddStringToObject(ce, "thumbprint_sha256",
		    i->thumbprint_sha256);
		cJSON_AddStringToObject(ce, "thumbprint_sha1",
		    i->thumbprint_sha1);
		cJSON_AddStringToObject(ce, "subject", i->subject);
		util_iso8601(i->not_after, ts, sizeof(ts));
		cJSON_AddStringToObject(ce, "not_after", ts);
		cJSON_AddNumberToObject(ce, "days_left",
		    (double)((i->not_after - now) / 86400));
		if (w)
			cJSON_AddStringToObject(ce, "warning", w);
		else
			cJSON_AddNullToObject(ce, "warning");
	}
	if (cf->credential == CRED_FEDERATED)
		cJSON_AddStringToObject(c, "federated_token_file",
		    cf->federated_token_file);
	if (cf->credential == CRED_MANAGED_IDENTITY)
		cJSON_AddStringToObject(c, "endpoint",
		    set(cf->identity_endpoint) ? "app_service" : "imds");
	egress_display(cf, proxy, sizeof(proxy));
	if (proxy[0])
		cJSON_AddStringToObject(c, "proxy", proxy);
	else
		cJSON_AddNullToObject(c, "proxy");
}

void
cred_check_print(const struct gw_config *cf, long long now)
{
	const struct cred_cert_info	*i = cred_cert_info(cf);
	char				 ts[32], warn[160], proxy[256];
	const char			*w;

	printf("cloud:          %s (authority %s, API %s, scope %s)\n",
	    cf->cloud, cf->authority_host, cf->api_url, cf->scope);
	printf("credential:     %s\n", cred_kind_name(cf->credential));
	if (i) {
		util_iso8601(i->not_after, ts, sizeof(ts));
		printf("certificate:    %s\n", i->subject);
		printf("  SHA-256:      %s\n", i->thumbprint_sha256);
		printf("  SHA-1:        %s\n", i->thumbprint_sha1);
		printf("  expires:      %s\n", ts);
		printf("  assertion:    %s\n", set(cf->client_assertion_alg) &&
		    strcasecmp(cf->client_assertion_alg, "RS256") == 0 ?
		    "RS256, x5t" : "PS256, x5t#S256");
		if ((w = expiry_warning(i, now, warn, sizeof(warn))) != NULL)
			printf("warning:        %s\n", w);
	}
	if (cf->credential == CRED_FEDERATED)
		printf("token file:     %s (read for every token request)\n",
		    cf->federated_token_file);
	if (cf->credential == CRED_MANAGED_IDENTITY)
		printf("identity:       %s%s%s\n", set(cf->identity_endpoint) ?
		    "App Service / Container Apps endpoint" : "IMDS",
		    set(cf->client_id) ? ", user-assigned client_id " :
		    ", system-assigned", set(cf->client_id) ? cf->client_id :
		    "");
	egress_display(cf, proxy, sizeof(proxy));
	if (proxy[0])
		printf("egress proxy:   %s\n", proxy);
}

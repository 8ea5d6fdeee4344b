/*
 * cred_cert.c: the certificate credential (see cred.h): loading a PEM
 * (certificate(s) and private key, the key optionally encrypted with
 * client_certificate_password) or PKCS#12 file, and signing client
 * assertions with its key.
 *
 * The leaf is the certificate that matches the key; any others form the
 * chain sent as x5c. Assertions are signed with EVP (RSA-PSS, SHA-256, salt
 * = digest length for PS256; PKCS#1 v1.5 for RS256); base64 is libcrypto's
 * EVP_EncodeBlock, turned into base64url.
 *
 * Threads: loading runs on the main thread while a gw_config is built; the
 * loaded struct cred_cert is then read-only except for the key, which
 * cred_cert_forget_key() frees on the thread that retires the config.
 * Signing runs on the back thread (or main, for --check).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
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
#include "log.h"
#include "util.h"

/* config problems go to errs, one line each (errs may be NULL) */
#define ERRLINE(errs, ...)	do { if ((errs) != NULL) \
	(void)buf_printf((errs), __VA_ARGS__); } while (0)
#define CRED_MAX_CHAIN	8

struct cred_cert {
	EVP_PKEY		*key;		/* freed by cred_cert_forget_key */
	char			 x5t_s256[48];	/* base64url SHA-256 of the DER */
	char			 x5t[32];	/* base64url SHA-1 of the DER */
	char			*x5c[CRED_MAX_CHAIN + 1];	/* base64 DER */
	int			 nx5c;
	struct cred_cert_info	 info;
};

/* When the expiry warning was last logged (load or refresh). */
static _Atomic long long	last_expiry_warning;

static int
pss(const struct gw_config *cf)
{
	return (cf->client_assertion_alg == NULL ||
	    *cf->client_assertion_alg == '\0' ||
	    strcasecmp(cf->client_assertion_alg, "PS256") == 0);
}


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
	    cf->client_certificate_path == NULL ||
	    *cf->client_certificate_path == '\0')
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

static int
sign(const struct gw_config *cf, const char *in, size_t inlen,
    unsigned char **sig, size_t *siglen)
{
	EVP_MD_CTX	*md;
	EVP_PKEY_CTX	*pctx = NULL;
	int		 ok = 0;

	*sig = NULL;
	if ((md = EVP_MD_CTX_new()) == NULL)
		return (-1);
	if (EVP_DigestSignInit(md, &pctx, EVP_sha256(), NULL,
	    cf->cert->key) == 1 &&
	    (!pss(cf) || (EVP_PKEY_CTX_set_rsa_padding(pctx,
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

char *
cred_cert_assertion(const struct gw_config *cf, const char *aud, long long now)
{
	cJSON		*h, *p, *x5c;
	char		*hs, *ps, *h64 = NULL, *p64 = NULL, *s64 = NULL;
	char		 jti[37];
	unsigned char	*sig = NULL;
	size_t		 siglen = 0;
	struct buf	 b;

	if (cf->cert == NULL || cf->cert->key == NULL)
		return (NULL);
	h = cJSON_CreateObject();
	cJSON_AddStringToObject(h, "alg", pss(cf) ? "PS256" : "RS256");
	cJSON_AddStringToObject(h, "typ", "JWT");
	if (pss(cf))
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

const char *
cred_cert_warning(const struct cred_cert_info *i, long long now, char *out,
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
cred_cert_forget_key(struct cred_cert *c)
{
	if (c == NULL)
		return;
	EVP_PKEY_free(c->key);	/* RSA private parts are cleared on free */
	c->key = NULL;
}

void
cred_cert_check_expiry(const struct gw_config *cf, long long now)
{
	if (cf->cert == NULL ||
	    now - atomic_load(&last_expiry_warning) < 86400 ||
	    cf->cert->info.not_after - now >= CRED_EXPIRY_WARN_DAYS * 86400LL)
		return;
	atomic_store(&last_expiry_warning, now);
	warn_expiry(&cf->cert->info, cf->client_certificate_path, now);
}

const char *
cred_cert_assertion_form(const struct gw_config *cf)
{
	return (pss(cf) ? "PS256, x5t#S256" : "RS256, x5t");
}

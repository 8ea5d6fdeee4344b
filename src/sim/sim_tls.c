/*
 * sim_tls.c: key material for the simulation (sim.c), made in memory at
 * start: a throw-away CA, a server certificate for localhost/127.0.0.1/::1
 * signed by it, and an RSA-2048 key that signs RS256 access tokens.
 *
 * Threads: sim_tls_init()/sim_tls_free()/sim_tls_write_ca() run on the
 * thread that starts/stops the simulation; sim_jwt_sign()/sim_jwt_verify()
 * only read the struct and may run on any MHD thread concurrently.
 * Ownership: the struct sim_tls owns its PEM strings and the signing key;
 * strings returned by the b64url/jwt functions belong to the caller.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "jwt.h"
#include "util.h"
#include "sim_int.h"

#define SIM_CERT_DAYS	2

static void
set_err(char **err, const char *what)
{
	char		 msg[512];
	unsigned long	 e;

	if (err == NULL)
		return;
	e = ERR_get_error();
	if (e != 0)
		snprintf(msg, sizeof(msg), "%s: %s", what,
		    ERR_reason_error_string(e) ? ERR_reason_error_string(e) :
		    "OpenSSL error");
	else
		snprintf(msg, sizeof(msg), "%s", what);
	ERR_clear_error();
	free(*err);
	*err = strdup(msg);
}

/* ---- base64url ---- */

char *
sim_b64url(const unsigned char *in, size_t len)
{
	char	*out;
	int	 n;

	if (len > (size_t)1 << 28)
		return (NULL);
	if ((out = malloc(4 * ((len + 2) / 3) + 1)) == NULL)
		return (NULL);
	n = EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	while (n > 0 && out[n - 1] == '=')
		n--;
	out[n] = '\0';
	for (int i = 0; i < n; i++) {
		if (out[i] == '+')
			out[i] = '-';
		else if (out[i] == '/')
			out[i] = '_';
	}
	return (out);
}

/* The same decoder defgate uses for tokens (jwt.c). */
unsigned char *
sim_b64url_decode(const char *in, size_t len, size_t *outlen)
{
	return (jwt_b64url_decode(in, len, outlen));
}

/* ---- JWT ---- */

/* An RS256 compact JWT with this header and payload, signed by key. */
static char *
sign_compact(EVP_PKEY *key, const char *hdr, const cJSON *payload)
{
	EVP_MD_CTX	*md = NULL;
	unsigned char	*sig = NULL;
	char		*pj = NULL, *h64 = NULL, *p64 = NULL, *s64 = NULL;
	char		*input = NULL, *tok = NULL;
	size_t		 siglen = 0, ilen;

	if ((pj = cJSON_PrintUnformatted(payload)) == NULL)
		goto out;
	h64 = sim_b64url((const unsigned char *)hdr, strlen(hdr));
	p64 = sim_b64url((const unsigned char *)pj, strlen(pj));
	if (h64 == NULL || p64 == NULL)
		goto out;
	ilen = strlen(h64) + 1 + strlen(p64);
	if ((input = malloc(ilen + 1)) == NULL)
		goto out;
	snprintf(input, ilen + 1, "%s.%s", h64, p64);
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL,
	    key) != 1 ||
	    EVP_DigestSign(md, NULL, &siglen, (unsigned char *)input,
	    ilen) != 1 || (sig = malloc(siglen)) == NULL ||
	    EVP_DigestSign(md, sig, &siglen, (unsigned char *)input,
	    ilen) != 1)
		goto out;
	if ((s64 = sim_b64url(sig, siglen)) == NULL)
		goto out;
	if ((tok = malloc(ilen + 1 + strlen(s64) + 1)) == NULL)
		goto out;
	snprintf(tok, ilen + 1 + strlen(s64) + 1, "%s.%s", input, s64);
out:
	ERR_clear_error();
	EVP_MD_CTX_free(md);
	free(sig);
	free(pj);
	free(h64);
	free(p64);
	free(s64);
	free(input);
	return (tok);
}

char *
sim_jwt_sign(const struct sim_tls *t, const cJSON *payload)
{
	return (sign_compact(t->sign_key, "{\"typ\":\"JWT\",\"alg\":"
	    "\"RS256\",\"kid\":\"defgate-sim\"}", payload));
}

cJSON *
sim_jwt_verify(const struct sim_tls *t, const char *tok, size_t len)
{
	EVP_MD_CTX	*md = NULL;
	const char	*d1, *d2;
	unsigned char	*sig = NULL, *hdr = NULL, *pl = NULL;
	size_t		 siglen, hlen, plen;
	cJSON		*h = NULL, *p = NULL, *alg;
	int		 ok = 0;

	if ((d1 = memchr(tok, '.', len)) == NULL ||
	    (d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - tok))) == NULL ||
	    memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - tok)) != NULL)
		return (NULL);
	if ((hdr = sim_b64url_decode(tok, (size_t)(d1 - tok), &hlen)) == NULL ||
	    (pl = sim_b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1),
	    &plen)) == NULL ||
	    (sig = sim_b64url_decode(d2 + 1, len - (size_t)(d2 + 1 - tok),
	    &siglen)) == NULL)
		goto out;
	if ((h = cJSON_ParseWithLength((char *)hdr, hlen)) == NULL ||
	    (alg = cJSON_GetObjectItemCaseSensitive(h, "alg")) == NULL ||
	    !cJSON_IsString(alg) || strcmp(alg->valuestring, "RS256") != 0)
		goto out;
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL,
	    t->sign_key) != 1 ||
	    EVP_DigestVerify(md, sig, siglen, (const unsigned char *)tok,
	    (size_t)(d2 - tok)) != 1)
		goto out;
	if ((p = cJSON_ParseWithLength((char *)pl, plen)) == NULL ||
	    !cJSON_IsObject(p))
		goto out;
	ok = 1;
out:
	ERR_clear_error();
	EVP_MD_CTX_free(md);
	cJSON_Delete(h);
	if (!ok) {
		cJSON_Delete(p);
		p = NULL;
	}
	free(hdr);
	free(pl);
	free(sig);
	return (p);
}

/* ---- certificates ---- */

static char *
bio_string(BIO *b)
{
	char	*p, *s;
	long	 n;

	n = BIO_get_mem_data(b, &p);
	if (n < 0 || (s = malloc((size_t)n + 1)) == NULL)
		return (NULL);
	memcpy(s, p, (size_t)n);
	s[n] = '\0';
	return (s);
}

static char *
cert_pem_of(X509 *x)
{
	BIO	*b;
	char	*s = NULL;

	if ((b = BIO_new(BIO_s_mem())) == NULL)
		return (NULL);
	if (PEM_write_bio_X509(b, x) == 1)
		s = bio_string(b);
	BIO_free(b);
	return (s);
}

static char *
key_pem_of(EVP_PKEY *k)
{
	BIO	*b;
	char	*s = NULL;

	if ((b = BIO_new(BIO_s_mem())) == NULL)
		return (NULL);
	if (PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) == 1)
		s = bio_string(b);
	BIO_free(b);
	return (s);
}

static int
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX	 ctx;
	X509_EXTENSION	*ext;
	int		 r;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return (-1);
	r = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return (r == 1 ? 0 : -1);
}

static int
set_name(X509_NAME *n, const char *cn)
{
	if (X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC,
	    (const unsigned char *)"defgate", -1, -1, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0) != 1)
		return (-1);
	return (0);
}

/* A v3 certificate for key, valid now-1h .. now+2 days, random serial. */
static X509 *
new_cert(EVP_PKEY *key, const char *cn)
{
	X509		*x;
	BIGNUM		*bn = NULL;
	ASN1_INTEGER	*serial = NULL;
	int		 ok = 0;

	if ((x = X509_new()) == NULL)
		return (NULL);
	if (X509_set_version(x, X509_VERSION_3) != 1 ||
	    (bn = BN_new()) == NULL ||
	    BN_rand(bn, 127, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) != 1 ||
	    (serial = BN_to_ASN1_INTEGER(bn, NULL)) == NULL ||
	    X509_set_serialNumber(x, serial) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x),
	    (long)SIM_CERT_DAYS * 86400) == NULL ||
	    X509_set_pubkey(x, key) != 1 ||
	    set_name(X509_get_subject_name(x), cn) == -1)
		goto out;
	ok = 1;
out:
	BN_free(bn);
	ASN1_INTEGER_free(serial);
	if (!ok) {
		X509_free(x);
		x = NULL;
	}
	return (x);
}

/*
 * The server key: EC P-256 (GnuTLS, and so libmicrohttpd, accepts it and
 * handshakes are much cheaper than RSA, which matters with hundreds of
 * concurrent test connections).
 */
int
sim_tls_init(struct sim_tls *t, char **err)
{
	EVP_PKEY	*cakey = NULL, *srvkey = NULL;
	X509		*ca = NULL, *srv = NULL;
	int		 rc = -1;

	memset(t, 0, sizeof(*t));
	if ((cakey = EVP_EC_gen("P-256")) == NULL ||
	    (srvkey = EVP_EC_gen("P-256")) == NULL) {
		set_err(err, "cannot generate EC keys");
		goto out;
	}
	if ((t->sign_key = EVP_RSA_gen(2048)) == NULL) {
		set_err(err, "cannot generate the RSA token signing key");
		goto out;
	}
	if ((ca = new_cert(cakey, "defgate test CA")) == NULL ||
	    X509_set_issuer_name(ca, X509_get_subject_name(ca)) != 1 ||
	    add_ext(ca, ca, NID_basic_constraints, "critical,CA:TRUE") ||
	    add_ext(ca, ca, NID_key_usage, "critical,keyCertSign,cRLSign") ||
	    add_ext(ca, ca, NID_subject_key_identifier, "hash") ||
	    X509_sign(ca, cakey, EVP_sha256()) == 0) {
		set_err(err, "cannot make the CA certificate");
		goto out;
	}
	if ((srv = new_cert(srvkey, "localhost")) == NULL ||
	    X509_set_issuer_name(srv, X509_get_subject_name(ca)) != 1 ||
	    add_ext(srv, ca, NID_basic_constraints, "critical,CA:FALSE") ||
	    add_ext(srv, ca, NID_key_usage, "critical,digitalSignature") ||
	    add_ext(srv, ca, NID_ext_key_usage, "serverAuth") ||
	    add_ext(srv, ca, NID_subject_alt_name,
	    "DNS:localhost,IP:127.0.0.1,IP:::1") ||
	    add_ext(srv, ca, NID_subject_key_identifier, "hash") ||
	    add_ext(srv, ca, NID_authority_key_identifier, "keyid:always") ||
	    X509_sign(srv, cakey, EVP_sha256()) == 0) {
		set_err(err, "cannot make the server certificate");
		goto out;
	}
	if ((t->ca_pem = cert_pem_of(ca)) == NULL ||
	    (t->cert_pem = cert_pem_of(srv)) == NULL ||
	    (t->key_pem = key_pem_of(srvkey)) == NULL) {
		set_err(err, "cannot encode PEM");
		goto out;
	}
	rc = 0;
out:
	EVP_PKEY_free(cakey);
	EVP_PKEY_free(srvkey);
	X509_free(ca);
	X509_free(srv);
	if (rc == -1)
		sim_tls_free(t);
	return (rc);
}

void
sim_tls_free(struct sim_tls *t)
{
	free(t->ca_pem);
	free(t->cert_pem);
	if (t->key_pem != NULL) {
		OPENSSL_cleanse(t->key_pem, strlen(t->key_pem));
		free(t->key_pem);
	}
	EVP_PKEY_free(t->sign_key);
	memset(t, 0, sizeof(*t));
}

int
sim_tls_write_ca(const struct sim_tls *t, const char *path, char **err)
{
	char	 tmp[4096], msg[4200];
	FILE	*f;
	size_t	 n = strlen(t->ca_pem);

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path,
	    (long)getpid()) >= (int)sizeof(tmp)) {
		set_err(err, "CA output path too long");
		return (-1);
	}
	if ((f = fopen(tmp, "w")) == NULL)
		goto fail;
	if (fwrite(t->ca_pem, 1, n, f) != n) {
		fclose(f);
		unlink(tmp);
		goto fail;
	}
	if (fclose(f) != 0 || rename(tmp, path) == -1) {
		unlink(tmp);
		goto fail;
	}
	return (0);
fail:
	snprintf(msg, sizeof(msg), "%s: %s", path, strerror(errno));
	ERR_clear_error();
	set_err(err, msg);
	return (-1);
}

/* ---- client credentials: certificates, public keys, assertions ---- */

static X509 *
pem_cert(const char *pem)
{
	BIO	*b;
	X509	*x;

	if ((b = BIO_new_mem_buf(pem, -1)) == NULL)
		return (NULL);
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	return (x);
}

int
sim_tls_cert(const char *pem, EVP_PKEY **pub, char **x5t, char **x5t256,
    char **err)
{
	X509		*x;
	unsigned char	 d1[EVP_MAX_MD_SIZE], d2[EVP_MAX_MD_SIZE];
	unsigned int	 n1 = 0, n2 = 0;
	int		 rc = -1;

	*pub = NULL;
	*x5t = *x5t256 = NULL;
	if ((x = pem_cert(pem)) == NULL) {
		set_err(err, "the client certificate is not a PEM certificate");
		return (-1);
	}
	if (X509_digest(x, EVP_sha1(), d1, &n1) != 1 ||
	    X509_digest(x, EVP_sha256(), d2, &n2) != 1 ||
	    (*pub = X509_get_pubkey(x)) == NULL) {
		set_err(err, "cannot read the client certificate");
		goto out;
	}
	*x5t = sim_b64url(d1, n1);
	*x5t256 = sim_b64url(d2, n2);
	rc = *x5t && *x5t256 ? 0 : -1;
out:
	X509_free(x);
	ERR_clear_error();
	return (rc);
}

EVP_PKEY *
sim_tls_pubkey(const char *pem)
{
	BIO		*b;
	EVP_PKEY	*k = NULL;
	X509		*x;

	if ((x = pem_cert(pem)) != NULL) {
		k = X509_get_pubkey(x);
		X509_free(x);
	} else if ((b = BIO_new_mem_buf(pem, -1)) != NULL) {
		k = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
		BIO_free(b);
	}
	ERR_clear_error();
	return (k);
}

int
sim_jwt_split(const char *tok, size_t len, cJSON **hdr, cJSON **payload)
{
	const char	*d1, *d2;
	unsigned char	*h = NULL, *p = NULL;
	size_t		 hlen, plen;

	*hdr = *payload = NULL;
	if ((d1 = memchr(tok, '.', len)) == NULL ||
	    (d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - tok))) == NULL ||
	    memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - tok)) != NULL)
		return (-1);
	if ((h = sim_b64url_decode(tok, (size_t)(d1 - tok), &hlen)) != NULL &&
	    (p = sim_b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1),
	    &plen)) != NULL) {
		*hdr = cJSON_ParseWithLength((char *)h, hlen);
		*payload = cJSON_ParseWithLength((char *)p, plen);
	}
	free(h);
	free(p);
	if (!cJSON_IsObject(*hdr) || !cJSON_IsObject(*payload)) {
		cJSON_Delete(*hdr);
		cJSON_Delete(*payload);
		*hdr = *payload = NULL;
		return (-1);
	}
	return (0);
}

int
sim_jwt_sig_ok(EVP_PKEY *key, const char *tok, size_t len, const char *alg)
{
	EVP_MD_CTX	*md = NULL;
	EVP_PKEY_CTX	*pctx = NULL;
	const char	*d2 = NULL;
	unsigned char	*sig = NULL;
	size_t		 siglen;
	int		 ok = 0, pss = strcmp(alg, "PS256") == 0;

	for (size_t i = 0, dots = 0; i < len; i++)
		if (tok[i] == '.' && ++dots == 2)
			d2 = tok + i;
	if (key == NULL || d2 == NULL || (!pss && strcmp(alg, "RS256") != 0) ||
	    EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA)
		return (0);
	if ((sig = sim_b64url_decode(d2 + 1, len - (size_t)(d2 + 1 - tok),
	    &siglen)) == NULL)
		return (0);
	if ((md = EVP_MD_CTX_new()) != NULL &&
	    EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL, key) == 1 &&
	    (!pss || (EVP_PKEY_CTX_set_rsa_padding(pctx,
	    RSA_PKCS1_PSS_PADDING) == 1 &&
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_AUTO) == 1)) &&
	    EVP_DigestVerify(md, sig, siglen, (const unsigned char *)tok,
	    (size_t)(d2 - tok)) == 1)
		ok = 1;
	ERR_clear_error();
	EVP_MD_CTX_free(md);
	free(sig);
	return (ok);
}

int
sim_make_client_cert(const char *cn, int days, char **cert_pem,
    char **key_pem)
{
	EVP_PKEY	*k;
	X509		*x = NULL;
	int		 rc = -1;

	*cert_pem = *key_pem = NULL;
	if ((k = EVP_RSA_gen(2048)) == NULL ||
	    (x = new_cert(k, cn)) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), (long)days * 86400) ==
	    NULL ||
	    X509_set_issuer_name(x, X509_get_subject_name(x)) != 1 ||
	    X509_sign(x, k, EVP_sha256()) == 0)
		goto out;
	*cert_pem = cert_pem_of(x);
	*key_pem = key_pem_of(k);
	rc = *cert_pem && *key_pem ? 0 : -1;
out:
	ERR_clear_error();
	EVP_PKEY_free(k);
	X509_free(x);
	return (rc);
}

char *
sim_federated_token(const char *key_pem, const char *issuer,
    const char *subject, int lifetime)
{
	BIO		*b;
	EVP_PKEY	*k = NULL;
	cJSON		*p = cJSON_CreateObject();
	char		*tok = NULL, jti[37];
	long long	 now = util_now();

	util_uuid(jti);
	cJSON_AddStringToObject(p, "iss", issuer);
	cJSON_AddStringToObject(p, "sub", subject);
	cJSON_AddStringToObject(p, "aud", "api://AzureADTokenExchange");
	cJSON_AddStringToObject(p, "jti", jti);
	cJSON_AddNumberToObject(p, "iat", (double)now);
	cJSON_AddNumberToObject(p, "nbf", (double)now);
	cJSON_AddNumberToObject(p, "exp", (double)(now + lifetime));
	if ((b = BIO_new_mem_buf(key_pem, -1)) != NULL) {
		k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
		BIO_free(b);
	}
	if (k != NULL)
		tok = sign_compact(k, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}", p);
	ERR_clear_error();
	EVP_PKEY_free(k);
	cJSON_Delete(p);
	return (tok);
}

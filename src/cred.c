/*
 * cred.c: credentials (see cred.h): choosing one, building the token
 * request of each kind, reading the answers, and what the status page and
 * --check show. The certificate itself is cred_cert.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/crypto.h>

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
	cred_cert_forget_key(cf->cert);
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
	    (o->cert && strcmp(cred_cert_info(o)->thumbprint_sha256,
	    cred_cert_info(n)->thumbprint_sha256) != 0));
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
		if ((assertion = cred_cert_assertion(cf, req->url,
		    util_now())) == NULL) {
			cred_req_free(req);
			return (req_fail(err, "cannot sign the client "
			    "assertion: the certificate's key is not loaded or "
			    "refused to sign"));
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
	if (rc == 0) {
		/* a long-running daemon crosses into the 30 days too */
		cred_cert_check_expiry(cf, now);
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
		const char *w = cred_cert_warning(i, now, warn, sizeof(warn));

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
		printf("  assertion:    %s\n", cred_cert_assertion_form(cf));
		if ((w = cred_cert_warning(i, now, warn, sizeof(warn))) != NULL)
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

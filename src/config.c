/*
 * config.c: settings from command line > environment > config file.
 *
 * Main thread only. Every problem found is appended to an error buffer as
 * one line naming the key, its environment variable and the fix, and the
 * load goes on so the user sees all problems in one run (relayd's yyerror).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cloud.h"
#include "config.h"
#include "cred.h"
#include "egress.h"
#include "log.h"
#include "util.h"

#define CONFIG_LINE_MAX		4096
#define CONFIG_FILE_MAX		(256 * 1024)
#define CONFIG_SECRET_MAX	4096

enum kind { K_STR, K_SECRET, K_BOOL, K_SIZE, K_SECONDS, K_UINT, K_VERSION,
	K_CIDRS, K_HUNT, K_QUOTA, K_LOGFMT };

struct key {
	const char	*name;
	const char	*env;
	enum kind	 kind;
	size_t		 off;
	long long	 min, max;
	const char	*fix;		/* how to fix a bad value */
};

#define OFF(f)	offsetof(struct gw_config, f)

static const struct key keys[] = {
	{ "tenant_id", "AZURE_TENANT_ID", K_STR, OFF(tenant_id), 0, 0,
	  "set it to your Directory (tenant) ID" },
	{ "client_id", "AZURE_CLIENT_ID", K_STR, OFF(client_id), 0, 0,
	  "set it to the app registration's Application (client) ID" },
	{ "client_secret", "AZURE_CLIENT_SECRET", K_SECRET,
	  OFF(client_secret), 0, 0,
	  "set it (or client_secret_file) to the client secret's Value" },
	{ "client_secret_file", "AZURE_CLIENT_SECRET_FILE", K_STR,
	  OFF(client_secret_file), 0, 0,
	  "point it at a readable file holding the secret value" },
	{ "authority_host", "AZURE_AUTHORITY_HOST", K_STR,
	  OFF(authority_host), 0, 0,
	  "use an https:// URL such as https://login.microsoftonline.com" },
	{ "api_url", "DEFGATE_API_URL", K_STR, OFF(api_url), 0, 0,
	  "use an https:// URL such as https://api.security.microsoft.com" },
	{ "scope", "DEFGATE_SCOPE", K_STR, OFF(scope), 0, 0,
	  "use https://api.security.microsoft.com/.default" },
	{ "graph_url", "DEFGATE_GRAPH_URL", K_STR, OFF(graph_url), 0, 0,
	  "use an https:// URL such as https://graph.microsoft.com" },
	{ "graph_scope", "DEFGATE_GRAPH_SCOPE", K_STR, OFF(graph_scope), 0, 0,
	  "use https://graph.microsoft.com/.default" },
	{ "mde_url", "DEFGATE_MDE_URL", K_STR, OFF(mde_url), 0, 0,
	  "use an https:// URL such as https://api.security.microsoft.com" },
	{ "mde_scope", "DEFGATE_MDE_SCOPE", K_STR, OFF(mde_scope), 0, 0,
	  "use https://api.securitycenter.microsoft.com/.default" },
	{ "hunting_backend", "DEFGATE_HUNTING_BACKEND", K_HUNT,
	  OFF(hunting_backend), 0, 0, "use auto, graph or defender" },
	{ "token_version", "DEFGATE_TOKEN_VERSION", K_VERSION,
	  OFF(token_version), 0, 0, "use v1 or v2" },
	{ "ca_file", "DEFGATE_CA_FILE", K_STR, OFF(ca_file), 0, 0,
	  "point it at a readable PEM bundle or leave it unset" },
	{ "listen", "DEFGATE_LISTEN", K_STR, OFF(listen), 0, 0,
	  "use HOST:PORT, e.g. 127.0.0.1:8080" },
	{ "server_names", "DEFGATE_SERVER_NAMES", K_STR, OFF(server_names),
	  0, 0, "use a comma-separated list of host names, e.g. defgate,"
	  "defgate.internal" },
	{ "cors_origins", "DEFGATE_CORS_ORIGINS", K_STR, OFF(cors_origins),
	  0, 0, "use a comma-separated list of origins, e.g. "
	  "https://soc.example.com" },
	{ "allow_write", "DEFGATE_ALLOW_WRITE", K_BOOL, OFF(allow_write),
	  0, 1, "use true or false" },
	{ "allow_from", "DEFGATE_ALLOW_FROM", K_CIDRS, 0, 0, 0,
	  "use a comma-separated list of CIDRs, e.g. 127.0.0.1/32,10.0.0.0/8" },
	{ "max_body", "DEFGATE_MAX_BODY", K_SIZE, OFF(max_body),
	  1, 64LL << 20, "use a size from 1 to 64m, e.g. 1m or 524288" },
	{ "max_response", "DEFGATE_MAX_RESPONSE", K_SIZE, OFF(max_response),
	  1024, 4LL << 30, "use a size from 1k to 4g, e.g. 256m" },
	{ "timeout", "DEFGATE_TIMEOUT", K_SECONDS, OFF(timeout_ms), 1, 3600,
	  "use whole seconds from 1 to 3600" },
	{ "connect_timeout", "DEFGATE_CONNECT_TIMEOUT", K_SECONDS,
	  OFF(connect_timeout_ms), 1, 300, "use whole seconds from 1 to 300" },
	{ "token_timeout", "DEFGATE_TOKEN_TIMEOUT", K_SECONDS,
	  OFF(token_timeout_ms), 1, 300, "use whole seconds from 1 to 300" },
	{ "max_clients", "DEFGATE_MAX_CLIENTS", K_UINT, OFF(max_clients),
	  1, 60000, "use a number from 1 to 60000" },
	{ "client_timeout", "DEFGATE_CLIENT_TIMEOUT", K_UINT,
	  OFF(client_timeout), 1, 3600, "use whole seconds from 1 to 3600" },
	{ "half_close", "DEFGATE_HALF_CLOSE", K_BOOL, OFF(half_close), 0, 1,
	  "use on or off" },
	{ "threads", "DEFGATE_THREADS", K_UINT, OFF(threads), 1,
	  CONFIG_MAX_THREADS, "use a number from 1 to 64" },
	{ "http2", "DEFGATE_HTTP2", K_BOOL, OFF(http2), 0, 1,
	  "use true or false" },
	{ "max_upstream_connections", "DEFGATE_MAX_UPSTREAM_CONNECTIONS",
	  K_UINT, OFF(max_upstream_conns), 1, 1024,
	  "use a number from 1 to 1024" },
	/* credential, cloud and egress proxy */
	{ "credential", "DEFGATE_CREDENTIAL", K_STR, OFF(credential_name),
	  0, 0, "use secret, certificate, federated or managed_identity" },
	{ "client_certificate_path", "AZURE_CLIENT_CERTIFICATE_PATH", K_STR,
	  OFF(client_certificate_path), 0, 0,
	  "point it at a PEM (certificate and key) or PKCS#12 file" },
	{ "client_certificate_password", "AZURE_CLIENT_CERTIFICATE_PASSWORD",
	  K_SECRET, OFF(client_certificate_password), 0, 0,
	  "set it to the PKCS#12 (or encrypted PEM key) password" },
	{ "client_assertion_alg", "DEFGATE_CLIENT_ASSERTION_ALG", K_STR,
	  OFF(client_assertion_alg), 0, 0, "use PS256 or RS256" },
	{ "send_certificate_chain", "AZURE_CLIENT_SEND_CERTIFICATE_CHAIN",
	  K_BOOL, OFF(send_certificate_chain), 0, 1, "use true or false" },
	{ "federated_token_file", "AZURE_FEDERATED_TOKEN_FILE", K_STR,
	  OFF(federated_token_file), 0, 0,
	  "point it at the projected service-account token file" },
	{ "identity_endpoint", "IDENTITY_ENDPOINT", K_STR,
	  OFF(identity_endpoint), 0, 0,
	  "leave it to App Service / Container Apps, which set it" },
	{ "identity_header", "IDENTITY_HEADER", K_SECRET,
	  OFF(identity_header), 0, 0,
	  "leave it to App Service / Container Apps, which set it" },
	{ "imds_url", "DEFGATE_IMDS_URL", K_STR, OFF(imds_url), 0, 0,
	  "use http://169.254.169.254 (the default)" },
	{ "cloud", "DEFGATE_CLOUD", K_STR, OFF(cloud), 0, 0,
	  "use public, gcc, gcchigh or dod" },
	{ "proxy", "HTTPS_PROXY", K_SECRET, OFF(proxy), 0, 0,
	  "use http://HOST:PORT (user:password@ allowed)" },
	{ "no_proxy", "NO_PROXY", K_STR, OFF(no_proxy), 0, 0,
	  "use a comma-separated list of hosts or domains" },
	/* the response cache and local rate limits (steward.h) */
	{ "cache", "DEFGATE_CACHE", K_BOOL, OFF(cache), 0, 1,
	  "use on or off" },
	{ "cache_max_bytes", "DEFGATE_CACHE_MAX_BYTES", K_SIZE,
	  OFF(cache_max_bytes), 0, 4LL << 30,
	  "use a size from 0 to 4g, e.g. 64m" },
	{ "cache_max_share", "DEFGATE_CACHE_MAX_SHARE", K_UINT,
	  OFF(cache_max_share), 1, 100,
	  "use a percentage from 1 to 100 (the largest answer cached)" },
	{ "cache_ttl", "DEFGATE_CACHE_TTL", K_UINT, OFF(cache_ttl), 0, 86400,
	  "use whole seconds from 1 to 86400, or 0 for each route's own" },
	{ "stale_max_age", "DEFGATE_STALE_MAX_AGE", K_SECONDS,
	  OFF(stale_max_age_ms), 0, 86400,
	  "use whole seconds from 0 to 86400" },
	{ "quota_incidents", "DEFGATE_QUOTA_INCIDENTS", K_QUOTA,
	  OFF(quota[QUOTA_INCIDENTS]), 0, 0,
	  "use calls per window, e.g. 50/min,1500/h, or off" },
	{ "quota_hunting", "DEFGATE_QUOTA_HUNTING", K_QUOTA,
	  OFF(quota[QUOTA_HUNTING]), 0, 0,
	  "use calls per window, e.g. 45/min,1500/h, or off" },
	{ "quota_mde", "DEFGATE_QUOTA_MDE", K_QUOTA, OFF(quota[QUOTA_MDE]),
	  0, 0, "use calls per window, e.g. 100/min,1500/h, or off" },
	{ "quota_graph", "DEFGATE_QUOTA_GRAPH", K_QUOTA,
	  OFF(quota[QUOTA_GRAPH]), 0, 0,
	  "use calls per window, e.g. 150/min, or off" },
	/* log records and the access log (log.h, accesslog.h) */
	{ "log_format", "DEFGATE_LOG_FORMAT", K_LOGFMT, OFF(log_json), 0, 0,
	  "use text or json" },
	{ "log_queries", "DEFGATE_LOG_QUERIES", K_BOOL, OFF(log_queries), 0,
	  1, "use on or off" },
};

#define NKEYS	(sizeof(keys) / sizeof(keys[0]))

static void
errf(struct buf *errs, const char *fmt, ...)
    __attribute__((__format__(__printf__, 2, 3)));

static void
errf(struct buf *errs, const char *fmt, ...)
{
	char	 line[512];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (errs == NULL)
		return;
	(void)buf_addstr(errs, line);
	(void)buf_addstr(errs, "\n");
}

static const struct key *
key_find(const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return (&keys[i]);
	return (NULL);
}

const char *
config_env_name(const char *name)
{
	const struct key *k = key_find(name);

	return (k ? k->env : NULL);
}

/*
 * One front thread per CPU this process may run on (its affinity mask:
 * a container's cpuset, taskset), at most CONFIG_DEFAULT_THREADS_MAX:
 * past that the one back thread and the cache's lock are the limit.
 */
unsigned int
config_default_threads(void)
{
	cpu_set_t	 set;
	long		 n = 0;

	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		n = CPU_COUNT(&set);
	if (n < 1)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	return (n > CONFIG_DEFAULT_THREADS_MAX ? CONFIG_DEFAULT_THREADS_MAX :
	    (unsigned int)n);
}

void
config_defaults(struct gw_config *cf)
{
	memset(cf, 0, sizeof(*cf));
	cf->authority_host = xstrdup("https://login.microsoftonline.com");
	cf->api_url = xstrdup("https://api.security.microsoft.com");
	cf->scope = xstrdup("https://api.security.microsoft.com/.default");
	cf->graph_url = xstrdup("https://graph.microsoft.com");
	cf->graph_scope = xstrdup("https://graph.microsoft.com/.default");
	cf->mde_url = xstrdup("https://api.security.microsoft.com");
	cf->mde_scope = xstrdup(
	    "https://api.securitycenter.microsoft.com/.default");
	cf->hunting_backend = CONFIG_HUNT_AUTO;
	cf->token_version = 2;
	cf->listen = xstrdup("127.0.0.1:8080");
	cf->max_body = 1 << 20;
	cf->max_response = 256UL << 20;
	cf->max_clients = 4096;
	cf->client_timeout = 60;
	cf->half_close = 1;
	cf->threads = config_default_threads();
	cf->connect_timeout_ms = 10 * 1000;
	cf->timeout_ms = 200 * 1000;
	cf->token_timeout_ms = 30 * 1000;
	cf->max_upstream_conns = 8;
	cf->http2 = 1;
	cf->imds_url = xstrdup("http://169.254.169.254");
	cf->cloud = xstrdup("public");
	cf->cache = 1;
	cf->cache_max_bytes = 64UL << 20;
	cf->cache_max_share = 10;
	cf->stale_max_age_ms = 300 * 1000;
	quota_defaults(cf->quota);
}

static int
parse_size(const char *v, long long *out)
{
	char		 num[32];
	size_t		 n = strlen(v);
	long long	 mult = 1, x;

	if (n == 0 || n >= sizeof(num))
		return (-1);
	memcpy(num, v, n + 1);
	switch (tolower((unsigned char)num[n - 1])) {
	case 'k': mult = 1LL << 10; break;
	case 'm': mult = 1LL << 20; break;
	case 'g': mult = 1LL << 30; break;
	default: break;
	}
	if (mult != 1)
		num[--n] = '\0';
	if (util_parse_ll(num, 0, (1LL << 40), &x) == -1 ||
	    x > (1LL << 40) / mult)
		return (-1);
	*out = x * mult;
	return (0);
}

static int
parse_bool(const char *v, int *out)
{
	if (!strcasecmp(v, "true") || !strcasecmp(v, "yes") ||
	    !strcasecmp(v, "on") || !strcmp(v, "1"))
		*out = 1;
	else if (!strcasecmp(v, "false") || !strcasecmp(v, "no") ||
	    !strcasecmp(v, "off") || !strcmp(v, "0"))
		*out = 0;
	else
		return (-1);
	return (0);
}

static int
parse_cidr(const char *s, struct config_cidr *c)
{
	char		 host[INET6_ADDRSTRLEN + 8];
	const char	*slash = strchr(s, '/');
	size_t		 n = slash ? (size_t)(slash - s) : strlen(s);
	long long	 p;

	if (n == 0 || n >= sizeof(host))
		return (-1);
	memcpy(host, s, n);
	host[n] = '\0';
	memset(c, 0, sizeof(*c));
	if (inet_pton(AF_INET, host, c->addr) == 1) {
		c->family = AF_INET;
		c->prefix = 32;
	} else if (inet_pton(AF_INET6, host, c->addr) == 1) {
		c->family = AF_INET6;
		c->prefix = 128;
	} else
		return (-1);
	if (slash) {
		if (util_parse_ll(slash + 1, 0, c->prefix, &p) == -1)
			return (-1);
		c->prefix = (int)p;
	}
	return (0);
}

static int
parse_cidrs(struct gw_config *cf, const char *v)
{
	char	 item[128];
	int	 n = 0;

	while (*v) {
		const char	*end = strchr(v, ',');
		size_t		 len = end ? (size_t)(end - v) : strlen(v);

		while (len && isspace((unsigned char)*v)) {
			v++;
			len--;
		}
		while (len && isspace((unsigned char)v[len - 1]))
			len--;
		if (len == 0 || len >= sizeof(item) || n >= CONFIG_MAX_ALLOW)
			return (-1);
		memcpy(item, v, len);
		item[len] = '\0';
		if (parse_cidr(item, &cf->allow_from[n]) == -1)
			return (-1);
		n++;
		if (end == NULL)
			break;
		v = end + 1;
	}
	if (n == 0)
		return (-1);
	cf->nallow_from = n;
	cf->allow_from_set = 1;
	return (0);
}

int
config_set(struct gw_config *cf, const char *name, const char *value,
    struct buf *errs)
{
	const struct key	*k;
	char			**sp;
	long long		 v;
	int			 b;

	if ((k = key_find(name)) == NULL) {
		errf(errs, "%s: unknown setting: see defgate --help for the "
		    "list of settings", name);
		return (-1);
	}
	cloud_note_set(&cf->cloud_explicit, name);
	switch (k->kind) {
	case K_STR:
	case K_SECRET:
		sp = (char **)(void *)((char *)cf + k->off);
		if (k->kind == K_SECRET)
			util_free_secret(*sp);
		else
			free(*sp);
		*sp = xstrdup(value);
		return (0);
	case K_BOOL:
		if (parse_bool(value, &b) == -1)
			break;
		*(int *)(void *)((char *)cf + k->off) = b;
		return (0);
	case K_VERSION:
		if (!strcasecmp(value, "v1") || !strcmp(value, "1") ||
		    !strcmp(value, "1.0"))
			cf->token_version = 1;
		else if (!strcasecmp(value, "v2") || !strcmp(value, "2") ||
		    !strcmp(value, "2.0"))
			cf->token_version = 2;
		else
			break;
		return (0);
	case K_HUNT:
		if (!strcasecmp(value, "auto"))
			cf->hunting_backend = CONFIG_HUNT_AUTO;
		else if (!strcasecmp(value, "graph"))
			cf->hunting_backend = CONFIG_HUNT_GRAPH;
		else if (!strcasecmp(value, "defender"))
			cf->hunting_backend = CONFIG_HUNT_DEFENDER;
		else
			break;
		return (0);
	case K_LOGFMT:
		if (!strcasecmp(value, "text"))
			cf->log_json = 0;
		else if (!strcasecmp(value, "json"))
			cf->log_json = 1;
		else
			break;
		return (0);
	case K_SIZE:
		if (parse_size(value, &v) == -1 || v < k->min || v > k->max)
			break;
		*(size_t *)(void *)((char *)cf + k->off) = (size_t)v;
		return (0);
	case K_SECONDS:
		if (util_parse_ll(value, k->min, k->max, &v) == -1)
			break;
		*(long *)(void *)((char *)cf + k->off) = (long)v * 1000;
		return (0);
	case K_UINT:
		if (util_parse_ll(value, k->min, k->max, &v) == -1)
			break;
		if (k->off == OFF(max_upstream_conns))
			cf->max_upstream_conns = (long)v;
		else
			*(unsigned int *)(void *)((char *)cf + k->off) =
			    (unsigned int)v;
		return (0);
	case K_CIDRS:
		if (parse_cidrs(cf, value) == -1)
			break;
		return (0);
	case K_QUOTA: {
		const char *why;

		if (quota_parse_limit(value, (struct quota_limit *)(void *)
		    ((char *)cf + k->off), &why) == -1) {
			errf(errs, "%s (%s) has an invalid value \"%s\": %s; "
			    "%s", k->name, k->env, value, why, k->fix);
			return (-1);
		}
		return (0);
	}
	}
	/* never echo the value of a secret */
	errf(errs, "%s (%s) has an invalid value \"%s\": %s", k->name, k->env,
	    k->kind == K_SECRET ? "<hidden>" : value, k->fix);
	return (-1);
}

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return (s);
}

int
config_load_stream(struct gw_config *cf, FILE *f, const char *path,
    struct buf *errs)
{
	char	 line[CONFIG_LINE_MAX];
	int	 lineno = 0, rc = 0, has_secret = 0;

	while (fgets(line, sizeof(line), f) != NULL) {
		char	*p, *eq, *k, *v;
		size_t	 n = strlen(line);

		lineno++;
		if (n == sizeof(line) - 1 && line[n - 1] != '\n') {
			errf(errs, "%s:%d: line too long (max %d bytes)",
			    path, lineno, CONFIG_LINE_MAX - 2);
			rc = -1;
			while (n == sizeof(line) - 1 && line[n - 1] != '\n' &&
			    fgets(line, sizeof(line), f) != NULL)
				n = strlen(line);
			continue;
		}
		p = trim(line);
		if (*p == '\0' || *p == '#' || *p == ';')
			continue;
		if (*p == '[')		/* [defgate] section headers are fine */
			continue;
		if ((eq = strchr(p, '=')) == NULL) {
			errf(errs, "%s:%d: expected \"key = value\"",
			    path, lineno);
			rc = -1;
			continue;
		}
		*eq = '\0';
		k = trim(p);
		v = trim(eq + 1);
		/* optional quotes around the value */
		n = strlen(v);
		if (n >= 2 && ((v[0] == '"' && v[n - 1] == '"') ||
		    (v[0] == '\'' && v[n - 1] == '\''))) {
			v[n - 1] = '\0';
			v++;
		}
		if (key_find(k) != NULL && key_find(k)->kind == K_SECRET)
			has_secret = 1;	/* any secret, e.g. a key password */
		if (key_find(k) == NULL) {
			errf(errs, "%s:%d: unknown setting \"%s\"", path,
			    lineno, k);
			rc = -1;
			continue;
		}
		if (config_set(cf, k, v, errs) == -1) {
			errf(errs, "%s:%d: (the line above)", path, lineno);
			rc = -1;
		}
	}
	OPENSSL_cleanse(line, sizeof(line));
	return (rc == 0 ? has_secret : -1);
}

int
config_load_file(struct gw_config *cf, const char *path, struct buf *errs)
{
	FILE		*f;
	struct stat	 st;
	int		 rc;

	if ((f = fopen(path, "re")) == NULL) {
		errf(errs, "%s: cannot open config file: %s: check --config",
		    path, strerror(errno));
		return (-1);
	}
	if (fstat(fileno(f), &st) == 0 && st.st_size > CONFIG_FILE_MAX) {
		errf(errs, "%s: config file larger than %d bytes", path,
		    CONFIG_FILE_MAX);
		fclose(f);
		return (-1);
	}
	rc = config_load_stream(cf, f, path, errs);
	if (rc == 1 && (st.st_mode & (S_IRWXG | S_IRWXO)))
		log_warnx("config file %s holds a secret (client_secret, a "
		    "password or IDENTITY_HEADER) and is readable by group or "
		    "others: run chmod 600 %s", path, path);
	fclose(f);
	free(cf->config_file);
	cf->config_file = xstrdup(path);
	return (rc == -1 ? -1 : 0);
}

void
config_load_env(struct gw_config *cf, struct buf *errs)
{
	for (size_t i = 0; i < NKEYS; i++) {
		char *v = getenv(keys[i].env);

		if (v == NULL || *v == '\0')
			continue;
		config_set(cf, keys[i].name, v, errs);
	}
	/* curl's convention: the lowercase forms count too */
	if (cf->proxy == NULL && getenv("https_proxy") && *getenv("https_proxy"))
		config_set(cf, "proxy", getenv("https_proxy"), errs);
	if (cf->no_proxy == NULL && getenv("no_proxy") && *getenv("no_proxy"))
		config_set(cf, "no_proxy", getenv("no_proxy"), errs);
}

static int
read_secret_file(struct gw_config *cf, struct buf *errs)
{
	char		 tmp[CONFIG_SECRET_MAX + 1];
	struct stat	 st;
	ssize_t		 n;
	size_t		 len = 0;
	int		 fd;

	if ((fd = open(cf->client_secret_file, O_RDONLY | O_CLOEXEC)) == -1) {
		errf(errs, "client_secret_file (AZURE_CLIENT_SECRET_FILE): "
		    "cannot read %s: %s", cf->client_secret_file,
		    strerror(errno));
		return (-1);
	}
	while (len < sizeof(tmp) - 1 &&
	    (n = read(fd, tmp + len, sizeof(tmp) - 1 - len)) > 0)
		len += (size_t)n;
	if (fstat(fd, &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)))
		log_warnx("client_secret_file %s is readable by group or "
		    "others: run chmod 600 %s", cf->client_secret_file,
		    cf->client_secret_file);
	close(fd);
	while (len > 0 && (tmp[len - 1] == '\n' || tmp[len - 1] == '\r'))
		len--;
	tmp[len] = '\0';
	if (len == 0 || len >= CONFIG_SECRET_MAX) {
		errf(errs, "client_secret_file (AZURE_CLIENT_SECRET_FILE): "
		    "%s is %s: put the secret value in it", cf->client_secret_file,
		    len == 0 ? "empty" : "too large");
		OPENSSL_cleanse(tmp, sizeof(tmp));
		return (-1);
	}
	util_free_secret(cf->client_secret);
	cf->client_secret = xstrdup(tmp);
	OPENSSL_cleanse(tmp, sizeof(tmp));
	return (0);
}

static int
check_url_scheme(char *url, const char *key, const char *env,
    struct buf *errs, int http_ok)
{
	size_t n, s = 8;

	if (http_ok && strncasecmp(url, "http://", 7) == 0)
		s = 7;
	if ((s == 8 && strncasecmp(url, "https://", 8) != 0) ||
	    url[s] == '\0' || url[s] == '/') {
		errf(errs, "%s (%s) must be an https:// URL, got \"%s\": "
		    "defgate only talks TLS to Entra and the API", key, env,
		    url);
		return (-1);
	}
	for (const char *p = url; *p; p++)
		if (*p <= ' ' || *p == '?' || *p == '#' || *p == '@' ||
		    *p == '\\' || *p == 0x7f) {
			errf(errs, "%s (%s) must be a plain https://host[:port]"
			    " URL without query, credentials or spaces", key,
			    env);
			return (-1);
		}
	n = strlen(url);
	while (n > s && url[n - 1] == '/')
		url[--n] = '\0';
	return (0);
}

static int
check_url(char *url, const char *key, const char *env, struct buf *errs)
{
	return (check_url_scheme(url, key, env, errs, 0));
}

static int
check_scope(const char *scope, const char *key, const char *env,
    const char *example, struct buf *errs)
{
	if (*scope == '\0' || strchr(scope, ' ') != NULL) {
		errf(errs, "%s (%s) must be one resource's \"<App ID URI>/"
		    ".default\", e.g. %s", key, env, example);
		return (-1);
	}
	return (0);
}

static int
id_chars_ok(const char *s, const char *extra)
{
	if (*s == '\0' || strlen(s) > 128)
		return (0);
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && strchr(extra, *s) == NULL)
			return (0);
	return (1);
}

static int
parse_listen(struct gw_config *cf, struct buf *errs)
{
	char		 host[256];
	const char	*l = cf->listen, *colon, *port;
	struct addrinfo	 hints, *res = NULL;
	long long	 p;
	size_t		 n;

	if (l[0] == '[') {
		const char *rb = strchr(l, ']');

		if (rb == NULL || rb[1] != ':')
			goto bad;
		n = (size_t)(rb - l - 1);
		if (n >= sizeof(host))
			goto bad;
		memcpy(host, l + 1, n);
		host[n] = '\0';
		port = rb + 2;
	} else {
		if ((colon = strrchr(l, ':')) == NULL)
			goto bad;
		n = (size_t)(colon - l);
		if (n == 0 || n >= sizeof(host))
			goto bad;
		memcpy(host, l, n);
		host[n] = '\0';
		port = colon + 1;
	}
	if (util_parse_ll(port, 0, 65535, &p) == -1)
		goto bad;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (getaddrinfo(host, port, &hints, &res) != 0 || res == NULL)
		goto bad;
	memcpy(&cf->listen_addr, res->ai_addr, res->ai_addrlen);
	cf->listen_addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	return (0);
bad:
	errf(errs, "listen (DEFGATE_LISTEN) \"%s\" is not a usable HOST:PORT: "
	    "use e.g. 127.0.0.1:8080 or [::1]:8080", l);
	return (-1);
}

/* server_names: host names; cors_origins: scheme://host[:port]. */
static int
check_names(const struct gw_config *cf, struct buf *errs)
{
	const char	*n = cf->server_names, *o = cf->cors_origins;
	int		 rc = 0;

	if (n && (*n == '\0' || strspn(n, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_, ") != strlen(n))) {
		errf(errs, "server_names (DEFGATE_SERVER_NAMES) must be a "
		    "comma-separated list of host names, e.g. defgate,"
		    "defgate.internal");
		rc = -1;
	}
	if (o && (*o == '\0' || (strncmp(o, "http://", 7) != 0 &&
	    strncmp(o, "https://", 8) != 0) || strspn(o, "abcdefghijklmnop"
	    "qrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:/[], ") !=
	    strlen(o))) {
		errf(errs, "cors_origins (DEFGATE_CORS_ORIGINS) must be a "
		    "comma-separated list of origins, e.g. "
		    "https://soc.example.com");
		rc = -1;
	}
	return (rc);
}

int
config_finalize(struct gw_config *cf, struct buf *errs)
{
	int rc = 0, mi;

	/* ---- credential, cloud and egress proxy (cred.c, cloud.c) ---- */
	if (cloud_apply(cf, errs) == -1)
		rc = -1;
	if (cred_choose(cf, errs) == -1)
		rc = -1;
	mi = cf->credential == CRED_MANAGED_IDENTITY;
	if (mi && cf->identity_endpoint && check_url_scheme(
	    cf->identity_endpoint, "identity_endpoint", "IDENTITY_ENDPOINT",
	    errs, 1) == -1)
		rc = -1;
	if (mi && check_url_scheme(cf->imds_url, "imds_url",
	    "DEFGATE_IMDS_URL", errs, 1) == -1)
		rc = -1;
	if (cf->proxy && *cf->proxy && egress_check(cf->proxy, errs) == -1)
		rc = -1;
	if (cf->client_secret_file && *cf->client_secret_file &&
	    cf->credential == CRED_SECRET && read_secret_file(cf, errs) == -1)
		rc = -1;
	if (cred_load(cf, errs) == -1)
		rc = -1;
	/* ---- end of the credential block ---- */

	if (mi && (cf->tenant_id == NULL || *cf->tenant_id == '\0')) {
		/* managed identity needs no tenant */
	} else if (cf->tenant_id == NULL || *cf->tenant_id == '\0') {
		errf(errs, "tenant_id (AZURE_TENANT_ID) is required: set it to "
		    "your Directory (tenant) ID");
		rc = -1;
	} else if (!strcasecmp(cf->tenant_id, "common") ||
	    !strcasecmp(cf->tenant_id, "organizations") ||
	    !strcasecmp(cf->tenant_id, "consumers")) {
		errf(errs, "tenant_id (AZURE_TENANT_ID) \"%s\" cannot be used "
		    "with client credentials: set your tenant ID or domain",
		    cf->tenant_id);
		rc = -1;
	} else if (!id_chars_ok(cf->tenant_id, "-.") ||
	    cf->tenant_id[0] == '.' || strstr(cf->tenant_id, "..") != NULL) {
		errf(errs, "tenant_id (AZURE_TENANT_ID) must be a tenant GUID "
		    "or domain name (letters, digits, '-' and '.')");
		rc = -1;
	}
	if (mi && (cf->client_id == NULL || *cf->client_id == '\0')) {
		/* a system-assigned identity */
	} else if (cf->client_id == NULL || *cf->client_id == '\0') {
		errf(errs, "client_id (AZURE_CLIENT_ID) is required: set it to "
		    "the app registration's Application (client) ID");
		rc = -1;
	} else if (!id_chars_ok(cf->client_id, "-")) {
		errf(errs, "client_id (AZURE_CLIENT_ID) must be the "
		    "Application (client) ID GUID");
		rc = -1;
	}
	if (check_url(cf->authority_host, "authority_host",
	    "AZURE_AUTHORITY_HOST", errs) == -1)
		rc = -1;
	if (check_url(cf->api_url, "api_url", "DEFGATE_API_URL", errs) == -1)
		rc = -1;
	if (check_url(cf->graph_url, "graph_url", "DEFGATE_GRAPH_URL",
	    errs) == -1)
		rc = -1;
	if (check_url(cf->mde_url, "mde_url", "DEFGATE_MDE_URL", errs) == -1)
		rc = -1;
	if (check_scope(cf->scope, "scope", "DEFGATE_SCOPE",
	    "https://api.security.microsoft.com/.default", errs) == -1 ||
	    check_scope(cf->graph_scope, "graph_scope", "DEFGATE_GRAPH_SCOPE",
	    "https://graph.microsoft.com/.default", errs) == -1 ||
	    check_scope(cf->mde_scope, "mde_scope", "DEFGATE_MDE_SCOPE",
	    "https://api.securitycenter.microsoft.com/.default", errs) == -1)
		rc = -1;
	if (cf->ca_file && *cf->ca_file && access(cf->ca_file, R_OK) == -1) {
		errf(errs, "ca_file (DEFGATE_CA_FILE) %s is not readable: %s: "
		    "point it at a PEM bundle or unset it", cf->ca_file,
		    strerror(errno));
		rc = -1;
	}
	if (parse_listen(cf, errs) == -1)
		rc = -1;
	if (check_names(cf, errs) == -1)
		rc = -1;
	return (rc);
}

int
config_build(struct gw_config *cf, const char *file, char *const *cmdline,
    int ncmdline, struct buf *errs)
{
	int rc = 0;

	config_defaults(cf);
	if (file && config_load_file(cf, file, errs) == -1)
		rc = -1;
	config_load_env(cf, errs);
	for (int i = 0; i < ncmdline; i++) {
		char		 key[64];
		const char	*eq = strchr(cmdline[i], '=');
		size_t		 n;

		if (eq == NULL || (n = (size_t)(eq - cmdline[i])) == 0 ||
		    n >= sizeof(key)) {
			/* never echo the entry: it may hold a mistyped secret */
			errf(errs, "--set: expected key=value (entry %d)",
			    i + 1);
			rc = -1;
			continue;
		}
		memcpy(key, cmdline[i], n);
		key[n] = '\0';
		if (config_set(cf, key, eq + 1, errs) == -1)
			rc = -1;
	}
	if (errs && errs->len)
		rc = -1;
	if (config_finalize(cf, errs) == -1)
		rc = -1;
	return (rc);
}

void
config_free(struct gw_config *cf)
{
	if (cf == NULL)
		return;
	cred_forget_secrets(cf);	/* secrets, proxy and the private key */
	free(cf->tenant_id);
	free(cf->client_id);
	util_free_secret(cf->client_secret);
	free(cf->client_secret_file);
	free(cf->authority_host);
	free(cf->api_url);
	free(cf->scope);
	free(cf->graph_url);
	free(cf->graph_scope);
	free(cf->mde_url);
	free(cf->mde_scope);
	free(cf->ca_file);
	free(cf->listen);
	free(cf->server_names);
	free(cf->cors_origins);
	free(cf->config_file);
	free(cf->credential_name);
	free(cf->client_certificate_path);
	free(cf->client_assertion_alg);
	free(cf->federated_token_file);
	free(cf->identity_endpoint);
	free(cf->imds_url);
	free(cf->cloud);
	free(cf->no_proxy);
	cred_cert_free(cf->cert);
	memset(cf, 0, sizeof(*cf));
}

static int
cidr_match(const struct config_cidr *c, const unsigned char *a, int family)
{
	int bits = c->prefix, i;

	if (c->family != family)
		return (0);
	for (i = 0; bits >= 8; i++, bits -= 8)
		if (c->addr[i] != a[i])
			return (0);
	if (bits > 0) {
		unsigned char mask = (unsigned char)(0xff << (8 - bits));

		if ((c->addr[i] & mask) != (a[i] & mask))
			return (0);
	}
	return (1);
}

/* The address bytes and family of sa, v4-mapped v6 as v4; NULL if neither. */
static const unsigned char *
addr_bytes(const struct sockaddr *sa, int *family)
{
	const struct sockaddr_in6 *s6;

	if (sa == NULL)
		return (NULL);
	if (sa->sa_family == AF_INET) {
		*family = AF_INET;
		return ((const unsigned char *)
		    &((const struct sockaddr_in *)(const void *)sa)->sin_addr);
	}
	if (sa->sa_family != AF_INET6)
		return (NULL);
	s6 = (const struct sockaddr_in6 *)(const void *)sa;
	if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		*family = AF_INET;
		return (s6->sin6_addr.s6_addr + 12);
	}
	*family = AF_INET6;
	return (s6->sin6_addr.s6_addr);
}

int
config_is_loopback(const struct sockaddr *sa)
{
	const unsigned char	*a;
	int			 family;

	if ((a = addr_bytes(sa, &family)) == NULL)
		return (0);
	if (family == AF_INET)
		return (a[0] == 127);
	return (IN6_IS_ADDR_LOOPBACK((const struct in6_addr *)(const void *)a));
}

int
config_allowed(const struct gw_config *cf, const struct sockaddr *sa)
{
	const unsigned char	*a;
	int			 family;

	if (!cf->allow_from_set)
		return (config_is_loopback(sa));
	if ((a = addr_bytes(sa, &family)) == NULL)
		return (0);
	for (int i = 0; i < cf->nallow_from; i++)
		if (cidr_match(&cf->allow_from[i], a, family))
			return (1);
	return (0);
}

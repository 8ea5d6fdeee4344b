/*
 * main.c: command line, configuration, signals, start and stop order.
 *
 * Threads: main (this file: signals, reload, shutdown), the MHD front
 * thread (httpd.c) and the curl back thread (upstream.c). Signals are
 * blocked before any thread starts and taken here with sigwait().
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "backend.h"
#include "buf.h"
#include "cfgref.h"
#include "config.h"
#include "cred.h"
#include "httpd.h"
#include "hunting.h"
#include "jwt.h"
#include "log.h"
#include "oauth.h"
#include "routes.h"
#include "sim/sim.h"
#include "status.h"
#include "steward.h"
#include "telemetry.h"
#include "tokensrc.h"
#include "upstream.h"
#include "util.h"

#define SHUTDOWN_GRACE_MS	10000
#define IDLE_TICK_MS		500
#define MAX_SETS		64

static void
usage(FILE *f)
{
	fprintf(f,
"usage: defgate [--config FILE] [--listen HOST:PORT] [--set KEY=VALUE]...\n"
"               [--check | --demo] [-v] [--version] [--help]\n"
"\n"
"  --config FILE      INI-style settings (key = value, # comments)\n"
"  --listen HOST:PORT where to serve (default 127.0.0.1:8080)\n"
"  --set KEY=VALUE    override any setting except client_secret\n"
"  --check            fetch a token per audience the routes need, show the\n"
"                     credential, the roles and which routes work\n"
"  --demo             run against a built-in simulation of Entra, Defender\n"
"                     XDR, Graph and MDE (no Azure tenant needed); with\n"
"                     --set credential=KIND it uses that credential\n"
"  -v, --verbose      debug logging\n"
"\n"
"Settings (command line > environment > config file):\n"
"  tenant_id (AZURE_TENANT_ID), client_id (AZURE_CLIENT_ID),\n"
"  client_secret (AZURE_CLIENT_SECRET) or client_secret_file\n"
"  (AZURE_CLIENT_SECRET_FILE), authority_host (AZURE_AUTHORITY_HOST),\n"
"  api_url (DEFGATE_API_URL), scope (DEFGATE_SCOPE), graph_url, graph_scope,\n"
"  mde_url, mde_scope, hunting_backend (auto|graph|defender), token_version\n"
"  (DEFGATE_TOKEN_VERSION), ca_file (DEFGATE_CA_FILE), listen\n"
"  (DEFGATE_LISTEN), allow_write (DEFGATE_ALLOW_WRITE), allow_from\n"
"  (DEFGATE_ALLOW_FROM), max_body (DEFGATE_MAX_BODY), max_response,\n"
"  timeout, connect_timeout, token_timeout, max_clients, client_timeout,\n"
"  threads, max_upstream_connections, http2, cache (on|off),\n"
"  cache_max_bytes, cache_max_share, cache_ttl, stale_max_age,\n"
"  quota_incidents, quota_hunting, quota_mde, quota_graph (\"50/min,1500/h\"\n"
"  or off) (DEFGATE_<KEY>).\n"
"Credentials: credential (DEFGATE_CREDENTIAL) secret|certificate|federated|\n"
"  managed_identity, or inferred; client_certificate_path\n"
"  (AZURE_CLIENT_CERTIFICATE_PATH), client_certificate_password,\n"
"  client_assertion_alg (PS256|RS256), send_certificate_chain,\n"
"  federated_token_file (AZURE_FEDERATED_TOKEN_FILE), identity_endpoint /\n"
"  identity_header (IDENTITY_ENDPOINT / IDENTITY_HEADER), imds_url.\n"
"Cloud: cloud (DEFGATE_CLOUD) public|gcc|gcchigh|dod. Egress proxy: proxy\n"
"  (HTTPS_PROXY), no_proxy (NO_PROXY).\n"
"Signals: SIGTERM/SIGINT stop gracefully, SIGHUP reloads the settings.\n");
}

struct options {
	const char	*config;
	char		*sets[MAX_SETS];
	int		 nsets;
	int		 check, demo, verbose;
};

static void
add_set(struct options *o, const char *kv)
{
	if (o->nsets >= MAX_SETS) {
		fprintf(stderr, "defgate: too many --set options\n");
		exit(2);
	}
	o->sets[o->nsets++] = xstrdup(kv);
}

static void
parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, 'l' },
		{ "set", required_argument, NULL, 's' },
		{ "check", no_argument, NULL, 'C' },
		{ "demo", no_argument, NULL, 'D' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	char	 kv[1024];
	int	 ch;

	memset(o, 0, sizeof(*o));
	while ((ch = getopt_long(argc, argv, "c:l:s:vh", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			o->config = optarg;
			break;
		case 'l':
			snprintf(kv, sizeof(kv), "listen=%s", optarg);
			add_set(o, kv);
			break;
		case 's':
			if (strncmp(optarg, "client_secret=", 14) == 0 ||
			    strncmp(optarg, "client_certificate_password=",
			    28) == 0 ||
			    strncmp(optarg, "identity_header=", 16) == 0) {
				fprintf(stderr, "defgate: --set %.*s is "
				    "refused: secrets on the command line are "
				    "visible to every user; use the config "
				    "file or the environment\n",
				    (int)strcspn(optarg, "="), optarg);
				exit(2);
			}
			add_set(o, optarg);
			break;
		case 'C':
			o->check = 1;
			break;
		case 'D':
			o->demo = 1;
			break;
		case 'v':
			o->verbose = 1;
			break;
		case 'V':
			printf("defgate %s (%s, libmicrohttpd %s)\n",
			    PACKAGE_VERSION, curl_version(),
			    MHD_get_version());
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "defgate: unexpected argument \"%s\"\n",
		    argv[optind]);
		usage(stderr);
		exit(2);
	}
	if (o->check && o->demo) {
		fprintf(stderr, "defgate: --check and --demo exclude each "
		    "other\n");
		exit(2);
	}
}

static void
print_errors(const struct buf *errs)
{
	const char *p = errs->data;

	while (p && *p) {
		const char *nl = strchr(p, '\n');
		int n = nl ? (int)(nl - p) : (int)strlen(p);

		fprintf(stderr, "defgate: %.*s\n", n, p);
		p = nl ? nl + 1 : p + n;
	}
}

/*
 * Remove the secret from our environment copy (/proc/PID/environ). What a
 * reload needs is kept: "client_secret=<value>" for config_build's
 * command-line level (the environment's precedence over the file is kept
 * that way), malloc'd; wipe with util_free_secret(). NULL when unset.
 */
static char *
scrub_env(void)
{
	char		*v = getenv("AZURE_CLIENT_SECRET");
	struct buf	 b;

	if (v == NULL)
		return (NULL);
	buf_init(&b, CONFIG_MAX_ERRORS * 2);
	if (buf_printf(&b, "client_secret=%s", v) == -1)
		buf_wipe(&b);
	OPENSSL_cleanse(v, strlen(v));
	unsetenv("AZURE_CLIENT_SECRET");
	return (buf_take(&b, NULL));
}

static struct gw_config *
load_config(const struct options *o, char *const *extra, int nextra)
{
	struct gw_config	*cf = cfgref_alloc();
	struct buf		 errs;
	char			*all[MAX_SETS * 2 + 1];
	int			 n = 0, rc;

	for (int i = 0; i < nextra; i++)
		all[n++] = extra[i];
	for (int i = 0; i < o->nsets; i++)
		all[n++] = o->sets[i];	/* the user's own win */
	buf_init(&errs, CONFIG_MAX_ERRORS);
	rc = config_build(cf, o->config, all, n, &errs);
	if (rc != 0) {
		print_errors(&errs);
		buf_free(&errs);
		cfgref_put(cf);
		return (NULL);
	}
	buf_free(&errs);
	cf->verbose = o->verbose;
	return (cf);
}

static void
print_claims(const struct jwt_claims *c, long long expires_at)
{
	char ts[32];

	util_iso8601(expires_at, ts, sizeof(ts));
	printf("  token:          OK, expires %s (in %lld s)\n", ts,
	    expires_at - util_now());
	printf("  tenant (tid):   %s\n", c->tid ? c->tid : "-");
	printf("  app id:         %s\n", c->app_id ? c->app_id : "-");
	printf("  app name:       %s\n", c->app_displayname ?
	    c->app_displayname : "-");
	printf("  audience:       %s\n", c->aud ? c->aud : "-");
	printf("  issuer:         %s\n", c->iss ? c->iss : "-");
	printf("  token version:  %s\n", c->ver ? c->ver : "-");
	printf("  credential:     %s\n", c->credential ? c->credential : "-");
	if (!c->has_roles || c->nroles == 0)
		printf("  roles:          none - no roles: admin consent missing "
		    "(grant admin consent for the app's API permissions; the "
		    "API will answer 403)\n");
	else {
		printf("  roles:         ");
		for (int i = 0; i < c->nroles; i++)
			printf(" %s", c->roles[i]);
		printf("\n");
	}
}

static void
print_failure(const struct oauth_error *e)
{
	const char *hint = oauth_hint(e->aadsts);

	printf("  token request failed: ");
	if (e->http_status)
		printf("HTTP %ld ", e->http_status);
	printf("%s", e->error);
	if (e->aadsts)
		printf(" AADSTS%ld", e->aadsts);
	printf("\n");
	if (hint != NULL)
		printf("  hint: %s\n", hint);
	if (e->description[0])
		printf("  detail: %s\n", e->description);
	if (e->trace_id[0])
		printf("  trace id: %s\n", e->trace_id);
	if (e->http_status == 0)
		printf("  hint: check authority_host (AZURE_AUTHORITY_HOST)%s\n",
		    strstr(e->description, "TLS") || strstr(e->description,
		    "certificate") ? " and ca_file (DEFGATE_CA_FILE)" :
		    " and the network path to it");
}

/* The audiences the enabled routes of cf need. */
static void
check_needs(const struct gw_config *cf, int need[BACKEND__COUNT])
{
	for (int b = 0; b < BACKEND__COUNT; b++)
		need[b] = 0;
	for (int i = 0; i < nroutes; i++) {
		const struct route *r = &routes[i];

		if (!routes_forwarded(r) || !routes_enabled(r, cf))
			continue;
		need[r->backend] = 1;
		if (r->kind == RK_HUNT && cf->hunting_backend !=
		    CONFIG_HUNT_DEFENDER)
			need[BACKEND_GRAPH] = 1;
	}
}

/*
 * --check: fetch a token for every audience an enabled route needs, with
 * the daemon's own token sources on a private multi handle, before any
 * thread starts. Exit 0 when every audience gave a token.
 */
static int
do_check(const struct gw_config *cf)
{
	struct tokensrc		*src[BACKEND__COUNT];
	struct token_view	 v[BACKEND__COUNT];
	struct hunting_decision	 d;
	CURLM			*m;
	CURLMsg			*msg;
	char			*url;
	int			 need[BACKEND__COUNT], running, left, rc = 0;
	int			 failed;
	long long		 deadline;

	if ((m = curl_multi_init()) == NULL)
		return (1);
	check_needs(cf, need);
	cred_check_print(cf, util_now());
	if (cf->credential == CRED_MANAGED_IDENTITY)
		printf("token endpoint: %s (managed identity)\n",
		    cf->identity_endpoint && *cf->identity_endpoint ?
		    cf->identity_endpoint : cf->imds_url);
	else {
		url = oauth_token_url(cf);
		printf("token endpoint: %s (%s)\n", url ? url : "-",
		    cf->token_version == 1 ? "v1, resource=" : "v2, scope=");
		free(url);
	}
	/* as httpd_start() will size the pool: one max_clients slot each */
	if (cf->threads > cf->max_clients)
		printf("front threads:  %u (threads), lowered to %u: "
		    "max_clients is shared among them\n", cf->threads,
		    cf->max_clients);
	else
		printf("front threads:  %u (threads)\n", cf->threads);
	for (int b = 0; b < BACKEND__COUNT; b++) {
		src[b] = tokensrc_new((enum backend_id)b, cf);
		if (need[b])
			tokensrc_use(src[b]);
	}
	deadline = util_mono_ms() + cf->token_timeout_ms + 5000;
	for (;;) {
		int pending = 0;

		for (int b = 0; b < BACKEND__COUNT; b++) {
			tokensrc_view(src[b], &v[b]);
			if (need[b] && v[b].refreshes + v[b].failures == 0) {
				pending = 1;
				/* -1: could not be built, now a failure */
				(void)tokensrc_poll(src[b], m, util_mono_ms());
			}
			tokensrc_view_free(&v[b]);
		}
		if (!pending || util_mono_ms() > deadline)
			break;
		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &left)) != NULL)
			for (int b = 0; msg->msg == CURLMSG_DONE &&
			    b < BACKEND__COUNT; b++)
				if (tokensrc_owns(src[b], msg->easy_handle))
					tokensrc_finished(src[b], m,
					    msg->data.result);
		curl_multi_poll(m, NULL, 0, 100, NULL);
	}
	for (int b = 0; b < BACKEND__COUNT; b++) {
		tokensrc_view(src[b], &v[b]);
		if (!need[b])
			continue;
		printf("audience %s: %s (%s)\n", backend_name((enum backend_id)b),
		    backend_title((enum backend_id)b),
		    backend_scope(cf, (enum backend_id)b));
		if (v[b].refreshes > 0 && v[b].have_claims)
			print_claims(&v[b].claims, v[b].expires_at);
		else if (v[b].refreshes > 0)
			printf("  token:          OK (not a decodable JWT: "
			    "roles unknown)\n");
		else if (v[b].have_error) {
			print_failure(&v[b].last_error);
			rc = 1;
		} else {
			printf("  token request failed: no answer in time\n");
			rc = 1;
		}
	}
	hunting_select(cf->hunting_backend, tokensrc_graph_state(
	    src[BACKEND_GRAPH], &failed), failed, util_now(), &d);
	if (d.choice == HUNTING_WAIT_GRAPH)
		hunting_select(cf->hunting_backend, HUNTING_GRAPH_NO_ROLE, 1,
		    util_now(), &d);
	printf("hunting:        %s (%s)\n", d.choice == HUNTING_USE_GRAPH ?
	    "Microsoft Graph runHuntingQuery" : d.choice == HUNTING_GONE ?
	    "none: answers 410" : "legacy Defender/MDE endpoints", d.why);
	if (d.warn || d.choice == HUNTING_GONE)
		printf("warning:        the Defender hunting endpoints stop "
		    "returning data on 2027-02-01 (%ld day(s) left): %s\n",
		    d.days_left, hunting_fix);
	printf("routes:\n");
	for (int i = 0; i < nroutes; i++) {
		const struct route	*r = &routes[i];
		const char		*path;
		const char *const	*roles;
		enum backend_id		 b;

		if (!routes_forwarded(r))
			continue;
		hunting_route(r, &d, &b, &path, &roles);
		printf("  %-6s %-32s %-9s ", r->method, r->path,
		    backend_name(b));
		if (!routes_enabled(r, cf))
			printf("disabled (allow_write = false)\n");
		else if (d.choice == HUNTING_GONE && r->kind == RK_HUNT)
			printf("gone (410: %s)\n", hunting_fix);
		else if (!v[b].have_claims)
			printf("no token for %s\n", backend_name(b));
		else if (status_roles_ok(roles, &v[b].claims))
			printf("ok\n");
		else
			printf("missing role %s%s%s\n", roles[0],
			    roles[1] ? " or " : "", roles[1] ? roles[1] : "");
	}
	for (int b = 0; b < BACKEND__COUNT; b++) {
		tokensrc_view_free(&v[b]);
		tokensrc_free(src[b], m);
	}
	curl_multi_cleanup(m);
	return (rc);
}

struct demo {
	struct sim	*sim;
	char		 dir[64];
	char		 ca[96];
	char		 file[96];	/* client.pem or token, if written */
	char		*sets[12];	/* demo settings, the kept env secret */
	int		 nsets;
};

static void
demo_set(struct demo *d, const char *k, const char *v)
{
	struct buf b;

	buf_init(&b, 4096);
	buf_printf(&b, "%s=%s", k, v);
	d->sets[d->nsets++] = buf_take(&b, NULL);
}

/* The demo's credential file (0600): a + b, wiped from memory. */
static int
demo_file(struct demo *d, const char *name, char *a, char *b)
{
	FILE	*f;
	int	 fd, rc = -1;

	snprintf(d->file, sizeof(d->file), "%s/%s", d->dir, name);
	if ((fd = open(d->file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) != -1 && (f = fdopen(fd, "w")) != NULL) {
		rc = fputs(a, f) < 0 || (b && fputs(b, f) < 0) ? -1 : 0;
		rc |= fclose(f) == 0 ? 0 : -1;
	} else if (fd != -1)
		close(fd);
	util_free_secret(a);
	util_free_secret(b);
	return (rc);
}

/*
 * --demo with credential = certificate | federated | managed_identity (from
 * --set or DEFGATE_CREDENTIAL): the simulation registers a certificate it
 * makes, trusts a stand-in identity provider, or serves the identity
 * endpoints, and defgate uses that credential instead of the secret.
 */
static const char *
demo_kind(const struct options *o)
{
	for (int i = o->nsets - 1; i >= 0; i--)
		if (strncmp(o->sets[i], "credential=", 11) == 0)
			return (o->sets[i] + 11);
	return (getenv("DEFGATE_CREDENTIAL"));
}

#define DEMO_ISSUER	"https://oidc.demo.invalid/cluster"
#define DEMO_SUBJECT	"system:serviceaccount:demo:defgate"

/* --demo: start the simulation and point the config at it. */
static int
demo_start(struct demo *d, const char *kind)
{
	struct sim_options	 so;
	unsigned char		 rnd[24];
	char			 secret[64], url[64], *err = NULL;
	char			*cert = NULL, *key = NULL;
	int			 k = CRED_SECRET;
	static const char	 tenant[] = "4b2f6c1e-8a7d-4e3b-9c5a-1d0e2f3a4b5c";
	static const char	 client[] = "9e8d7c6b-5a49-4382-b1a0-f9e8d7c6b5a4";

	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "/tmp/defgate-demo.XXXXXX");
	if (mkdtemp(d->dir) == NULL) {
		log_warn("demo: mkdtemp");
		return (-1);
	}
	snprintf(d->ca, sizeof(d->ca), "%s/ca.pem", d->dir);
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return (-1);
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(secret + 2 * i, 3, "%02x", rnd[i]);
	memset(&so, 0, sizeof(so));
	for (int i = CRED_SECRET; kind && i <= CRED_MANAGED_IDENTITY; i++)
		if (strcasecmp(kind, cred_kind_name(i)) == 0)
			k = i;
	if ((k == CRED_CERTIFICATE || k == CRED_FEDERATED) &&
	    sim_make_client_cert(k == CRED_CERTIFICATE ? "defgate-demo" :
	    "demo-identity-provider", 365, &cert, &key) == -1) {
		log_warnx("demo: cannot make a certificate");
		return (-1);
	}
	so.cert_pem = k == CRED_CERTIFICATE ? cert : NULL;
	if (k == CRED_FEDERATED) {
		so.fed_issuer = DEMO_ISSUER;
		so.fed_subject = DEMO_SUBJECT;
		so.fed_key_pem = cert;
	}
	so.mi_enable = k == CRED_MANAGED_IDENTITY;
	so.mi_client_id = client;
	so.bind_host = "127.0.0.1";
	so.ca_out = d->ca;
	so.tenant_id = tenant;
	so.client_id = client;
	so.client_secret = secret;
	so.token_lifetime = 3599;
	so.token_version = 1;
	/* the APIs' documented quotas, so the demo shows defgate keeping
	   within them */
	so.quota = 1;
	if ((d->sim = sim_start(&so, &err)) == NULL) {
		log_warnx("demo: cannot start the simulation: %s",
		    err ? err : "unknown error");
		free(err);
		util_free_secret(cert);
		util_free_secret(key);
		return (-1);
	}
	if (k == CRED_CERTIFICATE) {
		if (demo_file(d, "client.pem", cert, key) == -1)
			return (-1);
		demo_set(d, "client_certificate_path", d->file);
	} else if (k == CRED_FEDERATED) {
		char *tok = sim_federated_token(key, DEMO_ISSUER, DEMO_SUBJECT,
		    24 * 3600);

		util_free_secret(cert);
		util_free_secret(key);
		if (tok == NULL || demo_file(d, "token", tok, NULL) == -1)
			return (-1);
		demo_set(d, "federated_token_file", d->file);
	} else if (k == CRED_MANAGED_IDENTITY) {
		snprintf(url, sizeof(url), "http://127.0.0.1:%u",
		    sim_mi_port(d->sim));
		demo_set(d, "imds_url", url);
	}
	demo_set(d, "credential", cred_kind_name(k));
	snprintf(url, sizeof(url), "https://127.0.0.1:%u", sim_port(d->sim));
	demo_set(d, "tenant_id", tenant);
	demo_set(d, "client_id", client);
	if (k == CRED_SECRET)
		demo_set(d, "client_secret", secret);
	demo_set(d, "authority_host", url);
	demo_set(d, "api_url", url);
	demo_set(d, "graph_url", url);
	demo_set(d, "mde_url", url);
	demo_set(d, "ca_file", d->ca);
	OPENSSL_cleanse(secret, sizeof(secret));
	log_info("demo: simulated Entra ID, Defender XDR, Graph and MDE on %s "
	    "(its own CA in %s)", url, d->ca);
	return (0);
}

static void
demo_stop(struct demo *d)
{
	if (d->sim)
		sim_stop(d->sim);
	for (int i = 0; i < d->nsets; i++)
		util_free_secret(d->sets[i]);
	if (d->ca[0])
		unlink(d->ca);
	if (d->file[0])
		unlink(d->file);
	if (d->dir[0])
		rmdir(d->dir);
}

static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max > 65536 ? 65536 : rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void
harden(void)
{
	struct rlimit rl = { 0, 0 };

	/* the secret and the token must never end up in a core dump */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	(void)setrlimit(RLIMIT_CORE, &rl);
}

/*
 * glibc malloc, set once before any thread starts (an operator's
 * MALLOC_ARENA_MAX, MALLOC_TRIM_THRESHOLD_, MALLOC_MMAP_THRESHOLD_ or
 * GLIBC_TUNABLES still decides):
 * - the trim threshold: by default a heap gives its top back to the
 *   kernel whenever a free leaves more than 128 KiB there, so under load
 *   the back thread's heap shrank and grew again all the time (madvise,
 *   the TLB-flush IPIs behind it, and page faults). Uncached forwards
 *   took 101-121 us of CPU each instead of 120-150 (bench/run, HTTP/1.1
 *   upstream). Free memory goes back when the front is quiet instead
 *   (idle_tick below).
 * - one arena: malloc_trim(0) shrinks only the main arena's top, so with
 *   an arena per thread the pages kept by the threshold above stayed
 *   (a 30 s soak's idle RSS grew 1.3 MiB; 104-120 KiB with one). The
 *   request path's small allocations come from per-thread caches
 *   without the arena lock: cache hits were no slower.
 * - setting the trim threshold freezes glibc's sliding mmap threshold
 *   at 128 KiB: response buffers and cache entries up to 4 MiB come from
 *   the heap, not an mmap and munmap (another TLB flush) each.
 */
static void
malloc_tune(void)
{
	if (getenv("GLIBC_TUNABLES") != NULL)
		return;
	if (getenv("MALLOC_ARENA_MAX") == NULL)
		(void)mallopt(M_ARENA_MAX, 1);
	if (getenv("MALLOC_TRIM_THRESHOLD_") == NULL)
		(void)mallopt(M_TRIM_THRESHOLD, 64 << 20);
	if (getenv("MALLOC_MMAP_THRESHOLD_") == NULL)
		(void)mallopt(M_MMAP_THRESHOLD, 4 << 20);
}

/*
 * Main thread, between signals: once no request has arrived for a whole
 * tick and none is in flight, hand the heap's free pages back to the
 * kernel, once per quiet spell. glibc returns only the top of a heap by
 * itself, so after a burst RSS would otherwise stay at the burst's
 * high-water mark; the cost is one walk of the free lists while nothing
 * is being served.
 */
struct idle {
	unsigned long	 seen;		/* httpd_received() at the last tick */
	int		 trimmed;	/* since the last request */
};

static void
idle_tick(struct idle *id)
{
	unsigned long n = httpd_received();

	if (n != id->seen) {
		id->seen = n;
		id->trimmed = 0;
		return;
	}
	if (id->trimmed || httpd_inflight() > 0)
		return;
	id->trimmed = 1;
	(void)malloc_trim(0);
}

static void
wait_inflight(long long deadline_ms)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };

	while (httpd_inflight() > 0 && util_mono_ms() < deadline_ms)
		nanosleep(&ts, NULL);
}

int
main(int argc, char **argv)
{
	struct options		 o;
	struct demo		 demo;
	struct gw_config	*cf;
	struct upstream		*up;
	struct tokensrc		*src[BACKEND__COUNT];
	sigset_t		 set;
	struct idle		 idle = { 0, 1 };
	char			*env_secret;
	int			 sig, rc;

	malloc_tune();
	parse_args(argc, argv, &o);
	log_init(o.verbose);
	/* the records before the configuration is read (its errors) too */
	if (getenv("DEFGATE_LOG_FORMAT") != NULL &&
	    strcasecmp(getenv("DEFGATE_LOG_FORMAT"), "json") == 0)
		log_set_json(1);
	harden();
	signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatalx("curl_global_init failed");

	memset(&demo, 0, sizeof(demo));
	if (o.demo && demo_start(&demo, demo_kind(&o)) == -1)
		exit(1);
	if ((cf = load_config(&o, demo.sets, demo.nsets)) == NULL)
		exit(2);
	log_set_json(cf->log_json);
	if ((env_secret = scrub_env()) != NULL)
		demo.sets[demo.nsets++] = env_secret;	/* for reloads */
	if (o.check) {
		rc = do_check(cf);
		cfgref_put(cf);
		demo_stop(&demo);
		curl_global_cleanup();
		exit(rc);
	}

	raise_nofile();
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);	/* threads inherit it */

	if (!config_is_loopback((const struct sockaddr *)&cf->listen_addr) &&
	    !cf->allow_from_set)
		log_warnx("listening on %s, which is not a loopback address, "
		    "without allow_from: only loopback callers are accepted; "
		    "set allow_from (DEFGATE_ALLOW_FROM) to the networks that "
		    "may call defgate", cf->listen);
	status_init(cf, o.demo);
	if (steward_init(cf) == -1)
		fatalx("out of memory for the response cache");
	up = upstream_start(cf);
	for (int b = 0; b < BACKEND__COUNT; b++)
		src[b] = upstream_tokensrc(up, (enum backend_id)b);
	status_set_sources(src);
	telemetry_set_sources(src);
	if (httpd_start(cf, up) == -1) {
		upstream_stop(up);
		status_cleanup();
		upstream_free(up);
		steward_cleanup();
		demo_stop(&demo);
		exit(1);
	}
	status_set_threads(httpd_threads());
	log_info("defgate %s listening on %s (port %u), forwarding to %s, "
	    "%s and %s; %u front thread(s)", PACKAGE_VERSION, cf->listen,
	    httpd_port(), cf->api_url, cf->graph_url, cf->mde_url,
	    httpd_threads());
	if (o.demo)
		log_info("demo: try  curl http://127.0.0.1:%u/incidents  and "
		    "open http://127.0.0.1:%u/status", httpd_port(),
		    httpd_port());

	for (;;) {
		struct timespec tick = { 0, IDLE_TICK_MS * 1000L * 1000L };

		if ((sig = sigtimedwait(&set, NULL, &tick)) == -1) {
			if (errno == EAGAIN)
				idle_tick(&idle);
			continue;
		}
		if (sig == SIGHUP) {
			struct gw_config *ncf;

			log_info("SIGHUP: reloading the configuration");
			if ((ncf = load_config(&o, demo.sets,
			    demo.nsets)) == NULL) {
				log_warnx("reload rejected: the configuration "
				    "has errors (above); keeping the old one");
				continue;
			}
			if (strcmp(ncf->listen, cf->listen) != 0)
				log_warnx("listen changed: restart defgate to "
				    "use %s", ncf->listen);
			if (ncf->threads != cf->threads)
				log_warnx("threads changed: restart defgate to "
				    "use %u front threads", ncf->threads);
			/* each holder takes its own reference; the old
			 * config is freed when its last request is done */
			log_set_json(ncf->log_json);
			httpd_set_config(ncf);
			status_set_config(ncf);
			steward_reload(ncf);
			upstream_reload(up, ncf);
			cfgref_put(cf);
			cf = ncf;
			log_debug("%d configuration(s) in memory",
			    cfgref_live());
			continue;
		}
		break;
	}
	log_info("%s: stopping; %d request(s) in flight", strsignal(sig),
	    httpd_inflight());
	httpd_quiesce();
	wait_inflight(util_mono_ms() + SHUTDOWN_GRACE_MS);
	upstream_stop(up);	/* whatever is left gets a 503 */
	steward_wake_all();	/* requests waiting for one of those */
	wait_inflight(util_mono_ms() + 2000);
	httpd_stop();
	status_cleanup();
	upstream_free(up);
	steward_cleanup();
	demo_stop(&demo);
	cfgref_put(cf);
	for (int i = 0; i < o.nsets; i++)
		free(o.sets[i]);
	curl_global_cleanup();
	log_info("stopped");
	return (0);
}

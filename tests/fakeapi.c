/*
 * fakeapi.c: the simulated Entra ID token endpoint + Defender XDR, MDE
 * and Graph security APIs (src/sim.c) as a standalone process for the
 * integration tests.
 *
 *   fakeapi [--port N] [--port-file PATH] [--ca-out PATH] [--tenant T]
 *           [--client-id C] [--client-secret S] [--roles R]
 *           [--graph-roles R] [--mde-roles R] [--no-machines]
 *           [--lifetime N] [--token-version 1|2] [-v]
 *           [--cert PEMFILE] [--federated-issuer ISS]
 *           [--federated-subject SUB] [--federated-audience AUD]
 *           [--federated-key PEMFILE] [--mi] [--mi-port N]
 *           [--mi-port-file PATH] [--mi-client-id ID]
 *           [--mi-identity-header SECRET] [--mi-expires-on-number]
 *           [--quota] [--quota-limit GROUP=LIMITS] [--chunked]
 *
 * --roles (alias --defender-roles), --graph-roles, --mde-roles: the roles
 * of that audience's tokens, comma-separated ("" : no roles claim; absent:
 * all of that audience's roles). --no-machines: MDE's 404 for
 * /api/machines.
 * --cert: the registered client certificate (PEM) for certificate
 * assertions. --federated-*: one federated identity credential; the
 * federated token's signature must verify with --federated-key (a PEM
 * public key or certificate). --mi: the managed-identity endpoints on a
 * plain-HTTP loopback port (--mi-port, written to --mi-port-file);
 * --mi-client-id: the assigned identity (none: every request is a 400).
 * --quota: enforce the APIs' documented per-tenant quotas (429 with
 * Retry-After; off by default, so tests that do not ask are not
 * throttled); also when the environment has FAKEAPI_QUOTA=1.
 * --quota-limit GROUP=LIMITS (repeatable): other limits for a group
 * (incidents, hunting, mde, graph), e.g. incidents=3/2s or hunting=off.
 * --chunked: the padded answers of the "huge" and "reset_body" faults
 * are sent chunked, without a Content-Length (tests of answers whose
 * size the daemon learns only at their end).
 *
 * The fake's own behaviour (faults, records, /_sim/ control endpoints)
 * is in fake_hooks.c, plugged into the sim through its hooks.
 *
 * Threads: main blocks SIGTERM/SIGINT before the sim starts its threads
 * (so they inherit the mask) and waits for one with sigwait(); the sim
 * runs its own libmicrohttpd threads. Ownership: main owns the sim.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fake_hooks.h"
#include "log.h"
#include "util.h"

static void
usage(void)
{
	fprintf(stderr, "usage: fakeapi [--port N] [--port-file PATH] "
	    "[--ca-out PATH] [--tenant T]\n"
	    "               [--client-id C] [--client-secret S] [--roles R] "
	    "[--lifetime N]\n"
	    "               [--graph-roles R] [--mde-roles R] [--no-machines]\n"
	    "               [--token-version 1|2] [-v] [--cert PEMFILE]\n"
	    "               [--federated-issuer I] [--federated-subject S]\n"
	    "               [--federated-audience A] [--federated-key PEMFILE]\n"
	    "               [--mi] [--mi-port N] [--mi-port-file PATH]\n"
	    "               [--mi-client-id ID] [--mi-identity-header H]\n"
	    "               [--mi-expires-on-number] [--quota]\n"
	    "               [--quota-limit GROUP=LIMITS] [--chunked]\n");
	exit(2);
}

static long long
num_arg(const char *opt, const char *v, long long min, long long max)
{
	long long	 n;

	if (util_parse_ll(v, min, max, &n) == -1) {
		fprintf(stderr, "fakeapi: %s: bad value '%s'\n", opt, v);
		exit(2);
	}
	return (n);
}

/* The whole of a (small) PEM file; exits on error. */
static char *
read_pem(const char *opt, const char *path)
{
	char	*b = xmalloc(256 * 1024);
	size_t	 n;
	FILE	*f;

	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "fakeapi: %s %s: %s\n", opt, path,
		    strerror(errno));
		exit(2);
	}
	n = fread(b, 1, 256 * 1024 - 1, f);
	fclose(f);
	b[n] = '\0';
	return (b);
}

/* --quota-limit GROUP=LIMITS; exits on error. */
static void
quota_limit(struct sim_options *o, const char *v)
{
	const char	*eq = strchr(v, '=');
	char		 name[32];
	int		 g = -1;

	if (eq != NULL && (size_t)(eq - v) < sizeof(name)) {
		memcpy(name, v, (size_t)(eq - v));
		name[eq - v] = '\0';
		g = sim_quota_group_find(name);
	}
	if (g < 0 || !sim_quota_valid(eq + 1)) {
		fprintf(stderr, "fakeapi: --quota-limit: want GROUP=LIMITS "
		    "(incidents, hunting, mde, graph; e.g. 50/min,1500/h, "
		    "3/2s, off), not '%s'\n", v);
		exit(2);
	}
	o->quota_limits[g] = eq + 1;
}

static int
write_port(const char *path, unsigned short port)
{
	char	 tmp[4096];
	FILE	*f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >=
	    (int)sizeof(tmp))
		return (-1);
	if ((f = fopen(tmp, "w")) == NULL)
		return (-1);
	fprintf(f, "%u\n", port);
	if (fclose(f) != 0 || rename(tmp, path) == -1) {
		unlink(tmp);
		return (-1);
	}
	return (0);
}

int
main(int argc, char *argv[])
{
	struct sim_options	 o;
	struct sim_hooks	 hooks;
	struct sim		*s;
	struct fake		*fake;
	const char		*port_file = NULL, *mi_port_file = NULL;
	char			*pem[2] = { NULL, NULL };
	char			*err = NULL;
	sigset_t		 set;
	int			 sig, verbose = 0;

	memset(&o, 0, sizeof(o));
	o.bind_host = "127.0.0.1";
	o.tenant_id = "00000000-0000-0000-0000-0000000000aa";
	o.client_id = "11111111-1111-1111-1111-1111111111bb";
	o.client_secret = "test-secret-value";
	o.token_lifetime = 3599;
	o.token_version = 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "-v") == 0) {
			verbose = 1;
			continue;
		}
		if (strcmp(a, "--no-machines") == 0) {
			o.no_machines = 1;
			continue;
		}
		if (strcmp(a, "--mi") == 0) {
			o.mi_enable = 1;
			continue;
		}
		if (strcmp(a, "--mi-expires-on-number") == 0) {
			o.mi_expires_on_number = 1;
			continue;
		}
		if (strcmp(a, "--quota") == 0) {
			o.quota = 1;
			continue;
		}
		if (strcmp(a, "--chunked") == 0) {
			o.pad_chunked = 1;
			continue;
		}
		if (v == NULL)
			usage();
		i++;
		if (strcmp(a, "--port") == 0)
			o.port = (unsigned short)num_arg(a, v, 0, 65535);
		else if (strcmp(a, "--port-file") == 0)
			port_file = v;
		else if (strcmp(a, "--ca-out") == 0)
			o.ca_out = v;
		else if (strcmp(a, "--tenant") == 0)
			o.tenant_id = v;
		else if (strcmp(a, "--client-id") == 0)
			o.client_id = v;
		else if (strcmp(a, "--client-secret") == 0)
			o.client_secret = v;
		else if (strcmp(a, "--roles") == 0 ||
		    strcmp(a, "--defender-roles") == 0)
			o.roles[SIM_AUD_DEFENDER] = v;
		else if (strcmp(a, "--cert") == 0)
			o.cert_pem = pem[0] = read_pem(a, v);
		else if (strcmp(a, "--federated-key") == 0)
			o.fed_key_pem = pem[1] = read_pem(a, v);
		else if (strcmp(a, "--federated-issuer") == 0)
			o.fed_issuer = v;
		else if (strcmp(a, "--federated-subject") == 0)
			o.fed_subject = v;
		else if (strcmp(a, "--federated-audience") == 0)
			o.fed_audience = v;
		else if (strcmp(a, "--mi-port") == 0)
			o.mi_port = (unsigned short)num_arg(a, v, 0, 65535);
		else if (strcmp(a, "--mi-port-file") == 0)
			mi_port_file = v;
		else if (strcmp(a, "--mi-client-id") == 0)
			o.mi_client_id = v;
		else if (strcmp(a, "--mi-identity-header") == 0)
			o.mi_identity_header = v;
		else if (strcmp(a, "--graph-roles") == 0)
			o.roles[SIM_AUD_GRAPH] = v;
		else if (strcmp(a, "--mde-roles") == 0)
			o.roles[SIM_AUD_MDE] = v;
		else if (strcmp(a, "--lifetime") == 0)
			o.token_lifetime = (int)num_arg(a, v, 1, 30 * 86400);
		else if (strcmp(a, "--token-version") == 0)
			o.token_version = (int)num_arg(a, v, 1, 2);
		else if (strcmp(a, "--quota-limit") == 0)
			quota_limit(&o, v);
		else
			usage();
	}
	if (getenv("FAKEAPI_QUOTA") != NULL &&
	    strcmp(getenv("FAKEAPI_QUOTA"), "1") == 0)
		o.quota = 1;
	o.verbose = verbose;
	log_init(verbose);
	fake = fake_new(o.client_id, o.client_secret, verbose);
	fake_hooks(fake, &hooks);
	o.hooks = &hooks;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0) {
		fprintf(stderr, "fakeapi: cannot block signals\n");
		return (1);
	}
	if ((s = sim_start(&o, &err)) == NULL) {
		fprintf(stderr, "fakeapi: %s\n", err ? err : "cannot start");
		free(err);
		free(pem[0]);
		free(pem[1]);
		fake_free(fake);
		return (1);
	}
	free(pem[0]);
	free(pem[1]);
	/* the MI port first: the HTTPS port file is what tests wait for */
	if ((mi_port_file != NULL && o.mi_enable && write_port(mi_port_file,
	    sim_mi_port(s)) == -1) || (port_file != NULL &&
	    write_port(port_file, sim_port(s)) == -1)) {
		fprintf(stderr, "fakeapi: cannot write a port file: %s\n",
		    strerror(errno));
		sim_stop(s);
		fake_free(fake);
		return (1);
	}
	log_info("fakeapi: listening on https://127.0.0.1:%u", sim_port(s));
	do {
		if (sigwait(&set, &sig) != 0)
			sig = 0;
	} while (sig != SIGTERM && sig != SIGINT);
	log_info("fakeapi: signal %d, stopping", sig);
	sim_stop(s);
	fake_free(fake);
	return (0);
}

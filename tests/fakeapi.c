/*
 * fakeapi.c: the simulated Entra ID token endpoint + Defender XDR, MDE
 * and Graph security APIs (src/sim.c) as a standalone process for the
 * integration tests.
 *
 *   fakeapi [--port N] [--port-file PATH] [--ca-out PATH] [--tenant T]
 *           [--client-id C] [--client-secret S] [--roles R]
 *           [--graph-roles R] [--mde-roles R] [--no-machines]
 *           [--lifetime N] [--token-version 1|2] [-v]
 *
 * --roles (alias --defender-roles), --graph-roles, --mde-roles: the roles
 * of that audience's tokens, comma-separated ("" : no roles claim; absent:
 * all of that audience's roles). --no-machines: MDE's 404 for
 * /api/machines.
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

#include "log.h"
#include "sim.h"
#include "util.h"

static void
usage(void)
{
	fprintf(stderr, "usage: fakeapi [--port N] [--port-file PATH] "
	    "[--ca-out PATH] [--tenant T]\n"
	    "               [--client-id C] [--client-secret S] [--roles R] "
	    "[--lifetime N]\n"
	    "               [--graph-roles R] [--mde-roles R] [--no-machines]\n"
	    "               [--token-version 1|2] [-v]\n");
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
	struct sim		*s;
	const char		*port_file = NULL;
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
		else if (strcmp(a, "--graph-roles") == 0)
			o.roles[SIM_AUD_GRAPH] = v;
		else if (strcmp(a, "--mde-roles") == 0)
			o.roles[SIM_AUD_MDE] = v;
		else if (strcmp(a, "--lifetime") == 0)
			o.token_lifetime = (int)num_arg(a, v, 1, 30 * 86400);
		else if (strcmp(a, "--token-version") == 0)
			o.token_version = (int)num_arg(a, v, 1, 2);
		else
			usage();
	}
	o.verbose = verbose;
	log_init(verbose);

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
		return (1);
	}
	if (port_file != NULL && write_port(port_file, sim_port(s)) == -1) {
		fprintf(stderr, "fakeapi: %s: %s\n", port_file,
		    strerror(errno));
		sim_stop(s);
		return (1);
	}
	log_info("fakeapi: listening on https://127.0.0.1:%u", sim_port(s));
	do {
		if (sigwait(&set, &sig) != 0)
			sig = 0;
	} while (sig != SIGTERM && sig != SIGINT);
	log_info("fakeapi: signal %d, stopping", sig);
	sim_stop(s);
	return (0);
}

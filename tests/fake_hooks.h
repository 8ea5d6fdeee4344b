/*
 * fake_hooks.h: the test fake's hooks into the simulation (fault
 * injection, request records, the /_sim/ control endpoints). Test-only:
 * linked into tests/fakeapi, never into the daemon.
 *
 * Threads: fake_new()/fake_hooks()/fake_free() on the main thread (free
 * only after sim_stop()); the hooks run on the sim's threads.
 * Ownership: the caller owns the struct fake; client_id and secret are
 * copied.
 */
#ifndef DEFGATE_FAKE_HOOKS_H
#define DEFGATE_FAKE_HOOKS_H

#include "sim/sim.h"

struct fake;

/* client_id names the app in injected AADSTS texts; secret: "secret_ok". */
struct fake	*fake_new(const char *client_id, const char *secret,
		    int verbose);
void		 fake_hooks(struct fake *, struct sim_hooks *);
void		 fake_free(struct fake *);

#endif

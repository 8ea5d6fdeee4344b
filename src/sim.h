/*
 * sim.c: an in-process simulation of the Entra ID token endpoint and the
 * Defender XDR API over HTTPS on loopback, with a CA it makes itself.
 * Used by `defgate --demo` and by the test fake (tests/fakeapi.c).
 * It runs its own libmicrohttpd threads; sim_* functions are called from
 * the main thread only.
 */
#ifndef DEFGATE_SIM_H
#define DEFGATE_SIM_H

struct sim_options {
	const char	*bind_host;	/* default "127.0.0.1" */
	unsigned short	 port;		/* 0: any free port */
	const char	*ca_out;	/* write the CA certificate (PEM) here */
	const char	*tenant_id;	/* expected credential */
	const char	*client_id;
	const char	*client_secret;
	const char	*roles;		/* comma-separated; NULL: all three; "": no roles claim */
	int		 token_lifetime;	/* seconds, default 3599 */
	int		 token_version;	/* claim shape: 1 or 2 (default 1) */
	int		 verbose;
};

struct sim;

struct sim	*sim_start(const struct sim_options *, char **err);
unsigned short	 sim_port(const struct sim *);
void		 sim_stop(struct sim *);

#endif

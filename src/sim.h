/*
 * sim.c: an in-process simulation of the Entra ID token endpoint and the
 * Defender XDR, Defender for Endpoint and Microsoft Graph security APIs
 * over HTTPS on loopback, with a CA it makes itself.
 * Used by `defgate --demo` and by the test fake (tests/fakeapi.c).
 * It runs its own libmicrohttpd threads; sim_* functions are called from
 * the main thread only.
 */
#ifndef DEFGATE_SIM_H
#define DEFGATE_SIM_H

/* The token audiences the simulated Entra ID knows. */
enum sim_audience {
	SIM_AUD_DEFENDER,	/* https://api.security.microsoft.com */
	SIM_AUD_GRAPH,		/* https://graph.microsoft.com */
	SIM_AUD_MDE,		/* https://api.securitycenter.microsoft.com */
	SIM_AUD_N
};

struct sim_options {
	const char	*bind_host;	/* default "127.0.0.1" */
	unsigned short	 port;		/* 0: any free port */
	const char	*ca_out;	/* write the CA certificate (PEM) here */
	const char	*tenant_id;	/* expected credential */
	const char	*client_id;
	const char	*client_secret;
	/* per audience, comma-separated; NULL: all of that audience's
	   roles; "": no roles claim */
	const char	*roles[SIM_AUD_N];
	int		 no_machines;	/* MDE /api/machines answers 404 */
	int		 token_lifetime;	/* seconds, default 3599 */
	int		 token_version;	/* claim shape: 1 or 2 (default 1) */
	int		 verbose;
};

struct sim;

struct sim	*sim_start(const struct sim_options *, char **err);
unsigned short	 sim_port(const struct sim *);
void		 sim_stop(struct sim *);

#endif

/*
 * sim.h: an in-process simulation of Microsoft Entra ID (token endpoint)
 * and of the Defender XDR, Defender for Endpoint (MDE) and Microsoft Graph
 * security APIs, over HTTPS on loopback with a CA it makes itself. Used by
 * `defgate --demo` and by the test fake (tests/fakeapi).
 *
 * The simulation has no fault injection and no HTTP control endpoints of
 * its own. A caller that wants them (only the test fake does) passes a
 * struct sim_hooks: its request hook sees every request first and may
 * answer it, delay it, close it or shape the sim's own answer, using the
 * sim_req_* and sim_reply_* functions below.
 *
 * Threads: sim_start()/sim_port()/sim_stop() run on the caller's thread;
 * the sim runs its own libmicrohttpd threads (one per connection), and
 * the hooks are called on those. The sim_set_*()/sim_revoke()/sim_reset()
 * settings are thread-safe (they take the sim's lock).
 * Ownership: strings in sim_options are copied at start; every char *
 * returned is malloc'd and the caller's.
 */
#ifndef DEFGATE_SIM_H
#define DEFGATE_SIM_H

#include <stddef.h>
#include <stdint.h>

struct cJSON;

/* The token audiences the simulated Entra ID knows. */
enum sim_audience {
	SIM_AUD_DEFENDER,	/* https://api.security.microsoft.com */
	SIM_AUD_GRAPH,		/* https://graph.microsoft.com */
	SIM_AUD_MDE,		/* https://api.securitycenter.microsoft.com */
	SIM_AUD_N
};

struct sim;
struct sim_req;

/*
 * The per-tenant quota groups of the simulated APIs: Defender incidents
 * (list, get, PATCH), every hunting endpoint (Defender, MDE and Graph in
 * one group, the strictest reading), MDE alerts and machines, Graph
 * incidents and alerts.
 */
enum sim_quota_group {
	SIM_QUOTA_INCIDENTS, SIM_QUOTA_HUNTING, SIM_QUOTA_MDE, SIM_QUOTA_GRAPH,
	SIM_QUOTA_N
};

enum sim_req_kind {
	SIM_REQ_TOKEN,		/* Entra: /{tenant}/oauth2[/v2.0]/token */
	SIM_REQ_API,		/* /api/..., /v1.0/..., /beta/... */
	SIM_REQ_MI,		/* the managed-identity listener */
	SIM_REQ_OTHER		/* anything else: the sim answers 404 */
};

enum sim_verdict {
	SIM_PASS,		/* the sim answers (shaped, if asked) */
	SIM_ANSWERED,		/* the hook answered with a sim_reply_*() */
	SIM_CLOSE		/* close the connection, no answer */
};

struct sim_hooks {
	void	*arg;
	/* Every request, once, with its whole body. */
	enum sim_verdict (*request)(void *arg, struct sim *, struct sim_req *);
	/* Every accepted connection. */
	void	(*connection)(void *arg);
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
	const struct sim_hooks *hooks;	/* NULL: none (the daemon's demo) */
	/*
	 * Client credentials besides client_secret. cert_pem: a registered
	 * certificate (PEM) for client assertions (RS256/x5t or
	 * PS256/x5t#S256, iss = sub = client_id). fed_*: one federated
	 * credential: a client assertion from issuer fed_issuer for subject
	 * fed_subject with aud fed_audience (NULL: api://AzureADTokenExchange)
	 * whose signature verifies with fed_key_pem (a PEM public key or
	 * certificate: the sim does not fetch the issuer's JWKS).
	 */
	const char	*cert_pem;
	const char	*fed_issuer, *fed_subject, *fed_audience, *fed_key_pem;
	/*
	 * Managed identity: mi_enable starts a plain-HTTP loopback listener
	 * (port mi_port, 0: any) serving IMDS (/metadata/identity/oauth2/token)
	 * and the App Service endpoint (/msi/token). mi_client_id: the
	 * assigned identity (NULL: none assigned, every request 400);
	 * mi_identity_header: App Service's X-IDENTITY-HEADER secret;
	 * mi_expires_on_number: App Service's expires_on as a JSON number.
	 */
	int		 mi_enable;
	unsigned short	 mi_port;
	const char	*mi_client_id, *mi_identity_header;
	int		 mi_expires_on_number;
	/*
	 * Quotas: quota enforces them (429 with Retry-After once a group's
	 * calls exceed its limits); quota_limits[g] overrides group g's
	 * documented limits ("50/min,1500/h", "3/2s", "off"; NULL: the
	 * documented ones). The call counters run either way.
	 */
	int		 quota;
	const char	*quota_limits[SIM_QUOTA_N];
	/*
	 * pad_chunked: padded answers (sim_reply_padded) go out without a
	 * Content-Length, chunked, as an API streaming a list of unknown
	 * length sends them (for tests of that framing; the demo leaves it
	 * 0).
	 */
	int		 pad_chunked;
};

struct sim	*sim_start(const struct sim_options *, char **err);
unsigned short	 sim_port(const struct sim *);
unsigned short	 sim_mi_port(const struct sim *);	/* 0: off */
/*
 * A self-signed RSA-2048 client certificate for cn valid `days` days and
 * its private key, both PEM (for the demo's certificate credential).
 */
int		 sim_make_client_cert(const char *cn, int days,
		    char **cert_pem, char **key_pem);
/*
 * An external IdP's token for a federated credential (the demo's stand-in
 * for a projected service-account token): RS256 with key_pem's private
 * key, aud api://AzureADTokenExchange, valid lifetime seconds; or NULL.
 */
char		*sim_federated_token(const char *key_pem, const char *issuer,
		    const char *subject, int lifetime);
void		 sim_stop(struct sim *);

/* ---- settings (any thread) ---- */

/* "defender", "graph", "mde"; and back (also from a resource): -1. */
const char	*sim_audience_name(int aud);
int		 sim_audience_find(const char *);
const char	*sim_audience_resource(int aud);
/* The roles new tokens of aud carry (NULL: all; "": none). */
void		 sim_set_roles(struct sim *, int aud, const char *roles);
char		*sim_roles(struct sim *, int aud);	/* as a list, "" none */
const char	*sim_all_roles(int aud);
void		 sim_set_token_lifetime(struct sim *, int seconds);
void		 sim_set_token_version(struct sim *, int version);
void		 sim_set_machines(struct sim *, int present);
int		 sim_machines(struct sim *);
/* Refuse every token issued so far (of aud only; -1: of all). */
void		 sim_revoke(struct sim *, int aud);
/* Every setting back to the options, incidents back to the start,
   quota counters to zero. */
void		 sim_reset(struct sim *);
/* "incidents", "hunting", "mde", "graph" and back (-1: none). */
const char	*sim_quota_group_name(int group);
int		 sim_quota_group_find(const char *);
/* Whether a limits text parses (see sim_options.quota_limits). */
int		 sim_quota_valid(const char *limits);
/*
 * Quota enforcement on (1), off (0) or as it is (-1); group's limits to
 * limits (group -1 or limits NULL: as they are). Changed limits start
 * with an empty window. 0, or -1 when limits do not parse.
 */
int		 sim_set_quota(struct sim *, int on, int group,
		    const char *limits);
/*
 * The counters as JSON text: {"enabled","seconds","groups":{name:
 * {"limits","calls","throttled","last_60s","max_60s","max_3600s",
 * "minutes":[[calls,429s],...]}}}; calls count every API call of the
 * group that passed the token and role checks, 429s included.
 */
char		*sim_quota_stats(struct sim *);

/* ---- for hooks: one request (valid during the request hook) ---- */

enum sim_req_kind sim_req_kind(const struct sim_req *);
const char	*sim_req_method(const struct sim_req *);
const char	*sim_req_path(const struct sim_req *);	/* decoded */
const char	*sim_req_target(const struct sim_req *);	/* raw, query */
const char	*sim_req_query(const struct sim_req *);	/* raw, "" */
const char	*sim_req_body(const struct sim_req *, size_t *len);
const char	*sim_req_header(const struct sim_req *, const char *name);
void		 sim_req_headers(const struct sim_req *,
		    void (*)(void *, const char *name, const char *value),
		    void *arg);
/* The audience a token request asks for, or an API route needs; -1. */
int		 sim_req_audience(const struct sim_req *);
/* A token request's form (a JSON object of strings), or NULL. */
const struct cJSON *sim_req_form(const struct sim_req *);
/* Sleep in slices; -1 when the sim is stopping. */
int		 sim_req_sleep(struct sim_req *, long ms);
/*
 * Shape the sim's own answer to this request: pause stall_ms once after
 * its first bytes, cut the connection halfway through the body, add a
 * header of big_header bytes. 0 leaves each as it is.
 */
void		 sim_req_shape(struct sim_req *, long stall_ms, int cut,
		    long long big_header);
/* A fresh access token for the request's audience (*lifetime: its). */
char		*sim_req_issue_token(struct sim_req *, int *lifetime);

/* Answers (each returns SIM_ANSWERED, or SIM_CLOSE when it failed). */
/* A JSON body (taken) with the headers of the request's kind. */
enum sim_verdict sim_reply(struct sim_req *, unsigned status, char *body,
		    long retry_after);
/* Entra's error body (error class, AADSTS code, text). */
enum sim_verdict sim_reply_entra_error(struct sim_req *, unsigned status,
		    const char *error, long aadsts, const char *text,
		    long retry_after);
/* The request's API's own error for status (403: the roles message). */
enum sim_verdict sim_reply_api_error(struct sim_req *, unsigned status,
		    long retry_after);
/* A valid JSON list of exactly total bytes; cut: reset after a third.
 * Chunked, without a Content-Length, when the sim has pad_chunked. */
enum sim_verdict sim_reply_padded(struct sim_req *, uint64_t total, int cut);

#endif

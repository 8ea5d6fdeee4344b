/*
 * sim_int.h: private interface between the simulation's files. Not for
 * the rest of defgate (which sees sim.h only).
 *
 * sim_server.c: the HTTPS server (libmicrohttpd), struct sim and its
 *   settings, one struct sim_req per request, the hooks, streamed bodies.
 * sim_entra.c: the Entra ID token endpoint and the access tokens.
 * sim_api.c: the API front: route table, bearer and role checks, the
 *   error shapes of the three APIs, delivery.
 * sim_defender.c: Defender XDR incidents and the advanced hunting
 *   endpoints (whose body rules Graph and MDE share).
 * sim_graph.c, sim_mde.c: Graph and MDE views of the data.
 * sim_tls.c: key and certificate material and JWT signing/verification.
 *   A struct sim_tls is filled once by sim_tls_init() before the server
 *   starts and is read-only afterwards, so any thread may sign or verify.
 * sim_quota.c: the per-tenant quotas (sliding windows) and the call
 *   counters per quota group (own mutex, any thread).
 * sim_data.c: the incident store (own mutex, any thread) and the
 *   advanced hunting row generator (one generator per response, one
 *   thread at a time).
 * Every char * returned by these functions is malloc'd and owned by the
 * caller; every cJSON * returned must be freed with cJSON_Delete().
 */
#ifndef DEFGATE_SIM_INT_H
#define DEFGATE_SIM_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <openssl/evp.h>

#include "buf.h"
#include "sim.h"

#define SIM_JSON_CT	"application/json; charset=utf-8"


/* ---- sim_tls.c ---- */

struct sim_tls {
	char		*ca_pem;	/* CA certificate, PEM */
	char		*key_pem;	/* server private key, PEM */
	char		*cert_pem;	/* server certificate, PEM */
	EVP_PKEY	*sign_key;	/* RSA-2048 token signing key */
};

/* 0 on success; -1 with *err set (malloc'd) on failure. */
int		 sim_tls_init(struct sim_tls *, char **err);
void		 sim_tls_free(struct sim_tls *);
/* Write the CA PEM to path (temp file + rename). */
int		 sim_tls_write_ca(const struct sim_tls *, const char *path,
		    char **err);
/* Base64url without padding; returns a malloc'd string or NULL. */
char		*sim_b64url(const unsigned char *, size_t);
/* Decode base64url (padding optional); malloc'd bytes or NULL. */
unsigned char	*sim_b64url_decode(const char *, size_t, size_t *outlen);
/* RS256 token with the sim header and this payload; malloc'd or NULL. */
char		*sim_jwt_sign(const struct sim_tls *, const cJSON *payload);
/*
 * Check the shape and the RS256 signature of a compact JWT; on success
 * return its parsed payload (claims are NOT checked here), else NULL.
 */
cJSON		*sim_jwt_verify(const struct sim_tls *, const char *tok,
		    size_t len);

/*
 * A registered client certificate (PEM): its public key and base64url
 * SHA-1 (x5t) and SHA-256 (x5t#S256) thumbprints. 0, or -1 with *err.
 */
int		 sim_tls_cert(const char *pem, EVP_PKEY **pub, char **x5t,
		    char **x5t256, char **err);
/* The public key of a PEM certificate or public key, or NULL. */
EVP_PKEY	*sim_tls_pubkey(const char *pem);
/* The parsed header and payload of a compact JWT (not verified); 0/-1. */
int		 sim_jwt_split(const char *tok, size_t len, cJSON **hdr,
		    cJSON **payload);
/* Whether tok's signature verifies with key under alg (RS256, PS256). */
int		 sim_jwt_sig_ok(EVP_PKEY *key, const char *tok, size_t len,
		    const char *alg);

/* ---- sim_data.c ---- */

struct sim_store;

struct sim_store *sim_store_new(void);
void		 sim_store_free(struct sim_store *);
/* Back to the initial incidents (times relative to now). */
void		 sim_store_reset(struct sim_store *);
/* The whole list response body for $top/$skip (top < 0: all). */
char		*sim_store_list(struct sim_store *, long top, long skip);
/* One incident as JSON text, or NULL when there is no such id. */
char		*sim_store_get(struct sim_store *, long long id);
/*
 * Apply a PATCH body. 0: *out is the updated incident; -1: no such id;
 * -2: invalid body, *msg (static string) says why.
 */
int		 sim_store_patch(struct sim_store *, long long id,
		    const cJSON *patch, const char *author, char **out,
		    const char **msg);

/*
 * {"@odata.context":context[,"@odata.nextLink"],"value":[items[skip..]]}
 * with at most top items (top < 0: all); the link (only when next_base is
 * set and top cut the list) is next_base?$top=..&$skip=... Consumes items.
 */
char		*sim_odata_page(const char *context, cJSON *items, long top,
		    long skip, const char *next_base);
/*
 * The item of list whose "id" is the string id, with "@odata.context":
 * context first, as text; NULL when there is none. Consumes list.
 */
char		*sim_odata_entity(cJSON *list, const char *id,
		    const char *context);
/* out[to] = a copy of o[from] (null when o or the member is missing). */
void		 sim_json_copy(cJSON *out, const char *to, const cJSON *o,
		    const char *from);
/* Print o with its "@odata.context" member first; consumes o. */
char		*sim_print_context_first(cJSON *o);
/* A deep copy of the incidents (Defender shape), for the other views. */
cJSON		*sim_store_snapshot(struct sim_store *);
/* The simulated devices: how many, and device i in the incident shape. */
size_t		 sim_ndevices(void);
cJSON		*sim_device(size_t i, long long t0);

/* Time as "2026-11-21T10:00:00.1234567Z" into out (>= 32 bytes). */
void		 sim_time7(long long sec, long frac7, char *out, size_t len);

struct sim_hunt;

#define SIM_GRAPH_HUNT_CONTEXT "https://graph.microsoft.com/v1.0/" \
	"$metadata#microsoft.graph.security.huntingQueryResults"

/* Defender/MDE: Stats, Schema [{Name,Type}], Results; Graph: @odata.context,
   schema [{name,type}], results. The rows are the same bytes in both. */
enum sim_hunt_shape { SIM_HUNT_DEFENDER, SIM_HUNT_GRAPH };

/*
 * A generator for a whole advanced hunting response with `rows` rows whose
 * times count back from t0 (the same t0 and rows give the same rows).
 */
struct sim_hunt	*sim_hunt_new(long rows, long long t0, enum sim_hunt_shape);
/* Next bytes of the response: > 0 bytes written, 0 at the end, -1 error. */
long		 sim_hunt_read(struct sim_hunt *, char *out, size_t max);
void		 sim_hunt_free(struct sim_hunt *);

/* ---- sim_graph.c: Microsoft Graph views of the incident store ---- */

/*
 * incs is a sim_store_snapshot(). Lists honour $top (< 0: all) and $skip
 * and carry an @odata.nextLink when $top cut the list; the single-item
 * functions return NULL when there is no such id.
 */
char		*sim_graph_incidents(const cJSON *incs, const char *tenant,
		    long top, long skip, int expand_alerts);
char		*sim_graph_incident(const cJSON *incs, const char *tenant,
		    const char *id, int expand_alerts);
char		*sim_graph_alerts(const cJSON *incs, const char *tenant,
		    long top, long skip);
char		*sim_graph_alert(const cJSON *incs, const char *tenant,
		    const char *id);

/* ---- sim_mde.c: Defender for Endpoint views (alerts, machines) ---- */

char		*sim_mde_alerts(const cJSON *incs, const char *tenant,
		    long top, long skip);
char		*sim_mde_alert(const cJSON *incs, const char *tenant,
		    const char *id);
char		*sim_mde_machines(long long t0, long top, long skip);
char		*sim_mde_machine(long long t0, const char *id);

/* ---- sim_quota.c ---- */

#define SIM_QUOTA_WINDOWS	2
#define SIM_QUOTA_MAX_LIMIT	100000	/* calls per window */
#define SIM_QUOTA_SECS		3600	/* per-second counts kept */
#define SIM_QUOTA_MINUTES	180	/* per-minute counts kept */

/* A sliding window: the times of the last `limit` admitted calls. */
struct sim_window {
	unsigned	 limit;		/* 0: none */
	long long	 span_ms;
	long long	*t;		/* ring of limit slots */
	unsigned	 n, head;	/* used slots, the oldest */
};

/* Every call of one group, throttled or not. */
struct sim_counts {
	unsigned long long	 calls, throttled;
	long long		 sec;		/* second of persec's newest */
	unsigned		 persec[SIM_QUOTA_SECS];
	unsigned long		 sum60, sum3600, max60, max3600;
	long long		 minute;	/* since t0, the newest */
	unsigned		 min_calls[SIM_QUOTA_MINUTES];
	unsigned		 min_429[SIM_QUOTA_MINUTES];
};

struct sim_quota {
	pthread_mutex_t		 mtx;		/* guards what follows */
	int			 enabled;
	struct sim_window	 w[SIM_QUOTA_N][SIM_QUOTA_WINDOWS];
	char			 spec[SIM_QUOTA_N][64];
	long long		 t0_ms;		/* counters since */
	struct sim_counts	 c[SIM_QUOTA_N];
};

/* The documented limits of group g. */
const char	*sim_quota_default(int g);
/* "50/min,1500/h", "45/min", "3/2s", "off": 0, or -1 when invalid. */
int		 sim_quota_parse(const char *spec,
		    unsigned limit[SIM_QUOTA_WINDOWS],
		    long long span_ms[SIM_QUOTA_WINDOWS]);
void		 sim_quota_init(struct sim_quota *);	/* off, no limits */
void		 sim_quota_free(struct sim_quota *);
/* enabled -1: as it is; g -1 or spec NULL: limits as they are. 0/-1. */
int		 sim_quota_set(struct sim_quota *, int enabled, int g,
		    const char *spec);
/* Counters to zero, windows emptied; counting starts at now_ms. */
void		 sim_quota_zero(struct sim_quota *, long long now_ms);
/*
 * One call of group g at now_ms, counted. 0: admitted; else refused,
 * the seconds until a call would be admitted (>= 1), and the window that
 * refused it in *limit and *span_ms.
 */
long		 sim_quota_take(struct sim_quota *, int g, long long now_ms,
		    unsigned *limit, long long *span_ms);
cJSON		*sim_quota_json(struct sim_quota *, long long now_ms);

/* ---- sim_server.c ---- */

#define SIM_JTI_MAX	1024

struct sim {
	struct MHD_Daemon	*d;
	unsigned short		 port;
	atomic_int		 stopping;
	struct sim_tls		 tls;
	struct sim_store	*store;
	char			*tenant, *client, *secret;
	char			*roles0[SIM_AUD_N];	/* NULL: all roles */
	int			 lifetime0, version0, no_machines0;
	int			 verbose;
	long long		 t0;		/* hunting rows count back from */
	struct sim_hooks	 hooks;		/* all NULL: none */
	/* client credentials besides the secret (NULL: not registered) */
	EVP_PKEY		*cert_key;	/* the registered certificate's */
	char			*x5t, *x5t256;	/* its thumbprints, base64url */
	EVP_PKEY		*fed_key;	/* verifies federated tokens */
	char			*fed_iss, *fed_sub, *fed_aud;
	/* managed identity (plain HTTP listener) */
	struct MHD_Daemon	*mi_d;
	unsigned short		 mi_port;
	char			*mi_client, *mi_header;
	int			 mi_expires_number;
	int			 pad_chunked;	/* padded answers: no length */

	pthread_mutex_t		 mtx;		/* guards what follows */
	char			*roles[SIM_AUD_N];	/* NULL: all roles */
	int			 lifetime, version, no_machines;
	unsigned long long	 serial;	/* last token issued */
	unsigned long long	 revoked[SIM_AUD_N];	/* serials <= this: bad */
	struct {
		char		 jti[80];
		long long	 exp;
	}			 jtis[SIM_JTI_MAX];	/* used assertion ids */
	size_t			 jti_next;	/* ring position */

	/* quotas and call counters (their own lock) */
	struct sim_quota	 quota;
	int			 quota0;
	char			*quota_limits0[SIM_QUOTA_N];
};

struct route;

/* One HTTP request, from its first header to its completion. */
struct sim_req {
	struct sim		*s;
	struct MHD_Connection	*c;
	char			*uri;		/* raw request-target */
	const char		*url;		/* decoded path (MHD's) */
	const char		*method;
	struct buf		 body;
	int			 started, too_big;
	enum sim_req_kind	 kind;
	int			 aud;		/* -1: none known */
	/* token requests (sim_entra.c) */
	int			 v2;
	char			*tenant;
	cJSON			*form;
	/* API requests (sim_api.c) */
	const struct route	*route;
	const char		*id;		/* the {id} segment */
	int			 graph;		/* Graph's shapes */
	char			 reqid[37];
	/* the hook's shaping of the sim's answer */
	long			 stall_ms;
	int			 cut;
	long long		 big_header;
};

int		 sim_stopping(struct sim *);
int		 sim_sleep(struct sim *, long ms);
const char	*sim_header(struct MHD_Connection *, const char *name);
char		*sim_pct_decode(const char *, size_t, int plus);
char		*sim_print_json(cJSON *);	/* consumes */
const char	*sim_claim(const cJSON *, const char *name);
/* A response owning body (NULL: empty), or NULL. */
struct MHD_Response *sim_mem_response(char *body);
/* Queue and release; MHD_NO when r is NULL. */
enum MHD_Result	 sim_queue(struct MHD_Connection *, unsigned status,
		    struct MHD_Response *);
/*
 * A streamed response: a hunting generator (taken) or a memory body
 * (taken), cut halfway and stalled as the request's shaping says.
 */
struct MHD_Response *sim_stream_response(struct sim_req *,
		    struct sim_hunt *hunt, char *mem);
/* A padded OData list of total bytes, reset after a third when cut. */
struct MHD_Response *sim_pad_response(struct sim_req *, uint64_t total,
		    int cut);
/* The raw query of the request ("" if none). */
const char	*sim_raw_query(const char *uri);
char		*sim_raw_path(const char *uri);

/* ---- sim_entra.c ---- */

struct sim_aud_info {
	const char	*name, *resource, *appid, *roles;
};
extern const struct sim_aud_info sim_auds[SIM_AUD_N];

/* 1 for /{tenant}/oauth2/token, 2 for .../v2.0/token, else 0. */
int		 sim_entra_path(const char *url);
/* Parse a token request (form, tenant, audience) before the hooks. */
void		 sim_entra_prepare(struct sim *, struct sim_req *);
enum MHD_Result	 sim_entra_answer(struct sim *, struct sim_req *);
enum MHD_Result	 sim_entra_reply(struct sim_req *, unsigned status,
		    char *body, long retry_after);
char		*sim_entra_error(const char *error, long code,
		    const char *text, const char *corr);
/* A signed token for aud (current lifetime, version, roles). */
char		*sim_token_issue(struct sim *, int aud, int *lifetime);
/* The serial hidden in a token's uti, or 0. */
unsigned long long sim_token_serial(const char *uti);

/* ---- sim_mi.c ---- */

void		 sim_mi_prepare(struct sim *, struct sim_req *);
enum MHD_Result	 sim_mi_answer(struct sim *, struct sim_req *);

/* ---- sim_api.c ---- */

struct answer;

enum handler {
	H_INC_LIST, H_INC_GET, H_INC_PATCH, H_HUNT,
	H_MDE_ALERTS, H_MDE_ALERT, H_MACHINES, H_MACHINE,
	H_G_INCIDENTS, H_G_INCIDENT, H_G_ALERTS, H_G_ALERT
};

/* A handler answers a request that passed the audience and role checks. */
typedef void	 sim_handler(struct sim *, struct sim_req *,
		    const cJSON *claims, struct answer *);

struct route {
	const char	*method, *path;
	int		 has_id;	/* the path is followed by "/{id}" */
	int		 aud;		/* the token audience it needs */
	const char	*roles;		/* any of these roles */
	enum handler	 h;
	sim_handler	*fn;
};

void		 sim_api_prepare(struct sim *, struct sim_req *);
enum MHD_Result	 sim_api_answer(struct sim *, struct sim_req *);
enum MHD_Result	 sim_api_reply(struct sim_req *, unsigned status,
		    struct MHD_Response *, long retry_after);
char		*sim_api_error_body(const struct sim_req *, unsigned status);

/* What an API handler fills in. */
struct answer {
	unsigned	 status;
	long		 retry_after;	/* > 0: a Retry-After header */
	char		*body;		/* JSON text, or */
	struct sim_hunt	*hunt;		/* a streamed hunting answer */
};
/* An error in the request's API's shape. */
void		 sim_answer_error(const struct sim_req *, struct answer *,
		    unsigned status, const char *code, const char *msg);
/* $top/$skip; -1 (and a 400 answer) when invalid. */
int		 sim_paging(const struct sim_req *, struct answer *,
		    long *top, long *skip);
char		*sim_query_value(const char *query, const char *name);

/* ---- the handlers ---- */

sim_handler	 sim_defender_incidents;	/* sim_defender.c */
sim_handler	 sim_defender_hunting;		/* all three APIs */
sim_handler	 sim_graph_answer;		/* sim_graph.c */
sim_handler	 sim_mde_answer;		/* sim_mde.c */

#endif

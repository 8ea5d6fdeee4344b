/*
 * sim_int.h: private interface between the simulation's files
 * (sim.c, sim_tls.c, sim_data.c). Not for the rest of defgate.
 *
 * sim_tls.c: key and certificate material and JWT signing/verification.
 *   A struct sim_tls is filled once by sim_tls_init() before the server
 *   starts and is read-only afterwards, so any thread may sign or verify.
 * sim_data.c: the incident store (own mutex, any thread) and the
 *   advanced hunting row generator (one generator per response, one
 *   thread at a time).
 * Every char * returned by these functions is malloc'd and owned by the
 * caller; every cJSON * returned must be freed with cJSON_Delete().
 */
#ifndef DEFGATE_SIM_INT_H
#define DEFGATE_SIM_INT_H

#include <stddef.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

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

#endif

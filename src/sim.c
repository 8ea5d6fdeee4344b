/*
 * sim.c: an in-process simulation of the Entra ID token endpoint and the
 * Defender XDR API in one HTTPS server on loopback (libmicrohttpd, its own
 * CA from sim_tls.c, incidents and hunting rows from sim_data.c), with
 * control endpoints under /_sim/ to inspect what a client sent and to
 * inject faults. Used by `defgate --demo` and by tests/fakeapi.c.
 *
 * Threads: sim_start()/sim_port()/sim_stop() run on the caller's thread.
 * MHD runs one thread per connection (so fault handlers may sleep; every
 * sleep is sliced and watches `stopping`, so sim_stop() returns quickly).
 * Everything mutable in struct sim below `mtx` is guarded by it; the
 * incident store has its own lock; key material is read-only.
 * Ownership: struct sim owns everything it points to; a struct sreq (one
 * per HTTP request) is made in the URI callback and freed in the
 * completion callback; a struct stream belongs to its MHD response.
 *
 * Random faults (for the soak test), set with POST /_sim/config and
 * cleared by /_sim/reset; queued faults (/_sim/fault) take precedence:
 *   "api_5xx_rate": p     each API request, with probability p, is
 *                         answered 500 or 503 (even odds) with a Defender
 *                         error body (counter "random_5xx");
 *   "api_reset_rate": p   each API request, with probability p, is reset:
 *                         even odds either before any response (the
 *                         connection closes) or during the body (the real
 *                         answer is sent with its full Content-Length and
 *                         the connection is cut after half of the bytes);
 *                         counter "random_resets" (all resets) and
 *                         "random_resets_body" (those during the body);
 *                         one draw per request decides: 5xx below
 *                         api_5xx_rate, reset below the sum of both
 *                         rates, else no fault (a sum over 1 is
 *                         allowed: the 5xx rate wins);
 *   "token_fail_every": n every n-th token request (counted from when n
 *                         was set) fails with 503 temporarily_unavailable
 *                         (counter "random_token_failures"); 0: off.
 * The draws come from one xorshift64* generator under `mtx`, seeded from
 * RAND_bytes() at start.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <openssl/rand.h>

#include "buf.h"
#include "log.h"
#include "sim.h"
#include "sim_int.h"
#include "util.h"

#define API_BODY_MAX	(1024 * 1024)
#define TOKEN_BODY_MAX	(64 * 1024)
#define HUNT_MEM_ROWS	2000		/* more rows: chunked stream */
#define HUNT_MAX_ROWS	100000
#define BIG_HEADER_MAX	(900 * 1024)
#define SIM_OID		"c2f9a0b4-7d1e-4c58-9a36-e5b7d8f01a2c"
#define JSON_CT		"application/json; charset=utf-8"
#define GRAPH_CT	"application/json;odata.metadata=minimal;" \
			"odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
#define ODATA_PREFIX	"{\"@odata.context\":\"https://api.security." \
			"microsoft.com/api/$metadata#Incidents\",\"value\":[]," \
			"\"padding\":\""

/*
 * The token audiences: the v1 resource (the token's aud), the resource's
 * application id (the aud of a v2-shaped token) and all of its roles (the
 * default grant). Indexed by enum sim_audience.
 */
static const struct audience {
	const char	*name, *resource, *appid, *roles;
} auds[SIM_AUD_N] = {
	{ "defender", "https://api.security.microsoft.com",
	  "8ee8fdad-f234-4243-8f3b-15c294843740",
	  "Incident.Read.All,Incident.ReadWrite.All,AdvancedHunting.Read.All" },
	{ "graph", "https://graph.microsoft.com",
	  "00000003-0000-0000-c000-000000000000",
	  "SecurityIncident.Read.All,SecurityIncident.ReadWrite.All,"
	  "SecurityAlert.Read.All,SecurityAlert.ReadWrite.All,"
	  "ThreatHunting.Read.All" },
	{ "mde", "https://api.securitycenter.microsoft.com",
	  "fc780465-2017-40d4-a0c5-307022471b92",
	  "Alert.Read.All,Alert.ReadWrite.All,Machine.Read.All,"
	  "Machine.ReadWrite.All,AdvancedQuery.Read.All" },
};

enum target { T_TOKEN, T_API };

enum fkind {
	F_STATUS, F_429, F_MALFORMED, F_MISSING_TOKEN, F_MISSING_EXPIRY,
	F_HANG, F_CLOSE, F_RESET, F_RESET_BODY, F_STALL, F_HUGE,
	F_BIG_HEADERS
};

static const struct {
	const char	*name;
	enum fkind	 kind;
	int		 token, api;	/* valid for which target */
} fkinds[] = {
	{ "status", F_STATUS, 1, 1 },
	{ "429", F_429, 1, 0 },
	{ "malformed", F_MALFORMED, 1, 0 },
	{ "missing_token", F_MISSING_TOKEN, 1, 0 },
	{ "missing_expiry", F_MISSING_EXPIRY, 1, 0 },
	{ "hang", F_HANG, 1, 1 },
	{ "close", F_CLOSE, 1, 0 },
	{ "reset", F_RESET, 0, 1 },
	{ "reset_body", F_RESET_BODY, 0, 1 },
	{ "stall", F_STALL, 0, 1 },
	{ "huge", F_HUGE, 0, 1 },
	{ "big_headers", F_BIG_HEADERS, 0, 1 },
};

struct fault {
	struct fault	*next;
	enum fkind	 kind;
	long		 count;		/* -1: until reset */
	unsigned	 status;	/* 0: default */
	long		 retry_after;	/* -1: none given */
	long		 aadsts;	/* 0: default */
	char		 error[64];	/* "": default */
	long		 delay_ms;	/* -1: default */
	long long	 bytes;		/* -1: default */
	int		 aud;		/* -1: any audience */
	char		 path[128];	/* "": any path, else a path prefix */
};

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

	pthread_mutex_t		 mtx;
	char			*roles[SIM_AUD_N];	/* NULL: all roles */
	int			 lifetime, version, no_machines;
	long			 latency_ms;
	unsigned long long	 serial;	/* last token issued */
	unsigned long long	 revoked[SIM_AUD_N];	/* serials <= this: bad */
	struct fault		*faults[2];	/* FIFO per target */
	unsigned long long	 token_requests, api_requests, connections;
	unsigned long long	 token_requests_aud[SIM_AUD_N];
	unsigned long long	 api_requests_aud[SIM_AUD_N];
	double			 rate_5xx, rate_reset;	/* random faults */
	long			 token_fail_every;	/* 0: off */
	unsigned long long	 token_seq;	/* since token_fail_every set */
	unsigned long long	 random_5xx, random_resets, random_resets_body;
	unsigned long long	 random_token_failures;
	uint64_t		 rng;		/* xorshift64* state, never 0 */
	cJSON			*last_req, *last_tok;
};

struct sreq {
	char		*uri;		/* raw request-target with query */
	struct buf	 body;
	int		 started;
	int		 too_big;
};

/* A streamed response body (see stream_read()). */
enum skind { S_MEM, S_HUNT, S_PAD, S_CUT };

struct stream {
	struct sim	*s;
	enum skind	 kind;
	char		*mem;		/* S_MEM */
	size_t		 len;
	struct sim_hunt	*hunt;		/* S_HUNT */
	uint64_t	 total;		/* S_PAD, S_CUT: declared size */
	long		 stall_ms;	/* > 0: pause once at stall_at */
	uint64_t	 stall_at;
	int		 stalled;
	uint64_t	 cut_at;	/* > 0: reset the connection here */
};

/* ---- small helpers ---- */

static int
stopping(struct sim *s)
{
	return (atomic_load(&s->stopping));
}

/* Sleep in slices of <= 50 ms; -1 when the sim is stopping. */
static int
sim_sleep(struct sim *s, long ms)
{
	struct timespec	 ts;
	long		 step;

	while (ms > 0) {
		if (stopping(s))
			return (-1);
		step = ms < 50 ? ms : 50;
		ts.tv_sec = 0;
		ts.tv_nsec = step * 1000000L;
		nanosleep(&ts, NULL);
		ms -= step;
	}
	return (stopping(s) ? -1 : 0);
}

static char *
dupstr(const char *s)
{
	return (s ? xstrdup(s) : NULL);
}

/* Entra's timestamp form: "2026-11-21 10:00:00Z". */
static void
entra_time(char *out, size_t len)
{
	struct tm	 tm;
	time_t		 t = time(NULL);

	gmtime_r(&t, &tm);
	strftime(out, len, "%Y-%m-%d %H:%M:%SZ", &tm);
}

static const char *
header(struct MHD_Connection *c, const char *name)
{
	return (MHD_lookup_connection_value(c, MHD_HEADER_KIND, name));
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

/* Percent-decode n bytes of s (with '+' as space when plus is set). */
static char *
pct_decode(const char *s, size_t n, int plus)
{
	char	*o = xmalloc(n + 1), *p = o;
	int	 hi, lo;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '+' && plus) {
			*p++ = ' ';
		} else if (s[i] == '%' && i + 2 < n &&
		    (hi = hexval(s[i + 1])) >= 0 &&
		    (lo = hexval(s[i + 2])) >= 0) {
			*p++ = (char)(hi << 4 | lo);
			i += 2;
		} else
			*p++ = s[i];
	}
	*p = '\0';
	return (o);
}

static char *
print_json(cJSON *o)
{
	char	*t = cJSON_PrintUnformatted(o);

	cJSON_Delete(o);
	return (t);
}

/*
 * {"error":{"code":..,"message":..,"target":..}}; the target is the
 * request-id of the answer (a new uuid when NULL).
 */
static char *
defender_error(const char *code, const char *msg, const char *reqid)
{
	cJSON	*o = cJSON_CreateObject(), *e;
	char	 target[37];

	if (reqid != NULL)
		snprintf(target, sizeof(target), "%s", reqid);
	else
		util_uuid(target);
	e = cJSON_AddObjectToObject(o, "error");
	cJSON_AddStringToObject(e, "code", code);
	cJSON_AddStringToObject(e, "message", msg);
	cJSON_AddStringToObject(e, "target", target);
	return (print_json(o));
}

/* Entra ID error JSON; corr is the client-request-id when one was sent. */
static char *
entra_error(const char *error, long code, const char *text, const char *corr)
{
	cJSON	*o = cJSON_CreateObject(), *codes;
	char	 trace[37], cid[37], ts[32], uri[96], *desc;
	size_t	 n;

	util_uuid(trace);
	if (corr == NULL || strlen(corr) != 36)
		util_uuid(cid);
	else
		memcpy(cid, corr, sizeof(cid));
	entra_time(ts, sizeof(ts));
	n = strlen(text) + 200;
	desc = xmalloc(n);
	snprintf(desc, n, "AADSTS%ld: %s\r\nTrace ID: %s\r\nCorrelation ID: "
	    "%s\r\nTimestamp: %s", code, text, trace, cid, ts);
	snprintf(uri, sizeof(uri),
	    "https://login.microsoftonline.com/error?code=%ld", code);
	cJSON_AddStringToObject(o, "error", error);
	cJSON_AddStringToObject(o, "error_description", desc);
	codes = cJSON_AddArrayToObject(o, "error_codes");
	cJSON_AddItemToArray(codes, cJSON_CreateNumber((double)code));
	cJSON_AddStringToObject(o, "timestamp", ts);
	cJSON_AddStringToObject(o, "trace_id", trace);
	cJSON_AddStringToObject(o, "correlation_id", cid);
	cJSON_AddStringToObject(o, "error_uri", uri);
	free(desc);
	return (print_json(o));
}

static char *
ok_json(void)
{
	return (xstrdup("{\"ok\":true}"));
}

static char *
ctl_error(const char *msg)
{
	cJSON	*o = cJSON_CreateObject();

	cJSON_AddFalseToObject(o, "ok");
	cJSON_AddStringToObject(o, "error", msg);
	return (print_json(o));
}

/* ---- streamed bodies ---- */

/* Bytes [pos, pos+n) of a valid JSON document of exactly `total` bytes. */
static void
pad_fill(uint64_t total, uint64_t pos, char *out, size_t n)
{
	static const char	 pre[] = ODATA_PREFIX, suf[] = "\"}";
	const uint64_t		 plen = sizeof(pre) - 1;
	const uint64_t		 slen = sizeof(suf) - 1;

	for (size_t i = 0; i < n; i++) {
		uint64_t p = pos + i;

		if (p < plen)
			out[i] = pre[p];
		else if (p >= total - slen)
			out[i] = suf[p - (total - slen)];
		else
			out[i] = 'x';
	}
}

static uint64_t
pad_min(void)
{
	return (sizeof(ODATA_PREFIX) - 1 + 2);
}

static ssize_t
stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct stream	*st = cls;
	long		 n;

	if (stopping(st->s))
		return (MHD_CONTENT_READER_END_WITH_ERROR);
	if (st->cut_at > 0) {
		if (pos >= st->cut_at)
			return (MHD_CONTENT_READER_END_WITH_ERROR);
		if (max > st->cut_at - pos)
			max = (size_t)(st->cut_at - pos);
	}
	if (st->stall_ms > 0 && !st->stalled) {
		if (pos >= st->stall_at) {
			st->stalled = 1;
			if (sim_sleep(st->s, st->stall_ms) == -1)
				return (MHD_CONTENT_READER_END_WITH_ERROR);
		} else if (max > st->stall_at - pos)
			max = (size_t)(st->stall_at - pos);
	}
	switch (st->kind) {
	case S_MEM:
		if (pos >= st->len)
			return (MHD_CONTENT_READER_END_OF_STREAM);
		if (max > st->len - pos)
			max = (size_t)(st->len - pos);
		memcpy(out, st->mem + pos, max);
		return ((ssize_t)max);
	case S_HUNT:
		if ((n = sim_hunt_read(st->hunt, out, max)) < 0)
			return (MHD_CONTENT_READER_END_WITH_ERROR);
		if (n == 0)
			return (MHD_CONTENT_READER_END_OF_STREAM);
		return ((ssize_t)n);
	case S_PAD:
	case S_CUT:
		if (st->kind == S_CUT && pos >= st->total / 3)
			return (MHD_CONTENT_READER_END_WITH_ERROR);
		if (pos >= st->total)
			return (MHD_CONTENT_READER_END_OF_STREAM);
		if (max > st->total - pos)
			max = (size_t)(st->total - pos);
		if (st->kind == S_CUT && max > st->total / 3 - pos)
			max = (size_t)(st->total / 3 - pos);
		pad_fill(st->total, pos, out, max);
		return ((ssize_t)max);
	}
	return (MHD_CONTENT_READER_END_WITH_ERROR);
}

static void
stream_free(void *cls)
{
	struct stream	*st = cls;

	free(st->mem);
	sim_hunt_free(st->hunt);
	free(st);
}

static struct stream *
stream_new(struct sim *s, enum skind kind)
{
	struct stream	*st = xcalloc(1, sizeof(*st));

	st->s = s;
	st->kind = kind;
	return (st);
}

static struct MHD_Response *
stream_response(struct stream *st, uint64_t size)
{
	struct MHD_Response	*r;

	r = MHD_create_response_from_callback(size, 64 * 1024, stream_read,
	    st, stream_free);
	if (r == NULL)
		stream_free(st);
	return (r);
}

/* A response that owns body (may be NULL: then an empty body). */
static struct MHD_Response *
mem_response(char *body)
{
	struct MHD_Response	*r;

	if (body == NULL)
		return (MHD_create_response_from_buffer(0, (void *)"",
		    MHD_RESPMEM_PERSISTENT));
	r = MHD_create_response_from_buffer(strlen(body), body,
	    MHD_RESPMEM_MUST_FREE);
	if (r == NULL)
		free(body);
	return (r);
}

static enum MHD_Result
queue(struct MHD_Connection *c, unsigned status, struct MHD_Response *r)
{
	enum MHD_Result	 ret;

	if (r == NULL)
		return (MHD_NO);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return (ret);
}

/* A JSON answer of the control endpoints. */
static enum MHD_Result
ctl_answer(struct MHD_Connection *c, unsigned status, char *body)
{
	struct MHD_Response	*r = mem_response(body);

	if (r == NULL)
		return (MHD_NO);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, JSON_CT);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	return (queue(c, status, r));
}

/* ---- faults ---- */

/*
 * Consume the first fault for target t that applies to a request for
 * audience aud (-1: none known) on path into *out; 0 when there is none.
 */
static int
take_fault(struct sim *s, enum target t, int aud, const char *path,
    struct fault *out)
{
	struct fault	*f, **pf;

	pthread_mutex_lock(&s->mtx);
	for (pf = &s->faults[t]; (f = *pf) != NULL; pf = &f->next)
		if ((f->aud < 0 || f->aud == aud) && strncmp(path, f->path,
		    strlen(f->path)) == 0)
			break;
	if (f == NULL) {
		pthread_mutex_unlock(&s->mtx);
		return (0);
	}
	*out = *f;
	out->next = NULL;
	if (f->count > 0 && --f->count == 0) {
		*pf = f->next;
		free(f);
	}
	pthread_mutex_unlock(&s->mtx);
	return (1);
}

static void
free_faults(struct sim *s)
{
	struct fault	*f, *n;

	for (int t = 0; t < 2; t++) {
		for (f = s->faults[t]; f != NULL; f = n) {
			n = f->next;
			free(f);
		}
		s->faults[t] = NULL;
	}
}

/* ---- random faults ---- */

/* A uniform double in [0, 1); the caller holds s->mtx. */
static double
rng_next_locked(struct sim *s)
{
	uint64_t	 x = s->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	s->rng = x;
	return ((double)((x * 0x2545F4914F6CDD1DULL) >> 11) * 0x1.0p-53);
}

static void
rng_seed(struct sim *s)
{
	uint64_t	 seed = 0;

	if (RAND_bytes((unsigned char *)&seed, sizeof(seed)) != 1)
		seed = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)s;
	s->rng = seed != 0 ? seed : 0x9E3779B97F4A7C15ULL;
}

enum rfault { RF_NONE, RF_500, RF_503, RF_RESET, RF_RESET_BODY };

/* Draw the random fault (if any) for one API request. */
static enum rfault
random_api_fault(struct sim *s)
{
	enum rfault	 rf = RF_NONE;
	double		 u;

	pthread_mutex_lock(&s->mtx);
	if (s->rate_5xx > 0 || s->rate_reset > 0) {
		u = rng_next_locked(s);
		if (u < s->rate_5xx) {
			rf = rng_next_locked(s) < 0.5 ? RF_500 : RF_503;
			s->random_5xx++;
		} else if (u < s->rate_5xx + s->rate_reset) {
			rf = RF_RESET;
			s->random_resets++;
			if (rng_next_locked(s) < 0.5) {
				rf = RF_RESET_BODY;
				s->random_resets_body++;
			}
		}
	}
	pthread_mutex_unlock(&s->mtx);
	return (rf);
}

/* Whether this token request is the n-th one that must fail. */
static int
random_token_fault(struct sim *s)
{
	int	 fail = 0;

	pthread_mutex_lock(&s->mtx);
	if (s->token_fail_every > 0 &&
	    ++s->token_seq % (unsigned long long)s->token_fail_every == 0) {
		fail = 1;
		s->random_token_failures++;
	}
	pthread_mutex_unlock(&s->mtx);
	return (fail);
}

/* ---- tokens ---- */

static char *
rand_b64(size_t n)
{
	unsigned char	 r[64];

	if (n > sizeof(r))
		n = sizeof(r);
	if (RAND_bytes(r, (int)n) != 1)
		return (NULL);
	return (sim_b64url(r, n));
}

/* uti: 8 random bytes, then the serial XOR those bytes (opaque, unique). */
static char *
make_uti(unsigned long long serial)
{
	unsigned char	 b[16];

	if (RAND_bytes(b, 8) != 1)
		return (NULL);
	for (int i = 0; i < 8; i++)
		b[8 + i] = b[i] ^ (unsigned char)(serial >> (56 - 8 * i));
	return (sim_b64url(b, sizeof(b)));
}

/* The serial hidden in a uti, or 0 when it is not one of ours. */
static unsigned long long
uti_serial(const char *uti)
{
	unsigned char		*b;
	size_t			 n;
	unsigned long long	 serial = 0;

	if ((b = sim_b64url_decode(uti, strlen(uti), &n)) == NULL)
		return (0);
	if (n == 16)
		for (int i = 0; i < 8; i++)
			serial = serial << 8 | (unsigned char)(b[8 + i] ^ b[i]);
	free(b);
	return (serial);
}

/* The roles claim: roles (NULL: all of aud's; "": no claim at all). */
static void
add_roles(cJSON *o, const char *roles, int aud)
{
	cJSON		*a;
	const char	*p, *e;
	char		*item;

	if (roles == NULL)
		roles = auds[aud].roles;
	if (*roles == '\0')
		return;		/* no roles claim at all */
	a = cJSON_AddArrayToObject(o, "roles");
	for (p = roles; p != NULL; p = e ? e + 1 : NULL) {
		e = strchr(p, ',');
		item = util_strndup(p, e ? (size_t)(e - p) : strlen(p));
		if (item != NULL && *item != '\0')
			cJSON_AddItemToArray(a, cJSON_CreateString(item));
		free(item);
	}
}

/* Sign a new access token for aud; the claim shape follows `version`. */
static char *
issue_token(struct sim *s, long long now, int lifetime, int version,
    int aud, const char *roles, unsigned long long serial)
{
	cJSON	*o = cJSON_CreateObject();
	char	 iss[160], *aio, *rh, *uti, *tok = NULL, *rnd;

	aio = rand_b64(36);
	rnd = rand_b64(42);
	uti = make_uti(serial);
	rh = NULL;
	if (rnd != NULL) {
		size_t n = strlen(rnd) + 8;

		rh = xmalloc(n);
		snprintf(rh, n, "0.A%sAA.", rnd);
	}
	if (aio == NULL || rh == NULL || uti == NULL)
		goto out;
	if (version == 2)
		snprintf(iss, sizeof(iss),
		    "https://login.microsoftonline.com/%s/v2.0", s->tenant);
	else
		snprintf(iss, sizeof(iss), "https://sts.windows.net/%s/",
		    s->tenant);
	cJSON_AddStringToObject(o, "aud", version == 2 ? auds[aud].appid :
	    auds[aud].resource);
	cJSON_AddStringToObject(o, "iss", iss);
	cJSON_AddNumberToObject(o, "iat", (double)now);
	cJSON_AddNumberToObject(o, "nbf", (double)now);
	cJSON_AddNumberToObject(o, "exp", (double)(now + lifetime));
	cJSON_AddStringToObject(o, "aio", aio);
	cJSON_AddStringToObject(o, "app_displayname", "defgate-demo");
	if (version == 2) {
		cJSON_AddStringToObject(o, "azp", s->client);
		cJSON_AddStringToObject(o, "azpacr", "1");
	} else {
		cJSON_AddStringToObject(o, "appid", s->client);
		cJSON_AddStringToObject(o, "appidacr", "1");
	}
	cJSON_AddStringToObject(o, "idp", iss);
	cJSON_AddStringToObject(o, "idtyp", "app");
	cJSON_AddStringToObject(o, "oid", SIM_OID);
	cJSON_AddStringToObject(o, "rh", rh);
	add_roles(o, roles, aud);
	cJSON_AddStringToObject(o, "sub", SIM_OID);
	cJSON_AddStringToObject(o, "tid", s->tenant);
	cJSON_AddStringToObject(o, "uti", uti);
	cJSON_AddStringToObject(o, "ver", version == 2 ? "2.0" : "1.0");
	tok = sim_jwt_sign(&s->tls, o);
out:
	cJSON_Delete(o);
	free(aio);
	free(rnd);
	free(rh);
	free(uti);
	return (tok);
}

static const char *
claim(const cJSON *o, const char *name)
{
	const cJSON	*v = cJSON_GetObjectItemCaseSensitive(o, name);

	return (cJSON_IsString(v) ? v->valuestring : NULL);
}

/*
 * Which audience s names (an aud claim, or a control request's audience):
 * its short name, resource or application id; -1 for none of ours.
 */
static int
aud_find(const char *s)
{
	for (int i = 0; s != NULL && i < SIM_AUD_N; i++)
		if (strcmp(s, auds[i].name) == 0 ||
		    strcmp(s, auds[i].resource) == 0 ||
		    strcmp(s, auds[i].appid) == 0)
			return (i);
	return (-1);
}

/*
 * Verified claims of the request's bearer token for audience want (-1:
 * any of ours), or NULL (*why set).
 */
static cJSON *
bearer(struct sim *s, struct MHD_Connection *c, int want, const char **why)
{
	const char		*h = header(c, MHD_HTTP_HEADER_AUTHORIZATION);
	const char		*aud, *uti;
	size_t			 n;
	cJSON			*p, *exp, *nbf;
	long long		 now = util_now();
	unsigned long long	 serial, revoked = 0;
	int			 a;

	*why = "Authorization header is missing or is not a bearer token.";
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return (NULL);
	h += 7;
	while (*h == ' ')
		h++;
	n = strlen(h);
	while (n > 0 && (h[n - 1] == ' ' || h[n - 1] == '\t'))
		n--;
	*why = "The access token is invalid (signature validation failed).";
	if (n == 0 || (p = sim_jwt_verify(&s->tls, h, n)) == NULL)
		return (NULL);
	exp = cJSON_GetObjectItemCaseSensitive(p, "exp");
	nbf = cJSON_GetObjectItemCaseSensitive(p, "nbf");
	aud = claim(p, "aud");
	uti = claim(p, "uti");
	a = aud_find(aud);
	pthread_mutex_lock(&s->mtx);
	if (a >= 0)
		revoked = s->revoked[a];
	pthread_mutex_unlock(&s->mtx);
	if (!cJSON_IsNumber(exp) || (long long)exp->valuedouble <= now)
		*why = "The access token has expired.";
	else if (cJSON_IsNumber(nbf) && (long long)nbf->valuedouble > now + 300)
		*why = "The access token is not yet valid.";
	else if (a < 0 || (want >= 0 && a != want))
		*why = "The access token audience is invalid.";
	else if (claim(p, "tid") == NULL ||
	    strcmp(claim(p, "tid"), s->tenant) != 0)
		*why = "The access token was issued for another tenant.";
	else if (uti == NULL || (serial = uti_serial(uti)) == 0 ||
	    serial <= revoked)
		*why = "The access token has been revoked.";
	else
		return (p);
	cJSON_Delete(p);
	return (NULL);
}

/* Whether the roles claim holds any of the comma-separated roles. */
static int
has_any_role(const cJSON *claims, const char *any)
{
	const cJSON	*r, *a;
	const char	*p, *e;
	size_t		 n;

	a = cJSON_GetObjectItemCaseSensitive(claims, "roles");
	cJSON_ArrayForEach(r, a) {
		if (!cJSON_IsString(r))
			continue;
		for (p = any; p != NULL; p = e ? e + 1 : NULL) {
			e = strchr(p, ',');
			n = e ? (size_t)(e - p) : strlen(p);
			if (n > 0 && strlen(r->valuestring) == n &&
			    strncmp(r->valuestring, p, n) == 0)
				return (1);
		}
	}
	return (0);
}

/*
 * Graph's error: {"error":{"code","message","innerError":{"date",
 * "request-id","client-request-id"}}}.
 */
static char *
graph_error(const char *code, const char *msg, const char *reqid,
    const char *crid)
{
	cJSON	*o = cJSON_CreateObject(), *e, *in;
	char	 date[32];
	time_t	 t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	e = cJSON_AddObjectToObject(o, "error");
	cJSON_AddStringToObject(e, "code", code);
	cJSON_AddStringToObject(e, "message", msg);
	in = cJSON_AddObjectToObject(e, "innerError");
	cJSON_AddStringToObject(in, "date", date);
	cJSON_AddStringToObject(in, "request-id", reqid);
	cJSON_AddStringToObject(in, "client-request-id", crid && *crid ?
	    crid : reqid);
	return (print_json(o));
}

/* An API error in the shape of the API that path belongs to. */
static char *
api_error_body(int graph, const char *code, const char *msg,
    const char *reqid, const char *crid)
{
	if (graph)
		return (graph_error(code, msg, reqid, crid));
	return (defender_error(code, msg, reqid));
}

/* "Missing application roles. ..." for the required roles. */
static char *
forbidden_body(const cJSON *claims, const char *required, int graph,
    const char *reqid, const char *crid)
{
	struct buf	 b;
	const cJSON	*r, *a;
	int		 first = 1;
	char		*body;

	buf_init(&b, 64 * 1024);
	buf_printf(&b, "Missing application roles. API required roles: %s, "
	    "application roles: ", required);
	a = claims ? cJSON_GetObjectItemCaseSensitive(claims, "roles") : NULL;
	cJSON_ArrayForEach(r, a) {
		if (!cJSON_IsString(r))
			continue;
		buf_printf(&b, "%s%s", first ? "" : ",", r->valuestring);
		first = 0;
	}
	buf_addstr(&b, ".");
	body = api_error_body(graph, "Forbidden", b.data ? b.data : "", reqid,
	    crid);
	buf_free(&b);
	return (body);
}

/* ---- token endpoint ---- */

/* application/x-www-form-urlencoded into an object (first value wins). */
static cJSON *
parse_form(const char *body, size_t len)
{
	cJSON		*f = cJSON_CreateObject();
	const char	*p = body, *end = body + len, *amp, *e, *eq;
	char		*k, *v;

	while (p < end) {
		amp = memchr(p, '&', (size_t)(end - p));
		e = amp ? amp : end;
		if (e > p) {
			eq = memchr(p, '=', (size_t)(e - p));
			k = pct_decode(p, (size_t)((eq ? eq : e) - p), 1);
			v = eq ? pct_decode(eq + 1, (size_t)(e - eq - 1), 1) :
			    xstrdup("");
			if (*k != '\0' && !cJSON_HasObjectItem(f, k))
				cJSON_AddStringToObject(f, k, v);
			free(k);
			free(v);
		}
		p = e + 1;
	}
	return (f);
}

static enum MHD_Result
token_answer(struct MHD_Connection *c, unsigned status, char *body,
    long retry_after)
{
	struct MHD_Response	*r = mem_response(body);
	const char		*crid = header(c, "client-request-id");
	char			 id[37], ra[24];

	if (r == NULL)
		return (MHD_NO);
	util_uuid(id);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, JSON_CT);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL,
	    "no-store, no-cache");
	MHD_add_response_header(r, MHD_HTTP_HEADER_PRAGMA, "no-cache");
	MHD_add_response_header(r, "x-ms-request-id", id);
	MHD_add_response_header(r, "x-ms-ests-server",
	    "2.1.18874.3 - defgate-sim");
	if (crid != NULL)
		MHD_add_response_header(r, "client-request-id", crid);
	if (retry_after >= 0) {
		snprintf(ra, sizeof(ra), "%ld", retry_after);
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, ra);
	}
	return (queue(c, status, r));
}

static enum MHD_Result
token_error(struct MHD_Connection *c, unsigned status, const char *error,
    long code, const char *fmt, ...)
    __attribute__((__format__(__printf__, 5, 6)));

static enum MHD_Result
token_error(struct MHD_Connection *c, unsigned status, const char *error,
    long code, const char *fmt, ...)
{
	char	 text[1024];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	return (token_answer(c, status, entra_error(error, code, text,
	    header(c, "client-request-id")), -1));
}

/* Default AADSTS code and text for an injected token error. */
static void
fault_aadsts(struct sim *s, const struct fault *f, unsigned status,
    const char *error, long *code, char *text, size_t len)
{
	static const struct { long code; const char *text; } known[] = {
		{ 7000215, "Invalid client secret provided. Ensure the secret "
		    "being sent in the request is the client secret value, not "
		    "the client secret ID, for a secret added to app '%s'." },
		{ 7000222, "The provided client secret keys for app '%s' are "
		    "expired. Visit the Azure portal to create new keys for "
		    "your app." },
		{ 700016, "Application with identifier '%s' was not found in "
		    "the directory." },
		{ 90033, "A transient error has occurred. Please try again." },
		{ 90055, "There are too many incoming requests. This exception "
		    "is thrown for blocked tenants." },
		{ 50196, "The server terminated an operation because it "
		    "encountered a client request loop. Please contact your "
		    "app vendor." },
		{ 900144, "The request body must contain the following "
		    "parameter: 'grant_type'." },
	};
	const char	*p;

	*code = f->aadsts;
	if (*code == 0) {
		if (strcmp(error, "invalid_client") == 0)
			*code = 7000215;
		else if (strcmp(error, "unauthorized_client") == 0)
			*code = 700016;
		else if (strcmp(error, "invalid_grant") == 0)
			*code = 7000222;
		else if (strcmp(error, "invalid_request") == 0)
			*code = 900144;
		else
			*code = status == 429 ? 90055 : 90033;
	}
	snprintf(text, len, "Simulated failure.");
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		if (known[i].code != *code)
			continue;
		/* a %s in the table stands for the client id */
		if ((p = strstr(known[i].text, "%s")) == NULL)
			snprintf(text, len, "%s", known[i].text);
		else
			snprintf(text, len, "%.*s%s%s",
			    (int)(p - known[i].text), known[i].text,
			    s->client, p + 2);
	}
}

/* Answer a token request according to an injected fault (not hang). */
static enum MHD_Result
token_fault(struct sim *s, struct MHD_Connection *c, const struct fault *f,
    int v2, int aud)
{
	const char	*error = f->error;
	unsigned	 status = f->status;
	long		 code, ra = f->retry_after;
	char		 text[512], *tok, buf[64];
	cJSON		*o;
	int		 lifetime, version;
	char		*roles;
	unsigned long long serial;

	switch (f->kind) {
	case F_STATUS:
	case F_429:
		if (f->kind == F_429) {
			status = 429;
			if (ra < 0)
				ra = 1;
		} else if (status == 0)
			status = 503;
		if (*error == '\0')
			error = status == 401 ? "invalid_client" :
			    status == 400 ? "invalid_request" :
			    "temporarily_unavailable";
		if (f->kind == F_STATUS && f->delay_ms > 0 &&
		    sim_sleep(s, f->delay_ms) == -1)
			return (MHD_NO);
		fault_aadsts(s, f, status, error, &code, text, sizeof(text));
		return (token_answer(c, status, entra_error(error, code, text,
		    header(c, "client-request-id")), ra));
	case F_MALFORMED:
		return (token_answer(c, 200, xstrdup("{\"token_type\":"
		    "\"Bearer\",\"expires_in\":3599,\"access_tok"), -1));
	case F_MISSING_TOKEN:
	case F_MISSING_EXPIRY:
		pthread_mutex_lock(&s->mtx);
		lifetime = s->lifetime;
		version = s->version;
		roles = dupstr(s->roles[aud]);
		serial = ++s->serial;
		pthread_mutex_unlock(&s->mtx);
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "token_type", "Bearer");
		if (f->kind == F_MISSING_TOKEN) {
			if (v2) {
				cJSON_AddNumberToObject(o, "expires_in",
				    lifetime);
				cJSON_AddNumberToObject(o, "ext_expires_in",
				    lifetime);
			} else {
				snprintf(buf, sizeof(buf), "%d", lifetime);
				cJSON_AddStringToObject(o, "expires_in", buf);
				cJSON_AddStringToObject(o, "ext_expires_in",
				    buf);
			}
		} else {
			tok = issue_token(s, util_now(), lifetime, version,
			    aud, roles, serial);
			if (!v2)
				cJSON_AddStringToObject(o, "resource",
				    auds[aud].resource);
			cJSON_AddStringToObject(o, "access_token",
			    tok ? tok : "");
			util_free_secret(tok);
		}
		free(roles);
		return (token_answer(c, 200, print_json(o), -1));
	default:
		break;
	}
	return (MHD_NO);
}

/*
 * "/{tenant}/oauth2/token" (1) or "/{tenant}/oauth2/v2.0/token" (2), with
 * the tenant segment in *tenant when asked; 0 for any other path.
 */
static int
token_path(const char *url, char **tenant)
{
	const char	*sl;
	int		 v;

	if (url[0] != '/' || (sl = strchr(url + 1, '/')) == NULL ||
	    sl == url + 1)
		return (0);
	if (strcmp(sl, "/oauth2/token") == 0)
		v = 1;
	else if (strcmp(sl, "/oauth2/v2.0/token") == 0)
		v = 2;
	else
		return (0);
	if (tenant != NULL)
		*tenant = util_strndup(url + 1, (size_t)(sl - url - 1));
	return (v);
}

static const char *
form_get(const cJSON *form, const char *key)
{
	return (claim(form, key));
}

/*
 * The audience a token request asks for: v1 resource= (the App ID URI,
 * a trailing '/' allowed, or the application id), v2 scope= (the same
 * followed by "/.default"); -1 when it names none of ours.
 */
static int
requested_aud(const cJSON *form, int v2)
{
	const char	*v = form_get(form, v2 ? "scope" : "resource");
	size_t		 n;

	if (v == NULL)
		return (-1);
	n = strlen(v);
	if (v2) {
		if (n < 9 || strcmp(v + n - 9, "/.default") != 0)
			return (-1);
		n -= 9;
	} else if (n > 0 && v[n - 1] == '/')
		n--;
	for (int i = 0; i < SIM_AUD_N; i++)
		if ((strlen(auds[i].resource) == n &&
		    strncmp(v, auds[i].resource, n) == 0) ||
		    (strlen(auds[i].appid) == n &&
		    strncmp(v, auds[i].appid, n) == 0))
			return (i);
	return (-1);
}

/* The raw path (before '?') and raw query ("" if none) of a target. */
static char *
raw_path(const char *uri)
{
	return (util_strndup(uri, strcspn(uri, "?")));
}

static const char *
raw_query(const char *uri)
{
	const char	*q = strchr(uri, '?');

	return (q ? q + 1 : "");
}

/* Validate a token request (order as Entra) and issue a token. */
static enum MHD_Result
token_normal(struct sim *s, struct MHD_Connection *c, struct sreq *r,
    const cJSON *form, const char *tenant, int v2, const char *method)
{
	const char		*gt, *cid, *sec, *scope, *res;
	char			*tok, *roles, n[32], now_s[32], exp_s[32];
	int			 lifetime, version, aud;
	long long		 now;
	unsigned long long	 serial;
	cJSON			*o;

	if (strcmp(method, "POST") != 0)
		return (token_error(c, 400, "invalid_request", 900561,
		    "The endpoint only accepts POST, OPTIONS requests. "
		    "Received a %s request.", method));
	if (r->too_big)
		return (token_error(c, 413, "invalid_request", 90020,
		    "The request body is too large."));
	gt = form_get(form, "grant_type");
	cid = form_get(form, "client_id");
	sec = form_get(form, "client_secret");
	scope = form_get(form, "scope");
	res = form_get(form, "resource");
	aud = requested_aud(form, v2);
	if (gt == NULL || strcmp(gt, "client_credentials") != 0)
		return (token_error(c, 400, "unsupported_grant_type", 70003,
		    "The app requested an unsupported grant type '%s'.",
		    gt ? gt : ""));
	if (strcmp(tenant, s->tenant) != 0)
		return (token_error(c, 400, "invalid_request", 90002,
		    "Tenant '%s' not found. Check to make sure you have the "
		    "correct tenant ID and are signing into the correct cloud. "
		    "Check with your subscription administrator, this may "
		    "happen if there are no active subscriptions for the "
		    "tenant.", tenant));
	if (cid == NULL || strcmp(cid, s->client) != 0)
		return (token_error(c, 400, "unauthorized_client", 700016,
		    "Application with identifier '%s' was not found in the "
		    "directory '%s'. This can happen if the application has "
		    "not been installed by the administrator of the tenant or "
		    "consented to by any user in the tenant. You may have sent "
		    "your authentication request to the wrong tenant.",
		    cid ? cid : "", tenant));
	if (sec == NULL)
		return (token_error(c, 401, "invalid_client", 7000218,
		    "The request body must contain the following parameter: "
		    "'client_assertion' or 'client_secret'."));
	if (strcmp(sec, s->secret) != 0)
		return (token_error(c, 401, "invalid_client", 7000215,
		    "Invalid client secret provided. Ensure the secret being "
		    "sent in the request is the client secret value, not the "
		    "client secret ID, for a secret added to app '%s'.",
		    s->client));
	if (v2 && res != NULL)
		return (token_error(c, 400, "invalid_request", 901002,
		    "The 'resource' request parameter is not supported."));
	if (v2 && scope == NULL)
		return (token_error(c, 400, "invalid_request", 900144,
		    "The request body must contain the following parameter: "
		    "'scope'."));
	if (v2 && aud < 0)
		return (token_error(c, 400, "invalid_scope", 70011,
		    "The provided request must include a 'scope' input "
		    "parameter. The provided value for the input parameter "
		    "'scope' is not valid. The scope %s is not valid.", scope));
	if (!v2 && aud < 0)
		return (token_error(c, 400, "invalid_resource", 500011,
		    "The resource principal named %s was not found in the "
		    "tenant named %s. This can happen if the application has "
		    "not been installed by the administrator of the tenant or "
		    "consented to by any user in the tenant. You might have "
		    "sent your authentication request to the wrong tenant.",
		    res ? res : "", tenant));

	pthread_mutex_lock(&s->mtx);
	lifetime = s->lifetime;
	version = s->version;
	roles = dupstr(s->roles[aud]);
	serial = ++s->serial;
	pthread_mutex_unlock(&s->mtx);
	now = util_now();
	tok = issue_token(s, now, lifetime, version, aud, roles, serial);
	free(roles);
	if (tok == NULL)
		return (token_error(c, 500, "server_error", 90033,
		    "A transient error has occurred. Please try again."));
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "token_type", "Bearer");
	if (v2) {
		cJSON_AddNumberToObject(o, "expires_in", lifetime);
		cJSON_AddNumberToObject(o, "ext_expires_in", lifetime);
	} else {
		snprintf(n, sizeof(n), "%d", lifetime);
		snprintf(now_s, sizeof(now_s), "%lld", now);
		snprintf(exp_s, sizeof(exp_s), "%lld", now + lifetime);
		cJSON_AddStringToObject(o, "expires_in", n);
		cJSON_AddStringToObject(o, "ext_expires_in", n);
		cJSON_AddStringToObject(o, "expires_on", exp_s);
		cJSON_AddStringToObject(o, "not_before", now_s);
		cJSON_AddStringToObject(o, "resource", auds[aud].resource);
	}
	cJSON_AddStringToObject(o, "access_token", tok);
	util_free_secret(tok);
	if (s->verbose)
		log_info("sim: issued a v%d %s token (serial %llu, %d s)",
		    version, auds[aud].name, serial, lifetime);
	return (token_answer(c, 200, print_json(o), -1));
}

static enum MHD_Result
handle_token(struct sim *s, struct MHD_Connection *c, struct sreq *r,
    const char *url, const char *method)
{
	struct fault	 f;
	cJSON		*form, *rec, *rf, *old;
	char		*tenant = NULL, *path;
	const char	*sec;
	int		 v2, aud;
	enum MHD_Result	 ret;

	v2 = token_path(url, &tenant) == 2;
	form = parse_form(r->body.data ? r->body.data : "", r->body.len);
	sec = form_get(form, "client_secret");
	aud = requested_aud(form, v2);

	rec = cJSON_CreateObject();
	path = raw_path(r->uri);
	cJSON_AddStringToObject(rec, "path", path ? path : "");
	cJSON_AddStringToObject(rec, "audience", aud >= 0 ? auds[aud].name :
	    "");
	rf = cJSON_Duplicate(form, 1);
	if (cJSON_HasObjectItem(rf, "client_secret"))
		cJSON_ReplaceItemInObjectCaseSensitive(rf, "client_secret",
		    cJSON_CreateString("<redacted>"));
	cJSON_AddItemToObject(rec, "form", rf);
	cJSON_AddBoolToObject(rec, "secret_ok",
	    sec != NULL && strcmp(sec, s->secret) == 0);
	pthread_mutex_lock(&s->mtx);
	s->token_requests++;
	if (aud >= 0)
		s->token_requests_aud[aud]++;
	old = s->last_tok;
	s->last_tok = rec;
	pthread_mutex_unlock(&s->mtx);
	cJSON_Delete(old);

	if (take_fault(s, T_TOKEN, aud, path ? path : "", &f)) {
		if (s->verbose)
			log_info("sim: token fault %d", (int)f.kind);
		if (f.kind == F_CLOSE) {
			ret = MHD_NO;
			goto out;
		}
		if (f.kind != F_HANG) {
			ret = token_fault(s, c, &f, v2, aud < 0 ?
			    SIM_AUD_DEFENDER : aud);
			goto out;
		}
		if (sim_sleep(s, f.delay_ms >= 0 ? f.delay_ms : 60000) == -1) {
			ret = MHD_NO;
			goto out;
		}
	} else if (random_token_fault(s)) {
		memset(&f, 0, sizeof(f));
		f.kind = F_STATUS;
		f.status = 503;
		f.retry_after = f.delay_ms = f.bytes = -1;
		if (s->verbose)
			log_info("sim: random token failure (503)");
		ret = token_fault(s, c, &f, v2, aud < 0 ? SIM_AUD_DEFENDER :
		    aud);
		goto out;
	}
	ret = token_normal(s, c, r, form, tenant ? tenant : "", v2, method);
out:
	free(path);
	cJSON_Delete(form);
	free(tenant);
	return (ret);
}

/* ---- the APIs: Defender XDR, MDE, Graph ---- */

struct answer {
	char		 reqid[37];	/* request-id = error target */
	const char	*crid;		/* the client's client-request-id */
	int		 graph;		/* Graph's error shape and headers */
	unsigned	 status;
	char		*body;		/* JSON text, or */
	struct sim_hunt	*hunt;		/* a streamed hunting answer */
};

static void
answer_error(struct answer *a, unsigned status, const char *code,
    const char *msg)
{
	a->status = status;
	a->body = api_error_body(a->graph, code, msg, a->reqid, a->crid);
}

static int
is_graph_path(const char *url)
{
	return (strncmp(url, "/v1.0/", 6) == 0 || strncmp(url, "/beta/", 6) == 0);
}

enum handler {
	H_INC_LIST, H_INC_GET, H_INC_PATCH, H_HUNT,
	H_MDE_ALERTS, H_MDE_ALERT, H_MACHINES, H_MACHINE, H_MDE_HUNT,
	H_G_HUNT, H_G_INCIDENTS, H_G_INCIDENT, H_G_ALERTS, H_G_ALERT
};

#define ROLES_INC	"Incident.Read.All,Incident.ReadWrite.All"
#define ROLES_ALERT	"Alert.Read.All,Alert.ReadWrite.All"
#define ROLES_MACHINE	"Machine.Read.All,Machine.ReadWrite.All"
#define ROLES_G_INC	"SecurityIncident.Read.All,SecurityIncident.ReadWrite.All"
#define ROLES_G_ALERT	"SecurityAlert.Read.All,SecurityAlert.ReadWrite.All"

/* Every API route of the simulation: who may call it and who answers. */
static const struct route {
	const char	*method, *path;
	int		 has_id;	/* the path is followed by "/{id}" */
	int		 aud;		/* the token audience it needs */
	const char	*roles;		/* any of these roles */
	enum handler	 h;
} routes[] = {
	{ "GET", "/api/incidents", 0, SIM_AUD_DEFENDER, ROLES_INC, H_INC_LIST },
	{ "GET", "/api/incidents", 1, SIM_AUD_DEFENDER, ROLES_INC, H_INC_GET },
	{ "PATCH", "/api/incidents", 1, SIM_AUD_DEFENDER,
	  "Incident.ReadWrite.All", H_INC_PATCH },
	{ "POST", "/api/advancedhunting/run", 0, SIM_AUD_DEFENDER,
	  "AdvancedHunting.Read.All", H_HUNT },
	{ "GET", "/api/alerts", 0, SIM_AUD_MDE, ROLES_ALERT, H_MDE_ALERTS },
	{ "GET", "/api/alerts", 1, SIM_AUD_MDE, ROLES_ALERT, H_MDE_ALERT },
	{ "GET", "/api/machines", 0, SIM_AUD_MDE, ROLES_MACHINE, H_MACHINES },
	{ "GET", "/api/machines", 1, SIM_AUD_MDE, ROLES_MACHINE, H_MACHINE },
	{ "POST", "/api/advancedqueries/run", 0, SIM_AUD_MDE,
	  "AdvancedQuery.Read.All", H_MDE_HUNT },
	{ "POST", "/v1.0/security/runHuntingQuery", 0, SIM_AUD_GRAPH,
	  "ThreatHunting.Read.All", H_G_HUNT },
	{ "GET", "/v1.0/security/incidents", 0, SIM_AUD_GRAPH, ROLES_G_INC,
	  H_G_INCIDENTS },
	{ "GET", "/v1.0/security/incidents", 1, SIM_AUD_GRAPH, ROLES_G_INC,
	  H_G_INCIDENT },
	{ "GET", "/v1.0/security/alerts_v2", 0, SIM_AUD_GRAPH, ROLES_G_ALERT,
	  H_G_ALERTS },
	{ "GET", "/v1.0/security/alerts_v2", 1, SIM_AUD_GRAPH, ROLES_G_ALERT,
	  H_G_ALERT },
};

/* The route of a request (*id: the {id} segment), or NULL. */
static const struct route *
route_find(const char *url, const char *method, const char **id)
{
	size_t		 n;
	const char	*rest;

	*id = NULL;
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		n = strlen(routes[i].path);
		if (strncmp(url, routes[i].path, n) != 0 ||
		    strcmp(method, routes[i].method) != 0)
			continue;
		rest = url + n;
		if (!routes[i].has_id && *rest == '\0')
			return (&routes[i]);
		if (routes[i].has_id && rest[0] == '/' && rest[1] != '\0' &&
		    strchr(rest + 1, '/') == NULL) {
			*id = rest + 1;
			return (&routes[i]);
		}
	}
	return (NULL);
}

static enum MHD_Result
hdr_iter(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	cJSON	*h = cls, *old;
	char	 name[256], *joined;
	size_t	 i, n;

	for (i = 0; key[i] != '\0' && i < sizeof(name) - 1; i++)
		name[i] = (key[i] >= 'A' && key[i] <= 'Z') ?
		    (char)(key[i] - 'A' + 'a') : key[i];
	name[i] = '\0';
	if (value == NULL)
		value = "";
	old = cJSON_GetObjectItemCaseSensitive(h, name);
	if (cJSON_IsString(old)) {
		n = strlen(old->valuestring) + 2 + strlen(value) + 1;
		joined = xmalloc(n);
		snprintf(joined, n, "%s, %s", old->valuestring, value);
		cJSON_ReplaceItemInObjectCaseSensitive(h, name,
		    cJSON_CreateString(joined));
		free(joined);
	} else
		cJSON_AddStringToObject(h, name, value);
	return (MHD_YES);
}

/* Remember what the client sent (for /_sim/stats) and count it. */
static void
record_request(struct sim *s, struct MHD_Connection *c, struct sreq *r,
    const char *method, int aud)
{
	cJSON	*o = cJSON_CreateObject(), *h, *old;
	char	*path = raw_path(r->uri);

	cJSON_AddStringToObject(o, "method", method);
	cJSON_AddStringToObject(o, "path", path ? path : "");
	cJSON_AddStringToObject(o, "query", raw_query(r->uri));
	h = cJSON_AddObjectToObject(o, "headers");
	MHD_get_connection_values(c, MHD_HEADER_KIND, hdr_iter, h);
	cJSON_AddStringToObject(o, "body", r->body.data ? r->body.data : "");
	free(path);
	pthread_mutex_lock(&s->mtx);
	s->api_requests++;
	if (aud >= 0)
		s->api_requests_aud[aud]++;
	old = s->last_req;
	s->last_req = o;
	pthread_mutex_unlock(&s->mtx);
	cJSON_Delete(old);
}

/* The decoded value of a query parameter (malloc'd), or NULL. */
static char *
query_value(const char *q, const char *name)
{
	const char	*p = q, *e, *eq;
	char		*k, *v = NULL;

	while (*p != '\0' && v == NULL) {
		e = p + strcspn(p, "&");
		eq = memchr(p, '=', (size_t)(e - p));
		k = pct_decode(p, (size_t)((eq ? eq : e) - p), 1);
		if (strcmp(k, name) == 0)
			v = eq ? pct_decode(eq + 1, (size_t)(e - eq - 1), 1) :
			    xstrdup("");
		free(k);
		p = *e ? e + 1 : e;
	}
	return (v);
}

/* $top/$skip from the raw query: 0 absent, 1 found (*out), -1 invalid. */
static int
query_long(const char *q, const char *name, long *out)
{
	char		*v = query_value(q, name);
	long long	 n;
	int		 rc;

	if (v == NULL)
		return (0);
	rc = util_parse_ll(v, 0, LONG_MAX, &n) == 0 ? 1 : -1;
	if (rc == 1)
		*out = (long)n;
	free(v);
	return (rc);
}

/* $top and $skip of a list request; -1 (and a 400 answer) when invalid. */
static int
paging(struct sreq *r, struct answer *a, long *top, long *skip)
{
	*top = -1;
	*skip = 0;
	if (query_long(raw_query(r->uri), "$top", top) == -1 ||
	    query_long(raw_query(r->uri), "$skip", skip) == -1) {
		answer_error(a, 400, a->graph ? "BadRequest" : "ODataError",
		    "Invalid OData URI query $top/$skip");
		return (-1);
	}
	return (0);
}

static int
word_char(char ch)
{
	return ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || ch == '_');
}

/* Rows asked by the last `take N` / `limit N` of a KQL query (default 5). */
static long
kql_rows(const char *q)
{
	const char	*p, *e;
	char		*end;
	long		 rows = 5, v, n;

	for (p = q; *p != '\0'; p++) {
		if (p > q && word_char(p[-1]))
			continue;
		if (strncasecmp(p, "take", 4) == 0)
			n = 4;
		else if (strncasecmp(p, "limit", 5) == 0)
			n = 5;
		else
			continue;
		e = p + n;
		if (*e != ' ' && *e != '\t' && *e != '\n' && *e != '\r')
			continue;
		while (*e == ' ' || *e == '\t' || *e == '\n' || *e == '\r')
			e++;
		if (*e < '0' || *e > '9')
			continue;
		v = strtol(e, &end, 10);
		if (word_char(*end))
			continue;
		rows = v > HUNT_MAX_ROWS ? HUNT_MAX_ROWS : v;
	}
	return (rows);
}

/*
 * A coarse KQL syntax check, enough to produce the services' 400 for a
 * query that cannot parse: brackets must balance, strings must end, and a
 * pipe must have a stage on each side. 0 when it passes, else -1 with the
 * services' message in msg.
 */
static int
kql_check(const char *q, char *msg, size_t len)
{
	char		 stack[64], quote = 0;
	size_t		 depth = 0, line = 1, col = 0;
	const char	*p, *bad = NULL;
	int		 want_stage = 1;

	for (p = q; *p != '\0' && bad == NULL; p++) {
		col++;
		if (*p == '\n') {
			line++;
			col = 0;
		}
		if (quote) {
			if (*p == '\\' && p[1] != '\0')
				p++, col++;
			else if (*p == quote)
				quote = 0;
			continue;
		}
		if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			continue;
		if (*p == '|') {
			if (want_stage)
				bad = p;
			want_stage = 1;
			continue;
		}
		want_stage = 0;
		if (*p == '"' || *p == '\'')
			quote = *p;
		else if (*p == '(' || *p == '[' || *p == '{') {
			if (depth == sizeof(stack))
				bad = p;
			else
				stack[depth++] = *p;
		} else if (*p == ')' || *p == ']' || *p == '}') {
			if (depth == 0 || stack[--depth] != (*p == ')' ? '(' :
			    *p == ']' ? '[' : '{'))
				bad = p;
		}
	}
	if (bad == NULL && (quote || depth > 0 || want_stage))
		bad = p > q ? p - 1 : p;	/* the end: name the last char */
	if (bad == NULL)
		return (0);
	snprintf(msg, len, "Query could not be parsed at '%.*s' on line "
	    "[%zu,%zu]", *bad ? 1 : 0, *bad ? bad : "", line, col);
	return (-1);
}

/* ISO 8601 duration ("P30D", "PT12H") or interval ("start/end"). */
static int
timespan_ok(const char *v)
{
	size_t	 n = strlen(v);

	if (n == 0 || n > 100 || strspn(v, "0123456789PTYMWDHS:.-+/Z") != n)
		return (0);
	return (v[0] == 'P' || strchr(v, '/') != NULL);
}

/* The three hunting endpoints: one body rule, one row generator. */
static void
api_hunting(struct sim *s, struct sreq *r, struct answer *a,
    enum sim_hunt_shape shape)
{
	cJSON		*b, *q, *ts;
	struct sim_hunt	*h;
	struct buf	 out;
	char		 chunk[16384], msg[256];
	long		 rows, n;

	if (r->too_big) {
		answer_error(a, 413, "BadRequest", "Request body is too large");
		return;
	}
	b = cJSON_ParseWithLength(r->body.data ? r->body.data : "",
	    r->body.len);
	/* Graph's JSON member names are case-insensitive */
	q = a->graph ? cJSON_GetObjectItem(b, "Query") :
	    cJSON_GetObjectItemCaseSensitive(b, "Query");
	ts = a->graph ? cJSON_GetObjectItem(b, "Timespan") : NULL;
	if (!cJSON_IsObject(b) || !cJSON_IsString(q) ||
	    *q->valuestring == '\0') {
		cJSON_Delete(b);
		answer_error(a, 400, "BadRequest", b == NULL ?
		    "Invalid request body" : "Parameter Query is missing");
		return;
	}
	if (ts != NULL && !cJSON_IsNull(ts) && (!cJSON_IsString(ts) ||
	    !timespan_ok(ts->valuestring))) {
		cJSON_Delete(b);
		answer_error(a, 400, "BadRequest", "The value of Timespan is "
		    "not a valid ISO 8601 duration or interval");
		return;
	}
	if (kql_check(q->valuestring, msg, sizeof(msg)) == -1) {
		cJSON_Delete(b);
		answer_error(a, 400, "BadRequest", msg);
		return;
	}
	rows = kql_rows(q->valuestring);
	cJSON_Delete(b);
	if ((h = sim_hunt_new(rows, s->t0, shape)) == NULL) {
		answer_error(a, 500, "InternalServerError", "");
		return;
	}
	a->status = 200;
	if (rows > HUNT_MEM_ROWS) {
		a->hunt = h;
		return;
	}
	buf_init(&out, 64 * 1024 * 1024);
	while ((n = sim_hunt_read(h, chunk, sizeof(chunk))) > 0)
		if (buf_append(&out, chunk, (size_t)n) == -1) {
			n = -1;
			break;
		}
	sim_hunt_free(h);
	if (n < 0) {
		buf_free(&out);
		answer_error(a, 500, "InternalServerError", "");
		return;
	}
	a->body = buf_take(&out, NULL);
}

/* GET|PATCH /api/incidents[/{id}] */
static void
api_incidents(struct sim *s, struct sreq *r, const cJSON *claims,
    const struct route *rt, const char *id, struct answer *a)
{
	const char	*msg, *who;
	cJSON		*patch;
	long long	 n = 0;
	long		 top, skip;
	char		 text[256], author[160], *out;
	int		 rc;

	if (id != NULL && util_parse_ll(id, 0, LLONG_MAX, &n) == -1) {
		snprintf(text, sizeof(text), "Incident %.100s was not found",
		    id);
		answer_error(a, 404, "ResourceNotFound", text);
		return;
	}
	if (rt->h == H_INC_LIST) {
		if (paging(r, a, &top, &skip) == 0) {
			a->status = 200;
			a->body = sim_store_list(s->store, top, skip);
		}
		return;
	}
	if (rt->h == H_INC_GET) {
		if ((a->body = sim_store_get(s->store, n)) != NULL) {
			a->status = 200;
			return;
		}
		snprintf(text, sizeof(text), "Incident %lld was not found", n);
		answer_error(a, 404, "ResourceNotFound", text);
		return;
	}
	if (r->too_big) {
		answer_error(a, 413, "BadRequest", "Request body is too large");
		return;
	}
	patch = cJSON_ParseWithLength(r->body.data ? r->body.data : "",
	    r->body.len);
	if (patch == NULL) {
		answer_error(a, 400, "InvalidRequestBody",
		    "Invalid request body");
		return;
	}
	if ((who = claim(claims, "appid")) == NULL &&
	    (who = claim(claims, "azp")) == NULL)
		who = s->client;
	snprintf(author, sizeof(author), "API-App:%s", who);
	rc = sim_store_patch(s->store, n, patch, author, &out, &msg);
	cJSON_Delete(patch);
	if (rc == -2) {
		snprintf(text, sizeof(text), "Invalid request body: %s", msg);
		answer_error(a, 400, "InvalidRequestBody", text);
	} else if (rc == -1) {
		snprintf(text, sizeof(text), "Incident %lld was not found", n);
		answer_error(a, 404, "ResourceNotFound", text);
	} else {
		a->status = 200;
		a->body = out;
	}
}

/* The list and get views of MDE and Graph (all read-only). */
static void
api_views(struct sim *s, struct sreq *r, const struct route *rt,
    const char *id, struct answer *a)
{
	cJSON		*incs;
	long		 top = -1, skip = 0;
	char		 text[256], *exp = NULL;
	int		 no_machines, expand;
	const char	*what = "Resource";

	if (id == NULL && paging(r, a, &top, &skip) == -1)
		return;
	pthread_mutex_lock(&s->mtx);
	no_machines = s->no_machines;
	pthread_mutex_unlock(&s->mtx);
	exp = query_value(raw_query(r->uri), "$expand");
	expand = exp != NULL && strcmp(exp, "alerts") == 0;
	free(exp);
	incs = sim_store_snapshot(s->store);
	switch (rt->h) {
	case H_MDE_ALERTS:
		a->body = sim_mde_alerts(incs, s->tenant, top, skip);
		break;
	case H_MDE_ALERT:
		a->body = sim_mde_alert(incs, s->tenant, id);
		what = "Alert";
		break;
	case H_MACHINES:
		if (!no_machines)
			a->body = sim_mde_machines(s->t0, top, skip);
		what = "Machines";
		break;
	case H_MACHINE:
		if (!no_machines)
			a->body = sim_mde_machine(s->t0, id);
		what = "Machine";
		break;
	case H_G_INCIDENTS:
		a->body = sim_graph_incidents(incs, s->tenant, top, skip,
		    expand);
		break;
	case H_G_INCIDENT:
		a->body = sim_graph_incident(incs, s->tenant, id, expand);
		what = "Incident";
		break;
	case H_G_ALERTS:
		a->body = sim_graph_alerts(incs, s->tenant, top, skip);
		break;
	case H_G_ALERT:
		a->body = sim_graph_alert(incs, s->tenant, id);
		what = "Alert";
		break;
	default:
		break;
	}
	cJSON_Delete(incs);
	if (a->body != NULL) {
		a->status = 200;
		return;
	}
	if (id != NULL)
		snprintf(text, sizeof(text), "%s %.100s was not found", what,
		    id);
	else
		snprintf(text, sizeof(text), "No %s were found",
		    rt->h == H_MACHINES ? "recent machines" : "resources");
	answer_error(a, 404, a->graph ? "NotFound" : "ResourceNotFound", text);
}

/* The normal answer of the APIs (no faults). */
static void
api_answer(struct sim *s, struct MHD_Connection *c, struct sreq *r,
    const char *url, const char *method, struct answer *a)
{
	const struct route	*rt;
	const char		*why, *id;
	cJSON			*claims;
	char			 text[256];

	if (strncmp(url, "/api/", 5) != 0 && !a->graph) {
		answer_error(a, 404, "NotFound", "Resource not found.");
		return;
	}
	rt = route_find(url, method, &id);
	if ((claims = bearer(s, c, rt ? rt->aud : -1, &why)) == NULL) {
		answer_error(a, 401, a->graph ? "InvalidAuthenticationToken" :
		    "Unauthorized", why);
		return;
	}
	if (rt == NULL) {
		snprintf(text, sizeof(text), "No HTTP resource was found that "
		    "matches the request %s %.150s.", method, url);
		answer_error(a, 404, "NotFound", text);
		goto out;
	}
	if (!has_any_role(claims, rt->roles)) {
		a->status = 403;
		a->body = forbidden_body(claims, rt->roles, a->graph, a->reqid,
		    a->crid);
		goto out;
	}
	switch (rt->h) {
	case H_INC_LIST:
	case H_INC_GET:
	case H_INC_PATCH:
		api_incidents(s, r, claims, rt, id, a);
		break;
	case H_HUNT:
	case H_MDE_HUNT:
		api_hunting(s, r, a, SIM_HUNT_DEFENDER);
		break;
	case H_G_HUNT:
		api_hunting(s, r, a, SIM_HUNT_GRAPH);
		break;
	default:
		api_views(s, r, rt, id, a);
		break;
	}
out:
	cJSON_Delete(claims);
	if (a->body == NULL && a->hunt == NULL)
		answer_error(a, 500, "InternalServerError", "");
}

static void
api_headers(struct MHD_Response *resp, struct MHD_Connection *c,
    const char *reqid, int graph, long retry_after)
{
	const char	*crid = header(c, "client-request-id");
	char		 ra[24];

	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    graph ? GRAPH_CT : JSON_CT);
	MHD_add_response_header(resp, "OData-Version", "4.0");
	MHD_add_response_header(resp, "request-id", reqid);
	if (crid != NULL)
		MHD_add_response_header(resp, "client-request-id", crid);
	if (retry_after >= 0) {
		snprintf(ra, sizeof(ra), "%ld", retry_after);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
	}
}

/* Send an API answer, shaped by a stall or big_headers fault if any. */
static enum MHD_Result
api_deliver(struct sim *s, struct MHD_Connection *c, struct answer *a,
    const struct fault *f, const char *reqid, int cut)
{
	struct MHD_Response	*resp;
	struct stream		*st;
	uint64_t		 size = MHD_SIZE_UNKNOWN;
	char			*big;
	long long		 n;

	if (a->hunt != NULL || cut || (f != NULL && f->kind == F_STALL)) {
		st = stream_new(s, a->hunt ? S_HUNT : S_MEM);
		if (a->hunt != NULL) {
			st->hunt = a->hunt;
			a->hunt = NULL;
		} else {
			st->mem = a->body;
			st->len = strlen(a->body);
			size = st->len;
			a->body = NULL;
		}
		if (cut) {
			/* half of a known body; 8 KiB into a streamed one */
			st->cut_at = size != MHD_SIZE_UNKNOWN ? size / 2 : 8192;
			if (st->cut_at == 0)
				st->cut_at = 1;
		}
		if (f != NULL && f->kind == F_STALL) {
			st->stall_ms = f->delay_ms >= 0 ? f->delay_ms : 60000;
			st->stall_at = 16;
			if (size != MHD_SIZE_UNKNOWN && size < 32)
				st->stall_at = size / 2;
		}
		resp = stream_response(st, size);
	} else {
		resp = mem_response(a->body);
		a->body = NULL;
	}
	if (resp == NULL)
		return (MHD_NO);
	api_headers(resp, c, reqid, a->graph, -1);
	if (f != NULL && f->kind == F_BIG_HEADERS) {
		n = f->bytes >= 0 ? f->bytes : 200000;
		if (n > BIG_HEADER_MAX)
			n = BIG_HEADER_MAX;
		big = xmalloc((size_t)n + 1);
		memset(big, 'a', (size_t)n);
		big[n] = '\0';
		if (MHD_add_response_header(resp, "x-big", big) != MHD_YES)
			log_warnx("sim: cannot add a %lld byte header", n);
		free(big);
	}
	return (queue(c, a->status, resp));
}

static const struct {
	unsigned	 status;
	const char	*code, *msg;
} api_errs[] = {
	{ 400, "BadRequest", "General bad request" },
	{ 401, "Unauthorized", "The access token is missing, invalid or "
	    "expired." },
	{ 404, "NotFound", "Resource not found." },
	{ 429, "TooManyRequests", "API calls quota exceeded! maximum allowed "
	    "50 per 00:01:00" },
	{ 500, "InternalServerError", "" },
	{ 502, "BadGateway", "Bad gateway." },
	{ 503, "ServiceUnavailable", "The service is temporarily unavailable. "
	    "Please retry later." },
	{ 504, "GatewayTimeout", "The request timed out." },
};

/* kind "status": an error of the path's API for the injected status. */
static enum MHD_Result
api_fault_status(struct sim *s, struct MHD_Connection *c, const char *url,
    const char *method, const struct fault *f, const char *reqid)
{
	struct MHD_Response	*resp;
	unsigned		 st = f->status ? f->status : 503;
	const struct route	*rt;
	const char		*why, *id, *code, *msg;
	const char		*crid = header(c, "client-request-id");
	cJSON			*claims;
	char			*body;
	int			 graph = is_graph_path(url);

	code = "Error";
	msg = "Simulated error.";
	for (size_t i = 0; i < sizeof(api_errs) / sizeof(api_errs[0]); i++)
		if (api_errs[i].status == st) {
			code = api_errs[i].code;
			msg = api_errs[i].msg;
		}
	if (graph && st == 429)
		msg = "Too many requests.";
	if (st == 403) {
		rt = route_find(url, method, &id);
		claims = bearer(s, c, -1, &why);
		body = forbidden_body(claims, rt ? rt->roles : ROLES_INC,
		    graph, reqid, crid);
		cJSON_Delete(claims);
	} else
		body = api_error_body(graph, code, msg, reqid, crid);
	if ((resp = mem_response(body)) == NULL)
		return (MHD_NO);
	api_headers(resp, c, reqid, graph, f->retry_after);
	return (queue(c, st, resp));
}

/* kinds "huge" and "reset_body": a padded body, cut after 1/3 or not. */
static enum MHD_Result
api_fault_pad(struct sim *s, struct MHD_Connection *c, const struct fault *f,
    const char *reqid)
{
	struct MHD_Response	*resp;
	struct stream		*st;

	st = stream_new(s, f->kind == F_HUGE ? S_PAD : S_CUT);
	if (f->bytes >= 0)
		st->total = (uint64_t)f->bytes;
	else
		st->total = f->kind == F_HUGE ? 64ULL << 20 : 100000;
	if (st->total < pad_min())
		st->total = pad_min();
	if ((resp = stream_response(st, st->total)) == NULL)
		return (MHD_NO);
	api_headers(resp, c, reqid, 0, -1);
	return (queue(c, 200, resp));
}

static enum MHD_Result
handle_api(struct sim *s, struct MHD_Connection *c, struct sreq *r,
    const char *url, const char *method)
{
	struct fault		 f;
	struct answer		 a;
	const struct route	*rt;
	const char		*id;
	char			 reqid[37];
	long			 lat;
	int			 hf, aud;
	enum rfault		 rf = RF_NONE;

	rt = route_find(url, method, &id);
	aud = rt ? rt->aud : -1;
	record_request(s, c, r, method, aud);
	util_uuid(reqid);
	pthread_mutex_lock(&s->mtx);
	lat = s->latency_ms;
	pthread_mutex_unlock(&s->mtx);
	if (lat > 0 && sim_sleep(s, lat) == -1)
		return (MHD_NO);
	if ((hf = take_fault(s, T_API, aud, url, &f)) != 0) {
		if (s->verbose)
			log_info("sim: api fault %d", (int)f.kind);
		switch (f.kind) {
		case F_RESET:
			return (MHD_NO);
		case F_HANG:
			if (sim_sleep(s, f.delay_ms >= 0 ? f.delay_ms :
			    60000) == -1)
				return (MHD_NO);
			hf = 0;
			break;
		case F_STATUS:
			if (f.delay_ms > 0 && sim_sleep(s, f.delay_ms) == -1)
				return (MHD_NO);
			return (api_fault_status(s, c, url, method, &f, reqid));
		case F_HUGE:
		case F_RESET_BODY:
			return (api_fault_pad(s, c, &f, reqid));
		default:
			break;
		}
	} else if ((rf = random_api_fault(s)) != RF_NONE) {
		if (s->verbose)
			log_info("sim: random api fault %d", (int)rf);
		switch (rf) {
		case RF_RESET:
			return (MHD_NO);
		case RF_500:
		case RF_503:
			memset(&f, 0, sizeof(f));
			f.kind = F_STATUS;
			f.status = rf == RF_500 ? 500 : 503;
			f.retry_after = f.delay_ms = f.bytes = -1;
			return (api_fault_status(s, c, url, method, &f, reqid));
		default:
			break;	/* RF_RESET_BODY: cut the real answer */
		}
	}
	memset(&a, 0, sizeof(a));
	memcpy(a.reqid, reqid, sizeof(a.reqid));
	a.crid = header(c, "client-request-id");
	a.graph = is_graph_path(url);
	api_answer(s, c, r, url, method, &a);
	return (api_deliver(s, c, &a, hf ? &f : NULL, reqid,
	    rf == RF_RESET_BODY));
}

/* ---- control endpoints (/_sim/...) ---- */

static char *
stats_json(struct sim *s)
{
	cJSON	*o = cJSON_CreateObject(), *ta, *aa, *ro;

	pthread_mutex_lock(&s->mtx);
	cJSON_AddNumberToObject(o, "token_requests", (double)s->token_requests);
	cJSON_AddNumberToObject(o, "api_requests", (double)s->api_requests);
	ta = cJSON_AddObjectToObject(o, "token_requests_by_audience");
	aa = cJSON_AddObjectToObject(o, "api_requests_by_audience");
	ro = cJSON_AddObjectToObject(o, "roles");
	for (int i = 0; i < SIM_AUD_N; i++) {
		cJSON_AddNumberToObject(ta, auds[i].name,
		    (double)s->token_requests_aud[i]);
		cJSON_AddNumberToObject(aa, auds[i].name,
		    (double)s->api_requests_aud[i]);
		cJSON_AddStringToObject(ro, auds[i].name, s->roles[i] ?
		    s->roles[i] : auds[i].roles);
	}
	cJSON_AddBoolToObject(o, "machines", !s->no_machines);
	cJSON_AddNumberToObject(o, "connections", (double)s->connections);
	cJSON_AddNumberToObject(o, "random_5xx", (double)s->random_5xx);
	cJSON_AddNumberToObject(o, "random_resets", (double)s->random_resets);
	cJSON_AddNumberToObject(o, "random_resets_body",
	    (double)s->random_resets_body);
	cJSON_AddNumberToObject(o, "random_token_failures",
	    (double)s->random_token_failures);
	cJSON_AddItemToObject(o, "last_request", s->last_req ?
	    cJSON_Duplicate(s->last_req, 1) : cJSON_CreateNull());
	cJSON_AddItemToObject(o, "last_token_request", s->last_tok ?
	    cJSON_Duplicate(s->last_tok, 1) : cJSON_CreateNull());
	pthread_mutex_unlock(&s->mtx);
	return (print_json(o));
}

static void
sim_reset(struct sim *s)
{
	cJSON	*req, *tok;

	pthread_mutex_lock(&s->mtx);
	free_faults(s);
	s->token_requests = s->api_requests = s->connections = 0;
	memset(s->token_requests_aud, 0, sizeof(s->token_requests_aud));
	memset(s->api_requests_aud, 0, sizeof(s->api_requests_aud));
	s->rate_5xx = s->rate_reset = 0;
	s->token_fail_every = 0;
	s->token_seq = 0;
	s->random_5xx = s->random_resets = s->random_resets_body = 0;
	s->random_token_failures = 0;
	memset(s->revoked, 0, sizeof(s->revoked));
	req = s->last_req;
	tok = s->last_tok;
	s->last_req = s->last_tok = NULL;
	for (int i = 0; i < SIM_AUD_N; i++) {
		free(s->roles[i]);
		s->roles[i] = dupstr(s->roles0[i]);
	}
	s->no_machines = s->no_machines0;
	s->lifetime = s->lifetime0;
	s->version = s->version0;
	s->latency_ms = 0;
	pthread_mutex_unlock(&s->mtx);
	cJSON_Delete(req);
	cJSON_Delete(tok);
	sim_store_reset(s->store);
}

/* An integral number in [min, max]: 0 absent, 1 found (*out), -1 bad. */
static int
num_field(const cJSON *o, const char *name, long long min, long long max,
    long long *out)
{
	const cJSON	*v = cJSON_GetObjectItemCaseSensitive(o, name);
	double		 d;

	if (v == NULL)
		return (0);
	if (!cJSON_IsNumber(v))
		return (-1);
	d = v->valuedouble;
	if (d != (double)(long long)d || d < (double)min || d > (double)max)
		return (-1);
	*out = (long long)d;
	return (1);
}

/* A number in [0, 1]: 0 absent, 1 found (*out), -1 bad. */
static int
rate_field(const cJSON *o, const char *name, double *out)
{
	const cJSON	*v = cJSON_GetObjectItemCaseSensitive(o, name);

	if (v == NULL)
		return (0);
	if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) ||
	    !(v->valuedouble <= 1))
		return (-1);
	*out = v->valuedouble;
	return (1);
}

static int
keys_known(const cJSON *o, const char *const *keys, const char **bad)
{
	const cJSON	*it;
	size_t		 i;

	cJSON_ArrayForEach(it, o) {
		for (i = 0; keys[i] != NULL; i++)
			if (strcmp(it->string, keys[i]) == 0)
				break;
		if (keys[i] == NULL) {
			*bad = it->string;
			return (0);
		}
	}
	return (1);
}

static enum MHD_Result
ctl_config(struct sim *s, struct MHD_Connection *c, const cJSON *o)
{
	static const char *const keys[] = { "token_lifetime", "roles",
	    "defender_roles", "graph_roles", "mde_roles", "machines",
	    "latency_ms", "token_version", "api_5xx_rate", "api_reset_rate",
	    "token_fail_every", NULL };
	/* "roles" is the Defender audience's, as before audiences */
	static const struct { const char *key; int aud; } rkeys[] = {
		{ "roles", SIM_AUD_DEFENDER },
		{ "defender_roles", SIM_AUD_DEFENDER },
		{ "graph_roles", SIM_AUD_GRAPH },
		{ "mde_roles", SIM_AUD_MDE },
	};
	const cJSON	*roles, *mach;
	const char	*bad;
	long long	 lt = 0, lat = 0, ver = 0, every = 0;
	double		 r5 = 0, rr = 0;
	int		 has_lt, has_lat, has_ver, has_r5, has_rr, has_every;
	char		 msg[128];

	if (!keys_known(o, keys, &bad)) {
		snprintf(msg, sizeof(msg), "unknown config key '%.60s'", bad);
		return (ctl_answer(c, 400, ctl_error(msg)));
	}
	mach = cJSON_GetObjectItemCaseSensitive(o, "machines");
	if (mach != NULL && !cJSON_IsBool(mach))
		return (ctl_answer(c, 400, ctl_error("machines must be true "
		    "or false")));
	for (size_t i = 0; i < sizeof(rkeys) / sizeof(rkeys[0]); i++) {
		roles = cJSON_GetObjectItemCaseSensitive(o, rkeys[i].key);
		if (roles != NULL && !cJSON_IsString(roles) &&
		    !cJSON_IsNull(roles))
			return (ctl_answer(c, 400, ctl_error("roles must be a "
			    "comma-separated string, \"\" or null")));
	}
	if ((has_lt = num_field(o, "token_lifetime", 0, 30 * 86400, &lt)) < 0)
		return (ctl_answer(c, 400, ctl_error("token_lifetime must be "
		    "an integer from 0 to 2592000")));
	if ((has_lat = num_field(o, "latency_ms", 0, 600000, &lat)) < 0)
		return (ctl_answer(c, 400, ctl_error("latency_ms must be an "
		    "integer from 0 to 600000")));
	if ((has_ver = num_field(o, "token_version", 1, 2, &ver)) < 0)
		return (ctl_answer(c, 400, ctl_error("token_version must be "
		    "1 or 2")));
	if ((has_r5 = rate_field(o, "api_5xx_rate", &r5)) < 0 ||
	    (has_rr = rate_field(o, "api_reset_rate", &rr)) < 0)
		return (ctl_answer(c, 400, ctl_error("api_5xx_rate and "
		    "api_reset_rate must be numbers from 0 to 1")));
	if ((has_every = num_field(o, "token_fail_every", 0, 1000000000,
	    &every)) < 0)
		return (ctl_answer(c, 400, ctl_error("token_fail_every must be "
		    "an integer from 0 (off) to 1000000000")));
	pthread_mutex_lock(&s->mtx);
	if (has_lt)
		s->lifetime = (int)lt;
	if (has_lat)
		s->latency_ms = (long)lat;
	if (has_ver)
		s->version = (int)ver;
	if (has_r5)
		s->rate_5xx = r5;
	if (has_rr)
		s->rate_reset = rr;
	if (has_every) {
		s->token_fail_every = (long)every;
		s->token_seq = 0;
	}
	if (mach != NULL)
		s->no_machines = cJSON_IsFalse(mach);
	for (size_t i = 0; i < sizeof(rkeys) / sizeof(rkeys[0]); i++) {
		int a = rkeys[i].aud;

		if ((roles = cJSON_GetObjectItemCaseSensitive(o,
		    rkeys[i].key)) == NULL)
			continue;
		free(s->roles[a]);
		s->roles[a] = cJSON_IsString(roles) ?
		    xstrdup(roles->valuestring) : NULL;
	}
	pthread_mutex_unlock(&s->mtx);
	return (ctl_answer(c, 200, ok_json()));
}

/* A role list of a control request ("A,B" or ["A","B"]) into arr. */
static int
role_items(const cJSON *v, cJSON *arr)
{
	const cJSON	*it;
	const char	*p, *e;
	char		*item;

	if (v == NULL)
		return (0);
	if (cJSON_IsString(v)) {
		for (p = v->valuestring; p != NULL; p = e ? e + 1 : NULL) {
			e = strchr(p, ',');
			item = util_strndup(p, e ? (size_t)(e - p) : strlen(p));
			if (*item != '\0')
				cJSON_AddItemToArray(arr,
				    cJSON_CreateString(item));
			free(item);
		}
		return (0);
	}
	if (!cJSON_IsArray(v))
		return (-1);
	cJSON_ArrayForEach(it, v) {
		if (!cJSON_IsString(it) || *it->valuestring == '\0' ||
		    strchr(it->valuestring, ',') != NULL)
			return (-1);
		cJSON_AddItemToArray(arr, cJSON_CreateString(it->valuestring));
	}
	return (0);
}

static int
in_items(const cJSON *arr, const char *role)
{
	const cJSON	*it;

	cJSON_ArrayForEach(it, arr)
		if (strcmp(it->valuestring, role) == 0)
			return (1);
	return (0);
}

/*
 * POST /_sim/roles {"audience":"graph","grant":[..],"withhold":[..]}:
 * change the roles that new tokens of that audience carry (tokens already
 * issued keep theirs; /_sim/revoke makes clients fetch new ones).
 */
static enum MHD_Result
ctl_roles(struct sim *s, struct MHD_Connection *c, const cJSON *o)
{
	static const char *const keys[] = { "audience", "grant", "withhold",
	    NULL };
	cJSON		*grant = cJSON_CreateArray(), *drop = cJSON_CreateArray();
	cJSON		*cur = cJSON_CreateArray(), *it;
	const char	*bad;
	struct buf	 b;
	int		 aud = aud_find(claim(o, "audience"));
	enum MHD_Result	 ret;

	if (!keys_known(o, keys, &bad) || aud < 0 ||
	    role_items(cJSON_GetObjectItemCaseSensitive(o, "grant"),
	    grant) == -1 ||
	    role_items(cJSON_GetObjectItemCaseSensitive(o, "withhold"),
	    drop) == -1) {
		ret = ctl_answer(c, 400, ctl_error("want {\"audience\": "
		    "\"defender\"|\"graph\"|\"mde\", \"grant\": roles, "
		    "\"withhold\": roles} (roles: \"A,B\" or [\"A\",\"B\"])"));
		goto out;
	}
	buf_init(&b, 64 * 1024);
	pthread_mutex_lock(&s->mtx);
	it = cJSON_CreateString(s->roles[aud] ? s->roles[aud] :
	    auds[aud].roles);
	role_items(it, cur);
	cJSON_Delete(it);
	cJSON_ArrayForEach(it, grant)
		if (!in_items(cur, it->valuestring))
			cJSON_AddItemToArray(cur,
			    cJSON_CreateString(it->valuestring));
	cJSON_ArrayForEach(it, cur)
		if (!in_items(drop, it->valuestring))
			buf_printf(&b, "%s%s", b.len ? "," : "",
			    it->valuestring);
	free(s->roles[aud]);
	s->roles[aud] = xstrdup(b.data ? b.data : "");
	pthread_mutex_unlock(&s->mtx);
	buf_free(&b);
	ret = ctl_answer(c, 200, ok_json());
out:
	cJSON_Delete(grant);
	cJSON_Delete(drop);
	cJSON_Delete(cur);
	return (ret);
}

static enum MHD_Result
ctl_fault(struct sim *s, struct MHD_Connection *c, const cJSON *o)
{
	static const char *const keys[] = { "target", "kind", "count",
	    "status", "retry_after", "aadsts", "error", "delay_ms", "bytes",
	    "audience", "path", NULL };
	const char	*target, *kind, *error, *bad;
	struct fault	*f, **tail;
	long long	 v;
	size_t		 i;
	int		 t;
	char		 msg[128];

	if (!keys_known(o, keys, &bad)) {
		snprintf(msg, sizeof(msg), "unknown fault key '%.60s'", bad);
		return (ctl_answer(c, 400, ctl_error(msg)));
	}
	target = claim(o, "target");
	kind = claim(o, "kind");
	if (target == NULL || (strcmp(target, "token") != 0 &&
	    strcmp(target, "api") != 0))
		return (ctl_answer(c, 400, ctl_error("target must be "
		    "\"token\" or \"api\"")));
	t = strcmp(target, "token") == 0 ? T_TOKEN : T_API;
	for (i = 0; kind != NULL && i < sizeof(fkinds) / sizeof(fkinds[0]);
	    i++)
		if (strcmp(kind, fkinds[i].name) == 0 &&
		    (t == T_TOKEN ? fkinds[i].token : fkinds[i].api))
			break;
	if (kind == NULL || i == sizeof(fkinds) / sizeof(fkinds[0])) {
		snprintf(msg, sizeof(msg), "unknown fault kind '%.40s' for "
		    "target %s", kind ? kind : "", target);
		return (ctl_answer(c, 400, ctl_error(msg)));
	}
	f = xcalloc(1, sizeof(*f));
	f->kind = fkinds[i].kind;
	f->count = 1;
	f->retry_after = f->delay_ms = -1;
	f->bytes = -1;
	f->aud = -1;
	if (cJSON_HasObjectItem(o, "audience") &&
	    (f->aud = aud_find(claim(o, "audience"))) < 0)
		goto bad;
	if (cJSON_HasObjectItem(o, "path")) {
		if ((error = claim(o, "path")) == NULL || error[0] != '/' ||
		    strlen(error) >= sizeof(f->path))
			goto bad;
		snprintf(f->path, sizeof(f->path), "%s", error);
	}
	if (num_field(o, "count", -1, 1000000000, &v) == 1)
		f->count = (long)v;
	if (num_field(o, "count", -1, 1000000000, &v) < 0 || f->count == 0)
		goto bad;
	if (num_field(o, "status", 100, 599, &v) == 1)
		f->status = (unsigned)v;
	else if (cJSON_HasObjectItem(o, "status"))
		goto bad;
	if (num_field(o, "retry_after", 0, 86400, &v) == 1)
		f->retry_after = (long)v;
	else if (cJSON_HasObjectItem(o, "retry_after"))
		goto bad;
	if (num_field(o, "aadsts", 1, 999999999, &v) == 1)
		f->aadsts = (long)v;
	else if (cJSON_HasObjectItem(o, "aadsts"))
		goto bad;
	if (num_field(o, "delay_ms", 0, 3600000, &v) == 1)
		f->delay_ms = (long)v;
	else if (cJSON_HasObjectItem(o, "delay_ms"))
		goto bad;
	if (num_field(o, "bytes", 0, 1LL << 40, &v) == 1)
		f->bytes = v;
	else if (cJSON_HasObjectItem(o, "bytes"))
		goto bad;
	if (cJSON_HasObjectItem(o, "error")) {
		if ((error = claim(o, "error")) == NULL || *error == '\0' ||
		    strlen(error) >= sizeof(f->error) ||
		    strspn(error, "abcdefghijklmnopqrstuvwxyz_") !=
		    strlen(error))
			goto bad;
		snprintf(f->error, sizeof(f->error), "%s", error);
	}
	pthread_mutex_lock(&s->mtx);
	for (tail = &s->faults[t]; *tail != NULL; tail = &(*tail)->next)
		;
	*tail = f;
	pthread_mutex_unlock(&s->mtx);
	if (s->verbose)
		log_info("sim: queued %s fault '%s' (count %ld)", target, kind,
		    f->count);
	return (ctl_answer(c, 200, ok_json()));
bad:
	free(f);
	return (ctl_answer(c, 400, ctl_error("invalid fault: count is -1 or "
	    ">= 1; status 100-599; retry_after, delay_ms, bytes, aadsts are "
	    "non-negative integers; error is a lower-case OAuth error code; "
	    "audience is defender, graph or mde; path starts with /")));
}

/*
 * POST /_sim/revoke [{"audience": a}]: every token issued so far (of that
 * audience only, when one is named) is refused from now on.
 */
static enum MHD_Result
ctl_revoke(struct sim *s, struct MHD_Connection *c, const cJSON *o)
{
	int	 aud = -1;

	if (cJSON_HasObjectItem(o, "audience") &&
	    (aud = aud_find(claim(o, "audience"))) < 0)
		return (ctl_answer(c, 400, ctl_error("audience must be "
		    "defender, graph or mde")));
	pthread_mutex_lock(&s->mtx);
	for (int i = 0; i < SIM_AUD_N; i++)
		if (aud < 0 || aud == i)
			s->revoked[i] = s->serial;
	pthread_mutex_unlock(&s->mtx);
	return (ctl_answer(c, 200, ok_json()));
}

static enum MHD_Result
handle_control(struct sim *s, struct MHD_Connection *c, struct sreq *r,
    const char *url, const char *method)
{
	const char	*name = url + 6;	/* after "/_sim/" */
	cJSON		*o;
	enum MHD_Result	 ret;
	int		 post = strcmp(method, "POST") == 0;

	if (strcmp(name, "stats") == 0) {
		if (strcmp(method, "GET") != 0)
			return (ctl_answer(c, 405, ctl_error("use GET")));
		return (ctl_answer(c, 200, stats_json(s)));
	}
	if (strcmp(name, "reset") != 0 && strcmp(name, "revoke") != 0 &&
	    strcmp(name, "config") != 0 && strcmp(name, "fault") != 0 &&
	    strcmp(name, "roles") != 0)
		return (ctl_answer(c, 404, ctl_error("no such control "
		    "endpoint")));
	if (!post)
		return (ctl_answer(c, 405, ctl_error("use POST")));
	if (strcmp(name, "reset") == 0) {
		sim_reset(s);
		return (ctl_answer(c, 200, ok_json()));
	}
	if (r->too_big)
		return (ctl_answer(c, 413, ctl_error("body too large")));
	/* a revoke without a body revokes everything, as it always did */
	if (r->body.len == 0 && strcmp(name, "revoke") == 0)
		o = cJSON_CreateObject();
	else
		o = cJSON_ParseWithLength(r->body.data ? r->body.data : "",
		    r->body.len);
	if (!cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return (ctl_answer(c, 400, ctl_error("body must be a JSON "
		    "object")));
	}
	if (strcmp(name, "config") == 0)
		ret = ctl_config(s, c, o);
	else if (strcmp(name, "roles") == 0)
		ret = ctl_roles(s, c, o);
	else if (strcmp(name, "revoke") == 0)
		ret = ctl_revoke(s, c, o);
	else
		ret = ctl_fault(s, c, o);
	cJSON_Delete(o);
	return (ret);
}

/* ---- libmicrohttpd glue ---- */

static struct sreq *
sreq_new(const char *uri)
{
	struct sreq	*r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return (NULL);
	if ((r->uri = strdup(uri ? uri : "/")) == NULL) {
		free(r);
		return (NULL);
	}
	buf_init(&r->body, API_BODY_MAX);
	return (r);
}

static void *
uri_cb(void *cls, const char *uri, struct MHD_Connection *c)
{
	return (sreq_new(uri));
}

static void
completed_cb(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct sreq	*r = *con_cls;

	if (r == NULL)
		return;
	*con_cls = NULL;
	buf_wipe(&r->body);
	free(r->uri);
	free(r);
}

static void
conn_cb(void *cls, struct MHD_Connection *c, void **socket_context,
    enum MHD_ConnectionNotificationCode toe)
{
	struct sim	*s = cls;

	if (toe != MHD_CONNECTION_NOTIFY_STARTED)
		return;
	pthread_mutex_lock(&s->mtx);
	s->connections++;
	pthread_mutex_unlock(&s->mtx);
}

static void	mhd_log(void *, const char *, va_list)
		    __attribute__((__format__(__printf__, 2, 0)));

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char	 line[512];
	size_t	 n;

	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	log_debug("sim: libmicrohttpd: %s", line);
}

static enum MHD_Result
access_cb(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **con_cls)
{
	struct sim	*s = cls;
	struct sreq	*r = *con_cls;

	if (r == NULL) {
		if ((r = sreq_new(url)) == NULL)
			return (MHD_NO);
		*con_cls = r;
	}
	if (!r->started) {
		/* first call: headers only; never answer before the body */
		r->started = 1;
		if (token_path(url, NULL))
			r->body.max = TOKEN_BODY_MAX;
		return (MHD_YES);
	}
	if (*upload_size != 0) {
		if (!r->too_big &&
		    buf_append(&r->body, upload, *upload_size) == -1) {
			r->too_big = 1;
			buf_reset(&r->body);
		}
		*upload_size = 0;
		return (MHD_YES);
	}
	if (stopping(s))
		return (MHD_NO);
	if (s->verbose)
		log_info("sim: %s %.300s (%zu body bytes)", method, r->uri,
		    r->body.len);
	if (strncmp(url, "/_sim/", 6) == 0)
		return (handle_control(s, c, r, url, method));
	if (token_path(url, NULL))
		return (handle_token(s, c, r, url, method));
	return (handle_api(s, c, r, url, method));
}

/* ---- public interface ---- */

static void
sim_free(struct sim *s)
{
	free_faults(s);
	cJSON_Delete(s->last_req);
	cJSON_Delete(s->last_tok);
	sim_store_free(s->store);
	sim_tls_free(&s->tls);
	free(s->tenant);
	free(s->client);
	util_free_secret(s->secret);
	for (int i = 0; i < SIM_AUD_N; i++) {
		free(s->roles0[i]);
		free(s->roles[i]);
	}
	pthread_mutex_destroy(&s->mtx);
	free(s);
}

static void
set_errmsg(char **err, const char *msg)
{
	if (err != NULL) {
		free(*err);
		*err = strdup(msg);
	}
}

struct sim *
sim_start(const struct sim_options *o, char **err)
{
	struct sim		*s;
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	const char		*host;
	const union MHD_DaemonInfo *di;
	unsigned int		 flags;

	if (err != NULL)
		*err = NULL;
	if (o == NULL || o->tenant_id == NULL || o->client_id == NULL ||
	    o->client_secret == NULL) {
		set_errmsg(err, "tenant_id, client_id and client_secret are "
		    "required");
		return (NULL);
	}
	s = xcalloc(1, sizeof(*s));
	pthread_mutex_init(&s->mtx, NULL);
	atomic_init(&s->stopping, 0);
	s->tenant = xstrdup(o->tenant_id);
	s->client = xstrdup(o->client_id);
	s->secret = xstrdup(o->client_secret);
	for (int i = 0; i < SIM_AUD_N; i++) {
		s->roles0[i] = dupstr(o->roles[i]);
		s->roles[i] = dupstr(o->roles[i]);
	}
	s->no_machines0 = s->no_machines = o->no_machines;
	s->t0 = util_now();
	s->lifetime0 = s->lifetime = o->token_lifetime > 0 ?
	    o->token_lifetime : 3599;
	s->version0 = s->version = o->token_version == 2 ? 2 : 1;
	s->verbose = o->verbose;
	s->store = sim_store_new();
	rng_seed(s);

	memset(&ss, 0, sizeof(ss));
	flags = MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL | MHD_USE_TLS |
	    MHD_USE_ERROR_LOG;
	host = o->bind_host ? o->bind_host : "127.0.0.1";
	if (strcmp(host, "localhost") == 0)
		host = "127.0.0.1";
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(o->port);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(o->port);
		flags |= MHD_USE_IPv6;
	} else {
		set_errmsg(err, "bind_host must be an IP address");
		goto fail;
	}

	if (sim_tls_init(&s->tls, err) == -1)
		goto fail;
	if (o->ca_out != NULL && sim_tls_write_ca(&s->tls, o->ca_out,
	    err) == -1)
		goto fail;

	s->d = MHD_start_daemon(flags, o->port, NULL, NULL, access_cb, s,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_HTTPS_MEM_KEY, s->tls.key_pem,
	    MHD_OPTION_HTTPS_MEM_CERT, s->tls.cert_pem,
	    MHD_OPTION_CONNECTION_LIMIT, 4000U,
	    MHD_OPTION_CONNECTION_TIMEOUT, 120U,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(1024 * 1024),
	    MHD_OPTION_THREAD_STACK_SIZE, (size_t)(1024 * 1024),
	    MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096U,
	    MHD_OPTION_URI_LOG_CALLBACK, uri_cb, s,
	    MHD_OPTION_NOTIFY_COMPLETED, completed_cb, s,
	    MHD_OPTION_NOTIFY_CONNECTION, conn_cb, s,
	    MHD_OPTION_END);
	if (s->d == NULL) {
		set_errmsg(err, "cannot start the HTTPS server (address in "
		    "use or TLS setup failed)");
		goto fail;
	}
	di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = di ? di->port : o->port;
	if (s->verbose)
		log_info("sim: listening on https://%s%s%s:%u", strchr(host,
		    ':') ? "[" : "", host, strchr(host, ':') ? "]" : "",
		    s->port);
	return (s);
fail:
	sim_free(s);
	return (NULL);
}

unsigned short
sim_port(const struct sim *s)
{
	return (s->port);
}

void
sim_stop(struct sim *s)
{
	if (s == NULL)
		return;
	atomic_store(&s->stopping, 1);
	if (s->d != NULL)
		MHD_stop_daemon(s->d);
	sim_free(s);
}

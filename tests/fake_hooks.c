/*
 * fake_hooks.c: the test fake's side of the simulation (src/sim/): what
 * only tests need, built only into tests/fakeapi and never into the
 * daemon. Through the sim's hooks it
 *   - counts and records every request (token requests per audience, API
 *     requests per audience, connections; the last of each, secrets
 *     redacted) for GET /_sim/stats, and one value of it for
 *     GET /_sim/stats/A/B (.A.B);
 *   - injects faults: queued ones (POST /_sim/fault) into the token
 *     endpoint or the APIs, optionally only for one audience or path
 *     prefix, and random ones for the soak test (POST /_sim/config);
 *   - serves the control endpoints POST /_sim/config, /_sim/roles (grant
 *     or withhold roles per audience), /_sim/revoke, /_sim/reset.
 *   - shows the sim's quota counters (calls per group, per minute, the
 *     most in any 60 s; GET /_sim/stats "quota" and GET /_sim/quota) and
 *     sets its quotas (POST /_sim/config "quota": true|false,
 *     "quota_<group>": "50/min,1500/h" | "3/2s" | "off").
 *
 * Random faults, set with POST /_sim/config and cleared by /_sim/reset;
 * queued faults (/_sim/fault) take precedence:
 *   "api_5xx_rate": p     each API request, with probability p, is
 *                         answered 500 or 503 (even odds) with the API's
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
 * Fault kind "echo" (for the leak test, t44): like services that quote
 * what they were sent, the token endpoint answers 400 invalid_client
 * (AADSTS7000215) whose error_description holds the exact request form
 * body and the decoded client_secret or client_assertion, and an API
 * answers 403 "Missing application roles. ..." quoting the Authorization
 * header it received. Only the answer echoes: the records stay redacted.
 *
 * The draws come from one xorshift64* generator under `mtx`, seeded from
 * RAND_bytes() at start.
 *
 * Threads: the hooks run on the sim's MHD threads; everything mutable in
 * struct fake is guarded by its mutex. Ownership: struct fake owns its
 * faults and recorded requests; fakeapi.c owns the struct fake.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <openssl/rand.h>

#include "buf.h"
#include "fake_hooks.h"
#include "log.h"
#include "util.h"

enum target { T_TOKEN, T_API };

enum fkind {
	F_STATUS, F_429, F_MALFORMED, F_MISSING_TOKEN, F_MISSING_EXPIRY,
	F_HANG, F_CLOSE, F_RESET, F_RESET_BODY, F_STALL, F_HUGE,
	F_BIG_HEADERS, F_ECHO
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
	{ "echo", F_ECHO, 1, 1 },
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

static const char *
claim(const cJSON *o, const char *name)
{
	const cJSON	*v = cJSON_GetObjectItemCaseSensitive(o, name);

	return (cJSON_IsString(v) ? v->valuestring : NULL);
}

static char *
print_json(cJSON *o)
{
	char	*t = cJSON_PrintUnformatted(o);

	cJSON_Delete(o);
	return (t);
}

static char *
raw_path(const char *target)
{
	return (util_strndup(target, strcspn(target, "?")));
}

struct fake {
	char			*client, *secret;
	int			 verbose;

	pthread_mutex_t		 mtx;		/* guards what follows */
	long			 latency_ms;
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

/* A JSON answer of the control endpoints. */
static enum sim_verdict
ctl_answer(struct sim_req *r, unsigned status, char *body)
{
	return (sim_reply(r, status, body, -1));
}

/*
 * Consume the first fault for target t that applies to a request for
 * audience aud (-1: none known) on path into *out; 0 when there is none.
 */
static int
take_fault(struct fake *s, enum target t, int aud, const char *path,
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
free_faults(struct fake *s)
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

/* A uniform double in [0, 1); the caller holds s->mtx. */
static double
rng_next_locked(struct fake *s)
{
	uint64_t	 x = s->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	s->rng = x;
	return ((double)((x * 0x2545F4914F6CDD1DULL) >> 11) * 0x1.0p-53);
}

static void
rng_seed(struct fake *s)
{
	uint64_t	 seed = 0;

	if (RAND_bytes((unsigned char *)&seed, sizeof(seed)) != 1)
		seed = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)s;
	s->rng = seed != 0 ? seed : 0x9E3779B97F4A7C15ULL;
}

enum rfault { RF_NONE, RF_500, RF_503, RF_RESET, RF_RESET_BODY };

/* Draw the random fault (if any) for one API request. */
static enum rfault
random_api_fault(struct fake *s)
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
random_token_fault(struct fake *s)
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

/* Default AADSTS code and text for an injected token error. */
static void
fault_aadsts(struct fake *s, const struct fault *f, unsigned status,
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


static enum sim_verdict
ctl_fault(struct fake *s, struct sim_req *r, const cJSON *o)
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
		return (ctl_answer(r, 400, ctl_error(msg)));
	}
	target = claim(o, "target");
	kind = claim(o, "kind");
	if (target == NULL || (strcmp(target, "token") != 0 &&
	    strcmp(target, "api") != 0))
		return (ctl_answer(r, 400, ctl_error("target must be "
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
		return (ctl_answer(r, 400, ctl_error(msg)));
	}
	f = xcalloc(1, sizeof(*f));
	f->kind = fkinds[i].kind;
	f->count = 1;
	f->retry_after = f->delay_ms = -1;
	f->bytes = -1;
	f->aud = -1;
	if (cJSON_HasObjectItem(o, "audience") &&
	    (f->aud = sim_audience_find(claim(o, "audience"))) < 0)
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
		log_info("fakeapi: queued %s fault '%s' (count %ld)", target, kind,
		    f->count);
	return (ctl_answer(r, 200, ok_json()));
bad:
	free(f);
	return (ctl_answer(r, 400, ctl_error("invalid fault: count is -1 or "
	    ">= 1; status 100-599; retry_after, delay_ms, bytes, aadsts are "
	    "non-negative integers; error is a lower-case OAuth error code; "
	    "audience is defender, graph or mde; path starts with /")));
}






/* Fault "echo" at the token endpoint: 400 quoting the request body. */
static enum sim_verdict
token_echo(struct sim_req *r)
{
	const cJSON	*form = sim_req_form(r);
	const char	*body, *sec = claim(form, "client_secret");
	const char	*asn = claim(form, "client_assertion");
	struct buf	 b;
	size_t		 len;
	enum sim_verdict v;

	body = sim_req_body(r, &len);
	buf_init(&b, 1 << 20);
	buf_printf(&b, "Invalid client secret provided. Request body was: "
	    "%.*s", (int)len, body ? body : "");
	if (sec != NULL)
		buf_printf(&b, " (client_secret '%s')", sec);
	if (asn != NULL)
		buf_printf(&b, " (client_assertion '%s')", asn);
	v = sim_reply_entra_error(r, 400, "invalid_client", 7000215,
	    b.data ? b.data : "", -1);
	buf_wipe(&b);
	return (v);
}

/* Fault "echo" at an API: the Defender 403 quoting the Authorization. */
static enum sim_verdict
api_echo(struct sim_req *r)
{
	const char	*auth = sim_req_header(r, "Authorization");
	cJSON		*o = cJSON_CreateObject(), *e;
	struct buf	 b;

	buf_init(&b, 64 * 1024);
	buf_printf(&b, "Missing application roles. API required roles: "
	    "Incident.Read.All, application roles: . Authorization: %s",
	    auth ? auth : "");
	e = cJSON_AddObjectToObject(o, "error");
	cJSON_AddStringToObject(e, "code", "Forbidden");
	cJSON_AddStringToObject(e, "message", b.data ? b.data : "");
	cJSON_AddStringToObject(e, "target", "echo");
	buf_wipe(&b);
	return (sim_reply(r, 403, print_json(o), -1));
}

/* Answer a token request according to an injected fault (not hang). */
static enum sim_verdict
token_fault(struct fake *s, struct sim_req *r, const struct fault *f)
{
	const char	*error = f->error;
	unsigned	 status = f->status;
	long		 code, ra = f->retry_after;
	char		 text[512], *tok, buf[64];
	cJSON		*o;
	int		 lifetime, v2;

	v2 = strstr(sim_req_path(r), "/v2.0/") != NULL;
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
		    sim_req_sleep(r, f->delay_ms) == -1)
			return (SIM_CLOSE);
		fault_aadsts(s, f, status, error, &code, text, sizeof(text));
		return (sim_reply_entra_error(r, status, error, code, text,
		    ra));
	case F_ECHO:
		return (token_echo(r));
	case F_MALFORMED:
		return (sim_reply(r, 200, xstrdup("{\"token_type\":"
		    "\"Bearer\",\"expires_in\":3599,\"access_tok"), -1));
	case F_MISSING_TOKEN:
	case F_MISSING_EXPIRY:
		tok = sim_req_issue_token(r, &lifetime);
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
			if (!v2)
				cJSON_AddStringToObject(o, "resource",
				    sim_audience_resource(
				    sim_req_audience(r)));
			cJSON_AddStringToObject(o, "access_token",
			    tok ? tok : "");
		}
		util_free_secret(tok);
		return (sim_reply(r, 200, print_json(o), -1));
	default:
		break;
	}
	return (SIM_CLOSE);
}

/* Remember a token request (secrets redacted) and count it. */
static void
record_token(struct fake *s, struct sim_req *r)
{
	static const char *const redact[] = { "client_secret",
	    "client_assertion" };
	const cJSON	*form = sim_req_form(r);
	const char	*sec = claim(form, "client_secret");
	cJSON		*rec = cJSON_CreateObject(), *rf, *old;
	char		*path = raw_path(sim_req_target(r));
	int		 aud = sim_req_audience(r);

	cJSON_AddStringToObject(rec, "path", path ? path : "");
	free(path);
	cJSON_AddStringToObject(rec, "audience", sim_audience_name(aud));
	rf = cJSON_Duplicate(form, 1);
	for (size_t i = 0; i < sizeof(redact) / sizeof(redact[0]); i++)
		if (cJSON_HasObjectItem(rf, redact[i]))
			cJSON_ReplaceItemInObjectCaseSensitive(rf, redact[i],
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
}

static enum sim_verdict
hook_token(struct fake *s, struct sim_req *r)
{
	struct fault	 f;
	char		*path = raw_path(sim_req_target(r));
	int		 hf;

	record_token(s, r);
	hf = take_fault(s, T_TOKEN, sim_req_audience(r), path ? path : "",
	    &f);
	free(path);
	if (hf) {
		if (s->verbose)
			log_info("fakeapi: token fault %d", (int)f.kind);
		if (f.kind == F_CLOSE)
			return (SIM_CLOSE);
		if (f.kind != F_HANG)
			return (token_fault(s, r, &f));
		if (sim_req_sleep(r, f.delay_ms >= 0 ? f.delay_ms :
		    60000) == -1)
			return (SIM_CLOSE);
	} else if (random_token_fault(s)) {
		memset(&f, 0, sizeof(f));
		f.kind = F_STATUS;
		f.status = 503;
		f.retry_after = f.delay_ms = f.bytes = -1;
		if (s->verbose)
			log_info("fakeapi: random token failure (503)");
		return (token_fault(s, r, &f));
	}
	return (SIM_PASS);
}

static void
hdr_add(void *arg, const char *key, const char *value)
{
	cJSON	*h = arg, *old;
	char	 name[256], *joined;
	size_t	 i, n;

	for (i = 0; key[i] != '\0' && i < sizeof(name) - 1; i++)
		name[i] = (key[i] >= 'A' && key[i] <= 'Z') ?
		    (char)(key[i] - 'A' + 'a') : key[i];
	name[i] = '\0';
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
}

/* Remember what the client sent (for /_sim/stats) and count it. */
static void
record_request(struct fake *s, struct sim_req *r)
{
	cJSON		*o = cJSON_CreateObject(), *h, *old;
	char		*path = raw_path(sim_req_target(r));
	const char	*body;
	size_t		 len;
	int		 aud = sim_req_audience(r);

	body = sim_req_body(r, &len);
	cJSON_AddStringToObject(o, "method", sim_req_method(r));
	cJSON_AddStringToObject(o, "path", path ? path : "");
	cJSON_AddStringToObject(o, "query", sim_req_query(r));
	h = cJSON_AddObjectToObject(o, "headers");
	sim_req_headers(r, hdr_add, h);
	cJSON_AddStringToObject(o, "body", body);
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

static enum sim_verdict
hook_api(struct fake *s, struct sim_req *r)
{
	struct fault	 f;
	long		 lat;
	enum rfault	 rf;

	record_request(s, r);
	pthread_mutex_lock(&s->mtx);
	lat = s->latency_ms;
	pthread_mutex_unlock(&s->mtx);
	if (lat > 0 && sim_req_sleep(r, lat) == -1)
		return (SIM_CLOSE);
	if (take_fault(s, T_API, sim_req_audience(r), sim_req_path(r), &f)) {
		if (s->verbose)
			log_info("fakeapi: api fault %d", (int)f.kind);
		switch (f.kind) {
		case F_RESET:
			return (SIM_CLOSE);
		case F_HANG:
			if (sim_req_sleep(r, f.delay_ms >= 0 ? f.delay_ms :
			    60000) == -1)
				return (SIM_CLOSE);
			return (SIM_PASS);
		case F_STATUS:
			if (f.delay_ms > 0 && sim_req_sleep(r, f.delay_ms) == -1)
				return (SIM_CLOSE);
			return (sim_reply_api_error(r, f.status ? f.status :
			    503, f.retry_after));
		case F_HUGE:
			return (sim_reply_padded(r, f.bytes >= 0 ?
			    (uint64_t)f.bytes : 64ULL << 20, 0));
		case F_RESET_BODY:
			return (sim_reply_padded(r, f.bytes >= 0 ?
			    (uint64_t)f.bytes : 100000, 1));
		case F_STALL:
			sim_req_shape(r, f.delay_ms >= 0 ? f.delay_ms : 60000,
			    0, 0);
			return (SIM_PASS);
		case F_BIG_HEADERS:
			sim_req_shape(r, 0, 0, f.bytes >= 0 ? f.bytes : 200000);
			return (SIM_PASS);
		case F_ECHO:
			return (api_echo(r));
		default:
			return (SIM_PASS);
		}
	}
	if ((rf = random_api_fault(s)) == RF_NONE)
		return (SIM_PASS);
	if (s->verbose)
		log_info("fakeapi: random api fault %d", (int)rf);
	switch (rf) {
	case RF_RESET:
		return (SIM_CLOSE);
	case RF_500:
	case RF_503:
		return (sim_reply_api_error(r, rf == RF_500 ? 500 : 503, -1));
	default:
		sim_req_shape(r, 0, 1, 0);	/* cut the real answer */
		return (SIM_PASS);
	}
}

/* ---- control endpoints (/_sim/...) ---- */

static cJSON *
stats_obj(struct fake *s, struct sim *sim)
{
	cJSON	*o = cJSON_CreateObject(), *ta, *aa, *ro;
	char	*roles, *quota;

	ro = cJSON_CreateObject();
	for (int i = 0; i < SIM_AUD_N; i++) {
		roles = sim_roles(sim, i);
		cJSON_AddStringToObject(ro, sim_audience_name(i), roles);
		free(roles);
	}
	pthread_mutex_lock(&s->mtx);
	cJSON_AddNumberToObject(o, "token_requests", (double)s->token_requests);
	cJSON_AddNumberToObject(o, "api_requests", (double)s->api_requests);
	ta = cJSON_AddObjectToObject(o, "token_requests_by_audience");
	aa = cJSON_AddObjectToObject(o, "api_requests_by_audience");
	for (int i = 0; i < SIM_AUD_N; i++) {
		cJSON_AddNumberToObject(ta, sim_audience_name(i),
		    (double)s->token_requests_aud[i]);
		cJSON_AddNumberToObject(aa, sim_audience_name(i),
		    (double)s->api_requests_aud[i]);
	}
	cJSON_AddItemToObject(o, "roles", ro);
	cJSON_AddBoolToObject(o, "machines", sim_machines(sim));
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
	quota = sim_quota_stats(sim);
	cJSON_AddItemToObject(o, "quota", cJSON_Parse(quota));
	free(quota);
	return (o);
}

/*
 * GET /_sim/stats/A/B: the scalar at .A.B of the stats as `jq -r` prints
 * it (a string raw, a missing key as null), then a newline; 422 for an
 * object or an array. One request instead of a curl and a jq per count
 * in the tests (tests/lib.sh, fake_stat).
 */
static enum sim_verdict
stats_field(struct sim_req *r, struct fake *s, struct sim *sim,
    const char *path)
{
	cJSON		*o = stats_obj(s, sim), *v = o;
	char		 key[64], *t = NULL;
	size_t		 n;
	unsigned	 status = 200;

	while (v != NULL && *path != '\0') {
		n = strcspn(path, "/");
		if (n == 0 || n >= sizeof(key)) {
			v = NULL;
			break;
		}
		memcpy(key, path, n);
		key[n] = '\0';
		v = cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v, key) :
		    NULL;
		path += n + (path[n] == '/');
	}
	if (v != NULL && (cJSON_IsObject(v) || cJSON_IsArray(v))) {
		status = 422;
		t = ctl_error("not a scalar: read GET /_sim/stats whole");
	} else {
		char *j = v == NULL || cJSON_IsNull(v) ? xstrdup("null") :
		    cJSON_IsString(v) ? xstrdup(v->valuestring) :
		    cJSON_PrintUnformatted(v);

		n = strlen(j);
		t = xmalloc(n + 2);
		memcpy(t, j, n);
		memcpy(t + n, "\n", 2);
		free(j);
	}
	cJSON_Delete(o);
	return (ctl_answer(r, status, t));
}

static void
fake_reset(struct fake *s, struct sim *sim)
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
	req = s->last_req;
	tok = s->last_tok;
	s->last_req = s->last_tok = NULL;
	s->latency_ms = 0;
	pthread_mutex_unlock(&s->mtx);
	cJSON_Delete(req);
	cJSON_Delete(tok);
	sim_reset(sim);
}

static enum sim_verdict
ctl_config(struct fake *s, struct sim *sim, struct sim_req *r,
    const cJSON *o)
{
	static const char *const keys[] = { "token_lifetime", "roles",
	    "defender_roles", "graph_roles", "mde_roles", "machines",
	    "latency_ms", "token_version", "api_5xx_rate", "api_reset_rate",
	    "token_fail_every", "quota", "quota_incidents", "quota_hunting",
	    "quota_mde", "quota_graph", NULL };
	/* "roles" is the Defender audience's, as before audiences */
	static const struct { const char *key; int aud; } rkeys[] = {
		{ "roles", SIM_AUD_DEFENDER },
		{ "defender_roles", SIM_AUD_DEFENDER },
		{ "graph_roles", SIM_AUD_GRAPH },
		{ "mde_roles", SIM_AUD_MDE },
	};
	const cJSON	*roles, *mach, *quota, *ql;
	const char	*bad;
	long long	 lt = 0, lat = 0, ver = 0, every = 0;
	double		 r5 = 0, rr = 0;
	int		 has_lt, has_lat, has_ver, has_r5, has_rr, has_every;
	char		 msg[128];

	if (!keys_known(o, keys, &bad)) {
		snprintf(msg, sizeof(msg), "unknown config key '%.60s'", bad);
		return (ctl_answer(r, 400, ctl_error(msg)));
	}
	mach = cJSON_GetObjectItemCaseSensitive(o, "machines");
	if (mach != NULL && !cJSON_IsBool(mach))
		return (ctl_answer(r, 400, ctl_error("machines must be true "
		    "or false")));
	for (size_t i = 0; i < sizeof(rkeys) / sizeof(rkeys[0]); i++) {
		roles = cJSON_GetObjectItemCaseSensitive(o, rkeys[i].key);
		if (roles != NULL && !cJSON_IsString(roles) &&
		    !cJSON_IsNull(roles))
			return (ctl_answer(r, 400, ctl_error("roles must be a "
			    "comma-separated string, \"\" or null")));
	}
	quota = cJSON_GetObjectItemCaseSensitive(o, "quota");
	if (quota != NULL && !cJSON_IsBool(quota))
		return (ctl_answer(r, 400, ctl_error("quota must be true or "
		    "false")));
	for (int g = 0; g < SIM_QUOTA_N; g++) {
		snprintf(msg, sizeof(msg), "quota_%s", sim_quota_group_name(g));
		ql = cJSON_GetObjectItemCaseSensitive(o, msg);
		if (ql != NULL && (!cJSON_IsString(ql) ||
		    !sim_quota_valid(ql->valuestring)))
			return (ctl_answer(r, 400, ctl_error("quota_<group> "
			    "must be limits like \"50/min,1500/h\", "
			    "\"3/2s\" or \"off\"")));
	}
	if ((has_lt = num_field(o, "token_lifetime", 0, 30 * 86400, &lt)) < 0)
		return (ctl_answer(r, 400, ctl_error("token_lifetime must be "
		    "an integer from 0 to 2592000")));
	if ((has_lat = num_field(o, "latency_ms", 0, 600000, &lat)) < 0)
		return (ctl_answer(r, 400, ctl_error("latency_ms must be an "
		    "integer from 0 to 600000")));
	if ((has_ver = num_field(o, "token_version", 1, 2, &ver)) < 0)
		return (ctl_answer(r, 400, ctl_error("token_version must be "
		    "1 or 2")));
	if ((has_r5 = rate_field(o, "api_5xx_rate", &r5)) < 0 ||
	    (has_rr = rate_field(o, "api_reset_rate", &rr)) < 0)
		return (ctl_answer(r, 400, ctl_error("api_5xx_rate and "
		    "api_reset_rate must be numbers from 0 to 1")));
	if ((has_every = num_field(o, "token_fail_every", 0, 1000000000,
	    &every)) < 0)
		return (ctl_answer(r, 400, ctl_error("token_fail_every must be "
		    "an integer from 0 (off) to 1000000000")));
	if (has_lt)
		sim_set_token_lifetime(sim, (int)lt);
	if (has_ver)
		sim_set_token_version(sim, (int)ver);
	if (mach != NULL)
		sim_set_machines(sim, cJSON_IsTrue(mach));
	for (int g = 0; g < SIM_QUOTA_N; g++) {
		snprintf(msg, sizeof(msg), "quota_%s", sim_quota_group_name(g));
		if ((ql = cJSON_GetObjectItemCaseSensitive(o, msg)) != NULL)
			sim_set_quota(sim, -1, g, ql->valuestring);
	}
	if (quota != NULL)
		sim_set_quota(sim, cJSON_IsTrue(quota), -1, NULL);
	for (size_t i = 0; i < sizeof(rkeys) / sizeof(rkeys[0]); i++)
		if ((roles = cJSON_GetObjectItemCaseSensitive(o,
		    rkeys[i].key)) != NULL)
			sim_set_roles(sim, rkeys[i].aud, cJSON_IsString(roles) ?
			    roles->valuestring : NULL);
	pthread_mutex_lock(&s->mtx);
	if (has_lat)
		s->latency_ms = (long)lat;
	if (has_r5)
		s->rate_5xx = r5;
	if (has_rr)
		s->rate_reset = rr;
	if (has_every) {
		s->token_fail_every = (long)every;
		s->token_seq = 0;
	}
	pthread_mutex_unlock(&s->mtx);
	return (ctl_answer(r, 200, ok_json()));
}

/*
 * POST /_sim/roles {"audience":"graph","grant":[..],"withhold":[..]}:
 * change the roles that new tokens of that audience carry (tokens already
 * issued keep theirs; /_sim/revoke makes clients fetch new ones).
 */
static enum sim_verdict
ctl_roles(struct sim *sim, struct sim_req *r, const cJSON *o)
{
	static const char *const keys[] = { "audience", "grant", "withhold",
	    NULL };
	cJSON		*grant = cJSON_CreateArray(), *drop = cJSON_CreateArray();
	cJSON		*cur = cJSON_CreateArray(), *it;
	const char	*bad;
	char		*now;
	struct buf	 b;
	int		 aud = sim_audience_find(claim(o, "audience"));
	enum sim_verdict v;

	if (!keys_known(o, keys, &bad) || aud < 0 ||
	    role_items(cJSON_GetObjectItemCaseSensitive(o, "grant"),
	    grant) == -1 ||
	    role_items(cJSON_GetObjectItemCaseSensitive(o, "withhold"),
	    drop) == -1) {
		v = ctl_answer(r, 400, ctl_error("want {\"audience\": "
		    "\"defender\"|\"graph\"|\"mde\", \"grant\": roles, "
		    "\"withhold\": roles} (roles: \"A,B\" or [\"A\",\"B\"])"));
		goto out;
	}
	now = sim_roles(sim, aud);
	it = cJSON_CreateString(now);
	free(now);
	role_items(it, cur);
	cJSON_Delete(it);
	cJSON_ArrayForEach(it, grant)
		if (!in_items(cur, it->valuestring))
			cJSON_AddItemToArray(cur,
			    cJSON_CreateString(it->valuestring));
	buf_init(&b, 64 * 1024);
	cJSON_ArrayForEach(it, cur)
		if (!in_items(drop, it->valuestring))
			buf_printf(&b, "%s%s", b.len ? "," : "",
			    it->valuestring);
	sim_set_roles(sim, aud, b.data ? b.data : "");
	buf_free(&b);
	v = ctl_answer(r, 200, ok_json());
out:
	cJSON_Delete(grant);
	cJSON_Delete(drop);
	cJSON_Delete(cur);
	return (v);
}

/*
 * POST /_sim/revoke [{"audience": a}]: every token issued so far (of that
 * audience only, when one is named) is refused from now on.
 */
static enum sim_verdict
ctl_revoke(struct sim *sim, struct sim_req *r, const cJSON *o)
{
	int	 aud = -1;

	if (cJSON_HasObjectItem(o, "audience") &&
	    (aud = sim_audience_find(claim(o, "audience"))) < 0)
		return (ctl_answer(r, 400, ctl_error("audience must be "
		    "defender, graph or mde")));
	sim_revoke(sim, aud);
	return (ctl_answer(r, 200, ok_json()));
}

static enum sim_verdict
handle_control(struct fake *s, struct sim *sim, struct sim_req *r)
{
	const char	*name = sim_req_path(r) + 6;	/* after "/_sim/" */
	const char	*method = sim_req_method(r), *body;
	size_t		 len;
	cJSON		*o;
	enum sim_verdict v;

	if (strcmp(name, "stats") == 0) {
		if (strcmp(method, "GET") != 0)
			return (ctl_answer(r, 405, ctl_error("use GET")));
		return (ctl_answer(r, 200, print_json(stats_obj(s, sim))));
	}
	if (strncmp(name, "stats/", 6) == 0) {
		if (strcmp(method, "GET") != 0)
			return (ctl_answer(r, 405, ctl_error("use GET")));
		return (stats_field(r, s, sim, name + 6));
	}
	if (strcmp(name, "quota") == 0) {
		if (strcmp(method, "GET") != 0)
			return (ctl_answer(r, 405, ctl_error("use GET")));
		return (ctl_answer(r, 200, sim_quota_stats(sim)));
	}
	if (strcmp(name, "reset") != 0 && strcmp(name, "revoke") != 0 &&
	    strcmp(name, "config") != 0 && strcmp(name, "fault") != 0 &&
	    strcmp(name, "roles") != 0)
		return (ctl_answer(r, 404, ctl_error("no such control "
		    "endpoint")));
	if (strcmp(method, "POST") != 0)
		return (ctl_answer(r, 405, ctl_error("use POST")));
	if (strcmp(name, "reset") == 0) {
		fake_reset(s, sim);
		return (ctl_answer(r, 200, ok_json()));
	}
	body = sim_req_body(r, &len);
	/* a revoke without a body revokes everything, as it always did */
	if (len == 0 && strcmp(name, "revoke") == 0)
		o = cJSON_CreateObject();
	else
		o = cJSON_ParseWithLength(body, len);
	if (!cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return (ctl_answer(r, 400, ctl_error("body must be a JSON "
		    "object (at most 1 MiB)")));
	}
	if (strcmp(name, "config") == 0)
		v = ctl_config(s, sim, r, o);
	else if (strcmp(name, "roles") == 0)
		v = ctl_roles(sim, r, o);
	else if (strcmp(name, "revoke") == 0)
		v = ctl_revoke(sim, r, o);
	else
		v = ctl_fault(s, r, o);
	cJSON_Delete(o);
	return (v);
}

/* ---- the hooks ---- */

static enum sim_verdict
hook_request(void *arg, struct sim *sim, struct sim_req *r)
{
	struct fake	*s = arg;

	switch (sim_req_kind(r)) {
	case SIM_REQ_TOKEN:
		return (hook_token(s, r));
	case SIM_REQ_API:
		return (hook_api(s, r));
	case SIM_REQ_MI:
		record_token(s, r);	/* counted as a token request */
		return (SIM_PASS);
	default:
		if (strncmp(sim_req_path(r), "/_sim/", 6) == 0)
			return (handle_control(s, sim, r));
		return (SIM_PASS);
	}
}

static void
hook_connection(void *arg)
{
	struct fake	*s = arg;

	pthread_mutex_lock(&s->mtx);
	s->connections++;
	pthread_mutex_unlock(&s->mtx);
}

struct fake *
fake_new(const char *client_id, const char *secret, int verbose)
{
	struct fake	*s = xcalloc(1, sizeof(*s));

	pthread_mutex_init(&s->mtx, NULL);
	s->client = xstrdup(client_id);
	s->secret = xstrdup(secret);
	s->verbose = verbose;
	rng_seed(s);
	return (s);
}

void
fake_hooks(struct fake *s, struct sim_hooks *h)
{
	memset(h, 0, sizeof(*h));
	h->arg = s;
	h->request = hook_request;
	h->connection = hook_connection;
}

void
fake_free(struct fake *s)
{
	if (s == NULL)
		return;
	free_faults(s);
	cJSON_Delete(s->last_req);
	cJSON_Delete(s->last_tok);
	free(s->client);
	util_free_secret(s->secret);
	pthread_mutex_destroy(&s->mtx);
	free(s);
}

/*
 * sim_defender.c: the Defender XDR API's handlers: incidents (list, get,
 * PATCH against the store in sim_data.c) and advanced hunting, whose body
 * rules (Query required, a coarse KQL syntax check, Graph's Timespan) and
 * row generator the MDE and Graph hunting endpoints share, so that one
 * query gives the same rows from all three.
 *
 * Threads: any MHD thread. Ownership: bodies and generators go into the
 * caller's struct answer.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sim_int.h"
#include "util.h"

#define HUNT_MEM_ROWS	2000		/* more rows: chunked stream */
#define HUNT_MAX_ROWS	100000

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
void
sim_defender_hunting(struct sim *s, struct sim_req *r, const cJSON *claims,
    struct answer *a)
{
	enum sim_hunt_shape shape = r->graph ? SIM_HUNT_GRAPH :
			    SIM_HUNT_DEFENDER;
	cJSON		*b, *q, *ts;
	struct sim_hunt	*h;
	struct buf	 out;
	char		 chunk[16384], msg[256];
	long		 rows, n;

	if (r->too_big) {
		sim_answer_error(r, a, 413, "BadRequest", "Request body is too large");
		return;
	}
	b = cJSON_ParseWithLength(r->body.data ? r->body.data : "",
	    r->body.len);
	/* Graph's JSON member names are case-insensitive */
	q = r->graph ? cJSON_GetObjectItem(b, "Query") :
	    cJSON_GetObjectItemCaseSensitive(b, "Query");
	ts = r->graph ? cJSON_GetObjectItem(b, "Timespan") : NULL;
	if (!cJSON_IsObject(b) || !cJSON_IsString(q) ||
	    *q->valuestring == '\0') {
		cJSON_Delete(b);
		sim_answer_error(r, a, 400, "BadRequest", b == NULL ?
		    "Invalid request body" : "Parameter Query is missing");
		return;
	}
	if (ts != NULL && !cJSON_IsNull(ts) && (!cJSON_IsString(ts) ||
	    !timespan_ok(ts->valuestring))) {
		cJSON_Delete(b);
		sim_answer_error(r, a, 400, "BadRequest", "The value of Timespan is "
		    "not a valid ISO 8601 duration or interval");
		return;
	}
	if (kql_check(q->valuestring, msg, sizeof(msg)) == -1) {
		cJSON_Delete(b);
		sim_answer_error(r, a, 400, "BadRequest", msg);
		return;
	}
	rows = kql_rows(q->valuestring);
	cJSON_Delete(b);
	if ((h = sim_hunt_new(rows, s->t0, shape)) == NULL) {
		sim_answer_error(r, a, 500, "InternalServerError", "");
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
		sim_answer_error(r, a, 500, "InternalServerError", "");
		return;
	}
	a->body = buf_take(&out, NULL);
}

/* GET|PATCH /api/incidents[/{id}] */
void
sim_defender_incidents(struct sim *s, struct sim_req *r, const cJSON *claims,
    struct answer *a)
{
	const struct route *rt = r->route;
	const char	*id = r->id;
	const char	*msg, *who;
	cJSON		*patch;
	long long	 n = 0;
	long		 top, skip;
	char		 text[256], author[160], *out;
	int		 rc;

	if (id != NULL && util_parse_ll(id, 0, LLONG_MAX, &n) == -1) {
		snprintf(text, sizeof(text), "Incident %.100s was not found",
		    id);
		sim_answer_error(r, a, 404, "ResourceNotFound", text);
		return;
	}
	if (rt->h == H_INC_LIST) {
		if (sim_paging(r, a, &top, &skip) == 0) {
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
		sim_answer_error(r, a, 404, "ResourceNotFound", text);
		return;
	}
	if (r->too_big) {
		sim_answer_error(r, a, 413, "BadRequest", "Request body is too large");
		return;
	}
	patch = cJSON_ParseWithLength(r->body.data ? r->body.data : "",
	    r->body.len);
	if (patch == NULL) {
		sim_answer_error(r, a, 400, "InvalidRequestBody",
		    "Invalid request body");
		return;
	}
	if ((who = sim_claim(claims, "appid")) == NULL &&
	    (who = sim_claim(claims, "azp")) == NULL)
		who = s->client;
	snprintf(author, sizeof(author), "API-App:%s", who);
	rc = sim_store_patch(s->store, n, patch, author, &out, &msg);
	cJSON_Delete(patch);
	if (rc == -2) {
		snprintf(text, sizeof(text), "Invalid request body: %s", msg);
		sim_answer_error(r, a, 400, "InvalidRequestBody", text);
	} else if (rc == -1) {
		snprintf(text, sizeof(text), "Incident %lld was not found", n);
		sim_answer_error(r, a, 404, "ResourceNotFound", text);
	} else {
		a->status = 200;
		a->body = out;
	}
}

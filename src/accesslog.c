/*
 * accesslog.c: a finished request's JSON access log line (see
 * accesslog.h).
 *
 * The line is built with cJSON, so every value is escaped, and written
 * with one write(2) (log_line): lines from several threads never mix.
 * Values that come from the client (the query text) pass through
 * redact.c first; headers are never read.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "accesslog.h"
#include "config.h"
#include "job.h"
#include "log.h"
#include "proxy.h"
#include "redact.h"
#include "router.h"
#include "routes.h"
#include "steward.h"
#include "util.h"

/* RFC 3339, UTC, milliseconds. */
static void
now_rfc3339(char *out, size_t n)
{
	struct timespec	 ts;
	struct tm	 tm;
	size_t		 k;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	k = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + k, n - k, ".%03ldZ", ts.tv_nsec / 1000000L);
}

static void
client_addr(struct MHD_Connection *c, char *out, size_t n)
{
	const union MHD_ConnectionInfo	*ci;
	const struct sockaddr		*sa;

	out[0] = '\0';
	if (c == NULL || (ci = MHD_get_connection_info(c,
	    MHD_CONNECTION_INFO_CLIENT_ADDRESS)) == NULL ||
	    (sa = ci->client_addr) == NULL)
		return;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)
		    sa)->sin_addr, out, (socklen_t)n);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)
		    (const void *)sa)->sin6_addr, out, (socklen_t)n);
}

/*
 * The query text of the request, redacted and cut, into out; 0 when it
 * has none. A /hunting body (its "Query") is the job's once the job is
 * done (the back thread may rewrite it before), else the request's own
 * when it never moved into a job; other rows give their raw query string
 * (GET /hunting?query=...).
 */
static size_t
query_text(const struct gw_request *r, const char *body, size_t bodylen,
    char *out, size_t n)
{
	const struct route	*rt = r->m.route;
	size_t			 len = 0;

	if (rt == NULL)
		return (0);
	if (rt->body == RB_HUNT) {
		cJSON		*o;
		const cJSON	*q;

		if (body == NULL && r->body.len > 0) {
			body = r->body.data;
			bodylen = r->body.len;
		}
		if (body == NULL || bodylen == 0)
			return (0);
		o = cJSON_ParseWithLength(body, bodylen);
		q = cJSON_GetObjectItemCaseSensitive(o, "Query");
		if (cJSON_IsString(q))
			len = redact_copy(out, n, q->valuestring,
			    strlen(q->valuestring), NULL, 0);
		cJSON_Delete(o);
	} else if (r->m.query != NULL && r->m.querylen > 0)
		len = redact_copy(out, n, r->m.query, r->m.querylen, NULL, 0);
	return (len);
}

static void
write_line(struct MHD_Connection *c, const struct gw_request *r,
    long upstream_status, long long upstream_bytes, const char *body,
    size_t bodylen)
{
	const struct route	*rt = r->m.route;
	cJSON			*o;
	char			 when[40], addr[INET6_ADDRSTRLEN];
	char			 q[ACCESSLOG_MAX_QUERY + 1];
	char			*line;
	size_t			 qlen = 0;

	if ((o = cJSON_CreateObject()) == NULL)
		return;
	now_rfc3339(when, sizeof(when));
	client_addr(c, addr, sizeof(addr));
	cJSON_AddStringToObject(o, "time", when);
	cJSON_AddStringToObject(o, "type", "access");
	cJSON_AddStringToObject(o, "request_id", r->reqid);
	if (rt != NULL) {
		cJSON_AddStringToObject(o, "method", rt->method);
		cJSON_AddStringToObject(o, "pattern", rt->path);
	} else {
		/* the method is not kept for a path no row matched */
		cJSON_AddNullToObject(o, "method");
		cJSON_AddNullToObject(o, "pattern");
	}
	cJSON_AddStringToObject(o, "route", router_name(r->m.id));
	cJSON_AddNumberToObject(o, "status", (double)r->status);
	cJSON_AddStringToObject(o, "cache", steward_cache_name(r->cache));
	cJSON_AddNumberToObject(o, "latency_ms", (double)(util_mono_ms() -
	    r->start_ms));
	if (upstream_status > 0)
		cJSON_AddNumberToObject(o, "upstream_status",
		    (double)upstream_status);
	else
		cJSON_AddNullToObject(o, "upstream_status");
	if (upstream_bytes >= 0)
		cJSON_AddNumberToObject(o, "upstream_bytes",
		    (double)upstream_bytes);
	else
		cJSON_AddNullToObject(o, "upstream_bytes");
	if (addr[0])
		cJSON_AddStringToObject(o, "client", addr);
	else
		cJSON_AddNullToObject(o, "client");
	if (r->cf->log_queries && (qlen = query_text(r, body, bodylen, q,
	    sizeof(q))) > 0)
		cJSON_AddStringToObject(o, "query", q);
	line = cJSON_PrintUnformatted(o);
	if (line != NULL && strlen(line) >= LOG_LINE_MAX && qlen > 0) {
		/* escaping made it too long: the line without the query */
		free(line);
		cJSON_DeleteItemFromObjectCaseSensitive(o, "query");
		cJSON_AddTrueToObject(o, "query_truncated");
		line = cJSON_PrintUnformatted(o);
	}
	if (line != NULL && strlen(line) < LOG_LINE_MAX)
		log_line(line, strlen(line));
	free(line);
	cJSON_Delete(o);
}

void
accesslog_request(struct MHD_Connection *c, const struct gw_request *r)
{
	struct job	*j = r->job;
	long		 ust = 0;
	long long	 ubytes = -1;
	const char	*body = NULL;
	size_t		 bodylen = 0;

	if (r->status == 0 || r->cf == NULL || !r->cf->log_json)
		return;	/* never answered, or no JSON log */
	/*
	 * Only the JSON line needs the upstream side, and the job's lock is
	 * the one the back thread takes for every chunk: a text log (the
	 * default) must not contend on it once per request.
	 */
	if (j != NULL) {
		pthread_mutex_lock(&j->mu);
		ust = j->headers_ready ? j->status : 0;
		ubytes = (long long)j->total;
		/* done: the back thread no longer touches the body */
		if (j->done) {
			body = j->body;
			bodylen = j->bodylen;
		}
		pthread_mutex_unlock(&j->mu);
	}
	write_line(c, r, ust, ubytes, body, bodylen);
}

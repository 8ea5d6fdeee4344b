/*
 * accesslog.c: the access log. With log_format = json, a finished request
 * writes one line: a JSON object
 * {"time","type":"access","request_id","method","route","pattern",
 * "status","cache","latency_ms","upstream_status","upstream_bytes",
 * "client"} to the log's destination (log_line). The raw path, the query
 * string, the hunting query and headers are never in it; with
 * log_queries = true a "query" member holds the query string or the KQL
 * of /hunting (when it went upstream or was refused as malformed: a body
 * answered locally is already gone), redacted (redact.h) and cut at
 * ACCESSLOG_MAX_QUERY bytes. A line is at most LOG_LINE_MAX bytes; a
 * query that would make it longer is left out ("query_truncated": true).
 * With log_format = text nothing is written (defgate has never logged
 * each request in text). The status page's counts are not kept here
 * (httpd.c's completion callback calls status.c itself).
 * Threads: the front thread (MHD's completion callback), before the
 * request's job is dropped. Reads the request and its configuration; only
 * for a JSON line does it also read the job (its upstream status and
 * size) under the job's lock.
 */
#ifndef DEFGATE_ACCESSLOG_H
#define DEFGATE_ACCESSLOG_H

#include <microhttpd.h>

#define ACCESSLOG_MAX_QUERY	2048

struct gw_request;

void	 accesslog_request(struct MHD_Connection *, const struct gw_request *);

#endif

/*
 * telemetry.c: what GET /metrics shows, in the Prometheus
 * text format (metrics.h):
 *   defgate_requests_total{route,status,cache}	requests answered
 *   defgate_request_duration_seconds		latency histogram
 *   defgate_upstream_calls_total{backend,status}	API calls (status 0: no
 *						answer)
 *   defgate_token_requests_total{backend,audience}, ..._failures_total
 *   defgate_quota_remaining{group,window}, defgate_quota_calls{group,
 *	window}, defgate_quota_denied_total{group},
 *	defgate_quota_throttled_total{group}, defgate_quota_closed_seconds
 *   defgate_cache_entries, _bytes, _max_bytes, defgate_cache_hits_total,
 *	_misses_total, _stale_total, _evictions_total
 *   defgate_requests_in_flight
 *   defgate_upstream_queued			requests waiting for a
 *						free upstream connection
 *
 * Counters are C11 atomics, bumped by the front threads (requests) and the
 * back thread (upstream calls); any thread may render. The token counts
 * come from the token sources' views (tokensrc_view), the quota and cache
 * numbers from steward.h: nothing is pushed here twice.
 * telemetry_set_sources: main thread, before the front starts.
 */
#ifndef DEFGATE_TELEMETRY_H
#define DEFGATE_TELEMETRY_H

#include <stddef.h>

#include "backend.h"

struct gw_config;
struct tokensrc;

/* Main thread: the token sources to count (valid until shutdown). */
void	 telemetry_set_sources(struct tokensrc *const src[BACKEND__COUNT]);
/* Front: a request of route row id (-1: none) answered status with the
 * cache result (enum steward_cache) after ms milliseconds. */
void	 telemetry_request(int id, unsigned status, int cache, long long ms);
/* Back: one upstream API exchange ended with status (0: no answer). */
void	 telemetry_upstream(enum backend_id, long status);
/* Back: how many requests wait in upstream.c's FIFOs now. */
void	 telemetry_upstream_queued(long n);
/* The exposition; malloc'd, caller frees; NULL when it does not fit. */
char	*telemetry_render(const struct gw_config *, size_t *len);

#endif

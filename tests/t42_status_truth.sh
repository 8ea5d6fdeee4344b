#!/bin/bash
# t42_status_truth: what /status.json claims is what a caller gets:
# the last 403 has a time and a route and goes once that route works
# again; 4xx answers are counted and errors say what they are; the page's own
# traffic is counted apart from API traffic; the latency percentiles say they
# are bucket bounds; after a token failure the claims are marked stale and
# every route of that source is shown unusable; the quota card's counts are
# what was done (upstream calls made, cache hits, local 429s) and what
# /metrics says.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

sj() { printf '%s' "$S" | jq -r "$1"; }
status_json() { S=$(curl -sS "$GW/status.json"); }

start_fake
fake_ctl config '{"token_lifetime":6}' >/dev/null
start_defgate
wait_ready || bail "defgate did not become ready: $(cat "$GW_LOG")"

# ---- the last 403: when, where, and gone once that route works
req GET /incidents
is "$CODE" 200 "GET /incidents works"
status_json
is "$(sj .upstream.answers_4xx)" 0 "no 4xx answer counted yet"
t0=$(date +%s)
fake_fault '{"target":"api","kind":"status","status":403,"path":"/api/incidents"}'
req GET /incidents
is "$CODE" 403 "the API's 403 reaches the client"
status_json
like "$(sj .upstream.last_forbidden)" "Missing application roles" "last_forbidden: the API's text"
at=$(sj .upstream.last_forbidden_at)
[ "$at" -ge "$t0" ] 2>/dev/null && [ "$at" -le $(($(date +%s) + 1)) ]
ok $? "last_forbidden_at is the time of the 403 ($at, test started $t0)"
is "$(sj .upstream.last_forbidden_route)" incidents "last_forbidden_route names the route"
is "$(sj .upstream.answers_4xx)" 1 "the 403 is counted as a 4xx answer"
is "$(sj .upstream.errors)" 0 "a 403 is not an upstream error (no answer or 5xx)..."
like "$(sj .upstream.errors_are)" "5xx" "... and status.json says what errors are"
req GET /api/alerts
is "$CODE" 200 "another route works"
status_json
like "$(sj .upstream.last_forbidden)" "Missing application roles" \
    "... which does not clear the 403 of /incidents"
req GET /incidents
is "$CODE" 200 "/incidents works again"
status_json
is "$(sj .upstream.last_forbidden)" null "its last 403 is cleared"
is "$(sj .upstream.last_forbidden_at)" null "... with its time"

# ---- latency percentiles are labelled
is "$(sj .upstream.latency_ms.percentiles_are)" "bucket upper bounds" \
    "latency percentiles are labelled as histogram bucket bounds"
lt=$(sj .token.lifetime) ei=$(sj .token.expires_in)
is "$lt" 6 "token.lifetime is exp - iat (6 s), not the time left"

# ---- the page's own traffic is counted apart
status_json
api=$(sj .requests.total)
for p in / /status /status.css /status.js /healthz /readyz /status.json; do
	curl -s -o /dev/null "$GW$p"
done
status_json
is "$(sj .requests.total)" "$api" "the page, its assets and probes do not add to requests.total"
is "$(sj '.requests.by_route | keys | map(select(test("^(status|assets|healthz|readyz)"))) | length')" 0 \
    "requests.by_route lists API routes only"
is "$(sj '.own_requests.by_route.assets["200"]')" 2 "own_requests counts the assets"
is "$(sj '.own_requests.by_route.status["200"]')" 2 "own_requests counts the page"
[ "$(sj '.own_requests.by_route["status.json"]["200"]')" -ge 3 ] 2>/dev/null
ok $? "own_requests counts /status.json"
is "$(sj '.own_requests.by_route.healthz["200"]')" 1 "own_requests counts /healthz"
[ "$(sj '.requests.by_route.incidents["200"]')" -ge 2 ] 2>/dev/null
ok $? "API traffic still counted by route"

# ---- token failure: stale claims, routes unusable
fake_fault '{"target":"token","kind":"status","status":503,"count":-1}'
i=0
while status_json; [ "$(sj .token.stale)" != true ]; do
	i=$((i + 1)); [ "$i" -gt 150 ] && break
	sleep 0.1
done
is "$(sj .token.stale)" true "token failure and expiry: the claims are marked stale"
is "$(sj '.token.roles|length > 0')" true "... the last good token's roles still shown for diagnosis"
is "$(sj '[.routes[] | select(.backend == "defender") | .allowed] | any')" false \
    "... and no Defender route is shown allowed"
req GET /incidents
is "$CODE" 503 "... which is what a caller gets (503)"
stop_defgate

# ---- the quota card: 3 upstream calls and 5 cache hits are 3 and 5
kill "$FAKE_PID" 2>/dev/null; wait "$FAKE_PID" 2>/dev/null
start_fake
start_defgate --set cache=on --set quota_incidents=50/min,1500/h \
    --set quota_mde=1/min
wait_ready || bail "defgate (cache, quotas) not ready: $(cat "$GW_LOG")"
g() { sj ".quota.groups[] | select(.name == \"$1\") | $2"; }
M=""
metric() { printf '%s\n' "$M" | awk -v s="$1" '$1 == s { print $2 }'; }
c0=$(fake_stat .api_requests)
req GET /incidents
is "$CODE" 200 "GET /incidents: a miss, one upstream call"
for i in 1 2 3 4 5; do
	req GET /incidents
	[ "$(hdr X-Cache)" = HIT ] || diag "request $i: X-Cache $(hdr X-Cache)"
done
is "$(hdr X-Cache)" HIT "... then 5 answers from the cache"
req GET '/incidents?%24top=1'
req GET '/incidents?%24top=2'
is "$CODE" 200 "two other queries: two more upstream calls"
is "$(( $(fake_stat .api_requests) - c0 ))" 3 "the fake saw 3 calls"
status_json
is "$(g incidents .calls_minute)" 3 "card: 3 incidents calls in the last minute"
is "$(g incidents .calls_hour)" 3 "card: 3 in the last hour"
is "$(g incidents .limit_minute)" 50 "card: against the limit of 50/min"
is "$(g incidents .limit_hour)" 1500 "card: and 1500/h"
is "$(g incidents .answered.hit)" 5 "card: 5 cache hits"
is "$(g incidents .answered.miss)" 3 "card: 3 misses"
is "$(g incidents .avoided)" 5 "card: 5 upstream calls avoided"
is "$(g incidents .closed)" false "card: the group is open"
is "$(sj .quota.cache.on)" true "card: the cache is on"
is "$(sj .quota.cache.hit_ratio)" 0.625 "card: hit ratio 5 / 8"
[ "$(sj .quota.cache.entries)" -eq 3 ] && [ "$(sj .quota.cache.bytes)" -gt 0 ]
ok $? "card: 3 entries, $(sj .quota.cache.bytes) bytes"
is "$(g hunting .calls_minute)" 0 "card: no hunting call"
is "$(g graph .limit_minute)" null "card: graph's limit off shown as none"
is "$(g graph .remaining_minute)" null "... and nothing counted down"
# a local 429: MDE allows one call a minute
req GET '/api/alerts?%24top=1'
is "$CODE" 200 "MDE: the one call of the minute"
req GET '/api/alerts?%24top=2'
is "$CODE" 429 "MDE: the next one is a local 429"
status_json
is "$(g mde .calls_minute)" 1 "card: 1 MDE call"
is "$(g mde .answered.local_429)" 1 "card: 1 local 429"
is "$(g mde .avoided)" 1 "card: ... an upstream call avoided"
is "$(g mde .remaining_minute)" 0 "card: no MDE call left this minute"
M=$(curl -sS "$GW/metrics")
is "$(metric 'defgate_quota_calls{group="incidents",window="minute"}')" \
    "$(g incidents .calls_minute)" "/metrics agrees: incidents calls this minute"
is "$(metric 'defgate_quota_calls{group="mde",window="hour"}')" \
    "$(g mde .calls_hour)" "/metrics agrees: MDE calls this hour"
is "$(metric 'defgate_requests_total{route="incidents",status="200",cache="hit"}')" \
    "$(g incidents .answered.hit)" "/metrics agrees: the hits"
is "$(metric defgate_cache_hits_total)" "$(sj .quota.cache.hits)" \
    "/metrics agrees: the cache's hits"
is "$(metric defgate_cache_entries)" "$(sj .quota.cache.entries)" \
    "/metrics agrees: the cache's entries"
is "$(metric 'defgate_quota_denied_total{group="mde"}')" \
    "$(g mde .answered.local_429)" "/metrics agrees: MDE calls refused"
is "$(metric 'defgate_quota_remaining{group="mde",window="minute"}')" \
    "$(g mde .remaining_minute)" "/metrics agrees: MDE calls left"
stop_defgate

# ---- the card with the cache off and no limits
start_defgate
wait_ready || bail "defgate (defaults of the tests) not ready: $(cat "$GW_LOG")"
req GET /incidents
req GET /incidents
status_json
is "$(sj .quota.cache.on)" false "cache off: the card says so"
is "$(g incidents .calls_minute)" 2 "cache off: 2 calls counted"
is "$(g incidents .answered.uncached)" 2 "cache off: answered without the cache"
is "$(g incidents .limited)" false "quotas off: the group is not limited"
is "$(g incidents .limit_minute)" null "quotas off: no limit"
done_testing

#!/bin/bash
# t42_status_truth: what /status.json claims is what a caller gets:
# the last 403 has a time and a route and goes once that route works
# again; 4xx answers are counted and errors say what they are; the page's own
# traffic is counted apart from API traffic; the latency percentiles say they
# are bucket bounds; after a token failure the claims are marked stale and
# every route of that source is shown unusable.
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
done_testing

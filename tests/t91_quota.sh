#!/bin/bash
# t91_quota: local rate limits per quota group. An empty
# bucket is a 429 in the local error shape with Retry-After from the bucket
# and no upstream call; an upstream 429 closes the group until its
# Retry-After, with no upstream call before it. Limits are set small; the
# cache stays off (tests/lib.sh) so every admitted request reaches the fake.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

calls() { fake_stat .api_requests; }
M=""
metric() { printf '%s\n' "$M" | awk -v s="$1" '$1 == s { print $2 }'; }

start_fake
# incidents: 3 a minute; MDE: 12 a minute with a burst of 1 (one per 5 s)
start_defgate --set quota_incidents=3/min --set quota_mde=12/min:1 \
    --set quota_hunting=2/min
wait_ready || bail "defgate did not become ready: $(cat "$GW_LOG")"

# ---- the minute window: 3 calls, then a local 429 ----
c0=$(calls)
t0=$(date +%s)
for i in 1 2 3; do
	req GET /incidents
	is "$CODE" 200 "GET /incidents #$i within 3/min: 200"
	[ "$i" = 1 ] && t1=$(date +%s)
done
is "$(( $(calls) - c0 ))" 3 "three upstream calls"
req GET /incidents
is "$CODE" 429 "the 4th within the minute: 429"
is "$(json .error.code)" TooManyRequests "local error shape: code TooManyRequests"
like "$(json .error.message)" "rate limit for the incidents quota group (3/min," \
    "the message names the group and its limit"
is "$(json .error.target)" "$(hdr client-request-id)" \
    "error.target is the request id"
ra=$(hdr Retry-After)
now=$(date +%s)
# the first call, made between t0 and t1, leaves the window 60-62 s after
# it (whole-second slots, counted high); a loaded machine takes seconds
# for the four requests
[ $(( ${ra:-0} + now - t0 )) -ge 58 ] && [ $(( ${ra:-0} + now - t1 )) -le 64 ]
ok $? "Retry-After from the window: when the first call leaves it ($ra s; requests took $((now - t0)) s)"
is "$(hdr Content-Type)" "application/json; charset=utf-8" "JSON error"
is "$(( $(calls) - c0 ))" 3 "no upstream call for the refused request"
req GET "/incidents/1"
is "$CODE" 429 "GET /incidents/{id} shares the incidents group"
req GET /api/alerts
is "$CODE" 200 "another group (MDE) is not affected"

# ---- the bucket: one call per 5 s, Retry-After computed from it ----
sleep 5.1	# the MDE bucket refills after the call above
c0=$(calls)
req GET /api/alerts
is "$CODE" 200 "MDE: a call with a token in the bucket"
req GET /api/machines
is "$CODE" 429 "MDE: at once again: the bucket (burst 1) is empty"
ra=$(hdr Retry-After)
[ "${ra:-0}" -ge 3 ] && [ "${ra:-0}" -le 5 ]
ok $? "Retry-After from the bucket: up to 5 s (12/min) ($ra)"
is "$(( $(calls) - c0 ))" 1 "no upstream call for it"
sleep "$ra.05"
req GET /api/machines
is "$CODE" 200 "after Retry-After: admitted"

# ---- hunting has its own group ----
q='{"Query":"DeviceInfo | take 1"}'
for i in 1 2; do
	req POST /hunting -H 'Content-Type: application/json' --data "$q"
	is "$CODE" 200 "POST /hunting #$i within 2/min"
done
c0=$(calls)
req POST /hunting -H 'Content-Type: application/json' --data "$q"
is "$CODE" 429 "the 3rd hunting query: 429"
like "$(json .error.message)" "hunting quota group" "... the hunting group"
is "$(( $(calls) - c0 ))" 0 "no upstream call"

# ---- an upstream 429 closes the group until its Retry-After ----
stop_defgate
start_defgate --set quota_incidents=50/min
wait_ready || bail "defgate did not become ready: $(cat "$GW_LOG")"
fake_fault '{"target":"api","kind":"status","status":429,"retry_after":3,"path":"/api/incidents"}'
c0=$(calls)
t0=$(date +%s%N)
req GET /incidents
is "$CODE" 429 "the API's 429 is passed on"
is "$(hdr Retry-After)" 3 "... with its Retry-After"
like "$BODY" 'quota exceeded' "... and its own body"
req GET /incidents
is "$CODE" 429 "meanwhile: 429 from defgate"
like "$(json .error.message)" "the API answered 429" "... saying why"
ra=$(hdr Retry-After)
[ "${ra:-0}" -ge 1 ] && [ "${ra:-0}" -le 3 ]
ok $? "... Retry-After: what is left of the API's ($ra)"
is "$(( $(calls) - c0 ))" 1 "no upstream call while the group is closed"
req GET /api/alerts
is "$CODE" 200 "other groups stay open"
# poll until admitted: no upstream call happens before the Retry-After
while :; do
	req GET /incidents
	[ "$CODE" != 429 ] && break
	[ $(( ($(date +%s%N) - t0) / 1000000 )) -gt 6000 ] && break
	sleep 0.2
done
t1=$(date +%s%N)
is "$CODE" 200 "open again after the Retry-After"
[ $(( (t1 - t0) / 1000000 )) -ge 2900 ]
ok $? "not before 3 s ($(( (t1 - t0) / 1000000 )) ms)"
is "$(( $(calls) - c0 ))" 3 "upstream calls: the 429, MDE's, the one after"

M=$(curl -sS "$GW/metrics")
is "$(metric 'defgate_quota_throttled_total{group="incidents"}')" 1 \
    "metrics: the upstream 429 counted"
d=$(metric 'defgate_quota_denied_total{group="incidents"}')
[ "${d:-0}" -ge 1 ]; ok $? "metrics: local refusals counted ($d)"
is "$(metric 'defgate_upstream_calls_total{backend="defender",status="429"}')" 1 \
    "metrics: upstream calls by status include the 429"
is "$(grep -c 'answered 429: no incidents call goes upstream' "$GW_LOG")" 1 \
    "one log line for the upstream 429"

done_testing

#!/bin/bash
# t85_retirement: /hunting around 2027-02-01T00:00:00Z, with defgate's wall
# clock moved by a test-only LD_PRELOAD shim (tests/timeshift.so, set from
# this script; the installed daemon has no such knob and no HTTP request
# can move its clock). After the retirement, auto never uses the Defender
# endpoint and an explicit defender answers 410 naming the fix; before it,
# the Defender endpoint serves with the days left shown.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

SHIM=${SHIM:-$top_builddir/tests/timeshift.so}
RETIRE=1801440000	# 2027-02-01T00:00:00Z
WRAP0=$DEFGATE_WRAPPER
HQ='{"Query":"DeviceInfo | take 2"}'
at_time() {	# at_time UNIX [start_defgate args]: defgate living at UNIX
	_at=$1
	shift
	DEFGATE_WRAPPER="env LD_PRELOAD=$SHIM DEFGATE_TEST_TIME_AT=$_at ASAN_OPTIONS=${ASAN_OPTIONS:-}:verify_asan_link_order=0 $WRAP0"
	start_defgate "$@"
	DEFGATE_WRAPPER=$WRAP0
	wait_ready || bail "defgate not ready: $(cat "$GW_LOG")"
}
sj() { curl -sS "$GW/status.json" | jq -r "$1"; }
api_count() { fake_stat .api_requests; }

[ -f "$SHIM" ] || bail "no $SHIM"
start_fake

# ---- one minute after the retirement, auto, the Graph role withheld ----
fake_ctl roles '{"audience":"graph","withhold":["ThreatHunting.Read.All"]}' >/dev/null
at_time $((RETIRE + 60))
now=$(sj .now)
[ "$now" -ge "$RETIRE" ] && [ "$now" -lt $((RETIRE + 600)) ]
ok $? "defgate's clock is after the retirement ($now)"
[ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" "$FAKE_URL/_sim/stats")" = 200 ]
ok $? "the simulator (and TLS to it) kept the real time"
req POST /hunting -H 'Content-Type: application/json' --data "$HQ"
is "$CODE:$(json .error.code)" 403:Forbidden "auto, no role, after: Graph's 403, never the Defender endpoint"
like "$(json .error.message)" "ThreatHunting.Read.All" "... naming the role"
is "$(fake_stat .last_request.path)" /v1.0/security/runHuntingQuery "... the request went to Graph"
is "$(fake_stat '.api_requests_by_audience.defender // 0')" 0 "... and nothing to the Defender API"
req POST /api/advancedqueries/run -H 'Content-Type: application/json' --data "$HQ"
is "$(fake_stat .last_request.path)" /v1.0/security/runHuntingQuery "MDE hunting path after: Graph too"
is "$(sj .hunting.backend)" graph "status.json: hunting on graph"
like "$(sj .hunting.why)" "retired" "status.json: why says retired"
is "$(sj .hunting.days_left)" 0 "status.json: 0 days left"
stop_defgate; is "$?" 0 "defgate exits 0"
fake_ctl reset '{}' >/dev/null

# ---- after, auto, with the role: Graph, 200 ----
at_time $((RETIRE + 60))
req POST /hunting -H 'Content-Type: application/json' --data "$HQ"
is "$CODE:$(json '.Results|length')" 200:2 "auto with the role, after: 200 from Graph"
stop_defgate; is "$?" 0 "defgate exits 0"

# ---- after, hunting_backend = defender: 410 naming the fix ----
at_time $((RETIRE + 1)) --set hunting_backend=defender
a0=$(api_count)
for p in /hunting /api/advancedhunting/run /api/advancedqueries/run; do
	req POST "$p" -H 'Content-Type: application/json' --data "$HQ"
	is "$CODE:$(json .error.code)" 410:Gone "defender after the retirement: POST $p 410"
done
like "$(json .error.message)" "ThreatHunting.Read.All on Microsoft Graph" "410 names the permission"
like "$(json .error.message)" "admin consent" "410 names admin consent"
like "$(json .error.message)" "hunting_backend" "410 names the setting"
is "$(json '.error|keys_unsorted|join(",")')" code,message,target "410 in the local error shape"
is "$(api_count)" "$a0" "410: nothing was sent upstream"
req GET /incidents
is "$CODE" 200 "the other routes still work"
is "$(sj .hunting.backend)" none "status.json: nothing serves hunting"
is "$(sj .hunting.warning)" true "status.json: warning up"
stop_defgate; is "$?" 0 "defgate exits 0"

# ---- three days before, hunting_backend = defender: served, warned ----
at_time $((RETIRE - 3 * 86400 + 5)) --set hunting_backend=defender
req POST /hunting -H 'Content-Type: application/json' --data "$HQ"
is "$CODE" 200 "defender three days before: 200"
is "$(fake_stat .last_request.path)" /api/advancedhunting/run "... from the Defender API"
is "$(sj .hunting.days_left)" 3 "status.json: 3 days left"
is "$(sj .hunting.warning)" true "status.json: warning up"
grep -q "in 3 day(s)" "$GW_LOG"; ok $? "the log warns: 3 days left"

done_testing

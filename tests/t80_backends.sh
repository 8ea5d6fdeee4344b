#!/bin/bash
# t80_backends: the three backends against the simulator. Every
# compatibility path byte for byte; the hunting paths through the hunting
# selection (Graph reshaped to exactly the Defender shape for the same rows,
# Timespan passed on, Graph errors in the local error shape); auto
# switching when the Graph role is withheld or granted; a cold start of 300
# clients over three audiences; a 50 MB Graph result streamed within the
# memory bound.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

DEF=https://api.security.microsoft.com
GRAPH=https://graph.microsoft.com
MDE=https://api.securitycenter.microsoft.com
at() {	# at AUDIENCE-URL: a token from the fake, as defgate would get one
	curl -sS --cacert "$CA" "$FAKE_URL/$TENANT/oauth2/v2.0/token" \
	    -d grant_type=client_credentials -d client_id="$CLIENT" \
	    --data-urlencode client_secret="$SECRET" \
	    --data-urlencode scope="$1/.default" | jq -r .access_token
}
# both METHOD PATH TOKEN [curl args]: the same request through defgate
# ($T/gw, code GC) and straight to the fake ($T/up, code UC)
both() {
	_m=$1 _p=$2 _t=$3
	shift 3
	GC=$(curl -sS -X "$_m" -o "$T/gw" -D "$T/gwh" -w '%{http_code}' "$@" "$GW$_p")
	UC=$(curl -sS -X "$_m" -o "$T/up" -D "$T/uph" -w '%{http_code}' --cacert "$CA" \
	    -H "Authorization: Bearer $_t" "$@" "$FAKE_URL$_p")
}
# An API error names its own request-id (a fresh one per request) as the
# target: each side's is replaced by the same marker, nothing else is.
rid() { grep -i '^request-id:' "$1" | head -1 | cut -d: -f2- | tr -d '\r '; }
same() {	# same NAME: defgate's answer is the API's, byte for byte
	is "$GC" "$UC" "$1: same status ($GC)"
	if [ "$GC" -ge 400 ] 2>/dev/null; then
		sed -i "s/$(rid "$T/gwh")/REQUEST-ID/g" "$T/gw"
		sed -i "s/$(rid "$T/uph")/REQUEST-ID/g" "$T/up"
	fi
	cmp -s "$T/gw" "$T/up"; ok $? "$1: same body, byte for byte ($(stat -c %s "$T/gw") bytes)"
}
snap() { STATS=$(fake_ctl stats); }
last() { printf '%s' "$STATS" | jq -r "$1"; }
defender_shape() {	# the Defender shape of a Graph hunting answer (jq)
	jq -c '{Schema: [.schema[] | {Name: .name, Type: .type}], Results: .results}' "$1"
}

start_fake
start_defgate --set allow_write=true
wait_ready || bail "defgate did not become ready: $(cat "$GW_LOG")"
TD=$(at "$DEF") TG=$(at "$GRAPH") TM=$(at "$MDE")
req GET /api/incidents
ID=$(json '.value[0].incidentId')
req GET /api/alerts
ALERT=$(json '.value[0].id')
req GET /api/machines
MACH=$(json '.value[0].id')
req GET /v1.0/security/alerts_v2
GALERT=$(json '.value[0].id')
[ -n "$ID" ] && [ -n "$ALERT" ] && [ -n "$MACH" ] && [ -n "$GALERT" ]
ok $? "ids from the compatibility paths ($ID $ALERT $MACH $GALERT)"

# ---- the route table: router, dispatch, /status.json and --check agree ----
S=$(curl -sS "$GW/status.json")
CHECK=$(AZURE_TENANT_ID=$TENANT AZURE_CLIENT_ID=$CLIENT AZURE_CLIENT_SECRET=$SECRET \
    AZURE_AUTHORITY_HOST=$FAKE_URL DEFGATE_API_URL=$FAKE_URL DEFGATE_GRAPH_URL=$FAKE_URL \
    DEFGATE_MDE_URL=$FAKE_URL DEFGATE_CA_FILE=$CA "$DEFGATE" --check --set allow_write=true 2>&1)
is "$?" 0 "--check: every audience gave a token"
for a in defender graph mde; do
	like "$CHECK" "audience $a:" "--check fetched the $a audience"
done
like "$CHECK" "ThreatHunting.Read.All" "--check prints the Graph roles"
like "$CHECK" "Machine.Read.All" "--check prints the MDE roles"
checkrows=$(printf '%s\n' "$CHECK" | sed -n '/^routes:/,$p' | sed 1d | awk '{print $1, $2, $3}')
rows=$(printf '%s' "$S" | jq -r '.routes[] | "\(.method) \(.path) \(.backend)"')
is "$checkrows" "$rows" "--check lists the same routes, backends and order as /status.json"
nrows=$(printf '%s' "$S" | jq '.routes|length')
[ "$nrows" -ge 18 ]; ok $? "/status.json lists every forwarded row ($nrows)"
printf '%s' "$CHECK" | sed -n '/^routes:/,$p' | grep -vq ' ok$\|^routes:'
is "$?" 1 "--check: every route will work with every role granted"
# one jq for the table: method, path, upstream, hunting per row
while IFS=$'\t' read -r -u 4 m p up hunting; do
	case $p in
	*/incidents/*) id=$ID ;; */alerts/*) id=$ALERT ;; */machines/*) id=$MACH ;;
	*/alerts_v2/*) id=$GALERT ;; *) id= ;;
	esac
	lp=${p/\{id\}/$id} up=${up/\{id\}/$id}
	case $m in
	GET) if [ "$hunting" = yes ]; then
		req GET "$lp?query=DeviceInfo%20%7C%20take%201"
	     else req GET "$lp"; fi ;;
	PATCH) req PATCH "$lp" -H 'Content-Type: application/json' --data '{"status":"Active"}' ;;
	POST) req POST "$lp" -H 'Content-Type: application/json' --data '{"Query":"DeviceInfo | take 1"}' ;;
	esac
	is "$CODE" 200 "row $m $p: routed and answered"
	snap
	is "$(last '.last_request | "\(.method) \(.path)"')" "$up" \
	    "row $m $p: forwarded to $up as the table says"
	rows_seen=$((${rows_seen:-0} + 1))
done 4< <(printf '%s' "$S" | jq -r '.routes[] |
    [.method, .path, .upstream, (if .hunting then "yes" else "no" end)] | @tsv')
is "${rows_seen:-0}" "$nrows" "every row of the table was tried"

# ---- compatibility paths, byte for byte ----
for p in /api/incidents "/api/incidents?\$top=2&\$skip=1" "/api/incidents/$ID" \
    /api/incidents/999999 /api/alerts "/api/alerts?\$top=1" "/api/alerts/$ALERT" \
    /api/machines "/api/machines/$MACH"; do
	case $p in /api/incidents*) t=$TD ;; *) t=$TM ;; esac
	both GET "$p" "$t"
	same "GET $p"
done
for p in /v1.0/security/incidents "/v1.0/security/incidents?\$expand=alerts&\$top=2" \
    "/v1.0/security/incidents/$ID" /v1.0/security/alerts_v2 \
    "/v1.0/security/alerts_v2/$GALERT"; do
	both GET "$p" "$TG"
	same "GET $p"
done
Q='{"Query":"DeviceProcessEvents | where FileName has \"ps\" | take 3","Timespan":"P7D"}'
both POST /v1.0/security/runHuntingQuery "$TG" -H 'Content-Type: application/json' --data "$Q"
same "POST /v1.0/security/runHuntingQuery (Graph shape, untouched)"
is "$(jq -r 'keys_unsorted|join(",")' "$T/gw")" "@odata.context,schema,results" \
    "runHuntingQuery keeps Graph's shape"
# MDE's 404 when there are no machines is passed on as it is
fake_ctl config '{"machines":false}' >/dev/null
both GET /api/machines "$TM"
same "GET /api/machines without machines (MDE's 404)"
fake_ctl config '{"machines":true}' >/dev/null
# PATCH goes to the Defender API as it is
req PATCH "/api/incidents/$ID" -H 'Content-Type: application/json' \
    --data '{"status":"Active","assignedTo":"t80@example.com"}'
is "$CODE" 200 "PATCH /api/incidents/{id}: 200"
snap
is "$(last .last_request.method) $(last .last_request.path)" "PATCH /api/incidents/$ID" \
    "PATCH forwarded to /api/incidents/{id}"
is "$(last .last_request.body)" '{"status":"Active","assignedTo":"t80@example.com"}' \
    "PATCH body forwarded byte for byte"
both GET "/api/incidents/$ID" "$TD"
same "GET /api/incidents/{id} after the PATCH"
# everything else is still refused
for p in /api/users /api/incidents/1/alerts /v1.0/users /v1.0/security/alerts \
    /beta/security/incidents /api/machines/1/isolate; do
	req GET "$p"
	is "$CODE" 404 "GET $p: not a route (404)"
done
req DELETE "/api/incidents/$ID"
is "$CODE:$(hdr Allow)" "405:GET, PATCH" "DELETE /api/incidents/{id}: 405"

# ---- hunting paths: Graph, reshaped to the Defender shape ----
HQ='{"Query":"DeviceProcessEvents | where FileName has \"ps\" | take 3"}'
curl -sS --cacert "$CA" -H "Authorization: Bearer $TG" -o "$T/graph" \
    -H 'Content-Type: application/json' --data "$HQ" \
    "$FAKE_URL/v1.0/security/runHuntingQuery"
curl -sS --cacert "$CA" -H "Authorization: Bearer $TD" -o "$T/xdr" \
    -H 'Content-Type: application/json' --data "$HQ" \
    "$FAKE_URL/api/advancedhunting/run"
WANT=$(defender_shape "$T/graph")
for p in /hunting /api/advancedhunting/run /api/advancedqueries/run; do
	req POST "$p" -H 'Content-Type: application/json' --data "$HQ"
	is "$CODE" 200 "POST $p: 200"
	snap
	is "$(last .last_request.path)" /v1.0/security/runHuntingQuery \
	    "POST $p: served by Graph (the Graph token has the role)"
	is "$(printf '%s' "$BODY" | jq -r 'keys_unsorted|join(",")')" Schema,Results \
	    "POST $p: Schema and Results, no @odata.context, no Stats"
	is "$(printf '%s' "$BODY" | jq -c .)" "$WANT" \
	    "POST $p: exactly the Defender shape of Graph's answer"
	is "$(printf '%s' "$BODY" | jq -c .Results)" "$(jq -c .Results "$T/xdr")" \
	    "POST $p: the same rows as the Defender API"
	is "$(printf '%s' "$BODY" | jq -c .Schema)" "$(jq -c .Schema "$T/xdr")" \
	    "POST $p: the same Schema as the Defender API"
done
req GET /hunting -G --data-urlencode 'query=DeviceProcessEvents | where FileName has "ps" | take 3'
is "$(printf '%s' "$BODY" | jq -c .)" "$WANT" "GET /hunting?query=: the same answer"
# Timespan reaches Graph
req POST /hunting -H 'Content-Type: application/json' \
    --data '{"Query":"DeviceInfo | take 1","Timespan":"P7D"}'
snap
is "$(last '.last_request.body|fromjson|.Timespan')" P7D "Timespan passed to Graph"
# Graph's errors in the local error shape, meaning kept
req POST /hunting -H 'Content-Type: application/json' --data '{"Query":"T | where (x"}'
is "$CODE:$(json .error.code)" 400:BadRequest "Graph bad KQL: 400 BadRequest"
like "$(json .error.message)" "could not be parsed" "... Graph's message kept"
is "$(json '.error|keys_unsorted|join(",")')" code,message,target "... in the local error shape"
is "$(json .error.target)" "$(hdr client-request-id)" "... target is the request id"
fake_fault '{"target":"api","kind":"status","status":429,"retry_after":7,"audience":"graph"}'
req POST /hunting -H 'Content-Type: application/json' --data "$HQ"
is "$CODE:$(json .error.code)" 429:TooManyRequests "Graph 429: 429 TooManyRequests"
is "$(hdr Retry-After)" 7 "... Retry-After passed on"
is "$(json '.error|keys_unsorted|join(",")')" code,message,target "... local error shape"
stop_defgate; is "$?" 0 "defgate exits 0"

# ---- Graph 403 without the role (hunting_backend = graph) ----
fake_ctl roles '{"audience":"graph","withhold":["ThreatHunting.Read.All"]}' >/dev/null
start_defgate --set hunting_backend=graph
wait_ready || bail "defgate (graph) not ready: $(cat "$GW_LOG")"
req POST /hunting -H 'Content-Type: application/json' --data "$HQ"
is "$CODE:$(json .error.code)" 403:Forbidden "Graph 403 without ThreatHunting.Read.All"
like "$(json .error.message)" "Missing application roles" "... Graph's message kept"
like "$(json .error.message)" "grant the application permission ThreatHunting.Read.All" \
    "... and the fix"
is "$(json '.error|keys_unsorted|join(",")')" code,message,target "... local error shape"
S=$(curl -sS "$GW/status.json")
is "$(printf '%s' "$S" | jq -r '.hunting.mode + " " + .hunting.backend')" "graph graph" \
    "status.json: hunting mode graph"
is "$(printf '%s' "$S" | jq -r '.routes[] | select(.path == "/hunting" and .method == "POST") | .missing|join(",")')" \
    ThreatHunting.Read.All "status.json: /hunting lacks ThreatHunting.Read.All"
stop_defgate; is "$?" 0 "defgate exits 0"
fake_ctl reset '{}' >/dev/null

# ---- auto switching: the role withheld, then granted (short tokens) ----
fake_ctl config '{"token_lifetime":5}' >/dev/null
start_defgate
wait_ready || bail "defgate (auto) not ready: $(cat "$GW_LOG")"
hunt_backend() { curl -sS "$GW/status.json" | jq -r .hunting.backend; }
req POST /hunting -H 'Content-Type: application/json' --data "$HQ"
snap
is "$(last .last_request.path)" /v1.0/security/runHuntingQuery "auto with the role: Graph"
is "$(hunt_backend)" graph "status.json: hunting on graph"
fake_ctl roles '{"audience":"graph","withhold":["ThreatHunting.Read.All"]}' >/dev/null
i=0; while [ "$(hunt_backend)" != defender ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
is "$(hunt_backend)" defender "role withheld: auto switches to the Defender endpoint on the next token"
req POST /hunting -H 'Content-Type: application/json' --data "$HQ"
is "$CODE" 200 "role withheld: /hunting still answers"
snap
is "$(last .last_request.path)" /api/advancedhunting/run "role withheld: served by the Defender API"
is "$(printf '%s' "$BODY" | jq -c .Results)" "$(jq -c .Results "$T/xdr")" "... the same rows"
S=$(curl -sS "$GW/status.json")
is "$(printf '%s' "$S" | jq -r .hunting.warning)" true "status.json: the warning is up"
d=$(printf '%s' "$S" | jq -r .hunting.days_left)
want=$(( (1801440000 - $(date +%s) + 86399) / 86400 ))
is "$d" "$want" "status.json: $d days left"
grep -q "stops returning data on 2027-02-01, in $want day" "$GW_LOG"
ok $? "the log warns with the days left"
req POST /api/advancedqueries/run -H 'Content-Type: application/json' --data "$HQ"
snap
is "$(last .last_request.path)" /api/advancedqueries/run "role withheld: MDE's hunting path goes to MDE"
fake_ctl roles '{"audience":"graph","grant":"ThreatHunting.Read.All"}' >/dev/null
i=0; while [ "$(hunt_backend)" != graph ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
is "$(hunt_backend)" graph "role granted: auto switches back to Graph"
req POST /hunting -H 'Content-Type: application/json' --data "$HQ"
snap
is "$(last .last_request.path)" /v1.0/security/runHuntingQuery "role granted: served by Graph"
stop_defgate; is "$?" 0 "defgate exits 0"
fake_ctl reset '{}' >/dev/null

# ---- cold start: 300 clients over three audiences, one token each ----
start_defgate
# one curl process, 300 connections at once
codes=$(pcurl 300 -w '%{http_code}\n' -o /dev/null -o /dev/null -o /dev/null \
    "$GW/incidents#[1-100]" "$GW/api/alerts#[1-100]" \
    "$GW/v1.0/security/incidents#[1-100]" | sort | uniq -c | tr -s ' ')
is "$codes" " 300 200" "cold start: 300 clients over three audiences all 200"
is "$(fake_stat '.token_requests_by_audience|[.defender,.graph,.mde]|join(",")')" 1,1,1 \
    "cold start: exactly one token request per audience"
S=$(curl -sS "$GW/status.json")
is "$(printf '%s' "$S" | jq -r '[.token_sources[] | .state] | join(",")')" valid,valid,valid \
    "status.json: one valid card per token source"
is "$(printf '%s' "$S" | jq -r '[.token_sources[] | .audience] | join(",")')" "$DEF,$GRAPH,$MDE" \
    "status.json: each card shows its audience"

# ---- a 50 MB Graph result, streamed and reshaped in bounded memory ----
hwm() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$GW_PID/status"; }
h0=$(hwm)
curl -sS -o "$T/big" -D "$T/h" -H 'Content-Type: application/json' \
    --data '{"Query":"DeviceProcessEvents | take 80000"}' "$GW/hunting"
h1=$(hwm)
size=$(stat -c %s "$T/big")
[ "$size" -gt 45000000 ]; ok $? "80000 rows reshaped: $size bytes"
is "$(jq -r '"\(keys_unsorted|join(",")) \(.Results|length)"' "$T/big")" "Schema,Results 80000" \
    "the 50 MB answer is the Defender shape with every row"
like "$(hdr Transfer-Encoding)" chunked "streamed (chunked), not buffered"
diag "defgate peak RSS: ${h0} kB before, ${h1} kB after a $size-byte reshape"
if [ -n "$DEFGATE_WRAPPER" ]; then
	ok 0 "peak RSS # SKIP under a wrapper"
elif ldd "$DEFGATE" | grep -q 'lib[at]san'; then
	# ASan keeps freed memory in quarantine; TSan shadows it
	ok 0 "peak RSS # SKIP in a sanitizer build"
else
	[ $((h1 - h0)) -lt 16384 ]
	ok $? "peak RSS grew by $((h1 - h0)) kB (< 16 MiB) for a $((size / 1048576)) MiB answer"
fi

done_testing

#!/bin/bash
# t40_status: /status.json fields against the real token's claims, roles and
# routes (all, none, some), v1 and v2 claims, the HTML page and its assets,
# /healthz, /readyz and the token error with its AADSTS code and hint, and
# the secret and token signature absent from logs, pages and argv.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

ALLROLES='["AdvancedHunting.Read.All","Incident.Read.All","Incident.ReadWrite.All"]'
COLLECT=$T/collected		# every page and body defgate served
status_json() {
	S=$(curl -sS "$GW/status.json")
	printf '%s\n' "$S" >> "$COLLECT"
}
sj() { printf '%s' "$S" | jq -r "$1"; }
keep() { printf '%s\n' "$BODY" >> "$COLLECT"; }
b64url() {
	s=$(printf '%s' "$1" | tr '_-' '/+')
	case $((${#s} % 4)) in
	2) s="$s==" ;;
	3) s="$s=" ;;
	esac
	printf '%s' "$s" | base64 -d 2>/dev/null
}
# the real token defgate sent upstream, and its decoded claims
grab_token() {
	req GET /incidents
	TOKEN=$(fake_stat .last_request.headers.authorization)
	TOKEN=${TOKEN#Bearer }
	CLAIMS=$(b64url "$(printf '%s' "$TOKEN" | cut -d. -f2)")
	SIG=$(printf '%s' "$TOKEN" | cut -d. -f3)
	SIGS="$SIGS $SIG"
	TOKENS="$TOKENS $TOKEN"
}
claim() { printf '%s' "$CLAIMS" | jq -r "$1"; }
# restart [fake options] [-- defgate options]: a fresh fake and defgate
restart() {
	fo=() go=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do fo+=("$1"); shift; done
	[ $# -gt 0 ] && shift
	go=("$@")
	stop_gw
	kill "$FAKE_PID" 2>/dev/null; wait "$FAKE_PID" 2>/dev/null
	start_fake "${fo[@]}"
	start_defgate "${go[@]}"
}
stop_gw() {
	stop_defgate "$GW_PID"
	is "$?" 0 "defgate (pid $GW_PID) exits 0 on SIGTERM"
}
route() { # route METHOD PATH FIELD
	sj ".routes[] | select(.method == \"$1\" and .path == \"$2\") | $3"
}
SIGS= TOKENS=

# ================= all roles (the fake's default), v1 claims
start_fake
start_defgate
wait_ready || bail "defgate did not become ready: $(cat "$GW_LOG")"
grab_token
[ -n "$SIG" ] && [ "$(claim .roles)" != null ]
ok $? "got the real token from the fake (roles $(claim ".roles|tojson"))"

status_json
now=$(date +%s)
is "$(sj .token.state)" valid "token.state valid"
is "$(sj '.token.roles|sort|tojson')" "$(claim '.roles|sort|tojson')" \
    "token.roles equals the token's roles claim"
is "$(sj '.token.roles|sort|tojson')" "$ALLROLES" "token.roles: the three XDR roles"
is "$(sj '.token.roles|type')" array "token.roles is an array"
is "$(sj .token.has_roles)" true "token.has_roles true"
is "$(sj .token.tenant_id)" "$TENANT" "token.tenant_id"
is "$(sj .token.tenant_id)" "$(claim .tid)" "token.tenant_id from tid"
is "$(sj .token.app_id)" "$CLIENT" "token.app_id is the client id"
is "$(sj .token.app_id)" "$(claim .appid)" "token.app_id from appid (v1)"
is "$(sj .token.audience)" "$(claim .aud)" "token.audience from aud"
like "$(sj .token.audience)" "api.security.microsoft.com" "token.audience is the Defender API"
is "$(sj .token.issuer)" "$(claim .iss)" "token.issuer from iss"
like "$(sj .token.issuer)" "$TENANT" "token.issuer names the tenant"
is "$(sj .token.version)" "1.0" "token.version 1.0"
ea=$(sj .token.expires_at) ei=$(sj .token.expires_in) exp=$(claim .exp)
is "$(sj '.token.expires_at|type')" number "token.expires_at is a number"
is "$(sj '.token.expires_at == (.token.expires_at|floor)')" true "token.expires_at is an integer"
[ "$ea" -gt "$now" ] 2>/dev/null; ok $? "token.expires_at ($ea) is in the future (now $now)"
[ "$ea" -le "$exp" ] && [ "$ea" -ge $((exp - 10)) ] 2>/dev/null
ok $? "token.expires_at ($ea) matches the token's exp ($exp)"
is "$(sj '.token.expires_in == (.token.expires_in|floor)')" true "token.expires_in is an integer"
[ "$ei" -gt 0 ] && [ "$ei" -le 3599 ] 2>/dev/null
ok $? "0 < token.expires_in ($ei) <= lifetime 3599"
[ $((ea - now - ei)) -ge -2 ] && [ $((ea - now - ei)) -le 2 ]
ok $? "token.expires_in agrees with expires_at"
is "$(sj .token.last_error)" null "token.last_error null"
[ "$(sj .token.refreshes)" -ge 1 ] 2>/dev/null; ok $? "token.refreshes >= 1 ($(sj .token.refreshes))"
is "$(sj '[.routes[] | select(.backend == "defender") | .allowed] | all')" true \
    "every Defender route allowed with all roles"
is "$(sj '[.routes[] | select(.path | test("^/(api|v1.0)/") | not)] | length')" 5 \
    "five local routes listed"
is "$(sj '[.token_sources[] | select(.used) | .backend] | join(",")')" defender \
    "only the Defender token source is used before any other route is called"
is "$(sj '[.routes[] | .missing[]] | length')" 0 "nothing missing with all roles"
is "$(route PATCH /incidents/{id} .enabled)" false "PATCH route disabled without allow_write"
is "$(route GET /incidents .enabled)" true "GET /incidents route enabled"
is "$(sj .config.threads)" "${DEFGATE_THREADS:-2}" \
    "config.threads: the front workers lib.sh starts"
unlike "$S" "$TOKEN" "status.json does not contain the token"

# request counters and latency
fake_ctl config '{"latency_ms":150}' >/dev/null
for i in 1 2 3; do req GET '/incidents?$top=1'; done
fake_ctl config '{"latency_ms":0}' >/dev/null
req GET /nope; keep
want=4		# grab_token's GET /incidents and these three
i=0
while status_json; [ "$(sj '.requests.by_route.incidents["200"]')" != $want ]; do
	i=$((i + 1)); [ "$i" -gt 50 ] && break
	sleep 0.1
done
is "$(sj '.requests.by_route.incidents["200"]')" $want "requests.by_route.incidents[\"200\"] counts"
is "$(sj '.requests.by_route.other["404"]')" 1 "requests.by_route.other[\"404\"] counts"
[ "$(sj .upstream.requests)" -ge $want ] 2>/dev/null
ok $? "upstream.requests >= $want ($(sj .upstream.requests))"
max=$(sj '.upstream.latency_ms.max')
[ "$max" -ge 150 ] && [ "$max" -lt 5000 ] 2>/dev/null
ok $? "upstream.latency_ms.max reflects the 150 ms upstream latency ($max)"
p50=$(sj '.upstream.latency_ms.p50|type')
is "$p50" number "upstream.latency_ms.p50 is a number"

# HTML page and assets
req GET /status
is "$CODE" 200 "GET /status: 200"
like "$(hdr Content-Type)" text/html "GET /status: text/html"
like "$BODY" "<html" "GET /status: an HTML document"
like "$(hdr Content-Security-Policy)" "default-src 'self'" "GET /status: CSP header"
is "$(hdr X-Content-Type-Options)" nosniff "GET /status: nosniff"
printf '%s' "$BODY" | grep -Eiq '(src|href)=["'\'']?(https?:)?//'
[ $? -ne 0 ]; ok $? "GET /status: no external resources"
keep
for a in status.css status.js; do
	curl -sS -D "$T/h" -o "$T/$a" "$GW/$a"
	is "$(head -1 "$T/h" | cut -d' ' -f2)" 200 "GET /$a: 200"
	cmp -s "$T/$a" "$top_srcdir/www/$a"
	ok $? "GET /$a: the file from www/"
	cat "$T/$a" >> "$COLLECT"
done
like "$(hdr Content-Type)" javascript "status.js Content-Type"
like "$(cat "$T/status.js")" "no roles: admin consent missing" \
    "the page says \"no roles: admin consent missing\" for a token without roles"
like "$(cat "$T/status.js")" "status.json" "the page's script reads /status.json"
req GET /healthz
is "$CODE" 200 "/healthz 200"
req GET /readyz
is "$CODE" 200 "/readyz 200 with a token"
is "$(json .status)" ready "/readyz says ready"

# argv and environment of the running daemon
tr '\0' ' ' < "/proc/$GW_PID/cmdline" > "$T/cmdline"
[ -s "$T/cmdline" ]; ok $? "read /proc/$GW_PID/cmdline"
unlike "$(cat "$T/cmdline")" "$SECRET" "the secret is not in argv"
if [ -z "$DEFGATE_WRAPPER" ]; then
	unlike "$(tr '\0' '\n' < "/proc/$GW_PID/environ")" "$SECRET" \
	    "the secret is not in the daemon's environment"
else	# /proc/PID/environ is the wrapper's copy, not defgate's
	ok 0 "the secret is not in the daemon's environment # SKIP under a wrapper"
fi

# ================= no roles (admin consent missing)
restart --roles ""
wait_ready || bail "defgate (no roles) not ready: $(cat "$GW_LOG")"
grab_token
is "$(claim 'has("roles")')" false "the fake's token has no roles claim"
status_json
is "$(sj .token.state)" valid "no roles: token.state valid"
is "$(sj .token.has_roles)" false "no roles: token.has_roles false"
is "$(sj '.token.roles|tojson')" '[]' "no roles: token.roles empty"
is "$(sj '[.routes[] | .allowed] | any')" false "no roles: no route allowed"
is "$(route POST /hunting '.missing|tojson')" '["AdvancedHunting.Read.All"]' \
    "no roles: hunting route lists AdvancedHunting.Read.All as missing"
req GET /status; keep

# ================= one role
restart --roles Incident.Read.All -- --set allow_write=true
wait_ready || bail "defgate (one role) not ready: $(cat "$GW_LOG")"
grab_token
status_json
is "$(sj '.token.roles|tojson')" '["Incident.Read.All"]' "one role: token.roles"
is "$(sj .token.has_roles)" true "one role: has_roles true"
is "$(route GET /incidents .allowed)" true "one role: GET /incidents allowed"
is "$(route GET /incidents/{id} .allowed)" true "one role: GET /incidents/{id} allowed"
is "$(route PATCH /incidents/{id} .allowed)" false "one role: PATCH not allowed"
is "$(route PATCH /incidents/{id} '.missing|tojson')" '["Incident.ReadWrite.All"]' \
    "one role: PATCH missing Incident.ReadWrite.All"
is "$(route PATCH /incidents/{id} .enabled)" true "allow_write: PATCH route enabled"
is "$(route POST /hunting .allowed)" false "one role: POST /hunting not allowed"
is "$(route POST /hunting '.missing|tojson')" '["AdvancedHunting.Read.All"]' \
    "one role: POST /hunting missing AdvancedHunting.Read.All"
is "$(route GET /hunting .allowed)" false "one role: GET /hunting not allowed"
like "$(route GET /hunting '.missing|tojson')" AdvancedHunting.Read.All \
    "one role: GET /hunting missing AdvancedHunting.Read.All"
is "$(sj '[.routes[] | .missing[]] | map(select(. == "Incident.Read.All")) | length')" 0 \
    "one role: the held role is never listed as missing"
is "$(sj .upstream.last_forbidden)" null "no upstream 403 yet"
# the API's own 403 for the missing role reaches the client and the page
req GET /incidents
ID=$(json '.value[0].incidentId')
req PATCH "/incidents/$ID" -H 'Content-Type: application/json' -d '{"status":"Active"}'
is "$CODE" 403 "one role: PATCH answered by the API with 403"
like "$(json .error.message)" "Missing application roles" \
    "one role: the API's 403 body passed through (not WriteDisabled)"
keep
i=0
while status_json; [ "$(sj '.upstream.last_forbidden == null or .requests.by_route.incident_update["403"] == null')" = true ]; do
	i=$((i + 1)); [ "$i" -gt 30 ] && break
	sleep 0.1
done
like "$(sj .upstream.last_forbidden)" "Incident.ReadWrite.All" \
    "status.json upstream.last_forbidden shows the API's 403"
is "$(sj '.requests.by_route.incident_update["403"]')" 1 "requests.by_route.incident_update[\"403\"] counts"

# ================= v2 claims
restart --token-version 2
wait_ready || bail "defgate (v2) not ready: $(cat "$GW_LOG")"
grab_token
is "$(claim .ver)" 2.0 "the fake's token has v2 claims"
status_json
is "$(sj .token.version)" 2.0 "v2: token.version 2.0"
is "$(sj .token.app_id)" "$CLIENT" "v2: token.app_id"
is "$(sj .token.app_id)" "$(claim .azp)" "v2: token.app_id from azp"
is "$(sj .token.tenant_id)" "$TENANT" "v2: token.tenant_id"
is "$(sj .token.issuer)" "$(claim .iss)" "v2: token.issuer"
is "$(sj .token.audience)" "$(claim .aud)" "v2: token.audience"
is "$(sj '.token.roles|sort|tojson')" "$ALLROLES" "v2: token.roles"
is "$(sj '[.routes[] | select(.backend == "defender") | .allowed] | all')" true \
    "v2: every Defender route allowed"
req GET /status; keep

# ================= wrong secret: 503 with the AADSTS code and hint
stop_gw
a0=$(fake_stat .api_requests)
WRONG=wrong-secret-value-4711
GW_SECRET=$WRONG start_defgate
i=0
while status_json; [ "$(sj '.token.last_error != null')" != true ]; do
	i=$((i + 1)); [ "$i" -gt 100 ] && break
	sleep 0.1
done
is "$(sj .token.last_error.aadsts)" 7000215 "wrong secret: token.last_error.aadsts 7000215"
like "$(sj .token.last_error.hint)" "Secret ID" "wrong secret: status.json hint about the Secret ID"
is "$(sj '.token.state == "valid"')" false "wrong secret: token.state not valid ($(sj .token.state))"
is "$(sj '.token.roles|length')" 0 "wrong secret: no roles"
req GET /readyz
is "$CODE" 503 "wrong secret: /readyz 503"
is "$(json .error.code)" TokenUnavailable "wrong secret: /readyz TokenUnavailable"
like "$(json .error.message)" AADSTS7000215 "wrong secret: /readyz names AADSTS7000215"
like "$(json .error.message)" "Secret ID" "wrong secret: /readyz hint about the Secret ID"
is "$(json .error.target)" "$(hdr client-request-id)" "wrong secret: /readyz error target"
keep
req GET /incidents
is "$CODE" 503 "wrong secret: GET /incidents 503"
is "$(json .error.code)" TokenUnavailable "wrong secret: GET /incidents TokenUnavailable"
like "$(json .error.message)" AADSTS7000215 "wrong secret: GET /incidents names AADSTS7000215"
keep
is "$(fake_stat .api_requests)" "$a0" "wrong secret: nothing forwarded without a token"
# a failing credential stays "error" while its retry is in flight, so the
# page does not flip to "refreshing" with every attempt: the retry hangs
t0=$(fake_stat .token_requests)
fake_fault '{"target":"token","kind":"hang","delay_ms":5000}'
i=0
while [ "$(fake_stat .token_requests)" -le "$t0" ]; do
	i=$((i + 1)); [ "$i" -gt 300 ] && break
	sleep 0.1
done
status_json
is "$(sj .token.state)" error "wrong secret: token.state stays error while the retry is in flight ($i)"
req GET /healthz
is "$CODE" 200 "/healthz 200 even without a token"
req GET /status
is "$CODE" 200 "/status 200 without a token"
keep
tr '\0' ' ' < "/proc/$GW_PID/cmdline" > "$T/cmdline2"
unlike "$(cat "$T/cmdline2")" "$WRONG" "the (wrong) secret is not in argv"
stop_gw

# ================= secrets and signatures: nowhere
cat "$T"/defgate.*.log > "$T/all.log"
[ -s "$T/all.log" ]; ok $? "collected the defgate logs"
[ -s "$COLLECT" ]; ok $? "collected the pages and bodies served"
for f in "$T/all.log" "$COLLECT"; do
	n=$(basename "$f")
	unlike "$(cat "$f")" "$SECRET" "$n: no secret"
	unlike "$(cat "$f")" "$WRONG" "$n: no (wrong) secret"
	r=0
	for s in $SIGS; do grep -qF -- "$s" "$f" && r=1; done
	ok $r "$n: no token signature ($(echo $SIGS | wc -w) tokens)"
	r=0
	for s in $TOKENS; do grep -qF -- "$(printf '%s' "$s" | cut -d. -f2)" "$f" && r=1; done
	ok $r "$n: no token payload"
done

done_testing

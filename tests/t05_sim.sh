#!/bin/bash
# t05_sim: the simulator itself, through the test fake and curl only (no
# defgate): one token per audience with that audience's roles, the MDE and
# Graph APIs in their shapes, their errors, and the control endpoints that
# the other tests rely on (roles per audience, counts per audience,
# per-audience faults and revocation).
. "$(dirname "$0")/lib.sh"

DEF=https://api.security.microsoft.com
GRAPH=https://graph.microsoft.com
MDE=https://api.securitycenter.microsoft.com

# token VERSION AUDIENCE-URL: the token endpoint's answer in $TOK (JSON)
token() {
	if [ "$1" = 2 ]; then
		TOK=$(curl -sS --cacert "$CA" "$FAKE_URL/$TENANT/oauth2/v2.0/token" \
		    -d grant_type=client_credentials -d client_id="$CLIENT" \
		    --data-urlencode client_secret="$SECRET" \
		    --data-urlencode scope="$2/.default")
	else
		TOK=$(curl -sS --cacert "$CA" "$FAKE_URL/$TENANT/oauth2/token" \
		    -d grant_type=client_credentials -d client_id="$CLIENT" \
		    --data-urlencode client_secret="$SECRET" \
		    --data-urlencode resource="$2")
	fi
}
at() { token 2 "$1"; printf '%s' "$TOK" | jq -r .access_token; }
b64d() {
	_s=$(printf '%s' "$1" | tr '_-' '/+')
	case $((${#_s} % 4)) in 2) _s="$_s==" ;; 3) _s="$_s=" ;; esac
	printf '%s' "$_s" | base64 -d 2>/dev/null
}
claim() { b64d "$(printf '%s' "$1" | cut -d. -f2)" | jq -r "$2"; }
jsonc() { printf '%s' "$BODY" | jq -c "$1" 2>/dev/null; }
# api METHOD PATH TOKEN [curl args]: CODE, BODY, headers in $T/h
api() {
	_m=$1 _p=$2 _t=$3
	shift 3
	BODY=$(curl -sS --cacert "$CA" -X "$_m" -D "$T/h" -o - -w '\n%{http_code}' \
	    -H "Authorization: Bearer $_t" "$@" "$FAKE_URL$_p")
	split_code
}

start_fake

# ---- tokens: one per audience, aud = resource, the audience's roles
for v in 1 2; do
	for a in "$DEF" "$GRAPH" "$MDE"; do
		token "$v" "$a"
		t=$(printf '%s' "$TOK" | jq -r .access_token)
		is "$(claim "$t" .aud)" "$a" "v$v token for $a: aud is the resource"
	done
done
token 1 "$GRAPH/"
is "$(printf '%s' "$TOK" | jq -r .resource)" "$GRAPH" "v1: a trailing / on the resource is accepted"
t=$(at "$DEF")
is "$(claim "$t" '.roles|sort|join(",")')" \
    "AdvancedHunting.Read.All,Incident.Read.All,Incident.ReadWrite.All" \
    "Defender token: the three Defender roles by default"
t=$(at "$GRAPH")
is "$(claim "$t" '.roles|sort|join(",")')" \
    "SecurityAlert.Read.All,SecurityAlert.ReadWrite.All,SecurityIncident.Read.All,SecurityIncident.ReadWrite.All,ThreatHunting.Read.All" \
    "Graph token: the Graph security roles by default"
t=$(at "$MDE")
is "$(claim "$t" '.roles|sort|join(",")')" \
    "AdvancedQuery.Read.All,Alert.Read.All,Alert.ReadWrite.All,Machine.Read.All,Machine.ReadWrite.All" \
    "MDE token: the WindowsDefenderATP roles by default"
fake_ctl config '{"token_version":2}' >/dev/null
is "$(claim "$(at "$GRAPH")" .aud)" 00000003-0000-0000-c000-000000000000 \
    "v2-shaped Graph token: aud is Graph's application id"
is "$(claim "$(at "$MDE")" .aud)" fc780465-2017-40d4-a0c5-307022471b92 \
    "v2-shaped MDE token: aud is WindowsDefenderATP's application id"
fake_ctl reset '{}' >/dev/null

token 2 https://vault.azure.net
is "$(printf '%s' "$TOK" | jq -c '[.error,.error_codes[0]]')" '["invalid_scope",70011]' \
    "v2 unknown scope: invalid_scope AADSTS70011"
token 1 https://vault.azure.net
is "$(printf '%s' "$TOK" | jq -c '[.error,.error_codes[0]]')" '["invalid_resource",500011]' \
    "v1 unknown resource: invalid_resource AADSTS500011"

fake_ctl reset '{}' >/dev/null
token 2 "$GRAPH"; token 2 "$GRAPH"; token 1 "$MDE"; token 2 https://vault.azure.net
is "$(fake_stat '.token_requests_by_audience|[.defender,.graph,.mde]|join(",")')" 0,2,1 \
    "token requests are counted per audience"
is "$(fake_stat .token_requests)" 4 "... and in total (the unknown one too)"
is "$(fake_stat .last_token_request.audience)" "" "the last token request named no known audience"

TD=$(at "$DEF") TG=$(at "$GRAPH") TM=$(at "$MDE")

# ---- audience check: another audience's token is a 401
api GET /api/incidents "$TG"
is "$CODE" 401 "Graph token on /api/incidents: 401"
is "$(json .error.code)" Unauthorized "... Defender error shape"
api GET /api/alerts "$TD"
is "$CODE" 401 "Defender token on MDE /api/alerts: 401"
api GET /v1.0/security/incidents "$TM"
is "$CODE" 401 "MDE token on Graph incidents: 401"
is "$(json .error.code)" InvalidAuthenticationToken "... Graph error code"
is "$(json '.error.innerError|keys|join(",")')" "client-request-id,date,request-id" \
    "... Graph innerError"

# ---- MDE shapes
api GET /api/alerts "$TM"
is "$CODE" 200 "MDE GET /api/alerts: 200"
is "$(json '.["@odata.context"]')" "$DEF/api/\$metadata#Alerts" "... OData context"
is "$(json '[.value[] | has("machineId") and has("alertCreationTime") and has("computerDnsName")] | all')" \
    true "... MDE alert fields"
ALERT=$(json '.value[0].id')
api GET "/api/alerts/$ALERT" "$TM"
is "$CODE:$(json .id)" "200:$ALERT" "MDE GET /api/alerts/{id}"
api GET /api/alerts/nope "$TM"
is "$CODE:$(json .error.code)" 404:ResourceNotFound "MDE unknown alert: 404 ResourceNotFound"
api GET '/api/machines?$top=2' "$TM"
is "$CODE:$(json '.value|length')" 200:2 "MDE GET /api/machines honours \$top"
MACH=$(json '.value[1].id')
api GET "/api/machines/$MACH" "$TM"
is "$(json .computerDnsName)" srv-file-01.corp.contoso.com "MDE GET /api/machines/{id}"
fake_ctl config '{"machines":false}' >/dev/null
api GET /api/machines "$TM"
is "$CODE:$(json .error.code)" 404:ResourceNotFound "no machines: MDE's 404"
like "$(json .error.target)" - "... with a target"
fake_ctl config '{"machines":true}' >/dev/null
api POST /api/advancedqueries/run "$TM" -H 'Content-Type: application/json' \
    --data '{"Query":"DeviceProcessEvents | take 3"}'
is "$CODE:$(json '.Results|length'):$(json '.Schema[0].Name')" 200:3:Timestamp \
    "MDE advanced queries: Schema/Results"
MDEROWS=$(jsonc .Results)

# ---- Graph shapes
api GET /v1.0/security/incidents "$TG"
is "$CODE" 200 "Graph incidents: 200"
like "$(hdr Content-Type)" "odata.metadata=minimal" "... Graph content type"
is "$(json '[.value[].id|type]|unique|join(",")')" string "... ids are strings"
api GET /api/incidents "$TD"
DIDS=$(json '[.value[].incidentId|tostring]|join(",")')
api GET /v1.0/security/incidents "$TG"
is "$(json '[.value[].id]|join(",")')" "$DIDS" "... the same incidents as Defender's list"
is "$(json '[.value[].status]|unique|join(",")')" active,inProgress,resolved "... Graph's enum spelling"
is "$(json '[.value[]|has("alerts")]|any')" false "... no alerts unless expanded"
api GET '/v1.0/security/incidents?$expand=alerts&$top=2' "$TG"
is "$(json '.value|length'):$(json '[.value[]|has("alerts")]|all')" 2:true \
    "Graph incidents \$expand=alerts, \$top=2"
like "$(json '.["@odata.nextLink"]')" '$skip=2' "... with a next link"
api GET /v1.0/security/incidents/20391 "$TG"
is "$CODE:$(json .id):$(json .displayName|cut -c1-11)" "200:20391:Multi-stage" "Graph GET incident"
api GET /v1.0/security/incidents/1 "$TG"
is "$CODE:$(json .error.code)" 404:NotFound "Graph unknown incident: 404"
api GET /v1.0/security/alerts_v2 "$TG"
is "$CODE" 200 "Graph alerts_v2: 200"
is "$(json '[.value[].evidence[]|.["@odata.type"]|startswith("#microsoft.graph.security.")]|all')" \
    true "... typed evidence"
api GET "/v1.0/security/alerts_v2/$ALERT" "$TG"
is "$CODE:$(json .id):$(json .incidentId)" "200:$ALERT:20391" "Graph GET alert"

# hunting: the same rows from all three hunting endpoints
Q='{"Query":"DeviceProcessEvents | where FileName has \"ps\" | take 3","Timespan":"P7D"}'
api POST /v1.0/security/runHuntingQuery "$TG" -H 'Content-Type: application/json' --data "$Q"
is "$CODE" 200 "Graph runHuntingQuery: 200"
is "$(json 'keys_unsorted|join(",")')" "@odata.context,schema,results" "... Graph's members, no Stats"
is "$(json '.schema[0]|keys_unsorted|join(",")')" name,type "... lower-case schema"
is "$(jsonc .results)" "$MDEROWS" "... the same rows as MDE's advanced queries"
GROWS=$(jsonc .results)
api POST /api/advancedhunting/run "$TD" -H 'Content-Type: application/json' \
    --data '{"Query":"DeviceProcessEvents | where FileName has \"ps\" | take 3"}'
is "$(jsonc .Results)" "$GROWS" "... and as Defender's advanced hunting"
api POST /v1.0/security/runHuntingQuery "$TG" --data '{"Query":"T | where (x"}'
is "$CODE:$(json .error.code)" 400:BadRequest "Graph bad KQL: 400 BadRequest"
like "$(json .error.message)" "could not be parsed" "... says where"
is "$(json '.error|has("innerError")')" true "... in Graph's shape"
api POST /api/advancedhunting/run "$TD" --data '{"Query":"T | | take 1"}'
is "$CODE:$(json .error.code):$(json '.error|has("target")')" 400:BadRequest:true \
    "Defender bad KQL: 400 in Defender's shape"
api POST /v1.0/security/runHuntingQuery "$TG" --data '{"Query":"T","Timespan":"yesterday"}'
is "$CODE" 400 "Graph: an invalid Timespan is a 400"

# a ~50 MB Graph result is streamed (chunked), row for row
curl -sS --cacert "$CA" -D "$T/h" -H "Authorization: Bearer $TG" -o "$T/big.json" \
    --data '{"Query":"DeviceProcessEvents | take 80000"}' \
    "$FAKE_URL/v1.0/security/runHuntingQuery"
size=$(stat -c %s "$T/big.json")
[ "$size" -gt 50000000 ]
ok $? "80000 Graph rows: $size bytes"
like "$(hdr Transfer-Encoding)" chunked "... streamed"
is "$(jq '.results|length' "$T/big.json")" 80000 "... every row"

# ---- roles: withheld and granted per audience, at start and at runtime
fake_ctl roles '{"audience":"graph","withhold":["ThreatHunting.Read.All"]}' >/dev/null
t=$(at "$GRAPH")
is "$(claim "$t" '.roles|index("ThreatHunting.Read.All")')" null "withheld Graph role: not in new tokens"
api POST /v1.0/security/runHuntingQuery "$t" --data '{"Query":"T"}'
is "$CODE:$(json .error.code)" 403:Forbidden "Graph hunting without ThreatHunting.Read.All: 403"
like "$(json .error.message)" "Missing application roles. API required roles: ThreatHunting.Read.All, application roles: Security" \
    "... names the required and the granted roles"
api GET /v1.0/security/incidents "$t"
is "$CODE" 200 "... the other Graph roles still work"
is "$(claim "$(at "$DEF")" '.roles|length')" 3 "... and the Defender token keeps its roles"
fake_ctl roles '{"audience":"graph","grant":"ThreatHunting.Read.All"}' >/dev/null
is "$(claim "$(at "$GRAPH")" '.roles|index("ThreatHunting.Read.All") != null')" true \
    "granted again: back in new tokens"
fake_ctl roles '{"audience":"mde","withhold":"Alert.Read.All,Alert.ReadWrite.All,Machine.Read.All,Machine.ReadWrite.All,AdvancedQuery.Read.All"}' >/dev/null
t=$(at "$MDE")
is "$(claim "$t" 'has("roles")')" false "every MDE role withheld: no roles claim"
api GET /api/alerts "$t"
is "$CODE:$(json .error.message)" \
    "403:Missing application roles. API required roles: Alert.Read.All,Alert.ReadWrite.All, application roles: ." \
    "MDE without roles: 403 with MDE's message"
is "$(fake_ctl roles '{"audience":"nope"}' | jq -r .ok)" false "an unknown audience is refused"
fake_ctl reset '{}' >/dev/null
is "$(claim "$(at "$MDE")" '.roles|length')" 5 "reset restores the roles"
fake_ctl config '{"graph_roles":"SecurityIncident.Read.All"}' >/dev/null
is "$(claim "$(at "$GRAPH")" '.roles|join(",")')" SecurityIncident.Read.All "config graph_roles"
fake_ctl reset '{}' >/dev/null

# ---- per-audience faults and revocation
TD=$(at "$DEF") TG=$(at "$GRAPH")
fake_fault '{"target":"api","kind":"status","status":429,"retry_after":7,"audience":"graph"}'
api GET /api/incidents "$TD"
is "$CODE" 200 "a Graph fault leaves Defender calls alone"
api GET /v1.0/security/incidents "$TG"
is "$CODE:$(json .error.code):$(json .error.message)" "429:TooManyRequests:Too many requests." \
    "Graph 429 in Graph's shape"
is "$(hdr Retry-After)" 7 "... with Retry-After"
fake_fault '{"target":"api","kind":"status","status":503,"path":"/api/advancedhunting"}'
api GET /api/incidents "$TD"
is "$CODE" 200 "a path fault leaves other paths alone"
api POST /api/advancedhunting/run "$TD" --data '{"Query":"T"}'
is "$CODE" 503 "... and hits its path"
fake_fault '{"target":"token","kind":"status","status":500,"audience":"mde"}'
token 2 "$DEF"
is "$(printf '%s' "$TOK" | jq -r '.access_token|length > 0')" true "an MDE token fault leaves Defender tokens alone"
token 2 "$MDE"
is "$(printf '%s' "$TOK" | jq -r .error)" temporarily_unavailable "... and fails the MDE token"
fake_ctl revoke '{"audience":"graph"}' >/dev/null
api GET /v1.0/security/incidents "$TG"
is "$CODE" 401 "revoked Graph tokens: 401"
api GET /api/incidents "$TD"
is "$CODE" 200 "... Defender tokens still valid"
is "$(fake_stat '.api_requests_by_audience.graph')" 2 "API requests are counted per audience"

# ---- quotas: off unless asked for (the other tests are never throttled);
# on, a sliding window per group answers 429 with Retry-After, in the API's
# shape, until the window frees a call; /_sim/quota counts every call
fake_ctl reset '{}' >/dev/null
for i in 1 2 3 4; do api GET /api/incidents "$TD"; done
is "$CODE" 200 "quota off by default: 4 quick incident calls, all 200"
BODY=$(fake_ctl config '{"quota_incidents":"1/min,9/h/x"}')
like "$BODY" "quota_<group> must be limits" "bad quota limits: refused"
fake_ctl config '{"quota":true,"quota_incidents":"2/2s","quota_graph":"1/2s"}' >/dev/null
api GET /api/incidents "$TD"
api GET /api/incidents "$TD"
is "$CODE" 200 "quota incidents 2/2s: 2 calls, 200"
api PATCH /api/incidents/1 "$TD" -H 'Content-Type: application/json' -d '{"status":"Active"}'
is "$CODE" 429 "... a third (a PATCH, same group): 429"
is "$(json .error.code)" 429 "... with the observed Defender code"
is "$(json .error.message)" "API calls quota exceeded! maximum allowed 2 per 00:00:02" \
    "... and the message naming the window"
RA=$(hdr Retry-After)
test "$RA" -ge 1 -a "$RA" -le 2 2>/dev/null
ok $? "... and Retry-After in seconds until the window frees a call ($RA)"
TG=$(at "$GRAPH")
api GET /v1.0/security/incidents "$TG"
api GET /v1.0/security/incidents "$TG"
is "$CODE/$(json .error.code)" 429/TooManyRequests "Graph's own 429 shape"
test -n "$(hdr Retry-After)"
ok $? "... with Retry-After too"
is "$(fake_ctl quota | jq -c '.groups.incidents | [.calls, .throttled, .max_60s]')" \
    '[7,1,7]' "/_sim/quota: incident calls (429s included), 429s, most in 60 s"
sleep "$RA"
api GET /api/incidents "$TD"
is "$CODE" 200 "after Retry-After: 200 again"
fake_ctl reset '{}' >/dev/null
is "$(fake_ctl quota | jq -c '[.enabled, .groups.incidents.calls, .groups.incidents.limits]')" \
    '[false,0,"50/min,1500/h"]' "/_sim/reset: quota off, counters zero, documented limits"
is "$(fake_stat .quota.groups.hunting.limits)" 45/min "/_sim/stats shows the quota too"

# ---- the fault injection and control endpoints are the fake's only
# (tests/fake_hooks.c): none of their names is in the installed daemon
for w in /_sim/ /_sim/fault /_sim/config token_fail_every api_5xx_rate \
    api_reset_rate reset_body big_headers missing_expiry random_resets; do
	is "$(strings "$DEFGATE" | grep -c -- "$w")" 0 "daemon binary: no '$w'"
done
[ "$(strings "$FAKEAPI" | grep -c -- token_fail_every)" -gt 0 ]
ok $? "... while the test fake has them (the check can see them)"
is "$(nm "$DEFGATE" 2>/dev/null | grep -cE ' (take_fault|handle_control|ctl_[a-z_]+|fake_[a-z_]+)$')" 0 \
    "daemon binary: no fault or control symbols"

done_testing

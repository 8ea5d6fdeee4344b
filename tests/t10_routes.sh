#!/bin/bash
# t10_routes: every forwarding route with its query and body intact, the
# header rules (what goes upstream, what comes back), one token for many
# requests and upstream connection reuse.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

# the fake's view of the last API request (one stats call per check group)
last() { printf '%s' "$STATS" | jq -r "$1"; }
snap() { STATS=$(fake_ctl stats); }
# direct: GET PATH[?QUERY] on the fake itself with the token defgate uses
direct() {
	DBODY=$(curl -sS --cacert "$CA" -D "$T/dh" -H "Authorization: $AUTH" \
	    -H 'Accept: application/json' "$FAKE_URL$1")
	DCTYPE=$(grep -i '^content-type:' "$T/dh" | head -1 | cut -d: -f2- |
	    tr -d '\r' | sed 's/^ //')
}
count() { # count N URL-PATH PARALLEL: prints how many answered 200
	burst "$1" "$3" "$2" | grep -c '^200$'
}

start_fake
start_defgate --set allow_write=true
wait_ready || bail "defgate did not become ready: $(cat "$GW_LOG")"

# ---- GET /incidents ----
req GET /incidents
is "$CODE" 200 "GET /incidents: 200"
n_all=$(json '.value|length')
[ "${n_all:-0}" -ge 3 ] 2>/dev/null
ok $? "GET /incidents: the fake's incident list (${n_all:-none} incidents)"
snap
is "$(last .last_request.method)" GET "upstream method GET"
is "$(last .last_request.path)" /api/incidents "upstream path /api/incidents"
is "$(last .last_request.query)" "" "no query invented upstream"
AUTH=$(last .last_request.headers.authorization)
direct /api/incidents
is "$(printf '%s' "$BODY" | jq -cS .)" \
    "$(printf '%s' "$DBODY" | jq -cS .)" \
    "GET /incidents returns the same incidents as the API itself"
is "$(hdr Content-Type)" "$DCTYPE" "Content-Type passed back unchanged"
r=$(hdr request-id)
[ -n "$r" ]; ok $? "upstream request-id header passed back ($r)"
ID=$(json '.value[0].incidentId')

# ---- the query goes upstream byte for byte ----
q='$filter=lastUpdateTime+ge+2024-01-01T00:00:00Z&$top=2&$skip=1&x=%41%2Fb%20c'
req GET "/incidents?$q"
is "$CODE" 200 "GET /incidents?query: 200"
snap
is "$(last .last_request.query)" "$q" "query forwarded byte for byte"
is "$(last .last_request.path)" /api/incidents "query: path unchanged"
is "$(json '.value|length')" 2 "\$top=2 took effect"
direct "/api/incidents?$q"
is "$(printf '%s' "$BODY" | jq -c '[.value[].incidentId]')" \
    "$(printf '%s' "$DBODY" | jq -c '[.value[].incidentId]')" \
    "query: the same page as the API's for that query"

# ---- GET /incidents/{id} ----
req GET "/incidents/$ID"
is "$CODE" 200 "GET /incidents/$ID: 200"
is "$(json '.incidentId|tostring')" "$ID" "GET /incidents/{id}: that incident"
snap
is "$(last .last_request.path)" "/api/incidents/$ID" "upstream path /api/incidents/{id}"
is "$(last .last_request.method)" GET "upstream method GET for one incident"
direct "/api/incidents/$ID"
is "$(printf '%s' "$BODY" | jq -cS .)" "$(printf '%s' "$DBODY" | jq -cS .)" \
    "GET /incidents/{id}: body equals the API's"

# an upstream 404 is the API's own answer, passed through (not the gateway's)
req GET /incidents/999999999
is "$CODE" 404 "unknown incident: the API's 404 passed through"
snap
is "$(last .last_request.path)" /api/incidents/999999999 "unknown incident was forwarded"
direct /api/incidents/999999999
is "$(printf '%s' "$BODY" | jq -c 'del(.error.target)')" \
    "$(printf '%s' "$DBODY" | jq -c 'del(.error.target)')" \
    "unknown incident: the API's 404 body passed through"
[ -n "$(hdr request-id)" ] &&
    [ "$(json .error.target)" != "$(hdr client-request-id)" ]
ok $? "unknown incident: the API's own 404 (and request-id), not a gateway error"

# ---- PATCH /incidents/{id} (allow_write=true) ----
pb='{ "status" : "Resolved",  "assignedTo":"secops@contoso.com", "comment":"via defgate \u00e9" }'
req PATCH "/incidents/$ID" -H 'Content-Type: application/json' --data-binary "$pb"
is "$CODE" 200 "PATCH /incidents/{id}: 200"
snap
is "$(last .last_request.method)" PATCH "PATCH forwarded as PATCH"
is "$(last .last_request.path)" "/api/incidents/$ID" "PATCH upstream path"
is "$(last .last_request.body)" "$pb" "PATCH body forwarded byte for byte"
is "$(last '.last_request.headers["content-type"]')" application/json \
    "PATCH Content-Type forwarded"
is "$(json '.status')" Resolved "PATCH answer is the updated incident"

# ---- POST /hunting ----
hb='{ "Query" : "DeviceProcessEvents | take 3" }'
req POST /hunting -H 'Content-Type: application/json' --data-binary "$hb"
is "$CODE" 200 "POST /hunting: 200"
is "$(json '.Results|length')" 3 "POST /hunting: 3 rows for take 3"
snap
is "$(last .last_request.method)" POST "hunting forwarded as POST"
# the Graph token carries ThreatHunting.Read.All: auto picks Graph
is "$(last .last_request.path)" /v1.0/security/runHuntingQuery "hunting upstream path (Graph)"
is "$(last .last_request.body)" "$hb" "hunting body forwarded byte for byte"

# ---- GET /hunting?query= ----
req GET /hunting -G --data-urlencode 'query=DeviceInfo | take 2'
is "$CODE" 200 "GET /hunting?query=: 200"
is "$(json '.Results|length')" 2 "GET /hunting?query=: 2 rows for take 2"
snap
is "$(last .last_request.method)" POST "GET /hunting becomes a POST upstream"
is "$(last .last_request.path)" /v1.0/security/runHuntingQuery "GET /hunting upstream path (Graph)"
is "$(last .last_request.body)" '{"Query":"DeviceInfo | take 2"}' \
    "GET /hunting: body built from the decoded query"
is "$(last '.last_request.query')" "" "GET /hunting: no query string upstream"
is "$(last '.last_request.headers["content-type"]')" application/json \
    "GET /hunting: Content-Type application/json upstream"
# quotes, backslashes, '+' and '&' survive the decoding and the JSON encoding
kql='DeviceInfo | where DeviceName == "a\b+c&d" | take 1'
req GET /hunting -G --data-urlencode "query=$kql"
snap
is "$(last '.last_request.body|fromjson|.Query')" "$kql" \
    "GET /hunting: special characters survive into the JSON Query"

# ---- headers: what goes upstream ----
req GET /incidents -H 'Authorization: Bearer client-supplied' \
    -H 'Cookie: session=1' -H 'Proxy-Authorization: Basic eDp5' \
    -H 'X-Custom: 1' -H 'Connection: keep-alive, X-Hop' -H 'X-Hop: 1' \
    -H 'Host: localhost:1' -H 'Accept: application/json;odata.metadata=minimal' \
    -H 'Keep-Alive: timeout=5' -H 'TE: trailers' -H 'Proxy-Connection: keep-alive'
is "$CODE" 200 "request with extra client headers: 200"
snap
for h in cookie proxy-authorization x-custom x-hop keep-alive te \
    proxy-connection; do
	is "$(last ".last_request.headers|has(\"$h\")")" false \
	    "client header $h not forwarded"
done
unlike "$(last '.last_request.headers.connection // ""')" X-Hop \
    "client Connection header not forwarded"
is "$(last .last_request.headers.host)" "127.0.0.1:$FAKE_PORT" \
    "upstream Host comes from api_url, not the client"
a=$(last .last_request.headers.authorization)
like "$a" "Bearer ey" "upstream Authorization is a Bearer JWT"
is "$a" "$AUTH" "upstream Authorization is the cached token, not the client's"
is "$(last .last_request.headers.accept)" 'application/json;odata.metadata=minimal' \
    "client Accept passed upstream"
rid=$(hdr client-request-id)
[ -n "$rid" ]; ok $? "client-request-id returned to the client ($rid)"
is "$(last '.last_request.headers["client-request-id"]')" "$rid" \
    "the same client-request-id was sent upstream"

req GET /incidents -H 'client-request-id: abc-123'
is "$(hdr client-request-id)" abc-123 "client's client-request-id returned"
snap
is "$(last '.last_request.headers["client-request-id"]')" abc-123 \
    "client's client-request-id kept upstream"
req GET /incidents -H 'client-request-id: a;b'
snap
rid=$(last '.last_request.headers["client-request-id"]')
is "$(hdr client-request-id)" "$rid" "an unsafe client-request-id is replaced consistently"
[ "$rid" != "a;b" ] && [ -n "$rid" ]; ok $? "an unsafe client-request-id is not forwarded"

# ---- one token for many requests; connections reused ----
# The fake counts every TLS connection it accepts, its own /_sim/stats
# calls included (one per snap): conns() is what defgate opened.
conns() { echo $(( $(last .connections) - NSNAP )); }
NSNAP=0
snap() { STATS=$(fake_ctl stats); NSNAP=$((NSNAP + 1)); }
snap
is "$(last .token_requests_by_audience.defender)" 1 "one Defender token request so far"
c0=$(conns)
is "$(count 50 /incidents 1)" 50 "50 sequential GET /incidents: all 200"
snap
is "$(conns)" "$c0" "50 sequential requests opened no new upstream connection"
is "$(count 50 /incidents 50)" 50 "50 parallel GET /incidents: all 200"
is "$(count 25 "/incidents/$ID" 25)" 25 "25 parallel GET /incidents/{id}: all 200"
snap
is "$(last .token_requests_by_audience.defender)" 1 "still one Defender token request after 140 requests"
c2=$(conns)
[ "$c2" -le $((c0 + 8)) ] 2>/dev/null
ok $? "parallel requests stay within max_upstream_connections ($c0 -> $c2)"
is "$(count 20 /incidents 1)" 20 "20 more sequential requests: all 200"
snap
is "$(conns)" "$c2" "idle upstream connections are reused ($c2)"

done_testing

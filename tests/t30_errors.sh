#!/bin/bash
# t30_errors: the gateway's own errors (shape, codes, Allow), bad paths and
# queries never forwarded, body limits, upstream errors passed through or
# mapped (429, 5xx, reset, timeout), TLS refusal, https-only api_url.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

api_count() { fake_stat .api_requests; }
# raw BYTES: one request over a raw socket; sets RAW (whole answer) and RCODE
raw() {
	RAW= RCODE=
	exec 3<>"/dev/tcp/127.0.0.1/$GW_PORT" || return 1
	printf '%s' "$1" >&3
	RAW=$(timeout 5 cat <&3 | tr -d '\0')
	exec 3<&- 3>&-
	# in bash: the second word of the status line; the body after the
	# first empty line (CRLF or LF), its trailing newlines dropped as $()
	RCODE=${RAW%%$'\n'*}
	RCODE=${RCODE#* }
	RCODE=${RCODE%% *}
	RBODY=
	if [[ $RAW =~ $'\n'$'\r'?$'\n' ]]; then
		RBODY=${RAW#*"${BASH_REMATCH[0]}"}
		chomp RBODY
	fi
}
# gw_error CODE STATUS NAME: the gateway's error shape for the last req
gw_error() {
	is "$CODE" "$2" "$3: $2"
	is "$(json .error.code)" "$1" "$3: error.code $1"
	is "$(json .error.target)" "$(hdr client-request-id)" \
	    "$3: error.target is the request id"
}
ms() { date +%s%3N; }
ERRBODIES=$T/error-bodies
keep() { printf '%s\n' "$BODY" >> "$ERRBODIES"; }

start_fake
start_defgate --set timeout=2
wait_ready || bail "defgate did not become ready: $(cat "$GW_LOG")"
req GET /incidents
is "$CODE" 200 "baseline GET /incidents: 200"
ID=$(json '.value[0].incidentId')

# ---- 404 / 405 / 403 ----
a0=$(api_count)
req GET /nope
gw_error NotFound 404 "unknown path"
[ -n "$(json .error.target)" ]; ok $? "unknown path: error.target is not empty"
like "$(hdr Content-Type)" application/json "unknown path: JSON Content-Type"
like "$(json .error.message)" /incidents "unknown path: message lists the endpoints"
keep
req GET /api/users
is "$CODE" 404 "GET /api/users (no row of the route table) is not a route: 404"
req POST /incidents -H 'Content-Type: application/json' -d '{}'
gw_error MethodNotAllowed 405 "POST /incidents"
is "$(hdr Allow)" GET "POST /incidents: Allow: GET"
keep
req DELETE "/incidents/$ID"
gw_error MethodNotAllowed 405 "DELETE /incidents/{id}"
is "$(hdr Allow)" "GET, PATCH" "DELETE /incidents/{id}: Allow: GET, PATCH"
req PUT /hunting -d '{}'
is "$(hdr Allow)" "GET, POST" "PUT /hunting: 405 Allow: GET, POST"
req POST /status -d x
is "$CODE/$(hdr Allow)" "405/GET" "POST /status: 405 Allow: GET"
req PATCH "/incidents/$ID" -H 'Content-Type: application/json' \
    -d '{"status":"Resolved"}'
gw_error WriteDisabled 403 "PATCH without allow_write"
like "$(json .error.message)" allow_write "WriteDisabled names allow_write"
keep
is "$(api_count)" "$a0" "404/405/403 answers were not forwarded"

# ---- bad paths: 400, never forwarded ----
for p in '/incidents/..%2f..%2fetc' '/incidents/%2e%2e' '/incidents/%2E%2E' \
    '/incidents/a%2Fb' '/incidents/a%2fb' '/incidents/a%5Cb' '/incidents/a\b' \
    '/incidents/1.2' '/incidents/..' '/incidents/.' '/hunting/../incidents' \
    '/incidents/../incidents' '/./incidents' '/incidents/1%00' \
    '/incidents/1%0d%0aX-Injected:%201' '/incidents/%252e%252e' \
    '/incidents/1%'; do
	a0=$(api_count)
	req GET "$p" --path-as-is
	is "$CODE/$(json .error.code)" 400/BadRequest "GET $p: 400 BadRequest"
	is "$(api_count)" "$a0" "GET $p: not forwarded"
	keep
done

# raw control or non-ASCII bytes in the query and the path (raw socket)
for q in $'a=\x01' $'a=\x7f' $'a=b\x1bc' $'a=\xff' $'a=%41\x08'; do
	a0=$(api_count)
	raw "GET /incidents?$q HTTP/1.1"$'\r\nHost: localhost\r\nConnection: close\r\n\r\n'
	is "$RCODE" 400 "raw query $(printf '%q' "$q"): 400"
	is "$(api_count)" "$a0" "raw query $(printf '%q' "$q"): not forwarded"
done
a0=$(api_count)
raw $'GET /incidents/1\x01 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'
is "$RCODE" 400 "raw control byte in the path: 400"
is "$(api_count)" "$a0" "raw control byte in the path: not forwarded"

# absolute-form request targets: defgate is not a forward proxy
st0=$(fake_ctl stats)
raw $'GET http://evil.example/incidents HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n'
is "$RCODE" 400 "absolute-form http://evil.example/incidents: 400"
like "$RBODY" BadRequest "absolute-form: BadRequest JSON"
raw "GET https://127.0.0.1:$FAKE_PORT/api/incidents HTTP/1.1"$'\r\nHost: localhost\r\nConnection: close\r\n\r\n'
is "$RCODE" 400 "absolute-form naming the API host itself: 400"
st1=$(fake_ctl stats)
is "$(printf '%s' "$st1" | jq .api_requests)" "$(printf '%s' "$st0" | jq .api_requests)" \
    "absolute-form requests were not forwarded"
# the fake counts its own /_sim/stats connections: st1's is the only new one
is "$(printf '%s' "$st1" | jq .connections)" "$(printf '%s' "$st0" | jq '.connections + 1')" \
    "absolute-form requests caused no upstream connection"
unlike "$(cat "$GW_LOG")" "evil.example" "no attempt to reach evil.example logged"

# ---- bad hunting bodies ----
for b in 'not json' '{"query":"DeviceInfo | take 1"}' '{"Query":""}' \
    '{"Query":5}' '["DeviceInfo"]' '{"Query":"x"'; do
	a0=$(api_count)
	req POST /hunting -H 'Content-Type: application/json' --data-binary "$b"
	is "$CODE/$(json .error.code)" 400/BadRequest "POST /hunting $b: 400"
	is "$(api_count)" "$a0" "POST /hunting $b: not forwarded"
	keep
done
a0=$(api_count)
req POST /hunting -H 'Content-Type: application/json'
is "$CODE/$(json .error.code)" 400/BadRequest "POST /hunting without a body: 400"
req GET /hunting
is "$CODE/$(json .error.code)" 400/BadRequest "GET /hunting without query=: 400"
req GET '/hunting?query='
is "$CODE" 400 "GET /hunting?query= (empty): 400"
is "$(api_count)" "$a0" "bad hunting requests were not forwarded"

# ---- body limits (max_body default 1 MiB) ----
head -c 2097152 /dev/zero | tr '\0' a > "$T/big"
a0=$(api_count)
req POST /hunting -H 'Content-Type: application/json' --data-binary "@$T/big"
gw_error PayloadTooLarge 413 "2 MiB body with Content-Length"
like "$(json .error.message)" max_body "413 names max_body"
keep
req POST /hunting -H 'Content-Type: application/json' \
    -H 'Transfer-Encoding: chunked' --data-binary "@$T/big"
gw_error PayloadTooLarge 413 "2 MiB chunked body"
is "$(api_count)" "$a0" "oversize bodies were not forwarded"
req GET /incidents
is "$CODE" 200 "after the 413s defgate still serves GET /incidents"
a0=$(api_count)
# just under the limit is read fully and judged on content (not JSON: 400)
head -c 1048000 /dev/zero | tr '\0' a > "$T/under"
req POST /hunting -H 'Content-Type: application/json' -H 'Expect:' \
    --data-binary "@$T/under"
is "$CODE/$(json .error.code)" 400/BadRequest "a body under max_body is read (then 400: not JSON)"
raw $'POST /hunting HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n'
is "$RCODE" 400 "both Transfer-Encoding and Content-Length: 400"
is "$(api_count)" "$a0" "... not forwarded"
raw $'POST /hunting HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 99999999999\r\nConnection: close\r\n\r\n'
is "$RCODE" 413 "huge Content-Length announced: 413 before any body"

# ---- upstream statuses passed through ----
AUTH=$(fake_stat .last_request.headers.authorization)
# direct_fault FAULT: the body and headers the fake itself answers with it
direct_fault() {
	fake_fault "$1"
	DBODY=$(curl -sS --cacert "$CA" -D "$T/dh" -H "Authorization: $AUTH" \
	    "$FAKE_URL/api/incidents")
}
# same_error NAME: the body is the fake's own error (its target is per request)
same_error() {
	is "$(printf '%s' "$BODY" | jq -c 'del(.error.target)')" \
	    "$(printf '%s' "$DBODY" | jq -c 'del(.error.target)')" \
	    "$1: body passed through unchanged"
	[ -n "$(hdr request-id)" ] &&
	    [ "$(json .error.target)" != "$(hdr client-request-id)" ]
	ok $? "$1: the API's own error (and request-id), not a gateway error"
}
dhdr() { grep -i "^$1:" "$T/dh" | head -1 | cut -d: -f2- | tr -d '\r' | sed 's/^ //'; }

f429='{"target":"api","kind":"status","status":429,"retry_after":7,"count":1}'
direct_fault "$f429"
tok0=$(fake_stat .token_requests)
fake_fault "$f429"
req GET /incidents
is "$CODE" 429 "API 429: client gets 429"
is "$(hdr Retry-After)" 7 "API 429: Retry-After: 7 passed through"
same_error "API 429"
is "$(hdr Content-Type)" "$(dhdr Content-Type)" "API 429: Content-Type unchanged"
is "$(fake_stat .token_requests)" "$tok0" "API 429: no token refresh"
req GET /incidents
is "$CODE" 200 "after the 429 fault: 200 again"
for s in 500 503; do
	f='{"target":"api","kind":"status","status":'$s',"count":1}'
	direct_fault "$f"
	fake_fault "$f"
	req GET "/incidents/$ID"
	is "$CODE" "$s" "API $s passed through"
	same_error "API $s"
	[ -n "$BODY" ]; ok $? "API $s: body not empty"
done

# reset: count 2, as libcurl may retry once on a reused connection
fake_fault '{"target":"api","kind":"reset","count":2}'
req GET /incidents
gw_error UpstreamError 502 "API connection reset"
keep
fake_ctl reset >/dev/null
req GET /incidents
is "$CODE" 200 "after the reset fault: 200 again"

fake_fault '{"target":"api","kind":"hang","count":1}'
t0=$(ms)
req GET /incidents --max-time 20
t1=$(ms)
gw_error UpstreamTimeout 504 "API hangs beyond timeout=2"
el=$((t1 - t0))
[ "$el" -ge 1800 ] && [ "$el" -le 4500 ]
ok $? "504 after about 2 s (${el} ms)"
like "$(json .error.message)" timeout "504 message mentions the timeout"
keep
req GET /incidents
is "$CODE" 200 "after the hang: 200 again"

# ---- untrusted upstream certificate ----
FAKE1_URL=$FAKE_URL FAKE1_PID=$FAKE_PID FAKE1_PORT=$FAKE_PORT CA1=$CA
CA=$T/ca2.pem
start_fake
FAKE2_URL=$FAKE_URL CA2=$CA
FAKE_URL=$FAKE1_URL FAKE_PID=$FAKE1_PID FAKE_PORT=$FAKE1_PORT CA=$CA1
GW1=$GW
GW_API=$FAKE2_URL start_defgate
wait_ready || bail "defgate (second) did not become ready: $(cat "$GW_LOG")"
req GET /incidents
gw_error UpstreamError 502 "API with an untrusted certificate"
m=$(json .error.message)
case "$m" in *TLS*|*certificate*|*SSL*) r=0 ;; *) r=1 ;; esac
ok $r "untrusted certificate: the message says TLS/certificate ($m)"
keep
a2=$(curl -sS --cacert "$CA2" "$FAKE2_URL/_sim/stats" | jq -r .api_requests)
is "$a2" 0 "no request reached the API with the untrusted certificate"

# token endpoint with an untrusted certificate: no credential is sent
GW_AUTHORITY=$FAKE2_URL start_defgate
i=0
while [ "$(curl -s "$GW/status.json" | jq -r '.token.last_error != null')" != true ]; do
	i=$((i + 1)); [ "$i" -gt 100 ] && break
	sleep 0.1
done
req GET /readyz
gw_error TokenUnavailable 503 "token endpoint with an untrusted certificate: /readyz"
req GET /incidents
gw_error TokenUnavailable 503 "token endpoint with an untrusted certificate: GET /incidents"
m=$(json .error.message)
case "$m" in *TLS*|*certificate*|*SSL*) r=0 ;; *) r=1 ;; esac
ok $r "token TLS failure explained in the 503 ($m)"
keep
t2=$(curl -sS --cacert "$CA2" "$FAKE2_URL/_sim/stats" | jq -r .token_requests)
is "$t2" 0 "no token request (no secret) reached the untrusted endpoint"
GW=$GW1

# ---- https only ----
for k in api_url authority_host; do
	if [ $k = api_url ]; then
		env=DEFGATE_API_URL
	else
		env=AZURE_AUTHORITY_HOST
	fi
	out=$(env AZURE_TENANT_ID=$TENANT AZURE_CLIENT_ID=$CLIENT \
	    AZURE_CLIENT_SECRET=$SECRET AZURE_AUTHORITY_HOST=$FAKE_URL \
	    DEFGATE_API_URL=$FAKE_URL DEFGATE_CA_FILE=$CA \
	    $env="http://127.0.0.1:$FAKE_PORT" \
	    timeout 10 "$DEFGATE" --listen 127.0.0.1:0 2>&1)
	rc=$?
	is "$rc" 2 "http:// $k refused at startup (exit 2)"
	like "$out" "$k ($env)" "the startup error names $k ($env)"
	like "$out" "https" "the startup error says https"
	unlike "$out" "$SECRET" "the startup error does not show the secret"
done

# ---- no secret or token in any error body ----
sig=${AUTH##*.}
unlike "$(cat "$ERRBODIES")" "$SECRET" "the secret is in no error body"
unlike "$(cat "$ERRBODIES")" "$sig" "the token signature is in no error body"
unlike "$(cat "$T"/defgate.*.log)" "$sig" "the token signature is in no log"

done_testing

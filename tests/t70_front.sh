#!/bin/bash
# t70_front: the HTTP front as a trust boundary: the
# desync probe set (framing exactly as RFC 9112 asks, forwarded exactly or
# not at all), Host/Origin/Sec-Fetch-Site (DNS rebinding, cross-site
# POST), 415, HEAD and OPTIONS with curl, keep-alive after defgate's own
# 4xx, the strict hunting body, upstream framing and encoding (a raw HTTPS
# stand-in, tests/rawupstream.py) and allow_from at accept time.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

RAWHTTP="python3 $top_srcdir/tests/rawhttp.py"
api_count() { fake_stat .api_requests; }
# probe NAME WANT_STATUS WANT_CODE BYTES: one raw request; the answer is the
# JSON error shape, the connection is closed, nothing reached the API
# raw BYTES [rawhttp.py send options]: one raw request; rawhttp.py's lines
# split in bash (no sed, head or cut per request): RS the first STATUS line
# ("<code> <content-type> <x-cache>"), RB every BODY, RE every END line
raw() {
	local _l _b=$1
	shift
	out=$($RAWHTTP send "$GW_PORT" "$_b" "$@")
	RS= RB= RE=
	while IFS= read -r _l; do
		case $_l in
		"STATUS "*) [ -n "$RS" ] || RS=${_l#STATUS } ;;
		"BODY "*) RB+=${_l#BODY }$'\n' ;;
		"END "*) RE+=${_l#END }$'\n' ;;
		esac
	done <<<"$out"
	RE=${RE%$'\n'}
}
probe() {
	_name=$1 _st=$2 _code=$3
	a0=$(api_count)
	raw "$4"
	is "${RS%% *}" "$_st" "$_name: $_st"
	like "$RS" application/json "$_name: JSON"
	is "$(jq -r .error.code 2>/dev/null <<<"$RB")" \
	    "$_code" "$_name: error.code $_code"
	is "$RE" closed "$_name: connection closed"
	is "$(api_count)" "$a0" "$_name: nothing forwarded"
}
H='Host: localhost\r\n'
J='Content-Type: application/json\r\n'

start_fake
start_defgate
wait_ready || bail "defgate did not become ready: $(cat "$GW_LOG")"

# ---- framing (desync probes) ----
probe "two Content-Length values" 400 BadRequest \
    "POST /hunting HTTP/1.1\r\n$H${J}Content-Length: 2\r\nContent-Length: 40\r\n\r\n{}GET /incidents HTTP/1.1\r\n$H\r\n"
probe "obs-fold" 400 BadRequest \
    "GET /incidents HTTP/1.1\r\n${H}X-A: a\r\n b\r\n\r\n"
probe "folded Content-Length" 400 BadRequest \
    "POST /hunting HTTP/1.1\r\n$H${J}Content-Length:\r\n 2\r\n\r\n{}"
probe "whitespace before the colon" 400 BadRequest \
    "GET /incidents HTTP/1.1\r\n${H}Content-Length : 0\r\n\r\n"
probe "NUL in the target" 400 BadRequest \
    "GET /incidents?\$top=1\x00&\$skip=1 HTTP/1.1\r\n$H\r\n"
probe "NUL in a field" 400 BadRequest \
    "GET /incidents HTTP/1.1\r\n${H}X-A: a\x00b\r\n\r\n"
probe "bare CR in a field" 400 BadRequest \
    "GET /incidents HTTP/1.1\r\n${H}X-A: a\rContent-Length: 5\r\n\r\n"
probe "bare CR in the target" 400 BadRequest \
    "GET /incidents?a\rb HTTP/1.1\r\n$H\r\n"
probe "control byte in a field" 400 BadRequest \
    "GET /incidents HTTP/1.1\r\n${H}X-A: a\x01b\r\n\r\n"
probe "bare LF line ends" 400 BadRequest \
    "GET /incidents HTTP/1.1\n${H%\\r\\n}\n\n"
probe "two Host fields" 400 BadRequest \
    "GET /incidents HTTP/1.1\r\n${H}Host: evil.example\r\n\r\n"
probe "no Host on HTTP/1.1" 400 BadRequest \
    "GET /incidents HTTP/1.1\r\n\r\n"
probe "Transfer-Encoding with Content-Length" 400 BadRequest \
    "POST /hunting HTTP/1.1\r\n$H${J}Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n"
probe "Transfer-Encoding: gzip, chunked" 501 NotImplemented \
    "POST /hunting HTTP/1.1\r\n$H${J}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"
probe "Transfer-Encoding: identity" 501 NotImplemented \
    "POST /hunting HTTP/1.1\r\n$H${J}Transfer-Encoding: identity\r\n\r\n"
probe "Transfer-Encoding twice" 501 NotImplemented \
    "POST /hunting HTTP/1.1\r\n$H${J}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"

# ---- forwarded exactly or not at all ----
q16=$(head -c 16376 /dev/zero | tr '\0' a)	# "/incidents?" ... = 16384
t16="/incidents?\$filter=$q16"
t16=${t16:0:16384}
is "${#t16}" 16384 "the 16 KiB target is 16384 bytes"
a0=$(api_count)
out=$($RAWHTTP send "$GW_PORT" "GET $t16 HTTP/1.1\r\n${H}Connection: close\r\n\r\n")
like "$out" "STATUS " "16 KiB target: answered"
is "$(fake_stat .last_request.query | md5sum)" "$(printf '%s\n' "${t16#/incidents?}" | md5sum)" \
    "16 KiB target: forwarded byte for byte"
is "$(api_count)" "$((a0 + 1))" "16 KiB target: forwarded once"
probe "target of 16 KiB + 1" 414 URITooLong \
    "GET ${t16}b HTTP/1.1\r\n$H\r\n"
probe "target of 30 KiB" 414 URITooLong \
    "GET /incidents?\$filter=$(head -c 30000 /dev/zero | tr '\0' a) HTTP/1.1\r\n$H\r\n"
big=$(head -c 16300 /dev/zero | tr '\0' b)
out=$($RAWHTTP send "$GW_PORT" "GET /healthz HTTP/1.1\r\n${H}X-Big: $big\r\nConnection: close\r\n\r\n")
like "$out" "STATUS 200" "header section just under 16 KiB: served"
probe "header section over 16 KiB" 431 RequestHeaderFieldsTooLarge \
    "GET /incidents HTTP/1.1\r\n${H}X-Big: ${big}bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\r\n\r\n"
probe "header section of 28 KiB in 4 fields" 431 RequestHeaderFieldsTooLarge \
    "GET /incidents HTTP/1.1\r\n${H}$(for i in 1 2 3 4; do printf 'X-%d: %s' $i "${big:0:7000}"; printf '\\r\\n'; done)\r\n"
probe "400 header fields" 431 RequestHeaderFieldsTooLarge \
    "GET /incidents HTTP/1.1\r\n${H}$(for i in $(seq 400); do printf 'X-%d: c\\r\\n' $i; done)\r\n"
# beyond the 32 KiB pool libmicrohttpd answers itself (README, Limits): the
# status is right and nothing is forwarded, but the body is its HTML
a0=$(api_count)
out=$($RAWHTTP send "$GW_PORT" "GET /incidents?\$filter=$(head -c 33000 /dev/zero | tr '\0' a) HTTP/1.1\r\n$H\r\n")
like "$out" "STATUS 414" "target beyond the pool: libmicrohttpd's 414"
like "$out" "END closed" "... connection closed"
out=$($RAWHTTP send "$GW_PORT" "GET /incidents HTTP/1.1\r\n${H}X-Big: $(head -c 33000 /dev/zero | tr '\0' a)\r\n\r\n")
like "$out" "STATUS 431" "header section beyond the pool: libmicrohttpd's 431"
is "$(api_count)" "$a0" "... neither forwarded"

# ---- Host, Origin, Sec-Fetch-Site, media type ----
for p in /incidents /status.json /status /healthz; do
	req GET "$p" -H 'Host: rebind.evil.example'
	is "$CODE/$(json .error.code)" 421/MisdirectedRequest "DNS rebinding Host on $p: 421"
done
req GET /incidents -H "Host: localhost:$GW_PORT"
is "$CODE" 200 "Host: localhost:port accepted"
req GET /incidents -H "Host: [::1]:$GW_PORT"
is "$CODE" 200 "Host: [::1]:port accepted"
a0=$(api_count)
req POST /hunting -H 'Content-Type: text/plain' -H 'Origin: http://evil.example' \
    -H 'Sec-Fetch-Site: cross-site' --data-binary '{"Query":"DeviceInfo | take 1"}'
is "$CODE/$(json .error.code)" 403/CrossOriginForbidden "cross-site text/plain POST: 403"
req POST /hunting -H 'Content-Type: application/json' -H 'Origin: http://evil.example' \
    --data-binary '{"Query":"DeviceInfo | take 1"}'
is "$CODE" 403 "foreign Origin: 403"
req POST /hunting -H 'Content-Type: application/json' -H 'Origin: null' \
    --data-binary '{"Query":"DeviceInfo | take 1"}'
is "$CODE" 403 "Origin: null: 403"
req GET /incidents -H 'Sec-Fetch-Site: cross-site'
is "$CODE" 403 "Sec-Fetch-Site: cross-site: 403"
req POST /hunting -H 'Content-Type: text/plain' --data-binary '{"Query":"DeviceInfo | take 1"}'
is "$CODE/$(json .error.code)" 415/UnsupportedMediaType "text/plain POST: 415"
req POST /hunting --data-binary '{"Query":"DeviceInfo | take 1"}'
is "$CODE" 415 "form-encoded POST (curl -d): 415"
is "$(api_count)" "$a0" "refused browser-shaped requests were not forwarded"
req GET /incidents -H "Origin: http://localhost:$GW_PORT" -H 'Sec-Fetch-Site: same-origin'
is "$CODE" 200 "same-origin request from the status page: 200"
is "$(hdr Access-Control-Allow-Origin)" "" "CORS off by default"
stop_defgate

start_defgate --set server_names=defgate,gw.internal \
    --set cors_origins=https://soc.example.com
wait_ready
req GET /incidents -H 'Host: defgate:8080'
is "$CODE" 200 "server_names: Host defgate accepted"
req GET /incidents -H 'Host: other'
is "$CODE" 421 "server_names: other names still 421"
req OPTIONS /hunting -H 'Origin: https://soc.example.com' \
    -H 'Access-Control-Request-Method: POST'
is "$CODE" 204 "CORS preflight from a listed origin: 204"
is "$(hdr Access-Control-Allow-Origin)" https://soc.example.com "... Access-Control-Allow-Origin"
req POST /hunting -H 'Content-Type: application/json' -H 'Origin: https://soc.example.com' \
    --data-binary '{"Query":"DeviceInfo | take 1"}'
is "$CODE" 200 "POST from a listed origin: 200"
is "$(hdr Access-Control-Allow-Origin)" https://soc.example.com \
    "... with Access-Control-Allow-Origin"
req GET /incidents -H 'Origin: https://other.example.com'
is "$CODE/$(hdr Access-Control-Allow-Origin)" 403/ "an unlisted origin: 403, no CORS header"
stop_defgate

# ---- HTTP behaviour clients expect (curl) ----
start_defgate
wait_ready
for p in /healthz /readyz /status /status.json /incidents; do
	c=$(curl -sS -I -o /dev/null -w '%{http_code}' "$GW$p")
	is "$c" 200 "HEAD $p: 200"
done
c=$(curl -sS -I "$GW/status.json" | grep -ci '^content-length: [1-9]')
is "$c" 1 "HEAD /status.json: Content-Length of the GET body"
req OPTIONS /incidents
is "$CODE/$(hdr Allow)" "204/GET, HEAD, OPTIONS" "OPTIONS /incidents: Allow"
req OPTIONS /hunting
is "$(hdr Allow)" "GET, POST, HEAD, OPTIONS" "OPTIONS /hunting: Allow"
# keep-alive: curl reuses its connection after defgate's own 404/405/400
out=$(curl -sS -v -o /dev/null -o /dev/null -o /dev/null "$GW/nope" \
    "$GW/incidents/1.2" "$GW/healthz" 2>&1)
is "$(printf '%s\n' "$out" | grep -c 'Re-using existing connection')" 2 \
    "keep-alive survives defgate's own 4xx (curl reuses the connection)"
out=$($RAWHTTP send "$GW_PORT" "POST /incidents HTTP/1.1\r\n${H}${J}Content-Length: 2\r\n\r\n{}GET /healthz HTTP/1.1\r\n${H}Connection: close\r\n\r\n")
is "$(printf '%s\n' "$out" | sed -n 's/^STATUS \([0-9]*\).*/\1/p' | tr '\n' ' ')" \
    "405 200 " "pipelined request behind a 405 with a body is answered"

# strict hunting body
a0=$(api_count)
for b in '{"Query":"DeviceInfo | take 1"}{"Query":"x"}' \
    '{"Query":"DeviceInfo | take 1"} x' '{"Query":"a","Query":"b"}' \
    '{"Query":"a","Extra":1}' '{"Query":"a","Timespan":5}' \
    '{"Query":["a"]}' '[{"Query":"a"}]'; do
	req POST /hunting -H 'Content-Type: application/json' --data-binary "$b"
	is "$CODE/$(json .error.code)" 400/BadRequest "hunting body $b: 400"
done
req POST /hunting -H 'Content-Type: application/json' \
    --data-binary '{"Query":"a","Extra":1}'
like "$(json .error.message)" Extra "the 400 names the unknown member"
is "$(api_count)" "$a0" "bad hunting bodies were not forwarded"
req POST /hunting -H 'Content-Type: application/json' \
    --data-binary '{"Query":"DeviceInfo | take 1","Timespan":"P1D"}  '
is "$CODE" 200 "Query with Timespan and trailing whitespace: 200"
stop_defgate

# ---- a half-closed client gets its answer ----
# shutdown(SHUT_WR) after the request is legal (RFC 9112 section 9.6):
# end of input is not leaving (half_close = on, the default)
start_defgate --set allow_write=true --set cache=on
wait_ready
C='Connection: close\r\n'
raw "GET /incidents HTTP/1.1\r\n${H}${C}\r\n" --shut --wait 10
is "${RS%% *}/$RE" 200/closed "half-closed GET /incidents: 200, then closed"
ID=$(jq -r '.value[0].incidentId' <<<"$RB")
[ -n "$ID" ] && [ "$ID" != null ]
ok $? "... with the list ($ID first)"
raw "GET /incidents/$ID HTTP/1.1\r\n${H}\r\n" --shut --wait 10
is "${RS%% *}/$(jq -r .incidentId <<<"$RB")" "200/$ID" \
    "half-closed keep-alive GET /incidents/$ID: 200"
# longer than the back thread's once-a-second wake-up of waiting clients
a0=$(api_count)
fake_fault '{"target":"api","kind":"hang","delay_ms":1500}' >/dev/null
raw "GET /incidents/$ID HTTP/1.1\r\n${H}${C}Cache-Control: no-cache\r\n\r\n" \
    --shut --wait 10
is "${RS%% *}" 200 "half-closed, the API answering after 1.5 s: 200"
# identical GETs in flight: the second, half-closed, waits for the first
fake_fault '{"target":"api","kind":"hang","delay_ms":1500,"path":"/api/incidents"}' \
    >/dev/null
$RAWHTTP send "$GW_PORT" "GET /incidents?\$top=3 HTTP/1.1\r\n${H}${C}\r\n" \
    --shut --wait 10 > "$T/hc1.out" &
hc1=$!
sleep 0.5
raw "GET /incidents?\$top=3 HTTP/1.1\r\n${H}${C}\r\n" --shut --wait 10
wait $hc1
is "$(sed -n 's/^STATUS //p' "$T/hc1.out")" \
    "200 application/json; charset=utf-8 MISS" \
    "... the first of two identical half-closed GETs: 200 MISS"
is "$RS" "200 application/json; charset=utf-8 COALESCED" \
    "... the second, half-closed too: answered from the first's exchange"
is "$(( $(api_count) - a0 ))" 2 "... two upstream calls for the three"
a0=$(api_count)
b='{"Query":"DeviceInfo | take 1"}'
raw "POST /hunting HTTP/1.1\r\n${H}${J}${C}Content-Length: ${#b}\r\n\r\n$b" \
    --shut --wait 10
is "${RS%% *}" 200 "half-closed POST /hunting: 200"
b='{"status":"InProgress"}'
raw "PATCH /incidents/$ID HTTP/1.1\r\n${H}${J}${C}Content-Length: ${#b}\r\n\r\n$b" \
    --shut --wait 10
is "${RS%% *}/$(jq -r .status <<<"$RB")" 200/InProgress \
    "half-closed PATCH /incidents/$ID: answered with the change"
is "$(( $(api_count) - a0 ))" 2 "... each sent upstream once"
stop_defgate
# half_close = off: end of input means the client left (nginx's default)
start_defgate --set half_close=off
wait_ready
fake_fault '{"target":"api","kind":"hang","delay_ms":1000}' >/dev/null
raw "GET /incidents/$ID HTTP/1.1\r\n${H}${C}Cache-Control: no-cache\r\n\r\n" \
    --shut --wait 10
is "${RS:-none}/$RE" none/closed \
    "half_close=off: a half-closed GET gets no answer"
stop_defgate

# bad server_names / cors_origins values are refused at start (exit 2)
out=$(env AZURE_TENANT_ID=$TENANT AZURE_CLIENT_ID=$CLIENT AZURE_CLIENT_SECRET=$SECRET \
    "$DEFGATE" --listen 127.0.0.1:0 --set 'server_names=a/b' \
    --set cors_origins=soc.example.com --check 2>&1)
is "$?" 2 "bad server_names and cors_origins: exit 2"
like "$out" "server_names (DEFGATE_SERVER_NAMES)" "... names server_names"
like "$out" "cors_origins (DEFGATE_CORS_ORIGINS)" "... names cors_origins"

# ---- upstream framing and encoding (tests/rawupstream.py) ----
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -nodes -keyout "$T/raw.key" \
    -out "$T/raw.pem" -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1 ||
    bail "openssl could not make a test certificate"
python3 "$top_srcdir/tests/rawupstream.py" "$T/raw.pem" "$T/raw.key" \
    "$T/raw.port" 2>>"$T/raw.log" &
PIDS="$PIDS $!"
wait_for_file "$T/raw.port" || bail "rawupstream did not start"
RAW_URL=https://127.0.0.1:$(cat "$T/raw.port")
FAKE_CA=$CA
CA=$T/raw.pem GW_API=$RAW_URL GW_AUTHORITY=$RAW_URL start_defgate
CA=$FAKE_CA
wait_ready || bail "defgate on rawupstream did not become ready"
req GET /incidents/1000
is "$CODE" 200 "rawupstream baseline: 200"
req GET /incidents/1001
is "$CODE/$(json .error.code)" 502/UpstreamError \
    "chunked response that also claims Content-Length: 502, not a truncated 200"
req GET /incidents/1002
is "$CODE/$(json .error.code)" 502/UpstreamError \
    "gzip body the client did not ask for: 502, never without its Content-Encoding"
req GET /incidents/1003
is "$CODE" 502 "two different Content-Length headers: 502"
stop_defgate

# ---- allow_from at accept time ----
start_defgate --set max_clients=4 --set allow_from=127.0.0.2/32
out=$($RAWHTTP slots "$GW_PORT" 4 127.0.0.3 127.0.0.2)
is "$out" "GOOD 200" "4 connections from a disallowed peer hold no slot (max_clients=4)"
done_testing

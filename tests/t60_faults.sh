#!/bin/bash
# Fault injection: the token endpoint, the API, clients and the
# process misbehave; defgate answers clearly, never hangs, keeps serving.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
ulimit -n 4096 2>/dev/null

start_fake
T0_API=$FAKE_URL

# ---------------------------------------------------------------- token
# Each Entra error: 503 TokenUnavailable naming the AADSTS code and a hint.
check_aadsts() {	# status error code hint-substring
	fake_ctl reset '{}' >/dev/null
	fake_fault "{\"target\":\"token\",\"kind\":\"status\",\"status\":$1,\"error\":\"$2\",\"aadsts\":$3,\"count\":-1}"
	start_defgate
	req GET /incidents
	is "$CODE" 503 "token AADSTS$3: 503"
	like "$(json .error.message)" "AADSTS$3" "token AADSTS$3: code named"
	like "$(json .error.message)" "$4" "token AADSTS$3: hint given"
	stop_defgate
}
check_aadsts 401 invalid_client 7000215 "Secret ID"
check_aadsts 401 invalid_client 7000222 "expired"
check_aadsts 400 unauthorized_client 700016 "consent"
check_aadsts 400 invalid_request 90002 "tenant"
check_aadsts 400 invalid_resource 500011 "service principal"

# 5xx from the token endpoint
fake_ctl reset '{}' >/dev/null
fake_fault '{"target":"token","kind":"status","status":503,"count":-1}'
start_defgate
req GET /incidents
is "$CODE" 503 "token endpoint 503: clear 503"
like "$(json .error.message)" "temporarily_unavailable" "token 503: error class named"
fake_ctl reset '{}' >/dev/null
wait_ready; ok $? "token 503: service back when the fault ends"
stop_defgate

# a token response that never completes: bounded by token_timeout
fake_fault '{"target":"token","kind":"hang","delay_ms":20000}'
start_defgate --set token_timeout=1
t0=$(date +%s%N)
req GET /incidents --max-time 10
t1=$(date +%s%N)
is "$CODE" 503 "token endpoint hangs: 503"
like "$(json .error.message)" "timed out" "token hang: says it timed out"
[ $(( (t1 - t0) / 1000000 )) -lt 5000 ]; ok $? "token hang: answered within the timeout"
stop_defgate
fake_ctl reset '{}' >/dev/null

# the token endpoint closes the connection without answering
fake_fault '{"target":"token","kind":"close","count":1}'
start_defgate
req GET /incidents
is "$CODE" 503 "token endpoint closes the connection: 503"
wait_ready; ok $? "token close: recovers"
stop_defgate

# connection refused and TLS handshake failure on the token endpoint
GW_AUTHORITY=https://127.0.0.1:1 start_defgate
req GET /incidents
is "$CODE" 503 "token endpoint refused: 503"
like "$(json .error.message)" "onnect" "token refused: says it cannot connect"
PLAIN=$GW_PORT		# a plain-HTTP port: TLS to it fails in the handshake
GW_AUTHORITY=https://127.0.0.1:$PLAIN start_defgate
req GET /incidents
is "$CODE" 503 "token endpoint TLS handshake failure: 503"
like "$(json .error.message)" "SSL" "TLS failure named"
stop_defgate
stop_defgate "$(echo $GW_PIDS | awk '{print $(NF-1)}')"

# ---------------------------------------------------------------- API
fake_ctl reset '{}' >/dev/null
start_defgate --set timeout=2 --set max_response=1m
wait_ready

fake_fault '{"target":"api","kind":"status","status":403}'
req GET /incidents
is "$CODE" 403 "API 403 passed through"
like "$(json .error.message)" "Missing application roles" "403 body passed through"
like "$(curl -s "$GW/status.json" | jq -r .upstream.last_forbidden)" \
    "Missing application roles" "status shows the missing-roles message"

for st in 500 503 429; do
	fake_fault "{\"target\":\"api\",\"kind\":\"status\",\"status\":$st,\"retry_after\":5}"
	req GET /incidents
	is "$CODE" "$st" "API $st passed through"
	is "$(hdr Retry-After)" 5 "API $st: Retry-After passed through"
done

fake_fault '{"target":"api","kind":"reset","count":2}'
req GET /incidents
is "$CODE" 502 "API resets before the response: 502"
is "$(json .error.code)" UpstreamError "reset: UpstreamError"

fake_fault '{"target":"api","kind":"reset_body","bytes":30000}'
req GET /incidents
is "$CODE" 502 "API resets during a small body: clean 502"

fake_fault '{"target":"api","kind":"reset_body","bytes":600000}'
curl -s -o /dev/null "$GW/incidents"
is "$?" 18 "API resets during a large streamed body: client sees a truncated body"

fake_fault '{"target":"api","kind":"stall","delay_ms":8000}'
t0=$(date +%s%N)
req GET /incidents --max-time 10
t1=$(date +%s%N)
is "$CODE" 504 "API body stalls: 504"
is "$(json .error.code)" UpstreamTimeout "stall: UpstreamTimeout"
[ $(( (t1 - t0) / 1000000 )) -lt 5000 ]; ok $? "stall: answered within timeout"

fake_fault '{"target":"api","kind":"huge","bytes":4000000}'
req GET /incidents
is "$CODE" 502 "API response over max_response: 502"
like "$(json .error.message)" "max_response" "over max_response: says so"

fake_fault '{"target":"api","kind":"big_headers","bytes":100000}'
req GET /incidents
is "$CODE" 502 "API headers over the cap: 502"
like "$(json .error.message)" "headers" "big headers: says so"

req GET /incidents
is "$CODE" 200 "after all API faults: service normal"

# ---------------------------------------------------------------- clients
# clients that give up while suspended (waiting for the API or a token)
fake_fault '{"target":"api","kind":"hang","delay_ms":1500,"count":5}'
cps=""
for i in 1 2 3 4 5; do
	curl -s -o /dev/null --max-time 0.3 "$GW/incidents" &
	cps="$cps $!"
done
wait $cps
req GET /status.json
is "$CODE" 200 "clients gone while waiting for the API: daemon serves"
sleep 1.6
req GET /incidents
is "$CODE" 200 "after the abandoned requests completed upstream: 200"
stop_defgate

fake_ctl reset '{}' >/dev/null
fake_fault '{"target":"token","kind":"hang","delay_ms":1500}'
start_defgate
cps=""
for i in 1 2 3 4 5; do
	curl -s -o /dev/null --max-time 0.3 "$GW/incidents" &
	cps="$cps $!"
done
wait $cps
wait_ready; ok $? "clients gone while waiting for the token: token still fetched"
req GET /incidents
is "$CODE" 200 "and the next request is served"

# a client that hangs up while its request waits: the transfer is cancelled
# within about a second, not run to the upstream timeout. By default
# (half_close = on) end of input is a half-close, so hanging up is a reset;
# with half_close = off a plain close (end of input) is enough
cancelled() {	# cancelled NAME: the log says so within about a second
	local i=0
	while ! grep -q 'transfer cancelled' "$GW_LOG" && [ $i -lt 40 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	grep -q 'transfer cancelled' "$GW_LOG"
	ok $? "$1: upstream transfer cancelled"
	[ $i -lt 30 ]; ok $? "... within about a second ($((i * 100)) ms)"
	req GET /status.json
	is "$CODE" 200 "... and the daemon serves on"
}
stop_defgate
start_defgate -v
wait_ready
fake_fault '{"target":"api","kind":"hang","delay_ms":6000}'
python3 "$top_srcdir/tests/rawhttp.py" send "$GW_PORT" \
    'GET /incidents HTTP/1.1\r\nHost: localhost\r\n\r\n' --reset 0.5 >/dev/null
cancelled "client resets the connection while waiting"
stop_defgate
start_defgate -v --set half_close=off
wait_ready
fake_fault '{"target":"api","kind":"hang","delay_ms":6000}'
curl -s -o /dev/null --max-time 0.5 "$GW/incidents"
cancelled "half_close=off, client closes while waiting"

# 1,000 idle connections (slowloris) do not stop others being served
fds=""
for i in $(seq 1000); do
	exec {fd}<>"/dev/tcp/127.0.0.1/$GW_PORT" || break
	printf 'GET /incidents HTTP/1.1\r\nHost: localhost\r\n' >&$fd
	fds="$fds $fd"
done
is "$(echo $fds | wc -w)" 1000 "1000 idle half-sent connections open"
# Served while the 1,000 still hold their slots: well before the idle
# ones could time out (client_timeout, 60 s by default). Not a speed
# target (bench/ measures those): the bound only tells "served" from
# "starved until the idle connections were dropped", with room for a
# sanitizer build on a busy machine.
t0=$(date +%s%N)
req GET /incidents --max-time 20
t1=$(date +%s%N)
is "$CODE" 200 "slowloris: another client is served"
[ $(( (t1 - t0) / 1000000 )) -lt 15000 ]; ok $? \
    "slowloris: while the idle connections still hold their slots ($(( (t1 - t0) / 1000000 )) ms)"
for fd in $fds; do exec {fd}>&-; done

# request headers over the limit
big=$(head -c 100000 /dev/zero | tr '\0' a)
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $big" "$GW/incidents")
[ "$code" -ge 400 ] 2>/dev/null || [ "$code" = 000 ]; ok $? "oversize request headers refused ($code)"

# CONNECT and non-UTF-8 bytes in the query (raw socket)
raw() {	# raw REQUEST-BYTES: print the status code of the answer
	exec {s}<>"/dev/tcp/127.0.0.1/$GW_PORT"
	printf "$1" >&$s
	timeout 5 head -1 <&$s | cut -d' ' -f2
	exec {s}>&-
}
before=$(fake_stat .api_requests)
is "$(raw 'CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n')" 400 \
    "CONNECT refused with 400"
is "$(raw 'GET /incidents?a=\xff\xfe HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')" 400 \
    "raw non-UTF-8 bytes in the query: 400"
is "$(fake_stat .api_requests)" "$before" "neither was forwarded"
req GET '/incidents?a=%FF%FE'
is "$CODE" 200 "percent-encoded bytes in the query are forwarded"
is "$(fake_stat .last_request.query)" "a=%FF%FE" "... byte for byte"
stop_defgate

# ---------------------------------------------------------------- process
# SIGHUP: reload the file and re-read the secret file, without dropping
# an in-flight request; a bad new file is rejected and the old one stays.
printf 'wrong-secret\n' > "$T/secret"
chmod 600 "$T/secret"
cat > "$T/gw.conf" <<CONF
client_secret_file = $T/secret
allow_write = false
CONF
GW_SECRET=none start_defgate --config "$T/gw.conf"
req GET /incidents
is "$CODE" 503 "wrong secret in the secret file: 503"
printf '%s\n' "$SECRET" > "$T/secret"
cat > "$T/gw.conf" <<CONF
client_secret_file = $T/secret
allow_write = true
CONF
kill -HUP "$GW_PID"
wait_ready; ok $? "SIGHUP: the secret file is re-read and a token fetched"
req PATCH "/incidents/$(curl -s "$GW/incidents?\$top=1" | jq -r '.value[0].incidentId')" \
    -H 'Content-Type: application/json' --data '{"status":"InProgress"}'
is "$CODE" 200 "SIGHUP: allow_write = true took effect"
fake_fault '{"target":"api","kind":"hang","delay_ms":1500}'
curl -s -o /dev/null -w '%{http_code}' "$GW/incidents" > "$T/hup.code" &
cp=$!
sleep 0.3
echo 'this is not a setting' >> "$T/gw.conf"
kill -HUP "$GW_PID"
wait "$cp"
is "$(cat "$T/hup.code")" 200 "SIGHUP during a request: it completes"
sleep 0.2
grep -q 'reload rejected' "$GW_LOG"; ok $? "a bad new configuration is rejected with a log line"
req GET /incidents
is "$CODE" 200 "the old configuration stays in use"
stop_defgate

# SIGHUP with the secret in AZURE_CLIENT_SECRET (scrubbed from the
# environment at start), and many more reloads than there used to be room
# for: every one works, and old configurations are freed.
cat > "$T/env.conf" <<CONF
allow_write = false
CONF
start_defgate --config "$T/env.conf" -v
wait_ready || bail "defgate not ready: $(cat "$GW_LOG")"
(for i in $(seq 40); do curl -s -o /dev/null "$GW/incidents?\$top=1"; done) &
bg=$!
for i in $(seq 70); do
	kill -HUP "$GW_PID"
	sleep 0.05
done
wait "$bg"
sleep 0.3
n=$(grep -c 'configuration reloaded' "$GW_LOG")
[ "$n" -gt 64 ]; ok $? "70 SIGHUPs with the secret from the environment: $n reloads (> 64)"
grep -q 'reload rejected' "$GW_LOG"; is $? 1 "no reload was rejected"
live=$(grep -o '[0-9]* configuration(s) in memory' "$GW_LOG" | tail -1 | cut -d' ' -f1)
[ -n "$live" ] && [ "$live" -le 3 ]; ok $? "old configurations are freed (${live:-?} in memory)"
printf 'allow_write = true\n' > "$T/env.conf"
kill -HUP "$GW_PID"
sleep 0.3
req PATCH "/incidents/$(curl -s "$GW/incidents?\$top=1" | jq -r '.value[0].incidentId')" \
    -H 'Content-Type: application/json' --data '{"status":"InProgress"}'
is "$CODE" 200 "after 71 reloads the new setting took effect and the secret still works"
fake_ctl revoke '{}' >/dev/null
sleep 2.1
req GET /incidents
is "$CODE" 200 "a new token after the reloads: the kept secret is used"

# hardening: no core dumps, warning for a non-loopback listener
is "$(prlimit --pid "$GW_PID" --core --output SOFT --noheadings | tr -d ' ')" 0 \
    "core dumps disabled"
stop_defgate
start_defgate --listen 0.0.0.0:0
grep -q 'not a loopback address' "$GW_LOG"; ok $? "warns loudly on a non-loopback listener"
req GET /incidents
is "$CODE" 200 "loopback callers still served"
stop_defgate
start_defgate --set allow_from=10.0.0.0/8
req GET /incidents
is "$CODE" 403 "caller outside allow_from: 403"
is "$(json .error.code)" Forbidden "allow_from refusal: JSON error"
req GET /healthz
is "$CODE" 200 "/healthz always allowed"
done_testing

#!/bin/bash
# t47_queue: requests waiting for an upstream connection (all
# max_upstream_connections busy) queue in defgate, in arrival order: they
# reach the API in the order they arrived, never over more connections than
# allowed; a client that leaves while queued costs nothing upstream and
# frees its request; a queued request still ends within the request
# timeout (504, the local error shape). The upstream is tests/slowupstream.py
# (HTTPS, HTTP/1.1 only, answers after ?delay=MS, logs arrivals).
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -nodes -keyout "$T/up.key" -out "$T/up.pem" -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1 ||
    bail "openssl could not make a test certificate"
UPLOG=$T/up.log
python3 "$top_srcdir/tests/slowupstream.py" "$T/up.pem" "$T/up.key" \
    "$T/up.port" "$UPLOG" 2>>"$T/up.err" &
PIDS="$PIDS $!"
wait_for_file "$T/up.port" || bail "slowupstream did not start"
UP_URL=https://127.0.0.1:$(cat "$T/up.port")
CA=$T/up.pem
export GW_API=$UP_URL GW_AUTHORITY=$UP_URL

arrivals() { sed -n 's/^req //p' "$UPLOG" | tr '\n' ' ' | sed 's/ $//'; }
maxconn() { sed -n 's/^conn //p' "$UPLOG" | sort -n | tail -1; }
metric() { curl -s "$GW/metrics" | sed -n "s/^$1 //p"; }

# ---- arrival order, two connections ----
start_defgate --set max_upstream_connections=2 --set timeout=60
wait_ready || bail "defgate did not become ready: $(cat "$GW_LOG")"
: > "$UPLOG"
N=12
cp=""
want=""
for i in $(seq 1 $N); do
	want="$want${want:+ }$i"
	curl -s -o /dev/null -w '%{http_code}\n' --max-time 60 \
	    "$GW/incidents/$i?delay=1200" > "$T/code.$i" &
	cp="$cp $!"
	sleep 0.2	# spacing well above a loaded machine's fork jitter
done
sleep 0.2
q=$(metric defgate_upstream_queued)
[ "${q:-0}" -ge 1 ] 2>/dev/null
ok $? "/metrics shows the queued requests (defgate_upstream_queued $q)"
for p in $cp; do wait "$p"; done
codes=$(cat "$T"/code.* | sort | uniq -c | sed 's/^ *//')
is "$codes" "$N 200" "all $N requests answered 200"
is "$(arrivals)" "$want" "they reached the API in the order they arrived"
m=$(maxconn)
[ "${m:-99}" -le 2 ]
ok $? "never more than 2 upstream connections (most: $m)"
is "$(metric defgate_upstream_queued)" 0 "nothing queued afterwards"
stop_defgate
is "$?" 0 "defgate exits 0"

# ---- a client that leaves while queued ----
# (half_close = off: its end of input means it left; with the default a
# client that resets the connection is noticed the same way, t60)
# defgate looks at clients waiting more than a second about once a second:
# the first request holds the connection for 5 s, so a loaded machine
# still has time to notice before the connection frees
start_defgate --set max_upstream_connections=1 --set timeout=60 -v \
    --set half_close=off
wait_ready || bail "defgate did not become ready: $(cat "$GW_LOG")"
: > "$UPLOG"
curl -s -o /dev/null -w '%{http_code}' --max-time 60 \
    "$GW/incidents/100?delay=5000" > "$T/a.code" &
a=$!
sleep 0.5
curl -s -o /dev/null --max-time 0.5 "$GW/incidents/200?delay=10"
is "$?" 28 "a client gives up while its request is queued"
i=0
while ! grep -q 'client went away while queued' "$GW_LOG"; do
	i=$((i + 1)); [ "$i" -gt 40 ] && break
	sleep 0.1
done
grep -q 'client went away while queued' "$GW_LOG"
ok $? "defgate notices it and takes the request out of the queue"
kill -0 "$a" 2>/dev/null
ok $? "... while the first request still holds the connection"
wait "$a"
is "$(cat "$T/a.code")" 200 "the first request is answered"
req GET "/incidents/300?delay=10"
is "$CODE" 200 "the next request gets the connection"
is "$(arrivals)" "100 300" "the abandoned request never reached the API"
stop_defgate
is "$?" 0 "defgate exits 0"

# ---- the request timeout bounds the wait in the queue ----
# the transfer holding the only connection started under timeout = 60;
# a reload lowers it to 2 s: the queued request must not wait for the
# 5 s transfer ahead of it
cat > "$T/gw.conf" <<CONF
max_upstream_connections = 1
timeout = 60
CONF
start_defgate --config "$T/gw.conf"
wait_ready || bail "defgate did not become ready: $(cat "$GW_LOG")"
: > "$UPLOG"
curl -s -o /dev/null -w '%{http_code}' --max-time 60 \
    "$GW/incidents/400?delay=5000" > "$T/a.code" &
a=$!
i=0
while [ "$(arrivals)" != 400 ]; do
	i=$((i + 1)); [ "$i" -gt 50 ] && bail "request 400 did not arrive"
	sleep 0.1
done
sed -i 's/^timeout = 60/timeout = 2/' "$T/gw.conf"
kill -HUP "$GW_PID"
i=0
while ! grep -q 'configuration reloaded' "$GW_LOG"; do
	i=$((i + 1)); [ "$i" -gt 50 ] && bail "no reload: $(cat "$GW_LOG")"
	sleep 0.1
done
req GET "/incidents/500?delay=10"
is "$CODE" 504 "a request queued past the timeout: 504"
is "$(json .error.code)" UpstreamTimeout "... error.code UpstreamTimeout (local error shape)"
like "$(json .error.message)" "no connection to the" "... saying no connection became free"
kill -0 "$a" 2>/dev/null
ok $? "... answered while the transfer ahead of it still runs"
wait "$a"
is "$(cat "$T/a.code")" 200 "the transfer ahead of it keeps its own timeout and completes"
is "$(arrivals)" "400" "the expired request never reached the API"
done_testing

#!/bin/bash
# t46_fairness: clients that never read their 20 MB hunting answers cannot
# keep every upstream connection. Seven such clients and one
# that reads slowly take all eight connections; a ninth hunting call must
# still be answered, promptly and while the seven are still stalled (defgate
# drops the transfers of clients that read nothing for 2 s while others
# wait for a connection), and the slow reader gets its whole answer.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

N=8
start_fake
# client_timeout and timeout far beyond the bound below: only the fairness
# rule can free a connection in time
start_defgate --set max_upstream_connections=$N --set client_timeout=300 \
    --set timeout=300
wait_ready || bail "defgate did not become ready: $(cat "$GW_LOG")"
req POST /hunting -H 'Content-Type: application/json' --data '{"Query":"DeviceInfo | take 1"}'
is "$CODE" 200 "a hunting call works"

# N-1 clients that send a hunting call for ~20 MB and never read a byte,
# and one that reads it, slowly (64 KiB every 20 ms, about 3 MB/s) until
# $T/go exists, then at full speed: all N connections are taken
python3 - "$GW_PORT" "$((N - 1))" "$T/go" > "$T/slow.out" 2>&1 <<'PY' &
import os, socket, sys, threading, time
port, n, go = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
body = b'{"Query":"DeviceProcessEvents | take 32000"}'
def call(close):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(b"POST /hunting HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
              (b"Connection: close\r\n" if close else b"") +
              b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
              % len(body) + body)
    return s
def reader(s):
    got, tail = 0, b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        got += len(b)
        tail = (tail + b)[-16:]
        if not os.path.exists(go):
            time.sleep(0.02)
    with open(go + ".reader", "w") as f:
        f.write("%d %s\n" % (got, "complete" if tail.endswith(b"0\r\n\r\n") else "cut"))
r = threading.Thread(target=reader, args=(call(True),))
r.start()
socks = [call(False) for _ in range(n)]
print("sent", flush=True)
r.join()
time.sleep(600)		# never read; killed by the test
PY
SLOW=$!
PIDS="$PIDS $SLOW"
wait_for_file "$T/slow.out" 100 || bail "slow readers did not start"
# wait until the fake has seen all N hunting calls (they hold the connections)
i=0
while [ "$(fake_stat '.api_requests')" -lt $((N + 1)) ] 2>/dev/null; do
	i=$((i + 1)); [ "$i" -gt 300 ] && break
	sleep 0.1
done
[ "$(fake_stat '.api_requests')" -ge $((N + 1)) ] 2>/dev/null
ok $? "the $N hunting calls reached the API"
sleep 1

t0=$(date +%s%N)
code=$(curl -s -o "$T/ninth" -w '%{http_code}' --max-time ${NINTH_MAX:-60} \
    -H 'Content-Type: application/json' \
    --data '{"Query":"DeviceProcessEvents | take 3"}' "$GW/hunting")
ms=$((($(date +%s%N) - t0) / 1000000))
kill -0 "$SLOW" 2>/dev/null
ok $? "the $((N - 1)) stalled readers are still connected and unread when the ninth call ends"
is "$code" 200 "the ninth hunting call is answered (${ms} ms)"
is "$(jq -r '.Results|length' "$T/ninth" 2>/dev/null)" 3 "... with its rows"
[ "$ms" -lt 30000 ]
ok $? "... within 30 s (took ${ms} ms; the transfers' own timeout is 300 s)"
diag "ninth hunting call behind $((N - 1)) stalled readers and a slow one: ${ms} ms"
grep -q "read nothing for" "$GW_LOG"
ok $? "defgate logs the dropped slow readers"
touch "$T/go"
wait_for_file "$T/go.reader" 600
r=$(cat "$T/go.reader" 2>/dev/null)
like "$r" complete "the client that read slowly meanwhile got its whole answer (readers are never dropped)"
[ "${r%% *}" -gt 15000000 ] 2>/dev/null
ok $? "... all of it (${r%% *} bytes)"
kill "$SLOW" 2>/dev/null; wait "$SLOW" 2>/dev/null
done_testing

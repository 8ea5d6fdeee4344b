#!/bin/bash
# t94_share: identical cached GETs whose answer is too large to store
# share one upstream exchange: one call, identical complete bodies, a slow
# or stalled reader is cut instead of holding the others up, the daemon's
# memory stays bounded, and a reader hanging up (a follower or the first
# one) does not disturb the others.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

calls() { fake_stat .api_requests; }
SLOW="python3 ${top_srcdir:-$(dirname "$0")/..}/tests/slowread.py"
BIG=$((24 * 1024 * 1024))
hwm() { awk '/^VmHWM/ { print $2 }' "/proc/$GW_PID/status"; }
# big: the next call to /api/incidents answers a padded 200 of BIG bytes
big() {
	fake_fault '{"target":"api","kind":"huge","bytes":'"$BIG"',"path":"/api/incidents"}'
}
# get PREFIX N: N concurrent GET /incidents into $T/PREFIX.*.{h,b}
get() {
	seq "$2" | xargs -P "$2" -I{} curl -s --max-time 90 \
	    -D "$T/$1.{}.h" -o "$T/$1.{}.b" "$GW/incidents"
}
# bodies PREFIX N WHAT: all N are 200, complete and identical
bodies() {
	is "$(cat "$T"/$1.*.h | grep -c '^HTTP/1.1 200')" "$2" "$3: $2 answers 200"
	is "$(stat -c %s "$T"/$1.*.b | sort -u)" "$BIG" "... each complete ($BIG bytes)"
	is "$(sha256sum "$T"/$1.*.b | awk '{ print $1 }' | sort -u | wc -l)" 1 \
	    "... and identical (sha256)"
}
# second PREFIX MODE ARG: a big answer read by curl ($T/PREFIX.0.*), a
# slowread.py follower ($T/PREFIX.out, pid SP) and 8 more curls; sets c0
second() {
	big
	c0=$(calls)
	curl -s --max-time 90 -D "$T/$1.0.h" -o "$T/$1.0.b" "$GW/incidents" &
	CP=$!
	sleep 0.3
	$SLOW "$GW_PORT" /incidents "$2" "$3" > "$T/$1.out" &
	SP=$!
	sleep 1
	get "$1" 8
}
cuts() { grep -c 'cut: the client read too slowly' "$GW_LOG"; }

start_fake
# 6.5 KB per entry: the padded answers are far over the share
start_defgate --set cache=on --set cache_ttl=120 --set cache_max_bytes=64k \
    --set cache_max_share=10
wait_ready || bail "defgate did not become ready: $(cat "$GW_LOG")"
# every API call waits 3 s: identical requests arrive meanwhile (one that
# arrives once the answer has begun makes its own call: a loaded machine
# starting python late would show as 2 calls)
fake_ctl config '{"latency_ms":3000}' >/dev/null

# ---- 20 identical GETs: one upstream call, 20 identical bodies ----
big
c0=$(calls)
get a 20
is "$(( $(calls) - c0 ))" 1 "20 identical GETs of a large answer: 1 upstream call"
bodies a 20 "20 identical GETs"
is "$(cat "$T"/a.*.h | grep -ci '^X-Cache: MISS')" 1 "... one X-Cache: MISS (the call)"
is "$(cat "$T"/a.*.h | grep -ci '^X-Cache: COALESCED')" 19 "... 19 X-Cache: COALESCED"
is "$(cat "$T"/a.*.h | grep -i '^Content-Length:' | tr -d '\r' | sort -u)" \
    "Content-Length: $BIG" "... each with the upstream Content-Length"
is "$(cat "$T"/a.*.h | grep -i '^Content-Type:' | sort -u | wc -l)" 1 \
    "... the same Content-Type"
is "$(cat "$T"/a.*.h | grep -i '^client-request-id:' | sort -u | wc -l)" 20 \
    "... each its own client-request-id"

# ---- the first reader stalls: cut, the others finish, memory bounded ----
big
c0=$(calls) k0=$(cuts) h0=$(hwm)
$SLOW "$GW_PORT" /incidents stall 12 > "$T/stall.out" &
SP=$!
sleep 0.3
get b 10
is "$(( $(calls) - c0 ))" 1 "a stalled reader and 10 others: 1 upstream call"
bodies b 10 "... the 10 others"
[ "$(cuts)" -gt "$k0" ]; ok $? "... the stalled reader was cut (logged)"
h1=$(hwm)
if ldd "$DEFGATE" 2>/dev/null | grep -Eq 'lib(a|t)san'; then
	# a sanitizer's shadow memory and quarantine say nothing here
	ok 0 "... peak RSS not checked in a sanitizer build"
else
	[ $(( h1 - h0 )) -lt $(( BIG / 1024 / 2 )) ]
	ok $? "... peak RSS grew $(( h1 - h0 )) KiB, far less than the answer ($(( BIG / 1024 )) KiB)"
fi
wait "$SP"
like "$(cat "$T/stall.out")" short "... and its answer ends short: $(cat "$T/stall.out")"

# ---- a follower reading 2 KiB/s is cut too ----
k0=$(cuts)
second c rate 2048
wait "$CP"
is "$(( $(calls) - c0 ))" 1 "a 2 KiB/s reader and 9 others: 1 upstream call"
bodies c 9 "... the 9 others"
[ "$(cuts)" -gt "$k0" ]; ok $? "... the slow reader was cut (logged)"
kill "$SP" 2>/dev/null; wait "$SP" 2>/dev/null

# ---- a follower hangs up mid-stream: the others go on ----
second d close 200000
wait "$CP" "$SP"
like "$(cat "$T/d.out")" CLOSED "a follower hung up mid-stream"
is "$(( $(calls) - c0 ))" 1 "... 1 upstream call"
bodies d 9 "... the 9 others"

# ---- the first reader hangs up mid-stream: the followers go on ----
big
c0=$(calls)
$SLOW "$GW_PORT" /incidents close 200000 > "$T/lclose.out" &
SP=$!
sleep 0.3
get e 10
wait "$SP"
like "$(cat "$T/lclose.out")" CLOSED "the first reader hung up mid-stream"
is "$(( $(calls) - c0 ))" 1 "... 1 upstream call"
bodies e 10 "... its 10 followers"

# ---- afterwards: nothing left behind, the daemon answers ----
fake_ctl config '{"latency_ms":0}' >/dev/null
req GET /incidents
is "$CODE" 200 "afterwards: a plain GET answers 200"
kill -0 "$GW_PID"; ok $? "defgate still running"

done_testing

#!/bin/bash
# t94_share: identical cached GETs whose answer is too large to store
# share one upstream exchange: one call, identical complete bodies, a slow
# or stalled reader is cut instead of holding the others up, the daemon's
# memory stays bounded, and a reader hanging up (a follower or the first
# one) does not disturb the others.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/share.sh"

start_fake
# 6.5 KB per entry: the padded answers are far over the share
start_defgate --set cache=on --set cache_ttl=120 --set cache_max_bytes=64k \
    --set cache_max_share=10
wait_ready || bail "defgate did not become ready: $(cat "$GW_LOG")"
# every API call waits 5 s: identical requests arrive meanwhile (one that
# arrives once the answer has begun makes its own call: a loaded machine
# starting the clients late would show as 2 calls)
fake_ctl config '{"latency_ms":5000}' >/dev/null

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

# ---- readers that stall, read slowly or hang up ----
share_readers short

# ---- afterwards: nothing left behind, the daemon answers ----
fake_ctl config '{"latency_ms":0}' >/dev/null
req GET /incidents
is "$CODE" 200 "afterwards: a plain GET answers 200"
kill -0 "$GW_PID"; ok $? "defgate still running"

done_testing

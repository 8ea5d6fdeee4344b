#!/bin/bash
# t95_share_chunked: large-answer sharing (t94) when the API sends its
# answer chunked, without a Content-Length, so defgate learns the size only
# at the end: one upstream call, identical complete bodies equal to what
# the API sent, well-formed framing towards each client (chunked for
# HTTP/1.1, the closed connection for HTTP/1.0), a stalled or slow reader
# cut instead of holding the others up, a follower or the first reader
# hanging up without disturbing the rest; a small chunked answer is cached.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/share.sh"

SUM=$(padded "$BIG")
# dechunk FILE: FILE is a raw chunked body (curl --raw): "ok <sha256 of
# the decoded body>" when every chunk is well-formed and the last one
# (size 0, no trailers) ends the file, else what is wrong
dechunk() {
	python3 -c 'import hashlib, sys
d = open(sys.argv[1], "rb").read()
h, pos = hashlib.sha256(), 0
while True:
    end = d.find(b"\r\n", pos)
    if end < 0:
        sys.exit("no last chunk after %d bytes" % pos)
    size = d[pos:end]
    if not size or size.strip(b"0123456789abcdefABCDEF"):
        sys.exit("bad chunk size %r at %d" % (size[:20], pos))
    n, pos = int(size, 16), end + 2
    if n == 0:
        break
    if d[pos + n:pos + n + 2] != b"\r\n":
        sys.exit("chunk at %d not ended by CRLF" % pos)
    h.update(d[pos:pos + n])
    pos += n + 2
if d[pos:] != b"\r\n":
    sys.exit("%d bytes after the last chunk" % (len(d) - pos))
print("ok", h.hexdigest())' "$1" 2>&1
}

start_fake --chunked
# 6.5 KB per entry: the padded answers are far over the share
start_defgate --set cache=on --set cache_ttl=120 --set cache_max_bytes=64k \
    --set cache_max_share=10
wait_ready || bail "defgate did not become ready: $(cat "$GW_LOG")"

# ---- the fake's knob: the answer comes chunked, with no length ----
# asked directly (defgate does not pass the upstream framing on)
TOKEN=$(curl -sS --cacert "$CA" "$FAKE_URL/$TENANT/oauth2/v2.0/token" \
    -d grant_type=client_credentials -d client_id="$CLIENT" \
    --data-urlencode client_secret="$SECRET" \
    --data-urlencode scope="https://api.security.microsoft.com/.default" |
    jq -r .access_token)
big 5000
curl -sS --cacert "$CA" -H "Authorization: Bearer $TOKEN" -D "$T/up.h" \
    -o "$T/up.b" "$FAKE_URL/api/incidents"
like "$(tr -d '\r' < "$T/up.h")" "Transfer-Encoding: chunked" \
    "fakeapi --chunked: the padded answer comes chunked"
unlike "$(tr -d '\r' < "$T/up.h" | tr 'A-Z' 'a-z')" "content-length" \
    "... without a Content-Length"
is "$(sha256sum < "$T/up.b" | awk '{ print $1 }')" "$(padded 5000)" \
    "... and is the padded body"

# every API call waits 5 s: identical requests arrive meanwhile (one that
# arrives once the answer has begun makes its own call: a loaded machine
# starting the clients late would show as 2 calls)
fake_ctl config '{"latency_ms":5000}' >/dev/null

# ---- 20 identical GETs: one upstream call, 20 identical bodies ----
big
c0=$(calls)
# the first (the leader) and one follower keep the raw chunked framing
curl -s --max-time 90 --raw -D "$T/a.r1.h" -o "$T/a.r1.raw" "$GW/incidents" &
R1=$!
arrived 1
curl -s --max-time 90 --raw -D "$T/a.r2.h" -o "$T/a.r2.raw" "$GW/incidents" &
R2=$!
# an HTTP/1.0 follower: no chunked encoding, the close ends the body
curl -s --max-time 90 -0 -D "$T/a.r3.h" -o "$T/a.r3.raw" "$GW/incidents" &
R3=$!
arrived 3
get a 17
wait "$R1" "$R2" "$R3"
is "$(( $(calls) - c0 ))" 1 "20 identical GETs of a large chunked answer: 1 upstream call"
bodies a 17 "17 of them"
is "$(cat "$T"/a.*.h | grep -ci '^X-Cache: MISS')" 1 "... one X-Cache: MISS (the call)"
is "$(cat "$T"/a.*.h | grep -ci '^X-Cache: COALESCED')" 19 "... 19 X-Cache: COALESCED"
is "$(cat "$T"/a.*.h | grep -ci '^Content-Length:')" 0 \
    "... none with a Content-Length (the size was unknown)"
is "$(cat "$T"/a.[0-9]*.h "$T"/a.r[12].h | tr -d '\r' | \
    grep -ci '^Transfer-Encoding: chunked$')" 19 \
    "... the 19 HTTP/1.1 answers chunked"
is "$(cat "$T"/a.*.h | grep -i '^Content-Type:' | sort -u | wc -l)" 1 \
    "... the same Content-Type"
is "$(cat "$T"/a.*.h | grep -i '^client-request-id:' | sort -u | wc -l)" 20 \
    "... each its own client-request-id"
is "$(dechunk "$T/a.r1.raw")" "ok $SUM" \
    "... the leader's raw chunked framing is well-formed, the body the API's"
is "$(dechunk "$T/a.r2.raw")" "ok $SUM" \
    "... so is a follower's"
is "$(head -1 "$T/a.r3.h" | cut -d' ' -f2)" 200 \
    "... the HTTP/1.0 follower: 200"
is "$(tr -d '\r' < "$T/a.r3.h" | grep -ci -e '^Transfer-Encoding' \
    -e '^Content-Length')" 0 "... neither chunked nor a length"
like "$(tr -d '\r' < "$T/a.r3.h")" "Connection: close" "... the close ends it"
is "$(sha256sum < "$T/a.r3.raw" | awk '{ print $1 }')" "$SUM" \
    "... and its body is the API's"

# ---- readers that stall, read slowly or hang up ----
# (a reader cut midway misses the last chunk)
share_readers "OF chunked short"

# ---- the API's answer breaks off: no reader sees a clean end ----
# without a length, only the missing last chunk tells the clients
fake_fault '{"target":"api","kind":"reset_body","bytes":'"$BIG"',"path":"/api/incidents"}'
c0=$(calls)
get x 6
is "$(( $(calls) - c0 ))" 1 "an answer cut upstream after a third, 6 GETs: 1 upstream call"
is "$(cat "$T"/x.[0-9]*.h | grep -c '^HTTP/1.1 200')" 6 "... 6 began as 200"
is "$(cat "$T"/x.*.rc | grep -vcx 0)" 6 \
    "... none of them ends cleanly (curl: the last chunk is missing)"
[ "$(sort -n "$T"/x.*.size | tail -1)" -lt "$BIG" ]
ok $? "... none has the whole body"

# ---- just over the share: the window starts from the cache's copy ----
# 7000 bytes: the first 6.5 KB went to the cache's copy before the answer
# turned out too large; the followers' first bytes come from that copy
big 7000
c0=$(calls)
get f 6
is "$(( $(calls) - c0 ))" 1 "6 GETs of a 7000-byte chunked answer: 1 upstream call"
bodies f 6 "... 6" 7000

# ---- small enough: a chunked answer is cached like any other ----
# (last: from here on /incidents is answered from the cache)
fake_ctl config '{"latency_ms":0}' >/dev/null
big 3000
c0=$(calls)
curl -s -D "$T/s1.h" -o "$T/s1.b" "$GW/incidents"
curl -s -D "$T/s2.h" -o "$T/s2.b" "$GW/incidents"
is "$(( $(calls) - c0 ))" 1 "a 3000-byte chunked answer twice: 1 upstream call"
like "$(tr -d '\r' < "$T/s1.h")" "X-Cache: MISS" "... the first a MISS"
like "$(tr -d '\r' < "$T/s2.h")" "X-Cache: HIT" "... the second a HIT"
like "$(tr -d '\r' < "$T/s2.h")" "Content-Length: 3000" \
    "... served from the cache with its length now known"
is "$(sha256sum "$T"/s[12].b | awk '{ print $1 }' | sort -u)" \
    "$(padded 3000)" "... both the body the API sent"

# ---- afterwards: nothing left behind, the daemon answers ----
req GET /incidents
is "$CODE" 200 "afterwards: a plain GET answers 200"
kill -0 "$GW_PID"; ok $? "defgate still running"
stop_defgate
is "$?" 0 "defgate exits 0 on SIGTERM"

# ---- an entry may take 10 MiB: the first reader stalls ----
# Of unknown length, the answer is known too large to store only once
# 10 MiB have come, more than the first reader's socket takes while its
# client reads nothing. The followers must not wait for that client: the
# answer is shared once that client begins to get it, so the stalled one
# is cut and the others read on, as in the first part with a small share.
start_defgate --set cache=on --set cache_ttl=120 --set cache_max_bytes=100m \
    --set cache_max_share=10
wait_ready || bail "defgate did not become ready: $(cat "$GW_LOG")"
fake_ctl config '{"latency_ms":3000}' >/dev/null
# peak RSS: the cache's copy (up to the 10 MiB share) plus half the answer
stalled g 4 15 "OF chunked short" "10 MiB share: " $(( 10240 + BIG / 1024 / 2 ))

# ---- shared as it streams, yet small enough to store ----
# 200 KB: more than the first reader's buffer, so shared while it comes,
# and stored once whole
big 200000
c0=$(calls)
get h 6
is "$(( $(calls) - c0 ))" 1 "6 GETs of a 200 KB chunked answer: 1 upstream call"
bodies h 6 "... 6" 200000
is "$(cat "$T"/h.*.h | grep -ci '^X-Cache: COALESCED')" 5 "... 5 X-Cache: COALESCED"
fetch "$T/h.7"
like "$(tr -d '\r' < "$T/h.7.h")" "X-Cache: HIT" "... the next one: a HIT"
is "$(cut -c1-64 "$T/h.7.sum")" "$(padded 200000)" "... with the same body"
is "$(( $(calls) - c0 ))" 1 "... and no other call"

done_testing

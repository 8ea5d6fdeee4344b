#!/bin/bash
# t92_cache: the response cache for GET routes: X-Cache
# and Age, the key (route, path and query byte for byte, audience), TTL
# expiry, Cache-Control: no-cache, invalidation after a PATCH,
# stale-if-error on a 5xx and a timeout, stale while the bucket is empty,
# stale_max_age, cache_max_bytes, coalescing with a slow reader, the
# front threads (threads, hits under concurrency on a pool) and
# cache = off.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

calls() { fake_stat .api_requests; }
M=""
metric() { printf '%s\n' "$M" | awk -v s="$1" '$1 == s { print $2 }'; }

start_fake
# cache_ttl=60: nothing here expires, however loaded the machine
start_defgate --set cache=on --set allow_write=true --set cache_ttl=60
wait_ready || bail "defgate did not become ready: $(cat "$GW_LOG")"

# ---- MISS, then HIT with the same answer and no upstream call ----
c0=$(calls)
req GET /incidents
is "$CODE" 200 "GET /incidents: 200"
is "$(hdr X-Cache)" MISS "first: X-Cache: MISS"
b1=$BODY ct1=$(hdr Content-Type) rid1=$(hdr request-id)
req GET /incidents -H 'client-request-id: hit-check-1'
is "$CODE" 200 "again: 200"
is "$(hdr X-Cache)" HIT "again: X-Cache: HIT"
a=$(hdr Age)
[ -n "$a" ] && [ "$a" -le 1 ]; ok $? "Age: whole seconds since it was stored ($a)"
is "$BODY" "$b1" "the same body byte for byte"
is "$(hdr Content-Type)" "$ct1" "the same Content-Type"
is "$(hdr request-id)" "$rid1" "the upstream request-id kept with it"
is "$(hdr client-request-id)" hit-check-1 "the caller's own client-request-id"
is "$(( $(calls) - c0 ))" 1 "one upstream call for two requests"

# ---- the key: route, path and query byte for byte ----
c0=$(calls)
req GET '/incidents?$top=2'
is "$(hdr X-Cache)" MISS "another query: MISS"
req GET '/incidents?%24top=2'
is "$(hdr X-Cache)" MISS "the same query spelled otherwise: its own entry"
req GET '/api/incidents'
is "$(hdr X-Cache)" MISS "the same upstream path on another route: its own entry"
req GET '/incidents?$top=2'
is "$(hdr X-Cache)" HIT "the first query again: HIT"
is "$(json '.value|length')" 2 "... its own answer"
is "$(( $(calls) - c0 ))" 3 "three upstream calls for three keys"

# ---- Cache-Control: no-cache fetches a fresh copy ----
c0=$(calls)
req GET /incidents -H 'Cache-Control: no-cache'
is "$(hdr X-Cache)" MISS "Cache-Control: no-cache: MISS"
is "$(( $(calls) - c0 ))" 1 "... with an upstream call"
req GET /incidents
is "$(hdr X-Cache)" HIT "the fresh copy is cached again"

# ---- invalidation after a PATCH ----
ID=$(json '.value[0].incidentId')
req GET "/incidents/$ID"
is "$(hdr X-Cache)" MISS "GET /incidents/$ID: MISS"
req GET "/incidents/$ID"
is "$(hdr X-Cache)" HIT "... then HIT"
old=$(json .status)
req GET /api/alerts
is "$(hdr X-Cache)" MISS "an MDE answer cached too"
req PATCH "/incidents/$ID" -H 'Content-Type: application/json' \
    --data '{"status":"Resolved"}'
is "$CODE" 200 "PATCH /incidents/$ID: 200"
req GET "/incidents/$ID"
is "$(hdr X-Cache)" MISS "after the PATCH: the incident is fetched again"
is "$(json .status)" Resolved "... with the new status (was $old)"
req GET /incidents
is "$(hdr X-Cache)" MISS "after the PATCH: the list is fetched again"
req GET '/incidents?$top=2'
is "$(hdr X-Cache)" MISS "... and every list with a query"
req GET /api/incidents
is "$(hdr X-Cache)" MISS "... on every route"
req GET /api/alerts
is "$(hdr X-Cache)" HIT "other APIs' answers are kept"
stop_defgate

# ---- TTL expiry, Age; stale-if-error on a 5xx and a timeout ----
start_defgate --set cache=on --set cache_ttl=1 --set timeout=2
wait_ready || bail "defgate did not become ready: $(cat "$GW_LOG")"
req GET /incidents
is "$(hdr X-Cache)" MISS "cache_ttl=1: MISS"
b1=$BODY
sleep 1.2
c0=$(calls)
req GET /incidents
is "$(hdr X-Cache)" MISS "after the TTL: MISS (fetched again)"
is "$(( $(calls) - c0 ))" 1 "... an upstream call"
sleep 1.2
fake_fault '{"target":"api","kind":"status","status":500}'
c0=$(calls)
req GET /incidents
is "$CODE" 200 "expired, and the API answers 500: 200"
is "$(hdr X-Cache)" STALE "... X-Cache: STALE (stale-if-error)"
a=$(hdr Age)
[ "${a:-0}" -ge 1 ]; ok $? "... Age ($a) >= 1"
is "$BODY" "$b1" "... the cached body"
is "$(( $(calls) - c0 ))" 1 "the 500 was one upstream call"
fake_fault '{"target":"api","kind":"stall","delay_ms":4000}'
t0=$(date +%s%N)
req GET /incidents
is "$CODE" 200 "the API stalls past timeout=2: 200"
is "$(hdr X-Cache)" STALE "... STALE after the timeout"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$ms" -ge 1900 ]; ok $? "... after the 2 s timeout ($ms ms)"
req GET /api/alerts
fake_fault '{"target":"api","kind":"status","status":503}'
req GET /api/machines
is "$CODE" 503 "no cached copy: the 503 as today"
stop_defgate

# ---- stale while the bucket is empty; stale_max_age ----
start_defgate --set cache=on --set cache_ttl=1 --set quota_incidents=2/min \
    --set stale_max_age=4
wait_ready || bail "defgate did not become ready: $(cat "$GW_LOG")"
req GET /incidents
ID=$(json '.value[0].incidentId')
req GET "/incidents/$ID"
is "$CODE" 200 "two calls: the incidents quota (2/min) is used"
sleep 1.1
c0=$(calls)
req GET /incidents
is "$CODE" 200 "expired, bucket empty: 200"
is "$(hdr X-Cache)" STALE "... X-Cache: STALE"
is "$(( $(calls) - c0 ))" 0 "... no upstream call"
sleep 4.2
req GET /incidents
is "$CODE" 429 "past stale_max_age: the local 429"
ra=$(hdr Retry-After)
[ "${ra:-0}" -ge 1 ]; ok $? "... with Retry-After ($ra)"
req GET /incidents -H 'Cache-Control: no-cache'
is "$CODE" 429 "no-cache is still under the rate limit"
M=$(curl -sS "$GW/metrics")
is "$(metric defgate_cache_stale_total)" 1 "metrics: one stale answer"
is "$(metric 'defgate_requests_total{route="incidents",status="200",cache="stale"}')" 1 \
    "metrics: the request counted with cache=stale"
stop_defgate

# ---- cache_max_bytes bounds the store; large answers are not kept ----
# one incident is ~6 KiB, the list ~17 KiB: 32k holds 4 incidents, and
# 25% (8 KiB) keeps the list out
start_defgate --set cache=on --set cache_max_bytes=32k --set cache_max_share=25
wait_ready || bail "defgate did not become ready: $(cat "$GW_LOG")"
req GET /incidents
ID=$(json '.value[0].incidentId')
for i in 1 2 3 4 5 6 7 8; do req GET "/incidents/$ID?n=$i"; done
is "$CODE" 200 "8 keys (one incident, 8 queries): 200"
M=$(curl -sS "$GW/metrics")
b=$(metric defgate_cache_bytes)
[ "${b:-0}" -gt 0 ] && [ "${b:-99999}" -le 32768 ]
ok $? "cache bytes $b <= cache_max_bytes (32768)"
e=$(metric defgate_cache_evictions_total)
[ "${e:-0}" -ge 1 ]; ok $? "... the oldest evicted for room ($e)"
req GET "/incidents/$ID?n=8"
is "$(hdr X-Cache)" HIT "the newest is a HIT"
req GET "/incidents/$ID?n=1"
is "$(hdr X-Cache)" MISS "the oldest is gone"
req GET /incidents
len=${#BODY}
c0=$(calls)
req GET /incidents
if [ "$len" -gt 8192 ]; then
	is "$(hdr X-Cache)" MISS "a list of $len bytes (> 25% of 32k) is never stored"
	is "$(( $(calls) - c0 ))" 1 "... so it is fetched every time"
else
	bail "the fake's incident list is too small ($len bytes) for this check"
fi
stop_defgate

# ---- coalescing: 100 identical GETs in flight, 1 upstream call ----
start_defgate --set cache=on --set cache_ttl=120
wait_ready || bail "defgate did not become ready: $(cat "$GW_LOG")"
# the first call to reach the fake is held 3 s: the others arrive meanwhile
# (on a loaded machine some arrive later and are plain HITs: still 1 call)
fake_fault '{"target":"api","kind":"hang","delay_ms":3000,"path":"/api/incidents"}'
c0=$(calls)
# a reader that reads nothing until the others are done
exec 3<>"/dev/tcp/127.0.0.1/$GW_PORT"
printf 'GET /incidents HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
sleep 0.3
t0=$(date +%s%N)
pcurl 100 --max-time 30 -w '%{http_code} %header{x-cache}\n' -o "$T/co.#1.b" \
    "$GW/incidents#[1-100]" > "$T/co.codes"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
is "$(( $(calls) - c0 ))" 1 "101 identical concurrent GETs: 1 upstream call"
is "$(grep -c '^200 ' "$T/co.codes")" 100 \
    "... 100 answers 200 in $ms ms while one reader has read nothing yet"
is "$(md5sum "$T"/co.*.b | awk '{print $1}' | sort -u | wc -l)" 1 \
    "... 100 identical bodies"
n=$(grep -c ' COALESCED$' "$T/co.codes")
[ "$n" -ge 1 ]; ok $? "... $n of them X-Cache: COALESCED (the rest HIT)"
is "$(grep -c ' MISS$' "$T/co.codes")" 0 \
    "... none went upstream itself (the slow reader's was the call)"
timeout 20 cat <&3 > "$T/slow.raw"
exec 3<&-
like "$(head -1 "$T/slow.raw")" " 200 " "the reader that waited: 200"
sed '1,/^\r$/d' "$T/slow.raw" > "$T/slow.b"
cmp -s "$T/slow.b" "$T/co.1.b"; ok $? "... and the same body"
# requests are counted when MHD completes them, just after the client has
# its answer: give the last ones a moment
for i in $(seq 50); do
	M=$(curl -sS "$GW/metrics")
	c=$(metric 'defgate_requests_total{route="incidents",status="200",cache="coalesced"}')
	[ "${c:-0}" = "$n" ] && break
	sleep 0.1
done
is "${c:-0}" "$n" "metrics: cache=\"coalesced\" counted"
stop_defgate

# ---- front threads: `threads` is honoured; hits served by every worker ----
# libmicrohttpd names its threads: MHD-single without a pool, MHD-worker
# for each worker of one
mhd_threads() { cat /proc/"$GW_PID"/task/*/comm | grep '^MHD-' | sort | uniq -c |
    awk '{ printf "%s%s=%s", (NR > 1 ? " " : ""), $2, $1 }'; }
# status_threads: what /status.json says runs
status_threads() { curl -sS "$GW/status.json" | jq -r .config.threads; }
start_defgate --set threads=1
is "$(mhd_threads)" "MHD-single=1" "threads=1: one front thread, no pool"
is "$(status_threads)" 1 "threads=1: status.json config.threads 1"
n1=$(ls /proc/"$GW_PID"/task | wc -l)
stop_defgate
start_defgate --set threads=3
is "$(mhd_threads)" "MHD-worker=3" "threads=3: a pool of three front workers"
n3=$(ls /proc/"$GW_PID"/task | wc -l)
is "$((n3 - n1))" 2 "... two threads more than with threads=1 ($n1, $n3)"
like "$(cat "$GW_LOG")" "3 front thread(s)" "... and the log says so"
is "$(status_threads)" 3 "... and status.json config.threads 3"
stop_defgate
# the default: one per CPU this process may use (nproc reads the same
# affinity mask), at most 8
ncpu=$(nproc); [ "$ncpu" -gt 8 ] && ncpu=8
want="MHD-worker=$ncpu"; [ "$ncpu" = 1 ] && want="MHD-single=1"
GW_DEFAULT_THREADS=1 start_defgate
is "$(mhd_threads)" "$want" "threads unset: one front thread per CPU ($ncpu)"
stop_defgate
GW_DEFAULT_THREADS=1 DEFGATE_WRAPPER="taskset -c 0" start_defgate
is "$(mhd_threads)" "MHD-single=1" "threads unset, one CPU allowed (taskset): one front thread"
stop_defgate
start_defgate --set threads=4 --set max_clients=2
is "$(mhd_threads)" "MHD-worker=2" "threads=4, max_clients=2: two workers (one slot each)"
like "$(cat "$GW_LOG")" "front threads: 2, not 4" "... and the log says why"
is "$(status_threads)" 2 "... and status.json shows the 2 running, not the 4 asked"
stop_defgate

start_defgate --set cache=on --set cache_ttl=120 --set threads=4
wait_ready || bail "defgate did not become ready: $(cat "$GW_LOG")"
curl -s -D "$T/h" -o "$T/par.first" "$GW/incidents"
is "$(hdr X-Cache)" MISS "threads=4: the first GET is a MISS"
c0=$(calls)
# 200 at once, 100 connections open together: the four workers share them
pcurl 100 --no-progress-meter --max-time 30 \
    -w '%{http_code} %header{x-cache}\n' -o "$T/par.#1" \
    "$GW/incidents#[1-200]" > "$T/par.codes"
is "$(sort "$T/par.codes" | uniq -c | awk '{print $1, $2, $3}')" "200 200 HIT" \
    "200 concurrent GETs: 200 answers 200, X-Cache: HIT"
is "$(md5sum "$T"/par.first "$T"/par.[0-9]* | awk '{print $1}' | sort -u |
    wc -l)" 1 "... 200 bodies identical to the first answer"
is "$(( $(calls) - c0 ))" 0 "... no upstream call"
# counted on completion, just after the client has its answer
for i in $(seq 50); do
	M=$(curl -sS "$GW/metrics")
	c=$(metric 'defgate_requests_total{route="incidents",status="200",cache="hit"}')
	[ "${c:-0}" = 200 ] && break
	sleep 0.1
done
is "${c:-0}" 200 "metrics: the 200 hits counted, none lost between workers"
is "$(metric 'defgate_requests_total{route="incidents",status="200",cache="miss"}')" 1 \
    "metrics: ... and the one miss"
req GET /status.json
is "$(json '.requests.by_route.incidents["200"]')" 201 \
    "status.json: 201 answers 200 on /incidents"
stop_defgate

# ---- cache = off: as before ----
start_defgate --set cache=off
wait_ready || bail "defgate did not become ready: $(cat "$GW_LOG")"
c0=$(calls)
req GET /incidents
req GET /incidents
is "$(hdr X-Cache)" "" "cache=off: no X-Cache header"
is "$(hdr Age)" "" "... no Age"
is "$(( $(calls) - c0 ))" 2 "... every request goes upstream"

done_testing

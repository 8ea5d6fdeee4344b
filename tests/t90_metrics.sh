#!/bin/bash
# t90_metrics: the Prometheus exposition passes promtool check metrics
# (Debian package prometheus; scripts/setup installs it): the renderer's
# sample, and GET /metrics of a running defgate after some traffic, with
# the numbers that traffic must have produced.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

PROMTOOL=${PROMTOOL:-promtool}
command -v "$PROMTOOL" >/dev/null ||
    bail "promtool not found: run scripts/setup (Debian package prometheus)"

# promtool itself: it must refuse what is wrong, or the checks below
# could not fail
printf 'm{v="a\nb"} 1\n' > "$T/broken.prom"
"$PROMTOOL" check metrics < "$T/broken.prom" >/dev/null 2>&1
ok $((! $?)) "promtool refuses an unescaped newline in a label value"
printf '# TYPE c counter\nc 1\n' > "$T/lint.prom"
"$PROMTOOL" check metrics < "$T/lint.prom" >/dev/null 2>&1
ok $((! $?)) "promtool refuses a counter without _total and without HELP"

# the renderer's realistic sample (tests/test_metrics.c)
"$top_builddir/tests/test_metrics" --sample > "$T/sample.prom"
is "$?" 0 "the sample renders"
out=$("$PROMTOOL" check metrics < "$T/sample.prom" 2>&1)
is "$?" 0 "promtool check metrics: the sample passes"
is "$out" "" "... without a lint remark"
like "$(cat "$T/sample.prom")" 'le="+Inf"' "the sample has a histogram"
like "$(cat "$T/sample.prom")" 'audience="we\"ird\\aud\nience"' \
    "the sample has escaped label values"

# ---- GET /metrics on a running defgate ----
# metric NAME{LABELS}: its value in $M (exact series match)
metric() { printf '%s\n' "$M" | awk -v s="$1" '$1 == s { print $2 }'; }
start_fake
start_defgate --set cache=on --set quota_incidents=50/min,1500/h \
    --set quota_mde=100/min
wait_ready || bail "defgate did not become ready: $(cat "$GW_LOG")"
for i in 1 2 3; do req GET /incidents; done
is "$CODE" 200 "three GET /incidents"
req GET /api/alerts
is "$CODE" 200 "GET /api/alerts (MDE)"
req GET /nope
is "$CODE" 404 "a 404"
calls=$(fake_stat .api_requests)
M=$(curl -sS -D "$T/mh" "$GW/metrics")
like "$(grep -i '^content-type:' "$T/mh")" "text/plain; version=0.0.4" \
    "Content-Type of the 0.0.4 text format"
printf '%s\n' "$M" > "$T/live.prom"
out=$("$PROMTOOL" check metrics < "$T/live.prom" 2>&1)
is "$?" 0 "promtool check metrics: GET /metrics passes"
is "$out" "" "... without a lint remark"
is "$(metric 'defgate_requests_total{route="incidents",status="200",cache="miss"}')" 1 \
    "requests by route, status and cache: 1 miss"
is "$(metric 'defgate_requests_total{route="incidents",status="200",cache="hit"}')" 2 \
    "... 2 hits"
is "$(metric 'defgate_requests_total{route="other",status="404",cache="none"}')" 1 \
    "... the 404 as route other"
is "$(metric 'defgate_upstream_calls_total{backend="defender",status="200"}')" 1 \
    "upstream calls by backend and status: defender 1"
is "$(metric 'defgate_upstream_calls_total{backend="mde",status="200"}')" 1 \
    "... mde 1"
is "$calls" 2 "the fake saw the same 2 API calls"
is "$(metric 'defgate_token_requests_total{backend="defender",audience="https://api.security.microsoft.com/.default"}')" 1 \
    "token requests per audience: defender 1"
is "$(metric 'defgate_token_requests_total{backend="mde",audience="https://api.securitycenter.microsoft.com/.default"}')" 1 \
    "... mde 1"
is "$(metric 'defgate_token_failures_total{backend="defender",audience="https://api.security.microsoft.com/.default"}')" 0 \
    "token failures: 0"
is "$(metric 'defgate_quota_remaining{group="incidents",window="minute"}')" 49 \
    "remaining quota: incidents 49 this minute"
is "$(metric 'defgate_quota_remaining{group="incidents",window="hour"}')" 1499 \
    "... 1499 this hour"
is "$(metric 'defgate_quota_remaining{group="mde",window="hour"}')" -1 \
    "... mde: no hourly limit set (-1)"
is "$(metric 'defgate_quota_calls{group="incidents",window="minute"}')" 1 \
    "calls in the last minute: 1"
is "$(metric defgate_cache_entries)" 2 "cache entries: /incidents and /api/alerts"
is "$(metric defgate_cache_hits_total)" 2 "cache hits: 2"
is "$(metric defgate_cache_misses_total)" 2 "cache misses: 2"
b=$(metric defgate_cache_bytes)
[ "${b:-0}" -gt 100 ]; ok $? "cache bytes: $b"
is "$(metric defgate_requests_in_flight)" 1 \
    "in flight: 1 (this request)"
n=$(metric defgate_request_duration_seconds_count)
[ "${n:-0}" -ge 5 ]; ok $? "latency histogram counts the requests ($n)"
is "$(metric 'defgate_request_duration_seconds_bucket{le="+Inf"}')" "$n" \
    "+Inf bucket == _count"
curl -sS -X POST -o /dev/null "$GW/metrics"
M=$(curl -sS "$GW/metrics")
is "$(metric 'defgate_requests_total{route="metrics",status="405",cache="none"}')" 1 \
    "POST /metrics: 405, counted"

done_testing

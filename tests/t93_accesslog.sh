#!/bin/bash
# t93_accesslog: log_format = json. Every line defgate writes is one JSON
# object; each finished request has an access line with its route (the
# table's name and pattern, never the raw path), status, cache result,
# latency, upstream status and client; the query text (the KQL of
# /hunting, a query string) only with log_queries = true, and never a
# token. With the default text format there is no access log at all.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

KQL='DeviceInfo | where DeviceName == "kql-marker-4711" | take 1'
HB=$(jq -cn --arg q "$KQL" '{Query: $q}')
# access_line LOG ID: the access line of request ID in LOG, if written
access_line() {
	grep -F "\"request_id\":\"$2\"" "$1" | grep -F '"type":"access"' |
	    head -1
}
# access LOG ID JQ: JQ over that line. defgate writes it when libmicrohttpd
# completes the request, just after the client has its answer: wait for it,
# at most 5 s
access() {
	local line i=0

	until line=$(access_line "$1" "$2") && [ -n "$line" ]; do
		i=$((i + 1))
		[ "$i" -gt 50 ] && break
		sleep 0.1
	done
	jq -r "$3" <<<"$line"
}
# run_requests: one of each kind, with request ids of prefix $1
run_requests() {
	req GET /incidents -H "client-request-id: $1-miss"
	is "$CODE" 200 "$1: a miss"
	req GET /incidents -H "client-request-id: $1-hit"
	is "$(hdr X-Cache)" HIT "$1: a hit"
	req GET /no/such/path -H "client-request-id: $1-404"
	is "$CODE" 404 "$1: a 404"
	req POST /hunting -H "client-request-id: $1-hunt" \
	    -H 'Content-Type: application/json' --data-binary "$HB"
	is "$CODE" 200 "$1: POST /hunting"
	req GET '/api/alerts?%24filter=kql-marker-4712' \
	    -H "client-request-id: $1-mde" \
	    -H "Authorization: Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2ln"
	is "$CODE" 200 "$1: an MDE call"
	req GET '/api/alerts?%24top=2' -H "client-request-id: $1-429"
	is "$CODE" 429 "$1: a local 429"
}
# every line of LOG is a JSON object (python3's parser, not ours)
all_json() {
	python3 - "$1" <<'PY'
import json, sys
n = 0
for i, line in enumerate(open(sys.argv[1], 'rb').read().split(b'\n')):
    if not line:
        continue
    o = json.loads(line.decode('utf-8'))
    assert isinstance(o, dict), 'line %d is not an object' % (i + 1)
    n += 1
print(n)
PY
}

start_fake
start_defgate --set log_format=json --set cache=on --set quota_mde=1/min
wait_ready || bail "defgate did not become ready: $(cat "$GW_LOG")"
run_requests a
n=$(all_json "$GW_LOG")
ok $? "every line of the log parses as JSON ($n lines)"
like "$(head -1 "$GW_LOG")" '"level":"info"' "the daemon's own records are JSON"
like "$(grep -c '"msg":"defgate ' "$GW_LOG")" 1 "... its start record among them"

L=$GW_LOG
is "$(access "$L" a-miss .route)" incidents "miss: route name"
is "$(access "$L" a-miss .pattern)" /incidents "miss: route pattern"
is "$(access "$L" a-miss .method)" GET "miss: method"
is "$(access "$L" a-miss .status)" 200 "miss: status"
is "$(access "$L" a-miss .cache)" miss "miss: cache miss"
is "$(access "$L" a-miss .upstream_status)" 200 "miss: upstream status 200"
is "$(access "$L" a-miss .client)" 127.0.0.1 "miss: client address"
access "$L" a-miss .time | grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$'
ok $? "miss: time is RFC 3339 UTC with ms ($(access "$L" a-miss .time))"
is "$(access "$L" a-miss '.latency_ms | type')" number "miss: latency in ms"
[ "$(access "$L" a-miss .upstream_bytes)" -gt 0 ] 2>/dev/null
ok $? "miss: upstream bytes ($(access "$L" a-miss .upstream_bytes))"
is "$(access "$L" a-hit .cache)" hit "hit: cache hit"
is "$(access "$L" a-hit .upstream_status)" null "hit: no upstream status"
is "$(access "$L" a-404 .status)" 404 "404: status"
is "$(access "$L" a-404 .route)" other "404: route other"
unlike "$(grep -F a-404 "$L")" "no/such" "404: the raw path is not logged"
is "$(access "$L" a-hunt .route)" hunting "hunting: route"
is "$(access "$L" a-hunt .method)" POST "hunting: method"
is "$(access "$L" a-hunt .cache)" none "hunting: not a cached route"
is "$(access "$L" a-hunt .query)" null "hunting: no query member"
unlike "$(cat "$L")" "kql-marker-4711" "hunting: the KQL is nowhere in the log"
unlike "$(cat "$L")" "kql-marker-4712" "the query string is nowhere in the log"
is "$(access "$L" a-429 .status)" 429 "local 429: status"
is "$(access "$L" a-429 .upstream_status)" null "local 429: no upstream call"
is "$(access "$L" a-429 .route)" mde_alerts "local 429: route"
unlike "$(cat "$L")" "eyJhbGciOiJub25lIn0" "no token in the log"
is "$(grep '"type":"access"' "$L" | grep -c '"request_id":"a-')" 6 \
    "one access line per request"
stop_defgate

# ---- log_queries = true: the query text is there, redacted
start_defgate --set log_format=json --set cache=on --set quota_mde=1/min \
    --set log_queries=true
wait_ready || bail "defgate (log_queries) not ready: $(cat "$GW_LOG")"
run_requests b
L=$GW_LOG
all_json "$L" >/dev/null
ok $? "log_queries: every line parses as JSON"
is "$(access "$L" b-hunt .query)" "$KQL" "log_queries: the KQL of POST /hunting"
is "$(access "$L" b-mde .query)" '%24filter=kql-marker-4712' \
    "log_queries: the raw query string"
is "$(access "$L" b-miss .query)" null "log_queries: none without a query"
req GET '/incidents?access_token=eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2ln' \
    -H "client-request-id: b-tok"
like "$(access "$L" b-tok .query)" "[redacted]" "log_queries: a token in it redacted"
unlike "$(cat "$L")" "eyJhbGciOiJub25lIn0" "log_queries: the token is not in the log"
# a long query is cut, the line stays one JSON object within its cap
long=$(head -c 6000 /dev/zero | tr '\0' 'x')
req POST /hunting -H "client-request-id: b-long" \
    -H 'Content-Type: application/json' \
    --data-binary "$(jq -cn --arg q "DeviceInfo | where x == \"$long\\\"\"" '{Query: $q}')"
q=$(access "$L" b-long .query)
[ "${#q}" -le 2048 ] && [ "${#q}" -gt 1000 ]
ok $? "log_queries: a long query cut to 2048 bytes (${#q})"
all_json "$L" >/dev/null
ok $? "log_queries: still every line JSON"
awk 'length($0) >= 4096 { bad = 1 } END { exit bad }' "$L"
ok $? "no line reaches 4096 bytes"
stop_defgate

# ---- the default text format: no access log, records as before
start_defgate --set cache=on
wait_ready || bail "defgate (text) not ready: $(cat "$GW_LOG")"
req GET /incidents -H "client-request-id: c-miss"
req GET /no/such/path -H "client-request-id: c-404"
stop_defgate
unlike "$(cat "$GW_LOG")" '"type":"access"' "text: no access log"
unlike "$(cat "$GW_LOG")" "c-miss" "text: no line for a request"
grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z defgate\[[0-9]+\] info: defgate ' "$GW_LOG"
ok $? "text: the records keep their text form"

# ---- DEFGATE_LOG_FORMAT and bad values
DEFGATE_LOG_FORMAT=json start_defgate
wait_ready || bail "defgate (env json) not ready: $(cat "$GW_LOG")"
req GET /healthz -H "client-request-id: d-health"
is "$(access "$GW_LOG" d-health .route)" healthz "DEFGATE_LOG_FORMAT=json: access lines"
stop_defgate
out=$("$DEFGATE" --check --set log_format=xml 2>&1)
like "$out" "log_format" "log_format=xml is refused, naming the key"
done_testing

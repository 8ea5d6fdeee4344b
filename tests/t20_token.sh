#!/bin/bash
# Token cache: one request for many, single-flight cold start, refresh ahead
# of expiry, 401 -> refresh -> one retry, outages (503 + AADSTS, recovery),
# Retry-After on the token endpoint, v1 shape, malformed answers.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

start_fake

# --- single-flight under a concurrent cold start: the first token request
# hangs 1.5 s while 100 clients arrive; exactly one token request is made
fake_fault '{"target":"token","kind":"hang","delay_ms":1500}'
start_defgate
codes=$(burst 100 100 /incidents | sort | uniq -c | tr -s ' ')
is "$codes" " 100 200" "cold start: 100 concurrent requests all answered 200"
is "$(fake_stat .token_requests)" 1 "cold start: exactly one token request"

burst 30 1 "/incidents?\$top=1" >/dev/null
is "$(fake_stat .token_requests)" 1 "one token request for 130 API requests"

# --- upstream 401 (token revoked): refresh once, retry once, succeed;
# then, on the same keep-alive connection a few ms later, a 401 on that
# new token (younger than 2 s) is the API's answer: no new token
ID=$(curl -s "$GW/incidents?\$top=1" | jq -r '.value[0].incidentId')
sleep 2.1	# a 401 means "revoked" only for a token older than 2 s
fake_ctl revoke '{}' >/dev/null
fake_fault "{\"target\":\"api\",\"kind\":\"status\",\"status\":401,\"count\":1,\"path\":\"/api/incidents/$ID\"}"
codes=$(curl -s -o /dev/null -o /dev/null -w '%{http_code} ' "$GW/incidents?\$top=1" \
    "$GW/incidents/$ID")
is "$codes" "200 401 " "revoked token: retried with a new token (200); a 401 on that fresh token reaches the client"
is "$(fake_stat .token_requests)" 2 "exactly one new token: none for the 401 on the fresh token"
grep -q 'retrying once' "$GW_LOG"; ok $? "the 401 retry is logged"

# --- a 401 that persists is passed through, never a loop
sleep 2.1
fake_fault '{"target":"api","kind":"status","status":401,"count":2}'
req GET /incidents
is "$CODE" 401 "persistent 401 reaches the client after one retry"
is "$(fake_stat .token_requests)" 3 "persistent 401: one refresh only"
# an accepted call (not a new token) ends the run of 401s
req GET /incidents
is "$CODE" 200 "after the persistent 401: 200 with the same token"
is "$(fake_stat .token_requests)" 3 "after the persistent 401: no new token"

# --- token endpoint outage with an AADSTS error: 503 with code and hint
fake_fault '{"target":"token","kind":"status","status":401,"error":"invalid_client","aadsts":7000222,"count":-1}'
sleep 2.1	# old enough for a 401 to mean "revoked"
fake_ctl revoke '{}' >/dev/null
req GET /incidents
is "$CODE" 503 "token outage: 503"
is "$(json .error.code)" TokenUnavailable "token outage: TokenUnavailable"
like "$(json .error.message)" "AADSTS7000222" "token outage: AADSTS code in message"
like "$(json .error.message)" "expired" "token outage: plain hint in message"
[ -n "$(hdr Retry-After)" ]; ok $? "token outage: Retry-After set"
req GET /readyz
is "$CODE" 503 "readyz 503 during the outage"
is "$(curl -s "$GW/status.json" | jq -r .token.last_error.aadsts)" 7000222 \
    "status.json shows the AADSTS code"
# recovery when the outage ends (backoff retries by itself)
fake_ctl reset '{}' >/dev/null
wait_ready; ok $? "readyz 200 again after the outage ends"
req GET /incidents
is "$CODE" 200 "requests succeed again after recovery"
is "$(curl -s "$GW/status.json" | jq -r .token.last_error)" null \
    "last_error cleared after recovery"
kill "$GW_PID"; wait "$GW_PID" 2>/dev/null

# --- Retry-After from the token endpoint is honoured
fake_ctl reset '{}' >/dev/null
fake_fault '{"target":"token","kind":"429","retry_after":5}'
t0=$(date +%s%N)
start_defgate
req GET /incidents
is "$CODE" 503 "token 429: clients get 503 meanwhile"
sleep 2
is "$(fake_stat .token_requests)" 1 "token 429: no retry before Retry-After"
wait_ready; ok $? "token 429: ready after Retry-After"
t1=$(date +%s%N)
[ $(( (t1 - t0) / 1000000 )) -ge 4900 ]; ok $? "token 429: retry waited >= 5 s"
is "$(fake_stat .token_requests)" 2 "token 429: exactly one retry"
kill "$GW_PID"; wait "$GW_PID" 2>/dev/null

# --- malformed 200 and 200 without expires_in are failures
fake_ctl reset '{}' >/dev/null
# until reset: the error is still shown however slow the machine is
fake_fault '{"target":"token","kind":"malformed","count":-1}'
start_defgate
req GET /incidents
is "$CODE" 503 "malformed token answer: 503"
sj=$(curl -s "$GW/status.json")
is "$(printf '%s' "$sj" | jq -r .token.last_error.error)" \
    malformed_response "malformed token answer: recorded"
[ "$(printf '%s' "$sj" | jq -r .token.last_error.error)" = malformed_response ] ||
    diag "$BODY $(printf '%s' "$sj" | jq -c .token) $(cat "$GW_LOG")"
fake_ctl reset '{}' >/dev/null
wait_ready; ok $? "malformed token answer: recovers on retry"
kill "$GW_PID"; wait "$GW_PID" 2>/dev/null
fake_ctl reset '{}' >/dev/null
fake_fault '{"target":"token","kind":"missing_expiry","count":-1}'
start_defgate
req GET /incidents
is "$CODE" 503 "token answer without expires_in: 503"
kill "$GW_PID"; wait "$GW_PID" 2>/dev/null
fake_ctl reset '{}' >/dev/null
fake_fault '{"target":"token","kind":"missing_token","count":-1}'
start_defgate
req GET /incidents
is "$CODE" 503 "token answer without access_token: 503"
kill "$GW_PID"; wait "$GW_PID" 2>/dev/null

# --- v1 endpoint with resource=
fake_ctl reset '{}' >/dev/null
start_defgate --set token_version=v1
req GET /incidents
is "$CODE" 200 "v1 token endpoint works"
like "$(fake_ctl stats | jq -r .last_token_request.path)" "/oauth2/token" \
    "v1: /oauth2/token used"
is "$(fake_ctl stats | jq -r .last_token_request.form.resource)" \
    "https://api.security.microsoft.com" "v1: resource= without /.default"
kill "$GW_PID"; wait "$GW_PID" 2>/dev/null

# --- refresh ahead of expiry with short-lived tokens; a failed refresh
# keeps the still-valid token in use
fake_ctl reset '{}' >/dev/null
fake_ctl config '{"token_lifetime":6}' >/dev/null
start_defgate
wait_ready
fake_fault '{"target":"token","kind":"status","status":500}'
bad=0
end=$(( $(date +%s) + 13 ))
while [ "$(date +%s)" -lt "$end" ]; do
	c=$(curl -s -o /dev/null -w "%{http_code}" "$GW/incidents?\$top=1")
	[ "$c" = 200 ] || bad=$((bad + 1))
	sleep 0.1
done
is "$bad" 0 "short-lived tokens: every request 200 across refreshes"
n=$(fake_stat .token_requests)
[ "$n" -ge 3 ]; ok $? "short-lived tokens: refreshed ahead ($n token requests)"
grep -q 'upstream rejected the token' "$GW_LOG"; is $? 1 \
    "short-lived tokens: no request ever carried an expired token"
grep -q 'current token stays in use' "$GW_LOG"; ok $? \
    "a failed refresh keeps the still-valid token"
done_testing

#!/bin/bash
# t44_leaks: services that echo what they were sent. The fake's fault
# "echo" makes the token endpoint quote the request body (client_secret,
# plain and URL-encoded, or the client_assertion) in its AADSTS7000215
# answer, and an API quote the Authorization header in its 403; none of
# it may reach defgate's error bodies, /readyz, /status.json or its log.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

# characters that URL-encoding changes, so both spellings are looked for
SECRET='s3cr+t/=&x%'
ENC=$(jq -rn --arg s "$SECRET" '$s|@uri')
enc_lower=$(printf '%s' "$ENC" | tr 'A-F' 'a-f')
S=
status_json() { S=$(curl -sS "$GW/status.json"); }
sj() { printf '%s' "$S" | jq -r "$1"; }
wait_token_error() {
	i=0
	while status_json; [ "$(sj '.token.last_error != null')" != true ]; do
		i=$((i + 1)); [ "$i" -gt 100 ] && return 1
		sleep 0.1
	done
}
# no_secret WHAT TEXT: neither spelling of the secret, nor a form value
no_secret() {
	unlike "$2" "$SECRET" "$1: no plain secret"
	unlike "$2" "$ENC" "$1: no URL-encoded secret"
	unlike "$2" "$enc_lower" "$1: no URL-encoded secret (lower case)"
	printf '%s' "$2" | grep -Eq 'client_secret=[^[]'
	[ $? -ne 0 ]; ok $? "$1: no client_secret= value"
}
# no_jwt WHAT TEXT: no JWT (not even a cut one: every JWT starts with
# eyJ, which no id or name of defgate's contains) and no bearer value
no_jwt() {
	unlike "$2" eyJ "$1: no JWT"
	printf '%s' "$2" | grep -Eiq 'bearer +[^[ ]'
	[ $? -ne 0 ]; ok $? "$1: no Bearer value"
}

start_fake

# ================= the fake echoes (the test would be empty otherwise)
fake_fault '{"target":"token","kind":"echo"}'
E=$(curl -sS --cacert "$CA" "$FAKE_URL/$TENANT/oauth2/token" \
    -d grant_type=client_credentials -d client_id="$CLIENT" \
    --data-urlencode client_secret="$SECRET" \
    --data-urlencode resource=https://api.security.microsoft.com)
like "$(printf '%s' "$E" | jq -r .error_description)" "client_secret=$ENC" \
    "fake echo: the token endpoint quotes the URL-encoded secret"
like "$(printf '%s' "$E" | jq -r .error_description)" "'$SECRET'" \
    "fake echo: and the plain secret"
is "$(printf '%s' "$E" | jq -c .error_codes)" '[7000215]' "fake echo: AADSTS7000215"
is "$(fake_stat .last_token_request.form.client_secret)" '<redacted>' \
    "fake echo: the fake's own record stays redacted"
unlike "$(fake_ctl stats)" "$ENC" "fake echo: /_sim/stats has no secret"

# ================= token endpoint echoes the client secret
fake_fault '{"target":"token","kind":"echo","count":-1}'
a0=$(fake_stat .api_requests)
start_defgate
wait_token_error; ok $? "token echo: defgate records the token error"
is "$(sj .token.last_error.aadsts)" 7000215 "token echo: status.json has the AADSTS code"
no_secret "token echo: status.json" "$S"
req GET /readyz
is "$CODE" 503 "token echo: /readyz 503"
like "$BODY" AADSTS7000215 "token echo: /readyz names AADSTS7000215"
no_secret "token echo: /readyz" "$BODY"
req GET /incidents
is "$CODE" 503 "token echo: GET /incidents 503"
is "$(json .error.code)" TokenUnavailable "token echo: TokenUnavailable"
like "$BODY" AADSTS7000215 "token echo: GET /incidents names AADSTS7000215"
no_secret "token echo: GET /incidents" "$BODY"
req GET /status
no_secret "token echo: /status" "$BODY"
is "$(fake_stat .api_requests)" "$a0" "token echo: nothing forwarded"
stop_defgate; is "$?" 0 "token echo: defgate exits 0"
like "$(cat "$GW_LOG")" AADSTS7000215 "token echo: the log names AADSTS7000215"
no_secret "token echo: log" "$(cat "$GW_LOG")"
fake_ctl reset '{}' >/dev/null

# ================= an API echoes the bearer
start_defgate
wait_ready || bail "defgate not ready: $(cat "$GW_LOG")"
req GET /incidents
is "$CODE" 200 "api echo: a token first"
TOKEN=$(fake_stat .last_request.headers.authorization)
TOKEN=${TOKEN#Bearer }
case $TOKEN in eyJ*.*.*) r=0 ;; *) r=1 ;; esac
ok $r "api echo: took the real token from the fake"
fake_fault '{"target":"api","kind":"echo"}'
req GET /incidents
is "$CODE" 403 "api echo: the API's 403 reaches the client"
like "$(json .error.message)" "Missing application roles" \
    "api echo: the API's own 403 body is passed through"
# errors from the API itself are passed through, except what they echo
# of defgate's own credentials (README, "Errors from the API itself"):
# the token would let any local caller reach the API past the route table
like "$(json .error.message)" "Authorization: Bearer [redacted]" \
    "api echo: the client gets the API's body with the bearer redacted"
unlike "$BODY" "$TOKEN" "api echo: the client's 403 has no token"
no_jwt "api echo: the client's 403" "$BODY"
i=0
while status_json; [ "$(sj '.upstream.last_forbidden != null')" != true ]; do
	i=$((i + 1)); [ "$i" -gt 50 ] && break
	sleep 0.1
done
like "$(sj .upstream.last_forbidden)" "Missing application roles" \
    "api echo: status.json last_forbidden shows the 403"
unlike "$S" "$TOKEN" "api echo: status.json has no token"
unlike "$S" "$(printf '%s' "$TOKEN" | cut -d. -f3)" "api echo: status.json has no token signature"
no_jwt "api echo: status.json" "$S"
req GET /status
no_jwt "api echo: /status" "$BODY"
stop_defgate; is "$?" 0 "api echo: defgate exits 0"
unlike "$(cat "$GW_LOG")" "$TOKEN" "api echo: log has no token"
no_jwt "api echo: log" "$(cat "$GW_LOG")"
fake_ctl reset '{}' >/dev/null

# ================= token endpoint echoes the client assertion
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=defgate-echo \
    -keyout "$T/k.pem" -out "$T/c.pem" 2>/dev/null
cat "$T/c.pem" "$T/k.pem" > "$T/cert.pem"
chmod 600 "$T/cert.pem"
fake_fault '{"target":"token","kind":"echo","count":-1}'
GW_SECRET=none start_defgate --set client_certificate_path="$T/cert.pem"
wait_token_error; ok $? "assertion echo: defgate records the token error"
is "$(fake_stat .last_token_request.form.client_assertion)" '<redacted>' \
    "assertion echo: an assertion was sent (the fake's record is redacted)"
no_jwt "assertion echo: status.json" "$S"
unlike "$S" "client_assertion=eyJ" "assertion echo: status.json has no assertion"
req GET /incidents
is "$CODE" 503 "assertion echo: GET /incidents 503"
like "$BODY" AADSTS7000215 "assertion echo: GET /incidents names AADSTS7000215"
no_jwt "assertion echo: GET /incidents" "$BODY"
req GET /readyz
no_jwt "assertion echo: /readyz" "$BODY"
stop_defgate; is "$?" 0 "assertion echo: defgate exits 0"
no_jwt "assertion echo: log" "$(cat "$GW_LOG")"

done_testing

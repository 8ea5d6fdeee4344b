#!/bin/bash
# t26_sim_creds: defgate's certificate and federated credentials against
# the simulator's Entra checks: PS256 and RS256 assertions
# accepted, a fresh jti every time, a wrong certificate (AADSTS700027), an
# expired assertion from a clock 20 minutes behind (AADSTS700024, faketime),
# a replay answer's hint (AADSTS50013), a missing federated token file, a
# rotated one picked up without a restart (good -> AADSTS70021 -> good),
# --check with both; private key and federated token never shown.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

b64u() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
sj() { curl -s "$GW/status.json" | jq -r "$1"; }
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" \
    -days 60 -subj /CN=defgate-t26 2>/dev/null || bail "openssl req failed"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/okey.pem" -out "$T/ocert.pem" \
    -days 60 -subj /CN=someone-else 2>/dev/null || bail "openssl req failed"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/fed.pem" 2>/dev/null &&
    openssl pkey -in "$T/fed.pem" -pubout -out "$T/fed.pub" 2>/dev/null || bail "openssl genpkey failed"
cat "$T/cert.pem" "$T/key.pem" > "$T/both.pem"
cat "$T/ocert.pem" "$T/okey.pem" > "$T/other.pem"
chmod 600 "$T/both.pem" "$T/other.pem"
KEYLINE=$(sed -n 5p "$T/key.pem")
FISS=https://oidc.example.test/cluster-1
FSUB=system:serviceaccount:security:defgate
# fedtok SUB: a projected service-account token signed by the cluster's key
fedtok() {
	_now=$(date +%s)
	_h=$(printf '{"alg":"RS256","typ":"JWT","kid":"k1"}' | b64u)
	_p=$(printf '{"iss":"%s","sub":"%s","aud":"api://AzureADTokenExchange","iat":%s,"nbf":%s,"exp":%s}' \
	    "$FISS" "$1" "$_now" "$_now" $((_now + 3600)) | b64u)
	_s=$(printf '%s.%s' "$_h" "$_p" | openssl dgst -sha256 -sign "$T/fed.pem" -binary | b64u)
	printf '%s.%s.%s\n' "$_h" "$_p" "$_s"
}
start_fake --cert "$T/cert.pem" --federated-issuer "$FISS" \
    --federated-subject "$FSUB" --federated-key "$T/fed.pub"

# ================= certificate: PS256 + x5t#S256 (the default)
GW_SECRET=none start_defgate --set client_certificate_path="$T/both.pem"
req GET /incidents
is "$CODE" 200 "certificate (PS256): a token the API accepts"
is "$(fake_stat .last_token_request.form.client_assertion_type)" \
    urn:ietf:params:oauth:client-assertion-type:jwt-bearer \
    "certificate: a jwt-bearer client assertion was sent"
is "$(fake_stat .last_token_request.form.client_secret)" null \
    "certificate: no client_secret was sent"
sleep 2.1	# a 401 means "revoked" only for a token older than 2 s
fake_ctl revoke '{}' >/dev/null
req GET /incidents
is "$CODE" 200 "certificate: a second assertion (new jti) is accepted, not a replay"
is "$(fake_stat .token_requests)" 2 "certificate: two token requests"
stop_defgate

# ================= RS256 + x5t, with x5c
GW_SECRET=none start_defgate --set client_certificate_path="$T/both.pem" \
    --set client_assertion_alg=RS256 --set send_certificate_chain=true
req GET /incidents
is "$CODE" 200 "certificate (RS256, x5c): a token the API accepts"
stop_defgate

# ================= a certificate the app does not know
GW_SECRET=none start_defgate --set client_certificate_path="$T/other.pem"
req GET /incidents
is "$CODE" 503 "wrong certificate: 503"
like "$(json .error.message)" AADSTS700027 "wrong certificate: AADSTS700027"
like "$(json .error.message)" "upload this certificate" "wrong certificate: hint"
stop_defgate

# ================= an expired assertion: defgate's clock 20 minutes behind
# (libfaketime preloaded by env, which execs: the pid is defgate's own)
FAKETIME_LIB=$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -1)
if [ -n "$FAKETIME_LIB" ]; then
	DEFGATE_WRAPPER="env LD_PRELOAD=$FAKETIME_LIB FAKETIME=-20m FAKETIME_DONT_FAKE_MONOTONIC=1 ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
	    GW_SECRET=none start_defgate --set client_certificate_path="$T/both.pem"
	req GET /incidents
	is "$CODE" 503 "expired assertion: 503"
	like "$(json .error.message)" AADSTS700024 "expired assertion: AADSTS700024"
	like "$(json .error.message)" "system clock" "expired assertion: hint"
	stop_defgate
else
	ok 0 "# SKIP faketime is not installed (scripts/setup installs it)"
fi

# ================= a replayed assertion: the hint that goes with it
fake_fault '{"target":"token","kind":"status","status":400,"error":"invalid_client","aadsts":50013,"count":-1}'
GW_SECRET=none start_defgate --set client_certificate_path="$T/both.pem"
req GET /incidents
like "$(json .error.message)" AADSTS50013 "replayed assertion: AADSTS50013"
like "$(json .error.message)" "replayed" "replayed assertion: hint"
stop_defgate
fake_ctl reset '{}' >/dev/null

# ================= federated: missing, appears, rotates, rotates back
FED=$T/token
GW_SECRET=none start_defgate --set federated_token_file="$FED"
req GET /incidents
is "$CODE" 503 "federated, no token file: 503"
is "$(sj .token.last_error.error)" credential_unavailable "federated, no file: credential_unavailable"
fedtok "$FSUB" > "$FED"
wait_ready; ok $? "federated: the file is picked up once it appears"
req GET /incidents
is "$CODE" 200 "federated: a token the API accepts"
fedtok system:serviceaccount:other:intruder > "$FED"
sleep 2.1	# old enough for a 401 to mean "revoked"
fake_ctl revoke '{}' >/dev/null
req GET /incidents
is "$CODE" 503 "federated, rotated to an unknown subject: 503"
like "$(json .error.message)" AADSTS70021 "federated, unknown subject: AADSTS70021"
like "$(json .error.message)" "federated credential" "federated, unknown subject: hint"
fedtok "$FSUB" > "$FED"
wait_ready; ok $? "federated: a rotated file is picked up without a restart"
FEDSIG=$(cut -d. -f3 "$FED")
unlike "$(curl -s "$GW/status.json")" "$FEDSIG" "federated token not on the page"
stop_defgate

# ================= --check with each
out=$(env -i PATH="$PATH" AZURE_TENANT_ID=$TENANT AZURE_CLIENT_ID=$CLIENT \
    AZURE_CLIENT_CERTIFICATE_PATH=$T/both.pem AZURE_AUTHORITY_HOST=$FAKE_URL \
    DEFGATE_CA_FILE=$CA "$DEFGATE" --check 2>&1)
is "$?" 0 "--check certificate: exit 0"
like "$out" "token:          OK" "--check certificate: token OK"
out=$(env -i PATH="$PATH" AZURE_TENANT_ID=$TENANT AZURE_CLIENT_ID=$CLIENT \
    AZURE_FEDERATED_TOKEN_FILE=$FED AZURE_AUTHORITY_HOST=$FAKE_URL \
    DEFGATE_CA_FILE=$CA "$DEFGATE" --check 2>&1)
is "$?" 0 "--check federated: exit 0"
like "$out" "token:          OK" "--check federated: token OK"
unlike "$out" "$FEDSIG" "--check federated: no token shown"

# ================= nothing secret in any log of this test
all=$(cat "$T"/defgate.*.log)
unlike "$all" "$KEYLINE" "private key in no log"
unlike "$all" "$FEDSIG" "federated token in no log"
unlike "$all" "client_assertion=eyJ" "no assertion in any log"
done_testing

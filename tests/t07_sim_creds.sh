#!/bin/bash
# t07_sim_creds: the simulator's credential checks, through the test fake
# and curl/openssl only (no defgate): certificate client assertions (PS256
# with x5t#S256, RS256 with x5t) and each Entra rejection with its AADSTS
# code, federated assertions (AADSTS70021 and friends), and the managed
# identity endpoints (IMDS and App Service) on their plain-HTTP port.
. "$(dirname "$0")/lib.sh"

JWT_BEARER=urn:ietf:params:oauth:client-assertion-type:jwt-bearer
GRAPH=https://graph.microsoft.com

b64u() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
# jwt ALG HEADER-JSON PAYLOAD-JSON KEY: a signed compact JWT
jwt() {
	_h=$(printf '%s' "$2" | b64u)
	_p=$(printf '%s' "$3" | b64u)
	if [ "$1" = PS256 ]; then
		_s=$(printf '%s.%s' "$_h" "$_p" | openssl dgst -sha256 -sign "$4" \
		    -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 -binary | b64u)
	else
		_s=$(printf '%s.%s' "$_h" "$_p" | openssl dgst -sha256 -sign "$4" -binary | b64u)
	fi
	printf '%s.%s.%s' "$_h" "$_p" "$_s"
}
thumb() { openssl x509 -in "$1" -outform der | openssl dgst -"$2" -binary | b64u; }
# assert ASSERTION: the token endpoint's answer in $TOK
assert() {
	TOK=$(curl -sS --cacert "$CA" "$FAKE_URL/$TENANT/oauth2/v2.0/token" \
	    -d grant_type=client_credentials -d client_id="$CLIENT" \
	    --data-urlencode client_assertion_type="$JWT_BEARER" \
	    --data-urlencode client_assertion="$1" \
	    --data-urlencode scope="$GRAPH/.default")
}
code() { printf '%s' "$TOK" | jq -r '(.error_codes[0] // "none")|tostring'; }
good() { printf '%s' "$TOK" | jq -r '.access_token|type'; }

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" \
    -days 2 -subj /CN=defgate-test 2>/dev/null || bail "openssl req failed"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/other.pem" -out "$T/other-cert.pem" \
    -days 2 -subj /CN=someone-else 2>/dev/null || bail "openssl req failed"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/fed.pem" 2>/dev/null &&
    openssl pkey -in "$T/fed.pem" -pubout -out "$T/fed.pub" 2>/dev/null || bail "openssl genpkey failed"
S256=$(thumb "$T/cert.pem" sha256)
S1=$(thumb "$T/cert.pem" sha1)
FISS=https://oidc.example.test/cluster-1
FSUB=system:serviceaccount:security:defgate

start_fake --cert "$T/cert.pem" --federated-issuer "$FISS" \
    --federated-subject "$FSUB" --federated-key "$T/fed.pub"
AUD="https://127.0.0.1:$FAKE_PORT/$TENANT/oauth2/v2.0/token"
now=$(date +%s)
claims() {	# claims [jq assignments]: a certificate assertion's payload
	jq -nc --arg c "$CLIENT" --arg a "$AUD" --arg j "$(cat /proc/sys/kernel/random/uuid)" \
	    --argjson n "$now" "{aud:\$a, iss:\$c, sub:\$c, jti:\$j, nbf:\$n, iat:\$n, exp:(\$n+600)} ${1:+| $1}"
}
H256="{\"alg\":\"PS256\",\"typ\":\"JWT\",\"x5t#S256\":\"$S256\"}"
H1="{\"alg\":\"RS256\",\"typ\":\"JWT\",\"x5t\":\"$S1\"}"

# ---- certificate assertions
A=$(jwt PS256 "$H256" "$(claims)" "$T/key.pem")
assert "$A"
is "$(good)" string "PS256 + x5t#S256 assertion: a token"
t=$(printf '%s' "$TOK" | jq -r .access_token)
is "$(curl -sS --cacert "$CA" -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $t" \
    "$FAKE_URL/v1.0/security/incidents")" 200 "... that the Graph API accepts"
is "$(fake_stat .last_token_request.form.client_assertion)" "<redacted>" \
    "the fake's record redacts the assertion"
assert "$A"
is "$(code)" 50013 "the same assertion again (jti replayed): AADSTS50013"
like "$(printf '%s' "$TOK" | jq -r .error_description)" "already used" "... says why"
assert "$(jwt RS256 "$H1" "$(claims)" "$T/key.pem")"
is "$(good)" string "RS256 + x5t (SHA-1) assertion: a token"
assert "$(jwt RS256 "{\"alg\":\"RS256\",\"x5t#S256\":\"$S256\"}" "$(claims)" "$T/key.pem")"
is "$(good)" string "RS256 with x5t#S256: a token"
assert "$(jwt RS256 "$H256" "$(claims)" "$T/key.pem")"
is "$(code)" 700027 "signed RS256 but labelled PS256: AADSTS700027"

assert "$(jwt PS256 "$H256" "$(claims '.exp = ($n - 600) | .nbf = ($n - 1200)')" "$T/key.pem")"
is "$(code)" 700024 "expired assertion: AADSTS700024"
assert "$(jwt PS256 "$H256" "$(claims '.nbf = ($n + 1200) | .exp = ($n + 1800)')" "$T/key.pem")"
is "$(code)" 700024 "assertion not yet valid: AADSTS700024"
assert "$(jwt PS256 "$H256" "$(claims '.aud = "https://login.microsoftonline.com/other/oauth2/v2.0/token"')" "$T/key.pem")"
is "$(code)" 50012 "assertion for another audience: AADSTS50012"
assert "$(jwt PS256 "$H256" "$(claims '.aud = "https://login.microsoftonline.com/'"$TENANT"'/oauth2/v2.0/token"')" "$T/key.pem")"
is "$(good)" string "aud = the real login.microsoftonline.com endpoint: accepted"
assert "$(jwt PS256 "$H256" "$(claims '.sub = "someone"')" "$T/key.pem")"
is "$(code)" 50048 "sub differs from iss: AADSTS50048"
O256=$(thumb "$T/other-cert.pem" sha256)
assert "$(jwt PS256 "{\"alg\":\"PS256\",\"x5t#S256\":\"$O256\"}" "$(claims)" "$T/other.pem")"
is "$(code)" 700027 "unregistered certificate (thumbprint unknown): AADSTS700027"
like "$(printf '%s' "$TOK" | jq -r .error_description)" "not registered" "... says it is not registered"
assert "$(jwt PS256 "$H256" "$(claims)" "$T/other.pem")"
is "$(code)" 700027 "registered thumbprint, wrong key (bad signature): AADSTS700027"
like "$(printf '%s' "$TOK" | jq -r .error_description)" "signature validation" "... says signature"
assert "$(jwt PS256 "{\"alg\":\"HS256\",\"x5t#S256\":\"$S256\"}" "$(claims)" "$T/key.pem")"
is "$(code)" 700027 "an alg other than RS256/PS256: refused"
assert "not-a-jwt"
is "$(code)" 50027 "malformed assertion: AADSTS50027"

# ---- federated assertions (verified with the registered key; reusable)
fclaims() {
	jq -nc --arg i "$FISS" --arg s "$FSUB" --argjson n "$now" \
	    "{iss:\$i, sub:\$s, aud:\"api://AzureADTokenExchange\", nbf:\$n, iat:\$n, exp:(\$n+3600)} ${1:+| $1}"
}
FH='{"alg":"RS256","kid":"k1","typ":"JWT"}'
F=$(jwt RS256 "$FH" "$(fclaims)" "$T/fed.pem")
assert "$F"
is "$(good)" string "federated assertion: a token"
assert "$F"
is "$(good)" string "... the same federated token again: still a token (no jti rule)"
assert "$(jwt RS256 "$FH" "$(fclaims '.sub = "system:serviceaccount:other:app"')" "$T/fed.pem")"
is "$(code)" 70021 "federated subject with no federated credential: AADSTS70021"
like "$(printf '%s' "$TOK" | jq -r .error_description)" "No matching federated identity record" "... Entra's text"
assert "$(jwt RS256 "$FH" "$(fclaims '.iss = "https://token.actions.githubusercontent.com"')" "$T/fed.pem")"
is "$(code)" 70021 "federated issuer unknown: AADSTS70021"
assert "$(jwt RS256 "$FH" "$(fclaims '.aud = "api://something-else"')" "$T/fed.pem")"
is "$(code)" 70021 "federated audience wrong: AADSTS70021"
assert "$(jwt RS256 "$FH" "$(fclaims)" "$T/other.pem")"
is "$(code)" 700027 "federated token signed by another key: AADSTS700027"
assert "$(jwt RS256 "$FH" "$(fclaims '.exp = ($n - 900) | .nbf = ($n - 4000)')" "$T/fed.pem")"
is "$(code)" 700024 "expired federated token: AADSTS700024"

# ---- the secret still works; neither secret nor assertion is 7000218
TOK=$(curl -sS --cacert "$CA" "$FAKE_URL/$TENANT/oauth2/v2.0/token" -d grant_type=client_credentials \
    -d client_id="$CLIENT" --data-urlencode client_secret="$SECRET" --data-urlencode scope="$GRAPH/.default")
is "$(good)" string "client secret: a token"
TOK=$(curl -sS --cacert "$CA" "$FAKE_URL/$TENANT/oauth2/v2.0/token" -d grant_type=client_credentials \
    -d client_id="$CLIENT" --data-urlencode scope="$GRAPH/.default")
is "$(code)" 7000218 "no credential at all: AADSTS7000218"
kill "$FAKE_PID"; wait "$FAKE_PID" 2>/dev/null

# ---- managed identity: IMDS and App Service, plain HTTP on loopback
MI=11112222-3333-4444-5555-666677778888
start_fake --mi --mi-client-id "$MI" --mi-identity-header hdr-secret
MIURL=$FAKE_MI_URL
like "$MIURL" http://127.0.0.1: "start_fake reports the managed-identity URL"
IMDS="$MIURL/metadata/identity/oauth2/token?api-version=2018-02-01"
mi() { MIB=$(curl -sS -w '\n%{http_code}' "$@"); MIC=$(printf '%s' "$MIB" | tail -n1); MIB=$(printf '%s' "$MIB" | sed '$d'); }
mi "$IMDS&resource=$GRAPH"
is "$MIC:$(printf '%s' "$MIB" | jq -r .error_description)" "400:Required metadata header not specified" \
    "IMDS without Metadata: true: 400"
mi -H 'Metadata: true' "$IMDS&resource=$GRAPH"
is "$MIC" 200 "IMDS: 200"
is "$(printf '%s' "$MIB" | jq -r '[.expires_in, .expires_on, .ext_expires_in, .not_before]|map(type)|unique|join(",")')" \
    string "IMDS: expires_in, expires_on, ext_expires_in, not_before are strings"
is "$(printf '%s' "$MIB" | jq -r '.resource + " " + .client_id + " " + .token_type')" \
    "$GRAPH $MI Bearer" "IMDS: resource, client_id, token_type"
t=$(printf '%s' "$MIB" | jq -r .access_token)
is "$(curl -sS --cacert "$CA" -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $t" \
    "$FAKE_URL/v1.0/security/incidents")" 200 "IMDS token works on the Graph API"
mi -H 'Metadata: true' "$IMDS&resource=https://api.securitycenter.microsoft.com&client_id=$MI"
is "$MIC" 200 "IMDS with the assigned client_id: 200"
mi -H 'Metadata: true' "$IMDS&resource=$GRAPH&client_id=00000000-dead-beef-0000-000000000000"
is "$MIC:$(printf '%s' "$MIB" | jq -r .error_description)" "400:Identity not found" \
    "IMDS with a wrong client_id: 400 Identity not found"
mi -H 'Metadata: true' "$IMDS&resource=https://vault.azure.net"
is "$MIC:$(printf '%s' "$MIB" | jq -r .error)" "400:invalid_resource" "IMDS unknown resource: 400"
mi -H 'Metadata: true' "$MIURL/metadata/identity/oauth2/token?resource=$GRAPH"
is "$MIC" 400 "IMDS without api-version: 400"
APP="$MIURL/msi/token?api-version=2019-08-01&resource=https://api.security.microsoft.com"
mi "$APP"
is "$MIC" 401 "App Service without X-IDENTITY-HEADER: 401"
mi -H 'X-IDENTITY-HEADER: wrong' "$APP"
is "$MIC" 401 "App Service with a wrong X-IDENTITY-HEADER: 401"
mi -H 'X-IDENTITY-HEADER: hdr-secret' "$APP"
is "$MIC:$(printf '%s' "$MIB" | jq -r '.expires_on|type')" 200:string "App Service: 200, expires_on a string"
t=$(printf '%s' "$MIB" | jq -r .access_token)
is "$(curl -sS --cacert "$CA" -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $t" \
    "$FAKE_URL/api/incidents")" 200 "App Service token works on the Defender API"
mi -H 'X-IDENTITY-HEADER: hdr-secret' "$APP&client_id=nope"
is "$MIC:$(printf '%s' "$MIB" | jq -r .message)" "400:Unable to load the proper Managed Identity." \
    "App Service with a wrong client_id: 400"
is "$(fake_stat '.token_requests_by_audience|[.defender,.graph,.mde]|join(",")')" 4,4,1 \
    "managed-identity token requests are counted per audience"
kill "$FAKE_PID"; wait "$FAKE_PID" 2>/dev/null

start_fake --mi --mi-identity-header h --mi-expires-on-number
MIURL=$FAKE_MI_URL
mi -H 'Metadata: true' "$MIURL/metadata/identity/oauth2/token?api-version=2018-02-01&resource=$GRAPH"
is "$MIC:$(printf '%s' "$MIB" | jq -r .error_description)" "400:Identity not found" \
    "no identity assigned: IMDS 400"
start_fake --mi --mi-client-id "$MI" --mi-identity-header h --mi-expires-on-number
MIURL=$FAKE_MI_URL
mi -H 'X-IDENTITY-HEADER: h' "$MIURL/msi/token?api-version=2019-08-01&resource=$GRAPH"
is "$MIC:$(printf '%s' "$MIB" | jq -r '.expires_on|type')" 200:number "App Service: expires_on as a number when asked"

done_testing

#!/bin/bash
# Credentials other than the secret, cloud presets and the egress proxy,
# against loopback fakes only: managed identity (IMDS and App
# Service) against the fake's plain-HTTP identity endpoints, federated token
# files that are missing, certificates (a short-lived one made here), --check
# with each, a CONNECT proxy (tinyproxy) that tunnels, refuses or demands
# authentication; secrets never shown. t26 has the assertions Entra checks.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

command -v tinyproxy >/dev/null || TINYPROXY_MISSING=1

# start_tinyproxy [config lines...]: a CONNECT proxy on loopback; PROXY_PORT
_tpn=0
start_tinyproxy() {
	_tpn=$((_tpn + 1))
	for _try in 1 2 3 4 5; do
		PROXY_PORT=$((20000 + RANDOM % 40000))
		{
			echo "Port $PROXY_PORT"
			echo "Listen 127.0.0.1"
			echo "Timeout 30"
			echo "LogLevel Connect"
			echo "MaxClients 64"
			echo "Allow 127.0.0.1"
			for _l in "$@"; do echo "$_l"; done
		} > "$T/tp.$_tpn.conf"
		: > "$T/tp.$_tpn.log"
		(exec tinyproxy -d -c "$T/tp.$_tpn.conf" >>"$T/tp.$_tpn.log" 2>&1) &
		_tp=$!
		PIDS="$PIDS $_tp"
		for _i in $(seq 50); do
			curl -s -o /dev/null "http://127.0.0.1:$PROXY_PORT/" \
			    2>/dev/null && return 0
			kill -0 "$_tp" 2>/dev/null || break
			sleep 0.1
		done
	done
	bail "tinyproxy did not start: $(tail -3 "$T/tp.$_tpn.log")"
}
sj() { curl -s "$GW/status.json" | jq -r "$1"; }
wait_until() {	# wait_until CMD...: up to ~10 s
	for _i in $(seq 100); do "$@" && return 0; sleep 0.1; done
	return 1
}

HDR=hdr-secret-4711
start_fake --mi --mi-port-file "$T/mi.port" --mi-client-id "$CLIENT" \
    --mi-identity-header "$HDR"
MI_URL=http://127.0.0.1:$(cat "$T/mi.port")

# ================= managed identity: IMDS, user-assigned, never proxied
# (the fake answers 400 without Metadata: true, api-version or the assigned
# client_id, and 400 AADSTS500011 for a resource it does not know)
GW_SECRET=none start_defgate --set credential=managed_identity \
    --set imds_url="$MI_URL"
req GET /incidents
is "$CODE" 200 "IMDS: a token the API accepts"
is "$(sj .credential.kind)" managed_identity "IMDS: status.json credential.kind"
is "$(sj .credential.endpoint)" imds "IMDS: status.json credential.endpoint"
is "$(sj .token.audience)" https://api.security.microsoft.com \
    "IMDS: the token's audience is the Defender resource"
is "$(fake_stat .token_requests_by_audience.defender)" 1 \
    "IMDS: one token request, for the Defender resource"
stop_defgate
GW_SECRET=none start_defgate --set credential=managed_identity \
    --set imds_url="$MI_URL" --set proxy=http://127.0.0.1:9
wait_ready; ok $? "IMDS: a token although the egress proxy is dead (never proxied)"
req GET /incidents
is "$CODE" 502 "... while the API call needs the proxy: 502"
like "$(json .error.message)" "cannot use the egress proxy http://127.0.0.1:9" \
    "... naming the proxy"
stop_defgate

# --check with managed identity
out=$(env -i PATH="$PATH" AZURE_CLIENT_ID=$CLIENT "$DEFGATE" --check \
    --set credential=managed_identity --set imds_url="$MI_URL" 2>&1)
is "$?" 0 "--check with managed identity: exit 0"
like "$out" "credential:     managed_identity" "--check: names the credential"
like "$out" "identity:       IMDS, user-assigned client_id $CLIENT" \
    "--check: IMDS, user-assigned"
like "$out" "token:          OK" "--check: token OK"

# ================= cloud preset: the scope as seen by the identity endpoint
out=$(env -i PATH="$PATH" AZURE_CLIENT_ID=$CLIENT "$DEFGATE" --check \
    --set cloud=gcchigh --set credential=managed_identity \
    --set imds_url="$MI_URL" 2>&1)
like "$out" "cloud:          gcchigh (authority https://login.microsoftonline.us, API https://api-gov.security.microsoft.us, scope https://api-gov.security.microsoft.us/.default)" \
    "cloud gcchigh: authority, API and scope from the preset"
like "$out" "resource principal named https://api-gov.security.microsoft.us was not found" \
    "cloud gcchigh: the fake was asked for the gov resource"
out=$(env -i PATH="$PATH" "$DEFGATE" --check --set cloud=dod \
    --set api_url=https://127.0.0.1:1 --set credential=managed_identity \
    --set imds_url="$MI_URL" 2>&1)
like "$out" "authority https://login.microsoftonline.us, API https://127.0.0.1:1," \
    "cloud dod: one value overridden, the rest preset"

# ================= managed identity errors: not one of the identities
GW_SECRET=none start_defgate --set credential=managed_identity \
    --set imds_url="$MI_URL" --set client_id=00000000-dead-beef-0000-000000000000
req GET /readyz
is "$CODE" 503 "no identity: /readyz 503"
like "$(json .error.message)" "Identity not found" "no identity: the endpoint's words"
like "$(json .error.message)" "no identity is assigned" "no identity: hint"
stop_defgate

# ================= managed identity: App Service endpoint and its header
IDENTITY_ENDPOINT=$MI_URL/msi/token IDENTITY_HEADER=$HDR GW_SECRET=none \
    start_defgate
req GET /incidents
is "$CODE" 200 "App Service: a token the API accepts (credential inferred)"
is "$(sj .credential.endpoint)" app_service "App Service: status.json endpoint"
unlike "$(curl -s "$GW/status.json")" "$HDR" "App Service: header not on the page"
unlike "$(cat "$GW_LOG")" "$HDR" "App Service: header not in the log"
stop_defgate

# ================= federated: missing file, then the file appears
FED=$T/federated-token
FEDTOK="eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJpc3MiOiJodHRwczovL2s4cyIsInN1YiI6InN5c3RlbTpzZXJ2aWNlYWNjb3VudDpkZWZnYXRlOmRlZmdhdGUifQ.ZmVkLXNpZ25hdHVyZS0xMjM0NQ"
GW_SECRET=none start_defgate --set federated_token_file="$FED"
req GET /incidents
is "$CODE" 503 "federated, no token file: 503, defgate keeps running"
like "$(json .error.message)" "AZURE_FEDERATED_TOKEN_FILE" \
    "federated, no token file: names the setting"
is "$(sj .token.last_error.error)" credential_unavailable \
    "federated, no token file: credential_unavailable"
printf '%s\n' "$FEDTOK" > "$FED"
fed_sent() { [ "$(sj .token.last_error.error)" != credential_unavailable ]; }
wait_until fed_sent; ok $? "federated: the file is picked up without a restart"
kill -0 "$GW_PID"; ok $? "federated: still running"
req GET /incidents
unlike "$(cat "$GW_LOG")" "ZmVkLXNpZ25hdHVyZS0xMjM0NQ" "federated token not in the log"
unlike "$(curl -s "$GW/status.json")" "ZmVkLXNpZ25hdHVyZS0xMjM0NQ" \
    "federated token not on the status page"
unlike "$BODY" "ZmVkLXNpZ25hdHVyZS0xMjM0NQ" "federated token not in error bodies"
stop_defgate

# ================= certificate: short-lived, key readable by others
openssl req -x509 -newkey rsa:2048 -nodes -days 5 -subj /CN=defgate-short \
    -keyout "$T/k.pem" -out "$T/c.pem" 2>/dev/null
cat "$T/c.pem" "$T/k.pem" > "$T/cert.pem"
cp "$T/cert.pem" "$T/short.pem"
chmod 644 "$T/cert.pem" "$T/short.pem"
THUMB=$(openssl x509 -in "$T/c.pem" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d :)
KEYLINE=$(sed -n 5p "$T/k.pem")
GW_SECRET=none start_defgate --set client_certificate_path="$T/cert.pem"
is "$(sj .credential.kind)" certificate "certificate: inferred"
is "$(sj .credential.certificate.thumbprint_sha256)" "$THUMB" \
    "certificate: SHA-256 thumbprint on the page"
is "$(sj .credential.certificate.subject)" CN=defgate-short "certificate: subject"
like "$(sj .credential.certificate.warning)" "expires on" \
    "certificate: expiry warning on the page"
like "$(cat "$GW_LOG")" "expires on" "certificate: expiry warning in the log"
like "$(cat "$GW_LOG")" "readable by group or others" \
    "certificate: key file readable by others: warning"
# SIGHUP reads the key again: a new certificate replaces the old one
openssl req -x509 -newkey rsa:2048 -nodes -days 400 -subj /CN=defgate-next \
    -keyout "$T/k2.pem" -out "$T/c2.pem" 2>/dev/null
cat "$T/c2.pem" "$T/k2.pem" > "$T/cert.pem"
THUMB2=$(openssl x509 -in "$T/c2.pem" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d :)
kill -HUP "$GW_PID"
new_cert() { [ "$(sj .credential.certificate.thumbprint_sha256)" = "$THUMB2" ]; }
wait_until new_cert; ok $? "certificate: SIGHUP loads the new certificate"
is "$(sj .credential.certificate.warning)" null "certificate: no warning for a 400-day one"
req GET /incidents
unlike "$(cat "$GW_LOG")" "$KEYLINE" "private key not in the log"
unlike "$(curl -s "$GW/status.json")" "$KEYLINE" "private key not on the page"
unlike "$BODY" "$KEYLINE" "private key not in error bodies"
unlike "$(cat "$GW_LOG")" "client_assertion=eyJ" "assertion not in the log"
stop_defgate
out=$(env -i PATH="$PATH" AZURE_TENANT_ID=$TENANT AZURE_CLIENT_ID=$CLIENT \
    "$DEFGATE" --check --set client_certificate_path="$T/short.pem" \
    --set authority_host="$FAKE_URL" --set ca_file="$CA" 2>&1)
like "$out" "credential:     certificate" "--check certificate: kind"
like "$out" "SHA-256:      $THUMB" "--check certificate: thumbprint"
like "$out" "certificate:    CN=defgate-short" "--check certificate: subject"
like "$out" "warning:        the certificate expires on" "--check certificate: warning"
like "$out" "PS256, x5t#S256" "--check certificate: assertion form"
unlike "$out" "$KEYLINE" "--check certificate: no key"
out=$("$DEFGATE" --set client_certificate_password=pw-on-argv 2>&1)
is "$?" 2 "--set client_certificate_password is refused"
unlike "$out" "pw-on-argv" "... without echoing it"

# --check with a federated token file that is missing
out=$(env -i PATH="$PATH" AZURE_TENANT_ID=$TENANT AZURE_CLIENT_ID=$CLIENT \
    AZURE_FEDERATED_TOKEN_FILE=$T/none "$DEFGATE" --check \
    --set authority_host="$FAKE_URL" --set ca_file="$CA" 2>&1)
is "$?" 1 "--check federated, no file: exit 1"
like "$out" "credential:     federated" "--check federated: kind"
like "$out" "cannot be read" "--check federated: the reason"

# conflicting settings: one line each, exit 2
out=$(env -i PATH="$PATH" AZURE_TENANT_ID=$TENANT AZURE_CLIENT_ID=$CLIENT \
    AZURE_CLIENT_SECRET=s3cret AZURE_FEDERATED_TOKEN_FILE=$FED "$DEFGATE" \
    --check 2>&1)
is "$?" 2 "secret and federated token file together: exit 2"
is "$(printf '%s\n' "$out" | grep -c 'is set, and so is another')" 2 \
    "one line per conflicting setting"

# ================= --demo with each credential kind
for k in certificate federated managed_identity; do
	start_defgate --demo --set credential=$k
	req GET /incidents
	is "$CODE" 200 "--demo with credential = $k: 200"
	is "$(sj .credential.kind)" "$k" "--demo with credential = $k: in force"
	stop_defgate
done

# ================= egress proxy
if [ -n "${TINYPROXY_MISSING:-}" ]; then
	ok 0 "# SKIP tinyproxy is not installed (scripts/setup installs it)"
else
	start_tinyproxy "ConnectPort $FAKE_PORT"
	TP_LOG=$T/tp.$_tpn.log
	# the API by another name, so that each has its own tunnel
	GW_API=https://localhost:$FAKE_PORT \
	    start_defgate --set proxy="http://127.0.0.1:$PROXY_PORT"
	req GET /incidents
	is "$CODE" 200 "proxy: token and API through the CONNECT proxy"
	is "$(grep -c "CONNECT 127.0.0.1:$FAKE_PORT" "$TP_LOG")" 1 \
	    "proxy: a tunnel to the token endpoint"
	is "$(grep -c "CONNECT localhost:$FAKE_PORT" "$TP_LOG")" 1 \
	    "proxy: a tunnel to the API"
	stop_defgate
	# TLS is verified end to end: the system CAs do not know the fake's CA
	start_defgate --set proxy="http://127.0.0.1:$PROXY_PORT" \
	    --set ca_file=/etc/ssl/certs/ca-certificates.crt
	req GET /incidents
	is "$CODE" 503 "proxy: TLS still verified through the tunnel"
	like "$(json .error.message)" "TLS verification failed" \
	    "proxy: the TLS failure is reported"
	stop_defgate

	# NO_PROXY: the token endpoint directly, the API through a proxy that
	# refuses: the API call's 502 names the proxy
	start_tinyproxy "ConnectPort 1"
	GW_API=https://localhost:$FAKE_PORT start_defgate \
	    --set proxy="http://127.0.0.1:$PROXY_PORT" --set no_proxy=127.0.0.1
	wait_ready; ok $? "NO_PROXY: the token endpoint is reached directly"
	req GET /incidents
	is "$CODE" 502 "refusing proxy on the API path: 502"
	like "$(json .error.message)" "the egress proxy http://127.0.0.1:$PROXY_PORT refused the CONNECT (HTTP 403)" \
	    "refusing proxy on the API path: named"
	stop_defgate
	start_defgate --set proxy="http://127.0.0.1:$PROXY_PORT"
	req GET /incidents
	is "$CODE" 503 "refusing proxy: 503"
	like "$(json .error.message)" "the egress proxy http://127.0.0.1:$PROXY_PORT refused the CONNECT (HTTP 403)" \
	    "refusing proxy: named, with its status"
	stop_defgate

	start_tinyproxy "ConnectPort $FAKE_PORT" "BasicAuth puser ppass-4711"
	start_defgate --set proxy="http://127.0.0.1:$PROXY_PORT"
	req GET /incidents
	like "$(json .error.message)" "demands authentication (HTTP 407)" \
	    "auth proxy without credentials: 407 named"
	stop_defgate
	start_defgate --set proxy="http://puser:ppass-4711@127.0.0.1:$PROXY_PORT"
	req GET /incidents
	is "$CODE" 200 "auth proxy with user:password: 200"
	is "$(sj .credential.proxy)" "http://[redacted]@127.0.0.1:$PROXY_PORT" \
	    "auth proxy: shown without its credentials"
	unlike "$(curl -s "$GW/status.json")" "ppass-4711" "proxy password not on the page"
	unlike "$(cat "$GW_LOG")" "ppass-4711" "proxy password not in the log"
	stop_defgate

	start_defgate --set proxy=http://127.0.0.1:9
	req GET /incidents
	like "$(json .error.message)" "cannot use the egress proxy http://127.0.0.1:9" \
	    "unreachable proxy: named"
	stop_defgate
fi

done_testing

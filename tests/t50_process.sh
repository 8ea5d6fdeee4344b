#!/bin/bash
# Process behaviour: configuration errors, --check, graceful SIGTERM.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

start_fake

# --- missing settings: exit 2, one line per problem, key and env named
out=$(env -u AZURE_TENANT_ID -u AZURE_CLIENT_ID -u AZURE_CLIENT_SECRET \
    "$DEFGATE" --listen 127.0.0.1:0 2>&1)
is "$?" 2 "missing settings: exit status 2"
like "$out" "tenant_id (AZURE_TENANT_ID) is required" "names tenant_id"
like "$out" "client_id (AZURE_CLIENT_ID) is required" "names client_id"
like "$out" "client_secret (AZURE_CLIENT_SECRET) is required" \
    "names client_secret"
is "$(printf '%s\n' "$out" | grep -c '^defgate: ')" 3 "one line per problem"

out=$("$DEFGATE" --set client_secret=hunter2 2>&1)
is "$?" 2 "--set client_secret is refused"
unlike "$out" "hunter2" "the refused secret is not echoed"

# --- config file: precedence and the permission warning
cat > "$T/d.conf" <<CONF
# sample
tenant_id = wrong-tenant
client_id = $CLIENT
client_secret = $SECRET
authority_host = $FAKE_URL
api_url = $FAKE_URL
ca_file = $CA
CONF
chmod 644 "$T/d.conf"
out=$(AZURE_TENANT_ID=$TENANT "$DEFGATE" --config "$T/d.conf" --check 2>&1)
is "$?" 0 "--check with a config file; env overrides the file's tenant"
like "$out" "readable by group or others" "warns about a readable secret file"
unlike "$out" "$SECRET" "--check output never shows the secret"

# --- --check: success shows claims, roles and routes
out=$(AZURE_TENANT_ID=$TENANT AZURE_CLIENT_ID=$CLIENT \
    AZURE_CLIENT_SECRET=$SECRET AZURE_AUTHORITY_HOST=$FAKE_URL \
    DEFGATE_API_URL=$FAKE_URL DEFGATE_CA_FILE=$CA DEFGATE_THREADS=3 \
    "$DEFGATE" --check 2>&1)
is "$?" 0 "--check succeeds against the fake"
like "$out" "front threads:  3 (threads)" "--check shows threads (DEFGATE_THREADS)"
like "$out" "Incident.Read.All" "--check lists the roles"
like "$out" "AdvancedHunting.Read.All" "--check lists every role"
like "$out" "tenant (tid):   $TENANT" "--check shows the tenant"
like "$out" "/hunting" "--check lists the routes"
like "$out" "disabled (allow_write = false)" "--check shows the write guard"
out=$(AZURE_TENANT_ID=$TENANT AZURE_CLIENT_ID=$CLIENT \
    AZURE_CLIENT_SECRET=$SECRET AZURE_AUTHORITY_HOST=$FAKE_URL \
    DEFGATE_API_URL=$FAKE_URL DEFGATE_CA_FILE=$CA "$DEFGATE" --check \
    --set threads=4 --set max_clients=2 2>&1)
like "$out" "front threads:  4 (threads), lowered to 2: max_clients" \
    "--check: threads above max_clients, and what runs"

# --- --check: wrong secret fails clearly
out=$(AZURE_TENANT_ID=$TENANT AZURE_CLIENT_ID=$CLIENT \
    AZURE_CLIENT_SECRET=not-the-secret AZURE_AUTHORITY_HOST=$FAKE_URL \
    DEFGATE_API_URL=$FAKE_URL DEFGATE_CA_FILE=$CA "$DEFGATE" --check 2>&1)
is "$?" 1 "--check with a wrong secret exits 1"
like "$out" "AADSTS7000215" "--check names the AADSTS code"
like "$out" "Secret ID" "--check gives the hint about the secret ID"
unlike "$out" "not-the-secret" "--check never prints the secret"

# --- --check: no roles means missing consent
fake_ctl config '{"roles":""}' >/dev/null
out=$(AZURE_TENANT_ID=$TENANT AZURE_CLIENT_ID=$CLIENT \
    AZURE_CLIENT_SECRET=$SECRET AZURE_AUTHORITY_HOST=$FAKE_URL \
    DEFGATE_API_URL=$FAKE_URL DEFGATE_CA_FILE=$CA "$DEFGATE" --check 2>&1)
like "$out" "no roles: admin consent missing" "--check: no roles explained"
fake_ctl reset '{}' >/dev/null

# --- --check: an untrusted token endpoint certificate is refused
out=$(AZURE_TENANT_ID=$TENANT AZURE_CLIENT_ID=$CLIENT \
    AZURE_CLIENT_SECRET=$SECRET AZURE_AUTHORITY_HOST=$FAKE_URL \
    DEFGATE_API_URL=$FAKE_URL DEFGATE_CA_FILE=/etc/ssl/certs/ca-certificates.crt \
    "$DEFGATE" --check 2>&1)
is "$?" 1 "--check refuses an untrusted certificate"
like "$out" "certificate" "--check says it is a certificate problem"
is "$(fake_stat .token_requests)" 0 "no token request got through"

# --- SIGTERM: stop accepting, let the in-flight request finish, exit 0
start_defgate
wait_ready
fake_fault '{"target":"api","kind":"hang","delay_ms":1500}'
curl -s -o "$T/inflight.out" -w '%{http_code}' "$GW/incidents" > "$T/inflight.code" &
cpid=$!
i=0
while [ "$(fake_stat .api_requests)" -lt 1 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
kill -TERM "$GW_PID"
sleep 0.3
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$GW/healthz")
is "$code" 000 "after SIGTERM no new connection is accepted"
wait "$cpid"
is "$(cat "$T/inflight.code")" 200 "the in-flight request finished with 200"
is "$(jq -r '.value|length' "$T/inflight.out" 2>/dev/null | tr -d '\n' | grep -c '^[1-9]')" 1 \
    "the in-flight response body is complete"
wait "$GW_PID"
is "$?" 0 "defgate exits 0 after SIGTERM"
grep -q 'stopped' "$GW_LOG"; ok $? "shutdown is logged"
done_testing

#!/bin/bash
# t45_browser: the status page as a browser renders it (headless Chromium,
# the page's own CSP and script, data from /status.json), in four states:
# a valid token, a missing role with the API's 403, a token failure after a
# good token (stale claims, routes unusable) and a wrong secret; and its
# quota card with the cache off, with the cache on after some hits, and
# with a group closed by an upstream 429. A DOM check,
# not a screenshot: the page marks its state in data attributes and ids.
# Chromium is installed by scripts/test (scripts/setup chromium); without
# it the test skips.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser)}
if [ -z "$CHROMIUM" ]; then
	echo "ok 1 # SKIP chromium is not installed (scripts/setup chromium)"
	echo "1..1"
	exit 0
fi

# dom: the page as rendered after its first poll, in $DOM
dom() {
	DOM=$(timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu \
	    --no-first-run --disable-dev-shm-usage --disable-extensions \
	    --user-data-dir="$T/chromium" --virtual-time-budget=4000 \
	    --dump-dom "$GW/status" 2>>"$T/chromium.log")
	printf "%s\n" "$DOM" > "${DOM_SAVE:-$T}/dom.$_gwn.html"
}
# usable METHOD PATH: the data-usable of that row of the routes table
usable() {
	printf '%s' "$DOM" | grep -o "data-route=\"$1 $2\" data-usable=\"[a-z-]*\"" |
	    head -1 | sed 's/.*data-usable="\([a-z-]*\)"/\1/'
}
routes_html() {
	printf '%s' "$DOM" | tr -d '\n' | grep -o '<table id="routes">.*</table>'
}
body_attr() {
	printf '%s' "$DOM" | grep -o "<body[^>]*>" | grep -o "$1=\"[^\"]*\"" |
	    cut -d'"' -f2
}
# dd LABEL: the text of the <dd> after <dt>LABEL</dt>
dd() {
	printf '%s' "$DOM" | grep -o "<dt>$1</dt><dd[^>]*>[^<]*</dd>" | head -1 |
	    sed 's/.*<dd[^>]*>\([^<]*\)<\/dd>/\1/'
}

# qrow GROUP ATTR: an attribute of the quota card's row of GROUP
qrow() {
	printf '%s' "$DOM" | grep -o "<tr data-group=\"$1\"[^>]*>" | head -1 |
	    grep -o "$2=\"[^\"]*\"" | cut -d'"' -f2
}
quota_html() {
	printf '%s' "$DOM" | tr -d '\n' | grep -o '<table id="quota">.*</table>' |
	    sed 's/<\/table>.*//'
}
cache_line() {
	printf '%s' "$DOM" | grep -o '<p class="quota-cache"[^>]*>[^<]*</p>'
}

# dom_when JQ: the page once status.json satisfies JQ (at most ~15 s)
dom_when() {
	i=0
	while [ "$(curl -s "$GW/status.json" | jq -r "$1")" != true ]; do
		i=$((i + 1)); [ "$i" -gt 150 ] && break
		sleep 0.1
	done
	dom
}
new_fake() {
	kill "$FAKE_PID" 2>/dev/null; wait "$FAKE_PID" 2>/dev/null
	start_fake "$@"
}

# ================= valid token, all roles
start_fake
start_defgate
wait_ready || bail "defgate did not become ready: $(cat "$GW_LOG")"
req GET /incidents
dom
is "$(body_attr data-token-state)" valid "valid: the page shows the token valid"
is "$(body_attr data-token-stale)" false "valid: the claims are current"
is "$(usable GET /incidents)" allowed "valid: GET /incidents shown allowed"
is "$(usable POST /hunting)" allowed "valid: POST /hunting shown allowed"
like "$(routes_html)" "chip-ok" "valid: the roles the token holds are marked held"
unlike "$DOM" 'id="claims-stale"' "valid: no stale-claims warning"
unlike "$DOM" 'id="last-403"' "valid: no last 403"
like "$(dd 'lifetime (exp − iat)')" "59m 59s" "valid: lifetime is the token's (3599 s)"
like "$(dd 'time left')" "expires_in" "valid: the time left is labelled as such"
like "$DOM" "p50 (bucket bound ≤)" "valid: p50 labelled as a bucket bound"
like "$DOM" "histogram bucket bounds" "valid: the latency card says bucket bounds"
is "$(dd 'errors (no answer or 5xx)')" 0 "valid: upstream errors labelled and 0"
like "$DOM" "for this page and probes" "valid: the page's own traffic is set apart"
like "$(cache_line)" 'data-cache="off"' "cache off: the quota card says the cache is off"
like "$(cache_line)" "Cache off" "... in words"
is "$(qrow incidents data-calls-minute)" 1 "cache off: 1 incidents call this minute"
like "$(quota_html)" "1 / no limit" "quotas off: calls shown against no limit"
stop_defgate; is "$?" 0 "defgate exits 0"

# ================= the quota card: cache on after hits, then an upstream 429
start_defgate --set cache=on --set quota_incidents=50/min,1500/h
wait_ready || bail "defgate (cache on) not ready: $(cat "$GW_LOG")"
req GET /incidents
req GET /incidents
req GET /incidents
is "$(hdr X-Cache)" HIT "cache on: the third GET /incidents is a hit"
dom
like "$(cache_line)" 'data-cache="on"' "cache on: the card says the cache is on"
like "$(cache_line)" "1 entries" "cache on: ... with its one entry"
like "$(cache_line)" "hit ratio 66.7 %" "cache on: ... and the hit ratio (2 of 3)"
is "$(qrow incidents data-calls-minute)" 1 "cache on: 1 upstream call this minute"
is "$(qrow incidents data-hits)" 2 "cache on: 2 cache hits"
is "$(qrow incidents data-closed)" no "cache on: the group is open"
like "$(quota_html)" "1 / 50" "cache on: calls shown against 50/min"
like "$(quota_html)" "1 / 1,500" "cache on: ... and 1500/h"
fake_fault '{"target":"api","kind":"status","status":429,"retry_after":120,"path":"/api/incidents"}'
req GET '/incidents?%24top=3'
is "$CODE" 429 "upstream 429: passed on"
req GET '/incidents?%24top=4'
is "$CODE" 429 "upstream 429: then a local 429"
dom
is "$(qrow incidents data-closed)" yes "upstream 429: the card shows the group closed"
is "$(qrow incidents data-local-429)" 1 "upstream 429: ... 1 local 429"
is "$(qrow incidents data-calls-minute)" 2 "upstream 429: 2 calls made"
like "$(quota_html)" "Retry-After" "upstream 429: ... until its Retry-After"
like "$(quota_html)" ">closed<" "upstream 429: ... badge closed"
like "$(quota_html)" "until $(date -u +%Y-%m-%d)T" "upstream 429: ... with the time"
is "$(qrow mde data-closed)" no "upstream 429: other groups stay open"
stop_defgate; is "$?" 0 "defgate exits 0"

# ================= missing role: the API's 403 with its time and route
new_fake --roles Incident.Read.All
start_defgate --set allow_write=true
wait_ready || bail "defgate (one role) not ready: $(cat "$GW_LOG")"
req GET /incidents
ID=$(json '.value[0].incidentId')
req PATCH "/incidents/$ID" -H 'Content-Type: application/json' -d '{"status":"Active"}'
is "$CODE" 403 "missing role: the API answers the PATCH with 403"
dom
is "$(body_attr data-token-state)" valid "missing role: the token itself is valid"
is "$(body_attr data-last-403)" yes "missing role: the page shows the last 403"
is "$(usable PATCH '/incidents/{id}')" missing-role "missing role: PATCH shown as missing a role"
is "$(usable GET /incidents)" allowed "missing role: GET /incidents still allowed"
last403=$(printf '%s' "$DOM" | grep -o '<div class="alert alert-warn" role="alert" id="last-403">.*' | head -c 3000)
like "$last403" "Missing application roles" "missing role: the 403 box quotes the API"
like "$last403" "route incident_update" "missing role: ... names the route"
like "$last403" "at $(date -u +%Y-%m-%d)T" "missing role: ... and when it came"
is "$(dd '4xx answers (403, 429, …)')" 1 "missing role: the 403 counted as a 4xx answer"
is "$(dd 'errors (no answer or 5xx)')" 0 "missing role: ... next to errors that say what they count"
stop_defgate; is "$?" 0 "defgate exits 0"

# ================= token failure after a good token: stale claims
new_fake
fake_ctl config '{"token_lifetime":6}' >/dev/null
start_defgate
wait_ready || bail "defgate (short tokens) not ready: $(cat "$GW_LOG")"
fake_fault '{"target":"token","kind":"status","status":503,"count":-1}'
dom_when .token.stale
like "$(body_attr data-token-state)" e "token failure: token state $(body_attr data-token-state)"
is "$(body_attr data-token-stale)" true "token failure: the page marks the claims stale"
like "$DOM" 'id="claims-stale"' "token failure: the claims card warns..."
like "$DOM" "last good token (expired/invalid)" "token failure: ... last good token (expired/invalid)"
is "$(usable GET /incidents)" unusable "token failure: GET /incidents shown unusable"
is "$(usable POST /hunting)" unusable "token failure: POST /hunting shown unusable"
unlike "$DOM" ">allowed<" "token failure: no route shown allowed"
unlike "$(routes_html)" "chip-ok" \
    "token failure: no required role shown as held"
stop_defgate; is "$?" 0 "defgate exits 0"

# ================= wrong secret: no token at all
new_fake
GW_SECRET=wrong-secret-value-4711 start_defgate
dom_when '.token.last_error != null'
is "$(body_attr data-token-state)" error "wrong secret: the page shows the token error"
like "$DOM" "AADSTS7000215" "wrong secret: with its AADSTS code"
is "$(usable GET /incidents)" unknown "wrong secret: roles unknown, not allowed"
unlike "$DOM" ">allowed<" "wrong secret: no route shown allowed"
unlike "$DOM" "wrong-secret-value-4711" "wrong secret: the secret is not on the page"

# the page kept its strict CSP and raised no CSP violation
like "$(curl -s "$GW/status" | grep -o "script-src 'self'")" "script-src 'self'" "the page keeps its CSP"
unlike "$(cat "$T/chromium.log")" "Content Security Policy" "Chromium reports no CSP violation"
done_testing

# tests/lib.sh: shared by the integration tests (tests/t*.sh). Sourced.
#
# Each test gets a private temp dir ($T), starts the fake Entra + Defender
# HTTPS server (tests/fakeapi, its own CA) and defgate on free loopback
# ports, speaks TAP, and kills what it started on exit.
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir/build}"
DEFGATE=${DEFGATE:-$top_builddir/src/defgate}
# e.g. DEFGATE_WRAPPER="valgrind --leak-check=full --error-exitcode=1"
DEFGATE_WRAPPER=${DEFGATE_WRAPPER:-}
FAKEAPI=${FAKEAPI:-$top_builddir/tests/fakeapi}
T=$(mktemp -d /tmp/defgate-test.XXXXXX)
PIDS=""
_n=0
_failed=0
TENANT=00000000-0000-0000-0000-0000000000aa
CLIENT=11111111-1111-1111-1111-1111111111bb
SECRET=test-secret-value

_t0=$(date +%s)
cleanup() {
	# in the .log, to find the tests that make a make check long
	echo "# elapsed: $(($(date +%s) - _t0)) s"
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT

# ---- TAP ----
ok() {		# ok COND-STATUS NAME   (use: test ...; ok $? "name")
	_n=$((_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $_n - $2"
	else
		echo "not ok $_n - $2"
		_failed=$((_failed + 1))
	fi
}
is() {		# is GOT WANT NAME
	_n=$((_n + 1))
	if [ "$1" = "$2" ]; then
		echo "ok $_n - $3"
	else
		echo "not ok $_n - $3"
		echo "#   got:  '$1'"
		echo "#   want: '$2'"
		_failed=$((_failed + 1))
	fi
}
like() {	# like GOT SUBSTRING NAME
	case "$1" in
	*"$2"*) _n=$((_n + 1)); echo "ok $_n - $3" ;;
	*) _n=$((_n + 1)); echo "not ok $_n - $3"
	   echo "#   got:  '$(printf '%s' "$1" | head -c 400)'"
	   echo "#   want substring: '$2'"
	   _failed=$((_failed + 1)) ;;
	esac
}
unlike() {	# unlike GOT SUBSTRING NAME
	case "$1" in
	*"$2"*) _n=$((_n + 1)); echo "not ok $_n - $3"
	   echo "#   unexpected substring: '$2'"
	   _failed=$((_failed + 1)) ;;
	*) _n=$((_n + 1)); echo "ok $_n - $3" ;;
	esac
}
diag() { echo "# $*"; }
# stop_defgate [PID]: SIGTERM, wait, return its exit status
stop_defgate() {
	_p=${1:-$GW_PID}
	kill -TERM "$_p" 2>/dev/null || return 0
	wait "$_p"
}
done_testing() {
	# every defgate still running must stop cleanly, and no sanitizer may
	# have reported anything in any defgate log of this test
	for _p in $GW_PIDS; do
		if kill -0 "$_p" 2>/dev/null; then
			stop_defgate "$_p"
			is "$?" 0 "defgate (pid $_p) exits 0 on SIGTERM"
		fi
	done
	if [ -n "$GW_PIDS" ]; then
		_san=$(cat "$T"/defgate.*.log 2>/dev/null | grep -E \
		    'AddressSanitizer|LeakSanitizer|ThreadSanitizer|runtime error:|valgrind.*(definitely|ERROR SUMMARY: [1-9])' | head -5)
		is "$_san" "" "no sanitizer or valgrind report in defgate logs"
		[ -z "$_san" ] || grep -h -A40 -E \
		    'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:' \
		    "$T"/defgate.*.log | head -120 | sed 's/^/# /'
	fi
	echo "1..$_n"
	[ "$_failed" -eq 0 ]
	exit $?
}
bail() { echo "Bail out! $*"; exit 1; }

# ---- processes ----
wait_for_file() {	# wait_for_file PATH [TENTHS]
	i=0
	while [ ! -s "$1" ]; do
		i=$((i + 1))
		[ "$i" -gt "${2:-100}" ] && return 1
		sleep 0.1
	done
}

# start_fake [fakeapi options...]: sets FAKE_PORT, FAKE_URL, CA, FAKE_PID,
# and with --mi FAKE_MI_URL (the managed-identity endpoints, plain HTTP)
start_fake() {
	_pf=$T/fake.port.$$.$RANDOM
	CA=${CA:-$T/ca.pem}
	(exec "$FAKEAPI" --port-file "$_pf" --mi-port-file "$_pf.mi" \
	    --ca-out "$CA" --tenant "$TENANT" \
	    --client-id "$CLIENT" --client-secret "$SECRET" "$@" \
	    2>>"$T/fake.log") &
	FAKE_PID=$!
	PIDS="$PIDS $FAKE_PID"
	wait_for_file "$_pf" || bail "fakeapi did not start: $(cat "$T/fake.log")"
	FAKE_PORT=$(cat "$_pf")
	FAKE_URL=https://127.0.0.1:$FAKE_PORT
	FAKE_MI_URL=
	[ -s "$_pf.mi" ] && FAKE_MI_URL=http://127.0.0.1:$(cat "$_pf.mi")
}

# fake_ctl PATH [JSON]: POST (or GET without JSON) a control endpoint
fake_ctl() {
	if [ $# -gt 1 ]; then
		curl -sS --cacert "$CA" -X POST -H 'Content-Type: application/json' \
		    --data "$2" "$FAKE_URL/_sim/$1"
	else
		curl -sS --cacert "$CA" "$FAKE_URL/_sim/$1"
	fi
}
fake_fault() { fake_ctl fault "$1" >/dev/null; }
# fake_stat JQ-FILTER: a value of GET /_sim/stats as `jq -r` prints it; a
# plain path (.a.b) is read by the fake itself (one curl, no jq)
fake_stat() {
	if [[ $1 =~ ^(\.[A-Za-z_][A-Za-z0-9_]*)+$ ]]; then
		fake_ctl "stats${1//./\/}"
	else
		fake_ctl stats | jq -r "$1"
	fi
}

# start_defgate [--set k=v ...]: config via the environment like a container;
# sets GW (base URL), GW_PORT, GW_PID, GW_LOG
GW_PIDS=""
_gwn=0
start_defgate() {
	_gwn=$((_gwn + 1))
	GW_LOG=$T/defgate.$_gwn.log
	: > "$GW_LOG"
	# exec, so that $! is defgate itself (signals in tests reach it)
	(
		export AZURE_TENANT_ID=$TENANT AZURE_CLIENT_ID=$CLIENT
		# GW_SECRET=none: no secret in the environment (file tests)
		[ "${GW_SECRET:-}" = none ] ||
		    export AZURE_CLIENT_SECRET=${GW_SECRET:-$SECRET}
		export AZURE_AUTHORITY_HOST=${GW_AUTHORITY:-$FAKE_URL}
		export DEFGATE_API_URL=${GW_API:-$FAKE_URL} DEFGATE_CA_FILE=$CA
		# every backend on the fake: no test traffic leaves loopback
		export DEFGATE_GRAPH_URL=${GW_GRAPH:-${GW_API:-$FAKE_URL}}
		export DEFGATE_MDE_URL=${GW_MDE:-${GW_API:-$FAKE_URL}}
		# the response cache and the local rate limits change
		# what reaches the fake: off unless a test turns them on
		# (--set cache=on, --set quota_incidents=3/min, ...)
		export DEFGATE_CACHE=${DEFGATE_CACHE:-off}
		# two front workers, so that every test (and its
		# ThreadSanitizer build) runs the pool: --set threads=N wins;
		# GW_DEFAULT_THREADS=1 leaves defgate its own default
		if [ "${GW_DEFAULT_THREADS:-0}" = 1 ]; then
			unset DEFGATE_THREADS
		else
			export DEFGATE_THREADS=${DEFGATE_THREADS:-2}
		fi
		for _q in INCIDENTS HUNTING MDE GRAPH; do
			eval "export DEFGATE_QUOTA_$_q=\${DEFGATE_QUOTA_$_q:-off}"
		done
		exec $DEFGATE_WRAPPER "$DEFGATE" --listen 127.0.0.1:0 "$@" \
		    2>>"$GW_LOG"
	) &
	GW_PID=$!
	PIDS="$PIDS $GW_PID"
	GW_PIDS="$GW_PIDS $GW_PID"
	i=0
	while ! grep -q 'listening on .*(port [0-9]*)' "$GW_LOG"; do
		i=$((i + 1))
		if [ "$i" -gt 100 ] || ! kill -0 "$GW_PID" 2>/dev/null; then
			bail "defgate did not start: $(cat "$GW_LOG")"
		fi
		sleep 0.1
	done
	GW_PORT=$(sed -n 's/.*listening on .*(port \([0-9]*\)).*/\1/p' "$GW_LOG" | head -1)
	GW=http://127.0.0.1:$GW_PORT
}

# wait_ready: until /readyz answers 200 (max ~20 s)
wait_ready() {
	i=0
	while [ "$(curl -s -o /dev/null -w '%{http_code}' "$GW/readyz")" != 200 ]; do
		i=$((i + 1))
		[ "$i" -gt 200 ] && return 1
		sleep 0.1
	done
}

# req METHOD PATH [curl args...]: sets CODE, BODY (and HDRS file $T/h)
req() {
	_m=$1 _p=$2
	shift 2
	BODY=$(curl -sS -X "$_m" -D "$T/h" -o - -w '\n%{http_code}' "$@" \
	    "$GW$_p" 2>"$T/curl.err")
	split_code
}
# pcurl P [curl args...]: one curl process (a curl start costs about 30 ms
# of CPU here) running its transfers P at a time, each of those on a
# connection of its own, as P separate clients would
pcurl() {
	local _p=$1
	shift
	curl -s -Z --parallel-max "$_p" --parallel-immediate "$@"
}
# burst N PARALLEL PATH [curl args...]: N GETs of $GW$PATH from one curl
# process, PARALLEL at a time (pcurl) or one after the other on one
# connection; prints each status code on a line. PATH must not hold
# curl's glob characters ([]{}).
burst() {
	local _n=$1 _p=$2 _u=$3
	shift 3
	set -- -o /dev/null -w '%{http_code}\n' "$@" "$GW$_u#[1-$_n]"
	if [ "$_p" -gt 1 ]; then pcurl "$_p" "$@"; else curl -s "$@"; fi
}
# split_code: BODY is an answer then a line with curl's %{http_code}: the
# code to CODE, the answer without its trailing newlines to BODY. In bash,
# not pipelines: the suite's CPU goes mostly to forks and execs, and req
# is its most common call.
split_code() {
	CODE=${BODY##*$'\n'}
	BODY=${BODY%$'\n'*}
	chomp BODY
}
# chomp NAME: drop the trailing newlines of variable NAME, as $(...) would
chomp() {
	local -n _c=$1
	while [ "${_c%$'\n'}" != "$_c" ]; do
		_c=${_c%$'\n'}
	done
}
# hdr NAME: the value of the first NAME header in $T/h (no CR, one leading
# space dropped), case-insensitive; in bash like req
hdr() {
	local _l _n=${1,,}
	while IFS= read -r _l; do
		_l=${_l//$'\r'/}
		if [[ ${_l,,} == "$_n":* ]]; then
			_l=${_l#*:}
			printf '%s\n' "${_l# }"
			return
		fi
	done < "$T/h"
}
json() { jq -r "$1" 2>/dev/null <<<"$BODY"; }	# a here-string: no pipeline fork

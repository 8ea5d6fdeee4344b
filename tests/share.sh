# tests/share.sh: the large-answer sharing tests' helpers and reader
# scenarios, for tests/t94_share.sh (answers with a Content-Length) and
# tests/t95_share_chunked.sh (chunked, without one). Sourced after lib.sh;
# the scenarios run once the fake and defgate do. Test code only.

calls() { fake_stat .api_requests; }
SLOW="python3 $top_srcdir/tests/slowread.py"
BIG=$((24 * 1024 * 1024))
hwm() { awk '/^VmHWM/ { print $2 }' "/proc/$GW_PID/status"; }
cuts() { grep -c 'cut: the client read too slowly' "$GW_LOG"; }
# padded N: the sha256 of the fake's padded answer of N bytes (BIG's once,
# at the end of this file: the bodies checks ask for it again and again)
padded() {
	if [ "$1" = "$BIG" ] && [ -n "${PADDED_BIG:-}" ]; then
		echo "$PADDED_BIG"
		return
	fi
	python3 -c 'import hashlib, sys
n = int(sys.argv[1])
pre = (b"{\"@odata.context\":\"https://api.security.microsoft.com/api/"
       b"$metadata#Incidents\",\"value\":[],\"padding\":\"")
print(hashlib.sha256(pre + b"x" * (n - len(pre) - 2) + b"\"}").hexdigest())' "$1"
}
# inflight: requests defgate is answering, this one to /metrics aside
inflight() {
	curl -s "$GW/metrics" |
	    awk '$1 == "defgate_requests_in_flight" { print $2 - 1 }'
}
# big [BYTES]: the next call to /api/incidents answers a padded 200 of
# BYTES (default BIG); a moment for the previous requests to be gone
big() {
	fake_fault '{"target":"api","kind":"huge","bytes":'"${1:-$BIG}"',"path":"/api/incidents"}'
	_i=0
	while [ "$(inflight)" -gt 0 ] && [ "$_i" -lt 50 ]; do
		_i=$((_i + 1))
		sleep 0.1
	done
}
# arrived N: wait until N requests are in flight: a reader meant to come
# first (or second) has, on a loaded machine too (one that comes too late
# shows as a second upstream call)
arrived() {
	_i=0
	while [ "$(inflight)" -lt "$1" ] && [ "$_i" -lt 100 ]; do
		_i=$((_i + 1))
		sleep 0.1
	done
	[ "$_i" -lt 100 ] || diag "request $1 did not arrive within 10 s"
}
# fetch FILE [CURL-ARGS...]: GET /incidents, the body's sha256 (not the
# body: 24 MiB times 20 written to disk can stall a client long enough to
# be cut) in FILE.sum, its size in FILE.size, curl's headers in FILE.h,
# its exit status in FILE.rc. openssl's sha256 (SHA extensions): half the
# CPU of coreutils' sha256sum on 24 MiB, start included.
fetch() {
	_f=$1
	shift
	curl -s --max-time 90 -D "$_f.h" -w '%{stderr}%{size_download}\n' \
	    "$@" "$GW/incidents" 2>"$_f.size" | openssl dgst -sha256 -r > "$_f.sum"
	echo "${PIPESTATUS[0]}" > "$_f.rc"
}
export -f fetch
# get PREFIX N: N concurrent fetches into $T/PREFIX.{1..N}.*
get() {
	export GW
	seq "$2" | xargs -P "$2" -I{} bash -c 'fetch "$0"' "$T/$1.{}"
}
# bodies PREFIX N WHAT [BYTES]: all N are 200, complete, well-framed and
# what the API sent
bodies() {
	is "$(cat "$T"/$1.[0-9]*.h | grep -c '^HTTP/1.1 200')" "$2" \
	    "$3: $2 answers 200"
	_rc=$(cat "$T"/$1.*.rc | sort -u | tr '\n' ' ')
	is "$_rc" "0 " \
	    "... curl read each to its end (exit 0: framing well-formed)"
	# a client cut for reading too slowly says so in the log
	[ "$_rc" = "0 " ] || diag "$(grep 'cut:' "$GW_LOG" | tail -3)"
	is "$(cat "$T"/$1.*.size | sort -u)" "${4:-$BIG}" \
	    "... each complete (${4:-$BIG} bytes)"
	is "$(cat "$T"/$1.*.sum | cut -c1-64 | sort -u)" "$(padded "${4:-$BIG}")" \
	    "... each the body the API sent (sha256)"
}
# second PREFIX MODE ARG: a big answer read by curl ($T/PREFIX.0.*), a
# slowread.py follower ($T/PREFIX.out, pid SP) and 8 more curls; sets c0
second() {
	big
	c0=$(calls)
	fetch "$T/$1.0" &
	CP=$!
	arrived 1
	$SLOW "$GW_PORT" /incidents "$2" "$3" > "$T/$1.out" &
	SP=$!
	arrived 2
	get "$1" 8
}

# stalled PREFIX N SECONDS SHORT [LABEL [KIB]]: a big answer whose first
# reader reads nothing for SECONDS while N others read it: 1 upstream call,
# the N complete, the stalled one cut (logged), the daemon's peak RSS grown
# by less than KIB (default: half the answer; add what the cache may hold
# of an answer of unknown length), and the stalled reader's answer ends
# short (SHORT); sets c0
stalled() {
	big
	c0=$(calls) k0=$(cuts) h0=$(hwm)
	$SLOW "$GW_PORT" /incidents stall "$3" > "$T/$1.out" &
	SP=$!
	arrived 1
	get "$1" "$2"
	is "$(( $(calls) - c0 ))" 1 "${5:-}a stalled reader and $2 others: 1 upstream call"
	bodies "$1" "$2" "... the $2 others"
	is "$(( $(cuts) - k0 ))" 1 "... the stalled reader was cut (logged), no other"
	h1=$(hwm)
	if ldd "$DEFGATE" 2>/dev/null | grep -Eq 'lib(a|t)san'; then
		# a sanitizer's shadow memory and quarantine say nothing here
		ok 0 "... peak RSS not checked in a sanitizer build"
	else
		_kib=${6:-$(( BIG / 1024 / 2 ))}
		[ $(( h1 - h0 )) -lt "$_kib" ]
		ok $? "... peak RSS grew $(( h1 - h0 )) KiB (bound $_kib), less than the answer ($(( BIG / 1024 )) KiB)"
	fi
	wait "$SP"
	like "$(cat "$T/$1.out")" "$4" \
	    "... and its answer ends short: $(cat "$T/$1.out")"
}

# share_readers SHORT: the scenarios of readers that stall, read slowly or
# hang up; SHORT is what slowread.py says of an answer it did not get whole
share_readers() {
	# ---- the first reader stalls: cut, the others finish, memory bounded
	stalled b 10 12 "$1"

	# ---- a follower reading 2 KiB/s is cut too
	k0=$(cuts)
	second c rate 2048
	wait "$CP"
	is "$(( $(calls) - c0 ))" 1 "a 2 KiB/s reader and 9 others: 1 upstream call"
	bodies c 9 "... the 9 others"
	[ "$(cuts)" -gt "$k0" ]; ok $? "... the slow reader was cut (logged)"
	kill "$SP" 2>/dev/null; wait "$SP" 2>/dev/null

	# ---- a follower hangs up mid-stream: the others go on
	second d close 200000
	wait "$CP" "$SP"
	like "$(cat "$T/d.out")" CLOSED "a follower hung up mid-stream"
	is "$(( $(calls) - c0 ))" 1 "... 1 upstream call"
	bodies d 9 "... the 9 others"

	# ---- the first reader hangs up mid-stream: the followers go on
	big
	c0=$(calls)
	$SLOW "$GW_PORT" /incidents close 200000 > "$T/lclose.out" &
	SP=$!
	arrived 1
	get e 10
	wait "$SP"
	like "$(cat "$T/lclose.out")" CLOSED "the first reader hung up mid-stream"
	is "$(( $(calls) - c0 ))" 1 "... 1 upstream call"
	bodies e 10 "... its 10 followers"
}
PADDED_BIG=$(padded "$BIG")

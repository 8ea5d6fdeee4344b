#!/bin/bash
# t90_manpage: defgate(8) renders without a warning (mandoc -T lint and
# groff -ww), and documents every key of src/config.c with its environment
# variable and every command-line option of src/main.c.
. "$(dirname "$0")/lib.sh"
MAN=$top_srcdir/src/defgate.8
[ -s "$MAN" ] || bail "no $MAN"
command -v mandoc >/dev/null || bail "mandoc is not installed (scripts/setup)"
command -v groff >/dev/null || bail "groff is not installed (scripts/setup)"

out=$(mandoc -T lint -W warning "$MAN" 2>&1)
is "$out" "" "mandoc -T lint: no warning"
out=$(groff -mandoc -ww -z "$MAN" 2>&1)
is "$out" "" "groff -mandoc -ww: no warning"
out=$(mandoc -T ascii "$MAN" 2>&1 | sed 's/.\x08//g')
like "$out" "EXIT STATUS" "renders the EXIT STATUS section"
like "$out" "SECURITY CONSIDERATIONS" "renders the SECURITY CONSIDERATIONS section"

# every { "key", "ENV", ... } row of the key table in src/config.c
keys=$(sed -n '/^static const struct key keys\[\]/,/^};/p' "$top_srcdir/src/config.c" |
    sed -n 's/^[[:space:]]*{ "\([a-z0-9_]*\)", "\([A-Z0-9_]*\)".*/\1 \2/p')
[ -n "$keys" ] || bail "no key table found in src/config.c"
missing=""
while read -r k e; do
	grep -q "^\.It Cm $k Pq Ev $e\$" "$MAN" || missing="$missing $k($e)"
done <<< "$keys"
is "$missing" "" "every config key ($(echo "$keys" | wc -l)) documented as '.It Cm key Pq Ev VAR'"

# every long option of src/main.c
opts=$(sed -n 's/^[[:space:]]*{ "\([a-z-]*\)", \(no\|required\)_argument.*/\1/p' \
    "$top_srcdir/src/main.c")
[ -n "$opts" ] || bail "no long options found in src/main.c"
missing=""
for o in $opts; do
	grep -q "Fl -$o\\b" "$MAN" || missing="$missing --$o"
done
is "$missing" "" "every long option ($(echo $opts | wc -w)) documented"
for s in SIGTERM SIGINT SIGHUP; do
	grep -q "Dv.*$s" "$MAN"
	ok $? "signal $s documented"
done
done_testing

#!/bin/bash
# t90_metrics: the Prometheus exposition passes promtool check metrics
# (Debian package prometheus; scripts/setup installs it).
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"

PROMTOOL=${PROMTOOL:-promtool}
command -v "$PROMTOOL" >/dev/null ||
    bail "promtool not found: run scripts/setup (Debian package prometheus)"

# promtool itself: it must refuse what is wrong, or the checks below
# could not fail
printf 'm{v="a\nb"} 1\n' > "$T/broken.prom"
"$PROMTOOL" check metrics < "$T/broken.prom" >/dev/null 2>&1
ok $((! $?)) "promtool refuses an unescaped newline in a label value"
printf '# TYPE c counter\nc 1\n' > "$T/lint.prom"
"$PROMTOOL" check metrics < "$T/lint.prom" >/dev/null 2>&1
ok $((! $?)) "promtool refuses a counter without _total and without HELP"

# the renderer's realistic sample (tests/test_metrics.c)
"$top_builddir/tests/test_metrics" --sample > "$T/sample.prom"
is "$?" 0 "the sample renders"
out=$("$PROMTOOL" check metrics < "$T/sample.prom" 2>&1)
is "$?" 0 "promtool check metrics: the sample passes"
is "$out" "" "... without a lint remark"
like "$(cat "$T/sample.prom")" 'le="+Inf"' "the sample has a histogram"
like "$(cat "$T/sample.prom")" 'audience="we\"ird\\aud\nience"' \
    "the sample has escaped label values"

done_testing

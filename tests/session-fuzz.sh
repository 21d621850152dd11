#!/bin/bash
# tests/session-fuzz.sh - a short run of the generative hostile peer
# (tests/fuzz/session-fuzz.c): SESSION_FUZZ_N sessions (default 200) from
# seed SESSION_FUZZ_SEED (default 1), each checked against the invariants
# written in the program's header. Classes listed in
# tests/fuzz/session-xfail fail today and are counted as xfail. Long runs:
# tools/fuzz --sessions N. Failing seeds are saved under the work folder
# (KEEP_TMP=1 keeps it); one seed again: session-fuzz -s SEED -n 1.

# shellcheck source=tests/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"

FUZZ=$top_builddir/tests/fuzz/session-fuzz
require_built "$PLUGIN" "$FUZZ"

case_begin session-fuzz
out=$CASE_DIR/run.out
PLUGIN=$PLUGIN "$FUZZ" -n "${SESSION_FUZZ_N:-200}" -s "${SESSION_FUZZ_SEED:-1}" -j 4 -q \
	-x "$top_srcdir/tests/fuzz/session-xfail" -o "$CASE_DIR/failed" >"$out" 2>&1
RC=$?
cat "$out"
FIRST=$(tail -n 1 "$out")
expect_rc 0
[[ $FIRST =~ ^session-fuzz:\ ([0-9]+)\ sessions.*\ ([0-9]+)\ passed ]] ||
	fail "no summary line"
# a run in which nothing passed checked nothing
[ "${BASH_REMATCH[2]:-0}" -gt 0 ] || fail "no session passed"
case_end
finish

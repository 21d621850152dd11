#!/bin/bash
# tests/fuzz/replay.sh - "make check" part of the fuzzing: the fuzz targets,
# built with the project's compiler against tests/fuzz/replay.c, run once
# on the seed corpus (written now by tests/fuzz/make-corpus.sh from
# tests/peers/ and its own seeds) and on every input kept in
# tests/fuzz/regressions/TARGET/ (inputs that once broke something).
#
#   tests/fuzz/replay.sh [TARGET...]     (reply, ehlo, verdict by default)
#
# Prints "ok TARGET: N inputs" or "not ok TARGET" with the end of the
# replay's output (the last input named is the one that failed); exit 1 if
# any failed, 99 if a replay program is not built.
set -u

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
targets=${*:-reply ehlo verdict}

work=$(mktemp -d "${TMPDIR:-/tmp}/smtp-fixup-replay.XXXXXX") || exit 99
trap 'rm -rf "$work"' EXIT

if ! "$top_srcdir/tests/fuzz/make-corpus.sh" "$work/corpus" "$top_srcdir/tests/peers" >"$work/corpus.log" 2>&1; then
	echo "not ok: make-corpus.sh failed"
	sed 's/^/#   /' "$work/corpus.log"
	exit 1
fi
sed 's/^/# /' "$work/corpus.log"

failed=0
for t in $targets; do
	bin=$top_builddir/tests/fuzz/replay_$t
	reg=$top_srcdir/tests/fuzz/regressions/$t
	if [ ! -x "$bin" ]; then
		echo "not built: $bin" >&2
		exit 99
	fi
	dirs=("$work/corpus/$t")
	[ -d "$reg" ] && dirs+=("$reg")
	if "$bin" "${dirs[@]}" >"$work/$t.log" 2>&1; then
		echo "ok $t: $(tail -n 1 "$work/$t.log" | sed 's/^replay: //')"
	else
		rc=$?
		failed=1
		echo "not ok $t: the replay exited with $rc"
		tail -n 30 "$work/$t.log" | sed 's/^/#   /'
	fi
done
exit "$failed"

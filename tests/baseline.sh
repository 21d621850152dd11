#!/bin/bash
# tests/baseline.sh - --baseline: the banner and extensions of the last run
# without findings, kept with libmonitoringplug's state retention in a
# folder of the test's own (MP_STATE_PATH). The server is an
# smtp-inspect-emu persona; later runs put the emulator's strip or asa
# profile on the same address and port (the state key).
#
#   tests/baseline.sh [CASE...]     (all cases when none is named)

# shellcheck source=tests/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"

: "${EMU:=$top_builddir/tools/smtp-inspect-emu}"
require_built "$PLUGIN" "$PEER" "$EMU"

# emu_on PORT PROFILE: a postfix persona behind PROFILE on 127.0.0.1:PORT
# (0: any); EMU_PORT, EMU_PID.
emu_on() {
	local pf=$CASE_DIR/emu-$2.port
	rm -f "$pf"
	"$EMU" --listen "127.0.0.1:$1" --persona postfix --profile "$2" --port-file "$pf" \
		--max-seconds "$PEER_SECONDS" --quiet 2>"$CASE_DIR/emu-$2.err" &
	EMU_PID=$!
	BG_PIDS+=("$EMU_PID")
	if wait_port_file "$pf" "$EMU_PID"; then
		EMU_PORT=$(cat "$pf")
		return 0
	fi
	fail "the emulator ($2) did not start: $(head -c 300 "$CASE_DIR/emu-$2.err")"
	EMU_PORT=1
	return 1
}

emu_stop() {
	kill "$EMU_PID" 2>/dev/null
	wait "$EMU_PID" 2>/dev/null
}

# check ARGS...: the plugin with --baseline on the emulator's port.
check() {
	MP_STATE_PATH=$STATE run_plugin $((T + 2)) -H 127.0.0.1 -p "$PORT" -F "$FQDN" -t "$T" \
		--baseline "$@"
}

# first: a clean run that records the baseline.
first() {
	STATE=$CASE_DIR/state
	emu_on 0 none
	PORT=$EMU_PORT
	check
	expect_rc 0
	expect_first '; baseline recorded \(first run\)$'
	emu_stop
}

case_first_then_same() {
	first
	[ -n "$(find "$STATE" -type f -name 'baseline_127_2E0_2E0_2E1_*')" ] ||
		fail "no state file baseline_127_2E0_2E0_2E1_PORT under $STATE"
	emu_on "$PORT" none
	check
	expect_rc 0
	expect_first '^SMTP FIXUP OK - 127\.0\.0\.1:[0-9]+ \(127\.0\.0\.1\): no SMTP inspection seen, 10 ESMTP extensions, [0-9.]+ s$'
	expect_perfdata_wellformed
}

case_stripped() {
	first
	emu_on "$PORT" strip
	check
	expect_rc 1
	expect_first '^SMTP FIXUP WARNING - 5 extensions gone since the last clean run: VRFY, ENHANCEDSTATUSCODES, DSN, SMTPUTF8, CHUNKING$'
	expect_output '^\[WARNING\] 5 extensions gone since the last clean run'
	# a run with findings does not replace the baseline
	check --baseline-changed=critical
	expect_rc 2
	expect_first '^SMTP FIXUP CRITICAL - 5 extensions gone since the last clean run'
}

case_banner_changed() {
	first
	emu_on "$PORT" asa
	check
	expect_rc 2
	expect_first '4 extensions gone since the last clean run: VRFY, STARTTLS, SMTPUTF8, CHUNKING; greeting changed since the last clean run'
	expect_output '^  seen: 220 mail\.example\.org ESMTP Postfix \(Debian/GNU\)$'
	expect_output '^  seen: 220 \*+$'
}

case_not_writable() {
	emu_on 0 none
	PORT=$EMU_PORT
	: >"$CASE_DIR/a-file"
	STATE=$CASE_DIR/a-file/state
	check
	expect_rc 3
	expect_first "; cannot keep the baseline: cannot create $CASE_DIR/a-file/state: Not a directory\$"
}

case_not_clean_first() {
	STATE=$CASE_DIR/state
	emu_on 0 asa
	PORT=$EMU_PORT
	check
	expect_rc 2
	expect_first '; no baseline recorded yet: this run is not clean$'
	[ -z "$(find "$STATE" -type f 2>/dev/null)" ] || fail "a state file was written"
}

case_with_domain() {
	run_plugin 3 -D example.org --baseline
	expect_rc 3
	expect_first "^SMTP FIXUP UNKNOWN - --baseline keeps one server's state: not with -D$"
}

run_suite "$@"
finish

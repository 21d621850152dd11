#!/bin/bash
# tests/reference.sh - --reference=HOST[:PORT]: the same server reached
# without the box, run at the same time as the checked path. The server is
# an smtp-inspect-emu persona; the checked path goes through the emulator's
# strip (or asa) profile, the reference through profile none.
#
#   tests/reference.sh [CASE...]     (all cases when none is named)

# shellcheck source=tests/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"

: "${EMU:=$top_builddir/tools/smtp-inspect-emu}"
require_built "$PLUGIN" "$PEER" "$EMU"

# emu PROFILE: a postfix persona behind PROFILE on 127.0.0.1; EMU_PORT.
emu() {
	local pf=$CASE_DIR/emu-$1.port pid
	"$EMU" --listen 127.0.0.1:0 --persona postfix --profile "$1" --port-file "$pf" \
		--max-seconds "$PEER_SECONDS" --quiet 2>"$CASE_DIR/emu-$1.err" &
	pid=$!
	BG_PIDS+=("$pid")
	if wait_port_file "$pf" "$pid"; then
		EMU_PORT=$(cat "$pf")
		return 0
	fi
	fail "the emulator ($1) did not start: $(head -c 300 "$CASE_DIR/emu-$1.err")"
	EMU_PORT=1
	return 1
}

# check PORT ARGS...: the plugin on 127.0.0.1:PORT.
check() {
	local port=$1
	shift
	run_plugin $((T + 2)) -H 127.0.0.1 -p "$port" -F "$FQDN" -t "$T" "$@"
}

case_strip() {
	emu none
	ref=$EMU_PORT
	emu strip
	check "$EMU_PORT" --reference="127.0.0.1:$ref"
	expect_rc 2
	expect_first '^SMTP FIXUP CRITICAL - 5 extensions offered on the reference path but missing or masked here: VRFY, ENHANCEDSTATUSCODES, DSN, SMTPUTF8, CHUNKING$'
	expect_perf reference_missing 5
	expect_perf extensions 5
	expect_output '^\[CRITICAL\] 5 extensions offered on the reference path'
	expect_output '^  seen: 250 CHUNKING$'
	expect_output "^Reference path: 127\\.0\\.0\\.1:$ref \\(127\\.0\\.0\\.1\\)$"
	expect_output '^Reference extensions \(10\): '
}

case_strip_as_warning() {
	emu none
	ref=$EMU_PORT
	emu strip
	check "$EMU_PORT" --reference="[127.0.0.1]:$ref" --reference-missing=warning
	expect_rc 1
	expect_first '^SMTP FIXUP WARNING - 5 extensions offered on the reference path'
}

case_asa() {
	emu none
	ref=$EMU_PORT
	emu asa
	check "$EMU_PORT" --reference="127.0.0.1:$ref"
	expect_rc 2
	expect_first '4 extensions offered on the reference path but missing or masked here: VRFY, STARTTLS, SMTPUTF8, CHUNKING'
	expect_first "greeting differs from the reference path's"
	expect_perf reference_missing 4
	expect_output "^\\[WARNING\\] greeting differs from the reference path's$"
	expect_output '^  seen: 220 \*+$'
	expect_output '^  seen: 220 mail\.example\.org ESMTP Postfix \(Debian/GNU\)$'
}

case_same() {
	emu none
	check "$EMU_PORT" --reference="127.0.0.1:$EMU_PORT"
	expect_rc 0
	expect_first '^SMTP FIXUP OK - 127\.0\.0\.1:[0-9]+ \(127\.0\.0\.1\): no SMTP inspection seen, 10 ESMTP extensions'
	expect_perf reference_missing 0
}

# The reference port defaults to -p's.
case_default_port() {
	emu none
	check "$EMU_PORT" --reference=127.0.0.1
	expect_rc 0
	expect_output "^Reference path: 127\\.0\\.0\\.1:$EMU_PORT "
}

case_reference_down() {
	emu none
	peer_start silent --connections 0
	check "$EMU_PORT" --reference="127.0.0.1:$PEER_PORT"
	expect_rc 3
	expect_first "^SMTP FIXUP UNKNOWN - no comparison with the reference path: cannot connect to 127\\.0\\.0\\.1:$PEER_PORT \\(127\\.0\\.0\\.1\\): Connection refused$"
	kill "$PEER_PID" 2>/dev/null
	wait "$PEER_PID" 2>/dev/null
	PEER_PID=
}

case_bad_reference() {
	run_plugin 3 -H 127.0.0.1 --reference='127.0.0.1:99999'
	expect_rc 3
	expect_first '^SMTP FIXUP UNKNOWN - --reference: the port must be a number from 1 to 65535'
	run_plugin 3 -D example.org --reference=127.0.0.1
	expect_rc 3
	expect_first '^SMTP FIXUP UNKNOWN - --reference compares one server: not with -D$'
}

run_suite "$@"
finish

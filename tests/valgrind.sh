#!/bin/bash
# tests/valgrind.sh - the built plugin under valgrind memcheck, once per
# kind of conversation, against scripted peers (tests/smtp-peer playing
# tests/peers/*.txt): a clean server (with -v), one behind a masking ASA,
# a PIX that refuses EHLO (the HELO path), -S with --probe (two sessions at
# once), a peer that does not speak SMTP,
# options read from an --extra-opts ini file, and a bad option (the usage
# exit). Each run must have no memcheck error and nothing definitely lost
# (--errors-for-leak-kinds=definite makes a definite leak an error), and
# the plugin must still give its usual exit code.
#
#   tests/valgrind.sh [CASE...]
#
# Skipped (77) without valgrind, or when the plugin is built with ASan
# (tools/sanitize-check): the two cannot run together.

# shellcheck source=tests/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"

require_built "$PLUGIN" "$PEER"
if ! command -v valgrind >/dev/null 2>&1; then
	echo "SKIP: valgrind is not installed (apt-get install valgrind)"
	exit 77
fi
if grep -qa __asan_init "$PLUGIN"; then
	echo "SKIP: the plugin is built with AddressSanitizer; valgrind cannot run it"
	exit 77
fi

# valgrind starts slowly: every time bound gets this much more.
TIME_SLACK_MS=15000
VG_EXIT=97 # exit code of a run in which valgrind found an error

# vg_prefix: the valgrind command line for this case, in PLUGIN_PREFIX.
vg_prefix() {
	VG_LOG=$CASE_DIR/valgrind.log
	PLUGIN_PREFIX="valgrind --tool=memcheck --error-exitcode=$VG_EXIT --leak-check=full"
	PLUGIN_PREFIX+=" --errors-for-leak-kinds=definite --show-leak-kinds=definite"
	PLUGIN_PREFIX+=" --track-origins=yes --log-file=$VG_LOG"
}

# The run had no error and nothing definitely lost; else the valgrind
# report goes into the case's output.
expect_valgrind_clean() {
	local bad=0
	if [ "$RC" = "$VG_EXIT" ]; then
		fail "valgrind found errors (exit $VG_EXIT)"
		bad=1
	fi
	if ! grep -q 'ERROR SUMMARY: 0 errors' "$VG_LOG" 2>/dev/null; then
		fail "valgrind: $(grep -m1 'ERROR SUMMARY' "$VG_LOG" 2>/dev/null || echo 'no ERROR SUMMARY in its log')"
		bad=1
	fi
	if grep -Eq 'definitely lost: [1-9]' "$VG_LOG" 2>/dev/null; then
		fail "valgrind: $(grep -m1 'definitely lost' "$VG_LOG" | sed 's/^==[0-9]*== *//')"
		bad=1
	fi
	if [ "$bad" = 1 ] && [ -s "$VG_LOG" ]; then
		sed 's/^/#   valgrind: /' "$VG_LOG" | head -n 80
	fi
}

# vg_peer_case SCRIPT RC [plugin options...]: the plugin against the peer.
vg_peer_case() {
	local script=$1 rc=$2
	shift 2
	vg_prefix
	peer_start "$script"
	probe "$@"
	peer_finish
	expect_rc "$rc"
	expect_valgrind_clean
}

case_clean() {
	vg_peer_case clean-postfix 0 -v -R STARTTLS,8BITMIME
	expect_first '^SMTP FIXUP OK - '
}

case_masked() {
	vg_peer_case asa 2
	expect_first '^SMTP FIXUP CRITICAL - '
}

case_ehlo_refused() {
	vg_peer_case pix6 2 -R STARTTLS
	expect_first '^SMTP FIXUP CRITICAL - '
}

# -S and --probe: the probe and the STARTTLS session run as two sessions
# at once (the scripted peer does not play along: the check is CRITICAL)
case_two_sessions() {
	vg_peer_case asa 2 -S --probe
	expect_first '^SMTP FIXUP CRITICAL - '
}

case_not_smtp() {
	vg_peer_case garbage-http 2
	expect_first '^SMTP FIXUP CRITICAL - '
}

case_extra_opts() {
	local ini=$CASE_DIR/plugins.ini
	vg_prefix
	peer_start clean-postfix
	printf '[check_smtp_fixup]\nhostname=127.0.0.1\nport=%s\nfqdn=%s\ntimeout=%s\nrequire=SIZE\n' \
		"$PEER_PORT" "$FQDN" "$T" >"$ini"
	run_plugin $((T + 2)) --extra-opts="@$ini" -v
	peer_finish
	expect_rc 0
	expect_first "^SMTP FIXUP OK - 127\\.0\\.0\\.1:$PEER_PORT"
	expect_valgrind_clean
}

case_bad_option() {
	vg_prefix
	run_plugin 5 -H 127.0.0.1 -p not-a-port
	expect_rc 3
	expect_first '^SMTP FIXUP UNKNOWN - '
	expect_valgrind_clean
}

# Case names: valgrind_ and the function's name (case_two_sessions is
# valgrind_two_sessions).
CASE_PREFIX=valgrind_
CASE_SEP=_
run_suite "$@"
finish

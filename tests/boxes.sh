#!/bin/bash
# tests/boxes.sh - the built plugin through tools/smtp-inspect-emu, for what
# a box does that breaks SMTP itself or shows only in the message:
#   - the whole-line greeting mask (profile pix6-whole-line, on the
#     emulator's Postfix and on a scripted multi-line greeting): the masked
#     banner with the PIX, CRITICAL, not "does not speak SMTP";
#   - the DATA-phase witness (--probe=data) behind every profile that
#     matters: asa, asa-allow-tls and fwsm reset on the 1000-octet header
#     line (CRITICAL, the ASA and its rule named); none, pix6, pix6-eod
#     and strip let the parts pass (OK, a note: the witness never sends the
#     end-of-data marker, so pix6-eod's swallowed "." never comes into it);
#     a server behind the box that answers 554 itself is its own policy.
# The scripted peers alone (no emulator) are rows of tests/integration.sh.
#
#   tests/boxes.sh [CASE...]     (all cases when none is named)

# shellcheck source=tests/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"

: "${EMU:=$top_builddir/tools/smtp-inspect-emu}"
require_built "$PLUGIN" "$PEER" "$EMU"

BROKEN='greeting banner masked over the whole line'
PIX_NAME='Cisco PIX 5\.1-6\.x SMTP fixup'
DROPPED='connection reset with no reply after a message header line of 1000 octets \(DATA witness\): the ASA.s default ESMTP policy drops header lines over 998 octets'
PASSED='DATA witness: a message header line of 1000 octets and a MIME file name of 300 octets passed'

# emu PROFILE [--server ADDR:PORT]: the emulator on 127.0.0.1 behind
# PROFILE, the postfix persona unless --server; EMU_PORT, EMU_LOG.
emu() {
	local profile=$1 pf=$CASE_DIR/emu-$1.port pid
	shift
	[ $# -gt 0 ] || set -- --persona postfix
	EMU_LOG=$CASE_DIR/emu-$profile.log
	"$EMU" --listen 127.0.0.1:0 "$@" --profile "$profile" --port-file "$pf" \
		--max-seconds "$PEER_SECONDS" 2>"$EMU_LOG" &
	pid=$!
	BG_PIDS+=("$pid")
	if wait_port_file "$pf" "$pid"; then
		EMU_PORT=$(cat "$pf")
		return 0
	fi
	fail "the emulator ($profile) did not start: $(head -c 300 "$EMU_LOG")"
	EMU_PORT=1
	return 1
}

# check ARGS...: the plugin on the emulator.
check() {
	run_plugin $((T + 2)) -H 127.0.0.1 -p "$EMU_PORT" -F "$FQDN" -t "$T" "$@"
}

# ---- the whole-line mask ---------------------------------------------

case_whole_line_postfix() {
	emu pix6-whole-line
	check --banner-masked=ok # a mask that breaks the greeting stays CRITICAL
	expect_rc 2
	expect_first "^SMTP FIXUP CRITICAL - $PIX_NAME[^|]* on the path to [^|]*: greeting masked over the whole line: clients cannot parse it"
	expect_output "^\\[CRITICAL\\] $BROKEN \\(the separator after 220 masked\\): clients cannot parse it"
	expect_first_not 'does not speak'
	expect_perf banner_masked 1
	# "220 mail.example.org ESMTP Postfix (Debian/GNU)", separator and all
	expect_output '^  seen: 220\*{44}$'
	expect_output '^  remedy: On the PIX \(4\.2 to 6\.3\): no fixup protocol smtp 25\.'
}

# A multi-line greeting from a scripted server (the example of
# tools/emu/README 1): no line of it is a reply line any more.
case_whole_line_multiline() {
	printf '%s\n' 'send 220-mx.example.org ESMTP 2.0\r\n220-\r\n220 ok 2020\r\n' drain \
		>"$CASE_DIR/multiline.txt"
	peer_start "$CASE_DIR/multiline.txt"
	emu pix6-whole-line --server "127.0.0.1:$PEER_PORT"
	check
	peer_finish
	expect_rc 2
	expect_first "^SMTP FIXUP CRITICAL - $PIX_NAME[^|]* on the path to "
	expect_output "^\\[CRITICAL\\] $BROKEN "
	expect_perf banner_masked 1
	expect_output '^  seen: 220\*{22}2\*0$'
	expect_output '^  seen: \*{4}$'
	expect_output '^  seen: \*{7}2020$'
	expect_peer_rc 0
}

# ---- the DATA-phase witness ------------------------------------------

# witness_dropped PROFILE: the ASA family resets on the long header line.
witness_dropped() {
	emu "$1"
	check --probe=data -v
	expect_rc 2
	expect_first "$DROPPED"
	expect_first '^SMTP FIXUP CRITICAL - Cisco ASA/FTD/FWSM ESMTP inspection on the path to '
	expect_output '^\[CRITICAL\] connection reset with no reply after a message header line'
	expect_output '^  seen: 354 End data with <CR><LF>\.<CR><LF>$'
	expect_output '^  seen: -- then message part 1 with a message header line of 1000 octets, and a reset$'
	expect_output '^  -- message part 1 of 2, 1[0-9]{3} octets in one write: a header line over 998 octets$'
	grep -Eq '^  -- message part 2 of 2' "$OUT" && fail "the second part was written after the reset"
	grep -q "dropped by the $1 profile: message header line too long" "$EMU_LOG" ||
		fail "the emulator did not log the header-line drop: $(tail -n 3 "$EMU_LOG")"
}

case_witness_asa() { witness_dropped asa; }
case_witness_asa_allow_tls() { witness_dropped asa-allow-tls; }
case_witness_fwsm() { witness_dropped fwsm; }

# witness_passed PROFILE STATE: both parts pass, the plugin closes, the
# persona logs a close in DATA (no reset), nothing was delivered.
witness_passed() {
	emu "$1"
	check --probe=data -v
	expect_rc "$2"
	expect_first "$PASSED \\(no reset within 1 s each\\); closed before the end of data, nothing delivered"
	expect_first_not 'connection (reset|closed) with no reply'
	expect_output '^  C: RCPT TO:<postmaster@example\.net>$'
	expect_output '^  -- message part 2 of 2, [0-9]+ octets in one write: a MIME file name over 255 octets$'
	expect_perf_range time 0 1.5 # the watched seconds are not response time
	grep -q 'reset' "$EMU_LOG" && fail "the emulator logged a reset: $(grep reset "$EMU_LOG" | head -n 2)"
	grep -q 'queued' "$EMU_LOG" && fail "the persona queued a message"
}

case_witness_none() { witness_passed none 0; }
case_witness_strip() { witness_passed strip 0; }
# MailGuard: EHLO refused (CRITICAL), the witness runs after HELO and
# passes; pix6-eod's swallowed marker never matters as none is sent.
case_witness_pix6() { witness_passed pix6 2; }
case_witness_pix6_eod() {
	witness_passed pix6-eod 2
	expect_first '^SMTP FIXUP CRITICAL - EHLO refused'
	expect_output '^  C: HELO probe\.example\.net$'
}

# With the command probe too, the ASA drops the long NOOP first: the
# witness never runs, and says nothing.
case_witness_after_probe_drop() {
	emu asa
	check --probe=commands,data
	expect_rc 2
	expect_first 'the connection was dropped after the probe NOOP'
	expect_first_not 'DATA witness'
}

# A server behind a transparent path that answers 554 itself: its policy.
case_witness_server_554() {
	peer_start data-554
	emu none --server "127.0.0.1:$PEER_PORT"
	check --probe=data
	peer_finish
	expect_rc 0
	expect_first 'DATA witness: the server itself answered 554 after a message header line of 1000 octets: its own policy, not the path.s'
	expect_first_not 'ASA|looks like'
	expect_no_log '^C: \.$'
	expect_peer_rc 0
}

run_suite "$@"
finish

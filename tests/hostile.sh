#!/bin/bash
# tests/hostile.sh - what must never come out wrong, whatever this host or
# the peer does (issue 16): the status line is one well-formed line, in the
# right place, with our prefix and the right state.
#
#   closed-stdout     stdout (and stdin) closed: no socket becomes fd 1, so
#                     no status line is written into the mail server's
#                     connection (the peer's log shows what it received)
#   backstop-long-name  name resolution that hangs, with a 200-octet host
#                     name: the backstop's CRITICAL line within timeout + 1 s,
#                     whole, name cut (root: a private resolv.conf)
#   slow-reader       stdout read only after the backstop would have fired:
#                     the report is not cut by a spliced CRITICAL line
#   transcript-cut    a conversation longer than the transcript keeps: -v
#                     says how many lines were not kept
#   no-descriptors    no file descriptor left for a socket: UNKNOWN, this
#                     host's problem, not "cannot connect" (CRITICAL)
#   extra-opts-*      errors in an --extra-opts file: our prefix, one line
#
#   tests/hostile.sh [CASE...]

# shellcheck source=tests/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"

require_built "$PLUGIN" "$PEER"

case_closed_stdout() {
	case_begin closed-stdout
	peer_start clean-postfix || return
	# the plugin's fds 0 and 1 closed: its first socket would be fd 0 or 1
	timeout -k 1 $((T + 2)) "$PLUGIN" -H 127.0.0.1 -p "$PEER_PORT" -F "$FQDN" -t "$T" <&- >&- 2>"$CASE_DIR/err"
	RC=$?
	peer_finish
	expect_rc 0
	expect_no_log 'SMTP FIXUP'
	expect_log '^C: QUIT$'
	[ -s "$CASE_DIR/err" ] && fail "the plugin wrote to stderr: $(head -c 200 "$CASE_DIR/err")"
	case_end
}

# A UDP "name server" on a loopback address that never answers; its
# address in DNS_ADDR (another one when one is taken).
black_hole_dns() {
	local try
	for try in 1 2 3 4 5; do
		DNS_ADDR=127.0.$((RANDOM % 200 + 20)).$((RANDOM % 200 + 20))
		rm -f "$CASE_DIR/dns.up"
		black_hole_at "$DNS_ADDR" && return 0
	done
	return 1
}

black_hole_at() {
	python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[3], 53))
open(sys.argv[1], "w").write("up\n")
end = time.time() + float(sys.argv[2])
while time.time() < end:
    s.settimeout(max(0.1, end - time.time()))
    try:
        s.recvfrom(4096)
    except socket.timeout:
        pass
' "$CASE_DIR/dns.up" 20 "$1" 2>/dev/null &
	local pid=$!
	BG_PIDS+=("$pid")
	for _ in $(seq 100); do
		[ -s "$CASE_DIR/dns.up" ] && return 0
		kill -0 "$pid" 2>/dev/null || return 1 # the address was taken
		sleep 0.1
	done
	return 1
}

case_backstop_long_name() {
	local name
	case_begin backstop-long-name
	if [ "$(id -u)" -ne 0 ] || ! command -v unshare >/dev/null || ! command -v python3 >/dev/null; then
		case_skip "needs root, unshare and python3"
		return
	fi
	black_hole_dns || { fail "the black-hole DNS did not start"; case_end; return; }
	printf 'nameserver %s\noptions timeout:5 attempts:2\n' "$DNS_ADDR" >"$CASE_DIR/resolv.conf"
	name=$(printf 'a%.0s' {1..60}).$(printf 'b%.0s' {1..60}).$(printf 'c%.0s' {1..60}).example
	local t0 t1
	t0=$(now_ms)
	unshare -m sh -c 'mount --bind "$1" /etc/resolv.conf && exec "$2" -H "$3" -t 1' sh \
		"$CASE_DIR/resolv.conf" "$PLUGIN" "$name" >"$OUT" 2>"$CASE_DIR/err"
	RC=$?
	t1=$(now_ms)
	FIRST=$(head -n 1 "$OUT")
	expect_rc 2
	expect_first '^SMTP FIXUP CRITICAL - no result from a{60}\.[bc.]+\.\.\. within the 1 s timeout'
	[ "$(wc -l <"$OUT")" -eq 1 ] || fail "not one line: $(cat "$OUT")"
	[ $((t1 - t0)) -le $((2500 + TIME_SLACK_MS)) ] || fail "took $((t1 - t0)) ms, past timeout + 1 s"
	case_end
}

case_slow_reader() {
	case_begin slow-reader
	if ! command -v python3 >/dev/null; then
		case_skip "needs python3"
		return
	fi
	peer_start big-ehlo || return
	# a pipe of one page, read only 3 s after start: the plugin blocks in
	# its report past -t 1 + 1 s, when the backstop would fire
	python3 -c '
import fcntl, os, subprocess, sys, time
r, w = os.pipe()
fcntl.fcntl(w, 1031, 4096)  # F_SETPIPE_SZ
p = subprocess.Popen(sys.argv[1:], stdout=w, stdin=subprocess.DEVNULL)
os.close(w)
time.sleep(3)
out = b""
while True:
    b = os.read(r, 65536)
    if not b:
        break
    out += b
sys.stdout.buffer.write(out)
sys.exit(p.wait())
' "$PLUGIN" -H 127.0.0.1 -p "$PEER_PORT" -F "$FQDN" -t 1 -v -v >"$OUT" 2>"$CASE_DIR/err"
	RC=$?
	FIRST=$(head -n 1 "$OUT")
	peer_finish
	[ "$(wc -c <"$OUT")" -gt 4096 ] || fail "the report is too short to fill the pipe ($(wc -c <"$OUT") octets)"
	expect_rc 0
	expect_first '^SMTP FIXUP OK - '
	expect_output_not 'SMTP FIXUP CRITICAL'
	expect_output '^Transcript:'
	case_end
}

case_transcript_cut() {
	local total kept
	case_begin transcript-cut
	peer_start big-ehlo || return
	probe -v
	peer_finish
	expect_rc 0
	# every line the conversation had (the peer's log), kept or counted
	total=$(awk '/^S: \(repeat [0-9]+ times\)/ { n += $3; next } /^(C|S): / { n++ } END { print n }' "$PEER_LOG")
	kept=$(sed -n '/^Transcript:$/,$p' "$OUT" | grep -cE '^  (C|S): ')
	[ "$kept" -eq 64 ] || fail "the transcript kept $kept lines, not 64"
	expect_output "^  \.\.\. $((total - kept)) more lines not kept \(the transcript keeps 64\)\$"
	case_end
}

case_no_descriptors() {
	case_begin no-descriptors
	peer_start clean-postfix --connections 2 || return
	# one descriptor besides 0, 1 and 2 (the loader needs one to start):
	# the checked path gets it, the reference's socket cannot be made
	(ulimit -n 4 && exec "$PLUGIN" -H 127.0.0.1 -p "$PEER_PORT" -F "$FQDN" -t "$T" \
		--reference="127.0.0.1:$PEER_PORT") >"$OUT" 2>"$CASE_DIR/err" </dev/null
	RC=$?
	FIRST=$(head -n 1 "$OUT")
	kill "$PEER_PID" 2>/dev/null
	wait "$PEER_PID" 2>/dev/null
	PEER_PID=
	expect_rc 3
	expect_first '^SMTP FIXUP UNKNOWN - no comparison with the reference path: this host failed to check 127\.0\.0\.1:[0-9]+ \(127\.0\.0\.1\): Too many open files'
	expect_first_not 'cannot connect'
	case_end
}

case_extra_opts_errors() {
	local ini=$CASE_DIR/p.ini
	case_begin extra-opts-missing-file
	run_plugin 5 --extra-opts="@$CASE_DIR/none.ini" -H 127.0.0.1
	expect_rc 3
	expect_first "^SMTP FIXUP UNKNOWN - --extra-opts: Can't read config file: No such file or directory$"
	expect_output '^Usage:'
	case_end
	case_begin extra-opts-missing-section
	printf '[other]\nhostname=127.0.0.1\n' >"$ini"
	run_plugin 5 --extra-opts="nosuch@$ini"
	expect_rc 3
	expect_first "^SMTP FIXUP UNKNOWN - --extra-opts: Invalid section 'nosuch' in config file '.*p\\.ini'$"
	case_end
}

run_suite "$@"
finish

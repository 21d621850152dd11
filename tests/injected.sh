#!/bin/bash
# tests/injected.sh - this host's own failures, on cue (issue 16): what no
# peer can cause. tests/faultshim.so, preloaded into the plugin, fails one
# chosen allocation of the plugin's own code, cuts its socket writes and
# reads short, refuses writes with EAGAIN and interrupts poll() (see the
# head of tests/faultshim.c). The peers are healthy conversations.
#
#   alloc-*    every allocation the plugin's code makes in a healthy run,
#              failed one at a time (plain, STARTTLS with each TLS library,
#              --reference, --baseline): each run ends with one status line
#              with our prefix, exit 0-3, and either the undisturbed run's
#              result (with -v, a transcript that says what it lost) or
#              UNKNOWN naming the lack of memory. Never another state, never
#              a crash, never libmonitoringplug's bare words.
#   read-*, write-*  each read or write of a healthy run failed in turn as
#              a failing network makes it fail (unreachable, reset; EINTR):
#              the undisturbed result or CRITICAL naming it
#   connect-*  connect() refused at once: unreachable is CRITICAL, no local
#              address UNKNOWN
#   short-io-* every write cut to 3 octets with EAGAIN between, reads of one
#              octet, every other poll() interrupted: the undisturbed result,
#              and the peer got every command whole.
#
# Not under valgrind (PLUGIN_PREFIX) or ASan: both replace malloc.
#
#   tests/injected.sh [CASE...]

# shellcheck source=tests/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"

SHIM=${SHIM:-$top_builddir/tests/faultshim.so}
require_built "$PLUGIN" "$PEER" "$SHIM"

# Why the shim cannot run here, or nothing.
shim_blocked() {
	if [ -n "$PLUGIN_PREFIX" ]; then
		echo "the plugin runs under $PLUGIN_PREFIX"
	elif grep -qa __asan_init "$PLUGIN"; then
		echo "the plugin is built with ASan, whose malloc the shim would replace"
	fi
}

# 0 if the shim can run here; else the case is skipped, saying why.
shim_usable() {
	local why
	why=$(shim_blocked)
	[ -z "$why" ] && return 0
	case_skip "$why"
	return 1
}

# The first line without perfdata and with times made equal: runs that
# say the same thing compare equal.
said() {
	local f=${1%%|*}
	f=$(printf '%s' "$f" | sed -E 's/[0-9]+\.[0-9]+ s\b/N s/g')
	printf '%s' "$f"
}

# Lines of the -v transcript(s) in FILE, and the lines it says it lost.
transcript_lines() {
	sed -n '/^Transcript:$/,$p' "$1" | grep -cE '^  (C|S): |^  -- '
}
transcript_lost() {
	sed -nE 's/^  \(([0-9]+) lines? lost: out of memory\)$/\1/p' "$1" | awk '{ n += $1 } END { print n + 0 }'
}

# run_shimmed OUT_FILE ENV... -- PLUGIN_ARGS...: the plugin with the shim
# preloaded; RC gets its exit status.
run_shimmed() {
	local out=$1 envs=()
	shift
	while [ "$1" != "--" ]; do
		envs+=("$1")
		shift
	done
	shift
	# the shim in the plugin only, not in timeout
	timeout -k 1 $((T + 2)) env "${envs[@]}" LD_PRELOAD="$SHIM" "$PLUGIN" "$@" >"$out" 2>"$out.err" </dev/null
	RC=$?
}

# The peer serves many runs: stopped here, not awaited.
stop_peer() {
	kill "$PEER_PID" 2>/dev/null
	wait "$PEER_PID" 2>/dev/null
	PEER_PID=
}

# sweep SCRIPT ARGS...: fail each allocation of a healthy run in turn
# against a peer on SCRIPT; ARGS go to the plugin after -H/-p/-F/-t/-v,
# @PORT@ in them replaced by the peer's port.
sweep() {
	local script=$1 base base_rc base_lines m n out first lost same=0 oom=0 host=0
	shift
	shim_usable || return
	peer_start "$script" --connections 2000 --max-seconds 300 || return
	local args=(-H 127.0.0.1 -p "$PEER_PORT" -F "$FQDN" -t "$T" -v "${@//@PORT@/$PEER_PORT}")
	out=$CASE_DIR/run
	# twice: the first run may leave state the next ones read (--baseline)
	run_shimmed "$out" -- "${args[@]}"
	run_shimmed "$out" FAULT_ALLOC_FAIL=0 FAULT_ALLOC_COUNT="$CASE_DIR/count" -- "${args[@]}"
	base_rc=$RC
	FIRST=$(head -n 1 "$out")
	RC=$base_rc
	base=$(said "$FIRST")
	base_lines=$(transcript_lines "$out")
	m=$(cat "$CASE_DIR/count" 2>/dev/null || echo 0)
	cp "$out" "$OUT"
	if [ "$base_rc" -ne 0 ] || [ "$m" -lt 5 ]; then
		fail "the undisturbed run: exit $base_rc, $m allocations counted (expected OK and some)"
		stop_peer
		return
	fi
	for ((n = 1; n <= m; n++)); do
		run_shimmed "$out" FAULT_ALLOC_FAIL="$n" -- "${args[@]}"
		first=$(head -n 1 "$out")
		if [ "$RC" -gt 3 ]; then
			fail "allocation $n of $m failed: exit $RC (a crash or a hang): $first"
		elif ! [[ $first =~ ^SMTP\ FIXUP\ (OK|WARNING|CRITICAL|UNKNOWN)\ -\ . ]]; then
			fail "allocation $n of $m failed: not our status line: $first"
		elif [ "$(said "$first")" = "$base" ] && [ "$RC" -eq "$base_rc" ]; then
			same=$((same + 1))
			lost=$(transcript_lost "$out")
			[ $(($(transcript_lines "$out") + lost)) -eq "$base_lines" ] ||
				fail "allocation $n of $m failed: the transcript has $(transcript_lines "$out") lines and says $lost lost, of $base_lines"
		elif [ "$RC" -eq 3 ] && [[ ${first%%|*} =~ memory ]]; then
			oom=$((oom + 1))
			[[ ${first%%|*} =~ this\ host\ failed ]] && host=$((host + 1))
		else
			fail "allocation $n of $m failed: exit $RC, $first (expected '$base' or UNKNOWN out of memory)"
		fi
		[ "$(grep -c '^SMTP FIXUP' "$out")" -le 1 ] || fail "allocation $n of $m failed: more than one status line"
	done
	stop_peer
	echo "# $CASE: $m allocations: $same runs as undisturbed, $oom UNKNOWN out of memory ($host in the conversation)"
	# the sweep reached the conversation, not only the start
	[ "$oom" -gt 0 ] && [ "$host" -gt 0 ] || fail "no run ended UNKNOWN out of memory in the conversation ($oom in all)"
}

case_alloc_plain() { sweep clean-postfix; }
case_alloc_starttls() { sweep clean-starttls -S; }
case_alloc_starttls_openssl() { CHECK_SMTP_FIXUP_TLS=openssl sweep clean-starttls -S; }
case_alloc_tls() { sweep clean-tls --tls; }
# the reference path is the same healthy peer (@PORT@: its port)
case_alloc_reference() { sweep clean-postfix --reference=127.0.0.1:@PORT@; }

case_alloc_baseline() {
	local dir=$CASE_DIR/state
	mkdir -p "$dir"
	MP_STATE_PATH=$dir sweep clean-postfix --baseline
}

# io_sweep KIND ERRNO WORDS SCRIPT ARGS...: fail each write (KIND SEND) or
# read (RECV) of a healthy run in turn with ERRNO, as the kernel reports a
# network that failed at that moment. Each run ends with the undisturbed
# result (a read of nothing, or after QUIT: nothing was lost) or CRITICAL
# with WORDS in its first line; never another state, never a crash. With
# WORDS empty (EINTR) every run must end as the undisturbed one.
io_sweep() {
	local kind=$1 err=$2 words=$3 script=$4 base m n out first same=0 hit=0
	shift 4
	shim_usable || return
	peer_start "$script" --connections 500 --max-seconds 300 || return
	local args=(-H 127.0.0.1 -p "$PEER_PORT" -F "$FQDN" -t "$T" "$@")
	out=$CASE_DIR/run
	run_shimmed "$out" FAULT_IO_COUNT="$CASE_DIR/io" -- "${args[@]}"
	FIRST=$(head -n 1 "$out")
	base=$(said "$FIRST")
	cp "$out" "$OUT"
	read -r -a m <"$CASE_DIR/io" || m=(0 0)
	m=${m[$([ "$kind" = SEND ] && echo 0 || echo 1)]}
	if [ "$RC" -ne 0 ] || [ "$m" -lt 2 ]; then
		fail "the undisturbed run: exit $RC, $m ${kind,,}s counted (expected OK and some)"
		stop_peer
		return
	fi
	for ((n = 1; n <= m; n++)); do
		run_shimmed "$out" "FAULT_${kind}_FAIL=$n:$err" -- "${args[@]}"
		first=$(head -n 1 "$out")
		if [ "$RC" -eq 0 ] && [ "$(said "$first")" = "$base" ]; then
			same=$((same + 1))
		elif [ -n "$words" ] && [ "$RC" -eq 2 ] && [[ ${first%%|*} =~ ^SMTP\ FIXUP\ CRITICAL\ -\ .*$words ]]; then
			hit=$((hit + 1))
		else
			fail "${kind,,} $n of $m failed with $err: exit $RC, $first"
		fi
	done
	if [ "$kind" = RECV ] && [ -n "$words" ]; then
		# the first read after the last write (QUIT) brings the reply to
		# QUIT: its failure costs nothing, as a close there
		local sends
		read -r sends _ <"$CASE_DIR/io"
		run_shimmed "$out" "FAULT_RECV_FAIL_AFTER=$sends:$err" -- "${args[@]}"
		first=$(head -n 1 "$out")
		[ "$RC" -eq 0 ] && [ "$(said "$first")" = "$base" ] ||
			fail "the read of the reply to QUIT failed with $err: exit $RC, $first, not the undisturbed result"
	fi
	stop_peer
	echo "# $CASE: $m ${kind,,}s: $same runs as undisturbed, $hit CRITICAL naming it"
	[ -z "$words" ] || [ "$hit" -gt 0 ] || fail "no run ended CRITICAL with /$words/"
}

case_read_unreachable_plain() { io_sweep RECV EHOSTUNREACH 'No route to host' clean-postfix; }
case_read_unreachable_starttls() { io_sweep RECV EHOSTUNREACH 'No route to host' clean-starttls -S; }
case_read_unreachable_starttls_openssl() {
	CHECK_SMTP_FIXUP_TLS=openssl io_sweep RECV EHOSTUNREACH 'No route to host' clean-starttls -S
}
case_read_reset_starttls() { io_sweep RECV ECONNRESET 'reset' clean-starttls -S; }
case_read_reset_starttls_openssl() { CHECK_SMTP_FIXUP_TLS=openssl io_sweep RECV ECONNRESET 'reset' clean-starttls -S; }
case_write_reset_plain() { io_sweep SEND ECONNRESET 'reset' clean-postfix; }
case_write_reset_starttls() { io_sweep SEND ECONNRESET 'reset' clean-starttls -S; }
case_write_reset_starttls_openssl() { CHECK_SMTP_FIXUP_TLS=openssl io_sweep SEND ECONNRESET 'reset' clean-starttls -S; }
case_write_unreachable_starttls() { io_sweep SEND EHOSTUNREACH 'No route to host' clean-starttls -S; }
case_write_unreachable_starttls_openssl() {
	CHECK_SMTP_FIXUP_TLS=openssl io_sweep SEND EHOSTUNREACH 'No route to host' clean-starttls -S
}
# the DATA-phase witness: a reset as a message part goes out is the
# witness's finding (a box dropping the message), named as a reset
case_write_reset_witness() { io_sweep SEND ECONNRESET 'reset' data-witness-passes --probe=data; }
case_write_interrupted_starttls() { io_sweep SEND EINTR '' clean-starttls -S; }
case_write_interrupted_tls_openssl() { CHECK_SMTP_FIXUP_TLS=openssl io_sweep SEND EINTR '' clean-tls --tls; }

# connect() failing at once: the network's answer is the server's side
# (CRITICAL), no local address is this host's (UNKNOWN).
connect_fails() {
	local err=$1 rc=$2 words=$3
	shim_usable || return
	run_shimmed "$OUT" FAULT_CONNECT_ERRNO="$err" -- -H 127.0.0.1 -p 25 -t "$T"
	FIRST=$(head -n 1 "$OUT")
	expect_rc "$rc"
	expect_first "$words"
}
case_connect_unreachable() { connect_fails ENETUNREACH 2 '^SMTP FIXUP CRITICAL - cannot connect to 127\.0\.0\.1 \(127\.0\.0\.1\): Network is unreachable$'; }
case_connect_no_local_address() {
	connect_fails EADDRNOTAVAIL 3 '^SMTP FIXUP UNKNOWN - this host failed to check 127\.0\.0\.1 \(127\.0\.0\.1\): Cannot assign requested address$'
}

# short_io SCRIPT ARGS...: the same result and every command whole when
# the socket takes 3 octets at a time, gives one, and poll() is interrupted.
short_io() {
	local script=$1 base
	shift
	shim_usable || return
	peer_start "$script" --connections 2 || return
	local args=(-H 127.0.0.1 -p "$PEER_PORT" -F "$FQDN" -t "$T" "$@")
	run_shimmed "$OUT" -- "${args[@]}"
	base=$(said "$(head -n 1 "$OUT")")
	[ "$RC" -eq 0 ] || fail "the undisturbed run: exit $RC"
	run_shimmed "$OUT" FAULT_SEND_MAX=3 FAULT_SEND_EAGAIN=1 FAULT_RECV_MAX=1 FAULT_POLL_EINTR=1 -- "${args[@]}"
	FIRST=$(head -n 1 "$OUT")
	peer_finish
	expect_rc 0
	[ "$(said "$FIRST")" = "$base" ] || fail "not the undisturbed result '$base'"
	# both runs' commands reached the peer whole, each on a line of its own
	expect_log_count "^C: EHLO $FQDN\$" "$EHLOS"
	expect_log_count '^C: QUIT$' 2
	expect_no_log '^C: (E|EH|EHL|EHLO|Q|QU|QUI)$'
}

case_short_io_plain() { EHLOS=2 short_io clean-postfix; }
case_short_io_starttls() { EHLOS=4 short_io clean-starttls -S; }
case_short_io_starttls_openssl() { CHECK_SMTP_FIXUP_TLS=openssl EHLOS=4 short_io clean-starttls -S; }

run_suite "$@"
finish

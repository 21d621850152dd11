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
	local script=$1 why base base_rc base_lines m n out first lost same=0 oom=0 host=0
	shift
	why=$(shim_blocked)
	if [ -n "$why" ]; then
		case_skip "$why"
		return
	fi
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

# short_io SCRIPT ARGS...: the same result and every command whole when
# the socket takes 3 octets at a time, gives one, and poll() is interrupted.
short_io() {
	local script=$1 why base
	shift
	why=$(shim_blocked)
	if [ -n "$why" ]; then
		case_skip "$why"
		return
	fi
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

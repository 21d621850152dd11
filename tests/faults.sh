#!/bin/bash
# tests/faults.sh - the fault suite (issue 4): the built plugin against
# hostile peers (tests/peers/fault-*.txt played by tests/smtp-peer on
# loopback). Each case gives the state the plugin must end in, a phrase its
# first line must hold, and a bound on the wall time: the -t timeout plus a
# margin for cases that need the timeout, 2 s for those that do not. Every
# case also checks that the plugin did not crash (exit above 3, a signal)
# or hang, wrote nothing to stderr, named the server, kept its perfdata
# well formed and escaped what the peer sent (the output is printable
# ASCII, the first line is short), and, from the peer's log, what the
# plugin said. TLS cases (-S, --tls) run if the plugin offers them; two of
# them hold the plugin's first write() with strace (if it works here).
#
#   tests/faults.sh [CASE...]     (all cases when none is named)
#
# Environment (besides tests/lib.sh's):
#   FAULTS_VALGRIND  some (default): every case, then the cases marked "vg"
#                    in the table once more under valgrind memcheck;
#                    all (or 1): every case once, under valgrind only;
#                    none (or 0): no valgrind.
#                    Under valgrind, a memory error or a definite leak fails
#                    the case, and time bounds get VALGRIND_SLACK_MS more.
#   FAULTS_JOBS      cases run at once (default 4; most of them wait on
#                    sockets, not on the CPU).
#
# Prints "ok NAME" or "not ok NAME: reason" for each case, then
# "N passed, M failed"; exits 1 if any failed.

# shellcheck source=tests/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"

require_built "$PLUGIN" "$PEER"

: "${FAULTS_VALGRIND:=some}"
: "${FAULTS_JOBS:=4}"
# Time valgrind may add to a run of the plugin (start-up, slow code, a
# machine busy with other work).
VALGRIND_SLACK_MS=30000
# Seconds added to -t (and to the time bounds) for a TLS case under
# valgrind.
VALGRIND_TLS_EXTRA=10
# How long strace holds the first write() of a slowwrite case: more than
# the peer lingers after its close (PEER_CLOSE_LINGER_MS, 2 s).
SLOW_WRITE_MS=2600
# Exit status valgrind gives when it found an error.
VALGRIND_ERROR_RC=97
# The first line is the summary (at most 1024 octets in the plugin) and
# the perfdata (at most 1024): anything longer is not a clear message.
FIRST_LINE_MAX=2048

case $FAULTS_VALGRIND in
1 | all) FAULTS_VALGRIND=all ;;
0 | none) FAULTS_VALGRIND=none ;;
some) ;;
*)
	echo "FAULTS_VALGRIND must be some, all or none, not '$FAULTS_VALGRIND'" >&2
	exit 99
	;;
esac
# A plugin built with ASan (tools/sanitize-check) runs neither under
# valgrind (two memory checkers) nor under strace (LeakSanitizer stops
# when traced): the sanitizers are the memory check there.
if grep -qa __asan_init "$PLUGIN"; then
	FAULTS_VALGRIND=none
	FAULTS_ASAN=1
else
	FAULTS_ASAN=0
fi
if ! [[ $FAULTS_JOBS =~ ^[1-9][0-9]?$ ]]; then
	echo "FAULTS_JOBS must be a number from 1 to 99, not '$FAULTS_JOBS'" >&2
	exit 99
fi

# ---- the table ---------------------------------------------------------

# row NAME SCRIPT T STATE PHRASE MAX_MS MIN_MS SENT [FLAGS]
#   NAME    the case's name
#   SCRIPT  tests/peers/SCRIPT.txt
#   T       the plugin's -t
#   STATE   OK, WARNING, CRITICAL or UNKNOWN: the exit code and the word
#   PHRASE  an extended regex the summary (first line without perfdata,
#           after "SMTP FIXUP STATE - ") must match
#   MAX_MS  the plugin must end within this (wall time, ms)
#   MIN_MS  and not before this (a slow peer is given the whole timeout)
#   SENT    what the plugin must have said, in order, from the peer's log:
#           "-" nothing, "EHLO,QUIT" and so on; "any" not checked (the
#           peer may be busy sending and not read)
#   FLAGS   comma-separated: v6 (peer on ::1, plugin with -6 -H ::1),
#           vg (also run under valgrind by default), verdict (the
#           conversation was held and the summary is the verdict, which
#           need not name the server; a failure to hold it must),
#           starttls (plugin with -S), tls (plugin with --tls); the last
#           two are skipped if the plugin's --help does not offer them;
#           slowwrite (the plugin's first write() is held SLOW_WRITE_MS by
#           strace, so that the peer is gone when it comes; skipped
#           without a working strace and under valgrind); openssl (the
#           plugin's TLS library forced to OpenSSL, CHECK_SMTP_FIXUP_TLS;
#           the other TLS cases take the default, GnuTLS)
# "@T@" in PHRASE stands for the -t given (valgrind runs of TLS cases get
# a longer one: loading and starting TLS under valgrind takes seconds).
ROW_NAME=() ROW_SCRIPT=() ROW_T=() ROW_STATE=() ROW_PHRASE=() ROW_MAX=() ROW_MIN=()
ROW_SENT=() ROW_FLAGS=()
row() {
	ROW_NAME+=("$1")
	ROW_SCRIPT+=("$2")
	ROW_T+=("$3")
	ROW_STATE+=("$4")
	ROW_PHRASE+=("$5")
	ROW_MAX+=("$6")
	ROW_MIN+=("$7")
	ROW_SENT+=("$8")
	ROW_FLAGS+=("${9:-}")
}

# Phrases of the plugin's summary.
NOT_SMTP='does not speak SMTP'
GREETING='waiting for the greeting'
EHLO_REPLY='waiting for the EHLO reply'
HELO_REPLY='waiting for the HELO reply'
QUIT_REPLY='waiting for the QUIT reply'
MIDDLE='in the middle of a reply'

#   name                    script                    -t state     phrase                                              max  min  sent             flags
row silent                  fault-silent               2 CRITICAL "no answer from .* within 2 s, $GREETING"            3000 1900 -
row drip-greeting           fault-drip-greeting        2 CRITICAL "no complete answer from .* within 2 s, $GREETING"   3000 1900 -
row drip-ehlo-slow          fault-drip-ehlo-slow       2 CRITICAL "no complete answer from .* within 2 s, $EHLO_REPLY" 3000 1900 EHLO
row helo-silent             fault-helo-silent          2 CRITICAL "no answer from .* within 2 s, $HELO_REPLY"          3000 1900 EHLO,HELO
row drip-greeting-v6        fault-drip-greeting        2 CRITICAL "no complete answer from .* within 2 s, $GREETING"   3000 1900 -                v6
# Replies that never end, or end too late: the limits end them.
row endless-multiline       fault-endless-multiline    5 CRITICAL "$NOT_SMTP: too many lines in one reply, $EHLO_REPLY" 2000 0  EHLO
row ehlo-thousands          fault-ehlo-thousands       5 CRITICAL "$NOT_SMTP: too many lines in one reply, $EHLO_REPLY" 2000 0  EHLO
row lines-257               fault-lines-257            5 CRITICAL "$NOT_SMTP: too many lines in one reply, $GREETING"  2000 0    -
row megabyte-greeting       fault-megabyte-greeting    5 CRITICAL "$NOT_SMTP: reply line too long, $GREETING"          2000 0    -                vg
row megabyte-ehlo           fault-megabyte-ehlo        5 CRITICAL "$NOT_SMTP: reply line too long, $EHLO_REPLY"        2000 0    EHLO
row line-1001               fault-line-1001            5 CRITICAL "$NOT_SMTP: reply line too long, $GREETING"          2000 0    -
row reply-65537             fault-reply-65537          5 CRITICAL "$NOT_SMTP: reply too big, $GREETING"                2000 0    -
row byte-cap                fault-byte-cap             5 CRITICAL "sent more than 262144 bytes $QUIT_REPLY"            2000 0    EHLO,HELO,QUIT   vg
row byte-cap-exact          fault-byte-cap-exact       5 CRITICAL "^EHLO refused \(server answered 500\)"             2000 0    EHLO,HELO,QUIT   verdict
row at-limits               fault-at-limits            5 OK       "255 (ESMTP )?extensions"                            2000 0    EHLO,QUIT        verdict
row quit-endless            fault-quit-endless         5 CRITICAL "$NOT_SMTP: too many lines in one reply, $QUIT_REPLY" 2000 0  EHLO,QUIT
# Octets that break the reply grammar.
row nul-greeting            fault-nul-greeting         5 CRITICAL "$NOT_SMTP: NUL octet in reply, $GREETING"           2000 0    -
row nul-ehlo                fault-nul-ehlo             5 CRITICAL "$NOT_SMTP: NUL octet in reply, $EHLO_REPLY"         2000 0    EHLO             vg
row nul-ehlo-v6             fault-nul-ehlo             5 CRITICAL "$NOT_SMTP: NUL octet in reply, $EHLO_REPLY"         2000 0    EHLO             v6
row nul-only                fault-nul-only             5 CRITICAL "$NOT_SMTP: NUL octet in reply, $GREETING"           2000 0    -
row code-999                fault-code-999             5 CRITICAL "$NOT_SMTP: line does not start with a reply code, $GREETING .*999 mail" 2000 0 -
row code-abc                fault-code-abc             5 CRITICAL "$NOT_SMTP: line does not start with a reply code, $GREETING .*abc mail" 2000 0 -
row code-22                 fault-code-22              5 CRITICAL "$NOT_SMTP: line does not start with a reply code, $GREETING .*\"22\"" 2000 0 -
row code-2200               fault-code-2200            5 CRITICAL "$NOT_SMTP: reply code not followed by .*, $GREETING .*2200 x" 2000 0  -
row code-220x               fault-code-220x            5 CRITICAL "$NOT_SMTP: reply code not followed by .*, $GREETING .*220x mail" 2000 0 -
row code-199                fault-code-199             5 CRITICAL "$NOT_SMTP: line does not start with a reply code, $GREETING" 2000 0 -
row code-600                fault-code-600             5 CRITICAL "$NOT_SMTP: line does not start with a reply code, $GREETING" 2000 0 -
row code-2a0                fault-code-2a0             5 CRITICAL "$NOT_SMTP: line does not start with a reply code, $GREETING" 2000 0 -
row code-ehlo               fault-code-ehlo            5 CRITICAL "$NOT_SMTP: reply code not followed by .*, $EHLO_REPLY .*25000" 2000 0 EHLO
row mismatch-greeting       fault-mismatch-greeting    5 CRITICAL "$NOT_SMTP: continuation line with another reply code, $GREETING" 2000 0 -
row mismatch-ehlo           fault-mismatch-ehlo        5 CRITICAL "$NOT_SMTP: continuation line with another reply code, $EHLO_REPLY .*251 8BITMIME" 2000 0 EHLO
row bare-cr                 fault-bare-cr              5 CRITICAL "$NOT_SMTP: CR not followed by LF, $GREETING"        2000 0    -
row cr-line-ends            fault-cr-line-ends         5 CRITICAL "$NOT_SMTP: CR not followed by LF, $GREETING"        2000 0    -
row quit-garbage            fault-quit-garbage         5 CRITICAL "$NOT_SMTP: line does not start with a reply code, $QUIT_REPLY" 2000 0 EHLO,QUIT
row pipe-evidence           fault-pipe-evidence        5 CRITICAL "$NOT_SMTP: .*a\\\\x7cb=1;2;3 \\\\x5c \\\\x1b\\[31mred" 2000 0 -
# Not SMTP at all.
row http                    fault-http                 5 CRITICAL "$NOT_SMTP: .*, $GREETING .*HTTP/1\\.0 200 OK"       2000 0    -
row binary                  fault-binary               5 CRITICAL "$NOT_SMTP: .*, $GREETING .*\\\\x15\\\\x03\\\\x01"   2000 0    -
row binary-code             fault-binary-code          5 CRITICAL "$NOT_SMTP: NUL octet in reply, $GREETING .*\\\\xff\\\\xfe" 2000 0 -
# The connection broken or cut short.
# The reset may come before the plugin sees its connect complete: then it
# is reported as a failure to connect ("Connection reset by peer").
row reset-at-once           fault-reset-at-once        5 CRITICAL "[Rr]eset by "                                       2000 0    -
row reset-greeting          fault-reset-greeting       5 CRITICAL "reset by .* $GREETING"                              2000 0    -
row reset-ehlo              fault-reset-ehlo           5 CRITICAL "reset by .* $EHLO_REPLY"                            2000 0    EHLO
row close-at-once           fault-close-at-once        5 CRITICAL "closed the connection $GREETING\$"                  2000 0    -
row close-mid-greeting      fault-close-mid-greeting   5 CRITICAL "closed the connection $GREETING, $MIDDLE"           2000 0    -
row close-after-greeting    fault-close-after-greeting 5 CRITICAL "closed the connection $EHLO_REPLY\$"                2000 0    EHLO
row close-mid-ehlo          fault-close-mid-ehlo       5 CRITICAL "closed the connection $EHLO_REPLY, $MIDDLE"         2000 0    EHLO
# Replies nobody asked for.
row unsolicited             fault-unsolicited          5 CRITICAL "sent a reply before the command it answers"         2000 0    EHLO
row unsolicited-flood       fault-unsolicited-flood    5 CRITICAL "sent a reply before the command it answers"         2000 0    any
# TLS: a handshake that never completes, garbage where TLS should be.
TLS_HANDSHAKE='during the TLS handshake'
row tls-silent              fault-tls-silent           2 CRITICAL "no answer from .* within @T@ s, $TLS_HANDSHAKE"      3000 1900 any              tls
row starttls-silent         fault-starttls-silent      2 CRITICAL "no answer from .* within @T@ s, $TLS_HANDSHAKE"      3000 1900 any              starttls
row tls-plaintext           fault-tls-plaintext        5 CRITICAL "TLS handshake with .* failed"                       2000 0    any              tls,vg
row starttls-garbage        fault-starttls-garbage     5 CRITICAL "TLS handshake[^;]* failed"                          2000 0    any              starttls,verdict
row starttls-alert          fault-starttls-alert       5 CRITICAL "TLS handshake[^;]* failed: the server sent the TLS alert \"Handshake failed\""                          2000 0    any              starttls,verdict
row starttls-close          fault-starttls-close       5 CRITICAL "TLS handshake[^;]* (failed|closed)|closed[^;]* TLS handshake" 2000 0 any      starttls,verdict
row starttls-injected       fault-starttls-injected    5 CRITICAL "sent clear-text data after agreeing to STARTTLS"    2000 0    EHLO,STARTTLS    starttls
row tls-gone                fault-tls-gone             5 CRITICAL "TLS handshake[^;]* failed"                          4500 2500 any              tls,slowwrite
row starttls-gone           fault-starttls-gone        5 CRITICAL "TLS handshake[^;]* failed"                          4500 2500 any              starttls,slowwrite,verdict
# The same failures with the other TLS library (plugins/tls.c).
row tls-silent-openssl      fault-tls-silent           2 CRITICAL "no answer from .* within @T@ s, $TLS_HANDSHAKE"      3000 1900 any              tls,openssl
row tls-plaintext-openssl   fault-tls-plaintext        5 CRITICAL "TLS handshake with .* failed: error:"                    2000 0    any              tls,vg,openssl
row starttls-garbage-openssl fault-starttls-garbage    5 CRITICAL "TLS handshake[^;]* failed: error:"                       2000 0    any              starttls,verdict,openssl
row starttls-alert-openssl  fault-starttls-alert       5 CRITICAL "TLS handshake[^;]* failed: error:"                       2000 0    any              starttls,verdict,openssl
row starttls-close-openssl  fault-starttls-close       5 CRITICAL "TLS handshake[^;]* (failed|closed)|closed[^;]* TLS handshake" 2000 0 any      starttls,verdict,openssl
row tls-gone-openssl        fault-tls-gone             5 CRITICAL "TLS handshake[^;]* failed"                          4500 2500 any              tls,slowwrite,openssl

# ---- running one case ------------------------------------------------

STATE_CODES=([0]=OK [1]=WARNING [2]=CRITICAL [3]=UNKNOWN)

state_code() {
	local i
	for i in 0 1 2 3; do
		if [ "${STATE_CODES[i]}" = "$1" ]; then
			echo "$i"
			return 0
		fi
	done
	return 1
}

# 1 if the loopback has IPv6 (a peer can bind ::1). Takes a second; each
# v6 case asks on its own, in its own subshell, beside the other cases.
HAVE_IPV6=
have_ipv6() {
	if [ -z "$HAVE_IPV6" ]; then
		if "$PEER" --script "$PEERS_DIR/fault-silent.txt" --listen ::1 --connections 0 \
			--max-seconds 1 --port-file "$CASE_DIR/ipv6-probe.port" 2>/dev/null; then
			HAVE_IPV6=1
		else
			HAVE_IPV6=0
		fi
	fi
	[ "$HAVE_IPV6" = 1 ]
}

# The perfdata of the first line is well formed (as lib.sh's
# expect_perfdata_wellformed) and starts with the labels of the plugin's
# contract; with TLS (TLS=1) more labels may follow (time_tls...).
expect_perfdata_shape() {
	local tls=$1 base
	perfdata_labels || return 0
	base="${PERF_LABELS[*]:0:7}"
	if [ "$base" != "$PERF_CONTRACT" ]; then
		fail "perfdata labels are '${PERF_LABELS[*]}', expected '$PERF_CONTRACT' first"
	elif [ ${#PERF_LABELS[@]} -gt 7 ] && [ "$tls" != 1 ]; then
		fail "perfdata labels are '${PERF_LABELS[*]}', expected only '$PERF_CONTRACT' without TLS"
	fi
}

# The checks every case shares, after the plugin ran.
common_fault_checks() {
	local target=$1 verdict=$2 tls=$3 len bad

	if [ "$RC" -gt 3 ] && [ "$RC" -ne 124 ] && [ "$RC" -ne 137 ]; then
		if [ "$RC" -eq "$VALGRIND_ERROR_RC" ] && [ -n "$PLUGIN_PREFIX" ]; then
			fail "valgrind found errors (exit $RC)"
		elif [ "$RC" -gt 128 ]; then
			fail "the plugin crashed: killed by signal $((RC - 128)) (SIG$(kill -l $((RC - 128)) 2>/dev/null))"
		else
			fail "the plugin crashed: exit code $RC is not a plugin state"
		fi
	fi
	if [ -z "$FIRST" ]; then
		fail "no output"
		return
	fi
	len=${#FIRST}
	[ "$len" -le "$FIRST_LINE_MAX" ] || fail "the first line is $len octets long, at most $FIRST_LINE_MAX expected"
	if [ "$verdict" != 1 ]; then
		[[ $FIRST == *"$target"* ]] || fail "the first line does not name the server ($target)"
	fi
	expect_perfdata_shape "$tls"
	bad=$(LC_ALL=C grep -n '[^ -~]' "$OUT" | head -n 1)
	[ -z "$bad" ] || fail "unescaped octets in the output, line $(LC_ALL=C cat -v <<<"$bad")"
}

# What the plugin said must be SENT ("-", "any" or "EHLO,HELO,QUIT"...).
check_sent() {
	local sent=$1 want=() w
	[ "$sent" = any ] && return 0
	if [ "$sent" != "-" ]; then
		IFS=, read -ra want <<<"$sent"
	fi
	for ((w = 0; w < ${#want[@]}; w++)); do
		case ${want[w]} in
		EHLO | HELO) want[w]="${want[w]} probe\\.example\\.net" ;;
		esac
	done
	expect_client_lines "${want[@]}"
}

# run_row I VALGRIND: run row I, under valgrind if VALGRIND is 1. Prints the
# case's result lines.
run_row() {
	local i=$1 vg=$2 name=${ROW_NAME[$1]} t=${ROW_T[$1]} state=${ROW_STATE[$1]}
	local flags=",${ROW_FLAGS[$1]}," code bound host family=() target vglog summary args=()
	local max=${ROW_MAX[$1]} min=${ROW_MIN[$1]} phrase

	[ "$vg" = 1 ] && name=$name-valgrind
	case_begin "$name"
	if [[ $flags == *,v6,* ]] && ! have_ipv6; then
		case_skip "no IPv6 loopback here"
		return
	fi
	if [[ $flags == *,starttls,* ]] || [[ $flags == *,tls,* ]]; then
		if [ "$HAVE_TLS" != 1 ]; then
			case_skip "the plugin has no -S/--tls"
			return
		fi
		[[ $flags == *,starttls,* ]] && args+=(-S)
		[[ $flags == *,tls,* ]] && args+=(--tls)
	fi
	local -x CHECK_SMTP_FIXUP_TLS=
	[[ $flags == *,openssl,* ]] && CHECK_SMTP_FIXUP_TLS=openssl
	if [[ $flags == *,slowwrite,* ]]; then
		if [ "$vg" = 1 ]; then
			case_skip "not under valgrind (strace holds its writes)"
			return
		fi
		if [ "$HAVE_STRACE" != 1 ]; then
			case_skip "no working strace here"
			return
		fi
		PLUGIN_PREFIX="strace -o /dev/null -e trace=write -e inject=write:delay_enter=$((SLOW_WRITE_MS * 1000)):when=1"
	fi
	if [ "$vg" = 1 ]; then
		if ! command -v valgrind >/dev/null; then
			case_skip "valgrind is not installed"
			return
		fi
		if [ ${#args[@]} -gt 0 ]; then
			t=$((t + VALGRIND_TLS_EXTRA))
			max=$((max + VALGRIND_TLS_EXTRA * 1000))
			[ "$min" -gt 0 ] && min=$((min + VALGRIND_TLS_EXTRA * 1000))
		fi
		local PLUGIN=$PLUGIN_DYNAMIC # memcheck needs a dynamic binary (lib.sh)
		vglog=$CASE_DIR/valgrind.log
		PLUGIN_PREFIX="valgrind -q --error-exitcode=$VALGRIND_ERROR_RC --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite --log-file=$vglog"
		TIME_SLACK_MS=$((TIME_SLACK_MS + VALGRIND_SLACK_MS))
	fi
	code=$(state_code "$state") || {
		fail "bad state '$state' in the table"
		case_end
		return
	}
	host=127.0.0.1
	if [[ $flags == *,v6,* ]]; then
		host=::1
		family=(-6)
		peer_start "${ROW_SCRIPT[i]}" --listen ::1 || {
			case_end
			return
		}
		target="[::1]:$PEER_PORT"
	else
		peer_start "${ROW_SCRIPT[i]}" || {
			case_end
			return
		}
		target="127.0.0.1:$PEER_PORT"
	fi
	# killed 1 s after the bound: the elapsed check reports the overrun
	bound=$(((max + 999) / 1000 + 1))
	run_plugin "$bound" "${family[@]}" -H "$host" -p "$PEER_PORT" -F "$FQDN" -t "$t" "${args[@]}"
	peer_finish
	common_fault_checks "$target" "$([[ $flags == *,verdict,* ]] && echo 1)" "$([ ${#args[@]} -gt 0 ] && echo 1)"
	expect_rc "$code"
	summary=${FIRST%%|*}
	if [[ $summary == "SMTP FIXUP $state - "* ]]; then
		summary=${summary#"SMTP FIXUP $state - "}
		phrase=${ROW_PHRASE[i]//@T@/$t}
		[[ $summary =~ $phrase ]] || fail "the summary does not match /$phrase/"
	else
		fail "the first line does not start with 'SMTP FIXUP $state - '"
	fi
	expect_elapsed_max "$max"
	expect_elapsed_min "$min"
	check_sent "${ROW_SENT[i]}"
	if [ -n "$vglog" ] && [ -s "$vglog" ]; then
		fail "valgrind: $(grep -m1 -E 'Invalid|uninitiali|definitely|ERROR SUMMARY|Mismatched|overlap' "$vglog" || head -n 1 "$vglog")"
		case_end
		sed 's/^/#   valgrind: /' "$vglog" | head -n 60
		return
	fi
	case_end
}

# ---- the run -----------------------------------------------------------

# The cases asked for: (row, valgrind) pairs.
JOB_ROW=() JOB_VG=()
add_jobs() {
	local i=$1
	case $FAULTS_VALGRIND in
	all)
		JOB_ROW+=("$i")
		JOB_VG+=(1)
		;;
	some)
		JOB_ROW+=("$i")
		JOB_VG+=(0)
		if [[ ,${ROW_FLAGS[i]}, == *,vg,* ]]; then
			JOB_ROW+=("$i")
			JOB_VG+=(1)
		fi
		;;
	none)
		JOB_ROW+=("$i")
		JOB_VG+=(0)
		;;
	esac
}

if [ $# -gt 0 ]; then
	for want in "$@"; do
		found=
		for ((i = 0; i < ${#ROW_NAME[@]}; i++)); do
			if [ "${ROW_NAME[i]}" = "$want" ]; then
				add_jobs "$i"
				found=1
			fi
		done
		if [ -z "$found" ]; then
			echo "no such case: $want" >&2
			exit 99
		fi
	done
else
	for ((i = 0; i < ${#ROW_NAME[@]}; i++)); do
		add_jobs "$i"
	done
fi

# slowwrite cases need strace, allowed to trace here.
HAVE_STRACE=0
if [ "$FAULTS_ASAN" = 0 ] && strace -o /dev/null true >/dev/null 2>&1; then
	HAVE_STRACE=1
fi
# TLS cases need a plugin that offers -S and --tls.
HAVE_TLS=0
if "$PLUGIN" --help 2>/dev/null | grep -q -e '--starttls' && "$PLUGIN" --help 2>/dev/null | grep -q -e '--tls\b'; then
	HAVE_TLS=1
fi

# Each case runs in a subshell of its own, its result lines into a file;
# the files are printed in table order at the end. A subshell's variables
# (FAILS, PEER_PID, PLUGIN_PREFIX...) are its own, so cases do not disturb
# each other. Most cases wait on sockets, so FAULTS_JOBS of them run at
# once; valgrind keeps a CPU busy, so with FAULTS_VALGRIND=some the
# valgrind runs go one after the other in a lane of their own beside them.
RESULTS=$WORK/results
mkdir -p "$RESULTS"
t_start=$(now_ms)
pool=()
lane=()
# The cases that wait (for the timeout, or a held write) start first, so
# that the quick ones fill the time meanwhile.
for pass in wait quick; do
	for ((j = 0; j < ${#JOB_ROW[@]}; j++)); do
		if [ "${ROW_MIN[JOB_ROW[j]]}" -gt 0 ]; then
			[ "$pass" = wait ] || continue
		else
			[ "$pass" = quick ] || continue
		fi
		if [ "$FAULTS_VALGRIND" = some ] && [ "${JOB_VG[j]}" = 1 ]; then
			lane+=("$j")
		else
			pool+=("$j")
		fi
	done
done
if [ ${#lane[@]} -gt 0 ]; then
	(
		for j in "${lane[@]}"; do
			(run_row "${JOB_ROW[j]}" "${JOB_VG[j]}" >"$RESULTS/$j" 2>&1)
		done
	) &
	BG_PIDS+=("$!")
fi
running=0
for j in "${pool[@]}"; do
	if [ "$running" -ge "$FAULTS_JOBS" ]; then
		wait -n
		running=$((running - 1))
	fi
	(run_row "${JOB_ROW[j]}" "${JOB_VG[j]}" >"$RESULTS/$j" 2>&1) &
	BG_PIDS+=("$!")
	running=$((running + 1))
done
wait
t_end=$(now_ms)
BG_PIDS=()

for ((j = 0; j < ${#JOB_ROW[@]}; j++)); do
	f=$RESULTS/$j
	if [ ! -s "$f" ]; then
		echo "not ok ${ROW_NAME[JOB_ROW[j]]}: the case printed nothing (the runner failed)"
		TESTS_FAILED=$((TESTS_FAILED + 1))
		continue
	fi
	cat "$f"
	if grep -q '^ok .* # SKIP' "$f"; then
		TESTS_SKIPPED=$((TESTS_SKIPPED + 1))
	elif grep -q '^ok ' "$f"; then
		TESTS_PASSED=$((TESTS_PASSED + 1))
	else
		TESTS_FAILED=$((TESTS_FAILED + 1))
	fi
done
echo "# ${#JOB_ROW[@]} cases in $(((t_end - t_start) / 1000)).$(((t_end - t_start) % 1000 / 100)) s (FAULTS_VALGRIND=$FAULTS_VALGRIND, FAULTS_JOBS=$FAULTS_JOBS)"
finish

# tests/lib.sh - helpers for tests that run the built plugin against
# scripted peers (tests/smtp-peer) on loopback. Source it from bash.
#
# A suite is a row table, case functions, or both (see "running a suite"
# below); run_suite "$@" runs them and finish ends the suite. A case
# function looks like:
#   case_begin NAME
#   peer_start SCRIPT [smtp-peer options...]   # sets PEER_PORT, PEER_LOG
#   probe [plugin options...]                  # -H 127.0.0.1 -p PORT -F ... added
#   peer_finish                                # waits for the peer, sets PEER_RC
#   expect_rc 2
#   expect_first 'CRITICAL - .*masked'
#   expect_perf masked_extensions 2
#   expect_log '^C: QUIT$'
#   case_end
# (run_suite calls case_begin and case_end around each case_NAME itself).
# Each expect_* records a failure reason instead of stopping, so a case
# reports everything that went wrong. case_end prints "ok NAME" or
# "not ok NAME: reason" and the details as "# " lines; finish prints
# "N passed, M failed" and gives the exit status.
#
# Environment: top_srcdir and top_builddir (set by make check); PLUGIN and
# PEER may be set to run other binaries; PLUGIN_PREFIX is put before the
# plugin (e.g. "valgrind -q --error-exitcode=97 --log-file=FILE");
# TIME_SLACK_MS is added to every time bound (slow runs such as valgrind);
# KEEP_TMP=1 keeps the work folder; ROWS_VALGRIND and ROWS_JOBS steer the
# row table (see run_rows).
# Every process started here is killed (by its pid) on exit.

: "${top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${PLUGIN:=$top_builddir/plugins/check_smtp_fixup}"
: "${PEER:=$top_builddir/tests/smtp-peer}"
PEERS_DIR=$top_srcdir/tests/peers
# This file, to tell its own functions from a suite's.
LIB_SH=${BASH_SOURCE[0]}
: "${PLUGIN_PREFIX:=}"
: "${TIME_SLACK_MS:=0}"

# The EHLO name the plugin is told to use; pix scripts echo it.
FQDN=probe.example.net
# Default plugin timeout (-t) for probe, and the wrapper's bound on top.
T=5
# Seconds a peer may live (its --max-seconds).
PEER_SECONDS=15
# Seconds a peer may take to end once the plugin has ended.
PEER_FINISH_SECONDS=5

TESTS_PASSED=0
TESTS_FAILED=0
TESTS_SKIPPED=0
BG_PIDS=()

WORK=$(mktemp -d "${TMPDIR:-/tmp}/smtp-fixup-tests.XXXXXX") || {
	echo "cannot make a work folder" >&2
	exit 99
}

# Kill what we started (each by its own pid), then remove the work folder.
# require_built FILE...: stop the suite (hard error, 99) if a program is missing.
require_built() {
	local bin
	for bin in "$@"; do
		if [ ! -x "$bin" ]; then
			echo "not built: $bin" >&2
			exit 99
		fi
	done
}

# kill_bg_pids: kill each process of BG_PIDS by its pid, wait for them all,
# empty the list.
kill_bg_pids() {
	local pid
	for pid in "${BG_PIDS[@]}"; do
		kill "$pid" 2>/dev/null
	done
	for pid in "${BG_PIDS[@]}"; do
		wait "$pid" 2>/dev/null
	done
	BG_PIDS=()
}

lib_cleanup() {
	kill_bg_pids
	if [ "${KEEP_TMP:-0}" = 1 ]; then
		echo "# work folder kept: $WORK" >&2
	else
		rm -rf "$WORK"
	fi
}
trap lib_cleanup EXIT
trap 'exit 130' INT TERM HUP

# Monotonic enough: milliseconds since the epoch.
now_ms() {
	local ns
	ns=$(date +%s%N)
	echo $((ns / 1000000))
}

# A decimal number ("1", "0.25", "12.5") in thousandths, on stdout; fails
# for anything else.
to_milli() {
	local v=$1 int frac
	[[ $v =~ ^([0-9]*)(\.([0-9]*))?$ ]] || return 1
	int=${BASH_REMATCH[1]:-0}
	frac=${BASH_REMATCH[3]}000
	frac=${frac:0:3}
	echo $((10#$int * 1000 + 10#$frac))
}

# ---- a case ----------------------------------------------------------

# Start a case: a folder of its own, no failures yet.
case_begin() {
	CASE=$1
	CASE_DIR=$WORK/$CASE
	mkdir -p "$CASE_DIR"
	FAILS=()
	PEER_PID=
	PEER_PORT=
	PEER_LOG=
	PEER_RC=
	RC=
	FIRST=
	OUT=$CASE_DIR/plugin.out
	: >"$OUT"
}

# Record a failure reason.
fail() {
	FAILS+=("$*")
}

# End the case: the peer is stopped if still there, then one line.
case_end() {
	local f
	if [ -n "$PEER_PID" ]; then
		peer_finish
	fi
	if [ ${#FAILS[@]} -eq 0 ]; then
		echo "ok $CASE"
		TESTS_PASSED=$((TESTS_PASSED + 1))
		CASE=
		return 0
	fi
	echo "not ok $CASE: ${FAILS[0]}"
	for f in "${FAILS[@]:1}"; do
		echo "#   also: $f"
	done
	echo "#   first line: $FIRST"
	echo "#   exit code: $RC"
	if [ -s "$OUT" ]; then
		sed 's/^/#   plugin: /' "$OUT" | head -n 40
	fi
	if [ -n "$PEER_LOG" ] && [ -s "$PEER_LOG" ]; then
		sed 's/^/#   peer: /' "$PEER_LOG" | head -n 60
	fi
	TESTS_FAILED=$((TESTS_FAILED + 1))
	CASE=
	return 1
}

# A case that cannot run here; counted apart.
case_skip() {
	echo "ok $CASE # SKIP $*"
	TESTS_SKIPPED=$((TESTS_SKIPPED + 1))
	CASE=
}

# The summary line and the exit status of the whole run.
finish() {
	if [ "$TESTS_SKIPPED" -gt 0 ]; then
		echo "# $TESTS_SKIPPED skipped"
	fi
	echo "$TESTS_PASSED passed, $TESTS_FAILED failed"
	# a suite cut short by a shell error has not passed
	local ran=$((TESTS_PASSED + TESTS_FAILED + TESTS_SKIPPED))
	if [ "$ran" -eq 0 ] || [ "$ran" -lt "${SUITE_WANTED:-0}" ]; then
		echo "not ok: $ran cases ended, ${SUITE_WANTED:-some} expected: the suite was cut short"
		return 1
	fi
	[ "$TESTS_FAILED" -eq 0 ]
}

# ---- the peer --------------------------------------------------------

# wait_port_file FILE PID [ROUNDS]: wait until the helper PID, started in
# the background with --port-file FILE, has written its port: true once
# FILE is not empty; false if PID ends first or after ROUNDS (default 100)
# rounds of 50 ms.
wait_port_file() {
	local file=$1 pid=$2 rounds=${3:-100} i
	for ((i = 0; i < rounds; i++)); do
		[ -s "$file" ] && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# peer_start SCRIPT [smtp-peer options...]: start a peer on
# tests/peers/SCRIPT.txt (or a path) and wait until it listens.
peer_start() {
	local script=$1
	shift
	case $script in
	*/*) ;;
	*) script=$PEERS_DIR/$script.txt ;;
	esac
	PEER_LOG=$CASE_DIR/peer.log
	local portfile=$CASE_DIR/peer.port
	rm -f "$portfile"
	"$PEER" --script "$script" --port-file "$portfile" --log "$PEER_LOG" \
		--max-seconds "$PEER_SECONDS" "$@" 2>"$CASE_DIR/peer.err" &
	PEER_PID=$!
	BG_PIDS+=("$PEER_PID")
	if wait_port_file "$portfile" "$PEER_PID"; then
		PEER_PORT=$(cat "$portfile")
		return 0
	fi
	fail "the peer did not start: $(head -c 300 "$CASE_DIR/peer.err")"
	PEER_PORT=1
	return 1
}

# Wait (at most PEER_FINISH_SECONDS) for the peer to end; PEER_RC gets its
# exit status. A peer still running is killed and that is a failure, and
# so is a peer that failed (exit 2 or a signal: a bad script, a crash).
peer_finish() {
	local limit=$PEER_FINISH_SECONDS i
	[ -n "$PEER_PID" ] || return 0
	for ((i = 0; i < limit * 20; i++)); do
		kill -0 "$PEER_PID" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$PEER_PID" 2>/dev/null; then
		kill "$PEER_PID" 2>/dev/null
		fail "the peer was still running ${limit}s after the plugin ended"
	fi
	wait "$PEER_PID" 2>/dev/null
	PEER_RC=$?
	if [ "$PEER_RC" -ge 2 ]; then
		fail "the peer failed (exit $PEER_RC): $(head -c 300 "$CASE_DIR/peer.err")"
	fi
	PEER_PID=
}

# free_port: PORT gets a port that was free on loopback (held a moment on
# 127.0.0.9 by a peer that refuses connections, then released for the
# servers of the case).
free_port() {
	peer_start silent --listen 127.0.0.9 --connections 0
	# shellcheck disable=SC2034 # for the suite
	PORT=$PEER_PORT
	kill "$PEER_PID" 2>/dev/null
	wait "$PEER_PID" 2>/dev/null
	PEER_PID=
}

# ---- the plugin ------------------------------------------------------

# run_plugin BOUND ARGS...: run the plugin, killed after BOUND seconds.
# Sets RC, FIRST (first line of stdout), ELAPSED_MS; stdout in $OUT.
run_plugin() {
	local bound=$1 t0 t1
	shift
	t0=$(now_ms)
	# shellcheck disable=SC2086 # PLUGIN_PREFIX is a command line
	timeout -k 1 $((bound + (TIME_SLACK_MS + 999) / 1000)) $PLUGIN_PREFIX "$PLUGIN" "$@" >"$OUT" 2>"$CASE_DIR/plugin.err" </dev/null
	RC=$?
	t1=$(now_ms)
	ELAPSED_MS=$((t1 - t0))
	FIRST=$(head -n 1 "$OUT")
	if [ "$RC" -eq 124 ] || [ "$RC" -eq 137 ]; then
		fail "the plugin was still running after ${bound}s and was killed"
	fi
	if [ -s "$CASE_DIR/plugin.err" ]; then
		fail "the plugin wrote to stderr: $(head -c 200 "$CASE_DIR/plugin.err")"
	fi
}

# probe [ARGS...]: run the plugin against the current peer, with -t $T and
# a bound of $T + 2 seconds.
probe() {
	run_plugin $((T + 2)) -H 127.0.0.1 -p "$PEER_PORT" -F "$FQDN" -t "$T" "$@"
}

# ---- assertions ------------------------------------------------------

expect_rc() {
	[ "$RC" = "$1" ] || fail "exit code $RC, expected $1"
}

# The first line, without its perfdata, matches an extended regular
# expression (or, for expect_first_not, does not).
# 0 if some finding of the long output ("[STATE] summary") matches.
said_in_findings() {
	local line
	while IFS= read -r line; do
		[[ $line =~ ^\[[A-Z]+\]\ (.*)$ ]] || continue
		[[ ${BASH_REMATCH[1]} =~ $1 ]] && return 0
	done <"$OUT"
	return 1
}

expect_first() {
	local st line
	[[ ${FIRST%%|*} =~ $1 ]] && return 0
	# The status line leads with the conclusion and lists the findings in
	# short; each finding's whole summary is in the long output ("[STATE]
	# summary"). A pattern written for a summary matches the status line as
	# that one finding's summary would make it.
	st=${FIRST%% - *}
	while IFS= read -r line; do
		[[ $line =~ ^\[[A-Z]+\]\ (.*)$ ]] || continue
		[[ "$st - ${BASH_REMATCH[1]}" =~ $1 ]] && return 0
	done <"$OUT"
	fail "first line does not match /$1/"
}

expect_first_not() {
	[[ ${FIRST%%|*} =~ $1 ]] && fail "first line matches /$1/ but should not"
	return 0
}

# Some line of the whole output matches.
expect_output() {
	grep -Eq -- "$1" "$OUT" || fail "no output line matches /$1/"
}

# No line of the whole output matches.
expect_output_not() {
	if grep -Eq -- "$1" "$OUT"; then
		fail "an output line matches /$1/: $(grep -Em1 -- "$1" "$OUT")"
	fi
	return 0
}

# The value of a perfdata label of the first line, on stdout (no UOM).
perf_value() {
	local label=$1 perf item l v items
	[[ $FIRST == *"|"* ]] || return 1
	perf=${FIRST#*|}
	read -ra items <<<"$perf"
	for item in "${items[@]}"; do
		l=${item%%=*}
		l=${l#\'}
		l=${l%\'}
		if [ "$l" = "$label" ]; then
			v=${item#*=}
			v=${v%%;*}
			if [[ $v == U* ]]; then
				echo U
				return 0
			fi
			v=${v%%[!0-9.]*}
			echo "$v"
			return 0
		fi
	done
	return 1
}

# expect_perf LABEL VALUE: exact value (compared as decimal numbers).
expect_perf() {
	local v want got
	if ! v=$(perf_value "$1"); then
		fail "no perfdata label $1"
		return
	fi
	if [ "$2" = U ] || [ "$v" = U ]; then
		[ "$v" = "$2" ] || fail "perfdata $1=$v, expected $2"
		return
	fi
	want=$(to_milli "$2")
	if ! got=$(to_milli "$v"); then
		fail "perfdata $1=$v is not a number"
	elif [ "$got" != "$want" ]; then
		fail "perfdata $1=$v, expected $2"
	fi
}

# expect_perf_range LABEL MIN MAX: MIN <= value <= MAX.
expect_perf_range() {
	local v got lo hi
	if ! v=$(perf_value "$1"); then
		fail "no perfdata label $1"
		return
	fi
	lo=$(to_milli "$2")
	hi=$(to_milli "$3")
	if [[ $1 == time* ]]; then
		hi=$((hi + TIME_SLACK_MS))
	fi
	if ! got=$(to_milli "$v"); then
		fail "perfdata $1=$v is not a number"
	elif [ "$got" -lt "$lo" ] || [ "$got" -gt "$hi" ]; then
		fail "perfdata $1=$v, expected from $2 to $3"
	fi
}

# The perfdata labels of the plugin's contract, in order.
PERF_CONTRACT="time time_connect time_banner time_ehlo extensions masked_extensions banner_masked"

# perfdata_labels: each perfdata item of the first line is well formed
# (label=value[UOM];[warn];[crit];[min];[max]), a failure recorded for
# each that is not; PERF_LABELS gets the labels of the good ones, in order.
# False (a failure recorded) if the first line has no perfdata.
perfdata_labels() {
	local perf item items
	# value: a number or U (undetermined, monitoring-plugins guidelines)
	local re="^'?([a-z_]+)'?=([0-9]+(\.[0-9]+)?|U)(s|us|ms|%|B|KB|MB|TB|c)?(;[0-9.:~@-]*){0,4}$"
	PERF_LABELS=()
	if [[ $FIRST != *"|"* ]]; then
		fail "no perfdata on the first line"
		return 1
	fi
	perf=${FIRST#*|}
	read -ra items <<<"$perf"
	for item in "${items[@]}"; do
		if [[ $item =~ $re ]]; then
			PERF_LABELS+=("${BASH_REMATCH[1]}")
		else
			fail "malformed perfdata item: $item"
		fi
	done
}

# The perfdata has exactly the labels of the plugin's contract, each well
# formed.
expect_perfdata_wellformed() {
	perfdata_labels || return 0
	[ "${PERF_LABELS[*]}" = "$PERF_CONTRACT" ] || fail "perfdata labels are '${PERF_LABELS[*]}', expected '$PERF_CONTRACT'"
}

# The plugin ended within MS milliseconds.
expect_elapsed_max() {
	[ "$ELAPSED_MS" -le $(($1 + TIME_SLACK_MS)) ] || fail "took ${ELAPSED_MS} ms, at most $1 ms (+${TIME_SLACK_MS}) expected"
}

expect_elapsed_min() {
	[ "$ELAPSED_MS" -ge "$1" ] || fail "took ${ELAPSED_MS} ms, at least $1 ms expected"
}

# The peer log has a line matching the regex / none / exactly N.
expect_log() {
	grep -Eq -- "$1" "$PEER_LOG" 2>/dev/null || fail "peer log has no line matching /$1/"
}

expect_no_log() {
	if grep -Eq -- "$1" "$PEER_LOG" 2>/dev/null; then
		fail "peer log has a line matching /$1/: $(grep -Em1 -- "$1" "$PEER_LOG")"
	fi
}

expect_log_count() {
	local n
	n=$(grep -Ec -- "$1" "$PEER_LOG" 2>/dev/null)
	[ "${n:-0}" = "$2" ] || fail "peer log has ${n:-0} lines matching /$1/, expected $2"
}

# What the client sent, in order, equals the arguments (each an extended
# regex matched against one "C: " line, whole).
expect_client_lines() {
	local got=() want=("$@") i line
	while IFS= read -r line; do
		got+=("${line#C: }")
	done < <(grep '^C: ' "$PEER_LOG" 2>/dev/null)
	if [ ${#got[@]} -ne ${#want[@]} ]; then
		fail "the plugin sent ${#got[@]} lines (${got[*]}), expected ${#want[@]}"
		return
	fi
	for ((i = 0; i < ${#want[@]}; i++)); do
		[[ ${got[i]} =~ ^(${want[i]})$ ]] || fail "line $((i + 1)) sent was '${got[i]}', expected /${want[i]}/"
	done
}

expect_peer_rc() {
	[ "$PEER_RC" = "$1" ] || fail "the peer exited with $PEER_RC, expected $1 (its expectations: $(grep -m1 MISMATCH "$PEER_LOG" 2>/dev/null))"
}

# 1 if the loopback has IPv6 (a peer can bind ::1). Takes a second; asked
# once per shell (each row of the table runs in a subshell of its own).
HAVE_IPV6=
have_ipv6() {
	if [ -z "$HAVE_IPV6" ]; then
		if "$PEER" --script "$PEERS_DIR/silent.txt" --listen ::1 --connections 0 \
			--max-seconds 1 --port-file "$CASE_DIR/ipv6-probe.port" 2>/dev/null; then
			HAVE_IPV6=1
		else
			HAVE_IPV6=0
		fi
	fi
	[ "$HAVE_IPV6" = 1 ]
}

# ---- running a suite -------------------------------------------------
#
# A suite's cases are found by name, never listed by hand:
#  - every function case_NAME the suite defines is a case (NAME with _ for
#    -), run in the order of the suite's file between case_begin and
#    case_end; a case may end itself and begin another (case_end;
#    case_begin OTHER), but a case that can be named alone is better;
#  - every row of the suite's table (row, below) is a case.
# run_suite [NAME...] runs the rows, then the functions; with NAMEs, only
# those (a row's or a function's name, - and _ alike); an unknown name
# stops the suite (exit 99).

# The case name of function case_NAME: CASE_PREFIX, then NAME with each _
# replaced by CASE_SEP.
: "${CASE_PREFIX:=}"
: "${CASE_SEP:=-}"

# case_functions: the NAMEs of the suite's case_NAME functions (not this
# file's case_begin...), in the order they are defined, one a line.
case_functions() {
	(
		shopt -s extdebug
		for f in $(compgen -A function case_); do
			declare -F "$f"
		done
	) | while read -r f line file; do
		[ "$file" = "$LIB_SH" ] || echo "$line ${f#case_}"
	done | sort -n | cut -d' ' -f2
}

# run_cases NAME...: run the case functions case_NAME, each as a case.
run_cases() {
	local c
	for c in "$@"; do
		case_begin "$CASE_PREFIX${c//_/$CASE_SEP}"
		"case_$c"
		if [ -n "$CASE" ]; then
			case_end
		fi
	done
}

run_suite() {
	local want w i found funcs=() rows=() all_funcs
	mapfile -t all_funcs < <(case_functions)
	if [ $# -eq 0 ]; then
		for ((i = 0; i < ${#ROW_NAME[@]}; i++)); do
			rows+=("$i")
		done
		funcs=("${all_funcs[@]}")
	else
		for want in "$@"; do
			w=${want//_/-}
			found=
			for ((i = 0; i < ${#ROW_NAME[@]}; i++)); do
				if [ "${ROW_NAME[i]//_/-}" = "$w" ]; then
					rows+=("$i")
					found=1
				fi
			done
			for i in "${all_funcs[@]}"; do
				if [ "${i//_/-}" = "$w" ]; then
					funcs+=("$i")
					found=1
				fi
			done
			if [ -z "$found" ]; then
				echo "no such case: $want" >&2
				exit 99
			fi
		done
	fi
	# each row and case function ends at least one case: fewer at the end
	# means a shell error cut the suite short (finish says so)
	SUITE_WANTED=$((${#rows[@]} + ${#funcs[@]}))
	if [ ${#rows[@]} -gt 0 ]; then
		run_rows "${rows[@]}"
	fi
	run_cases "${funcs[@]}"
}

# ---- the row table ---------------------------------------------------
#
# row NAME SCRIPT T STATE PHRASE MAX_MS MIN_MS SENT [FLAGS [MORE...]]
#   NAME    the case's name
#   SCRIPT  tests/peers/SCRIPT.txt, played by a peer on loopback
#   T       the plugin's -t
#   STATE   OK, WARNING, CRITICAL or UNKNOWN: the exit code, and the first
#           line starts with "SMTP FIXUP STATE - "
#   PHRASE  an extended regex the summary (the first line without its
#           perfdata, after "SMTP FIXUP STATE - ") must match; "@T@" in it
#           stands for the -t given (valgrind runs of TLS rows get a longer
#           one: loading and starting TLS under valgrind takes seconds)
#   MAX_MS  the plugin must end within this (wall time, ms); "-" no bound
#           but the kill after T + 2 s
#   MIN_MS  and not before this (a slow peer is given the whole timeout)
#   SENT    what the plugin must have said, in order, from the peer's log:
#           "-" nothing, "EHLO,QUIT" and so on; "any" not checked (the
#           peer may be busy sending and not read)
#   FLAGS   comma-separated, "" for none: v6 (peer on ::1, plugin with
#           -6 -H ::1), vg (also run under valgrind with ROWS_VALGRIND=some),
#           starttls (plugin with -S), tls (plugin with --tls); the last
#           two are skipped if the plugin's --help does not offer them;
#           slowwrite (the plugin's first write() is held SLOW_WRITE_MS by
#           strace, so that the peer is gone when it comes; skipped
#           without a working strace and under valgrind); openssl (the
#           plugin's TLS library forced to OpenSSL, CHECK_SMTP_FIXUP_TLS;
#           the other TLS rows take the default, GnuTLS); a suite may give
#           other flags a meaning in its row_checks
#   MORE    more of the plugin's options and more expectations, each one
#           word KIND=VALUE:
#             args=OPTIONS          more plugin options (split at blanks)
#             perf=LABEL=VALUE      expect_perf LABEL VALUE
#             perf_range=LABEL:MIN:MAX   expect_perf_range
#             output=RE, first_not=RE, log=RE, no_log=RE
#                                   expect_output, expect_first_not,
#                                   expect_log, expect_no_log
#             log_count=N:RE        expect_log_count RE N
#             peer_rc=N             expect_peer_rc N
# A suite may define row_checks TARGET FLAGS TLS: checks of its own after
# each row's run (TARGET the server as the plugin names it, FLAGS the
# row's with commas around, TLS 1 if the row used -S or --tls).
ROW_NAME=() ROW_SCRIPT=() ROW_T=() ROW_STATE=() ROW_PHRASE=() ROW_MAX=() ROW_MIN=()
ROW_SENT=() ROW_FLAGS=() ROW_MORE=()
row() {
	local more=() m
	ROW_NAME+=("$1")
	ROW_SCRIPT+=("$2")
	ROW_T+=("$3")
	ROW_STATE+=("$4")
	ROW_PHRASE+=("$5")
	ROW_MAX+=("$6")
	ROW_MIN+=("$7")
	ROW_SENT+=("$8")
	ROW_FLAGS+=("${9:-}")
	shift 9 2>/dev/null || shift $#
	for m in "$@"; do
		case ${m%%=*} in
		args | perf | perf_range | output | first_not | log | no_log | log_count | peer_rc) ;;
		*)
			echo "row ${ROW_NAME[-1]}: unknown item '$m'" >&2
			exit 99
			;;
		esac
		more+=("$m")
	done
	local IFS=$'\x1f'
	ROW_MORE+=("${more[*]}")
}

# ROWS_VALGRIND  none (default): no valgrind; some: every row, then the
#                rows flagged vg once more under valgrind memcheck; all:
#                every row once, under valgrind only. Under valgrind, a
#                memory error or a definite leak fails the case, and time
#                bounds get VALGRIND_SLACK_MS more.
# ROWS_JOBS      rows run at once (default 4; most of them wait on
#                sockets, not on the CPU).
: "${ROWS_VALGRIND:=none}"
: "${ROWS_JOBS:=4}"
# Time valgrind may add to a run of the plugin (start-up, slow code, a
# machine busy with other work).
VALGRIND_SLACK_MS=30000
# Seconds added to -t (and to the time bounds) for a TLS row under
# valgrind.
VALGRIND_TLS_EXTRA=10
# How long strace holds the first write() of a slowwrite row: more than
# the peer lingers after its close (PEER_CLOSE_LINGER_MS, 2 s).
SLOW_WRITE_MS=2600
# Exit status valgrind gives when it found an error.
VALGRIND_ERROR_RC=97

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

# check_more I: the MORE expectations of row I (its args are used before).
check_more() {
	local items=() m kind v l lo hi
	IFS=$'\x1f' read -ra items <<<"${ROW_MORE[$1]}"
	for m in "${items[@]}"; do
		kind=${m%%=*}
		v=${m#*=}
		case $kind in
		args) ;;
		perf) expect_perf "${v%%=*}" "${v#*=}" ;;
		perf_range)
			IFS=: read -r l lo hi <<<"$v"
			expect_perf_range "$l" "$lo" "$hi"
			;;
		log_count) expect_log_count "${v#*:}" "${v%%:*}" ;;
		*) "expect_$kind" "$v" ;;
		esac
	done
}

# row_args I: the args= options of row I, one a line.
row_args() {
	local items=() m a=()
	IFS=$'\x1f' read -ra items <<<"${ROW_MORE[$1]}"
	for m in "${items[@]}"; do
		if [[ $m == args=* ]]; then
			read -ra a <<<"${m#args=}"
			printf '%s\n' "${a[@]}"
		fi
	done
}

# run_row I VALGRIND: run row I, under valgrind if VALGRIND is 1. Prints the
# case's result lines.
run_row() {
	local i=$1 vg=$2 name=${ROW_NAME[$1]} t=${ROW_T[$1]} state=${ROW_STATE[$1]}
	local flags=",${ROW_FLAGS[$1]}," code bound host family=() target vglog summary args=() more=()
	local max=${ROW_MAX[$1]} min=${ROW_MIN[$1]} phrase tls=

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
		tls=1
	fi
	mapfile -t more < <(row_args "$i")
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
		if [ "$tls" = 1 ]; then
			t=$((t + VALGRIND_TLS_EXTRA))
			[ "$max" != - ] && max=$((max + VALGRIND_TLS_EXTRA * 1000))
			[ "$min" -gt 0 ] && min=$((min + VALGRIND_TLS_EXTRA * 1000))
		fi
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
	if [ "$max" = - ]; then
		bound=$((t + 2))
	else
		bound=$(((max + 999) / 1000 + 1))
	fi
	run_plugin "$bound" "${family[@]}" -H "$host" -p "$PEER_PORT" -F "$FQDN" -t "$t" "${args[@]}" "${more[@]}"
	peer_finish
	if declare -F row_checks >/dev/null; then
		row_checks "$target" "$flags" "$tls"
	fi
	expect_rc "$code"
	summary=${FIRST%%|*}
	if [[ $summary == "SMTP FIXUP $state - "* ]]; then
		summary=${summary#"SMTP FIXUP $state - "}
		phrase=${ROW_PHRASE[i]//@T@/$t}
		[[ $summary =~ $phrase ]] || said_in_findings "$phrase" ||
			fail "the summary does not match /$phrase/"
	else
		fail "the first line does not start with 'SMTP FIXUP $state - '"
	fi
	[ "$max" = - ] || expect_elapsed_max "$max"
	expect_elapsed_min "$min"
	check_sent "${ROW_SENT[i]}"
	check_more "$i"
	if [ -n "$vglog" ] && [ -s "$vglog" ]; then
		fail "valgrind: $(grep -m1 -E 'Invalid|uninitiali|definitely|ERROR SUMMARY|Mismatched|overlap' "$vglog" || head -n 1 "$vglog")"
		case_end
		sed 's/^/#   valgrind: /' "$vglog" | head -n 60
		return
	fi
	case_end
}

# run_rows I...: run rows I... (indexes into the table); ROWS_RUN gets the
# number of runs, ROWS_MS the wall time they took.
#
# Each run goes into a subshell of its own, its result lines into a file;
# the files are printed in table order at the end. A subshell's variables
# (FAILS, PEER_PID, PLUGIN_PREFIX...) are its own, so rows do not disturb
# each other. Most rows wait on sockets, so ROWS_JOBS of them run at once;
# valgrind keeps a CPU busy, so with ROWS_VALGRIND=some the valgrind runs
# go one after the other in a lane of their own beside them.
run_rows() {
	local i j f pass running t_start t_end results
	local job_row=() job_vg=() pool=() lane=()

	case $ROWS_VALGRIND in
	some | all | none) ;;
	*)
		echo "ROWS_VALGRIND must be some, all or none, not '$ROWS_VALGRIND'" >&2
		exit 99
		;;
	esac
	if ! [[ $ROWS_JOBS =~ ^[1-9][0-9]?$ ]]; then
		echo "ROWS_JOBS must be a number from 1 to 99, not '$ROWS_JOBS'" >&2
		exit 99
	fi
	# A plugin built with ASan (tools/sanitize-check) runs neither under
	# valgrind (two memory checkers) nor under strace (LeakSanitizer
	# stops when traced): the sanitizers are the memory check there.
	ROWS_ASAN=0
	if grep -qa __asan_init "$PLUGIN"; then
		ROWS_VALGRIND=none
		ROWS_ASAN=1
	fi
	# slowwrite rows need strace, allowed to trace here.
	HAVE_STRACE=0
	if [ "$ROWS_ASAN" = 0 ] && strace -o /dev/null true >/dev/null 2>&1; then
		HAVE_STRACE=1
	fi
	# TLS rows need a plugin that offers -S and --tls.
	HAVE_TLS=0
	if "$PLUGIN" --help 2>/dev/null | grep -q -e '--starttls' && "$PLUGIN" --help 2>/dev/null | grep -q -e '--tls\b'; then
		HAVE_TLS=1
	fi

	# The runs asked for: (row, valgrind) pairs.
	for i in "$@"; do
		case $ROWS_VALGRIND in
		all)
			job_row+=("$i")
			job_vg+=(1)
			;;
		some)
			job_row+=("$i")
			job_vg+=(0)
			if [[ ,${ROW_FLAGS[i]}, == *,vg,* ]]; then
				job_row+=("$i")
				job_vg+=(1)
			fi
			;;
		none)
			job_row+=("$i")
			job_vg+=(0)
			;;
		esac
	done

	results=$WORK/results
	mkdir -p "$results"
	t_start=$(now_ms)
	# The rows that wait (for the timeout, or a held write) start first,
	# so that the quick ones fill the time meanwhile.
	for pass in wait quick; do
		for ((j = 0; j < ${#job_row[@]}; j++)); do
			if [ "${ROW_MIN[job_row[j]]}" -gt 0 ]; then
				[ "$pass" = wait ] || continue
			else
				[ "$pass" = quick ] || continue
			fi
			if [ "$ROWS_VALGRIND" = some ] && [ "${job_vg[j]}" = 1 ]; then
				lane+=("$j")
			else
				pool+=("$j")
			fi
		done
	done
	if [ ${#lane[@]} -gt 0 ]; then
		(
			for j in "${lane[@]}"; do
				(run_row "${job_row[j]}" "${job_vg[j]}" >"$results/$j" 2>&1)
			done
		) &
		BG_PIDS+=("$!")
	fi
	running=0
	for j in "${pool[@]}"; do
		if [ "$running" -ge "$ROWS_JOBS" ]; then
			wait -n
			running=$((running - 1))
		fi
		(run_row "${job_row[j]}" "${job_vg[j]}" >"$results/$j" 2>&1) &
		BG_PIDS+=("$!")
		running=$((running + 1))
	done
	wait
	t_end=$(now_ms)
	BG_PIDS=()

	for ((j = 0; j < ${#job_row[@]}; j++)); do
		f=$results/$j
		if [ ! -s "$f" ]; then
			echo "not ok ${ROW_NAME[job_row[j]]}: the case printed nothing (the runner failed)"
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
	rm -rf "$results"
	# shellcheck disable=SC2034 # for the suite
	ROWS_RUN=${#job_row[@]}
	# shellcheck disable=SC2034 # for the suite
	ROWS_MS=$((t_end - t_start))
}

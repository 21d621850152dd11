# tests/lib.sh - helpers for tests that run the built plugin against
# scripted peers (tests/smtp-peer) on loopback. Source it from bash.
#
# A case looks like:
#   case_begin NAME
#   peer_start SCRIPT [smtp-peer options...]   # sets PEER_PORT, PEER_LOG
#   probe [plugin options...]                  # -H 127.0.0.1 -p PORT -F ... added
#   peer_finish                                # waits for the peer, sets PEER_RC
#   expect_rc 2
#   expect_first 'CRITICAL - .*masked'
#   expect_perf masked_extensions 2
#   expect_log '^C: QUIT$'
#   case_end
# Each expect_* records a failure reason instead of stopping, so a case
# reports everything that went wrong. case_end prints "ok NAME" or
# "not ok NAME: reason" and the details as "# " lines; finish prints
# "N passed, M failed" and gives the exit status.
#
# Environment: top_srcdir and top_builddir (set by make check); PLUGIN and
# PEER may be set to run other binaries; PLUGIN_PREFIX is put before the
# plugin (e.g. "valgrind -q --error-exitcode=97 --log-file=FILE");
# TIME_SLACK_MS is added to every time bound (slow runs such as valgrind);
# KEEP_TMP=1 keeps the work folder.
# Every process started here is killed (by its pid) on exit.

: "${top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${PLUGIN:=$top_builddir/plugins/check_smtp_fixup}"
: "${PEER:=$top_builddir/tests/smtp-peer}"
# The plugin's dynamically linked twin, which a statically linked plugin
# runs for TLS checks (configure.ac); valgrind needs a dynamic binary and
# runs this one. A plugin with a program interpreter is dynamic itself.
if [ -z "${PLUGIN_DYNAMIC:-}" ]; then
	PLUGIN_DYNAMIC=$PLUGIN
	if [ -x "$(dirname "$PLUGIN")/check_smtp_fixup_tls" ] &&
		! LC_ALL=C readelf -lW "$PLUGIN" 2>/dev/null | grep -q INTERP; then
		PLUGIN_DYNAMIC=$(dirname "$PLUGIN")/check_smtp_fixup_tls
	fi
fi
PEERS_DIR=$top_srcdir/tests/peers
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
expect_first() {
	[[ ${FIRST%%|*} =~ $1 ]] || fail "first line does not match /$1/"
}

expect_first_not() {
	[[ ${FIRST%%|*} =~ $1 ]] && fail "first line matches /$1/ but should not"
	return 0
}

# Some line of the whole output matches.
expect_output() {
	grep -Eq -- "$1" "$OUT" || fail "no output line matches /$1/"
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

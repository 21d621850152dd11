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
	# what it compares with, and since when
	expect_first '^SMTP FIXUP WARNING - 127\.0\.0\.1:[0-9]+: 5 extensions gone since the baseline; the same change in 2 more runs in a row makes it the new baseline$'
	expect_output '^\[WARNING\] 5 extensions gone since the last clean run: VRFY, ENHANCEDSTATUSCODES, DSN, SMTPUTF8, CHUNKING \([0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2} UTC\)$'
	# a run with findings does not replace the baseline at once
	check --baseline-changed=critical
	expect_rc 2
	expect_first '^SMTP FIXUP CRITICAL - .*5 extensions gone since the baseline; the same change in 1 more run in a row makes it the new baseline$'
	# the third identical run adopts it: a change made on purpose stops warning
	check
	expect_rc 1
	expect_first '; the same change in 3 runs in a row: it is the baseline from now on$'
	check
	expect_rc 0
	expect_first '^SMTP FIXUP OK - .*no SMTP inspection seen, 5 ESMTP extensions'
}

# A change that is not the same from run to run never becomes the baseline:
# the count starts again.
case_unstable_change() {
	first
	emu_on "$PORT" strip
	check
	expect_first '2 more runs in a row'
	emu_stop
	emu_on "$PORT" asa
	check
	expect_rc 2
	expect_first_not 'runs? in a row'
	emu_stop
	emu_on "$PORT" strip
	check
	expect_rc 1
	expect_first '2 more runs in a row'
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
	# this host's problem decides the state, so it leads the status line
	expect_first "^SMTP FIXUP UNKNOWN - cannot keep the baseline: cannot create $CASE_DIR/a-file/state: Not a directory; "
}

# The state file itself, as libmonitoringplug names it under MP_STATE_PATH.
state_file_of() {
	printf '%s/%s/check_smtp_fixup/baseline_127_2E0_2E0_2E1_%s' "$STATE" "$(id -u)" "$PORT"
}

# Something else than a file at the state file's path (a folder, a FIFO, a
# symbolic link): UNKNOWN with our
# prefix and the reason on one line, within the timeout (a FIFO is never
# opened for a blocking read), and the SMTP result is not lost to a
# libmonitoringplug message.
case_state_not_a_file() {
	local kind f
	emu_on 0 none
	PORT=$EMU_PORT
	for kind in dir fifo; do
		STATE=$CASE_DIR/state-$kind
		f=$(state_file_of)
		mkdir -p "$(dirname "$f")"
		if [ $kind = dir ]; then mkdir "$f"; else mkfifo "$f"; fi
		check -t 2
		expect_rc 3
		expect_first "^SMTP FIXUP UNKNOWN - cannot use the baseline: the state file .* is not a regular file\$"
		expect_elapsed_max 2500
		[ "$(wc -l <"$OUT")" -ge 1 ] || fail "no status line"
	done
	# a symbolic link is not followed (it could point anywhere): UNKNOWN,
	# and what it points to is left as it was
	STATE=$CASE_DIR/state-link
	f=$(state_file_of)
	mkdir -p "$(dirname "$f")"
	printf 'precious\n' >"$CASE_DIR/target"
	ln -s "$CASE_DIR/target" "$f"
	check -t 2
	expect_rc 3
	expect_first "^SMTP FIXUP UNKNOWN - cannot use the baseline: cannot read the state file .*: Too many leve"
	[ "$(cat "$CASE_DIR/target")" = precious ] || fail "the link's target was changed"
}

# A state line that starts with a NUL (libmonitoringplug would read before
# its buffer): unreadable, recorded anew, no crash.
case_state_nul() {
	local f
	STATE=$CASE_DIR/state
	emu_on 0 none
	PORT=$EMU_PORT
	f=$(state_file_of)
	mkdir -p "$(dirname "$f")"
	printf '# NP State file\n1\n2\n1700000000\n\000W:41\tA\n' >"$f"
	check
	expect_rc 0
	expect_first '; the baseline state is unreadable and is recorded anew'
	expect_first_not 'first run'
}

# An MP_STATE_PATH with '|' and a line end cannot split the status line.
case_state_path_escaped() {
	emu_on 0 none
	PORT=$EMU_PORT
	: >"$CASE_DIR/file"
	STATE="$CASE_DIR/file/a|b"$'\n'x
	check
	expect_rc 3
	expect_first 'cannot keep the baseline: cannot create .*/file/a\\x7cb\\x0ax: Not a directory'
	! grep -q '^x: Not a directory' "$OUT" || fail "a raw line end split the status line"
	[[ ${FIRST%%|*} == *"x7cb"* ]] || fail "a raw '|' split the perfdata off early"
}

# State files that are not quite ours, as rows {what the file holds,
# whether it is read}: each field of libmonitoringplug's header, the
# candidate's fields and its count at its limit (1000) and one past, the
# read cap, numbers that overflow, an empty line, greetings that are not
# hex (a bad digit, an odd length, a NUL) and fields over their size. An unreadable one is recorded anew, a readable one is used; a
# state dated 0 says so instead of 1970.
case_state_table() {
	local f head data unread=' the baseline state is unreadable and is recorded anew'
	first
	f=$(state_file_of)
	[ -f "$f" ] || { fail "no state file $f"; return; }
	head=$(sed -n 2,3p "$f")
	data=$(tail -n 1 "$f")
	# FILE_TEXT READABLE(1/0)
	local rows=(
		"# NP State file"$'\n'"$head"$'\n'"1700000000"$'\n'"$data" 1
		"# NP State file"$'\n'"9"$'\n'"$(sed -n 3p "$f")"$'\n'"1700000000"$'\n'"$data" 0
		"# NP State file"$'\n'"$(sed -n 2p "$f")"$'\n'"99"$'\n'"1700000000"$'\n'"$data" 0
		"# NP State file"$'\n'"$head"$'\n'"-5"$'\n'"$data" 0
		"# NP State file"$'\n'"$head"$'\n'"12x"$'\n'"$data" 0
		"# NP State file"$'\n'"$head"$'\n'"1700000000" 0
		"# NP State file"$'\n'"$head"$'\n'"1700000000"$'\n'"$data"$'\t'"$data"$'\t'"1000" 1
		"# NP State file"$'\n'"$head"$'\n'"1700000000"$'\n'"$data"$'\t'"$data"$'\t'"1001" 0
		"# NP State file"$'\n'"$head"$'\n'"1700000000"$'\n'"$data"$'\t'"$data"$'\t'"" 0
		"# NP State file"$'\n'"$head"$'\n'"1700000000"$'\n'"$data"$'\t'"W:41" 0
		"# NP State file"$'\n'"$head"$'\n'"1700000000"$'\n'"$data"$'\t'"X:41"$'\t'"A"$'\t'"1" 0
		"# NP State file"$'\n'"$head"$'\n'"1700000000"$'\n'"X:41"$'\t'"A" 0
		"$(printf '#%.0s' $(seq 4100))" 0
		"# NP State file"$'\n'"$head"$'\n'"99999999999999999999999"$'\n'"$data" 0
		"# NP State file"$'\n'$'\n'"$head"$'\n'"1700000000"$'\n'"$data" 0
		"# NP State file"$'\n'"$head"$'\n'"1700000000"$'\n'"W:4G"$'\t'"A" 0
		"# NP State file"$'\n'"$head"$'\n'"1700000000"$'\n'"W:4!"$'\t'"A" 0
		"# NP State file"$'\n'"$head"$'\n'"1700000000"$'\n'"W:4:"$'\t'"A" 0
		"# NP State file"$'\n'"$head"$'\n'"1700000000"$'\n'"W:414"$'\t'"A" 0
		"# NP State file"$'\n'"$head"$'\n'"1700000000"$'\n'"W:0041"$'\t'"A" 0
		"# NP State file"$'\n'"$head"$'\n'"1700000000"$'\n'"W:"$'\t'"A" 0
		"# NP State file"$'\n'"$head"$'\n'"1700000000"$'\n'"W:41"$'\t'"$(printf 'A%.0s' $(seq 1100))" 0
		"# NP State file"$'\n'"$head"$'\n'"1700000000"$'\n'"$data"$'\t'"$data"$'\t'"12x" 0
		"# NP State file"$'\n'"$head"$'\n'"1700000000"$'\n'"$data"$'\t'"$data"$'\t'"99999999999999999999999" 0
		"# NP State file"$'\n'"$head"$'\n'"1700000000"$'\n'"$data"$'\t'"W:41"$'\t'"$(printf 'A%.0s' $(seq 1100))"$'\t'"1" 0
	)
	emu_on "$PORT" none
	for ((i = 0; i < ${#rows[@]}; i += 2)); do
		printf '%s\n' "${rows[i]}" >"$f"
		check
		[ "$RC" = 0 ] || fail "row $((i / 2)): exit code $RC, expected 0"
		if [ "${rows[i + 1]}" = 1 ]; then
			[[ $FIRST =~ unreadable|first\ run ]] && fail "row $((i / 2)): the state was not read: $FIRST"
			# a readable state is kept; the run equal to it forgets a candidate
			[ "$(tail -n 1 "$f")" = "$data" ] || fail "row $((i / 2)): the state line is '$(tail -n 1 "$f")', expected the baseline alone"
		else
			[[ ${FIRST%%|*} == *";$unread"* ]] || fail "row $((i / 2)): not unreadable: $FIRST"
		fi
	done
	# the data line without its line end is read all the same
	printf '# NP State file\n%s\n1700000000\n%s' "$head" "$data" >"$f"
	check
	[[ $FIRST =~ unreadable|first\ run ]] && fail "a state without its last line end was not read: $FIRST"
	emu_stop
	# dated 0: the change is reported "at an unknown time"
	printf '# NP State file\n%s\n0\n%s\n' "$head" "$data" >"$f"
	emu_on "$PORT" strip
	check
	expect_rc 1
	expect_output '^\[WARNING\] 5 extensions gone since the last clean run: .* \(at an unknown time\)$'
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

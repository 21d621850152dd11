#!/bin/bash
# tests/targets.sh - a check with several targets: -H with a name that has
# several addresses checks every address at once. The name is given to the
# plugin's process only, through a hosts file bind-mounted on /etc/hosts in
# a mount namespace of its own (unshare -m; needs root, skipped otherwise).
# The servers: smtp-inspect-emu personas on 127.0.0.1, 127.0.0.2 (same
# port), a silent tests/smtp-peer on 127.0.0.3.
#
# Also: --baseline refused for a name of two addresses, a name that does
# not resolve.
#
#   tests/targets.sh [CASE...]     (all cases when none is named)

# shellcheck source=tests/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"

: "${EMU:=$top_builddir/tools/smtp-inspect-emu}"
require_built "$PLUGIN" "$PEER" "$EMU"

NAME=multi.test

# can_unshare: 0 if a private mount namespace with a bind mount works here.
can_unshare() {
	[ "$(id -u)" -eq 0 ] && unshare -m sh -c 'mount --bind /etc/hosts /etc/hosts' 2>/dev/null
}

# emu_on ADDR PORT PROFILE: a postfix persona behind PROFILE on ADDR:PORT.
emu_on() {
	local pf=$CASE_DIR/emu-$1.port pid
	"$EMU" --listen "$1:$2" --persona postfix --profile "$3" --port-file "$pf" \
		--max-seconds "$PEER_SECONDS" --quiet 2>"$CASE_DIR/emu-$1.err" &
	pid=$!
	BG_PIDS+=("$pid")
	wait_port_file "$pf" "$pid" && return 0
	fail "the emulator on $1:$2 did not start: $(head -c 300 "$CASE_DIR/emu-$1.err")"
	return 1
}

# hosts ADDR...: a hosts file that gives NAME these addresses.
hosts() {
	local a
	: >"$CASE_DIR/hosts"
	for a in "$@"; do
		printf '%s %s\n' "$a" "$NAME" >>"$CASE_DIR/hosts"
	done
}

# check_name BOUND ARGS...: the plugin on NAME with the case's hosts file.
check_name() {
	local bound=$1
	shift
	printf '#!/bin/sh\nmount --bind "%s" /etc/hosts && exec "$@"\n' "$CASE_DIR/hosts" >"$CASE_DIR/wrap"
	chmod +x "$CASE_DIR/wrap"
	PLUGIN_PREFIX="unshare -m $CASE_DIR/wrap $PLUGIN_PREFIX" \
		run_plugin "$bound" -H "$NAME" -F "$FQDN" "$@"
}

case_two_addresses() {
	free_port
	emu_on 127.0.0.1 "$PORT" none
	emu_on 127.0.0.2 "$PORT" asa
	hosts 127.0.0.1 127.0.0.2
	check_name 7 -p "$PORT" -t 5
	expect_rc 2
	# the count and the worst target; every target has its block below
	expect_first '^SMTP FIXUP CRITICAL - 1 of 2 addresses behind SMTP inspection; worst: Cisco ASA/FTD/FWSM ESMTP inspection on the path to '"$NAME"':[0-9]+: .*masked'
	expect_output '^== address '"$NAME"' \(127\.0\.0\.2\): CRITICAL - .*masked'
	expect_output '^== address '"$NAME"' \(127\.0\.0\.1\): OK - '
	local status=${FIRST%%|*}
	[ ${#status} -le 200 ] || fail "the status line is over 200 characters (${#status})"
	expect_perf 127.0.0.1_masked_extensions 0
	expect_perf 127.0.0.2_masked_extensions 4
	expect_perf 127.0.0.2_banner_masked 1
	expect_perf masked_extensions 4
	expect_perf banner_masked 1
	expect_perf targets 2
	expect_output "^== address $NAME \\(127\\.0\\.0\\.1\\): OK - "
	expect_output "^== address $NAME \\(127\\.0\\.0\\.2\\): CRITICAL - "
	expect_output '^Extensions \(10\):.* XXXXXXXB \(masked\)'
}

case_one_silent() {
	peer_start silent --listen 127.0.0.3
	emu_on 127.0.0.1 "$PEER_PORT" none
	emu_on 127.0.0.2 "$PEER_PORT" none
	hosts 127.0.0.1 127.0.0.2 127.0.0.3
	check_name 5 -p "$PEER_PORT" -t 2
	expect_rc 2
	expect_first '^SMTP FIXUP CRITICAL - 0 of 3 addresses behind SMTP inspection; worst: no answer from '"$NAME"':[0-9]+ \(127\.0\.0\.3\) within 2 s'
	expect_output '^== address '"$NAME"' \(127\.0\.0\.3\): CRITICAL - no answer from'
	expect_perf 127.0.0.1_extensions 10
	expect_perf 127.0.0.2_extensions 10
	expect_perf 127.0.0.3_extensions U
	# all at once: the silent address costs the timeout once, not in turn
	expect_elapsed_min 1900
	expect_elapsed_max 3000
}

case_all_clean() {
	free_port
	emu_on 127.0.0.1 "$PORT" none
	emu_on 127.0.0.2 "$PORT" none
	hosts 127.0.0.1 127.0.0.2
	check_name 7 -p "$PORT" -t 5
	expect_rc 0
	expect_first '^SMTP FIXUP OK - 0 of 2 addresses behind SMTP inspection$'
	expect_perf masked_extensions 0
}

# One address: the output of the single-host check, labels unchanged.
case_one_address() {
	free_port
	emu_on 127.0.0.1 "$PORT" asa
	hosts 127.0.0.1
	check_name 7 -p "$PORT" -t 5
	expect_rc 2
	expect_first "^SMTP FIXUP CRITICAL - 4 of 10 ESMTP extensions masked"
	expect_perfdata_wellformed
	expect_perf masked_extensions 4
}

# --baseline keeps one server's state: a name of two addresses is refused
# before any connection, with the count.
case_baseline_two_addresses() {
	hosts 127.0.0.1 127.0.0.2
	MP_STATE_PATH=$CASE_DIR/state check_name 5 -p 1 -t 2 --baseline
	expect_rc 3
	expect_first "^SMTP FIXUP UNKNOWN - --baseline keeps one server's state, but $NAME has 2 addresses \\(give one with -H\\)\$"
	[ -e "$CASE_DIR/state" ] && fail "a state folder was made for a check that did not run"
	return 0
}

# A name with no address (not in the hosts file, and a name server that
# refuses at once): UNKNOWN, the resolver's words, no connection tried.
case_no_such_name() {
	hosts 127.0.0.1
	printf 'nameserver 127.0.0.1\noptions attempts:1 timeout:1\n' >"$CASE_DIR/resolv.conf"
	printf '#!/bin/sh\nmount --bind "%s" /etc/hosts && mount --bind "%s" /etc/resolv.conf && exec "$@"\n' \
		"$CASE_DIR/hosts" "$CASE_DIR/resolv.conf" >"$CASE_DIR/wrap"
	chmod +x "$CASE_DIR/wrap"
	PLUGIN_PREFIX="unshare -m $CASE_DIR/wrap $PLUGIN_PREFIX" run_plugin 5 -H nosuch.test -p 1 -t 2
	expect_rc 3
	expect_first '^SMTP FIXUP UNKNOWN - cannot resolve nosuch\.test: .+'
	expect_first_not 'cannot connect'
}

if ! can_unshare; then
	echo "ok all # SKIP needs root and unshare -m (a private /etc/hosts)"
	exit 77
fi
run_suite "$@"
finish

#!/bin/bash
# tests/real-servers.sh - the built plugin against REAL mail servers
# (Postfix and Exim from Debian's packages, started on loopback by
# tests/servers/*.sh), directly and through every profile of the
# inspection emulator (tools/smtp-inspect-emu in proxy mode), with
# STARTTLS as a witness (-S), the probe commands (--probe) and implicit
# TLS (--tls): issue 3 item 2 and the integration tests of issue 5. TLS
# failures of a scripted peer (STARTTLS agreed, then garbage, a close,
# silence, injected clear text) are rows of tests/faults.sh.
#
#   tests/real-servers.sh [PATTERN...]   (bash globs on case names; all
#                                         cases when none is given)
#
# Expectations come from what each box does (doc/inspection-boxes.md, and the
# emulator's --help, which cites it) applied to each server's true EHLO
# lists. Those lists are read once per server by clients of our own
# (bash /dev/tcp for the clear-text list, openssl s_client -starttls smtp
# for the list inside TLS), never by the plugin under test.
#
# Each server is started once for the whole suite, on a random free port
# (a start that finds the port taken, exit 3, is retried on another one),
# and stopped on exit, whatever happens; emulators, peers and the TLS
# listener are killed by their pid. A server that cannot start is a
# failure that prints the server's own log, never a skip. Root is needed
# (the servers' master processes); without it the suite fails.
#
# Prints "ok NAME" or "not ok NAME: reason" per case, then
# "N passed, M failed"; exits 1 if any failed, 99 if it cannot run.
# Environment: as tests/lib.sh (top_srcdir, top_builddir, PLUGIN, PEER,
# KEEP_TMP...); EMU may name another emulator binary, SERVERS_DIR another
# folder of server scripts with the contract of tests/servers/README.md.

# shellcheck source=tests/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"

: "${EMU:=$top_builddir/tools/smtp-inspect-emu}"
: "${SERVERS_DIR:=$top_srcdir/tests/servers}"
SERVERS=(postfix exim)
PROFILES=(none fwsm pix4 pix6 pix6-noop asa asa-allow-tls strip strip-tls)
# No emulator or TLS listener outlives this many seconds.
HELPER_SECONDS=120
# Port range for the servers and the TLS listener (retried when taken).
PORT_MIN=20000
PORT_SPAN=40000
# Start attempts per server (exit 3 = port taken: another port).
START_TRIES=8

if [ "$(id -u)" -ne 0 ]; then
	echo "not ok real-servers: this suite must run as root (it starts Postfix and Exim, whose master processes need root); run make check as root, as CI does"
	echo "0 passed, 1 failed"
	exit 1
fi

require_built "$PLUGIN" "$PEER" "$EMU"
for s in "${SERVERS[@]}"; do
	if [ ! -x "$SERVERS_DIR/$s.sh" ]; then
		echo "missing: $SERVERS_DIR/$s.sh" >&2
		exit 99
	fi
done

# ---- what the boxes do (doc/inspection-boxes.md 2, 3; the emulator's --help) --------

# EHLO keywords the default ASA policy lets pass; every other line is
# masked (length kept). AUTH passes with its mechanisms ("AUTH PLAIN"),
# not as "AUTH=LOGIN" (a keyword of its own here).
ASA_PASS="SIZE ETRN PIPELINING DSN ENHANCEDSTATUSCODES 8BITMIME BINARYMIME AUTH"
# Lines a Zorp-like stripping proxy keeps; the others vanish.
STRIP_KEEP="PIPELINING SIZE ETRN 8BITMIME STARTTLS"
# Keywords that may legitimately differ inside TLS (the plugin's default
# --tls-ignore; RFC 3207: STARTTLS is not offered again inside TLS).
TLS_IGNORE="STARTTLS AUTH"

# Phrases of the plugin's summary (first line, without perfdata).
OK_FIRST='^SMTP FIXUP OK - '
WARN_FIRST='^SMTP FIXUP WARNING - '
CRIT_FIRST='^SMTP FIXUP CRITICAL - '
BANNER_MASKED='greeting banner masked'
EHLO_REFUSED='EHLO refused[^;]*; HELO works'
EHLO_NOOP='EHLO answered like NOOP[^;]*; HELO works'
HIDDEN='hidden by the path'
STARTTLS_REFUSED='STARTTLS refused'
PROBE_DROP='connection was dropped after the probe NOOP'
PROBE_BDAT='probe BDAT[^;]* unrecognised[^;]* offers CHUNKING'
TLS_FAILED='TLS handshake[^;]* failed'

# ---- state of the suite ----------------------------------------------

declare -A SRV_DIR   # server -> its folder (registered before the start)
declare -A SRV_PORT  # server -> port, once started
declare -A REF_OK    # server -> 1 once its reference lists are read
declare -A REF_PLAIN # server -> its EHLO keywords in clear text (spaces)
declare -A REF_TLS   # server -> its EHLO keywords inside TLS (spaces)
EMU_PID=
EMU_PORT=
EMU_LOG=

# Stop everything: our background processes first (an emulator holding a
# connection would keep a server's process alive), then the servers, then
# the work folder (lib.sh).
suite_cleanup() {
	local name
	kill_bg_pids
	for name in "${!SRV_DIR[@]}"; do
		if ! "$SERVERS_DIR/$name.sh" stop "${SRV_DIR[$name]}" >"$WORK/stop-$name.log" 2>&1; then
			echo "# $name: stop failed:" >&2
			sed 's/^/#   /' "$WORK/stop-$name.log" >&2
		fi
	done
	lib_cleanup
}
trap suite_cleanup EXIT

# ---- small helpers ----------------------------------------------------

# selected NAME: the case was asked for (no pattern given, or one matches).
selected() {
	local p
	[ ${#PATTERNS[@]} -eq 0 ] && return 0
	for p in "${PATTERNS[@]}"; do
		# shellcheck disable=SC2053 # a glob on purpose
		[[ $1 == $p ]] && return 0
	done
	return 1
}

# run_case NAME FUNCTION [ARGS...]: one case, if selected.
run_case() {
	local name=$1
	shift
	selected "$name" || return 0
	case_begin "$name"
	"$@"
	if [ -n "$CASE" ]; then
		case_end
	fi
}

# in_list WORD LIST: WORD is one of the space-separated LIST.
in_list() {
	[[ " $2 " == *" $1 "* ]]
}

# count_words LIST: how many words.
count_words() {
	local -a w
	read -ra w <<<"$1"
	echo "${#w[@]}"
}

# random_port: a port in PORT_MIN .. PORT_MIN+PORT_SPAN-1.
random_port() {
	echo $((PORT_MIN + (RANDOM * 32768 + RANDOM) % PORT_SPAN))
}

# listening PORT: something listens on 127.0.0.1:PORT or 0.0.0.0:PORT
# (from /proc: no ss or netstat needed).
listening() {
	local hex
	printf -v hex '%04X' "$1"
	awk -v p=":$hex" 'substr($2, length($2) - 4) == p && $4 == "0A" { f = 1 } END { exit !f }' /proc/net/tcp
}

# plugin_at PORT [ARGS...]: the plugin against 127.0.0.1:PORT with -t $T,
# killed if it runs 3 s longer.
plugin_at() {
	local port=$1
	shift
	run_plugin $((T + 3)) -H 127.0.0.1 -p "$port" -F "$FQDN" -t "$T" "$@"
}

# expect_perf_min LABEL MIN: a number >= MIN.
expect_perf_min() {
	local v
	if ! v=$(perf_value "$1"); then
		fail "no perfdata label $1"
	elif ! [[ $v =~ ^[0-9]+$ ]] || [ "$v" -lt "$2" ]; then
		fail "perfdata $1=$v, expected at least $2"
	fi
}

# expect_first_names WORD...: the summary names each keyword.
expect_first_names() {
	local w
	for w in "$@"; do
		expect_first "(^|[^A-Z0-9-])$w([^A-Z0-9-]|$)"
	done
}

# ---- the real servers --------------------------------------------------

# case_server_start NAME: start tests/servers/NAME.sh on a free port (a taken
# port, exit 3, is retried on another); on failure print its own log.
case_server_start() {
	local name=$1 script=$SERVERS_DIR/$1.sh dir=$WORK/srv-$1 try port rc=1
	SRV_DIR[$name]=$dir
	for ((try = 1; try <= START_TRIES; try++)); do
		port=$(random_port)
		"$script" start "$dir" "$port" >"$CASE_DIR/start.out" 2>"$CASE_DIR/start.err"
		rc=$?
		[ "$rc" -eq 3 ] || break
		# the port was taken: clean up as the contract says, try another
		"$script" stop "$dir" >>"$CASE_DIR/start.out" 2>&1
	done
	if [ "$rc" -eq 0 ]; then
		SRV_PORT[$name]=$port
		return
	fi
	fail "$name did not start (exit $rc after $((try > START_TRIES ? START_TRIES : try)) attempt(s)); its log follows"
	case_end
	{
		echo "#   $name start, stderr (the server's own log):"
		sed 's/^/#     /' "$CASE_DIR/start.err"
		echo "#   $name log:"
		"$script" log "$dir" 2>&1 | sed 's/^/#     /'
	} | head -n 200
}

# ehlo_keywords PORT MODE: the keyword (first word, upper case) of every
# line of the server's EHLO reply but the first, space-separated, as our
# own client sees it: MODE plain (bash /dev/tcp) or tls (openssl s_client
# -starttls smtp: the reply to an EHLO sent inside TLS). Fails if the
# server does not answer as a server should.
ehlo_keywords() {
	local port=$1 mode=$2 in out line kw words='' first=1 ok='' pid=''
	if [ "$mode" = tls ]; then
		coproc SCLIENT { exec timeout 15 openssl s_client -starttls smtp -connect "127.0.0.1:$port" -name "$FQDN" -quiet 2>/dev/null; }
		pid=$SCLIENT_PID
		# bash hides coproc descriptors from ( ) subshells: use copies
		exec {in}<&"${SCLIENT[0]}" {out}>&"${SCLIENT[1]}"
		eval "exec ${SCLIENT[0]}<&- ${SCLIENT[1]}>&-"
	else
		exec {in}<>"/dev/tcp/127.0.0.1/$port" || return 1
		out=$in
		while IFS= read -r -t 5 line <&"$in"; do
			[[ $line == 220-* ]] || break
		done
		if [[ $line != 220\ * ]]; then
			exec {in}<&-
			return 1
		fi
	fi
	# a subshell: a dead peer must not kill the suite with SIGPIPE
	(printf 'EHLO %s\r\n' "$FQDN" >&"$out") 2>/dev/null
	while IFS= read -r -t 5 line <&"$in"; do
		line=${line%$'\r'}
		[[ $line == 250[-\ ]* ]] || break
		if [ -n "$first" ]; then
			first=
		else
			kw=${line:4}
			kw=${kw%% *}
			words+=" ${kw^^}"
		fi
		if [[ $line == 250\ * ]]; then
			ok=1
			break
		fi
	done
	(printf 'QUIT\r\n' >&"$out") 2>/dev/null
	IFS= read -r -t 5 line <&"$in"
	if [ -n "$pid" ]; then
		exec {out}>&- {in}<&-
		wait "$pid" 2>/dev/null
	else
		exec {in}<&-
	fi
	[ -n "$ok" ] || return 1
	echo "${words# }"
}

# The reference lists of one server, read by our own clients.
case_server_reference() {
	local name=$1 port=${SRV_PORT[$1]} plain tls
	if [ -z "$port" ]; then
		fail "$name is not running (see $name-start)"
		return
	fi
	if ! plain=$(ehlo_keywords "$port" plain); then
		fail "no clear-text EHLO reply from $name with bash /dev/tcp"
		return
	fi
	if ! tls=$(ehlo_keywords "$port" tls); then
		fail "no EHLO reply inside TLS from $name with openssl s_client -starttls smtp"
		return
	fi
	echo "# $name EHLO: $plain"
	echo "# $name EHLO inside TLS: $tls"
	in_list STARTTLS "$plain" || fail "$name does not offer STARTTLS (tests/servers/README.md says it does)"
	[ -n "$tls" ] || fail "$name lists no extension inside TLS"
	REF_PLAIN[$name]=$plain
	REF_TLS[$name]=$tls
	[ ${#FAILS[@]} -eq 0 ] && REF_OK[$name]=1
}

# need_server NAME: fail the case unless the server runs and its lists
# are known; sets PLAIN, TLS, N_PLAIN, N_TLS.
need_server() {
	if [ -z "${REF_OK[$1]}" ]; then
		fail "$1 is not running or its EHLO lists are unknown (see $1-start, $1-reference)"
		return 1
	fi
	PLAIN=${REF_PLAIN[$1]}
	TLS=${REF_TLS[$1]}
	N_PLAIN=$(count_words "$PLAIN")
	N_TLS=$(count_words "$TLS")
}

# ---- the plugin straight on each server ------------------------------

# direct_common: what every direct check must show.
direct_common() {
	expect_rc 0
	expect_first "${OK_FIRST}127\\.0\\.0\\.1:$SRV_P "
	expect_first 'no SMTP inspection seen'
	expect_first_not 'mask|hidden|refused|PIX|ASA|probe'
	expect_perf extensions "$N_PLAIN"
	expect_perf_min extensions 1
	expect_perf masked_extensions 0
	expect_perf banner_masked 0
}

case_direct() {
	local name=$1
	shift
	need_server "$name" || return
	SRV_P=${SRV_PORT[$name]}
	plugin_at "$SRV_P" "$@"
	direct_common
	expect_elapsed_max 4000
	if [[ " $* " == *" -S "* ]]; then
		# AUTH (if the server offers it only inside TLS) and STARTTLS are
		# legitimate differences: nothing is stripped.
		expect_perf tls_extensions "$N_TLS"
		expect_perf_min tls_extensions 1
		expect_perf stripped_extensions 0
		expect_perf_range time_tls 0 4
		expect_output '^TLS: TLSv1'
	else
		expect_output_absent_tls
	fi
}

# case_direct_lib NAME LIB ARGS...: case_direct with the TLS library forced
# to LIB (plugins/tls.c), which the TLS line must name.
case_direct_lib() {
	local name=$1 lib=$2
	shift 2
	CHECK_SMTP_FIXUP_TLS=$lib case_direct "$name" "$@"
	expect_output "^TLS: TLSv1\\.[0-3] [A-Z0-9_-]+ \\($lib\\)\$"
}

# Without -S there is no TLS and no TLS perfdata.
expect_output_absent_tls() {
	[[ $FIRST == *tls_extensions=* ]] && fail "TLS perfdata without -S"
	return 0
}

# ---- the plugin through the emulator in front of each server ---------

# emu_start SERVER PROFILE: the emulator in proxy mode on a free port of
# 127.0.0.1 (its own choice), relaying to the server; sets EMU_PORT.
emu_start() {
	local name=$1 profile=$2 portfile
	portfile=$WORK/emu-$name-$profile.port
	EMU_LOG=$WORK/emu-$name-$profile.log
	EMU_PORT=
	rm -f "$portfile"
	"$EMU" --listen 127.0.0.1:0 --server "127.0.0.1:${SRV_PORT[$name]}" --profile "$profile" \
		--port-file "$portfile" --max-seconds "$HELPER_SECONDS" 2>"$EMU_LOG" &
	EMU_PID=$!
	BG_PIDS+=("$EMU_PID")
	wait_port_file "$portfile" "$EMU_PID" 200 || return 1
	EMU_PORT=$(cat "$portfile")
}

emu_stop() {
	if [ -n "$EMU_PID" ]; then
		kill "$EMU_PID" 2>/dev/null
		wait "$EMU_PID" 2>/dev/null
	fi
	EMU_PID=
	EMU_PORT=
}

# Keywords visible outside TLS through PROFILE (masked lines are not).
visible_through() {
	local profile=$1 k out=
	for k in $PLAIN; do
		case $profile in
		none | fwsm) ;;
		asa) in_list "$k" "$ASA_PASS" || continue ;;
		asa-allow-tls) in_list "$k" "$ASA_PASS STARTTLS" || continue ;;
		strip) in_list "$k" "$STRIP_KEEP" || continue ;;
		strip-tls) [ "$k" = STARTTLS ] && continue ;;
		pix4 | pix6 | pix6-noop) continue ;;
		esac
		out+=" $k"
	done
	echo "${out# }"
}

# Keywords the plugin must call hidden by the path with -S: offered inside
# TLS, not visible outside, not legitimately different; and STARTTLS when
# it works but was not visible (doc/inspection-boxes.md 3: the TLS reply is the truth).
hidden_through() {
	local visible=$1 k out=
	for k in $TLS; do
		in_list "$k" "$visible" && continue
		in_list "$k" "$TLS_IGNORE" && continue
		out+=" $k"
	done
	in_list STARTTLS "$visible" || out+=" STARTTLS"
	echo "${out# }"
}

# via SERVER PROFILE [plugin options...]: set up a case through the
# running emulator; sets VISIBLE, N_VISIBLE, N_MASKED.
via() {
	local name=$1 profile=$2
	shift 2
	need_server "$name" || return 1
	if [ -z "$EMU_PORT" ]; then
		fail "the emulator ($profile in front of $name) did not start: $(head -c 300 "$EMU_LOG")"
		return 1
	fi
	PEER_LOG=$EMU_LOG
	VISIBLE=$(visible_through "$profile")
	N_VISIBLE=$(count_words "$VISIBLE")
	N_MASKED=$((N_PLAIN - N_VISIBLE))
	plugin_at "$EMU_PORT" "$@"
}

# Perfdata of a check where EHLO was answered: extensions (masked lines
# count, removed ones do not), masked lines, banner.
expect_ehlo_perf() {
	local ext=$1 masked=$2 banner=$3
	expect_perf extensions "$ext"
	expect_perf masked_extensions "$masked"
	expect_perf banner_masked "$banner"
}

t_none() {
	via "$1" none || return
	expect_rc 0
	expect_first "$OK_FIRST"
	expect_first 'no SMTP inspection seen'
	expect_ehlo_perf "$N_PLAIN" 0 0
}

t_none_S() {
	via "$1" none -S || return
	expect_rc 0
	expect_first "$OK_FIRST"
	expect_ehlo_perf "$N_PLAIN" 0 0
	expect_perf tls_extensions "$N_TLS"
	expect_perf stripped_extensions 0
}

t_none_probe() {
	via "$1" none --probe || return
	expect_rc 0
	expect_first "$OK_FIRST"
	expect_ehlo_perf "$N_PLAIN" 0 0
}

# FWSM: the banner only (doc/inspection-boxes.md 1).
t_fwsm() {
	via "$1" fwsm || return
	expect_rc 1
	expect_first "${WARN_FIRST}$BANNER_MASKED"
	expect_first 'FWSM'
	expect_first_not 'extensions? masked|EHLO|hidden'
	expect_ehlo_perf "$N_PLAIN" 0 1
}

# The TLS session passes an FWSM that only masks the banner: nothing
# stripped, still the banner WARNING.
t_fwsm_S() {
	via "$1" fwsm -S || return
	expect_rc 1
	expect_first "${WARN_FIRST}$BANNER_MASKED"
	expect_first_not "$HIDDEN|$STARTTLS_REFUSED"
	expect_ehlo_perf "$N_PLAIN" 0 1
	expect_perf tls_extensions "$N_TLS"
	expect_perf stripped_extensions 0
}

# PIX 4.x: the cmap banner, EHLO X-ed so the server refuses it, HELO
# passes (doc/inspection-boxes.md 1, 2).
t_pix4() {
	via "$1" pix4 || return
	expect_rc 2
	expect_first "${CRIT_FIRST}$EHLO_REFUSED"
	expect_first 'cmap'
	expect_first 'PIX'
	expect_first_not 'ASA'
	expect_ehlo_perf 0 0 1
}

# PIX 5.1-6.x: the banner masked but for the 2s and 0s, EHLO X-ed and
# refused, HELO works. An ASA passes EHLO (doc/inspection-boxes.md 2), so a refused EHLO
# behind a masked banner points to a PIX, whatever digits the banner had.
t_pix6() {
	via "$1" pix6 || return
	expect_rc 2
	expect_first "${CRIT_FIRST}$EHLO_REFUSED"
	expect_first "$BANNER_MASKED"
	expect_first '^SMTP FIXUP CRITICAL - Cisco PIX[^|]* on the path to '
	expect_first_not 'ASA'
	expect_ehlo_perf 0 0 1
}

# PIX that turns EHLO into NOOP: "250 Ok" instead of an EHLO reply.
t_pix6_noop() {
	via "$1" pix6-noop || return
	expect_rc 2
	expect_first "${CRIT_FIRST}$EHLO_NOOP"
	expect_first "$BANNER_MASKED"
	expect_first '^SMTP FIXUP CRITICAL - Cisco PIX[^|]* on the path to '
	expect_first_not 'ASA'
	expect_ehlo_perf 0 0 1
}

# ASA default policy: banner masked, lines outside the allowed set masked
# with the length-keeping X pattern.
t_asa() {
	via "$1" asa || return
	expect_rc 2
	expect_first "${CRIT_FIRST}$N_MASKED of $N_PLAIN ESMTP extensions? masked"
	expect_first "$BANNER_MASKED"
	expect_first 'ASA'
	expect_ehlo_perf "$N_PLAIN" "$N_MASKED" 1
	expect_perf_min masked_extensions 1
	expect_output '^  seen: 250[- ]X+[A-Z]$'
}

# ASA default policy with -S: STARTTLS masked and its command X-ed, so the
# server refuses it; TLS never starts (its perfdata undetermined).
t_asa_S() {
	via "$1" asa -S || return
	expect_rc 2
	expect_first "${CRIT_FIRST}$N_MASKED of $N_PLAIN ESMTP extensions? masked"
	expect_first "$STARTTLS_REFUSED"
	expect_first "$BANNER_MASKED"
	expect_ehlo_perf "$N_PLAIN" "$N_MASKED" 1
	expect_perf_min masked_extensions 1
	expect_perf tls_extensions U
	expect_perf stripped_extensions U
}

# ASA default policy with --probe: the NOOP over 512 octets makes the box
# reset the connection (BDAT is X-ed too, but with CHUNKING masked the
# plugin cannot know the server offers it).
t_asa_probe() {
	via "$1" asa --probe || return
	expect_rc 2
	expect_first "${CRIT_FIRST}$N_MASKED of $N_PLAIN ESMTP extensions? masked"
	expect_first "$PROBE_DROP"
	expect_first '512'
	expect_ehlo_perf "$N_PLAIN" "$N_MASKED" 1
	grep -q 'dropped by the asa profile: command line too long' "$EMU_LOG" ||
		fail "the emulator log does not show the drop of the long command line"
}

# ASA with allow-tls: STARTTLS passes, the rest is masked as with asa.
t_asa_allow_tls() {
	via "$1" asa-allow-tls || return
	expect_rc 2
	expect_first "${CRIT_FIRST}$N_MASKED of $N_PLAIN ESMTP extensions? masked"
	expect_first "$BANNER_MASKED"
	expect_ehlo_perf "$N_PLAIN" "$N_MASKED" 1
	expect_perf_min masked_extensions 1
}

# ... and with -S the TLS session passes untouched: the masked lines show
# inside TLS, so they are hidden by the path, each named.
t_asa_allow_tls_S() {
	local hidden n
	via "$1" asa-allow-tls -S || return
	hidden=$(hidden_through "$VISIBLE")
	n=$(count_words "$hidden")
	expect_rc 2
	expect_first "${CRIT_FIRST}$N_MASKED of $N_PLAIN ESMTP extensions? masked"
	expect_first "$n extensions? $HIDDEN"
	# shellcheck disable=SC2086 # one word each
	expect_first_names $hidden
	expect_first_not "$STARTTLS_REFUSED|$TLS_FAILED"
	expect_ehlo_perf "$N_PLAIN" "$N_MASKED" 1
	expect_perf tls_extensions "$N_TLS"
	expect_perf stripped_extensions "$n"
	expect_perf_min stripped_extensions 1
}

# ... and with --probe as well: BDAT X-ed although CHUNKING shows inside
# TLS, and the long NOOP dropped.
t_asa_allow_tls_S_probe() {
	via "$1" asa-allow-tls -S --probe || return
	expect_rc 2
	expect_first "$CRIT_FIRST"
	expect_first "$PROBE_DROP"
	if in_list CHUNKING "$TLS"; then
		expect_first "$PROBE_BDAT"
	fi
	expect_perf tls_extensions "$N_TLS"
}

# A stripping proxy: removal leaves no trace in one reply (doc/inspection-boxes.md 2).
t_strip() {
	via "$1" strip || return
	expect_rc 0
	expect_first "$OK_FIRST"
	expect_ehlo_perf "$N_VISIBLE" 0 0
	expect_perf_min extensions 1
}

# ... but inside TLS the server's true list shows what was removed.
t_strip_S() {
	local hidden n
	via "$1" strip -S || return
	hidden=$(hidden_through "$VISIBLE")
	n=$(count_words "$hidden")
	expect_rc 2
	expect_first "${CRIT_FIRST}$n extensions? $HIDDEN"
	# shellcheck disable=SC2086 # one word each
	expect_first_names $hidden
	expect_first_not 'masked'
	expect_ehlo_perf "$N_VISIBLE" 0 0
	expect_perf tls_extensions "$N_TLS"
	expect_perf stripped_extensions "$n"
	expect_perf_min stripped_extensions 1
}

t_strip_tls() {
	via "$1" strip-tls || return
	expect_rc 0
	expect_first "$OK_FIRST"
	expect_ehlo_perf "$((N_PLAIN - 1))" 0 0
}

# STARTTLS removed from the reply, yet it works: hidden by the path.
t_strip_tls_S() {
	via "$1" strip-tls -S || return
	expect_rc 2
	expect_first "${CRIT_FIRST}1 extension ${HIDDEN}[^;]*STARTTLS"
	expect_ehlo_perf "$((N_PLAIN - 1))" 0 0
	expect_perf tls_extensions "$N_TLS"
	expect_perf stripped_extensions 1
}

# ---- implicit TLS (--tls) ---------------------------------------------

# The SMTP side of the implicit-TLS listener: a greeting, an EHLO reply,
# 221 to QUIT; what the client said goes to stderr as "C: line".
tls_backend() {
	local line
	printf '220 smtps.example.org ESMTP implicit TLS test\r\n'
	while IFS= read -r -t "$HELPER_SECONDS" line; do
		line=${line%$'\r'}
		echo "C: $line" >&2
		case ${line^^} in
		EHLO\ *) printf '250-smtps.example.org\r\n250-PIPELINING\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n' ;;
		QUIT) printf '221 2.0.0 Bye\r\n'
			break ;;
		*) printf '502 5.5.2 not here\r\n' ;;
		esac
	done
	# keep s_server's input open until it ends (no end of file spin)
	while IFS= read -r -t "$HELPER_SECONDS" line; do :; done
}

# tls_listener_start: openssl s_server (one connection) on a free port of
# 127.0.0.1 with a throw-away certificate, fed by tls_backend through two
# FIFOs; sets TLS_PORT, TLS_SPID, TLS_BPID.
tls_listener_start() {
	local dir=$CASE_DIR try i
	TLS_PORT=
	if ! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$dir/key.pem" -out "$dir/cert.pem" -days 2 -subj /CN=localhost \
		>"$dir/req.log" 2>&1; then
		fail "openssl req could not make a certificate: $(head -c 300 "$dir/req.log")"
		return 1
	fi
	for ((try = 1; try <= START_TRIES; try++)); do
		rm -f "$dir/to-server" "$dir/to-backend"
		mkfifo "$dir/to-server" "$dir/to-backend" || {
			fail "mkfifo failed"
			return 1
		}
		TLS_PORT=$(random_port)
		# FIFO opening order matters: each side opens first the FIFO the
		# other opens first, or both block.
		tls_backend 2>"$dir/backend.log" >"$dir/to-server" <"$dir/to-backend" &
		TLS_BPID=$!
		timeout "$HELPER_SECONDS" openssl s_server -quiet -naccept 1 -accept "127.0.0.1:$TLS_PORT" \
			-cert "$dir/cert.pem" -key "$dir/key.pem" \
			2>"$dir/s_server.err" <"$dir/to-server" >"$dir/to-backend" &
		TLS_SPID=$!
		BG_PIDS+=("$TLS_BPID" "$TLS_SPID")
		for ((i = 0; i < 200; i++)); do
			listening "$TLS_PORT" && kill -0 "$TLS_SPID" 2>/dev/null && return 0
			kill -0 "$TLS_SPID" 2>/dev/null || break
			sleep 0.05
		done
		kill "$TLS_SPID" "$TLS_BPID" 2>/dev/null
		wait "$TLS_SPID" "$TLS_BPID" 2>/dev/null
	done
	fail "openssl s_server did not listen: $(head -c 300 "$dir/s_server.err")"
	TLS_PORT=
	return 1
}

# --tls against an implicit-TLS listener: OK, through TLS from the first
# octet, and the whole conversation (EHLO, QUIT) inside it.
case_tls_implicit() {
	local i
	tls_listener_start || return
	plugin_at "$TLS_PORT" --tls
	for ((i = 0; i < 100; i++)); do
		kill -0 "$TLS_SPID" 2>/dev/null || break
		sleep 0.05
	done
	expect_rc 0
	expect_first "${OK_FIRST}127\\.0\\.0\\.1:$TLS_PORT "
	expect_first 'no SMTP inspection seen'
	expect_ehlo_perf 3 0 0
	expect_output '^TLS: TLSv1'
	expect_output '^Greeting: 220 smtps\.example\.org'
	expect_elapsed_max 4000
	grep -qx "C: EHLO $FQDN" "$CASE_DIR/backend.log" || fail "the listener got no EHLO $FQDN inside TLS"
	grep -qx 'C: QUIT' "$CASE_DIR/backend.log" || fail "the listener got no QUIT inside TLS"
	if [ ${#FAILS[@]} -gt 0 ]; then
		PEER_LOG=$CASE_DIR/backend.log
		sed 's/^/#   s_server: /' "$CASE_DIR/s_server.err" | head -n 20
	fi
}

# case_tls_implicit_lib LIB: the same with the TLS library forced to LIB.
case_tls_implicit_lib() {
	CHECK_SMTP_FIXUP_TLS=$1 case_tls_implicit
	expect_output "^TLS: TLSv1\\.[0-3] [A-Z0-9_-]+ \\($1\\)\$"
}

# --tls against a clear-text server: a failed TLS handshake, at once.
case_tls_on_plain() {
	local name=$1
	need_server "$name" || return
	plugin_at "${SRV_PORT[$name]}" --tls
	expect_rc 2
	expect_first "${CRIT_FIRST}$TLS_FAILED"
	expect_elapsed_max 4000
	expect_perf banner_masked U
}

# ---- workers: the cases of each server run in parallel ----------------

WORKER_NAMES=()
WORKER_PIDS=()

# The cases that need server NAME (and its emulators), in order.
server_cases() {
	local s=$1 profile v name variants wanted
	run_case "$s-direct" case_direct "$s"
	run_case "$s-direct-S" case_direct "$s" -S
	run_case "$s-direct-probe" case_direct "$s" --probe
	run_case "$s-direct-S-probe" case_direct "$s" -S --probe
	run_case "$s-direct-S-gnutls" case_direct_lib "$s" gnutls -S
	run_case "$s-direct-S-openssl" case_direct_lib "$s" openssl -S
	for profile in "${PROFILES[@]}"; do
		# the cases of this profile, by the suffix of their name
		case $profile in
		none | asa) variants=("" _S _probe) ;;
		asa-allow-tls) variants=("" _S _S_probe) ;;
		fwsm | strip | strip-tls) variants=("" _S) ;;
		*) variants=("") ;;
		esac
		wanted=()
		for v in "${variants[@]}"; do
			name=$s-$profile${v//_/-}
			selected "$name" && wanted+=("$v")
		done
		[ ${#wanted[@]} -gt 0 ] || continue
		if [ -n "${SRV_PORT[$s]}" ]; then
			emu_start "$s" "$profile"
		fi
		for v in "${wanted[@]}"; do
			run_case "$s-$profile${v//_/-}" "t_${profile//-/_}$v" "$s"
		done
		emu_stop
	done
	run_case "tls-on-plain-$s" case_tls_on_plain "$s"
}

# start_worker NAME COMMAND...: run COMMAND in a background subshell with
# counters of its own; its output and counts go to files that
# collect_workers prints and adds up in the order the workers started.
# shellcheck disable=SC2030,SC2031 # the subshell's counters are its own
start_worker() {
	local name=$1
	shift
	(
		trap 'exit 130' INT TERM HUP
		trap kill_bg_pids EXIT
		BG_PIDS=()
		TESTS_PASSED=0
		TESTS_FAILED=0
		TESTS_SKIPPED=0
		"$@"
		echo "$TESTS_PASSED $TESTS_FAILED $TESTS_SKIPPED" >"$WORK/worker-$name.counts"
	) >"$WORK/worker-$name.out" 2>&1 &
	WORKER_PIDS+=("$!")
	WORKER_NAMES+=("$name")
	BG_PIDS+=("$!")
}

# shellcheck disable=SC2031 # the parent's counters, not the workers'
collect_workers() {
	local i name p f k
	for i in "${!WORKER_PIDS[@]}"; do
		name=${WORKER_NAMES[i]}
		wait "${WORKER_PIDS[i]}"
		cat "$WORK/worker-$name.out"
		if read -r p f k <"$WORK/worker-$name.counts" 2>/dev/null; then
			TESTS_PASSED=$((TESTS_PASSED + p))
			TESTS_FAILED=$((TESTS_FAILED + f))
			TESTS_SKIPPED=$((TESTS_SKIPPED + k))
		else
			echo "not ok worker-$name: the cases of $name ended without their counts"
			TESTS_FAILED=$((TESTS_FAILED + 1))
		fi
	done
	WORKER_PIDS=()
}

# ---- the run ------------------------------------------------------------

PATTERNS=("$@")
T0=$(now_ms)

# The servers and their reference lists, whatever cases were asked for
# (every other case needs them).
for s in "${SERVERS[@]}"; do
	for c in start reference; do
		case_begin "$s-$c"
		"case_server_$c" "$s"
		if [ -n "$CASE" ]; then
			case_end
		fi
	done
done

# Cases with timing bounds first, alone.
run_case tls-implicit case_tls_implicit
run_case tls-implicit-gnutls case_tls_implicit_lib gnutls
run_case tls-implicit-openssl case_tls_implicit_lib openssl

# Then each server's cases, the servers in parallel (2 cores are enough).
for s in "${SERVERS[@]}"; do
	start_worker "$s" server_cases "$s"
done
collect_workers

echo "# $(($(now_ms) - T0)) ms"
finish

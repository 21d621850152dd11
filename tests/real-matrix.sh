#!/bin/bash
# tests/real-matrix.sh - the built plugin against REAL mail servers and REAL
# proxies on loopback (issue 13): Postfix (plain, with keywords discarded,
# with CHUNKING discarded, behind postscreen with and without its deep
# protocol tests), Exim, OpenSMTPD, sendmail, Haraka, aiosmtpd, smtp-sink;
# nginx's mail proxy, HAProxy (TCP), stunnel (implicit TLS, and protocol =
# smtp), proxsmtpd and spampd, each proxy in front of the plain Postfix.
# Every one is started by this suite with tests/servers/*.sh and stopped
# by it.
#
#   tests/real-matrix.sh [PATTERN...]   (bash globs on row names; all rows
#                                        when none is given)
#
# Each row runs the plugin once (or several times for --baseline) and
# asserts the CORRECT verdict: exit code, status line, key long-output
# lines. Correct means: OK where the server is clean or the proxy is
# transparent; the finding that says what really changed where a proxy (or
# a listener's own configuration) changes what the client sees; and never
# a box (Cisco PIX/ASA/FWSM/FTD) named for a server's own policy, such as
# a 4xx/5xx reply before it closes (RFC 5321 4.5.3.1 lets a server refuse a
# line over 512 octets and close).
#
# Rows whose correct verdict the plugin does not give yet are listed in
# XFAIL below with the reason: such a row that fails prints
# "xfail NAME: reason" and today's status line and is not counted as a
# failure; one that passes prints "not ok NAME: ... passes now" (remove it
# from XFAIL). Where a program cannot work on this machine, its rows say so
# ("# note:") and assert what the plugin reports about it.
#
# Needs root (Postfix, sendmail and OpenSMTPD run as root) and the packages
# of tests/servers/install-packages.sh. Prints "ok NAME" / "not ok NAME:
# reason" / "xfail NAME: reason" per row, then "N passed, M failed"; exits
# 1 if any failed, 99 if it cannot run. Environment: as tests/lib.sh.

# shellcheck source=tests/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"

: "${SERVERS_DIR:=$top_srcdir/tests/servers}"
PORT_MIN=20000
PORT_SPAN=40000
START_TRIES=8
# Baseline rows run the plugin this many times in a row.
BASELINE_RUNS=3
# Row groups run at most this many at once (2 cores: the plugin runs are
# short and mostly wait on the servers).
JOBS=4

# A box named in the status line: never right on this matrix, where no
# row has a Cisco box (or any other inspection firewall) in the path.
BOX_RE='Cisco|PIX|ASA|FWSM|FTD|MailGuard|looks like'
OK_FIRST='^SMTP FIXUP OK - '
WARN_FIRST='^SMTP FIXUP WARNING - '
CRIT_FIRST='^SMTP FIXUP CRITICAL - '
CLEAN='no SMTP inspection seen'

# ---- expected failures (what the plugin gets wrong today) --------------
# NAME -> reason. Keep in step with the issue that fixes each.
declare -A XFAIL=(
)
XFAILED=0

if [ "$(id -u)" -ne 0 ]; then
	echo "not ok real-matrix: this suite must run as root (it starts Postfix, sendmail and OpenSMTPD); run make check as root, as CI does"
	echo "0 passed, 1 failed"
	exit 1
fi
require_built "$PLUGIN"

# ---- the servers and proxies ----------------------------------------------
# NAME -> "SCRIPT ENV=VALUE..." ; proxies name their backend as @NAME.
SERVER_NAMES=(postfix postfix-discard postfix-nochunking postscreen postscreen-deep
	exim opensmtpd sendmail haraka aiosmtpd smtp-sink)
PROXY_NAMES=(nginx haproxy stunnel-wrap stunnel-smtp proxsmtp spampd)
declare -A SPEC=(
	[postfix]="postfix POSTFIX_VARIANT=plain"
	[postfix-discard]="postfix POSTFIX_VARIANT=discard"
	[postfix-nochunking]="postfix POSTFIX_VARIANT=nochunking"
	[postscreen]="postfix POSTFIX_VARIANT=postscreen"
	[postscreen-deep]="postfix POSTFIX_VARIANT=postscreen-deep"
	[exim]="exim"
	[opensmtpd]="opensmtpd"
	[sendmail]="sendmail"
	[haraka]="haraka"
	[aiosmtpd]="aiosmtpd"
	[smtp-sink]="smtp-sink"
	[nginx]="nginx-mail SRV_BACKEND=@postfix"
	[haproxy]="haproxy SRV_BACKEND=@postfix"
	[stunnel-wrap]="stunnel STUNNEL_MODE=wrap SRV_BACKEND=@postfix"
	[stunnel-smtp]="stunnel STUNNEL_MODE=smtp SRV_BACKEND=@postfix"
	[proxsmtp]="proxsmtp SRV_BACKEND=@postfix"
	[spampd]="spampd SRV_BACKEND=@postfix"
)
declare -A SPORT   # NAME -> port, once started
STARTED=()         # "SCRIPT DIR", in start order

random_port() {
	echo $((PORT_MIN + (RANDOM * 32768 + RANDOM) % PORT_SPAN))
}

# start_one NAME: start it on a free port (exit 3 = taken: another port);
# writes WORK/port-NAME, or WORK/start-NAME.err on failure.
start_one() {
	local name=$1 script=${SPEC[$1]%% *} envs=() w try port rc=1 t0
	t0=$(now_ms)
	for w in ${SPEC[$name]#"$script"}; do
		[[ $w == *=@* ]] && w=${w%%=*}=127.0.0.1:${SPORT[${w#*=@}]}
		envs+=("$w")
	done
	for ((try = 1; try <= START_TRIES; try++)); do
		port=$(random_port)
		env "${envs[@]}" "$SERVERS_DIR/$script.sh" start "$WORK/srv-$name" "$port" \
			>"$WORK/start-$name.out" 2>"$WORK/start-$name.err"
		rc=$?
		[ "$rc" -eq 3 ] || break
		"$SERVERS_DIR/$script.sh" stop "$WORK/srv-$name" >/dev/null 2>&1
	done
	[ "$rc" -eq 0 ] && echo "$port" >"$WORK/port-$name"
	echo $(($(now_ms) - t0)) >"$WORK/time-$name"
	return 0
}

# start_all NAME...: start them all at once; record ports and failures.
start_all() {
	local name pids=()
	for name in "$@"; do
		STARTED+=("${SPEC[$name]%% *} $WORK/srv-$name")
		start_one "$name" &
		pids+=("$!")
	done
	wait "${pids[@]}"
	for name in "$@"; do
		case_begin "start-$name"
		echo "# $name: start took $(cat "$WORK/time-$name" 2>/dev/null) ms"
		if [ -s "$WORK/port-$name" ]; then
			SPORT[$name]=$(cat "$WORK/port-$name")
		else
			fail "$name did not start; its log follows"
			sed 's/^/#   /' "$WORK/start-$name.err" | head -n 60
		fi
		case_end
	done
}

# Stop everything we started, proxies first (they hold connections to the
# backend), each stop waiting for its processes; then lib.sh's cleanup.
suite_cleanup() {
	local i script dir pids=()
	kill_bg_pids
	for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do
		read -r script dir <<<"${STARTED[i]}"
		"$SERVERS_DIR/$script.sh" stop "$dir" >"$dir.stop.log" 2>&1 &
		pids+=("$!")
	done
	[ ${#pids[@]} -eq 0 ] || wait "${pids[@]}"
	lib_cleanup
}
trap suite_cleanup EXIT

# ---- our own view of a server (not the plugin's) ----------------------------

# ehlo_count PORT [tls]: the number of extensions in the server's EHLO
# reply, read by bash /dev/tcp (or openssl s_client for implicit TLS):
# every line after the first whose keyword is not empty. Empty output if
# the server did not answer as a server should.
ehlo_count() {
	local port=$1 mode=${2:-plain} fd line n=0 first=1 done=
	if [ "$mode" = tls ]; then
		printf 'EHLO %s\r\nQUIT\r\n' "$FQDN" |
			timeout 10 openssl s_client -quiet -connect "127.0.0.1:$port" 2>/dev/null |
			tr -d '\r' | awk '/^250[- ]/ { if (seen++ && $0 !~ /^250[- ] *$/) n++ } /^250 / { print n; exit }'
		return
	fi
	exec {fd}<>"/dev/tcp/127.0.0.1/$port" || return 0
	while IFS= read -r -t 5 line <&"$fd"; do
		[[ $line == 220-* ]] || break
	done
	if [[ $line == 220\ * ]]; then
		(printf 'EHLO %s\r\n' "$FQDN" >&"$fd") 2>/dev/null
		while IFS= read -r -t 5 line <&"$fd"; do
			line=${line%$'\r'}
			[[ $line == 250[-\ ]* ]] || break
			if [ -n "$first" ]; then
				first=
			elif [[ ${line:4} == *[![:space:]]* ]]; then
				n=$((n + 1))
			fi
			if [[ $line == 250\ * ]]; then
				done=1
				break
			fi
		done
		(printf 'QUIT\r\n' >&"$fd") 2>/dev/null
	fi
	exec {fd}<&-
	[ -n "$done" ] && echo "$n"
}

# ---- rows ---------------------------------------------------------------------

PATTERNS=("$@")
selected() {
	local p
	[ ${#PATTERNS[@]} -eq 0 ] && return 0
	for p in "${PATTERNS[@]}"; do
		# shellcheck disable=SC2053 # a glob on purpose
		[[ $1 == $p ]] && return 0
	done
	return 1
}

# row_end: like case_end, with XFAIL.
row_end() {
	local reason=${XFAIL[$CASE]:-}
	if [ -z "$reason" ]; then
		case_end
		return
	fi
	if [ -z "$RC" ]; then
		# the plugin did not run (no server): a failure like any other
		case_end
		return
	fi
	if [ ${#FAILS[@]} -eq 0 ]; then
		fail "listed in XFAIL ($reason) but passes now: remove it from XFAIL"
		case_end
		return
	fi
	echo "xfail $CASE: $reason"
	echo "#   status today (exit $RC): ${FIRST%%|*}"
	echo "#   wanted: ${FAILS[0]}"
	XFAILED=$((XFAILED + 1))
	CASE=
}

# target NAME: fail the row unless NAME runs; sets TPORT.
target() {
	TPORT=${SPORT[$1]:-}
	if [ -z "$TPORT" ]; then
		fail "$1 is not running (see start-$1)"
		return 1
	fi
}

# plugin_at PORT ARGS...: the plugin with -t $T (a row may set T).
plugin_at() {
	local port=$1
	shift
	run_plugin $((T + 3)) -H 127.0.0.1 -p "$port" -F "$FQDN" -t "$T" "$@"
}

# Every row: a status line of the plugin's form, no box named.
common_checks() {
	[[ $FIRST =~ ^SMTP\ FIXUP\ (OK|WARNING|CRITICAL|UNKNOWN)\ -\  ]] || fail "not a status line: $FIRST"
	expect_first_not "$BOX_RE"
}

# expect_clean N: OK, no inspection seen, N extensions in the line, the
# perfdata and the list.
expect_clean() {
	expect_rc 0
	expect_first "${OK_FIRST}127\\.0\\.0\\.1:$TPORT .*$CLEAN, $1 ESMTP extensions?"
	expect_perf extensions "$1"
	expect_output "^Extensions \\($1\\): "
	expect_perf masked_extensions 0
	expect_perf banner_masked 0
	# an empty item in the list ("DSN, " at the end, or ", ,")
	grep -Eq '^Extensions \([0-9]+\): (.*, )?$|, ,' "$OUT" && fail "an empty item in the extension list: $(grep -m1 '^Extensions' "$OUT")"
	return 0
}

# own_count NAME [tls]: our client's count, or a failure.
own_count() {
	local n
	n=$(ehlo_count "${SPORT[$1]}" "${2:-plain}")
	if [ -z "$n" ]; then
		fail "our own client got no EHLO reply from $1"
		echo 0
		return
	fi
	echo "$n"
}

# row NAME FUNCTION TARGET [ARGS...]: one row, if selected.
row() {
	local name=$1 fn=$2 tgt=$3
	shift 3
	selected "$name" || return 0
	case_begin "$name"
	T=5
	if target "$tgt"; then
		"$fn" "$tgt" "$@"
		common_checks
	fi
	row_end
}

# ---- what each kind of row asserts ------------------------------------------------

# Clean: OK, and the extensions our own client counts.
r_plain() {
	local n
	n=$(own_count "$1")
	plugin_at "$TPORT"
	expect_clean "$n"
	expect_output_absent '^TLS: '
}

# STARTTLS works: OK, and the list inside TLS.
r_starttls() {
	plugin_at "$TPORT" -S
	expect_rc 0
	expect_first "$OK_FIRST.*$CLEAN"
	expect_output '^TLS: TLSv1'
	expect_output '^Extensions inside TLS \([0-9]+\): '
	expect_perf stripped_extensions 0
}

# --probe on a server whose replies are its own policy: OK, no box, no
# drop; a refusal followed by the server's close is at most a note that
# names the command it refused.
r_probe() {
	plugin_at "$TPORT" --probe
	expect_rc 0
	expect_first "$OK_FIRST.*$CLEAN"
	expect_first_not 'dropped|ASA|PIX|Cisco|looks like|RSET'
	expect_output_not '^\[(WARNING|CRITICAL|UNKNOWN)\]'
}

# --reference=REF: OK (the same server, or a transparent path).
r_ref_same() {
	local ref=$2
	shift 2
	plugin_at "$TPORT" --reference="127.0.0.1:${SPORT[$ref]}" "$@"
	expect_rc 0
	expect_first "$OK_FIRST.*$CLEAN"
	expect_output '^Reference path: 127\.0\.0\.1:'
}

# --reference=REF that offers more: CRITICAL naming exactly the keywords
# this path lacks, in the reference's order ($# after the shift: their
# number); "greeting differs" as well when GREETING is "differs".
r_ref_missing() {
	local ref=$2 greeting=$3 list
	shift 3
	list=$(printf '%s, ' "$@")
	plugin_at "$TPORT" --reference="127.0.0.1:${SPORT[$ref]}"
	expect_rc 2
	expect_first "${CRIT_FIRST}$# extensions? offered on the reference path but missing[^:]*: ${list%, }(;|\$)"
	if [ "$greeting" = differs ]; then
		expect_first 'greeting differs from the reference'
	else
		expect_first_not 'greeting differs'
	fi
}

# --baseline, several runs with a state folder of the row's own: the first
# records, every later run is OK and clean.
r_baseline() {
	local state=$CASE_DIR/state i
	mkdir -p "$state"
	for ((i = 1; i <= BASELINE_RUNS; i++)); do
		MP_STATE_PATH=$state plugin_at "$TPORT" --baseline "${@:2}"
		if [ "$i" = 1 ]; then
			expect_first 'baseline recorded \(first run\)'
		fi
		if [ "$RC" != 0 ] || [[ ! ${FIRST%%|*} =~ $OK_FIRST.*$CLEAN ]]; then
			fail "run $i of $BASELINE_RUNS: exit $RC, wanted OK"
			break
		fi
		[ "$i" = "$BASELINE_RUNS" ] || sleep 1.1   # a new second: dates in greetings move
	done
	expect_rc 0
	expect_first_not 'changed'
}

expect_output_absent() {
	if grep -Eq -- "$1" "$OUT"; then
		fail "an output line matches /$1/: $(grep -Em1 -- "$1" "$OUT")"
	fi
	return 0
}

# ---- rows special to one server or proxy ----------------------------------------------

# OpenSMTPD offers STARTTLS but its TLS does not work on bookworm (see
# tests/servers/opensmtpd.sh): the plugin must say the handshake failed
# after the server accepted STARTTLS, and name no box.
r_opensmtpd_starttls() {
	echo "# note: OpenSMTPD 6.8's TLS does not work with this machine's OpenSSL 3 (alert 'internal error'); asserting the plugin reports that"
	plugin_at "$TPORT" -S
	expect_rc 2
	expect_first "${CRIT_FIRST}STARTTLS accepted but the TLS handshake failed"
	expect_first 'alert'
}

# A server or proxy that offers no STARTTLS: WARNING, it says so.
r_no_starttls() {
	plugin_at "$TPORT" -S
	expect_rc 1
	expect_first "${WARN_FIRST}STARTTLS not offered"
	expect_first_not 'hidden|stripped'
}

# Implicit TLS port spoken to in clear text: no greeting comes (the server
# waits for a TLS ClientHello), CRITICAL, nothing else claimed.
r_tls_port_plain() {
	T=2
	plugin_at "$TPORT"
	expect_rc 2
	expect_first "${CRIT_FIRST}no answer from 127\\.0\\.0\\.1:$TPORT .*waiting for the greeting"
}

# --tls on the implicit-TLS port: the backend's own list, through TLS.
r_tls_clean() {
	local n
	n=$(own_count "$1" tls)
	plugin_at "$TPORT" --tls "${@:2}"
	expect_clean "$n"
	expect_output '^TLS: TLSv1'
}

# stunnel protocol=smtp: it greets (naming itself) and answers EHLO with
# STARTTLS alone; inside TLS the backend's list. Without -S: OK, one
# extension, the greeting names stunnel.
r_stunnel_smtp_plain() {
	plugin_at "$TPORT"
	expect_clean 1
	expect_output '^Greeting: 220 .*stunnel'
	expect_output '^Extensions \(1\): STARTTLS$'
}

# With -S: what the backend offers inside TLS is hidden outside by the path
# (stunnel): a true finding, CRITICAL, the keywords named, no box.
r_stunnel_smtp_starttls() {
	local k
	plugin_at "$TPORT" -S
	expect_rc 2
	expect_first "${CRIT_FIRST}[0-9]+ extensions hidden by the path"
	for k in PIPELINING SIZE ENHANCEDSTATUSCODES 8BITMIME CHUNKING; do
		expect_first "[ ,:]$k(,|$|;| )"
	done
	expect_output '^Extensions inside TLS \([0-9]+\): PIPELINING'
}

# stunnel protocol=smtp closes without a word on a command it does not
# expect (it waits for STARTTLS): the probe BDAT is dropped by the path. A
# true finding (CRITICAL, the command named), no vendor claimed.
r_stunnel_smtp_probe() {
	plugin_at "$TPORT" --probe
	expect_rc 2
	expect_first "${CRIT_FIRST}.*dropped after the probe BDAT"
}

# spampd relays lines, not the octets of a TLS handshake: STARTTLS is
# accepted by the backend, then the handshake hangs. CRITICAL, a timeout
# during the handshake, no box.
r_spampd_starttls() {
	T=3
	plugin_at "$TPORT" -S
	expect_rc 2
	expect_first "${CRIT_FIRST}no answer from .* during the TLS handshake"
}

# ---- the matrix ---------------------------------------------------------------------

# The rows of each group run in order; groups run in parallel.
group_mta() {   # NAME: a mail server alone
	local s=$1
	row "$s-plain" r_plain "$s"
	if [ "$s" = opensmtpd ]; then
		row "$s-S" r_opensmtpd_starttls "$s"
	elif [ "$s" = smtp-sink ]; then
		row "$s-S" r_no_starttls "$s"
	else
		row "$s-S" r_starttls "$s"
	fi
	row "$s-probe" r_probe "$s"
	row "$s-reference-self" r_ref_same "$s" "$s"
	row "$s-baseline" r_baseline "$s"
}

group_postfix_paths() {   # listeners of Postfix against the plain one
	row postfix-discard-reference r_ref_missing postfix-discard postfix same ETRN DSN SMTPUTF8
	row postfix-nochunking-reference r_ref_missing postfix-nochunking postfix same CHUNKING
	row postscreen-reference r_ref_same postscreen postfix
	# postscreen's own SMTP engine hides PIPELINING for its pipelining test
	row postscreen-deep-reference r_ref_missing postscreen-deep postfix same PIPELINING
}

group_nginx() {
	row nginx-plain r_plain nginx
	row nginx-S r_starttls nginx
	row nginx-probe r_probe nginx
	# nginx answers EHLO from smtp_capabilities: fewer keywords than Postfix
	row nginx-reference r_ref_missing nginx postfix differs PIPELINING VRFY ETRN SMTPUTF8 CHUNKING
	row nginx-baseline r_baseline nginx
}

group_haproxy() {
	row haproxy-plain r_plain haproxy
	row haproxy-S r_starttls haproxy
	row haproxy-probe r_probe haproxy
	row haproxy-reference r_ref_same haproxy postfix
	row haproxy-baseline r_baseline haproxy
}

group_stunnel() {
	row stunnel-wrap-plain r_tls_port_plain stunnel-wrap
	row stunnel-wrap-tls r_tls_clean stunnel-wrap
	row stunnel-wrap-tls-probe r_tls_clean stunnel-wrap --probe
	row stunnel-wrap-tls-reference r_ref_same stunnel-wrap postfix --tls
	row stunnel-wrap-tls-baseline r_baseline stunnel-wrap --tls
	row stunnel-smtp-plain r_stunnel_smtp_plain stunnel-smtp
	row stunnel-smtp-S r_stunnel_smtp_starttls stunnel-smtp
	row stunnel-smtp-probe r_stunnel_smtp_probe stunnel-smtp
	# stunnel sees a TLS ClientHello first and acts as a plain TLS wrapper
	row stunnel-smtp-tls r_tls_clean stunnel-smtp
	row stunnel-smtp-reference r_ref_missing stunnel-smtp postfix differs \
		PIPELINING SIZE VRFY ETRN ENHANCEDSTATUSCODES 8BITMIME DSN SMTPUTF8 CHUNKING
	row stunnel-smtp-baseline r_baseline stunnel-smtp
}

group_proxsmtp() {
	row proxsmtp-plain r_plain proxsmtp
	row proxsmtp-S r_no_starttls proxsmtp
	row proxsmtp-probe r_probe proxsmtp
	# proxsmtpd greets and answers EHLO itself, without PIPELINING,
	# STARTTLS and CHUNKING (and with XFILTERED)
	row proxsmtp-reference r_ref_missing proxsmtp postfix differs PIPELINING STARTTLS CHUNKING
	row proxsmtp-baseline r_baseline proxsmtp
}

group_spampd() {
	row spampd-plain r_plain spampd
	row spampd-S r_spampd_starttls spampd
	row spampd-probe r_probe spampd
	row spampd-reference r_ref_same spampd postfix
	row spampd-baseline r_baseline spampd
}

# run_groups GROUP...: each "FUNCTION ARGS" in a background subshell with
# counters of its own, at most JOBS at once; outputs printed in order.
# shellcheck disable=SC2030,SC2031 # each subshell's counters are its own
run_groups() {
	local i g running=() p f x
	for ((i = 0; i < $#; i++)); do
		g=${*:i+1:1}
		while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do
			wait -n
		done
		(
			trap 'exit 130' INT TERM HUP
			trap - EXIT
			TESTS_PASSED=0 TESTS_FAILED=0 XFAILED=0
			# shellcheck disable=SC2086 # "FUNCTION ARGS"
			$g
			echo "$TESTS_PASSED $TESTS_FAILED $XFAILED" >"$WORK/group-$i.counts"
		) >"$WORK/group-$i.out" 2>&1 &
		running+=("$!")
	done
	wait "${running[@]}"
	for ((i = 0; i < $#; i++)); do
		cat "$WORK/group-$i.out"
		if read -r p f x <"$WORK/group-$i.counts" 2>/dev/null; then
			TESTS_PASSED=$((TESTS_PASSED + p))
			TESTS_FAILED=$((TESTS_FAILED + f))
			XFAILED=$((XFAILED + x))
		else
			echo "not ok group-$i (${*:i+1:1}): ended without its counts"
			TESTS_FAILED=$((TESTS_FAILED + 1))
		fi
	done
}

T0=$(now_ms)
# The plain Postfix first (alone it starts in ~0.5 s): the proxies' backend.
# Then everything else at once.
start_all postfix
start_all "${SERVER_NAMES[@]:1}" "${PROXY_NAMES[@]}"
echo "# servers and proxies up after $(($(now_ms) - T0)) ms"

GROUPS_TO_RUN=()
for s in "${SERVER_NAMES[@]}"; do GROUPS_TO_RUN+=("group_mta $s"); done
GROUPS_TO_RUN+=(group_postfix_paths group_nginx group_haproxy group_stunnel group_proxsmtp group_spampd)
run_groups "${GROUPS_TO_RUN[@]}"

echo "# $XFAILED xfail (expected failures, listed in XFAIL)"
echo "# $(($(now_ms) - T0)) ms"
finish

#!/bin/bash
# tests/options.sh - option handling of the built plugin: every option with
# an empty, negative, huge, non-numeric, overlong (100 KB) or control-
# character value, missing values, a missing -H, unknown options and extra
# arguments must give exit code 3 (UNKNOWN) with a first line
# "SMTP FIXUP UNKNOWN - <reason>", then the usage; never a crash (exit code
# above 3, a signal), a hang, output on stderr, raw control characters in
# the output or the whole 100 KB value echoed back. Also --extra-opts: an
# ini file in a temp folder sets options (the plugin then talks to the port
# the file names), the command line overrides it, bad values in it are
# refused like bad options.
#
#   tests/options.sh [CASE-PREFIX...]
#
# A plugin that wrongly accepts a value tries to talk to 127.0.0.1 on a port
# that refuses connections (a tests/smtp-peer holding it with
# --connections 0), so no case leaves the machine.
#
# KNOWN_BUGS lists cases the plugin is known to get wrong: they are
# reported as "xfail" and do not fail the run, until they pass; then the
# run fails so that the list is kept true (like automake's XPASS).

# shellcheck source=tests/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"

require_built "$PLUGIN" "$PEER"

# Cases the plugin gets wrong today (see the report of issue 4).
KNOWN_BUGS=${KNOWN_BUGS-""}
XFAILED=0
# Seconds a rejected option may take; the plugin must not reach the network.
BOUND=10
# Longest first line accepted: a value must not be echoed whole.
FIRST_MAX=1024
# The ini files must come from the test only.
unset NAGIOS_CONFIG_PATH MP_CONFIG_FILE
export LC_ALL=C

# A port on 127.0.0.1 that refuses connections, held for the whole run.
CLOSED_PID=
start_closed_port() {
	local pf=$WORK/closed.port
	"$PEER" --script "$PEERS_DIR/silent.txt" --connections 0 --port-file "$pf" \
		--max-seconds 600 2>"$WORK/closed.err" &
	CLOSED_PID=$!
	BG_PIDS+=("$CLOSED_PID")
	if wait_port_file "$pf" "$CLOSED_PID"; then
		CLOSED=$(cat "$pf")
		return 0
	fi
	echo "cannot start the closed-port peer: $(head -c 300 "$WORK/closed.err")" >&2
	exit 99
}
start_closed_port

# 100 KB values.
printf -v BIG '%*s' 102400 ''
BIG_A=${BIG// /a}
BIG_9=${BIG// /9}
unset BIG
printf -v LONG_256 '%*s' 256 ''
LONG_256=${LONG_256// /a}

# Most cases run the plugin only: they use builtins, not lib.sh's
# run_plugin (several processes a case), so that the few hundred cases take
# seconds. Each run is still bounded by timeout(1).
QOUT=$WORK/quick.out
QERR=$WORK/quick.err

# quick_begin NAME: a case without a folder of its own.
quick_begin() {
	CASE=$1
	FAILS=()
	PEER_PID=
	PEER_LOG=
	RC=
	FIRST=
	OUT=$QOUT
}

# quick_run ARGS...: the plugin with ARGS; sets RC, OUTTEXT (all of
# stdout) and FIRST.
quick_run() {
	timeout -k 1 "$BOUND" "$PLUGIN" "$@" >"$QOUT" 2>"$QERR" </dev/null
	RC=$?
	OUTTEXT=
	IFS= read -r -d '' OUTTEXT <"$QOUT"
	FIRST=${OUTTEXT%%$'\n'*}
	if [ "$RC" -eq 124 ] || [ "$RC" -eq 137 ]; then
		fail "the plugin was still running after ${BOUND}s and was killed"
	fi
	if [ -s "$QERR" ]; then
		fail "the plugin wrote to stderr: $(head -c 200 "$QERR")"
	fi
}

# The output of the last run has no control character but line ends.
expect_no_control_chars() {
	local flat=${OUTTEXT//$'\n'/}
	if [[ $flat == *[[:cntrl:]]* ]]; then
		flat=${flat#*[[:cntrl:]]}
		fail "the output holds a raw control character (before '${flat:0:20}')"
	fi
}

# The run ended on its own with UNKNOWN, a reason and the usage.
expect_unknown() {
	if [[ $RC =~ ^[0-9]+$ ]] && [ "$RC" -gt 3 ]; then
		fail "exit code $RC: a crash or a signal, expected 3"
	else
		expect_rc 3
	fi
	[[ $FIRST =~ ^"SMTP FIXUP UNKNOWN - "[^[:space:]] ]] ||
		fail "first line is not 'SMTP FIXUP UNKNOWN - <reason>': '${FIRST:0:200}'"
	[ "${#FIRST}" -le "$FIRST_MAX" ] ||
		fail "first line has ${#FIRST} octets (the value echoed whole?), at most $FIRST_MAX expected"
	[[ $OUTTEXT == *$'\n'Usage:* ]] || fail "no usage after the reason"
	expect_no_control_chars
}

# full_run BOUND ARGS...: lib.sh's run_plugin (a case folder, any
# environment), then OUTTEXT as quick_run sets it.
full_run() {
	run_plugin "$@"
	OUTTEXT=
	IFS= read -r -d '' OUTTEXT <"$OUT"
}

# bad NAME ARGS...: the plugin, with a -H and a refusing port first, then
# ARGS, must give UNKNOWN with a reason.
bad() {
	local name=$1
	shift
	quick_begin "$name"
	quick_run -H 127.0.0.1 -p "$CLOSED" -t 3 "$@"
	expect_unknown
	end_case
}

# bare NAME ARGS...: the plugin with ARGS only.
bare() {
	local name=$1
	shift
	quick_begin "$name"
	quick_run "$@"
	expect_unknown
	end_case
}

is_known_bug() {
	case " $KNOWN_BUGS " in
	*" $1 "*) return 0 ;;
	esac
	return 1
}

# End a case; a known bug that fails is an xfail, one that passes fails.
end_case() {
	if ! is_known_bug "$CASE"; then
		case_end
		return
	fi
	if [ ${#FAILS[@]} -eq 0 ]; then
		fail "known bug fixed: remove $CASE from KNOWN_BUGS in tests/options.sh"
		case_end
		return
	fi
	[ -z "$PEER_PID" ] || peer_finish
	echo "xfail $CASE: ${FAILS[0]}"
	echo "#   first line: ${FIRST:0:300}"
	echo "#   exit code: $RC"
	XFAILED=$((XFAILED + 1))
	CASE=
}

# selected NAME: the case is among those asked for (all when none).
selected() {
	local p
	[ ${#SELECT[@]} -eq 0 ] && return 0
	for p in "${SELECT[@]}"; do
		[[ $1 == "$p"* ]] && return 0
	done
	return 1
}

# ---- every option of -h, with values it must refuse ----------------------
#
# The options are read from the plugin's own -h, so a new option is tested
# the day it appears. Each option with a value gets the values every option
# must refuse (empty, 100 KB, control characters, missing), plus those its
# kind of value must refuse, by the placeholder -h shows for it (INTEGER,
# SECONDS, RANGE, STATE...). A flag must refuse a value glued to it.

CTRL_VALUES=($'1\x01' $'\x1b[31m5' $'5\n\t')

# Values a kind of value must refuse, by the placeholder in -h.
printf -v KW65 '%*s' 65 ''
KW65=${KW65// /K}
MANY=$(printf 'K%d,' $(seq 1 33))
MANY=${MANY%,}
# shellcheck disable=SC2016,SC2054 # a literal $; the commas are values
bad_values_for() {
	case $1 in
	INTEGER) BADV=(-1 0 65536 99999999999999999999999999 abc "$BIG_9" ' 25' '25 ' 25x 0x19 +25 1e3 25.0) ;;
	SECONDS) BADV=(-1 0 -0 99999999999999999999999999 abc nan inf 1e999 0x10 "$BIG_9" ' 5') ;;
	RANGE) BADV=(abc 5:2 @ '~' : 1e999 nan 0x5 5s "$BIG_9") ;;
	STATE) BADV=(-1 4 99999999999999999999999999 abc okay 'critical ' "$BIG_9") ;;
	NAME) BADV=("$LONG_256" 'a b' a_b 'a/b' 'a@b' '[a b]') ;;
	ADDRESS) BADV=("$LONG_256" 'a b' 'a/b' '[]' 'mail;rm' 'ho$t') ;;
	EXT*) BADV=(, A, ,A A,,B 'STAR TTLS' A_B -1 "$KW65") ;;
	*) BADV=() ;;
	esac
}

# values OPT NAME VALUE...: "OPT VALUE" for each value, one case each.
values() {
	local opt=$1 name=$2 v i=0
	shift 2
	for v in "$@"; do
		i=$((i + 1))
		selected "${name}_$i" || continue
		bad "${name}_$i" "$opt" "$v"
	done
}

# The options of -h: "SHORT LONG PLACEHOLDER" lines (- for none) in OPTS.
OPTS=()
quick_run -h
while IFS= read -r line; do
	[[ $line =~ ^\ (-([A-Za-z0-9]),\ )?--([a-z0-9-]+)(=([^ ]*))?$ ]] || continue
	OPTS+=("${BASH_REMATCH[2]:--} ${BASH_REMATCH[3]} ${BASH_REMATCH[5]:--}")
done <<<"$OUTTEXT"
if [ ${#OPTS[@]} -lt 10 ]; then
	echo "cannot read the options from the plugin's -h (found ${#OPTS[@]})" >&2
	exit 99
fi

for o in "${OPTS[@]}"; do
	read -r short long ph <<<"$o"
	name=${long//-/_}
	case $long in
	help | version | extra-opts) continue ;; # below
	esac
	if [ "$ph" = - ]; then
		# a flag: a value glued to it is refused
		selected "${name}_with_value" && bad "${name}_with_value" "--$long=1"
		continue
	fi
	# what every option with a value refuses
	opt=--$long
	[ "$short" = - ] || opt=-$short
	values "$opt" "$name" '' "$BIG_A"
	for ((i = 0; i < ${#CTRL_VALUES[@]}; i++)); do
		selected "${name}_ctrl_$i" && bad "${name}_ctrl_$i" "$opt" "${CTRL_VALUES[i]}"
	done
	selected "${name}_ctrl_long" && bad "${name}_ctrl_long" "--$long=${CTRL_VALUES[0]}"
	selected "${name}_no_value" && bad "${name}_no_value" "$opt"
	selected "${name}_no_value_long" && bad "${name}_no_value_long" "--$long"
	selected "${name}_empty_long" && bad "${name}_empty_long" "--$long="
	# what its kind of value refuses
	bad_values_for "$ph"
	[ ${#BADV[@]} -eq 0 ] || values "$opt" "${name}_kind" "${BADV[@]}"
	if [ ${#BADV[@]} -eq 0 ]; then
		echo "# no checks for values of kind '$ph' (--$long): only the common ones"
	fi
done

# -R: more keywords than it takes, in one list and repeated
selected require_many && bad require_many -R "$MANY"
if selected require_repeated; then
	quick_begin require_repeated
	args=()
	for ((i = 1; i <= 33; i++)); do args+=(-R "K$i"); done
	quick_run -H 127.0.0.1 -p "$CLOSED" "${args[@]}"
	expect_unknown
	end_case
fi

# ---- unknown options, extra arguments, no -H -----------------------------

selected unknown_short && bad unknown_short -x
selected unknown_long && bad unknown_long --bogus
selected unknown_long_value && bad unknown_long_value --bogus=1
selected unknown_glued && bad unknown_glued -Z5
selected unknown_ctrl && bad unknown_ctrl $'-\x01'
selected unknown_ctrl_long && bad unknown_ctrl_long $'--\x1b[31m'
selected unknown_big && bad unknown_big "--$BIG_A"
selected ambiguous && bad ambiguous --e=ok
selected extra_argument && bad extra_argument extra
selected extra_argument_first && bare extra_argument_first extra -H 127.0.0.1 -p "$CLOSED"
selected extra_dash && bad extra_dash -
selected extra_after_dashes && bad extra_after_dashes -- -v
selected extra_big && bad extra_big "$BIG_A"
selected no_arguments && bare no_arguments
selected no_host && bare no_host -p 25 -t 3
selected no_host_verbose && bare no_host_verbose -v
selected empty_argument && bad empty_argument ''

# -h and -V end at once with OK and say who they are.
for o in -h --help -V --version; do
	name=info${o//-/_}
	selected "$name" || continue
	quick_begin "$name"
	quick_run "$o"
	expect_rc 0
	[[ $FIRST == *check_smtp_fixup* ]] || fail "first line does not name the plugin: '$FIRST'"
	expect_no_control_chars
	end_case
done

# ---- --extra-opts ---------------------------------------------------------

# ini NAME: write the ini file of the case from stdin; its path in INI.
ini() {
	INI=$CASE_DIR/$1
	cat >"$INI"
}

# The plugin talked to the peer of the case, which answered as a clean
# Postfix: OK naming the peer's port.
expect_talked_to_peer() {
	expect_rc 0
	expect_first "^SMTP FIXUP OK - 127\\.0\\.0\\.1:$PEER_PORT "
	expect_log '^C: EHLO'
}

if selected extra_opts_sets_host_port; then
	case_begin extra_opts_sets_host_port
	peer_start clean-postfix
	ini plugins.ini <<-END
		# options for check_smtp_fixup
		[check_smtp_fixup]
		hostname = 127.0.0.1
		port=$PEER_PORT
		fqdn=$FQDN
		timeout=$T
	END
	run_plugin $((T + 2)) --extra-opts="@$INI"
	peer_finish
	expect_talked_to_peer
	end_case
fi

if selected extra_opts_section; then
	case_begin extra_opts_section
	peer_start clean-postfix
	ini plugins.ini <<-END
		[check_smtp_fixup]
		port=$CLOSED
		[mail_dmz]
		hostname=127.0.0.1
		port=$PEER_PORT
		fqdn=$FQDN
	END
	run_plugin $((T + 2)) --extra-opts="mail_dmz@$INI" -t "$T"
	peer_finish
	expect_talked_to_peer
	end_case
fi

if selected extra_opts_default_file; then
	case_begin extra_opts_default_file
	peer_start clean-postfix
	ini monitoring-plugins.ini <<-END
		[check_smtp_fixup]
		hostname=127.0.0.1
		port=$PEER_PORT
		fqdn=$FQDN
	END
	MP_CONFIG_FILE=$INI run_plugin $((T + 2)) --extra-opts -t "$T"
	peer_finish
	expect_talked_to_peer
	end_case
fi

if selected extra_opts_overridden; then
	# ini options come first: the command line wins
	case_begin extra_opts_overridden
	peer_start clean-postfix
	ini plugins.ini <<-END
		[check_smtp_fixup]
		hostname=127.0.0.1
		port=$CLOSED
	END
	run_plugin $((T + 2)) --extra-opts="@$INI" -p "$PEER_PORT" -F "$FQDN" -t "$T"
	peer_finish
	expect_talked_to_peer
	end_case
fi

# ini files with bad contents: UNKNOWN with a reason, like bad options
extra_bad() {
	local name=$1
	shift
	selected "$name" || return 0
	case_begin "$name"
	ini plugins.ini
	full_run "$BOUND" --extra-opts="@$INI" "$@"
	expect_unknown
	end_case
}

extra_bad extra_opts_bad_port <<-END
	[check_smtp_fixup]
	hostname=127.0.0.1
	port=abc
END
extra_bad extra_opts_bad_state <<-END
	[check_smtp_fixup]
	hostname=127.0.0.1
	port=$CLOSED
	banner-masked=sometimes
END
extra_bad extra_opts_unknown_key <<-END
	[check_smtp_fixup]
	hostname=127.0.0.1
	port=$CLOSED
	bogus=1
END
extra_bad extra_opts_big_value <<-END
	[check_smtp_fixup]
	hostname=127.0.0.1
	port=$CLOSED
	fqdn=$BIG_A
END
extra_bad extra_opts_ctrl_value < <(printf '[check_smtp_fixup]\nhostname=127.0.0.1\nport=%s\nfqdn=a\033[31mb\n' "$CLOSED")
extra_bad extra_opts_no_host <<-END
	[check_smtp_fixup]
	port=$CLOSED
END
extra_bad extra_opts_missing_section <<-END
	[other_plugin]
	hostname=127.0.0.1
END

if selected extra_opts_missing_file; then
	case_begin extra_opts_missing_file
	full_run "$BOUND" --extra-opts="@$CASE_DIR/no-such-file.ini" -H 127.0.0.1 -p "$CLOSED"
	expect_unknown
	end_case
fi

if selected extra_opts_no_file; then
	# no value and no ini file in any standard place (none is assumed to
	# exist on a test machine; MP_CONFIG_FILE is unset)
	case_begin extra_opts_no_file
	if [ -e /etc/monitoring-plugins/monitoring-plugins.ini ] || [ -e /etc/monitoring-plugins.ini ] ||
		[ -e /usr/local/etc/monitoring-plugins/monitoring-plugins.ini ] ||
		[ -e /usr/local/etc/monitoring-plugins.ini ] || [ -e /etc/nagios/plugins.ini ] ||
		[ -e /etc/nagios-plugins.ini ]; then
		case_skip "a monitoring-plugins ini file exists on this machine"
	else
		full_run "$BOUND" --extra-opts -H 127.0.0.1 -p "$CLOSED"
		expect_unknown
		end_case
	fi
fi

if [ "$XFAILED" -gt 0 ]; then
	echo "# $XFAILED known bugs (xfail): $KNOWN_BUGS"
fi
finish

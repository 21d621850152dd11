#!/bin/bash
# tests/icinga2.sh - the plugin as operators run it: "make install" into a
# temp folder, then a throw-away Icinga 2 (Debian's package) runs the
# installed plugin through the installed contrib/icinga2/check_smtp_fixup.conf
# against a clean mail server and the same server behind an emulated Cisco
# ASA, and the results are read back through Icinga's REST API.
#
#   tests/icinga2.sh
#
# Cases:
#   install          make install DESTDIR=...: the plugin in libexecdir, the
#                    man page in man1dir, the definitions in docdir/examples
#   man-page         groff -man -ww has nothing to warn about
#   options-in-sync  every option of --help is in the man page, the Icinga 2
#                    CheckCommand and the Nagios definitions; the
#                    CheckCommand has no option --help does not know
#   nagios-config    nagios4 -v accepts the installed Nagios definitions and
#                    services using each (skipped when there is no nagios4)
#   icinga2-start    Icinga 2 starts from a config of its own (its own state,
#                    log, run and cache folders under the work folder), the
#                    API answers on 127.0.0.1 with the certificate and the
#                    API user made here; if not, Icinga's log is printed
#   checkcommand     the CheckCommand as the API shows it: the installed
#                    plugin, every argument described, smtp_fixup_* vars
#   checks-forced    POST /v1/actions/reschedule-check (force) on every
#                    service; each has a new result within a bound
#   HOST/SERVICE     one per service: Icinga's command line is what its
#                    custom variables ask for; its state, plugin output and
#                    performance data (GET /v1/objects/services) are what the
#                    plugin prints when run directly with that command line
#                    (times aside); Icinga's own parse of the perfdata
#                    (parse_performance_data, through /v1/console) has the
#                    labels, values, units and thresholds of the raw items
#   icinga2-log      Icinga logged no critical/ line
#   icinga2-stop     SIGTERM stops Icinga with all its processes
#
# It installs nothing: the Debian packages it needs are listed in
# tests/icinga2/packages. Without them the Icinga cases are skipped (exit 77
# when nothing failed), or fail when CI=true. Prints "ok NAME" or
# "not ok NAME: reason" per case, then "N passed, M failed"; exit 1 if any
# failed. Every process it starts is stopped by its pid on exit.
#
# Environment: top_srcdir, top_builddir, sf_libexecdir, sf_man1dir and
# sf_examplesdir (set by make check); ICINGA2 names another icinga2,
# NAGIOS4 a nagios4 (default: the one on PATH, if any);
# USE_PEER=1 plays tests/peers scripts with tests/smtp-peer even when the
# emulator is built; KEEP_TMP=1 keeps the work folder (Icinga's config,
# log and state, each case's files).

# shellcheck source=tests/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh" || exit 99
# Everything below writes under WORK only.
if [ -z "${WORK:-}" ] || [ ! -d "$WORK" ]; then
	echo "tests/lib.sh made no work folder" >&2
	exit 99
fi

EMU=$top_builddir/tools/smtp-inspect-emu
PACKAGES_FILE=$top_srcdir/tests/icinga2/packages
CHECK_TIMEOUT=5    # the plugin's -t in every service

# shellcheck source=tests/icinga2/lib.sh
. "$top_srcdir/tests/icinga2/lib.sh" || exit 99

# ---- Icinga 2's configuration ----------------------------------------

# The ITL, the installed CheckCommand, an API listener on 127.0.0.1 (the
# kernel picks the port), a user, the hosts and the services.
write_icinga_config() {
	cat >"$ICINGA_DIR/etc/icinga2.conf" <<EOF
/* Written by tests/icinga2.sh for a throw-away instance. */
include <itl>
include <plugins>

const PluginDir = $(dsl_string "$INST_LIBEXEC")
include $(dsl_string "$INST_EXAMPLES/check_smtp_fixup.conf")

$(icinga_api_config)

template Host "smtp-fixup-test-host" {
	check_command = "dummy"
	enable_active_checks = false
	address = "127.0.0.1"
}
/* Checked only when forced (the API's force runs checks that are disabled):
 * no scheduled check comes between the forced one and the comparison. */
template Service "smtp-fixup-test" {
	check_command = "smtp_fixup"
	enable_active_checks = false
	check_interval = 1h
	retry_interval = 1h
	max_check_attempts = 1
	enable_notifications = false
	enable_flapping = false
	vars.smtp_fixup_fqdn = "$FQDN"
	vars.smtp_fixup_timeout = $CHECK_TIMEOUT
}

/* The port is a host variable: a service's macros fall back to its host's. */
object Host "clean" {
	import "smtp-fixup-test-host"
	vars.smtp_fixup_port = $CLEAN_PORT
}
object Host "asa" {
	import "smtp-fixup-test-host"
	vars.smtp_fixup_port = $ASA_PORT
}
object Host "closed" {
	import "smtp-fixup-test-host"
	vars.smtp_fixup_port = $CLOSED_PORT
}

object Service "default" {
	import "smtp-fixup-test"
	host_name = "clean"
}
object Service "thresholds" {
	import "smtp-fixup-test"
	host_name = "clean"
	vars.smtp_fixup_warning = 2
	vars.smtp_fixup_critical = 5
	vars.smtp_fixup_require = [ "STARTTLS", "8BITMIME" ]
}
object Service "missing" {
	import "smtp-fixup-test"
	host_name = "clean"
	vars.smtp_fixup_require = "8BITMIME,DELIVERBY"
	vars.smtp_fixup_missing_extension = "warning"
	vars.smtp_fixup_ipv4 = true
}
object Service "bad-option" {
	import "smtp-fixup-test"
	host_name = "clean"
	vars.smtp_fixup_timeout = "soon"
}
object Service "extra-opts" {
	import "smtp-fixup-test"
	host_name = "clean"
	vars.smtp_fixup_extra_opts = $(dsl_string "fixup@$EXTRA_INI")
}
object Service "default" {
	import "smtp-fixup-test"
	host_name = "asa"
}
object Service "relaxed" {
	import "smtp-fixup-test"
	host_name = "asa"
	vars.smtp_fixup_extensions_masked = "warning"
	vars.smtp_fixup_banner_masked = "ok"
	vars.smtp_fixup_verbose = true
}
object Service "refused" {
	import "smtp-fixup-test"
	host_name = "closed"
}
EOF
}

# Each service: HOST/SERVICE, the state it must have, and the options
# Icinga must give the plugin (any order; CLEAN, ASA, CLOSED: the ports).
EXPECT=(
	"clean/default 0 -H 127.0.0.1 -p CLEAN -t $CHECK_TIMEOUT -F $FQDN"
	"clean/thresholds 0 -H 127.0.0.1 -p CLEAN -t $CHECK_TIMEOUT -F $FQDN -w 2 -c 5 -R STARTTLS -R 8BITMIME"
	"clean/missing 1 -H 127.0.0.1 -p CLEAN -t $CHECK_TIMEOUT -F $FQDN -R 8BITMIME,DELIVERBY --missing-extension warning -4"
	"clean/bad-option 3 -H 127.0.0.1 -p CLEAN -t soon -F $FQDN"
	"clean/extra-opts 1 -H 127.0.0.1 -p CLEAN -t $CHECK_TIMEOUT -F $FQDN --extra-opts=fixup@INI"
	"asa/default 2 -H 127.0.0.1 -p ASA -t $CHECK_TIMEOUT -F $FQDN"
	"asa/relaxed 1 -H 127.0.0.1 -p ASA -t $CHECK_TIMEOUT -F $FQDN --extensions-masked warning --banner-masked ok -v"
	"closed/refused 2 -H 127.0.0.1 -p CLOSED -t $CHECK_TIMEOUT -F $FQDN"
)

# ---- comparing -------------------------------------------------------

# Options of the plugin that take no value.
FLAG_OPTS=" -4 -6 -S --tls --probe -v "

# Print the options of an argument list, one "OPTION [VALUE]" a line,
# sorted (the order of Icinga's arguments is its own business).
option_lines() {
	local a pending="" out=()
	for a in "$@"; do
		if [ -n "$pending" ]; then
			out+=("$pending $a")
			pending=
		elif [[ $FLAG_OPTS == *" $a "* ]] || [[ $a == --*=* ]] || [[ $a != -* ]]; then
			out+=("$a")
		else
			pending=$a
		fi
	done
	[ -z "$pending" ] || out+=("$pending")
	printf '%s\n' "${out[@]}" | sort
}

# The output as Icinga keeps it (CUT=1): on each line, a "|" with a "="
# after it starts performance data, which goes; trailing blank lines go.
# Times vary from run to run: "N.NNN s" becomes "<t> s".
text_of() {
	awk -v cut="$1" '
	{
		p = index($0, "|")
		if (cut && p > 0 && index(substr($0, p + 1), "=") > 0)
			$0 = substr($0, 1, p - 1)
		gsub(/[0-9]+\.[0-9]+ s/, "<t> s")
		line[NR] = $0
	}
	END {
		n = NR
		while (n > 0 && line[n] ~ /^[ \t\r]*$/) n--
		for (i = 1; i <= n; i++) print line[i]
	}'
}

# A perfdata item with the value of a time* label replaced by "<t>".
norm_item() {
	local re="^('?time[a-z_]*'?=)[0-9.]+(.*)$"
	if [[ $1 =~ $re ]]; then
		echo "${BASH_REMATCH[1]}<t>${BASH_REMATCH[2]}"
	else
		echo "$1"
	fi
}

# jq, on the console's answer for one service ($got: {raw, parsed}): the raw
# items are those of the GET (the arguments); each as parse_performance_data
# must give it (without "type"; "U" items left as text) against Icinga's
# parse. One line per difference.
# shellcheck disable=SC2016 # jq program
JQ_PARSED='
def num: if . == null or . == "" then null else tonumber end;
def unit: {"": "", "s": "seconds"}[.] // ("unknown unit " + .);
[$got.raw[]
 | if test("=U") then .
   else capture("^(?<q>'"'"'?)(?<label>[^'"'"'=]+)\\k<q>=(?<value>[-0-9.]+)(?<uom>[a-zA-Z%]*)(;(?<warn>[^;]*))?(;(?<crit>[^;]*))?(;(?<min>[^;]*))?(;(?<max>[^;]*))?$")
     // {label: ("unparsable: " + .)}
     | {"label": .label, value: (.value | num), unit: (.uom // "" | unit), warn: (.warn | num),
        crit: (.crit | num), min: (.min | num), max: (.max | num), counter: false}
   end] as $want
| ($got.parsed | map(if type == "object" then del(.type) else . end)) as $have
| if $got.raw != $ARGS.positional then
    "the console saw other items than GET /v1/objects/services: \($got.raw | join(" "))"
  else empty end,
  if ($want | length) != ($have | length) then
    "Icinga parsed \($have | length) items, the perfdata has \($want | length)"
  else
    range(0; $want | length) | select($want[.] != $have[.])
    | "item \(. + 1): expected \($want[.] | tojson), Icinga parsed \($have[.] | tojson)"
  end'

# Icinga DSL for the console: for each service of this test, keyed by
# "host/service", the perfdata it stored (raw) and Icinga's parse of it
# (parsed; "U" items kept as text: Icinga 2.13 cannot parse them).
PARSE_SCRIPT='var r = {}
for (s in get_objects(Service)) {
	if (s.check_command != "smtp_fixup" || !s.last_check_result) { continue }
	var pd = s.last_check_result.performance_data
	if (!pd) { pd = [] }
	r[s.host_name + "/" + s.name] = {
		raw = pd
		parsed = pd.map(function(p) {
			if (p.contains("=U")) { return p }
			return parse_performance_data(p)
		})
	}
}
r'

# ---- 1. install ------------------------------------------------------

PLUGIN_BIN=$PLUGIN
DEST=$WORK/destdir
case_begin install
if ! env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$top_builddir" install \
	DESTDIR="$DEST" >"$CASE_DIR/make.log" 2>&1; then
	fail "make install DESTDIR=$DEST failed"
	show "$CASE_DIR/make.log" 30 make
fi
# The folders configure chose; run by hand, look for the files.
if [ -n "${sf_libexecdir:-}" ]; then
	INST_LIBEXEC=$DEST$sf_libexecdir
	INST_MAN1=$DEST$sf_man1dir
	INST_EXAMPLES=$DEST$sf_examplesdir
else
	INST_LIBEXEC=$(dirname "$(find "$DEST" -type f -name check_smtp_fixup | head -n 1)")
	INST_MAN1=$(dirname "$(find "$DEST" -type f -name check_smtp_fixup.1 | head -n 1)")
	INST_EXAMPLES=$(dirname "$(find "$DEST" -type f -name check_smtp_fixup.conf | head -n 1)")
fi
if [ -x "$INST_LIBEXEC/check_smtp_fixup" ]; then
	PLUGIN_BIN=$INST_LIBEXEC/check_smtp_fixup
	v=$("$PLUGIN_BIN" -V 2>&1)
	[[ $v == "check_smtp_fixup "* ]] || fail "the installed plugin's -V says: ${v:0:200}"
	note "plugin: ${INST_LIBEXEC#"$DEST"}/check_smtp_fixup"
	# -S loads a TLS library: a refused connection, not "cannot use TLS"
	v=$("$PLUGIN_BIN" -H 127.0.0.1 -p 1 -S -t 3 2>&1 | head -n 1)
	[[ $v == "SMTP FIXUP CRITICAL - "* ]] ||
		fail "the installed plugin with -S says: ${v:0:200}"
else
	fail "no executable check_smtp_fixup in ${INST_LIBEXEC#"$DEST"}"
fi
[ -f "$INST_MAN1/check_smtp_fixup.1" ] || fail "no check_smtp_fixup.1 in ${INST_MAN1#"$DEST"}"
for f in icinga2/check_smtp_fixup.conf nagios/check_smtp_fixup.cfg; do
	cmp -s "$top_srcdir/contrib/$f" "$INST_EXAMPLES/${f#*/}" ||
		fail "contrib/$f is not installed as ${INST_EXAMPLES#"$DEST"}/${f#*/}"
done
case_done

# ---- 2. the man page -------------------------------------------------

case_begin man-page
MAN_PAGE=$INST_MAN1/check_smtp_fixup.1
[ -f "$MAN_PAGE" ] || MAN_PAGE=$top_srcdir/doc/check_smtp_fixup.1
if ! command -v groff >/dev/null; then
	fail "groff is not installed (package groff-base)"
else
	w=$(LC_ALL=C.UTF-8 groff -man -ww -z -Tutf8 "$MAN_PAGE" 2>&1) || fail "groff exits $?"
	[ -z "$w" ] || fail "groff warns: ${w:0:300}"
fi
mapfile -t man_lines <"$MAN_PAGE"
for s in NAME SYNOPSIS DESCRIPTION OPTIONS OUTPUT "EXIT STATUS" EXAMPLES "SEE ALSO"; do
	[[ " ${man_lines[*]/#/|} " == *"|.SH $s "* ]] || fail "no section $s"
done
case_done

# ---- 3. options in step ----------------------------------------------

case_begin options-in-sync
# "SHORT LONG" for each option of --help ("-": no short one), -h and -V aside.
mapfile -t OPTIONS < <("$PLUGIN_BIN" -h | sed -nE 's/^ (-([A-Za-z0-9]), )?--([a-z0-9-]+).*/\2 \3/p' |
	awk '$NF != "help" && $NF != "version" { print (NF == 2 ? $1 : "-"), $NF }')
[ ${#OPTIONS[@]} -gt 0 ] || fail "no options found in --help"
IFS= read -rd '' man_text <"$MAN_PAGE"
IFS= read -rd '' icinga_text <"$top_srcdir/contrib/icinga2/check_smtp_fixup.conf"
IFS= read -rd '' nagios_text <"$top_srcdir/contrib/nagios/check_smtp_fixup.cfg"
declare -A KNOWN=()
for o in "${OPTIONS[@]}"; do
	short=${o% *} long=${o#* }
	# the man page escapes each "-": \-\-long, \-S
	[[ $man_text == *"\\-\\-${long//-/\\-}"* ]] || fail "--$long is not in the man page"
	key=--$long
	if [ "$short" != - ]; then
		[[ $man_text == *"\\-$short"* ]] || fail "-$short is not in the man page"
		key=-$short
	fi
	KNOWN[$key]=1
	[[ $icinga_text == *$'\t\t"'"$key"'" = {'* ]] ||
		fail "$key (--$long) has no argument in the Icinga 2 CheckCommand"
	re="(^|[[:space:]!])$key([[:space:]=]|$)"
	[[ $nagios_text =~ $re ]] || fail "$key (--$long) is not in the Nagios definitions"
done
# and no CheckCommand argument that --help does not know
while IFS= read -r line; do
	re=$'^\t\t"(-[^"]+)" = \\{$'
	if [[ $line =~ $re ]] && [ -z "${KNOWN[${BASH_REMATCH[1]}]:-}" ]; then
		fail "the CheckCommand has ${BASH_REMATCH[1]}, which --help does not know"
	fi
done <"$top_srcdir/contrib/icinga2/check_smtp_fixup.conf"
case_done

# ---- 3b. Nagios reads the definitions (when nagios4 is there) ------

# Not in tests/icinga2/packages: Debian's nagios4-core pulls in a mail
# client and an MTA. NAGIOS4 may name a binary (e.g. from the .deb
# unpacked with dpkg-deb -x); it only needs libc.
: "${NAGIOS4:=$(command -v nagios4 || true)}"
case_begin nagios-config
if [ -z "$NAGIOS4" ] || [ ! -x "$NAGIOS4" ]; then
	case_skip "nagios4 not installed (set NAGIOS4 to a nagios4 binary)"
else
	N=$CASE_DIR
	printf '%s\n' "cfg_file=$N/objects.cfg" "cfg_file=$INST_EXAMPLES/check_smtp_fixup.cfg" \
		"resource_file=$N/resource.cfg" "log_file=$N/nagios.log" "status_file=$N/status.dat" \
		"temp_file=$N/nagios.tmp" "temp_path=$N" "lock_file=$N/nagios.lock" \
		"check_result_path=$N" "object_cache_file=$N/objects.cache" \
		"precached_object_file=$N/objects.precache" "state_retention_file=$N/retention.dat" \
		"command_file=$N/nagios.cmd" "nagios_user=$(id -un)" "nagios_group=$(id -gn)" \
		'illegal_macro_output_chars=`~$&|"<>'"'" >"$N/nagios.cfg"
	echo "\$USER1\$=$INST_LIBEXEC" >"$N/resource.cfg"
	{
		printf 'define timeperiod {\n timeperiod_name always\n alias always\n'
		for d in monday tuesday wednesday thursday friday saturday sunday; do
			printf ' %s 00:00-24:00\n' "$d"
		done
		printf '}\n'
		printf 'define contact {\n contact_name nobody\n host_notifications_enabled 0\n'
		printf ' service_notifications_enabled 0\n host_notification_period always\n'
		printf ' service_notification_period always\n host_notification_options n\n'
		printf ' service_notification_options n\n host_notification_commands check_smtp_fixup\n'
		printf ' service_notification_commands check_smtp_fixup\n}\n'
		printf 'define host {\n host_name mail.example.org\n address 127.0.0.1\n'
		printf ' max_check_attempts 1\n check_period always\n contacts nobody\n'
		printf ' notification_period always\n}\n'
		for c in 'check_smtp_fixup' 'check_smtp_fixup!--banner-masked=critical' \
			'check_smtp_fixup_require!2!5!STARTTLS,8BITMIME' 'check_smtp_fixup_starttls!587'; do
			printf 'define service {\n host_name mail.example.org\n service_description %s\n' "${c//[!a-z0-9_]/_}"
			printf ' check_command %s\n max_check_attempts 1\n check_interval 5\n' "$c"
			printf ' retry_interval 1\n check_period always\n notification_period always\n'
			printf ' contacts nobody\n}\n'
		done
	} >"$N/objects.cfg"
	if ! "$NAGIOS4" -v "$N/nagios.cfg" >"$N/verify.log" 2>&1; then
		fail "nagios4 -v rejects the definitions"
		show "$N/verify.log" 30 nagios4
	elif ! grep -q '^Total Warnings: *0' "$N/verify.log"; then
		fail "nagios4 -v warns"
		show "$N/verify.log" 30 nagios4
	else
		note "$(grep -m1 'Checked .* commands' "$N/verify.log" | tr -d '\t')"
	fi
fi
[ -z "${CASE:-}" ] || case_done

# ---- Icinga 2 is there? ----------------------------------------------

ICINGA_CASES=(icinga2-start checkcommand checks-forced)
for e in "${EXPECT[@]}"; do ICINGA_CASES+=("${e%% *}"); done
ICINGA_CASES+=(icinga2-log icinga2-stop)
MISSING=$(missing_packages "$PACKAGES_FILE")
command -v "$ICINGA2" >/dev/null || MISSING+=" $ICINGA2"
if [ -n "${MISSING// /}" ]; then
	why="not installed:${MISSING%% } (see tests/icinga2/packages)"
	if [ "${CI:-}" = true ]; then
		cases_not_run fail "$why" "${ICINGA_CASES[@]}"
	else
		cases_not_run skip "$why" "${ICINGA_CASES[@]}"
	fi
	finish || exit 1
	exit 77
fi

# ---- 4. Icinga 2 starts ----------------------------------------------

T_START=$(now_ms)
case_begin icinga2-start
icinga_prepare
# A closed port: one a server had, once it is gone.
if server_start closed none clean-postfix; then
	CLOSED_PORT=$SERVER_PORT
	kill "${SERVER_PIDS[-1]}" 2>/dev/null
	wait "${SERVER_PIDS[-1]}" 2>/dev/null
	server_start clean none clean-postfix || fail "the clean mail server did not start"
	CLEAN_PORT=$SERVER_PORT
	server_start asa asa asa || fail "the ASA-masked mail server did not start"
	ASA_PORT=$SERVER_PORT
	note "mail servers: $SERVER_KIND: clean on $CLEAN_PORT, asa on $ASA_PORT, nothing on $CLOSED_PORT"
else
	fail "no mail server started ($SERVER_KIND)"
fi
show "$WORK/closed.err" 5 server

# Options from an ini file (--extra-opts): a required extension the server
# lacks, at WARNING.
EXTRA_INI=$ICINGA_DIR/etc/plugins.ini
printf '%s\n' '[fixup]' 'require=DELIVERBY' 'missing-extension=warning' >"$EXTRA_INI"
write_icinga_config

if [ ${#FAILS[@]} -eq 0 ] && icinga_start "$ICINGA_DIR/etc/icinga2.conf"; then
	note "API on 127.0.0.1:$API_PORT, answering $(($(now_ms) - T_START)) ms after the first mail server started"
fi
if ! case_done; then
	cases_not_run fail "Icinga 2 did not start" "${ICINGA_CASES[@]:1}"
	finish
	exit 1
fi

# ---- 5. the CheckCommand as Icinga loaded it ------------------------

case_begin checkcommand
if api GET /v1/objects/checkcommands/smtp_fixup >"$CASE_DIR/cc.json"; then
	# shellcheck disable=SC2016 # jq program
	notes=$(jq -r --arg bin "$PLUGIN_BIN" '.results[0].attrs as $a
		| ($a.command | if . == [$bin] then empty
			else "command is \(tojson), expected [\($bin | tojson)]" end),
		  ($a.arguments | to_entries[]
			| select((.value.description // "") == "")
			| "argument \(.key) has no description"),
		  ($a.arguments | to_entries[]
			| select(((.value.value // "")
					+ (.value.set_if // "" | if type == "string" then . else "" end))
				| test("\\$smtp_fixup_[a-z0-9_]+\\$") | not)
			| "argument \(.key) uses no $smtp_fixup_*$ variable"),
		  (if $a.vars.smtp_fixup_address == "$check_address$" then empty
			else "vars.smtp_fixup_address is \($a.vars.smtp_fixup_address | tojson)" end)' \
		"$CASE_DIR/cc.json" 2>&1) || fail "jq could not read the CheckCommand"
	while IFS= read -r line; do
		[ -z "$line" ] || fail "$line"
	done <<<"$notes"
else
	fail "GET /v1/objects/checkcommands/smtp_fixup failed: $(head -c 300 "$CASE_DIR/cc.json")"
fi
case_done

# ---- 6. force the checks, wait for the results -----------------------

case_begin checks-forced
icinga_force_checks ${#EXPECT[@]}
# Icinga's parse of every service's perfdata, in one request.
body=$(jq -cn --arg c "$PARSE_SCRIPT" '{command: $c, sandboxed: false}')
if api POST /v1/console/execute-script "$body" >"$WORK/parsed.json" &&
	[ "$(jq '.results[0].code' "$WORK/parsed.json")" = 200 ]; then
	:
else
	fail "the console did not run parse_performance_data: $(head -c 300 "$WORK/parsed.json")"
fi
case_done

# ---- 7. each service: Icinga's result is the plugin's own -----------

for e in "${EXPECT[@]}"; do
	read -r hs want_state want_opts <<<"$e"
	host=${hs%%/*} svc=${hs#*/}
	case_begin "$hs"
	OUT=$CASE_DIR/plugin.out
	state="" exit_status="" argv=() perf=() output=""
	# shellcheck disable=SC2016 # jq program
	eval "$(jq -r --arg h "$host" --arg s "$svc" '.results[].attrs
		| select(.host_name == $h and .name == $s and .last_check_result != null)
		| .last_check_result as $r
		| @sh "state=\(.state | floor) exit_status=\($r.exit_status) output=\($r.output)",
		  "argv=(\($r.command | @sh))", "perf=(\($r.performance_data // [] | @sh))"' \
		"$SERVICES_JSON")"
	if [ -z "$state" ]; then
		fail "no check result in the API"
		case_done
		continue
	fi
	printf '%s\n' "$output" >"$CASE_DIR/icinga.output"

	# The command line Icinga made of the custom variables.
	want_opts=${want_opts//CLEAN/$CLEAN_PORT}
	want_opts=${want_opts//ASA/$ASA_PORT}
	want_opts=${want_opts//CLOSED/$CLOSED_PORT}
	want_opts=${want_opts//INI/$EXTRA_INI}
	read -ra want_argv <<<"$want_opts"
	[ "${argv[0]}" = "$PLUGIN_BIN" ] || fail "Icinga ran ${argv[0]}, not the installed $PLUGIN_BIN"
	[ "$(option_lines "${argv[@]:1}")" = "$(option_lines "${want_argv[@]}")" ] ||
		fail "Icinga's command line has the options '${argv[*]:1}', expected '$want_opts' (any order)"

	# The plugin run directly, with the very same command line.
	timeout -k 1 $((CHECK_TIMEOUT + 2)) "${argv[@]}" >"$OUT" 2>"$CASE_DIR/plugin.err" </dev/null
	RC=$?
	IFS= read -r FIRST <"$OUT"

	[ "$RC" = "$want_state" ] || fail "the plugin run directly exits $RC, expected $want_state"
	[ "$state" = "$want_state" ] || fail "Icinga's state is $state, expected $want_state"
	[ "$exit_status" = "$RC" ] || fail "Icinga's exit_status is $exit_status, the plugin's $RC"
	[ -s "$CASE_DIR/plugin.err" ] && fail "the plugin wrote to stderr: $(head -c 200 "$CASE_DIR/plugin.err")"

	# The plugin output: what Icinga keeps of the direct run's output.
	text_of 1 <"$OUT" >"$CASE_DIR/want.output"
	text_of 0 <"$CASE_DIR/icinga.output" >"$CASE_DIR/got.output"
	if ! cmp -s "$CASE_DIR/want.output" "$CASE_DIR/got.output"; then
		fail "Icinga's plugin output differs from the plugin's (times aside)"
		notes_from < <(diff -u "$CASE_DIR/want.output" "$CASE_DIR/got.output" | head -n 30)
	fi

	# Performance data: Icinga's items are those of the first line.
	direct=()
	[[ $FIRST != *"|"* ]] || read -ra direct <<<"${FIRST#*|}"
	if [ ${#direct[@]} -ne ${#perf[@]} ]; then
		fail "Icinga has ${#perf[@]} perfdata items (${perf[*]}), the plugin printed ${#direct[@]} (${direct[*]})"
	else
		for ((k = 0; k < ${#perf[@]}; k++)); do
			[ "$(norm_item "${perf[k]}")" = "$(norm_item "${direct[k]}")" ] ||
				fail "perfdata item $((k + 1)): Icinga has '${perf[k]}', the plugin printed '${direct[k]}' (times aside)"
		done
	fi
	[ "$want_state" = 3 ] || [ ${#perf[@]} -gt 0 ] || fail "no performance data"

	# Icinga's own parse of the items it stored: the same labels, values,
	# units, thresholds, min and max.
	# shellcheck disable=SC2016 # jq program
	diffs=$(jq -r --arg k "$hs" '(.results[0].result[$k] // {raw: [], parsed: []}) as $got | '"$JQ_PARSED" \
		"$WORK/parsed.json" --args "${perf[@]}" 2>&1) || fail "jq: $diffs"
	while IFS= read -r line; do
		[ -z "$line" ] || fail "perfdata as Icinga parsed it: $line"
	done <<<"$diffs"
	unparsed=()
	for p in "${perf[@]}"; do [[ $p != *=U* ]] || unparsed+=("$p"); done
	[ ${#unparsed[@]} -eq 0 ] || note "Icinga 2 does not parse 'U' (not measured), kept as text: ${unparsed[*]}"
	case_done
done

# ---- 8. Icinga's log -------------------------------------------------

case_begin icinga2-log
if grep -q 'critical/' "$ICINGA_LOG"; then
	fail "Icinga logged critical lines"
	notes_from icinga2 < <(grep 'critical/' "$ICINGA_LOG" | head -n 20)
fi
case_done

# ---- 9. Icinga stops, with all its processes ------------------------

case_begin icinga2-stop
SID=$ICINGA_PID
icinga_stop
[ -z "$ICINGA_LEFT" ] || fail "Icinga's processes $ICINGA_LEFT were still there ${STOP_SECONDS}s after SIGTERM (killed)"
[ "$ICINGA_RC" = 0 ] || fail "Icinga exited with $ICINGA_RC on SIGTERM"
left=$(session_pids "$SID")
[ -z "$left" ] || fail "processes of Icinga are still there: $left"
note "$(($(now_ms) - T_START)) ms from the first mail server to Icinga's end"
case_done

finish

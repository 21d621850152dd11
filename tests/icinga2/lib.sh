# tests/icinga2/lib.sh - a throw-away Icinga 2 (Debian's package) for the
# suites that run the plugin under it: tests/icinga2.sh (the plugin from
# "make install") and tests/package.sh (the plugin from the Debian package).
# Source it from bash after tests/lib.sh.
#
# The suite sets EMU (the emulator, tools/smtp-inspect-emu) and writes its
# own icinga2.conf (icinga_api_config gives the common part). Then:
#   icinga_prepare              folders, API certificate and user, curl.conf
#   server_start NAME PROFILE SCRIPT     a mail server on 127.0.0.1
#   icinga_start CONFIG         the daemon, waited for until its API answers
#   icinga_force_checks N       force every smtp_fixup service; N results
#   icinga_stop                 SIGTERM, then SIGKILL to what is left
# Icinga runs as the current user with every path under ICINGA_DIR, in a
# session of its own; everything started here is stopped by its pid on exit.
#
# Environment: ICINGA2 names another icinga2 binary; USE_PEER=1 plays
# tests/peers scripts with tests/smtp-peer even when the emulator is built.

: "${ICINGA2:=icinga2}"

NODE=check-smtp-fixup-test.invalid # NodeName, ZoneName, the certificate's name
API_USER=smtp-fixup-test
SERVER_SECONDS=180 # no mail server started here outlives this
START_SECONDS=30   # Icinga started and its API answering
RESULT_SECONDS=30  # the forced checks have results
STOP_SECONDS=15    # Icinga gone after SIGTERM

ICINGA_DIR=$WORK/icinga2
ICINGA_LOG=$ICINGA_DIR/log/console.log
ICINGA_PID=
ICINGA_LEFT=
ICINGA_RC=
API_PORT=
SERVICES_JSON=$WORK/services.json

# ---- cleanup ---------------------------------------------------------

# The live processes of session SID (Icinga runs under setsid, so its
# session id is its pid). Zombies are left out: they are gone, not reaped.
session_pids() {
	ps -o pid=,stat= -s "$1" 2>/dev/null | awk '$2 !~ /^Z/ { print $1 }'
}

# Stop Icinga: SIGTERM to the process started here, then SIGKILL to each
# process still in its session, by pid. Sets ICINGA_RC and ICINGA_LEFT.
icinga_stop() {
	local i pid
	[ -n "$ICINGA_PID" ] || return 0
	kill -TERM "$ICINGA_PID" 2>/dev/null
	for ((i = 0; i < STOP_SECONDS * 10; i++)); do
		kill -0 "$ICINGA_PID" 2>/dev/null || break
		sleep 0.1
	done
	ICINGA_LEFT=$(session_pids "$ICINGA_PID")
	for pid in $ICINGA_LEFT; do
		kill -KILL "$pid" 2>/dev/null
	done
	wait "$ICINGA_PID" 2>/dev/null
	ICINGA_RC=$?
	ICINGA_PID=
}

icinga2_cleanup() {
	icinga_stop
	lib_cleanup
}
trap icinga2_cleanup EXIT

# ---- reporting -------------------------------------------------------

# Lines printed as "#   ..." after the case's "ok"/"not ok" line.
NOTES=()
note() {
	NOTES+=("$*")
}
# Each line of stdin as a note, led by $1 if given.
notes_from() {
	local line
	while IFS= read -r line; do NOTES+=("${1:+$1: }$line"); done
}
# The last N lines (default 60) of a file as notes led by WHAT.
show() {
	[ -s "$1" ] || return 0
	notes_from "${3:-}" < <(tail -n "${2:-60}" "$1")
}
case_done() {
	local rc n
	case_end
	rc=$?
	for n in "${NOTES[@]}"; do echo "#   $n"; done
	NOTES=()
	return $rc
}
# Report cases that cannot run, as failures (FAIL_WHY) or skips.
cases_not_run() {
	local how=$1 why=$2 c
	shift 2
	for c in "$@"; do
		CASE=$c
		if [ "$how" = skip ]; then
			case_skip "$why"
		else
			echo "not ok $c: $why"
			TESTS_FAILED=$((TESTS_FAILED + 1))
		fi
	done
}

# ---- helpers ---------------------------------------------------------

# missing_packages FILE...: the packages listed in the files (one a line,
# "#" comments) that are not installed.
missing_packages() {
	local p st
	while read -r p; do
		[ -n "$p" ] || continue
		st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)
		[ "$st" = "install ok installed" ] || printf '%s ' "$p"
	done < <(cat "$@" | sed 's/#.*//')
}

# api METHOD PATH [JSON]: the answer on stdout; fails unless HTTP 2xx.
api() {
	local code
	code=$(curl -sS -K "$ICINGA_DIR/curl.conf" -X "$1" -o "$ICINGA_DIR/api.out" \
		-w '%{http_code}' "https://$NODE:$API_PORT$2" ${3:+--data-binary "$3"} \
		2>"$ICINGA_DIR/api.err")
	cat "$ICINGA_DIR/api.out"
	[[ $code == 2?? ]]
}

# An Icinga 2 DSL (and JSON) string literal: paths here have no '"' or '\'.
dsl_string() {
	printf '"%s"' "$1"
}

# ---- the mail servers ------------------------------------------------

SERVER_PIDS=()
# server_start NAME PROFILE SCRIPT: the emulator (its postfix persona behind
# PROFILE) if built, else tests/smtp-peer playing tests/peers/SCRIPT.txt.
# Sets SERVER_PORT; fails if the server does not listen within 5 s.
server_start() {
	local name=$1 profile=$2 script=$3 pf=$WORK/$1.port i pid
	if [ -x "$EMU" ] && [ "${USE_PEER:-0}" != 1 ]; then
		SERVER_KIND="tools/smtp-inspect-emu --persona postfix (--profile none, asa)"
		"$EMU" --listen 127.0.0.1:0 --persona postfix --profile "$profile" \
			--port-file "$pf" --max-seconds "$SERVER_SECONDS" >"$WORK/$name.log" 2>&1 &
	else
		SERVER_KIND="tests/smtp-peer (tests/peers/clean-postfix.txt, asa.txt)"
		"$PEER" --script "$PEERS_DIR/$script.txt" --listen 127.0.0.1 --port-file "$pf" \
			--log "$WORK/$name.log" --connections 500 --max-seconds "$SERVER_SECONDS" \
			>"$WORK/$name.err" 2>&1 &
	fi
	pid=$!
	BG_PIDS+=("$pid")
	SERVER_PIDS+=("$pid")
	SERVER_PORT=
	for ((i = 0; i < 50; i++)); do
		if [ -s "$pf" ] && read -r SERVER_PORT <"$pf" && [[ $SERVER_PORT =~ ^[0-9]+$ ]]; then
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	SERVER_PORT=
	return 1
}

# ---- Icinga 2 --------------------------------------------------------

# Icinga's folders under ICINGA_DIR, the API's password, certificate (its
# own CA) and curl.conf, and ICINGA_ARGS (every path Icinga uses is in
# ICINGA_DIR; it runs as the current user). Records a failure and returns
# false if the certificate cannot be made.
icinga_prepare() {
	local certs=$ICINGA_DIR/lib/certs
	mkdir -p "$ICINGA_DIR"/{etc,lib/certs,log,cache,spool,run}
	API_PASS=$(od -An -N16 -tx1 /dev/urandom)
	API_PASS=${API_PASS//[^0-9a-f]/}
	ICINGA_ARGS=(-DConfigDir="$ICINGA_DIR/etc" -DDataDir="$ICINGA_DIR/lib"
		-DLogDir="$ICINGA_DIR/log" -DCacheDir="$ICINGA_DIR/cache"
		-DSpoolDir="$ICINGA_DIR/spool" -DInitRunDir="$ICINGA_DIR/run"
		-DRunAsUser="$(id -un)" -DRunAsGroup="$(id -gn)"
		-DNodeName="$NODE" -DZoneName="$NODE")
	# The API's certificate (DataDir/certs/NodeName.crt), its own CA.
	if ! openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$NODE" \
		-addext "subjectAltName=DNS:$NODE" -keyout "$certs/$NODE.key" \
		-out "$certs/$NODE.crt" >"$ICINGA_DIR/openssl.log" 2>&1; then
		fail "openssl could not make the API certificate"
		show "$ICINGA_DIR/openssl.log" 10 openssl
		return 1
	fi
	cp "$certs/$NODE.crt" "$certs/ca.crt"
	printf '%s\n' "user = \"$API_USER:$API_PASS\"" "cacert = \"$certs/ca.crt\"" \
		'header = "Accept: application/json"' 'max-time = 10' >"$ICINGA_DIR/curl.conf"
	chmod 600 "$ICINGA_DIR/curl.conf"
}

# The part of icinga2.conf every suite has: this node's endpoint and zone,
# an API listener on 127.0.0.1 (the kernel picks the port), the API user,
# the checker and a log file.
icinga_api_config() {
	cat <<EOF
object Endpoint NodeName { }
object Zone ZoneName {
	endpoints = [ NodeName ]
}
object ApiListener "api" {
	bind_host = "127.0.0.1"
	bind_port = 0
}
object ApiUser $(dsl_string "$API_USER") {
	password = $(dsl_string "$API_PASS")
	permissions = [ "status/query", "objects/query/*", "actions/reschedule-check", "console" ]
}
object CheckerComponent "checker" { }
object FileLogger "main-log" {
	path = LogDir + "/icinga2.log"
	severity = "information"
}
EOF
}

# icinga_start CONFIG: the daemon on CONFIG, in a session of its own, waited
# for (START_SECONDS) until all objects are active and the API answers.
# Sets ICINGA_PID and API_PORT. On failure records it, shows Icinga's log
# and returns false.
icinga_start() {
	local re i log_text
	: >"$ICINGA_LOG"
	setsid "$ICINGA2" daemon -c "$1" "${ICINGA_ARGS[@]}" >"$ICINGA_LOG" 2>&1 </dev/null &
	ICINGA_PID=$!
	note "icinga2 daemon -c $1 ${ICINGA_ARGS[*]}"
	API_PORT=
	re="Started new listener on '\[127\.0\.0\.1\]:([0-9]+)'"
	for ((i = 0; i < START_SECONDS * 5; i++)); do
		if ! kill -0 "$ICINGA_PID" 2>/dev/null; then
			wait "$ICINGA_PID"
			fail "Icinga 2 exited with $? while starting"
			ICINGA_PID=
			show "$ICINGA_LOG" 60 icinga2
			return 1
		fi
		IFS= read -rd '' log_text <"$ICINGA_LOG"
		if [ -z "$API_PORT" ] && [[ $log_text =~ $re ]]; then
			API_PORT=${BASH_REMATCH[1]}
			echo "resolve = \"$NODE:$API_PORT:127.0.0.1\"" >>"$ICINGA_DIR/curl.conf"
		fi
		# all objects active (the checker too), and the API answers
		if [ -n "$API_PORT" ] && [[ $log_text == *"Activated all objects"* ]] &&
			api GET /v1/status/ApiListener >/dev/null; then
			return 0
		fi
		sleep 0.2
	done
	fail "the API did not answer within ${START_SECONDS}s (port '$API_PORT'): $(head -c 300 "$ICINGA_DIR/api.err")"
	show "$ICINGA_LOG" 60 icinga2
	return 1
}

# icinga_force_checks N: a forced check (POST /v1/actions/reschedule-check)
# of every service whose check_command is smtp_fixup, N of them; waits
# (RESULT_SECONDS) until each has a result newer than the request.
# SERVICES_JSON gets the last GET /v1/objects/services (state, host_name,
# name, last_check_result). Records failures; false if not all N came.
icinga_force_checks() {
	local want=$1 t_force t_force_ms n=0 i
	t_force=$(date +%s.%N)
	t_force_ms=$(now_ms)
	if api POST /v1/actions/reschedule-check \
		'{"type": "Service", "filter": "service.check_command == \"smtp_fixup\"", "force": true}' \
		>"$ICINGA_DIR/reschedule.json"; then
		n=$(jq '[.results[] | select(.code == 200)] | length' "$ICINGA_DIR/reschedule.json")
		[ "$n" = "$want" ] || fail "reschedule-check: $n services rescheduled, expected $want"
	else
		fail "POST /v1/actions/reschedule-check failed: $(head -c 300 "$ICINGA_DIR/reschedule.json")"
	fi
	for ((i = 0; i < RESULT_SECONDS * 5; i++)); do
		sleep 0.2
		api GET '/v1/objects/services?attrs=last_check_result&attrs=state&attrs=host_name&attrs=name' \
			>"$SERVICES_JSON" || continue
		n=$(jq --argjson t "$t_force" '[.results[].attrs
			| select(.last_check_result.execution_start // 0 >= $t)] | length' "$SERVICES_JSON")
		if [ "$n" = "$want" ]; then
			note "$want results $(($(now_ms) - t_force_ms)) ms after the reschedule"
			return 0
		fi
	done
	fail "$n of $want services had a new result within ${RESULT_SECONDS}s"
	show "$ICINGA_LOG" 40 icinga2
	return 1
}

#!/bin/bash
# tests/test_emu.sh - the built smtp-inspect-emu over real sockets on
# loopback: every persona behind every profile (greeting and EHLO reply
# bytes), proxy mode (one emulator relaying to another), many connections
# at once, the 512/513-octet rule on the wire, the DATA phase (the ASA's
# drops on a 999-octet header line, a 256-octet MIME file name and a
# 513-octet command: the client is reset and the server, a scripted
# tests/smtp-peer, is reset and never gets the offending line; MailGuard's
# swallowed end-of-data marker), a whole-line masked multi-line greeting,
# the personas taking a DATA-phase witness, IPv6 [::1], --port-file,
# --max-seconds, SIGTERM, and option errors.
#
#   tests/test_emu.sh
#
# Prints "ok NAME" or "not ok NAME: reason" per case, then
# "N passed, M failed"; exits 1 if any failed, 99 if it cannot run.
# The client is bash's /dev/tcp; nothing but bash, coreutils and the
# built tests/smtp-peer is needed (without it the proxy-mode DATA cases
# are skipped). Environment: top_builddir (set by make check); EMU and PEER
# may name other binaries; KEEP_TMP=1 keeps the work folder. Every
# emulator and peer started here has --max-seconds and is killed by its
# pid on exit.

set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${EMU:=$top_builddir/tools/smtp-inspect-emu}"
: "${PEER:=$top_builddir/tests/smtp-peer}"

EMU_SECONDS=30 # no emulator outlives this, whatever happens to the script
T=5            # seconds a client waits for the emulator

if [ ! -x "$EMU" ]; then
	echo "not built: $EMU" >&2
	exit 99
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/emu-tests.XXXXXX") || exit 99
PIDS=()
PASSED=0
FAILED=0

cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
	if [ "${KEEP_TMP:-0}" = 1 ]; then echo "# work folder: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

ok() { echo "ok $1"; PASSED=$((PASSED + 1)); }
not_ok() {
	echo "not ok $1: $2"
	FAILED=$((FAILED + 1))
	if [ $# -ge 4 ]; then # expected and got files
		echo "# expected:"; sed -n 'l' "$3" | sed 's/^/#   /'
		echo "# got:"; sed -n 'l' "$4" | sed 's/^/#   /'
	fi
}

# start NAME ARGS...: start an emulator on 127.0.0.1 port 0 unless ARGS
# has its own --listen; sets PORT and PID (and NAME.log, NAME.port).
start() {
	local name=$1 i
	shift
	rm -f "$WORK/$name.port"
	case " $* " in *" --listen "*) ;; *) set -- --listen 127.0.0.1:0 "$@" ;; esac
	"$EMU" "$@" --port-file "$WORK/$name.port" --max-seconds "$EMU_SECONDS" \
		2>"$WORK/$name.log" &
	PID=$!
	PIDS+=("$PID")
	PORT=
	for i in $(seq 100); do
		if [ -s "$WORK/$name.port" ]; then
			PORT=$(cat "$WORK/$name.port")
			return 0
		fi
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.05
	done
	return 1
}

# stop PID: SIGTERM, then wait; returns the emulator's exit status.
stop() {
	kill -TERM "$1" 2>/dev/null
	wait "$1"
}

# talk HOST PORT OUT ARG...: read the greeting line, then send the ARGs as
# lines (CRLF added) in one write, and read everything until the emulator
# closes. An ARG "@354" sends what came before it and reads replies up to
# a 354 first, as a client must before sending a message (RFC 2920 3.1).
talk() {
	local host=$1 port=$2 out=$3 line arg payload=
	shift 3
	: >"$out"
	exec 3<>"/dev/tcp/$host/$port" || return 1
	if IFS= read -r -t "$T" line <&3 2>/dev/null; then
		printf '%s\n' "$line" >>"$out"
		for arg in "$@"; do
			if [ "$arg" != @354 ]; then
				payload+="$arg"$'\r\n'
				continue
			fi
			printf '%s' "$payload" >&3
			payload=
			while IFS= read -r -t "$T" line <&3 2>/dev/null; do
				printf '%s\n' "$line" >>"$out"
				case $line in 354*) break ;; esac
			done
		done
		printf '%s' "$payload" >&3
		timeout "$T" cat <&3 >>"$out" 2>/dev/null
	fi
	exec 3<&- 3>&-
}

# crlf: stdin lines with CR LF ends (what every expected reply has).
crlf() { sed 's/$/\r/'; }

# rep CHAR N: CHAR N times.
rep() { local s; printf -v s '%*s' "$2" ''; printf '%s' "${s// /$1}"; }

# --- what each persona says, clean and behind each profile ---------------

PF_TEXT='mail.example.org ESMTP Postfix (Debian/GNU)'
EX_TEXT='EXCH01.corp.example.com Microsoft ESMTP MAIL Service ready at Mon, 20 May 2024 10:20:00 +0000'
SM_TEXT='relay.example.com ESMTP Sendmail 8.17.1.9/8.17.1.9/Debian-2; Mon, 20 May 2024 10:20:00 +0200'
# The same texts masked by a PIX 6: '*' except the 2s and 0s.
PF_KEEP20=$(rep '*' 43)
EX_KEEP20='****0**************************************************************20*****202***0*20*00**0000'
SM_KEEP20='**********************************************************2*******20*****202***0*20*00**0200'

pf_ehlo() {
	local l
	for l in 'mail.example.org' PIPELINING 'SIZE 10240000' "${1:-VRFY}" ETRN \
		"${2:-STARTTLS}" ENHANCEDSTATUSCODES 8BITMIME DSN "${3:-SMTPUTF8}"; do
		echo "250-$l"
	done
	echo "250 ${4:-CHUNKING}"
}
ex_ehlo() {
	local l
	for l in 'EXCH01.corp.example.com Hello [127.0.0.1]' 'SIZE 37748736' PIPELINING DSN \
		ENHANCEDSTATUSCODES "${1:-STARTTLS}" "${2:-X-ANONYMOUSTLS}" 'AUTH NTLM' \
		"${3:-X-EXPS GSSAPI NTLM}" 8BITMIME BINARYMIME "${4:-CHUNKING}"; do
		echo "250-$l"
	done
	echo "250 ${5:-XRDST}"
}
sm_ehlo() {
	local l
	for l in 'relay.example.com Hello localhost [127.0.0.1], pleased to meet you' \
		ENHANCEDSTATUSCODES PIPELINING 8BITMIME SIZE DSN ETRN 'AUTH DIGEST-MD5 CRAM-MD5' \
		"${1:-DELIVERBY}"; do
		echo "250-$l"
	done
	echo "250 ${2:-HELP}"
}

PF_BYE='221 2.0.0 Bye'
EX_BYE='221 2.0.0 Service closing transmission channel'
SM_BYE='221 2.0.0 relay.example.com closing connection'

# expected PERSONA PROFILE: the reply bytes to "EHLO probe.example.net",
# then QUIT, without CRs (tools/emu/README 1 and 2 for each box).
expected() {
	case $1/$2 in
	*/pix6-eod) expected "$1" pix6 ;;         # differs only in DATA
	*/pix6-whole-line) expected "$1" pix6 | sed '1s/^220 /220*/' ;;
	postfix/none) echo "220 $PF_TEXT"; pf_ehlo; echo "$PF_BYE" ;;
	postfix/pix4) echo "220 SMTP/cmap ready$(rep _ 28)"
		echo '502 5.5.2 Error: command not recognized'; echo "$PF_BYE" ;;
	postfix/pix6) echo "220 $PF_KEEP20"
		echo '502 5.5.2 Error: command not recognized'; echo "$PF_BYE" ;;
	postfix/pix6-noop) echo "220 $PF_KEEP20"; echo '250 2.0.0 Ok'; echo "$PF_BYE" ;;
	postfix/asa) echo "220 $(rep '*' 43)"
		pf_ehlo XXXA XXXXXXXB XXXXXXXC XXXXXXXD; echo "$PF_BYE" ;;
	postfix/asa-allow-tls) echo "220 $(rep '*' 43)"
		pf_ehlo XXXA STARTTLS XXXXXXXB XXXXXXXC; echo "$PF_BYE" ;;
	postfix/fwsm) echo "220 $(rep '*' 43)"; pf_ehlo; echo "$PF_BYE" ;;
	postfix/strip) echo "220 $PF_TEXT"
		printf '250-%s\n' mail.example.org PIPELINING 'SIZE 10240000' ETRN STARTTLS
		echo '250 8BITMIME'; echo "$PF_BYE" ;;
	postfix/strip-tls) echo "220 $PF_TEXT"
		printf '250-%s\n' mail.example.org PIPELINING 'SIZE 10240000' VRFY ETRN \
			ENHANCEDSTATUSCODES 8BITMIME DSN SMTPUTF8
		echo '250 CHUNKING'; echo "$PF_BYE" ;;

	exchange/none) echo "220 $EX_TEXT"; ex_ehlo; echo "$EX_BYE" ;;
	exchange/pix4) echo "220 SMTP/cmap ready$(rep _ 78)"
		echo "500 5.3.3 Unrecognized command 'XXXX'"; echo "$EX_BYE" ;;
	exchange/pix6) echo "220 $EX_KEEP20"
		echo "500 5.3.3 Unrecognized command 'XXXX'"; echo "$EX_BYE" ;;
	exchange/pix6-noop) echo "220 $EX_KEEP20"; echo '250 2.0.0 OK'; echo "$EX_BYE" ;;
	exchange/asa) echo "220 $(rep '*' 93)"
		ex_ehlo XXXXXXXA XXXXXXXXXXXXXB XXXXXXXXXXXXXXXXXC XXXXXXXD XXXXE; echo "$EX_BYE" ;;
	exchange/asa-allow-tls) echo "220 $(rep '*' 93)"
		ex_ehlo STARTTLS XXXXXXXXXXXXXA XXXXXXXXXXXXXXXXXB XXXXXXXC XXXXD; echo "$EX_BYE" ;;
	exchange/fwsm) echo "220 $(rep '*' 93)"; ex_ehlo; echo "$EX_BYE" ;;
	exchange/strip) echo "220 $EX_TEXT"
		printf '250-%s\n' 'EXCH01.corp.example.com Hello [127.0.0.1]' 'SIZE 37748736' \
			PIPELINING STARTTLS
		echo '250 8BITMIME'; echo "$EX_BYE" ;;
	exchange/strip-tls) echo "220 $EX_TEXT"
		printf '250-%s\n' 'EXCH01.corp.example.com Hello [127.0.0.1]' 'SIZE 37748736' \
			PIPELINING DSN ENHANCEDSTATUSCODES X-ANONYMOUSTLS 'AUTH NTLM' \
			'X-EXPS GSSAPI NTLM' 8BITMIME BINARYMIME CHUNKING
		echo '250 XRDST'; echo "$EX_BYE" ;;

	sendmail/none) echo "220 $SM_TEXT"; sm_ehlo; echo "$SM_BYE" ;;
	sendmail/pix4) echo "220 SMTP/cmap ready$(rep _ 77)"
		echo '500 5.5.1 Command unrecognized: "XXXX probe.example.net"'; echo "$SM_BYE" ;;
	sendmail/pix6) echo "220 $SM_KEEP20"
		echo '500 5.5.1 Command unrecognized: "XXXX probe.example.net"'; echo "$SM_BYE" ;;
	sendmail/pix6-noop) echo "220 $SM_KEEP20"; echo '250 2.0.0 OK'; echo "$SM_BYE" ;;
	sendmail/asa | sendmail/asa-allow-tls) echo "220 $(rep '*' 92)"
		sm_ehlo XXXXXXXXA 'XXXB'; echo "$SM_BYE" ;;
	sendmail/fwsm) echo "220 $(rep '*' 92)"; sm_ehlo; echo "$SM_BYE" ;;
	sendmail/strip) echo "220 $SM_TEXT"
		printf '250-%s\n' 'relay.example.com Hello localhost [127.0.0.1], pleased to meet you' \
			PIPELINING 8BITMIME SIZE
		echo '250 ETRN'; echo "$SM_BYE" ;;
	sendmail/strip-tls) echo "220 $SM_TEXT"; sm_ehlo; echo "$SM_BYE" ;;
	*) return 1 ;;
	esac
}

PROFILES="none pix4 pix6 pix6-noop pix6-whole-line pix6-eod asa asa-allow-tls fwsm strip strip-tls"
PERSONAS="postfix exchange sendmail"

# check NAME HOST PORT PERSONA PROFILE: one EHLO session gives the bytes
check() {
	local name=$1 got=$WORK/$1.got want=$WORK/$1.want
	expected "$4" "$5" | crlf >"$want"
	talk "$2" "$3" "$got" 'EHLO probe.example.net' 'QUIT'
	if cmp -s "$want" "$got"; then ok "$name"; else not_ok "$name" "reply bytes differ" "$want" "$got"; fi
}

# --- every persona behind every profile ------------------------------------

for persona in $PERSONAS; do
	for profile in $PROFILES; do
		name="$persona-$profile"
		if ! start "$name" --persona "$persona" --profile "$profile"; then
			not_ok "$name" "did not start: $(cat "$WORK/$name.log")"
			continue
		fi
		check "$name" 127.0.0.1 "$PORT" "$persona" "$profile"
		stop "$PID"
		rc=$?
		[ "$rc" = 0 ] || not_ok "$name exit" "status $rc after SIGTERM, expected 0"
	done
done

# --- proxy mode: an asa emulator relaying to a clean postfix persona -------

if start server --persona postfix --profile none --quiet; then
	server_port=$PORT
	if start proxy --server "127.0.0.1:$server_port" --profile asa; then
		proxy_port=$PORT
		check proxy-asa 127.0.0.1 "$proxy_port" postfix asa
		# a whole mail through the box: the message is data, not commands
		got=$WORK/proxy-mail.got want=$WORK/proxy-mail.want
		talk 127.0.0.1 "$proxy_port" "$got" 'HELO probe.example.net' \
			'MAIL FROM:<a@example.net>' 'RCPT TO:<b@example.org>' 'DATA' @354 \
			'Subject: test' '' 'VRFY is body text' '.' 'QUIT'
		{ echo "220 $(rep '*' 43)"; echo '250 mail.example.org'; echo '250 2.1.0 Ok'
		  echo '250 2.1.5 Ok'; echo '354 End data with <CR><LF>.<CR><LF>'
		  echo '250 2.0.0 Ok: queued as 4VJ7Q25Xb1'; echo "$PF_BYE"; } | crlf >"$want"
		if cmp -s "$want" "$got"; then ok proxy-mail; else not_ok proxy-mail "reply bytes differ" "$want" "$got"; fi
		# many clients at once through one box
		clients=()
		for i in $(seq 20); do
			talk 127.0.0.1 "$proxy_port" "$WORK/many.$i.got" 'EHLO probe.example.net' 'QUIT' &
			clients+=($!)
		done
		for pid in "${clients[@]}"; do wait "$pid"; done
		wait_ok=1
		expected postfix asa | crlf >"$WORK/many.want"
		for i in $(seq 20); do cmp -s "$WORK/many.want" "$WORK/many.$i.got" || wait_ok=0; done
		if [ $wait_ok = 1 ]; then ok proxy-20-clients; else not_ok proxy-20-clients "a client saw other bytes"; fi
		stop "$PID"
	else
		not_ok proxy-asa "proxy did not start: $(cat "$WORK/proxy.log")"
	fi
	# a server that is not there: the client is reset, the box goes on
	if start noserver --server 127.0.0.1:1 --profile none; then
		talk 127.0.0.1 "$PORT" "$WORK/noserver.got"
		if [ ! -s "$WORK/noserver.got" ] && kill -0 "$PID" 2>/dev/null; then
			ok proxy-no-server
		else
			not_ok proxy-no-server "expected no bytes and a live emulator"
		fi
		stop "$PID"
	fi
else
	not_ok proxy-asa "server did not start: $(cat "$WORK/server.log")"
fi

# --- the ASA command length rule on the wire (tools/emu/README 4) --------

if start len --persona postfix --profile asa; then
	noop512="NOOP $(rep a 505)" # 510 + CRLF = 512 octets
	noop513="NOOP $(rep a 506)"
	talk 127.0.0.1 "$PORT" "$WORK/len512.got" "$noop512" QUIT
	{ echo "220 $(rep '*' 43)"; echo '250 2.0.0 Ok'; echo "$PF_BYE"; } | crlf >"$WORK/len512.want"
	if cmp -s "$WORK/len512.want" "$WORK/len512.got"; then ok asa-512-octets
	else not_ok asa-512-octets "reply bytes differ" "$WORK/len512.want" "$WORK/len512.got"; fi
	talk 127.0.0.1 "$PORT" "$WORK/len513.got" "$noop513" QUIT
	echo "220 $(rep '*' 43)" | crlf >"$WORK/len513.want"
	if cmp -s "$WORK/len513.want" "$WORK/len513.got" && grep -q 'command line too long' "$WORK/len.log"
	then ok asa-513-octets-reset
	else not_ok asa-513-octets-reset "expected the greeting only, then a reset" "$WORK/len513.want" "$WORK/len513.got"; fi
	stop "$PID"
else
	not_ok asa-512-octets "did not start: $(cat "$WORK/len.log")"
fi

# --- a client that pipelines far and reads late ---------------------------

# 50000 commands sent before any reply is read: the box must hold the
# client back (TCP), not drop it, and every command must get its reply.
if start flood --persona postfix --profile asa; then
	exec 3<>"/dev/tcp/127.0.0.1/$PORT"
	( for _ in $(seq 50); do printf 'NOOP\r\n%.0s' $(seq 1000); done; printf 'QUIT\r\n' ) >&3 &
	writer=$!
	sleep 1
	timeout 20 cat <&3 | tr -d '\r' | sort | uniq -c | sed 's/^ *//' >"$WORK/flood.got"
	wait "$writer"
	exec 3<&- 3>&-
	printf '%s\n' "1 220 $(rep '*' 43)" '1 221 2.0.0 Bye' '50000 250 2.0.0 Ok' | sort >"$WORK/flood.want"
	sort -o "$WORK/flood.got" "$WORK/flood.got"
	if cmp -s "$WORK/flood.want" "$WORK/flood.got"; then ok pipelining-flood
	else not_ok pipelining-flood "replies differ ($(tail -1 "$WORK/flood.log"))" "$WORK/flood.want" "$WORK/flood.got"; fi
	stop "$PID"
else
	not_ok pipelining-flood "did not start: $(cat "$WORK/flood.log")"
fi

# --- the DATA phase, through a box to a scripted server ------------------

# peer NAME SCRIPT-TEXT: start tests/smtp-peer on SCRIPT-TEXT for one
# connection; sets PEER_PORT, PEER_PID and NAME.peer.log.
peer() {
	local name=$1 i
	printf '%s\n' "$2" >"$WORK/$name.script"
	rm -f "$WORK/$name.peer.port"
	"$PEER" --script "$WORK/$name.script" --port-file "$WORK/$name.peer.port" \
		--log "$WORK/$name.peer.log" --max-seconds "$EMU_SECONDS" --read-seconds 10 \
		2>"$WORK/$name.peer.err" &
	PEER_PID=$!
	PIDS+=("$PEER_PID")
	PEER_PORT=
	for i in $(seq 100); do
		if [ -s "$WORK/$name.peer.port" ]; then
			PEER_PORT=$(cat "$WORK/$name.peer.port")
			return 0
		fi
		kill -0 "$PEER_PID" 2>/dev/null || break
		sleep 0.05
	done
	return 1
}

# peer_saw LOG LINE: wait (at most T seconds) until the peer logged LINE
# as received.
peer_saw() {
	local i
	for i in $(seq $((T * 20))); do
		grep -qxF "C: $2" "$1" && return 0
		sleep 0.05
	done
	return 1
}

# session NAME PORT LOG [--data] WRITE...: connect, read the greeting line;
# with --data send HELO, MAIL FROM:<>, RCPT TO:<postmaster@example.org> and
# DATA each after the reply to the one before (a 354 for DATA). Then send
# each WRITE in one write; unless LOG is -, wait before the next until the
# server logged the last line of this one, so that each WRITE is one read
# of the box; with WAIT_LAST=1, after the last one too. Then read for
# READ_S seconds (default 1). NAME.got gets what the client read;
# END is "reset" (the client was reset), "closed" or "open" (nothing came
# and the connection stayed up).
session() {
	local name=$1 port=$2 log=$3 got=$WORK/$1.got cmd line w last rc n
	shift 3
	: >"$got"
	END=none
	exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
	IFS= read -r -t "$T" line <&3 && printf '%s\n' "$line" >>"$got"
	if [ "${1:-}" = --data ]; then
		shift
		for cmd in 'HELO probe.example.net' 'MAIL FROM:<>' \
			'RCPT TO:<postmaster@example.org>' DATA; do
			printf '%s\r\n' "$cmd" >&3
			IFS= read -r -t "$T" line <&3 && printf '%s\n' "$line" >>"$got"
		done
	fi
	n=$#
	for w in "$@"; do
		printf '%s' "$w" >&3 2>/dev/null
		n=$((n - 1))
		[ "$log" = - ] && continue
		[ "$n" = 0 ] && [ "${WAIT_LAST:-0}" != 1 ] && continue
		last=${w%$'\r\n'}
		last=${last##*$'\n'}
		peer_saw "$log" "$last" || break
	done
	timeout "${READ_S:-1}" cat <&3 >>"$got" 2>"$WORK/$name.err"
	rc=$?
	exec 3<&- 3>&-
	if grep -q 'reset' "$WORK/$name.err"; then END=reset
	elif [ "$rc" = 0 ]; then END=closed
	else END=open; fi
}

# peer_end: wait (at most T seconds) for the peer to end.
peer_end() {
	local i
	for i in $(seq $((T * 20))); do kill -0 "$PEER_PID" 2>/dev/null || break; sleep 0.05; done
	kill "$PEER_PID" 2>/dev/null
	wait "$PEER_PID" 2>/dev/null
}

# The server side of a DATA session: it answers up to DATA, then reads.
DATA_PEER='sendline 220 mx.example.org ESMTP
expect HELO
sendline 250 mx.example.org
expect MAIL
sendline 250 2.1.0 Ok
expect RCPT
sendline 250 2.1.5 Ok
expect DATA
sendline 354 go ahead
drain'
DATA_SEEN=$(printf '%s\n' '250 mx.example.org' '250 2.1.0 Ok' '250 2.1.5 Ok' '354 go ahead' | crlf)

HEAD=$'From: <>\r\nSubject: witness\r\nContent-Type: multipart/mixed; boundary=b\r\n'
H998="X-Long: $(rep h 990)"
H999="X-Long: $(rep h 991)"
PART=$'\r\n--b\r\nContent-Disposition: attachment; filename="'
F255="${PART}$(rep f 255)\""
F256="${PART}$(rep f 256)\""
N512="NOOP $(rep a 505)"
N513="NOOP $(rep a 506)"

# data_case NAME PROFILE VERDICT PEER-SCRIPT SESSION-ARGS...: one session
# through an emulator in proxy mode. VERDICT "reset|LINE|WHY": the client
# and the server are reset, the server never got LINE, the emulator logged
# WHY; "pass|LINE": no reset, the server got LINE.
data_case() {
	local name=$1 profile=$2 verdict=$3 script=$4 log why line why_ok=1
	shift 4
	log=$WORK/$name.peer.log
	if ! peer "$name" "$script"; then
		not_ok "$name" "peer did not start: $(cat "$WORK/$name.peer.err")"
		return
	fi
	if ! start "$name" --server "127.0.0.1:$PEER_PORT" --profile "$profile"; then
		not_ok "$name" "did not start: $(cat "$WORK/$name.log")"
		return
	fi
	session "$name" "$PORT" "$log" "$@"
	peer_end
	stop "$PID"
	case $verdict in
	reset'|'*)
		line=${verdict#reset|}
		why=${line##*|}
		line=${line%|*}
		grep -q "dropped by the $profile profile: $why" "$WORK/$name.log" || why_ok=0
		if [ "$END" = reset ] && [ "$why_ok" = 1 ] &&
			! grep -qF "C: $line" "$log" &&
			grep -q 'read failed: Connection reset by peer' "$log"; then
			ok "$name"
		else
			not_ok "$name" "expected both sides reset (client: $END; reason logged: $why_ok) and no '${line:0:20}...' at the server; server log: $(grep -v '^C: ' "$log" | tr '\n' ' ')"
		fi ;;
	pass'|'*)
		line=${verdict#pass|}
		peer_saw "$log" "$line"
		if [ "$END" != reset ] && grep -qxF "C: $line" "$log" &&
			! grep -q 'read failed' "$log"; then
			ok "$name"
		else
			not_ok "$name" "expected no reset (client: $END) and '${line:0:20}...' at the server"
		fi ;;
	esac
}

if [ -x "$PEER" ]; then
	for profile in asa fwsm; do
		WAIT_LAST=1 READ_S=0.2 data_case "$profile-header-998" "$profile" "pass|$H998" "$DATA_PEER" \
			--data "$HEAD" "$H998"$'\r\n'
		data_case "$profile-header-999-reset" "$profile" \
			"reset|$H999|message header line too long" "$DATA_PEER" \
			--data "$HEAD" "$H999"$'\r\n'
		WAIT_LAST=1 READ_S=0.2 data_case "$profile-filename-255" "$profile" "pass|Content-Disposition: attachment; filename=\"$(rep f 255)\"" \
			"$DATA_PEER" --data "$HEAD" "$F255"$'\r\n'
		data_case "$profile-filename-256-reset" "$profile" \
			"reset|Content-Disposition|MIME file name too long" "$DATA_PEER" \
			--data "$HEAD" "$F256"$'\r\n'
		WAIT_LAST=1 READ_S=0.2 data_case "$profile-command-512" "$profile" "pass|$N512" 'sendline 220 mx
drain' $'HELO a\r\n' "$N512"$'\r\n'
		data_case "$profile-command-513-reset" "$profile" \
			"reset|NOOP|command line too long" 'sendline 220 mx
drain' $'HELO a\r\n' "$N513"$'\r\n'
	done
	# what the client saw of the 999 case: the replies, then nothing
	want=$WORK/asa-header-999-reset.want
	echo "220 $(rep '*' 20)" | crlf >"$want"
	printf '%s\n' "$DATA_SEEN" >>"$want"
	if cmp -s "$want" "$WORK/asa-header-999-reset.got"; then ok asa-header-999-client-bytes
	else not_ok asa-header-999-client-bytes "bytes differ" "$want" "$WORK/asa-header-999-reset.got"; fi

	# MailGuard: a "." read apart from the line end before it is swallowed
	BODY=$'\r\nbody line\r\n'
	WAIT_LAST=1 READ_S=0.2 data_case pix6-eod-whole pix6-eod "pass|." "$DATA_PEER" --data "$HEAD" \
		"$BODY"$'.\r\n'
	WAIT_LAST=1 READ_S=0.2 data_case pix6-eod-split-kept pix6 "pass|." "$DATA_PEER" --data "$HEAD" "$BODY" $'.\r\n'
	data_case pix6-eod-split pix6-eod "pass|body line" "$DATA_PEER" --data "$HEAD" "$BODY" $'.\r\n'
	if ! grep -qxF 'C: .' "$WORK/pix6-eod-split.peer.log" && [ "$END" = open ]; then
		ok pix6-eod-split-swallowed
	else
		not_ok pix6-eod-split-swallowed "the server got the '.' line, or the client was not left waiting (client: $END)"
	fi

	# the whole-line mask of a multi-line greeting, from a real connection
	if peer whole 'send 220-mx.example.org ESMTP 2.0\r\n220-\r\n220 ok 2020\r\n
drain' && start whole --server "127.0.0.1:$PEER_PORT" --profile pix6-whole-line; then
		READ_S=0.3 session whole "$PORT" -
		peer_end
		stop "$PID"
		printf '%s\r\n' "220*$(rep '*' 21)2*0" '****' '*******2020' >"$WORK/whole.want"
		if cmp -s "$WORK/whole.want" "$WORK/whole.got"; then
			ok pix6-whole-line-multiline
		else
			not_ok pix6-whole-line-multiline "bytes differ" "$WORK/whole.want" "$WORK/whole.got"
		fi
	else
		not_ok pix6-whole-line-multiline "did not start"
	fi
else
	echo "ok data-phase # SKIP $PEER is not built"
fi

# The personas take the witness: null sender, postmaster, DATA, a message
# with no end; the client closes and gets a close, not a reset. Behind asa
# the same session is reset at the 999-octet line.
for persona in $PERSONAS; do
	for profile in none asa; do
		name=witness-$persona-$profile
		if ! start "$name" --persona "$persona" --profile "$profile"; then
			not_ok "$name" "did not start: $(cat "$WORK/$name.log")"
			continue
		fi
		session "$name" "$PORT" - --data "$HEAD" "$H999"$'\r\n' "$F256"$'\r\n'
		want=no
		case $profile/$END in none/open | asa/reset) want=yes ;; esac
		if [ $want = yes ] && grep -q '^354 ' "$WORK/$name.got" &&
			[ "$(grep -c '^[0-9]' "$WORK/$name.got")" = 5 ]; then
			ok "$name"
		else
			not_ok "$name" "client: $END, replies: $(tr '\r\n' '  ' <"$WORK/$name.got")"
		fi
		if [ "$profile" = none ]; then
			for _ in $(seq $((T * 20))); do
				grep -q 'conn 1: closed' "$WORK/$name.log" && break
				sleep 0.05
			done
			if grep -q 'conn 1: closed' "$WORK/$name.log" && ! grep -q 'reset' "$WORK/$name.log"
			then ok "$name-close"
			else not_ok "$name-close" "a client that closed in DATA was not given a plain close"; fi
		fi
		stop "$PID"
	done
done

# --- IPv6 loopback -------------------------------------------------------

if start v6 --listen '[::1]:0' --persona sendmail --profile pix6; then
	check ipv6-sendmail-pix6 ::1 "$PORT" sendmail pix6
	stop "$PID"
elif grep -q 'cannot listen' "$WORK/v6.log"; then
	echo "ok ipv6 # SKIP no IPv6 loopback here: $(cat "$WORK/v6.log")"
else
	not_ok ipv6 "did not start: $(cat "$WORK/v6.log")"
fi

# --- the port file, --max-seconds, signals -------------------------------

mkdir "$WORK/pf"
"$EMU" --listen 127.0.0.1:0 --persona postfix --port-file "$WORK/pf/port" --max-seconds 1 --quiet &
pid=$!
PIDS+=("$pid")
for _ in $(seq 100); do [ -s "$WORK/pf/port" ] && break; sleep 0.05; done
if grep -qx '[1-9][0-9]*' "$WORK/pf/port" && [ "$(ls "$WORK/pf")" = port ]; then
	ok port-file
else
	not_ok port-file "expected a port number alone in pf/, got: $(ls "$WORK/pf") $(cat "$WORK/pf/port" 2>&1)"
fi
for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then
	not_ok max-seconds "still running 6 s after --max-seconds 1"
else
	wait "$pid"
	rc=$?
	if [ "$rc" = 0 ]; then ok max-seconds; else not_ok max-seconds "exit status $rc"; fi
fi

if start sigint --persona exchange; then
	kill -INT "$PID"
	wait "$PID"
	rc=$?
	if [ "$rc" = 0 ]; then ok sigint; else not_ok sigint "exit status $rc"; fi
fi

# --- option errors: one line, exit status 2 ------------------------------

bad() { # bad NAME ARGS...
	local name=$1 rc
	shift
	"$EMU" "$@" >"$WORK/bad.out" 2>"$WORK/bad.err"
	rc=$?
	if [ "$rc" = 2 ] && [ "$(wc -l <"$WORK/bad.err")" = 1 ] && [ ! -s "$WORK/bad.out" ]; then
		ok "options-$name"
	else
		not_ok "options-$name" "status $rc, stderr: $(cat "$WORK/bad.err")"
	fi
}
bad none
bad no-listen --persona postfix
bad no-server --listen 127.0.0.1:0
bad both --listen 127.0.0.1:0 --persona postfix --server 127.0.0.1:25
bad persona --listen 127.0.0.1:0 --persona qmail
bad profile --listen 127.0.0.1:0 --persona postfix --profile pix7
bad port --listen 127.0.0.1:65536 --persona postfix
bad port-sign --listen 127.0.0.1:-1 --persona postfix
bad server-port0 --listen 127.0.0.1:0 --server 127.0.0.1:0
bad v6-brackets --listen ::1:25 --persona postfix
bad name --listen localhost:25 --persona postfix
bad max0 --listen 127.0.0.1:0 --persona postfix --max-seconds 0
bad max-big --listen 127.0.0.1:0 --persona postfix --max-seconds 99999999999999999999
bad max-text --listen 127.0.0.1:0 --persona postfix --max-seconds 5s
bad missing-value --listen 127.0.0.1:0 --persona
bad twice --listen 127.0.0.1:0 --listen 127.0.0.1:0 --persona postfix
bad unknown --listen 127.0.0.1:0 --persona postfix --verbose
"$EMU" --help >"$WORK/help.out"
missing=
for profile in $PROFILES; do grep -q "^  $profile\$" "$WORK/help.out" || missing+=" $profile"; done
if [ -z "$missing" ] && grep -q 'tools/emu/README' "$WORK/help.out" &&
	grep -q 'RFC 5321 4.1.1.4' "$WORK/help.out"; then
	ok help
else
	not_ok help "--help does not list:$missing (or does not name its sources)"
fi

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]

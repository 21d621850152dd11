#!/bin/bash
# tests/faults.sh - the fault suite (issue 4): the built plugin against
# hostile peers (tests/peers/fault-*.txt played by tests/smtp-peer on
# loopback). Each case gives the state the plugin must end in, a phrase its
# first line must hold, and a bound on the wall time: the -t timeout plus a
# margin for cases that need the timeout, 2 s for those that do not. Every
# case also checks that the plugin did not crash (exit above 3, a signal)
# or hang, wrote nothing to stderr, named the server, kept its perfdata
# well formed and escaped what the peer sent (the output is printable
# ASCII, the first line is short), and, from the peer's log, what the
# plugin said. TLS cases (-S, --tls) run if the plugin offers them; two of
# them hold the plugin's first write() with strace (if it works here).
#
#   tests/faults.sh [CASE...]     (all cases when none is named)
#
# Environment (besides tests/lib.sh's):
#   FAULTS_VALGRIND  some (default): every case, then the cases marked "vg"
#                    in the table once more under valgrind memcheck;
#                    all (or 1): every case once, under valgrind only;
#                    none (or 0): no valgrind (lib.sh's ROWS_VALGRIND).
#                    Under valgrind, a memory error or a definite leak fails
#                    the case, and time bounds get VALGRIND_SLACK_MS more.
#   FAULTS_JOBS      cases run at once (default 4; lib.sh's ROWS_JOBS).
#
# Prints "ok NAME" or "not ok NAME: reason" for each case, then
# "N passed, M failed"; exits 1 if any failed.

# shellcheck source=tests/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"

require_built "$PLUGIN" "$PEER"

: "${FAULTS_VALGRIND:=some}"
: "${FAULTS_JOBS:=4}"
# The first line is the summary (at most 1024 octets in the plugin) and
# the perfdata (at most 1024): anything longer is not a clear message.
FIRST_LINE_MAX=2048

case $FAULTS_VALGRIND in
1 | all) FAULTS_VALGRIND=all ;;
0 | none) FAULTS_VALGRIND=none ;;
some) ;;
*)
	echo "FAULTS_VALGRIND must be some, all or none, not '$FAULTS_VALGRIND'" >&2
	exit 99
	;;
esac
if ! [[ $FAULTS_JOBS =~ ^[1-9][0-9]?$ ]]; then
	echo "FAULTS_JOBS must be a number from 1 to 99, not '$FAULTS_JOBS'" >&2
	exit 99
fi
ROWS_VALGRIND=$FAULTS_VALGRIND
ROWS_JOBS=$FAULTS_JOBS

# ---- the table ---------------------------------------------------------

# The rows (lib.sh's row: NAME SCRIPT T STATE PHRASE MAX_MS MIN_MS SENT
# FLAGS MORE...). One flag of this suite: verdict (the conversation was
# held and the summary is the verdict, which need not name the server; a
# failure to hold it must).

# Phrases of the plugin's summary.
NOT_SMTP='does not speak SMTP'
GREETING='waiting for the greeting'
EHLO_REPLY='waiting for the EHLO reply'
HELO_REPLY='waiting for the HELO reply'
QUIT_REPLY='waiting for the QUIT reply'
MIDDLE='in the middle of a reply'

#   name                    script                    -t state     phrase                                              max  min  sent             flags
row silent                  silent                     2 CRITICAL "no answer from .* within 2 s, $GREETING"            3000 1900 -                "" \
	perf_range=time:1.9:2.5 "log=closed by the client"
row drip-greeting           fault-drip-greeting        2 CRITICAL "no complete answer from .* within 2 s, $GREETING"   3000 1900 -
row drip-ehlo-slow          fault-drip-ehlo-slow       2 CRITICAL "no complete answer from .* within 2 s, $EHLO_REPLY" 3000 1900 EHLO
row helo-silent             fault-helo-silent          2 CRITICAL "no answer from .* within 2 s, $HELO_REPLY"          3000 1900 EHLO,HELO
row drip-greeting-v6        fault-drip-greeting        2 CRITICAL "no complete answer from .* within 2 s, $GREETING"   3000 1900 -                v6
# Replies that never end, or end too late: the limits end them.
row endless-multiline       fault-endless-multiline    5 CRITICAL "$NOT_SMTP: too many lines in one reply, $EHLO_REPLY" 2000 0  EHLO
row ehlo-thousands          fault-ehlo-thousands       5 CRITICAL "$NOT_SMTP: too many lines in one reply, $EHLO_REPLY" 2000 0  EHLO
row lines-257               fault-lines-257            5 CRITICAL "$NOT_SMTP: too many lines in one reply, $GREETING"  2000 0    -
row megabyte-greeting       fault-megabyte-greeting    5 CRITICAL "$NOT_SMTP: reply line too long, $GREETING"          2000 0    -                vg
row megabyte-ehlo           fault-megabyte-ehlo        5 CRITICAL "$NOT_SMTP: reply line too long, $EHLO_REPLY"        2000 0    EHLO
row line-1001               fault-line-1001            5 CRITICAL "$NOT_SMTP: reply line too long, $GREETING"          2000 0    -
row reply-65537             fault-reply-65537          5 CRITICAL "$NOT_SMTP: reply too big, $GREETING"                2000 0    -
row byte-cap                fault-byte-cap             5 CRITICAL "sent more than 262144 bytes $QUIT_REPLY"            2000 0    EHLO,HELO,QUIT   vg
row byte-cap-exact          fault-byte-cap-exact       5 CRITICAL "^EHLO refused \(server answered 500\)"             2000 0    EHLO,HELO,QUIT   verdict
row at-limits               fault-at-limits            5 OK       "255 (ESMTP )?extensions"                            2000 0    EHLO,QUIT        verdict
row quit-endless            fault-quit-endless         5 CRITICAL "$NOT_SMTP: too many lines in one reply, $QUIT_REPLY" 2000 0  EHLO,QUIT
# Octets that break the reply grammar.
row nul-greeting            fault-nul-greeting         5 CRITICAL "$NOT_SMTP: NUL octet in reply, $GREETING"           2000 0    -
row nul-ehlo                fault-nul-ehlo             5 CRITICAL "$NOT_SMTP: NUL octet in reply, $EHLO_REPLY"         2000 0    EHLO             vg
row nul-ehlo-v6             fault-nul-ehlo             5 CRITICAL "$NOT_SMTP: NUL octet in reply, $EHLO_REPLY"         2000 0    EHLO             v6
row nul-only                fault-nul-only             5 CRITICAL "$NOT_SMTP: NUL octet in reply, $GREETING"           2000 0    -
row code-999                fault-code-999             5 CRITICAL "$NOT_SMTP: line does not start with a reply code, $GREETING .*999 mail" 2000 0 -
row code-abc                fault-code-abc             5 CRITICAL "$NOT_SMTP: line does not start with a reply code, $GREETING .*abc mail" 2000 0 -
row code-22                 fault-code-22              5 CRITICAL "$NOT_SMTP: line does not start with a reply code, $GREETING .*\"22\"" 2000 0 -
row code-2200               fault-code-2200            5 CRITICAL "$NOT_SMTP: reply code not followed by .*, $GREETING .*2200 x" 2000 0  -
row code-220x               fault-code-220x            5 CRITICAL "$NOT_SMTP: reply code not followed by .*, $GREETING .*220x mail" 2000 0 -
row code-199                fault-code-199             5 CRITICAL "$NOT_SMTP: line does not start with a reply code, $GREETING" 2000 0 -
row code-600                fault-code-600             5 CRITICAL "$NOT_SMTP: line does not start with a reply code, $GREETING" 2000 0 -
row code-2a0                fault-code-2a0             5 CRITICAL "$NOT_SMTP: line does not start with a reply code, $GREETING" 2000 0 -
row code-ehlo               fault-code-ehlo            5 CRITICAL "$NOT_SMTP: reply code not followed by .*, $EHLO_REPLY .*25000" 2000 0 EHLO
row mismatch-greeting       fault-mismatch-greeting    5 CRITICAL "$NOT_SMTP: continuation line with another reply code, $GREETING" 2000 0 -
row mismatch-ehlo           fault-mismatch-ehlo        5 CRITICAL "$NOT_SMTP: continuation line with another reply code, $EHLO_REPLY .*251 8BITMIME" 2000 0 EHLO
row bare-cr                 fault-bare-cr              5 CRITICAL "$NOT_SMTP: CR not followed by LF, $GREETING"        2000 0    -
row cr-line-ends            fault-cr-line-ends         5 CRITICAL "$NOT_SMTP: CR not followed by LF, $GREETING"        2000 0    -
row quit-garbage            fault-quit-garbage         5 CRITICAL "$NOT_SMTP: line does not start with a reply code, $QUIT_REPLY" 2000 0 EHLO,QUIT
row pipe-evidence           fault-pipe-evidence        5 CRITICAL "$NOT_SMTP: .*a\\\\x7cb=1;2;3 \\\\x5c \\\\x1b\\[31mred" 2000 0 -
# Not SMTP at all.
row http                    fault-http                 5 CRITICAL "$NOT_SMTP: .*, $GREETING .*HTTP/1\\.0 200 OK"       2000 0    -
row binary                  fault-binary               5 CRITICAL "$NOT_SMTP: .*, $GREETING .*\\\\x15\\\\x03\\\\x01"   2000 0    -
row binary-code             fault-binary-code          5 CRITICAL "$NOT_SMTP: NUL octet in reply, $GREETING .*\\\\xff\\\\xfe" 2000 0 -
# The connection broken or cut short.
# The reset may come before the plugin sees its connect complete: then it
# is reported as a failure to connect ("Connection reset by peer").
row reset-at-once           fault-reset-at-once        5 CRITICAL "[Rr]eset by "                                       2000 0    -
row reset-greeting          fault-reset-greeting       5 CRITICAL "reset by .* $GREETING"                              2000 0    -
row reset-ehlo              fault-reset-ehlo           5 CRITICAL "reset by .* $EHLO_REPLY"                            2000 0    EHLO
row close-at-once           fault-close-at-once        5 CRITICAL "closed the connection $GREETING\$"                  2000 0    -
row close-mid-greeting      fault-close-mid-greeting   5 CRITICAL "closed the connection $GREETING, $MIDDLE"           2000 0    -
row close-after-greeting    fault-close-after-greeting 5 CRITICAL "closed the connection $EHLO_REPLY\$"                2000 0    EHLO
row close-mid-ehlo          fault-close-mid-ehlo       5 CRITICAL "closed the connection $EHLO_REPLY, $MIDDLE"         2000 0    EHLO
# Replies nobody asked for.
row unsolicited             fault-unsolicited          5 CRITICAL "sent a reply before the command it answers"         2000 0    EHLO
row unsolicited-flood       fault-unsolicited-flood    5 CRITICAL "sent a reply before the command it answers"         2000 0    any
# TLS: a handshake that never completes, garbage where TLS should be.
TLS_HANDSHAKE='during the TLS handshake'
row tls-silent              silent                     2 CRITICAL "no answer from .* within @T@ s, $TLS_HANDSHAKE"      3000 1900 any              tls
row starttls-silent         fault-starttls-silent      2 CRITICAL "^no answer from [^;]* within @T@ s, $TLS_HANDSHAKE" 3000 1900 any              starttls \
	"log=^C: STARTTLS$" peer_rc=0
row tls-plaintext           fault-tls-plaintext        5 CRITICAL "TLS handshake with .* failed"                       2000 0    any              tls,vg
row starttls-garbage        fault-starttls-garbage     5 CRITICAL "TLS handshake[^;]* failed"                          2000 0    any              starttls,verdict \
	perf=tls_extensions=U "log=^C: STARTTLS$" peer_rc=0
row starttls-alert          fault-starttls-alert       5 CRITICAL "TLS handshake[^;]* failed: the server sent the TLS alert \"Handshake failed\""                          2000 0    any              starttls,verdict
row starttls-close          fault-starttls-close       5 CRITICAL "TLS handshake[^;]* (failed|closed)|closed[^;]* TLS handshake" 2000 0 any      starttls,verdict \
	"log=^C: STARTTLS$" peer_rc=0
row starttls-injected       fault-starttls-injected    5 CRITICAL "sent clear-text data after agreeing to STARTTLS"    2000 0    EHLO,STARTTLS    starttls \
	"first_not=CHUNKING|AUTH|OK" "log_count=1:^C: EHLO" peer_rc=0
row tls-gone                fault-close-at-once        5 CRITICAL "TLS handshake[^;]* failed"                          4500 2500 any              tls,slowwrite
row starttls-gone           fault-starttls-gone        5 CRITICAL "TLS handshake[^;]* failed"                          4500 2500 any              starttls,slowwrite,verdict
# The same failures with the other TLS library (plugins/tls.c).
row tls-silent-openssl      silent                     2 CRITICAL "no answer from .* within @T@ s, $TLS_HANDSHAKE"      3000 1900 any              tls,openssl
row tls-plaintext-openssl   fault-tls-plaintext        5 CRITICAL "TLS handshake with .* failed: error:"                    2000 0    any              tls,vg,openssl
row starttls-garbage-openssl fault-starttls-garbage    5 CRITICAL "TLS handshake[^;]* failed: error:"                       2000 0    any              starttls,verdict,openssl
row starttls-alert-openssl  fault-starttls-alert       5 CRITICAL "TLS handshake[^;]* failed: error:"                       2000 0    any              starttls,verdict,openssl
row starttls-close-openssl  fault-starttls-close       5 CRITICAL "TLS handshake[^;]* (failed|closed)|closed[^;]* TLS handshake" 2000 0 any      starttls,verdict,openssl
row tls-gone-openssl        fault-close-at-once        5 CRITICAL "TLS handshake[^;]* failed"                          4500 2500 any              tls,slowwrite,openssl
# TLS that completes, then breaks (tests/smtp-peer's tls directive): each
# must end at once with the library's reason and the step, never OK, and
# a TLS that only looks odd (a KeyUpdate, warnings GnuTLS tolerates) must
# not fail the check.
IN_TLS='waiting for the EHLO reply inside TLS'
# One rule for both libraries (plugins/tls_backend.h): at most 8 KeyUpdates
# and 4 warning alerts from the server in a session; 8 and 4 pass.
KU_FLOOD='the server sent more than 8 TLS KeyUpdate messages'
WARN_FLOOD='the server sent more than 4 TLS warning alerts'
STLS=EHLO,STARTTLS,EHLO
row in-tls-garbage          fault-in-tls-garbage       5 CRITICAL "network error with .* $IN_TLS: an unexpected TLS packet was received\$" 2000 0 $STLS starttls \
	"output=^TLS: TLSv1\.3 " peer_rc=0
row in-tls-alert            fault-in-tls-alert         5 CRITICAL "network error with .* $IN_TLS: the server sent the TLS alert \"Internal error\"\$" 2000 0 $STLS starttls,vg peer_rc=0
row in-tls-alert-unknown    fault-in-tls-alert-unknown 5 CRITICAL "network error with .* $IN_TLS: the server sent the unknown TLS alert 255\$" 2000 0 $STLS starttls peer_rc=0
row in-tls-cut-record       fault-in-tls-cut-record    5 CRITICAL "network error with .* $IN_TLS: error decoding the received TLS packet\$" 2000 0 $STLS starttls peer_rc=0
row in-tls-reset            fault-in-tls-reset         5 CRITICAL "reset by .* $IN_TLS\$"                          2000 0 $STLS starttls peer_rc=0
row in-tls-bye              fault-in-tls-bye           5 CRITICAL "closed the connection $IN_TLS\$"                  2000 0 $STLS starttls peer_rc=0
row in-tls-keyupdate-flood  fault-in-tls-keyupdate-flood 5 CRITICAL "network error with .* $IN_TLS: $KU_FLOOD\$" 2000 0 $STLS starttls
row in-tls-keyupdates       fault-in-tls-keyupdates    5 OK       "no SMTP inspection seen"                            2000 0    $STLS,QUIT       starttls peer_rc=0
row in-tls-warnings         fault-in-tls-warnings      5 CRITICAL "network error with .* $IN_TLS: $WARN_FLOOD\$" 2000 0 $STLS starttls
row in-tls-warnings-few     fault-in-tls-warnings-few  5 OK       "no SMTP inspection seen"                            2000 0    $STLS,QUIT       starttls \
	"output=^TLS: TLSv1\.2 .*\(gnutls\)" perf=tls_extensions=1 peer_rc=0
row in-tls-quit-garbage     fault-in-tls-quit-garbage  5 CRITICAL "network error with .* waiting for the QUIT reply: an unexpected TLS packet was received\$" 2000 0 $STLS,QUIT starttls peer_rc=0
row in-tls-greeting         fault-in-tls-greeting      5 CRITICAL "network error with .* waiting for the greeting: an unexpected TLS packet was received\$" 2000 0 - tls peer_rc=0
row tls-clean               clean-tls                  5 OK       "no SMTP inspection seen, 2 ESMTP extensions"       2000 0    EHLO,QUIT        tls,vg \
	"output=^TLS: TLSv1\.3 TLS_AES_[0-9]+_GCM_SHA[0-9]+ \(gnutls\)$" peer_rc=0
row tls-keyupdate           tls-keyupdate              5 OK       "no SMTP inspection seen, 1 ESMTP extension"        2000 0    EHLO,QUIT        tls peer_rc=0
# The same with OpenSSL: its reasons; the same limits (plugins/tls_backend.h).
row in-tls-garbage-openssl  fault-in-tls-garbage       5 CRITICAL "network error with .* $IN_TLS: error:0A00010B:SSL routines::wrong version number\$" 2000 0 $STLS starttls,openssl peer_rc=0
row in-tls-alert-openssl    fault-in-tls-alert         5 CRITICAL "network error with .* $IN_TLS: error:[0-9A-F]+:SSL routines::tlsv1 alert internal error\$" 2000 0 $STLS starttls,openssl,vg peer_rc=0
row in-tls-alert-unknown-openssl fault-in-tls-alert-unknown 5 CRITICAL "network error with .* $IN_TLS: error:[0-9A-F]+:SSL routines::" 2000 0 $STLS starttls,openssl peer_rc=0
row in-tls-cut-record-openssl fault-in-tls-cut-record  5 CRITICAL "network error with .* $IN_TLS: error:[0-9A-F]+:SSL routines::unexpected eof while reading\$" 2000 0 $STLS starttls,openssl peer_rc=0
row in-tls-reset-openssl    fault-in-tls-reset         5 CRITICAL "reset by .* $IN_TLS\$"                          2000 0 $STLS starttls,openssl peer_rc=0
row in-tls-bye-openssl      fault-in-tls-bye           5 CRITICAL "closed the connection $IN_TLS\$"                  2000 0 $STLS starttls,openssl peer_rc=0
row in-tls-keyupdate-flood-openssl fault-in-tls-keyupdate-flood 5 CRITICAL "network error with .* $IN_TLS: $KU_FLOOD\$" 2000 0 $STLS starttls,openssl
row in-tls-keyupdates-openssl fault-in-tls-keyupdates  5 OK       "no SMTP inspection seen"                            2000 0    $STLS,QUIT       starttls,openssl peer_rc=0
row in-tls-warnings-openssl fault-in-tls-warnings      5 CRITICAL "network error with .* $IN_TLS: $WARN_FLOOD\$" 2000 0 $STLS starttls,openssl
row in-tls-warnings-few-openssl fault-in-tls-warnings-few 5 OK     "no SMTP inspection seen"                            2000 0    $STLS,QUIT       starttls,openssl \
	"output=^TLS: TLSv1\.2 .*\(openssl\)" perf=tls_extensions=1 peer_rc=0
row in-tls-quit-garbage-openssl fault-in-tls-quit-garbage 5 CRITICAL "network error with .* waiting for the QUIT reply: error:0A00010B:SSL routines::wrong version number\$" 2000 0 $STLS,QUIT starttls,openssl peer_rc=0
row in-tls-greeting-openssl fault-in-tls-greeting      5 CRITICAL "network error with .* waiting for the greeting: error:0A00010B:SSL routines::wrong version number\$" 2000 0 - tls,openssl peer_rc=0
row tls-clean-openssl       clean-tls                  5 OK       "no SMTP inspection seen, 2 ESMTP extensions"       2000 0    EHLO,QUIT        tls,openssl \
	"output=^TLS: TLSv1\.3 TLS_AES_[0-9]+_GCM_SHA[0-9]+ \(openssl\)$" peer_rc=0
row tls-keyupdate-openssl   tls-keyupdate              5 OK       "no SMTP inspection seen, 1 ESMTP extension"        2000 0    EHLO,QUIT        tls,openssl peer_rc=0

# ---- running one case ------------------------------------------------

# The perfdata of the first line is well formed (as lib.sh's
# expect_perfdata_wellformed) and starts with the labels of the plugin's
# contract; with TLS (TLS=1) more labels may follow (time_tls...).
expect_perfdata_shape() {
	local tls=$1 base
	perfdata_labels || return 0
	base="${PERF_LABELS[*]:0:7}"
	if [ "$base" != "$PERF_CONTRACT" ]; then
		fail "perfdata labels are '${PERF_LABELS[*]}', expected '$PERF_CONTRACT' first"
	elif [ ${#PERF_LABELS[@]} -gt 7 ] && [ "$tls" != 1 ]; then
		fail "perfdata labels are '${PERF_LABELS[*]}', expected only '$PERF_CONTRACT' without TLS"
	fi
}

# The checks every case shares, after the plugin ran.
common_fault_checks() {
	local target=$1 verdict=$2 tls=$3 len bad

	if [ "$RC" -gt 3 ] && [ "$RC" -ne 124 ] && [ "$RC" -ne 137 ]; then
		if [ "$RC" -eq "$VALGRIND_ERROR_RC" ] && [ -n "$PLUGIN_PREFIX" ]; then
			fail "valgrind found errors (exit $RC)"
		elif [ "$RC" -gt 128 ]; then
			fail "the plugin crashed: killed by signal $((RC - 128)) (SIG$(kill -l $((RC - 128)) 2>/dev/null))"
		else
			fail "the plugin crashed: exit code $RC is not a plugin state"
		fi
	fi
	if [ -z "$FIRST" ]; then
		fail "no output"
		return
	fi
	len=${#FIRST}
	[ "$len" -le "$FIRST_LINE_MAX" ] || fail "the first line is $len octets long, at most $FIRST_LINE_MAX expected"
	if [ "$verdict" != 1 ]; then
		[[ $FIRST == *"$target"* ]] || fail "the first line does not name the server ($target)"
	fi
	expect_perfdata_shape "$tls"
	bad=$(LC_ALL=C grep -n '[^ -~]' "$OUT" | head -n 1)
	[ -z "$bad" ] || fail "unescaped octets in the output, line $(LC_ALL=C cat -v <<<"$bad")"
}

# The checks every case shares (lib.sh calls them after each run).
row_checks() {
	common_fault_checks "$1" "$([[ $2 == *,verdict,* ]] && echo 1)" "$3"
}

run_suite "$@"
echo "# $ROWS_RUN cases in $((ROWS_MS / 1000)).$((ROWS_MS % 1000 / 100)) s (FAULTS_VALGRIND=$ROWS_VALGRIND, FAULTS_JOBS=$FAULTS_JOBS)"
finish

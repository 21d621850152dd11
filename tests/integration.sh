#!/bin/bash
# tests/integration.sh - the built plugin against scripted peers on
# loopback (tests/peers/*.txt played by tests/smtp-peer): clean servers,
# masking boxes, refusals, garbage. Each case checks the exit code, the
# first line, the perfdata and, from the peer's log, what the plugin said
# (EHLO in one line, HELO only after a failed EHLO, QUIT). A hostile peer
# (silence, a reset, a close, broken replies) is a row of tests/faults.sh.
# The cases are the functions case_NAME and the rows of the table at the
# end (tests/lib.sh's run_suite finds them by name).
#
#   tests/integration.sh [CASE...]     (all cases when none is named)
#
# Prints "ok NAME" or "not ok NAME: reason" for each case, then
# "N passed, M failed"; exits 1 if any failed.

# shellcheck source=tests/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"

require_built "$PLUGIN" "$PEER"

# The plugin's options that set the state of a kind of finding.
OPT_BANNER=--banner-masked
OPT_EXT_MASKED=--extensions-masked
OPT_EHLO_REFUSED=--ehlo-refused
OPT_EHLO_NOOP=--ehlo-noop
OPT_EXT_MISSING=--missing-extension
OPT_EXT_INCONSISTENT=--inconsistent-extensions
OPT_FINGERPRINT=--fingerprint

# What the plugin must send, each a whole line (CRLF removed by the peer).
EHLO_LINE="EHLO probe\\.example\\.net"
HELO_LINE="HELO probe\\.example\\.net"
QUIT_LINE="QUIT"
OK_FIRST='^SMTP FIXUP OK - '
WARN_FIRST='^SMTP FIXUP WARNING - '
CRIT_FIRST='^SMTP FIXUP CRITICAL - '
UNKNOWN_FIRST='^SMTP FIXUP UNKNOWN - '
# Key phrases of the summary.
MASKED_EXT='ESMTP extensions? masked'
BANNER_MASKED='(greeting|banner)[^;|]* masked'
ASA='ASA'
PIX='PIX'

# Checks every conversation shares: perfdata shape, CRLF line ends, each
# command whole in one line.
common_checks() {
	expect_perfdata_wellformed
	expect_no_log 'bare LF|was cut|had no end'
}

# A clean server: OK naming the host and the count, nothing masked, and the
# plugin said exactly EHLO then QUIT.
clean_case() {
	local script=$1 n=$2
	shift 2
	peer_start "$script"
	probe "$@"
	peer_finish
	expect_rc 0
	expect_first "${OK_FIRST}127\\.0\\.0\\.1:$PEER_PORT"
	expect_first "(^|[^0-9.])$n (ESMTP )?extensions"
	expect_first_not 'mask|PIX|ASA|refused|NOOP'
	expect_perf extensions "$n"
	expect_perf masked_extensions 0
	expect_perf banner_masked 0
	expect_perf_range time 0 2
	common_checks
	expect_client_lines "$EHLO_LINE" "$QUIT_LINE"
	expect_peer_rc 0
}

# ---- clean servers ---------------------------------------------------

case_clean_postfix() {
	clean_case clean-postfix 10
	expect_output '^Extensions \(10\):.*STARTTLS.*CHUNKING'
}

case_clean_exim() {
	clean_case clean-exim 8
}

case_clean_exchange() {
	clean_case clean-exchange 14
}

case_clean_sendmail() {
	clean_case clean-sendmail 11
}

case_greeting_multiline() {
	clean_case greeting-multiline 5
}

case_decorated_banner() {
	clean_case decorated-banner 6
}

case_x_extensions() {
	clean_case x-extensions 10
}

# -v adds the transcript; the verdict does not change.
case_verbose() {
	clean_case clean-postfix 10 -v
	expect_output "$EHLO_LINE"
	expect_output '250 CHUNKING'
}

# Without -F the plugin still sends one EHLO with some name.
case_default_fqdn() {
	peer_start clean-postfix
	run_plugin 7 -H 127.0.0.1 -p "$PEER_PORT" -t 5
	peer_finish
	expect_rc 0
	expect_first "$OK_FIRST"
	expect_client_lines "EHLO [A-Za-z0-9][A-Za-z0-9.-]*|EHLO \\[[0-9a-fA-F.:]+\\]" "$QUIT_LINE"
	expect_peer_rc 0
}

case_ipv6() {
	if ! have_ipv6; then
		case_skip "no IPv6 loopback here"
		return
	fi
	peer_start clean-postfix --listen ::1
	run_plugin 7 -6 -H ::1 -p "$PEER_PORT" -F "$FQDN" -t 5
	peer_finish
	expect_rc 0
	expect_first "$OK_FIRST"
	expect_perf extensions 10
	common_checks
	expect_client_lines "$EHLO_LINE" "$QUIT_LINE"
	expect_log '^# connection 1 from ::1$'
	expect_peer_rc 0
}

# ---- required extensions ---------------------------------------------

case_require_missing() {
	peer_start clean-sendmail
	probe -R CHUNKING
	peer_finish
	expect_rc 2
	expect_first "${CRIT_FIRST}.*CHUNKING"
	expect_first_not 'mask'
	expect_perf extensions 11
	common_checks
	expect_client_lines "$EHLO_LINE" "$QUIT_LINE"
	expect_peer_rc 0
}

# ---- SMTP inspection boxes -------------------------------------------

case_asa() {
	peer_start asa
	probe
	peer_finish
	expect_rc 2
	expect_first "${CRIT_FIRST}2 of 9 $MASKED_EXT"
	expect_first "$BANNER_MASKED"
	expect_first "$ASA"
	expect_perf extensions 9
	expect_perf masked_extensions 2
	expect_perf banner_masked 1
	common_checks
	expect_output 'XXXXXXXA'
	expect_output 'XXXXXXXB'
	expect_output 'no inspect esmtp'
	expect_client_lines "$EHLO_LINE" "$QUIT_LINE"
	expect_peer_rc 0
}

# The same box, its replies read one octet at a time.
case_asa_dripped() {
	peer_start asa-dripped
	probe
	peer_finish
	expect_rc 2
	expect_first "${CRIT_FIRST}2 of 9 $MASKED_EXT"
	expect_perf masked_extensions 2
	expect_perf banner_masked 1
	expect_perf_range time_banner 0.05 3
	common_checks
	expect_client_lines "$EHLO_LINE" "$QUIT_LINE"
	expect_peer_rc 0
}

case_pix6() {
	peer_start pix6
	probe
	peer_finish
	expect_rc 2
	expect_first "${CRIT_FIRST}EHLO refused"
	expect_first "$BANNER_MASKED"
	expect_first "$PIX"
	expect_perf banner_masked 1
	expect_perf masked_extensions 0
	expect_perf extensions 0
	common_checks
	expect_output 'XXXX probe\.example\.net'
	expect_output 'no fixup protocol smtp'
	expect_client_lines "$EHLO_LINE" "$HELO_LINE" "$QUIT_LINE"
	expect_peer_rc 0
}

case_pix_noop() {
	peer_start pix-noop
	probe
	peer_finish
	expect_rc 2
	expect_first "${CRIT_FIRST}EHLO [^;]*NOOP"
	expect_first "$BANNER_MASKED"
	expect_first "$PIX"
	expect_perf banner_masked 1
	expect_perf extensions 0
	common_checks
	expect_output '250 2\.0\.0 Ok'
	expect_client_lines "$EHLO_LINE" "$HELO_LINE" "$QUIT_LINE"
	expect_peer_rc 0
}

case_pix4_cmap() {
	peer_start pix4-cmap
	probe
	peer_finish
	expect_rc 2
	expect_first "${CRIT_FIRST}EHLO refused"
	expect_first 'cmap'
	expect_perf banner_masked 1
	common_checks
	expect_client_lines "$EHLO_LINE" "$HELO_LINE" "$QUIT_LINE"
	expect_peer_rc 0
}

# BINARYMIME without CHUNKING: WARNING by default, and adjustable.
case_inconsistent() {
	peer_start inconsistent
	probe
	peer_finish
	expect_rc 1
	expect_first "${WARN_FIRST}.*BINARYMIME.*CHUNKING"
	expect_perf masked_extensions 0
	expect_perf extensions 7
	common_checks
	expect_client_lines "$EHLO_LINE" "$QUIT_LINE"
	expect_peer_rc 0
}

# ---- servers that refuse or fail -------------------------------------

# 554 in the greeting: the plugin says QUIT and nothing else (RFC 5321 3.1).
case_greeting_554() {
	peer_start greeting-554
	probe
	peer_finish
	expect_rc 2
	expect_first "${CRIT_FIRST}.*refuses.*554"
	expect_elapsed_max 2000
	expect_perfdata_wellformed
	expect_client_lines "$QUIT_LINE"
	expect_peer_rc 0
}

case_greeting_421() {
	peer_start greeting-421
	probe
	peer_finish
	expect_rc 2
	expect_first "${CRIT_FIRST}.*421"
	expect_elapsed_max 2000
	expect_perfdata_wellformed
	expect_no_log '^C: (EHLO|HELO)'
}

# Nothing listens: refused at once.
case_refused() {
	peer_start silent --connections 0
	probe
	expect_rc 2
	expect_first "${CRIT_FIRST}.*refused"
	expect_elapsed_max 2000
	expect_perfdata_wellformed
	kill "$PEER_PID" 2>/dev/null
	wait "$PEER_PID" 2>/dev/null
	PEER_PID=
}

case_garbage_ssh() {
	peer_start garbage-ssh
	probe
	peer_finish
	expect_rc 2
	expect_first "${CRIT_FIRST}.*not speak SMTP.*SSH-2\\.0"
	expect_elapsed_max 2000
	expect_perfdata_wellformed
	expect_no_log '^C: (EHLO|HELO)'
}

case_garbage_http() {
	peer_start garbage-http
	probe
	peer_finish
	expect_rc 2
	expect_first "${CRIT_FIRST}.*not speak SMTP.*HTTP/1\\.1"
	expect_elapsed_max 2000
	expect_perfdata_wellformed
	expect_no_log '^C: (EHLO|HELO)'
}

# 421 to EHLO: the server ends the session; no HELO after it.
case_ehlo_421() {
	peer_start ehlo-421
	probe
	peer_finish
	expect_rc 2
	expect_first "${CRIT_FIRST}.*421"
	expect_elapsed_max 2000
	expect_perfdata_wellformed
	expect_client_lines "$EHLO_LINE"
	expect_peer_rc 0
}

# 421 to a probe command: the server ended the session, CRITICAL.
case_probe_421() {
	peer_start probe-421
	probe --probe
	peer_finish
	expect_rc 2
	expect_first "${CRIT_FIRST}.*ended the session itself.*421"
	expect_elapsed_max 2000
	expect_perfdata_wellformed
	expect_peer_rc 0
}

# A probe refused by the server itself, then its close: its policy. OK,
# a note naming the command it refused, no box, no "dropped".
case_probe_521_close() {
	peer_start probe-521-close
	probe --probe
	peer_finish
	expect_rc 0
	expect_first "^SMTP FIXUP OK - .*note: the server refused the probe NOOP \\(607 octets with CRLF\\) \\(521\\) and closed"
	expect_first_not "ASA|PIX|Cisco|dropped|RSET"
	expect_elapsed_max 2000
	expect_perfdata_wellformed
	expect_peer_rc 0
}

# EHLO refused with no X echo: CRITICAL by default, HELO tried, and no
# claim that a firewall X-ed the command.
case_ehlo_502() {
	peer_start ehlo-502
	probe
	peer_finish
	expect_rc 2
	expect_first "${CRIT_FIRST}EHLO refused"
	expect_first_not "X's|XXXX|PIX|ASA"
	expect_perf banner_masked 0
	expect_perf extensions 0
	common_checks
	expect_client_lines "$EHLO_LINE" "$HELO_LINE" "$QUIT_LINE"
	expect_peer_rc 0
}

# No EHLO reply: CRITICAL at the timeout, naming the step.
case_ehlo_silent() {
	peer_start ehlo-silent
	T=2 probe
	peer_finish
	expect_rc 2
	expect_first "${CRIT_FIRST}.*EHLO"
	expect_elapsed_min 1900
	expect_elapsed_max 3000
	expect_perfdata_wellformed
	expect_perf time_ehlo U
	expect_client_lines "$EHLO_LINE"
}

# No answer to QUIT: the verdict stands (OK) and the wait for 221 is short.
case_quit_silent() {
	peer_start quit-silent
	probe
	peer_finish
	expect_rc 0
	expect_first "${OK_FIRST}.*[^0-9]2 (ESMTP )?extensions"
	expect_elapsed_max 2500
	expect_client_lines "$EHLO_LINE" "$QUIT_LINE"
	expect_peer_rc 0
}

# ---- bad options -----------------------------------------------------

case_bad_options() {
	local -a bad=(
		"-p 25"
		"-H 127.0.0.1 -p notaport"
		"-H 127.0.0.1 -p 70000"
		"-H 127.0.0.1 -p -1"
		"-H 127.0.0.1 -t 0"
		"-H 127.0.0.1 -t abc"
		"-H 127.0.0.1 -w fast"
		"-H 127.0.0.1 -c 1x"
		"-H 127.0.0.1 $OPT_BANNER=maybe"
		"-H 127.0.0.1 $OPT_EXT_MASKED="
		"-H 127.0.0.1 -R"
		"-H 127.0.0.1 --no-such-option"
	)
	local args i=0
	for args in "${bad[@]}"; do
		i=$((i + 1))
		if [ $i -eq 1 ]; then
			CASE="bad-options-1"
		else
			case_begin "bad-options-$i"
		fi
		# shellcheck disable=SC2086 # the arguments are meant to split
		run_plugin 5 $args
		expect_rc 3
		expect_first "$UNKNOWN_FIRST"
		expect_elapsed_max 2000
		FAILS=("${FAILS[@]/#/[$args] }")
		if [ $i -lt ${#bad[@]} ]; then
			case_end
		fi
	done
}

# ---- the peer's own checks (so a broken peer cannot pass as a plugin bug)

# The peer fails a client that does not say what the script expects.
case_peer_detects_mismatch() {
	# clean-postfix expects EHLO then QUIT; a client that connects and
	# leaves must make the peer fail.
	peer_start clean-postfix
	if exec 3<>"/dev/tcp/127.0.0.1/$PEER_PORT"; then
		exec 3<&-
	else
		fail "cannot connect with bash /dev/tcp"
	fi
	peer_finish
	expect_peer_rc 1
	expect_log '^# MISMATCH'
}

# A client that sends the wrong command.
case_peer_detects_wrong_line() {
	peer_start greeting-554
	if exec 3<>"/dev/tcp/127.0.0.1/$PEER_PORT"; then
		printf 'EHLO x\r\n' >&3
		exec 3<&-
	else
		fail "cannot connect with bash /dev/tcp"
	fi
	peer_finish
	expect_peer_rc 1
	expect_log '^C: EHLO x$'
	expect_log '^# MISMATCH .*does not start'
}

# ---- the same peers with other options: one row each -----------------
# lib.sh's row: NAME SCRIPT T STATE PHRASE MAX_MS MIN_MS SENT FLAGS MORE...

# Required extensions that are there, named in any case: OK.
row require-present          clean-postfix 5 OK       ""                      - 0 any "" \
	"args=-R starttls,8BITMIME,Chunking" peer_rc=0
# One of several missing is enough, and only that one is named; the state
# can be lowered.
row require-missing-warning  clean-exim    5 WARNING  "SMTPUTF8"              - 0 any "" \
	"args=-R STARTTLS,SMTPUTF8 $OPT_EXT_MISSING=warning" first_not=STARTTLS peer_rc=0
# Masked extensions alone are CRITICAL (the banner finding set to ok).
row asa-extensions-only      asa           5 CRITICAL "$MASKED_EXT"           - 0 any "" \
	"args=$OPT_BANNER=ok" perf=masked_extensions=2 peer_rc=0
# State overrides: masked extensions lowered to warning, banner to ok.
row asa-overrides-warning    asa           5 WARNING  "$MASKED_EXT"           - 0 any "" \
	"args=$OPT_BANNER=ok $OPT_EXT_MASKED=warning" perf=masked_extensions=2 peer_rc=0
# Both findings set to ok: OK, and the perfdata still tells the truth.
row asa-overrides-ok         asa           5 OK       ""                      - 0 any "" \
	"args=$OPT_BANNER=ok $OPT_EXT_MASKED=ok" perf=masked_extensions=2 perf=banner_masked=1 peer_rc=0
# A banner finding can also be raised.
row asa-banner-critical      asa           5 CRITICAL "$BANNER_MASKED"        - 0 any "" \
	"args=$OPT_EXT_MASKED=ok $OPT_BANNER=critical" peer_rc=0
# The refused EHLO alone is CRITICAL; set to ok, nothing is left.
row pix6-ehlo-refused-only   pix6          5 CRITICAL "^EHLO refused"         - 0 any "" \
	"args=$OPT_BANNER=ok" peer_rc=0
row pix6-all-ok              pix6          5 OK       ""                      - 0 any "" \
	"args=$OPT_BANNER=ok $OPT_EHLO_REFUSED=ok" perf=banner_masked=1 peer_rc=0
# A banner masked PIX style is a WARNING by default.
row pix6-banner-warning      pix6          5 WARNING  "$BANNER_MASKED"        - 0 any "" \
	"args=$OPT_EHLO_REFUSED=ok" perf=banner_masked=1 peer_rc=0
row pix-noop-only            pix-noop      5 CRITICAL "^EHLO [^;]*NOOP"       - 0 any "" \
	"args=$OPT_BANNER=ok" peer_rc=0
row pix-noop-lowered         pix-noop      5 WARNING  "^EHLO [^;]*NOOP"       - 0 any "" \
	"args=$OPT_BANNER=ok $OPT_EHLO_NOOP=warning" peer_rc=0
row pix4-cmap-banner-only    pix4-cmap     5 WARNING  "cmap"                  - 0 any "" \
	"args=$OPT_EHLO_REFUSED=ok" perf=banner_masked=1 "output=PIX 4" peer_rc=0
# BINARYMIME without CHUNKING (WARNING by default, case_inconsistent) is
# adjustable.
row inconsistent-critical    inconsistent  5 CRITICAL "BINARYMIME"            - 0 any "" \
	"args=$OPT_EXT_INCONSISTENT=critical" peer_rc=0
row inconsistent-ok          inconsistent  5 OK       ""                      - 0 any "" \
	"args=$OPT_EXT_INCONSISTENT=ok" peer_rc=0
# A Check Point banner: noted, OK by default, and adjustable.
row fingerprint              checkpoint    5 OK       "Check ?Point"          - 0 any "" \
	perf=banner_masked=0 peer_rc=0
row fingerprint-warning      checkpoint    5 WARNING  "Check ?Point"          - 0 any "" \
	"args=$OPT_FINGERPRINT=warning" peer_rc=0
# Response time: the banner comes after about 1.2 s.
row slow-banner              slow-banner   5 WARNING  ""                      - 1150 any "" \
	"args=-w 1 -c 5" perf_range=time:1.15:3 perf_range=time_banner:1.1:3 perf=extensions=3 peer_rc=0
row slow-banner-critical     slow-banner   5 CRITICAL ""                      - 0 any "" \
	"args=-w 0.5 -c 1" peer_rc=0
row slow-banner-within       slow-banner   5 OK       ""                      - 0 any "" \
	"args=-w 3 -c 5" peer_rc=0

# A mask over the whole greeting line (doc/inspection-boxes.md 1.4): the
# masked banner, CRITICAL even when --banner-masked would lower it, with the
# PIX; not "does not speak SMTP". A clear line, then '*': not a mask.
BROKEN='^greeting banner masked over the whole line'
row pix6-whole-line          pix6-whole-line 5 CRITICAL "$BROKEN \(the separator after 220 masked\): clients cannot parse it" \
	- 0 - "" "args=$OPT_BANNER=ok" perf=banner_masked=1 "first_not=does not speak" \
	"output=^  seen: 220\*{30}2\*\*0\*\*2020\*$" "output=remedy: On the PIX" peer_rc=0
row pix6-whole-line-multiline pix6-whole-line-multiline 5 CRITICAL "$BROKEN \(a continuation line lost its code\)" \
	- 0 - vg perf=banner_masked=1 "output=^  seen: \*{4}$" "output=^  seen: \*{7}2020$" peer_rc=0
row stars-after-clear        stars-after-clear 5 CRITICAL "does not speak SMTP: .*waiting for the greeting \(it sent \"\*{4}\"\)" \
	- 0 - "" "first_not=masked|PIX|ASA" peer_rc=0
# --probe=data: the DATA-phase witness (doc/inspection-boxes.md 4.1). The
# server's own reply is its policy; a refused recipient skips the witness;
# a silent close after the MIME part names the ASA's file-name rule. The
# recipient defaults to postmaster at the EHLO name's domain for an
# address; the end-of-data marker is never sent.
WITNESS_LINES='EHLO,MAIL FROM:<>,RCPT TO:<postmaster@example\.net>'
row data-server-554          data-554      5 OK       "DATA witness: the server itself answered 554 after a message header line of 1000 octets: its own policy" \
	- 0 any vg "args=--probe=data" "log=^C: RCPT TO:<postmaster@example\.net>$" "log=^C: X-Witness: x{989}$" \
	"no_log=^C: \.$" "first_not=ASA" peer_rc=0
row data-refused             data-refused  5 OK       "DATA witness skipped: the server refused RCPT TO:<postmaster@example\.net> \(554\)" \
	- 0 "$WITNESS_LINES,QUIT" "" "args=--probe=data" "no_log=^C: DATA" peer_rc=0
row data-refused-rcpt-given  data-refused  5 OK       "skipped: the server refused RCPT TO:<abuse@example\.org> \(554\)" \
	- 0 any "" "args=--probe=data --probe-rcpt=abuse@example.org" "log=^C: RCPT TO:<abuse@example\.org>$"
row data-close-filename      data-close-filename 5 CRITICAL "^connection closed with no reply after a MIME file name of 300 octets \(DATA witness\)" \
	- 0 any vg "args=--probe=data" "log=^C: Content-Disposition: attachment; filename=\"f{300}\"$" \
	"no_log=^C: \.$" "output=^  seen: 354 go ahead$" peer_rc=0
row data-close-lowered       data-close-filename 5 WARNING "MIME file name of 300 octets" \
	- 0 any "" "args=--probe=data --data-dropped=warning" peer_rc=0

run_suite "$@"
finish

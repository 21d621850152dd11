#!/bin/bash
# tests/servers/selftest.sh - check that the real mail servers and proxies of
# the test suite work: installs them if needed (install-packages.sh), starts
# the plain Postfix, then every other server and every proxy (in front of
# that Postfix) at the same time on free loopback ports, and checks for each:
#   - the greeting is a 220 (from that server, or the backend's through a
#     transparent proxy),
#   - EHLO lists STARTTLS (or, where the table TLS says none, does not),
#   - STARTTLS works: openssl s_client -starttls smtp completes the handshake,
#     verifies the server's self-signed certificate for 127.0.0.1 against
#     itself, and the EHLO inside TLS is answered (and no longer offers
#     STARTTLS, RFC 3207); for stunnel's TLS wrapper the same through
#     implicit TLS; OpenSMTPD's handshake must fail as documented in
#     opensmtpd.sh (it cannot work on bookworm: a change there shows here),
#   - through nginx, a MAIL FROM and RCPT TO reach the backend (the
#     auth_http helper answered),
#   - `log DIR` shows the server's own log,
# then stops all and checks that the ports are closed and the folders gone.
# Exit 0 only if all of that holds; on failure the servers' logs are printed.
# Talks to 127.0.0.1 only. Needs root (Postfix does).
# shellcheck disable=SC2016,SC2015  # bash -c scripts expand their own $1
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# NAME -> "SCRIPT ENV=VALUE...": @NAME is 127.0.0.1:PORT of that server.
declare -A SPEC=(
    [postfix]="postfix"
    [postfix-discard]="postfix POSTFIX_VARIANT=discard"
    [postfix-nochunking]="postfix POSTFIX_VARIANT=nochunking"
    [postscreen]="postfix POSTFIX_VARIANT=postscreen"
    [postscreen-deep]="postfix POSTFIX_VARIANT=postscreen-deep"
    [exim]="exim" [opensmtpd]="opensmtpd" [sendmail]="sendmail" [haraka]="haraka"
    [aiosmtpd]="aiosmtpd" [smtp-sink]="smtp-sink"
    [nginx]="nginx-mail SRV_BACKEND=@postfix" [haproxy]="haproxy SRV_BACKEND=@postfix"
    [stunnel-wrap]="stunnel STUNNEL_MODE=wrap SRV_BACKEND=@postfix"
    [stunnel-smtp]="stunnel STUNNEL_MODE=smtp SRV_BACKEND=@postfix"
    [proxsmtp]="proxsmtp SRV_BACKEND=@postfix" [spampd]="spampd SRV_BACKEND=@postfix"
)
# How TLS is checked: starttls (verified against DIR/cert.pem, or the
# backend's for haproxy), implicit, broken (offered, handshake fails), none
# (not offered), relayed (offered by the backend; spampd relays lines, not
# a handshake: not tried), proxied (STARTTLS played by stunnel, the backend
# unaware of TLS: it still offers STARTTLS inside).
declare -A TLS=(
    [opensmtpd]=broken [smtp-sink]=none [proxsmtp]=none [spampd]=relayed
    [stunnel-wrap]=implicit [stunnel-smtp]=proxied
)
SERVERS=(postfix postfix-discard postfix-nochunking postscreen postscreen-deep exim opensmtpd
    sendmail haraka aiosmtpd smtp-sink nginx haproxy stunnel-wrap stunnel-smtp proxsmtp spampd)
PASS=0
FAIL=0
TMP=
declare -A PORT=() DIR=()

now() { local t=${EPOCHREALTIME/./}; echo "${t:0:-3}"; }   # milliseconds
secs() { printf '%d.%02ds' $(($1 / 1000)) $(($1 % 1000 / 10)); }
say() { printf 'selftest: %s\n' "$*"; }
ok() { PASS=$((PASS + 1)); say "ok   $*"; }
bad() { FAIL=$((FAIL + 1)); say "FAIL $*"; }

script_of() { local sp=${SPEC[$1]}; echo "${sp%% *}"; }

port_open() { timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/$1' _ "$1" 2>/dev/null; }

dump_logs() {
    local s
    for s in "${SERVERS[@]}"; do
        [ -n "${DIR[$s]:-}" ] && [ -d "${DIR[$s]}" ] || continue
        printf -- '===== %s log (%s) =====\n' "$s" "${DIR[$s]}"
        "$HERE/$(script_of "$s").sh" log "${DIR[$s]}" 2>&1 || true
    done
}

cleanup() {
    local s
    for s in "${SERVERS[@]}"; do
        [ -n "${DIR[$s]:-}" ] && [ -d "${DIR[$s]}" ] || continue
        "$HERE/$(script_of "$s").sh" stop "${DIR[$s]}" >/dev/null 2>&1 || true
    done
    [ -z "$TMP" ] || rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# start_on_free_port NAME: start server NAME on a free port, retrying with
# another port when the one picked is taken (exit 3 of the start command).
start_on_free_port() {
    local s=$1 port rc w envs=()
    for w in ${SPEC[$s]#"$(script_of "$s")"}; do
        [[ $w == *=@* ]] && w=${w%%=*}=127.0.0.1:$(cat "$TMP/${w#*=@}.port")
        envs+=("$w")
    done
    for _ in 1 2 3 4 5 6 7 8; do
        port=$((20000 + RANDOM))
        if port_open "$port"; then continue; fi
        rc=0
        env "${envs[@]}" "$HERE/$(script_of "$s").sh" start "${DIR[$s]}" "$port" 2>"$TMP/$s.start.err" || rc=$?
        if [ "$rc" = 0 ]; then
            echo "$port" >"$TMP/$s.port"
            return 0
        fi
        [ "$rc" = 3 ] || break
    done
    cat "$TMP/$s.start.err" >&2
    return 1
}

# smtp_plain PORT: greeting, EHLO, QUIT over a plain connection; prints the
# server's lines without CR.
smtp_plain() {
    timeout 10 bash -c '
        exec 3<>/dev/tcp/127.0.0.1/$1 || exit 1
        rd() { while IFS= read -r -t 5 l <&3; do l=${l%$'"'"'\r'"'"'}; printf "%s\n" "$l"; case $l in [0-9][0-9][0-9]-*) ;; *) return 0 ;; esac; done; return 1; }
        rd || exit 1
        printf "EHLO selftest.invalid\r\n" >&3; rd || exit 1
        # stunnel (protocol = smtp) waits for STARTTLS and resets on QUIT
        printf "QUIT\r\n" >&3; rd 2>/dev/null || true
    ' _ "$1"
}

# smtp_tls PORT CERT [implicit]: STARTTLS (or implicit TLS) with certificate
# check, then EHLO and QUIT inside TLS; prints s_client's report and the
# server's lines. QUIT follows a moment after EHLO: sendmail answers
# commands pipelined right after the handshake with "554 5.5.0 SMTP
# protocol error".
smtp_tls() {
    local starttls=(-starttls smtp)
    [ "${3:-}" != implicit ] || starttls=()
    { printf 'EHLO selftest.invalid\r\n'; sleep 0.5; printf 'QUIT\r\n'; } |
        timeout 15 openssl s_client "${starttls[@]}" -connect "127.0.0.1:$1" \
            -name selftest.invalid -brief -ign_eof \
            -CAfile "$2" -verify_ip 127.0.0.1 -verify_return_error 2>&1 | tr -d '\r'
}

# check_tls NAME PORT CERT [implicit|proxied]: the handshake verifies, and
# the EHLO inside TLS is answered without STARTTLS (RFC 3207), or just
# answered when the backend does not know about the TLS.
check_tls() {
    local s=$1 tls inside
    local how=${4:-}
    tls=$(smtp_tls "$2" "$3" "${how/proxied/}")
    if printf '%s\n' "$tls" | grep -q '^CONNECTION ESTABLISHED' &&
        printf '%s\n' "$tls" | grep -q '^Protocol version: TLS' &&
        ! printf '%s\n' "$tls" | grep -qi 'verification error' &&
        printf '%s\n' "$tls" | grep -q '^221'; then
        ok "$s: ${4:-STARTTLS} TLS works, $(printf '%s\n' "$tls" | grep '^Protocol version' | head -n1), certificate verified"
    else
        bad "$s: ${4:-STARTTLS} TLS failed"; printf '%s\n' "$tls"
    fi
    # After the handshake s_client prints the server's lines (the last line
    # of the EHLO reply before STARTTLS may come first: the reply inside TLS
    # starts at its "250-" line). Through
    # implicit TLS the backend does not know about TLS and still offers it.
    if [ -n "${4:-}" ]; then
        printf '%s\n' "$tls" | grep -qE '^250-' && ok "$s: EHLO inside TLS answered" ||
            bad "$s: EHLO inside TLS not answered"
    elif inside=$(printf '%s\n' "$tls" | awk '/^CONNECTION ESTABLISHED/ { c = 1 } c && /^250-/ { r = 1 } r { print } r && /^250 / { exit }') &&
        printf '%s\n' "$inside" | grep -qE '^250 ' &&
        ! printf '%s\n' "$inside" | grep -qiE '^250[- ]STARTTLS$'; then
        ok "$s: EHLO inside TLS answered, without STARTTLS"
    else
        bad "$s: EHLO inside TLS wrong"; printf '%s\n' "$tls"
    fi
}

check_server() {
    local s=$1 port=${PORT[$1]} dir=${DIR[$1]} mode=${TLS[$1]:-starttls} out ehlo tls cert
    cert=$dir/cert.pem
    [ "$s" != haproxy ] || cert=${DIR[postfix]}/cert.pem   # the backend's TLS
    if [ "$mode" = implicit ]; then
        check_tls "$s" "$port" "$cert" implicit
    else
        out=$(smtp_plain "$port") || { bad "$s: no SMTP dialogue on 127.0.0.1:$port"; printf '%s\n' "$out"; return; }
        case $(printf '%s\n' "$out" | head -n1) in
            "220 "* | "220-"*) ok "$s: greeting is 220 ($(printf '%s\n' "$out" | head -n1))" ;;
            *) bad "$s: greeting is not 220: $(printf '%s\n' "$out" | head -n1)" ;;
        esac
        ehlo=$(printf '%s\n' "$out" | sed -n '2,$p' | grep -E '^250[- ]' || true)
        if printf '%s\n' "$ehlo" | grep -qiE '^250[- ]STARTTLS$'; then
            [ "$mode" != none ] && ok "$s: EHLO lists STARTTLS" || { bad "$s: EHLO lists STARTTLS"; printf '%s\n' "$out"; }
        else
            [ "$mode" = none ] && ok "$s: EHLO does not list STARTTLS (as expected)" ||
                { bad "$s: EHLO does not list STARTTLS"; printf '%s\n' "$out"; }
        fi
        case $mode in
            starttls) check_tls "$s" "$port" "$cert" ;;
            proxied) check_tls "$s" "$port" "$cert" proxied ;;
            broken)
                tls=$(smtp_tls "$port" "$cert")
                if printf '%s\n' "$tls" | grep -qi 'alert internal error'; then
                    ok "$s: STARTTLS handshake fails with 'internal error', as documented in $(script_of "$s").sh"
                else
                    bad "$s: the STARTTLS handshake no longer fails as documented (update $(script_of "$s").sh and the suites)"
                    printf '%s\n' "$tls"
                fi
                ;;
        esac
    fi
    if [ "$s" = nginx ]; then
        # MAIL and RCPT make nginx ask the auth_http helper and open the
        # backend, whose "2.1.5" answers the RCPT.
        out=$(timeout 10 bash -c '
            exec 3<>/dev/tcp/127.0.0.1/$1 || exit 1
            rd() { while IFS= read -r -t 5 l <&3; do printf "%s\n" "${l%$'"'"'\r'"'"'}"; case $l in [0-9][0-9][0-9]-*) ;; *) return 0 ;; esac; done; return 1; }
            rd; printf "EHLO selftest.invalid\r\n" >&3; rd
            printf "MAIL FROM:<selftest@localhost>\r\n" >&3; rd
            printf "RCPT TO:<postmaster@localhost>\r\n" >&3; rd
            printf "QUIT\r\n" >&3; rd' _ "$port")
        if printf '%s\n' "$out" | grep -q '^250 2\.1\.5' && grep -q '"GET /auth' "$dir/auth.log"; then
            ok "$s: MAIL and RCPT reach the backend through the auth_http helper"
        else
            bad "$s: MAIL and RCPT did not reach the backend"; printf '%s\n' "$out"
        fi
    fi
    # (captured, not piped into grep -q: with pipefail, a log longer than a
    # pipe's buffer would fail on SIGPIPE)
    if [ -n "$("$HERE/$(script_of "$s").sh" log "$dir" 2>/dev/null)" ]; then
        ok "$s: log DIR shows the server's log"
    else
        bad "$s: log DIR shows nothing"
    fi
}

T0=$(now)
"$HERE/install-packages.sh" || { say "FAIL install-packages.sh"; echo "selftest: 0 passed, 1 failed"; exit 1; }
T1=$(now)

# A 0700 folder on purpose: the servers must cope with a parent folder that
# only root can enter.
TMP=$(mktemp -d "${TMPDIR:-/tmp}/check_smtp_fixup-selftest.XXXXXX")
for s in "${SERVERS[@]}"; do DIR[$s]=$TMP/$s; done

# The plain Postfix first (the proxies' backend), then all others at once
# (the scripts must be safe to run in parallel).
declare -A JOB=()
started=1
for s in "${SERVERS[@]}"; do
    start_on_free_port "$s" &
    JOB[$s]=$!
    if [ "$s" = postfix ]; then wait "${JOB[$s]}"; JOB[$s]=$?; fi
done
for s in "${SERVERS[@]}"; do
    if { [ "$s" = postfix ] && [ "${JOB[$s]}" = 0 ]; } || { [ "$s" != postfix ] && wait "${JOB[$s]}"; }; then
        PORT[$s]=$(cat "$TMP/$s.port")
        ok "$s: started on 127.0.0.1:${PORT[$s]}"
    else
        bad "$s: did not start"
        started=
    fi
done
T2=$(now)

for s in "${SERVERS[@]}"; do
    [ -n "${PORT[$s]:-}" ] && check_server "$s"
done
[ "$FAIL" = 0 ] || dump_logs
T3=$(now)

# Proxies first: they hold connections to their backend.
for ((i = ${#SERVERS[@]} - 1; i >= 0; i--)); do
    s=${SERVERS[i]}
    [ -n "${PORT[$s]:-}" ] || continue
    if "$HERE/$(script_of "$s").sh" stop "${DIR[$s]}"; then
        if port_open "${PORT[$s]}"; then
            bad "$s: port ${PORT[$s]} still open after stop"
        elif [ -e "${DIR[$s]}" ]; then
            bad "$s: ${DIR[$s]} still there after stop"
        else
            ok "$s: stopped, port ${PORT[$s]} closed, folder removed"
        fi
    else
        bad "$s: stop failed"
    fi
done
[ -n "$started" ] || dump_logs
T4=$(now)

say "times: install-packages $(secs $((T1 - T0))), start all $(secs $((T2 - T1))), checks $(secs $((T3 - T2))), stop all $(secs $((T4 - T3)))"
echo "selftest: $PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]

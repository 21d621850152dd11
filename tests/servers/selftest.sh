#!/bin/bash
# tests/servers/selftest.sh - check that the real mail servers of the test
# suite work: installs them if needed (install-packages.sh), starts Postfix and
# Exim at the same time on free loopback ports, and checks for each:
#   - the greeting is a 220 from that server,
#   - EHLO lists STARTTLS,
#   - STARTTLS works: openssl s_client -starttls smtp completes the handshake,
#     verifies the server's self-signed certificate for 127.0.0.1 against
#     itself, and the EHLO inside TLS is answered (and no longer offers
#     STARTTLS, RFC 3207),
#   - `log DIR` shows the server's own log,
# then stops both and checks that the ports are closed and the folders gone.
# Exit 0 only if all of that holds; on failure the servers' logs are printed.
# Talks to 127.0.0.1 only. Needs root (Postfix does).
# shellcheck disable=SC2016,SC2015  # bash -c scripts expand their own $1
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
SERVERS=(postfix exim)
PASS=0
FAIL=0
TMP=
declare -A PORT=() DIR=()

now() { local t=${EPOCHREALTIME/./}; echo "${t:0:-3}"; }   # milliseconds
secs() { printf '%d.%02ds' $(($1 / 1000)) $(($1 % 1000 / 10)); }
say() { printf 'selftest: %s\n' "$*"; }
ok() { PASS=$((PASS + 1)); say "ok   $*"; }
bad() { FAIL=$((FAIL + 1)); say "FAIL $*"; }

port_open() { timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/$1' _ "$1" 2>/dev/null; }

dump_logs() {
    local s
    for s in "${SERVERS[@]}"; do
        [ -n "${DIR[$s]:-}" ] && [ -d "${DIR[$s]}" ] || continue
        printf -- '===== %s log (%s) =====\n' "$s" "${DIR[$s]}"
        "$HERE/$s.sh" log "${DIR[$s]}" 2>&1 || true
    done
}

cleanup() {
    local s
    for s in "${SERVERS[@]}"; do
        [ -n "${DIR[$s]:-}" ] && [ -d "${DIR[$s]}" ] || continue
        "$HERE/$s.sh" stop "${DIR[$s]}" >/dev/null 2>&1 || true
    done
    [ -z "$TMP" ] || rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# start_on_free_port NAME: start server NAME on a free port, retrying with
# another port when the one picked is taken (exit 3 of the start command).
start_on_free_port() {
    local s=$1 port rc
    for _ in 1 2 3 4 5 6 7 8; do
        port=$((20000 + RANDOM))
        if port_open "$port"; then continue; fi
        rc=0
        "$HERE/$s.sh" start "${DIR[$s]}" "$port" 2>"$TMP/$s.start.err" || rc=$?
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
        printf "QUIT\r\n" >&3; rd
    ' _ "$1"
}

# smtp_tls PORT CERT: STARTTLS with certificate check, then EHLO and QUIT
# inside TLS; prints s_client's report and the server's lines.
smtp_tls() {
    printf 'EHLO selftest.invalid\r\nQUIT\r\n' |
        timeout 15 openssl s_client -starttls smtp -connect "127.0.0.1:$1" \
            -name selftest.invalid -brief -ign_eof \
            -CAfile "$2" -verify_ip 127.0.0.1 -verify_return_error 2>&1 | tr -d '\r'
}

check_server() {
    local s=$1 port=${PORT[$1]} dir=${DIR[$1]} out ehlo tls
    out=$(smtp_plain "$port") || { bad "$s: no SMTP dialogue on 127.0.0.1:$port"; printf '%s\n' "$out"; return; }
    case $(printf '%s\n' "$out" | head -n1) in
        "220 "* | "220-"*) ok "$s: greeting is 220 ($(printf '%s\n' "$out" | head -n1))" ;;
        *) bad "$s: greeting is not 220: $(printf '%s\n' "$out" | head -n1)" ;;
    esac
    ehlo=$(printf '%s\n' "$out" | sed -n '2,$p' | grep -E '^250[- ]' || true)
    if printf '%s\n' "$ehlo" | grep -qiE '^250[- ]STARTTLS$'; then
        ok "$s: EHLO lists STARTTLS"
    else
        bad "$s: EHLO does not list STARTTLS"; printf '%s\n' "$out"
    fi

    tls=$(smtp_tls "$port" "$dir/cert.pem")
    if printf '%s\n' "$tls" | grep -q '^CONNECTION ESTABLISHED' &&
        printf '%s\n' "$tls" | grep -q '^Protocol version: TLS' &&
        ! printf '%s\n' "$tls" | grep -qi 'verification error' &&
        printf '%s\n' "$tls" | grep -q '^221'; then
        ok "$s: STARTTLS works, $(printf '%s\n' "$tls" | grep '^Protocol version' | head -n1), certificate verified"
    else
        bad "$s: STARTTLS failed"; printf '%s\n' "$tls"
    fi
    # After the handshake s_client prints the server's lines: the EHLO reply
    # inside TLS, which must not offer STARTTLS again.
    if printf '%s\n' "$tls" | sed -n '/^CONNECTION ESTABLISHED/,$p' | grep -qE '^250 ' &&
        ! printf '%s\n' "$tls" | sed -n '/^CONNECTION ESTABLISHED/,$p' | grep -qiE '^250[- ]STARTTLS$'; then
        ok "$s: EHLO inside TLS answered, without STARTTLS"
    else
        bad "$s: EHLO inside TLS wrong"; printf '%s\n' "$tls"
    fi
    if "$HERE/$s.sh" log "$dir" 2>/dev/null | grep -q .; then
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

# Start both at once (the scripts must be safe to run in parallel).
declare -A JOB=()
for s in "${SERVERS[@]}"; do
    start_on_free_port "$s" &
    JOB[$s]=$!
done
started=1
for s in "${SERVERS[@]}"; do
    if wait "${JOB[$s]}"; then
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

for s in "${SERVERS[@]}"; do
    [ -n "${PORT[$s]:-}" ] || continue
    if "$HERE/$s.sh" stop "${DIR[$s]}"; then
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

say "times: install-packages $(secs $((T1 - T0))), start both $(secs $((T2 - T1))), checks $(secs $((T3 - T2))), stop both $(secs $((T4 - T3)))"
echo "selftest: $PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]

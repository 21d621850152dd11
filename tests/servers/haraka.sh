#!/bin/bash
# tests/servers/haraka.sh - Haraka (from the npm registry) on 127.0.0.1:PORT.
#
#   haraka.sh start DIR PORT   haraka.sh stop DIR   haraka.sh log DIR
#
# (contract in tests/servers/common.sh; install-packages.sh installs Haraka
# with npm into $CHECK_SMTP_FIXUP_HARAKA_ROOT, default
# /opt/check_smtp_fixup/haraka)
#
# How it runs: `haraka -c DIR` with the machine's node (/usr/bin/node), one
# process (no cluster), configuration in DIR/config:
# * smtp.ini listens on 127.0.0.1:PORT; config/me is the host name.
# * plugins: tls (STARTTLS with DIR/cert.pem, and DH parameters of the
#   RFC 7919 group ffdhe2048 written at start: without them Haraka generates
#   2048-bit parameters itself, which takes seconds), rcpt_to.in_host_list
#   (localhost and haraka.test) and queue/discard: mail is thrown away,
#   nothing is ever sent anywhere (no outbound plugin is loaded).
# * What the suite relies on: the greeting carries a session id that
#   changes per connection ("220 mail.haraka.test ESMTP Haraka/3.3.4 ready
#   (6E1F2A)"), and a command line over 512 octets is answered "521 Command
#   line too long" and the session is closed (RFC 5321 4.5.3.1 lets a
#   server refuse such lines).
#
# Environment: SRV_HOSTNAME (default mail.haraka.test), SRV_START_TIMEOUT,
# SRV_STOP_TIMEOUT (seconds), CHECK_SMTP_FIXUP_HARAKA_ROOT.
set -euo pipefail

SRV_NAME=haraka.sh
SRV_KIND=haraka
SRV_HOSTNAME=${SRV_HOSTNAME:-mail.haraka.test}
SRV_LOGS="haraka.log"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source=common.sh
. "$HERE/common.sh"

HARAKA_ROOT=${CHECK_SMTP_FIXUP_HARAKA_ROOT:-/opt/check_smtp_fixup/haraka}
HARAKA=$HARAKA_ROOT/node_modules/Haraka/bin/haraka
NODE=/usr/bin/node

srv_pids() { srv_proc_pids "$(srv_exe_re "$NODE")" "$1"; }

srv_launch() {
    local dir=$1 port=$2 c=$1/config
    [ -x "$NODE" ] || srv_die "no $NODE"
    [ -f "$HARAKA" ] || srv_die "Haraka is not installed in $HARAKA_ROOT (run tests/servers/install-packages.sh)"
    mkdir -p "$c" "$dir/queue"
    printf '[main]\nlisten=127.0.0.1:%s\nnodes=0\n' "$port" >"$c/smtp.ini"
    printf '%s\n' "$SRV_HOSTNAME" >"$c/me"
    printf 'tls\nrcpt_to.in_host_list\nqueue/discard\n' >"$c/plugins"
    printf 'localhost\nharaka.test\n' >"$c/host_list"
    printf '[main]\nlevel=info\ntimestamps=true\n' >"$c/log.ini"
    # connection.ini holds the greeting and the limits (line_length=512):
    # Haraka reads no defaults for them when DIR/config lacks the file.
    cp "$HARAKA_ROOT/node_modules/Haraka/config/connection.ini" "$c/connection.ini"
    cp "$dir/cert.pem" "$c/tls_cert.pem"
    cp "$dir/key.pem" "$c/tls_key.pem"
    openssl genpkey -genparam -algorithm DH -pkeyopt group:ffdhe2048 -out "$c/dhparams.pem" 2>/dev/null ||
        srv_die "openssl could not write DH parameters"
    printf '[main]\nkey=tls_key.pem\ncert=tls_cert.pem\ndhparam=dhparams.pem\n' >"$c/tls.ini"
    srv_spawn "$dir" haraka.log "$NODE" "$HARAKA" -c "$dir"
}

srv_main "$@"

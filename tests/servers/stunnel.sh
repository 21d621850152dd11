#!/bin/bash
# tests/servers/stunnel.sh - stunnel on 127.0.0.1:PORT in front of
# SRV_BACKEND (a plain-text SMTP server).
#
#   SRV_BACKEND=127.0.0.1:BPORT STUNNEL_MODE=wrap|smtp stunnel.sh start DIR PORT
#   stunnel.sh stop DIR      stunnel.sh log DIR
#
# (contract in tests/servers/common.sh; package stunnel4 from
# install-packages.sh)
#
# STUNNEL_MODE (default wrap):
#   wrap   implicit TLS: the client speaks TLS from the first octet
#          (like port 465), stunnel decrypts and relays to the backend,
#          which sees a plain-text client. Inside TLS the client sees the
#          backend's greeting and replies unchanged, STARTTLS included (the
#          backend does not know the client already has TLS).
#   smtp   `protocol = smtp` in server mode: a plain-text client gets a
#          STARTTLS dialogue that stunnel plays itself (it reads the
#          backend's greeting, answers EHLO with its own list, takes
#          STARTTLS), then relays the rest, inside TLS, to the backend.
# `stunnel4 DIR/stunnel.conf`, foreground = yes, certificate DIR/cert.pem;
# its log is DIR/stunnel.log.
#
# Environment: SRV_BACKEND (required), STUNNEL_MODE, SRV_START_TIMEOUT,
# SRV_STOP_TIMEOUT (seconds).
set -euo pipefail

SRV_NAME=stunnel.sh
SRV_KIND=stunnel
SRV_HOSTNAME=${SRV_HOSTNAME:-mail.stunnel.test}   # for its certificate
SRV_GREETING_GLOB='220[ -]*'
SRV_NEEDS_BACKEND=1
SRV_LOGS="stunnel.log"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source=common.sh
. "$HERE/common.sh"

STUNNEL=/usr/bin/stunnel4
STUNNEL_MODE=${STUNNEL_MODE:-wrap}
case $STUNNEL_MODE in
    wrap) SRV_GREETING_TLS=1 ;;
    smtp) ;;
    *) srv_die "STUNNEL_MODE must be wrap or smtp, got '$STUNNEL_MODE'" ;;
esac

srv_pids() { srv_proc_pids "$(srv_exe_re "$STUNNEL")" "$1"; }

srv_launch() {
    local dir=$1 port=$2 proto=
    [ -x "$STUNNEL" ] || srv_die "stunnel4 is missing (run tests/servers/install-packages.sh)"
    [ "$STUNNEL_MODE" = wrap ] || proto="protocol = smtp"
    cat >"$dir/stunnel.conf" <<CONF
; throw-away stunnel configuration made by tests/servers/stunnel.sh
foreground = yes
pid =
output = $dir/stunnel.log
debug = 5
[smtp]
accept = 127.0.0.1:$port
connect = $BACKEND_HOST:$BACKEND_PORT
cert = $dir/cert.pem
key = $dir/key.pem
$proto
CONF
    srv_spawn "$dir" stunnel.out "$STUNNEL" "$dir/stunnel.conf"
}

srv_main "$@"

#!/bin/bash
# tests/servers/proxsmtp.sh - proxsmtpd (Debian package proxsmtp) on
# 127.0.0.1:PORT in front of SRV_BACKEND.
#
#   SRV_BACKEND=127.0.0.1:BPORT proxsmtp.sh start DIR PORT
#   proxsmtp.sh stop DIR      proxsmtp.sh log DIR
#
# (contract in tests/servers/common.sh; package from install-packages.sh)
#
# `proxsmtpd -d 2 -f DIR/proxsmtpd.conf`: -d keeps it in the foreground and
# logs to stderr (DIR/proxsmtpd.log). It connects to the backend for each
# client, but greets and answers EHLO itself: "220 smtp.passthru", and an
# EHLO reply that keeps SIZE VRFY ETRN ENHANCEDSTATUSCODES 8BITMIME DSN SMTPUTF8 of
# Postfix's list, drops PIPELINING, STARTTLS and CHUNKING (it reads the
# message text itself) and adds XFILTERED; BDAT is answered by proxsmtpd,
# "502 Command not implemented". No filter command is set: mail would pass
# unchanged. It stays root (no User line: "User: root" makes it fail to
# "completely drop privileges").
#
# Environment: SRV_BACKEND (required), SRV_START_TIMEOUT, SRV_STOP_TIMEOUT.
set -euo pipefail

SRV_NAME=proxsmtp.sh
SRV_KIND=proxsmtp
SRV_HOSTNAME=${SRV_HOSTNAME:-mail.proxsmtp.test}   # for its certificate only
SRV_GREETING_GLOB='220[ -]*'
SRV_NEEDS_BACKEND=1
SRV_LOGS="proxsmtpd.log"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source=common.sh
. "$HERE/common.sh"

PROXSMTPD=/usr/sbin/proxsmtpd

srv_pids() { srv_proc_pids "$(srv_exe_re "$PROXSMTPD")" "$1"; }

srv_launch() {
    local dir=$1 port=$2
    [ -x "$PROXSMTPD" ] || srv_die "proxsmtpd is missing (run tests/servers/install-packages.sh)"
    cat >"$dir/proxsmtpd.conf" <<CONF
# throw-away proxsmtpd configuration made by tests/servers/proxsmtp.sh
OutAddress: $BACKEND_HOST:$BACKEND_PORT
Listen: 127.0.0.1:$port
MaxConnections: 64
TimeOut: 60
CONF
    srv_spawn "$dir" proxsmtpd.log "$PROXSMTPD" -d 2 -f "$dir/proxsmtpd.conf" -p "$dir/proxsmtpd.pid"
}

srv_main "$@"

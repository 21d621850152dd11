#!/bin/bash
# tests/servers/aiosmtpd.sh - aiosmtpd (Debian's python3-aiosmtpd) on
# 127.0.0.1:PORT.
#
#   aiosmtpd.sh start DIR PORT   aiosmtpd.sh stop DIR   aiosmtpd.sh log DIR
#
# (contract in tests/servers/common.sh; packages from install-packages.sh)
#
# The server is aiosmtpd.smtp.SMTP with the Sink handler, started by
# aiosmtpd-server.py beside this script with Debian's /usr/bin/python3 (a
# python3 earlier on PATH, e.g. pyenv's, does not see Debian's packages).
# Greeting "220 mail.aiosmtpd.test Python SMTP 1.4.3"; STARTTLS with
# DIR/cert.pem; mail is thrown away; nothing is sent anywhere.
#
# Environment: SRV_HOSTNAME (default mail.aiosmtpd.test), SRV_START_TIMEOUT,
# SRV_STOP_TIMEOUT (seconds).
set -euo pipefail

SRV_NAME=aiosmtpd.sh
SRV_KIND=aiosmtpd
SRV_HOSTNAME=${SRV_HOSTNAME:-mail.aiosmtpd.test}
SRV_LOGS="aiosmtpd.log"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source=common.sh
. "$HERE/common.sh"

PYTHON=/usr/bin/python3

srv_pids() { srv_proc_pids "$(srv_exe_re "$PYTHON")" "$1"; }

srv_launch() {
    local dir=$1 port=$2
    "$PYTHON" -c 'import aiosmtpd' 2>/dev/null ||
        srv_die "python3-aiosmtpd is not installed (run tests/servers/install-packages.sh)"
    srv_spawn "$dir" aiosmtpd.log "$PYTHON" "$HERE/aiosmtpd-server.py" "$port" "$SRV_HOSTNAME" \
        "$dir/cert.pem" "$dir/key.pem"
}

srv_main "$@"

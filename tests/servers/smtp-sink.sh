#!/bin/bash
# tests/servers/smtp-sink.sh - Postfix's smtp-sink(1) test server on
# 127.0.0.1:PORT (from the postfix package).
#
#   smtp-sink.sh start DIR PORT   smtp-sink.sh stop DIR   smtp-sink.sh log DIR
#
# (contract in tests/servers/common.sh)
#
# What it is: a one-process SMTP sink that accepts every command, throws
# mail away and stores nothing. What the suite wants from it: its EHLO reply
# ends with a bare "250 " line (no keyword), which is not an extension. It
# offers no STARTTLS. It runs as the "postfix" user (-u postfix), working
# folder DIR.
#
# Environment: SRV_HOSTNAME (default mail.sink.test), SRV_START_TIMEOUT,
# SRV_STOP_TIMEOUT (seconds).
set -euo pipefail

SRV_NAME=smtp-sink.sh
SRV_KIND=smtp-sink
SRV_HOSTNAME=${SRV_HOSTNAME:-mail.sink.test}
SRV_LOGS="sink.log"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source=common.sh
. "$HERE/common.sh"

SINK=/usr/sbin/smtp-sink

srv_pids() { srv_proc_pids "$(srv_exe_re "$SINK")" "$1"; }

srv_launch() {
    local dir=$1 port=$2
    [ -x "$SINK" ] || srv_die "no $SINK (run tests/servers/install-packages.sh)"
    # -v: each conversation in the log. 100: the listen backlog.
    srv_spawn "$dir" sink.log "$SINK" -v -u postfix -h "$SRV_HOSTNAME" "127.0.0.1:$port" 100
}

srv_main "$@"

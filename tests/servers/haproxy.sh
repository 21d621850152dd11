#!/bin/bash
# tests/servers/haproxy.sh - HAProxy in TCP mode on 127.0.0.1:PORT in front
# of SRV_BACKEND.
#
#   SRV_BACKEND=127.0.0.1:BPORT haproxy.sh start DIR PORT
#   haproxy.sh stop DIR      haproxy.sh log DIR
#
# (contract in tests/servers/common.sh; package haproxy from
# install-packages.sh)
#
# `haproxy -db -f DIR/haproxy.cfg`: foreground, one frontend on
# 127.0.0.1:PORT, mode tcp, one backend server. It relays bytes and changes
# nothing, so the client sees the backend's own greeting and replies: a
# transparent proxy. Its log lines (one per connection) go to stderr
# (log stderr), DIR/haproxy.log. The greeting awaited at start is any 220
# (it is the backend's).
#
# Environment: SRV_BACKEND (required), SRV_START_TIMEOUT, SRV_STOP_TIMEOUT.
set -euo pipefail

SRV_NAME=haproxy.sh
SRV_KIND=haproxy
SRV_HOSTNAME=${SRV_HOSTNAME:-mail.haproxy.test}   # for its certificate only
SRV_GREETING_GLOB='220[ -]*'
SRV_NEEDS_BACKEND=1
SRV_LOGS="haproxy.log"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source=common.sh
. "$HERE/common.sh"

HAPROXY=/usr/sbin/haproxy

srv_pids() { srv_proc_pids "$(srv_exe_re "$HAPROXY")" "$1"; }

srv_launch() {
    local dir=$1 port=$2
    [ -x "$HAPROXY" ] || srv_die "haproxy is missing (run tests/servers/install-packages.sh)"
    cat >"$dir/haproxy.cfg" <<CONF
# throw-away HAProxy configuration made by tests/servers/haproxy.sh
global
    log stderr format short local0 info
    maxconn 200
defaults
    mode tcp
    log global
    option tcplog
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend smtp
    bind 127.0.0.1:$port
    default_backend mta
backend mta
    server mta $BACKEND_HOST:$BACKEND_PORT
CONF
    "$HAPROXY" -c -q -f "$dir/haproxy.cfg" >"$dir/check.log" 2>&1 ||
        { cat "$dir/check.log" >&2; srv_die "haproxy refused $dir/haproxy.cfg"; }
    srv_spawn "$dir" haproxy.log "$HAPROXY" -db -f "$dir/haproxy.cfg"
}

srv_main "$@"

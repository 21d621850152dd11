#!/bin/bash
# tests/servers/spampd.sh - spampd (SpamAssassin's SMTP proxy, Debian package
# spampd) on 127.0.0.1:PORT in front of SRV_BACKEND.
#
#   SRV_BACKEND=127.0.0.1:BPORT spampd.sh start DIR PORT
#   spampd.sh stop DIR      spampd.sh log DIR
#
# (contract in tests/servers/common.sh; package from install-packages.sh)
#
# `spampd --nodetach`, two children, network tests off (--local-only),
# SpamAssassin's home in DIR/sa, user root. For each client it connects to
# the backend and relays the conversation; it only rewrites the message
# text (spam tags), so the greeting and replies are the backend's: a
# transparent proxy. Loading SpamAssassin's rules takes a few seconds: the
# start waits up to SRV_START_TIMEOUT (default here 40 s).
# * Logs: spampd logs to syslog only, and dies at start when there is no
#   /dev/log ("Syslog err [Bad file descriptor]"), as here. The perl that
#   runs it replaces Sys::Syslog's setlogsock, openlog and syslog first, so
#   that its messages go to DIR/spampd.log.
# * Taint mode: spampd's #! line asks for perl -T, and SpamAssassin 4.0.1
#   then dies at start ("Insecure dependency in unlink while running with -T
#   switch at .../Mail/SpamAssassin.pm line 2014": the state folder it tests
#   comes from --homedir or the user's home, both tainted). So perl runs
#   the script with `do`, which leaves taint mode off.
#
# Environment: SRV_BACKEND (required), SRV_START_TIMEOUT, SRV_STOP_TIMEOUT.
set -euo pipefail

SRV_NAME=spampd.sh
SRV_KIND=spampd
SRV_HOSTNAME=${SRV_HOSTNAME:-mail.spampd.test}   # for its certificate only
SRV_GREETING_GLOB='220[ -]*'
SRV_NEEDS_BACKEND=1
SRV_START_TIMEOUT=${SRV_START_TIMEOUT:-40}
SRV_LOGS="spampd.log"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source=common.sh
. "$HERE/common.sh"

SPAMPD=/usr/sbin/spampd
PERL=/usr/bin/perl

# Sys::Syslog's functions replaced before Net::Server imports them: each
# message goes to stderr (DIR/spampd.log).
# shellcheck disable=SC2016  # perl code
SYSLOG_TO_STDERR='use Sys::Syslog (); no warnings "redefine";
    *Sys::Syslog::setlogsock = sub { 1 };
    *Sys::Syslog::openlog = sub { 1 };
    *Sys::Syslog::syslog = sub { my ($l, $f, @a) = @_; printf STDERR "%s: $f\n", $l, @a; 1 };'

srv_pids() { srv_proc_pids "$(srv_exe_re "$PERL")" "$1"; }

srv_launch() {
    local dir=$1 port=$2
    [ -x "$SPAMPD" ] || srv_die "spampd is missing (run tests/servers/install-packages.sh)"
    mkdir -p "$dir/sa"
    # shellcheck disable=SC2016  # perl code
    srv_spawn "$dir" spampd.log "$PERL" -e "$SYSLOG_TO_STDERR"'
        $0 = shift; do $0; die $@ if $@' -- "$SPAMPD" --nodetach --host="127.0.0.1:$port" \
        --relayhost="$BACKEND_HOST:$BACKEND_PORT" --children=2 --local-only \
        --homedir="$dir/sa" --user=root --group=root --pid="$dir/spampd.pid"
}

srv_main "$@"

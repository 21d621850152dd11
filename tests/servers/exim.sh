#!/bin/bash
# tests/servers/exim.sh - a throw-away Exim daemon on 127.0.0.1:PORT.
#
#   exim.sh start DIR PORT   exim.sh stop DIR   exim.sh log DIR
#
# (contract in tests/servers/common.sh; packages from install-packages.sh)
#
# How it runs (Debian bookworm, exim4-daemon-light 4.96), and what was found:
# * Exim cannot be installed beside Postfix (both are mail-transport-agent),
#   so install-packages.sh unpacks the exim4-daemon-light .deb into
#   $CHECK_SMTP_FIXUP_EXIM_ROOT (default /opt/check_smtp_fixup/exim4); the
#   binary is .../usr/sbin/exim4. A system-wide /usr/sbin/exim4 is used if the
#   unpacked one is not there. CHECK_SMTP_FIXUP_EXIM names another binary.
# * The Debian binary is built with EXIM_USER=ref:Debian-exim and looks that
#   user up before it reads any configuration ("exim: failed to find uid for
#   user name Debian-exim" otherwise), so install-packages.sh creates that
#   system user. Our configuration then sets exim_user = exim_group = root:
#   the daemon and its per-connection children stay root, so spool, log and
#   TLS key may sit in any DIR, even under a 0700 mktemp folder that
#   Debian-exim could not enter. (Run as root, `-C FILE` keeps root privilege;
#   a non-root caller would lose it.)
# * The compiled-in paths (/etc/exim4/exim4.conf, /var/spool/exim4,
#   /var/log/exim4, /usr/sbin/exim4) are all replaced: `-C DIR/exim.conf` on
#   the command line, spool_directory, log_file_path, pid_file_path and
#   exim_path in the file. exim_path matters: Exim re-executes itself (for
#   delivery, and on SIGTERM with -oPX to remove its pid file) through
#   exim_path, which would otherwise be the missing /usr/sbin/exim4
#   ("re-exec of exim (/usr/sbin/exim4) with -oPX failed"). Re-executions pass
#   -C along, so they read the same file.
# * `exim -bd` forks the daemon into the background and returns; the daemon
#   writes DIR/exim.pid. When it exits, PID 1 of this kind of machine may leave
#   it as a zombie: zombies count as gone.
# * Mail: accepted for mail.exim.test, localhost and exim.test (any local part)
#   and thrown away by a :blackhole: redirect. Anything else is refused at
#   RCPT ("relay not permitted"); nothing is ever sent out (no smtp transport
#   at all). No DNS: host_lookup and rfc1413 (ident) are off.
# * STARTTLS (GnuTLS in this build): tls_certificate/tls_privatekey =
#   DIR/cert.pem, DIR/key.pem, tls_advertise_hosts = *.
# * Log: DIR/log/mainlog (+ rejectlog, paniclog), log_selector adds
#   connections and TLS details.
#
# Environment: SRV_HOSTNAME (default mail.exim.test), SRV_START_TIMEOUT,
# SRV_STOP_TIMEOUT (seconds), CHECK_SMTP_FIXUP_EXIM, CHECK_SMTP_FIXUP_EXIM_ROOT.
set -euo pipefail

SRV_NAME=exim.sh
SRV_HOSTNAME=${SRV_HOSTNAME:-mail.exim.test}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source=common.sh
. "$HERE/common.sh"

# Run from a neutral folder; relative DIRs are taken from the caller's.
SRV_CALLER_PWD=$PWD
cd /

EXIM_ROOT=${CHECK_SMTP_FIXUP_EXIM_ROOT:-/opt/check_smtp_fixup/exim4}

find_exim() {
    local b
    for b in "${CHECK_SMTP_FIXUP_EXIM:-}" "$EXIM_ROOT/usr/sbin/exim4" /usr/sbin/exim4; do
        if [ -n "$b" ] && [ -x "$b" ]; then
            readlink -f "$b"
            return 0
        fi
    done
    srv_die "no Exim binary (run tests/servers/install-packages.sh)"
}
EXIM=$(find_exim)
# shellcheck disable=SC2016  # a sed script, not a shell expansion
EXIM_RE=$(printf '%s' "$EXIM" | sed 's/[][\.*^$(){}+?|]/\\&/g')

# Exim processes of the instance in $1: every one of them (daemon, connection
# children, re-executions) carries "-C $1/exim.conf" in its command line.
srv_pids() { srv_proc_pids "$EXIM_RE" "$1"; }

write_config() {
    local dir=$1 port=$2
    cat >"$dir/exim.conf" <<EOF
# throw-away Exim configuration made by tests/servers/exim.sh
exim_path = $EXIM
exim_user = root
exim_group = root
keep_environment =

primary_hostname = $SRV_HOSTNAME
qualify_domain = exim.test
domainlist local_domains = @ : localhost : exim.test

spool_directory = $dir/spool
log_file_path = $dir/log/%slog
pid_file_path = $dir/exim.pid
log_selector = +smtp_connection +smtp_protocol_error +smtp_syntax_error \\
               +tls_certificate_verified +tls_peerdn +received_recipients \\
               +pid
message_logs = false

local_interfaces = 127.0.0.1
daemon_smtp_ports = $port

# no DNS, no ident, no waiting
host_lookup =
rfc1413_hosts =
rfc1413_query_timeout = 0s
smtp_accept_max = 200
smtp_accept_max_per_host = 200
smtp_accept_queue_per_connection = 0
smtp_enforce_sync = true
smtp_ratelimit_hosts =

tls_advertise_hosts = *
tls_certificate = $dir/cert.pem
tls_privatekey = $dir/key.pem

acl_smtp_rcpt = acl_check_rcpt

begin acl

acl_check_rcpt:
  deny    message = relay not permitted
          domains = !+local_domains
  accept

begin routers

# Every accepted local address is delivered nowhere.
blackhole:
  driver = redirect
  domains = +local_domains
  data = :blackhole:

# Anything else (bounces to remote senders) fails: nothing leaves this host.
nowhere:
  driver = redirect
  allow_fail
  data = :fail: outbound mail is disabled on this test server
EOF
}

cmd_start() {
    [ $# -eq 2 ] || srv_usage
    local dir port
    dir=$(srv_abs_dir "$1"); port=$2
    srv_check_port "$port"
    # exim_user = root below: only root can run this configuration.
    [ "$(id -u)" = 0 ] || srv_die "this Exim setup needs root to start"
    if srv_port_open "$port"; then
        srv_note "127.0.0.1:$port is already in use"
        exit 3
    fi

    srv_prepare_dir "$dir" exim
    mkdir -p "$dir/spool" "$dir/log"
    chmod 750 "$dir/spool" "$dir/log"
    srv_make_cert "$dir"
    write_config "$dir" "$port"

    # -bV checks the configuration; a syntax error shows here, with its line.
    if ! "$EXIM" -C "$dir/exim.conf" -bV >"$dir/log/check.log" 2>&1; then
        cat "$dir/log/check.log" >&2
        srv_note "Exim refused the configuration $dir/exim.conf"
        exit 1
    fi
    # -bd: daemon, forks into the background; its stdio goes to a file, so a
    # caller reading our output through a pipe is never held open by it.
    if ! "$EXIM" -C "$dir/exim.conf" -bd </dev/null >"$dir/log/daemon.out" 2>&1; then
        srv_start_failed "$dir" "$dir/log/daemon.out" "'exim -C $dir/exim.conf -bd' failed; log follows"
        exit 1
    fi
    if ! srv_wait_greeting "$port" "srv_pids $dir"; then
        srv_start_failed "$dir" "$dir/log/daemon.out" "Exim did not come up on 127.0.0.1:$port; log follows"
        [ "$(srv_greeting "$port" || true)" = "" ] || exit 3
        exit 1
    fi
}

cmd_stop() {
    [ $# -eq 1 ] || srv_usage
    local dir
    dir=$(srv_abs_dir "$1")
    [ -e "$dir" ] || return 0
    srv_check_ours "$dir" exim
    srv_kill_wait "srv_pids $dir"
    srv_remove_dir "$dir" exim
}

cmd_log() {
    [ $# -eq 1 ] || srv_usage
    local dir f found=
    dir=$(srv_abs_dir "$1")
    for f in "$dir/log/mainlog" "$dir/log/rejectlog" "$dir/log/paniclog" "$dir/log/daemon.out"; do
        [ -s "$f" ] || continue
        found=1
        [ "$f" = "$dir/log/mainlog" ] || printf -- '----- %s -----\n' "${f##*/}"
        cat "$f"
    done
    [ -n "$found" ] || [ -d "$dir/log" ] || srv_die "no log in $dir"
}

cmd_log_to_stderr() {
    printf -- '----- %s/log -----\n' "$1" >&2
    cmd_log "$1" >&2 2>/dev/null || true
    printf -- '----- end of log -----\n' >&2
}

case ${1:-} in
    start) shift; cmd_start "$@" ;;
    stop) shift; cmd_stop "$@" ;;
    log) shift; cmd_log "$@" ;;
    *) srv_usage ;;
esac

#!/bin/bash
# tests/servers/postfix.sh - a throw-away Postfix instance on 127.0.0.1:PORT.
#
#   postfix.sh start DIR PORT   postfix.sh stop DIR   postfix.sh log DIR
#
# (contract in tests/servers/common.sh; packages from install-packages.sh)
#
# How it runs (Debian bookworm, Postfix 3.7), and what was found:
# * `postfix -c DIR/etc start` runs a separate instance with DIR/etc/main.cf
#   and DIR/etc/master.cf; it needs root (master runs as root, daemons as "postfix").
#   Nothing is read from /etc/postfix/main.cf or /etc/postfix/master.cf: all
#   parameters that matter are set here. /etc/postfix/postfix-files and
#   dynamicmaps.cf are still read through meta_directory=/etc/postfix: that
#   is packaging metadata (which files belong to Postfix, which map types
#   exist), not configuration, and postfix-script needs it.
# * Where: everything lives in DIR (DIR/etc, DIR/queue, DIR/data,
#   DIR/maillog, DIR/cert.pem...), unless the postfix user cannot enter DIR
#   (e.g. DIR is inside a 0700 `mktemp -d` folder): master and the daemons
#   open files in the queue and data folders after dropping to "postfix"
#   ("fatal: open lock file .../data/master.lock: Permission denied"). Then
#   the same layout goes to a fresh /tmp/check_smtp_fixup-postfix.XXXXXX,
#   DIR/run is a symlink to it and DIR/etc, DIR/cert.pem, DIR/maillog... are
#   symlinks into DIR/run; `stop DIR` removes both folders.
# * The queue is DIR/queue, data_directory DIR/data. make_queue creates their
#   subfolders with the owners and modes listed in postfix-files and sets
#   quick-start, so `postfix start` skips its slow checks (see make_queue).
#   main.cf and master.cf are backdated: Postfix waits until a config file's
#   mtime is in the past before reading it (see write_config).
#   The configuration lives in its own DIR/etc: postfix-script's check-warn
#   walks the whole config_directory and would warn about every queue and
#   data folder inside it if the configuration were DIR itself.
# * Logging: maillog_file = DIR/maillog, written by the postlogd service
#   ("postlog" in master.cf), so no syslog is needed. maillog_file must start
#   with one of maillog_file_prefixes (default "/var, /dev/stdout"), otherwise
#   every postfix command fails with exit 1 and prints nothing at all; so
#   maillog_file_prefixes = DIR. The postfix command itself logs to stderr too.
# * master.cf has no "smtp inet" service on port 25, only
#   "127.0.0.1:PORT inet ... smtpd", every service unchrooted (chroot would
#   need copies of /etc files in the queue folder).
# * Mail: accepted for mail.postfix.test, localhost and postfix.test
#   (any local part) and thrown away by the discard transport. Nothing is
#   ever relayed: smtpd_relay_restrictions = reject_unauth_destination (no
#   permit_mynetworks), and every outbound transport is "error:".
# * No DNS: smtpd_peername_lookup = no, disable_dns_lookups (the machine may
#   have no resolver); inet_protocols = ipv4.
# * STARTTLS: self-signed DIR/cert.pem + DIR/key.pem, smtpd_tls_security_level
#   = may, so EHLO lists STARTTLS; inside TLS, EHLO no longer lists it
#   (RFC 3207).
# * `postfix -c DIR/etc stop` signals master and waits for it; we then wait
#   until no Postfix process (executable in /usr/lib/postfix/sbin) whose
#   working folder is DIR/queue is left, e.g. an smtpd still serving a client (zombies don't count: PID 1 of
#   this kind of machine does not always reap), killing after a timeout.
#
# * POSTFIX_VARIANT picks what listens on PORT (default plain):
#     plain            smtpd, as above
#     discard          smtpd with smtpd_discard_ehlo_keywords = dsn, etrn,
#                      smtputf8: a listener that offers less (server policy)
#     nochunking       smtpd with CHUNKING discarded: BDAT is refused with a
#                      5xx reply (Postfix cannot skip a chunk it did not offer)
#     postscreen       postscreen(8) in front of smtpd, its pregreet test only
#                      (postscreen_greet_wait = 1s; a client that passed is
#                      cached and handed to smtpd at once afterwards); the
#                      loopback client is not allow-listed
#                      (postscreen_access_list is empty)
#     postscreen-deep  the same with the deep protocol tests (pipelining,
#                      non-SMTP command, bare newline): postscreen's own SMTP
#                      engine answers EHLO and the commands after it, and a
#                      client never reaches smtpd before it sent RCPT
#   The greeting is that of Postfix in every variant.
#
# Environment: SRV_HOSTNAME (default mail.postfix.test), SRV_START_TIMEOUT,
# SRV_STOP_TIMEOUT (seconds), POSTFIX_VARIANT.
# shellcheck disable=SC2016,SC2015  # literal $names of postfix-files; a && b || die
set -euo pipefail

SRV_NAME=postfix.sh
SRV_HOSTNAME=${SRV_HOSTNAME:-mail.postfix.test}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source=common.sh
. "$HERE/common.sh"

# Run from a neutral folder; relative DIRs are taken from the caller's.
SRV_CALLER_PWD=$PWD
cd /

POSTFIX=/usr/sbin/postfix
POSTFIX_VARIANT=${POSTFIX_VARIANT:-plain}
case $POSTFIX_VARIANT in
    plain | discard | nochunking | postscreen | postscreen-deep) ;;
    *) srv_die "POSTFIX_VARIANT must be plain, discard, nochunking, postscreen or postscreen-deep, got '$POSTFIX_VARIANT'" ;;
esac
DAEMON_DIR=/usr/lib/postfix/sbin

# run_of DIR: the folder that holds the instance (see "Where" above).
run_of() {
    if [ -L "$1/run" ]; then readlink "$1/run"; else printf '%s\n' "$1"; fi
}

# Postfix processes of the instance in DIR $1.
srv_pids() { srv_proc_pids "${DAEMON_DIR//./\\.}/[a-z.-]+" "$(run_of "$1")/queue"; }

# remove_run DIR: remove DIR's relocated instance folder, if it has one.
remove_run() {
    local run
    [ -L "$1/run" ] || return 0
    run=$(readlink "$1/run")
    [ -f "$run/$SRV_MARKER" ] && rm -rf "$run"
    rm -f "$1/run"
}

# postfix_can_enter FOLDER: true if the postfix user can reach FOLDER.
postfix_can_enter() {
    setpriv --reuid=postfix --regid=postfix --clear-groups -- test -x "$1" 2>/dev/null
}

write_config() {
    local dir=$1 port=$2
    cat >"$dir/etc/main.cf" <<EOF
# throw-away Postfix instance made by tests/servers/postfix.sh
compatibility_level = 3.6
queue_directory = $dir/queue
data_directory = $dir/data
daemon_directory = $DAEMON_DIR
command_directory = /usr/sbin
shlib_directory = /usr/lib/postfix
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop

# logs without syslog
maillog_file = $dir/maillog
maillog_file_prefixes = $dir
syslog_name = postfix-test-$port

myhostname = $SRV_HOSTNAME
mydomain = postfix.test
myorigin = \$myhostname
mydestination = \$myhostname, localhost, \$mydomain
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks_style = host
mynetworks = 127.0.0.0/8

# accept any local part, throw the mail away, never send anything anywhere
local_recipient_maps =
alias_maps =
alias_database =
local_transport = discard:
default_transport = error:5.7.1 outbound mail is disabled on this test server
relay_transport = error:5.7.1 outbound mail is disabled on this test server
virtual_transport = error:5.7.1 outbound mail is disabled on this test server
smtpd_relay_restrictions = reject_unauth_destination
smtpd_recipient_restrictions =
relay_domains =
biff = no
append_dot_mydomain = no

# no DNS, no waiting
smtpd_peername_lookup = no
disable_dns_lookups = yes
smtp_dns_support_level = disabled
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 1000
smtpd_hard_error_limit = 1000
smtpd_client_connection_rate_limit = 0
smtpd_client_connection_count_limit = 0
anvil_rate_time_unit = 60s

# STARTTLS
smtpd_tls_cert_file = $dir/cert.pem
smtpd_tls_key_file = $dir/key.pem
smtpd_tls_security_level = may
smtpd_tls_loglevel = 1
smtpd_tls_received_header = yes
smtpd_tls_session_cache_database =
smtp_tls_security_level = none
tls_random_source = dev:/dev/urandom
EOF
    variant_main_cf >>"$dir/etc/main.cf"
    # service type  private unpriv chroot wakeup maxproc command
    cat >"$dir/etc/master.cf" <<EOF
# throw-away Postfix instance made by tests/servers/postfix.sh
$(variant_master_cf "$port")
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
    # Postfix will not read a table or main.cf whose mtime is the current
    # second (it could be in the middle of an edit): it rereads it every 0.3 s
    # until the clock has moved on, which made every start 1-2 s slower.
    # Backdate the files instead.
    touch -d '-1 minute' "$dir/etc/main.cf" "$dir/etc/master.cf"
}

# variant_main_cf: the main.cf lines of POSTFIX_VARIANT.
variant_main_cf() {
    printf '\n# variant %s\n' "$POSTFIX_VARIANT"
    case $POSTFIX_VARIANT in
        discard) echo 'smtpd_discard_ehlo_keywords = dsn, etrn, smtputf8' ;;
        nochunking) echo 'smtpd_discard_ehlo_keywords = chunking' ;;
        postscreen | postscreen-deep)
            # Loopback is in mynetworks, which the default access list
            # (permit_mynetworks) would hand to smtpd untested.
            echo 'postscreen_access_list ='
            echo 'postscreen_dnsbl_sites ='
            echo 'postscreen_greet_wait = 1s'
            if [ "$POSTFIX_VARIANT" = postscreen-deep ]; then
                echo 'postscreen_pipelining_enable = yes'
                echo 'postscreen_non_smtp_command_enable = yes'
                echo 'postscreen_bare_newline_enable = yes'
            fi
            ;;
    esac
}

# variant_master_cf PORT: the master.cf lines that listen on PORT.
variant_master_cf() {
    case $POSTFIX_VARIANT in
        postscreen | postscreen-deep)
            echo "127.0.0.1:$1 inet n - n - 1 postscreen"
            echo "smtpd     pass  -       -       n       -       -       smtpd"
            echo "dnsblog   unix  -       -       n       -       0       dnsblog"
            echo "tlsproxy  unix  -       -       n       -       0       tlsproxy"
            ;;
        *) echo "127.0.0.1:$1 inet n - n - - smtpd" ;;
    esac
}

# make_queue DIR: DIR/queue and DIR/data laid out as Postfix's own
# "post-install create-missing" would, from the list in postfix-files, then
# DIR/queue/quick-start so that `postfix start` skips its checks.
# Why: `postfix start` on an empty queue runs post-install create-missing,
# postsuper and the check-warn scan of /usr/lib/postfix and /etc/postfix:
# 0.7 s of ~100 processes on an idle 2-core machine, 3 s under test load.
# With quick-start it takes 0.1-0.3 s. If postfix-files is not there, the
# full start does it all instead.
make_queue() {
    local dir=$1 meta=/etc/postfix/postfix-files path type owner group mode rest
    local -A by_owner=() by_mode=()
    if [ ! -r "$meta" ]; then
        mkdir -p "$dir/queue" "$dir/data"
        chown postfix "$dir/data"
        return 0
    fi
    while IFS=: read -r path type owner group mode rest; do
        [ "$type" = d ] || continue
        case $path in
            '$queue_directory'*) path=$dir/queue${path#'$queue_directory'} ;;
            '$data_directory'*) path=$dir/data${path#'$data_directory'} ;;
            *) continue ;;
        esac
        owner=${owner//'$mail_owner'/postfix}
        group=${group//'$setgid_group'/postdrop}
        [ "$group" != - ] || group=root
        by_owner[$owner:$group]+=" $path"
        by_mode[$mode]+=" $path"
    done <"$meta"
    [ -n "${by_owner[*]}" ] || srv_die "no queue folders listed in $meta"
    # shellcheck disable=SC2086,SC2048  # space-separated lists, DIR has no spaces
    mkdir -p ${by_owner[*]}
    # shellcheck disable=SC2086
    for owner in "${!by_owner[@]}"; do chown "$owner" ${by_owner[$owner]}; done
    # shellcheck disable=SC2086
    for mode in "${!by_mode[@]}"; do chmod "$mode" ${by_mode[$mode]}; done
    touch "$dir/queue/quick-start"
}

cmd_start() {
    [ $# -eq 2 ] || srv_usage
    local dir port
    dir=$(srv_abs_dir "$1"); port=$2
    srv_check_port "$port"
    [ "$(id -u)" = 0 ] || srv_die "Postfix needs root to start"
    [ -x "$POSTFIX" ] && [ -x "$DAEMON_DIR/master" ] ||
        srv_die "Postfix is not installed (run tests/servers/install-packages.sh)"
    if srv_port_open "$port"; then
        srv_note "127.0.0.1:$port is already in use"
        exit 3
    fi

    if [ -f "$dir/$SRV_MARKER" ] && [ -z "$(srv_pids "$dir")" ]; then
        remove_run "$dir"
    fi
    srv_prepare_dir "$dir" postfix
    local run=$dir
    if ! postfix_can_enter "$dir"; then
        run=$(mktemp -d "/tmp/check_smtp_fixup-postfix.XXXXXX")
        chmod 755 "$run"
        printf 'postfix\n' >"$run/$SRV_MARKER"
        ln -s "$run" "$dir/run"
        postfix_can_enter "$run" || srv_die "the postfix user cannot enter $run either"
    fi
    mkdir -p "$run/etc"
    make_queue "$run"
    : >"$run/maillog"
    srv_make_cert "$run"
    write_config "$run" "$port"
    : >"$run/start.log"
    if [ "$run" != "$dir" ]; then
        # The same names in DIR, for the tests and people reading DIR.
        local f
        for f in etc queue data maillog start.log cert.pem key.pem; do
            ln -s "run/$f" "$dir/$f"
        done
    fi

    # MAIL_CONFIG would otherwise win over -c in some Postfix tools.
    if ! env -u MAIL_CONFIG "$POSTFIX" -c "$run/etc" start >"$run/start.log" 2>&1; then
        srv_start_failed "$dir" "$run/start.log" "'postfix -c $run/etc start' failed; log follows"
        exit 1
    fi
    if ! srv_wait_greeting "$port" "srv_pids $dir"; then
        srv_start_failed "$dir" "$run/start.log" "Postfix did not come up on 127.0.0.1:$port; log follows"
        [ "$(srv_greeting "$port" || true)" = "" ] || exit 3
        exit 1
    fi
}

cmd_stop() {
    [ $# -eq 1 ] || srv_usage
    local dir
    dir=$(srv_abs_dir "$1")
    [ -e "$dir" ] || return 0
    srv_check_ours "$dir" postfix
    local run
    run=$(run_of "$dir")
    if [ -f "$run/etc/main.cf" ] && [ -n "$(srv_pids "$dir")" ]; then
        env -u MAIL_CONFIG "$POSTFIX" -c "$run/etc" stop >/dev/null 2>&1 || true
    fi
    srv_kill_wait "srv_pids $dir"
    remove_run "$dir"
    srv_remove_dir "$dir" postfix
}

cmd_log() {
    [ $# -eq 1 ] || srv_usage
    local dir
    dir=$(srv_abs_dir "$1")
    dir=$(run_of "$dir")
    [ -f "$dir/maillog" ] || srv_die "no log in $dir"
    cat "$dir/maillog"
}

cmd_log_to_stderr() {
    printf -- '----- %s/maillog -----\n' "$(run_of "$1")" >&2
    cat "$(run_of "$1")/maillog" >&2 2>/dev/null || true
    printf -- '----- end of log -----\n' >&2
}

case ${1:-} in
    start) shift; cmd_start "$@" ;;
    stop) shift; cmd_stop "$@" ;;
    log) shift; cmd_log "$@" ;;
    *) srv_usage ;;
esac

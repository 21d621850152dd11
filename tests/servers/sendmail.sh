#!/bin/bash
# tests/servers/sendmail.sh - sendmail on 127.0.0.1:PORT.
#
#   sendmail.sh start DIR PORT   sendmail.sh stop DIR   sendmail.sh log DIR
#
# (contract in tests/servers/common.sh; packages from install-packages.sh)
#
# How it runs (Debian bookworm, sendmail 8.17.1.9), and what was found:
# * sendmail conflicts with Postfix (mail-transport-agent), so
#   install-packages.sh unpacks sendmail-bin, sendmail-base and sendmail-cf
#   into $CHECK_SMTP_FIXUP_SENDMAIL_ROOT (default
#   /opt/check_smtp_fixup/sendmail) and installs m4 and the libraries.
# * DIR/sendmail.cf is made with m4 from DIR/sendmail.mc and the unpacked
#   cf/m4/cf.m4: one daemon on 127.0.0.1:PORT (no default MSA on 587),
#   queue DIR/queue, no alias file, host lookups from DIR/hosts only
#   (ServiceSwitchFile), STARTTLS with DIR/cert.pem. Only the local mailer:
#   mail for localhost, sendmail.test and mail.sendmail.test is accepted,
#   nothing can be relayed (there is no smtp mailer at all).
# * At start sendmail qualifies the machine's host name through the
#   resolver, and sleeps 60 s and retries when it finds no dotted name
#   ("unable to qualify my own domain name"). So it runs in UTS and mount
#   namespaces of its own (unshare) where the host name is $SRV_HOSTNAME and
#   DIR/hosts is bind-mounted on /etc/hosts: no resolver is asked and the
#   machine's name and files are untouched. The namespace is recorded in
#   DIR/mntns; the instance's processes are the sendmail processes in it.
# * sendmail refuses a certificate on a path through a world-writable folder
#   (/tmp) unless DontBlameSendmail has TrustStickyBit: without it, no
#   STARTTLS is offered and nothing says why (no syslog here).
# * -bD: the daemon in the foreground. sendmail logs only to syslog; there
#   is none, so -X DIR/traffic.log records every SMTP conversation instead.
# * The greeting carries the date and time: it changes every second.
#
# Environment: SRV_HOSTNAME (default mail.sendmail.test), SRV_START_TIMEOUT,
# SRV_STOP_TIMEOUT (seconds), CHECK_SMTP_FIXUP_SENDMAIL_ROOT.
set -euo pipefail

SRV_NAME=sendmail.sh
SRV_KIND=sendmail
SRV_HOSTNAME=${SRV_HOSTNAME:-mail.sendmail.test}
SRV_LOGS="daemon.log traffic.log"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source=common.sh
. "$HERE/common.sh"

SM_ROOT=${CHECK_SMTP_FIXUP_SENDMAIL_ROOT:-/opt/check_smtp_fixup/sendmail}
SENDMAIL=$SM_ROOT/usr/libexec/sendmail/sendmail

srv_pids() { srv_ns_pids "$(srv_exe_re "$SENDMAIL")" "$1"; }

write_mc() {
    local dir=$1 port=$2
    # m4 quotes: `...'
    cat >"$dir/sendmail.mc" <<MC
divert(-1)
# throw-away sendmail configuration made by tests/servers/sendmail.sh
divert(0)dnl
include(\`$SM_ROOT/usr/share/sendmail/cf/m4/cf.m4')dnl
VERSIONID(\`check_smtp_fixup test server')dnl
OSTYPE(\`linux')dnl
define(\`confDOMAIN_NAME', \`$SRV_HOSTNAME')dnl
define(\`confHOST_STATUS_DIRECTORY', \`')dnl
define(\`QUEUE_DIR', \`$dir/queue')dnl
define(\`STATUS_FILE', \`$dir/statistics')dnl
define(\`confPID_FILE', \`$dir/sendmail.pid')dnl
define(\`ALIAS_FILE', \`')dnl
define(\`confSERVICE_SWITCH_FILE', \`$dir/service.switch')dnl
define(\`confHOSTS_FILE', \`$dir/hosts')dnl
define(\`confHELP_FILE', \`')dnl
define(\`confDONT_PROBE_INTERFACES', \`True')dnl
define(\`confTO_IDENT', \`0s')dnl
define(\`confCACERT_PATH', \`$dir')dnl
define(\`confCACERT', \`$dir/cert.pem')dnl
define(\`confSERVER_CERT', \`$dir/cert.pem')dnl
define(\`confSERVER_KEY', \`$dir/key.pem')dnl
define(\`confDONT_BLAME_SENDMAIL', \`TrustStickyBit,GroupWritableDirPathSafe')dnl
define(\`confRUN_AS_USER', \`root')dnl
define(\`confTRUSTED_USERS', \`root')dnl
DAEMON_OPTIONS(\`Family=inet, Name=MTA, Addr=127.0.0.1, Port=$port')dnl
FEATURE(\`no_default_msa')dnl
FEATURE(\`nouucp', \`reject')dnl
FEATURE(\`nocanonify')dnl
LOCAL_DOMAIN(\`localhost sendmail.test $SRV_HOSTNAME')dnl
MAILER(\`local')dnl
MC
}

srv_launch() {
    local dir=$1 port=$2
    { [ -x "$SENDMAIL" ] && [ -f "$SM_ROOT/usr/share/sendmail/cf/m4/cf.m4" ]; } ||
        srv_die "sendmail is not unpacked in $SM_ROOT (run tests/servers/install-packages.sh)"
    command -v m4 >/dev/null || srv_die "m4 is missing (run tests/servers/install-packages.sh)"
    mkdir -p "$dir/queue"
    chmod 700 "$dir/queue"
    printf 'hosts files\naliases files\n' >"$dir/service.switch"
    printf '127.0.0.1 %s localhost\n' "$SRV_HOSTNAME" >"$dir/hosts"
    write_mc "$dir" "$port"
    m4 "$dir/sendmail.mc" >"$dir/sendmail.cf" 2>"$dir/m4.log" ||
        { cat "$dir/m4.log" >&2; srv_die "m4 could not make sendmail.cf"; }
    # shellcheck disable=SC2016  # the inner script expands its own $1..$3
    srv_spawn "$dir" daemon.log unshare --uts --mount --propagation private bash -c '
        set -e
        hostname "$3"
        mount --bind "$1/hosts" /etc/hosts
        readlink /proc/self/ns/mnt >"$1/mntns"
        exec "$2" -C "$1/sendmail.cf" -bD -X "$1/traffic.log"' _ "$dir" "$SENDMAIL" "$SRV_HOSTNAME"
}

srv_main "$@"

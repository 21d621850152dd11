#!/bin/bash
# tests/servers/opensmtpd.sh - OpenSMTPD on 127.0.0.1:PORT.
#
#   opensmtpd.sh start DIR PORT   opensmtpd.sh stop DIR   opensmtpd.sh log DIR
#
# (contract in tests/servers/common.sh; packages from install-packages.sh)
#
# How it runs (Debian bookworm, opensmtpd 6.8.0p2), and what was found:
# * OpenSMTPD conflicts with Postfix (mail-transport-agent), so
#   install-packages.sh unpacks its .deb into $CHECK_SMTP_FIXUP_OPENSMTPD_ROOT
#   (default /opt/check_smtp_fixup/opensmtpd), installs its libraries, and
#   creates its users opensmtpd and opensmtpq and its chroot folder
#   /var/lib/opensmtpd/empty, as the package's postinst would.
# * Its spool (/var/spool/smtpd) and control socket (/var/run/smtpd.sock)
#   are compiled in. So smtpd runs in a mount namespace of its own
#   (unshare --mount) where DIR/spool is bind-mounted on /var/spool/smtpd
#   and DIR/run on /run: several instances never share a spool or socket,
#   and the machine's folders are untouched (only the empty mount point
#   /var/spool/smtpd is made). The namespace is recorded in DIR/mntns; the
#   processes of the instance are the smtpd processes in that namespace
#   (smtpd renames its processes, so their command lines do not name DIR).
# * smtpd -d: foreground, logs to stderr (DIR/smtpd.log): no syslog needed.
# * Mail for localhost, opensmtpd.test and mail.opensmtpd.test is accepted
#   and handed to /bin/cat (thrown away); anything else is refused; nothing
#   is relayed. STARTTLS with DIR/cert.pem.
# * STARTTLS is offered but every TLS handshake fails on this Debian: the
#   client gets the alert "internal error", the log says 'io-error:
#   error:0A080006:SSL routines::EVP lib' (ECDSA key) or '...::internal
#   error' (RSA key, TLS 1.2 or 1.3 alike): OpenSMTPD 6.8's privilege-
#   separated signing does not work with bookworm's OpenSSL 3. The tests
#   say so and assert what the plugin reports about it.
# * OpenSMTPD does not offer PIPELINING and answers a client that pipelines
#   anyway with "500 5.5.1 Invalid command: Pipelining not supported".
#
# Environment: SRV_HOSTNAME (default mail.opensmtpd.test), SRV_START_TIMEOUT,
# SRV_STOP_TIMEOUT (seconds), CHECK_SMTP_FIXUP_OPENSMTPD_ROOT.
set -euo pipefail

SRV_NAME=opensmtpd.sh
SRV_KIND=opensmtpd
SRV_HOSTNAME=${SRV_HOSTNAME:-mail.opensmtpd.test}
SRV_LOGS="smtpd.log"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source=common.sh
. "$HERE/common.sh"

OSD_ROOT=${CHECK_SMTP_FIXUP_OPENSMTPD_ROOT:-/opt/check_smtp_fixup/opensmtpd}
SMTPD=$OSD_ROOT/usr/sbin/smtpd

srv_pids() { srv_ns_pids "$(srv_exe_re "$SMTPD")" "$1"; }

srv_launch() {
    local dir=$1 port=$2
    [ -x "$SMTPD" ] || srv_die "OpenSMTPD is not unpacked in $OSD_ROOT (run tests/servers/install-packages.sh)"
    { [ -d /var/spool/smtpd ] && [ -d /var/lib/opensmtpd/empty ]; } ||
        srv_die "/var/spool/smtpd or /var/lib/opensmtpd/empty is missing (run tests/servers/install-packages.sh)"
    mkdir -p "$dir/spool" "$dir/run"
    chmod 711 "$dir/spool"
    cat >"$dir/smtpd.conf" <<CONF
# throw-away OpenSMTPD configuration made by tests/servers/opensmtpd.sh
pki $SRV_HOSTNAME cert "$dir/cert.pem"
pki $SRV_HOSTNAME key "$dir/key.pem"
table local_domains { "localhost", "opensmtpd.test", "$SRV_HOSTNAME" }
listen on 127.0.0.1 port $port tls pki $SRV_HOSTNAME hostname $SRV_HOSTNAME
action "discard" mda "/bin/cat" user root
match from any for domain <local_domains> action "discard"
CONF
    "$SMTPD" -n -f "$dir/smtpd.conf" >"$dir/check.log" 2>&1 ||
        { cat "$dir/check.log" >&2; srv_die "OpenSMTPD refused $dir/smtpd.conf"; }
    # shellcheck disable=SC2016  # the inner script expands its own $1 $2
    srv_spawn "$dir" smtpd.log unshare --mount --propagation private bash -c '
        set -e
        mount --bind "$1/spool" /var/spool/smtpd
        mount --bind "$1/run" /run
        readlink /proc/self/ns/mnt >"$1/mntns"
        exec "$2" -d -f "$1/smtpd.conf"' _ "$dir" "$SMTPD"
}

srv_main "$@"

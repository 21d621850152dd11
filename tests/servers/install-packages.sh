#!/bin/bash
# tests/servers/install-packages.sh - install the real mail servers and proxies
# that the test suite starts on loopback (the scripts of tests/servers/).
#
# Idempotent: when everything is already there it prints nothing and takes
# about 0.1-0.3 s (one dpkg-query). Otherwise it needs root and Debian's package mirror.
#
# What it installs, and why this way (findings on Debian bookworm):
#
# * postfix, exim4-daemon-light and opensmtpd all "Provides/Conflicts:
#   mail-transport-agent", so apt will only ever keep one of them installed.
#   Postfix is installed normally with apt (it needs its "postfix" user and
#   "postdrop" group, its daemons in /usr/lib/postfix/sbin and its packaging
#   metadata in /etc/postfix/postfix-files, all created by the package).
#   Exim is NOT installed: its .deb is fetched with `apt-get download` and
#   unpacked with `dpkg-deb -x` into $EXIM_ROOT (default
#   /opt/check_smtp_fixup/exim4). Only its shared-library dependencies (the
#   lib* entries of its Depends: field) are installed with apt. Exim's own
#   postinst (/etc/exim4, update-exim4.conf, the system service) never runs;
#   tests/servers/exim.sh does not need any of it. Only the "Debian-exim"
#   system user, which the binary looks up on every start, is created here.
# * Postfix is preseeded with debconf "No configuration": its postinst then
#   writes no /etc/postfix/main.cf and the system instance cannot start.
# * Services must not start while installing: if /usr/sbin/policy-rc.d does not
#   already forbid it (Docker images ship one that exits 101), a temporary one
#   that exits 101 is put in place and removed (or the old one put back) on exit.
# * Everything is non-interactive (DEBIAN_FRONTEND=noninteractive, -y,
#   --no-install-recommends, keep old conffiles). apt-get is told
#   --no-remove, so a machine whose mail server is another MTA (which postfix
#   would have to replace) fails with a message instead of losing its MTA.
# * openssl (certificates, STARTTLS client in the tests) is also installed.
# * OpenSMTPD and sendmail are mail-transport-agents too: unpacked like Exim,
#   into /opt/check_smtp_fixup/opensmtpd and /opt/check_smtp_fixup/sendmail
#   (sendmail-bin, sendmail-base and sendmail-cf: the binary and the m4 files
#   that make its sendmail.cf), their libraries installed with apt, plus m4.
#   OpenSMTPD's users (opensmtpd, opensmtpq) and folders
#   (/var/lib/opensmtpd/empty, its chroot; /var/spool/smtpd, an empty mount
#   point for tests/servers/opensmtpd.sh) are made as its postinst would.
# * Installed with apt, services not started (policy-rc.d): nginx and
#   libnginx-mod-mail, haproxy, stunnel4, proxsmtp, spampd (it brings
#   SpamAssassin), python3-aiosmtpd. Postfix brings smtp-sink. On a machine
#   without systemd, stunnel4's dependency on a sysusers program is met by
#   systemd-standalone-sysusers rather than by all of systemd.
# * Haraka comes from the npm registry: `npm install Haraka@VERSION` (no
#   install scripts) into /opt/check_smtp_fixup/haraka, npm's cache in
#   /var/cache/check_smtp_fixup/npm; run by the machine's /usr/bin/node.
#
# Environment: CHECK_SMTP_FIXUP_EXIM_ROOT, CHECK_SMTP_FIXUP_OPENSMTPD_ROOT,
# CHECK_SMTP_FIXUP_SENDMAIL_ROOT and CHECK_SMTP_FIXUP_HARAKA_ROOT override
# where each is put (the server scripts read the same variables).
set -euo pipefail

EXIM_ROOT=${CHECK_SMTP_FIXUP_EXIM_ROOT:-/opt/check_smtp_fixup/exim4}
EXIM_PKG=exim4-daemon-light
STAMP=$EXIM_ROOT/.check_smtp_fixup-unpacked
OSD_ROOT=${CHECK_SMTP_FIXUP_OPENSMTPD_ROOT:-/opt/check_smtp_fixup/opensmtpd}
SM_ROOT=${CHECK_SMTP_FIXUP_SENDMAIL_ROOT:-/opt/check_smtp_fixup/sendmail}
HARAKA_ROOT=${CHECK_SMTP_FIXUP_HARAKA_ROOT:-/opt/check_smtp_fixup/haraka}
HARAKA_VERSION=3.3.4
NPM_CACHE=/var/cache/check_smtp_fixup/npm
# Packages installed with apt, beside postfix and openssl (the lib*
# dependencies of unpacked packages are added when they are unpacked).
APT_MORE=(nginx libnginx-mod-mail haproxy stunnel4 proxsmtp spampd python3-aiosmtpd m4)

say() { printf 'install-packages: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

postfix_ok() {
    [ -x /usr/sbin/postfix ] && [ -x /usr/sbin/postconf ] &&
        [ -x /usr/lib/postfix/sbin/master ] &&
        getent passwd postfix >/dev/null && getent group postdrop >/dev/null
}
exim_user_ok() { getent passwd Debian-exim >/dev/null; }
exim_ok() { [ -f "$STAMP" ] && [ -x "$EXIM_ROOT/usr/sbin/exim4" ]; }
openssl_ok() { command -v openssl >/dev/null; }
# unpacked_ok ROOT BINARY: unpacked by us (the libraries are checked with
# ldd right after unpacking; the quick check of a done machine skips it).
unpacked_ok() { [ -f "$1/.check_smtp_fixup-unpacked" ] && [ -x "$1/$2" ]; }
osd_ok() {
    unpacked_ok "$OSD_ROOT" usr/sbin/smtpd && getent passwd opensmtpd >/dev/null &&
        getent passwd opensmtpq >/dev/null && [ -d /var/lib/opensmtpd/empty ] && [ -d /var/spool/smtpd ]
}
sm_ok() { unpacked_ok "$SM_ROOT" usr/libexec/sendmail/sendmail; }
apt_more_ok() {
    # one dpkg-query for all: a line per package, each must be installed
    [ "$(dpkg-query -W -f='${Status}\n' "${APT_MORE[@]}" 2>/dev/null | grep -c '^install ok installed$')" = "${#APT_MORE[@]}" ]
}
haraka_ok() { [ -f "$HARAKA_ROOT/.check_smtp_fixup-haraka-$HARAKA_VERSION" ]; }
all_ok() {
    postfix_ok && exim_ok && openssl_ok && exim_user_ok && osd_ok && sm_ok && apt_more_ok && haraka_ok
}

if all_ok; then
    exit 0
fi

[ "$(id -u)" = 0 ] || die "not everything is installed and this needs root (run: sudo $0)"
command -v apt-get >/dev/null || die "apt-get not found: this script is for Debian (bookworm)"

# One install at a time (two test runs may start together): the second waits,
# then finds everything done.
LOCK_DIR=/run/lock; [ -d "$LOCK_DIR" ] || LOCK_DIR=/tmp
exec 9>"$LOCK_DIR/check_smtp_fixup-install-packages.lock"
flock -w 600 9 || die "another install-packages.sh holds the lock for over 10 minutes"
if all_ok; then
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive DEBCONF_NONINTERACTIVE_SEEN=true
# Wait for dpkg's lock instead of failing if some other apt run holds it.
APT_LOCK=(-o DPkg::Lock::Timeout=300)
APT_OPTS=(-y -q --no-install-recommends --no-remove "${APT_LOCK[@]}"
          -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

# retry CMD...: run CMD, once more after 5 s if it fails (a mirror hiccup).
retry() { "$@" || { sleep 5; "$@"; }; }

WORK=$(mktemp -d /tmp/check_smtp_fixup-install.XXXXXX)
POLICY=/usr/sbin/policy-rc.d
POLICY_SAVED=
POLICY_OURS=
cleanup() {
    if [ -n "$POLICY_OURS" ]; then
        rm -f "$POLICY"
        [ -z "$POLICY_SAVED" ] || mv -f "$POLICY_SAVED" "$POLICY"
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# --- forbid service starts during the install ------------------------------
policy_forbids() {
    [ -x "$POLICY" ] || return 1
    local rc=0
    "$POLICY" postfix start >/dev/null 2>&1 || rc=$?
    [ "$rc" = 101 ]
}
forbid_service_starts() {
    policy_forbids && return 0
    if [ -e "$POLICY" ]; then
        POLICY_SAVED=$POLICY.check_smtp_fixup-saved
        cp -p "$POLICY" "$POLICY_SAVED"
    fi
    POLICY_OURS=1
    printf '#!/bin/sh\n# temporary, from check_smtp_fixup tests/servers/install-packages.sh\nexit 101\n' >"$POLICY.tmp.$$"
    chmod 755 "$POLICY.tmp.$$"
    mv -f "$POLICY.tmp.$$" "$POLICY"
}

# --- apt lists ---------------------------------------------------------------
# One update per run that has something to fetch: a fresh machine may have no
# lists at all, an old one stale lists whose .debs are gone from the mirror.
if ! postfix_ok || ! openssl_ok || ! exim_ok || ! osd_ok || ! sm_ok || ! apt_more_ok; then
    say "apt-get update"
    retry apt-get update -qq "${APT_LOCK[@]}" >"$WORK/update.log" 2>&1 || { cat "$WORK/update.log" >&2; die "apt-get update failed"; }
fi

# --- fetch exim's .deb, learn its library dependencies ------------------------
PKGS=(postfix openssl)
EXIM_DEB=
if ! exim_ok; then
    say "apt-get download $EXIM_PKG"
    mkdir -p "$WORK/deb"
    # apt's download sandbox user must be able to write there, or it warns.
    if getent passwd _apt >/dev/null; then chown _apt "$WORK/deb"; fi
    (cd "$WORK/deb" && retry apt-get download -q "$EXIM_PKG" >"$WORK/download.log" 2>&1) ||
        { cat "$WORK/download.log" >&2; die "apt-get download $EXIM_PKG failed"; }
    EXIM_DEB=$(ls "$WORK"/deb/"$EXIM_PKG"_*.deb)
    # Depends: exim4-base (>= 4.96), debconf (>= 0.5) | debconf-2.0, libc6 (>= 2.34), ...
    # Keep the first alternative of each entry if it is a library package.
    while IFS= read -r dep; do
        dep=${dep%%|*}; dep=${dep%%(*}; dep=${dep//[[:space:]]/}; dep=${dep%%:*}
        case $dep in lib*) PKGS+=("$dep") ;; esac
    done < <(dpkg-deb -f "$EXIM_DEB" Depends | tr ',' '\n')
fi

# --- the same for OpenSMTPD and sendmail ---------------------------------------
# fetch_debs NAME PKG...: download the .debs into WORK/NAME, add their lib*
# dependencies to PKGS.
fetch_debs() {
    local name=$1 deb dep
    shift
    say "apt-get download $*"
    mkdir -p "$WORK/$name"
    if getent passwd _apt >/dev/null; then chown _apt "$WORK/$name"; fi
    (cd "$WORK/$name" && retry apt-get download -q "$@" >"$WORK/download-$name.log" 2>&1) ||
        { cat "$WORK/download-$name.log" >&2; die "apt-get download $* failed"; }
    for deb in "$WORK/$name"/*.deb; do
        while IFS= read -r dep; do
            dep=${dep%%|*}; dep=${dep%%(*}; dep=${dep//[[:space:]]/}; dep=${dep%%:*}
            case $dep in lib*) PKGS+=("$dep") ;; esac
        done < <(dpkg-deb -f "$deb" Depends | tr ',' '\n')
    done
}
# unpack_debs NAME ROOT: unpack every .deb of WORK/NAME into ROOT (replaced
# whole, through ROOT.new), with the stamp that unpacked_ok looks for.
unpack_debs() {
    local name=$1 root=$2 deb
    say "unpacking $(cd "$WORK/$name" && echo *.deb) into $root"
    mkdir -p "$(dirname "$root")"
    rm -rf "$root.new"
    for deb in "$WORK/$name"/*.deb; do
        dpkg-deb -x "$deb" "$root.new"
        dpkg-deb -f "$deb" Package Version >>"$root.new/.check_smtp_fixup-unpacked"
    done
    rm -rf "$root"
    mv "$root.new" "$root"
}
osd_unpacked_ok() { unpacked_ok "$OSD_ROOT" usr/sbin/smtpd; }
if ! osd_unpacked_ok; then fetch_debs opensmtpd opensmtpd; fi
if ! sm_ok; then fetch_debs sendmail sendmail-bin sendmail-base sendmail-cf; fi

# --- install ------------------------------------------------------------------
PKGS+=("${APT_MORE[@]}")
if ! dpkg-query -W -f='${Status}' systemd 2>/dev/null | grep -q 'install ok installed'; then
    PKGS+=(systemd-standalone-sysusers)
fi
NEED=()
for p in "${PKGS[@]}"; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$st" = "install ok installed" ] || NEED+=("$p")
done
if [ "${#NEED[@]}" -gt 0 ]; then
    say "apt-get install ${NEED[*]}"
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    forbid_service_starts
    if ! retry apt-get install "${APT_OPTS[@]}" "${NEED[@]}" >"$WORK/install.log" 2>&1; then
        cat "$WORK/install.log" >&2
        die "apt-get install failed (if another mail server is installed, postfix cannot be installed beside it)"
    fi
fi
postfix_ok || die "postfix is still not usable after installing it"

# --- unpack exim ----------------------------------------------------------------
if [ -n "$EXIM_DEB" ]; then
    say "unpacking $(basename "$EXIM_DEB") into $EXIM_ROOT"
    mkdir -p "$(dirname "$EXIM_ROOT")"
    rm -rf "$EXIM_ROOT.new"
    dpkg-deb -x "$EXIM_DEB" "$EXIM_ROOT.new"
    dpkg-deb -f "$EXIM_DEB" Package Version >"$EXIM_ROOT.new/.check_smtp_fixup-unpacked"
    rm -rf "$EXIM_ROOT"
    mv "$EXIM_ROOT.new" "$EXIM_ROOT"
    if LC_ALL=C ldd "$EXIM_ROOT/usr/sbin/exim4" 2>&1 | grep 'not found' >&2; then
        die "exim4 is missing shared libraries"
    fi
fi

# --- unpack OpenSMTPD and sendmail ----------------------------------------------
if [ -d "$WORK/opensmtpd" ]; then unpack_debs opensmtpd "$OSD_ROOT"; fi
if [ -d "$WORK/sendmail" ]; then unpack_debs sendmail "$SM_ROOT"; fi
for bin in "$OSD_ROOT/usr/sbin/smtpd" "$SM_ROOT/usr/libexec/sendmail/sendmail"; do
    if LC_ALL=C ldd "$bin" 2>&1 | grep 'not found' >&2; then
        die "$bin is missing shared libraries"
    fi
done
# OpenSMTPD's users and folders, as its postinst makes them.
for u in opensmtpd opensmtpq; do
    if ! getent passwd "$u" >/dev/null; then
        say "creating system user $u"
        useradd --system --user-group --home-dir /var/lib/opensmtpd --no-create-home \
            --shell /usr/sbin/nologin --comment "OpenSMTPD (check_smtp_fixup tests)" "$u"
    fi
done
mkdir -p /var/lib/opensmtpd/empty /var/spool/smtpd

# --- Haraka from the npm registry -----------------------------------------------
if ! haraka_ok; then
    { command -v npm >/dev/null && [ -x /usr/bin/node ]; } ||
        die "Haraka needs node (/usr/bin/node) and npm, which this machine lacks"
    say "npm install Haraka@$HARAKA_VERSION into $HARAKA_ROOT"
    rm -rf "$HARAKA_ROOT.new"
    mkdir -p "$HARAKA_ROOT.new" "$NPM_CACHE"
    printf '{"name": "check-smtp-fixup-haraka", "private": true}\n' >"$HARAKA_ROOT.new/package.json"
    # --ignore-scripts: Haraka needs no native build for what the tests use.
    if ! (cd "$HARAKA_ROOT.new" && retry npm install --cache "$NPM_CACHE" --no-audit --no-fund \
        --omit=optional --ignore-scripts --loglevel=error "Haraka@$HARAKA_VERSION") >"$WORK/npm.log" 2>&1; then
        cat "$WORK/npm.log" >&2
        die "npm install Haraka@$HARAKA_VERSION failed"
    fi
    touch "$HARAKA_ROOT.new/.check_smtp_fixup-haraka-$HARAKA_VERSION"
    rm -rf "$HARAKA_ROOT"
    mv "$HARAKA_ROOT.new" "$HARAKA_ROOT"
fi

# --- the user the Exim binary insists on ----------------------------------------
# Debian's exim4 is built with EXIM_USER=ref:Debian-exim and exits at once if
# that user does not exist (exim4-base's postinst would create it). The
# configuration of tests/servers/exim.sh runs as root, but the lookup comes
# first. Same attributes as exim4-base gives it, so a later real install of
# Exim just reuses it.
if ! getent passwd Debian-exim >/dev/null; then
    say "creating system user Debian-exim"
    getent group Debian-exim >/dev/null || groupadd --system Debian-exim
    useradd --system --gid Debian-exim --home-dir /var/spool/exim4 --no-create-home \
        --shell /usr/sbin/nologin --comment "Exim (check_smtp_fixup tests)" Debian-exim
fi

# --- nothing may be left running ----------------------------------------------
# With "No configuration" and policy-rc.d there is no system postfix; make sure.
if (exec 3<>/dev/tcp/127.0.0.1/25) 2>/dev/null; then
    say "warning: something listens on 127.0.0.1:25 (not started by this script)"
fi
say "done"

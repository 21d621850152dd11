#!/bin/bash
# tests/package.sh - the Debian package (debian/) as operators get it: built
# with dpkg-buildpackage, checked by lintian, installed with apt-get, run by
# a throw-away Icinga 2 that finds the CheckCommand through
# include <plugins-contrib>, then purged.
#
#   tests/package.sh        (as root: it installs and purges the package)
#
# Cases:
#   version     debian/changelog's version is configure.ac's
#   build       dpkg-buildpackage -us -uc -b in a copy of the source tree
#               (the files git knows, as they are in the working tree; the
#               whole tree when it is not a git checkout), so the developer's
#               build is not touched; one check-smtp-fixup_VERSION_ARCH.deb
#   lintian     lintian --fail-on error,warning finds nothing
#   contents    the .deb holds exactly the files below, each the same as its
#               source; the Nagios definitions are its only conffile; Depends
#               has the C library (dh_shlibdeps) and libgnutls30 | libssl3
#   install     apt-get install ./check-smtp-fixup_*.deb: dpkg -L lists every
#               file; the plugin is dynamically linked, alone in its folder
#               (no check_smtp_fixup_tls), and --version names VERSION
#   icinga2-start   Icinga 2 (tests/icinga2/lib.sh) with include
#               <plugins-contrib>, the way the stock icinga2.conf loads it,
#               and no CheckCommand of its own
#   checkcommand    Icinga's smtp_fixup comes from plugins-contrib.d and runs
#               the installed plugin
#   clean/default, asa/default   forced checks: OK against the emulator's
#               postfix persona, CRITICAL naming the Cisco ASA behind its asa
#               profile
#   icinga2-stop    SIGTERM stops Icinga
#   purge       apt-get purge -y check-smtp-fixup: dpkg -L lists nothing,
#               dpkg has no record of it, every file is gone (the conffile
#               too), and so is each folder it made
#
# Needs root, the packages of tests/package/packages, the build
# dependencies (debian/control) and those of tests/icinga2/packages.
# Without them every case is skipped (exit 77), or fails when CI=true.
# It stops (exit 99) if check-smtp-fixup is installed already: it would be
# replaced and purged. Prints "ok NAME" or "not ok NAME: reason" per case,
# then "N passed, M failed"; exit 1 if any failed.
#
# Environment: top_srcdir (default: this script's tree); SF_MP_CACHE, the
# folder of tools/setup-monitoring-plugins (default: top_srcdir/.cache,
# where "make" has it); KEEP_TMP=1 keeps the work folder (the build copy,
# the .deb, the logs, Icinga's files).

# The installed plugin (tests/lib.sh runs PLUGIN).
PLUGIN=/usr/lib/nagios/plugins/check_smtp_fixup
PLUGIN_DYNAMIC=$PLUGIN
# shellcheck source=tests/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh" || exit 99
if [ -z "${WORK:-}" ] || [ ! -d "$WORK" ]; then
	echo "tests/lib.sh made no work folder" >&2
	exit 99
fi
# Set once the package is built: the emulator of the build copy.
EMU=
# shellcheck source=tests/icinga2/lib.sh
. "$top_srcdir/tests/icinga2/lib.sh" || exit 99
# Interrupted between install and purge: the package goes too.
INSTALLED=
package_cleanup() {
	icinga_stop
	if [ -n "$INSTALLED" ]; then
		echo "# purging $PKG" >&2
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 purge -y -qq \
			"$PKG" >/dev/null 2>&1 </dev/null
	fi
	lib_cleanup
}
trap package_cleanup EXIT

PKG=check-smtp-fixup
CHECK_TIMEOUT=5 # the plugin's -t in both services
BUILD_SECONDS=600
: "${SF_MP_CACHE:=$top_srcdir/.cache}"
export SF_MP_CACHE

# What the package installs: each path and the file of the source tree it
# is (.gz: compressed by dh_compress; -: nothing to compare with).
CONTENTS=(
	"/usr/lib/nagios/plugins/check_smtp_fixup -"
	"/usr/share/man/man1/check_smtp_fixup.1.gz doc/check_smtp_fixup.1"
	"/usr/share/icinga2/include/plugins-contrib.d/check_smtp_fixup.conf contrib/icinga2/check_smtp_fixup.conf"
	"/etc/nagios-plugins/config/check_smtp_fixup.cfg contrib/nagios/check_smtp_fixup.cfg"
	"/usr/share/doc/$PKG/README.gz README"
	"/usr/share/doc/$PKG/copyright debian/copyright"
	"/usr/share/doc/$PKG/changelog.gz debian/changelog"
)
CONFFILES=/etc/nagios-plugins/config/check_smtp_fixup.cfg

ALL_CASES=(version build lintian contents install icinga2-start checkcommand
	checks-forced clean/default asa/default icinga2-stop purge)

# Every case from $1 on, reported as failed for reason $2.
fail_from() {
	local from=$1 why=$2 c on=
	for c in "${ALL_CASES[@]}"; do
		[ "$c" = "$from" ] && on=1
		[ -z "$on" ] || cases_not_run fail "$why" "$c"
	done
}

# ---- can it run here? -----------------------------------------------

why=
if [ "$(id -u)" -ne 0 ]; then
	why="needs root (apt-get install, apt-get purge)"
else
	missing=$(missing_packages "$top_srcdir/tests/package/packages" "$top_srcdir/tests/icinga2/packages")
	[ -z "${missing// /}" ] || why="not installed: ${missing% } (see tests/package/packages, tests/icinga2/packages)"
fi
if [ -n "$why" ]; then
	if [ "${CI:-}" = true ]; then
		cases_not_run fail "$why" "${ALL_CASES[@]}"
		finish
		exit 1
	fi
	cases_not_run skip "$why" "${ALL_CASES[@]}"
	finish
	exit 77
fi
if dpkg-query -W -f='${db:Status-Status}' "$PKG" 2>/dev/null | grep -qv '^not-installed$'; then
	echo "$PKG is installed (dpkg-query -W $PKG); this test would replace and purge it" >&2
	exit 99
fi

# ---- 1. the version -------------------------------------------------

case_begin version
VERSION=$(sed -n 's/^AC_INIT(\[[^]]*\], *\[\([^]]*\)\].*/\1/p' "$top_srcdir/configure.ac")
deb_version=$(dpkg-parsechangelog -l "$top_srcdir/debian/changelog" -S Version 2>&1)
[ -n "$VERSION" ] || fail "no version in configure.ac's AC_INIT"
[ "$deb_version" = "$VERSION" ] ||
	fail "debian/changelog has version '$deb_version', configure.ac '$VERSION' (dch -v $VERSION)"
case_done

# ---- 2. build -------------------------------------------------------

T_START=$(now_ms)
case_begin build
BUILD=$WORK/build
SRC=$BUILD/$PKG-$VERSION
mkdir -p "$SRC"
if git -C "$top_srcdir" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	# tracked and new files as they are now; not .cache (SF_MP_CACHE)
	(cd "$top_srcdir" && git ls-files -z -co --exclude-standard | grep -zv '^\.cache$' |
		tar --null -T - --ignore-failed-read -cf - 2>/dev/null) | tar -xf - -C "$SRC"
else
	tar -C "$top_srcdir" --exclude=./.cache -cf - . | tar -xf - -C "$SRC"
fi
[ -x "$SRC/debian/rules" ] || fail "the copy of the tree has no executable debian/rules"
if [ ${#FAILS[@]} -eq 0 ]; then
	t0=$(now_ms)
	(cd "$SRC" && DEB_BUILD_OPTIONS="parallel=2" timeout -k 5 "$BUILD_SECONDS" \
		dpkg-buildpackage -us -uc -b) >"$CASE_DIR/build.log" 2>&1 </dev/null
	rc=$?
	if [ "$rc" -ne 0 ]; then
		fail "dpkg-buildpackage -us -uc -b exits $rc"
		show "$CASE_DIR/build.log" 40 build
	else
		note "dpkg-buildpackage -us -uc -b: $(($(now_ms) - t0)) ms"
	fi
fi
DEBS=("$BUILD/${PKG}_"*.deb)
DEB=
if [ ${#DEBS[@]} -eq 1 ] && [ -f "${DEBS[0]}" ]; then
	DEB=${DEBS[0]}
	arch=$(dpkg --print-architecture)
	[ "${DEB##*/}" = "${PKG}_${VERSION}_$arch.deb" ] ||
		fail "built ${DEB##*/}, expected ${PKG}_${VERSION}_$arch.deb"
	note "${DEB##*/}: $(stat -c %s "$DEB") bytes"
else
	fail "not one ${PKG}_*.deb but: ${DEBS[*]##*/}"
fi
if ! case_done || [ -z "$DEB" ]; then
	fail_from lintian "the package was not built"
	finish
	exit 1
fi
EMU=$SRC/tools/smtp-inspect-emu

# ---- 3. lintian -----------------------------------------------------

case_begin lintian
CHANGES=$BUILD/${PKG}_${VERSION}_$(dpkg --print-architecture).changes
# Root is what this test needs for apt; lintian says so once.
lintian --fail-on error,warning "$CHANGES" >"$CASE_DIR/lintian.log" 2>&1
rc=$?
grep -v '^running with root privileges' "$CASE_DIR/lintian.log" >"$CASE_DIR/tags"
if [ "$rc" -ne 0 ]; then
	fail "lintian --fail-on error,warning exits $rc"
	show "$CASE_DIR/tags" 30 lintian
elif grep -q '^[EW]: ' "$CASE_DIR/tags"; then
	fail "lintian reports errors or warnings"
	show "$CASE_DIR/tags" 30 lintian
fi
case_done

# ---- 4. contents ----------------------------------------------------

case_begin contents
X=$CASE_DIR/x
dpkg-deb -x "$DEB" "$X" 2>"$CASE_DIR/x.err" || fail "dpkg-deb -x: $(head -c 200 "$CASE_DIR/x.err")"
want_files=$(for c in "${CONTENTS[@]}"; do echo "${c%% *}"; done | sort)
deb_files=$(cd "$X" && find . ! -type d | sed 's/^\.//' | sort)
if [ "$deb_files" != "$want_files" ]; then
	fail "the package's files differ from the expected ones"
	notes_from "<expected >packaged" < <(diff <(echo "$want_files") <(echo "$deb_files") | grep '^[<>]')
fi
for c in "${CONTENTS[@]}"; do
	path=${c%% *} from=${c#* }
	if [ "$from" = - ] || [ ! -f "$X$path" ]; then
		continue
	fi
	if [[ $path == *.gz ]]; then
		zcat "$X$path" | cmp -s - "$SRC/$from" || fail "$path is not $from"
	else
		cmp -s "$X$path" "$SRC/$from" || fail "$path is not $from"
	fi
done
[ -x "$X/usr/lib/nagios/plugins/check_smtp_fixup" ] || fail "the plugin is not executable"
conffiles=$(dpkg-deb --ctrl-tarfile "$DEB" | tar -xOf - ./conffiles 2>/dev/null)
[ "$conffiles" = "$CONFFILES" ] || fail "conffiles: '$conffiles', expected '$CONFFILES'"
depends=$(dpkg-deb -f "$DEB" Depends)
note "Depends: $depends"
[[ $depends =~ (^|,\ )libc6\ \(\>=\ [0-9.]+\) ]] || fail "Depends has no libc6 (>= ...) from dh_shlibdeps"
[[ $depends == *"libgnutls30 (>= 3.6) | libssl3"* ]] || fail "Depends has no 'libgnutls30 (>= 3.6) | libssl3' (the dlopen()ed TLS libraries)"
case_done

# ---- 5. install -----------------------------------------------------

case_begin install
# Folders of the package that are there before it: kept by the purge.
DIRS_BEFORE=()
while IFS= read -r d; do
	d=${d#.}
	[ -n "$d" ] && [ -d "$d" ] && DIRS_BEFORE+=("$d")
done < <(cd "$X" && find . -mindepth 1 -type d)
PKG_DIRS=$(cd "$X" && find . -mindepth 1 -type d | sed 's/^\.//' | sort -r)
(cd "$BUILD" && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 \
	install -y --no-install-recommends "./${DEB##*/}") >"$CASE_DIR/apt.log" 2>&1 </dev/null
rc=$?
INSTALLED=1
if [ "$rc" -ne 0 ]; then
	fail "apt-get install ./${DEB##*/} exits $rc"
	show "$CASE_DIR/apt.log" 20 apt
fi
listed=$(dpkg -L "$PKG" 2>/dev/null)
for c in "${CONTENTS[@]}"; do
	path=${c%% *}
	[ -f "$path" ] || fail "$path is not installed"
	grep -qxF "$path" <<<"$listed" || fail "dpkg -L $PKG does not list $path"
done
if [ -x "$PLUGIN" ]; then
	LC_ALL=C readelf -lW "$PLUGIN" 2>/dev/null | grep -q 'Requesting program interpreter' ||
		fail "$PLUGIN is not dynamically linked"
	[ ! -e "${PLUGIN}_tls" ] || fail "${PLUGIN}_tls is installed: the package has one binary"
	v=$(timeout 5 "$PLUGIN" --version 2>&1)
	rc=$?
	[ "$rc" = 0 ] || fail "$PLUGIN --version exits $rc"
	[[ $v == "check_smtp_fixup $VERSION "* ]] || fail "$PLUGIN --version says '${v:0:200}', expected check_smtp_fixup $VERSION"
	note "$v"
fi
case_done

# ---- 6. Icinga 2 with include <plugins-contrib> ---------------------

# The stock icinga2.conf's includes and constants.conf's plugin folders;
# the CheckCommand only from plugins-contrib.d.
write_icinga_config() {
	cat >"$ICINGA_DIR/etc/icinga2.conf" <<EOF
/* Written by tests/package.sh for a throw-away instance. */
const PluginDir = "/usr/lib/nagios/plugins"
const ManubulonPluginDir = "/usr/lib/nagios/plugins"
const PluginContribDir = "/usr/lib/nagios/plugins"
include <itl>
include <plugins>
include <plugins-contrib>

$(icinga_api_config)

template Host "smtp-fixup-test-host" {
	check_command = "dummy"
	enable_active_checks = false
	address = "127.0.0.1"
}
/* Checked only when forced. */
template Service "smtp-fixup-test" {
	check_command = "smtp_fixup"
	enable_active_checks = false
	check_interval = 1h
	max_check_attempts = 1
	enable_notifications = false
	vars.smtp_fixup_fqdn = "$FQDN"
	vars.smtp_fixup_timeout = $CHECK_TIMEOUT
}
object Host "clean" {
	import "smtp-fixup-test-host"
	vars.smtp_fixup_port = $CLEAN_PORT
}
object Host "asa" {
	import "smtp-fixup-test-host"
	vars.smtp_fixup_port = $ASA_PORT
}
object Service "default" {
	import "smtp-fixup-test"
	host_name = "clean"
}
object Service "default" {
	import "smtp-fixup-test"
	host_name = "asa"
}
EOF
}

case_begin icinga2-start
UP=
if icinga_prepare; then
	server_start clean none clean-postfix || fail "the clean mail server did not start"
	CLEAN_PORT=$SERVER_PORT
	server_start asa asa asa || fail "the ASA-masked mail server did not start"
	ASA_PORT=$SERVER_PORT
	note "mail servers: $SERVER_KIND: clean on $CLEAN_PORT, asa on $ASA_PORT"
fi
if [ ${#FAILS[@]} -eq 0 ]; then
	write_icinga_config
	icinga_start "$ICINGA_DIR/etc/icinga2.conf" && UP=1
fi
if ! case_done || [ -z "$UP" ]; then
	cases_not_run fail "Icinga 2 did not start" checkcommand checks-forced clean/default \
		asa/default icinga2-stop
else
	case_begin checkcommand
	if api GET /v1/objects/checkcommands/smtp_fixup >"$CASE_DIR/cc.json"; then
		cc=$(jq -r '.results[0].attrs | "\(.command | tojson) \(.source_location.path)"' "$CASE_DIR/cc.json")
		want_cc="[\"$PLUGIN\"] /usr/share/icinga2/include/plugins-contrib.d/check_smtp_fixup.conf"
		[ "$cc" = "$want_cc" ] || fail "the CheckCommand is '$cc', expected '$want_cc'"
	else
		fail "GET /v1/objects/checkcommands/smtp_fixup failed: $(head -c 300 "$CASE_DIR/cc.json")"
	fi
	case_done

	case_begin checks-forced
	icinga_force_checks 2
	case_done

	# HOST/SERVICE, the state, the first line (a box named only behind one)
	for e in "clean/default 0 ^SMTP\ FIXUP\ OK\ -" \
		"asa/default 2 ^SMTP\ FIXUP\ CRITICAL\ -.*Cisco\ ASA"; do
		read -r hs want_state want_re <<<"$e"
		case_begin "$hs"
		state="" exit_status="" output="" argv=()
		# shellcheck disable=SC2016 # jq program
		eval "$(jq -r --arg h "${hs%%/*}" --arg s "${hs#*/}" '.results[].attrs
			| select(.host_name == $h and .name == $s and .last_check_result != null)
			| .last_check_result as $r
			| @sh "state=\(.state | floor) exit_status=\($r.exit_status) output=\($r.output)",
			  "argv=(\($r.command | @sh))"' "$SERVICES_JSON" 2>/dev/null)"
		FIRST=${output%%$'\n'*}
		if [ -z "$state" ]; then
			fail "no check result in the API"
		else
			[ "$state" = "$want_state" ] || fail "Icinga's state is $state, expected $want_state"
			[ "$exit_status" = "$want_state" ] || fail "the plugin's exit status is $exit_status, expected $want_state"
			[ "${argv[0]}" = "$PLUGIN" ] || fail "Icinga ran ${argv[0]}, not $PLUGIN"
			[[ $FIRST =~ $want_re ]] || fail "the first line does not match /$want_re/"
			[[ $hs == asa/* ]] || [[ $FIRST != *Cisco* ]] || fail "the clean server's output names a box"
			note "${argv[*]}"
		fi
		case_done
	done

	case_begin icinga2-stop
	icinga_stop
	[ -z "$ICINGA_LEFT" ] || fail "Icinga's processes $ICINGA_LEFT were still there ${STOP_SECONDS}s after SIGTERM (killed)"
	[ "$ICINGA_RC" = 0 ] || fail "Icinga exited with $ICINGA_RC on SIGTERM"
	case_done
fi
kill_bg_pids

# ---- 7. purge -------------------------------------------------------

case_begin purge
DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 purge -y "$PKG" \
	>"$CASE_DIR/apt.log" 2>&1 </dev/null
rc=$?
if [ "$rc" -ne 0 ]; then
	fail "apt-get purge -y $PKG exits $rc"
	show "$CASE_DIR/apt.log" 20 apt
fi
left=$(dpkg -L "$PKG" 2>/dev/null)
[ -z "$left" ] || fail "dpkg -L $PKG still lists: $(head -c 200 <<<"$left")"
status=$(dpkg-query -W -f='${db:Status-Status}' "$PKG" 2>/dev/null)
[ -z "$status" ] || [ "$status" = not-installed ] || fail "dpkg still has $PKG as '$status'"
for c in "${CONTENTS[@]}"; do
	path=${c%% *}
	[ ! -e "$path" ] || fail "$path is still there"
done
for f in "$CONFFILES".dpkg-{old,new,dist,bak,tmp}; do
	[ ! -e "$f" ] || fail "$f is left behind"
done
# each folder of the package that was not there before is gone
for d in $PKG_DIRS; do
	[[ " ${DIRS_BEFORE[*]} " == *" $d "* ]] && continue
	[ ! -e "$d" ] || fail "$d is still there (made by the package)"
done
INSTALLED=
case_done
echo "# $(($(now_ms) - T_START)) ms from the build to the purge"

finish

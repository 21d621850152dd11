#!/bin/bash
# tests/tls-library.sh - which TLS library the plugin uses (plugins/tls.c):
# GnuTLS when it loads, else OpenSSL; CHECK_SMTP_FIXUP_TLS=gnutls|openssl
# forces one; neither loading, or a bad name, is UNKNOWN with the reason,
# before any connection; the plugin is one dynamically linked binary that
# loads neither library at start-up. A library is made unloadable by bind-mounting
# /dev/null over its file in a mount namespace of the test's own
# (unshare -m), so nothing else on the machine sees it; those cases need
# root and are skipped without it.
#
# Which library ran shows in how a failed handshake is told: the peer
# (tests/peers/fault-tls-plaintext.txt) answers the ClientHello with clear
# text; OpenSSL says "error:0A00010B:SSL routines::wrong version number",
# GnuTLS "an unexpected TLS packet was received".
#
#   tests/tls-library.sh [CASE...]     (all cases when none is named)
# shellcheck source=tests/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"
require_built "$PLUGIN" "$PEER"

OPENSSL_SAYS='failed: error:[0-9A-F]+:SSL routines'
GNUTLS_SAYS='failed: an unexpected TLS packet was received'
T=5

# The file a library name is loaded from here (as ldconfig knows it).
lib_file() {
	local f
	f=$(ldconfig -p 2>/dev/null | awk -v n="$1" '$1 == n && /x86-64|x32|64/ { print $NF; exit }')
	[ -n "$f" ] || f=$(ldconfig -p 2>/dev/null | awk -v n="$1" '$1 == n { print $NF; exit }')
	[ -n "$f" ] && readlink -f "$f"
}
GNUTLS_FILE=$(lib_file libgnutls.so.30)
LIBSSL_FILE=$(lib_file libssl.so.3)

HAVE_NS=0
if [ "$(id -u)" -eq 0 ] && [ -n "$GNUTLS_FILE" ] && [ -n "$LIBSSL_FILE" ] &&
	unshare -m sh -c "mount --bind /dev/null '$GNUTLS_FILE'" 2>/dev/null; then
	HAVE_NS=1
fi

# hide_run BOUND "FILE..." ARGS...: the plugin with each FILE replaced by
# an empty one in a mount namespace of its own.
hide_run() {
	local bound=$1 files=$2 f
	shift 2
	{
		echo '#!/bin/sh'
		for f in $files; do
			printf 'mount --bind /dev/null "%s" || exit 99\n' "$f"
		done
		echo 'exec "$@"'
	} >"$CASE_DIR/wrap"
	chmod +x "$CASE_DIR/wrap"
	PLUGIN_PREFIX="unshare -m $CASE_DIR/wrap $PLUGIN_PREFIX" run_plugin "$bound" "$@"
}

# tls_case NAME LIB HIDDEN STATE PHRASE: --tls against the clear-text peer
# with CHECK_SMTP_FIXUP_TLS=LIB ("" for the default) and the files HIDDEN
# ("" for none, which needs no namespace).
tls_case() {
	local name=$1 lib=$2 hidden=$3 state=$4 phrase=$5
	case_begin "$name"
	if [ -n "$hidden" ] && [ "$HAVE_NS" != 1 ]; then
		case_skip "needs root and unshare -m to hide a library"
		return
	fi
	peer_start fault-tls-plaintext || {
		case_end
		return
	}
	if [ -n "$hidden" ]; then
		CHECK_SMTP_FIXUP_TLS=$lib hide_run $((T + 2)) "$hidden" \
			-H 127.0.0.1 -p "$PEER_PORT" -F "$FQDN" -t "$T" --tls
	else
		CHECK_SMTP_FIXUP_TLS=$lib probe --tls
	fi
	case $state in
	CRITICAL) expect_rc 2 ;;
	UNKNOWN) expect_rc 3 ;;
	esac
	expect_first "^SMTP FIXUP $state - .*$phrase"
	expect_elapsed_max 3000
	if [ "$state" = UNKNOWN ]; then
		# nothing was tried on the network: the peer saw no connection
		kill "$PEER_PID" 2>/dev/null
		wait "$PEER_PID" 2>/dev/null
		PEER_PID=
		grep -qv "^# listening on " "$PEER_LOG" && fail "the plugin connected although it had no TLS library"
	else
		peer_finish
	fi
	case_end
}

case_default() { tls_case default "" "" CRITICAL "$GNUTLS_SAYS"; }
case_force_gnutls() { tls_case force-gnutls gnutls "" CRITICAL "$GNUTLS_SAYS"; }
case_force_openssl() { tls_case force-openssl openssl "" CRITICAL "$OPENSSL_SAYS"; }
case_no_gnutls() { tls_case no-gnutls "" "$GNUTLS_FILE" CRITICAL "$OPENSSL_SAYS"; }
case_no_openssl() { tls_case no-openssl "" "$LIBSSL_FILE" CRITICAL "$GNUTLS_SAYS"; }
case_no_gnutls_forced() {
	tls_case no-gnutls-forced gnutls "$GNUTLS_FILE" UNKNOWN \
		'cannot use TLS: cannot load GnuTLS \(libgnutls\.so\.30\): '
}
case_no_openssl_forced() {
	tls_case no-openssl-forced openssl "$LIBSSL_FILE" UNKNOWN \
		'cannot use TLS: cannot load OpenSSL \(libssl\.so\.3\): '
}
case_neither() {
	tls_case neither "" "$GNUTLS_FILE $LIBSSL_FILE" UNKNOWN \
		'cannot use TLS: cannot load GnuTLS \(libgnutls\.so\.30\): .*; cannot load OpenSSL \(libssl\.so\.3\): '
}

# A name that is neither: UNKNOWN, with the variable named; and without
# -S/--tls the variable does not matter.
case_bad_name() {
	case_begin bad-name
	CHECK_SMTP_FIXUP_TLS=wolfssl run_plugin 3 -H 127.0.0.1 -p 1 -S
	expect_rc 3
	expect_first '^SMTP FIXUP UNKNOWN - CHECK_SMTP_FIXUP_TLS: unknown TLS library "wolfssl": gnutls or openssl$'
	case_end
	case_begin bad-name-plain
	peer_start clean-postfix || {
		case_end
		return
	}
	CHECK_SMTP_FIXUP_TLS=wolfssl probe
	expect_rc 0
	expect_first '^SMTP FIXUP OK - '
	peer_finish
	case_end
}

# One dynamically linked program (as every plugin of monitoring-plugins):
# it has a program interpreter, and neither TLS library is among what the
# loader maps at start-up: they are dlopen()ed only when TLS is used.
case_one_binary() {
	local libs
	case_begin one-binary
	LC_ALL=C readelf -lW "$PLUGIN" | grep -q 'INTERP' ||
		fail "the plugin has no program interpreter: it is not linked dynamically"
	libs=$(LC_ALL=C readelf -dW "$PLUGIN" | grep NEEDED)
	if grep -Eq 'libgnutls|libssl|libcrypto' <<<"$libs"; then
		fail "the plugin needs a TLS library at start-up: $libs"
	fi
	[ -e "$(dirname "$PLUGIN")/check_smtp_fixup_tls" ] &&
		fail "a second binary check_smtp_fixup_tls was built"
	case_end
}

CASES=(default force_gnutls force_openssl no_gnutls no_openssl no_gnutls_forced
	no_openssl_forced neither bad_name one_binary)
[ $# -gt 0 ] && CASES=("$@")
for c in "${CASES[@]}"; do
	"case_$c"
done
finish

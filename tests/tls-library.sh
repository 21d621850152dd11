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
# The stub-* cases replace a library by a stand-in (tests/tlsstub.c)
# that hands every call on to the real one but plays what another host
# may have: a GnuTLS before 3.7.3, a library that lacks a function, one
# that fails to set up a session.
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

# stub_case NAME LIB STUB STATE PHRASE TLS_LINE [VAR=VALUE...]: -S -v
# against a healthy STARTTLS peer with the library replaced by a stand-in
# (tests/tlsstub.c, in tests/STUB, handing on to this host's real library)
# and CHECK_SMTP_FIXUP_TLS=LIB: the status line matches PHRASE in STATE,
# and a line of the long output matches TLS_LINE (unless "").
stub_case() {
	local name=$1 lib=$2 stub=$3 state=$4 phrase=$5 tls_line=$6 real kv
	shift 6
	case_begin "$name"
	case $stub in
	stub-gnutls*) real=$GNUTLS_FILE ;;
	*) real=$LIBSSL_FILE ;;
	esac
	if [ -z "$real" ] || [ ! -e "$top_builddir/tests/$stub" ]; then
		case_skip "no tests/$stub built, or no real library to hand on to"
		return
	fi
	peer_start clean-starttls || {
		case_end
		return
	}
	local -x LD_LIBRARY_PATH="$top_builddir/tests/$stub" STUB_REAL_LIB="$real" CHECK_SMTP_FIXUP_TLS="$lib"
	for kv in "$@"; do
		local -x "$kv"
	done
	probe -S -v
	case $state in
	OK) expect_rc 0 ;;
	UNKNOWN) expect_rc 3 ;;
	esac
	expect_first "^SMTP FIXUP $state - $phrase"
	[ -z "$tls_line" ] || expect_output "$tls_line"
	# the peer served one connection or none (a library that cannot start
	# is found before any)
	kill "$PEER_PID" 2>/dev/null
	wait "$PEER_PID" 2>/dev/null
	PEER_PID=
	case_end
}

SET_UP='this host failed to check 127\.0\.0\.1:[0-9]+ \(127\.0\.0\.1\): cannot set up a TLS session$'
# GnuTLS before 3.7.3 (no gnutls_ciphersuite_get): the cipher's own name
case_stub_gnutls_old() {
	stub_case stub-gnutls-old gnutls stub-gnutls OK '.*: no SMTP inspection seen' '^TLS: TLSv1\.[23] [A-Z0-9-]+ \(gnutls\)$'
}
# a protocol GnuTLS does not call "TLS...": its name as it is
case_stub_gnutls_protocol() {
	stub_case stub-gnutls-protocol gnutls stub-gnutls OK '.*: no SMTP inspection seen' '^TLS: SSL3\.0 [A-Z0-9-]+ \(gnutls\)$' STUB_PROTOCOL=SSL3.0
}
case_stub_gnutls_cred() {
	stub_case stub-gnutls-cred gnutls stub-gnutls UNKNOWN 'cannot use TLS: GnuTLS initialisation failed$' '' STUB_FAIL=cred
}
case_stub_gnutls_init() { stub_case stub-gnutls-init gnutls stub-gnutls UNKNOWN "$SET_UP" '' STUB_FAIL=init; }
case_stub_gnutls_priority() { stub_case stub-gnutls-priority gnutls stub-gnutls UNKNOWN "$SET_UP" '' STUB_FAIL=priority; }
case_stub_gnutls_lacking() {
	stub_case stub-gnutls-lacking gnutls stub-gnutls-lacking UNKNOWN \
		'cannot use TLS: GnuTLS lacks gnutls_handshake_set_hook_function$' ''
}
# not forced: a GnuTLS that lacks a function gives way to OpenSSL
case_stub_gnutls_lacking_default() {
	stub_case stub-gnutls-lacking-default "" stub-gnutls-lacking OK '.*: no SMTP inspection seen' '^TLS: TLSv1\.[23] .* \(openssl\)$'
}
case_stub_openssl() {
	stub_case stub-openssl openssl stub-openssl OK '.*: no SMTP inspection seen' '^TLS: TLSv1\.[23] .* \(openssl\)$'
}
case_stub_openssl_ctx() {
	stub_case stub-openssl-ctx openssl stub-openssl UNKNOWN 'cannot use TLS: OpenSSL initialisation failed$' '' STUB_FAIL=ctx
}
case_stub_openssl_ssl_new() { stub_case stub-openssl-ssl-new openssl stub-openssl UNKNOWN "$SET_UP" '' STUB_FAIL=ssl_new; }
case_stub_openssl_set_fd() { stub_case stub-openssl-set-fd openssl stub-openssl UNKNOWN "$SET_UP" '' STUB_FAIL=set_fd; }
case_stub_openssl_init() {
	stub_case stub-openssl-init openssl stub-openssl UNKNOWN 'cannot use TLS: OpenSSL initialisation failed$' '' STUB_FAIL=init
}
case_stub_openssl_lacking() {
	stub_case stub-openssl-lacking openssl stub-openssl-lacking UNKNOWN \
		'cannot use TLS: OpenSSL lacks SSL_CTX_set_msg_callback$' ''
}

# SNI (RFC 6066 3): the host name in the handshake, with either library;
# an address is no name and is not sent (the peer logs what it got).
sni_case() {
	local lib=$1
	case_begin "sni${lib:+-$lib}"
	if ! getent ahostsv4 localhost 2>/dev/null | grep -q '^127\.0\.0\.1 '; then
		case_skip "localhost is not 127.0.0.1 here"
		return
	fi
	peer_start clean-starttls --connections 2 || {
		case_end
		return
	}
	CHECK_SMTP_FIXUP_TLS=$lib run_plugin $((T + 2)) -H localhost -4 -p "$PEER_PORT" -F "$FQDN" -t "$T" -S
	expect_rc 0
	CHECK_SMTP_FIXUP_TLS=$lib probe -S
	expect_rc 0
	peer_finish
	expect_log_count '^# connection [0-9]+: SNI localhost$' 1
	expect_log_count '^# connection [0-9]+: SNI ' 1
	case_end
}
case_sni_gnutls() { sni_case gnutls; }
case_sni_openssl() { sni_case openssl; }

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
	no_openssl_forced neither bad_name one_binary stub_gnutls_old stub_gnutls_protocol
	stub_gnutls_cred stub_gnutls_init stub_gnutls_priority stub_gnutls_lacking
	stub_gnutls_lacking_default stub_openssl stub_openssl_ctx stub_openssl_ssl_new
	stub_openssl_lacking stub_openssl_set_fd stub_openssl_init sni_gnutls sni_openssl)
[ $# -gt 0 ] && CASES=("$@")
for c in "${CASES[@]}"; do
	"case_$c"
done
finish

#!/bin/bash
# tests/domain.sh - -D/--domain: the MX hosts of a domain, every address
# checked at once. A local DNS server (dnsmasq, tests/domain/packages) is
# started on port 53 of a loopback address of its own with the zone below;
# the plugin is pointed to it through a resolv.conf bind-mounted on
# /etc/resolv.conf in a mount namespace of its own (unshare -m), so nothing
# else on the machine sees it. Needs root; skipped (77) without dnsmasq.
#
# The zone (dom.test and the others are under .test, answered locally
# only: a name not listed is NXDOMAIN):
#   dom.test      MX 10 mx1 (127.0.0.1, clean), 20 mx2 (127.0.0.2, ASA),
#                 30 mx3 (127.0.0.3, silent), 30 mx4 (127.0.0.4, silent)
#   nomx.test     no MX; A 127.0.0.1 (clean): RFC 5321 5.1 fallback
#   nullmx.test   MX 0 . (RFC 7505)
#   empty.test    a TXT record only: no MX, no address
#   one.test      MX 10 mx1.dom.test: one target, the single-host output
#   unusable.test MX 10 . , MX 20 bad!name.test, MX 30 <63 octets 0x01>.test
#                 (raw records): MX records, none usable
#   many.test     MX N mxN.many.test for N = 1..20, no address: more MX
#                 hosts than the plugin takes (MX_HOSTS_MAX, plugins/mx.h)
#   big.test      150 MX records with long names, no address: an answer
#                 of about 10 KB, over TCP (the resolver's fallback)
#   mixed.test    MX 10 mx1.dom.test, MX 20 . (raw): one usable, one not
#
#   tests/domain.sh [CASE...]     (all cases when none is named)

# shellcheck source=tests/lib.sh
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"

: "${EMU:=$top_builddir/tools/smtp-inspect-emu}"
: "${DNSMASQ:=$(command -v dnsmasq || echo /usr/sbin/dnsmasq)}"
require_built "$PLUGIN" "$PEER" "$EMU"

if [ "$(id -u)" -ne 0 ] || [ ! -x "$DNSMASQ" ] ||
	! unshare -m sh -c 'mount --bind /etc/resolv.conf /etc/resolv.conf' 2>/dev/null; then
	echo "SKIP: needs root, unshare -m and dnsmasq (tests/domain/packages)"
	exit 77
fi

# The records of many.test and big.test, as dnsmasq options.
zone_many() {
	local n
	for ((n = 1; n <= 20; n++)); do
		echo "--mx-host=many.test,mx$n.many.test,$n"
	done
	for ((n = 1; n <= 150; n++)); do
		echo "--mx-host=big.test,mx$n.a-long-host-name-to-make-the-dns-answer-big.big.test,$n"
	done
}

# A loopback address for the DNS server: the first on which port 53 is free.
dns_start() {
	local a pid i
	local more
	mapfile -t more < <(zone_many)
	for a in 127.53.0.1 127.53.0.2 127.53.0.3 127.53.0.4; do
		"$DNSMASQ" --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts \
			--listen-address="$a" --bind-interfaces --port=53 --pid-file \
			--user=root --group=root --local=/test/ --log-facility=- \
			--mx-host=dom.test,mx1.dom.test,10 --mx-host=dom.test,mx2.dom.test,20 \
			--mx-host=dom.test,mx3.dom.test,30 --mx-host=dom.test,mx4.dom.test,30 \
			--host-record=mx1.dom.test,127.0.0.1 --host-record=mx2.dom.test,127.0.0.2 \
			--host-record=mx3.dom.test,127.0.0.3 --host-record=mx4.dom.test,127.0.0.4 \
			--host-record=nomx.test,127.0.0.1 --dns-rr=nullmx.test,15,000000 \
			--txt-record=empty.test,nothing --mx-host=one.test,mx1.dom.test,10 \
			--dns-rr=unusable.test,15,000a00 \
			--dns-rr=unusable.test,15,001408626164216e616d65047465737400 \
			--dns-rr=unusable.test,15,001e3f"$(printf '01%.0s' {1..63})"047465737400 \
			--mx-host=mixed.test,mx1.dom.test,10 --dns-rr=mixed.test,15,001400 \
			"${more[@]}" \
			2>"$WORK/dns.err" &
		pid=$!
		for ((i = 0; i < 40; i++)); do
			if ! kill -0 "$pid" 2>/dev/null; then
				break
			fi
			if grep -q 'started' "$WORK/dns.err" 2>/dev/null; then
				BG_PIDS+=("$pid")
				printf 'nameserver %s\noptions attempts:1\n' "$a" >"$WORK/resolv.conf"
				return 0
			fi
			sleep 0.05
		done
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	echo "the DNS server did not start: $(head -c 300 "$WORK/dns.err")" >&2
	exit 99
}

# emu_on ADDR PORT PROFILE|--server ADDR:PORT: a postfix persona behind
# PROFILE (or a transparent proxy to a server) on ADDR:PORT.
emu_on() {
	local addr=$1 port=$2 pf=$CASE_DIR/emu-$1.port pid
	local mode=(--persona postfix --profile "$3")
	[ "$3" = --server ] && mode=(--server "$4")
	"$EMU" --listen "$addr:$port" "${mode[@]}" --port-file "$pf" \
		--max-seconds "$PEER_SECONDS" --quiet 2>"$CASE_DIR/emu-$addr.err" &
	pid=$!
	BG_PIDS+=("$pid")
	wait_port_file "$pf" "$pid" && return 0
	fail "the emulator on $addr:$port did not start: $(head -c 300 "$CASE_DIR/emu-$addr.err")"
	return 1
}

# check_domain BOUND ARGS...: the plugin with the test's resolv.conf.
check_domain() {
	local bound=$1
	shift
	printf '#!/bin/sh\nmount --bind "%s" /etc/resolv.conf && exec "$@"\n' "$WORK/resolv.conf" >"$CASE_DIR/wrap"
	chmod +x "$CASE_DIR/wrap"
	PLUGIN_PREFIX="unshare -m $CASE_DIR/wrap $PLUGIN_PREFIX" \
		run_plugin "$bound" -F "$FQDN" "$@"
}

# Four MX hosts: clean, ASA, two silent ones (a transparent proxy to a
# peer that says nothing). All at once: the two silent hosts cost the
# timeout once, not twice, and the others are not delayed.
case_four_mx() {
	free_port
	peer_start silent --listen 127.0.0.9 --connections 2
	emu_on 127.0.0.1 "$PORT" none
	emu_on 127.0.0.2 "$PORT" asa
	emu_on 127.0.0.3 "$PORT" --server "127.0.0.9:$PEER_PORT"
	emu_on 127.0.0.4 "$PORT" --server "127.0.0.9:$PEER_PORT"
	check_domain 6 -D dom.test -p "$PORT" -t 3
	expect_rc 2
	# the count and the worst target in the status line; each MX host's
	# own line in the long output
	expect_first '^SMTP FIXUP CRITICAL - 1 of 4 MX hosts behind SMTP inspection; worst: .*on the path to mx2\.dom\.test:[0-9]+: .*masked'
	expect_output '^== MX host mx3\.dom\.test \(127\.0\.0\.3\): CRITICAL - no answer from mx3\.dom\.test:[0-9]+ \(127\.0\.0\.3\) within 3 s, waiting for the greeting'
	expect_output '^== MX host mx4\.dom\.test \(127\.0\.0\.4\): CRITICAL - no answer from mx4\.dom\.test'
	expect_output '^== MX host mx1\.dom\.test \(127\.0\.0\.1\): OK - '
	expect_perf mx1.dom.test_masked_extensions 0
	expect_perf mx1.dom.test_extensions 10
	expect_perf mx2.dom.test_masked_extensions 4
	expect_perf mx2.dom.test_banner_masked 1
	expect_perf mx3.dom.test_extensions U
	expect_perf masked_extensions 4
	expect_perf targets 4
	expect_perf_range mx1.dom.test_time 0 1
	expect_output '^== MX host mx1\.dom\.test \(127\.0\.0\.1\): OK - '
	expect_output '^== MX host mx2\.dom\.test \(127\.0\.0\.2\): CRITICAL - '
	expect_output '^== MX host mx3\.dom\.test \(127\.0\.0\.3\): CRITICAL - '
	# about the timeout, never the sum (6 s)
	expect_elapsed_min 2900
	expect_elapsed_max 4000
}

case_no_mx() {
	free_port
	emu_on 127.0.0.1 "$PORT" none
	check_domain 6 -D nomx.test -p "$PORT" -t 3
	expect_rc 0
	expect_first '^SMTP FIXUP OK - nomx\.test:[0-9]+ \(127\.0\.0\.1\): no SMTP inspection seen, 10 ESMTP extensions, .*; nomx\.test has no MX record: its own address is checked \(RFC 5321 5\.1\)$'
	expect_perfdata_wellformed
}

case_one_mx() {
	free_port
	emu_on 127.0.0.1 "$PORT" asa
	check_domain 6 -D one.test. -p "$PORT" -t 3
	expect_rc 2
	expect_first '^SMTP FIXUP CRITICAL - 4 of 10 ESMTP extensions masked'
	expect_perfdata_wellformed
	expect_perf masked_extensions 4
}

case_nxdomain() {
	check_domain 6 -D nx.test -t 3
	expect_rc 2
	expect_first '^SMTP FIXUP CRITICAL - nx\.test has no mail server: the domain does not exist \(NXDOMAIN\)$'
}

case_null_mx() {
	check_domain 6 -D nullmx.test -t 3
	expect_rc 2
	expect_first '^SMTP FIXUP CRITICAL - nullmx\.test has no mail server: its null MX record says it accepts no mail \(RFC 7505\)$'
}

case_no_mx_no_address() {
	check_domain 6 -D empty.test -t 3
	expect_rc 2
	expect_first '^SMTP FIXUP CRITICAL - empty\.test has no mail server: no MX record and no address$'
}

# MX records exist but none is usable: not "no MX record", and the
# domain's own address is not checked instead (RFC 5321 5.1).
case_unusable_mx() {
	case_begin unusable-mx
	check_domain 6 -D unusable.test -t 3
	expect_rc 2
	expect_first '^SMTP FIXUP CRITICAL - unusable\.test has no mail server: none of its MX records names a usable host \('
	expect_first_not 'no MX record|own address|cannot look up'
	case_end
}

# 20 MX hosts: the 16 most preferred are taken, in order (the note
# that lists them is cut after about eight).
case_many_mx() {
	case_begin many-mx
	check_domain 6 -D many.test -t 3
	expect_rc 2
	expect_first '^SMTP FIXUP CRITICAL - many\.test .*16 MX hosts'
	expect_output 'MX host mx1\.many\.test has no address'
	expect_output '4 more MX hosts not checked \(at most 16 are\): mx17\.many\.test, mx18\.many\.test, mx19\.many\.test, mx20\.many\.test'
	expect_output_not 'MX host mx17\.many\.test has no address'
	[ "${#FIRST}" -le 200 ] || fail "the status line is over 200 characters"
	case_end
}

# An answer of about 10 KB: read over TCP, whole.
case_big_answer() {
	case_begin big-answer
	check_domain 6 -D big.test -t 3
	expect_rc 2
	expect_first '^SMTP FIXUP CRITICAL - big\.test .*16 MX hosts'
	expect_output 'MX host mx1\.a-long-host-name-to-make-the-dns-answer-big\.big\.test has no address'
	case_end
}

# One usable MX host and one record naming the root: the usable one is
# checked, and the note says which record was skipped and why.
case_mixed_mx() {
	free_port
	emu_on 127.0.0.1 "$PORT" none || return
	check_domain 6 -D mixed.test -p "$PORT" -t 3
	expect_rc 0
	expect_first '^SMTP FIXUP OK - '
	expect_output '1 MX record skipped: 20 \. \(the root'
}

# A --reference host that does not resolve: UNKNOWN, the resolver's
# words, and the checked path is still reported.
case_reference_unresolved() {
	free_port
	emu_on 127.0.0.1 "$PORT" none || return
	check_domain 6 -H 127.0.0.1 -p "$PORT" -t 3 --reference="nosuch.test:$PORT"
	expect_rc 3
	expect_first '^SMTP FIXUP UNKNOWN - no comparison with the reference path: cannot resolve nosuch\.test: '
}

case_domain_and_host() {
	run_plugin 3 -D dom.test -H 127.0.0.1
	expect_rc 3
	expect_first '^SMTP FIXUP UNKNOWN - -H \(one host\) and -D \(a domain.s MX hosts\) exclude each other$'
}

dns_start
run_suite "$@"
finish

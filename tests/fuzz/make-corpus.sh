#!/bin/bash
# tests/fuzz/make-corpus.sh - write the seed corpus of the fuzz targets.
#
#   tests/fuzz/make-corpus.sh OUTDIR [PEERS_DIR]
#
# Writes OUTDIR/reply, OUTDIR/ehlo and OUTDIR/verdict (emptied first):
#  - from every scripted peer (PEERS_DIR, default tests/peers/*.txt): what
#    the server side sends ("send", "sendline", "drip", "repeat"; TEXT with
#    the escapes \r \n \t \\ \xNN), cut into the greeting, the reply to EHLO
#    and the reply to HELO at the "expect EHLO" / "expect HELO" lines;
#  - seeds of its own for the edges: limits exactly and one past, three-
#    octet lines, bare LF, NUL, bad codes, masks, X-extensions, known
#    banners, octets that need escaping.
# Input formats (see the comment at the top of each target):
#   reply    4-octet header (chunking, limits), then the stream
#   ehlo     the stream
#   verdict  greeting NUL ehlo NUL helo NUL required-keywords
# A "repeat" is cut at REPEAT_BUDGET octets: enough to pass every limit of
# one reply (SF_REPLY_BYTES_MAX = 65536) without bloating the corpus.
#
# Written with bash builtins only (no process per line or per seed): it
# runs in every "make check".
set -euo pipefail
export LC_ALL=C # lengths in octets

REPEAT_BUDGET=70000

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	echo "usage: $0 OUTDIR [PEERS_DIR]" >&2
	exit 2
fi
out=$1
here=${0%/*}
[ "$here" != "$0" ] || here=.
peers=${2:-$here/../peers}

for t in reply ehlo verdict; do
	mkdir -p "$out/$t"
	rm -f "$out/$t"/peer-* "$out/$t"/seed-*
done

# Headers of the reply target: default limits with chunks of up to 8
# octets; small limits (line_max 80, lines_max 11, reply_max 11 * 64) with
# chunks of up to 32.
HDR_DEFAULT='\x03\x5a\x00\x00'
HDR_SMALL='\x05\x77\x50\xba'

# decode TEXT: the script escapes (\r \n \t \\ \xNN) as octets on stdout.
# printf %b knows these (and a few more that scripts do not use).
decode() {
	printf '%b' "$1"
}

# times TEXT N: TEXT (escaped) N times, in the variable REPEATED.
times() {
	local text=$1 n=$2
	REPEATED=
	while [ "$n" -gt 0 ]; do
		if [ $((n & 1)) -eq 1 ]; then
			REPEATED+=$text
		fi
		text+=$text
		n=$((n >> 1))
	done
}

# repeat_text N TEXT: TEXT N times, cut to about REPEAT_BUDGET octets, in
# REPEATED (still escaped).
repeat_text() {
	local n=$1 text=$2 one
	printf -v one '%b' "$text"
	[ ${#one} -gt 0 ] || one=x # a NUL: a bash string cannot hold it
	if [ $((n * ${#one})) -gt "$REPEAT_BUDGET" ]; then
		n=$((REPEAT_BUDGET / ${#one} + 1))
	fi
	times "$text" "$n"
}

# emit TEXT: decoded, appended to every output of the current section.
emit() {
	decode "$1" >>"$o_reply"
	decode "$1" >>"$o_small"
	if [ "$section" -le 2 ]; then
		decode "$1" >>"$o_verdict"
		decode "$1" >>"$o_required"
	fi
	if [ "$section" -eq 1 ]; then
		decode "$1" >>"$o_ehlo"
	fi
}

# go_to N: the following octets answer command N (0 greeting, 1 EHLO,
# 2 HELO, 3 anything later); the verdict seeds get a NUL per section passed.
go_to() {
	while [ "$section" -lt "$1" ]; do
		if [ "$section" -lt 2 ]; then
			printf '\0' >>"$o_verdict"
			printf '\0' >>"$o_required"
		fi
		section=$((section + 1))
	done
}

# The seeds of one peer script: the server's octets, cut at the commands.
from_peer() {
	local script=$1 name line op rest num section=0
	name=peer-${script##*/}
	name=${name%.txt}
	o_reply=$out/reply/$name
	o_small=$out/reply/$name-small
	o_ehlo=$out/ehlo/$name # made by the first octet of an EHLO reply
	o_verdict=$out/verdict/$name
	o_required=$out/verdict/$name-required
	decode "$HDR_DEFAULT" >"$o_reply"
	decode "$HDR_SMALL" >"$o_small"
	: >"$o_verdict"
	: >"$o_required"
	while IFS= read -r line || [ -n "$line" ]; do
		op=${line%% *}
		[ "$op" = "$line" ] && rest= || rest=${line#* }
		case $op in
		send) emit "$rest" ;;
		sendline) emit "$rest\\r\\n" ;;
		drip) emit "${rest#* }" ;;
		repeat)
			num=${rest%% *}
			[[ $num =~ ^[0-9]{1,9}$ ]] || continue
			repeat_text "$((10#$num))" "${rest#* }"
			emit "$REPEATED"
			;;
		expect | recv)
			case ${rest^^} in
			EHLO*) go_to 1 ;;
			HELO*) go_to 2 ;;
			*) if [ "$section" -eq 0 ]; then go_to 1; else go_to 3; fi ;;
			esac
			;;
		esac
	done <"$script"
	go_to 3
	printf 'STARTTLS,8bitmime,,starttls\nCHUNKING,X-EXPS' >>"$o_required"
}

npeers=0
if [ -d "$peers" ]; then
	for script in "$peers"/*.txt; do
		[ -f "$script" ] || continue
		from_peer "$script"
		npeers=$((npeers + 1))
	done
fi

# ---- seeds of our own -----------------------------------------------------

# seed TARGET NAME TEXT...: the decoded TEXTs, concatenated, as one seed.
seed() {
	local target=$1 name=$2 text
	shift 2
	for text in "$@"; do
		decode "$text"
	done >"$out/$target/seed-$name"
}

# run CHAR N: CHAR N times, in RUN.
run() {
	printf -v RUN '%*s' "$2" ''
	RUN=${RUN// /$1}
}

# the reply target: default limits unless the header says otherwise
D=$HDR_DEFAULT
seed reply greeting "$D" '220 mail.example.org ESMTP\r\n'
seed reply three-octets "$D" '250\r\n' '250-\r\n250 \r\n' '250\n'
seed reply bare-lf "$D" '220-a\n220 b\n250 c\n'
seed reply bare-cr "$D" '220 a\rb\r\n'
seed reply cr-at-end "$D" '220 a\r'
seed reply nul "$D" '220 a\x00b\r\n'
seed reply bad-code "$D" '600 x\r\n' '199 x\r\n'
seed reply short "$D" '2\r\n25\n'
seed reply mismatch "$D" '250-a\r\n251 b\r\n'
seed reply separator "$D" '250x\r\n'
seed reply partial "$D" '250-a\r\n250-b'
seed reply pipelined "$D" '250 a\r\n250 b\r\n221 c\r\n'
seed reply chunk-bytewise '\x00\x01\x00\x00' '220-a\r\n220 b\r\n'
seed reply empty-lines "$D" '\r\n\n'
# line limit (SF_REPLY_LINE_MAX 1000): exactly, then one past
run x 996
seed reply line-1000 "$D" "250 $RUN" '\r\n'
seed reply line-1001 "$D" "250 ${RUN}x" '\r\n'
seed reply line-1000-cr "$D" "250 $RUN" '\r\r\n'
# lines per reply (SF_REPLY_LINES_MAX 256): exactly, then one past
times '250-x\r\n' 255
seed reply lines-256 "$D" "$REPEATED" '250 x\r\n'
seed reply lines-257 "$D" "$REPEATED" '250-x\r\n250 x\r\n'
# octets per reply (SF_REPLY_BYTES_MAX 65536): 65 lines of 1002 octets
# (line ends included) and a last one of 406, then of 407
run x 996
times "250-$RUN\\r\\n" 65
seed reply reply-65536 "$D" "$REPEATED" "250 ${RUN:0:400}" '\r\n'
seed reply reply-65537 "$D" "$REPEATED" "250 ${RUN:0:401}" '\r\n'
# small limits in the header: line_max 8, lines_max 3, reply_max 64
S='\x02\x10\x08\x12'
seed reply small-exact "$S" '250-abcd\r\n250-efgh\r\n250 ijkl\r\n'
seed reply small-long "$S" '250-abcde\r\n'
seed reply small-many "$S" '250-a\r\n250-b\r\n250-c\r\n250 d\r\n'
seed reply small-cr-at-limit "$S" '250 abcd\r\n250 abcd\r\r\n'
seed reply small-big "$S" '250-abcd\r\n250-abcd\r\n250 abcdefgh\r\n'

# the ehlo target
seed ehlo asa '250-mail.example.org\r\n250-PIPELINING\r\n250-XXXXXXXA\r\n250-8BITMIME\r\n250 XXXXXXXB\r\n'
seed ehlo asa-greeting '250-XXXXXXXXXXXXXXXXXXXA\r\n250-SIZE 1000\r\n250 XI\r\n'
seed ehlo x-extensions '250-relay\r\n250-XCLIENT NAME ADDR\r\n250-XFORWARD NAME\r\n250-XEXCH50\r\n250-X-EXPS GSSAPI\r\n250-X-LINK2STATE\r\n250 XRDST\r\n'
seed ehlo lower-case '250-mx\r\n250-8bitmime\r\n250-starttls\r\n250 Size 100\r\n'
seed ehlo blanks '250- \t mx \t hello\r\n250-  SIZE \t  1000  \r\n250-\t\r\n250 AUTH=LOGIN PLAIN\r\n'
seed ehlo three-octets '250-\r\n250\r\n'
seed ehlo masks '250-mx\r\n250-X\r\n250-XA\r\n250-XXXXXXXa\r\n250-XXXXXXX[\r\n250 XXXXXXX@\r\n'
seed ehlo noop '250 2.0.0 Ok\r\n'
seed ehlo refused '500 5.5.1 Command unrecognized: "XXXX probe.example.net"\r\n'
run K 64
seed ehlo keyword-64 '250-mx\r\n250-' "$RUN" '\r\n250 ' "${RUN}K" '\r\n'
seed ehlo keyword-64-invalid '250-mx\r\n250-' "${RUN:1}" '_\r\n250 A_B\r\n'
seed ehlo high-octets '250-mx\r\n250-\xc3\x9fTARTTLS\r\n250 \xffSIZE\r\n'

# the verdict target: greeting NUL ehlo NUL helo NUL required NUL starttls
# NUL tls-error NUL ehlo-in-tls NUL tls-ignore NUL probe... (fuzz_verdict.c)
Z='\x00'
seed verdict clean '220 mx ESMTP Postfix\r\n' "$Z" '250-mx\r\n250-STARTTLS\r\n250 CHUNKING\r\n' "$Z" "$Z" 'STARTTLS'
seed verdict asa '220 ****************\r\n' "$Z" '250-mx\r\n250-XXXXXXXA\r\n250-BINARYMIME\r\n250 XXXXXXXB\r\n' "$Z" "$Z" 'STARTTLS,CHUNKING,BINARYMIME'
seed verdict pix6 '220 **2****0***0*2\r\n' "$Z" '500 5.5.1 Command unrecognized: "XXXX probe"\r\n' "$Z" '250 mx Hello probe\r\n' "$Z" 'STARTTLS'
seed verdict pix-noop '220 ******20**\r\n' "$Z" '250 2.0.0 Ok\r\n' "$Z" '250 mx\r\n'
seed verdict pix4 '220 SMTP/cmap ready____\r\n' "$Z" '500 XXXX\r\n' "$Z" '501 no\r\n'
seed verdict inconsistent '220 mx ESMTP\r\n' "$Z" '250-mx\r\n250-BINARYMIME\r\n250 8BITMIME\r\n'
seed verdict decorated '220 *** ACME mail 2020 ***\r\n' "$Z" '250-mx\r\n250 XCLIENT NAME\r\n'
seed verdict multiline-masked '220-*****\r\n220 **2**\r\n' "$Z" '250 mx\r\n'
seed verdict greeting-only '220 mx\r\n'
seed verdict no-greeting "$Z" '250 mx\r\n'
run K 80
seed verdict required-only '220 mx\r\n' "$Z" '250-mx\r\n250 SIZE\r\n' "$Z" "$Z" 'SIZE,size,,STARTTLS,X_Y,' "$RUN"
seed verdict checkpoint '220 CheckPoint FireWall-1 secure ESMTP server\r\n' "$Z" '250 mx\r\n'
seed verdict sonicwall '220 mx.example.com ESMTP SonicWALL (8.3.1)\r\n' "$Z" '250-mx\r\n250 SIZE\r\n'
seed verdict barracuda '220 mx ESMTP (0123456789abcdef0123456789abcdef)\r\n' "$Z" '250-mx\r\n250 SIZE\r\n'
seed verdict fsecure '220 mx F-Secure/fsigk_smtp/521/mx\r\n' "$Z" '250 mx\r\n'
seed verdict watchguard '220 SMTP service ready\r\n' "$Z" '421 bye\r\n'
seed verdict tls-stripped '220 mx\r\n' "$Z" '250-mx\r\n250-SIZE\r\n250 8BITMIME\r\n' "$Z" "$Z" 'AUTH,SMTPUTF8' "$Z" '220 2.0.0 Ready\r\n' "$Z" "$Z" '250-mx\r\n250-SIZE\r\n250-8BITMIME\r\n250-AUTH PLAIN\r\n250-XXXXXXXA\r\n250 CHUNKING\r\n' "$Z" 'STARTTLS,auth'
seed verdict tls-same '220 mx\r\n' "$Z" '250-mx\r\n250-STARTTLS\r\n250 SIZE\r\n' "$Z" "$Z" "$Z" '220 go ahead\r\n' "$Z" "$Z" '250-mx\r\n250 SIZE\r\n'
seed verdict starttls-refused-asa '220 ****\r\n' "$Z" '250-mx\r\n250 XXXXXXXA\r\n' "$Z" "$Z" "$Z" '500 5.5.1 Command unrecognized: "XXXXXXXX"\r\n'
seed verdict starttls-missing '220 mx\r\n' "$Z" '250-mx\r\n250 SIZE\r\n' "$Z" "$Z" "$Z" '502 5.5.1 no\r\n'
seed verdict starttls-no-reply '220 mx\r\n' "$Z" '250-mx\r\n250 STARTTLS\r\n' "$Z" "$Z" "$Z"
seed verdict tls-failed '220 mx\r\n' "$Z" '250-mx\r\n250 STARTTLS\r\n' "$Z" "$Z" "$Z" '220 go ahead\r\n' "$Z" 'handshake failure: wrong version number'
seed verdict probes '220 mx\r\n' "$Z" '250-mx\r\n250 CHUNKING\r\n' "$Z" "$Z" "$Z" "$Z" "$Z" "$Z" "$Z" 'CHUNKING|BDAT 10 LAST\n500 5.5.1 Command unrecognized: "XXXX 10 LAST"\r\n' "$Z" '!VERB\n' "$Z" 'CHUNKING|BDAT 1\n502 5.5.2 no\r\n' "$Z" 'HELP\n214 ok\r\n'
run x 600
seed verdict probe-long '220 mx\r\n' "$Z" '250 mx\r\n' "$Z" "$Z" "$Z" "$Z" "$Z" "$Z" "$Z" "!NOOP $RUN\\n"
seed verdict escapes '220 a|b\\c\x7f\xff\r\n' "$Z" '250-\x01\x02\r\n250 |\r\n'

n_reply=0 n_ehlo=0 n_verdict=0
for f in "$out"/reply/*; do [ -f "$f" ] && n_reply=$((n_reply + 1)); done
for f in "$out"/ehlo/*; do [ -f "$f" ] && n_ehlo=$((n_ehlo + 1)); done
for f in "$out"/verdict/*; do [ -f "$f" ] && n_verdict=$((n_verdict + 1)); done
echo "make-corpus: $npeers peer scripts; $n_reply reply, $n_ehlo ehlo, $n_verdict verdict seeds in $out"

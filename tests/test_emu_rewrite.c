/*
 * test_emu_rewrite.c - the pure parts of smtp-inspect-emu: the rewriting
 * engine (tools/emu/rewrite.c) and the server personas (tools/emu/persona.c).
 *
 * A conversation is a table of steps {side, octets in, octets expected out}.
 * Each one is run fed whole, with every step split at every offset, and one
 * octet at a time; the output must be the same. Every input is handed over
 * in a heap block of exactly its length and every output area is exactly
 * len + EMU_FEED_SLACK long, so a read or write past them shows under ASan
 * or valgrind. Expected bytes are written out by hand from what
 * tools/emu/README says each box does.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "persona.h"
#include "rewrite.h"

#define C EMU_FROM_CLIENT
#define S EMU_FROM_SERVER

/* --- recorded clean conversations (Postfix 3.7, as in tests/peers/) ------ */

#define PF_GREET "220 mail.example.org ESMTP Postfix (Debian/GNU)\r\n"
#define PF_EHLO_FIRST "250-mail.example.org\r\n"
#define PF_EHLO \
	PF_EHLO_FIRST "250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n" \
	"250-ETRN\r\n250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n" \
	"250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n"
#define STARS43 "**********" "**********" "**********" "**********" "***"
#define UNDER28 "__________" "__________" "________"

#define MESSAGE \
	"From: alice@example.net\r\n" \
	"Subject: STARTTLS and BDAT\r\n" \
	"\r\n" \
	"EHLO this is body text, not a command\r\n" \
	"VRFY neither\r\n" \
	"..a dot-stuffed line\r\n" \
	".\r\n"

/* The session as the client and the server sent it, nothing in between. */
#define SESSION_STEPS(greet, ehlo, ehlo_reply, vrfy, xclient)                        \
	{S, PF_GREET, greet, 0},                                                      \
	{C, "EHLO probe.example.net\r\n", ehlo, 0},                                   \
	{S, PF_EHLO, ehlo_reply, 0},                                                  \
	{C, "MAIL FROM:<alice@example.net>\r\n", "MAIL FROM:<alice@example.net>\r\n", 0}, \
	{S, "250 2.1.0 Ok\r\n", "250 2.1.0 Ok\r\n", 0},                               \
	{C, "RCPT TO:<bob@example.org>\r\n", "RCPT TO:<bob@example.org>\r\n", 0},     \
	{S, "250 2.1.5 Ok\r\n", "250 2.1.5 Ok\r\n", 0},                               \
	{C, "DATA\r\n", "DATA\r\n", 0},                                               \
	{S, "354 End data with <CR><LF>.<CR><LF>\r\n",                                \
	    "354 End data with <CR><LF>.<CR><LF>\r\n", 0},                            \
	{C, MESSAGE, MESSAGE, 0},                                                     \
	{S, "250 2.0.0 Ok: queued as 4VJ7Q25Xb1\r\n",                                 \
	    "250 2.0.0 Ok: queued as 4VJ7Q25Xb1\r\n", 0},                             \
	{C, "VRFY bob\r\n", vrfy, 0},                                                 \
	{S, "252 2.0.0 bob\r\n", "252 2.0.0 bob\r\n", 0},                             \
	{C, "XCLIENT NAME=spike.porcupine.org\r\n", xclient, 0},                      \
	{S, "502 5.5.2 Error: command not recognized\r\n",                            \
	    "502 5.5.2 Error: command not recognized\r\n", 0},                        \
	{C, "QUIT\r\n", "QUIT\r\n", 0},                                               \
	{S, "221 2.0.0 Bye\r\n", "221 2.0.0 Bye\r\n", 0}

struct step {
	enum emu_side from;
	const char *in;
	const char *out; /* what the box forwards */
	int drop;        /* 1: the box drops the connection in this step */
};

struct convo {
	const char *name;
	const char *profile;
	const struct step *steps;
	size_t nsteps;
};

#define CONVO(name, profile, steps) {name, profile, steps, sizeof steps / sizeof steps[0]}

static const struct step session_none[] = {
	SESSION_STEPS(PF_GREET, "EHLO probe.example.net\r\n", PF_EHLO, "VRFY bob\r\n",
		      "XCLIENT NAME=spike.porcupine.org\r\n"),
};

static const struct step session_pix4[] = {
	SESSION_STEPS("220 SMTP/cmap ready" UNDER28 "\r\n", "XXXX probe.example.net\r\n",
		      PF_EHLO, "XXXX bob\r\n", "XXXXXXX NAME=spike.porcupine.org\r\n"),
};

static const struct step session_pix6[] = {
	SESSION_STEPS("220 " STARS43 "\r\n", "XXXX probe.example.net\r\n", PF_EHLO,
		      "XXXX bob\r\n", "XXXXXXX NAME=spike.porcupine.org\r\n"),
};

static const struct step session_pix6_noop[] = {
	SESSION_STEPS("220 " STARS43 "\r\n", "NOOP XXXXXXXXXXXXXXXXX\r\n", PF_EHLO,
		      "NOOP XXX\r\n", "NOOP XXXXXXXXXXXXXXXXXXXXXXXXXXX\r\n"),
};

#define ASA_EHLO \
	PF_EHLO_FIRST "250-PIPELINING\r\n250-SIZE 10240000\r\n250-XXXA\r\n" \
	"250-ETRN\r\n250-XXXXXXXB\r\n250-ENHANCEDSTATUSCODES\r\n" \
	"250-8BITMIME\r\n250-DSN\r\n250-XXXXXXXC\r\n250 XXXXXXXD\r\n"

static const struct step session_pix6_whole[] = {
	SESSION_STEPS("220*" STARS43 "\r\n", "XXXX probe.example.net\r\n", PF_EHLO,
		      "XXXX bob\r\n", "XXXXXXX NAME=spike.porcupine.org\r\n"),
};

/* A message with its end marker in one feed passes pix6-eod like pix6. */
static const struct step session_pix6_eod[] = {
	SESSION_STEPS("220 " STARS43 "\r\n", "XXXX probe.example.net\r\n", PF_EHLO,
		      "XXXX bob\r\n", "XXXXXXX NAME=spike.porcupine.org\r\n"),
};

static const struct step session_asa[] = {
	SESSION_STEPS("220 " STARS43 "\r\n", "EHLO probe.example.net\r\n", ASA_EHLO,
		      "VRFY bob\r\n", "XXXXXXX NAME=spike.porcupine.org\r\n"),
};

#define ASA_TLS_EHLO \
	PF_EHLO_FIRST "250-PIPELINING\r\n250-SIZE 10240000\r\n250-XXXA\r\n" \
	"250-ETRN\r\n250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n" \
	"250-8BITMIME\r\n250-DSN\r\n250-XXXXXXXB\r\n250 XXXXXXXC\r\n"

static const struct step session_asa_tls[] = {
	SESSION_STEPS("220 " STARS43 "\r\n", "EHLO probe.example.net\r\n", ASA_TLS_EHLO,
		      "VRFY bob\r\n", "XXXXXXX NAME=spike.porcupine.org\r\n"),
};

static const struct step session_fwsm[] = {
	SESSION_STEPS("220 " STARS43 "\r\n", "EHLO probe.example.net\r\n", PF_EHLO,
		      "VRFY bob\r\n", "XCLIENT NAME=spike.porcupine.org\r\n"),
};

static const struct step session_strip[] = {
	SESSION_STEPS(PF_GREET, "EHLO probe.example.net\r\n",
		      PF_EHLO_FIRST "250-PIPELINING\r\n250-SIZE 10240000\r\n250-ETRN\r\n"
		      "250-STARTTLS\r\n250 8BITMIME\r\n",
		      "VRFY bob\r\n", "XCLIENT NAME=spike.porcupine.org\r\n"),
};

static const struct step session_strip_tls[] = {
	SESSION_STEPS(PF_GREET, "EHLO probe.example.net\r\n",
		      PF_EHLO_FIRST "250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n"
		      "250-ETRN\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n"
		      "250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n",
		      "VRFY bob\r\n", "XCLIENT NAME=spike.porcupine.org\r\n"),
};

/* --- greetings: multi-line, 2s and 0s, short texts, bare LF ------------- */

#define SM_TEXT "relay.example.com ESMTP Sendmail 8.17.1.9/8.17.1.9/Debian-2; " \
	"Mon, 20 May 2024 10:20:00 +0200"
#define SM_KEEP20 "**********************************************************2*******" \
	"20*****202***0*20*00**0200"
#define SM_STARS "**********" "**********" "**********" "**********" "**********" \
	"**********" "**********" "**********" "**********" "**"
#define SM_CMAP "SMTP/cmap ready" "__________" "__________" "__________" \
	"__________" "__________" "__________" "__________" "_______"

#define GREET_IN "220-" SM_TEXT "\r\n" "220-\r\n" "220 ok 2020\r\n"

static const struct step greet_pix6[] = {
	{S, GREET_IN, "220-" SM_KEEP20 "\r\n" "220-\r\n" "220 ***2020\r\n", 0},
	{C, "EHLO a.example\r\n", "XXXX a.example\r\n", 0},
};

static const struct step greet_asa[] = {
	{S, GREET_IN, "220-" SM_STARS "\r\n" "220-\r\n" "220 *******\r\n", 0},
	{C, "EHLO a.example\r\n", "EHLO a.example\r\n", 0},
};

/* The whole line: the first keeps its code, later lines lose it too. */
static const struct step greet_whole[] = {
	{S, GREET_IN, "220*" SM_KEEP20 "\r\n" "****\r\n" "*******2020\r\n", 0},
	{C, "EHLO a.example\r\n", "XXXX a.example\r\n", 0},
	{S, "500 5.5.1 Command unrecognized: \"XXXX a.example\"\r\n",
	    "500 5.5.1 Command unrecognized: \"XXXX a.example\"\r\n", 0},
	{C, "HELO a.example\r\n", "HELO a.example\r\n", 0},
	{S, "220-not a greeting\r\n220 mx\r\n", "220-not a greeting\r\n220 mx\r\n", 0},
};

/* Bare LF, a line of the code alone, a greeting that refuses. */
static const struct step greet_whole_lf[] = {
	{S, "220-mx ESMTP 2.0\n220\n", "220**********2*0\n***\n", 0},
	{C, "helo a\n", "helo a\n", 0},
};

static const struct step greet_whole_554[] = {
	{S, "554 5.7.1 no\r\n", "554*********\r\n", 0},
};

static const struct step greet_pix4[] = {
	{S, GREET_IN, "220-" SM_CMAP "\r\n" "220-\r\n" "220 SMTP/cm\r\n", 0},
};

/* Bare LF line ends, a text-less greeting line. */
static const struct step greet_lf_pix6[] = {
	{S, "220-mx ESMTP 2.0\n220\n", "220-*********2*0\n220\n", 0},
	{C, "ehlo a.example\n", "XXXX a.example\n", 0},
	{S, "500 5.5.1 Command unrecognized: \"XXXX a.example\"\n",
	    "500 5.5.1 Command unrecognized: \"XXXX a.example\"\n", 0},
	{C, "helo a.example\n", "helo a.example\n", 0},
};

/* Only the greeting is masked: a later 220 reply is not. */
static const struct step greet_once_fwsm[] = {
	{S, "220 mx ESMTP\r\n", "220 ********\r\n", 0},
	{C, "HELO a\r\n", "HELO a\r\n", 0},
	{S, "220 mx ESMTP\r\n", "220 mx ESMTP\r\n", 0},
};

/* --- STARTTLS ------------------------------------------------------------ */

/* Octets that look like TLS records: binary, lines that look like SMTP. */
#define TLS_C "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\xa5\x7e" \
	"EHLO x\r\nBDAT 1\r\nSTARTTLS\r\n\xff\xfe"
#define TLS_S "\x16\x03\x03\x00\x7a\x02\x00\x00\x76\x03\x03" \
	"250-STARTTLS\r\n250 CHUNKING\r\n\x80\x81"

#define TLS_STEPS(ehlo_reply)                                                 \
	{S, PF_GREET, PF_GREET, 0},                                           \
	{C, "EHLO probe.example.net\r\n", "EHLO probe.example.net\r\n", 0},   \
	{S, PF_EHLO, ehlo_reply, 0},                                          \
	{C, "STARTTLS\r\n", "STARTTLS\r\n", 0},                               \
	{S, "220 2.0.0 Ready to start TLS\r\n", "220 2.0.0 Ready to start TLS\r\n", 0}, \
	{C, TLS_C, TLS_C, 0},                                                 \
	{S, TLS_S, TLS_S, 0},                                                 \
	{C, TLS_C TLS_C, TLS_C TLS_C, 0}

static const struct step tls_none[] = {TLS_STEPS(PF_EHLO)};

static const struct step tls_strip_tls[] = {
	TLS_STEPS(PF_EHLO_FIRST "250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n"
		  "250-ETRN\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n"
		  "250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n"),
};

static const struct step tls_asa_allow[] = {
	{S, PF_GREET, "220 " STARS43 "\r\n", 0},
	{C, "EHLO probe.example.net\r\n", "EHLO probe.example.net\r\n", 0},
	{S, PF_EHLO, ASA_TLS_EHLO, 0},
	{C, "STARTTLS\r\n", "STARTTLS\r\n", 0},
	{S, "220 2.0.0 Ready to start TLS\r\n", "220 2.0.0 Ready to start TLS\r\n", 0},
	{C, TLS_C, TLS_C, 0},
	{S, TLS_S, TLS_S, 0},
	{C, TLS_C TLS_C, TLS_C TLS_C, 0},
};

/* The ASA X-es STARTTLS: the server refuses it, no TLS, still inspected. */
static const struct step tls_asa[] = {
	{S, PF_GREET, "220 " STARS43 "\r\n", 0},
	{C, "EHLO probe.example.net\r\n", "EHLO probe.example.net\r\n", 0},
	{S, PF_EHLO, ASA_EHLO, 0},
	{C, "STARTTLS\r\n", "XXXXXXXX\r\n", 0},
	{S, "502 5.5.2 Error: command not recognized\r\n",
	    "502 5.5.2 Error: command not recognized\r\n", 0},
	{C, "starttls\r\nBDAT 10 LAST\r\n", "XXXXXXXX\r\nXXXX 10 LAST\r\n", 0},
};

/* A refused STARTTLS (454) starts nothing: the next EHLO is still seen. */
static const struct step tls_refused_strip_tls[] = {
	{S, PF_GREET, PF_GREET, 0},
	{C, "STARTTLS\r\n", "STARTTLS\r\n", 0},
	{S, "454 4.7.0 TLS not available\r\n", "454 4.7.0 TLS not available\r\n", 0},
	{C, "EHLO a\r\n", "EHLO a\r\n", 0},
	{S, "250-mx\r\n250-STARTTLS\r\n250 DSN\r\n", "250-mx\r\n250 DSN\r\n", 0},
};

/* --- pipelining (RFC 2920) ----------------------------------------------- */

#define PIPE_CMDS "EHLO a.example\r\nNOOP\r\nEHLO b.example\r\nDATA\r\n"
#define PIPE_REPLIES \
	"250-mx.example\r\n250-STARTTLS\r\n250-SIZE 1000\r\n250 CHUNKING\r\n" \
	"250-2.0.0 Ok\r\n250 CHUNKING\r\n" \
	"250-mx.example\r\n250-VRFY\r\n250 STARTTLS\r\n" \
	"354 go ahead\r\n"
#define PIPE_MSG "Subject: x\r\n\r\nSTARTTLS\r\n.\r\n"

static const struct step pipe_asa[] = {
	{S, "220 mx\r\n", "220 **\r\n", 0},
	{C, PIPE_CMDS, PIPE_CMDS, 0},
	{S, PIPE_REPLIES,
	    "250-mx.example\r\n250-XXXXXXXA\r\n250-SIZE 1000\r\n250 XXXXXXXB\r\n"
	    "250-2.0.0 Ok\r\n250 CHUNKING\r\n"
	    "250-mx.example\r\n250-XXXA\r\n250 XXXXXXXB\r\n"
	    "354 go ahead\r\n", 0},
	{C, PIPE_MSG, PIPE_MSG, 0},
	{S, "250 queued\r\n", "250 queued\r\n", 0},
	{C, "STARTTLS\r\n", "XXXXXXXX\r\n", 0},
};

static const struct step pipe_strip[] = {
	{S, "220 mx\r\n", "220 mx\r\n", 0},
	{C, PIPE_CMDS, PIPE_CMDS, 0},
	{S, PIPE_REPLIES,
	    "250-mx.example\r\n250-STARTTLS\r\n250 SIZE 1000\r\n"
	    "250-2.0.0 Ok\r\n250 CHUNKING\r\n"
	    "250-mx.example\r\n250 STARTTLS\r\n"
	    "354 go ahead\r\n", 0},
	{C, PIPE_MSG, PIPE_MSG, 0},
	{S, "250 queued\r\n", "250 queued\r\n", 0},
};

/* Commands sent before the greeting came wait behind it. */
static const struct step early_talker_asa[] = {
	{C, "EHLO a\r\nQUIT\r\n", "EHLO a\r\nQUIT\r\n", 0},
	{S, "220 mx\r\n250-mx\r\n250 STARTTLS\r\n221 bye\r\n",
	    "220 **\r\n250-mx\r\n250 XXXXXXXA\r\n221 bye\r\n", 0},
};

/* --- EHLO keywords: case, parameters, lookalikes, letters -------------- */

static const struct step keywords_asa[] = {
	{S, "220 x\r\n", "220 *\r\n", 0},
	{C, "ehlo a\r\n", "ehlo a\r\n", 0},
	{S, "250-mx Hello\r\n250-starttls\r\n250-8bitmime\r\n250-AUTH PLAIN LOGIN\r\n"
	    "250-AUTH\r\n250-AUTH=LOGIN\r\n250-XEXCH50\r\n250-X-EXPS GSSAPI NTLM\r\n"
	    "250-SIZE\r\n250-SIZEX 10\r\n250-\r\n250 OK\r\n",
	    "250-mx Hello\r\n250-XXXXXXXA\r\n250-8bitmime\r\n250-AUTH PLAIN LOGIN\r\n"
	    "250-XXXB\r\n250-XXXXXXXXXC\r\n250-XXXXXXD\r\n250-XXXXXXXXXXXXXXXXXE\r\n"
	    "250-SIZE\r\n250-XXXXXXXF\r\n250-\r\n250 XG\r\n", 0},
	/* a second EHLO reply counts from A again */
	{C, "EHLO a\r\n", "EHLO a\r\n", 0},
	{S, "250-mx\r\n250 HELP\r\n", "250-mx\r\n250 XXXA\r\n", 0},
	/* a refused EHLO is not an EHLO list */
	{C, "EHLO a\r\n", "EHLO a\r\n", 0},
	{S, "550-no\r\n550 STARTTLS\r\n", "550-no\r\n550 STARTTLS\r\n", 0},
};

#define L27 "250-A1\r\n250-A2\r\n250-A3\r\n250-A4\r\n250-A5\r\n250-A6\r\n250-A7\r\n" \
	"250-A8\r\n250-A9\r\n250-B1\r\n250-B2\r\n250-B3\r\n250-B4\r\n250-B5\r\n" \
	"250-B6\r\n250-B7\r\n250-B8\r\n250-B9\r\n250-C1\r\n250-C2\r\n250-C3\r\n" \
	"250-C4\r\n250-C5\r\n250-C6\r\n250-C7\r\n250-C8\r\n250 C9\r\n"
#define M27 "250-XA\r\n250-XB\r\n250-XC\r\n250-XD\r\n250-XE\r\n250-XF\r\n250-XG\r\n" \
	"250-XH\r\n250-XI\r\n250-XJ\r\n250-XK\r\n250-XL\r\n250-XM\r\n250-XN\r\n" \
	"250-XO\r\n250-XP\r\n250-XQ\r\n250-XR\r\n250-XS\r\n250-XT\r\n250-XU\r\n" \
	"250-XV\r\n250-XW\r\n250-XX\r\n250-XY\r\n250-XZ\r\n250 XA\r\n"

static const struct step letters_wrap_asa[] = {
	{S, "220 x\r\n", "220 *\r\n", 0},
	{C, "EHLO a\r\n", "EHLO a\r\n", 0},
	{S, "250-mx\r\n" L27, "250-mx\r\n" M27, 0},
};

/* Stripping everything leaves "250 domain"; a kept last line stays last. */
static const struct step strip_edges[] = {
	{S, "220 x\r\n", "220 x\r\n", 0},
	{C, "EHLO a\r\n", "EHLO a\r\n", 0},
	{S, "250-mx\r\n250-CHUNKING\r\n250 DSN\r\n", "250 mx\r\n", 0},
	{C, "EHLO a\r\n", "EHLO a\r\n", 0},
	{S, "250-mx\r\n250-DSN\r\n250 size 10\r\n", "250-mx\r\n250 size 10\r\n", 0},
	{C, "EHLO a\r\n", "EHLO a\r\n", 0},
	{S, "250 mx\r\n", "250 mx\r\n", 0},
	{C, "EHLO a\n", "EHLO a\n", 0},
	{S, "250-mx\n250-DSN\n250-ETRN\n250 VRFY\n", "250-mx\n250 ETRN\n", 0},
	/* another command's multi-line reply is left alone */
	{C, "HELP\r\n", "HELP\r\n", 0},
	{S, "214-DSN\r\n214 CHUNKING\r\n", "214-DSN\r\n214 CHUNKING\r\n", 0},
};

/* --- refused commands: short, blank, lower case -------------------------- */

static const struct step refuse_pix6_noop[] = {
	{S, "220 x\r\n", "220 *\r\n", 0},
	{C, "XYZ\r\nEHLO\r\nSTARTTLS\r\nehlo a\r\n\r\nhelo a\r\n",
	    "XXX\r\nNOOP\r\nNOOP XXX\r\nNOOP X\r\n\r\nhelo a\r\n", 0},
};

static const struct step refuse_pix6[] = {
	{S, "220 x\r\n", "220 *\r\n", 0},
	{C, " EHLO a\r\nVERB\tx\r\n\r\nQuit\r\n", "XXXXXXX\r\nXXXX\tx\r\n\r\nQuit\r\n", 0},
};

/* --- BDAT chunks are data ------------------------------------------------ */

/* Filled in by the test: a chunk holding a command-like line and a run of
 * octets longer than any line buffer. */
#define CHUNK_LEN 6000U

/* --- messages that start before the 354 arrived -------------------------- */

static const struct step early_body_pix6[] = {
	{S, "220 x\r\n", "220 *\r\n", 0},
	{C, "DATA\r\nSubj", "DATA\r\n", 0},
	{S, "354 go\r\n", "354 go\r\n", 0},
	{C, "ect: x\r\n\r\n.\r\nVRFY a\r\n", "Subject: x\r\n\r\n.\r\nXXXX a\r\n", 0},
};

/* A client that sends its message before the 354 (RFC 2920 3.1 forbids
 * it): the box still sees commands, as a stateful inspector does, and X-es
 * the message lines, the lone "." included. */
static const struct step body_too_early_asa[] = {
	{S, "220 x\r\n", "220 *\r\n", 0},
	{C, "DATA\r\nSubject: x\r\n\r\n.\r\n", "DATA\r\nXXXXXXXX x\r\n\r\nX\r\n", 0},
	{S, "354 go\r\n", "354 go\r\n", 0},
};

static const struct convo convos[] = {
	CONVO("session none", "none", session_none),
	CONVO("session pix4", "pix4", session_pix4),
	CONVO("session pix6", "pix6", session_pix6),
	CONVO("session pix6-noop", "pix6-noop", session_pix6_noop),
	CONVO("session pix6-whole-line", "pix6-whole-line", session_pix6_whole),
	CONVO("session asa", "asa", session_asa),
	CONVO("session asa-allow-tls", "asa-allow-tls", session_asa_tls),
	CONVO("session fwsm", "fwsm", session_fwsm),
	CONVO("session strip", "strip", session_strip),
	CONVO("session strip-tls", "strip-tls", session_strip_tls),
	CONVO("greeting pix6", "pix6", greet_pix6),
	CONVO("greeting asa", "asa", greet_asa),
	CONVO("greeting pix4", "pix4", greet_pix4),
	CONVO("greeting pix6-whole-line", "pix6-whole-line", greet_whole),
	CONVO("greeting LF pix6-whole-line", "pix6-whole-line", greet_whole_lf),
	CONVO("greeting 554 pix6-whole-line", "pix6-whole-line", greet_whole_554),
	CONVO("greeting LF pix6", "pix6", greet_lf_pix6),
	CONVO("greeting once fwsm", "fwsm", greet_once_fwsm),
	CONVO("tls none", "none", tls_none),
	CONVO("tls fwsm", "strip-tls", tls_strip_tls),
	CONVO("tls asa-allow-tls", "asa-allow-tls", tls_asa_allow),
	CONVO("tls asa", "asa", tls_asa),
	CONVO("tls refused strip-tls", "strip-tls", tls_refused_strip_tls),
	CONVO("pipelining asa", "asa", pipe_asa),
	CONVO("pipelining strip", "strip", pipe_strip),
	CONVO("early talker asa", "asa", early_talker_asa),
	CONVO("keywords asa", "asa", keywords_asa),
	CONVO("letters wrap asa", "asa", letters_wrap_asa),
	CONVO("strip edges", "strip", strip_edges),
	CONVO("refused pix6-noop", "pix6-noop", refuse_pix6_noop),
	CONVO("refused pix6", "pix6", refuse_pix6),
	CONVO("early body pix6", "pix6", early_body_pix6),
	CONVO("body too early asa", "asa", body_too_early_asa),
};

/* --- the runner ---------------------------------------------------------- */

/* A growing byte string. */
struct acc {
	char *p;
	size_t len;
};

static void acc_add(struct acc *a, const char *s, size_t n)
{
	char *q = realloc(a->p, a->len + n + 1);

	assert_non_null(q);
	a->p = q;
	if (n > 0)
		memcpy(a->p + a->len, s, n);
	a->len += n;
}

/* Print s[0..n) with C escapes, for failure messages. */
static void show(const char *label, const char *s, size_t n)
{
	print_error("%s (%zu octets): \"", label, n);
	for (size_t i = 0; i < n && i < 2000; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\r')
			print_error("\\r");
		else if (c == '\n')
			print_error("\\n\"\n  \"");
		else if (c < 0x20 || c >= 0x7f)
			print_error("\\x%02x", c);
		else
			print_error("%c", c);
	}
	print_error("\"\n");
}

static void expect_bytes(const char *what, const char *exp, size_t elen, const char *got, size_t glen)
{
	if (elen == glen && (glen == 0 || memcmp(exp, got, glen) == 0))
		return;
	print_error("%s: output differs\n", what);
	show("expected", exp, elen);
	show("got", got, glen);
	fail();
}

/* Feed in[0..len) to c from `from` in pieces of at most `piece` octets,
 * the first piece being `first` octets (0: use piece). Output to *out.
 * Returns 1 if the box dropped the connection. */
static int feed_pieces(struct emu_conn *c, enum emu_side from, const char *in, size_t len,
		       size_t first, size_t piece, struct acc *out)
{
	size_t i = 0;

	while (i < len || (len == 0 && i == 0)) {
		size_t n = (i == 0 && first > 0) ? first : piece;
		char *blk, *o;
		size_t olen = 0;
		enum emu_status st;

		if (n > len - i)
			n = len - i;
		blk = malloc(n > 0 ? n : 1);
		o = malloc(n + EMU_FEED_SLACK);
		assert_non_null(blk);
		assert_non_null(o);
		memcpy(blk, in + i, n);
		st = emu_conn_feed(c, from, blk, n, o, n + EMU_FEED_SLACK, &olen);
		assert_int_not_equal(st, EMU_ERROR);
		acc_add(out, o, olen);
		free(blk);
		free(o);
		i += n;
		if (st == EMU_DROP)
			return 1;
		if (len == 0)
			break;
	}
	return 0;
}

/* Run a conversation. Step `target` is fed split after `at` octets (0: no
 * split); with bytewise, every step goes one octet at a time. */
static void run_steps(const char *name, const char *profile, const struct step *steps,
		      size_t nsteps, size_t target, size_t at, int bytewise)
{
	const struct emu_profile *p = emu_profile_find(profile);
	struct emu_conn *c;
	char what[160];

	assert_non_null(p);
	c = emu_conn_new(p);
	assert_non_null(c);
	for (size_t s = 0; s < nsteps; s++) {
		size_t len = strlen(steps[s].in);
		struct acc out = {NULL, 0};
		int dropped;

		if (bytewise)
			dropped = feed_pieces(c, steps[s].from, steps[s].in, len, 0, 1, &out);
		else if (s == target && at > 0)
			dropped = feed_pieces(c, steps[s].from, steps[s].in, len, at, len, &out);
		else
			dropped = feed_pieces(c, steps[s].from, steps[s].in, len, 0, len ? len : 1, &out);
		snprintf(what, sizeof what, "%s, step %zu%s (split %zu of step %zu)", name, s,
			 bytewise ? ", byte by byte" : "", at, target);
		expect_bytes(what, steps[s].out, strlen(steps[s].out), out.p, out.len);
		free(out.p);
		if (dropped != steps[s].drop) {
			print_error("%s: dropped %d, expected %d (%s)\n", what, dropped, steps[s].drop,
				    emu_why_text(emu_conn_why(c)));
			fail();
		}
		if (dropped)
			break;
	}
	emu_conn_free(c);
}

/* Whole, split at every offset of every step, byte by byte. */
static void run_all_ways(const char *name, const char *profile, const struct step *steps,
			 size_t nsteps)
{
	run_steps(name, profile, steps, nsteps, 0, 0, 0);
	for (size_t s = 0; s < nsteps; s++) {
		size_t len = strlen(steps[s].in);

		for (size_t at = 1; at < len; at++)
			run_steps(name, profile, steps, nsteps, s, at, 0);
	}
	run_steps(name, profile, steps, nsteps, 0, 0, 1);
}

static void test_conversations(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof convos / sizeof convos[0]; i++)
		run_all_ways(convos[i].name, convos[i].profile, convos[i].steps, convos[i].nsteps);
}

/* --- conversations built at run time: lengths at the limits -------------- */

/* prefix, then n copies of ch, then suffix; free()d by the caller. */
static char *rep(const char *prefix, char ch, size_t n, const char *suffix)
{
	size_t a = strlen(prefix), b = strlen(suffix);
	char *s = malloc(a + n + b + 1);

	assert_non_null(s);
	memcpy(s, prefix, a);
	memset(s + a, ch, n);
	memcpy(s + a + n, suffix, b + 1);
	return s;
}

/* A command line of exactly total octets, line end included. */
static char *command_of(size_t total, const char *eol)
{
	return rep("NOOP ", 'a', total - 5 - strlen(eol), eol);
}

static void test_command_length_asa(void **state)
{
	const char *eols[] = {"\r\n", "\n"};

	(void)state;
	for (size_t e = 0; e < 2; e++) {
		char *ok = command_of(512, eols[e]);
		char *over = command_of(513, eols[e]);
		char *mixed = rep("NOOP\r\n", 'b', 0, over);
		struct step pass[] = {
			{S, "220 x\r\n", "220 *\r\n", 0},
			{C, ok, ok, 0},
			{S, "250 ok\r\n", "250 ok\r\n", 0},
		};
		struct step drop[] = {
			{S, "220 x\r\n", "220 *\r\n", 0},
			{C, mixed, "NOOP\r\n", 1},
		};
		struct step none[] = {
			{S, "220 x\r\n", "220 x\r\n", 0},
			{C, over, over, 0},
		};
		struct step pix6[] = {
			{S, "220 x\r\n", "220 *\r\n", 0},
			{C, over, over, 0},
		};

		assert_int_equal(strlen(ok), 512);
		assert_int_equal(strlen(over), 513);
		run_all_ways("512-octet command, asa", "asa", pass, 3);
		run_all_ways("513-octet command, asa", "asa", drop, 2);
		run_all_ways("513-octet command, asa-allow-tls", "asa-allow-tls", drop, 2);
		run_all_ways("512-octet command, fwsm", "fwsm", pass, 3);
		run_all_ways("513-octet command, fwsm", "fwsm", drop, 2);
		run_all_ways("513-octet command, none", "none", none, 2);
		run_all_ways("513-octet command, pix6", "pix6", pix6, 2);
		free(ok);
		free(over);
		free(mixed);
	}
}

static void test_header_length_asa(void **state)
{
	const char *eols[] = {"\r\n", "\n"};

	(void)state;
	for (size_t e = 0; e < 2; e++) {
		/* "X-Long: " is 8 octets: 990 more make a 998-octet line */
		char *ok = rep("X-Long: ", 'h', 990, eols[e]);
		char *over = rep("X-Long: ", 'h', 991, eols[e]);
		char *body = rep("Subject: x\r\n\r\n", 'b', 5000, "\r\n.\r\n");
		char *ok_msg = rep(ok, 'h', 0, "\r\nbody\r\n.\r\n");
		char *over_msg = rep("Subject: y\r\n", 'h', 0, over);
		struct step pass[] = {
			{S, "220 x\r\n", "220 *\r\n", 0},
			{C, "DATA\r\n", "DATA\r\n", 0},
			{S, "354 go\r\n", "354 go\r\n", 0},
			{C, ok_msg, ok_msg, 0},
			{S, "250 ok\r\n", "250 ok\r\n", 0},
			{C, "DATA\r\n", "DATA\r\n", 0},
			{S, "354 go\r\n", "354 go\r\n", 0},
			{C, body, body, 0}, /* a long body line is no header */
			{S, "250 ok\r\n", "250 ok\r\n", 0},
			{C, "STARTTLS\r\n", "XXXXXXXX\r\n", 0}, /* back to commands */
		};
		struct step drop[] = {
			{S, "220 x\r\n", "220 *\r\n", 0},
			{C, "DATA\r\n", "DATA\r\n", 0},
			{S, "354 go\r\n", "354 go\r\n", 0},
			{C, over_msg, "Subject: y\r\n", 1},
		};
		struct step none[] = {
			{S, "220 x\r\n", "220 x\r\n", 0},
			{C, "DATA\r\n", "DATA\r\n", 0},
			{S, "354 go\r\n", "354 go\r\n", 0},
			{C, over_msg, over_msg, 0},
		};

		assert_int_equal(strlen(ok) - strlen(eols[e]), 998);
		assert_int_equal(strlen(over) - strlen(eols[e]), 999);
		run_all_ways("998-octet header, asa", "asa", pass, 10);
		run_all_ways("999-octet header, asa", "asa", drop, 4);
		run_all_ways("998-octet header, fwsm", "fwsm", pass, 9);
		run_all_ways("999-octet header, fwsm", "fwsm", drop, 4);
		run_all_ways("999-octet header, none", "none", none, 4);
		free(ok);
		free(over);
		free(body);
		free(ok_msg);
		free(over_msg);
	}
}

/* Our own bound, EMU_LINE_MAX, in both directions. */
static void test_line_max(void **state)
{
	char *ok = command_of(EMU_LINE_MAX, "\r\n");
	char *over = command_of(EMU_LINE_MAX + 1, "\r\n");
	char *reply = rep("250 ", 'r', EMU_LINE_MAX, "\r\n");
	struct step pass[] = {
		{S, "220 x\r\n", "220 x\r\n", 0},
		{C, ok, ok, 0},
	};
	struct step drop[] = {
		{S, "220 x\r\n", "220 x\r\n", 0},
		{C, over, "", 1},
	};
	struct step drop_reply[] = {
		{S, reply, "", 1},
	};

	(void)state;
	run_steps("4096-octet command", "none", pass, 2, 0, 0, 0);
	run_steps("4096-octet command split", "none", pass, 2, 1, 4095, 0);
	run_steps("4097-octet command", "none", drop, 2, 0, 0, 0);
	run_steps("4097-octet command split", "none", drop, 2, 1, 4000, 0);
	run_steps("4097-octet command byte by byte", "none", drop, 2, 0, 0, 1);
	run_steps("over-long reply", "none", drop_reply, 1, 0, 0, 0);
	run_steps("over-long reply split", "none", drop_reply, 1, 0, 100, 0);
	free(ok);
	free(over);
	free(reply);
}

/* Feed s whole to c; returns the status, output in a fresh acc. */
static enum emu_status feed_str(struct emu_conn *c, enum emu_side from, const char *s,
				struct acc *out)
{
	size_t len = strlen(s), olen = 0;
	char *o = malloc(len + EMU_FEED_SLACK);
	enum emu_status st;

	assert_non_null(o);
	st = emu_conn_feed(c, from, s, len, o, len + EMU_FEED_SLACK, &olen);
	acc_add(out, o, olen);
	free(o);
	return st;
}

/* After a drop: the reason stays, every later feed is refused, no output. */
static void test_drop_is_final(void **state)
{
	struct emu_conn *c = emu_conn_new(emu_profile_find("asa"));
	char *over = command_of(513, "\r\n");
	struct acc out = {NULL, 0};
	char o[EMU_FEED_SLACK + 16];
	size_t olen = 99;

	(void)state;
	assert_non_null(c);
	assert_int_equal(emu_conn_why(c), EMU_WHY_NONE);
	assert_int_equal(feed_str(c, S, "220 x\r\n", &out), EMU_PASS);
	assert_int_equal(feed_str(c, C, over, &out), EMU_DROP);
	assert_int_equal(emu_conn_why(c), EMU_WHY_COMMAND_TOO_LONG);
	assert_int_equal(emu_conn_room(c), 0);
	assert_int_equal(emu_conn_feed(c, S, "250 ok\r\n", 8, o, sizeof o, &olen), EMU_DROP);
	assert_int_equal(olen, 0);
	assert_int_equal(emu_conn_eof(c, C, o, sizeof o, &olen), EMU_DROP);
	assert_int_equal(olen, 0);
	free(out.p);
	free(over);
	emu_conn_free(c);
}

static void test_why(void **state)
{
	struct emu_conn *c;
	struct acc out = {NULL, 0};
	char *big = rep("Subject: ", 'h', 990, "\r\n");
	char *msg = rep("", 'x', 0, big);

	(void)state;
	c = emu_conn_new(emu_profile_find("asa"));
	assert_non_null(c);
	assert_int_equal(feed_str(c, S, "220 x\r\n", &out), EMU_PASS);
	assert_int_equal(feed_str(c, C, "DATA\r\n", &out), EMU_PASS);
	assert_int_equal(feed_str(c, S, "354 go\r\n", &out), EMU_PASS);
	assert_int_equal(feed_str(c, C, msg, &out), EMU_DROP);
	assert_int_equal(emu_conn_why(c), EMU_WHY_HEADER_TOO_LONG);
	emu_conn_free(c);
	free(out.p);
	free(big);
	free(msg);

	for (int w = EMU_WHY_NONE; w <= EMU_WHY_INTERNAL; w++) {
		const char *t = emu_why_text((enum emu_why)w);

		assert_non_null(t);
		assert_true(strlen(t) > 0);
	}
	assert_int_equal(emu_conn_why(NULL), EMU_WHY_NONE);
}

/* EMU_PENDING_MAX commands may await replies; one more drops. */
static void test_pipeline_full(void **state)
{
	size_t n = EMU_PENDING_MAX + 1U;
	char *in = malloc(n * 6 + 1);
	struct emu_conn *c = emu_conn_new(emu_profile_find("none"));
	struct acc out = {NULL, 0};

	(void)state;
	assert_non_null(in);
	assert_non_null(c);
	for (size_t i = 0; i < n; i++)
		memcpy(in + i * 6, "NOOP\r\n", 6);
	in[n * 6] = '\0';
	assert_int_equal(feed_str(c, S, "220 x\r\n", &out), EMU_PASS);
	out.len = 0;
	assert_int_equal(feed_str(c, C, in, &out), EMU_DROP);
	assert_int_equal(emu_conn_why(c), EMU_WHY_PIPELINE_FULL);
	in[(n - 1) * 6] = '\0';
	expect_bytes("pipeline full", in, (n - 1) * 6, out.p, out.len);
	emu_conn_free(c);
	free(out.p);
	free(in);
	out.p = NULL;
	out.len = 0;

	/* emu_conn_room() counts down with each command, up with each reply */
	c = emu_conn_new(emu_profile_find("none"));
	assert_non_null(c);
	assert_int_equal(emu_conn_room(c), EMU_PENDING_MAX);
	assert_int_equal(feed_str(c, C, "NOOP\r\nNOOP\r\nEHLO a\r\nSTARTTLS\r\nNOO", &out), EMU_PASS);
	assert_int_equal(emu_conn_room(c), EMU_PENDING_MAX - 4U);
	assert_int_equal(feed_str(c, S, "220 x\r\n250 a\r\n250 b\r\n250 mx\r\n", &out), EMU_PASS);
	assert_int_equal(emu_conn_room(c), EMU_PENDING_MAX - 1U);
	assert_int_equal(feed_str(c, S, "220 go\r\n", &out), EMU_PASS);
	assert_int_equal(emu_conn_room(c), SIZE_MAX); /* TLS: nothing is awaited */
	emu_conn_free(c);
	assert_int_equal(emu_conn_room(NULL), 0);
	free(out.p);
	out.p = NULL;
	out.len = 0;

	/* with replies coming back the FIFO never fills */
	c = emu_conn_new(emu_profile_find("asa"));
	assert_non_null(c);
	for (size_t i = 0; i < 3U * EMU_PENDING_MAX; i++) {
		out.len = 0;
		assert_int_equal(feed_str(c, C, "NOOP\r\n", &out), EMU_PASS);
		assert_int_equal(feed_str(c, S, i == 0 ? "220 x\r\n" : "250 ok\r\n", &out), EMU_PASS);
	}
	emu_conn_free(c);
	free(out.p);
}

/* What a direction still holds at its end comes out unchanged. */
static void test_eof(void **state)
{
	struct emu_conn *c = emu_conn_new(emu_profile_find("strip"));
	struct emu_conn *x = emu_conn_new(emu_profile_find("pix6"));
	struct acc out = {NULL, 0};
	char o[EMU_FEED_SLACK];
	size_t olen = 0;

	(void)state;
	assert_non_null(c);
	assert_non_null(x);
	assert_int_equal(feed_str(c, S, "220 x\r\n", &out), EMU_PASS);
	assert_int_equal(feed_str(c, C, "EHLO a\r\nVRFY", &out), EMU_PASS);
	out.len = 0;
	assert_int_equal(feed_str(c, S, "250-mx\r\n250-SIZE 1\r\n250-DSN\r\n250 CHU", &out), EMU_PASS);
	expect_bytes("strip before eof", "250-mx\r\n", 8, out.p, out.len);
	assert_int_equal(emu_conn_eof(c, S, o, sizeof o, &olen), EMU_PASS);
	expect_bytes("strip eof", "250-SIZE 1\r\n250 CHU", 19, o, olen);
	assert_int_equal(emu_conn_eof(c, C, o, sizeof o, &olen), EMU_PASS);
	expect_bytes("client eof", "VRFY", 4, o, olen);
	assert_int_equal(emu_conn_eof(c, C, o, sizeof o, &olen), EMU_PASS);
	assert_int_equal(olen, 0);

	/* an unterminated command is not rewritten: it never became a line */
	assert_int_equal(feed_str(x, C, "EHLO a", &out), EMU_PASS);
	assert_int_equal(emu_conn_eof(x, C, o, sizeof o, &olen), EMU_PASS);
	expect_bytes("pix6 eof", "EHLO a", 6, o, olen);
	assert_int_equal(emu_conn_eof(x, C, o, EMU_FEED_SLACK - 1, &olen), EMU_ERROR);
	emu_conn_free(c);
	emu_conn_free(x);
	free(out.p);
}

/* The calling contract: output room, arguments. */
static void test_contract(void **state)
{
	struct emu_conn *c = emu_conn_new(emu_profile_find("pix6"));
	char o[EMU_FEED_SLACK + 16];
	size_t olen = 77;
	size_t n = 0;

	(void)state;
	assert_non_null(c);
	assert_null(emu_conn_new(NULL));
	emu_conn_free(NULL);
	/* room for len + EMU_FEED_SLACK is required: nothing consumed without it */
	assert_int_equal(emu_conn_feed(c, C, "EHLO a\r\n", 8, o, EMU_FEED_SLACK + 7, &olen), EMU_ERROR);
	assert_int_equal(olen, 0);
	assert_int_equal(emu_conn_feed(c, C, "EHLO a\r\n", 8, o, EMU_FEED_SLACK + 8, &olen), EMU_PASS);
	expect_bytes("after a refused call", "XXXX a\r\n", 8, o, olen);
	assert_int_equal(emu_conn_feed(NULL, C, "x", 1, o, sizeof o, &olen), EMU_ERROR);
	assert_int_equal(emu_conn_feed(c, (enum emu_side)7, "x", 1, o, sizeof o, &olen), EMU_ERROR);
	assert_int_equal(emu_conn_feed(c, C, NULL, 1, o, sizeof o, &olen), EMU_ERROR);
	assert_int_equal(emu_conn_feed(c, C, "x", 1, NULL, sizeof o, &olen), EMU_ERROR);
	assert_int_equal(emu_conn_feed(c, C, "x", 1, o, sizeof o, NULL), EMU_ERROR);
	assert_int_equal(emu_conn_feed(c, C, NULL, 0, o, sizeof o, &olen), EMU_PASS);
	assert_int_equal(olen, 0);
	emu_conn_free(c);

	/* every profile is found by its name and says what it does */
	assert_null(emu_profile_find(NULL));
	assert_null(emu_profile_find("asa2"));
	assert_null(emu_profile_find("ASA"));
	for (const struct emu_profile *p = emu_profiles; p->name != NULL; p++, n++) {
		assert_ptr_equal(emu_profile_find(p->name), p);
		assert_non_null(p->help);
		assert_true(strlen(p->help) > 20);
	}
	assert_int_equal(n, 11);
}

/* BDAT chunks pass raw, whatever they hold; commands resume after them. */
static void test_bdat_chunk(void **state)
{
	char *chunk = rep("xx\r\nNOOP\r\n", 'z', CHUNK_LEN - 10, "");
	char *cmds = rep("MAIL FROM:<a@a>\r\nRCPT TO:<b@b>\r\nBDAT 6000 LAST\r\n", 'x', 0, chunk);
	char *all = rep(cmds, 'x', 0, "EHLO again\r\n");
	struct step steps[] = {
		{S, "220 x\r\n", "220 x\r\n", 0},
		{C, all, all, 0},
		{S, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 Ok: queued\r\n"
		    "250-mx\r\n250-DSN\r\n250 SIZE 10\r\n",
		    "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 Ok: queued\r\n"
		    "250-mx\r\n250 SIZE 10\r\n", 0},
		/* a zero-size chunk has no octets; a bad size starts none */
		{C, "BDAT 0 LAST\r\nBDAT x\r\nBDAT 3 LAT\r\nEHLO b\r\n",
		    "BDAT 0 LAST\r\nBDAT x\r\nBDAT 3 LAT\r\nEHLO b\r\n", 0},
		{S, "250 a\r\n501 b\r\n501 c\r\n250-mx\r\n250 DSN\r\n",
		    "250 a\r\n501 b\r\n501 c\r\n250 mx\r\n", 0},
	};

	(void)state;
	assert_int_equal(strlen(chunk), CHUNK_LEN);
	run_all_ways("bdat strip", "strip", steps, 5);
	free(chunk);
	free(cmds);
	free(all);
}

/* --- MIME file names (the ASA's default policy) ------------------------- */

/* A message whose header or part header names a file of n octets. */
struct fname_case {
	const char *name;
	const char *before; /* message text before the value */
	const char *after;  /* after it, up to and with the line end */
	const char *rest;   /* the rest of the message, "." line included */
	int judged;         /* 1: the ASA rule applies to this value */
};

/* "--b" opens a MIME part's header; the values sit 40-odd octets into
 * their line, so no line comes near 998. */
static const struct fname_case fname_cases[] = {
	{"quoted filename in the message header",
	 "Subject: x\r\nContent-Disposition: attachment; filename=\"", "\"\r\n",
	 "\r\nbody\r\n.\r\n", 1},
	{"unquoted name in the message header, case folded",
	 "content-type: application/octet-stream; NAME=", "\r\n", "\r\n.\r\n", 1},
	{"name on a folded line of a part's Content-Type",
	 "Content-Type: multipart/mixed; boundary=b\r\n\r\npreamble\r\n--b\r\n"
	 "Content-Type: application/pdf;\r\n\tname=\"", "\"; x=y\r\n",
	 "Content-Transfer-Encoding: base64\r\n\r\nQUJD\r\n--b--\r\n.\r\n", 1},
	{"filename in the second part, blanks around =",
	 "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\ntext\r\n--b\n"
	 "Content-Disposition : attachment ; filename = ", " ; size=1\n", "\n--b--\n.\n", 1},
	{"another field of the message header",
	 "X-Attachment: filename=\"", "\"\r\n", "\r\n.\r\n", 0},
	{"another parameter",
	 "Content-Type: multipart/mixed; boundary=\"", "\"\r\n", "\r\n.\r\n", 0},
	{"body text, not a part header",
	 "Subject: x\r\n\r\nContent-Type: text/plain; name=", "\r\n", ".\r\n", 0},
	{"a part's body after its header ended",
	 "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n"
	 "\r\nContent-Disposition: inline; filename=", "\r\n", "--b--\r\n.\r\n", 0},
};

/* The case's message with a value of n octets; free()d by the caller. */
static char *fname_message(const struct fname_case *fc, size_t n, int upto_line)
{
	char *head = rep(fc->before, 'f', n, upto_line ? "" : fc->after);
	char *all = rep(head, 'x', 0, upto_line ? "" : fc->rest);

	free(head);
	return all;
}

/* Only the lines before the one holding the value (it ends at the last
 * LF of before). */
static char *fname_prefix(const struct fname_case *fc)
{
	const char *lf = strrchr(fc->before, '\n');
	size_t n = lf != NULL ? (size_t)(lf - fc->before) + 1U : 0;
	char *p = malloc(n + 1);

	assert_non_null(p);
	memcpy(p, fc->before, n);
	p[n] = '\0';
	return p;
}

static void test_filename(void **state)
{
	const char *profiles[] = {"asa", "asa-allow-tls", "fwsm", "none", "pix6"};

	(void)state;
	for (size_t i = 0; i < sizeof fname_cases / sizeof fname_cases[0]; i++) {
		const struct fname_case *fc = &fname_cases[i];
		char *ok = fname_message(fc, 255, 0);
		char *over = fname_message(fc, 256, 0);
		char *prefix = fname_prefix(fc);

		for (size_t p = 0; p < sizeof profiles / sizeof profiles[0]; p++) {
			int rule = strncmp(profiles[p], "asa", 3) == 0 ||
				   strcmp(profiles[p], "fwsm") == 0;
			const char *banner = strcmp(profiles[p], "none") == 0 ? "220 x\r\n"
									       : "220 *\r\n";
			struct step pass[] = {
				{S, "220 x\r\n", banner, 0},
				{C, "DATA\r\n", "DATA\r\n", 0},
				{S, "354 go\r\n", "354 go\r\n", 0},
				{C, ok, ok, 0},
				{S, "250 ok\r\n", "250 ok\r\n", 0},
				{C, "QUIT\r\n", "QUIT\r\n", 0}, /* a command again */
			};
			struct step drop[] = {
				{S, "220 x\r\n", banner, 0},
				{C, "DATA\r\n", "DATA\r\n", 0},
				{S, "354 go\r\n", "354 go\r\n", 0},
				{C, over, prefix, 1},
			};
			char what[200];

			snprintf(what, sizeof what, "255-octet file name, %s, %s", fc->name, profiles[p]);
			run_all_ways(what, profiles[p], pass, 6);
			snprintf(what, sizeof what, "256-octet file name, %s, %s", fc->name, profiles[p]);
			if (rule && fc->judged) {
				run_all_ways(what, profiles[p], drop, 4);
			} else {
				pass[3].in = over;
				pass[3].out = over;
				run_all_ways(what, profiles[p], pass, 6);
			}
		}
		free(ok);
		free(over);
		free(prefix);
	}
}

/* A part header line longer than the buffer is judged on its first
 * EMU_LINE_MAX octets and passed on; the body's long lines pass. */
static void test_filename_long_line(void **state)
{
	const char *head = "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n";
	/* a long line with the value early: judged, dropped */
	char *v = rep("Content-Type: text/plain; name=", 'f', 256, "; x=");
	char *early = rep(v, 'y', 5000, "\r\n");
	char *early_msg = rep(head, 'x', 0, early);
	/* the value past EMU_LINE_MAX: not seen, passed */
	char *pad = rep("Content-Type: text/plain; x=", 'y', EMU_LINE_MAX, "; name=");
	char *late = rep(pad, 'f', 300, "\r\n\r\nbody\r\n.\r\n");
	char *late_msg = rep(head, 'x', 0, late);
	struct step drop[] = {
		{S, "220 x\r\n", "220 *\r\n", 0},
		{C, "DATA\r\n", "DATA\r\n", 0},
		{S, "354 go\r\n", "354 go\r\n", 0},
		{C, early_msg, head, 1},
	};
	struct step pass[] = {
		{S, "220 x\r\n", "220 *\r\n", 0},
		{C, "DATA\r\n", "DATA\r\n", 0},
		{S, "354 go\r\n", "354 go\r\n", 0},
		{C, late_msg, late_msg, 0},
		{S, "250 ok\r\n", "250 ok\r\n", 0},
		{C, "STARTTLS\r\n", "XXXXXXXX\r\n", 0},
	};

	(void)state;
	run_steps("long part header, early name", "asa", drop, 4, 0, 0, 0);
	run_steps("long part header, early name, bytewise", "asa", drop, 4, 0, 0, 1);
	run_steps("long part header, late name", "asa", pass, 6, 0, 0, 0);
	run_steps("long part header, late name, bytewise", "asa", pass, 6, 0, 0, 1);
	for (size_t at = 1; at < strlen(late_msg); at += 97) {
		run_steps("long part header, early name, split", "asa", drop, 4, 3, at, 0);
		run_steps("long part header, late name, split", "asa", pass, 6, 3, at, 0);
	}
	free(v);
	free(early);
	free(early_msg);
	free(pad);
	free(late);
	free(late_msg);
}

/* --- PIX MailGuard's end-of-data bug (pix6-eod) -------------------------- */

/* Run one message through pix6-eod, split after `at` octets (0: whole)
 * or byte by byte: the "." line passes when the marker (the line end
 * before the ".", the ".", its line end: the last `marker` octets) came in
 * one feed, else it is swallowed and what follows is message text until a
 * whole marker comes. */
static void run_eod(const char *msg, size_t marker, size_t at, int bytewise)
{
	size_t len = strlen(msg);
	int swallowed = bytewise || (at > len - marker && at < len);
	size_t dot = strcmp(msg + len - 2, "\r\n") == 0 ? 3U : 2U; /* ".\r\n" or ".\n" */
	char *cut = rep("", 'x', 0, msg);
	struct step steps[] = {
		{S, "220 x\r\n", "220 *\r\n", 0},
		{C, "DATA\r\n", "DATA\r\n", 0},
		{S, "354 go\r\n", "354 go\r\n", 0},
		{C, msg, msg, 0},
		{S, "250 ok\r\n", "250 ok\r\n", 0},
		{C, "VRFY a\r\n", "XXXX a\r\n", 0}, /* a command: pix6 X-es it */
	};
	struct step hang[] = {
		{S, "220 x\r\n", "220 *\r\n", 0},
		{C, "DATA\r\n", "DATA\r\n", 0},
		{S, "354 go\r\n", "354 go\r\n", 0},
		{C, msg, cut, 0},
		{C, "VRFY a\r\n", "VRFY a\r\n", 0}, /* message text */
		{C, "\r\n.\r\nVRFY b\r\n", "\r\n.\r\nXXXX b\r\n", 0}, /* a whole marker */
		{S, "250 ok\r\n", "250 ok\r\n", 0},
	};

	cut[len - dot] = '\0';
	if (bytewise) /* the last marker too would be split */
		run_steps("eod byte by byte", "pix6-eod", hang, 5, 0, 0, 1);
	else if (swallowed)
		run_steps("eod split marker", "pix6-eod", hang, 7, 3, at, 0);
	else
		run_steps("eod whole marker", "pix6-eod", steps, 6, 3, at, 0);
	free(cut);
}

static void test_eod(void **state)
{
	const char *crlf = "Subject: x\r\n\r\nbody\r\n..stuffed\r\n.x\r\n.\r\n";
	const char *lf = "Subject: x\n\n..\n.\rx\n\n.\n";
	/* the empty message: the "." always comes apart from DATA's CRLF */
	struct step empty[] = {
		{S, "220 x\r\n", "220 *\r\n", 0},
		{C, "DATA\r\n", "DATA\r\n", 0},
		{S, "354 go\r\n", "354 go\r\n", 0},
		{C, ".\r\n", "", 0},
		{C, "QUIT\r\n", "QUIT\r\n", 0},
	};
	/* byte by byte every marker is split; what is held comes out at eof */
	struct step held[] = {
		{S, "220 x\r\n", "220 *\r\n", 0},
		{C, "DATA\r\n", "DATA\r\n", 0},
		{S, "354 go\r\n", "354 go\r\n", 0},
		{C, "a\r\n.", "a\r\n", 0},
		{C, "\r", "", 0},
		{C, "x\r\n", ".\rx\r\n", 0},     /* not the end: released */
		{C, "\r\n.", "\r\n", 0},
		{C, "\r\n", "", 0},                 /* the end, split: swallowed */
		{C, "\r\n.\r\n", "\r\n.\r\n", 0}, /* the end, whole */
		{S, "250 ok\r\n", "250 ok\r\n", 0},
		{C, "VRFY a\r\n", "XXXX a\r\n", 0},
	};
	struct emu_conn *c;
	struct acc out = {NULL, 0};
	char o[EMU_FEED_SLACK];
	size_t olen = 0;

	(void)state;
	for (size_t at = 0; at < strlen(crlf); at++)
		run_eod(crlf, 5, at, 0);
	run_eod(crlf, 5, 0, 1);
	for (size_t at = 0; at < strlen(lf); at++)
		run_eod(lf, 3, at, 0);
	run_eod(lf, 3, 0, 1);
	/* a whole session: every split but those of the marker (step 9) */
	for (size_t st = 0; st < sizeof session_pix6_eod / sizeof session_pix6_eod[0]; st++) {
		size_t len = strlen(session_pix6_eod[st].in);

		for (size_t at = 0; at < len; at++)
			if (st != 9 || at <= len - 5)
				run_steps("session pix6-eod", "pix6-eod", session_pix6_eod,
					  sizeof session_pix6_eod / sizeof session_pix6_eod[0], st, at, 0);
	}
	run_steps("eod empty message", "pix6-eod", empty, 5, 0, 0, 0);
	run_steps("eod empty message, byte by byte", "pix6-eod", empty, 5, 0, 0, 1);
	run_steps("eod held dot", "pix6-eod", held, 11, 0, 0, 0);
	/* pix6 itself passes the same split marker */
	{
		struct step pix6[] = {
			{S, "220 x\r\n", "220 *\r\n", 0},
			{C, "DATA\r\n", "DATA\r\n", 0},
			{S, "354 go\r\n", "354 go\r\n", 0},
			{C, crlf, crlf, 0},
			{S, "250 ok\r\n", "250 ok\r\n", 0},
			{C, "VRFY a\r\n", "XXXX a\r\n", 0},
		};
		run_all_ways("split marker, pix6", "pix6", pix6, 6);
	}
	/* a held "." comes out unchanged when the client closes */
	c = emu_conn_new(emu_profile_find("pix6-eod"));
	assert_non_null(c);
	assert_int_equal(feed_str(c, S, "220 x\r\n", &out), EMU_PASS);
	assert_int_equal(feed_str(c, C, "DATA\r\n", &out), EMU_PASS);
	assert_int_equal(feed_str(c, S, "354 go\r\n", &out), EMU_PASS);
	out.len = 0;
	assert_int_equal(feed_str(c, C, "x\r\n.", &out), EMU_PASS);
	expect_bytes("before eof", "x\r\n", 3, out.p, out.len);
	assert_int_equal(emu_conn_eof(c, C, o, sizeof o, &olen), EMU_PASS);
	expect_bytes("eof", ".", 1, o, olen);
	emu_conn_free(c);
	free(out.p);
}

/* --- personas ------------------------------------------------------------ */

struct pstep {
	const char *in;
	const char *out;
};

/* Feed in[0..len) in pieces of piece octets (first piece `first` if > 0),
 * with an output area of cap octets, until all is taken. */
static void persona_pieces(struct persona *p, const char *in, size_t len, size_t first,
			   size_t piece, size_t cap, struct acc *out)
{
	size_t i = 0;
	char *o = malloc(cap);

	assert_non_null(o);
	while (i < len) {
		size_t n = (i == 0 && first > 0) ? first : piece;
		size_t off = 0;
		char *blk;

		if (n > len - i)
			n = len - i;
		blk = malloc(n);
		assert_non_null(blk);
		memcpy(blk, in + i, n);
		while (off < n) {
			size_t olen = 0;
			size_t k = persona_feed(p, blk + off, n - off, o, cap, &olen);

			assert_true(k > 0 || olen > 0);
			acc_add(out, o, olen);
			off += k;
		}
		free(blk);
		i += n;
	}
	free(o);
}

static void run_persona(const char *name, const char *greeting, const struct pstep *steps,
			size_t nsteps, size_t target, size_t at, size_t piece, size_t cap)
{
	struct persona *p = persona_new(name, "127.0.0.1");
	char g[PERSONA_REPLY_MAX];
	char what[160];
	size_t n;

	assert_non_null(p);
	assert_int_equal(persona_start(p, g, sizeof g - 1), 0);
	n = persona_start(p, g, sizeof g);
	expect_bytes(name, greeting, strlen(greeting), g, n);
	for (size_t s = 0; s < nsteps; s++) {
		struct acc out = {NULL, 0};
		size_t len = strlen(steps[s].in);

		persona_pieces(p, steps[s].in, len, s == target ? at : 0, piece ? piece : len, cap,
			       &out);
		snprintf(what, sizeof what, "persona %s, step %zu (split %zu of %zu, pieces %zu, room %zu)",
			 name, s, at, target, piece, cap);
		expect_bytes(what, steps[s].out, strlen(steps[s].out), out.p, out.len);
		free(out.p);
	}
	persona_free(p);
}

static void persona_all_ways(const char *name, const char *greeting, const struct pstep *steps,
			     size_t nsteps)
{
	run_persona(name, greeting, steps, nsteps, 0, 0, 0, 8U * PERSONA_REPLY_MAX);
	run_persona(name, greeting, steps, nsteps, 0, 0, 1, 8U * PERSONA_REPLY_MAX);
	/* the least room there is: one reply at a time */
	run_persona(name, greeting, steps, nsteps, 0, 0, 0, PERSONA_REPLY_MAX);
	for (size_t s = 0; s < nsteps; s++)
		for (size_t at = 1; at < strlen(steps[s].in); at++)
			run_persona(name, greeting, steps, nsteps, s, at, 0, 2U * PERSONA_REPLY_MAX);
}

static const struct pstep postfix_steps[] = {
	{"EHLO probe.example.net\r\n", PF_EHLO},
	{"HELO probe.example.net\r\n", "250 mail.example.org\r\n"},
	{"MAIL FROM:<alice@example.net> SIZE=100\r\n", "250 2.1.0 Ok\r\n"},
	{"MAIL FROM:<x@y>\r\n", "503 5.5.1 Error: nested MAIL command\r\n"},
	{"RCPT TO:<bob@example.org>\r\n", "250 2.1.5 Ok\r\n"},
	{"DATA\r\n", "354 End data with <CR><LF>.<CR><LF>\r\n"},
	{MESSAGE, "250 2.0.0 Ok: queued as 4VJ7Q25Xb1\r\n"},
	{"RCPT TO:<c@d>\r\nMAIL TO:<a>\r\nMAIL FROM:\r\n",
	 "503 5.5.1 Error: need MAIL command\r\n"
	 "501 5.5.4 Syntax: MAIL FROM:<address>\r\n"
	 "501 5.5.4 Syntax: MAIL FROM:<address>\r\n"},
	{"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nBDAT 10\r\n0123456789BDAT 3 LAST\r\nabc",
	 "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 Ok: 10 bytes\r\n"
	 "250 2.0.0 Ok: queued as 4VJ7Q25Xb2\r\n"},
	{"BDAT 0 LAST\r\nBDAT ten\r\nBDAT 2\r\n\r\n",
	 "503 5.5.1 Error: need MAIL command\r\n501 5.5.4 Syntax: BDAT count [LAST]\r\n"
	 "503 5.5.1 Error: need MAIL command\r\n"},
	{"STARTTLS\r\nHELP\r\nXXXX probe.example.net\r\n\r\n",
	 "454 4.7.0 TLS not available\r\n502 5.5.2 Error: command not recognized\r\n"
	 "502 5.5.2 Error: command not recognized\r\n502 5.5.2 Error: command not recognized\r\n"},
	{"NOOP\r\nRSET\r\nVRFY bob\r\nVRFY\r\nETRN example.org\r\nAUTH PLAIN\r\nEHLO\r\n",
	 "250 2.0.0 Ok\r\n250 2.0.0 Ok\r\n252 2.0.0 bob\r\n501 5.5.4 Syntax: VRFY address\r\n"
	 "458 Unable to queue messages\r\n503 5.5.1 Error: authentication not enabled\r\n"
	 "501 Syntax: EHLO hostname\r\n"},
	{"quit\r\nNOOP\r\n", "221 2.0.0 Bye\r\n"},
	{"NOOP\r\n", ""},
};

#define EX_GREET "220 EXCH01.corp.example.com Microsoft ESMTP MAIL Service ready at " \
	"Mon, 20 May 2024 10:20:00 +0000\r\n"
#define EX_EHLO \
	"250-EXCH01.corp.example.com Hello [127.0.0.1]\r\n250-SIZE 37748736\r\n" \
	"250-PIPELINING\r\n250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n250-STARTTLS\r\n" \
	"250-X-ANONYMOUSTLS\r\n250-AUTH NTLM\r\n250-X-EXPS GSSAPI NTLM\r\n" \
	"250-8BITMIME\r\n250-BINARYMIME\r\n250-CHUNKING\r\n250 XRDST\r\n"

static const struct pstep exchange_steps[] = {
	{"MAIL FROM:<a@b>\r\n", "503 5.5.2 Send hello first\r\n"},
	{"EHLO probe.example.net\r\n", EX_EHLO},
	{"XXXX probe.example.net\r\n", "500 5.3.3 Unrecognized command 'XXXX'\r\n"},
	{"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nBDAT 4 LAST\r\nabcd",
	 "250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n"
	 "250 2.6.0 <1@EXCH01.corp.example.com> [InternalId=1] Queued mail for delivery\r\n"},
	{"DATA\r\nHELP\r\n",
	 "503 5.5.2 Need mail command\r\n"
	 "214-This server supports the following commands:\r\n"
	 "214 HELO EHLO STARTTLS RCPT DATA RSET MAIL QUIT HELP AUTH BDAT\r\n"},
	{"ETRN x\r\nAUTH LOGIN\r\nVRFY a\r\nHELO\r\nHELO h\r\n",
	 "500 5.3.3 Unrecognized command 'ETRN'\r\n504 5.7.4 Unrecognized authentication type\r\n"
	 "252 2.1.5 Cannot VRFY user\r\n501 5.5.4 Invalid domain name\r\n"
	 "250 EXCH01.corp.example.com Hello [127.0.0.1]\r\n"},
	{"QUIT\r\n", "221 2.0.0 Service closing transmission channel\r\n"},
};

#define SM_GREET "220 relay.example.com ESMTP Sendmail 8.17.1.9/8.17.1.9/Debian-2; " \
	"Mon, 20 May 2024 10:20:00 +0200\r\n"
#define SM_HELLO "relay.example.com Hello localhost [127.0.0.1], pleased to meet you"
#define SM_EHLO \
	"250-" SM_HELLO "\r\n250-ENHANCEDSTATUSCODES\r\n250-PIPELINING\r\n" \
	"250-8BITMIME\r\n250-SIZE\r\n250-DSN\r\n250-ETRN\r\n" \
	"250-AUTH DIGEST-MD5 CRAM-MD5\r\n250-DELIVERBY\r\n250 HELP\r\n"

static const struct pstep sendmail_steps[] = {
	{"XXXX probe.example.net\r\n",
	 "500 5.5.1 Command unrecognized: \"XXXX probe.example.net\"\r\n"},
	{"MAIL FROM:<a@b>\r\n", "503 5.0.0 Polite people say HELO first\r\n"},
	{"HELO probe.example.net\r\nEHLO probe.example.net\r\n",
	 "250 " SM_HELLO "\r\n" SM_EHLO},
	{"MAIL FROM: <a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n",
	 "250 2.1.0 <a@b>... Sender ok\r\n250 2.1.5 <c@d>... Recipient ok\r\n"
	 "354 Enter mail, end with \".\" on a line by itself\r\n"},
	{"Subject: x\n\n.\n", "250 2.0.0 44KAKa0S1 Message accepted for delivery\r\n"},
	{"BDAT 1 LAST\r\nMAIL TO:<x>\r\nbad\x01" "ctl\r\n",
	 "500 5.5.1 Command unrecognized: \"BDAT 1 LAST\"\r\n"
	 "501 5.5.2 Syntax error in parameters scanning \"from\"\r\n"
	 "500 5.5.1 Command unrecognized: \"bad?ctl\"\r\n"},
	{"ETRN example.org\r\nAUTH CRAM-MD5\r\n",
	 "250 2.0.0 Queuing for node example.org started\r\n"
	 "504 5.3.3 AUTH mechanism CRAM-MD5 not available\r\n"},
	{"HELP\r\n",
	 "214-2.0.0 This is sendmail version 8.17.1.9\r\n214-2.0.0 Topics:\r\n"
	 "214-2.0.0 \tHELO\tEHLO\tMAIL\tRCPT\tDATA\r\n"
	 "214-2.0.0 \tRSET\tNOOP\tQUIT\tHELP\tVRFY\r\n"
	 "214-2.0.0 \tEXPN\tVERB\tETRN\tDSN\tAUTH\r\n214-2.0.0 \tSTARTTLS\r\n"
	 "214-2.0.0 For more info use \"HELP <topic>\".\r\n214 2.0.0 End of HELP info\r\n"},
	{"QUIT\r\n", "221 2.0.0 relay.example.com closing connection\r\n"},
};

/* What a DATA-phase witness sends after its 354: a header with a line of
 * 999 octets, then a MIME part naming a file of 256; no end marker. */
#define WITNESS_HEAD "From: <>\r\nSubject: witness\r\n" \
	"Content-Type: multipart/mixed; boundary=b\r\n"

static char *witness_long(void)
{
	return rep("X-Long: ", 'h', 991, "\r\n");
}

static char *witness_part(void)
{
	return rep("\r\n--b\r\nContent-Disposition: attachment; filename=\"", 'f', 256,
		   "\"\r\n\r\nQUJD\r\n");
}

/* Every persona takes the null sender, postmaster and DATA, then reads
 * message data, answering nothing until the lone ".". */
static void test_persona_witness(void **state)
{
	char *lng = witness_long();
	char *part = witness_part();
	struct pstep pf[] = {
		{"EHLO probe.example.net\r\n", PF_EHLO},
		{"MAIL FROM:<>\r\n", "250 2.1.0 Ok\r\n"},
		{"RCPT TO:<postmaster@example.org>\r\n", "250 2.1.5 Ok\r\n"},
		{"DATA\r\n", "354 End data with <CR><LF>.<CR><LF>\r\n"},
		{WITNESS_HEAD, ""}, {lng, ""}, {part, ""},
		{"QUIT\r\n", ""}, /* message text now */
		{".\r\n", "250 2.0.0 Ok: queued as 4VJ7Q25Xb1\r\n"},
	};
	struct pstep ex[] = {
		{"EHLO probe.example.net\r\n", EX_EHLO},
		{"MAIL FROM:<>\r\n", "250 2.1.0 Sender OK\r\n"},
		{"RCPT TO:<postmaster@corp.example.com>\r\n", "250 2.1.5 Recipient OK\r\n"},
		{"DATA\r\n", "354 Start mail input; end with <CRLF>.<CRLF>\r\n"},
		{WITNESS_HEAD, ""}, {lng, ""}, {part, ""},
		{".\r\n",
		 "250 2.6.0 <1@EXCH01.corp.example.com> [InternalId=1] Queued mail for delivery\r\n"},
	};
	struct pstep sm[] = {
		{"EHLO probe.example.net\r\n", SM_EHLO},
		{"MAIL FROM:<>\r\n", "250 2.1.0 <>... Sender ok\r\n"},
		{"RCPT TO:<postmaster@example.com>\r\n",
		 "250 2.1.5 <postmaster@example.com>... Recipient ok\r\n"},
		{"DATA\r\n", "354 Enter mail, end with \".\" on a line by itself\r\n"},
		{WITNESS_HEAD, ""}, {lng, ""}, {part, ""},
		{".\r\n", "250 2.0.0 44KAKa0S1 Message accepted for delivery\r\n"},
	};

	(void)state;
	persona_all_ways("postfix", PF_GREET, pf, sizeof pf / sizeof pf[0]);
	persona_all_ways("exchange", EX_GREET, ex, sizeof ex / sizeof ex[0]);
	persona_all_ways("sendmail", SM_GREET, sm, sizeof sm / sizeof sm[0]);
	free(lng);
	free(part);
}

static void test_personas(void **state)
{
	(void)state;
	persona_all_ways("postfix", PF_GREET, postfix_steps,
			 sizeof postfix_steps / sizeof postfix_steps[0]);
	persona_all_ways("exchange", EX_GREET, exchange_steps,
			 sizeof exchange_steps / sizeof exchange_steps[0]);
	persona_all_ways("sendmail", SM_GREET, sendmail_steps,
			 sizeof sendmail_steps / sizeof sendmail_steps[0]);
}

/* Lines at PERSONA_LINE_MAX, echoes cut at PERSONA_ECHO_MAX, names. */
static void test_persona_limits(void **state)
{
	char *fits = rep("Z", 'z', PERSONA_LINE_MAX - 3, "\r\n");
	char *over = rep("Z", 'z', PERSONA_LINE_MAX - 2, "\r\n");
	char *echo = rep("500 5.5.1 Command unrecognized: \"Z", 'z', PERSONA_ECHO_MAX - 1, "\"\r\n");
	char *two = rep(over, 'x', 0, "NOOP\r\n");
	struct pstep steps[] = {
		{fits, echo},
		{two, "500 5.5.0 Line too long\r\n250 2.0.0 OK\r\n"},
	};
	struct persona *p;
	char o[PERSONA_REPLY_MAX];
	size_t olen = 5;

	(void)state;
	assert_int_equal(strlen(fits), PERSONA_LINE_MAX);
	persona_all_ways("sendmail", SM_GREET, steps, 2);

	assert_null(persona_new("qmail", NULL));
	assert_null(persona_new(NULL, NULL));
	persona_free(NULL);
	assert_int_equal(persona_done(NULL), 1);
	assert_string_equal(persona_name(0), "postfix");
	assert_string_equal(persona_name(1), "exchange");
	assert_string_equal(persona_name(2), "sendmail");
	assert_null(persona_name(3));
	assert_null(persona_summary(3));

	/* too little room: nothing taken; an odd address is shown safely */
	p = persona_new("exchange", "10.0.0.1\r\n250 fake");
	assert_non_null(p);
	assert_int_equal(persona_feed(p, "NOOP\r\n", 6, o, sizeof o - 1, &olen), 0);
	assert_int_equal(olen, 0);
	assert_int_equal(persona_feed(p, "HELO a\r\n", 8, o, sizeof o, &olen), 8);
	expect_bytes("address", "250 EXCH01.corp.example.com Hello [10.0.0.1??250?fake]\r\n", 56, o, olen);
	assert_int_equal(persona_done(p), 0);
	persona_free(p);
	free(fits);
	free(over);
	free(echo);
	free(two);
}

/* A pipelined flood is answered a bounded piece at a time. */
static void test_persona_backpressure(void **state)
{
	size_t n = 1000;
	char *in = malloc(n * 6);
	struct persona *p = persona_new("postfix", "127.0.0.1");
	struct acc out = {NULL, 0};

	(void)state;
	assert_non_null(in);
	assert_non_null(p);
	for (size_t i = 0; i < n; i++)
		memcpy(in + i * 6, "NOOP\r\n", 6);
	persona_pieces(p, in, n * 6, 0, n * 6, PERSONA_REPLY_MAX, &out);
	assert_int_equal(out.len, n * 14);
	for (size_t i = 0; i < n; i++)
		assert_memory_equal(out.p + i * 14, "250 2.0.0 Ok\r\n", 14);
	persona_free(p);
	free(out.p);
	free(in);
}

/* --- a persona behind a profile, as main.c wires them -------------------- */

/* What a client sees from persona behind profile when it sends `client`
 * (whole, or one octet at a time). */
static void through(const char *persona, const char *profile, const char *client, int bytewise,
		    struct acc *seen)
{
	struct persona *p = persona_new(persona, "127.0.0.1");
	struct emu_conn *c = emu_conn_new(emu_profile_find(profile));
	char g[PERSONA_REPLY_MAX], r[4U * PERSONA_REPLY_MAX];
	struct acc up = {NULL, 0};
	size_t len = strlen(client), n, done = 0;

	assert_non_null(p);
	assert_non_null(c);
	n = persona_start(p, g, sizeof g);
	g[n] = '\0';
	assert_int_equal(feed_str(c, S, g, seen), EMU_PASS);
	for (size_t i = 0; i < len; i += n) {
		n = bytewise ? 1 : len;
		assert_int_equal(feed_pieces(c, C, client + i, n, 0, n, &up), 0);
		while (done < up.len && !persona_done(p)) {
			size_t rlen = 0;
			size_t k = persona_feed(p, up.p + done, up.len - done, r, sizeof r - 1, &rlen);

			done += k;
			r[rlen] = '\0';
			assert_int_equal(feed_str(c, S, r, seen), EMU_PASS);
		}
	}
	persona_free(p);
	emu_conn_free(c);
	free(up.p);
}

struct through_case {
	const char *persona;
	const char *profile;
	const char *client;
	const char *seen;
};

static const struct through_case through_cases[] = {
	{"postfix", "asa", "EHLO probe.example.net\r\nSTARTTLS\r\nQUIT\r\n",
	 "220 " STARS43 "\r\n" ASA_EHLO "502 5.5.2 Error: command not recognized\r\n"
	 "221 2.0.0 Bye\r\n"},
	{"postfix", "pix6-noop", "EHLO probe.example.net\r\nHELO probe.example.net\r\nQUIT\r\n",
	 "220 " STARS43 "\r\n250 2.0.0 Ok\r\n250 mail.example.org\r\n221 2.0.0 Bye\r\n"},
	{"sendmail", "pix6", "EHLO probe.example.net\r\nHELO probe.example.net\r\nQUIT\r\n",
	 "220 " SM_KEEP20 "\r\n"
	 "500 5.5.1 Command unrecognized: \"XXXX probe.example.net\"\r\n"
	 "250 " SM_HELLO "\r\n221 2.0.0 relay.example.com closing connection\r\n"},
	{"exchange", "asa", "EHLO probe.example.net\r\nBDAT 4 LAST\r\nQUIT\r\n",
	 "220 " "**********" "**********" "**********" "**********" "**********"
	 "**********" "**********" "**********" "**********" "***\r\n"
	 "250-EXCH01.corp.example.com Hello [127.0.0.1]\r\n250-SIZE 37748736\r\n"
	 "250-PIPELINING\r\n250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n250-XXXXXXXA\r\n"
	 "250-XXXXXXXXXXXXXB\r\n250-AUTH NTLM\r\n250-XXXXXXXXXXXXXXXXXC\r\n"
	 "250-8BITMIME\r\n250-BINARYMIME\r\n250-XXXXXXXD\r\n250 XXXXE\r\n"
	 "500 5.3.3 Unrecognized command 'XXXX'\r\n"
	 "221 2.0.0 Service closing transmission channel\r\n"},
	{"exchange", "strip", "EHLO probe.example.net\r\nQUIT\r\n",
	 EX_GREET "250-EXCH01.corp.example.com Hello [127.0.0.1]\r\n250-SIZE 37748736\r\n"
	 "250-PIPELINING\r\n250-STARTTLS\r\n250 8BITMIME\r\n"
	 "221 2.0.0 Service closing transmission channel\r\n"},
};

static void test_through(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof through_cases / sizeof through_cases[0]; i++) {
		const struct through_case *t = &through_cases[i];

		for (int bytewise = 0; bytewise < 2; bytewise++) {
			struct acc seen = {NULL, 0};
			char what[120];

			through(t->persona, t->profile, t->client, bytewise, &seen);
			snprintf(what, sizeof what, "%s behind %s%s", t->persona, t->profile,
				 bytewise ? ", byte by byte" : "");
			expect_bytes(what, t->seen, strlen(t->seen), seen.p, seen.len);
			free(seen.p);
		}
	}
}

/* The witness through a box to a persona, a write at a time, waiting for
 * each reply as a client does: where the box drops, and what the persona
 * (the server) was given. */
struct witness_case {
	const char *profile;
	int drop_at;         /* the write the box drops on; -1: none */
	const char *greeting; /* what the client sees of the greeting */
};

static void test_witness_through(void **state)
{
	static const struct witness_case cases[] = {
		{"none", -1, PF_GREET},
		{"asa", 5, "220 " STARS43 "\r\n"},
		{"fwsm", 5, "220 " STARS43 "\r\n"},
		{"pix6", -1, "220 " STARS43 "\r\n"},
		{"pix6-eod", -1, "220 " STARS43 "\r\n"},
		{"pix6-whole-line", -1, "220*" STARS43 "\r\n"},
	};
	char *lng = witness_long();
	char *part = witness_part();
	const char *writes[] = {
		"HELO probe.example.net\r\n", "MAIL FROM:<>\r\n",
		"RCPT TO:<postmaster@example.org>\r\n", "DATA\r\n", WITNESS_HEAD, lng, part,
	};
	const char *replies = "250 mail.example.org\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
			      "354 End data with <CR><LF>.<CR><LF>\r\n";

	(void)state;
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		struct persona *p = persona_new("postfix", "127.0.0.1");
		struct emu_conn *c = emu_conn_new(emu_profile_find(cases[k].profile));
		struct acc seen = {NULL, 0}, up = {NULL, 0}, want = {NULL, 0};
		char g[PERSONA_REPLY_MAX], r[4U * PERSONA_REPLY_MAX];
		size_t n, done = 0, w;
		int dropped = 0;

		assert_non_null(p);
		assert_non_null(c);
		n = persona_start(p, g, sizeof g);
		g[n] = '\0';
		assert_int_equal(feed_str(c, S, g, &seen), EMU_PASS);
		for (w = 0; w < sizeof writes / sizeof writes[0] && !dropped; w++) {
			dropped = feed_pieces(c, C, writes[w], strlen(writes[w]), 0,
					      strlen(writes[w]), &up);
			if (!dropped)
				acc_add(&want, writes[w], strlen(writes[w]));
			while (done < up.len) {
				size_t rlen = 0;

				done += persona_feed(p, up.p + done, up.len - done, r, sizeof r - 1, &rlen);
				r[rlen] = '\0';
				assert_int_equal(feed_str(c, S, r, &seen), EMU_PASS);
			}
		}
		assert_int_equal(dropped ? (int)w - 1 : -1, cases[k].drop_at);
		if (dropped)
			assert_int_equal(emu_conn_why(c), EMU_WHY_HEADER_TOO_LONG);
		/* the server got every write before the dropped one, none of it */
		expect_bytes(cases[k].profile, want.p, want.len, up.p, up.len);
		want.len = 0;
		acc_add(&want, cases[k].greeting, strlen(cases[k].greeting));
		acc_add(&want, replies, strlen(replies));
		expect_bytes(cases[k].profile, want.p, want.len, seen.p, seen.len);
		assert_int_equal(persona_done(p), 0); /* still reading the message */
		persona_free(p);
		emu_conn_free(c);
		free(seen.p);
		free(up.p);
		free(want.p);
	}
	free(lng);
	free(part);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conversations),
		cmocka_unit_test(test_command_length_asa),
		cmocka_unit_test(test_header_length_asa),
		cmocka_unit_test(test_line_max),
		cmocka_unit_test(test_drop_is_final),
		cmocka_unit_test(test_why),
		cmocka_unit_test(test_pipeline_full),
		cmocka_unit_test(test_eof),
		cmocka_unit_test(test_contract),
		cmocka_unit_test(test_bdat_chunk),
		cmocka_unit_test(test_filename),
		cmocka_unit_test(test_filename_long_line),
		cmocka_unit_test(test_eod),
		cmocka_unit_test(test_personas),
		cmocka_unit_test(test_persona_limits),
		cmocka_unit_test(test_persona_backpressure),
		cmocka_unit_test(test_through),
		cmocka_unit_test(test_persona_witness),
		cmocka_unit_test(test_witness_through),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

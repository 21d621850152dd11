/*
 * transcripts.h - server replies shared by the C unit tests: the reply
 * parser (tests/test_reply.c), the EHLO parser (tests/test_ehlo.c) and
 * the verdict (tests/test_verdict.c); as real servers send them, and as
 * an inspecting firewall leaves them (what Cisco's "inspect esmtp" does:
 * tests/peers/asa.txt). String literals, so that a test may take sizeof
 * of one or join it with others; each is complete with CRLF line ends.
 * The two Postfix replies are also given line by line (EHLO_POSTFIX_LINES:
 * apply it to TRANSCRIPT_LINE for an array of lines without line ends,
 * as test_verdict.c does). The expectations on them (octet counts, parsed
 * dumps, findings) live in the tests: change a byte here and they must
 * follow. tests/test_ehlo.c checks that tests/peers/clean-postfix.txt
 * sends EHLO_POSTFIX octet for octet (tests/README says which other
 * copies stay apart, and why).
 */
#ifndef TESTS_TRANSCRIPTS_H
#define TESTS_TRANSCRIPTS_H

/* One line of a transcript: with its CRLF, or as an array element. */
#define TRANSCRIPT_CRLF(line) line "\r\n"
#define TRANSCRIPT_LINE(line) line,

/* Postfix 3.7 (Debian bookworm defaults plus SMTPUTF8 and CHUNKING). */
#define EHLO_POSTFIX_LINES(X) \
	X("250-mail.example.org") \
	X("250-PIPELINING") \
	X("250-SIZE 10240000") \
	X("250-VRFY") \
	X("250-ETRN") \
	X("250-STARTTLS") \
	X("250-ENHANCEDSTATUSCODES") \
	X("250-8BITMIME") \
	X("250-DSN") \
	X("250-SMTPUTF8") \
	X("250 CHUNKING")
#define EHLO_POSTFIX EHLO_POSTFIX_LINES(TRANSCRIPT_CRLF)

#define EHLO_EXIM \
	"250-mx.example.net Hello client.example.com [192.0.2.10]\r\n" \
	"250-SIZE 52428800\r\n" \
	"250-8BITMIME\r\n" \
	"250-PIPELINING\r\n" \
	"250-PIPECONNECT\r\n" \
	"250-AUTH PLAIN LOGIN\r\n" \
	"250-CHUNKING\r\n" \
	"250-STARTTLS\r\n" \
	"250-PRDR\r\n" \
	"250 HELP\r\n"

#define EHLO_EXCHANGE \
	"250-EXCH01.corp.example.com Hello [192.0.2.10]\r\n" \
	"250-SIZE 37748736\r\n" \
	"250-PIPELINING\r\n" \
	"250-DSN\r\n" \
	"250-ENHANCEDSTATUSCODES\r\n" \
	"250-STARTTLS\r\n" \
	"250-X-ANONYMOUSTLS\r\n" \
	"250-AUTH NTLM\r\n" \
	"250-X-EXPS GSSAPI NTLM\r\n" \
	"250-8BITMIME\r\n" \
	"250-BINARYMIME\r\n" \
	"250-CHUNKING\r\n" \
	"250-XRDST\r\n" \
	"250 XSHADOW\r\n"

/* Postfix behind an ASA: STARTTLS and CHUNKING masked. */
#define EHLO_POSTFIX_ASA_LINES(X) \
	X("250-mail.example.org") \
	X("250-PIPELINING") \
	X("250-SIZE 10240000") \
	X("250-VRFY") \
	X("250-ETRN") \
	X("250-XXXXXXXA") \
	X("250-ENHANCEDSTATUSCODES") \
	X("250-8BITMIME") \
	X("250-DSN") \
	X("250-SMTPUTF8") \
	X("250 XXXXXXXB")
#define EHLO_POSTFIX_ASA EHLO_POSTFIX_ASA_LINES(TRANSCRIPT_CRLF)

/* sendmail behind an ASA: STARTTLS and DELIVERBY (the last line) masked. */
#define EHLO_SENDMAIL_ASA \
	"250-mail.example.com Hello client.example.org [192.0.2.10], pleased to meet you\r\n" \
	"250-ENHANCEDSTATUSCODES\r\n" \
	"250-PIPELINING\r\n" \
	"250-8BITMIME\r\n" \
	"250-SIZE\r\n" \
	"250-DSN\r\n" \
	"250-ETRN\r\n" \
	"250-AUTH DIGEST-MD5 CRAM-MD5\r\n" \
	"250-XXXXXXXA\r\n" \
	"250 XXXXXXXXB\r\n"

#endif

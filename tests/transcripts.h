/*
 * transcripts.h - EHLO replies shared by the unit tests of the reply parser
 * (tests/test_reply.c) and of the EHLO parser (tests/test_ehlo.c): as real
 * servers send them, and as an inspecting firewall leaves them (DOMAIN.md
 * 1, 2). String literals, so that a test may take sizeof of one or join it
 * with others; each is complete with CRLF line ends. The expectations on
 * them (octet counts, parsed dumps) live in the tests: change a byte here
 * and both must follow.
 */
#ifndef TESTS_TRANSCRIPTS_H
#define TESTS_TRANSCRIPTS_H

#define EHLO_POSTFIX \
	"250-mail.example.org\r\n" \
	"250-PIPELINING\r\n" \
	"250-SIZE 10240000\r\n" \
	"250-VRFY\r\n" \
	"250-ETRN\r\n" \
	"250-STARTTLS\r\n" \
	"250-ENHANCEDSTATUSCODES\r\n" \
	"250-8BITMIME\r\n" \
	"250-DSN\r\n" \
	"250-SMTPUTF8\r\n" \
	"250 CHUNKING\r\n"

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
#define EHLO_POSTFIX_ASA \
	"250-mail.example.org\r\n" \
	"250-PIPELINING\r\n" \
	"250-SIZE 10240000\r\n" \
	"250-VRFY\r\n" \
	"250-ETRN\r\n" \
	"250-XXXXXXXA\r\n" \
	"250-ENHANCEDSTATUSCODES\r\n" \
	"250-8BITMIME\r\n" \
	"250-DSN\r\n" \
	"250-SMTPUTF8\r\n" \
	"250 XXXXXXXB\r\n"

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

/*
 * test_verdict.c - the verdict on whole transcripts (doc/hacking.md 12): each row
 * is what a server said through whatever sat in the path, and every finding
 * it must give, in order, with its state, box, summary and evidence exactly.
 * Healthy servers (Postfix, Exim, Exchange, sendmail, OpenSMTPD) and
 * near-misses must give nothing. Replies are built by hand, so these tests
 * do not depend on the stream parser.
 *
 * The transcripts were written for these tests; the masked ones are what
 * the documented masking (doc/inspection-boxes.md 1, 2) makes of the clean ones, and
 * test_masked_transcripts checks that they are.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sf_verdict.h"
#include "transcripts.h"

/* --- building replies by hand -------------------------------------------- */

/* A reply from NULL-terminated lines; the code is the first line's three
 * digits. Allocated as sf_reply.h fixes it, freed by sf_reply_free. */
static struct sf_reply *reply_from_array(const char *const *lines)
{
	struct sf_reply *r = calloc(1, sizeof *r);
	size_t n = 0;

	assert_non_null(r);
	while (lines[n] != NULL)
		n++;
	assert_true(n > 0);
	r->lines = calloc(n, sizeof *r->lines);
	assert_non_null(r->lines);
	r->nlines = n;
	r->code = (lines[0][0] - '0') * 100 + (lines[0][1] - '0') * 10 + (lines[0][2] - '0');
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(lines[i]);

		r->lines[i].raw = malloc(len + 1);
		assert_non_null(r->lines[i].raw);
		memcpy(r->lines[i].raw, lines[i], len + 1);
		r->lines[i].len = len;
		r->bytes += len + 2;
	}
	return r;
}

/* reply_from_lines(code, "250-mail.example.com", "250 PIPELINING", NULL) */
static struct sf_reply *reply_from_lines(int code, ...)
{
	const char *lines[SF_REPLY_LINES_MAX + 1];
	struct sf_reply *r;
	size_t n = 0;
	va_list ap;

	va_start(ap, code);
	while (n < SF_REPLY_LINES_MAX && (lines[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	lines[n] = NULL;
	r = reply_from_array(lines);
	assert_int_equal(r->code, code);
	return r;
}

/* --- transcripts --------------------------------------------------------- */

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Postfix, and Postfix behind an ASA (transcripts.h). */
static const char *const postfix_ehlo[] = {EHLO_POSTFIX_LINES(TRANSCRIPT_LINE) NULL};

/* Postfix behind an ASA with the default policy: banner masked, STARTTLS
 * and CHUNKING masked A and B. */
#define ASA_POSTFIX_BANNER "220 *******************************************"
static const char *const asa_postfix_ehlo[] = {EHLO_POSTFIX_ASA_LINES(TRANSCRIPT_LINE) NULL};

#define EX2016_BANNER \
	"220 EX01.corp.example.com Microsoft ESMTP MAIL Service ready at Tue, 20 Feb 2024 10:20:02 +0100"
static const char *const ex2016_ehlo[] = {
	"250-EX01.corp.example.com Hello [192.0.2.10]", "250-SIZE 37748736", "250-PIPELINING",
	"250-DSN", "250-ENHANCEDSTATUSCODES", "250-STARTTLS", "250-X-ANONYMOUSTLS", "250-AUTH NTLM",
	"250-X-EXPS GSSAPI NTLM", "250-8BITMIME", "250-BINARYMIME", "250-CHUNKING", "250-XEXCH50",
	"250-XRDST", "250 XSHADOWREQUEST", NULL,
};

/* An Exchange behind an ASA: STARTTLS, X-EXPS, CHUNKING and XEXCH50
 * masked A to D, BINARYMIME left without CHUNKING. */
#define ASA_EX_BANNER                                                                 \
	"220 *************************************************************************" \
	"******************"
static const char *const asa_ex_ehlo[] = {
	"250-EX01.corp.example.com Hello [192.0.2.10]", "250-SIZE 37748736", "250-PIPELINING",
	"250-DSN", "250-ENHANCEDSTATUSCODES", "250-XXXXXXXA", "250-AUTH NTLM",
	"250-XXXXXXXXXXXXXXXXXB", "250-8BITMIME", "250-BINARYMIME", "250-XXXXXXXC", "250 XXXXXXD",
	NULL,
};

/* PIX 5.1-6.x masks every character but '2' and '0'. */
#define PIX_POSTFIX_BANNER "220 *******************************202**02*20"
#define PIX_SENDMAIL_BANNER \
	"220 *****************************************************20*****2020**0*02*00**0*00"

static const char *const opensmtpd_ehlo[] = {
	"250-mx.example.net Hello client.example.net [192.0.2.10], pleased to meet you",
	"250-8BITMIME", "250-ENHANCEDSTATUSCODES", "250-SIZE 36700160", "250-DSN", "250-STARTTLS",
	"250 HELP", NULL,
};

#define STUNNEL_GREETING "220 mail.example.org stunnel for ESMTP Postfix (Debian/GNU)"
static const char *const proxsmtpd_ehlo[] = {
	"250-smtp.passthru", "250-SIZE 10240000", "250-VRFY", "250-ETRN", "250-ENHANCEDSTATUSCODES",
	"250-8BITMIME", "250-DSN", "250-SMTPUTF8", "250 XFILTERED", NULL,
};

static const char *const fsecure_ehlo[] = {
	"250-mail.example.com", "250-SIZE 10485760", "250-8BITMIME", "250 ENHANCEDSTATUSCODES", NULL,
};

#define SENDMAIL_X_ECHO "500 5.5.1 Command unrecognized: \"XXXX client.example.net\""
#define SENDMAIL_HELO \
	"250 relay.example.edu Hello client.example.net [192.0.2.10], pleased to meet you"

#define BANNER_SUMMARY \
	"greeting banner masked; Postfix senders then fall back to HELO (no STARTTLS, no" \
	" 8BITMIME, no SIZE)"
#define HELO_WORKS "; HELO works, so plain SMTP only (no ESMTP, no STARTTLS)"

/* --- the table ---------------------------------------------------------- */

struct want {
	enum sf_kind kind;
	enum sf_state state;
	const char *box; /* box id, NULL for none */
	const char *summary;
	const char *const *evidence;
};

#define WANT_MAX 5

struct row {
	const char *name;
	const char *const *greeting;
	const char *const *ehlo;     /* NULL: EHLO not reached */
	const char *const *helo;     /* NULL: HELO not sent */
	const char *const *required; /* NULL or NULL-terminated */
	struct want want[WANT_MAX];  /* in order; ends at the first NULL summary */
	unsigned extensions, masked;
	int banner_masked;
	const char *box; /* v->box id, NULL for none */
	/* -S and --probe (zero when not used) */
	int starttls_tried;
	const char *const *starttls; /* reply to STARTTLS */
	const char *tls_error;
	const char *const *ehlo_tls;
	const char *const *tls_ignore; /* NULL: the plugin's default STARTTLS, AUTH */
	struct {
		const char *sent, *keyword;
		const char *const *reply; /* NULL: none came */
		int dropped;
		int closed_after; /* the server closed after this reply */
	} probe[3];
	unsigned tls_extensions, stripped;
	/* --reference (NULL when not used) */
	const char *const *ref_greeting;
	const char *const *ref_ehlo;
	unsigned ref_missing;
	/* --baseline (NULL when there is none) */
	const char *baseline_banner;
	const char *const *baseline_kw;
	unsigned baseline_gone;
};

/* Postfix inside TLS: no STARTTLS (RFC 3207), AUTH offered only here. */
static const char *const postfix_tls_ehlo[] = {
	"250-mail.example.com", "250-PIPELINING", "250-SIZE 10240000", "250-VRFY", "250-ETRN",
	"250-AUTH PLAIN LOGIN", "250-ENHANCEDSTATUSCODES", "250-8BITMIME", "250-DSN",
	"250-SMTPUTF8", "250 CHUNKING", NULL,
};
#define STARTTLS_READY "220 2.0.0 Ready to start TLS"
#define POSTFIX_UNRECOGNISED "502 5.5.2 Error: command not recognized"
/* "NOOP " and 600 x's, as the plugin's probe sends it; filled by main(). */
static char long_noop[5 + 600 + 1];
#define LONG_NOOP_START                                                                  \
	"NOOP xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"

#define POSTFIX_BANNER "220 mail.example.com ESMTP Postfix (Debian/GNU)"
/* A stripping proxy: Postfix's list without STARTTLS, nothing masked. */
static const char *const stripped_postfix_ehlo[] = {
	"250-mail.example.com", "250-PIPELINING", "250-SIZE 10240000", "250-VRFY", "250-ETRN",
	"250-ENHANCEDSTATUSCODES", "250-8BITMIME", "250-DSN", "250-SMTPUTF8",
	"250 CHUNKING", NULL,
};

static const char *const postfix_keywords[] = {
	"PIPELINING", "SIZE", "VRFY", "ETRN", "STARTTLS", "ENHANCEDSTATUSCODES", "8BITMIME", "DSN",
	"SMTPUTF8", "CHUNKING", NULL,
};

static const struct row rows[] = {
	/* --- --baseline: the last clean run --- */
	{
		.name = "baseline: nothing changed",
		.greeting = L(POSTFIX_BANNER),
		.ehlo = postfix_ehlo,
		.extensions = 10,
		.baseline_banner = POSTFIX_BANNER,
		.baseline_kw = postfix_keywords,
	},
	{
		.name = "baseline: STARTTLS gone",
		.greeting = L(POSTFIX_BANNER),
		.ehlo = stripped_postfix_ehlo,
		.want = {
			{SF_FIND_BASELINE_CHANGED, SF_WARNING, NULL,
			 "1 extension gone since the last clean run: STARTTLS", L(NULL)},
		},
		.extensions = 9,
		.baseline_banner = POSTFIX_BANNER,
		.baseline_kw = postfix_keywords,
		.baseline_gone = 1,
	},
	{
		.name = "baseline: greeting changed, masked lines count as gone",
		.greeting = L(ASA_POSTFIX_BANNER),
		.ehlo = asa_postfix_ehlo,
		.want = {
			{SF_FIND_EXT_MASKED, SF_CRITICAL, "cisco-asa",
			 "2 of 10 ESMTP extensions masked (guess by length: STARTTLS or CHUNKING)",
			 L("250-XXXXXXXA", "250 XXXXXXXB")},
			{SF_FIND_BANNER_MASKED, SF_WARNING, "cisco-asa", BANNER_SUMMARY,
			 L(ASA_POSTFIX_BANNER)},
			{SF_FIND_BASELINE_CHANGED, SF_WARNING, NULL,
			 "2 extensions gone since the last clean run: STARTTLS, CHUNKING; "
			 "greeting changed since the last clean run",
			 L(POSTFIX_BANNER, ASA_POSTFIX_BANNER)},
		},
		.extensions = 10,
		.masked = 2,
		.banner_masked = 1,
		.box = "cisco-asa",
		.baseline_banner = POSTFIX_BANNER,
		.baseline_kw = postfix_keywords,
		.baseline_gone = 2,
	},
	/* --- --reference: the same server seen without the box --- */
	{
		.name = "reference: the same list and banner",
		.greeting = L(POSTFIX_BANNER),
		.ehlo = postfix_ehlo,
		.extensions = 10,
		.ref_greeting = L(POSTFIX_BANNER),
		.ref_ehlo = postfix_ehlo,
	},
	{
		.name = "reference: a proxy that deletes STARTTLS",
		.greeting = L(POSTFIX_BANNER),
		.ehlo = stripped_postfix_ehlo,
		.want = {
			{SF_FIND_REF_MISSING, SF_CRITICAL, NULL,
			 "1 extension offered on the reference path but missing or masked here: STARTTLS",
			 L("250-STARTTLS")},
		},
		.extensions = 9,
		.ref_greeting = L(POSTFIX_BANNER),
		.ref_ehlo = postfix_ehlo,
		.ref_missing = 1,
	},
	{
		.name = "reference: a banner rewritten, nothing else",
		.greeting = L("220 mail.example.com ESMTP"),
		.ehlo = postfix_ehlo,
		.want = {
			{SF_FIND_REF_BANNER, SF_WARNING, NULL,
			 "greeting differs from the reference path's",
			 L("220 mail.example.com ESMTP", POSTFIX_BANNER)},
		},
		.extensions = 10,
		.ref_greeting = L(POSTFIX_BANNER),
		.ref_ehlo = postfix_ehlo,
	},
	{
		.name = "reference: ASA masking against the clean path",
		.greeting = L(ASA_POSTFIX_BANNER),
		.ehlo = asa_postfix_ehlo,
		.want = {
			{SF_FIND_EXT_MASKED, SF_CRITICAL, "cisco-asa",
			 "2 of 10 ESMTP extensions masked (guess by length: STARTTLS or CHUNKING)",
			 L("250-XXXXXXXA", "250 XXXXXXXB")},
			{SF_FIND_REF_MISSING, SF_CRITICAL, "cisco-asa",
			 "2 extensions offered on the reference path but missing or masked here: "
			 "STARTTLS, CHUNKING",
			 L("250-STARTTLS", "250 CHUNKING")},
			{SF_FIND_BANNER_MASKED, SF_WARNING, "cisco-asa", BANNER_SUMMARY,
			 L(ASA_POSTFIX_BANNER)},
			{SF_FIND_REF_BANNER, SF_WARNING, NULL,
			 "greeting differs from the reference path's",
			 L(ASA_POSTFIX_BANNER, POSTFIX_BANNER)},
		},
		.extensions = 10,
		.masked = 2,
		.banner_masked = 1,
		.box = "cisco-asa",
		.ref_greeting = L(POSTFIX_BANNER),
		.ref_ehlo = postfix_ehlo,
		.ref_missing = 2,
	},
	/* --- healthy servers: nothing to say --- */
	{
		.name = "Postfix, clean",
		.greeting = L("220 mail.example.com ESMTP Postfix (Debian/GNU)"),
		.ehlo = postfix_ehlo,
		.required = L("STARTTLS", "chunking", "8BITMIME", "SIZE"),
		.extensions = 10,
	},
	{
		.name = "Postfix with XCLIENT, XFORWARD and lower-case keywords",
		.greeting = L("220 mx1.example.com ESMTP"),
		.ehlo = L("250-mx1.example.com", "250-PIPELINING", "250-SIZE 52428800",
			  "250-XCLIENT NAME ADDR PROTO HELO REVERSE_NAME PORT LOGIN DESTADDR DESTPORT",
			  "250-XFORWARD NAME ADDR PROTO HELO SOURCE PORT IDENT", "250-etrn",
			  "250-starttls", "250-enhancedstatuscodes", "250-8bitmime", "250 dsn"),
		.required = L("STARTTLS", "8BITMIME"),
		.extensions = 9,
	},
	{
		.name = "Exim, clean",
		.greeting = L("220 mx.example.org ESMTP Exim 4.96 Tue, 20 Feb 2024 10:20:00 +0000"),
		.ehlo = L("250-mx.example.org Hello client.example.net [192.0.2.10]", "250-SIZE 52428800",
			  "250-8BITMIME", "250-PIPELINING", "250-PIPECONNECT", "250-CHUNKING",
			  "250-STARTTLS", "250-PRDR", "250 HELP"),
		.required = L("STARTTLS", "CHUNKING"),
		.extensions = 8,
	},
	{
		.name = "Exchange 2016, clean (X-EXPS, XEXCH50, XRDST, BINARYMIME with CHUNKING)",
		.greeting = L(EX2016_BANNER),
		.ehlo = ex2016_ehlo,
		.required = L("STARTTLS", "CHUNKING"),
		.extensions = 14,
	},
	{
		.name = "Exchange 2019, clean, date of 2s and 0s in the banner",
		.greeting = L("220 mail.contoso.example Microsoft ESMTP MAIL Service ready at Thu, 20 Feb"
			      " 2020 02:00:20 +0000"),
		.ehlo = L("250-mail.contoso.example Hello [198.51.100.7]", "250-SIZE 37748736",
			  "250-PIPELINING", "250-DSN", "250-ENHANCEDSTATUSCODES", "250-STARTTLS",
			  "250-X-ANONYMOUSTLS", "250-AUTH NTLM", "250-X-EXPS GSSAPI NTLM",
			  "250-8BITMIME", "250-BINARYMIME", "250-CHUNKING", "250-SMTPUTF8",
			  "250 XRDST"),
		.required = L("SMTPUTF8"),
		.extensions = 13,
	},
	{
		.name = "Exchange 2003, clean (X-LINK2STATE, X-EXPS=LOGIN, last line 250 OK)",
		.greeting = L("220 exch2003.example.local Microsoft ESMTP MAIL Service, Version:"
			      " 6.0.3790.4675 ready at  Tue, 20 Feb 2024 10:20:02 +0100"),
		.ehlo = L("250-exch2003.example.local Hello [192.0.2.10]", "250-TURN", "250-SIZE",
			  "250-ETRN", "250-PIPELINING", "250-DSN", "250-ENHANCEDSTATUSCODES",
			  "250-8bitmime", "250-BINARYMIME", "250-CHUNKING", "250-VRFY",
			  "250-X-EXPS GSSAPI NTLM LOGIN", "250-X-EXPS=LOGIN",
			  "250-AUTH GSSAPI NTLM LOGIN", "250-AUTH=LOGIN", "250-X-LINK2STATE",
			  "250-XEXCH50", "250 OK"),
		.extensions = 17,
	},
	{
		.name = "sendmail, clean",
		.greeting = L("220 relay.example.edu ESMTP Sendmail 8.17.1.9/8.17.1.9; Tue, 20 Feb 2024"
			      " 02:00:20 -0500"),
		.ehlo = L("250-relay.example.edu Hello client.example.net [192.0.2.10], pleased to meet you",
			  "250-ENHANCEDSTATUSCODES", "250-PIPELINING",
			  "250-8BITMIME", "250-SIZE 20000000", "250-DSN", "250-ETRN",
			  "250-AUTH DIGEST-MD5 CRAM-MD5", "250-STARTTLS", "250-DELIVERBY", "250 HELP"),
		.required = L("STARTTLS"),
		.extensions = 10,
	},
	{
		.name = "OpenSMTPD, clean",
		.greeting = L("220 mx.example.net ESMTP OpenSMTPD"),
		.ehlo = opensmtpd_ehlo,
		.required = L("STARTTLS", "8BITMIME"),
		.extensions = 6,
	},
	{
		.name = "a real one-line EHLO reply is not NOOP-like",
		.greeting = L("220 mail.example.com ESMTP"),
		.ehlo = L("250 mail.example.com"),
	},
	{
		.name = "EHLO not reached: required extensions are not judged",
		.greeting = L("220 mail.example.com ESMTP Postfix"),
		.required = L("STARTTLS"),
	},
	/* --- banners that are not masked --- */
	{
		.name = "decorated banner",
		.greeting = L("220 *** ACME mail ***"),
		.ehlo = postfix_ehlo,
		.extensions = 10,
	},
	{
		.name = "banner with a date of 2s and 0s",
		.greeting = L("220 mail.example.com ESMTP 2020-02-02 00:00:20"),
	},
	{
		.name = "multi-line greeting with a line of asterisks and a real line",
		.greeting = L("220-**********************************",
			      "220-mail.example.com ESMTP Postfix", "220 **********************************"),
	},
	{
		.name = "banner of 2s and 0s without an asterisk",
		.greeting = L("220 2020 0202"),
	},
	{
		.name = "bare 220",
		.greeting = L("220"),
	},
	/* --- Cisco ASA --- */
	{
		.name = "ASA: Postfix with banner, STARTTLS and CHUNKING masked",
		.greeting = L(ASA_POSTFIX_BANNER),
		.ehlo = asa_postfix_ehlo,
		.required = L("STARTTLS"),
		.want = {
			{SF_FIND_EXT_MASKED, SF_CRITICAL, "cisco-asa",
			 "2 of 10 ESMTP extensions masked (guess by length: STARTTLS or CHUNKING)",
			 L("250-XXXXXXXA", "250 XXXXXXXB")},
			{SF_FIND_EXT_MISSING, SF_CRITICAL, "cisco-asa",
			 "required extension STARTTLS not offered (it may be among the 2 masked lines)",
			 asa_postfix_ehlo},
			{SF_FIND_BANNER_MASKED, SF_WARNING, "cisco-asa", BANNER_SUMMARY,
			 L(ASA_POSTFIX_BANNER)},
		},
		.extensions = 10, .masked = 2, .banner_masked = 1, .box = "cisco-asa",
	},
	{
		.name = "ASA: Exchange with four lines masked, BINARYMIME left without CHUNKING",
		.greeting = L(ASA_EX_BANNER),
		.ehlo = asa_ex_ehlo,
		.want = {
			{SF_FIND_EXT_MASKED, SF_CRITICAL, "cisco-asa",
			 "4 of 11 ESMTP extensions masked (guess by length: STARTTLS, CHUNKING or XEXCH50)",
			 L("250-XXXXXXXA", "250-XXXXXXXXXXXXXXXXXB", "250-XXXXXXXC", "250 XXXXXXD")},
			/* warnings keep their order: banner before list */
			{SF_FIND_BANNER_MASKED, SF_WARNING, "cisco-asa", BANNER_SUMMARY, L(ASA_EX_BANNER)},
			{SF_FIND_EXT_INCONSISTENT, SF_WARNING, "cisco-asa",
			 "BINARYMIME offered without CHUNKING (RFC 3030 requires both); CHUNKING was"
			 " probably masked",
			 L("250-BINARYMIME")},
		},
		.extensions = 11, .masked = 4, .banner_masked = 1, .box = "cisco-asa",
	},
	{
		.name = "ASA: EHLO greeting line masked too, one extension masked",
		.greeting = L("220 mail.example.com ESMTP"),
		.ehlo = L("250-XXXXXXXXXXXXXXXA", "250-PIPELINING", "250 XXXXXXXB"),
		.want = {
			{SF_FIND_EXT_MASKED, SF_CRITICAL, "cisco-asa",
			 "EHLO greeting line and 1 of 2 ESMTP extensions masked (guess by length:"
			 " STARTTLS or CHUNKING)",
			 L("250-XXXXXXXXXXXXXXXA", "250 XXXXXXXB")},
		},
		.extensions = 2, .masked = 1, .box = "cisco-asa",
	},
	{
		.name = "ASA: a masked line no keyword is known for",
		.greeting = L("220 mail.example.com ESMTP"),
		.ehlo = L("250-mail.example.com", "250-PIPELINING", "250 XXXXXXXXXXXXXXXXXXXXXXXXA"),
		.want = {
			{SF_FIND_EXT_MASKED, SF_CRITICAL, "cisco-asa", "1 of 2 ESMTP extensions masked",
			 L("250 XXXXXXXXXXXXXXXXXXXXXXXXA")},
		},
		.extensions = 2, .masked = 1, .box = "cisco-asa",
	},
	{
		.name = "ASA: masked 554 greeting (refused, and masked)",
		.greeting = L("554 *******************************"),
		.want = {
			{SF_FIND_GREETING_REFUSED, SF_CRITICAL, NULL,
			 "the server refuses the session: greeting \"554 *******************************\"",
			 L("554 *******************************")},
			{SF_FIND_BANNER_MASKED, SF_WARNING, "cisco-asa", BANNER_SUMMARY,
			 L("554 *******************************")},
		},
		.banner_masked = 1, .box = "cisco-asa",
	},
	/* --- Cisco PIX --- */
	{
		.name = "PIX 6: banner keeps 2 and 0, EHLO NOOP-ed, HELO works",
		.greeting = L(PIX_POSTFIX_BANNER),
		.ehlo = L("250 2.0.0 Ok"),
		.helo = L("250 mail.example.com"),
		.required = L("STARTTLS"),
		.want = {
			{SF_FIND_EHLO_NOOP, SF_CRITICAL, "cisco-pix-mailguard",
			 "EHLO answered like NOOP: a firewall turned it into NOOP, no ESMTP" HELO_WORKS,
			 L("250 2.0.0 Ok", "250 mail.example.com")},
			{SF_FIND_EXT_MISSING, SF_CRITICAL, "cisco-pix-mailguard",
			 "required extension STARTTLS not offered (EHLO failed)", L("250 2.0.0 Ok")},
			{SF_FIND_BANNER_MASKED, SF_WARNING, "cisco-pix-fixup", BANNER_SUMMARY,
			 L(PIX_POSTFIX_BANNER)},
		},
		.banner_masked = 1, .box = "cisco-pix-mailguard",
	},
	{
		.name = "PIX MailGuard: sendmail echoes the X-ed EHLO, HELO works",
		.greeting = L(PIX_SENDMAIL_BANNER),
		.ehlo = L(SENDMAIL_X_ECHO),
		.helo = L(SENDMAIL_HELO),
		.want = {
			{SF_FIND_EHLO_REFUSED, SF_CRITICAL, "cisco-pix-mailguard",
			 "EHLO refused: a firewall replaced it with X's (server answered 500)" HELO_WORKS,
			 L(SENDMAIL_X_ECHO, SENDMAIL_HELO)},
			{SF_FIND_BANNER_MASKED, SF_WARNING, "cisco-pix-fixup", BANNER_SUMMARY,
			 L(PIX_SENDMAIL_BANNER)},
		},
		.banner_masked = 1, .box = "cisco-pix-mailguard",
	},
	{
		.name = "PIX MailGuard: X echo on the second line, HELO refused too",
		.greeting = L("220 mail.example.com ESMTP"),
		.ehlo = L("500-Unrecognized command", "500 'XXXX'"),
		.helo = L("554 5.7.1 Access denied"),
		.want = {
			{SF_FIND_EHLO_REFUSED, SF_CRITICAL, "cisco-pix-mailguard",
			 "EHLO refused: a firewall replaced it with X's (server answered 500); HELO"
			 " refused too (server answered 554)",
			 L("500-Unrecognized command", "500 'XXXX'", "554 5.7.1 Access denied")},
		},
		.box = "cisco-pix-mailguard",
	},
	{
		.name = "PIX 4: SMTP/cmap banner, Postfix refuses the X-ed EHLO without echo",
		.greeting = L("220 SMTP/cmap ready__________________"),
		.ehlo = L("502 5.5.2 Error: command not recognized"),
		.helo = L("250 mail.example.com"),
		.want = {
			{SF_FIND_EHLO_REFUSED, SF_CRITICAL, "cisco-pix-mailguard",
			 "EHLO refused (server answered 502)" HELO_WORKS,
			 L("502 5.5.2 Error: command not recognized", "250 mail.example.com")},
			{SF_FIND_BANNER_MASKED, SF_WARNING, "cisco-pix4",
			 "greeting banner replaced by \"SMTP/cmap ready\"",
			 L("220 SMTP/cmap ready__________________")},
		},
		.banner_masked = 1, .box = "cisco-pix-mailguard",
	},
	{
		/* all '*' alone would be an ASA, but the ASA knows EHLO: a PIX
		 * whose banner had no 2 or 0 (doc/inspection-boxes.md 1, 2) */
		.name = "PIX 6 on a banner without 2 or 0: EHLO refused without echo",
		.greeting = L("220 *******************************"),
		.ehlo = L("500 5.5.2 Error: command not recognized"),
		.helo = L("250 mail.postfix.test"),
		.want = {
			{SF_FIND_EHLO_REFUSED, SF_CRITICAL, "cisco-pix-mailguard",
			 "EHLO refused (server answered 500)" HELO_WORKS,
			 L("500 5.5.2 Error: command not recognized", "250 mail.postfix.test")},
			{SF_FIND_BANNER_MASKED, SF_WARNING, "cisco-pix-fixup", BANNER_SUMMARY,
			 L("220 *******************************")},
		},
		.banner_masked = 1, .box = "cisco-pix-mailguard",
	},
	{
		.name = "PIX multi-line greeting masked line by line",
		.greeting = L("220-**************0******", "220 *******2**0*********"),
		.want = {
			{SF_FIND_BANNER_MASKED, SF_WARNING, "cisco-pix-fixup", BANNER_SUMMARY,
			 L("220-**************0******", "220 *******2**0*********")},
		},
		.banner_masked = 1, .box = "cisco-pix-fixup",
	},
	{
		.name = "EHLO answered 250 Ok, no HELO sent",
		.greeting = L("220 mail.example.com ESMTP"),
		.ehlo = L("250 Ok"),
		.want = {
			{SF_FIND_EHLO_NOOP, SF_CRITICAL, "cisco-pix-mailguard",
			 "EHLO answered like NOOP: a firewall turned it into NOOP, no ESMTP", L("250 Ok")},
		},
		.box = "cisco-pix-mailguard",
	},
	{
		.name = "EHLO refused 421 without echo",
		.greeting = L("220 mail.example.com ESMTP"),
		.ehlo = L("421 4.7.0 mail.example.com Error: too many connections from 192.0.2.10"),
		.want = {
			{SF_FIND_SERVER_CLOSED, SF_CRITICAL, NULL,
			 "the server ended the session itself: \"421 4.7.0 mail.example.com Error: too many connections from 192.0.2.10\"",
			 L("421 4.7.0 mail.example.com Error: too many connections from 192.0.2.10")},
			{SF_FIND_EHLO_REFUSED, SF_CRITICAL, NULL, "EHLO refused (server answered 421)",
			 L("421 4.7.0 mail.example.com Error: too many connections from 192.0.2.10")},
		},
	},
	{
		.name = "EHLO answered 354: not 2xx counts as refused",
		.greeting = L("220 mail.example.com ESMTP"),
		.ehlo = L("354 go ahead"),
		.required = L("STARTTLS"),
		.want = {
			{SF_FIND_EHLO_REFUSED, SF_CRITICAL, NULL, "EHLO refused (server answered 354)",
			 L("354 go ahead")},
			{SF_FIND_EXT_MISSING, SF_CRITICAL, NULL,
			 "required extension STARTTLS not offered (EHLO failed)", L("354 go ahead")},
		},
	},
	/* --- the list itself --- */
	{
		.name = "required extensions missing, duplicates and empty names ignored",
		.greeting = L("220 mx.example.net ESMTP OpenSMTPD"),
		.ehlo = opensmtpd_ehlo,
		.required = L("CHUNKING", "SMTPUTF8", "starttls", "", "chunking"),
		.want = {
			{SF_FIND_EXT_MISSING, SF_CRITICAL, NULL,
			 "required extensions CHUNKING, SMTPUTF8 not offered", opensmtpd_ehlo},
		},
		.extensions = 6,
	},
	{
		.name = "BINARYMIME without CHUNKING, nothing masked",
		.greeting = L("220 mail.example.com ESMTP"),
		.ehlo = L("250-mail.example.com", "250-PIPELINING", "250-BINARYMIME", "250 8BITMIME"),
		.want = {
			{SF_FIND_EXT_INCONSISTENT, SF_WARNING, NULL,
			 "BINARYMIME offered without CHUNKING (RFC 3030 requires both); CHUNKING may"
			 " have been removed on the way",
			 L("250-BINARYMIME")},
		},
		.extensions = 3,
	},
	/* --- other vendors --- */
	{
		.name = "Check Point FireWall-1, ESMTP",
		.greeting = L("220 CheckPoint FireWall-1 secure ESMTP server"),
		.want = {
			{SF_FIND_FINGERPRINT, SF_OK, "checkpoint-fw1",
			 "greeting matches Check Point FireWall-1 SMTP security server",
			 L("220 CheckPoint FireWall-1 secure ESMTP server")},
		},
		.box = "checkpoint-fw1",
	},
	{
		.name = "Check Point FireWall-1, SMTP, second greeting line",
		.greeting = L("220-mail.example.com", "220 CheckPoint FireWall-1 secure SMTP server"),
		.want = {
			{SF_FIND_FINGERPRINT, SF_OK, "checkpoint-fw1",
			 "greeting matches Check Point FireWall-1 SMTP security server",
			 L("220 CheckPoint FireWall-1 secure SMTP server")},
		},
		.box = "checkpoint-fw1",
	},
	{
		.name = "SonicWALL",
		.greeting = L("220 mail.example.com ESMTP SonicWALL (8.3.1.3417)"),
		.want = {
			{SF_FIND_FINGERPRINT, SF_OK, "sonicwall-es",
			 "greeting matches SonicWALL Email Security",
			 L("220 mail.example.com ESMTP SonicWALL (8.3.1.3417)")},
		},
		.box = "sonicwall-es",
	},
	{
		.name = "Barracuda",
		.greeting = L("220 mx.example.com ESMTP (5e4f6c2b9a1d8e7f0c3b2a1d4e5f6a7b)"),
		.want = {
			{SF_FIND_FINGERPRINT, SF_OK, "barracuda",
			 "greeting matches Barracuda Email Security Gateway",
			 L("220 mx.example.com ESMTP (5e4f6c2b9a1d8e7f0c3b2a1d4e5f6a7b)")},
		},
		.box = "barracuda",
	},
	{
		.name = "F-Secure with STARTTLS deleted",
		.greeting = L("220 mail.example.com F-Secure/fsigk_smtp/521/mail.example.com"),
		.ehlo = fsecure_ehlo,
		.required = L("STARTTLS"),
		.want = {
			{SF_FIND_EXT_MISSING, SF_CRITICAL, NULL, "required extension STARTTLS not offered",
			 fsecure_ehlo},
			{SF_FIND_FINGERPRINT, SF_OK, "fsecure-igk",
			 "greeting matches F-Secure Internet Gatekeeper SMTP proxy",
			 L("220 mail.example.com F-Secure/fsigk_smtp/521/mail.example.com")},
		},
		.extensions = 3, .box = "fsecure-igk",
	},
	{
		.name = "WatchGuard",
		.greeting = L("220 SMTP service ready"),
		.want = {
			{SF_FIND_FINGERPRINT, SF_OK, "watchguard-smtp-proxy",
			 "greeting matches WatchGuard SMTP proxy", L("220 SMTP service ready")},
		},
		.box = "watchguard-smtp-proxy",
	},
	{
		.name = "near-misses of the vendor banners",
		.greeting = L("220-checkpoint.example.com ESMTP Postfix", "220-mx.example.com ESMTP SonicWALL",
			      "220-mx.example.com ESMTP (0123456789abcdef)", "220-mail.example.com SMTP service ready",
			      "220 mail.example.com ESMTP F-Secure-fan"),
	},

	/* --- open-source proxies that show themselves: notes, never a Cisco box --- */
	{
		/* stunnel4 5.68 (Debian 12), protocol = smtp, in front of
		 * tools/smtp-inspect-emu --persona postfix: its exact words */
		.name = "stunnel, protocol = smtp",
		.greeting = L(STUNNEL_GREETING),
		.ehlo = L("250-mail.example.org", "250 STARTTLS"),
		.want = {
			{SF_FIND_PROXY, SF_OK, "stunnel",
			 "greeting shows stunnel (protocol = smtp): a proxy in the path, not a fault by itself",
			 L(STUNNEL_GREETING)},
		},
		.extensions = 1, .box = "stunnel",
	},
	{
		.name = "old stunnel: + stunnel appended",
		.greeting = L("220 mail.example.org ESMTP Postfix + stunnel"),
		.want = {
			{SF_FIND_PROXY, SF_OK, "stunnel-old",
			 "greeting shows stunnel (protocol = smtp, before 5): a proxy in the path, not a fault by itself",
			 L("220 mail.example.org ESMTP Postfix + stunnel")},
		},
		.box = "stunnel-old",
	},
	{
		/* proxsmtp 1.10 (Debian 12) in front of the emulator's Postfix;
		 * clamsmtp 1.10 says exactly the same */
		.name = "proxsmtpd: greeting and XFILTERED",
		.greeting = L("220 smtp.passthru"),
		.ehlo = proxsmtpd_ehlo,
		.want = {
			{SF_FIND_PROXY, SF_OK, "proxsmtpd",
			 "greeting and EHLO reply show proxsmtpd/clamsmtpd filtering SMTP proxy: a proxy in the"
			 " path, not a fault by itself",
			 L("220 smtp.passthru", "250 XFILTERED")},
		},
		.extensions = 8, .box = "proxsmtpd",
	},
	{
		.name = "proxsmtpd behind a rewritten greeting: XFILTERED alone",
		.greeting = L(POSTFIX_BANNER),
		.ehlo = proxsmtpd_ehlo,
		.want = {
			{SF_FIND_PROXY, SF_OK, "proxsmtpd",
			 "EHLO reply shows proxsmtpd/clamsmtpd filtering SMTP proxy: a proxy in the path, not a"
			 " fault by itself",
			 L("250 XFILTERED")},
		},
		.extensions = 8, .box = "proxsmtpd",
	},
	{
		/* nginx 1.22 (Debian 12), mail { server_name mx.example.org;
		 * protocol smtp; smtp_auth none; }: both replies verbatim */
		.name = "nginx mail proxy",
		.greeting = L("220 mx.example.org ESMTP ready"),
		.ehlo = L("250 mx.example.org"),
		.want = {
			{SF_FIND_PROXY, SF_OK, "nginx-mail",
			 "greeting shows nginx mail proxy: a proxy in the path, not a fault by itself",
			 L("220 mx.example.org ESMTP ready")},
		},
		.box = "nginx-mail",
	},
	{
		/* smap speaks RFC 821: EHLO refused, HELO works; the refusal is
		 * the wrapper's, not a Cisco box's */
		.name = "TIS FWTK smap is not PIX 4's cmap",
		.greeting = L("220 gw.example.org SMTP/smap Ready."),
		.ehlo = L("500 Command unrecognized"),
		.helo = L("250 gw.example.org"),
		.want = {
			{SF_FIND_EHLO_REFUSED, SF_CRITICAL, NULL, "EHLO refused (server answered 500)" HELO_WORKS,
			 L("500 Command unrecognized", "250 gw.example.org")},
			{SF_FIND_PROXY, SF_OK, "tis-smap",
			 "greeting shows TIS FWTK smap (SMTP wrapper): a proxy in the path, not a fault by itself",
			 L("220 gw.example.org SMTP/smap Ready.")},
		},
		.box = "tis-smap",
	},
	{
		.name = "near-misses of the proxy banners and keywords",
		.greeting = L("220-stunnel.example.org ESMTP Postfix", "220-smtp.passthru.example.org ESMTP",
			      "220-mx.example.org ESMTP ready now", "220-mx.example.org SMTP/smaps Ready",
			      "220 mail.example.org ESMTP Postfix + stunnel now"),
		.ehlo = L("250-mail.example.org", "250-XFILTER", "250-XFILTEREDX", "250 X-FILTERED"),
		.extensions = 3,
	},

	/* --- STARTTLS as a witness (-S) --- */
	{
		.name = "clean Postfix with -S: AUTH inside TLS only is legitimate",
		.greeting = L("220 mail.example.com ESMTP Postfix"),
		.ehlo = postfix_ehlo,
		.required = L("AUTH"),
		.extensions = 10,
		.starttls_tried = 1,
		.starttls = L(STARTTLS_READY),
		.ehlo_tls = postfix_tls_ehlo,
		.tls_extensions = 10,
	},
	{
		.name = "EHLO inside TLS answered 221: the server's failure, no box",
		.greeting = L("220 mail.example.com ESMTP Postfix"),
		.ehlo = postfix_ehlo,
		.extensions = 10,
		.starttls_tried = 1,
		.starttls = L(STARTTLS_READY),
		.ehlo_tls = L("221 2.0.0 Bye"),
		.want = {
			{SF_FIND_EHLO_TLS_REFUSED, SF_CRITICAL, NULL,
			 "EHLO inside TLS not answered with an EHLO reply (server answered 221; only 250 answers EHLO: RFC 5321 4.1.1.1)",
			 L("221 2.0.0 Bye")},
		},
	},
	{
		.name = "EHLO answered 220 (a second greeting): not an EHLO reply",
		.greeting = L("220 mail.example.com ESMTP"),
		.ehlo = L("220 mail.example.com ESMTP"),
		.helo = L("250 mail.example.com"),
		.want = {
			{SF_FIND_EHLO_REFUSED, SF_CRITICAL, NULL,
			 "EHLO refused (server answered 220, but only 250 answers EHLO: RFC 5321 4.1.1.1); HELO works, so plain SMTP only (no ESMTP, no STARTTLS)",
			 L("220 mail.example.com ESMTP", "250 mail.example.com")},
		},
	},
	{
		.name = "ASA with allow-tls: CHUNKING masked outside, seen inside",
		.greeting = L(ASA_POSTFIX_BANNER),
		.ehlo = L("250-mail.example.com", "250-PIPELINING", "250-SIZE 10240000", "250-VRFY",
			  "250-ETRN", "250-STARTTLS", "250-ENHANCEDSTATUSCODES", "250-8BITMIME",
			  "250-DSN", "250-SMTPUTF8", "250 XXXXXXXA"),
		.want = {
			{SF_FIND_EXT_MASKED, SF_CRITICAL, "cisco-asa",
			 "1 of 10 ESMTP extensions masked (guess by length: CHUNKING)",
			 L("250 XXXXXXXA")},
			{SF_FIND_EXT_STRIPPED, SF_CRITICAL, "cisco-asa",
			 "1 extension hidden by the path (offered inside TLS, missing outside): CHUNKING",
			 L("250 CHUNKING")},
			{SF_FIND_BANNER_MASKED, SF_WARNING, "cisco-asa", BANNER_SUMMARY,
			 L(ASA_POSTFIX_BANNER)},
		},
		.extensions = 10,
		.masked = 1,
		.banner_masked = 1,
		.box = "cisco-asa",
		.starttls_tried = 1,
		.starttls = L(STARTTLS_READY),
		.ehlo_tls = postfix_tls_ehlo,
		.tls_extensions = 10,
		.stripped = 1,
	},
	{
		.name = "ASA default policy: STARTTLS masked and X-ed",
		.greeting = L(ASA_POSTFIX_BANNER),
		.ehlo = asa_postfix_ehlo,
		.want = {
			{SF_FIND_EXT_MASKED, SF_CRITICAL, "cisco-asa",
			 "2 of 10 ESMTP extensions masked (guess by length: STARTTLS or CHUNKING)",
			 L("250-XXXXXXXA", "250 XXXXXXXB")},
			{SF_FIND_STARTTLS_REFUSED, SF_CRITICAL, "cisco-asa",
			 "STARTTLS refused (server answered 502); STARTTLS is missing from the EHLO reply, "
			 "probably one of the masked lines: mail travels in clear text",
			 L(POSTFIX_UNRECOGNISED)},
			{SF_FIND_BANNER_MASKED, SF_WARNING, "cisco-asa", BANNER_SUMMARY,
			 L(ASA_POSTFIX_BANNER)},
		},
		.extensions = 10,
		.masked = 2,
		.banner_masked = 1,
		.box = "cisco-asa",
		.starttls_tried = 1,
		.starttls = L(POSTFIX_UNRECOGNISED),
	},
	{
		.name = "a proxy keeping five lines (Zorp style)",
		.greeting = L("220 mail.example.com ESMTP Postfix"),
		.ehlo = L("250-mail.example.com", "250-PIPELINING", "250-SIZE 10240000", "250-ETRN",
			  "250-STARTTLS", "250 8BITMIME"),
		.want = {
			{SF_FIND_EXT_STRIPPED, SF_CRITICAL, NULL,
			 "5 extensions hidden by the path (offered inside TLS, missing outside): VRFY, "
			 "ENHANCEDSTATUSCODES, DSN, SMTPUTF8, CHUNKING",
			 L("250-VRFY", "250-ENHANCEDSTATUSCODES", "250-DSN", "250-SMTPUTF8",
			   "250 CHUNKING")},
		},
		.extensions = 5,
		.starttls_tried = 1,
		.starttls = L(STARTTLS_READY),
		.ehlo_tls = postfix_tls_ehlo,
		.tls_extensions = 10,
		.stripped = 5,
	},
	{
		.name = "STARTTLS removed from the list but working",
		.greeting = L("220 mail.example.com ESMTP Postfix"),
		.ehlo = L("250-mail.example.com", "250-PIPELINING", "250-SIZE 10240000", "250-VRFY",
			  "250-ETRN", "250-ENHANCEDSTATUSCODES", "250-8BITMIME", "250-DSN",
			  "250-SMTPUTF8", "250 CHUNKING"),
		.want = {
			{SF_FIND_EXT_STRIPPED, SF_CRITICAL, NULL,
			 "1 extension hidden by the path (offered inside TLS, missing outside): STARTTLS",
			 L(STARTTLS_READY)},
		},
		.extensions = 9,
		.starttls_tried = 1,
		.starttls = L(STARTTLS_READY),
		.ehlo_tls = postfix_tls_ehlo,
		.tls_extensions = 10,
		.stripped = 1,
	},
	{
		.name = "a server without TLS: a warning, no box",
		.greeting = L("220 mx.example.net ESMTP Exim 4.96"),
		.ehlo = L("250-mx.example.net Hello client.example.net [192.0.2.10]", "250-SIZE 52428800",
			  "250-8BITMIME", "250-PIPELINING", "250 HELP"),
		.want = {
			{SF_FIND_STARTTLS_MISSING, SF_WARNING, NULL,
			 "STARTTLS not offered (server answered 500 to it): mail to this server travels "
			 "in clear text",
			 L("500 unrecognized command")},
		},
		.extensions = 4,
		.starttls_tried = 1,
		.starttls = L("500 unrecognized command"),
	},
	{
		.name = "STARTTLS offered, then the handshake fails",
		.greeting = L("220 mail.example.com ESMTP Postfix"),
		.ehlo = postfix_ehlo,
		.want = {
			{SF_FIND_TLS_FAILED, SF_CRITICAL, NULL,
			 "STARTTLS accepted but the TLS handshake failed: wrong version number",
			 L(STARTTLS_READY, "wrong version number")},
		},
		.extensions = 10,
		.starttls_tried = 1,
		.starttls = L(STARTTLS_READY),
		.tls_error = "wrong version number",
	},
	{
		.name = "--tls-ignore empty of AUTH: AUTH inside only is reported",
		.greeting = L("220 mail.example.com ESMTP Postfix"),
		.ehlo = postfix_ehlo,
		.want = {
			{SF_FIND_EXT_STRIPPED, SF_CRITICAL, NULL,
			 "1 extension hidden by the path (offered inside TLS, missing outside): AUTH",
			 L("250-AUTH PLAIN LOGIN")},
		},
		.extensions = 10,
		.starttls_tried = 1,
		.starttls = L(STARTTLS_READY),
		.ehlo_tls = postfix_tls_ehlo,
		.tls_ignore = L("STARTTLS"),
		.tls_extensions = 10,
		.stripped = 1,
	},
	/* --- probe commands (--probe) --- */
	{
		.name = "clean Postfix answers every probe harmlessly",
		.greeting = L("220 mail.example.com ESMTP Postfix"),
		.ehlo = postfix_ehlo,
		.extensions = 10,
		.probe = {
			{"BDAT 0 LAST", "CHUNKING", L("503 5.5.1 Error: need MAIL command"), 0},
			{long_noop, NULL, L("250 2.0.0 Ok"), 0},
			{"RSET", NULL, L("250 2.0.0 Ok"), 0},
		},
	},
	{
		.name = "ASA: STARTTLS works though masked, BDAT unrecognised though CHUNKING is offered inside TLS, long line dropped",
		.greeting = L(ASA_POSTFIX_BANNER),
		.ehlo = asa_postfix_ehlo,
		.want = {
			{SF_FIND_EXT_MASKED, SF_CRITICAL, "cisco-asa",
			 "2 of 10 ESMTP extensions masked (guess by length: STARTTLS or CHUNKING)",
			 L("250-XXXXXXXA", "250 XXXXXXXB")},
			{SF_FIND_EXT_STRIPPED, SF_CRITICAL, "cisco-asa",
			 "2 extensions hidden by the path (offered inside TLS, missing outside): "
			 "STARTTLS, CHUNKING",
			 L(STARTTLS_READY, "250 CHUNKING")},
			{SF_FIND_PROBE, SF_CRITICAL, "cisco-asa",
			 "the probe BDAT (13 octets with CRLF) was called unrecognised (server answered "
			 "502) although the server offers CHUNKING: the path rewrites it",
			 L("BDAT 0 LAST", POSTFIX_UNRECOGNISED)},
			{SF_FIND_PROBE, SF_CRITICAL, "cisco-asa",
			 "the connection was dropped after the probe NOOP (607 octets with CRLF): the "
			 "default ASA policy drops command lines over 512 octets",
			 L(LONG_NOOP_START)},
			{SF_FIND_BANNER_MASKED, SF_WARNING, "cisco-asa", BANNER_SUMMARY,
			 L(ASA_POSTFIX_BANNER)},
		},
		.extensions = 10,
		.masked = 2,
		.banner_masked = 1,
		.box = "cisco-asa",
		.starttls_tried = 1,
		.starttls = L(STARTTLS_READY),
		.ehlo_tls = postfix_tls_ehlo,
		.tls_extensions = 10,
		.stripped = 2,
		.probe = {
			{"BDAT 0 LAST", "CHUNKING", L(POSTFIX_UNRECOGNISED), 0},
			{long_noop, NULL, NULL, 1},
		},
	},
	{
		.name = "a probe echoed as X's",
		.greeting = L("220 relay.example.edu ESMTP Sendmail 8.17.1"),
		.ehlo = L("250-relay.example.edu Hello", "250 ENHANCEDSTATUSCODES"),
		.want = {
			{SF_FIND_PROBE, SF_CRITICAL, "cisco-asa",
			 "the probe BDAT (13 octets with CRLF) reached the server as X's (server answered 500)",
			 L("BDAT 0 LAST", "500 5.5.1 Command unrecognized: \"XXXX 0 LAST\"")},
		},
		.extensions = 1,
		.box = "cisco-asa",
		.probe = {
			{"BDAT 0 LAST", "CHUNKING", L("500 5.5.1 Command unrecognized: \"XXXX 0 LAST\""), 0},
		},
	},
	/* the server's own policy: a reply, then its close; never a box */
	{
		.name = "Haraka refuses the long NOOP with 521 and closes: a note, RSET not named",
		.greeting = L("220 mx.example.org ESMTP Haraka/3.0.3 ready"),
		.ehlo = L("250-mx.example.org Hello", "250-PIPELINING", "250 8BITMIME"),
		.want = {
			{SF_FIND_PROBE_REFUSED, SF_OK, NULL,
			 "the server refused the probe NOOP (607 octets with CRLF) (521) and closed the "
			 "connection: its own policy, not a box",
			 L("521 Command line too long")},
		},
		.extensions = 2,
		.probe = {
			{"BDAT 0 LAST", "CHUNKING", L("502 5.5.2 Command not implemented"), 0},
			{long_noop, NULL, L("521 Command line too long"), 0, 1},
		},
	},
	{
		.name = "postscreen answers BDAT 554 and closes: a note",
		.greeting = L("220 mx.example.org ESMTP Postfix"),
		.ehlo = L("250-mx.example.org", "250-PIPELINING", "250 CHUNKING"),
		.want = {
			{SF_FIND_PROBE_REFUSED, SF_OK, NULL,
			 "the server refused the probe BDAT (13 octets with CRLF) (554) and closed the "
			 "connection: its own policy, not a box",
			 L("554 5.5.1 Error: no valid recipients")},
		},
		.extensions = 2,
		.probe = {
			{"BDAT 0 LAST", "CHUNKING", L("554 5.5.1 Error: no valid recipients"), 0, 1},
		},
	},
	{
		.name = "BDAT called unrecognised though offered, no mask, no echo: no box named",
		.greeting = L("220 mx.example.org ESMTP"),
		.ehlo = L("250-mx.example.org", "250 CHUNKING"),
		.want = {
			{SF_FIND_PROBE, SF_CRITICAL, NULL,
			 "the probe BDAT (13 octets with CRLF) was called unrecognised (server answered "
			 "502) although the server offers CHUNKING: the path rewrites it",
			 L("BDAT 0 LAST", "502 5.5.2 Error: command not recognized")},
		},
		.extensions = 1,
		.probe = {
			{"BDAT 0 LAST", "CHUNKING", L("502 5.5.2 Error: command not recognized"), 0},
		},
	},
};

/* --- running a row ------------------------------------------------------ */

static size_t count_lines(const char *const *l)
{
	size_t n = 0;

	while (l != NULL && l[n] != NULL)
		n++;
	return n;
}

static const char *box_id(const struct sf_box *b)
{
	return b ? b->id : "(none)";
}

static void check_str(const char *row, const char *what, const char *got, const char *want)
{
	if (got == NULL || strcmp(got, want) != 0)
		fail_msg("%s: %s\n   got \"%s\"\n  want \"%s\"", row, what, got ? got : "(null)", want);
}

static void check_finding(const struct row *t, size_t i, const struct sf_finding *f)
{
	const struct want *w = &t->want[i];
	size_t nev = count_lines(w->evidence);

	if (f->kind != w->kind || f->state != w->state)
		fail_msg("%s: finding %zu is kind %d state %d, want kind %d state %d", t->name, i,
			 (int)f->kind, (int)f->state, (int)w->kind, (int)w->state);
	check_str(t->name, "summary", f->summary, w->summary);
	check_str(t->name, "finding box", box_id(f->box), w->box ? w->box : "(none)");
	if (f->nevidence != nev)
		fail_msg("%s: finding %zu has %zu evidence lines, want %zu", t->name, i,
			 f->nevidence, nev);
	for (size_t k = 0; k < nev; k++)
		check_str(t->name, "evidence", f->evidence[k], w->evidence[k]);
}

struct inputs {
	struct sf_reply *greeting, *ehlo, *helo, *starttls, *ehlo_tls, *probe_reply[3];
	struct sf_reply *ref_greeting, *ref_ehlo;
	struct sf_probe probes[3];
	struct sf_verdict_input in;
};

static const char *const default_tls_ignore[] = {"STARTTLS", "AUTH", NULL};

static void inputs_make(const struct row *t, struct inputs *x)
{
	memset(x, 0, sizeof *x);
	x->greeting = reply_from_array(t->greeting);
	x->ehlo = t->ehlo ? reply_from_array(t->ehlo) : NULL;
	x->helo = t->helo ? reply_from_array(t->helo) : NULL;
	x->in.greeting = x->greeting;
	x->in.ehlo = x->ehlo;
	x->in.helo = x->helo;
	x->in.required = t->required;
	x->in.nrequired = count_lines(t->required);
	x->starttls = t->starttls ? reply_from_array(t->starttls) : NULL;
	x->ehlo_tls = t->ehlo_tls ? reply_from_array(t->ehlo_tls) : NULL;
	x->in.starttls_tried = t->starttls_tried;
	x->in.starttls = x->starttls;
	x->in.tls_error = t->tls_error;
	x->in.ehlo_tls = x->ehlo_tls;
	x->in.tls_ignore = t->tls_ignore ? t->tls_ignore : default_tls_ignore;
	x->in.ntls_ignore = count_lines(x->in.tls_ignore);
	for (size_t i = 0; i < 3 && t->probe[i].sent != NULL; i++) {
		x->probe_reply[i] = t->probe[i].reply ? reply_from_array(t->probe[i].reply) : NULL;
		x->probes[i] = (struct sf_probe){t->probe[i].sent, t->probe[i].keyword,
						 x->probe_reply[i], t->probe[i].dropped,
						 t->probe[i].closed_after};
		x->in.nprobes = i + 1;
	}
	x->in.probes = x->probes;
	x->ref_greeting = t->ref_greeting ? reply_from_array(t->ref_greeting) : NULL;
	x->ref_ehlo = t->ref_ehlo ? reply_from_array(t->ref_ehlo) : NULL;
	x->in.ref_greeting = x->ref_greeting;
	x->in.ref_ehlo = x->ref_ehlo;
	x->in.baseline_banner = t->baseline_banner;
	x->in.baseline_kw = t->baseline_kw;
	x->in.nbaseline_kw = count_lines(t->baseline_kw);
}

static void inputs_free(struct inputs *x)
{
	sf_reply_free(x->greeting);
	sf_reply_free(x->ehlo);
	sf_reply_free(x->helo);
	sf_reply_free(x->starttls);
	sf_reply_free(x->ehlo_tls);
	sf_reply_free(x->ref_greeting);
	sf_reply_free(x->ref_ehlo);
	for (size_t i = 0; i < 3; i++)
		sf_reply_free(x->probe_reply[i]);
}

static void check_row(const struct row *t)
{
	struct inputs x;
	struct sf_verdict *v = NULL;
	size_t nwant = 0;

	while (nwant < WANT_MAX && t->want[nwant].summary != NULL)
		nwant++;
	inputs_make(t, &x);
	if (sf_verdict_make(&x.in, &v) != 0 || v == NULL)
		fail_msg("%s: sf_verdict_make failed", t->name);
	if (v->nfindings != nwant) {
		for (size_t i = 0; i < v->nfindings; i++)
			print_error("  got: %s\n", v->findings[i].summary);
		fail_msg("%s: %zu findings, want %zu", t->name, v->nfindings, nwant);
	}
	for (size_t i = 0; i < nwant; i++)
		check_finding(t, i, &v->findings[i]);
	if (v->extensions != t->extensions || v->masked_extensions != t->masked ||
	    v->banner_masked != t->banner_masked)
		fail_msg("%s: counts %u/%u/%d, want %u/%u/%d", t->name, v->extensions,
			 v->masked_extensions, v->banner_masked, t->extensions, t->masked,
			 t->banner_masked);
	check_str(t->name, "verdict box", box_id(v->box), t->box ? t->box : "(none)");
	if (v->tls_extensions != t->tls_extensions || v->stripped_extensions != t->stripped)
		fail_msg("%s: TLS counts %u/%u, want %u/%u", t->name, v->tls_extensions,
			 v->stripped_extensions, t->tls_extensions, t->stripped);
	if (v->reference_missing != t->ref_missing)
		fail_msg("%s: reference_missing %u, want %u", t->name, v->reference_missing,
			 t->ref_missing);
	if (v->baseline_gone != t->baseline_gone)
		fail_msg("%s: baseline_gone %u, want %u", t->name, v->baseline_gone,
			 t->baseline_gone);
	sf_verdict_free(v);
	inputs_free(&x);
}

static void test_rows(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
		check_row(&rows[i]);
}

/* --- the transcripts are what the documented masking makes ----------------- */

/* PIX 5.1-6.x: every character but '2' and '0' becomes '*'. */
static void pix_mask(char *dst, const char *src)
{
	for (; *src; src++)
		*dst++ = (*src == '2' || *src == '0') ? *src : '*';
	*dst = '\0';
}

static void test_masked_transcripts(void **state)
{
	char buf[256];

	(void)state;
	pix_mask(buf, "mail.example.com ESMTP Postfix 2024-02-20");
	assert_string_equal(PIX_POSTFIX_BANNER + 4, buf);
	pix_mask(buf, "relay.example.edu ESMTP Sendmail 8.14.4/8.14.4; Thu, 20 Feb 2020 10:02:00 -0500");
	assert_string_equal(PIX_SENDMAIL_BANNER + 4, buf);
	/* ASA: same length, all '*' */
	assert_int_equal(strlen(ASA_POSTFIX_BANNER + 4),
			 strlen("mail.example.com ESMTP Postfix (Debian/GNU)"));
	assert_int_equal(strspn(ASA_POSTFIX_BANNER + 4, "*"), strlen(ASA_POSTFIX_BANNER + 4));
	assert_int_equal(strlen(ASA_EX_BANNER), strlen(EX2016_BANNER));
	assert_int_equal(strspn(ASA_EX_BANNER + 4, "*"), strlen(ASA_EX_BANNER + 4));
	/* ASA: each masked EHLO line is as long as the line it hides */
	assert_int_equal(strlen(asa_ex_ehlo[5]), strlen("250-STARTTLS"));
	assert_int_equal(strlen(asa_ex_ehlo[7]), strlen("250-X-EXPS GSSAPI NTLM"));
	assert_int_equal(strlen(asa_ex_ehlo[10]), strlen("250-CHUNKING"));
	assert_int_equal(strlen(asa_ex_ehlo[11]), strlen("250 XEXCH50"));
	assert_int_equal(count_lines(asa_postfix_ehlo), count_lines(postfix_ehlo));
	for (size_t i = 0; postfix_ehlo[i] != NULL; i++)
		assert_int_equal(strlen(asa_postfix_ehlo[i]), strlen(postfix_ehlo[i]));
}

/* --- the pieces one by one ------------------------------------------------ */

struct banner_case {
	const char *const *lines;
	int masked;
	const char *box;
};

static const struct banner_case banner_cases[] = {
	{L("220 ****"), 1, "cisco-asa"},
	{L("220 **2**0"), 1, "cisco-pix-fixup"},
	{L("220 * * *"), 1, "cisco-asa"},
	{L("220 *\t*"), 1, "cisco-asa"},
	{L("220-****", "220 ****"), 1, "cisco-asa"},
	{L("220-2020", "220 ****"), 1, "cisco-pix-fixup"},
	{L("220-", "220 ****"), 1, "cisco-asa"},
	{L("220-*****", "220 mail.example.com"), 0, NULL},
	{L("220 *** ACME mail ***"), 0, NULL},
	{L("220 2020"), 0, NULL},
	{L("220 ****."), 0, NULL},
	{L("220 ****x"), 0, NULL},
	{L("220"), 0, NULL},
	{L("220 "), 0, NULL},
	{L("220    "), 0, NULL},
	{L("220 SMTP/cmap ready"), 1, "cisco-pix4"},
	{L("220 SMTP/cmap ready________"), 1, "cisco-pix4"},
	{L("220 smtp/CMAP  READY __ _ "), 1, "cisco-pix4"},
	{L("220-mail.example.com", "220 SMTP/cmap ready"), 1, "cisco-pix4"},
	{L("220 SMTP/cmap ready_x"), 0, NULL},
	{L("220 SMTP/cmap_________________________ read"), 1, "cisco-pix4"},
	{L("220 SMTP/cmap_____ mail"), 0, NULL},
	{L("220 SMTP/cmap readyx"), 0, NULL},
	{L("220 SMTP/cmapready"), 0, NULL},
	/* the box keeps the length, so a short original cuts the text */
	{L("220 SMTP/cmap rea"), 1, "cisco-pix4"},
	{L("220 SMTP/cmap"), 1, "cisco-pix4"},
	{L("220 SMTP/cmaps ready"), 0, NULL},
	{L("220 mail.example.com SMTP/cmap ready"), 0, NULL},
};

static void test_banner_masked(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof banner_cases / sizeof banner_cases[0]; i++) {
		struct sf_reply *r = reply_from_array(banner_cases[i].lines);
		const struct sf_box *box = sf_fingerprint_at(0); /* must be reset */
		int m = sf_banner_masked(r, &box);

		if (m != banner_cases[i].masked)
			fail_msg("\"%s\": masked %d, want %d", banner_cases[i].lines[0], m,
				 banner_cases[i].masked);
		check_str(banner_cases[i].lines[0], "box", box_id(box),
			  banner_cases[i].box ? banner_cases[i].box : "(none)");
		assert_int_equal(sf_banner_masked(r, NULL), banner_cases[i].masked);
		sf_reply_free(r);
	}
	assert_int_equal(sf_banner_masked(NULL, NULL), 0);
}

/* A copy of s[0..len) with no terminator after it. */
static char *exact_copy(const char *s, size_t len)
{
	char *p = malloc(len ? len : 1);

	assert_non_null(p);
	memcpy(p, s, len);
	return p;
}

static void test_x_echo(void **state)
{
	static const struct {
		const char *text;
		size_t len; /* 0: strlen */
		int echo;
	} cases[] = {
		{"5.5.1 Command unrecognized: \"XXXX client.example.net\"", 0, 1},
		{"5.5.1 Unrecognized command 'XXXXXXXX'", 0, 1},
		{"XXXX", 0, 1},
		{"(XXXX).", 0, 1},
		{"\"XXXX:\"", 0, 1},
		{"command XXXXXXXXXXXXXXXXXXXX not known", 0, 1},
		{"'XXXX'", 5, 1}, /* cut before the closing quote */
		{"XXXX", 3, 0},   /* cut to three X's */
		{"XXX", 0, 0},
		{"XXXXa", 0, 0},
		{"xxxx", 0, 0},
		{"X-XXXX", 0, 0},
		{"XX XX", 0, 0},
		{"XXXXXXXA", 0, 0},
		{"5.5.1 Command unrecognized: \"XCLIENT NAME=x\"", 0, 0},
		{"5.5.2 Error: command not recognized", 0, 0},
		{"", 0, 0},
		{"'''' \"\"", 0, 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t len = cases[i].len ? cases[i].len : strlen(cases[i].text);
		char *p = exact_copy(cases[i].text, len);
		int got = sf_text_has_x_echo(p, len);

		free(p);
		if (got != cases[i].echo)
			fail_msg("\"%s\" (len %zu): echo %d, want %d", cases[i].text, len, got,
				 cases[i].echo);
	}
	assert_int_equal(sf_text_has_x_echo(NULL, 4), 0);
}

static const struct noop_case {
	const char *const *lines;
	int noop;
} noop_cases[] = {
	{L("250 2.0.0 Ok"), 1},
	{L("250 Ok"), 1},
	{L("250 OK"), 1},
	{L("250 ok"), 1},
	{L("250 2.0.0"), 1},
	{L("250 4.7.0 later"), 1},
	{L("250 2.999.999 x"), 1},
	{L("250"), 1},
	{L("250 "), 1},
	{L("250  2.0.0 Ok"), 1},
	{L("250 mail.example.com"), 0},
	{L("250 mail.example.com Hello client.example.net"), 0},
	{L("250 2.0"), 0},
	{L("250 2.0.0.0 Ok"), 0},
	{L("250 2.0.0. Ok"), 0},
	{L("250 3.0.0 Ok"), 0},
	{L("250 2.1000.0 x"), 0},
	{L("250 2..0 x"), 0},
	{L("250 Okay"), 0},
	{L("250 Ok."), 0},
	{L("220 2.0.0 Ok"), 0},
	{L("500 5.5.1 Ok"), 0},
	{L("250-mail.example.com", "250 PIPELINING"), 0},
	{L("250-2.0.0 Ok", "250 Ok"), 0},
};

static void test_noop_like(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof noop_cases / sizeof noop_cases[0]; i++) {
		struct sf_reply *r = reply_from_array(noop_cases[i].lines);
		int got = sf_reply_is_noop_like(r);

		sf_reply_free(r);
		if (got != noop_cases[i].noop)
			fail_msg("\"%s\": noop-like %d, want %d", noop_cases[i].lines[0], got,
				 noop_cases[i].noop);
	}
	assert_int_equal(sf_reply_is_noop_like(NULL), 0);
}

static void test_kind_info(void **state)
{
	static const struct {
		enum sf_kind kind;
		const char *option;
		enum sf_state state;
	} want[] = {
		{SF_FIND_BANNER_MASKED, "banner-masked", SF_WARNING},
		{SF_FIND_EXT_MASKED, "extensions-masked", SF_CRITICAL},
		{SF_FIND_EHLO_REFUSED, "ehlo-refused", SF_CRITICAL},
		{SF_FIND_EHLO_NOOP, "ehlo-noop", SF_CRITICAL},
		{SF_FIND_EXT_MISSING, "missing-extension", SF_CRITICAL},
		{SF_FIND_EXT_INCONSISTENT, "inconsistent-extensions", SF_WARNING},
		{SF_FIND_FINGERPRINT, "fingerprint", SF_OK},
		{SF_FIND_EXT_STRIPPED, "extensions-stripped", SF_CRITICAL},
		{SF_FIND_STARTTLS_REFUSED, "starttls-refused", SF_CRITICAL},
		{SF_FIND_TLS_FAILED, "tls-failed", SF_CRITICAL},
		{SF_FIND_STARTTLS_MISSING, "starttls-missing", SF_WARNING},
		{SF_FIND_PROBE, "probe-rejected", SF_CRITICAL},
		{SF_FIND_REF_MISSING, "reference-missing", SF_CRITICAL},
		{SF_FIND_REF_BANNER, "reference-banner", SF_WARNING},
		{SF_FIND_BASELINE_CHANGED, "baseline-changed", SF_WARNING},
		{SF_FIND_PROXY, "proxy", SF_OK},
		{SF_FIND_DATA_DROPPED, "data-dropped", SF_CRITICAL},
		{SF_FIND_SESSION_FAILED, NULL, SF_CRITICAL},
		{SF_FIND_GREETING_REFUSED, NULL, SF_CRITICAL},
		{SF_FIND_SERVER_CLOSED, NULL, SF_CRITICAL},
		{SF_FIND_RESPONSE_TIME, NULL, SF_WARNING},
		{SF_FIND_REF_UNUSABLE, NULL, SF_UNKNOWN},
		{SF_FIND_LOCAL, NULL, SF_UNKNOWN},
		{SF_FIND_EHLO_TLS_REFUSED, NULL, SF_CRITICAL},
		{SF_FIND_PROBE_REFUSED, NULL, SF_OK},
		{SF_FIND_DATA_NOTE, NULL, SF_OK},
	};

	(void)state;
	assert_int_equal(sizeof want / sizeof want[0], SF_FIND__COUNT);
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		const struct sf_kind_info *k = sf_kind_info(want[i].kind);

		assert_non_null(k);
		if (want[i].option == NULL)
			assert_null(k->option);
		else
			assert_string_equal(k->option, want[i].option);
		assert_int_equal(k->default_state, want[i].state);
		assert_non_null(k->title);
		assert_true(k->title[0] != '\0');
	}
	assert_null(sf_kind_info(SF_FIND__COUNT));
	assert_null(sf_kind_info((enum sf_kind)-1));
}

static void test_bad_input(void **state)
{
	struct sf_verdict *v = NULL;
	struct sf_verdict_input in = {0};
	struct sf_reply *g = reply_from_lines(220, "220 mail.example.com ESMTP", NULL);

	(void)state;
	assert_int_equal(sf_verdict_make(NULL, &v), -1);
	/* no greeting (the session ended before it): a verdict all the same */
	assert_int_equal(sf_verdict_make(&in, &v), 0);
	assert_non_null(v);
	assert_int_equal(v->nfindings, 0);
	assert_int_equal(v->state, SF_OK);
	sf_verdict_free(v);
	v = NULL;
	in.greeting = g;
	assert_int_equal(sf_verdict_make(&in, NULL), -1);
	/* nrequired counts, the array needs no NULL at its end */
	{
		const char *req[2] = {"STARTTLS", "SMTPUTF8"};
		struct sf_reply *e = reply_from_lines(250, "250-mail.example.com", "250 STARTTLS", NULL);

		in.ehlo = e;
		in.required = req;
		in.nrequired = 1;
		assert_int_equal(sf_verdict_make(&in, &v), 0);
		assert_int_equal(v->nfindings, 0);
		sf_verdict_free(v);
		in.nrequired = 2;
		assert_int_equal(sf_verdict_make(&in, &v), 0);
		assert_int_equal(v->nfindings, 1);
		assert_string_equal(v->findings[0].summary, "required extension SMTPUTF8 not offered");
		sf_verdict_free(v);
		sf_reply_free(e);
	}
	sf_verdict_free(NULL);
	sf_reply_free(g);
}

/* --- out of memory: -1 and nothing leaked, at every allocation -------------- */

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SF_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define SF_ASAN 1
#endif

#if defined(__GLIBC__) && !defined(SF_ASAN)
/* glibc lets a program replace malloc; these forward to glibc's own. Under
 * ASan the sanitizer owns malloc, so the test is skipped there. */
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);

static long oom_countdown = -1; /* allocations left before one fails; -1: none fails */
static long oom_live;           /* blocks allocated minus blocks freed while armed */
static int oom_armed;

static int oom_fail_now(void)
{
	if (!oom_armed || oom_countdown < 0)
		return 0;
	return oom_countdown-- == 0;
}

void *malloc(size_t n)
{
	void *p = oom_fail_now() ? NULL : __libc_malloc(n);

	oom_live += oom_armed && p != NULL;
	return p;
}

void *calloc(size_t n, size_t size)
{
	void *p = oom_fail_now() ? NULL : __libc_calloc(n, size);

	oom_live += oom_armed && p != NULL;
	return p;
}

void *realloc(void *old, size_t n)
{
	void *p = oom_fail_now() ? NULL : __libc_realloc(old, n);

	oom_live += oom_armed && p != NULL && old == NULL;
	return p;
}

void free(void *p)
{
	oom_live -= oom_armed && p != NULL;
	__libc_free(p);
}

/* 1 if the replacement above is the malloc in use (valgrind puts its own
 * in place of it): with the first allocation failing, the verdict fails. */
static int oom_works(void)
{
	struct inputs x;
	struct sf_verdict *v = NULL;
	int rc;

	inputs_make(&rows[0], &x);
	oom_countdown = 0;
	oom_armed = 1;
	rc = sf_verdict_make(&x.in, &v);
	oom_armed = 0;
	oom_countdown = -1;
	sf_verdict_free(v);
	inputs_free(&x);
	return rc == -1;
}

static void test_out_of_memory(void **state)
{
	(void)state;
	if (!oom_works()) {
		print_message("malloc is not ours here (valgrind?): skipped\n");
		skip();
	}
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct inputs x;
		int rc = -1;

		inputs_make(&rows[i], &x);
		for (long fail_at = 0; rc != 0; fail_at++) {
			struct sf_verdict *v = NULL;

			assert_true(fail_at < 100000);
			oom_live = 0;
			oom_countdown = fail_at;
			oom_armed = 1;
			rc = sf_verdict_make(&x.in, &v);
			oom_armed = 0;
			if (rc != 0) {
				assert_int_equal(rc, -1);
				assert_null(v);
				if (oom_live != 0)
					fail_msg("%s: allocation %ld failed, %ld blocks leaked",
						 rows[i].name, fail_at, oom_live);
			} else {
				sf_verdict_free(v);
			}
		}
		inputs_free(&x);
	}
}
#else
static void test_out_of_memory(void **state)
{
	(void)state;
	skip();
}
#endif

/* --- the headline ------------------------------------------------------------ */

/* Every row of the table, and each with a long name: the headline stays
 * within SF_HEADLINE_MAX, leads with the box (or, with no box, the cause or
 * the target), and lists short forms of the findings that are not OK,
 * worst first, then "(+N more)" for the rest: every one is accounted for
 * and every item listed is the short form of a finding the long output
 * shows whole. */
static void check_headline(const struct sf_verdict *v, const char *target)
{
	const char *h = v->headline;
	const struct sf_box *box = NULL;
	const struct sf_finding *first = NULL;
	size_t bad = 0, listed = 0, more = 0;
	const char *p, *items;
	char brief[1024];

	assert_non_null(h);
	if (strlen(h) > SF_HEADLINE_MAX)
		fail_msg("headline of %zu octets: %s", strlen(h), h);
	for (const char *c = h; *c; c++)
		assert_true(*c >= 0x20 && *c <= 0x7e && *c != '|');
	for (size_t i = 0; i < v->nfindings; i++) {
		if (v->findings[i].state == SF_OK)
			continue;
		if (first == NULL)
			first = &v->findings[i];
		if (box == NULL)
			box = v->findings[i].box;
		bad++;
	}
	if (bad == 0)
		return; /* the OK line */
	if (box != NULL) {
		char lead[512];
		snprintf(lead, sizeof lead, "%s on the path to ", box->name);
		if (strncmp(h, lead, strlen(lead)) != 0)
			fail_msg("the box does not lead: %s", h);
		items = strstr(h, ": ");
		assert_non_null(items);
		items += 2;
	} else if (strncmp(h, target, strlen(target)) == 0 && h[strlen(target)] == ':') {
		items = h + strlen(target) + 2;
	} else {
		items = h; /* the cause leads, in its own words */
	}
	p = strstr(h, " (+");
	if (p != NULL && sscanf(p, " (+%zu more)", &more) != 1)
		more = 0;
	/* each finding that is not OK: listed in order, or counted in "+N" */
	for (size_t i = 0; i < v->nfindings && listed + more < bad; i++) {
		if (v->findings[i].state == SF_OK)
			continue;
		sf_finding_brief(v, &v->findings[i], brief, sizeof brief);
		if (strstr(items, brief) != NULL)
			listed++;
	}
	if (listed + more < bad && strstr(h, "...") == NULL)
		fail_msg("%zu of %zu findings neither listed nor counted: %s", bad - listed - more, bad, h);
}

static void test_headline(void **state)
{
	static char long_name[300];
	const char *names[] = {"mx1.example.org", long_name};
	(void)state;

	memset(long_name, 'm', 250);
	memcpy(long_name + 250, ".example.org", 13);
	for (size_t n = 0; n < 2; n++) {
		for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
			struct inputs x;
			struct sf_verdict *v = NULL;

			inputs_make(&rows[i], &x);
			x.in.target = names[n];
			assert_int_equal(sf_verdict_make(&x.in, &v), 0);
			check_headline(v, names[n]);
			sf_verdict_free(v);
			inputs_free(&x);
		}
	}
}

/* sf_fit_items: whole items while they fit, the rest counted, a first item
 * too long cut, never past the budget. */
static void test_fit_items(void **state)
{
	const char *items[] = {"STARTTLS blocked", "5 of 12 extensions masked", "greeting masked",
			       "BDAT X-ed"};
	char out[256];
	(void)state;

	sf_fit_items("Box on the path to mx: ", items, 4, 200, out, sizeof out);
	assert_string_equal(out, "Box on the path to mx: STARTTLS blocked, 5 of 12 extensions masked, greeting masked, BDAT X-ed");
	sf_fit_items("Box on the path to mx: ", items, 4, 70, out, sizeof out);
	assert_string_equal(out, "Box on the path to mx: STARTTLS blocked (+3 more)");
	assert_true(strlen(out) <= 70);
	sf_fit_items("", items, 1, 10, out, sizeof out);
	assert_true(strlen(out) <= 10);
	sf_fit_items("", items + 1, 1, 20, out, sizeof out);
	assert_string_equal(out, "5 of 12 extension...");
	for (size_t b = 0; b < 120; b++) {
		sf_fit_items("Box: ", items, 4, b, out, sizeof out);
		assert_true(strlen(out) <= b);
	}
}

/* --- the conversation itself, overrides and the line ----------------------- */

/* An input for the target mx.example:2525 (192.0.2.1), timeout 2.5 s,
 * nothing else said yet. */
static void input_at_mx(struct sf_verdict_input *in)
{
	memset(in, 0, sizeof *in);
	in->target = "mx.example:2525";
	in->address = "192.0.2.1";
	in->timeout = 2.5;
}

/* {how it ended, expected kind, state, line} for one conversation that
 * failed before or after its greeting. */
static void test_conversation(void **state)
{
	static const struct {
		struct sf_conv conv;
		int greeting;           /* a 220 greeting came first */
		enum sf_kind kind;
		enum sf_state st;
		const char *line;       /* the verdict's whole line */
	} crow[] = {
		{{SF_END_CONNECT_FAILED, "connecting", "Connection refused", NULL, 0, 0, 0, NULL, 0}, 0,
		 SF_FIND_SESSION_FAILED, SF_CRITICAL,
		 "cannot connect to mx.example:2525 (192.0.2.1): Connection refused"},
		{{SF_END_TIMEOUT, "waiting for the greeting", NULL, NULL, 0, 0, 0, NULL, 0}, 0,
		 SF_FIND_SESSION_FAILED, SF_CRITICAL,
		 "no answer from mx.example:2525 (192.0.2.1) within 2.5 s, waiting for the greeting"},
		{{SF_END_TIMEOUT, "waiting for the EHLO reply", NULL, NULL, 0, 1, 0, NULL, 0}, 1,
		 SF_FIND_SESSION_FAILED, SF_CRITICAL,
		 "no complete answer from mx.example:2525 (192.0.2.1) within 2.5 s, waiting for the EHLO reply"},
		{{SF_END_RESET, "waiting for the EHLO reply", NULL, NULL, 0, 0, 0, NULL, 0}, 1,
		 SF_FIND_SESSION_FAILED, SF_CRITICAL,
		 "connection reset by mx.example:2525 (192.0.2.1) waiting for the EHLO reply"},
		{{SF_END_CLOSED, "waiting for the greeting", NULL, NULL, 0, 1, 0, NULL, 0}, 0,
		 SF_FIND_SESSION_FAILED, SF_CRITICAL,
		 "mx.example:2525 (192.0.2.1) closed the connection waiting for the greeting, in the middle of a reply"},
		{{SF_END_PROTOCOL, "waiting for the greeting", "bad reply code", "SSH-2.0-x|y", 11, 0, 0, NULL, 0}, 0,
		 SF_FIND_SESSION_FAILED, SF_CRITICAL,
		 "mx.example:2525 (192.0.2.1) does not speak SMTP: bad reply code, waiting for the greeting (it sent \"SSH-2.0-x\\x7cy\")"},
		{{SF_END_TOO_MUCH, "waiting for the EHLO reply", NULL, NULL, 0, 0, 0, NULL, 0}, 1,
		 SF_FIND_SESSION_FAILED, SF_CRITICAL,
		 "mx.example:2525 (192.0.2.1) sent more than 262144 bytes waiting for the EHLO reply"},
		{{SF_END_UNSOLICITED, "waiting for the EHLO reply", NULL, NULL, 0, 0, 0, NULL, 0}, 1,
		 SF_FIND_SESSION_FAILED, SF_CRITICAL,
		 "mx.example:2525 (192.0.2.1) sent a reply before the command it answers, waiting for the EHLO reply"},
		{{SF_END_CLEARTEXT_AFTER_STARTTLS, "waiting for the STARTTLS reply", NULL, NULL, 0, 0, 0, NULL, 0}, 1,
		 SF_FIND_SESSION_FAILED, SF_CRITICAL,
		 "mx.example:2525 (192.0.2.1) sent clear-text data after agreeing to STARTTLS, before the TLS handshake (RFC 3207 5 forbids it)"},
		{{SF_END_TLS_FAILED, "during the TLS handshake", "the server sent the TLS alert \"Handshake failed\"", NULL, 0, 0, 0, NULL, 0}, 0,
		 SF_FIND_SESSION_FAILED, SF_CRITICAL,
		 "TLS handshake with mx.example:2525 (192.0.2.1) failed: the server sent the TLS alert \"Handshake failed\""},
		{{SF_END_IO_ERROR, "waiting for the EHLO reply inside TLS", NULL, NULL, 0, 0, 0, NULL, 0}, 1,
		 SF_FIND_SESSION_FAILED, SF_CRITICAL,
		 "network error with mx.example:2525 (192.0.2.1) waiting for the EHLO reply inside TLS: no reason given"},
		/* this host's own failure is UNKNOWN, never the server's fault */
		{{SF_END_LOCAL, "connecting", "Too many open files", NULL, 0, 0, 0, NULL, 0}, 0,
		 SF_FIND_LOCAL, SF_UNKNOWN,
		 "this host failed to check mx.example:2525 (192.0.2.1): Too many open files"},
	};
	(void)state;

	for (size_t i = 0; i < sizeof crow / sizeof crow[0]; i++) {
		struct sf_reply *g = reply_from_lines(220, "220 mx.example ESMTP", NULL);
		struct sf_verdict_input in;
		struct sf_verdict *v = NULL;

		input_at_mx(&in);
		in.conv = crow[i].conv;
		in.greeting = crow[i].greeting ? g : NULL;
		assert_int_equal(sf_verdict_make(&in, &v), 0);
		assert_int_equal(v->nfindings, 1);
		assert_int_equal(v->findings[0].kind, crow[i].kind);
		assert_int_equal(v->findings[0].state, crow[i].st);
		assert_int_equal(v->state, crow[i].st);
		assert_int_equal(v->inspected, 0); /* nothing about the path */
		check_str("conversation", "line", v->line, crow[i].line);
		sf_verdict_free(v);
		sf_reply_free(g);
	}
}

/* This host failed the checked conversation after the greeting (out of
 * memory): the EHLO list it never read is not "missing against the
 * reference" nor "gone since the baseline". UNKNOWN, one finding. */
static void test_local_failure_compares_nothing(void **state)
{
	static const struct sf_conv local = {SF_END_LOCAL, "waiting for the EHLO reply",
					     "Cannot allocate memory", NULL, 0, 0, 0, NULL, 0};
	const struct sf_conv *const tls_local[] = {NULL, &local};
	(void)state;

	for (size_t i = 0; i < 2; i++) {
		struct sf_reply *g = reply_from_lines(220, POSTFIX_BANNER, NULL);
		struct sf_reply *rg = reply_from_lines(220, "220 other.example ESMTP", NULL);
		struct sf_reply *re = reply_from_array(postfix_ehlo);
		struct sf_verdict_input in;
		struct sf_verdict *v = NULL;

		input_at_mx(&in);
		in.greeting = g;
		in.conv = i == 0 ? local : (struct sf_conv){SF_END_COMPLETE, NULL, NULL, NULL, 0, 0, 0, NULL, 0};
		in.tls_conv = tls_local[i];
		in.ref_greeting = rg;
		in.ref_ehlo = re;
		in.baseline_banner = "220 other.example ESMTP";
		in.baseline_kw = postfix_keywords;
		in.nbaseline_kw = count_lines(postfix_keywords);
		assert_int_equal(sf_verdict_make(&in, &v), 0);
		for (size_t k = 0; k < v->nfindings; k++) {
			assert_int_not_equal(v->findings[k].kind, SF_FIND_REF_MISSING);
			assert_int_not_equal(v->findings[k].kind, SF_FIND_REF_BANNER);
			assert_int_not_equal(v->findings[k].kind, SF_FIND_BASELINE_CHANGED);
		}
		assert_int_equal(v->state, SF_UNKNOWN);
		assert_int_equal(v->reference_missing, 0);
		assert_int_equal(v->baseline_gone, 0);
		sf_verdict_free(v);
		sf_reply_free(g);
		sf_reply_free(rg);
		sf_reply_free(re);
	}
}

/* A greeting broken by a whole-line mask (doc/inspection-boxes.md 1.4)
 * against services that are not SMTP: the same end (a parser error while
 * waiting for the greeting), two verdicts. */
#define GREETING_STEP "waiting for the greeting"
#define BROKEN_SEP "greeting banner masked over the whole line (the separator after 220 masked):" \
	" clients cannot parse it, no mail gets past the greeting"
#define BROKEN_CONT "greeting banner masked over the whole line (a continuation line lost its" \
	" code): clients cannot parse it, no mail gets past the greeting"
#define NOT_SMTP "mx.example (192.0.2.1) does not speak SMTP: "

static const struct broken_row {
	const char *name;
	const char *reason;     /* the parser's, as the plugin passes it */
	const char *line;       /* conv.line: the offending line */
	const char *raw;        /* conv.greeting_raw, or NULL: line alone */
	int in_greeting;
	const char *summary;    /* of the one finding */
	const char *const *evidence;
} broken_rows[] = {
	/* masked: named, CRITICAL, the box and its evidence */
	{"separator masked, line alone", "bad separator after the reply code", "220*****2*0**", NULL, 1,
	 BROKEN_SEP, L("220*****2*0**")},
	{"separator masked, raw with line end", "bad separator after the reply code", "220*****",
	 "220*****\r\n", 1, BROKEN_SEP, L("220*****")},
	{"continuation lost its code", "bad reply code", "****", "220-****2*0**\r\n****\r\n", 1,
	 BROKEN_CONT, L("220-****2*0**", "****")},
	{"continuation keeps 2 and 0", "bad reply code", "2*0******",
	 "220-*****\r\n2*0******\r\n", 1, BROKEN_CONT, L("220-*****", "2*0******")},
	{"pix6-whole-line as the emulator sends it", "bad separator after the reply code",
	 "220**********************2*0", "220**********************2*0\r\n****\r\n*******2020\r\n", 1,
	 BROKEN_SEP, L("220**********************2*0", "****", "*******2020")},
	/* not SMTP, or not a mask: still "does not speak SMTP" */
	{"2200", "bad separator after the reply code", "2200", "2200\r\n", 1,
	 NOT_SMTP "bad separator after the reply code, waiting for the greeting (it sent \"2200\")",
	 L("2200")},
	{"decorated, then broken", "bad separator after the reply code", "220*** ACME ***",
	 "220*** ACME ***\r\n", 1,
	 NOT_SMTP "bad separator after the reply code, waiting for the greeting (it sent \"220*** ACME ***\")",
	 L("220*** ACME ***")},
	{"HTTP", "bad reply code", "HTTP/1.1 400 Bad Request", "HTTP/1.1 400 Bad Request\r\n", 1,
	 NOT_SMTP "bad reply code, waiting for the greeting (it sent \"HTTP/1.1 400 Bad Request\")",
	 L("HTTP/1.1 400 Bad Request")},
	{"SSH", "bad reply code", "SSH-2.0-OpenSSH_9.2p1", "SSH-2.0-OpenSSH_9.2p1\r\n", 1,
	 NOT_SMTP "bad reply code, waiting for the greeting (it sent \"SSH-2.0-OpenSSH_9.2p1\")",
	 L("SSH-2.0-OpenSSH_9.2p1")},
	{"stars after a clear first line", "bad reply code", "****", "220-mx.example ESMTP\r\n****\r\n", 1,
	 NOT_SMTP "bad reply code, waiting for the greeting (it sent \"****\")", L("****")},
	{"binary noise", "bad reply code", "\x16\x03\x01", "\x16\x03\x01", 1,
	 NOT_SMTP "bad reply code, waiting for the greeting (it sent \"\x16\x03\x01\")", L("\x16\x03\x01")},
	/* the same octets after the greeting are no greeting of ours */
	{"masked-looking line in the EHLO reply", "bad separator after the reply code", "250*****", NULL, 0,
	 "mx.example (192.0.2.1) does not speak SMTP: bad separator after the reply code, waiting for"
	 " the EHLO reply (it sent \"250*****\")", L("250*****")},
	{"220***** after the greeting", "bad separator after the reply code", "220*****", NULL, 0,
	 "mx.example (192.0.2.1) does not speak SMTP: bad separator after the reply code, waiting for"
	 " the EHLO reply (it sent \"220*****\")", L("220*****")},
};

static void test_greeting_broken(void **state)
{
	enum sf_state st[SF_FIND__COUNT];

	(void)state;
	for (int k = 0; k < SF_FIND__COUNT; k++)
		st[k] = sf_kind_info((enum sf_kind)k)->default_state;
	st[SF_FIND_BANNER_MASKED] = SF_OK; /* the user accepts a masked banner... */
	for (size_t i = 0; i < sizeof broken_rows / sizeof broken_rows[0]; i++) {
		const struct broken_row *t = &broken_rows[i];
		int masked = strncmp(t->summary, "greeting banner", 15) == 0;
		struct sf_verdict_input in;
		struct sf_verdict *v = NULL;
		size_t nev = count_lines(t->evidence);

		memset(&in, 0, sizeof in);
		in.target = "mx.example";
		in.address = "192.0.2.1";
		in.conv = (struct sf_conv){SF_END_PROTOCOL, t->in_greeting ? GREETING_STEP
									: "waiting for the EHLO reply",
					   t->reason, t->line, strlen(t->line), 0, t->in_greeting,
					   t->raw, t->raw ? strlen(t->raw) : 0};
		in.state_of = st;
		assert_int_equal(sf_verdict_make(&in, &v), 0);
		if (v->nfindings != 1)
			fail_msg("%s: %zu findings, want 1", t->name, v->nfindings);
		check_str(t->name, "summary", v->findings[0].summary, t->summary);
		/* ...but one that breaks the greeting stays CRITICAL */
		assert_int_equal(v->findings[0].state, SF_CRITICAL);
		assert_int_equal(v->findings[0].kind, masked ? SF_FIND_BANNER_MASKED : SF_FIND_SESSION_FAILED);
		check_str(t->name, "box", box_id(v->findings[0].box), masked ? "cisco-pix-fixup" : "(none)");
		assert_int_equal(v->banner_masked, masked);
		assert_int_equal(v->inspected, masked);
		if (v->findings[0].nevidence != nev)
			fail_msg("%s: %zu evidence lines, want %zu", t->name, v->findings[0].nevidence, nev);
		for (size_t k = 0; k < nev; k++)
			check_str(t->name, "evidence", v->findings[0].evidence[k], t->evidence[k]);
		if (masked)
			assert_non_null(strstr(v->line, "- looks like Cisco PIX 5.1-6.x SMTP fixup"));
		sf_verdict_free(v);
	}
}

/* The same mask in the STARTTLS session (-S with --probe) is the same
 * finding, not a second one; a different failure there is its own. */
static void test_greeting_broken_twice(void **state)
{
	struct sf_conv tls = {SF_END_PROTOCOL, GREETING_STEP, "bad separator after the reply code",
			      "220*****", 8, 0, 1, NULL, 0};
	struct sf_verdict_input in;
	struct sf_verdict *v = NULL;

	(void)state;
	memset(&in, 0, sizeof in);
	in.conv = tls;
	in.tls_conv = &tls;
	assert_int_equal(sf_verdict_make(&in, &v), 0);
	assert_int_equal(v->nfindings, 1);
	assert_int_equal(v->findings[0].kind, SF_FIND_BANNER_MASKED);
	sf_verdict_free(v);
	tls = (struct sf_conv){SF_END_RESET, "waiting for the STARTTLS reply", NULL, NULL, 0, 0, 0, NULL, 0};
	assert_int_equal(sf_verdict_make(&in, &v), 0);
	assert_int_equal(v->nfindings, 2);
	assert_int_equal(v->findings[0].kind, SF_FIND_SESSION_FAILED);
	check_str("tls reset", "summary", v->findings[0].summary,
		  "STARTTLS session: connection reset by the server waiting for the STARTTLS reply");
	assert_int_equal(v->findings[1].kind, SF_FIND_BANNER_MASKED);
	sf_verdict_free(v);
}

/* --probe=data (doc/inspection-boxes.md 4.1): a drop with no reply names
 * the ASA and the policy that fired; the server's own reply, a refused
 * transaction, a pass and a timeout are notes. */
#define DATA_354 "354 End data with <CR><LF>.<CR><LF>"
static const struct witness_row {
	const char *name;
	struct sf_witness w;
	const char *const *refused;  /* reply lines, or NULL */
	const char *const *reply;    /* reply lines, or NULL */
	enum sf_kind kind;           /* SF_FIND__COUNT: no finding */
	enum sf_state state;
	const char *box;
	const char *summary;
	const char *const *evidence;
} witness_rows[] = {
	{"reset after the header line", {SF_WITNESS_DROPPED, NULL, NULL, NULL, 1, NULL, 1, 1.0}, NULL, NULL,
	 SF_FIND_DATA_DROPPED, SF_CRITICAL, "cisco-asa",
	 "connection reset with no reply after a message header line of 1000 octets (DATA witness):"
	 " the ASA's default ESMTP policy drops header lines over 998 octets",
	 L(DATA_354, "-- then message part 1 with a message header line of 1000 octets, and a reset")},
	{"close after the file name", {SF_WITNESS_DROPPED, NULL, NULL, NULL, 2, NULL, 0, 1.0}, NULL, NULL,
	 SF_FIND_DATA_DROPPED, SF_CRITICAL, "cisco-asa",
	 "connection closed with no reply after a MIME file name of 300 octets (DATA witness): the"
	 " ASA's default ESMTP policy drops MIME file names over 255 octets, so attachments with long"
	 " names never arrive",
	 L(DATA_354, "-- then message part 2 with a MIME file name of 300 octets, and a close")},
	{"the server's 554 after the header line", {SF_WITNESS_REPLIED, NULL, NULL, NULL, 1, NULL, 0, 1.0},
	 NULL, L("554 5.6.0 Message header line too long"),
	 SF_FIND_DATA_NOTE, SF_OK, NULL,
	 "DATA witness: the server itself answered 554 after a message header line of 1000 octets:"
	 " its own policy, not the path's",
	 L("554 5.6.0 Message header line too long")},
	{"the server's unfinished reply, then a reset", {SF_WITNESS_REPLIED, NULL, NULL, NULL, 2, NULL, 1, 1.0},
	 NULL, NULL, SF_FIND_DATA_NOTE, SF_OK, NULL,
	 "DATA witness: the server itself began a reply after a MIME file name of 300 octets: its own"
	 " policy, not the path's", L(NULL)},
	{"RCPT refused", {SF_WITNESS_REFUSED, "RCPT TO:<postmaster@example.org>", NULL, NULL, 0, NULL, 0, 1.0},
	 L("554 5.7.1 <postmaster@example.org>: Relay access denied"), NULL,
	 SF_FIND_DATA_NOTE, SF_OK, NULL,
	 "DATA witness skipped: the server refused RCPT TO:<postmaster@example.org> (554)",
	 L("554 5.7.1 <postmaster@example.org>: Relay access denied")},
	{"MAIL refused", {SF_WITNESS_REFUSED, "MAIL FROM:<>", NULL, NULL, 0, NULL, 0, 1.0},
	 L("530 5.7.0 Must issue a STARTTLS command first"), NULL,
	 SF_FIND_DATA_NOTE, SF_OK, NULL, "DATA witness skipped: the server refused MAIL FROM:<> (530)",
	 L("530 5.7.0 Must issue a STARTTLS command first")},
	{"passed", {SF_WITNESS_PASSED, NULL, NULL, NULL, 2, NULL, 0, 1.0}, NULL, NULL,
	 SF_FIND_DATA_NOTE, SF_OK, NULL,
	 "DATA witness: a message header line of 1000 octets and a MIME file name of 300 octets passed"
	 " (no reset within 1 s each); closed before the end of data, nothing delivered", L(NULL)},
	{"cut by the timeout", {SF_WITNESS_CUT, NULL, NULL, NULL, 1, NULL, 0, 1.5}, NULL, NULL,
	 SF_FIND_DATA_NOTE, SF_OK, NULL,
	 "DATA witness cut short by the timeout after a message header line of 1000 octets", L(NULL)},
	{"not run", {SF_WITNESS_NONE, NULL, NULL, NULL, 0, NULL, 0, 1.0}, NULL, NULL,
	 SF_FIND__COUNT, SF_OK, NULL, NULL, L(NULL)},
};

static void test_witness(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof witness_rows / sizeof witness_rows[0]; i++) {
		const struct witness_row *t = &witness_rows[i];
		struct sf_reply *g = reply_from_lines(220, "220 mx.example ESMTP", NULL);
		struct sf_reply *d = reply_from_lines(354, DATA_354, NULL);
		struct sf_reply *refused = t->refused ? reply_from_array(t->refused) : NULL;
		struct sf_reply *reply = t->reply ? reply_from_array(t->reply) : NULL;
		struct sf_witness w = t->w;
		struct sf_verdict_input in;
		struct sf_verdict *v = NULL;
		size_t nev = count_lines(t->evidence);

		w.data = d;
		w.refused = refused;
		w.reply = reply;
		memset(&in, 0, sizeof in);
		in.greeting = g;
		in.witness = &w;
		assert_int_equal(sf_verdict_make(&in, &v), 0);
		if (t->kind == SF_FIND__COUNT) {
			assert_int_equal(v->nfindings, 0);
		} else {
			if (v->nfindings != 1)
				fail_msg("%s: %zu findings, want 1", t->name, v->nfindings);
			assert_int_equal(v->findings[0].kind, t->kind);
			assert_int_equal(v->findings[0].state, t->state);
			assert_int_equal(v->state, t->state);
			assert_int_equal(v->inspected, t->state != SF_OK);
			check_str(t->name, "box", box_id(v->findings[0].box), t->box ? t->box : "(none)");
			check_str(t->name, "summary", v->findings[0].summary, t->summary);
			if (v->findings[0].nevidence != nev)
				fail_msg("%s: %zu evidence lines, want %zu", t->name,
					 v->findings[0].nevidence, nev);
			for (size_t k = 0; k < nev; k++)
				check_str(t->name, "evidence", v->findings[0].evidence[k], t->evidence[k]);
		}
		sf_verdict_free(v);
		sf_reply_free(g);
		sf_reply_free(d);
		sf_reply_free(refused);
		sf_reply_free(reply);
	}
}

/* A 421 to any command but QUIT is the server ending the session; the
 * user's overrides reorder the findings; the line names the box once. */
static void test_server_and_overrides(void **state)
{
	struct sf_reply *g = reply_from_lines(220, "220 *****", NULL);
	struct sf_reply *e = reply_from_lines(421, "421 4.3.2 Service shutting down", NULL);
	struct sf_reply *ok = reply_from_lines(250, "250-mx.example", "250-XXXXXXXA", "250 SIZE 1", NULL);
	enum sf_state st[SF_FIND__COUNT];
	struct sf_verdict_input in;
	struct sf_verdict *v = NULL;
	(void)state;

	memset(&in, 0, sizeof in);
	in.target = "mx.example";
	in.greeting = g;
	in.ehlo = e;
	assert_int_equal(sf_verdict_make(&in, &v), 0);
	assert_int_equal(v->findings[0].kind, SF_FIND_SERVER_CLOSED);
	check_str("421", "summary", v->findings[0].summary,
		  "mx.example ended the session itself: \"421 4.3.2 Service shutting down\"");
	assert_int_equal(v->state, SF_CRITICAL);
	sf_verdict_free(v);

	/* defaults: masked extensions (CRITICAL) before the banner (WARNING) */
	in.ehlo = ok;
	assert_int_equal(sf_verdict_make(&in, &v), 0);
	assert_int_equal(v->nfindings, 2);
	assert_int_equal(v->findings[0].kind, SF_FIND_EXT_MASKED);
	assert_int_equal(v->inspected, 1);
	check_str("asa", "line", v->line,
		  "1 of 2 ESMTP extensions masked (guess by length: STARTTLS or CHUNKING); greeting banner"
		  " masked; Postfix senders then fall back to HELO (no STARTTLS, no 8BITMIME, no SIZE)"
		  " - looks like Cisco ASA/FTD/FWSM ESMTP inspection");
	sf_verdict_free(v);

	/* overridden: the banner CRITICAL, the masks only a note */
	for (int k = 0; k < SF_FIND__COUNT; k++)
		st[k] = sf_kind_info((enum sf_kind)k)->default_state;
	st[SF_FIND_BANNER_MASKED] = SF_CRITICAL;
	st[SF_FIND_EXT_MASKED] = SF_OK;
	in.state_of = st;
	assert_int_equal(sf_verdict_make(&in, &v), 0);
	assert_int_equal(v->findings[0].kind, SF_FIND_BANNER_MASKED);
	assert_int_equal(v->findings[0].state, SF_CRITICAL);
	assert_int_equal(v->findings[1].state, SF_OK);
	assert_int_equal(v->state, SF_CRITICAL);
	assert_non_null(strstr(v->line, "; note: 1 of 2 ESMTP extensions masked"));
	sf_verdict_free(v);

	/* all overridden to OK: the line says nothing was seen, then notes */
	st[SF_FIND_BANNER_MASKED] = SF_OK;
	in.time_total = 0.25;
	in.address = "192.0.2.1";
	assert_int_equal(sf_verdict_make(&in, &v), 0);
	assert_int_equal(v->state, SF_OK);
	assert_int_equal(v->inspected, 0);
	{
		static const char want[] = "mx.example (192.0.2.1): no SMTP inspection seen, 2 ESMTP extensions, 0.250 s; note: ";
		if (strncmp(v->line, want, sizeof want - 1) != 0)
			fail_msg("line \"%s\"", v->line);
	}
	sf_verdict_free(v);

	/* the response time past -c: its own finding, with its state */
	in.time_state = SF_CRITICAL;
	in.time_total = 7.5;
	assert_int_equal(sf_verdict_make(&in, &v), 0);
	assert_int_equal(v->findings[0].kind, SF_FIND_RESPONSE_TIME);
	check_str("time", "summary", v->findings[0].summary, "response time 7.500 s over the critical threshold");
	assert_int_equal(v->state, SF_CRITICAL);
	sf_verdict_free(v);
	sf_reply_free(g);
	sf_reply_free(e);
	sf_reply_free(ok);
}

/* A reference that could not be reached or held gives UNKNOWN and no
 * comparison at all. */
static void test_reference_unusable(void **state)
{
	struct sf_reply *g = reply_from_lines(220, "220 mx.example ESMTP", NULL);
	struct sf_reply *rg = reply_from_lines(554, "554 go away", NULL);
	struct sf_conv down = {SF_END_CONNECT_FAILED, "connecting", "Connection refused", NULL, 0, 0, 0, NULL, 0};
	struct sf_conv fine = {0};
	struct sf_verdict_input in;
	struct sf_verdict *v = NULL;
	(void)state;

	memset(&in, 0, sizeof in);
	in.greeting = g;
	in.ref_target = "ref.example";
	in.ref_address = "192.0.2.9";
	in.ref_problem = "cannot resolve ref.example: Name or service not known";
	assert_int_equal(sf_verdict_make(&in, &v), 0);
	assert_int_equal(v->nfindings, 1);
	assert_int_equal(v->state, SF_UNKNOWN);
	check_str("ref", "line", v->line,
		  "no comparison with the reference path: cannot resolve ref.example: Name or service not known");
	sf_verdict_free(v);
	in.ref_problem = NULL;
	in.ref_conv = &down;
	assert_int_equal(sf_verdict_make(&in, &v), 0);
	check_str("ref", "line", v->line,
		  "no comparison with the reference path: cannot connect to ref.example (192.0.2.9): Connection refused");
	sf_verdict_free(v);
	in.ref_conv = &fine;
	in.ref_greeting = rg;
	assert_int_equal(sf_verdict_make(&in, &v), 0);
	assert_int_equal(v->nfindings, 1);
	assert_int_equal(v->findings[0].kind, SF_FIND_REF_UNUSABLE);
	sf_verdict_free(v);
	sf_reply_free(g);
	sf_reply_free(rg);
}

/* Greetings of healthy servers change per connection (dates, session and
 * queue ids, the client's address): two connections key the same. A
 * changed host name, product or masking keys differently. Each row: two
 * greetings from two connections, and a variant that must count as
 * changed. */
static void test_greeting_key(void **state)
{
	static const struct {
		const char *a, *b, *changed;
	} grows[] = {
		/* Exim: date and time */
		{"220 mail.exim.test ESMTP Exim 4.96 Fri, 04 Dec 2026 17:40:02 +0000",
		 "220 mail.exim.test ESMTP Exim 4.96 Sat, 05 Dec 2026 00:00:59 +0000",
		 "220 mail.exim.test ESMTP Postfix"},
		/* sendmail: versions and date */
		{"220 relay.example.edu ESMTP Sendmail 8.17.1.9/8.17.1.9/Debian-2; Fri, 4 Dec 2026 17:40:02 GMT",
		 "220 relay.example.edu ESMTP Sendmail 8.17.1.9/8.17.1.9/Debian-2; Tue, 15 Dec 2026 09:01:00 GMT",
		 "220 relay.example.com ESMTP Sendmail 8.17.1.9/8.17.1.9/Debian-2; Fri, 4 Dec 2026 17:40:02 GMT"},
		/* Haraka: a session id, even one of letters only */
		{"220 mail.haraka.test ESMTP Haraka/3.3.4 ready (9D7529)",
		 "220 mail.haraka.test ESMTP Haraka/3.3.4 ready (ABCDEF)",
		 "220 mail.haraka.test ESMTP ready (9D7529)"},
		/* Postfix: nothing changes */
		{"220 mx.example.org ESMTP Postfix (Debian/GNU)", "220 mx.example.org ESMTP Postfix (Debian/GNU)",
		 "220 mx.example.org ESMTP Postfix"},
		/* OpenSMTPD */
		{"220 mx.example.net ESMTP OpenSMTPD", "220 mx.example.net ESMTP OpenSMTPD",
		 "220 mx.example.net ESMTP Exim"},
		/* Exchange: date, time and zone */
		{"220 EX01.corp.example.com Microsoft ESMTP MAIL Service ready at Tue, 20 Feb 2024 10:20:02 +0100",
		 "220 EX01.corp.example.com Microsoft ESMTP MAIL Service ready at Wed, 21 Feb 2024 08:00:00 +0100",
		 "220 EX01.corp.example.org Microsoft ESMTP MAIL Service ready at Tue, 20 Feb 2024 10:20:02 +0100"},
		/* Gmail: a per-connection id */
		{"220 mx.google.com ESMTP d2e1a72fcca58-7a1b2c3d4e5si123456pfb.123 - gsmtp",
		 "220 mx.google.com ESMTP 5b1f17b1804b1-42f4c9b8a1dsi998877ff.301 - gsmtp",
		 "220 mx.example.com ESMTP 5b1f17b1804b1-42f4c9b8a1dsi998877ff.301 - gsmtp"},
		/* Office 365: the front end's name changes, the domain does not */
		{"220 AM4PEPF00027A5C.mail.protection.outlook.com Microsoft ESMTP MAIL Service ready at Fri, 4 Dec 2026 17:40:02 +0000 [08DD1234ABCD5678]",
		 "220 DB5PEPF00014B9F.mail.protection.outlook.com Microsoft ESMTP MAIL Service ready at Fri, 4 Dec 2026 17:41:00 +0000 [08DD9999EEEE0000]",
		 "220 AM4PEPF00027A5C.mail.protection.example.com Microsoft ESMTP MAIL Service ready at Fri, 4 Dec 2026 17:40:02 +0000 [08DD1234ABCD5678]"},
		/* a greeting that echoes the client's address */
		{"220 mx.example.org ESMTP ready for [192.0.2.10]:53122",
		 "220 mx.example.org ESMTP ready for [192.0.2.10]:40001",
		 "220 mx.example.org ESMTP busy for [192.0.2.10]:40001"},
		/* a masked greeting is a mask, whatever its 2s and 0s */
		{"220 *******************************2*0**02****",
		 "220 ***************************2**0*20**0******",
		 "220 mail.example.com ESMTP Postfix"},
	};
	char ka[2 * SF_REPLY_LINE_MAX + 8], kb[sizeof ka], kc[sizeof ka];
	(void)state;

	for (size_t i = 0; i < sizeof grows / sizeof grows[0]; i++) {
		sf_greeting_key(grows[i].a, strlen(grows[i].a), ka, sizeof ka);
		sf_greeting_key(grows[i].b, strlen(grows[i].b), kb, sizeof kb);
		sf_greeting_key(grows[i].changed, strlen(grows[i].changed), kc, sizeof kc);
		if (strcmp(ka, kb) != 0)
			fail_msg("row %zu: the same server keys \"%s\" and \"%s\"", i, ka, kb);
		if (strcmp(ka, kc) == 0)
			fail_msg("row %zu: a changed greeting keys the same: \"%s\"", i, kc);
	}
	/* a small buffer: cut, NUL-terminated */
	assert_int_equal(sf_greeting_key(grows[0].a, strlen(grows[0].a), ka, 8), 7);
	assert_int_equal(strlen(ka), 7);
	assert_int_equal(sf_greeting_key("220", 3, ka, sizeof ka), 3);
}

static void test_domain_verdict(void **state)
{
	static const struct {
		enum sf_domain d;
		int stop;
		enum sf_state st;
		const char *text;
	} crow[] = {
		{SF_DOMAIN_MX, 0, SF_OK, NULL},
		{SF_DOMAIN_NO_MX, 0, SF_OK, NULL},
		{SF_DOMAIN_NXDOMAIN, 1, SF_CRITICAL, "example.org has no mail server: the domain does not exist (NXDOMAIN)"},
		{SF_DOMAIN_NULL_MX, 1, SF_CRITICAL, "example.org has no mail server: its null MX record says it accepts no mail (RFC 7505)"},
		{SF_DOMAIN_LOOKUP_FAILED, 1, SF_UNKNOWN, "cannot look up the MX records of example.org: why"},
		{SF_DOMAIN_NO_MX_NO_ADDRESS, 1, SF_CRITICAL, "example.org has no mail server: no MX record and no address"},
		{SF_DOMAIN_NO_MX_UNRESOLVED, 1, SF_UNKNOWN, "example.org has no MX record and its address cannot be resolved: why"},
		{SF_DOMAIN_NO_HOST_ADDRESS, 1, SF_CRITICAL, "example.org has no mail server: none of its 2 MX hosts has an address (why)"},
		{SF_DOMAIN_UNUSABLE, 1, SF_CRITICAL, "example.org has no mail server: none of its MX records names a usable host (why)"},
	};
	(void)state;

	for (size_t i = 0; i < sizeof crow / sizeof crow[0]; i++) {
		char buf[256] = "";
		enum sf_state st = SF_OK;
		assert_int_equal(sf_domain_verdict("example.org", crow[i].d, "why", 2, &st, buf, sizeof buf),
				 crow[i].stop);
		if (!crow[i].stop)
			continue;
		assert_int_equal(st, crow[i].st);
		check_str("domain", "text", buf, crow[i].text);
	}
}

int main(void)
{
	memcpy(long_noop, "NOOP ", 5);
	memset(long_noop + 5, 'x', 600);
	long_noop[605] = '\0';
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_masked_transcripts),
		cmocka_unit_test(test_banner_masked),
		cmocka_unit_test(test_x_echo),
		cmocka_unit_test(test_noop_like),
		cmocka_unit_test(test_kind_info),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_out_of_memory),
		cmocka_unit_test(test_conversation),
		cmocka_unit_test(test_greeting_broken),
		cmocka_unit_test(test_greeting_broken_twice),
		cmocka_unit_test(test_witness),
		cmocka_unit_test(test_server_and_overrides),
		cmocka_unit_test(test_reference_unusable),
		cmocka_unit_test(test_local_failure_compares_nothing),
		cmocka_unit_test(test_domain_verdict),
		cmocka_unit_test(test_greeting_key),
		cmocka_unit_test(test_headline),
		cmocka_unit_test(test_fit_items),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

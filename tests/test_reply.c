/*
 * test_reply.c - unit tests of the streaming SMTP reply parser
 * (lib/sf_reply.c).
 *
 * The tables hold {input, expected outcome} rows. Every row is fed whole,
 * split in two at every offset, one byte at a time (draining replies after
 * each feed, and draining only at the end), and in chunks of 3 and 7 bytes;
 * each way must give the row's outcome. Every returned line is also checked
 * against the input it came from, octet for octet. Each chunk is fed from a
 * heap block of exactly its size, so that valgrind and ASan see any read
 * past the end of a feed.
 *
 * The error line is the only part that may depend on chunking: it holds the
 * offending line as far as it had arrived. So "errline" is what a whole feed
 * gives, "errmin" what a byte-at-a-time feed gives (the line through the
 * offending octet); any other chunking gives something in between.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sf_common.h"
#include "sf_reply.h"
#include "transcripts.h"

/* A string literal as (pointer, length): inputs may hold NUL octets.
 * Mind C escapes: "\0" "250" must be two literals, "\0250" is octal. */
#define IN(s) s, sizeof(s) - 1

#define A10 "aaaaaaaaaa"
#define A100 A10 A10 A10 A10 A10 A10 A10 A10 A10 A10

/* --- helpers ------------------------------------------------------------- */

/* Which row and which way of feeding is running, for failure messages. */
static char ctx[200];

#define EXPECT(cond)                                                  \
	do {                                                          \
		if (!(cond)) {                                        \
			print_error("%s: failed: %s\n", ctx, #cond); \
			fail();                                       \
		}                                                     \
	} while (0)

static void expect_str(const char *what, const char *got, const char *want)
{
	if (strcmp(got, want) != 0) {
		print_error("%s: %s\n   got: \"%s\"\n  want: \"%s\"\n", ctx, what, got, want);
		fail();
	}
}

/* 1 if a starts with b. */
static int starts_with(const char *a, const char *b)
{
	return strncmp(a, b, strlen(b)) == 0;
}

/* Printable form of s[0..n): \r \n \t \0 \\ and \xNN for other controls. */
static void show(char *dst, size_t dstsz, const char *s, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 5 < dstsz; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *esc = c == '\r'   ? "\\r"
				  : c == '\n' ? "\\n"
				  : c == '\t' ? "\\t"
				  : c == '\0' ? "\\0"
				  : c == '\\' ? "\\\\"
					      : NULL;

		if (esc != NULL)
			o += (size_t)snprintf(dst + o, dstsz - o, "%s", esc);
		else if (c < 0x20 || c > 0x7e)
			o += (size_t)snprintf(dst + o, dstsz - o, "\\x%02x", c);
		else
			dst[o++] = (char)c;
	}
	dst[o] = '\0';
}

/* --- running a row ------------------------------------------------------- */

struct row {
	const char *name;
	const char *in;
	size_t inlen;
	struct sf_parser_limits lim; /* {0}: the defaults */
	const char *replies;         /* "<code>x<lines>/<bytes>" per reply, space-separated */
	enum sf_perr err;
	const char *errline; /* error line when fed whole (as show() writes it) */
	const char *errmin;  /* error line when fed one byte at a time */
	size_t pending;      /* sf_parser_pending() at the end */
};

struct outcome {
	char replies[8192];
	enum sf_perr err;
	char errline[400];
	size_t pending;
	size_t cursor; /* how far returned replies have covered the input */
};

/* Check that reply r is made of the input lines at o->cursor, and move the
 * cursor past them: lines equal the input octet for octet without their line
 * ends, every line carries the code, and bytes adds up. */
static void check_against_input(const struct row *t, const struct sf_reply *r,
				struct outcome *o)
{
	size_t start = o->cursor;

	EXPECT(r->nlines >= 1 && r->lines != NULL);
	for (size_t j = 0; j < r->nlines; j++) {
		const char *line = t->in + o->cursor;
		const char *lf = memchr(line, '\n', t->inlen - o->cursor);
		size_t n;

		EXPECT(lf != NULL);
		n = (size_t)(lf - line);
		if (n > 0 && line[n - 1] == '\r')
			n--;
		EXPECT(r->lines[j].len == n);
		EXPECT(memcmp(r->lines[j].raw, line, n) == 0);
		EXPECT(strlen(r->lines[j].raw) == n);
		EXPECT(memcmp(r->lines[j].raw, r->lines[0].raw, 3) == 0);
		o->cursor += (size_t)(lf - line) + 1;
	}
	EXPECT(r->code == (r->lines[0].raw[0] - '0') * 100 + (r->lines[0].raw[1] - '0') * 10 +
				  (r->lines[0].raw[2] - '0'));
	EXPECT(r->bytes == o->cursor - start);
}

/* Take every complete reply out of p into o. */
static void drain(struct sf_parser *p, const struct row *t, struct outcome *o)
{
	static struct sf_reply sentinel;
	struct sf_reply *r = &sentinel; /* next() must overwrite it */
	enum sf_pstatus st;

	while ((st = sf_parser_next(p, &r)) == SF_PARSE_REPLY) {
		size_t used = strlen(o->replies);

		EXPECT(r != NULL);
		check_against_input(t, r, o);
		snprintf(o->replies + used, sizeof o->replies - used, "%s%dx%zu/%zu",
			 used ? " " : "", r->code, r->nlines, r->bytes);
		sf_reply_free(r);
	}
	EXPECT(r == NULL);
	EXPECT(st == (sf_parser_error(p) != SF_PERR_NONE ? SF_PARSE_ERROR : SF_PARSE_MORE));
}

/*
 * Feed row t: first a feed of `first` bytes (none if 0), then the rest in
 * chunks of `chunk` bytes (all at once if 0). Replies are drained after every
 * feed if drain_each, else only at the end.
 */
static void run(const struct row *t, size_t first, size_t chunk, int drain_each,
		struct outcome *o)
{
	struct sf_parser *p = sf_parser_new(&t->lim);
	size_t off = 0;
	int broken = 0;
	const char *line;
	size_t len = 999;

	assert_non_null(p);
	memset(o, 0, sizeof *o);
	while (off < t->inlen) {
		size_t n = t->inlen - off;
		enum sf_pstatus st;
		char *chunkbuf;

		if (off == 0 && first > 0 && first < n)
			n = first;
		else if (chunk > 0 && chunk < n)
			n = chunk;
		/* each chunk in a block of its own size: a read past len is
		 * caught by valgrind and ASan */
		chunkbuf = malloc(n);
		assert_non_null(chunkbuf);
		memcpy(chunkbuf, t->in + off, n);
		st = sf_parser_feed(p, chunkbuf, n);
		free(chunkbuf);
		/* feed reports exactly the parser's state; an error stays */
		EXPECT(st == (sf_parser_error(p) != SF_PERR_NONE ? SF_PARSE_ERROR : SF_PARSE_MORE));
		EXPECT(!broken || st == SF_PARSE_ERROR);
		broken = st == SF_PARSE_ERROR;
		off += n;
		if (drain_each)
			drain(p, t, o);
	}
	drain(p, t, o);
	o->err = sf_parser_error(p);
	line = sf_parser_error_line(p, &len);
	EXPECT((line == NULL) == (o->err == SF_PERR_NONE));
	EXPECT(len <= 80);
	show(o->errline, sizeof o->errline, line, line ? len : 0);
	o->pending = sf_parser_pending(p);
	/* what was not handed out is exactly what pending says */
	EXPECT(o->pending == t->inlen - o->cursor);
	sf_parser_free(p);
}

/* Compare an outcome with the row; errline must lie between errmin and
 * errline (both prefixes of the whole line as it was received). */
static void check_outcome(const struct row *t, const struct outcome *o, int exact_line,
			  int min_line)
{
	const char *want_line = t->errline ? t->errline : "";
	const char *want_min = t->errmin ? t->errmin : "";

	expect_str("replies", o->replies, t->replies);
	expect_str("error", sf_perr_str(o->err), sf_perr_str(t->err));
	if (exact_line)
		expect_str("error line", o->errline, want_line);
	else if (min_line)
		expect_str("error line (byte at a time)", o->errline, want_min);
	else if (!starts_with(o->errline, want_min) || !starts_with(want_line, o->errline))
		expect_str("error line (between errmin and errline)", o->errline, want_line);
	EXPECT(o->pending == t->pending);
}

/* Run a row every way; split offsets step by split_step (1: every offset). */
static void run_row(const struct row *t, size_t split_step)
{
	struct outcome *o = malloc(sizeof *o);

	assert_non_null(o);
	snprintf(ctx, sizeof ctx, "%s, whole", t->name);
	run(t, 0, 0, 1, o);
	check_outcome(t, o, 1, 0);

	for (size_t k = 1; k < t->inlen; k += split_step) {
		snprintf(ctx, sizeof ctx, "%s, split at %zu", t->name, k);
		run(t, k, 0, 1, o);
		check_outcome(t, o, 0, 0);
	}
	snprintf(ctx, sizeof ctx, "%s, one byte at a time", t->name);
	run(t, 0, 1, 1, o);
	check_outcome(t, o, 0, 1);

	snprintf(ctx, sizeof ctx, "%s, one byte at a time, drained at the end", t->name);
	run(t, 0, 1, 0, o);
	check_outcome(t, o, 0, 1);

	snprintf(ctx, sizeof ctx, "%s, chunks of 3", t->name);
	run(t, 0, 3, 1, o);
	check_outcome(t, o, 0, 0);

	snprintf(ctx, sizeof ctx, "%s, chunks of 7, drained at the end", t->name);
	run(t, 0, 7, 0, o);
	check_outcome(t, o, 0, 0);
	free(o);
}

static void run_table(const struct row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		run_row(&rows[i], 1);
}

#define RUN_TABLE(rows) run_table(rows, sizeof rows / sizeof rows[0])

/* --- tables -------------------------------------------------------------- */

/* Replies as real servers send them, and as an inspecting firewall leaves
 * them (doc/inspection-boxes.md 1, 2). The EHLO_ ones are shared with test_ehlo.c
 * (transcripts.h). */
static const struct row real_replies[] = {
	{"Postfix EHLO", IN(EHLO_POSTFIX), {0}, "250x11/167", SF_PERR_NONE, NULL, NULL, 0},
	{"Exim EHLO", IN(EHLO_EXIM), {0}, "250x10/194", SF_PERR_NONE, NULL, NULL, 0},
	{"Exchange EHLO", IN(EHLO_EXCHANGE), {0}, "250x14/258", SF_PERR_NONE, NULL, NULL, 0},
	{"sendmail EHLO",
	 IN("250-mail.example.com Hello client.example.org [192.0.2.10], pleased to meet you\r\n"
	    "250-ENHANCEDSTATUSCODES\r\n"
	    "250-PIPELINING\r\n"
	    "250-8BITMIME\r\n"
	    "250-SIZE\r\n"
	    "250-DSN\r\n"
	    "250-ETRN\r\n"
	    "250-AUTH DIGEST-MD5 CRAM-MD5\r\n"
	    "250-STARTTLS\r\n"
	    "250-DELIVERBY\r\n"
	    "250 HELP\r\n"),
	 {0}, "250x11/234", SF_PERR_NONE, NULL, NULL, 0},
	{"Postfix EHLO masked by an ASA", IN(EHLO_POSTFIX_ASA),
	 {0}, "250x11/167", SF_PERR_NONE, NULL, NULL, 0},
	{"sendmail EHLO masked by an ASA, masked last line", IN(EHLO_SENDMAIL_ASA),
	 {0}, "250x10/224", SF_PERR_NONE, NULL, NULL, 0},
	{"multi-line greeting",
	 IN("220-mx.example.org ESMTP Postfix (Debian/GNU)\r\n"
	    "220-This system is for authorised use only.\r\n"
	    "220 Unauthorised access is prohibited.\r\n"),
	 {0}, "220x3/132", SF_PERR_NONE, NULL, NULL, 0},
	{"greeting masked by a PIX",
	 IN("220 ***********************************2****0*0*******\r\n"),
	 {0}, "220x1/56", SF_PERR_NONE, NULL, NULL, 0},
	{"EHLO X-ed by a PIX, echoed in a 500",
	 IN("500 5.5.1 Command unrecognized: \"XXXX client.example.org\"\r\n"),
	 {0}, "500x1/59", SF_PERR_NONE, NULL, NULL, 0},
	{"pipelined MAIL, RCPT, DATA answers in one read",
	 IN("250 2.1.0 Ok\r\n"
	    "250 2.1.5 Ok\r\n"
	    "354 End data with <CR><LF>.<CR><LF>\r\n"),
	 {0}, "250x1/14 250x1/14 354x1/37", SF_PERR_NONE, NULL, NULL, 0},
	{"greeting, EHLO reply and QUIT reply in one stream",
	 IN("220 mx.example.org ESMTP\r\n"
	    "250-mx.example.org\r\n"
	    "250-SIZE 10240000\r\n"
	    "250 8BITMIME\r\n"
	    "221 2.0.0 Bye\r\n"),
	 {0}, "220x1/26 250x3/53 221x1/15", SF_PERR_NONE, NULL, NULL, 0},
	{"bare LF line ends",
	 IN("250-mx.example.org\n"
	    "250-SIZE 10240000\n"
	    "250 8BITMIME\n"),
	 {0}, "250x3/50", SF_PERR_NONE, NULL, NULL, 0},
	{"CRLF and bare LF mixed in one reply",
	 IN("250-mx.example.org\r\n"
	    "250-PIPELINING\n"
	    "250 DSN\r\n"),
	 {0}, "250x3/44", SF_PERR_NONE, NULL, NULL, 0},
	{"code changes between replies, not within",
	 IN("250 a\r\n251 b\r\n"), {0}, "250x1/7 251x1/7", SF_PERR_NONE, NULL, NULL, 0},
	{"high octets and tabs are text",
	 IN("220 mx.example.org ESMTP \xc3\xa9t\xc3\xa9\t ready\r\n"),
	 {0}, "220x1/39", SF_PERR_NONE, NULL, NULL, 0},
	{"closed in the middle of a line", IN("250-mx.example.org\r\n250-SIZ"),
	 {0}, "", SF_PERR_NONE, NULL, NULL, 27},
	{"closed in the middle of a reply", IN("220 ok\r\n250-mx.example.org\r\n"),
	 {0}, "220x1/8", SF_PERR_NONE, NULL, NULL, 20},
	{"closed after a CR: waits for the LF", IN("250 ok\r"),
	 {0}, "", SF_PERR_NONE, NULL, NULL, 7},
	{"empty input", IN(""), {0}, "", SF_PERR_NONE, NULL, NULL, 0},
};

/* Lines of 0 to 4 octets, and the separator (RFC 5321 4.2). */
static const struct row short_lines[] = {
	{"0 octets, CRLF", IN("\r\n"), {0}, "", SF_PERR_BAD_CODE, "", "", 2},
	{"0 octets, LF", IN("\n"), {0}, "", SF_PERR_BAD_CODE, "", "", 1},
	{"1 octet", IN("2\r\n"), {0}, "", SF_PERR_BAD_CODE, "2", "2", 3},
	{"1 octet, LF", IN("2\n"), {0}, "", SF_PERR_BAD_CODE, "2", "2", 2},
	{"2 octets", IN("25\r\n"), {0}, "", SF_PERR_BAD_CODE, "25", "25", 4},
	{"2 octets, LF", IN("25\n"), {0}, "", SF_PERR_BAD_CODE, "25", "25", 3},
	{"3 octets: a last line", IN("250\r\n"), {0}, "250x1/5", SF_PERR_NONE, NULL, NULL, 0},
	{"3 octets, LF", IN("250\n"), {0}, "250x1/4", SF_PERR_NONE, NULL, NULL, 0},
	{"4 octets, space", IN("250 \r\n"), {0}, "250x1/6", SF_PERR_NONE, NULL, NULL, 0},
	{"4 octets, dash: empty continuation", IN("250-\r\n250\r\n"),
	 {0}, "250x2/11", SF_PERR_NONE, NULL, NULL, 0},
	{"4 octets, LF", IN("250-\n250 \n"), {0}, "250x2/10", SF_PERR_NONE, NULL, NULL, 0},
	{"4 octets, bad separator", IN("2500\r\n"),
	 {0}, "", SF_PERR_BAD_SEPARATOR, "2500", "2500", 6},
	{"3 octets end a multi-line reply", IN("250-a\r\n250\r\n250 b\r\n"),
	 {0}, "250x2/12 250x1/7", SF_PERR_NONE, NULL, NULL, 0},
	{"empty line after a reply", IN("250 ok\r\n\r\n"),
	 {0}, "250x1/8", SF_PERR_BAD_CODE, "", "", 2},
	{"empty line inside a reply", IN("250-ok\r\n\r\n250 ok\r\n"),
	 {0}, "", SF_PERR_BAD_CODE, "", "", 18},
};

/* Every error kind, with the octet that causes it. */
static const struct row errors[] = {
	{"NUL in a greeting", IN("220 mx.example.org ESMTP\0 Postfix\r\n"),
	 {0}, "", SF_PERR_NUL, "220 mx.example.org ESMTP\\0 Postfix", "220 mx.example.org ESMTP\\0",
	 35},
	{"NUL as first octet", IN("\0" "250 ok\r\n"),
	 {0}, "", SF_PERR_NUL, "\\0250 ok", "\\0", 9},
	{"NUL in the code", IN("2\0" "50 ok\r\n"), {0}, "", SF_PERR_NUL, "2\\050 ok", "2\\0", 9},
	{"NUL in a continuation line",
	 IN("250-mx.example.org\r\n250-SIZE\0\r\n250 OK\r\n"),
	 {0}, "", SF_PERR_NUL, "250-SIZE\\0", "250-SIZE\\0", 39},
	{"NUL after complete replies: they come out first",
	 IN("250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n\0"),
	 {0}, "250x1/14 250x1/14", SF_PERR_NUL, "\\0", "\\0", 1},
	{"bad code before NUL: the earlier octet wins", IN("6\0" "00\r\n"),
	 {0}, "", SF_PERR_BAD_CODE, "6\\000", "6", 6},
	{"CR inside a line", IN("220 mx.example.org\rESMTP\r\n"),
	 {0}, "", SF_PERR_BARE_CR, "220 mx.example.org\\rESMTP", "220 mx.example.org\\rE", 26},
	{"CR CR LF", IN("250 ok\r\r\n"), {0}, "", SF_PERR_BARE_CR, "250 ok\\r", "250 ok\\r", 9},
	{"CR then NUL: the CR is the earlier fault", IN("250 ok\r\0"),
	 {0}, "", SF_PERR_BARE_CR, "250 ok\\r\\0", "250 ok\\r\\0", 8},
	{"CR after the code, then text", IN("250\rok\r\n"),
	 {0}, "", SF_PERR_BARE_CR, "250\\rok", "250\\ro", 8},
	{"CR inside the code", IN("25\r\n"), {0}, "", SF_PERR_BAD_CODE, "25", "25", 4},
	{"code 600", IN("600 x\r\n"), {0}, "", SF_PERR_BAD_CODE, "600 x", "6", 7},
	{"code 199", IN("199 x\r\n"), {0}, "", SF_PERR_BAD_CODE, "199 x", "1", 7},
	{"letter in the code", IN("2x0 x\r\n"), {0}, "", SF_PERR_BAD_CODE, "2x0 x", "2x", 7},
	{"letter as third digit", IN("25a x\r\n"), {0}, "", SF_PERR_BAD_CODE, "25a x", "25a", 7},
	{"blank before the code", IN(" 250 ok\r\n"), {0}, "", SF_PERR_BAD_CODE, " 250 ok", " ", 9},
	{"an HTTP server", IN("HTTP/1.1 400 Bad Request\r\n"),
	 {0}, "", SF_PERR_BAD_CODE, "HTTP/1.1 400 Bad Request", "H", 26},
	{"an SSH server", IN("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"),
	 {0}, "", SF_PERR_BAD_CODE, "SSH-2.0-OpenSSH_9.2p1 Debian-2", "S", 32},
	{"continuation line without a code", IN("250-mx.example.org\r\nSIZE 1000\r\n"),
	 {0}, "", SF_PERR_BAD_CODE, "SIZE 1000", "S", 31},
	{"letter after the code", IN("250x\r\n"), {0}, "", SF_PERR_BAD_SEPARATOR, "250x", "250x", 6},
	{"tab after the code", IN("250\tok\r\n"),
	 {0}, "", SF_PERR_BAD_SEPARATOR, "250\\tok", "250\\t", 8},
	{"four-digit code", IN("2500 ok\r\n"), {0}, "", SF_PERR_BAD_SEPARATOR, "2500 ok", "2500", 9},
	{"continuation with another code", IN("250-mx.example.org\r\n251 OK\r\n"),
	 {0}, "", SF_PERR_CODE_MISMATCH, "251 OK", "251", 28},
	{"continuation with another class", IN("250-mx\r\n550 5.0.0 no\r\n"),
	 {0}, "", SF_PERR_CODE_MISMATCH, "550 5.0.0 no", "550", 22},
	{"mismatch in the third digit", IN("220-a\r\n221 b\r\n"),
	 {0}, "", SF_PERR_CODE_MISMATCH, "221 b", "221", 14},
	{"error line is cut at 80 octets", IN("250 " A100 "\0\r\n"),
	 {0}, "", SF_PERR_NUL,
	 "250 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	 "250 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 107},
};

/* Limits exactly at and one past, with small limits. */
#define LINE10 {.line_max = 10}
#define LINES3 {.lines_max = 3}
#define BYTES20 {.reply_max = 20}
#define BYTES8 {.reply_max = 8}

static const struct row limits[] = {
	{"line of line_max octets", IN("250 abcdef\r\n"), LINE10, "250x1/12", SF_PERR_NONE,
	 NULL, NULL, 0},
	{"line of line_max octets, LF", IN("250 abcdef\n"), LINE10, "250x1/11", SF_PERR_NONE,
	 NULL, NULL, 0},
	{"line one past line_max", IN("250 abcdefg\r\n"), LINE10, "", SF_PERR_LINE_TOO_LONG,
	 "250 abcdefg", "250 abcdefg", 13},
	{"line one past line_max, no LF yet", IN("250 abcdefg"), LINE10, "",
	 SF_PERR_LINE_TOO_LONG, "250 abcdefg", "250 abcdefg", 11},
	{"line far past line_max", IN("250 abcdefghijklmnop\r\n"), LINE10, "",
	 SF_PERR_LINE_TOO_LONG, "250 abcdefghijklmnop", "250 abcdefg", 22},
	{"line_max octets, then CR and not LF", IN("250 abcdef\rg\r\n"), LINE10, "",
	 SF_PERR_BARE_CR, "250 abcdef\\rg", "250 abcdef\\rg", 14},
	{"line_max octets, then CR CR", IN("250 abcdef\r\r\n"), LINE10, "", SF_PERR_BARE_CR,
	 "250 abcdef\\r", "250 abcdef\\r", 13},
	{"continuation at line_max", IN("250-abcdef\r\n250 ghijkl\r\n"), LINE10, "250x2/24",
	 SF_PERR_NONE, NULL, NULL, 0},
	{"continuation one past line_max", IN("250-abcdef\r\n250 ghijklm\r\n"), LINE10, "",
	 SF_PERR_LINE_TOO_LONG, "250 ghijklm", "250 ghijklm", 25},

	{"lines_max lines", IN("250-a\r\n250-b\r\n250 c\r\n"), LINES3, "250x3/21", SF_PERR_NONE,
	 NULL, NULL, 0},
	{"one line past lines_max", IN("250-a\r\n250-b\r\n250-c\r\n250 d\r\n"), LINES3, "",
	 SF_PERR_TOO_MANY_LINES, "250 d", "2", 28},
	{"one empty line past lines_max", IN("250-a\r\n250-b\r\n250-c\r\n\n"), LINES3, "",
	 SF_PERR_TOO_MANY_LINES, "", "", 22},
	{"lines_max counts per reply", IN("250-a\r\n250-b\r\n250 c\r\n250-a\r\n250-b\r\n250 c\r\n"),
	 LINES3, "250x3/21 250x3/21", SF_PERR_NONE, NULL, NULL, 0},

	{"reply of reply_max octets", IN("250-abcd\r\n250 efgh\r\n"), BYTES20, "250x2/20",
	 SF_PERR_NONE, NULL, NULL, 0},
	{"reply one past reply_max (at the LF)", IN("250-abcd\r\n250 efghi\r\n"), BYTES20, "",
	 SF_PERR_REPLY_TOO_BIG, "250 efghi", "250 efghi", 21},
	{"reply of reply_max octets, LF", IN("250-abcd\n250 efghij\n"), BYTES20, "250x2/20",
	 SF_PERR_NONE, NULL, NULL, 0},
	{"reply one past reply_max, LF", IN("250-abcd\n250 efghijk\n"), BYTES20, "",
	 SF_PERR_REPLY_TOO_BIG, "250 efghijk", "250 efghijk", 21},
	{"reply_max reached inside a line", IN("250 abcdefgh\r\n"), BYTES8, "",
	 SF_PERR_REPLY_TOO_BIG, "250 abcdefgh", "250 abcde", 14},
	{"reply_max reached at the CR", IN("250 abcd\r\n"), BYTES8, "", SF_PERR_REPLY_TOO_BIG,
	 "250 abcd", "250 abcd", 10},
	{"reply_max counts per reply", IN("250 ab\r\n250 cd\r\n"), BYTES8, "250x1/8 250x1/8",
	 SF_PERR_NONE, NULL, NULL, 0},
};

static void test_real_replies(void **state)
{
	(void)state;
	RUN_TABLE(real_replies);
}

static void test_short_lines(void **state)
{
	(void)state;
	RUN_TABLE(short_lines);
}

static void test_errors(void **state)
{
	(void)state;
	RUN_TABLE(errors);
}

static void test_limits(void **state)
{
	(void)state;
	RUN_TABLE(limits);
}

/* --- the default limits (sf_common.h), at and one past ------------------- */

/* A buffer to build big inputs in. */
struct gen {
	char *buf;
	size_t len;
	size_t cap;
};

static void gen_put(struct gen *g, const char *s, size_t n)
{
	if (g->len + n > g->cap) {
		g->cap = (g->len + n) * 2;
		g->buf = realloc(g->buf, g->cap);
		assert_non_null(g->buf);
	}
	memcpy(g->buf + g->len, s, n);
	g->len += n;
}

/* Append one line: prefix, then filler octets up to len octets, then CRLF. */
static void gen_line(struct gen *g, const char *prefix, size_t len)
{
	size_t plen = strlen(prefix);

	gen_put(g, prefix, plen);
	for (size_t i = plen; i < len; i++)
		gen_put(g, i % 10 == 9 ? " " : "x", 1);
	gen_put(g, "\r\n", 2);
}

/* First min(80, n) octets of the line at offset off, as show() writes them. */
static char *first80(const struct gen *g, size_t off, size_t n)
{
	char *s = malloc(400);

	assert_non_null(s);
	show(s, 400, g->buf + off, n < 80 ? n : 80);
	return s;
}

/* Run a generated input through the same checks as a table row. */
static void run_generated(const char *name, const struct gen *g, const char *replies,
			  enum sf_perr err, const char *errline, const char *errmin)
{
	struct row t = {name, g->buf, g->len, {0}, replies, err, errline, errmin, 0};

	/* pending: the octets after the last returned reply */
	if (err != SF_PERR_NONE) {
		size_t returned = 0;
		const char *slash = strrchr(replies, '/');

		if (slash != NULL)
			returned = strtoul(slash + 1, NULL, 10);
		t.pending = g->len - returned;
	}
	run_row(&t, 997);
}

static void test_default_line_max(void **state)
{
	struct gen g = {0};
	char *line;
	(void)state;

	gen_line(&g, "250 ", SF_REPLY_LINE_MAX);
	run_generated("line of SF_REPLY_LINE_MAX octets", &g, "250x1/1002", SF_PERR_NONE, NULL,
		      NULL);

	g.len = 0;
	gen_line(&g, "250 ", SF_REPLY_LINE_MAX + 1);
	line = first80(&g, 0, SF_REPLY_LINE_MAX + 1);
	run_generated("line one past SF_REPLY_LINE_MAX", &g, "", SF_PERR_LINE_TOO_LONG, line,
		      line);
	free(line);
	free(g.buf);
}

static void test_default_lines_max(void **state)
{
	struct gen g = {0};
	char want[32];
	(void)state;

	for (unsigned i = 1; i < SF_REPLY_LINES_MAX; i++)
		gen_line(&g, "250-", 10);
	gen_line(&g, "250 ", 10);
	snprintf(want, sizeof want, "250x%u/%u", SF_REPLY_LINES_MAX, SF_REPLY_LINES_MAX * 12);
	run_generated("SF_REPLY_LINES_MAX lines", &g, want, SF_PERR_NONE, NULL, NULL);

	g.len -= 12;
	gen_line(&g, "250-", 10);
	gen_line(&g, "250 ", 10);
	run_generated("one line past SF_REPLY_LINES_MAX", &g, "", SF_PERR_TOO_MANY_LINES,
		      "250 xxxxx ", "2");
	free(g.buf);
}

static void test_default_reply_max(void **state)
{
	/* 256 lines of 254 octets + CRLF: exactly SF_REPLY_BYTES_MAX octets */
	const size_t per_line = SF_REPLY_BYTES_MAX / SF_REPLY_LINES_MAX;
	struct gen g = {0};
	char want[32];
	char *line;
	(void)state;

	for (unsigned i = 1; i < SF_REPLY_LINES_MAX; i++)
		gen_line(&g, "250-", per_line - 2);
	gen_line(&g, "250 ", per_line - 2);
	assert_int_equal(g.len, SF_REPLY_BYTES_MAX);
	snprintf(want, sizeof want, "250x%u/%u", SF_REPLY_LINES_MAX, SF_REPLY_BYTES_MAX);
	run_generated("reply of SF_REPLY_BYTES_MAX octets", &g, want, SF_PERR_NONE, NULL, NULL);

	/* the last line one octet longer: the LF is octet 65537 */
	g.len -= per_line;
	gen_line(&g, "250 ", per_line - 1);
	line = first80(&g, g.len - (per_line + 1), per_line - 1);
	run_generated("reply one past SF_REPLY_BYTES_MAX", &g, "", SF_PERR_REPLY_TOO_BIG, line,
		      line);
	free(line);
	free(g.buf);
}

/* --- streaming behaviour, step by step ------------------------------------ */

/* A too-long line is refused as soon as its octet arrives, without LF. */
static void test_too_long_is_immediate(void **state)
{
	struct sf_parser *p = sf_parser_new(NULL);
	struct gen g = {0};
	struct sf_reply *r = NULL;
	(void)state;

	gen_line(&g, "250 ", SF_REPLY_LINE_MAX); /* 1000 octets, CR, LF */
	assert_int_equal(sf_parser_feed(p, g.buf, SF_REPLY_LINE_MAX), SF_PARSE_MORE);
	assert_int_equal(sf_parser_feed(p, "\r", 1), SF_PARSE_MORE);
	assert_int_equal(sf_parser_next(p, &r), SF_PARSE_MORE);
	assert_int_equal(sf_parser_feed(p, "\n", 1), SF_PARSE_MORE);
	assert_int_equal(sf_parser_next(p, &r), SF_PARSE_REPLY);
	assert_int_equal(r->lines[0].len, SF_REPLY_LINE_MAX);
	sf_reply_free(r);

	assert_int_equal(sf_parser_feed(p, g.buf, SF_REPLY_LINE_MAX), SF_PARSE_MORE);
	assert_int_equal(sf_parser_feed(p, "x", 1), SF_PARSE_ERROR);
	assert_int_equal(sf_parser_error(p), SF_PERR_LINE_TOO_LONG);
	sf_parser_free(p);

	/* one feed of 100000 octets without LF: refused, not buffered */
	p = sf_parser_new(NULL);
	g.len = 0;
	gen_line(&g, "250 ", 100000);
	assert_int_equal(sf_parser_feed(p, g.buf, 100000), SF_PARSE_ERROR);
	assert_int_equal(sf_parser_error(p), SF_PERR_LINE_TOO_LONG);
	sf_parser_free(p);
	free(g.buf);
}

/* After an error nothing is parsed any more; the error does not change. */
static void test_error_is_sticky(void **state)
{
	struct sf_parser *p = sf_parser_new(NULL);
	struct sf_reply *r = NULL;
	const char *line;
	size_t len = 0;
	(void)state;

	assert_int_equal(sf_parser_feed(p, IN("250 ok\r\n251-a\r\n252 b\r\n")), SF_PARSE_ERROR);
	assert_int_equal(sf_parser_error(p), SF_PERR_CODE_MISMATCH);
	assert_int_equal(sf_parser_feed(p, IN("220 fine\r\n")), SF_PARSE_ERROR);
	assert_int_equal(sf_parser_error(p), SF_PERR_CODE_MISMATCH);
	line = sf_parser_error_line(p, &len);
	assert_non_null(line);
	assert_int_equal(len, 5);
	assert_memory_equal(line, "252 b", 5);

	/* the reply completed before the error still comes out, once */
	assert_int_equal(sf_parser_next(p, &r), SF_PARSE_REPLY);
	assert_int_equal(r->code, 250);
	sf_reply_free(r);
	assert_int_equal(sf_parser_next(p, &r), SF_PARSE_ERROR);
	assert_null(r);
	assert_int_equal(sf_parser_next(p, &r), SF_PARSE_ERROR);
	/* everything fed and not returned: 14 + 10 octets */
	assert_int_equal(sf_parser_pending(p), 24);
	sf_parser_free(p);
}

static void test_pending(void **state)
{
	struct sf_parser *p = sf_parser_new(NULL);
	struct sf_reply *r = NULL;
	(void)state;

	assert_int_equal(sf_parser_pending(p), 0);
	assert_int_equal(sf_parser_feed(p, IN("220 a\r\n250-b")), SF_PARSE_MORE);
	assert_int_equal(sf_parser_pending(p), 12);
	assert_int_equal(sf_parser_feed(p, "", 0), SF_PARSE_MORE);
	assert_int_equal(sf_parser_feed(p, NULL, 0), SF_PARSE_MORE);
	assert_int_equal(sf_parser_pending(p), 12);
	assert_int_equal(sf_parser_next(p, &r), SF_PARSE_REPLY);
	sf_reply_free(r);
	assert_int_equal(sf_parser_pending(p), 5);
	assert_int_equal(sf_parser_feed(p, IN("\r\n250 c\r\n")), SF_PARSE_MORE);
	assert_int_equal(sf_parser_pending(p), 14);
	assert_int_equal(sf_parser_next(p, &r), SF_PARSE_REPLY);
	assert_int_equal(r->nlines, 2);
	assert_int_equal(r->bytes, 14);
	sf_reply_free(r);
	assert_int_equal(sf_parser_pending(p), 0);
	assert_int_equal(sf_parser_next(p, &r), SF_PARSE_MORE);
	assert_null(r);
	sf_parser_free(p);
}

/* Many pipelined replies queued in one feed come out in order. */
static void test_many_queued(void **state)
{
	enum { N = 1000 };
	struct sf_parser *p = sf_parser_new(NULL);
	struct gen g = {0};
	struct sf_reply *r = NULL;
	char line[16];
	(void)state;

	for (int i = 0; i < N; i++) {
		snprintf(line, sizeof line, "%d ok\r\n", 200 + i % 400);
		gen_put(&g, line, strlen(line));
	}
	assert_int_equal(sf_parser_feed(p, g.buf, g.len), SF_PARSE_MORE);
	assert_int_equal(sf_parser_pending(p), g.len);
	/* take half, feed more, take the rest: order is kept across refills */
	for (int i = 0; i < N / 2; i++) {
		assert_int_equal(sf_parser_next(p, &r), SF_PARSE_REPLY);
		assert_int_equal(r->code, 200 + i % 400);
		sf_reply_free(r);
	}
	assert_int_equal(sf_parser_feed(p, g.buf, g.len), SF_PARSE_MORE);
	for (int i = N / 2; i < 2 * N; i++) {
		assert_int_equal(sf_parser_next(p, &r), SF_PARSE_REPLY);
		assert_int_equal(r->code, 200 + (i % N) % 400);
		sf_reply_free(r);
	}
	assert_int_equal(sf_parser_next(p, &r), SF_PARSE_MORE);
	assert_int_equal(sf_parser_pending(p), 0);
	sf_parser_free(p);
	free(g.buf);
}

/* Freed with a queued reply, a half-built reply and a partial line: the
 * leak checker (valgrind, ASan) proves everything is released. */
static void test_free_with_state(void **state)
{
	struct sf_parser *p = sf_parser_new(NULL);
	(void)state;

	assert_int_equal(sf_parser_feed(p, IN("220 ok\r\n250-mx\r\n250-SIZE 1000\r\n250-PIPE")),
			 SF_PARSE_MORE);
	sf_parser_free(p);
	sf_parser_free(NULL);
	sf_reply_free(NULL);
}

/* A zero field takes its default; the others are used as given. */
static void test_limits_defaults(void **state)
{
	struct sf_parser_limits lim = {.lines_max = 2};
	struct sf_parser *p = sf_parser_new(&lim);
	struct gen g = {0};
	struct sf_reply *r = NULL;
	(void)state;

	gen_line(&g, "250-", SF_REPLY_LINE_MAX);
	gen_line(&g, "250 ", SF_REPLY_LINE_MAX);
	assert_int_equal(sf_parser_feed(p, g.buf, g.len), SF_PARSE_MORE);
	assert_int_equal(sf_parser_next(p, &r), SF_PARSE_REPLY);
	sf_reply_free(r);
	assert_int_equal(sf_parser_feed(p, IN("250-a\r\n250-b\r\n250 c\r\n")), SF_PARSE_ERROR);
	assert_int_equal(sf_parser_error(p), SF_PERR_TOO_MANY_LINES);
	sf_parser_free(p);
	free(g.buf);
}

static void test_no_error_line_without_error(void **state)
{
	struct sf_parser *p = sf_parser_new(NULL);
	size_t len = 42;
	(void)state;

	assert_int_equal(sf_parser_error(p), SF_PERR_NONE);
	assert_null(sf_parser_error_line(p, &len));
	assert_int_equal(len, 0);
	assert_null(sf_parser_error_line(p, NULL));
	sf_parser_free(p);
}

/* --- replies -------------------------------------------------------------- */

static void test_reply_text(void **state)
{
	static const struct {
		const char *line;
		const char *text;
	} rows[] = {
		{"250-mx.example.org Hello", "mx.example.org Hello"},
		{"250-", ""},
		{"250-  two blanks", "  two blanks"},
		{"250 X", "X"},
		{"250", ""},
	};
	struct sf_parser *p = sf_parser_new(NULL);
	struct sf_reply *r = NULL;
	const char *t;
	size_t len = 99;
	(void)state;

	assert_int_equal(sf_parser_feed(p, IN("250-mx.example.org Hello\r\n250-\r\n"
					      "250-  two blanks\r\n250 X\r\n250\r\n")),
			 SF_PARSE_MORE);
	assert_int_equal(sf_parser_next(p, &r), SF_PARSE_REPLY);
	assert_int_equal(r->nlines, 4);
	for (size_t i = 0; i < 4; i++) {
		t = sf_reply_text(r, i, &len);
		assert_int_equal(len, strlen(rows[i].text));
		assert_string_equal(t, rows[i].text);
		assert_ptr_equal(t, r->lines[i].raw + r->lines[i].len - len);
	}
	/* out of range: empty, never NULL */
	t = sf_reply_text(r, 4, &len);
	assert_string_equal(t, "");
	assert_int_equal(len, 0);
	assert_non_null(sf_reply_text(r, 0, NULL));
	sf_reply_free(r);

	assert_int_equal(sf_parser_next(p, &r), SF_PARSE_REPLY);
	t = sf_reply_text(r, 0, &len);
	assert_string_equal(t, rows[4].text);
	assert_int_equal(len, 0);
	sf_reply_free(r);
	sf_parser_free(p);
}

/* The allocation contract: a reply built by hand frees with sf_reply_free. */
static void test_hand_built_reply(void **state)
{
	static const char *const lines[] = {"250-mx.example.org", "250 XXXXXXXA"};
	struct sf_reply *r = malloc(sizeof *r);
	size_t len;
	(void)state;

	assert_non_null(r);
	r->code = 250;
	r->nlines = 2;
	r->bytes = 34;
	r->lines = malloc(2 * sizeof *r->lines);
	assert_non_null(r->lines);
	for (size_t i = 0; i < 2; i++) {
		r->lines[i].len = strlen(lines[i]);
		r->lines[i].raw = malloc(r->lines[i].len + 1);
		assert_non_null(r->lines[i].raw);
		memcpy(r->lines[i].raw, lines[i], r->lines[i].len + 1);
	}
	assert_string_equal(sf_reply_text(r, 1, &len), "XXXXXXXA");
	assert_int_equal(len, 8);
	sf_reply_free(r);
}

static void test_perr_str(void **state)
{
	const char *seen[SF_PERR_CODE_MISMATCH + 1];
	(void)state;

	for (int e = SF_PERR_NONE; e <= SF_PERR_CODE_MISMATCH; e++) {
		seen[e] = sf_perr_str((enum sf_perr)e);
		assert_non_null(seen[e]);
		assert_true(strlen(seen[e]) > 0);
		for (int k = 0; k < e; k++)
			assert_string_not_equal(seen[k], seen[e]);
	}
	assert_string_equal(sf_perr_str(SF_PERR_LINE_TOO_LONG), "reply line too long");
	assert_non_null(sf_perr_str((enum sf_perr)99));
}

/* --- chunking never changes the outcome (pseudo-random inputs) ------------ */

/* xorshift32: a fixed sequence, so a failure can be replayed. */
static uint32_t next_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* Append a random line to in[*len..cap): mostly well-formed (a
 * continuation keeps the code of the line before it), sometimes with a
 * fault (NUL, stray CR, bad code...) put in at a random place. *cont tells
 * whether the line before was a continuation; code holds its code. */
static void random_line(uint32_t *seed, char *in, size_t *len, size_t cap, int *cont,
			char code[4])
{
	static const char *const codes[] = {"250", "220", "354", "550"};
	static const char *const texts[] = {"ok", "SIZE 1000", "mx.example.org", "XXXXXXXA",
					    "abcdefghijkl"};
	static const char *const ends[] = {"\r\n", "\r\n", "\n"};
	static const char *const faults[] = {"\0", "\r", "x", "6", "\r\r\n", "\n", " ", "251"};
	char line[64];
	size_t n;
	unsigned how = next_rand(seed) % 8; /* 0-3 continuation, 4-6 last, 7 bare code */

	if (!*cont)
		memcpy(code, codes[next_rand(seed) % 4], 4);
	if (how == 7)
		n = (size_t)snprintf(line, sizeof line, "%s%s", code, ends[next_rand(seed) % 3]);
	else
		n = (size_t)snprintf(line, sizeof line, "%s%c%s%s", code, how < 4 ? '-' : ' ',
				     texts[next_rand(seed) % 5], ends[next_rand(seed) % 3]);
	*cont = how < 4;
	if (next_rand(seed) % 8 == 0) {
		const char *f = faults[next_rand(seed) % 8];
		size_t flen = f[0] == '\0' ? 1 : strlen(f);
		size_t at = next_rand(seed) % (n + 1);

		memmove(line + at + flen, line + at, n - at);
		memcpy(line + at, f, flen);
		n += flen;
	}
	if (*len + n <= cap) {
		memcpy(in + *len, line, n);
		*len += n;
	}
}

/* Random streams of plausible lines with now and then a fault, under
 * several limits: split at every offset, byte at a time, and in random
 * chunks, every outcome must equal the whole-feed one. */
static void test_chunking_never_matters(void **state)
{
	/* limits small enough that random input meets them, and the defaults */
	static const struct sf_parser_limits lims[] = {
		{0},
		{.line_max = 17, .lines_max = 3, .reply_max = 60},
		{.line_max = 6, .lines_max = 2, .reply_max = 14},
		{0},
	};
	uint32_t seed = 0x5eed1234u;
	char in[400];
	(void)state;

	for (int round = 0; round < 800; round++) {
		struct row t = {"random", in, 0, lims[round % 4], NULL, SF_PERR_NONE, NULL, NULL, 0};
		struct outcome *whole = malloc(sizeof *whole);
		struct outcome *o = malloc(sizeof *o);
		char *line = malloc(400);
		size_t nlines = 1 + next_rand(&seed) % 10;
		char code[4] = "250";
		int cont = 0;

		assert_non_null(whole);
		assert_non_null(o);
		assert_non_null(line);
		for (size_t k = 0; k < nlines; k++)
			random_line(&seed, in, &t.inlen, sizeof in, &cont, code);
		if (next_rand(&seed) % 4 == 0 && t.inlen > 0)
			t.inlen -= next_rand(&seed) % t.inlen; /* closed early */

		/* the whole feed defines the row; one byte at a time defines errmin */
		snprintf(ctx, sizeof ctx, "random round %d, whole", round);
		run(&t, 0, 0, 1, whole);
		t.replies = whole->replies;
		t.err = whole->err;
		t.errline = whole->errline;
		t.pending = whole->pending;
		run(&t, 0, 1, 1, o);
		memcpy(line, o->errline, strlen(o->errline) + 1);
		t.errmin = line;

		run_row(&t, 1);
		for (int k = 0; k < 5; k++) {
			snprintf(ctx, sizeof ctx, "random round %d, random chunks", round);
			run(&t, 1 + next_rand(&seed) % 5, 1 + next_rand(&seed) % 9, k & 1, o);
			check_outcome(&t, o, 0, 0);
		}
		free(line);
		free(o);
		free(whole);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_replies),
		cmocka_unit_test(test_short_lines),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_default_line_max),
		cmocka_unit_test(test_default_lines_max),
		cmocka_unit_test(test_default_reply_max),
		cmocka_unit_test(test_too_long_is_immediate),
		cmocka_unit_test(test_error_is_sticky),
		cmocka_unit_test(test_pending),
		cmocka_unit_test(test_many_queued),
		cmocka_unit_test(test_free_with_state),
		cmocka_unit_test(test_limits_defaults),
		cmocka_unit_test(test_no_error_line_without_error),
		cmocka_unit_test(test_reply_text),
		cmocka_unit_test(test_hand_built_reply),
		cmocka_unit_test(test_perr_str),
		cmocka_unit_test(test_chunking_never_matters),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

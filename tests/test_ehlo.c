/*
 * test_ehlo.c - unit tests of the EHLO reply parser and the ASA mask test
 * (lib/sf_ehlo.c).
 *
 * Replies are made with the real parser from transcripts. A parsed EHLO
 * reply is compared through a one-line dump:
 *   domain "greeting" | KEYWORD(params) | ...
 * where a keyword is followed by "!" when it is not a valid ehlo-keyword,
 * "~L" when its line is an X mask ending in letter L, and the greeting by
 * "~" when line 1 is masked.
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
#include "sf_ehlo.h"
#include "sf_reply.h"
#include "transcripts.h"

#define K10 "KKKKKKKKKK"
#define K64 K10 K10 K10 K10 K10 K10 "KKKK"

/* --- transcripts ---------------------------------------------------------- */

/* The EHLO_ replies are shared with test_reply.c (transcripts.h). */
static const char postfix[] = EHLO_POSTFIX;
static const char exim[] = EHLO_EXIM;
static const char exchange[] = EHLO_EXCHANGE;

static const char sendmail[] =
	"250-mail.example.com Hello client.example.org [192.0.2.10], pleased to meet you\r\n"
	"250-ENHANCEDSTATUSCODES\r\n"
	"250-PIPELINING\r\n"
	"250-8BITMIME\r\n"
	"250-SIZE\r\n"
	"250-DSN\r\n"
	"250-ETRN\r\n"
	"250-AUTH DIGEST-MD5 CRAM-MD5\r\n"
	"250-DELIVERBY\r\n"
	"250 HELP\r\n";

/* Postfix behind an ASA: STARTTLS and CHUNKING masked. */
static const char postfix_asa[] = EHLO_POSTFIX_ASA;

/* sendmail behind an ASA: STARTTLS and DELIVERBY (the last line) masked. */
static const char sendmail_asa[] = EHLO_SENDMAIL_ASA;

/* Exchange 2003 behind an older ASA: TURN, CHUNKING, VRFY, both X-EXPS lines,
 * AUTH=LOGIN, X-LINK2STATE, XEXCH50 and the final OK masked, A to I. */
static const char exchange2003_asa[] =
	"250-mail.corp.example.com Hello [192.0.2.10]\r\n"
	"250-XXXA\r\n"
	"250-SIZE\r\n"
	"250-ETRN\r\n"
	"250-PIPELINING\r\n"
	"250-DSN\r\n"
	"250-ENHANCEDSTATUSCODES\r\n"
	"250-8bitmime\r\n"
	"250-BINARYMIME\r\n"
	"250-XXXXXXXB\r\n"
	"250-XXXC\r\n"
	"250-XXXXXXXXXXXXXXXXXXXXXXXD\r\n"
	"250-XXXXXXXXXXXE\r\n"
	"250-AUTH GSSAPI NTLM LOGIN\r\n"
	"250-XXXXXXXXXF\r\n"
	"250-XXXXXXXXXXXG\r\n"
	"250-XXXXXXH\r\n"
	"250 XI\r\n";

/* Unusual but legal shapes: blanks, odd tokens, empty lines. */
static const char odd[] =
	"250-mx.example.org   \r\n"
	"250-SIZE   10240000  \r\n"
	"250-AUTH=LOGIN PLAIN\r\n"
	"250-\r\n"
	"250- \tSIZE\r\n"
	"250-x_y\r\n"
	"250-X-\r\n"
	"250-" K64 "K" K10 " param\r\n"
	"250 " K64 "\r\n";

/* Parse text into exactly one reply. */
static struct sf_reply *reply_from(const char *text)
{
	struct sf_parser *p = sf_parser_new(NULL);
	struct sf_reply *r = NULL, *extra = NULL;

	assert_non_null(p);
	assert_int_equal(sf_parser_feed(p, text, strlen(text)), SF_PARSE_MORE);
	assert_int_equal(sf_parser_next(p, &r), SF_PARSE_REPLY);
	assert_int_equal(sf_parser_next(p, &extra), SF_PARSE_MORE);
	assert_int_equal(sf_parser_pending(p), 0);
	sf_parser_free(p);
	return r;
}

/* 1 if s points into line i of r (its NUL included). */
static int points_into(const struct sf_reply *r, size_t i, const char *s)
{
	return s >= r->lines[i].raw && s <= r->lines[i].raw + r->lines[i].len;
}

/* The one-line dump described at the top. */
static void dump(const struct sf_ehlo *e, char *buf, size_t sz)
{
	size_t o = (size_t)snprintf(buf, sz, "%s \"%s\"%s", e->domain, e->greeting,
				    e->greeting_masked ? "~" : "");

	for (size_t i = 0; i < e->next && o < sz; i++) {
		const struct sf_ehlo_ext *x = &e->ext[i];

		o += (size_t)snprintf(buf + o, sz - o, " | %s", x->keyword);
		if (o < sz && x->params[0] != '\0')
			o += (size_t)snprintf(buf + o, sz - o, "(%s)", x->params);
		if (o < sz && !x->valid)
			o += (size_t)snprintf(buf + o, sz - o, "!");
		if (o < sz && x->masked)
			o += (size_t)snprintf(buf + o, sz - o, "~%c", x->mask_letter);
	}
}

/* --- sf_ehlo_parse ------------------------------------------------------- */

static const struct {
	const char *name;
	const char *text;
	const char *want;
	size_t masked;
} parse_rows[] = {
	{"Postfix", postfix,
	 "mail.example.org \"\" | PIPELINING | SIZE(10240000) | VRFY | ETRN | STARTTLS"
	 " | ENHANCEDSTATUSCODES | 8BITMIME | DSN | SMTPUTF8 | CHUNKING",
	 0},
	{"Exim", exim,
	 "mx.example.net \"Hello client.example.com [192.0.2.10]\" | SIZE(52428800) | 8BITMIME"
	 " | PIPELINING | PIPECONNECT | AUTH(PLAIN LOGIN) | CHUNKING | STARTTLS | PRDR | HELP",
	 0},
	{"Exchange: real X extensions are not masks", exchange,
	 "EXCH01.corp.example.com \"Hello [192.0.2.10]\" | SIZE(37748736) | PIPELINING | DSN"
	 " | ENHANCEDSTATUSCODES | STARTTLS | X-ANONYMOUSTLS | AUTH(NTLM) | X-EXPS(GSSAPI NTLM)"
	 " | 8BITMIME | BINARYMIME | CHUNKING | XRDST | XSHADOW",
	 0},
	{"sendmail", sendmail,
	 "mail.example.com \"Hello client.example.org [192.0.2.10], pleased to meet you\""
	 " | ENHANCEDSTATUSCODES | PIPELINING | 8BITMIME | SIZE | DSN | ETRN"
	 " | AUTH(DIGEST-MD5 CRAM-MD5) | DELIVERBY | HELP",
	 0},
	{"Postfix behind an ASA", postfix_asa,
	 "mail.example.org \"\" | PIPELINING | SIZE(10240000) | VRFY | ETRN | XXXXXXXA~A"
	 " | ENHANCEDSTATUSCODES | 8BITMIME | DSN | SMTPUTF8 | XXXXXXXB~B",
	 2},
	{"sendmail behind an ASA", sendmail_asa,
	 "mail.example.com \"Hello client.example.org [192.0.2.10], pleased to meet you\""
	 " | ENHANCEDSTATUSCODES | PIPELINING | 8BITMIME | SIZE | DSN | ETRN"
	 " | AUTH(DIGEST-MD5 CRAM-MD5) | XXXXXXXA~A | XXXXXXXXB~B",
	 2},
	{"Exchange 2003 behind an ASA", exchange2003_asa,
	 "mail.corp.example.com \"Hello [192.0.2.10]\" | XXXA~A | SIZE | ETRN | PIPELINING | DSN"
	 " | ENHANCEDSTATUSCODES | 8bitmime | BINARYMIME | XXXXXXXB~B | XXXC~C"
	 " | XXXXXXXXXXXXXXXXXXXXXXXD~D | XXXXXXXXXXXE~E | AUTH(GSSAPI NTLM LOGIN)"
	 " | XXXXXXXXXF~F | XXXXXXXXXXXG~G | XXXXXXH~H | XI~I",
	 9},
	{"masked greeting line", "250-XXXXXXXXXXXXXXXXXXXXA\r\n250 SIZE 1000\r\n",
	 "XXXXXXXXXXXXXXXXXXXXA \"\"~ | SIZE(1000)", 1},
	{"one line: no extensions", "250 mx.example.org\r\n", "mx.example.org \"\"", 0},
	{"one line with a greeting and a tab", "250 mx.example.org Hello\tthere\r\n",
	 "mx.example.org \"Hello\tthere\"", 0},
	{"three octets: nothing at all", "250\r\n", " \"\"", 0},
	{"NOOP answer instead of EHLO (PIX)", "250 2.0.0 Ok\r\n", "2.0.0 \"Ok\"", 0},
	{"NOOP answer masked", "250 XI\r\n", "XI \"\"~", 1},
	{"odd but legal shapes", odd,
	 "mx.example.org \"\" | SIZE(10240000  ) | AUTH=LOGIN(PLAIN)! | SIZE | x_y! | X-"
	 " | " K64 "(param)! | " K64,
	 0},
};

static void test_parse(void **state)
{
	char got[2048];
	(void)state;

	for (size_t n = 0; n < sizeof parse_rows / sizeof parse_rows[0]; n++) {
		struct sf_reply *r = reply_from(parse_rows[n].text);
		struct sf_ehlo *e = NULL;

		assert_int_equal(sf_ehlo_parse(r, &e), 0);
		assert_non_null(e);
		dump(e, got, sizeof got);
		if (strcmp(got, parse_rows[n].want) != 0)
			print_error("row: %s\n", parse_rows[n].name);
		assert_string_equal(got, parse_rows[n].want);
		assert_int_equal(sf_ehlo_masked_count(e), parse_rows[n].masked);
		/* every line after the first but those without a keyword */
		{
			size_t keyed = 0;
			for (size_t i = 1; i < r->nlines; i++) {
				size_t tl;
				const char *t = sf_reply_text(r, i, &tl);
				keyed += strspn(t, " \t") < tl;
			}
			assert_int_equal(e->next, keyed);
		}
		assert_true(e->next == 0 || e->ext != NULL);
		/* the domain is a copy; greeting and params point into the reply */
		assert_false(points_into(r, 0, e->domain));
		assert_true(points_into(r, 0, e->greeting));
		for (size_t i = 0; i < e->next; i++) {
			/* lines in order, never the first */
			assert_true(e->ext[i].line >= 1 && e->ext[i].line < r->nlines);
			assert_true(i == 0 || e->ext[i].line > e->ext[i - 1].line);
			assert_true(points_into(r, e->ext[i].line, e->ext[i].params));
			assert_true(e->ext[i].masked ? e->ext[i].mask_letter >= 'A' &&
							       e->ext[i].mask_letter <= 'Z'
						     : e->ext[i].mask_letter == '\0');
		}
		sf_ehlo_free(e);
		sf_reply_free(r);
	}
}

/* Only a 2xx reply is an EHLO list. */
static void test_parse_refuses(void **state)
{
	static const char *const refused[] = {
		"500 5.5.1 Command unrecognized: \"XXXX client.example.org\"\r\n",
		"502 5.5.2 Error: command not recognized\r\n",
		"421 4.3.2 Service not available, closing transmission channel\r\n",
		"554-mx.example.org\r\n554 No SMTP service here\r\n",
		"354 End data with <CR><LF>.<CR><LF>\r\n",
	};
	static struct sf_ehlo sentinel;
	struct sf_ehlo *e = &sentinel; /* parse must overwrite it */
	(void)state;

	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		struct sf_reply *r = reply_from(refused[i]);

		e = &sentinel;
		assert_int_equal(sf_ehlo_parse(r, &e), -1);
		assert_null(e);
		sf_reply_free(r);
	}
	assert_int_equal(sf_ehlo_parse(NULL, &e), -1);
	assert_null(e);
	{
		struct sf_reply *r = reply_from(postfix);

		assert_int_equal(sf_ehlo_parse(r, NULL), -1);
		sf_reply_free(r);
	}
	sf_ehlo_free(NULL);
}

/* A reply built by hand with the shortest possible lines. */
static void test_parse_hand_built(void **state)
{
	char l0[] = "250-", l1[] = "250", l2[] = "250 XXA";
	struct sf_reply_line lines[] = {{l0, 4}, {l1, 3}, {l2, 7}};
	struct sf_reply r = {299, 3, lines, 0};
	struct sf_ehlo *e = NULL;
	char got[256];
	(void)state;

	assert_int_equal(sf_ehlo_parse(&r, &e), 0);
	dump(e, got, sizeof got);
	assert_string_equal(got, " \"\" | XXA~A"); /* the empty line is no extension */
	assert_int_equal(sf_ehlo_masked_count(e), 1);
	sf_ehlo_free(e);

	r.nlines = 0;
	assert_int_equal(sf_ehlo_parse(&r, &e), -1);
	r.nlines = 3;
	r.code = 300;
	assert_int_equal(sf_ehlo_parse(&r, &e), -1);
}

/* --- sf_ehlo_find --------------------------------------------------------- */

static void test_find(void **state)
{
	static const struct {
		const char *text;
		const char *keyword;
		size_t line; /* 0: not found */
	} rows[] = {
		{postfix, "STARTTLS", 5},
		{postfix, "starttls", 5},
		{postfix, "StartTls", 5},
		{postfix, "START", 0},  /* whole tokens only */
		{postfix, "TLS", 0},
		{postfix, "STARTTLSX", 0},
		{postfix, "SIZE", 2},
		{postfix, "SIZE 10240000", 0},  /* a keyword, not a line */
		{postfix, "mail.example.org", 0},  /* line 1 is no extension */
		{postfix, "chunking", 10},
		{postfix, "", 0},
		{postfix_asa, "STARTTLS", 0},
		{postfix_asa, "CHUNKING", 0},
		{postfix_asa, "XXXXXXXA", 0},  /* a mask is never a keyword */
		{postfix_asa, "SIZE", 2},
		{postfix_asa, "smtputf8", 9},
		{exchange, "x-anonymoustls", 6},
		{exchange, "X-EXPS", 8},
		{exchange, "XRDST", 12},
		{exchange, "XSHADOW", 13},
		{exchange, "AUTH", 7},
		{exchange, "NTLM", 0},  /* a parameter, not a keyword */
		{exchange2003_asa, "8BITMIME", 7},
		{exchange2003_asa, "BINARYMIME", 8},
		{exchange2003_asa, "CHUNKING", 0},
		{exchange2003_asa, "AUTH", 13},
		{exchange2003_asa, "XI", 0},
		{odd, "AUTH=LOGIN", 2},  /* invalid, but it is what was sent */
		{odd, "size", 1},
		{odd, "X_Y", 5},
		{odd, K64, 8},  /* line 8, not the cut token of line 7 */
		{odd, K64 "K", 0},
	};
	(void)state;

	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct sf_reply *r = reply_from(rows[i].text);
		struct sf_ehlo *e = NULL;
		const struct sf_ehlo_ext *x;

		assert_int_equal(sf_ehlo_parse(r, &e), 0);
		x = sf_ehlo_find(e, rows[i].keyword);
		if ((x ? x->line : 0) != rows[i].line)
			print_error("row %zu: find(\"%s\")\n", i, rows[i].keyword);
		assert_int_equal(x ? x->line : 0, rows[i].line);
		if (x != NULL)
			assert_false(x->masked);
		sf_ehlo_free(e);
		sf_reply_free(r);
	}
}

/* A token cut to SF_EHLO_KEYWORD_MAX never matches its first 64 octets. */
static void test_find_truncated(void **state)
{
	struct sf_reply *r = reply_from("250-mx\r\n250-" K64 "EXTRA\r\n250 SIZE\r\n");
	struct sf_ehlo *e = NULL;
	(void)state;

	assert_int_equal(sf_ehlo_parse(r, &e), 0);
	assert_int_equal(strlen(e->ext[0].keyword), SF_EHLO_KEYWORD_MAX);
	assert_false(e->ext[0].valid);
	assert_null(sf_ehlo_find(e, K64));
	assert_null(sf_ehlo_find(e, K64 "EXTRA"));
	assert_non_null(sf_ehlo_find(e, "size"));
	assert_null(sf_ehlo_find(e, NULL));
	assert_null(sf_ehlo_find(NULL, "SIZE"));
	assert_int_equal(sf_ehlo_masked_count(NULL), 0);
	sf_ehlo_free(e);
	sf_reply_free(r);
}

/* --- sf_is_x_mask, sf_keyword_valid --------------------------------------- */

static void test_is_x_mask(void **state)
{
	static const struct {
		const char *text;
		size_t len;  /* octets looked at */
		int mask;
		char letter; /* set by the call, '\0' when no mask */
	} rows[] = {
		{"XXXXXXXA", 8, 1, 'A'},  /* STARTTLS */
		{"XXXXXXXB", 8, 1, 'B'},  /* CHUNKING */
		{"XXXXXXXXB", 9, 1, 'B'},  /* DELIVERBY */
		{"XI", 2, 1, 'I'},  /* OK */
		{"XXXXXXXXXXXXXXXC", 16, 1, 'C'},  /* "AUTH LOGIN PLAIN", blanks included */
		{"XX", 2, 1, 'X'},
		{"XZ", 2, 1, 'Z'},
		{"XXXXXXXAB", 8, 1, 'A'},  /* only len octets count */
		{"XXXXXXXA", 7, 1, 'X'},  /* all X: a mask whose letter is X */
		{"XAXXXXXX", 2, 1, 'A'},
		{"X", 1, 0, '\0'},
		{"A", 1, 0, '\0'},
		{"", 0, 0, '\0'},
		{"AA", 2, 0, '\0'},
		{"XXXXXXXa", 8, 0, '\0'},  /* uppercase only */
		{"xxxxxxxA", 8, 0, '\0'},
		{"XXXXXXX1", 8, 0, '\0'},
		{"XXXXXXX-", 8, 0, '\0'},
		{"XXX XXXA", 8, 0, '\0'},
		{"X-XXXXXA", 8, 0, '\0'},
		{"XXXXXXXA ", 9, 0, '\0'},
		{" XXXXXXA", 8, 0, '\0'},
		{"XCLIENT", 7, 0, '\0'},
		{"XFORWARD", 8, 0, '\0'},
		{"XEXCH50", 7, 0, '\0'},
		{"X-EXPS", 6, 0, '\0'},
		{"X-LINK2STATE", 12, 0, '\0'},
		{"X-ANONYMOUSTLS", 14, 0, '\0'},
		{"XRDST", 5, 0, '\0'},
		{"XSHADOW", 7, 0, '\0'},
		{"XXXXXXX\xc1", 8, 0, '\0'},
	};
	(void)state;

	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		char letter = '?';

		if (sf_is_x_mask(rows[i].text, rows[i].len, &letter) != rows[i].mask)
			print_error("row %zu: \"%s\"/%zu\n", i, rows[i].text, rows[i].len);
		assert_int_equal(sf_is_x_mask(rows[i].text, rows[i].len, &letter), rows[i].mask);
		assert_int_equal(letter, rows[i].letter);
		assert_int_equal(sf_is_x_mask(rows[i].text, rows[i].len, NULL), rows[i].mask);
	}
	assert_int_equal(sf_is_x_mask(NULL, 0, NULL), 0);
}

static void test_keyword_valid(void **state)
{
	static const struct {
		const char *s;
		size_t len;
		int valid;
	} rows[] = {
		{"STARTTLS", 8, 1},
		{"8BITMIME", 8, 1},
		{"8bitmime", 8, 1},
		{"X-EXPS", 6, 1},
		{"X-LINK2STATE", 12, 1},
		{"A", 1, 1},
		{"9", 1, 1},
		{"X-", 2, 1},  /* the grammar allows a final '-' */
		{"SIZE 100", 4, 1},  /* only len octets count */
		{"", 0, 0},
		{"-X", 2, 0},
		{"AUTH=LOGIN", 10, 0},
		{"SIZE 100", 8, 0},
		{"X_Y", 3, 0},
		{"X.Y", 3, 0},
		{"\xc3\x84" "B", 3, 0},  /* not ASCII, whatever the locale */
		{"STARTTLS\t", 9, 0},
	};
	(void)state;

	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		if (sf_keyword_valid(rows[i].s, rows[i].len) != rows[i].valid)
			print_error("row %zu: \"%s\"/%zu\n", i, rows[i].s, rows[i].len);
		assert_int_equal(sf_keyword_valid(rows[i].s, rows[i].len), rows[i].valid);
	}
	assert_int_equal(sf_keyword_valid(NULL, 3), 0);
}

/* The scripted peers of tests/peers/ play the transcripts of transcripts.h:
 * the EHLO reply a peer script sends (its "sendline 250..." lines, each
 * with CRLF) is the transcript, octet for octet. The source folder comes
 * from top_srcdir (set by make check), else the current folder. */
static void test_peer_scripts_match(void **state)
{
	static const struct {
		const char *script;
		const char *ehlo;
	} rows[] = {
		{"tests/peers/clean-postfix.txt", EHLO_POSTFIX},
		/* not tests/peers/asa.txt: its Postfix offers no SMTPUTF8, and
		 * integration.sh counts its 9 extensions */
	};
	const char *top = getenv("top_srcdir");
	(void)state;

	if (top == NULL || *top == '\0')
		top = ".";
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		char path[4096], line[1024], sent[4096];
		size_t used = 0;
		FILE *f;

		assert_true((size_t)snprintf(path, sizeof path, "%s/%s", top, rows[i].script) <
			    sizeof path);
		f = fopen(path, "r");
		if (f == NULL)
			print_error("cannot open %s\n", path);
		assert_non_null(f);
		while (fgets(line, sizeof line, f) != NULL) {
			size_t len = strcspn(line, "\r\n");

			if (strncmp(line, "sendline 250", 12) != 0)
				continue;
			assert_true(used + (len - 9) + 2 < sizeof sent);
			memcpy(sent + used, line + 9, len - 9);
			used += len - 9;
			memcpy(sent + used, "\r\n", 2);
			used += 2;
		}
		fclose(f);
		sent[used] = '\0';
		if (strcmp(sent, rows[i].ehlo) != 0)
			print_error("%s sends another EHLO reply than transcripts.h\n", path);
		assert_string_equal(sent, rows[i].ehlo);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_refuses),
		cmocka_unit_test(test_parse_hand_built),
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_find_truncated),
		cmocka_unit_test(test_is_x_mask),
		cmocka_unit_test(test_keyword_valid),
		cmocka_unit_test(test_peer_scripts_match),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

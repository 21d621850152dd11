/*
 * fuzz_ehlo.c - libFuzzer target for the EHLO list (lib/sf_ehlo.c):
 * sf_ehlo_parse, sf_ehlo_find, sf_ehlo_masked_count, sf_keyword_valid and
 * sf_is_x_mask.
 *
 * Input: the bytes a server sends after EHLO. They go through the reply
 * parser in one feed (default limits); every reply it returns goes to
 * sf_ehlo_parse(). The whole input is also given to sf_is_x_mask() and
 * sf_keyword_valid() as one text.
 *
 * Each result is checked against reference functions written from the
 * comments of sf_ehlo.h (not from sf_ehlo.c): tokens split at SP/HTAB,
 * keywords kept as received and cut at SF_EHLO_KEYWORD_MAX, the ASA mask
 * 'X'{len-1} then one of 'A'..'Z', sf_ehlo_find() returning the first
 * unmasked line whose whole keyword equals the query in ASCII case.
 */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "sf_common.h"
#include "sf_ehlo.h"
#include "sf_reply.h"

#define QUERY_MAX 255U /* longest keyword tried with sf_ehlo_find() */

/* A value sf_ehlo_parse() must overwrite (with NULL when it fails). */
static struct sf_ehlo sentinel;

/* ---- references, from sf_ehlo.h ------------------------------------------ */

static int ref_blank(char c)
{
	return c == ' ' || c == '\t';
}

static int ref_alnum(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static char ref_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : c;
}

static int ref_keyword_valid(const char *s, size_t n)
{
	if (n == 0 || !ref_alnum(s[0]))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!ref_alnum(s[i]) && s[i] != '-')
			return 0;
	return 1;
}

static int ref_is_x_mask(const char *s, size_t n)
{
	if (n < 2 || s[n - 1] < 'A' || s[n - 1] > 'Z')
		return 0;
	for (size_t i = 0; i + 1 < n; i++)
		if (s[i] != 'X')
			return 0;
	return 1;
}

static int ref_caseeq(const char *a, size_t an, const char *b, size_t bn)
{
	if (an != bn)
		return 0;
	for (size_t i = 0; i < an; i++)
		if (ref_lower(a[i]) != ref_lower(b[i]))
			return 0;
	return 1;
}

/* First token of t[0..n) after blanks: its start and length; returns the
 * offset of what follows it and its blanks. */
static size_t ref_token(const char *t, size_t n, size_t *start, size_t *len)
{
	size_t i = 0;

	while (i < n && ref_blank(t[i]))
		i++;
	*start = i;
	while (i < n && !ref_blank(t[i]))
		i++;
	*len = i - *start;
	while (i < n && ref_blank(t[i]))
		i++;
	return i;
}

/* The whole keyword token of extension i (not cut): the i-th line after
 * the first that holds a token (a line without one is no extension). */
static const char *ext_token(const struct sf_reply *r, size_t i, size_t *len)
{
	size_t tlen, start;

	for (size_t line = 1; line < r->nlines; line++) {
		const char *t = sf_reply_text(r, line, &tlen);

		(void)ref_token(t, tlen, &start, len);
		if (*len > 0 && i-- == 0)
			return t + start;
	}
	*len = 0;
	return "";
}

/* sf_ehlo_find() as documented: the first unmasked line whose keyword
 * equals q, ASCII case ignored. A keyword longer than SF_EHLO_KEYWORD_MAX
 * is stored cut, so it can never be found (the plugin refuses such -R
 * values). */
static const struct sf_ehlo_ext *ref_find(const struct sf_ehlo *e, const struct sf_reply *r,
					  const char *q, size_t qlen)
{
	if (qlen > SF_EHLO_KEYWORD_MAX)
		return NULL;
	for (size_t i = 0; i < e->next; i++) {
		size_t tlen;
		const char *tok = ext_token(r, i, &tlen);

		if (!e->ext[i].masked && ref_caseeq(tok, tlen, q, qlen))
			return &e->ext[i];
	}
	return NULL;
}

/* ---- checks --------------------------------------------------------------- */

/* Query sf_ehlo_find() with q[0..qlen) as given and with its case swapped. */
static void check_find(const struct sf_ehlo *e, const struct sf_reply *r, const char *q,
		       size_t qlen)
{
	char buf[QUERY_MAX + 1];

	if (qlen > QUERY_MAX)
		return;
	for (int pass = 0; pass < 2; pass++) {
		const struct sf_ehlo_ext *got;

		for (size_t i = 0; i < qlen; i++) {
			char c = q[i];

			if (pass == 1 && c >= 'a' && c <= 'z')
				c = (char)(c - ('a' - 'A'));
			else if (pass == 1 && c >= 'A' && c <= 'Z')
				c = (char)(c + ('a' - 'A'));
			buf[i] = c;
		}
		buf[qlen] = '\0';
		if (memchr(buf, '\0', qlen) != NULL)
			return; /* a C string cannot hold it */
		got = sf_ehlo_find(e, buf);
		if (qlen == 0) {
			FUZZ_CHECK(got == NULL);
		} else if (ref_keyword_valid(buf, qlen)) {
			/* what the plugin asks for (-R takes valid keywords only) */
			FUZZ_CHECK(got == ref_find(e, r, buf, qlen));
		} else if (got != NULL) {
			/* other queries: whatever comes back is an unmasked match */
			size_t tlen;
			const char *tok = ext_token(r, (size_t)(got - e->ext), &tlen);

			FUZZ_CHECK(got >= e->ext && got < e->ext + e->next);
			FUZZ_CHECK(!got->masked && ref_caseeq(tok, tlen, buf, qlen));
		}
	}
}

static void check_ehlo(const struct sf_reply *r)
{
	struct sf_ehlo *e = &sentinel;
	static const char *const fixed[] = {"STARTTLS", "starttls", "8BITMIME", "SIZE",
					    "CHUNKING", "XXXXXXXA", "X", "XCLIENT", "AUTH"};
	size_t len0, start, toklen, rest, nmasked;
	const char *text0;
	int rc = sf_ehlo_parse(r, &e);

	if (r->code < 200 || r->code > 299) {
		FUZZ_CHECK(rc == -1 && e == NULL);
		return;
	}
	FUZZ_CHECK(rc == 0 && e != NULL);
	/* lines without a keyword are no extensions */
	{
		size_t keyed = 0;
		for (size_t i = 1; i < r->nlines; i++) {
			size_t tl, st;
			const char *t = sf_reply_text(r, i, &tl);
			(void)ref_token(t, tl, &st, &toklen);
			keyed += toklen > 0;
		}
		FUZZ_CHECK(e->next == keyed);
	}
	FUZZ_CHECK(e->next == 0 || e->ext != NULL);

	/* line 1: domain, greeting */
	text0 = sf_reply_text(r, 0, &len0);
	rest = ref_token(text0, len0, &start, &toklen);
	FUZZ_CHECK(e->domain != NULL && strlen(e->domain) == toklen);
	FUZZ_CHECK(memcmp(e->domain, text0 + start, toklen) == 0);
	FUZZ_CHECK(e->greeting == text0 + rest);
	FUZZ_CHECK(strlen(e->greeting) == len0 - rest);
	FUZZ_CHECK(e->greeting_masked == ref_is_x_mask(text0, len0));

	/* every later line */
	nmasked = e->greeting_masked != 0;
	for (size_t i = 0, line = 1; i < e->next; i++, line++) {
		const struct sf_ehlo_ext *x = &e->ext[i];
		size_t tlen, kl;
		const char *t = sf_reply_text(r, line, &tlen);

		rest = ref_token(t, tlen, &start, &toklen);
		while (toklen == 0 && line + 1 < r->nlines) { /* skipped: no keyword */
			t = sf_reply_text(r, ++line, &tlen);
			rest = ref_token(t, tlen, &start, &toklen);
		}
		kl = strlen(x->keyword);
		FUZZ_CHECK(x->line == line);
		FUZZ_CHECK(kl == (toklen < SF_EHLO_KEYWORD_MAX ? toklen : SF_EHLO_KEYWORD_MAX));
		FUZZ_CHECK(memcmp(x->keyword, t + start, kl) == 0);
		FUZZ_CHECK(x->params == t + rest);
		FUZZ_CHECK(x->params[0] == '\0' || !ref_blank(x->params[0]));
		FUZZ_CHECK(x->valid ==
			   (toklen <= SF_EHLO_KEYWORD_MAX && ref_keyword_valid(t + start, toklen)));
		FUZZ_CHECK(x->masked == ref_is_x_mask(t, tlen));
		FUZZ_CHECK(x->mask_letter == (x->masked ? t[tlen - 1] : '\0'));
		nmasked += x->masked != 0;
	}
	FUZZ_CHECK(sf_ehlo_masked_count(e) == nmasked);

	/* sf_ehlo_find with every keyword received, and some fixed ones */
	for (size_t i = 0; i < e->next; i++) {
		size_t tlen;
		const char *tok = ext_token(r, i, &tlen);

		check_find(e, r, tok, tlen);
	}
	for (size_t k = 0; k < sizeof fixed / sizeof fixed[0]; k++)
		check_find(e, r, fixed[k], strlen(fixed[k]));
	check_find(e, r, "", 0);
	FUZZ_CHECK(sf_ehlo_find(e, NULL) == NULL);
	sf_ehlo_free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_replies got = {0};
	const char *text = (const char *)data;
	char letter = '?';
	int mask = sf_is_x_mask(text, size, &letter);

	/* the text helpers on the raw input */
	FUZZ_CHECK(mask == ref_is_x_mask(text, size));
	FUZZ_CHECK(letter == (mask ? text[size - 1] : '\0'));
	FUZZ_CHECK(sf_is_x_mask(text, size, NULL) == mask);
	FUZZ_CHECK(sf_keyword_valid(text, size) == ref_keyword_valid(text, size));

	/* NULL in, nothing out */
	{
		struct sf_ehlo *e = &sentinel;

		FUZZ_CHECK(sf_ehlo_parse(NULL, &e) == -1 && e == NULL);
		FUZZ_CHECK(sf_ehlo_find(NULL, "SIZE") == NULL);
		FUZZ_CHECK(sf_ehlo_masked_count(NULL) == 0);
		sf_ehlo_free(NULL);
	}

	fuzz_parse_whole(data, size, NULL, &got);
	for (size_t i = 0; i < got.n; i++)
		check_ehlo(got.r[i]);
	fuzz_replies_free(&got);
	return 0;
}

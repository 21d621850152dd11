/*
 * sf_ehlo.c - the reply to EHLO as a list of extensions (RFC 5321 4.1.1.1,
 * RFC 1869 4.3), and the X masks Cisco ASA leaves in it (doc/inspection-boxes.md 2).
 *
 * Line 1 is "domain [greeting]", each later line "keyword [params]". Tokens
 * are split at blanks (SP or HTAB); leading blanks are skipped, as Postfix
 * does. Keywords are kept as received and compared case-insensitively,
 * always as whole tokens. Character classes and case folding are ASCII
 * only, never the locale's: the plugin may run under any LC_CTYPE (with a
 * Turkish locale, tolower('I') is not 'i').
 *
 * Details the header leaves open: ext is NULL when there are no extensions;
 * a keyword longer than SF_EHLO_KEYWORD_MAX is stored cut, marked not valid,
 * and never found by sf_ehlo_find(); sf_is_x_mask() sets *letter to 0 when
 * the text is no mask.
 *
 * Not done here: the meaning of parameters (SIZE limits, AUTH mechanisms),
 * judging what a mask or a missing line means (sf_verdict.c).
 */
#include "sf_ehlo.h"

#include <stdlib.h>
#include <string.h>

#include "sf_ascii.h"

int sf_keyword_valid(const char *s, size_t len)
{
	if (s == NULL || len == 0 || !sf_is_alnum((unsigned char)s[0]))
		return 0;
	for (size_t i = 1; i < len; i++)
		if (!sf_is_alnum((unsigned char)s[i]) && s[i] != '-')
			return 0;
	return 1;
}

int sf_is_x_mask(const char *text, size_t len, char *letter)
{
	int mask = text != NULL && len >= 2 && text[len - 1] >= 'A' && text[len - 1] <= 'Z';

	for (size_t i = 0; mask && i + 1 < len; i++)
		mask = text[i] == 'X';
	if (letter != NULL)
		*letter = mask ? text[len - 1] : '\0';
	return mask;
}

/* Split text[0..len) into a first token and the rest. Leading blanks are
 * skipped; the token goes to tok and toklen; the return value is the octet
 * after the blanks that follow it. */
static const char *split_token(const char *text, size_t len, const char **tok, size_t *toklen)
{
	size_t a = sf_skip_blanks(text, len, 0);
	size_t e = sf_token_end(text, len, a);

	*tok = text + a;
	*toklen = e - a;
	return text + sf_skip_blanks(text, len, e);
}

/* Fill x from reply line i of r. */
static void parse_ext(const struct sf_reply *r, size_t i, struct sf_ehlo_ext *x)
{
	size_t len, toklen;
	const char *text = sf_reply_text(r, i, &len);
	const char *tok;
	size_t keep;

	x->params = split_token(text, len, &tok, &toklen);
	keep = toklen < SF_EHLO_KEYWORD_MAX ? toklen : SF_EHLO_KEYWORD_MAX;
	memcpy(x->keyword, tok, keep);
	x->keyword[keep] = '\0';
	x->line = i;
	/* a keyword cut to fit is not the keyword that was sent */
	x->valid = toklen <= SF_EHLO_KEYWORD_MAX && sf_keyword_valid(tok, toklen);
	x->masked = sf_is_x_mask(text, len, &x->mask_letter);
}

int sf_ehlo_parse(const struct sf_reply *r, struct sf_ehlo **out)
{
	struct sf_ehlo *e;
	const char *text, *dom, *rest;
	size_t len, domlen;
	char *domcopy;

	if (out != NULL)
		*out = NULL;
	if (r == NULL || out == NULL || r->code < 200 || r->code > 299 || r->nlines == 0 ||
	    r->lines == NULL)
		return -1;
	text = sf_reply_text(r, 0, &len);
	rest = split_token(text, len, &dom, &domlen);
	/* The domain copy lives in the same block, right after the struct. */
	e = malloc(sizeof *e + domlen + 1);
	if (e == NULL)
		return -1;
	domcopy = (char *)(e + 1);
	memcpy(domcopy, dom, domlen);
	domcopy[domlen] = '\0';
	e->domain = domcopy;
	e->greeting = rest;
	e->greeting_masked = sf_is_x_mask(text, len, NULL);
	e->next = 0;
	e->ext = NULL;
	if (r->nlines > 1) {
		e->ext = calloc(r->nlines - 1, sizeof *e->ext);
		if (e->ext == NULL) {
			free(e);
			return -1;
		}
	}
	/* a line with no keyword ("250 " closing smtp-sink's list) offers
	 * nothing: not an extension */
	for (size_t i = 1; i < r->nlines; i++) {
		size_t tlen;
		const char *t = sf_reply_text(r, i, &tlen);
		if (sf_skip_blanks(t, tlen, 0) < tlen)
			parse_ext(r, i, &e->ext[e->next++]);
	}
	*out = e;
	return 0;
}

void sf_ehlo_free(struct sf_ehlo *e)
{
	if (e == NULL)
		return;
	free(e->ext);
	free(e); /* the domain copy is part of this block */
}

const struct sf_ehlo_ext *sf_ehlo_find(const struct sf_ehlo *e, const char *keyword)
{
	if (e == NULL || keyword == NULL || keyword[0] == '\0')
		return NULL;
	for (size_t i = 0; i < e->next; i++) {
		const struct sf_ehlo_ext *x = &e->ext[i];

		/* A token longer than the keyword array was cut: its stored
		 * start must not pass for a keyword of exactly that length. */
		if (x->masked || (!x->valid && strlen(x->keyword) == SF_EHLO_KEYWORD_MAX))
			continue;
		if (sf_ci_equal(x->keyword, keyword))
			return x;
	}
	return NULL;
}

size_t sf_ehlo_masked_count(const struct sf_ehlo *e)
{
	size_t n;

	if (e == NULL)
		return 0;
	n = e->greeting_masked != 0;
	for (size_t i = 0; i < e->next; i++)
		n += e->ext[i].masked != 0;
	return n;
}

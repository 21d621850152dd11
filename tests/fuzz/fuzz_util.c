/*
 * fuzz_util.c - helpers shared by the fuzz targets: abort with a message,
 * run the reply parser over a buffer, and check every reply it returns
 * against the contract written in sf_reply.h.
 *
 * The checks restate the contract independently of sf_reply.c: they never
 * call into the parser's internals, only its public functions.
 */
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sf_common.h"

void fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: fuzz invariant broken: %s\n", file, line, what);
	fflush(stderr);
	abort();
}

struct sf_parser_limits fuzz_effective_limits(const struct sf_parser_limits *lim)
{
	struct sf_parser_limits e = {SF_REPLY_LINE_MAX, SF_REPLY_LINES_MAX, SF_REPLY_BYTES_MAX};

	if (lim != NULL) {
		if (lim->line_max != 0)
			e.line_max = lim->line_max;
		if (lim->lines_max != 0)
			e.lines_max = lim->lines_max;
		if (lim->reply_max != 0)
			e.reply_max = lim->reply_max;
	}
	return e;
}

void fuzz_replies_add(struct fuzz_replies *out, struct sf_reply *r)
{
	if (out->n == out->cap) {
		size_t cap = out->cap ? 2 * out->cap : 8;
		struct sf_reply **nr = realloc(out->r, cap * sizeof *nr);

		FUZZ_CHECK(nr != NULL);
		out->r = nr;
		out->cap = cap;
	}
	out->r[out->n++] = r;
	out->bytes += r->bytes;
}

enum sf_pstatus fuzz_drain(struct sf_parser *p, const struct sf_parser_limits *lim,
			   struct fuzz_replies *out)
{
	static struct sf_reply sentinel; /* sf_parser_next() must overwrite it */

	for (;;) {
		struct sf_reply *r = &sentinel;
		enum sf_pstatus st = sf_parser_next(p, &r);

		if (st != SF_PARSE_REPLY) {
			FUZZ_CHECK(st == SF_PARSE_MORE || st == SF_PARSE_ERROR);
			FUZZ_CHECK(r == NULL); /* sf_parser_next() sets *out to NULL */
			/* SF_PARSE_ERROR exactly when the parser is in error */
			FUZZ_CHECK((st == SF_PARSE_ERROR) == (sf_parser_error(p) != SF_PERR_NONE));
			return st;
		}
		FUZZ_CHECK(r != NULL);
		fuzz_check_reply(r, lim);
		fuzz_replies_add(out, r);
	}
}

void fuzz_parse_whole(const uint8_t *buf, size_t len, const struct sf_parser_limits *lim,
		      struct fuzz_replies *out)
{
	struct sf_parser_limits eff = fuzz_effective_limits(lim);
	struct sf_parser *p = sf_parser_new(lim);
	enum sf_pstatus st;

	FUZZ_CHECK(p != NULL);
	st = sf_parser_feed(p, (const char *)buf, len);
	FUZZ_CHECK(st == SF_PARSE_MORE || st == SF_PARSE_ERROR);
	FUZZ_CHECK((st == SF_PARSE_ERROR) == (sf_parser_error(p) != SF_PERR_NONE));
	(void)fuzz_drain(p, &eff, out);
	out->err = sf_parser_error(p);
	out->pending = sf_parser_pending(p);
	FUZZ_CHECK(out->err != SF_PERR_NOMEM); /* inputs are small */
	sf_parser_free(p);
}

void fuzz_replies_free(struct fuzz_replies *out)
{
	for (size_t i = 0; i < out->n; i++)
		sf_reply_free(out->r[i]);
	free(out->r);
	memset(out, 0, sizeof *out);
}

void fuzz_check_reply(const struct sf_reply *r, const struct sf_parser_limits *lim)
{
	size_t sum = 0;

	FUZZ_CHECK(r->code >= 200 && r->code <= 599);
	FUZZ_CHECK(r->nlines >= 1 && r->nlines <= lim->lines_max);
	FUZZ_CHECK(r->lines != NULL);
	for (size_t i = 0; i < r->nlines; i++) {
		const struct sf_reply_line *l = &r->lines[i];
		const char *text;
		size_t tlen = (size_t)-1;

		FUZZ_CHECK(l->raw != NULL);
		FUZZ_CHECK(l->len >= 3 && l->len <= lim->line_max);
		/* NUL-terminated, no NUL inside: strlen finds the end */
		FUZZ_CHECK(strlen(l->raw) == l->len);
		FUZZ_CHECK(memchr(l->raw, '\r', l->len) == NULL);
		FUZZ_CHECK(memchr(l->raw, '\n', l->len) == NULL);
		FUZZ_CHECK(l->raw[0] >= '2' && l->raw[0] <= '5');
		FUZZ_CHECK(l->raw[1] >= '0' && l->raw[1] <= '9');
		FUZZ_CHECK(l->raw[2] >= '0' && l->raw[2] <= '9');
		FUZZ_CHECK((l->raw[0] - '0') * 100 + (l->raw[1] - '0') * 10 + (l->raw[2] - '0') ==
			   r->code);
		if (i + 1 < r->nlines)
			FUZZ_CHECK(l->len >= 4 && l->raw[3] == '-');
		else
			FUZZ_CHECK(l->len == 3 || l->raw[3] == ' ');
		text = sf_reply_text(r, i, &tlen);
		FUZZ_CHECK(text != NULL);
		if (l->len <= 4) {
			FUZZ_CHECK(tlen == 0 && *text == '\0');
		} else {
			FUZZ_CHECK(text == l->raw + 4 && tlen == l->len - 4);
		}
		sum += l->len + 1;
	}
	/* each line took its octets, an LF and maybe a CR */
	FUZZ_CHECK(r->bytes >= sum && r->bytes <= sum + r->nlines);
	FUZZ_CHECK(r->bytes <= lim->reply_max);
	/* out of range: "" and 0 */
	{
		size_t tlen = 1;
		const char *t = sf_reply_text(r, r->nlines, &tlen);

		FUZZ_CHECK(t != NULL && *t == '\0' && tlen == 0);
	}
}

int fuzz_reply_equal(const struct sf_reply *a, const struct sf_reply *b)
{
	if (a->code != b->code || a->nlines != b->nlines || a->bytes != b->bytes)
		return 0;
	for (size_t i = 0; i < a->nlines; i++)
		if (a->lines[i].len != b->lines[i].len ||
		    memcmp(a->lines[i].raw, b->lines[i].raw, a->lines[i].len) != 0)
			return 0;
	return 1;
}

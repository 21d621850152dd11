/*
 * fuzz_reply.c - libFuzzer target for the streaming reply parser
 * (lib/sf_reply.c): sf_parser_new/feed/next/error/pending/error_line.
 *
 * Input: a 4-octet header, then the bytes a server would send.
 *   octet 0    low 3 bits k: chunks are 1..2^k octets; the other bits and
 *              octet 1 seed the chunk sizes
 *   octet 2    0: the default limits; else line_max = octet 2
 *   octet 3    (octet 2 != 0 only) lines_max = 1 + its low 4 bits,
 *              reply_max = 64 * its high 4 bits (0: the default)
 * An input shorter than the header is all stream, default limits.
 * Small limits put the limit checks (exact limit, one past it) in reach.
 *
 * The stream is parsed three ways: in one feed; in the chunks the header
 * picks, empty feeds mixed in, draining after each feed as the plugin does;
 * one octet at a time. sf_reply.h says chunking never matters, so all three
 * must give the same replies, the same error, the same pending count and
 * compatible error lines. Each chunk ends where its heap block ends, so that
 * a read past len is caught by ASan/valgrind. The one-feed result
 * is also checked against a reference model written from RFC 5321 4.2 and
 * sf_reply.h, line by line over the complete lines of the stream.
 */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "sf_common.h"
#include "sf_reply.h"

#define HEADER_LEN 4U
#define ERRLINE_CAP 80U /* sf_reply.h: the error line is at most 80 octets */

/* Chunk sizes from a xorshift32 generator seeded by the header. */
struct chunker {
	uint32_t state;
	size_t max;     /* largest chunk */
	int empties;    /* 1: an empty feed now and then */
};

static size_t next_chunk(struct chunker *c)
{
	uint32_t x = c->state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	c->state = x;
	if (c->empties && (x & 0x1fU) == 0)
		return 0;
	return 1 + (size_t)(x >> 5) % c->max;
}

/* How a parse ended, besides its replies. */
struct ending {
	enum sf_perr err;
	char errline[ERRLINE_CAP];
	size_t errlen;
};

static void keep_ending(const struct sf_parser *p, struct ending *e)
{
	size_t len = (size_t)-1;
	const char *line = sf_parser_error_line(p, &len);

	e->err = sf_parser_error(p);
	FUZZ_CHECK(sf_perr_str(e->err) != NULL && sf_perr_str(e->err)[0] != '\0');
	if (e->err == SF_PERR_NONE) {
		FUZZ_CHECK(line == NULL && len == 0);
		e->errlen = 0;
		return;
	}
	FUZZ_CHECK(line != NULL && len <= ERRLINE_CAP);
	memcpy(e->errline, line, len);
	e->errlen = len;
}

/* Parse s[0..n) in the chunks c picks. Each chunk is copied to the end of
 * a buffer of the largest chunk's size: a read past a chunk leaves the
 * block, and ASan or valgrind see it. */
static void parse_chunked(const uint8_t *s, size_t n, const struct sf_parser_limits *lim,
			  struct chunker *c, struct fuzz_replies *out, struct ending *end)
{
	struct sf_parser_limits eff = fuzz_effective_limits(lim);
	struct sf_parser *p = sf_parser_new(lim);
	char *buf = malloc(c->max);
	size_t off = 0;
	int failed = 0;

	FUZZ_CHECK(p != NULL && buf != NULL);
	FUZZ_CHECK(sf_parser_pending(p) == 0 && sf_parser_error(p) == SF_PERR_NONE);
	while (off < n) {
		size_t k = next_chunk(c);
		char *chunk;
		enum sf_pstatus st;

		if (k > n - off)
			k = n - off;
		chunk = buf + (c->max - k);
		if (k > 0)
			memcpy(chunk, s + off, k);
		st = sf_parser_feed(p, chunk, k);
		off += k;
		FUZZ_CHECK(st == SF_PARSE_MORE || st == SF_PARSE_ERROR);
		if (failed)
			FUZZ_CHECK(st == SF_PARSE_ERROR); /* errors are sticky */
		failed = st == SF_PARSE_ERROR;
		FUZZ_CHECK(failed == (sf_parser_error(p) != SF_PERR_NONE));
		(void)fuzz_drain(p, &eff, out);
		/* every octet fed is either in a returned reply or pending */
		FUZZ_CHECK(sf_parser_pending(p) + out->bytes == off);
	}
	out->err = sf_parser_error(p);
	out->pending = sf_parser_pending(p);
	keep_ending(p, end);
	sf_parser_free(p);
	free(buf);
}

/* The error lines of two parses of the same stream start at the same line
 * and may stop at different chunk ends: one is a prefix of the other. */
static int errlines_compatible(const struct ending *a, const struct ending *b)
{
	size_t n = a->errlen < b->errlen ? a->errlen : b->errlen;

	return memcmp(a->errline, b->errline, n) == 0;
}

static void check_same(const struct fuzz_replies *a, const struct ending *ea,
		       const struct fuzz_replies *b, const struct ending *eb)
{
	FUZZ_CHECK(a->n == b->n);
	for (size_t i = 0; i < a->n; i++)
		FUZZ_CHECK(fuzz_reply_equal(a->r[i], b->r[i]));
	FUZZ_CHECK(a->err == b->err);
	FUZZ_CHECK(a->pending == b->pending);
	FUZZ_CHECK(errlines_compatible(ea, eb));
}

/* ---- the reference model ------------------------------------------------ */

/* One reply the model expects: its lines are spans of the stream. */
struct model_reply {
	size_t first; /* index of its first line in model.lines */
	size_t nlines;
	size_t bytes;
	int code;
};

struct span {
	size_t at, len; /* text of the line, line end excluded */
};

struct model {
	struct span *lines;
	size_t nlines;
	struct model_reply *replies;
	size_t nreplies;
	int error;    /* a complete line breaks a rule */
	size_t tail;  /* octets after the last LF */
	size_t used;  /* octets of the completed replies */
};

/* 1 if the line text t[0..n) (CR and LF removed) breaks a rule. code is the
 * first line's code when nl > 0. */
static int line_bad(const uint8_t *t, size_t n, size_t nl, const uint8_t *code)
{
	if (n < 3 || memchr(t, '\0', n) != NULL || memchr(t, '\r', n) != NULL)
		return 1;
	if (t[0] < '2' || t[0] > '5' || t[1] < '0' || t[1] > '9' || t[2] < '0' || t[2] > '9')
		return 1;
	if (nl > 0 && memcmp(t, code, 3) != 0)
		return 1; /* RFC 5321 4.2.1: every line has the same code */
	return n > 3 && t[3] != '-' && t[3] != ' ';
}

static void model_run(const uint8_t *s, size_t n, const struct sf_parser_limits *lim,
		      struct model *m)
{
	size_t pos = 0, nl = 0, rbytes = 0, first = 0, nlf = 1;
	const uint8_t *lf;

	for (size_t i = 0; i < n; i++)
		nlf += s[i] == '\n';
	memset(m, 0, sizeof *m);
	/* at most one line, and one reply, per LF */
	m->lines = malloc(nlf * sizeof *m->lines);
	m->replies = malloc(nlf * sizeof *m->replies);
	FUZZ_CHECK(m->lines != NULL && m->replies != NULL);
	while (pos < n && (lf = memchr(s + pos, '\n', n - pos)) != NULL) {
		size_t wire = (size_t)(lf - (s + pos)); /* octets before the LF */
		size_t tlen = wire - (wire > 0 && s[pos + wire - 1] == '\r');

		if (nl >= lim->lines_max || rbytes + wire + 1 > lim->reply_max ||
		    tlen > lim->line_max ||
		    line_bad(s + pos, tlen, nl, nl ? s + m->lines[first].at : NULL)) {
			m->error = 1;
			break;
		}
		if (nl == 0)
			first = m->nlines;
		m->lines[m->nlines++] = (struct span){pos, tlen};
		nl++;
		rbytes += wire + 1;
		pos += wire + 1;
		if (tlen >= 4 && s[m->lines[m->nlines - 1].at + 3] == '-')
			continue; /* more lines follow */
		m->replies[m->nreplies++] = (struct model_reply){
			first, nl, rbytes,
			(s[m->lines[first].at] - '0') * 100 + (s[m->lines[first].at + 1] - '0') * 10 +
				(s[m->lines[first].at + 2] - '0')};
		m->used += rbytes;
		nl = 0;
		rbytes = 0;
	}
	if (!m->error)
		m->tail = n - pos;
}

static void model_free(struct model *m)
{
	free(m->lines);
	free(m->replies);
}

/* The parser's replies are the model's; an error the model sees in a
 * complete line is seen by the parser; the parser may see one more only in
 * the unfinished last line. */
static void check_model(const uint8_t *s, const struct model *m, const struct fuzz_replies *got,
			size_t n)
{
	FUZZ_CHECK(got->n == m->nreplies);
	for (size_t i = 0; i < m->nreplies; i++) {
		const struct model_reply *mr = &m->replies[i];
		const struct sf_reply *r = got->r[i];

		FUZZ_CHECK(r->code == mr->code && r->nlines == mr->nlines && r->bytes == mr->bytes);
		for (size_t j = 0; j < mr->nlines; j++) {
			const struct span *sp = &m->lines[mr->first + j];

			FUZZ_CHECK(r->lines[j].len == sp->len);
			FUZZ_CHECK(memcmp(r->lines[j].raw, s + sp->at, sp->len) == 0);
		}
	}
	if (m->error)
		FUZZ_CHECK(got->err != SF_PERR_NONE);
	else if (m->tail == 0)
		FUZZ_CHECK(got->err == SF_PERR_NONE);
	FUZZ_CHECK(got->pending == n - got->bytes);
	if (got->err == SF_PERR_NONE)
		FUZZ_CHECK(got->bytes == m->used);
}

/* ---- the target --------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sf_parser_limits lim = {0, 0, 0}, eff;
	const struct sf_parser_limits *limp = NULL;
	struct chunker c = {0x9e3779b9U, 1, 0};
	struct chunker one = {1U, 1, 0};
	struct fuzz_replies whole = {0}, chunked = {0}, bytewise = {0};
	struct ending ew, ec, eb;
	struct sf_parser *p;
	struct model m;
	const uint8_t *s = data;
	size_t n = size;

	if (size >= HEADER_LEN) {
		c.max = (size_t)1 << (data[0] & 7U);
		c.state ^= ((uint32_t)data[0] << 8 | data[1]) * 0x01000193U;
		if (c.state == 0)
			c.state = 1;
		c.empties = 1;
		if (data[2] != 0) {
			lim.line_max = data[2];
			lim.lines_max = 1 + (data[3] & 0x0fU);
			lim.reply_max = 64U * (size_t)(data[3] >> 4);
			limp = &lim;
		}
		s = data + HEADER_LEN;
		n = size - HEADER_LEN;
	}
	eff = fuzz_effective_limits(limp);

	/* one feed, the input buffer itself (exact size) */
	p = sf_parser_new(limp);
	FUZZ_CHECK(p != NULL);
	{
		enum sf_pstatus st = sf_parser_feed(p, (const char *)s, n);

		FUZZ_CHECK(st == SF_PARSE_MORE || st == SF_PARSE_ERROR);
	}
	(void)fuzz_drain(p, &eff, &whole);
	whole.err = sf_parser_error(p);
	whole.pending = sf_parser_pending(p);
	keep_ending(p, &ew);
	/* after the drain the parser is empty or in error: nothing more comes */
	{
		struct sf_reply *r = NULL;
		enum sf_pstatus st = sf_parser_next(p, &r);

		FUZZ_CHECK(r == NULL);
		FUZZ_CHECK(st == (whole.err != SF_PERR_NONE ? SF_PARSE_ERROR : SF_PARSE_MORE));
	}
	sf_parser_free(p);

	parse_chunked(s, n, limp, &c, &chunked, &ec);
	parse_chunked(s, n, limp, &one, &bytewise, &eb);
	check_same(&whole, &ew, &chunked, &ec);
	check_same(&whole, &ew, &bytewise, &eb);

	model_run(s, n, &eff, &m);
	check_model(s, &m, &whole, n);
	model_free(&m);

	/* a parser freed with replies and a partial line still inside */
	p = sf_parser_new(limp);
	FUZZ_CHECK(p != NULL);
	(void)sf_parser_feed(p, (const char *)s, n);
	sf_parser_free(p);

	fuzz_replies_free(&whole);
	fuzz_replies_free(&chunked);
	fuzz_replies_free(&bytewise);
	return 0;
}

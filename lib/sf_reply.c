/*
 * sf_reply.c - streaming SMTP reply parser (RFC 5321 4.2, 4.5.3.1.5).
 *
 * Bytes are fed in any chunking. Complete lines are checked and copied
 * straight from the caller's buffer, never the stream as a whole; only the
 * last, incomplete line of a chunk is kept, in a buffer that never grows
 * past line_max + 2 octets. Completed replies wait in a FIFO until
 * sf_parser_next() hands them out.
 *
 * The rules live in one place, octet_check() and end_check(), and every
 * octet goes through them on one path: find the LF, scan the line, take it
 * or keep its start. A check reads well under a kilobyte; this one path
 * stays linear and fast enough (bench/parser_bench measures it).
 *
 * Errors are positional: the parser reports the first octet of the stream
 * after which no valid stream is possible, and the rule that octet breaks.
 * So the same bytes give the same error however they are split into chunks,
 * and an error is reported as soon as its octet arrives (a line that is too
 * long is refused without waiting for its LF). The only octet that has to
 * wait is a CR: whether it ends the line depends on the next octet.
 *
 * Limits: line_max octets per line (line end excluded), lines_max lines and
 * reply_max octets (line ends included) per reply. Completed replies are not
 * bounded in number: the caller drains them with sf_parser_next() after each
 * feed and bounds the bytes it feeds (the plugin: SF_CONN_BYTES_MAX).
 *
 * Not done here: the meaning of codes or text (sf_ehlo.c, sf_verdict.c),
 * enhanced status codes (RFC 3463), any I/O.
 */
#include "sf_reply.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sf_ascii.h"
#include "sf_common.h"

#define ERRLINE_MAX 80U    /* octets of the offending line kept as evidence */
#define LINES_MIN_CAP 16U  /* first size of the scratch lines array */
#define QUEUE_MIN_CAP 4U   /* first size of the completed-replies FIFO */
#define LIMIT_CEILING (SIZE_MAX / 4) /* larger limits are cut to this */

struct sf_parser {
	struct sf_parser_limits lim;

	/* The incomplete last line: octets of a line whose LF has not come.
	 * Holds at most line_max + 1 octets (line_max, then a CR waiting for
	 * its LF); one more octet always breaks a rule. */
	char *part;
	size_t partlen;
	size_t partcap;

	/* The reply being assembled: its lines so far (a scratch array reused
	 * from reply to reply), and its octets so far, line ends included. */
	struct sf_reply_line *lines;
	size_t nlines;
	size_t linescap;
	size_t rbytes;

	/* Completed replies not yet handed out: queue[qhead..qlen). */
	struct sf_reply **queue;
	size_t qhead;
	size_t qlen;
	size_t qcap;

	size_t pending; /* octets fed and not yet in a returned reply */

	enum sf_perr err;
	char errline[ERRLINE_MAX];
	size_t errlen;
};

/* A limit as given, its default for 0, never so large that sums overflow. */
static size_t limit(size_t given, size_t dflt)
{
	if (given == 0)
		return dflt;
	return given < LIMIT_CEILING ? given : LIMIT_CEILING;
}

struct sf_parser *sf_parser_new(const struct sf_parser_limits *lim)
{
	struct sf_parser *p = calloc(1, sizeof *p);

	if (p == NULL)
		return NULL;
	p->lim.line_max = limit(lim ? lim->line_max : 0, SF_REPLY_LINE_MAX);
	p->lim.lines_max = limit(lim ? lim->lines_max : 0, SF_REPLY_LINES_MAX);
	p->lim.reply_max = limit(lim ? lim->reply_max : 0, SF_REPLY_BYTES_MAX);
	return p;
}

/* Free the lines of the reply being assembled (not the scratch array). */
static void drop_lines(struct sf_parser *p)
{
	for (size_t i = 0; i < p->nlines; i++)
		free(p->lines[i].raw);
	p->nlines = 0;
	p->rbytes = 0;
}

void sf_parser_free(struct sf_parser *p)
{
	if (p == NULL)
		return;
	drop_lines(p);
	for (size_t i = p->qhead; i < p->qlen; i++)
		sf_reply_free(p->queue[i]);
	free(p->queue);
	free(p->lines);
	free(p->part);
	free(p);
}

/* Keep two pieces of the offending line (the buffered start and what came in
 * this chunk) as evidence, at most ERRLINE_MAX octets, without a final CR. */
static void keep_errline(struct sf_parser *p, const char *a, size_t alen, const char *b,
			 size_t blen)
{
	size_t n = alen < ERRLINE_MAX ? alen : ERRLINE_MAX;

	/* cppcheck-suppress knownConditionTrueFalse ; alen varies by caller */
	if (n > 0)
		memcpy(p->errline, a, n);
	if (blen > ERRLINE_MAX - n)
		blen = ERRLINE_MAX - n;
	if (blen > 0)
		memcpy(p->errline + n, b, blen);
	n += blen;
	if (n > 0 && p->errline[n - 1] == '\r')
		n--;
	p->errlen = n;
}

/* Record the error: it is sticky. The line being assembled is dropped;
 * replies already completed stay queued for sf_parser_next(). */
static enum sf_pstatus fail(struct sf_parser *p, enum sf_perr e, const char *a, size_t alen,
			    const char *b, size_t blen)
{
	p->err = e;
	keep_errline(p, a, alen, b, blen);
	drop_lines(p);
	p->partlen = 0;
	return SF_PARSE_ERROR;
}

/*
 * The grammar, one octet at a time: what octet i of a line breaks, given
 * the octets s[0..i) before it in the same line. The LF is not passed here
 * (see end_check). When several rules break at the same octet the first
 * one below wins, so the result does not depend on how input is chunked.
 */
static enum sf_perr octet_check(const struct sf_parser *p, const char *s, size_t i)
{
	unsigned char c = (unsigned char)s[i];

	if (i > 0 && s[i - 1] == '\r')
		return SF_PERR_BARE_CR; /* the CR before this octet did not end the line */
	if (c == '\0')
		return SF_PERR_NUL;
	if (i == 0 && p->nlines >= p->lim.lines_max)
		return SF_PERR_TOO_MANY_LINES;
	if (p->rbytes + i >= p->lim.reply_max)
		return SF_PERR_REPLY_TOO_BIG; /* this octet would be reply octet number rbytes+i+1 */
	if (i >= p->lim.line_max && c != '\r')
		return SF_PERR_LINE_TOO_LONG; /* a CR here may still end a line of line_max */
	switch (i) {
	case 0:
		return (c >= '2' && c <= '5') ? SF_PERR_NONE : SF_PERR_BAD_CODE;
	case 1:
		return (c >= '0' && c <= '9') ? SF_PERR_NONE : SF_PERR_BAD_CODE;
	case 2:
		if (c < '0' || c > '9')
			return SF_PERR_BAD_CODE;
		/* RFC 5321 4.2.1: every line of a multi-line reply has the same code */
		if (p->nlines > 0 && memcmp(s, p->lines[0].raw, 3) != 0)
			return SF_PERR_CODE_MISMATCH;
		return SF_PERR_NONE;
	case 3:
		/* CR: may be the end of a three-octet last line ("250\r\n") */
		return (c == '-' || c == ' ' || c == '\r') ? SF_PERR_NONE : SF_PERR_BAD_SEPARATOR;
	default:
		return SF_PERR_NONE;
	}
}

/* What the LF at position n of a line breaks, given the octets s[0..n). */
static enum sf_perr end_check(const struct sf_parser *p, const char *s, size_t n)
{
	size_t len = n - (n > 0 && s[n - 1] == '\r');

	if (n == 0 && p->nlines >= p->lim.lines_max)
		return SF_PERR_TOO_MANY_LINES;
	if (p->rbytes + n >= p->lim.reply_max)
		return SF_PERR_REPLY_TOO_BIG;
	if (len < 3)
		return SF_PERR_BAD_CODE; /* "", "2", "25": no complete code */
	return SF_PERR_NONE;
}

/*
 * Check octets s[from..to) of a line whose first to octets are s[0..to).
 * Returns the first error. Octets past the code and separator that are
 * neither NUL nor CR, and are below both size limits, cannot break a rule:
 * they are skipped without the full check.
 */
static enum sf_perr scan(const struct sf_parser *p, const char *s, size_t from, size_t to)
{
	size_t room = p->lim.reply_max > p->rbytes ? p->lim.reply_max - p->rbytes : 0;
	size_t safe_end = p->lim.line_max < room ? p->lim.line_max : room;
	size_t i = from;

	if (safe_end > to)
		safe_end = to;
	while (i < to) {
		enum sf_perr e;

		if (i >= 4 && i < safe_end && s[i - 1] != '\r') {
			/* the hot loop: plain text */
			while (i < safe_end && s[i] != '\0' && s[i] != '\r')
				i++;
			if (i >= to)
				break;
		}
		e = octet_check(p, s, i);
		if (e != SF_PERR_NONE)
			return e;
		i++;
	}
	return SF_PERR_NONE;
}

/* Make room for at least need entries in the scratch lines array. */
static int lines_reserve(struct sf_parser *p, size_t need)
{
	struct sf_reply_line *n;
	size_t cap = p->linescap ? p->linescap : LINES_MIN_CAP;

	if (need <= p->linescap)
		return 0;
	while (cap < need)
		cap *= 2;
	n = realloc(p->lines, cap * sizeof *n);
	if (n == NULL)
		return -1;
	p->lines = n;
	p->linescap = cap;
	return 0;
}

/* Append a completed reply to the FIFO. */
static int queue_push(struct sf_parser *p, struct sf_reply *r)
{
	if (p->qlen == p->qcap && p->qhead > 0 && p->qhead >= p->qlen / 2) {
		/* more than half is already handed out: slide down, amortised O(1) */
		memmove(p->queue, p->queue + p->qhead, (p->qlen - p->qhead) * sizeof *p->queue);
		p->qlen -= p->qhead;
		p->qhead = 0;
	}
	if (p->qlen == p->qcap) {
		size_t cap = p->qcap ? 2 * p->qcap : QUEUE_MIN_CAP;
		struct sf_reply **q = realloc(p->queue, cap * sizeof *q);

		if (q == NULL)
			return -1;
		p->queue = q;
		p->qcap = cap;
	}
	p->queue[p->qlen++] = r;
	return 0;
}

/* Move the assembled lines into a new reply and queue it. */
static int finish_reply(struct sf_parser *p)
{
	struct sf_reply *r;
	struct sf_reply_line *lines;
	const char *c;

	if (p->nlines == 0)
		return -1; /* cannot happen: a reply is finished on a line */
	r = malloc(sizeof *r);
	lines = malloc(p->nlines * sizeof *lines);
	c = p->lines[0].raw;

	if (r == NULL || lines == NULL || queue_push(p, r) < 0) {
		free(r);
		free(lines);
		return -1;
	}
	memcpy(lines, p->lines, p->nlines * sizeof *lines);
	r->code = (c[0] - '0') * 100 + (c[1] - '0') * 10 + (c[2] - '0');
	r->nlines = p->nlines;
	r->lines = lines;
	r->bytes = p->rbytes;
	p->nlines = 0;
	p->rbytes = 0;
	return 0;
}

/*
 * A checked line: s[0..n) then LF (n includes a CR before the LF). Copy it
 * into the reply being assembled; finish the reply on its last line.
 */
static int take_line(struct sf_parser *p, const char *s, size_t n)
{
	size_t len = n - (s[n - 1] == '\r'); /* n >= 3 here */
	char *raw;

	if (lines_reserve(p, p->nlines + 1) < 0 || (raw = malloc(len + 1)) == NULL)
		return -1;
	memcpy(raw, s, len);
	raw[len] = '\0';
	p->lines[p->nlines].raw = raw;
	p->lines[p->nlines].len = len;
	p->nlines++;
	p->rbytes += n + 1;
	if (len >= 4 && s[3] == '-')
		return 0; /* RFC 5321 4.2.1: more lines follow */
	return finish_reply(p);
}

/* The first LF in buf[0..len), NULL if none. */
static const char *find_lf(const char *buf, size_t len)
{
	return memchr(buf, '\n', len);
}

/* Keep s[0..n), the incomplete end of a chunk, after the buffered octets.
 * n is small: the octets have been checked, and line_max + 2 breaks a rule. */
static int part_append(struct sf_parser *p, const char *s, size_t n)
{
	if (p->partlen + n > p->partcap) {
		size_t cap = p->partcap ? p->partcap : 64;
		char *b;

		while (cap < p->partlen + n)
			cap *= 2;
		if (cap > p->lim.line_max + 2 && p->partlen + n <= p->lim.line_max + 2)
			cap = p->lim.line_max + 2;
		b = realloc(p->part, cap);
		if (b == NULL)
			return -1;
		p->part = b;
		p->partcap = cap;
	}
	memcpy(p->part + p->partlen, s, n);
	p->partlen += n;
	return 0;
}

/*
 * Bytes after a buffered partial line: complete or extend it. Sets *used to
 * the number of bytes of buf taken (through the LF), or sets the error.
 */
static enum sf_pstatus feed_part(struct sf_parser *p, const char *buf, size_t len, size_t *used)
{
	const char *lf;
	size_t take;
	size_t old = p->partlen;
	/* Never buffer more than one octet past what a valid line can hold. */
	size_t cap = p->lim.line_max + 2;
	size_t copy;
	enum sf_perr e;

	lf = find_lf(buf, len);
	take = lf ? (size_t)(lf - buf) : len;
	copy = take;
	if (old + copy > cap)
		copy = cap > old ? cap - old : 0;
	if (part_append(p, buf, copy) < 0)
		return fail(p, SF_PERR_NOMEM, p->part, old, buf, take);
	e = scan(p, p->part, old, p->partlen);
	if (e == SF_PERR_NONE && lf != NULL)
		e = end_check(p, p->part, p->partlen);
	if (e != SF_PERR_NONE)
		return fail(p, e, p->part, old, buf, take);
	if (lf == NULL) {
		*used = len;
		return SF_PARSE_MORE;
	}
	if (take_line(p, p->part, p->partlen) < 0)
		return fail(p, SF_PERR_NOMEM, p->part, p->partlen, NULL, 0);
	p->partlen = 0;
	*used = take + 1;
	return SF_PARSE_MORE;
}

enum sf_pstatus sf_parser_feed(struct sf_parser *p, const char *buf, size_t len)
{
	size_t off = 0;

	/* Every octet fed counts, even after an error (it is then ignored):
	 * so pending does not depend on how the input was chunked. */
	p->pending += len;
	if (p->err != SF_PERR_NONE)
		return SF_PARSE_ERROR; /* sticky */
	if (len == 0)
		return SF_PARSE_MORE;
	if (p->partlen > 0 && feed_part(p, buf, len, &off) != SF_PARSE_MORE)
		return SF_PARSE_ERROR;
	/* Whole lines straight from buf; the tail, if any, into part. */
	while (off < len) {
		const char *s = buf + off;
		size_t rest = len - off;
		const char *lf;
		size_t n;
		enum sf_perr e;

		lf = find_lf(s, rest);
		n = lf ? (size_t)(lf - s) : rest;
		e = scan(p, s, 0, n);
		if (e == SF_PERR_NONE && lf != NULL)
			e = end_check(p, s, n);
		if (e != SF_PERR_NONE)
			return fail(p, e, s, n, NULL, 0);
		if (lf == NULL) {
			if (part_append(p, s, n) < 0)
				return fail(p, SF_PERR_NOMEM, s, n, NULL, 0);
			break;
		}
		if (take_line(p, s, n) < 0)
			return fail(p, SF_PERR_NOMEM, s, n, NULL, 0);
		off += n + 1;
	}
	return SF_PARSE_MORE;
}

enum sf_pstatus sf_parser_next(struct sf_parser *p, struct sf_reply **out)
{
	if (p->qhead < p->qlen) {
		struct sf_reply *r = p->queue[p->qhead++];

		if (p->qhead == p->qlen)
			p->qhead = p->qlen = 0; /* empty: start again at the front */
		p->pending -= r->bytes;
		*out = r;
		return SF_PARSE_REPLY;
	}
	*out = NULL;
	return p->err != SF_PERR_NONE ? SF_PARSE_ERROR : SF_PARSE_MORE;
}

enum sf_perr sf_parser_error(const struct sf_parser *p)
{
	return p->err;
}

size_t sf_parser_pending(const struct sf_parser *p)
{
	return p->pending;
}

const char *sf_parser_error_line(const struct sf_parser *p, size_t *len)
{
	if (p->err == SF_PERR_NONE) {
		if (len != NULL)
			*len = 0;
		return NULL;
	}
	if (len != NULL)
		*len = p->errlen;
	return p->errline;
}

const char *sf_perr_str(enum sf_perr e)
{
	switch (e) {
	case SF_PERR_NONE:
		return "no error";
	case SF_PERR_NOMEM:
		return "out of memory";
	case SF_PERR_LINE_TOO_LONG:
		return "reply line too long";
	case SF_PERR_TOO_MANY_LINES:
		return "too many lines in one reply";
	case SF_PERR_REPLY_TOO_BIG:
		return "reply too big";
	case SF_PERR_NUL:
		return "NUL octet in reply";
	case SF_PERR_BARE_CR:
		return "CR not followed by LF";
	case SF_PERR_BAD_CODE:
		return "line does not start with a reply code";
	case SF_PERR_BAD_SEPARATOR:
		return "reply code not followed by '-', ' ' or line end";
	case SF_PERR_CODE_MISMATCH:
		return "continuation line with another reply code";
	default:
		return "unknown parser error";
	}
}

const char *sf_reply_text(const struct sf_reply *r, size_t i, size_t *len)
{
	const struct sf_reply_line *l;

	if (r == NULL || i >= r->nlines || r->lines == NULL || r->lines[i].raw == NULL) {
		if (len != NULL)
			*len = 0;
		return "";
	}
	l = &r->lines[i];
	if (l->len <= 4) { /* "250", "250-", "250 ": no text (shorter: hand-built) */
		if (len != NULL)
			*len = 0;
		return l->raw + l->len;
	}
	if (len != NULL)
		*len = l->len - 4;
	return l->raw + 4;
}

void sf_reply_free(struct sf_reply *r)
{
	if (r == NULL)
		return;
	if (r->lines != NULL)
		for (size_t i = 0; i < r->nlines; i++)
			free(r->lines[i].raw);
	free(r->lines);
	free(r);
}

/* --- classifiers of a reply's text --------------------------------------- */

int sf_text_has_x_echo(const char *text, size_t len)
{
	size_t i = 0;

	if (text == NULL)
		return 0;
	while ((i = sf_skip_blanks(text, len, i)) < len) {
		size_t e = sf_token_end(text, len, i);
		size_t a = i, z = e, k;

		/* quotes and punctuation around the X's are allowed */
		while (a < z && !sf_is_alnum((unsigned char)text[a]))
			a++;
		while (z > a && !sf_is_alnum((unsigned char)text[z - 1]))
			z--;
		for (k = a; k < z && text[k] == 'X'; k++)
			;
		if (k == z && z - a >= 4)
			return 1;
		i = e;
	}
	return 0;
}

/* 1 if s[0..n) is an RFC 3463 enhanced status code: class "2", "4" or "5",
 * then 1-3 digits, '.', 1-3 digits. */
static int is_status_code(const char *s, size_t n)
{
	size_t i = 1;

	if (n < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
		return 0;
	for (int part = 0; part < 2; part++) {
		size_t start = ++i; /* past the '.' */

		while (i < n && i - start < 3 && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == start)
			return 0;
		if (part == 0 && (i >= n || s[i] != '.'))
			return 0;
	}
	return i == n;
}

int sf_reply_is_noop_like(const struct sf_reply *r)
{
	size_t n, a, e;
	const char *t;

	if (r == NULL || r->code != 250 || r->nlines != 1)
		return 0;
	t = sf_reply_text(r, 0, &n);
	a = sf_skip_blanks(t, n, 0);
	if (a == n) /* a bare "250": no domain either */
		return 1;
	e = sf_token_end(t, n, a);
	return is_status_code(t + a, e - a) || sf_ci_word(t + a, e - a, "ok");
}

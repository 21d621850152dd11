/*
 * fuzz.h - what the fuzz targets share: the libFuzzer entry point, a check
 * that aborts with a message (assert() would vanish under NDEBUG), and
 * helpers that run the reply parser and check what it returns against the
 * contract in sf_reply.h.
 *
 * Each target (fuzz_reply.c, fuzz_ehlo.c, fuzz_verdict.c) is built twice:
 * with clang -fsanitize=fuzzer by tools/fuzz, and with the project's
 * compiler against replay.c, which replays the seed corpus and
 * tests/fuzz/regressions/ in "make check".
 */
#ifndef SF_FUZZ_H
#define SF_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "sf_reply.h"

/* The libFuzzer entry point: one input, 0 when it was handled. Any broken
 * invariant aborts (libFuzzer then saves the input). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Print where and what failed to stderr, then abort(). */
void fuzz_fail(const char *file, int line, const char *what) __attribute__((noreturn));

#define FUZZ_CHECK(cond)                                        \
	do {                                                    \
		if (!(cond))                                    \
			fuzz_fail(__FILE__, __LINE__, #cond);   \
	} while (0)

/* Every reply a parser returned for one stream, in order, and how the
 * stream ended. Owns the replies. */
struct fuzz_replies {
	struct sf_reply **r;
	size_t n;
	size_t cap;
	enum sf_perr err;    /* sf_parser_error() at the end */
	size_t pending;      /* sf_parser_pending() at the end */
	size_t bytes;        /* sum of r[i]->bytes */
};

/* The limits a parser made with lim uses (0 fields and NULL take the
 * defaults of sf_common.h). */
struct sf_parser_limits fuzz_effective_limits(const struct sf_parser_limits *lim);

/* Append r to out (aborts if memory runs out: inputs are small). */
void fuzz_replies_add(struct fuzz_replies *out, struct sf_reply *r);

/* Take every reply p holds now into out, checking each against lim (the
 * effective limits). Returns the last status of sf_parser_next(). */
enum sf_pstatus fuzz_drain(struct sf_parser *p, const struct sf_parser_limits *lim,
			   struct fuzz_replies *out);

/* Feed buf[0..len) whole into a new parser with lim (NULL: defaults),
 * drain it and fill out (which must start zeroed). */
void fuzz_parse_whole(const uint8_t *buf, size_t len, const struct sf_parser_limits *lim,
		      struct fuzz_replies *out);

/* Release every reply in out and zero it. */
void fuzz_replies_free(struct fuzz_replies *out);

/* The invariants of one reply from the parser (sf_reply.h): code 200..599,
 * 1..lines_max lines, each 3..line_max octets with no NUL, CR or LF, all
 * with the code of the first line, '-' after the code on every line but the
 * last, the last ending the reply; bytes within the reply limit and
 * consistent with the line lengths; sf_reply_text() consistent. */
void fuzz_check_reply(const struct sf_reply *r, const struct sf_parser_limits *lim);

/* 1 if a and b are the same replies (code, lines, bytes). */
int fuzz_reply_equal(const struct sf_reply *a, const struct sf_reply *b);

#endif /* SF_FUZZ_H */

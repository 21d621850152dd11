/*
 * sf_ehlo.h - the EHLO reply as a list of keywords (RFC 5321 4.1.1.1,
 * RFC 1869): line 1 is "250-domain [greeting]", every later line is
 * "keyword [params]". Keywords compare case-insensitively as whole tokens
 * (never as substrings).
 *
 * Also the masks an inspecting firewall leaves in an EHLO reply: Cisco ASA
 * overwrites a line it does not allow with 'X' repeated (length-1) times and
 * one letter counting up A, B, C... within the reply (doc/inspection-boxes.md 2).
 */
#ifndef SF_EHLO_H
#define SF_EHLO_H

#include <stddef.h>
#include "sf_common.h"
#include "sf_reply.h"

/* One advertised extension (one reply line after the first). */
struct sf_ehlo_ext {
	char keyword[SF_EHLO_KEYWORD_MAX + 1]; /* first token as received (case kept), truncated to fit */
	const char *params; /* text after the keyword and its blanks, "" if none; points into the reply */
	size_t line;        /* index of its line in the reply (>= 1) */
	int valid;          /* 1 if the keyword follows the ehlo-keyword grammar */
	int masked;         /* 1 if the whole line text is an X mask (sf_is_x_mask) */
	char mask_letter;   /* the mask's last letter when masked, else 0 */
};

/* A parsed EHLO reply. Its pointers point into the sf_reply it came from:
 * valid while that reply lives. Released with sf_ehlo_free(). */
struct sf_ehlo {
	const char *domain;   /* first token of line 1's text, NUL-terminated copy */
	const char *greeting; /* rest of line 1's text after the domain, "" if none (points into the reply) */
	size_t next;          /* number of extensions: reply lines after the first that hold a keyword */
	struct sf_ehlo_ext *ext;
	int greeting_masked;  /* line 1's text is an X mask */
};

/* Parse a 250 reply to EHLO. Returns 0 and *out (caller frees), -1 if r is
 * not a 2xx reply or memory ran out. */
int sf_ehlo_parse(const struct sf_reply *r, struct sf_ehlo **out);

/* Release it. NULL is a no-op. */
void sf_ehlo_free(struct sf_ehlo *e);

/* The extension whose keyword equals keyword, case-insensitively, or NULL.
 * Masked lines never match. */
const struct sf_ehlo_ext *sf_ehlo_find(const struct sf_ehlo *e, const char *keyword);

/* Number of masked lines (greeting line included). */
size_t sf_ehlo_masked_count(const struct sf_ehlo *e);

/* 1 if s[0..len) follows ehlo-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-"). */
int sf_keyword_valid(const char *s, size_t len);

/* 1 if text[0..len) is an ASA mask: len >= 2, 'X' repeated len-1 times, then
 * one letter 'A'..'Z'; sets *letter (if not NULL) to that letter. Real
 * X-extensions (XCLIENT, XFORWARD, XEXCH50, X-EXPS...) never match. */
int sf_is_x_mask(const char *text, size_t len, char *letter);

#endif /* SF_EHLO_H */

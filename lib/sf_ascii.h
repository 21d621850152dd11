/*
 * sf_ascii.h - ASCII character classes, case-insensitive comparison and a
 * token iterator over a text of known length, shared by libsmtpfixup and
 * the inspection emulator (tools/emu).
 *
 * ASCII only, never the locale's: the plugin may run under any LC_CTYPE
 * (with a Turkish locale, tolower('I') is not 'i'). Nothing here reads a
 * text past the length it is given, and no text needs a NUL terminator
 * unless a function says so.
 */
#ifndef SF_ASCII_H
#define SF_ASCII_H

#include <stddef.h>

/* 1 for SP and HTAB, the blanks of RFC 5234 (WSP). */
int sf_is_blank(int c);

/* 1 for an ASCII letter or digit. */
int sf_is_alnum(int c);

/* c in lower case when it is an ASCII capital letter, else c. */
int sf_lower(int c);

/* 1 if the NUL-terminated strings a and b are equal, ASCII case ignored. */
int sf_ci_equal(const char *a, const char *b);

/* 1 if s[0..n) equals the NUL-terminated word w, ASCII case ignored. */
int sf_ci_word(const char *s, size_t n, const char *w);

/* 1 if a[0..n) equals b[0..n), ASCII case ignored. */
int sf_ci_equal_n(const char *a, const char *b, size_t n);

/* The index of the first octet at or after i that is not a blank (len if
 * none). */
size_t sf_skip_blanks(const char *s, size_t len, size_t i);

/* The index of the first blank at or after i (len if none). */
size_t sf_token_end(const char *s, size_t len, size_t i);

/* Walks the blank-separated tokens of s[0..len). */
struct sf_tokens {
	const char *s;
	size_t len;
	size_t pos;
};

/* Start walking s[0..len). */
void sf_tokens_init(struct sf_tokens *t, const char *s, size_t len);

/* The next token: 1 with *tok (pointing into s) and *toklen, or 0 at the
 * end. */
int sf_tokens_next(struct sf_tokens *t, const char **tok, size_t *toklen);

#endif /* SF_ASCII_H */

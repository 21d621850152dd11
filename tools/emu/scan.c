/*
 * scan.c - helpers shared by the rewriting engine and the personas: bounded
 * output, line/token scanning, end-of-DATA detection, BDAT arguments.
 *
 * Limits: a BDAT size is at most EMU_BDAT_MAX. Not done here: any protocol
 * decision (rewrite.c, persona.c).
 */
#include "scan.h"

#include "sf_ascii.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define BDAT_DIGITS_MAX 20U /* octets of a chunk size we look at (2^64 has 20) */

void emu_out_put(struct emu_out *o, const char *s, size_t n)
{
	if (o->over || n > o->cap - o->len) {
		o->over = 1;
		return;
	}
	if (n > 0)
		memcpy(o->p + o->len, s, n);
	o->len += n;
}

void emu_out_puts(struct emu_out *o, const char *s)
{
	emu_out_put(o, s, strlen(s));
}

void emu_out_putu(struct emu_out *o, uint64_t v)
{
	char tmp[24];
	size_t i = sizeof tmp;

	do {
		tmp[--i] = (char)('0' + (int)(v % 10U));
		v /= 10U;
	} while (v > 0 && i > 0);
	emu_out_put(o, tmp + i, sizeof tmp - i);
}

size_t emu_line_core(const char *line, size_t n)
{
	if (n == 0)
		return 0;
	if (line[n - 1] == '\n')
		n--;
	if (n > 0 && line[n - 1] == '\r')
		n--;
	return n;
}

int emu_word_in(const char *s, size_t len, const char *const *list)
{
	for (; list != NULL && *list != NULL; list++)
		if (sf_ci_word(s, len, *list))
			return 1;
	return 0;
}

void emu_dot_reset(struct emu_dot *d)
{
	d->len = 0;
	d->first = 0;
	d->last = 0;
}

size_t emu_dot_scan(struct emu_dot *d, const char *buf, size_t len, int *end)
{
	size_t i = 0;

	*end = 0;
	while (i < len) {
		const char *lf = memchr(buf + i, '\n', len - i);
		size_t seg = lf != NULL ? (size_t)(lf - (buf + i)) : len - i;
		size_t core;

		if (seg > 0) {
			if (d->len == 0)
				d->first = (unsigned char)buf[i];
			d->last = (unsigned char)buf[i + seg - 1];
			/* saturate: only "is it 1 or 2" matters at the LF */
			d->len = seg > SIZE_MAX - d->len ? SIZE_MAX : d->len + seg;
		}
		i += seg;
		if (lf == NULL)
			break;
		i++; /* the LF */
		core = d->len;
		if (core > 0 && d->last == '\r')
			core--;
		if (core == 1 && d->first == '.') {
			emu_dot_reset(d);
			*end = 1;
			return i;
		}
		emu_dot_reset(d);
	}
	return i;
}

int emu_bdat_parse(const char *s, size_t len, uint64_t *size, int *last)
{
	char digits[BDAT_DIGITS_MAX + 1];
	unsigned long long v;
	char *end = NULL;
	size_t i, n;
	int is_last = 0;

	n = sf_token_end(s, len, 0);
	if (!sf_ci_word(s, n, "BDAT"))
		return -1;
	i = sf_skip_blanks(s, len, n);
	if (i == n) /* no blank after the verb */
		return -1;
	n = sf_token_end(s + i, len - i, 0);
	if (n == 0 || n > BDAT_DIGITS_MAX)
		return -1;
	for (size_t k = 0; k < n; k++)
		if (s[i + k] < '0' || s[i + k] > '9')
			return -1; /* strtoull would take a sign or blanks */
	memcpy(digits, s + i, n);
	digits[n] = '\0';
	errno = 0;
	v = strtoull(digits, &end, 10);
	if (errno != 0 || end != digits + n || v > EMU_BDAT_MAX)
		return -1;
	i = sf_skip_blanks(s, len, i + n);
	if (i < len) {
		n = sf_token_end(s + i, len - i, 0);
		if (!sf_ci_word(s + i, n, "LAST"))
			return -1;
		is_last = 1;
		if (sf_skip_blanks(s, len, i + n) != len)
			return -1;
	}
	*size = (uint64_t)v;
	*last = is_last;
	return 0;
}

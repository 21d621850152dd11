/*
 * sf_text.c - escaping peer text for output and formatting perfdata.
 *
 * Output from a plugin is parsed by the scheduler: a '|' starts perfdata and
 * a newline starts long output, so nothing a peer sent may reach stdout raw.
 * Perfdata is formatted here rather than with monitoring-plugins' fperfdata()
 * because that one leaks every intermediate string.
 */
#include "sf_text.h"

#include <stdio.h>
#include <string.h>

static int needs_escape(unsigned char c)
{
	return c < 0x20 || c > 0x7e || c == '\\' || c == '|';
}

size_t sf_escape(char *dst, size_t dstsz, const char *src, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	static const char ellipsis[] = "...";
	size_t o = 0;
	size_t total = 0;
	size_t reserve;

	if (dstsz == 0)
		return 0;
	/* Room for the ellipsis is kept only when not everything fits: else a
	 * text that fits exactly would be cut for nothing. */
	for (size_t i = 0; i < len && total < dstsz; i++)
		total += needs_escape((unsigned char)src[i]) ? 4 : 1;
	reserve = total < dstsz ? 0 : sizeof ellipsis - 1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];
		size_t need = needs_escape(c) ? 4 : 1;

		if (o + need + reserve + 1 > dstsz) {
			size_t room = dstsz - 1 - o;
			size_t n = room < sizeof ellipsis - 1 ? room : sizeof ellipsis - 1;
			memcpy(dst + o, ellipsis, n);
			o += n;
			break;
		}
		if (need == 4) {
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 0x0f];
		} else {
			dst[o++] = (char)c;
		}
	}
	dst[o] = '\0';
	return o;
}

/* Write label in perfdata form into buf: quoted when it holds a blank, '='
 * or a quote, with quotes doubled. Returns the length or -1 if it did not fit. */
static int format_label(char *buf, size_t bufsz, const char *label)
{
	int quote = strpbrk(label, " '=") != NULL;
	size_t o = 0;

	if (quote) {
		if (o + 1 >= bufsz)
			return -1;
		buf[o++] = '\'';
	}
	for (const char *p = label; *p; p++) {
		size_t need = (*p == '\'') ? 2 : 1;
		if (o + need >= bufsz)
			return -1;
		if (*p == '\'')
			buf[o++] = '\'';
		buf[o++] = *p;
	}
	if (quote) {
		if (o + 1 >= bufsz)
			return -1;
		buf[o++] = '\'';
	}
	buf[o] = '\0';
	return (int)o;
}

/* Append s at dst[*at] when it fits with its NUL (dst size dstsz); -1 if
 * not. Plain copies: a check prints a dozen items, and snprintf's format
 * machinery cost more than the rest of the perfdata. */
static int put(char *dst, size_t dstsz, size_t *at, const char *s)
{
	size_t n = strlen(s);

	if (n >= dstsz - *at)
		return -1;
	memcpy(dst + *at, s, n + 1);
	*at += n;
	return 0;
}

int sf_perfdata_append(char *dst, size_t dstsz, const char *label, const char *value,
		       const char *uom, const char *warn, const char *crit,
		       const char *min, const char *max)
{
	const char *fields[4] = {warn, crit, min, max};
	char lab[256];
	size_t used = strnlen(dst, dstsz), at;
	size_t last = 0; /* number of threshold fields to print */

	if (used >= dstsz || format_label(lab, sizeof lab, label) < 0)
		return -1;
	for (size_t i = 0; i < 4; i++)
		if (fields[i] != NULL && fields[i][0] != '\0')
			last = i + 1;
	at = used;
	if ((used && put(dst, dstsz, &at, " ") < 0) || put(dst, dstsz, &at, lab) < 0 ||
	    put(dst, dstsz, &at, "=") < 0 || put(dst, dstsz, &at, value) < 0 ||
	    put(dst, dstsz, &at, uom ? uom : "") < 0)
		goto toolong;
	for (size_t i = 0; i < last; i++)
		if (put(dst, dstsz, &at, ";") < 0 || put(dst, dstsz, &at, fields[i] ? fields[i] : "") < 0)
			goto toolong;
	return 0;
toolong:
	dst[used] = '\0';
	return -1;
}

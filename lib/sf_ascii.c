/*
 * sf_ascii.c - ASCII classes, case folding and tokens (see sf_ascii.h).
 */
#include "sf_ascii.h"

int sf_is_blank(int c)
{
	return c == ' ' || c == '\t';
}

int sf_is_alnum(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

int sf_lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

int sf_ci_equal(const char *a, const char *b)
{
	for (; *a != '\0' && *b != '\0'; a++, b++)
		if (sf_lower((unsigned char)*a) != sf_lower((unsigned char)*b))
			return 0;
	return *a == *b;
}

int sf_ci_word(const char *s, size_t n, const char *w)
{
	size_t i;

	for (i = 0; i < n && w[i] != '\0'; i++)
		if (sf_lower((unsigned char)s[i]) != sf_lower((unsigned char)w[i]))
			return 0;
	return i == n && w[i] == '\0';
}

int sf_ci_equal_n(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (sf_lower((unsigned char)a[i]) != sf_lower((unsigned char)b[i]))
			return 0;
	return 1;
}

size_t sf_skip_blanks(const char *s, size_t len, size_t i)
{
	while (i < len && sf_is_blank((unsigned char)s[i]))
		i++;
	return i;
}

size_t sf_token_end(const char *s, size_t len, size_t i)
{
	while (i < len && !sf_is_blank((unsigned char)s[i]))
		i++;
	return i;
}

void sf_tokens_init(struct sf_tokens *t, const char *s, size_t len)
{
	t->s = s;
	t->len = s != NULL ? len : 0;
	t->pos = 0;
}

int sf_tokens_next(struct sf_tokens *t, const char **tok, size_t *toklen)
{
	size_t a = sf_skip_blanks(t->s, t->len, t->pos);
	size_t e;

	if (a >= t->len)
		return 0;
	e = sf_token_end(t->s, t->len, a);
	*tok = t->s + a;
	*toklen = e - a;
	t->pos = e;
	return 1;
}

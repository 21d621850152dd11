/*
 * test_session.c - unit tests of what plugins/session.c says and builds
 * without a socket: the words for each step of a conversation (they end
 * up in every failure's status line) and the DATA-phase witness's message
 * parts (sizes that make a box act, never a part cut short).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session.h"
#include "sf_common.h"

/* Every step has words of its own: a failure's line says where it
 * happened, and two steps with the same words would hide which. A value
 * outside the enumeration still gets words, never NULL. */
static void test_step_words(void **state)
{
	const char *seen[STEP_DONE + 1];
	const char *unknown = session_step_words((enum session_step)(STEP_DONE + 1));
	(void)state;

	assert_non_null(unknown);
	for (int i = 0; i <= STEP_DONE; i++) {
		const char *w = session_step_words((enum session_step)i);
		assert_non_null(w);
		assert_true(strlen(w) > 3);
		assert_string_not_equal(w, unknown);
		for (int k = 0; k < i; k++)
			assert_string_not_equal(w, seen[k]);
		seen[i] = w;
	}
	/* the witness's steps say they are the witness's */
	assert_non_null(strstr(session_step_words(STEP_MAIL), "MAIL"));
	assert_non_null(strstr(session_step_words(STEP_RCPT), "RCPT"));
	assert_non_null(strstr(session_step_words(STEP_DATA), "DATA"));
	assert_non_null(strstr(session_step_words(STEP_MESSAGE), "witness"));
}

/* The longest line of buf[0..n), CRLF excluded, and whether every line
 * ends in CRLF. */
static size_t longest_line(const char *buf, size_t n, int *crlf)
{
	size_t longest = 0, start = 0;

	*crlf = 1;
	for (size_t i = 0; i < n; i++) {
		if (buf[i] != '\n')
			continue;
		if (i == 0 || buf[i - 1] != '\r')
			*crlf = 0;
		if (i - 1 - start > longest)
			longest = i - 1 - start;
		start = i + 1;
	}
	if (start != n)
		*crlf = 0; /* a last line without its end */
	return longest;
}

/* Part 0 carries a header line of SF_WITNESS_HEADER_LINE octets, part 1 a
 * file name of SF_WITNESS_FILE_NAME; every line ends in CRLF and neither
 * part ends the data (no "." line). */
static void test_witness_parts(void **state)
{
	static char buf[SESSION_OUT_MAX];
	int crlf = 0;
	size_t n;
	const char *q;
	(void)state;

	n = session_witness_part(0, buf, sizeof buf);
	assert_true(n > SF_WITNESS_HEADER_LINE);
	assert_int_equal(longest_line(buf, n, &crlf), SF_WITNESS_HEADER_LINE);
	assert_true(crlf);
	assert_null(strstr(buf, "\r\n.\r\n"));
	assert_int_equal(strlen(buf), n);

	n = session_witness_part(1, buf, sizeof buf);
	assert_true(n > SF_WITNESS_FILE_NAME);
	longest_line(buf, n, &crlf);
	assert_true(crlf);
	q = strstr(buf, "filename=\"");
	assert_non_null(q);
	q += strlen("filename=\"");
	assert_int_equal(strcspn(q, "\""), SF_WITNESS_FILE_NAME);
	assert_null(strstr(buf, "\r\n.\r\n"));

	/* only SF_WITNESS_PARTS parts */
	assert_int_equal(session_witness_part(SF_WITNESS_PARTS, buf, sizeof buf), 0);
}

/* A buffer too small for a part gets nothing, never a part cut short:
 * every size below the part's own gives 0, and from it on the whole. */
static void test_witness_part_fits_or_nothing(void **state)
{
	static char full[SESSION_OUT_MAX], buf[SESSION_OUT_MAX];
	(void)state;

	for (size_t i = 0; i < SF_WITNESS_PARTS; i++) {
		size_t want = session_witness_part(i, full, sizeof full);
		assert_true(want > 0);
		for (size_t sz = 0; sz <= want + 2; sz++) {
			size_t got = session_witness_part(i, buf, sz);
			if (got == 0)
				continue;
			assert_int_equal(got, want);
			assert_true(sz > want); /* room for the terminating NUL */
			assert_memory_equal(buf, full, want);
		}
		assert_int_equal(session_witness_part(i, buf, want + 1), want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_step_words),
		cmocka_unit_test(test_witness_parts),
		cmocka_unit_test(test_witness_part_fits_or_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

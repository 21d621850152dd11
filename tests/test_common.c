/*
 * test_common.c - unit tests of the monitoring states (lib/sf_common.c) and
 * of escaping and perfdata formatting (lib/sf_text.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "sf_common.h"
#include "sf_text.h"

/* A string literal as (pointer, length): sources may hold NUL octets. */
#define IN(s) s, sizeof(s) - 1

/* --- states --------------------------------------------------------------- */

static void test_state_name(void **state)
{
	static const struct {
		int state;
		const char *name;
	} rows[] = {
		{SF_OK, "OK"},
		{SF_WARNING, "WARNING"},
		{SF_CRITICAL, "CRITICAL"},
		{SF_UNKNOWN, "UNKNOWN"},
		{-1, "UNKNOWN"},
		{4, "UNKNOWN"},
		{99, "UNKNOWN"},
	};
	(void)state;

	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
		assert_string_equal(sf_state_name(rows[i].state), rows[i].name);
	/* the exit codes fixed by the monitoring-plugins guidelines */
	assert_int_equal(SF_OK, 0);
	assert_int_equal(SF_WARNING, 1);
	assert_int_equal(SF_CRITICAL, 2);
	assert_int_equal(SF_UNKNOWN, 3);
}

static void test_state_parse(void **state)
{
	static const struct {
		const char *s;
		int ret;
		enum sf_state want; /* when ret is 0 */
	} rows[] = {
		{"ok", 0, SF_OK},
		{"OK", 0, SF_OK},
		{"Ok", 0, SF_OK},
		{"warning", 0, SF_WARNING},
		{"WARNING", 0, SF_WARNING},
		{"Critical", 0, SF_CRITICAL},
		{"unknown", 0, SF_UNKNOWN},
		{"UNKNOWN", 0, SF_UNKNOWN},
		{"0", 0, SF_OK},
		{"1", 0, SF_WARNING},
		{"2", 0, SF_CRITICAL},
		{"3", 0, SF_UNKNOWN},
		{"", -1, SF_OK},
		{"4", -1, SF_OK},
		{"-1", -1, SF_OK},
		{"00", -1, SF_OK},
		{"01", -1, SF_OK},
		{"0 ", -1, SF_OK},
		{" ok", -1, SF_OK},
		{"ok ", -1, SF_OK},
		{"okay", -1, SF_OK},
		{"o", -1, SF_OK},
		{"warn", -1, SF_OK},
		{"crit", -1, SF_OK},
		{NULL, -1, SF_OK},
	};
	(void)state;

	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		enum sf_state out = (enum sf_state)77; /* must stay on failure */

		assert_int_equal(sf_state_parse(rows[i].s, &out), rows[i].ret);
		assert_int_equal(out, rows[i].ret == 0 ? (int)rows[i].want : 77);
	}
}

static void test_state_worst(void **state)
{
	static const enum sf_state all[] = {SF_OK, SF_WARNING, SF_CRITICAL, SF_UNKNOWN};
	/* worst[a][b]: CRITICAL > WARNING > UNKNOWN > OK */
	static const enum sf_state worst[4][4] = {
		/*              OK           WARNING      CRITICAL     UNKNOWN */
		/* OK */       {SF_OK, SF_WARNING, SF_CRITICAL, SF_UNKNOWN},
		/* WARNING */  {SF_WARNING, SF_WARNING, SF_CRITICAL, SF_WARNING},
		/* CRITICAL */ {SF_CRITICAL, SF_CRITICAL, SF_CRITICAL, SF_CRITICAL},
		/* UNKNOWN */  {SF_UNKNOWN, SF_WARNING, SF_CRITICAL, SF_UNKNOWN},
	};
	(void)state;

	for (size_t a = 0; a < 4; a++)
		for (size_t b = 0; b < 4; b++)
			assert_int_equal(sf_state_worst(all[a], all[b]), worst[a][b]);
	assert_true(sf_state_rank(SF_OK) < sf_state_rank(SF_UNKNOWN));
	assert_true(sf_state_rank(SF_UNKNOWN) < sf_state_rank(SF_WARNING));
	assert_true(sf_state_rank(SF_WARNING) < sf_state_rank(SF_CRITICAL));
	/* out of range ranks as UNKNOWN */
	assert_int_equal(sf_state_rank((enum sf_state)9), sf_state_rank(SF_UNKNOWN));
	assert_int_equal(sf_state_worst(SF_CRITICAL, (enum sf_state)9), SF_CRITICAL);
}

/* --- sf_escape ------------------------------------------------------------ */

static void test_escape(void **state)
{
	static const struct {
		const char *src;
		size_t len;
		size_t dstsz;
		const char *want;
	} rows[] = {
		{IN("hello"), 32, "hello"},
		{IN(""), 32, ""},
		{IN("250 ok\r\n"), 32, "250 ok\\x0d\\x0a"},
		{IN("a|b"), 32, "a\\x7cb"},   /* '|' would start perfdata */
		{IN("a\\b"), 32, "a\\x5cb"},  /* so that escapes stay unique */
		{IN("a\0b"), 32, "a\\x00b"},  /* len counts, not NUL */
		{IN("\xc3\xa9t\xc3\xa9"), 32, "\\xc3\\xa9t\\xc3\\xa9"},
		{IN("~ \x7f"), 32, "~ \\x7f"},
		{IN("\t"), 32, "\\x09"},
		/* fits exactly: never cut */
		{IN("abcdefg"), 8, "abcdefg"},
		{IN("abc\x01" "d"), 9, "abc\\x01d"},
		{IN("ab\x01"), 7, "ab\\x01"},
		/* one octet short: cut, with the ellipsis */
		{IN("abcdefgh"), 8, "abcd..."},
		{IN("ab\x01"), 6, "ab..."},
		{IN("abcd\x01xyz"), 10, "abcd..."}, /* an escape is never split */
		{IN("abcdefghijklmnopqrstuvwxyz"), 12, "abcdefgh..."},
		/* tiny buffers */
		{IN("abcdef"), 4, "..."},
		{IN("abcdef"), 2, "."},
		{IN("abcdef"), 1, ""},
		{IN("a"), 2, "a"},
		{IN("\x01"), 4, "..."},
		{IN("\x01"), 5, "\\x01"},
	};
	(void)state;

	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		char dst[64];
		size_t n;

		memset(dst, '#', sizeof dst);
		n = sf_escape(dst, rows[i].dstsz, rows[i].src, rows[i].len);
		if (strcmp(dst, rows[i].want) != 0)
			print_error("row %zu (dstsz %zu)\n", i, rows[i].dstsz);
		assert_string_equal(dst, rows[i].want);
		assert_int_equal(n, strlen(rows[i].want));
		/* nothing written past dstsz */
		for (size_t k = rows[i].dstsz; k < sizeof dst; k++)
			assert_int_equal(dst[k], '#');
	}
}

static void test_escape_zero_size(void **state)
{
	char dst[4] = "###";
	(void)state;

	assert_int_equal(sf_escape(dst, 0, IN("abc")), 0);
	assert_string_equal(dst, "###");
}

/* --- sf_perfdata_append --------------------------------------------------- */

static void test_perfdata(void **state)
{
	static const struct {
		const char *before; /* dst before the call */
		size_t dstsz;
		const char *label, *value, *uom, *warn, *crit, *min, *max;
		int ret;
		const char *want; /* dst after the call */
	} rows[] = {
		{"", 64, "time", "0.5", "s", NULL, NULL, NULL, NULL, 0, "time=0.5s"},
		{"", 64, "time", "0.5", "s", "1", "2", "0", NULL, 0, "time=0.5s;1;2;0"},
		{"", 64, "time", "0.5", "s", "1", "2", "0", "10", 0, "time=0.5s;1;2;0;10"},
		{"", 64, "time", "0.5", "s", NULL, "2", NULL, NULL, 0, "time=0.5s;;2"},
		{"", 64, "x", "1", NULL, NULL, NULL, NULL, "10", 0, "x=1;;;;10"},
		{"", 64, "x", "1", NULL, "", "", NULL, NULL, 0, "x=1"}, /* empty = absent */
		{"", 64, "x", "1", "", "", "2", "", NULL, 0, "x=1;;2"},
		{"", 64, "ehlo lines", "12", NULL, NULL, NULL, NULL, NULL, 0, "'ehlo lines'=12"},
		{"", 64, "it's", "1", NULL, NULL, NULL, NULL, NULL, 0, "'it''s'=1"},
		{"", 64, "a=b", "1", NULL, NULL, NULL, NULL, NULL, 0, "'a=b'=1"},
		{"time=0.5s", 64, "size", "10", "B", NULL, NULL, "0", NULL, 0,
		 "time=0.5s size=10B;;;0"},
		/* exactly fits (8 octets and the NUL), one short, short in the thresholds */
		{"", 9, "time", "0.5", NULL, NULL, NULL, NULL, NULL, 0, "time=0.5"},
		{"", 8, "time", "0.5", NULL, NULL, NULL, NULL, NULL, -1, ""},
		{"a=1", 11, "x", "1", NULL, NULL, "2", NULL, NULL, 0, "a=1 x=1;;2"},
		{"a=1", 10, "x", "1", NULL, NULL, "2", NULL, NULL, -1, "a=1"},
		{"a=1", 7, "x", "1", NULL, NULL, NULL, NULL, NULL, -1, "a=1"},
	};
	(void)state;

	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		char dst[64];
		int ret;

		memset(dst, '#', sizeof dst);
		memcpy(dst, rows[i].before, strlen(rows[i].before) + 1);
		ret = sf_perfdata_append(dst, rows[i].dstsz, rows[i].label, rows[i].value,
					 rows[i].uom, rows[i].warn, rows[i].crit, rows[i].min,
					 rows[i].max);
		if (ret != rows[i].ret || strcmp(dst, rows[i].want) != 0)
			print_error("row %zu\n", i);
		assert_int_equal(ret, rows[i].ret);
		assert_string_equal(dst, rows[i].want);
		for (size_t k = rows[i].dstsz; k < sizeof dst; k++)
			assert_int_equal(dst[k], '#');
	}
}

static void test_perfdata_refuses(void **state)
{
	char full[4] = {'a', '=', '1', '2'}; /* no NUL within dstsz */
	char dst[512] = "";
	char label[300];
	(void)state;

	assert_int_equal(sf_perfdata_append(full, sizeof full, "x", "1", NULL, NULL, NULL, NULL,
					    NULL),
			 -1);
	assert_memory_equal(full, "a=12", 4);

	/* a label longer than the 255 octets formatting allows */
	memset(label, 'l', sizeof label - 1);
	label[sizeof label - 1] = '\0';
	assert_int_equal(sf_perfdata_append(dst, sizeof dst, label, "1", NULL, NULL, NULL, NULL,
					    NULL),
			 -1);
	assert_string_equal(dst, "");
	label[255] = '\0';
	assert_int_equal(sf_perfdata_append(dst, sizeof dst, label, "1", NULL, NULL, NULL, NULL,
					    NULL),
			 0);
	assert_int_equal(strlen(dst), 255 + 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_name),
		cmocka_unit_test(test_state_parse),
		cmocka_unit_test(test_state_worst),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_escape_zero_size),
		cmocka_unit_test(test_perfdata),
		cmocka_unit_test(test_perfdata_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

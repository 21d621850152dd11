/*
 * test_fingerprints.c - the middlebox table: the well-known Cisco rows and
 * their remedies, and the banner fingerprints of other vendors with the
 * near-misses that must not match. Every text is handed over in a heap
 * block of exactly its length, so a read past len shows under ASan or
 * valgrind.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sf_fingerprints.h"

/* A copy of s[0..len) with no terminator after it. */
static char *exact_copy(const char *s, size_t len)
{
	char *p = malloc(len ? len : 1);

	assert_non_null(p);
	memcpy(p, s, len);
	return p;
}

static const struct sf_box *match(const char *text, size_t len)
{
	char *p = exact_copy(text, len);
	const struct sf_box *b = sf_fingerprint_banner(p, len);

	free(p);
	return b;
}

/* --- banners --------------------------------------------------------- */

struct fp_case {
	const char *text; /* what follows "220 " */
	const char *id;   /* expected box id, NULL for no match */
};

static const struct fp_case fp_cases[] = {
	/* Check Point FireWall-1 security server, both wordings, any case */
	{"CheckPoint FireWall-1 secure ESMTP server", "checkpoint-fw1"},
	{"CheckPoint FireWall-1 secure SMTP server", "checkpoint-fw1"},
	{"checkpoint firewall-1 SECURE smtp SERVER", "checkpoint-fw1"},
	{"  CheckPoint\tFireWall-1 secure SMTP server  ", "checkpoint-fw1"},
	{"CheckPoint FireWall-1 secure LMTP server", NULL},
	{"CheckPoint FireWall-1 secure ESMTP", NULL},
	{"CheckPoint FireWall-1", NULL},
	{"checkpoint.example.com ESMTP Postfix", NULL},
	{"CheckPoint FireWall-10 secure SMTP server", NULL},
	{"XCheckPoint FireWall-1 secure SMTP server", NULL},
	/* SonicWALL Email Security */
	{"mail.example.com ESMTP SonicWALL (8.3.1.3417)", "sonicwall-es"},
	{"mail.example.com esmtp sonicwall (10.0.15.7431)", "sonicwall-es"},
	{"mail.example.com ESMTP SonicWALL", NULL},
	{"sonicwall.example.com ESMTP Postfix (Debian/GNU)", NULL},
	{"mail.example.com ESMTP SonicWALLs (8.3)", NULL},
	{"mail.example.com ESMTP SonicWALL (", NULL},
	/* Barracuda: ESMTP then 32 hex digits in parentheses */
	{"mx.example.com ESMTP (5e4f6c2b9a1d8e7f0c3b2a1d4e5f6a7b)", "barracuda"},
	{"mx.example.com ESMTP (5E4F6C2B9A1D8E7F0C3B2A1D4E5F6A7B)", "barracuda"},
	{"mx.example.com ESMTP (5e4f6c2b9a1d8e7f0c3b2a1d4e5f6a7)", NULL},   /* 31 */
	{"mx.example.com ESMTP (5e4f6c2b9a1d8e7f0c3b2a1d4e5f6a7bc)", NULL}, /* 33 */
	{"mx.example.com ESMTP (5e4f6c2b9a1d8e7f0c3b2a1d4e5f6a7g)", NULL},  /* not hex */
	{"mx.example.com ESMTP (5e4f6c2b9a1d8e7f0c3b2a1d4e5f6a7b)x", NULL},
	{"mx.example.com ESMTP x5e4f6c2b9a1d8e7f0c3b2a1d4e5f6a7b)", NULL},
	{"mx.example.com ESMTP 5e4f6c2b9a1d8e7f0c3b2a1d4e5f6a7b", NULL},
	{"mx.example.com SMTP (5e4f6c2b9a1d8e7f0c3b2a1d4e5f6a7b)", NULL},
	{"mx.example.com ESMTP (0123456789abcdef)", NULL},
	{"mail.example.com ESMTP Postfix (Debian/GNU)", NULL},
	/* F-Secure Internet Gatekeeper */
	{"mail.example.com F-Secure/fsigk_smtp/521/mail.example.com", "fsecure-igk"},
	{"mail.example.com f-secure/FSIGK_SMTP/4.03", "fsecure-igk"},
	{"mail.example.com F-Secure/fsigk_smtp", "fsecure-igk"},
	{"mail.example.com F-Secure/fsigk_smtpd/521", NULL},
	{"mail.example.com F-Secure/fsigk", NULL},
	{"mail.example.com ESMTP F-Secure-fan", NULL},
	{"mail.example.com xF-Secure/fsigk_smtp/521", NULL},
	/* WatchGuard: the whole text, nothing else */
	{"SMTP service ready", "watchguard-smtp-proxy"},
	{"smtp Service READY", "watchguard-smtp-proxy"},
	{" SMTP  service ready ", "watchguard-smtp-proxy"},
	{"mail.example.com SMTP service ready", NULL},
	{"SMTP service ready.", NULL},
	{"SMTP service ready now", NULL},
	{"SMTP service", NULL},
	/* stunnel 5 with protocol = smtp; the text after "220 " of stunnel4
	 * 5.68 (Debian 12) in front of the emulator's Postfix, verbatim */
	{"mail.example.org stunnel for ESMTP Postfix (Debian/GNU)", "stunnel"},
	{"mail.example.org STUNNEL FOR ESMTP", "stunnel"},
	{"stunnel.example.org ESMTP Postfix", NULL},
	{"mail.example.org stunnel forwards ESMTP", NULL},
	{"mail.example.org stunnel", NULL},
	/* older stunnel: " + stunnel" ends the text */
	{"mail.example.org ESMTP Postfix + stunnel", "stunnel-old"},
	{"mail.example.org ESMTP Postfix + stunnel now", NULL},
	{"mail.example.org ESMTP Postfix +stunnel", NULL},
	/* proxsmtpd and clamsmtpd 1.10 (Debian 12): "220 smtp.passthru" */
	{"smtp.passthru", "proxsmtpd"},
	{" SMTP.PASSTHRU ", "proxsmtpd"},
	{"smtp.passthru ESMTP", NULL},
	{"smtp.passthru.example.org", NULL},
	{"mx.smtp.passthru", NULL},
	/* nginx 1.22 (Debian 12), server_name mx.example.org: verbatim */
	{"mx.example.org ESMTP ready", "nginx-mail"},
	{"mail esmtp READY", "nginx-mail"},
	{"ESMTP ready", NULL},
	{"mx.example.org ESMTP ready now", NULL},
	{"mx.example.org ESMTP Haraka/3.0.3 ready", NULL},
	{"mx.example.org mail ESMTP ready", NULL},
	/* TIS FWTK smap (Nmap's service fingerprints), not PIX 4's cmap */
	{"gw.example.org SMTP/smap Ready.", "tis-smap"},
	{"gw.example.org smtp/SMAP ready", "tis-smap"},
	{"SMTP/cmap ready", NULL},
	{"gw.example.org SMTP/smap", NULL},
	{"gw.example.org SMTP/smaps Ready.", NULL},
	{"gw.example.org SMTP/smap Ready!", NULL},
	/* healthy servers */
	{"mail.example.com ESMTP Postfix", NULL},
	{"mx.example.org ESMTP Exim 4.96 Tue, 20 Feb 2024 10:20:00 +0000", NULL},
	{"EX01.corp.example.com Microsoft ESMTP MAIL Service ready at Tue, 20 Feb 2024"
	 " 10:20:02 +0100", NULL},
	{"mx.example.net ESMTP OpenSMTPD", NULL},
	{"", NULL},
	{"   ", NULL},
};

static void test_banner_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof fp_cases / sizeof fp_cases[0]; i++) {
		const struct fp_case *c = &fp_cases[i];
		const struct sf_box *b = match(c->text, strlen(c->text));
		const char *got = b ? b->id : "(none)";
		const char *want = c->id ? c->id : "(none)";

		if (strcmp(got, want) != 0)
			fail_msg("\"%s\": got %s, want %s", c->text, got, want);
	}
}

/* Joined greeting lines: CR LF count as blanks. */
static void test_banner_joined_lines(void **state)
{
	static const char joined[] = "mail.example.com ESMTP SonicWALL (8.3.1.3417)\r\nwelcome";
	const struct sf_box *b = match(joined, sizeof joined - 1);

	(void)state;
	assert_non_null(b);
	assert_string_equal(b->id, "sonicwall-es");
	b = match("SMTP service\r\nready", 19);
	assert_non_null(b);
	assert_string_equal(b->id, "watchguard-smtp-proxy");
}

/* Rows whose pattern ends before the text does, or whose last token still
 * matches cut short: F-Secure's path, SonicWALL's version, stunnel's
 * "stunnel for" in the middle, smap's "Ready." that is also "Ready". */
static int prefix_may_match(const char *id)
{
	static const char *const ids[] = {"fsecure-igk", "sonicwall-es", "stunnel", "tis-smap"};

	for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
		if (strcmp(id, ids[i]) == 0)
			return 1;
	return 0;
}

/* Cut every matching banner at every length: no read past len, and a cut
 * that drops part of the pattern does not match. */
static void test_banner_every_length(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof fp_cases / sizeof fp_cases[0]; i++) {
		const char *t = fp_cases[i].text;
		size_t len = strlen(t);

		for (size_t n = 0; n <= len; n++) {
			const struct sf_box *b = match(t, n);

			if (fp_cases[i].id == NULL)
				continue;
			/* every pattern ends in a token that cannot be cut short
			 * and still match, except the F-Secure path and the
			 * SonicWALL version after its first characters */
			if (b != NULL && !prefix_may_match(fp_cases[i].id) &&
			    strspn(t + n, " \t") != len - n)
				fail_msg("\"%s\" cut to %zu octets still matches %s", t, n, b->id);
		}
	}
}

static void test_banner_len_limits(void **state)
{
	(void)state;
	/* len stops the match even though the buffer goes on */
	assert_null(sf_fingerprint_banner("SMTP service ready", 17));
	assert_non_null(sf_fingerprint_banner("SMTP service ready", 18));
	assert_null(sf_fingerprint_banner("SMTP service ready", 0));
	assert_null(sf_fingerprint_banner(NULL, 10));
	/* a NUL inside the span is just another octet */
	assert_null(match("SMTP\0service ready", 18));
}

/* --- the table itself ------------------------------------------------ */

static void test_table_rows(void **state)
{
	size_t n = sf_fingerprint_count();

	(void)state;
	assert_int_equal(n, 10);
	assert_null(sf_fingerprint_at(n));
	assert_null(sf_fingerprint_at((size_t)-1));
	for (size_t i = 0; i < n; i++) {
		const struct sf_box *b = sf_fingerprint_at(i);

		assert_non_null(b);
		assert_true(b->id[0] != '\0');
		assert_true(b->name[0] != '\0');
		assert_non_null(b->remedy);
		/* the vendors' gateways first, then the proxies that show
		 * themselves, which are notes and never say "turn it off" */
		assert_int_equal(b->benign, i >= 5);
		if (b->benign && strstr(b->remedy, "nothing to do if it belongs there") == NULL)
			fail_msg("%s: a proxy's text must say it is no fault by itself", b->id);
	}
	for (int k = 0; k < SF_BOX__WELL_KNOWN; k++)
		assert_int_equal(sf_box_get((enum sf_box_id)k)->benign, 0);
}

/* A proxy's own EHLO keyword: whole, any case, never past len. */
static void test_keyword(void **state)
{
	static const struct {
		const char *kw;
		const char *id;
	} rows[] = {
		{"XFILTERED", "proxsmtpd"}, {"xfiltered", "proxsmtpd"}, {"XFILTERE", NULL},
		{"XFILTEREDX", NULL},       {"X-FILTERED", NULL},       {"", NULL},
		{"FILTERED", NULL},         {"XCLIENT", NULL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		size_t len = strlen(rows[i].kw);
		char *p = exact_copy(rows[i].kw, len);
		const struct sf_box *b = sf_fingerprint_keyword(p, len);
		const char *got = b ? b->id : "(none)";

		if (strcmp(got, rows[i].id ? rows[i].id : "(none)") != 0)
			fail_msg("\"%s\": got %s", rows[i].kw, got);
		free(p);
	}
	assert_null(sf_fingerprint_keyword("XFILTERED", 8)); /* len stops it */
	assert_null(sf_fingerprint_keyword(NULL, 9));
}

/* --- masks that break the greeting's syntax (doc/inspection-boxes.md 1.4) --- */

static const struct {
	const char *raw; /* what came while waiting for the greeting */
	int broken;
} broken_cases[] = {
	/* the separator after 220 masked, the text as pix6 masks it */
	{"220*****2*0**\r\n", 1},
	{"220********", 1},          /* unfinished: judged on what came */
	{"220*", 1},                 /* the shortest: the separator alone */
	{"220*\r\n", 1},
	{"220****\n", 1},            /* a bare LF ends a line too */
	{"220* * *\r\n", 1},
	/* a continuation line lost its code, at most 2 and 0 kept */
	{"220-****2*0**\r\n****\r\n", 1},
	{"220-****\r\n2*0*****\r\n", 1},
	{"220-****\r\n220*****\r\n", 1},
	{"220-****\r\n****", 1},
	/* tools/emu/README 1, pix6-whole-line's own example */
	{"220**********************2*0\r\n****\r\n*******2020\r\n", 1},
	/* near-misses: not SMTP, or not a mask */
	{"2200\r\n", 0},
	{"2200", 0},
	{"220 *** ACME ***\r\n", 0},
	{"220 ****\r\n", 0},            /* parses: sf_banner_masked's */
	{"220-2020\r\n220 2020\r\n", 0},
	{"HTTP/1.1 400 Bad Request\r\n", 0},
	{"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n", 0},
	{"220-mail.example.org ESMTP\r\n****\r\n", 0}, /* '*' after a clear line */
	{"****\r\n", 0},                /* the first line keeps 220 */
	{"2*0*****\r\n", 0},
	{"220*ACME\r\n", 0},
	{"220****2*0*x\r\n", 0},
	{"220-****\r\n\r\n", 0},       /* a mask keeps lengths: no empty line */
	{"220-****\r\n***\r\n", 0},     /* one short of a masked code and separator */
	{"220-****\r\n2*0-****\r\n", 0}, /* a masked code keeps no separator */
	{"220-****\r\nX\r\n", 0},
	{"220*\r***\r\n", 0},          /* a bare CR */
	{"22", 0},
	{"\x16\x03\x01\x02\x00\x01", 0},
	{"", 0},
};

static void test_greeting_mask_broken(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof broken_cases / sizeof broken_cases[0]; i++) {
		const char *raw = broken_cases[i].raw;
		size_t len = strlen(raw);
		char *p = exact_copy(raw, len);
		const struct sf_box *box = sf_fingerprint_at(0); /* must be reset */
		int got = sf_greeting_mask_broken(p, len, &box);

		if (got != broken_cases[i].broken)
			fail_msg("case %zu: broken %d, want %d", i, got, broken_cases[i].broken);
		if (got ? box != sf_box_get(SF_BOX_PIX_OLD) : box != NULL)
			fail_msg("case %zu: wrong box", i);
		assert_int_equal(sf_greeting_mask_broken(p, len, NULL), got);
		free(p);
	}
	/* a NUL inside is an octet like any other, and no mask */
	assert_int_equal(sf_greeting_mask_broken("220*\0**", 7, NULL), 0);
	assert_int_equal(sf_greeting_mask_broken(NULL, 4, NULL), 0);
	/* len stops it: "220" alone is no error, "220*" is */
	assert_int_equal(sf_greeting_mask_broken("220*", 3, NULL), 0);
	assert_int_equal(sf_greeting_mask_broken("220*", 4, NULL), 1);
}

/* Ids are unique across both tables: the plugin may key state on them. */
static void test_ids_unique(void **state)
{
	const char *ids[32];
	size_t n = 0;

	(void)state;
	for (int k = 0; k < SF_BOX__WELL_KNOWN; k++)
		ids[n++] = sf_box_get((enum sf_box_id)k)->id;
	for (size_t i = 0; i < sf_fingerprint_count(); i++)
		ids[n++] = sf_fingerprint_at(i)->id;
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			assert_string_not_equal(ids[i], ids[j]);
}

static void test_well_known(void **state)
{
	static const struct {
		enum sf_box_id id;
		const char *box_id;
		const char *must[4]; /* phrases the remedy must hold */
	} rows[] = {
		{SF_BOX_PIX_OLD, "cisco-pix-fixup",
		 {"no fixup protocol smtp 25", "smtp_pix_workarounds", "smtp_pix_workaround_maps", NULL}},
		{SF_BOX_PIX4, "cisco-pix4", {"no fixup protocol smtp 25", "smtp_pix_workarounds", NULL}},
		{SF_BOX_CISCO_ASA, "cisco-asa",
		 {"policy-map global_policy / class inspection_default / no inspect esmtp",
		  "policy-map type inspect esmtp", "allow-tls and no mask-banner", "FlexConfig"}},
		{SF_BOX_PIX_MAILGUARD, "cisco-pix-mailguard",
		 {"no fixup protocol smtp 25", "no inspect esmtp", "smtp_pix_workarounds", NULL}},
	};

	(void)state;
	assert_int_equal(sizeof rows / sizeof rows[0], SF_BOX__WELL_KNOWN);
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		const struct sf_box *b = sf_box_get(rows[i].id);

		assert_non_null(b);
		assert_string_equal(b->id, rows[i].box_id);
		assert_true(b->name[0] != '\0');
		for (size_t k = 0; k < 4 && rows[i].must[k] != NULL; k++)
			if (strstr(b->remedy, rows[i].must[k]) == NULL)
				fail_msg("%s: remedy lacks \"%s\"", b->id, rows[i].must[k]);
	}
	assert_null(sf_box_get(SF_BOX__WELL_KNOWN));
	assert_null(sf_box_get((enum sf_box_id)-1));
}

/* Patterns are looked for in the first 64 tokens of a line: the 64th
 * may start one, the 65th not; and a pattern anchored at the end never
 * matches a line of more tokens than that. */
static void test_banner_token_limit(void **state)
{
	char text[1024];
	size_t n;
	(void)state;

	for (size_t before = 60; before <= 66; before++) {
		n = 0;
		for (size_t i = 0; i < before; i++)
			n += (size_t)snprintf(text + n, sizeof text - n, "w%zu ", i);
		n += (size_t)snprintf(text + n, sizeof text - n, "ESMTP SonicWALL (8.3.1)");
		/* the pattern's three tokens all fit among the first 64 */
		if (before + 3 <= 64)
			assert_non_null(match(text, n));
		else
			assert_null(match(text, n));
	}
	n = 0;
	for (size_t i = 0; i < 70; i++)
		n += (size_t)snprintf(text + n, sizeof text - n, "w%zu ", i);
	n += (size_t)snprintf(text + n, sizeof text - n, "SMTP service ready");
	assert_null(match(text, n));
	assert_non_null(match("SMTP service ready", 18));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_banner_table),
		cmocka_unit_test(test_banner_joined_lines),
		cmocka_unit_test(test_banner_every_length),
		cmocka_unit_test(test_banner_len_limits),
		cmocka_unit_test(test_banner_token_limit),
		cmocka_unit_test(test_table_rows),
		cmocka_unit_test(test_keyword),
		cmocka_unit_test(test_greeting_mask_broken),
		cmocka_unit_test(test_ids_unique),
		cmocka_unit_test(test_well_known),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

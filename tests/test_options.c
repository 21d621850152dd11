/*
 * test_options.c - unit tests of the plugin's pure helpers: the option
 * value checks and the whole parse (plugins/options.c), and the baseline's
 * key, state line and its parser (plugins/baseline.c). Tables of {input,
 * expected}, with each limit and one past it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "baseline.h"
#include "options.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* A string literal where getopt wants char * (it permutes pointers, never
 * writes the strings). */
#define ARG(s) ((char *)(uintptr_t)(s))

/* libmonitoringplug's utils.o needs these two from its plugin. */
const char *progname = "test_options";
void print_usage(void);
void print_usage(void)
{
}

static void test_number(void **state)
{
	static const struct {
		const char *s;
		int ret;
		double want;
	} rows[] = {
		{"0", 0, 0}, {"5", 0, 5}, {"2.5", 0, 2.5}, {"-1", 0, -1}, {"1e2", 0, 100},
		{"", -1, 0}, {" 5", -1, 0}, {"5 ", -1, 0}, {"0x10", -1, 0}, {"inf", -1, 0},
		{"nan", -1, 0}, {"1e999", -1, 0}, {"5s", -1, 0}, {"--5", -1, 0}, {".", -1, 0},
	};
	(void)state;
	for (size_t i = 0; i < N(rows); i++) {
		double d = -42;
		int r = opt_number(rows[i].s, &d);
		assert_int_equal(r, rows[i].ret);
		if (r == 0)
			assert_true(d == rows[i].want);
	}
	assert_int_equal(opt_number(NULL, &(double){0}), -1);
}

static void test_port(void **state)
{
	static const struct {
		const char *s;
		int ret;
		long want;
	} rows[] = {
		{"1", 0, 1}, {"25", 0, 25}, {"65535", 0, 65535}, {"0", -1, 0}, {"65536", -1, 0},
		{"-1", -1, 0}, {"+25", -1, 0}, {" 25", -1, 0}, {"25x", -1, 0}, {"", -1, 0},
		{"99999999999999999999", -1, 0},
	};
	(void)state;
	for (size_t i = 0; i < N(rows); i++) {
		long v = -1;
		assert_int_equal(opt_port(rows[i].s, &v), rows[i].ret);
		if (rows[i].ret == 0)
			assert_int_equal(v, rows[i].want);
	}
}

static void test_range(void **state)
{
	static const struct {
		const char *s;
		int ret;
	} rows[] = {
		{"5", 0}, {"0", 0}, {"2:5", 0}, {"~:5", 0}, {"@1:2", 0}, {"5:", 0}, {"@5", 0},
		{"-1:5", 0}, {"5:5", 0},
		/* libmonitoringplug refuses these: start 0 above the end */
		{"-1", -1}, {"-0.5", -1}, {"@-1", -1},
		{"5:2", -1}, {"", -1}, {"@", -1}, {"a", -1}, {"1:b", -1}, {"~", -1},
		{"1:2:3", -1}, {"0x1", -1},
		/* 63 octets is the most a range may have */
		{"000000000000000000000000000000000000000000000000000000000000001", 0},
		{"0000000000000000000000000000000000000000000000000000000000000001", -1},
	};
	(void)state;
	for (size_t i = 0; i < N(rows); i++) {
		if (opt_range(rows[i].s) != rows[i].ret)
			fail_msg("range '%s': want %d", rows[i].s, rows[i].ret);
	}
	assert_int_equal(opt_range(NULL), -1);
}

static void test_host(void **state)
{
	static const struct {
		const char *s;
		int ret;
		const char *want;
	} rows[] = {
		{"mail.example.org", 0, "mail.example.org"}, {"192.0.2.25", 0, "192.0.2.25"},
		{"[2001:db8::1]", 0, "2001:db8::1"}, {"fe80::1%eth0", 0, "fe80::1%eth0"},
		{"mx_1.example", 0, "mx_1.example"},
		{"", -1, NULL}, {"[]", -1, NULL}, {"a b", -1, NULL}, {"a|b", -1, NULL},
		{"a\nb", -1, NULL}, {"h\xc3\xa9", -1, NULL}, {"a/b", -1, NULL},
	};
	char out[HOST_MAX + 1], long_ok[HOST_MAX + 1], long_bad[HOST_MAX + 2];
	(void)state;
	for (size_t i = 0; i < N(rows); i++) {
		assert_int_equal(opt_host(rows[i].s, out, sizeof out), rows[i].ret);
		if (rows[i].ret == 0)
			assert_string_equal(out, rows[i].want);
	}
	memset(long_ok, 'a', HOST_MAX);
	long_ok[HOST_MAX] = '\0';
	memset(long_bad, 'a', HOST_MAX + 1);
	long_bad[HOST_MAX + 1] = '\0';
	assert_int_equal(opt_host(long_ok, out, sizeof out), 0);
	assert_int_equal(opt_host(long_bad, out, sizeof out), -1);
}

static void test_fqdn(void **state)
{
	static const struct {
		const char *s;
		int ret;
	} rows[] = {
		{"mon.example.org", 0}, {"localhost", 0}, {"a", 0}, {"a-b.c", 0}, {"1.example", 0},
		{"[192.0.2.1]", 0}, {"[IPv6:2001:db8::1]", 0},
		{"-", -1}, {"--", -1}, {"[]", -1}, {"", -1}, {"-a.example", -1}, {"a-.example", -1},
		{"a..b", -1}, {".a", -1}, {"a.", -1}, {"a_b", -1}, {"a b", -1}, {"[1.2.3]", -1},
		{"[IPv6:zz]", -1}, {"[192.0.2.1", -1}, {"[2001:db8::1]", -1},
	};
	char label63[80], label64[80];
	(void)state;
	for (size_t i = 0; i < N(rows); i++)
		if (opt_fqdn(rows[i].s) != rows[i].ret)
			fail_msg("fqdn '%s': want %d", rows[i].s, rows[i].ret);
	memset(label63, 'a', 63);
	memcpy(label63 + 63, ".org", 5);
	memset(label64, 'a', 64);
	memcpy(label64 + 64, ".org", 5);
	assert_int_equal(opt_fqdn(label63), 0);
	assert_int_equal(opt_fqdn(label64), -1);
}

static void test_reference(void **state)
{
	static const struct {
		const char *s;
		int ret;
		const char *host, *port;
	} rows[] = {
		{"mx.example.org", 0, "mx.example.org", ""},
		{"mx.example.org:2525", 0, "mx.example.org", "2525"},
		{"[2001:db8::1]:25", 0, "2001:db8::1", "25"},
		{"[2001:db8::1]", 0, "2001:db8::1", ""},
		{"2001:db8::1", 0, "2001:db8::1", ""},
		{"mx:0", -2, NULL, NULL}, {"mx:65536", -2, NULL, NULL}, {"mx:", -2, NULL, NULL},
		{":25", -1, NULL, NULL}, {"[::1", -1, NULL, NULL}, {"[::1]x", -1, NULL, NULL},
		{"m x", -1, NULL, NULL},
	};
	char host[HOST_MAX + 1], port[6];
	(void)state;
	for (size_t i = 0; i < N(rows); i++) {
		int r = opt_reference(rows[i].s, host, port);
		if (r != rows[i].ret)
			fail_msg("reference '%s': %d, want %d", rows[i].s, r, rows[i].ret);
		if (r == 0) {
			assert_string_equal(host, rows[i].host);
			assert_string_equal(port, rows[i].port);
		}
	}
}

static void test_keywords(void **state)
{
	struct kwlist l;
	char many[SF_REQUIRE_MAX * 3 + 8];
	size_t n = 0;
	(void)state;

	memset(&l, 0, sizeof l);
	assert_int_equal(opt_keywords(&l, "STARTTLS,8BITMIME"), 0);
	assert_int_equal(opt_keywords(&l, "auth"), 0);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.word[0], "STARTTLS");
	assert_string_equal(l.word[2], "auth");
	static const char *const bad[] = {"", ",", "A,", ",A", "A,,B", "A B", "-A", "A|B"};
	for (size_t i = 0; i < N(bad); i++) {
		memset(&l, 0, sizeof l);
		if (opt_keywords(&l, bad[i]) != -1)
			fail_msg("keyword list '%s' accepted", bad[i]);
	}
	/* SF_REQUIRE_MAX names fit, one more does not */
	for (size_t i = 0; i < SF_REQUIRE_MAX; i++)
		n += (size_t)snprintf(many + n, sizeof many - n, "%sK%zu", i ? "," : "", i % 10);
	memset(&l, 0, sizeof l);
	assert_int_equal(opt_keywords(&l, many), 0);
	assert_int_equal(opt_keywords(&l, "ONE"), -1);
}

/* --probe-rcpt: a dot-string local part, '@', a domain as -F takes it. */
static void test_rcpt(void **state)
{
	static const struct {
		const char *s;
		int ret;
	} rows[] = {
		{"postmaster@example.org", 0}, {"Postmaster", 0}, {"postmaster", 0},
		{"a.b+c_d-e@mx.example.org", 0}, {"!#$%&'*+-/=?^_`{|}~@example.org", 0},
		{"postmaster@[192.0.2.1]", 0}, {"postmaster@[IPv6:2001:db8::1]", 0}, {"x@localhost", 0},
		{"", -1}, {"@example.org", -1}, {"postmaster@", -1}, {"abuse", -1},
		{".a@example.org", -1}, {"a.@example.org", -1}, {"a..b@example.org", -1},
		{"a b@example.org", -1}, {"\"a\"@example.org", -1}, {"a@b@example.org", -1},
		{"<a@example.org>", -1}, {"a@example.org>", -1}, {"a@exa mple.org", -1},
		{"a@-example.org", -1}, {"a@example..org", -1}, {"a@[192.0.2]", -1},
		{"a\r\n@example.org", -1}, {"a@example.org\r\nRCPT TO:<b@example.org>", -1},
		{"a,b@example.org", -1}, {"a@example_org", -1},
	};
	char local64[128], local65[128], long254[300], long255[300];
	(void)state;
	for (size_t i = 0; i < N(rows); i++)
		if (opt_rcpt(rows[i].s) != rows[i].ret)
			fail_msg("rcpt '%s': want %d", rows[i].s, rows[i].ret);
	/* the local part: 64 octets, one past */
	memset(local64, 'a', 64);
	memcpy(local64 + 64, "@example.org", 13);
	memset(local65, 'a', 65);
	memcpy(local65 + 65, "@example.org", 13);
	assert_int_equal(opt_rcpt(local64), 0);
	assert_int_equal(opt_rcpt(local65), -1);
	/* the whole address: 254 octets, one past */
	memcpy(long254, "a@", 2);
	for (size_t k = 2; k < 254; k += 2)
		memcpy(long254 + k, k + 2 < 254 ? "b." : "bb", 2);
	long254[254] = '\0';
	long254[253] = 'c';
	assert_int_equal(strlen(long254), 254);
	memcpy(long255, "aa", 2);
	memcpy(long255 + 2, long254 + 1, 254);
	assert_int_equal(strlen(long255), 255);
	assert_int_equal(opt_rcpt(long254), 0);
	assert_int_equal(opt_rcpt(long255), -1);
}

/* --probe's value: commands, data, or both. */
static void test_probe_value(void **state)
{
	static const struct {
		const char *s;
		int ret, bits;
	} rows[] = {
		{"commands", 0, PROBE_COMMANDS}, {"data", 0, PROBE_DATA},
		{"commands,data", 0, PROBE_COMMANDS | PROBE_DATA},
		{"data,commands", 0, PROBE_COMMANDS | PROBE_DATA}, {"data,data", 0, PROBE_DATA},
		{"", -1, 0}, {",", -1, 0}, {"data,", -1, 0}, {",data", -1, 0}, {"Data", -1, 0},
		{"dat", -1, 0}, {"datas", -1, 0}, {"data,x", -1, 0}, {"1", -1, 0}, {"data commands", -1, 0},
	};
	(void)state;
	for (size_t i = 0; i < N(rows); i++) {
		int bits = 0;

		if (opt_probe(rows[i].s, &bits) != rows[i].ret)
			fail_msg("probe '%s': want %d", rows[i].s, rows[i].ret);
		if (rows[i].ret == 0 && bits != rows[i].bits)
			fail_msg("probe '%s': bits %d, want %d", rows[i].s, bits, rows[i].bits);
	}
}

/* The witness's recipient when none is given. */
static void test_default_rcpt(void **state)
{
	static const struct {
		const char *argv[6];
		const char *rcpt;
		int probe;
	} rows[] = {
		{{"-H", "mx.example.org", "--probe=data"}, "postmaster@mx.example.org", PROBE_DATA},
		{{"-D", "example.org", "--probe=data"}, "postmaster@example.org", PROBE_DATA},
		{{"-H", "192.0.2.25", "-F", "mon.example.org", "--probe=data"}, "postmaster@example.org", PROBE_DATA},
		{{"-H", "::1", "-F", "example.org", "--probe=data"}, "postmaster@example.org", PROBE_DATA},
		{{"-H", "192.0.2.25", "-F", "[192.0.2.1]", "--probe=data"}, "postmaster", PROBE_DATA},
		{{"-H", "192.0.2.25", "-F", "localhost", "--probe=commands,data"}, "postmaster@localhost",
		 PROBE_COMMANDS | PROBE_DATA},
		{{"-H", "mx.example.org", "--probe=data", "--probe-rcpt=abuse@example.net"}, "abuse@example.net",
		 PROBE_DATA},
		{{"-H", "mx.example.org", "--probe"}, "", PROBE_COMMANDS},
		{{"-H", "mx.example.org", "--probe", "--probe=data"}, "postmaster@mx.example.org",
		 PROBE_COMMANDS | PROBE_DATA},
	};
	(void)state;
	for (size_t i = 0; i < N(rows); i++) {
		char *argv[8] = {ARG("check_smtp_fixup")};
		char err[OPT_ERR_MAX] = "";
		struct config cfg;
		int argc = 1;

		for (size_t k = 0; rows[i].argv[k] != NULL; k++)
			argv[argc++] = ARG(rows[i].argv[k]);
		if (options_parse(argc, argv, &cfg, err, sizeof err) != OPT_RUN)
			fail_msg("row %zu: %s", i, err);
		assert_string_equal(cfg.probe_rcpt, rows[i].rcpt);
		assert_int_equal(cfg.probe, rows[i].probe);
	}
}

/* The whole parse: {argv, action, a piece of the error}. */
static void test_parse(void **state)
{
	static const struct {
		const char *argv[8];
		enum opt_action want;
		const char *err; /* a part of the message, for OPT_ERROR */
	} rows[] = {
		{{"-H", "mx.example.org"}, OPT_RUN, NULL},
		{{"-D", "example.org"}, OPT_RUN, NULL},
		{{"-h"}, OPT_HELP, NULL},
		{{"-V"}, OPT_VERSION, NULL},
		{{NULL}, OPT_ERROR, "-H (or -D) is required"},
		{{"-H", "a", "-D", "b.example"}, OPT_ERROR, "exclude each other"},
		{{"-H", "a", "-S", "--tls"}, OPT_ERROR, "exclude each other"},
		{{"-D", "example.org", "--baseline"}, OPT_ERROR, "not with -D"},
		{{"-D", "example.org", "--reference=a"}, OPT_ERROR, "not with -D"},
		{{"-H", "a", "-w", "-1"}, OPT_ERROR, "warning (-w)"},
		{{"-H", "a", "-c", "-0.5"}, OPT_ERROR, "critical (-c)"},
		{{"-H", "a", "-F", "-"}, OPT_ERROR, "EHLO name"},
		{{"-H", "a", "-p"}, OPT_ERROR, "needs a value"},
		{{"-H", "a", "--verbose=1"}, OPT_ERROR, "unexpected value"},
		{{"-H", "a", "-x"}, OPT_ERROR, "unknown option '-x'"},
		{{"-H", "a", "extra"}, OPT_ERROR, "unexpected argument"},
		{{"-H", "a", "--banner-masked=loud"}, OPT_ERROR, "--banner-masked takes"},
		{{"-H", "a", "--reference-transport=ssl"}, OPT_ERROR, "plain, starttls or tls"},
		{{"-H", "a|b"}, OPT_ERROR, "a\\x7cb"},
		{{"-H", "a", "--probe=data"}, OPT_RUN, NULL},
		{{"-H", "a", "--probe=bogus"}, OPT_ERROR, "--probe takes commands, data"},
		{{"-H", "a", "--probe="}, OPT_ERROR, "--probe takes"},
		{{"-H", "a", "--probe", "data"}, OPT_ERROR, "unexpected argument"},
		{{"-H", "a", "--probe-rcpt=p@example.org"}, OPT_ERROR, "give that too"},
		{{"-H", "a", "--probe", "--probe-rcpt=p@example.org"}, OPT_ERROR, "give that too"},
		{{"-H", "a", "--probe=data", "--probe-rcpt=p q"}, OPT_ERROR, "--probe-rcpt must be"},
		{{"-H", "a", "--probe=data", "--tls"}, OPT_ERROR, "not with --tls"},
	};
	(void)state;
	for (size_t i = 0; i < N(rows); i++) {
		char *argv[10] = {ARG("check_smtp_fixup")};
		char err[OPT_ERR_MAX] = "";
		struct config cfg;
		int argc = 1;
		enum opt_action got;

		for (size_t k = 0; rows[i].argv[k] != NULL; k++)
			argv[argc++] = ARG(rows[i].argv[k]);
		got = options_parse(argc, argv, &cfg, err, sizeof err);
		if (got != rows[i].want)
			fail_msg("row %zu: action %d, want %d (%s)", i, got, rows[i].want, err);
		if (rows[i].err != NULL && strstr(err, rows[i].err) == NULL)
			fail_msg("row %zu: error '%s' lacks '%s'", i, err, rows[i].err);
	}
}

/* What the defaults and the derived values are after a parse. */
static void test_parse_values(void **state)
{
	char *argv[] = {ARG("p"), ARG("-H"), ARG("[::1]"), ARG("--tls"), ARG("--reference=ref.example"),
			ARG("--tls-ignore=AUTH"), ARG("--tls-ignore=SIZE"), ARG("--ehlo-noop=warning"), NULL};
	char err[OPT_ERR_MAX];
	struct config cfg;
	(void)state;

	assert_int_equal(options_parse(8, argv, &cfg, err, sizeof err), OPT_RUN);
	assert_string_equal(cfg.host, "::1");
	assert_string_equal(cfg.port, "465");     /* --tls without -p */
	assert_string_equal(cfg.ref_port, "465"); /* the reference takes -p's */
	assert_int_equal(cfg.ref_transport, TRANSPORT_PLAIN);
	assert_int_equal(cfg.tls_ignore.n, 2);    /* the first use replaces the default */
	assert_string_equal(cfg.tls_ignore.word[1], "SIZE");
	assert_int_equal(cfg.state_of[SF_FIND_EHLO_NOOP], SF_WARNING);
	assert_int_equal(cfg.state_of[SF_FIND_EXT_MASKED], SF_CRITICAL);
	assert_true(cfg.timeout == DEFAULT_TIMEOUT);
	assert_int_equal(cfg.family, AF_UNSPEC);
}

static void test_baseline_key(void **state)
{
	char buf[BASELINE_KEY_MAX + 1], small[20];
	(void)state;

	assert_int_equal(baseline_key("mx.example.org", "25", buf, sizeof buf), 0);
	assert_string_equal(buf, "baseline_mx_2Eexample_2Eorg_25");
	assert_int_equal(baseline_key("::1", "2525", buf, sizeof buf), 0);
	assert_string_equal(buf, "baseline__3A_3A1_2525");
	assert_int_equal(baseline_key("mx.example.org", "25", small, sizeof small), -1);
}

/* A state line written by baseline_format reads back as what was seen. */
static void test_baseline_roundtrip(void **state)
{
	static const char *const lines[] = {"250-mx.example.org", "250-PIPELINING",
					    "250-XXXXXXXA", "250-8bitmime", "250 SIZE 1000"};
	struct sf_reply g = {220, 1, NULL, 0}, e = {250, N(lines), NULL, 0};
	struct sf_reply_line gl = {(char *)(uintptr_t)"220 mx.example.org ESMTP |x", 27};
	struct sf_reply_line el[N(lines)];
	struct session_result r;
	struct baseline bl;
	char line[BASELINE_LINE_MAX + 1];
	(void)state;

	for (size_t i = 0; i < N(lines); i++)
		el[i] = (struct sf_reply_line){(char *)(uintptr_t)lines[i], strlen(lines[i])};
	g.lines = &gl;
	e.lines = el;
	memset(&r, 0, sizeof r);
	r.greeting = &g;
	r.ehlo = &e;
	assert_int_equal(sf_ehlo_parse(&e, &r.ehlo_list), 0);
	baseline_format(&r, line);
	assert_int_equal(baseline_parse(line, &bl), 0);
	assert_int_equal(bl.have, 1);
	assert_int_equal(bl.cut, 0);
	assert_string_equal(bl.banner, "220 mx.example.org ESMTP |x");
	assert_int_equal(bl.nkw, 3); /* the masked line is not a keyword */
	assert_string_equal(bl.kw[0], "PIPELINING");
	assert_string_equal(bl.kw[1], "8bitmime");
	assert_string_equal(bl.kw[2], "SIZE");
	sf_ehlo_free(r.ehlo_list);
}

static void test_baseline_parse_bad(void **state)
{
	static const char *const bad[] = {
		"", "X:41\tA", "W41\tA", "W:4\tA", "W:4G\tA", "W:0041\tA", "W:41", "W:4a\tA",
	};
	struct baseline bl;
	(void)state;

	for (size_t i = 0; i < N(bad); i++)
		if (baseline_parse(bad[i], &bl) != -1)
			fail_msg("state line %zu accepted", i);
	assert_int_equal(baseline_parse("C:41\t", &bl), 0);
	assert_int_equal(bl.cut, 1);
	assert_int_equal(bl.nkw, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_number),
		cmocka_unit_test(test_port),
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_host),
		cmocka_unit_test(test_fqdn),
		cmocka_unit_test(test_reference),
		cmocka_unit_test(test_keywords),
		cmocka_unit_test(test_rcpt),
		cmocka_unit_test(test_probe_value),
		cmocka_unit_test(test_default_rcpt),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_values),
		cmocka_unit_test(test_baseline_key),
		cmocka_unit_test(test_baseline_roundtrip),
		cmocka_unit_test(test_baseline_parse_bad),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_mx.c - unit tests of the DNS answer parser of -D (plugins/mx.c):
 * crafted answers, built here by a small encoder (RFC 1035 4.1), against
 * what mx_parse() must find. Names in rows are written either dotted
 * ("mx.example") or as raw wire octets (W("\003bad\000")) for what no zone
 * file can say.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mx.h"

/* Raw wire octets as (pointer, length). */
#define W(s) .wire = s, .wirelen = sizeof(s) - 1

/* One answer record. type 0 means MX; pref and name (dotted, "." for the
 * root) or wire (the octets after the preference, the name's labels and
 * its terminating 0, or any junk). */
struct rec {
	unsigned type;
	unsigned class; /* 0 means IN */
	unsigned pref;
	const char *name;
	const char *wire;
	size_t wirelen;
};

/* An answer under construction: at most MX_ANSWER_MAX + 16 octets. */
struct dns {
	unsigned char b[MX_ANSWER_MAX + 16];
	size_t len;
};

static void put8(struct dns *d, unsigned v)
{
	assert_true(d->len < sizeof d->b);
	d->b[d->len++] = (unsigned char)v;
}

static void put16(struct dns *d, unsigned v)
{
	put8(d, (v >> 8) & 0xff);
	put8(d, v & 0xff);
}

static void put_bytes(struct dns *d, const void *p, size_t n)
{
	assert_true(d->len + n <= sizeof d->b);
	memcpy(d->b + d->len, p, n);
	d->len += n;
}

/* A dotted name as labels (no compression). */
static void put_name(struct dns *d, const char *name)
{
	const char *p = name;

	if (strcmp(name, ".") != 0) {
		while (*p) {
			size_t n = strcspn(p, ".");
			assert_true(n > 0 && n < 64);
			put8(d, (unsigned)n);
			put_bytes(d, p, n);
			p += n;
			if (*p == '.')
				p++;
		}
	}
	put8(d, 0);
}

/* Header, the question "example. MX IN", then the records. flags holds
 * the second 16-bit word of the header (QR set by the caller). */
static void build(struct dns *d, unsigned flags, const struct rec *rr, size_t n)
{
	d->len = 0;
	put16(d, 0x1234);
	put16(d, flags);
	put16(d, 1); /* QDCOUNT */
	put16(d, (unsigned)n);
	put16(d, 0);
	put16(d, 0);
	put_name(d, "example");
	put16(d, 15);
	put16(d, 1);
	for (size_t i = 0; i < n; i++) {
		size_t rdlen_at;
		put16(d, 0xc00c); /* the owner: the question's name */
		put16(d, rr[i].type ? rr[i].type : 15);
		put16(d, rr[i].class ? rr[i].class : 1);
		put16(d, 0);
		put16(d, 300); /* TTL */
		rdlen_at = d->len;
		put16(d, 0);
		if (rr[i].type == 0 || rr[i].type == 15)
			put16(d, rr[i].pref);
		if (rr[i].wire != NULL)
			put_bytes(d, rr[i].wire, rr[i].wirelen);
		else
			put_name(d, rr[i].name);
		d->b[rdlen_at] = (unsigned char)((d->len - rdlen_at - 2) >> 8);
		d->b[rdlen_at + 1] = (unsigned char)((d->len - rdlen_at - 2) & 0xff);
	}
}

#define QR 0x8000U
#define TC 0x0200U
#define MAXREC 6

/* A label of 63 octets of c, as wire: length then octets. */
#define L63(c) "\077" c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c

static void test_parse_rows(void **state)
{
	static const struct {
		const char *what;
		unsigned flags;
		struct rec rr[MAXREC];
		size_t nrr;
		enum mx_status want;
		size_t n, unusable;
		const char *first;    /* host[0].name, or NULL */
		enum mx_flaw flaw;    /* bad[0].flaw when unusable > 0 */
		const char *badname;  /* bad[0].name when unusable > 0 */
	} rows[] = {
		{"one MX", QR, {{.pref = 10, .name = "mx.example"}}, 1, MX_FOUND, 1, 0,
		 "mx.example", 0, NULL},
		{"preference order", QR,
		 {{.pref = 30, .name = "c.example"}, {.pref = 10, .name = "a.example"},
		  {.pref = 20, .name = "b.example"}},
		 3, MX_FOUND, 3, 0, "a.example", 0, NULL},
		{"no answer record", QR, {{0}}, 0, MX_NONE, 0, 0, NULL, 0, NULL},
		{"a CNAME only", QR, {{.type = 5, .name = "other.example"}}, 1, MX_NONE, 0, 0, NULL,
		 0, NULL},
		{"an MX of class CH", QR, {{.class = 3, .pref = 10, .name = "mx.example"}}, 1,
		 MX_NONE, 0, 0, NULL, 0, NULL},
		{"null MX", QR, {{.pref = 0, .name = "."}}, 1, MX_NULL, 0, 0, NULL, 0, NULL},
		{"the root with preference 10", QR, {{.pref = 10, .name = "."}}, 1, MX_UNUSABLE, 0,
		 1, NULL, MX_FLAW_ROOT, "."},
		{"two roots", QR, {{.pref = 0, .name = "."}, {.pref = 0, .name = "."}}, 2,
		 MX_UNUSABLE, 0, 2, NULL, MX_FLAW_ROOT, "."},
		{"null MX beside a host", QR,
		 {{.pref = 0, .name = "."}, {.pref = 10, .name = "mx.example"}}, 2, MX_FOUND, 1, 1,
		 "mx.example", MX_FLAW_ROOT, "."},
		{"null MX beside an invalid name", QR,
		 {{.pref = 0, .name = "."}, {.pref = 10, W("\004bad!\007example\000")}}, 2,
		 MX_UNUSABLE, 0, 2, NULL, MX_FLAW_NAME, "bad!.example"},
		{"a blank in a label", QR, {{.pref = 10, W("\010bad name\007example\000")}}, 1,
		 MX_UNUSABLE, 0, 1, NULL, MX_FLAW_NAME, "bad\\032name.example"},
		{"a dot inside a label", QR, {{.pref = 10, W("\003a.b\007example\000")}}, 1,
		 MX_UNUSABLE, 0, 1, NULL, MX_FLAW_NAME, "a\\.b.example"},
		{"a control octet", QR, {{.pref = 10, W("\002a\001\007example\000")}}, 1,
		 MX_UNUSABLE, 0, 1, NULL, MX_FLAW_NAME, "a\\001.example"},
		{"a label starting with '-'", QR, {{.pref = 10, .name = "-mx.example"}}, 1,
		 MX_UNUSABLE, 0, 1, NULL, MX_FLAW_NAME, "-mx.example"},
		{"an invalid name beside a good one", QR,
		 {{.pref = 5, W("\001*\007example\000")}, {.pref = 10, .name = "mx.example"}}, 2,
		 MX_FOUND, 1, 1, "mx.example", MX_FLAW_NAME, "*.example"},
		{"a name of 253 octets", QR,
		 {{.pref = 10, W(L63("a") L63("b") L63("c") "\075"
				 "ddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
				 "\000")}},
		 1, MX_FOUND, 1, 0, NULL, 0, NULL},
		/* 3 x 63 binary octets print as \DDD: 4 x longer than MX_NAME_MAX */
		{"a name too long to print", QR,
		 {{.pref = 10, W(L63("\001") L63("\001") L63("\001") "\000")}}, 1, MX_UNUSABLE, 0,
		 1, NULL, MX_FLAW_LONG,
		 "\\001\\001\\001\\001\\001\\001\\001\\001\\001\\001\\001\\001\\001\\001\\001\\001"},
		/* 4 x 63 + 5 octets: over the 255 of RFC 1035 2.3.4 */
		{"a name over 255 octets", QR,
		 {{.pref = 10, W(L63("a") L63("b") L63("c") L63("d") "\000")}}, 1, MX_UNUSABLE, 0,
		 1, NULL, MX_FLAW_DATA, ""},
		{"data of 2 octets", QR, {{.pref = 10, W("")}}, 1, MX_UNUSABLE, 0, 1, NULL,
		 MX_FLAW_DATA, ""},
		{"junk after the name", QR, {{.pref = 10, W("\002mx\007example\000junk")}}, 1,
		 MX_UNUSABLE, 0, 1, NULL, MX_FLAW_DATA, ""},
		{"a pointer past the end", QR, {{.pref = 10, W("\002mx\377\377")}}, 1, MX_UNUSABLE,
		 0, 1, NULL, MX_FLAW_DATA, ""},
		{"a pointer to the question", QR, {{.pref = 10, W("\002mx\300\014")}}, 1, MX_FOUND,
		 1, 0, "mx.example", 0, NULL},
		{"an extended label type", QR, {{.pref = 10, W("\102mx\000")}}, 1, MX_UNUSABLE, 0,
		 1, NULL, MX_FLAW_DATA, ""},
		/* the data's name starts at octet 39 (12 + 13 of question + 12 + 2) */
		{"a pointer to itself", QR, {{.pref = 10, W("\300\047")}}, 1, MX_UNUSABLE, 0, 1,
		 NULL, MX_FLAW_DATA, ""},
		{"a pointer loop through a label", QR, {{.pref = 10, W("\002mx\300\047")}}, 1,
		 MX_UNUSABLE, 0, 1, NULL, MX_FLAW_DATA, ""},
		{"a pointer forward, past the data", QR, {{.pref = 10, W("\300\051")}}, 1,
		 MX_UNUSABLE, 0, 1, NULL, MX_FLAW_DATA, ""},
		{"truncated (TC)", QR | TC, {{.pref = 10, .name = "mx.example"}}, 1, MX_FAILED, 0,
		 0, NULL, 0, NULL},
		{"NXDOMAIN", QR | 3, {{0}}, 0, MX_NXDOMAIN, 0, 0, NULL, 0, NULL},
		{"SERVFAIL", QR | 2, {{0}}, 0, MX_FAILED, 0, 0, NULL, 0, NULL},
		{"REFUSED with records", QR | 5, {{.pref = 10, .name = "mx.example"}}, 1, MX_FAILED,
		 0, 0, NULL, 0, NULL},
	};
	(void)state;

	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct dns *d = malloc(sizeof *d);
		struct mx_list out;
		enum mx_status st;

		assert_non_null(d);
		build(d, rows[i].flags, rows[i].rr, rows[i].nrr);
		st = mx_parse(d->b, d->len, &out);
		if (st != rows[i].want || out.n != rows[i].n || out.unusable != rows[i].unusable)
			fail_msg("row %zu (%s): status %d n %zu unusable %zu, want %d %zu %zu", i,
				 rows[i].what, (int)st, out.n, out.unusable, (int)rows[i].want,
				 rows[i].n, rows[i].unusable);
		assert_int_equal(out.left, 0);
		if (rows[i].first != NULL)
			assert_string_equal(out.host[0].name, rows[i].first);
		if (rows[i].unusable > 0) {
			if (out.bad[0].flaw != rows[i].flaw)
				fail_msg("row %zu (%s): flaw %d, want %d", i, rows[i].what,
					 (int)out.bad[0].flaw, (int)rows[i].flaw);
			assert_string_equal(out.bad[0].name, rows[i].badname);
		}
		if (st == MX_FAILED)
			assert_true(out.error[0] != '\0');
		else
			assert_string_equal(out.error, "");
		/* records counts MX records of class IN only */
		free(d);
	}
}

/* Whole messages as wire octets, for what build() cannot make: a cut
 * header, counts that do not match the records, a record running past the
 * end, owner names that do not expand, the other sections. The parts:
 * HEAD(qd, an, ns, ar) a header with QR set and RCODE 0 (each count one
 * octet string), QUES the question "example. MX IN" (octets 12 to 24),
 * OWNER a pointer to it, MXFIX an MX record's TYPE, CLASS and TTL
 * (RDLENGTH follows), MXDATA preference 10 and "mx.example" (14 octets). */
#define HEAD(qd, an, ns, ar) "\022\064\200\000\000" qd "\000" an "\000" ns "\000" ar
#define QUES "\007example\000\000\017\000\001"
#define OWNER "\300\014"
#define MXFIX "\000\017\000\001\000\000\001\054"
#define MXDATA "\000\012\002mx\007example\000"
#define GOOD_RR OWNER MXFIX "\000\016" MXDATA
#define RAW(s) .raw = s, .rawlen = sizeof(s) - 1
/* A header cut to n octets. */
#define HEAD_CUT(n) .raw = HEAD("\000", "\000", "\000", "\000"), .rawlen = n

static void test_raw_rows(void **state)
{
	static const struct {
		const char *what;
		const char *raw;
		size_t rawlen;
		enum mx_status want;
		size_t n, unusable;
		enum mx_flaw flaw; /* bad[0].flaw when unusable > 0 */
	} rows[] = {
		{"the good answer", RAW(HEAD("\001", "\001", "\000", "\000") QUES GOOD_RR), MX_FOUND,
		 1, 0, 0},
		{"no octet", HEAD_CUT(0), MX_FAILED, 0, 0, 0},
		{"a header of 11 octets", HEAD_CUT(11), MX_FAILED, 0, 0, 0},
		{"a header of 12 octets, no records", HEAD_CUT(12), MX_NONE, 0, 0, 0},
		{"a header counting a question not there", RAW(HEAD("\001", "\000", "\000", "\000")),
		 MX_FAILED, 0, 0, 0},
		{"a question name past the end", RAW(HEAD("\001", "\000", "\000", "\000") "\007exam"),
		 MX_FAILED, 0, 0, 0},
		{"a question without QCLASS",
		 RAW(HEAD("\001", "\000", "\000", "\000") "\007example\000\000\017"), MX_FAILED, 0,
		 0, 0},
		{"an extended label type in the question",
		 RAW(HEAD("\001", "\000", "\000", "\000") "\102x\000\000\017\000\001"), MX_FAILED, 0,
		 0, 0},
		{"no question, the owner written out",
		 RAW(HEAD("\000", "\001", "\000", "\000") "\007example\000" MXFIX "\000\016" MXDATA),
		 MX_FOUND, 1, 0, 0},
		{"two answers counted, one there",
		 RAW(HEAD("\001", "\002", "\000", "\000") QUES GOOD_RR), MX_FAILED, 0, 0, 0},
		{"an answer cut in its TTL",
		 RAW(HEAD("\001", "\001", "\000", "\000") QUES OWNER "\000\017\000\001\000\000\001"),
		 MX_FAILED, 0, 0, 0},
		{"an answer without RDLENGTH", RAW(HEAD("\001", "\001", "\000", "\000") QUES OWNER MXFIX),
		 MX_FAILED, 0, 0, 0},
		{"an answer with one octet of RDLENGTH",
		 RAW(HEAD("\001", "\001", "\000", "\000") QUES OWNER MXFIX "\000"), MX_FAILED, 0, 0, 0},
		{"RDLENGTH one past the end",
		 RAW(HEAD("\001", "\001", "\000", "\000") QUES OWNER MXFIX "\000\017" MXDATA), MX_FAILED,
		 0, 0, 0},
		{"RDLENGTH far past the end",
		 RAW(HEAD("\001", "\001", "\000", "\000") QUES OWNER MXFIX "\377\377" MXDATA), MX_FAILED,
		 0, 0, 0},
		{"RDLENGTH one short",
		 RAW(HEAD("\001", "\001", "\000", "\000") QUES OWNER MXFIX "\000\015" MXDATA), MX_FAILED,
		 0, 0, 0},
		{"RDLENGTH 0 at the end",
		 RAW(HEAD("\001", "\001", "\000", "\000") QUES OWNER MXFIX "\000\000"), MX_UNUSABLE, 0,
		 1, MX_FLAW_DATA},
		{"one octet after the last record",
		 RAW(HEAD("\001", "\001", "\000", "\000") QUES GOOD_RR "\000"), MX_FAILED, 0, 0, 0},
		/* the owner is at octet 25 */
		{"an owner pointing to itself",
		 RAW(HEAD("\001", "\001", "\000", "\000") QUES "\300\031" MXFIX "\000\016" MXDATA),
		 MX_FAILED, 0, 0, 0},
		{"an owner in a loop through a label",
		 RAW(HEAD("\001", "\001", "\000", "\000") QUES "\001a\300\031" MXFIX "\000\016" MXDATA),
		 MX_FAILED, 0, 0, 0},
		{"an owner pointing past the end",
		 RAW(HEAD("\001", "\001", "\000", "\000") QUES "\300\377" MXFIX "\000\016" MXDATA),
		 MX_FAILED, 0, 0, 0},
		{"an owner cut at the end", RAW(HEAD("\001", "\001", "\000", "\000") QUES "\002m"),
		 MX_FAILED, 0, 0, 0},
		{"an authority record after the answer",
		 RAW(HEAD("\001", "\001", "\001", "\000") QUES GOOD_RR OWNER
		     "\000\002\000\001\000\000\001\054\000\002" OWNER),
		 MX_FOUND, 1, 0, 0},
		{"an additional record counted, not there",
		 RAW(HEAD("\001", "\001", "\000", "\001") QUES GOOD_RR), MX_FAILED, 0, 0, 0},
		{"an additional record's data past the end",
		 RAW(HEAD("\001", "\001", "\000", "\001") QUES GOOD_RR OWNER
		     "\000\001\000\001\000\000\001\054\000\004\177\000\000"),
		 MX_FAILED, 0, 0, 0},
		{"the good answer with TC",
		 RAW("\022\064\202\000\000\001\000\001\000\000\000\000" QUES GOOD_RR), MX_FAILED, 0, 0,
		 0},
		{"the good answer with RCODE 15",
		 RAW("\022\064\200\017\000\001\000\001\000\000\000\000" QUES GOOD_RR), MX_FAILED, 0, 0,
		 0},
	};
	(void)state;

	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		/* exactly rawlen octets: ASan and valgrind see over-reads */
		unsigned char *msg = malloc(rows[i].rawlen + (rows[i].rawlen == 0));
		struct mx_list out;
		enum mx_status st;

		assert_non_null(msg);
		memcpy(msg, rows[i].raw, rows[i].rawlen);
		st = mx_parse(msg, rows[i].rawlen, &out);
		if (st != rows[i].want || out.n != rows[i].n || out.unusable != rows[i].unusable)
			fail_msg("row %zu (%s): status %d n %zu unusable %zu, want %d %zu %zu", i,
				 rows[i].what, (int)st, out.n, out.unusable, (int)rows[i].want,
				 rows[i].n, rows[i].unusable);
		if (rows[i].n > 0)
			assert_string_equal(out.host[0].name, "mx.example");
		if (rows[i].unusable > 0 && out.bad[0].flaw != rows[i].flaw)
			fail_msg("row %zu (%s): flaw %d, want %d", i, rows[i].what,
				 (int)out.bad[0].flaw, (int)rows[i].flaw);
		if (st == MX_FAILED)
			assert_true(out.error[0] != '\0');
		else
			assert_string_equal(out.error, "");
		free(msg);
	}
}

/* The order of a sorted list: preferences never go down. */
static void assert_sorted(const struct mx_list *out, size_t count)
{
	for (size_t i = 1; i < count; i++)
		assert_true(out->host[i - 1].pref <= out->host[i].pref);
}

/* N MX hosts "hI.example" with preference pref0 + step * I (step may be
 * negative): which are taken, how many left and which named. */
static void test_over_the_cap(void **state)
{
	static const struct {
		size_t hosts;
		int pref0, step;
		size_t n, left;
		size_t first, first_left, last_named; /* record indexes */
	} rows[] = {
		{16, 10, 1, 16, 0, 0, 0, 0},
		{17, 10, 1, 16, 1, 0, 16, 16},
		{20, 10, 1, 16, 4, 0, 16, 19},
		{20, 100, -1, 16, 4, 19, 3, 0},
		{30, 10, 1, 16, 14, 0, 16, 19},
		{30, 100, -1, 16, 14, 29, 13, 10},
		/* equal preferences: the answer's order */
		{20, 10, 0, 16, 4, 0, 16, 19},
		/* 300 hosts with long names: far over 4 KB, read whole */
		{300, 1000, -3, 16, 284, 299, 283, 280},
	};
	(void)state;

	for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
		struct dns *d = malloc(sizeof *d);
		struct rec *rr = calloc(rows[r].hosts, sizeof *rr);
		char(*names)[80] = calloc(rows[r].hosts, sizeof *names);
		struct mx_list out;
		size_t named;

		assert_non_null(d);
		assert_non_null(rr);
		assert_non_null(names);
		for (size_t i = 0; i < rows[r].hosts; i++) {
			if (rows[r].hosts > 100)
				snprintf(names[i], sizeof names[i],
					 "h%zu.a-long-name-to-make-the-answer-bigger.example", i);
			else
				snprintf(names[i], sizeof names[i], "h%zu.example", i);
			rr[i].pref = (unsigned)(rows[r].pref0 + rows[r].step * (int)i);
			rr[i].name = names[i];
		}
		build(d, QR, rr, rows[r].hosts);
		if (rows[r].hosts > 100)
			assert_true(d->len > 4096);
		assert_int_equal(mx_parse(d->b, d->len, &out), MX_FOUND);
		assert_int_equal(out.n, rows[r].n);
		assert_int_equal(out.left, rows[r].left);
		assert_int_equal(out.records, rows[r].hosts);
		named = out.left < MX_LEFT_KEEP ? out.left : MX_LEFT_KEEP;
		assert_sorted(&out, out.n + named);
		assert_string_equal(out.host[0].name, names[rows[r].first]);
		if (out.left > 0) {
			assert_string_equal(out.host[out.n].name, names[rows[r].first_left]);
			assert_string_equal(out.host[out.n + named - 1].name,
					    names[rows[r].last_named]);
		}
		free(names);
		free(rr);
		free(d);
	}
}

/* A more preferred host found after the cap is full still gets in. */
static void test_late_preferred(void **state)
{
	struct dns *d = malloc(sizeof *d);
	struct rec rr[MX_HOSTS_MAX + 1];
	char names[MX_HOSTS_MAX + 1][16];
	struct mx_list out;
	(void)state;

	assert_non_null(d);
	memset(rr, 0, sizeof rr);
	for (size_t i = 0; i <= MX_HOSTS_MAX; i++) {
		snprintf(names[i], sizeof names[i], "h%zu.example", i);
		rr[i].pref = i == MX_HOSTS_MAX ? 5 : 20;
		rr[i].name = names[i];
	}
	build(d, QR, rr, MX_HOSTS_MAX + 1);
	assert_int_equal(mx_parse(d->b, d->len, &out), MX_FOUND);
	assert_int_equal(out.n, MX_HOSTS_MAX);
	assert_int_equal(out.left, 1);
	assert_string_equal(out.host[0].name, "h16.example");
	assert_int_equal(out.host[0].pref, 5);
	/* the last of the equal ones is the one left */
	assert_string_equal(out.host[MX_HOSTS_MAX].name, "h15.example");
	free(d);
}

/* Every prefix of a good answer fails cleanly (no read past len). */
static void test_every_prefix(void **state)
{
	static const struct rec rr[] = {
		{.pref = 0, .name = "."},
		{.pref = 10, .name = "mx1.example"},
		{.pref = 20, W("\002mx\300\014")},
	};
	struct dns *d = malloc(sizeof *d);
	struct mx_list out;
	(void)state;

	assert_non_null(d);
	build(d, QR, rr, 3);
	assert_int_equal(mx_parse(d->b, d->len, &out), MX_FOUND);
	assert_int_equal(out.n, 2);
	assert_int_equal(out.unusable, 1);
	for (size_t len = 0; len < d->len; len++) {
		unsigned char *copy = malloc(len + 1); /* exactly len: ASan sees over-reads */
		assert_non_null(copy);
		memcpy(copy, d->b, len);
		assert_int_equal(mx_parse(copy, len, &out), MX_FAILED);
		assert_true(out.error[0] != '\0');
		free(copy);
	}
	/* one past the limit of a DNS message */
	assert_int_equal(mx_parse(d->b, MX_ANSWER_MAX + 1, &out), MX_FAILED);
	free(d);
}

static void test_more_bad_than_kept(void **state)
{
	struct dns *d = malloc(sizeof *d);
	struct rec rr[MX_BAD_KEEP + 2];
	struct mx_list out;
	(void)state;

	assert_non_null(d);
	memset(rr, 0, sizeof rr);
	for (size_t i = 0; i < MX_BAD_KEEP + 2; i++) {
		rr[i].pref = (unsigned)i;
		rr[i].wire = "\004bad!\000";
		rr[i].wirelen = 6;
	}
	build(d, QR, rr, MX_BAD_KEEP + 2);
	assert_int_equal(mx_parse(d->b, d->len, &out), MX_UNUSABLE);
	assert_int_equal(out.unusable, MX_BAD_KEEP + 2);
	assert_int_equal(out.records, MX_BAD_KEEP + 2);
	assert_int_equal(out.bad[MX_BAD_KEEP - 1].pref, MX_BAD_KEEP - 1);
	assert_string_equal(out.bad[MX_BAD_KEEP - 1].name, "bad!");
	free(d);
}

static void test_name_valid(void **state)
{
	static const struct {
		const char *name;
		int want;
	} rows[] = {
		{"mx.example", 1},  {"a", 1},         {"_srv.example", 1}, {"mx-1.example", 1},
		{"", 0},            {".", 0},         {".mx", 0},          {"-mx", 0},
		{"mx..example", 0}, {"mx example", 0}, {"mx!", 0},         {"m\xc3\xa9", 0},
	};
	(void)state;

	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
		assert_int_equal(mx_name_valid(rows[i].name), rows[i].want);
}

static void test_flaw_text(void **state)
{
	(void)state;
	assert_string_equal(mx_flaw_text(MX_FLAW_ROOT), "the root");
	assert_string_equal(mx_flaw_text(MX_FLAW_NAME), "an invalid name");
	assert_string_equal(mx_flaw_text(MX_FLAW_LONG), "a name too long");
	assert_string_equal(mx_flaw_text(MX_FLAW_DATA), "unreadable data");
	assert_string_equal(mx_flaw_text((enum mx_flaw)0), "an unknown flaw");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_rows),    cmocka_unit_test(test_raw_rows),
		cmocka_unit_test(test_over_the_cap),
		cmocka_unit_test(test_late_preferred), cmocka_unit_test(test_every_prefix),
		cmocka_unit_test(test_more_bad_than_kept), cmocka_unit_test(test_name_valid),
		cmocka_unit_test(test_flaw_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

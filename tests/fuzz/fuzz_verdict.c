/*
 * fuzz_verdict.c - libFuzzer target for the verdict (lib/sf_verdict.c,
 * with sf_ehlo.c and sf_fingerprints.c under it) and for the escaping of
 * what the plugin prints (sf_escape in lib/sf_text.c).
 *
 * Input: up to four sections separated by NUL octets (a NUL can never be
 * part of a reply, so no reply is lost to the separator):
 *   greeting NUL ehlo-reply NUL helo-reply NUL required
 * Each reply section goes through the reply parser in one feed; its first
 * reply is used (none: NULL, as when the check stopped before). "required"
 * is a list of keywords separated by ',' or LF, as -R gives them (empty
 * ones and duplicates included on purpose; at most SF_REQUIRE_MAX).
 *
 * The verdict is made with and without the required list. Checks, from
 * sf_verdict.h and README: the counts (extensions = EHLO lines after the
 * first for a 2xx reply, masked_extensions = the lines sf_ehlo says are
 * masked, banner_masked = sf_banner_masked()), which kinds appear and when,
 * each kind at most once, the evidence counts and that every evidence line
 * is a line that was received, worst state first, the main box is one the
 * findings name. Then the replies are freed and every string of the verdict
 * is read again (the verdict must own copies), and each one is escaped
 * with sf_escape() into buffers of many sizes: always NUL-terminated, never
 * past the buffer, printable ASCII only, no '|'.
 */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "sf_common.h"
#include "sf_ehlo.h"
#include "sf_fingerprints.h"
#include "sf_reply.h"
#include "sf_text.h"
#include "sf_verdict.h"

#define NSECTIONS 4U
#define REQUIRED_CAP SF_REQUIRE_MAX

/* The replies and required keywords taken from one input. */
struct case_in {
	struct fuzz_replies sec[3]; /* greeting, ehlo, helo */
	char *req[REQUIRED_CAP];    /* owned */
	size_t nreq;
};

/* The first reply of a section, or NULL. */
static const struct sf_reply *first_reply(const struct fuzz_replies *f)
{
	return f->n > 0 ? f->r[0] : NULL;
}

static void split_input(const uint8_t *data, size_t size, struct case_in *c)
{
	size_t start = 0, sec = 0;

	memset(c, 0, sizeof *c);
	for (size_t i = 0; i <= size && sec < NSECTIONS - 1; i++) {
		if (i < size && data[i] != '\0')
			continue;
		fuzz_parse_whole(data + start, i - start, NULL, &c->sec[sec]);
		sec++;
		start = i + 1;
		if (i == size)
			return; /* no more sections */
	}
	if (sec < NSECTIONS - 1)
		return;
	/* required: the rest, split at ',' and LF; NUL octets split too */
	while (start <= size && c->nreq < REQUIRED_CAP) {
		size_t end = start;
		char *kw;

		while (end < size && data[end] != ',' && data[end] != '\n' && data[end] != '\0')
			end++;
		kw = malloc(end - start + 1);
		FUZZ_CHECK(kw != NULL);
		if (end > start)
			memcpy(kw, data + start, end - start);
		kw[end - start] = '\0';
		c->req[c->nreq++] = kw;
		start = end + 1;
	}
}

static void case_free(struct case_in *c)
{
	for (size_t i = 0; i < 3; i++)
		fuzz_replies_free(&c->sec[i]);
	for (size_t i = 0; i < c->nreq; i++)
		free(c->req[i]);
	c->nreq = 0;
}

/* ---- references --------------------------------------------------------- */

static int ref_caseeq(const char *a, const char *b)
{
	for (;; a++, b++) {
		char x = (*a >= 'A' && *a <= 'Z') ? (char)(*a + ('a' - 'A')) : *a;
		char y = (*b >= 'A' && *b <= 'Z') ? (char)(*b + ('a' - 'A')) : *b;

		if (x != y)
			return 0;
		if (x == '\0')
			return 1;
	}
}

/* Required keywords the verdict must name as missing: non-empty, first of
 * their spelling (any case), and not found in the EHLO list e (NULL: EHLO
 * failed, so none is offered). */
static size_t ref_missing(const char *const *req, size_t nreq, const struct sf_ehlo *e)
{
	size_t n = 0;

	for (size_t i = 0; i < nreq; i++) {
		int dup = 0;

		if (req[i][0] == '\0')
			continue;
		for (size_t j = 0; j < i && !dup; j++)
			dup = ref_caseeq(req[j], req[i]);
		if (!dup && (e == NULL || sf_ehlo_find(e, req[i]) == NULL))
			n++;
	}
	return n;
}

/* 1 if s is one of the lines of r. */
static int is_line_of(const char *s, const struct sf_reply *r)
{
	for (size_t i = 0; r != NULL && i < r->nlines; i++)
		if (strcmp(s, r->lines[i].raw) == 0)
			return 1;
	return 0;
}

/* ---- checks -------------------------------------------------------------- */

/* What each kind must look like, from what was received. */
struct expect {
	int banner;       /* BANNER_MASKED expected */
	int refused;      /* EHLO_REFUSED */
	int noop;         /* EHLO_NOOP */
	int list;         /* the EHLO reply was judged as a list (2xx, not NOOP) */
	int ext_masked;   /* EXT_MASKED */
	size_t masked_lines; /* its evidence: masked lines, EHLO greeting line included */
	unsigned extensions, masked_extensions;
	size_t missing;   /* required keywords missing (0: no EXT_MISSING) */
	int inconsistent; /* BINARYMIME without CHUNKING: EXT_INCONSISTENT at least */
	int fingerprint;  /* FINGERPRINT */
};

static void expectations(const struct sf_verdict_input *in, struct expect *x)
{
	const struct sf_reply *g = in->greeting, *r = in->ehlo;
	static const struct sf_box unset = {"", "", ""};
	const struct sf_box *box = &unset; /* sf_banner_masked() must set it */

	memset(x, 0, sizeof *x);
	x->banner = sf_banner_masked(g, &box);
	if (x->banner)
		FUZZ_CHECK(box != NULL && box != &unset);
	for (size_t i = 0; i < g->nlines && !x->fingerprint; i++) {
		size_t n;
		const char *t = sf_reply_text(g, i, &n);

		x->fingerprint = sf_fingerprint_banner(t, n) != NULL;
	}
	if (r == NULL)
		return;
	x->noop = sf_reply_is_noop_like(r);
	if (x->noop)
		FUZZ_CHECK(r->code == 250 && r->nlines == 1);
	x->refused = !x->noop && (r->code < 200 || r->code > 299);
	x->list = !x->noop && !x->refused;
	if (x->list) {
		struct sf_ehlo *e = NULL;

		FUZZ_CHECK(sf_ehlo_parse(r, &e) == 0 && e != NULL);
		x->extensions = (unsigned)e->next;
		x->masked_lines = sf_ehlo_masked_count(e);
		x->masked_extensions = (unsigned)(x->masked_lines - (e->greeting_masked != 0));
		x->ext_masked = x->masked_lines > 0;
		x->missing = ref_missing(in->required, in->nrequired, e);
		x->inconsistent = sf_ehlo_find(e, "BINARYMIME") != NULL &&
				  sf_ehlo_find(e, "CHUNKING") == NULL;
		sf_ehlo_free(e);
	} else {
		x->missing = ref_missing(in->required, in->nrequired, NULL);
	}
}

/* The finding of kind k, NULL if none; aborts if there are two. */
static const struct sf_finding *only(const struct sf_verdict *v, enum sf_kind k)
{
	const struct sf_finding *f = NULL;

	for (size_t i = 0; i < v->nfindings; i++) {
		if (v->findings[i].kind != k)
			continue;
		FUZZ_CHECK(f == NULL);
		f = &v->findings[i];
	}
	return f;
}

static void check_verdict(const struct sf_verdict_input *in, const struct sf_verdict *v)
{
	struct expect x;
	const struct sf_finding *f;
	size_t helo_lines = in->helo ? in->helo->nlines : 0;
	int box_named = 0;

	expectations(in, &x);
	FUZZ_CHECK(v->nfindings == 0 || v->findings != NULL);
	FUZZ_CHECK(v->banner_masked == x.banner);
	FUZZ_CHECK(v->extensions == x.extensions);
	FUZZ_CHECK(v->masked_extensions == x.masked_extensions);
	FUZZ_CHECK(v->masked_extensions <= v->extensions);

	for (size_t i = 0; i < v->nfindings; i++) {
		const struct sf_finding *fi = &v->findings[i];
		const struct sf_kind_info *ki = sf_kind_info(fi->kind);

		FUZZ_CHECK(ki != NULL);
		FUZZ_CHECK(fi->state == ki->default_state);
		FUZZ_CHECK(fi->summary != NULL && fi->summary[0] != '\0');
		FUZZ_CHECK(fi->nevidence == 0 || fi->evidence != NULL);
		for (size_t j = 0; j < fi->nevidence; j++)
			FUZZ_CHECK(fi->evidence[j] != NULL &&
				   (is_line_of(fi->evidence[j], in->greeting) ||
				    is_line_of(fi->evidence[j], in->ehlo) ||
				    is_line_of(fi->evidence[j], in->helo)));
		/* worst first */
		if (i > 0)
			FUZZ_CHECK(sf_state_rank(v->findings[i - 1].state) >=
				   sf_state_rank(fi->state));
		box_named |= fi->box != NULL && fi->box == v->box;
	}
	FUZZ_CHECK(v->box == NULL || box_named);
	if (v->box == NULL)
		for (size_t i = 0; i < v->nfindings; i++)
			FUZZ_CHECK(v->findings[i].box == NULL);

	f = only(v, SF_FIND_BANNER_MASKED);
	FUZZ_CHECK((f != NULL) == x.banner);
	if (f != NULL)
		FUZZ_CHECK(f->box != NULL && f->nevidence == in->greeting->nlines);

	f = only(v, SF_FIND_EHLO_NOOP);
	FUZZ_CHECK((f != NULL) == x.noop);
	if (f != NULL)
		FUZZ_CHECK(f->nevidence == in->ehlo->nlines + helo_lines);

	f = only(v, SF_FIND_EHLO_REFUSED);
	FUZZ_CHECK((f != NULL) == x.refused);
	if (f != NULL)
		FUZZ_CHECK(f->nevidence == in->ehlo->nlines + helo_lines);

	f = only(v, SF_FIND_EXT_MASKED);
	FUZZ_CHECK((f != NULL) == x.ext_masked);
	if (f != NULL)
		FUZZ_CHECK(f->nevidence == x.masked_lines && f->box != NULL);

	f = only(v, SF_FIND_EXT_MISSING);
	FUZZ_CHECK((f != NULL) == (x.missing > 0));
	if (f != NULL)
		FUZZ_CHECK(f->nevidence == in->ehlo->nlines);

	/* one finding per rule; only the RFC 3030 rule is known here */
	{
		size_t n = 0;

		for (size_t i = 0; i < v->nfindings; i++)
			n += v->findings[i].kind == SF_FIND_EXT_INCONSISTENT;
		FUZZ_CHECK(!x.inconsistent || n >= 1);
		FUZZ_CHECK(x.list || n == 0);
	}

	f = only(v, SF_FIND_FINGERPRINT);
	FUZZ_CHECK((f != NULL) == x.fingerprint);
	if (f != NULL)
		FUZZ_CHECK(f->box != NULL && f->nevidence == 1);
}

/* Findings of v other than EXT_MISSING, compared with w's. */
static void check_same_but_missing(const struct sf_verdict *v, const struct sf_verdict *w)
{
	size_t i = 0, j = 0;

	for (;;) {
		while (i < v->nfindings && v->findings[i].kind == SF_FIND_EXT_MISSING)
			i++;
		while (j < w->nfindings && w->findings[j].kind == SF_FIND_EXT_MISSING)
			j++;
		if (i == v->nfindings || j == w->nfindings)
			break;
		FUZZ_CHECK(v->findings[i].kind == w->findings[j].kind);
		FUZZ_CHECK(strcmp(v->findings[i].summary, w->findings[j].summary) == 0);
		FUZZ_CHECK(v->findings[i].nevidence == w->findings[j].nevidence);
		i++;
		j++;
	}
	FUZZ_CHECK(i == v->nfindings && j == w->nfindings);
	FUZZ_CHECK(v->extensions == w->extensions && v->masked_extensions == w->masked_extensions);
	FUZZ_CHECK(v->banner_masked == w->banner_masked);
}

/* sf_escape(s) into buffers of many sizes. */
static void check_escape(const char *s)
{
	static const size_t sizes[] = {1, 2, 3, 4, 5, 8, 17, 64, 600, 4096};
	size_t len = strlen(s);
	char *buf = malloc(4 * len + 8);

	FUZZ_CHECK(buf != NULL);
	FUZZ_CHECK(sf_escape(buf, 0, s, len) == 0);
	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
		size_t sz = sizes[k] < 4 * len + 8 ? sizes[k] : 4 * len + 8;
		char *dst = malloc(sz); /* exact size: ASan sees a write past it */
		size_t o;

		FUZZ_CHECK(dst != NULL);
		o = sf_escape(dst, sz, s, len);
		FUZZ_CHECK(o < sz && dst[o] == '\0' && strlen(dst) == o);
		for (size_t i = 0; i < o; i++)
			FUZZ_CHECK(dst[i] >= 0x20 && dst[i] <= 0x7e && dst[i] != '|');
		free(dst);
	}
	/* with room for everything: an escape of every octet, nothing cut */
	{
		size_t o = sf_escape(buf, 4 * len + 8, s, len), j = 0;

		for (size_t i = 0; i < len; i++) {
			unsigned char c = (unsigned char)s[i];

			if (c < 0x20 || c > 0x7e || c == '\\' || c == '|') {
				FUZZ_CHECK(j + 4 <= o && buf[j] == '\\' && buf[j + 1] == 'x');
				j += 4;
			} else {
				FUZZ_CHECK(j < o && buf[j] == (char)c);
				j++;
			}
		}
		FUZZ_CHECK(j == o);
	}
	free(buf);
}

/* Read every string of v (the replies are gone by now) and escape it. */
static void walk_verdict(const struct sf_verdict *v)
{
	for (size_t i = 0; i < v->nfindings; i++) {
		const struct sf_finding *f = &v->findings[i];

		check_escape(f->summary);
		for (size_t j = 0; j < f->nevidence; j++)
			check_escape(f->evidence[j]);
		if (f->box != NULL)
			FUZZ_CHECK(f->box->name != NULL && f->box->remedy != NULL);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sf_verdict sentinel;
	struct case_in c;
	struct sf_verdict_input in, bare;
	struct sf_verdict *v = &sentinel, *w = &sentinel;

	split_input(data, size, &c);
	in = (struct sf_verdict_input){.greeting = first_reply(&c.sec[0]),
				       .ehlo = first_reply(&c.sec[1]),
				       .helo = first_reply(&c.sec[2]),
				       .required = (const char *const *)c.req,
				       .nrequired = c.nreq};
	bare = in;
	bare.required = NULL;
	bare.nrequired = 0;

	if (in.greeting == NULL) {
		/* nothing to judge: refused, out untouched */
		FUZZ_CHECK(sf_verdict_make(&in, &v) == -1 && v == &sentinel);
		case_free(&c);
		return 0;
	}
	FUZZ_CHECK(sf_verdict_make(&in, &v) == 0 && v != NULL && v != &sentinel);
	FUZZ_CHECK(sf_verdict_make(&bare, &w) == 0 && w != NULL && w != &sentinel);
	check_verdict(&in, v);
	check_verdict(&bare, w);
	FUZZ_CHECK(only(w, SF_FIND_EXT_MISSING) == NULL);
	check_same_but_missing(v, w);

	case_free(&c); /* the verdicts must not point into the replies */
	walk_verdict(v);
	walk_verdict(w);
	sf_verdict_free(v);
	sf_verdict_free(w);
	sf_verdict_free(NULL);
	FUZZ_CHECK(sf_kind_info(SF_FIND__COUNT) == NULL);
	return 0;
}

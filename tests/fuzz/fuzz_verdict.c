/*
 * fuzz_verdict.c - libFuzzer target for the verdict (lib/sf_verdict.c,
 * with sf_ehlo.c and sf_fingerprints.c under it) and for the escaping of
 * what the plugin prints (sf_escape in lib/sf_text.c).
 *
 * Input: sections separated by NUL octets (a NUL can never be part of a
 * reply, so no reply is lost to the separator); missing sections are
 * absent inputs:
 *   0 greeting        3 required keywords   6 reply to EHLO inside TLS
 *   1 reply to EHLO   4 reply to STARTTLS   7 keywords that may differ in TLS
 *   2 reply to HELO   5 TLS error text      8.. one --probe each (at most 4)
 * A reply section goes through the reply parser in one feed and gives its
 * first reply (none: NULL, as when the check stopped before). Keyword
 * lists are split at ',' and LF (empty ones and duplicates on purpose).
 * Section 4 present means STARTTLS was tried; section 5 empty means the
 * handshake worked. A probe section is "[!][KEYWORD|]COMMAND" LF reply:
 * '!' marks a dropped connection, KEYWORD the extension it belongs to.
 *
 * The verdict is made with and without the required list. Checks, from
 * sf_verdict.h and README: the counts for perfdata; which kinds appear and
 * when (each at most once, but one per probe); the number of evidence
 * lines of each and that each is a line received, the TLS error or the
 * probe command; worst state first; the main box is one a finding names.
 * Then the replies are freed and every string of the verdict is read again
 * (the verdict owns copies), and escaped with sf_escape() into buffers of
 * many sizes: always NUL-terminated, never past the buffer, printable
 * ASCII only, no '|'.
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

#define NSECTIONS 12U  /* 8 fixed ones and up to 4 probes */
#define NPROBES 4U
#define LIST_CAP SF_REQUIRE_MAX
#define PROBE_EVIDENCE_MAX 80U /* octets of a probe command kept as evidence */

enum { S_GREETING, S_EHLO, S_HELO, S_REQUIRED, S_STARTTLS, S_TLS_ERROR, S_EHLO_TLS, S_IGNORE,
       S_PROBE0 };

/* A keyword list taken from the input; owns its strings. */
struct list {
	char *kw[LIST_CAP];
	size_t n;
};

/* Everything taken from one input; owns it all. */
struct case_in {
	struct fuzz_replies rep[NSECTIONS]; /* parsed reply sections */
	int present[NSECTIONS];
	struct list required, ignore;
	char *tls_error;
	char *sent[NPROBES];
	char *keyword[NPROBES];
	struct sf_probe probes[NPROBES];
	size_t nprobes;
};

/* A copy of s[0..n) as a C string (no NUL inside by construction). */
static char *dup_text(const uint8_t *s, size_t n)
{
	char *t;

	FUZZ_CHECK(n < SIZE_MAX);
	t = malloc(n + 1);
	FUZZ_CHECK(t != NULL);
	if (n > 0)
		memcpy(t, s, n);
	t[n] = '\0';
	return t;
}

static void split_list(const uint8_t *s, size_t n, struct list *l)
{
	size_t start = 0;

	for (size_t k = 0; k < LIST_CAP && start <= n; k++) {
		size_t end = start;

		while (end < n && s[end] != ',' && s[end] != '\n')
			end++;
		l->kw[k] = dup_text(s + start, end - start);
		l->n = k + 1;
		start = end + 1;
	}
}

static const struct sf_reply *first_reply(const struct case_in *c, size_t sec)
{
	return c->rep[sec].n > 0 ? c->rep[sec].r[0] : NULL;
}

/* One probe section: "[!][KEYWORD|]COMMAND" LF reply. */
static void take_probe(const uint8_t *s, size_t n, struct case_in *c, size_t sec)
{
	size_t k = c->nprobes++, i = 0, line;
	const uint8_t *bar;
	struct sf_probe *p = &c->probes[k];

	memset(p, 0, sizeof *p);
	if (n > 0 && s[0] == '!') {
		p->dropped = 1;
		i = 1;
	}
	line = i;
	while (line < n && s[line] != '\n')
		line++;
	bar = memchr(s + i, '|', line - i);
	if (bar != NULL) {
		c->keyword[k] = dup_text(s + i, (size_t)(bar - (s + i)));
		i = (size_t)(bar - s) + 1;
	}
	c->sent[k] = dup_text(s + i, line - i);
	if (line < n)
		fuzz_parse_whole(s + line + 1, n - line - 1, NULL, &c->rep[sec]);
	p->sent = c->sent[k];
	p->keyword = c->keyword[k];
	p->reply = first_reply(c, sec);
}

static void split_input(const uint8_t *data, size_t size, struct case_in *c)
{
	size_t start = 0, sec = 0;

	memset(c, 0, sizeof *c);
	for (size_t i = 0; i <= size && sec < NSECTIONS; i++) {
		const uint8_t *s = data + start;
		size_t n = i - start;

		if (i < size && data[i] != '\0')
			continue;
		c->present[sec] = 1;
		switch (sec) {
		case S_REQUIRED:
			split_list(s, n, &c->required);
			break;
		case S_IGNORE:
			split_list(s, n, &c->ignore);
			break;
		case S_TLS_ERROR:
			if (n > 0)
				c->tls_error = dup_text(s, n);
			break;
		default:
			if (sec >= S_PROBE0)
				take_probe(s, n, c, sec);
			else
				fuzz_parse_whole(s, n, NULL, &c->rep[sec]);
			break;
		}
		sec++;
		start = i + 1;
	}
}

static void case_free(struct case_in *c)
{
	for (size_t i = 0; i < NSECTIONS; i++)
		fuzz_replies_free(&c->rep[i]);
	for (size_t i = 0; i < c->required.n; i++)
		free(c->required.kw[i]);
	for (size_t i = 0; i < c->ignore.n; i++)
		free(c->ignore.kw[i]);
	for (size_t i = 0; i < NPROBES; i++) {
		free(c->sent[i]);
		free(c->keyword[i]);
	}
	free(c->tls_error);
	memset(c, 0, sizeof *c);
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

static int ref_in_list(const char *const *l, size_t n, const char *kw)
{
	for (size_t i = 0; i < n; i++)
		if (l[i] != NULL && ref_caseeq(l[i], kw))
			return 1;
	return 0;
}

/* An EHLO reply judged as a list: 250 (RFC 5321 4.1.1.1) and not a NOOP
 * answer. */
static int is_list(const struct sf_reply *r)
{
	return r != NULL && r->code == 250 && !sf_reply_is_noop_like(r);
}

static struct sf_ehlo *parse_list(const struct sf_reply *r)
{
	struct sf_ehlo *e = NULL;

	if (is_list(r))
		FUZZ_CHECK(sf_ehlo_parse(r, &e) == 0 && e != NULL);
	return e;
}

static size_t ext_masked(const struct sf_ehlo *e)
{
	size_t n = 0;

	for (size_t i = 0; e != NULL && i < e->next; i++)
		n += e->ext[i].masked != 0;
	return n;
}

static int reply_x_echo(const struct sf_reply *r)
{
	for (size_t i = 0; r != NULL && i < r->nlines; i++) {
		size_t n;
		const char *t = sf_reply_text(r, i, &n);

		if (sf_text_has_x_echo(t, n))
			return 1;
	}
	return 0;
}

/* Required keywords the verdict must name as missing: non-empty, first of
 * their spelling (any case), offered neither outside TLS (e) nor inside
 * (etls); a NULL list offers none. */
static size_t ref_missing(const struct sf_verdict_input *in, const struct sf_ehlo *e,
			  const struct sf_ehlo *etls)
{
	size_t n = 0;

	for (size_t i = 0; i < in->nrequired; i++) {
		const char *kw = in->required[i];

		if (kw[0] == '\0' || ref_in_list(in->required, i, kw))
			continue;
		if ((e == NULL || sf_ehlo_find(e, kw) == NULL) &&
		    (etls == NULL || sf_ehlo_find(etls, kw) == NULL))
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

/* 1 if s is a line received, the TLS error or the start of a probe command. */
static int is_evidence(const char *s, const struct sf_verdict_input *in)
{
	const struct sf_reply *r[] = {in->greeting, in->ehlo, in->helo, in->starttls, in->ehlo_tls};

	for (size_t i = 0; i < sizeof r / sizeof r[0]; i++)
		if (is_line_of(s, r[i]))
			return 1;
	if (in->tls_error != NULL && strcmp(s, in->tls_error) == 0)
		return 1;
	for (size_t i = 0; i < in->nprobes; i++) {
		const struct sf_probe *p = &in->probes[i];
		size_t n = strlen(s);

		if (is_line_of(s, p->reply) ||
		    (n <= PROBE_EVIDENCE_MAX && strncmp(s, p->sent, n) == 0 &&
		     (p->sent[n] == '\0' || n == PROBE_EVIDENCE_MAX)))
			return 1;
	}
	return 0;
}

/* ---- checks -------------------------------------------------------------- */

static void check_escaped_line(const char *line);

/* What the verdict must say, worked out from what was received. */
struct expect {
	int banner, fingerprint;       /* BANNER_MASKED, FINGERPRINT */
	int refused, noop, list;       /* how the EHLO reply was judged */
	size_t masked_lines;           /* EXT_MASKED evidence (EHLO greeting line included) */
	unsigned extensions, masked_extensions;
	size_t missing;                /* EXT_MISSING when > 0 */
	int inconsistent;              /* BINARYMIME without CHUNKING */
	int starttls_refused, starttls_missing, tls_failed;
	unsigned tls_extensions, stripped;
	int hidden_tls;                /* STARTTLS works but is not offered */
	size_t probes;                 /* PROBE findings */
};

static void expect_tls(const struct sf_verdict_input *in, const struct sf_ehlo *e,
		       const struct sf_ehlo *etls, struct expect *x)
{
	const struct sf_reply *r = in->starttls;

	if (!in->starttls_tried || r == NULL)
		return;
	if (r->code != 220) {
		int offered = e != NULL && sf_ehlo_find(e, "STARTTLS") != NULL;

		if (!offered && !reply_x_echo(r) && ext_masked(e) == 0)
			x->starttls_missing = 1;
		else
			x->starttls_refused = 1;
		return;
	}
	if (in->tls_error != NULL) {
		x->tls_failed = 1;
		return;
	}
	if (etls == NULL)
		return;
	x->tls_extensions = (unsigned)etls->next;
	/* keywords offered inside TLS only, STARTTLS when it works unoffered */
	x->hidden_tls = e != NULL && sf_ehlo_find(e, "STARTTLS") == NULL;
	x->stripped = (unsigned)x->hidden_tls;
	for (size_t i = 0; i < etls->next; i++) {
		const struct sf_ehlo_ext *t = &etls->ext[i];

		if (!t->masked && t->valid &&
		    !ref_in_list(in->tls_ignore, in->ntls_ignore, t->keyword) &&
		    (e == NULL || sf_ehlo_find(e, t->keyword) == NULL))
			x->stripped++;
	}
}

static void expect_probes(const struct sf_verdict_input *in, const struct sf_ehlo *e,
			  const struct sf_ehlo *etls, struct expect *x)
{
	for (size_t i = 0; i < in->nprobes; i++) {
		const struct sf_probe *p = &in->probes[i];
		int advertised = p->keyword != NULL &&
				 ((e != NULL && sf_ehlo_find(e, p->keyword) != NULL) ||
				  (etls != NULL && sf_ehlo_find(etls, p->keyword) != NULL));
		int unrecognised = p->reply != NULL && (p->reply->code == 500 || p->reply->code == 502);

		x->probes += p->dropped || reply_x_echo(p->reply) || (unrecognised && advertised);
	}
}

static void expectations(const struct sf_verdict_input *in, struct expect *x)
{
	static const struct sf_box unset = {"", "", "", 0};
	const struct sf_reply *g = in->greeting, *r = in->ehlo;
	const struct sf_box *box = &unset; /* sf_banner_masked() must set it */
	struct sf_ehlo *e, *etls;

	memset(x, 0, sizeof *x);
	x->banner = sf_banner_masked(g, &box);
	if (x->banner)
		FUZZ_CHECK(box != NULL && box != &unset);
	for (size_t i = 0; i < g->nlines && !x->fingerprint; i++) {
		size_t n;
		const char *t = sf_reply_text(g, i, &n);

		x->fingerprint = sf_fingerprint_banner(t, n) != NULL;
	}
	e = parse_list(r);
	etls = parse_list(in->ehlo_tls);
	if (r != NULL) {
		x->noop = sf_reply_is_noop_like(r);
		if (x->noop)
			FUZZ_CHECK(r->code == 250 && r->nlines == 1);
		x->refused = !x->noop && r->code != 250;
		x->list = e != NULL;
		FUZZ_CHECK(x->noop + x->refused + x->list == 1);
		x->missing = ref_missing(in, e, etls);
	}
	if (e != NULL) {
		x->extensions = (unsigned)e->next;
		x->masked_lines = sf_ehlo_masked_count(e);
		x->masked_extensions = (unsigned)ext_masked(e);
		FUZZ_CHECK(x->masked_lines == x->masked_extensions + (e->greeting_masked != 0));
		x->inconsistent = sf_ehlo_find(e, "BINARYMIME") != NULL &&
				  sf_ehlo_find(e, "CHUNKING") == NULL;
	}
	expect_tls(in, e, etls, x);
	expect_probes(in, e, etls, x);
	sf_ehlo_free(e);
	sf_ehlo_free(etls);
}

/* Number of findings of kind k. */
static size_t count(const struct sf_verdict *v, enum sf_kind k)
{
	size_t n = 0;

	for (size_t i = 0; i < v->nfindings; i++)
		n += v->findings[i].kind == k;
	return n;
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

static size_t nlines(const struct sf_reply *r)
{
	return r != NULL ? r->nlines : 0;
}

static void check_findings(const struct sf_verdict_input *in, const struct sf_verdict *v)
{
	int box_named = 0;

	FUZZ_CHECK(v->nfindings == 0 || v->findings != NULL);
	for (size_t i = 0; i < v->nfindings; i++) {
		const struct sf_finding *f = &v->findings[i];
		const struct sf_kind_info *ki = sf_kind_info(f->kind);

		FUZZ_CHECK(ki != NULL && ki->title != NULL);
		/* the user overrode nothing: every state is the default */
		FUZZ_CHECK(f->state == ki->default_state);
		/* what the conversation itself shows has no option, the rest has */
		FUZZ_CHECK((ki->option == NULL) ==
			   (f->kind == SF_FIND_GREETING_REFUSED || f->kind == SF_FIND_SERVER_CLOSED ||
			    f->kind == SF_FIND_EHLO_TLS_REFUSED || f->kind == SF_FIND_PROBE_REFUSED));
		FUZZ_CHECK(f->summary != NULL && f->summary[0] != '\0');
		FUZZ_CHECK(f->nevidence == 0 || f->evidence != NULL);
		for (size_t j = 0; j < f->nevidence; j++)
			FUZZ_CHECK(f->evidence[j] != NULL && is_evidence(f->evidence[j], in));
		if (i > 0) /* worst first */
			FUZZ_CHECK(sf_state_rank(v->findings[i - 1].state) >=
				   sf_state_rank(f->state));
		box_named |= f->box != NULL && f->box == v->box;
	}
	FUZZ_CHECK(v->box == NULL || box_named);
	if (v->box == NULL)
		for (size_t i = 0; i < v->nfindings; i++)
			FUZZ_CHECK(v->findings[i].box == NULL);
}

static void check_verdict(const struct sf_verdict_input *in, const struct sf_verdict *v)
{
	struct expect x;
	const struct sf_finding *f;
	size_t helo = nlines(in->helo);

	expectations(in, &x);
	check_findings(in, v);
	FUZZ_CHECK(v->banner_masked == x.banner);
	FUZZ_CHECK(v->extensions == x.extensions);
	FUZZ_CHECK(v->masked_extensions == x.masked_extensions);
	FUZZ_CHECK(v->masked_extensions <= v->extensions);
	FUZZ_CHECK(v->tls_extensions == x.tls_extensions);
	FUZZ_CHECK(v->stripped_extensions == x.stripped);

	f = only(v, SF_FIND_BANNER_MASKED);
	FUZZ_CHECK((f != NULL) == x.banner);
	if (f != NULL)
		FUZZ_CHECK(f->box != NULL && f->nevidence == in->greeting->nlines);

	f = only(v, SF_FIND_EHLO_NOOP);
	FUZZ_CHECK((f != NULL) == x.noop);
	if (f != NULL)
		FUZZ_CHECK(f->nevidence == in->ehlo->nlines + helo);

	f = only(v, SF_FIND_EHLO_REFUSED);
	FUZZ_CHECK((f != NULL) == x.refused);
	if (f != NULL)
		FUZZ_CHECK(f->nevidence == in->ehlo->nlines + helo);

	f = only(v, SF_FIND_EXT_MASKED);
	FUZZ_CHECK((f != NULL) == (x.masked_lines > 0));
	if (f != NULL)
		FUZZ_CHECK(f->nevidence == x.masked_lines && f->box != NULL);

	f = only(v, SF_FIND_EXT_MISSING);
	FUZZ_CHECK((f != NULL) == (x.missing > 0));
	if (f != NULL)
		FUZZ_CHECK(f->nevidence == in->ehlo->nlines);

	/* one finding per rule; only the RFC 3030 rule is known here */
	FUZZ_CHECK(!x.inconsistent || count(v, SF_FIND_EXT_INCONSISTENT) >= 1);
	FUZZ_CHECK(x.list || count(v, SF_FIND_EXT_INCONSISTENT) == 0);

	f = only(v, SF_FIND_FINGERPRINT);
	FUZZ_CHECK((f != NULL) == x.fingerprint);
	if (f != NULL)
		FUZZ_CHECK(f->box != NULL && f->nevidence == 1);

	f = only(v, SF_FIND_STARTTLS_REFUSED);
	FUZZ_CHECK((f != NULL) == x.starttls_refused);
	if (f != NULL)
		FUZZ_CHECK(f->nevidence == in->starttls->nlines);

	f = only(v, SF_FIND_STARTTLS_MISSING);
	FUZZ_CHECK((f != NULL) == x.starttls_missing);
	if (f != NULL)
		FUZZ_CHECK(f->nevidence == in->starttls->nlines && f->box == NULL);

	f = only(v, SF_FIND_TLS_FAILED);
	FUZZ_CHECK((f != NULL) == x.tls_failed);
	if (f != NULL)
		FUZZ_CHECK(f->nevidence == in->starttls->nlines + 1);

	f = only(v, SF_FIND_EXT_STRIPPED);
	FUZZ_CHECK((f != NULL) == (x.stripped > 0));
	if (f != NULL)
		FUZZ_CHECK(f->nevidence == (x.hidden_tls ? in->starttls->nlines : 0) + x.stripped -
						   (unsigned)x.hidden_tls);

	FUZZ_CHECK(count(v, SF_FIND_PROBE) == x.probes);
	/* the server's own "go away": a greeting other than 220, a 421 */
	FUZZ_CHECK((only(v, SF_FIND_GREETING_REFUSED) != NULL) == (in->greeting->code != 220));
	FUZZ_CHECK(count(v, SF_FIND_SESSION_FAILED) == 0 && count(v, SF_FIND_LOCAL) == 0);
	FUZZ_CHECK(v->state == (v->nfindings ? v->findings[0].state : SF_OK));
	FUZZ_CHECK(v->line != NULL && v->line[0] != '\0');
	check_escaped_line(v->line);
	for (size_t i = 0; i < v->nfindings; i++)
		FUZZ_CHECK(v->findings[i].kind < SF_FIND__COUNT);
}

/* The verdict's line goes into the status line as it is: printable ASCII
 * without '|'. */
static void check_escaped_line(const char *line)
{
	for (const char *p = line; *p; p++)
		FUZZ_CHECK(*p >= 0x20 && *p <= 0x7e && *p != '|');
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
	FUZZ_CHECK(v->tls_extensions == w->tls_extensions);
	FUZZ_CHECK(v->stripped_extensions == w->stripped_extensions);
}

/* sf_escape(s) into buffers of many sizes. */
static void check_escape(const char *s)
{
	static const size_t sizes[] = {1, 2, 3, 4, 5, 8, 17, 64, 600, 4096};
	size_t len = strlen(s), full = 4 * len + 8;
	char *buf = malloc(full);

	FUZZ_CHECK(buf != NULL);
	FUZZ_CHECK(sf_escape(buf, 0, s, len) == 0);
	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
		size_t sz = sizes[k] < full ? sizes[k] : full;
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
		size_t o = sf_escape(buf, full, s, len), j = 0;

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

/* Read every string of v (the inputs are gone by now) and escape it. */
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
	memset(&in, 0, sizeof in);
	in.greeting = first_reply(&c, S_GREETING);
	in.ehlo = first_reply(&c, S_EHLO);
	in.helo = first_reply(&c, S_HELO);
	in.required = (const char *const *)c.required.kw;
	in.nrequired = c.required.n;
	in.starttls_tried = c.present[S_STARTTLS];
	in.starttls = first_reply(&c, S_STARTTLS);
	in.tls_error = c.tls_error;
	in.ehlo_tls = first_reply(&c, S_EHLO_TLS);
	in.tls_ignore = (const char *const *)c.ignore.kw;
	in.ntls_ignore = c.ignore.n;
	in.probes = c.probes;
	in.nprobes = c.nprobes;
	bare = in;
	bare.required = NULL;
	bare.nrequired = 0;

	if (in.greeting == NULL) {
		/* no greeting (the session ended first): judged all the same,
		 * and with a conversation held to its end nothing is wrong */
		FUZZ_CHECK(sf_verdict_make(&in, &v) == 0 && v != NULL && v != &sentinel);
		FUZZ_CHECK(v->line != NULL);
		check_escaped_line(v->line);
		sf_verdict_free(v);
		case_free(&c);
		return 0;
	}
	FUZZ_CHECK(sf_verdict_make(&in, &v) == 0 && v != NULL && v != &sentinel);
	FUZZ_CHECK(sf_verdict_make(&bare, &w) == 0 && w != NULL && w != &sentinel);
	check_verdict(&in, v);
	check_verdict(&bare, w);
	FUZZ_CHECK(only(w, SF_FIND_EXT_MISSING) == NULL);
	check_same_but_missing(v, w);

	case_free(&c); /* the verdicts must not point into the inputs */
	walk_verdict(v);
	walk_verdict(w);
	sf_verdict_free(v);
	sf_verdict_free(w);
	sf_verdict_free(NULL);
	FUZZ_CHECK(sf_kind_info(SF_FIND__COUNT) == NULL);
	return 0;
}

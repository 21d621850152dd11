/*
 * sf_verdict.c - from the greeting, the EHLO reply and (when it was sent)
 * the HELO reply: the findings, each with its default state, a summary in
 * plain words, the lines that prove it and the box it points to.
 *
 * What it sees is one reply of each: a box that removes EHLO lines without
 * a trace (Zorp, F-Secure) shows only against a reference list, which is
 * not this module's job. What it must never do is flag a healthy server:
 * banners with a few asterisks or with dates, real X-extensions and
 * lower-case keywords are clean (DOMAIN.md 1, 2).
 *
 * Every string in a verdict is a copy owned by it; on out-of-memory the
 * half-made verdict is freed and -1 returned.
 */
#include "sf_verdict.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- kinds --------------------------------------------------------------- */

static const struct sf_kind_info kinds[SF_FIND__COUNT] = {
	[SF_FIND_BANNER_MASKED] = {"banner-masked", SF_WARNING, "greeting banner masked"},
	[SF_FIND_EXT_MASKED] = {"extensions-masked", SF_CRITICAL, "ESMTP extensions masked"},
	[SF_FIND_EHLO_REFUSED] = {"ehlo-refused", SF_CRITICAL, "EHLO refused"},
	[SF_FIND_EHLO_NOOP] = {"ehlo-noop", SF_CRITICAL, "EHLO answered like NOOP"},
	[SF_FIND_EXT_MISSING] = {"missing-extension", SF_CRITICAL, "required extension not offered"},
	[SF_FIND_EXT_INCONSISTENT] = {"inconsistent-extensions", SF_WARNING, "inconsistent extension list"},
	[SF_FIND_FINGERPRINT] = {"fingerprint", SF_OK, "SMTP proxy recognised by its banner"},
	[SF_FIND_EXT_STRIPPED] = {"extensions-stripped", SF_CRITICAL,
				  "extensions offered inside TLS but hidden outside"},
	[SF_FIND_STARTTLS_REFUSED] = {"starttls-refused", SF_CRITICAL,
				      "STARTTLS masked or refused on the way"},
	[SF_FIND_TLS_FAILED] = {"tls-failed", SF_CRITICAL, "TLS handshake after STARTTLS failed"},
	[SF_FIND_STARTTLS_MISSING] = {"starttls-missing", SF_WARNING, "STARTTLS not offered (-S)"},
	[SF_FIND_PROBE] = {"probe-rejected", SF_CRITICAL,
			   "probe command rewritten or punished on the way (--probe)"},
	[SF_FIND_REF_MISSING] = {"reference-missing", SF_CRITICAL,
				 "extensions offered on the reference path but missing or masked (--reference)"},
	[SF_FIND_REF_BANNER] = {"reference-banner", SF_WARNING,
				"greeting differs from the reference path's (--reference)"},
	[SF_FIND_BASELINE_CHANGED] = {"baseline-changed", SF_WARNING,
				      "extensions gone or greeting changed since the last clean run (--baseline)"},
};

const struct sf_kind_info *sf_kind_info(enum sf_kind k)
{
	if ((unsigned)k >= (unsigned)SF_FIND__COUNT)
		return NULL;
	return &kinds[k];
}

/* --- growing strings ----------------------------------------------------- */

/* A string built in pieces; after a failed allocation it stays failed and
 * empty, so callers check once at the end. */
struct sbuf {
	char *p;
	size_t len;
	size_t cap;
	int failed;
};

static void sb_putn(struct sbuf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		char *np;

		while (cap < b->len + n + 1)
			cap *= 2;
		np = realloc(b->p, cap);
		if (np == NULL) {
			free(b->p);
			*b = (struct sbuf){.failed = 1};
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_puts(struct sbuf *b, const char *s)
{
	sb_putn(b, s, strlen(s));
}

static void sb_putz(struct sbuf *b, size_t n)
{
	char num[24];
	int w = snprintf(num, sizeof num, "%zu", n);

	if (w > 0 && (size_t)w < sizeof num)
		sb_putn(b, num, (size_t)w);
}

/* Hand the string over: the caller owns it. NULL if an allocation failed. */
static char *sb_take(struct sbuf *b)
{
	char *s = b->failed ? NULL : b->p;

	*b = (struct sbuf){0};
	return s;
}

/* --- findings ------------------------------------------------------------ */

/* Append a finding of kind k, taking the summary in b (freed on failure).
 * The pointer is valid until the next finding_add. NULL if out of memory. */
static struct sf_finding *finding_add(struct sf_verdict *v, enum sf_kind k,
				      const struct sf_box *box, struct sbuf *b)
{
	char *summary = sb_take(b);
	struct sf_finding *nf;

	if (summary == NULL)
		return NULL;
	nf = realloc(v->findings, (v->nfindings + 1) * sizeof *nf);
	if (nf == NULL) {
		free(summary);
		return NULL;
	}
	v->findings = nf;
	nf += v->nfindings++;
	*nf = (struct sf_finding){.kind = k, .state = kinds[k].default_state,
				  .summary = summary, .box = box};
	return nf;
}

/* Add s[0..n) as one more line of evidence. 0, or -1 if out of memory. */
static int evidence_add(struct sf_finding *f, const char *s, size_t n)
{
	char **ne = realloc(f->evidence, (f->nevidence + 1) * sizeof *ne);
	char *copy;

	if (ne == NULL)
		return -1;
	f->evidence = ne;
	copy = malloc(n + 1);
	if (copy == NULL)
		return -1;
	memcpy(copy, s, n);
	copy[n] = '\0';
	f->evidence[f->nevidence++] = copy;
	return 0;
}

static int evidence_line(struct sf_finding *f, const struct sf_reply *r, size_t i)
{
	return evidence_add(f, r->lines[i].raw, r->lines[i].len);
}

static int evidence_reply(struct sf_finding *f, const struct sf_reply *r)
{
	for (size_t i = 0; r != NULL && i < r->nlines; i++)
		if (evidence_line(f, r, i) < 0)
			return -1;
	return 0;
}

/* Worst state first; equal states keep their order (insertion sort: the
 * list is a handful long). */
static void findings_sort(struct sf_verdict *v)
{
	for (size_t i = 1; i < v->nfindings; i++) {
		struct sf_finding f = v->findings[i];
		size_t j = i;

		while (j > 0 && sf_state_rank(v->findings[j - 1].state) < sf_state_rank(f.state)) {
			v->findings[j] = v->findings[j - 1];
			j--;
		}
		v->findings[j] = f;
	}
}

/* The box named by most findings; on a tie the one named first (the worst). */
static const struct sf_box *main_box(const struct sf_verdict *v)
{
	const struct sf_box *best = NULL;
	size_t best_n = 0;

	for (size_t i = 0; i < v->nfindings; i++) {
		const struct sf_box *b = v->findings[i].box;
		size_t n = 0;

		if (b == NULL || b == best)
			continue;
		for (size_t j = i; j < v->nfindings; j++)
			n += v->findings[j].box == b;
		if (n > best_n) {
			best = b;
			best_n = n;
		}
	}
	return best;
}

void sf_verdict_free(struct sf_verdict *v)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < v->nfindings; i++) {
		struct sf_finding *f = &v->findings[i];

		for (size_t j = 0; j < f->nevidence; j++)
			free(f->evidence[j]);
		free(f->evidence);
		free(f->summary);
	}
	free(v->findings);
	free(v);
}

/* --- the banner (DOMAIN.md 1) --------------------------------------------- */

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static unsigned char ascii_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

/* 1 if s[0..n) equals the lower-case word w, ASCII case ignored. */
static int ci_word(const char *s, size_t n, const char *w)
{
	size_t i;

	for (i = 0; i < n && w[i] != '\0'; i++)
		if (ascii_lower((unsigned char)s[i]) != (unsigned char)w[i])
			return 0;
	return i == n && w[i] == '\0';
}

/* 1 if the strings are equal, ASCII case ignored. */
static int ci_equal(const char *a, const char *b)
{
	for (; *a != '\0' && *b != '\0'; a++, b++)
		if (ascii_lower((unsigned char)*a) != ascii_lower((unsigned char)*b))
			return 0;
	return *a == *b;
}

/* Skip blanks from i; return the new index. */
static size_t skip_blanks(const char *s, size_t len, size_t i)
{
	while (i < len && is_blank(s[i]))
		i++;
	return i;
}

/* End of the token that starts at i. */
static size_t token_end(const char *s, size_t len, size_t i)
{
	while (i < len && !is_blank(s[i]))
		i++;
	return i;
}

/* PIX 4.x: "SMTP/cmap ready", possibly padded with underscores. */
static int is_cmap_text(const char *s, size_t len)
{
	static const char prefix[] = "smtp/cmap";
	size_t i = skip_blanks(s, len, 0);

	/* Seen as "SMTP/cmap ready" padded with '_' (DOMAIN.md 1) and as
	 * "SMTP/cmap____..._ read" (the padding cut into "ready"): after the
	 * prefix, only '_', blanks and the letters of "ready". */
	if (len - i < sizeof prefix - 1 || !ci_word(s + i, sizeof prefix - 1, prefix))
		return 0;
	i += sizeof prefix - 1;
	if (i < len && s[i] != '_' && !is_blank(s[i]))
		return 0; /* "SMTP/cmapready" is some other text */
	for (; i < len; i++) {
		unsigned char c = ascii_lower((unsigned char)s[i]);
		if (c != '_' && !is_blank(s[i]) && (c == '\0' || strchr("ready", c) == NULL))
			return 0;
	}
	return 1;
}

int sf_banner_masked(const struct sf_reply *greeting, const struct sf_box **box)
{
	size_t stars = 0, kept = 0;
	int masked = 1;

	if (box != NULL)
		*box = NULL;
	if (greeting == NULL)
		return 0;
	for (size_t i = 0; i < greeting->nlines; i++) {
		size_t n;
		const char *t = sf_reply_text(greeting, i, &n);

		if (is_cmap_text(t, n)) {
			if (box != NULL)
				*box = sf_box_get(SF_BOX_PIX4);
			return 1;
		}
		for (size_t k = 0; k < n; k++) {
			if (t[k] == '*')
				stars++;
			else if (t[k] == '2' || t[k] == '0')
				kept++;
			else if (!is_blank(t[k]))
				masked = 0;
		}
	}
	if (!masked || stars == 0)
		return 0;
	if (box != NULL)
		*box = sf_box_get(kept ? SF_BOX_PIX_OLD : SF_BOX_CISCO_ASA);
	return 1;
}

static int judge_banner(const struct sf_reply *g, struct sf_verdict *v)
{
	const struct sf_box *box;
	struct sbuf b = {0};
	struct sf_finding *f;

	if (!sf_banner_masked(g, &box))
		return 0;
	v->banner_masked = 1;
	if (box == sf_box_get(SF_BOX_PIX4))
		sb_puts(&b, "greeting banner replaced by \"SMTP/cmap ready\"");
	else
		sb_puts(&b, "greeting banner masked; Postfix senders then fall back to"
			    " HELO (no STARTTLS, no 8BITMIME, no SIZE)");
	f = finding_add(v, SF_FIND_BANNER_MASKED, box, &b);
	return f == NULL ? -1 : evidence_reply(f, g);
}

/* First greeting line another vendor's proxy is recognised in. */
static int judge_fingerprint(const struct sf_reply *g, struct sf_verdict *v)
{
	for (size_t i = 0; i < g->nlines; i++) {
		size_t n;
		const char *t = sf_reply_text(g, i, &n);
		const struct sf_box *box = sf_fingerprint_banner(t, n);
		struct sbuf b = {0};
		struct sf_finding *f;

		if (box == NULL)
			continue;
		sb_puts(&b, "greeting matches ");
		sb_puts(&b, box->name);
		f = finding_add(v, SF_FIND_FINGERPRINT, box, &b);
		return f == NULL ? -1 : evidence_line(f, g, i);
	}
	return 0;
}

/* --- EHLO refused or NOOP-ed (DOMAIN.md 2) ---------------------------------- */

static int is_alnum(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

int sf_text_has_x_echo(const char *text, size_t len)
{
	size_t i = 0;

	if (text == NULL)
		return 0;
	while ((i = skip_blanks(text, len, i)) < len) {
		size_t e = token_end(text, len, i);
		size_t a = i, z = e, k;

		/* quotes and punctuation around the X's are allowed */
		while (a < z && !is_alnum(text[a]))
			a++;
		while (z > a && !is_alnum(text[z - 1]))
			z--;
		for (k = a; k < z && text[k] == 'X'; k++)
			;
		if (k == z && z - a >= 4)
			return 1;
		i = e;
	}
	return 0;
}

/* 1 if s[0..n) is an RFC 3463 enhanced status code: class "2", "4" or "5",
 * then 1-3 digits, '.', 1-3 digits. */
static int is_status_code(const char *s, size_t n)
{
	size_t i = 1;

	if (n < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
		return 0;
	for (int part = 0; part < 2; part++) {
		size_t start = ++i; /* past the '.' */

		while (i < n && i - start < 3 && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == start)
			return 0;
		if (part == 0 && (i >= n || s[i] != '.'))
			return 0;
	}
	return i == n;
}

int sf_reply_is_noop_like(const struct sf_reply *r)
{
	size_t n, a, e;
	const char *t;

	if (r == NULL || r->code != 250 || r->nlines != 1)
		return 0;
	t = sf_reply_text(r, 0, &n);
	a = skip_blanks(t, n, 0);
	if (a == n) /* a bare "250": no domain either */
		return 1;
	e = token_end(t, n, a);
	return is_status_code(t + a, e - a) || ci_word(t + a, e - a, "ok");
}

/* What the HELO fallback showed, appended to a summary. */
static void helo_note(struct sbuf *b, const struct sf_reply *helo)
{
	if (helo == NULL)
		return;
	if (helo->code >= 200 && helo->code < 300) {
		sb_puts(b, "; HELO works, so plain SMTP only (no ESMTP, no STARTTLS)");
	} else {
		sb_puts(b, "; HELO refused too (server answered ");
		sb_putz(b, (size_t)helo->code);
		sb_puts(b, ")");
	}
}

/* EHLO got anything but 2xx. Sets *box to the box it points to. */
static int judge_refused(const struct sf_verdict_input *in, struct sf_verdict *v,
			 const struct sf_box **box)
{
	const struct sf_reply *r = in->ehlo;
	struct sbuf b = {0};
	struct sf_finding *f;
	int echo = 0;

	for (size_t i = 0; i < r->nlines && !echo; i++) {
		size_t n;
		const char *t = sf_reply_text(r, i, &n);

		echo = sf_text_has_x_echo(t, n);
	}
	*box = echo ? sf_box_get(SF_BOX_PIX_MAILGUARD) : NULL;
	sb_puts(&b, echo ? "EHLO refused: a firewall replaced it with X's (server answered "
			 : "EHLO refused (server answered ");
	sb_putz(&b, (size_t)r->code);
	sb_puts(&b, ")");
	helo_note(&b, in->helo);
	f = finding_add(v, SF_FIND_EHLO_REFUSED, *box, &b);
	if (f == NULL || evidence_reply(f, r) < 0)
		return -1;
	return evidence_reply(f, in->helo);
}

static int judge_noop(const struct sf_verdict_input *in, struct sf_verdict *v,
		      const struct sf_box **box)
{
	struct sbuf b = {0};
	struct sf_finding *f;

	*box = sf_box_get(SF_BOX_PIX_MAILGUARD);
	sb_puts(&b, "EHLO answered like NOOP: a firewall turned it into NOOP, no ESMTP");
	helo_note(&b, in->helo);
	f = finding_add(v, SF_FIND_EHLO_NOOP, *box, &b);
	if (f == NULL || evidence_reply(f, in->ehlo) < 0)
		return -1;
	return evidence_reply(f, in->helo);
}

/* --- the EHLO list (DOMAIN.md 2) ------------------------------------------- */

/* Keywords ASA has been seen to mask, for a guess by the mask's length
 * (the mask keeps the length of keyword plus parameters). Only a guess:
 * a line with parameters can have any length. */
static const char *const mask_guesses[] = {
	"STARTTLS", "CHUNKING", "TURN", "VRFY", "HELP", "DELIVERBY", "XEXCH50", "X-LINK2STATE",
};

#define NGUESSES (sizeof mask_guesses / sizeof mask_guesses[0])

/* Append " (guess by length: A, B or C)" for the masked extension lines. */
static void mask_guess(struct sbuf *b, const struct sf_reply *r, const struct sf_ehlo *e)
{
	size_t hit[NGUESSES], nhit = 0;

	for (size_t g = 0; g < NGUESSES; g++) {
		size_t glen = strlen(mask_guesses[g]);

		if (sf_ehlo_find(e, mask_guesses[g]) != NULL)
			continue; /* offered in clear in the same reply: not behind a mask */
		for (size_t i = 0; i < e->next; i++) {
			size_t n = 0;

			if (!e->ext[i].masked || e->ext[i].line >= r->nlines)
				continue;
			(void)sf_reply_text(r, e->ext[i].line, &n);
			if (n == glen) {
				hit[nhit++] = g;
				break;
			}
		}
	}
	if (nhit == 0)
		return;
	sb_puts(b, " (guess by length: ");
	for (size_t k = 0; k < nhit; k++) {
		if (k > 0)
			sb_puts(b, k + 1 == nhit ? " or " : ", ");
		sb_puts(b, mask_guesses[hit[k]]);
	}
	sb_puts(b, ")");
}

static size_t ext_masked_count(const struct sf_ehlo *e)
{
	size_t n = 0;

	for (size_t i = 0; i < e->next; i++)
		n += e->ext[i].masked != 0;
	return n;
}

static int judge_masked(const struct sf_reply *r, const struct sf_ehlo *e, struct sf_verdict *v)
{
	size_t nmasked = ext_masked_count(e);
	struct sbuf b = {0};
	struct sf_finding *f;

	if (nmasked == 0 && !e->greeting_masked)
		return 0;
	if (e->greeting_masked)
		sb_puts(&b, nmasked ? "EHLO greeting line and " : "EHLO greeting line masked");
	if (nmasked) {
		sb_putz(&b, nmasked);
		sb_puts(&b, " of ");
		sb_putz(&b, e->next);
		sb_puts(&b, " ESMTP extensions masked");
		mask_guess(&b, r, e);
	}
	f = finding_add(v, SF_FIND_EXT_MASKED, sf_box_get(SF_BOX_CISCO_ASA), &b);
	if (f == NULL)
		return -1;
	if (e->greeting_masked && evidence_line(f, r, 0) < 0)
		return -1;
	for (size_t i = 0; i < e->next; i++)
		if (e->ext[i].masked && e->ext[i].line < r->nlines &&
		    evidence_line(f, r, e->ext[i].line) < 0)
			return -1;
	return 0;
}

/* 1 if required[i] already appeared earlier in the list (any case). */
static int required_seen(const struct sf_verdict_input *in, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (in->required[j] != NULL && ci_equal(in->required[j], in->required[i]))
			return 1;
	return 0;
}

/* Required extensions not offered unmasked. e is NULL when EHLO failed
 * (then none is offered); box is what the other EHLO findings point to. */
static int judge_missing(const struct sf_verdict_input *in, const struct sf_ehlo *e,
			 const struct sf_ehlo *etls, const struct sf_box *box, struct sf_verdict *v)
{
	struct sbuf list = {0}, b = {0};
	size_t nmissing = 0, nmasked = e ? ext_masked_count(e) : 0;
	struct sf_finding *f;
	char *names;

	for (size_t i = 0; i < in->nrequired; i++) {
		const char *kw = in->required[i];

		if (kw == NULL || kw[0] == '\0' || required_seen(in, i))
			continue;
		if (e != NULL && sf_ehlo_find(e, kw) != NULL)
			continue;
		/* offered inside TLS counts: AUTH is often offered only there */
		if (etls != NULL && sf_ehlo_find(etls, kw) != NULL)
			continue;
		sb_puts(&list, nmissing++ ? ", " : "");
		sb_puts(&list, kw);
	}
	if (nmissing == 0)
		return list.failed ? -1 : 0;
	names = sb_take(&list);
	if (names == NULL)
		return -1;
	sb_puts(&b, nmissing > 1 ? "required extensions " : "required extension ");
	sb_puts(&b, names);
	free(names);
	sb_puts(&b, " not offered");
	if (e == NULL) {
		sb_puts(&b, " (EHLO failed)");
	} else if (nmasked > 0) {
		sb_puts(&b, nmissing > 1 ? " (they may be among the " : " (it may be among the ");
		sb_putz(&b, nmasked);
		sb_puts(&b, nmasked > 1 ? " masked lines)" : " masked line)");
		box = sf_box_get(SF_BOX_CISCO_ASA);
	}
	f = finding_add(v, SF_FIND_EXT_MISSING, box, &b);
	return f == NULL ? -1 : evidence_reply(f, in->ehlo);
}

/* "ext requires needs": a list that offers ext without needs is not what
 * the server sent. A new rule is a new row. */
static const struct ext_rule {
	const char *ext;
	const char *needs;
	const char *why; /* where the rule comes from */
} ext_rules[] = {
	{"BINARYMIME", "CHUNKING", "RFC 3030"},
};

static int judge_inconsistent(const struct sf_reply *r, const struct sf_ehlo *e,
			      struct sf_verdict *v)
{
	size_t nmasked = ext_masked_count(e);

	for (size_t k = 0; k < sizeof ext_rules / sizeof ext_rules[0]; k++) {
		const struct ext_rule *rule = &ext_rules[k];
		const struct sf_ehlo_ext *x = sf_ehlo_find(e, rule->ext);
		struct sbuf b = {0};
		struct sf_finding *f;

		if (x == NULL || sf_ehlo_find(e, rule->needs) != NULL)
			continue;
		sb_puts(&b, rule->ext);
		sb_puts(&b, " offered without ");
		sb_puts(&b, rule->needs);
		sb_puts(&b, " (");
		sb_puts(&b, rule->why);
		sb_puts(&b, " requires both); ");
		sb_puts(&b, rule->needs);
		sb_puts(&b, nmasked ? " was probably masked" : " may have been removed on the way");
		f = finding_add(v, SF_FIND_EXT_INCONSISTENT,
				nmasked ? sf_box_get(SF_BOX_CISCO_ASA) : NULL, &b);
		if (f == NULL)
			return -1;
		if (x->line < r->nlines && evidence_line(f, r, x->line) < 0)
			return -1;
	}
	return 0;
}

/* A 2xx EHLO reply: masks, missing and inconsistent extensions. etls is
 * the list inside TLS, or NULL. */
static int judge_list(const struct sf_verdict_input *in, const struct sf_ehlo *etls,
		      struct sf_verdict *v)
{
	struct sf_ehlo *e = NULL;
	int rc;

	if (sf_ehlo_parse(in->ehlo, &e) < 0)
		return -1; /* the reply is 2xx, so this is out of memory */
	v->extensions = (unsigned)e->next;
	v->masked_extensions = (unsigned)ext_masked_count(e);
	rc = judge_masked(in->ehlo, e, v);
	if (rc == 0)
		rc = judge_missing(in, e, etls, NULL, v);
	if (rc == 0)
		rc = judge_inconsistent(in->ehlo, e, v);
	sf_ehlo_free(e);
	return rc;
}

/* EHLO, if it was reached. A reply that is not 2xx counts as refused. */
static int judge_ehlo(const struct sf_verdict_input *in, const struct sf_ehlo *etls,
		      struct sf_verdict *v)
{
	const struct sf_reply *r = in->ehlo;
	const struct sf_box *box = NULL;

	int rc;

	if (r == NULL)
		return 0;
	if (sf_reply_is_noop_like(r))
		rc = judge_noop(in, v, &box);
	else if (r->code >= 200 && r->code < 300)
		return judge_list(in, etls, v);
	else
		rc = judge_refused(in, v, &box);
	return rc < 0 ? -1 : judge_missing(in, NULL, etls, box, v);
}

/* --- STARTTLS as a witness (DOMAIN.md 3, RFC 3207) ------------------------ */

static int in_list(const char *const *list, size_t n, const char *kw)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] != NULL && ci_equal(list[i], kw))
			return 1;
	return 0;
}

static int reply_has_x_echo(const struct sf_reply *r)
{
	for (size_t i = 0; r != NULL && i < r->nlines; i++) {
		size_t n;
		const char *t = sf_reply_text(r, i, &n);
		if (sf_text_has_x_echo(t, n))
			return 1;
	}
	return 0;
}

/* STARTTLS refused: with a box in sight (X echo, masked lines, or it was
 * offered and then refused) it is the path; otherwise the server simply
 * has no TLS. */
static int judge_starttls_refused(const struct sf_verdict_input *in, const struct sf_ehlo *e,
				  struct sf_verdict *v)
{
	const struct sf_reply *r = in->starttls;
	int offered = e != NULL && sf_ehlo_find(e, "STARTTLS") != NULL;
	size_t nmasked = e != NULL ? ext_masked_count(e) : 0;
	int echo = reply_has_x_echo(r);
	const struct sf_box *box = (echo || nmasked) ? sf_box_get(SF_BOX_CISCO_ASA) : NULL;
	struct sbuf b = {0};
	struct sf_finding *f;

	if (!offered && !echo && nmasked == 0) {
		sb_puts(&b, "STARTTLS not offered (server answered ");
		sb_putz(&b, (size_t)r->code);
		sb_puts(&b, " to it): mail to this server travels in clear text");
		f = finding_add(v, SF_FIND_STARTTLS_MISSING, NULL, &b);
		return f == NULL ? -1 : evidence_reply(f, r);
	}
	sb_puts(&b, echo ? "STARTTLS refused: a firewall replaced it with X's (server answered "
			 : "STARTTLS refused (server answered ");
	sb_putz(&b, (size_t)r->code);
	sb_puts(&b, ")");
	if (!offered && nmasked > 0)
		sb_puts(&b, "; STARTTLS is missing from the EHLO reply, probably one of the masked lines");
	else if (offered)
		sb_puts(&b, " although the EHLO reply offers it");
	sb_puts(&b, ": mail travels in clear text");
	f = finding_add(v, SF_FIND_STARTTLS_REFUSED, box, &b);
	return f == NULL ? -1 : evidence_reply(f, r);
}

static int judge_tls_failed(const struct sf_verdict_input *in, struct sf_verdict *v)
{
	struct sbuf b = {0};
	struct sf_finding *f;

	sb_puts(&b, "STARTTLS accepted but the TLS handshake failed: ");
	sb_puts(&b, in->tls_error);
	f = finding_add(v, SF_FIND_TLS_FAILED, NULL, &b);
	if (f == NULL || evidence_reply(f, in->starttls) < 0)
		return -1;
	return evidence_add(f, in->tls_error, strlen(in->tls_error));
}

/* Keywords offered inside TLS but not outside, less the legitimate
 * differences; STARTTLS itself when it works but is not offered. */
static int judge_stripped(const struct sf_verdict_input *in, const struct sf_ehlo *e,
			  const struct sf_ehlo *etls, struct sf_verdict *v)
{
	struct sbuf names = {0}, b = {0};
	int hidden_tls = e != NULL && sf_ehlo_find(e, "STARTTLS") == NULL;
	size_t n = 0, nmasked = e != NULL ? ext_masked_count(e) : 0;
	struct sf_finding *f;
	char *list;

	if (hidden_tls) {
		sb_puts(&names, "STARTTLS");
		n++;
	}
	for (size_t i = 0; i < etls->next; i++) {
		const struct sf_ehlo_ext *x = &etls->ext[i];
		if (x->masked || !x->valid || in_list(in->tls_ignore, in->ntls_ignore, x->keyword))
			continue;
		if (e != NULL && sf_ehlo_find(e, x->keyword) != NULL)
			continue;
		sb_puts(&names, n++ ? ", " : "");
		sb_puts(&names, x->keyword);
	}
	v->stripped_extensions = (unsigned)n;
	if (n == 0)
		return names.failed ? -1 : 0;
	list = sb_take(&names);
	if (list == NULL)
		return -1;
	sb_putz(&b, n);
	sb_puts(&b, n > 1 ? " extensions hidden by the path (offered inside TLS, missing outside): "
			  : " extension hidden by the path (offered inside TLS, missing outside): ");
	sb_puts(&b, list);
	free(list);
	f = finding_add(v, SF_FIND_EXT_STRIPPED, nmasked ? sf_box_get(SF_BOX_CISCO_ASA) : NULL, &b);
	if (f == NULL)
		return -1;
	if (hidden_tls && evidence_reply(f, in->starttls) < 0)
		return -1; /* the 220 proves STARTTLS works */
	for (size_t i = 0; i < etls->next; i++) {
		const struct sf_ehlo_ext *x = &etls->ext[i];
		if (x->masked || !x->valid || in_list(in->tls_ignore, in->ntls_ignore, x->keyword) ||
		    (e != NULL && sf_ehlo_find(e, x->keyword) != NULL))
			continue;
		if (evidence_line(f, in->ehlo_tls, x->line) < 0)
			return -1;
	}
	return 0;
}

/* -S: what STARTTLS and the list inside TLS say about the path. */
static int judge_tls(const struct sf_verdict_input *in, const struct sf_ehlo *e,
		     const struct sf_ehlo *etls, struct sf_verdict *v)
{
	if (!in->starttls_tried || in->starttls == NULL)
		return 0; /* never sent, or no reply: the plugin reports the failure */
	if (in->starttls->code != 220)
		return judge_starttls_refused(in, e, v);
	if (in->tls_error != NULL)
		return judge_tls_failed(in, v);
	if (etls == NULL)
		return 0;
	v->tls_extensions = (unsigned)etls->next;
	return judge_stripped(in, e, etls, v);
}

/* --- probe commands ---------------------------------------------------------- */

/* The command's verb (first word) and its length, for summaries. */
static void probe_name(struct sbuf *b, const char *sent)
{
	size_t len = strlen(sent);
	size_t verb = token_end(sent, len, 0);

	sb_putn(b, sent, verb);
	sb_puts(b, " (");
	sb_putz(b, len + 2);
	sb_puts(b, " octets with CRLF)");
}

static int judge_probe(const struct sf_probe *p, const struct sf_ehlo *e,
		       const struct sf_ehlo *etls, struct sf_verdict *v)
{
	struct sbuf b = {0};
	struct sf_finding *f;
	int advertised = p->keyword != NULL &&
			 ((e != NULL && sf_ehlo_find(e, p->keyword) != NULL) ||
			  (etls != NULL && sf_ehlo_find(etls, p->keyword) != NULL));
	int unrecognised = p->reply != NULL && (p->reply->code == 500 || p->reply->code == 502);
	int echo = reply_has_x_echo(p->reply);
	size_t len = strlen(p->sent);

	if (p->dropped) {
		sb_puts(&b, "the connection was dropped after the probe ");
		probe_name(&b, p->sent);
		if (len + 2 > 512)
			sb_puts(&b, ": the default ASA policy drops command lines over 512 octets");
	} else if (echo) {
		sb_puts(&b, "the probe ");
		probe_name(&b, p->sent);
		sb_puts(&b, " reached the server as X's (server answered ");
		sb_putz(&b, (size_t)p->reply->code);
		sb_puts(&b, ")");
	} else if (unrecognised && advertised) {
		sb_puts(&b, "the probe ");
		probe_name(&b, p->sent);
		sb_puts(&b, " was called unrecognised (server answered ");
		sb_putz(&b, (size_t)p->reply->code);
		sb_puts(&b, ") although the server offers ");
		sb_puts(&b, p->keyword);
		sb_puts(&b, ": the path rewrites it");
	} else {
		return 0;
	}
	f = finding_add(v, SF_FIND_PROBE, (p->dropped && len + 2 > 512) || echo || advertised
				? sf_box_get(SF_BOX_CISCO_ASA) : NULL, &b);
	if (f == NULL)
		return -1;
	if (evidence_add(f, p->sent, len < 80 ? len : 80) < 0)
		return -1;
	return evidence_reply(f, p->reply);
}

/* Parse r into *out when it is a 2xx reply; 0, or -1 if out of memory. */
static int parse_if_2xx(const struct sf_reply *r, struct sf_ehlo **out)
{
	*out = NULL;
	if (r == NULL || r->code < 200 || r->code >= 300 || sf_reply_is_noop_like(r))
		return 0;
	return sf_ehlo_parse(r, out);
}

/* TLS and probe findings, which need both lists. */
static int judge_witnesses(const struct sf_verdict_input *in, const struct sf_ehlo *etls,
			   struct sf_verdict *v)
{
	struct sf_ehlo *e = NULL;
	int rc;

	if (!in->starttls_tried && in->nprobes == 0)
		return 0;
	if (parse_if_2xx(in->ehlo, &e) < 0)
		return -1;
	rc = judge_tls(in, e, etls, v);
	for (size_t i = 0; rc == 0 && i < in->nprobes; i++)
		rc = judge_probe(&in->probes[i], e, etls, v);
	sf_ehlo_free(e);
	return rc;
}

/* --- the reference path (--reference) ----------------------------------- */

/* 1 if two replies have the same lines, octet for octet. */
static int same_reply(const struct sf_reply *a, const struct sf_reply *b)
{
	if (a->nlines != b->nlines)
		return 0;
	for (size_t i = 0; i < a->nlines; i++)
		if (a->lines[i].len != b->lines[i].len ||
		    memcmp(a->lines[i].raw, b->lines[i].raw, a->lines[i].len) != 0)
			return 0;
	return 1;
}

/* A reference keyword that the checked list lacks (masked lines carry no
 * keyword, so a masked one is lacking too). */
static int ref_lacking(const struct sf_ehlo_ext *x, const struct sf_ehlo *e)
{
	return x->valid && !x->masked && (e == NULL || sf_ehlo_find(e, x->keyword) == NULL);
}

/* Keywords the reference path offers that this path lacks. */
static int judge_ref_missing(const struct sf_verdict_input *in, const struct sf_ehlo *e,
			     const struct sf_ehlo *eref, struct sf_verdict *v)
{
	struct sbuf b = {0};
	struct sf_finding *f;
	size_t n = 0, nmasked = e != NULL ? ext_masked_count(e) : 0;

	for (size_t i = 0; i < eref->next; i++)
		n += ref_lacking(&eref->ext[i], e) ? 1U : 0U;
	v->reference_missing = (unsigned)n;
	if (n == 0)
		return 0;
	sb_putz(&b, n);
	sb_puts(&b, n > 1 ? " extensions offered on the reference path but missing or masked here: "
			  : " extension offered on the reference path but missing or masked here: ");
	for (size_t i = 0, k = 0; i < eref->next; i++) {
		if (!ref_lacking(&eref->ext[i], e))
			continue;
		sb_puts(&b, k++ ? ", " : "");
		sb_puts(&b, eref->ext[i].keyword);
	}
	f = finding_add(v, SF_FIND_REF_MISSING, nmasked ? sf_box_get(SF_BOX_CISCO_ASA) : NULL, &b);
	if (f == NULL)
		return -1;
	for (size_t i = 0; i < eref->next; i++)
		if (ref_lacking(&eref->ext[i], e) && evidence_line(f, in->ref_ehlo, eref->ext[i].line) < 0)
			return -1;
	return 0;
}

/* The greeting as seen here against the reference path's. */
static int judge_ref_banner(const struct sf_verdict_input *in, struct sf_verdict *v)
{
	struct sbuf b = {0};
	struct sf_finding *f;

	if (same_reply(in->greeting, in->ref_greeting))
		return 0;
	sb_puts(&b, "greeting differs from the reference path's");
	f = finding_add(v, SF_FIND_REF_BANNER, NULL, &b);
	if (f == NULL || evidence_line(f, in->greeting, 0) < 0 ||
	    evidence_line(f, in->ref_greeting, 0) < 0)
		return -1;
	return 0;
}

/* --reference: what this path lacks against the path without the box. */
static int judge_reference(const struct sf_verdict_input *in, struct sf_verdict *v)
{
	struct sf_ehlo *e = NULL, *eref = NULL;
	int rc = 0;

	if (in->ref_greeting == NULL)
		return 0;
	if (judge_ref_banner(in, v) < 0)
		return -1;
	if (parse_if_2xx(in->ref_ehlo, &eref) < 0)
		return -1;
	if (eref != NULL) {
		rc = parse_if_2xx(in->ehlo, &e);
		if (rc == 0)
			rc = judge_ref_missing(in, e, eref, v);
	}
	sf_ehlo_free(e);
	sf_ehlo_free(eref);
	return rc;
}

/* --- the baseline (--baseline) ------------------------------------------- */

/* 1 if keyword kw of the baseline is not offered (unmasked) in e. */
static int baseline_lacking(const char *kw, const struct sf_ehlo *e)
{
	const struct sf_ehlo_ext *x = e != NULL ? sf_ehlo_find(e, kw) : NULL;

	return x == NULL || x->masked;
}

/* Keywords gone and a changed greeting since the last clean run. */
static int judge_baseline(const struct sf_verdict_input *in, struct sf_verdict *v)
{
	struct sbuf b = {0};
	struct sf_ehlo *e = NULL;
	struct sf_finding *f;
	const struct sf_reply_line *g = &in->greeting->lines[0];
	int banner_changed;
	size_t n = 0;

	if (in->baseline_banner == NULL)
		return 0;
	if (parse_if_2xx(in->ehlo, &e) < 0)
		return -1;
	for (size_t i = 0; i < in->nbaseline_kw; i++)
		n += baseline_lacking(in->baseline_kw[i], e) ? 1U : 0U;
	v->baseline_gone = (unsigned)n;
	banner_changed = in->baseline_banner_cut
				 ? g->len < strlen(in->baseline_banner) ||
					   memcmp(in->baseline_banner, g->raw, strlen(in->baseline_banner)) != 0
				 : strlen(in->baseline_banner) != g->len ||
					   memcmp(in->baseline_banner, g->raw, g->len) != 0;
	if (n > 0) {
		sb_putz(&b, n);
		sb_puts(&b, n > 1 ? " extensions gone since the last clean run: "
				  : " extension gone since the last clean run: ");
		for (size_t i = 0, k = 0; i < in->nbaseline_kw; i++) {
			if (!baseline_lacking(in->baseline_kw[i], e))
				continue;
			sb_puts(&b, k++ ? ", " : "");
			sb_puts(&b, in->baseline_kw[i]);
		}
	}
	sf_ehlo_free(e);
	if (banner_changed)
		sb_puts(&b, n > 0 ? "; greeting changed since the last clean run"
				  : "greeting changed since the last clean run");
	if (n == 0 && !banner_changed)
		return b.failed ? -1 : 0;
	f = finding_add(v, SF_FIND_BASELINE_CHANGED, NULL, &b);
	if (f == NULL)
		return -1;
	if (banner_changed && (evidence_add(f, in->baseline_banner, strlen(in->baseline_banner)) < 0 ||
			       evidence_line(f, in->greeting, 0) < 0))
		return -1;
	return 0;
}

static struct sf_finding *finding_of(struct sf_verdict *v, enum sf_kind k)
{
	for (size_t i = 0; i < v->nfindings; i++)
		if (v->findings[i].kind == k)
			return &v->findings[i];
	return NULL;
}

/* Findings seen together say more than each alone. A banner of '*' only
 * fits an ASA or a PIX whose banner had no '2' or '0'; but the ASA knows
 * EHLO (DOMAIN.md 2): a failed EHLO beside a masked banner is a PIX, and
 * the failure is then the box's doing even without an X echo. */
static void reconcile_boxes(struct sf_verdict *v)
{
	struct sf_finding *banner = finding_of(v, SF_FIND_BANNER_MASKED);
	struct sf_finding *ehlo = finding_of(v, SF_FIND_EHLO_REFUSED);

	if (ehlo == NULL)
		ehlo = finding_of(v, SF_FIND_EHLO_NOOP);
	if (banner == NULL || ehlo == NULL)
		return;
	if (banner->box == sf_box_get(SF_BOX_CISCO_ASA))
		banner->box = sf_box_get(SF_BOX_PIX_OLD);
	if (ehlo->box == NULL)
		ehlo->box = sf_box_get(SF_BOX_PIX_MAILGUARD);
}

int sf_verdict_make(const struct sf_verdict_input *in, struct sf_verdict **out)
{
	struct sf_verdict *v;
	struct sf_ehlo *etls = NULL;

	if (in == NULL || in->greeting == NULL || out == NULL)
		return -1;
	v = calloc(1, sizeof *v);
	if (v == NULL)
		return -1;
	if (parse_if_2xx(in->ehlo_tls, &etls) < 0) {
		free(v);
		return -1;
	}
	if (judge_banner(in->greeting, v) < 0 || judge_ehlo(in, etls, v) < 0 ||
	    judge_witnesses(in, etls, v) < 0 || judge_fingerprint(in->greeting, v) < 0 ||
	    judge_reference(in, v) < 0 || judge_baseline(in, v) < 0) {
		sf_ehlo_free(etls);
		sf_verdict_free(v);
		return -1;
	}
	sf_ehlo_free(etls);
	reconcile_boxes(v);
	findings_sort(v);
	v->box = main_box(v);
	*out = v;
	return 0;
}

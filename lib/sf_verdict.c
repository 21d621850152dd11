/*
 * sf_verdict.c - the judge: from the facts of a check (sf_verdict.h), the
 * findings, each with its state, a summary in plain words, the lines that
 * prove it and the box it points to; then the state of the whole and one
 * line that says it.
 *
 * Judges are rows of a table (judges[] below), one per kind, each reading
 * the prepared facts (struct ctx: the EHLO lists parsed once) and adding at
 * most a finding or two. What a single reply cannot show -- a box that
 * removes EHLO lines without a trace (Zorp, F-Secure) -- shows only against
 * a reference: the list inside TLS, the reference path, the baseline. What
 * it must never do is flag a healthy server: banners with a few asterisks
 * or with dates, real X-extensions and lower-case keywords are clean
 * (doc/inspection-boxes.md).
 *
 * Every string in a verdict is a copy owned by it; on out-of-memory the
 * half-made verdict is freed and -1 returned.
 */
#include "sf_verdict.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sf_ascii.h"
#include "sf_text.h"

/* --- kinds --------------------------------------------------------------- */

static const struct sf_kind_info kinds[SF_FIND__COUNT] = {
	[SF_FIND_BANNER_MASKED] = {"banner-masked", "greeting banner masked", SF_WARNING, 1},
	[SF_FIND_EXT_MASKED] = {"extensions-masked", "ESMTP extensions masked", SF_CRITICAL, 1},
	[SF_FIND_EHLO_REFUSED] = {"ehlo-refused", "EHLO refused", SF_CRITICAL, 1},
	[SF_FIND_EHLO_NOOP] = {"ehlo-noop", "EHLO answered like NOOP", SF_CRITICAL, 1},
	[SF_FIND_EXT_MISSING] = {"missing-extension", "required extension not offered", SF_CRITICAL, 1},
	[SF_FIND_EXT_INCONSISTENT] = {"inconsistent-extensions", "inconsistent extension list", SF_WARNING, 1},
	[SF_FIND_FINGERPRINT] = {"fingerprint", "SMTP proxy recognised by its banner", SF_OK, 1},
	[SF_FIND_EXT_STRIPPED] = {"extensions-stripped", "extensions offered inside TLS but hidden outside",
				  SF_CRITICAL, 1},
	[SF_FIND_STARTTLS_REFUSED] = {"starttls-refused", "STARTTLS masked or refused on the way",
				      SF_CRITICAL, 1},
	[SF_FIND_TLS_FAILED] = {"tls-failed", "TLS handshake after STARTTLS failed", SF_CRITICAL, 1},
	[SF_FIND_STARTTLS_MISSING] = {"starttls-missing", "STARTTLS not offered (-S)", SF_WARNING, 1},
	[SF_FIND_PROBE] = {"probe-rejected", "probe command rewritten or punished on the way (--probe)",
			   SF_CRITICAL, 1},
	[SF_FIND_REF_MISSING] = {"reference-missing", "extensions offered on the reference path but missing or masked (--reference)",
				 SF_CRITICAL, 1},
	[SF_FIND_REF_BANNER] = {"reference-banner", "greeting differs from the reference path's (--reference)",
				SF_WARNING, 1},
	[SF_FIND_BASELINE_CHANGED] = {"baseline-changed", "extensions gone or greeting changed since the last clean run (--baseline)",
				      SF_WARNING, 1},
	[SF_FIND_SESSION_FAILED] = {NULL, "the conversation could not be held", SF_CRITICAL, 0},
	[SF_FIND_GREETING_REFUSED] = {NULL, "the server refuses the session", SF_CRITICAL, 0},
	[SF_FIND_SERVER_CLOSED] = {NULL, "the server ended the session itself", SF_CRITICAL, 0},
	[SF_FIND_RESPONSE_TIME] = {NULL, "response time past its threshold", SF_WARNING, 0},
	[SF_FIND_REF_UNUSABLE] = {NULL, "no comparison with the reference path", SF_UNKNOWN, 0},
	[SF_FIND_LOCAL] = {NULL, "this host failed", SF_UNKNOWN, 0},
	[SF_FIND_EHLO_TLS_REFUSED] = {NULL, "EHLO inside TLS not answered with 250", SF_CRITICAL, 0},
	[SF_FIND_PROBE_REFUSED] = {NULL, "the server refused a probe and closed (its own policy)", SF_OK, 0},
	[SF_FIND_PROXY] = {"proxy", "SMTP proxy or TLS terminator that shows itself", SF_OK, 0},
	[SF_FIND_DATA_DROPPED] = {"data-dropped", "connection dropped in the message, no reply (--probe=data)",
				  SF_CRITICAL, 1},
	[SF_FIND_DATA_NOTE] = {NULL, "what the DATA-phase witness saw (--probe=data)", SF_OK, 0},
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

/* 1 if finding a goes after b: a less bad state, then a less bad default. */
static int goes_after(const struct sf_finding *a, const struct sf_finding *b)
{
	int ra = sf_state_rank(a->state), rb = sf_state_rank(b->state);

	if (ra != rb)
		return ra < rb;
	return sf_state_rank(kinds[a->kind].default_state) <
	       sf_state_rank(kinds[b->kind].default_state);
}

/* Worst state first (the user's overrides applied), then the worse default;
 * otherwise findings keep the order the judges found them in (insertion
 * sort: the list is a handful long). */
static void findings_sort(struct sf_verdict *v)
{
	for (size_t i = 1; i < v->nfindings; i++) {
		struct sf_finding f = v->findings[i];
		size_t j = i;

		while (j > 0 && goes_after(&v->findings[j - 1], &f)) {
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
	free(v->line);
	free(v->headline);
	free(v);
}

/* --- the banner ------------------------------------------------------------ */

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

		if (box == NULL || box->benign)
			continue; /* a proxy that shows itself: j_proxy */
		sb_puts(&b, "greeting matches ");
		sb_puts(&b, box->name);
		f = finding_add(v, SF_FIND_FINGERPRINT, box, &b);
		return f == NULL ? -1 : evidence_line(f, g, i);
	}
	return 0;
}

/* --- EHLO refused or NOOP-ed --------------------------------------------------- */

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
	if (r->code >= 200 && r->code < 300)
		sb_puts(&b, ", but only 250 answers EHLO: RFC 5321 4.1.1.1");
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

/* --- the EHLO list ------------------------------------------------------------ */

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

/* Masked extension lines of e; 0 for no list (EHLO failed). */
static size_t ext_masked_count(const struct sf_ehlo *e)
{
	size_t n = 0;

	for (size_t i = 0; e != NULL && i < e->next; i++)
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
		if (in->required[j] != NULL && sf_ci_equal(in->required[j], in->required[i]))
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

/* --- STARTTLS as a witness (RFC 3207) ---------------------------------------- */

static int in_list(const char *const *list, size_t n, const char *kw)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] != NULL && sf_ci_equal(list[i], kw))
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

/* --- probe commands ---------------------------------------------------------- */

/* The command's verb (first word) and its length, for summaries. */
static void probe_name(struct sbuf *b, const char *sent)
{
	size_t len = strlen(sent);
	size_t verb = sf_token_end(sent, len, 0);

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
	const struct sf_box *box = NULL;

	/* A box is named on the evidence of one only: its X's in the echo,
	 * the drop of a line over the ASA's 512 octets, a command "not
	 * recognised" though offered beside masked lines. */
	if (echo || (p->dropped && len + 2 > 512) || (unrecognised && advertised && ext_masked_count(e) > 0))
		box = sf_box_get(SF_BOX_CISCO_ASA);
	if (p->closed_after && p->reply != NULL && p->reply->code >= 400 && !echo) {
		/* the server's reply, then its close: its own policy (RFC 5321
		 * 4.5.3.1 lets it refuse lines over 512 octets) */
		sb_puts(&b, "the server refused the probe ");
		probe_name(&b, p->sent);
		sb_puts(&b, " (");
		sb_putz(&b, (size_t)p->reply->code);
		sb_puts(&b, ") and closed the connection: its own policy, not a box");
		f = finding_add(v, SF_FIND_PROBE_REFUSED, NULL, &b);
		return f == NULL ? -1 : evidence_reply(f, p->reply);
	}
	if (p->dropped) {
		sb_puts(&b, "the connection was dropped after the probe ");
		probe_name(&b, p->sent);
		if (len + 2 > 512)
			sb_puts(&b, ": the default ASA policy drops command lines over 512 octets");
	} else if (echo && p->reply != NULL) {
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
	f = finding_add(v, SF_FIND_PROBE, box, &b);
	if (f == NULL)
		return -1;
	if (evidence_add(f, p->sent, len < 80 ? len : 80) < 0)
		return -1;
	return evidence_reply(f, p->reply);
}

/* --- comparing greetings ------------------------------------------------------ */

/* Words that change with the date. */
static int is_date_word(const char *s, size_t n)
{
	static const char *const words[] = {
		"mon", "tue", "wed", "thu", "fri", "sat", "sun", "monday", "tuesday", "wednesday",
		"thursday", "friday", "saturday", "sunday", "jan", "feb", "mar", "apr", "may", "jun",
		"jul", "aug", "sep", "oct", "nov", "dec", "january", "february", "march", "april",
		"june", "july", "august", "september", "october", "november", "december",
	};

	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		if (sf_ci_word(s, n, words[i]))
			return 1;
	return 0;
}

static int is_hex_run(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F')))
			return 0;
	return 1;
}

/* A run of letters and digits that changes per connection: with a digit,
 * 16 or more long (base64-like ids), or a day or month name. */
static int volatile_run(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] >= '0' && s[i] <= '9')
			return 1;
	return n >= 16 || is_date_word(s, n);
}

/* Append c to out at *o when it fits (one octet is kept for the NUL). */
static void key_put(char *out, size_t outsz, size_t *o, char c)
{
	if (*o + 1 < outsz)
		out[(*o)++] = c;
}

/* One token into the key. In the first (the host name) each run of
 * letters and digits stands alone; in a later token a volatile run makes
 * the whole token volatile (8.17.1/8.17.1, a UUID), and so does a
 * bracketed hex id such as "(9D7529)" or "[ABCDEF]". */
static void key_token(const char *t, size_t n, int first, char *out, size_t outsz, size_t *o)
{
	int whole = 0;
	size_t i = 0;

	if (!first) {
		size_t a = 0;
		while (a < n && !sf_is_alnum((unsigned char)t[a]))
			a++;
		for (size_t k = a; k < n && !whole;) {
			size_t e = k;
			while (e < n && sf_is_alnum((unsigned char)t[e]))
				e++;
			whole = e > k && volatile_run(t + k, e - k);
			while (e < n && !sf_is_alnum((unsigned char)t[e]))
				e++;
			k = e;
		}
		if (!whole && n >= 4 && strchr("([<", t[0]) != NULL && strchr(")]>", t[n - 1]) != NULL)
			whole = is_hex_run(t + 1, n - 2) && n - 2 >= 4;
	}
	while (i < n) {
		size_t e = i;
		if (!sf_is_alnum((unsigned char)t[i])) {
			key_put(out, outsz, o, t[i++]);
			continue;
		}
		while (e < n && sf_is_alnum((unsigned char)t[e]))
			e++;
		if (whole || volatile_run(t + i, e - i)) {
			key_put(out, outsz, o, '#');
		} else {
			for (size_t k = i; k < e; k++)
				key_put(out, outsz, o, (char)sf_lower((unsigned char)t[k]));
		}
		i = e;
	}
}

size_t sf_greeting_key(const char *line, size_t len, char *out, size_t outsz)
{
	const char *text = len > 4 ? line + 4 : "";
	size_t tlen = len > 4 ? len - 4 : 0, o = 0, stars = 0, other = 0;
	struct sf_tokens it;
	const char *tok;
	size_t toklen;
	int first = 1;

	if (outsz == 0)
		return 0;
	for (size_t i = 0; i < 3 && i < len; i++)
		key_put(out, outsz, &o, line[i]);
	for (size_t i = 0; i < tlen; i++) {
		stars += text[i] == '*';
		other += text[i] != '*' && text[i] != '2' && text[i] != '0' && !sf_is_blank((unsigned char)text[i]);
	}
	if (stars > 0 && other == 0) {
		/* a mask keeps the digits 2 and 0 of a date: only its being a mask counts */
		for (const char *m = " <masked>"; *m; m++)
			key_put(out, outsz, &o, *m);
		out[o] = '\0';
		return o;
	}
	sf_tokens_init(&it, text, tlen);
	while (sf_tokens_next(&it, &tok, &toklen)) {
		key_put(out, outsz, &o, ' ');
		key_token(tok, toklen, first, out, outsz, &o);
		first = 0;
	}
	out[o] = '\0';
	return o;
}

/* 1 if two greeting lines have the same key. */
static int same_greeting(const char *a, size_t alen, const char *b, size_t blen)
{
	char ka[2 * SF_REPLY_LINE_MAX + 8], kb[2 * SF_REPLY_LINE_MAX + 8];

	sf_greeting_key(a, alen, ka, sizeof ka);
	sf_greeting_key(b, blen, kb, sizeof kb);
	return strcmp(ka, kb) == 0;
}

/* --- the reference path (--reference) ----------------------------------- */

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

	if (same_greeting(in->greeting->lines[0].raw, in->greeting->lines[0].len,
			  in->ref_greeting->lines[0].raw, in->ref_greeting->lines[0].len))
		return 0;
	sb_puts(&b, "greeting differs from the reference path's");
	f = finding_add(v, SF_FIND_REF_BANNER, NULL, &b);
	if (f == NULL || evidence_line(f, in->greeting, 0) < 0 ||
	    evidence_line(f, in->ref_greeting, 0) < 0)
		return -1;
	return 0;
}

/* --- the baseline (--baseline) ------------------------------------------- */

/* 1 if keyword kw of the baseline is not offered (unmasked) in e. */
static int baseline_lacking(const char *kw, const struct sf_ehlo *e)
{
	const struct sf_ehlo_ext *x = e != NULL ? sf_ehlo_find(e, kw) : NULL;

	return x == NULL || x->masked;
}

/* Keywords gone and a changed greeting since the last clean run. */
static int judge_baseline(const struct sf_verdict_input *in, const struct sf_ehlo *e,
			  struct sf_verdict *v)
{
	struct sbuf b = {0};
	struct sf_finding *f;
	const struct sf_reply_line *g;
	int banner_changed;
	size_t n = 0;

	if (in->baseline_banner == NULL || in->greeting == NULL)
		return 0;
	g = &in->greeting->lines[0];
	for (size_t i = 0; i < in->nbaseline_kw; i++)
		n += baseline_lacking(in->baseline_kw[i], e) ? 1U : 0U;
	v->baseline_gone = (unsigned)n;
	/* a banner kept cut is compared with as much of today's */
	banner_changed = !same_greeting(in->baseline_banner, strlen(in->baseline_banner), g->raw,
					in->baseline_banner_cut && g->len > strlen(in->baseline_banner)
						? strlen(in->baseline_banner) : g->len);
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
	if (banner_changed)
		sb_puts(&b, n > 0 ? "; greeting changed since the last clean run"
				  : "greeting changed since the last clean run");
	if ((n > 0 || banner_changed) && in->baseline_since != NULL) {
		sb_puts(&b, " (");
		sb_puts(&b, in->baseline_since);
		sb_puts(&b, ")");
	}
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

/* --- the conversation itself ------------------------------------------------ */

/* Who a text is about: a name and an address. */
struct who {
	const char *target;  /* NULL: "the server" */
	const char *address; /* NULL: none shown */
	double timeout;
};

/* "target (address)" for texts. */
static void put_who(struct sbuf *b, const struct who *w, int with_address)
{
	sb_puts(b, w->target != NULL ? w->target : "the server");
	if (with_address && w->address != NULL) {
		sb_puts(b, " (");
		sb_puts(b, w->address);
		sb_puts(b, ")");
	}
}

static void put_target(struct sbuf *b, const struct sf_verdict_input *in, int with_address)
{
	struct who w = {in->target, in->address, in->timeout};

	put_who(b, &w, with_address);
}

/* A number of seconds: to the millisecond ("1.250"), or short ("1.25"). */
static void put_seconds(struct sbuf *b, double sec, int ms)
{
	char num[48];
	int w = ms ? snprintf(num, sizeof num, "%.3f", sec) : snprintf(num, sizeof num, "%g", sec);

	if (w > 0 && (size_t)w < sizeof num)
		sb_putn(b, num, (size_t)w);
}

/* Where it ended, after a blank, if known. */
static void put_step(struct sbuf *b, const struct sf_conv *cv)
{
	if (cv->step != NULL && cv->step[0] != '\0') {
		sb_puts(b, " ");
		sb_puts(b, cv->step);
	}
}

static void put_reason(struct sbuf *b, const struct sf_conv *cv)
{
	sb_puts(b, cv->reason != NULL && cv->reason[0] != '\0' ? cv->reason : "no reason given");
}

/* The failure to hold conversation cv, in words. */
static void describe_end(struct sbuf *b, const struct who *w, const struct sf_conv *cv)
{
	switch (cv->end) {
	case SF_END_CONNECT_FAILED:
		sb_puts(b, "cannot connect to ");
		put_who(b, w, 1);
		sb_puts(b, ": ");
		put_reason(b, cv);
		break;
	case SF_END_TIMEOUT:
		sb_puts(b, cv->mid_reply ? "no complete answer from " : "no answer from ");
		put_who(b, w, 1);
		sb_puts(b, " within ");
		put_seconds(b, w->timeout, 0);
		sb_puts(b, " s,");
		put_step(b, cv);
		break;
	case SF_END_RESET:
		sb_puts(b, "connection reset by ");
		put_who(b, w, 1);
		put_step(b, cv);
		break;
	case SF_END_CLOSED:
		put_who(b, w, 1);
		sb_puts(b, " closed the connection");
		put_step(b, cv);
		if (cv->mid_reply)
			sb_puts(b, ", in the middle of a reply");
		break;
	case SF_END_PROTOCOL:
		put_who(b, w, 1);
		sb_puts(b, " does not speak SMTP: ");
		put_reason(b, cv);
		sb_puts(b, ",");
		put_step(b, cv);
		sb_puts(b, " (it sent \"");
		if (cv->line != NULL)
			sb_putn(b, cv->line, cv->line_len);
		sb_puts(b, "\")");
		break;
	case SF_END_TOO_MUCH:
		put_who(b, w, 1);
		sb_puts(b, " sent more than ");
		sb_putz(b, SF_CONN_BYTES_MAX);
		sb_puts(b, " bytes");
		put_step(b, cv);
		break;
	case SF_END_UNSOLICITED:
		put_who(b, w, 1);
		sb_puts(b, " sent a reply before the command it answers,");
		put_step(b, cv);
		break;
	case SF_END_CLEARTEXT_AFTER_STARTTLS:
		put_who(b, w, 1);
		sb_puts(b, " sent clear-text data after agreeing to STARTTLS, before the TLS"
			   " handshake (RFC 3207 5 forbids it)");
		break;
	case SF_END_TLS_FAILED:
		sb_puts(b, "TLS handshake with ");
		put_who(b, w, 1);
		sb_puts(b, " failed: ");
		put_reason(b, cv);
		break;
	case SF_END_IO_ERROR:
		sb_puts(b, "network error with ");
		put_who(b, w, 1);
		put_step(b, cv);
		sb_puts(b, ": ");
		put_reason(b, cv);
		break;
	case SF_END_LOCAL:
		sb_puts(b, "this host failed to check ");
		put_who(b, w, 1);
		sb_puts(b, ": ");
		put_reason(b, cv);
		break;
	case SF_END_COMPLETE:
	default:
		sb_puts(b, "the conversation ended in an unknown way");
		break;
	}
}

/* A conversation that could not be held; prefix names which one. */
static int judge_end(const struct sf_verdict_input *in, const struct sf_conv *cv,
		     const char *prefix, struct sf_verdict *v)
{
	struct sbuf b = {0};
	struct sf_finding *f;

	if (cv->end == SF_END_COMPLETE)
		return 0;
	struct who w = {in->target, in->address, in->timeout};

	sb_puts(&b, prefix);
	describe_end(&b, &w, cv);
	f = finding_add(v, cv->end == SF_END_LOCAL ? SF_FIND_LOCAL : SF_FIND_SESSION_FAILED, NULL, &b);
	if (f == NULL)
		return -1;
	if (cv->end == SF_END_PROTOCOL && cv->line != NULL)
		return evidence_add(f, cv->line, cv->line_len);
	return 0;
}

/* The server's own "go away": a greeting that is not 220, or a 421 to any
 * command but QUIT (RFC 5321 3.8: the server is closing). */
static int judge_server_said(const struct sf_verdict_input *in, enum sf_kind k,
			     const struct sf_reply *r, const char *what, struct sf_verdict *v)
{
	struct sbuf b = {0};
	struct sf_finding *f;

	put_target(&b, in, 0);
	sb_puts(&b, what);
	sb_putn(&b, r->lines[0].raw, r->lines[0].len);
	sb_puts(&b, "\"");
	f = finding_add(v, k, NULL, &b);
	return f == NULL ? -1 : evidence_reply(f, r);
}

/* --- a mask that broke the greeting (doc/inspection-boxes.md 1.4) ----------- */

#define BROKEN_LINES_MAX 16U /* greeting lines kept as evidence */

/* 1 if conversation cv ended because a whole-line mask broke the greeting's
 * syntax; *box (if not NULL) is the box it points to. */
static int greeting_broken(const struct sf_conv *cv, const struct sf_box **box)
{
	const char *raw = cv->greeting_raw != NULL ? cv->greeting_raw : cv->line;
	size_t len = cv->greeting_raw != NULL ? cv->greeting_raw_len : cv->line_len;

	if (cv->end != SF_END_PROTOCOL || !cv->in_greeting)
		return 0;
	return sf_greeting_mask_broken(raw, len, box);
}

/* The greeting a mask made unparseable: CRITICAL whatever --banner-masked
 * says, as the session could not be held (no client gets past it). */
static int judge_banner_broken(const struct sf_conv *cv, const struct sf_box *box,
			       struct sf_verdict *v)
{
	const char *raw = cv->greeting_raw != NULL ? cv->greeting_raw : cv->line;
	size_t len = cv->greeting_raw != NULL ? cv->greeting_raw_len : cv->line_len;
	struct sbuf b = {0};
	struct sf_finding *f;
	size_t pos = 0;

	v->banner_masked = 1;
	sb_puts(&b, "greeting banner masked over the whole line (");
	sb_puts(&b, len > 3 && raw[3] == '*' ? "the separator after 220 masked"
					     : "a continuation line lost its code");
	sb_puts(&b, "): clients cannot parse it, no mail gets past the greeting");
	f = finding_add(v, SF_FIND_BANNER_MASKED, box, &b);
	if (f == NULL)
		return -1;
	f->state = SF_CRITICAL;
	f->fixed = 1;
	while (pos < len && f->nevidence < BROKEN_LINES_MAX) {
		const char *lf = memchr(raw + pos, '\n', len - pos);
		size_t end = lf != NULL ? (size_t)(lf - raw) : len;
		size_t n = end - pos;

		if (n > 0 && raw[pos + n - 1] == '\r')
			n--;
		if (evidence_add(f, raw + pos, n) < 0)
			return -1;
		pos = end + 1;
	}
	return 0;
}

/* --- proxies that show themselves (doc/inspection-boxes.md 5.2) ---------- */

/* A benign proxy named by the greeting or by a keyword of its own in the
 * EHLO list: one note with the lines that show it. */
static int judge_proxy(const struct sf_reply *g, const struct sf_reply *r, const struct sf_ehlo *e,
		       struct sf_verdict *v)
{
	const struct sf_box *box = NULL;
	size_t gline = 0, kline = 0;
	struct sbuf b = {0};
	struct sf_finding *f;

	for (size_t i = 0; g != NULL && i < g->nlines && box == NULL; i++) {
		size_t n;
		const char *t = sf_reply_text(g, i, &n);
		const struct sf_box *x = sf_fingerprint_banner(t, n);

		if (x != NULL && x->benign) {
			box = x;
			gline = i + 1;
		}
	}
	for (size_t i = 0; e != NULL && i < e->next && kline == 0; i++) {
		const struct sf_box *x = sf_fingerprint_keyword(e->ext[i].keyword,
								strlen(e->ext[i].keyword));

		if (x != NULL && (box == NULL || x == box) && e->ext[i].line < r->nlines) {
			box = x;
			kline = e->ext[i].line + 1;
		}
	}
	if (box == NULL)
		return 0;
	sb_puts(&b, gline && kline ? "greeting and EHLO reply show " : gline ? "greeting shows "
										   : "EHLO reply shows ");
	sb_puts(&b, box->name);
	sb_puts(&b, ": a proxy in the path, not a fault by itself");
	f = finding_add(v, SF_FIND_PROXY, box, &b);
	if (f == NULL || (gline && evidence_line(f, g, gline - 1) < 0))
		return -1;
	return kline ? evidence_line(f, r, kline - 1) : 0;
}

/* --- the DATA-phase witness (--probe=data, doc/inspection-boxes.md 4.1) ------ */

/* What message part n (1-based) carried past a policy, in words. */
static void witness_part(struct sbuf *b, size_t n)
{
	if (n <= 1) {
		sb_puts(b, "a message header line of ");
		sb_putz(b, SF_WITNESS_HEADER_LINE);
		sb_puts(b, " octets");
	} else {
		sb_puts(b, "a MIME file name of ");
		sb_putz(b, SF_WITNESS_FILE_NAME);
		sb_puts(b, " octets");
	}
}

/* The policy of the ASA's default ESMTP map that part n crosses. */
static const char *witness_policy(size_t n)
{
	return n <= 1 ? "header lines over 998 octets"
		      : "MIME file names over 255 octets, so attachments with long names never arrive";
}

static int judge_witness(const struct sf_witness *w, struct sf_verdict *v)
{
	struct sbuf b = {0};
	struct sf_finding *f;
	enum sf_kind k = SF_FIND_DATA_NOTE;
	const struct sf_box *box = NULL;

	switch (w->end) {
	case SF_WITNESS_REFUSED:
		sb_puts(&b, "DATA witness skipped: the server refused ");
		sb_puts(&b, w->refused_cmd != NULL ? w->refused_cmd : "the transaction");
		if (w->refused != NULL) {
			sb_puts(&b, " (");
			sb_putz(&b, (size_t)w->refused->code);
			sb_puts(&b, ")");
		}
		break;
	case SF_WITNESS_PASSED:
		sb_puts(&b, "DATA witness: ");
		witness_part(&b, 1);
		sb_puts(&b, " and ");
		witness_part(&b, 2);
		sb_puts(&b, " passed (no reset within ");
		put_seconds(&b, w->wait, 0);
		sb_puts(&b, " s each); closed before the end of data, nothing delivered");
		break;
	case SF_WITNESS_CUT:
		sb_puts(&b, "DATA witness cut short by the timeout after ");
		witness_part(&b, w->parts);
		break;
	case SF_WITNESS_REPLIED:
		sb_puts(&b, "DATA witness: the server itself ");
		if (w->reply != NULL) {
			sb_puts(&b, "answered ");
			sb_putz(&b, (size_t)w->reply->code);
		} else {
			sb_puts(&b, "began a reply");
		}
		sb_puts(&b, " after ");
		witness_part(&b, w->parts);
		sb_puts(&b, ": its own policy, not the path's");
		break;
	case SF_WITNESS_DROPPED:
		k = SF_FIND_DATA_DROPPED;
		box = sf_box_get(SF_BOX_CISCO_ASA);
		sb_puts(&b, w->reset ? "connection reset" : "connection closed");
		sb_puts(&b, " with no reply after ");
		witness_part(&b, w->parts);
		sb_puts(&b, " (DATA witness): the ASA's default ESMTP policy drops ");
		sb_puts(&b, witness_policy(w->parts));
		break;
	case SF_WITNESS_NONE:
	default:
		return 0;
	}
	f = finding_add(v, k, box, &b);
	if (f == NULL)
		return -1;
	if (w->end == SF_WITNESS_REFUSED)
		return evidence_reply(f, w->refused);
	if (w->end == SF_WITNESS_REPLIED)
		return evidence_reply(f, w->reply);
	if (w->end == SF_WITNESS_DROPPED) {
		struct sbuf e = {0};
		char *line;
		int rc;

		if (evidence_reply(f, w->data) < 0)
			return -1;
		sb_puts(&e, "-- then message part ");
		sb_putz(&e, w->parts);
		sb_puts(&e, " with ");
		witness_part(&e, w->parts);
		sb_puts(&e, w->reset ? ", and a reset" : ", and a close");
		line = sb_take(&e);
		if (line == NULL)
			return -1;
		rc = evidence_add(f, line, strlen(line));
		free(line);
		return rc;
	}
	return 0;
}

/* --- the table of judges ------------------------------------------------------ */

/* The facts every judge reads, the EHLO lists parsed once. */
struct ctx {
	const struct sf_verdict_input *in;
	const struct sf_ehlo *e;       /* EHLO's list when EHLO worked (2xx, not NOOP-like) */
	const struct sf_ehlo *etls;    /* the list inside TLS, or NULL */
	const struct sf_ehlo *eref;    /* the reference path's list, or NULL */
	const struct sf_box *ehlo_box; /* what a failed EHLO points to, or NULL */
	int broken;                    /* a mask broke the greeting's syntax (conv) */
	const struct sf_box *broken_box;
	struct sf_ehlo *own[3];        /* lists parsed here because the input had none */
};

/* 1 if r is a reply that can be read as an EHLO list: 250 (RFC 5321
 * 4.1.1.1 allows no other success code for EHLO) and not a NOOP's answer. */
static int list_reply(const struct sf_reply *r)
{
	return r != NULL && r->code == 250 && !sf_reply_is_noop_like(r);
}

/* The list of r: the input's own, or parsed into c->own[slot]. 0, or -1
 * if out of memory. */
static int ctx_list(struct ctx *c, const struct sf_reply *r, const struct sf_ehlo *given,
		    size_t slot, const struct sf_ehlo **out)
{
	*out = NULL;
	if (!list_reply(r))
		return 0;
	if (given != NULL) {
		*out = given;
		return 0;
	}
	if (sf_ehlo_parse(r, &c->own[slot]) < 0)
		return -1;
	*out = c->own[slot];
	return 0;
}

static int ctx_prepare(struct ctx *c, const struct sf_verdict_input *in)
{
	memset(c, 0, sizeof *c);
	c->in = in;
	if (ctx_list(c, in->ehlo, in->ehlo_list, 0, &c->e) < 0 ||
	    ctx_list(c, in->ehlo_tls, in->ehlo_tls_list, 1, &c->etls) < 0 ||
	    ctx_list(c, in->ref_ehlo, in->ref_ehlo_list, 2, &c->eref) < 0)
		return -1;
	c->broken = greeting_broken(&in->conv, &c->broken_box);
	/* a NOOP's answer, or an X-ed EHLO refused: PIX MailGuard */
	if (in->ehlo != NULL && (sf_reply_is_noop_like(in->ehlo) ||
				 (in->ehlo->code != 250 && reply_has_x_echo(in->ehlo))))
		c->ehlo_box = sf_box_get(SF_BOX_PIX_MAILGUARD);
	return 0;
}

static void ctx_release(struct ctx *c)
{
	for (size_t i = 0; i < sizeof c->own / sizeof c->own[0]; i++)
		sf_ehlo_free(c->own[i]);
}

static int j_session(const struct ctx *c, struct sf_verdict *v)
{
	/* a mask that broke the greeting is j_banner_broken's, not "not SMTP" */
	if (!c->broken && judge_end(c->in, &c->in->conv, "", v) < 0)
		return -1;
	if (c->in->tls_conv == NULL || (c->broken && greeting_broken(c->in->tls_conv, NULL)))
		return 0;
	return judge_end(c->in, c->in->tls_conv, "STARTTLS session: ", v);
}

static int j_greeting(const struct ctx *c, struct sf_verdict *v)
{
	const struct sf_reply *g = c->in->greeting;

	if (g == NULL || g->code == 220)
		return 0;
	return judge_server_said(c->in, SF_FIND_GREETING_REFUSED, g,
				 " refuses the session: greeting \"", v);
}

static int j_closed(const struct ctx *c, struct sf_verdict *v)
{
	const struct sf_verdict_input *in = c->in;
	const struct sf_reply *r[4] = {in->ehlo, in->helo, in->starttls, in->ehlo_tls};

	for (size_t i = 0; i < 4 + in->nprobes; i++) {
		const struct sf_reply *x = i < 4 ? r[i] : in->probes[i - 4].reply;
		if (x != NULL && x->code == 421)
			return judge_server_said(in, SF_FIND_SERVER_CLOSED, x,
						 " ended the session itself: \"", v);
	}
	return 0;
}

static int j_banner(const struct ctx *c, struct sf_verdict *v)
{
	return c->in->greeting == NULL ? 0 : judge_banner(c->in->greeting, v);
}

static int j_noop(const struct ctx *c, struct sf_verdict *v)
{
	const struct sf_box *box;

	if (c->in->ehlo == NULL || !sf_reply_is_noop_like(c->in->ehlo))
		return 0;
	return judge_noop(c->in, v, &box);
}

static int j_refused(const struct ctx *c, struct sf_verdict *v)
{
	const struct sf_reply *r = c->in->ehlo;
	const struct sf_box *box;

	if (r == NULL || r->code == 250)
		return 0;
	return judge_refused(c->in, v, &box);
}

static int j_masked(const struct ctx *c, struct sf_verdict *v)
{
	if (c->e == NULL)
		return 0;
	v->extensions = (unsigned)c->e->next;
	v->masked_extensions = (unsigned)ext_masked_count(c->e);
	return judge_masked(c->in->ehlo, c->e, v);
}

static int j_missing(const struct ctx *c, struct sf_verdict *v)
{
	if (c->in->ehlo == NULL)
		return 0;
	return judge_missing(c->in, c->e, c->etls, c->e != NULL ? NULL : c->ehlo_box, v);
}

static int j_inconsistent(const struct ctx *c, struct sf_verdict *v)
{
	return c->e == NULL ? 0 : judge_inconsistent(c->in->ehlo, c->e, v);
}

/* The reply to STARTTLS when it was sent and answered, else NULL. */
static const struct sf_reply *starttls_reply(const struct ctx *c)
{
	return c->in->starttls_tried ? c->in->starttls : NULL;
}

static int j_starttls(const struct ctx *c, struct sf_verdict *v)
{
	const struct sf_reply *r = starttls_reply(c);

	return r == NULL || r->code == 220 ? 0 : judge_starttls_refused(c->in, c->e, v);
}

static int j_tls_failed(const struct ctx *c, struct sf_verdict *v)
{
	const struct sf_reply *r = starttls_reply(c);

	return r == NULL || r->code != 220 || c->in->tls_error == NULL ? 0 : judge_tls_failed(c->in, v);
}

static int j_stripped(const struct ctx *c, struct sf_verdict *v)
{
	const struct sf_reply *r = starttls_reply(c);

	if (r == NULL || r->code != 220 || c->in->tls_error != NULL || c->etls == NULL)
		return 0;
	v->tls_extensions = (unsigned)c->etls->next;
	return judge_stripped(c->in, c->e, c->etls, v);
}

/* Inside TLS no box rewrites anything: an EHLO there answered with
 * anything but 250 is the server's own failure, and leaves no list to
 * compare with. */
static int j_ehlo_tls(const struct ctx *c, struct sf_verdict *v)
{
	const struct sf_reply *r = c->in->ehlo_tls;
	struct sbuf b = {0};
	struct sf_finding *f;

	if (starttls_reply(c) == NULL || r == NULL || list_reply(r))
		return 0;
	sb_puts(&b, "EHLO inside TLS not answered with an EHLO reply (server answered ");
	sb_putz(&b, (size_t)r->code);
	sb_puts(&b, r->code == 250 ? " like NOOP)" : "; only 250 answers EHLO: RFC 5321 4.1.1.1)");
	f = finding_add(v, SF_FIND_EHLO_TLS_REFUSED, NULL, &b);
	return f == NULL ? -1 : evidence_reply(f, r);
}

static int j_probes(const struct ctx *c, struct sf_verdict *v)
{
	for (size_t i = 0; i < c->in->nprobes; i++)
		if (judge_probe(&c->in->probes[i], c->e, c->etls, v) < 0)
			return -1;
	return 0;
}

static int j_fingerprint(const struct ctx *c, struct sf_verdict *v)
{
	return c->in->greeting == NULL ? 0 : judge_fingerprint(c->in->greeting, v);
}

/* 1 if the reference path gave something to compare with. */
static int ref_usable(const struct sf_verdict_input *in)
{
	return in->ref_greeting != NULL && in->ref_greeting->code == 220 && in->ref_problem == NULL &&
	       (in->ref_conv == NULL || in->ref_conv->end == SF_END_COMPLETE);
}

/* 1 if this host failed the checked conversation (out of memory, no
 * descriptor): what it did not read is no evidence against the reference
 * or the baseline. */
static int checked_local(const struct sf_verdict_input *in)
{
	return in->conv.end == SF_END_LOCAL || (in->tls_conv != NULL && in->tls_conv->end == SF_END_LOCAL);
}

static int j_ref_banner(const struct ctx *c, struct sf_verdict *v)
{
	if (!ref_usable(c->in) || c->in->greeting == NULL || checked_local(c->in))
		return 0;
	return judge_ref_banner(c->in, v);
}

static int j_ref_missing(const struct ctx *c, struct sf_verdict *v)
{
	if (!ref_usable(c->in) || c->in->greeting == NULL || c->eref == NULL || checked_local(c->in))
		return 0;
	return judge_ref_missing(c->in, c->e, c->eref, v);
}

/* --reference: a path that could not be reached, held or that refused
 * the session gives nothing to compare with: UNKNOWN, not a finding about
 * the checked path. */
static int j_ref_unusable(const struct ctx *c, struct sf_verdict *v)
{
	const struct sf_verdict_input *in = c->in;
	struct who w = {in->ref_target, in->ref_address, in->timeout};
	struct sbuf b = {0};

	sb_puts(&b, "no comparison with the reference path: ");
	if (in->ref_problem != NULL) {
		sb_puts(&b, in->ref_problem);
	} else if (in->ref_conv != NULL && in->ref_conv->end != SF_END_COMPLETE) {
		describe_end(&b, &w, in->ref_conv);
	} else if (in->ref_conv != NULL && (in->ref_greeting == NULL || in->ref_greeting->code != 220)) {
		put_who(&b, &w, 1);
		sb_puts(&b, " refuses the session");
	} else {
		free(sb_take(&b));
		return 0;
	}
	return finding_add(v, SF_FIND_REF_UNUSABLE, NULL, &b) == NULL ? -1 : 0;
}

static int j_banner_broken(const struct ctx *c, struct sf_verdict *v)
{
	return c->broken ? judge_banner_broken(&c->in->conv, c->broken_box, v) : 0;
}

static int j_proxy(const struct ctx *c, struct sf_verdict *v)
{
	return judge_proxy(c->in->greeting, c->in->ehlo, c->e, v);
}

static int j_witness(const struct ctx *c, struct sf_verdict *v)
{
	return c->in->witness == NULL ? 0 : judge_witness(c->in->witness, v);
}

static int j_baseline(const struct ctx *c, struct sf_verdict *v)
{
	return checked_local(c->in) ? 0 : judge_baseline(c->in, c->e, v);
}

static int j_time(const struct ctx *c, struct sf_verdict *v)
{
	const struct sf_verdict_input *in = c->in;
	struct sbuf b = {0};
	struct sf_finding *f;

	if (in->conv.end != SF_END_COMPLETE || in->time_state == SF_OK)
		return 0;
	sb_puts(&b, "response time ");
	put_seconds(&b, in->time_total, 1);
	sb_puts(&b, in->time_state == SF_CRITICAL ? " s over the critical threshold"
						  : " s over the warning threshold");
	f = finding_add(v, SF_FIND_RESPONSE_TIME, NULL, &b);
	if (f == NULL)
		return -1;
	f->state = in->time_state;
	return 0;
}

/* The judges, in the order their findings are listed among equal states. */
static const struct judge {
	/* cppcheck-suppress unusedStructMember ; the table says what each row judges */
	enum sf_kind kind; /* the kind it adds (j_session may add SF_FIND_LOCAL, j_starttls
			    * SF_FIND_STARTTLS_MISSING) */
	int (*fn)(const struct ctx *c, struct sf_verdict *v);
} judges[] = {
	{SF_FIND_SESSION_FAILED, j_session},
	{SF_FIND_GREETING_REFUSED, j_greeting},
	{SF_FIND_SERVER_CLOSED, j_closed},
	{SF_FIND_BANNER_MASKED, j_banner},
	{SF_FIND_BANNER_MASKED, j_banner_broken},
	{SF_FIND_EHLO_NOOP, j_noop},
	{SF_FIND_EHLO_REFUSED, j_refused},
	{SF_FIND_EXT_MASKED, j_masked},
	{SF_FIND_EXT_MISSING, j_missing},
	{SF_FIND_EXT_INCONSISTENT, j_inconsistent},
	{SF_FIND_STARTTLS_REFUSED, j_starttls},
	{SF_FIND_TLS_FAILED, j_tls_failed},
	{SF_FIND_EXT_STRIPPED, j_stripped},
	{SF_FIND_EHLO_TLS_REFUSED, j_ehlo_tls},
	{SF_FIND_PROBE, j_probes},
	{SF_FIND_DATA_DROPPED, j_witness},
	{SF_FIND_FINGERPRINT, j_fingerprint},
	{SF_FIND_PROXY, j_proxy},
	{SF_FIND_REF_BANNER, j_ref_banner},
	{SF_FIND_REF_MISSING, j_ref_missing},
	{SF_FIND_REF_UNUSABLE, j_ref_unusable},
	{SF_FIND_BASELINE_CHANGED, j_baseline},
	{SF_FIND_RESPONSE_TIME, j_time},
};

/* --- putting it together ------------------------------------------------------ */

static struct sf_finding *finding_of(struct sf_verdict *v, enum sf_kind k)
{
	for (size_t i = 0; i < v->nfindings; i++)
		if (v->findings[i].kind == k)
			return &v->findings[i];
	return NULL;
}

/* Findings seen together say more than each alone. A banner of '*' only
 * fits an ASA or a PIX whose banner had no '2' or '0'; but the ASA knows
 * EHLO: a failed EHLO beside a masked banner is a PIX, and the failure is
 * then the box's doing even without an X echo. */
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

/* The user's overrides, for the kinds that have an option. */
static void apply_overrides(const struct sf_verdict_input *in, struct sf_verdict *v)
{
	for (size_t i = 0; i < v->nfindings; i++) {
		struct sf_finding *f = &v->findings[i];
		if (in->state_of != NULL && kinds[f->kind].option != NULL && !f->fixed)
			f->state = in->state_of[f->kind];
	}
}

#define PIECE_MAX 600U /* escaped octets of one summary in the line */

static void put_escaped(struct sbuf *b, const char *s)
{
	char piece[PIECE_MAX];

	sf_escape(piece, sizeof piece, s, strlen(s));
	sb_puts(b, piece);
}

/* This check in one line: what is not OK, worst first, and the box they
 * point to; or that nothing was seen; then the notes (findings whose state
 * is OK). */
static int compose_line(const struct sf_verdict_input *in, struct sf_verdict *v)
{
	const struct sf_box *box = NULL;
	struct sbuf b = {0};
	size_t bad = 0;

	for (size_t i = 0; i < v->nfindings; i++) {
		const struct sf_finding *f = &v->findings[i];
		if (f->state == SF_OK)
			continue;
		sb_puts(&b, bad++ ? "; " : "");
		put_escaped(&b, f->summary);
		if (box == NULL)
			box = f->box;
	}
	if (bad > 0 && box != NULL) {
		sb_puts(&b, " - looks like ");
		sb_puts(&b, box->name);
	}
	if (bad == 0) {
		struct sbuf t = {0};
		char *name;
		put_target(&t, in, 1);
		name = sb_take(&t);
		if (name == NULL)
			return -1;
		put_escaped(&b, name);
		free(name);
		sb_puts(&b, ": no SMTP inspection seen, ");
		sb_putz(&b, v->extensions);
		sb_puts(&b, v->extensions == 1 ? " ESMTP extension, " : " ESMTP extensions, ");
		put_seconds(&b, in->time_total, 1);
		sb_puts(&b, " s");
	}
	for (size_t i = 0; i < v->nfindings; i++) {
		if (v->findings[i].state != SF_OK)
			continue;
		sb_puts(&b, "; note: ");
		put_escaped(&b, v->findings[i].summary);
	}
	v->line = sb_take(&b);
	return v->line == NULL ? -1 : 0;
}

/* --- the headline (issue: an alert read at a glance) ---------------------- */

/* A kind whose summary names the server and says what it did: a cause
 * that leads the headline when no box is in sight. */
static int is_cause(enum sf_kind k)
{
	return k == SF_FIND_SESSION_FAILED || k == SF_FIND_GREETING_REFUSED ||
	       k == SF_FIND_SERVER_CLOSED || k == SF_FIND_LOCAL || k == SF_FIND_REF_UNUSABLE ||
	       k == SF_FIND_EHLO_TLS_REFUSED || k == SF_FIND_RESPONSE_TIME;
}

/* The text of s between after and before (either may be absent), into buf. */
static void between(const char *s, const char *after, const char *before, char *buf, size_t bufsz)
{
	const char *a = after != NULL ? strstr(s, after) : NULL;
	const char *b;
	size_t n;

	a = a != NULL && after != NULL ? a + strlen(after) : s;
	b = before != NULL ? strstr(a, before) : NULL;
	n = b != NULL ? (size_t)(b - a) : strlen(a);
	snprintf(buf, bufsz, "%.*s", (int)(n < 200 ? n : 200), a);
}

/* The verb of the probe a finding is about (its first evidence line). */
static void probe_verb(const struct sf_finding *f, char *buf, size_t bufsz)
{
	const char *sent = f->nevidence > 0 ? f->evidence[0] : "a probe";

	snprintf(buf, bufsz, "%.*s", (int)sf_token_end(sent, strlen(sent), 0), sent);
}

void sf_finding_brief(const struct sf_verdict *v, const struct sf_finding *f, char *buf, size_t bufsz)
{
	char part[256];

	switch (f->kind) {
	case SF_FIND_BANNER_MASKED:
		snprintf(buf, bufsz, "%s", f->box == sf_box_get(SF_BOX_PIX4) ? "greeting replaced by \"SMTP/cmap ready\""
					   : strstr(f->summary, "whole line") != NULL
						   ? "greeting masked over the whole line: clients cannot parse it"
						   : "greeting masked");
		break;
	case SF_FIND_DATA_DROPPED:
		/* "connection reset with no reply after a message header line of 1000 octets" */
		between(f->summary, NULL, " (DATA witness)", part, sizeof part);
		snprintf(buf, bufsz, "%s", part);
		break;
	case SF_FIND_DATA_NOTE:
		snprintf(buf, bufsz, "%s", f->summary);
		break;
	case SF_FIND_PROXY:
		snprintf(buf, bufsz, "%s", f->box != NULL ? f->box->name : "an SMTP proxy");
		break;
	case SF_FIND_EXT_MASKED:
		if (v->masked_extensions > 0)
			snprintf(buf, bufsz, "%u of %u extensions masked", v->masked_extensions, v->extensions);
		else
			snprintf(buf, bufsz, "EHLO reply masked");
		break;
	case SF_FIND_EHLO_REFUSED:
		/* "EHLO refused (server answered 502)", without the HELO clause */
		between(f->summary, NULL, ";", part, sizeof part);
		if (strstr(part, "X's") != NULL)
			between(part, "X's ", NULL, part, sizeof part), snprintf(buf, bufsz, "EHLO X-ed %s", part);
		else
			snprintf(buf, bufsz, "%s", part);
		break;
	case SF_FIND_EHLO_NOOP:
		snprintf(buf, bufsz, "EHLO turned into NOOP");
		break;
	case SF_FIND_EXT_MISSING:
		between(f->summary, NULL, " not offered", part, sizeof part);
		snprintf(buf, bufsz, "%s missing", part);
		break;
	case SF_FIND_EXT_INCONSISTENT:
		between(f->summary, NULL, " (", part, sizeof part);
		snprintf(buf, bufsz, "%s", part);
		break;
	case SF_FIND_FINGERPRINT:
		snprintf(buf, bufsz, "%s", f->box != NULL ? f->box->name : "an SMTP proxy");
		break;
	case SF_FIND_EXT_STRIPPED:
		if (strstr(f->summary, ": STARTTLS") != NULL)
			snprintf(buf, bufsz, "STARTTLS hidden%s", v->stripped_extensions > 1 ? " and more" : "");
		else
			snprintf(buf, bufsz, "%u extension%s hidden outside TLS", v->stripped_extensions,
				 v->stripped_extensions == 1 ? "" : "s");
		break;
	case SF_FIND_STARTTLS_REFUSED:
		snprintf(buf, bufsz, "STARTTLS blocked");
		break;
	case SF_FIND_TLS_FAILED:
		between(f->summary, "STARTTLS accepted but the ", NULL, part, sizeof part);
		snprintf(buf, bufsz, "%s", part);
		break;
	case SF_FIND_STARTTLS_MISSING:
		snprintf(buf, bufsz, "no STARTTLS");
		break;
	case SF_FIND_PROBE:
		probe_verb(f, part, sizeof part);
		snprintf(buf, bufsz, "%s %s", part,
			 strstr(f->summary, "dropped") != NULL ? "dropped"
			 : strstr(f->summary, "X's") != NULL ? "X-ed" : "rewritten");
		break;
	case SF_FIND_REF_MISSING:
		snprintf(buf, bufsz, "%u extension%s missing against the reference", v->reference_missing,
			 v->reference_missing == 1 ? "" : "s");
		break;
	case SF_FIND_REF_BANNER:
		snprintf(buf, bufsz, "greeting differs from the reference");
		break;
	case SF_FIND_BASELINE_CHANGED:
		if (v->baseline_gone > 0)
			snprintf(buf, bufsz, "%u extension%s gone since the baseline%s", v->baseline_gone,
				 v->baseline_gone == 1 ? "" : "s",
				 strstr(f->summary, "greeting changed") ? ", greeting changed" : "");
		else
			snprintf(buf, bufsz, "greeting changed since the baseline");
		break;
	case SF_FIND_PROBE_REFUSED:
		between(f->summary, NULL, ": its own policy", part, sizeof part);
		snprintf(buf, bufsz, "%s", part);
		break;
	default:
		snprintf(buf, bufsz, "%s", is_cause(f->kind) ? f->summary : kinds[f->kind].title);
		break;
	}
}

size_t sf_fit_items(const char *lead, const char *const *items, size_t nitems, size_t budget,
		    char *out, size_t outsz)
{
	size_t len, i;

	if (outsz == 0)
		return 0;
	if (budget >= outsz)
		budget = outsz - 1;
	snprintf(out, budget + 1, "%s", lead);
	len = strlen(out);
	for (i = 0; i < nitems; i++) {
		char more[32];
		size_t ilen = strlen(items[i]), sep = i ? 2 : 0;
		size_t rest = nitems - i - 1;
		/* room for this item, and for " (+N more)" if some are left */
		size_t tail = rest ? (size_t)snprintf(more, sizeof more, " (+%zu more)", rest) : 0;

		if (len + sep + ilen + tail <= budget) {
			len += (size_t)snprintf(out + len, outsz - len, "%s%s", sep ? ", " : "", items[i]);
			continue;
		}
		if (i == 0 && len + 3 + tail + 8 <= budget) {
			/* the first item is the conclusion: cut it, never drop it */
			size_t keep = budget - len - 3 - (nitems > 1 ? (size_t)snprintf(more, sizeof more, " (+%zu more)", nitems - 1) : 0);
			len += (size_t)snprintf(out + len, outsz - len, "%.*s...", (int)keep, items[0]);
			i = 1;
		}
		break;
	}
	if (i < nitems && len < budget)
		len += (size_t)snprintf(out + len, outsz - len, " (+%zu more)", nitems - i);
	if (len > budget) {
		len = budget;
		out[len] = '\0';
	}
	return len;
}

#define BRIEF_MAX 640U
#define HEADLINE_NAME_MAX 64U /* octets of the target's name in a headline */

/* The headline: the box and where, or the cause, or the target; then the
 * short forms of what is not OK, worst first, as many as fit. A clean
 * check keeps its short OK line. */
static int compose_headline(const struct sf_verdict_input *in, struct sf_verdict *v)
{
	char lead[2 * BRIEF_MAX + 64], out[SF_HEADLINE_MAX + 1], name[BRIEF_MAX];
	char (*brief)[BRIEF_MAX] = NULL;
	const char **items = NULL;
	const struct sf_box *box = NULL;
	size_t n = 0, first_cause = (size_t)-1;

	if (v->state == SF_OK) {
		size_t nn = v->nfindings;
		/* the OK line: what was seen, then the notes that fit */
		between(v->line, NULL, "; note: ", lead, sizeof lead);
		brief = calloc(nn ? nn : 1, sizeof *brief);
		items = calloc(nn ? nn : 1, sizeof *items);
		if (brief == NULL || items == NULL)
			goto nomem;
		for (size_t i = 0; i < nn; i++) {
			char tmp[BRIEF_MAX];
			sf_finding_brief(v, &v->findings[i], tmp, sizeof tmp);
			snprintf(brief[i], BRIEF_MAX, "note: ");
			sf_escape(brief[i] + 6, BRIEF_MAX - 6, tmp, strlen(tmp));
			items[i] = brief[i];
		}
		if (nn > 0 && strlen(lead) + 2 < sizeof lead)
			strncat(lead, "; ", sizeof lead - strlen(lead) - 1);
		sf_fit_items(lead, items, nn, SF_HEADLINE_MAX, out, sizeof out);
		goto done;
	}
	brief = calloc(v->nfindings, sizeof *brief);
	items = calloc(v->nfindings, sizeof *items);
	if (brief == NULL || items == NULL)
		goto nomem;
	for (size_t i = 0; i < v->nfindings; i++) {
		const struct sf_finding *f = &v->findings[i];
		char tmp[BRIEF_MAX];
		if (f->state == SF_OK)
			continue;
		if (box == NULL)
			box = f->box;
		if (first_cause == (size_t)-1 && is_cause(f->kind))
			first_cause = n;
		sf_finding_brief(v, f, tmp, sizeof tmp);
		sf_escape(brief[n], BRIEF_MAX, tmp, strlen(tmp));
		items[n] = brief[n];
		n++;
	}
	{
		struct who w = {in->target, NULL, in->timeout};
		struct sbuf t = {0};
		char *raw;
		put_who(&t, &w, 0);
		raw = sb_take(&t);
		if (raw == NULL)
			goto nomem;
		sf_escape(name, sizeof name, raw, strlen(raw));
		free(raw);
		/* a long name must leave room for the conclusion */
		if (strlen(name) > HEADLINE_NAME_MAX)
			memcpy(name + HEADLINE_NAME_MAX - 3, "...", 4);
	}
	if (box != NULL) {
		snprintf(lead, sizeof lead, "%s on the path to %s: ", box->name, name);
	} else if (first_cause != (size_t)-1) {
		/* no box in sight: the server (or this host) is the cause and
		 * its own words lead */
		const char *cause = items[first_cause];
		memmove(items + 1, items, first_cause * sizeof *items);
		items[0] = cause;
		lead[0] = '\0';
	} else {
		snprintf(lead, sizeof lead, "%s: ", name);
	}
	sf_fit_items(lead, items, n, SF_HEADLINE_MAX, out, sizeof out);
done:
	free(brief);
	free(items);
	v->headline = strdup(out);
	return v->headline == NULL ? -1 : 0;
nomem:
	free(brief);
	free(items);
	return -1;
}

/* The state of the whole, and whether the path shows inspection. */
static void sum_up(struct sf_verdict *v)
{
	v->state = SF_OK;
	for (size_t i = 0; i < v->nfindings; i++) {
		const struct sf_finding *f = &v->findings[i];
		v->state = sf_state_worst(v->state, f->state);
		if (f->state != SF_OK && kinds[f->kind].path)
			v->inspected = 1;
	}
}

int sf_verdict_make(const struct sf_verdict_input *in, struct sf_verdict **out)
{
	struct sf_verdict *v;
	struct ctx c;
	int rc = 0;

	if (in == NULL || out == NULL)
		return -1;
	*out = NULL;
	v = calloc(1, sizeof *v);
	if (v == NULL)
		return -1;
	rc = ctx_prepare(&c, in);
	for (size_t i = 0; rc == 0 && i < sizeof judges / sizeof judges[0]; i++)
		rc = judges[i].fn(&c, v);
	ctx_release(&c);
	if (rc == 0) {
		reconcile_boxes(v);
		apply_overrides(in, v);
		findings_sort(v);
		v->box = main_box(v);
		sum_up(v);
		rc = compose_line(in, v);
		if (rc == 0)
			rc = compose_headline(in, v);
	}
	if (rc != 0) {
		sf_verdict_free(v);
		return -1;
	}
	*out = v;
	return 0;
}

/* --- a domain without a mail server to check (-D) --------------------------- */

int sf_domain_verdict(const char *domain, enum sf_domain d, const char *detail, size_t mx_hosts,
		      enum sf_state *st, char *buf, size_t bufsz)
{
	const char *why = detail != NULL ? detail : "";

	switch (d) {
	case SF_DOMAIN_NXDOMAIN:
		*st = SF_CRITICAL;
		snprintf(buf, bufsz, "%s has no mail server: the domain does not exist (NXDOMAIN)", domain);
		return 1;
	case SF_DOMAIN_NULL_MX:
		*st = SF_CRITICAL;
		snprintf(buf, bufsz, "%s has no mail server: its null MX record says it accepts no mail (RFC 7505)",
			 domain);
		return 1;
	case SF_DOMAIN_LOOKUP_FAILED:
		*st = SF_UNKNOWN;
		snprintf(buf, bufsz, "cannot look up the MX records of %s: %s", domain, why);
		return 1;
	case SF_DOMAIN_NO_MX_NO_ADDRESS:
		*st = SF_CRITICAL;
		snprintf(buf, bufsz, "%s has no mail server: no MX record and no address", domain);
		return 1;
	case SF_DOMAIN_NO_MX_UNRESOLVED:
		*st = SF_UNKNOWN;
		snprintf(buf, bufsz, "%s has no MX record and its address cannot be resolved: %s", domain, why);
		return 1;
	case SF_DOMAIN_NO_HOST_ADDRESS:
		*st = SF_CRITICAL;
		snprintf(buf, bufsz, "%s has no mail server: none of its %zu MX host%s has an address (%s)",
			 domain, mx_hosts, mx_hosts == 1 ? "" : "s", why);
		return 1;
	case SF_DOMAIN_UNUSABLE:
		/* RFC 5321 5.1: the domain's own address stands in only when there
		 * is no MX record at all, not when its records are broken */
		*st = SF_CRITICAL;
		snprintf(buf, bufsz, "%s has no mail server: none of its MX records names a usable host (%s)",
			 domain, why);
		return 1;
	case SF_DOMAIN_MX:
	case SF_DOMAIN_NO_MX:
	default:
		return 0;
	}
}

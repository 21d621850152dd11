/*
 * report.c - status line, perfdata and long output (see report.h).
 *
 * The status line of a single target is its verdict's line; a check of
 * several targets counts those behind inspection and names the others.
 * Long output keeps well under the 8 KB Nagios stores of it: at most
 * EVIDENCE_LINES_MAX evidence lines per finding and EXTENSIONS_SHOWN_MAX
 * extensions per list. Each remedy is printed once.
 */
#include "report.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sf_text.h"
#include "tls.h"

#define SUMMARY_MAX 1024U
#define PERFDATA_MAX 1024U
#define PERFDATA_MULTI_MAX 16384U /* perfdata of a check with several targets */
#define EVIDENCE_MAX 600U         /* escaped octets of one evidence line */
#define EVIDENCE_LINES_MAX 8U     /* evidence lines shown per finding */
#define EXTENSIONS_SHOWN_MAX 48U  /* extensions listed in the long output */

/* A growing text with a fixed cap; appends past the cap are cut. */
struct text {
	char buf[SUMMARY_MAX];
	size_t len;
};

static void text_add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->len >= sizeof t->buf - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(t->buf + t->len, sizeof t->buf - t->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	t->len += (size_t)n;
	if (t->len >= sizeof t->buf)
		t->len = sizeof t->buf - 1;
}

/* raw, escaped, appended to t. */
static void text_escaped(struct text *t, const char *raw)
{
	char ev[EVIDENCE_MAX];

	sf_escape(ev, sizeof ev, raw, strlen(raw));
	text_add(t, "%s", ev);
}

/* The one emit path of every status line: state, text (already escaped),
 * perfdata (may be NULL). */
static void emit_status(enum sf_state st, const char *text, const char *pd)
{
	printf("%s %s - %s%s%s\n", REPORT_PREFIX, sf_state_name(st), text,
	       pd != NULL && pd[0] ? "|" : "", pd != NULL ? pd : "");
}

void report_status(enum sf_state st, const char *text)
{
	struct text t = {{0}, 0};
	char fitted[SF_HEADLINE_MAX + 1];
	const char *item = t.buf;

	text_escaped(&t, text);
	if (t.len <= SF_HEADLINE_MAX) {
		emit_status(st, t.buf, NULL);
		return;
	}
	/* cut to what a notification shows; the whole text follows */
	sf_fit_items("", &item, 1, SF_HEADLINE_MAX, fitted, sizeof fitted);
	emit_status(st, fitted, NULL);
	printf("%s\n", t.buf);
}

static void print_escaped(const char *label, const char *raw, size_t len)
{
	char ev[EVIDENCE_MAX];

	sf_escape(ev, sizeof ev, raw, len);
	printf("%s%s\n", label, ev);
}

/* Long output: each finding with its evidence and, once per box, remedy. */
static void print_findings(const struct sf_verdict *v)
{
	char ev[EVIDENCE_MAX];

	for (size_t n = 0; n < v->nfindings; n++) {
		const struct sf_finding *f = &v->findings[n];
		sf_escape(ev, sizeof ev, f->summary, strlen(f->summary));
		printf("[%s] %s\n", sf_state_name(f->state), ev);
		for (size_t i = 0; i < f->nevidence && i < EVIDENCE_LINES_MAX; i++)
			print_escaped("  seen: ", f->evidence[i], strlen(f->evidence[i]));
		if (f->nevidence > EVIDENCE_LINES_MAX)
			printf("  seen: ... and %zu more lines\n", f->nevidence - EVIDENCE_LINES_MAX);
		if (f->box != NULL) {
			int told = 0; /* the same remedy once is enough */
			for (size_t m = 0; m < n && !told; m++)
				told = v->findings[m].box == f->box;
			printf("  looks like: %s\n", f->box->name);
			if (!told && f->box->remedy[0] != '\0')
				printf("  remedy: %s\n", f->box->remedy);
		}
	}
}

static void print_reply(const char *label, const struct sf_reply *r)
{
	for (size_t i = 0; r != NULL && i < r->nlines; i++)
		print_escaped(i == 0 ? label : "          ", r->lines[i].raw, r->lines[i].len);
}

/* An EHLO list: the keyword lines as received, masked ones marked. */
static void print_extensions(const char *label, const struct sf_reply *r, const struct sf_ehlo *e)
{
	char ev[EVIDENCE_MAX];

	if (r == NULL || e == NULL)
		return;
	printf("%s (%zu):", label, e->next);
	for (size_t i = 0; i < e->next && i < EXTENSIONS_SHOWN_MAX; i++) {
		size_t len = 0;
		const char *text = sf_reply_text(r, e->ext[i].line, &len);
		sf_escape(ev, sizeof ev, text, len);
		printf("%s %s%s", i ? "," : "", ev, e->ext[i].masked ? " (masked)" : "");
	}
	if (e->next > EXTENSIONS_SHOWN_MAX)
		printf(", ... (%zu more)", e->next - EXTENSIONS_SHOWN_MAX);
	printf("\n");
}

static void print_transcript(const struct session_result *r)
{
	printf("Transcript:\n");
	for (size_t i = 0; i < r->ntranscript; i++)
		print_escaped("  ", r->transcript[i], strlen(r->transcript[i]));
	if (r->transcript_nomem > 0)
		printf("  (%zu line%s lost: out of memory)\n", r->transcript_nomem,
		       r->transcript_nomem > 1 ? "s" : "");
	if (r->transcript_over > 0)
		printf("  ... %zu more line%s not kept (the transcript keeps %d)\n", r->transcript_over,
		       r->transcript_over > 1 ? "s" : "", SESSION_TRANSCRIPT_MAX);
}

/* The long output of one target: findings, replies, transcript. */
static void print_details(const struct config *cfg, const struct target *tg,
			  const struct sf_verdict *v)
{
	const struct session_result *r = &tg->sess.r;
	const struct session_result *t = &target_tls_session(tg)->r;

	print_escaped("Target: ", tg->host, strlen(tg->host));
	if (tg->addr_text[0])
		printf("Address: %s, port %s\n", tg->addr_text, tg->port);
	print_findings(v);
	print_reply("Greeting: ", r->greeting);
	print_extensions("Extensions", r->ehlo, r->ehlo_list);
	if (t->tls_desc[0] != '\0')
		printf("TLS: %s (%s)\n", t->tls_desc, tls_library() ? tls_library() : "?");
	print_extensions("Extensions inside TLS", t->ehlo_tls, t->ehlo_tls_list);
	if (cfg->verbose) {
		print_transcript(r);
		if (tg->two_sessions)
			print_transcript(&tg->tls_sess.r);
	}
}

/* One time for perfdata: seconds with 6 decimals, "U" if not measured.
 * Returns the unit to print with it ("s", none for "U"). */
static const char *fmt_time(char *buf, size_t bufsz, double from, double to)
{
	if (from > 0 && to >= from) {
		/* microseconds as integers: glibc's %f costs more than the
		 * rest of the perfdata together */
		unsigned long long us = (unsigned long long)((to - from) * 1e6 + 0.5);
		snprintf(buf, bufsz, "%llu.%06llu", us / 1000000ULL, us % 1000000ULL);
		return "s";
	}
	snprintf(buf, bufsz, "U");
	return "";
}

/* A count for perfdata, "U" when what it counts was not seen. */
static void fmt_count(char *buf, size_t bufsz, int seen, unsigned n)
{
	if (seen)
		snprintf(buf, bufsz, "%u", n);
	else
		snprintf(buf, bufsz, "U");
}

/* sf_perfdata_append with the label after "PREFIX_" when prefix is not
 * empty (a target's host or address when the check has several). */
static void perf_add(char *pd, size_t pdsz, const char *prefix, const char *label,
		     const char *val, const char *uom, const char *warn, const char *crit,
		     const char *min, const char *max)
{
	char full[HOST_MAX + 64];

	if (prefix[0] == '\0') {
		sf_perfdata_append(pd, pdsz, label, val, uom, warn, crit, min, max);
		return;
	}
	snprintf(full, sizeof full, "%s_%s", prefix, label);
	sf_perfdata_append(pd, pdsz, full, val, uom, warn, crit, min, max);
}

/* Append one target's perfdata to pd, labels after prefix (see perf_add). */
static void build_perfdata(const struct config *cfg, const struct target *tg,
			   const struct sf_verdict *v, const char *prefix, char *pd, size_t pdsz)
{
	const struct session_result *r = &tg->sess.r;
	const struct session_result *t = &target_tls_session(tg)->r;
	char val[32];
	const char *uom;

	uom = fmt_time(val, sizeof val, tg->t_begin, target_done(tg));
	perf_add(pd, pdsz, prefix, "time", val, uom, cfg->warn, cfg->crit, "0", NULL);
	uom = fmt_time(val, sizeof val, r->t.start, r->t.connected);
	perf_add(pd, pdsz, prefix, "time_connect", val, uom, NULL, NULL, "0", NULL);
	uom = fmt_time(val, sizeof val, r->t.connected, r->t.greeting);
	perf_add(pd, pdsz, prefix, "time_banner", val, uom, NULL, NULL, "0", NULL);
	uom = fmt_time(val, sizeof val, r->t.ehlo_sent, r->t.ehlo_done);
	perf_add(pd, pdsz, prefix, "time_ehlo", val, uom, NULL, NULL, "0", NULL);
	fmt_count(val, sizeof val, r->ehlo != NULL, v->extensions);
	perf_add(pd, pdsz, prefix, "extensions", val, "", NULL, NULL, "0", NULL);
	fmt_count(val, sizeof val, r->ehlo != NULL, v->masked_extensions);
	perf_add(pd, pdsz, prefix, "masked_extensions", val, "", NULL, NULL, "0", NULL);
	fmt_count(val, sizeof val, r->greeting != NULL || v->banner_masked, (unsigned)v->banner_masked);
	perf_add(pd, pdsz, prefix, "banner_masked", val, "", NULL, NULL, "0", "1");
	if (cfg->ref_host[0] != '\0') {
		fmt_count(val, sizeof val, v->reference_missing > 0 || r->ehlo != NULL,
			  v->reference_missing);
		perf_add(pd, pdsz, prefix, "reference_missing", val, "", NULL, NULL, "0", NULL);
	}
	if (!cfg->starttls)
		return;
	uom = fmt_time(val, sizeof val, t->t.tls_start, t->t.tls_done);
	perf_add(pd, pdsz, prefix, "time_tls", val, uom, NULL, NULL, "0", NULL);
	fmt_count(val, sizeof val, t->ehlo_tls != NULL, v->tls_extensions);
	perf_add(pd, pdsz, prefix, "tls_extensions", val, "", NULL, NULL, "0", NULL);
	fmt_count(val, sizeof val, t->ehlo_tls != NULL, v->stripped_extensions);
	perf_add(pd, pdsz, prefix, "stripped_extensions", val, "", NULL, NULL, "0", NULL);
}

/* The name in target i's perfdata labels: its host, or its address when
 * the host has several targets. */
static const char *perf_label(const struct plan *p, size_t i)
{
	for (size_t k = 0; k < p->n; k++)
		if (k != i && strcmp(p->tg[k].host, p->tg[i].host) == 0)
			return p->tg[i].addr_text;
	return p->tg[i].host;
}

/* Totals of a check with several targets, under the labels of one. */
static void build_totals(const struct config *cfg, const struct plan *p,
			 struct sf_verdict *const *v, char *pd, size_t pdsz)
{
	unsigned masked = 0, banner = 0, stripped = 0;
	double end = 0;
	char val[32];
	const char *uom;

	for (size_t i = 0; i < p->n; i++) {
		if (target_done(&p->tg[i]) > end)
			end = target_done(&p->tg[i]);
		masked += v[i]->masked_extensions;
		banner += v[i]->banner_masked ? 1U : 0U;
		stripped += v[i]->stripped_extensions;
	}
	uom = fmt_time(val, sizeof val, p->t_begin, end);
	perf_add(pd, pdsz, "", "time", val, uom, cfg->warn, cfg->crit, "0", NULL);
	snprintf(val, sizeof val, "%zu", p->n);
	perf_add(pd, pdsz, "", "targets", val, "", NULL, NULL, "0", NULL);
	snprintf(val, sizeof val, "%u", masked);
	perf_add(pd, pdsz, "", "masked_extensions", val, "", NULL, NULL, "0", NULL);
	snprintf(val, sizeof val, "%u", banner);
	perf_add(pd, pdsz, "", "banner_masked", val, "", NULL, NULL, "0", NULL);
	if (cfg->starttls) {
		snprintf(val, sizeof val, "%u", stripped);
		perf_add(pd, pdsz, "", "stripped_extensions", val, "", NULL, NULL, "0", NULL);
	}
}

static const char *role_plural(enum role r)
{
	return r == ROLE_MX ? "MX hosts" : r == ROLE_REFERENCE ? "references" : "addresses";
}

static const char *role_name(enum role r)
{
	return r == ROLE_MX ? "MX host" : r == ROLE_REFERENCE ? "reference" : "address";
}

/* How many of the check's units are behind inspection: MX hosts (one with
 * any address behind a box counts) or, for one host, addresses. */
static void count_inspected(const struct plan *p, struct sf_verdict *const *v, size_t *total,
			    size_t *inspected)
{
	int by_host = p->tg[0].role == ROLE_MX;

	*total = *inspected = 0;
	for (size_t i = 0; i < p->n; i++) {
		int any = v[i]->inspected;
		if (by_host) {
			int seen = 0;
			for (size_t k = 0; k < i && !seen; k++)
				seen = strcmp(p->tg[k].host, p->tg[i].host) == 0;
			if (seen)
				continue; /* counted with its first address */
			for (size_t k = i + 1; k < p->n; k++)
				any |= strcmp(p->tg[k].host, p->tg[i].host) == 0 && v[k]->inspected;
		}
		(*total)++;
		*inspected += any ? 1U : 0U;
	}
}

/* --reference: what the path without the box said, after the rest. */
static void print_reference(const struct plan *p)
{
	char name[HOST_MAX + 16];
	const struct session_result *r;

	if (p->ref == NULL)
		return;
	r = &p->ref->sess.r;
	target_name(p->ref, name, sizeof name);
	printf("Reference path: %s (%s)\n", name, p->ref->addr_text);
	print_reply("Reference greeting: ", r->greeting);
	print_extensions("Reference extensions", r->ehlo, r->ehlo_list);
	print_extensions("Reference extensions inside TLS", r->ehlo_tls, r->ehlo_tls_list);
}

/* The worst target of several: the first with the worst state. */
static size_t worst_target(const struct plan *p, struct sf_verdict *const *v)
{
	size_t w = 0;

	for (size_t i = 1; i < p->n; i++)
		if (sf_state_rank(v[i]->state) > sf_state_rank(v[w]->state))
			w = i;
	return w;
}

enum sf_state report_check(const struct config *cfg, const struct plan *p,
			   struct sf_verdict *const *v, const char *note, enum sf_state extra)
{
	static char pd[PERFDATA_MULTI_MAX];
	struct text sum = {{0}, 0}, esc_note = {{0}, 0};
	enum sf_state st, vst = SF_OK;
	char line[SF_HEADLINE_MAX + 1];

	pd[0] = '\0';
	for (size_t i = 0; i < p->n; i++)
		vst = sf_state_worst(vst, v[i]->state);
	st = sf_state_worst(vst, extra);
	if (p->n == 1) {
		text_add(&sum, "%s", v[0]->headline);
		build_perfdata(cfg, &p->tg[0], v[0], "", pd, PERFDATA_MAX);
	} else {
		/* the count and the worst target; each target has its block below */
		size_t inspected = 0, total = 0, w = worst_target(p, v);
		char lead[128];
		const char *item = v[w]->headline;
		count_inspected(p, v, &total, &inspected);
		snprintf(lead, sizeof lead, "%zu of %zu %s behind SMTP inspection%s", inspected, total,
			 role_plural(p->tg[0].role), v[w]->state != SF_OK ? "; worst: " : "");
		if (v[w]->state != SF_OK) {
			sf_fit_items(lead, &item, 1, SF_HEADLINE_MAX, line, sizeof line);
			text_add(&sum, "%s", line);
		} else {
			text_add(&sum, "%s", lead);
		}
		build_totals(cfg, p, v, pd, sizeof pd);
		for (size_t i = 0; i < p->n; i++)
			build_perfdata(cfg, &p->tg[i], v[i], perf_label(p, i), pd, sizeof pd);
	}
	if (note != NULL && note[0] != '\0') {
		text_escaped(&esc_note, note);
		if (extra != SF_OK && sf_state_rank(extra) > sf_state_rank(vst)) {
			/* the check's own problem decides the state: it leads */
			struct text lead = {{0}, 0};
			const char *rest = sum.buf;
			char fitted[SF_HEADLINE_MAX + 1];
			text_add(&lead, "%s; ", esc_note.buf);
			sf_fit_items(lead.buf, &rest, 1, SF_HEADLINE_MAX, fitted, sizeof fitted);
			sum.len = 0;
			sum.buf[0] = '\0';
			text_add(&sum, "%s", fitted);
		} else if (sum.len + 2 + esc_note.len <= SF_HEADLINE_MAX) {
			/* said after the headline when it fits, else in the long output */
			text_add(&sum, "; %s", esc_note.buf);
		}
	}
	emit_status(st, sum.buf, pd);
	if (esc_note.len > 0)
		printf("Note: %s\n", esc_note.buf);
	if (p->n == 1) {
		print_details(cfg, &p->tg[0], v[0]);
	} else {
		for (size_t i = 0; i < p->n; i++) {
			printf("\n== %s %s (%s): %s - %s\n", role_name(p->tg[i].role), p->tg[i].host,
			       p->tg[i].addr_text, sf_state_name(v[i]->state), v[i]->line);
			print_details(cfg, &p->tg[i], v[i]);
		}
	}
	print_reference(p);
	return st;
}

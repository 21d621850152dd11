/*
 * judge.c - the facts of one target's conversations, as lib's judge reads
 * them (struct sf_verdict_input): how each session ended in lib's words,
 * the replies and the lists the sessions parsed once, the reference and
 * the baseline. It judges nothing itself: lib/sf_verdict.c does.
 */
#include "judge.h"

#include <string.h>


/* A session's outcome in lib's words. */
static enum sf_end end_of(const struct session_result *r)
{
	switch (r->outcome) {
	case SESS_COMPLETE: return SF_END_COMPLETE;
	case SESS_CONNECT_FAILED: return SF_END_CONNECT_FAILED;
	case SESS_TIMEOUT: return SF_END_TIMEOUT;
	case SESS_RESET: return SF_END_RESET;
	case SESS_CLOSED: return SF_END_CLOSED;
	case SESS_PROTOCOL: return SF_END_PROTOCOL;
	case SESS_TOO_MUCH: return SF_END_TOO_MUCH;
	case SESS_UNSOLICITED:
		return r->failed_step == STEP_STARTTLS ? SF_END_CLEARTEXT_AFTER_STARTTLS : SF_END_UNSOLICITED;
	case SESS_TLS_FAILED: return SF_END_TLS_FAILED;
	case SESS_LOCAL: return SF_END_LOCAL;
	case SESS_IO_ERROR:
	case SESS_RUNNING:
	default:
		return SF_END_IO_ERROR;
	}
}

static void conv_of(const struct session_result *r, struct sf_conv *c)
{
	memset(c, 0, sizeof *c);
	c->end = end_of(r);
	c->step = session_step_words(r->failed_step);
	c->mid_reply = r->pending_at_close > 0;
	c->in_greeting = r->failed_step == STEP_GREETING;
	if (c->end == SF_END_PROTOCOL) {
		c->reason = sf_perr_str(r->perr);
		c->line = r->perr_line;
		c->line_len = r->perr_line_len;
		if (c->in_greeting) {
			c->greeting_raw = r->greeting_raw;
			c->greeting_raw_len = r->greeting_raw_len;
		}
	} else if (r->tls_err[0] != '\0' && (c->end == SF_END_TLS_FAILED || r->sys_errno == 0)) {
		c->reason = r->tls_err; /* the TLS library's reason, not errno's "Success" */
	} else if (r->sys_errno != 0) {
		c->reason = strerror(r->sys_errno);
	}
}

/* Everything one target's verdict reads. */
struct facts {
	struct sf_verdict_input in;
	struct sf_conv tls_conv, ref_conv;
	struct sf_probe probes[SESSION_PROBES];
	struct sf_witness witness;
	char name[HOST_MAX + 16], ref_name[HOST_MAX + 16];
	char since[40];
};

/* --probe=data: what the witness met, in lib's words. */
static void fill_witness(const struct plan *p, const struct session_result *r, struct facts *f)
{
	struct sf_witness *w = &f->witness;

	if (!p->scfg[0].witness)
		return;
	w->end = r->witness_end;
	w->refused_cmd = r->witness_refused;
	w->refused = r->witness_data != NULL ? r->witness_data
		     : r->witness_rcpt != NULL ? r->witness_rcpt : r->witness_mail;
	w->data = r->witness_data;
	w->parts = r->witness_parts;
	w->reply = r->witness_reply;
	w->reset = r->witness_reset;
	w->wait = p->scfg[0].witness_wait;
	f->in.witness = w;
}

static void fill_reference(const struct plan *p, struct facts *f)
{
	const struct session_result *r;

	if (p->ref == NULL)
		return;
	r = &p->ref->sess.r;
	target_name(p->ref, f->ref_name, sizeof f->ref_name);
	f->in.ref_target = f->ref_name;
	f->in.ref_address = p->ref->addr_text[0] ? p->ref->addr_text : NULL;
	if (p->ref_problem[0] != '\0') {
		f->in.ref_problem = p->ref_problem;
		return;
	}
	conv_of(r, &f->ref_conv);
	f->in.ref_conv = &f->ref_conv;
	f->in.ref_greeting = r->greeting;
	/* through STARTTLS, the list inside TLS is the server's own */
	f->in.ref_ehlo = r->ehlo_tls != NULL ? r->ehlo_tls : r->ehlo;
	f->in.ref_ehlo_list = r->ehlo_tls != NULL ? r->ehlo_tls_list : r->ehlo_list;
}

static void fill_facts(const struct config *cfg, const struct plan *p, const struct target *tg,
		       const struct baseline *bl, enum sf_state time_state, struct facts *f)
{
	const struct session_result *r = &tg->sess.r;
	const struct session_result *t = &target_tls_session(tg)->r;
	struct sf_verdict_input *in = &f->in;

	memset(f, 0, sizeof *f);
	target_name(tg, f->name, sizeof f->name);
	in->target = f->name;
	in->address = tg->addr_text;
	in->timeout = cfg->timeout;
	conv_of(r, &in->conv);
	if (tg->two_sessions) {
		conv_of(t, &f->tls_conv);
		in->tls_conv = &f->tls_conv;
	}
	in->greeting = r->greeting;
	in->ehlo = r->ehlo;
	in->ehlo_list = r->ehlo_list;
	in->helo = r->helo;
	in->required = cfg->required.word;
	in->nrequired = cfg->required.n;
	in->starttls_tried = cfg->starttls;
	in->starttls = t->starttls_reply;
	in->tls_error = t->tls_failed ? t->tls_err : NULL;
	in->ehlo_tls = t->ehlo_tls;
	in->ehlo_tls_list = t->ehlo_tls_list;
	in->tls_ignore = cfg->tls_ignore.word;
	in->ntls_ignore = cfg->tls_ignore.n;
	for (size_t i = 0; i < r->probes_sent && i < SESSION_PROBES; i++) {
		f->probes[i].sent = r->probe_sent[i];
		f->probes[i].keyword = r->probe_keyword[i];
		f->probes[i].reply = r->probe_reply[i];
		f->probes[i].dropped = r->probe_dropped && i + 1 == r->probes_sent;
		f->probes[i].closed_after = r->probe_refused_closed && i + 2 == r->probes_sent;
	}
	in->probes = f->probes;
	in->nprobes = r->probes_sent;
	fill_witness(p, r, f);
	fill_reference(p, f);
	if (bl != NULL && bl->have) {
		baseline_since(bl, f->since, sizeof f->since);
		in->baseline_since = f->since;
		in->baseline_banner = bl->banner;
		in->baseline_banner_cut = bl->cut;
		in->baseline_kw = bl->kw;
		in->nbaseline_kw = bl->nkw;
	}
	in->time_total = target_done(tg) - tg->t_begin;
	in->time_state = time_state;
	in->state_of = cfg->state_of;
}

int judge_target(const struct config *cfg, const struct plan *p, const struct target *tg,
		 const struct baseline *bl, enum sf_state time_state, struct sf_verdict **out)
{
	struct facts f;

	fill_facts(cfg, p, tg, bl, time_state, &f);
	return sf_verdict_make(&f.in, out);
}

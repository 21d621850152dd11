/*
 * sf_verdict.h - from what the server (through whatever sits in the path)
 * said, the list of findings: what is wrong, how bad by default, the exact
 * lines that prove it and, where a box is recognised, its name and remedy.
 *
 * Pure: it reads replies already parsed, it never does I/O. It must never
 * flag a healthy server: real X-extensions (XCLIENT, XFORWARD, XEXCH50...),
 * banners decorated with a few asterisks and banners with dates are clean.
 */
#ifndef SF_VERDICT_H
#define SF_VERDICT_H

#include <stddef.h>
#include "sf_common.h"
#include "sf_reply.h"
#include "sf_ehlo.h"
#include "sf_fingerprints.h"

/* Kinds of finding. Each has a default state and a plugin option that
 * overrides it (sf_kind_info). Keep sf_verdict.c's table in this order. */
enum sf_kind {
	SF_FIND_BANNER_MASKED = 0, /* greeting text made of '*', '2', '0', blanks (DOMAIN.md 1) */
	SF_FIND_EXT_MASKED,        /* EHLO lines overwritten with the X mask (DOMAIN.md 2) */
	SF_FIND_EHLO_REFUSED,      /* EHLO answered 4xx/5xx, or anything not 2xx (X echo names the box) */
	SF_FIND_EHLO_NOOP,         /* EHLO answered like NOOP: one 250 line, no domain, no keywords */
	SF_FIND_EXT_MISSING,       /* an extension the user requires is not offered */
	SF_FIND_EXT_INCONSISTENT,  /* e.g. BINARYMIME without CHUNKING (RFC 3030) */
	SF_FIND_FINGERPRINT,       /* another vendor's SMTP proxy recognised by its banner */
	SF_FIND_EXT_STRIPPED,      /* offered inside TLS but missing outside: the path hides it (DOMAIN.md 3) */
	SF_FIND_STARTTLS_REFUSED,  /* STARTTLS answered 4xx/5xx where a box is in sight (X echo, masks, offered) */
	SF_FIND_TLS_FAILED,        /* STARTTLS accepted, then the TLS handshake failed */
	SF_FIND_STARTTLS_MISSING,  /* -S: STARTTLS neither offered nor accepted, no box in sight */
	SF_FIND_PROBE,             /* --probe: a command X-ed, called unrecognised though offered, or a drop */
	SF_FIND_REF_MISSING,       /* --reference: offered on the reference path, missing or masked here */
	SF_FIND_REF_BANNER,        /* --reference: the greeting differs from the reference path's */
	SF_FIND_BASELINE_CHANGED,  /* --baseline: keywords gone or the greeting changed since the last clean run */
	SF_FIND__COUNT             /* count; not a kind */
};

/* Static facts about a kind. */
struct sf_kind_info {
	const char *option;          /* long option that overrides its state, e.g. "banner-masked" */
	enum sf_state default_state; /* state when the user did not override it */
	const char *title;           /* plain words, e.g. "greeting banner masked" */
};

/* Facts for kind k; NULL if k is out of range. */
const struct sf_kind_info *sf_kind_info(enum sf_kind k);

/* One finding. Owned by its sf_verdict. */
struct sf_finding {
	enum sf_kind kind;
	enum sf_state state;       /* the kind's default state */
	char *summary;             /* one phrase for the first output line, e.g. "3 of 12 ESMTP extensions masked" */
	size_t nevidence;
	char **evidence;           /* lines exactly as received (unescaped), or what was sent and came back */
	const struct sf_box *box;  /* recognised box or NULL */
};

/* One probe command (--probe) and what came back. */
struct sf_probe {
	const char *sent;             /* the command line as sent, without CRLF */
	const char *keyword;          /* extension it belongs to (BDAT: CHUNKING), or NULL */
	const struct sf_reply *reply; /* its reply, NULL if none came */
	int dropped;                  /* the connection was dropped right after it */
};

/* What was seen. Replies are borrowed: the verdict copies what it keeps.
 * Fields after nrequired may stay zero when STARTTLS/--probe were not used. */
struct sf_verdict_input {
	const struct sf_reply *greeting; /* the 220 (or other) greeting; required */
	const struct sf_reply *ehlo;     /* reply to EHLO, NULL if not reached */
	const struct sf_reply *helo;     /* reply to HELO, NULL unless it was sent */
	const char *const *required;     /* extension keywords the user requires */
	size_t nrequired;
	int starttls_tried;              /* STARTTLS was sent (-S) */
	const struct sf_reply *starttls; /* its reply, NULL if none came */
	const char *tls_error;           /* why the handshake failed, NULL if it did not */
	const struct sf_reply *ehlo_tls; /* reply to EHLO inside TLS, NULL if not reached */
	const char *const *tls_ignore;   /* keywords that may differ inside TLS (STARTTLS, AUTH) */
	size_t ntls_ignore;
	const struct sf_probe *probes;   /* --probe results, in the order sent */
	size_t nprobes;
	const struct sf_reply *ref_greeting; /* --reference: the same server without the box, */
	const struct sf_reply *ref_ehlo;     /* its greeting and EHLO reply; NULL when not used */
	const char *baseline_banner;         /* --baseline: the first greeting line of the last */
	const char *const *baseline_kw;      /* clean run and its keywords; banner NULL when */
	size_t nbaseline_kw;                 /* there is none */
	int baseline_banner_cut;             /* the banner kept is only the start of the line */
};

/* The findings, worst default state first, plus counts for perfdata. */
struct sf_verdict {
	size_t nfindings;
	struct sf_finding *findings;
	unsigned extensions;        /* EHLO lines after the first (keywords advertised, masked or not) */
	unsigned masked_extensions; /* of those, masked */
	int banner_masked;          /* 0 or 1 */
	unsigned tls_extensions;    /* EHLO lines after the first inside TLS */
	unsigned stripped_extensions; /* keywords offered inside TLS only (STARTTLS counted if hidden) */
	unsigned reference_missing; /* keywords offered on the reference path, missing or masked here */
	unsigned baseline_gone;     /* keywords of the baseline not offered now */
	const struct sf_box *box;   /* the box most findings point to, or NULL */
};

/* Judge in. Returns 0 and *out (caller frees with sf_verdict_free), or -1 if
 * memory ran out or in->greeting is NULL. */
int sf_verdict_make(const struct sf_verdict_input *in, struct sf_verdict **out);

/* Release it. NULL is a no-op. */
void sf_verdict_free(struct sf_verdict *v);

/* The banner test alone (DOMAIN.md 1): 1 if every greeting line's text is
 * made of '*', '2', '0', blanks, with at least one '*' in all; sets *box to
 * the PIX (2/0 survived) or ASA (only '*') row. PIX 4's "SMTP/cmap" banner
 * also counts, with the PIX 4 row. */
int sf_banner_masked(const struct sf_reply *greeting, const struct sf_box **box);

/* 1 if a 4xx/5xx text echoes an X-ed command: a token of 4 or more 'X'
 * (upper case only; quotes and punctuation around it allowed, so "XXXX",
 * 'XXXXXXXX' and XXXX: count, XCLIENT and X-XXXX do not). Never reads past
 * len. */
int sf_text_has_x_echo(const char *text, size_t len);

/* 1 if a single-line 250 reply looks like a NOOP answer rather than an EHLO
 * greeting: its first token is an enhanced status code (RFC 3463 d.ddd.ddd)
 * or "Ok" in any case, or it has no text at all (no domain). "250
 * mail.example.com" is a real EHLO reply and does not count. */
int sf_reply_is_noop_like(const struct sf_reply *r);

#endif /* SF_VERDICT_H */

/*
 * sf_fingerprints.c - the middleboxes we know (doc/inspection-boxes.md 1, 2, 5, 6).
 *
 * Two tables. The well-known Cisco boxes are named directly by the verdict,
 * which recognises them by what they do to the conversation (masks, X-ed
 * commands). Other vendors' SMTP proxies are recognised from the greeting
 * text alone: each row is a short pattern of whole tokens, compared
 * ASCII-case-insensitively, so "checkpoint.example.com" is not Check Point
 * and "sonicwall-fan" is not SonicWALL.
 *
 * Limits: a fingerprint says "this banner looks like", nothing more; an
 * operator can change a banner, and a proxy with a rewritten banner is not
 * recognised here. The text is never read past len and need not be
 * NUL-terminated; CR and LF count as blanks so joined lines work too.
 */
#include "sf_fingerprints.h"

#include <string.h>

#include "sf_ascii.h"

/* --- well-known boxes, indexed by enum sf_box_id ------------------------ */

#define REMEDY_POSTFIX \
	" Postfix senders that must still pass it: tune smtp_pix_workarounds" \
	" (per destination: smtp_pix_workaround_maps)."
#define REMEDY_PIX_FIXUP \
	"On the PIX (4.2 to 6.3): no fixup protocol smtp 25."
#define REMEDY_ASA \
	"On the PIX 7+/ASA/FTD: policy-map global_policy / class" \
	" inspection_default / no inspect esmtp; or keep inspection with a" \
	" policy-map type inspect esmtp whose parameters have allow-tls and no" \
	" mask-banner (FTD: through FlexConfig)."

static const struct sf_box well_known[SF_BOX__WELL_KNOWN] = {
	[SF_BOX_PIX_OLD] = {
		"cisco-pix-fixup",
		"Cisco PIX 5.1-6.x SMTP fixup (MailGuard)",
		REMEDY_PIX_FIXUP REMEDY_POSTFIX,
	},
	[SF_BOX_PIX4] = {
		"cisco-pix4",
		"Cisco PIX 4.x SMTP fixup (MailGuard)",
		REMEDY_PIX_FIXUP REMEDY_POSTFIX,
	},
	[SF_BOX_CISCO_ASA] = {
		"cisco-asa",
		"Cisco ASA/FTD/FWSM ESMTP inspection",
		REMEDY_ASA REMEDY_POSTFIX,
	},
	[SF_BOX_PIX_MAILGUARD] = {
		"cisco-pix-mailguard",
		"Cisco PIX MailGuard (RFC 821 commands only)",
		REMEDY_PIX_FIXUP " " REMEDY_ASA REMEDY_POSTFIX,
	},
};

const struct sf_box *sf_box_get(enum sf_box_id id)
{
	if ((unsigned)id >= (unsigned)SF_BOX__WELL_KNOWN)
		return NULL;
	return &well_known[id];
}

/* --- banner fingerprints ------------------------------------------------- */

/* What one token of a pattern must look like. */
enum tok_kind {
	TK_END = 0,    /* end of the pattern */
	TK_WORD,       /* equals one of the '|'-separated words in s */
	TK_PATH,       /* equals s, or starts with s followed by '/' */
	TK_PAREN,      /* starts with '(' and has something after it */
	TK_PAREN_HEX32 /* exactly '(' 32 hex digits ')' */
};

struct tok_pat {
	enum tok_kind kind;
	const char *s;
};

#define PAT_MAX 6 /* tokens in one pattern, TK_END included */

/* One row: the box, and the tokens its banner shows in a row. */
struct fp_row {
	struct sf_box box; /* first: sf_fingerprint_at() hands out &row->box */
	int whole;         /* 1: the text is exactly these tokens; 0: they appear in a row */
	struct tok_pat pat[PAT_MAX];
};

static const struct fp_row fp_rows[] = {
	{
		{"checkpoint-fw1", "Check Point FireWall-1 SMTP security server",
		 "Take the SMTP resource (security server) off the rule that"
		 " carries this mail, or exempt the mail server from it."},
		0,
		{{TK_WORD, "checkpoint"}, {TK_WORD, "firewall-1"}, {TK_WORD, "secure"},
		 {TK_WORD, "esmtp|smtp"}, {TK_WORD, "server"}, {TK_END, NULL}},
	},
	{
		{"sonicwall-es", "SonicWALL Email Security",
		 "It relays the mail itself, so the ESMTP extensions seen are its"
		 " own; if it should not be in the path, send port 25 straight to"
		 " the mail server."},
		0,
		{{TK_WORD, "esmtp"}, {TK_WORD, "sonicwall"}, {TK_PAREN, NULL}, {TK_END, NULL}},
	},
	{
		{"barracuda", "Barracuda Email Security Gateway",
		 "It relays the mail itself, so the ESMTP extensions seen are its"
		 " own; if it should not be in the path, send port 25 straight to"
		 " the mail server."},
		0,
		{{TK_WORD, "esmtp"}, {TK_PAREN_HEX32, NULL}, {TK_END, NULL}},
	},
	{
		{"fsecure-igk", "F-Secure Internet Gatekeeper SMTP proxy",
		 "Its SMTP proxy deletes CHUNKING, BINARYMIME, PIPELINING and"
		 " STARTTLS and caps SIZE; exempt the mail server from SMTP"
		 " scanning or send port 25 straight to it."},
		0,
		{{TK_PATH, "f-secure/fsigk_smtp"}, {TK_END, NULL}},
	},
	{
		{"watchguard-smtp-proxy", "WatchGuard SMTP proxy",
		 "Use a packet filter policy for SMTP instead of the SMTP proxy,"
		 " or review the SMTP proxy action's ESMTP and TLS settings."},
		1,
		{{TK_WORD, "smtp"}, {TK_WORD, "service"}, {TK_WORD, "ready"}, {TK_END, NULL}},
	},
};

#define FP_COUNT (sizeof fp_rows / sizeof fp_rows[0])

size_t sf_fingerprint_count(void)
{
	return FP_COUNT;
}

const struct sf_box *sf_fingerprint_at(size_t i)
{
	return i < FP_COUNT ? &fp_rows[i].box : NULL;
}

/* One token of the text: n octets at p. */
struct tok {
	const char *p;
	size_t n;
};

/* Blanks of a banner text: SP and HTAB, and CR and LF so that greeting
 * lines joined into one text split as they would one by one. */
static int is_blank(char c)
{
	return sf_is_blank((unsigned char)c) || c == '\r' || c == '\n';
}

static int is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* The token starting at or after *pos in text[0..len); 0 when none is
 * left. Advances *pos past it. */
static int next_token(const char *text, size_t len, size_t *pos, struct tok *t)
{
	size_t i = *pos;

	while (i < len && is_blank(text[i]))
		i++;
	if (i == len) {
		*pos = len;
		return 0;
	}
	t->p = text + i;
	while (i < len && !is_blank(text[i]))
		i++;
	t->n = (size_t)(text + i - t->p);
	*pos = i;
	return 1;
}

/* 1 if the token equals one of the '|'-separated words (lower case). */
static int word_match(const struct tok *t, const char *words)
{
	const char *w = words;

	for (;;) {
		const char *bar = strchr(w, '|');
		size_t wn = bar ? (size_t)(bar - w) : strlen(w);

		if (wn == t->n && sf_ci_equal_n(t->p, w, wn))
			return 1;
		if (bar == NULL)
			return 0;
		w = bar + 1;
	}
}

static int tok_match(const struct tok *t, const struct tok_pat *tp)
{
	size_t sn;

	switch (tp->kind) {
	case TK_WORD:
		return word_match(t, tp->s);
	case TK_PATH:
		sn = strlen(tp->s);
		if (t->n < sn || !sf_ci_equal_n(t->p, tp->s, sn))
			return 0;
		return t->n == sn || t->p[sn] == '/';
	case TK_PAREN:
		return t->n >= 2 && t->p[0] == '(';
	case TK_PAREN_HEX32:
		if (t->n != 34 || t->p[0] != '(' || t->p[33] != ')')
			return 0;
		for (size_t i = 1; i < 33; i++)
			if (!is_hex(t->p[i]))
				return 0;
		return 1;
	case TK_END:
	default:
		return 0; /* a pattern never asks to match its end marker */
	}
}

/* 1 if the pattern's tokens follow each other from text[*start...]; for a
 * whole-text row, also nothing may follow them. */
static int pattern_at(const char *text, size_t len, size_t start, const struct fp_row *row)
{
	size_t pos = start;
	struct tok t;

	for (size_t k = 0; k < PAT_MAX && row->pat[k].kind != TK_END; k++) {
		if (!next_token(text, len, &pos, &t) || !tok_match(&t, &row->pat[k]))
			return 0;
	}
	return !row->whole || !next_token(text, len, &pos, &t);
}

static int row_match(const char *text, size_t len, const struct fp_row *row)
{
	size_t pos = 0;
	struct tok t;

	if (row->whole)
		return pattern_at(text, len, 0, row);
	/* try the pattern at every token start */
	for (;;) {
		size_t before = pos;

		if (!next_token(text, len, &pos, &t))
			return 0;
		if (pattern_at(text, len, before, row))
			return 1;
	}
}

const struct sf_box *sf_fingerprint_banner(const char *text, size_t len)
{
	if (text == NULL)
		return NULL;
	for (size_t i = 0; i < FP_COUNT; i++)
		if (row_match(text, len, &fp_rows[i]))
			return &fp_rows[i].box;
	return NULL;
}

/* --- the masked banner ---------------------------------------------------- */

/* PIX 4.x: "SMTP/cmap ready", possibly padded with underscores. */
static int is_cmap_text(const char *s, size_t len)
{
	static const char prefix[] = "smtp/cmap";
	size_t i = sf_skip_blanks(s, len, 0);

	/* Seen as "SMTP/cmap ready" padded with '_' (doc/inspection-boxes.md 1) and as
	 * "SMTP/cmap____..._ read" (the padding cut into "ready"): after the
	 * prefix, only '_', blanks and the letters of "ready". */
	if (len - i < sizeof prefix - 1 || !sf_ci_word(s + i, sizeof prefix - 1, prefix))
		return 0;
	i += sizeof prefix - 1;
	if (i < len && s[i] != '_' && !sf_is_blank((unsigned char)s[i]))
		return 0; /* "SMTP/cmapready" is some other text */
	for (; i < len; i++) {
		int c = sf_lower((unsigned char)s[i]);
		if (c != '_' && !sf_is_blank((unsigned char)s[i]) && (c == '\0' || strchr("ready", c) == NULL))
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
			else if (!sf_is_blank((unsigned char)t[k]))
				masked = 0;
		}
	}
	if (!masked || stars == 0)
		return 0;
	if (box != NULL)
		*box = sf_box_get(kept ? SF_BOX_PIX_OLD : SF_BOX_CISCO_ASA);
	return 1;
}

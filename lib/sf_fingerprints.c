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
 * NUL-terminated; CR and LF count as blanks so joined lines work too. The
 * text is split into tokens once; patterns are looked for in its first 64
 * (TOKS_MAX), and one anchored at the end never matches a longer text.
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
		0,
	},
	[SF_BOX_PIX4] = {
		"cisco-pix4",
		"Cisco PIX 4.x SMTP fixup (MailGuard)",
		REMEDY_PIX_FIXUP REMEDY_POSTFIX,
		0,
	},
	[SF_BOX_CISCO_ASA] = {
		"cisco-asa",
		"Cisco ASA/FTD/FWSM ESMTP inspection",
		REMEDY_ASA REMEDY_POSTFIX,
		0,
	},
	[SF_BOX_PIX_MAILGUARD] = {
		"cisco-pix-mailguard",
		"Cisco PIX MailGuard (RFC 821 commands only)",
		REMEDY_PIX_FIXUP " " REMEDY_ASA REMEDY_POSTFIX,
		0,
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
	TK_PAREN_HEX32,/* exactly '(' 32 hex digits ')' */
	TK_ANY         /* any one token (a host name) */
};

struct tok_pat {
	enum tok_kind kind;
	const char *s;
};

#define PAT_MAX 6 /* tokens in one pattern, TK_END included */

/* Where a row's tokens must stand in the text. */
enum fp_anchor {
	FP_ANYWHERE = 0, /* they appear in a row somewhere */
	FP_WHOLE,        /* the text is exactly these tokens */
	FP_END           /* they end the text */
};

/* One row: the box, and the tokens its banner shows in a row. */
struct fp_row {
	struct sf_box box;     /* first: sf_fingerprint_at() hands out &row->box */
	enum fp_anchor anchor;
	struct tok_pat pat[PAT_MAX];
	const char *ehlo_kw;   /* an EHLO keyword only this box adds, or NULL */
};

/* Remedy texts of the proxies that show themselves (doc/inspection-boxes.md
 * 5.2): nothing to turn off, but what they change. */
#define PROXY_STUNNEL \
	"A TLS terminator: nothing to do if it belongs there. In clear text it" \
	" answers EHLO itself with STARTTLS only; the server's own extensions" \
	" show inside TLS (-S)."
#define PROXY_PROXSMTP \
	"A filtering proxy: nothing to do if it belongs there. It greets and" \
	" answers EHLO in its own words, drops PIPELINING, STARTTLS and CHUNKING" \
	" from the server's list and adds XFILTERED."

static const struct fp_row fp_rows[] = {
	{
		{"checkpoint-fw1", "Check Point FireWall-1 SMTP security server",
		 "Take the SMTP resource (security server) off the rule that"
		 " carries this mail, or exempt the mail server from it.", 0},
		FP_ANYWHERE,
		{{TK_WORD, "checkpoint"}, {TK_WORD, "firewall-1"}, {TK_WORD, "secure"},
		 {TK_WORD, "esmtp|smtp"}, {TK_WORD, "server"}, {TK_END, NULL}},
		NULL,
	},
	{
		{"sonicwall-es", "SonicWALL Email Security",
		 "It relays the mail itself, so the ESMTP extensions seen are its"
		 " own; if it should not be in the path, send port 25 straight to"
		 " the mail server.", 0},
		FP_ANYWHERE,
		{{TK_WORD, "esmtp"}, {TK_WORD, "sonicwall"}, {TK_PAREN, NULL}, {TK_END, NULL}},
		NULL,
	},
	{
		{"barracuda", "Barracuda Email Security Gateway",
		 "It relays the mail itself, so the ESMTP extensions seen are its"
		 " own; if it should not be in the path, send port 25 straight to"
		 " the mail server.", 0},
		FP_ANYWHERE,
		{{TK_WORD, "esmtp"}, {TK_PAREN_HEX32, NULL}, {TK_END, NULL}},
		NULL,
	},
	{
		{"fsecure-igk", "F-Secure Internet Gatekeeper SMTP proxy",
		 "Its SMTP proxy deletes CHUNKING, BINARYMIME, PIPELINING and"
		 " STARTTLS and caps SIZE; exempt the mail server from SMTP"
		 " scanning or send port 25 straight to it.", 0},
		FP_ANYWHERE,
		{{TK_PATH, "f-secure/fsigk_smtp"}, {TK_END, NULL}},
		NULL,
	},
	{
		{"watchguard-smtp-proxy", "WatchGuard SMTP proxy",
		 "Use a packet filter policy for SMTP instead of the SMTP proxy,"
		 " or review the SMTP proxy action's ESMTP and TLS settings.", 0},
		FP_WHOLE,
		{{TK_WORD, "smtp"}, {TK_WORD, "service"}, {TK_WORD, "ready"}, {TK_END, NULL}},
		NULL,
	},
	/* --- open-source proxies that show themselves: notes, not faults --- */
	{
		/* stunnel 5 with protocol = smtp: the server's greeting with
		 * "stunnel for" after its first word (stunnel4 5.68, Debian 12) */
		{"stunnel", "stunnel (protocol = smtp)", PROXY_STUNNEL, 1},
		FP_ANYWHERE,
		{{TK_WORD, "stunnel"}, {TK_WORD, "for"}, {TK_END, NULL}},
		NULL,
	},
	{
		/* older stunnel: " + stunnel" appended (doc/inspection-boxes.md 5.2) */
		{"stunnel-old", "stunnel (protocol = smtp, before 5)", PROXY_STUNNEL, 1},
		FP_END,
		{{TK_WORD, "+"}, {TK_WORD, "stunnel"}, {TK_END, NULL}},
		NULL,
	},
	{
		/* proxsmtpd and clamsmtpd share their SMTP code: both greet
		 * "220 smtp.passthru" and add XFILTERED (proxsmtp 1.10 and
		 * clamsmtp 1.10, Debian 12) */
		{"proxsmtpd", "proxsmtpd/clamsmtpd filtering SMTP proxy", PROXY_PROXSMTP, 1},
		FP_WHOLE,
		{{TK_WORD, "smtp.passthru"}, {TK_END, NULL}},
		"XFILTERED",
	},
	{
		/* nginx's mail proxy greets "<server_name> ESMTP ready" and
		 * answers EHLO from smtp_capabilities (nginx 1.22, Debian 12) */
		{"nginx-mail", "nginx mail proxy",
		 "A mail proxy: nothing to do if it belongs there. It answers EHLO"
		 " from its smtp_capabilities directive, not with the server's list;"
		 " compare with the server itself (--reference).", 1},
		FP_WHOLE,
		{{TK_ANY, NULL}, {TK_WORD, "esmtp"}, {TK_WORD, "ready"}, {TK_END, NULL}},
		NULL,
	},
	{
		/* TIS FWTK smap, "220 host SMTP/smap Ready." (Nmap's service
		 * fingerprints); not the PIX 4 "SMTP/cmap ready" */
		{"tis-smap", "TIS FWTK smap (SMTP wrapper)",
		 "A store-and-forward wrapper: nothing to do if it belongs there. It"
		 " takes the mail itself and hands it to the mailer later (smapd);"
		 " it speaks plain SMTP, so no extension passes it.", 1},
		FP_ANYWHERE,
		{{TK_WORD, "smtp/smap"}, {TK_WORD, "ready.|ready"}, {TK_END, NULL}},
		NULL,
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
	case TK_ANY:
		return 1;
	case TK_END:
	default:
		return 0; /* a pattern never asks to match its end marker */
	}
}

/* 1 if the pattern's tokens follow each other from text[*start...]; for a
 * whole-text or end row, also nothing may follow them. */
#define TOKS_MAX 64U /* tokens of a greeting line a pattern is looked for in */

/* The text split into tokens once, for every row to match against. */
struct toks {
	struct tok t[TOKS_MAX];
	size_t n;
	int more; /* the text has more tokens than TOKS_MAX */
};

static void tokenize(const char *text, size_t len, struct toks *ts)
{
	size_t pos = 0;
	struct tok t;

	ts->n = 0;
	ts->more = 0;
	while (next_token(text, len, &pos, &t)) {
		if (ts->n == TOKS_MAX) {
			ts->more = 1;
			return;
		}
		ts->t[ts->n++] = t;
	}
}

/* 1 if the pattern's tokens follow each other from token start; for a
 * whole-text row nothing may follow them, for an end-anchored row they
 * must be the last. */
static int pattern_at(const struct toks *ts, size_t start, const struct fp_row *row)
{
	size_t k = 0;

	for (; k < PAT_MAX && row->pat[k].kind != TK_END; k++)
		if (start + k >= ts->n || !tok_match(&ts->t[start + k], &row->pat[k]))
			return 0;
	return row->anchor == FP_ANYWHERE || (start + k == ts->n && !ts->more);
}

static int row_match(const struct toks *ts, const struct fp_row *row)
{
	if (row->anchor == FP_WHOLE)
		return pattern_at(ts, 0, row);
	/* try the pattern at every token start */
	for (size_t i = 0; i < ts->n; i++)
		if (pattern_at(ts, i, row))
			return 1;
	return 0;
}

const struct sf_box *sf_fingerprint_banner(const char *text, size_t len)
{
	struct toks ts;

	if (text == NULL)
		return NULL;
	tokenize(text, len, &ts);
	for (size_t i = 0; i < FP_COUNT; i++)
		if (row_match(&ts, &fp_rows[i]))
			return &fp_rows[i].box;
	return NULL;
}

const struct sf_box *sf_fingerprint_keyword(const char *kw, size_t len)
{
	if (kw == NULL)
		return NULL;
	for (size_t i = 0; i < FP_COUNT; i++) {
		const char *k = fp_rows[i].ehlo_kw;

		if (k != NULL && strlen(k) == len && sf_ci_equal_n(kw, k, len))
			return &fp_rows[i].box;
	}
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

/* --- masks that break the reply syntax (doc/inspection-boxes.md 1.4) ------- */

/* How one greeting line fits a whole-line mask. */
enum mask_line {
	ML_NO = 0,  /* not a masked line */
	ML_REPLY,   /* a reply line, its text masked (or too short to tell yet) */
	ML_BROKEN   /* separator masked, code kept or masked */
};

static int is_mask_octet(char c)
{
	return c == '*' || c == '2' || c == '0' || sf_is_blank((unsigned char)c);
}

/* Line s[0..n) (no line end), the first of the greeting or a later one;
 * done: it ended with a line end (an unfinished line is judged on the
 * octets it has). */
static enum mask_line mask_line_kind(const char *s, size_t n, int first, int done)
{
	static const char code[] = "220";
	enum mask_line kind = ML_REPLY;

	if (n == 0)
		return done ? ML_NO : ML_REPLY; /* a mask keeps every length: no empty line */
	for (size_t i = 0; i < n && i < 3; i++) {
		if (s[i] == code[i])
			continue;
		if (first || (s[i] != '*' && s[i] != '2' && s[i] != '0'))
			return ML_NO; /* the first line keeps "220": PIX spares 2 and 0 */
		kind = ML_BROKEN; /* a continuation line's code was masked */
	}
	if (n < 4)
		return done && kind == ML_BROKEN ? ML_NO : kind; /* "2*" is no line a mask makes */
	if (s[3] == '*')
		kind = ML_BROKEN;
	else if (kind == ML_BROKEN || (s[3] != '-' && s[3] != ' '))
		return ML_NO; /* a masked code keeps no separator; "2200" is no mask */
	for (size_t i = 4; i < n; i++)
		if (!is_mask_octet(s[i]))
			return ML_NO;
	return kind;
}

int sf_greeting_mask_broken(const char *raw, size_t len, const struct sf_box **box)
{
	size_t pos = 0, nline = 0;
	int broken = 0;

	if (box != NULL)
		*box = NULL;
	if (raw == NULL || len == 0)
		return 0;
	while (pos < len) {
		const char *lf = memchr(raw + pos, '\n', len - pos);
		size_t end = lf != NULL ? (size_t)(lf - raw) : len;
		size_t n = end - pos;
		enum mask_line k;

		if (n > 0 && raw[pos + n - 1] == '\r')
			n--; /* CR LF; a bare LF ends a line too (lib/sf_reply.c) */
		k = mask_line_kind(raw + pos, n, nline == 0, lf != NULL);
		if (k == ML_NO)
			return 0;
		broken |= k == ML_BROKEN;
		nline++;
		pos = end + (lf != NULL);
	}
	if (!broken)
		return 0;
	if (box != NULL)
		*box = sf_box_get(SF_BOX_PIX_OLD);
	return 1;
}

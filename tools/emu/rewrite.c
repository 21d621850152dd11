/*
 * rewrite.c - the rewriting engine of smtp-inspect-emu (see rewrite.h).
 *
 * The box works on whole lines, as the real ones do on the packets that
 * carry them: each direction is buffered up to its LF (at most EMU_LINE_MAX
 * octets), rewritten in place, forwarded. Masks substitute octets and keep
 * every length (the PIX never changes packet lengths, tools/emu/README 1);
 * only the stripping rules remove lines.
 *
 * To know what a server reply answers, the engine keeps the commands the
 * server was sent (after rewriting: an X-ed EHLO is no EHLO to the server)
 * in a FIFO, one entry per expected reply, so that pipelined commands (RFC
 * 2920) are matched to their replies in order. The greeting is the first
 * reply; the end of a message (the lone ".") expects a reply of its own.
 *
 * The client direction is a small state machine: commands, then after a
 * 354 reply to DATA the message until the lone "." (RFC 5321 4.1.1.4):
 * header lines buffered when the profile has a header or file name rule,
 * the body streamed, or buffered a line at a time under a file name rule
 * (a MIME part's header follows a line starting with "--", RFC 2046
 * 5.1.1); BDAT chunks streamed by their announced size (RFC 3030); after a
 * 220 reply to STARTTLS everything opaque in both directions (RFC 3207: the
 * box cannot see into TLS).
 *
 * Limits: lines of EMU_LINE_MAX octets, EMU_PENDING_MAX unanswered
 * commands; MIME boundaries are not matched (any body line starting with
 * "--" opens a part header, up to the next empty line), RFC 2231
 * parameter continuations (filename*0=) are not joined, a quoted value
 * folded across lines is counted per line, a body line over EMU_LINE_MAX is
 * judged on its first EMU_LINE_MAX octets. Not done: the ASA rules on 100
 * RCPT and a 320-octet sender, BDAT message content (the ASA does not
 * inspect it either), replies made up by the box itself.
 */
#include "rewrite.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scan.h"

/* --- the profiles ------------------------------------------------------- */

/* RFC 821 4.5.1, the only commands PIX MailGuard passes (README 2). */
static const char *const rfc821_verbs[] = {
	"HELO", "MAIL", "RCPT", "DATA", "RSET", "NOOP", "QUIT", NULL
};

/* The commands ASA "inspect esmtp" knows (README 2). */
static const char *const asa_verbs[] = {
	"AUTH", "DATA", "EHLO", "ETRN", "HELO", "HELP", "MAIL", "NOOP",
	"QUIT", "RCPT", "RSET", "SAML", "SEND", "SOML", "VRFY", NULL
};

/* The same with "parameters allow-tls" (README 3). */
static const char *const asa_tls_verbs[] = {
	"AUTH", "DATA", "EHLO", "ETRN", "HELO", "HELP", "MAIL", "NOOP",
	"QUIT", "RCPT", "RSET", "SAML", "SEND", "SOML", "VRFY", "STARTTLS", NULL
};

/* EHLO reply lines seen to pass an ASA (README 2). */
static const struct emu_keyword asa_ehlo[] = {
	{"SIZE", 0}, {"ETRN", 0}, {"PIPELINING", 0}, {"DSN", 0},
	{"ENHANCEDSTATUSCODES", 0}, {"8BITMIME", 0}, {"BINARYMIME", 0},
	{"AUTH", 1}, {NULL, 0}
};

static const struct emu_keyword asa_tls_ehlo[] = {
	{"SIZE", 0}, {"ETRN", 0}, {"PIPELINING", 0}, {"DSN", 0},
	{"ENHANCEDSTATUSCODES", 0}, {"8BITMIME", 0}, {"BINARYMIME", 0},
	{"AUTH", 1}, {"STARTTLS", 0}, {NULL, 0}
};

/* The lines Zorp's SMTP proxy keeps (README 2). */
static const struct emu_keyword zorp_keep[] = {
	{"PIPELINING", 0}, {"SIZE", 0}, {"ETRN", 0}, {"8BITMIME", 0},
	{"STARTTLS", 0}, {NULL, 0}
};

static const struct emu_keyword starttls_only[] = {{"STARTTLS", 0}, {NULL, 0}};

/* The limits of Cisco's default ESMTP policy map (README 4): a command line
 * over 512 octets (RFC 5321 4.5.3.1.4, CRLF included), a message header
 * line over 998 (RFC 5322 2.1.1, CRLF excluded), a MIME file name over
 * 255. Each drops the connection. */
#define ASA_CMD_MAX 512U
#define ASA_HEADER_MAX 998U
#define ASA_FILENAME_MAX 255U

#define ASA_DROPS \
	"Drops (README 4): both sides are reset, the offending line\n" \
	"not passed on, on a command line over 512 octets (CRLF\n" \
	"included, RFC 5321 4.5.3.1.4), a line of the message header\n" \
	"over 998 (CRLF excluded, RFC 5322 2.1.1), a name= or\n" \
	"filename= value (quotes excluded) over 255 in a Content-Type\n" \
	"or Content-Disposition field of the message header or of a\n" \
	"MIME part's header (RFC 2045 5.1, RFC 2183 2)."

const struct emu_profile emu_profiles[] = {
	{
		.name = "none",
		.help = "Transparent: every octet passes. The reference for the\n"
			"others (and the plugin must report OK through it).",
		.banner = EMU_BANNER_PASS, .verbs = NULL, .ehlo = EMU_EHLO_PASS,
	},
	{
		.name = "pix4",
		.help = "Cisco PIX 4.x MailGuard (README 1, 2). The text of each\n"
			"greeting line becomes \"SMTP/cmap ready\" padded with '_' to\n"
			"its length (cut short if the text is shorter): length kept.\n"
			"Commands other than the RFC 821 seven (HELO MAIL RCPT DATA\n"
			"RSET NOOP QUIT), EHLO included, have their verb overwritten\n"
			"with 'X's: \"EHLO a.example\" reaches the server as\n"
			"\"XXXX a.example\" and is refused.",
		.banner = EMU_BANNER_CMAP, .verbs = rfc821_verbs, .fate = EMU_FATE_X,
		.ehlo = EMU_EHLO_PASS,
	},
	{
		.name = "pix6",
		.help = "Cisco PIX 5.1-6.x \"fixup protocol smtp\" (README 1, 2).\n"
			"Each greeting line's text is masked with '*' except the '2's\n"
			"and '0's, which stay in place; CR LF untouched, length kept.\n"
			"Commands other than HELO MAIL RCPT DATA RSET NOOP QUIT, EHLO\n"
			"included, have their verb X-ed (\"XXXX a.example\"), so the\n"
			"server refuses EHLO and clients fall back to HELO.",
		.banner = EMU_BANNER_KEEP20, .verbs = rfc821_verbs, .fate = EMU_FATE_X,
		.ehlo = EMU_EHLO_PASS,
	},
	{
		.name = "pix6-noop",
		.help = "As pix6, but a refused command line becomes \"NOOP\", a\n"
			"space and 'X's to its length (\"EHLO a.example\" ->\n"
			"\"NOOP XXXXXXXXX\"), so the server answers it like NOOP\n"
			"(\"250 2.0.0 Ok\"), as some PIX versions did (README 2;\n"
			"RFC 5321 4.1.1.9 lets NOOP take an argument). Lines shorter\n"
			"than 4 octets cannot hold NOOP and are X-ed.",
		.banner = EMU_BANNER_KEEP20, .verbs = rfc821_verbs,
		.fate = EMU_FATE_NOOP, .ehlo = EMU_EHLO_PASS,
	},
	{
		.name = "pix6-whole-line",
		.help = "As pix6, but the greeting mask takes whole lines (README 1):\n"
			"the separator after the first line's code becomes '*' too\n"
			"(\"220 mx ESMTP\" -> \"220*********\"), and every later line\n"
			"of a multi-line greeting loses its code and separator as well\n"
			"(\"220 ok 2020\" -> \"*******2020\"). '2's and '0's of the text\n"
			"stay in place; CR LF untouched, length kept. No line is a\n"
			"reply line of RFC 5321 4.2 any more, so a strict client never\n"
			"sees the greeting end.",
		.banner = EMU_BANNER_WHOLE20, .verbs = rfc821_verbs, .fate = EMU_FATE_X,
		.ehlo = EMU_EHLO_PASS,
	},
	{
		.name = "pix6-eod",
		.help = "As pix6, with MailGuard's end-of-data bug (README 4): when\n"
			"the end-of-data marker (RFC 5321 4.1.1.4: the line end\n"
			"before the lone \".\", the \".\", its line end) does not come\n"
			"in one read, the \".\" line is swallowed: the server never\n"
			"sees the message end and never answers, the box takes what\n"
			"follows for more message text, and the session hangs after\n"
			"DATA. A message whose marker comes in one read passes; an\n"
			"empty message, its \".\" read apart from the DATA line, never.",
		.banner = EMU_BANNER_KEEP20, .verbs = rfc821_verbs, .fate = EMU_FATE_X,
		.ehlo = EMU_EHLO_PASS, .eod_swallow = 1,
	},
	{
		.name = "asa",
		.help = "Cisco ASA/FTD \"inspect esmtp\", default policy map\n"
			"(README 1-4). mask-banner: each greeting line's text\n"
			"becomes all '*'. EHLO reply lines other than SIZE ETRN\n"
			"PIPELINING DSN ENHANCEDSTATUSCODES 8BITMIME BINARYMIME and\n"
			"AUTH with mechanisms are masked: the text becomes 'X's and a\n"
			"letter counting A, B, C... within the reply (\"250-STARTTLS\"\n"
			"-> \"250-XXXXXXXA\"); the first line passes. Commands other\n"
			"than AUTH DATA EHLO ETRN HELO HELP MAIL NOOP QUIT RCPT RSET\n"
			"SAML SEND SOML VRFY (so STARTTLS, BDAT, VERB, XCLIENT...)\n"
			"have their verb X-ed.\n" ASA_DROPS,
		.banner = EMU_BANNER_STARS, .verbs = asa_verbs, .fate = EMU_FATE_X,
		.ehlo = EMU_EHLO_MASK, .keywords = asa_ehlo,
		.cmd_max = ASA_CMD_MAX, .header_max = ASA_HEADER_MAX,
		.filename_max = ASA_FILENAME_MAX,
	},
	{
		.name = "asa-allow-tls",
		.help = "As asa with \"parameters allow-tls\" (README 3): STARTTLS\n"
			"passes in the EHLO reply and as a command; after the server's\n"
			"220 to it every octet passes untouched both ways.",
		.banner = EMU_BANNER_STARS, .verbs = asa_tls_verbs, .fate = EMU_FATE_X,
		.ehlo = EMU_EHLO_MASK, .keywords = asa_tls_ehlo,
		.cmd_max = ASA_CMD_MAX, .header_max = ASA_HEADER_MAX,
		.filename_max = ASA_FILENAME_MAX,
	},
	{
		.name = "fwsm",
		.help = "Cisco FWSM as published transcripts show it (README 1):\n"
			"the greeting text masked to all '*'; commands and EHLO\n"
			"replies pass. The default policy map's drops, as in asa.\n"
			ASA_DROPS,
		.banner = EMU_BANNER_STARS, .verbs = NULL, .ehlo = EMU_EHLO_PASS,
		.cmd_max = ASA_CMD_MAX, .header_max = ASA_HEADER_MAX,
		.filename_max = ASA_FILENAME_MAX,
	},
	{
		.name = "strip",
		.help = "A stripping proxy such as Zorp (README 2): every EHLO\n"
			"reply line but PIPELINING SIZE ETRN 8BITMIME STARTTLS (and\n"
			"the first) is removed without a trace; the last line kept\n"
			"gets \"250 \" so the reply stays well-formed. Lengths change.",
		.banner = EMU_BANNER_PASS, .verbs = NULL, .ehlo = EMU_EHLO_KEEP,
		.keywords = zorp_keep,
	},
	{
		.name = "strip-tls",
		.help = "A proxy that removes only the STARTTLS line of the EHLO\n"
			"reply (README 2, 3), continuation marks fixed up as in\n"
			"strip.",
		.banner = EMU_BANNER_PASS, .verbs = NULL, .ehlo = EMU_EHLO_REMOVE,
		.keywords = starttls_only,
	},
	{.name = NULL},
};

const struct emu_profile *emu_profile_find(const char *name)
{
	if (name == NULL)
		return NULL;
	for (const struct emu_profile *p = emu_profiles; p->name != NULL; p++)
		if (strcmp(p->name, name) == 0)
			return p;
	return NULL;
}

/* --- connection state --------------------------------------------------- */

/* Text a PIX 4 puts in the greeting: published transcripts give "220
 * SMTP/cmap ready" followed by underscores, which is what is emulated (and what the
 * plugin recognises). Microsoft KB 320027 prints it as "220 SMTP/cmap___
 * ... read", underscores before the word; that form is not emulated. */
static const char CMAP_TEXT[] = "SMTP/cmap ready";
#define CMAP_LEN (sizeof CMAP_TEXT - 1U)

/* What the client side is sending. */
enum cmode {
	CM_COMMAND = 0, /* command lines */
	CM_HEADERS,     /* message header lines, buffered (header or file name
			 * rule on) */
	CM_BODY,        /* the rest of the message, streamed to the "." */
	CM_MIME,        /* the same, a line at a time (file name rule on) */
	CM_CHUNK,       /* a BDAT chunk, streamed by count */
	CM_OPAQUE       /* TLS: nothing to see */
};

/* What a reply answers, as far as the box cares. Stored in a byte. */
enum kind {
	K_OTHER = 0, /* anything else */
	K_GREETING,  /* the connection greeting */
	K_EHLO,      /* EHLO */
	K_STARTTLS,  /* STARTTLS */
	K_DATA       /* DATA (the 354) */
};

/* Which kind of line take_line() is assembling. */
enum lkind {
	LK_COMMAND = 0, /* a client command */
	LK_HEADER,      /* a message header line */
	LK_BODY,        /* a message body line (CM_MIME) */
	LK_REPLY        /* a server reply line */
};

/* A line not complete yet: at most EMU_LINE_MAX - 1 octets, no LF. */
struct linebuf {
	char b[EMU_LINE_MAX];
	size_t len;
};

struct emu_conn {
	const struct emu_profile *prof;
	enum emu_why why;

	/* client -> server */
	enum cmode cmode;
	struct linebuf cl;
	struct emu_dot dot;  /* CM_BODY: where the "." line is */
	uint64_t chunk_left; /* CM_CHUNK: octets of the chunk still to come */
	int mime_field;      /* the header field being read is Content-Type or
			      * Content-Disposition (file name rule) */
	int part_header;     /* CM_MIME: in the header of a MIME part */
	int long_line;       /* CM_MIME: a line over EMU_LINE_MAX passes on,
			      * unread, up to its LF */
	int eol_here;        /* eod_swallow: the line end before the current
			      * line began in the current feed */
	char hold[2];        /* eod_swallow: "." or ".\r" held at a feed's end */
	size_t nhold;

	/* server -> client */
	int sopaque; /* TLS started: pass everything */
	struct linebuf sv;
	int greeted;     /* the greeting reply is complete */
	int in_reply;    /* a multi-line reply has begun */
	enum kind rkind; /* what it answers */
	int rqueued;     /* 1: it answers the head of q (popped at its end) */
	int rcode;       /* its code, -1 if the first line had none */
	size_t rline;    /* lines of it seen so far */
	unsigned rmasked; /* lines of it masked so far (the letter) */
	struct linebuf held; /* strip: last line kept, its mark still open */

	/* replies awaited: q[qhead], ... (qlen of them, modulo) */
	unsigned char q[EMU_PENDING_MAX];
	size_t qhead;
	size_t qlen;
};

struct emu_conn *emu_conn_new(const struct emu_profile *profile)
{
	struct emu_conn *c;

	if (profile == NULL)
		return NULL;
	c = calloc(1, sizeof *c);
	if (c == NULL)
		return NULL;
	c->prof = profile;
	c->cmode = CM_COMMAND;
	c->rcode = -1;
	emu_dot_reset(&c->dot);
	return c;
}

void emu_conn_free(struct emu_conn *c)
{
	free(c);
}

size_t emu_conn_room(const struct emu_conn *c)
{
	if (c == NULL || c->why != EMU_WHY_NONE)
		return 0;
	if (c->cmode == CM_OPAQUE)
		return SIZE_MAX;
	return EMU_PENDING_MAX - c->qlen;
}

enum emu_why emu_conn_why(const struct emu_conn *c)
{
	return c == NULL ? EMU_WHY_NONE : c->why;
}

const char *emu_why_text(enum emu_why why)
{
	switch (why) {
	case EMU_WHY_NONE:
		return "not dropped";
	case EMU_WHY_COMMAND_TOO_LONG:
		return "command line too long";
	case EMU_WHY_HEADER_TOO_LONG:
		return "message header line too long";
	case EMU_WHY_FILENAME_TOO_LONG:
		return "MIME file name too long";
	case EMU_WHY_LINE_TOO_LONG:
		return "line longer than the emulator's buffer";
	case EMU_WHY_PIPELINE_FULL:
		return "too many commands awaiting replies";
	case EMU_WHY_INTERNAL:
		return "internal error in the rewriting engine";
	default:
		return "unknown reason";
	}
}

/* The first drop reason wins. */
static void drop(struct emu_conn *c, enum emu_why why)
{
	if (c->why == EMU_WHY_NONE)
		c->why = why;
}

/* Expect one more reply of kind k. 0, or -1 when the FIFO is full. */
static int expect(struct emu_conn *c, enum kind k)
{
	if (c->qlen == EMU_PENDING_MAX)
		return -1;
	c->q[(c->qhead + c->qlen) % EMU_PENDING_MAX] = (unsigned char)k;
	c->qlen++;
	return 0;
}

static void expected_done(struct emu_conn *c)
{
	if (c->qlen == 0)
		return;
	c->qhead = (c->qhead + 1U) % EMU_PENDING_MAX;
	c->qlen--;
}

/* --- client side: commands --------------------------------------------- */

/* Overwrite a refused command, line[0..m) without its line end, in place:
 * its verb with 'X's (the whole text if it starts with a blank), or the
 * whole text with "NOOP" SP 'X'... (README 2). Lengths are kept. */
static void refuse(enum emu_fate fate, char *line, size_t m, size_t verb)
{
	size_t n = verb > 0 ? verb : m;

	if (fate == EMU_FATE_NOOP && m >= 4) {
		memcpy(line, "NOOP", 4);
		if (m > 4)
			line[4] = ' ';
		if (m > 5)
			memset(line + 5, 'X', m - 5);
		return;
	}
	memset(line, 'X', n);
}

/* What the server will take the command line[0..m) for. */
static enum kind command_kind(const char *line, size_t m)
{
	size_t v = sf_token_end(line, m, 0);

	if (sf_ci_word(line, v, "EHLO"))
		return K_EHLO;
	if (sf_ci_word(line, v, "STARTTLS"))
		return K_STARTTLS;
	if (sf_ci_word(line, v, "DATA"))
		return K_DATA;
	return K_OTHER;
}

/* A complete command line, copied to o->p[start..start+n): rewrite it as
 * the profile says, then note the reply it calls for. */
static void command_line(struct emu_conn *c, struct emu_out *o, size_t start, size_t n)
{
	char *line = o->p + start;
	size_t m = emu_line_core(line, n);
	size_t verb = sf_token_end(line, m, 0);
	uint64_t size;
	int last;

	if (c->prof->verbs != NULL && !emu_word_in(line, verb, c->prof->verbs))
		refuse(c->prof->fate, line, m, verb);
	if (expect(c, command_kind(line, m)) < 0) {
		o->len = start;
		drop(c, EMU_WHY_PIPELINE_FULL);
		return;
	}
	/* A BDAT that reaches the server is followed by its chunk, raw. */
	if (emu_bdat_parse(line, m, &size, &last) == 0 && size > 0) {
		c->chunk_left = size;
		c->cmode = CM_CHUNK;
	}
}

/* The lone "." ended a message: the server will answer it. */
static void message_end(struct emu_conn *c)
{
	c->cmode = CM_COMMAND;
	if (expect(c, K_OTHER) < 0)
		drop(c, EMU_WHY_PIPELINE_FULL);
}

/* --- client side: the message ------------------------------------------ */

/* 1 if c ends a token of a MIME parameter (RFC 2045 5.1, loosely). */
static int param_stop(char c)
{
	return sf_is_blank((unsigned char)(c)) || c == ';' || c == '=' || c == '"';
}

/* s[i] is '"': the index after the closing quote (or n), and in *vlen the
 * octets between the quotes. A backslash quotes the next octet (RFC 5322
 * 3.2.4 quoted-pair); both count. */
static size_t skip_quoted(const char *s, size_t n, size_t i, size_t *vlen)
{
	size_t v = ++i;

	while (i < n && s[i] != '"')
		i += (s[i] == '\\' && i + 1 < n) ? 2U : 1U;
	*vlen = (i < n ? i : n) - v;
	return i < n ? i + 1 : n;
}

/* The longest value of a "name" or "filename" parameter (RFC 2045 5.1,
 * RFC 2183 2) in the header field text s[0..n); 0 if there is none.
 * A value is a token or a quoted-string, counted without its quotes. */
static size_t mime_name_len(const char *s, size_t n)
{
	size_t i = 0, best = 0;

	while (i < n) {
		size_t a, alen, v, vlen = 0;

		if (s[i] == '"') {
			i = skip_quoted(s, n, i, &vlen);
			continue;
		}
		if (param_stop(s[i])) {
			i++;
			continue;
		}
		for (a = i; i < n && !param_stop(s[i]); i++)
			;
		alen = i - a;
		i = sf_skip_blanks(s, n, i);
		if (i == n || s[i] != '=')
			continue;
		i = sf_skip_blanks(s, n, i + 1);
		if (i < n && s[i] == '"') {
			i = skip_quoted(s, n, i, &vlen);
		} else {
			for (v = i; i < n && s[i] != ';' && !sf_is_blank((unsigned char)(s[i])); i++)
				;
			vlen = i - v;
		}
		if ((sf_ci_word(s + a, alen, "name") || sf_ci_word(s + a, alen, "filename")) &&
		    vlen > best)
			best = vlen;
	}
	return best;
}

/* A line of a header (the message's or a MIME part's), line[0..m) without
 * its line end: follow the field it belongs to (a line that starts with a
 * blank continues the one before, RFC 5322 2.2.3) and apply the file name
 * rule to Content-Type and Content-Disposition. 0, or -1 after a drop. */
static int mime_header(struct emu_conn *c, const char *line, size_t m)
{
	size_t from = 0;

	if (m == 0 || !sf_is_blank((unsigned char)(line[0]))) { /* a new field: "name:" */
		const char *colon = memchr(line, ':', m);
		size_t k = colon != NULL ? (size_t)(colon - line) : 0;

		while (k > 0 && sf_is_blank((unsigned char)(line[k - 1])))
			k--;
		c->mime_field = colon != NULL && (sf_ci_word(line, k, "Content-Type") ||
						  sf_ci_word(line, k, "Content-Disposition"));
		from = colon != NULL ? (size_t)(colon - line) + 1U : m;
	}
	if (c->mime_field && c->prof->filename_max > 0 &&
	    mime_name_len(line + from, m - from) > c->prof->filename_max) {
		drop(c, EMU_WHY_FILENAME_TOO_LONG);
		return -1;
	}
	return 0;
}

/* The header ended: the body follows. */
static void body_begin(struct emu_conn *c)
{
	c->cmode = c->prof->filename_max > 0 ? CM_MIME : CM_BODY;
	c->part_header = 0;
	c->mime_field = 0;
	c->long_line = 0;
}

/* A complete message header line (CM_HEADERS), at o->p[start..start+n). */
static void header_line(struct emu_conn *c, struct emu_out *o, size_t start, size_t n)
{
	const char *line = o->p + start;
	size_t m = emu_line_core(line, n);

	if (m == 1 && line[0] == '.') {
		message_end(c);
	} else if (m == 0) { /* the blank line: the body follows */
		body_begin(c);
		emu_dot_reset(&c->dot);
	} else if (mime_header(c, line, m) < 0) {
		o->len = start;
	}
}

/* A complete body line (CM_MIME), at o->p[start..start+n): the "." line,
 * a boundary delimiter ("--" and more, RFC 2046 5.1.1) after which a MIME
 * part's header follows up to an empty line, or a line of either. */
static void body_line(struct emu_conn *c, struct emu_out *o, size_t start, size_t n)
{
	const char *line = o->p + start;
	size_t m = emu_line_core(line, n);

	if (m == 1 && line[0] == '.') {
		message_end(c);
	} else if (m >= 2 && line[0] == '-' && line[1] == '-') {
		c->part_header = 1;
		c->mime_field = 0;
	} else if (c->part_header && m == 0) {
		c->part_header = 0;
	} else if (c->part_header && mime_header(c, line, m) < 0) {
		o->len = start;
	}
}

/* CM_MIME: a body line too long for the buffer. Its first EMU_LINE_MAX
 * octets (what lb holds and in[0..take)) are judged as a line and passed
 * on; without its LF yet, the rest follows unread (long_line). Judging a
 * fixed prefix gives the same verdict however the line was cut into feeds.
 * Returns take. */
static size_t spill(struct emu_conn *c, struct linebuf *lb, const char *in, size_t take,
		    int complete, struct emu_out *o)
{
	size_t start = o->len;
	size_t judged = lb->len + take < EMU_LINE_MAX ? lb->len + take : EMU_LINE_MAX;

	emu_out_put(o, lb->b, lb->len);
	emu_out_put(o, in, take);
	lb->len = 0;
	if (o->over)
		return take;
	if (c->part_header && mime_header(c, o->p + start, judged) < 0) {
		o->len = start;
		return take;
	}
	c->long_line = !complete;
	return take;
}

/* CM_MIME, long_line: pass the rest of a long line, up to its LF. */
static size_t long_bytes(struct emu_conn *c, const char *in, size_t len, struct emu_out *o)
{
	const char *lf = memchr(in, '\n', len);
	size_t k = lf != NULL ? (size_t)(lf - in) + 1U : len;

	emu_out_put(o, in, k);
	if (lf != NULL)
		c->long_line = 0;
	return k;
}

/* --- server side: replies ---------------------------------------------- */

/* The code of a reply line, or -1 if it does not start with three digits. */
static int reply_code(const char *line, size_t m)
{
	if (m < 3)
		return -1;
	for (size_t i = 0; i < 3; i++)
		if (line[i] < '0' || line[i] > '9')
			return -1;
	return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
}

/* Mask the greeting line number k (from 0), line[0..m) without its line
 * end: the text that follows "ddd" and the separator (README 1), or under
 * EMU_BANNER_WHOLE20 the separator too, and on lines after the first the
 * code as well. */
static void mask_banner(enum emu_banner rule, size_t k, char *line, size_t m)
{
	size_t from = 4, n;
	char *t;

	if (rule == EMU_BANNER_WHOLE20) {
		/* the separator, and after the first line the code: no 2/0 kept */
		for (size_t i = k == 0 ? 3U : 0U; i < from && i < m; i++)
			if (line[i] != '\r' && line[i] != '\n')
				line[i] = '*';
		rule = EMU_BANNER_KEEP20; /* the text as in pix6 */
	}
	if (m <= from)
		return;
	t = line + from;
	n = m - from;
	for (size_t i = 0; i < n; i++) {
		switch (rule) {
		case EMU_BANNER_PASS:
			return;
		case EMU_BANNER_STARS:
			if (t[i] != '\r' && t[i] != '\n')
				t[i] = '*';
			break;
		case EMU_BANNER_KEEP20:
			if (t[i] != '\r' && t[i] != '\n' && t[i] != '2' && t[i] != '0')
				t[i] = '*';
			break;
		case EMU_BANNER_CMAP:
			t[i] = i < CMAP_LEN ? CMAP_TEXT[i] : '_';
			break;
		default:
			return; /* a row with an unknown rule leaves the text alone */
		}
	}
}

/* 1 if the EHLO line text t[0..n) (after "250-") matches the list. */
static int keyword_listed(const struct emu_keyword *list, const char *t, size_t n)
{
	size_t kw = sf_token_end(t, n, 0);
	int params = sf_skip_blanks(t, n, kw) < n;

	for (; list != NULL && list->word != NULL; list++)
		if (sf_ci_word(t, kw, list->word) && (params || !list->need_params))
			return 1;
	return 0;
}

/* The ASA mask (README 2): t[0..n) becomes 'X' * (n - 1) and the k-th
 * letter (A, B, ... Z, then A again). 1 if something was masked. */
static int mask_x(char *t, size_t n, unsigned k)
{
	if (n == 0)
		return 0;
	memset(t, 'X', n - 1);
	t[n - 1] = (char)('A' + (int)(k % 26U));
	return 1;
}

/* Stripping: the line at o->p[start..start+n) is kept or removed. A kept
 * line is held back until the next kept line or the end of the reply shows
 * whether it is the last, which must read "250 " (RFC 5321 4.2.1). */
static void strip_line(struct emu_conn *c, struct emu_out *o, size_t start, size_t n,
		       int final, int keep)
{
	if (!keep) {
		o->len = start;
		if (final && c->held.len > 0) {
			c->held.b[3] = ' '; /* held lines are "ddd-" lines */
			emu_out_put(o, c->held.b, c->held.len);
			c->held.len = 0;
		}
		return;
	}
	if (c->held.len > 0) { /* release it before this line */
		if (o->cap - o->len < c->held.len) {
			o->over = 1;
			return;
		}
		memmove(o->p + start + c->held.len, o->p + start, n);
		memcpy(o->p + start, c->held.b, c->held.len);
		o->len += c->held.len;
		start += c->held.len;
		c->held.len = 0;
	}
	if (!final) {
		memcpy(c->held.b, o->p + start, n);
		c->held.len = n;
		o->len = start;
	}
}

/* One line of a 250 reply to EHLO, at o->p[start..start+n). */
static void ehlo_line(struct emu_conn *c, struct emu_out *o, size_t start, size_t n, int final)
{
	char *line = o->p + start;
	size_t m = emu_line_core(line, n);
	int first = c->rline == 0; /* the domain greeting line always stays */
	int listed = m > 4 && keyword_listed(c->prof->keywords, line + 4, m - 4);

	switch (c->prof->ehlo) {
	case EMU_EHLO_PASS:
		return;
	case EMU_EHLO_MASK:
		if (!first && !listed && m > 4)
			c->rmasked += (unsigned)mask_x(line + 4, m - 4, c->rmasked);
		return;
	case EMU_EHLO_KEEP:
		strip_line(c, o, start, n, final, first || listed);
		return;
	case EMU_EHLO_REMOVE:
		strip_line(c, o, start, n, final, first || !listed);
		return;
	default:
		drop(c, EMU_WHY_INTERNAL);
		return;
	}
}

/* The first line of a reply: what does the reply answer? */
static void reply_begin(struct emu_conn *c, const char *line, size_t m)
{
	c->in_reply = 1;
	c->rline = 0;
	c->rmasked = 0;
	c->rcode = reply_code(line, m);
	c->rqueued = 0;
	if (!c->greeted) {
		c->rkind = K_GREETING;
	} else if (c->qlen > 0) {
		c->rkind = (enum kind)c->q[c->qhead];
		c->rqueued = 1;
	} else {
		c->rkind = K_OTHER; /* unsolicited, e.g. 421 before closing */
	}
}

/* The last line of a reply went by: act on what it meant. */
static void reply_end(struct emu_conn *c)
{
	c->in_reply = 0;
	if (c->rqueued)
		expected_done(c);
	switch (c->rkind) {
	case K_GREETING:
		c->greeted = 1;
		break;
	case K_STARTTLS:
		if (c->rcode == 220) { /* RFC 3207: TLS starts now */
			c->sopaque = 1;
			c->cmode = CM_OPAQUE;
		}
		break;
	case K_DATA:
		if (c->rcode == 354 && c->cmode == CM_COMMAND) {
			if (c->prof->header_max > 0 || c->prof->filename_max > 0) {
				c->cmode = CM_HEADERS;
				c->mime_field = 0;
			} else {
				body_begin(c);
			}
			emu_dot_reset(&c->dot);
			c->eol_here = 0;
			c->nhold = 0;
		}
		break;
	case K_EHLO:
	case K_OTHER:
		break;
	default:
		drop(c, EMU_WHY_INTERNAL);
		break;
	}
}

/* A complete reply line at o->p[start..start+n). */
static void reply_line(struct emu_conn *c, struct emu_out *o, size_t start, size_t n)
{
	char *line = o->p + start;
	size_t m = emu_line_core(line, n);
	int final = !(m >= 4 && line[3] == '-');

	if (!c->in_reply)
		reply_begin(c, line, m);
	switch (c->rkind) {
	case K_GREETING:
		mask_banner(c->prof->banner, c->rline, line, m);
		break;
	case K_EHLO:
		if (c->rcode == 250)
			ehlo_line(c, o, start, n, final);
		break;
	case K_STARTTLS:
	case K_DATA:
	case K_OTHER:
		break;
	default:
		drop(c, EMU_WHY_INTERNAL);
		return;
	}
	c->rline++;
	if (final)
		reply_end(c);
}

/* --- line assembly ------------------------------------------------------ */

/* The rule an incomplete line of have octets (no LF yet) already breaks:
 * with its LF still to come it will be at least have + 1 long. */
static enum emu_why partial_limit(const struct emu_conn *c, enum lkind lk, size_t have)
{
	if (lk == LK_COMMAND && c->prof->cmd_max > 0 && have >= c->prof->cmd_max)
		return EMU_WHY_COMMAND_TOO_LONG;
	/* have >= max + 2: even if the last octet is the CR of CR LF */
	if (lk == LK_HEADER && c->prof->header_max > 0 && have >= c->prof->header_max + 2U)
		return EMU_WHY_HEADER_TOO_LONG;
	if (have >= EMU_LINE_MAX)
		return EMU_WHY_LINE_TOO_LONG;
	return EMU_WHY_NONE;
}

/* The rule a complete line[0..n) (LF included) breaks. */
static enum emu_why line_limit(const struct emu_conn *c, enum lkind lk, const char *line, size_t n)
{
	if (lk == LK_COMMAND && c->prof->cmd_max > 0 && n > c->prof->cmd_max)
		return EMU_WHY_COMMAND_TOO_LONG;
	if (lk == LK_HEADER && c->prof->header_max > 0 &&
	    emu_line_core(line, n) > c->prof->header_max)
		return EMU_WHY_HEADER_TOO_LONG;
	if (n > EMU_LINE_MAX)
		return EMU_WHY_LINE_TOO_LONG;
	return EMU_WHY_NONE;
}

/* Take the octets of one line from in[0..len) (len > 0). A complete line
 * is copied to o, checked, then rewritten in place; an incomplete one waits
 * in lb. Returns the octets consumed (at least 1). A line that breaks a
 * rule is not forwarded, not even in part. */
static size_t take_line(struct emu_conn *c, struct linebuf *lb, enum lkind lk,
			const char *in, size_t len, struct emu_out *o)
{
	const char *lf = memchr(in, '\n', len);
	size_t take = lf != NULL ? (size_t)(lf - in) + 1U : len;
	size_t start = o->len;
	enum emu_why why;

	/* a body line is never too long: past the buffer it is passed on */
	if (lk == LK_BODY && lb->len + take >= EMU_LINE_MAX + (lf != NULL ? 1U : 0U))
		return spill(c, lb, in, take, lf != NULL, o);
	if (lf == NULL) {
		why = partial_limit(c, lk, lb->len + len);
		if (why != EMU_WHY_NONE) {
			drop(c, why);
			return len;
		}
		memcpy(lb->b + lb->len, in, len);
		lb->len += len;
		return len;
	}
	emu_out_put(o, lb->b, lb->len);
	emu_out_put(o, in, take);
	lb->len = 0;
	if (o->over)
		return take;
	why = line_limit(c, lk, o->p + start, o->len - start);
	if (why != EMU_WHY_NONE) {
		o->len = start;
		drop(c, why);
		return take;
	}
	switch (lk) {
	case LK_COMMAND:
		command_line(c, o, start, o->len - start);
		break;
	case LK_HEADER:
		header_line(c, o, start, o->len - start);
		break;
	case LK_BODY:
		body_line(c, o, start, o->len - start);
		break;
	case LK_REPLY:
		reply_line(c, o, start, o->len - start);
		break;
	default:
		drop(c, EMU_WHY_INTERNAL);
		break;
	}
	return take;
}

/* CM_BODY: stream the message up to and including the "." line. */
static size_t body_bytes(struct emu_conn *c, const char *in, size_t len, struct emu_out *o)
{
	int end;
	size_t k = emu_dot_scan(&c->dot, in, len, &end);

	emu_out_put(o, in, k);
	if (end)
		message_end(c);
	return k;
}

/* eod_swallow: pass the "." or ".\r" held at the end of the last feed. */
static void release(struct emu_conn *c, struct emu_out *o)
{
	emu_out_put(o, c->hold, c->nhold);
	c->nhold = 0;
}

/* CM_BODY under eod_swallow: as body_bytes, a line at a time (up to one LF
 * of in[0..len)), with MailGuard's bug: a "." line whose marker (the line
 * end before it, the ".", its own line end) did not all come in this feed
 * is swallowed and the message goes on. A line that may still become the
 * "." line ("." or ".\r" so far) is held back at the end of a feed until
 * the next feed shows what it is. c->dot keeps the current line's length,
 * first and last octet. */
static size_t body_bytes_eod(struct emu_conn *c, const char *in, size_t len, struct emu_out *o)
{
	const char *lf = memchr(in, '\n', len);
	size_t seg = lf != NULL ? (size_t)(lf - in) : len;
	struct emu_dot *d = &c->dot;
	int cr_before = d->len > 0 && d->last == '\r'; /* from an earlier feed */
	int dot_line;

	if (seg > 0) {
		if (d->len == 0)
			d->first = (unsigned char)in[0];
		d->last = (unsigned char)in[seg - 1];
		d->len = seg > SIZE_MAX - d->len ? SIZE_MAX : d->len + seg;
	}
	/* every octet of a line that is "." or ".\r" so far is held */
	dot_line = d->first == '.' && (d->len == 1 || (d->len == 2 && d->last == '\r'));
	if (lf == NULL) {
		if (dot_line) {
			memcpy(c->hold + c->nhold, in, seg); /* nhold + seg == d->len <= 2 */
			c->nhold += seg;
		} else {
			release(c, o);
			emu_out_put(o, in, seg);
		}
		return len;
	}
	if (dot_line && c->nhold == 0 && c->eol_here) { /* the whole marker: the end */
		emu_out_put(o, in, seg + 1U);
		message_end(c);
	} else if (dot_line) { /* split: swallowed, the box sees no end */
		c->nhold = 0;
	} else {
		release(c, o);
		emu_out_put(o, in, seg + 1U);
	}
	/* this line end began here unless it is a lone LF after a CR that came
	 * in an earlier feed */
	c->eol_here = !(seg == 0 && cr_before);
	emu_dot_reset(d);
	return seg + 1U;
}

/* CM_CHUNK: stream the rest of a BDAT chunk. */
static size_t chunk_bytes(struct emu_conn *c, const char *in, size_t len, struct emu_out *o)
{
	size_t k = c->chunk_left < (uint64_t)len ? (size_t)c->chunk_left : len;

	emu_out_put(o, in, k);
	c->chunk_left -= k;
	if (c->chunk_left == 0)
		c->cmode = CM_COMMAND;
	return k;
}

static void client_bytes(struct emu_conn *c, const char *in, size_t len, struct emu_out *o)
{
	size_t i = 0;

	while (i < len && c->why == EMU_WHY_NONE && !o->over) {
		switch (c->cmode) {
		case CM_COMMAND:
			i += take_line(c, &c->cl, LK_COMMAND, in + i, len - i, o);
			break;
		case CM_HEADERS:
			i += take_line(c, &c->cl, LK_HEADER, in + i, len - i, o);
			break;
		case CM_BODY:
			i += c->prof->eod_swallow ? body_bytes_eod(c, in + i, len - i, o)
						  : body_bytes(c, in + i, len - i, o);
			break;
		case CM_MIME:
			i += c->long_line ? long_bytes(c, in + i, len - i, o)
					  : take_line(c, &c->cl, LK_BODY, in + i, len - i, o);
			break;
		case CM_CHUNK:
			i += chunk_bytes(c, in + i, len - i, o);
			break;
		case CM_OPAQUE:
			emu_out_put(o, in + i, len - i);
			i = len;
			break;
		default:
			drop(c, EMU_WHY_INTERNAL);
			break;
		}
	}
}

static void server_bytes(struct emu_conn *c, const char *in, size_t len, struct emu_out *o)
{
	size_t i = 0;

	while (i < len && c->why == EMU_WHY_NONE && !o->over) {
		if (c->sopaque) {
			emu_out_put(o, in + i, len - i);
			break;
		}
		i += take_line(c, &c->sv, LK_REPLY, in + i, len - i, o);
	}
}

/* Client octets that waited as a command line when a server reply moved the
 * client side to the body or to TLS belong to the new mode: run them again
 * before new input. (A client that waits for 354 or 220, as RFC 5321 and
 * RFC 3207 require, never leaves any.) */
static void client_replay(struct emu_conn *c, struct emu_out *o)
{
	char tmp[EMU_LINE_MAX];
	size_t n = c->cl.len;

	if (n == 0 || (c->cmode != CM_BODY && c->cmode != CM_OPAQUE))
		return;
	memcpy(tmp, c->cl.b, n);
	c->cl.len = 0;
	client_bytes(c, tmp, n, o);
}

enum emu_status emu_conn_feed(struct emu_conn *c, enum emu_side from,
			      const char *in, size_t len,
			      char *out, size_t outcap, size_t *outlen)
{
	struct emu_out o = {out, 0, outcap, 0};

	if (outlen != NULL)
		*outlen = 0;
	if (c == NULL || outlen == NULL || out == NULL || (in == NULL && len > 0) ||
	    outcap < EMU_FEED_SLACK || len > outcap - EMU_FEED_SLACK ||
	    (from != EMU_FROM_CLIENT && from != EMU_FROM_SERVER))
		return EMU_ERROR;
	if (c->why != EMU_WHY_NONE)
		return EMU_DROP;
	if (from == EMU_FROM_CLIENT) {
		c->eol_here = 0; /* a new feed: every earlier octet came before it */
		client_replay(c, &o);
		client_bytes(c, in, len, &o);
	} else {
		server_bytes(c, in, len, &o);
	}
	if (o.over) /* the slack bound is wrong: a bug, say so loudly */
		drop(c, EMU_WHY_INTERNAL);
	*outlen = o.len;
	return c->why == EMU_WHY_NONE ? EMU_PASS : EMU_DROP;
}

enum emu_status emu_conn_eof(struct emu_conn *c, enum emu_side from,
			     char *out, size_t outcap, size_t *outlen)
{
	struct emu_out o = {out, 0, outcap, 0};

	if (outlen != NULL)
		*outlen = 0;
	if (c == NULL || outlen == NULL || out == NULL || outcap < EMU_FEED_SLACK ||
	    (from != EMU_FROM_CLIENT && from != EMU_FROM_SERVER))
		return EMU_ERROR;
	if (c->why != EMU_WHY_NONE)
		return EMU_DROP;
	if (from == EMU_FROM_CLIENT) {
		release(c, &o);
		emu_out_put(&o, c->cl.b, c->cl.len);
		c->cl.len = 0;
	} else {
		emu_out_put(&o, c->held.b, c->held.len);
		emu_out_put(&o, c->sv.b, c->sv.len);
		c->held.len = 0;
		c->sv.len = 0;
	}
	*outlen = o.len;
	return EMU_PASS;
}

/*
 * persona.c - the built-in server personas of smtp-inspect-emu (see
 * persona.h).
 *
 * A persona is a row of styles[]: its server's greeting, EHLO list and the
 * words of every reply, as templates. One state machine serves them all:
 * commands (one line at a time, PERSONA_LINE_MAX octets), the message after
 * 354 until the lone "." (RFC 5321 4.1.1.4), BDAT chunks by their count
 * (RFC 3030). Pipelined commands (RFC 2920) are answered in order.
 *
 * Template escapes: %h host name, %a client address, %v the verb, %l the
 * whole command line, %p its parameters, %w the first word of them (the
 * path for MAIL and RCPT), %n the size of the last BDAT chunk, %q the number
 * of the message, %% a '%'. Client text is echoed at most PERSONA_ECHO_MAX
 * octets long, control octets shown as '?'.
 *
 * Limits: the replies are realistic in shape, not copies of any server's
 * full behaviour; addresses are not checked and nothing is kept.
 */
#include "persona.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scan.h"

/* The words of one server. NULL for a command means the server does not
 * know it and answers it with `unknown`. Every template ends in CRLF. */
struct style {
	const char *name;
	const char *summary;
	const char *host;
	const char *banner;
	const char *ehlo;
	const char *helo;
	const char *ehlo_syntax; /* EHLO without a domain */
	const char *helo_syntax; /* HELO without a domain */
	const char *need_helo;   /* MAIL before HELO; NULL: allowed */
	const char *mail_ok;
	const char *nested_mail; /* a second MAIL */
	const char *mail_syntax;
	const char *rcpt_ok;
	const char *need_mail;   /* RCPT or BDAT before MAIL */
	const char *rcpt_syntax;
	const char *data_go;     /* the 354 */
	const char *need_rcpt;   /* DATA or BDAT before RCPT */
	const char *queued;      /* the message is in */
	const char *bdat_ok;     /* a BDAT chunk that is not LAST; NULL: no CHUNKING */
	const char *bdat_syntax;
	const char *rset;
	const char *noop;
	const char *vrfy;
	const char *vrfy_syntax;
	const char *help;
	const char *etrn;
	const char *auth;
	const char *quit;
	const char *unknown;
	const char *too_long;    /* a line over PERSONA_LINE_MAX */
};

/* The same for every persona: they have no TLS. */
static const char NO_TLS[] = "454 4.7.0 TLS not available\r\n";

static const struct style styles[] = {
	{
		.name = "postfix",
		.summary = "Postfix 3.7 (Debian): ESMTP with CHUNKING and SMTPUTF8",
		.host = "mail.example.org",
		.banner = "220 %h ESMTP Postfix (Debian/GNU)\r\n",
		.ehlo = "250-%h\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n"
			"250-ETRN\r\n250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n"
			"250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n",
		.helo = "250 %h\r\n",
		.ehlo_syntax = "501 Syntax: EHLO hostname\r\n",
		.helo_syntax = "501 Syntax: HELO hostname\r\n",
		.need_helo = NULL,
		.mail_ok = "250 2.1.0 Ok\r\n",
		.nested_mail = "503 5.5.1 Error: nested MAIL command\r\n",
		.mail_syntax = "501 5.5.4 Syntax: MAIL FROM:<address>\r\n",
		.rcpt_ok = "250 2.1.5 Ok\r\n",
		.need_mail = "503 5.5.1 Error: need MAIL command\r\n",
		.rcpt_syntax = "501 5.5.4 Syntax: RCPT TO:<address>\r\n",
		.data_go = "354 End data with <CR><LF>.<CR><LF>\r\n",
		.need_rcpt = "503 5.5.1 Error: need RCPT command\r\n",
		.queued = "250 2.0.0 Ok: queued as 4VJ7Q25Xb%q\r\n",
		.bdat_ok = "250 2.0.0 Ok: %n bytes\r\n",
		.bdat_syntax = "501 5.5.4 Syntax: BDAT count [LAST]\r\n",
		.rset = "250 2.0.0 Ok\r\n",
		.noop = "250 2.0.0 Ok\r\n",
		.vrfy = "252 2.0.0 %w\r\n",
		.vrfy_syntax = "501 5.5.4 Syntax: VRFY address\r\n",
		.help = NULL,
		.etrn = "458 Unable to queue messages\r\n",
		.auth = "503 5.5.1 Error: authentication not enabled\r\n",
		.quit = "221 2.0.0 Bye\r\n",
		.unknown = "502 5.5.2 Error: command not recognized\r\n",
		.too_long = "500 5.5.2 Error: line too long\r\n",
	},
	{
		.name = "exchange",
		.summary = "Exchange 2016 front end: X-ANONYMOUSTLS, X-EXPS, XRDST",
		.host = "EXCH01.corp.example.com",
		.banner = "220 %h Microsoft ESMTP MAIL Service ready at "
			  "Mon, 20 May 2024 10:20:00 +0000\r\n",
		.ehlo = "250-%h Hello [%a]\r\n250-SIZE 37748736\r\n250-PIPELINING\r\n"
			"250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n250-STARTTLS\r\n"
			"250-X-ANONYMOUSTLS\r\n250-AUTH NTLM\r\n250-X-EXPS GSSAPI NTLM\r\n"
			"250-8BITMIME\r\n250-BINARYMIME\r\n250-CHUNKING\r\n250 XRDST\r\n",
		.helo = "250 %h Hello [%a]\r\n",
		.ehlo_syntax = "501 5.5.4 Invalid domain name\r\n",
		.helo_syntax = "501 5.5.4 Invalid domain name\r\n",
		.need_helo = "503 5.5.2 Send hello first\r\n",
		.mail_ok = "250 2.1.0 Sender OK\r\n",
		.nested_mail = "503 5.5.2 Sender already specified\r\n",
		.mail_syntax = "501 5.5.4 Invalid arguments\r\n",
		.rcpt_ok = "250 2.1.5 Recipient OK\r\n",
		.need_mail = "503 5.5.2 Need mail command\r\n",
		.rcpt_syntax = "501 5.5.4 Invalid arguments\r\n",
		.data_go = "354 Start mail input; end with <CRLF>.<CRLF>\r\n",
		.need_rcpt = "503 5.5.2 Need rcpt command\r\n",
		.queued = "250 2.6.0 <%q@%h> [InternalId=%q] Queued mail for delivery\r\n",
		.bdat_ok = "250 2.0.0 BDAT chunk received, %n octets\r\n",
		.bdat_syntax = "501 5.5.4 Invalid arguments\r\n",
		.rset = "250 2.0.0 Resetting\r\n",
		.noop = "250 2.0.0 OK\r\n",
		.vrfy = "252 2.1.5 Cannot VRFY user\r\n",
		.vrfy_syntax = "501 5.5.4 Invalid arguments\r\n",
		.help = "214-This server supports the following commands:\r\n"
			"214 HELO EHLO STARTTLS RCPT DATA RSET MAIL QUIT HELP AUTH BDAT\r\n",
		.etrn = NULL,
		.auth = "504 5.7.4 Unrecognized authentication type\r\n",
		.quit = "221 2.0.0 Service closing transmission channel\r\n",
		.unknown = "500 5.3.3 Unrecognized command '%v'\r\n",
		.too_long = "500 5.5.6 Line too long\r\n",
	},
	{
		.name = "sendmail",
		.summary = "sendmail 8.17 (Debian): no CHUNKING, HELP, DELIVERBY",
		.host = "relay.example.com",
		.banner = "220 %h ESMTP Sendmail 8.17.1.9/8.17.1.9/Debian-2; "
			  "Mon, 20 May 2024 10:20:00 +0200\r\n",
		.ehlo = "250-%h Hello localhost [%a], pleased to meet you\r\n"
			"250-ENHANCEDSTATUSCODES\r\n250-PIPELINING\r\n250-8BITMIME\r\n"
			"250-SIZE\r\n250-DSN\r\n250-ETRN\r\n250-AUTH DIGEST-MD5 CRAM-MD5\r\n"
			"250-DELIVERBY\r\n250 HELP\r\n",
		.helo = "250 %h Hello localhost [%a], pleased to meet you\r\n",
		.ehlo_syntax = "501 5.0.0 EHLO requires domain address\r\n",
		.helo_syntax = "501 5.0.0 HELO requires domain address\r\n",
		.need_helo = "503 5.0.0 Polite people say HELO first\r\n",
		.mail_ok = "250 2.1.0 %w... Sender ok\r\n",
		.nested_mail = "503 5.5.0 Sender already specified\r\n",
		.mail_syntax = "501 5.5.2 Syntax error in parameters scanning \"from\"\r\n",
		.rcpt_ok = "250 2.1.5 %w... Recipient ok\r\n",
		.need_mail = "503 5.0.0 Need MAIL before RCPT\r\n",
		.rcpt_syntax = "501 5.5.2 Syntax error in parameters scanning \"to\"\r\n",
		.data_go = "354 Enter mail, end with \".\" on a line by itself\r\n",
		.need_rcpt = "503 5.0.0 Need RCPT (recipient)\r\n",
		.queued = "250 2.0.0 44KAKa0S%q Message accepted for delivery\r\n",
		.bdat_ok = NULL,
		.bdat_syntax = NULL,
		.rset = "250 2.0.0 Reset state\r\n",
		.noop = "250 2.0.0 OK\r\n",
		.vrfy = "252 2.5.2 Cannot VRFY user; try RCPT to attempt delivery "
			"(or try finger)\r\n",
		.vrfy_syntax = "501 5.5.2 Argument required\r\n",
		.help = "214-2.0.0 This is sendmail version 8.17.1.9\r\n"
			"214-2.0.0 Topics:\r\n"
			"214-2.0.0 \tHELO\tEHLO\tMAIL\tRCPT\tDATA\r\n"
			"214-2.0.0 \tRSET\tNOOP\tQUIT\tHELP\tVRFY\r\n"
			"214-2.0.0 \tEXPN\tVERB\tETRN\tDSN\tAUTH\r\n"
			"214-2.0.0 \tSTARTTLS\r\n"
			"214-2.0.0 For more info use \"HELP <topic>\".\r\n"
			"214 2.0.0 End of HELP info\r\n",
		.etrn = "250 2.0.0 Queuing for node %w started\r\n",
		.auth = "504 5.3.3 AUTH mechanism %w not available\r\n",
		.quit = "221 2.0.0 %h closing connection\r\n",
		.unknown = "500 5.5.1 Command unrecognized: \"%l\"\r\n",
		.too_long = "500 5.5.0 Line too long\r\n",
	},
};

#define NSTYLES (sizeof styles / sizeof styles[0])

/* What the client is sending. */
enum pstate {
	PS_COMMAND = 0, /* command lines */
	PS_DATA,        /* a message, up to the lone "." */
	PS_CHUNK        /* a BDAT chunk */
};

struct persona {
	const struct style *st;
	char addr[PERSONA_ADDR_MAX + 1];
	enum pstate state;
	int done; /* QUIT answered */

	char line[PERSONA_LINE_MAX]; /* a command line being assembled */
	size_t llen;
	int discarding; /* the line went past PERSONA_LINE_MAX: skip to its LF */

	int helo;        /* HELO or EHLO accepted */
	int mail;        /* MAIL accepted: a transaction is open */
	uint64_t rcpts;  /* recipients accepted in it */
	uint64_t msgs;   /* messages accepted on this connection */

	struct emu_dot dot;     /* PS_DATA */
	uint64_t chunk_left;    /* PS_CHUNK: octets still to come */
	uint64_t chunk_size;    /* the last BDAT's size (%n) */
	int chunk_last;         /* it said LAST */
	const char *chunk_err;  /* the reply it gets instead of success */
};

/* The pieces of a command line a template may echo. */
struct cmdline {
	const char *line; /* the line without its line end */
	size_t len;
	size_t verb;      /* line[0..verb) */
	const char *par;  /* parameters: after the verb and its blanks */
	size_t plen;
	const char *word; /* %w */
	size_t wlen;
};

const char *persona_name(size_t i)
{
	return i < NSTYLES ? styles[i].name : NULL;
}

const char *persona_summary(size_t i)
{
	return i < NSTYLES ? styles[i].summary : NULL;
}

struct persona *persona_new(const char *name, const char *client_addr)
{
	struct persona *p;
	size_t i, n;

	if (name == NULL)
		return NULL;
	for (i = 0; i < NSTYLES; i++)
		if (strcmp(styles[i].name, name) == 0)
			break;
	if (i == NSTYLES)
		return NULL;
	p = calloc(1, sizeof *p);
	if (p == NULL)
		return NULL;
	p->st = &styles[i];
	p->state = PS_COMMAND;
	emu_dot_reset(&p->dot);
	if (client_addr == NULL)
		client_addr = "unknown";
	n = strlen(client_addr);
	if (n > PERSONA_ADDR_MAX)
		n = PERSONA_ADDR_MAX;
	for (size_t k = 0; k < n; k++) {
		unsigned char c = (unsigned char)client_addr[k];
		/* an address shown in a reply: nothing that could end a line */
		p->addr[k] = (c < 0x21 || c > 0x7e) ? '?' : (char)c;
	}
	p->addr[n] = '\0';
	return p;
}

void persona_free(struct persona *p)
{
	free(p);
}

int persona_done(const struct persona *p)
{
	return p == NULL || p->done;
}

/* --- replies ------------------------------------------------------------ */

/* Echo client text: at most PERSONA_ECHO_MAX octets, control octets as '?'. */
static void put_echo(struct emu_out *o, const char *s, size_t n)
{
	if (n > PERSONA_ECHO_MAX)
		n = PERSONA_ECHO_MAX;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char e = (c < 0x20 && c != '\t') || c == 0x7f ? '?' : (char)c;

		emu_out_put(o, &e, 1);
	}
}

/* Write template t, expanding its escapes (see the top of this file). */
static void reply(const struct persona *p, struct emu_out *o, const char *t,
		  const struct cmdline *cl)
{
	static const struct cmdline none = {"", 0, 0, "", 0, "", 0};

	if (cl == NULL)
		cl = &none;
	for (; *t != '\0'; t++) {
		if (*t != '%' || t[1] == '\0') {
			emu_out_put(o, t, 1);
			continue;
		}
		switch (*++t) {
		case 'h':
			emu_out_puts(o, p->st->host);
			break;
		case 'a':
			emu_out_puts(o, p->addr);
			break;
		case 'v':
			put_echo(o, cl->line, cl->verb);
			break;
		case 'l':
			put_echo(o, cl->line, cl->len);
			break;
		case 'p':
			put_echo(o, cl->par, cl->plen);
			break;
		case 'w':
			put_echo(o, cl->word, cl->wlen);
			break;
		case 'n':
			emu_out_putu(o, p->chunk_size);
			break;
		case 'q':
			emu_out_putu(o, p->msgs);
			break;
		default: /* "%%" and unknown escapes: the octet itself */
			emu_out_put(o, t, 1);
			break;
		}
	}
}

size_t persona_start(struct persona *p, char *out, size_t outcap)
{
	struct emu_out o = {out, 0, outcap, 0};

	if (p == NULL || out == NULL || outcap < PERSONA_REPLY_MAX)
		return 0;
	reply(p, &o, p->st->banner, NULL);
	return o.len;
}

/* --- commands ----------------------------------------------------------- */

static void txn_reset(struct persona *p)
{
	p->mail = 0;
	p->rcpts = 0;
}

/* For MAIL and RCPT: the parameters must start with prefix ("FROM:",
 * "TO:"); %w becomes the path after it. 0, or -1 if malformed. */
static int path_arg(struct cmdline *cl, const char *prefix)
{
	size_t n = strlen(prefix), i;

	if (cl->plen < n || !sf_ci_word(cl->par, n, prefix))
		return -1;
	i = sf_skip_blanks(cl->par, cl->plen, n);
	cl->word = cl->par + i;
	cl->wlen = sf_token_end(cl->word, cl->plen - i, 0);
	return cl->wlen > 0 ? 0 : -1;
}

/* A handler: does what the command does, returns the reply template; NULL
 * means "not known here" (answered with the persona's `unknown`). */
typedef const char *(*handler)(struct persona *p, struct cmdline *cl);

static const char *do_ehlo(struct persona *p, struct cmdline *cl)
{
	if (cl->plen == 0)
		return p->st->ehlo_syntax;
	p->helo = 1;
	txn_reset(p); /* RFC 5321 4.1.4: EHLO resets like RSET */
	return p->st->ehlo;
}

static const char *do_helo(struct persona *p, struct cmdline *cl)
{
	if (cl->plen == 0)
		return p->st->helo_syntax;
	p->helo = 1;
	txn_reset(p);
	return p->st->helo;
}

static const char *do_mail(struct persona *p, struct cmdline *cl)
{
	if (p->st->need_helo != NULL && !p->helo)
		return p->st->need_helo;
	if (p->mail)
		return p->st->nested_mail;
	if (path_arg(cl, "FROM:") < 0)
		return p->st->mail_syntax;
	p->mail = 1;
	p->rcpts = 0;
	return p->st->mail_ok;
}

static const char *do_rcpt(struct persona *p, struct cmdline *cl)
{
	if (!p->mail)
		return p->st->need_mail;
	if (path_arg(cl, "TO:") < 0)
		return p->st->rcpt_syntax;
	if (p->rcpts < UINT64_MAX)
		p->rcpts++;
	return p->st->rcpt_ok;
}

static const char *do_data(struct persona *p, struct cmdline *cl)
{
	(void)cl;
	if (p->rcpts == 0)
		return p->mail ? p->st->need_rcpt : p->st->need_mail;
	p->state = PS_DATA;
	emu_dot_reset(&p->dot);
	return p->st->data_go;
}

/* The reply to a BDAT once its whole chunk has been read. */
static const char *chunk_done(struct persona *p)
{
	p->state = PS_COMMAND;
	if (p->chunk_err != NULL)
		return p->chunk_err;
	if (p->chunk_last) {
		p->msgs++;
		txn_reset(p);
		return p->st->queued;
	}
	return p->st->bdat_ok;
}

static const char *do_bdat(struct persona *p, struct cmdline *cl)
{
	uint64_t size;
	int last;

	if (p->st->bdat_ok == NULL)
		return NULL; /* no CHUNKING: BDAT is an unknown command */
	if (emu_bdat_parse(cl->line, cl->len, &size, &last) < 0)
		return p->st->bdat_syntax;
	p->chunk_size = size;
	p->chunk_left = size;
	p->chunk_last = last;
	p->chunk_err = !p->mail ? p->st->need_mail : p->rcpts == 0 ? p->st->need_rcpt : NULL;
	if (size == 0)
		return chunk_done(p);
	p->state = PS_CHUNK;
	return ""; /* the reply comes after the chunk */
}

static const char *do_rset(struct persona *p, struct cmdline *cl)
{
	(void)cl;
	txn_reset(p);
	return p->st->rset;
}

static const char *do_noop(struct persona *p, struct cmdline *cl)
{
	(void)cl;
	return p->st->noop;
}

/* %w: the first word of the parameters. */
static void first_word(struct cmdline *cl)
{
	cl->word = cl->par;
	cl->wlen = sf_token_end(cl->par, cl->plen, 0);
}

static const char *do_vrfy(struct persona *p, struct cmdline *cl)
{
	if (cl->plen == 0)
		return p->st->vrfy_syntax;
	first_word(cl);
	return p->st->vrfy;
}

static const char *do_help(struct persona *p, struct cmdline *cl)
{
	(void)cl;
	return p->st->help;
}

static const char *do_etrn(struct persona *p, struct cmdline *cl)
{
	first_word(cl);
	return p->st->etrn;
}

static const char *do_auth(struct persona *p, struct cmdline *cl)
{
	first_word(cl);
	return p->st->auth;
}

static const char *do_starttls(struct persona *p, struct cmdline *cl)
{
	(void)p;
	(void)cl;
	return NO_TLS;
}

static const char *do_quit(struct persona *p, struct cmdline *cl)
{
	(void)cl;
	p->done = 1;
	return p->st->quit;
}

static const struct {
	const char *verb;
	handler fn;
} commands[] = {
	{"EHLO", do_ehlo}, {"HELO", do_helo}, {"MAIL", do_mail},
	{"RCPT", do_rcpt}, {"DATA", do_data}, {"BDAT", do_bdat},
	{"RSET", do_rset}, {"NOOP", do_noop}, {"VRFY", do_vrfy},
	{"HELP", do_help}, {"ETRN", do_etrn}, {"AUTH", do_auth},
	{"STARTTLS", do_starttls}, {"QUIT", do_quit},
};

/* Answer one command line, s[0..len) without its line end. */
static void command(struct persona *p, const char *s, size_t len, struct emu_out *o)
{
	struct cmdline cl = {s, len, 0, "", 0, "", 0};
	const char *t = NULL;
	size_t a;

	cl.verb = sf_token_end(s, len, 0);
	a = sf_skip_blanks(s, len, cl.verb);
	cl.par = s + a;
	cl.plen = len - a;
	while (cl.plen > 0 && sf_is_blank((unsigned char)(cl.par[cl.plen - 1])))
		cl.plen--;
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (sf_ci_word(s, cl.verb, commands[i].verb)) {
			t = commands[i].fn(p, &cl);
			break;
		}
	}
	reply(p, o, t != NULL ? t : p->st->unknown, &cl);
}

/* PS_COMMAND: take octets of one line from in[0..len); answer it when its
 * LF is there. Returns the octets taken (at least 1). */
static size_t command_bytes(struct persona *p, const char *in, size_t len, struct emu_out *o)
{
	const char *lf = memchr(in, '\n', len);
	size_t take = lf != NULL ? (size_t)(lf - in) + 1U : len;

	if (p->discarding || p->llen + take > PERSONA_LINE_MAX) {
		p->llen = 0;
		p->discarding = lf == NULL;
		if (lf != NULL)
			reply(p, o, p->st->too_long, NULL);
		return take;
	}
	memcpy(p->line + p->llen, in, take);
	p->llen += take;
	if (lf != NULL) {
		size_t n = p->llen;

		p->llen = 0;
		command(p, p->line, emu_line_core(p->line, n), o);
	}
	return take;
}

/* PS_DATA: read the message up to the lone "." and throw it away. */
static size_t data_bytes(struct persona *p, const char *in, size_t len, struct emu_out *o)
{
	int end;
	size_t k = emu_dot_scan(&p->dot, in, len, &end);

	if (end) {
		p->state = PS_COMMAND;
		p->msgs++;
		txn_reset(p);
		reply(p, o, p->st->queued, NULL);
	}
	return k;
}

/* PS_CHUNK: read the rest of a BDAT chunk, then answer the BDAT. */
static size_t chunk_bytes(struct persona *p, size_t len, struct emu_out *o)
{
	size_t k = p->chunk_left < (uint64_t)len ? (size_t)p->chunk_left : len;

	p->chunk_left -= k;
	if (p->chunk_left == 0)
		reply(p, o, chunk_done(p), NULL);
	return k;
}

size_t persona_feed(struct persona *p, const char *in, size_t len,
		    char *out, size_t outcap, size_t *outlen)
{
	struct emu_out o = {out, 0, outcap, 0};
	size_t i = 0;

	if (outlen != NULL)
		*outlen = 0;
	if (p == NULL || outlen == NULL || (in == NULL && len > 0) || out == NULL)
		return 0;
	while (i < len && !p->done && o.cap - o.len >= PERSONA_REPLY_MAX) {
		switch (p->state) {
		case PS_COMMAND:
			i += command_bytes(p, in + i, len - i, &o);
			break;
		case PS_DATA:
			i += data_bytes(p, in + i, len - i, &o);
			break;
		case PS_CHUNK:
			i += chunk_bytes(p, len - i, &o);
			break;
		default: /* cannot happen; end the session rather than loop */
			p->done = 1;
			break;
		}
	}
	if (p->done)
		i = len; /* after QUIT the server reads no more */
	*outlen = o.len;
	return i;
}

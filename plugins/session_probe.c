/*
 * session_probe.c - what --probe sends: the probe commands (BDAT outside a
 * transaction, a NOOP longer than 512 octets, RSET) and the DATA-phase
 * witness of --probe=data (doc/inspection-boxes.md 4): MAIL FROM:<>, RCPT, DATA, then message parts
 * an inspecting box punishes -- a header line over 998 octets, a MIME
 * file name over 255 -- each in one write and watched for a reaction;
 * never the end-of-data marker: the session closes, nothing is delivered
 * (RFC 5321 4.1.1.4). Part of the session's state machine (session.c).
 */
#include "session.h"
#include "session_impl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

void session_probe_command(size_t i, char *buf, size_t bufsz, const char **keyword)
{
	*keyword = NULL;
	switch (i) {
	case 0:
		/* RFC 3030: outside a transaction a CHUNKING server answers 503;
		 * an ASA X-es BDAT, so the server calls it unrecognised. */
		snprintf(buf, bufsz, "BDAT 0 LAST");
		*keyword = "CHUNKING";
		break;
	case 1: {
		/* Longer than RFC 5321's 512: servers accept it, the default ASA
		 * policy drops the connection. */
		size_t n = (size_t)snprintf(buf, bufsz, "NOOP ");
		while (n + 1 < bufsz && n < 5 + SESSION_PROBE_LONG_LEN)
			buf[n++] = 'x';
		buf[n] = '\0';
		break;
	}
	default:
		snprintf(buf, bufsz, "RSET");
		break;
	}
}

/* Queue n octets that are not a command (a message part) and send them in
 * one write; what the box does with them is the witness's question. */
static void send_part(struct session *s, size_t i)
{
	size_t n = session_witness_part(i, s->io.out, sizeof s->io.out);
	const char *what;
	char note[96];

	if (n == 0) {
		sess_finish(s, SESS_IO_ERROR, EMSGSIZE); /* cannot happen: the parts are fixed */
		return;
	}
	s->io.outlen = n;
	s->io.outoff = 0;
	s->io.cmd_read_seq = s->io.reads;
	s->io.pending_at_send = sf_parser_pending(s->io.parser);
	snprintf(note, sizeof note, "-- message part %zu of %u, %zu octets in one write: ", i + 1,
		 SF_WITNESS_PARTS, n);
	what = i == 0 ? "a header line over 998 octets" : "a MIME file name over 255 octets";
	sess_transcript_add(s, note, what, strlen(what));
	sess_flush_out(s);
}

/* A line of n octets: prefix, then filler to length, then CRLF, at buf[at];
 * the new length, or 0 if it does not fit. */
static size_t put_line(char *buf, size_t bufsz, size_t at, const char *prefix, char fill,
		       size_t n, const char *suffix)
{
	size_t p = strlen(prefix), q = strlen(suffix);

	if (at >= bufsz || n < p + q || bufsz - at < n + 3)
		return 0;
	memcpy(buf + at, prefix, p);
	memset(buf + at + p, fill, n - p - q);
	memcpy(buf + at + n - q, suffix, q);
	memcpy(buf + at + n, "\r\n", 3);
	return at + n + 2;
}

size_t session_witness_part(size_t i, char *buf, size_t bufsz)
{
	/* RFC 5322 2.1.1 caps a header line at 998 octets; the ASA's default
	 * ESMTP policy drops the connection past it, and past a MIME file
	 * name of 255 (doc/inspection-boxes.md 4.1). Nothing else here is
	 * unusual, and no part is ever followed by the end-of-data marker. */
	static const char head[] =
		"Subject: check_smtp_fixup DATA-phase witness, never completed\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: multipart/mixed; boundary=\"sf-witness\"\r\n";
	static const char mime[] =
		"--sf-witness\r\n"
		"Content-Type: application/octet-stream\r\n";
	size_t n;

	if (i == 0) {
		if (bufsz < sizeof head)
			return 0;
		memcpy(buf, head, sizeof head - 1);
		n = put_line(buf, bufsz, sizeof head - 1, "X-Witness: ", 'x', SF_WITNESS_HEADER_LINE, "");
		if (n == 0 || bufsz - n < 3)
			return 0;
		memcpy(buf + n, "\r\n", 3); /* the empty line that ends the header */
		return n + 2;
	}
	if (i != 1 || bufsz < sizeof mime)
		return 0;
	memcpy(buf, mime, sizeof mime - 1);
	n = put_line(buf, bufsz, sizeof mime - 1, "Content-Disposition: attachment; filename=\"", 'f',
		     strlen("Content-Disposition: attachment; filename=\"") + SF_WITNESS_FILE_NAME + 1, "\"");
	if (n == 0 || bufsz - n < sizeof "\r\nwitness\r\n")
		return 0;
	memcpy(buf + n, "\r\nwitness\r\n", sizeof "\r\nwitness\r\n");
	return n + sizeof "\r\nwitness\r\n" - 1;
}

/* --probe=data, after a working EHLO (or HELO) and the probe commands, in
 * clear text: MAIL FROM:<>, the rest on its replies. 1 if started. */
int sess_start_witness(struct session *s)
{
	if (!s->cfg->witness || s->io.tls != NULL || s->r.witness_mail != NULL)
		return 0;
	/* the null reverse-path (RFC 5321 4.5.5): nothing can bounce */
	s->io.step = STEP_MAIL;
	sess_send_command(s, "MAIL FROM:<>", NULL);
	return 1;
}

/* The witness was refused at cmd: skip it, say goodbye. */
static void witness_refused(struct session *s, const char *cmd)
{
	s->r.witness_end = SF_WITNESS_REFUSED;
	s->r.witness_refused = cmd;
	sess_start_quit(s);
}

/* Write message part i and watch for a reaction until the wait ends. */
static void witness_next_part(struct session *s, size_t i)
{
	s->io.step = STEP_MESSAGE;
	s->r.witness_parts = i + 1;
	s->io.watch_deadline = session_now() + s->cfg->witness_wait;
	send_part(s, i);
}

/* A reply in the DATA witness's steps (doc/inspection-boxes.md 4.1).
 * Takes ownership of r. */
void sess_on_witness_reply(struct session *s, struct sf_reply *r)
{
	switch (s->io.step) {
	case STEP_MAIL:
		s->r.witness_mail = r;
		if (r->code != 250) {
			witness_refused(s, "MAIL FROM:<>");
			return;
		}
		snprintf(s->r.witness_rcpt_line, sizeof s->r.witness_rcpt_line, "RCPT TO:<%s>",
			 s->cfg->witness_rcpt);
		s->io.step = STEP_RCPT;
		sess_send_command(s, s->r.witness_rcpt_line, NULL);
		return;
	case STEP_RCPT:
		s->r.witness_rcpt = r;
		if (r->code != 250 && r->code != 251) {
			witness_refused(s, s->r.witness_rcpt_line);
			return;
		}
		s->io.step = STEP_DATA;
		sess_send_command(s, "DATA", NULL);
		return;
	case STEP_DATA:
		s->r.witness_data = r;
		if (r->code != 354) {
			witness_refused(s, "DATA");
			return;
		}
		/* the last reply that matters for the response time */
		s->r.t.probe_done = session_now();
		witness_next_part(s, 0);
		return;
	case STEP_MESSAGE:
	default:
		/* the server spoke in the middle of the message: its policy.
		 * Nothing more is sent: it may still be reading message text. */
		sf_reply_free(s->r.witness_reply);
		s->r.witness_reply = r;
		s->r.witness_end = SF_WITNESS_REPLIED;
		sess_finish(s, SESS_COMPLETE, 0);
		return;
	}
}

/* STEP_MESSAGE's wait ended: the next part, or the end (we close, and the
 * message is never completed, RFC 5321 4.1.1.4). deadline: the check's. */
void sess_witness_watched(struct session *s, double now, double deadline)
{
	if (now >= deadline || s->io.outoff < s->io.outlen) {
		/* out of time, or the path does not even take our octets */
		s->r.witness_end = SF_WITNESS_CUT;
		sess_finish(s, SESS_COMPLETE, 0);
	} else if (s->r.witness_parts < SF_WITNESS_PARTS) {
		witness_next_part(s, s->r.witness_parts);
	} else {
		s->r.witness_end = SF_WITNESS_PASSED;
		sess_finish(s, SESS_COMPLETE, 0);
	}
}


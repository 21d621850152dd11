/*
 * session_loop.c - the reading and writing sides of a conversation and
 * the poll() loop that drives many of them under one deadline (see
 * session.h): commands written whole, replies that come before their
 * command caught, reads bounded by SESSION_READ_CHUNK and
 * SF_CONN_BYTES_MAX, octets to the reply parser, complete replies to the
 * state machine (session.c), the close, the reset, a network error and the
 * deadline turned into outcomes.
 */
#include "session.h"
#include "session_impl.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "sf_common.h"

static void on_parse_error(struct session *s)
{
	size_t len = 0;
	const char *line = sf_parser_error_line(s->io.parser, &len);

	s->r.perr = sf_parser_error(s->io.parser);
	if (line != NULL) {
		if (len > sizeof s->r.perr_line - 1)
			len = sizeof s->r.perr_line - 1;
		memcpy(s->r.perr_line, line, len);
		s->r.perr_line[len] = '\0';
		s->r.perr_line_len = len;
	}
	if (s->r.perr == SF_PERR_NOMEM)
		sess_finish(s, SESS_LOCAL, ENOMEM);
	else
		sess_finish(s, SESS_PROTOCOL, 0);
}

/* The peer closed (or reset) its side. */
void sess_on_eof(struct session *s, int reset)
{
	s->r.pending_at_close = sf_parser_pending(s->io.parser);
	if (s->io.step == STEP_QUIT && s->r.pending_at_close == 0) {
		sess_finish(s, SESS_COMPLETE, 0); /* closing after QUIT is what servers do */
	} else if (s->io.step == STEP_MESSAGE) {
		/* no reply came during the message: a box's drop; octets of an
		 * unfinished reply are the server speaking */
		s->r.witness_end = s->r.pending_at_close > 0 ? SF_WITNESS_REPLIED : SF_WITNESS_DROPPED;
		s->r.witness_reset = reset;
		sess_finish(s, SESS_COMPLETE, 0);
	} else if (s->io.step == STEP_PROBE) {
		size_t n = s->r.probes_sent;
		const struct sf_reply *prev = n >= 2 ? s->r.probe_reply[n - 2] : NULL;
		/* The server refused the previous probe with a code that goes
		 * with closing (RFC 7504's 521, as Haraka answers a long line;
		 * 554, as postscreen and Postfix answer BDAT before they hang up)
		 * and closed: its own policy, and the probe just sent was never
		 * read. A 500 or 502 (what a server says to an X-ed command) is
		 * no such reply: a close after it is a drop of the probe just
		 * sent, and the verdict reports it. */
		if (prev != NULL && (prev->code == 521 || prev->code == 554))
			s->r.probe_refused_closed = 1;
		else
			s->r.probe_dropped = 1;
		s->r.t.probe_done = session_now();
		sess_finish(s, SESS_COMPLETE, 0);
	} else {
		sess_finish(s, reset ? SESS_RESET : SESS_CLOSED, reset ? ECONNRESET : 0);
	}
}

/* The network failed under a read or a write (errno err; 0: the TLS
 * layer's reason is in tls_err). Waiting for the reply to QUIT with
 * nothing of it pending, that is a close after QUIT: everything that
 * matters was said, as when the server closes or resets there. */
static void sess_io_error(struct session *s, int err)
{
	if (s->io.step == STEP_QUIT && sf_parser_pending(s->io.parser) == 0)
		sess_finish(s, SESS_COMPLETE, 0);
	else
		sess_finish(s, SESS_IO_ERROR, err);
}

/* A read or write in TLS failed (how: TLS_IO_NETWORK, the socket under
 * it, or TLS_IO_ERROR, TLS itself): keep the TLS layer's reason, end the
 * session. A broken TLS record is the server's (or a box's) doing even
 * after QUIT. */
static void sess_tls_io_error(struct session *s, enum tls_io how)
{
	snprintf(s->r.tls_err, sizeof s->r.tls_err, "%s", tls_error(s->io.tls));
	if (how == TLS_IO_NETWORK)
		sess_io_error(s, 0);
	else
		sess_finish(s, SESS_IO_ERROR, 0);
}

/* A read from the socket (or the peek before a command) failed with err,
 * neither EINTR nor EAGAIN: a reset is the peer's end, anything else a
 * network error. */
static void socket_read_failed(struct session *s, int err)
{
	if (err == ECONNRESET || err == EPIPE)
		sess_on_eof(s, 1);
	else
		sess_io_error(s, err);
}

/* A read in TLS ended the connection (TLS_IO_CLOSED, _RESET, _NETWORK or
 * _ERROR). */
static void tls_read_ended(struct session *s, enum tls_io rc)
{
	if (rc == TLS_IO_CLOSED)
		sess_on_eof(s, 0);
	else if (rc == TLS_IO_RESET)
		sess_on_eof(s, 1);
	else
		sess_tls_io_error(s, rc);
}

/* Write through TLS; 1 to go on, 0 to wait or stop (state set). */
static int flush_tls(struct session *s)
{
	size_t put = 0;
	enum tls_io rc = tls_write(s->io.tls, s->io.out + s->io.outoff, s->io.outlen - s->io.outoff, &put);

	switch (rc) {
	case TLS_IO_OK:
		s->io.outoff += put;
		s->io.tls_want = 0;
		return 1;
	case TLS_IO_WANT_READ:
		s->io.tls_want = POLLIN;
		return 0;
	case TLS_IO_WANT_WRITE:
		s->io.tls_want = POLLOUT;
		return 0;
	case TLS_IO_CLOSED:
		sess_finish(s, SESS_CLOSED, 0);
		return 0;
	case TLS_IO_RESET:
		/* as in clear text: a reset during the message is the witness */
		if (s->io.step == STEP_MESSAGE)
			sess_on_eof(s, 1);
		else
			sess_finish(s, SESS_RESET, ECONNRESET);
		return 0;
	case TLS_IO_NETWORK:
	case TLS_IO_ERROR:
	default:
		sess_tls_io_error(s, rc);
		return 0;
	}
}

/* Try to write what is left of the current command. */
void sess_flush_out(struct session *s)
{
	while (s->io.outoff < s->io.outlen) {
		ssize_t n;
		if (s->io.tls != NULL) {
			if (!flush_tls(s))
				return;
			continue;
		}
		n = send(s->io.fd, s->io.out + s->io.outoff, s->io.outlen - s->io.outoff, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (s->io.step == STEP_MESSAGE && (errno == ECONNRESET || errno == EPIPE)) {
				/* reset before this part got out: the previous one did it */
				if (s->io.outoff == 0 && s->r.witness_parts > 1)
					s->r.witness_parts--;
				sess_on_eof(s, 1);
				return;
			}
			if (errno == ECONNRESET || errno == EPIPE)
				sess_finish(s, SESS_RESET, errno);
			else
				sess_io_error(s, errno);
			return;
		}
		s->io.outoff += (size_t)n;
	}
}

/* The peer sent something before the command about to go out: it cannot
 * be that command's reply (RFC 5321 4.2: a reply answers a command), and
 * taking it as one would shift every later reply by one. In clear text a
 * peek at the socket; inside TLS what the library holds or can decrypt at
 * once (a reply sent with the server's last handshake flight). 1 if so:
 * the session is then done. */
static int arrived_early(struct session *s)
{
	char buf[SESSION_READ_CHUNK];
	size_t got = 0;

	if (s->io.tls == NULL) {
		ssize_t n = recv(s->io.fd, buf, 1, MSG_PEEK | MSG_DONTWAIT);
		if (n == 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)))
			return 0; /* nothing yet, or a close the poll loop will see */
		if (n < 0) {
			/* a socket's error is reported once, and this peek took
			 * it: after it the socket reads as closed */
			socket_read_failed(s, errno);
			return 1;
		}
	} else if (tls_pending(s->io.tls) == 0) {
		enum tls_io rc = tls_read(s->io.tls, buf, sizeof buf, &got);
		switch (rc) {
		case TLS_IO_OK:
			if (got == 0)
				return 0;
			sess_transcript_add(s, "S: ", buf, strcspn(buf, "\r\n") < got ? strcspn(buf, "\r\n") : got);
			break;
		case TLS_IO_CLOSED:
		case TLS_IO_RESET:
		case TLS_IO_NETWORK:
		case TLS_IO_ERROR:
			tls_read_ended(s, rc);
			return 1;
		case TLS_IO_WANT_READ:
		case TLS_IO_WANT_WRITE:
		default:
			return 0;
		}
	}
	sess_finish(s, SESS_UNSOLICITED, 0);
	return 1;
}

/* Queue one command (without CRLF) and send it in one write. */
void sess_send_command(struct session *s, const char *verb, const char *arg)
{
	int n;

	if (arrived_early(s))
		return;
	n = snprintf(s->io.out, sizeof s->io.out, "%s%s%s\r\n", verb, arg ? " " : "", arg ? arg : "");

	if (n < 0 || (size_t)n >= sizeof s->io.out) {
		sess_finish(s, SESS_IO_ERROR, EMSGSIZE); /* cannot happen: the EHLO name is bounded */
		return;
	}
	s->io.outlen = (size_t)n;
	s->io.outoff = 0;
	s->io.cmd_read_seq = s->io.reads;
	s->io.pending_at_send = sf_parser_pending(s->io.parser);
	sess_transcript_add(s, "C: ", s->io.out, s->io.outlen - 2);
	sess_flush_out(s);
}

/* Octets to the parser, complete replies to the conversation. */
static void consume(struct session *s, const char *buf, size_t n)
{
	struct sf_reply *r = NULL;
	enum sf_pstatus st = SF_PARSE_MORE;

	s->r.bytes_in += n;
	s->io.reads++;
	if (s->io.step == STEP_GREETING && s->r.greeting_raw_len < sizeof s->r.greeting_raw) {
		/* kept for the verdict in case the greeting breaks the grammar:
		 * the lines the parser took before the error are gone with it */
		size_t room = sizeof s->r.greeting_raw - s->r.greeting_raw_len;
		size_t k = n < room ? n : room;

		memcpy(s->r.greeting_raw + s->r.greeting_raw_len, buf, k);
		s->r.greeting_raw_len += k;
	}
	sf_parser_feed(s->io.parser, buf, n);
	while (!session_done(s) && s->io.step != STEP_HANDSHAKE &&
	       (st = sf_parser_next(s->io.parser, &r)) == SF_PARSE_REPLY)
		sess_on_reply(s, r);
	if (!session_done(s) && st == SF_PARSE_ERROR)
		on_parse_error(s);
}

/* One read from the socket or the TLS layer. 1 if it got data. */
static int read_some(struct session *s, char *buf, size_t want, size_t *got)
{
	ssize_t n;

	if (s->io.tls != NULL) {
		/* Acknowledge at once what TLS brings: a server whose TLS
		 * library writes its session tickets and then the EHLO reply
		 * has that reply held by its own Nagle algorithm until our
		 * delayed ACK (40 ms) unless we ACK quickly. Linux drops
		 * quick-ACK mode by itself, hence on every read. */
#ifdef TCP_QUICKACK
		(void)setsockopt(s->io.fd, IPPROTO_TCP, TCP_QUICKACK, &(int){ 1 }, sizeof(int));
#endif
		enum tls_io rc = tls_read(s->io.tls, buf, want, got);
		switch (rc) {
		case TLS_IO_OK:
			s->io.tls_want = 0;
			return 1;
		case TLS_IO_WANT_READ:
			s->io.tls_want = 0;
			return 0;
		case TLS_IO_WANT_WRITE:
			s->io.tls_want = POLLOUT;
			return 0;
		case TLS_IO_CLOSED:
		case TLS_IO_RESET:
		case TLS_IO_NETWORK:
		case TLS_IO_ERROR:
		default:
			tls_read_ended(s, rc);
			return 0;
		}
	}
	n = recv(s->io.fd, buf, want, 0);
	if (n > 0) {
		*got = (size_t)n;
		return 1;
	}
	if (n == 0)
		sess_on_eof(s, 0);
	else if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
		socket_read_failed(s, errno);
	return 0;
}

static void on_readable(struct session *s)
{
	char buf[SESSION_READ_CHUNK];

	/* TLS may hold decrypted octets the socket no longer signals: drain
	 * them; a plain socket gets one read per wake-up. */
	do {
		size_t room = SF_CONN_BYTES_MAX - s->r.bytes_in;
		size_t want = room < sizeof buf ? room : sizeof buf;
		size_t got = 0;
		/* cppcheck-suppress knownConditionTrueFalse ; bytes_in grows per read */
		if (want == 0) {
			sess_finish(s, SESS_TOO_MUCH, 0);
			return;
		}
		if (!read_some(s, buf, want, &got))
			return;
		consume(s, buf, got);
	} while (!session_done(s) && s->io.tls != NULL && s->io.step != STEP_HANDSHAKE);
}

/* poll() events this session waits for; 0 if none. */
static short wanted_events(const struct session *s)
{
	short ev;

	if (s->io.step == STEP_DONE || s->io.fd < 0)
		return 0;
	if (s->io.step == STEP_CONNECT)
		return POLLOUT;
	if (s->io.step == STEP_HANDSHAKE)
		return s->io.tls_want ? s->io.tls_want : POLLIN;
	ev = POLLIN;
	if (s->io.outoff < s->io.outlen || s->io.tls_want == POLLOUT)
		ev |= POLLOUT;
	return ev;
}

static void on_events(struct session *s, short revents)
{
	if (s->io.step == STEP_CONNECT) {
		if (revents & (POLLOUT | POLLERR | POLLHUP))
			sess_on_connected(s);
		if (s->io.step == STEP_HANDSHAKE)
			sess_do_handshake(s);
		return;
	}
	if (s->io.step == STEP_HANDSHAKE) {
		sess_do_handshake(s);
		if (s->io.step != STEP_EHLO_TLS && s->io.step != STEP_GREETING)
			return;
		/* the handshake may have brought application data along */
		if (s->io.tls != NULL && tls_pending(s->io.tls) > 0)
			on_readable(s);
		return;
	}
	if ((revents & POLLOUT) && s->io.outoff < s->io.outlen)
		sess_flush_out(s);
	if (!session_done(s) && (revents & (POLLIN | POLLERR | POLLHUP)))
		on_readable(s);
}

/* The time (monotonic s) at which s gives up: the global deadline, or the
 * shorter wait for the reply to QUIT. */
static double session_deadline(const struct session *s, double deadline)
{
	if (s->io.step == STEP_MESSAGE && s->io.watch_deadline < deadline)
		return s->io.watch_deadline;
	if (s->io.step == STEP_QUIT && s->io.quit_deadline > 0 && s->io.quit_deadline < deadline)
		return s->io.quit_deadline;
	return deadline;
}

/* A session's own deadline passed. Waiting for the reply to QUIT is not
 * worth failing the check: everything that matters was already said. */
static void on_deadline(struct session *s, double now, double deadline)
{
	if (s->io.parser != NULL)
		s->r.pending_at_close = sf_parser_pending(s->io.parser);
	if (s->io.step == STEP_MESSAGE)
		sess_witness_watched(s, now, deadline);
	else if (s->io.step == STEP_QUIT)
		sess_finish(s, SESS_COMPLETE, 0);
	else
		sess_finish(s, SESS_TIMEOUT, 0);
}

void session_run(struct session *const *ss, size_t n, double deadline)
{
	struct pollfd *pfd = calloc(n ? n : 1, sizeof *pfd);
	size_t *idx = calloc(n ? n : 1, sizeof *idx);

	if (pfd == NULL || idx == NULL) {
		for (size_t i = 0; i < n; i++)
			if (!session_done(ss[i]))
				sess_finish(ss[i], SESS_LOCAL, ENOMEM);
		free(pfd);
		free(idx);
		return;
	}
	for (;;) {
		double now = session_now();
		double next = deadline;
		size_t m = 0;
		int ms, rc;

		for (size_t i = 0; i < n; i++) {
			struct session *s = ss[i];
			double d;
			if (session_done(s))
				continue;
			d = session_deadline(s, deadline);
			if (now >= d) {
				on_deadline(s, now, deadline);
				if (session_done(s))
					continue;
				d = session_deadline(s, deadline); /* a witness goes on */
			}
			if (d < next)
				next = d;
			pfd[m].fd = s->io.fd;
			pfd[m].events = wanted_events(s);
			pfd[m].revents = 0;
			idx[m++] = i;
		}
		if (m == 0)
			break;
		ms = (int)((next - now) * 1000.0) + 1;
		rc = poll(pfd, m, ms);
		if (rc < 0 && errno != EINTR)
			break; /* cannot happen with valid arguments; the deadline check ends it */
		for (size_t k = 0; rc > 0 && k < m; k++)
			if (pfd[k].revents)
				on_events(ss[idx[k]], pfd[k].revents);
	}
	/* only reached with sessions left if poll itself failed */
	for (size_t i = 0; i < n; i++)
		if (!session_done(ss[i]))
			sess_finish(ss[i], SESS_IO_ERROR, errno);
	free(pfd);
	free(idx);
}

/*
 * session.c - the SMTP probe conversation as a state machine over a
 * non-blocking socket (its reads, writes and the poll() loop that drives
 * many of them: session_loop.c).
 *
 * Limits: SF_CONN_BYTES_MAX octets read per connection, reads of at most
 * SESSION_READ_CHUNK octets, one deadline for everything. Commands are
 * written whole in one send(): an inspecting firewall X-es a command that is
 * split across packets. Replies are matched to commands strictly in order;
 * a reply that arrives before its command was sent is a protocol fault.
 *
 * Each EHLO reply that worked is parsed once here (sf_ehlo) for the later
 * stages. Not here: what the replies mean (lib/sf_verdict.c), output
 * (plugins/report.c).
 */
#include "session.h"
#include "session_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sf_common.h"
#include "sf_ehlo.h"


double session_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void session_init(struct session *s, const struct session_config *cfg,
		  const struct sockaddr *addr, socklen_t len)
{
	memset(s, 0, sizeof *s);
	if (addr != NULL && len <= sizeof s->addr) {
		memcpy(&s->addr, addr, len);
		s->addrlen = len;
	}
	s->cfg = cfg;
	s->io.fd = -1;
	s->io.step = STEP_IDLE;
	s->r.outcome = SESS_RUNNING;
}

int session_done(const struct session *s)
{
	return s->io.step == STEP_DONE;
}

const char *session_step_words(enum session_step step)
{
	switch (step) {
	case STEP_IDLE:
		return "before connecting";
	case STEP_CONNECT:
		return "connecting";
	case STEP_GREETING:
		return "waiting for the greeting";
	case STEP_EHLO:
		return "waiting for the EHLO reply";
	case STEP_HELO:
		return "waiting for the HELO reply";
	case STEP_PROBE:
		return "waiting for the reply to a probe command";
	case STEP_MAIL:
		return "waiting for the MAIL reply (DATA witness)";
	case STEP_RCPT:
		return "waiting for the RCPT reply (DATA witness)";
	case STEP_DATA:
		return "waiting for the DATA reply (DATA witness)";
	case STEP_MESSAGE:
		return "watching the message (DATA witness)";
	case STEP_STARTTLS:
		return "waiting for the STARTTLS reply";
	case STEP_HANDSHAKE:
		return "during the TLS handshake";
	case STEP_EHLO_TLS:
		return "waiting for the EHLO reply inside TLS";
	case STEP_QUIT:
		return "waiting for the QUIT reply";
	case STEP_DONE:
		return "after the end";
	default:
		return "in an unknown step";
	}
}

/* Keep one transcript line for -v: prefix then the raw octets. */
void sess_transcript_add(struct session *s, const char *prefix, const char *buf, size_t len)
{
	size_t plen = strlen(prefix);
	char *line;

	if (s->r.ntranscript >= SESSION_TRANSCRIPT_MAX) {
		s->r.transcript_over++;
		return;
	}
	line = malloc(plen + len + 1);
	if (line == NULL) {
		/* the transcript is evidence, not the result: the check goes
		 * on, and the report says a line is missing */
		s->r.transcript_nomem++;
		return;
	}
	memcpy(line, prefix, plen);
	memcpy(line + plen, buf, len);
	line[plen + len] = '\0';
	s->r.transcript[s->r.ntranscript++] = line;
}

static void transcript_reply(struct session *s, const struct sf_reply *r)
{
	for (size_t i = 0; i < r->nlines; i++)
		sess_transcript_add(s, "S: ", r->lines[i].raw, r->lines[i].len);
}

static void close_socket(struct session *s)
{
	tls_conn_free(s->io.tls);
	s->io.tls = NULL;
	if (s->io.fd >= 0) {
		close(s->io.fd);
		s->io.fd = -1;
	}
}

/* End the session with an outcome; the first outcome recorded wins. */
void sess_finish(struct session *s, enum session_outcome outcome, int err)
{
	if (s->r.outcome == SESS_RUNNING) {
		s->r.outcome = outcome;
		s->r.failed_step = s->io.step;
		s->r.sys_errno = err;
	}
	close_socket(s);
	s->io.step = STEP_DONE;
	s->r.t.end = session_now();
}

void session_cleanup(struct session *s)
{
	close_socket(s);
	sf_parser_free(s->io.parser);
	sf_reply_free(s->r.greeting);
	sf_reply_free(s->r.ehlo);
	sf_reply_free(s->r.helo);
	sf_reply_free(s->r.quit);
	sf_reply_free(s->r.starttls_reply);
	sf_reply_free(s->r.ehlo_tls);
	sf_ehlo_free(s->r.ehlo_list);
	sf_ehlo_free(s->r.ehlo_tls_list);
	s->r.ehlo_list = s->r.ehlo_tls_list = NULL;
	sf_reply_free(s->r.witness_mail);
	sf_reply_free(s->r.witness_rcpt);
	sf_reply_free(s->r.witness_data);
	sf_reply_free(s->r.witness_reply);
	s->r.witness_mail = s->r.witness_rcpt = s->r.witness_data = s->r.witness_reply = NULL;
	for (size_t i = 0; i < SESSION_PROBES; i++) {
		sf_reply_free(s->r.probe_reply[i]);
		free(s->r.probe_sent[i]);
		s->r.probe_reply[i] = NULL;
		s->r.probe_sent[i] = NULL;
	}
	for (size_t i = 0; i < s->r.ntranscript; i++)
		free(s->r.transcript[i]);
	s->io.parser = NULL;
	s->r.greeting = s->r.ehlo = s->r.helo = s->r.quit = s->r.starttls_reply = s->r.ehlo_tls = NULL;
	s->r.ntranscript = 0;
}

/* 1 if err says this host ran out of something, not that the peer failed. */
static int local_errno(int err)
{
	return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM ||
	       err == EADDRNOTAVAIL;
}

void session_start(struct session *s, double now)
{
	int fd;

	s->r.t.start = now;
	s->io.step = STEP_CONNECT;
	s->io.parser = sf_parser_new(NULL);
	if (s->io.parser == NULL) {
		sess_finish(s, SESS_LOCAL, ENOMEM);
		return;
	}
	fd = socket(s->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0) {
		/* no socket is this host's problem, whatever the server */
		sess_finish(s, local_errno(errno) || errno == EAFNOSUPPORT ? SESS_LOCAL : SESS_CONNECT_FAILED,
		       errno);
		return;
	}
	s->io.fd = fd;
	if (connect(fd, (const struct sockaddr *)&s->addr, s->addrlen) == 0) {
		s->r.t.connected = session_now();
		s->io.step = STEP_GREETING;
	} else if (errno != EINPROGRESS) {
		sess_finish(s, local_errno(errno) ? SESS_LOCAL : SESS_CONNECT_FAILED, errno);
	}
}

static void start_handshake(struct session *s);

void sess_on_connected(struct session *s)
{
	int err = 0;
	socklen_t len = sizeof err;

	if (getsockopt(s->io.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err == ECONNRESET) {
		/* the handshake completed, then the peer reset at once */
		s->r.t.connected = session_now();
		s->io.step = STEP_GREETING;
		sess_finish(s, SESS_RESET, err);
		return;
	}
	if (err != 0) {
		sess_finish(s, SESS_CONNECT_FAILED, err);
		return;
	}
	s->r.t.connected = session_now();
	if (s->cfg->implicit_tls)
		start_handshake(s);
	else
		s->io.step = STEP_GREETING;
}


/* Everything the probe needs is in: say goodbye, briefly. */
void sess_start_quit(struct session *s)
{
	s->r.t.probe_done = session_now();
	s->io.step = STEP_QUIT;
	s->io.quit_deadline = s->r.t.probe_done + s->cfg->quit_wait;
	sess_send_command(s, "QUIT", NULL);
}

/* After a working EHLO: the probe commands, the DATA witness, then
 * STARTTLS, then QUIT. */
static void after_ehlo(struct session *s)
{
	if (s->cfg->probe && s->r.probes_sent < SESSION_PROBES) {
		char cmd[SESSION_OUT_MAX - 2];
		size_t i = s->r.probes_sent;
		session_probe_command(i, cmd, sizeof cmd, &s->r.probe_keyword[i]);
		s->r.probe_sent[i] = strdup(cmd);
		if (s->r.probe_sent[i] == NULL) {
			sess_finish(s, SESS_LOCAL, ENOMEM);
			return;
		}
		s->r.probes_sent++;
		s->io.step = STEP_PROBE;
		sess_send_command(s, cmd, NULL);
		return;
	}
	if (sess_start_witness(s))
		return;
	if (s->cfg->starttls && s->io.tls == NULL && !s->r.tls_tried) {
		s->io.step = STEP_STARTTLS;
		sess_send_command(s, "STARTTLS", NULL);
		return;
	}
	sess_start_quit(s);
}

static void tls_failed(struct session *s, const char *why)
{
	s->r.tls_failed = 1;
	snprintf(s->r.tls_err, sizeof s->r.tls_err, "%s", why);
	sess_transcript_add(s, "-- TLS handshake failed: ", why, strlen(why));
	if (s->cfg->implicit_tls) {
		sess_finish(s, SESS_TLS_FAILED, 0);
	} else {
		s->r.t.probe_done = session_now();
		sess_finish(s, SESS_COMPLETE, 0); /* the verdict reports it */
	}
}

static void start_handshake(struct session *s)
{
	char err[200];

	s->r.tls_tried = 1;
	s->io.step = STEP_HANDSHAKE;
	s->r.t.tls_start = session_now();
	/* TLS writes small records back to back (the client Finished, then
	 * EHLO): with Nagle's algorithm the second waits for the server's
	 * delayed ACK, 40 ms on Linux, every time. Each command is still one
	 * write, so nothing is split that was not. Best effort: a failure
	 * costs time, not correctness. */
	(void)setsockopt(s->io.fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	s->io.tls = tls_conn_new(s->io.fd, s->cfg->sni, err, sizeof err);
	if (s->io.tls == NULL) {
		/* this host's TLS library could not start a session (out of
		 * memory, its own configuration): nothing the server did */
		snprintf(s->r.tls_err, sizeof s->r.tls_err, "%s", err);
		sess_finish(s, SESS_LOCAL, 0);
		return;
	}
	s->io.tls_want = POLLOUT; /* the ClientHello goes first */
}

/* Drive the handshake; on success go on with the conversation in TLS. */
void sess_do_handshake(struct session *s)
{
	struct sf_parser *fresh;

	switch (tls_handshake(s->io.tls)) {
	case TLS_IO_OK:
		break;
	case TLS_IO_WANT_READ:
		s->io.tls_want = POLLIN;
		return;
	case TLS_IO_WANT_WRITE:
		s->io.tls_want = POLLOUT;
		return;
	case TLS_IO_CLOSED:
	case TLS_IO_RESET:
	case TLS_IO_NETWORK:
	case TLS_IO_ERROR:
	default:
		tls_failed(s, tls_error(s->io.tls));
		return;
	}
	s->io.tls_want = 0;
	s->r.t.tls_done = session_now();
	snprintf(s->r.tls_desc, sizeof s->r.tls_desc, "%s", tls_description(s->io.tls));
	sess_transcript_add(s, "-- TLS: ", s->r.tls_desc, strlen(s->r.tls_desc));
	/* Nothing said in clear text may leak into the TLS conversation. */
	fresh = sf_parser_new(NULL);
	if (fresh == NULL) {
		sess_finish(s, SESS_LOCAL, ENOMEM);
		return;
	}
	sf_parser_free(s->io.parser);
	s->io.parser = fresh;
	s->io.reads = 0;
	s->io.cmd_read_seq = 0;
	if (s->cfg->implicit_tls) {
		s->io.step = STEP_GREETING;
		return;
	}
	s->io.step = STEP_EHLO_TLS;
	sess_send_command(s, "EHLO", s->cfg->ehlo_name);
}

/* 1 if an EHLO reply means EHLO did not work and HELO should confirm it:
 * anything but 250 (RFC 5321 4.1.1.1: EHLO succeeds with 250 only; a 221,
 * a second 220 or a 252 is no EHLO reply), or a NOOP's answer. */
static int ehlo_failed(const struct sf_reply *r)
{
	if (r->code == 421)
		return 0; /* the server is closing: nothing more to ask */
	return r->code != 250 || sf_reply_is_noop_like(r);
}

/* The reply to STARTTLS: 220 starts the handshake, anything else ends. */
static void on_starttls_reply(struct session *s, struct sf_reply *r)
{
	s->r.starttls_reply = r;
	if (r->code != 220) {
		sess_start_quit(s);
		return;
	}
	/* RFC 3207 5: octets after the 220 and before the handshake would be
	 * read as if they came through TLS (the STARTTLS injection flaw). */
	if (sf_parser_pending(s->io.parser) > 0) {
		sess_finish(s, SESS_UNSOLICITED, 0);
		return;
	}
	start_handshake(s);
}

/* A 250 EHLO reply as a list, once, for every later stage. 1 to go on, 0
 * if memory ran out (the session is then done). */
static int parse_list(struct session *s, const struct sf_reply *r, struct sf_ehlo **out)
{
	if (r->code != 250)
		return 1;
	if (sf_ehlo_parse(r, out) == 0)
		return 1;
	sess_finish(s, SESS_LOCAL, ENOMEM);
	return 0;
}

/* A complete reply arrived: advance the conversation. Takes ownership of r. */
void sess_on_reply(struct session *s, struct sf_reply *r)
{
	transcript_reply(s, r);
	/* A reply is an answer only if its command was written before any of
	 * its octets arrived (a greeting answers the connect). */
	if (s->io.step != STEP_GREETING && s->io.step != STEP_MESSAGE &&
	    (s->io.outoff < s->io.outlen || s->io.reads <= s->io.cmd_read_seq || s->io.pending_at_send > 0)) {
		sf_reply_free(r);
		sess_finish(s, SESS_UNSOLICITED, 0);
		return;
	}
	switch (s->io.step) {
	case STEP_GREETING:
		s->r.greeting = r;
		s->r.t.greeting = session_now();
		if (r->code != 220) {
			sess_start_quit(s);
			return;
		}
		s->io.step = STEP_EHLO;
		s->r.t.ehlo_sent = session_now();
		sess_send_command(s, "EHLO", s->cfg->ehlo_name);
		return;
	case STEP_EHLO:
		s->r.ehlo = r;
		s->r.t.ehlo_done = session_now();
		if (!parse_list(s, r, &s->r.ehlo_list))
			return;
		if (ehlo_failed(r)) {
			s->io.step = STEP_HELO;
			sess_send_command(s, "HELO", s->cfg->ehlo_name);
			return;
		}
		break;
	case STEP_HELO:
		s->r.helo = r;
		break;
	case STEP_PROBE:
		s->r.probe_reply[s->r.probes_sent - 1] = r;
		break;
	case STEP_STARTTLS:
		on_starttls_reply(s, r);
		return;
	case STEP_MAIL:
	case STEP_RCPT:
	case STEP_DATA:
	case STEP_MESSAGE:
		sess_on_witness_reply(s, r);
		return;
	case STEP_EHLO_TLS:
		s->r.ehlo_tls = r;
		if (!parse_list(s, r, &s->r.ehlo_tls_list))
			return;
		break;
	case STEP_QUIT:
		s->r.quit = r;
		/* RFC 5321 4.1.1.10: QUIT gets 221. A 250 or 354 here is the
		 * reply to an earlier command: the replies are out of step, one
		 * of them was not the reply to its command. */
		sess_finish(s, r->code < 400 && r->code != 221 ? SESS_UNSOLICITED : SESS_COMPLETE, 0);
		return;
	case STEP_IDLE:
	case STEP_CONNECT:
	case STEP_HANDSHAKE:
	case STEP_DONE:
	default:
		/* no reply can be parsed in these steps */
		sf_reply_free(r);
		sess_finish(s, SESS_IO_ERROR, 0);
		return;
	}
	if (r->code == 421) {
		/* "service closing": the server ends the session itself */
		s->r.t.probe_done = session_now();
		sess_finish(s, SESS_COMPLETE, 0);
		return;
	}
	if (s->io.step == STEP_EHLO || s->io.step == STEP_PROBE)
		after_ehlo(s);
	else if (s->io.step != STEP_HELO || r->code != 250 || !sess_start_witness(s))
		sess_start_quit(s); /* after HELO (MailGuard) the witness still can run */
}


/*
 * session.h - one SMTP probe conversation as a non-blocking state machine:
 * connect, greeting, EHLO (HELO only to confirm an EHLO failure), QUIT.
 *
 * A session never blocks and never parses by hand: bytes read from the
 * socket go to libsmtpfixup's reply parser, replies come back out. The run
 * loop (session_run) drives any number of sessions with one poll() and one
 * deadline, so checking many hosts at once is the same code as checking one.
 * Every read is bounded in bytes (SF_CONN_BYTES_MAX per connection) and in
 * time (the deadline); every command goes out in one write.
 */
#ifndef SESSION_H
#define SESSION_H

#include <stddef.h>
#include <sys/socket.h>

#include "sf_reply.h"
#include "sf_ehlo.h"
#include "sf_verdict.h" /* enum sf_witness_end: how the witness ended, a fact */
#include "tls.h"

/* Where a session is in the conversation. */
enum session_step {
	STEP_IDLE = 0,   /* not started */
	STEP_CONNECT,    /* non-blocking connect in progress */
	STEP_GREETING,   /* waiting for the 220 greeting */
	STEP_EHLO,       /* EHLO sent (or being sent), waiting for its reply */
	STEP_HELO,       /* HELO sent after a failed EHLO, waiting for its reply */
	STEP_PROBE,      /* a probe command sent (--probe), waiting for its reply */
	STEP_MAIL,       /* --probe=data: MAIL FROM:<> sent, waiting for its reply */
	STEP_RCPT,       /* --probe=data: RCPT TO sent, waiting for its reply */
	STEP_DATA,       /* --probe=data: DATA sent, waiting for the 354 */
	STEP_MESSAGE,    /* --probe=data: a message part written, watching for a reaction */
	STEP_STARTTLS,   /* STARTTLS sent, waiting for its reply */
	STEP_HANDSHAKE,  /* TLS handshake (after STARTTLS, or first with implicit TLS) */
	STEP_EHLO_TLS,   /* EHLO sent inside TLS, waiting for its reply */
	STEP_QUIT,       /* QUIT sent, waiting for 221 or the close */
	STEP_DONE        /* finished; see outcome */
};

/* How a session ended. Everything but SESS_COMPLETE is a failure to have
 * the conversation; what the replies mean is the verdict's business. */
enum session_outcome {
	SESS_RUNNING = 0,     /* not finished */
	SESS_COMPLETE,        /* conversation held to the end (QUIT sent) */
	SESS_CONNECT_FAILED,  /* connect() failed: refused, unreachable... (errno kept) */
	SESS_TIMEOUT,         /* the deadline passed in the step recorded in failed_step */
	SESS_RESET,           /* the peer reset the connection */
	SESS_CLOSED,          /* the peer closed before the conversation ended */
	SESS_PROTOCOL,        /* the peer broke the reply grammar (not SMTP?) */
	SESS_TOO_MUCH,        /* the peer sent more than SF_CONN_BYTES_MAX */
	SESS_UNSOLICITED,     /* a reply arrived before the command it would answer */
	SESS_TLS_FAILED,      /* implicit TLS: the handshake failed (tls_err says why) */
	SESS_IO_ERROR,        /* another socket error (errno kept) */
	SESS_LOCAL            /* this host failed: out of memory, no descriptors (errno kept) */
};

/* Read-only settings shared by sessions. */
struct session_config {
	const char *ehlo_name; /* the name sent in EHLO and HELO */
	double quit_wait;      /* at most this long (s) for the reply to QUIT */
	int starttls;          /* after EHLO: STARTTLS, TLS handshake, EHLO again */
	int implicit_tls;      /* TLS from the first octet (submissions port 465) */
	int probe;             /* after EHLO: the probe commands (session_probe_command) */
	int witness;           /* after EHLO and the probe: the DATA-phase witness (session_witness_part) */
	const char *witness_rcpt; /* its recipient, e.g. "postmaster@example.org" */
	double witness_wait;   /* seconds watched after each message part */
	const char *sni;       /* name sent in the TLS handshake, or NULL */
};

/* --probe: commands an inspecting box rewrites or punishes but a server
 * answers harmlessly, sent in this order, each in one write. */
#define SESSION_PROBES 3
#define SESSION_PROBE_LONG_LEN 600 /* octets of the long NOOP's argument */

/* Probe command i as sent (without CRLF) into buf; the extension keyword it
 * belongs to (e.g. "CHUNKING" for BDAT) in *keyword, or NULL. */
void session_probe_command(size_t i, char *buf, size_t bufsz, const char **keyword);

/* --probe=data: message part i (0-based, below SF_WITNESS_PARTS) into buf;
 * its length, or 0 if buf is too small. Part 0 is the header with a line of
 * SF_WITNESS_HEADER_LINE octets, part 1 a MIME part whose file name has
 * SF_WITNESS_FILE_NAME octets. No part ends the data (RFC 5321 4.1.1.4). */
size_t session_witness_part(size_t i, char *buf, size_t bufsz);

/* Timestamps (seconds on the monotonic clock); 0 = not reached. */
struct session_times {
	double start;        /* connect() called */
	double connected;    /* TCP connection established */
	double greeting;     /* greeting complete */
	double ehlo_sent;    /* EHLO written */
	double ehlo_done;    /* EHLO reply complete */
	double tls_start;    /* TLS handshake started */
	double tls_done;     /* TLS handshake finished */
	double probe_done;   /* last reply the probe needs complete (QUIT not counted) */
	double end;          /* session finished */
};

#define SESSION_OUT_MAX 2048  /* one command line (the long probe passes 512 on purpose) or message part */
#define SESSION_GREETING_RAW_MAX 1024 /* octets of a greeting kept for a parse error's verdict */
#define SESSION_RCPT_LINE_MAX 300 /* octets of the witness's RCPT line */
#define SESSION_TRANSCRIPT_MAX 64 /* lines kept for -v */

/* What a conversation found: valid once it is done, read by the later
 * stages (judge, report, baseline). Replies, lists and strings are owned by
 * the session and live until session_cleanup(). */
struct session_result {
	enum session_outcome outcome;
	enum session_step failed_step; /* the step the failure happened in */
	int sys_errno;                 /* errno for CONNECT_FAILED, IO_ERROR, LOCAL */
	enum sf_perr perr;             /* for PROTOCOL */
	char perr_line[96];            /* start of the offending line, raw, NUL-terminated */
	size_t perr_line_len;
	size_t pending_at_close;       /* octets of an unfinished reply at the close or the timeout */
	size_t bytes_in;
	struct sf_reply *greeting, *ehlo, *helo, *quit;
	struct sf_reply *starttls_reply;  /* reply to STARTTLS */
	struct sf_reply *ehlo_tls;        /* reply to EHLO inside TLS */
	struct sf_ehlo *ehlo_list;        /* ehlo parsed once when it is 2xx, else NULL */
	struct sf_ehlo *ehlo_tls_list;    /* ehlo_tls parsed once when it is 2xx, else NULL */
	struct sf_reply *probe_reply[SESSION_PROBES];
	char *probe_sent[SESSION_PROBES]; /* each probe command as sent, without CRLF */
	const char *probe_keyword[SESSION_PROBES]; /* the extension it belongs to, or NULL */
	size_t probes_sent;
	int probe_dropped;             /* 1 if the peer dropped the connection after probe probes_sent-1 */
	int probe_refused_closed;      /* 1 if it closed after refusing probe probes_sent-2 (4xx/5xx):
					* the server's doing, not a drop of the last probe */
	char greeting_raw[SESSION_GREETING_RAW_MAX]; /* octets read waiting for the greeting (cut) */
	size_t greeting_raw_len;
	/* --probe=data: the witness (lib's struct sf_witness says what each means) */
	enum sf_witness_end witness_end;
	const char *witness_refused;   /* the command refused: "MAIL FROM:<>", the RCPT line or "DATA" */
	char witness_rcpt_line[SESSION_RCPT_LINE_MAX];
	struct sf_reply *witness_mail, *witness_rcpt, *witness_data, *witness_reply;
	size_t witness_parts;          /* message parts written */
	int witness_reset;             /* dropped by a reset (else a close) */
	int tls_tried;                 /* a TLS handshake was started */
	int tls_failed;                /* it failed; tls_err says why */
	char tls_err[200];             /* why TLS failed, or why a read or write in TLS did */
	char tls_desc[96];             /* protocol and cipher when it worked */
	struct session_times t;
	/* transcript for -v: "C: ..." / "S: ..." lines, raw */
	char *transcript[SESSION_TRANSCRIPT_MAX];
	size_t ntranscript;
	size_t transcript_over;  /* lines past SESSION_TRANSCRIPT_MAX, not kept */
	size_t transcript_nomem; /* lines lost to a failed allocation */
};

/* The conversation's own state: only session.c reads or writes it. */
struct session_io {
	int fd;
	struct tls_conn *tls;      /* TLS layer once started, else NULL */
	short tls_want;            /* poll event the TLS layer waits for, or 0 */
	enum session_step step;
	struct sf_parser *parser;
	char out[SESSION_OUT_MAX]; /* command being written */
	size_t outlen, outoff;
	unsigned long reads;       /* read() calls that returned data */
	unsigned long cmd_read_seq;/* value of reads when the last command went out */
	size_t pending_at_send;    /* octets of a reply already begun when it went out */
	double quit_deadline;
	double watch_deadline;     /* STEP_MESSAGE: when the wait after the last part ends */
};

/* One conversation: session_init(), session_start(), drive it with
 * session_run(), read r, session_cleanup(). */
struct session {
	struct sockaddr_storage addr;     /* the peer (session_init) */
	socklen_t addrlen;
	const struct session_config *cfg; /* must outlive the session */
	struct session_result r;          /* public results */
	struct session_io io;             /* private */
};

/* Prepare s for use at address addr (len octets, at most the size of a
 * sockaddr_storage): no socket, no results. cfg must outlive s. A session
 * only initialised may be cleaned up. */
void session_init(struct session *s, const struct session_config *cfg,
		  const struct sockaddr *addr, socklen_t len);

/* Start the connection (non-blocking). On immediate failure the session is
 * done with SESS_CONNECT_FAILED. now: monotonic seconds. */
void session_start(struct session *s, double now);

/* 1 if s has finished. */
int session_done(const struct session *s);

/* Release everything s holds (socket, parser, replies, transcript). The
 * session can then be initialised again. */
void session_cleanup(struct session *s);

/* Human words for a step, e.g. "waiting for the greeting". */
const char *session_step_words(enum session_step step);

/* Drive sessions until all are done or the deadline (monotonic seconds)
 * passes; sessions still running then end with SESS_TIMEOUT. */
void session_run(struct session *const *ss, size_t n, double deadline);

/* Monotonic clock in seconds. */
double session_now(void);

#endif /* SESSION_H */

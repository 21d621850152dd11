/*
 * smtp-peer.c - a scripted TCP server for the integration and fault tests:
 * it plays one script, line by line, to each client that connects, and logs
 * what the client sent so a test can check what the plugin said.
 *
 *   smtp-peer --script FILE [--listen ADDR] [--port-file FILE] [--log FILE]
 *             [--connections N] [--max-seconds N] [--read-seconds N]
 *
 * It listens on ADDR (a numeric address, 127.0.0.1 by default; ::1 for
 * IPv6), port 0, writes the port it got to --port-file (a temporary file
 * renamed into place, so a reader never sees half of it), then accepts N
 * connections (default 1) one after the other. It ends after the last one,
 * or when --max-seconds (default 30) have passed, whatever it is doing then:
 * every wait is bounded by that deadline, and an alarm backs it up.
 * --connections 0 binds the port without listening: a connection to it is
 * refused, and the port stays ours (no race with another program) until the
 * deadline or a signal.
 *
 * The script has one directive per line; blank lines and lines starting
 * with '#' are ignored. TEXT runs to the end of the line and takes the
 * escapes \r \n \t \\ \xNN, so it can hold any octet (NUL included).
 *   send TEXT       send exactly TEXT, in one write (large TEXT may need more)
 *   sendline TEXT   send TEXT and CRLF, in one write
 *   expect PREFIX   read one line; it must start with PREFIX (any case)
 *   recv            read one line, whatever it says
 *   sleep MS        wait MS milliseconds (ends early if the client closes)
 *   drip MS TEXT    send TEXT one octet at a time, MS milliseconds apart
 *   repeat N TEXT   send TEXT N times (long replies, megabyte lines)
 *   close           orderly close: FIN, then read until the client closes
 *                   (at most PEER_CLOSE_LINGER_MS)
 *   reset           close with SO_LINGER 0: the client sees a reset
 *   hold            send nothing until the client closes or the deadline
 *   drain           read and log until the client closes or the deadline
 *   tls [PRIO]      the server's side of a TLS handshake (GnuTLS, a throw-away
 *                   ECDSA certificate made at start-up) with the GnuTLS
 *                   priority string PRIO (default NORMAL); from then on
 *                   send, expect and the others go through TLS
 *   raw TEXT        send TEXT on the socket itself, past TLS (garbage in
 *                   place of a record, a record cut short)
 *   alert N         send the fatal TLS alert N (0-255), encrypted
 *   warnings N      send N warning alerts user_canceled (90)
 *   keyupdate N     send N TLS 1.3 KeyUpdate messages
 *   bye             send close_notify (the TCP connection stays open)
 * The last five need a tls line before them in the script.
 * A script that ends with the connection still open closes it as "close".
 * A line is read with a bound (PEER_LINE_MAX octets; longer ones are cut
 * and logged as such) and a deadline (--read-seconds, default 10). An
 * expect that sees the wrong line is a mismatch and the script goes on; an
 * expect or recv that sees no line at all (close, reset, timeout) is a
 * mismatch and ends the script for that connection.
 *
 * The log (--log) has one record a line: "C: text" for each line received
 * (line end removed, other octets escaped as in scripts), "S: text" for what
 * was sent (shortened), "# ..." for events, "# MISMATCH ..." for failures.
 *
 * Exit status: 0 if every connection came and every expect matched, 1 if
 * not, 2 for bad usage, a bad script or a system error.
 *
 * TLS is the server's side only and verifies nothing: it is there to let a
 * handshake succeed and then misbehave inside it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#define PEER_LINE_MAX 4096U         /* octets of one client line kept; more is cut */
#define PEER_SCRIPT_BYTES_MAX 1048576L /* size of a script file */
#define PEER_TEXT_MAX 65536U        /* octets of one TEXT after escapes */
#define PEER_REPEAT_MAX 100000000L  /* the N of repeat */
#define PEER_MS_MAX 3600000L        /* sleep and drip intervals */
#define PEER_CONNECTIONS_MAX 10000L /* --connections */
#define PEER_SECONDS_MAX 86400L     /* --max-seconds, --read-seconds */
#define PEER_CLOSE_LINGER_MS 2000L  /* after our FIN, wait this long for the client's */
#define PEER_LOG_SHOWN 200U         /* octets of sent data shown in one log record */
#define PEER_WRITE_CHUNK 65536U     /* octets per write for repeat */
#define PEER_TLS_COUNT_MAX 10000L   /* the N of warnings and keyupdate */

/* Exit statuses. */
#define EXIT_MATCHED 0  /* every connection came, every expect matched */
#define EXIT_MISMATCH 1 /* a mismatch or a missing connection */
#define EXIT_ERROR 2    /* bad usage, bad script, system error */

enum op {
	OP_SEND,   /* text: bytes to send (sendline appended CRLF at parse time) */
	OP_EXPECT, /* text: prefix the next line must start with */
	OP_RECV,   /* any one line */
	OP_SLEEP,  /* num: milliseconds */
	OP_DRIP,   /* num: milliseconds between octets; text: bytes */
	OP_REPEAT, /* num: count; text: bytes */
	OP_CLOSE,
	OP_RESET,
	OP_HOLD,
	OP_DRAIN,
	OP_TLS,       /* server handshake */
	OP_RAW,       /* text: bytes sent past TLS */
	OP_ALERT,     /* num: fatal alert description */
	OP_WARNINGS,  /* num: count of user_canceled warnings */
	OP_KEYUPDATE, /* num: count of KeyUpdate messages */
	OP_BYE        /* close_notify */
};

struct directive {
	enum op op;
	unsigned lineno; /* in the script, for messages */
	char *text;      /* decoded bytes, owned; may hold NULs; NULL if none */
	size_t len;
	long num;
};

struct script {
	struct directive *d; /* owned */
	size_t n;
};

/* Settings from the command line, read-only once parsed. */
struct options {
	const char *script;
	const char *listen;
	const char *port_file;
	const char *log;
	long connections;
	long max_seconds;
	long read_seconds;
};

/* The run: where to log, the deadline, what went wrong. */
struct peer {
	const struct options *opt;
	FILE *log;            /* NULL: no log */
	long long deadline;   /* monotonic milliseconds */
	unsigned long mismatches;
};

/* One client connection and what it sent that no directive has taken yet. */
struct conn {
	int fd;
	long index;               /* 1, 2, ... */
	char in[PEER_LINE_MAX];
	size_t inlen;
	int skipping;             /* discarding the rest of a line that was cut */
	int eof;                  /* the client closed its side */
	int dead;                 /* reset or another error: nothing more to do */
	gnutls_session_t tls;     /* NULL until the tls directive */
	char pre[PEER_LINE_MAX];  /* octets read before the handshake began: TLS's */
	size_t prelen;
};

/* The certificate of the tls directive, made once if a script has one. */
static gnutls_certificate_credentials_t creds;

/* How a line ended. */
enum line_end {
	END_CRLF,  /* CR LF, as it should */
	END_LF,    /* a bare LF */
	END_CUT,   /* no LF within PEER_LINE_MAX octets */
	END_CLOSE  /* the client closed after an unterminated line */
};

/* What read_line got. */
enum line_result {
	LINE_OK,      /* a line (see line_end) */
	LINE_EOF,     /* the client closed; no line */
	LINE_TIMEOUT, /* the deadline passed */
	LINE_ERROR    /* reset or another socket error */
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void plog(struct peer *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print a message to stderr and exit with EXIT_ERROR. */
static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("smtp-peer: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_ERROR);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds from now to until, as a poll() timeout (0 if passed). */
static int ms_left(long long until)
{
	long long left = until - now_ms();

	if (left <= 0)
		return 0;
	return left > INT_MAX ? INT_MAX : (int)left;
}

static long long earlier(long long a, long long b)
{
	return a < b ? a : b;
}

/* Parse a decimal integer in [min, max]. Returns 0, or -1 if s is not one. */
static int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Write len octets to f, escaped as in scripts, at most max of them. */
static void put_escaped(FILE *f, const char *buf, size_t len, size_t max)
{
	size_t shown = len < max ? len : max;

	for (size_t i = 0; i < shown; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (c == '\\')
			fputs("\\\\", f);
		else if (c == '\r')
			fputs("\\r", f);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c < 0x20 || c > 0x7e)
			fprintf(f, "\\x%02X", c);
		else
			fputc(c, f);
	}
	/* cppcheck-suppress knownConditionTrueFalse ; shown stops at the cap */
	if (shown < len)
		fprintf(f, "... (%zu octets)", len);
}

/* One log record; nothing if there is no log. */
static void plog(struct peer *p, const char *fmt, ...)
{
	va_list ap;

	if (p->log == NULL)
		return;
	va_start(ap, fmt);
	vfprintf(p->log, fmt, ap);
	va_end(ap);
	fputc('\n', p->log);
	fflush(p->log);
}

/* A log record: prefix, then the bytes escaped, then an optional suffix. */
static void plog_bytes(struct peer *p, const char *prefix, const char *buf, size_t len,
		       size_t max, const char *suffix)
{
	if (p->log == NULL)
		return;
	fputs(prefix, p->log);
	put_escaped(p->log, buf, len, max);
	if (suffix != NULL)
		fputs(suffix, p->log);
	fputc('\n', p->log);
	fflush(p->log);
}

/* A failed expectation: counted, logged and told on stderr. */
static void mismatch(struct peer *p, const struct conn *c, const struct directive *d,
		     const char *what)
{
	p->mismatches++;
	plog(p, "# MISMATCH connection %ld, script line %u: %s", c->index, d->lineno, what);
	fprintf(stderr, "smtp-peer: mismatch on connection %ld, script line %u: %s\n",
		c->index, d->lineno, what);
}

/* ---- the script ------------------------------------------------------ */

static int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode the escapes of s[0..len) into a new buffer (*out, *outlen; the
 * caller frees it), with extra spare octets at its end. Returns 0, or -1
 * with a reason in *why. */
static int decode_text(const char *s, size_t len, size_t extra, char **out, size_t *outlen,
		       const char **why)
{
	char *buf = malloc(len + extra + 1);
	size_t n = 0;

	if (buf == NULL)
		die("out of memory");
	for (size_t i = 0; i < len; i++) {
		int hi, lo;

		if (s[i] != '\\') {
			buf[n++] = s[i];
			continue;
		}
		if (i + 1 >= len) {
			*why = "a backslash ends the line";
			free(buf);
			return -1;
		}
		switch (s[++i]) {
		case 'r':
			buf[n++] = '\r';
			break;
		case 'n':
			buf[n++] = '\n';
			break;
		case 't':
			buf[n++] = '\t';
			break;
		case '\\':
			buf[n++] = '\\';
			break;
		case 'x':
			if (i + 2 >= len) {
				*why = "\\x needs two hex digits";
				free(buf);
				return -1;
			}
			hi = hex_value((unsigned char)s[i + 1]);
			lo = hex_value((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0) {
				*why = "\\x needs two hex digits";
				free(buf);
				return -1;
			}
			buf[n++] = (char)(hi * 16 + lo);
			i += 2;
			break;
		default:
			*why = "unknown escape (use \\r \\n \\t \\\\ \\xNN)";
			free(buf);
			return -1;
		}
	}
	if (n > PEER_TEXT_MAX) {
		*why = "text too long";
		free(buf);
		return -1;
	}
	buf[n] = '\0';
	*out = buf;
	*outlen = n;
	return 0;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Split off the first blank-separated word of [*s, end): returns its length
 * and moves *s past it and the blanks that follow. */
static size_t take_word(const char **s, const char *end, const char **word)
{
	const char *w = *s;
	size_t n;

	while (w < end && is_blank(*w))
		w++;
	*word = w;
	n = 0;
	while (w + n < end && !is_blank(w[n]))
		n++;
	w += n;
	while (w < end && is_blank(*w))
		w++;
	*s = w;
	return n;
}

/* The directives: name, op, whether it takes a number, whether it takes TEXT. */
struct keyword {
	const char *name;
	enum op op;
	int num;  /* 1: a number comes first */
	int text; /* 0: none; 1: required; 2: optional (may be empty) */
};

static const struct keyword keywords[] = {
	{ "send", OP_SEND, 0, 1 },
	{ "sendline", OP_SEND, 0, 2 },
	{ "expect", OP_EXPECT, 0, 2 },
	{ "recv", OP_RECV, 0, 0 },
	{ "sleep", OP_SLEEP, 1, 0 },
	{ "drip", OP_DRIP, 1, 1 },
	{ "repeat", OP_REPEAT, 1, 1 },
	{ "close", OP_CLOSE, 0, 0 },
	{ "reset", OP_RESET, 0, 0 },
	{ "hold", OP_HOLD, 0, 0 },
	{ "drain", OP_DRAIN, 0, 0 },
	{ "tls", OP_TLS, 0, 2 },
	{ "raw", OP_RAW, 0, 1 },
	{ "alert", OP_ALERT, 1, 0 },
	{ "warnings", OP_WARNINGS, 1, 0 },
	{ "keyupdate", OP_KEYUPDATE, 1, 0 },
	{ "bye", OP_BYE, 0, 0 },
};

/* The range of a directive's number. */
static void num_range(enum op op, long *min, long *max)
{
	switch (op) {
	case OP_REPEAT:
		*min = 1;
		*max = PEER_REPEAT_MAX;
		break;
	case OP_ALERT:
		*min = 0;
		*max = 255;
		break;
	case OP_WARNINGS:
	case OP_KEYUPDATE:
		*min = 1;
		*max = PEER_TLS_COUNT_MAX;
		break;
	default:
		*min = 0;
		*max = PEER_MS_MAX;
		break;
	}
}

/* Parse one script line [s, end) into d. Returns 0, 1 for a line with no
 * directive, or -1 with a reason in *why. */
static int parse_directive(const char *s, const char *end, struct directive *d, const char **why)
{
	const struct keyword *kw = NULL;
	const char *word;
	size_t wlen = take_word(&s, end, &word);
	int sendline;

	if (wlen == 0 || word[0] == '#')
		return 1;
	for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++) {
		if (strlen(keywords[i].name) == wlen && memcmp(keywords[i].name, word, wlen) == 0) {
			kw = &keywords[i];
			break;
		}
	}
	if (kw == NULL) {
		*why = "unknown directive";
		return -1;
	}
	d->op = kw->op;
	d->text = NULL;
	d->len = 0;
	d->num = 0;
	if (kw->num) {
		char numbuf[24];
		long min, max;

		num_range(kw->op, &min, &max);
		wlen = take_word(&s, end, &word);
		if (wlen == 0 || wlen >= sizeof numbuf) {
			*why = "a number is missing or too long";
			return -1;
		}
		memcpy(numbuf, word, wlen);
		numbuf[wlen] = '\0';
		if (parse_long(numbuf, min, max, &d->num) != 0) {
			*why = "bad number";
			return -1;
		}
	}
	if (kw->text == 0) {
		if (s != end) {
			*why = "this directive takes no text";
			return -1;
		}
		return 0;
	}
	if (kw->text == 1 && s == end) {
		*why = "text is missing";
		return -1;
	}
	sendline = kw->op == OP_SEND && kw->text == 2;
	if (decode_text(s, (size_t)(end - s), sendline ? 2 : 0, &d->text, &d->len, why) != 0)
		return -1;
	if (sendline) {
		d->text[d->len++] = '\r';
		d->text[d->len++] = '\n';
		d->text[d->len] = '\0';
	}
	return 0;
}

/* Read the whole script file into memory; dies on error. */
static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	if (f == NULL)
		die("cannot open script %s: %s", path, strerror(errno));
	buf = malloc((size_t)PEER_SCRIPT_BYTES_MAX + 1);
	if (buf == NULL)
		die("out of memory");
	n = fread(buf, 1, (size_t)PEER_SCRIPT_BYTES_MAX + 1, f);
	if (ferror(f))
		die("cannot read script %s", path);
	fclose(f);
	if (n > (size_t)PEER_SCRIPT_BYTES_MAX)
		die("script %s is larger than %ld octets", path, PEER_SCRIPT_BYTES_MAX);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* Load and check the whole script before listening; dies on any error, so
 * a test never connects to a peer that would stop at line 12. */
static void load_script(const char *path, struct script *sc)
{
	size_t len, cap = 0;
	char *buf = read_file(path, &len);
	const char *s = buf, *end = buf + len;
	unsigned lineno = 0;
	int tls = 0;

	sc->d = NULL;
	sc->n = 0;
	while (s < end) {
		const char *eol = memchr(s, '\n', (size_t)(end - s));
		const char *next = eol ? eol + 1 : end;
		const char *why = NULL;
		struct directive d;
		int r;

		if (eol == NULL)
			eol = end;
		if (eol > s && eol[-1] == '\r')
			eol--; /* a script written with CRLF line ends */
		lineno++;
		r = parse_directive(s, eol, &d, &why);
		if (r < 0)
			die("%s:%u: %s", path, lineno, why);
		if (r == 0 && d.op == OP_TLS)
			tls = 1;
		if (r == 0 && !tls &&
		    (d.op == OP_ALERT || d.op == OP_WARNINGS || d.op == OP_KEYUPDATE || d.op == OP_BYE))
			die("%s:%u: a TLS directive before any tls line", path, lineno);
		if (r == 0) {
			if (sc->n == cap) {
				size_t ncap = cap ? cap * 2 : 32;
				struct directive *nd = realloc(sc->d, ncap * sizeof *nd);

				if (nd == NULL)
					die("out of memory");
				sc->d = nd;
				cap = ncap;
			}
			d.lineno = lineno;
			sc->d[sc->n++] = d;
		}
		s = next;
	}
	free(buf);
	if (sc->n == 0)
		die("%s: no directives", path);
}

static void free_script(struct script *sc)
{
	for (size_t i = 0; i < sc->n; i++)
		free(sc->d[i].text);
	free(sc->d);
	sc->d = NULL;
	sc->n = 0;
}

/* ---- the connection -------------------------------------------------- */

/* GnuTLS's reads: first what was read before the handshake, then the socket. */
static ssize_t tls_pull(gnutls_transport_ptr_t ptr, void *buf, size_t len)
{
	struct conn *c = ptr;
	ssize_t n;

	if (c->prelen > 0) {
		size_t k = len < c->prelen ? len : c->prelen;

		memcpy(buf, c->pre, k);
		memmove(c->pre, c->pre + k, c->prelen - k);
		c->prelen -= k;
		return (ssize_t)k;
	}
	n = recv(c->fd, buf, len, 0);
	if (n < 0)
		gnutls_transport_set_errno(c->tls, errno);
	return n;
}

static ssize_t tls_push(gnutls_transport_ptr_t ptr, const void *buf, size_t len)
{
	struct conn *c = ptr;
	ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);

	if (n < 0)
		gnutls_transport_set_errno(c->tls, errno);
	return n;
}

/* One read of at most len octets: from the socket, or decrypted. Like
 * recv(): the count, 0 for the client's close, -1 with errno (EAGAIN when
 * there is nothing yet). */
static ssize_t conn_recv(struct peer *p, struct conn *c, char *buf, size_t len)
{
	ssize_t n;

	if (c->tls == NULL)
		return recv(c->fd, buf, len, 0);
	n = gnutls_record_recv(c->tls, buf, len);
	if (n >= 0)
		return n;
	if (n == GNUTLS_E_PREMATURE_TERMINATION)
		return 0; /* the client closed the socket without close_notify */
	if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED || !gnutls_error_is_fatal((int)n)) {
		errno = EAGAIN;
		return -1;
	}
	plog(p, "# connection %ld: TLS: %s", c->index, gnutls_strerror((int)n));
	errno = EPROTO;
	return -1;
}

/* Read what is there (up to the free room in c->in), waiting until until.
 * Returns 1 if octets came, 0 on timeout, -1 if the client closed or the
 * connection failed (c->eof or c->dead set). */
static int fill(struct peer *p, struct conn *c, long long until)
{
	for (;;) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN, .revents = 0 };
		ssize_t n;
		int r;

		if (c->eof || c->dead)
			return -1;
		if (c->tls != NULL && (c->prelen > 0 || gnutls_record_check_pending(c->tls) > 0))
			r = 1; /* decrypted or raw octets already here */
		else
			r = poll(&pfd, 1, ms_left(until));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			die("poll: %s", strerror(errno));
		}
		if (r == 0)
			return 0;
		if (c->inlen == sizeof c->in) {
			/* Full: only reached by sleep/drip with a line pending. */
			return 1;
		}
		n = conn_recv(p, c, c->in + c->inlen, sizeof c->in - c->inlen);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) {
				if (ms_left(until) == 0)
					return 0;
				continue;
			}
			plog(p, "# connection %ld: read failed: %s", c->index, strerror(errno));
			c->dead = 1;
			return -1;
		}
		if (n == 0) {
			c->eof = 1;
			return -1;
		}
		c->inlen += (size_t)n;
		return 1;
	}
}

/* Take the first n octets of c->in away. */
static void consume(struct conn *c, size_t n)
{
	memmove(c->in, c->in + n, c->inlen - n);
	c->inlen -= n;
}

/* Log one received line and how it ended. */
static void log_line(struct peer *p, const char *line, size_t len, enum line_end how)
{
	plog_bytes(p, "C: ", line, len, PEER_LINE_MAX, NULL);
	if (how == END_LF)
		plog(p, "# (that line ended with a bare LF)");
	else if (how == END_CUT)
		plog(p, "# (that line was cut at %u octets)", PEER_LINE_MAX);
	else if (how == END_CLOSE)
		plog(p, "# (that line had no end: the client closed)");
}

/* Read one line into line[0..*len) (line end removed, at most PEER_LINE_MAX
 * octets), waiting until until, and log it. */
static enum line_result read_line(struct peer *p, struct conn *c, long long until, char *line,
				  size_t *len, enum line_end *how)
{
	for (;;) {
		char *lf = memchr(c->in, '\n', c->inlen);
		int r;

		if (lf != NULL) {
			size_t n = (size_t)(lf - c->in);

			if (c->skipping) {
				/* the rest of a cut line: already reported */
				c->skipping = 0;
				consume(c, n + 1);
				continue;
			}
			*how = END_LF;
			if (n > 0 && c->in[n - 1] == '\r') {
				*how = END_CRLF;
				n--;
			}
			memcpy(line, c->in, n);
			*len = n;
			consume(c, (size_t)(lf - c->in) + 1);
			log_line(p, line, *len, *how);
			return LINE_OK;
		}
		if (c->inlen == sizeof c->in) {
			if (c->skipping) {
				c->inlen = 0;
			} else {
				memcpy(line, c->in, c->inlen);
				*len = c->inlen;
				*how = END_CUT;
				c->inlen = 0;
				c->skipping = 1;
				log_line(p, line, *len, *how);
				return LINE_OK;
			}
		}
		r = fill(p, c, until);
		if (r == 0)
			return LINE_TIMEOUT;
		if (r < 0) {
			if (c->inlen > 0 && !c->skipping) {
				memcpy(line, c->in, c->inlen);
				*len = c->inlen;
				*how = END_CLOSE;
				c->inlen = 0;
				log_line(p, line, *len, *how);
				return LINE_OK;
			}
			c->inlen = 0;
			return c->dead ? LINE_ERROR : LINE_EOF;
		}
	}
}

/* Wait until the socket can go the way GnuTLS wants (dir: 0 read, 1
 * write), at most until the deadline. 0, or -1 at the deadline (logged,
 * c->dead set). */
static int tls_wait(struct peer *p, struct conn *c, int dir, const char *what)
{
	struct pollfd pfd = { .fd = c->fd, .events = dir ? POLLOUT : POLLIN, .revents = 0 };
	int r;

	if (dir == 0 && c->prelen > 0)
		return 0;
	r = poll(&pfd, 1, ms_left(p->deadline));
	if (r < 0 && errno != EINTR)
		die("poll: %s", strerror(errno));
	if (r == 0) {
		plog(p, "# connection %ld: deadline reached during %s", c->index, what);
		c->dead = 1;
		return -1;
	}
	return 0;
}

/* Send buf[0..len) through TLS. As send_bytes. */
static int send_tls(struct peer *p, struct conn *c, const char *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = gnutls_record_send(c->tls, buf + off, len - off);

		if (n >= 0) {
			off += (size_t)n;
			continue;
		}
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
			if (tls_wait(p, c, gnutls_record_get_direction(c->tls), "a TLS send") != 0)
				return -1;
			continue;
		}
		plog(p, "# connection %ld: TLS send failed after %zu of %zu octets: %s", c->index,
		     off, len, gnutls_strerror((int)n));
		c->dead = 1;
		return -1;
	}
	return 0;
}

/* Send buf[0..len) on the socket itself, in one write if it takes it.
 * Returns 0, or -1 if the client is gone or the deadline passed (logged;
 * c->dead set). */
static int send_raw(struct peer *p, struct conn *c, const char *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = send(c->fd, buf + off, len - off, MSG_NOSIGNAL);

		if (n >= 0) {
			off += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			struct pollfd pfd = { .fd = c->fd, .events = POLLOUT, .revents = 0 };
			int r = poll(&pfd, 1, ms_left(p->deadline));

			if (r < 0 && errno != EINTR)
				die("poll: %s", strerror(errno));
			if (r == 0) {
				plog(p, "# connection %ld: deadline reached while sending (%zu of %zu octets sent)",
				     c->index, off, len);
				c->dead = 1;
				return -1;
			}
			continue;
		}
		plog(p, "# connection %ld: send failed after %zu of %zu octets: %s", c->index, off,
		     len, strerror(errno));
		c->dead = 1;
		return -1;
	}
	return 0;
}

/* Send buf[0..len): through TLS once it is up, else on the socket. */
static int send_bytes(struct peer *p, struct conn *c, const char *buf, size_t len)
{
	return c->tls != NULL ? send_tls(p, c, buf, len) : send_raw(p, c, buf, len);
}

/* Wait ms milliseconds, reading what the client sends meanwhile (kept for
 * the next expect). Ends early if the client closes or the deadline comes. */
static void wait_ms(struct peer *p, struct conn *c, long ms)
{
	long long until = earlier(now_ms() + ms, p->deadline);

	while (now_ms() < until) {
		if (c->inlen == sizeof c->in || c->eof || c->dead) {
			struct timespec ts;
			int left = ms_left(until);

			if (c->eof || c->dead)
				return;
			ts.tv_sec = left / 1000;
			ts.tv_nsec = (long)(left % 1000) * 1000000L;
			nanosleep(&ts, NULL);
			continue;
		}
		if (fill(p, c, until) < 0)
			return;
	}
}

/* Read and log lines until the client closes or until. */
static void read_until_close(struct peer *p, struct conn *c, long long until)
{
	char line[PEER_LINE_MAX];
	size_t len;
	enum line_end how;

	for (;;) {
		enum line_result r = read_line(p, c, until, line, &len, &how);

		if (r == LINE_EOF) {
			plog(p, "# connection %ld: closed by the client", c->index);
			return;
		}
		if (r == LINE_ERROR)
			return;
		if (r == LINE_TIMEOUT) {
			plog(p, "# connection %ld: still open at the deadline", c->index);
			return;
		}
	}
}

/* Compare the start of line with prefix, ignoring ASCII case. */
static int has_prefix(const char *line, size_t len, const char *prefix, size_t plen)
{
	if (plen > len)
		return 0;
	for (size_t i = 0; i < plen; i++) {
		unsigned char a = (unsigned char)line[i], b = (unsigned char)prefix[i];

		if (a >= 'A' && a <= 'Z')
			a = (unsigned char)(a - 'A' + 'a');
		if (b >= 'A' && b <= 'Z')
			b = (unsigned char)(b - 'A' + 'a');
		if (a != b)
			return 0;
	}
	return 1;
}

/* expect and recv. Returns 0 to go on, -1 to end the script. */
static int do_expect(struct peer *p, struct conn *c, const struct directive *d)
{
	char line[PEER_LINE_MAX];
	char what[160];
	size_t len;
	enum line_end how;
	long long until = earlier(now_ms() + p->opt->read_seconds * 1000LL, p->deadline);
	enum line_result r = read_line(p, c, until, line, &len, &how);

	if (r != LINE_OK) {
		snprintf(what, sizeof what, "%s: no line came (%s)",
			 d->op == OP_RECV ? "recv" : "expect",
			 r == LINE_EOF ? "the client closed" :
			 r == LINE_ERROR ? "connection error" : "timeout");
		mismatch(p, c, d, what);
		return -1;
	}
	if (d->op == OP_EXPECT && !has_prefix(line, len, d->text, d->len)) {
		if (p->log != NULL) {
			plog_bytes(p, "# expected a line starting with: ", d->text, d->len, 200, NULL);
		}
		mismatch(p, c, d, "expect: the line does not start with the prefix");
	}
	return 0;
}

/* repeat: send d->text d->num times, in writes of about PEER_WRITE_CHUNK. */
static int do_repeat(struct peer *p, struct conn *c, const struct directive *d)
{
	/* the script parser refuses an empty text: len >= 1 */
	size_t per;
	unsigned long left = (unsigned long)d->num;
	char *chunk;
	int r = 0;

	if (d->len == 0)
		return 0; /* the script parser refuses an empty text; nothing to send */
	per = PEER_WRITE_CHUNK / d->len;
	if (per == 0)
		per = 1;
	chunk = malloc(per * d->len);
	if (chunk == NULL)
		die("out of memory");
	for (size_t i = 0; i < per; i++)
		memcpy(chunk + i * d->len, d->text, d->len);
	while (left > 0 && r == 0) {
		size_t k = left < per ? (size_t)left : per;

		r = send_bytes(p, c, chunk, k * d->len);
		left -= k;
	}
	free(chunk);
	return r;
}

/* drip: one octet, then a pause, and so on. */
static int do_drip(struct peer *p, struct conn *c, const struct directive *d)
{
	for (size_t i = 0; i < d->len; i++) {
		if (send_bytes(p, c, d->text + i, 1) != 0)
			return -1;
		if (i + 1 < d->len) {
			wait_ms(p, c, d->num);
			if (now_ms() >= p->deadline) {
				plog(p, "# connection %ld: deadline reached while dripping (%zu of %zu octets sent)",
				     c->index, i + 1, d->len);
				return -1;
			}
		}
	}
	return 0;
}

/* tls: the server's handshake, bounded by --read-seconds. Octets the
 * client sent before it (its ClientHello, read while we slept) go to TLS
 * first. Returns 0, or -1 to end the script (a mismatch). */
static int do_tls(struct peer *p, struct conn *c, const struct directive *d)
{
	long long until = earlier(now_ms() + p->opt->read_seconds * 1000LL, p->deadline);
	int r;

	if (c->tls != NULL) {
		mismatch(p, c, d, "tls: TLS is already up");
		return -1;
	}
	if (gnutls_init(&c->tls, GNUTLS_SERVER | GNUTLS_NONBLOCK) < 0)
		die("gnutls_init failed");
	memcpy(c->pre, c->in, c->inlen);
	c->prelen = c->inlen;
	c->inlen = 0;
	if (gnutls_priority_set_direct(c->tls, d->len ? d->text : "NORMAL", NULL) < 0 ||
	    gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, creds) < 0)
		die("cannot set up a TLS session");
	gnutls_transport_set_ptr(c->tls, c);
	gnutls_transport_set_pull_function(c->tls, tls_pull);
	gnutls_transport_set_push_function(c->tls, tls_push);
	gnutls_handshake_set_timeout(c->tls, GNUTLS_INDEFINITE_TIMEOUT);
	for (;;) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN, .revents = 0 };

		r = gnutls_handshake(c->tls);
		if (r == GNUTLS_E_SUCCESS)
			break;
		if (r != GNUTLS_E_AGAIN && r != GNUTLS_E_INTERRUPTED && gnutls_error_is_fatal(r)) {
			char what[200];

			snprintf(what, sizeof what, "tls: handshake failed: %s", gnutls_strerror(r));
			mismatch(p, c, d, what);
			return -1;
		}
		if (c->prelen > 0)
			continue;
		if (gnutls_record_get_direction(c->tls) == 1)
			pfd.events = POLLOUT;
		if (poll(&pfd, 1, ms_left(until)) == 0) {
			mismatch(p, c, d, "tls: no handshake within --read-seconds");
			return -1;
		}
	}
	plog(p, "# connection %ld: TLS up (%s)", c->index,
	     gnutls_protocol_get_name(gnutls_protocol_get_version(c->tls)));
	{
		/* the name the client asked for (SNI), if it sent one */
		char sni[256];
		size_t len = sizeof sni;
		unsigned type = 0;
		if (gnutls_server_name_get(c->tls, sni, &len, &type, 0) == GNUTLS_E_SUCCESS &&
		    type == GNUTLS_NAME_DNS)
			plog(p, "# connection %ld: SNI %s", c->index, sni);
	}
	return 0;
}

/* alert, warnings, keyupdate, bye: one TLS message n times, each retried
 * while the socket is full. Returns 0, or -1 (logged; c->dead set). */
static int do_tls_message(struct peer *p, struct conn *c, const struct directive *d)
{
	long times = d->op == OP_WARNINGS || d->op == OP_KEYUPDATE ? d->num : 1;

	if (c->tls == NULL) {
		mismatch(p, c, d, "TLS is not up");
		return -1;
	}
	for (long i = 0; i < times; i++) {
		int r;

		for (;;) {
			switch (d->op) {
			case OP_ALERT:
				r = gnutls_alert_send(c->tls, GNUTLS_AL_FATAL,
						      (gnutls_alert_description_t)d->num);
				break;
			case OP_WARNINGS:
				r = gnutls_alert_send(c->tls, GNUTLS_AL_WARNING, GNUTLS_A_USER_CANCELED);
				break;
			case OP_KEYUPDATE:
				r = gnutls_session_key_update(c->tls, 0);
				break;
			default:
				r = gnutls_bye(c->tls, GNUTLS_SHUT_WR);
				break;
			}
			if (r != GNUTLS_E_AGAIN && r != GNUTLS_E_INTERRUPTED)
				break;
			if (tls_wait(p, c, gnutls_record_get_direction(c->tls), "a TLS message") != 0)
				return -1;
		}
		if (r < 0) {
			plog(p, "# connection %ld: TLS message %ld of %ld failed: %s", c->index, i + 1,
			     times, gnutls_strerror(r));
			c->dead = 1;
			return -1;
		}
	}
	return 0;
}

/* Orderly close: our FIN, then what the client still says, then close. */
static void close_orderly(struct peer *p, struct conn *c)
{
	if (!c->dead) {
		shutdown(c->fd, SHUT_WR);
		if (!c->eof && now_ms() < p->deadline)
			read_until_close(p, c, earlier(now_ms() + PEER_CLOSE_LINGER_MS, p->deadline));
	}
	close(c->fd);
	c->fd = -1;
}

/* Abortive close: the client gets a RST. */
static void close_reset(struct conn *c)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	close(c->fd);
	c->fd = -1;
}

/* Play the script on one connection; closes it. */
static void play(struct peer *p, struct conn *c, const struct script *sc)
{
	for (size_t i = 0; i < sc->n && c->fd >= 0; i++) {
		const struct directive *d = &sc->d[i];
		int r = 0;

		if (now_ms() >= p->deadline) {
			plog(p, "# connection %ld: deadline reached before script line %u", c->index,
			     d->lineno);
			break;
		}
		switch (d->op) {
		case OP_SEND:
			plog_bytes(p, "S: ", d->text, d->len, PEER_LOG_SHOWN, NULL);
			r = send_bytes(p, c, d->text, d->len);
			break;
		case OP_EXPECT:
		case OP_RECV:
			r = do_expect(p, c, d);
			break;
		case OP_SLEEP:
			wait_ms(p, c, d->num);
			break;
		case OP_DRIP:
			plog_bytes(p, "S: (drip) ", d->text, d->len, PEER_LOG_SHOWN, NULL);
			r = do_drip(p, c, d);
			break;
		case OP_REPEAT:
			if (p->log != NULL) {
				fprintf(p->log, "S: (repeat %ld times) ", d->num);
				plog_bytes(p, "", d->text, d->len, PEER_LOG_SHOWN, NULL);
			}
			r = do_repeat(p, c, d);
			break;
		case OP_CLOSE:
			plog(p, "# connection %ld: close", c->index);
			close_orderly(p, c);
			break;
		case OP_RESET:
			plog(p, "# connection %ld: reset", c->index);
			close_reset(c);
			break;
		case OP_HOLD:
		case OP_DRAIN:
			plog(p, "# connection %ld: %s", c->index, d->op == OP_HOLD ? "hold" : "drain");
			read_until_close(p, c, p->deadline);
			break;
		case OP_TLS:
			r = do_tls(p, c, d);
			break;
		case OP_RAW:
			plog_bytes(p, "S: (raw) ", d->text, d->len, PEER_LOG_SHOWN, NULL);
			r = send_raw(p, c, d->text, d->len);
			break;
		case OP_ALERT:
		case OP_WARNINGS:
		case OP_KEYUPDATE:
		case OP_BYE:
			plog(p, "# connection %ld: TLS %s %ld", c->index,
			     d->op == OP_ALERT ? "alert" : d->op == OP_WARNINGS ? "warnings" :
			     d->op == OP_KEYUPDATE ? "keyupdate" : "bye", d->num);
			r = do_tls_message(p, c, d);
			break;
		default:
			die("internal error: directive %d", (int)d->op);
		}
		if (r != 0)
			break;
	}
	if (c->fd >= 0)
		close_orderly(p, c);
	if (c->tls != NULL)
		gnutls_deinit(c->tls);
	c->tls = NULL;
}

/* The self-signed certificate of the tls directive: a fresh ECDSA P-256
 * key, valid from an hour ago for a day; nothing checks it. */
static void make_creds(void)
{
	gnutls_x509_privkey_t key;
	gnutls_x509_crt_t crt;
	time_t t = time(NULL);
	unsigned char serial[1] = { 7 };

	if (gnutls_global_init() < 0 || gnutls_certificate_allocate_credentials(&creds) < 0 ||
	    gnutls_x509_privkey_init(&key) < 0 || gnutls_x509_crt_init(&crt) < 0)
		die("GnuTLS set-up failed");
	if (gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
					 GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0 ||
	    gnutls_x509_crt_set_version(crt, 3) < 0 || gnutls_x509_crt_set_serial(crt, serial, 1) < 0 ||
	    gnutls_x509_crt_set_activation_time(crt, t - 3600) < 0 ||
	    gnutls_x509_crt_set_expiration_time(crt, t + 86400) < 0 ||
	    gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, "peer.test", 9) < 0 ||
	    gnutls_x509_crt_set_key(crt, key) < 0 ||
	    gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0) < 0 ||
	    gnutls_certificate_set_x509_key(creds, &crt, 1, key) < 0)
		die("cannot make the TLS certificate");
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_privkey_deinit(key);
}

/* ---- set-up ---------------------------------------------------------- */

static void usage(void)
{
	fputs("usage: smtp-peer --script FILE [--listen ADDR] [--port-file FILE] [--log FILE]\n"
	      "                 [--connections N] [--max-seconds N] [--read-seconds N]\n",
	      stderr);
	exit(EXIT_ERROR);
}

/* Parse "--name VALUE" and "--name=VALUE"; dies on anything else. */
static void parse_options(int argc, char **argv, struct options *o)
{
	o->script = NULL;
	o->listen = "127.0.0.1";
	o->port_file = NULL;
	o->log = NULL;
	o->connections = 1;
	o->max_seconds = 30;
	o->read_seconds = 10;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *value, *eq;
		size_t nlen;

		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
			usage();
		if (strncmp(arg, "--", 2) != 0)
			die("unexpected argument: %s", arg);
		eq = strchr(arg, '=');
		if (eq != NULL) {
			nlen = (size_t)(eq - arg);
			value = eq + 1;
		} else {
			nlen = strlen(arg);
			if (i + 1 >= argc)
				die("%s needs a value", arg);
			value = argv[++i];
		}
#define IS(name) (nlen == strlen(name) && strncmp(arg, name, nlen) == 0)
		if (IS("--script")) {
			o->script = value;
		} else if (IS("--listen")) {
			o->listen = value;
		} else if (IS("--port-file")) {
			o->port_file = value;
		} else if (IS("--log")) {
			o->log = value;
		} else if (IS("--connections")) {
			if (parse_long(value, 0, PEER_CONNECTIONS_MAX, &o->connections) != 0)
				die("--connections: not a number from 0 to %ld: %s", PEER_CONNECTIONS_MAX, value);
		} else if (IS("--max-seconds")) {
			if (parse_long(value, 1, PEER_SECONDS_MAX, &o->max_seconds) != 0)
				die("--max-seconds: not a number from 1 to %ld: %s", PEER_SECONDS_MAX, value);
		} else if (IS("--read-seconds")) {
			if (parse_long(value, 1, PEER_SECONDS_MAX, &o->read_seconds) != 0)
				die("--read-seconds: not a number from 1 to %ld: %s", PEER_SECONDS_MAX, value);
		} else {
			die("unknown option: %s", arg);
		}
#undef IS
	}
	if (o->script == NULL)
		usage();
}

/* Bind ADDR port 0 (and listen unless refusing); *port gets the port. */
static int open_listener(const char *addr, int do_listen, unsigned *port)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	int fd, one = 1;

	memset(&ss, 0, sizeof ss);
	if (inet_pton(AF_INET, addr, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
		sslen = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, addr, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		ss.ss_family = AF_INET6;
		sslen = sizeof(struct sockaddr_in6);
	} else {
		die("--listen: not a numeric IPv4 or IPv6 address: %s", addr);
	}
	fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	if (do_listen)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, sslen) != 0)
		die("bind %s: %s", addr, strerror(errno));
	if (do_listen && listen(fd, 16) != 0)
		die("listen: %s", strerror(errno));
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0)
		die("fcntl: %s", strerror(errno));
	sslen = sizeof ss;
	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) != 0)
		die("getsockname: %s", strerror(errno));
	if (ss.ss_family == AF_INET)
		*port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	else
		*port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

/* Write the port to path through a temporary file and rename(). */
static void write_port_file(const char *path, unsigned port)
{
	char tmp[PATH_MAX];
	char text[16];
	int n = snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
	int tlen = snprintf(text, sizeof text, "%u\n", port);
	int fd;

	if (n < 0 || (size_t)n >= sizeof tmp)
		die("--port-file: path too long");
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die("cannot create %s: %s", tmp, strerror(errno));
	if (tlen < 0 || write(fd, text, (size_t)tlen) != (ssize_t)tlen || close(fd) != 0)
		die("cannot write %s: %s", tmp, strerror(errno));
	if (rename(tmp, path) != 0)
		die("cannot rename %s to %s: %s", tmp, path, strerror(errno));
}

/* Wait for the next client until the deadline; -1 if none came. */
static int accept_one(struct peer *p, int lfd, char *who, size_t wholen)
{
	for (;;) {
		struct pollfd pfd = { .fd = lfd, .events = POLLIN, .revents = 0 };
		struct sockaddr_storage ss;
		socklen_t sslen = sizeof ss;
		int r = poll(&pfd, 1, ms_left(p->deadline)), fd;
		int one = 1;

		if (r < 0) {
			if (errno == EINTR)
				continue;
			die("poll: %s", strerror(errno));
		}
		if (r == 0)
			return -1;
		fd = accept(lfd, (struct sockaddr *)&ss, &sslen);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EAGAIN)
				continue;
			die("accept: %s", strerror(errno));
		}
		if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0)
			die("fcntl: %s", strerror(errno));
		/* Each write its own segment: drip must drip, and Nagle must not
		 * hold a reply line back for the client's delayed ACK. */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		if (ss.ss_family == AF_INET6)
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, who, (socklen_t)wholen);
		else
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, who, (socklen_t)wholen);
		return fd;
	}
}

/* --connections 0: keep the port bound, refusing, until the deadline. */
static void refuse_until_deadline(struct peer *p)
{
	plog(p, "# refusing connections until the deadline");
	while (now_ms() < p->deadline) {
		int left = ms_left(p->deadline);
		struct timespec ts = { .tv_sec = left / 1000, .tv_nsec = (long)(left % 1000) * 1000000L };

		nanosleep(&ts, NULL);
	}
}

int main(int argc, char **argv)
{
	struct options opt;
	struct peer p;
	struct script sc;
	unsigned port;
	int lfd, missing = 0;
	long served = 0;

	parse_options(argc, argv, &opt);
	load_script(opt.script, &sc);
	for (size_t i = 0; i < sc.n; i++)
		if (sc.d[i].op == OP_TLS) {
			make_creds();
			break;
		}
	signal(SIGPIPE, SIG_IGN);
	/* Backstop: every wait below is bounded by the deadline; should one
	 * not be, the alarm still ends the process. */
	alarm((unsigned)opt.max_seconds + 2U);

	memset(&p, 0, sizeof p);
	p.opt = &opt;
	p.deadline = now_ms() + opt.max_seconds * 1000LL;
	if (opt.log != NULL) {
		p.log = fopen(opt.log, "w");
		if (p.log == NULL)
			die("cannot open log %s: %s", opt.log, strerror(errno));
	}
	lfd = open_listener(opt.listen, opt.connections > 0, &port);
	plog(&p, "# listening on %s port %u", opt.listen, port);
	if (opt.port_file != NULL)
		write_port_file(opt.port_file, port);

	if (opt.connections == 0)
		refuse_until_deadline(&p);
	for (long i = 1; i <= opt.connections; i++) {
		char who[INET6_ADDRSTRLEN] = "?";
		struct conn c;
		int fd = accept_one(&p, lfd, who, sizeof who);

		if (fd < 0) {
			plog(&p, "# MISMATCH connection %ld never came (deadline)", i);
			fprintf(stderr, "smtp-peer: connection %ld never came before the deadline\n", i);
			missing = 1;
			break;
		}
		memset(&c, 0, sizeof c);
		c.fd = fd;
		c.index = i;
		plog(&p, "# connection %ld from %s", i, who);
		play(&p, &c, &sc);
		plog(&p, "# connection %ld: end", i);
		served++;
	}
	close(lfd);
	plog(&p, "# end: %ld connection(s), %lu mismatch(es)", served, p.mismatches);
	if (p.log != NULL)
		fclose(p.log);
	free_script(&sc);
	if (creds != NULL) {
		gnutls_certificate_free_credentials(creds);
		gnutls_global_deinit();
	}
	return p.mismatches > 0 || missing ? EXIT_MISMATCH : EXIT_MATCHED;
}

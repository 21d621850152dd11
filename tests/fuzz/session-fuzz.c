/*
 * session-fuzz.c - a generative hostile SMTP peer that drives the whole
 * plugin. From a seed it draws a conversation plan (greeting variant,
 * extensions, options -S/--probe, and one fault at one step), serves it on
 * 127.0.0.1, runs the built plugin against it with -t 2 -v, and checks
 * invariants on the plugin's output:
 *   status  exactly one status line, first: "SMTP FIXUP (OK|WARNING|
 *           CRITICAL|UNKNOWN) - text" and optional "|perfdata" well formed
 *           (monitoring-plugins guidelines: 'label'=value[UOM];warn;crit;min;max)
 *   exit    0-3, the one of the state word
 *   time    done within the timeout + 1 s (+ TIME_SLACK_MS)
 *   stderr  nothing
 *   broken  a peer that broke the conversation (closed or reset before
 *           QUIT, bad grammar, a reply before its command, a 2xx other than
 *           the one the command takes) is never OK
 *   replies each command gets its own reply: every reply the peer sends
 *           carries a token ~rK~ (K: the command it answers, 0 for the
 *           greeting; ~u~ for an unsolicited one), and in the -v transcript
 *           of an OK or WARNING run the server lines after the K-th client
 *           line carry no token but ~rK~
 *
 * The class of a session is FAULT@STEP (e.g. 2xx@ehlo, early@greeting:
 * for "early" an extra reply follows the reply to STEP in the same write,
 * before the next command; for "extra" it follows 5 ms later, usually
 * after the next command went out). A failing session prints its seed, class and reasons, and its
 * plan and the plugin's output are saved to the --save folder. Classes
 * named in the --xfail file (globs, one a line, '#' comments) are known to
 * fail: they are counted as xfail, not as failures.
 *
 *   session-fuzz [-n SESSIONS] [-s FIRST_SEED] [-j JOBS] [-x XFAIL_FILE]
 *                [-o SAVE_DIR] [--no-tls] [-q]
 *
 * Environment: PLUGIN (default plugins/check_smtp_fixup), TIME_SLACK_MS.
 * Exit status: 0 when every session held the invariants or was an xfail,
 * 1 when one did not, 2 for bad usage or a set-up failure.
 * STARTTLS with a real handshake uses GnuTLS, with a throw-away ECDSA
 * certificate made at start-up (--no-tls: every STARTTLS is refused).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sf_common.h"

#define PLUGIN_TIMEOUT 2   /* -t */
#define CMD_MAX 2048U      /* octets of one client line we keep */
#define OUT_MAX 262144U    /* octets of the plugin's output we read */
#define XFAIL_MAX 64U
#define FQDN "probe.example.net"

/* ---- random numbers: xorshift64*, one stream per session ---- */
static uint64_t rng;

static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ULL;
}

static unsigned pick(unsigned n)
{
	return (unsigned)(rnd() % n);
}

/* ---- the plan ---- */
enum step { S_GREETING, S_EHLO, S_HELO, S_BDAT, S_NOOP, S_RSET, S_STARTTLS, S_EHLO_TLS,
	    S_QUIT, S_OTHER, S_COUNT };
static const char *const step_name[S_COUNT] = { "greeting", "ehlo", "helo", "bdat", "noop",
						 "rset", "starttls", "ehlo_tls", "quit", "other" };

enum fault { F_NONE, F_CLOSE, F_RESET, F_SILENT, F_GARBAGE, F_NUL, F_LONG, F_EARLY, F_2XX,
	     F_DRIP, F_4XX, F_5XX, F_TLS_GARBAGE, F_TLS_CLOSE, F_TLS_EARLY, F_EXTRA, F_COUNT };
static const char *const fault_name[F_COUNT] = {
	"none", "close", "reset", "silent", "garbage", "nul", "longline", "early", "2xx",
	"drip", "4xx", "5xx", "tls-garbage", "tls-close", "tls-early", "extra"
};

struct plan {
	uint64_t seed;
	int starttls, probe; /* the plugin's -S and --probe */
	int tls;             /* the peer can do the handshake */
	enum fault fault;
	enum step at;
	int multiline_greeting;
	unsigned ext_mask;
	int split_writes;   /* a multi-line reply line by line */
	unsigned alt;       /* which variant of the fault */
	unsigned drip_ms;
};

static const char *const extensions[] = { "PIPELINING", "SIZE 10240000", "ETRN",
					  "ENHANCEDSTATUSCODES", "8BITMIME", "DSN",
					  "SMTPUTF8", "CHUNKING" };
#define N_EXT (sizeof extensions / sizeof extensions[0])

/* 1 if the fault can be put at the step of a run with these options. */
static int fault_fits(const struct plan *p, enum fault f, enum step s)
{
	if (s == S_HELO || s == S_OTHER)
		return 0;
	if ((s == S_BDAT || s == S_NOOP || s == S_RSET) && !p->probe)
		return 0;
	if ((s == S_STARTTLS || s == S_EHLO_TLS) && !p->starttls)
		return 0;
	if (s == S_EHLO_TLS && !p->tls)
		return 0;
	switch (f) {
	case F_TLS_GARBAGE:
	case F_TLS_CLOSE:
		return s == S_STARTTLS;
	case F_TLS_EARLY:
		return s == S_STARTTLS && p->tls;
	case F_EARLY:
	case F_EXTRA:
		return s != S_QUIT;
	case F_2XX:
		return s == S_GREETING || s == S_EHLO || s == S_STARTTLS || s == S_EHLO_TLS;
	default:
		return f != F_NONE;
	}
}

static void plan_draw(struct plan *p, uint64_t seed, int tls_ok)
{
	memset(p, 0, sizeof *p);
	p->seed = seed;
	rng = seed * 0x9E3779B97F4A7C15ULL + 0x2545F4914F6CDD1DULL;
	/* cppcheck-suppress knownConditionTrueFalse ; a seed can make it 0 */
	if (rng == 0)
		rng = 1;
	p->starttls = pick(2);
	p->probe = pick(2);
	p->tls = tls_ok && pick(4) != 0;
	p->multiline_greeting = pick(3) == 0;
	p->ext_mask = (unsigned)rnd() & ((1U << N_EXT) - 1);
	p->split_writes = pick(3) == 0;
	p->alt = pick(1000);
	p->drip_ms = 2 + pick(10);
	if (pick(12) == 0) {
		p->fault = F_NONE;
		p->at = S_GREETING;
		return;
	}
	do {
		p->fault = (enum fault)(1 + pick(F_COUNT - 1));
		p->at = (enum step)pick(S_COUNT);
	} while (!fault_fits(p, p->fault, p->at));
}

/* 1 if the plan breaks the conversation: the plugin must not say OK. */
static int plan_broken(const struct plan *p)
{
	switch (p->fault) {
	case F_CLOSE:
	case F_RESET:
	case F_SILENT:
		return p->at != S_QUIT;
	case F_GARBAGE:
	case F_NUL:
	case F_LONG:
	case F_EARLY:
	case F_EXTRA:
	case F_2XX:
	case F_TLS_GARBAGE:
	case F_TLS_CLOSE:
	case F_TLS_EARLY:
		return 1;
	case F_NONE:
	case F_DRIP:
	case F_4XX:
	case F_5XX:
	default:
		return 0;
	}
}

/* ---- a growing text buffer ---- */
struct buf {
	char *p;
	size_t len, cap;
};

static void buf_add(struct buf *b, const void *data, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2;
		char *q = realloc(b->p, cap);
		if (q == NULL) {
			perror("session-fuzz: realloc");
			exit(2);
		}
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_printf(struct buf *b, const char *fmt, ...)
{
	char tmp[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n > 0)
		buf_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* ---- the connection: plain or TLS ---- */
static gnutls_certificate_credentials_t creds;

struct conn {
	int fd;
	gnutls_session_t tls;
	double deadline;
	char in[CMD_MAX * 2];
	size_t inlen;
	struct buf log; /* what the peer did, for a failing seed */
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Write all of it; 0 or -1. */
static int conn_write(struct conn *c, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w;
		if (c->tls != NULL) {
			w = gnutls_record_send(c->tls, p, n);
			if (w == GNUTLS_E_AGAIN || w == GNUTLS_E_INTERRUPTED)
				continue;
		} else {
			w = send(c->fd, p, n, MSG_NOSIGNAL);
			if (w < 0 && errno == EINTR)
				continue;
		}
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Wait for input until the deadline: 1 ready, 0 not. */
static int conn_wait(struct conn *c)
{
	if (c->tls != NULL && gnutls_record_check_pending(c->tls) > 0)
		return 1;
	for (;;) {
		double left = c->deadline - now();
		struct pollfd pfd = { c->fd, POLLIN, 0 };
		int r;
		if (left <= 0)
			return 0;
		r = poll(&pfd, 1, (int)(left * 1000) + 1);
		if (r < 0 && errno == EINTR)
			continue;
		return r > 0;
	}
}

/* One command line (CRLF or LF stripped) into line; 1, or 0 at the end
 * (close, reset, error, deadline). A line longer than CMD_MAX is cut. */
static int conn_line(struct conn *c, char *line, size_t size)
{
	for (;;) {
		char *nl = memchr(c->in, '\n', c->inlen);
		ssize_t r;
		if (nl != NULL || c->inlen >= CMD_MAX) {
			size_t n = nl != NULL ? (size_t)(nl - c->in) : c->inlen;
			size_t take = n < size - 1 ? n : size - 1;
			memcpy(line, c->in, take);
			line[take] = '\0';
			if (take > 0 && line[take - 1] == '\r')
				line[take - 1] = '\0';
			n += nl != NULL;
			memmove(c->in, c->in + n, c->inlen - n);
			c->inlen -= n;
			return 1;
		}
		if (!conn_wait(c))
			return 0;
		if (c->tls != NULL) {
			r = gnutls_record_recv(c->tls, c->in + c->inlen, sizeof c->in - c->inlen);
			if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
				continue;
		} else {
			r = recv(c->fd, c->in + c->inlen, sizeof c->in - c->inlen, 0);
			if (r < 0 && errno == EINTR)
				continue;
		}
		if (r <= 0)
			return 0;
		c->inlen += (size_t)r;
	}
}

/* Read and drop until the client closes or the deadline. */
static void conn_drain(struct conn *c)
{
	char tmp[4096];
	while (conn_wait(c)) {
		ssize_t r = c->tls != NULL ? gnutls_record_recv(c->tls, tmp, sizeof tmp) :
					     recv(c->fd, tmp, sizeof tmp, 0);
		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED || (r < 0 && errno == EINTR))
			continue;
		if (r <= 0)
			return;
	}
}

static void conn_reset(struct conn *c)
{
	struct linger lg = { 1, 0 };
	setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
}

/* ---- replies ---- */

/* The clean reply to a step, with the token of command k. */
static void clean_reply(const struct plan *p, enum step s, unsigned k, int in_tls,
			struct buf *r)
{
	char tk[32];
	snprintf(tk, sizeof tk, "~r%u~", k);
	switch (s) {
	case S_GREETING:
		if (p->multiline_greeting)
			buf_printf(r, "220-mx.fuzz.test %s\r\n220-no UCE\r\n220 ESMTP ready\r\n", tk);
		else
			buf_printf(r, "220 mx.fuzz.test ESMTP %s\r\n", tk);
		break;
	case S_EHLO:
	case S_EHLO_TLS: {
		const char *last = NULL;
		buf_printf(r, "250");
		for (size_t i = 0; i < N_EXT; i++)
			if (p->ext_mask & (1U << i))
				last = extensions[i];
		if (!in_tls)
			last = "STARTTLS";
		buf_printf(r, "%cmx.fuzz.test %s\r\n", last != NULL ? '-' : ' ', tk);
		for (size_t i = 0; i < N_EXT; i++)
			if ((p->ext_mask & (1U << i)) && extensions[i] != last)
				buf_printf(r, "250-%s\r\n", extensions[i]);
		if (last != NULL)
			buf_printf(r, "250 %s\r\n", last);
		break;
	}
	case S_HELO: buf_printf(r, "250 mx.fuzz.test %s\r\n", tk); break;
	case S_BDAT: buf_printf(r, "503 5.5.1 %s Error: MAIL transaction required\r\n", tk); break;
	case S_NOOP:
	case S_RSET: buf_printf(r, "250 2.0.0 %s Ok\r\n", tk); break;
	case S_STARTTLS:
		if (p->tls)
			buf_printf(r, "220 2.0.0 %s Ready to start TLS\r\n", tk);
		else
			buf_printf(r, "454 4.7.0 %s TLS not available\r\n", tk);
		break;
	case S_QUIT: buf_printf(r, "221 2.0.0 %s Bye\r\n", tk); break;
	case S_OTHER:
	case S_COUNT:
	default: buf_printf(r, "502 5.5.2 %s Error: command not recognized\r\n", tk); break;
	}
}

/* Send a reply: in one write, line by line, or dripped. */
static int send_reply(struct conn *c, const struct plan *p, const struct buf *r, int drip,
		      int whole)
{
	if (drip) {
		for (size_t i = 0; i < r->len; i++) {
			if (conn_write(c, r->p + i, 1) != 0)
				return -1;
			sleep_ms(p->drip_ms);
		}
		return 0;
	}
	if (p->split_writes && !whole) {
		const char *s = r->p, *end = r->p + r->len;
		while (s < end) {
			const char *nl = memchr(s, '\n', (size_t)(end - s));
			size_t n = nl != NULL ? (size_t)(nl - s) + 1 : (size_t)(end - s);
			if (conn_write(c, s, n) != 0)
				return -1;
			s += n;
			sleep_ms(1);
		}
		return 0;
	}
	return conn_write(c, r->p, r->len);
}

/* Replace the reply code of every line by code. */
static void set_code(struct buf *r, unsigned code)
{
	char d[4];
	snprintf(d, sizeof d, "%03u", code % 1000);
	for (size_t i = 0; i + 3 <= r->len; i++) {
		if (i == 0 || r->p[i - 1] == '\n')
			memcpy(r->p + i, d, 3);
	}
}

/* The handshake as server; 0 or -1. early: return after the server's
 * Finished (TLS 1.3), before the client's. */
static int tls_accept(struct conn *c, int early)
{
	int r;
	if (gnutls_init(&c->tls, GNUTLS_SERVER | (early ? GNUTLS_ENABLE_EARLY_START : 0)) < 0)
		return -1;
	gnutls_priority_set_direct(c->tls, "NORMAL", NULL);
	gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, creds);
	gnutls_transport_set_int(c->tls, c->fd);
	gnutls_handshake_set_timeout(c->tls, 2500);
	do {
		r = gnutls_handshake(c->tls);
	} while (r < 0 && !gnutls_error_is_fatal(r));
	if (r < 0) {
		buf_printf(&c->log, "peer: handshake failed: %s\n", gnutls_strerror(r));
		gnutls_deinit(c->tls);
		c->tls = NULL;
		return -1;
	}
	buf_printf(&c->log, "peer: handshake done (%s)\n",
		   gnutls_protocol_get_name(gnutls_protocol_get_version(c->tls)));
	return 0;
}

static enum step classify(const char *line, int in_tls)
{
	static const struct {
		const char *verb;
		enum step s;
	} verbs[] = { { "EHLO", S_EHLO }, { "HELO", S_HELO }, { "STARTTLS", S_STARTTLS },
		      { "BDAT", S_BDAT }, { "NOOP", S_NOOP }, { "RSET", S_RSET },
		      { "QUIT", S_QUIT } };
	size_t n = strcspn(line, " ");
	for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
		if (strlen(verbs[i].verb) == n && strncasecmp(line, verbs[i].verb, n) == 0)
			return verbs[i].s == S_EHLO && in_tls ? S_EHLO_TLS : verbs[i].s;
	}
	return S_OTHER;
}

/* Play the plan on one accepted connection. */
static void serve(struct conn *c, const struct plan *p)
{
	static const unsigned wrong2xx_greeting[] = { 250, 221, 251, 299, 211 };
	static const unsigned wrong2xx_ehlo[] = { 221, 220, 252, 299, 251, 211 };
	static const unsigned wrong2xx_starttls[] = { 250, 221, 252 };
	int fired = 0, in_tls = 0;
	unsigned k = 0;
	enum step s = S_GREETING;
	char line[CMD_MAX];

	for (;;) {
		struct buf r = { 0 };
		int hit = !fired && s == p->at;
		enum fault f = hit ? p->fault : F_NONE;
		int end = 0;

		if (hit)
			fired = 1;
		clean_reply(p, s, k, in_tls, &r);
		switch (f) {
		case F_CLOSE:
			buf_printf(&c->log, "peer: close at %s\n", step_name[s]);
			free(r.p);
			return;
		case F_RESET:
			buf_printf(&c->log, "peer: reset at %s\n", step_name[s]);
			conn_reset(c);
			free(r.p);
			return;
		case F_SILENT:
			buf_printf(&c->log, "peer: silent at %s\n", step_name[s]);
			conn_drain(c);
			free(r.p);
			return;
		case F_GARBAGE: {
			static const char *const junk[] = { "HTTP/1.1 400 Bad Request", "SSH-2.0-OpenSSH_9.2",
							    "2500 too many digits", "25 short", "abc def",
							    "250+plus", "-250 dash", "" };
			r.len = 0;
			buf_printf(&r, "%s ~r%u~\r\n", junk[p->alt % (sizeof junk / sizeof junk[0])], k);
			break;
		}
		case F_NUL: {
			size_t at = 4 + p->alt % 4;
			if (at < r.len)
				r.p[at] = '\0';
			break;
		}
		case F_LONG: {
			struct buf l = { 0 };
			size_t n = SF_REPLY_LINE_MAX + 1 + p->alt * 3;
			buf_printf(&l, "%.3s ~r%u~ ", r.p, k);
			while (l.len < n)
				buf_add(&l, "x", 1);
			buf_add(&l, "\r\n", 2);
			free(r.p);
			r = l;
			break;
		}
		case F_2XX: {
			const unsigned *codes = s == S_GREETING ? wrong2xx_greeting :
						s == S_STARTTLS ? wrong2xx_starttls : wrong2xx_ehlo;
			size_t n = s == S_GREETING ? 5 : s == S_STARTTLS ? 3 : 6;
			unsigned code = codes[p->alt % n];
			set_code(&r, code);
			if (code == 221)
				end = 1; /* "closing" and a close */
			break;
		}
		case F_4XX:
			r.len = 0;
			if (p->alt % 2) {
				buf_printf(&r, "421 4.3.2 ~r%u~ Service shutting down\r\n", k);
				end = 1;
			} else {
				buf_printf(&r, "450 4.3.2 ~r%u~ Try again later\r\n", k);
			}
			break;
		case F_5XX:
			r.len = 0;
			buf_printf(&r, "%u 5.5.1 ~r%u~ No\r\n", p->alt % 2 ? 500 : 554, k);
			break;
		case F_TLS_GARBAGE:
		case F_TLS_CLOSE:
		case F_TLS_EARLY:
			r.len = 0;
			buf_printf(&r, "220 2.0.0 ~r%u~ Ready to start TLS\r\n", k);
			break;
		case F_NONE:
		case F_EARLY:
		case F_EXTRA:
		case F_DRIP:
		case F_COUNT:
		default:
			break;
		}
		buf_printf(&c->log, "peer: %s reply to %s (%s)\n",
			   f == F_NONE || (unsigned)f >= F_COUNT ? "clean" : fault_name[f],
			   (unsigned)s < S_COUNT ? step_name[s] : "?", in_tls ? "TLS" : "clear");
		if (f == F_EARLY)
			buf_add(&r, "250 2.0.0 ~u~ Ok\r\n", 18);
		if (send_reply(c, p, &r, f == F_DRIP, f == F_EARLY) != 0) {
			free(r.p);
			return;
		}
		free(r.p);
		if (f == F_EXTRA) {
			/* 5 ms after the reply, when the next command is usually
			 * on its way already: a reply too many */
			const char *extra = "250 2.0.0 ~u~ Ok\r\n";
			sleep_ms(5);
			if (conn_write(c, extra, strlen(extra)) != 0)
				return;
		}
		if (end || s == S_QUIT)
			return;
		if (s == S_STARTTLS && (f == F_TLS_CLOSE))
			return;
		if (s == S_STARTTLS && f == F_TLS_GARBAGE) {
			char junk[300];
			size_t n = 1 + p->alt % sizeof junk;
			for (size_t i = 0; i < n; i++)
				junk[i] = (char)rnd();
			if (p->alt % 3 == 0)
				memcpy(junk, "250 ", n < 4 ? n : 4); /* clear text where TLS should be */
			if (conn_write(c, junk, n) == 0)
				conn_drain(c);
			return;
		}
		if (s == S_STARTTLS && (p->tls || f == F_TLS_EARLY) && !in_tls &&
		    (f == F_TLS_EARLY || f == F_NONE || f == F_DRIP || f == F_EARLY || f == F_EXTRA)) {
			if (tls_accept(c, f == F_TLS_EARLY) != 0)
				return;
			in_tls = 1;
			if (f == F_TLS_EARLY) {
				const char *extra = "250 2.0.0 ~u~ Ok\r\n";
				if (conn_write(c, extra, strlen(extra)) != 0)
					return;
			}
		}
		if (!conn_line(c, line, sizeof line))
			return;
		k++;
		s = classify(line, in_tls);
		buf_printf(&c->log, "C%u: %.80s\n", k, line);
	}
}

/* ---- the invariants ---- */

/* A number as the guidelines allow it: [-]digits[.digits]. */
static const char *skip_number(const char *p)
{
	const char *start;
	if (*p == '-')
		p++;
	start = p;
	while (*p >= '0' && *p <= '9')
		p++;
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return p > start ? p : NULL;
}

/* A threshold range: [@][~|number][:[number]]; may be empty. */
static const char *skip_range(const char *p)
{
	const char *q;
	if (*p == '@')
		p++;
	if (*p == '~')
		p++;
	else if ((q = skip_number(p)) != NULL)
		p = q;
	if (*p == ':') {
		p++;
		if ((q = skip_number(p)) != NULL)
			p = q;
	}
	return p;
}

/* NULL if perfdata (without the '|') is well formed, else why. */
static const char *perfdata_error(const char *p)
{
	static const char *const uoms[] = { "", "s", "ms", "us", "%", "B", "KB", "MB", "TB", "c" };
	if (*p == '\0')
		return "empty perfdata";
	while (*p != '\0') {
		const char *q;
		int ok = 0;
		if (*p == '\'') {
			p++;
			for (;;) {
				if (*p == '\0')
					return "unterminated quoted label";
				if (*p == '\'' && p[1] == '\'') {
					p += 2;
					continue;
				}
				if (*p == '\'')
					break;
				p++;
			}
			p++;
		} else {
			q = p;
			while (*p != '\0' && *p != '=' && *p != ' ' && *p != '\'')
				p++;
			if (p == q)
				return "empty label";
		}
		if (*p != '=')
			return "label without '='";
		p++;
		if (*p == 'U')
			p++;
		else if ((q = skip_number(p)) != NULL)
			p = q;
		else
			return "value not a number";
		q = p;
		while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '%')
			p++;
		for (size_t i = 0; i < sizeof uoms / sizeof uoms[0]; i++)
			if (strlen(uoms[i]) == (size_t)(p - q) && strncmp(q, uoms[i], (size_t)(p - q)) == 0)
				ok = 1;
		if (!ok)
			return "unknown unit of measure";
		for (int field = 0; field < 4 && *p == ';'; field++) {
			p++;
			if (field < 2) {
				p = skip_range(p);
			} else if ((q = skip_number(p)) != NULL) {
				p = q;
			}
		}
		if (*p != '\0' && *p != ' ')
			return "junk after a value";
		while (*p == ' ')
			p++;
	}
	return NULL;
}

static int state_code(const char *word, size_t n)
{
	static const char *const states[] = { "OK", "WARNING", "CRITICAL", "UNKNOWN" };
	for (int i = 0; i < 4; i++)
		if (strlen(states[i]) == n && strncmp(word, states[i], n) == 0)
			return i;
	return -1;
}

/* 1 if line is a status line; *state gets its state. */
static int status_line(const char *line, int *state)
{
	const char *w;
	size_t n;
	if (strncmp(line, "SMTP FIXUP ", 11) != 0)
		return 0;
	w = line + 11;
	n = strcspn(w, " ");
	*state = state_code(w, n);
	return *state >= 0 && strncmp(w + n, " - ", 3) == 0;
}

/* The token of a transcript line: "r<k>", "u", or "" when none. */
static void line_token(const char *line, char *tok, size_t size)
{
	const char *t = strchr(line, '~');
	size_t n;
	tok[0] = '\0';
	if (t == NULL)
		return;
	n = strcspn(t + 1, "~");
	if (t[1 + n] != '~' || n == 0 || n >= size)
		return;
	memcpy(tok, t + 1, n);
	tok[n] = '\0';
}

/* Each client line's replies carry its own token. */
static void check_replies(const char *out, struct buf *why)
{
	const char *p = strstr(out, "\nTranscript:\n");
	unsigned k = 0;
	if (p == NULL)
		return;
	p += 13;
	while (*p == ' ') {
		const char *eol = strchr(p, '\n');
		size_t n = eol != NULL ? (size_t)(eol - p) : strlen(p);
		char line[1200], tok[32], want[32];
		if (n >= sizeof line)
			n = sizeof line - 1;
		memcpy(line, p, n);
		line[n] = '\0';
		if (strncmp(line, "  C: ", 5) == 0) {
			k++;
		} else if (strncmp(line, "  S: ", 5) == 0) {
			line_token(line, tok, sizeof tok);
			snprintf(want, sizeof want, "r%u", k);
			if (tok[0] != '\0' && strcmp(tok, want) != 0) {
				buf_printf(why, "replies: command %u was answered by a reply marked %s; ", k,
					   tok);
				return;
			}
		}
		if (eol == NULL)
			break;
		p = eol + 1;
	}
}

/* Every invariant; the reasons it failed go to why (empty: passed). */
static void check(const struct plan *p, const char *out, size_t outlen, const char *err,
		  int rc, double secs, struct buf *why)
{
	const char *nl = memchr(out, '\n', outlen);
	char first[4096];
	size_t n;
	int state = -1, lines = 0;
	double bound = PLUGIN_TIMEOUT + 1.0;
	const char *slack = getenv("TIME_SLACK_MS");

	if (slack != NULL)
		bound += strtod(slack, NULL) / 1000.0;
	if (secs > bound)
		buf_printf(why, "time: %.2f s, more than %.2f s; ", secs, bound);
	if (rc < 0 || rc > 3)
		buf_printf(why, "exit: status %d (a signal is -N); ", rc);
	if (err[0] != '\0')
		buf_printf(why, "stderr: %.200s; ", err);
	if (outlen == 0 || nl == NULL) {
		buf_printf(why, "status: %s; ", outlen == 0 ? "no output" : "no line end");
		return;
	}
	if (memchr(out, '\0', outlen) != NULL)
		buf_printf(why, "status: a NUL in the output; ");
	n = (size_t)(nl - out);
	if (n >= sizeof first)
		n = sizeof first - 1;
	memcpy(first, out, n);
	first[n] = '\0';
	if (!status_line(first, &state)) {
		buf_printf(why, "status: the first line is not a status line; ");
		return;
	}
	for (const char *l = out; l != NULL && *l != '\0';) {
		int st;
		const char *e = strchr(l, '\n');
		if (status_line(l, &st))
			lines++;
		l = e != NULL ? e + 1 : NULL;
	}
	if (lines != 1)
		buf_printf(why, "status: %d status lines; ", lines);
	{
		const char *bar = strchr(first, '|');
		const char *pe;
		if (bar != NULL && (pe = perfdata_error(bar + 1)) != NULL)
			buf_printf(why, "perfdata: %s; ", pe);
	}
	if (rc != state)
		buf_printf(why, "exit: %d but the state word says %d; ", rc, state);
	if (plan_broken(p) && state == 0)
		buf_printf(why, "broken: the peer broke the conversation (%s at %s) and the result is OK; ",
			   fault_name[p->fault], step_name[p->at]);
	if (state == 0 || state == 1)
		check_replies(out, why);
}

/* ---- one session ---- */

static int listen_loopback(int *port)
{
	struct sockaddr_in a;
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 4) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(a.sin_port);
	return fd;
}

/* Read a file of at most max octets (NUL-terminated); its length. */
static size_t slurp(int fd, char *dst, size_t max)
{
	size_t n = 0;
	ssize_t r;
	lseek(fd, 0, SEEK_SET);
	while (n < max - 1 && (r = read(fd, dst + n, max - 1 - n)) > 0)
		n += (size_t)r;
	dst[n] = '\0';
	return n;
}

static const char *plugin_path(void)
{
	const char *p = getenv("PLUGIN");
	return p != NULL && *p ? p : "plugins/check_smtp_fixup";
}

struct outcome {
	struct buf why, log, args;
	char *out, err[2048];
	size_t outlen;
	int rc;
	double secs;
};

static int run_session(const struct plan *p, struct outcome *o)
{
	char portarg[16], tmpl_out[] = "/tmp/session-fuzz-out.XXXXXX",
			  tmpl_err[] = "/tmp/session-fuzz-err.XXXXXX";
	const char *argv[16];
	int argc = 0, port, lfd, ofd, efd, status = 0;
	double t0, hard;
	pid_t pid;

	lfd = listen_loopback(&port);
	ofd = mkstemp(tmpl_out);
	efd = mkstemp(tmpl_err);
	if (lfd < 0 || ofd < 0 || efd < 0) {
		perror("session-fuzz: set-up");
		return -1;
	}
	unlink(tmpl_out);
	unlink(tmpl_err);
	snprintf(portarg, sizeof portarg, "%d", port);
	argv[argc++] = plugin_path();
	argv[argc++] = "-H";
	argv[argc++] = "127.0.0.1";
	argv[argc++] = "-p";
	argv[argc++] = portarg;
	argv[argc++] = "-F";
	argv[argc++] = FQDN;
	argv[argc++] = "-t";
	argv[argc++] = "2";
	argv[argc++] = "-v";
	if (p->starttls)
		argv[argc++] = "-S";
	if (p->probe)
		argv[argc++] = "--probe";
	argv[argc] = NULL;
	for (int i = 0; i < argc; i++)
		buf_printf(&o->args, "%s%s", i ? " " : "", argv[i]);

	t0 = now();
	pid = fork();
	if (pid < 0) {
		perror("session-fuzz: fork");
		return -1;
	}
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY);
		dup2(nul, 0);
		dup2(ofd, 1);
		dup2(efd, 2);
		execv(argv[0], (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	hard = t0 + PLUGIN_TIMEOUT + 4.0;
	/* serve connections until the plugin is gone (or far too late) */
	for (;;) {
		struct pollfd pfd = { lfd, POLLIN, 0 };
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		if (now() > hard) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			buf_printf(&o->why, "time: still running after %.0f s, killed; ",
				   hard - t0);
			break;
		}
		if (poll(&pfd, 1, 20) > 0) {
			struct conn *c = calloc(1, sizeof *c);
			if (c == NULL)
				return -1;
			c->fd = accept(lfd, NULL, NULL);
			c->deadline = hard - 0.5;
			if (c->fd >= 0) {
				serve(c, p);
				if (c->tls != NULL) {
					gnutls_deinit(c->tls);
				}
				close(c->fd);
			}
			buf_add(&o->log, c->log.p ? c->log.p : "", c->log.len);
			free(c->log.p);
			free(c);
		}
	}
	o->secs = now() - t0;
	o->rc = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
	close(lfd);
	o->out = malloc(OUT_MAX);
	if (o->out == NULL)
		return -1;
	o->outlen = slurp(ofd, o->out, OUT_MAX);
	slurp(efd, o->err, sizeof o->err);
	close(ofd);
	close(efd);
	return 0;
}

/* ---- the run ---- */
static char *xfail[XFAIL_MAX];
static size_t n_xfail;

static void load_xfail(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[256];
	if (f == NULL) {
		fprintf(stderr, "session-fuzz: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	while (fgets(line, sizeof line, f) != NULL && n_xfail < XFAIL_MAX) {
		char *s = line + strspn(line, " \t");
		s[strcspn(s, " \t\r\n#")] = '\0';
		if (*s != '\0')
			xfail[n_xfail++] = strdup(s);
	}
	fclose(f);
}

static int is_xfail(const char *cls)
{
	for (size_t i = 0; i < n_xfail; i++)
		if (fnmatch(xfail[i], cls, 0) == 0)
			return 1;
	return 0;
}

/* The self-signed certificate of the TLS peer. */
static int make_creds(void)
{
	gnutls_x509_privkey_t key;
	gnutls_x509_crt_t crt;
	time_t t = time(NULL);
	unsigned char serial[1] = { 1 };

	if (gnutls_global_init() < 0 || gnutls_certificate_allocate_credentials(&creds) < 0 ||
	    gnutls_x509_privkey_init(&key) < 0 || gnutls_x509_crt_init(&crt) < 0)
		return -1;
	if (gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
					 GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0 ||
	    gnutls_x509_crt_set_version(crt, 3) < 0 || gnutls_x509_crt_set_serial(crt, serial, 1) < 0 ||
	    gnutls_x509_crt_set_activation_time(crt, t - 3600) < 0 ||
	    gnutls_x509_crt_set_expiration_time(crt, t + 86400) < 0 ||
	    gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, "mx.fuzz.test", 12) < 0 ||
	    gnutls_x509_crt_set_key(crt, key) < 0 ||
	    gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0) < 0 ||
	    gnutls_certificate_set_x509_key(creds, &crt, 1, key) < 0)
		return -1;
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_privkey_deinit(key);
	return 0;
}

static void save_failure(const char *dir, const struct plan *p, const char *cls,
			 const struct outcome *o)
{
	char path[4096];
	FILE *f;
	if (dir == NULL)
		return;
	mkdir(dir, 0755);
	snprintf(path, sizeof path, "%s/seed-%llu.txt", dir, (unsigned long long)p->seed);
	f = fopen(path, "w");
	if (f == NULL)
		return;
	fprintf(f, "seed %llu class %s\nwhy: %s\nrun: %s\nexit %d after %.2f s\n--- peer\n%s--- stdout\n",
		(unsigned long long)p->seed, cls, o->why.p ? o->why.p : "", o->args.p, o->rc,
		o->secs, o->log.p ? o->log.p : "");
	fwrite(o->out, 1, o->outlen, f);
	fprintf(f, "--- stderr\n%s", o->err);
	fclose(f);
}

/* One seed, in a process of its own: 0 passed, 1 failed, 2 xfail, 3 error. */
static int one_seed(uint64_t seed, int tls_ok, const char *save, int quiet)
{
	struct plan p;
	struct outcome o;
	char cls[64];
	struct buf line = { 0 };
	int res;

	memset(&o, 0, sizeof o);
	plan_draw(&p, seed, tls_ok);
	snprintf(cls, sizeof cls, "%s@%s", fault_name[p.fault], step_name[p.at]);
	if (run_session(&p, &o) != 0)
		return 3;
	check(&p, o.out, o.outlen, o.err, o.rc, o.secs, &o.why);
	if (o.why.len == 0) {
		if (!quiet)
			printf("ok seed %llu %s\n", (unsigned long long)seed, cls);
		return 0;
	}
	res = is_xfail(cls) ? 2 : 1;
	buf_printf(&line, "%s seed %llu %s: %s(%s%s%s%s)\n", res == 2 ? "xfail" : "FAIL",
		   (unsigned long long)seed, cls, o.why.p, p.starttls ? "-S " : "",
		   p.probe ? "--probe " : "", p.tls ? "tls" : "no-tls",
		   p.split_writes ? " split" : "");
	if (write(1, line.p, line.len) < 0)
		res = 3;
	save_failure(save, &p, cls, &o);
	return res;
}

static void usage(void)
{
	fprintf(stderr, "usage: session-fuzz [-n SESSIONS] [-s FIRST_SEED] [-j JOBS] [-x XFAIL_FILE] "
			"[-o SAVE_DIR] [--no-tls] [-q]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	unsigned long long first = 1, count = 200;
	unsigned jobs = 4, running = 0;
	unsigned long long tally[4] = { 0 };
	const char *save = NULL;
	int tls_ok = 1, quiet = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--no-tls") == 0) {
			tls_ok = 0;
		} else if (strcmp(a, "-q") == 0) {
			quiet = 1;
		} else if (strcmp(a, "-n") == 0 && v != NULL) {
			count = strtoull(v, NULL, 10), i++;
		} else if (strcmp(a, "-s") == 0 && v != NULL) {
			first = strtoull(v, NULL, 10), i++;
		} else if (strcmp(a, "-j") == 0 && v != NULL) {
			jobs = (unsigned)strtoul(v, NULL, 10), i++;
		} else if (strcmp(a, "-x") == 0 && v != NULL) {
			load_xfail(v), i++;
		} else if (strcmp(a, "-o") == 0 && v != NULL) {
			save = v, i++;
		} else {
			usage();
		}
	}
	if (jobs < 1 || jobs > 64 || access(plugin_path(), X_OK) != 0) {
		fprintf(stderr, "session-fuzz: no plugin at %s (PLUGIN) or bad -j\n", plugin_path());
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (tls_ok && make_creds() != 0) {
		fprintf(stderr, "session-fuzz: no TLS certificate could be made; STARTTLS refused\n");
		tls_ok = 0;
	}
	setvbuf(stdout, NULL, _IONBF, 0);
	for (unsigned long long s = first; s < first + count || running > 0;) {
		int st;
		if (s < first + count && running < jobs) {
			pid_t pid = fork();
			if (pid == 0)
				_exit(one_seed(s, tls_ok, save, quiet));
			if (pid < 0) {
				perror("session-fuzz: fork");
				return 2;
			}
			running++;
			s++;
			continue;
		}
		if (wait(&st) > 0) {
			running--;
			tally[WIFEXITED(st) && WEXITSTATUS(st) <= 3 ? WEXITSTATUS(st) : 3]++;
		}
	}
	printf("session-fuzz: %llu sessions from seed %llu: %llu passed, %llu failed, %llu xfail, %llu errors\n",
	       count, first, tally[0], tally[1], tally[2], tally[3]);
	return tally[1] > 0 || tally[3] > 0 ? 1 : 0;
}

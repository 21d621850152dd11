/*
 * main.c - smtp-inspect-emu: an SMTP inspection firewall emulator for tests
 * and demos. It listens on one address; every connection it accepts is
 * relayed to a real server (--server) or answered by a built-in persona
 * (--persona), with one profile of rewriting (rewrite.c) applied to both
 * directions in between.
 *
 * One process, one poll() loop, non-blocking sockets. Each connection has
 * two bounded buffers (toward the server, toward the client); a side is
 * read only when the buffer it feeds has room for what the engine may make
 * of the read (EMU_FEED_SLACK), and the client only for as many octets as
 * the engine has room for awaited replies (emu_conn_room), so a peer that
 * stops reading stops the other, however far it pipelines. At most
 * CONNS_MAX connections at once; more wait in the backlog.
 *
 * Not done: TLS (the personas refuse STARTTLS; in proxy mode TLS passes
 * opaque), host names (addresses are numeric), idle timeouts (use
 * --max-seconds in tests).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "persona.h"
#include "rewrite.h"

#define PROG "smtp-inspect-emu"

#define CONNS_MAX 128U              /* connections served at once */
#define BUF_DATA 65536U             /* octets queued toward one side */
#define BUF_CAP (BUF_DATA + EMU_FEED_SLACK)
#define READ_MAX 16384U             /* octets taken by one read */
#define READ_MIN 512U               /* do not read for less room than this */
#define PERSONA_OUT (4U * PERSONA_REPLY_MAX) /* replies made per persona step */
#define MAX_SECONDS_MAX 604800UL    /* --max-seconds: one week */
#define LISTEN_BACKLOG 64
#define ADDR_TEXT_MAX (INET6_ADDRSTRLEN + 8U) /* "[addr]:port" */

/* --- configuration ------------------------------------------------------ */

/* Filled once from the options, then read only. */
struct config {
	struct sockaddr_storage listen;
	socklen_t listen_len;
	struct sockaddr_storage server;
	socklen_t server_len;
	int have_server;                    /* proxy mode */
	const char *persona;                /* standalone mode */
	const struct emu_profile *profile;
	const char *port_file;              /* NULL: none */
	unsigned long max_seconds;          /* 0: run until a signal */
	int quiet;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: " PROG " --listen ADDR:PORT (--server ADDR:PORT | --persona NAME)\n"
		"         [--profile NAME] [--port-file FILE] [--max-seconds N] [--quiet]\n"
		"\n"
		"Emulates an SMTP inspection firewall (Cisco PIX \"fixup smtp\", ASA/FTD\n"
		"\"inspect esmtp\", FWSM, stripping proxies) between SMTP clients and a\n"
		"server, for testing check_smtp_fixup. \"README N\" is section N of\n"
		"tools/emu/README: what each box does on the wire, and the sources.\n"
		"\n"
		"  --listen ADDR:PORT   where to accept clients: 127.0.0.1:2525, [::1]:2525;\n"
		"                       PORT 0 takes any free port\n"
		"  --server ADDR:PORT   proxy mode: relay each connection to this server\n"
		"  --persona NAME       standalone mode: a built-in server answers\n"
		"  --profile NAME       the box to emulate (default: none)\n"
		"  --port-file FILE     once listening, write the port and a newline to\n"
		"                       FILE (a temporary file renamed into place)\n"
		"  --max-seconds N      exit by itself after N seconds (1..%lu); default:\n"
		"                       run until SIGTERM or SIGINT\n"
		"  --quiet              no log lines on stderr (errors still go there)\n"
		"  --help               this text\n"
		"\n"
		"Addresses are numeric. Exit status: 0 on a signal or --max-seconds,\n"
		"1 on a run-time error, 2 on bad options.\n"
		"\n"
		"Profiles (the rewriting applies to both directions of every connection):\n",
		MAX_SECONDS_MAX);
	for (const struct emu_profile *p = emu_profiles; p->name != NULL; p++) {
		const char *h = p->help;

		fprintf(f, "  %s\n", p->name);
		while (*h != '\0') {
			size_t n = strcspn(h, "\n");

			fprintf(f, "      %.*s\n", (int)n, h);
			h += n;
			if (*h == '\n')
				h++;
		}
	}
	fprintf(f,
		"  In every profile: message data (after 354 until the lone \".\",\n"
		"  RFC 5321 4.1.1.4) and BDAT chunks are data, not commands; after a\n"
		"  220 reply to a STARTTLS that reached the server, both directions pass\n"
		"  untouched (TLS). Lines are rewritten whole; a command, reply or\n"
		"  message header line over %u octets closes the connection. A dropped\n"
		"  connection is reset on both sides (SO_LINGER 0: RST, no FIN) after\n"
		"  what the box passed before the offending line; that line never\n"
		"  reaches the server. A read is a packet: only pix6-eod cares.\n"
		"\n"
		"Personas (standalone mode; no TLS: STARTTLS gets \"454 4.7.0 TLS not\n"
		"available\"). Each takes MAIL FROM:<> and any RCPT TO (postmaster@...\n"
		"included), answers DATA with 354, then reads the message up to the\n"
		"lone \".\" or the client's close and throws it away: nothing is kept\n"
		"or delivered. A client that closes in DATA gets a plain close (FIN):\n",
		EMU_LINE_MAX);
	for (size_t i = 0; persona_name(i) != NULL; i++)
		fprintf(f, "  %-10s %s\n", persona_name(i), persona_summary(i));
	fprintf(f,
		"\n"
		"Example: " PROG " --listen 127.0.0.1:0 --persona postfix --profile asa \\\n"
		"             --port-file /tmp/emu.port --max-seconds 60\n");
}

/* A bad command line: one line on stderr, exit 2. */
__attribute__((format(printf, 1, 2), noreturn))
static void bad_usage(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (try --help)\n", stderr);
	exit(2);
}

/* A decimal number in [min, max], nothing else. 0 and *out, or -1. */
static int parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end = NULL;
	unsigned long v;

	if (s[0] < '0' || s[0] > '9') /* strtoul would take blanks and signs */
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* "A.B.C.D:PORT" or "[V6]:PORT" to a socket address. 0, or -1 with *why. */
static int parse_addr(const char *s, unsigned long port_min, struct sockaddr_storage *ss,
		      socklen_t *len, const char **why)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *h, *port, *colon;
	size_t hlen;
	unsigned long p;
	int v6 = s[0] == '[';

	if (v6) {
		const char *close = strchr(s, ']');

		if (close == NULL || close[1] != ':') {
			*why = "expected [IPV6]:PORT";
			return -1;
		}
		h = s + 1;
		hlen = (size_t)(close - h);
		port = close + 2;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL) {
			*why = "expected ADDR:PORT";
			return -1;
		}
		h = s;
		hlen = (size_t)(colon - s);
		port = colon + 1;
		if (memchr(h, ':', hlen) != NULL) {
			*why = "an IPv6 address goes in brackets: [::1]:PORT";
			return -1;
		}
	}
	if (hlen == 0 || hlen >= sizeof host) {
		*why = "bad address";
		return -1;
	}
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (parse_ulong(port, port_min, 65535, &p) < 0) {
		*why = port_min == 0 ? "PORT must be 0..65535" : "PORT must be 1..65535";
		return -1;
	}
	memset(ss, 0, sizeof *ss);
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)p);
		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1) {
			*why = "not a numeric IPv6 address";
			return -1;
		}
		*len = sizeof *a;
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)p);
		if (inet_pton(AF_INET, host, &a->sin_addr) != 1) {
			*why = "not a numeric IPv4 address";
			return -1;
		}
		*len = sizeof *a;
	}
	return 0;
}

/* If arg is --name or --name=VALUE, return its value (the next argument
 * for the first form) and advance *i; NULL if arg is another option. */
static const char *option_value(int argc, char **argv, int *i, const char *name)
{
	const char *arg = argv[*i];
	size_t n = strlen(name);

	if (arg == NULL || strncmp(arg, name, n) != 0)
		return NULL;
	if (arg[n] == '=')
		return arg + n + 1;
	if (arg[n] != '\0')
		return NULL;
	if (*i + 1 >= argc)
		bad_usage("%s needs a value", name);
	return argv[++*i];
}

/* Record that an option was given; a second time is an error. */
static void once(int *seen, const char *name)
{
	if (*seen)
		bad_usage("%s given twice", name);
	*seen = 1;
}

static void parse_options(int argc, char **argv, struct config *cfg)
{
	int seen_listen = 0, seen_server = 0, seen_persona = 0, seen_profile = 0;
	int seen_port = 0, seen_max = 0, seen_quiet = 0;
	const char *v, *why = NULL;

	memset(cfg, 0, sizeof *cfg);
	cfg->profile = emu_profile_find("none");
	for (int i = 1; i < argc && argv[i] != NULL; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			exit(0);
		} else if ((v = option_value(argc, argv, &i, "--listen")) != NULL) {
			once(&seen_listen, "--listen");
			if (parse_addr(v, 0, &cfg->listen, &cfg->listen_len, &why) < 0)
				bad_usage("--listen %s: %s", v, why);
		} else if ((v = option_value(argc, argv, &i, "--server")) != NULL) {
			once(&seen_server, "--server");
			if (parse_addr(v, 1, &cfg->server, &cfg->server_len, &why) < 0)
				bad_usage("--server %s: %s", v, why);
			cfg->have_server = 1;
		} else if ((v = option_value(argc, argv, &i, "--persona")) != NULL) {
			struct persona *p = persona_new(v, NULL);

			once(&seen_persona, "--persona");
			if (p == NULL)
				bad_usage("--persona %s: unknown persona (postfix, exchange, sendmail)", v);
			persona_free(p);
			cfg->persona = v;
		} else if ((v = option_value(argc, argv, &i, "--profile")) != NULL) {
			once(&seen_profile, "--profile");
			cfg->profile = emu_profile_find(v);
			if (cfg->profile == NULL)
				bad_usage("--profile %s: unknown profile", v);
		} else if ((v = option_value(argc, argv, &i, "--port-file")) != NULL) {
			once(&seen_port, "--port-file");
			if (v[0] == '\0')
				bad_usage("--port-file: empty file name");
			cfg->port_file = v;
		} else if ((v = option_value(argc, argv, &i, "--max-seconds")) != NULL) {
			once(&seen_max, "--max-seconds");
			if (parse_ulong(v, 1, MAX_SECONDS_MAX, &cfg->max_seconds) < 0)
				bad_usage("--max-seconds %s: expected a number of seconds, 1..%lu",
					  v, MAX_SECONDS_MAX);
		} else if (argv[i] != NULL && strcmp(argv[i], "--quiet") == 0) {
			once(&seen_quiet, "--quiet");
			cfg->quiet = 1;
		} else {
			bad_usage("unknown argument '%s'", argv[i]);
		}
	}
	if (!seen_listen)
		bad_usage("--listen ADDR:PORT is required");
	if (seen_server == seen_persona)
		bad_usage("give exactly one of --server ADDR:PORT and --persona NAME");
}

/* --- logging ------------------------------------------------------------ */

/* One line on stderr unless --quiet. */
__attribute__((format(printf, 2, 3)))
static void note(const struct config *cfg, const char *fmt, ...)
{
	va_list ap;

	if (cfg->quiet)
		return;
	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* "a.b.c.d:port" or "[v6]:port" into out. */
static void addr_text(const struct sockaddr *sa, char *out, size_t outlen)
{
	char host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(const void *)sa;

		if (inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host) == NULL)
			snprintf(host, sizeof host, "?");
		snprintf(out, outlen, "[%s]:%u", host, (unsigned)ntohs(a->sin6_port));
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)sa;

		if (inet_ntop(AF_INET, &a->sin_addr, host, sizeof host) == NULL)
			snprintf(host, sizeof host, "?");
		snprintf(out, outlen, "%s:%u", host, (unsigned)ntohs(a->sin_port));
	} else {
		snprintf(out, outlen, "?");
	}
}

/* The numeric host of a socket address, for the personas' "[addr]". */
static void host_text(const struct sockaddr *sa, char *out, size_t outlen)
{
	const void *a = NULL;

	if (sa->sa_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	else if (sa->sa_family == AF_INET)
		a = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	if (a == NULL || inet_ntop(sa->sa_family, a, out, (socklen_t)outlen) == NULL)
		snprintf(out, outlen, "unknown");
}

/* --- signals ------------------------------------------------------------ */

static volatile sig_atomic_t stop_signal; /* the signal that asks us to stop */
static int signal_pipe[2] = {-1, -1};     /* wakes poll() from the handler */

static void on_signal(int sig)
{
	int saved = errno;
	char b = 1;

	stop_signal = sig;
	if (write(signal_pipe[1], &b, 1) < 0) {
		/* the pipe is full: poll() will wake anyway */
	}
	errno = saved;
}

static int set_flags(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	fl = fcntl(fd, F_GETFD);
	if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0)
		return -1;
	return 0;
}

static int setup_signals(void)
{
	struct sigaction sa;

	if (pipe(signal_pipe) < 0 || set_flags(signal_pipe[0]) < 0 || set_flags(signal_pipe[1]) < 0)
		return -1;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0)
		return -1;
	sa.sa_handler = SIG_IGN; /* a peer that closes must not kill us */
	return sigaction(SIGPIPE, &sa, NULL);
}

/* --- the listening socket and the port file ---------------------------- */

static int open_listener(const struct config *cfg, unsigned *port)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	int one = 1;
	int fd = socket(cfg->listen.ss_family, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	if (set_flags(fd) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(fd, (const struct sockaddr *)&cfg->listen, cfg->listen_len) < 0 ||
	    listen(fd, LISTEN_BACKLOG) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	*port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					       : ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

/* Write "PORT\n" to path atomically: a temporary file, then rename(). */
static int write_port_file(const char *path, unsigned port)
{
	char tmp[PATH_MAX];
	char line[16];
	int n, fd, rc = -1;

	n = snprintf(tmp, sizeof tmp, "%s.XXXXXX", path);
	if (n < 0 || (size_t)n >= sizeof tmp) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = mkstemp(tmp);
	if (fd < 0)
		return -1;
	n = snprintf(line, sizeof line, "%u\n", port);
	if (fchmod(fd, 0644) == 0 && write(fd, line, (size_t)n) == n) {
		int closed = close(fd);
		fd = -1; /* closed either way: never close it twice */
		if (closed == 0)
			rc = rename(tmp, path);
	}
	if (rc < 0) {
		int saved = errno;

		if (fd >= 0)
			close(fd);
		unlink(tmp);
		errno = saved;
	}
	return rc;
}

/* --- connections -------------------------------------------------------- */

/* Octets waiting for one side: p[head..head+len). */
struct buf {
	char *p;
	size_t head;
	size_t len;
};

struct conn {
	unsigned long id;
	int cfd;                 /* client socket */
	int sfd;                 /* server socket; -1 with a persona */
	int connecting;          /* connect() to the server in progress */
	struct persona *persona; /* standalone mode */
	struct emu_conn *rw;
	struct buf up;           /* rewritten client octets for the server */
	struct buf down;         /* rewritten server octets for the client */
	int c_eof;               /* the client finished sending */
	int s_eof;               /* the server finished sending (or the persona) */
	int s_shut;              /* we told the server we finished sending */
	int pc, ps;              /* their slots in the pollfd array, -1: none */
	char peer[ADDR_TEXT_MAX];
};

/* What happens to a connection after a step. */
enum step_result {
	STEP_GO_ON = 0, /* keep it */
	STEP_CLOSE,     /* over: close both sides */
	STEP_RESET      /* abort: reset both sides */
};

static size_t buf_room(const struct buf *b)
{
	return BUF_CAP - b->len;
}

/* Room at the end of b for n octets (moving its content to the front). */
static char *buf_tail(struct buf *b, size_t n)
{
	if (n > buf_room(b))
		return NULL;
	if (b->head + b->len + n > BUF_CAP) {
		memmove(b->p, b->p + b->head, b->len);
		b->head = 0;
	}
	return b->p + b->head + b->len;
}

static void buf_used(struct buf *b, size_t n)
{
	b->head += n;
	b->len -= n;
	if (b->len == 0)
		b->head = 0;
}

/* Close fd; with reset, as a firewall that drops does: RST, not FIN. */
static void close_fd(int fd, int reset)
{
	if (fd < 0)
		return;
	if (reset) {
		struct linger lg = {1, 0};

		(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	}
	close(fd);
}

static void conn_free(struct conn *c, int reset)
{
	if (c == NULL)
		return;
	close_fd(c->cfd, reset);
	close_fd(c->sfd, reset);
	persona_free(c->persona);
	emu_conn_free(c->rw);
	free(c->up.p);
	free(c->down.p);
	free(c);
}

/* Run the engine on octets from one side; the output goes to dst.
 * STEP_RESET if the box drops the connection. */
static enum step_result rewrite(const struct config *cfg, struct conn *c, enum emu_side from,
				const char *in, size_t len, struct buf *dst, int eof)
{
	char *out = buf_tail(dst, len + EMU_FEED_SLACK);
	size_t outlen = 0;
	enum emu_status st;

	if (out == NULL) { /* the callers keep this room: a bug */
		note(cfg, "conn %lu: no room for rewriting, reset", c->id);
		return STEP_RESET;
	}
	st = eof ? emu_conn_eof(c->rw, from, out, buf_room(dst), &outlen)
		 : emu_conn_feed(c->rw, from, in, len, out, buf_room(dst), &outlen);
	dst->len += outlen;
	switch (st) {
	case EMU_PASS:
		return STEP_GO_ON;
	case EMU_DROP:
		note(cfg, "conn %lu: dropped by the %s profile: %s", c->id, cfg->profile->name,
		     emu_why_text(emu_conn_why(c->rw)));
		return STEP_RESET;
	case EMU_ERROR:
	default:
		note(cfg, "conn %lu: rewriting engine refused its input, reset", c->id);
		return STEP_RESET;
	}
}

/* Greeting of a persona, through the engine. */
static enum step_result persona_greet(const struct config *cfg, struct conn *c)
{
	char out[PERSONA_OUT];
	size_t n = persona_start(c->persona, out, sizeof out);

	return rewrite(cfg, c, EMU_FROM_SERVER, out, n, &c->down, 0);
}

/* Standalone mode: the persona takes what the client sent and answers,
 * while the client's buffer has room for the answers. */
static enum step_result persona_pump(const struct config *cfg, struct conn *c)
{
	char out[PERSONA_OUT];

	while (c->up.len > 0 && !c->s_eof && buf_room(&c->down) >= sizeof out + EMU_FEED_SLACK) {
		size_t outlen = 0;
		size_t k = persona_feed(c->persona, c->up.p + c->up.head, c->up.len,
					out, sizeof out, &outlen);
		enum step_result r;

		buf_used(&c->up, k);
		if (outlen > 0) {
			r = rewrite(cfg, c, EMU_FROM_SERVER, out, outlen, &c->down, 0);
			if (r != STEP_GO_ON)
				return r;
		}
		if (persona_done(c->persona))
			c->s_eof = 1; /* QUIT answered: the server closes */
		if (k == 0 && outlen == 0)
			break;
	}
	/* the client left and everything it sent is answered: so does the server */
	if (c->c_eof && c->up.len == 0)
		c->s_eof = 1;
	if (c->s_eof)
		buf_used(&c->up, c->up.len);
	return STEP_GO_ON;
}

/* Read the client only with room for the rewritten octets and for the
 * replies its commands will await (emu_conn_room). */
static int want_read_client(const struct conn *c)
{
	return !c->c_eof && buf_room(&c->up) >= EMU_FEED_SLACK + READ_MIN &&
	       emu_conn_room(c->rw) > 0;
}

static int want_read_server(const struct conn *c)
{
	return c->sfd >= 0 && !c->connecting && !c->s_eof &&
	       buf_room(&c->down) >= EMU_FEED_SLACK + READ_MIN;
}

/* Read what one side sent and rewrite it toward the other. */
static enum step_result read_side(const struct config *cfg, struct conn *c, enum emu_side from)
{
	char in[READ_MAX];
	int fd = from == EMU_FROM_CLIENT ? c->cfd : c->sfd;
	struct buf *dst = from == EMU_FROM_CLIENT ? &c->up : &c->down;
	size_t want = buf_room(dst) - EMU_FEED_SLACK;
	ssize_t n;

	if (want > sizeof in)
		want = sizeof in;
	if (from == EMU_FROM_CLIENT && want > emu_conn_room(c->rw))
		want = emu_conn_room(c->rw);
	n = recv(fd, in, want, 0);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return STEP_GO_ON;
		note(cfg, "conn %lu: %s: %s", c->id, from == EMU_FROM_CLIENT ? "client" : "server",
		     strerror(errno));
		return STEP_RESET; /* pass a reset on as a reset */
	}
	if (n == 0) {
		if (from == EMU_FROM_CLIENT)
			c->c_eof = 1;
		else
			c->s_eof = 1;
		return rewrite(cfg, c, from, NULL, 0, dst, 1);
	}
	return rewrite(cfg, c, from, in, (size_t)n, dst, 0);
}

/* Send what waits in b to fd. */
static enum step_result write_side(const struct config *cfg, struct conn *c, int fd, struct buf *b)
{
	while (b->len > 0) {
		ssize_t n = send(fd, b->p + b->head, b->len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return STEP_GO_ON;
			if (errno == EINTR)
				continue;
			note(cfg, "conn %lu: %s: %s", c->id, fd == c->cfd ? "client" : "server",
			     strerror(errno));
			return STEP_RESET;
		}
		buf_used(b, (size_t)n);
	}
	return STEP_GO_ON;
}

/* The connection to the server finished (or failed). */
static enum step_result connect_done(const struct config *cfg, struct conn *c)
{
	int err = 0;
	socklen_t len = sizeof err;

	if (getsockopt(c->sfd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err == EINPROGRESS || err == EALREADY)
		return STEP_GO_ON;
	if (err != 0) {
		note(cfg, "conn %lu: cannot connect to the server: %s", c->id, strerror(err));
		return STEP_RESET;
	}
	c->connecting = 0;
	return STEP_GO_ON;
}

/* One turn of a connection after poll(): revents of its two sockets. */
static enum step_result conn_step(const struct config *cfg, struct conn *c, short rc, short rs)
{
	const short any = POLLIN | POLLOUT | POLLHUP | POLLERR;
	enum step_result r = STEP_GO_ON;

	if (c->connecting && (rs & any))
		r = connect_done(cfg, c);
	if (r == STEP_GO_ON && (rc & (POLLIN | POLLHUP | POLLERR)) && want_read_client(c))
		r = read_side(cfg, c, EMU_FROM_CLIENT);
	if (r == STEP_GO_ON && (rs & (POLLIN | POLLHUP | POLLERR)) && want_read_server(c))
		r = read_side(cfg, c, EMU_FROM_SERVER);
	/* Answer (persona) and send. A persona stops answering when the client's
	 * buffer is full; if sending then empties that buffer, no socket event
	 * would wake us for the input it still holds: answer again right away. */
	while (r == STEP_GO_ON) {
		size_t pending = c->up.len;

		if (c->persona != NULL)
			r = persona_pump(cfg, c);
		if (r == STEP_GO_ON && c->sfd >= 0 && !c->connecting)
			r = write_side(cfg, c, c->sfd, &c->up);
		if (r == STEP_GO_ON)
			r = write_side(cfg, c, c->cfd, &c->down);
		if (c->persona == NULL || c->up.len == 0 || c->up.len == pending ||
		    c->down.len > 0 || c->s_eof)
			break; /* nothing left, no progress, or POLLOUT will wake us */
	}
	if (r != STEP_GO_ON)
		return r;
	/* the client is done and all of it reached the server: say so (FIN) */
	if (c->sfd >= 0 && c->c_eof && c->up.len == 0 && !c->connecting && !c->s_shut) {
		(void)shutdown(c->sfd, SHUT_WR);
		c->s_shut = 1;
	}
	/* the server is done and all of it reached the client: close */
	if (c->s_eof && c->down.len == 0)
		return STEP_CLOSE;
	return STEP_GO_ON;
}

/* A new connection from the client on fd. NULL (fd closed) on failure. */
static struct conn *conn_open(const struct config *cfg, int fd, const struct sockaddr *peer,
			      unsigned long id)
{
	char host[INET6_ADDRSTRLEN];
	struct conn *c = calloc(1, sizeof *c);

	if (c == NULL) {
		close(fd);
		return NULL;
	}
	c->id = id;
	c->cfd = fd;
	c->sfd = -1;
	c->pc = -1;
	c->ps = -1;
	addr_text(peer, c->peer, sizeof c->peer);
	c->up.p = malloc(BUF_CAP);
	c->down.p = malloc(BUF_CAP);
	c->rw = emu_conn_new(cfg->profile);
	if (c->up.p == NULL || c->down.p == NULL || c->rw == NULL || set_flags(fd) < 0)
		goto fail;
	if (cfg->persona != NULL) {
		host_text(peer, host, sizeof host);
		c->persona = persona_new(cfg->persona, host);
		if (c->persona == NULL || persona_greet(cfg, c) != STEP_GO_ON)
			goto fail;
		return c;
	}
	c->sfd = socket(cfg->server.ss_family, SOCK_STREAM, 0);
	if (c->sfd < 0 || set_flags(c->sfd) < 0)
		goto fail;
	if (connect(c->sfd, (const struct sockaddr *)&cfg->server, cfg->server_len) < 0) {
		if (errno != EINPROGRESS) {
			note(cfg, "conn %lu: cannot connect to the server: %s", id, strerror(errno));
			goto fail;
		}
		c->connecting = 1;
	}
	return c;
fail:
	conn_free(c, 1);
	return NULL;
}

/* The box dropped the connection: what it passed before the offending
 * line goes out if the sockets take it now (no waiting), then both sides
 * are reset, as a firewall that drops does. */
static void flush_before_reset(struct conn *c)
{
	if (emu_conn_why(c->rw) == EMU_WHY_NONE)
		return; /* a reset for another reason: nothing to pass */
	if (c->sfd >= 0 && !c->connecting && c->up.len > 0)
		(void)send(c->sfd, c->up.p + c->up.head, c->up.len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (c->down.len > 0)
		(void)send(c->cfd, c->down.p + c->down.head, c->down.len,
			   MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* --- the loop ----------------------------------------------------------- */

struct server {
	const struct config *cfg;
	int lfd;
	struct conn *conns[CONNS_MAX];
	size_t nconns;
	unsigned long next_id;
	struct pollfd pfd[2U + 2U * CONNS_MAX];
};

static void accept_all(struct server *s)
{
	while (s->nconns < CONNS_MAX) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		int fd = accept(s->lfd, (struct sockaddr *)&ss, &sl);
		struct conn *c;

		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				note(s->cfg, "accept: %s", strerror(errno));
			return;
		}
		c = conn_open(s->cfg, fd, (const struct sockaddr *)&ss, ++s->next_id);
		if (c == NULL) {
			note(s->cfg, "conn %lu: could not be set up", s->next_id);
			continue;
		}
		note(s->cfg, "conn %lu: from %s", c->id, c->peer);
		s->conns[s->nconns++] = c;
	}
}

/* Fill the pollfd array; returns its length. */
static nfds_t build_pollfds(struct server *s)
{
	nfds_t n = 0;

	s->pfd[n].fd = s->nconns < CONNS_MAX ? s->lfd : -1;
	s->pfd[n++].events = POLLIN;
	s->pfd[n].fd = signal_pipe[0];
	s->pfd[n++].events = POLLIN;
	for (size_t i = 0; i < s->nconns; i++) {
		struct conn *c = s->conns[i];
		short ev = 0;

		if (want_read_client(c))
			ev |= POLLIN;
		if (c->down.len > 0)
			ev |= POLLOUT;
		c->pc = (int)n;
		s->pfd[n].fd = ev != 0 ? c->cfd : -1; /* nothing wanted: not polled */
		s->pfd[n++].events = ev;
		c->ps = -1;
		if (c->sfd >= 0) {
			ev = 0;
			if (c->connecting || c->up.len > 0)
				ev |= POLLOUT;
			if (want_read_server(c))
				ev |= POLLIN;
			c->ps = (int)n;
			s->pfd[n].fd = ev != 0 ? c->sfd : -1;
			s->pfd[n++].events = ev;
		}
	}
	return n;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Serve until a signal or the deadline (0: none). 0, or -1 on a fatal error. */
static int serve(struct server *s, long deadline)
{
	while (!stop_signal) {
		nfds_t n = build_pollfds(s);
		int timeout = -1;
		int rc;

		if (deadline > 0) {
			long left = deadline - now_ms();

			if (left <= 0)
				return 0;
			timeout = left > INT_MAX ? INT_MAX : (int)left;
		}
		rc = poll(s->pfd, n, timeout);
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, PROG ": poll: %s\n", strerror(errno));
			return -1;
		}
		if (s->pfd[0].revents & POLLIN)
			accept_all(s);
		for (size_t i = 0; i < s->nconns;) {
			struct conn *c = s->conns[i];
			short rc_ev = c->pc >= 0 ? s->pfd[c->pc].revents : 0;
			short rs_ev = c->ps >= 0 ? s->pfd[c->ps].revents : 0;
			enum step_result r;

			if (c->pc < 0) /* accepted in this turn: not polled yet */
				rc_ev = 0;
			r = conn_step(s->cfg, c, rc_ev, rs_ev);
			if (r == STEP_GO_ON) {
				i++;
				continue;
			}
			note(s->cfg, "conn %lu: %s", c->id, r == STEP_RESET ? "reset" : "closed");
			if (r == STEP_RESET)
				flush_before_reset(c);
			conn_free(c, r == STEP_RESET);
			s->conns[i] = s->conns[--s->nconns];
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct config cfg;
	struct server *s;
	unsigned port = 0;
	char where[ADDR_TEXT_MAX], target[ADDR_TEXT_MAX];
	long deadline = 0;
	int rc;

	parse_options(argc, argv, &cfg);
	if (cfg.max_seconds > 0)
		deadline = now_ms() + (long)cfg.max_seconds * 1000L;
	if (setup_signals() < 0) {
		fprintf(stderr, PROG ": signals: %s\n", strerror(errno));
		return 1;
	}
	s = calloc(1, sizeof *s);
	if (s == NULL) {
		fprintf(stderr, PROG ": out of memory\n");
		return 1;
	}
	s->cfg = &cfg;
	addr_text((const struct sockaddr *)&cfg.listen, where, sizeof where);
	s->lfd = open_listener(&cfg, &port);
	if (s->lfd < 0) {
		fprintf(stderr, PROG ": cannot listen on %s: %s\n", where, strerror(errno));
		free(s);
		return 1;
	}
	if (cfg.port_file != NULL && write_port_file(cfg.port_file, port) < 0) {
		fprintf(stderr, PROG ": cannot write %s: %s\n", cfg.port_file, strerror(errno));
		close(s->lfd);
		free(s);
		return 1;
	}
	if (cfg.have_server)
		addr_text((const struct sockaddr *)&cfg.server, target, sizeof target);
	note(&cfg, "listening on port %u of %s, profile %s, %s %s", port, where,
	     cfg.profile->name, cfg.have_server ? "server" : "persona",
	     cfg.have_server ? target : cfg.persona);
	rc = serve(s, deadline);
	if (stop_signal)
		note(&cfg, "signal %d: exiting", (int)stop_signal);
	else if (rc == 0)
		note(&cfg, "--max-seconds %lu passed: exiting", cfg.max_seconds);
	for (size_t i = 0; i < s->nconns; i++)
		conn_free(s->conns[i], 0);
	close(s->lfd);
	free(s);
	return rc == 0 ? 0 : 1;
}

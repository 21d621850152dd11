/*
 * floor.c - the protocol floor for bench/run: the least a process can do to
 * hold the conversation a plain check_smtp_fixup holds (connect, read the
 * greeting, EHLO, read its reply, QUIT, read the 221), and nothing else.
 *
 *   floor ADDRESS PORT [EHLO-NAME]
 *
 * ADDRESS is a numeric IPv4 or IPv6 address (no resolver: it would pull in
 * NSS). Blocking socket, one recv() per block of up to 4 KiB, each command
 * in one send(). Only libc. bench/run links it twice: dynamically, the way
 * the plugin is (PIE, -Wl,--as-needed), the reference of its ratios and
 * wall target; and with -static when libc.a is there, which shows what the
 * dynamic loader costs. Prints "FLOOR OK" (exit 0) or "FLOOR CRITICAL -
 * <why>" (exit 2).
 *
 * Not a plugin and not a parser: a reply ends at the first line whose fourth
 * octet is not '-'; grammar, limits beyond the buffer and verdicts are the
 * plugin's business. It exists to measure, not to check.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define FLOOR_BUF 4096    /* one reply, as much as one read takes */
#define FLOOR_TIMEOUT 10  /* seconds per blocking read or write */

/* Received octets not yet consumed: buf[0..len). */
struct inbuf {
	char buf[FLOOR_BUF];
	size_t len;
};

static int say(const char *line)
{
	size_t n = strlen(line);

	return write(STDOUT_FILENO, line, n) == (ssize_t)n ? 0 : -1;
}

static int fail(const char *why)
{
	say("FLOOR CRITICAL - ");
	say(why);
	say("\n");
	return 2;
}

/* Length of the reply at the start of in (through its last LF), or 0 if it
 * has not all arrived. */
static size_t reply_end(const struct inbuf *in)
{
	size_t start = 0;

	for (size_t i = 0; i < in->len; i++) {
		if (in->buf[i] != '\n')
			continue;
		/* line in->buf[start..i]: last line unless "ddd-" */
		if (i - start < 4 || in->buf[start + 3] != '-')
			return i + 1;
		start = i + 1;
	}
	return 0;
}

/* Read one whole reply; 0 and its first digit in *klass, or -1. What follows
 * the reply in the buffer is kept for the next call. */
static int read_reply(int fd, struct inbuf *in, char *klass)
{
	size_t end;

	while ((end = reply_end(in)) == 0) {
		ssize_t n;

		if (in->len == sizeof in->buf)
			return -1; /* a reply larger than we take */
		n = recv(fd, in->buf + in->len, sizeof in->buf - in->len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		in->len += (size_t)n;
	}
	*klass = in->buf[0];
	memmove(in->buf, in->buf + end, in->len - end);
	in->len -= end;
	return 0;
}

/* One command in one write (an inspecting box X-es split commands). */
static int send_all(int fd, const char *cmd, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, cmd, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		cmd += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Port 1..65535 from decimal text; 0 if not one. */
static unsigned parse_port(const char *s)
{
	unsigned long v = 0;

	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return 0;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > 65535)
			return 0;
	}
	return (unsigned)v;
}

int main(int argc, char **argv)
{
	static struct inbuf in;
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct timeval tv = { FLOOR_TIMEOUT, 0 };
	char cmd[300];
	const char *name = argc > 3 ? argv[3] : "localhost";
	size_t nlen = strlen(name);
	unsigned port;
	char klass;
	int fd;

	if (argc < 3 || argc > 4)
		return fail("usage: floor ADDRESS PORT [EHLO-NAME]");
	port = parse_port(argv[2]);
	if (port == 0 || nlen > sizeof cmd - 8)
		return fail("bad port or name");
	memset(&ss, 0, sizeof ss);
	if (inet_pton(AF_INET, argv[1], &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		((struct sockaddr_in *)&ss)->sin_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons((unsigned short)port);
		sslen = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, argv[1], &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((unsigned short)port);
		sslen = sizeof(struct sockaddr_in6);
	} else {
		return fail("ADDRESS must be a numeric address");
	}

	fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (fd < 0)
		return fail("socket");
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&ss, sslen) != 0)
		return fail("connect");

	if (read_reply(fd, &in, &klass) != 0 || klass != '2')
		return fail("no 2xx greeting");
	memcpy(cmd, "EHLO ", 5);
	memcpy(cmd + 5, name, nlen);
	memcpy(cmd + 5 + nlen, "\r\n", 2);
	if (send_all(fd, cmd, nlen + 7) != 0 || read_reply(fd, &in, &klass) != 0 || klass != '2')
		return fail("no 2xx reply to EHLO");
	if (send_all(fd, "QUIT\r\n", 6) != 0 || read_reply(fd, &in, &klass) != 0)
		return fail("no reply to QUIT");
	close(fd);
	return say("FLOOR OK\n") == 0 ? 0 : 2;
}

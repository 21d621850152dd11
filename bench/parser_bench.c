/*
 * parser_bench.c - throughput of libsmtpfixup's streaming reply parser
 * (lib/sf_reply.c), for bench/run (issue 8).
 *
 *   parser_bench [SECONDS [chunk4096|byte]]
 *
 * Input: EHLO replies as real servers send them (Postfix, Exim, Exchange,
 * Gmail, Sendmail, OpenSMTPD, and one masked by a Cisco ASA), repeated to
 * fill a buffer of BENCH_INPUT octets. Each pass feeds the whole buffer to a
 * fresh parser the way the plugin does: feed, then take and free every
 * complete reply (plugins/session.c consume()). Two ways of feeding:
 *
 *   chunk4096  4 KiB per sf_parser_feed() (a read() of a busy socket)
 *   byte       one octet per sf_parser_feed() (a peer that drips)
 *
 * For each, passes run for about SECONDS (default 0.5) split in five
 * rounds; the best round is reported, since anything else on the machine
 * only ever makes a round slower. A third argument runs one way only (to
 * profile it under callgrind). MB is 10^6 octets. Output, one line per
 * way, for bench/run to read:
 *
 *   parser chunk4096 MBps=812.4 replies=12345 octets=1048576
 *
 * Exit 1 if the parser rejects the input or the reply count is wrong: the
 * figure would then not measure the parser's normal path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sf_reply.h"

#define BENCH_INPUT ((size_t)1 << 20) /* octets of replies per pass: 1 MiB */
#define BENCH_ROUNDS 5

/* EHLO replies, each complete with CRLF line ends. */
static const char *const replies[] = {
	/* Postfix 3.7 (Debian bookworm, tests/servers/postfix.sh) */
	"250-mail.postfix.test\r\n"
	"250-PIPELINING\r\n"
	"250-SIZE 10240000\r\n"
	"250-VRFY\r\n"
	"250-ETRN\r\n"
	"250-STARTTLS\r\n"
	"250-ENHANCEDSTATUSCODES\r\n"
	"250-8BITMIME\r\n"
	"250-DSN\r\n"
	"250-SMTPUTF8\r\n"
	"250 CHUNKING\r\n",
	/* Exim 4.96 */
	"250-mail.exim.test Hello localhost [127.0.0.1]\r\n"
	"250-SIZE 52428800\r\n"
	"250-8BITMIME\r\n"
	"250-PIPELINING\r\n"
	"250-PIPE_CONNECT\r\n"
	"250-CHUNKING\r\n"
	"250-STARTTLS\r\n"
	"250-PRDR\r\n"
	"250 HELP\r\n",
	/* Microsoft Exchange 2019 */
	"250-EX01.corp.example.com Hello [192.0.2.10]\r\n"
	"250-SIZE 37748736\r\n"
	"250-PIPELINING\r\n"
	"250-DSN\r\n"
	"250-ENHANCEDSTATUSCODES\r\n"
	"250-STARTTLS\r\n"
	"250-AUTH NTLM\r\n"
	"250-X-EXPS GSSAPI NTLM\r\n"
	"250-8BITMIME\r\n"
	"250-BINARYMIME\r\n"
	"250-CHUNKING\r\n"
	"250-SMTPUTF8\r\n"
	"250 XRDST\r\n",
	/* Gmail MX */
	"250-mx.google.com at your service, [192.0.2.10]\r\n"
	"250-SIZE 157286400\r\n"
	"250-8BITMIME\r\n"
	"250-STARTTLS\r\n"
	"250-ENHANCEDSTATUSCODES\r\n"
	"250-PIPELINING\r\n"
	"250-CHUNKING\r\n"
	"250 SMTPUTF8\r\n",
	/* Sendmail 8.17 */
	"250-mail.example.org Hello localhost [127.0.0.1], pleased to meet you\r\n"
	"250-ENHANCEDSTATUSCODES\r\n"
	"250-PIPELINING\r\n"
	"250-8BITMIME\r\n"
	"250-SIZE\r\n"
	"250-DSN\r\n"
	"250-ETRN\r\n"
	"250-AUTH DIGEST-MD5 CRAM-MD5\r\n"
	"250-STARTTLS\r\n"
	"250-DELIVERBY\r\n"
	"250 HELP\r\n",
	/* OpenSMTPD 7 */
	"250-mail.example.net Hello localhost [127.0.0.1], pleased to meet you\r\n"
	"250-8BITMIME\r\n"
	"250-ENHANCEDSTATUSCODES\r\n"
	"250-SIZE 36700160\r\n"
	"250-DSN\r\n"
	"250-STARTTLS\r\n"
	"250 HELP\r\n",
	/* Postfix behind a Cisco ASA with "inspect esmtp" */
	"250-mail.example.com\r\n"
	"250-PIPELINING\r\n"
	"250-SIZE 10240000\r\n"
	"250-VRFY\r\n"
	"250-ETRN\r\n"
	"250-XXXXXXXA\r\n"
	"250-ENHANCEDSTATUSCODES\r\n"
	"250-8BITMIME\r\n"
	"250-DSN\r\n"
	"250-XXXXXXXB\r\n"
	"250 CHUNKING\r\n",
};

#define NREPLIES (sizeof replies / sizeof replies[0])

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Fill buf with whole replies, cycling through the list, up to cap octets.
 * Sets *len and returns the number of replies. */
static size_t make_input(char *buf, size_t cap, size_t *len)
{
	size_t n = 0, off = 0;

	for (;;) {
		const char *r = replies[n % NREPLIES];
		size_t rl = strlen(r);

		if (off + rl > cap)
			break;
		memcpy(buf + off, r, rl);
		off += rl;
		n++;
	}
	*len = off;
	return n;
}

/* Take and free every complete reply; -1 on a parse error. */
static long drain(struct sf_parser *p)
{
	struct sf_reply *r;
	enum sf_pstatus st;
	long got = 0;

	while ((st = sf_parser_next(p, &r)) == SF_PARSE_REPLY) {
		got++;
		sf_reply_free(r);
	}
	return st == SF_PARSE_ERROR ? -1 : got;
}

/* One pass over buf[0..len) in feeds of step octets; replies parsed, or -1. */
static long pass(const char *buf, size_t len, size_t step)
{
	struct sf_parser *p = sf_parser_new(NULL);
	long total = 0;

	if (p == NULL)
		return -1;
	for (size_t off = 0; off < len; off += step) {
		size_t n = len - off < step ? len - off : step;
		long got;

		if (sf_parser_feed(p, buf + off, n) == SF_PARSE_ERROR ||
		    (got = drain(p)) < 0) {
			sf_parser_free(p);
			return -1;
		}
		total += got;
	}
	if (sf_parser_pending(p) != 0)
		total = -1;
	sf_parser_free(p);
	return total;
}

/* Best MB/s over BENCH_ROUNDS rounds of about seconds/BENCH_ROUNDS each. */
static int measure(const char *name, const char *buf, size_t len, size_t nrep, size_t step,
		   double seconds)
{
	double best = 0;

	for (int round = 0; round < BENCH_ROUNDS; round++) {
		double t0 = now(), t;
		size_t octets = 0;

		do {
			long got = pass(buf, len, step);

			if (got != (long)nrep) {
				fprintf(stderr, "parser_bench: %s: %ld replies, expected %zu\n",
					name, got, nrep);
				return -1;
			}
			octets += len;
			t = now() - t0;
		} while (t < seconds / BENCH_ROUNDS);
		if ((double)octets / t / 1e6 > best)
			best = (double)octets / t / 1e6;
	}
	printf("parser %s MBps=%.1f replies=%zu octets=%zu\n", name, best, nrep, len);
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: parser_bench [SECONDS (0-60] [chunk4096|byte]]\n");
	return 2;
}

int main(int argc, char **argv)
{
	double seconds = 0.5;
	const char *only = argc > 2 ? argv[2] : NULL;
	size_t len, nrep;
	char *buf;
	int rc = 0;

	if (argc > 3 ||
	    (only != NULL && strcmp(only, "chunk4096") != 0 && strcmp(only, "byte") != 0))
		return usage();
	if (argc > 1) {
		char *end;

		seconds = strtod(argv[1], &end);
		if (*end != '\0' || !(seconds > 0 && seconds <= 60))
			return usage();
	}
	buf = malloc(BENCH_INPUT);
	if (buf == NULL)
		return 1;
	nrep = make_input(buf, BENCH_INPUT, &len);
	if (only == NULL || strcmp(only, "chunk4096") == 0)
		rc |= measure("chunk4096", buf, len, nrep, 4096, seconds);
	if (only == NULL || strcmp(only, "byte") == 0)
		rc |= measure("byte", buf, len, nrep, 1, seconds);
	free(buf);
	return rc != 0;
}

/*
 * parser_bench.c - throughput of libsmtpfixup's streaming reply parser
 * (lib/sf_reply.c), for bench/run (issues 8 and 12).
 *
 *   parser_bench [SECONDS [ehlo|long [chunk4096|byte]]]
 *
 * Two inputs, each repeated to fill a buffer of BENCH_INPUT octets:
 *
 *   ehlo  EHLO replies as real servers send them (Postfix, Exim, Exchange,
 *         Gmail, Sendmail, OpenSMTPD, and one masked by a Cisco ASA)
 *   long  the longest reply the parser takes by its default limits
 *         (sf_common.h): as many lines of SF_REPLY_LINE_MAX octets as
 *         SF_REPLY_BYTES_MAX and SF_REPLY_LINES_MAX allow
 *
 * Each pass feeds the whole buffer to a fresh parser the way the plugin
 * does: feed, then take and free every complete reply (plugins/session.c).
 * Two ways of feeding:
 *
 *   chunk4096  4 KiB per sf_parser_feed() (a read() of a busy socket)
 *   byte       one octet per sf_parser_feed() (a peer that drips)
 *
 * A linear parser costs about the same per octet on both inputs (less on
 * the long one: fewer replies to allocate); one whose cost per feed grows
 * with what it holds (a rescan of the reply so far) is many times slower
 * per octet on the long one, above all fed one octet at a time.
 *
 * For each input and way, passes run for about SECONDS (default 0.5) split
 * in five rounds; the best round is reported, since anything else on the
 * machine only ever makes a round slower. Further arguments run one input
 * or one way only (to profile it under callgrind). MB is 10^6 octets.
 * Output, one line per input and way, for bench/run to read:
 *
 *   parser ehlo chunk4096 MBps=812.4 replies=4521 octets=1048305
 *
 * Exit 1 if the parser rejects an input or the reply count is wrong: the
 * figure would then not measure the parser's normal path.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sf_common.h"
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

/* Fill buf with whole copies of the n replies, cycling through them, up
 * to cap octets. Sets *len and returns the number of replies. */
static size_t make_input(char *buf, size_t cap, const char *const *r, size_t n, size_t *len)
{
	size_t i = 0, off = 0;

	for (;;) {
		size_t rl = strlen(r[i % n]);

		if (off + rl > cap)
			break;
		memcpy(buf + off, r[i % n], rl);
		off += rl;
		i++;
	}
	*len = off;
	return i;
}

/* The longest reply the default limits take: lines of SF_REPLY_LINE_MAX
 * octets (code, separator, words of text), each with CRLF, as many as fit
 * in SF_REPLY_BYTES_MAX and SF_REPLY_LINES_MAX. NULL if out of memory. */
static char *long_reply(size_t *nlines)
{
	const size_t line = SF_REPLY_LINE_MAX + 2;
	size_t n = SF_REPLY_BYTES_MAX / line;
	char *r, *q;

	if (n > SF_REPLY_LINES_MAX)
		n = SF_REPLY_LINES_MAX;
	r = malloc(n * line + 1);
	if (r == NULL)
		return NULL;
	q = r;
	for (size_t i = 0; i < n; i++) {
		memcpy(q, i + 1 < n ? "250-" : "250 ", 4);
		for (size_t k = 4; k < SF_REPLY_LINE_MAX; k++)
			q[k] = (k % 8 == 7) ? ' ' : (char)('a' + (k + i) % 26);
		q[SF_REPLY_LINE_MAX] = '\r';
		q[SF_REPLY_LINE_MAX + 1] = '\n';
		q += line;
	}
	*q = '\0';
	*nlines = n;
	return r;
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
static int measure(const char *input, const char *way, const char *buf, size_t len, size_t nrep,
		   size_t step, double seconds)
{
	double best = 0;

	for (int round = 0; round < BENCH_ROUNDS; round++) {
		double t0 = now(), t;
		size_t octets = 0;

		do {
			long got = pass(buf, len, step);

			if (got != (long)nrep) {
				fprintf(stderr, "parser_bench: %s %s: %ld replies, expected %zu\n",
					input, way, got, nrep);
				return -1;
			}
			octets += len;
			t = now() - t0;
		} while (t < seconds / BENCH_ROUNDS);
		if ((double)octets / t / 1e6 > best)
			best = (double)octets / t / 1e6;
	}
	printf("parser %s %s MBps=%.1f replies=%zu octets=%zu\n", input, way, best, nrep, len);
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: parser_bench [SECONDS (0-60] [ehlo|long [chunk4096|byte]]]\n");
	return 2;
}

/* Whether arg (NULL: no choice made) selects name. */
static int chosen(const char *arg, const char *name)
{
	return arg == NULL || strcmp(arg, name) == 0;
}

int main(int argc, char **argv)
{
	double seconds = 0.5;
	const char *only_input = argc > 2 ? argv[2] : NULL;
	const char *only_way = argc > 3 ? argv[3] : NULL;
	static const struct {
		const char *name;
		size_t step;
	} ways[] = { { "chunk4096", 4096 }, { "byte", 1 } };
	const char *long_one[1];
	size_t nlines;
	char *buf, *lr;
	int rc = 0;

	if (argc > 4 || (only_input != NULL && !chosen(only_input, "ehlo") &&
			 !chosen(only_input, "long")) ||
	    (only_way != NULL && !chosen(only_way, "chunk4096") && !chosen(only_way, "byte")))
		return usage();
	if (argc > 1) {
		char *end;

		seconds = strtod(argv[1], &end);
		if (*end != '\0' || !(seconds > 0 && seconds <= 60))
			return usage();
	}
	buf = malloc(BENCH_INPUT);
	lr = long_reply(&nlines);
	if (buf == NULL || lr == NULL) {
		free(buf);
		free(lr);
		return 1;
	}
	long_one[0] = lr;
	for (int in = 0; in < 2; in++) {
		const char *name = in == 0 ? "ehlo" : "long";
		size_t len, nrep;

		if (!chosen(only_input, name))
			continue;
		nrep = in == 0 ? make_input(buf, BENCH_INPUT, replies, NREPLIES, &len)
			       : make_input(buf, BENCH_INPUT, long_one, 1, &len);
		for (size_t w = 0; w < sizeof ways / sizeof ways[0]; w++)
			if (chosen(only_way, ways[w].name))
				rc |= measure(name, ways[w].name, buf, len, nrep, ways[w].step,
					      seconds);
	}
	free(lr);
	free(buf);
	return rc != 0;
}

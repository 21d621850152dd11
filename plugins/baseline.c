/*
 * baseline.c - state retention for --baseline (see baseline.h).
 *
 * The state is one data line (libmonitoringplug writes it after its own
 * header "# NP State file", its format version, our data version and the
 * time): the baseline, and optionally a tab, the candidate (a change seen
 * in otherwise clean runs), a tab and how many runs in a row showed it.
 * Each of the two is "C:" or "W:" (banner cut or whole), the first greeting
 * line in hex (at most BASELINE_BANNER_MAX octets of it), a tab, the
 * keywords comma-separated (as many as fit in BASELINE_LINE_MAX).
 *
 * Greetings are compared by their keys (sf_greeting_key): what changes per
 * connection on a healthy server does not count.
 */
#include "baseline.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdbool.h> /* utils_base.h needs it */
#include "utils_base.h" /* libmonitoringplug: np_enable_state, np_state_write_string */

#include "guard.h"
#include "sf_ascii.h"
#include "sf_verdict.h"

#define STATE_READ_MAX 4096U /* octets of the state file we read */

/* libmonitoringplug's accessor for its plugin record; its header does not
 * declare it. */
void _get_monitoring_plugin(monitoring_plugin **pointer); // NOLINT(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp): libmonitoringplug's name

int baseline_key(const char *host, const char *port, char *buf, size_t bufsz)
{
	size_t n;
	int w = snprintf(buf, bufsz, "baseline_");

	if (w < 0 || (size_t)w >= bufsz)
		return -1;
	n = (size_t)w;
	for (const char *p = host; *p; p++) {
		w = sf_is_alnum((unsigned char)*p) ? snprintf(buf + n, bufsz - n, "%c", *p)
						   : snprintf(buf + n, bufsz - n, "_%02X", (unsigned char)*p);
		if (w < 0 || (size_t)w >= bufsz - n)
			return -1;
		n += (size_t)w;
	}
	w = snprintf(buf + n, bufsz - n, "_%s", port);
	return w < 0 || (size_t)w >= bufsz - n ? -1 : 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int baseline_parse(const char *line, struct baseline *bl)
{
	const char *tab = strchr(line, '\t');
	size_t hexlen, n = 0;
	char *p;

	memset(bl, 0, sizeof *bl);
	if (tab == NULL || (size_t)(tab - line) < 3 || (line[0] != 'C' && line[0] != 'W') ||
	    line[1] != ':')
		return -1;
	bl->cut = line[0] == 'C';
	line += 2;
	hexlen = (size_t)(tab - line);
	if (hexlen % 2 != 0 || hexlen / 2 > BASELINE_BANNER_MAX)
		return -1;
	for (size_t i = 0; i < hexlen; i += 2) {
		int hi = hexval(line[i]), lo = hexval(line[i + 1]);
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
			return -1;
		bl->banner[n++] = (char)(hi * 16 + lo);
	}
	bl->banner[n] = '\0';
	if (strlen(tab + 1) > BASELINE_LINE_MAX)
		return -1;
	snprintf(bl->kwbuf, sizeof bl->kwbuf, "%s", tab + 1);
	for (p = bl->kwbuf; *p != '\0' && bl->nkw < BASELINE_KW_MAX;) {
		char *comma = strchr(p, ',');
		bl->kw[bl->nkw++] = p;
		if (comma == NULL)
			break;
		*comma = '\0';
		p = comma + 1;
	}
	bl->have = 1;
	return 0;
}

/* "C:" or "W:" (cut or whole), banner[0..len) in hex and a tab into buf
 * (BASELINE_LINE_MAX + 1 octets, len at most BASELINE_BANNER_MAX); its
 * length. */
static size_t put_banner(char *buf, int cut, const char *banner, size_t len)
{
	size_t n = (size_t)snprintf(buf, BASELINE_LINE_MAX + 1, "%c:", cut ? 'C' : 'W');

	for (size_t i = 0; i < len; i++)
		n += (size_t)snprintf(buf + n, BASELINE_LINE_MAX + 1 - n, "%02X", (unsigned char)banner[i]);
	buf[n++] = '\t';
	buf[n] = '\0';
	return n;
}

/* Append keyword kw to the state line in buf (length *n), after a comma
 * unless first; 1 if it fitted, 0 if the line is full. */
static int put_keyword(char *buf, size_t *n, const char *kw, int first)
{
	size_t len = strlen(kw);

	if (*n + len + 1 > BASELINE_LINE_MAX)
		return 0;
	*n += (size_t)snprintf(buf + *n, BASELINE_LINE_MAX + 1 - *n, "%s%s", first ? "" : ",", kw);
	return 1;
}

void baseline_format(const struct session_result *r, char *buf)
{
	const struct sf_reply_line *g = &r->greeting->lines[0];
	size_t blen = g->len > BASELINE_BANNER_MAX ? BASELINE_BANNER_MAX : g->len;
	const struct sf_ehlo *e = r->ehlo_list;
	/* cppcheck-suppress knownConditionTrueFalse ; it follows the one test's line */
	size_t n = put_banner(buf, blen < g->len, g->raw, blen);

	for (size_t i = 0, k = 0; e != NULL && i < e->next && k < BASELINE_KW_MAX; i++) {
		const struct sf_ehlo_ext *x = &e->ext[i];
		if (x->valid && !x->masked && put_keyword(buf, &n, x->keyword, k == 0))
			k++;
	}
}

int baseline_enable(const char *host, const char *port, char *why, size_t whysz)
{
	char key[BASELINE_KEY_MAX + 1];

	if (baseline_key(host, port, key, sizeof key) != 0) {
		snprintf(why, whysz, "--baseline: the host name is too long for a state key");
		return -1;
	}
	guard_begin("--baseline");
	np_enable_state(key, BASELINE_VERSION);
	guard_end();
	return 0;
}

/* The state file's name, or NULL. */
static const char *state_file(void)
{
	monitoring_plugin *mp = NULL;

	_get_monitoring_plugin(&mp);
	if (mp == NULL || mp->state == NULL || mp->state->_filename == NULL)
		return NULL;
	return mp->state->_filename;
}

/* Open the state file for reading without following a link or blocking on
 * a FIFO: the fd, -2 when there is none, -1 with why. */
static int open_state(const char *path, char *why, size_t whysz)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return -2; /* none yet; keeping it will say why it cannot be */
		snprintf(why, whysz, "cannot read the state file %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		snprintf(why, whysz, "the state file %s is not a regular file", path);
		return -1;
	}
	return fd;
}

/* Split the next line off *p (NUL-terminated text); NULL at the end. */
static char *next_line(char **p)
{
	char *line = *p, *nl;

	if (line == NULL || *line == '\0')
		return NULL;
	nl = strchr(line, '\n');
	if (nl != NULL) {
		*nl = '\0';
		*p = nl + 1;
	} else {
		*p = NULL;
	}
	return line;
}

/* The data line: baseline, then maybe the candidate and its count. */
static int parse_line(char *line, struct baseline *bl, time_t since)
{
	char *t1 = strchr(line, '\t');
	char *t2 = t1 != NULL ? strchr(t1 + 1, '\t') : NULL;
	char cand[BASELINE_LINE_MAX + 1] = "";
	unsigned runs = 0;

	if (t2 != NULL) {
		/* "cand-banner\tcand-kw\tN" after the baseline's two fields */
		char *t3 = strchr(t2 + 1, '\t'), *t4, *end;
		unsigned long n;
		struct baseline probe;

		t4 = t3 != NULL ? strrchr(t3 + 1, '\t') : NULL;
		if (t3 == NULL || t4 == NULL)
			return -1;
		errno = 0;
		n = strtoul(t4 + 1, &end, 10);
		if (errno != 0 || end == t4 + 1 || *end != '\0' || n > 1000)
			return -1;
		*t4 = '\0';
		if (strlen(t2 + 1) > BASELINE_LINE_MAX || baseline_parse(t2 + 1, &probe) != 0)
			return -1;
		snprintf(cand, sizeof cand, "%s", t2 + 1);
		runs = (unsigned)n;
		*t2 = '\0';
	}
	if (baseline_parse(line, bl) != 0)
		return -1;
	bl->since = since;
	snprintf(bl->cand, sizeof bl->cand, "%s", cand);
	bl->cand_runs = runs;
	return 0;
}

/* Parse the whole file (libmonitoringplug's layout) into bl; -1 if it is
 * not a state of ours. */
static int parse_state(char *text, struct baseline *bl)
{
	char *p = text, *line, *end;
	long field[3];
	int nf = 0;

	while ((line = next_line(&p)) != NULL && nf < 3) {
		if (line[0] == '#')
			continue;
		errno = 0;
		field[nf] = strtol(line, &end, 10);
		if (errno != 0 || end == line || *end != '\0' || field[nf] < 0)
			return -1;
		nf++;
	}
	if (nf < 3 || line == NULL || field[0] != NP_STATE_FORMAT_VERSION ||
	    field[1] != BASELINE_VERSION)
		return -1;
	return parse_line(line, bl, (time_t)field[2]);
}

int baseline_load(struct baseline *bl, int *unreadable, char *why, size_t whysz)
{
	const char *path = state_file();
	char text[STATE_READ_MAX + 1];
	size_t len = 0;
	int fd;

	memset(bl, 0, sizeof *bl);
	*unreadable = 0;
	if (path == NULL) {
		snprintf(why, whysz, "no state file name");
		return -1;
	}
	fd = open_state(path, why, whysz);
	if (fd == -2)
		return 0;
	if (fd < 0)
		return -1;
	while (len < STATE_READ_MAX) {
		ssize_t n = read(fd, text + len, STATE_READ_MAX - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	text[len] = '\0';
	if (memchr(text, '\0', len) != NULL || len == STATE_READ_MAX || parse_state(text, bl) != 0) {
		memset(bl, 0, sizeof *bl);
		*unreadable = 1;
	}
	return 0;
}

/* Make the state folder (as libmonitoringplug would) and try a file in it;
 * the state path must not be anything but a regular file. */
static int writable(const char *path, char *why, size_t whysz)
{
	char dir[PATH_MAX], probe[PATH_MAX + 16];
	struct stat st;
	char *slash;
	int fd;

	if (strlen(path) >= sizeof dir) {
		snprintf(why, whysz, "the state file name is too long");
		return -1;
	}
	if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		snprintf(why, whysz, "the state file %s is not a regular file", path);
		return -1;
	}
	snprintf(dir, sizeof dir, "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir) {
		snprintf(why, whysz, "bad state file name %s", path);
		return -1;
	}
	*slash = '\0';
	for (char *p = dir + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			*p = '\0';
			if (mkdir(dir, S_IRWXU) != 0 && errno != EEXIST) {
				snprintf(why, whysz, "cannot create %s: %s", dir, strerror(errno));
				return -1;
			}
			*p = c;
			if (c == '\0')
				break;
		}
	}
	snprintf(probe, sizeof probe, "%s/.probeXXXXXX", dir);
	fd = mkstemp(probe);
	if (fd < 0) {
		snprintf(why, whysz, "cannot write in %s: %s", dir, strerror(errno));
		return -1;
	}
	close(fd);
	unlink(probe);
	return 0;
}

/* Write data as the state, dated since (0: now). */
static int write_state(char *data, time_t since, char *why, size_t whysz)
{
	const char *path = state_file();

	if (path == NULL) {
		snprintf(why, whysz, "no state file name");
		return -1;
	}
	if (writable(path, why, whysz) != 0)
		return -1;
	guard_begin("cannot keep the baseline");
	np_state_write_string(since, data);
	guard_end();
	return 0;
}

int baseline_keep(const struct session_result *r, char *why, size_t whysz)
{
	char line[BASELINE_LINE_MAX + 1];

	baseline_format(r, line);
	return write_state(line, 0, why, whysz);
}

/* 1 if two state lines say the same: greeting keys and keyword lists. */
static int same_line(const char *a, const char *b)
{
	struct baseline x, y;
	char kx[2 * SF_REPLY_LINE_MAX + 8], ky[sizeof kx];

	if (baseline_parse(a, &x) != 0 || baseline_parse(b, &y) != 0 || x.nkw != y.nkw)
		return 0;
	sf_greeting_key(x.banner, strlen(x.banner), kx, sizeof kx);
	sf_greeting_key(y.banner, strlen(y.banner), ky, sizeof ky);
	if (strcmp(kx, ky) != 0)
		return 0;
	for (size_t i = 0; i < x.nkw; i++)
		if (!sf_ci_equal(x.kw[i], y.kw[i]))
			return 0;
	return 1;
}

/* bl's own line into data (size BASELINE_LINE_MAX + 1), as
 * baseline_format() wrote it. */
static void own_line(const struct baseline *bl, char *data)
{
	size_t n = put_banner(data, bl->cut, bl->banner, strlen(bl->banner));

	for (size_t i = 0; i < bl->nkw && put_keyword(data, &n, bl->kw[i], i == 0); i++)
		;
}

int baseline_forget_candidate(const struct baseline *bl, char *why, size_t whysz)
{
	char data[BASELINE_LINE_MAX + 1];

	if (bl->cand[0] == '\0')
		return 0;
	own_line(bl, data);
	return write_state(data, bl->since, why, whysz);
}

int baseline_candidate(const struct baseline *bl, const struct session_result *r, int *adopted,
		       unsigned *runs, char *why, size_t whysz)
{
	char now[BASELINE_LINE_MAX + 1], data[3 * BASELINE_LINE_MAX + 32];
	size_t n;

	baseline_format(r, now);
	*runs = bl->cand[0] != '\0' && same_line(bl->cand, now) ? bl->cand_runs + 1 : 1;
	*adopted = *runs >= BASELINE_ADOPT;
	if (*adopted)
		return write_state(now, 0, why, whysz);
	/* the baseline as it was (its own line again), then the candidate */
	own_line(bl, data);
	n = strlen(data);
	snprintf(data + n, sizeof data - n, "\t%s\t%u", now, *runs);
	/* the baseline keeps its date: "since" stays true */
	return write_state(data, bl->since, why, whysz);
}

void baseline_since(const struct baseline *bl, char *buf, size_t bufsz)
{
	struct tm tm;

	if (bl->since <= 0 || gmtime_r(&bl->since, &tm) == NULL) {
		snprintf(buf, bufsz, "at an unknown time");
		return;
	}
	strftime(buf, bufsz, "%Y-%m-%d %H:%M UTC", &tm);
}

void baseline_release(void)
{
	monitoring_plugin *mp = NULL;

	_get_monitoring_plugin(&mp);
	if (mp != NULL && mp->state != NULL) {
		free(mp->state->_filename);
		mp->state->_filename = NULL;
	}
}

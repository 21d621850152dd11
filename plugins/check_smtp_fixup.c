/*
 * check_smtp_fixup - a monitoring plugin that tells whether an SMTP
 * inspection box (Cisco "fixup smtp" / "inspect esmtp" and others) sits
 * between it and a mail server and tampers with the conversation.
 *
 * This file holds what is specific to running as a plugin: options (with
 * --extra-opts), name resolution, driving the session (plugins/session.c),
 * thresholds through libmonitoringplug, and output in the monitoring-plugins
 * format. It never parses SMTP itself: lib/ does.
 *
 * Copyright (C) 2026 the check_smtp_fixup authors. GPL-3.0-or-later.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "utils_base.h"  /* libmonitoringplug: thresholds, np_init */
#include "extra_opts.h"  /* libmonitoringplug: --extra-opts */

#include "sf_common.h"
#include "sf_text.h"
#include "sf_verdict.h"
#include "mx.h"
#include "session.h"
#include "tls.h"

#ifndef SF_VERSION
#define SF_VERSION "unknown"
#endif

/* libmonitoringplug's utils.o needs these two. */
const char *progname = "check_smtp_fixup";
void print_usage(void);

static char plugin_name[] = "check_smtp_fixup";

#define PREFIX "SMTP FIXUP"
#define DEFAULT_PORT "25"
#define DEFAULT_TLS_PORT "465"
#define DEFAULT_TIMEOUT 10.0
#define TIMEOUT_MAX 3600.0
#define HOST_MAX 255U
#define FQDN_MAX 255U
#define SUMMARY_MAX 1024U
#define PERFDATA_MAX 1024U
#define EVIDENCE_MAX 600U  /* escaped octets of one evidence line */
/* Long output stays well under the 8 KB that Nagios keeps of it. */
#define EVIDENCE_LINES_MAX 8U   /* evidence lines shown per finding */
#define EXTENSIONS_SHOWN_MAX 48U /* extensions listed in the long output */
#define TLS_ENV "CHECK_SMTP_FIXUP_TLS" /* gnutls or openssl (plugins/tls.c) */
#define QUIT_WAIT 1.0      /* seconds we wait for the reply to QUIT */
#define ADDR_MAX 16U       /* addresses of one host we check */
#define TARGETS_MAX 32U    /* targets of one check (addresses of all hosts) */
#define PERFDATA_MULTI_MAX 16384U /* perfdata of a check with several targets */

/* A list of EHLO keywords given as options (-R, --tls-ignore). */
struct kwlist {
	char buf[SF_REQUIRE_MAX * (SF_EHLO_KEYWORD_MAX + 1)];
	const char *word[SF_REQUIRE_MAX];
	size_t n;
};

/* Options, filled once by parse_options(), then only read. */
struct config {
	char host[HOST_MAX + 1];
	char domain[MX_NAME_MAX + 1]; /* -D: check the domain's MX hosts */
	char ref_host[HOST_MAX + 1];  /* --reference: the same server without the box */
	char ref_port[6];             /* its port ("" until known: -p's) */
	int baseline;                 /* --baseline */
	char port[6];
	int family;             /* AF_UNSPEC, AF_INET or AF_INET6 */
	double timeout;         /* seconds for the whole check */
	char fqdn[FQDN_MAX + 1];
	char *warn;             /* -w range text, or NULL */
	char *crit;             /* -c range text, or NULL */
	struct kwlist required;   /* -R */
	struct kwlist tls_ignore; /* --tls-ignore (default STARTTLS,AUTH) */
	int starttls;             /* -S */
	int implicit_tls;         /* --tls */
	int probe;                /* --probe */
	int port_given;
	enum sf_state state_of[SF_FIND__COUNT]; /* per kind, after overrides */
	int verbose;
};

/* ---------------------------------------------------------------- usage */

void print_usage(void)
{
	/* no '|' here: after an UNKNOWN, Nagios would read the rest as perfdata */
	printf("Usage:\n %s -H host|-D domain [-p port] [-4] [-6] [-t timeout] [-F fqdn]\n"
	       "  [-w seconds] [-c seconds] [-R ext[,ext...]] [-S] [--tls] [--probe]\n"
	       "  [--tls-ignore=ext[,ext...]] [--reference=host[:port]] [--baseline]\n"
	       "  [--KIND=STATE...]\n"
	       "  [--extra-opts=[section][@file]] [-v]\n",
	       progname);
}

static void print_help(void)
{
	printf("%s %s\n", progname, SF_VERSION);
	printf("Copyright (C) 2026 the check_smtp_fixup authors. License GPL-3.0-or-later.\n\n");
	printf("Checks whether an SMTP inspection box (Cisco PIX \"fixup smtp\", ASA/FTD\n"
	       "\"inspect esmtp\", other vendors' SMTP proxies) sits between this host and a\n"
	       "mail server and tampers with the conversation: masked greeting banner, EHLO\n"
	       "refused or turned into NOOP, ESMTP extensions overwritten with XXXX.\n"
	       "It connects, reads the greeting, sends EHLO (HELO only to confirm a failed\n"
	       "EHLO) and QUIT. It sends no mail.\n\n");
	print_usage();
	printf("\nOptions:\n"
	       " -h, --help\n    Print this help and exit\n"
	       " -V, --version\n    Print the version and exit\n"
	       " --extra-opts=[section][@file]\n"
	       "    Read options from an ini file (monitoring-plugins extra-opts)\n"
	       " -H, --hostname=ADDRESS\n    Host name or IP address of the mail server (required); every address\n"
	       "    of a name is checked, all at once\n"
	       " -D, --domain=DOMAIN\n"
	       "    Check every address of every MX host of DOMAIN, all at once (no MX:\n"
	       "    the domain's own address, RFC 5321 5.1); excludes -H\n"
	       " -p, --port=INTEGER\n    Port (default: %s)\n"
	       " -4, --use-ipv4\n    Use IPv4 only\n"
	       " -6, --use-ipv6\n    Use IPv6 only\n"
	       " -t, --timeout=SECONDS\n    The whole check ends within this time (default: %.0f)\n"
	       " -F, --fqdn=NAME\n    Name sent with EHLO/HELO (default: this host's name)\n"
	       " -w, --warning=RANGE\n    Total response time (s) that gives WARNING\n"
	       " -c, --critical=RANGE\n    Total response time (s) that gives CRITICAL\n"
	       " -R, --require=EXT[,EXT...]\n"
	       "    ESMTP extensions the server must offer (repeatable), e.g. STARTTLS,8BITMIME\n"
	       " -S, --starttls\n"
	       "    After EHLO, send STARTTLS, do the TLS handshake and EHLO again; extensions\n"
	       "    offered inside TLS but missing outside were stripped by the path.\n"
	       "    The certificate is not verified (this is not a certificate check)\n"
	       " --tls\n    TLS from the first octet (implicit TLS; port 465 unless -p)\n"
	       " --tls-ignore=EXT[,EXT...]\n"
	       "    Extensions that may legitimately differ inside TLS (default: STARTTLS,AUTH)\n"
	       " --probe\n"
	       "    Also send commands a box rewrites or punishes but a server answers\n"
	       "    harmlessly: BDAT 0 LAST outside a transaction, a NOOP longer than 512\n"
	       "    octets, RSET. No mail is sent\n"
	       " --reference=HOST[:PORT]\n"
	       "    The same server reached without the box (port: -p's); keywords it offers\n"
	       "    that this path lacks or masks, and a greeting that differs, are findings\n"
	       " --baseline\n"
	       "    Keep the banner and extensions of the last run without findings (state\n"
	       "    retention, MP_STATE_PATH); keywords gone and a changed banner are findings\n"
	       " -v, --verbose\n    Add the SMTP transcript to the long output\n",
	       DEFAULT_PORT, DEFAULT_TIMEOUT);
	printf("\nState of each kind of finding (STATE: ok, warning, critical, unknown):\n");
	for (int k = 0; k < SF_FIND__COUNT; k++) {
		const struct sf_kind_info *ki = sf_kind_info((enum sf_kind)k);
		printf(" --%s=STATE\n    %s (default: %s)\n", ki->option, ki->title,
		       sf_state_name(ki->default_state));
	}
	printf("\nA connection refused, reset or closed early, a timeout, a peer that does not\n"
	       "speak SMTP and a 4xx/5xx greeting are CRITICAL; bad options are UNKNOWN.\n"
	       "\nExit codes: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.\n"
	       "\nExamples:\n"
	       " %s -H mail.example.org\n"
	       " %s -H mail.example.org -R STARTTLS,8BITMIME -w 2 -c 5\n"
	       " %s -H 192.0.2.25 --banner-masked=critical\n",
	       progname, progname, progname);
}

/* Bad usage: one line saying why, then the usage; UNKNOWN. */
static void usage_fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void usage_fail(const char *fmt, ...)
{
	va_list ap;

	printf("%s UNKNOWN - ", PREFIX);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	print_usage();
	exit(SF_UNKNOWN);
}

/* -------------------------------------------------------------- options */

/* Print an option value safely inside a message. */
static const char *shown(const char *arg, char *buf, size_t bufsz)
{
	sf_escape(buf, bufsz, arg, strlen(arg));
	return buf;
}

/* A strict decimal number: whole string, finite. */
static int parse_number(const char *s, double *out)
{
	char *end = NULL;
	double v;

	if (s == NULL || *s == '\0' || strchr(" \t\n", s[0]) != NULL)
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(v))
		return -1;
	/* strtod takes hex and "inf"/"nan": we want plain decimals only */
	for (const char *p = s; *p; p++)
		if (strchr("0123456789.-+eE", *p) == NULL)
			return -1;
	*out = v;
	return 0;
}

/* A TCP port: decimal digits only, 1 to 65535. 0 and the value, or -1. */
static int parse_port(const char *s, long *out)
{
	char *end = NULL;
	long v;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 || v > 65535)
		return -1;
	*out = v;
	return 0;
}

/* 1 if c may stand in a host name or an address (IPv6 with a zone too):
 * ASCII letters and digits and ".-_:%"; nothing else reaches getaddrinfo(). */
static int host_char(unsigned char c)
{
	return c != '\0' && c < 0x80 && (isalnum(c) || strchr(".-_:%", c) != NULL);
}

/* monitoring-plugins range: [@][start:][end], start may be "~". */
static int valid_range(const char *s)
{
	const char *colon;
	double start = 0, end = 0;
	int has_start = 0, has_end = 0;
	char left[64], right[64];
	size_t llen;

	if (s == NULL || *s == '\0' || strlen(s) >= sizeof left)
		return 0;
	if (*s == '@')
		s++;
	colon = strchr(s, ':');
	if (colon == NULL) {
		return parse_number(s, &end) == 0;
	}
	llen = (size_t)(colon - s);
	memcpy(left, s, llen);
	left[llen] = '\0';
	snprintf(right, sizeof right, "%s", colon + 1);
	if (strcmp(left, "~") != 0) {
		if (parse_number(left, &start) != 0)
			return 0;
		has_start = 1;
	}
	if (right[0] != '\0') {
		if (parse_number(right, &end) != 0)
			return 0;
		has_end = 1;
	}
	return !(has_start && has_end && start > end);
}

/* A host name or address: letters, digits, '.', '-', '_', ':' and '%'
 * (IPv6 scope); surrounding brackets of an IPv6 literal are dropped. */
static void set_domain(struct config *cfg, const char *arg)
{
	char tmp[64];
	size_t len = strlen(arg);

	if (len > 1 && arg[len - 1] == '.')
		len--; /* the root's dot is implied */
	if (len == 0 || len > MX_NAME_MAX)
		usage_fail("domain (-D) must be 1 to %u characters", MX_NAME_MAX);
	memcpy(cfg->domain, arg, len);
	cfg->domain[len] = '\0';
	if (!mx_name_valid(cfg->domain))
		usage_fail("invalid domain (-D): '%s'", shown(arg, tmp, sizeof tmp));
}

static void set_host(struct config *cfg, const char *arg)
{
	char tmp[HOST_MAX + 3];
	size_t len = strlen(arg);

	if (len == 0)
		usage_fail("empty host name (-H)");
	if (len >= 2 && arg[0] == '[' && arg[len - 1] == ']') {
		arg++;
		len -= 2;
	}
	if (len == 0 || len > HOST_MAX)
		usage_fail("host name (-H) must be 1 to %u characters", HOST_MAX);
	for (size_t i = 0; i < len; i++)
		if (!host_char((unsigned char)arg[i]))
			usage_fail("invalid host name (-H): '%s'", shown(arg, tmp, sizeof tmp));
	memcpy(cfg->host, arg, len);
	cfg->host[len] = '\0';
}

static void set_port(struct config *cfg, const char *arg)
{
	char tmp[64];
	long v;

	if (parse_port(arg, &v) != 0)
		usage_fail("port (-p) must be a number from 1 to 65535, not '%s'",
			   shown(arg, tmp, sizeof tmp));
	snprintf(cfg->port, sizeof cfg->port, "%ld", v);
}

/* --reference=HOST[:PORT]: "host", "host:port", "[v6]", "[v6]:port" or a
 * bare IPv6 address (more than one ':', no port). */
static void set_reference(struct config *cfg, const char *arg)
{
	char tmp[64];
	const char *colon = strrchr(arg, ':');
	const char *host = arg, *port = NULL;
	size_t len = strlen(arg);
	long v;

	if (arg[0] == '[') {
		const char *close = strchr(arg, ']');
		if (close == NULL || (close[1] != '\0' && close[1] != ':'))
			usage_fail("--reference: bad address '%s'", shown(arg, tmp, sizeof tmp));
		host = arg + 1;
		len = (size_t)(close - host);
		port = close[1] == ':' ? close + 2 : NULL;
	} else if (colon != NULL && strchr(arg, ':') == colon) {
		len = (size_t)(colon - arg);
		port = colon + 1;
	}
	if (len == 0 || len > HOST_MAX)
		usage_fail("--reference: the host must be 1 to %u characters", HOST_MAX);
	for (size_t i = 0; i < len; i++)
		if (!host_char((unsigned char)host[i]))
			usage_fail("--reference: invalid host '%s'", shown(arg, tmp, sizeof tmp));
	memcpy(cfg->ref_host, host, len);
	cfg->ref_host[len] = '\0';
	if (port == NULL)
		return;
	if (parse_port(port, &v) != 0)
		usage_fail("--reference: the port must be a number from 1 to 65535, in '%s'",
			   shown(arg, tmp, sizeof tmp));
	snprintf(cfg->ref_port, sizeof cfg->ref_port, "%ld", v);
}

static void set_timeout(struct config *cfg, const char *arg)
{
	char tmp[64];
	double v;

	if (parse_number(arg, &v) != 0 || v <= 0 || v > TIMEOUT_MAX)
		usage_fail("timeout (-t) must be a number of seconds above 0 and at most %.0f, not '%s'",
			   TIMEOUT_MAX, shown(arg, tmp, sizeof tmp));
	cfg->timeout = v;
}

/* The EHLO name: a domain (letters, digits, '-', '.') or an address literal. */
static void set_fqdn(struct config *cfg, const char *arg)
{
	char tmp[FQDN_MAX + 8];
	size_t len = strlen(arg);
	int literal = len >= 2 && arg[0] == '[' && arg[len - 1] == ']';

	if (len == 0 || len > FQDN_MAX)
		usage_fail("EHLO name (-F) must be 1 to %u characters", FQDN_MAX);
	for (size_t i = literal; i < len - (size_t)literal; i++) {
		unsigned char c = (unsigned char)arg[i];
		int ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
			 (c >= 'A' && c <= 'Z') || c == '-' || c == '.' ||
			 (literal && (c == ':' || c == '_'));
		if (!ok)
			usage_fail("invalid EHLO name (-F): '%s'", shown(arg, tmp, sizeof tmp));
	}
	memcpy(cfg->fqdn, arg, len + 1);
}

/* A comma-separated keyword list (-R, --tls-ignore); repeatable, adds up. */
static void add_keywords(struct kwlist *l, const char *arg, const char *opt)
{
	char tmp[128];
	const char *p = arg;
	size_t used = 0;

	for (size_t i = 0; i < l->n; i++)
		used += strlen(l->word[i]) + 1;
	if (*arg == '\0')
		usage_fail("empty extension list (%s)", opt);
	while (*p) {
		size_t len = strcspn(p, ",");
		char *slot;
		if (len == 0 || len > SF_EHLO_KEYWORD_MAX || !sf_keyword_valid(p, len))
			usage_fail("invalid extension name in %s: '%s'", opt, shown(arg, tmp, sizeof tmp));
		if (l->n >= SF_REQUIRE_MAX)
			usage_fail("too many extensions in %s (at most %u)", opt, SF_REQUIRE_MAX);
		slot = l->buf + used;
		memcpy(slot, p, len);
		slot[len] = '\0';
		used += len + 1;
		l->word[l->n++] = slot;
		p += len;
		if (*p == ',') {
			p++;
			if (*p == '\0')
				usage_fail("invalid extension list in %s: '%s'", opt, shown(arg, tmp, sizeof tmp));
		}
	}
}

static void set_range(char **dst, char *arg, const char *what)
{
	char tmp[64];

	if (!valid_range(arg))
		usage_fail("%s threshold must be a number of seconds or a range like 5, 2:5, ~:5 or @1:2, not '%s'",
			   what, shown(arg, tmp, sizeof tmp));
	*dst = arg; /* points into argv, which outlives the check */
}

/* Default EHLO name: this host's name, if it is a usable domain. */
static void default_fqdn(struct config *cfg)
{
	char name[FQDN_MAX + 1];

	snprintf(cfg->fqdn, sizeof cfg->fqdn, "localhost");
	if (gethostname(name, sizeof name) != 0)
		return;
	name[sizeof name - 1] = '\0';
	if (name[0] == '\0' || strspn(name, "abcdefghijklmnopqrstuvwxyz"
					   "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") != strlen(name))
		return;
	snprintf(cfg->fqdn, sizeof cfg->fqdn, "%s", name);
}

enum { OPT_KIND_BASE = 1000, OPT_EXTRA_OPTS = 999, OPT_TLS = 998, OPT_PROBE = 997, OPT_TLS_IGNORE = 996,
       OPT_REFERENCE = 995, OPT_BASELINE = 994 };

static void parse_options(int argc, char **argv, struct config *cfg)
{
	static const struct option fixed[] = {
		{"hostname", required_argument, NULL, 'H'},
		{"domain", required_argument, NULL, 'D'},
		{"port", required_argument, NULL, 'p'},
		{"use-ipv4", no_argument, NULL, '4'},
		{"use-ipv6", no_argument, NULL, '6'},
		{"timeout", required_argument, NULL, 't'},
		{"fqdn", required_argument, NULL, 'F'},
		{"warning", required_argument, NULL, 'w'},
		{"critical", required_argument, NULL, 'c'},
		{"require", required_argument, NULL, 'R'},
		{"verbose", no_argument, NULL, 'v'},
		{"starttls", no_argument, NULL, 'S'},
		{"tls", no_argument, NULL, OPT_TLS},
		{"probe", no_argument, NULL, OPT_PROBE},
		{"tls-ignore", required_argument, NULL, OPT_TLS_IGNORE},
		{"reference", required_argument, NULL, OPT_REFERENCE},
		{"baseline", no_argument, NULL, OPT_BASELINE},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{"extra-opts", optional_argument, NULL, OPT_EXTRA_OPTS},
	};
	enum { NFIXED = sizeof fixed / sizeof fixed[0] };
	struct option longopts[NFIXED + SF_FIND__COUNT + 1];
	char tmp[64];
	int c, tls_ignore_set = 0;

	memcpy(longopts, fixed, sizeof fixed);
	for (int k = 0; k < SF_FIND__COUNT; k++) {
		longopts[NFIXED + k] = (struct option){
			sf_kind_info((enum sf_kind)k)->option, required_argument, NULL, OPT_KIND_BASE + k};
	}
	longopts[NFIXED + SF_FIND__COUNT] = (struct option){NULL, 0, NULL, 0};

	memset(cfg, 0, sizeof *cfg);
	snprintf(cfg->port, sizeof cfg->port, "%s", DEFAULT_PORT);
	cfg->family = AF_UNSPEC;
	cfg->timeout = DEFAULT_TIMEOUT;
	for (int k = 0; k < SF_FIND__COUNT; k++)
		cfg->state_of[k] = sf_kind_info((enum sf_kind)k)->default_state;
	default_fqdn(cfg);
	add_keywords(&cfg->tls_ignore, "STARTTLS,AUTH", "--tls-ignore");

	opterr = 0; /* we report bad options ourselves, on stdout */
	while ((c = getopt_long(argc, argv, ":H:D:p:46t:F:w:c:R:SvVh", longopts, NULL)) != -1) {
		switch (c) {
		case 'H': set_host(cfg, optarg); break;
		case 'D': set_domain(cfg, optarg); break;
		case 'p': set_port(cfg, optarg); cfg->port_given = 1; break;
		case '4': cfg->family = AF_INET; break;
		case '6': cfg->family = AF_INET6; break;
		case 't': set_timeout(cfg, optarg); break;
		case 'F': set_fqdn(cfg, optarg); break;
		case 'w': set_range(&cfg->warn, optarg, "warning (-w)"); break;
		case 'c': set_range(&cfg->crit, optarg, "critical (-c)"); break;
		case 'R': add_keywords(&cfg->required, optarg, "-R"); break;
		case 'S': cfg->starttls = 1; break;
		case OPT_TLS: cfg->implicit_tls = 1; break;
		case OPT_PROBE: cfg->probe = 1; break;
		case OPT_REFERENCE: set_reference(cfg, optarg); break;
		case OPT_BASELINE: cfg->baseline = 1; break;
		case OPT_TLS_IGNORE:
			if (!tls_ignore_set) {
				cfg->tls_ignore.n = 0; /* the first use replaces the default */
				tls_ignore_set = 1;
			}
			add_keywords(&cfg->tls_ignore, optarg, "--tls-ignore");
			break;
		case 'v': cfg->verbose++; break;
		case 'V':
			printf("%s %s (libmonitoringplug from monitoring-plugins 2.4.0)\n", progname, SF_VERSION);
			exit(SF_OK);
		case 'h':
			print_help();
			exit(SF_OK);
		case OPT_EXTRA_OPTS:
			break; /* already consumed by np_extra_opts() */
		case ':':
			usage_fail("option '%s' needs a value",
				   shown(argv[optind - 1], tmp, sizeof tmp));
		case '?':
			if (strncmp(argv[optind - 1], "--", 2) == 0) /* e.g. --verbose=1 */
				usage_fail("unknown option or unexpected value '%s'",
					   shown(argv[optind - 1], tmp, sizeof tmp));
			if (optopt != 0)
				usage_fail("unknown option '-%c'", isprint((unsigned char)optopt) ? optopt : '?');
			usage_fail("unknown option '%s'", shown(argv[optind - 1], tmp, sizeof tmp));
		default:
			if (c >= OPT_KIND_BASE && c < OPT_KIND_BASE + SF_FIND__COUNT) {
				const struct sf_kind_info *ki = sf_kind_info((enum sf_kind)(c - OPT_KIND_BASE));
				if (sf_state_parse(optarg, &cfg->state_of[c - OPT_KIND_BASE]) != 0)
					usage_fail("--%s takes ok, warning, critical or unknown, not '%s'",
						   ki->option, shown(optarg, tmp, sizeof tmp));
				break;
			}
			usage_fail("unexpected option code %d", c);
		}
	}
	if (optind < argc)
		usage_fail("unexpected argument '%s'", shown(argv[optind], tmp, sizeof tmp));
	if (cfg->host[0] != '\0' && cfg->domain[0] != '\0')
		usage_fail("-H (one host) and -D (a domain's MX hosts) exclude each other");
	if (cfg->host[0] == '\0' && cfg->domain[0] == '\0')
		usage_fail("no host given: -H (or -D) is required");
	if (cfg->implicit_tls && cfg->starttls)
		usage_fail("--tls (TLS from the start) and -S (STARTTLS) exclude each other");
	if (cfg->implicit_tls && !cfg->port_given)
		snprintf(cfg->port, sizeof cfg->port, "%s", DEFAULT_TLS_PORT);
	if (cfg->baseline && cfg->domain[0] != '\0')
		usage_fail("--baseline keeps one server's state: not with -D");
	if (cfg->ref_host[0] != '\0' && cfg->domain[0] != '\0')
		usage_fail("--reference compares one server: not with -D");
	if (cfg->ref_host[0] != '\0' && cfg->ref_port[0] == '\0')
		snprintf(cfg->ref_port, sizeof cfg->ref_port, "%s", cfg->port);
}

/* ------------------------------------------------------------- network */

/* What the check saw at one address. */
struct outcome {
	struct session sess;     /* the conversation (with the probe if asked) */
	struct session tls_sess; /* with -S and --probe: the STARTTLS conversation */
	int two_sessions;
	char addr_text[64];     /* numeric address of the peer */
	double t_begin, t_end;  /* this target's sessions, monotonic seconds */
};

/* One place the check looks at: an address of a host, on a port, in a
 * role. A check is a list of targets, all run at once; checking one host
 * with one address is the case of one target. */
struct target {
	char host[HOST_MAX + 1]; /* the name it was reached by */
	const char *port;        /* numeric service */
	const char *role;        /* what the summary counts, e.g. "address" */
	const char *roles;       /* the same in the plural */
	struct outcome o;
};

/* The whole check: its targets and how long it took. */
struct check {
	struct target *tg;      /* cap of them (at least 1), n used */
	size_t n, cap;
	int two_sessions;       /* each target holds two conversations */
	int resolve_error;      /* getaddrinfo error, 0 if resolved */
	enum mx_status mx;      /* -D: what the MX lookup found */
	char mx_error[128];     /* -D: why it failed */
	size_t mx_hosts;        /* -D: MX hosts found */
	size_t noaddr;          /* -D: MX hosts without an address */
	char note[512];         /* said after the summary, or "" */
	struct target *ref;     /* --reference: the path without the box, or NULL */
	int ref_error;          /* its getaddrinfo error, 0 if resolved */
	struct baseline *bl;    /* --baseline: the last clean run, or NULL */
	double t_begin, t_end;  /* whole check, monotonic seconds */
};

/* Text for the backstop timer, written from the signal handler. */
static char alarm_text[256];
static size_t alarm_len;

static void on_alarm(int sig)
{
	(void)sig;
	/* async-signal-safe only */
	if (write(STDOUT_FILENO, alarm_text, alarm_len) < 0)
		_exit(SF_CRITICAL);
	_exit(SF_CRITICAL);
}

/* A timer that ends the process shortly after the timeout even if a blocking
 * call (name resolution) hangs; the poll loop normally ends first. */
static void arm_backstop(const struct config *cfg)
{
	struct sigaction sa;
	struct itimerval it;
	double t = cfg->timeout + 1.0; /* the poll loop's deadline must win under load */
	int n = snprintf(alarm_text, sizeof alarm_text,
			 "%s CRITICAL - no result from %s within the %g s timeout (blocked in name resolution or TLS set-up)\n",
			 PREFIX, cfg->domain[0] ? cfg->domain : cfg->host, cfg->timeout);

	alarm_len = n > 0 && (size_t)n < sizeof alarm_text ? (size_t)n : 0;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	memset(&it, 0, sizeof it);
	/* whole microseconds, without libm: the plugin then needs only libc */
	it.it_value.tv_sec = (time_t)t;
	it.it_value.tv_usec = (suseconds_t)((t - (double)it.it_value.tv_sec) * 1e6);
	setitimer(ITIMER_REAL, &it, NULL);
}

static void addr_to_text(const struct sockaddr_storage *ss, socklen_t len, char *buf, size_t bufsz)
{
	if (getnameinfo((const struct sockaddr *)ss, len, buf, (socklen_t)bufsz, NULL, 0,
			NI_NUMERICHOST) != 0)
		snprintf(buf, bufsz, "?");
}

/* Point session s at address ai and start it. */
static void start_on(struct session *s, const struct session_config *scfg,
		     const struct addrinfo *ai)
{
	session_cleanup(s);
	memset(&s->addr, 0, sizeof s->addr);
	memcpy(&s->addr, ai->ai_addr, ai->ai_addrlen);
	s->addrlen = (socklen_t)ai->ai_addrlen;
	session_init(s, scfg);
	session_start(s, session_now());
}

/* Name a zeroed target; its sessions hold no socket yet (session_cleanup()
 * of one never started must not close descriptor 0). */
static void target_init(struct target *tg, const char *host, const char *port,
			const char *const role[2], double t_begin)
{
	tg->o.sess.fd = tg->o.tls_sess.fd = -1;
	snprintf(tg->host, sizeof tg->host, "%s", host);
	tg->port = port;
	tg->role = role[0];
	tg->roles = role[1];
	tg->o.t_begin = t_begin;
}

/* Add a target for address ai of host, and start its conversation(s).
 * Returns -1 when the list is full or the address does not fit. */
static int add_target(struct check *chk, const struct session_config scfg[2], const char *host,
		      const char *port, const char *const role[2], const struct addrinfo *ai)
{
	struct target *tg;
	struct session *list[2];

	if (chk->n >= TARGETS_MAX || ai->ai_addrlen > sizeof tg->o.sess.addr)
		return -1;
	if (chk->n == chk->cap) {
		/* grown as addresses come: a single-host check stays in one
		 * small heap block (no mmap() and munmap() of room for
		 * TARGETS_MAX). Nothing points into the array yet: the
		 * sessions are listed for the poll loop once all are added. */
		size_t cap = chk->cap * 2 < TARGETS_MAX ? chk->cap * 2 : TARGETS_MAX;
		struct target *grown = realloc(chk->tg, cap * sizeof *grown);

		if (grown == NULL)
			return -1;
		memset(grown + chk->cap, 0, (cap - chk->cap) * sizeof *grown);
		chk->tg = grown;
		chk->cap = cap;
	}
	tg = &chk->tg[chk->n++];
	target_init(tg, host, port, role, chk->t_begin);
	tg->o.two_sessions = chk->two_sessions;
	list[0] = &tg->o.sess;
	list[1] = &tg->o.tls_sess;
	for (size_t i = 0; i < (tg->o.two_sessions ? 2U : 1U); i++)
		start_on(list[i], &scfg[i], ai);
	addr_to_text(&tg->o.sess.addr, tg->o.sess.addrlen, tg->o.addr_text,
		     sizeof tg->o.addr_text);
	return 0;
}

/* Resolve host (numeric service, no reverse DNS) and add every address (up
 * to ADDR_MAX) as a target. Returns the getaddrinfo error, 0 if resolved. */
static int add_host(const struct config *cfg, struct check *chk,
		    const struct session_config scfg[2], const char *host, const char *const role[2])
{
	struct addrinfo hints, *res = NULL;
	size_t naddrs = 0;
	int err;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = cfg->family;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = AI_NUMERICSERV;
	err = getaddrinfo(host, cfg->port, &hints, &res);
	if (err != 0)
		return err;
	for (struct addrinfo *ai = res; ai != NULL && naddrs < ADDR_MAX; ai = ai->ai_next)
		if (add_target(chk, scfg, host, cfg->port, role, ai) == 0)
			naddrs++;
	freeaddrinfo(res);
	return 0;
}

static const char *const ROLE_ADDRESS[2] = {"address", "addresses"};
static const char *const ROLE_MX[2] = {"MX host", "MX hosts"};

/* Append to the check's note, "; " between parts. */
static void note_add(struct check *chk, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note_add(struct check *chk, const char *fmt, ...)
{
	size_t len = strlen(chk->note);
	va_list ap;

	if (len > 0 && len + 2 < sizeof chk->note) {
		memcpy(chk->note + len, "; ", 3);
		len += 2;
	}
	va_start(ap, fmt);
	vsnprintf(chk->note + len, sizeof chk->note - len, fmt, ap);
	va_end(ap);
}

/* -D: the MX hosts of the domain in preference order, each with all its
 * addresses; no MX: the domain's own address (RFC 5321 5.1). */
static void add_domain(const struct config *cfg, struct check *chk,
		       const struct session_config scfg[2])
{
	struct mx_list mx;

	chk->mx = mx_lookup(cfg->domain, cfg->timeout, &mx);
	snprintf(chk->mx_error, sizeof chk->mx_error, "%s", mx.error);
	if (chk->mx == MX_NONE) {
		chk->resolve_error = add_host(cfg, chk, scfg, cfg->domain, ROLE_ADDRESS);
		if (chk->resolve_error == 0)
			note_add(chk, "%s has no MX record: its own address is checked (RFC 5321 5.1)",
				 cfg->domain);
		return;
	}
	if (chk->mx != MX_FOUND)
		return;
	chk->mx_hosts = mx.n;
	for (size_t i = 0; i < mx.n; i++) {
		int err = add_host(cfg, chk, scfg, mx.host[i].name, ROLE_MX);
		if (err != 0) {
			chk->noaddr++;
			note_add(chk, "MX host %s has no address: %s", mx.host[i].name,
				 gai_strerror(err));
		}
	}
}

/* --reference: one more target, plain EHLO, on the first address of the
 * reference host; it is judged only as the yardstick of the others. */
static void add_reference(const struct config *cfg, struct check *chk,
			  const struct session_config *scfg)
{
	static const char *const role[2] = { "reference", "references" };
	struct addrinfo hints, *res = NULL;
	struct target *ref = chk->ref; /* allocated by main() */

	memset(&hints, 0, sizeof hints);
	hints.ai_family = cfg->family;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = AI_NUMERICSERV;
	target_init(ref, cfg->ref_host, cfg->ref_port, role, chk->t_begin);
	chk->ref_error = getaddrinfo(cfg->ref_host, cfg->ref_port, &hints, &res);
	if (chk->ref_error != 0)
		return;
	if (res->ai_addrlen <= sizeof ref->o.sess.addr) {
		start_on(&ref->o.sess, scfg, res);
		addr_to_text(&ref->o.sess.addr, ref->o.sess.addrlen, ref->o.addr_text,
			     sizeof ref->o.addr_text);
	}
	freeaddrinfo(res);
}

/* The later of a target's sessions' ends, or 0 if one has not ended. */
static double target_end(const struct outcome *o)
{
	double e = o->sess.t.end;

	if (o->two_sessions && (o->tls_sess.t.end == 0 || e == 0))
		return 0;
	if (o->two_sessions && o->tls_sess.t.end > e)
		e = o->tls_sess.t.end;
	return e;
}

/* Hold every target's conversation(s) at once under one deadline. With
 * both -S and --probe, each target has two conversations: the probe's long
 * command may get the connection dropped, which must not cost the STARTTLS
 * witness. */
static void run_check(const struct config *cfg, const struct session_config scfg[3],
		      struct check *chk)
{
	struct session *list[TARGETS_MAX * 2 + 1];
	size_t nsess = 0;
	double deadline;

	chk->t_begin = session_now();
	deadline = chk->t_begin + cfg->timeout;
	if (cfg->domain[0] != '\0')
		add_domain(cfg, chk, scfg);
	else
		chk->resolve_error = add_host(cfg, chk, scfg, cfg->host, ROLE_ADDRESS);
	if (chk->ref != NULL)
		add_reference(cfg, chk, &scfg[2]);
	if (chk->ref != NULL && chk->ref->o.sess.addrlen > 0)
		list[nsess++] = &chk->ref->o.sess;
	for (size_t i = 0; i < chk->n; i++) {
		list[nsess++] = &chk->tg[i].o.sess;
		if (chk->tg[i].o.two_sessions)
			list[nsess++] = &chk->tg[i].o.tls_sess;
	}
	if (nsess > 0)
		session_run(list, nsess, deadline);
	chk->t_end = session_now();
	for (size_t i = 0; i < chk->n; i++) {
		struct outcome *o = &chk->tg[i].o;
		o->t_end = target_end(o) > 0 ? target_end(o) : chk->t_end;
	}
	if (chk->ref != NULL)
		chk->ref->o.t_end = chk->t_end;
}

/* ------------------------------------------------------------- baseline */

/* --baseline: the banner and keywords of the last run without findings,
 * kept with libmonitoringplug's state retention under the key
 * "baseline_<host>_<port>" (host octets other than letters and digits as
 * _XX), version BASELINE_VERSION. The state is one line (libmonitoringplug
 * reads at most 1023 octets): the banner's first line in hex (at most
 * BASELINE_BANNER_MAX octets of it), a tab, the keywords comma-separated
 * (as many as fit in BASELINE_LINE_MAX). */
#define BASELINE_VERSION 1
#define BASELINE_BANNER_MAX 300U
#define BASELINE_LINE_MAX 1000U
#define BASELINE_KW_MAX 64U
#define BASELINE_KEY_MAX 200U

/* libmonitoringplug's own (utils_base.c); its header does not declare it. */
extern monitoring_plugin *this_monitoring_plugin;

struct baseline {
	int have;                          /* read from the state */
	int cut;                           /* banner is the start of a longer line */
	char banner[BASELINE_BANNER_MAX + 1];
	char kwbuf[BASELINE_LINE_MAX + 1];
	const char *kw[BASELINE_KW_MAX];
	size_t nkw;
};

/* The state key for host and port into buf; -1 if it does not fit. */
static int baseline_key(const char *host, const char *port, char *buf, size_t bufsz)
{
	size_t n = 0;
	int w = snprintf(buf, bufsz, "baseline_");

	if (w < 0 || (size_t)w >= bufsz)
		return -1;
	n = (size_t)w;
	for (const char *p = host; *p; p++) {
		w = isalnum((unsigned char)*p) && (unsigned char)*p < 0x80
			    ? snprintf(buf + n, bufsz - n, "%c", *p)
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

/* Parse the state line into bl; -1 if it is not ours. */
static int baseline_parse(const char *line, struct baseline *bl)
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

/* The state line for what s saw into buf (size BASELINE_LINE_MAX + 1). */
static void baseline_format(const struct session *s, char *buf)
{
	const struct sf_reply_line *g = &s->greeting->lines[0];
	size_t blen = g->len > BASELINE_BANNER_MAX ? BASELINE_BANNER_MAX : g->len;
	struct sf_ehlo *e = NULL;
	size_t n = 0;

	for (size_t i = 0; i < blen; i++)
		if (g->raw[i] == '\0') {
			blen = i; /* a NUL ends what we keep */
			break;
		}
	n = (size_t)snprintf(buf, BASELINE_LINE_MAX + 1, "%c:", blen < g->len ? 'C' : 'W');
	for (size_t i = 0; i < blen && g->raw[i] != '\0'; i++)
		n += (size_t)snprintf(buf + n, BASELINE_LINE_MAX + 1 - n, "%02X",
				      (unsigned char)g->raw[i]);
	buf[n++] = '\t';
	buf[n] = '\0';
	if (s->ehlo == NULL || sf_ehlo_parse(s->ehlo, &e) != 0)
		return;
	for (size_t i = 0, k = 0; i < e->next && k < BASELINE_KW_MAX; i++) {
		const struct sf_ehlo_ext *x = &e->ext[i];
		size_t len = strlen(x->keyword);
		if (!x->valid || x->masked || n + len + 1 > BASELINE_LINE_MAX)
			continue;
		n += (size_t)snprintf(buf + n, BASELINE_LINE_MAX + 1 - n, "%s%s", k++ ? "," : "",
				      x->keyword);
	}
	sf_ehlo_free(e);
}

/* Make the state folder (as libmonitoringplug would) and try a file in it:
 * 0, or -1 with the reason in why. */
static int baseline_writable(char *why, size_t whysz)
{
	const monitoring_plugin *mp = this_monitoring_plugin;
	char dir[PATH_MAX], probe[PATH_MAX + 16];
	char *slash;
	int fd;

	if (mp == NULL || mp->state == NULL || mp->state->_filename == NULL ||
	    strlen(mp->state->_filename) >= sizeof dir) {
		snprintf(why, whysz, "no state file name");
		return -1;
	}
	snprintf(dir, sizeof dir, "%s", mp->state->_filename);
	slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir) {
		snprintf(why, whysz, "bad state file name");
		return -1;
	}
	*slash = '\0';
	for (char *p = dir + 1; ; p++) {
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

/* -------------------------------------------------------------- output */

/* The STARTTLS conversation: its own session with --probe, else the one. */
static const struct session *tls_session(const struct outcome *o)
{
	return o->two_sessions ? &o->tls_sess : &o->sess;
}

/* A growing text with a fixed cap; appends past the cap are cut. */
struct text {
	char buf[SUMMARY_MAX];
	size_t len;
};

static void text_add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->len >= sizeof t->buf - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(t->buf + t->len, sizeof t->buf - t->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	t->len += (size_t)n;
	if (t->len >= sizeof t->buf)
		t->len = sizeof t->buf - 1;
}

/* "host" on port 25, "host:port" or "[v6]:port" otherwise. */
static void target_name(const struct target *tg, char *buf, size_t bufsz)
{
	if (strcmp(tg->port, DEFAULT_PORT) == 0)
		snprintf(buf, bufsz, "%s", tg->host);
	else if (strchr(tg->host, ':') != NULL)
		snprintf(buf, bufsz, "[%s]:%s", tg->host, tg->port);
	else
		snprintf(buf, bufsz, "%s:%s", tg->host, tg->port);
}

/* The failure to hold the conversation, in words, or NULL if it was held. */
static void describe_failure(const struct config *cfg, const struct session *s,
			     const char *addr_text, const char *target, struct text *t)
{
	char ev[EVIDENCE_MAX];

	switch (s->outcome) {
	case SESS_CONNECT_FAILED:
		text_add(t, "cannot connect to %s (%s): %s", target, addr_text,
			 strerror(s->sys_errno));
		break;
	case SESS_TIMEOUT:
		text_add(t, "no %sanswer from %s (%s) within %g s, %s",
			 s->pending_at_close ? "complete " : "", target, addr_text,
			 cfg->timeout, session_step_words(s->failed_step));
		break;
	case SESS_RESET:
		text_add(t, "connection reset by %s (%s) %s", target, addr_text,
			 session_step_words(s->failed_step));
		break;
	case SESS_CLOSED:
		text_add(t, "%s (%s) closed the connection %s%s", target, addr_text,
			 session_step_words(s->failed_step),
			 s->pending_at_close ? ", in the middle of a reply" : "");
		break;
	case SESS_PROTOCOL:
		sf_escape(ev, sizeof ev, s->perr_line, s->perr_line_len);
		text_add(t, "%s (%s) does not speak SMTP: %s, %s (it sent \"%s\")", target,
			 addr_text, sf_perr_str(s->perr), session_step_words(s->failed_step), ev);
		break;
	case SESS_TOO_MUCH:
		text_add(t, "%s (%s) sent more than %u bytes %s", target, addr_text,
			 SF_CONN_BYTES_MAX, session_step_words(s->failed_step));
		break;
	case SESS_UNSOLICITED:
		if (s->failed_step == STEP_STARTTLS)
			text_add(t, "%s (%s) sent clear-text data after agreeing to STARTTLS, before the TLS handshake (RFC 3207 5 forbids it)",
				 target, addr_text);
		else
			text_add(t, "%s (%s) sent a reply before the command it answers, %s", target,
				 addr_text, session_step_words(s->failed_step));
		break;
	case SESS_IO_ERROR:
		text_add(t, "network error with %s (%s) %s: %s", target, addr_text,
			 session_step_words(s->failed_step), strerror(s->sys_errno));
		break;
	case SESS_TLS_FAILED:
		text_add(t, "TLS handshake with %s (%s) failed: %s", target, addr_text,
			 s->tls_err);
		break;
	case SESS_NOMEM:
		text_add(t, "out of memory");
		break;
	case SESS_RUNNING:
	case SESS_COMPLETE:
	default:
		break;
	}
}

/* When the check had what it needed: the last reply that matters, or the
 * failure. The courtesy wait for the reply to QUIT is not response time. */
static double check_end(const struct outcome *o)
{
	return o->sess.t.probe_done > 0 ? o->sess.t.probe_done : o->t_end;
}

/* The server ended the session itself (421) at some step. */
static const struct sf_reply *closing_reply(const struct session *s)
{
	/* every reply that answers a command, QUIT's excepted: a 421 there is
	 * only a rude goodbye */
	const struct sf_reply *r[4 + SESSION_PROBES] = {s->ehlo, s->helo, s->starttls_reply,
							s->ehlo_tls};

	for (size_t i = 0; i < SESSION_PROBES; i++)
		r[4 + i] = s->probe_reply[i];
	for (size_t i = 0; i < sizeof r / sizeof r[0]; i++)
		if (r[i] != NULL && r[i]->code == 421)
			return r[i];
	return NULL;
}

/* State of the conversation itself, before any finding. */
static enum sf_state failure_state(const struct outcome *o)
{
	if (o->sess.outcome == SESS_NOMEM)
		return SF_UNKNOWN;
	if (o->sess.outcome != SESS_COMPLETE)
		return SF_CRITICAL;
	if (o->two_sessions && o->tls_sess.outcome != SESS_COMPLETE)
		return SF_CRITICAL;
	if (o->sess.greeting != NULL && o->sess.greeting->code != 220)
		return SF_CRITICAL;
	if (closing_reply(&o->sess) != NULL)
		return SF_CRITICAL;
	return SF_OK;
}

/* Findings' indices ordered by their (overridden) state, worst first. */
static void order_findings(const struct config *cfg, const struct sf_verdict *v, size_t *order)
{
	for (size_t i = 0; i < v->nfindings; i++) {
		size_t j = i;
		int rank = sf_state_rank(cfg->state_of[v->findings[i].kind]);
		while (j > 0 && sf_state_rank(cfg->state_of[v->findings[order[j - 1]].kind]) < rank) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
	}
}

static void escaped_line(char *buf, size_t bufsz, const char *raw)
{
	sf_escape(buf, bufsz, raw, strlen(raw));
}

/* Long output: each finding with its evidence and remedy. */
static void print_findings(const struct config *cfg, const struct sf_verdict *v, const size_t *order)
{
	char ev[EVIDENCE_MAX];

	for (size_t n = 0; n < v->nfindings; n++) {
		const struct sf_finding *f = &v->findings[order[n]];
		escaped_line(ev, sizeof ev, f->summary);
		printf("[%s] %s\n", sf_state_name(cfg->state_of[f->kind]), ev);
		for (size_t i = 0; i < f->nevidence && i < EVIDENCE_LINES_MAX; i++) {
			escaped_line(ev, sizeof ev, f->evidence[i]);
			printf("  seen: %s\n", ev);
		}
		if (f->nevidence > EVIDENCE_LINES_MAX)
			printf("  seen: ... and %zu more lines\n", f->nevidence - EVIDENCE_LINES_MAX);
		if (f->box != NULL) {
			int told = 0; /* the same remedy once is enough */
			for (size_t m = 0; m < n && !told; m++)
				told = v->findings[order[m]].box == f->box;
			printf("  looks like: %s\n", f->box->name);
			if (!told && f->box->remedy[0] != '\0')
				printf("  remedy: %s\n", f->box->remedy);
		}
	}
}

static void print_reply(const char *label, const struct sf_reply *r)
{
	char ev[EVIDENCE_MAX];

	if (r == NULL)
		return;
	for (size_t i = 0; i < r->nlines; i++) {
		sf_escape(ev, sizeof ev, r->lines[i].raw, r->lines[i].len);
		printf("%s%s\n", i == 0 ? label : "          ", ev);
	}
}

static void print_extensions(const char *label, const struct sf_reply *r)
{
	struct sf_ehlo *e = NULL;
	char ev[EVIDENCE_MAX];

	if (r == NULL || r->code / 100 != 2 || sf_ehlo_parse(r, &e) != 0)
		return;
	printf("%s (%zu):", label, e->next);
	for (size_t i = 0; i < e->next && i < EXTENSIONS_SHOWN_MAX; i++) {
		size_t len = 0;
		const char *text = sf_reply_text(r, e->ext[i].line, &len);
		sf_escape(ev, sizeof ev, text, len);
		printf("%s %s%s", i ? "," : "", ev, e->ext[i].masked ? " (masked)" : "");
	}
	if (e->next > EXTENSIONS_SHOWN_MAX)
		printf(", ... (%zu more)", e->next - EXTENSIONS_SHOWN_MAX);
	printf("\n");
	sf_ehlo_free(e);
}

static void print_transcript(const struct session *s)
{
	char ev[EVIDENCE_MAX];

	printf("Transcript:\n");
	for (size_t i = 0; i < s->ntranscript; i++) {
		escaped_line(ev, sizeof ev, s->transcript[i]);
		printf("  %s\n", ev);
	}
}

/* One time for perfdata: seconds with 6 decimals, "U" if not measured.
 * Returns the unit to print with it ("s", none for "U"). */
static const char *fmt_time(char *buf, size_t bufsz, double from, double to)
{
	if (from > 0 && to >= from) {
		snprintf(buf, bufsz, "%.6f", to - from);
		return "s";
	}
	snprintf(buf, bufsz, "U");
	return "";
}

/* sf_perfdata_append with the label after "PREFIX_" when prefix is not
 * empty (a target's host or address when the check has several). */
static void perf_add(char *pd, size_t pdsz, const char *prefix, const char *label,
		     const char *val, const char *uom, const char *warn, const char *crit,
		     const char *min, const char *max)
{
	char full[HOST_MAX + 64];

	snprintf(full, sizeof full, "%s%s%s", prefix, prefix[0] ? "_" : "", label);
	sf_perfdata_append(pd, pdsz, full, val, uom, warn, crit, min, max);
}

/* Append one target's perfdata to pd, labels after prefix (see perf_add). */
static void build_perfdata(const struct config *cfg, const struct outcome *o,
			   const struct sf_verdict *v, const char *prefix, char *pd, size_t pdsz)
{
	const struct session_times *t = &o->sess.t;
	char val[32];
	const char *uom;

	uom = fmt_time(val, sizeof val, o->t_begin, check_end(o));
	perf_add(pd, pdsz, prefix, "time", val, uom, cfg->warn, cfg->crit, "0", NULL);
	uom = fmt_time(val, sizeof val, t->start, t->connected);
	perf_add(pd, pdsz, prefix, "time_connect", val, uom, NULL, NULL, "0", NULL);
	uom = fmt_time(val, sizeof val, t->connected, t->greeting);
	perf_add(pd, pdsz, prefix, "time_banner", val, uom, NULL, NULL, "0", NULL);
	uom = fmt_time(val, sizeof val, t->ehlo_sent, t->ehlo_done);
	perf_add(pd, pdsz, prefix, "time_ehlo", val, uom, NULL, NULL, "0", NULL);
	if (v != NULL && o->sess.ehlo != NULL)
		snprintf(val, sizeof val, "%u", v->extensions);
	else
		snprintf(val, sizeof val, "U");
	perf_add(pd, pdsz, prefix, "extensions", val, "", NULL, NULL, "0", NULL);
	if (v != NULL && o->sess.ehlo != NULL)
		snprintf(val, sizeof val, "%u", v->masked_extensions);
	perf_add(pd, pdsz, prefix, "masked_extensions", val, "", NULL, NULL, "0", NULL);
	if (v != NULL)
		snprintf(val, sizeof val, "%d", v->banner_masked);
	else
		snprintf(val, sizeof val, "U");
	perf_add(pd, pdsz, prefix, "banner_masked", val, "", NULL, NULL, "0", "1");
	if (cfg->ref_host[0] != '\0') {
		if (v != NULL && v->reference_missing > 0)
			snprintf(val, sizeof val, "%u", v->reference_missing);
		else if (v != NULL && o->sess.ehlo != NULL)
			snprintf(val, sizeof val, "0");
		else
			snprintf(val, sizeof val, "U");
		perf_add(pd, pdsz, prefix, "reference_missing", val, "", NULL, NULL, "0", NULL);
	}
	if (!cfg->starttls)
		return;
	uom = fmt_time(val, sizeof val, tls_session(o)->t.tls_start, tls_session(o)->t.tls_done);
	perf_add(pd, pdsz, prefix, "time_tls", val, uom, NULL, NULL, "0", NULL);
	if (v != NULL && tls_session(o)->ehlo_tls != NULL)
		snprintf(val, sizeof val, "%u", v->tls_extensions);
	else
		snprintf(val, sizeof val, "U");
	perf_add(pd, pdsz, prefix, "tls_extensions", val, "", NULL, NULL, "0", NULL);
	if (v != NULL && tls_session(o)->ehlo_tls != NULL)
		snprintf(val, sizeof val, "%u", v->stripped_extensions);
	perf_add(pd, pdsz, prefix, "stripped_extensions", val, "", NULL, NULL, "0", NULL);
}

/* The summary of findings whose state is not OK, worst first, then the box. */
static enum sf_state summarize_findings(const struct config *cfg, const struct sf_verdict *v,
					const size_t *order, struct text *t)
{
	enum sf_state st = SF_OK;
	const struct sf_box *box = NULL;
	char ev[EVIDENCE_MAX];
	size_t shown_n = 0;

	for (size_t n = 0; n < v->nfindings; n++) {
		const struct sf_finding *f = &v->findings[order[n]];
		enum sf_state fs = cfg->state_of[f->kind];
		if (fs == SF_OK)
			continue;
		st = sf_state_worst(st, fs);
		escaped_line(ev, sizeof ev, f->summary);
		text_add(t, "%s%s", t->len ? "; " : "", ev);
		if (box == NULL)
			box = f->box;
		shown_n++;
	}
	if (shown_n > 0 && box != NULL)
		text_add(t, " - looks like %s", box->name);
	return st;
}

/* What the verdict needs from the sessions. probes and sent are storage the
 * input points into. */
static void fill_input(const struct config *cfg, const struct outcome *o,
		       const struct target *ref, struct sf_verdict_input *in,
		       struct sf_probe *probes, char (*sent)[SESSION_OUT_MAX])
{
	const struct session *s = &o->sess;
	const struct session *t = tls_session(o);

	memset(in, 0, sizeof *in);
	in->greeting = s->greeting;
	in->ehlo = s->ehlo;
	in->helo = s->helo;
	in->required = cfg->required.word;
	in->nrequired = cfg->required.n;
	in->starttls_tried = cfg->starttls;
	in->starttls = t->starttls_reply;
	in->tls_error = t->tls_failed ? t->tls_err : NULL;
	in->ehlo_tls = t->ehlo_tls;
	in->tls_ignore = cfg->tls_ignore.word;
	in->ntls_ignore = cfg->tls_ignore.n;
	for (size_t i = 0; i < s->probes_sent && i < SESSION_PROBES; i++) {
		session_probe_command(i, sent[i], SESSION_OUT_MAX, &probes[i].keyword);
		probes[i].sent = sent[i];
		probes[i].reply = s->probe_reply[i];
		probes[i].dropped = s->probe_dropped && i + 1 == s->probes_sent;
	}
	in->probes = probes;
	in->nprobes = s->probes_sent;
	if (ref != NULL && ref->o.sess.greeting != NULL && ref->o.sess.greeting->code == 220) {
		in->ref_greeting = ref->o.sess.greeting;
		in->ref_ehlo = ref->o.sess.ehlo;
	}
}

/* Informational findings (state OK) are named after an OK summary. */
static void summarize_notes(const struct config *cfg, const struct sf_verdict *v, struct text *t)
{
	char ev[EVIDENCE_MAX];

	for (size_t i = 0; i < v->nfindings; i++) {
		const struct sf_finding *f = &v->findings[i];
		if (cfg->state_of[f->kind] != SF_OK)
			continue;
		escaped_line(ev, sizeof ev, f->summary);
		text_add(t, "; note: %s", ev);
	}
}

/* What report() makes of one target. */
struct judged {
	struct sf_verdict *v; /* NULL without a greeting */
	size_t *order;        /* v's findings, worst (overridden) state first; owned */
	enum sf_state st;
	int inspected;        /* a finding whose state is not OK */
	double total;         /* response time */
	struct text sum;      /* one-line summary of this target */
};

/* Judge one target: state, summary and findings. Returns -1 when out of
 * memory (j holds nothing to free then). */
static int judge_target(const struct config *cfg, const struct check *chk,
			const struct target *tg, thresholds *thr, struct judged *j)
{
	const struct outcome *o = &tg->o;
	const struct session *s = &o->sess;
	char target[HOST_MAX + 16];
	char ev[EVIDENCE_MAX];
	enum sf_state fs;
	int tstate;

	memset(j, 0, sizeof *j);
	j->st = failure_state(o);
	j->total = check_end(o) - o->t_begin;
	target_name(tg, target, sizeof target);
	if (s->greeting != NULL) {
		struct sf_verdict_input in;
		struct sf_probe probes[SESSION_PROBES];
		char sent[SESSION_PROBES][SESSION_OUT_MAX];
		fill_input(cfg, o, chk->ref, &in, probes, sent);
		if (chk->bl != NULL && chk->bl->have) {
			in.baseline_banner = chk->bl->banner;
			in.baseline_banner_cut = chk->bl->cut;
			in.baseline_kw = chk->bl->kw;
			in.nbaseline_kw = chk->bl->nkw;
		}
		if (sf_verdict_make(&in, &j->v) != 0)
			return -1;
		j->order = calloc(j->v->nfindings ? j->v->nfindings : 1, sizeof *j->order);
		if (j->order == NULL) {
			sf_verdict_free(j->v);
			j->v = NULL;
			return -1;
		}
		order_findings(cfg, j->v, j->order);
	}
	describe_failure(cfg, s, o->addr_text, target, &j->sum);
	if (o->two_sessions && o->tls_sess.outcome != SESS_COMPLETE) {
		text_add(&j->sum, "%sSTARTTLS session: ", j->sum.len ? "; " : "");
		describe_failure(cfg, &o->tls_sess, o->addr_text, target, &j->sum);
	}
	if (s->greeting != NULL && s->greeting->code != 220) {
		sf_escape(ev, sizeof ev, s->greeting->lines[0].raw, s->greeting->lines[0].len);
		text_add(&j->sum, "%s%s refuses the session: greeting \"%s\"", j->sum.len ? "; " : "",
			 target, ev);
	}
	if (closing_reply(s) != NULL) {
		const struct sf_reply *r = closing_reply(s);
		sf_escape(ev, sizeof ev, r->lines[0].raw, r->lines[0].len);
		text_add(&j->sum, "%s%s ended the session itself: \"%s\"", j->sum.len ? "; " : "",
			 target, ev);
	}
	if (j->v != NULL) {
		fs = summarize_findings(cfg, j->v, j->order, &j->sum);
		j->inspected = fs != SF_OK;
		j->st = sf_state_worst(j->st, fs);
	}
	tstate = get_status(j->total, thr);
	if (s->outcome == SESS_COMPLETE && tstate != SF_OK) {
		j->st = sf_state_worst(j->st, (enum sf_state)tstate);
		text_add(&j->sum, "%sresponse time %.3f s over the %s threshold",
			 j->sum.len ? "; " : "", j->total,
			 tstate == SF_CRITICAL ? "critical" : "warning");
	}
	if (j->sum.len == 0) {
		unsigned next = j->v ? j->v->extensions : 0;
		text_add(&j->sum, "%s (%s): no SMTP inspection seen, %u ESMTP extension%s, %.3f s",
			 target, o->addr_text, next, next == 1 ? "" : "s", j->total);
	}
	if (j->v != NULL)
		summarize_notes(cfg, j->v, &j->sum);
	return 0;
}

/* The long output of one target: findings, replies, transcript. */
static void print_details(const struct config *cfg, const struct outcome *o,
			  const struct judged *j)
{
	const struct session *s = &o->sess;

	if (j->v != NULL)
		print_findings(cfg, j->v, j->order);
	print_reply("Greeting: ", s->greeting);
	print_extensions("Extensions", s->ehlo);
	if (tls_session(o)->tls_desc[0] != '\0')
		printf("TLS: %s (%s)\n", tls_session(o)->tls_desc,
		       tls_library() ? tls_library() : "?");
	print_extensions("Extensions inside TLS", tls_session(o)->ehlo_tls);
	if (cfg->verbose) {
		print_transcript(s);
		if (o->two_sessions)
			print_transcript(&o->tls_sess);
	}
}

/* The name in target i's perfdata labels: its host, or its address when
 * the host has several targets. */
static const char *perf_label(const struct check *chk, size_t i)
{
	for (size_t k = 0; k < chk->n; k++)
		if (k != i && strcmp(chk->tg[k].host, chk->tg[i].host) == 0)
			return chk->tg[i].o.addr_text;
	return chk->tg[i].host;
}

/* Totals of a check with several targets, under the labels of one. */
static void build_totals(const struct config *cfg, const struct check *chk,
			 const struct judged *j, char *pd, size_t pdsz)
{
	unsigned masked = 0, banner = 0, stripped = 0;
	double end = 0;
	char val[32];
	const char *uom;

	for (size_t i = 0; i < chk->n; i++) {
		if (check_end(&chk->tg[i].o) > end)
			end = check_end(&chk->tg[i].o);
		if (j[i].v == NULL)
			continue;
		masked += j[i].v->masked_extensions;
		banner += j[i].v->banner_masked ? 1U : 0U;
		stripped += j[i].v->stripped_extensions;
	}
	uom = fmt_time(val, sizeof val, chk->t_begin, end);
	perf_add(pd, pdsz, "", "time", val, uom, cfg->warn, cfg->crit, "0", NULL);
	snprintf(val, sizeof val, "%zu", chk->n);
	perf_add(pd, pdsz, "", "targets", val, "", NULL, NULL, "0", NULL);
	snprintf(val, sizeof val, "%u", masked);
	perf_add(pd, pdsz, "", "masked_extensions", val, "", NULL, NULL, "0", NULL);
	snprintf(val, sizeof val, "%u", banner);
	perf_add(pd, pdsz, "", "banner_masked", val, "", NULL, NULL, "0", NULL);
	if (cfg->starttls) {
		snprintf(val, sizeof val, "%u", stripped);
		perf_add(pd, pdsz, "", "stripped_extensions", val, "", NULL, NULL, "0", NULL);
	}
}

/* How many of the check's units are behind inspection: MX hosts (one with
 * any address behind a box counts) or, for one host, addresses. */
static void count_inspected(const struct check *chk, const struct judged *j, size_t *total,
			    size_t *inspected)
{
	int by_host = chk->tg[0].role == ROLE_MX[0];

	*total = *inspected = 0;
	for (size_t i = 0; i < chk->n; i++) {
		int any = j[i].inspected;
		if (by_host) {
			int seen = 0;
			for (size_t k = 0; k < i && !seen; k++)
				seen = strcmp(chk->tg[k].host, chk->tg[i].host) == 0;
			if (seen)
				continue; /* counted with its first address */
			for (size_t k = i + 1; k < chk->n; k++)
				any |= strcmp(chk->tg[k].host, chk->tg[i].host) == 0 && j[k].inspected;
		}
		(*total)++;
		*inspected += any ? 1U : 0U;
	}
}

/* Several targets: "K of N addresses behind SMTP inspection", then each
 * target that is not OK; one long-output block per target. */
static enum sf_state report_many(const struct config *cfg, const struct check *chk,
				 const struct judged *j, enum sf_state extra)
{
	static char pd[PERFDATA_MULTI_MAX];
	struct text sum = {{0}, 0};
	enum sf_state st = extra;
	size_t inspected = 0, total = 0;

	pd[0] = '\0';
	for (size_t i = 0; i < chk->n; i++)
		st = sf_state_worst(st, j[i].st);
	count_inspected(chk, j, &total, &inspected);
	text_add(&sum, "%zu of %zu %s behind SMTP inspection", inspected, total,
		 chk->tg[0].roles);
	for (size_t i = 0; i < chk->n; i++)
		if (j[i].st != SF_OK)
			text_add(&sum, "; %s: %s", chk->tg[i].o.addr_text, j[i].sum.buf);
	if (chk->note[0] != '\0')
		text_add(&sum, "; %s", chk->note);
	if (chk->noaddr > 0)
		st = sf_state_worst(st, SF_WARNING);
	build_totals(cfg, chk, j, pd, sizeof pd);
	for (size_t i = 0; i < chk->n; i++)
		build_perfdata(cfg, &chk->tg[i].o, j[i].v, perf_label(chk, i), pd, sizeof pd);
	printf("%s %s - %s|%s\n", PREFIX, sf_state_name(st), sum.buf, pd);
	for (size_t i = 0; i < chk->n; i++) {
		printf("\n== %s %s (%s): %s - %s\n", chk->tg[i].role, chk->tg[i].host,
		       chk->tg[i].o.addr_text, sf_state_name(j[i].st), j[i].sum.buf);
		print_details(cfg, &chk->tg[i].o, &j[i]);
	}
	return st;
}

/* One target: the output of a single-host check. */
static enum sf_state report_one(const struct config *cfg, const struct check *chk,
				const struct target *tg, const struct judged *j, enum sf_state extra)
{
	char pd[PERFDATA_MAX];

	enum sf_state st = sf_state_worst(j->st, extra);

	pd[0] = '\0';
	build_perfdata(cfg, &tg->o, j->v, "", pd, sizeof pd);
	if (chk->noaddr > 0)
		st = sf_state_worst(st, SF_WARNING);
	printf("%s %s - %s%s%s|%s\n", PREFIX, sf_state_name(st), j->sum.buf,
	       chk->note[0] ? "; " : "", chk->note, pd);
	print_details(cfg, &tg->o, j);
	return st;
}

/* A getaddrinfo error that says the name has no address, not that the
 * answer could not be had (EAI_NODATA, the usual one, is a GNU name). */
static int no_such_name(int err)
{
	return err != 0 && err != EAI_AGAIN && err != EAI_FAIL && err != EAI_MEMORY &&
	       err != EAI_SYSTEM;
}

/* -D: when the domain has no mail server to check, or its MX records
 * cannot be had, say so and return the state; else return -1. */
static int no_mail_server(const struct config *cfg, const struct check *chk)
{
	const char *d = cfg->domain;

	switch (chk->mx) {
	case MX_NXDOMAIN:
		printf("%s CRITICAL - %s has no mail server: the domain does not exist (NXDOMAIN)\n",
		       PREFIX, d);
		return SF_CRITICAL;
	case MX_NULL:
		printf("%s CRITICAL - %s has no mail server: its null MX record says it accepts no mail (RFC 7505)\n",
		       PREFIX, d);
		return SF_CRITICAL;
	case MX_FAILED:
		printf("%s UNKNOWN - cannot look up the MX records of %s: %s\n", PREFIX, d,
		       chk->mx_error);
		return SF_UNKNOWN;
	case MX_NONE:
		if (no_such_name(chk->resolve_error)) {
			printf("%s CRITICAL - %s has no mail server: no MX record and no address\n",
			       PREFIX, d);
			return SF_CRITICAL;
		}
		if (chk->resolve_error != 0) {
			printf("%s UNKNOWN - %s has no MX record and its address cannot be resolved: %s\n",
			       PREFIX, d, gai_strerror(chk->resolve_error));
			return SF_UNKNOWN;
		}
		return -1;
	case MX_FOUND:
	default:
		if (chk->n > 0)
			return -1;
		printf("%s CRITICAL - %s has no mail server: none of its %zu MX host%s has an address (%s)\n",
		       PREFIX, d, chk->mx_hosts, chk->mx_hosts == 1 ? "" : "s", chk->note);
		return SF_CRITICAL;
	}
}

/* --baseline: the last clean run from the state; a line that is not ours
 * is dropped (and recorded anew). */
static void baseline_load(struct check *chk)
{
	state_data *sd = np_state_read();

	if (sd == NULL || sd->data == NULL)
		return;
	if (baseline_parse((const char *)sd->data, chk->bl) != 0)
		note_add(chk, "the baseline state is unreadable and is recorded anew");
}

/* --baseline after the verdict: a clean run is recorded (the first one
 * says so). Returns the state it adds: UNKNOWN when the state folder
 * cannot be written. */
static enum sf_state baseline_keep(struct check *chk, const struct target *tg,
				   const struct judged *j)
{
	const struct session *s = &tg->o.sess;
	char line[BASELINE_LINE_MAX + 1];
	char why[PATH_MAX + 64];
	int clean = s->outcome == SESS_COMPLETE && s->greeting != NULL &&
		    s->greeting->code == 220 && s->ehlo != NULL && s->ehlo->code / 100 == 2 &&
		    j->st == SF_OK;

	if (!clean) {
		if (!chk->bl->have)
			note_add(chk, "no baseline recorded yet: this run is not clean");
		return SF_OK;
	}
	if (baseline_writable(why, sizeof why) != 0) {
		note_add(chk, "cannot keep the baseline: %s", why);
		return SF_UNKNOWN;
	}
	baseline_format(s, line);
	np_state_write_string(0, line);
	if (!chk->bl->have)
		note_add(chk, "baseline recorded (first run)");
	return SF_OK;
}

/* --reference: the state its own failure adds (UNKNOWN: nothing to compare
 * with), said in the check's note. */
static enum sf_state reference_failure(const struct config *cfg, struct check *chk)
{
	struct text t = {{0}, 0};
	char name[HOST_MAX + 16];
	const struct session *s;

	if (chk->ref == NULL)
		return SF_OK;
	s = &chk->ref->o.sess;
	target_name(chk->ref, name, sizeof name);
	if (chk->ref_error != 0)
		text_add(&t, "cannot resolve %s: %s", cfg->ref_host, gai_strerror(chk->ref_error));
	else if (s->outcome != SESS_COMPLETE)
		describe_failure(cfg, s, chk->ref->o.addr_text, name, &t);
	else if (s->greeting == NULL || s->greeting->code != 220)
		text_add(&t, "%s (%s) refuses the session", name, chk->ref->o.addr_text);
	if (t.len == 0)
		return SF_OK;
	note_add(chk, "no comparison with the reference path: %s", t.buf);
	return SF_UNKNOWN;
}

/* --reference: what the path without the box said, after the rest. */
static void print_reference(const struct check *chk)
{
	char name[HOST_MAX + 16];

	if (chk->ref == NULL)
		return;
	target_name(chk->ref, name, sizeof name);
	printf("Reference path: %s (%s)\n", name, chk->ref->o.addr_text);
	print_reply("Reference greeting: ", chk->ref->o.sess.greeting);
	print_extensions("Reference extensions", chk->ref->o.sess.ehlo);
}

static enum sf_state report(const struct config *cfg, struct check *chk, thresholds *thr)
{
	struct judged *j;
	enum sf_state st;
	int nomem = 0, nomail;

	if (cfg->domain[0] != '\0' && (nomail = no_mail_server(cfg, chk)) >= 0)
		return (enum sf_state)nomail;
	if (chk->resolve_error != 0) {
		printf("%s UNKNOWN - cannot resolve %s: %s\n", PREFIX, cfg->host,
		       gai_strerror(chk->resolve_error));
		return SF_UNKNOWN;
	}
	if (chk->n == 0) {
		printf("%s UNKNOWN - %s has no usable address\n", PREFIX, cfg->host);
		return SF_UNKNOWN;
	}
	j = calloc(chk->n, sizeof *j);
	if (j == NULL) {
		printf("%s UNKNOWN - out of memory\n", PREFIX);
		return SF_UNKNOWN;
	}
	if (chk->bl != NULL && chk->n != 1) {
		printf("%s UNKNOWN - --baseline keeps one server's state, but %s has %zu addresses (give one with -H)\n",
		       PREFIX, cfg->host, chk->n);
		free(j);
		return SF_UNKNOWN;
	}
	if (chk->bl != NULL)
		baseline_load(chk);
	for (size_t i = 0; i < chk->n && !nomem; i++)
		nomem = judge_target(cfg, chk, &chk->tg[i], thr, &j[i]) != 0;
	if (nomem) {
		printf("%s UNKNOWN - out of memory while judging the replies\n", PREFIX);
		st = SF_UNKNOWN;
	} else {
		enum sf_state rs = reference_failure(cfg, chk);
		if (chk->bl != NULL)
			rs = sf_state_worst(rs, baseline_keep(chk, &chk->tg[0], &j[0]));
		if (chk->n == 1)
			st = report_one(cfg, chk, &chk->tg[0], &j[0], rs);
		else
			st = report_many(cfg, chk, j, rs);
		print_reference(chk);
	}
	for (size_t i = 0; i < chk->n; i++) {
		sf_verdict_free(j[i].v);
		free(j[i].order);
	}
	free(j);
	return st;
}

/* ---------------------------------------------------------------- main */

static void free_thresholds(thresholds *t)
{
	range *r[2];

	if (t == NULL)
		return;
	r[0] = t->warning;
	r[1] = t->critical;
	for (int i = 0; i < 2; i++) {
		if (r[i] != NULL) {
			free(r[i]->text);
			free(r[i]);
		}
	}
	free(t);
}

/* np_extra_opts() returns a new array when it added options; free what it
 * allocated (the strings that are not from the original argv). */
static void free_extra_opts(char **newargv, int newargc, char **argv, int argc)
{
	if (newargv == argv)
		return;
	for (int i = 1; i < newargc; i++) {
		int original = 0;
		for (int j = 1; j < argc && !original; j++)
			original = newargv[i] == argv[j];
		if (!original)
			free(newargv[i]);
	}
	free(newargv);
}

#ifdef SF_TLS_TWIN
/* The statically linked plugin has no TLS library (plugins/tls_none.c): a
 * check that needs TLS is handed, whole, to its dynamically linked twin
 * SF_TLS_TWIN in the same folder, with the same arguments (it reads any
 * --extra-opts itself) and environment, before any connection or timer.
 * Returns only on failure: -1, with the reason in err. */
static int exec_tls_twin(char *const argv[], char *err, size_t errsz)
{
	char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof path);
	char *slash;

	if (n <= 0 || (size_t)n >= sizeof path) {
		snprintf(err, errsz, "cannot tell where %s is (/proc/self/exe): %s", progname,
			 n < 0 ? strerror(errno) : "name too long");
		return -1;
	}
	path[n] = '\0';
	slash = strrchr(path, '/');
	if (slash == NULL || (size_t)(slash + 1 - path) + sizeof SF_TLS_TWIN > sizeof path) {
		snprintf(err, errsz, "cannot tell where %s is (/proc/self/exe)", progname);
		return -1;
	}
	memcpy(slash + 1, SF_TLS_TWIN, sizeof SF_TLS_TWIN);
	fflush(stdout);
	execv(path, argv);
	snprintf(err, errsz, "cannot run %.300s: %s", path, strerror(errno));
	return -1;
}
#endif

int main(int argc, char **argv)
{
	struct config cfg;
	struct session_config scfg[3];
	struct check chk;
	struct baseline bl;
	thresholds *thr = NULL;
	char **av;
	int ac = argc;
	enum sf_state st;

	/* A peer that goes away makes the TLS library's writes raise SIGPIPE;
	 * every write's result is checked instead. */
	signal(SIGPIPE, SIG_IGN);
	np_init(plugin_name, argc, argv);
	av = np_extra_opts(&ac, argv, progname);
	parse_options(ac, av, &cfg);
	if (_set_thresholds(&thr, cfg.warn, cfg.crit) != 0)
		usage_fail("the -w/-c thresholds cannot be parsed");
	if (cfg.starttls || cfg.implicit_tls) {
		/* Loaded before any connection: a host without a usable TLS
		 * library is our problem (UNKNOWN), not the server's, and its
		 * cost stays out of time_tls. */
		char err[TLS_LOAD_ERR_MAX];
		int failed;
#ifdef SF_TLS_TWIN
		failed = exec_tls_twin(argv, err, sizeof err); /* returns only if it failed */
#else
		if (tls_select(getenv(TLS_ENV), err, sizeof err) != 0)
			usage_fail("%s: %s", TLS_ENV, err);
		failed = tls_load(err, sizeof err) != 0;
#endif
		if (failed) {
			printf("%s UNKNOWN - cannot use TLS: %s\n", PREFIX, err);
			free_thresholds(thr);
			free_extra_opts(av, ac, argv, argc);
			np_cleanup();
			return SF_UNKNOWN;
		}
	}
	arm_backstop(&cfg);
	if (cfg.baseline) {
		char key[BASELINE_KEY_MAX + 1];
		if (baseline_key(cfg.host, cfg.port, key, sizeof key) != 0)
			usage_fail("--baseline: the host name is too long for a state key");
		np_enable_state(key, BASELINE_VERSION);
	}

	memset(scfg, 0, sizeof scfg);
	scfg[0].ehlo_name = cfg.fqdn;
	scfg[0].quit_wait = QUIT_WAIT;
	scfg[0].starttls = cfg.starttls;
	scfg[0].implicit_tls = cfg.implicit_tls;
	scfg[0].probe = cfg.probe;
	scfg[0].sni = cfg.host[0] ? cfg.host : NULL; /* -D: no one name for all */
	memset(&chk, 0, sizeof chk);
	memset(&bl, 0, sizeof bl);
	chk.bl = cfg.baseline ? &bl : NULL;
	/* one target to begin with, more as addresses come (add_target);
	 * --reference has one of its own */
	chk.cap = 1;
	chk.tg = calloc(chk.cap, sizeof *chk.tg);
	if (cfg.ref_host[0] != '\0')
		chk.ref = calloc(1, sizeof *chk.ref);
	if (chk.tg == NULL || (cfg.ref_host[0] != '\0' && chk.ref == NULL)) {
		printf("%s UNKNOWN - out of memory\n", PREFIX);
		free(chk.tg);
		free(chk.ref);
		return SF_UNKNOWN;
	}
	scfg[2] = scfg[0]; /* --reference: the plain conversation */
	scfg[2].starttls = 0;
	scfg[2].probe = 0;
	scfg[2].sni = NULL;
	if (cfg.starttls && cfg.probe) {
		chk.two_sessions = 1;
		scfg[1] = scfg[0];
		scfg[0].starttls = 0;
		scfg[1].probe = 0;
	}
	run_check(&cfg, scfg, &chk);
	st = report(&cfg, &chk, thr);

	for (size_t i = 0; i < chk.n; i++) {
		session_cleanup(&chk.tg[i].o.sess);
		session_cleanup(&chk.tg[i].o.tls_sess);
	}
	if (chk.ref != NULL)
		session_cleanup(&chk.ref->o.sess);
	free(chk.ref);
	free(chk.tg);
	tls_unload();
	free_thresholds(thr);
	free_extra_opts(av, ac, argv, argc);
	if (this_monitoring_plugin != NULL && this_monitoring_plugin->state != NULL) {
		free(this_monitoring_plugin->state->_filename); /* np_cleanup forgets it */
		this_monitoring_plugin->state->_filename = NULL;
	}
	np_cleanup();
	return st;
}

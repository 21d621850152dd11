/*
 * options.c - argv to a const struct config (see options.h).
 *
 * Every message quotes the value it refuses escaped (sf_escape), so a
 * control character or a '|' in an option cannot break the status line.
 * Nothing here prints, exits or touches the network; main() reports an
 * OPT_ERROR as UNKNOWN.
 */
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sf_ascii.h"
#include "sf_text.h"

/* Bad usage: the message into err; -1. */
static int fail(char *err, size_t errsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
	return -1;
}

/* An option value safely inside a message. */
static const char *shown(const char *arg, char *buf, size_t bufsz)
{
	sf_escape(buf, bufsz, arg, strlen(arg));
	return buf;
}

int opt_number(const char *s, double *out)
{
	char *end = NULL;
	double v;

	if (s == NULL || *s == '\0' || strchr(" \t\n", s[0]) != NULL)
		return -1;
	/* strtod takes hex and "inf"/"nan": we want plain decimals only */
	for (const char *p = s; *p; p++)
		if (strchr("0123456789.-+eE", *p) == NULL)
			return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(v))
		return -1;
	*out = v;
	return 0;
}

int opt_port(const char *s, long *out)
{
	char *end = NULL;
	long v;

	if (s == NULL || s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 || v > 65535)
		return -1;
	*out = v;
	return 0;
}

int opt_range(const char *s)
{
	const char *colon;
	double start = 0, end = 0;
	int has_end = 0, start_inf = 0;
	char left[64];
	size_t llen;

	if (s == NULL || *s == '\0' || strlen(s) >= sizeof left)
		return -1;
	if (*s == '@')
		s++;
	colon = strchr(s, ':');
	if (colon == NULL) {
		/* "N" is 0:N: libmonitoringplug refuses an end below 0 */
		if (opt_number(s, &end) != 0 || end < 0)
			return -1;
		return 0;
	}
	llen = (size_t)(colon - s);
	memcpy(left, s, llen);
	left[llen] = '\0';
	if (strcmp(left, "~") == 0)
		start_inf = 1;
	else if (opt_number(left, &start) != 0)
		return -1;
	if (colon[1] != '\0') {
		if (opt_number(colon + 1, &end) != 0)
			return -1;
		has_end = 1;
	}
	return !start_inf && has_end && start > end ? -1 : 0;
}

/* 1 if c may stand in a host name or an address (IPv6 with a zone too):
 * ASCII letters and digits and ".-_:%"; nothing else reaches getaddrinfo(). */
static int host_char(unsigned char c)
{
	return sf_is_alnum(c) || (c != '\0' && strchr(".-_:%", c) != NULL);
}

/* Copy host[0..len) into out when it is a usable host. */
static int host_copy(const char *host, size_t len, char *out, size_t outsz)
{
	if (len == 0 || len > HOST_MAX || len >= outsz)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (!host_char((unsigned char)host[i]))
			return -1;
	memcpy(out, host, len);
	out[len] = '\0';
	return 0;
}

int opt_host(const char *arg, char *out, size_t outsz)
{
	size_t len = strlen(arg);

	if (len >= 2 && arg[0] == '[' && arg[len - 1] == ']') {
		arg++;
		len -= 2;
	}
	return host_copy(arg, len, out, outsz);
}

/* 1 if s[0..len) is a domain: labels of 1 to 63 letters, digits and inner
 * hyphens, separated by single dots. */
static int is_domain(const char *s, size_t len)
{
	size_t label = 0;

	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!sf_is_alnum(c) && !(c == '-' && label > 0))
			return 0;
		if (++label > 63)
			return 0;
	}
	return s[len - 1] != '-' && s[len - 1] != '.';
}

int opt_fqdn(const char *arg)
{
	size_t len = strlen(arg);
	char addr[FQDN_MAX + 1];
	unsigned char bin[16];

	if (len == 0 || len > FQDN_MAX)
		return -1;
	if (arg[0] != '[')
		return is_domain(arg, len) ? 0 : -1;
	/* address literal (RFC 5321 4.1.3): an IPv4 address or IPv6:address */
	if (len < 3 || arg[len - 1] != ']')
		return -1;
	memcpy(addr, arg + 1, len - 2);
	addr[len - 2] = '\0';
	if (strncmp(addr, "IPv6:", 5) == 0)
		return inet_pton(AF_INET6, addr + 5, bin) == 1 ? 0 : -1;
	return inet_pton(AF_INET, addr, bin) == 1 ? 0 : -1;
}

int opt_reference(const char *arg, char *host, char *port)
{
	const char *colon = strrchr(arg, ':');
	const char *h = arg, *p = NULL;
	size_t len = strlen(arg);
	long v;

	port[0] = '\0';
	if (arg[0] == '[') {
		const char *close = strchr(arg, ']');
		if (close == NULL || (close[1] != '\0' && close[1] != ':'))
			return -1;
		h = arg + 1;
		len = (size_t)(close - h);
		p = close[1] == ':' ? close + 2 : NULL;
	} else if (colon != NULL && strchr(arg, ':') == colon) {
		len = (size_t)(colon - arg);
		p = colon + 1;
	}
	if (host_copy(h, len, host, HOST_MAX + 1) != 0)
		return -1;
	if (p == NULL)
		return 0;
	if (opt_port(p, &v) != 0)
		return -2;
	snprintf(port, 6, "%ld", v);
	return 0;
}

/* 1 if c is atext (RFC 5322 3.2.3), the octets of a dot-string's atoms. */
static int atext(unsigned char c)
{
	return sf_is_alnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

int opt_rcpt(const char *arg)
{
	const char *at = strrchr(arg, '@');
	size_t local, len = strlen(arg);

	if (len == 0 || len > RCPT_MAX)
		return -1;
	if (at == NULL)
		return sf_ci_equal(arg, "postmaster") ? 0 : -1;
	local = (size_t)(at - arg);
	if (local == 0 || local > LOCAL_PART_MAX || arg[0] == '.' || arg[local - 1] == '.')
		return -1;
	for (size_t i = 0; i < local; i++) {
		if (arg[i] == '.' ? arg[i + 1] == '.' : !atext((unsigned char)arg[i]))
			return -1;
	}
	return opt_fqdn(at + 1);
}

int opt_probe(const char *arg, int *bits)
{
	const char *p = arg;

	if (*arg == '\0')
		return -1;
	while (*p) {
		size_t len = strcspn(p, ",");

		if (len == 8 && strncmp(p, "commands", 8) == 0)
			*bits |= PROBE_COMMANDS;
		else if (len == 4 && strncmp(p, "data", 4) == 0)
			*bits |= PROBE_DATA;
		else
			return -1;
		p += len;
		if (*p == ',' && *++p == '\0')
			return -1;
	}
	return 0;
}

int opt_keywords(struct kwlist *l, const char *arg)
{
	const char *p = arg;
	size_t used = 0;

	for (size_t i = 0; i < l->n; i++)
		used += strlen(l->word[i]) + 1;
	if (*arg == '\0')
		return -1;
	while (*p) {
		size_t len = strcspn(p, ",");
		char *slot;
		if (len == 0 || len > SF_EHLO_KEYWORD_MAX || !sf_keyword_valid(p, len) ||
		    l->n >= SF_REQUIRE_MAX)
			return -1;
		slot = l->buf + used;
		memcpy(slot, p, len);
		slot[len] = '\0';
		used += len + 1;
		l->word[l->n++] = slot;
		p += len;
		if (*p == ',' && *++p == '\0')
			return -1;
	}
	return 0;
}

/* Default EHLO name: this host's name, if it is a usable domain. */
static void default_fqdn(struct config *cfg)
{
	char name[FQDN_MAX + 1];

	snprintf(cfg->fqdn, sizeof cfg->fqdn, "localhost");
	if (gethostname(name, sizeof name) != 0)
		return;
	name[sizeof name - 1] = '\0';
	if (opt_fqdn(name) == 0 && name[0] != '[')
		snprintf(cfg->fqdn, sizeof cfg->fqdn, "%s", name);
}

static int set_domain(struct config *cfg, const char *arg, char *err, size_t errsz)
{
	char tmp[64];
	size_t len = strlen(arg);

	if (len > 1 && arg[len - 1] == '.')
		len--; /* the root's dot is implied */
	if (len == 0 || len > MX_NAME_MAX)
		return fail(err, errsz, "domain (-D) must be 1 to %u characters", MX_NAME_MAX);
	memcpy(cfg->domain, arg, len);
	cfg->domain[len] = '\0';
	if (!mx_name_valid(cfg->domain))
		return fail(err, errsz, "invalid domain (-D): '%s'", shown(arg, tmp, sizeof tmp));
	return 0;
}

static int set_transport(enum transport *t, const char *arg, char *err, size_t errsz)
{
	char tmp[64];

	if (strcmp(arg, "plain") == 0)
		*t = TRANSPORT_PLAIN;
	else if (strcmp(arg, "starttls") == 0)
		*t = TRANSPORT_STARTTLS;
	else if (strcmp(arg, "tls") == 0)
		*t = TRANSPORT_TLS;
	else
		return fail(err, errsz, "--reference-transport takes plain, starttls or tls, not '%s'",
			    shown(arg, tmp, sizeof tmp));
	return 0;
}

enum { OPT_KIND_BASE = 1000, OPT_EXTRA_OPTS = 999, OPT_TLS = 998, OPT_PROBE = 997,
       OPT_TLS_IGNORE = 996, OPT_REFERENCE = 995, OPT_BASELINE = 994, OPT_REF_TRANSPORT = 993,
       OPT_PROBE_RCPT = 992 };

/* One option: 0, or -1 with err set. */
static int take(struct config *cfg, int c, const char *arg, int *tls_ignore_set, char *err,
		size_t errsz)
{
	char tmp[HOST_MAX + 8];
	long v;
	double d;

	switch (c) {
	case 'H':
		if (arg[0] == '\0')
			return fail(err, errsz, "empty host name (-H)");
		if (opt_host(arg, cfg->host, sizeof cfg->host) != 0)
			return strlen(arg) > HOST_MAX + 2
				       ? fail(err, errsz, "host name (-H) must be 1 to %u characters", HOST_MAX)
				       : fail(err, errsz, "invalid host name (-H): '%s'", shown(arg, tmp, sizeof tmp));
		return 0;
	case 'D':
		return set_domain(cfg, arg, err, errsz);
	case 'p':
		if (opt_port(arg, &v) != 0)
			return fail(err, errsz, "port (-p) must be a number from 1 to 65535, not '%s'",
				    shown(arg, tmp, 64));
		snprintf(cfg->port, sizeof cfg->port, "%ld", v);
		cfg->port_given = 1;
		return 0;
	case '4': cfg->family = AF_INET; return 0;
	case '6': cfg->family = AF_INET6; return 0;
	case 't':
		if (opt_number(arg, &d) != 0 || d <= 0 || d > TIMEOUT_MAX)
			return fail(err, errsz, "timeout (-t) must be a number of seconds above 0 and at most %.0f, not '%s'",
				    TIMEOUT_MAX, shown(arg, tmp, 64));
		cfg->timeout = d;
		return 0;
	case 'F':
		if (opt_fqdn(arg) != 0)
			return fail(err, errsz, "invalid EHLO name (-F): '%s' (a domain such as mon.example.org, or [192.0.2.1])",
				    shown(arg, tmp, sizeof tmp));
		snprintf(cfg->fqdn, sizeof cfg->fqdn, "%s", arg);
		return 0;
	case 'w':
	case 'c':
		if (opt_range(arg) != 0)
			return fail(err, errsz, "%s threshold must be a number of seconds or a range like 5, 2:5, ~:5 or @1:2, not '%s'",
				    c == 'w' ? "warning (-w)" : "critical (-c)", shown(arg, tmp, 64));
		*(c == 'w' ? &cfg->warn : &cfg->crit) = arg; /* in argv, which outlives the check */
		return 0;
	case 'R':
		if (opt_keywords(&cfg->required, arg) != 0)
			return fail(err, errsz, "invalid extension list in -R (at most %u names of letters, digits and '-'): '%s'",
				    SF_REQUIRE_MAX, shown(arg, tmp, 128));
		return 0;
	case 'S': cfg->starttls = 1; return 0;
	case 'v': cfg->verbose++; return 0;
	case OPT_TLS: cfg->implicit_tls = 1; return 0;
	case OPT_PROBE:
		if (arg == NULL) {
			cfg->probe |= PROBE_COMMANDS;
			return 0;
		}
		if (opt_probe(arg, &cfg->probe) != 0)
			return fail(err, errsz, "--probe takes commands, data or commands,data, not '%s'",
				    shown(arg, tmp, 64));
		return 0;
	case OPT_PROBE_RCPT:
		if (opt_rcpt(arg) != 0)
			return fail(err, errsz, "--probe-rcpt must be an address such as postmaster@example.org, not '%s'",
				    shown(arg, tmp, sizeof tmp));
		snprintf(cfg->probe_rcpt, sizeof cfg->probe_rcpt, "%s", arg);
		return 0;
	case OPT_BASELINE: cfg->baseline = 1; return 0;
	case OPT_REFERENCE:
		switch (opt_reference(arg, cfg->ref_host, cfg->ref_port)) {
		case 0:
			return 0;
		case -2:
			return fail(err, errsz, "--reference: the port must be a number from 1 to 65535, in '%s'",
				    shown(arg, tmp, 64));
		default:
			return fail(err, errsz, "--reference: invalid host in '%s' (HOST, HOST:PORT or [IPv6]:PORT)",
				    shown(arg, tmp, 64));
		}
	case OPT_REF_TRANSPORT:
		return set_transport(&cfg->ref_transport, arg, err, errsz);
	case OPT_TLS_IGNORE:
		if (!*tls_ignore_set) {
			cfg->tls_ignore.n = 0; /* the first use replaces the default */
			*tls_ignore_set = 1;
		}
		if (opt_keywords(&cfg->tls_ignore, arg) != 0)
			return fail(err, errsz, "invalid extension list in --tls-ignore: '%s'",
				    shown(arg, tmp, 128));
		return 0;
	case OPT_EXTRA_OPTS:
		return 0; /* already merged into argv by np_extra_opts() */
	default:
		if (c >= OPT_KIND_BASE && c < OPT_KIND_BASE + SF_FIND__COUNT) {
			enum sf_kind k = (enum sf_kind)(c - OPT_KIND_BASE);
			if (sf_state_parse(arg, &cfg->state_of[k]) != 0)
				return fail(err, errsz, "--%s takes ok, warning, critical or unknown, not '%s'",
					    sf_kind_info(k)->option, shown(arg, tmp, 64));
			return 0;
		}
		return fail(err, errsz, "unexpected option code %d", c);
	}
}

/* 1 if host is an IP address, not a name. */
static int is_address(const char *host)
{
	unsigned char bin[16];

	return inet_pton(AF_INET, host, bin) == 1 || inet_pton(AF_INET6, host, bin) == 1 ||
	       strchr(host, ':') != NULL;
}

/* --probe=data's recipient when none is given: postmaster at the checked
 * domain (-D's, or -H's name), else at the EHLO name's domain (its name
 * without the first label when it has three or more); "postmaster" alone
 * for an address literal, which every server must take (RFC 5321 4.5.1). */
static void default_rcpt(struct config *cfg)
{
	const char *d = cfg->domain[0] ? cfg->domain : cfg->host;

	if (d[0] == '\0' || is_address(d) || opt_fqdn(d) != 0) {
		const char *dot = strchr(cfg->fqdn, '.');

		d = cfg->fqdn;
		if (d[0] == '[') {
			snprintf(cfg->probe_rcpt, sizeof cfg->probe_rcpt, "postmaster");
			return;
		}
		if (dot != NULL && strchr(dot + 1, '.') != NULL)
			d = dot + 1;
	}
	if (strlen(d) > RCPT_MAX - strlen("postmaster@"))
		d = NULL; /* too long for a path: the local name alone */
	if (d == NULL)
		snprintf(cfg->probe_rcpt, sizeof cfg->probe_rcpt, "postmaster");
	else
		snprintf(cfg->probe_rcpt, sizeof cfg->probe_rcpt, "postmaster@%.243s", d);
}

/* The combinations, once every option is in. */
static int check_combinations(struct config *cfg, char *err, size_t errsz)
{
	if (cfg->host[0] != '\0' && cfg->domain[0] != '\0')
		return fail(err, errsz, "-H (one host) and -D (a domain's MX hosts) exclude each other");
	if (cfg->host[0] == '\0' && cfg->domain[0] == '\0')
		return fail(err, errsz, "no host given: -H (or -D) is required");
	if (cfg->implicit_tls && cfg->starttls)
		return fail(err, errsz, "--tls (TLS from the start) and -S (STARTTLS) exclude each other");
	if (cfg->implicit_tls && !cfg->port_given)
		snprintf(cfg->port, sizeof cfg->port, "%s", DEFAULT_TLS_PORT);
	if (cfg->baseline && cfg->domain[0] != '\0')
		return fail(err, errsz, "--baseline keeps one server's state: not with -D");
	if (cfg->ref_host[0] != '\0' && cfg->domain[0] != '\0')
		return fail(err, errsz, "--reference compares one server: not with -D");
	if (cfg->ref_host[0] != '\0' && cfg->ref_port[0] == '\0')
		snprintf(cfg->ref_port, sizeof cfg->ref_port, "%s", cfg->port);
	if (cfg->probe_rcpt[0] != '\0' && !(cfg->probe & PROBE_DATA))
		return fail(err, errsz, "--probe-rcpt is the recipient of --probe=data: give that too");
	if ((cfg->probe & PROBE_DATA) && cfg->implicit_tls)
		return fail(err, errsz, "--probe=data watches a box that reads the message in clear text: not with --tls");
	if ((cfg->probe & PROBE_DATA) && cfg->probe_rcpt[0] == '\0')
		default_rcpt(cfg);
	return 0;
}

enum opt_action options_parse(int argc, char **argv, struct config *cfg, char *err, size_t errsz)
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
		{"probe", optional_argument, NULL, OPT_PROBE},
		{"probe-rcpt", required_argument, NULL, OPT_PROBE_RCPT},
		{"tls-ignore", required_argument, NULL, OPT_TLS_IGNORE},
		{"reference", required_argument, NULL, OPT_REFERENCE},
		{"reference-transport", required_argument, NULL, OPT_REF_TRANSPORT},
		{"baseline", no_argument, NULL, OPT_BASELINE},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{"extra-opts", optional_argument, NULL, OPT_EXTRA_OPTS},
	};
	enum { NFIXED = sizeof fixed / sizeof fixed[0] };
	struct option longopts[NFIXED + SF_FIND__COUNT + 1];
	size_t nlong = NFIXED;
	char tmp[64];
	int c, tls_ignore_set = 0;

	memcpy(longopts, fixed, sizeof fixed);
	for (int k = 0; k < SF_FIND__COUNT; k++) {
		const char *name = sf_kind_info((enum sf_kind)k)->option;
		if (name != NULL)
			longopts[nlong++] = (struct option){name, required_argument, NULL, OPT_KIND_BASE + k};
	}
	longopts[nlong] = (struct option){NULL, 0, NULL, 0};

	memset(cfg, 0, sizeof *cfg);
	snprintf(cfg->port, sizeof cfg->port, "%s", DEFAULT_PORT);
	cfg->family = AF_UNSPEC;
	cfg->timeout = DEFAULT_TIMEOUT;
	for (int k = 0; k < SF_FIND__COUNT; k++)
		cfg->state_of[k] = sf_kind_info((enum sf_kind)k)->default_state;
	default_fqdn(cfg);
	(void)opt_keywords(&cfg->tls_ignore, "STARTTLS,AUTH");

	opterr = 0; /* we report bad options ourselves, on stdout */
	optind = 1;
	while ((c = getopt_long(argc, argv, ":H:D:p:46t:F:w:c:R:SvVh", longopts, NULL)) != -1) {
		switch (c) {
		case 'V':
			return OPT_VERSION;
		case 'h':
			return OPT_HELP;
		case ':':
			fail(err, errsz, "option '%s' needs a value", shown(argv[optind - 1], tmp, sizeof tmp));
			return OPT_ERROR;
		case '?':
			if (strncmp(argv[optind - 1], "--", 2) == 0) /* e.g. --verbose=1 */
				fail(err, errsz, "unknown option or unexpected value '%s'",
				     shown(argv[optind - 1], tmp, sizeof tmp));
			else if (optopt > ' ' && optopt < 0x7f)
				fail(err, errsz, "unknown option '-%c'", optopt);
			else
				fail(err, errsz, "unknown option '%s'", shown(argv[optind - 1], tmp, sizeof tmp));
			return OPT_ERROR;
		default:
			if (take(cfg, c, optarg, &tls_ignore_set, err, errsz) != 0)
				return OPT_ERROR;
			break;
		}
	}
	if (optind < argc) {
		fail(err, errsz, "unexpected argument '%s'", shown(argv[optind], tmp, sizeof tmp));
		return OPT_ERROR;
	}
	return check_combinations(cfg, err, errsz) == 0 ? OPT_RUN : OPT_ERROR;
}

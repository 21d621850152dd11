/*
 * options.h - the command line (and --extra-opts, already merged into argv
 * by libmonitoringplug) to one const configuration. Every value and every
 * combination is checked here, before any network I/O; a bad one is a
 * message, never a guess.
 *
 * The checks of single values are exported for the unit tests
 * (tests/test_options.c); none of them prints or exits.
 */
#ifndef OPTIONS_H
#define OPTIONS_H

#include <stddef.h>

#include "sf_common.h"
#include "sf_verdict.h"
#include "mx.h"

#define DEFAULT_PORT "25"
#define DEFAULT_TLS_PORT "465"
#define DEFAULT_TIMEOUT 10.0
#define TIMEOUT_MAX 3600.0
#define HOST_MAX 255U
#define FQDN_MAX 255U
#define OPT_ERR_MAX 512U /* octets of an option error message */
#define RCPT_MAX 254U    /* octets of --probe-rcpt's address (RFC 5321 4.5.3.1.3: a path of 256 with <>) */
#define LOCAL_PART_MAX 64U /* octets of its local part (RFC 5321 4.5.3.1.1) */

/* --probe=WHAT: bits of cfg->probe. */
#define PROBE_COMMANDS 1 /* commands a box rewrites or punishes (plain --probe) */
#define PROBE_DATA 2     /* the DATA-phase witness */

/* A list of EHLO keywords given as options (-R, --tls-ignore). */
struct kwlist {
	char buf[SF_REQUIRE_MAX * (SF_EHLO_KEYWORD_MAX + 1)];
	const char *word[SF_REQUIRE_MAX];
	size_t n;
};

/* How a connection is made: plain, STARTTLS after EHLO (-S), or TLS from
 * the first octet (--tls). */
enum transport {
	TRANSPORT_PLAIN = 0,
	TRANSPORT_STARTTLS,
	TRANSPORT_TLS
};

/* Options, filled once by options_parse(), then only read. */
struct config {
	char host[HOST_MAX + 1];
	char domain[MX_NAME_MAX + 1]; /* -D: check the domain's MX hosts */
	char ref_host[HOST_MAX + 1];  /* --reference: the same server without the box */
	char ref_port[6];             /* its port (default: -p's) */
	enum transport ref_transport; /* --reference-transport (default: plain) */
	int baseline;                 /* --baseline */
	char port[6];
	int port_given;
	int family;                   /* AF_UNSPEC, AF_INET or AF_INET6 */
	double timeout;               /* seconds for the whole check */
	char fqdn[FQDN_MAX + 1];
	const char *warn;             /* -w range text (in argv), or NULL */
	const char *crit;             /* -c range text (in argv), or NULL */
	struct kwlist required;       /* -R */
	struct kwlist tls_ignore;     /* --tls-ignore (default STARTTLS,AUTH) */
	int starttls;                 /* -S */
	int implicit_tls;             /* --tls */
	int probe;                    /* --probe[=commands,data]: PROBE_* bits */
	char probe_rcpt[RCPT_MAX + 1];/* --probe-rcpt, or the default postmaster@domain */
	enum sf_state state_of[SF_FIND__COUNT]; /* per kind, after overrides */
	int verbose;
};

/* What options_parse() asks main() to do. */
enum opt_action {
	OPT_RUN = 0, /* check */
	OPT_HELP,    /* print the help, exit OK */
	OPT_VERSION, /* print the version, exit OK */
	OPT_ERROR    /* print err, exit UNKNOWN */
};

/* Fill cfg from argv. OPT_ERROR leaves one line saying why in err. */
enum opt_action options_parse(int argc, char **argv, struct config *cfg, char *err, size_t errsz);

/* The checks of single values: 0, or -1 for a bad value. */

/* A strict decimal number: the whole string, finite, no hex, no inf/nan. */
int opt_number(const char *s, double *out);

/* A TCP port: decimal digits only, 1 to 65535. */
int opt_port(const char *s, long *out);

/* A monitoring-plugins range [@][start:][end] (start may be "~") that
 * libmonitoringplug takes: start at most end (start 0 when left out). */
int opt_range(const char *s);

/* A host name or address for -H: letters, digits and ".-_:%" (IPv6 with a
 * zone), 1 to HOST_MAX octets after surrounding brackets are dropped; into
 * out (size outsz). */
int opt_host(const char *arg, char *out, size_t outsz);

/* An EHLO name for -F: a domain of dot-separated labels of letters, digits
 * and inner hyphens, or an address literal "[192.0.2.1]" / "[IPv6:...]"
 * (RFC 5321 4.1.3). */
int opt_fqdn(const char *arg);

/* --reference=HOST[:PORT]: "host", "host:port", "[v6]", "[v6]:port" or a
 * bare IPv6 address (more than one ':', no port). host into host (size
 * HOST_MAX + 1), port into port (size 6, "" when not given). -1 for a bad
 * host, -2 for a bad port. */
int opt_reference(const char *arg, char *host, char *port);

/* --probe-rcpt: local@domain, the local part a dot-string of RFC 5321
 * 4.1.2 (no quoted strings), the domain as -F takes it (a name or an
 * address literal); or "postmaster" alone (RFC 5321 4.5.1). */
int opt_rcpt(const char *arg);

/* --probe's value: "commands", "data" or both, comma-separated; the
 * PROBE_* bits into *bits (added to what it holds). */
int opt_probe(const char *arg, int *bits);

/* Add a comma-separated keyword list to l (repeatable, adds up). */
int opt_keywords(struct kwlist *l, const char *arg);

#endif /* OPTIONS_H */

/*
 * check_smtp_fixup - a monitoring plugin that tells whether an SMTP
 * inspection box (Cisco "fixup smtp" / "inspect esmtp" and others) sits
 * between it and a mail server and tampers with the conversation.
 *
 * main() is the pipeline, each stage handing the next a finished value:
 * options (plugins/options.c) -> plan and run (plugins/plan.c, session.c)
 * -> judge (lib/sf_verdict.c, fed by plugins/judge.c) -> report
 * (plugins/report.c). This file also holds the help, the backstop timer
 * and what --baseline keeps after the verdict.
 *
 * Copyright (C) 2026 the check_smtp_fixup authors. GPL-3.0-or-later.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "utils_base.h"  /* libmonitoringplug: thresholds, np_init */
#include "extra_opts.h"  /* libmonitoringplug: --extra-opts */

#include "baseline.h"
#include "guard.h"
#include "judge.h"
#include "options.h"
#include "plan.h"
#include "report.h"
#include "sf_common.h"
#include "sf_text.h"
#include "sf_verdict.h"
#include "tls.h"

#ifndef SF_VERSION
#define SF_VERSION "unknown"
#endif

#define TLS_ENV "CHECK_SMTP_FIXUP_TLS" /* gnutls or openssl (plugins/tls.c) */
#define NAME_MAX_SHOWN 120             /* octets of a host name in the backstop's line */

/* libmonitoringplug's utils.o needs these two. */
const char *progname = "check_smtp_fixup";
void print_usage(void);

static char plugin_name[] = "check_smtp_fixup";

/* ---------------------------------------------------------------- usage */

void print_usage(void)
{
	/* no '|' here: after an UNKNOWN, Nagios would read the rest as perfdata */
	printf("Usage:\n %s -H host|-D domain [-p port] [-4] [-6] [-t timeout] [-F fqdn]\n"
	       "  [-w seconds] [-c seconds] [-R ext[,ext...]] [-S] [--tls]\n"
	       "  [--probe[=commands,data]] [--probe-rcpt=address]\n"
	       "  [--tls-ignore=ext[,ext...]] [--reference=host[:port]]\n"
	       "  [--reference-transport=plain/starttls/tls] [--baseline]\n"
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
	       " --probe[=commands,data]\n"
	       "    commands (the default): also send commands a box rewrites or punishes but\n"
	       "    a server answers harmlessly: BDAT 0 LAST outside a transaction, a NOOP\n"
	       "    longer than 512 octets, RSET.\n"
	       "    data: the DATA-phase witness, after EHLO (or HELO) and in clear text:\n"
	       "    MAIL FROM:<>, RCPT, DATA, then a message whose header has a line over 998\n"
	       "    octets and whose MIME part has a file name over 255, each part in its own\n"
	       "    write, watched %g s each; a reset or close with no reply is the ASA's\n"
	       "    default policy. It never sends the end of data: it closes the connection,\n"
	       "    so nothing is delivered (the server may log an aborted DATA)\n"
	       " --probe-rcpt=ADDRESS\n"
	       "    The witness's recipient (default: postmaster at -D's domain or -H's name;\n"
	       "    for an address, at the domain of the EHLO name)\n"
	       " --reference=HOST[:PORT]\n"
	       "    The same server reached without the box (port: -p's); keywords it offers\n"
	       "    that this path lacks or masks, and a greeting that differs, are findings\n"
	       " --reference-transport=plain|starttls|tls\n"
	       "    How the reference is reached (default: plain; starttls compares with its\n"
	       "    list inside TLS), e.g. plain for the backend of a TLS terminator\n"
	       " --baseline\n"
	       "    Keep the banner and extensions of the last run without findings (state\n"
	       "    retention, MP_STATE_PATH); keywords gone and a changed banner are findings\n"
	       " -v, --verbose\n    Add the SMTP transcript to the long output\n",
	       DEFAULT_PORT, DEFAULT_TIMEOUT, WITNESS_WAIT);
	printf("\nState of each kind of finding (STATE: ok, warning, critical, unknown):\n");
	for (int k = 0; k < SF_FIND__COUNT; k++) {
		const struct sf_kind_info *ki = sf_kind_info((enum sf_kind)k);
		if (ki->option != NULL)
			printf(" --%s=STATE\n    %s (default: %s)\n", ki->option, ki->title,
			       sf_state_name(ki->default_state));
	}
	printf("\nA connection refused, reset or closed early, a timeout, a peer that does not\n"
	       "speak SMTP and a 4xx/5xx greeting are CRITICAL, and so is a greeting masked so\n"
	       "that it no longer parses, whatever --banner-masked says; bad options and this\n"
	       "host's own failures (out of memory, no file descriptors) are UNKNOWN.\n"
	       "\nExit codes: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.\n"
	       "\nExamples:\n"
	       " %s -H mail.example.org\n"
	       " %s -H mail.example.org -R STARTTLS,8BITMIME -w 2 -c 5\n"
	       " %s -H 192.0.2.25 --banner-masked=critical\n",
	       progname, progname, progname);
}

/* ------------------------------------------------------------- backstop */

/* Text for the backstop timer, written from the signal handler. */
static char alarm_text[512];
static size_t alarm_len;

static void on_alarm(int sig)
{
	(void)sig;
	/* async-signal-safe only */
	if (write(STDOUT_FILENO, alarm_text, alarm_len) < 0)
		_exit(SF_CRITICAL);
	_exit(SF_CRITICAL);
}

/* A timer that ends the process shortly after the timeout even if a
 * blocking call (name resolution) hangs; the poll loop normally ends
 * first. The line always fits: a long name is cut. */
static void arm_backstop(const struct config *cfg)
{
	struct sigaction sa;
	struct itimerval it;
	double t = cfg->timeout + 1.0; /* the poll loop's deadline must win under load */
	const char *name = cfg->domain[0] ? cfg->domain : cfg->host;
	char shown[NAME_MAX_SHOWN * 4 + 8];
	int n;

	sf_escape(shown, sizeof shown, name, strlen(name) > NAME_MAX_SHOWN ? NAME_MAX_SHOWN : strlen(name));
	n = snprintf(alarm_text, sizeof alarm_text,
		     "%s CRITICAL - no result from %s%s within the %g s timeout (blocked in name resolution or TLS set-up)\n",
		     REPORT_PREFIX, shown, strlen(name) > NAME_MAX_SHOWN ? "..." : "", cfg->timeout);
	alarm_len = n > 0 && (size_t)n < sizeof alarm_text ? (size_t)n : sizeof alarm_text - 1;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	memset(&it, 0, sizeof it);
	it.it_value.tv_sec = (time_t)t;
	it.it_value.tv_usec = (suseconds_t)((t - (double)it.it_value.tv_sec) * 1e6);
	setitimer(ITIMER_REAL, &it, NULL);
}

/* The result is in hand: no line may be spliced into the report now. */
static void disarm_backstop(void)
{
	struct itimerval it;

	memset(&it, 0, sizeof it);
	setitimer(ITIMER_REAL, &it, NULL);
	signal(SIGALRM, SIG_IGN);
}

/* Descriptors 0, 1 and 2 open before anything else, so that no socket
 * becomes stdout and receives a status line. 0, or -1 if one cannot be. */
static int std_fds_open(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
			continue;
		if (open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) != fd)
			return -1;
	}
	return 0;
}

/* ----------------------------------------------------------------- main */

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

/* What main() owns, released once at the end. */
struct run {
	struct config cfg;
	thresholds *thr;
	char **av;
	int ac;
	struct plan plan;
	int planned;
	struct sf_verdict **v;
	struct baseline bl;
	int bl_unreadable;  /* the state was there but not ours: recorded anew */
};

static void run_free(struct run *r, char **argv, int argc)
{
	for (size_t i = 0; r->v != NULL && i < r->plan.n; i++)
		sf_verdict_free(r->v[i]);
	free(r->v);
	if (r->planned)
		plan_free(&r->plan);
	tls_unload();
	free_thresholds(r->thr);
	free_extra_opts(r->av, r->ac, argv, argc);
	baseline_release();
	np_cleanup();
}

/* Set-up before any connection: thresholds, TLS library, state. UNKNOWN
 * with a line printed, or OK. */
static enum sf_state prepare(struct run *r)
{
	const struct config *cfg = &r->cfg;
	char err[TLS_LOAD_ERR_MAX + 64];
	char warn[64], crit[64]; /* opt_range() took each under 64 octets */

	snprintf(warn, sizeof warn, "%s", cfg->warn ? cfg->warn : "");
	snprintf(crit, sizeof crit, "%s", cfg->crit ? cfg->crit : "");
	/* libmonitoringplug allocates the thresholds even when none is given,
	 * and dies if it cannot */
	guard_begin(cfg->warn != NULL || cfg->crit != NULL ? "the -w/-c thresholds cannot be used"
							   : "starting libmonitoringplug");
	if (_set_thresholds(&r->thr, cfg->warn ? warn : NULL, cfg->crit ? crit : NULL) != 0) {
		guard_end();
		report_status(SF_UNKNOWN, "the -w/-c thresholds cannot be parsed");
		return SF_UNKNOWN;
	}
	guard_end();
	if (cfg->starttls || cfg->implicit_tls || cfg->ref_transport != TRANSPORT_PLAIN) {
		/* Loaded before any connection: a host without a usable TLS
		 * library is our problem (UNKNOWN), not the server's, and its
		 * cost stays out of time_tls. */
		char why[TLS_LOAD_ERR_MAX];
		if (tls_select(getenv(TLS_ENV), why, sizeof why) != 0) {
			snprintf(err, sizeof err, "%s: %s", TLS_ENV, why);
			report_status(SF_UNKNOWN, err);
			return SF_UNKNOWN;
		}
		if (tls_load(why, sizeof why) != 0) {
			snprintf(err, sizeof err, "cannot use TLS: %s", why);
			report_status(SF_UNKNOWN, err);
			return SF_UNKNOWN;
		}
	}
	if (cfg->baseline && baseline_enable(cfg->host, cfg->port, err, sizeof err) != 0) {
		report_status(SF_UNKNOWN, err);
		return SF_UNKNOWN;
	}
	return SF_OK;
}

/* A check that has nothing to run: the line printed, its state; or -1. */
static int nothing_to_check(const struct run *r)
{
	const struct config *cfg = &r->cfg;
	const struct plan *p = &r->plan;
	char text[1024];
	enum sf_state st;

	if (p->nomem) {
		report_status(SF_UNKNOWN, "out of memory");
		return SF_UNKNOWN;
	}
	if (cfg->domain[0] != '\0' &&
	    sf_domain_verdict(cfg->domain, p->domain, p->domain_detail, p->mx_hosts, &st, text, sizeof text)) {
		report_status(st, text);
		return st;
	}
	if (p->resolve_error != 0) {
		snprintf(text, sizeof text, "cannot resolve %s: %s", cfg->host, gai_strerror(p->resolve_error));
		report_status(SF_UNKNOWN, text);
		return SF_UNKNOWN;
	}
	if (p->n == 0) {
		snprintf(text, sizeof text, "%s has no usable address", cfg->host);
		report_status(SF_UNKNOWN, text);
		return SF_UNKNOWN;
	}
	if (cfg->baseline && p->n != 1) {
		snprintf(text, sizeof text, "--baseline keeps one server's state, but %s has %zu addresses (give one with -H)",
			 cfg->host, p->n);
		report_status(SF_UNKNOWN, text);
		return SF_UNKNOWN;
	}
	return -1;
}

/* 1 if the only findings that are not OK are the baseline's. */
static int only_baseline_changed(const struct sf_verdict *v)
{
	int seen = 0;

	for (size_t i = 0; i < v->nfindings; i++) {
		if (v->findings[i].state == SF_OK)
			continue;
		if (v->findings[i].kind != SF_FIND_BASELINE_CHANGED)
			return 0;
		seen = 1;
	}
	return seen;
}

/* --baseline after the verdict: a clean run becomes the baseline; a run
 * that differs from it only in what the baseline compares counts towards
 * the change becoming the new baseline (BASELINE_ADOPT runs in a row), so
 * that a warning about a change made on purpose clears by itself. Returns
 * the state it adds: UNKNOWN when the state cannot be written. */
static enum sf_state keep_baseline(struct run *r, char *note)
{
	const struct session_result *s = &r->plan.tg[0].sess.r;
	int held = s->outcome == SESS_COMPLETE && s->greeting != NULL && s->greeting->code == 220 &&
		   s->ehlo_list != NULL;
	char why[BASELINE_WHY_MAX];
	int adopted = 0;
	unsigned runs = 0;

	if (held && r->v[0]->state == SF_OK) {
		if (baseline_keep(s, why, sizeof why) != 0) {
			note_append(note, "cannot keep the baseline: %s", why);
			return SF_UNKNOWN;
		}
		if (!r->bl.have && !r->bl_unreadable)
			note_append(note, "baseline recorded (first run)");
		return SF_OK;
	}
	if (held && r->bl.have && only_baseline_changed(r->v[0])) {
		if (baseline_candidate(&r->bl, s, &adopted, &runs, why, sizeof why) != 0) {
			note_append(note, "cannot keep the baseline: %s", why);
			return SF_UNKNOWN;
		}
		if (adopted)
			note_append(note, "the same change in %u runs in a row: it is the baseline from now on", runs);
		else
			note_append(note, "the same change in %u more run%s in a row makes it the new baseline",
				    BASELINE_ADOPT - runs, BASELINE_ADOPT - runs == 1 ? "" : "s");
		return SF_OK;
	}
	if (!r->bl.have) {
		note_append(note, "no baseline recorded yet: this run is not clean");
	} else if (baseline_forget_candidate(&r->bl, why, sizeof why) != 0) {
		note_append(note, "cannot keep the baseline: %s", why);
		return SF_UNKNOWN;
	}
	return SF_OK;
}

/* Judge every target, keep the baseline, report. */
static enum sf_state judge_and_report(struct run *r, enum sf_state extra, char *note)
{
	const struct config *cfg = &r->cfg;
	struct plan *p = &r->plan;

	r->v = calloc(p->n, sizeof *r->v);
	for (size_t i = 0; r->v != NULL && i < p->n; i++) {
		if (judge_target(cfg, p, &p->tg[i], cfg->baseline ? &r->bl : NULL,
				 (enum sf_state)get_status(target_done(&p->tg[i]) - p->tg[i].t_begin, r->thr),
				 &r->v[i]) != 0) {
			report_status(SF_UNKNOWN, "out of memory while judging the replies");
			return SF_UNKNOWN;
		}
	}
	if (r->v == NULL) {
		report_status(SF_UNKNOWN, "out of memory while judging the replies");
		return SF_UNKNOWN;
	}
	if (cfg->baseline)
		extra = sf_state_worst(extra, keep_baseline(r, note));
	return report_check(cfg, p, r->v, note, extra);
}

/* 1 if argv asks for --extra-opts (libmonitoringplug's own test). */
static int wants_extra_opts(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strncmp(argv[i], "--extra-opts", 12) == 0 &&
		    (argv[i][12] == '\0' || argv[i][12] == '='))
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	struct run r;
	char err[OPT_ERR_MAX];
	enum sf_state st = SF_OK, extra = SF_OK;
	int nothing;

	/* what run_free() reads, set here; the config, the plan and the
	 * baseline are cleared by the stage that fills each */
	r.ac = argc;
	r.thr = NULL;
	r.planned = 0;
	r.v = NULL;
	r.bl.have = 0;
	r.bl_unreadable = 0;
	if (std_fds_open() != 0)
		return SF_UNKNOWN; /* nowhere safe to say it */
	/* A peer that goes away makes the TLS library's writes raise SIGPIPE;
	 * every write's result is checked instead. */
	signal(SIGPIPE, SIG_IGN);
	guard_begin("starting libmonitoringplug"); /* np_init dies on a failed allocation */
	np_init(plugin_name, argc, argv);
	guard_end();
	if (wants_extra_opts(argc, argv)) {
		guard_begin_usage("--extra-opts");
		r.av = np_extra_opts(&r.ac, argv, progname);
		guard_end();
	} else {
		r.av = argv; /* nothing to merge: no ini file read, nothing to guard */
	}
	switch (options_parse(r.ac, r.av, &r.cfg, err, sizeof err)) {
	case OPT_HELP:
		print_help();
		break;
	case OPT_VERSION:
		printf("%s %s (libmonitoringplug from monitoring-plugins 2.4.0)\n", progname, SF_VERSION);
		break;
	case OPT_ERROR:
		printf("%s UNKNOWN - %s\n", REPORT_PREFIX, err); /* err's values are escaped */
		print_usage();
		st = SF_UNKNOWN;
		break;
	case OPT_RUN:
	default:
		st = prepare(&r);
		if (st != SF_OK)
			break;
		arm_backstop(&r.cfg);
		r.planned = 1;
		plan_make(&r.cfg, &r.plan);
		nothing = nothing_to_check(&r);
		if (nothing >= 0) {
			disarm_backstop();
			st = (enum sf_state)nothing;
			break;
		}
		if (r.cfg.baseline) {
			int unreadable = 0;
			char why[BASELINE_WHY_MAX];
			if (baseline_load(&r.bl, &unreadable, why, sizeof why) != 0) {
				disarm_backstop();
				char line[BASELINE_WHY_MAX + 32];
				snprintf(line, sizeof line, "cannot use the baseline: %s", why);
				report_status(SF_UNKNOWN, line);
				st = SF_UNKNOWN;
				break;
			}
			r.bl_unreadable = unreadable;
			if (unreadable)
				note_append(r.plan.note, "the baseline state is unreadable and is recorded anew");
		}
		plan_run(&r.cfg, &r.plan);
		disarm_backstop();
		if (r.plan.noaddr > 0)
			extra = SF_WARNING;
		st = judge_and_report(&r, extra, r.plan.note);
		break;
	}
	fflush(stdout);
	run_free(&r, argv, argc);
	return st;
}

/*
 * plan.h - from the configuration to the targets of a check and their
 * conversations: every address of -H, every address of every MX host of -D
 * (plugins/mx.c), and the --reference path with its own transport; then
 * all of them run at once under one deadline.
 *
 * A target is one place the check looks at: an address of a host, on a
 * port, in a role. Checking one host with one address is the case of one
 * target. Name resolution is the only blocking step (getaddrinfo, the MX
 * query); the main program's backstop timer bounds it.
 */
#ifndef PLAN_H
#define PLAN_H

#include <stddef.h>

#include "options.h"
#include "session.h"
#include "sf_verdict.h"

#define ADDR_MAX 16U    /* addresses of one host we check */
#define TARGETS_MAX 32U /* targets of one check (addresses of all hosts) */
#define PLAN_NOTE_MAX 512U
#define WITNESS_WAIT 1.0 /* seconds --probe=data watches after each message part */

/* What a target is to the check, for the summary's counts. */
enum role {
	ROLE_ADDRESS = 0, /* an address of -H (or of a domain without MX) */
	ROLE_MX,          /* an address of an MX host of -D */
	ROLE_REFERENCE    /* the --reference path */
};

struct target {
	char host[HOST_MAX + 1];  /* the name it was reached by */
	const char *port;         /* numeric service */
	enum role role;
	char addr_text[64];       /* numeric address of the peer */
	struct session sess;      /* the conversation (with the probe if asked) */
	struct session tls_sess;  /* with -S and --probe: the STARTTLS conversation */
	int two_sessions;
	double t_begin, t_end;    /* this target's sessions, monotonic seconds */
};

/* The whole check: its targets, the reference, what resolution found. */
struct plan {
	struct target *tg;        /* cap of them, n used */
	size_t n, cap;
	struct target *ref;       /* --reference, or NULL */
	char ref_problem[512];    /* why the reference cannot be resolved, "" if it was */
	int resolve_error;        /* -H: getaddrinfo's error, 0 if resolved */
	enum sf_domain domain;    /* -D: what the MX lookup found */
	char domain_detail[PLAN_NOTE_MAX]; /* -D: why it failed, or the hosts without an address */
	size_t mx_hosts;          /* -D: MX hosts found */
	size_t noaddr;            /* -D: MX hosts without an address */
	char note[PLAN_NOTE_MAX]; /* said after the summary (unescaped), or "" */
	struct session_config scfg[3]; /* the conversation, the STARTTLS one, the reference's */
	double t_begin, t_end;    /* the whole check, monotonic seconds */
	int nomem;                /* a target could not be allocated */
};

/* Resolve the targets of cfg and start their conversations. p must not
 * move until plan_free(). Returns 0, or -1 if memory ran out. */
int plan_make(const struct config *cfg, struct plan *p);

/* Hold every conversation until all are done or the timeout passed. */
void plan_run(const struct config *cfg, struct plan *p);

/* "host" on port 25, "host:port" or "[v6]:port" otherwise. */
void target_name(const struct target *tg, char *buf, size_t bufsz);

/* The STARTTLS conversation: its own session with --probe, else the one. */
const struct session *target_tls_session(const struct target *tg);

/* When the target had what it needed: the last reply that matters, or the
 * failure. The courtesy wait for the reply to QUIT is not response time. */
double target_done(const struct target *tg);

/* Append to a note of PLAN_NOTE_MAX octets, "; " between parts. */
void note_append(char *note, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Close every conversation and release every target. NULL-safe. */
void plan_free(struct plan *p);

#endif /* PLAN_H */

/*
 * plan.c - targets from the configuration, resolved and started; then the
 * one poll() loop over all of them (see plan.h).
 *
 * Each target's sessions start as soon as its address is known, so the
 * connections of the first MX host are under way while the next is being
 * resolved. Nothing points into the target array until every target is
 * added: the array may move as it grows.
 */
#include "plan.h"

#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "mx.h"

#define QUIT_WAIT 1.0 /* seconds we wait for the reply to QUIT */

static void addr_to_text(const struct sockaddr_storage *ss, socklen_t len, char *buf, size_t bufsz)
{
	if (getnameinfo((const struct sockaddr *)ss, len, buf, (socklen_t)bufsz, NULL, 0,
			NI_NUMERICHOST) != 0)
		snprintf(buf, bufsz, "?");
}

/* Append to a note of PLAN_NOTE_MAX octets, after sep when it is not empty. */
static void note_vappend(char *note, const char *sep, const char *fmt, va_list ap)
{
	size_t len = strlen(note), slen = strlen(sep);

	if (len > 0 && len + slen < PLAN_NOTE_MAX) {
		memcpy(note + len, sep, slen + 1);
		len += slen;
	}
	if (len >= PLAN_NOTE_MAX - 1)
		return;
	vsnprintf(note + len, PLAN_NOTE_MAX - len, fmt, ap);
}

void note_append(char *note, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	note_vappend(note, "; ", fmt, ap);
	va_end(ap);
}

/* Name a target and prepare its sessions for address ai (none started). */
static void target_init(struct target *tg, const char *host, const char *port, enum role role,
			const struct session_config *scfg, const struct session_config *tls_scfg,
			const struct addrinfo *ai, double t_begin)
{
	const struct sockaddr *sa = ai != NULL ? ai->ai_addr : NULL;
	socklen_t len = ai != NULL ? (socklen_t)ai->ai_addrlen : 0;

	/* field by field: the sessions (most of a target) are cleared by
	 * session_init(), once */
	snprintf(tg->host, sizeof tg->host, "%s", host);
	tg->port = port;
	tg->role = role;
	tg->addr_text[0] = '\0';
	tg->t_begin = t_begin;
	tg->t_end = 0;
	tg->two_sessions = tls_scfg != NULL;
	session_init(&tg->sess, scfg, sa, len);
	session_init(&tg->tls_sess, tls_scfg != NULL ? tls_scfg : scfg, sa, len);
	if (sa != NULL)
		addr_to_text(&tg->sess.addr, tg->sess.addrlen, tg->addr_text, sizeof tg->addr_text);
}

static void target_start(struct target *tg)
{
	double now = session_now();

	session_start(&tg->sess, now);
	if (tg->two_sessions)
		session_start(&tg->tls_sess, now);
}

/* Add a target for address ai of host and start it. -1 when the list is
 * full, the address does not fit or memory ran out. */
static int add_target(struct plan *p, const char *host, const char *port, enum role role,
		      const struct addrinfo *ai)
{
	if (p->n >= TARGETS_MAX || ai->ai_addrlen > sizeof(struct sockaddr_storage))
		return -1;
	if (p->n == p->cap) {
		/* grown as addresses come: a single-host check stays in one
		 * small heap block */
		size_t cap = p->cap ? p->cap * 2 : 1;
		struct target *grown;

		if (cap > TARGETS_MAX)
			cap = TARGETS_MAX;
		grown = realloc(p->tg, cap * sizeof *grown);
		if (grown == NULL) {
			p->nomem = 1;
			return -1;
		}
		p->tg = grown;
		p->cap = cap;
	}
	target_init(&p->tg[p->n], host, port, role, &p->scfg[0],
		    p->scfg[1].ehlo_name != NULL ? &p->scfg[1] : NULL, ai, p->t_begin);
	target_start(&p->tg[p->n++]);
	return 0;
}

static struct addrinfo *resolve(const struct config *cfg, const char *host, const char *port, int *err)
{
	struct addrinfo hints, *res = NULL;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = cfg->family;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = AI_NUMERICSERV;
	*err = getaddrinfo(host, port, &hints, &res);
	return *err == 0 ? res : NULL;
}

/* Every address of host (up to ADDR_MAX) as a target. Returns the
 * getaddrinfo error, 0 if resolved. */
static int add_host(const struct config *cfg, struct plan *p, const char *host, enum role role)
{
	int err;
	size_t naddrs = 0;
	struct addrinfo *res = resolve(cfg, host, cfg->port, &err);

	for (struct addrinfo *ai = res; ai != NULL && naddrs < ADDR_MAX; ai = ai->ai_next)
		if (add_target(p, host, cfg->port, role, ai) == 0)
			naddrs++;
	if (res != NULL)
		freeaddrinfo(res);
	return err;
}

/* A getaddrinfo error that says the name has no address, not that the
 * answer could not be had (EAI_NODATA, the usual one, is a GNU name). */
static int no_such_name(int err)
{
	return err != 0 && err != EAI_AGAIN && err != EAI_FAIL && err != EAI_MEMORY &&
	       err != EAI_SYSTEM;
}

/* Append to a note without a separator. */
static void note_append_raw(char *note, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note_append_raw(char *note, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	note_vappend(note, "", fmt, ap);
	va_end(ap);
}

/* The unusable MX records, e.g. "10 . (the root), 20 bad_name (an invalid
 * name)", into out (PLAN_NOTE_MAX octets). */
static void describe_bad(const struct mx_list *mx, char *out)
{
	out[0] = '\0';
	for (size_t i = 0; i < mx->unusable && i < MX_BAD_KEEP; i++)
		note_append_raw(out, "%s%u %s (%s)", i ? ", " : "", mx->bad[i].pref,
				mx->bad[i].name[0] ? mx->bad[i].name : "?", mx_flaw_text(mx->bad[i].flaw));
	if (mx->unusable > MX_BAD_KEEP)
		note_append_raw(out, ", ...");
}

/* -D: the MX hosts of the domain in preference order, each with all its
 * addresses; no MX: the domain's own address (RFC 5321 5.1). */
static void add_domain(const struct config *cfg, struct plan *p)
{
	struct mx_list mx;
	enum mx_status st = mx_lookup(cfg->domain, cfg->timeout, &mx);
	int err;

	switch (st) {
	case MX_NXDOMAIN:
		p->domain = SF_DOMAIN_NXDOMAIN;
		return;
	case MX_NULL:
		p->domain = SF_DOMAIN_NULL_MX;
		return;
	case MX_UNUSABLE:
		p->domain = SF_DOMAIN_UNUSABLE;
		describe_bad(&mx, p->domain_detail);
		return;
	case MX_FAILED:
		p->domain = SF_DOMAIN_LOOKUP_FAILED;
		snprintf(p->domain_detail, sizeof p->domain_detail, "%s", mx.error);
		return;
	case MX_NONE:
		err = add_host(cfg, p, cfg->domain, ROLE_ADDRESS);
		if (err == 0) {
			p->domain = SF_DOMAIN_NO_MX;
			note_append(p->note, "%s has no MX record: its own address is checked (RFC 5321 5.1)",
				 cfg->domain);
		} else if (no_such_name(err)) {
			p->domain = SF_DOMAIN_NO_MX_NO_ADDRESS;
		} else {
			p->domain = SF_DOMAIN_NO_MX_UNRESOLVED;
			snprintf(p->domain_detail, sizeof p->domain_detail, "%s", gai_strerror(err));
		}
		return;
	case MX_FOUND:
	default:
		break;
	}
	p->domain = SF_DOMAIN_MX;
	p->mx_hosts = mx.n;
	if (mx.left > 0) {
		/* say which were left out, not check fewer in silence */
		note_append(p->note, "%zu more MX host%s not checked (at most %u are):", mx.left,
			    mx.left == 1 ? "" : "s", MX_HOSTS_MAX);
		for (size_t i = 0; i < mx.left && i < MX_LEFT_KEEP; i++)
			note_append_raw(p->note, " %s%s", mx.host[mx.n + i].name,
					i + 1 < mx.left && i + 1 < MX_LEFT_KEEP ? "," : "");
		if (mx.left > MX_LEFT_KEEP)
			note_append_raw(p->note, " ...");
	}
	if (mx.unusable > 0) {
		char bad[PLAN_NOTE_MAX] = "";
		describe_bad(&mx, bad);
		note_append(p->note, "%zu MX record%s skipped: %s", mx.unusable,
			    mx.unusable == 1 ? "" : "s", bad);
	}
	for (size_t i = 0; i < mx.n; i++) {
		err = add_host(cfg, p, mx.host[i].name, ROLE_MX);
		if (err != 0) {
			p->noaddr++;
			note_append(p->note, "MX host %s has no address: %s", mx.host[i].name, gai_strerror(err));
		}
	}
	if (p->n == 0) {
		p->domain = SF_DOMAIN_NO_HOST_ADDRESS;
		snprintf(p->domain_detail, sizeof p->domain_detail, "%s", p->note);
	}
}

/* --reference: one more target, with its own transport, on the first
 * address of the reference host; judged only as the yardstick of the
 * others. */
static int add_reference(const struct config *cfg, struct plan *p)
{
	int err;
	struct addrinfo *res;

	p->ref = calloc(1, sizeof *p->ref);
	if (p->ref == NULL)
		return -1;
	res = resolve(cfg, cfg->ref_host, cfg->ref_port, &err);
	target_init(p->ref, cfg->ref_host, cfg->ref_port, ROLE_REFERENCE, &p->scfg[2], NULL,
		    res != NULL && res->ai_addrlen <= sizeof(struct sockaddr_storage) ? res : NULL,
		    p->t_begin);
	if (res == NULL) {
		snprintf(p->ref_problem, sizeof p->ref_problem, "cannot resolve %s: %s", cfg->ref_host,
			 gai_strerror(err));
		return 0;
	}
	freeaddrinfo(res);
	if (p->ref->sess.addrlen > 0)
		target_start(p->ref);
	return 0;
}

/* The three conversations a check may hold, from the options. */
static void plan_sessions(const struct config *cfg, struct plan *p)
{
	struct session_config *c = p->scfg;

	memset(c, 0, sizeof p->scfg);
	c[0].ehlo_name = cfg->fqdn;
	c[0].quit_wait = QUIT_WAIT;
	c[0].starttls = cfg->starttls;
	c[0].implicit_tls = cfg->implicit_tls;
	c[0].probe = (cfg->probe & PROBE_COMMANDS) != 0;
	c[0].witness = (cfg->probe & PROBE_DATA) != 0;
	c[0].witness_rcpt = cfg->probe_rcpt;
	c[0].witness_wait = WITNESS_WAIT;
	c[0].sni = cfg->host[0] ? cfg->host : NULL; /* -D: no one name for all */
	c[2] = c[0]; /* --reference: its own transport, no probe */
	c[2].starttls = cfg->ref_transport == TRANSPORT_STARTTLS;
	c[2].implicit_tls = cfg->ref_transport == TRANSPORT_TLS;
	c[2].probe = 0;
	c[2].witness = 0;
	c[2].sni = NULL;
	if (cfg->starttls && cfg->probe) {
		/* the probe's long command may get the connection dropped,
		 * which must not cost the STARTTLS witness: two conversations */
		c[1] = c[0];
		c[0].starttls = 0;
		c[1].probe = 0;
		c[1].witness = 0; /* the witness ends its connection: never in the STARTTLS one */
	}
}

int plan_make(const struct config *cfg, struct plan *p)
{
	memset(p, 0, sizeof *p);
	plan_sessions(cfg, p);
	p->t_begin = session_now();
	if (cfg->domain[0] != '\0')
		add_domain(cfg, p);
	else
		p->resolve_error = add_host(cfg, p, cfg->host, ROLE_ADDRESS);
	if (cfg->ref_host[0] != '\0' && add_reference(cfg, p) != 0)
		p->nomem = 1;
	return p->nomem ? -1 : 0;
}

/* The later of a target's sessions' ends, or 0 if one has not ended. */
static double sessions_end(const struct target *tg)
{
	double e = tg->sess.r.t.end;

	if (tg->two_sessions && (tg->tls_sess.r.t.end == 0 || e == 0))
		return 0;
	if (tg->two_sessions && tg->tls_sess.r.t.end > e)
		e = tg->tls_sess.r.t.end;
	return e;
}

void plan_run(const struct config *cfg, struct plan *p)
{
	struct session *list[TARGETS_MAX * 2 + 1];
	size_t nsess = 0;

	if (p->ref != NULL && p->ref->sess.addrlen > 0)
		list[nsess++] = &p->ref->sess;
	for (size_t i = 0; i < p->n; i++) {
		list[nsess++] = &p->tg[i].sess;
		if (p->tg[i].two_sessions)
			list[nsess++] = &p->tg[i].tls_sess;
	}
	if (nsess > 0)
		session_run(list, nsess, p->t_begin + cfg->timeout);
	p->t_end = session_now();
	for (size_t i = 0; i < p->n; i++) {
		struct target *tg = &p->tg[i];
		tg->t_end = sessions_end(tg) > 0 ? sessions_end(tg) : p->t_end;
	}
	if (p->ref != NULL)
		p->ref->t_end = p->t_end;
}

void target_name(const struct target *tg, char *buf, size_t bufsz)
{
	if (strcmp(tg->port, DEFAULT_PORT) == 0)
		snprintf(buf, bufsz, "%s", tg->host);
	else if (strchr(tg->host, ':') != NULL)
		snprintf(buf, bufsz, "[%s]:%s", tg->host, tg->port);
	else
		snprintf(buf, bufsz, "%s:%s", tg->host, tg->port);
}

const struct session *target_tls_session(const struct target *tg)
{
	return tg->two_sessions ? &tg->tls_sess : &tg->sess;
}

double target_done(const struct target *tg)
{
	return tg->sess.r.t.probe_done > 0 ? tg->sess.r.t.probe_done : tg->t_end;
}

void plan_free(struct plan *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n; i++) {
		session_cleanup(&p->tg[i].sess);
		session_cleanup(&p->tg[i].tls_sess);
	}
	if (p->ref != NULL) {
		session_cleanup(&p->ref->sess);
		session_cleanup(&p->ref->tls_sess);
	}
	free(p->ref);
	free(p->tg);
	p->ref = NULL;
	p->tg = NULL;
	p->n = p->cap = 0;
}

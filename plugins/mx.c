/*
 * mx.c - MX lookup through the C library's resolver; see mx.h. mx_parse()
 * is pure (a buffer in, a list out) so that crafted answers can be tested
 * without a DNS server (tests/test_mx.c); mx_lookup() only asks and hands
 * over.
 *
 * The answer is read here (RFC 1035 4.1), not with libresolv's ns_*
 * functions: glibc 2.34 moved res_nquery, dn_expand and dn_skipname into
 * libc, and libresolv would cost every run its loading (page faults and
 * relocations, bench/RESULTS.md) for -D's sake alone. Names are still
 * expanded by dn_expand, which follows compression pointers and refuses a
 * loop, one past the end and a name over 255 octets. Every step is checked
 * against the answer's length; the whole message must fit it exactly, as
 * before, so an answer cut anywhere is refused.
 */
#include <arpa/nameser.h> /* NS_MAXDNAME, ns_c_in, ns_t_mx: constants only */
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mx.h"

int mx_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > MX_NAME_MAX || name[0] == '.' || name[0] == '-')
		return 0;
	for (const char *p = name; *p; p++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return 0;
		if (c == '.' && p[1] == '.')
			return 0;
	}
	return 1;
}

const char *mx_flaw_text(enum mx_flaw flaw)
{
	switch (flaw) {
	case MX_FLAW_ROOT: return "the root";
	case MX_FLAW_NAME: return "an invalid name";
	case MX_FLAW_LONG: return "a name too long";
	case MX_FLAW_DATA: return "unreadable data";
	default: return "an unknown flaw";
	}
}

/* Insert h in preference order (stable for equal preferences) into the
 * hosts taken and, past MX_HOSTS_MAX, the names kept of those not taken:
 * a more preferred host found later pushes a less preferred one out. */
static void insert_sorted(struct mx_list *out, const struct mx_host *h)
{
	const size_t cap = MX_HOSTS_MAX + MX_LEFT_KEEP;
	size_t have = out->n + (out->left < MX_LEFT_KEEP ? out->left : MX_LEFT_KEEP);
	size_t i;

	if (have == cap && out->host[cap - 1].pref <= h->pref) {
		out->left++; /* not taken, not named */
		return;
	}
	i = have < cap ? have : cap - 1; /* the last one falls off when full */
	while (i > 0 && out->host[i - 1].pref > h->pref) {
		out->host[i] = out->host[i - 1];
		i--;
	}
	out->host[i] = *h;
	if (out->n < MX_HOSTS_MAX)
		out->n++;
	else
		out->left++;
}

/* Record an unusable record. */
static void add_bad(struct mx_list *out, unsigned pref, enum mx_flaw flaw, const char *name)
{
	if (out->unusable < MX_BAD_KEEP) {
		struct mx_bad *b = &out->bad[out->unusable];
		size_t len = strlen(name);
		if (len > MX_SHOW_MAX)
			len = MX_SHOW_MAX;
		b->pref = pref;
		b->flaw = flaw;
		memcpy(b->name, name, len);
		b->name[len] = '\0';
	}
	out->unusable++;
}

/* RFC 1035 4.1: a message is a header of DNS_HEADER octets (ID, flags,
 * then the counts of the question, answer, authority and additional
 * sections), then the sections. A question is a name and DNS_QFIXED octets
 * (QTYPE, QCLASS); every other record a name (the owner), DNS_RRFIXED
 * octets (TYPE, CLASS, TTL, RDLENGTH) and RDLENGTH octets of data. */
#define DNS_HEADER 12U
#define DNS_QFIXED 4U
#define DNS_RRFIXED 10U
#define DNS_FLAG_TC 0x0200U  /* truncated (RFC 1035 4.1.1) */
#define DNS_RCODE_MASK 0x000fU
#define DNS_RCODE_NXDOMAIN 3U
#define DNS_TYPE_MX 15U      /* RFC 1035 3.2.2 */
#define DNS_CLASS_IN 1U      /* RFC 1035 3.2.4 */

/* A message whose every section fits its length exactly. */
struct dns_msg {
	const unsigned char *base;
	size_t len;
	unsigned flags;
	unsigned ancount;
	size_t an; /* where the answer section starts */
};

/* One answer record; rdata points into the message. */
struct dns_rr {
	unsigned type, class;
	size_t rdlen;
	const unsigned char *rdata;
};

static unsigned get16(const unsigned char *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

/* Step *off over one record (a question when question is set): 0, or -1
 * when any part of it would end past len. Compression pointers are not
 * followed here: dn_skipname stops at the first one. */
static int skip_record(const unsigned char *base, size_t len, size_t *off, int question)
{
	size_t fixed = question ? DNS_QFIXED : DNS_RRFIXED;
	size_t at = *off;
	int n;

	if (at > len)
		return -1;
	n = dn_skipname(base + at, base + len);
	if (n < 0 || (size_t)n > len - at)
		return -1;
	at += (size_t)n;
	if (len - at < fixed)
		return -1;
	at += fixed;
	if (!question) {
		size_t rdlen = get16(base + at - 2);
		if (rdlen > len - at)
			return -1;
		at += rdlen;
	}
	*off = at;
	return 0;
}

/* The header of answer, then every record of every section skipped: 0 if
 * they end exactly at len (nothing missing, nothing after), else -1. */
static int dns_open(const unsigned char *answer, size_t len, struct dns_msg *m)
{
	unsigned count[4];
	size_t off = DNS_HEADER;

	if (len < DNS_HEADER)
		return -1;
	m->base = answer;
	m->len = len;
	m->flags = get16(answer + 2);
	for (size_t s = 0; s < 4; s++)
		count[s] = get16(answer + 4 + 2 * s);
	m->ancount = count[1];
	m->an = 0;
	for (size_t s = 0; s < 4; s++) {
		if (s == 1)
			m->an = off;
		for (unsigned i = 0; i < count[s]; i++)
			if (skip_record(answer, len, &off, s == 0) < 0)
				return -1;
	}
	return off == len ? 0 : -1;
}

/* The answer record at *off into rr, *off moved past it: 0, or -1 if it
 * cannot be read. The owner must expand (dn_expand follows compression
 * pointers and refuses a loop or one past the end), though it is not
 * used: res_nquery took only an answer to our question. */
static int dns_answer_rr(const struct dns_msg *m, size_t *off, struct dns_rr *rr)
{
	char owner[NS_MAXDNAME];
	size_t at = *off;
	int n;

	if (at > m->len)
		return -1;
	n = dn_expand(m->base, m->base + m->len, m->base + at, owner, (int)sizeof owner);
	if (n < 0 || (size_t)n > m->len - at)
		return -1;
	at += (size_t)n;
	if (m->len - at < DNS_RRFIXED)
		return -1;
	rr->type = get16(m->base + at);
	rr->class = get16(m->base + at + 2);
	rr->rdlen = get16(m->base + at + 8);
	at += DNS_RRFIXED;
	if (rr->rdlen > m->len - at)
		return -1;
	rr->rdata = m->base + at;
	*off = at + rr->rdlen;
	return 0;
}

/* One MX record's data: a usable host into h (returns 0), the root
 * (returns 1, h->pref set), or a flaw (returns it, h->name holds what
 * could be read). */
static int parse_mx(const struct dns_msg *m, const struct dns_rr *rr, struct mx_host *h,
		    char *name, size_t size)
{
	const unsigned char *rd = rr->rdata;
	size_t len;

	name[0] = '\0';
	if (rr->rdlen < 3)
		return MX_FLAW_DATA;
	h->pref = get16(rd);
	/* the name must end inside the record's data, not past it */
	if (dn_expand(m->base, m->base + m->len, rd + 2, name, (int)size) < 0 ||
	    dn_skipname(rd + 2, rd + rr->rdlen) != (int)rr->rdlen - 2) {
		name[0] = '\0';
		return MX_FLAW_DATA;
	}
	len = strlen(name);
	if (len > 0 && name[len - 1] == '.')
		name[--len] = '\0';
	if (len == 0)
		return 1;
	if (len > MX_NAME_MAX)
		return MX_FLAW_LONG;
	if (!mx_name_valid(name))
		return MX_FLAW_NAME;
	memcpy(h->name, name, len + 1);
	return 0;
}

enum mx_status mx_parse(const unsigned char *answer, size_t len, struct mx_list *out)
{
	struct dns_msg msg;
	struct dns_rr rr;
	size_t off;
	size_t roots = 0;
	unsigned root_pref = 0;

	memset(out, 0, sizeof *out);
	if (len > MX_ANSWER_MAX || dns_open(answer, len, &msg) < 0) {
		snprintf(out->error, sizeof out->error, "the DNS answer cannot be parsed");
		return MX_FAILED;
	}
	if (msg.flags & DNS_FLAG_TC) {
		snprintf(out->error, sizeof out->error,
			 "the DNS answer is truncated (more than %u octets)", MX_ANSWER_MAX);
		return MX_FAILED;
	}
	switch (msg.flags & DNS_RCODE_MASK) {
	case 0: break;
	case DNS_RCODE_NXDOMAIN: return MX_NXDOMAIN;
	default:
		snprintf(out->error, sizeof out->error, "the DNS server answered with error %u",
			 msg.flags & DNS_RCODE_MASK);
		return MX_FAILED;
	}
	off = msg.an;
	for (unsigned i = 0; i < msg.ancount; i++) {
		struct mx_host h;
		char name[NS_MAXDNAME];
		int r;
		if (dns_answer_rr(&msg, &off, &rr) < 0) {
			snprintf(out->error, sizeof out->error, "the DNS answer cannot be parsed");
			return MX_FAILED;
		}
		if (rr.type != DNS_TYPE_MX || rr.class != DNS_CLASS_IN)
			continue;
		out->records++;
		memset(&h, 0, sizeof h);
		r = parse_mx(&msg, &rr, &h, name, sizeof name);
		if (r == 0) {
			insert_sorted(out, &h);
		} else if (r == 1) {
			roots++;
			root_pref = h.pref;
		} else {
			add_bad(out, h.pref, (enum mx_flaw)r, name);
		}
	}
	/* RFC 7505 3: the null MX is the one MX record, preference 0 */
	if (roots == 1 && out->records == 1 && root_pref == 0)
		return MX_NULL;
	for (size_t i = 0; i < roots; i++)
		add_bad(out, root_pref, MX_FLAW_ROOT, ".");
	if (out->n > 0)
		return MX_FOUND;
	return out->records > 0 ? MX_UNUSABLE : MX_NONE;
}

enum mx_status mx_lookup(const char *domain, double timeout, struct mx_list *out)
{
	struct __res_state st;
	unsigned char *ans;
	enum mx_status status;
	int len;

	memset(out, 0, sizeof *out);
	ans = malloc(MX_ANSWER_MAX);
	if (ans == NULL) {
		snprintf(out->error, sizeof out->error, "out of memory for the DNS answer");
		return MX_FAILED;
	}
	memset(&st, 0, sizeof st);
	if (res_ninit(&st) != 0) {
		free(ans);
		snprintf(out->error, sizeof out->error, "the resolver cannot be set up");
		return MX_FAILED;
	}
	/* the whole budget, shared between two tries of each server */
	st.retrans = timeout >= 4 ? (int)(timeout / 2) : 1;
	st.retry = 1;
	/* glibc asks again over TCP when the UDP answer has TC set; an answer
	 * longer than the buffer gets TC set too, which mx_parse refuses */
	len = res_nquery(&st, domain, ns_c_in, ns_t_mx, ans, (int)MX_ANSWER_MAX);
	if (len < 0) {
		switch (st.res_h_errno) {
		case HOST_NOT_FOUND: status = MX_NXDOMAIN; break;
		case NO_DATA: status = MX_NONE; break;
		default:
			snprintf(out->error, sizeof out->error, "%s", hstrerror(st.res_h_errno));
			status = MX_FAILED;
			break;
		}
	} else {
		status = mx_parse(ans, len > (int)MX_ANSWER_MAX ? MX_ANSWER_MAX : (size_t)len, out);
	}
	res_nclose(&st);
	free(ans);
	return status;
}

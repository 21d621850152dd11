/*
 * mx.c - MX lookup through libresolv; see mx.h. mx_parse() is pure (a
 * buffer in, a list out) so that crafted answers can be tested without a
 * DNS server (tests/test_mx.c); mx_lookup() only asks and hands over.
 */
#include <arpa/nameser.h>
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

/* One MX record's data: a usable host into h (returns 0), the root
 * (returns 1, h->pref set), or a flaw (returns it, h->name holds what
 * could be read). */
static int parse_mx(const ns_msg *msg, const ns_rr *rr, struct mx_host *h, char *name,
		    size_t size)
{
	const unsigned char *rd = ns_rr_rdata(*rr);
	size_t len;

	name[0] = '\0';
	if (ns_rr_rdlen(*rr) < 3)
		return MX_FLAW_DATA;
	h->pref = ns_get16(rd);
	/* the name must end inside the record's data, not past it */
	if (dn_expand(ns_msg_base(*msg), ns_msg_end(*msg), rd + 2, name, (int)size) < 0 ||
	    dn_skipname(rd + 2, rd + ns_rr_rdlen(*rr)) != (int)ns_rr_rdlen(*rr) - 2) {
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
	ns_msg msg;
	ns_rr rr;
	int count;
	size_t roots = 0;
	unsigned root_pref = 0;

	memset(out, 0, sizeof *out);
	if (len > MX_ANSWER_MAX || ns_initparse(answer, (int)len, &msg) < 0) {
		snprintf(out->error, sizeof out->error, "the DNS answer cannot be parsed");
		return MX_FAILED;
	}
	if (ns_msg_getflag(msg, ns_f_tc)) {
		snprintf(out->error, sizeof out->error,
			 "the DNS answer is truncated (more than %u octets)", MX_ANSWER_MAX);
		return MX_FAILED;
	}
	switch (ns_msg_getflag(msg, ns_f_rcode)) {
	case ns_r_noerror: break;
	case ns_r_nxdomain: return MX_NXDOMAIN;
	default:
		snprintf(out->error, sizeof out->error, "the DNS server answered with error %d",
			 ns_msg_getflag(msg, ns_f_rcode));
		return MX_FAILED;
	}
	count = ns_msg_count(msg, ns_s_an);
	for (int i = 0; i < count; i++) {
		struct mx_host h;
		char name[NS_MAXDNAME];
		int r;
		if (ns_parserr(&msg, ns_s_an, i, &rr) < 0) {
			snprintf(out->error, sizeof out->error, "the DNS answer cannot be parsed");
			return MX_FAILED;
		}
		if (ns_rr_type(rr) != ns_t_mx || ns_rr_class(rr) != ns_c_in)
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

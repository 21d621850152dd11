/*
 * mx.c - MX lookup through libresolv; see mx.h.
 */
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
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

/* Insert h into out in preference order (stable for equal preferences). */
static void insert_sorted(struct mx_list *out, const struct mx_host *h)
{
	size_t i = out->n;

	if (out->n >= MX_HOSTS_MAX) {
		out->skipped++;
		return;
	}
	while (i > 0 && out->host[i - 1].pref > h->pref) {
		out->host[i] = out->host[i - 1];
		i--;
	}
	out->host[i] = *h;
	out->n++;
}

/* One MX record's data into h. Returns 0, 1 for the null MX, -1 if bad. */
static int parse_mx(const ns_msg *msg, const ns_rr *rr, struct mx_host *h)
{
	const unsigned char *rd = ns_rr_rdata(*rr);
	char name[NS_MAXDNAME];
	size_t len;

	if (ns_rr_rdlen(*rr) < 3)
		return -1;
	h->pref = ns_get16(rd);
	if (dn_expand(ns_msg_base(*msg), ns_msg_end(*msg), rd + 2, name, (int)sizeof name) < 0)
		return -1;
	len = strlen(name);
	if (len > 0 && name[len - 1] == '.')
		name[--len] = '\0';
	if (len == 0)
		return h->pref == 0 ? 1 : -1;
	if (!mx_name_valid(name) || len >= sizeof h->name)
		return -1;
	memcpy(h->name, name, len + 1);
	return 0;
}

/* The MX records of an answer into out. */
static enum mx_status parse_answer(const unsigned char *ans, int len, struct mx_list *out)
{
	ns_msg msg;
	ns_rr rr;
	int null_mx = 0, count;

	if (ns_initparse(ans, len, &msg) < 0) {
		snprintf(out->error, sizeof out->error, "the DNS answer cannot be parsed");
		return MX_FAILED;
	}
	count = ns_msg_count(msg, ns_s_an);
	for (int i = 0; i < count; i++) {
		struct mx_host h;
		int r;
		if (ns_parserr(&msg, ns_s_an, i, &rr) < 0)
			break;
		if (ns_rr_type(rr) != ns_t_mx || ns_rr_class(rr) != ns_c_in)
			continue;
		memset(&h, 0, sizeof h);
		r = parse_mx(&msg, &rr, &h);
		if (r == 1)
			null_mx = 1;
		else if (r == 0)
			insert_sorted(out, &h);
		else
			out->skipped++;
	}
	if (out->n > 0)
		return MX_FOUND;
	return null_mx ? MX_NULL : MX_NONE;
}

enum mx_status mx_lookup(const char *domain, double timeout, struct mx_list *out)
{
	struct __res_state st;
	unsigned char ans[MX_ANSWER_MAX];
	enum mx_status status;
	int len;

	memset(out, 0, sizeof *out);
	memset(&st, 0, sizeof st);
	if (res_ninit(&st) != 0) {
		snprintf(out->error, sizeof out->error, "the resolver cannot be set up");
		return MX_FAILED;
	}
	/* the whole budget, shared between two tries of each server */
	st.retrans = timeout >= 4 ? (int)(timeout / 2) : 1;
	st.retry = 1;
	len = res_nquery(&st, domain, ns_c_in, ns_t_mx, ans, (int)sizeof ans);
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
		status = parse_answer(ans, len > (int)sizeof ans ? (int)sizeof ans : len, out);
	}
	res_nclose(&st);
	return status;
}

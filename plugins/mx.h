/*
 * mx.h - the mail servers of a domain: its MX records through libresolv
 * (res_nquery, ns_initparse/ns_parserr), in preference order.
 *
 * Bounded: one answer buffer of fixed size, at most MX_HOSTS_MAX hosts,
 * every name checked (letters, digits, '-', '_', '.', at most MX_NAME_MAX
 * octets) before it is used. The resolver's own timeout and retries are
 * set from the caller's time budget.
 */
#ifndef MX_H
#define MX_H

#include <stddef.h>

#define MX_HOSTS_MAX 16U
#define MX_NAME_MAX 253U
#define MX_ANSWER_MAX 4096U /* octets of the DNS answer we read */

/* What the lookup found. */
enum mx_status {
	MX_FOUND = 0,  /* hosts[0..n) in preference order */
	MX_NONE,       /* the domain exists but has no MX record */
	MX_NULL,       /* "null MX" (RFC 7505): the domain takes no mail */
	MX_NXDOMAIN,   /* the domain does not exist */
	MX_FAILED      /* no answer (server failure, timeout): see error */
};

struct mx_host {
	unsigned pref;
	char name[MX_NAME_MAX + 1];
};

struct mx_list {
	struct mx_host host[MX_HOSTS_MAX];
	size_t n;
	size_t skipped;     /* MX records left out: invalid names, over the cap */
	char error[128];    /* with MX_FAILED: why */
};

/* 1 if name is a host name we accept (see above), else 0. */
int mx_name_valid(const char *name);

/* Look up the MX records of domain within about timeout seconds. */
enum mx_status mx_lookup(const char *domain, double timeout, struct mx_list *out);

#endif /* MX_H */

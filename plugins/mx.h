/*
 * mx.h - the mail servers of a domain: its MX records through the C
 * library's resolver (res_nquery), read by mx_parse() (RFC 1035 4.1, with
 * dn_expand for names), in preference order.
 *
 * Bounded: one answer buffer of MX_ANSWER_MAX octets (the largest DNS
 * message, RFC 1035 4.2.2: a 16-bit length over TCP; glibc falls back to
 * TCP by itself when a UDP answer is truncated), at most MX_HOSTS_MAX hosts
 * taken, every name checked (letters, digits, '-', '_', '.', at most
 * MX_NAME_MAX octets) before it is used. The resolver's own timeout and
 * retries are set from the caller's time budget.
 *
 * What mx_lookup() returns, case by case:
 *   MX_FOUND     at least one usable MX host: host[0..n) are taken, in
 *                preference order; left > 0 when more usable hosts were
 *                there than MX_HOSTS_MAX (host[n..n+min(left,MX_LEFT_KEEP))
 *                name the most preferred of them); unusable > 0 when some
 *                records named no usable host (bad[] says which and why).
 *   MX_NONE      the domain exists and has no MX record at all: the only
 *                case where RFC 5321 5.1 sends mail to the domain's own
 *                address.
 *   MX_NULL      the one MX record is the null MX "0 ." (RFC 7505): the
 *                domain takes no mail.
 *   MX_UNUSABLE  MX records exist, none names a usable host (the root "."
 *                with a preference other than 0 or beside other records,
 *                an invalid or over-long name, record data that cannot be
 *                read): no fallback to the address (RFC 5321 5.1 applies
 *                only without MX records); unusable and bad[] say why.
 *   MX_NXDOMAIN  the domain does not exist.
 *   MX_FAILED    no usable answer (server failure, timeout, an answer that
 *                cannot be parsed or was truncated): error says why.
 */
#ifndef MX_H
#define MX_H

#include <stddef.h>

#define MX_HOSTS_MAX 16U     /* MX hosts taken (checked) at most */
#define MX_LEFT_KEEP 4U      /* names kept of the usable hosts not taken */
#define MX_BAD_KEEP 4U       /* unusable records described at most */
#define MX_NAME_MAX 253U     /* a host name's octets (RFC 1035 2.3.4, text form) */
#define MX_SHOW_MAX 64U      /* octets kept of an unusable name, for a message */
#define MX_ANSWER_MAX 65535U /* octets of the DNS answer we read (TCP's limit) */

/* What the lookup found (see above for each case). */
enum mx_status {
	MX_FOUND = 0, /* usable hosts in host[0..n) */
	MX_NONE,      /* the domain exists but has no MX record */
	MX_NULL,      /* "null MX" (RFC 7505): the domain takes no mail */
	MX_NXDOMAIN,  /* the domain does not exist */
	MX_FAILED,    /* no usable answer: see error */
	MX_UNUSABLE   /* MX records, none usable: see bad[] */
};

/* Why an MX record names no usable host. */
enum mx_flaw {
	MX_FLAW_ROOT = 1, /* the root ".", other than a lone null MX */
	MX_FLAW_NAME,     /* a character or an empty label a host name cannot have */
	MX_FLAW_LONG,     /* over MX_NAME_MAX octets */
	MX_FLAW_DATA      /* the record's data cannot be read (short, bad name) */
};

struct mx_host {
	unsigned pref;
	char name[MX_NAME_MAX + 1];
};

/* One unusable record: its preference, why, and its name as the resolver
 * prints it (non-printable octets as \DDD), cut to MX_SHOW_MAX octets
 * ("" for MX_FLAW_DATA). */
struct mx_bad {
	unsigned pref;
	enum mx_flaw flaw;
	char name[MX_SHOW_MAX + 1];
};

struct mx_list {
	/* [0, n): taken; [n, n + min(left, MX_LEFT_KEEP)): the first not taken */
	struct mx_host host[MX_HOSTS_MAX + MX_LEFT_KEEP];
	size_t n;        /* hosts taken, at most MX_HOSTS_MAX */
	size_t left;     /* usable hosts not taken (over MX_HOSTS_MAX) */
	size_t records;  /* MX records in the answer, null MX included */
	size_t unusable; /* records that name no usable host */
	struct mx_bad bad[MX_BAD_KEEP]; /* the first min(unusable, MX_BAD_KEEP) */
	char error[128]; /* with MX_FAILED: why */
};

/* 1 if name is a host name we accept (see above), else 0. */
int mx_name_valid(const char *name);

/* The MX records of a DNS answer (len octets, as res_nquery gives it) into
 * out, which is cleared first. Pure: no I/O. Returns any status but
 * MX_FAILED only for an answer that cannot be read, is truncated (TC) or
 * carries an error RCODE other than NXDOMAIN. */
enum mx_status mx_parse(const unsigned char *answer, size_t len, struct mx_list *out);

/* Look up the MX records of domain within about timeout seconds. */
enum mx_status mx_lookup(const char *domain, double timeout, struct mx_list *out);

/* A short English word for a flaw ("the root", "an invalid name", ...). */
const char *mx_flaw_text(enum mx_flaw flaw);

#endif /* MX_H */

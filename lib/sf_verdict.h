/*
 * sf_verdict.h - the only judge. From the facts of a check -- how each
 * conversation ended, what the server (through whatever sits in the path)
 * said to each command, the reference and baseline to compare with, the
 * response time's state and the user's state overrides -- the list of
 * findings: what is wrong, how bad, the exact lines that prove it and,
 * where a box is recognised, its name and remedy; ordered once, worst
 * first, with the state of the whole and a one-line summary.
 *
 * Pure: it reads replies already parsed, it never does I/O. It must never
 * flag a healthy server: real X-extensions (XCLIENT, XFORWARD, XEXCH50...),
 * banners decorated with a few asterisks and banners with dates are clean
 * (doc/inspection-boxes.md).
 */
#ifndef SF_VERDICT_H
#define SF_VERDICT_H

#include <stddef.h>
#include "sf_common.h"
#include "sf_reply.h"
#include "sf_ehlo.h"
#include "sf_fingerprints.h"

/* Kinds of finding. Each has a default state; most have a plugin option
 * that overrides it (sf_kind_info). Keep sf_verdict.c's table in this
 * order. */
enum sf_kind {
	SF_FIND_BANNER_MASKED = 0, /* greeting text made of '*', '2', '0', blanks */
	SF_FIND_EXT_MASKED,        /* EHLO lines overwritten with the X mask */
	SF_FIND_EHLO_REFUSED,      /* EHLO answered 4xx/5xx, or anything not 2xx (X echo names the box) */
	SF_FIND_EHLO_NOOP,         /* EHLO answered like NOOP: one 250 line, no domain, no keywords */
	SF_FIND_EXT_MISSING,       /* an extension the user requires is not offered */
	SF_FIND_EXT_INCONSISTENT,  /* e.g. BINARYMIME without CHUNKING (RFC 3030) */
	SF_FIND_FINGERPRINT,       /* another vendor's SMTP proxy recognised by its banner */
	SF_FIND_EXT_STRIPPED,      /* offered inside TLS but missing outside: the path hides it */
	SF_FIND_STARTTLS_REFUSED,  /* STARTTLS answered 4xx/5xx where a box is in sight (X echo, masks, offered) */
	SF_FIND_TLS_FAILED,        /* STARTTLS accepted, then the TLS handshake failed */
	SF_FIND_STARTTLS_MISSING,  /* -S: STARTTLS neither offered nor accepted, no box in sight */
	SF_FIND_PROBE,             /* --probe: a command X-ed, called unrecognised though offered, or a drop */
	SF_FIND_REF_MISSING,       /* --reference: offered on the reference path, missing or masked here */
	SF_FIND_REF_BANNER,        /* --reference: the greeting differs from the reference path's */
	SF_FIND_BASELINE_CHANGED,  /* --baseline: keywords gone or the greeting changed since the last clean run */
	SF_FIND_PROXY,             /* an open-source proxy or TLS terminator shows itself (stunnel...): a note */
	SF_FIND_DATA_DROPPED,      /* --probe=data: the connection dropped, no reply, after a part a policy punishes */
	/* Kinds without an option: the conversation itself. */
	SF_FIND_SESSION_FAILED,    /* the conversation could not be held (refused, reset, timeout, not SMTP...) */
	SF_FIND_GREETING_REFUSED,  /* the greeting is not 220: the server refuses the session */
	SF_FIND_SERVER_CLOSED,     /* the server ended the session itself (421) */
	SF_FIND_RESPONSE_TIME,     /* the response time is past -w or -c */
	SF_FIND_REF_UNUSABLE,      /* --reference: nothing to compare with */
	SF_FIND_LOCAL,             /* this host failed (out of memory, descriptors): UNKNOWN */
	SF_FIND_EHLO_TLS_REFUSED,  /* EHLO inside TLS not answered with 250: no box sees inside TLS */
	SF_FIND_PROBE_REFUSED,     /* --probe: the server refused a probe (4xx/5xx) and closed: its policy, a note */
	SF_FIND_DATA_NOTE,         /* --probe=data: the witness passed, was skipped or met the server's policy */
	SF_FIND__COUNT             /* count; not a kind */
};

/* Static facts about a kind. */
struct sf_kind_info {
	const char *option;          /* long option that overrides its state, e.g. "banner-masked"; NULL: none */
	const char *title;           /* plain words, e.g. "greeting banner masked" */
	enum sf_state default_state; /* state when the user did not override it */
	int path;                    /* 1: evidence about the path (counts as "behind SMTP inspection") */
};

/* Facts for kind k; NULL if k is out of range. */
const struct sf_kind_info *sf_kind_info(enum sf_kind k);

/* One finding. Owned by its sf_verdict. */
struct sf_finding {
	enum sf_kind kind;
	enum sf_state state;       /* the kind's state, after the user's overrides */
	char *summary;             /* one phrase for the first output line, e.g. "3 of 12 ESMTP extensions masked" */
	size_t nevidence;
	char **evidence;           /* lines exactly as received (unescaped), or what was sent and came back */
	const struct sf_box *box;  /* recognised box or NULL */
	int fixed;                 /* 1: the state is the conversation's, no option overrides it */
};

/* One probe command (--probe) and what came back. */
struct sf_probe {
	const char *sent;             /* the command line as sent, without CRLF */
	const char *keyword;          /* extension it belongs to (BDAT: CHUNKING), or NULL */
	const struct sf_reply *reply; /* its reply, NULL if none came */
	int dropped;                  /* the connection was dropped right after it, no reply */
	int closed_after;             /* the server closed the connection after this reply */
};

/* How one conversation ended. */
enum sf_end {
	SF_END_COMPLETE = 0,   /* held to the end */
	SF_END_CONNECT_FAILED, /* the connection could not be made (reason: why) */
	SF_END_TIMEOUT,        /* the deadline passed */
	SF_END_RESET,          /* the peer reset the connection */
	SF_END_CLOSED,         /* the peer closed before the end */
	SF_END_PROTOCOL,       /* the peer broke the reply grammar (reason, line) */
	SF_END_TOO_MUCH,       /* the peer sent more than SF_CONN_BYTES_MAX */
	SF_END_UNSOLICITED,    /* a reply arrived before the command it answers */
	SF_END_CLEARTEXT_AFTER_STARTTLS, /* clear text after the 220 to STARTTLS (RFC 3207 5) */
	SF_END_TLS_FAILED,     /* implicit TLS: the handshake failed (reason) */
	SF_END_IO_ERROR,       /* another network error (reason) */
	SF_END_LOCAL           /* this host failed: out of memory, no descriptors (reason) */
};

/* The facts of one conversation's end, in words where words are needed. */
struct sf_conv {
	enum sf_end end;
	const char *step;   /* where it ended, e.g. "waiting for the greeting"; NULL: "" */
	const char *reason; /* why, e.g. "Connection refused", a parser or TLS error; or NULL */
	const char *line;   /* SF_END_PROTOCOL: the offending octets (raw), or NULL */
	size_t line_len;
	int mid_reply;      /* it ended in the middle of a reply */
	int in_greeting;    /* it ended while waiting for the greeting */
	const char *greeting_raw; /* SF_END_PROTOCOL in the greeting: the octets that came (raw, */
	size_t greeting_raw_len;  /* line ends kept, maybe cut), or NULL: then line alone is judged */
};

/* How the DATA-phase witness (--probe=data) ended. */
enum sf_witness_end {
	SF_WITNESS_NONE = 0, /* not run: not asked, EHLO failed, or the connection ended before */
	SF_WITNESS_REFUSED,  /* MAIL, RCPT or DATA not accepted: skipped */
	SF_WITNESS_PASSED,   /* every part written, no reaction within the wait: we closed */
	SF_WITNESS_REPLIED,  /* the server replied (or began to) during the message */
	SF_WITNESS_DROPPED,  /* the connection was reset or closed with no reply during the message */
	SF_WITNESS_CUT       /* the check's deadline came before every part was watched */
};

/* The DATA-phase witness: MAIL FROM:<>, RCPT, DATA, then the parts of a
 * message (SF_WITNESS_PARTS; part 1 holds the long header line, part 2 the
 * long MIME file name), never the end-of-data marker. */
struct sf_witness {
	enum sf_witness_end end;
	const char *refused_cmd;        /* REFUSED: the command as sent, without CRLF */
	const struct sf_reply *refused; /* REFUSED: its reply */
	const struct sf_reply *data;    /* the 354 to DATA, when the message was begun */
	size_t parts;                   /* message parts written */
	const struct sf_reply *reply;   /* REPLIED: the reply, or NULL if it never completed */
	int reset;                      /* DROPPED: 1 reset, 0 closed */
	double wait;                    /* seconds watched after each part */
};

/* What was seen. Replies and lists are borrowed: the verdict copies what it
 * keeps. Fields after nrequired may stay zero when STARTTLS, --probe,
 * --reference and --baseline were not used. A list (struct sf_ehlo) may be
 * NULL where its reply is given: the verdict then parses the reply itself
 * (the plugin passes the lists its sessions parsed once). */
struct sf_verdict_input {
	const char *target;              /* "host" or "host:port", for texts; NULL: "the server" */
	const char *address;             /* its numeric address, for texts; NULL: none shown */
	double timeout;                  /* the check's timeout (s), for texts */
	struct sf_conv conv;             /* how the conversation ended */
	const struct sf_conv *tls_conv;  /* -S with --probe: the STARTTLS conversation's end, or NULL */
	const struct sf_reply *greeting; /* the 220 (or other) greeting; NULL if none came */
	const struct sf_reply *ehlo;     /* reply to EHLO, NULL if not reached */
	const struct sf_ehlo *ehlo_list; /* it parsed, or NULL */
	const struct sf_reply *helo;     /* reply to HELO, NULL unless it was sent */
	const char *const *required;     /* extension keywords the user requires */
	size_t nrequired;
	int starttls_tried;              /* STARTTLS was sent (-S) */
	const struct sf_reply *starttls; /* its reply, NULL if none came */
	const char *tls_error;           /* why the handshake failed, NULL if it did not */
	const struct sf_reply *ehlo_tls; /* reply to EHLO inside TLS, NULL if not reached */
	const struct sf_ehlo *ehlo_tls_list; /* it parsed, or NULL */
	const char *const *tls_ignore;   /* keywords that may differ inside TLS (STARTTLS, AUTH) */
	size_t ntls_ignore;
	const struct sf_probe *probes;   /* --probe results, in the order sent */
	size_t nprobes;
	const struct sf_witness *witness; /* --probe=data, or NULL */
	const struct sf_reply *ref_greeting; /* --reference: the same server without the box, */
	const struct sf_reply *ref_ehlo;     /* its greeting and EHLO reply; NULL when not used */
	const struct sf_ehlo *ref_ehlo_list; /* that reply parsed, or NULL */
	const char *ref_problem;             /* --reference: why it could not be reached, or NULL */
	const struct sf_conv *ref_conv;      /* --reference: how its conversation ended, or NULL */
	const char *ref_target;              /* --reference: its name and address, for texts */
	const char *ref_address;
	const char *baseline_banner;         /* --baseline: the first greeting line of the last */
	const char *const *baseline_kw;      /* clean run and its keywords; banner NULL when */
	size_t nbaseline_kw;                 /* there is none */
	int baseline_banner_cut;             /* the banner kept is only the start of the line */
	const char *baseline_since;          /* when that run was, in words; NULL: not said */
	enum sf_state time_state;            /* the response time against -w/-c */
	double time_total;                   /* the response time (s) */
	const enum sf_state *state_of;       /* SF_FIND__COUNT states by kind, the user's overrides; NULL: defaults */
};

/* The findings, worst state first, the state of the whole, plus counts for
 * perfdata. */
struct sf_verdict {
	size_t nfindings;
	struct sf_finding *findings;
	enum sf_state state;        /* the worst finding's state; OK if none */
	int inspected;              /* a finding about the path whose state is not OK */
	unsigned extensions;        /* EHLO lines after the first (keywords advertised, masked or not) */
	unsigned masked_extensions; /* of those, masked */
	int banner_masked;          /* 0 or 1 */
	unsigned tls_extensions;    /* EHLO lines after the first inside TLS */
	unsigned stripped_extensions; /* keywords offered inside TLS only (STARTTLS counted if hidden) */
	unsigned reference_missing; /* keywords offered on the reference path, missing or masked here */
	unsigned baseline_gone;     /* keywords of the baseline not offered now */
	const struct sf_box *box;   /* the box most findings point to, or NULL */
	char *line;                 /* every finding in one line, escaped; never NULL */
	char *headline;             /* the conclusion first, at most SF_HEADLINE_MAX octets,
				     * escaped: for the status line; never NULL */
};

/* Octets of a headline: a status line "SMTP FIXUP CRITICAL - " and its
 * headline stay within 200 characters, what notifications (mail
 * subjects, SMS, chat) show of an alert. */
#define SF_HEADLINE_MAX 176U

/* Judge in. Returns 0 and *out (caller frees with sf_verdict_free), or -1 if
 * memory ran out. */
int sf_verdict_make(const struct sf_verdict_input *in, struct sf_verdict **out);

/* Release it. NULL is a no-op. */
void sf_verdict_free(struct sf_verdict *v);

/* The short form of finding f of v ("STARTTLS blocked", "5 of 12
 * extensions masked"), into buf; what a headline lists. */
void sf_finding_brief(const struct sf_verdict *v, const struct sf_finding *f, char *buf, size_t bufsz);

/* Fit items into out (size outsz) within budget octets: lead, then the
 * items joined by ", " while they fit, then " (+N more)" for the rest; an
 * item too long for what is left is cut with "...". Returns the length. */
size_t sf_fit_items(const char *lead, const char *const *items, size_t nitems, size_t budget,
		    char *out, size_t outsz);

/* What identifies a greeting line across connections, into out (size
 * outsz, NUL-terminated; cut when it does not fit): its code, the host
 * name and the product words in lower case, punctuation kept, and "#" for
 * what changes per connection -- numbers, dates and times (day and month
 * names too), session and queue ids, hex or base64 tokens, the client's
 * address. A masked greeting keys as "<masked>". Two greetings of the same
 * software on the same path have the same key (doc/inspection-boxes.md 5).
 * Returns the key's length. */
size_t sf_greeting_key(const char *line, size_t len, char *out, size_t outsz);

/* What the lookup of a domain's mail servers (-D) found. */
enum sf_domain {
	SF_DOMAIN_MX = 0,          /* MX hosts found, some with addresses: check them */
	SF_DOMAIN_NO_MX,           /* no MX record: its own address is checked (RFC 5321 5.1) */
	SF_DOMAIN_NXDOMAIN,        /* the domain does not exist */
	SF_DOMAIN_NULL_MX,         /* a null MX record (RFC 7505) */
	SF_DOMAIN_LOOKUP_FAILED,   /* the MX records could not be had (detail) */
	SF_DOMAIN_NO_MX_NO_ADDRESS,/* no MX record and no address */
	SF_DOMAIN_NO_MX_UNRESOLVED,/* no MX record, and its address lookup failed (detail) */
	SF_DOMAIN_NO_HOST_ADDRESS, /* MX hosts, none with an address (detail: their notes) */
	SF_DOMAIN_UNUSABLE         /* MX records, none naming a usable host (detail: which, why) */
};

/* A domain that cannot be checked: 1 with the state and the status text
 * (unescaped) in buf; 0 when its hosts are to be checked. */
int sf_domain_verdict(const char *domain, enum sf_domain d, const char *detail, size_t mx_hosts,
		      enum sf_state *st, char *buf, size_t bufsz);

#endif /* SF_VERDICT_H */

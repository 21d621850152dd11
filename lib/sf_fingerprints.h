/*
 * sf_fingerprints.h - the middleboxes we know, what they leave on the wire,
 * and how to turn them off (doc/inspection-boxes.md 1, 2, 5, 6). A new box is a new row in
 * the table in sf_fingerprints.c and a new test, not a new branch elsewhere.
 */
#ifndef SF_FINGERPRINTS_H
#define SF_FINGERPRINTS_H

#include <stddef.h>

#include "sf_reply.h"

/* A known middlebox. Static storage: valid for the life of the process. */
struct sf_box {
	const char *id;     /* short stable id, e.g. "cisco-asa" */
	const char *name;   /* what to tell the operator, e.g. "Cisco ASA/FTD ESMTP inspection" */
	const char *remedy; /* how to turn it off, one or more sentences; "" if none known */
	int benign;         /* 1: a proxy or TLS terminator that shows itself, not a fault by
			     * itself (doc/inspection-boxes.md 5.2): a note, never a Cisco box */
};

/* Well-known boxes the verdict names directly. */
enum sf_box_id {
	SF_BOX_PIX_OLD = 0,  /* PIX 5.1..6.x fixup smtp (banner keeps 2 and 0) */
	SF_BOX_PIX4,         /* PIX 4.x "SMTP/cmap" banner */
	SF_BOX_CISCO_ASA,    /* PIX 7+/ASA/FTD/FWSM inspect esmtp */
	SF_BOX_PIX_MAILGUARD,/* PIX MailGuard X-ing or NOOP-ing EHLO */
	SF_BOX__WELL_KNOWN   /* count; not a box */
};

/* The row for a well-known box. Never NULL for a valid id. */
const struct sf_box *sf_box_get(enum sf_box_id id);

/* Another vendor's SMTP proxy recognised from the greeting text (the text
 * of the 220 line(s) after "220 "), e.g. Check Point, SonicWALL, Barracuda,
 * F-Secure, WatchGuard (doc/inspection-boxes.md 5). NULL if none matches. Never reads past
 * len. */
const struct sf_box *sf_fingerprint_banner(const char *text, size_t len);

/* The proxy whose own EHLO keyword kw[0..len) is (case-insensitive, whole
 * keyword), e.g. proxsmtpd's XFILTERED; NULL if none. Never reads past len. */
const struct sf_box *sf_fingerprint_keyword(const char *kw, size_t len);

/* Number of rows in the banner fingerprint table, and row i (for tests). */
size_t sf_fingerprint_count(void);
const struct sf_box *sf_fingerprint_at(size_t i);

/* The banner test alone (doc/inspection-boxes.md 1): 1 if every greeting line's text is
 * made of '*', '2', '0', blanks, with at least one '*' in all; sets *box to
 * the PIX (2/0 survived) or ASA (only '*') row. PIX 4's "SMTP/cmap" banner
 * also counts, with the PIX 4 row. */
int sf_banner_masked(const struct sf_reply *greeting, const struct sf_box **box);

/* A greeting the reply parser refused because a mask took the whole line
 * (doc/inspection-boxes.md 1.4): raw[0..len) is what arrived while waiting
 * for the greeting, line ends kept, the last line possibly unfinished.
 * 1 if the first line starts with "220" and every line is either a reply
 * line whose text is masked ('*', '2', '0', blanks) or a line whose
 * separator was masked ('*' at octet 4) and whose code is '2', '0' or '*'
 * (kept or masked), the rest masked text; at least one line of the second
 * kind. Sets *box to the PIX row: only PIX/MailGuard cases show the mask
 * over the separator. "2200", "220 *** ACME ***", "HTTP/1.1 400" and a
 * line of '*' after a clear first line are not. Never reads past len. */
int sf_greeting_mask_broken(const char *raw, size_t len, const struct sf_box **box);

#endif /* SF_FINGERPRINTS_H */

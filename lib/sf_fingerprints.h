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

/* Number of rows in the banner fingerprint table, and row i (for tests). */
size_t sf_fingerprint_count(void);
const struct sf_box *sf_fingerprint_at(size_t i);

/* The banner test alone (doc/inspection-boxes.md 1): 1 if every greeting line's text is
 * made of '*', '2', '0', blanks, with at least one '*' in all; sets *box to
 * the PIX (2/0 survived) or ASA (only '*') row. PIX 4's "SMTP/cmap" banner
 * also counts, with the PIX 4 row. */
int sf_banner_masked(const struct sf_reply *greeting, const struct sf_box **box);

#endif /* SF_FINGERPRINTS_H */

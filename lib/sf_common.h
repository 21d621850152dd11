/*
 * sf_common.h - definitions shared by every part of libsmtpfixup: the
 * monitoring states and the limits that bound what a peer can make us hold.
 *
 * libsmtpfixup is pure code: no sockets, no globals, no exit(). The plugin
 * does the I/O and feeds bytes in.
 */
#ifndef SF_COMMON_H
#define SF_COMMON_H

#include <stddef.h>

/* Monitoring states. The numbers are the plugin exit codes fixed by the
 * monitoring-plugins development guidelines. */
enum sf_state {
	SF_OK = 0,
	SF_WARNING = 1,
	SF_CRITICAL = 2,
	SF_UNKNOWN = 3
};

/* Limits on what one peer can make us hold. RFC 5321 4.5.3.1.5 caps a reply
 * line at 512 octets including CRLF; real servers sometimes exceed it a
 * little, so we allow slack, then refuse. */
#define SF_REPLY_LINE_MAX 1000U   /* octets in one reply line, without CRLF */
#define SF_REPLY_LINES_MAX 256U   /* lines in one (multi-line) reply */
#define SF_REPLY_BYTES_MAX 65536U /* octets in one reply, line ends included */
#define SF_CONN_BYTES_MAX 262144U /* octets read from one connection */
#define SF_EHLO_KEYWORD_MAX 64U   /* octets in one EHLO keyword we store */
#define SF_REQUIRE_MAX 32U        /* extensions the user may require */

/* The DATA-phase witness (--probe=data, doc/inspection-boxes.md 4.1): just
 * past the two limits of the ASA's default ESMTP policy that drop the
 * connection in a message. */
#define SF_WITNESS_HEADER_LINE 1000U /* octets of its long header line, CRLF excluded (policy: 998) */
#define SF_WITNESS_FILE_NAME 300U    /* octets of its MIME file name, quotes excluded (policy: 255) */
#define SF_WITNESS_PARTS 2U          /* message parts, each its own write: the header, the MIME part */

/* "OK", "WARNING", "CRITICAL", "UNKNOWN"; "UNKNOWN" for anything else. */
const char *sf_state_name(int state);

/* Parse "ok", "warning", "critical", "unknown" (any case) or "0".."3".
 * Returns 0 and sets *out, or -1 for anything else (out untouched). */
int sf_state_parse(const char *s, enum sf_state *out);

/* The worse of two states: CRITICAL > WARNING > UNKNOWN > OK. */
enum sf_state sf_state_worst(enum sf_state a, enum sf_state b);

/* Rank used by sf_state_worst: higher is worse. */
int sf_state_rank(enum sf_state s);

#endif /* SF_COMMON_H */

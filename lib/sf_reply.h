/*
 * sf_reply.h - streaming SMTP reply parser (RFC 5321 4.2, 4.5.3.1.5).
 *
 * Bytes go in with sf_parser_feed() in any chunking; complete replies come
 * out of sf_parser_next(). "No reply yet" is a normal result. Every line,
 * every reply and the buffered partial line are bounded (sf_common.h); going
 * past a bound, a NUL byte, a bad code or a continuation line with another
 * code is a protocol error with a reason. After an error the parser stays in
 * error: the connection is not worth reading further.
 *
 * Grammar accepted: code [2-5][0-9][0-9], then '-' (more lines follow),
 * ' ' or the end of the line (last line); lines end in CRLF or a bare LF;
 * a CR anywhere else is an error. Any other octet except NUL is text.
 */
#ifndef SF_REPLY_H
#define SF_REPLY_H

#include <stddef.h>

/* One reply line as received, without its line end. */
struct sf_reply_line {
	char *raw;  /* "250-SIZE 10240000", NUL-terminated (no NUL inside) */
	size_t len; /* strlen(raw), >= 3 */
};

/* One complete reply. Owned by whoever got it from sf_parser_next();
 * released with sf_reply_free(). Allocation is fixed so that tests may build
 * replies by hand: the struct, the lines array and each lines[i].raw are
 * separate malloc() blocks, and sf_reply_free() frees exactly those. */
struct sf_reply {
	int code;                    /* 200..599 */
	size_t nlines;               /* >= 1 */
	struct sf_reply_line *lines; /* nlines entries */
	size_t bytes;                /* octets it took on the wire, line ends included */
};

/* Why the parser stopped. */
enum sf_perr {
	SF_PERR_NONE = 0,        /* no error */
	SF_PERR_NOMEM,           /* an allocation failed */
	SF_PERR_LINE_TOO_LONG,   /* a line passed the line limit */
	SF_PERR_TOO_MANY_LINES,  /* a reply passed the lines-per-reply limit */
	SF_PERR_REPLY_TOO_BIG,   /* a reply passed the octets-per-reply limit */
	SF_PERR_NUL,             /* a NUL octet */
	SF_PERR_BARE_CR,         /* a CR not followed by LF */
	SF_PERR_BAD_CODE,        /* a line that does not start with [2-5][0-9][0-9] */
	SF_PERR_BAD_SEPARATOR,   /* code followed by something other than '-', ' ', end */
	SF_PERR_CODE_MISMATCH    /* a continuation line with another code */
};

/* Result of sf_parser_feed() and sf_parser_next(). */
enum sf_pstatus {
	SF_PARSE_REPLY = 0, /* next(): *out holds a complete reply */
	SF_PARSE_MORE,      /* no complete reply yet: feed more bytes */
	SF_PARSE_ERROR      /* protocol error: see sf_parser_error() */
};

/* Limits; a field of 0 takes the default from sf_common.h. */
struct sf_parser_limits {
	size_t line_max;  /* default SF_REPLY_LINE_MAX */
	size_t lines_max; /* default SF_REPLY_LINES_MAX */
	size_t reply_max; /* default SF_REPLY_BYTES_MAX */
};

struct sf_parser;

/* A new parser; lim may be NULL for the defaults. NULL if out of memory. */
struct sf_parser *sf_parser_new(const struct sf_parser_limits *lim);

/* Release the parser and every reply it still holds. NULL is a no-op. */
void sf_parser_free(struct sf_parser *p);

/* Take len bytes (buf may hold anything, it is copied as needed). Returns
 * SF_PARSE_MORE, or SF_PARSE_ERROR if these bytes break the grammar or a
 * limit (the error is then fixed). Never reads past buf[len-1]. The error
 * found is the same however the input is split into feeds. Bytes fed after
 * an error are counted by sf_parser_pending() but not parsed. */
enum sf_pstatus sf_parser_feed(struct sf_parser *p, const char *buf, size_t len);

/* The next complete reply, in the order received. SF_PARSE_REPLY: *out is
 * the caller's to free. SF_PARSE_MORE: none complete yet. SF_PARSE_ERROR:
 * the stream broke before the next reply completed (replies completed before
 * the error are still handed out first). */
enum sf_pstatus sf_parser_next(struct sf_parser *p, struct sf_reply **out);

/* The error that stopped the parser, SF_PERR_NONE if none. */
enum sf_perr sf_parser_error(const struct sf_parser *p);

/* Octets fed but not yet part of a returned reply (a partial line or a
 * partial multi-line reply). Tells "closed in the middle of a reply". */
size_t sf_parser_pending(const struct sf_parser *p);

/* The start of the line that caused the error, for evidence: up to *len
 * octets (at most 80), not NUL-terminated, valid until the parser is freed.
 * It is the line as far as it had arrived when the error was found (at least
 * through the offending octet), without a final CR. NULL (and *len 0) if
 * there is no error. */
const char *sf_parser_error_line(const struct sf_parser *p, size_t *len);

/* A short English phrase for an error, e.g. "reply line too long". */
const char *sf_perr_str(enum sf_perr e);

/* The text of line i: what follows "ddd-" or "ddd ", "" for a line of
 * exactly three octets and for i out of range (never NULL). Sets *len if
 * len is not NULL. Valid while r lives. */
const char *sf_reply_text(const struct sf_reply *r, size_t i, size_t *len);

/* Release a reply. NULL is a no-op. */
void sf_reply_free(struct sf_reply *r);

/* 1 if a 4xx/5xx text echoes an X-ed command: a token of 4 or more 'X'
 * (upper case only; quotes and punctuation around it allowed, so "XXXX",
 * 'XXXXXXXX' and XXXX: count, XCLIENT and X-XXXX do not). Never reads past
 * len. */
int sf_text_has_x_echo(const char *text, size_t len);

/* 1 if a single-line 250 reply looks like a NOOP answer rather than an EHLO
 * greeting: its first token is an enhanced status code (RFC 3463 d.ddd.ddd)
 * or "Ok" in any case, or it has no text at all (no domain). "250
 * mail.example.com" is a real EHLO reply and does not count. */
int sf_reply_is_noop_like(const struct sf_reply *r);

#endif /* SF_REPLY_H */

/*
 * scan.h - small pure helpers shared by the emulator's rewriting engine
 * (rewrite.c) and its server personas (persona.c): a bounded output buffer,
 * line and token scanning, the end-of-DATA detector and the BDAT arguments.
 *
 * Every function takes (buffer, length) and never reads past the length;
 * nothing here needs a NUL terminator. No I/O, no globals.
 */
#ifndef EMU_SCAN_H
#define EMU_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "sf_ascii.h" /* the blank, token and case helpers */

/* A caller-owned output area: bytes go to p[len..cap). An append that does
 * not fit writes nothing and sets over; callers size the area so that it
 * never happens and treat over as a broken contract. */
struct emu_out {
	char *p;
	size_t len;
	size_t cap;
	int over; /* 1 once an append did not fit */
};

/* Append n octets of s. */
void emu_out_put(struct emu_out *o, const char *s, size_t n);

/* Append a NUL-terminated string. */
void emu_out_puts(struct emu_out *o, const char *s);

/* Append an unsigned number in decimal. */
void emu_out_putu(struct emu_out *o, uint64_t v);

/* Length of a line without its line end: line[0..n) ends with LF, and a CR
 * right before that LF belongs to the line end too. n == 0 gives 0. */
size_t emu_line_core(const char *line, size_t n);





/* 1 if s[0..len) is one of the words of a NULL-terminated list. */
int emu_word_in(const char *s, size_t len, const char *const *list);

/* The end-of-DATA detector (RFC 5321 4.1.1.4): a line that is "." alone,
 * ended by CRLF or (tolerated) a bare LF. Needs no buffering: it keeps the
 * first and last octet and the length of the current line. */
struct emu_dot {
	size_t len;          /* octets of the current line so far, LF excluded */
	unsigned char first; /* its first octet (valid when len > 0) */
	unsigned char last;  /* its latest octet (valid when len > 0) */
};

/* Start of a message: the next octet begins a line. */
void emu_dot_reset(struct emu_dot *d);

/* Scan buf[0..len) for the end of the message. Returns the octets that
 * belong to the message: all of len, or up to and including the LF of the
 * "." line, in which case *end is set to 1 (else 0). */
size_t emu_dot_scan(struct emu_dot *d, const char *buf, size_t len, int *end);

/* Largest BDAT chunk we accept to count (RFC 3030 sets no limit; this is
 * far beyond any SIZE a server advertises). */
#define EMU_BDAT_MAX UINT64_C(1099511627776)

/* Parse a BDAT command line core s[0..len) (line end removed): "BDAT" SP
 * chunk-size [SP "LAST"] (RFC 3030 2). Returns 0 and sets *size and *last,
 * or -1 when it is not a well-formed BDAT (outputs untouched). */
int emu_bdat_parse(const char *s, size_t len, uint64_t *size, int *last);

#endif /* EMU_SCAN_H */

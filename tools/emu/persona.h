/*
 * persona.h - built-in SMTP server personas of smtp-inspect-emu: a
 * Postfix-like, an Exchange-like and a sendmail-like server that answer a
 * client by themselves, so that the emulator runs with no mail server.
 *
 * Pure code: client octets in, server octets out; no sockets, no globals.
 * A persona greets, answers EHLO (its real server's list), HELO, MAIL, RCPT,
 * DATA (the message is read and thrown away), BDAT (where its server has
 * CHUNKING), RSET, NOOP, VRFY, HELP, ETRN, AUTH, QUIT, and unknown commands
 * in its server's words. There is no TLS: STARTTLS gets "454 4.7.0 TLS not
 * available". It keeps no mail and checks no addresses.
 */
#ifndef EMU_PERSONA_H
#define EMU_PERSONA_H

#include <stddef.h>

/* Octets of a command line, CRLF included (Postfix's line_length_limit).
 * A longer line is thrown away and answered with a "line too long" reply. */
#define PERSONA_LINE_MAX 2048U

/* Octets of client text (a command line, an address) a reply echoes. */
#define PERSONA_ECHO_MAX 200U

/* Octets of the longest reply one command can get: persona_feed() stops
 * taking input while less room than this is left in its output area. */
#define PERSONA_REPLY_MAX 1024U

/* Longest client address shown in replies ("Hello [addr]"). */
#define PERSONA_ADDR_MAX 64U

struct persona;

/* The name of the i-th persona ("postfix", "exchange", "sendmail"), or
 * NULL past the last. Static strings. */
const char *persona_name(size_t i);

/* One line on what the i-th persona imitates, for --help; NULL past the
 * last. */
const char *persona_summary(size_t i);

/* A new server session of the persona called name, for a client at
 * client_addr (numeric, shown as "[client_addr]"; cut to PERSONA_ADDR_MAX).
 * NULL if the name is unknown or memory is short. */
struct persona *persona_new(const char *name, const char *client_addr);

/* Release a session; NULL is a no-op. */
void persona_free(struct persona *p);

/* Write the greeting to out; returns its length, 0 if outcap is smaller
 * than PERSONA_REPLY_MAX. */
size_t persona_start(struct persona *p, char *out, size_t outcap);

/* Feed client octets in[0..len). Replies are written to out[0..*outlen).
 * Returns the octets taken: fewer than len when out has no room left for
 * another reply (feed the rest later, with room). After QUIT everything is
 * taken and ignored. */
size_t persona_feed(struct persona *p, const char *in, size_t len,
		    char *out, size_t outcap, size_t *outlen);

/* 1 once the session is over (QUIT answered): the server closes. */
int persona_done(const struct persona *p);

#endif /* EMU_PERSONA_H */

/*
 * rewrite.h - the rewriting engine of smtp-inspect-emu: what an SMTP
 * inspection box (Cisco PIX MailGuard, ASA/FWSM "inspect esmtp", stripping
 * proxies) does to the bytes of one connection. tools/emu/README says what
 * each box does and where that is documented.
 *
 * Pure code: no sockets, no globals, no exit(). One emu_conn per connection
 * holds both directions. Bytes from the client or from the server go in with
 * emu_conn_feed(); the bytes to forward to the other side come out, and a
 * status says whether the box drops the connection.
 *
 * Every box is a row of emu_profiles[] (struct emu_profile): the banner
 * rule, the commands that pass and the fate of the others, the EHLO reply
 * rule with its keyword list, the length rules. The engine reads the row;
 * it has no per-profile branches.
 */
#ifndef EMU_REWRITE_H
#define EMU_REWRITE_H

#include <stddef.h>

/* Octets in one buffered line, line end included. Commands, replies and
 * message header lines are buffered whole until their LF; a longer line
 * closes the connection (EMU_WHY_LINE_TOO_LONG). Message bodies are
 * streamed, or, under a MIME file name rule, buffered a line at a time
 * with longer lines passed on unread past this bound; BDAT chunks and TLS
 * are streamed, never buffered. */
#define EMU_LINE_MAX 4096U

/* Commands sent and not yet answered (RFC 2920 pipelining). One more
 * closes the connection (EMU_WHY_PIPELINE_FULL); emu_conn_room() tells a
 * caller how much it may feed to stay clear of that. */
#define EMU_PENDING_MAX 1024U

/* A feed of len octets writes at most len + EMU_FEED_SLACK octets: a line
 * may complete with octets fed earlier, and a stripping profile may hold
 * one line back and release it later. */
#define EMU_FEED_SLACK ((size_t)2 * EMU_LINE_MAX)

/* Where bytes come from. */
enum emu_side {
	EMU_FROM_CLIENT = 0, /* client -> server: commands, message data */
	EMU_FROM_SERVER = 1  /* server -> client: replies */
};

/* Result of emu_conn_feed() and emu_conn_eof(). */
enum emu_status {
	EMU_PASS = 0, /* forward the output and go on */
	EMU_DROP,     /* forward the output, then reset both sides */
	EMU_ERROR     /* the call broke its contract (output area too small):
		       * nothing was consumed */
};

/* Why a connection was dropped. */
enum emu_why {
	EMU_WHY_NONE = 0,          /* not dropped */
	EMU_WHY_COMMAND_TOO_LONG,  /* command line over the profile's cmd_max */
	EMU_WHY_HEADER_TOO_LONG,   /* message header line over header_max */
	EMU_WHY_FILENAME_TOO_LONG, /* MIME file name over filename_max */
	EMU_WHY_LINE_TOO_LONG,     /* any line over EMU_LINE_MAX (our own bound) */
	EMU_WHY_PIPELINE_FULL,     /* over EMU_PENDING_MAX unanswered commands */
	EMU_WHY_INTERNAL           /* the engine met a state it has no rule for (a bug) */
};

/* What the box does to the greeting (the first reply), line by line. The
 * text is what follows "ddd" and its separator (RFC 5321 4.2); line ends
 * (CR LF, or a bare LF) stay, lengths stay. */
enum emu_banner {
	EMU_BANNER_PASS = 0, /* untouched */
	EMU_BANNER_STARS,    /* every octet of the text becomes '*' */
	EMU_BANNER_KEEP20,   /* as STARS, but '2' and '0' survive in place */
	EMU_BANNER_CMAP,     /* "SMTP/cmap ready" then '_' to the text length */
	EMU_BANNER_WHOLE20   /* KEEP20 over the whole line: the first line keeps
			      * its code, its separator becomes '*'; every later
			      * line loses code and separator to '*' too. No line
			      * is a well-formed reply line any more. */
};

/* What happens to a command whose verb is not in the profile's list. */
enum emu_fate {
	EMU_FATE_X = 0, /* the verb becomes 'X's, the arguments stay */
	EMU_FATE_NOOP   /* the line becomes "NOOP" SP 'X'...: answered like NOOP */
};

/* What the box does to a 250 reply to EHLO (not to its first line, the
 * domain greeting, which always passes). */
enum emu_ehlo {
	EMU_EHLO_PASS = 0, /* untouched */
	EMU_EHLO_MASK,     /* lines not in the list: text -> 'X'... + letter */
	EMU_EHLO_KEEP,     /* lines not in the list removed, marks fixed up */
	EMU_EHLO_REMOVE    /* lines in the list removed, marks fixed up */
};

/* One EHLO keyword of a profile's list. */
struct emu_keyword {
	const char *word; /* the keyword, compared case-insensitively */
	int need_params;  /* 1: matches only with parameters ("AUTH PLAIN") */
};

/* One inspection box: a row of emu_profiles[]. Read only. */
struct emu_profile {
	const char *name;                    /* the --profile name */
	const char *help;                    /* what it reproduces (--help) */
	enum emu_banner banner;              /* the greeting rule */
	const char *const *verbs;            /* commands that pass; NULL: all */
	enum emu_fate fate;                  /* what becomes of the others */
	enum emu_ehlo ehlo;                  /* the EHLO reply rule */
	const struct emu_keyword *keywords;  /* its list, ended by {NULL, 0} */
	size_t cmd_max;    /* octets of a command line, CRLF included; 0: no rule */
	size_t header_max; /* octets of a header line, CRLF excluded; 0: no rule */
	size_t filename_max; /* octets of the value of a name= or filename=
			      * parameter of a Content-Type or Content-Disposition
			      * field, in the message header or a MIME part's
			      * header, quotes excluded; 0: no rule */
	int eod_swallow;   /* 1: an end-of-data marker (the line end before
			    * the lone ".", the ".", its line end) that does not
			    * arrive in one feed is swallowed, and the message
			    * goes on; 0: no rule. Applies to a streamed body,
			    * so a row with it has no header or file name rule. */
};

/* The profiles, in the order --help lists them, ended by a row whose name
 * is NULL. */
extern const struct emu_profile emu_profiles[];

/* The profile called name, or NULL. The pointer is to static data. */
const struct emu_profile *emu_profile_find(const char *name);

/* A connection's rewriting state: both directions. */
struct emu_conn;

/* A new connection in its initial state (the server's greeting is the
 * first reply). NULL if out of memory. profile must outlive the conn. */
struct emu_conn *emu_conn_new(const struct emu_profile *profile);

/* Release a connection; NULL is a no-op. */
void emu_conn_free(struct emu_conn *c);

/* Feed len octets that arrived from side `from`. One feed is one read of
 * the box (one packet, as far as eod_swallow cares). The octets to forward
 * to the other side are written to out[0..*outlen); outcap must be at least
 * len + EMU_FEED_SLACK. On EMU_DROP the output holds what the box forwarded
 * before the offending line (none of that line), and every later call
 * returns EMU_DROP with no output. */
enum emu_status emu_conn_feed(struct emu_conn *c, enum emu_side from,
			      const char *in, size_t len,
			      char *out, size_t outcap, size_t *outlen);

/* Side `from` closed its sending half: write out whatever that direction
 * still holds (an unterminated line, a held-back EHLO line, a "." held
 * under eod_swallow) unchanged.
 * outcap must be at least EMU_FEED_SLACK. */
enum emu_status emu_conn_eof(struct emu_conn *c, enum emu_side from,
			     char *out, size_t outcap, size_t *outlen);

/* How many client octets may be fed now without overflowing the FIFO of
 * awaited replies: every command and every message end takes one entry and
 * ends with its own LF, so n octets add at most n entries. A caller that
 * feeds no more than this never gets EMU_WHY_PIPELINE_FULL; 0 means wait
 * for replies (TCP then holds back a client that pipelines too far).
 * SIZE_MAX once TLS is under way; 0 after a drop. */
size_t emu_conn_room(const struct emu_conn *c);

/* Why the connection was dropped (EMU_WHY_NONE while it is not). */
enum emu_why emu_conn_why(const struct emu_conn *c);

/* A short English phrase for a drop reason ("command line too long"). */
const char *emu_why_text(enum emu_why why);

#endif /* EMU_REWRITE_H */

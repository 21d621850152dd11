/*
 * session_impl.h - what session.c (the state machine) and session_loop.c
 * (reading, writing and the poll loop) share of a session's private
 * workings. Not for any other stage.
 */
#ifndef SESSION_IMPL_H
#define SESSION_IMPL_H

#include "session.h"

#define SESSION_READ_CHUNK 4096U /* octets of one read */

/* End the session with an outcome; the first outcome recorded wins. */
void sess_finish(struct session *s, enum session_outcome outcome, int err);

/* A complete reply arrived: advance the conversation. Takes ownership of r. */
void sess_on_reply(struct session *s, struct sf_reply *r);

/* Try to write what is left of the current command. */
void sess_flush_out(struct session *s);

/* The non-blocking connect finished (or failed). */
void sess_on_connected(struct session *s);

/* Drive the TLS handshake; on success go on with the conversation in TLS. */
void sess_do_handshake(struct session *s);

/* The peer closed (reset: reset) its side. */
void sess_on_eof(struct session *s, int reset);

/* --probe=data: the wait after a part of the message ended at now (the
 * check's deadline: deadline): the next part, or the end. */
void sess_witness_watched(struct session *s, double now, double deadline);

/* Queue one command (without CRLF) and send it in one write. */
void sess_send_command(struct session *s, const char *verb, const char *arg);

/* Everything the probe needs is in: say goodbye, briefly. */
void sess_start_quit(struct session *s);

/* Keep one transcript line for -v: prefix then the raw octets. */
void sess_transcript_add(struct session *s, const char *prefix, const char *buf, size_t len);

/* --probe=data after a working EHLO or HELO, in clear text: 1 if started. */
int sess_start_witness(struct session *s);

/* A reply in the witness's steps. Takes ownership of r. */
void sess_on_witness_reply(struct session *s, struct sf_reply *r);

#endif /* SESSION_IMPL_H */

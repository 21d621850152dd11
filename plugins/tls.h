/*
 * tls.h - TLS for a non-blocking session, with the library loaded at run time.
 *
 * GnuTLS (or OpenSSL, when GnuTLS cannot be loaded) is dlopen()ed the first
 * time TLS is needed, so a plain check does not pay for relocating a TLS
 * library at start-up (most of what a plain check_smtp costs). This is not a
 * certificate checker: the peer's certificate is not verified.
 */
#ifndef TLS_H
#define TLS_H

#include <stddef.h>

/* Result of a TLS operation on a non-blocking socket. */
enum tls_io {
	TLS_IO_OK = 0,     /* done (some bytes moved, or the handshake finished) */
	TLS_IO_WANT_READ,  /* call again when the socket is readable */
	TLS_IO_WANT_WRITE, /* call again when the socket is writable */
	TLS_IO_CLOSED,     /* the peer closed the TLS session or the socket */
	TLS_IO_RESET,      /* the peer reset the connection */
	TLS_IO_NETWORK,    /* the socket failed under TLS (unreachable...); tls_error() says what */
	TLS_IO_ERROR       /* failure; tls_error() says what */
};

struct tls_conn;

/* Use only the library called name ("gnutls" or "openssl"); NULL or ""
 * means GnuTLS, else OpenSSL. Call before tls_load(). 0, or -1 with a reason
 * in err for an unknown name. */
int tls_select(const char *name, char *err, size_t errsz);

/* Room for tls_load()'s reason: one per library tried (tls_backend.h's
 * TLS_ERR_MAX each). */
#define TLS_LOAD_ERR_MAX 512

/* Load the TLS library once. Returns 0, or -1 with a reason in err. */
int tls_load(char *err, size_t errsz);

/* "gnutls" or "openssl" once loaded, NULL before. */
const char *tls_library(void);

/* A client TLS connection over the connected socket fd, sending sni (may
 * be NULL or a numeric address, then no SNI). NULL with a reason in err. */
struct tls_conn *tls_conn_new(int fd, const char *sni, char *err, size_t errsz);

/* Drive the handshake. */
enum tls_io tls_handshake(struct tls_conn *c);

/* Read up to len bytes into buf; *got is set on TLS_IO_OK. */
enum tls_io tls_read(struct tls_conn *c, char *buf, size_t len, size_t *got);

/* Write up to len bytes; *put is set on TLS_IO_OK. */
enum tls_io tls_write(struct tls_conn *c, const char *buf, size_t len, size_t *put);

/* Octets already decrypted and waiting inside the TLS layer. */
size_t tls_pending(const struct tls_conn *c);

/* The reason for the last failure (TLS_IO_ERROR, TLS_IO_NETWORK, a close
 * or reset); valid while c lives. */
const char *tls_error(const struct tls_conn *c);

/* "TLSv1.3 TLS_AES_256_GCM_SHA384" once the handshake is done. */
const char *tls_description(struct tls_conn *c);

/* Release it (no close_notify: the socket is closed by its owner). NULL is a no-op. */
void tls_conn_free(struct tls_conn *c);

/* Release the shared TLS context, if loaded. The library itself stays
 * mapped: unloading it would run its exit handlers from freed code. */
void tls_unload(void);

#endif /* TLS_H */

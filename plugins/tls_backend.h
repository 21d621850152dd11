/*
 * tls_backend.h - what a TLS library must provide to plugins/tls.c.
 *
 * Internal to plugins/tls*.c. Each backend binds its library at run time
 * with dlopen() (see tls.c for why) and keeps its own struct tls_conn.
 */
#ifndef TLS_BACKEND_H
#define TLS_BACKEND_H

#include "tls.h"

#include <stddef.h>

#define TLS_ERR_MAX 200  /* reason of the last failure, with its terminator */
#define TLS_DESC_MAX 96  /* "TLSv1.3 TLS_AES_256_GCM_SHA384" */

struct tls_backend {
	const char *name; /* "gnutls", "openssl" */
	int (*load)(char *err, size_t errsz);
	struct tls_conn *(*conn_new)(int fd, const char *sni, char *err, size_t errsz);
	enum tls_io (*handshake)(struct tls_conn *c);
	enum tls_io (*read)(struct tls_conn *c, char *buf, size_t len, size_t *got);
	enum tls_io (*write)(struct tls_conn *c, const char *buf, size_t len, size_t *put);
	size_t (*pending)(const struct tls_conn *c);
	const char *(*error)(const struct tls_conn *c);
	const char *(*description)(struct tls_conn *c);
	void (*conn_free)(struct tls_conn *c);
	void (*unload)(void);
};

extern const struct tls_backend tls_gnutls;
extern const struct tls_backend tls_openssl;

/* Resolve name in the dlopen() handle lib into *slot, a function pointer of
 * slotsz bytes. 0, or -1 if it is missing. */
int tls_sym(void *lib, const char *name, void *slot, size_t slotsz);

/* One function a backend binds: its name in the library, and the offset
 * and size of its slot in the backend's table of function pointers. */
struct tls_symbol {
	const char *name;
	size_t offset;
	size_t size;
};

/* An entry of such a table: TLS_SYMBOL(struct gt_api, init, "gnutls_init"). */
#define TLS_SYMBOL(type, field, symbol) \
	{ (symbol), offsetof(type, field), sizeof(((type *)0)->field) }

/* Bind the n functions of syms into the table api. NULL when all are
 * there, else the name of the first one missing. */
const char *tls_bind(void *lib, void *api, const struct tls_symbol *syms, size_t n);

/* What a server may send after the handshake in one session before the
 * check calls it broken; both backends hold it to the same rule, so that
 * the verdict does not depend on the library. A healthy server sends no
 * KeyUpdate at all in a check this short (we never ask for one): eight is
 * GnuTLS's own limit per second. OpenSSL refuses the fifth warning alert
 * in a row, GnuTLS none: four, counted over the session, in both. */
#define TLS_KEYUPDATE_MAX 8
#define TLS_WARNING_MAX 4
#define TLS_KEYUPDATE_FLOOD "the server sent more than 8 TLS KeyUpdate messages"
#define TLS_WARNING_FLOOD "the server sent more than 4 TLS warning alerts"

/* 1 if name is a numeric IPv4 or IPv6 address: no SNI for those (RFC 6066 3). */
int tls_is_numeric(const char *name);

#endif /* TLS_BACKEND_H */

/*
 * tls_backend.h - what a TLS library must provide to plugins/tls.c.
 *
 * Internal to plugins/tls*.c. Each backend binds its library at run time
 * with dlopen() (see tls.c for why) and keeps its own struct tls_conn.
 */
#ifndef TLS_BACKEND_H
#define TLS_BACKEND_H

#include "tls.h"

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

/* 1 if name is a numeric IPv4 or IPv6 address: no SNI for those (RFC 6066 3). */
int tls_is_numeric(const char *name);

#endif /* TLS_BACKEND_H */

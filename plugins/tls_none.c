/*
 * tls_none.c - the TLS layer of the statically linked plugin: none.
 *
 * A static binary cannot dlopen() a TLS library safely (it would bring a
 * second C library into the process). So check_smtp_fixup, linked
 * statically for a fast start (configure --enable-static-plugin, the
 * default where the C library's archive exists), hands a check that needs
 * TLS to its dynamically linked twin before any connection (main() in
 * check_smtp_fixup.c), which never calls tls_select() or tls_load() here.
 * These definitions keep session.c whole and say so if they are ever
 * reached.
 */
#include "tls.h"

#include <stdio.h>

#define NO_TLS "this binary has no TLS library; TLS checks run its twin"

const char *tls_library(void)
{
	return NULL;
}

struct tls_conn *tls_conn_new(int fd, const char *sni, char *err, size_t errsz)
{
	(void)fd;
	(void)sni;
	snprintf(err, errsz, "%s", NO_TLS);
	return NULL;
}

enum tls_io tls_handshake(struct tls_conn *c)
{
	(void)c;
	return TLS_IO_ERROR;
}

enum tls_io tls_read(struct tls_conn *c, char *buf, size_t len, size_t *got)
{
	(void)c;
	(void)buf;
	(void)len;
	(void)got;
	return TLS_IO_ERROR;
}

enum tls_io tls_write(struct tls_conn *c, const char *buf, size_t len, size_t *put)
{
	(void)c;
	(void)buf;
	(void)len;
	(void)put;
	return TLS_IO_ERROR;
}

size_t tls_pending(const struct tls_conn *c)
{
	(void)c;
	return 0;
}

const char *tls_error(const struct tls_conn *c)
{
	(void)c;
	return NO_TLS;
}

const char *tls_description(struct tls_conn *c)
{
	(void)c;
	return "";
}

void tls_conn_free(struct tls_conn *c)
{
	(void)c;
}

void tls_unload(void)
{
}

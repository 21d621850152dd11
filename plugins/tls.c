/*
 * tls.c - the TLS library, chosen and loaded at run time.
 *
 * A plain check never needs TLS, and a TLS library linked into the binary
 * would be mapped and relocated on every run (most of what a plain
 * check_smtp costs, bench/RESULTS.md). So the library is dlopen()ed the
 * first time a session needs TLS, and only the functions used are bound.
 *
 * GnuTLS comes first: a STARTTLS handshake with it costs less than half of
 * what OpenSSL 3.0 costs (SSL_CTX_new alone fetches every algorithm of its
 * default provider, about 8 M instructions), and libgnutls30 is on every
 * Debian system (apt depends on it). OpenSSL is the fallback when GnuTLS
 * cannot be loaded. CHECK_SMTP_FIXUP_TLS=gnutls or =openssl picks one and
 * only that one (the tests run both).
 */
#include "tls_backend.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

static const struct tls_backend *const backends[] = { &tls_gnutls, &tls_openssl };
#define NBACKENDS (sizeof backends / sizeof backends[0])

static const struct tls_backend *only; /* tls_select()ed, or NULL: any */
static const struct tls_backend *ops;  /* the one loaded */

int tls_select(const char *name, char *err, size_t errsz)
{
	only = NULL;
	if (name == NULL || *name == '\0')
		return 0;
	for (size_t i = 0; i < NBACKENDS; i++)
		if (strcmp(name, backends[i]->name) == 0) {
			only = backends[i];
			return 0;
		}
	snprintf(err, errsz, "unknown TLS library \"%.40s\": gnutls or openssl", name);
	return -1;
}

int tls_load(char *err, size_t errsz)
{
	char why[TLS_ERR_MAX];
	size_t used = 0;

	if (ops != NULL)
		return 0;
	if (only != NULL) {
		if (only->load(err, errsz) != 0)
			return -1;
		ops = only;
		return 0;
	}
	/* Each one in turn; if none loads, every reason is kept. */
	err[0] = '\0';
	for (size_t i = 0; i < NBACKENDS; i++) {
		if (backends[i]->load(why, sizeof why) == 0) {
			ops = backends[i];
			return 0;
		}
		if (used < errsz) {
			int n = snprintf(err + used, errsz - used, "%s%s", used ? "; " : "", why);
			used += n > 0 ? (size_t)n : 0;
		}
	}
	return -1;
}

const char *tls_library(void)
{
	return ops != NULL ? ops->name : NULL;
}

int tls_sym(void *lib, const char *name, void *slot, size_t slotsz)
{
	/* The cast through a union keeps ISO C happy about object-to-function
	 * pointer conversion. */
	union {
		void *obj;
		void (*fn)(void);
	} u;

	u.obj = dlsym(lib, name);
	if (u.obj == NULL || slotsz != sizeof u.fn)
		return -1;
	memcpy(slot, &u.fn, sizeof u.fn);
	return 0;
}

const char *tls_bind(void *lib, void *api, const struct tls_symbol *syms, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (tls_sym(lib, syms[i].name, (char *)api + syms[i].offset, syms[i].size) != 0)
			return syms[i].name;
	return NULL;
}

int tls_is_numeric(const char *name)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
}

struct tls_conn *tls_conn_new(int fd, const char *sni, char *err, size_t errsz)
{
	if (tls_load(err, errsz) != 0)
		return NULL;
	return ops->conn_new(fd, sni, err, errsz);
}

enum tls_io tls_handshake(struct tls_conn *c)
{
	return ops->handshake(c);
}

enum tls_io tls_read(struct tls_conn *c, char *buf, size_t len, size_t *got)
{
	return ops->read(c, buf, len, got);
}

enum tls_io tls_write(struct tls_conn *c, const char *buf, size_t len, size_t *put)
{
	return ops->write(c, buf, len, put);
}

size_t tls_pending(const struct tls_conn *c)
{
	return ops->pending(c);
}

const char *tls_error(const struct tls_conn *c)
{
	return ops->error(c);
}

const char *tls_description(struct tls_conn *c)
{
	return ops->description(c);
}

void tls_conn_free(struct tls_conn *c)
{
	if (c != NULL)
		ops->conn_free(c);
}

void tls_unload(void)
{
	if (ops != NULL)
		ops->unload();
}

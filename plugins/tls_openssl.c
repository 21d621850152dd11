/*
 * tls_openssl.c - the OpenSSL backend of tls.c, through dlopen().
 *
 * Only the functions below are used; each is looked up by name in libssl.so.3
 * (libcrypto's come through libssl's dependencies). Types and constants come
 * from OpenSSL's headers, so the ABI is checked at compile time; the library
 * is bound at run time. A process-wide table is the one piece of global state
 * the plugin keeps: OpenSSL itself is process-wide.
 */
#include "tls_backend.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

/* The OpenSSL functions we call, resolved at run time. */
struct ssl_api {
	int (*init_ssl)(uint64_t, const OPENSSL_INIT_SETTINGS *);
	const SSL_METHOD *(*client_method)(void);
	SSL_CTX *(*ctx_new)(const SSL_METHOD *);
	void (*ctx_free)(SSL_CTX *);
	void (*ctx_set_verify)(SSL_CTX *, int, SSL_verify_cb);
	SSL *(*ssl_new)(SSL_CTX *);
	void (*ssl_free)(SSL *);
	int (*set_fd)(SSL *, int);
	long (*ctrl)(SSL *, int, long, void *);
	int (*connect)(SSL *);
	int (*read)(SSL *, void *, int);
	int (*write)(SSL *, const void *, int);
	int (*pending)(const SSL *);
	int (*get_error)(const SSL *, int);
	const char *(*get_version)(const SSL *);
	const SSL_CIPHER *(*get_cipher)(const SSL *);
	const char *(*cipher_name)(const SSL_CIPHER *);
	unsigned long (*err_get)(void);
	void (*err_string)(unsigned long, char *, size_t);
	void (*err_clear)(void);
};

static struct ssl_api api;
static void *libssl;
static SSL_CTX *ctx;

struct tls_conn {
	SSL *ssl;
	char err[TLS_ERR_MAX];
	char desc[TLS_DESC_MAX];
};

#define SYM(field, name) tls_sym(libssl, name, &api.field, sizeof api.field)

static void ossl_conn_free(struct tls_conn *c);

static int ossl_load(char *err, size_t errsz)
{
	const char *missing = NULL;

	if (ctx != NULL)
		return 0;
	libssl = dlopen("libssl.so.3", RTLD_NOW | RTLD_LOCAL);
	if (libssl == NULL) {
		snprintf(err, errsz, "cannot load OpenSSL (libssl.so.3): %s", dlerror());
		return -1;
	}
	if (SYM(init_ssl, "OPENSSL_init_ssl")) missing = "OPENSSL_init_ssl";
	else if (SYM(client_method, "TLS_client_method")) missing = "TLS_client_method";
	else if (SYM(ctx_new, "SSL_CTX_new")) missing = "SSL_CTX_new";
	else if (SYM(ctx_free, "SSL_CTX_free")) missing = "SSL_CTX_free";
	else if (SYM(ctx_set_verify, "SSL_CTX_set_verify")) missing = "SSL_CTX_set_verify";
	else if (SYM(ssl_new, "SSL_new")) missing = "SSL_new";
	else if (SYM(ssl_free, "SSL_free")) missing = "SSL_free";
	else if (SYM(set_fd, "SSL_set_fd")) missing = "SSL_set_fd";
	else if (SYM(ctrl, "SSL_ctrl")) missing = "SSL_ctrl";
	else if (SYM(connect, "SSL_connect")) missing = "SSL_connect";
	else if (SYM(read, "SSL_read")) missing = "SSL_read";
	else if (SYM(write, "SSL_write")) missing = "SSL_write";
	else if (SYM(pending, "SSL_pending")) missing = "SSL_pending";
	else if (SYM(get_error, "SSL_get_error")) missing = "SSL_get_error";
	else if (SYM(get_version, "SSL_get_version")) missing = "SSL_get_version";
	else if (SYM(get_cipher, "SSL_get_current_cipher")) missing = "SSL_get_current_cipher";
	else if (SYM(cipher_name, "SSL_CIPHER_get_name")) missing = "SSL_CIPHER_get_name";
	else if (SYM(err_get, "ERR_get_error")) missing = "ERR_get_error";
	else if (SYM(err_string, "ERR_error_string_n")) missing = "ERR_error_string_n";
	else if (SYM(err_clear, "ERR_clear_error")) missing = "ERR_clear_error";
	if (missing != NULL) {
		snprintf(err, errsz, "OpenSSL lacks %s", missing);
		return -1;
	}
	/* No openssl.cnf: it costs time and may change behaviour per host. No
	 * exit handler: OPENSSL_cleanup() at exit costs 1.4 M instructions for
	 * memory the process is about to give back anyway (bench/RESULTS.md). */
	if (api.init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_ATEXIT, NULL) != 1 ||
	    (ctx = api.ctx_new(api.client_method())) == NULL) {
		snprintf(err, errsz, "OpenSSL initialisation failed");
		return -1;
	}
	api.ctx_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	return 0;
}

static struct tls_conn *ossl_conn_new(int fd, const char *sni, char *err, size_t errsz)
{
	struct tls_conn *c;

	c = calloc(1, sizeof *c);
	if (c == NULL || (c->ssl = api.ssl_new(ctx)) == NULL || api.set_fd(c->ssl, fd) != 1) {
		snprintf(err, errsz, "cannot set up a TLS session");
		ossl_conn_free(c);
		return NULL;
	}
	if (sni != NULL && *sni != '\0' && !tls_is_numeric(sni))
		api.ctrl(c->ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
			 (void *)(uintptr_t)sni);
	return c;
}

/* Map an OpenSSL result to ours, keeping the reason of an error. */
static enum tls_io result(struct tls_conn *c, int rc)
{
	unsigned long e;

	switch (api.get_error(c->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		return TLS_IO_WANT_READ;
	case SSL_ERROR_WANT_WRITE:
		return TLS_IO_WANT_WRITE;
	case SSL_ERROR_ZERO_RETURN:
		return TLS_IO_CLOSED;
	case SSL_ERROR_SYSCALL:
		e = api.err_get();
		if (e == 0) {
			snprintf(c->err, sizeof c->err, "connection closed during TLS");
			return TLS_IO_CLOSED;
		}
		api.err_string(e, c->err, sizeof c->err);
		return TLS_IO_ERROR;
	default:
		e = api.err_get();
		if (e != 0)
			api.err_string(e, c->err, sizeof c->err);
		else
			snprintf(c->err, sizeof c->err, "TLS failure");
		return TLS_IO_ERROR;
	}
}

static enum tls_io ossl_handshake(struct tls_conn *c)
{
	int rc;

	api.err_clear();
	rc = api.connect(c->ssl);
	return rc == 1 ? TLS_IO_OK : result(c, rc);
}

static enum tls_io ossl_read(struct tls_conn *c, char *buf, size_t len, size_t *got)
{
	int n;

	api.err_clear();
	n = api.read(c->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
	if (n > 0) {
		*got = (size_t)n;
		return TLS_IO_OK;
	}
	return result(c, n);
}

static enum tls_io ossl_write(struct tls_conn *c, const char *buf, size_t len, size_t *put)
{
	int n;

	api.err_clear();
	n = api.write(c->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
	if (n > 0) {
		*put = (size_t)n;
		return TLS_IO_OK;
	}
	return result(c, n);
}

static size_t ossl_pending(const struct tls_conn *c)
{
	int n = api.pending(c->ssl);

	return n > 0 ? (size_t)n : 0;
}

static const char *ossl_error(const struct tls_conn *c)
{
	return c->err[0] ? c->err : "TLS failure";
}

static const char *ossl_description(struct tls_conn *c)
{
	const SSL_CIPHER *cipher = api.get_cipher(c->ssl);

	snprintf(c->desc, sizeof c->desc, "%s %s", api.get_version(c->ssl),
		 cipher ? api.cipher_name(cipher) : "?");
	return c->desc;
}

static void ossl_conn_free(struct tls_conn *c)
{
	if (c == NULL)
		return;
	if (c->ssl != NULL)
		api.ssl_free(c->ssl);
	free(c);
}

static void ossl_unload(void)
{
	if (ctx != NULL) {
		api.ctx_free(ctx);
		ctx = NULL;
	}
}

const struct tls_backend tls_openssl = {
	.name = "openssl",
	.load = ossl_load,
	.conn_new = ossl_conn_new,
	.handshake = ossl_handshake,
	.read = ossl_read,
	.write = ossl_write,
	.pending = ossl_pending,
	.error = ossl_error,
	.description = ossl_description,
	.conn_free = ossl_conn_free,
	.unload = ossl_unload,
};

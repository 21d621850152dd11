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
#include <errno.h>
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
	void (*set_msg_callback)(SSL_CTX *, void (*)(int, int, int, const void *, size_t, SSL *, void *));
};

#define OSSL(field, symbol) TLS_SYMBOL(struct ssl_api, field, symbol)
static const struct tls_symbol ossl_symbols[] = {
	OSSL(init_ssl, "OPENSSL_init_ssl"),
	OSSL(client_method, "TLS_client_method"),
	OSSL(ctx_new, "SSL_CTX_new"),
	OSSL(ctx_free, "SSL_CTX_free"),
	OSSL(ctx_set_verify, "SSL_CTX_set_verify"),
	OSSL(ssl_new, "SSL_new"),
	OSSL(ssl_free, "SSL_free"),
	OSSL(set_fd, "SSL_set_fd"),
	OSSL(ctrl, "SSL_ctrl"),
	OSSL(connect, "SSL_connect"),
	OSSL(read, "SSL_read"),
	OSSL(write, "SSL_write"),
	OSSL(pending, "SSL_pending"),
	OSSL(get_error, "SSL_get_error"),
	OSSL(get_version, "SSL_get_version"),
	OSSL(get_cipher, "SSL_get_current_cipher"),
	OSSL(cipher_name, "SSL_CIPHER_get_name"),
	OSSL(err_get, "ERR_get_error"),
	OSSL(err_string, "ERR_error_string_n"),
	OSSL(err_clear, "ERR_clear_error"),
	OSSL(set_msg_callback, "SSL_CTX_set_msg_callback"),
};

static struct ssl_api api;
static void *libssl;
static SSL_CTX *ctx;

struct tls_conn {
	SSL *ssl;
	unsigned keyupdates; /* KeyUpdate messages the server sent */
	unsigned warnings;   /* warning alerts it sent (close_notify aside) */
	char err[TLS_ERR_MAX];
	char desc[TLS_DESC_MAX];
};

static void ossl_conn_free(struct tls_conn *c);

/* OpenSSL's view of each TLS message, in both directions: the server's
 * KeyUpdates and warning alerts are counted here, as GnuTLS's are in
 * tls_gnutls.c (TLS_KEYUPDATE_MAX, TLS_WARNING_MAX). */
static void ossl_on_message(int write_p, int version, int content_type, const void *buf, size_t len,
			    SSL *ssl, void *arg)
{
	struct tls_conn *c = arg;
	const unsigned char *m = buf;

	(void)version;
	(void)ssl;
	if (write_p || c == NULL || len < 1)
		return;
	if (content_type == SSL3_RT_HANDSHAKE && m[0] == SSL3_MT_KEY_UPDATE)
		c->keyupdates++;
	else if (content_type == SSL3_RT_ALERT && len >= 2 && m[0] == SSL3_AL_WARNING &&
		 m[1] != SSL_AD_CLOSE_NOTIFY)
		c->warnings++;
}

/* tls.c calls it once: the first success is kept. */
static int ossl_load(char *err, size_t errsz)
{
	const char *missing;

	libssl = dlopen("libssl.so.3", RTLD_NOW | RTLD_LOCAL);
	if (libssl == NULL) {
		snprintf(err, errsz, "cannot load OpenSSL (libssl.so.3): %s", dlerror());
		return -1;
	}
	missing = tls_bind(libssl, &api, ossl_symbols, sizeof ossl_symbols / sizeof ossl_symbols[0]);
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
	api.set_msg_callback(ctx, ossl_on_message);
	return 0;
}

static struct tls_conn *ossl_conn_new(int fd, const char *sni, char *err, size_t errsz)
{
	struct tls_conn *c;

	c = calloc(1, sizeof *c);
	if (c == NULL) {
		snprintf(err, errsz, "cannot set up a TLS session: out of memory");
		return NULL;
	}
	if ((c->ssl = api.ssl_new(ctx)) == NULL || api.set_fd(c->ssl, fd) != 1) {
		snprintf(err, errsz, "cannot set up a TLS session");
		ossl_conn_free(c);
		return NULL;
	}
	if (sni != NULL && *sni != '\0' && !tls_is_numeric(sni))
		api.ctrl(c->ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
			 (void *)(uintptr_t)sni);
	api.ctrl(c->ssl, SSL_CTRL_SET_MSG_CALLBACK_ARG, 0, c);
	return c;
}

/* Past TLS_KEYUPDATE_MAX or TLS_WARNING_MAX: 1, with the reason. Checked
 * after every call, before OpenSSL's own verdict (it refuses the fifth
 * warning alert in a row itself, and would read on through KeyUpdates). */
static int flooded(struct tls_conn *c)
{
	if (c->keyupdates > TLS_KEYUPDATE_MAX)
		snprintf(c->err, sizeof c->err, "%s", TLS_KEYUPDATE_FLOOD);
	else if (c->warnings > TLS_WARNING_MAX)
		snprintf(c->err, sizeof c->err, "%s", TLS_WARNING_FLOOD);
	else
		return 0;
	return 1;
}

/* Map an OpenSSL result to ours, keeping the reason of an error; e is
 * the errno the call left (cleared before it). */
static enum tls_io result(struct tls_conn *c, int rc, int e)
{
	unsigned long q;

	if (flooded(c))
		return TLS_IO_ERROR;
	switch (api.get_error(c->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		return TLS_IO_WANT_READ;
	case SSL_ERROR_WANT_WRITE:
		return TLS_IO_WANT_WRITE;
	case SSL_ERROR_ZERO_RETURN:
		return TLS_IO_CLOSED;
	case SSL_ERROR_SYSCALL:
		q = api.err_get();
		if (q != 0) {
			api.err_string(q, c->err, sizeof c->err);
			return TLS_IO_ERROR;
		}
		if (e == ECONNRESET || e == EPIPE) {
			snprintf(c->err, sizeof c->err, "connection reset during TLS");
			return TLS_IO_RESET;
		}
		if (e == 0) {
			snprintf(c->err, sizeof c->err, "connection closed during TLS");
			return TLS_IO_CLOSED;
		}
		snprintf(c->err, sizeof c->err, "%s during TLS", strerror(e));
		return TLS_IO_NETWORK;
	default:
		q = api.err_get();
		if (q != 0)
			api.err_string(q, c->err, sizeof c->err);
		else
			snprintf(c->err, sizeof c->err, "TLS failure");
		return TLS_IO_ERROR;
	}
}

static enum tls_io ossl_handshake(struct tls_conn *c)
{
	int rc;

	api.err_clear();
	errno = 0;
	rc = api.connect(c->ssl);
	return rc == 1 && !flooded(c) ? TLS_IO_OK : result(c, rc, errno);
}

static enum tls_io ossl_read(struct tls_conn *c, char *buf, size_t len, size_t *got)
{
	int n;

	api.err_clear();
	errno = 0;
	n = api.read(c->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
	if (n > 0 && !flooded(c)) {
		*got = (size_t)n;
		return TLS_IO_OK;
	}
	return result(c, n, errno);
}

static enum tls_io ossl_write(struct tls_conn *c, const char *buf, size_t len, size_t *put)
{
	int n;

	api.err_clear();
	errno = 0;
	n = api.write(c->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
	if (n > 0) {
		*put = (size_t)n;
		return TLS_IO_OK;
	}
	return result(c, n, errno);
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

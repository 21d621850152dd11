/*
 * tests/tlsstub.c - a stand-in for this host's TLS library, for
 * tests/tls-library.sh: built as libgnutls.so.30 (STUB_GNUTLS) or
 * libssl.so.3 (STUB_OPENSSL) in a folder of its own, found by the plugin's
 * dlopen() through LD_LIBRARY_PATH. Each function the plugin binds is
 * handed on to the real library (STUB_REAL_LIB, its file, opened with
 * RTLD_LOCAL so that none of its other names show through the stand-in),
 * and the stand-in plays what a real host may have instead:
 *
 *   - an older GnuTLS: gnutls_ciphersuite_get (3.7.3) is not there;
 *   - built with STUB_LACK: a library without one function the plugin
 *     needs (gnutls_handshake_set_hook_function, SSL_CTX_set_msg_callback);
 *   - STUB_FAIL=NAME: that function fails (GnuTLS: cred, init, priority;
 *     OpenSSL: init, ctx, ssl_new, set_fd);
 *   - STUB_PROTOCOL=NAME: GnuTLS names the protocol NAME (not "TLS1.3").
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *real_sym(const char *name)
{
	static void *lib;
	void *f;

	if (lib == NULL) {
		const char *path = getenv("STUB_REAL_LIB");
		lib = path != NULL ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : NULL;
		if (lib == NULL) {
			fprintf(stderr, "tlsstub: cannot open STUB_REAL_LIB (%s)\n", path ? path : "unset");
			abort();
		}
	}
	f = dlsym(lib, name);
	if (f == NULL) {
		fprintf(stderr, "tlsstub: the real library lacks %s\n", name);
		abort();
	}
	return f;
}

static int failing(const char *what)
{
	const char *v = getenv("STUB_FAIL");

	return v != NULL && strcmp(v, what) == 0;
}

/* A function handed on: ret name(params) returns real(args). */
#define PASS(ret, name, params, args)                      \
	ret name params                                    \
	{                                                  \
		static ret(*real) params;                  \
		if (real == NULL)                          \
			*(void **)&real = real_sym(#name); \
		return real args;                          \
	}
#define PASS_VOID(name, params, args)                      \
	void name params                                   \
	{                                                  \
		static void(*real) params;                 \
		if (real == NULL)                          \
			*(void **)&real = real_sym(#name); \
		real args;                                 \
	}
/* A function handed on unless STUB_FAIL names it (what): then it returns
 * failed. */
#define PASS_OR_FAIL(what, failed, ret, name, params, args) \
	ret name params                                     \
	{                                                   \
		static ret(*real) params;                   \
		if (failing(what))                          \
			return failed;                      \
		if (real == NULL)                           \
			*(void **)&real = real_sym(#name);  \
		return real args;                           \
	}

#ifdef STUB_GNUTLS
#include <gnutls/gnutls.h>

PASS_OR_FAIL("cred", GNUTLS_E_MEMORY_ERROR, int, gnutls_certificate_allocate_credentials,
	     (gnutls_certificate_credentials_t *res), (res))
PASS_OR_FAIL("init", GNUTLS_E_MEMORY_ERROR, int, gnutls_init, (gnutls_session_t *s, unsigned int flags),
	     (s, flags))
PASS_OR_FAIL("priority", GNUTLS_E_INVALID_REQUEST, int, gnutls_set_default_priority, (gnutls_session_t s),
	     (s))

const char *gnutls_protocol_get_name(gnutls_protocol_t v)
{
	static const char *(*real)(gnutls_protocol_t);
	const char *name = getenv("STUB_PROTOCOL");

	if (name != NULL)
		return name;
	if (real == NULL)
		*(void **)&real = real_sym("gnutls_protocol_get_name");
	return real(v);
}

PASS_VOID(gnutls_certificate_free_credentials, (gnutls_certificate_credentials_t c), (c))
PASS_VOID(gnutls_deinit, (gnutls_session_t s), (s))
PASS(int, gnutls_credentials_set, (gnutls_session_t s, gnutls_credentials_type_t t, void *c), (s, t, c))
PASS(int, gnutls_server_name_set,
     (gnutls_session_t s, gnutls_server_name_type_t t, const void *n, size_t l), (s, t, n, l))
PASS_VOID(gnutls_transport_set_int2, (gnutls_session_t s, int r, int w), (s, r, w))
PASS_VOID(gnutls_handshake_set_timeout, (gnutls_session_t s, unsigned int ms), (s, ms))
PASS(int, gnutls_handshake, (gnutls_session_t s), (s))
PASS(ssize_t, gnutls_record_recv, (gnutls_session_t s, void *b, size_t n), (s, b, n))
PASS(ssize_t, gnutls_record_send, (gnutls_session_t s, const void *b, size_t n), (s, b, n))
PASS(size_t, gnutls_record_check_pending, (gnutls_session_t s), (s))
PASS(int, gnutls_record_get_direction, (gnutls_session_t s), (s))
PASS(int, gnutls_error_is_fatal, (int e), (e))
PASS(const char *, gnutls_strerror, (int e), (e))
PASS(gnutls_alert_description_t, gnutls_alert_get, (gnutls_session_t s), (s))
PASS(const char *, gnutls_alert_get_name, (gnutls_alert_description_t a), (a))
PASS(gnutls_protocol_t, gnutls_protocol_get_version, (gnutls_session_t s), (s))
PASS(gnutls_cipher_algorithm_t, gnutls_cipher_get, (gnutls_session_t s), (s))
PASS(const char *, gnutls_cipher_get_name, (gnutls_cipher_algorithm_t a), (a))
#ifndef STUB_LACK
PASS_VOID(gnutls_handshake_set_hook_function,
	  (gnutls_session_t s, unsigned int h, int when, gnutls_handshake_hook_func f), (s, h, when, f))
#endif
PASS_VOID(gnutls_session_set_ptr, (gnutls_session_t s, void *p), (s, p))
PASS(void *, gnutls_session_get_ptr, (gnutls_session_t s), (s))
#endif /* STUB_GNUTLS */

#ifdef STUB_OPENSSL
#include <openssl/err.h>
#include <openssl/ssl.h>

PASS_OR_FAIL("init", 0, int, OPENSSL_init_ssl, (uint64_t o, const OPENSSL_INIT_SETTINGS *set), (o, set))
PASS_OR_FAIL("ctx", NULL, SSL_CTX *, SSL_CTX_new, (const SSL_METHOD *m), (m))
PASS_OR_FAIL("ssl_new", NULL, SSL *, SSL_new, (SSL_CTX *ctx), (ctx))
PASS_OR_FAIL("set_fd", 0, int, SSL_set_fd, (SSL *s, int fd), (s, fd))
PASS(const SSL_METHOD *, TLS_client_method, (void), ())
PASS_VOID(SSL_CTX_free, (SSL_CTX *c), (c))
PASS_VOID(SSL_CTX_set_verify, (SSL_CTX *c, int m, SSL_verify_cb cb), (c, m, cb))
PASS_VOID(SSL_free, (SSL *s), (s))
PASS(long, SSL_ctrl, (SSL *s, int cmd, long l, void *p), (s, cmd, l, p))
PASS(int, SSL_connect, (SSL *s), (s))
PASS(int, SSL_read, (SSL *s, void *b, int n), (s, b, n))
PASS(int, SSL_write, (SSL *s, const void *b, int n), (s, b, n))
PASS(int, SSL_pending, (const SSL *s), (s))
PASS(int, SSL_get_error, (const SSL *s, int rc), (s, rc))
PASS(const char *, SSL_get_version, (const SSL *s), (s))
PASS(const SSL_CIPHER *, SSL_get_current_cipher, (const SSL *s), (s))
PASS(const char *, SSL_CIPHER_get_name, (const SSL_CIPHER *c), (c))
PASS(unsigned long, ERR_get_error, (void), ())
PASS_VOID(ERR_error_string_n, (unsigned long e, char *b, size_t n), (e, b, n))
PASS_VOID(ERR_clear_error, (void), ())
#ifndef STUB_LACK
PASS_VOID(SSL_CTX_set_msg_callback,
	  (SSL_CTX *c, void (*cb)(int, int, int, const void *, size_t, SSL *, void *)), (c, cb))
#endif
#endif /* STUB_OPENSSL */

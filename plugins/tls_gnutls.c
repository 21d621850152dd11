/*
 * tls_gnutls.c - the GnuTLS backend of tls.c, through dlopen().
 *
 * Only the functions below are used; each is looked up by name in
 * libgnutls.so.30. Types and constants come from GnuTLS's headers, so the
 * ABI is checked at compile time; the library is bound at run time.
 *
 * Choices, each for cost or for the check's purpose:
 * - the default priority (GnuTLS's NORMAL, or what the system's
 *   /etc/gnutls/config makes of it): the handshake is a witness that
 *   STARTTLS works through the path, not a judgement of its ciphers;
 * - no trust store and no certificate verification: loading the system's
 *   CA list would cost more than the whole handshake;
 * - no handshake timeout of GnuTLS's own: the check's one deadline rules.
 */
#include "tls_backend.h"

#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>

/* Non-fatal results one call works through before it yields to poll():
 * a peer that sends warning alerts without end still cannot spin us. */
#define GT_RETRIES 16

/* The GnuTLS functions we call, resolved at run time. */
struct gt_api {
	int (*cred_alloc)(gnutls_certificate_credentials_t *);
	void (*cred_free)(gnutls_certificate_credentials_t);
	int (*init)(gnutls_session_t *, unsigned int);
	void (*deinit)(gnutls_session_t);
	int (*set_default_priority)(gnutls_session_t);
	int (*credentials_set)(gnutls_session_t, gnutls_credentials_type_t, void *);
	int (*server_name_set)(gnutls_session_t, gnutls_server_name_type_t, const void *,
			       size_t);
	void (*transport_set_int2)(gnutls_session_t, int, int);
	void (*handshake_set_timeout)(gnutls_session_t, unsigned int);
	int (*handshake)(gnutls_session_t);
	ssize_t (*recv)(gnutls_session_t, void *, size_t);
	ssize_t (*send)(gnutls_session_t, const void *, size_t);
	size_t (*check_pending)(gnutls_session_t);
	int (*get_direction)(gnutls_session_t);
	int (*error_is_fatal)(int);
	const char *(*strerror)(int);
	gnutls_alert_description_t (*alert_get)(gnutls_session_t);
	const char *(*alert_get_name)(gnutls_alert_description_t);
	gnutls_protocol_t (*protocol_get_version)(gnutls_session_t);
	const char *(*protocol_get_name)(gnutls_protocol_t);
	gnutls_cipher_algorithm_t (*cipher_get)(gnutls_session_t);
	const char *(*cipher_get_name)(gnutls_cipher_algorithm_t);
	void (*set_hook)(gnutls_session_t, unsigned int, int, gnutls_handshake_hook_func);
	void (*set_ptr)(gnutls_session_t, void *);
	void *(*get_ptr)(gnutls_session_t);
	const char *(*ciphersuite_get)(gnutls_session_t); /* 3.7.3 on; may be NULL */
};

#define GT(field, symbol) TLS_SYMBOL(struct gt_api, field, symbol)
static const struct tls_symbol gt_symbols[] = {
	GT(cred_alloc, "gnutls_certificate_allocate_credentials"),
	GT(cred_free, "gnutls_certificate_free_credentials"),
	GT(init, "gnutls_init"),
	GT(deinit, "gnutls_deinit"),
	GT(set_default_priority, "gnutls_set_default_priority"),
	GT(credentials_set, "gnutls_credentials_set"),
	GT(server_name_set, "gnutls_server_name_set"),
	GT(transport_set_int2, "gnutls_transport_set_int2"),
	GT(handshake_set_timeout, "gnutls_handshake_set_timeout"),
	GT(handshake, "gnutls_handshake"),
	GT(recv, "gnutls_record_recv"),
	GT(send, "gnutls_record_send"),
	GT(check_pending, "gnutls_record_check_pending"),
	GT(get_direction, "gnutls_record_get_direction"),
	GT(error_is_fatal, "gnutls_error_is_fatal"),
	GT(strerror, "gnutls_strerror"),
	GT(alert_get, "gnutls_alert_get"),
	GT(alert_get_name, "gnutls_alert_get_name"),
	GT(protocol_get_version, "gnutls_protocol_get_version"),
	GT(protocol_get_name, "gnutls_protocol_get_name"),
	GT(cipher_get, "gnutls_cipher_get"),
	GT(cipher_get_name, "gnutls_cipher_get_name"),
	GT(set_hook, "gnutls_handshake_set_hook_function"),
	GT(set_ptr, "gnutls_session_set_ptr"),
	GT(get_ptr, "gnutls_session_get_ptr"),
};

static struct gt_api api;
static void *libgnutls;
static gnutls_certificate_credentials_t cred; /* empty: nothing is verified */

struct tls_conn {
	gnutls_session_t s;
	unsigned keyupdates; /* KeyUpdate messages the server sent */
	unsigned warnings;   /* warning alerts it sent (close_notify aside) */
	char err[TLS_ERR_MAX];
	char desc[TLS_DESC_MAX];
};

/* tls.c calls it once: the first success is kept. */
static int gt_load(char *err, size_t errsz)
{
	const char *missing;

	/* RTLD_LAZY: GnuTLS itself is linked with -z now, but its helpers
	 * (nettle, gmp, p11-kit...) then bind only what is called: 0.4 M
	 * instructions less per TLS check (bench/RESULTS.md). */
	libgnutls = dlopen("libgnutls.so.30", RTLD_LAZY | RTLD_LOCAL);
	if (libgnutls == NULL) {
		snprintf(err, errsz, "cannot load GnuTLS (libgnutls.so.30): %s", dlerror());
		return -1;
	}
	missing = tls_bind(libgnutls, &api, gt_symbols, sizeof gt_symbols / sizeof gt_symbols[0]);
	if (missing != NULL) {
		snprintf(err, errsz, "GnuTLS lacks %s", missing);
		return -1;
	}
	if (tls_sym(libgnutls, "gnutls_ciphersuite_get", &api.ciphersuite_get,
		    sizeof api.ciphersuite_get) != 0)
		api.ciphersuite_get = NULL;
	if (api.cred_alloc(&cred) != GNUTLS_E_SUCCESS) {
		cred = NULL;
		snprintf(err, errsz, "GnuTLS initialisation failed");
		return -1;
	}
	return 0;
}

static void gt_conn_free(struct tls_conn *c)
{
	if (c->s != NULL)
		api.deinit(c->s);
	free(c);
}

/* Called by GnuTLS before it acts on each KeyUpdate: past our limit the
 * message is refused (a negative result ends the read with an error). */
static int gt_on_keyupdate(gnutls_session_t s, unsigned int htype, unsigned when,
			   unsigned int incoming, const gnutls_datum_t *msg)
{
	struct tls_conn *c = api.get_ptr(s);

	(void)htype;
	(void)when;
	(void)msg;
	if (incoming && c != NULL && ++c->keyupdates > TLS_KEYUPDATE_MAX)
		return GNUTLS_E_TOO_MANY_HANDSHAKE_PACKETS;
	return 0;
}

static struct tls_conn *gt_conn_new(int fd, const char *sni, char *err, size_t errsz)
{
	struct tls_conn *c = calloc(1, sizeof *c);

	if (c == NULL) {
		snprintf(err, errsz, "cannot set up a TLS session: out of memory");
		return NULL;
	}
	if (api.init(&c->s, GNUTLS_CLIENT | GNUTLS_NONBLOCK) != GNUTLS_E_SUCCESS ||
	    api.set_default_priority(c->s) != GNUTLS_E_SUCCESS ||
	    api.credentials_set(c->s, GNUTLS_CRD_CERTIFICATE, cred) != GNUTLS_E_SUCCESS) {
		snprintf(err, errsz, "cannot set up a TLS session");
		gt_conn_free(c);
		return NULL;
	}
	if (sni != NULL && *sni != '\0' && !tls_is_numeric(sni))
		api.server_name_set(c->s, GNUTLS_NAME_DNS, sni, strlen(sni));
	api.transport_set_int2(c->s, fd, fd);
	api.handshake_set_timeout(c->s, GNUTLS_INDEFINITE_TIMEOUT);
	api.set_ptr(c->s, c);
	api.set_hook(c->s, GNUTLS_HANDSHAKE_KEY_UPDATE, GNUTLS_HOOK_PRE, gt_on_keyupdate);
	return c;
}

/* Map a negative GnuTLS result to ours, keeping the reason of a failure.
 * Only fatal results and GNUTLS_E_AGAIN/INTERRUPTED reach here; e is the
 * errno the call left (cleared before it). */
static enum tls_io result(struct tls_conn *c, int rc, int e)
{
	if (c->keyupdates > TLS_KEYUPDATE_MAX) {
		snprintf(c->err, sizeof c->err, "%s", TLS_KEYUPDATE_FLOOD);
		return TLS_IO_ERROR;
	}
	switch (rc) {
	case GNUTLS_E_AGAIN:
	case GNUTLS_E_INTERRUPTED:
		return api.get_direction(c->s) == 1 ? TLS_IO_WANT_WRITE : TLS_IO_WANT_READ;
	case GNUTLS_E_PREMATURE_TERMINATION:
	case GNUTLS_E_PULL_ERROR:
	case GNUTLS_E_PUSH_ERROR:
		/* the socket ended or failed under GnuTLS (which reads a reset
		 * as a premature end): errno is the system's reason */
		if (e == ECONNRESET || e == EPIPE) {
			snprintf(c->err, sizeof c->err, "connection reset during TLS");
			return TLS_IO_RESET;
		}
		if (rc == GNUTLS_E_PREMATURE_TERMINATION || e == 0) {
			snprintf(c->err, sizeof c->err, "connection closed during TLS");
			return TLS_IO_CLOSED;
		}
		snprintf(c->err, sizeof c->err, "%s during TLS", strerror(e));
		return TLS_IO_NETWORK;
	case GNUTLS_E_FATAL_ALERT_RECEIVED: {
		gnutls_alert_description_t a = api.alert_get(c->s);
		const char *name = api.alert_get_name(a); /* NULL for an alert it does not know */
		if (name != NULL)
			snprintf(c->err, sizeof c->err, "the server sent the TLS alert \"%s\"", name);
		else
			snprintf(c->err, sizeof c->err, "the server sent the unknown TLS alert %d", (int)a);
		return TLS_IO_ERROR;
	}
	default:
		snprintf(c->err, sizeof c->err, "%s", api.strerror(rc));
		/* GnuTLS's sentences ("An unexpected TLS packet was received.")
		 * become a clause of ours: no full stop, no capital but in a
		 * name such as "TLS" */
		c->err[strcspn(c->err, ".")] = '\0';
		if (isupper((unsigned char)c->err[0]) && islower((unsigned char)c->err[1]))
			c->err[0] = (char)tolower((unsigned char)c->err[0]);
		return TLS_IO_ERROR;
	}
}

/* 1 if rc is a non-fatal result (a warning alert, a renegotiation
 * request we ignore), not a wait for the socket. */
static int nonfatal(int rc)
{
	return rc < 0 && rc != GNUTLS_E_AGAIN && rc != GNUTLS_E_INTERRUPTED && !api.error_is_fatal(rc);
}

/* 1 to call again at once: a non-fatal result, and not a warning alert
 * past TLS_WARNING_MAX (each one is counted). */
static int again_now(struct tls_conn *c, int rc)
{
	return nonfatal(rc) && (rc != GNUTLS_E_WARNING_ALERT_RECEIVED || ++c->warnings <= TLS_WARNING_MAX);
}

/* The outcome of a call that did not succeed: a warning flood, another
 * round of non-fatal results (wait for the socket), or result(). */
static enum tls_io not_done(struct tls_conn *c, int rc, int e)
{
	if (c->warnings > TLS_WARNING_MAX) {
		snprintf(c->err, sizeof c->err, "%s", TLS_WARNING_FLOOD);
		return TLS_IO_ERROR;
	}
	return nonfatal(rc) ? TLS_IO_WANT_READ : result(c, rc, e);
}

static enum tls_io gt_handshake(struct tls_conn *c)
{
	int rc = 0;

	errno = 0;
	for (int i = 0; i < GT_RETRIES; i++) {
		rc = api.handshake(c->s);
		if (!again_now(c, rc))
			break;
	}
	if (rc == GNUTLS_E_SUCCESS)
		return TLS_IO_OK;
	return not_done(c, rc, errno);
}

static enum tls_io gt_read(struct tls_conn *c, char *buf, size_t len, size_t *got)
{
	ssize_t n = 0;

	errno = 0;
	for (int i = 0; i < GT_RETRIES; i++) {
		n = api.recv(c->s, buf, len);
		if (!again_now(c, (int)n))
			break;
	}
	if (n > 0) {
		*got = (size_t)n;
		return TLS_IO_OK;
	}
	if (n == 0) /* close_notify */
		return TLS_IO_CLOSED;
	return not_done(c, (int)n, errno);
}

static enum tls_io gt_write(struct tls_conn *c, const char *buf, size_t len, size_t *put)
{
	ssize_t n;

	errno = 0;
	n = api.send(c->s, buf, len);

	if (n > 0) {
		*put = (size_t)n;
		return TLS_IO_OK;
	}
	/* Only AGAIN/INTERRUPTED wait for the socket (result() asks GnuTLS
	 * which way); any other failure to send a command is an error, so
	 * that a writable socket cannot make us call again and again. */
	return result(c, n == 0 ? GNUTLS_E_INTERNAL_ERROR : (int)n, errno);
}

static size_t gt_pending(const struct tls_conn *c)
{
	return api.check_pending(c->s);
}

static const char *gt_error(const struct tls_conn *c)
{
	return c->err[0] ? c->err : "TLS failure";
}

static const char *gt_description(struct tls_conn *c)
{
	const char *proto = api.protocol_get_name(api.protocol_get_version(c->s));
	const char *suite = api.ciphersuite_get ? api.ciphersuite_get(c->s) : NULL;

	if (suite == NULL)
		suite = api.cipher_get_name(api.cipher_get(c->s));
	if (proto == NULL)
		proto = "?";
	/* "TLS1.3" as OpenSSL and most logs write it: "TLSv1.3" */
	if (strncmp(proto, "TLS", 3) == 0 && proto[3] != 'v')
		snprintf(c->desc, sizeof c->desc, "TLSv%s %s", proto + 3, suite ? suite : "?");
	else
		snprintf(c->desc, sizeof c->desc, "%s %s", proto, suite ? suite : "?");
	return c->desc;
}

static void gt_unload(void)
{
	if (cred != NULL) {
		api.cred_free(cred);
		cred = NULL;
	}
}

const struct tls_backend tls_gnutls = {
	.name = "gnutls",
	.load = gt_load,
	.conn_new = gt_conn_new,
	.handshake = gt_handshake,
	.read = gt_read,
	.write = gt_write,
	.pending = gt_pending,
	.error = gt_error,
	.description = gt_description,
	.conn_free = gt_conn_free,
	.unload = gt_unload,
};

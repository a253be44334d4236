/*
 * http_tls.c — the HTTPS server's TLS settings, beyond what civetweb sets.
 *
 * civetweb's mbedTLS module sets the certificate and the RNG;
 * http_tls_setup() (civetweb's init_ssl callback, patch 0001) adds the
 * rest: TLS 1.2 to 1.3, and session tickets for both versions. The ticket
 * keys (AES-256-GCM) come from acctd's CSPRNG, live only in this process,
 * and are replaced every HTTP_TLS_TICKET_LIFETIME seconds (a ticket is
 * accepted while its key is the current or the previous one, and never
 * longer than its lifetime). No server-side session cache: with tickets a
 * resumption costs no memory here. Handshakes run on civetweb's workers,
 * several at once (docs/civetweb.md); the ticket context locks itself.
 * Everything else (suites, groups, no CBC) is compile-time policy:
 * toolchain/mbedtls_config.h. (The push client's TLS is push_tls.c's.)
 *
 * The certificate: civetweb loads tls.cert/tls.key once (its own copy, never
 * presented); every handshake gets the current pair from http_tls_cert_cb
 * (mbedTLS's certificate-selection callback), which a SIGHUP replaces
 * (http_tls_reload): new handshakes present the new pair, established
 * connections never look at it again (a server's own certificate is used by
 * the handshake only). A handshake borrows the pair without a reference: no
 * step of it starts past the front stage's deadline (http.request_timeout_ms
 * from the accept), so it ends, or is cut, soon after that, and a
 * replaced pair is kept for HTTP_TLS_GRACE_MS past that before its
 * reference is dropped (at a later reload, else at exit).
 */
#include <string.h>

#include <mbedtls/error.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ticket.h>

#include "acctd.h"

#define HTTP_TLS_TICKET_LIFETIME 3600	/* seconds; also how often the key changes */
#define HTTP_TLS_GRACE_MS 5000		/* beyond the handshake deadline */

static mbedtls_ssl_ticket_context http_tls_ticket;
static int http_http_tls_ticket_ready;

static struct cred *http_tls_cred;	/* the current pair (a cred slot) */
static struct http_tls_old {
	struct cred *cred;
	int64_t until_ms;		/* app_now_ms(): no handshake has it */
} *http_tls_old;
static size_t http_tls_nold;

/* the f_rng of mbedTLS over acctd's CSPRNG (crypto.c) */
static int
http_tls_rng(void *unused, unsigned char *out, size_t len)
{
	(void)unused;
	return crypto_random(out, len) == 0 ? 0 :
	    MBEDTLS_ERR_SSL_INTERNAL_ERROR;
}

/* every handshake, a worker thread: the current pair */
static int
http_tls_cert_cb(mbedtls_ssl_context *ssl)
{
	struct cred *c = cred_slot_get(&http_tls_cred);
	int rc;

	if (c == NULL)
		return 0;	/* civetweb's own copy (before http_tls_load) */
	rc = mbedtls_ssl_set_hs_own_cert(ssl, cred_crt(c), cred_key(c));
	cred_unref(c);		/* borrowed: the slot or the old list holds it */
	return rc;
}

int
http_tls_load(const char *cert, const char *key, char *err, size_t errlen)
{
	struct cred *c;
	char why[256];

	if (cred_load(cert, key, "tls.cert", "tls.key", &c, err, errlen) == -1)
		return -1;
	if (cred_check_time(c, "tls.cert", why, sizeof(why)) == -1)
		log_warnx("%s", why);	/* a box without a clock still starts */
	cred_slot_set(&http_tls_cred, c);
	return 0;
}

/* drop the replaced pairs no handshake can hold any more */
static void
http_tls_old_sweep(int64_t now)
{
	size_t i, kept = 0;

	for (i = 0; i < http_tls_nold; i++) {
		if (now < 0 || http_tls_old[i].until_ms <= now)
			cred_unref(http_tls_old[i].cred);
		else
			http_tls_old[kept++] = http_tls_old[i];
	}
	http_tls_nold = kept;
}

int
http_tls_reload(const char *cert, const char *key, int handshake_ms)
{
	struct cred *c, *old;
	char err[512];
	int64_t now = app_now_ms();

	if (cred_load(cert, key, "tls.cert", "tls.key", &c, err,
	    sizeof(err)) == -1 ||
	    cred_check_time(c, "tls.cert", err, sizeof(err)) == -1) {
		if (c != NULL)
			cred_unref(c);
		log_warnx("reload: %s; still serving the previous certificate%s",
		    err, strstr(err, "permission denied") ? " (the key must be "
		    "readable by acctd's user for a reload: chown it)" : "");
		return -1;
	}
	old = cred_slot_get(&http_tls_cred);
	if (old != NULL && cred_same(old, c)) {
		cred_unref(old);	/* same certificate: nothing to do */
		cred_unref(c);
		return 0;
	}
	http_tls_old_sweep(now);
	http_tls_old = x_realloc(http_tls_old,
	    (http_tls_nold + 1) * sizeof(*http_tls_old));
	http_tls_old[http_tls_nold].cred = old;
	http_tls_old[http_tls_nold++].until_ms = now + handshake_ms +
	    HTTP_TLS_GRACE_MS;
	cred_slot_set(&http_tls_cred, c);
	log_info("reload: tls.cert %s loaded (valid until %lld)", cert,
	    (long long)cred_not_after(c));
	return 0;
}

int64_t
http_tls_not_after(void)
{
	struct cred *c = cred_slot_get(&http_tls_cred);
	int64_t t = c != NULL ? cred_not_after(c) : 0;

	cred_unref(c);
	return t;
}

int
http_tls_setup(void *ssl_conf)
{
	mbedtls_ssl_config *conf = ssl_conf;
	int rc;

	mbedtls_ssl_conf_min_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_2);
	mbedtls_ssl_conf_max_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_3);
	if (!http_http_tls_ticket_ready) {
		mbedtls_ssl_ticket_init(&http_tls_ticket);
		rc = mbedtls_ssl_ticket_setup(&http_tls_ticket, http_tls_rng, NULL,
		    MBEDTLS_CIPHER_AES_256_GCM, HTTP_TLS_TICKET_LIFETIME);
		if (rc != 0) {
			char buf[128];

			mbedtls_strerror(rc, buf, sizeof(buf));
			log_warnx("tls: session ticket keys: %s", buf);
			mbedtls_ssl_ticket_free(&http_tls_ticket);
			return -1;
		}
		http_http_tls_ticket_ready = 1;
	}
	mbedtls_ssl_conf_session_tickets_cb(conf, mbedtls_ssl_ticket_write,
	    mbedtls_ssl_ticket_parse, &http_tls_ticket);
	mbedtls_ssl_conf_cert_cb(conf, http_tls_cert_cb);
	return 0;
}

void
http_tls_shutdown(void)
{
	if (http_http_tls_ticket_ready) {
		mbedtls_ssl_ticket_free(&http_tls_ticket);	/* zeroizes the keys */
		http_http_tls_ticket_ready = 0;
	}
	http_tls_old_sweep(-1);
	free(http_tls_old);
	http_tls_old = NULL;
	cred_slot_set(&http_tls_cred, NULL);
}

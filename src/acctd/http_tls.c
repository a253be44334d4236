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
 * resumption costs no memory here, and all handshakes run on civetweb's
 * front-stage thread anyway (docs/civetweb.md), so the ticket context's own
 * mutex is never contended. Everything else (suites, groups, no CBC) is
 * compile-time policy: toolchain/mbedtls_config.h. (The push client's TLS
 * is push_tls.c's.)
 */
#include <mbedtls/error.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ticket.h>

#include "acctd.h"

#define HTTP_TLS_TICKET_LIFETIME 3600	/* seconds; also how often the key changes */

static mbedtls_ssl_ticket_context http_tls_ticket;
static int http_http_tls_ticket_ready;

/* the f_rng of mbedTLS over acctd's CSPRNG (crypto.c) */
static int
http_tls_rng(void *unused, unsigned char *out, size_t len)
{
	(void)unused;
	return crypto_random(out, len) == 0 ? 0 :
	    MBEDTLS_ERR_SSL_INTERNAL_ERROR;
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
	return 0;
}

void
http_tls_shutdown(void)
{
	if (http_http_tls_ticket_ready) {
		mbedtls_ssl_ticket_free(&http_tls_ticket);	/* zeroizes the keys */
		http_http_tls_ticket_ready = 0;
	}
}

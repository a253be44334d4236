/*
 * agent_tls.c — acctd-agent's TLS server (docs/agent.md "Protocol"), the
 * agent's only user of mbedTLS's TLS layer.
 *
 * - TLS 1.2 only, with the suites toolchain/mbedtls_config.h compiles in
 *   (ECDHE, AEAD).
 * - The node presents tls.cert / tls.key; the key file is refused when
 *   group or world accessible, and must match the certificate.
 * - The client must present a certificate, verified with acctd_cert as the
 *   only trust anchor (MBEDTLS_SSL_VERIFY_REQUIRED: a self-signed
 *   certificate verifies as its own anchor), and then be byte for byte the
 *   DER of acctd_cert: a certificate another key signed under the same name
 *   is refused as well.
 * - Deadlines, not per-read timeouts: the handshake must end within
 *   AGENT_TLS_TIMEOUT_MS of the accept and the request within as much again
 *   after it, so a client trickling one byte at a time cannot hold a worker.
 *   Writes time out through SO_SNDTIMEO.
 *
 * Nothing here is shared between threads. mbedTLS is built thread-safe
 * (MBEDTLS_THREADING_C), but that does not cover a key used by two
 * handshakes at once (its ECP group builds a table lazily; see
 * toolchain/mbedtls_config.h), so each worker owns a struct agent_tls (its
 * own parsed key and certificates); random numbers come from crypto_random.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "acctd.h"

struct agent_tls {
	mbedtls_ssl_config conf;
	mbedtls_x509_crt cert;		/* the node's chain */
	mbedtls_pk_context key;
	mbedtls_x509_crt acctd;		/* the one client certificate */
};

struct agent_tls_conn {
	mbedtls_ssl_context ssl;
	mbedtls_net_context net;
	int64_t deadline;		/* CLOCK_MONOTONIC ms */
	char peer[64];			/* for log lines */
};

static int64_t
agent_tls_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
agent_tls_strerror(int ret, char *buf, size_t len)
{
	mbedtls_strerror(ret, buf, len);
}

static int
agent_tls_rng(void *p, unsigned char *buf, size_t len)
{
	(void)p;
	return crypto_random(buf, len) == 0 ? 0 :
	    MBEDTLS_ERR_SSL_INTERNAL_ERROR;
}

/* reads stop at the connection's deadline, whatever mbedTLS asks for */
static int
agent_tls_recv(void *ctx, unsigned char *buf, size_t len, uint32_t timeout)
{
	struct agent_tls_conn *c = ctx;
	int64_t left = c->deadline - agent_tls_now_ms();

	if (left <= 0)
		return MBEDTLS_ERR_SSL_TIMEOUT;
	if (timeout == 0 || (int64_t)timeout > left)
		timeout = (uint32_t)left;
	return mbedtls_net_recv_timeout(&c->net, buf, len, timeout);
}

static int
agent_tls_send(void *ctx, const unsigned char *buf, size_t len)
{
	struct agent_tls_conn *c = ctx;

	return mbedtls_net_send(&c->net, buf, len);
}

int
agent_tls_new(const struct agent_conf *c, struct agent_tls **out, char *err,
    size_t errlen)
{
	struct agent_tls *t;
	char why[160];
	int ret;

	*out = NULL;
	t = x_calloc(1, sizeof(*t));
	mbedtls_ssl_config_init(&t->conf);
	mbedtls_x509_crt_init(&t->cert);
	mbedtls_pk_init(&t->key);
	mbedtls_x509_crt_init(&t->acctd);

	if (crypto_secret_file_check(c->tls_key, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "tls.key: %s", why);
		goto fail;
	}
	if ((ret = mbedtls_x509_crt_parse_file(&t->cert, c->tls_cert)) != 0) {
		agent_tls_strerror(ret, why, sizeof(why));
		snprintf(err, errlen, "tls.cert: %s: %s", c->tls_cert,
		    ret > 0 ? "not every certificate parses" : why);
		goto fail;
	}
	if ((ret = mbedtls_pk_parse_keyfile(&t->key, c->tls_key, NULL)) != 0) {
		agent_tls_strerror(ret, why, sizeof(why));
		snprintf(err, errlen, "tls.key: %s: %s", c->tls_key, why);
		goto fail;
	}
	if (mbedtls_pk_check_pair(&t->cert.pk, &t->key) != 0) {
		snprintf(err, errlen, "tls.key: %s does not match tls.cert %s",
		    c->tls_key, c->tls_cert);
		goto fail;
	}
	if ((ret = mbedtls_x509_crt_parse_file(&t->acctd, c->acctd_cert)) != 0) {
		agent_tls_strerror(ret, why, sizeof(why));
		snprintf(err, errlen, "acctd_cert: %s: %s", c->acctd_cert,
		    ret > 0 ? "not every certificate parses" : why);
		goto fail;
	}
	if (t->acctd.next != NULL) {
		snprintf(err, errlen, "acctd_cert: %s: must hold exactly one "
		    "certificate", c->acctd_cert);
		goto fail;
	}

	if ((ret = mbedtls_ssl_config_defaults(&t->conf, MBEDTLS_SSL_IS_SERVER,
	    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT)) != 0 ||
	    (ret = mbedtls_ssl_conf_own_cert(&t->conf, &t->cert, &t->key)) != 0) {
		agent_tls_strerror(ret, why, sizeof(why));
		snprintf(err, errlen, "tls: %s", why);
		goto fail;
	}
	mbedtls_ssl_conf_min_version(&t->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
	    MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_max_version(&t->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
	    MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_rng(&t->conf, agent_tls_rng, NULL);
	mbedtls_ssl_conf_ca_chain(&t->conf, &t->acctd, NULL);
	mbedtls_ssl_conf_authmode(&t->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_read_timeout(&t->conf, AGENT_TLS_TIMEOUT_MS);
	*out = t;
	return 0;
fail:
	agent_tls_free(t);
	return -1;
}

void
agent_tls_free(struct agent_tls *t)
{
	if (t == NULL)
		return;
	mbedtls_ssl_config_free(&t->conf);
	mbedtls_x509_crt_free(&t->cert);
	mbedtls_pk_free(&t->key);
	mbedtls_x509_crt_free(&t->acctd);
	free(t);
}

int
agent_tls_accept(struct agent_tls *t, int fd, const char *peer,
    struct agent_tls_conn **out, char *err, size_t errlen)
{
	struct agent_tls_conn *c;
	const mbedtls_x509_crt *crt;
	struct timeval tv = { AGENT_TLS_TIMEOUT_MS / 1000, 0 };
	char why[256];
	uint32_t flags;
	int ret;

	*out = NULL;
	c = x_calloc(1, sizeof(*c));
	mbedtls_ssl_init(&c->ssl);
	mbedtls_net_init(&c->net);
	c->net.fd = fd;
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1)
		log_warn("SO_SNDTIMEO");
	if ((ret = mbedtls_ssl_setup(&c->ssl, &t->conf)) != 0) {
		agent_tls_strerror(ret, why, sizeof(why));
		snprintf(err, errlen, "tls setup: %s", why);
		goto fail;
	}
	mbedtls_ssl_set_bio(&c->ssl, c, agent_tls_send, NULL, agent_tls_recv);
	c->deadline = agent_tls_now_ms() + AGENT_TLS_TIMEOUT_MS;
	do
		ret = mbedtls_ssl_handshake(&c->ssl);
	while (ret == MBEDTLS_ERR_SSL_WANT_READ ||
	    ret == MBEDTLS_ERR_SSL_WANT_WRITE);
	if (ret == MBEDTLS_ERR_SSL_TIMEOUT) {
		snprintf(err, errlen, "handshake timed out after %d s",
		    AGENT_TLS_TIMEOUT_MS / 1000);
		goto fail;
	}
	if (ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
		flags = mbedtls_ssl_get_verify_result(&c->ssl);
		if (mbedtls_x509_crt_verify_info(why, sizeof(why), "", flags) < 0)
			snprintf(why, sizeof(why), "not verified");
		why[strcspn(why, "\n")] = '\0';
		snprintf(err, errlen, "client certificate refused: %s", why);
		goto fail;
	}
	if (ret != 0) {
		agent_tls_strerror(ret, why, sizeof(why));
		snprintf(err, errlen, "handshake: %s", why);
		goto fail;
	}
	/* verified against acctd_cert; now it must be acctd_cert itself */
	crt = mbedtls_ssl_get_peer_cert(&c->ssl);
	if (crt == NULL || crt->raw.len != t->acctd.raw.len ||
	    !crypto_equal(crt->raw.p, t->acctd.raw.p, crt->raw.len)) {
		snprintf(err, errlen, "client certificate refused: not "
		    "acctd_cert");
		goto fail;
	}
	c->deadline = agent_tls_now_ms() + AGENT_TLS_TIMEOUT_MS;
	*out = c;
	return 0;
fail:
	mbedtls_ssl_free(&c->ssl);
	mbedtls_net_free(&c->net);
	free(c);
	return -1;
}

int
agent_tls_read(void *conn, void *buf, size_t len)
{
	struct agent_tls_conn *c = conn;
	char why[128];
	int ret;

	if (len > INT_MAX)
		len = INT_MAX;
	for (;;) {
		ret = mbedtls_ssl_read(&c->ssl, buf, len);
		if (ret > 0)
			return ret;
		if (ret == 0 || ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
			return 0;
		if (ret == MBEDTLS_ERR_SSL_WANT_READ ||
		    ret == MBEDTLS_ERR_SSL_WANT_WRITE)
			continue;
		if (ret == MBEDTLS_ERR_SSL_TIMEOUT)
			log_warnx("%s: request timed out after %d s", c->peer,
			    AGENT_TLS_TIMEOUT_MS / 1000);
		else {
			agent_tls_strerror(ret, why, sizeof(why));
			log_warnx("%s: tls read: %s", c->peer, why);
		}
		return -1;
	}
}

int
agent_tls_write(void *conn, const void *buf, size_t len)
{
	struct agent_tls_conn *c = conn;
	const unsigned char *p = buf;
	char why[128];
	int ret;

	while (len > 0) {
		ret = mbedtls_ssl_write(&c->ssl, p, len);
		if (ret == MBEDTLS_ERR_SSL_WANT_READ ||
		    ret == MBEDTLS_ERR_SSL_WANT_WRITE)
			continue;
		if (ret <= 0) {
			agent_tls_strerror(ret, why, sizeof(why));
			log_warnx("%s: tls write: %s", c->peer, why);
			return -1;
		}
		p += ret;
		len -= (size_t)ret;
	}
	return 0;
}

void
agent_tls_close(struct agent_tls_conn *c)
{
	if (c == NULL)
		return;
	(void)mbedtls_ssl_close_notify(&c->ssl);
	mbedtls_ssl_free(&c->ssl);
	mbedtls_net_free(&c->net);
	free(c);
}

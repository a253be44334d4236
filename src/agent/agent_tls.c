/*
 * agent_tls.c — acctd-agent's TLS server (docs/agent.md "Protocol"), the
 * agent's only user of mbedTLS's TLS layer.
 *
 * - TLS 1.3 or 1.2 (1.3 with an acctd that has it), with the suites
 *   toolchain/mbedtls_config.h compiles in (ECDHE, AEAD). Session tickets
 *   (docs/agent.md "Resumption"): acctd makes one connection per delivery
 *   and offers the ticket of the last one, resumed in TLS 1.3 with a fresh
 *   ECDHE (psk_dhe_ke; acctd asks for no TLS 1.2 tickets). The ticket keys
 *   (AES-256-GCM) come from crypto_random, live in this process only, change
 *   every AGENT_TLS_TICKET_LIFETIME seconds, and belong to one struct
 *   agent_tls: a restart or a SIGHUP (perhaps with another acctd_cert)
 *   makes every older ticket fail, and acctd falls back to a full handshake.
 * - The node presents tls.cert / tls.key; the key file is refused when
 *   group or world accessible, and must match the certificate.
 * - The client must present a certificate, verified with acctd_cert as the
 *   only trust anchor (MBEDTLS_SSL_VERIFY_REQUIRED: a self-signed
 *   certificate verifies as its own anchor), and be byte for byte the DER
 *   of acctd_cert (agent_tls_verify, inside the handshake, so no ticket is
 *   ever issued to anything else): a certificate another key signed under
 *   the same name is refused as well. A resumed handshake shows no
 *   certificate (TLS 1.3 tickets do not carry it); its ticket is one this
 *   struct agent_tls issued after such a check.
 * - The handshake is non-blocking (agent_tls_handshake, driven by the
 *   poll loop of agent_conn.c): a connection that has not proved it is
 *   acctd holds no thread. Its mbedTLS context is set up only when its
 *   first bytes arrive, so a silent connection costs a descriptor.
 * - One deadline per connection (agent_conn.c sets it at the accept): the
 *   handshake and the whole request must be done by then, so a client
 *   trickling one byte at a time is cut as well. An answer being written
 *   has AGENT_TLS_TIMEOUT_MS from its first byte.
 *
 * mbedTLS is built thread-safe (MBEDTLS_THREADING_C); since 3.6 a key may
 * also sign in two handshakes at once (toolchain/mbedtls_config.h), but the
 * design does not need it: one struct agent_tls (the key) is used for
 * handshakes by the poll thread alone; after its handshake a connection
 * moves to one worker thread, which only encrypts and decrypts records
 * with its own context (the shared configuration is then only read).
 * Random numbers come from crypto_random, which serialises its DRBG.
 *
 * SIGHUP reads the files again (agent_main.c): a new struct agent_tls that
 * agent_conn.c gives every later connection. A struct agent_tls is
 * reference counted: each connection holds one from its accept to its
 * close (its mbedTLS context points into the config), so the old one is
 * freed when the last connection that uses it ends.
 */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdatomic.h>
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
#include <mbedtls/ssl_ticket.h>
#include <mbedtls/x509_crt.h>

#include "agent.h"

#define AGENT_TLS_TICKET_LIFETIME 3600	/* seconds; also how often the key changes */

struct agent_tls {
	atomic_int refs;
	mbedtls_ssl_config conf;
	mbedtls_ssl_ticket_context ticket;	/* its keys: this load's only */
	struct cred *own;		/* tls.cert + tls.key */
	struct cred *acctd;		/* acctd_cert: the one client certificate */
};

struct agent_tls_conn {
	struct agent_tls *t;
	mbedtls_ssl_context ssl;
	int fd;				/* non-blocking */
	int setup;			/* ssl set up (at the first bytes) */
	int done;			/* handshake done, client is acctd */
	int verified;			/* a certificate was verified: not resumed */
	int notpin;			/* ... and it was not acctd_cert */
	int64_t deadline;		/* CLOCK_MONOTONIC ms: handshake + request */
	int64_t wdeadline;		/* for the answer being written */
	char peer[64];			/* for log lines */
};

int64_t
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

/*
 * Until the handshake is done these never wait (WANT_READ / WANT_WRITE: the
 * poll loop comes back); afterwards, on a worker, they wait in poll() up to
 * the connection's deadline (reads) or the answer's (writes).
 */
static int
agent_tls_wait(struct agent_tls_conn *c, short events, int64_t deadline)
{
	struct pollfd pfd = { .fd = c->fd, .events = events };
	int64_t left;
	int r;

	for (;;) {
		left = deadline - agent_tls_now_ms();
		if (left <= 0)
			return MBEDTLS_ERR_SSL_TIMEOUT;
		r = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return MBEDTLS_ERR_NET_POLL_FAILED;
	}
}

/* one recv (POLLIN) or send (POLLOUT) for mbedTLS, as agent_tls_wait says */
static int
agent_tls_io(struct agent_tls_conn *c, short ev, unsigned char *rbuf,
    const unsigned char *wbuf, size_t len)
{
	ssize_t r;
	int w;

	if (len > INT_MAX)
		len = INT_MAX;
	for (;;) {
		if (ev == POLLIN && agent_tls_now_ms() >= c->deadline)
			return MBEDTLS_ERR_SSL_TIMEOUT;
		r = ev == POLLIN ? recv(c->fd, rbuf, len, 0) :
		    send(c->fd, wbuf, len, MSG_NOSIGNAL);
		if (r >= 0)
			return (int)r;
		if (errno == EINTR)
			continue;
		if (errno == ECONNRESET || (ev == POLLOUT && errno == EPIPE))
			return MBEDTLS_ERR_NET_CONN_RESET;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return ev == POLLIN ? MBEDTLS_ERR_NET_RECV_FAILED :
			    MBEDTLS_ERR_NET_SEND_FAILED;
		if (!c->done)
			return ev == POLLIN ? MBEDTLS_ERR_SSL_WANT_READ :
			    MBEDTLS_ERR_SSL_WANT_WRITE;
		if ((w = agent_tls_wait(c, ev, ev == POLLIN ? c->deadline :
		    c->wdeadline)) != 0)
			return w;
	}
}

static int
agent_tls_recv(void *ctx, unsigned char *buf, size_t len)
{
	return agent_tls_io(ctx, POLLIN, buf, NULL, len);
}

static int
agent_tls_send(void *ctx, const unsigned char *buf, size_t len)
{
	return agent_tls_io(ctx, POLLOUT, NULL, buf, len);
}

/* tls.cert/tls.key and acctd_cert, by cred.c's rules; -1 with err */
static int
agent_tls_files(struct agent_tls *t, const struct agent_conf *c, char *err,
    size_t errlen)
{
	if (cred_load(c->tls_cert, c->tls_key, "tls.cert", "tls.key", &t->own,
	    err, errlen) == -1 ||
	    cred_load(c->acctd_cert, NULL, "acctd_cert", NULL, &t->acctd, err,
	    errlen) == -1)
		return -1;
	if (cred_crt(t->acctd)->next != NULL) {
		snprintf(err, errlen, "acctd_cert: %s: must hold exactly one "
		    "certificate", c->acctd_cert);
		return -1;
	}
	return 0;
}

/* the session tickets and their key exchange (TLS 1.3: psk_dhe_ke) */
static int
agent_tls_tickets(struct agent_tls *t)
{
	int ret;

	if ((ret = mbedtls_ssl_ticket_setup(&t->ticket, agent_tls_rng, NULL,
	    MBEDTLS_CIPHER_AES_256_GCM, AGENT_TLS_TICKET_LIFETIME)) != 0)
		return ret;
	mbedtls_ssl_conf_session_tickets_cb(&t->conf, mbedtls_ssl_ticket_write,
	    mbedtls_ssl_ticket_parse, &t->ticket);
	mbedtls_ssl_conf_tls13_key_exchange_modes(&t->conf,
	    MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_EPHEMERAL_ALL);
	mbedtls_ssl_conf_new_session_tickets(&t->conf, 1);
	return 0;
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
	atomic_init(&t->refs, 1);
	mbedtls_ssl_config_init(&t->conf);
	mbedtls_ssl_ticket_init(&t->ticket);
	if (agent_tls_files(t, c, err, errlen) == -1)
		goto fail;
	if ((ret = mbedtls_ssl_config_defaults(&t->conf, MBEDTLS_SSL_IS_SERVER,
	    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT)) != 0 ||
	    (ret = mbedtls_ssl_conf_own_cert(&t->conf, cred_crt(t->own),
	    cred_key(t->own))) != 0 || (ret = agent_tls_tickets(t)) != 0) {
		agent_tls_strerror(ret, why, sizeof(why));
		snprintf(err, errlen, "tls: %s", why);
		goto fail;
	}
	mbedtls_ssl_conf_min_tls_version(&t->conf, MBEDTLS_SSL_VERSION_TLS1_2);
	mbedtls_ssl_conf_max_tls_version(&t->conf, MBEDTLS_SSL_VERSION_TLS1_3);
	mbedtls_ssl_conf_rng(&t->conf, agent_tls_rng, NULL);
	mbedtls_ssl_conf_ca_chain(&t->conf, cred_crt(t->acctd), NULL);
	mbedtls_ssl_conf_authmode(&t->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	*out = t;
	return 0;
fail:
	agent_tls_free(t);
	return -1;
}

void
agent_tls_free(struct agent_tls *t)
{
	if (t == NULL || atomic_fetch_sub(&t->refs, 1) != 1)
		return;
	mbedtls_ssl_config_free(&t->conf);
	mbedtls_ssl_ticket_free(&t->ticket);	/* zeroizes the keys */
	cred_unref(t->own);
	cred_unref(t->acctd);
	free(t);
}

int64_t
agent_tls_not_after(struct agent_tls *t)
{
	return cred_not_after(t->own);
}

int
agent_tls_conn_new(struct agent_tls *t, int fd, const char *peer,
    int64_t deadline, struct agent_tls_conn **out)
{
	struct agent_tls_conn *c;
	int one = 1;

	/* the handshake's flights and the answer's records go out as written
	 * (Nagle held a record back for the client's delayed ACK: ~40 ms) */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c = x_calloc(1, sizeof(*c));
	atomic_fetch_add(&t->refs, 1);	/* agent_tls_close drops it */
	c->t = t;
	c->fd = fd;
	c->deadline = deadline;
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	mbedtls_ssl_init(&c->ssl);
	*out = c;
	return 0;
}

int
agent_tls_fd(const struct agent_tls_conn *c)
{
	return c->fd;
}

const char *
agent_tls_peer(const struct agent_tls_conn *c)
{
	return c->peer;
}

/* depth 0 must be acctd_cert itself, inside the handshake (before any
 * ticket); only full handshakes verify: c->verified tells them apart */
static int
agent_tls_verify(void *arg, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
	struct agent_tls_conn *c = arg;
	const mbedtls_x509_crt *pin = cred_crt(c->t->acctd);

	c->verified = 1;
	if (depth == 0 && (crt->raw.len != pin->raw.len ||
	    !crypto_equal(crt->raw.p, pin->raw.p, crt->raw.len))) {
		c->notpin = 1;
		*flags |= MBEDTLS_X509_BADCERT_NOT_TRUSTED;
	}
	return 0;
}

int
agent_tls_handshake(struct agent_tls_conn *c, char *err, size_t errlen)
{
	const mbedtls_x509_crt *crt, *pin;
	char why[256];
	uint32_t flags;
	int ret;

	if (!c->setup) {
		if ((ret = mbedtls_ssl_setup(&c->ssl, &c->t->conf)) != 0) {
			agent_tls_strerror(ret, why, sizeof(why));
			snprintf(err, errlen, "tls setup: %s", why);
			return -1;
		}
		mbedtls_ssl_set_bio(&c->ssl, c, agent_tls_send, agent_tls_recv,
		    NULL);
		mbedtls_ssl_set_verify(&c->ssl, agent_tls_verify, c);
		c->setup = 1;
	}
	ret = mbedtls_ssl_handshake(&c->ssl);
	if (ret == MBEDTLS_ERR_SSL_WANT_READ)
		return AGENT_TLS_WANT_READ;
	if (ret == MBEDTLS_ERR_SSL_WANT_WRITE)
		return AGENT_TLS_WANT_WRITE;
	if (ret == MBEDTLS_ERR_SSL_TIMEOUT) {
		snprintf(err, errlen, "handshake timed out after %d s",
		    AGENT_TLS_TIMEOUT_MS / 1000);
		return -1;
	}
	if (ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED && c->notpin &&
	    !(mbedtls_ssl_get_verify_result(&c->ssl) &
	    ~(uint32_t)MBEDTLS_X509_BADCERT_NOT_TRUSTED)) {
		snprintf(err, errlen, "client certificate refused: not "
		    "acctd_cert");
		return -1;
	}
	if (ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
		flags = mbedtls_ssl_get_verify_result(&c->ssl);
		if (mbedtls_x509_crt_verify_info(why, sizeof(why), "", flags) < 0)
			snprintf(why, sizeof(why), "not verified");
		why[strcspn(why, "\n")] = '\0';
		snprintf(err, errlen, "client certificate refused: %s", why);
		return -1;
	}
	if (ret != 0) {
		agent_tls_strerror(ret, why, sizeof(why));
		snprintf(err, errlen, "handshake: %s", why);
		return -1;
	}
	/* verified against acctd_cert; now it must be acctd_cert itself (a
	 * resumption has no certificate: its ticket is this load's) */
	crt = mbedtls_ssl_get_peer_cert(&c->ssl);
	pin = cred_crt(c->t->acctd);
	if ((c->verified || crt != NULL) && (crt == NULL ||
	    crt->raw.len != pin->raw.len ||
	    !crypto_equal(crt->raw.p, pin->raw.p, crt->raw.len))) {
		snprintf(err, errlen, "client certificate refused: not "
		    "acctd_cert");
		return -1;
	}
	c->done = 1;
	log_debug("tls: %s %s with acctd%s", mbedtls_ssl_get_version(&c->ssl),
	    mbedtls_ssl_get_ciphersuite(&c->ssl), c->verified ? "" :
	    " (resumed)");
	return AGENT_TLS_DONE;
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

	c->wdeadline = agent_tls_now_ms() + AGENT_TLS_TIMEOUT_MS;
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
	if (c->done) {
		c->wdeadline = agent_tls_now_ms() + 1000;
		(void)mbedtls_ssl_close_notify(&c->ssl);
	}
	mbedtls_ssl_free(&c->ssl);
	close(c->fd);
	agent_tls_free(c->t);
	free(c);
}

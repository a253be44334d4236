/*
 * forward_conn.c — the SIEM forwarder's stream to its collector (forward.c
 * is the only caller): syslog over TCP (RFC 6587) or TLS (RFC 5425), one
 * long-lived connection, written only.
 *
 * TLS is 1.3 or 1.2 with the project's mbedTLS config; the collector's
 * certificate must chain to audit.forward.ca (read again at every connect,
 * so a renewed CA file needs no reload) and name the url's host (a DNS
 * name or an IP address in subjectAltName). No client certificate.
 *
 * The socket is non-blocking after connect: every wait is a poll of at
 * most FORWARD_CONN_SLICE_MS that also looks at the caller's stop flag, so
 * a stuck collector costs the forwarder FORWARD_CONN_TIMEOUT_MS, never
 * acctd's shutdown. Plain syslog has no acknowledgement of its own; what
 * the collector's TCP stack acknowledged (bytes written minus SIOCOUTQ) is
 * what forward.c counts as received (see its comment).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/sockios.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "acctd.h"

#define FORWARD_CONN_TIMEOUT_MS 10000   /* a handshake, one write */
#define FORWARD_CONN_SLICE_MS 100       /* between looks at the stop flag */

struct forward_conn {
	int fd;
	int tls;
	const _Atomic int *stop;
	uint64_t written;          /* bytes the socket took */
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_ssl_config conf;
	mbedtls_ssl_context ssl;
	struct cred *ca;           /* audit.forward.ca, read at each connect */
};

static void
forward_conn_tls_err(char *err, size_t errlen, const char *what, int rc)
{
	char buf[128];

	mbedtls_strerror(rc, buf, sizeof(buf));
	snprintf(err, errlen, "%s: %s", what, buf);
}

static int64_t
forward_conn_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* wait for events on c's socket until deadline (ms): 0 ready, -1 with err */
static int
forward_conn_wait(struct forward_conn *c, short events, int64_t deadline,
    char *err, size_t errlen)
{
	struct pollfd p = { .fd = c->fd, .events = events };
	int64_t left;
	int rc;

	for (;;) {
		if (atomic_load(c->stop)) {
			snprintf(err, errlen, "acctd is stopping");
			return -1;
		}
		left = deadline - forward_conn_ms();
		if (left <= 0) {
			snprintf(err, errlen, "the collector did not answer within %d s",
			    FORWARD_CONN_TIMEOUT_MS / 1000);
			return -1;
		}
		rc = poll(&p, 1, left < FORWARD_CONN_SLICE_MS ? (int)left :
		    FORWARD_CONN_SLICE_MS);
		if (rc > 0)
			return 0;
		if (rc == -1 && errno != EINTR) {
			snprintf(err, errlen, "poll: %s", strerror(errno));
			return -1;
		}
	}
}

/* mbedTLS's I/O on the non-blocking socket, counting what was written */
static int
forward_conn_send(void *ctx, const unsigned char *buf, size_t len)
{
	struct forward_conn *c = ctx;
	ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);

	if (n >= 0) {
		c->written += (uint64_t)n;
		return (int)n;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return MBEDTLS_ERR_SSL_WANT_WRITE;
	return errno == EPIPE || errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET :
	    MBEDTLS_ERR_NET_SEND_FAILED;
}

static int
forward_conn_recv(void *ctx, unsigned char *buf, size_t len)
{
	struct forward_conn *c = ctx;
	ssize_t n = recv(c->fd, buf, len, 0);

	if (n >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return MBEDTLS_ERR_SSL_WANT_READ;
	return errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET :
	    MBEDTLS_ERR_NET_RECV_FAILED;
}

/* the client settings: TLS 1.2-1.3, the CA file as the only anchor, the
 * url's host checked against the certificate; 0 or -1 with err */
static int
forward_conn_tls_setup(struct forward_conn *c, const char *host, const char *ca,
    char *err, size_t errlen)
{
	int rc;

	if (cred_load(ca, NULL, "audit.forward.ca", NULL, &c->ca, err, errlen) == -1 ||
	    push_tls_client_conf(&c->conf, &c->drbg, &c->entropy, "acctd forward",
	    cred_crt(c->ca), err, errlen) == -1)
		return -1;
	if ((rc = mbedtls_ssl_setup(&c->ssl, &c->conf)) != 0 ||
	    (rc = mbedtls_ssl_set_hostname(&c->ssl, host)) != 0) {
		forward_conn_tls_err(err, errlen, "tls setup", rc);
		return -1;
	}
	mbedtls_ssl_set_bio(&c->ssl, c, forward_conn_send, forward_conn_recv, NULL);
	return 0;
}

static int
forward_conn_handshake(struct forward_conn *c, char *err, size_t errlen)
{
	int64_t deadline = forward_conn_ms() + FORWARD_CONN_TIMEOUT_MS;
	char why[256];
	uint32_t flags;
	int rc;

	while ((rc = mbedtls_ssl_handshake(&c->ssl)) != 0) {
		if (rc != MBEDTLS_ERR_SSL_WANT_READ && rc != MBEDTLS_ERR_SSL_WANT_WRITE)
			break;
		if (forward_conn_wait(c, rc == MBEDTLS_ERR_SSL_WANT_READ ? POLLIN :
		    POLLOUT, deadline, err, errlen) == -1)
			return -1;
	}
	if (rc == 0)
		return 0;
	flags = mbedtls_ssl_get_verify_result(&c->ssl);
	if (rc == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED && flags != 0 &&
	    mbedtls_x509_crt_verify_info(why, sizeof(why), "", flags) > 0) {
		why[strcspn(why, "\n")] = '\0';
		snprintf(err, errlen, "tls handshake: the collector's certificate: %s",
		    why);
	} else {
		forward_conn_tls_err(err, errlen, "tls handshake", rc);
	}
	return -1;
}

int
forward_conn_open(const char *url, const char *ca, const _Atomic int *stop,
    struct forward_conn **out, char *err, size_t errlen)
{
	struct forward_conn *c;
	struct addr a;

	*out = NULL;
	if ((strncmp(url, "tcp://", 6) != 0 && strncmp(url, "tls://", 6) != 0) ||
	    addr_split(url + 6, &a) != 0) {
		snprintf(err, errlen, "bad url %s", url);
		return -1;
	}
	c = x_calloc(1, sizeof(*c));
	c->fd = -1;
	c->tls = url[2] == 's';
	c->stop = stop;
	mbedtls_entropy_init(&c->entropy);
	mbedtls_ctr_drbg_init(&c->drbg);
	mbedtls_ssl_config_init(&c->conf);
	mbedtls_ssl_init(&c->ssl);
	if ((c->fd = push_tls_connect(&a, err, errlen)) == -1)
		goto fail;
	fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
	if (c->tls && (forward_conn_tls_setup(c, a.host, ca, err, errlen) == -1 ||
	    forward_conn_handshake(c, err, errlen) == -1))
		goto fail;
	*out = c;
	return 0;
 fail:
	forward_conn_close(c);
	return -1;
}

/* one write of buf[0..len), TLS or plain: 0 with *n what was taken, or
 * MBEDTLS_ERR_SSL_WANT_WRITE / _WANT_READ (wait, then again) or an error */
static int
forward_conn_write_some(struct forward_conn *c, const char *buf, size_t len,
    size_t *n)
{
	int rc;

	*n = 0;
	rc = c->tls ? mbedtls_ssl_write(&c->ssl, (const unsigned char *)buf, len) :
	    forward_conn_send(c, (const unsigned char *)buf, len);
	if (rc > 0)
		*n = (size_t)rc;
	return rc < 0 ? rc : 0;
}

int
forward_conn_write(struct forward_conn *c, const char *buf, size_t len,
    char *err, size_t errlen)
{
	int64_t deadline = forward_conn_ms() + FORWARD_CONN_TIMEOUT_MS;
	size_t n;
	int rc;

	for (size_t off = 0; off < len; off += n) {
		rc = forward_conn_write_some(c, buf + off, len - off, &n);
		if (rc == MBEDTLS_ERR_SSL_WANT_WRITE || rc == MBEDTLS_ERR_SSL_WANT_READ) {
			if (forward_conn_wait(c, rc == MBEDTLS_ERR_SSL_WANT_READ ?
			    POLLIN : POLLOUT, deadline, err, errlen) == -1)
				return -1;
			continue;
		}
		if (rc == MBEDTLS_ERR_NET_CONN_RESET) {
			snprintf(err, errlen, "the collector closed the connection");
			return -1;
		}
		if (rc < 0) {
			forward_conn_tls_err(err, errlen, "write", rc);
			return -1;
		}
		if (n > 0)
			deadline = forward_conn_ms() + FORWARD_CONN_TIMEOUT_MS;
	}
	return 0;
}

/* whatever the collector sent (a TLS 1.3 ticket, an alert; a syslog
 * collector sends nothing else), read and dropped; 1 at its end */
static int
forward_conn_drain(struct forward_conn *c, char *err, size_t errlen)
{
	unsigned char buf[512];
	int rc;

	for (;;) {
		rc = c->tls ? mbedtls_ssl_read(&c->ssl, buf, sizeof(buf)) :
		    forward_conn_recv(c, buf, sizeof(buf));
		if (rc > 0 || rc == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
			continue;
		if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE)
			return 0;
		if (rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY ||
		    rc == MBEDTLS_ERR_NET_CONN_RESET) {
			snprintf(err, errlen, "the collector closed the connection");
			return 1;
		}
		forward_conn_tls_err(err, errlen, "read", rc);
		return 1;
	}
}

int
forward_conn_alive(struct forward_conn *c, char *err, size_t errlen)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };

	if (poll(&p, 1, 0) <= 0)
		return 0;
	return forward_conn_drain(c, err, errlen) ? -1 : 0;
}

uint64_t
forward_conn_acked(struct forward_conn *c)
{
	int queued = 0;

	if (ioctl(c->fd, SIOCOUTQ, &queued) == -1 || queued < 0 ||
	    (uint64_t)queued > c->written)
		return 0;
	return c->written - (uint64_t)queued;
}

uint64_t
forward_conn_written(const struct forward_conn *c)
{
	return c->written;
}

void
forward_conn_close(struct forward_conn *c)
{
	if (c == NULL)
		return;
	if (c->tls && c->fd >= 0)
		mbedtls_ssl_close_notify(&c->ssl);   /* best effort, never waits */
	if (c->fd >= 0)
		close(c->fd);
	mbedtls_ssl_free(&c->ssl);
	mbedtls_ssl_config_free(&c->conf);
	cred_unref(c->ca);
	mbedtls_ctr_drbg_free(&c->drbg);
	mbedtls_entropy_free(&c->entropy);
	free(c);
}

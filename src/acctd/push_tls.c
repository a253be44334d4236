/*
 * push_tls.c — the push client: one HTTPS POST to a workspace node's
 * acctd-agent (push.c's only way out), TLS 1.3 or 1.2 (the project's mbedTLS
 * config: ECDHE + AEAD, P-256/X25519), with
 *   - the node's certificate pinned: it is the only trust anchor, and the
 *     peer's certificate must equal it byte for byte;
 *   - acctd's client certificate (push.client_cert/key) for the agent to pin.
 * One request per connection; connect and every read time out, so a dead
 * node costs its push thread a few seconds, never a handler anything.
 * (The HTTPS server's TLS settings are http_tls.c's.)
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "acctd.h"

#define PUSH_TLS_TIMEOUT_MS 5000

/* "https://host:port" -> host, port */
static int
push_tls_split_url(const char *url, char *host, size_t hl, char *port, size_t pl)
{
	struct addr a;

	if (strncmp(url, "https://", 8) != 0 || addr_split(url + 8, &a) != 0 ||
	    strlen(a.host) >= hl)
		return -1;
	strcpy(host, a.host);
	snprintf(port, pl, "%u", a.port);
	return 0;
}

/* non-blocking connect with a deadline, then back to blocking (forward_conn.c
 * connects to the SIEM collector with it too) */
int
push_tls_connect(const char *host, const char *port, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL, *ai;
	int fd = -1, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "%s: %s", host, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		struct pollfd pfd;
		int soerr = 0;
		socklen_t sl = sizeof(soerr);

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd == -1)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS) {
			pfd.fd = fd;
			pfd.events = POLLOUT;
			if (poll(&pfd, 1, PUSH_TLS_TIMEOUT_MS) == 1 &&
			    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0)
				break;
			snprintf(err, errlen, "connect %s:%s: %s", host, port,
			    soerr ? strerror(soerr) : "timed out");
		} else {
			snprintf(err, errlen, "connect %s:%s: %s", host, port, strerror(errno));
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd != -1)
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

static void
push_tls_err(char *err, size_t errlen, const char *what, int rc)
{
	char buf[128];

	mbedtls_strerror(rc, buf, sizeof(buf));
	snprintf(err, errlen, "%s: %s", what, buf);
}

/* one push connection's mbedTLS state */
struct push_tls {
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_ssl_config conf;
	mbedtls_ssl_context ssl;
	mbedtls_x509_crt pin, own;
	mbedtls_pk_context key;
	mbedtls_net_context net;
};

static void
push_tls_init(struct push_tls *p)
{
	mbedtls_entropy_init(&p->entropy);
	mbedtls_ctr_drbg_init(&p->drbg);
	mbedtls_ssl_config_init(&p->conf);
	mbedtls_ssl_init(&p->ssl);
	mbedtls_x509_crt_init(&p->pin);
	mbedtls_x509_crt_init(&p->own);
	mbedtls_pk_init(&p->key);
	mbedtls_net_init(&p->net);
}

static void
push_tls_free(struct push_tls *p)
{
	mbedtls_net_free(&p->net);
	mbedtls_ssl_free(&p->ssl);
	mbedtls_ssl_config_free(&p->conf);
	mbedtls_pk_free(&p->key);
	mbedtls_x509_crt_free(&p->own);
	mbedtls_x509_crt_free(&p->pin);
	mbedtls_ctr_drbg_free(&p->drbg);
	mbedtls_entropy_free(&p->entropy);
}

/* the files and the client settings: mutual TLS 1.2-1.3, the node's
 * certificate as the only anchor; 0 or -1 with err */
static int
push_tls_setup(struct push_tls *p, const char *pinned_cert,
    const char *client_cert, const char *client_key, char *err, size_t errlen)
{
	int rc;

	if ((rc = mbedtls_ctr_drbg_seed(&p->drbg, mbedtls_entropy_func,
	    &p->entropy, (const unsigned char *)"acctd push", 10)) != 0) {
		push_tls_err(err, errlen, "random", rc);
		return -1;
	}
	if ((rc = mbedtls_x509_crt_parse_file(&p->pin, pinned_cert)) != 0) {
		push_tls_err(err, errlen, pinned_cert, rc);
		return -1;
	}
	if ((rc = mbedtls_x509_crt_parse_file(&p->own, client_cert)) != 0) {
		push_tls_err(err, errlen, client_cert, rc);
		return -1;
	}
	if ((rc = mbedtls_pk_parse_keyfile(&p->key, client_key, NULL,
	    mbedtls_ctr_drbg_random, &p->drbg)) != 0) {
		push_tls_err(err, errlen, client_key, rc);
		return -1;
	}
	if ((rc = mbedtls_ssl_config_defaults(&p->conf, MBEDTLS_SSL_IS_CLIENT,
	    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT)) != 0) {
		push_tls_err(err, errlen, "tls config", rc);
		return -1;
	}
	mbedtls_ssl_conf_authmode(&p->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&p->conf, &p->pin, NULL);
	mbedtls_ssl_conf_rng(&p->conf, mbedtls_ctr_drbg_random, &p->drbg);
	mbedtls_ssl_conf_read_timeout(&p->conf, PUSH_TLS_TIMEOUT_MS);
	/* 1.3 where the agent has it; one request per connection, so no
	 * tickets (a 1.3 ticket the agent might send is read and dropped) */
	mbedtls_ssl_conf_min_tls_version(&p->conf, MBEDTLS_SSL_VERSION_TLS1_2);
	mbedtls_ssl_conf_max_tls_version(&p->conf, MBEDTLS_SSL_VERSION_TLS1_3);
	mbedtls_ssl_conf_session_tickets(&p->conf, MBEDTLS_SSL_SESSION_TICKETS_DISABLED);
	if ((rc = mbedtls_ssl_conf_own_cert(&p->conf, &p->own, &p->key)) != 0 ||
	    (rc = mbedtls_ssl_setup(&p->ssl, &p->conf)) != 0 ||
	    /* the pinned certificate is the only anchor; no name check beyond
	     * it (3.6 wants that said: without a hostname, VERIFY_REQUIRED
	     * fails) */
	    (rc = mbedtls_ssl_set_hostname(&p->ssl, NULL)) != 0) {
		push_tls_err(err, errlen, "tls setup", rc);
		return -1;
	}
	return 0;
}

/* connect and handshake; the node must present exactly the pinned
 * certificate. 0 or -1 with err */
static int
push_tls_handshake(struct push_tls *p, const char *host, const char *port,
    char *err, size_t errlen)
{
	const mbedtls_x509_crt *peer;
	int rc;

	if ((p->net.fd = push_tls_connect(host, port, err, errlen)) == -1)
		return -1;
	mbedtls_ssl_set_bio(&p->ssl, &p->net, mbedtls_net_send, NULL,
	    mbedtls_net_recv_timeout);
	while ((rc = mbedtls_ssl_handshake(&p->ssl)) != 0) {
		if (rc != MBEDTLS_ERR_SSL_WANT_READ && rc != MBEDTLS_ERR_SSL_WANT_WRITE) {
			push_tls_err(err, errlen, "handshake", rc);
			return -1;
		}
	}
	peer = mbedtls_ssl_get_peer_cert(&p->ssl);
	if (peer == NULL || peer->raw.len != p->pin.raw.len ||
	    memcmp(peer->raw.p, p->pin.raw.p, p->pin.raw.len) != 0) {
		snprintf(err, errlen, "the node's certificate is not the pinned one");
		return -1;
	}
	return 0;
}

static int
push_tls_write(struct push_tls *p, const char *req, size_t len, char *err,
    size_t errlen)
{
	int rc;

	for (size_t off = 0; off < len;) {
		rc = mbedtls_ssl_write(&p->ssl, (const unsigned char *)req + off, len - off);
		if (rc == MBEDTLS_ERR_SSL_WANT_WRITE || rc == MBEDTLS_ERR_SSL_WANT_READ)
			continue;
		if (rc < 0) {
			push_tls_err(err, errlen, "write", rc);
			return -1;
		}
		off += (size_t)rc;
	}
	return 0;
}

/* the whole answer (until the agent closes), NUL-terminated, cut to resplen */
static int
push_tls_read(struct push_tls *p, char *resp, size_t resplen, char *err,
    size_t errlen)
{
	size_t used = 0;
	int rc;

	while (used + 1 < resplen) {
		rc = mbedtls_ssl_read(&p->ssl, (unsigned char *)resp + used, resplen - 1 - used);
		if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE ||
		    rc == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
			continue;
		if (rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || rc == MBEDTLS_ERR_NET_CONN_RESET)
			break;
		if (rc < 0) {
			push_tls_err(err, errlen, "read", rc);
			return -1;
		}
		used += (size_t)rc;
	}
	resp[used] = '\0';
	return 0;
}

/* "HTTP/1.x NNN …\r\n…\r\n\r\nbody" -> *status, and resp becomes the body */
static int
push_tls_answer(char *resp, int *status, char *err, size_t errlen)
{
	char *b;

	if (sscanf(resp, "HTTP/1.%*d %d", status) != 1) {
		snprintf(err, errlen, "no HTTP answer from the agent");
		return -1;
	}
	if ((b = strstr(resp, "\r\n\r\n")) != NULL)
		memmove(resp, b + 4, strlen(b + 4) + 1);
	else
		resp[0] = '\0';
	return 0;
}

int
push_tls_post(const char *url, const char *pinned_cert, const char *client_cert,
    const char *client_key, const char *path, const char *body, int *status,
    char *resp, size_t resplen, char *err, size_t errlen)
{
	struct push_tls p;
	char host[256], port[16], *req = NULL;
	int ret = -1;

	*status = 0;
	resp[0] = '\0';
	push_tls_init(&p);
	if (push_tls_split_url(url, host, sizeof(host), port, sizeof(port)) == -1) {
		snprintf(err, errlen, "bad node url %s", url);
		goto done;
	}
	if (push_tls_setup(&p, pinned_cert, client_cert, client_key, err, errlen) == -1 ||
	    push_tls_handshake(&p, host, port, err, errlen) == -1)
		goto done;
	req = x_asprintf("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n%s", path, host, strlen(body), body);
	if (push_tls_write(&p, req, strlen(req), err, errlen) == -1 ||
	    push_tls_read(&p, resp, resplen, err, errlen) == -1 ||
	    push_tls_answer(resp, status, err, errlen) == -1)
		goto done;
	mbedtls_ssl_close_notify(&p.ssl);
	ret = 0;
done:
	if (req != NULL) {
		crypto_wipe(req, strlen(req));
		free(req);
	}
	push_tls_free(&p);
	return ret;
}

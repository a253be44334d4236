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

/* non-blocking connect with a deadline, then back to blocking */
static int
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

int
push_tls_post(const char *url, const char *pinned_cert, const char *client_cert,
    const char *client_key, const char *path, const char *body, int *status,
    char *resp, size_t resplen, char *err, size_t errlen)
{
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_ssl_config conf;
	mbedtls_ssl_context ssl;
	mbedtls_x509_crt pin, own;
	mbedtls_pk_context key;
	mbedtls_net_context net;
	const mbedtls_x509_crt *peer;
	char host[256], port[16], *req = NULL;
	size_t used = 0, reqlen;
	int rc, ret = -1;

	*status = 0;
	resp[0] = '\0';
	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&drbg);
	mbedtls_ssl_config_init(&conf);
	mbedtls_ssl_init(&ssl);
	mbedtls_x509_crt_init(&pin);
	mbedtls_x509_crt_init(&own);
	mbedtls_pk_init(&key);
	mbedtls_net_init(&net);
	if (push_tls_split_url(url, host, sizeof(host), port, sizeof(port)) == -1) {
		snprintf(err, errlen, "bad node url %s", url);
		goto done;
	}
	if ((rc = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy,
	    (const unsigned char *)"acctd push", 10)) != 0) {
		push_tls_err(err, errlen, "random", rc);
		goto done;
	}
	if ((rc = mbedtls_x509_crt_parse_file(&pin, pinned_cert)) != 0) {
		push_tls_err(err, errlen, pinned_cert, rc);
		goto done;
	}
	if ((rc = mbedtls_x509_crt_parse_file(&own, client_cert)) != 0) {
		push_tls_err(err, errlen, client_cert, rc);
		goto done;
	}
	if ((rc = mbedtls_pk_parse_keyfile(&key, client_key, NULL,
	    mbedtls_ctr_drbg_random, &drbg)) != 0) {
		push_tls_err(err, errlen, client_key, rc);
		goto done;
	}
	if ((rc = mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_CLIENT,
	    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT)) != 0) {
		push_tls_err(err, errlen, "tls config", rc);
		goto done;
	}
	mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&conf, &pin, NULL);
	mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg);
	mbedtls_ssl_conf_read_timeout(&conf, PUSH_TLS_TIMEOUT_MS);
	/* 1.3 where the agent has it; one request per connection, so no
	 * tickets (a 1.3 ticket the agent might send is read and dropped) */
	mbedtls_ssl_conf_min_tls_version(&conf, MBEDTLS_SSL_VERSION_TLS1_2);
	mbedtls_ssl_conf_max_tls_version(&conf, MBEDTLS_SSL_VERSION_TLS1_3);
	mbedtls_ssl_conf_session_tickets(&conf, MBEDTLS_SSL_SESSION_TICKETS_DISABLED);
	if ((rc = mbedtls_ssl_conf_own_cert(&conf, &own, &key)) != 0 ||
	    (rc = mbedtls_ssl_setup(&ssl, &conf)) != 0) {
		push_tls_err(err, errlen, "tls setup", rc);
		goto done;
	}
	net.fd = push_tls_connect(host, port, err, errlen);
	if (net.fd == -1)
		goto done;
	mbedtls_ssl_set_bio(&ssl, &net, mbedtls_net_send, NULL, mbedtls_net_recv_timeout);
	/* the pinned certificate is the only anchor; no name check beyond it
	 * (3.6 wants that said: without a hostname, VERIFY_REQUIRED fails) */
	if ((rc = mbedtls_ssl_set_hostname(&ssl, NULL)) != 0) {
		push_tls_err(err, errlen, "tls setup", rc);
		goto done;
	}
	while ((rc = mbedtls_ssl_handshake(&ssl)) != 0) {
		if (rc != MBEDTLS_ERR_SSL_WANT_READ && rc != MBEDTLS_ERR_SSL_WANT_WRITE) {
			push_tls_err(err, errlen, "handshake", rc);
			goto done;
		}
	}
	peer = mbedtls_ssl_get_peer_cert(&ssl);
	if (peer == NULL || peer->raw.len != pin.raw.len ||
	    memcmp(peer->raw.p, pin.raw.p, pin.raw.len) != 0) {
		snprintf(err, errlen, "the node's certificate is not the pinned one");
		goto done;
	}
	req = x_asprintf("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n%s", path, host, strlen(body), body);
	reqlen = strlen(req);
	for (size_t off = 0; off < reqlen;) {
		rc = mbedtls_ssl_write(&ssl, (const unsigned char *)req + off, reqlen - off);
		if (rc == MBEDTLS_ERR_SSL_WANT_WRITE || rc == MBEDTLS_ERR_SSL_WANT_READ)
			continue;
		if (rc < 0) {
			push_tls_err(err, errlen, "write", rc);
			goto done;
		}
		off += (size_t)rc;
	}
	while (used + 1 < resplen) {
		rc = mbedtls_ssl_read(&ssl, (unsigned char *)resp + used, resplen - 1 - used);
		if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE ||
		    rc == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
			continue;
		if (rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || rc == MBEDTLS_ERR_NET_CONN_RESET)
			break;
		if (rc < 0) {
			push_tls_err(err, errlen, "read", rc);
			goto done;
		}
		used += (size_t)rc;
	}
	resp[used] = '\0';
	if (sscanf(resp, "HTTP/1.%*d %d", status) != 1) {
		snprintf(err, errlen, "no HTTP answer from the agent");
		goto done;
	}
	{
		char *b = strstr(resp, "\r\n\r\n");

		if (b != NULL)
			memmove(resp, b + 4, strlen(b + 4) + 1);
		else
			resp[0] = '\0';
	}
	mbedtls_ssl_close_notify(&ssl);
	ret = 0;
done:
	if (req != NULL) {
		crypto_wipe(req, strlen(req));
		free(req);
	}
	mbedtls_net_free(&net);
	mbedtls_ssl_free(&ssl);
	mbedtls_ssl_config_free(&conf);
	mbedtls_pk_free(&key);
	mbedtls_x509_crt_free(&own);
	mbedtls_x509_crt_free(&pin);
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&entropy);
	return ret;
}

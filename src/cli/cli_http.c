/*
 * cli_http.c — acctd-cli's HTTPS client, its only user of mbedTLS's TLS
 * layer: one connection per request (a command makes two or three),
 * HTTP/1.1 with Connection: close.
 *
 * The server is verified or nothing is sent: the pinned certificate
 * (ACCTD_CA, --ca) is the only trust anchor (a self-signed certificate is
 * its own anchor), and the certificate's names must cover the URL's host
 * (mbedTLS checks DNS and IP subjectAltNames). The token goes out only
 * after the handshake verified, and the request buffer that held it is
 * wiped.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "cli.h"

#define CLI_HTTP_TIMEOUT_MS 30000
#define CLI_HTTP_MAX_ANSWER (4 * 1024 * 1024)

int
cli_http_url(const char *url, struct cli_target *t, char *err, size_t errlen)
{
	const char *h, *colon, *end;
	size_t hl;

	if (url == NULL || strncmp(url, "https://", 8) != 0) {
		snprintf(err, errlen, "ACCTD_URL must begin with https://");
		return -1;
	}
	h = url + 8;
	end = h + strcspn(h, "/");
	if (*end == '/' && end[1] != '\0') {
		snprintf(err, errlen, "ACCTD_URL must have no path: https://host[:port]");
		return -1;
	}
	colon = memchr(h, ':', (size_t)(end - h));
	hl = (size_t)((colon ? colon : end) - h);
	if (hl == 0 || hl >= sizeof(t->host) ||
	    (colon && (end - colon - 1 < 1 || end - colon - 1 > 5 ||
	    strspn(colon + 1, "0123456789") < (size_t)(end - colon - 1)))) {
		snprintf(err, errlen, "ACCTD_URL: expected https://host[:port]");
		return -1;
	}
	memcpy(t->host, h, hl);
	t->host[hl] = '\0';
	if (colon)
		snprintf(t->port, sizeof(t->port), "%.*s", (int)(end - colon - 1), colon + 1);
	else
		snprintf(t->port, sizeof(t->port), "443");
	return 0;
}

static int
cli_http_rng(void *p, unsigned char *buf, size_t len)
{
	(void)p;
	return crypto_random(buf, len) == 0 ? 0 : MBEDTLS_ERR_SSL_INTERNAL_ERROR;
}

struct cli_tls {
	int fd;                    /* -1: not connected */
	mbedtls_ssl_config conf;
	mbedtls_ssl_context ssl;
	mbedtls_x509_crt ca;
};

static void
cli_tls_err(int rc, const char *what, char *err, size_t errlen)
{
	char buf[128];

	mbedtls_strerror(rc, buf, sizeof(buf));
	snprintf(err, errlen, "%s: %s", what, buf);
}

static int
cli_tls_conf(struct cli_tls *c, const struct cli_target *t, char *err, size_t errlen)
{
	int rc;

	if ((rc = mbedtls_x509_crt_parse_file(&c->ca, t->ca)) != 0) {
		cli_tls_err(rc, t->ca, err, errlen);
		return -1;
	}
	if ((rc = mbedtls_ssl_config_defaults(&c->conf, MBEDTLS_SSL_IS_CLIENT,
	    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT)) != 0) {
		cli_tls_err(rc, "TLS setup", err, errlen);
		return -1;
	}
	mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&c->conf, &c->ca, NULL);
	mbedtls_ssl_conf_rng(&c->conf, cli_http_rng, NULL);
	mbedtls_ssl_conf_min_tls_version(&c->conf, MBEDTLS_SSL_VERSION_TLS1_2);
	mbedtls_ssl_conf_max_tls_version(&c->conf, MBEDTLS_SSL_VERSION_TLS1_3);
	mbedtls_ssl_conf_session_tickets(&c->conf, MBEDTLS_SSL_SESSION_TICKETS_DISABLED);
	return 0;
}

/*
 * A TCP connection to the URL's host: an IP address or a name in
 * /etc/hosts (addr_resolve, as acctd reaches its nodes), else, except in
 * the static ARM builds (CLI_NO_NSS: glibc's resolver would need NSS
 * modules the box does not have), a DNS name through mbedTLS.
 */
static int
cli_tls_connect(struct cli_tls *c, const struct cli_target *t, char *err, size_t errlen)
{
	struct sockaddr_storage ss[4];
	socklen_t lens[4];
	int n = addr_resolve(t->host, (unsigned)atoi(t->port), ss, lens, 4), e = 0;

	for (int i = 0; i < n; i++) {
		int fd = socket(ss[i].ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd != -1 && connect(fd, (struct sockaddr *)&ss[i], lens[i]) == 0) {
			c->fd = fd;
			return 0;
		}
		e = errno;
		if (fd != -1)
			close(fd);
	}
	if (n > 0) {
		snprintf(err, errlen, "connect %s:%s: %s", t->host, t->port, strerror(e));
		return -1;
	}
#ifdef CLI_NO_NSS
	snprintf(err, errlen, "connect %s:%s: not an IP address and not in /etc/hosts "
	    "(this static build does not ask DNS)", t->host, t->port);
	return -1;
#else
	mbedtls_net_context net;

	mbedtls_net_init(&net);
	if ((n = mbedtls_net_connect(&net, t->host, t->port, MBEDTLS_NET_PROTO_TCP)) != 0) {
		char what[300];

		snprintf(what, sizeof(what), "connect %s:%s", t->host, t->port);
		cli_tls_err(n, what, err, errlen);
		return -1;
	}
	c->fd = net.fd;
	return 0;
#endif
}

/* the TLS layer's I/O on c->fd: a blocking send, a receive that waits at
 * most CLI_HTTP_TIMEOUT_MS */
static int
cli_tls_send(void *ctx, const unsigned char *buf, size_t len)
{
	ssize_t n = send(((struct cli_tls *)ctx)->fd, buf, len, MSG_NOSIGNAL);

	if (n >= 0)
		return (int)n;
	return errno == EINTR ? MBEDTLS_ERR_SSL_WANT_WRITE : MBEDTLS_ERR_NET_SEND_FAILED;
}

static int
cli_tls_recv(void *ctx, unsigned char *buf, size_t len)
{
	struct pollfd pfd = { .fd = ((struct cli_tls *)ctx)->fd, .events = POLLIN };
	ssize_t n;

	if (poll(&pfd, 1, CLI_HTTP_TIMEOUT_MS) == 0)
		return MBEDTLS_ERR_SSL_TIMEOUT;
	n = recv(pfd.fd, buf, len, 0);
	if (n >= 0)
		return (int)n;
	return errno == EINTR ? MBEDTLS_ERR_SSL_WANT_READ : MBEDTLS_ERR_NET_RECV_FAILED;
}

/* connect and verify the server: 0, or -1 with why in err */
static int
cli_tls_open(struct cli_tls *c, const struct cli_target *t, char *err, size_t errlen)
{
	int rc;

	if (cli_tls_conf(c, t, err, errlen) == -1 || cli_tls_connect(c, t, err, errlen) == -1)
		return -1;
	if ((rc = mbedtls_ssl_setup(&c->ssl, &c->conf)) != 0 ||
	    (rc = mbedtls_ssl_set_hostname(&c->ssl, t->host)) != 0) {
		cli_tls_err(rc, "TLS setup", err, errlen);
		return -1;
	}
	mbedtls_ssl_set_bio(&c->ssl, c, cli_tls_send, cli_tls_recv, NULL);
	while ((rc = mbedtls_ssl_handshake(&c->ssl)) != 0) {
		if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE)
			continue;
		if (mbedtls_ssl_get_verify_result(&c->ssl) != 0)
			snprintf(err, errlen, "%s:%s: the server's certificate does not verify "
			    "with %s (not the pinned certificate, or not for this host)",
			    t->host, t->port, t->ca);
		else
			cli_tls_err(rc, "TLS handshake", err, errlen);
		return -1;
	}
	return 0;
}

static void
cli_tls_close(struct cli_tls *c)
{
	mbedtls_ssl_close_notify(&c->ssl);
	if (c->fd != -1)
		close(c->fd);
	mbedtls_ssl_free(&c->ssl);
	mbedtls_ssl_config_free(&c->conf);
	mbedtls_x509_crt_free(&c->ca);
}

static int
cli_tls_write(struct cli_tls *c, const char *buf, size_t len)
{
	while (len > 0) {
		int rc = mbedtls_ssl_write(&c->ssl, (const unsigned char *)buf, len);

		if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE)
			continue;
		if (rc < 0)
			return -1;
		buf += rc;
		len -= (size_t)rc;
	}
	return 0;
}

/* the whole answer, up to the server's close; caller frees *out */
static int
cli_tls_read_all(struct cli_tls *c, char **out, size_t *outlen)
{
	size_t len = 0, cap = 16384;
	char *buf = x_malloc(cap + 1);

	for (;;) {
		int rc;

		if (len == cap) {
			if (cap >= CLI_HTTP_MAX_ANSWER)
				goto fail;
			cap *= 2;
			buf = x_realloc(buf, cap + 1);
		}
		rc = mbedtls_ssl_read(&c->ssl, (unsigned char *)buf + len, cap - len);
		if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE)
			continue;
		if (rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
			break;
		if (rc < 0)
			goto fail;
		len += (size_t)rc;
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	return 0;
fail:
	crypto_wipe(buf, len);
	free(buf);
	return -1;
}

/* the status and the JSON body of an HTTP/1.1 answer with Content-Length
 * or read to the close (acctd's JSON answers are not chunked) */
static int
cli_http_parse(const char *a, size_t len, int *status, struct json **out,
    char *err, size_t errlen)
{
	const char *body = strstr(a, "\r\n\r\n");
	char perr[64];

	*out = NULL;
	if (strncmp(a, "HTTP/1.1 ", 9) != 0 || body == NULL ||
	    sscanf(a + 9, "%3d", status) != 1) {
		snprintf(err, errlen, "the server's answer is not HTTP/1.1");
		return -1;
	}
	body += 4;
	if ((size_t)(body - a) == len)
		return 0;
	if (json_parse(body, len - (size_t)(body - a), out, perr, sizeof(perr)) == -1) {
		snprintf(err, errlen, "HTTP %d with a body that is not JSON (%s)", *status, perr);
		return -1;
	}
	return 0;
}

int
cli_http_request(const struct cli_target *t, const char *method, const char *path,
    const char *body, int *status, struct json **out, char *err, size_t errlen)
{
	struct cli_tls c;
	char *req = NULL, *ans = NULL;
	size_t reqlen = 0, anslen = 0;
	FILE *f;
	int rc = -1;

	memset(&c, 0, sizeof(c));
	c.fd = -1;
	mbedtls_ssl_init(&c.ssl);
	mbedtls_ssl_config_init(&c.conf);
	mbedtls_x509_crt_init(&c.ca);
	if (cli_tls_open(&c, t, err, errlen) == -1)
		goto done;
	if ((f = open_memstream(&req, &reqlen)) == NULL)
		fatal("open_memstream");
	fprintf(f, "%s %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
	    "Accept: application/json\r\nUser-Agent: acctd-cli/%s\r\nConnection: close\r\n",
	    method, path, t->host, t->token, ACCTD_VERSION);
	if (body != NULL)
		fprintf(f, "Content-Type: application/json\r\nContent-Length: %zu\r\n",
		    strlen(body));
	fprintf(f, "\r\n%s", body ? body : "");
	fclose(f);
	if (cli_tls_write(&c, req, reqlen) == -1 || cli_tls_read_all(&c, &ans, &anslen) == -1) {
		snprintf(err, errlen, "%s:%s: the connection broke", t->host, t->port);
		goto done;
	}
	rc = cli_http_parse(ans, anslen, status, out, err, errlen);
done:
	if (req != NULL)
		crypto_wipe(req, reqlen);
	free(req);
	if (ans != NULL)
		crypto_wipe(ans, anslen);
	free(ans);
	cli_tls_close(&c);
	return rc;
}

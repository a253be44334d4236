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
 *
 * The files are read at start, as root, before the privilege drop (the
 * client key is usually root's), and again on SIGHUP (push_tls_load): a
 * push holds references to the pair and the pin it started with, so a
 * reload never frees them under it; a file that fails to load on a reload
 * is logged and the previous one stays.
 */
#include <errno.h>
#include <fcntl.h>
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

static struct cred *push_tls_client;	/* push.client_cert/key (a slot) */
static struct push_tls_pin {
	char node[64];
	char setting[48];		/* "nodes[2].cert" */
	struct cred *cred;		/* a slot */
} *push_tls_pins;			/* the nodes of the start */
static size_t push_tls_npins;

/* one file set of a load: the slot keeps its old value on failure */
static int
push_tls_load_one(struct cred **slot, const char *cert, const char *key,
    const char *cert_name, const char *key_name, int reload, char *err,
    size_t errlen)
{
	struct cred *c, *old;

	if (cred_load(cert, key, cert_name, key_name, &c, err, errlen) == -1 ||
	    (reload && cred_check_time(c, cert_name, err, errlen) == -1)) {
		cred_unref(c);
		if (reload)
			log_warnx("reload: %s; pushes keep the previous one%s", err,
			    strstr(err, "permission denied") ? " (the key must be "
			    "readable by acctd's user for a reload: chown it)" : "");
		return -1;
	}
	old = cred_slot_get(slot);
	if (reload && (old == NULL || !cred_same(old, c)))
		log_info("reload: %s %s loaded", cert_name, cert);
	cred_unref(old);
	cred_slot_set(slot, c);
	return 0;
}

int
push_tls_load(const struct conf *c, int reload, char *err, size_t errlen)
{
	int rc = 0;

	if (!reload) {
		push_tls_npins = c->nnodes;
		push_tls_pins = x_calloc(c->nnodes + 1, sizeof(*push_tls_pins));
	}
	if (c->push_client_cert[0] != '\0' &&
	    push_tls_load_one(&push_tls_client, c->push_client_cert,
	    c->push_client_key, "push.client_cert", "push.client_key", reload,
	    err, errlen) == -1 && !reload)
		return -1;
	for (size_t i = 0; i < c->nnodes; i++) {
		struct push_tls_pin *p = NULL;

		for (size_t k = 0; k < push_tls_npins; k++)
			if (reload ? strcmp(push_tls_pins[k].node,
			    c->nodes[i].name) == 0 : k == i)
				p = &push_tls_pins[k];
		if (p == NULL)
			continue;	/* a new node: its thread starts at the restart */
		if (!reload) {	/* the push threads read these from now on */
			snprintf(p->node, sizeof(p->node), "%s", c->nodes[i].name);
			snprintf(p->setting, sizeof(p->setting), "nodes[%zu].cert", i);
		}
		if (push_tls_load_one(&p->cred, c->nodes[i].cert, NULL, p->setting,
		    NULL, reload, err, errlen) == -1 && !reload)
			return -1;
	}
	return rc;
}

void
push_tls_shutdown(void)
{
	cred_slot_set(&push_tls_client, NULL);
	for (size_t i = 0; i < push_tls_npins; i++)
		cred_slot_set(&push_tls_pins[i].cred, NULL);
	free(push_tls_pins);
	push_tls_pins = NULL;
	push_tls_npins = 0;
}

static void
push_tls_expiry(FILE *f, const char *label, const char *name, struct cred **slot)
{
	struct cred *c = cred_slot_get(slot);

	if (c != NULL)
		fprintf(f, "acctd_tls_cert_expiry_seconds{cert=\"%s%s\"} %lld\n",
		    label, name, (long long)(cred_not_after(c) - app_now()));
	cred_unref(c);
}

void
push_tls_metrics(FILE *f)
{
	push_tls_expiry(f, "push_client", "", &push_tls_client);
	for (size_t i = 0; i < push_tls_npins; i++)
		push_tls_expiry(f, "node:", push_tls_pins[i].node,
		    &push_tls_pins[i].cred);
}

/* "https://host:port" -> host, port */
static int
push_tls_split_url(const char *url, struct addr *a)
{
	return strncmp(url, "https://", 8) != 0 || addr_split(url + 8, a) != 0 ?
	    -1 : 0;
}

#define PUSH_TLS_MAX_ADDRS 4

/* non-blocking connect with a deadline to one address, then blocking */
static int
push_tls_connect_one(const struct sockaddr_storage *ss, socklen_t len,
    const struct addr *a, char *err, size_t errlen)
{
	struct pollfd pfd;
	int fd, soerr = 0;
	socklen_t sl = sizeof(soerr);

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (const struct sockaddr *)ss, len) == 0)
		goto done;
	if (errno == EINPROGRESS) {
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, PUSH_TLS_TIMEOUT_MS) == 1 &&
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 &&
		    soerr == 0)
			goto done;
		snprintf(err, errlen, "connect %s:%u: %s", a->host, a->port,
		    soerr ? strerror(soerr) : "timed out");
	} else {
		snprintf(err, errlen, "connect %s:%u: %s", a->host, a->port,
		    strerror(errno));
	}
	close(fd);
	return -1;
done:
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

/* the node's addresses (addr_resolve: an IP address or /etc/hosts, no
 * NSS), tried in order (forward_conn.c connects to the SIEM collector with
 * it too) */
int
push_tls_connect(const struct addr *a, char *err, size_t errlen)
{
	struct sockaddr_storage ss[PUSH_TLS_MAX_ADDRS];
	socklen_t lens[PUSH_TLS_MAX_ADDRS];
	int n, fd = -1;

	n = addr_resolve(a->host, a->port, ss, lens, PUSH_TLS_MAX_ADDRS);
	if (n == 0)
		snprintf(err, errlen, "%s: not an IP address and not in "
		    "/etc/hosts", a->host);
	for (int i = 0; i < n && fd == -1; i++)
		fd = push_tls_connect_one(&ss[i], lens[i], a, err, errlen);
	return fd;
}

static void
push_tls_err(char *err, size_t errlen, const char *what, int rc)
{
	char buf[128];

	mbedtls_strerror(rc, buf, sizeof(buf));
	snprintf(err, errlen, "%s: %s", what, buf);
}

/* one push connection's mbedTLS state, and its references */
struct push_tls {
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_ssl_config conf;
	mbedtls_ssl_context ssl;
	struct cred *pin, *own;
	const char *pin_setting;	/* "nodes[2].cert" */
	mbedtls_net_context net;
};

static void
push_tls_init(struct push_tls *p)
{
	mbedtls_entropy_init(&p->entropy);
	mbedtls_ctr_drbg_init(&p->drbg);
	mbedtls_ssl_config_init(&p->conf);
	mbedtls_ssl_init(&p->ssl);
	p->pin = p->own = NULL;
	p->pin_setting = "";
	mbedtls_net_init(&p->net);
}

static void
push_tls_free(struct push_tls *p)
{
	mbedtls_net_free(&p->net);
	mbedtls_ssl_free(&p->ssl);
	mbedtls_ssl_config_free(&p->conf);
	cred_unref(p->own);
	cred_unref(p->pin);
	mbedtls_ctr_drbg_free(&p->drbg);
	mbedtls_entropy_free(&p->entropy);
}

int
push_tls_client_conf(struct mbedtls_ssl_config *conf,
    struct mbedtls_ctr_drbg_context *drbg, struct mbedtls_entropy_context *entropy,
    const char *pers, struct mbedtls_x509_crt *anchors, char *err, size_t errlen)
{
	int rc;

	if ((rc = mbedtls_ctr_drbg_seed(drbg, mbedtls_entropy_func, entropy,
	    (const unsigned char *)pers, strlen(pers))) != 0) {
		push_tls_err(err, errlen, "random", rc);
		return -1;
	}
	if ((rc = mbedtls_ssl_config_defaults(conf, MBEDTLS_SSL_IS_CLIENT,
	    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT)) != 0) {
		push_tls_err(err, errlen, "tls config", rc);
		return -1;
	}
	mbedtls_ssl_conf_authmode(conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(conf, anchors, NULL);
	mbedtls_ssl_conf_rng(conf, mbedtls_ctr_drbg_random, drbg);
	/* 1.3 where the peer has it; no tickets (a push is one request per
	 * connection, the forwarder's one connection lasts): a 1.3 ticket
	 * the peer sends anyway is read and dropped */
	mbedtls_ssl_conf_min_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_2);
	mbedtls_ssl_conf_max_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_3);
	mbedtls_ssl_conf_session_tickets(conf, MBEDTLS_SSL_SESSION_TICKETS_DISABLED);
	return 0;
}

/* the client settings: mutual TLS 1.2-1.3, the node's certificate as the
 * only anchor; 0 or -1 with err */
static int
push_tls_setup(struct push_tls *p, const char *node, char *err, size_t errlen)
{
	int rc;

	for (size_t i = 0; i < push_tls_npins; i++)
		if (strcmp(push_tls_pins[i].node, node) == 0) {
			p->pin = cred_slot_get(&push_tls_pins[i].cred);
			p->pin_setting = push_tls_pins[i].setting;
		}
	p->own = cred_slot_get(&push_tls_client);
	if (p->pin == NULL || p->own == NULL) {
		snprintf(err, errlen, p->own == NULL ? "push.client_cert and "
		    "push.client_key are not set" : "node %s has no certificate "
		    "loaded (added by a reload? restart acctd)", node);
		return -1;
	}
	if (push_tls_client_conf(&p->conf, &p->drbg, &p->entropy, "acctd push",
	    cred_crt(p->pin), err, errlen) == -1)
		return -1;
	mbedtls_ssl_conf_read_timeout(&p->conf, PUSH_TLS_TIMEOUT_MS);
	if ((rc = mbedtls_ssl_conf_own_cert(&p->conf, cred_crt(p->own),
	    cred_key(p->own))) != 0 ||
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
push_tls_handshake(struct push_tls *p, const struct addr *a, char *err,
    size_t errlen)
{
	const mbedtls_x509_crt *peer, *pin;
	int rc;

	if ((p->net.fd = push_tls_connect(a, err, errlen)) == -1)
		return -1;
	mbedtls_ssl_set_bio(&p->ssl, &p->net, mbedtls_net_send, NULL,
	    mbedtls_net_recv_timeout);
	while ((rc = mbedtls_ssl_handshake(&p->ssl)) != 0) {
		if (rc == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
			snprintf(err, errlen, "handshake: the node's certificate "
			    "is not the one in %s", p->pin_setting);
			return -1;
		}
		if (rc != MBEDTLS_ERR_SSL_WANT_READ && rc != MBEDTLS_ERR_SSL_WANT_WRITE) {
			push_tls_err(err, errlen, "handshake", rc);
			return -1;
		}
	}
	pin = cred_crt(p->pin);
	peer = mbedtls_ssl_get_peer_cert(&p->ssl);
	if (peer == NULL || peer->raw.len != pin->raw.len ||
	    memcmp(peer->raw.p, pin->raw.p, pin->raw.len) != 0) {
		snprintf(err, errlen, "the node's certificate is not the one in %s",
		    p->pin_setting);
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
push_tls_post(const char *node, const char *url, const char *path,
    const char *body, int *status, char *resp, size_t resplen, char *err,
    size_t errlen)
{
	struct push_tls p;
	struct addr a;
	char *req = NULL;
	const char *host;
	int ret = -1;

	*status = 0;
	resp[0] = '\0';
	push_tls_init(&p);
	if (push_tls_split_url(url, &a) == -1) {
		snprintf(err, errlen, "bad node url %s", url);
		goto done;
	}
	host = a.host;
	if (push_tls_setup(&p, node, err, errlen) == -1 ||
	    push_tls_handshake(&p, &a, err, errlen) == -1)
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

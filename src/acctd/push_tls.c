/*
 * push_tls.c — the push client: one HTTPS POST to a workspace node's
 * acctd-agent (push.c's only way out), TLS 1.3 or 1.2 (the project's mbedTLS
 * config: ECDHE + AEAD, P-256/X25519), with
 *   - the node's certificate pinned: it is the only trust anchor, and the
 *     peer's certificate must equal it byte for byte (checked inside the
 *     handshake by push_tls_verify, so no session is ever kept from a node
 *     that is not the pinned one);
 *   - acctd's client certificate (push.client_cert/key) for the agent to pin.
 * One request per connection; connect and every read time out, so a dead
 * node costs its push thread a few seconds, never a handler anything.
 * (The HTTPS server's TLS settings are http_tls.c's.)
 *
 * What a push costs (issue 12, docs/agent.md "Resumption"): each node keeps,
 * from its first push on, a CTR_DRBG seeded once (it reseeds itself at
 * CTR_DRBG's interval), an mbedtls_ssl_config built for the pin and client
 * pair it holds (rebuilt when a SIGHUP put other ones in the slots), and the
 * last TLS 1.3 session (ticket) the node gave: the next push offers it, so
 * the agent skips its certificate and both sides skip the signatures
 * (psk_dhe_ke: a fresh ECDHE still runs, forward secrecy is kept). A session
 * belongs to the node whose pin it was made under and is dropped on any
 * failure and whenever the pin or the client pair changes. TLS 1.2 tickets
 * are not used (a 1.2 resumption has no ECDHE: no forward secrecy).
 * That state is its node's push thread's (push.c runs one per node); a
 * mutex per node keeps any other caller out.
 *
 * The files are read at start, as root, before the privilege drop (the
 * client key is usually root's), and again on SIGHUP (push_tls_load): a
 * push holds references to the pair and the pin it started with, so a
 * reload never frees them under it; a file that fails to load on a reload
 * is logged and the previous one stays.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
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
	/* the node's client state, under mtx (see the top of this file) */
	pthread_mutex_t mtx;
	int seeded;			/* drbg */
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_ssl_config conf;
	struct cred *conf_pin, *conf_own;	/* conf's (references); NULL: none */
	mbedtls_ssl_session session;
	int has_session;
	int verified;			/* this handshake verified a certificate */
	atomic_ullong full, resumed;	/* handshakes, for /metrics */
} *push_tls_pins;			/* the nodes of the start */
static size_t push_tls_npins;

static void
push_tls_node_init(struct push_tls_pin *p)
{
	pthread_mutex_init(&p->mtx, NULL);
	mbedtls_entropy_init(&p->entropy);
	mbedtls_ctr_drbg_init(&p->drbg);
	mbedtls_ssl_config_init(&p->conf);
	mbedtls_ssl_session_init(&p->session);
}

/* the kept session, if any, is gone (zeroized) */
static void
push_tls_node_forget(struct push_tls_pin *p)
{
	mbedtls_ssl_session_free(&p->session);
	mbedtls_ssl_session_init(&p->session);
	p->has_session = 0;
}

/* conf and the session with it */
static void
push_tls_node_unconf(struct push_tls_pin *p)
{
	push_tls_node_forget(p);
	mbedtls_ssl_config_free(&p->conf);
	mbedtls_ssl_config_init(&p->conf);
	cred_unref(p->conf_pin);
	cred_unref(p->conf_own);
	p->conf_pin = p->conf_own = NULL;
}

static void
push_tls_node_free(struct push_tls_pin *p)
{
	push_tls_node_unconf(p);
	mbedtls_ssl_config_free(&p->conf);
	mbedtls_ctr_drbg_free(&p->drbg);
	mbedtls_entropy_free(&p->entropy);
	pthread_mutex_destroy(&p->mtx);
}

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
			push_tls_node_init(p);
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
	for (size_t i = 0; i < push_tls_npins; i++) {
		cred_slot_set(&push_tls_pins[i].cred, NULL);
		push_tls_node_free(&push_tls_pins[i]);
	}
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
	for (size_t i = 0; i < push_tls_npins; i++)
		fprintf(f, "acctd_push_handshakes_total{node=\"%s\",kind=\"full\"} "
		    "%llu\nacctd_push_handshakes_total{node=\"%s\",kind=\"resumed\"} "
		    "%llu\n", push_tls_pins[i].node,
		    (unsigned long long)atomic_load(&push_tls_pins[i].full),
		    push_tls_pins[i].node,
		    (unsigned long long)atomic_load(&push_tls_pins[i].resumed));
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
	/* a flight of several records is not held back for an ACK */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
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

/* TLS 1.2-1.3, the peer verified against anchors only, no tickets */
static int
push_tls_conf_base(mbedtls_ssl_config *conf, mbedtls_ctr_drbg_context *drbg,
    mbedtls_x509_crt *anchors, char *err, size_t errlen)
{
	int rc;

	if ((rc = mbedtls_ssl_config_defaults(conf, MBEDTLS_SSL_IS_CLIENT,
	    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT)) != 0) {
		push_tls_err(err, errlen, "tls config", rc);
		return -1;
	}
	mbedtls_ssl_conf_authmode(conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(conf, anchors, NULL);
	mbedtls_ssl_conf_rng(conf, mbedtls_ctr_drbg_random, drbg);
	/* 1.3 where the peer has it; no TLS 1.2 tickets (no forward secrecy);
	 * a 1.3 ticket the peer sends is read and dropped unless the caller
	 * asks for it (push_tls_node_conf) */
	mbedtls_ssl_conf_min_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_2);
	mbedtls_ssl_conf_max_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_3);
	mbedtls_ssl_conf_session_tickets(conf, MBEDTLS_SSL_SESSION_TICKETS_DISABLED);
	return 0;
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
	return push_tls_conf_base(conf, drbg, anchors, err, errlen);
}

/* depth 0 must be the pinned certificate itself (p->conf_pin), inside the
 * handshake: a node that is not the pinned one never gets as far as a
 * session. Called only by full handshakes: p->verified tells them apart */
static int
push_tls_verify(void *arg, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
	struct push_tls_pin *p = arg;
	const mbedtls_x509_crt *pin = cred_crt(p->conf_pin);

	p->verified = 1;
	if (depth == 0 && (crt->raw.len != pin->raw.len ||
	    memcmp(crt->raw.p, pin->raw.p, pin->raw.len) != 0))
		*flags |= MBEDTLS_X509_BADCERT_NOT_TRUSTED;
	return 0;
}

/* p->conf for pin and own (a new one when they are not conf's: the kept
 * session goes with the old one); takes both references. 0 or -1 with err */
static int
push_tls_node_conf(struct push_tls_pin *p, struct cred *pin, struct cred *own,
    char *err, size_t errlen)
{
	int rc;

	if (p->conf_pin == pin && p->conf_own == own) {
		cred_unref(pin);
		cred_unref(own);
		return 0;
	}
	push_tls_node_unconf(p);
	p->conf_pin = pin;
	p->conf_own = own;
	if (push_tls_conf_base(&p->conf, &p->drbg, cred_crt(pin), err,
	    errlen) == -1)
		goto fail;
	/* TLS 1.3 tickets only, resumed with a fresh ECDHE (psk_dhe_ke) */
	mbedtls_ssl_conf_tls13_enable_signal_new_session_tickets(&p->conf,
	    MBEDTLS_SSL_TLS1_3_SIGNAL_NEW_SESSION_TICKETS_ENABLED);
	mbedtls_ssl_conf_tls13_key_exchange_modes(&p->conf,
	    MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_EPHEMERAL_ALL);
	mbedtls_ssl_conf_verify(&p->conf, push_tls_verify, p);
	mbedtls_ssl_conf_read_timeout(&p->conf, PUSH_TLS_TIMEOUT_MS);
	if ((rc = mbedtls_ssl_conf_own_cert(&p->conf, cred_crt(own),
	    cred_key(own))) != 0) {
		push_tls_err(err, errlen, "tls setup", rc);
		goto fail;
	}
	return 0;
fail:
	push_tls_node_unconf(p);
	return -1;
}

/* the node's state made ready for a push: its DRBG seeded (once), its conf
 * for the current pin and client pair. 0 or -1 with err */
static int
push_tls_node_ready(struct push_tls_pin *p, char *err, size_t errlen)
{
	struct cred *pin, *own;
	int rc;

	if (!p->seeded) {
		if ((rc = mbedtls_ctr_drbg_seed(&p->drbg, mbedtls_entropy_func,
		    &p->entropy, (const unsigned char *)"acctd push", 10)) != 0) {
			push_tls_err(err, errlen, "random", rc);
			return -1;
		}
		p->seeded = 1;
	}
	pin = cred_slot_get(&p->cred);
	own = cred_slot_get(&push_tls_client);
	if (pin == NULL || own == NULL) {
		snprintf(err, errlen, own == NULL ? "push.client_cert and "
		    "push.client_key are not set" : "node %s has no certificate "
		    "loaded (added by a reload? restart acctd)", p->node);
		cred_unref(pin);
		cred_unref(own);
		return -1;
	}
	return push_tls_node_conf(p, pin, own, err, errlen);
}

/* an ssl context on p->conf, offered p's session if it has one */
static int
push_tls_setup(struct push_tls_pin *p, mbedtls_ssl_context *ssl, char *err,
    size_t errlen)
{
	int rc;

	if ((rc = mbedtls_ssl_setup(ssl, &p->conf)) != 0 ||
	    /* the pinned certificate is the only anchor; no name check beyond
	     * it (3.6 wants that said: without a hostname, VERIFY_REQUIRED
	     * fails) */
	    (rc = mbedtls_ssl_set_hostname(ssl, NULL)) != 0) {
		push_tls_err(err, errlen, "tls setup", rc);
		return -1;
	}
	if (p->has_session && mbedtls_ssl_set_session(ssl, &p->session) != 0)
		push_tls_node_forget(p);
	return 0;
}

/* connect and handshake; the node must present exactly the pinned
 * certificate (a resumed session was made with it). 0 or -1 with err */
static int
push_tls_handshake(struct push_tls_pin *p, mbedtls_ssl_context *ssl,
    mbedtls_net_context *net, const struct addr *a, char *err, size_t errlen)
{
	const mbedtls_x509_crt *peer, *pin = cred_crt(p->conf_pin);
	int rc;

	if ((net->fd = push_tls_connect(a, err, errlen)) == -1)
		return -1;
	mbedtls_ssl_set_bio(ssl, net, mbedtls_net_send, NULL,
	    mbedtls_net_recv_timeout);
	p->verified = 0;
	while ((rc = mbedtls_ssl_handshake(ssl)) != 0) {
		if (rc == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
			snprintf(err, errlen, "handshake: the node's certificate "
			    "is not the one in %s", p->setting);
			return -1;
		}
		if (rc != MBEDTLS_ERR_SSL_WANT_READ && rc != MBEDTLS_ERR_SSL_WANT_WRITE) {
			push_tls_err(err, errlen, "handshake", rc);
			return -1;
		}
	}
	/* a TLS 1.3 resumption carries no certificate: its ticket came from
	 * a handshake that verified this pin (p->conf_pin is the session's) */
	peer = mbedtls_ssl_get_peer_cert(ssl);
	if ((p->verified || peer != NULL) && (peer == NULL ||
	    peer->raw.len != pin->raw.len ||
	    memcmp(peer->raw.p, pin->raw.p, pin->raw.len) != 0)) {
		snprintf(err, errlen, "the node's certificate is not the one in %s",
		    p->setting);
		return -1;
	}
	atomic_fetch_add(p->verified ? &p->full : &p->resumed, 1);
	return 0;
}

static int
push_tls_write(mbedtls_ssl_context *ssl, const char *req, size_t len, char *err,
    size_t errlen)
{
	int rc;

	for (size_t off = 0; off < len;) {
		rc = mbedtls_ssl_write(ssl, (const unsigned char *)req + off, len - off);
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
push_tls_read(mbedtls_ssl_context *ssl, char *resp, size_t resplen, char *err,
    size_t errlen)
{
	size_t used = 0;
	int rc;

	while (used + 1 < resplen) {
		rc = mbedtls_ssl_read(ssl, (unsigned char *)resp + used, resplen - 1 - used);
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

/* the node's entry, or NULL with err */
static struct push_tls_pin *
push_tls_node(const char *node, char *err, size_t errlen)
{
	for (size_t i = 0; i < push_tls_npins; i++)
		if (strcmp(push_tls_pins[i].node, node) == 0)
			return &push_tls_pins[i];
	snprintf(err, errlen, "node %s has no certificate loaded (added by a "
	    "reload? restart acctd)", node);
	return NULL;
}

/* one request on a new connection (resumed when p has a session); the
 * session to offer next is kept. 0 or -1 with err */
static int
push_tls_exchange(struct push_tls_pin *p, const struct addr *a, const char *req,
    int *status, char *resp, size_t resplen, char *err, size_t errlen)
{
	mbedtls_ssl_context ssl;
	mbedtls_net_context net;
	int ret = -1;

	mbedtls_ssl_init(&ssl);
	mbedtls_net_init(&net);
	if (push_tls_setup(p, &ssl, err, errlen) == -1 ||
	    push_tls_handshake(p, &ssl, &net, a, err, errlen) == -1 ||
	    push_tls_write(&ssl, req, strlen(req), err, errlen) == -1 ||
	    push_tls_read(&ssl, resp, resplen, err, errlen) == -1 ||
	    push_tls_answer(resp, status, err, errlen) == -1)
		goto done;
	mbedtls_ssl_close_notify(&ssl);
	/* the ticket the node sent with this answer (TLS 1.3; none: no
	 * session, the next push is a full handshake) */
	push_tls_node_forget(p);
	if (mbedtls_ssl_get_session(&ssl, &p->session) == 0)
		p->has_session = 1;
	else
		push_tls_node_forget(p);
	ret = 0;
done:
	if (ret == -1)
		push_tls_node_forget(p);
	mbedtls_net_free(&net);
	mbedtls_ssl_free(&ssl);
	return ret;
}

int
push_tls_post(const char *node, const char *url, const char *path,
    const char *body, int *status, char *resp, size_t resplen, char *err,
    size_t errlen)
{
	struct push_tls_pin *p;
	struct addr a;
	char *req;
	int ret = -1;

	*status = 0;
	resp[0] = '\0';
	if (push_tls_split_url(url, &a) == -1) {
		snprintf(err, errlen, "bad node url %s", url);
		return -1;
	}
	if ((p = push_tls_node(node, err, errlen)) == NULL)
		return -1;
	req = x_asprintf("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n%s", path, a.host,
	    strlen(body), body);
	pthread_mutex_lock(&p->mtx);
	if (push_tls_node_ready(p, err, errlen) == 0)
		ret = push_tls_exchange(p, &a, req, status, resp, resplen, err,
		    errlen);
	pthread_mutex_unlock(&p->mtx);
	crypto_wipe(req, strlen(req));
	free(req);
	return ret;
}

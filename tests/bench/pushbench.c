/*
 * pushbench.c — make bench's push section (issue 12 point 2): the push
 * client's handshake against a real acctd-agent, full and resumed, TLS 1.2
 * and 1.3, with the settings of src/acctd/push_tls.c (client certificate,
 * the node's certificate as the only anchor, one POST per connection, one
 * DRBG and one ssl_config made once). One thread, one MODE (tls13-full,
 * tls13-resumed, tls12-full, tls12-resumed: the caller measures the agent
 * around each), pushes for SECONDS, then prints
 * "MODE pushes_per_second client_cpu_us_per_push resumed_share".
 * The POST goes to a path the agent answers 404: the TLS work is measured,
 * not the hook.
 *
 *   pushbench HOST PORT NODE_CERT CLIENT_CERT CLIENT_KEY SECONDS MODE
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <psa/crypto.h>

static mbedtls_entropy_context pb_entropy;
static mbedtls_ctr_drbg_context pb_drbg;
static mbedtls_x509_crt pb_pin, pb_own;
static mbedtls_pk_context pb_key;
static int pb_verified;

static double
pb_clock(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
pb_verify(void *arg, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
	(void)arg;
	pb_verified = 1;
	if (depth == 0 && (crt->raw.len != pb_pin.raw.len ||
	    memcmp(crt->raw.p, pb_pin.raw.p, crt->raw.len) != 0))
		*flags |= MBEDTLS_X509_BADCERT_NOT_TRUSTED;
	return 0;
}

static int
pb_conf(mbedtls_ssl_config *conf, int v13)
{
	if (mbedtls_ssl_config_defaults(conf, MBEDTLS_SSL_IS_CLIENT,
	    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT) != 0)
		return -1;
	mbedtls_ssl_conf_authmode(conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(conf, &pb_pin, NULL);
	mbedtls_ssl_conf_rng(conf, mbedtls_ctr_drbg_random, &pb_drbg);
	mbedtls_ssl_conf_verify(conf, pb_verify, NULL);
	mbedtls_ssl_conf_min_tls_version(conf, v13 ? MBEDTLS_SSL_VERSION_TLS1_3 :
	    MBEDTLS_SSL_VERSION_TLS1_2);
	mbedtls_ssl_conf_max_tls_version(conf, v13 ? MBEDTLS_SSL_VERSION_TLS1_3 :
	    MBEDTLS_SSL_VERSION_TLS1_2);
	mbedtls_ssl_conf_session_tickets(conf, MBEDTLS_SSL_SESSION_TICKETS_ENABLED);
	mbedtls_ssl_conf_tls13_enable_signal_new_session_tickets(conf,
	    MBEDTLS_SSL_TLS1_3_SIGNAL_NEW_SESSION_TICKETS_ENABLED);
	mbedtls_ssl_conf_tls13_key_exchange_modes(conf,
	    MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_EPHEMERAL_ALL);
	mbedtls_ssl_conf_read_timeout(conf, 5000);
	return mbedtls_ssl_conf_own_cert(conf, &pb_own, &pb_key);
}

/* one push; *s: the session to offer (has), the one to keep after */
static int
pb_push(mbedtls_ssl_config *conf, const char *host, const char *port,
    mbedtls_ssl_session *s, int *has, int keep)
{
	static const char req[] = "POST /bench HTTP/1.1\r\nHost: node\r\n"
	    "Content-Type: application/json\r\nContent-Length: 2\r\n"
	    "Connection: close\r\n\r\n{}";
	unsigned char buf[2048];
	mbedtls_ssl_context ssl;
	mbedtls_net_context net;
	int rc, ret = -1, one = 1;

	mbedtls_ssl_init(&ssl);
	mbedtls_net_init(&net);
	if (mbedtls_ssl_setup(&ssl, conf) != 0 ||
	    mbedtls_ssl_set_hostname(&ssl, NULL) != 0 ||
	    (*has && mbedtls_ssl_set_session(&ssl, s) != 0) ||
	    mbedtls_net_connect(&net, host, port, MBEDTLS_NET_PROTO_TCP) != 0)
		goto done;
	(void)setsockopt(net.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	mbedtls_ssl_set_bio(&ssl, &net, mbedtls_net_send, NULL,
	    mbedtls_net_recv_timeout);
	pb_verified = 0;
	while ((rc = mbedtls_ssl_handshake(&ssl)) != 0)
		if (rc != MBEDTLS_ERR_SSL_WANT_READ && rc != MBEDTLS_ERR_SSL_WANT_WRITE)
			goto done;
	if (mbedtls_ssl_write(&ssl, (const unsigned char *)req, sizeof(req) - 1) < 0)
		goto done;
	while ((rc = mbedtls_ssl_read(&ssl, buf, sizeof(buf))) > 0 ||
	    rc == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET ||
	    rc == MBEDTLS_ERR_SSL_WANT_READ)
		;
	mbedtls_ssl_close_notify(&ssl);
	mbedtls_ssl_session_free(s);
	mbedtls_ssl_session_init(s);
	*has = keep && mbedtls_ssl_get_session(&ssl, s) == 0;
	ret = pb_verified ? 0 : 1;
done:
	mbedtls_net_free(&net);
	mbedtls_ssl_free(&ssl);
	return ret;
}

static void
pb_mode(const char *name, int v13, int resume, char **argv, double secs)
{
	mbedtls_ssl_config conf;
	mbedtls_ssl_session s;
	double w0, c0, w;
	long n = 0, resumed = 0;
	int has = 0, rc;

	mbedtls_ssl_config_init(&conf);
	mbedtls_ssl_session_init(&s);
	if (pb_conf(&conf, v13) != 0) {
		fprintf(stderr, "pushbench: tls config\n");
		exit(1);
	}
	w0 = pb_clock(CLOCK_MONOTONIC);
	c0 = pb_clock(CLOCK_PROCESS_CPUTIME_ID);
	while ((w = pb_clock(CLOCK_MONOTONIC) - w0) < secs) {
		if ((rc = pb_push(&conf, argv[1], argv[2], &s, &has, resume)) < 0) {
			fprintf(stderr, "pushbench: %s: push failed\n", name);
			exit(1);
		}
		n++;
		resumed += rc;
	}
	printf("%s %.1f %.1f %.3f\n", name, n / w,
	    (pb_clock(CLOCK_PROCESS_CPUTIME_ID) - c0) / n * 1e6,
	    (double)resumed / n);
	mbedtls_ssl_session_free(&s);
	mbedtls_ssl_config_free(&conf);
}

int
main(int argc, char **argv)
{
	double secs;

	if (argc != 8 || strncmp(argv[7], "tls1", 4) != 0 ||
	    (argv[7][4] != '2' && argv[7][4] != '3')) {
		fprintf(stderr, "usage: pushbench HOST PORT NODE_CERT CLIENT_CERT "
		    "CLIENT_KEY SECONDS tls1{2,3}-{full,resumed}\n");
		return 2;
	}
	secs = atof(argv[6]);
	mbedtls_entropy_init(&pb_entropy);
	mbedtls_ctr_drbg_init(&pb_drbg);
	mbedtls_x509_crt_init(&pb_pin);
	mbedtls_x509_crt_init(&pb_own);
	mbedtls_pk_init(&pb_key);
	if (psa_crypto_init() != PSA_SUCCESS ||
	    mbedtls_ctr_drbg_seed(&pb_drbg, mbedtls_entropy_func, &pb_entropy,
	    NULL, 0) != 0 ||
	    mbedtls_x509_crt_parse_file(&pb_pin, argv[3]) != 0 ||
	    mbedtls_x509_crt_parse_file(&pb_own, argv[4]) != 0 ||
	    mbedtls_pk_parse_keyfile(&pb_key, argv[5], NULL,
	    mbedtls_ctr_drbg_random, &pb_drbg) != 0) {
		fprintf(stderr, "pushbench: cannot load the certificates\n");
		return 1;
	}
	pb_mode(argv[7], argv[7][4] == '3', strstr(argv[7], "resumed") != NULL,
	    argv, secs);
	return 0;
}

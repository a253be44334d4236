/*
 * ping.c — make bench's bare civetweb server: the same patched civetweb and
 * mbedTLS (the sysroot's libraries, toolchain/mbedtls_config.h), the same
 * server options as src/acctd/http.c (front stage, caps, tcp_nodelay, one
 * mg_write per response) and the same TLS settings as http_tls.c (TLS 1.2
 * to 1.3, session tickets), and one handler that answers every request
 * with acctd's /healthz body (GET /count: how many it has answered). What
 * acctd costs beyond this is acctd's.
 *
 *   ping PORT PEMFILE THREADS MAX_CONNECTIONS KEEPALIVE_MS
 *
 * PEMFILE holds certificate and key (civetweb on mbedTLS reads both from
 * one file). Prints "ready" on stdout once listening; runs until SIGTERM.
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <civetweb.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ticket.h>
#include <psa/crypto.h>

int mg_acctd_keep_alive(struct mg_connection *conn);

static volatile sig_atomic_t ping_stop;
static atomic_ulong ping_count;		/* requests answered, for GET /count */
static mbedtls_entropy_context ping_entropy;
static mbedtls_ctr_drbg_context ping_drbg;
static mbedtls_ssl_ticket_context ping_ticket;

static void
ping_on_signal(int sig)
{
	(void)sig;
	ping_stop = 1;
}

static int
ping_init_ssl(void *ssl_conf, void *user_data)
{
	mbedtls_ssl_config *conf = ssl_conf;

	(void)user_data;
	mbedtls_ssl_conf_min_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_2);
	mbedtls_ssl_conf_max_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_3);
	if (mbedtls_ssl_ticket_setup(&ping_ticket, mbedtls_ctr_drbg_random,
	    &ping_drbg, MBEDTLS_CIPHER_AES_256_GCM, 3600) != 0)
		return -1;
	mbedtls_ssl_conf_session_tickets_cb(conf, mbedtls_ssl_ticket_write,
	    mbedtls_ssl_ticket_parse, &ping_ticket);
	return 0;
}

/* civetweb's errors (refused connections, say) on stderr */
static int
ping_log(const struct mg_connection *conn, const char *message)
{
	(void)conn;
	fprintf(stderr, "ping: %s\n", message);
	return 1;
}

static int
ping_handler(struct mg_connection *conn, void *cbdata)
{
	static const char body[] = "{\"status\":\"ok\",\"version\":\"0.1.0\"}";
	const struct mg_request_info *ri = mg_get_request_info(conn);
	unsigned long count = atomic_fetch_add(&ping_count, 1) + 1;
	char buf[512], num[32];
	const char *b = body;
	int n;

	(void)cbdata;
	if (strcmp(ri->local_uri, "/count") == 0) {
		snprintf(num, sizeof(num), "%lu", count);
		b = num;
	}
	n = snprintf(buf, sizeof(buf),
	    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
	    "Content-Length: %zu\r\nConnection: %s\r\n\r\n%s",
	    strlen(b), mg_acctd_keep_alive(conn) ? "keep-alive" : "close", b);
	mg_write(conn, buf, (size_t)n);
	return 200;
}

int
main(int argc, char **argv)
{
	struct mg_callbacks cb;
	struct mg_init_data init;
	struct mg_error_data e;
	struct mg_context *ctx;
	char port[32], etext[256] = "";

	if (argc != 6) {
		fprintf(stderr, "usage: ping PORT PEMFILE THREADS MAX_CONNECTIONS KEEPALIVE_MS\n");
		return 2;
	}
	if (psa_crypto_init() != PSA_SUCCESS)
		return 1;
	mbedtls_entropy_init(&ping_entropy);
	mbedtls_ctr_drbg_init(&ping_drbg);
	mbedtls_ssl_ticket_init(&ping_ticket);
	if (mbedtls_ctr_drbg_seed(&ping_drbg, mbedtls_entropy_func, &ping_entropy,
	    (const unsigned char *)"ping", 4) != 0)
		return 1;
	snprintf(port, sizeof(port), "127.0.0.1:%ss", argv[1]);
	{
		const char *opts[] = {
			"listening_ports", port,
			"ssl_certificate", argv[2],
			"num_threads", argv[3],
			"keep_alive_timeout_ms", argv[5],
			"request_timeout_ms", "10000",
			"enable_keep_alive", "yes",
			"tcp_nodelay", "1",
			"decode_url", "yes",
			"max_request_size", "16384",
			"linger_timeout_ms", "0",
			"listen_backlog", argv[4],
			"connection_queue", argv[4],
			"acctd_max_connections", argv[4],
			"acctd_max_connections_per_address", argv[4],
			"acctd_min_rate", "128",
			"acctd_max_body_size", "65536",
			NULL
		};

		memset(&cb, 0, sizeof(cb));
		cb.init_ssl = ping_init_ssl;
		cb.log_message = ping_log;
		memset(&init, 0, sizeof(init));
		init.callbacks = &cb;
		init.configuration_options = opts;
		memset(&e, 0, sizeof(e));
		e.text = etext;
		e.text_buffer_size = sizeof(etext);
		ctx = mg_start2(&init, &e);
	}
	if (ctx == NULL) {
		fprintf(stderr, "ping: %s\n", etext);
		return 1;
	}
	mg_set_request_handler(ctx, "/", ping_handler, NULL);
	signal(SIGTERM, ping_on_signal);
	signal(SIGINT, ping_on_signal);
	printf("ready\n");
	fflush(stdout);
	while (!ping_stop)
		pause();
	mg_stop(ctx);
	mbedtls_ssl_ticket_free(&ping_ticket);
	mbedtls_ctr_drbg_free(&ping_drbg);
	mbedtls_entropy_free(&ping_entropy);
	return 0;
}

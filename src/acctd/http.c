/*
 * The HTTPS server: civetweb 1.16 built with USE_MBEDTLS on mbedTLS 3.6 (and acctd's
 * patches, toolchain/patches/civetweb). Only this file includes civetweb.
 *
 * Every request goes through http_dispatch(): route lookup (404/405), body
 * limit (413), then the route's handler. Every response, including the ones
 * civetweb itself generates for malformed requests, is written by
 * http_reply(): one mg_write() of headers and body, with the security
 * headers, so a keep-alive response never waits for a delayed ACK.
 *
 * Connections reach a worker only with a whole request read: civetweb's
 * master thread is an event loop (patch 0002, docs/civetweb.md "Front
 * stage") that does the TLS handshake, reads head and body, enforces the
 * deadline, the minimum rate and the connection caps, and takes keep-alive
 * connections back between requests. HTTP_MAX_BODY is its body limit too.
 * The TLS settings beyond the certificate (versions, session tickets) are
 * http_tls.c's, through civetweb's init_ssl callback (patch 0001).
 *
 * civetweb on mbedTLS reads the certificate AND the private key from one PEM
 * file (mbed_sslctx_init parses "ssl_certificate" twice). acctd keeps the two
 * files of its contract: the key is read (after its permission check) and
 * concatenated with the certificate into an anonymous memfd that civetweb
 * opens as /proc/self/fd/N; the key never touches the disk a second time.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <civetweb.h>

#include "acctd.h"

/* from acctd's civetweb patch: decides (and enforces) Connection: close */
int mg_acctd_keep_alive(struct mg_connection *conn);
/* from acctd's civetweb patch: the next request is not read for ms */
void mg_acctd_hold(struct mg_connection *conn, int ms);

void
http_hold(struct http_req *r, int ms)
{
	mg_acctd_hold(r->conn, ms);
}

struct http_server {
	struct mg_context *ctx;
	const struct http_route *routes;
	int (*authorize)(struct http_req *r);
	void (*cleanup)(struct http_req *r);
	atomic_int ready;
};

static atomic_uint_fast64_t http_nrequests;

static const char http_sec_headers[] =
    "Strict-Transport-Security: max-age=63072000\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "X-Frame-Options: DENY\r\n"
    "Referrer-Policy: no-referrer\r\n"
    "Cross-Origin-Opener-Policy: same-origin\r\n"
    "Cross-Origin-Resource-Policy: same-origin\r\n";
/* the page's own CSP is given by its handler; everything else gets this */
static const char http_csp_default[] =
    "Content-Security-Policy: default-src 'none'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'\r\n";

uint64_t
http_requests_total(void)
{
	return atomic_load(&http_nrequests);
}

const char *
http_header(struct http_req *r, const char *name)
{
	return mg_get_header(r->conn, name);
}

int
http_query(struct http_req *r, const char *name, char *out, size_t outlen)
{
	int n;

	if (r->query == NULL)
		return -1;
	n = mg_get_var(r->query, strlen(r->query), name, out, outlen);
	if (n == -2)
		return -2;       /* present, but longer than outlen */
	return n >= 0 ? 0 : -1;
}

void
http_reply(struct http_req *r, int status, const char *ctype,
    const char *extra_headers, const void *body, size_t len)
{
	char head[2048];
	int keep, n;
	char *buf;

	if (r->status != 0) {
		log_warnx("http: second reply to %s %s ignored", r->method, r->path);
		return;
	}
	r->status = status;
	keep = mg_acctd_keep_alive(r->conn);
	n = snprintf(head, sizeof(head),
	    "HTTP/1.1 %d %s\r\n"
	    "Content-Type: %s\r\n"
	    "Content-Length: %zu\r\n"
	    "Connection: %s\r\n"
	    "%s%s%s\r\n",
	    status, status_title(status), ctype ? ctype : "text/plain", len,
	    keep ? "keep-alive" : "close", http_sec_headers,
	    extra_headers && strstr(extra_headers, "Content-Security-Policy:")
		? "" : http_csp_default,
	    extra_headers ? extra_headers : "");
	if (n < 0 || (size_t)n >= sizeof(head)) {
		log_warnx("http: response headers too long for %s", r->path);
		return;
	}
	buf = x_malloc((size_t)n + len);
	memcpy(buf, head, (size_t)n);
	if (len)
		memcpy(buf + n, body, len);
	mg_write(r->conn, buf, (size_t)n + len);
	free(buf);
}

int
http_stream_begin(struct http_req *r, const char *ctype, const char *extra_headers)
{
	char head[2048];
	int n;

	if (r->status != 0) {
		log_warnx("http: second reply to %s %s ignored", r->method, r->path);
		return -1;
	}
	r->status = 200;
	n = snprintf(head, sizeof(head),
	    "HTTP/1.1 200 %s\r\n"
	    "Content-Type: %s\r\n"
	    "Transfer-Encoding: chunked\r\n"
	    "Connection: close\r\n"
	    "%s%s%s\r\n",
	    status_title(200), ctype, http_sec_headers, http_csp_default,
	    extra_headers ? extra_headers : "");
	if (n < 0 || (size_t)n >= sizeof(head)) {
		log_warnx("http: response headers too long for %s", r->path);
		return -1;
	}
	return mg_write(r->conn, head, (size_t)n) == n ? 0 : -1;
}

int
http_stream_write(struct http_req *r, const void *buf, size_t len)
{
	char size[24];
	int n = snprintf(size, sizeof(size), "%zx\r\n", len);

	if (mg_write(r->conn, size, (size_t)n) != n ||
	    (len > 0 && mg_write(r->conn, buf, len) != (int)len) ||
	    mg_write(r->conn, "\r\n", 2) != 2)
		return -1;
	return 0;
}

void
http_reply_json(struct http_req *r, int status, const struct json *body)
{
	char *s = json_print(body);

	http_reply(r, status, "application/json", "Cache-Control: no-store\r\n",
	    s, strlen(s));
	free(s);
}

void
http_problem_h(struct http_req *r, int status, const char *detail,
    struct json *verrs, const char *extra_headers)
{
	struct json *p = json_object();
	char type[64], hdr[256], *s;

	snprintf(type, sizeof(type), "https://acctd.invalid/problems/%d", status);
	json_set_str(p, "type", type);
	json_set_str(p, "title", status_title(status));
	json_set_int(p, "status", status);
	json_set_str(p, "detail", detail ? detail : status_title(status));
	json_set_str(p, "instance", r->path ? r->path : "/");
	if (verrs != NULL)
		json_set(p, "validation_errors", verrs);
	snprintf(hdr, sizeof(hdr), "Cache-Control: no-store\r\n%s",
	    extra_headers ? extra_headers : "");
	s = json_print(p);
	http_reply(r, status, "application/problem+json", hdr, s, strlen(s));
	free(s);
	json_free(p);
}

void
http_problem(struct http_req *r, int status, const char *detail, struct json *verrs)
{
	http_problem_h(r, status, detail, verrs, NULL);
}

/* Match path against pattern; {x} captures one non-empty segment into
 * r->param_buf. Returns 1 on a match. */
static int
http_match(const char *pattern, const char *path, struct http_req *r)
{
	const char *p = pattern, *s = path;
	size_t used = 0;

	r->nparams = 0;
	while (*p && *s) {
		if (*p == '{') {
			size_t n = strcspn(s, "/");

			if (n == 0 || r->nparams == HTTP_MAX_PARAMS ||
			    used + n + 1 > sizeof(r->param_buf))
				return 0;
			memcpy(r->param_buf + used, s, n);
			r->param_buf[used + n] = '\0';
			r->params[r->nparams++] = r->param_buf + used;
			used += n + 1;
			s += n;
			p = strchr(p, '}');
			if (p == NULL)
				return 0;
			p++;
		} else if (*p++ != *s++) {
			return 0;
		}
	}
	return *p == '\0' && *s == '\0';
}

/* Read the body into r->body. 0, or -1 after replying 413/400. */
static int
http_read_body(struct http_req *r, const struct mg_request_info *ri)
{
	size_t cap = HTTP_MAX_BODY, len = 0;
	char *buf;
	int n;

	if (ri->content_length > (long long)HTTP_MAX_BODY) {
		char d[96];

		snprintf(d, sizeof(d), "request body is larger than %d bytes",
		    HTTP_MAX_BODY);
		http_problem(r, 413, d, NULL);
		return -1;
	}
	/* neither Content-Length nor Transfer-Encoding: no body (RFC 9112
	 * 6.3), as for nearly every GET: no buffer either */
	if (ri->content_length == 0 || (ri->content_length < 0 &&
	    mg_get_header(r->conn, "Transfer-Encoding") == NULL))
		return 0;
	/* content_length -1: chunked; read up to the cap plus one byte. A
	 * declared length needs only its own size */
	if (ri->content_length > 0)
		cap = (size_t)ri->content_length;
	buf = x_malloc(cap + 2);
	while (len <= cap && (n = mg_read(r->conn, buf + len, cap + 1 - len)) > 0)
		len += (size_t)n;
	if (len > cap) {
		char d[96];

		free(buf);
		snprintf(d, sizeof(d), "request body is larger than %d bytes",
		    HTTP_MAX_BODY);
		http_problem(r, 413, d, NULL);
		return -1;
	}
	if (ri->content_length > 0 && (long long)len != ri->content_length) {
		free(buf);
		http_problem(r, 400, "request body shorter than its Content-Length", NULL);
		return -1;
	}
	if (len == 0) {
		free(buf);
		return 0;
	}
	buf[len] = '\0';
	r->body = buf;
	r->body_len = len;
	return 0;
}

static int
http_dispatch(struct mg_connection *conn, void *arg)
{
	struct http_server *srv = arg;
	const struct mg_request_info *ri = mg_get_request_info(conn);
	const struct http_route *rt, *hit = NULL;
	struct http_req r;
	char allow[128] = "";

	memset(&r, 0, sizeof(r));
	r.conn = conn;
	r.method = ri->request_method;
	r.path = ri->local_uri ? ri->local_uri : "/";
	r.query = ri->query_string;
	snprintf(r.remote_ip, sizeof(r.remote_ip), "%s", ri->remote_addr);
	atomic_fetch_add(&http_nrequests, 1);

	if (!atomic_load(&srv->ready)) {
		http_problem(&r, 503, "acctd is starting", NULL);
		return r.status;
	}
	if (ri->content_length > (long long)HTTP_MAX_BODY) {
		/* refused before routing: the body is never read */
		http_read_body(&r, ri);
		return r.status;
	}
	for (rt = srv->routes; rt->method != NULL; rt++) {
		if (!http_match(rt->pattern, r.path, &r))
			continue;
		if (strcmp(rt->method, r.method) == 0) {
			hit = rt;
			break;
		}
		if (strlen(allow) + strlen(rt->method) + 3 < sizeof(allow)) {
			if (allow[0])
				strcat(allow, ", ");
			strcat(allow, rt->method);
		}
	}
	if (hit == NULL && allow[0]) {
		char h[160];

		snprintf(h, sizeof(h), "Allow: %s\r\n", allow);
		http_problem_h(&r, 405, "method not allowed for this path", NULL, h);
		return 405;
	}
	if (hit == NULL) {
		http_problem(&r, 404, "no such resource", NULL);
		return 404;
	}
	/* re-run the match so params point at this route's captures */
	http_match(hit->pattern, r.path, &r);
	r.route = hit;
	if (http_read_body(&r, ri) == 0 &&
	    (srv->authorize == NULL || srv->authorize(&r) == 0)) {
		hit->fn(&r);
		if (r.status == 0)
			http_problem(&r, 500, "handler sent no response", NULL);
	}
	if (srv->cleanup != NULL)
		srv->cleanup(&r);
	if (r.body != NULL) {
		crypto_wipe(r.body, r.body_len);   /* may hold a password */
		free(r.body);
	}
	return r.status;
}

/* civetweb's own errors (malformed request line, headers too large, …) */
static int
http_error_cb(struct mg_connection *conn, int status, const char *msg)
{
	const struct mg_request_info *ri = mg_get_request_info(conn);
	struct http_req r;

	memset(&r, 0, sizeof(r));
	r.conn = conn;
	r.method = ri && ri->request_method ? ri->request_method : "?";
	r.path = ri && ri->local_uri ? ri->local_uri : "/";
	http_problem(&r, status, msg && *msg ? msg : NULL, NULL);
	return 0;
}

static int
http_log_cb(const struct mg_connection *conn, const char *msg)
{
	(void)conn;
	log_debug("civetweb: %s", msg);
	return 1;
}

/* cert + key in one anonymous file for civetweb; returns the fd or -1 */
static int
http_pem_memfd(const char *cert, const char *key, char *err, size_t errlen)
{
	const char *files[2] = { cert, key };
	char buf[4096];
	int fd, i;

	fd = memfd_create("acctd-tls", MFD_CLOEXEC);
	if (fd == -1) {
		snprintf(err, errlen, "memfd_create: %s", strerror(errno));
		return -1;
	}
	for (i = 0; i < 2; i++) {
		ssize_t n;
		int in = open(files[i], O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

		if (in == -1) {
			snprintf(err, errlen, "%s: %s", files[i], strerror(errno));
			goto fail;
		}
		while ((n = read(in, buf, sizeof(buf))) > 0) {
			if (write(fd, buf, (size_t)n) != n) {
				snprintf(err, errlen, "memfd write: %s", strerror(errno));
				close(in);
				goto fail;
			}
		}
		close(in);
		if (n < 0) {
			snprintf(err, errlen, "%s: %s", files[i], strerror(errno));
			goto fail;
		}
		if (write(fd, "\n", 1) != 1)
			goto fail;
	}
	crypto_wipe(buf, sizeof(buf));
	return fd;
fail:
	crypto_wipe(buf, sizeof(buf));
	close(fd);
	return -1;
}

/* "127.0.0.1:8443" -> "127.0.0.1:8443s"; "*:443" -> "443s" */
static char *
http_ports_option(char **listen, size_t n)
{
	size_t cap = 16, used = 0, i;
	char *s = x_malloc(cap);

	s[0] = '\0';
	for (i = 0; i < n; i++) {
		const char *l = listen[i];
		char item[96];
		size_t k;

		if (strncmp(l, "*:", 2) == 0)
			snprintf(item, sizeof(item), "%s%s%ss", i ? "," : "", "", l + 2);
		else
			snprintf(item, sizeof(item), "%s%ss", i ? "," : "", l);
		k = strlen(item);
		if (used + k + 1 > cap) {
			cap = (used + k + 1) * 2;
			s = x_realloc(s, cap);
		}
		memcpy(s + used, item, k + 1);
		used += k;
	}
	return s;
}

/*
 * Bind each listen address once, before civetweb does: its own failure is
 * "Failed to setup server ports", naming neither the address nor the
 * reason. 0, or -1 with "…: listen ADDR: Address already in use".
 */
static int
http_bind_check(char **listen, size_t n, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1, rc;

	for (size_t i = 0; i < n; i++) {
		if (addr_listen_sockaddr(listen[i], &ss, &len) == -1)
			continue;	/* conf.c checked it; civetweb says */
		fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd == -1)
			continue;
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ss.ss_family == AF_INET6)
			(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
			    sizeof(one));
		rc = bind(fd, (struct sockaddr *)&ss, len);
		if (rc == -1)
			snprintf(err, errlen, "cannot start the HTTPS server: "
			    "listen %s: %s", listen[i],
			    strerror(errno));
		close(fd);
		if (rc == -1)
			return -1;
	}
	return 0;
}

/* civetweb's init_ssl, under mbedTLS (patch 0001): the mbedtls_ssl_config
 * it made, for http_tls.c to finish */
static int
http_init_ssl(void *ssl_conf, void *user_data)
{
	(void)user_data;
	return http_tls_setup(ssl_conf) == 0 ? 0 : -1;
}

int
http_start(const struct http_opts *o, struct http_server **out, char *err, size_t errlen)
{
	struct http_server *srv;
	struct mg_callbacks cb;
	struct mg_init_data init;
	struct mg_error_data e;
	char threads[16], ka[16], rq[16], certpath[64], etext[256] = "";
	char rate[16], maxc[16], maxa[16], body[16];
	char *ports = NULL;
	int pemfd;

	*out = NULL;
	if (http_bind_check(o->listen, o->nlisten, err, errlen) == -1 ||
	    http_tls_load(o->tls_cert, o->tls_key, err, errlen) == -1)
		return -1;
	pemfd = http_pem_memfd(o->tls_cert, o->tls_key, err, errlen);
	if (pemfd == -1)
		return -1;
	snprintf(certpath, sizeof(certpath), "/proc/self/fd/%d", pemfd);
	snprintf(threads, sizeof(threads), "%d", o->threads);
	snprintf(ka, sizeof(ka), "%d", o->keepalive_timeout_ms);
	snprintf(rq, sizeof(rq), "%d", o->request_timeout_ms);
	snprintf(rate, sizeof(rate), "%d", o->min_rate);
	snprintf(maxc, sizeof(maxc), "%d", o->max_connections);
	snprintf(maxa, sizeof(maxa), "%d", o->max_connections_per_address);
	snprintf(body, sizeof(body), "%d", HTTP_MAX_BODY);
	ports = http_ports_option(o->listen, o->nlisten);
	if (o->fuzz_plain_listen != NULL) {
		/* the fuzz harness's plaintext loopback port (struct http_opts) */
		char *p = x_asprintf("%s,%s", ports, o->fuzz_plain_listen);

		free(ports);
		ports = p;
	}
	{
		const char *opts[] = {
			"listening_ports", ports,
			"ssl_certificate", certpath,
			"num_threads", threads,
			"keep_alive_timeout_ms", ka,
			"request_timeout_ms", rq,
			"enable_keep_alive", "yes",
			"tcp_nodelay", "1",
			"decode_url", "yes",
			"max_request_size", "16384",
			"linger_timeout_ms", "0",
			/* a burst of connects waits in the kernel, not in
			 * SYN retransmissions (civetweb's default is 200) */
			"listen_backlog", maxc,
			/* the front stage (patch 0002): every open connection
			 * fits in the queue, so the front never waits on it */
			"connection_queue", maxc,
			"acctd_max_connections", maxc,
			"acctd_max_connections_per_address", maxa,
			"acctd_min_rate", rate,
			"acctd_max_body_size", body,
			NULL
		};

		srv = x_calloc(1, sizeof(*srv));
		srv->routes = o->routes;
		srv->authorize = o->authorize;
		srv->cleanup = o->cleanup;
		memset(&cb, 0, sizeof(cb));
		cb.http_error = http_error_cb;
		cb.log_message = http_log_cb;
		cb.init_ssl = http_init_ssl;
		init.callbacks = &cb;
		init.user_data = srv;
		init.configuration_options = opts;
		memset(&e, 0, sizeof(e));
		e.text = etext;
		e.text_buffer_size = sizeof(etext);
		srv->ctx = mg_start2(&init, &e);
	}
	close(pemfd);
	free(ports);
	if (srv->ctx == NULL) {
		snprintf(err, errlen, "cannot start the HTTPS server: %s",
		    etext[0] ? etext : "unknown error");
		free(srv);
		return -1;
	}
	mg_set_request_handler(srv->ctx, "/", http_dispatch, srv);
	*out = srv;
	return 0;
}

void
http_set_ready(struct http_server *s, int ready)
{
	atomic_store(&s->ready, ready);
}

void
http_stop(struct http_server *s)
{
	if (s == NULL)
		return;
	mg_stop(s->ctx);
	http_tls_shutdown();
	free(s);
}

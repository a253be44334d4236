/*
 * fuzz_http: whole requests, as bytes on a socket. acctd's HTTP server runs
 * in this process (started once, as main.c does: the real route table,
 * api_authorize, a real LMDB store on /dev/shm, the appliance key); each
 * input is sent on a new loopback connection, the write side is shut, and
 * the answer is read until the server closes. So civetweb's request parsing
 * (with acctd's front stage), the route table, authentication (session
 * cookie, X-CSRF-Token, bearer tokens), the query and If-Match parsers and
 * every handler's body validation see the input.
 *
 * The listener is plaintext (http_opts.fuzz_plain_listen, for this harness
 * only): a TLS handshake per input would cost most of the time and fuzz
 * mbedTLS rather than acctd. The TLS listener is started as well.
 *
 * The fixture: the bootstrap admin "admin" and a user "alice", each signed
 * in, and an API token of admin's, all made through the API itself. Inputs
 * name them with placeholders that are replaced before sending:
 *
 *   @SID@ @CSRF@     admin's session cookie value and CSRF token
 *   @USID@ @UCSRF@   alice's
 *   @TOKEN@ @TOKID@  admin's API token and its id (t_…)
 *
 * An input may sign them out, revoke, rename, disable or delete them; after
 * each input the fixture is checked (a read transaction), and when it is
 * broken, or every FUZZ_RESET_EVERY inputs, the store is made anew (so it
 * stays small and executions stay comparable).
 *
 * Oracle besides the sanitizers: an answer must come within FUZZ_WAIT_MS,
 * begin with an HTTP/1.1 status line, and never be a 500 (nothing here makes
 * the store fail: a 500 is a handler's bug).
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acctd.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ADMIN_FIRST_PW "fuzz-admin-one-time-1"   /* must be changed */
#define FUZZ_ADMIN_PW "fuzz-admin-password-1"
#define FUZZ_ALICE_PW "fuzz-alice-password-1"
#define FUZZ_WAIT_MS 10000
#define FUZZ_RESET_EVERY 20000
#define FUZZ_MAX_IN (64 * 1024)

static char fuzz_dir[64], fuzz_data[96];
static int fuzz_port;                  /* the plaintext listener */
static unsigned fuzz_runs;

struct fuzz_who {
	char id[SECRET_ID_LEN + 1];
	char sid[SESSION_TOKEN_LEN + 1];
	char csrf[SESSION_TOKEN_LEN + 1];
};
static struct fuzz_who fuzz_admin, fuzz_alice;
static char fuzz_token[TOKEN_LEN + 1], fuzz_tokid[SECRET_ID_LEN + 1];

static void
fuzz_die(const char *what)
{
	fprintf(stderr, "fuzz_http: %s\n", what);
	abort();
}

static int
fuzz_free_port(void)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd == -1 || bind(fd, (struct sockaddr *)&a, sizeof(a)) == -1 ||
	    getsockname(fd, (struct sockaddr *)&a, &al) == -1)
		fuzz_die("no free loopback port");
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* A connected socket to a, or -1. A failed connect() is tried again for up
 * to 2 s, each failure named on stderr: one unexplained failure (errno was
 * not recorded) ended a long run at 6,033 executions on a loaded machine
 * and never came back; a listener that is really gone still ends the run. */
static int
fuzz_connect(const struct sockaddr_in *a)
{
	for (int i = 0; i < 100; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd != -1 && connect(fd, (const struct sockaddr *)a, sizeof(*a)) == 0)
			return fd;
		fprintf(stderr, "fuzz_http: %s: %s\n", fd == -1 ? "socket" : "connect",
		    strerror(errno));
		if (fd != -1)
			close(fd);
		usleep(20000);
	}
	return -1;
}

/* Send req on a new connection, shut the write side, read the answer until
 * the server closes. Returns the answer (caller frees, NUL-terminated). */
static char *
fuzz_exchange(const char *req, size_t len, size_t *outlen)
{
	struct sockaddr_in a;
	struct linger lg = { 1, 0 };
	struct pollfd p;
	size_t cap = 4096, used = 0, off = 0;
	char *out = malloc(cap);
	int fd = -1;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)fuzz_port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (out == NULL || (fd = fuzz_connect(&a)) == -1)
		fuzz_die("cannot connect to the server");
	while (off < len) {
		ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);

		if (n <= 0)
			break;                  /* the server closed early: fine */
		off += (size_t)n;
	}
	shutdown(fd, SHUT_WR);
	p.fd = fd;
	p.events = POLLIN;
	for (;;) {
		ssize_t n;
		int pr = poll(&p, 1, FUZZ_WAIT_MS);

		if (pr == 0)
			fuzz_die("no answer and no close within 10 s");
		if (pr < 0 && errno == EINTR)
			continue;
		if (used + 4096 + 1 > cap) {
			cap *= 2;
			if ((out = realloc(out, cap)) == NULL)
				fuzz_die("out of memory");
		}
		n = recv(fd, out + used, cap - used - 1, 0);
		if (n <= 0)
			break;
		used += (size_t)n;
	}
	out[used] = '\0';
	/* reset, not FIN: no TIME_WAIT left behind by a million connections */
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
	*outlen = used;
	return out;
}

/* --- the fixture, through the API -------------------------------------- */

static char *
fuzz_call(const char *method, const char *path, const struct fuzz_who *w,
    const char *body, int want)
{
	char *req, *ans, *auth;
	size_t n;

	auth = w ? x_asprintf("Cookie: %s=%s\r\nX-CSRF-Token: %s\r\n",
	    SESSION_COOKIE, w->sid, w->csrf) : x_strdup("");
	req = x_asprintf("%s %s HTTP/1.1\r\nHost: fuzz\r\n%s"
	    "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
	    method, path, auth, body ? strlen(body) : 0, body ? body : "");
	free(auth);
	ans = fuzz_exchange(req, strlen(req), &n);
	free(req);
	if (n < 12 || atoi(ans + 9) != want) {
		fprintf(stderr, "fuzz_http: fixture: %s %s: %.300s\n", method, path, ans);
		fuzz_die("the fixture could not be made");
	}
	return ans;
}

/* the JSON string value of "key" in s, into out */
static void
fuzz_field(const char *s, const char *key, char *out, size_t outlen)
{
	char pat[64];
	const char *p;
	size_t n;

	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	if ((p = strstr(s, pat)) == NULL)
		fuzz_die("a fixture answer lacks a field");
	p += strlen(pat);
	n = strcspn(p, "\"");
	if (n >= outlen)
		fuzz_die("a fixture field is too long");
	memcpy(out, p, n);
	out[n] = '\0';
}

static void
fuzz_login(const char *handle, const char *pw, struct fuzz_who *w)
{
	char body[128], *ans;
	const char *c;

	snprintf(body, sizeof(body), "{\"handle\":\"%s\",\"password\":\"%s\"}", handle, pw);
	ans = fuzz_call("POST", "/api/v0/login", NULL, body, 200);
	fuzz_field(ans, "csrf_token", w->csrf, sizeof(w->csrf));
	fuzz_field(ans, "id", w->id, sizeof(w->id));
	if ((c = strstr(ans, SESSION_COOKIE "=")) == NULL)
		fuzz_die("no session cookie");
	c += strlen(SESSION_COOKIE "=");
	if (strcspn(c, ";") != SESSION_TOKEN_LEN)
		fuzz_die("a session cookie of another length");
	memcpy(w->sid, c, SESSION_TOKEN_LEN);
	w->sid[SESSION_TOKEN_LEN] = '\0';
	free(ans);
}

static void
fuzz_fixture(void)
{
	char *ans;

	limiter_reset();
	/* the bootstrap password is one-time: replace it first (the session
	 * that does so stays signed in) */
	fuzz_login("admin", FUZZ_ADMIN_FIRST_PW, &fuzz_admin);
	free(fuzz_call("PUT", "/api/v0/user/admin/console_password", &fuzz_admin,
	    "{\"current_password\":\"" FUZZ_ADMIN_FIRST_PW "\","
	    "\"new_password\":\"" FUZZ_ADMIN_PW "\"}", 204));
	free(fuzz_call("POST", "/api/v0/admin/user", &fuzz_admin,
	    "{\"handle\":\"alice\",\"email\":\"alice@example.com\","
	    "\"display_name\":\"Alice\",\"password\":\"" FUZZ_ALICE_PW "\","
	    "\"must_change_password\":false}", 201));
	fuzz_login("alice", FUZZ_ALICE_PW, &fuzz_alice);
	ans = fuzz_call("POST", "/api/v0/user/admin/token", &fuzz_admin,
	    "{\"title\":\"fuzz\"}", 201);
	fuzz_field(ans, "token", fuzz_token, sizeof(fuzz_token));
	fuzz_field(ans, "id", fuzz_tokid, sizeof(fuzz_tokid));
	free(ans);
}

/* a new, empty store with the bootstrap admin (main.c's start-up order) */
static void
fuzz_store_open(void)
{
	char err[512], f[160];

	store_close(app.store);
	app.store = NULL;
	snprintf(f, sizeof(f), "%s/data.mdb", fuzz_data);
	unlink(f);
	snprintf(f, sizeof(f), "%s/lock.mdb", fuzz_data);
	unlink(f);
	if (store_open(fuzz_data, (unsigned)app_conf()->map_size_mb, &app.store,
	    err, sizeof(err)) == -1)
		fuzz_die(err);
	if (audit_init(app.store) == -1 ||
	    account_bootstrap(app_conf(), FUZZ_ADMIN_FIRST_PW) == -1)
		fuzz_die("cannot make the store");
}

/* 1 when admin, alice, their sessions and the token are as made */
static int
fuzz_fixture_ok(void)
{
	const struct conf *c = app_conf();
	const struct fuzz_who *who[2] = { &fuzz_admin, &fuzz_alice };
	struct store_txn *t;
	struct session s;
	struct token k;
	struct user u;
	int64_t now = app_now();
	int ok = 1, stale;

	if (store_txn_begin(app.store, 0, &t) == -1)
		return 0;
	for (int i = 0; ok && i < 2; i++) {
		memset(&u, 0, sizeof(u));
		ok = user_load(t, who[i]->id, &u) == 0 && !u.disabled &&
		    u.admin == (i == 0) &&
		    strcmp(u.handle, i == 0 ? "admin" : "alice") == 0 &&
		    session_lookup(t, who[i]->sid, now, c->sessions_idle_timeout,
		    c->sessions_absolute_timeout, &s, &stale) == 0 &&
		    s.created_ms >= u.token_min_issued_at &&
		    strcmp(s.csrf, who[i]->csrf) == 0;
		if (ok && i == 0) {
			ok = token_verify(t, fuzz_token, now, &k) == 0 &&
			    k.created_ms >= u.token_min_issued_at;
			token_clear(&k);
		}
		user_clear(&u);
	}
	store_txn_abort(t);
	return ok;
}

static void
fuzz_cleanup(void)
{
	char cmd[128];

	/* the server's threads are left running: the process is ending */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fuzz_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz_http: cannot remove %s\n", fuzz_dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char cert[PATH_MAX], key[PATH_MAX], self[PATH_MAX], path[128], err[512];
	char plain[32], *dir;
	struct http_opts ho;
	struct conf *c;
	FILE *f;

	(void)argc;
	/* build/host-fuzz/tls.{crt,key}, beside the binary (make fuzz) */
	if (realpath((*argv)[0], self) == NULL)
		fuzz_die("cannot find the binary's directory");
	dir = dirname(self);
	snprintf(cert, sizeof(cert), "%s/tls.crt", dir);
	snprintf(key, sizeof(key), "%s/tls.key", dir);
	if (access(cert, R_OK) != 0)
		fuzz_die("no tls.crt beside the binary: build it with make fuzz");
	snprintf(fuzz_dir, sizeof(fuzz_dir), "/dev/shm/acctd-fuzz-http-XXXXXX");
	if (mkdtemp(fuzz_dir) == NULL)
		fuzz_die("cannot make a directory on /dev/shm");
	atexit(fuzz_cleanup);
	snprintf(fuzz_data, sizeof(fuzz_data), "%s/data", fuzz_dir);
	if (mkdir(fuzz_data, 0700) == -1)
		fuzz_die("mkdir data");
	snprintf(path, sizeof(path), "%s/acctd.conf", fuzz_dir);
	if ((f = fopen(path, "w")) == NULL)
		fuzz_die("cannot write the config");
	fprintf(f,
	    "listen = [ \"127.0.0.1:%d\" ];\n"
	    "tls = { cert = \"%s\"; key = \"%s\"; };\n"
	    "data_dir = \"%s\";\n"
	    "user = \"\";\n"
	    "log_level = \"error\";\n"
	    "map_size_mb = 64;\n"
	    "audit = { capacity = 2000; };\n"
	    "tokens = { max_per_user = 5; };\n"
	    "passwords = { pbkdf2_iterations = 1000; };\n"
	    "login = { max_failures = 1000; window = 1; lockout = 1; };\n"
	    "bootstrap_admin = { handle = \"admin\"; email = \"admin@localhost\";\n"
	    "    password_file = \"%s/admin.password\"; };\n"
	    "dns = { domain = \"ws.test\"; hosts_file = \"%s/ws.hosts\"; };\n"
	    "rate_limit = { writes_per_minute = 60000; writes_burst = 10000; };\n"
	    "http = { threads = 2; request_timeout_ms = 3000; keepalive_timeout_ms = 1000; };\n"
	    "nodes = ( { name = \"node1\"; url = \"https://127.0.0.1:9\"; cert = \"%s\"; } );\n"
	    "workspaces = ( { handle = \"prod\"; owner = \"alice\"; members = [ \"admin\" ];\n"
	    "    node = \"node1\"; database = \"dea4px\"; port = 9193; } );\n",
	    fuzz_free_port(), cert, key, fuzz_data, fuzz_dir, fuzz_dir, cert);
	fclose(f);
	if (conf_load(path, stderr, &c) == -1)
		fuzz_die("the harness's config is refused");
	atomic_store(&app.conf, c);
	log_init("fuzz_http", 1, LOG_LEVEL_ERROR);
	app.started_at = app_now();
	if (crypto_init() == -1)
		fuzz_die("no entropy");
	fuzz_port = fuzz_free_port();
	snprintf(plain, sizeof(plain), "127.0.0.1:%d", fuzz_port);
	memset(&ho, 0, sizeof(ho));
	ho.listen = c->listen;
	ho.nlisten = c->nlisten;
	ho.tls_cert = c->tls_cert;
	ho.tls_key = c->tls_key;
	ho.threads = c->http_threads;
	ho.keepalive_timeout_ms = c->http_keepalive_timeout_ms;
	ho.request_timeout_ms = c->http_request_timeout_ms;
	ho.min_rate = c->http_min_rate;
	ho.max_connections = c->http_max_connections;
	ho.max_connections_per_address = c->http_max_connections_per_address;
	ho.routes = routes;
	ho.authorize = api_authorize;
	ho.cleanup = api_cleanup;
	ho.fuzz_plain_listen = plain;
	if (http_start(&ho, &app.http, err, sizeof(err)) == -1)
		fuzz_die(err);
	if (file_key_load(c->key_file, app.key, err, sizeof(err)) == -1 ||
	    app_keys_derive() == -1)
		fuzz_die(err);
	fuzz_store_open();
	dns_refresh();
	http_set_ready(app.http, 1);
	fuzz_fixture();
	return 0;
}

static void
fuzz_replace(char **buf, size_t *len, const char *pat, const char *val)
{
	size_t pl = strlen(pat), vl = strlen(val);
	char *p;

	while ((p = memmem(*buf, *len, pat, pl)) != NULL) {
		size_t at = (size_t)(p - *buf);
		char *n = x_malloc(*len - pl + vl + 1);

		memcpy(n, *buf, at);
		memcpy(n + at, val, vl);
		memcpy(n + at + vl, *buf + at + pl, *len - at - pl);
		*len = *len - pl + vl;
		n[*len] = '\0';
		free(*buf);
		*buf = n;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *req, *ans;
	size_t len = size, alen;
	int status;

	if (size == 0 || size > FUZZ_MAX_IN)
		return 0;
	req = x_malloc(size + 1);
	memcpy(req, data, size);
	req[size] = '\0';
	fuzz_replace(&req, &len, "@SID@", fuzz_admin.sid);
	fuzz_replace(&req, &len, "@CSRF@", fuzz_admin.csrf);
	fuzz_replace(&req, &len, "@USID@", fuzz_alice.sid);
	fuzz_replace(&req, &len, "@UCSRF@", fuzz_alice.csrf);
	fuzz_replace(&req, &len, "@TOKEN@", fuzz_token);
	fuzz_replace(&req, &len, "@TOKID@", fuzz_tokid);
	ans = fuzz_exchange(req, len, &alen);
	free(req);
	if (alen > 0) {
		if (alen < 12 || strncmp(ans, "HTTP/1.1 ", 9) != 0)
			fuzz_die("an answer without a status line");
		status = atoi(ans + 9);
		if (status == 500) {
			fprintf(stderr, "fuzz_http: %.600s\n", ans);
			fuzz_die("500 Internal Server Error");
		}
	}
	free(ans);
	if (++fuzz_runs % FUZZ_RESET_EVERY == 0 || !fuzz_fixture_ok()) {
		fuzz_store_open();
		fuzz_fixture();
	}
	return 0;
}

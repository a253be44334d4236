/*
 * conf.c against real files: every rule has a test asserting the exact
 * message and the return value, as `acctd -t` would print them. Each config
 * is written to its own temp file; in the expected text "F" stands for that
 * file's path.
 *
 * Usage: test_conf [SRCDIR]   (else $ACCTD_SRCDIR, else ".") — SRCDIR holds
 * config/acctd.conf.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "acctd.h"

/* lines 1 and 2 of most configs below: what follows starts at line 3 */
#define BASE								\
	"tls = { cert = \"/etc/acctd/tls.crt\"; key = \"/etc/acctd/tls.key\"; };\n" \
	"data_dir = \"/var/lib/acctd\";\n"
#define NODE1								\
	"nodes = ( { name = \"node1\"; url = \"https://10.0.0.11:9443\";"	\
	" cert = \"/etc/acctd/node1.crt\"; } );\n"

static const char *t_srcdir = ".";

/* A new temp file holding text. Caller unlinks and frees. */
static char *
t_write(const char *text)
{
	const char *dir = getenv("TMPDIR");
	size_t len = strlen(text);
	char *path;
	int fd;

	if (dir == NULL || *dir == '\0')
		dir = "/tmp";
	path = x_asprintf("%s/acctd-test-conf-XXXXXX", dir);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
	return path;
}

/* s with every occurrence of from replaced by to. Caller frees. */
static char *
t_subst(const char *s, const char *from, const char *to)
{
	size_t fl = strlen(from), tl = strlen(to), n = 0;
	const char *p, *q;
	char *out, *o;

	for (p = s; (q = strstr(p, from)) != NULL; p = q + fl)
		n++;
	out = o = x_malloc(strlen(s) + n * tl + 1);
	for (p = s; (q = strstr(p, from)) != NULL; p = q + fl) {
		memcpy(o, p, (size_t)(q - p));
		o += q - p;
		memcpy(o, to, tl);
		o += tl;
	}
	strcpy(o, p);
	return out;
}

/* conf_load with the errors captured; path in them replaced by "F". */
static int
t_load_file(const char *path, struct conf **out, char **errs)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m;
	int rc;

	m = open_memstream(&buf, &len);
	assert_non_null(m);
	rc = conf_load(path, m, out);
	assert_int_equal(fclose(m), 0);
	*errs = t_subst(buf, path, "F");
	free(buf);
	return rc;
}

static int
t_load(const char *text, struct conf **out, char **errs)
{
	char *path = t_write(text);
	int rc;

	rc = t_load_file(path, out, errs);
	unlink(path);
	free(path);
	return rc;
}

/* text must fail with exactly want. */
static void
t_expect(const char *text, const char *want)
{
	struct conf *c = (struct conf *)&c;	/* not NULL: must be reset */
	char *errs;

	assert_int_equal(t_load(text, &c, &errs), -1);
	assert_null(c);
	assert_string_equal(errs, want);
	free(errs);
}

/* text must load without a word. Caller frees. */
static struct conf *
t_ok(const char *text)
{
	struct conf *c = NULL;
	char *errs;
	int rc;

	rc = t_load(text, &c, &errs);
	assert_string_equal(errs, "");
	assert_int_equal(rc, 0);
	assert_non_null(c);
	free(errs);
	return c;
}

/*
 * BASE + tmpl with "%d" replaced by v: lo-1 and hi+1 fail at line 3 (4 when
 * tmpl starts with NODE1) with the range message, lo and hi load.
 */
static void
t_range(const char *tmpl, const char *setting, int lo, int hi)
{
	int vals[4] = { lo - 1, hi + 1, lo, hi };
	char num[16], *line, *text, *want;
	size_t i;

	for (i = 0; i < 4; i++) {
		snprintf(num, sizeof(num), "%d", vals[i]);
		line = t_subst(tmpl, "%d", num);
		text = x_asprintf(BASE "%s\n", line);
		if (i < 2) {
			want = x_asprintf("F:%d: %s: must be between %d and %d\n",
			    strncmp(tmpl, NODE1, strlen(NODE1)) ? 3 : 4, setting,
			    lo, hi);
			t_expect(text, want);
			free(want);
		} else
			conf_free(t_ok(text));
		free(text);
		free(line);
	}
}

/* ---------------------------------------------------------------------- */

static void
test_defaults(void **state)
{
	struct conf *c = t_ok(BASE);

	(void)state;
	assert_int_equal(c->nlisten, 1);
	assert_string_equal(c->listen[0], "127.0.0.1:8443");
	assert_string_equal(c->tls_cert, "/etc/acctd/tls.crt");
	assert_string_equal(c->tls_key, "/etc/acctd/tls.key");
	assert_string_equal(c->data_dir, "/var/lib/acctd");
	assert_string_equal(c->key_file, "/var/lib/acctd/appliance.key");
	assert_int_equal(c->map_size_mb, 256);
	assert_string_equal(c->user, "acctd");
	assert_int_equal(c->log_level, LOG_LEVEL_INFO);
	assert_int_equal(c->audit_capacity, 100000);
	assert_int_equal(c->tokens_max_per_user, 2);
	assert_int_equal(c->sessions_idle_timeout, 1800);
	assert_int_equal(c->sessions_absolute_timeout, 43200);
	assert_int_equal(c->pbkdf2_iterations, 600000);
	assert_int_equal(c->passwords_rotate_every_days, 0);
	assert_int_equal(c->login_max_failures, 5);
	assert_int_equal(c->login_window, 300);
	assert_int_equal(c->login_lockout, 900);
	assert_string_equal(c->admin_handle, "admin");
	assert_string_equal(c->admin_email, "admin@localhost");
	assert_string_equal(c->admin_password_file,
	    "/var/lib/acctd/admin.password");
	assert_string_equal(c->dns_domain, "ws.gateway.local");
	assert_string_equal(c->dns_hosts_file, "/run/acctd/workspaces.hosts");
	assert_string_equal(c->dns_reload_pidfile, "");
	assert_string_equal(c->push_client_cert, "");
	assert_string_equal(c->push_client_key, "");
	assert_int_equal(c->push_retry_max_seconds, 300);
	assert_int_equal(c->nnodes, 0);
	assert_int_equal(c->nworkspaces, 0);
	assert_int_equal(c->http_threads, 32);
	assert_int_equal(c->http_keepalive_timeout_ms, 2000);
	assert_int_equal(c->http_request_timeout_ms, 10000);
	assert_int_equal(c->rate_writes_per_minute, 60);
	assert_int_equal(c->rate_writes_burst, 30);
	assert_int_equal(c->http_min_rate, 128);
	assert_int_equal(c->http_max_connections, 512);
	assert_int_equal(c->http_max_connections_per_address, 64);
	assert_non_null(c->path);
	conf_free(c);
}

static void
test_derived_paths(void **state)
{
	struct conf *c;

	(void)state;
	c = t_ok("tls = { cert = \"/c\"; key = \"/k\"; };\n"
	    "data_dir = \"/srv/acctd/\";\n");
	assert_string_equal(c->key_file, "/srv/acctd/appliance.key");
	assert_string_equal(c->admin_password_file, "/srv/acctd/admin.password");
	conf_free(c);
	c = t_ok(BASE "key_file = \"/etc/acctd/k\";\n"
	    "bootstrap_admin = { password_file = \"/root/pw\"; };\n");
	assert_string_equal(c->key_file, "/etc/acctd/k");
	assert_string_equal(c->admin_password_file, "/root/pw");
	conf_free(c);
}

/* every setting away from its default lands in its own field */
static void
test_all_settings(void **state)
{
	struct conf *c;

	(void)state;
	c = t_ok(
	    "listen = [ \"0.0.0.0:443\", \"[::]:443\" ];\n"
	    "tls = { cert = \"/a/cert\"; key = \"/a/key\"; };\n"
	    "data_dir = \"/a/data\";\n"
	    "key_file = \"/a/appliance.key\";\n"
	    "map_size_mb = 1024;\n"
	    "user = \"\";\n"
	    "log_level = \"debug\";\n"
	    "audit = { capacity = 5000; };\n"
	    "tokens = { max_per_user = 7; };\n"
	    "sessions = { idle_timeout = 600; absolute_timeout = 7200; };\n"
	    "passwords = { pbkdf2_iterations = 1000; };\n"
	    "login = { max_failures = 3; window = 60; lockout = 120; };\n"
	    "bootstrap_admin = { handle = \"root-1\"; email = \"r@example.org\";"
	    " password_file = \"/a/pw\"; };\n"
	    "dns = { domain = \"ws.example\"; hosts_file = \"/a/hosts\";"
	    " reload_pidfile = \"/run/dnsmasq.pid\"; };\n"
	    "push = { client_cert = \"/a/pc\"; client_key = \"/a/pk\";"
	    " retry_max_seconds = 60; };\n"
	    "nodes = (\n"
	    "  { name = \"n1\"; url = \"https://[fd00::1]:9443\"; cert = \"/a/n1\"; },\n"
	    "  { name = \"n2\"; url = \"https://n2.lan:1\"; cert = \"/a/n2\"; }\n"
	    ");\n"
	    "workspaces = (\n"
	    "  { handle = \"w1\"; owner = \"alice\"; node = \"n2\";"
	    " database = \"_d1\"; port = 5432; },\n"
	    "  { handle = \"w1\"; owner = \"bob\"; members = [ \"alice\", \"c-d\" ];"
	    " node = \"n1\"; database = \"db\"; port = 65535; }\n"
	    ");\n"
	    "http = { threads = 4; keepalive_timeout_ms = 0;"
	    " request_timeout_ms = 120000; min_rate = 0; max_connections = 16;"
	    " max_connections_per_address = 3; };\n"
	    "rate_limit = { writes_per_minute = 6; writes_burst = 2; };\n");
	assert_int_equal(c->rate_writes_per_minute, 6);
	assert_int_equal(c->rate_writes_burst, 2);
	assert_int_equal(c->nlisten, 2);
	assert_string_equal(c->listen[0], "0.0.0.0:443");
	assert_string_equal(c->listen[1], "[::]:443");
	assert_string_equal(c->tls_cert, "/a/cert");
	assert_string_equal(c->tls_key, "/a/key");
	assert_string_equal(c->data_dir, "/a/data");
	assert_string_equal(c->key_file, "/a/appliance.key");
	assert_int_equal(c->map_size_mb, 1024);
	assert_string_equal(c->user, "");
	assert_int_equal(c->log_level, LOG_LEVEL_DEBUG);
	assert_int_equal(c->audit_capacity, 5000);
	assert_int_equal(c->tokens_max_per_user, 7);
	assert_int_equal(c->sessions_idle_timeout, 600);
	assert_int_equal(c->sessions_absolute_timeout, 7200);
	assert_int_equal(c->pbkdf2_iterations, 1000);
	assert_int_equal(c->login_max_failures, 3);
	assert_int_equal(c->login_window, 60);
	assert_int_equal(c->login_lockout, 120);
	assert_string_equal(c->admin_handle, "root-1");
	assert_string_equal(c->admin_email, "r@example.org");
	assert_string_equal(c->admin_password_file, "/a/pw");
	assert_string_equal(c->dns_domain, "ws.example");
	assert_string_equal(c->dns_hosts_file, "/a/hosts");
	assert_string_equal(c->dns_reload_pidfile, "/run/dnsmasq.pid");
	assert_string_equal(c->push_client_cert, "/a/pc");
	assert_string_equal(c->push_client_key, "/a/pk");
	assert_int_equal(c->push_retry_max_seconds, 60);
	assert_int_equal(c->nnodes, 2);
	assert_string_equal(c->nodes[0].name, "n1");
	assert_string_equal(c->nodes[0].url, "https://[fd00::1]:9443");
	assert_string_equal(c->nodes[0].cert, "/a/n1");
	assert_int_equal(c->nodes[0].line, 17);
	assert_string_equal(c->nodes[1].name, "n2");
	assert_string_equal(c->nodes[1].url, "https://n2.lan:1");
	assert_string_equal(c->nodes[1].cert, "/a/n2");
	assert_int_equal(c->nodes[1].line, 18);
	assert_int_equal(c->nworkspaces, 2);
	assert_string_equal(c->workspaces[0].handle, "w1");
	assert_string_equal(c->workspaces[0].owner, "alice");
	assert_int_equal(c->workspaces[0].nmembers, 0);
	assert_string_equal(c->workspaces[0].node, "n2");
	assert_string_equal(c->workspaces[0].database, "_d1");
	assert_int_equal(c->workspaces[0].port, 5432);
	assert_int_equal(c->workspaces[0].line, 21);
	assert_string_equal(c->workspaces[1].owner, "bob");
	assert_int_equal(c->workspaces[1].nmembers, 2);
	assert_string_equal(c->workspaces[1].members[0], "alice");
	assert_string_equal(c->workspaces[1].members[1], "c-d");
	assert_string_equal(c->workspaces[1].node, "n1");
	assert_string_equal(c->workspaces[1].database, "db");
	assert_int_equal(c->workspaces[1].port, 65535);
	assert_int_equal(c->workspaces[1].line, 22);
	assert_int_equal(c->http_threads, 4);
	assert_int_equal(c->http_keepalive_timeout_ms, 0);
	assert_int_equal(c->http_request_timeout_ms, 120000);
	assert_int_equal(c->http_min_rate, 0);
	assert_int_equal(c->http_max_connections, 16);
	assert_int_equal(c->http_max_connections_per_address, 3);
	conf_free(c);
}

static void
test_sample_config(void **state)
{
	struct conf *c = NULL;
	char *path, *errs;
	int rc;

	(void)state;
	path = x_asprintf("%s/config/acctd.conf", t_srcdir);
	rc = t_load_file(path, &c, &errs);
	assert_string_equal(errs, "");
	assert_int_equal(rc, 0);
	assert_string_equal(c->tls_cert, "/etc/acctd/tls.crt");
	assert_string_equal(c->key_file, "/var/lib/acctd/appliance.key");
	assert_int_equal(c->pbkdf2_iterations, 600000);
	/* the example node and workspace are commented out (issue 14): a
	 * fresh install pushes to no one */
	assert_int_equal(c->nnodes, 0);
	assert_int_equal(c->nworkspaces, 0);
	assert_int_equal(c->http_threads, 32);
	free(errs);
	free(path);
	conf_free(c);
}

static void
test_file_unreadable(void **state)
{
	struct conf *c = NULL;
	const char *dir = getenv("TMPDIR");
	char *errs;

	(void)state;
	assert_int_equal(t_load_file("/nonexistent/acctd.conf", &c, &errs), -1);
	assert_null(c);
	assert_string_equal(errs, "F:0: file: No such file or directory\n");
	free(errs);
	if (dir == NULL || *dir == '\0')
		dir = "/tmp";
	assert_int_equal(t_load_file(dir, &c, &errs), -1);
	assert_null(c);
	assert_string_equal(errs, "F:0: file: Is a directory\n");
	free(errs);
}

static void
test_syntax(void **state)
{
	(void)state;
	t_expect(BASE "map_size_mb = ;\n", "F:3: syntax: syntax error\n");
	t_expect(BASE "map_size_mb = 8 9;\nuser = \"x\";\n",
	    "F:3: syntax: syntax error\n");
	/* libconfig reports an unclosed group at the end of the file */
	t_expect(BASE "sessions = {\n\tidle_timeout = 60;\n",
	    "F:5: syntax: syntax error\n");
	t_expect(BASE "data_dir = \"/srv\";\n",
	    "F:3: syntax: duplicate setting name\n");
	t_expect(BASE "listen = [ \"*:1\", 2 ];\n",
	    "F:3: syntax: mismatched element type in array\n");
}

static void
test_required(void **state)
{
	(void)state;
	t_expect("", "F:1: tls: required setting missing\n"
	    "F:1: data_dir: required setting missing\n");
	t_expect("# comment\n\ntls = {\n\tcert = \"/c\";\n};\n"
	    "data_dir = \"/d\";\n",
	    "F:3: tls.key: required setting missing\n");
	t_expect("data_dir = \"/d\";\ntls = {};\n",
	    "F:2: tls.cert: required setting missing\n"
	    "F:2: tls.key: required setting missing\n");
}

static void
test_unknown_setting(void **state)
{
	(void)state;
	t_expect(BASE "colour = 1;\nsessions = { idle = 60; };\n"
	    "tls2 = { cert = \"/c\"; };\n",
	    "F:3: colour: unknown setting\n"
	    "F:4: sessions.idle: unknown setting\n"
	    "F:5: tls2: unknown setting\n");
	/* names are case-sensitive */
	t_expect(BASE "Map_Size_MB = 64;\n", "F:3: Map_Size_MB: unknown setting\n");
}

static void
test_type_integer(void **state)
{
	(void)state;
	t_expect(BASE "map_size_mb = \"256\";\naudit = { capacity = 1.5e5; };\n"
	    "tokens = { max_per_user = true; };\nhttp = { threads = [ 4 ]; };\n",
	    "F:3: map_size_mb: must be an integer\n"
	    "F:4: audit.capacity: must be an integer\n"
	    "F:5: tokens.max_per_user: must be an integer\n"
	    "F:6: http.threads: must be an integer\n");
}

static void
test_type_string(void **state)
{
	(void)state;
	t_expect(BASE "user = 0;\nlog_level = 3;\ndns = { domain = [ \"a\" ]; };\n"
	    "key_file = { path = \"/k\"; };\n",
	    "F:3: user: must be a string\n"
	    "F:4: log_level: must be a string\n"
	    "F:5: dns.domain: must be a string\n"
	    "F:6: key_file: must be a string\n");
}

static void
test_type_group(void **state)
{
	(void)state;
	t_expect("tls = \"/etc/tls\";\ndata_dir = \"/d\";\nhttp = [ 1 ];\n"
	    "push = ( { client_cert = \"/c\"; } );\n",
	    "F:1: tls: must be a group\n"
	    "F:3: http: must be a group\n"
	    "F:4: push: must be a group\n");
}

static void
test_int64(void **state)
{
	struct conf *c;

	(void)state;
	t_expect(BASE "map_size_mb = 100000000000L;\n",
	    "F:3: map_size_mb: must be between 8 and 65536\n");
	t_expect(BASE "map_size_mb = -4294967296L;\n",
	    "F:3: map_size_mb: must be between 8 and 65536\n");
	c = t_ok(BASE "map_size_mb = 512L;\naudit = { capacity = 0x100; };\n");
	assert_int_equal(c->map_size_mb, 512);
	assert_int_equal(c->audit_capacity, 256);
	conf_free(c);
}

static void
test_range_map_size(void **state)
{
	(void)state;
	/* the smallest map holds the smallest ring only (test_audit_fits) */
	t_range("map_size_mb = %d; audit = { capacity = 100; };", "map_size_mb",
	    8, 65536);
}

static void
test_range_audit(void **state)
{
	(void)state;
	t_range("map_size_mb = 65536; audit = { capacity = %d; };",
	    "audit.capacity", 100, 10000000);
}

static void
test_range_tokens(void **state)
{
	(void)state;
	t_range("tokens = { max_per_user = %d; };", "tokens.max_per_user", 1,
	    100);
}

static void
test_range_sessions(void **state)
{
	(void)state;
	t_range("sessions = { idle_timeout = %d; absolute_timeout = 2592000; };",
	    "sessions.idle_timeout", 60, 86400);
	t_range("sessions = { idle_timeout = 60; absolute_timeout = %d; };",
	    "sessions.absolute_timeout", 300, 2592000);
}

static void
test_range_pbkdf2(void **state)
{
	(void)state;
	t_range("passwords = { pbkdf2_iterations = %d; };",
	    "passwords.pbkdf2_iterations", 1000, 10000000);
	t_range("passwords = { rotate_every_days = %d; };",
	    "passwords.rotate_every_days", 0, 3650);
}

static void
test_range_login(void **state)
{
	(void)state;
	t_range("login = { max_failures = %d; };", "login.max_failures", 1,
	    1000);
	t_range("login = { window = %d; };", "login.window", 1, 86400);
	t_range("login = { lockout = %d; };", "login.lockout", 1, 604800);
}

static void
test_range_push(void **state)
{
	(void)state;
	t_range("push = { retry_max_seconds = %d; };", "push.retry_max_seconds",
	    1, 86400);
}

/* libconfig 1.5 read 4294967304 as 8 (atoi) and it passed as in range;
 * 1.7 reads it as a 64-bit integer, which the range refuses */
static void
test_int_beyond_32_bits(void **state)
{
	(void)state;
	t_expect(BASE "http = { threads = 4294967304; };\n",
	    "F:3: http.threads: must be between 2 and 256\n");
	t_expect(BASE "http = { threads = -4294967294; };\n",
	    "F:3: http.threads: must be between 2 and 256\n");
}

static void
test_range_http(void **state)
{
	(void)state;
	t_range("http = { threads = %d; };", "http.threads", 2, 256);
	t_range("http = { keepalive_timeout_ms = %d; };",
	    "http.keepalive_timeout_ms", 0, 60000);
	t_range("http = { request_timeout_ms = %d; };",
	    "http.request_timeout_ms", 1000, 120000);
	t_range("http = { min_rate = %d; };", "http.min_rate", 0, 1048576);
	t_range("http = { max_connections = %d; };", "http.max_connections",
	    16, 16384);
	t_range("http = { max_connections_per_address = %d; };",
	    "http.max_connections_per_address", 1, 16384);
}

static void
test_range_rate(void **state)
{
	(void)state;
	t_range("rate_limit = { writes_per_minute = %d; };",
	    "rate_limit.writes_per_minute", 1, 60000);
	t_range("rate_limit = { writes_burst = %d; };",
	    "rate_limit.writes_burst", 1, 10000);
}

static void
test_range_workspace_port(void **state)
{
	(void)state;
	t_range(NODE1 "workspaces = ( { handle = \"w\"; owner = \"o\";"
	    " node = \"node1\"; database = \"d\"; port = %d; } );",
	    "workspaces[0].port", 1, 65535);
}

static void
test_log_level(void **state)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	struct conf *c;
	char *text;
	size_t i;

	(void)state;
	for (i = 0; i < 4; i++) {
		text = x_asprintf(BASE "log_level = \"%s\";\n", names[i]);
		c = t_ok(text);
		assert_int_equal(c->log_level, (int)i);
		conf_free(c);
		free(text);
	}
	t_expect(BASE "log_level = \"verbose\";\n",
	    "F:3: log_level: must be one of error, warn, info, debug\n");
	t_expect(BASE "log_level = \"DEBUG\";\n",
	    "F:3: log_level: must be one of error, warn, info, debug\n");
}

static void
test_listen(void **state)
{
	struct conf *c;

	(void)state;
	t_expect(BASE "listen = [];\n", "F:3: listen: must not be empty\n");
	t_expect(BASE "listen = \"127.0.0.1:8443\";\n",
	    "F:3: listen: must be an array of strings\n");
	t_expect(BASE "listen = ( 8443 );\n", "F:3: listen[0]: must be a string\n");
	t_expect(BASE "listen = [\n"
	    "\"localhost:443\",\n"
	    "\"127.0.0.1\",\n"
	    "\"[::1]443\",\n"
	    "\"[fe80::zz]:443\",\n"
	    "\"127.0.0.1:0\",\n"
	    "\"127.0.0.1:65536\",\n"
	    "\"127.0.0.1:44a\",\n"
	    "\":443\",\n"
	    "\"\",\n"
	    "\"10.0.0.1:99999999999999999999\",\n"
	    "\"::1:443\" ];\n",
	    "F:4: listen[0]: must be host:port with an ip address or * as host\n"
	    "F:5: listen[1]: must be host:port with an ip address or * as host\n"
	    "F:6: listen[2]: must be host:port with an ip address or * as host\n"
	    "F:7: listen[3]: must be host:port with an ip address or * as host\n"
	    "F:8: listen[4]: port must be between 1 and 65535\n"
	    "F:9: listen[5]: port must be between 1 and 65535\n"
	    "F:10: listen[6]: must be host:port with an ip address or * as host\n"
	    "F:11: listen[7]: must be host:port with an ip address or * as host\n"
	    "F:12: listen[8]: must not be empty\n"
	    "F:13: listen[9]: port must be between 1 and 65535\n"
	    "F:14: listen[10]: must be host:port with an ip address or * as host\n");
	t_expect(BASE "listen = [ \"*:443\", \"[::]:443\", \"*:443\" ];\n",
	    "F:3: listen[2]: duplicate listen address \"*:443\"\n");
	c = t_ok(BASE "listen = [ \"*:443\", \"[::]:443\", \"0.0.0.0:1\","
	    " \"192.168.1.1:65535\", \"[::1]:08443\" ];\n");
	assert_int_equal(c->nlisten, 5);
	assert_string_equal(c->listen[0], "*:443");
	assert_string_equal(c->listen[4], "[::1]:08443");
	conf_free(c);
}

static void
test_handle_valid(void **state)
{
	static const char *const good[] = { "a", "0", "admin", "a-b",
	    "a1-b2-c3", "123456789012345678901234567890123456789" };
	static const char *const bad[] = { "", "-a", "a-", "a--b", "A",
	    "a_b", "a.b", "a b", "\xc3\xa9", "alice\n",
	    "1234567890123456789012345678901234567890" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(name_handle_valid(good[i]));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(name_handle_valid(bad[i]));
	assert_false(name_handle_valid(NULL));
}

static void
test_admin_handle(void **state)
{
	(void)state;
	t_expect(BASE "bootstrap_admin = { handle = \"Admin\"; };\n",
	    "F:3: bootstrap_admin.handle: not a valid user handle\n");
	t_expect(BASE "bootstrap_admin = { handle = \"\"; };\n",
	    "F:3: bootstrap_admin.handle: must not be empty\n");
	t_expect(BASE "bootstrap_admin = { handle = \"root-\"; };\n",
	    "F:3: bootstrap_admin.handle: not a valid user handle\n");
}

static void
test_admin_email(void **state)
{
	static const char *const bad[] = { "admin", "@localhost", "admin@",
	    "a@b@c" };
	struct conf *c;
	char *text;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		text = x_asprintf(BASE "bootstrap_admin = { email = \"%s\"; };\n",
		    bad[i]);
		t_expect(text, "F:3: bootstrap_admin.email: must contain one @"
		    " with text on both sides\n");
		free(text);
	}
	c = t_ok(BASE "bootstrap_admin = { email = \"ops@gw.example\"; };\n");
	assert_string_equal(c->admin_email, "ops@gw.example");
	conf_free(c);
}

static void
test_dns_domain(void **state)
{
	static const char *const bad[] = { "Ws.Gateway", "ws..local",
	    "-ws.local", "ws-.local", "ws.local.", ".ws", "ws_1.local",
	    "ws local",
	    "a234567890123456789012345678901234567890123456789012345678901234.x" };
	static const char *const good[] = { "ws.gateway.local", "local",
	    "a-b.c0", "0.example",
	    "a23456789012345678901234567890123456789012345678901234567890123.x" };
	struct conf *c;
	char *text;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		text = x_asprintf(BASE "dns = { domain = \"%s\"; };\n", bad[i]);
		t_expect(text, "F:3: dns.domain: not a valid lowercase dns name\n");
		free(text);
	}
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		text = x_asprintf(BASE "dns = { domain = \"%s\"; };\n", good[i]);
		c = t_ok(text);
		assert_string_equal(c->dns_domain, good[i]);
		conf_free(c);
		free(text);
	}
}

static void
test_metrics_token(void **state)
{
	static const char *const bad[] = { "abc",
	    "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde",
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0",
	    "g123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" };
	static const char good[] =
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	struct conf *c;
	char *text;
	size_t i;

	(void)state;
	c = t_ok(BASE);
	assert_string_equal(c->metrics_token_sha256, "");    /* off */
	conf_free(c);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		text = x_asprintf(BASE "metrics = { token_sha256 = \"%s\"; };\n", bad[i]);
		t_expect(text, "F:3: metrics.token_sha256: must be 64 lowercase hex "
		    "digits (the SHA-256 of the token)\n");
		free(text);
	}
	text = x_asprintf(BASE "metrics = { token_sha256 = \"%s\"; };\n", good);
	c = t_ok(text);
	assert_string_equal(c->metrics_token_sha256, good);
	conf_free(c);
	free(text);
	t_expect(BASE "metrics = { token = \"x\"; };\n", "F:3: metrics.token: unknown setting\n");
}

static void
test_absolute_paths(void **state)
{
	(void)state;
	t_expect("tls = { cert = \"tls.crt\"; key = \"./tls.key\"; };\n"
	    "data_dir = \"var/lib/acctd\";\n"
	    "key_file = \"appliance.key\";\n"
	    "bootstrap_admin = { password_file = \"~/pw\"; };\n"
	    "dns = { hosts_file = \"hosts\"; reload_pidfile = \"dnsmasq.pid\"; };\n"
	    "push = { client_cert = \"c\"; client_key = \"k\"; };\n"
	    "nodes = ( { name = \"n\"; url = \"https://n:1\"; cert = \"n.crt\"; } );\n",
	    "F:1: tls.cert: must be an absolute path\n"
	    "F:1: tls.key: must be an absolute path\n"
	    "F:2: data_dir: must be an absolute path\n"
	    "F:3: key_file: must be an absolute path\n"
	    "F:4: bootstrap_admin.password_file: must be an absolute path\n"
	    "F:5: dns.hosts_file: must be an absolute path\n"
	    "F:5: dns.reload_pidfile: must be an absolute path\n"
	    "F:6: push.client_cert: must be an absolute path\n"
	    "F:6: push.client_key: must be an absolute path\n"
	    "F:7: nodes[0].cert: must be an absolute path\n");
}

static void
test_empty_strings(void **state)
{
	struct conf *c;

	(void)state;
	t_expect("tls = { cert = \"\"; key = \"/k\"; };\ndata_dir = \"\";\n"
	    "key_file = \"\";\ndns = { domain = \"\"; hosts_file = \"\"; };\n",
	    "F:1: tls.cert: must not be empty\n"
	    "F:2: data_dir: must not be empty\n"
	    "F:3: key_file: must not be empty\n"
	    "F:4: dns.domain: must not be empty\n"
	    "F:4: dns.hosts_file: must not be empty\n");
	/* these three mean "off" when empty */
	c = t_ok(BASE "user = \"\";\ndns = { reload_pidfile = \"\"; };\n"
	    "push = { client_cert = \"\"; client_key = \"\"; };\n");
	assert_string_equal(c->user, "");
	assert_string_equal(c->dns_reload_pidfile, "");
	assert_string_equal(c->push_client_cert, "");
	conf_free(c);
}

static void
test_push_pair(void **state)
{
	struct conf *c;

	(void)state;
	t_expect(BASE "push = { client_cert = \"/etc/acctd/push.crt\"; };\n",
	    "F:3: push.client_key: required when push.client_cert is set\n");
	t_expect(BASE "push = {\n\tclient_key = \"/etc/acctd/push.key\";\n"
	    "\tclient_cert = \"\";\n};\n",
	    "F:5: push.client_cert: required when push.client_key is set\n");
	/* a bad one is reported once, not again as missing */
	t_expect(BASE "push = { client_cert = \"push.crt\"; client_key = \"/k\"; };\n",
	    "F:3: push.client_cert: must be an absolute path\n");
	c = t_ok(BASE "push = { client_cert = \"/c\"; client_key = \"/k\"; };\n");
	assert_string_equal(c->push_client_cert, "/c");
	assert_string_equal(c->push_client_key, "/k");
	conf_free(c);
}

static void
test_sessions_order(void **state)
{
	struct conf *c;

	(void)state;
	t_expect(BASE "sessions = {\n\tidle_timeout = 3600;\n"
	    "\tabsolute_timeout = 1800;\n};\n",
	    "F:4: sessions.idle_timeout: must not exceed"
	    " sessions.absolute_timeout\n");
	/* idle_timeout left at its default 1800: blame the one that is set */
	t_expect(BASE "sessions = { absolute_timeout = 1200; };\n",
	    "F:3: sessions.absolute_timeout: must not be less than"
	    " sessions.idle_timeout\n");
	/* an out-of-range value is reported once */
	t_expect(BASE "sessions = { idle_timeout = 90000; absolute_timeout = 300; };\n",
	    "F:3: sessions.idle_timeout: must be between 60 and 86400\n");
	c = t_ok(BASE "sessions = { idle_timeout = 900; absolute_timeout = 900; };\n");
	assert_int_equal(c->sessions_idle_timeout, 900);
	conf_free(c);
}

/* the ring at its worst case plus headroom must fit in the map */
static void
test_audit_fits(void **state)
{
	struct conf *c;

	(void)state;
	/* the defaults fit: 100000 records need 238 MB */
	conf_free(t_ok(BASE));
	conf_free(t_ok(BASE "map_size_mb = 238;\n"));
	t_expect(BASE "map_size_mb = 237;\n",
	    "F:3: audit.capacity: 100000 records do not fit map_size_mb = 237 "
	    "(2176 bytes each at worst, plus 29 MB for users, sessions and "
	    "tokens): at most 99930 fit; lower audit.capacity or raise "
	    "map_size_mb to at least 238\n");
	/* named at audit.capacity when it is set; 4 MB headroom at least */
	c = t_ok(BASE "map_size_mb = 8;\naudit = { capacity = 1927; };\n");
	assert_int_equal(c->audit_capacity, 1927);
	conf_free(c);
	t_expect(BASE "map_size_mb = 8;\naudit = {\n\tcapacity = 1928;\n};\n",
	    "F:5: audit.capacity: 1928 records do not fit map_size_mb = 8 "
	    "(2176 bytes each at worst, plus 4 MB for users, sessions and "
	    "tokens): at most 1927 fit; lower audit.capacity or raise "
	    "map_size_mb to at least 9\n");
	t_expect(BASE "audit = { capacity = 10000000; };\n",
	    "F:3: audit.capacity: 10000000 records do not fit map_size_mb = 256 "
	    "(2176 bytes each at worst, plus 32 MB for users, sessions and "
	    "tokens): at most 107941 fit; lower audit.capacity or raise "
	    "map_size_mb to at least 23717\n");
	/* a bad map_size_mb is reported once, not also as too small */
	t_expect(BASE "map_size_mb = 4;\n",
	    "F:3: map_size_mb: must be between 8 and 65536\n");
}

static void
test_nodes_type(void **state)
{
	struct conf *c;

	(void)state;
	t_expect(BASE "nodes = { name = \"n\"; };\n",
	    "F:3: nodes: must be a list of groups\n");
	t_expect(BASE "nodes = [ \"node1\" ];\n",
	    "F:3: nodes: must be a list of groups\n");
	t_expect(BASE "nodes = ( \"node1\" );\n", "F:3: nodes[0]: must be a group\n");
	c = t_ok(BASE "nodes = [];\nworkspaces = ();\n");
	assert_int_equal(c->nnodes, 0);
	assert_int_equal(c->nworkspaces, 0);
	conf_free(c);
}

static void
test_node_required(void **state)
{
	(void)state;
	t_expect(BASE "nodes = (\n\t{\n\t}\n);\n",
	    "F:4: nodes[0].name: required setting missing\n"
	    "F:4: nodes[0].url: required setting missing\n"
	    "F:4: nodes[0].cert: required setting missing\n");
}

static void
test_node_unknown_setting(void **state)
{
	(void)state;
	t_expect(BASE "nodes = ( { name = \"n\"; url = \"https://n:1\";"
	    " cert = \"/n\"; port = 1; } );\n",
	    "F:3: nodes[0].port: unknown setting\n");
}

static void
test_node_name(void **state)
{
	static const char *const bad[] = { "Node1", "-n", "n_1", "n.1",
	    "n23456789012345678901234567890123" };
	static const char *const good[] = { "n", "0", "n-", "node-1",
	    "n2345678901234567890123456789012" };
	struct conf *c;
	char *text;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		text = x_asprintf(BASE "nodes = ( { name = \"%s\";"
		    " url = \"https://n:1\"; cert = \"/n\"; } );\n", bad[i]);
		t_expect(text, "F:3: nodes[0].name: not a valid node name\n");
		free(text);
	}
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		text = x_asprintf(BASE "nodes = ( { name = \"%s\";"
		    " url = \"https://n:1\"; cert = \"/n\"; } );\n", good[i]);
		c = t_ok(text);
		assert_string_equal(c->nodes[0].name, good[i]);
		conf_free(c);
		free(text);
	}
}

static void
test_node_url(void **state)
{
	static const char *const bad[] = { "http://10.0.0.1:9443",
	    "https://10.0.0.1", "https://10.0.0.1:9443/", "https://:9443",
	    "https://Node.lan:1", "https://[::1:1", "https://[::1]",
	    "https://user@n:1", "https://n:1:2", "10.0.0.1:9443" };
	static const char *const good[] = { "https://10.0.0.11:9443",
	    "https://[fd00::11]:9443", "https://node1.ws.lan:1" };
	struct conf *c;
	char *text;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		text = x_asprintf(BASE "nodes = ( { name = \"n\"; url = \"%s\";"
		    " cert = \"/n\"; } );\n", bad[i]);
		t_expect(text, "F:3: nodes[0].url: must be https://host:port\n");
		free(text);
	}
	t_expect(BASE "nodes = ( { name = \"n\"; url = \"https://n:0\";"
	    " cert = \"/n\"; } );\n",
	    "F:3: nodes[0].url: port must be between 1 and 65535\n");
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		text = x_asprintf(BASE "nodes = ( { name = \"n\"; url = \"%s\";"
		    " cert = \"/n\"; } );\n", good[i]);
		c = t_ok(text);
		assert_string_equal(c->nodes[0].url, good[i]);
		conf_free(c);
		free(text);
	}
}

static void
test_node_duplicate(void **state)
{
	(void)state;
	t_expect(BASE "nodes = (\n"
	    "\t{ name = \"node1\"; url = \"https://a:1\"; cert = \"/a\"; },\n"
	    "\t{ name = \"node2\"; url = \"https://b:1\"; cert = \"/b\"; },\n"
	    "\t{ url = \"https://c:1\";\n\t  name = \"node1\"; cert = \"/c\"; }\n"
	    ");\n",
	    "F:7: nodes[2].name: duplicate node name \"node1\"\n");
}

static void
test_workspace_required(void **state)
{
	(void)state;
	t_expect(BASE NODE1 "workspaces = ( {} );\n",
	    "F:4: workspaces[0].handle: required setting missing\n"
	    "F:4: workspaces[0].owner: required setting missing\n"
	    "F:4: workspaces[0].node: required setting missing\n"
	    "F:4: workspaces[0].database: required setting missing\n"
	    "F:4: workspaces[0].port: required setting missing\n");
}

static void
test_workspace_fields(void **state)
{
	(void)state;
	t_expect(BASE NODE1 "workspaces = (\n"
	    "{ handle = \"Prod\"; owner = \"alice\"; node = \"node1\";"
	    " database = \"d\"; port = 1; },\n"
	    "{ handle = \"pr-od\"; owner = \"al_ice\"; node = \"node1\";"
	    " database = \"1db\"; port = 1; },\n"
	    "{ handle = \"a23456789012345678901234\"; owner = \"a\";"
	    " node = \"node1\"; database = \"Db\"; port = \"1\"; },\n"
	    "{ handle = \"w\"; owner = \"a\"; node = \"node1\"; database ="
	    " \"a23456789012345678901234567890123456789012345678901234567890123a\";"
	    " port = 1; colour = \"red\"; }\n"
	    ");\n",
	    "F:5: workspaces[0].handle: not a valid workspace handle\n"
	    "F:6: workspaces[1].handle: not a valid workspace handle\n"
	    "F:6: workspaces[1].owner: not a valid user handle\n"
	    "F:6: workspaces[1].database: not a valid database name\n"
	    "F:7: workspaces[2].handle: not a valid workspace handle\n"
	    "F:7: workspaces[2].database: not a valid database name\n"
	    "F:7: workspaces[2].port: must be an integer\n"
	    "F:8: workspaces[3].database: not a valid database name\n"
	    "F:8: workspaces[3].colour: unknown setting\n");
}

static void
test_workspace_members(void **state)
{
	struct conf *c;

	(void)state;
	t_expect(BASE NODE1 "workspaces = ( { handle = \"w\"; owner = \"a\";"
	    " members = \"bob\"; node = \"node1\"; database = \"d\"; port = 1; } );\n",
	    "F:4: workspaces[0].members: must be an array of strings\n");
	t_expect(BASE NODE1 "workspaces = ( { handle = \"w\"; owner = \"a\";"
	    " members = [ \"bob\",\n\"Carol\",\n\"bob\", \"\" ];"
	    " node = \"node1\"; database = \"d\"; port = 1; } );\n",
	    "F:5: workspaces[0].members[1]: not a valid user handle\n"
	    "F:6: workspaces[0].members[2]: duplicate member \"bob\"\n"
	    "F:6: workspaces[0].members[3]: must not be empty\n");
	c = t_ok(BASE NODE1 "workspaces = ( { handle = \"w\"; owner = \"a\";"
	    " members = []; node = \"node1\"; database = \"d\"; port = 1; } );\n");
	assert_int_equal(c->workspaces[0].nmembers, 0);
	conf_free(c);
}

static void
test_workspace_unknown_node(void **state)
{
	(void)state;
	t_expect(BASE NODE1 "workspaces = ( { handle = \"w\"; owner = \"a\";"
	    "\n node = \"node9\"; database = \"d\"; port = 1; } );\n",
	    "F:5: workspaces[0].node: unknown node \"node9\"\n");
	/* not a node name: not quoted, so a line break in the value cannot
	 * forge another error line (found by tests/fuzz/fuzz_conf) */
	t_expect(BASE NODE1 "workspaces = ( { handle = \"w\"; owner = \"a\";"
	    "\n node = \"node-{\nF:1: tls: ok\"; database = \"d\"; port = 1; } );\n",
	    "F:5: workspaces[0].node: not a valid node name\n");
	/* no nodes at all */
	t_expect(BASE "workspaces = ( { handle = \"w\"; owner = \"a\";"
	    " node = \"node1\"; database = \"d\"; port = 1; } );\n",
	    "F:3: workspaces[0].node: unknown node \"node1\"\n");
	/* a broken node list is reported once, not once per workspace */
	t_expect(BASE "nodes = ( { name = \"Node1\"; url = \"https://a:1\";"
	    " cert = \"/a\"; } );\n"
	    "workspaces = ( { handle = \"w\"; owner = \"a\";"
	    " node = \"Node1\"; database = \"d\"; port = 1; } );\n",
	    "F:3: nodes[0].name: not a valid node name\n");
}

static void
test_workspace_duplicate(void **state)
{
	struct conf *c;

	(void)state;
	t_expect(BASE NODE1 "workspaces = (\n"
	    "{ handle = \"w\"; owner = \"a\"; node = \"node1\"; database = \"d\";"
	    " port = 1; },\n"
	    "{ handle = \"w\"; owner = \"b\"; node = \"node1\"; database = \"d\";"
	    " port = 2; },\n"
	    "{ owner = \"a\"; node = \"node1\"; database = \"e\"; port = 3;\n"
	    "  handle = \"w\"; }\n"
	    ");\n",
	    "F:8: workspaces[2].handle: duplicate workspace \"w\" of owner \"a\"\n");
	/* the same handle under two owners is two workspaces */
	c = t_ok(BASE NODE1 "workspaces = (\n"
	    "{ handle = \"w\"; owner = \"a\"; node = \"node1\"; database = \"d\";"
	    " port = 1; },\n"
	    "{ handle = \"w\"; owner = \"b\"; node = \"node1\"; database = \"d\";"
	    " port = 1; }\n);\n");
	assert_int_equal(c->nworkspaces, 2);
	conf_free(c);
}

/* one pass: every kind of error at once, in file order, then cross-field */
static void
test_many_errors(void **state)
{
	(void)state;
	t_expect("listen = [ \"localhost:80\" ];\n"
	    "tls = { cert = \"tls.crt\"; };\n"
	    "map_size_mb = 4;\n"
	    "log_level = \"loud\";\n"
	    "colour = \"blue\";\n"
	    "sessions = { idle_timeout = 7200; absolute_timeout = 3600; };\n"
	    "push = { client_key = \"/k\"; };\n"
	    "nodes = ( { name = \"a\"; url = \"https://a:1\"; cert = \"/a\"; },\n"
	    "          { name = \"a\"; url = \"ftp://a\"; cert = \"/a\"; } );\n"
	    "workspaces = ( { handle = \"w\"; owner = \"o\"; node = \"b\";"
	    " database = \"d\"; port = 0; } );\n",
	    "F:1: listen[0]: must be host:port with an ip address or * as host\n"
	    "F:2: tls.cert: must be an absolute path\n"
	    "F:2: tls.key: required setting missing\n"
	    "F:3: map_size_mb: must be between 8 and 65536\n"
	    "F:4: log_level: must be one of error, warn, info, debug\n"
	    "F:5: colour: unknown setting\n"
	    "F:9: nodes[1].url: must be https://host:port\n"
	    "F:10: workspaces[0].port: must be between 1 and 65535\n"
	    "F:1: data_dir: required setting missing\n"
	    "F:6: sessions.idle_timeout: must not exceed sessions.absolute_timeout\n"
	    "F:7: push.client_cert: required when push.client_key is set\n"
	    "F:9: nodes[1].name: duplicate node name \"a\"\n"
	    "F:10: workspaces[0].node: unknown node \"b\"\n");
}

static void
test_include(void **state)
{
	struct conf *c = NULL;
	char *inc, *text, *errs, *want;

	(void)state;
	inc = t_write("\nmap_size_mb = 1;\n");
	text = x_asprintf(BASE "@include \"%s\"\n", inc);
	/* the error names the file the setting is in */
	assert_int_equal(t_load(text, &c, &errs), -1);
	assert_null(c);
	want = x_asprintf("%s:2: map_size_mb: must be between 8 and 65536\n",
	    inc);
	assert_string_equal(errs, want);
	free(want);
	free(errs);
	free(text);
	unlink(inc);
	free(inc);
}

static void
test_errs_null(void **state)
{
	struct conf *c = NULL;
	char *path;

	(void)state;
	path = t_write(BASE "map_size_mb = 1;\n");
	assert_int_equal(conf_load(path, NULL, &c), -1);
	assert_null(c);
	unlink(path);
	free(path);
	path = t_write(BASE);
	assert_int_equal(conf_load(path, NULL, &c), 0);
	assert_non_null(c);
	assert_string_equal(c->path, path);
	conf_free(c);
	conf_free(NULL);
	unlink(path);
	free(path);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_derived_paths),
		cmocka_unit_test(test_all_settings),
		cmocka_unit_test(test_sample_config),
		cmocka_unit_test(test_file_unreadable),
		cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_required),
		cmocka_unit_test(test_unknown_setting),
		cmocka_unit_test(test_type_integer),
		cmocka_unit_test(test_type_string),
		cmocka_unit_test(test_type_group),
		cmocka_unit_test(test_int64),
		cmocka_unit_test(test_range_map_size),
		cmocka_unit_test(test_range_audit),
		cmocka_unit_test(test_range_tokens),
		cmocka_unit_test(test_range_sessions),
		cmocka_unit_test(test_range_pbkdf2),
		cmocka_unit_test(test_range_login),
		cmocka_unit_test(test_range_push),
		cmocka_unit_test(test_range_http),
		cmocka_unit_test(test_int_beyond_32_bits),
		cmocka_unit_test(test_range_workspace_port),
		cmocka_unit_test(test_range_rate),
		cmocka_unit_test(test_log_level),
		cmocka_unit_test(test_listen),
		cmocka_unit_test(test_handle_valid),
		cmocka_unit_test(test_admin_handle),
		cmocka_unit_test(test_admin_email),
		cmocka_unit_test(test_dns_domain),
		cmocka_unit_test(test_metrics_token),
		cmocka_unit_test(test_absolute_paths),
		cmocka_unit_test(test_empty_strings),
		cmocka_unit_test(test_push_pair),
		cmocka_unit_test(test_sessions_order),
		cmocka_unit_test(test_audit_fits),
		cmocka_unit_test(test_nodes_type),
		cmocka_unit_test(test_node_required),
		cmocka_unit_test(test_node_unknown_setting),
		cmocka_unit_test(test_node_name),
		cmocka_unit_test(test_node_url),
		cmocka_unit_test(test_node_duplicate),
		cmocka_unit_test(test_workspace_required),
		cmocka_unit_test(test_workspace_fields),
		cmocka_unit_test(test_workspace_members),
		cmocka_unit_test(test_workspace_unknown_node),
		cmocka_unit_test(test_workspace_duplicate),
		cmocka_unit_test(test_many_errors),
		cmocka_unit_test(test_include),
		cmocka_unit_test(test_errs_null),
	};
	const char *env = getenv("ACCTD_SRCDIR");

	if (argc > 1)
		t_srcdir = argv[1];
	else if (env != NULL && *env != '\0')
		t_srcdir = env;
	return cmocka_run_group_tests(tests, NULL, NULL);
}

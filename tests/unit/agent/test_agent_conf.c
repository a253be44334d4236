/*
 * agent_conf.c against real files: defaults, the shipped sample, and every
 * rule with its exact message as `acctd-agent -t` prints it ("F" stands for
 * the file's path).
 *
 * Usage: test_agent_conf [SRCDIR]   (else $ACCTD_SRCDIR, else ".")
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

#include "agent.h"

/* lines 1-3 of most configs below: what follows starts at line 4 */
#define BASE								\
	"tls = { cert = \"/etc/acctd/node.crt\"; key = \"/etc/acctd/node.key\"; };\n" \
	"acctd_cert = \"/etc/acctd/acctd.crt\";\n"				\
	"state_file = \"/var/lib/acctd-agent/state.json\";\n"

static const char *t_srcdir = ".";

static char *
t_write(const char *text)
{
	char *path = x_strdup("/tmp/acctd-test-agent-conf-XXXXXX");
	size_t len = strlen(text);
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
	return path;
}

/* errs with every path replaced by "F"; caller frees */
static int
t_load_file(const char *path, struct agent_conf **out, char **errs)
{
	char *buf = NULL, *p, *q, *o;
	size_t len = 0, pl = strlen(path);
	FILE *m = open_memstream(&buf, &len);
	int rc;

	assert_non_null(m);
	rc = agent_conf_load(path, m, out);
	assert_int_equal(fclose(m), 0);
	o = *errs = x_calloc(1, len + 1);
	for (p = buf; (q = strstr(p, path)) != NULL; p = q + pl) {
		memcpy(o, p, (size_t)(q - p));
		o += q - p;
		*o++ = 'F';
	}
	strcpy(o, p);
	free(buf);
	return rc;
}

static int
t_load(const char *text, struct agent_conf **out, char **errs)
{
	char *path = t_write(text);
	int rc = t_load_file(path, out, errs);

	unlink(path);
	free(path);
	return rc;
}

static void
t_expect(const char *text, const char *want)
{
	struct agent_conf *c = (struct agent_conf *)&c;
	char *errs;

	assert_int_equal(t_load(text, &c, &errs), -1);
	assert_null(c);
	assert_string_equal(errs, want);
	free(errs);
}

static struct agent_conf *
t_ok(const char *text)
{
	struct agent_conf *c = NULL;
	char *errs;

	int rc = t_load(text, &c, &errs);

	assert_string_equal(errs, "");
	assert_int_equal(rc, 0);
	free(errs);
	assert_non_null(c);
	return c;
}

static void
test_defaults(void **state)
{
	struct agent_conf *c = t_ok(BASE);

	(void)state;
	assert_string_equal(c->listen, "127.0.0.1:9443");
	assert_string_equal(c->tls_cert, "/etc/acctd/node.crt");
	assert_string_equal(c->tls_key, "/etc/acctd/node.key");
	assert_string_equal(c->acctd_cert, "/etc/acctd/acctd.crt");
	assert_string_equal(c->state_file, "/var/lib/acctd-agent/state.json");
	assert_string_equal(c->hook, "/usr/local/libexec/acctd/apply-postgres");
	assert_int_equal(c->nhook_env, 0);
	assert_non_null(c->hook_env);
	assert_null(c->hook_env[0]);
	assert_int_equal(c->log_level, LOG_LEVEL_INFO);
	assert_string_equal(c->user, "acctd");
	agent_conf_free(c);
}

static void
test_sample_config_loads(void **state)
{
	struct agent_conf *c = NULL;
	char *path = x_asprintf("%s/config/acctd-agent.conf", t_srcdir), *errs;

	(void)state;
	assert_int_equal(t_load_file(path, &c, &errs), 0);
	assert_string_equal(errs, "");
	assert_string_equal(c->listen, "127.0.0.1:9443");
	assert_int_equal(c->nhook_env, 4);
	assert_string_equal(c->hook_env[0], "PGHOST=/var/run/postgresql");
	assert_string_equal(c->hook_env[3], "PGDATABASE=postgres");
	assert_null(c->hook_env[4]);
	assert_string_equal(c->user, "acctd");
	free(errs);
	free(path);
	agent_conf_free(c);
}

static void
test_all_settings(void **state)
{
	struct agent_conf *c = t_ok(BASE
	    "listen = \"[::1]:9443\";\n"
	    "hook = \"/opt/hook\";\n"
	    "hook_env = { PGPORT = \"5433\"; PG_X1 = \"\"; PATH = \"/bin\"; };\n"
	    "log_level = \"debug\";\n"
	    "user = \"\";\n");

	(void)state;
	assert_string_equal(c->listen, "[::1]:9443");
	assert_string_equal(c->hook, "/opt/hook");
	assert_int_equal(c->nhook_env, 3);
	assert_string_equal(c->hook_env[0], "PGPORT=5433");
	assert_string_equal(c->hook_env[1], "PG_X1=");
	assert_string_equal(c->hook_env[2], "PATH=/bin");
	assert_int_equal(c->log_level, LOG_LEVEL_DEBUG);
	assert_string_equal(c->user, "");
	agent_conf_free(c);
	c = t_ok(BASE "listen = \"*:443\";\n");
	agent_conf_free(c);
}

static void
test_required(void **state)
{
	(void)state;
	t_expect("",
	    "F:1: tls: required setting missing\n"
	    "F:1: acctd_cert: required setting missing\n"
	    "F:1: state_file: required setting missing\n");
	t_expect("acctd_cert = \"/a\";\nstate_file = \"/b\";\ntls = {\n};\n",
	    "F:3: tls.cert: required setting missing\n"
	    "F:3: tls.key: required setting missing\n");
}

static void
test_rules(void **state)
{
	(void)state;
	t_expect(BASE "listen = \"localhost:9443\";\n",
	    "F:4: listen: must be host:port with an ip address or * as host\n");
	t_expect(BASE "listen = \"127.0.0.1\";\n",
	    "F:4: listen: must be host:port with an ip address or * as host\n");
	t_expect(BASE "listen = \"127.0.0.1:0\";\n",
	    "F:4: listen: port must be between 1 and 65535\n");
	t_expect(BASE "listen = \"127.0.0.1:65536\";\n",
	    "F:4: listen: port must be between 1 and 65535\n");
	t_expect(BASE "listen = \"[::1:9443\";\n",
	    "F:4: listen: must be host:port with an ip address or * as host\n");
	t_expect(BASE "listen = [ \"127.0.0.1:9443\" ];\n",
	    "F:4: listen: must be a string\n");
	t_expect(BASE "hook = \"apply-postgres\";\n",
	    "F:4: hook: must be an absolute path\n");
	t_expect(BASE "hook = \"\";\n", "F:4: hook: must not be empty\n");
	t_expect(BASE "log_level = \"loud\";\n",
	    "F:4: log_level: must be one of error, warn, info, debug\n");
	t_expect(BASE "log_level = 3;\n", "F:4: log_level: must be a string\n");
	t_expect(BASE "user = 0;\n", "F:4: user: must be a string\n");
	t_expect("tls = 1;\nacctd_cert = \"/a\";\nstate_file = \"/b\";\n",
	    "F:1: tls: must be a group\n");
	t_expect(BASE "colour = \"blue\";\n", "F:4: colour: unknown setting\n");
	t_expect(BASE "hook_env = { PGHOST = \"h\";\n"
	    "  PG-PORT = \"1\";\n  ACCTD_ROLE = \"x\";\n  PGUSER = 5; };\n",
	    "F:5: hook_env.PG-PORT: not a valid environment variable name\n"
	    "F:6: hook_env.ACCTD_ROLE: reserved: the agent sets ACCTD_* itself\n"
	    "F:7: hook_env.PGUSER: must be a string\n");
	t_expect(BASE "hook_env = [ \"PGHOST=h\" ];\n",
	    "F:4: hook_env: must be a group\n");
	/* one pass: every error, in file order, then the missing ones */
	t_expect("tls = { cert = \"rel\"; key = \"\"; extra = 1; };\n"
	    "acctd_cert = \"/a\";\nlisten = \"x\";\n",
	    "F:1: tls.cert: must be an absolute path\n"
	    "F:1: tls.key: must not be empty\n"
	    "F:1: tls.extra: unknown setting\n"
	    "F:3: listen: must be host:port with an ip address or * as host\n"
	    "F:1: state_file: required setting missing\n");
}

static void
test_file_errors(void **state)
{
	struct agent_conf *c;
	char *errs;

	(void)state;
	assert_int_equal(t_load_file("/nonexistent/agent.conf", &c, &errs), -1);
	assert_string_equal(errs, "F:0: file: No such file or directory\n");
	free(errs);
	assert_int_equal(t_load_file("/tmp", &c, &errs), -1);
	assert_string_equal(errs, "F:0: file: Is a directory\n");
	free(errs);
	t_expect(BASE "listen = ;\n", "F:4: syntax: syntax error\n");
	t_expect(BASE "user = \"a\";\nuser = \"b\";\n",
	    "F:5: syntax: duplicate setting name\n");
}

int
main(int argc, char *argv[])
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_sample_config_loads),
		cmocka_unit_test(test_all_settings),
		cmocka_unit_test(test_required),
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_file_errors),
	};

	if (argc > 1)
		t_srcdir = argv[1];
	else if (getenv("ACCTD_SRCDIR") != NULL)
		t_srcdir = getenv("ACCTD_SRCDIR");
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * agent_hook.c with real hooks (small sh scripts in a temp directory): the
 * exact environment (nothing of ours leaks), the verifier on stdin only,
 * the reason taken from stderr's first line (sanitised, never a verifier),
 * exit statuses and signals, and the timeout killing the hook's whole
 * process group.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent.h"
#include "fixture.h"

#define V1 "SCRAM-SHA-256$4096:/UodNfQJXOzghGW2kPakqA==$" \
	"3GfW6/1tZHLtoTFJMIH1LDKicnw5X736E3EkYt8V+3s=:hiWEdXOoKv0xQb9SZb+SneIbT7B3Vt2g+WiXSCZuofY="

static char dir[64];

static int
setup(void **state)
{
	(void)state;
	assert_int_equal(fixture_tmpdir(dir, sizeof(dir), "test_agent_hook"), 0);
	setenv("ACCTD_TEST_LEAK", "must not reach the hook", 1);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	return fixture_rmtree(dir);
}

/* dir/name holding "#!/bin/sh\n" + body, mode 0755; caller frees */
static char *
script(const char *name, const char *body)
{
	char *path = x_asprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fprintf(f, "#!/bin/sh\n%s", body);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, 0755), 0);
	return path;
}

static char *
slurp(const char *name)
{
	char *path = x_asprintf("%s/%s", dir, name), *buf = x_calloc(1, 8192);
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, 8191, f);
	buf[n] = '\0';
	fclose(f);
	free(path);
	return buf;
}

static int
run(const char *path, char *const *env, int timeout_ms, const char *action,
    const char *role, const char *old, const char *verifier, char *err,
    size_t errlen)
{
	struct agent_hook h = { path, env, timeout_ms };

	return agent_hook_run(&h, action, role, old, verifier, err, errlen);
}

static void
test_environment_and_stdin(void **state)
{
	char *env[] = { "PGHOST=/run/pg", "PGPORT=5433", NULL };
	char *body = x_asprintf("env | LC_ALL=C sort > %s/env\n"
	    "cat > %s/stdin\necho \"$#\" > %s/argc\n", dir, dir, dir);
	char *hook = script("dump", body), err[256] = "x", *got;

	(void)state;
	assert_int_equal(run(hook, env, 5000, "present", "alice2", "alice", V1,
	    err, sizeof(err)), 0);
	assert_string_equal(err, "");
	got = slurp("env");
	/* sh may add PWD (and SHLVL); nothing of the agent's */
	assert_non_null(strstr(got, "ACCTD_ACTION=present\n"
	    "ACCTD_OLD_ROLE=alice\nACCTD_ROLE=alice2\n"));
	assert_non_null(strstr(got, "PATH=/usr/local/sbin:/usr/local/bin:"
	    "/usr/sbin:/usr/bin:/sbin:/bin\nPGHOST=/run/pg\nPGPORT=5433\n"));
	assert_null(strstr(got, "ACCTD_TEST_LEAK"));
	assert_null(strstr(got, "SCRAM"));	/* not in the environment */
	free(got);
	got = slurp("stdin");
	assert_string_equal(got, V1 "\n");
	free(got);
	got = slurp("argc");
	assert_string_equal(got, "0\n");
	free(got);

	/* absent: nothing on stdin, empty former role; PATH from hook_env */
	{
		char *env2[] = { "PATH=/usr/bin:/bin", NULL };

		assert_int_equal(run(hook, env2, 5000, "absent", "bob", "",
		    NULL, err, sizeof(err)), 0);
	}
	got = slurp("env");
	assert_non_null(strstr(got, "ACCTD_ACTION=absent\nACCTD_OLD_ROLE=\n"
	    "ACCTD_ROLE=bob\n"));
	assert_non_null(strstr(got, "PATH=/usr/bin:/bin\n"));
	assert_null(strstr(got, "/usr/local/sbin"));
	free(got);
	got = slurp("stdin");
	assert_string_equal(got, "");
	free(got);
	free(hook);
	free(body);
}

static void
test_failure_reasons(void **state)
{
	char *hook, err[256];

	(void)state;
	hook = script("two-lines", "printf 'psql: error: refused \\033[31m\\n"
	    "LINE 1: ALTER ROLE ...\\n' >&2\nexit 3\n");
	assert_int_equal(run(hook, NULL, 5000, "present", "a", "", V1, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "psql: error: refused ?[31m");
	free(hook);

	hook = script("silent", "exit 3\n");
	assert_int_equal(run(hook, NULL, 5000, "absent", "a", "", NULL, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "hook exited with status 3");
	free(hook);

	hook = script("leaky", "read v; echo \"bad: $v\" >&2; exit 1\n");
	assert_int_equal(run(hook, NULL, 5000, "present", "a", "", V1, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "(the hook's message held a verifier: not shown)");
	free(hook);

	hook = script("signal", "kill -9 $$\n");
	assert_int_equal(run(hook, NULL, 5000, "absent", "a", "", NULL, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "hook killed by signal 9");
	free(hook);

	/* a long chatty stderr neither blocks the hook nor overflows */
	hook = script("chatty", "i=0; while [ $i -lt 2000 ]; do "
	    "echo \"line $i of noise noise noise noise\" >&2; i=$((i+1)); done\n"
	    "exit 0\n");
	assert_int_equal(run(hook, NULL, 5000, "absent", "a", "", NULL, err,
	    sizeof(err)), 0);
	free(hook);
}

static void
test_cannot_execute(void **state)
{
	char *path = x_asprintf("%s/missing", dir), *hook, err[256];

	(void)state;
	assert_int_equal(run(path, NULL, 5000, "absent", "a", "", NULL, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "acctd-agent: the hook does not exist");
	free(path);
	hook = script("noexec", "exit 0\n");
	assert_int_equal(chmod(hook, 0644), 0);
	/* also as root: execve wants an x bit */
	assert_int_equal(run(hook, NULL, 5000, "absent", "a", "", NULL, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "acctd-agent: the hook is not executable");
	free(hook);
}

static void
test_timeout_kills_the_group(void **state)
{
	char *body = x_asprintf("sleep 60 &\necho $! > %s/child\nwait\n", dir);
	char *hook = script("slow", body), err[256], *pid, stat[64], buf[256];
	FILE *f;

	(void)state;
	assert_int_equal(run(hook, NULL, 1000, "absent", "a", "", NULL, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "hook timed out after 1 s");
	/* the grandchild went with it: gone, or a zombie awaiting its reaper */
	pid = slurp("child");
	pid[strcspn(pid, "\n")] = '\0';
	snprintf(stat, sizeof(stat), "/proc/%s/stat", pid);
	usleep(100000);
	if ((f = fopen(stat, "r")) != NULL) {
		assert_non_null(fgets(buf, sizeof(buf), f));
		fclose(f);
		assert_non_null(strstr(buf, ") Z "));
	}
	free(pid);
	free(hook);
	free(body);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_environment_and_stdin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure_reasons, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cannot_execute, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout_kills_the_group, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * cfg.c, the rule engine, against real files and a table of its own (the
 * programs' tables are test_conf.c's and test_agent_conf.c's): every kind,
 * every flag, limits, defaults, several errors in one pass in file order
 * with their lines, unknown settings, @include, and the calls a cross-field
 * check makes. The tests run in a private directory and name the file
 * "F", so the expected errors read as the man page writes them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "fixture.h"

static char tmpdir[64];

struct t_item {
	char *name;
	int weight;
	int line;
};

struct t_conf {
	int count;
	char *dir;
	char *mode;
	char *tag;
	char **hosts;
	size_t nhosts;
	char **env;
	size_t nenv;
	enum log_level level;
	int inner_n;
	char *inner_s;
	struct t_item *items;
	size_t nitems;
};

static const char *
t_check_tag(const char *s)
{
	return strcmp(s, "bad") == 0 ? "not a good tag" : NULL;
}

static const char *
t_check_env(const char *s)
{
	return s[0] == 'X' ? "no X names" : NULL;
}

#define T struct t_conf
#define I struct t_item
static const struct cfg_rule t_inner_rules[] = {
	CFG_INT(T, "n", inner_n, CFG_REQ, 0, 5, 1),
	CFG_STR(T, "s", inner_s, 0, NULL, "inner"),
	CFG_END
};
static const struct cfg_rule t_item_rules[] = {
	CFG_STR(I, "name", name, CFG_REQ, NULL, NULL),
	CFG_INT(I, "weight", weight, 0, 1, 100, 10),
	CFG_END
};
static const struct cfg_rule t_rules[] = {
	CFG_INT(T, "count", count, 0, 1, 10, 3),
	CFG_STR(T, "dir", dir, CFG_REQ | CFG_ABS, NULL, NULL),
	CFG_STR(T, "mode", mode, CFG_EMPTY, NULL, "on"),
	CFG_STR(T, "tag", tag, 0, t_check_tag, NULL),
	CFG_STRS(T, "hosts", hosts, nhosts, CFG_NONEMPTY, NULL, "duplicate host",
	    "a"),
	CFG_MAP(T, "env", env, nenv, t_check_env),
	CFG_LEVEL(T, "level", level, LOG_LEVEL_WARN),
	CFG_GROUP("inner", 0, t_inner_rules),
	CFG_LIST(T, "items", items, nitems, I, t_item_rules),
	CFG_END
};
#undef T
#undef I

static int
group_setup(void **state)
{
	(void)state;
	if (fixture_tmpdir(tmpdir, sizeof(tmpdir), "test_cfg") == -1)
		return -1;
	return chdir(tmpdir);
}

static int
group_teardown(void **state)
{
	(void)state;
	if (chdir("/") == -1)
		return -1;
	return fixture_rmtree(tmpdir);
}

/* tmpdir/name holding text; caller frees */
static char *
t_file(const char *name, const char *text)
{
	char *path = x_asprintf("%s/%s", tmpdir, name);
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	return path;
}

/* what the check callback does, per test */
static void (*t_cross)(struct cfg *, const struct t_conf *);

static void
t_check(struct cfg *x, const void *base)
{
	if (t_cross != NULL)
		t_cross(x, base);
}

/* load text into c from the file "F"; *errs gets the errors (caller
 * frees); returns cfg_load's result */
static int
t_load(const char *text, struct t_conf *c, char **errs)
{
	char *path = t_file("F", text);
	size_t len = 0;
	FILE *m = open_memstream(errs, &len);
	int rc;

	assert_non_null(m);
	memset(c, 0, sizeof(*c));
	rc = cfg_load("F", m, t_rules, c, t_check);
	assert_int_equal(fclose(m), 0);
	free(path);
	return rc;
}

/* text must load with no error */
static void
t_ok(const char *text, struct t_conf *c)
{
	char *errs;

	assert_int_equal(t_load(text, c, &errs), 0);
	assert_string_equal(errs, "");
	free(errs);
}

/* text must fail with exactly want */
static void
t_bad(const char *text, const char *want)
{
	struct t_conf c;
	char *errs;

	assert_int_equal(t_load(text, &c, &errs), -1);
	assert_string_equal(errs, want);
	free(errs);
	cfg_release(t_rules, &c);
}

static void
test_defaults(void **state)
{
	struct t_conf c;

	(void)state;
	t_ok("dir = \"/d\";\n", &c);
	assert_int_equal(c.count, 3);
	assert_string_equal(c.dir, "/d");
	assert_string_equal(c.mode, "on");
	assert_null(c.tag);
	assert_int_equal(c.nhosts, 1);
	assert_string_equal(c.hosts[0], "a");
	assert_null(c.env);
	assert_int_equal(c.nenv, 0);
	assert_int_equal(c.level, LOG_LEVEL_WARN);
	assert_int_equal(c.inner_n, 1);
	assert_string_equal(c.inner_s, "inner");
	assert_null(c.items);
	assert_int_equal(c.nitems, 0);
	cfg_release(t_rules, &c);
}

static void
test_values(void **state)
{
	struct t_conf c;

	(void)state;
	t_ok("dir = \"/d\"; count = 10; mode = \"\"; tag = \"good\";\n"
	    "hosts = [\"x\", \"y\"]; level = \"debug\";\n"
	    "env = { A = \"1\"; B_2 = \"\"; };\n"
	    "inner = { n = 0; s = \"t\"; };\n"
	    "items = (\n"
	    "  { name = \"one\"; },\n"
	    "  { name = \"two\"; weight = 100; }\n"
	    ");\n", &c);
	assert_int_equal(c.count, 10);
	assert_string_equal(c.mode, "");
	assert_string_equal(c.tag, "good");
	assert_int_equal(c.nhosts, 2);
	assert_string_equal(c.hosts[1], "y");
	assert_int_equal(c.level, LOG_LEVEL_DEBUG);
	assert_int_equal(c.nenv, 2);
	assert_string_equal(c.env[0], "A=1");
	assert_string_equal(c.env[1], "B_2=");
	assert_null(c.env[2]);
	assert_int_equal(c.inner_n, 0);
	assert_string_equal(c.inner_s, "t");
	assert_int_equal(c.nitems, 2);
	assert_string_equal(c.items[0].name, "one");
	assert_int_equal(c.items[0].weight, 10);
	assert_int_equal(c.items[0].line, 6);
	assert_int_equal(c.items[1].weight, 100);
	assert_int_equal(c.items[1].line, 7);
	cfg_release(t_rules, &c);
	/* a list may be written as an empty array; strings as a list */
	t_ok("dir = \"/d\"; items = []; hosts = (\"z\");\n", &c);
	assert_int_equal(c.nitems, 0);
	assert_string_equal(c.hosts[0], "z");
	cfg_release(t_rules, &c);
}

static void
test_types(void **state)
{
	(void)state;
	t_bad("dir = \"/d\"; count = \"3\";\n", "F:1: count: must be an integer\n");
	t_bad("dir = \"/d\"; count = 3.0;\n", "F:1: count: must be an integer\n");
	t_bad("dir = 1;\n", "F:1: dir: must be a string\n");
	t_bad("dir = \"/d\"; level = 1;\n", "F:1: level: must be a string\n");
	t_bad("dir = \"/d\"; inner = 1;\n", "F:1: inner: must be a group\n");
	t_bad("dir = \"/d\"; env = [\"A\"];\n", "F:1: env: must be a group\n");
	t_bad("dir = \"/d\"; env = { A = 1; };\n", "F:1: env.A: must be a string\n");
	t_bad("dir = \"/d\"; hosts = \"x\";\n",
	    "F:1: hosts: must be an array of strings\n");
	t_bad("dir = \"/d\"; hosts = [1];\n", "F:1: hosts[0]: must be a string\n");
	t_bad("dir = \"/d\"; items = { name = \"x\"; };\n",
	    "F:1: items: must be a list of groups\n");
	t_bad("dir = \"/d\"; items = ( 1 );\n", "F:1: items[0]: must be a group\n");
	t_bad("dir = \"/d\"; level = \"loud\";\n",
	    "F:1: level: must be one of error, warn, info, debug\n");
}

static void
test_flags(void **state)
{
	(void)state;
	t_bad("count = 2;\n", "F:1: dir: required setting missing\n");
	t_bad("dir = \"\";\n", "F:1: dir: must not be empty\n");
	t_bad("dir = \"d\";\n", "F:1: dir: must be an absolute path\n");
	t_bad("dir = \"/d\"; tag = \"\";\n", "F:1: tag: must not be empty\n");
	t_bad("dir = \"/d\"; hosts = [];\n", "F:1: hosts: must not be empty\n");
	t_bad("dir = \"/d\"; hosts = [\"a\", \"\"];\n",
	    "F:1: hosts[1]: must not be empty\n");
	/* a required member is missing at its group's line */
	t_bad("dir = \"/d\";\n\ninner = {\n  s = \"x\";\n};\n",
	    "F:3: inner.n: required setting missing\n");
	t_bad("dir = \"/d\";\nitems = (\n  { weight = 2; }\n);\n",
	    "F:3: items[0].name: required setting missing\n");
}

static void
test_limits(void **state)
{
	(void)state;
	t_bad("dir = \"/d\"; count = 0;\n", "F:1: count: must be between 1 and 10\n");
	t_bad("dir = \"/d\"; count = 11;\n", "F:1: count: must be between 1 and 10\n");
	t_bad("dir = \"/d\"; count = -1;\n", "F:1: count: must be between 1 and 10\n");
	/* beyond int: read as 64 bits and refused, never wrapped to 8 */
	t_bad("dir = \"/d\"; count = 4294967304;\n",
	    "F:1: count: must be between 1 and 10\n");
}

static void
test_int64_in_range(void **state)
{
	struct t_conf c;

	(void)state;
	t_ok("dir = \"/d\"; count = 8L;\n", &c);
	assert_int_equal(c.count, 8);
	cfg_release(t_rules, &c);
}

static void
test_checks(void **state)
{
	(void)state;
	t_bad("dir = \"/d\"; tag = \"bad\";\n", "F:1: tag: not a good tag\n");
	t_bad("dir = \"/d\"; hosts = [\"a\", \"b\", \"a\"];\n",
	    "F:1: hosts[2]: duplicate host \"a\"\n");
	t_bad("dir = \"/d\"; env = { XA = \"1\"; };\n", "F:1: env.XA: no X names\n");
}

static void
test_unknown(void **state)
{
	(void)state;
	t_bad("dir = \"/d\"; colour = 1;\n", "F:1: colour: unknown setting\n");
	t_bad("dir = \"/d\";\ninner = { n = 1; m = 2; };\n",
	    "F:2: inner.m: unknown setting\n");
	t_bad("dir = \"/d\";\nitems = ( { name = \"x\"; size = 1; } );\n",
	    "F:2: items[0].size: unknown setting\n");
}

static void
test_many_errors(void **state)
{
	(void)state;
	/* one pass: in file order, each group's missing ones after it */
	t_bad("count = 0;\n"
	    "inner = {\n"
	    "  s = 5;\n"
	    "};\n"
	    "what = 1;\n"
	    "items = (\n"
	    "  { weight = 0; }\n"
	    ");\n"
	    "tag = \"bad\";\n",
	    "F:1: count: must be between 1 and 10\n"
	    "F:3: inner.s: must be a string\n"
	    "F:2: inner.n: required setting missing\n"
	    "F:5: what: unknown setting\n"
	    "F:7: items[0].weight: must be between 1 and 100\n"
	    "F:7: items[0].name: required setting missing\n"
	    "F:9: tag: not a good tag\n"
	    "F:1: dir: required setting missing\n");
}

static void
test_file_errors(void **state)
{
	struct t_conf c;
	char *path = x_asprintf("%s/absent.conf", tmpdir), *buf = NULL, *want;
	size_t len = 0;
	FILE *m;

	(void)state;
	m = open_memstream(&buf, &len);
	memset(&c, 0, sizeof(c));
	assert_int_equal(cfg_load(path, m, t_rules, &c, NULL), -1);
	fclose(m);
	want = x_asprintf("%s:0: file: No such file or directory\n", path);
	assert_string_equal(buf, want);
	cfg_release(t_rules, &c);
	free(want);
	free(buf);
	/* a directory is refused before libconfig reads it */
	m = open_memstream(&buf, &len);
	assert_int_equal(cfg_load(tmpdir, m, t_rules, &c, NULL), -1);
	fclose(m);
	want = x_asprintf("%s:0: file: Is a directory\n", tmpdir);
	assert_string_equal(buf, want);
	cfg_release(t_rules, &c);
	free(want);
	free(buf);
	/* errs NULL: counted, not written */
	assert_int_equal(cfg_load(path, NULL, t_rules, &c, NULL), -1);
	cfg_release(t_rules, &c);
	free(path);
	/* syntax: the one error, at its line */
	t_bad("dir = \"/d\";\n\ncount = ;\n", "F:3: syntax: syntax error\n");
	t_bad("dir = \"/d\";\ndir = \"/e\";\n",
	    "F:2: syntax: duplicate setting name\n");
}

static void
test_include(void **state)
{
	char *inc = t_file("inc.conf", "\ncount = 99;\n"), *text, *want;
	struct t_conf c;
	char *errs;

	(void)state;
	text = x_asprintf("dir = \"/d\";\n@include \"%s\"\n", inc);
	assert_int_equal(t_load(text, &c, &errs), -1);
	want = x_asprintf("%s:2: count: must be between 1 and 10\n", inc);
	assert_string_equal(errs, want);
	cfg_release(t_rules, &c);
	free(want);
	free(errs);
	free(text);
	free(inc);
}

static void
t_cross_at(struct cfg *x, const struct t_conf *c)
{
	(void)c;
	assert_int_equal(cfg_has(x, "inner.n"), 1);
	assert_int_equal(cfg_has(x, "inner.s"), 0);
	assert_int_equal(cfg_is_list(x, "items"), 1);
	assert_int_equal(cfg_is_list(x, "inner"), 0);
	assert_int_equal(cfg_is_list(x, "nothing"), 0);
	cfg_err(x, "inner.n", "inner.n", "said %d", 1);
	cfg_err(x, "inner.s", "inner.s", "absent: line 1");
	cfg_err(x, NULL, "x", "none: line 1");
	cfg_err_elem(x, "items", 1, "weight", "at the member");
	cfg_err_elem(x, "items", 0, "weight", "absent member: at the element");
	cfg_err_elem(x, "items", 5, "name", "no element: line 1");
}

static void
test_cross_checks(void **state)
{
	(void)state;
	t_cross = t_cross_at;
	t_bad("dir = \"/d\";\n"
	    "inner = {\n"
	    "  n = 2;\n"
	    "};\n"
	    "items = (\n"
	    "  { name = \"a\"; },\n"
	    "  {\n"
	    "    weight = 5;\n"
	    "    name = \"b\";\n"
	    "  }\n"
	    ");\n",
	    "F:3: inner.n: said 1\n"
	    "F:1: inner.s: absent: line 1\n"
	    "F:1: x: none: line 1\n"
	    "F:8: items[1].weight: at the member\n"
	    "F:6: items[0].weight: absent member: at the element\n"
	    "F:1: items[5].name: no element: line 1\n");
	t_cross = NULL;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_int64_in_range),
		cmocka_unit_test(test_checks),
		cmocka_unit_test(test_unknown),
		cmocka_unit_test(test_many_errors),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_include),
		cmocka_unit_test(test_cross_checks),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

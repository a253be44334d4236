/*
 * cred.c against real PEM files made by openssl (as tools/mkcert.sh does):
 * a pair loads and is shared by reference; each way a pair is wrong is
 * refused with the setting, the file and the reason.
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
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "fixture.h"

static char tmpdir[64];
static char a_crt[128], a_key[128], b_crt[128], b_key[128];

static int
mkpair(const char *prefix, char *crt, char *key)
{
	char cmd[512];

	snprintf(crt, 128, "%s/%s.crt", tmpdir, prefix);
	snprintf(key, 128, "%s/%s.key", tmpdir, prefix);
	snprintf(cmd, sizeof(cmd), "openssl req -x509 -newkey ec -pkeyopt "
	    "ec_paramgen_curve:prime256v1 -nodes -keyout %s -out %s -days 30 "
	    "-subj /CN=%s 2>/dev/null && chmod 600 %s", key, crt, prefix, key);
	return system(cmd) == 0 ? 0 : -1;
}

static int
group_setup(void **state)
{
	(void)state;
	log_init("test_cred", 1, LOG_LEVEL_ERROR);
	if (fixture_tmpdir(tmpdir, sizeof(tmpdir), "test_cred") == -1 ||
	    mkpair("a", a_crt, a_key) == -1 || mkpair("b", b_crt, b_key) == -1)
		return -1;
	return crypto_init();
}

static int
group_teardown(void **state)
{
	(void)state;
	fixture_rmtree(tmpdir);
	return 0;
}

static void
expect_refused(const char *crt, const char *key, const char *want)
{
	struct cred *c = (struct cred *)1;
	char err[512];

	assert_int_equal(cred_load(crt, key, "tls.cert", "tls.key", &c, err,
	    sizeof(err)), -1);
	assert_null(c);
	assert_string_equal(err, want);
}

static void
test_pair(void **state)
{
	struct cred *c;
	char err[512];
	int64_t left;

	(void)state;
	assert_int_equal(cred_load(a_crt, a_key, "tls.cert", "tls.key", &c, err,
	    sizeof(err)), 0);
	assert_non_null(cred_crt(c));
	assert_non_null(cred_key(c));
	assert_int_equal(cred_check_time(c, "tls.cert", err, sizeof(err)), 0);
	left = cred_not_after(c) - (int64_t)time(NULL);
	assert_true(left > 29 * 86400 && left <= 30 * 86400 + 60);
	/* shared: the last reference frees it (valgrind and ASan check) */
	assert_ptr_equal(cred_ref(c), c);
	cred_unref(c);
	cred_unref(c);
	cred_unref(NULL);
}

static void
test_pinned_only(void **state)
{
	struct cred *a, *b, *a2;
	char err[512];

	(void)state;
	assert_int_equal(cred_load(a_crt, NULL, "nodes[0].cert", NULL, &a, err,
	    sizeof(err)), 0);
	assert_null(cred_key(a));
	assert_int_equal(cred_load(b_crt, NULL, "nodes[0].cert", NULL, &b, err,
	    sizeof(err)), 0);
	assert_int_equal(cred_load(a_crt, a_key, "x", "y", &a2, err,
	    sizeof(err)), 0);
	assert_true(cred_same(a, a2));
	assert_false(cred_same(a, b));
	cred_unref(a);
	cred_unref(b);
	cred_unref(a2);
}

static void
test_refused(void **state)
{
	char want[512], path[160];

	(void)state;
	snprintf(want, sizeof(want), "tls.key: %s does not match tls.cert %s",
	    b_key, a_crt);
	expect_refused(a_crt, b_key, want);
	snprintf(path, sizeof(path), "%s/missing.key", tmpdir);
	snprintf(want, sizeof(want), "tls.key: %s: No such file or directory",
	    path);
	expect_refused(a_crt, path, want);
	/* the certificate given as the key, and the other way round */
	snprintf(path, sizeof(path), "%s/cert-as-key", tmpdir);
	assert_int_equal(link(a_crt, path), 0);
	assert_int_equal(chmod(path, 0600), 0);
	snprintf(want, sizeof(want), "tls.key: %s: is a certificate, not a "
	    "private key", path);
	expect_refused(a_crt, path, want);
	assert_int_equal(chmod(path, 0644), 0);
	snprintf(want, sizeof(want), "tls.cert: %s: is a private key, not a "
	    "certificate", a_key);
	expect_refused(a_key, a_key, want);
	/* a key others may read */
	assert_int_equal(chmod(b_key, 0640), 0);
	snprintf(want, sizeof(want), "tls.key: %s: group or world accessible "
	    "(mode 0640); chmod 600 it", b_key);
	expect_refused(b_crt, b_key, want);
	assert_int_equal(chmod(b_key, 0600), 0);
}

static void
test_slot(void **state)
{
	struct cred *slot = NULL, *a, *b, *got;
	char err[512];

	(void)state;
	assert_null(cred_slot_get(&slot));
	assert_int_equal(cred_load(a_crt, a_key, "t", "k", &a, err, sizeof(err)), 0);
	assert_int_equal(cred_load(b_crt, b_key, "t", "k", &b, err, sizeof(err)), 0);
	cred_slot_set(&slot, a);
	got = cred_slot_get(&slot);
	assert_ptr_equal(got, a);
	cred_slot_set(&slot, b);	/* a lives on: got holds it */
	assert_true(cred_same(got, got));
	assert_non_null(cred_key(got));
	cred_unref(got);
	cred_slot_set(&slot, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pair),
		cmocka_unit_test(test_pinned_only),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_slot),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

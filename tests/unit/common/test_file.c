/*
 * file.c against real files in a private directory: the appliance key file
 * rules, the private key check, the directory fsync and the atomic rewrite.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "fixture.h"

static char tmpdir[64];

/* 1 when the key was wiped */
static int
wiped(const uint8_t key[CRYPTO_KEY_LEN])
{
	static const uint8_t zero[CRYPTO_KEY_LEN];

	return memcmp(key, zero, CRYPTO_KEY_LEN) == 0;
}

static int
group_setup(void **state)
{
	(void)state;
	log_init("test_file", 1, LOG_LEVEL_ERROR);
	if (fixture_tmpdir(tmpdir, sizeof(tmpdir), "test_file") == -1)
		return -1;
	return crypto_init();
}

static int
group_teardown(void **state)
{
	(void)state;
	crypto_shutdown();
	return fixture_rmtree(tmpdir);
}

/* a fresh path in tmpdir for one test */
static char *
tmp_path(const char *name)
{
	return x_asprintf("%s/%s", tmpdir, name);
}

static void
write_file(const char *path, const void *buf, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

/* the whole file, NUL-terminated; caller frees */
static char *
read_file(const char *path)
{
	char *buf = x_calloc(1, 4096);
	int fd = open(path, O_RDONLY);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, 4095);
	assert_true(n >= 0);
	close(fd);
	return buf;
}

/* --- the appliance key file -------------------------------------------------- */

static void
test_key_file_create_and_load(void **state)
{
	char *path = tmp_path("appliance.key"), err[256];
	uint8_t k1[CRYPTO_KEY_LEN], k2[CRYPTO_KEY_LEN], disk[CRYPTO_KEY_LEN + 1];
	struct stat st;
	int fd;

	(void)state;
	err[0] = '\0';
	assert_int_equal(file_key_load(path, k1, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, CRYPTO_KEY_LEN);
	assert_false(wiped(k1));
	/* what is on disk is what we were given */
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, disk, sizeof(disk)), CRYPTO_KEY_LEN);
	close(fd);
	assert_memory_equal(disk, k1, CRYPTO_KEY_LEN);
	/* loading again yields the same key and leaves the file alone */
	assert_int_equal(file_key_load(path, k2, err, sizeof(err)), 0);
	assert_memory_equal(k1, k2, CRYPTO_KEY_LEN);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	free(path);
}

static void
test_key_file_mode_refused(void **state)
{
	char *path = tmp_path("k_mode"), *want, err[256];
	uint8_t key[CRYPTO_KEY_LEN];

	(void)state;
	assert_int_equal(file_key_load(path, key, err, sizeof(err)), 0);
	assert_int_equal(chmod(path, 0640), 0);
	memset(key, 0xaa, sizeof(key));
	assert_int_equal(file_key_load(path, key, err, sizeof(err)), -1);
	want = x_asprintf("%s: group or world accessible (mode 0640); "
	    "chmod 600 it", path);
	assert_string_equal(err, want);
	assert_true(wiped(key));
	free(want);
	assert_int_equal(chmod(path, 0604), 0);
	assert_int_equal(file_key_load(path, key, err, sizeof(err)), -1);
	want = x_asprintf("%s: group or world accessible (mode 0604); "
	    "chmod 600 it", path);
	assert_string_equal(err, want);
	free(want);
	/* fixed as told, it loads */
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(file_key_load(path, key, err, sizeof(err)), 0);
	/* 0400 is fine too: only group/world bits matter */
	assert_int_equal(chmod(path, 0400), 0);
	assert_int_equal(file_key_load(path, key, err, sizeof(err)), 0);
	free(path);
}

static void
test_key_file_wrong_size(void **state)
{
	char *path = tmp_path("k_size"), *want, err[256];
	uint8_t key[CRYPTO_KEY_LEN], junk[64];

	(void)state;
	memset(junk, 0x42, sizeof(junk));
	write_file(path, junk, 31, 0600);
	assert_int_equal(file_key_load(path, key, err, sizeof(err)), -1);
	want = x_asprintf("%s: must be 32 bytes, is 31", path);
	assert_string_equal(err, want);
	free(want);
	write_file(path, junk, 33, 0600);
	assert_int_equal(file_key_load(path, key, err, sizeof(err)), -1);
	want = x_asprintf("%s: must be 32 bytes, is 33", path);
	assert_string_equal(err, want);
	free(want);
	/* an empty file is not silently replaced by a new key */
	write_file(path, junk, 0, 0600);
	assert_int_equal(file_key_load(path, key, err, sizeof(err)), -1);
	want = x_asprintf("%s: must be 32 bytes, is 0", path);
	assert_string_equal(err, want);
	free(want);
	free(path);
}

static void
test_key_file_symlink(void **state)
{
	char *target = tmp_path("k_target"), *link = tmp_path("k_link");
	char *dangling = tmp_path("k_dangling"), *want, err[256];
	uint8_t key[CRYPTO_KEY_LEN];
	struct stat st;

	(void)state;
	assert_int_equal(file_key_load(target, key, err, sizeof(err)), 0);
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(file_key_load(link, key, err, sizeof(err)), -1);
	want = x_asprintf("%s: is a symbolic link; refusing to follow it", link);
	assert_string_equal(err, want);
	free(want);
	assert_true(wiped(key));
	/* a dangling link is not followed to create a file elsewhere */
	free(target);
	target = tmp_path("k_nowhere");
	assert_int_equal(symlink(target, dangling), 0);
	assert_int_equal(file_key_load(dangling, key, err, sizeof(err)), -1);
	want = x_asprintf("%s: is a symbolic link; refusing to follow it",
	    dangling);
	assert_string_equal(err, want);
	free(want);
	assert_int_equal(lstat(target, &st), -1);
	assert_int_equal(errno, ENOENT);
	free(target);
	free(link);
	free(dangling);
}

static void
test_key_file_not_regular(void **state)
{
	char *path = tmp_path("k_dir"), *want, err[256];
	uint8_t key[CRYPTO_KEY_LEN];

	(void)state;
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(file_key_load(path, key, err, sizeof(err)), -1);
	want = x_asprintf("%s: not a regular file", path);
	assert_string_equal(err, want);
	free(want);
	free(path);
	path = tmp_path("k_fifo");
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(file_key_load(path, key, err, sizeof(err)), -1);
	want = x_asprintf("%s: not a regular file", path);
	assert_string_equal(err, want);
	free(want);
	free(path);
}

static void
test_key_file_no_dir(void **state)
{
	char *path = tmp_path("missing/appliance.key"), *want, err[256];
	uint8_t key[CRYPTO_KEY_LEN];

	(void)state;
	assert_int_equal(file_key_load(path, key, err, sizeof(err)), -1);
	want = x_asprintf("%s: cannot create: No such file or directory", path);
	assert_string_equal(err, want);
	free(want);
	free(path);
}

static void
test_secret_file_check(void **state)
{
	char *path = tmp_path("tls.key"), *link = tmp_path("tls_link.key");
	char *want, err[256];

	(void)state;
	write_file(path, "-----BEGIN EC PRIVATE KEY-----\n", 31, 0600);
	assert_int_equal(file_secret_check(path, err, sizeof(err)), 0);
	/* symbolic links are followed (certbot's live/ directory) */
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(file_secret_check(link, err, sizeof(err)), 0);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(file_secret_check(path, err, sizeof(err)), -1);
	want = x_asprintf("%s: group or world accessible (mode 0644); "
	    "chmod 600 it", path);
	assert_string_equal(err, want);
	free(want);
	assert_int_equal(file_secret_check(link, err, sizeof(err)), -1);
	want = x_asprintf("%s: group or world accessible (mode 0644); "
	    "chmod 600 it", link);
	assert_string_equal(err, want);
	free(want);
	assert_int_equal(chmod(path, 0600), 0);
	free(path);

	path = tmp_path("absent.key");
	assert_int_equal(file_secret_check(path, err, sizeof(err)), -1);
	want = x_asprintf("%s: No such file or directory", path);
	assert_string_equal(err, want);
	free(want);
	free(path);

	assert_int_equal(file_secret_check(tmpdir, err, sizeof(err)), -1);
	want = x_asprintf("%s: not a regular file", tmpdir);
	assert_string_equal(err, want);
	free(want);
	free(link);
}

/* --- the directory and the atomic rewrite ------------------------------------ */

static void
test_fsync_dir(void **state)
{
	char *path = tmp_path("any");

	(void)state;
	assert_int_equal(file_fsync_dir(path), 0);       /* the entry need not exist */
	assert_int_equal(file_fsync_dir("/"), 0);
	assert_int_equal(file_fsync_dir("relative"), 0); /* "." */
	free(path);
	path = tmp_path("missing/any");
	assert_int_equal(file_fsync_dir(path), -1);
	assert_int_equal(errno, ENOENT);
	free(path);
}

static void
test_write_atomic(void **state)
{
	char *path = tmp_path("state.json"), *tmp, *got, err[256];
	struct stat st;

	(void)state;
	err[0] = '\0';
	assert_int_equal(file_write_atomic(path, "one\n", 4, 0600, err,
	    sizeof(err)), 0);
	assert_string_equal(err, "");
	got = read_file(path);
	assert_string_equal(got, "one\n");
	free(got);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* replaced whole, and no temporary file stays behind */
	assert_int_equal(file_write_atomic(path, "two", 3, 0600, err,
	    sizeof(err)), 0);
	got = read_file(path);
	assert_string_equal(got, "two");
	free(got);
	tmp = x_asprintf("%s.tmp", path);
	assert_int_equal(access(tmp, F_OK), -1);
	/* an empty file is a file */
	assert_int_equal(file_write_atomic(path, "", 0, 0600, err,
	    sizeof(err)), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 0);
	free(tmp);
	free(path);
}

static void
test_write_atomic_mode(void **state)
{
	char *path = tmp_path("hosts"), err[256];
	mode_t old = umask(022);
	struct stat st;

	(void)state;
	assert_int_equal(file_write_atomic(path, "x", 1, 0644, err,
	    sizeof(err)), 0);
	umask(old);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	free(path);
}

static void
test_write_atomic_fails(void **state)
{
	char *path = tmp_path("nodir/state.json"), *want, err[256];

	(void)state;
	assert_int_equal(file_write_atomic(path, "x", 1, 0600, err,
	    sizeof(err)), -1);
	want = x_asprintf("%s.tmp: cannot create: No such file or directory",
	    path);
	assert_string_equal(err, want);
	free(want);
	free(path);
	/* the target is a directory: the rename fails, the temp file goes */
	path = tmp_path("adir");
	assert_int_equal(mkdir(path, 0700), 0);
	want = x_asprintf("%s/sub", path);
	write_file(want, "", 0, 0600);
	free(want);
	assert_int_equal(file_write_atomic(path, "x", 1, 0600, err,
	    sizeof(err)), -1);
	want = x_asprintf("%s.tmp: cannot rename to %s: Is a directory", path,
	    path);
	assert_string_equal(err, want);
	free(want);
	want = x_asprintf("%s.tmp", path);
	assert_int_equal(access(want, F_OK), -1);
	free(want);
	free(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_file_create_and_load),
		cmocka_unit_test(test_key_file_mode_refused),
		cmocka_unit_test(test_key_file_wrong_size),
		cmocka_unit_test(test_key_file_symlink),
		cmocka_unit_test(test_key_file_not_regular),
		cmocka_unit_test(test_key_file_no_dir),
		cmocka_unit_test(test_secret_file_check),
		cmocka_unit_test(test_fsync_dir),
		cmocka_unit_test(test_write_atomic),
		cmocka_unit_test(test_write_atomic_mode),
		cmocka_unit_test(test_write_atomic_fails),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

/*
 * store.c against a real LMDB environment in a fresh temporary directory.
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

#include "fixture_acctd.h"

static int
setup(void **state)
{
	/* in dir/db: a directory store_open has to create */
	return fixture_store_new(state, "test_store", "db", 16);
}

static void
put_str(struct store_txn *t, enum store_db db, const char *k, const char *v)
{
	assert_int_equal(store_put(t, db, k, strlen(k), v, strlen(v) + 1), 0);
}

/* asserts k holds the string v in t */
static void
assert_get(struct store_txn *t, enum store_db db, const char *k, const char *v)
{
	void *val;
	size_t vlen;

	assert_int_equal(store_get(t, db, k, strlen(k), &val, &vlen), 0);
	assert_int_equal(vlen, strlen(v) + 1);
	assert_string_equal(val, v);
	free(val);
}

static void
assert_missing(struct store_txn *t, enum store_db db, const char *k)
{
	void *val = (void *)1;
	size_t vlen = 1;

	assert_int_equal(store_get(t, db, k, strlen(k), &val, &vlen),
	    STORE_NOTFOUND);
	assert_null(val);
	assert_int_equal(vlen, 0);
}

static void
assert_mode(const char *dir, const char *name, unsigned mode)
{
	char *p = x_asprintf("%s/%s", dir, name);
	struct stat st;

	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, mode);
	free(p);
}

static void
test_open_fresh(void **state)
{
	struct fixture_store *f = *state;
	struct store_txn *t;
	void *val;
	size_t vlen;

	assert_int_equal(store_schema_version(f->s), 2);
	assert_mode(f->dir, "db", 0700);
	assert_mode(f->path, "data.mdb", 0600);
	assert_mode(f->path, "lock.mdb", 0600);
	assert_int_equal(store_txn_begin(f->s, 0, &t), 0);
	assert_int_equal(store_get(t, STORE_DB_META, "schema_version", 14,
	    &val, &vlen), 0);
	assert_int_equal(vlen, 4);
	assert_memory_equal(val, "\0\0\0\2", 4);    /* big-endian 2 */
	free(val);
	store_txn_abort(t);
}

static void
test_put_get(void **state)
{
	struct fixture_store *f = *state;
	struct store_txn *t;
	void *val;
	size_t vlen;

	assert_int_equal(store_txn_begin(f->s, 1, &t), 0);
	put_str(t, STORE_DB_USER, "u_1", "alice");
	/* a txn sees its own writes */
	assert_get(t, STORE_DB_USER, "u_1", "alice");
	/* databases are separate namespaces */
	assert_missing(t, STORE_DB_TOKEN, "u_1");
	/* overwrite */
	put_str(t, STORE_DB_USER, "u_1", "alice2");
	assert_get(t, STORE_DB_USER, "u_1", "alice2");
	/* an empty value is a value */
	assert_int_equal(store_put(t, STORE_DB_USER, "u_e", 3, "", 0), 0);
	assert_int_equal(store_get(t, STORE_DB_USER, "u_e", 3, &val, &vlen), 0);
	assert_int_equal(vlen, 0);
	free(val);
	/* an empty key is refused by LMDB */
	assert_int_equal(store_put(t, STORE_DB_USER, "", 0, "x", 1), -1);
	store_txn_abort(t);
	/* an unknown database */
	assert_int_equal(store_txn_begin(f->s, 0, &t), 0);
	assert_int_equal(store_get(t, STORE_DB_COUNT, "k", 1, &val, &vlen), -1);
	store_txn_abort(t);
}

static void
test_commit_visible(void **state)
{
	struct fixture_store *f = *state;
	struct store_txn *w, *r;

	/* a reader begun before the commit keeps its snapshot */
	assert_int_equal(store_txn_begin(f->s, 0, &r), 0);
	assert_int_equal(store_txn_begin(f->s, 1, &w), 0);
	put_str(w, STORE_DB_HANDLE, "alice", "u_1");
	assert_int_equal(store_txn_commit(w), 0);
	assert_missing(r, STORE_DB_HANDLE, "alice");
	store_txn_abort(r);
	assert_int_equal(store_txn_begin(f->s, 0, &r), 0);
	assert_get(r, STORE_DB_HANDLE, "alice", "u_1");
	store_txn_abort(r);
}

static void
test_abort_leaves_nothing(void **state)
{
	struct fixture_store *f = *state;
	struct store_txn *t;
	size_t n;

	assert_int_equal(store_txn_begin(f->s, 1, &t), 0);
	put_str(t, STORE_DB_SESSION, "s1", "x");
	put_str(t, STORE_DB_SESSION, "s2", "y");
	store_txn_abort(t);
	store_txn_abort(NULL);
	assert_int_equal(store_txn_begin(f->s, 0, &t), 0);
	assert_missing(t, STORE_DB_SESSION, "s1");
	assert_int_equal(store_count(t, STORE_DB_SESSION, &n), 0);
	assert_int_equal(n, 0);
	/* a read txn cannot write */
	assert_int_equal(store_put(t, STORE_DB_SESSION, "s1", 2, "x", 1), -1);
	store_txn_abort(t);
}

static void
test_del(void **state)
{
	struct fixture_store *f = *state;
	struct store_txn *t;

	assert_int_equal(store_txn_begin(f->s, 1, &t), 0);
	put_str(t, STORE_DB_TOKEN, "t_1", "one");
	put_str(t, STORE_DB_TOKEN, "t_2", "two");
	assert_int_equal(store_txn_commit(t), 0);

	assert_int_equal(store_txn_begin(f->s, 1, &t), 0);
	assert_int_equal(store_del(t, STORE_DB_TOKEN, "t_1", 3), 0);
	assert_missing(t, STORE_DB_TOKEN, "t_1");
	assert_int_equal(store_del(t, STORE_DB_TOKEN, "t_1", 3), STORE_NOTFOUND);
	assert_int_equal(store_del(t, STORE_DB_TOKEN, "t_9", 3), STORE_NOTFOUND);
	assert_int_equal(store_txn_commit(t), 0);

	assert_int_equal(store_txn_begin(f->s, 0, &t), 0);
	assert_missing(t, STORE_DB_TOKEN, "t_1");
	assert_get(t, STORE_DB_TOKEN, "t_2", "two");
	store_txn_abort(t);
}

/* --- iteration ------------------------------------------------------------- */

struct walk {
	char keys[16][8];
	size_t n;
	size_t stop_after;        /* 0 = never stop */
};

static int
walk_fn(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	struct walk *w = arg;

	assert_true(kl < sizeof(w->keys[0]) && w->n < 16);
	/* the value of key "aN" is "vN" */
	assert_int_equal(vl, kl);
	assert_memory_equal((const char *)v + 1, (const char *)k + 1, kl - 1);
	memcpy(w->keys[w->n], k, kl);
	w->keys[w->n][kl] = '\0';
	w->n++;
	if (w->stop_after != 0 && w->n == w->stop_after)
		return 7;
	return 0;
}

static int
fail_fn(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	(void)arg;
	(void)k;
	(void)kl;
	(void)v;
	(void)vl;
	return -5;
}

static void
assert_walk(struct walk *w, const char *want)
{
	char got[128] = "";
	size_t i;

	for (i = 0; i < w->n; i++) {
		if (i > 0)
			strcat(got, " ");
		strcat(got, w->keys[i]);
	}
	assert_string_equal(got, want);
	memset(w, 0, sizeof(*w));
}

static void
test_iter(void **state)
{
	static const char *keys[] = { "a3", "a1", "a5", "a7", "a9" };
	struct fixture_store *f = *state;
	struct store_txn *t;
	struct walk w;
	size_t i, n;
	char v[3];

	assert_int_equal(store_txn_begin(f->s, 1, &t), 0);
	for (i = 0; i < 5; i++) {
		v[0] = 'v';
		v[1] = keys[i][1];
		assert_int_equal(store_put(t, STORE_DB_AUDIT, keys[i], 2, v, 2), 0);
	}
	assert_int_equal(store_txn_commit(t), 0);

	memset(&w, 0, sizeof(w));
	assert_int_equal(store_txn_begin(f->s, 0, &t), 0);
	/* whole db */
	assert_int_equal(store_iter(t, STORE_DB_AUDIT, NULL, 0, 0, walk_fn, &w), 0);
	assert_walk(&w, "a1 a3 a5 a7 a9");
	assert_int_equal(store_iter(t, STORE_DB_AUDIT, NULL, 0, 1, walk_fn, &w), 0);
	assert_walk(&w, "a9 a7 a5 a3 a1");
	/* from a key that exists */
	assert_int_equal(store_iter(t, STORE_DB_AUDIT, "a5", 2, 0, walk_fn, &w), 0);
	assert_walk(&w, "a5 a7 a9");
	assert_int_equal(store_iter(t, STORE_DB_AUDIT, "a5", 2, 1, walk_fn, &w), 0);
	assert_walk(&w, "a5 a3 a1");
	/* from a key between two */
	assert_int_equal(store_iter(t, STORE_DB_AUDIT, "a4", 2, 0, walk_fn, &w), 0);
	assert_walk(&w, "a5 a7 a9");
	assert_int_equal(store_iter(t, STORE_DB_AUDIT, "a4", 2, 1, walk_fn, &w), 0);
	assert_walk(&w, "a3 a1");
	/* a prefix of keys sorts before them */
	assert_int_equal(store_iter(t, STORE_DB_AUDIT, "a", 1, 0, walk_fn, &w), 0);
	assert_walk(&w, "a1 a3 a5 a7 a9");
	assert_int_equal(store_iter(t, STORE_DB_AUDIT, "a", 1, 1, walk_fn, &w), 0);
	assert_walk(&w, "");
	/* from beyond either end */
	assert_int_equal(store_iter(t, STORE_DB_AUDIT, "b", 1, 0, walk_fn, &w), 0);
	assert_walk(&w, "");
	assert_int_equal(store_iter(t, STORE_DB_AUDIT, "b", 1, 1, walk_fn, &w), 0);
	assert_walk(&w, "a9 a7 a5 a3 a1");
	assert_int_equal(store_iter(t, STORE_DB_AUDIT, "a0", 2, 1, walk_fn, &w), 0);
	assert_walk(&w, "");
	/* fn stops the walk with its value; a negative one is -1 */
	w.stop_after = 2;
	assert_int_equal(store_iter(t, STORE_DB_AUDIT, NULL, 0, 1, walk_fn, &w), 7);
	assert_walk(&w, "a9 a7");
	assert_int_equal(store_iter(t, STORE_DB_AUDIT, NULL, 0, 0, fail_fn, NULL), -1);
	/* an empty db */
	assert_int_equal(store_iter(t, STORE_DB_OUTBOX, NULL, 0, 0, walk_fn, &w), 0);
	assert_int_equal(store_iter(t, STORE_DB_OUTBOX, "a", 1, 1, walk_fn, &w), 0);
	assert_walk(&w, "");
	/* count */
	assert_int_equal(store_count(t, STORE_DB_AUDIT, &n), 0);
	assert_int_equal(n, 5);
	assert_int_equal(store_count(t, STORE_DB_OUTBOX, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_count(t, STORE_DB_META, &n), 0);
	assert_int_equal(n, 1);
	store_txn_abort(t);
}

/* --- reopen, schema, map full ------------------------------------------------- */

static void
test_reopen_keeps_data(void **state)
{
	struct fixture_store *f = *state;
	struct store_txn *t;
	char err[512];

	assert_int_equal(store_txn_begin(f->s, 1, &t), 0);
	put_str(t, STORE_DB_PASSWORD, "u_1", "sealed");
	assert_int_equal(store_txn_commit(t), 0);
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(store_open(f->path, 16, &f->s, err, sizeof(err)), 0);
	assert_int_equal(store_schema_version(f->s), 2);
	assert_int_equal(store_txn_begin(f->s, 0, &t), 0);
	assert_get(t, STORE_DB_PASSWORD, "u_1", "sealed");
	store_txn_abort(t);
}

static void
set_schema(struct store *s, const char *be)
{
	struct store_txn *t;

	assert_int_equal(store_txn_begin(s, 1, &t), 0);
	assert_int_equal(store_put(t, STORE_DB_META, "schema_version", 14,
	    be, 4), 0);
	assert_int_equal(store_txn_commit(t), 0);
}

static void
test_schema_newer(void **state)
{
	struct fixture_store *f = *state;
	struct store *s = (struct store *)1;
	char err[512], *want;

	set_schema(f->s, "\0\0\0\3");
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(store_open(f->path, 16, &s, err, sizeof(err)), -1);
	assert_null(s);
	want = x_asprintf("%s: store schema version 3 is newer than this "
	    "acctd supports (2); upgrade acctd or restore a matching backup",
	    f->path);
	assert_string_equal(err, want);
	/* refused again: the failed open did not rewrite the record */
	assert_int_equal(store_open(f->path, 16, &s, err, sizeof(err)), -1);
	assert_string_equal(err, want);
	free(want);
}

/* version 1 opens as it is: audit_init migrates it (test_audit.c) */
static void
test_schema_migratable(void **state)
{
	struct fixture_store *f = *state;
	char err[512];

	set_schema(f->s, "\0\0\0\1");
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(store_open(f->path, 16, &f->s, err, sizeof(err)), 0);
	assert_int_equal(store_schema_version(f->s), 1);
}

static void
test_schema_older(void **state)
{
	struct fixture_store *f = *state;
	char err[512], *want;

	set_schema(f->s, "\0\0\0\0");
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(store_open(f->path, 16, &f->s, err, sizeof(err)), -1);
	want = x_asprintf("%s: store schema version 0 is older than this "
	    "acctd supports (1) and cannot be migrated; restore a backup made "
	    "by a matching acctd", f->path);
	assert_string_equal(err, want);
	free(want);
}

static void
test_open_errors(void **state)
{
	struct fixture_store *f = *state;
	struct store *s = NULL;
	char err[512], *p, *want;
	FILE *fp;

	p = x_asprintf("%s/file", f->dir);
	fp = fopen(p, "w");
	assert_non_null(fp);
	fclose(fp);
	assert_int_equal(store_open(p, 16, &s, err, sizeof(err)), -1);
	assert_null(s);
	want = x_asprintf("%s: not a directory", p);
	assert_string_equal(err, want);
	free(want);
	free(p);
	p = x_asprintf("%s/no/such", f->dir);
	assert_int_equal(store_open(p, 16, &s, err, sizeof(err)), -1);
	want = x_asprintf("%s: cannot create: No such file or directory", p);
	assert_string_equal(err, want);
	free(want);
	free(p);
}

static void
test_map_full(void **state)
{
	struct fixture_store *f = *state;
	struct store_txn *t;
	char err[512], key[16], *val;
	size_t vlen = 64 * 1024, n;
	int i, rc = 0;

	store_close(f->s);
	f->s = NULL;
	free(f->path);
	f->path = x_asprintf("%s/tiny", f->dir);
	assert_int_equal(store_open(f->path, 8, &f->s, err, sizeof(err)), 0);

	val = x_calloc(1, vlen);
	assert_int_equal(store_txn_begin(f->s, 1, &t), 0);
	for (i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "k%05d", i);
		rc = store_put(t, STORE_DB_OUTBOX, key, strlen(key), val, vlen);
		if (rc != 0)
			break;
	}
	assert_int_equal(rc, -1);
	assert_true(i > 10 && i < 1000);     /* ~8 MB of 64 KB values */
	assert_int_equal(store_full(), 1);   /* why it failed: the map is full */
	store_txn_abort(t);
	assert_int_equal(store_full(), 1);   /* still known after the abort */

	/* the env is still usable: small writes commit, nothing of the above stayed */
	assert_int_equal(store_txn_begin(f->s, 1, &t), 0);
	assert_int_equal(store_full(), 0);   /* a new write txn starts clean */
	put_str(t, STORE_DB_META, "after", "ok");
	assert_int_equal(store_txn_commit(t), 0);
	assert_int_equal(store_txn_begin(f->s, 0, &t), 0);
	assert_get(t, STORE_DB_META, "after", "ok");
	assert_int_equal(store_count(t, STORE_DB_OUTBOX, &n), 0);
	assert_int_equal(n, 0);
	store_txn_abort(t);
	free(val);
	/* what /metrics shows: the map's size and the part in use */
	{
		struct store_usage u;

		assert_int_equal(store_usage(f->s, &u), 0);
		assert_int_equal(u.map_bytes, 8 << 20);
		assert_true(u.page_bytes >= 4096);
		assert_true(u.used_bytes > 0 && u.used_bytes <= u.high_water_bytes);
		assert_true(u.high_water_bytes <= u.map_bytes);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_fresh, setup, fixture_store_teardown),
		cmocka_unit_test_setup_teardown(test_put_get, setup, fixture_store_teardown),
		cmocka_unit_test_setup_teardown(test_commit_visible, setup, fixture_store_teardown),
		cmocka_unit_test_setup_teardown(test_abort_leaves_nothing, setup, fixture_store_teardown),
		cmocka_unit_test_setup_teardown(test_del, setup, fixture_store_teardown),
		cmocka_unit_test_setup_teardown(test_iter, setup, fixture_store_teardown),
		cmocka_unit_test_setup_teardown(test_reopen_keeps_data, setup, fixture_store_teardown),
		cmocka_unit_test_setup_teardown(test_schema_newer, setup, fixture_store_teardown),
		cmocka_unit_test_setup_teardown(test_schema_older, setup, fixture_store_teardown),
		cmocka_unit_test_setup_teardown(test_schema_migratable, setup, fixture_store_teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, setup, fixture_store_teardown),
		cmocka_unit_test_setup_teardown(test_map_full, setup, fixture_store_teardown),
	};

	log_init("test_store", 1, LOG_LEVEL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

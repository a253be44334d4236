/*
 * store.c against a real LMDB environment in a fresh temporary directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fixture_acctd.h"

static int
setup(void **state)
{
	/* in dir/db: a directory store_open has to create */
	return fixture_store_new(state, "test_store", "db", 16);
}

/* the batch tests hold a batch open for a while: no time bound then; and
 * the first caller opens a batch, not a txn of its own, so that the others
 * can join it */
static int
setup_batch(void **state)
{
	int rc = setup(state);

	if (rc == 0)
		store_batch_limits(((struct fixture_store *)*state)->s, 64, 60000, 0);
	return rc;
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

/*
 * Group commit. A writer below is a thread that begins a write txn, puts
 * its key (or fails, or aborts), and commits; the test steps it through
 * with flags and watches the store's counters.
 */
enum writer_end { WRITER_COMMIT, WRITER_ABORT, WRITER_FAIL_ABORT };
struct writer {
	struct store *s;
	const char *key;
	size_t vlen;               /* bytes of value (0: the key's string) */
	enum writer_end end;
	int hold;                  /* wait for go after the put */
	pthread_t th;
	atomic_int in;             /* the txn has begun */
	atomic_int go;
	atomic_int answered;       /* store_txn_commit returned */
	int rc;
	int full;                  /* store_full() after the end */
};

static void *
writer_run(void *arg)
{
	struct writer *w = arg;
	struct store_txn *t;
	char *val;

	if (store_txn_begin(w->s, 1, &t) != 0) {
		w->rc = -2;
		atomic_store(&w->answered, 1);
		return NULL;
	}
	atomic_store(&w->in, 1);
	if (w->end == WRITER_FAIL_ABORT) {
		char big[600];

		/* a key LMDB refuses (more than 511 bytes): the put fails */
		memset(big, 'k', sizeof(big));
		w->rc = store_put(t, STORE_DB_META, big, sizeof(big), "v", 1);
	} else {
		val = w->vlen ? x_calloc(1, w->vlen) : x_strdup(w->key);
		w->rc = store_put(t, STORE_DB_META, w->key, strlen(w->key), val,
		    w->vlen ? w->vlen : strlen(w->key) + 1);
		free(val);
	}
	while (w->hold && !atomic_load(&w->go))
		usleep(1000);
	if (w->end == WRITER_COMMIT && w->rc == 0) {
		w->rc = store_txn_commit(t);
	} else {
		store_txn_abort(t);
		if (w->rc == 0)
			w->rc = 1;         /* aborted on purpose */
	}
	w->full = store_full();
	atomic_store(&w->answered, 1);
	return NULL;
}

static void
writer_start(struct writer *w, struct store *s, const char *key, size_t vlen,
    enum writer_end end, int hold)
{
	memset(w, 0, sizeof(*w));
	w->s = s;
	w->key = key;
	w->vlen = vlen;
	w->end = end;
	w->hold = hold;
	assert_int_equal(pthread_create(&w->th, NULL, writer_run, w), 0);
}

static void
wait_flag(atomic_int *f)
{
	for (int i = 0; i < 10000 && !atomic_load(f); i++)
		usleep(1000);
	assert_true(atomic_load(f));
}

/* until n callers wait for the write slot */
static void
wait_waiting(struct store *s, unsigned n)
{
	struct store_stats st;

	for (int i = 0; i < 10000; i++) {
		store_stats(s, &st);
		if (st.waiting == n)
			return;
		usleep(1000);
	}
	fail_msg("%u callers never waited for the write slot", n);
}

/* one batch: the children that fail or abort leave the others' changes whole */
static void
test_batch_children_isolated(void **state)
{
	struct fixture_store *f = *state;
	struct writer hold, w[4];
	struct store_stats before, after;
	struct store_txn *t;

	store_stats(f->s, &before);
	writer_start(&hold, f->s, "h", 0, WRITER_COMMIT, 1);
	wait_flag(&hold.in);
	writer_start(&w[0], f->s, "a", 0, WRITER_COMMIT, 0);
	writer_start(&w[1], f->s, "b", 0, WRITER_FAIL_ABORT, 0);
	writer_start(&w[2], f->s, "c", 0, WRITER_ABORT, 0);
	writer_start(&w[3], f->s, "d", 0, WRITER_COMMIT, 0);
	wait_waiting(f->s, 4);             /* all four will join hold's batch */
	atomic_store(&hold.go, 1);
	pthread_join(hold.th, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(w[i].th, NULL);
	assert_int_equal(hold.rc, 0);
	assert_int_equal(w[0].rc, 0);
	assert_int_equal(w[1].rc, -1);     /* its put failed, */
	assert_int_equal(w[2].rc, 1);      /* this one aborted, */
	assert_int_equal(w[3].rc, 0);      /* and the others committed */
	store_stats(f->s, &after);
	assert_int_equal(after.batches - before.batches, 1);   /* with one commit */
	assert_int_equal(after.changes - before.changes, 3);
	assert_int_equal(store_txn_begin(f->s, 0, &t), 0);
	assert_get(t, STORE_DB_META, "h", "h");
	assert_get(t, STORE_DB_META, "a", "a");
	assert_missing(t, STORE_DB_META, "c");
	assert_get(t, STORE_DB_META, "d", "d");
	store_txn_abort(t);
}

/* a commit answers only once its batch is on disk: not while another
 * member of the batch is still open */
static void
test_batch_answers_after_commit(void **state)
{
	struct fixture_store *f = *state;
	struct writer w1, w2;
	struct store_stats before, after;
	struct store_txn *t;

	store_stats(f->s, &before);
	writer_start(&w1, f->s, "first", 0, WRITER_COMMIT, 1);
	wait_flag(&w1.in);
	writer_start(&w2, f->s, "second", 0, WRITER_COMMIT, 1);
	wait_waiting(f->s, 1);
	atomic_store(&w1.go, 1);           /* w1 merges its change and waits, */
	wait_flag(&w2.in);                 /* w2 takes the slot: the same batch */
	usleep(200 * 1000);
	assert_false(atomic_load(&w1.answered));
	assert_int_equal(store_txn_begin(f->s, 0, &t), 0);
	assert_missing(t, STORE_DB_META, "first");    /* not committed yet */
	store_txn_abort(t);
	atomic_store(&w2.go, 1);
	pthread_join(w1.th, NULL);
	pthread_join(w2.th, NULL);
	assert_int_equal(w1.rc, 0);
	assert_int_equal(w2.rc, 0);
	store_stats(f->s, &after);
	assert_int_equal(after.batches - before.batches, 1);
	assert_int_equal(after.changes - before.changes, 2);
	assert_int_equal(store_txn_begin(f->s, 0, &t), 0);
	assert_get(t, STORE_DB_META, "first", "first");
	assert_get(t, STORE_DB_META, "second", "second");
	store_txn_abort(t);
}

/*
 * A batch whose commit fails (here the file may not grow: RLIMIT_FSIZE at
 * its size, so LMDB's write of the new pages gets EFBIG) fails every
 * member, none of their changes is there, and the store goes on.
 */
static void
test_batch_commit_fails_all(void **state)
{
	struct fixture_store *f = *state;
	struct writer w1, w2;
	struct rlimit old, lim;
	struct stat st;
	struct store_txn *t;
	char *p = x_asprintf("%s/data.mdb", f->path);

	assert_int_equal(stat(p, &st), 0);
	free(p);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_IGN);
	writer_start(&w1, f->s, "big", 512 * 1024, WRITER_COMMIT, 1);
	wait_flag(&w1.in);
	writer_start(&w2, f->s, "small", 0, WRITER_COMMIT, 0);
	wait_waiting(f->s, 1);
	lim = old;
	lim.rlim_cur = (rlim_t)st.st_size;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	atomic_store(&w1.go, 1);
	pthread_join(w1.th, NULL);
	pthread_join(w2.th, NULL);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	assert_int_equal(w1.rc, -1);
	assert_int_equal(w2.rc, -1);
	assert_int_equal(w1.full, 0);      /* not a full disk: a 500 */
	assert_int_equal(store_txn_begin(f->s, 0, &t), 0);
	assert_missing(t, STORE_DB_META, "big");
	assert_missing(t, STORE_DB_META, "small");
	store_txn_abort(t);
	/* the store goes on; the last batch was two, so a lone write waits
	 * out the window once: a short one here */
	store_batch_limits(f->s, 64, 20, 0);
	assert_int_equal(store_txn_begin(f->s, 1, &t), 0);
	put_str(t, STORE_DB_META, "after", "ok");
	assert_int_equal(store_txn_commit(t), 0);
}

/* the bounds: a batch that reached max members closes, the next caller
 * waits for the following one; so does one older than max_ms */
static void
test_batch_bounds(void **state)
{
	struct fixture_store *f = *state;
	struct writer hold, w[3];
	struct store_stats before, after;

	store_batch_limits(f->s, 2, 60000, 0);
	store_stats(f->s, &before);
	writer_start(&hold, f->s, "h", 0, WRITER_COMMIT, 1);
	wait_flag(&hold.in);
	for (int i = 0; i < 3; i++)
		writer_start(&w[i], f->s, i == 0 ? "a" : i == 1 ? "b" : "c", 0, WRITER_COMMIT, 0);
	wait_waiting(f->s, 3);
	atomic_store(&hold.go, 1);
	pthread_join(hold.th, NULL);
	for (int i = 0; i < 3; i++) {
		pthread_join(w[i].th, NULL);
		assert_int_equal(w[i].rc, 0);
	}
	store_stats(f->s, &after);
	assert_int_equal(after.changes - before.changes, 4);
	assert_int_equal(after.batches - before.batches, 2);    /* 2 + 2, */
	assert_int_equal(after.last_members, 2);                /* not 3 + 1 */

	store_batch_limits(f->s, 64, 0, 0);       /* every batch is "too old" at once */
	before = after;
	writer_start(&hold, f->s, "h", 0, WRITER_COMMIT, 1);
	wait_flag(&hold.in);
	writer_start(&w[0], f->s, "a", 0, WRITER_COMMIT, 0);
	wait_waiting(f->s, 1);
	atomic_store(&hold.go, 1);
	pthread_join(hold.th, NULL);
	pthread_join(w[0].th, NULL);
	assert_int_equal(w[0].rc, 0);
	store_stats(f->s, &after);
	assert_int_equal(after.batches - before.batches, 2);    /* one each */
}

/* ms since t0 (CLOCK_MONOTONIC) */
static long
ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/*
 * Under load (the last batch had several members) a batch whose slot falls
 * free with nobody queued stays open for its time, so a caller arriving a
 * moment later shares its commit; after a batch of one, a lone caller's
 * change is committed at once.
 */
static void
test_batch_lingers_under_load(void **state)
{
	struct fixture_store *f = *state;
	struct writer hold, w[3];
	struct store_stats before, after;
	struct timespec t0;

	store_batch_limits(f->s, 64, 1500, 0);
	writer_start(&hold, f->s, "h", 0, WRITER_COMMIT, 1);
	wait_flag(&hold.in);
	writer_start(&w[0], f->s, "a", 0, WRITER_COMMIT, 0);
	wait_waiting(f->s, 1);
	atomic_store(&hold.go, 1);         /* a batch of two: the load */
	pthread_join(hold.th, NULL);
	pthread_join(w[0].th, NULL);

	store_stats(f->s, &before);
	writer_start(&w[1], f->s, "b", 0, WRITER_COMMIT, 0);
	usleep(200 * 1000);
	assert_false(atomic_load(&w[1].answered));   /* its batch waits for more */
	writer_start(&w[2], f->s, "c", 0, WRITER_COMMIT, 0);
	pthread_join(w[1].th, NULL);
	pthread_join(w[2].th, NULL);
	assert_int_equal(w[1].rc, 0);
	assert_int_equal(w[2].rc, 0);
	store_stats(f->s, &after);
	assert_int_equal(after.batches - before.batches, 1);
	assert_int_equal(after.changes - before.changes, 2);

	/* one alone waits out the window once (the last batch was two), then not */
	writer_start(&w[0], f->s, "d", 0, WRITER_COMMIT, 0);
	pthread_join(w[0].th, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	writer_start(&w[0], f->s, "e", 0, WRITER_COMMIT, 0);
	pthread_join(w[0].th, NULL);
	assert_int_equal(w[0].rc, 0);
	assert_true(ms_since(&t0) < 1000);
}

/*
 * Alone, a caller commits a txn of its own, with no hand-off to the writer
 * thread: one commit for it, and a caller that comes meanwhile does not
 * share it but waits for the next (a batch would have let it in: the
 * window here is a minute). An aborted one leaves nothing and the store
 * goes on. After a batch of several (load), a lone caller opens a batch
 * again, which lingers for its window.
 */
static void
test_direct_alone(void **state)
{
	struct fixture_store *f = *state;
	struct writer w[4];
	struct store_stats before, after;
	struct store_txn *t;
	struct timespec t0;

	store_batch_limits(f->s, 64, 60000, 1);
	store_stats(f->s, &before);
	writer_start(&w[0], f->s, "a", 0, WRITER_COMMIT, 1);
	wait_flag(&w[0].in);
	writer_start(&w[1], f->s, "b", 0, WRITER_COMMIT, 0);
	wait_waiting(f->s, 1);             /* b queues: a is no batch to join */
	usleep(100 * 1000);
	assert_false(atomic_load(&w[1].answered));
	atomic_store(&w[0].go, 1);
	pthread_join(w[0].th, NULL);
	pthread_join(w[1].th, NULL);
	assert_int_equal(w[0].rc, 0);
	assert_int_equal(w[1].rc, 0);
	store_stats(f->s, &after);
	assert_int_equal(after.batches - before.batches, 2);
	assert_int_equal(after.changes - before.changes, 2);

	/* an aborted direct txn: nothing of it, and the next one commits */
	writer_start(&w[0], f->s, "gone", 0, WRITER_ABORT, 0);
	pthread_join(w[0].th, NULL);
	assert_int_equal(w[0].rc, 1);
	assert_int_equal(store_txn_begin(f->s, 1, &t), 0);
	put_str(t, STORE_DB_META, "c", "c");
	assert_int_equal(store_txn_commit(t), 0);
	assert_int_equal(store_txn_begin(f->s, 0, &t), 0);
	assert_get(t, STORE_DB_META, "a", "a");
	assert_get(t, STORE_DB_META, "b", "b");
	assert_get(t, STORE_DB_META, "c", "c");
	assert_missing(t, STORE_DB_META, "gone");
	store_txn_abort(t);

	/* load: a direct a, then b and c queued meanwhile share one batch */
	store_batch_limits(f->s, 64, 400, 1);
	writer_start(&w[0], f->s, "a2", 0, WRITER_COMMIT, 1);
	wait_flag(&w[0].in);
	writer_start(&w[1], f->s, "b2", 0, WRITER_COMMIT, 0);
	writer_start(&w[2], f->s, "c2", 0, WRITER_COMMIT, 0);
	wait_waiting(f->s, 2);
	store_stats(f->s, &before);
	atomic_store(&w[0].go, 1);
	for (int i = 0; i < 3; i++) {
		pthread_join(w[i].th, NULL);
		assert_int_equal(w[i].rc, 0);
	}
	store_stats(f->s, &after);
	assert_int_equal(after.batches - before.batches, 2);
	assert_int_equal(after.last_members, 2);
	/* so the next lone caller opens a batch, which waits for company */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	writer_start(&w[3], f->s, "d2", 0, WRITER_COMMIT, 0);
	pthread_join(w[3].th, NULL);
	assert_int_equal(w[3].rc, 0);
	assert_true(ms_since(&t0) >= 300);
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
		cmocka_unit_test_setup_teardown(test_batch_children_isolated, setup_batch,
		    fixture_store_teardown),
		cmocka_unit_test_setup_teardown(test_batch_answers_after_commit, setup_batch,
		    fixture_store_teardown),
		cmocka_unit_test_setup_teardown(test_batch_commit_fails_all, setup_batch,
		    fixture_store_teardown),
		cmocka_unit_test_setup_teardown(test_batch_bounds, setup,
		    fixture_store_teardown),
		cmocka_unit_test_setup_teardown(test_direct_alone, setup,
		    fixture_store_teardown),
		cmocka_unit_test_setup_teardown(test_batch_lingers_under_load, setup,
		    fixture_store_teardown),
	};

	log_init("test_store", 1, LOG_LEVEL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * backup.c's format against a real store: a backup written from a read txn
 * reads back record for record (binary keys and values as base64, sessions
 * left out), and the reader refuses, naming the line, a truncated file, a
 * changed record, a wrong digest, a line that is not JSON, a first line
 * that is no header, a line after the trailer and a file made with another
 * appliance key.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture_acctd.h"

#define NOW 1795839000            /* 2026-11-28T04:10:00Z */
#define MAX_LINES 64

struct lines {
	char *buf;                /* the whole backup */
	size_t len;
	char *line[MAX_LINES];    /* into a copy of buf, NUL-terminated */
	size_t n;
	char *copy;
};

static int
setup(void **state)
{
	struct fixture_store *f;
	struct store_txn *t;
	struct audit_actor a = { "u_admin", "admin", "Admin", NULL, "10.0.0.1" };
	struct audit_event e = { "user.update", &a, "u_x", "x", "u_x", "x", NULL };
	const uint8_t bin[4] = { 0, 1, 0xff, 2 };

	if (fixture_app_key(0x42) == -1 || fixture_store_new(state, "test_backup", "db", 16))
		return -1;
	f = *state;
	if (store_txn_begin(f->s, 1, &t) == -1 ||
	    store_put(t, STORE_DB_USER, "u_x", 3, "{\"handle\":\"x\"}", 14) == -1 ||
	    store_put(t, STORE_DB_META, bin, sizeof(bin), bin, sizeof(bin)) == -1 ||
	    store_put(t, STORE_DB_SESSION, "s1", 2, "secret", 6) == -1 ||
	    audit_append(t, 100, &e, NOW, NULL) == -1 || audit_append(t, 100, &e, NOW, NULL) == -1)
		return -1;
	return store_txn_commit(t);
}

static int
collect(void *arg, const void *buf, size_t len)
{
	struct lines *l = arg;

	l->buf = x_realloc(l->buf, l->len + len + 1);
	memcpy(l->buf + l->len, buf, len);
	l->len += len;
	l->buf[l->len] = '\0';
	return 0;
}

/* the store's backup, split into lines */
static void
write_backup(struct fixture_store *f, struct lines *l)
{
	struct store_txn *t;
	uint64_t n;
	char *p, *nl;

	memset(l, 0, sizeof(*l));
	assert_int_equal(store_txn_begin(f->s, 0, &t), 0);
	assert_int_equal(backup_write(t, app.key, NOW, collect, l, &n), 0);
	store_txn_abort(t);
	l->copy = x_strdup(l->buf);
	for (p = l->copy; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
		*nl = '\0';
		assert_true(l->n < MAX_LINES);
		l->line[l->n++] = p;
	}
	assert_int_equal(*p, '\0');            /* every line ends in a newline */
	assert_int_equal(n, l->n - 2);
}

static void
lines_free(struct lines *l)
{
	free(l->buf);
	free(l->copy);
}

/* feed lines 0..upto-1 (line i replaced by repl when repl is not NULL);
 * the result of the first failing line, or of backup_in_end */
static int
feed(struct backup_in *in, struct lines *l, size_t upto, size_t i, const char *repl,
    char *err, size_t errlen)
{
	struct backup_rec r;

	for (size_t k = 0; k < upto; k++) {
		const char *s = k == i && repl ? repl : l->line[k];
		int rc = backup_in_line(in, s, strlen(s), &r, err, errlen);

		backup_rec_free(&r);
		if (rc == -1)
			return -1;
	}
	return backup_in_end(in, err, errlen);
}

static void
test_round_trip(void **state)
{
	struct lines l;
	struct backup_in in;
	struct backup_rec r;
	char err[256];
	int users = 0, audits = 0, binary = 0;

	write_backup(*state, &l);
	assert_non_null(strstr(l.line[0], "\"format\":\"acctd-backup\""));
	assert_non_null(strstr(l.line[0], "\"created_at\":\"2026-11-28T04:10:00Z\""));
	assert_non_null(strstr(l.line[0], "\"sessions\":\"omitted\""));
	assert_null(strstr(l.buf, "\"db\":\"session\""));
	assert_null(strstr(l.buf, "secret"));
	assert_int_equal(backup_in_init(&in, app.key), 0);
	for (size_t k = 0; k < l.n; k++) {
		int rc = backup_in_line(&in, l.line[k], strlen(l.line[k]), &r, err, sizeof(err));

		assert_int_equal(rc, k == 0 ? BACKUP_LINE_HEADER : k == l.n - 1 ?
		    BACKUP_LINE_END : BACKUP_LINE_RECORD);
		if (rc == BACKUP_LINE_RECORD && r.db == STORE_DB_USER) {
			users++;
			assert_memory_equal(r.k, "u_x", 3);
			assert_int_equal(r.vl, 14);
		}
		if (rc == BACKUP_LINE_RECORD && r.db == STORE_DB_AUDIT) {
			audits++;
			assert_int_equal(r.kl, 8);       /* the seq, big-endian: base64 */
		}
		if (rc == BACKUP_LINE_RECORD && r.db == STORE_DB_META && r.kl == 4 &&
		    memcmp(r.k, "\0\1\377\2", 4) == 0) {
			binary++;
			assert_memory_equal(r.v, "\0\1\377\2", 4);
		}
		backup_rec_free(&r);
	}
	assert_int_equal(backup_in_end(&in, err, sizeof(err)), 0);
	assert_int_equal(users, 1);
	assert_int_equal(audits, 2);
	assert_int_equal(binary, 1);
	assert_int_equal(in.h.head_seq, 2);
	assert_int_equal(in.h.schema, STORE_SCHEMA_VERSION);
	backup_in_wipe(&in);
	lines_free(&l);
}

static void
test_truncated(void **state)
{
	struct lines l;
	struct backup_in in;
	char err[256], want[128];

	write_backup(*state, &l);
	backup_in_init(&in, app.key);
	assert_int_equal(feed(&in, &l, l.n - 1, 0, NULL, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "line %zu: the file ends without its trailer "
	    "(it is truncated)", l.n);
	assert_string_equal(err, want);
	backup_in_init(&in, app.key);
	assert_int_equal(feed(&in, &l, 0, 0, NULL, err, sizeof(err)), -1);
	assert_string_equal(err, "line 1: the file ends without its trailer (it is truncated)");
	lines_free(&l);
}

static void
test_changed_record(void **state)
{
	struct lines l;
	struct backup_in in;
	char err[256], want[128], *edit;
	size_t i;

	write_backup(*state, &l);
	for (i = 1; i < l.n && strstr(l.line[i], "\"db\":\"user\"") == NULL; i++)
		;
	assert_true(i < l.n);
	/* one byte of a record, still valid JSON: "handle":"x" becomes "y" */
	edit = x_strdup(l.line[i]);
	strstr(edit, "\\\"x\\\"")[2] = 'y';
	backup_in_init(&in, app.key);
	assert_int_equal(feed(&in, &l, l.n, i, edit, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "line %zu: digest: does not match the file (it was "
	    "changed after it was written)", l.n);
	assert_string_equal(err, want);
	free(edit);
	lines_free(&l);
}

static void
test_bad_digest(void **state)
{
	struct lines l;
	struct backup_in in;
	char err[256], *tr;

	write_backup(*state, &l);
	tr = x_strdup(l.line[l.n - 1]);
	tr[strlen(tr) - 3] = tr[strlen(tr) - 3] == '0' ? '1' : '0';
	backup_in_init(&in, app.key);
	assert_int_equal(feed(&in, &l, l.n, l.n - 1, tr, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ": digest: does not match the file"));
	free(tr);
	lines_free(&l);
}

static void
test_bad_json(void **state)
{
	struct lines l;
	struct backup_in in;
	char err[256];

	write_backup(*state, &l);
	backup_in_init(&in, app.key);
	assert_int_equal(feed(&in, &l, l.n, 2, "{\"db\":\"user\",", err, sizeof(err)), -1);
	assert_true(strncmp(err, "line 3: not a JSON object (", 27) == 0);
	backup_in_init(&in, app.key);
	assert_int_equal(feed(&in, &l, l.n, 2, "[1,2]", err, sizeof(err)), -1);
	assert_string_equal(err, "line 3: not a JSON object (another JSON value)");
	backup_in_init(&in, app.key);
	assert_int_equal(feed(&in, &l, l.n, 2, "{\"db\":\"user\",\"k\":\"a\"}", err,
	    sizeof(err)), -1);
	assert_string_equal(err, "line 3: v: a value is required (\"v\" or base64 \"vb\")");
	backup_in_init(&in, app.key);
	assert_int_equal(feed(&in, &l, l.n, 2, "{\"db\":\"user\",\"kb\":\"!!\",\"v\":\"\"}",
	    err, sizeof(err)), -1);
	assert_string_equal(err, "line 3: k: a key of 1 to 511 bytes is required "
	    "(\"k\" or base64 \"kb\")");
	lines_free(&l);
}

static void
test_header_and_trailer(void **state)
{
	struct lines l;
	struct backup_in in;
	struct backup_rec r;
	char err[256], want[128];

	write_backup(*state, &l);
	/* a record first */
	backup_in_init(&in, app.key);
	assert_int_equal(feed(&in, &l, l.n, 0, l.line[1], err, sizeof(err)), -1);
	assert_string_equal(err, "line 1: not an acctd backup (format is not \"acctd-backup\")");
	/* another appliance key */
	memset(app.key, 0x43, sizeof(app.key));
	backup_in_init(&in, app.key);
	memset(app.key, 0x42, sizeof(app.key));
	assert_int_equal(feed(&in, &l, l.n, 0, NULL, err, sizeof(err)), -1);
	assert_true(strncmp(err, "line 1: key_id: made with another key_file", 42) == 0);
	/* a line after the trailer */
	backup_in_init(&in, app.key);
	assert_int_equal(feed(&in, &l, l.n, 0, NULL, err, sizeof(err)), 0);
	assert_int_equal(backup_in_line(&in, "{}", 2, &r, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "line %zu: a line after the trailer", l.n + 1);
	assert_string_equal(err, want);
	lines_free(&l);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, fixture_store_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_round_trip),
		T(test_truncated),
		T(test_changed_record),
		T(test_bad_digest),
		T(test_bad_json),
		T(test_header_and_trailer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

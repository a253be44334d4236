/*
 * Scheduled rotation (rotate.c, issue 15 part D): the period of a user
 * under the policy, the due time every writer of a password record keeps,
 * and the due-time index in META moving with it (created, moved by a
 * rotation and by a change of the user's period, removed with the user).
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

#include "fixture_acctd.h"

#define DAY 86400
#define T0 1800000000

static struct fixture_store fx;
static struct conf test_conf = { .audit_capacity = 1000, .passwords_rotate_every_days = 10 };

static int
setup(void **state)
{
	(void)state;
	app.conf = &test_conf;
	if (fixture_app_key(-1) == -1 || fixture_store_up(&fx, "test_rotation", NULL, 16) == -1)
		return -1;
	app.store = fx.s;
	return 0;
}

static int
teardown(void **state)
{
	int rc;

	(void)state;
	rc = fixture_store_down(&fx);
	app.store = NULL;
	app.conf = NULL;
	crypto_shutdown();
	return rc;
}

/* the index entry of id at due is there */
static int
indexed(struct store_txn *t, const char *id, int64_t due)
{
	uint8_t k[11 + 8 + SECRET_ID_LEN];
	void *v = NULL;
	size_t vl;
	int rc;

	memcpy(k, "rotate_due/", 11);
	for (int i = 0; i < 8; i++)
		k[11 + i] = (uint8_t)((uint64_t)due >> (56 - 8 * i));
	memcpy(k + 19, id, SECRET_ID_LEN);
	rc = store_get(t, STORE_DB_META, k, sizeof(k), &v, &vl);
	free(v);
	return rc == 0;
}

/* a user with period `days` (0: the policy's) and a password made at now */
static void
make_user(struct store_txn *t, const char *handle, int days, int64_t now, struct user *u)
{
	struct dbpass_new n;
	int64_t v;

	memset(u, 0, sizeof(*u));
	assert_int_equal(secret_id(u->id, "u_"), 0);
	snprintf(u->handle, sizeof(u->handle), "%s", handle);
	u->email = x_strdup("x@example.com");
	u->pw_iter = 1;
	u->dbpass_rotate_days = days;
	assert_int_equal(user_save(t, u, NULL, 0), 0);
	assert_int_equal(dbpass_prepare(&n, 0), 0);
	assert_int_equal(dbpass_rotate(t, u->id, now, &n, &v), 0);
	dbpass_new_wipe(&n);
}

static void
test_period_never_longer_than_the_policy(void **state)
{
	(void)state;
	test_conf.passwords_rotate_every_days = 10;
	assert_int_equal(rotate_days(0), 10);
	assert_int_equal(rotate_days(3), 3);
	assert_int_equal(rotate_days(30), 10);
	test_conf.passwords_rotate_every_days = 0;
	assert_int_equal(rotate_days(0), 0);
	assert_int_equal(rotate_days(30), 30);
	test_conf.passwords_rotate_every_days = 10;
}

static void
test_rotation_moves_the_index(void **state)
{
	struct store_txn *t;
	struct dbpass d;
	struct dbpass_new n;
	struct user u;
	int64_t v;

	(void)state;
	assert_int_equal(store_txn_begin(app.store, 1, &t), 0);
	make_user(t, "alice", 0, T0, &u);
	assert_int_equal(dbpass_get(t, u.id, &d, NULL, 0), 0);
	assert_int_equal(d.due_at, T0 + 10 * DAY);
	assert_true(indexed(t, u.id, T0 + 10 * DAY));
	/* a rotation (manual or scheduled) starts the period again */
	assert_int_equal(dbpass_prepare(&n, 0), 0);
	assert_int_equal(dbpass_rotate(t, u.id, T0 + 5, &n, &v), 0);
	dbpass_new_wipe(&n);
	assert_int_equal(v, 2);
	assert_int_equal(dbpass_get(t, u.id, &d, NULL, 0), 0);
	assert_int_equal(d.due_at, T0 + 5 + 10 * DAY);
	assert_false(indexed(t, u.id, T0 + 10 * DAY));
	assert_true(indexed(t, u.id, T0 + 5 + 10 * DAY));
	/* the verifier filled later keeps the schedule */
	assert_int_equal(dbpass_verifier_fill(t, u.id, &d), 0);
	assert_int_equal(dbpass_get(t, u.id, &d, NULL, 0), 0);
	assert_int_equal(d.due_at, T0 + 5 + 10 * DAY);
	assert_true(indexed(t, u.id, T0 + 5 + 10 * DAY));
	/* deleting the password drops its entry */
	assert_int_equal(dbpass_delete(t, u.id), 0);
	assert_false(indexed(t, u.id, T0 + 5 + 10 * DAY));
	store_txn_abort(t);
	user_clear(&u);
}

static void
test_user_period_and_policy_reschedule(void **state)
{
	struct store_txn *t;
	struct dbpass d;
	struct user u;

	(void)state;
	assert_int_equal(store_txn_begin(app.store, 1, &t), 0);
	make_user(t, "bob", 3, T0, &u);
	assert_int_equal(dbpass_get(t, u.id, &d, NULL, 0), 0);
	assert_int_equal(d.due_at, T0 + 3 * DAY);
	/* the user's period changes: the record and the index follow */
	u.dbpass_rotate_days = 7;
	assert_int_equal(user_save(t, &u, NULL, 0), 0);
	assert_int_equal(dbpass_reschedule(t, u.id), 0);
	assert_int_equal(dbpass_get(t, u.id, &d, NULL, 0), 0);
	assert_int_equal(d.due_at, T0 + 7 * DAY);
	assert_false(indexed(t, u.id, T0 + 3 * DAY));
	assert_true(indexed(t, u.id, T0 + 7 * DAY));
	/* the policy below the user's period: the policy's */
	test_conf.passwords_rotate_every_days = 5;
	assert_int_equal(dbpass_reschedule(t, u.id), 0);
	assert_int_equal(dbpass_get(t, u.id, &d, NULL, 0), 0);
	assert_int_equal(d.due_at, T0 + 5 * DAY);
	/* no period at all: not scheduled, not indexed */
	u.dbpass_rotate_days = 0;
	test_conf.passwords_rotate_every_days = 0;
	assert_int_equal(user_save(t, &u, NULL, 0), 0);
	assert_int_equal(dbpass_reschedule(t, u.id), 0);
	assert_int_equal(dbpass_get(t, u.id, &d, NULL, 0), 0);
	assert_int_equal(d.due_at, 0);
	assert_false(indexed(t, u.id, T0 + 5 * DAY));
	test_conf.passwords_rotate_every_days = 10;
	store_txn_abort(t);
	user_clear(&u);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_period_never_longer_than_the_policy),
		cmocka_unit_test(test_rotation_moves_the_index),
		cmocka_unit_test(test_user_period_and_policy_reschedule),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

/*
 * The database password: the SCRAM-SHA-256 verifier against one PostgreSQL 15
 * computed itself (CREATE ROLE … PASSWORD, then pg_authid.rolpassword), the
 * password format, sealing at rest (round trip, tamper, wrong user), masking.
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

/* from PostgreSQL 15.18: password_encryption = scram-sha-256 */
#define PG_PASSWORD "f3k9q-2mzx7-tp4vc-8hw1b-9r2c0"
#define PG_VERIFIER "SCRAM-SHA-256$4096:/UodNfQJXOzghGW2kPakqA==$" \
	"3GfW6/1tZHLtoTFJMIH1LDKicnw5X736E3EkYt8V+3s=:hiWEdXOoKv0xQb9SZb+SneIbT7B3Vt2g+WiXSCZuofY="

static struct fixture_store fx;

static int
setup(void **state)
{
	(void)state;
	if (fixture_app_key(-1) == -1 || fixture_store_up(&fx, "test_dbpass", NULL, 16) == -1)
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
	crypto_shutdown();
	return rc;
}

static void
test_scram_matches_postgresql(void **state)
{
	uint8_t salt[16];
	size_t n;
	char out[PUSHMSG_VERIFIER_MAX + 1];
	(void)state;

	assert_int_equal(secret_unb64("/UodNfQJXOzghGW2kPakqA==", salt, sizeof(salt), &n), 0);
	assert_int_equal(n, 16);
	assert_int_equal(dbpass_scram_verifier(PG_PASSWORD, salt, n, 4096, out, sizeof(out)), 0);
	assert_string_equal(out, PG_VERIFIER);
	assert_true(pushmsg_verifier_valid(out));
	assert_false(pushmsg_verifier_valid("md5abcdef"));
	assert_false(pushmsg_verifier_valid("SCRAM-SHA-256$4096:abc$x:y"));
	assert_false(pushmsg_verifier_valid(PG_VERIFIER "'; DROP ROLE x; --"));
}

/* a new password for id, made the way the handlers make it (before the txn) */
static int
rotate(struct store_txn *t, const char *id, int64_t now, int64_t *v)
{
	struct dbpass_new n;
	int rc;

	if (dbpass_prepare(&n, 1) == -1)
		return -1;
	rc = dbpass_rotate(t, id, now, &n, v);
	dbpass_new_wipe(&n);
	return rc;
}

/* acctd import stores no verifier; the first node that needs it makes it */
static void
test_verifier_later(void **state)
{
	struct store_txn *t;
	struct dbpass_new n;
	struct dbpass d, again;
	char pw[64];
	int64_t v;
	(void)state;

	assert_int_equal(dbpass_prepare(&n, 0), 0);
	assert_string_equal(n.verifier, "");
	assert_int_equal(store_txn_begin(app.store, 1, &t), 0);
	assert_int_equal(dbpass_rotate(t, "u_0000000000000000000c", 5, &n, &v), 0);
	assert_int_equal(dbpass_get(t, "u_0000000000000000000c", &d, pw, sizeof(pw)), 0);
	assert_string_equal(pw, n.pw);
	assert_string_equal(d.verifier, "");
	assert_int_equal(dbpass_verifier_fill(t, "u_0000000000000000000c", &d), 0);
	assert_true(pushmsg_verifier_valid(d.verifier));
	assert_int_equal(dbpass_get(t, "u_0000000000000000000c", &again, pw, sizeof(pw)), 0);
	assert_string_equal(again.verifier, d.verifier);
	assert_string_equal(pw, n.pw);       /* the same password, version, time */
	assert_int_equal(again.version, 1);
	assert_int_equal(again.created_at, 5);
	store_txn_abort(t);
	dbpass_new_wipe(&n);
}

static void
test_rotate_get_roundtrip(void **state)
{
	struct store_txn *t;
	struct dbpass d1, d2;
	char pw1[64], pw2[64];
	int64_t v;
	(void)state;

	assert_int_equal(store_txn_begin(app.store, 1, &t), 0);
	assert_int_equal(dbpass_get(t, "u_00000000000000000001", &d1, NULL, 0), STORE_NOTFOUND);
	assert_int_equal(rotate(t, "u_00000000000000000001", 1000, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(dbpass_get(t, "u_00000000000000000001", &d1, pw1, sizeof(pw1)), 0);
	assert_int_equal(strlen(pw1), DBPASS_LEN);
	for (size_t i = 0; i < DBPASS_LEN; i++) {
		if (i % 6 == 5)
			assert_int_equal(pw1[i], '-');
		else
			assert_non_null(strchr("0123456789abcdefghjkmnpqrstvwxyz", pw1[i]));
	}
	assert_int_equal(rotate(t, "u_00000000000000000001", 2000, &v), 0);
	assert_int_equal(v, 2);
	assert_int_equal(dbpass_get(t, "u_00000000000000000001", &d2, pw2, sizeof(pw2)), 0);
	assert_int_equal(d2.version, 2);
	assert_int_equal(d2.created_at, 2000);
	assert_string_not_equal(pw1, pw2);
	assert_string_not_equal(d1.verifier, d2.verifier);
	assert_true(pushmsg_verifier_valid(d2.verifier));
	store_txn_commit(t);
}

static void
test_sealed_password_bound_to_user(void **state)
{
	struct store_txn *t;
	struct dbpass d;
	void *v;
	size_t vl;
	char pw[64];
	int64_t ver;
	(void)state;

	assert_int_equal(store_txn_begin(app.store, 1, &t), 0);
	assert_int_equal(rotate(t, "u_0000000000000000000a", 1, &ver), 0);
	/* move alice's record under bob's id: AES-GCM's associated data refuses it */
	assert_int_equal(store_get(t, STORE_DB_PASSWORD, "u_0000000000000000000a", 22, &v, &vl), 0);
	assert_int_equal(store_put(t, STORE_DB_PASSWORD, "u_0000000000000000000b", 22, v, vl), 0);
	assert_int_equal(dbpass_get(t, "u_0000000000000000000b", &d, pw, sizeof(pw)), -1);
	/* flip one character of the sealed text */
	{
		char *s = strstr((char *)v, "\"sealed\":\"");

		assert_non_null(s);
		s[12] = s[12] == 'A' ? 'B' : 'A';
		assert_int_equal(store_put(t, STORE_DB_PASSWORD, "u_0000000000000000000a", 22, v, vl), 0);
	}
	assert_int_equal(dbpass_get(t, "u_0000000000000000000a", &d, pw, sizeof(pw)), -1);
	free(v);
	store_txn_abort(t);
}

static void
test_mask(void **state)
{
	char out[64];
	(void)state;

	dbpass_mask("f3k9q-2mzx7-tp4vc-8hw1b-9r2c0", out, sizeof(out));
	assert_string_equal(out, "f3***-*****-*****-*****-***c0");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scram_matches_postgresql),
		cmocka_unit_test(test_rotate_get_roundtrip),
		cmocka_unit_test(test_verifier_later),
		cmocka_unit_test(test_sealed_password_bound_to_user),
		cmocka_unit_test(test_mask),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

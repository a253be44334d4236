/*
 * Two-factor sign-in (totp.c): HOTP/TOTP against RFC 6238's SHA-1 test
 * vectors (Appendix B) and RFC 4226's HOTP table (Appendix D), base32, the
 * ±1 step window and replay, recovery codes used once, the record sealed
 * at rest and bound to its user, tickets claimed once.
 */
#include <ctype.h>
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

static struct fixture_store fx;
static const uint8_t rfc_key[] = "12345678901234567890";   /* RFC 6238 SHA-1 seed */

static int
setup(void **state)
{
	(void)state;
	if (fixture_app_key(-1) == -1 || fixture_store_up(&fx, "test_totp", NULL, 16) == -1)
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

/* RFC 6238 Appendix B, the SHA-1 rows: time, 8-digit TOTP */
static void
test_rfc6238_vectors(void **state)
{
	static const struct { int64_t t; uint32_t code; } v[] = {
		{ 59, 94287082 }, { 1111111109, 7081804 }, { 1111111111, 14050471 },
		{ 1234567890, 89005924 }, { 2000000000, 69279037 },
		{ 20000000000, 65353130 },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(totp_hotp(rfc_key, 20, (uint64_t)(v[i].t / 30), 8), v[i].code);
		/* six digits: the same number's last six */
		assert_int_equal(totp_hotp(rfc_key, 20, (uint64_t)(v[i].t / 30), 6),
		    v[i].code % 1000000);
	}
}

/* RFC 4226 Appendix D: HOTP counters 0..9, 6 digits */
static void
test_rfc4226_vectors(void **state)
{
	static const uint32_t v[] = { 755224, 287082, 359152, 969429, 338314, 254676,
		287922, 162583, 399871, 520489 };
	(void)state;

	for (uint64_t c = 0; c < 10; c++)
		assert_int_equal(totp_hotp(rfc_key, 20, c, 6), v[c]);
}

static void
test_base32(void **state)
{
	char out[TOTP_B32_LEN + 1];
	(void)state;

	totp_base32(rfc_key, 20, out);
	assert_string_equal(out, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
	totp_base32((const uint8_t *)"f", 1, out);
	assert_string_equal(out, "MY");
	totp_base32((const uint8_t *)"foobar", 6, out);
	assert_string_equal(out, "MZXW6YTBOI");
}

static void
test_code_parse(void **state)
{
	(void)state;
	assert_int_equal(totp_code_parse("000123"), 123);
	assert_int_equal(totp_code_parse("12345"), -1);
	assert_int_equal(totp_code_parse("1234567"), -1);
	assert_int_equal(totp_code_parse("12a456"), -1);
	assert_int_equal(totp_code_parse(""), -1);
}

/* ±1 step accepted, ±2 refused, a step not later than last_step refused */
static void
test_window_and_replay(void **state)
{
	struct totp_rec r;
	int64_t now = 1234567890, s0 = now / 30, step = 0;
	(void)state;

	memset(&r, 0, sizeof(r));
	memcpy(r.secret, rfc_key, 20);
	for (int d = -2; d <= 2; d++) {
		int code = (int)totp_hotp(r.secret, 20, (uint64_t)(s0 + d), 6);

		assert_int_equal(totp_match(&r, code, now, &step), d >= -1 && d <= 1);
		if (d >= -1 && d <= 1)
			assert_int_equal(step, s0 + d);
	}
	r.last_step = s0;
	assert_int_equal(totp_match(&r, (int)totp_hotp(r.secret, 20, (uint64_t)s0, 6),
	    now, &step), 0);
	assert_int_equal(totp_match(&r, (int)totp_hotp(r.secret, 20, (uint64_t)s0 - 1, 6),
	    now, &step), 0);
	assert_int_equal(totp_match(&r, (int)totp_hotp(r.secret, 20, (uint64_t)s0 + 1, 6),
	    now, &step), 1);
}

static void
test_recovery_once(void **state)
{
	char codes[TOTP_RECOVERY_CODES][TOTP_RECOVERY_LEN + 1], up[TOTP_RECOVERY_LEN + 1];
	struct totp_rec r;
	size_t o;
	(void)state;

	memset(&r, 0, sizeof(r));
	assert_int_equal(totp_recovery_new(&r, "u_aaaaaaaaaaaaaaaaaaaa", codes), 0);
	assert_int_equal(r.nrecovery, 10);
	assert_int_equal(strlen(codes[3]), 11);
	assert_int_equal(totp_recovery_use(&r, "u_aaaaaaaaaaaaaaaaaaaa", codes[3]), 1);
	assert_int_equal(r.nrecovery, 9);
	assert_int_equal(totp_recovery_use(&r, "u_aaaaaaaaaaaaaaaaaaaa", codes[3]), 0);
	/* another user's record does not take the code */
	assert_int_equal(totp_recovery_use(&r, "u_bbbbbbbbbbbbbbbbbbbb", codes[4]), 0);
	/* upper case, no dash */
	o = 0;
	for (const char *p = codes[5]; *p; p++)
		if (*p != '-')
			up[o++] = (char)toupper((unsigned char)*p);
	up[o] = '\0';
	assert_int_equal(totp_recovery_use(&r, "u_aaaaaaaaaaaaaaaaaaaa", up), 1);
	assert_int_equal(r.nrecovery, 8);
}

/* saved sealed: the secret is not in the record; another user's id does
 * not open it */
static void
test_record_sealed(void **state)
{
	const char *id = "u_cccccccccccccccccccc", *other = "u_dddddddddddddddddddd";
	char b32[TOTP_B32_LEN + 1];
	struct store_txn *t;
	struct totp_rec r, back;
	void *v;
	size_t vl;
	(void)state;

	assert_int_equal(totp_secret_new(&r), 0);
	r.created_at = 100;
	r.last_step = 7;
	assert_int_equal(store_txn_begin(app.store, 1, &t), 0);
	assert_int_equal(totp_save(t, id, &r), 0);
	assert_int_equal(totp_load(t, id, &back), 0);
	assert_memory_equal(back.secret, r.secret, TOTP_SECRET_LEN);
	assert_int_equal(back.state, TOTP_PENDING);
	assert_int_equal(back.last_step, 7);
	assert_int_equal(totp_enabled(t, id), 0);
	assert_int_equal(store_get(t, STORE_DB_TOTP, id, strlen(id), &v, &vl), 0);
	totp_base32(r.secret, TOTP_SECRET_LEN, b32);
	assert_null(memmem(v, vl, b32, strlen(b32)));
	assert_null(memmem(v, vl, r.secret, TOTP_SECRET_LEN));
	assert_int_equal(store_put(t, STORE_DB_TOTP, other, strlen(other), v, vl), 0);
	assert_int_equal(totp_load(t, other, &back), -1);
	free(v);
	assert_int_equal(totp_delete(t, id), 0);
	assert_int_equal(totp_load(t, id, &back), STORE_NOTFOUND);
	store_txn_abort(t);
	totp_rec_wipe(&r);
}

static void
test_ticket_once(void **state)
{
	char tk[TOTP_TICKET_LEN + 1];
	struct totp_claim c, c2;
	struct user u;
	(void)state;

	memset(&u, 0, sizeof(u));
	strcpy(u.id, "u_eeeeeeeeeeeeeeeeeeee");
	memset(u.pw_hash, 7, sizeof(u.pw_hash));
	totp_ticket_reset();
	assert_int_equal(totp_ticket_new(&u, 1000, tk), 0);
	assert_int_equal(totp_ticket_claim(tk, 1000, &c), 0);
	assert_string_equal(c.user_id, u.id);
	/* claimed: nobody else meanwhile */
	assert_int_equal(totp_ticket_claim(tk, 1000, &c2), -1);
	totp_ticket_release(&c, TOTP_CLAIM_FAILED);
	assert_int_equal(totp_ticket_claim(tk, 1000, &c), 0);
	totp_ticket_release(&c, TOTP_CLAIM_USED);
	assert_int_equal(totp_ticket_claim(tk, 1000, &c), -1);
	/* expired */
	assert_int_equal(totp_ticket_new(&u, 1000, tk), 0);
	assert_int_equal(totp_ticket_claim(tk, 1000 + TOTP_TICKET_TTL, &c), -1);
	/* five wrong codes use it up */
	assert_int_equal(totp_ticket_new(&u, 2000, tk), 0);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(totp_ticket_claim(tk, 2000, &c), 0);
		totp_ticket_release(&c, TOTP_CLAIM_FAILED);
	}
	assert_int_equal(totp_ticket_claim(tk, 2000, &c), -1);
}

/* one user signing in again and again replaces their own oldest tickets:
 * the table stays open to everybody else */
static void
test_ticket_per_user_cap(void **state)
{
	char first[TOTP_TICKET_LEN + 1], tk[TOTP_TICKET_LEN + 1];
	struct totp_claim c;
	struct user a, b;
	(void)state;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	strcpy(a.id, "u_aaaaaaaaaaaaaaaaaaaa");
	strcpy(b.id, "u_bbbbbbbbbbbbbbbbbbbb");
	totp_ticket_reset();
	assert_int_equal(totp_ticket_new(&a, 1000, first), 0);
	for (int i = 0; i < 2000; i++)
		assert_int_equal(totp_ticket_new(&a, 1000 + i / 100, tk), 0);
	assert_int_equal(totp_ticket_claim(first, 1020, &c), -1);   /* replaced */
	assert_int_equal(totp_ticket_claim(tk, 1020, &c), 0);       /* the newest works */
	assert_string_equal(c.user_id, a.id);
	totp_ticket_release(&c, TOTP_CLAIM_USED);
	assert_int_equal(totp_ticket_new(&b, 1020, tk), 0);         /* b is not locked out */
	assert_int_equal(totp_ticket_claim(tk, 1020, &c), 0);
	assert_string_equal(c.user_id, b.id);
	totp_ticket_release(&c, TOTP_CLAIM_USED);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc6238_vectors),
		cmocka_unit_test(test_rfc4226_vectors),
		cmocka_unit_test(test_base32),
		cmocka_unit_test(test_code_parse),
		cmocka_unit_test(test_window_and_replay),
		cmocka_unit_test(test_recovery_once),
		cmocka_unit_test(test_record_sealed),
		cmocka_unit_test(test_ticket_once),
		cmocka_unit_test(test_ticket_per_user_cap),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

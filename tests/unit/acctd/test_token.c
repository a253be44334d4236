/*
 * token.c on its own: the token's format and checksum (so a scanner can
 * recognise one and a typo is refused before any store read), what
 * token_parse refuses, and that only HMAC(token key, secret) is kept at
 * rest: no record holds the token or its secret. Until now only the API
 * suite reached this.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fixture_acctd.h"

#define NOW 1800000000LL
#define USER "u_0123456789abcdefghij"
#define B32 "0123456789abcdefghjkmnpqrstvwxyz"

/* the check characters of tok's first TOKEN_LEN - TOKEN_CHECK_LEN bytes,
 * written in place: a well-formed token for any body */
static void
reseal(char tok[TOKEN_LEN + 1])
{
	uint32_t c = token_crc32(tok, TOKEN_LEN - TOKEN_CHECK_LEN);

	for (int i = TOKEN_LEN - 1; i >= TOKEN_LEN - TOKEN_CHECK_LEN; i--) {
		tok[i] = B32[c & 31];
		c >>= 5;
	}
	tok[TOKEN_LEN] = '\0';
}

static int
parses(const char *tok)
{
	char id[SECRET_ID_LEN + 1], secret[TOKEN_SECRET_LEN + 1];

	return token_parse(tok, id, secret) == 0;
}

/* a random appliance key for the whole file (minting needs the CSPRNG) */
static int
group_setup(void **state)
{
	(void)state;
	return fixture_app_key(-1);
}

/* tok with n bytes of s written at `at` and its checksum made right */
static int
parses_edited(const char *tok, size_t at, const char *s, size_t n)
{
	char bad[TOKEN_LEN + 1];

	memcpy(bad, tok, sizeof(bad));
	memcpy(bad + at, s, n);
	reseal(bad);
	return parses(bad);
}

static void
test_crc32_is_zlibs(void **state)
{
	(void)state;
	assert_true(token_crc32("123456789", 9) == 0xcbf43926u);  /* the check value */
	assert_true(token_crc32("", 0) == 0);
}

static void
test_mint_format(void **state)
{
	char id[SECRET_ID_LEN + 1], tok[TOKEN_LEN + 1];
	char pid[SECRET_ID_LEN + 1], secret[TOKEN_SECRET_LEN + 1];
	uint8_t hmac[CRYPTO_SHA256_LEN], k[CRYPTO_KEY_LEN], want[CRYPTO_SHA256_LEN];
	(void)state;

	assert_int_equal(TOKEN_LEN, 58);
	assert_int_equal(token_mint(id, tok, hmac), 0);
	assert_int_equal(strlen(tok), TOKEN_LEN);
	assert_memory_equal(tok, "spt_", 4);
	assert_true(secret_id_valid(id, "t_"));
	assert_memory_equal(tok + 4, id + 2, 20);      /* the id without "t_" */
	assert_int_equal(tok[24], '_');
	assert_int_equal(strspn(tok + 25, B32), TOKEN_SECRET_LEN + TOKEN_CHECK_LEN);
	/* parsing gives the id and the secret back */
	assert_int_equal(token_parse(tok, pid, secret), 0);
	assert_string_equal(pid, id);
	assert_memory_equal(secret, tok + 25, TOKEN_SECRET_LEN);
	assert_int_equal(strlen(secret), TOKEN_SECRET_LEN);
	/* at rest: HMAC-SHA256(HKDF(appliance key, "acctd token v1"), secret) */
	assert_int_equal(crypto_hkdf_sha256(app.key, sizeof(app.key),
	    "acctd token v1", k, sizeof(k)), 0);
	crypto_hmac_sha256(k, sizeof(k), secret, strlen(secret), want);
	assert_memory_equal(hmac, want, sizeof(want));
	/* two tokens share nothing */
	{
		char id2[SECRET_ID_LEN + 1], tok2[TOKEN_LEN + 1];
		uint8_t hmac2[CRYPTO_SHA256_LEN];

		assert_int_equal(token_mint(id2, tok2, hmac2), 0);
		assert_string_not_equal(id, id2);
		assert_memory_not_equal(tok + 25, tok2 + 25, TOKEN_SECRET_LEN);
		assert_memory_not_equal(hmac, hmac2, sizeof(hmac));
	}
}

/* every single-character change of a token is caught by its checksum */
static void
test_checksum_catches_typos(void **state)
{
	char id[SECRET_ID_LEN + 1], tok[TOKEN_LEN + 1], bad[TOKEN_LEN + 1];
	uint8_t hmac[CRYPTO_SHA256_LEN];
	(void)state;

	assert_int_equal(token_mint(id, tok, hmac), 0);
	assert_true(parses(tok));
	for (size_t i = 4; i < TOKEN_LEN; i++) {
		if (i == 24)
			continue;                 /* the separator */
		for (const char *c = B32; *c; c++) {
			if (*c == tok[i])
				continue;
			memcpy(bad, tok, sizeof(bad));
			bad[i] = *c;
			assert_false(parses(bad));
		}
	}
	/* two adjacent characters swapped */
	for (size_t i = 25; i + 1 < TOKEN_LEN; i++) {
		if (tok[i] == tok[i + 1])
			continue;
		memcpy(bad, tok, sizeof(bad));
		bad[i] = tok[i + 1];
		bad[i + 1] = tok[i];
		assert_false(parses(bad));
	}
}

static void
test_parse_refuses_malformed(void **state)
{
	char id[SECRET_ID_LEN + 1], tok[TOKEN_LEN + 1], bad[4096];
	uint8_t hmac[CRYPTO_SHA256_LEN];
	(void)state;

	assert_int_equal(token_mint(id, tok, hmac), 0);
	/* the prefix, whatever the checksum says */
	for (const char *p = "sptXSPT_spx_xpt_"; *p; p += 4)
		assert_false(parses_edited(tok, 0, p, 4));
	assert_false(parses_edited(tok, 24, "-", 1));      /* the separator */
	/* characters outside Crockford base32 (no i l o u, lower case only) in
	 * the secret, with a checksum that matches */
	for (const char *c = "iloUA_-=+/ \xc3"; *c; c++)
		assert_false(parses_edited(tok, 30, c, 1));
	/* an id outside the id alphabet [0-9a-v], checksum matching */
	assert_false(parses_edited(tok, 10, "z", 1));
	assert_true(parses_edited(tok, 10, "v", 1));     /* its last letter */
	/* one short, one long, empty, and oversized */
	memcpy(bad, tok, TOKEN_LEN + 1);
	bad[TOKEN_LEN - 1] = '\0';
	assert_false(parses(bad));
	memcpy(bad, tok, TOKEN_LEN + 1);
	bad[TOKEN_LEN] = '0';
	bad[TOKEN_LEN + 1] = '\0';
	assert_false(parses(bad));
	assert_false(parses(""));
	memset(bad, 'a', sizeof(bad) - 1);
	memcpy(bad, tok, TOKEN_LEN);
	bad[sizeof(bad) - 1] = '\0';
	assert_false(parses(bad));
}

static int
setup(void **state)
{
	return fixture_store_new(state, "test_token", NULL, 16);
}

/* a token of USER saved in a committed txn */
static void
save(struct fixture_store *f, char tok[TOKEN_LEN + 1], struct token *k, int64_t expires)
{
	struct store_txn *t;

	memset(k, 0, sizeof(*k));
	assert_int_equal(token_mint(k->id, tok, k->hmac), 0);
	strcpy(k->user_id, USER);
	k->title = "ci";
	k->active = 1;
	memcpy(k->last4, tok + TOKEN_LEN - 4, 4);
	k->created_ms = NOW * 1000;
	k->updated_at = NOW;
	k->expires_at = expires;
	k->version_id = 1;
	assert_int_equal(store_txn_begin(f->s, 1, &t), 0);
	assert_int_equal(token_save(t, k), 0);
	assert_int_equal(store_txn_commit(t), 0);
	k->title = NULL;
}

static int
verify(struct fixture_store *f, const char *tok, int64_t now)
{
	struct store_txn *t;
	struct token k;
	int rc;

	assert_int_equal(store_txn_begin(f->s, 0, &t), 0);
	rc = token_verify(t, tok, now, &k);
	store_txn_abort(t);
	if (rc == 0)
		token_clear(&k);
	return rc;
}

struct scan {
	const char *needle;
	size_t len;
	int found, records;
};

static int
scan_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	struct scan *s = arg;

	s->records++;
	if (memmem(k, kl, s->needle, s->len) || memmem(v, vl, s->needle, s->len))
		s->found = 1;
	return 0;
}

/* how many records of STORE_DB_TOKEN hold needle (key or value) */
static int
stored(struct fixture_store *f, const char *needle, size_t len, int *records)
{
	struct scan s = { needle, len, 0, 0 };
	struct store_txn *t;

	assert_int_equal(store_txn_begin(f->s, 0, &t), 0);
	assert_int_equal(store_iter(t, STORE_DB_TOKEN, NULL, 0, 0, scan_cb, &s), 0);
	store_txn_abort(t);
	*records = s.records;
	return s.found;
}

static void
test_at_rest_only_the_hmac(void **state)
{
	struct fixture_store *f = *state;
	char tok[TOKEN_LEN + 1];
	struct token k;
	int records;

	save(f, tok, &k, 0);
	/* the record and the user index are there ... */
	assert_true(stored(f, (const char *)k.hmac, sizeof(k.hmac), &records));
	assert_int_equal(records, 2);
	assert_true(stored(f, k.id, strlen(k.id), &records));
	/* ... but neither the token nor its secret, nor a part of it longer
	 * than the last four characters shown in the list */
	assert_false(stored(f, tok, TOKEN_LEN, &records));
	assert_false(stored(f, tok + 25, TOKEN_SECRET_LEN, &records));
	for (size_t i = 25; i + 8 <= TOKEN_LEN; i++)
		assert_false(stored(f, tok + i, 8, &records));
	assert_true(stored(f, tok + TOKEN_LEN - 4, 4, &records));    /* last4 */
	/* and the stored HMAC is what verifies the token */
	assert_int_equal(verify(f, tok, NOW), 0);
}

static void
test_verify(void **state)
{
	struct fixture_store *f = *state;
	char tok[TOKEN_LEN + 1], other[TOKEN_LEN + 1], id2[SECRET_ID_LEN + 1];
	uint8_t h2[CRYPTO_SHA256_LEN];
	struct token k;

	save(f, tok, &k, NOW + 60);
	assert_int_equal(verify(f, tok, NOW), 0);
	/* another secret under the same id, checksum right: refused */
	assert_int_equal(token_mint(id2, other, h2), 0);
	memcpy(other + 4, tok + 4, 20);
	reseal(other);
	assert_true(parses(other));
	assert_int_equal(verify(f, other, NOW), STORE_NOTFOUND);
	/* expired at expires_at */
	assert_int_equal(verify(f, tok, NOW + 59), 0);
	assert_int_equal(verify(f, tok, NOW + 60), STORE_NOTFOUND);
	/* an unknown id */
	assert_int_equal(token_mint(id2, other, h2), 0);
	assert_int_equal(verify(f, other, NOW), STORE_NOTFOUND);
	/* under another appliance key nothing verifies */
	app.key[0] ^= 1;
	assert_int_equal(app_keys_derive(), 0);
	assert_int_equal(verify(f, tok, NOW), STORE_NOTFOUND);
	app.key[0] ^= 1;
	assert_int_equal(app_keys_derive(), 0);
	assert_int_equal(verify(f, tok, NOW), 0);
}

static void
test_verify_inactive(void **state)
{
	struct fixture_store *f = *state;
	char tok[TOKEN_LEN + 1];
	struct store_txn *t;
	struct token k;

	save(f, tok, &k, 0);
	k.active = 0;
	assert_int_equal(store_txn_begin(f->s, 1, &t), 0);
	assert_int_equal(token_save(t, &k), 0);
	assert_int_equal(store_txn_commit(t), 0);
	assert_int_equal(verify(f, tok, NOW), STORE_NOTFOUND);
}

/* garbage is refused before any store read: no txn is needed */
static void
test_garbage_reads_nothing(void **state)
{
	struct token k;
	(void)state;

	assert_int_equal(token_verify(NULL, "spt_garbage", NOW, &k), STORE_NOTFOUND);
	assert_int_equal(token_verify(NULL, "", NOW, &k), STORE_NOTFOUND);
}

static void
put_raw(struct fixture_store *f, const char *id, const char *v, size_t vl)
{
	struct store_txn *t;

	assert_int_equal(store_txn_begin(f->s, 1, &t), 0);
	assert_int_equal(store_put(t, STORE_DB_TOKEN, id, strlen(id), v, vl), 0);
	assert_int_equal(store_txn_commit(t), 0);
}

static int
load(struct fixture_store *f, const char *id, struct token *k)
{
	struct store_txn *t;
	int rc;

	assert_int_equal(store_txn_begin(f->s, 0, &t), 0);
	rc = token_load(t, id, k);
	store_txn_abort(t);
	return rc;
}

/* every field comes back as saved, the NULL ones as NULL */
static void
test_record_round_trip(void **state)
{
	struct fixture_store *f = *state;
	char tok[TOKEN_LEN + 1];
	struct store_txn *t;
	struct token k, got;

	save(f, tok, &k, NOW + 3600);
	assert_int_equal(load(f, k.id, &got), 0);
	assert_string_equal(got.id, k.id);
	assert_string_equal(got.user_id, USER);
	assert_string_equal(got.title, "ci");
	assert_int_equal(got.active, 1);
	assert_string_equal(got.last4, k.last4);
	assert_memory_equal(got.hmac, k.hmac, sizeof(k.hmac));
	assert_int_equal(got.created_ms, NOW * 1000);
	assert_int_equal(got.updated_at, NOW);
	assert_int_equal(got.last_used_at, 0);
	assert_string_equal(got.last_used_ip, "");
	assert_int_equal(got.expires_at, NOW + 3600);
	assert_int_equal(got.version_id, 1);
	token_clear(&got);

	k.title = NULL;
	k.active = 0;
	k.last_used_at = NOW + 5;
	strcpy(k.last_used_ip, "2001:db8::1");
	k.version_id = 7;
	assert_int_equal(store_txn_begin(f->s, 1, &t), 0);
	assert_int_equal(token_save(t, &k), 0);
	assert_int_equal(store_txn_commit(t), 0);
	assert_int_equal(load(f, k.id, &got), 0);
	assert_null(got.title);
	assert_int_equal(got.active, 0);
	assert_int_equal(got.last_used_at, NOW + 5);
	assert_string_equal(got.last_used_ip, "2001:db8::1");
	assert_int_equal(got.version_id, 7);
	token_clear(&got);
}

/* a record written by an older build (JSON) still loads and verifies */
static void
test_record_old_json(void **state)
{
	struct fixture_store *f = *state;
	char tok[TOKEN_LEN + 1], hex[2 * CRYPTO_SHA256_LEN + 1], *v;
	struct token k, got;

	save(f, tok, &k, 0);
	secret_hex(k.hmac, sizeof(k.hmac), hex);
	v = x_asprintf("{\"id\":\"%s\",\"user_id\":\"%s\",\"title\":\"old\","
	    "\"status\":\"active\",\"last4\":\"%s\",\"hmac\":\"%s\","
	    "\"created_ms\":%lld,\"updated_at\":%lld,\"last_used_at\":0,"
	    "\"last_used_ip\":null,\"expires_at\":0,\"version_id\":3}",
	    k.id, USER, k.last4, hex, NOW * 1000, NOW);
	put_raw(f, k.id, v, strlen(v));
	free(v);
	assert_int_equal(load(f, k.id, &got), 0);
	assert_string_equal(got.title, "old");
	assert_int_equal(got.version_id, 3);
	assert_memory_equal(got.hmac, k.hmac, sizeof(k.hmac));
	token_clear(&got);
	assert_int_equal(verify(f, tok, NOW), 0);
}

/* a cut, padded or foreign record is corrupt: refused, never half-read */
static void
test_record_corrupt(void **state)
{
	struct fixture_store *f = *state;
	char tok[TOKEN_LEN + 1], other[SECRET_ID_LEN + 1];
	struct store_txn *t;
	struct token k, got;
	void *v;
	size_t vl;
	uint8_t buf[512];

	save(f, tok, &k, 0);
	assert_int_equal(store_txn_begin(f->s, 0, &t), 0);
	assert_int_equal(store_get(t, STORE_DB_TOKEN, k.id, strlen(k.id), &v, &vl), 0);
	store_txn_abort(t);
	assert_true(vl < sizeof(buf) - 1);
	memcpy(buf, v, vl);
	free(v);
	for (size_t cut = 0; cut < vl; cut++) {
		put_raw(f, k.id, (const char *)buf, cut);
		assert_int_equal(load(f, k.id, &got), -1);
	}
	buf[vl] = 0;
	put_raw(f, k.id, (const char *)buf, vl + 1);
	assert_int_equal(load(f, k.id, &got), -1);
	buf[0] = 9;                                  /* an unknown version */
	put_raw(f, k.id, (const char *)buf, vl);
	assert_int_equal(load(f, k.id, &got), -1);
	/* the record of another id under this key */
	buf[0] = 1;
	strcpy(other, k.id);
	other[SECRET_ID_LEN - 1] = other[SECRET_ID_LEN - 1] == 'a' ? 'b' : 'a';
	put_raw(f, other, (const char *)buf, vl);
	assert_int_equal(load(f, other, &got), -1);
	/* and a corrupt record fails closed: a store error, not a pass */
	assert_int_equal(verify(f, tok, NOW), -1);
}

/* the scope round-trips; a record of the builds before scopes (version 1:
 * the same fields without the scope byte) reads as full, what it could do;
 * a scope byte out of range is corrupt */
static void
test_record_scope(void **state)
{
	struct fixture_store *f = *state;
	char tok[TOKEN_LEN + 1];
	struct store_txn *t;
	struct token k, got;
	uint8_t buf[512];
	void *v;
	size_t vl;

	save(f, tok, &k, 0);
	k.scope = TOKEN_SCOPE_CONNECT;
	assert_int_equal(store_txn_begin(f->s, 1, &t), 0);
	assert_int_equal(token_save(t, &k), 0);
	assert_int_equal(store_txn_commit(t), 0);
	assert_int_equal(load(f, k.id, &got), 0);
	assert_int_equal(got.scope, TOKEN_SCOPE_CONNECT);
	token_clear(&got);
	assert_int_equal(store_txn_begin(f->s, 0, &t), 0);
	assert_int_equal(store_get(t, STORE_DB_TOKEN, k.id, strlen(k.id), &v, &vl), 0);
	store_txn_abort(t);
	assert_true(vl < sizeof(buf));
	memcpy(buf, v, vl);
	free(v);
	assert_int_equal(buf[0], 2);
	assert_int_equal(buf[vl - 1], TOKEN_SCOPE_CONNECT);
	buf[vl - 1] = TOKEN_SCOPE_COUNT;
	put_raw(f, k.id, (const char *)buf, vl);
	assert_int_equal(load(f, k.id, &got), -1);
	buf[0] = 1;                                  /* as the older build wrote it */
	put_raw(f, k.id, (const char *)buf, vl - 1);
	assert_int_equal(load(f, k.id, &got), 0);
	assert_int_equal(got.scope, TOKEN_SCOPE_FULL);
	assert_memory_equal(got.hmac, k.hmac, sizeof(k.hmac));
	token_clear(&got);
	assert_int_equal(verify(f, tok, NOW), 0);
	assert_string_equal(token_scope_name(TOKEN_SCOPE_READ), "read");
	assert_int_equal(token_scope_parse("connect"), TOKEN_SCOPE_CONNECT);
	assert_int_equal(token_scope_parse("admin"), -1);
	assert_null(token_scope_name(TOKEN_SCOPE_COUNT));
}

static void
test_touch_due(void **state)
{
	(void)state;
	assert_true(token_touch_due("t_00000000000000000001", NOW));
	assert_false(token_touch_due("t_00000000000000000001", NOW + TOKEN_TOUCH_EVERY - 1));
	assert_true(token_touch_due("t_00000000000000000002", NOW + 1));
	assert_true(token_touch_due("t_00000000000000000001", NOW + TOKEN_TOUCH_EVERY));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32_is_zlibs),
		cmocka_unit_test_setup_teardown(test_mint_format, setup, fixture_store_teardown),
		cmocka_unit_test(test_checksum_catches_typos),
		cmocka_unit_test(test_parse_refuses_malformed),
		cmocka_unit_test_setup_teardown(test_at_rest_only_the_hmac, setup, fixture_store_teardown),
		cmocka_unit_test_setup_teardown(test_verify, setup, fixture_store_teardown),
		cmocka_unit_test_setup_teardown(test_verify_inactive, setup, fixture_store_teardown),
		cmocka_unit_test(test_garbage_reads_nothing),
		cmocka_unit_test_setup_teardown(test_record_round_trip, setup, fixture_store_teardown),
		cmocka_unit_test_setup_teardown(test_record_scope, setup, fixture_store_teardown),
		cmocka_unit_test_setup_teardown(test_record_old_json, setup, fixture_store_teardown),
		cmocka_unit_test_setup_teardown(test_record_corrupt, setup, fixture_store_teardown),
		cmocka_unit_test(test_touch_due),
	};

	log_init("test_token", 1, LOG_LEVEL_ERROR);
	return cmocka_run_group_tests(tests, group_setup, NULL);
}

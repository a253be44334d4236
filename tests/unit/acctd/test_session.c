/*
 * session.c against a real LMDB environment: a session deleted while a
 * request still holds it is never written back, and expired sessions are
 * found and swept in bounded passes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture_acctd.h"

#define IDLE 1800
#define ABSOLUTE 43200
#define NOW 1800000000LL
#define USER "u_0123456789abcdefghij"

static int
setup(void **state)
{
	if (fixture_app_key(-1) == -1)
		return -1;
	return fixture_store_new(state, "test_session", NULL, 16);
}

/* a committed session created at now_ms; sid filled */
static void
make(struct fixture_store *f, int64_t now_ms, char sid[SESSION_TOKEN_LEN + 1])
{
	char csrf[SESSION_TOKEN_LEN + 1];
	struct store_txn *t;

	assert_int_equal(store_txn_begin(f->s, 1, &t), 0);
	assert_int_equal(session_create(t, USER, now_ms, "192.0.2.7", "UA", sid, csrf), 0);
	assert_int_equal(store_txn_commit(t), 0);
}

static int
lookup(struct fixture_store *f, const char *sid, int64_t now, struct session *s, int *stale)
{
	struct store_txn *t;
	int rc;

	assert_int_equal(store_txn_begin(f->s, 0, &t), 0);
	rc = session_lookup(t, sid, now, IDLE, ABSOLUTE, s, stale);
	store_txn_abort(t);
	return rc;
}

static size_t
count(struct fixture_store *f)
{
	struct store_txn *t;
	size_t n;

	assert_int_equal(store_txn_begin(f->s, 0, &t), 0);
	assert_int_equal(store_count(t, STORE_DB_SESSION, &n), 0);
	store_txn_abort(t);
	return n;
}

/*
 * Issue 9 finding 8: a request looks its session up, a logout deletes it,
 * then the request writes last_seen back. The session must stay deleted.
 */
static void
test_touch_after_logout_does_not_resurrect(void **state)
{
	struct fixture_store *f = *state;
	char sid[SESSION_TOKEN_LEN + 1];
	struct store_txn *t;
	struct session s;
	int stale;

	make(f, NOW * 1000, sid);
	/* the request: its lookup finds the session due for a touch */
	assert_int_equal(lookup(f, sid, NOW + 120, &s, &stale), 0);
	assert_int_equal(stale, 1);
	/* the logout commits first */
	assert_int_equal(store_txn_begin(f->s, 1, &t), 0);
	assert_int_equal(session_delete(t, sid), 0);
	assert_int_equal(store_txn_commit(t), 0);
	/* then the request's write-back */
	assert_int_equal(store_txn_begin(f->s, 1, &t), 0);
	assert_int_equal(session_touch(t, sid, NOW + 120), STORE_NOTFOUND);
	assert_int_equal(store_txn_commit(t), 0);
	assert_int_equal(lookup(f, sid, NOW + 121, &s, &stale), STORE_NOTFOUND);
	assert_int_equal(count(f), 0);
}

/* a touch on a live session moves last_seen and keeps the rest */
static void
test_touch_updates_last_seen(void **state)
{
	struct fixture_store *f = *state;
	char sid[SESSION_TOKEN_LEN + 1];
	struct store_txn *t;
	struct session a, b;
	int stale;

	make(f, NOW * 1000, sid);
	assert_int_equal(lookup(f, sid, NOW, &a, &stale), 0);
	assert_int_equal(store_txn_begin(f->s, 1, &t), 0);
	assert_int_equal(session_touch(t, sid, NOW + 100), 0);
	assert_int_equal(store_txn_commit(t), 0);
	assert_int_equal(lookup(f, sid, NOW + 100, &b, &stale), 0);
	assert_int_equal(b.last_seen, NOW + 100);
	assert_int_equal(stale, 0);
	assert_string_equal(a.csrf, b.csrf);
	assert_int_equal(a.created_ms, b.created_ms);
	/* never backwards (a slow request touching late) */
	assert_int_equal(store_txn_begin(f->s, 1, &t), 0);
	assert_int_equal(session_touch(t, sid, NOW + 50), 0);
	assert_int_equal(store_txn_commit(t), 0);
	assert_int_equal(lookup(f, sid, NOW + 100, &b, &stale), 0);
	assert_int_equal(b.last_seen, NOW + 100);
}

/* idle and absolute expiry are told apart from an unknown session */
static void
test_lookup_reports_expired(void **state)
{
	struct fixture_store *f = *state;
	char idle[SESSION_TOKEN_LEN + 1], old[SESSION_TOKEN_LEN + 1];
	struct store_txn *t;
	struct session s;
	int stale;

	make(f, NOW * 1000, idle);
	make(f, (NOW - ABSOLUTE) * 1000, old);
	/* old: touched recently, but older than the absolute timeout */
	assert_int_equal(store_txn_begin(f->s, 1, &t), 0);
	assert_int_equal(session_touch(t, old, NOW + IDLE), 0);
	assert_int_equal(store_txn_commit(t), 0);
	assert_int_equal(lookup(f, idle, NOW + IDLE + 1, &s, &stale), SESSION_EXPIRED);
	assert_int_equal(lookup(f, old, NOW + IDLE, &s, &stale), SESSION_EXPIRED);
	assert_int_equal(lookup(f, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NOW, &s, &stale),
	    STORE_NOTFOUND);
}

/* Issue 9 finding 5: expired sessions are deleted, a bounded number of
 * records per pass, live ones kept */
static void
test_sweep_bounded(void **state)
{
	struct fixture_store *f = *state;
	char sid[SESSION_TOKEN_LEN + 1], live[3][SESSION_TOKEN_LEN + 1];
	uint8_t cursor[CRYPTO_SHA256_LEN] = { 0 };
	struct store_txn *t;
	struct session s;
	size_t removed, total = 0;
	int more, passes = 0, stale;

	for (int i = 0; i < 10; i++)
		make(f, (NOW - IDLE - 10) * 1000, sid);      /* idle-expired */
	for (int i = 0; i < 3; i++)
		make(f, NOW * 1000, live[i]);
	assert_int_equal(count(f), 13);
	do {
		assert_int_equal(store_txn_begin(f->s, 1, &t), 0);
		assert_int_equal(session_sweep(t, NOW, IDLE, ABSOLUTE, 4, cursor,
		    &more, &removed), 0);
		assert_int_equal(store_txn_commit(t), 0);
		assert_true(removed <= 4);
		total += removed;
		passes++;
	} while (more && passes < 20);
	assert_int_equal(total, 10);
	assert_int_equal(passes, 4);       /* 13 records, 4 per pass */
	assert_int_equal(count(f), 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(lookup(f, live[i], NOW, &s, &stale), 0);
	/* the cursor is back at the start: the next pass sees everything */
	assert_int_equal(store_txn_begin(f->s, 1, &t), 0);
	assert_int_equal(session_sweep(t, NOW + IDLE + 1, IDLE, ABSOLUTE, 100, cursor,
	    &more, &removed), 0);
	assert_int_equal(store_txn_commit(t), 0);
	assert_int_equal(removed, 3);
	assert_int_equal(more, 0);
	assert_int_equal(count(f), 0);
}

/* the stored record of sid, raw */
static void
raw_put(struct fixture_store *f, const char *sid, const void *v, size_t vl)
{
	uint8_t key[CRYPTO_SHA256_LEN];
	struct store_txn *t;

	crypto_hmac_sha256(app.keys.session, CRYPTO_KEY_LEN, sid, strlen(sid), key);
	assert_int_equal(store_txn_begin(f->s, 1, &t), 0);
	assert_int_equal(store_put(t, STORE_DB_SESSION, key, sizeof(key), v, vl), 0);
	assert_int_equal(store_txn_commit(t), 0);
}

static size_t
raw_get(struct fixture_store *f, const char *sid, uint8_t *buf, size_t len)
{
	uint8_t key[CRYPTO_SHA256_LEN];
	struct store_txn *t;
	void *v;
	size_t vl;

	crypto_hmac_sha256(app.keys.session, CRYPTO_KEY_LEN, sid, strlen(sid), key);
	assert_int_equal(store_txn_begin(f->s, 0, &t), 0);
	assert_int_equal(store_get(t, STORE_DB_SESSION, key, sizeof(key), &v, &vl), 0);
	store_txn_abort(t);
	assert_true(vl <= len);
	memcpy(buf, v, vl);
	free(v);
	return vl;
}

/* the binary record holds what was created; neither the id nor JSON */
static void
test_record_round_trip(void **state)
{
	struct fixture_store *f = *state;
	char sid[SESSION_TOKEN_LEN + 1], csrf[SESSION_TOKEN_LEN + 1];
	struct store_txn *t;
	struct session s;
	uint8_t buf[256];
	size_t vl;
	int stale;

	assert_int_equal(store_txn_begin(f->s, 1, &t), 0);
	assert_int_equal(session_create(t, USER, NOW * 1000 + 7, NULL, NULL, sid, csrf), 0);
	assert_int_equal(store_txn_commit(t), 0);
	assert_int_equal(lookup(f, sid, NOW, &s, &stale), 0);
	assert_string_equal(s.user_id, USER);
	assert_int_equal(s.created_ms, NOW * 1000 + 7);
	assert_int_equal(s.last_seen, NOW);
	assert_string_equal(s.csrf, csrf);
	vl = raw_get(f, sid, buf, sizeof(buf));
	assert_int_not_equal(buf[0], '{');
	assert_null(memmem(buf, vl, sid, SESSION_TOKEN_LEN));
}

/* a session an older build wrote (JSON) still signs in, and a touch
 * rewrites it in the binary form with nothing lost */
static void
test_record_old_json(void **state)
{
	struct fixture_store *f = *state;
	const char *sid = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
	const char *csrf = "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";
	struct store_txn *t;
	struct session s;
	uint8_t buf[256];
	char *v;
	int stale;

	v = x_asprintf("{\"user_id\":\"%s\",\"created_ms\":%lld,\"last_seen\":%lld,"
	    "\"csrf\":\"%s\"}", USER, NOW * 1000, NOW, csrf);
	raw_put(f, sid, v, strlen(v));
	free(v);
	assert_int_equal(lookup(f, sid, NOW + 1, &s, &stale), 0);
	assert_string_equal(s.user_id, USER);
	assert_string_equal(s.csrf, csrf);
	assert_int_equal(s.last_seen, NOW);
	assert_int_equal(store_txn_begin(f->s, 1, &t), 0);
	assert_int_equal(session_touch(t, sid, NOW + 90), 0);
	assert_int_equal(store_txn_commit(t), 0);
	raw_get(f, sid, buf, sizeof(buf));
	assert_int_not_equal(buf[0], '{');
	assert_int_equal(lookup(f, sid, NOW + 90, &s, &stale), 0);
	assert_string_equal(s.user_id, USER);
	assert_string_equal(s.csrf, csrf);
	assert_int_equal(s.created_ms, NOW * 1000);
	assert_int_equal(s.last_seen, NOW + 90);
}

/* a cut or padded record is corrupt: a store error, never a session */
static void
test_record_corrupt(void **state)
{
	struct fixture_store *f = *state;
	char sid[SESSION_TOKEN_LEN + 1];
	struct session s;
	uint8_t buf[256];
	size_t vl;
	int stale;

	make(f, NOW * 1000, sid);
	vl = raw_get(f, sid, buf, sizeof(buf) - 1);
	for (size_t cut = 0; cut < vl; cut++) {
		raw_put(f, sid, buf, cut);
		assert_int_equal(lookup(f, sid, NOW, &s, &stale), -1);
	}
	buf[vl] = 0;
	raw_put(f, sid, buf, vl + 1);
	assert_int_equal(lookup(f, sid, NOW, &s, &stale), -1);
	raw_put(f, sid, buf, vl);
	assert_int_equal(lookup(f, sid, NOW, &s, &stale), 0);
}

/* a version 1 record (before address and User-Agent) still signs in, is
 * listed without them, and a touch rewrites it as version 2 */
static void
test_record_v1(void **state)
{
	struct fixture_store *f = *state;
	const char *sid = "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC";
	const char *csrf = "DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD";
	struct store_txn *t;
	struct session s;
	struct json *items;
	struct rec w;
	uint8_t buf[256];
	char *text;
	int stale;

	rec_init(&w, 1);
	rec_str(&w, USER);
	rec_i64(&w, NOW * 1000);
	rec_i64(&w, NOW);
	rec_str(&w, csrf);
	raw_put(f, sid, w.buf, w.len);
	rec_free(&w);
	assert_int_equal(lookup(f, sid, NOW + 1, &s, &stale), 0);
	assert_string_equal(s.csrf, csrf);
	assert_string_equal(s.ip, "");
	assert_string_equal(s.ua, "");
	assert_int_equal(store_txn_begin(f->s, 0, &t), 0);
	assert_int_equal(session_list(t, USER, sid, NOW + 1, IDLE, ABSOLUTE, &items), 0);
	store_txn_abort(t);
	text = json_print(items);
	assert_non_null(strstr(text, "\"address\":null"));
	assert_non_null(strstr(text, "\"browser\":\"Unknown browser\""));
	assert_non_null(strstr(text, "\"current\":true"));
	free(text);
	json_free(items);
	assert_int_equal(store_txn_begin(f->s, 1, &t), 0);
	assert_int_equal(session_touch(t, sid, NOW + 90), 0);
	assert_int_equal(store_txn_commit(t), 0);
	raw_get(f, sid, buf, sizeof(buf));
	assert_int_equal(buf[0], 2);
	assert_int_equal(lookup(f, sid, NOW + 90, &s, &stale), 0);
	assert_string_equal(s.csrf, csrf);
}

/* the list shows the user's live sessions only, with ids that are not the
 * cookie; ending one by its id removes exactly that one */
static void
test_list_and_end(void **state)
{
	struct fixture_store *f = *state;
	char a[SESSION_TOKEN_LEN + 1], b[SESSION_TOKEN_LEN + 1], c[SESSION_TOKEN_LEN + 1];
	char id[SESSION_ID_LEN + 1], browser[64], ip[48], *text;
	struct store_txn *t;
	struct json *items;
	struct session s;
	int stale;

	make(f, NOW * 1000, a);
	make(f, (NOW - 100) * 1000, b);
	make(f, (NOW - ABSOLUTE - 10) * 1000, c);       /* expired: not listed */
	assert_int_equal(store_txn_begin(f->s, 0, &t), 0);
	assert_int_equal(session_list(t, "u_nobodynobodynobody", NULL, NOW, IDLE, ABSOLUTE,
	    &items), 0);
	store_txn_abort(t);
	text = json_print(items);
	assert_string_equal(text, "[]");
	free(text);
	json_free(items);
	assert_int_equal(store_txn_begin(f->s, 0, &t), 0);
	assert_int_equal(session_list(t, USER, a, NOW, IDLE, ABSOLUTE, &items), 0);
	store_txn_abort(t);
	text = json_print(items);
	assert_null(strstr(text, a));
	assert_null(strstr(text, b));
	assert_non_null(strstr(text, "\"address\":\"192.0.2.7\""));
	/* last seen first: a (now), then b; one current */
	assert_true(strstr(text, "\"current\":true") < strstr(text, "\"current\":false"));
	assert_null(strstr(strstr(text, "\"current\":false") + 1, "\"current\""));
	/* b's id: the second item's */
	memcpy(id, strstr(strstr(text, "\"current\":true"), "\"id\":\"") + 6, SESSION_ID_LEN);
	id[SESSION_ID_LEN] = '\0';
	free(text);
	json_free(items);
	assert_int_equal(store_txn_begin(f->s, 1, &t), 0);
	assert_int_equal(session_end(t, "u_nobodynobodynobody", id, browser, sizeof(browser),
	    ip, sizeof(ip)), STORE_NOTFOUND);
	assert_int_equal(session_end(t, USER, id, browser, sizeof(browser), ip, sizeof(ip)), 0);
	assert_int_equal(session_end(t, USER, id, browser, sizeof(browser), ip, sizeof(ip)),
	    STORE_NOTFOUND);
	assert_int_equal(store_txn_commit(t), 0);
	assert_string_equal(ip, "192.0.2.7");
	assert_string_equal(browser, "Unknown browser");
	assert_int_equal(lookup(f, a, NOW, &s, &stale), 0);
	assert_int_equal(lookup(f, b, NOW, &s, &stale), STORE_NOTFOUND);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_touch_after_logout_does_not_resurrect, setup, fixture_store_teardown),
		cmocka_unit_test_setup_teardown(test_touch_updates_last_seen, setup, fixture_store_teardown),
		cmocka_unit_test_setup_teardown(test_lookup_reports_expired, setup, fixture_store_teardown),
		cmocka_unit_test_setup_teardown(test_sweep_bounded, setup, fixture_store_teardown),
		cmocka_unit_test_setup_teardown(test_record_round_trip, setup, fixture_store_teardown),
		cmocka_unit_test_setup_teardown(test_record_old_json, setup, fixture_store_teardown),
		cmocka_unit_test_setup_teardown(test_record_corrupt, setup, fixture_store_teardown),
		cmocka_unit_test_setup_teardown(test_record_v1, setup, fixture_store_teardown),
		cmocka_unit_test_setup_teardown(test_list_and_end, setup, fixture_store_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * forward.c's message formatter (RFC 5424 with octet-counting framing,
 * SD-PARAM escaping, the size bound) and audit_since, the forwarder's read
 * of the ring, against real records in a real LMDB store.
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
#define H64 "1111111111111111111111111111111111111111111111111111111111111111"
#define G64 "2222222222222222222222222222222222222222222222222222222222222222"
#define BOM "\xef\xbb\xbf"

static const struct forward_ident ident = { "gw1.example", "acctd" };

/* forward_format of rec into a new string (caller frees); *rc its result */
static char *
format(const struct forward_ident *id, const char *rec, int *rc)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	*rc = forward_format(id, rec, strlen(rec), f);
	fclose(f);
	return buf;
}

/* the MSG part: after "LEN SP"; checks that LEN counts exactly it */
static const char *
unframe(const char *framed)
{
	char *sp;
	unsigned long n = strtoul(framed, &sp, 10);

	assert_true(sp > framed && *sp == ' ');
	assert_int_equal(n, strlen(sp + 1));
	return sp + 1;
}

static void
test_format_exact(void **state)
{
	static const char rec[] =
	    "{\"id\":7,\"created_at\":\"2026-11-28T04:10:00Z\","
	    "\"action_type\":\"user.update\",\"actor_id\":\"u_a\","
	    "\"actor_handle\":\"alice\",\"actor_display_name\":\"Alice\","
	    "\"actor_avatar_url\":null,\"actor_ip\":\"10.0.0.1\","
	    "\"identity_id\":\"u_a\",\"identity_handle\":\"alice\","
	    "\"target_id\":\"u_a\",\"target_handle\":\"alice\","
	    "\"data\":{\"display_name\":{\"old\":\"A\",\"new\":\"Alice\"}},"
	    "\"prev_hash\":\"" H64 "\",\"hash\":\"" G64 "\"}";
	static const char want[] =
	    "<85>1 2026-11-28T04:10:00Z gw1.example acctd - AUDIT "
	    "[acctd@32473 seq=\"7\" action=\"user.update\" actor=\"alice\" "
	    "actor_id=\"u_a\" actor_name=\"Alice\" actor_ip=\"10.0.0.1\" "
	    "identity=\"alice\" identity_id=\"u_a\" target=\"alice\" target_id=\"u_a\" "
	    "data=\"{\\\"display_name\\\":{\\\"old\\\":\\\"A\\\",\\\"new\\\":\\\"Alice\\\"}}\" "
	    "prev=\"" H64 "\" chain=\"" G64 "\"] " BOM;
	char *out;
	int rc;

	(void)state;
	out = format(&ident, rec, &rc);
	assert_int_equal(rc, 0);
	/* the record's null avatar is no SD-PARAM; MSG is the record as stored */
	assert_true(strncmp(unframe(out), want, strlen(want)) == 0);
	assert_string_equal(unframe(out) + strlen(want), rec);
	free(out);
}

static void
test_format_escapes(void **state)
{
	/* '"', '\' and ']' are escaped in PARAM-VALUEs, nothing else is */
	static const char rec[] =
	    "{\"id\":1,\"created_at\":\"2026-11-28T04:10:00Z\",\"action_type\":\"x\","
	    "\"actor_display_name\":\"a \\\"q\\\" ]b[ c\\\\d \xc3\xab\","
	    "\"data\":{},\"prev_hash\":\"" H64 "\",\"hash\":\"" G64 "\"}";
	char *out;
	int rc;

	(void)state;
	out = format(&ident, rec, &rc);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, " actor_name=\"a \\\"q\\\" \\]b[ c\\\\d \xc3\xab\" "));
	assert_non_null(strstr(out, " data=\"{}\" "));
	free(out);
}

static void
test_format_ident_and_timestamp(void **state)
{
	static const struct forward_ident other = { "-", "acctd-gw1" };
	static const char rec[] = "{\"id\":2,\"created_at\":\"yesterday\","
	    "\"action_type\":\"x\",\"hash\":\"" G64 "\"}";
	char *out, *want;
	int rc;

	(void)state;
	out = format(&other, rec, &rc);
	assert_int_equal(rc, 0);
	/* a time that is no RFC 5424 TIMESTAMP is the NILVALUE */
	want = x_asprintf("<85>1 - - acctd-gw1 - AUDIT [acctd@32473 seq=\"2\" "
	    "action=\"x\" chain=\"" G64 "\"] " BOM "%s", rec);
	assert_string_equal(unframe(out), want);
	free(want);
	free(out);
}

static void
test_format_refuses(void **state)
{
	static const char *bad[] = { "not json", "[1,2]", "{\"hash\":\"" G64 "\"}",
	    "{\"id\":\"7\",\"hash\":\"" G64 "\"}", "{\"id\":7}" };
	char *out;
	int rc;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		out = format(&ident, bad[i], &rc);
		assert_int_equal(rc, -1);
		assert_string_equal(out, "");     /* nothing written */
		free(out);
	}
}

/* a record whose free text is n double quotes in the display name and n in data */
static char *
quotes_record(size_t n)
{
	char *q = x_malloc(2 * n + 1), *rec;

	for (size_t i = 0; i < n; i++)
		memcpy(q + 2 * i, "\\\"", 2);
	q[2 * n] = '\0';
	rec = x_asprintf("{\"id\":3,\"created_at\":\"2026-11-28T04:10:00Z\","
	    "\"action_type\":\"user.update\",\"actor_handle\":\"alice\","
	    "\"actor_display_name\":\"%s\",\"data\":{\"display_name\":{\"new\":\"%s\"}},"
	    "\"prev_hash\":\"" H64 "\",\"hash\":\"" G64 "\"}", q, q);
	free(q);
	return rec;
}

static void
test_format_size_bound(void **state)
{
	char host[256], *rec, *out;
	struct forward_ident big = { host, "acctd" };
	int rc;

	(void)state;
	memset(host, 'h', 255);
	host[255] = '\0';
	/* a stored record is at most AUDIT_RECORD_MAX bytes: even all quotes
	 * (each escaped twice in SD) and the longest host name fit */
	rec = quotes_record((AUDIT_RECORD_MAX - 400) / 4);
	assert_true(strlen(rec) <= AUDIT_RECORD_MAX);
	out = format(&big, rec, &rc);
	assert_int_equal(rc, 0);
	assert_true(strlen(unframe(out)) <= FORWARD_MSG_MAX);
	assert_non_null(strstr(out, " actor_name=\"\\\"\\\""));
	assert_non_null(strstr(out, " data=\"{"));
	free(out);
	free(rec);
	/* longer than any record acctd writes: the SD leaves the free text out
	 * (MSG still carries it) to stay within what a collector must take */
	rec = quotes_record(1200);
	out = format(&big, rec, &rc);
	assert_int_equal(rc, 0);
	assert_true(strlen(unframe(out)) <= FORWARD_MSG_MAX);
	assert_null(strstr(out, " actor_name="));
	assert_null(strstr(out, " data="));
	assert_non_null(strstr(out, " actor=\"alice\" "));
	assert_non_null(strstr(out, " chain=\"" G64 "\"] " BOM "{"));
	assert_string_equal(strstr(out, BOM) + 3, rec);
	free(out);
	free(rec);
}

/* --- audit_since against the ring ----------------------------------- */

static int
setup(void **state)
{
	if (fixture_app_key(0x42) == -1)
		return -1;
	return fixture_store_new(state, "test_forward", NULL, 16);
}

static void
append(struct fixture_store *f, unsigned cap, int n)
{
	struct audit_actor a = { "u_admin", "admin", "Ad\"min]", NULL, "10.0.0.1" };
	struct audit_event e = { "user.update", &a, "u_admin", "admin", "u_admin",
	    "admin", NULL };
	struct store_txn *t;

	for (int i = 0; i < n; i++) {
		assert_int_equal(store_txn_begin(f->s, 1, &t), 0);
		assert_int_equal(audit_append(t, cap, &e, NOW, NULL), 0);
		assert_int_equal(store_txn_commit(t), 0);
	}
}

struct seen {
	uint64_t seqs[16];
	size_t n;
	int fail_at;              /* fn fails at this call (0: never) */
	FILE *out;                /* formatted messages, when set */
};

static int
seen_fn(void *arg, uint64_t seq, const char *rec, size_t len)
{
	struct seen *s = arg;

	if (s->fail_at != 0 && (int)s->n + 1 == s->fail_at)
		return -1;
	s->seqs[s->n++] = seq;
	if (s->out != NULL)
		assert_int_equal(forward_format(&ident, rec, len, s->out), 0);
	return 0;
}

static int
since(struct fixture_store *f, uint64_t after, size_t max, struct seen *s)
{
	struct store_txn *t;
	int rc;

	assert_int_equal(store_txn_begin(f->s, 0, &t), 0);
	rc = audit_since(t, after, max, seen_fn, s);
	store_txn_abort(t);
	return rc;
}

static void
test_since(void **state)
{
	struct fixture_store *f = *state;
	struct seen s;

	append(f, 100, 5);
	memset(&s, 0, sizeof(s));
	assert_int_equal(since(f, 0, 16, &s), 0);
	assert_int_equal(s.n, 5);
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(s.seqs[i], i + 1);
	memset(&s, 0, sizeof(s));
	assert_int_equal(since(f, 2, 2, &s), 0);       /* a batch of two after 2 */
	assert_int_equal(s.n, 2);
	assert_int_equal(s.seqs[0], 3);
	assert_int_equal(s.seqs[1], 4);
	memset(&s, 0, sizeof(s));
	assert_int_equal(since(f, 5, 16, &s), 0);      /* nothing after the head */
	assert_int_equal(s.n, 0);
	memset(&s, 0, sizeof(s));
	s.fail_at = 2;
	assert_int_equal(since(f, 0, 16, &s), -1);     /* fn's failure is the walk's */
	assert_int_equal(s.n, 1);
}

static void
test_since_after_drop(void **state)
{
	struct fixture_store *f = *state;
	struct seen s;

	append(f, 3, 5);                 /* the ring keeps 3..5 */
	memset(&s, 0, sizeof(s));
	assert_int_equal(since(f, 1, 16, &s), 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.seqs[0], 3);  /* the gap 2..2 is what was dropped */
}

/* a real record: its message carries the stored JSON and the chain hash */
static void
test_since_formats_real_records(void **state)
{
	struct fixture_store *f = *state;
	struct json *items, *rec;
	struct store_txn *t;
	struct seen s;
	char *buf = NULL, *stored, *want;
	size_t len = 0;
	uint64_t next;

	append(f, 100, 1);
	memset(&s, 0, sizeof(s));
	s.out = open_memstream(&buf, &len);
	assert_int_equal(since(f, 0, 16, &s), 0);
	fclose(s.out);
	assert_int_equal(store_txn_begin(f->s, 0, &t), 0);
	assert_int_equal(audit_page(t, NULL, 0, 1, &items, &next), 0);
	store_txn_abort(t);
	rec = json_item_next(items, NULL);
	stored = json_print(rec);
	want = x_asprintf(" actor_name=\"Ad\\\"min\\]\" ");
	assert_non_null(strstr(buf, want));
	free(want);
	want = x_asprintf(" chain=\"%s\"] " BOM "%s", json_str(json_get(rec, "hash")), stored);
	assert_string_equal(strstr(unframe(buf), " chain="), want);
	free(want);
	free(stored);
	json_free(items);
	free(buf);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, fixture_store_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_exact),
		cmocka_unit_test(test_format_escapes),
		cmocka_unit_test(test_format_ident_and_timestamp),
		cmocka_unit_test(test_format_refuses),
		cmocka_unit_test(test_format_size_bound),
		T(test_since),
		T(test_since_after_drop),
		T(test_since_formats_real_records),
	};

	log_init("test_forward", 1, LOG_LEVEL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

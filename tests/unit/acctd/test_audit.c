/*
 * audit.c against a real LMDB environment in a fresh temporary directory:
 * the record format and hash chain byte for byte, the ring's capacity,
 * per-identity paging, and what verify reports for each kind of tampering.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixture_acctd.h"

#define NOW 1795839000            /* 2026-11-28T04:10:00Z */
#define ZERO64 "0000000000000000000000000000000000000000000000000000000000000000"

static int
setup(void **state)
{
	if (fixture_app_key(0x42) == -1)      /* the appliance key */
		return -1;
	return fixture_store_new(state, "test_audit", "db", 16);
}

static struct store_txn *
begin(struct fixture_store *f, int write)
{
	struct store_txn *t;

	assert_int_equal(store_txn_begin(f->s, write, &t), 0);
	return t;
}

/* one committed append; returns the seq */
static uint64_t
append(struct fixture_store *f, unsigned cap, const char *action, const char *ident,
    const struct json *data)
{
	struct audit_actor a = { "u_admin", "admin", "Admin", NULL, "10.0.0.1" };
	struct audit_event e = { action, &a, ident, ident ? "someone" : NULL,
	    ident, ident ? "someone" : NULL, data };
	struct store_txn *t = begin(f, 1);
	uint64_t seq = 0;

	assert_int_equal(audit_append(t, cap, &e, NOW, &seq), 0);
	assert_int_equal(store_txn_commit(t), 0);
	return seq;
}

static void
key_of(uint64_t seq, uint8_t k[8])
{
	for (int i = 7; i >= 0; i--, seq >>= 8)
		k[i] = (uint8_t)seq;
}

/* the stored record as a string (caller frees); NULL when absent */
static char *
raw_get(struct fixture_store *f, uint64_t seq)
{
	struct store_txn *t = begin(f, 0);
	uint8_t k[8];
	void *v;
	size_t vl;
	char *s = NULL;

	key_of(seq, k);
	if (store_get(t, STORE_DB_AUDIT, k, 8, &v, &vl) == 0) {
		s = x_malloc(vl + 1);
		memcpy(s, v, vl);
		s[vl] = '\0';
		free(v);
	}
	store_txn_abort(t);
	return s;
}

static void
raw_put(struct fixture_store *f, uint64_t seq, const char *s)
{
	struct store_txn *t = begin(f, 1);
	uint8_t k[8];

	key_of(seq, k);
	assert_int_equal(store_put(t, STORE_DB_AUDIT, k, 8, s, strlen(s)), 0);
	assert_int_equal(store_txn_commit(t), 0);
}

/*
 * The chain hash computed here, independently of audit.c: HMAC-SHA256
 * under HKDF(appliance key, "acctd audit chain v1") (keyed), or the plain
 * SHA-256 of schema-1 stores and of a forger without the key.
 */
static void
hash_hex_as(int keyed, const char *prev, const char *body, char out[65])
{
	char *buf = x_asprintf("%s\n%s", prev, body);
	uint8_t h[CRYPTO_SHA256_LEN], k[CRYPTO_KEY_LEN];

	if (keyed) {
		assert_int_equal(crypto_hkdf_sha256(app.key, sizeof(app.key),
		    "acctd audit chain v1", k, sizeof(k)), 0);
		crypto_hmac_sha256(k, sizeof(k), buf, strlen(buf), h);
	} else {
		crypto_sha256(buf, strlen(buf), h);
	}
	for (int i = 0; i < CRYPTO_SHA256_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", h[i]);
	free(buf);
}

/* body (a record without hash) with its hash appended; caller frees */
static char *
sealed_as(int keyed, const char *body, const char *prev)
{
	char h[65];

	hash_hex_as(keyed, prev, body, h);
	return x_asprintf("%.*s,\"hash\":\"%s\"}", (int)strlen(body) - 1, body, h);
}

static char *
sealed(const char *body, const char *prev)
{
	return sealed_as(1, body, prev);
}

static char *
field(const char *rec, const char *name)
{
	struct json *j;
	char err[64], *v;

	assert_int_equal(json_parse(rec, strlen(rec), &j, err, sizeof(err)), 0);
	assert_non_null(json_str(json_get(j, name)));
	v = x_strdup(json_str(json_get(j, name)));
	json_free(j);
	return v;
}

/* the ids of a page, in order (every record starts with {"id":) */
static size_t
page(struct fixture_store *f, const char *ident, uint64_t before, unsigned limit,
    uint64_t *ids, size_t max, uint64_t *next)
{
	struct store_txn *t = begin(f, 0);
	struct json *items;
	char *s, *p;
	size_t n = 0;

	assert_int_equal(audit_page(t, ident, before, limit, &items, next), 0);
	store_txn_abort(t);
	s = json_print(items);
	for (p = s; (p = strstr(p, "{\"id\":")) != NULL; p++) {
		assert_true(n < max);
		ids[n++] = strtoull(p + 6, NULL, 10);
	}
	free(s);
	json_free(items);
	assert_true(n <= limit);
	return n;
}

/* verify's report, printed */
static char *
verify(struct fixture_store *f)
{
	struct store_txn *t = begin(f, 0);
	struct json *rep;
	char *s;

	const char *h;
	char *p;

	assert_int_equal(audit_verify(t, &rep), 0);
	store_txn_abort(t);
	s = json_print(rep);
	/* head_hash is checked in test_head_published: cut it here */
	if ((h = json_str(json_get(rep, "head_hash"))) != NULL) {
		assert_int_equal(strlen(h), 64);
		p = strstr(s, ",\"head_hash\":\"");
		assert_non_null(p);
		memmove(p, p + 79, strlen(p + 79) + 1);
	}
	json_free(rep);
	return s;
}

static void
assert_verify(struct fixture_store *f, const char *want)
{
	char *got = verify(f);

	assert_string_equal(got, want);
	free(got);
}

static void
test_time_rfc3339(void **state)
{
	char b[32];

	(void)state;
	time_rfc3339(0, b, sizeof(b));
	assert_string_equal(b, "1970-01-01T00:00:00Z");
	time_rfc3339(NOW, b, sizeof(b));
	assert_string_equal(b, "2026-11-28T04:10:00Z");
	time_rfc3339(951868799, b, sizeof(b));
	assert_string_equal(b, "2000-02-29T23:59:59Z");
	time_rfc3339(-1, b, sizeof(b));
	assert_string_equal(b, "1969-12-31T23:59:59Z");
	time_rfc3339(INT64_C(2147483648), b, sizeof(b));    /* past 32-bit time_t */
	assert_string_equal(b, "2038-01-19T03:14:08Z");
	time_rfc3339(INT64_MAX, b, sizeof(b));
	assert_string_equal(b, "9999-12-31T23:59:59Z");
	time_rfc3339(INT64_MIN, b, sizeof(b));
	assert_string_equal(b, "0000-01-01T00:00:00Z");
}

/* three records, byte for byte, and read back newest first */
static void
test_append_read_back(void **state)
{
	struct fixture_store *f = *state;
	struct audit_actor alice = { "u_alice", "alice", "Alice", NULL, "127.0.0.1" };
	struct audit_event e1 = { "user.update", &alice, "u_alice", "alice",
	    "u_alice", "alice", NULL };
	struct audit_event e2 = { "session.login_failed", NULL, NULL, NULL,
	    NULL, NULL, NULL };
	struct audit_event e3 = { "user.disable", &alice, "u_bob", "bob",
	    "u_bob", "bob", NULL };
	struct json *d = json_object(), *dn = json_object(), *items;
	struct store_txn *t;
	char *r1, *r2, *r3, *h1, *h2, *want, *got;
	uint64_t seq, next;

	json_set_str(dn, "old", "A");
	json_set_str(dn, "new", "Alice \"the\" first");
	json_set(d, "display_name", dn);
	e1.data = d;
	t = begin(f, 1);
	assert_int_equal(audit_append(t, 100, &e1, NOW, &seq), 0);
	assert_int_equal(seq, 1);
	assert_int_equal(audit_append(t, 100, &e2, NOW + 1, &seq), 0);
	assert_int_equal(seq, 2);
	assert_int_equal(audit_append(t, 100, &e3, NOW + 2, NULL), 0);
	assert_int_equal(store_txn_commit(t), 0);
	json_free(d);

	r1 = sealed("{\"id\":1,\"created_at\":\"2026-11-28T04:10:00Z\","
	    "\"action_type\":\"user.update\",\"actor_id\":\"u_alice\","
	    "\"actor_handle\":\"alice\",\"actor_display_name\":\"Alice\","
	    "\"actor_avatar_url\":null,\"actor_ip\":\"127.0.0.1\","
	    "\"identity_id\":\"u_alice\",\"identity_handle\":\"alice\","
	    "\"target_id\":\"u_alice\",\"target_handle\":\"alice\","
	    "\"data\":{\"display_name\":{\"old\":\"A\",\"new\":\"Alice \\\"the\\\" first\"}},"
	    "\"prev_hash\":\"" ZERO64 "\"}", ZERO64);
	h1 = field(r1, "hash");
	want = x_asprintf("{\"id\":2,\"created_at\":\"2026-11-28T04:10:01Z\","
	    "\"action_type\":\"session.login_failed\",\"actor_id\":null,"
	    "\"actor_handle\":null,\"actor_display_name\":null,"
	    "\"actor_avatar_url\":null,\"actor_ip\":null,"
	    "\"identity_id\":null,\"identity_handle\":null,"
	    "\"target_id\":null,\"target_handle\":null,"
	    "\"data\":{},\"prev_hash\":\"%s\"}", h1);
	r2 = sealed(want, h1);
	free(want);
	h2 = field(r2, "hash");
	want = x_asprintf("{\"id\":3,\"created_at\":\"2026-11-28T04:10:02Z\","
	    "\"action_type\":\"user.disable\",\"actor_id\":\"u_alice\","
	    "\"actor_handle\":\"alice\",\"actor_display_name\":\"Alice\","
	    "\"actor_avatar_url\":null,\"actor_ip\":\"127.0.0.1\","
	    "\"identity_id\":\"u_bob\",\"identity_handle\":\"bob\","
	    "\"target_id\":\"u_bob\",\"target_handle\":\"bob\","
	    "\"data\":{},\"prev_hash\":\"%s\"}", h2);
	r3 = sealed(want, h2);
	free(want);

	/* stored exactly so */
	got = raw_get(f, 1);
	assert_string_equal(got, r1);
	free(got);
	got = raw_get(f, 2);
	assert_string_equal(got, r2);
	free(got);
	got = raw_get(f, 3);
	assert_string_equal(got, r3);
	free(got);

	/* every record, newest first, one page */
	t = begin(f, 0);
	assert_int_equal(audit_page(t, NULL, 0, 25, &items, &next), 0);
	store_txn_abort(t);
	assert_int_equal(next, 0);
	got = json_print(items);
	want = x_asprintf("[%s,%s,%s]", r3, r2, r1);
	assert_string_equal(got, want);
	free(got);
	free(want);
	json_free(items);

	/* alice's own log holds only record 1; bob's only record 3 */
	t = begin(f, 0);
	assert_int_equal(audit_page(t, "u_alice", 0, 25, &items, &next), 0);
	got = json_print(items);
	want = x_asprintf("[%s]", r1);
	assert_string_equal(got, want);
	free(got);
	free(want);
	json_free(items);
	assert_int_equal(audit_page(t, "u_bob", 0, 25, &items, &next), 0);
	got = json_print(items);
	want = x_asprintf("[%s]", r3);
	assert_string_equal(got, want);
	free(got);
	free(want);
	json_free(items);
	assert_int_equal(audit_page(t, "u_nobody", 0, 25, &items, &next), 0);
	got = json_print(items);
	assert_string_equal(got, "[]");
	free(got);
	json_free(items);
	store_txn_abort(t);

	assert_verify(f, "{\"ok\":true,\"records\":3,\"first_seq\":1,\"last_seq\":3,\"trimmed\":0}");
	free(r1);
	free(r2);
	free(r3);
	free(h1);
	free(h2);
}

static void
test_chain_links(void **state)
{
	struct fixture_store *f = *state;
	char *r[4], *h, *p;

	for (int i = 1; i <= 3; i++) {
		append(f, 100, "user.update", "u_a", NULL);
		r[i] = raw_get(f, (uint64_t)i);
	}
	p = field(r[1], "prev_hash");
	assert_string_equal(p, ZERO64);
	free(p);
	for (int i = 2; i <= 3; i++) {
		h = field(r[i - 1], "hash");
		p = field(r[i], "prev_hash");
		assert_string_equal(p, h);
		assert_string_not_equal(h, ZERO64);
		free(h);
		free(p);
	}
	for (int i = 1; i <= 3; i++)
		free(r[i]);
}

static void
test_capacity(void **state)
{
	struct fixture_store *f = *state;
	struct store_txn *t;
	uint64_t ids[128], next;
	size_t n, nidx;
	char *s;

	for (uint64_t i = 1; i <= 250; i++)
		assert_int_equal(append(f, 100, "user.update", "u_a", NULL), i);
	t = begin(f, 0);
	assert_int_equal(store_count(t, STORE_DB_AUDIT, &n), 0);
	assert_int_equal(store_count(t, STORE_DB_AUDIT_IDX, &nidx), 0);
	store_txn_abort(t);
	assert_int_equal(n, 100);
	assert_int_equal(nidx, 100);      /* dropped records' index entries go too */

	n = page(f, NULL, 0, 100, ids, 128, &next);
	assert_int_equal(n, 100);
	assert_int_equal(next, 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(ids[i], 250 - i);
	s = raw_get(f, 150);
	assert_null(s);
	/* the report says honestly what is gone */
	assert_verify(f, "{\"ok\":true,\"records\":100,\"first_seq\":151,"
	    "\"last_seq\":250,\"trimmed\":150}");

	/* one more moves the window and the anchor by one */
	assert_int_equal(append(f, 100, "user.update", "u_a", NULL), 251);
	assert_null(raw_get(f, 151));
	assert_verify(f, "{\"ok\":true,\"records\":100,\"first_seq\":152,"
	    "\"last_seq\":251,\"trimmed\":151}");
}

/*
 * The longest record the API can cause (a 2048-byte avatar URL replaced by
 * another, the actor with a long name and URL) is shortened to fit
 * AUDIT_RECORD_MAX; each shortened string keeps its start and names its
 * length and digest; the record verifies. A short record is left alone.
 */
static void
test_record_bound(void **state)
{
	struct fixture_store *f = *state;
	char url1[2049], url2[2049], name[401], *r, *v, *want;
	struct audit_actor a = { "u_alice", "alice", name, url1, "127.0.0.1" };
	struct audit_event e = { "user.update", &a, "u_alice", "alice",
	    "u_alice", "alice", NULL };
	struct json *d = json_object(), *c = json_object();
	struct store_txn *t;
	uint8_t h[CRYPTO_SHA256_LEN];

	memcpy(url1, "https://example.com/", 20);
	memset(url1 + 20, 'a', sizeof(url1) - 21);
	url1[2048] = '\0';
	memcpy(url2, url1, sizeof(url2));
	url2[25] = 'b';
	for (int i = 0; i < 100; i++)       /* 100 characters, 400 bytes */
		memcpy(name + 4 * i, "\xf0\x9f\x98\x80", 4);
	name[400] = '\0';
	json_set_str(c, "old", url1);
	json_set_str(c, "new", url2);
	json_set(d, "avatar_url", c);
	c = json_object();
	json_set_str(c, "old", "x");
	json_set_str(c, "new", name);
	json_set(d, "display_name", c);
	e.data = d;
	t = begin(f, 1);
	assert_int_equal(audit_append(t, 100, &e, NOW, NULL), 0);
	assert_int_equal(store_txn_commit(t), 0);
	json_free(d);

	r = raw_get(f, 1);
	assert_true(strlen(r) <= AUDIT_RECORD_MAX);
	assert_true(strlen(r) > AUDIT_RECORD_MAX / 2);   /* no cut too short */
	v = field(r, "actor_avatar_url");
	crypto_sha256(url1, 2048, h);
	want = x_asprintf("\xe2\x80\xa6[2048 bytes, sha256 %02x%02x%02x%02x"
	    "%02x%02x%02x%02x]", h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]);
	assert_memory_equal(v, url1, 40);
	assert_non_null(strstr(v, want));
	assert_true(strlen(v) < 300);
	free(v);
	v = field(r, "actor_display_name");
	assert_memory_equal(v, name, 16);        /* cut between characters */
	assert_non_null(strstr(v, "\xe2\x80\xa6[400 bytes, sha256 "));
	free(v);
	/* old and new stay told apart: url2 differs from url1 at byte 25 */
	assert_non_null(strstr(r, "https://example.com/aaaaab"));
	assert_non_null(strstr(r, "\"old\":\"x\""));
	free(r);
	free(want);

	append(f, 100, "user.update", "u_alice", NULL);
	r = raw_get(f, 2);
	assert_null(strstr(r, "\xe2\x80\xa6"));
	free(r);
	assert_verify(f, "{\"ok\":true,\"records\":2,\"first_seq\":1,\"last_seq\":2,\"trimmed\":0}");
}

/* what the process wrote to stderr while fn ran (caller frees) */
static char *
stderr_of(void (*fn)(struct fixture_store *), struct fixture_store *f)
{
	char path[] = "/tmp/test_audit_log.XXXXXX", *buf;
	int fd = mkstemp(path), saved;
	FILE *fp;
	long n;

	assert_true(fd >= 0);
	fflush(stderr);
	saved = dup(2);
	assert_int_equal(dup2(fd, 2), 2);
	fn(f);
	fflush(stderr);
	assert_int_equal(dup2(saved, 2), 2);
	close(saved);
	close(fd);
	fp = fopen(path, "r");
	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	buf = x_calloc(1, (size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	unlink(path);
	return buf;
}

static void
append_at(struct fixture_store *f, int64_t now, int n)
{
	struct audit_event e = { "user.update", NULL, "u_a", "a", "u_a", "a", NULL };
	struct store_txn *t = begin(f, 1);

	for (int i = 0; i < n; i++)
		assert_int_equal(audit_append(t, 100, &e, now, NULL), 0);
	assert_int_equal(store_txn_commit(t), 0);
}

static void
trim_fill(struct fixture_store *f)
{
	append_at(f, NOW, 100);           /* full, nothing dropped */
}

static void
trim_first(struct fixture_store *f)
{
	append_at(f, NOW + 1000, 1);      /* the first drop: said at once */
	append_at(f, NOW + 1010, 5);      /* within the minute: quiet */
}

static void
trim_summary(struct fixture_store *f)
{
	append_at(f, NOW + 1070, 10);     /* a minute on: said at the first */
}

static void
trim_flush(struct fixture_store *f)
{
	append_at(f, NOW + 1100, 150);    /* more than the ring, quietly */
	append_at(f, NOW + 1200, 1);      /* the next report names a flush */
}

/*
 * The ring says when it drops records, how many, and which are gone; the
 * whole ring replaced between two reports is a warning; verify reports the
 * same range.
 */
static void
test_trim_report(void **state)
{
	struct fixture_store *f = *state;
	char *log;

	log_set_level(LOG_LEVEL_INFO);
	log = stderr_of(trim_fill, f);
	assert_null(strstr(log, "drop"));
	free(log);
	assert_verify(f, "{\"ok\":true,\"records\":100,\"first_seq\":1,"
	    "\"last_seq\":100,\"trimmed\":0}");

	log = stderr_of(trim_first, f);
	assert_string_equal(log, "test_audit: audit: the ring is at its capacity "
	    "(100 records) and drops its oldest: records before seq 2 are gone "
	    "(1 dropped in all)\n");
	free(log);

	log = stderr_of(trim_summary, f);
	assert_string_equal(log, "test_audit: audit: dropped 6 oldest "
	    "record(s) in the last 70 s; records before seq 8 are gone (7 "
	    "dropped in all)\n");
	free(log);
	assert_verify(f, "{\"ok\":true,\"records\":100,\"first_seq\":17,"
	    "\"last_seq\":116,\"trimmed\":16}");

	log = stderr_of(trim_flush, f);
	assert_string_equal(log, "test_audit: audit: dropped 160 oldest "
	    "record(s) in the last 130 s; records before seq 168 are gone (167 "
	    "dropped in all)\n"
	    "test_audit: warning: audit: the whole ring (100 records) was "
	    "replaced in 130 s: the history before seq 168 is gone\n");
	free(log);
	assert_verify(f, "{\"ok\":true,\"records\":100,\"first_seq\":168,"
	    "\"last_seq\":267,\"trimmed\":167}");
	log_set_level(LOG_LEVEL_ERROR);
}

static void
fill5(struct fixture_store *f)
{
	for (int i = 0; i < 5; i++)
		append(f, 100, "user.update", "u_a", NULL);
	assert_verify(f, "{\"ok\":true,\"records\":5,\"first_seq\":1,\"last_seq\":5,\"trimmed\":0}");
}

/* the meta link (audit_last) set to seq and hash */
static void
link_put(struct fixture_store *f, const char *name, uint64_t seq, const char *hash)
{
	struct store_txn *t = begin(f, 1);
	uint8_t v[72];

	key_of(seq, v);
	memcpy(v + 8, hash, 64);
	assert_int_equal(store_put(t, STORE_DB_META, name, strlen(name), v, 72), 0);
	assert_int_equal(store_txn_commit(t), 0);
}

/*
 * What a forger with write access to data.mdb but not the key does:
 * records from..to rewritten in place (edit applied to `from`), each hash
 * recomputed (keyed or plain SHA-256) and relinked, and the head moved.
 */
static void
reseal(struct fixture_store *f, uint64_t from, uint64_t to, int keyed,
    const char *edit_from, const char *edit_to)
{
	char prev[65] = "", *r, *body, *p, *out;

	for (uint64_t seq = from; seq <= to; seq++) {
		r = raw_get(f, seq);
		body = x_strdup(r);
		strcpy(strstr(body, ",\"hash\":"), "}");
		p = strstr(body, "\"prev_hash\":\"") + 13;
		if (seq == from) {
			memcpy(prev, p, 64);
			if (edit_from != NULL)
				memcpy(strstr(body, edit_from), edit_to, strlen(edit_to));
		}
		memcpy(p, prev, 64);
		out = sealed_as(keyed, body, prev);
		raw_put(f, seq, out);
		memcpy(prev, strstr(out, ",\"hash\":\"") + 9, 64);
		free(out);
		free(body);
		free(r);
	}
	link_put(f, "audit_last", to, prev);
}

/*
 * The finding: whoever can write data.mdb rewrote a record and recomputed
 * the plain SHA-256 chain after it, and verify said ok. Keyed, it cannot.
 */
static void
test_sha256_rewrite_detected(void **state)
{
	struct fixture_store *f = *state;

	fill5(f);
	reseal(f, 3, 5, 0, "user.update", "user.delete");
	assert_verify(f, "{\"ok\":false,\"records\":5,\"first_seq\":1,"
	    "\"trimmed\":0,\"first_broken\":3,\"reason\":\"record 3 was "
	    "modified\"}");
	/* the same forgery with the key verifies: the key is what protects */
	reseal(f, 3, 5, 1, NULL, NULL);
	assert_verify(f, "{\"ok\":true,\"records\":5,\"first_seq\":1,"
	    "\"last_seq\":5,\"trimmed\":0}");
	/* another appliance key: nothing verifies */
	app.key[0] ^= 1;
	assert_int_equal(app_keys_derive(), 0);
	assert_verify(f, "{\"ok\":false,\"records\":5,\"first_seq\":1,"
	    "\"trimmed\":0,\"first_broken\":1,\"reason\":\"record 1 was "
	    "modified\"}");
	app.key[0] ^= 1;
	assert_int_equal(app_keys_derive(), 0);
}

static void
set_schema1(struct fixture_store *f)
{
	struct store_txn *t = begin(f, 1);

	assert_int_equal(store_put(t, STORE_DB_META, "schema_version", 14,
	    "\0\0\0\1", 4), 0);
	assert_int_equal(store_txn_commit(t), 0);
}

static void
reopen(struct fixture_store *f)
{
	char err[512];

	store_close(f->s);
	assert_int_equal(store_open(f->path, 16, &f->s, err, sizeof(err)), 0);
}

/*
 * A schema-1 store (plain SHA-256 chain) is migrated once at open: its
 * records keep verifying as they are, the next ones are keyed, and the
 * boundary can neither be moved nor used to rewrite the old records.
 */
static void
test_migrate_schema1(void **state)
{
	struct fixture_store *f = *state;
	struct store_txn *t;
	char *r1, *r;
	void *v;
	size_t vl;

	fill5(f);
	reseal(f, 1, 3, 0, NULL, NULL);        /* records 1-3 as schema 1 wrote them */
	t = begin(f, 1);
	for (uint64_t seq = 4; seq <= 5; seq++) {
		uint8_t k[8];

		key_of(seq, k);
		assert_int_equal(store_del(t, STORE_DB_AUDIT, k, 8), 0);
	}
	assert_int_equal(store_txn_commit(t), 0);
	set_schema1(f);
	reopen(f);
	assert_int_equal(store_schema_version(f->s), 1);
	r1 = raw_get(f, 1);

	assert_int_equal(audit_init(f->s), 0);
	assert_int_equal(store_schema_version(f->s), 2);
	append(f, 100, "user.update", "u_a", NULL);
	append(f, 100, "user.update", "u_a", NULL);
	assert_verify(f, "{\"ok\":true,\"records\":5,\"first_seq\":1,"
	    "\"last_seq\":5,\"trimmed\":0,\"keyed_from\":4}");
	r = raw_get(f, 1);
	assert_string_equal(r, r1);             /* the old records are untouched */
	free(r);
	free(r1);
	/* once: a second start changes nothing */
	reopen(f);
	assert_int_equal(store_schema_version(f->s), 2);
	assert_int_equal(audit_init(f->s), 0);
	assert_verify(f, "{\"ok\":true,\"records\":5,\"first_seq\":1,"
	    "\"last_seq\":5,\"trimmed\":0,\"keyed_from\":4}");

	/* an old record rewritten with SHA-256: the first keyed one objects */
	reseal(f, 2, 3, 0, "user.update", "user.delete");
	link_put(f, "audit_last", 5, "0000000000000000000000000000000000000000000000000000000000000000");
	t = begin(f, 0);
	assert_int_equal(store_get(t, STORE_DB_META, "audit_keyed", 11, &v, &vl), 0);
	store_txn_abort(t);
	assert_int_equal(vl, 40);
	/* the marker moved past the head, to make every record "old" */
	((uint8_t *)v)[7] = 6;
	t = begin(f, 1);
	assert_int_equal(store_put(t, STORE_DB_META, "audit_keyed", 11, v, vl), 0);
	assert_int_equal(store_txn_commit(t), 0);
	free(v);
	assert_verify(f, "{\"ok\":false,\"records\":5,\"first_seq\":1,"
	    "\"trimmed\":0,\"first_broken\":6,\"reason\":\"the chain's key "
	    "marker (meta audit_keyed) does not verify: moved, or another "
	    "key_file\"}");
}

static void
test_migrate_schema1_record_detected(void **state)
{
	struct fixture_store *f = *state;
	uint8_t k[8];
	struct store_txn *t;

	fill5(f);
	reseal(f, 1, 3, 0, NULL, NULL);
	t = begin(f, 1);
	for (uint64_t seq = 4; seq <= 5; seq++) {
		key_of(seq, k);
		assert_int_equal(store_del(t, STORE_DB_AUDIT, k, 8), 0);
	}
	assert_int_equal(store_txn_commit(t), 0);
	set_schema1(f);
	reopen(f);
	assert_int_equal(audit_init(f->s), 0);
	append(f, 100, "user.update", "u_a", NULL);
	reseal(f, 2, 3, 0, "user.update", "user.delete");
	assert_verify(f, "{\"ok\":false,\"records\":4,\"first_seq\":1,"
	    "\"trimmed\":0,\"keyed_from\":4,\"first_broken\":4,\"reason\":\"record 4: "
	    "prev_hash does not match the hash of the record before it\"}");
}

/* what is published outside the store: the head's seq and hash prefix */
static void
test_head_published(void **state)
{
	struct fixture_store *f = *state;
	char hash[65], *r, *m = NULL, *h, *want;
	uint64_t seq, first;
	size_t mlen = 0;
	FILE *mf;

	assert_int_equal(audit_head(f->s, &seq, hash, &first), 0);
	assert_int_equal(seq, 0);
	fill5(f);
	assert_int_equal(audit_head(f->s, &seq, hash, &first), 0);
	assert_int_equal(seq, 5);
	assert_int_equal(first, 1);
	r = raw_get(f, 5);
	h = field(r, "hash");
	assert_string_equal(hash, h);
	mf = open_memstream(&m, &mlen);
	audit_metrics(f->s, mf);
	fclose(mf);
	assert_non_null(strstr(m, "\nacctd_audit_head_seq 5\n"));
	want = x_asprintf("\nacctd_audit_head_info{hash_prefix=\"%.16s\"} 1\n", h);
	assert_non_null(strstr(m, want));
	assert_non_null(strstr(m, "\nacctd_audit_first_seq 1\n"));
	free(want);
	free(m);
	/* and verify names the same head */
	{
		struct store_txn *t = begin(f, 0);
		struct json *rep;

		assert_int_equal(audit_verify(t, &rep), 0);
		store_txn_abort(t);
		assert_string_equal(json_str(json_get(rep, "head_hash")), h);
		json_free(rep);
	}
	free(h);
	free(r);
}

/* "u_a" is a prefix of "u_ab": the index must still keep them apart */
static void
test_identity_paging(void **state)
{
	struct fixture_store *f = *state;
	uint64_t want[64], ids[64], before = 0, next;
	size_t nwant = 0, got = 0, n;
	int pages = 0;

	for (int i = 0; i < 60; i++) {
		const char *who = i % 3 == 0 ? "u_a" : i % 3 == 1 ? "u_ab" : NULL;
		uint64_t seq = append(f, 1000, "user.update", who, NULL);

		if (who != NULL && strcmp(who, "u_a") == 0)
			want[nwant++] = seq;
	}
	assert_int_equal(nwant, 20);
	do {
		n = page(f, "u_a", before, 7, ids + got, 64 - got, &next);
		assert_int_equal(n, pages < 2 ? 7 : 6);
		got += n;
		pages++;
		if (next != 0)
			assert_int_equal(next, ids[got - 1]);
		before = next;
	} while (next != 0);
	assert_int_equal(pages, 3);
	assert_int_equal(got, nwant);
	for (size_t i = 0; i < got; i++)
		assert_int_equal(ids[i], want[nwant - 1 - i]);   /* newest first */

	/* the other identity: its 20, none of u_a's */
	got = 0;
	before = 0;
	do {
		n = page(f, "u_ab", before, 7, ids + got, 64 - got, &next);
		got += n;
		before = next;
	} while (next != 0);
	assert_int_equal(got, 20);
	for (size_t i = 0; i < got; i++)
		assert_int_equal(ids[i] % 3, 2);    /* seq 3k+2 is u_ab's */

	/* a limit that divides exactly: the last full page says "no more"
	 * only once the walk has seen there is nothing left */
	n = page(f, "u_a", 0, 20, ids, 64, &next);
	assert_int_equal(n, 20);
	assert_int_equal(next, 0);
	n = page(f, "u_a", 0, 19, ids, 64, &next);
	assert_int_equal(n, 19);
	assert_int_equal(next, ids[18]);
	n = page(f, "u_a", 1, 7, ids, 64, &next);
	assert_int_equal(n, 0);
	assert_int_equal(next, 0);
}

static void
test_paging_after_drop(void **state)
{
	struct fixture_store *f = *state;
	uint64_t ids[128], before = 0, next;
	size_t got = 0;

	/* odd seqs are u_a's; 60 of 160 dropped, so u_a keeps 61, 63 … 159 */
	for (int i = 1; i <= 160; i++)
		append(f, 100, "user.update", i % 2 ? "u_a" : "u_b", NULL);
	do {
		got += page(f, "u_a", before, 7, ids + got, 128 - got, &next);
		before = next;
	} while (next != 0);
	assert_int_equal(got, 50);
	for (size_t i = 0; i < got; i++)
		assert_int_equal(ids[i], 159 - 2 * i);

	got = 0;
	before = 0;
	do {
		got += page(f, NULL, before, 30, ids + got, 128 - got, &next);
		before = next;
	} while (next != 0);
	assert_int_equal(got, 100);
	assert_int_equal(ids[0], 160);
	assert_int_equal(ids[99], 61);

	/* a token from before the drop now points below the window */
	assert_int_equal(page(f, "u_a", 40, 7, ids, 128, &next), 0);
	assert_int_equal(next, 0);
	assert_int_equal(page(f, NULL, 40, 7, ids, 128, &next), 0);
	assert_int_equal(next, 0);
}

static void
test_verify_modified(void **state)
{
	struct fixture_store *f = *state;
	char *r, *p;

	fill5(f);
	r = raw_get(f, 3);
	p = strstr(r, "user.update");
	assert_non_null(p);
	memcpy(p, "user.delete", 11);
	raw_put(f, 3, r);
	free(r);
	assert_verify(f, "{\"ok\":false,\"records\":5,\"first_seq\":1,\"trimmed\":0,\"first_broken\":3,"
	    "\"reason\":\"record 3 was modified\"}");
}

/* the same members with "hash" moved first: not a record audit.c wrote */
static void
test_verify_reordered(void **state)
{
	struct fixture_store *f = *state;
	char *r, *h, *s;

	fill5(f);
	r = raw_get(f, 2);
	h = field(r, "hash");
	s = x_asprintf("{\"hash\":\"%s\",%s", h, r + 1);
	strcpy(strstr(s, ",\"hash\""), "}");
	raw_put(f, 2, s);
	assert_verify(f, "{\"ok\":false,\"records\":5,\"first_seq\":1,\"trimmed\":0,\"first_broken\":2,"
	    "\"reason\":\"record 2 was modified\"}");
	free(r);
	free(h);
	free(s);
}

static void
test_verify_deleted(void **state)
{
	struct fixture_store *f = *state;
	struct store_txn *t;
	uint8_t k[8];

	fill5(f);
	t = begin(f, 1);
	key_of(3, k);
	assert_int_equal(store_del(t, STORE_DB_AUDIT, k, 8), 0);
	assert_int_equal(store_txn_commit(t), 0);
	assert_verify(f, "{\"ok\":false,\"records\":4,\"first_seq\":1,\"trimmed\":0,\"first_broken\":3,"
	    "\"reason\":\"record 3 missing\"}");
}

/* the newest records removed: only the chain's head can tell */
static void
test_verify_tail_deleted(void **state)
{
	struct fixture_store *f = *state;
	struct store_txn *t;
	uint8_t k[8];

	fill5(f);
	t = begin(f, 1);
	key_of(5, k);
	assert_int_equal(store_del(t, STORE_DB_AUDIT, k, 8), 0);
	assert_int_equal(store_txn_commit(t), 0);
	assert_verify(f, "{\"ok\":false,\"records\":4,\"first_seq\":1,\"trimmed\":0,\"first_broken\":5,"
	    "\"reason\":\"record 5 missing\"}");
}

/* the newest record rewritten with a matching hash: only the head knows */
static void
test_verify_tail_rehashed(void **state)
{
	struct fixture_store *f = *state;
	char *r, *prev, *body, *s, *p;

	fill5(f);
	r = raw_get(f, 5);
	prev = field(r, "prev_hash");
	body = x_strdup(r);
	strcpy(strstr(body, ",\"hash\":"), "}");
	p = strstr(body, "user.update");
	memcpy(p, "user.delete", 11);
	s = sealed(body, prev);
	raw_put(f, 5, s);
	assert_verify(f, "{\"ok\":false,\"records\":5,\"first_seq\":1,\"trimmed\":0,\"first_broken\":5,"
	    "\"reason\":\"record 5 was modified\"}");
	free(r);
	free(prev);
	free(body);
	free(s);
}

/* record 3 relinked elsewhere, with a hash that matches its new content */
static void
test_verify_wrong_prev(void **state)
{
	struct fixture_store *f = *state;
	char *r, *prev, *body, *s, *p;
	const char *other = "abababababababababababababababababababababababababababababababab";

	fill5(f);
	r = raw_get(f, 3);
	prev = field(r, "prev_hash");
	body = x_strdup(r);
	strcpy(strstr(body, ",\"hash\":"), "}");
	p = strstr(body, prev);
	memcpy(p, other, 64);
	s = sealed(body, other);
	raw_put(f, 3, s);
	assert_verify(f, "{\"ok\":false,\"records\":5,\"first_seq\":1,\"trimmed\":0,\"first_broken\":3,"
	    "\"reason\":\"record 3: prev_hash does not match the hash of the "
	    "record before it\"}");
	free(r);
	free(prev);
	free(body);
	free(s);
}

static void
test_verify_garbage(void **state)
{
	struct fixture_store *f = *state;

	fill5(f);
	raw_put(f, 4, "{\"id\":4,");
	assert_verify(f, "{\"ok\":false,\"records\":5,\"first_seq\":1,\"trimmed\":0,\"first_broken\":4,"
	    "\"reason\":\"record 4 is not valid JSON\"}");
}

static void
test_verify_empty(void **state)
{
	assert_verify(*state, "{\"ok\":true,\"records\":0,\"first_seq\":1,\"last_seq\":0,\"trimmed\":0}");
}

static void
test_aborted_append(void **state)
{
	struct fixture_store *f = *state;
	struct audit_event e = { "user.create", NULL, "u_a", "a", NULL, NULL, NULL };
	struct store_txn *t;
	uint64_t ids[4], next, seq;
	size_t n;

	t = begin(f, 1);
	assert_int_equal(audit_append(t, 100, &e, NOW, &seq), 0);
	assert_int_equal(seq, 1);
	store_txn_abort(t);

	t = begin(f, 0);
	assert_int_equal(store_count(t, STORE_DB_AUDIT, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_count(t, STORE_DB_AUDIT_IDX, &n), 0);
	assert_int_equal(n, 0);
	store_txn_abort(t);
	assert_int_equal(page(f, "u_a", 0, 4, ids, 4, &next), 0);
	assert_int_equal(page(f, NULL, 0, 4, ids, 4, &next), 0);
	assert_verify(f, "{\"ok\":true,\"records\":0,\"first_seq\":1,\"last_seq\":0,\"trimmed\":0}");

	/* the next committed append starts the chain afresh */
	assert_int_equal(append(f, 100, "user.create", "u_a", NULL), 1);
	assert_verify(f, "{\"ok\":true,\"records\":1,\"first_seq\":1,\"last_seq\":1,\"trimmed\":0}");
}

static void
test_data_copied(void **state)
{
	struct fixture_store *f = *state;
	struct audit_event e = { "user.update", NULL, NULL, NULL, NULL, NULL, NULL };
	struct json *d = json_object(), *in = json_object();
	struct store_txn *t;
	char *r;

	json_set_str(in, "old", "x");
	json_set_int(in, "n", 42);
	json_set(d, "email", in);
	e.data = d;
	t = begin(f, 1);
	assert_int_equal(audit_append(t, 100, &e, NOW, NULL), 0);
	json_set_str(d, "later", "not recorded");
	json_free(d);                     /* before the commit */
	assert_int_equal(store_txn_commit(t), 0);
	r = raw_get(f, 1);
	assert_non_null(strstr(r, ",\"data\":{\"email\":{\"old\":\"x\",\"n\":42}},"));
	assert_null(strstr(r, "later"));
	free(r);
	assert_verify(f, "{\"ok\":true,\"records\":1,\"first_seq\":1,\"last_seq\":1,\"trimmed\":0}");
}

/* what could not be read back is refused, and the caller aborts */
static void
test_append_refused(void **state)
{
	struct fixture_store *f = *state;
	struct audit_actor bad = { NULL, "\xff\xfe", NULL, NULL, NULL };
	struct audit_event e = { "user.update", &bad, NULL, NULL, NULL, NULL, NULL };
	struct audit_event none = { NULL, NULL, NULL, NULL, NULL, NULL, NULL };
	struct store_txn *t;

	t = begin(f, 1);
	assert_int_equal(audit_append(t, 100, &e, NOW, NULL), -1);
	store_txn_abort(t);
	t = begin(f, 1);
	assert_int_equal(audit_append(t, 100, &none, NOW, NULL), -1);
	assert_int_equal(audit_append(t, 0, &e, NOW, NULL), -1);
	store_txn_abort(t);
	assert_verify(f, "{\"ok\":true,\"records\":0,\"first_seq\":1,\"last_seq\":0,\"trimmed\":0}");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, fixture_store_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time_rfc3339),
		T(test_append_read_back),
		T(test_chain_links),
		T(test_capacity),
		T(test_record_bound),
		T(test_trim_report),
		T(test_sha256_rewrite_detected),
		T(test_migrate_schema1),
		T(test_migrate_schema1_record_detected),
		T(test_head_published),
		T(test_identity_paging),
		T(test_paging_after_drop),
		T(test_verify_modified),
		T(test_verify_reordered),
		T(test_verify_deleted),
		T(test_verify_tail_deleted),
		T(test_verify_tail_rehashed),
		T(test_verify_wrong_prev),
		T(test_verify_garbage),
		T(test_verify_empty),
		T(test_aborted_append),
		T(test_data_copied),
		T(test_append_refused),
	};

	log_init("test_audit", 1, LOG_LEVEL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

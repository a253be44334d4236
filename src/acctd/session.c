/*
 * Console sessions. The session id (32 random bytes, base64url, the cookie
 * value) is never stored: the key in STORE_DB_SESSION is
 * HMAC-SHA256(session key, id), the session key being derived from the
 * appliance key. A stolen data directory therefore holds no usable session.
 * The record (binary, rec.c): user id, created (ms), last seen (s), the
 * CSRF token.
 */
#include <stdlib.h>
#include <string.h>

#include "acctd.h"

/* last_seen is written back at most this often (s): a burst of requests is
 * not a burst of write transactions */
#define SESSION_TOUCH_EVERY 60

static void
session_key(const char *sid, uint8_t out[CRYPTO_SHA256_LEN])
{
	crypto_hmac_sha256_ready(&app.keys.session_mac, sid, strlen(sid), out);
}

/*
 * The stored form (rec.c): user id, created_ms, last_seen, CSRF token. The
 * JSON of older builds is still read; a session written by one is rewritten
 * in this form when its last_seen is next written back.
 */
#define SESSION_REC_VERSION 1

static int
session_put(struct store_txn *t, const uint8_t key[CRYPTO_SHA256_LEN],
    const struct session *s)
{
	struct rec w;
	int rc;

	rec_init(&w, SESSION_REC_VERSION);
	rec_str(&w, s->user_id);
	rec_i64(&w, s->created_ms);
	rec_i64(&w, s->last_seen);
	rec_str(&w, s->csrf);
	rc = store_put(t, STORE_DB_SESSION, key, CRYPTO_SHA256_LEN, w.buf, w.len);
	rec_free(&w);
	return rc;
}

static int
session_from_json(const void *v, size_t vl, struct session *s)
{
	struct json *j;
	char err[64];
	const char *uid, *csrf;
	int rc = -1;

	if (json_parse(v, vl, &j, err, sizeof(err)) == -1)
		return -1;
	uid = json_str(json_get(j, "user_id"));
	csrf = json_str(json_get(j, "csrf"));
	if (uid && csrf && strlen(uid) == SECRET_ID_LEN && strlen(csrf) == SESSION_TOKEN_LEN &&
	    json_int(json_get(j, "created_ms"), &s->created_ms) == 0 &&
	    json_int(json_get(j, "last_seen"), &s->last_seen) == 0) {
		strcpy(s->user_id, uid);
		strcpy(s->csrf, csrf);
		rc = 0;
	}
	json_free(j);
	return rc;
}

static int
session_from_rec(const void *v, size_t vl, struct session *s)
{
	struct rec_in r;

	if (rec_open(&r, v, vl, SESSION_REC_VERSION) == -1 ||
	    rec_get_str(&r, s->user_id, sizeof(s->user_id)) != 0)
		return -1;
	s->created_ms = rec_get_i64(&r);
	s->last_seen = rec_get_i64(&r);
	if (rec_get_str(&r, s->csrf, sizeof(s->csrf)) != 0 || rec_done(&r) == -1 ||
	    strlen(s->user_id) != SECRET_ID_LEN || strlen(s->csrf) != SESSION_TOKEN_LEN)
		return -1;
	return 0;
}

static int
session_parse(const void *v, size_t vl, struct session *s)
{
	int rc;

	memset(s, 0, sizeof(*s));
	if (vl > 0 && *(const char *)v == '{')
		rc = session_from_json(v, vl, s);
	else
		rc = session_from_rec(v, vl, s);
	if (rc == -1)
		crypto_wipe(s, sizeof(*s));
	return rc;
}

/* the session of sid and its store key: 0 / STORE_NOTFOUND / -1 */
static int
session_read(struct store_txn *t, const char *sid, uint8_t key[CRYPTO_SHA256_LEN],
    struct session *s)
{
	void *v = NULL;
	size_t vl;
	int rc;

	if (strlen(sid) != SESSION_TOKEN_LEN)
		return STORE_NOTFOUND;
	session_key(sid, key);
	rc = store_get(t, STORE_DB_SESSION, key, CRYPTO_SHA256_LEN, &v, &vl);
	if (rc != 0)
		return rc;
	rc = session_parse(v, vl, s);
	crypto_wipe(v, vl);
	free(v);
	return rc;
}

int
session_create(struct store_txn *t, const char *user_id, int64_t now_ms,
    char sid[SESSION_TOKEN_LEN + 1], char csrf[SESSION_TOKEN_LEN + 1])
{
	uint8_t rnd[64], key[CRYPTO_SHA256_LEN];
	struct session s;
	int rc;

	if (crypto_random(rnd, sizeof(rnd)) == -1)
		return -1;
	secret_b64url(rnd, 32, sid);
	secret_b64url(rnd + 32, 32, csrf);
	crypto_wipe(rnd, sizeof(rnd));
	memset(&s, 0, sizeof(s));
	snprintf(s.user_id, sizeof(s.user_id), "%s", user_id);
	s.created_ms = now_ms;
	s.last_seen = now_ms / 1000;
	memcpy(s.csrf, csrf, sizeof(s.csrf));
	session_key(sid, key);
	rc = session_put(t, key, &s);
	crypto_wipe(&s, sizeof(s));
	return rc;
}

static int
session_expired(const struct session *s, int64_t now, int idle, int absolute)
{
	return now - s->last_seen > idle || now - s->created_ms / 1000 > absolute;
}

int
session_lookup(struct store_txn *t, const char *sid, int64_t now, int idle,
    int absolute, struct session *s, int *stale)
{
	uint8_t key[CRYPTO_SHA256_LEN];
	int rc;

	*stale = 0;
	rc = session_read(t, sid, key, s);
	if (rc != 0)
		return rc;
	if (session_expired(s, now, idle, absolute)) {
		crypto_wipe(s, sizeof(*s));
		return SESSION_EXPIRED;
	}
	*stale = now - s->last_seen >= SESSION_TOUCH_EVERY;
	return 0;
}

/*
 * Read-modify-write inside the caller's write txn: the record is re-read
 * there, so a session deleted after the caller's lookup (logout, password
 * change, reset) stays deleted instead of being written back.
 */
int
session_touch(struct store_txn *t, const char *sid, int64_t now)
{
	uint8_t key[CRYPTO_SHA256_LEN];
	struct session cur;
	int rc;

	rc = session_read(t, sid, key, &cur);
	if (rc == 0 && cur.last_seen < now) {
		cur.last_seen = now;
		rc = session_put(t, key, &cur);
	}
	crypto_wipe(&cur, sizeof(cur));
	return rc;
}

int
session_delete(struct store_txn *t, const char *sid)
{
	uint8_t key[CRYPTO_SHA256_LEN];
	int rc;

	session_key(sid, key);
	rc = store_del(t, STORE_DB_SESSION, key, sizeof(key));
	return rc == -1 ? -1 : 0;
}

struct session_walk {
	const char *user_id;
	uint8_t keep[CRYPTO_SHA256_LEN];
	int has_keep;
	uint8_t (*victims)[CRYPTO_SHA256_LEN];
	size_t n;
};

static int
session_walk_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	struct session_walk *w = arg;
	struct session s;

	if (kl != CRYPTO_SHA256_LEN || session_parse(v, vl, &s) == -1)
		return 0;
	if (strcmp(s.user_id, w->user_id) == 0 &&
	    !(w->has_keep && memcmp(k, w->keep, kl) == 0)) {
		w->victims = x_realloc(w->victims, (w->n + 1) * sizeof(*w->victims));
		memcpy(w->victims[w->n++], k, kl);
	}
	crypto_wipe(&s, sizeof(s));
	return 0;
}

/* O(sessions): an appliance has a few dozen; no per-user index to keep right */
int
session_delete_user(struct store_txn *t, const char *user_id, const char *keep)
{
	struct session_walk w;
	int rc = 0;

	memset(&w, 0, sizeof(w));
	w.user_id = user_id;
	if (keep != NULL) {
		session_key(keep, w.keep);
		w.has_keep = 1;
	}
	if (store_iter(t, STORE_DB_SESSION, NULL, 0, 0, session_walk_cb, &w) == -1)
		rc = -1;
	for (size_t i = 0; rc == 0 && i < w.n; i++)
		if (store_del(t, STORE_DB_SESSION, w.victims[i], CRYPTO_SHA256_LEN) == -1)
			rc = -1;
	free(w.victims);
	return rc;
}

struct session_sweep {
	int64_t now;
	int idle, absolute;
	size_t seen, max;
	uint8_t (*victims)[CRYPTO_SHA256_LEN];
	size_t n;
	uint8_t next[CRYPTO_SHA256_LEN];
};

static int
session_sweep_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	struct session_sweep *w = arg;
	struct session s;

	if (kl != CRYPTO_SHA256_LEN)
		return 0;
	if (w->seen == w->max) {
		memcpy(w->next, k, kl);   /* where the next pass starts */
		return 1;
	}
	w->seen++;
	if (session_parse(v, vl, &s) == 0 &&
	    session_expired(&s, w->now, w->idle, w->absolute)) {
		w->victims = x_realloc(w->victims, (w->n + 1) * sizeof(*w->victims));
		memcpy(w->victims[w->n++], k, kl);
	}
	crypto_wipe(&s, sizeof(s));
	return 0;
}

int
session_sweep(struct store_txn *t, int64_t now, int idle, int absolute,
    size_t max, uint8_t cursor[CRYPTO_SHA256_LEN], int *more, size_t *removed)
{
	static const uint8_t zero[CRYPTO_SHA256_LEN];
	struct session_sweep w;
	int rc, start = memcmp(cursor, zero, CRYPTO_SHA256_LEN) != 0;

	memset(&w, 0, sizeof(w));
	w.now = now;
	w.idle = idle;
	w.absolute = absolute;
	w.max = max ? max : 1;
	*more = 0;
	*removed = 0;
	rc = store_iter(t, STORE_DB_SESSION, start ? cursor : NULL,
	    start ? CRYPTO_SHA256_LEN : 0, 0, session_sweep_cb, &w);
	if (rc == -1)
		goto done;
	for (size_t i = 0; i < w.n; i++) {
		if (store_del(t, STORE_DB_SESSION, w.victims[i], CRYPTO_SHA256_LEN) == -1) {
			rc = -1;
			goto done;
		}
	}
	*removed = w.n;
	if (rc > 0) {
		memcpy(cursor, w.next, CRYPTO_SHA256_LEN);
		*more = 1;
	} else {
		memset(cursor, 0, CRYPTO_SHA256_LEN);
	}
	rc = 0;
done:
	free(w.victims);
	return rc;
}

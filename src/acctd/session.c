/*
 * Console sessions. The session id (32 random bytes, base64url, the cookie
 * value) is never stored: the key in STORE_DB_SESSION is
 * HMAC-SHA256(session key, id), the session key being derived from the
 * appliance key. A stolen data directory therefore holds no usable session.
 * The record (binary, rec.c): user id, created (ms), last seen (s), the
 * CSRF token, and since version 2 the client's address and User-Agent for
 * the sessions list. The id the list shows is SHA-256 of the store key, cut
 * to 16 bytes: it names a session without letting anyone sign in with it.
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
 * The stored form (rec.c): user id, created_ms, last_seen, CSRF token,
 * address, User-Agent. Version 1 (without the last two) and the JSON of
 * older builds are still read; such a session is rewritten in this form
 * when its last_seen is next written back.
 */
#define SESSION_REC_V1 1
#define SESSION_REC_VERSION 2

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
	rec_str(&w, s->ip);
	rec_str(&w, s->ua);
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
	int v2 = rec_open(&r, v, vl, SESSION_REC_VERSION) == 0;

	if ((!v2 && rec_open(&r, v, vl, SESSION_REC_V1) == -1) ||
	    rec_get_str(&r, s->user_id, sizeof(s->user_id)) != 0)
		return -1;
	s->created_ms = rec_get_i64(&r);
	s->last_seen = rec_get_i64(&r);
	if (rec_get_str(&r, s->csrf, sizeof(s->csrf)) != 0 ||
	    (v2 && (rec_get_str(&r, s->ip, sizeof(s->ip)) == -1 ||
	    rec_get_str(&r, s->ua, sizeof(s->ua)) == -1)) || rec_done(&r) == -1 ||
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

/* printable ASCII kept, anything else '?', cut at SESSION_UA_MAX */
static void
session_ua_copy(char *out, const char *ua)
{
	size_t i;

	for (i = 0; ua != NULL && ua[i] && i < SESSION_UA_MAX; i++)
		out[i] = ua[i] >= 0x20 && ua[i] < 0x7f ? ua[i] : '?';
	out[i] = '\0';
}

int
session_create(struct store_txn *t, const char *user_id, int64_t now_ms,
    const char *ip, const char *ua,
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
	snprintf(s.ip, sizeof(s.ip), "%s", ip ? ip : "");
	session_ua_copy(s.ua, ua);
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

/* the id the list shows for the session stored under key */
static void
session_public_id(const uint8_t key[CRYPTO_SHA256_LEN], char id[SESSION_ID_LEN + 1])
{
	uint8_t h[CRYPTO_SHA256_LEN];

	crypto_sha256(key, CRYPTO_SHA256_LEN, h);
	secret_hex(h, SESSION_ID_LEN / 2, id);
}

/* one user's sessions, copied out of the walk (wiped by session_mine_free) */
struct session_item {
	char id[SESSION_ID_LEN + 1];
	uint8_t key[CRYPTO_SHA256_LEN];
	struct session s;
};
struct session_mine {
	const char *user_id;
	struct session_item *v;
	size_t n;
};

static int
session_mine_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	struct session_mine *w = arg;
	struct session s;
	struct session_item *it;

	if (kl != CRYPTO_SHA256_LEN || session_parse(v, vl, &s) == -1)
		return 0;
	if (strcmp(s.user_id, w->user_id) == 0) {
		w->v = x_realloc(w->v, (w->n + 1) * sizeof(*w->v));
		it = &w->v[w->n++];
		memcpy(it->key, k, kl);
		session_public_id(it->key, it->id);
		it->s = s;
	}
	crypto_wipe(&s, sizeof(s));
	return 0;
}

static void
session_mine_free(struct session_mine *w)
{
	if (w->v != NULL) {
		crypto_wipe(w->v, w->n * sizeof(*w->v));
		free(w->v);
	}
	w->v = NULL;
	w->n = 0;
}

static int
session_mine(struct store_txn *t, const char *user_id, struct session_mine *w)
{
	memset(w, 0, sizeof(*w));
	w->user_id = user_id;
	if (store_iter(t, STORE_DB_SESSION, NULL, 0, 0, session_mine_cb, w) == -1) {
		session_mine_free(w);
		return -1;
	}
	return 0;
}

/* last seen first, then the newer */
static int
session_item_cmp(const void *a, const void *b)
{
	const struct session *x = &((const struct session_item *)a)->s;
	const struct session *y = &((const struct session_item *)b)->s;

	if (x->last_seen != y->last_seen)
		return x->last_seen < y->last_seen ? 1 : -1;
	return (x->created_ms < y->created_ms) - (x->created_ms > y->created_ms);
}

static struct json *
session_item_json(const struct session_item *it, int current)
{
	struct json *o = json_object();
	char label[64];

	useragent_label(it->s.ua, label, sizeof(label));
	json_set_str(o, "id", it->id);
	time_json_set(o, "created", it->s.created_ms / 1000);
	time_json_set(o, "last_seen", it->s.last_seen);
	json_set_str(o, "address", it->s.ip[0] ? it->s.ip : NULL);
	json_set_str(o, "browser", label);
	json_set_str(o, "user_agent", it->s.ua[0] ? it->s.ua : NULL);
	json_set_bool(o, "current", current);
	return o;
}

int
session_list(struct store_txn *t, const char *user_id, const char *current_sid,
    int64_t now, int idle, int absolute, struct json **items)
{
	struct session_mine w;
	uint8_t cur[CRYPTO_SHA256_LEN];

	*items = NULL;
	if (session_mine(t, user_id, &w) == -1)
		return -1;
	memset(cur, 0, sizeof(cur));
	if (current_sid != NULL)
		session_key(current_sid, cur);
	if (w.n > 1)
		qsort(w.v, w.n, sizeof(*w.v), session_item_cmp);
	*items = json_array();
	for (size_t i = 0; i < w.n; i++)
		if (!session_expired(&w.v[i].s, now, idle, absolute))
			json_push(*items, session_item_json(&w.v[i], current_sid != NULL &&
			    memcmp(cur, w.v[i].key, sizeof(cur)) == 0));
	session_mine_free(&w);
	return 0;
}

int
session_end(struct store_txn *t, const char *user_id, const char *id,
    char *browser, size_t blen, char *ip, size_t iplen)
{
	struct session_mine w;
	int rc = STORE_NOTFOUND;

	if (session_mine(t, user_id, &w) == -1)
		return -1;
	for (size_t i = 0; rc == STORE_NOTFOUND && i < w.n; i++) {
		if (strcmp(w.v[i].id, id) != 0)
			continue;
		useragent_label(w.v[i].s.ua, browser, blen);
		snprintf(ip, iplen, "%s", w.v[i].s.ip);
		rc = store_del(t, STORE_DB_SESSION, w.v[i].key, CRYPTO_SHA256_LEN) == -1 ? -1 : 0;
	}
	session_mine_free(&w);
	return rc;
}

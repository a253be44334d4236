/*
 * User records: one JSON document per user in STORE_DB_USER under its id,
 * and the handle index (STORE_DB_HANDLE: handle -> id), which keeps handles
 * unique and ordered for listing. The console password verifier is
 * PBKDF2-HMAC-SHA256 with a 16-byte per-user salt; it is stored in the record
 * (hex) and never leaves this file except through user_check_password().
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "acctd.h"

void
user_clear(struct user *u)
{
	if (u == NULL)
		return;
	free(u->email);
	free(u->display_name);
	free(u->avatar_url);
	crypto_wipe(u, sizeof(*u));
}

static char *
user_dup(const char *s)
{
	return s ? x_strdup(s) : NULL;
}

void
user_copy(struct user *dst, const struct user *src)
{
	*dst = *src;
	dst->email = user_dup(src->email);
	dst->display_name = user_dup(src->display_name);
	dst->avatar_url = user_dup(src->avatar_url);
}

static int
user_from_json(const char *buf, size_t len, struct user *u)
{
	struct json *j = NULL;
	char err[64];
	const char *id, *handle, *salt, *hash;
	int64_t v;
	int rc = -1;

	memset(u, 0, sizeof(*u));
	if (json_parse(buf, len, &j, err, sizeof(err)) == -1)
		return -1;
	id = json_str(json_get(j, "id"));
	handle = json_str(json_get(j, "handle"));
	salt = json_str(json_get(j, "pw_salt"));
	hash = json_str(json_get(j, "pw_hash"));
	if (!id || !handle || !salt || !hash || strlen(id) != SECRET_ID_LEN ||
	    strlen(handle) > NAME_HANDLE_MAX)
		goto done;
	strcpy(u->id, id);
	strcpy(u->handle, handle);
	if (secret_unhex(salt, u->pw_salt, sizeof(u->pw_salt)) == -1 ||
	    secret_unhex(hash, u->pw_hash, sizeof(u->pw_hash)) == -1)
		goto done;
	u->email = user_dup(json_str(json_get(j, "email")));
	u->display_name = user_dup(json_str(json_get(j, "display_name")));
	u->avatar_url = user_dup(json_str(json_get(j, "avatar_url")));
	u->admin = strcmp(json_str(json_get(j, "role")) ? json_str(json_get(j, "role")) : "", "admin") == 0;
	u->disabled = strcmp(json_str(json_get(j, "status")) ? json_str(json_get(j, "status")) : "", "disabled") == 0;
	if (json_bool(json_get(j, "handle_self"), &u->handle_self) == -1)
		u->handle_self = 0;    /* absent: given by an admin (older records) */
	if (json_bool(json_get(j, "must_change_pw"), &u->must_change_pw) == -1)
		u->must_change_pw = 0; /* absent: older records, chosen passwords */
	if (json_int(json_get(j, "dbpass_rotate_every_days"), &v) == 0 && v > 0 && v <= 3650)
		u->dbpass_rotate_days = (int)v;   /* absent: the policy's (rotate.c) */
	if (json_int(json_get(j, "pw_iter"), &v) == -1 || v < 1)
		goto done;
	u->pw_iter = (unsigned)v;
	if (json_int(json_get(j, "token_min_issued_at"), &u->token_min_issued_at) == -1 ||
	    json_int(json_get(j, "version_id"), &u->version_id) == -1 ||
	    json_int(json_get(j, "created_at"), &u->created_at) == -1 ||
	    json_int(json_get(j, "updated_at"), &u->updated_at) == -1)
		goto done;
	rc = 0;
done:
	json_free(j);
	if (rc == -1)
		user_clear(u);
	return rc;
}

/*
 * Every authenticated request loads its caller's record, and a few users
 * make most requests: the last record parsed per slot (by id) is kept with
 * its stored bytes, and a record whose bytes are the same is copied, not
 * parsed again (the same bytes parse to the same struct, so nothing can go
 * stale). The memo holds verifiers as the store does; both are wiped when
 * a slot is replaced.
 */
#define USER_MEMO_SLOTS 64
static struct {
	char *raw;
	size_t len;
	struct user u;
	char *json;              /* user_json_print(&u), once asked for */
} user_memo[USER_MEMO_SLOTS];
static pthread_mutex_t user_memo_mtx = PTHREAD_MUTEX_INITIALIZER;

static size_t
user_memo_slot(const char *id)
{
	uint32_t h = 2166136261u;      /* FNV-1a */

	while (*id)
		h = (h ^ (uint8_t)*id++) * 16777619u;
	return h % USER_MEMO_SLOTS;
}

/* 1: u is the copy of the record raw[0..len) parsed before */
static int
user_memo_get(size_t slot, const void *raw, size_t len, struct user *u)
{
	int hit;

	pthread_mutex_lock(&user_memo_mtx);
	hit = user_memo[slot].raw != NULL && user_memo[slot].len == len &&
	    memcmp(user_memo[slot].raw, raw, len) == 0;
	if (hit)
		user_copy(u, &user_memo[slot].u);
	pthread_mutex_unlock(&user_memo_mtx);
	return hit;
}

/* takes raw (malloc'd) */
static void
user_memo_put(size_t slot, void *raw, size_t len, const struct user *u)
{
	char *old, *oldjson;
	size_t oldlen;
	struct user oldu;

	pthread_mutex_lock(&user_memo_mtx);
	old = user_memo[slot].raw;
	oldlen = user_memo[slot].len;
	oldu = user_memo[slot].u;
	oldjson = user_memo[slot].json;
	user_memo[slot].raw = raw;
	user_memo[slot].len = len;
	user_copy(&user_memo[slot].u, u);
	user_memo[slot].json = NULL;
	pthread_mutex_unlock(&user_memo_mtx);
	free(oldjson);
	if (old != NULL) {
		crypto_wipe(old, oldlen);
		free(old);
		user_clear(&oldu);
	}
}

int
user_load(struct store_txn *t, const char *id, struct user *u)
{
	size_t vl, slot = user_memo_slot(id);
	void *v = NULL;
	int rc;

	memset(u, 0, sizeof(*u));
	rc = store_get(t, STORE_DB_USER, id, strlen(id), &v, &vl);
	if (rc != 0)
		return rc;
	if (user_memo_get(slot, v, vl, u)) {
		crypto_wipe(v, vl);
		free(v);
		return 0;
	}
	rc = user_from_json(v, vl, u);
	if (rc == -1) {
		log_warnx("user: record %s is corrupt", id);
		free(v);
		return rc;
	}
	user_memo_put(slot, v, vl, u);
	return 0;
}

int
user_load_handle(struct store_txn *t, const char *handle, struct user *u)
{
	char id[SECRET_ID_LEN + 1];
	void *v = NULL;
	size_t vl;
	int rc;

	memset(u, 0, sizeof(*u));
	if (handle[0] == '\0')
		return STORE_NOTFOUND;
	rc = store_get(t, STORE_DB_HANDLE, handle, strlen(handle), &v, &vl);
	if (rc != 0)
		return rc;
	if (vl != SECRET_ID_LEN) {
		free(v);
		return -1;
	}
	memcpy(id, v, vl);
	id[vl] = '\0';
	free(v);
	return user_load(t, id, u);
}

/* the fields the stored record and the API's User share, in this order */
static void
user_json_profile(struct json *j, const struct user *u)
{
	json_set_str(j, "id", u->id);
	json_set_str(j, "handle", u->handle);
	json_set_str(j, "email", u->email);
	json_set_str(j, "display_name", u->display_name);
	json_set_str(j, "avatar_url", u->avatar_url);
	json_set_str(j, "role", u->admin ? "admin" : "user");
	json_set_str(j, "status", u->disabled ? "disabled" : "active");
}

int
user_save(struct store_txn *t, const struct user *u, const char *old_handle,
    int old_chosen)
{
	struct json *j = json_object();
	char salt[33], hash[65], *s;
	int rc = -1;

	secret_hex(u->pw_salt, sizeof(u->pw_salt), salt);
	secret_hex(u->pw_hash, sizeof(u->pw_hash), hash);
	user_json_profile(j, u);
	json_set_int(j, "pw_iter", u->pw_iter);
	json_set_str(j, "pw_salt", salt);
	json_set_str(j, "pw_hash", hash);
	if (u->handle_self)
		json_set_bool(j, "handle_self", 1);
	if (u->must_change_pw)
		json_set_bool(j, "must_change_pw", 1);
	if (u->dbpass_rotate_days)
		json_set_int(j, "dbpass_rotate_every_days", u->dbpass_rotate_days);
	json_set_int(j, "token_min_issued_at", u->token_min_issued_at);
	json_set_int(j, "version_id", u->version_id);
	json_set_int(j, "created_at", u->created_at);
	json_set_int(j, "updated_at", u->updated_at);
	s = json_print(j);
	if (old_handle != NULL && strcmp(old_handle, u->handle) != 0) {
		char alias[NAME_HANDLE_MAX + 2];

		/* the old handle becomes this user's alias: nobody else can
		 * take it, and the workspaces the config gives to it follow
		 * the user, unless old_chosen (the user chose it: an 's' after
		 * the id, and it carries no membership) */
		char val[SECRET_ID_LEN + 1];

		memcpy(val, u->id, SECRET_ID_LEN);
		val[SECRET_ID_LEN] = 's';
		snprintf(alias, sizeof(alias), "~%s", old_handle);
		if (store_del(t, STORE_DB_HANDLE, old_handle, strlen(old_handle)) == -1 ||
		    store_put(t, STORE_DB_HANDLE, alias, strlen(alias), val,
		    SECRET_ID_LEN + (old_chosen ? 1 : 0)) == -1)
			goto done;
		snprintf(alias, sizeof(alias), "~%s", u->handle);
		if (store_del(t, STORE_DB_HANDLE, alias, strlen(alias)) == -1)
			goto done;
	}
	if (store_put(t, STORE_DB_HANDLE, u->handle, strlen(u->handle), u->id,
	    SECRET_ID_LEN) == -1)
		goto done;
	if (store_put(t, STORE_DB_USER, u->id, SECRET_ID_LEN, s, strlen(s)) == -1)
		goto done;
	rc = 0;
done:
	crypto_wipe(hash, sizeof(hash));
	crypto_wipe(s, strlen(s));
	free(s);
	json_free(j);
	return rc;
}

struct user_alias_walk {
	const char *id;
	char (*keys)[NAME_HANDLE_MAX + 2];
	size_t n;
};

static int
user_alias_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	struct user_alias_walk *w = arg;

	if (kl < 2 || kl > NAME_HANDLE_MAX + 1 || ((const char *)k)[0] != '~')
		return 0;
	if ((vl == SECRET_ID_LEN || vl == SECRET_ID_LEN + 1) &&
	    memcmp(v, w->id, SECRET_ID_LEN) == 0) {
		w->keys = x_realloc(w->keys, (w->n + 1) * sizeof(*w->keys));
		memcpy(w->keys[w->n], k, kl);
		w->keys[w->n][kl] = '\0';
		w->n++;
	}
	return 0;
}

int
user_remove(struct store_txn *t, const struct user *u)
{
	struct user_alias_walk w = { .id = u->id };
	int rc = 0;

	if (store_del(t, STORE_DB_HANDLE, u->handle, strlen(u->handle)) == -1 ||
	    store_del(t, STORE_DB_USER, u->id, SECRET_ID_LEN) == -1)
		return -1;
	/* its old handles are free again */
	if (store_iter(t, STORE_DB_HANDLE, "~", 1, 0, user_alias_cb, &w) == -1)
		rc = -1;
	for (size_t i = 0; rc == 0 && i < w.n; i++)
		if (store_del(t, STORE_DB_HANDLE, w.keys[i], strlen(w.keys[i])) == -1)
			rc = -1;
	free(w.keys);
	return rc;
}

/* who holds handle, now or as a former handle; *chosen: that user chose it
 * (a current handle with handle_self, or an alias marked 's') */
static int
user_handle_lookup(struct store_txn *t, const char *handle,
    char id[SECRET_ID_LEN + 1], int *chosen)
{
	char alias[NAME_HANDLE_MAX + 2];
	struct user u;
	void *v = NULL;
	size_t vl;
	int rc, is_alias = 0;

	rc = store_get(t, STORE_DB_HANDLE, handle, strlen(handle), &v, &vl);
	if (rc == STORE_NOTFOUND) {
		snprintf(alias, sizeof(alias), "~%s", handle);
		rc = store_get(t, STORE_DB_HANDLE, alias, strlen(alias), &v, &vl);
		is_alias = 1;
	}
	if (rc != 0)
		return rc;
	if (vl != SECRET_ID_LEN && !(is_alias && vl == SECRET_ID_LEN + 1 &&
	    ((char *)v)[SECRET_ID_LEN] == 's')) {
		free(v);
		return -1;
	}
	memcpy(id, v, SECRET_ID_LEN);
	id[SECRET_ID_LEN] = '\0';
	free(v);
	if (chosen == NULL)
		return 0;
	if (is_alias) {
		*chosen = vl == SECRET_ID_LEN + 1;
		return 0;
	}
	if ((rc = user_load(t, id, &u)) == 0)
		*chosen = u.handle_self;
	user_clear(&u);
	return rc;
}

int
user_id_of_handle(struct store_txn *t, const char *handle, char id[SECRET_ID_LEN + 1])
{
	return user_handle_lookup(t, handle, id, NULL);
}

int
user_handle_chosen(struct store_txn *t, const char *handle, int *chosen)
{
	char id[SECRET_ID_LEN + 1];

	return user_handle_lookup(t, handle, id, chosen);
}

int
user_handle_release_chosen(struct store_txn *t, const char *handle)
{
	char alias[NAME_HANDLE_MAX + 2];
	void *v = NULL;
	size_t vl;
	int rc;

	snprintf(alias, sizeof(alias), "~%s", handle);
	rc = store_get(t, STORE_DB_HANDLE, alias, strlen(alias), &v, &vl);
	if (rc != 0)
		return rc == STORE_NOTFOUND ? 0 : -1;
	free(v);
	if (vl != SECRET_ID_LEN + 1)
		return 0;
	return store_del(t, STORE_DB_HANDLE, alias, strlen(alias)) == -1 ? -1 : 1;
}

int
user_handle_member(struct store_txn *t, const char *handle, char id[SECRET_ID_LEN + 1])
{
	int chosen = 0, rc = user_handle_lookup(t, handle, id, &chosen);

	/* a handle its holder chose, now or before, is never a membership */
	if (rc == 0 && chosen)
		rc = STORE_NOTFOUND;
	if (rc != 0)
		id[0] = '\0';
	return rc;
}

int
user_pw_derive(struct user_pw *p, const char *pw, unsigned iterations)
{
	memset(p, 0, sizeof(*p));
	if (crypto_random(p->salt, sizeof(p->salt)) == -1)
		return -1;
	p->iter = iterations;
	return crypto_pbkdf2_sha256(pw, strlen(pw), p->salt, sizeof(p->salt),
	    iterations, p->hash, sizeof(p->hash));
}

int
user_pw_none(struct user_pw *p, unsigned iterations)
{
	memset(p, 0, sizeof(*p));
	p->iter = iterations;
	return crypto_random(p->salt, sizeof(p->salt)) == -1 ||
	    crypto_random(p->hash, sizeof(p->hash)) == -1 ? -1 : 0;
}

void
user_pw_apply(struct user *u, const struct user_pw *p)
{
	u->pw_iter = p->iter;
	memcpy(u->pw_salt, p->salt, sizeof(u->pw_salt));
	memcpy(u->pw_hash, p->hash, sizeof(u->pw_hash));
}

int
user_set_password(struct user *u, const char *pw, unsigned iterations)
{
	struct user_pw p;
	int rc = user_pw_derive(&p, pw, iterations);

	if (rc == 0)
		user_pw_apply(u, &p);
	crypto_wipe(&p, sizeof(p));
	return rc;
}

int
user_check_password(const struct user *u, const char *pw)
{
	uint8_t h[32];
	int ok;

	if (crypto_pbkdf2_sha256(pw, strlen(pw), u->pw_salt, sizeof(u->pw_salt),
	    u->pw_iter, h, sizeof(h)) == -1)
		return 0;
	ok = crypto_equal(h, u->pw_hash, sizeof(h));
	crypto_wipe(h, sizeof(h));
	return ok;
}

/* the same work as a real check, so an unknown handle answers as slowly */
void
user_burn_password_time(const char *pw, unsigned iterations)
{
	static const uint8_t salt[16];
	uint8_t h[32];

	crypto_pbkdf2_sha256(pw, strlen(pw), salt, sizeof(salt), iterations, h, sizeof(h));
	crypto_wipe(h, sizeof(h));
}

struct json *
user_json(const struct user *u)
{
	struct json *j = json_object();
	char ts[32];

	user_json_profile(j, u);
	json_set_bool(j, "must_change_password", u->must_change_pw);
	json_set_int(j, "dbpass_rotate_every_days", u->dbpass_rotate_days);
	time_json_set(j, "token_min_issued_at", u->token_min_issued_at / 1000);
	json_set_int(j, "version_id", u->version_id);
	time_rfc3339(u->created_at, ts, sizeof(ts));
	json_set_str(j, "created_at", ts);
	time_rfc3339(u->updated_at, ts, sizeof(ts));
	json_set_str(j, "updated_at", ts);
	return j;
}

static int
user_str_same(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* a and b answer the same User: every field user_json reads is equal */
static int
user_same(const struct user *a, const struct user *b)
{
	return strcmp(a->id, b->id) == 0 && strcmp(a->handle, b->handle) == 0 &&
	    user_str_same(a->email, b->email) &&
	    user_str_same(a->display_name, b->display_name) &&
	    user_str_same(a->avatar_url, b->avatar_url) &&
	    a->admin == b->admin && a->disabled == b->disabled &&
	    a->must_change_pw == b->must_change_pw &&
	    a->dbpass_rotate_days == b->dbpass_rotate_days &&
	    a->token_min_issued_at == b->token_min_issued_at &&
	    a->version_id == b->version_id && a->created_at == b->created_at &&
	    a->updated_at == b->updated_at;
}

/*
 * user_json(u), printed (caller frees). GET /actor answers its caller's
 * record on every request: the memo keeps the printed form beside the
 * record it holds for u's id, and hands out a copy while u equals that
 * record in every field the answer shows. A changed record is another
 * record (user_memo_put drops the printed form with it).
 */
char *
user_json_print(const struct user *u)
{
	size_t slot = user_memo_slot(u->id);
	struct json *j;
	char *s = NULL;

	pthread_mutex_lock(&user_memo_mtx);
	if (user_memo[slot].json != NULL && user_same(&user_memo[slot].u, u))
		s = x_strdup(user_memo[slot].json);
	pthread_mutex_unlock(&user_memo_mtx);
	if (s != NULL)
		return s;
	j = user_json(u);
	s = json_print(j);
	json_free(j);
	pthread_mutex_lock(&user_memo_mtx);
	if (user_memo[slot].raw != NULL && user_memo[slot].json == NULL &&
	    user_same(&user_memo[slot].u, u))
		user_memo[slot].json = x_strdup(s);
	pthread_mutex_unlock(&user_memo_mtx);
	return s;
}

struct user_walk {
	struct store_txn *t;
	size_t n;
	unsigned limit;
	struct json *items;
	char last[NAME_HANDLE_MAX + 1];
	int more;
	const char *skip;
	const char *q;            /* lower-case search text; NULL: every user */
	size_t seen, budget;      /* handles examined, and at most how many */
};

/* s contains q (q lower case), ASCII case-insensitively */
static int
user_contains(const char *s, size_t sl, const char *q)
{
	size_t ql = strlen(q);

	for (size_t i = 0; s != NULL && i + ql <= sl; i++) {
		size_t j = 0;

		while (j < ql && (s[i + j] >= 'A' && s[i + j] <= 'Z' ?
		    s[i + j] + 32 : s[i + j]) == q[j])
			j++;
		if (j == ql)
			return 1;
	}
	return 0;
}

/*
 * The user id a handle entry (handle -> id) holds, for the walks of the
 * handle index: 0, 1 at the first alias ("~old": they sort after every
 * handle, so the walk is over), -1 when the entry is corrupt.
 */
static int
user_walk_id(const void *k, size_t kl, const void *v, size_t vl,
    char id[SECRET_ID_LEN + 1])
{
	if (kl > 0 && ((const char *)k)[0] == '~')
		return 1;
	if (vl != SECRET_ID_LEN)
		return -1;
	memcpy(id, v, vl);
	id[vl] = '\0';
	return 0;
}

static int
user_count_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	struct user_walk *w = arg;
	struct user u;
	char id[SECRET_ID_LEN + 1];
	int rc = user_walk_id(k, kl, v, vl, id);

	if (rc != 0)
		return rc;
	if (user_load(w->t, id, &u) != 0)
		return -1;
	if (u.admin && !u.disabled)
		w->n++;
	user_clear(&u);
	return rc;
}

int
user_count_admins(struct store_txn *t, size_t *n)
{
	struct user_walk w = { .t = t };

	if (store_iter(t, STORE_DB_HANDLE, NULL, 0, 0, user_count_cb, &w) == -1)
		return -1;
	*n = w.n;
	return 0;
}

/*
 * The count of active admins, kept in META under "admins" (8 bytes,
 * big-endian) so that refusing to disable or delete the last one costs one
 * read, not a walk of every user. A store written before the counter
 * existed has no such key: it is counted once (user_admins_init at start,
 * or the first change that adjusts it), never guessed.
 */
#define USER_ADMINS_KEY "admins"
#define USER_ADMINS_KLEN (sizeof(USER_ADMINS_KEY) - 1)

/* 0 and *n, STORE_NOTFOUND (no counter yet), -1 */
static int
user_admins_get(struct store_txn *t, size_t *n)
{
	void *v = NULL;
	size_t vl;
	int rc = store_get(t, STORE_DB_META, USER_ADMINS_KEY, USER_ADMINS_KLEN, &v, &vl);

	if (rc == 0 && vl != 8) {
		log_warnx("user: the admin counter is corrupt; counting again");
		rc = STORE_NOTFOUND;
	}
	if (rc == 0)
		*n = (size_t)be_get(v, 8);
	free(v);
	return rc;
}

static int
user_admins_put(struct store_txn *t, size_t n)
{
	uint8_t b[8];

	be_put(b, 8, (uint64_t)n);
	return store_put(t, STORE_DB_META, USER_ADMINS_KEY, USER_ADMINS_KLEN, b, 8);
}

int
user_admins(struct store_txn *t, size_t *n)
{
	int rc = user_admins_get(t, n);

	return rc == STORE_NOTFOUND ? user_count_admins(t, n) : rc;
}

int
user_admins_adjust(struct store_txn *t, int delta)
{
	size_t n;
	int rc;

	if (delta == 0)
		return 0;
	rc = user_admins_get(t, &n);
	if (rc == STORE_NOTFOUND) {
		/* no counter yet: the change is in t already, so count it all */
		if (user_count_admins(t, &n) == -1)
			return -1;
	} else if (rc == -1) {
		return -1;
	} else if (delta < 0 && n < (size_t)-delta) {
		log_warnx("user: the admin counter went below zero; counting again");
		if (user_count_admins(t, &n) == -1)
			return -1;
	} else {
		n = delta < 0 ? n - (size_t)-delta : n + (size_t)delta;
	}
	return user_admins_put(t, n);
}

int
user_admins_init(struct store *s)
{
	struct store_txn *t;
	size_t n;
	int rc;

	if (store_txn_begin(s, 1, &t) == -1)
		return -1;
	rc = user_admins_get(t, &n);
	if (rc == 0) {
		store_txn_abort(t);
		return 0;
	}
	if (rc == -1 || user_count_admins(t, &n) == -1 || user_admins_put(t, n) == -1) {
		store_txn_abort(t);
		return -1;
	}
	if (store_txn_commit(t) == -1)
		return -1;
	log_info("user: counted %zu active administrator(s) once", n);
	return 0;
}

static int
user_list_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	struct user_walk *w = arg;
	struct user u;
	char id[SECRET_ID_LEN + 1];
	int rc;

	if (w->skip && kl == strlen(w->skip) && memcmp(k, w->skip, kl) == 0)
		return 0;             /* the page starts after `after` */
	if ((rc = user_walk_id(k, kl, v, vl, id)) == 1)
		return 1;
	if (w->n == w->limit || (w->q && w->seen == w->budget)) {
		w->more = 1;
		return 1;
	}
	if (rc == -1 || kl > NAME_HANDLE_MAX)
		return -1;
	w->seen++;
	memcpy(w->last, k, kl);
	w->last[kl] = '\0';
	if (w->q && !user_contains(k, kl, w->q) && strpbrk(w->q, "\"\\") == NULL) {
		/* the e-mail is in the record's text as it is (JSON escapes only
		 * quotes, backslashes and controls): most records are ruled out
		 * without parsing them */
		void *raw = NULL;
		size_t rl;
		int hit;

		if (store_get(w->t, STORE_DB_USER, id, SECRET_ID_LEN, &raw, &rl) != 0)
			return -1;
		hit = user_contains(raw, rl, w->q);
		free(raw);
		if (!hit)
			return 0;
	}
	if (user_load(w->t, id, &u) != 0)
		return -1;
	if (w->q == NULL || user_contains(k, kl, w->q) ||
	    (u.email && user_contains(u.email, strlen(u.email), w->q))) {
		json_push(w->items, user_json(&u));
		w->n++;
	}
	user_clear(&u);
	return 0;
}

int
user_list(struct store_txn *t, const char *after, const char *q, unsigned limit,
    struct json **items, char *next, size_t nextlen)
{
	struct user_walk w = { .t = t, .limit = limit, .skip = after[0] ? after : NULL,
		.q = q && q[0] ? q : NULL, .budget = USER_SEARCH_BUDGET };

	w.items = json_array();
	if (store_iter(t, STORE_DB_HANDLE, after[0] ? after : NULL, strlen(after), 0,
	    user_list_cb, &w) == -1) {
		json_free(w.items);
		return -1;
	}
	snprintf(next, nextlen, "%s", w.more ? w.last : "");
	*items = w.items;
	return 0;
}

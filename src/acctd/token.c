/*
 * API tokens.
 *
 *   spt_<id: 20 chars [0-9a-v]>_<secret: 26 chars><check: 7 chars>
 *
 * The secret is 130 bits from the CSPRNG and the check is the CRC32 of
 * everything before it, both in Crockford base32 (no '_'), so a scanner can
 * recognise a token and a typo is rejected before any store read. Only
 * HMAC-SHA256(token key, secret) is stored, the token key being derived from
 * the appliance key; comparison is in constant time.
 *
 * STORE_DB_TOKEN holds "t_<id>" -> the record (binary, rec.c; the JSON of
 * older builds is still read) and, to list one user's tokens without a
 * scan, "u:<user id>:t_<id>" -> "".
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "acctd.h"

static const char token_b32[] = "0123456789abcdefghjkmnpqrstvwxyz";

/* CRC-32 (IEEE 802.3, as zlib's crc32); ten lines do not justify a
 * library. Four bits a step (every Bearer request checks one token) */
static const uint32_t token_crc_nibble[16] = {
	0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4,
	0x4db26158, 0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
	0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c
};

uint32_t
token_crc32(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t c = 0xffffffffu;

	while (len--) {
		c ^= *p++;
		c = (c >> 4) ^ token_crc_nibble[c & 15];
		c = (c >> 4) ^ token_crc_nibble[c & 15];
	}
	return c ^ 0xffffffffu;
}

static void
token_check_chars(const char *s, size_t n, char out[TOKEN_CHECK_LEN + 1])
{
	uint32_t c = token_crc32(s, n);

	for (int i = TOKEN_CHECK_LEN - 1; i >= 0; i--) {
		out[i] = token_b32[c & 31];
		c >>= 5;
	}
	out[TOKEN_CHECK_LEN] = '\0';
}

static void
token_hmac(const char *secret, uint8_t out[CRYPTO_SHA256_LEN])
{
	crypto_hmac_sha256_ready(&app.keys.token_mac, secret, strlen(secret), out);
}

int
token_parse(const char *tok, char id[SECRET_ID_LEN + 1], char secret[TOKEN_SECRET_LEN + 1])
{
	char check[TOKEN_CHECK_LEN + 1];
	const char *sec;

	if (strlen(tok) != TOKEN_LEN || strncmp(tok, "spt_", 4) != 0 ||
	    tok[4 + 20] != '_')
		return -1;
	sec = tok + 4 + 20 + 1;
	for (size_t i = 0; i < TOKEN_SECRET_LEN + TOKEN_CHECK_LEN; i++)
		if (strchr(token_b32, sec[i]) == NULL || sec[i] == '\0')
			return -1;
	token_check_chars(tok, TOKEN_LEN - TOKEN_CHECK_LEN, check);
	if (memcmp(check, tok + TOKEN_LEN - TOKEN_CHECK_LEN, TOKEN_CHECK_LEN) != 0)
		return -1;
	id[0] = 't';
	id[1] = '_';
	memcpy(id + 2, tok + 4, 20);
	id[SECRET_ID_LEN] = '\0';
	if (!secret_id_valid(id, "t_"))
		return -1;
	memcpy(secret, sec, TOKEN_SECRET_LEN);
	secret[TOKEN_SECRET_LEN] = '\0';
	return 0;
}

int
token_mint(char id[SECRET_ID_LEN + 1], char tok[TOKEN_LEN + 1], uint8_t hmac[CRYPTO_SHA256_LEN])
{
	uint8_t rnd[TOKEN_SECRET_LEN];
	char secret[TOKEN_SECRET_LEN + 1];

	if (secret_id(id, "t_") == -1 || crypto_random(rnd, sizeof(rnd)) == -1)
		return -1;
	for (size_t i = 0; i < TOKEN_SECRET_LEN; i++)
		secret[i] = token_b32[rnd[i] & 31];
	secret[TOKEN_SECRET_LEN] = '\0';
	snprintf(tok, TOKEN_LEN + 1, "spt_%s_%s", id + 2, secret);
	token_check_chars(tok, TOKEN_LEN - TOKEN_CHECK_LEN, tok + TOKEN_LEN - TOKEN_CHECK_LEN);
	token_hmac(secret, hmac);
	crypto_wipe(rnd, sizeof(rnd));
	crypto_wipe(secret, sizeof(secret));
	return 0;
}

void
token_clear(struct token *k)
{
	if (k == NULL)
		return;
	free(k->title);
	crypto_wipe(k, sizeof(*k));
}

/* the record as older builds wrote it (JSON): 0 / -1 */
static int
token_from_json(const void *v, size_t vl, const char *id, struct token *k)
{
	struct json *j = NULL;
	const char *s;
	char err[64];
	int rc = -1;

	if (json_parse(v, vl, &j, err, sizeof(err)) == -1)
		return -1;
	if ((s = json_str(json_get(j, "id"))) == NULL || strcmp(s, id) != 0)
		goto done;
	strcpy(k->id, s);
	if ((s = json_str(json_get(j, "user_id"))) == NULL || strlen(s) != SECRET_ID_LEN)
		goto done;
	strcpy(k->user_id, s);
	if ((s = json_str(json_get(j, "title"))) != NULL)
		k->title = x_strdup(s);
	k->active = strcmp(json_str(json_get(j, "status")) ? json_str(json_get(j, "status")) : "", "active") == 0;
	if ((s = json_str(json_get(j, "last4"))) == NULL || strlen(s) != 4)
		goto done;
	strcpy(k->last4, s);
	if ((s = json_str(json_get(j, "hmac"))) == NULL ||
	    secret_unhex(s, k->hmac, sizeof(k->hmac)) == -1)
		goto done;
	if ((s = json_str(json_get(j, "last_used_ip"))) != NULL)
		snprintf(k->last_used_ip, sizeof(k->last_used_ip), "%s", s);
	if (json_int(json_get(j, "created_ms"), &k->created_ms) == -1 ||
	    json_int(json_get(j, "updated_at"), &k->updated_at) == -1 ||
	    json_int(json_get(j, "last_used_at"), &k->last_used_at) == -1 ||
	    json_int(json_get(j, "expires_at"), &k->expires_at) == -1 ||
	    json_int(json_get(j, "version_id"), &k->version_id) == -1)
		goto done;
	rc = 0;
done:
	json_free(j);
	return rc;
}

/*
 * The stored form (rec.c), in this order: id, user id, title (NULL = none),
 * active, last4, HMAC (32 bytes), created_ms, updated_at, last_used_at,
 * last_used_ip (NULL = never), expires_at, version_id; version 2 adds the
 * scope (one byte) at the end. Version 1 records, written before tokens had
 * scopes, are still read: as full, what they could do then.
 */
#define TOKEN_REC_V1 1
#define TOKEN_REC_VERSION 2

static const char *const token_scopes[TOKEN_SCOPE_COUNT] = {
	[TOKEN_SCOPE_FULL] = "full", [TOKEN_SCOPE_READ] = "read",
	[TOKEN_SCOPE_CONNECT] = "connect",
};

const char *
token_scope_name(enum token_scope s)
{
	return (unsigned)s < TOKEN_SCOPE_COUNT ? token_scopes[s] : NULL;
}

int
token_scope_parse(const char *s)
{
	for (int i = 0; s != NULL && i < TOKEN_SCOPE_COUNT; i++)
		if (strcmp(s, token_scopes[i]) == 0)
			return i;
	return -1;
}

/* the scope byte of a version 2 record; -1 when out of range */
static int
token_rec_scope(struct rec_in *r, struct token *k)
{
	uint8_t s = rec_get_u8(r);

	if (s >= TOKEN_SCOPE_COUNT)
		return -1;
	k->scope = (enum token_scope)s;
	return 0;
}

static int
token_from_rec(const void *v, size_t vl, const char *id, struct token *k)
{
	struct rec_in r;
	int v2 = rec_open(&r, v, vl, TOKEN_REC_VERSION) == 0;

	if ((!v2 && rec_open(&r, v, vl, TOKEN_REC_V1) == -1) ||
	    rec_get_str(&r, k->id, sizeof(k->id)) != 0 || strcmp(k->id, id) != 0 ||
	    rec_get_str(&r, k->user_id, sizeof(k->user_id)) != 0 ||
	    strlen(k->user_id) != SECRET_ID_LEN)
		return -1;
	k->title = rec_get_strdup(&r);
	k->active = rec_get_u8(&r) == 1;
	rec_get_bytes(&r, k->last4, 4);
	rec_get_bytes(&r, k->hmac, sizeof(k->hmac));
	k->created_ms = rec_get_i64(&r);
	k->updated_at = rec_get_i64(&r);
	k->last_used_at = rec_get_i64(&r);
	if (rec_get_str(&r, k->last_used_ip, sizeof(k->last_used_ip)) == -1)
		return -1;
	k->expires_at = rec_get_i64(&r);
	k->version_id = rec_get_i64(&r);
	k->scope = TOKEN_SCOPE_FULL;
	if ((v2 && token_rec_scope(&r, k) == -1) || rec_done(&r) == -1 ||
	    strlen(k->last4) != 4)
		return -1;
	return 0;
}

int
token_load(struct store_txn *t, const char *id, struct token *k)
{
	void *v = NULL;
	size_t vl;
	int rc;

	memset(k, 0, sizeof(*k));
	rc = store_get(t, STORE_DB_TOKEN, id, strlen(id), &v, &vl);
	if (rc != 0)
		return rc;
	if (vl > 0 && *(const char *)v == '{')
		rc = token_from_json(v, vl, id, k);
	else
		rc = token_from_rec(v, vl, id, k);
	if (rc == -1) {
		log_warnx("token: record %s is corrupt", id);
		token_clear(k);
	}
	crypto_wipe(v, vl);
	free(v);
	return rc;
}

int
token_save(struct store_txn *t, const struct token *k)
{
	struct rec w;
	char idx[64];
	int rc;

	rec_init(&w, TOKEN_REC_VERSION);
	rec_str(&w, k->id);
	rec_str(&w, k->user_id);
	rec_str(&w, k->title);
	rec_u8(&w, k->active ? 1 : 0);
	rec_bytes(&w, k->last4, 4);
	rec_bytes(&w, k->hmac, sizeof(k->hmac));
	rec_i64(&w, k->created_ms);
	rec_i64(&w, k->updated_at);
	rec_i64(&w, k->last_used_at);
	rec_str(&w, k->last_used_ip[0] ? k->last_used_ip : NULL);
	rec_i64(&w, k->expires_at);
	rec_i64(&w, k->version_id);
	rec_u8(&w, (uint8_t)k->scope);
	snprintf(idx, sizeof(idx), "u:%s:%s", k->user_id, k->id);
	rc = store_put(t, STORE_DB_TOKEN, k->id, strlen(k->id), w.buf, w.len);
	if (rc == 0)
		rc = store_put(t, STORE_DB_TOKEN, idx, strlen(idx), "", 0);
	rec_free(&w);
	return rc;
}

int
token_remove(struct store_txn *t, const struct token *k)
{
	char idx[64];

	snprintf(idx, sizeof(idx), "u:%s:%s", k->user_id, k->id);
	if (store_del(t, STORE_DB_TOKEN, k->id, strlen(k->id)) == -1 ||
	    store_del(t, STORE_DB_TOKEN, idx, strlen(idx)) == -1)
		return -1;
	return 0;
}

struct token_walk {
	char prefix[40];
	size_t plen;
	char (*ids)[SECRET_ID_LEN + 1];
	size_t n;
};

static int
token_walk_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	struct token_walk *w = arg;

	(void)v;
	(void)vl;
	if (kl != w->plen + SECRET_ID_LEN || memcmp(k, w->prefix, w->plen) != 0)
		return 1;            /* past this user's keys */
	w->ids = x_realloc(w->ids, (w->n + 1) * sizeof(*w->ids));
	memcpy(w->ids[w->n], (const char *)k + w->plen, SECRET_ID_LEN);
	w->ids[w->n][SECRET_ID_LEN] = '\0';
	w->n++;
	return 0;
}

int
token_ids(struct store_txn *t, const char *user_id, char (**ids)[SECRET_ID_LEN + 1], size_t *n)
{
	struct token_walk w;

	memset(&w, 0, sizeof(w));
	w.plen = (size_t)snprintf(w.prefix, sizeof(w.prefix), "u:%s:", user_id);
	if (store_iter(t, STORE_DB_TOKEN, w.prefix, w.plen, 0, token_walk_cb, &w) == -1) {
		free(w.ids);
		return -1;
	}
	*ids = w.ids;
	*n = w.n;
	return 0;
}

int
token_remove_user(struct store_txn *t, const char *user_id)
{
	char (*ids)[SECRET_ID_LEN + 1];
	size_t n;
	int rc = 0;

	if (token_ids(t, user_id, &ids, &n) == -1)
		return -1;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct token k;

		if (token_load(t, ids[i], &k) != 0)
			rc = -1;
		else if (token_remove(t, &k) == -1)
			rc = -1;
		token_clear(&k);
	}
	free(ids);
	return rc;
}

struct json *
token_json(const struct token *k)
{
	struct json *j = json_object();
	char ts[32];

	json_set_str(j, "id", k->id);
	json_set_str(j, "title", k->title);
	json_set_str(j, "status", k->active ? "active" : "inactive");
	json_set_str(j, "last4", k->last4);
	time_rfc3339(k->created_ms / 1000, ts, sizeof(ts));
	json_set_str(j, "created_at", ts);
	time_rfc3339(k->updated_at, ts, sizeof(ts));
	json_set_str(j, "updated_at", ts);
	time_json_set(j, "last_used_at", k->last_used_at);
	json_set_str(j, "last_used_ip", k->last_used_ip[0] ? k->last_used_ip : NULL);
	time_json_set(j, "expires_at", k->expires_at);
	json_set_int(j, "version_id", k->version_id);
	json_set_str(j, "scope", token_scope_name(k->scope));
	return j;
}

/*
 * Bearer authentication, in the order of the contract: format and checksum
 * (no store read for garbage), id lookup, HMAC compare in constant time,
 * active, not expired, issued after the user's token reset. 0 and *k filled,
 * STORE_NOTFOUND for any refusal, -1 on a store error (the caller fails
 * closed).
 */
int
token_verify(struct store_txn *t, const char *tok, int64_t now, struct token *k)
{
	char id[SECRET_ID_LEN + 1], secret[TOKEN_SECRET_LEN + 1];
	uint8_t h[CRYPTO_SHA256_LEN];
	int rc, ok;

	memset(k, 0, sizeof(*k));
	if (token_parse(tok, id, secret) == -1)
		return STORE_NOTFOUND;
	rc = token_load(t, id, k);
	if (rc != 0) {
		crypto_wipe(secret, sizeof(secret));
		return rc;
	}
	token_hmac(secret, h);
	crypto_wipe(secret, sizeof(secret));
	ok = crypto_equal(h, k->hmac, sizeof(h));
	if (!ok || !k->active || (k->expires_at && k->expires_at <= now)) {
		token_clear(k);
		return STORE_NOTFOUND;
	}
	return 0;
}

/*
 * last_used_at / last_used_ip: written at most once per TOKEN_TOUCH_EVERY
 * seconds per token, so a burst of API calls is not a burst of write
 * transactions. A small table remembers when each token was last written,
 * one slot per token by its id's last (random) characters: every Bearer
 * request asks, so it is one look, not a walk; two tokens that share a
 * slot only write a little more often.
 */
#define TOKEN_TOUCH_SLOTS 256
static struct {
	char id[SECRET_ID_LEN + 1];
	int64_t at;
} token_touched[TOKEN_TOUCH_SLOTS];
static pthread_mutex_t token_mtx = PTHREAD_MUTEX_INITIALIZER;

int
token_touch_due(const char *id, int64_t now)
{
	size_t n = strlen(id), slot;
	int due;

	slot = n < 2 ? 0 : ((size_t)(uint8_t)id[n - 1] * 32 +
	    (uint8_t)id[n - 2]) % TOKEN_TOUCH_SLOTS;
	pthread_mutex_lock(&token_mtx);
	due = strcmp(token_touched[slot].id, id) != 0 ||
	    now - token_touched[slot].at >= TOKEN_TOUCH_EVERY;
	if (due) {
		snprintf(token_touched[slot].id, sizeof(token_touched[slot].id), "%s", id);
		token_touched[slot].at = now;
	}
	pthread_mutex_unlock(&token_mtx);
	return due;
}

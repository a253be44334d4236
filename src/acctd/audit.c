/*
 * The audit ring: every change leaves one JSON record, chained by
 * HMAC-SHA256 under a key derived from the appliance key.
 *
 * STORE_DB_AUDIT maps seq (8 bytes, big-endian) to the record's compact JSON.
 * Each record carries prev_hash, the hash of the record before it, and
 *
 *   hash = hex(HMAC-SHA256(K, prev_hash || "\n" || record without "hash"))
 *   K    = HKDF-SHA256(appliance key, info "acctd audit chain v1")
 *          (app.keys.audit, derived once at start: app.c)
 *
 * where "record without hash" is the compact JSON of the fields in the order
 * docs/api.md shows them; "hash" is then appended as the last member. The
 * first record ever links to 64 zeros. Keyed, because whoever can write
 * data.mdb could otherwise rewrite a record and recompute every hash after
 * it; without the key file that is now detected.
 *
 * Stores of schema 1 chained with plain SHA-256 (same input). audit_init
 * migrates such a store once at start: its records stay as they are and
 * are checked with SHA-256, and "audit_keyed" in META marks the first keyed
 * seq (seq || HMAC(K, "audit_keyed" || seq)), so that nobody without the
 * key can move the boundary. A keyed record covers the SHA-256 hash of the
 * record before it, so rewriting an old record still breaks the chain at
 * the boundary. What no marker can prevent: someone who rewrites the whole
 * file as a fresh schema-1 store gets it migrated again. That is why the
 * head is published outside the store (audit_head_log: a log line at start,
 * stop and every hour; acctd_audit_head_* in /metrics) and the migration
 * logs a notice: a head that went back, or a second migration, shows it.
 *
 * Three META singletons make the chain checkable end to end:
 *   "audit_last"   seq || hash hex of the newest record (the head): append
 *                  never reads a record to extend the chain, and verify
 *                  notices when the newest records are removed.
 *   "audit_anchor" seq || prev_hash hex where the chain now starts, moved
 *                  each time the ring drops its oldest record.
 *   "audit_keyed"  the first keyed seq, above (absent: every record).
 *
 * STORE_DB_AUDIT_IDX maps identity_id || NUL || seq to "", so one identity's
 * page is a reverse walk of its own keys. The NUL makes the prefix unique:
 * no identity's keys fall inside another's range, even when one id is a
 * prefix of another.
 *
 * Record contents are never logged (data holds what changed for a user).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acctd.h"

#define AUDIT_HEX_LEN (2 * CRYPTO_SHA256_LEN)
#define AUDIT_LINK_LEN (8 + AUDIT_HEX_LEN)
#define AUDIT_META_LAST "audit_last"
#define AUDIT_META_ANCHOR "audit_anchor"
#define AUDIT_META_KEYED "audit_keyed"
#define AUDIT_HEAD_PREFIX 16         /* hex digits of the head published */
#define AUDIT_KEY_MAX 511            /* LMDB's key limit, see store.c */
/* the tail of a stored record: ,"hash":"<64 hex>"} */
#define AUDIT_HASH_TAIL_LEN (sizeof(",\"hash\":\"") - 1 + AUDIT_HEX_LEN + 2)

/*
 * Record size. A record is at most AUDIT_RECORD_MAX bytes, so that LMDB
 * keeps it in a leaf page (data up to 2022 bytes with an 8-byte key at 4 KiB
 * pages) and the ring's size is capacity times a known worst case, which
 * conf.c checks against map_size_mb. Most records are a few hundred bytes;
 * one that would be longer has its free-text strings (the actor's display
 * name and avatar URL, every string in data) shortened to the first of
 * these caps that makes it fit. A shortened string keeps its start and says
 * what was cut: "https://example.com/a…[2048 bytes, sha256 0123456789abcdef]",
 * the digest matching the full value (which the user record still holds).
 */
static const size_t audit_caps[] = { 1024, 512, 256, 128, 64 };

_Static_assert(AUDIT_RECORD_MAX <= 2022,
    "an audit record must fit in an LMDB leaf page (see conf.c's budget)");

/* a point on the chain: a seq and a hash (audit_last, audit_anchor) */
struct audit_link {
	uint64_t seq;
	char hash[AUDIT_HEX_LEN + 1];
};

/* s is 64 lowercase hex digits */
static int
audit_hex_valid(const char *s)
{
	size_t i;

	for (i = 0; i < AUDIT_HEX_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[i] == '\0';
}

static void
audit_zero_hash(char out[AUDIT_HEX_LEN + 1])
{
	memset(out, '0', AUDIT_HEX_LEN);
	out[AUDIT_HEX_LEN] = '\0';
}

/*
 * out = hex(HMAC-SHA256(K, prev || "\n" || body[0..blen))), or plain
 * SHA-256 for the records of a schema-1 store (keyed 0); out may be prev
 */
static void
audit_chain_hash(const char *prev, const char *body, size_t blen, int keyed,
    char out[AUDIT_HEX_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t h[CRYPTO_SHA256_LEN];
	char *buf = x_malloc(AUDIT_HEX_LEN + 1 + blen);

	memcpy(buf, prev, AUDIT_HEX_LEN);
	buf[AUDIT_HEX_LEN] = '\n';
	memcpy(buf + AUDIT_HEX_LEN + 1, body, blen);
	if (keyed)
		crypto_hmac_sha256(app.keys.audit, CRYPTO_KEY_LEN, buf,
		    AUDIT_HEX_LEN + 1 + blen, h);
	else
		crypto_sha256(buf, AUDIT_HEX_LEN + 1 + blen, h);
	free(buf);
	for (size_t i = 0; i < CRYPTO_SHA256_LEN; i++) {
		out[2 * i] = hex[h[i] >> 4];
		out[2 * i + 1] = hex[h[i] & 0xf];
	}
	out[AUDIT_HEX_LEN] = '\0';
}

/* the marker's value: seq || HMAC(K, "audit_keyed" || seq) */
static void
audit_keyed_value(uint64_t seq, uint8_t v[8 + CRYPTO_SHA256_LEN])
{
	uint8_t msg[sizeof(AUDIT_META_KEYED) - 1 + 8];

	be_put(v, 8, seq);
	memcpy(msg, AUDIT_META_KEYED, sizeof(AUDIT_META_KEYED) - 1);
	memcpy(msg + sizeof(AUDIT_META_KEYED) - 1, v, 8);
	crypto_hmac_sha256(app.keys.audit, CRYPTO_KEY_LEN, msg, sizeof(msg), v + 8);
}

/*
 * The first keyed seq: 1 when the marker is absent (a store created keyed),
 * else the marker's. 1 returned (and *from set to the marker's seq) when the
 * marker does not verify; -1 on a store error.
 */
static int
audit_keyed_from(struct store_txn *t, uint64_t *from)
{
	uint8_t want[8 + CRYPTO_SHA256_LEN];
	void *v;
	size_t vl;
	int rc, bad;

	*from = 1;
	rc = store_get(t, STORE_DB_META, AUDIT_META_KEYED,
	    sizeof(AUDIT_META_KEYED) - 1, &v, &vl);
	if (rc == STORE_NOTFOUND)
		return 0;
	if (rc == -1)
		return -1;
	bad = vl != sizeof(want);
	if (!bad) {
		*from = be_get(v, 8);
		audit_keyed_value(*from, want);
		bad = !crypto_equal(v, want, sizeof(want));
	}
	free(v);
	return bad;
}

/* 0, STORE_NOTFOUND or -1 (also for a damaged value) */
static int
audit_link_get(struct store_txn *t, const char *name, struct audit_link *l)
{
	void *v;
	size_t vl;
	int rc;

	rc = store_get(t, STORE_DB_META, name, strlen(name), &v, &vl);
	if (rc != 0)
		return rc;
	if (vl != AUDIT_LINK_LEN) {
		log_warnx("audit: meta %s is damaged (%zu bytes)", name, vl);
		free(v);
		return -1;
	}
	l->seq = be_get(v, 8);
	memcpy(l->hash, (char *)v + 8, AUDIT_HEX_LEN);
	l->hash[AUDIT_HEX_LEN] = '\0';
	free(v);
	if (!audit_hex_valid(l->hash)) {
		log_warnx("audit: meta %s is damaged (not a hash)", name);
		return -1;
	}
	return 0;
}

static int
audit_link_put(struct store_txn *t, const char *name, const struct audit_link *l)
{
	uint8_t v[AUDIT_LINK_LEN];

	be_put(v, 8, l->seq);
	memcpy(v + 8, l->hash, AUDIT_HEX_LEN);
	return store_put(t, STORE_DB_META, name, strlen(name), v, sizeof(v));
}

/* bytes cJSON prints for the byte c of a string (escapes included) */
static size_t
audit_printed(unsigned char c)
{
	if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' ||
	    c == '\r' || c == '\t')
		return 2;
	return c < 0x20 ? 6 : 1;
}

/* s, or when it prints longer than cap, its start (at most cap printed
 * bytes, cut between UTF-8 characters) and a mark; caller frees */
static char *
audit_shorten_str(const char *s, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t h[CRYPTO_SHA256_LEN];
	char digest[17];
	size_t i, n = 0, cut = 0, len = strlen(s);

	for (i = 0; i < len; i++) {
		/* a UTF-8 character starts here: the cut may go before it */
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			cut = i;
		n += audit_printed((unsigned char)s[i]);
		if (n > cap)
			break;
	}
	if (i == len)
		return x_strdup(s);
	crypto_sha256(s, len, h);
	for (i = 0; i < 8; i++) {
		digest[2 * i] = hex[h[i] >> 4];
		digest[2 * i + 1] = hex[h[i] & 0xf];
	}
	digest[16] = '\0';
	return x_asprintf("%.*s\u2026[%zu bytes, sha256 %s]", (int)cut, s, len,
	    digest);
}

/* a deep copy of v with the strings of objects shortened to cap (0: not
 * at all); NULL when v cannot be copied (reason in err) */
static struct json *
audit_copy(const struct json *v, size_t cap, char *err, size_t errlen)
{
	struct json *out, *m = NULL, *c;
	const char *k;
	char *text;
	int rc;

	if (cap == 0 || !json_is_object(v)) {
		text = json_print(v);
		rc = json_parse(text, strlen(text), &out, err, errlen);
		free(text);
		return rc == 0 ? out : NULL;
	}
	out = json_object();
	while ((m = json_next(v, m, &k)) != NULL) {
		if (json_str(m) != NULL) {
			text = audit_shorten_str(json_str(m), cap);
			json_set_str(out, k, text);
			free(text);
			continue;
		}
		if ((c = audit_copy(m, cap, err, errlen)) == NULL) {
			json_free(out);
			return NULL;
		}
		json_set(out, k, c);
	}
	return out;
}

/* identity_id || NUL || seq into key[AUDIT_KEY_MAX]; -1 when too long */
static int
audit_idx_key(const char *id, uint64_t seq, uint8_t *key, size_t *klen)
{
	size_t n = strlen(id);

	if (n + 1 + 8 > AUDIT_KEY_MAX)
		return -1;
	memcpy(key, id, n + 1);
	be_put(key + n + 1, 8, seq);
	*klen = n + 1 + 8;
	return 0;
}

/* the oldest record: its seq and, when it parses, the record */
struct audit_oldest {
	uint64_t seq;
	int found;
	struct json *rec;
};

static int
audit_oldest_fn(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	struct audit_oldest *o = arg;
	char err[64];

	if (kl != 8) {
		log_warnx("audit: a record key of %zu bytes is damaged", kl);
		return -1;
	}
	o->seq = be_get(k, 8);
	o->found = 1;
	if (json_parse(v, vl, &o->rec, err, sizeof(err)) == -1)
		o->rec = NULL;
	return 1;
}

/*
 * Drop the oldest records until at most capacity remain, with their index
 * entries, and move the anchor past them. A damaged record is dropped all
 * the same (it would otherwise stop every change forever); its index entry
 * cannot be found, and the anchor gets a zero hash so verify reports the
 * broken link until that record ages out too.
 */
static int
audit_trim(struct store_txn *t, unsigned capacity, uint64_t *first)
{
	struct audit_link anchor = { 0, "" };
	uint8_t key[AUDIT_KEY_MAX];
	size_t n, klen;
	int dropped = 0, rc;

	if (store_count(t, STORE_DB_AUDIT, &n) == -1)
		return -1;
	for (; n > capacity; n--) {
		struct audit_oldest o = { 0, 0, NULL };
		const char *id, *hash;

		if (store_iter(t, STORE_DB_AUDIT, NULL, 0, 0, audit_oldest_fn, &o) == -1 ||
		    !o.found)
			return -1;
		id = json_str(json_get(o.rec, "identity_id"));
		hash = json_str(json_get(o.rec, "hash"));
		anchor.seq = o.seq + 1;
		if (hash != NULL && audit_hex_valid(hash)) {
			memcpy(anchor.hash, hash, AUDIT_HEX_LEN + 1);
		} else {
			log_warnx("audit: dropping damaged record %llu",
			    (unsigned long long)o.seq);
			audit_zero_hash(anchor.hash);
		}
		rc = 0;
		if (id != NULL && audit_idx_key(id, o.seq, key, &klen) == 0)
			rc = store_del(t, STORE_DB_AUDIT_IDX, key, klen);
		json_free(o.rec);
		if (rc == -1)
			return -1;
		be_put(key, 8, o.seq);
		if (store_del(t, STORE_DB_AUDIT, key, 8) == -1)
			return -1;
		dropped = 1;
	}
	*first = anchor.seq;
	return dropped ? audit_link_put(t, AUDIT_META_ANCHOR, &anchor) : 0;
}

/*
 * The ring's drop report: a line when it first drops in this process, then
 * at most one a minute while it keeps dropping, saying how many records
 * went; a warning when a whole ring's worth went between two lines (the
 * history was flushed). State is guarded by LMDB's writer lock: only a
 * write txn appends. A line may count drops of a txn that is then aborted.
 */
#define AUDIT_DROP_LOG_EVERY 60
static struct {
	int64_t at;               /* the last line, 0 = none yet */
	uint64_t first;           /* the first kept seq then */
} audit_drops;

static void
audit_drop_report(unsigned capacity, uint64_t first, int64_t now)
{
	uint64_t since;

	if (first <= audit_drops.first)
		audit_drops.at = 0;      /* another store (unit tests) */
	if (audit_drops.at != 0 && now - audit_drops.at < AUDIT_DROP_LOG_EVERY)
		return;
	if (audit_drops.at == 0) {
		log_notice("audit: the ring is at its capacity (%u records) and "
		    "drops its oldest: records before seq %llu are gone (%llu "
		    "dropped in all)", capacity, (unsigned long long)first,
		    (unsigned long long)(first - 1));
	} else {
		since = first - audit_drops.first;
		log_info("audit: dropped %llu oldest record(s) in the last %lld "
		    "s; records before seq %llu are gone (%llu dropped in all)",
		    (unsigned long long)since, (long long)(now - audit_drops.at),
		    (unsigned long long)first, (unsigned long long)(first - 1));
		if (since >= capacity)
			log_warnx("audit: the whole ring (%u records) was replaced "
			    "in %lld s: the history before seq %llu is gone",
			    capacity, (long long)(now - audit_drops.at),
			    (unsigned long long)first);
	}
	audit_drops.at = now;
	audit_drops.first = first;
}

/*
 * The record of e without "hash", its strings shortened to cap (0: as
 * given). NULL when data cannot be copied (reason in err).
 */
static struct json *
audit_record(const struct audit_event *e, const struct audit_link *last,
    const char *ts, size_t cap, char *err, size_t errlen)
{
	static const struct audit_actor nobody;
	const struct audit_actor *a = e->actor != NULL ? e->actor : &nobody;
	struct json *rec, *data;
	char *dn = NULL, *av = NULL;

	if (e->data == NULL)
		data = json_object();
	else if ((data = audit_copy(e->data, cap, err, errlen)) == NULL)
		return NULL;
	if (cap != 0 && a->display_name != NULL)
		dn = audit_shorten_str(a->display_name, cap);
	if (cap != 0 && a->avatar_url != NULL)
		av = audit_shorten_str(a->avatar_url, cap);
	rec = json_object();
	json_set_int(rec, "id", (int64_t)(last->seq + 1));
	json_set_str(rec, "created_at", ts);
	json_set_str(rec, "action_type", e->action);
	json_set_str(rec, "actor_id", a->id);
	json_set_str(rec, "actor_handle", a->handle);
	json_set_str(rec, "actor_display_name", cap ? dn : a->display_name);
	json_set_str(rec, "actor_avatar_url", cap ? av : a->avatar_url);
	json_set_str(rec, "actor_ip", a->ip);
	json_set_str(rec, "identity_id", e->identity_id);
	json_set_str(rec, "identity_handle", e->identity_handle);
	json_set_str(rec, "target_id", e->target_id);
	json_set_str(rec, "target_handle", e->target_handle);
	json_set(rec, "data", data);
	json_set_str(rec, "prev_hash", last->hash);
	free(dn);
	free(av);
	return rec;
}

/* the compact record of e, hash appended, at most AUDIT_RECORD_MAX bytes
 * (caller frees); last becomes the new head. NULL on failure (logged). */
static char *
audit_seal(const struct audit_event *e, struct audit_link *last, int64_t now)
{
	struct json *rec = NULL, *back = NULL;
	char *body = NULL, *text = NULL, ts[32], err[128];
	size_t i, len;

	time_rfc3339(now, ts, sizeof(ts));
	for (i = 0; i <= sizeof(audit_caps) / sizeof(audit_caps[0]); i++) {
		rec = audit_record(e, last, ts, i ? audit_caps[i - 1] : 0, err,
		    sizeof(err));
		if (rec == NULL) {
			log_warnx("audit: %s: data cannot be recorded: %s",
			    e->action, err);
			return NULL;
		}
		body = json_print(rec);
		/* the stored text: body minus '}' plus ,"hash":"…"} */
		len = strlen(body) - 1 + AUDIT_HASH_TAIL_LEN;
		if (len <= AUDIT_RECORD_MAX)
			break;
		json_free(rec);
		free(body);
		rec = NULL;
		body = NULL;
	}
	if (rec == NULL) {
		log_warnx("audit: %s: the record does not fit in %d bytes",
		    e->action, AUDIT_RECORD_MAX);
		return NULL;
	}
	last->seq++;
	audit_chain_hash(last->hash, body, strlen(body), 1, last->hash);
	json_set_str(rec, "hash", last->hash);
	text = json_print(rec);
	/* never store what audit_page and audit_verify could not read back
	 * (a string that is not UTF-8, data nested too deep) */
	if (json_parse(text, strlen(text), &back, err, sizeof(err)) == -1) {
		log_warnx("audit: %s: the record would not read back: %s",
		    e->action, err);
		free(text);
		text = NULL;
	}
	json_free(back);
	json_free(rec);
	free(body);
	return text;
}

int
audit_append(struct store_txn *t, unsigned capacity, const struct audit_event *e,
    int64_t now, uint64_t *seq_out)
{
	struct audit_link last;
	char *text = NULL;
	uint64_t first = 0;
	uint8_t key[AUDIT_KEY_MAX];
	size_t n, klen;
	int rc, ret = -1;

	if (seq_out != NULL)
		*seq_out = 0;
	if (e == NULL || e->action == NULL || capacity == 0) {
		log_warnx("audit: append needs an action and a capacity >= 1");
		return -1;
	}

	rc = audit_link_get(t, AUDIT_META_LAST, &last);
	if (rc == -1)
		return -1;
	if (rc == STORE_NOTFOUND) {
		if (store_count(t, STORE_DB_AUDIT, &n) == -1)
			return -1;
		if (n != 0) {
			log_warnx("audit: the ring holds %zu records but meta %s "
			    "is missing; the store is damaged", n, AUDIT_META_LAST);
			return -1;
		}
		last.seq = 0;
		audit_zero_hash(last.hash);
	}
	if ((text = audit_seal(e, &last, now)) == NULL)
		return -1;

	be_put(key, 8, last.seq);
	if (store_put(t, STORE_DB_AUDIT, key, 8, text, strlen(text)) == -1)
		goto fail;
	if (e->identity_id != NULL) {
		if (audit_idx_key(e->identity_id, last.seq, key, &klen) == -1) {
			log_warnx("audit: identity id of %zu bytes is too long",
			    strlen(e->identity_id));
			goto fail;
		}
		if (store_put(t, STORE_DB_AUDIT_IDX, key, klen, "", 0) == -1)
			goto fail;
	}
	if (audit_link_put(t, AUDIT_META_LAST, &last) == -1 ||
	    audit_trim(t, capacity, &first) == -1)
		goto fail;
	if (first != 0)
		audit_drop_report(capacity, first, now);
	if (seq_out != NULL)
		*seq_out = last.seq;
	store_txn_on_commit(t, forward_wake);   /* the SIEM forwarder */
	ret = 0;
 fail:
	free(text);
	return ret;
}

/* one page, newest first */
struct audit_pager {
	struct store_txn *t;
	struct json *items;
	unsigned limit, n;
	int more;
	uint64_t last;            /* seq of the last item taken (or examined, filtered) */
	const uint8_t *prefix;    /* identity_id || NUL; NULL: every record */
	size_t plen;
	const struct audit_filter *f;   /* NULL: every record */
	size_t seen;              /* records examined (filtered pages) */
};

/* 1 keep, 0 skip, -1 older than f->since: no later record can match */
static int
audit_filter_match(const struct audit_filter *f, const struct json *rec)
{
	const char *at = json_str(json_get(rec, "created_at"));
	const char *act = json_str(json_get(rec, "action_type"));
	const char *who = json_str(json_get(rec, "actor_handle"));
	size_t n;

	if (f->since[0] && at && strcmp(at, f->since) < 0)
		return -1;       /* records are in time order: done */
	if (f->until[0] && at && strcmp(at, f->until) > 0)
		return 0;
	if (f->action[0]) {
		/* "token." matches every token.* action; else exact */
		n = strlen(f->action);
		if (act == NULL || (f->action[n - 1] == '.' ?
		    strncmp(act, f->action, n) != 0 : strcmp(act, f->action) != 0))
			return 0;
	}
	if (f->actor[0] && (who == NULL || strcmp(who, f->actor) != 0))
		return 0;
	return 1;
}

static int
audit_filter_set(const struct audit_filter *f)
{
	return f && (f->action[0] || f->actor[0] || f->since[0] || f->until[0]);
}

/*
 * A record (walking STORE_DB_AUDIT) or an index entry whose record is
 * fetched (walking STORE_DB_AUDIT_IDX; reads in t are fine mid-walk).
 */
static int
audit_page_fn(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	struct audit_pager *p = arg;
	struct json *rec;
	void *copy = NULL;
	uint8_t key[8];
	char err[64];
	int rc;

	if (kl != p->plen + 8 || (p->plen && memcmp(k, p->prefix, p->plen))) {
		if (p->plen)
			return 1;        /* past this identity's keys */
		log_warnx("audit: a record key of %zu bytes is damaged", kl);
		return -1;
	}
	if (p->n == p->limit || (p->f && p->seen == AUDIT_FILTER_BUDGET)) {
		p->more = 1;
		return 1;
	}
	p->seen++;
	p->last = be_get((const uint8_t *)k + p->plen, 8);
	if (p->plen) {
		be_put(key, 8, p->last);
		rc = store_get(p->t, STORE_DB_AUDIT, key, 8, &copy, &vl);
		if (rc == STORE_NOTFOUND) {
			log_warnx("audit: index entry for missing record %llu",
			    (unsigned long long)p->last);
			return 0;
		}
		if (rc == -1)
			return -1;
		v = copy;
	}
	rc = json_parse(v, vl, &rec, err, sizeof(err));
	free(copy);
	if (rc == -1) {
		log_warnx("audit: record %llu is damaged (%s); run verify",
		    (unsigned long long)p->last, err);
		return -1;
	}
	if (p->f) {
		rc = audit_filter_match(p->f, rec);
		if (rc != 1) {
			json_free(rec);
			return rc == -1 ? 1 : 0;
		}
	}
	json_push(p->items, rec);
	p->n++;
	return 0;
}

int
audit_page(struct store_txn *t, const char *identity_id, uint64_t before,
    unsigned limit, struct json **items, uint64_t *next)
{
	return audit_page_filtered(t, identity_id, before, limit, NULL, items, next);
}

int
audit_page_filtered(struct store_txn *t, const char *identity_id, uint64_t before,
    unsigned limit, const struct audit_filter *f, struct json **items, uint64_t *next)
{
	struct audit_pager p;
	uint8_t start[AUDIT_KEY_MAX];
	size_t slen = 0;
	enum store_db db = STORE_DB_AUDIT;

	*items = NULL;
	*next = 0;
	if (limit == 0)
		return -1;
	memset(&p, 0, sizeof(p));
	p.t = t;
	p.limit = limit;
	p.f = audit_filter_set(f) ? f : NULL;
	if (identity_id != NULL) {
		db = STORE_DB_AUDIT_IDX;
		if (audit_idx_key(identity_id, before ? before - 1 : UINT64_MAX,
		    start, &slen) == -1)
			before = 1;      /* too long to have been indexed */
		p.prefix = start;
		p.plen = slen ? slen - 8 : 0;
	} else if (before != 0) {
		be_put(start, 8, before - 1);
		slen = 8;
	}
	p.items = json_array();
	/* before == 1: nothing is older than seq 1 */
	if (before != 1 &&
	    store_iter(t, db, start, slen, 1, audit_page_fn, &p) == -1) {
		json_free(p.items);
		return -1;
	}
	*items = p.items;
	*next = p.more ? p.last : 0;
	return 0;
}

/* audit_since's walk: at most `left` more records to hand over */
struct audit_follower {
	audit_since_fn fn;
	void *arg;
	size_t left;
};

static int
audit_follow_fn(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	struct audit_follower *f = arg;

	if (kl != 8) {
		log_warnx("audit: a record key of %zu bytes is damaged", kl);
		return -1;
	}
	if (f->left == 0)
		return 1;
	f->left--;
	return f->fn(f->arg, be_get(k, 8), v, vl) < 0 ? -1 : 0;
}

int
audit_since(struct store_txn *t, uint64_t after, size_t max, audit_since_fn fn,
    void *arg)
{
	struct audit_follower f = { fn, arg, max };
	uint8_t start[8];

	be_put(start, 8, after + 1);
	return store_iter(t, STORE_DB_AUDIT, start, sizeof(start), 0,
	    audit_follow_fn, &f) == -1 ? -1 : 0;
}

/* the forward walk: what the next record must be */
struct audit_verifier {
	uint64_t start;           /* the anchor's seq, or 1 */
	uint64_t keyed_from;      /* records from here are keyed (HMAC) */
	uint64_t expect;          /* the next seq */
	char prev[AUDIT_HEX_LEN + 1];
	int bad;
	uint64_t broken;          /* the first broken seq, when bad */
	char reason[160];
};

static int audit_broken(struct audit_verifier *w, uint64_t seq,
    const char *fmt, ...) ACCTD_PRINTF(3, 4);

/* record the first break; returns 1 to stop the walk */
static int
audit_broken(struct audit_verifier *w, uint64_t seq, const char *fmt, ...)
{
	va_list ap;

	w->bad = 1;
	w->broken = seq;
	va_start(ap, fmt);
	vsnprintf(w->reason, sizeof(w->reason), fmt, ap);
	va_end(ap);
	return 1;
}

/*
 * One record: in its place, parseable, id == key, its own hash right, and
 * linked to the one before. The hash is recomputed from the canonical print
 * (parse, print compact): "hash" is the last member of every record we
 * write, so stripping its tail gives the record without it; a record where
 * it is not last was not written by us and counts as modified.
 */
static int
audit_verify_fn(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	struct audit_verifier *w = arg;
	struct json *rec = NULL;
	const char *prev, *hash;
	char *canon = NULL, err[64], calc[AUDIT_HEX_LEN + 1];
	unsigned long long seq;
	int64_t id;
	size_t clen, body;
	int rc = 0;

	if (kl != 8)
		return audit_broken(w, w->expect, "a record key of %zu bytes "
		    "is not a sequence number", kl);
	seq = be_get(k, 8);
	if (seq < w->start)
		return audit_broken(w, seq, "record %llu is older than the "
		    "chain's start (%llu)", seq, (unsigned long long)w->start);
	if (seq > w->expect)
		return audit_broken(w, w->expect, "record %llu missing",
		    (unsigned long long)w->expect);
	if (json_parse(v, vl, &rec, err, sizeof(err)) == -1)
		return audit_broken(w, seq, "record %llu is not valid JSON", seq);

	if (json_int(json_get(rec, "id"), &id) == -1 || (uint64_t)id != seq) {
		rc = audit_broken(w, seq, "record %llu: id does not match its "
		    "position", seq);
		goto out;
	}
	prev = json_str(json_get(rec, "prev_hash"));
	hash = json_str(json_get(rec, "hash"));
	canon = json_print(rec);
	clen = strlen(canon);
	body = clen - AUDIT_HASH_TAIL_LEN;
	if (prev == NULL || !audit_hex_valid(prev) || hash == NULL ||
	    !audit_hex_valid(hash) || clen < AUDIT_HASH_TAIL_LEN ||
	    strncmp(canon + body, ",\"hash\":\"", 9) != 0 ||
	    strncmp(canon + body + 9, hash, AUDIT_HEX_LEN) != 0) {
		rc = audit_broken(w, seq, "record %llu was modified", seq);
		goto out;
	}
	canon[body] = '}';
	audit_chain_hash(prev, canon, body + 1, seq >= w->keyed_from, calc);
	if (strcmp(calc, hash) != 0) {
		rc = audit_broken(w, seq, "record %llu was modified", seq);
		goto out;
	}
	if (strcmp(prev, w->prev) != 0) {
		rc = audit_broken(w, seq, "record %llu: prev_hash does not "
		    "match the hash of %s", seq, seq == w->start ?
		    "the record before the chain's start" : "the record before it");
		goto out;
	}
	memcpy(w->prev, hash, AUDIT_HEX_LEN + 1);
	w->expect = seq + 1;
 out:
	free(canon);
	json_free(rec);
	return rc;
}

/* after the walk: the newest record must be the chain's head */
static int
audit_verify_head(struct store_txn *t, struct audit_verifier *w)
{
	struct audit_link head;
	int rc;

	rc = audit_link_get(t, AUDIT_META_LAST, &head);
	if (rc == -1)
		return -1;
	if (rc == STORE_NOTFOUND) {
		if (w->expect != w->start)
			audit_broken(w, w->expect - 1, "the chain's head (meta "
			    "%s) is missing", AUDIT_META_LAST);
		return 0;
	}
	if (head.seq >= w->expect)
		audit_broken(w, w->expect, "record %llu missing",
		    (unsigned long long)w->expect);
	else if (head.seq + 1 < w->expect)
		audit_broken(w, head.seq + 1, "record %llu is newer than the "
		    "chain's head", (unsigned long long)head.seq + 1);
	else if (strcmp(head.hash, w->prev) != 0)
		audit_broken(w, head.seq, "record %llu was modified",
		    (unsigned long long)head.seq);
	return 0;
}

int
audit_verify(struct store_txn *t, struct json **report)
{
	struct audit_verifier w;
	struct audit_link anchor;
	size_t n;
	int rc;

	*report = NULL;
	memset(&w, 0, sizeof(w));
	rc = audit_link_get(t, AUDIT_META_ANCHOR, &anchor);
	if (rc == -1)
		return -1;
	if (rc == 0) {
		w.start = anchor.seq;
		memcpy(w.prev, anchor.hash, sizeof(w.prev));
	} else {
		w.start = 1;
		audit_zero_hash(w.prev);
	}
	w.expect = w.start;
	rc = audit_keyed_from(t, &w.keyed_from);
	if (rc == -1 || store_count(t, STORE_DB_AUDIT, &n) == -1)
		return -1;
	if (rc == 1)
		audit_broken(&w, w.keyed_from, "the chain's key marker (meta %s) "
		    "does not verify: moved, or another key_file", AUDIT_META_KEYED);
	if (!w.bad &&
	    store_iter(t, STORE_DB_AUDIT, NULL, 0, 0, audit_verify_fn, &w) == -1)
		return -1;
	if (!w.bad && audit_verify_head(t, &w) == -1)
		return -1;

	/* what the ring no longer holds is reported, not hidden: records
	 * before first_seq were dropped (trimmed), oldest first */
	*report = json_object();
	json_set_bool(*report, "ok", !w.bad);
	json_set_int(*report, "records", (int64_t)n);
	json_set_int(*report, "first_seq", (int64_t)w.start);
	if (!w.bad) {
		json_set_int(*report, "last_seq", (int64_t)(w.expect - 1));
		json_set_str(*report, "head_hash", w.prev);
	}
	json_set_int(*report, "trimmed", (int64_t)(w.start - 1));
	if (rc == 0 && w.keyed_from > 1)     /* a verified marker only */
		json_set_int(*report, "keyed_from", (int64_t)w.keyed_from);
	if (w.bad) {
		json_set_int(*report, "first_broken", (int64_t)w.broken);
		json_set_str(*report, "reason", w.reason);
	}
	return 0;
}

/*
 * Schema 1 -> 2: the records so far keep their SHA-256 chain; the next one
 * is the first keyed. One txn: the marker and the new schema version.
 */
static int
audit_migrate(struct store *s)
{
	uint8_t v[8 + CRYPTO_SHA256_LEN];
	struct store_txn *t;
	struct audit_link head = { 0, "" };
	int rc;

	if (store_txn_begin(s, 1, &t) == -1)
		return -1;
	rc = audit_link_get(t, AUDIT_META_LAST, &head);
	if (rc == -1)
		goto fail;
	if (rc == 0) {
		audit_keyed_value(head.seq + 1, v);
		if (store_put(t, STORE_DB_META, AUDIT_META_KEYED,
		    sizeof(AUDIT_META_KEYED) - 1, v, sizeof(v)) == -1)
			goto fail;
	}
	if (store_schema_set(t, 2) == -1)
		goto fail;
	if (store_txn_commit(t) == -1)
		return -1;
	log_notice("audit: store schema 1 migrated to 2: records 1 to %llu keep "
	    "their SHA-256 chain, records from %llu on are keyed (HMAC-SHA256); "
	    "this happens once per store", (unsigned long long)head.seq,
	    (unsigned long long)head.seq + 1);
	return 0;
 fail:
	store_txn_abort(t);
	return -1;
}

int
audit_init(struct store *s)
{
	if (store_schema_version(s) < 2 && audit_migrate(s) == -1) {
		log_warnx("audit: cannot migrate the store to a keyed chain");
		return -1;
	}
	audit_head_log(s, "start");
	return 0;
}

int
audit_head_at(struct store_txn *t, uint64_t *seq, char hash[AUDIT_HEX_LEN + 1])
{
	struct audit_link head;
	int rc = audit_link_get(t, AUDIT_META_LAST, &head);

	*seq = 0;
	audit_zero_hash(hash);
	if (rc == 0) {
		*seq = head.seq;
		memcpy(hash, head.hash, AUDIT_HEX_LEN + 1);
	}
	return rc == -1 ? -1 : 0;
}

int
audit_head(struct store *s, uint64_t *seq, char hash[AUDIT_HEX_LEN + 1],
    uint64_t *first)
{
	struct store_txn *t;
	struct audit_link head, anchor;
	int rc, rc2;

	*seq = 0;
	*first = 1;
	audit_zero_hash(hash);
	if (s == NULL || store_txn_begin(s, 0, &t) == -1)
		return -1;
	rc = audit_link_get(t, AUDIT_META_LAST, &head);
	rc2 = audit_link_get(t, AUDIT_META_ANCHOR, &anchor);
	store_txn_abort(t);
	if (rc == -1 || rc2 == -1)
		return -1;
	if (rc == 0) {
		*seq = head.seq;
		memcpy(hash, head.hash, AUDIT_HEX_LEN + 1);
	}
	if (rc2 == 0)
		*first = anchor.seq;
	return 0;
}

void
audit_head_log(struct store *s, const char *when)
{
	char hash[AUDIT_HEX_LEN + 1];
	uint64_t seq, first;

	if (audit_head(s, &seq, hash, &first) == -1) {
		log_warnx("audit: head at %s: cannot be read; run verify", when);
		return;
	}
	log_notice("audit: head at %s: seq %llu hash %.*s (records %llu to "
	    "%llu)", when, (unsigned long long)seq, AUDIT_HEAD_PREFIX, hash,
	    (unsigned long long)first, (unsigned long long)seq);
}

void
audit_metrics(struct store *s, FILE *f)
{
	char hash[AUDIT_HEX_LEN + 1];
	uint64_t seq, first;

	if (audit_head(s, &seq, hash, &first) == -1)
		return;
	fprintf(f, "# HELP acctd_audit_head_seq Sequence number of the newest "
	    "audit record (the chain's head).\n"
	    "# TYPE acctd_audit_head_seq gauge\n"
	    "acctd_audit_head_seq %llu\n"
	    "# HELP acctd_audit_head_info The head's hash prefix: compare it "
	    "with earlier scrapes and log lines to detect a rewrite.\n"
	    "# TYPE acctd_audit_head_info gauge\n"
	    "acctd_audit_head_info{hash_prefix=\"%.*s\"} 1\n"
	    "# HELP acctd_audit_first_seq The oldest record the ring holds; "
	    "older ones were dropped.\n"
	    "# TYPE acctd_audit_first_seq gauge\n"
	    "acctd_audit_first_seq %llu\n",
	    (unsigned long long)seq, AUDIT_HEAD_PREFIX, hash,
	    (unsigned long long)first);
}

/*
 * Days to civil date (H. Hinnant's algorithm): no gmtime, so no 32-bit
 * time_t limit on ARMv7 and nothing thread-unsafe. Clamped to years
 * 0000..9999 so the answer is always 20 characters.
 */
void
time_rfc3339(int64_t t, char *buf, size_t len)
{
	int64_t days, secs, era, doe, yoe, doy, mp, y, m, d;

	if (t < -62167219200LL)
		t = -62167219200LL;      /* 0000-01-01T00:00:00Z */
	if (t > 253402300799LL)
		t = 253402300799LL;      /* 9999-12-31T23:59:59Z */
	days = t / 86400;
	secs = t % 86400;
	if (secs < 0) {
		secs += 86400;
		days--;
	}
	days += 719468;
	era = (days >= 0 ? days : days - 146096) / 146097;
	doe = days - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y = yoe + era * 400 + (m <= 2);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02dZ", (int)y, (int)m,
	    (int)d, (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
}

void
time_json_set(struct json *o, const char *k, int64_t t)
{
	char ts[32];

	if (t == 0) {
		json_set_str(o, k, NULL);
		return;
	}
	time_rfc3339(t, ts, sizeof(ts));
	json_set_str(o, k, ts);
}

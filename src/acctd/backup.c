/*
 * The portable backup: the whole store as JSON lines, written from one LMDB
 * read txn (MVCC: a consistent copy while writers go on), and the reader
 * that checks such a file line by line. docs/backup.md has the format.
 *
 *   line 1        header: format, acctd and schema version, time, the audit
 *                 head, key_id, the record count of each database
 *   lines 2..n-1  one record each: {"db":…,"k"|"kb":…,"v"|"vb":…}, the key
 *                 and value as they are stored ("k"/"v": a UTF-8 string
 *                 without NUL; "kb"/"vb": base64 of anything else)
 *   line n        trailer: the record count and the digest
 *
 * The digest is a chain over the lines (without their newline): d0 = 32
 * zero bytes, d_i = HMAC-SHA256(K, d_{i-1} || line_i), K = HKDF(appliance
 * key, "acctd backup v1"); the trailer holds hex(d_{n-1}). A cut, edited,
 * reordered or appended file, or one made with another key_file, fails it.
 * key_id (the first 8 bytes of HMAC(K, "key id") in hex) tells the last
 * case apart before any record is read.
 *
 * Sessions are left out: a restored store starts with nobody signed in (a
 * session ended since the backup must not come back). The file holds what
 * the store holds: sealed database passwords, HMAC'd token and session
 * keys; it is useless without key_file and must be kept like the store.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "acctd.h"

#define BACKUP_KEY_INFO "acctd backup v1"
#define BACKUP_FLUSH (64 * 1024)      /* bytes written to fn at a time */

static const char *
backup_db_name(enum store_db db)
{
	static const char *const names[STORE_DB_COUNT] = {
		[STORE_DB_META] = "meta", [STORE_DB_USER] = "user",
		[STORE_DB_HANDLE] = "handle", [STORE_DB_SESSION] = "session",
		[STORE_DB_TOKEN] = "token", [STORE_DB_PASSWORD] = "password",
		[STORE_DB_AUDIT] = "audit", [STORE_DB_OUTBOX] = "outbox",
		[STORE_DB_LOGIN] = "login", [STORE_DB_AUDIT_IDX] = "audit_idx",
		[STORE_DB_TOTP] = "totp",
	};

	return names[db];
}

/* the databases a backup holds: every one but the sessions */
static int
backup_db_kept(enum store_db db)
{
	return db != STORE_DB_SESSION;
}

/* -1 for a name that is no kept database */
static int
backup_db_of(const char *name)
{
	for (int db = 0; name != NULL && db < STORE_DB_COUNT; db++)
		if (backup_db_kept(db) && strcmp(name, backup_db_name(db)) == 0)
			return db;
	return -1;
}

int
backup_key(const uint8_t appkey[CRYPTO_KEY_LEN], uint8_t key[CRYPTO_KEY_LEN],
    char key_id[17])
{
	uint8_t h[CRYPTO_SHA256_LEN];

	if (crypto_hkdf_sha256(appkey, CRYPTO_KEY_LEN, BACKUP_KEY_INFO, key,
	    CRYPTO_KEY_LEN) == -1)
		return -1;
	crypto_hmac_sha256(key, CRYPTO_KEY_LEN, "key id", 6, h);
	secret_hex(h, 8, key_id);
	return 0;
}

/* d = HMAC(K, d || line) */
static void
backup_chain(const uint8_t key[CRYPTO_KEY_LEN], uint8_t d[CRYPTO_SHA256_LEN],
    const char *line, size_t len)
{
	uint8_t *buf = x_malloc(CRYPTO_SHA256_LEN + len);

	memcpy(buf, d, CRYPTO_SHA256_LEN);
	memcpy(buf + CRYPTO_SHA256_LEN, line, len);
	crypto_hmac_sha256(key, CRYPTO_KEY_LEN, buf, CRYPTO_SHA256_LEN + len, d);
	free(buf);
}

/* --- writing -------------------------------------------------------------- */

struct backup_out {
	uint8_t key[CRYPTO_KEY_LEN];
	uint8_t digest[CRYPTO_SHA256_LEN];
	backup_write_fn fn;
	void *arg;
	char *buf;                /* BACKUP_FLUSH + one line */
	size_t used, cap;
	uint64_t records;
	enum store_db db;         /* the one being walked */
	int failed;               /* fn failed: stop */
};

static int
backup_flush(struct backup_out *o)
{
	if (o->used > 0 && !o->failed && o->fn(o->arg, o->buf, o->used) == -1)
		o->failed = 1;
	o->used = 0;
	return o->failed ? -1 : 0;
}

/* line (no newline) into the digest and the stream */
static int
backup_line(struct backup_out *o, const char *line)
{
	size_t len = strlen(line);

	backup_chain(o->key, o->digest, line, len);
	if (o->used + len + 1 > o->cap) {
		o->cap = o->used + len + 1 + BACKUP_FLUSH;
		o->buf = x_realloc(o->buf, o->cap);
	}
	memcpy(o->buf + o->used, line, len);
	o->buf[o->used + len] = '\n';
	o->used += len + 1;
	return o->used >= BACKUP_FLUSH ? backup_flush(o) : 0;
}

/* bytes as a JSON string when they are UTF-8 without NUL, else base64 */
static void
backup_set_bytes(struct json *j, const char *str_name, const char *b64_name,
    const void *p, size_t n)
{
	char *s;

	if (memchr(p, '\0', n) == NULL && json_utf8_valid(p, n)) {
		s = x_malloc(n + 1);
		memcpy(s, p, n);
		s[n] = '\0';
		json_set_str(j, str_name, s);
	} else {
		s = x_malloc(4 * (n / 3 + 1) + 1);
		secret_b64(p, n, s);
		json_set_str(j, b64_name, s);
	}
	crypto_wipe(s, strlen(s));
	free(s);
}

static int
backup_record_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	struct backup_out *o = arg;
	struct json *j = json_object();
	char *line;
	int rc;

	json_set_str(j, "db", backup_db_name(o->db));
	backup_set_bytes(j, "k", "kb", k, kl);
	backup_set_bytes(j, "v", "vb", v, vl);
	line = json_print(j);
	json_free(j);
	rc = backup_line(o, line);
	crypto_wipe(line, strlen(line));
	free(line);
	o->records++;
	return rc;
}

static int
backup_header(struct backup_out *o, struct store_txn *t, const char *key_id,
    int64_t now)
{
	struct json *h = json_object(), *head = json_object(), *counts = json_object();
	char hash[65], ts[32], *line;
	uint64_t seq;
	size_t n;
	int rc;

	if (audit_head_at(t, &seq, hash) == -1)
		goto fail;
	for (int db = 0; db < STORE_DB_COUNT; db++) {
		if (!backup_db_kept(db))
			continue;
		if (store_count(t, db, &n) == -1)
			goto fail;
		json_set_int(counts, backup_db_name(db), (int64_t)n);
	}
	json_set_str(h, "format", BACKUP_FORMAT);
	json_set_int(h, "format_version", BACKUP_FORMAT_VERSION);
	json_set_str(h, "acctd_version", ACCTD_VERSION);
	json_set_int(h, "schema_version", (int64_t)store_txn_schema(t));
	time_rfc3339(now, ts, sizeof(ts));
	json_set_str(h, "created_at", ts);
	json_set_int(head, "seq", (int64_t)seq);
	json_set_str(head, "hash", hash);
	json_set(h, "audit_head", head);
	json_set_str(h, "key_id", key_id);
	json_set(h, "counts", counts);
	json_set_str(h, "sessions", "omitted");
	line = json_print(h);
	json_free(h);
	rc = backup_line(o, line);
	free(line);
	return rc;
 fail:
	json_free(h);
	json_free(head);
	json_free(counts);
	return -1;
}

int
backup_write(struct store_txn *t, const uint8_t appkey[CRYPTO_KEY_LEN], int64_t now,
    backup_write_fn fn, void *arg, uint64_t *records)
{
	struct backup_out o = { .fn = fn, .arg = arg };
	struct json *tr;
	char key_id[17], hex[65], *line;
	int rc = -1;

	*records = 0;
	if (backup_key(appkey, o.key, key_id) == -1 ||
	    backup_header(&o, t, key_id, now) == -1)
		goto done;
	for (o.db = 0; o.db < STORE_DB_COUNT; o.db++)
		if (backup_db_kept(o.db) &&
		    store_iter(t, o.db, NULL, 0, 0, backup_record_cb, &o) != 0)
			goto done;
	tr = json_object();
	json_set_bool(tr, "end", 1);
	json_set_int(tr, "records", (int64_t)o.records);
	secret_hex(o.digest, sizeof(o.digest), hex);
	json_set_str(tr, "digest", hex);
	line = json_print(tr);
	json_free(tr);
	rc = backup_line(&o, line) == 0 && backup_flush(&o) == 0 ? 0 : -1;
	free(line);
	*records = o.records;
 done:
	if (o.buf != NULL)
		crypto_wipe(o.buf, o.cap);
	free(o.buf);
	crypto_wipe(o.key, sizeof(o.key));
	return rc;
}

/* --- reading -------------------------------------------------------------- */

int
backup_in_init(struct backup_in *in, const uint8_t appkey[CRYPTO_KEY_LEN])
{
	memset(in, 0, sizeof(*in));
	return backup_key(appkey, in->key, in->key_id);
}

void
backup_in_wipe(struct backup_in *in)
{
	crypto_wipe(in, sizeof(*in));
}

void
backup_rec_free(struct backup_rec *r)
{
	if (r->v != NULL)
		crypto_wipe(r->v, r->vl);
	free(r->k);
	free(r->v);
	memset(r, 0, sizeof(*r));
}

static int
backup_err(struct backup_in *in, char *err, size_t errlen, const char *fmt, ...)
    ACCTD_PRINTF(4, 5);

static int
backup_err(struct backup_in *in, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(err, errlen, "line %d: ", in->line);

	va_start(ap, fmt);
	if (n > 0 && (size_t)n < errlen)
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static int
backup_in_header(struct backup_in *in, const struct json *j, char *err, size_t errlen)
{
	struct backup_header *h = &in->h;
	const struct json *counts = json_get(j, "counts"), *head = json_get(j, "audit_head");
	const char *s;
	int64_t v;

	if ((s = json_str(json_get(j, "format"))) == NULL || strcmp(s, BACKUP_FORMAT) != 0)
		return backup_err(in, err, errlen, "not an acctd backup (format is not \"%s\")",
		    BACKUP_FORMAT);
	if (json_int(json_get(j, "format_version"), &v) == -1 || v != BACKUP_FORMAT_VERSION)
		return backup_err(in, err, errlen, "format_version: this acctd reads version %d",
		    BACKUP_FORMAT_VERSION);
	if (json_int(json_get(j, "schema_version"), &v) == -1 || v < STORE_SCHEMA_OLDEST ||
	    v > STORE_SCHEMA_VERSION)
		return backup_err(in, err, errlen, "schema_version: this acctd restores "
		    "schema %d to %d", STORE_SCHEMA_OLDEST, STORE_SCHEMA_VERSION);
	h->schema = (uint32_t)v;
	if ((s = json_str(json_get(j, "key_id"))) == NULL || strcmp(s, in->key_id) != 0)
		return backup_err(in, err, errlen, "key_id: made with another key_file "
		    "(a backup is only usable with the key_file of the appliance that made it)");
	snprintf(h->acctd_version, sizeof(h->acctd_version), "%s",
	    (s = json_str(json_get(j, "acctd_version"))) ? s : "?");
	snprintf(h->created_at, sizeof(h->created_at), "%s",
	    (s = json_str(json_get(j, "created_at"))) ? s : "?");
	if (json_int(json_get(head, "seq"), &v) == -1 || v < 0 ||
	    (s = json_str(json_get(head, "hash"))) == NULL || strlen(s) != 64)
		return backup_err(in, err, errlen, "audit_head: must be {seq, hash}");
	h->head_seq = (uint64_t)v;
	memcpy(h->head_hash, s, 65);
	for (int db = 0; db < STORE_DB_COUNT; db++)
		if (backup_db_kept(db) &&
		    (json_int(json_get(counts, backup_db_name(db)), &v) == -1 || v < 0))
			return backup_err(in, err, errlen, "counts.%s: must be a count",
			    backup_db_name(db));
		else if (backup_db_kept(db))
			h->counts[db] = (uint64_t)v;
	return BACKUP_LINE_HEADER;
}

/* j's bytes under str_name ("k") or b64_name ("kb"), exactly one of them */
static int
backup_get_bytes(const struct json *j, const char *str_name, const char *b64_name,
    uint8_t **out, size_t *outlen)
{
	const char *s = json_str(json_get(j, str_name));
	const char *b = json_str(json_get(j, b64_name));
	size_t cap;

	if ((s == NULL) == (b == NULL))
		return -1;
	if (s != NULL) {
		*outlen = strlen(s);
		*out = x_malloc(*outlen + 1);
		memcpy(*out, s, *outlen + 1);
		return 0;
	}
	cap = strlen(b) / 4 * 3 + 3;
	*out = x_malloc(cap);
	if (secret_unb64(b, *out, cap, outlen) == -1) {
		free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

static int
backup_in_record(struct backup_in *in, const struct json *j, struct backup_rec *r,
    char *err, size_t errlen)
{
	const char *name = json_str(json_get(j, "db"));
	int db = backup_db_of(name);

	if (db < 0)
		return backup_err(in, err, errlen, "db: no database \"%s\" in a backup",
		    name ? name : "");
	r->db = db;
	if (backup_get_bytes(j, "k", "kb", &r->k, &r->kl) == -1 || r->kl == 0 ||
	    r->kl > 511) {
		backup_rec_free(r);
		return backup_err(in, err, errlen, "k: a key of 1 to 511 bytes is required "
		    "(\"k\" or base64 \"kb\")");
	}
	if (backup_get_bytes(j, "v", "vb", &r->v, &r->vl) == -1) {
		backup_rec_free(r);
		return backup_err(in, err, errlen, "v: a value is required (\"v\" or "
		    "base64 \"vb\")");
	}
	if (in->counts[db] == in->h.counts[db]) {
		backup_rec_free(r);
		return backup_err(in, err, errlen, "more %s records than the header "
		    "counts (%llu)", name, (unsigned long long)in->h.counts[db]);
	}
	in->counts[db]++;
	in->records++;
	return BACKUP_LINE_RECORD;
}

static int
backup_in_trailer(struct backup_in *in, const struct json *j, char *err, size_t errlen)
{
	const char *hex = json_str(json_get(j, "digest"));
	char want[65];
	int64_t n;

	if (json_int(json_get(j, "records"), &n) == -1 || (uint64_t)n != in->records)
		return backup_err(in, err, errlen, "the trailer's record count is not the "
		    "%llu records read", (unsigned long long)in->records);
	secret_hex(in->digest, sizeof(in->digest), want);
	if (hex == NULL || strlen(hex) != 64 || !crypto_equal(hex, want, 64))
		return backup_err(in, err, errlen, "digest: does not match the file "
		    "(it was changed after it was written)");
	for (int db = 0; db < STORE_DB_COUNT; db++)
		if (in->counts[db] != in->h.counts[db])
			return backup_err(in, err, errlen, "the header counts %llu %s "
			    "records, the file holds %llu",
			    (unsigned long long)in->h.counts[db], backup_db_name(db),
			    (unsigned long long)in->counts[db]);
	in->ended = 1;
	return BACKUP_LINE_END;
}

int
backup_in_line(struct backup_in *in, const char *line, size_t len,
    struct backup_rec *r, char *err, size_t errlen)
{
	struct json *j;
	char jerr[96];
	uint8_t before[CRYPTO_SHA256_LEN];
	int rc;

	memset(r, 0, sizeof(*r));
	in->line++;
	if (in->ended)
		return backup_err(in, err, errlen, "a line after the trailer");
	if (json_parse(line, len, &j, jerr, sizeof(jerr)) == -1)
		return backup_err(in, err, errlen, "not a JSON object (%s)", jerr);
	if (!json_is_object(j)) {
		json_free(j);
		return backup_err(in, err, errlen, "not a JSON object (another JSON value)");
	}
	memcpy(before, in->digest, sizeof(before));
	backup_chain(in->key, in->digest, line, len);
	if (in->line == 1)
		rc = backup_in_header(in, j, err, errlen);
	else if (json_get(j, "end") != NULL) {
		memcpy(in->digest, before, sizeof(before));
		rc = backup_in_trailer(in, j, err, errlen);
	} else
		rc = backup_in_record(in, j, r, err, errlen);
	json_free(j);
	return rc;
}

int
backup_in_end(struct backup_in *in, char *err, size_t errlen)
{
	if (in->ended)
		return 0;
	in->line++;
	return backup_err(in, err, errlen, "the file ends without its trailer "
	    "(it is truncated)");
}

/* --- acctd backup, GET /api/v0/admin/backup -------------------------------- */

/* the "store.backup" record, committed before the copy's read txn begins
 * (so the copy holds it); ax->by says who. 0 / -1 (ax->t ended) */
static int
backup_audit(struct account_txn *ax, const char *via, const char *format)
{
	struct json *data = json_object();
	int rc;

	json_set_str(data, "via", via);
	json_set_str(data, "format", format);
	rc = account_store_event(ax, "store.backup", data);
	json_free(data);
	if (rc != ACCOUNT_OK) {
		store_txn_abort(ax->t);
		return -1;
	}
	return 0;
}

static int
backup_http_write(void *arg, const void *buf, size_t len)
{
	return http_stream_write(arg, buf, len);
}

void
api_admin_backup(struct http_req *r)
{
	struct account_txn ax;
	struct store_txn *t;
	char ts[32], hdr[160];
	uint64_t n;
	int64_t now = app_now();

	if (api_account_begin(r, &ax, NULL) == -1)
		return;
	if (backup_audit(&ax, "api", "jsonl") == -1) {
		api_write_failed(r, "cannot write the audit record; no backup was made");
		return;
	}
	if (api_account_commit(r, &ax) == -1)
		return;
	if (store_txn_begin(app.store, 0, &t) == -1) {
		http_problem(r, 500, "cannot open the store", NULL);
		return;
	}
	time_rfc3339(now, ts, sizeof(ts));
	/* 2026-11-30T17:00:00Z -> 20261130T170000Z */
	snprintf(hdr, sizeof(hdr), "Cache-Control: no-store\r\nContent-Disposition: "
	    "attachment; filename=\"acctd-backup-%.4s%.2s%.2sT%.2s%.2s%.2sZ.jsonl\"\r\n",
	    ts, ts + 5, ts + 8, ts + 11, ts + 14, ts + 17);
	/* an unfinished stream ends without its last chunk and without the
	 * backup's trailer: both the client and acctd restore see it */
	if (http_stream_begin(r, "application/x-ndjson", hdr) == -1 ||
	    backup_write(t, app.key, now, backup_http_write, r, &n) == -1 ||
	    http_stream_write(r, NULL, 0) == -1)
		log_warnx("backup: the download to %s stopped before its end", r->remote_ip);
	else
		log_info("backup: %llu records sent to %s", (unsigned long long)n, r->remote_ip);
	store_txn_abort(t);
}

static int
backup_fd_write(void *arg, const void *buf, size_t len)
{
	const int *fd = arg;
	const char *p = buf;

	while (len > 0) {
		ssize_t w = write(*fd, p, len);

		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int
backup_open(const char *prog, const char *conf_path, int store)
{
	struct conf *c;
	char err[512];

	if (conf_load(conf_path, stderr, &c) == -1)
		return -1;
	atomic_store(&app.conf, c);
	/* a restore says itself what went wrong, in one line */
	log_init(prog, 1, store ? LOG_LEVEL_WARN : LOG_LEVEL_ERROR);
	if (crypto_init() == -1) {
		fprintf(stderr, "%s: no entropy source\n", prog);
		return -1;
	}
	if (geteuid() == 0 && c->user[0] != '\0') {
		struct passwd *pw = priv_getpw(c->user);

		if (pw == NULL) {
			fprintf(stderr, "%s: user \"%s\" does not exist (config: user)\n",
			    prog, c->user);
			return -1;
		}
		priv_drop(pw);        /* the store's files stay acctd's */
	}
	/* a restore never makes a key: the backup needs the one that made it */
	if (!store && access(c->key_file, F_OK) == -1) {
		fprintf(stderr, "%s: key_file: %s: %s; put the key_file of the appliance "
		    "that made the backup there\n", prog, c->key_file, strerror(errno));
		return -1;
	}
	if (file_key_load(c->key_file, app.key, err, sizeof(err)) == -1 ||
	    app_keys_derive() == -1) {
		fprintf(stderr, "%s: key_file: %s\n", prog, err);
		return -1;
	}
	if (store && store_open(c->data_dir, (unsigned)c->map_size_mb, &app.store, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return -1;
	}
	return 0;
}

/* OUT: created 0600 (never an existing file), or "-" for stdout */
static int
backup_create(const char *out)
{
	int fd;

	if (strcmp(out, "-") == 0)
		return STDOUT_FILENO;
	fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1)
		fprintf(stderr, "acctd backup: %s: %s%s\n", out, strerror(errno),
		    errno == EEXIST ? " (a backup is never overwritten)" : "");
	return fd;
}

/* the copy of app.store to fd: portable, or LMDB's own (lmdb) */
static int
backup_copy(int fd, int lmdb, uint64_t *n)
{
	struct store_txn *t;
	int rc;

	if (lmdb)
		return store_copy_compact(app.store, fd);
	if (store_txn_begin(app.store, 0, &t) == -1)
		return -1;
	rc = backup_write(t, app.key, app_now(), backup_fd_write, &fd, n);
	store_txn_abort(t);
	return rc;
}

static int
backup_run(const char *out, int fd, int lmdb)
{
	struct account_txn ax;
	struct timespec t0, t1;
	uint64_t n = 0;
	int rc;

	memset(&ax, 0, sizeof(ax));
	account_actor(&ax, NULL, "");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (store_txn_begin(app.store, 1, &ax.t) == -1 ||
	    backup_audit(&ax, "cli", lmdb ? "lmdb" : "jsonl") == -1 ||
	    store_txn_commit(ax.t) == -1) {
		fprintf(stderr, "acctd backup: cannot write the audit record%s\n",
		    store_full() ? ": the store is full; raise map_size_mb" : "");
		return -1;
	}
	errno = 0;
	rc = backup_copy(fd, lmdb, &n);
	if (rc == 0 && fd != STDOUT_FILENO && fsync(fd) == -1)
		rc = -1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (rc == -1) {
		fprintf(stderr, "acctd backup: %s: %s\n", out, errno ? strerror(errno) :
		    "cannot read the store");
		return -1;
	}
	if (lmdb)
		fprintf(stderr, "acctd backup: LMDB copy (this word size only) written to %s",
		    out);
	else
		fprintf(stderr, "acctd backup: %llu records written to %s", (unsigned long long)n,
		    out);
	fprintf(stderr, " in %.1f s\n",
	    (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	return 0;
}

int
backup_args(int argc, char *argv[], const char **conf_path, const char **file, int *lmdb)
{
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	*conf_path = NULL;
	while ((ch = getopt_long(argc, argv, "c:", longopts, NULL)) != -1) {
		if (ch == 'c')
			*conf_path = optarg;
		else if (ch == 'F' && lmdb != NULL && strcmp(optarg, "jsonl") == 0)
			*lmdb = 0;
		else if (ch == 'F' && lmdb != NULL && strcmp(optarg, "lmdb") == 0)
			*lmdb = 1;
		else
			return -1;
	}
	if (*conf_path == NULL || optind != argc - 1)
		return -1;
	*file = argv[optind];
	return 0;
}

/* a failed backup leaves nothing that looks like one: removed, or (when
 * acctd's user may not remove it) emptied */
static void
backup_discard(const char *out, int fd)
{
	if (unlink(out) == -1 && ftruncate(fd, 0) == -1)
		fprintf(stderr, "acctd backup: %s: %s; remove it\n", out, strerror(errno));
}

/*
 * OUT is created before the config is read and privileges are dropped
 * (backup_open): as root, a backup goes where root may write, not only
 * where acctd's user may.
 */
int
backup_main(int argc, char *argv[])
{
	const char *conf_path, *out;
	int fd, rc = 1, lmdb = 0;

	if (backup_args(argc, argv, &conf_path, &out, &lmdb) == -1) {
		fprintf(stderr, "usage: acctd backup -c FILE [--format jsonl|lmdb] OUT\n");
		return 2;
	}
	if ((fd = backup_create(out)) == -1)
		return 1;
	if (backup_open("acctd backup", conf_path, 1) == 0)
		rc = backup_run(out, fd, lmdb) == 0 ? 0 : 1;
	if (rc != 0 && fd != STDOUT_FILENO)
		backup_discard(out, fd);
	if (fd != STDOUT_FILENO && close(fd) == -1 && rc == 0) {
		fprintf(stderr, "acctd backup: %s: %s\n", out, strerror(errno));
		unlink(out);
		rc = 1;
	}
	store_close(app.store);
	app_keys_wipe();
	crypto_shutdown();
	app_free_confs();
	return rc;
}

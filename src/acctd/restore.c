/*
 * acctd restore -c FILE IN — replace the store in data_dir with a backup
 * (backup.c's format, docs/backup.md).
 *
 * Decisions:
 * - Never while the store is open: data_dir is taken with an exclusive
 *   flock (store_lock_exclusive), which every store_open shares, so acctd,
 *   acctd import and acctd backup neither run now nor start until the
 *   restore has finished.
 * - Nothing in data_dir changes until the whole file has been read and
 *   checked: the new store is built in data_dir/restore.tmp (header,
 *   key_id, every line, record counts, the digest in the trailer), then its
 *   audit chain is verified there (audit_verify, with the key) and its head
 *   compared with the header's. Only then is the old store moved aside to
 *   data_dir/replaced-YYYYmmddTHHMMSSZ/ and the new one moved in.
 * - Every node converges on the restored state, and push versions never go
 *   backwards: the nodes may hold states newer than the copy (changes made
 *   after the backup). From the replaced store, when it can be read, the new
 *   one takes what each node last confirmed (outbox a/<node>/<user>) and
 *   the version counter (meta push_seq) when it is higher; then every user
 *   is recomputed for every node (the outbox's full resync, as for a store
 *   without a recorded membership) with versions past anything sent, and a
 *   user the copy does not know but a node holds is sent "absent". Without
 *   a readable old store (another machine, a lost disk), the agents' 409
 *   with the version they hold moves the counter past it (docs/agent.md);
 *   a role made after the backup for a user the copy lacks then stays on
 *   its node until an admin removes it.
 * - The restore is audited in the new store ("store.restore"), after the
 *   chain was verified, so the chain goes on from the copy's head.
 * - Sessions are not in a backup: everyone signs in again.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "acctd.h"

#define RESTORE_BATCH 10000        /* records to a write txn */
#define RESTORE_TMP "restore.tmp"
enum { RESTORE_OLD_NONE = 0, RESTORE_OLD_READ, RESTORE_OLD_UNREADABLE };

struct restore {
	const char *in_path;
	const char *dir;           /* data_dir */
	char *tmp;                 /* data_dir/restore.tmp */
	char replaced[64];         /* "replaced-YYYYmmddTHHMMSSZ" */
	struct backup_in in;
	struct store_txn *t;       /* the batch being written */
	size_t batch;
	int audit_line;            /* the line of the first audit record */
	uint64_t audit_seq;        /* and its seq */
	uint64_t old_push_seq;     /* the replaced store's counter */
	size_t carried;            /* node confirmations taken from it */
	size_t orphans;            /* users only the nodes know */
	int old;                   /* the store replaced: RESTORE_OLD_* */
	int lmdb;                  /* IN is LMDB's copy (backup --format lmdb) */
	size_t users;              /* in the new store */
	uint64_t head;             /* its audit head */
};

static int
restore_fail(const struct restore *r, const char *what)
{
	fprintf(stderr, "acctd restore: %s: %s; nothing was changed\n", r->in_path, what);
	return -1;
}

/* a record into the new store, RESTORE_BATCH to a txn */
static int
restore_put(struct restore *r, const struct backup_rec *rec)
{
	struct store_txn *t;

	if (r->t == NULL && store_txn_begin(app.store, 1, &r->t) == -1)
		return -1;
	if (store_put(r->t, rec->db, rec->k, rec->kl, rec->v, rec->vl) == -1)
		return -1;
	if (rec->db == STORE_DB_AUDIT && r->audit_line == 0 && rec->kl == 8) {
		r->audit_line = r->in.line;
		r->audit_seq = be_get(rec->k, 8);
	}
	if (++r->batch < RESTORE_BATCH)
		return 0;
	r->batch = 0;
	t = r->t;
	r->t = NULL;
	return store_txn_commit(t);
}

/* one line (newline stripped); 0 / -1 after the message */
static int
restore_line(struct restore *r, char *line, ssize_t len)
{
	struct backup_rec rec;
	char err[256];
	int rc;

	if (line[len - 1] != '\n') {
		r->in.line++;
		snprintf(err, sizeof(err), "line %d: the last line is cut off (the file "
		    "is truncated)", r->in.line);
		return restore_fail(r, err);
	}
	line[--len] = '\0';
	rc = backup_in_line(&r->in, line, (size_t)len, &rec, err, sizeof(err));
	if (rc == -1)
		return restore_fail(r, err);
	if (rc != BACKUP_LINE_RECORD)
		return 0;
	rc = restore_put(r, &rec);
	backup_rec_free(&rec);
	if (rc == -1)
		return restore_fail(r, store_full() ? "the store is full; raise map_size_mb" :
		    "cannot write the new store");
	return 0;
}

/* every line of IN into the new store: 0 / -1 after the message */
static int
restore_read(struct restore *r, FILE *f)
{
	char *line = NULL, err[256];
	size_t cap = 0;
	ssize_t len;
	int rc = 0;

	while (rc == 0 && (len = getline(&line, &cap, f)) > 0)
		rc = restore_line(r, line, len);
	if (line != NULL)
		crypto_wipe(line, cap);
	free(line);
	if (rc == 0 && ferror(f))
		rc = restore_fail(r, strerror(errno));
	if (rc == 0 && backup_in_end(&r->in, err, sizeof(err)) == -1)
		rc = restore_fail(r, err);
	if (rc == 0 && r->t != NULL && store_txn_commit(r->t) == -1)
		rc = restore_fail(r, "cannot write the new store");
	else if (rc == -1)
		store_txn_abort(r->t);
	r->t = NULL;
	return rc;
}

/* "line N: audit chain: reason" for the JSON lines, where audit records are
 * one line each in seq order; an LMDB copy has no lines */
static void
restore_chain_error(const struct restore *r, const struct json *rep, char *err, size_t len)
{
	const char *why = json_str(json_get(rep, "reason"));
	int64_t broken = 0;

	json_int(json_get(rep, "first_broken"), &broken);
	if (r->lmdb)
		snprintf(err, len, "audit chain: %s (a damaged copy, or another key_file)",
		    why ? why : "broken");
	else
		snprintf(err, len, "line %lld: audit chain: %s",
		    r->audit_line > 0 && (uint64_t)broken >= r->audit_seq ?
		    (long long)(r->audit_line + ((uint64_t)broken - r->audit_seq)) : 1LL,
		    why ? why : "broken");
}

/* the copy's chain, verified with the key, ends at the header's head */
static int
restore_verify(struct restore *r)
{
	struct store_txn *t;
	struct json *rep = NULL;
	char err[300], hash[65];
	int ok = 0, rc = -1;

	if (store_txn_begin(app.store, 0, &t) == -1 || audit_verify(t, &rep) == -1 ||
	    audit_head_at(t, &r->head, hash) == -1 || store_count(t, STORE_DB_USER, &r->users)) {
		store_txn_abort(t);
		json_free(rep);
		return restore_fail(r, "cannot read the audit log of the new store");
	}
	store_txn_abort(t);
	json_bool(json_get(rep, "ok"), &ok);
	if (!ok) {
		restore_chain_error(r, rep, err, sizeof(err));
		restore_fail(r, err);
	} else if (!r->lmdb && (r->head != r->in.h.head_seq ||
	    strcmp(hash, r->in.h.head_hash) != 0)) {
		snprintf(err, sizeof(err), "line 1: audit_head: the header says seq %llu, "
		    "the records end at seq %llu", (unsigned long long)r->in.h.head_seq,
		    (unsigned long long)r->head);
		restore_fail(r, err);
	} else {
		rc = 0;
	}
	json_free(rep);
	return rc;
}

/* --- what the nodes hold: from the replaced store ---------------------------- */

struct restore_copy {
	struct store_txn *to;
	size_t n;
	int failed;
};

/* outbox a/<node>/<user>: what a node confirmed (outbox.c's keys) */
static int
restore_copy_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	struct restore_copy *c = arg;

	if (kl < 2 || memcmp(k, "a/", 2) != 0)
		return 1;
	if (store_put(c->to, STORE_DB_OUTBOX, k, kl, v, vl) == -1)
		return -1;
	c->n++;
	return 0;
}

/* the node confirmations and push_seq of the store in data_dir, into t */
static int
restore_carry(struct restore *r, const struct conf *c, struct store_txn *t)
{
	struct store *old;
	struct store_txn *ot;
	struct restore_copy cp = { .to = t };
	char err[512], *path = x_asprintf("%s/data.mdb", r->dir);
	void *v;
	size_t vl;
	int rc, exists = access(path, F_OK) == 0;

	free(path);
	if (!exists)
		return 0;
	r->old = RESTORE_OLD_UNREADABLE;
	if (store_open(r->dir, (unsigned)c->map_size_mb, &old, err, sizeof(err)) == -1) {
		fprintf(stderr, "acctd restore: warning: the store being replaced cannot be "
		    "read (%s): the nodes' own versions will move acctd's on\n", err);
		return 0;
	}
	rc = store_txn_begin(old, 0, &ot);
	/* > 0: the walk stopped past the a/ keys */
	if (rc == 0)
		rc = store_iter(ot, STORE_DB_OUTBOX, "a/", 2, 0, restore_copy_cb, &cp) == -1 ? -1 : 0;
	if (rc == 0 && store_get(ot, STORE_DB_META, "push_seq", 8, &v, &vl) == 0) {
		if (vl == 8)
			r->old_push_seq = be_get(v, 8);
		free(v);
	}
	store_txn_abort(ot);
	store_close(old);
	r->carried = cp.n;
	if (rc == 0)
		r->old = RESTORE_OLD_READ;
	return rc == 0 ? 0 : -1;
}

/* push_seq past the old store's; the recorded membership forgotten, so
 * that outbox_resync recomputes every user */
static int
restore_outbox_meta(struct restore *r, struct store_txn *t)
{
	void *v = NULL;
	size_t vl;
	uint8_t b[8];
	int rc = store_get(t, STORE_DB_META, "push_seq", 8, &v, &vl);

	if (rc == -1)
		return -1;
	if (rc == 0 && vl == 8 && be_get(v, 8) > r->old_push_seq)
		r->old_push_seq = be_get(v, 8);
	free(v);
	be_put(b, 8, r->old_push_seq);
	if (store_put(t, STORE_DB_META, "push_seq", 8, b, 8) == -1 ||
	    store_del(t, STORE_DB_META, "outbox_synced", 13) == -1 ||
	    store_del(t, STORE_DB_META, "outbox_syncing", 14) == -1)
		return -1;
	return 0;
}

struct restore_ids {
	struct store_txn *t;
	char (*ids)[SECRET_ID_LEN + 1];
	size_t n, cap;
};

/* a/<node>/<user id> of a user the copy does not hold */
static int
restore_orphan_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	struct restore_ids *o = arg;
	const char *id = (const char *)k + kl - SECRET_ID_LEN;
	void *u;
	size_t ul;
	int rc;

	(void)v;
	(void)vl;
	if (kl < 2 || memcmp(k, "a/", 2) != 0)
		return 1;
	if (kl < SECRET_ID_LEN + 4 || id[-1] != '/')
		return 0;
	rc = store_get(o->t, STORE_DB_USER, id, SECRET_ID_LEN, &u, &ul);
	free(u);
	if (rc != STORE_NOTFOUND)
		return rc == -1 ? -1 : 0;
	if (o->n > 0 && memcmp(o->ids[o->n - 1], id, SECRET_ID_LEN) == 0)
		return 0;
	if (o->n == o->cap) {
		o->cap = o->cap ? 2 * o->cap : 64;
		o->ids = x_realloc(o->ids, o->cap * sizeof(*o->ids));
	}
	memcpy(o->ids[o->n], id, SECRET_ID_LEN);
	o->ids[o->n++][SECRET_ID_LEN] = '\0';
	return 0;
}

/* users a node holds but the copy does not: sent "absent" */
static int
restore_orphans(struct restore *r)
{
	struct restore_ids o = { 0 };
	struct store_txn *t;
	int rc;

	if (store_txn_begin(app.store, 0, &t) == -1)
		return -1;
	o.t = t;
	rc = store_iter(t, STORE_DB_OUTBOX, "a/", 2, 0, restore_orphan_cb, &o) == -1 ? -1 : 0;
	store_txn_abort(t);
	for (size_t i = 0; rc == 0 && i < o.n; i += OUTBOX_RESYNC_BATCH) {
		if (store_txn_begin(app.store, 1, &t) == -1) {
			rc = -1;
			break;
		}
		for (size_t j = i; rc == 0 && j < o.n && j < i + OUTBOX_RESYNC_BATCH; j++)
			rc = outbox_recompute_user(t, o.ids[j]);
		rc = rc == 0 ? store_txn_commit(t) : (store_txn_abort(t), -1);
	}
	r->orphans = o.n;
	free(o.ids);
	return rc;
}

/* the outbox of the new store, for the nodes as they are; and the audit */
static int
restore_converge(struct restore *r, const struct conf *c)
{
	struct account_txn ax;
	struct json *data;
	int rc;

	memset(&ax, 0, sizeof(ax));
	account_actor(&ax, NULL, "");
	if (store_txn_begin(app.store, 1, &ax.t) == -1)
		return -1;
	/* an LMDB copy holds the sessions: none survive a restore */
	rc = restore_carry(r, c, ax.t) == 0 && restore_outbox_meta(r, ax.t) == 0 &&
	    store_drop(ax.t, STORE_DB_SESSION) != -1 ? 0 : -1;
	data = json_object();
	json_set_str(data, "format", r->lmdb ? "lmdb" : "jsonl");
	json_set_str(data, "backup_created_at", r->lmdb ? NULL : r->in.h.created_at);
	json_set_str(data, "backup_acctd_version", r->lmdb ? NULL : r->in.h.acctd_version);
	json_set_int(data, "backup_audit_head", (int64_t)r->head);
	json_set_str(data, "replaced", r->old != RESTORE_OLD_NONE ? r->replaced : NULL);
	if (rc == 0 && account_store_event(&ax, "store.restore", data) != ACCOUNT_OK)
		rc = -1;
	json_free(data);
	if (rc == 0)
		rc = store_txn_commit(ax.t);
	else
		store_txn_abort(ax.t);
	if (rc == 0 && outbox_resync("restore", NULL) == -1)
		rc = -1;
	if (rc == 0 && restore_orphans(r) == -1)
		rc = -1;
	return rc;
}

/* --- files --------------------------------------------------------------- */

/* a restore.tmp left by an interrupted restore: LMDB's two files only */
static int
restore_clear_tmp(struct restore *r)
{
	const char *files[] = { "data.mdb", "lock.mdb" };

	for (size_t i = 0; i < 2; i++) {
		char *p = x_asprintf("%s/%s", r->tmp, files[i]);
		int rc = unlink(p);

		free(p);
		if (rc == -1 && errno != ENOENT)
			return -1;
	}
	return rmdir(r->tmp) == -1 && errno != ENOENT ? -1 : 0;
}

/* name1 in from to name2 in to (ENOENT: nothing to move) */
static int
restore_move(const char *from, const char *name1, const char *to, const char *name2)
{
	char *a = x_asprintf("%s/%s", from, name1), *b = x_asprintf("%s/%s", to, name2);
	int rc = rename(a, b);

	if (rc == -1 && errno != ENOENT)
		fprintf(stderr, "acctd restore: rename %s to %s: %s\n", a, b, strerror(errno));
	free(a);
	free(b);
	return rc == -1 && errno != ENOENT ? -1 : 0;
}

/*
 * The old store aside, the new one in; both directories synced. data.mdb is
 * the old or the new file at every moment (a crash in between never leaves
 * data_dir without a store, which acctd would take for a first start): the
 * old one is linked aside first, then the new one renamed over it. The old
 * lock.mdb goes aside too (LMDB makes a new one).
 */
static int
restore_swap(struct restore *r)
{
	char *aside = x_asprintf("%s/%s", r->dir, r->replaced);
	char *from = x_asprintf("%s/data.mdb", r->dir), *to = x_asprintf("%s/data.mdb", aside);
	int rc = -1;

	if (r->old != RESTORE_OLD_NONE && (mkdir(aside, 0700) == -1 || link(from, to) == -1 ||
	    file_fsync_dir(aside) == -1)) {
		fprintf(stderr, "acctd restore: cannot keep the old store in %s: %s; nothing "
		    "was changed\n", aside, strerror(errno));
		goto done;
	}
	if (restore_move(r->tmp, "data.mdb", r->dir, "data.mdb") == -1 ||
	    file_fsync_dir(r->dir) == -1)
		goto done;
	if (r->old != RESTORE_OLD_NONE &&
	    (restore_move(r->dir, "lock.mdb", aside, "lock.mdb") == -1 ||
	    file_fsync_dir(aside) == -1 || file_fsync_dir(r->dir) == -1))
		goto done;
	restore_clear_tmp(r);
	rc = 0;
 done:
	free(aside);
	free(from);
	free(to);
	return rc;
}

/* IN as it is into restore.tmp/data.mdb (an LMDB copy): 0 / -1 */
static int
restore_lmdb_copy(struct restore *r, FILE *f)
{
	char *path = x_asprintf("%s/data.mdb", r->tmp), buf[65536];
	int fd = -1, rc = -1;
	size_t n;

	if (mkdir(r->tmp, 0700) == -1 ||
	    (fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) == -1)
		goto done;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		if (write(fd, buf, n) != (ssize_t)n)
			goto done;
	if (ferror(f) || fsync(fd) == -1)
		goto done;
	rc = 0;
 done:
	if (rc == -1)
		fprintf(stderr, "acctd restore: %s: %s; nothing was changed\n", path,
		    strerror(errno));
	if (fd != -1)
		close(fd);
	free(path);
	return rc;
}

/* the JSON lines into a new store in restore.tmp: 0 / -1 */
static int
restore_lines(struct restore *r, const struct conf *c, FILE *f)
{
	char err[512];
	int rc;

	if (store_open(r->tmp, (unsigned)c->map_size_mb, &app.store, err, sizeof(err)) == -1) {
		fprintf(stderr, "acctd restore: %s\n", err);
		return -1;
	}
	rc = restore_read(r, f);
	store_close(app.store);
	app.store = NULL;
	return rc;
}

/* the new store in restore.tmp: filled, checked, converged; closed */
static int
restore_build(struct restore *r, const struct conf *c, FILE *f)
{
	char err[512], why[800];
	int rc, ch;

	if (restore_clear_tmp(r) == -1) {
		fprintf(stderr, "acctd restore: %s: %s (remove it)\n", r->tmp, strerror(errno));
		return -1;
	}
	/* JSON lines begin with their header object; an LMDB file with a page */
	ch = getc(f);
	r->lmdb = ch != '{' && ch != EOF;
	if (ch != EOF)
		ungetc(ch, f);
	rc = r->lmdb ? restore_lmdb_copy(r, f) : restore_lines(r, c, f);
	/* (re)opened: the schema version is the copy's */
	if (rc == 0 && store_open(r->tmp, (unsigned)c->map_size_mb, &app.store, err,
	    sizeof(err)) == -1) {
		snprintf(why, sizeof(why), "%s%s", r->lmdb ? "not an acctd backup, nor an "
		    "LMDB store this machine can open (an LMDB copy from another word "
		    "size?): " : "", err);
		rc = restore_fail(r, why);
	}
	if (rc == 0)
		rc = restore_verify(r);
	/* a schema-1 copy is migrated now, as acctd's start would, before the
	 * restore's own audit record is chained to it */
	if (rc == 0 && audit_init(app.store) == -1)
		rc = restore_fail(r, "cannot migrate the copy's audit log");
	if (rc == 0 && restore_converge(r, c) == -1)
		rc = restore_fail(r, "cannot queue the push of the restored state");
	store_close(app.store);
	app.store = NULL;
	return rc;
}

static void
restore_report(const struct restore *r, const struct conf *c)
{
	if (r->lmdb)
		printf("acctd restore: restored an LMDB copy (%zu users, audit head seq %llu) "
		    "from %s\n", r->users, (unsigned long long)r->head, r->in_path);
	else
		printf("acctd restore: restored %llu records (%zu users, audit head seq %llu) "
		    "from %s, made %s by acctd %s\n", (unsigned long long)r->in.records,
		    r->users, (unsigned long long)r->head, r->in_path, r->in.h.created_at,
		    r->in.h.acctd_version);
	if (r->old != RESTORE_OLD_NONE)
		printf("acctd restore: the replaced store is in %s/%s\n", r->dir, r->replaced);
	printf("acctd restore: every user is queued for a full push to %zu node(s) "
	    "(%zu confirmation(s) taken from the replaced store, %zu user(s) only the "
	    "nodes knew sent absent)\n", c->nnodes, r->carried, r->orphans);
	if (r->old == RESTORE_OLD_UNREADABLE)
		printf("acctd restore: the replaced store could not be read: roles made on the "
		    "nodes after the backup for users it does not hold stay until removed\n");
}

static int
restore_run(struct restore *r, FILE *f)
{
	const struct conf *c = app_conf();
	char err[512], ts[32];
	int rc;

	r->dir = c->data_dir;
	r->tmp = x_asprintf("%s/%s", r->dir, RESTORE_TMP);
	time_rfc3339(app_now(), ts, sizeof(ts));
	snprintf(r->replaced, sizeof(r->replaced), "replaced-%.4s%.2s%.2sT%.2s%.2s%.2sZ",
	    ts, ts + 5, ts + 8, ts + 11, ts + 14, ts + 17);
	if (mkdir(r->dir, 0700) == -1 && errno != EEXIST) {
		fprintf(stderr, "acctd restore: %s: %s\n", r->dir, strerror(errno));
		return -1;
	}
	if (store_lock_exclusive(r->dir, err, sizeof(err)) == -1) {
		fprintf(stderr, "acctd restore: %s; nothing was changed\n", err);
		return -1;
	}
	if (backup_in_init(&r->in, app.key) == -1) {
		store_unlock_exclusive();
		return -1;
	}
	rc = restore_build(r, c, f);
	if (rc == 0)
		rc = restore_swap(r);
	if (rc == -1)
		restore_clear_tmp(r);
	store_unlock_exclusive();
	if (rc == 0)
		restore_report(r, c);
	return rc;
}

int
restore_main(int argc, char *argv[])
{
	struct restore r;
	const char *conf_path;
	FILE *f = NULL;
	int rc = 1;

	memset(&r, 0, sizeof(r));
	if (backup_args(argc, argv, &conf_path, &r.in_path, NULL) == -1) {
		fprintf(stderr, "usage: acctd restore -c FILE IN\n");
		return 2;
	}
	if (backup_open("acctd restore", conf_path, 0) == -1)
		goto done;
	if ((f = fopen(r.in_path, "re")) == NULL) {
		fprintf(stderr, "acctd restore: %s: %s\n", r.in_path, strerror(errno));
		goto done;
	}
	rc = restore_run(&r, f) == 0 ? 0 : 1;
 done:
	if (f != NULL)
		fclose(f);
	backup_in_wipe(&r.in);
	free(r.tmp);
	app_keys_wipe();
	crypto_shutdown();
	app_free_confs();
	return rc;
}

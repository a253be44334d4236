/*
 * The store: one LMDB environment in data_dir with one named database per
 * record kind. Only this file and store_batch.c include LMDB (store_impl.h).
 *
 * Durability: every write txn is synced on commit (no MDB_NOSYNC or
 * MDB_NOMETASYNC), because an acknowledged change must survive a power cut.
 * MDB_NOTLS lets a read txn be begun on one HTTP worker thread and ended on
 * another.
 *
 * Group commit: store_batch.c.
 *
 * Every LMDB error is logged here as "store: <what>: <reason>" and turned
 * into -1; STORE_NOTFOUND is not an error and is not logged.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <unistd.h>

#include <lmdb.h>

#include "acctd.h"
#include "store_impl.h"

#define STORE_MAX_DBS 16
/* reader slots (64 bytes each in lock.mdb): every worker thread's read txn
 * (http.threads, up to 256), the idle pooled ones (STORE_READERS_IDLE), the
 * push threads, the forwarder and a concurrent `acctd backup`; LMDB's
 * default, 126, is less than http.threads allows */
#define STORE_MAX_READERS 512
#define STORE_SCHEMA_KEY "schema_version"

/*
 * The named databases, indexed by enum store_db. Adding one: append an enum
 * value before STORE_DB_COUNT in acctd.h and its line here; it is created on
 * the next store_open. A name, once shipped, never changes (it is on disk).
 * All use LMDB's default memcmp ordering: callers store integers big-endian.
 */
static const struct {
	const char *name;
	unsigned int flags;
} store_dbs[STORE_DB_COUNT] = {
	[STORE_DB_META] =     { "meta", 0 },
	[STORE_DB_USER] =     { "user", 0 },
	[STORE_DB_HANDLE] =   { "handle", 0 },
	[STORE_DB_SESSION] =  { "session", 0 },
	[STORE_DB_TOKEN] =    { "token", 0 },
	[STORE_DB_PASSWORD] = { "password", 0 },
	[STORE_DB_AUDIT] =    { "audit", 0 },
	[STORE_DB_OUTBOX] =   { "outbox", 0 },
	[STORE_DB_LOGIN] =    { "login", 0 },
	[STORE_DB_AUDIT_IDX] = { "audit_idx", 0 },
	[STORE_DB_TOTP] =     { "totp", 0 },
};

_Static_assert(STORE_DB_COUNT <= STORE_MAX_DBS,
    "raise STORE_MAX_DBS: more named databases than mdb_env_set_maxdbs allows");



/* see store_impl.h */
_Thread_local int store_full_flag;

/*
 * Who has the store open: every store_open holds a shared flock(2) on
 * data_dir (acctd, acctd import, acctd backup may share it); acctd restore
 * takes it exclusively (store_lock_exclusive), so it never replaces a store
 * in use, and nothing opens the store while it does. The data_dir this
 * process holds exclusively takes no shared lock: two flock descriptors
 * of one process conflict like two processes'.
 */
static int store_excl_fd = -1;
static dev_t store_excl_dev;
static ino_t store_excl_ino;



/*
 * A write that met the end of the disk: ENOSPC or EDQUOT, or EIO, which is
 * what LMDB makes of a short write (the disk filled up in the middle of
 * it), when the file system of data_dir has (almost) nothing left. A real
 * I/O error on a disk with room stays a 500.
 */
static int
store_disk_full(const struct store *s, int rc)
{
	struct statvfs vfs;
	const char *dir;

	if (rc == ENOSPC || rc == EDQUOT)
		return 1;
	if (rc != EIO || mdb_env_get_path(s->env, &dir) != 0 ||
	    statvfs(dir, &vfs) != 0)
		return 0;
	return (uint64_t)vfs.f_bavail * vfs.f_frsize < (1u << 20);
}

/*
 * Log an LMDB error. A full map and a full disk get their own sentences
 * because they are the ones an operator can fix and the only ones expected
 * in the field. A commit that meets a full disk is aborted whole, like
 * one that meets a full map.
 */
int
store_mdb_warn(const struct store *s, const char *what, int rc)
{
	int full = 0;

	if (rc == MDB_MAP_FULL || rc == MDB_TXN_FULL)
		full = store_full_flag = STORE_FULL_MAP;
	else if (store_disk_full(s, rc))
		full = store_full_flag = STORE_FULL_DISK;
	if (full == STORE_FULL_DISK)
		log_warnx("store: %s: %s: the file system of data_dir is full; "
		    "free space there", what, mdb_strerror(rc));
	else if (rc == MDB_MAP_FULL)
		log_warnx("store: %s: %s (map size %zu MB); raise map_size_mb",
		    what, mdb_strerror(rc), s->map_size >> 20);
	else
		log_warnx("store: %s: %s", what, mdb_strerror(rc));
	return full;
}

/* an MDB_val over the caller's bytes (LMDB only reads through it) */
static MDB_val
store_val(const void *p, size_t n)
{
	MDB_val v = { .mv_size = n, .mv_data = (void *)p };

	return v;
}

/* an LMDB result as this file's: 0, STORE_NOTFOUND or -1 (logged) */
static int
store_rc(struct store_txn *t, const char *what, int rc)
{
	if (rc == MDB_NOTFOUND)
		return STORE_NOTFOUND;
	if (rc) {
		store_mdb_warn(t->s, what, rc);
		return -1;
	}
	return 0;
}

static int
store_db_valid(enum store_db db)
{
	if ((unsigned)db >= STORE_DB_COUNT) {
		log_warnx("store: no database %d", (int)db);
		return 0;
	}
	return 1;
}

/* data_dir exists as a directory (created 0700 when missing) */
static int
store_mkdir(const char *dir, char *err, size_t errlen)
{
	struct stat st;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: cannot create: %s", dir,
		    strerror(errno));
		return -1;
	}
	if (stat(dir, &st) != 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: not a directory", dir);
		return -1;
	}
	return 0;
}

/* the shared lock on dir for s (none when this process holds it exclusively) */
static int
store_dir_lock(struct store *s, const char *dir, char *err, size_t errlen)
{
	struct stat st;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd == -1) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (store_excl_fd != -1 && fstat(fd, &st) == 0 &&
	    st.st_dev == store_excl_dev && st.st_ino == store_excl_ino) {
		close(fd);
		return 0;
	}
	if (flock(fd, LOCK_SH | LOCK_NB) == -1) {
		snprintf(err, errlen, "%s: %s", dir, errno == EWOULDBLOCK ?
		    "acctd restore is replacing the store; start again when it "
		    "has finished" : strerror(errno));
		close(fd);
		return -1;
	}
	s->lockfd = fd;
	return 0;
}

/* an LMDB environment open in dir by a process that takes no flock (an
 * acctd older than it): LMDB holds a read lock on lock.mdb's first byte */
static int
store_lmdb_in_use(const char *dir)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_len = 1 };
	char *path = x_asprintf("%s/lock.mdb", dir);
	int fd = open(path, O_RDWR | O_CLOEXEC), busy = 0;

	free(path);
	if (fd == -1)
		return 0;
	if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
		busy = 1;
	close(fd);
	return busy;
}

int
store_lock_exclusive(const char *dir, char *err, size_t errlen)
{
	struct stat st;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd == -1 || fstat(fd, &st) == -1) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		goto fail;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1 || store_lmdb_in_use(dir)) {
		snprintf(err, errlen, "%s: the store is in use (acctd, acctd import "
		    "or acctd backup runs on it); stop acctd first", dir);
		goto fail;
	}
	store_excl_fd = fd;
	store_excl_dev = st.st_dev;
	store_excl_ino = st.st_ino;
	return 0;
 fail:
	if (fd != -1)
		close(fd);
	return -1;
}

void
store_unlock_exclusive(void)
{
	if (store_excl_fd != -1)
		close(store_excl_fd);
	store_excl_fd = -1;
}

/*
 * Open (creating) every named database and check the schema version,
 * writing it on a fresh store. A store we cannot read is left untouched.
 */
static int
store_init_dbs(struct store *s, const char *dir, char *err, size_t errlen)
{
	MDB_txn *txn = NULL;
	MDB_val k, v;
	uint8_t be[4];
	size_t i;
	int rc;

	rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc) {
		store_mdb_warn(s, "begin", rc);
		snprintf(err, errlen, "%s: cannot begin a transaction: %s",
		    dir, mdb_strerror(rc));
		txn = NULL;
		goto fail;
	}
	for (i = 0; i < STORE_DB_COUNT; i++) {
		rc = mdb_dbi_open(txn, store_dbs[i].name,
		    store_dbs[i].flags | MDB_CREATE, &s->dbi[i]);
		if (rc) {
			store_mdb_warn(s, store_dbs[i].name, rc);
			snprintf(err, errlen, "%s: cannot open database %s: %s",
			    dir, store_dbs[i].name, mdb_strerror(rc));
			goto fail;
		}
	}

	k.mv_data = (void *)STORE_SCHEMA_KEY;
	k.mv_size = sizeof(STORE_SCHEMA_KEY) - 1;
	rc = mdb_get(txn, s->dbi[STORE_DB_META], &k, &v);
	if (rc == MDB_NOTFOUND) {
		be_put(be, 4, STORE_SCHEMA_VERSION);
		v.mv_data = be;
		v.mv_size = sizeof(be);
		rc = mdb_put(txn, s->dbi[STORE_DB_META], &k, &v, 0);
		if (rc) {
			store_mdb_warn(s, "put schema_version", rc);
			snprintf(err, errlen, "%s: cannot write the schema "
			    "version: %s", dir, mdb_strerror(rc));
			goto fail;
		}
		s->schema = STORE_SCHEMA_VERSION;
	} else if (rc) {
		store_mdb_warn(s, "get schema_version", rc);
		snprintf(err, errlen, "%s: cannot read the schema version: %s",
		    dir, mdb_strerror(rc));
		goto fail;
	} else if (v.mv_size != 4) {
		snprintf(err, errlen, "%s: store schema version record is "
		    "corrupt (%zu bytes); restore a backup", dir, v.mv_size);
		goto fail;
	} else {
		s->schema = (uint32_t)be_get(v.mv_data, 4);
	}

	if (s->schema > STORE_SCHEMA_VERSION) {
		snprintf(err, errlen, "%s: store schema version %u is newer "
		    "than this acctd supports (%u); upgrade acctd or restore "
		    "a matching backup", dir, (unsigned)s->schema,
		    (unsigned)STORE_SCHEMA_VERSION);
		goto fail;
	}
	if (s->schema < STORE_SCHEMA_OLDEST) {
		snprintf(err, errlen, "%s: store schema version %u is older "
		    "than this acctd supports (%u) and cannot be migrated; "
		    "restore a backup made by a matching acctd", dir,
		    (unsigned)s->schema, (unsigned)STORE_SCHEMA_OLDEST);
		goto fail;
	}

	rc = mdb_txn_commit(txn);
	txn = NULL;
	if (rc) {
		store_mdb_warn(s, "commit", rc);
		snprintf(err, errlen, "%s: cannot commit: %s", dir,
		    mdb_strerror(rc));
		goto fail;
	}
	return 0;
 fail:
	mdb_txn_abort(txn);      /* NULL ok: mdb_txn_abort ignores it */
	return -1;
}

/*
 * ACCTD_TEST_NOSYNC=1 in the environment: commits are not synced
 * (MDB_NOSYNC). Only to measure what the request path costs without the
 * disk (tests/bench/commit.py); loud, since a power cut then loses changes
 * acctd has acknowledged.
 */
static unsigned
store_test_nosync(void)
{
	const char *v = getenv("ACCTD_TEST_NOSYNC");

	if (v == NULL || strcmp(v, "1") != 0)
		return 0;
	log_warnx("store: ACCTD_TEST_NOSYNC=1: commits are NOT synced, a power "
	    "cut loses acknowledged changes (for measurements only)");
	return MDB_NOSYNC;
}

int
store_open(const char *dir, unsigned map_size_mb, struct store **out,
    char *err, size_t errlen)
{
	struct store *s;
	MDB_envinfo info;
	int rc, dead;

	*out = NULL;
	s = x_calloc(1, sizeof(*s));
	s->lockfd = -1;
	store_batch_init(s);
	if (map_size_mb == 0) {
		snprintf(err, errlen, "%s: map size must be at least 1 MB", dir);
		goto fail;
	}
#if SIZE_MAX >> 20 < UINT_MAX
	if (map_size_mb > SIZE_MAX >> 20) {
		snprintf(err, errlen, "%s: map size of %u MB does not fit in "
		    "this machine's address space", dir, map_size_mb);
		goto fail;
	}
#endif
	s->map_size = (size_t)map_size_mb << 20;
	if (store_mkdir(dir, err, errlen) != 0 ||
	    store_dir_lock(s, dir, err, errlen) != 0)
		goto fail;

	rc = mdb_env_create(&s->env);
	if (rc) {
		store_mdb_warn(s, "env_create", rc);
		snprintf(err, errlen, "%s: %s", dir, mdb_strerror(rc));
		s->env = NULL;
		goto fail;
	}
	if ((rc = mdb_env_set_maxdbs(s->env, STORE_MAX_DBS)) != 0 ||
	    (rc = mdb_env_set_maxreaders(s->env, STORE_MAX_READERS)) != 0 ||
	    (rc = mdb_env_set_mapsize(s->env, s->map_size)) != 0) {
		store_mdb_warn(s, "env_set", rc);
		snprintf(err, errlen, "%s: %s", dir, mdb_strerror(rc));
		goto fail;
	}
	/* 0600: data.mdb and lock.mdb hold hashes and sealed secrets */
	rc = mdb_env_open(s->env, dir, MDB_NOTLS | store_test_nosync(), 0600);
	if (rc) {
		store_mdb_warn(s, dir, rc);
		snprintf(err, errlen, "%s: cannot open the store: %s", dir,
		    mdb_strerror(rc));
		goto fail;
	}
	/* a file bigger than map_size_mb keeps its size: report the real one */
	if (mdb_env_info(s->env, &info) == 0)
		s->map_size = info.me_mapsize;
	/* reader slots left by a killed acctd would pin old pages forever */
	if ((rc = mdb_reader_check(s->env, &dead)) != 0)
		store_mdb_warn(s, "reader_check", rc);
	else if (dead > 0)
		log_info("store: cleared %d stale reader slot(s)", dead);

	if (store_init_dbs(s, dir, err, errlen) != 0 ||
	    store_writer_start(s, err, errlen) != 0)
		goto fail;
	*out = s;
	return 0;
 fail:
	store_close(s);
	return -1;
}

/*
 * Read txns of the request path (store_read_begin). Under MDB_NOTLS,
 * beginning a read txn takes the reader table's lock to claim a slot and
 * allocates the txn; ending it gives both back. These are reset instead
 * (mdb_txn_reset: the snapshot is released, the slot kept) and renewed by
 * the next request on any thread (mdb_txn_renew: a fresh snapshot, so a
 * renewed txn sees every commit before it, as a new one would). At most
 * STORE_READERS_IDLE wait here, each holding a reader slot but no pages.
 */
#define STORE_READERS_IDLE 16
static struct {
	pthread_mutex_t mu;
	struct store_txn *idle[STORE_READERS_IDLE];
	size_t n;
} store_readers = { .mu = PTHREAD_MUTEX_INITIALIZER };

/* the idle read txns of s, ended (store_close) */
static void
store_readers_drop(struct store *s)
{
	size_t i = 0;

	pthread_mutex_lock(&store_readers.mu);
	while (i < store_readers.n) {
		struct store_txn *t = store_readers.idle[i];

		if (t->s != s) {
			i++;
			continue;
		}
		store_readers.idle[i] = store_readers.idle[--store_readers.n];
		mdb_txn_abort(t->txn);
		free(t);
	}
	pthread_mutex_unlock(&store_readers.mu);
}

int
store_read_begin(struct store *s, struct store_txn **out)
{
	struct store_txn *t = NULL;
	int rc;

	*out = NULL;
	pthread_mutex_lock(&store_readers.mu);
	for (size_t i = store_readers.n; i > 0; i--) {
		if (store_readers.idle[i - 1]->s == s) {
			t = store_readers.idle[i - 1];
			store_readers.idle[i - 1] = store_readers.idle[--store_readers.n];
			break;
		}
	}
	pthread_mutex_unlock(&store_readers.mu);
	if (t != NULL && (rc = mdb_txn_renew(t->txn)) != 0) {
		store_mdb_warn(s, "renew read", rc);
		mdb_txn_abort(t->txn);
		free(t);
		t = NULL;
	}
	if (t == NULL && store_txn_begin(s, 0, &t) == -1)
		return -1;
	t->reader = 1;
	*out = t;
	return 0;
}

void
store_read_end(struct store_txn *t)
{
	if (t == NULL)
		return;
	mdb_txn_reset(t->txn);
	pthread_mutex_lock(&store_readers.mu);
	if (store_readers.n < STORE_READERS_IDLE) {
		store_readers.idle[store_readers.n++] = t;
		t = NULL;
	}
	pthread_mutex_unlock(&store_readers.mu);
	if (t != NULL) {
		mdb_txn_abort(t->txn);
		free(t);
	}
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	store_writer_stop(s);
	store_readers_drop(s);
	if (s->env != NULL)
		mdb_env_close(s->env);     /* also closes every dbi */
	if (s->lockfd != -1)
		close(s->lockfd);
	store_batch_fini(s);
	free(s);
}

uint32_t
store_schema_version(struct store *s)
{
	return s->schema;
}

uint32_t
store_txn_schema(struct store_txn *t)
{
	return t->schema != 0 ? t->schema : t->s->schema;
}

int
store_schema_set(struct store_txn *t, uint32_t version)
{
	uint8_t be[4];

	if (version < STORE_SCHEMA_OLDEST || version > STORE_SCHEMA_VERSION) {
		log_warnx("store: no schema version %u", (unsigned)version);
		return -1;
	}
	be_put(be, 4, version);
	if (store_put(t, STORE_DB_META, STORE_SCHEMA_KEY,
	    sizeof(STORE_SCHEMA_KEY) - 1, be, sizeof(be)) == -1)
		return -1;
	t->schema = version;
	return 0;
}

int
store_full(void)
{
	return store_full_flag;
}

/*
 * Pages in use = pages up to the file's high-water mark minus the pages on
 * LMDB's free list (reusable by later writes). The free list is walked the
 * way mdb_stat -f does: each record of the FREE_DBI (dbi 0) holds a page
 * number list whose first word is its length.
 */
int
store_usage(struct store *s, struct store_usage *u)
{
	MDB_envinfo info;
	MDB_stat st;
	MDB_txn *txn = NULL;
	MDB_cursor *c = NULL;
	MDB_val k, v;
	size_t free_pages = 0;
	int rc;

	memset(u, 0, sizeof(*u));
	if ((rc = mdb_env_info(s->env, &info)) != 0 ||
	    (rc = mdb_env_stat(s->env, &st)) != 0) {
		store_mdb_warn(s, "env_info", rc);
		return -1;
	}
	rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
	if (rc == 0)
		rc = mdb_cursor_open(txn, 0, &c);
	while (rc == 0 && (rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) == 0)
		if (v.mv_size >= sizeof(size_t))
			free_pages += *(const size_t *)v.mv_data;
	if (c != NULL)
		mdb_cursor_close(c);
	mdb_txn_abort(txn);
	if (rc != MDB_NOTFOUND) {
		store_mdb_warn(s, "free list", rc);
		return -1;
	}
	u->map_bytes = info.me_mapsize;
	u->page_bytes = st.ms_psize;
	u->high_water_bytes = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
	u->used_bytes = u->high_water_bytes - (uint64_t)free_pages * st.ms_psize;
	return 0;
}

void
store_metrics(struct store *s, FILE *f)
{
	struct store_usage u;
	struct store_stats st;

	if (s == NULL || store_usage(s, &u) == -1)
		return;
	store_stats(s, &st);
	fprintf(f, "# HELP acctd_store_commits_total Synced LMDB commits (batches of changes).\n"
	    "# TYPE acctd_store_commits_total counter\n"
	    "acctd_store_commits_total %llu\n"
	    "# HELP acctd_store_changes_total Write transactions those commits held.\n"
	    "# TYPE acctd_store_changes_total counter\n"
	    "acctd_store_changes_total %llu\n",
	    (unsigned long long)st.batches, (unsigned long long)st.changes);
	fprintf(f, "# HELP acctd_store_map_bytes Size of the LMDB map (map_size_mb).\n"
	    "# TYPE acctd_store_map_bytes gauge\n"
	    "acctd_store_map_bytes %llu\n"
	    "# HELP acctd_store_used_bytes Bytes of the map in use (free pages not counted).\n"
	    "# TYPE acctd_store_used_bytes gauge\n"
	    "acctd_store_used_bytes %llu\n"
	    "# HELP acctd_store_high_water_bytes Bytes of the map ever written (the file's extent).\n"
	    "# TYPE acctd_store_high_water_bytes gauge\n"
	    "acctd_store_high_water_bytes %llu\n",
	    (unsigned long long)u.map_bytes, (unsigned long long)u.used_bytes,
	    (unsigned long long)u.high_water_bytes);
}

int
store_txn_begin(struct store *s, int write, struct store_txn **out)
{
	struct store_txn *t;
	int rc;

	*out = NULL;
	if (write)
		store_full_flag = 0;
	t = x_calloc(1, sizeof(*t));
	t->s = s;
	t->write = write;
	if (write) {
		if (store_child_begin(t) == -1) {
			free(t);
			return -1;
		}
	} else if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &t->txn)) != 0) {
		store_mdb_warn(s, "begin read", rc);
		free(t);
		return -1;
	}
	*out = t;
	return 0;
}

/* LMDB's txn id of a read txn is the last commit it sees: equal ids, equal
 * contents. A write txn (a child of the batch) has its own changes and
 * those of the members before it, not on disk yet: no such id, 0 */
uint64_t
store_txn_id(struct store_txn *t)
{
	return t->write ? 0 : (uint64_t)mdb_txn_id(t->txn);
}

/*
 * A write txn returns once the batch holding it is on disk. On failure
 * nothing of t was written (LMDB commits atomically or not at all).
 */
int
store_txn_commit(struct store_txn *t)
{
	struct store *s = t->s;
	int rc;

	if (t->reader) {
		store_read_end(t);        /* a pooled read txn: nothing to commit */
		return 0;
	}
	if (!t->write) {
		mdb_txn_abort(t->txn);    /* a read txn: nothing to commit */
		free(t);
		return 0;
	}
	/* into the batch: no I/O; or, direct, the commit and its fsync */
	rc = mdb_txn_commit(t->txn);
	if (rc)
		store_mdb_warn(s, "commit", rc);
	rc = store_child_commit(t, rc);
	if (rc == 0 && t->on_commit != NULL)
		t->on_commit();
	free(t);
	return rc ? -1 : 0;
}

void
store_txn_on_commit(struct store_txn *t, void (*fn)(void))
{
	t->on_commit = fn;
}

void
store_txn_abort(struct store_txn *t)
{
	if (t == NULL)
		return;
	if (t->reader) {
		store_read_end(t);
		return;
	}
	mdb_txn_abort(t->txn);
	if (t->write)
		store_child_abort(t);
	free(t);
}

int
store_put(struct store_txn *t, enum store_db db, const void *key,
    size_t klen, const void *val, size_t vlen)
{
	MDB_val k = store_val(key, klen), v = store_val(val, vlen);

	if (!store_db_valid(db))
		return -1;
	return store_rc(t, "put", mdb_put(t->txn, t->s->dbi[db], &k, &v, 0));
}

int
store_get(struct store_txn *t, enum store_db db, const void *key,
    size_t klen, void **val, size_t *vlen)
{
	MDB_val k = store_val(key, klen), v;
	int rc;

	*val = NULL;
	*vlen = 0;
	if (!store_db_valid(db))
		return -1;
	rc = store_rc(t, "get", mdb_get(t->txn, t->s->dbi[db], &k, &v));
	if (rc != 0)
		return rc;
	/* the map is only valid until the txn ends: copy out */
	*val = x_malloc(v.mv_size);
	memcpy(*val, v.mv_data, v.mv_size);
	*vlen = v.mv_size;
	return 0;
}

int
store_del(struct store_txn *t, enum store_db db, const void *key, size_t klen)
{
	MDB_val k = store_val(key, klen);

	if (!store_db_valid(db))
		return -1;
	return store_rc(t, "del", mdb_del(t->txn, t->s->dbi[db], &k, NULL));
}

/*
 * Position c on the first record of the walk: forward, the smallest key >=
 * start; reverse, the largest key <= start. MDB_NOTFOUND when there is none.
 */
static int
store_iter_first(struct store_txn *t, MDB_dbi dbi, MDB_cursor *c,
    const void *start, size_t startlen, int reverse, MDB_val *k, MDB_val *v)
{
	MDB_val sk = store_val(start, startlen);
	int rc;

	if (start == NULL || startlen == 0)
		return mdb_cursor_get(c, k, v, reverse ? MDB_LAST : MDB_FIRST);
	*k = sk;
	rc = mdb_cursor_get(c, k, v, MDB_SET_RANGE);
	if (!reverse)
		return rc;
	if (rc == MDB_NOTFOUND)          /* every key is < start */
		return mdb_cursor_get(c, k, v, MDB_LAST);
	if (rc)
		return rc;
	if (mdb_cmp(t->txn, dbi, k, &sk) == 0)
		return 0;
	return mdb_cursor_get(c, k, v, MDB_PREV);   /* first key > start */
}

int
store_iter(struct store_txn *t, enum store_db db, const void *start,
    size_t startlen, int reverse, store_iter_fn fn, void *arg)
{
	MDB_cursor *c = NULL;
	MDB_val k, v;
	int rc, ret = -1;

	if (!store_db_valid(db))
		return -1;
	rc = mdb_cursor_open(t->txn, t->s->dbi[db], &c);
	if (rc) {
		store_mdb_warn(t->s, "cursor_open", rc);
		c = NULL;
		goto out;
	}
	rc = store_iter_first(t, t->s->dbi[db], c, start, startlen, reverse,
	    &k, &v);
	while (rc == 0) {
		ret = fn(arg, k.mv_data, k.mv_size, v.mv_data, v.mv_size);
		if (ret > 0)
			goto out;
		if (ret < 0) {
			ret = -1;
			goto out;
		}
		rc = mdb_cursor_get(c, &k, &v, reverse ? MDB_PREV : MDB_NEXT);
	}
	if (rc != MDB_NOTFOUND) {
		store_mdb_warn(t->s, "cursor_get", rc);
		ret = -1;
		goto out;
	}
	ret = 0;
 out:
	if (c != NULL)
		mdb_cursor_close(c);
	return ret;
}

int
store_count(struct store_txn *t, enum store_db db, size_t *n)
{
	MDB_stat st;
	int rc;

	*n = 0;
	if (!store_db_valid(db))
		return -1;
	rc = mdb_stat(t->txn, t->s->dbi[db], &st);
	if (rc) {
		store_mdb_warn(t->s, "stat", rc);
		return -1;
	}
	*n = st.ms_entries;
	return 0;
}

int
store_drop(struct store_txn *t, enum store_db db)
{
	if (!store_db_valid(db))
		return -1;
	return store_rc(t, "drop", mdb_drop(t->txn, t->s->dbi[db], 0));
}

int
store_copy_compact(struct store *s, int fd)
{
	int rc = mdb_env_copyfd2(s->env, fd, MDB_CP_COMPACT);

	if (rc) {
		store_mdb_warn(s, "copy", rc);
		return -1;
	}
	return 0;
}

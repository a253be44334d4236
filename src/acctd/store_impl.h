/*
 * The store's insides, shared by store.c (open, locks, read txns, records)
 * and store_batch.c (group commit: the write slot and the writer thread).
 * Nothing else includes this file or LMDB.
 */
#ifndef ACCTD_STORE_IMPL_H
#define ACCTD_STORE_IMPL_H

#include <pthread.h>
#include <stdint.h>

#include <lmdb.h>

#include "acctd.h"

#define STORE_BATCH_MAX 64              /* members of one batch at most */
#define STORE_BATCH_MS 4                /* a batch admits callers this long */

struct store {
	MDB_env *env;
	MDB_dbi dbi[STORE_DB_COUNT];
	size_t map_size;          /* bytes, as LMDB reports it after open */
	_Atomic uint32_t schema;
	int lockfd;               /* data_dir, flock(LOCK_SH) while open; -1 */
	/* group commit (see the top of this file); all under mu */
	pthread_mutex_t mu;
	pthread_cond_t writer_cv;     /* the writer: a caller queued, the batch closed */
	pthread_cond_t done_cv;       /* members: a batch was committed */
	pthread_t writer;
	int writer_running;
	int stopping;
	MDB_txn *batch;               /* the open batch txn (the writer's) */
	int accepting;                /* the batch admits children */
	int lingering;                /* ... with the slot free, until until_ns */
	int64_t until_ns;             /* ... until then (CLOCK_MONOTONIC) */
	unsigned batch_max;           /* STORE_BATCH_MAX (store_batch_limits) */
	int64_t batch_ns;             /* STORE_BATCH_MS */
	int active;                   /* a child is open */
	int direct;                   /* a caller's own txn is open (store_child_begin) */
	int direct_ok;                /* ... may be (store_batch_limits; 1) */
	int committing;               /* the writer is between its begin and its settle */
	unsigned admitted;            /* children the batch let in */
	unsigned expect;              /* members of the last batch: the load */
	uint64_t closed;              /* batches the writer closed */
	struct store_waiter *queue;   /* callers waiting for the slot, first first */
	struct store_waiter **queue_tail;
	unsigned waiting;             /* how many */
	struct store_txn *members;    /* children merged into the batch */
	unsigned nmembers;
	uint64_t batches;             /* batch commits (fsyncs) that succeeded */
	uint64_t changes;             /* write txns they held */
};


/* a caller waiting for the slot: handed it (or told the batch failed) directly */
struct store_waiter {
	pthread_cond_t cv;
	int granted;
	int failed;               /* no batch could begin */
	struct store_waiter *next;
};


struct store_txn {
	int reader;               /* store_read_begin's: reset and kept, not freed */
	struct store *s;
	MDB_txn *txn;
	int write;                /* a child of the batch, or direct */
	int direct;               /* a txn of its own, committed by its caller */
	uint64_t closed;          /* ... begun after s->closed batches */
	uint32_t schema;          /* store_schema_set: written on commit */
	struct store_txn *next;   /* the batch's members */
	int done;                 /* the batch was committed (or failed): */
	int rc;                   /* its LMDB result */
	int full;                 /* STORE_FULL_* of that result */
	void (*on_commit)(void);  /* store_txn_on_commit: after the commit is on disk */
};


/*
 * Set when a write call on this thread failed because the map is full,
 * cleared when the thread begins a write txn: like errno, and per thread
 * because a write txn lives on one thread (see store_full).
 */
extern _Thread_local int store_full_flag;

/* log an LMDB error; STORE_FULL_* when it was a full map or disk (store.c) */
int store_mdb_warn(const struct store *s, const char *what, int rc);

/* store_batch.c */
void store_batch_init(struct store *s);     /* the locks and limits of s */
void store_batch_fini(struct store *s);
int store_writer_start(struct store *s, char *err, size_t errlen);
void store_writer_stop(struct store *s);
int store_child_begin(struct store_txn *t); /* the write slot: 0 or -1 */
/* t's child was merged into the batch with result rc: wait for the batch's
 * commit; its result (0 once on disk) */
int store_child_commit(struct store_txn *t, int rc);
void store_child_abort(struct store_txn *t);  /* after mdb_txn_abort */

#endif

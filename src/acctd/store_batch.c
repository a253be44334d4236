/*
 * The store's group commit (store.c has the rest of the store).
 *
 * Group commit: a caller's write txn is not an LMDB write txn of its own
 * but a nested txn (a child) of the batch txn, which one writer thread per
 * store begins and commits. LMDB's writer lock is a mutex owned by the
 * thread that locks it, so only that thread may begin and commit the
 * parent; a child has no such tie, and runs on the caller's thread. One
 * child at a time (LMDB allows one; s->active): a caller waits in
 * store_txn_begin for the slot, makes its change, and store_txn_commit
 * merges the child into the batch (no I/O) and then waits until the writer
 * has committed the whole batch with one fsync, and returns that commit's
 * result: 0 only once the change is on disk, -1 (store_full() saying why)
 * for every member of a batch whose commit failed. store_txn_abort drops
 * the child alone: the batch and the other members are untouched. The
 * writer closes a batch when no caller waits for the slot, or at
 * STORE_BATCH_MAX members or STORE_BATCH_MS after it opened, whichever
 * comes first (checked each time a child ends; a batch smaller than the
 * last one stays open for its time, see store_slot_next); callers that
 * arrive while it commits wait for the next one.
 * A child sees the batch's earlier children (uncommitted, but nobody is
 * answered before they are on disk, and if they never are, neither is it).
 *
 * Alone, a caller does not wait for the writer: when the last batch was one
 * (no load to share a commit with), no batch is open or being committed
 * and nobody queues, its write txn is a top-level LMDB txn
 * of its own ("direct"), begun and committed (with its fsync) on its own
 * thread. A batch needs four hand-offs between threads (wake the writer,
 * slot granted, batch closed, result); one caller at a time, with nobody
 * to share the fsync with, paid them for nothing. Callers that come while
 * a direct txn is open queue for the next batch as usual: the writer's
 * begin waits on LMDB's writer lock until the direct txn is committed.
 *
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lmdb.h>

#include "acctd.h"
#include "store_impl.h"

void
store_batch_init(struct store *s)
{
	pthread_condattr_t ca;

	pthread_mutex_init(&s->mu, NULL);
	if (pthread_condattr_init(&ca) != 0 ||
	    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
	    pthread_cond_init(&s->writer_cv, &ca) != 0)
		abort();                  /* only ENOMEM/EINVAL: no way on */
	pthread_condattr_destroy(&ca);
	s->queue_tail = &s->queue;
	s->batch_max = STORE_BATCH_MAX;
	s->batch_ns = STORE_BATCH_MS * 1000000L;
	s->direct_ok = 1;
	pthread_cond_init(&s->done_cv, NULL);
}

void
store_batch_fini(struct store *s)
{
	pthread_cond_destroy(&s->done_cv);
	pthread_cond_destroy(&s->writer_cv);
	pthread_mutex_destroy(&s->mu);
}

static int64_t
store_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * The slot is free (no child open): hand it to the first caller in the
 * queue while the batch admits more, else close the batch (the writer
 * commits it). FIFO and a direct handoff, so no caller is overtaken and
 * one wakeup passes the slot. With nobody queued, a batch smaller than the
 * last one stays open for the rest of its time (the writer waits): under
 * load the callers the last batch answered are on their way back, and
 * closing now would commit a few and make the rest wait a whole fsync.
 * One caller at a time never waits: the last batch was one. Called with
 * s->mu held.
 */
static void
store_slot_next(struct store *s)
{
	struct store_waiter *w = s->queue;
	int open;

	if (!s->accepting)
		return;
	/* admitted, not nmembers: the child that just ended is merged after */
	open = s->admitted < s->batch_max && store_now_ns() < s->until_ns;
	/* the first caller always gets in: a new batch is opened for it */
	if (w != NULL && (s->admitted == 0 || open)) {
		s->admitted++;
		s->queue = w->next;
		if (s->queue == NULL)
			s->queue_tail = &s->queue;
		s->waiting--;
		s->active = 1;
		w->granted = 1;
		pthread_cond_signal(&w->cv);
		return;
	}
	if (w == NULL && open && s->admitted < s->expect)
		s->lingering = 1;         /* the writer closes it in time */
	else
		s->accepting = 0;
	pthread_cond_signal(&s->writer_cv);
}

/*
 * The writer, while the batch admits children (s->mu held): wait for it to
 * close, and close it itself at its time when it lingers with the slot free.
 */
static void
store_batch_wait(struct store *s)
{
	struct timespec ts;

	while (s->accepting) {
		if (!s->lingering || s->active || s->queue != NULL) {
			pthread_cond_wait(&s->writer_cv, &s->mu);
			continue;
		}
		if (store_now_ns() >= s->until_ns) {
			s->accepting = 0;
			break;
		}
		ts.tv_sec = s->until_ns / 1000000000;
		ts.tv_nsec = s->until_ns % 1000000000;
		pthread_cond_timedwait(&s->writer_cv, &s->mu, &ts);
	}
	s->lingering = 0;
}

/* no batch could begin: every caller queued now fails; with s->mu held */
static void
store_queue_fail(struct store *s)
{
	struct store_waiter *w;

	while ((w = s->queue) != NULL) {
		s->queue = w->next;
		w->failed = 1;
		pthread_cond_signal(&w->cv);
	}
	s->queue_tail = &s->queue;
	s->waiting = 0;
}

/* every member learns the batch's result; called with s->mu held */
static void
store_batch_settle(struct store *s, struct store_txn *m, int rc, int full)
{
	struct store_txn *next;

	for (; m != NULL; m = next) {
		next = m->next;
		if (rc == 0 && m->schema != 0)
			s->schema = m->schema;
		if (rc == 0)
			s->changes++;
		m->rc = rc;
		m->full = full;
		m->done = 1;
	}
	pthread_cond_broadcast(&s->done_cv);
}

/* the writer thread: one batch txn after another, for as long as the store is open */
static void *
store_writer(void *arg)
{
	struct store *s = arg;
	struct store_txn *members;
	MDB_txn *batch;
	int rc, full;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (!s->stopping && s->queue == NULL)
			pthread_cond_wait(&s->writer_cv, &s->mu);
		if (s->queue == NULL)
			break;                    /* stopping, and nobody waits */
		s->committing = 1;
		pthread_mutex_unlock(&s->mu);
		rc = mdb_txn_begin(s->env, NULL, 0, &batch);
		if (rc)
			store_mdb_warn(s, "begin write", rc);
		pthread_mutex_lock(&s->mu);
		if (rc) {
			s->committing = 0;
			store_queue_fail(s);      /* later callers try again */
			continue;
		}
		s->batch = batch;
		s->accepting = 1;
		s->admitted = 0;
		s->until_ns = store_now_ns() + s->batch_ns;
		store_slot_next(s);
		store_batch_wait(s);
		s->batch = NULL;
		s->expect = s->nmembers;
		s->closed++;
		members = s->members;
		s->members = NULL;
		s->nmembers = 0;
		pthread_mutex_unlock(&s->mu);
		full = 0;
		if (members == NULL) {
			mdb_txn_abort(batch);     /* every child was aborted */
			rc = 0;
		} else if ((rc = mdb_txn_commit(batch)) != 0) {
			full = store_mdb_warn(s, "commit", rc);
		}
		pthread_mutex_lock(&s->mu);
		if (members != NULL && rc == 0)
			s->batches++;
		s->committing = 0;
		store_batch_settle(s, members, rc, full);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

int
store_writer_start(struct store *s, char *err, size_t errlen)
{
	int rc;

	rc = pthread_create(&s->writer, NULL, store_writer, s);
	if (rc != 0) {
		snprintf(err, errlen, "cannot start the store's writer thread: %s",
		    strerror(rc));
		return -1;
	}
	s->writer_running = 1;
	return 0;
}

void
store_writer_stop(struct store *s)
{
	if (!s->writer_running)
		return;
	pthread_mutex_lock(&s->mu);
	s->stopping = 1;
	pthread_cond_signal(&s->writer_cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->writer, NULL);
	s->writer_running = 0;
}

void
store_batch_limits(struct store *s, unsigned max_members, unsigned max_ms, int direct)
{
	pthread_mutex_lock(&s->mu);
	s->batch_max = max_members > 0 ? max_members : 1;
	s->batch_ns = (int64_t)max_ms * 1000000;
	s->direct_ok = direct;
	pthread_mutex_unlock(&s->mu);
}

void
store_stats(struct store *s, struct store_stats *st)
{
	pthread_mutex_lock(&s->mu);
	st->batches = s->batches;
	st->changes = s->changes;
	st->waiting = s->waiting;
	st->last_members = s->expect;
	pthread_mutex_unlock(&s->mu);
}

/* t's child has ended: the slot goes on; with s->mu held */
static void
store_child_ended(struct store *s)
{
	s->active = 0;
	store_slot_next(s);
}

/* a direct txn has ended (committed or not): callers that queued meanwhile
 * signalled the writer already, whose begin waited on LMDB's writer lock */
static void
store_direct_ended(struct store *s)
{
	pthread_mutex_lock(&s->mu);
	s->direct = 0;
	pthread_mutex_unlock(&s->mu);
}

/*
 * A write txn: the slot in the current batch (a child txn), or a txn of
 * its own when the caller is alone. Blocks while
 * another caller holds the slot or the writer commits. A write txn begun
 * twice on one thread deadlocks, as LMDB's writer lock would.
 */
int
store_child_begin(struct store_txn *t)
{
	struct store *s = t->s;
	struct store_waiter w = { .granted = 0 };
	int rc;

	pthread_mutex_lock(&s->mu);
	if (s->direct_ok && s->expect <= 1 && s->batch == NULL && !s->committing &&
	    !s->direct && s->queue == NULL && !s->stopping) {
		/* alone: a txn of its own (see the top of this file) */
		s->direct = 1;
		t->closed = s->closed;
		pthread_mutex_unlock(&s->mu);
		rc = mdb_txn_begin(s->env, NULL, 0, &t->txn);
		if (rc == 0) {
			t->direct = 1;
			return 0;
		}
		store_mdb_warn(s, "begin write", rc);
		store_direct_ended(s);
		return -1;
	}
	pthread_cond_init(&w.cv, NULL);
	*s->queue_tail = &w;
	s->queue_tail = &w.next;
	s->waiting++;
	if (s->batch == NULL)
		pthread_cond_signal(&s->writer_cv);
	else if (!s->active)
		store_slot_next(s);
	while (!w.granted && !w.failed)
		pthread_cond_wait(&w.cv, &s->mu);
	pthread_mutex_unlock(&s->mu);
	pthread_cond_destroy(&w.cv);
	if (w.failed)
		return -1;                /* logged by the writer */
	rc = mdb_txn_begin(s->env, s->batch, 0, &t->txn);
	if (rc) {
		store_mdb_warn(s, "begin write", rc);
		pthread_mutex_lock(&s->mu);
		store_child_ended(s);
		pthread_mutex_unlock(&s->mu);
		return -1;
	}
	return 0;
}

int
store_child_commit(struct store_txn *t, int rc)
{
	struct store *s = t->s;

	if (t->direct) {
		/* rc: its own commit, synced (store_txn_commit) */
		pthread_mutex_lock(&s->mu);
		s->direct = 0;
		if (rc == 0) {
			if (t->schema != 0)
				s->schema = t->schema;
			s->batches++;
			s->changes++;
			/* a batch of one, unless a batch closed meanwhile (it
			 * began once this commit let go of LMDB's writer lock):
			 * then that one is the latest load */
			if (s->closed == t->closed)
				s->expect = 1;
		}
		pthread_mutex_unlock(&s->mu);
		return rc;
	}
	pthread_mutex_lock(&s->mu);
	store_child_ended(s);
	if (rc == 0) {
		t->next = s->members;
		s->members = t;
		s->nmembers++;
		while (!t->done)
			pthread_cond_wait(&s->done_cv, &s->mu);
		rc = t->rc;
		if (rc)
			store_full_flag = t->full;   /* the writer logged it */
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

void
store_child_abort(struct store_txn *t)
{
	if (t->direct) {
		store_direct_ended(t->s);
		return;
	}
	pthread_mutex_lock(&t->s->mu);
	store_child_ended(t->s);
	pthread_mutex_unlock(&t->s->mu);
}

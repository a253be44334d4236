/*
 * Scheduled rotation of the database password (issue 15, part D).
 *
 * The period of a user: passwords.rotate_every_days (the appliance's
 * policy, 0 = off) or the user's own dbpass_rotate_every_days, never longer
 * than the policy when the policy is on (rotate_days). Each password record
 * holds the time it is due (dbpass.c, "due_at": created_at + the period),
 * and an index in STORE_DB_META keyed by that time,
 *
 *   "rotate_due/" || due (8 bytes, big-endian) || user id  ->  ""
 *
 * is moved in the same txn as the record (rotate_index_move), so the
 * thread below reads only the entries that are due, never every user. A
 * rotation is one write txn: the new password, its outbox entries, the
 * audit record (no actor, data.source "scheduled") and the next due time,
 * all or nothing. A kill -9 before the commit leaves the entry due (the
 * next start rotates it once); after it, the entry is in the future: a
 * restart never loses nor doubles one. A node that is down only delays the
 * push (the outbox retries it).
 *
 * A change of the policy (SIGHUP, a start with another file) moves every
 * due time: META "rotate_policy" records the policy the index was built
 * for; when it differs the thread recomputes every record, ROTATE_BATCH to
 * a write txn, and writes the new policy with the last batch (a reindex cut
 * off is done again).
 *
 * ACCTD_TEST_DAY_SECONDS=N in acctd's environment (tests only, logged as a
 * warning): a day lasts N seconds, so tests see rotations within seconds.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acctd.h"

#define ROTATE_PREFIX "rotate_due/"
#define ROTATE_PREFIX_LEN (sizeof(ROTATE_PREFIX) - 1)
#define ROTATE_KEY_LEN (ROTATE_PREFIX_LEN + 8 + SECRET_ID_LEN)
#define ROTATE_BATCH 16          /* rotations looked up per scan */
#define ROTATE_REINDEX_BATCH 256 /* records rescheduled per write txn */
#define ROTATE_CHECK_EVERY 60    /* s: the longest the thread sleeps */

static int rotate_stopped(void);

static pthread_once_t rotate_once = PTHREAD_ONCE_INIT;
static int64_t rotate_day_s = 86400;

static void
rotate_day_init(void)
{
	const char *v = getenv("ACCTD_TEST_DAY_SECONDS");
	char *end;
	long n;

	if (v == NULL || v[0] == '\0')
		return;
	n = strtol(v, &end, 10);
	if (*end != '\0' || n < 1 || n > 86400) {
		log_warnx("rotate: ACCTD_TEST_DAY_SECONDS=%s ignored (1 to 86400)", v);
		return;
	}
	rotate_day_s = n;
	log_warnx("rotate: ACCTD_TEST_DAY_SECONDS=%ld: a day lasts %ld s (tests only, "
	    "never in production)", n, n);
}

int64_t
rotate_day_seconds(void)
{
	pthread_once(&rotate_once, rotate_day_init);
	return rotate_day_s;
}

int
rotate_days(int user_days)
{
	const struct conf *c = app_conf();
	int p = c != NULL ? c->passwords_rotate_every_days : 0;   /* NULL: tools, unit tests */

	if (user_days <= 0)
		return p;
	return p == 0 || user_days < p ? user_days : p;
}

int
rotate_due(struct store_txn *t, const char *user_id, int64_t created_at, int64_t *due)
{
	struct user u;
	int rc = user_load(t, user_id, &u), days;

	if (rc == -1)
		return -1;
	days = rotate_days(rc == 0 ? u.dbpass_rotate_days : 0);
	if (rc == 0)
		user_clear(&u);
	*due = days ? created_at + days * rotate_day_seconds() : 0;
	return 0;
}

static void
rotate_key(uint8_t k[ROTATE_KEY_LEN], int64_t due, const char *user_id)
{
	memcpy(k, ROTATE_PREFIX, ROTATE_PREFIX_LEN);
	for (int i = 0; i < 8; i++)
		k[ROTATE_PREFIX_LEN + i] = (uint8_t)((uint64_t)due >> (56 - 8 * i));
	memcpy(k + ROTATE_PREFIX_LEN + 8, user_id, SECRET_ID_LEN);
}

int
rotate_index_move(struct store_txn *t, const char *user_id, int64_t old_due, int64_t due)
{
	uint8_t k[ROTATE_KEY_LEN];

	if (old_due == due || strlen(user_id) != SECRET_ID_LEN)
		return 0;
	if (old_due != 0) {
		rotate_key(k, old_due, user_id);
		if (store_del(t, STORE_DB_META, k, sizeof(k)) == -1)
			return -1;
	}
	if (due == 0)
		return 0;
	rotate_key(k, due, user_id);
	return store_put(t, STORE_DB_META, k, sizeof(k), "", 0);
}

/* ---- the policy the index was built for ---- */

static void
rotate_policy_str(char *out, size_t len)
{
	snprintf(out, len, "%d:%lld", rotate_days(0), (long long)rotate_day_seconds());
}

/* 1 when META "rotate_policy" is want, 0 when not, -1 */
static int
rotate_policy_is(const char *want)
{
	struct store_txn *t;
	void *v = NULL;
	size_t vl;
	int rc;

	if (store_txn_begin(app.store, 0, &t) == -1)
		return -1;
	rc = store_get(t, STORE_DB_META, "rotate_policy", 13, &v, &vl);
	store_txn_abort(t);
	if (rc == -1)
		return -1;
	rc = rc == 0 && vl == strlen(want) && memcmp(v, want, vl) == 0;
	free(v);
	return rc;
}

struct rotate_ids {
	const char *after;
	size_t n, max;
	char (*ids)[SECRET_ID_LEN + 1];
};

static int
rotate_collect(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	struct rotate_ids *c = arg;

	(void)v;
	(void)vl;
	if (kl != SECRET_ID_LEN || (c->after[0] && memcmp(k, c->after, kl) <= 0))
		return 0;
	if (c->n == c->max)
		return 1;
	memcpy(c->ids[c->n], k, kl);
	c->ids[c->n++][kl] = '\0';
	return 0;
}

/* one batch of the records after `after` rescheduled; the last one
 * records the policy: 1 done, 0 more to do, -1 */
static int
rotate_reindex_batch(char after[SECRET_ID_LEN + 1], const char *policy)
{
	char ids[ROTATE_REINDEX_BATCH][SECRET_ID_LEN + 1];
	struct rotate_ids c = { after, 0, ROTATE_REINDEX_BATCH, ids };
	struct store_txn *t;
	int rc;

	if (store_txn_begin(app.store, 1, &t) == -1)
		return -1;
	rc = store_iter(t, STORE_DB_PASSWORD, after, strlen(after), 0, rotate_collect, &c);
	for (size_t i = 0; rc != -1 && i < c.n; i++)
		rc = dbpass_reschedule(t, ids[i]);
	if (rc != -1 && c.n < ROTATE_REINDEX_BATCH)
		rc = store_put(t, STORE_DB_META, "rotate_policy", 13, policy, strlen(policy));
	if (rc == -1) {
		store_txn_abort(t);
		return -1;
	}
	if (store_txn_commit(t) == -1)
		return -1;
	if (c.n > 0)
		memcpy(after, ids[c.n - 1], SECRET_ID_LEN + 1);
	return c.n < ROTATE_REINDEX_BATCH;
}

/* every due time under the running policy, once per change of it */
static int
rotate_reindex(void)
{
	static char done[64];
	char policy[64], after[SECRET_ID_LEN + 1] = "";
	int rc;

	rotate_policy_str(policy, sizeof(policy));
	if (strcmp(policy, done) == 0)
		return 0;
	if ((rc = rotate_policy_is(policy)) == 0) {
		log_info("rotate: scheduling every database password for the policy %s "
		    "(days:seconds a day)", policy);
		while ((rc = rotate_reindex_batch(after, policy)) == 0 && !rotate_stopped())
			;
	}
	if (rc == -1) {
		log_warnx("rotate: cannot schedule the rotations; trying again in %d s",
		    ROTATE_CHECK_EVERY);
		return -1;
	}
	if (rc == 0)                     /* stopping: the next start goes on */
		return -1;
	snprintf(done, sizeof(done), "%s", policy);
	return 0;
}

/* ---- the rotations that are due ---- */

struct rotate_scan {
	int64_t now;
	int64_t next;              /* the first due time after now; 0: none */
	size_t n;
	char ids[ROTATE_BATCH][SECRET_ID_LEN + 1];
	int64_t dues[ROTATE_BATCH];
};

static int
rotate_scan_fn(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	struct rotate_scan *s = arg;
	const uint8_t *p = k;
	uint64_t due = 0;

	(void)v;
	(void)vl;
	if (kl < ROTATE_PREFIX_LEN || memcmp(k, ROTATE_PREFIX, ROTATE_PREFIX_LEN) != 0)
		return 1;
	if (kl != ROTATE_KEY_LEN)
		return 0;
	for (int i = 0; i < 8; i++)
		due = due << 8 | p[ROTATE_PREFIX_LEN + i];
	if ((int64_t)due > s->now || s->n == ROTATE_BATCH) {
		s->next = (int64_t)due > s->now ? (int64_t)due : s->now;
		return 1;
	}
	memcpy(s->ids[s->n], p + ROTATE_PREFIX_LEN + 8, SECRET_ID_LEN);
	s->ids[s->n][SECRET_ID_LEN] = '\0';
	s->dues[s->n++] = (int64_t)due;
	return 0;
}

static int
rotate_scan(struct rotate_scan *s)
{
	struct store_txn *t;
	int rc;

	memset(s, 0, sizeof(*s));
	s->now = app_now();
	if (store_txn_begin(app.store, 0, &t) == -1)
		return -1;
	rc = store_iter(t, STORE_DB_META, ROTATE_PREFIX, ROTATE_PREFIX_LEN, 0,
	    rotate_scan_fn, s);
	store_txn_abort(t);
	return rc == -1 ? -1 : 0;
}

/* user_id's password, due at `due`, rotated in one write txn */
static int
rotate_one(const char *user_id, int64_t due)
{
	struct account_txn ax = { 0 };
	struct dbpass_new db;
	struct dbpass d;
	struct user u;
	int rc;

	if (dbpass_prepare(&db, 1) == -1)        /* the slow part, before the txn */
		return -1;
	if (store_txn_begin(app.store, 1, &ax.t) == -1) {
		dbpass_new_wipe(&db);
		return -1;
	}
	account_actor(&ax, NULL, NULL);
	rc = dbpass_get(ax.t, user_id, &d, NULL, 0);
	if (rc == STORE_NOTFOUND || (rc == 0 && d.due_at != due))
		rc = rotate_index_move(ax.t, user_id, due, 0);   /* moved on meanwhile */
	else if (rc == 0 && (rc = user_load(ax.t, user_id, &u)) == 0) {
		rc = account_dbpass_scheduled(&ax, &u, &db) == ACCOUNT_OK ? 0 : -1;
		if (rc == 0)
			log_info("rotate: the database password of \"%s\" rotated (scheduled)",
			    u.handle);
		user_clear(&u);
	}
	dbpass_new_wipe(&db);
	if (rc != 0) {
		store_txn_abort(ax.t);
		log_warnx("rotate: cannot rotate the database password of %s; "
		    "trying again later", user_id);
		return -1;
	}
	if (store_txn_commit(ax.t) == -1)
		return -1;
	account_after_commit(&ax);
	return 0;
}

/* the rotations due now: the time of the next one (0: none), -1 */
static int64_t
rotate_run(void)
{
	struct rotate_scan s;

	do {
		if (rotate_scan(&s) == -1)
			return -1;
		for (size_t i = 0; i < s.n; i++)
			if (rotate_one(s.ids[i], s.dues[i]) == -1)
				return -1;
	} while (s.n == ROTATE_BATCH);
	return s.next;
}

/* ---- the thread ---- */

static pthread_t rotate_thread;
static pthread_mutex_t rotate_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t rotate_cond = PTHREAD_COND_INITIALIZER;
static int rotate_stopping, rotate_woken, rotate_running;

static void
rotate_sleep(int64_t next)
{
	int64_t cap = ROTATE_CHECK_EVERY, now = app_now();
	struct timespec ts;

	if (rotate_day_seconds() < cap)
		cap = rotate_day_seconds();
	if (next > now && next - now < cap)
		cap = next - now;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)cap;
	pthread_mutex_lock(&rotate_mtx);
	while (!rotate_stopping && !rotate_woken &&
	    pthread_cond_timedwait(&rotate_cond, &rotate_mtx, &ts) == 0)
		;
	rotate_woken = 0;
	pthread_mutex_unlock(&rotate_mtx);
}

static int
rotate_stopped(void)
{
	int s;

	pthread_mutex_lock(&rotate_mtx);
	s = rotate_stopping;
	pthread_mutex_unlock(&rotate_mtx);
	return s;
}

static void *
rotate_main(void *arg)
{
	(void)arg;
	while (!rotate_stopped()) {
		int64_t next = 0;

		if (rotate_reindex() == 0)
			next = rotate_run();
		rotate_sleep(next);
	}
	return NULL;
}

int
rotate_start(void)
{
	(void)rotate_day_seconds();
	if (pthread_create(&rotate_thread, NULL, rotate_main, NULL) != 0)
		return -1;
	rotate_running = 1;
	return 0;
}

void
rotate_wake(void)
{
	pthread_mutex_lock(&rotate_mtx);
	rotate_woken = 1;
	pthread_cond_signal(&rotate_cond);
	pthread_mutex_unlock(&rotate_mtx);
}

void
rotate_stop(void)
{
	if (!rotate_running)
		return;
	pthread_mutex_lock(&rotate_mtx);
	rotate_stopping = 1;
	pthread_cond_signal(&rotate_cond);
	pthread_mutex_unlock(&rotate_mtx);
	pthread_join(rotate_thread, NULL);
	rotate_running = 0;
}

/*
 * Brute-force limiter for console sign-in (and for the current password of
 * a password change), and the gate that bounds how many password KDFs run
 * at once. Failures are counted per handle and per client address in a
 * fixed window; reaching login.max_failures locks that handle or address
 * out for login.lockout seconds. A refused attempt is answered at once
 * (429): nothing sleeps in a handler, so an attacker cannot tie up workers.
 *
 * Fail closed, the contract of this file:
 *
 * - An attempt is reserved (limiter_begin) BEFORE the KDF runs and settled
 *   (limiter_end) on its result. Reservations count against max_failures, so
 *   N concurrent guesses for a handle with max_failures = 3 let at most 3
 *   reach the KDF; the others are refused like a locked handle.
 * - Handles and addresses live in separate tables, so a spray of source
 *   addresses never evicts a handle's counter. Only entries that carry no
 *   information (no failure in the window, not locked, nothing pending) are
 *   recycled. When the address table is full of live entries the address
 *   is not tracked but the handle still is; when the handle table is full,
 *   attempts for handles not in it are refused until an entry frees up: a
 *   full table never means "allowed".
 * - IPv6 clients are counted by their /64 (one subscriber's prefix), IPv4
 *   (and IPv4-mapped IPv6) by their address.
 *
 * In memory: a restart forgets the counters (an attacker cannot restart
 * the daemon). Lookups scan the table under one mutex (a few µs for 4096
 * entries, against tens or hundreds of ms for one KDF).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "acctd.h"

#define LIMITER_KEY_MAX 48        /* a handle (39) or an address key */
/* how long an attempt may wait for a KDF slot before 503 */
#define LIMITER_KDF_WAIT_MS 1000
/* the KDF threads' nice value (limiter_kdf_run) */
#define LIMITER_KDF_NICE 10

struct limiter_slot {
	char key[LIMITER_KEY_MAX];  /* "" = empty */
	uint32_t hash;
	int64_t window_start;
	int64_t locked_until;
	int64_t touched;
	int failures;             /* settled failures in the window */
	int pending;              /* reserved attempts not settled yet */
};

static struct limiter_slot limiter_handles[LIMITER_HANDLE_SLOTS];
static struct limiter_slot limiter_addrs[LIMITER_ADDR_SLOTS];
static pthread_mutex_t limiter_mtx = PTHREAD_MUTEX_INITIALIZER;
static int64_t limiter_full_warned;

static uint32_t
limiter_hash(const char *s)
{
	uint32_t h = 2166136261u;    /* FNV-1a: only a fast pre-compare */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

void
limiter_addr_key(const char *ip, char *out, size_t outlen)
{
	char buf[64];
	unsigned char a[16];
	struct in_addr v4;

	snprintf(buf, sizeof(buf), "%s", ip);
	buf[strcspn(buf, "%")] = '\0';           /* a zone index */
	if (inet_pton(AF_INET6, buf, a) == 1) {
		static const unsigned char mapped[12] =
		    { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

		if (memcmp(a, mapped, sizeof(mapped)) == 0) {
			memcpy(&v4, a + 12, 4);
			inet_ntop(AF_INET, &v4, buf, sizeof(buf));
			snprintf(out, outlen, "%s", buf);
			return;
		}
		memset(a + 8, 0, 8);
		inet_ntop(AF_INET6, a, buf, sizeof(buf));
		snprintf(out, outlen, "%s/64", buf);
		return;
	}
	snprintf(out, outlen, "%s", buf);
}

/* forget failures outside the window and a lockout that is over */
static void
limiter_age(struct limiter_slot *s, int64_t now, const struct conf *c)
{
	if (s->locked_until != 0 && s->locked_until <= now)
		s->locked_until = 0;
	if (s->failures > 0 && now - s->window_start >= c->login_window)
		s->failures = 0;
}

static int
limiter_live(struct limiter_slot *s, int64_t now, const struct conf *c)
{
	limiter_age(s, now, c);
	return s->pending > 0 || s->locked_until != 0 || s->failures > 0;
}

/* when a live slot stops being live (for Retry-After on a full table) */
static int64_t
limiter_free_at(const struct limiter_slot *s, int64_t now, const struct conf *c)
{
	int64_t t = now + 1;

	if (s->pending > 0)
		return now + 1;
	if (s->locked_until > t)
		t = s->locked_until;
	if (s->failures > 0 && s->window_start + c->login_window > t)
		t = s->window_start + c->login_window;
	return t;
}

/*
 * The slot for key, created when missing by recycling an empty or dead
 * slot (least recently touched). NULL when every slot is live; then *free_at
 * is when the first one frees up.
 */
static struct limiter_slot *
limiter_find(struct limiter_slot *tab, size_t n, const char *key, int64_t now,
    const struct conf *c, int64_t *free_at)
{
	uint32_t h = limiter_hash(key);
	struct limiter_slot *old = NULL;
	int64_t soonest = INT64_MAX;

	for (size_t i = 0; i < n; i++) {
		struct limiter_slot *s = &tab[i];

		if (s->key[0] == '\0') {
			if (old == NULL || old->key[0] != '\0')
				old = s;
			continue;
		}
		if (s->hash == h && strcmp(s->key, key) == 0) {
			limiter_age(s, now, c);
			return s;
		}
		if (old != NULL && old->key[0] == '\0')
			continue;
		if (!limiter_live(s, now, c)) {
			if (old == NULL || s->touched < old->touched)
				old = s;
		} else if (old == NULL) {
			int64_t f = limiter_free_at(s, now, c);

			if (f < soonest)
				soonest = f;
		}
	}
	if (old == NULL) {
		*free_at = soonest;
		return NULL;
	}
	memset(old, 0, sizeof(*old));
	snprintf(old->key, sizeof(old->key), "%s", key);
	old->hash = h;
	old->touched = now;
	return old;
}

/* seconds this slot makes an attempt wait; 0 = none */
static int64_t
limiter_wait(const struct limiter_slot *s, int64_t now, const struct conf *c)
{
	if (s->locked_until > now)
		return s->locked_until - now;
	if (s->failures + s->pending >= c->login_max_failures)
		return 1;    /* the attempts in flight may use up the budget */
	return 0;
}

int
limiter_begin(const char *handle, const char *ip, int64_t now,
    const struct conf *c, struct limiter_ticket *t)
{
	struct limiter_slot *h, *a;
	char akey[LIMITER_KEY_MAX];
	int64_t wait, free_at = 0;
	int full_warn = 0;

	t->handle_slot = t->addr_slot = -1;
	limiter_addr_key(ip, akey, sizeof(akey));
	pthread_mutex_lock(&limiter_mtx);
	h = limiter_find(limiter_handles, LIMITER_HANDLE_SLOTS, handle, now, c, &free_at);
	if (h == NULL) {
		/* fail closed: an untracked handle would be unlimited */
		wait = free_at > now ? free_at - now : 1;
		if (now - limiter_full_warned >= 60) {
			limiter_full_warned = now;
			full_warn = 1;
		}
		pthread_mutex_unlock(&limiter_mtx);
		if (full_warn)
			log_warnx("login: every handle counter is in use; refusing "
			    "sign-in for other handles for up to %lld s",
			    (long long)wait);
		return (int)(wait > 0 ? wait : 1);
	}
	wait = limiter_wait(h, now, c);
	/* a full address table: the address is not tracked, the handle is */
	a = limiter_find(limiter_addrs, LIMITER_ADDR_SLOTS, akey, now, c, &free_at);
	if (a != NULL && limiter_wait(a, now, c) > wait)
		wait = limiter_wait(a, now, c);
	if (wait == 0) {
		h->pending++;
		h->touched = now;
		t->handle_slot = (int)(h - limiter_handles);
		if (a != NULL) {
			a->pending++;
			a->touched = now;
			t->addr_slot = (int)(a - limiter_addrs);
		}
	}
	pthread_mutex_unlock(&limiter_mtx);
	return (int)wait;
}

static void
limiter_settle(struct limiter_slot *s, enum limiter_result res, int is_handle,
    int64_t now, const struct conf *c)
{
	if (s->pending > 0)
		s->pending--;
	limiter_age(s, now, c);
	s->touched = now;
	if (res == LIMITER_OK && is_handle)
		s->failures = 0;
	if (res != LIMITER_FAILED)
		return;
	if (s->failures == 0)
		s->window_start = now;
	if (++s->failures >= c->login_max_failures) {
		if (now + c->login_lockout > s->locked_until)
			s->locked_until = now + c->login_lockout;
		s->failures = 0;
	}
}

void
limiter_end(struct limiter_ticket *t, enum limiter_result res, int64_t now,
    const struct conf *c)
{
	pthread_mutex_lock(&limiter_mtx);
	if (t->handle_slot >= 0 && t->handle_slot < LIMITER_HANDLE_SLOTS)
		limiter_settle(&limiter_handles[t->handle_slot], res, 1, now, c);
	if (t->addr_slot >= 0 && t->addr_slot < LIMITER_ADDR_SLOTS)
		limiter_settle(&limiter_addrs[t->addr_slot], res, 0, now, c);
	pthread_mutex_unlock(&limiter_mtx);
	t->handle_slot = t->addr_slot = -1;
}

void
limiter_reset(void)
{
	pthread_mutex_lock(&limiter_mtx);
	memset(limiter_handles, 0, sizeof(limiter_handles));
	memset(limiter_addrs, 0, sizeof(limiter_addrs));
	limiter_full_warned = 0;
	pthread_mutex_unlock(&limiter_mtx);
}

/*
 * The KDF gate: at most one PBKDF2 per CPU runs at once, at most as many
 * again wait (up to LIMITER_KDF_WAIT_MS) for a turn, and everyone else is
 * answered 503 at once. A flood of sign-ins therefore holds at most
 * 2 x CPUs of http.threads workers.
 *
 * The KDF itself runs on one of as many pool threads (one per slot) at
 * nice LIMITER_KDF_NICE; its worker waits for it without using the CPU.
 * With every CPU busy with sign-ins, a request thread that wakes (the
 * front stage, a worker with /healthz) then runs at once instead of
 * waiting for a KDF's time slice: with 64 connections failing sign-ins
 * at 600,000 iterations (make bench, "flood"), /healthz p99 was 3.0 and
 * 3.8 ms against 5.4 and 5.7 ms with the same threads at nice 0. A
 * thread's nice value can be raised without privileges but not lowered
 * again, hence threads of their own rather than a worker that lowers
 * itself for the KDF.
 */
static pthread_mutex_t limiter_kdf_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t limiter_kdf_cv;
static pthread_once_t limiter_kdf_once = PTHREAD_ONCE_INIT;
static int limiter_kdf_running, limiter_kdf_waiting, limiter_kdf_max;

/* the pool: jobs queued under limiter_kdf_mtx */
struct limiter_kdf_job {
	void (*fn)(void *);
	void *arg;
	int done;
	struct limiter_kdf_job *next;
};
static pthread_cond_t limiter_kdf_job_cv = PTHREAD_COND_INITIALIZER;   /* queued */
static pthread_cond_t limiter_kdf_done_cv = PTHREAD_COND_INITIALIZER;  /* done */
static struct limiter_kdf_job *limiter_kdf_jobs, **limiter_kdf_jobs_tail = &limiter_kdf_jobs;
static pthread_t limiter_kdf_tids[16];
static int limiter_kdf_threads;   /* started; 0: KDFs run on the caller */
static int limiter_kdf_pool_tried, limiter_kdf_stopping;

static void *
limiter_kdf_thread(void *arg)
{
	struct limiter_kdf_job *j;

	(void)arg;
	(void)pthread_setname_np(pthread_self(), "acctd-kdf");
	/* best effort: if refused, the KDFs run at the workers' priority */
	(void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), LIMITER_KDF_NICE);
	pthread_mutex_lock(&limiter_kdf_mtx);
	for (;;) {
		while ((j = limiter_kdf_jobs) == NULL && !limiter_kdf_stopping)
			pthread_cond_wait(&limiter_kdf_job_cv, &limiter_kdf_mtx);
		if (j == NULL)
			break;            /* stopping, nothing queued */
		limiter_kdf_jobs = j->next;
		if (limiter_kdf_jobs == NULL)
			limiter_kdf_jobs_tail = &limiter_kdf_jobs;
		pthread_mutex_unlock(&limiter_kdf_mtx);
		j->fn(j->arg);
		pthread_mutex_lock(&limiter_kdf_mtx);
		j->done = 1;
		pthread_cond_broadcast(&limiter_kdf_done_cv);
	}
	pthread_mutex_unlock(&limiter_kdf_mtx);
	return NULL;
}

/* the pool, at the first KDF (with limiter_kdf_mtx held): one thread per
 * slot, until limiter_kdf_stop */
static void
limiter_kdf_pool_start(void)
{
	limiter_kdf_pool_tried = 1;
	for (int i = 0; i < limiter_kdf_max; i++) {
		if (pthread_create(&limiter_kdf_tids[i], NULL, limiter_kdf_thread, NULL) != 0) {
			log_warnx("login: cannot start a KDF thread; %s",
			    limiter_kdf_threads ? "fewer run at a lower priority" :
			    "KDFs run on the request threads");
			break;
		}
		limiter_kdf_threads++;
	}
}

void
limiter_kdf_stop(void)
{
	int n;

	pthread_mutex_lock(&limiter_kdf_mtx);
	limiter_kdf_stopping = 1;
	n = limiter_kdf_threads;
	pthread_cond_broadcast(&limiter_kdf_job_cv);
	pthread_mutex_unlock(&limiter_kdf_mtx);
	for (int i = 0; i < n; i++)
		pthread_join(limiter_kdf_tids[i], NULL);
	pthread_mutex_lock(&limiter_kdf_mtx);
	limiter_kdf_threads = 0;      /* a late caller runs its KDF itself */
	pthread_mutex_unlock(&limiter_kdf_mtx);
}

static void
limiter_kdf_init(void)
{
	pthread_condattr_t ca;
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (pthread_cond_init(&limiter_kdf_cv, &ca) != 0)
		fatalx("login: cannot create a condition variable");
	pthread_condattr_destroy(&ca);
	limiter_kdf_max = n < 1 ? 1 : n > 16 ? 16 : (int)n;
}

int
limiter_kdf_slots(void)
{
	pthread_once(&limiter_kdf_once, limiter_kdf_init);
	return limiter_kdf_max;
}

int
limiter_kdf_enter(void)
{
	struct timespec until;
	int rc = 0;

	pthread_once(&limiter_kdf_once, limiter_kdf_init);
	pthread_mutex_lock(&limiter_kdf_mtx);
	if (limiter_kdf_running >= limiter_kdf_max) {
		if (limiter_kdf_waiting >= limiter_kdf_max) {
			pthread_mutex_unlock(&limiter_kdf_mtx);
			return -1;
		}
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += LIMITER_KDF_WAIT_MS / 1000;
		until.tv_nsec += (LIMITER_KDF_WAIT_MS % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		limiter_kdf_waiting++;
		while (limiter_kdf_running >= limiter_kdf_max && rc != ETIMEDOUT)
			rc = pthread_cond_timedwait(&limiter_kdf_cv, &limiter_kdf_mtx, &until);
		limiter_kdf_waiting--;
		if (limiter_kdf_running >= limiter_kdf_max) {
			pthread_mutex_unlock(&limiter_kdf_mtx);
			return -1;
		}
	}
	limiter_kdf_running++;
	pthread_mutex_unlock(&limiter_kdf_mtx);
	return 0;
}

void
limiter_kdf_leave(void)
{
	pthread_mutex_lock(&limiter_kdf_mtx);
	if (limiter_kdf_running > 0)
		limiter_kdf_running--;
	pthread_cond_signal(&limiter_kdf_cv);
	pthread_mutex_unlock(&limiter_kdf_mtx);
}

int
limiter_kdf_run(void (*fn)(void *), void *arg)
{
	struct limiter_kdf_job j = { .fn = fn, .arg = arg };

	if (limiter_kdf_enter() == -1)
		return -1;
	/* a slot is held: at most limiter_kdf_max jobs at once, so a thread is
	 * free for this one (fewer threads started: it waits its turn) */
	pthread_mutex_lock(&limiter_kdf_mtx);
	if (!limiter_kdf_pool_tried && !limiter_kdf_stopping)
		limiter_kdf_pool_start();
	if (limiter_kdf_threads == 0) {
		pthread_mutex_unlock(&limiter_kdf_mtx);
		fn(arg);
	} else {
		*limiter_kdf_jobs_tail = &j;
		limiter_kdf_jobs_tail = &j.next;
		pthread_cond_signal(&limiter_kdf_job_cv);
		while (!j.done)
			pthread_cond_wait(&limiter_kdf_done_cv, &limiter_kdf_mtx);
		pthread_mutex_unlock(&limiter_kdf_mtx);
	}
	limiter_kdf_leave();
	return 0;
}

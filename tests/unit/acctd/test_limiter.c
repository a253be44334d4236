/*
 * limiter.c with synthetic addresses and clocks: the limiter fails closed
 * under pressure (address churn never frees a handle, a full table never
 * means "allowed" and answers when the first entry frees up, an attempt in
 * flight keeps its slot), counts attempts before the KDF, and aggregates
 * IPv6 by /64; the KDF gate refuses rather than queues, and the KDF runs
 * on the pool's lower-priority threads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>

#include "acctd.h"

#define NOW 1800000000

static struct conf conf_ = {
	.login_max_failures = 3,
	.login_window = 300,
	.login_lockout = 900,
};

static int
reset(void **state)
{
	(void)state;
	limiter_reset();
	return 0;
}

/* one attempt with its result: the wait limiter_begin answered (0 = ran) */
static int
attempt(const char *handle, const char *ip, int64_t now, enum limiter_result res)
{
	struct limiter_ticket t;
	int wait = limiter_begin(handle, ip, now, &conf_, &t);

	if (wait == 0)
		limiter_end(&t, res, now, &conf_);
	return wait;
}

static void
v4(unsigned i, char *out, size_t len)
{
	snprintf(out, len, "10.%u.%u.%u", (i >> 16) & 255, (i >> 8) & 255, i & 255);
}

static void
test_addr_key(void **state)
{
	char k[64];
	(void)state;

	limiter_addr_key("2001:db8::1", k, sizeof(k));
	assert_string_equal(k, "2001:db8::/64");
	limiter_addr_key("2001:db8:0:0:ffff:abcd:1234:5678", k, sizeof(k));
	assert_string_equal(k, "2001:db8::/64");
	limiter_addr_key("2001:db8:0:1::1", k, sizeof(k));
	assert_string_equal(k, "2001:db8:0:1::/64");
	limiter_addr_key("fe80::1%eth0", k, sizeof(k));
	assert_string_equal(k, "fe80::/64");
	limiter_addr_key("::1", k, sizeof(k));
	assert_string_equal(k, "::/64");
	limiter_addr_key("::ffff:192.0.2.7", k, sizeof(k));
	assert_string_equal(k, "192.0.2.7");
	limiter_addr_key("192.0.2.7", k, sizeof(k));
	assert_string_equal(k, "192.0.2.7");
}

/* the /64 is one client: three failures from three of its addresses lock
 * all of it, and nothing else */
static void
test_ipv6_by_64(void **state)
{
	(void)state;
	assert_int_equal(attempt("a", "2001:db8::1", NOW, LIMITER_FAILED), 0);
	assert_int_equal(attempt("b", "2001:db8::2:3", NOW, LIMITER_FAILED), 0);
	assert_int_equal(attempt("c", "2001:db8:0:0:ffff:ffff:ffff:ffff", NOW, LIMITER_FAILED), 0);
	assert_int_equal(attempt("d", "2001:db8::99", NOW + 1, LIMITER_OK), 899);
	assert_int_equal(attempt("d", "2001:db8:0:1::1", NOW + 1, LIMITER_OK), 0);
	assert_int_equal(attempt("d", "192.0.2.1", NOW + 1, LIMITER_OK), 0);
}

/* 2,000 addresses, one guess each, on one handle: 3 are tried */
static void
test_2000_addresses_one_handle(void **state)
{
	char ip[32];
	int ran = 0;
	(void)state;

	for (unsigned i = 0; i < 2000; i++) {
		v4(i, ip, sizeof(ip));
		if (attempt("bob", ip, NOW + i / 100, LIMITER_FAILED) == 0)
			ran++;
	}
	assert_int_equal(ran, 3);
	v4(5000, ip, sizeof(ip));
	assert_true(attempt("bob", ip, NOW + 20, LIMITER_OK) > 0);
}

/*
 * The old failure mode: lock enough addresses that the table is full of
 * locked entries, then nothing is counted. Here: bob has two failures, then
 * twice as many locked addresses as the address table holds (each on its
 * own handle, filling the handle table too), then bob's third failure still
 * locks bob, and a handle that no longer fits is refused, not let through.
 */
static void
test_churn_never_frees_a_handle(void **state)
{
	char ip[32], h[32];
	struct limiter_ticket t;
	int refused = 0;
	(void)state;

	assert_int_equal(attempt("bob", "192.0.2.1", NOW, LIMITER_FAILED), 0);
	assert_int_equal(attempt("bob", "192.0.2.2", NOW, LIMITER_FAILED), 0);
	for (unsigned i = 0; i < 2 * LIMITER_ADDR_SLOTS; i++) {
		v4(i, ip, sizeof(ip));
		snprintf(h, sizeof(h), "ghost%u", i);
		for (int k = 0; k < 3; k++)
			if (attempt(h, ip, NOW + 1, LIMITER_FAILED) != 0)
				refused++;
	}
	/* once the handle table is full, new handles are refused */
	assert_true(refused >= 3 * (2 * LIMITER_ADDR_SLOTS - LIMITER_HANDLE_SLOTS));
	assert_true(limiter_begin("newcomer", "192.0.2.9", NOW + 2, &conf_, &t) > 0);
	/* bob is still counted: the third failure locks him */
	assert_int_equal(attempt("bob", "198.51.100.1", NOW + 2, LIMITER_FAILED), 0);
	assert_int_equal(attempt("bob", "198.51.100.2", NOW + 3, LIMITER_OK), 899);
	/* a full table frees up when its entries expire: newcomers may try */
	assert_int_equal(attempt("newcomer", "192.0.2.9", NOW + 2 + 900, LIMITER_OK), 0);
}

/* an address table full of live entries: the address is not tracked, the
 * handle is, and the attempt is limited by it */
static void
test_full_address_table_counts_handle(void **state)
{
	char ip[32];
	struct limiter_ticket t;
	(void)state;

	for (unsigned i = 0; i < LIMITER_ADDR_SLOTS; i++) {
		char h[32];

		/* a failure keeps the address live; 2,000 handles take at
		 * most three failures each, so every attempt runs */
		v4(i, ip, sizeof(ip));
		snprintf(h, sizeof(h), "g%u", i % 2000);
		assert_int_equal(attempt(h, ip, NOW, LIMITER_FAILED), 0);
	}
	assert_int_equal(limiter_begin("bob", "203.0.113.1", NOW, &conf_, &t), 0);
	assert_int_equal(t.addr_slot, -1);
	assert_true(t.handle_slot >= 0);
	limiter_end(&t, LIMITER_FAILED, NOW, &conf_);
	assert_int_equal(attempt("bob", "203.0.113.2", NOW, LIMITER_FAILED), 0);
	assert_int_equal(attempt("bob", "203.0.113.3", NOW, LIMITER_FAILED), 0);
	assert_int_equal(attempt("bob", "203.0.113.4", NOW, LIMITER_OK), 900);
}

/*
 * A handle table full of live entries: a handle in it is still served, a
 * handle not in it is refused until the first entry frees up, and the wait
 * answered is exactly that (Retry-After); then entries with nothing left to
 * remember are recycled.
 */
static void
test_full_handle_table(void **state)
{
	char ip[32], h[32];
	(void)state;

	for (unsigned i = 0; i < LIMITER_HANDLE_SLOTS; i++) {
		v4(i, ip, sizeof(ip));
		snprintf(h, sizeof(h), "h%u", i);
		/* one failure each, the first at NOW + 5, the rest at NOW + 9 */
		assert_int_equal(attempt(h, ip, NOW + (i ? 9 : 5), LIMITER_FAILED), 0);
	}
	assert_int_equal(attempt("newcomer", "192.0.2.9", NOW + 10, LIMITER_OK), 295);
	assert_int_equal(attempt("h7", "192.0.2.9", NOW + 10, LIMITER_CANCELLED), 0);
	/* h0's window ends at NOW + 305: its slot is taken over */
	assert_int_equal(attempt("newcomer", "192.0.2.9", NOW + 304, LIMITER_OK), 1);
	assert_int_equal(attempt("newcomer", "192.0.2.9", NOW + 305, LIMITER_FAILED), 0);
	assert_int_equal(attempt("other", "192.0.2.9", NOW + 306, LIMITER_OK), 3);
}

/* an attempt in flight keeps its handle's slot: its result must be
 * counted, so the slot is not recycled however long it takes */
static void
test_in_flight_attempts_are_never_recycled(void **state)
{
	static struct limiter_ticket t[LIMITER_HANDLE_SLOTS];
	char ip[32], h[32];
	(void)state;

	for (unsigned i = 0; i < LIMITER_HANDLE_SLOTS; i++) {
		v4(i, ip, sizeof(ip));
		snprintf(h, sizeof(h), "h%u", i);
		assert_int_equal(limiter_begin(h, ip, NOW, &conf_, &t[i]), 0);
	}
	assert_int_equal(attempt("newcomer", "192.0.2.9", NOW + 3600, LIMITER_OK), 1);
	limiter_end(&t[42], LIMITER_FAILED, NOW + 3600, &conf_);
	/* h42 now holds a failure: still live */
	assert_int_equal(attempt("newcomer", "192.0.2.9", NOW + 3600, LIMITER_OK), 1);
	limiter_end(&t[7], LIMITER_CANCELLED, NOW + 3600, &conf_);
	assert_int_equal(attempt("newcomer", "192.0.2.9", NOW + 3600, LIMITER_OK), 0);
	for (unsigned i = 0; i < LIMITER_HANDLE_SLOTS; i++)
		if (i != 7 && i != 42)
			limiter_end(&t[i], LIMITER_CANCELLED, NOW + 3600, &conf_);
}

/* attempts in flight count: the 4th concurrent one is refused before its
 * KDF; when the 3 fail the handle is locked */
static void
test_reserved_before_kdf(void **state)
{
	struct limiter_ticket t[5];
	char ip[32];
	(void)state;

	for (int i = 0; i < 3; i++) {
		v4((unsigned)i, ip, sizeof(ip));
		assert_int_equal(limiter_begin("bob", ip, NOW, &conf_, &t[i]), 0);
	}
	assert_int_equal(limiter_begin("bob", "10.9.9.9", NOW, &conf_, &t[3]), 1);
	for (int i = 0; i < 3; i++)
		limiter_end(&t[i], LIMITER_FAILED, NOW, &conf_);
	assert_int_equal(limiter_begin("bob", "10.9.9.9", NOW, &conf_, &t[4]), 900);
}

/* a success releases its reservation and clears the handle's failures; a
 * cancelled attempt (no KDF slot, store error) is not counted */
static void
test_ok_and_cancel(void **state)
{
	struct limiter_ticket t;
	(void)state;

	assert_int_equal(attempt("bob", "10.0.0.1", NOW, LIMITER_FAILED), 0);
	assert_int_equal(attempt("bob", "10.0.0.2", NOW, LIMITER_FAILED), 0);
	assert_int_equal(attempt("bob", "10.0.0.3", NOW, LIMITER_OK), 0);
	assert_int_equal(attempt("bob", "10.0.0.4", NOW, LIMITER_FAILED), 0);
	assert_int_equal(attempt("bob", "10.0.0.5", NOW, LIMITER_FAILED), 0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(attempt("bob", "10.0.0.6", NOW, LIMITER_CANCELLED), 0);
	assert_int_equal(limiter_begin("bob", "10.0.0.7", NOW, &conf_, &t), 0);
	limiter_end(&t, LIMITER_OK, NOW, &conf_);
	limiter_end(&t, LIMITER_FAILED, NOW, &conf_);     /* a second end: no-op */
	assert_int_equal(attempt("bob", "10.0.0.8", NOW, LIMITER_FAILED), 0);
	assert_int_equal(attempt("bob", "10.0.0.9", NOW, LIMITER_FAILED), 0);
	assert_int_equal(attempt("bob", "10.0.0.10", NOW, LIMITER_FAILED), 0);
	assert_int_equal(attempt("bob", "10.0.0.11", NOW, LIMITER_OK), 900);
}

static void
test_window_and_lockout_expire(void **state)
{
	(void)state;
	assert_int_equal(attempt("bob", "10.0.0.1", NOW, LIMITER_FAILED), 0);
	assert_int_equal(attempt("bob", "10.0.0.2", NOW, LIMITER_FAILED), 0);
	/* the window is over: those two are forgotten */
	assert_int_equal(attempt("bob", "10.0.0.3", NOW + 300, LIMITER_FAILED), 0);
	assert_int_equal(attempt("bob", "10.0.0.4", NOW + 300, LIMITER_FAILED), 0);
	assert_int_equal(attempt("bob", "10.0.0.5", NOW + 301, LIMITER_FAILED), 0);
	assert_int_equal(attempt("bob", "10.0.0.6", NOW + 302, LIMITER_OK), 899);
	assert_int_equal(attempt("bob", "10.0.0.6", NOW + 301 + 900, LIMITER_OK), 0);
}

/* the KDF gate: as many as there are slots run, as many again may wait a
 * moment, then -1 instead of a queue */
static void
test_kdf_gate(void **state)
{
	int n = limiter_kdf_slots();
	struct timespec a, b;
	(void)state;

	assert_true(n >= 1 && n <= 16);
	for (int i = 0; i < n; i++)
		assert_int_equal(limiter_kdf_enter(), 0);
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(limiter_kdf_enter(), -1);
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_true(b.tv_sec - a.tv_sec <= 2);
	limiter_kdf_leave();
	assert_int_equal(limiter_kdf_enter(), 0);
	for (int i = 0; i < n; i++)
		limiter_kdf_leave();
}

struct kdf_seen {
	pthread_t thread;
	int nice;
};

static void
kdf_job(void *arg)
{
	struct kdf_seen *k = arg;

	k->thread = pthread_self();
	k->nice = getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
}

/* a KDF runs on a pool thread at nice 10 while its caller waits; once the
 * pool is stopped (and joined), on the caller */
static void
test_kdf_runs_on_the_pool(void **state)
{
	struct kdf_seen k = { .nice = -100 };
	int mine = getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
	(void)state;

	assert_int_equal(limiter_kdf_run(kdf_job, &k), 0);
	assert_false(pthread_equal(k.thread, pthread_self()));
	assert_int_equal(k.nice, mine + 10 > 19 ? 19 : mine + 10);
	limiter_kdf_stop();
	memset(&k, 0, sizeof(k));
	assert_int_equal(limiter_kdf_run(kdf_job, &k), 0);
	assert_true(pthread_equal(k.thread, pthread_self()));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_addr_key, reset),
		cmocka_unit_test_setup(test_ipv6_by_64, reset),
		cmocka_unit_test_setup(test_2000_addresses_one_handle, reset),
		cmocka_unit_test_setup(test_churn_never_frees_a_handle, reset),
		cmocka_unit_test_setup(test_full_address_table_counts_handle, reset),
		cmocka_unit_test_setup(test_full_handle_table, reset),
		cmocka_unit_test_setup(test_in_flight_attempts_are_never_recycled, reset),
		cmocka_unit_test_setup(test_reserved_before_kdf, reset),
		cmocka_unit_test_setup(test_ok_and_cancel, reset),
		cmocka_unit_test_setup(test_window_and_lockout_expire, reset),
		cmocka_unit_test_setup(test_kdf_gate, reset),
		cmocka_unit_test_setup(test_kdf_runs_on_the_pool, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * user.c's listing at the size of a large appliance (issue 16): 100,000
 * users in a real LMDB environment; a page deep in the list costs about what
 * the first one does (the handle index is ordered and the walk starts at
 * the cursor), and a search finds handles and e-mail addresses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fixture_acctd.h"

#define USERS 100000

static int
setup(void **state)
{
	struct fixture_store *f;
	struct store_txn *t;

	if (crypto_init() == -1 || fixture_store_new(state, "test_user", NULL, 256) == -1)
		return -1;
	f = *state;
	if (store_txn_begin(f->s, 1, &t) == -1)
		return -1;
	for (int i = 0; i < USERS; i++) {
		struct user u;
		char email[64];

		memset(&u, 0, sizeof(u));
		snprintf(u.id, sizeof(u.id), "u_%020d", i);
		snprintf(u.handle, sizeof(u.handle), "user%06d", i);
		snprintf(email, sizeof(email), "person%06d@%s.example", i, i % 1000 ? "home" : "Corp");
		u.email = email;
		u.pw_iter = 1;
		u.version_id = 1;
		if (user_save(t, &u, NULL, 0) == -1)
			return -1;
	}
	if (store_txn_commit(t) == -1)
		return -1;
	return 0;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* the best of 5 runs of one page after `after`: seconds */
static double
page_time(struct store *s, const char *after, const char *q, size_t *n, char *next)
{
	double best = 1e9;

	for (int k = 0; k < 5; k++) {
		struct store_txn *t;
		struct json *items;
		double t0 = now_s(), dt;

		assert_int_equal(store_txn_begin(s, 0, &t), 0);
		assert_int_equal(user_list(t, after, q, 25, &items, next, NAME_HANDLE_MAX + 1), 0);
		dt = now_s() - t0;
		{
			char *txt = json_print(items);

			*n = 0;
			for (char *p = txt; (p = strstr(p, "\"handle\":")) != NULL; p++)
				(*n)++;
			free(txt);
		}
		json_free(items);
		store_txn_abort(t);
		if (dt < best)
			best = dt;
	}
	return best;
}

static void
test_paging_is_o_page(void **state)
{
	struct fixture_store *f = *state;
	struct store_txn *t;
	char next[NAME_HANDLE_MAX + 1];
	size_t n, total;
	double first, deep;

	first = page_time(f->s, "", NULL, &n, next);
	assert_int_equal(n, 25);
	assert_string_equal(next, "user000024");
	deep = page_time(f->s, "user099950", NULL, &n, next);
	assert_int_equal(n, 25);
	assert_string_equal(next, "user099975");
	page_time(f->s, "user099975", NULL, &n, next);
	assert_int_equal(n, 24);
	assert_string_equal(next, "");
	/* O(page): the last page costs what the first does, not 4,000 pages' worth */
	print_message("first page %.3f ms, page 4000 %.3f ms\n", first * 1e3, deep * 1e3);
	assert_true(deep < first * 5 + 0.002);
	assert_int_equal(store_txn_begin(f->s, 0, &t), 0);
	assert_int_equal(store_count(t, STORE_DB_USER, &total), 0);
	store_txn_abort(t);
	assert_int_equal(total, USERS);
}

static void
test_search(void **state)
{
	struct fixture_store *f = *state;
	char next[NAME_HANDLE_MAX + 1];
	size_t n;
	double dt;

	/* by handle: a whole walk of the index */
	dt = page_time(f->s, "", "user09999", &n, next);
	print_message("search by handle, through all %d: %.3f ms\n", USERS, dt * 1e3);
	assert_int_equal(n, 10);
	assert_string_equal(next, "");
	/* by e-mail, case-insensitively: one user in 1000 is at Corp; a page
	 * examines at most USER_SEARCH_BUDGET handles, then says where to go on */
	dt = page_time(f->s, "", "corp.ex", &n, next);
	print_message("search page %.3f ms\n", dt * 1e3);
	assert_int_equal(n, 25);
	assert_string_equal(next, "user024000");
	page_time(f->s, "user024000", "corp.ex", &n, next);
	assert_int_equal(n, 25);
	assert_string_equal(next, "user049000");
	page_time(f->s, "user099999", "corp.ex", &n, next);
	assert_int_equal(n, 0);
	assert_string_equal(next, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paging_is_o_page),
		cmocka_unit_test(test_search),
	};

	return cmocka_run_group_tests(tests, setup, fixture_store_teardown);
}

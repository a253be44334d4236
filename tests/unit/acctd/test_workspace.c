/*
 * workspace.c and dns_name against a real store: who is in a workspace
 * (owner and members by handle, a renamed user keeps theirs, a handle its
 * holder chose never counts), the owner's current handle, and the one DNS
 * name format the hosts file and the API both show.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acctd.h"
#include "fixture.h"

#define ALICE "u_0000000000000000000a"
#define BOB   "u_0000000000000000000b"
#define CAROL "u_0000000000000000000c"
#define DAVE  "u_0000000000000000000d"

struct fixture {
	char dir[64];
	struct store *s;
	struct store_txn *t;
};

static char *members[] = { "bob", "olde", "dave" };
static struct conf_workspace ws = {
	.handle = "sales", .owner = "olde", .members = members, .nmembers = 3,
	.node = "n1", .database = "sales", .port = 5432,
};

static int
save(struct store_txn *t, const char *id, const char *handle, int self,
    const char *old_handle, int old_chosen)
{
	struct user u;

	memset(&u, 0, sizeof(u));
	snprintf(u.id, sizeof(u.id), "%s", id);
	snprintf(u.handle, sizeof(u.handle), "%s", handle);
	u.email = "x@example.org";
	u.handle_self = self;
	u.pw_iter = 1;
	u.version_id = 1;
	return user_save(t, &u, old_handle, old_chosen);
}

static int
setup(void **state)
{
	struct fixture *f = x_calloc(1, sizeof(*f));
	char err[512];

	if (fixture_tmpdir(f->dir, sizeof(f->dir), "test_workspace") == -1 ||
	    crypto_init() == -1 ||
	    store_open(f->dir, 16, &f->s, err, sizeof(err)) != 0 ||
	    store_txn_begin(f->s, 1, &f->t) == -1)
		return -1;
	/* alice: given by an admin; bob chose his handle himself; carol was
	 * "olde" (given) and is "carol" now; dave was "dave" by his own
	 * choice and is "dan" now */
	if (save(f->t, ALICE, "alice", 0, NULL, 0) == -1 ||
	    save(f->t, BOB, "bob", 1, NULL, 0) == -1 ||
	    save(f->t, CAROL, "olde", 0, NULL, 0) == -1 ||
	    save(f->t, CAROL, "carol", 0, "olde", 0) == -1 ||
	    save(f->t, DAVE, "dave", 1, NULL, 0) == -1 ||
	    save(f->t, DAVE, "dan", 1, "dave", 1) == -1)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	store_txn_abort(f->t);
	store_close(f->s);
	fixture_rmtree(f->dir);
	free(f);
	return 0;
}

static void
test_handles(void **state)
{
	(void)state;
	assert_string_equal(workspace_handle(&ws, 0), "olde");
	assert_string_equal(workspace_handle(&ws, 1), "bob");
	assert_string_equal(workspace_handle(&ws, 3), "dave");
	assert_null(workspace_handle(&ws, 4));
	/* as the config writes them, whoever holds them */
	assert_true(workspace_names(&ws, "olde"));
	assert_true(workspace_names(&ws, "dave"));
	assert_false(workspace_names(&ws, "carol"));
	assert_false(workspace_names(&ws, "sales"));
}

static void
test_member(void **state)
{
	struct fixture *f = *state;

	assert_true(workspace_member(f->t, &ws, CAROL));     /* owner, renamed */
	assert_false(workspace_member(f->t, &ws, ALICE));    /* not named */
	assert_false(workspace_member(f->t, &ws, BOB));      /* chose "bob" */
	assert_false(workspace_member(f->t, &ws, DAVE));     /* chose "dave" */
	assert_false(workspace_member(f->t, &ws, "u_00000000000000000000"));
}

static void
test_owner_and_dns_name(void **state)
{
	struct fixture *f = *state;
	struct conf c = { .dns_domain = "db.example.org" };
	struct conf_workspace nobody = ws;
	char owner[NAME_HANDLE_MAX + 1], name[DNS_NAME_MAX];

	workspace_owner(f->t, &ws, owner);
	assert_string_equal(owner, "carol");          /* the name follows */
	dns_name(&c, &ws, owner, name, sizeof(name));
	assert_string_equal(name, "carol-sales.db.example.org");
	nobody.owner = "zoe";                         /* nobody holds it */
	workspace_owner(f->t, &nobody, owner);
	assert_string_equal(owner, "zoe");
	nobody.owner = "bob";                         /* chosen: not an owner */
	workspace_owner(f->t, &nobody, owner);
	assert_string_equal(owner, "bob");
}

/* the longest name the config allows fits, whole */
static void
test_dns_name_longest(void **state)
{
	char domain[254], owner[NAME_HANDLE_MAX + 1], name[DNS_NAME_MAX];
	struct conf c = { .dns_domain = domain };
	struct conf_workspace w = { .handle = "abcdefghijklmnopqrstuvw" };

	(void)state;
	memset(domain, 'd', sizeof(domain) - 1);
	domain[sizeof(domain) - 1] = '\0';
	memset(owner, 'o', sizeof(owner) - 1);
	owner[sizeof(owner) - 1] = '\0';
	dns_name(&c, &w, owner, name, sizeof(name));
	assert_int_equal(strlen(name), DNS_NAME_MAX - 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handles),
		cmocka_unit_test_setup_teardown(test_member, setup, teardown),
		cmocka_unit_test_setup_teardown(test_owner_and_dns_name, setup, teardown),
		cmocka_unit_test(test_dns_name_longest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

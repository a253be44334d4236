/*
 * outbox.c's membership record and diff against a real store: the
 * canonical JSON a config's membership is recorded as (order and unrelated
 * settings do not change it; it reads back as itself; anything else is
 * refused), and which users a change of membership moves (members added
 * and removed, a workspace moved to another node, a node added, a handle
 * nobody holds, no record at all: every user).
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

static int
save(struct store_txn *t, const char *id, const char *handle)
{
	struct user u;

	memset(&u, 0, sizeof(u));
	snprintf(u.id, sizeof(u.id), "%s", id);
	snprintf(u.handle, sizeof(u.handle), "%s", handle);
	u.email = "x@example.org";
	u.pw_iter = 1;
	u.version_id = 1;
	return user_save(t, &u, NULL, 0);
}

static int
setup(void **state)
{
	struct fixture *f = x_calloc(1, sizeof(*f));
	char err[512];

	*state = f;
	if (fixture_tmpdir(f->dir, sizeof(f->dir), "test_outbox") == -1 ||
	    crypto_init() == -1 ||
	    store_open(f->dir, 16, &f->s, err, sizeof(err)) != 0 ||
	    store_txn_begin(f->s, 1, &f->t) == -1)
		return -1;
	if (save(f->t, ALICE, "alice") == -1 || save(f->t, BOB, "bob") == -1 ||
	    save(f->t, CAROL, "carol") == -1 || save(f->t, DAVE, "dave") == -1)
		return -1;
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

static struct outbox_members *
members(const char *json)
{
	struct outbox_members *m = NULL;

	assert_int_equal(outbox_members_parse(json, strlen(json), &m), 0);
	assert_non_null(m);
	return m;
}

/* the users o -> n moves, as "id,id,…" */
static char *
moved(struct fixture *f, const char *o, const char *n)
{
	struct outbox_members *mo = o ? members(o) : NULL, *mn = members(n);
	char (*ids)[SECRET_ID_LEN + 1] = NULL;
	size_t nids = 0;
	char *out = x_calloc(1, 256);

	assert_int_equal(outbox_members_moved(f->t, mo, mn, &ids, &nids), 0);
	for (size_t i = 0; i < nids; i++) {
		if (i > 0)
			strcat(out, ",");
		strcat(out, ids[i]);
	}
	free(ids);
	outbox_members_free(mo);
	outbox_members_free(mn);
	return out;
}

#define ASSERT_MOVED(f, o, n, want) do {				\
	char *got_ = moved((f), (o), (n));				\
	assert_string_equal(got_, (want));				\
	free(got_);							\
} while (0)

static void
test_canonical(void **state)
{
	static struct conf_node n12[] = { { .name = "n2" }, { .name = "n1" } };
	static struct conf_node n21[] = { { .name = "n1" }, { .name = "n2" } };
	static char *m1[] = { "dave", "bob", "dave" }, *m2[] = { "bob", "dave" };
	static struct conf_workspace w1[] = {
		{ .handle = "prod", .owner = "alice", .members = m1, .nmembers = 3,
		  .node = "n1", .database = "a", .port = 1 },
		{ .handle = "dev", .owner = "alice", .node = "n2", .database = "b" },
	};
	static struct conf_workspace w2[] = {
		{ .handle = "dev", .owner = "alice", .node = "n2", .database = "other" },
		{ .handle = "prod", .owner = "alice", .members = m2, .nmembers = 2,
		  .node = "n1", .database = "x", .port = 5432 },
	};
	struct conf a = { .nodes = n12, .nnodes = 2, .workspaces = w1, .nworkspaces = 2 };
	struct conf b = { .nodes = n21, .nnodes = 2, .workspaces = w2, .nworkspaces = 2,
	    .log_level = LOG_LEVEL_DEBUG };
	struct outbox_members *ma = outbox_members_of(&a), *mb = outbox_members_of(&b), *back;
	char *ja = outbox_members_json(ma), *jb = outbox_members_json(mb), *jback;

	(void)state;
	assert_string_equal(ja, "{\"v\":1,\"nodes\":[\"n1\",\"n2\"],\"workspaces\":["
	    "{\"handle\":\"dev\",\"owner\":\"alice\",\"node\":\"n2\",\"members\":[]},"
	    "{\"handle\":\"prod\",\"owner\":\"alice\",\"node\":\"n1\",\"members\":[\"bob\",\"dave\"]}]}");
	assert_string_equal(ja, jb);
	/* reads back as itself */
	assert_int_equal(outbox_members_parse(ja, strlen(ja), &back), 0);
	jback = outbox_members_json(back);
	assert_string_equal(jback, ja);
	free(ja);
	free(jb);
	free(jback);
	outbox_members_free(ma);
	outbox_members_free(mb);
	outbox_members_free(back);
	outbox_members_free(NULL);
}

static void
test_parse_refuses(void **state)
{
	static const char *bad[] = {
		"", "[]", "{}", "not json",
		"{\"v\":2,\"nodes\":[],\"workspaces\":[]}",
		"{\"v\":1,\"nodes\":{},\"workspaces\":[]}",
		"{\"v\":1,\"nodes\":[1],\"workspaces\":[]}",
		"{\"v\":1,\"nodes\":[],\"workspaces\":\"x\"}",
		"{\"v\":1,\"nodes\":[],\"workspaces\":[{\"handle\":\"p\",\"owner\":\"a\"}]}",
		"{\"v\":1,\"nodes\":[],\"workspaces\":[{\"handle\":\"p\",\"owner\":\"a\","
		    "\"node\":\"n\",\"members\":null}]}",
	};
	struct outbox_members *m;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		m = (struct outbox_members *)1;
		assert_int_equal(outbox_members_parse(bad[i], strlen(bad[i]), &m), -1);
		assert_null(m);
	}
}

#define W(h, o, n, mem) "{\"handle\":\"" h "\",\"owner\":\"" o "\",\"node\":\"" n \
	"\",\"members\":[" mem "]}"
#define M(nodes, ws) "{\"v\":1,\"nodes\":[" nodes "],\"workspaces\":[" ws "]}"

static void
test_moved(void **state)
{
	struct fixture *f = *state;
	const char *base = M("\"n1\",\"n2\"", W("prod", "alice", "n1", "\"bob\""));

	/* nothing moved */
	ASSERT_MOVED(f, base, base, "");
	/* bob removed, carol added: both; alice stays */
	ASSERT_MOVED(f, base, M("\"n1\",\"n2\"", W("prod", "alice", "n1", "\"carol\"")),
	    BOB "," CAROL);
	/* the workspace moved to n2: everyone in it */
	ASSERT_MOVED(f, base, M("\"n1\",\"n2\"", W("prod", "alice", "n2", "\"bob\"")),
	    ALICE "," BOB);
	/* a second workspace on the other node for dave, and one naming a
	 * handle nobody holds */
	ASSERT_MOVED(f, base, M("\"n1\",\"n2\"", W("prod", "alice", "n1", "\"bob\"") ","
	    W("dev", "dave", "n2", "\"nobody\"")), DAVE);
	/* bob also named by another workspace on the same node: not moved */
	ASSERT_MOVED(f, M("\"n1\",\"n2\"", W("prod", "alice", "n1", "\"bob\"") ","
	    W("dev", "bob", "n1", "")), M("\"n1\",\"n2\"", W("prod", "alice", "n1", "") ","
	    W("dev", "bob", "n1", "")), "");
	/* a node added: who its workspaces name (nobody unless one is there) */
	ASSERT_MOVED(f, M("\"n1\"", W("prod", "alice", "n1", "\"bob\"")), base, "");
	ASSERT_MOVED(f, M("\"n1\"", W("prod", "alice", "n2", "\"bob\"")),
	    M("\"n1\",\"n2\"", W("prod", "alice", "n2", "\"bob\"")), ALICE "," BOB);
	/* a node removed: it has no push thread, nothing to queue for it */
	ASSERT_MOVED(f, base, M("\"n2\"", ""), "");
	/* no record: every user, in key order */
	ASSERT_MOVED(f, NULL, base, ALICE "," BOB "," CAROL "," DAVE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canonical),
		cmocka_unit_test(test_parse_refuses),
		cmocka_unit_test_setup_teardown(test_moved, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

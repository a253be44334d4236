/*
 * The account layer (account.c) against a real LMDB store in a temporary
 * directory: each change is visible with its audit record and its outbox
 * entry inside its one transaction, an abort leaves the store exactly as it
 * was (a digest of every database, before and after), the refusals say why,
 * and each change asks for the after-commit work it needs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "acctd.h"
#include "fixture.h"

static char dir[64];
static char *members[] = { "carol" };
static struct conf_node nodes[] = { { "node1", "https://127.0.0.1:9443", "", 1 } };
static struct conf_workspace workspaces[] = {
	{ "prod", "alice", members, 1, "node1", "db1", 9193, 1 },
};
static struct conf test_conf = {
	.audit_capacity = 1000, .tokens_max_per_user = 2, .pbkdf2_iterations = 1,
	.nodes = nodes, .nnodes = 1, .workspaces = workspaces, .nworkspaces = 1,
	.dns_domain = "ws.test",
};
static struct user admin;       /* the actor of most changes */

/* --- the store, seen from outside ------------------------------------------ */

static int
digest_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	uint8_t *h = arg, buf[CRYPTO_SHA256_LEN * 3];

	memcpy(buf, h, CRYPTO_SHA256_LEN);
	crypto_sha256(k, kl, buf + CRYPTO_SHA256_LEN);
	crypto_sha256(v, vl, buf + 2 * CRYPTO_SHA256_LEN);
	crypto_sha256(buf, sizeof(buf), h);
	return 0;
}

/* every key and value of every database */
static void
digest(uint8_t h[CRYPTO_SHA256_LEN])
{
	struct store_txn *t;

	memset(h, 0, CRYPTO_SHA256_LEN);
	assert_int_equal(store_txn_begin(app.store, 0, &t), 0);
	for (int db = 0; db < STORE_DB_COUNT; db++)
		assert_int_equal(store_iter(t, db, NULL, 0, 0, digest_cb, h), 0);
	store_txn_abort(t);
}

static int
newest_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	char err[64];

	(void)k;
	(void)kl;
	return json_parse(v, vl, arg, err, sizeof(err)) == 0 ? 1 : -1;
}

/* the newest audit record in t (caller frees) */
static struct json *
newest_audit(struct store_txn *t)
{
	struct json *j = NULL;

	assert_int_equal(store_iter(t, STORE_DB_AUDIT, NULL, 0, 1, newest_cb, &j), 1);
	return j;
}

static void
assert_audit(struct store_txn *t, const char *action, const char *target_id)
{
	struct json *j = newest_audit(t);

	assert_string_equal(json_str(json_get(j, "action_type")), action);
	if (target_id != NULL)
		assert_string_equal(json_str(json_get(j, "target_id")), target_id);
	json_free(j);
}

/* the audit record's data.<k> (a string), or .old/.new when sub is given */
static void
assert_audit_data(struct store_txn *t, const char *k, const char *sub, const char *want)
{
	struct json *j = newest_audit(t), *d = json_get(json_get(j, "data"), k);

	if (sub != NULL)
		d = json_get(d, sub);
	assert_string_equal(json_str(d), want);
	json_free(j);
}

/* the queued state for node1 ("present", "disabled", "absent"), and its version */
static void
assert_outbox(struct store_txn *t, const char *user_id, const char *state, int64_t *version)
{
	char key[64], err[64];
	struct json *j;
	void *v = NULL;
	size_t vl;

	snprintf(key, sizeof(key), "q/node1/%s", user_id);
	assert_int_equal(store_get(t, STORE_DB_OUTBOX, key, strlen(key), &v, &vl), 0);
	assert_int_equal(json_parse(v, vl, &j, err, sizeof(err)), 0);
	assert_string_equal(json_str(json_get(j, "state")), state);
	if (version != NULL)
		assert_int_equal(json_int(json_get(j, "version"), version), 0);
	json_free(j);
	free(v);
}

/* --- changes ---------------------------------------------------------------- */

static void
begin(struct account_txn *ax, const struct user *by)
{
	memset(ax, 0, sizeof(*ax));
	account_actor(ax, by, "192.0.2.1");
	assert_int_equal(store_txn_begin(app.store, 1, &ax->t), 0);
}

/* the change in ax is undone by an abort: the store is as it was */
static void
abort_leaves_nothing(struct account_txn *ax, const uint8_t before[CRYPTO_SHA256_LEN])
{
	uint8_t after[CRYPTO_SHA256_LEN];

	store_txn_abort(ax->t);
	digest(after);
	assert_memory_equal(before, after, CRYPTO_SHA256_LEN);
}

/* a refusal: the code, why (NULL: not checked), and the txn aborted */
static void
refused(struct account_txn *ax, int rc, int want, const char *why)
{
	assert_int_equal(rc, want);
	if (why != NULL)
		assert_string_equal(ax->why, why);
	store_txn_abort(ax->t);
}

static void
load(const char *handle, struct user *u)
{
	struct store_txn *t;

	assert_int_equal(store_txn_begin(app.store, 0, &t), 0);
	assert_int_equal(user_load_handle(t, handle, u), 0);
	store_txn_abort(t);
}

/* account_create with a database password made before the txn */
static int
create_in(struct account_txn *ax, struct user *u)
{
	struct dbpass_new db;
	int rc;

	assert_int_equal(dbpass_prepare(&db, 1), 0);
	rc = account_create(ax, u, NULL, &db);
	dbpass_new_wipe(&db);
	return rc;
}

/* a new user, committed */
static void
create(const char *handle, int is_admin, struct user *u)
{
	struct account_txn ax;
	char email[64];

	memset(u, 0, sizeof(*u));
	snprintf(u->handle, sizeof(u->handle), "%s", handle);
	snprintf(email, sizeof(email), "%s@example.com", handle);
	u->email = x_strdup(email);
	u->admin = is_admin;
	assert_int_equal(user_set_password(u, "first-password", 1), 0);
	begin(&ax, admin.id[0] ? &admin : NULL);
	assert_int_equal(create_in(&ax, u), ACCOUNT_OK);
	assert_int_equal(store_txn_commit(ax.t), 0);
}

static int
setup(void **state)
{
	char err[256];

	(void)state;
	app.conf = &test_conf;
	if (fixture_tmpdir(dir, sizeof(dir), "test_account") == -1 || crypto_init() == -1 ||
	    crypto_random(app.key, sizeof(app.key)) == -1 ||
	    store_open(dir, 32, &app.store, err, sizeof(err)) == -1 || audit_init(app.store) == -1)
		return -1;
	memset(&admin, 0, sizeof(admin));
	create("root", 1, &admin);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	user_clear(&admin);
	store_close(app.store);
	fixture_rmtree(dir);
	crypto_shutdown();
	return 0;
}

static void
test_create(void **state)
{
	uint8_t before[CRYPTO_SHA256_LEN];
	struct account_txn ax;
	struct dbpass d;
	struct user u, dup;
	(void)state;

	memset(&u, 0, sizeof(u));
	snprintf(u.handle, sizeof(u.handle), "alice");
	u.email = x_strdup("alice@example.com");
	assert_int_equal(user_set_password(&u, "first-password", 1), 0);
	digest(before);
	begin(&ax, &admin);
	assert_int_equal(create_in(&ax, &u), ACCOUNT_OK);
	assert_int_equal(ax.after, ACCOUNT_AFTER_DNS | ACCOUNT_AFTER_PUSH);
	/* the record, its database password, its audit record, its outbox entry */
	assert_int_equal(user_load_handle(ax.t, "alice", &dup), 0);
	user_clear(&dup);
	assert_int_equal(dbpass_get(ax.t, u.id, &d, NULL, 0), 0);
	assert_audit(ax.t, "user.create", u.id);
	assert_audit_data(ax.t, "role", NULL, "user");
	assert_outbox(ax.t, u.id, "present", NULL);
	abort_leaves_nothing(&ax, before);

	begin(&ax, &admin);
	assert_int_equal(create_in(&ax, &u), ACCOUNT_OK);
	assert_int_equal(store_txn_commit(ax.t), 0);
	/* the same handle again */
	memset(&dup, 0, sizeof(dup));
	snprintf(dup.handle, sizeof(dup.handle), "alice");
	begin(&ax, &admin);
	refused(&ax, create_in(&ax, &dup), ACCOUNT_TAKEN, "that handle is taken");
	user_clear(&u);
}

static void
test_update_and_rename(void **state)
{
	uint8_t before[CRYPTO_SHA256_LEN];
	struct account_profile p = { .set_display_name = 1, .display_name = "Alice" };
	struct account_txn ax;
	struct user u, bob;
	int64_t v1, v2;
	(void)state;

	create("alice", 0, &u);
	create("bob", 0, &bob);
	begin(&ax, &u);
	assert_outbox(ax.t, u.id, "present", &v1);
	digest(before);
	/* profile only: nothing for the nodes */
	assert_int_equal(account_update(&ax, &u, &p), ACCOUNT_OK);
	assert_int_equal(ax.after, 0);
	assert_audit_data(ax.t, "display_name", "new", "Alice");
	abort_leaves_nothing(&ax, before);

	/* nothing differs: nothing written */
	user_clear(&u);
	load("alice", &u);
	p.display_name = NULL;
	begin(&ax, &u);
	assert_int_equal(account_update(&ax, &u, &p), ACCOUNT_UNCHANGED);
	abort_leaves_nothing(&ax, before);

	/* a handle the config names: only an admin gives it */
	p.handle = "carol";
	begin(&ax, &bob);
	refused(&ax, account_update(&ax, &bob, &p), ACCOUNT_RESERVED, "that handle is reserved");
	p.handle = "bob";
	begin(&ax, &u);
	refused(&ax, account_update(&ax, &u, &p), ACCOUNT_TAKEN, NULL);

	/* a rename moves DNS names and renames the role on the node */
	p.handle = "alice2";
	begin(&ax, &u);
	assert_int_equal(account_update(&ax, &u, &p), ACCOUNT_OK);
	assert_int_equal(ax.after, ACCOUNT_AFTER_DNS | ACCOUNT_AFTER_PUSH);
	assert_audit_data(ax.t, "handle", "old", "alice");
	assert_audit_data(ax.t, "handle", "new", "alice2");
	assert_outbox(ax.t, u.id, "present", &v2);
	assert_true(v2 > v1);
	assert_int_equal(u.handle_self, 1);
	abort_leaves_nothing(&ax, before);
	user_clear(&u);
	user_clear(&bob);
}

static void
test_disable_enable(void **state)
{
	uint8_t before[CRYPTO_SHA256_LEN];
	char sid[SESSION_TOKEN_LEN + 1], csrf[SESSION_TOKEN_LEN + 1];
	struct account_txn ax;
	struct session s;
	struct user u;
	int stale;
	(void)state;

	create("alice", 0, &u);
	begin(&ax, &u);
	assert_int_equal(session_create(ax.t, u.id, app_now_ms(), NULL, NULL, sid, csrf), 0);
	assert_int_equal(store_txn_commit(ax.t), 0);
	digest(before);
	begin(&ax, &admin);
	assert_int_equal(account_disable(&ax, &u), ACCOUNT_OK);
	assert_int_equal(ax.after, ACCOUNT_AFTER_PUSH);
	assert_true(u.disabled);
	assert_audit(ax.t, "user.disable", u.id);
	/* disabling touches the nodes: the LOGIN goes, the role stays */
	assert_outbox(ax.t, u.id, "disabled", NULL);
	assert_int_equal(session_lookup(ax.t, sid, app_now(), 3600, 3600, &s, &stale),
	    STORE_NOTFOUND);
	abort_leaves_nothing(&ax, before);

	begin(&ax, &admin);
	assert_int_equal(account_disable(&ax, &u), ACCOUNT_OK);
	assert_int_equal(store_txn_commit(ax.t), 0);
	begin(&ax, &admin);
	assert_int_equal(account_enable(&ax, &u), ACCOUNT_OK);
	assert_int_equal(ax.after, ACCOUNT_AFTER_PUSH);
	assert_audit(ax.t, "user.enable", u.id);
	assert_outbox(ax.t, u.id, "present", NULL);
	assert_int_equal(store_txn_commit(ax.t), 0);

	/* not oneself, not the last administrator */
	begin(&ax, &admin);
	refused(&ax, account_disable(&ax, &admin), ACCOUNT_SELF, NULL);
	begin(&ax, &u);
	refused(&ax, account_disable(&ax, &admin), ACCOUNT_LAST_ADMIN,
	    "the last administrator cannot be disabled");
	user_clear(&u);
}

static void
test_delete(void **state)
{
	uint8_t before[CRYPTO_SHA256_LEN];
	struct account_txn ax;
	struct user u, gone;
	(void)state;

	create("alice", 0, &u);
	digest(before);
	begin(&ax, &admin);
	assert_int_equal(account_delete(&ax, &u), ACCOUNT_OK);
	assert_int_equal(ax.after, ACCOUNT_AFTER_DNS | ACCOUNT_AFTER_PUSH);
	assert_int_equal(user_load_handle(ax.t, "alice", &gone), STORE_NOTFOUND);
	assert_audit(ax.t, "user.delete", u.id);
	assert_audit_data(ax.t, "handle", NULL, "alice");
	assert_outbox(ax.t, u.id, "absent", NULL);
	abort_leaves_nothing(&ax, before);

	begin(&ax, &admin);
	refused(&ax, account_delete(&ax, &admin), ACCOUNT_LAST_ADMIN,
	    "the last administrator cannot be deleted");
	user_clear(&u);
}

static void
test_credentials(void **state)
{
	uint8_t before[CRYPTO_SHA256_LEN];
	char pw[64], dbpw[DBPASS_LEN + 8], tok[TOKEN_LEN + 1];
	struct account_txn ax;
	struct token k, k2, k3;
	struct dbpass_new db;
	struct user_pw np;
	struct dbpass d;
	struct user u;
	int64_t v1, v2;
	(void)state;

	create("alice", 0, &u);
	digest(before);
	/* the database password: a new version for the nodes */
	begin(&ax, &u);
	assert_outbox(ax.t, u.id, "present", &v1);
	assert_int_equal(dbpass_prepare(&db, 1), 0);
	assert_int_equal(account_dbpass_rotate(&ax, &u, &db, &d, dbpw, sizeof(dbpw)), ACCOUNT_OK);
	dbpass_new_wipe(&db);
	assert_int_equal(d.version, 2);
	assert_int_equal(ax.after, ACCOUNT_AFTER_PUSH);
	assert_audit(ax.t, "user.password.rotate", u.id);
	assert_outbox(ax.t, u.id, "present", &v2);
	assert_true(v2 > v1);
	abort_leaves_nothing(&ax, before);

	/* console password: reset (one-time), then changed by its user */
	begin(&ax, &admin);
	snprintf(pw, sizeof(pw), "one-time-password");
	assert_int_equal(user_pw_derive(&np, pw, 1), 0);
	assert_int_equal(account_password_reset(&ax, &u, &np), ACCOUNT_OK);
	assert_int_equal(ax.after, 0);
	assert_true(u.must_change_pw);
	assert_true(user_check_password(&u, pw));
	assert_audit(ax.t, "user.console_password.reset", u.id);
	abort_leaves_nothing(&ax, before);
	begin(&ax, &u);
	assert_int_equal(user_pw_derive(&np, "second-password", 1), 0);
	assert_int_equal(account_password_change(&ax, u.id, &np, NULL), ACCOUNT_OK);
	assert_audit(ax.t, "user.console_password.change", u.id);
	assert_int_equal(store_txn_commit(ax.t), 0);
	user_clear(&u);
	load("alice", &u);
	assert_true(user_check_password(&u, "second-password"));

	/* tokens: two at most, then a reset removes them */
	begin(&ax, &u);
	assert_int_equal(account_token_create(&ax, &u, "ci", 0, TOKEN_SCOPE_FULL, &k, tok), ACCOUNT_OK);
	assert_audit(ax.t, "token.create", u.id);
	assert_audit_data(ax.t, "token_id", NULL, k.id);
	assert_int_equal(account_token_create(&ax, &u, NULL, 0, TOKEN_SCOPE_READ, &k2, tok), ACCOUNT_OK);
	assert_int_equal(account_token_create(&ax, &u, NULL, 0, TOKEN_SCOPE_READ, &k3, tok), ACCOUNT_TOKEN_LIMIT);
	assert_string_equal(ax.why, "a user may have at most 2 tokens; delete one first");
	assert_int_equal(account_token_set_active(&ax, &u, &k, 1), ACCOUNT_UNCHANGED);
	assert_int_equal(account_token_set_active(&ax, &u, &k, 0), ACCOUNT_OK);
	assert_audit(ax.t, "token.update", u.id);
	assert_int_equal(account_token_delete(&ax, &u, &k2), ACCOUNT_OK);
	assert_audit(ax.t, "token.delete", u.id);
	assert_int_equal(store_txn_commit(ax.t), 0);
	begin(&ax, &u);
	assert_int_equal(account_token_reset(&ax, &u), ACCOUNT_OK);
	assert_audit(ax.t, "user.token_reset", u.id);
	assert_int_equal(token_load(ax.t, k.id, &k3), STORE_NOTFOUND);
	assert_true(u.token_min_issued_at > 0);
	store_txn_abort(ax.t);
	token_clear(&k);
	token_clear(&k2);
	user_clear(&u);
}

static void
test_sign_in_out(void **state)
{
	uint8_t before[CRYPTO_SHA256_LEN];
	char sid[SESSION_TOKEN_LEN + 1], csrf[SESSION_TOKEN_LEN + 1];
	struct account_txn ax;
	struct user_pw np;
	struct json *j;
	struct user u, old;
	(void)state;

	create("alice", 0, &u);
	digest(before);
	/* the record names the user who signed in as the actor */
	begin(&ax, &u);
	assert_int_equal(account_sign_in(&ax, &u, sid, csrf), ACCOUNT_OK);
	j = newest_audit(ax.t);
	assert_string_equal(json_str(json_get(j, "action_type")), "session.login");
	assert_string_equal(json_str(json_get(j, "actor_id")), u.id);
	assert_string_equal(json_str(json_get(j, "actor_ip")), "192.0.2.1");
	json_free(j);
	assert_int_equal(account_sign_out(&ax, &u, sid), ACCOUNT_OK);
	assert_audit(ax.t, "session.logout", u.id);
	abort_leaves_nothing(&ax, before);

	/* a password changed while the KDF ran: no session */
	old = u;
	begin(&ax, &u);
	assert_int_equal(user_pw_derive(&np, "changed-meanwhile", 1), 0);
	assert_int_equal(account_password_change(&ax, u.id, &np, NULL), ACCOUNT_OK);
	refused(&ax, account_sign_in(&ax, &old, sid, csrf), ACCOUNT_STALE,
	    "wrong handle or password");

	/* a failed sign-in and a secret read: a record each, anonymous or not */
	begin(&ax, NULL);
	assert_int_equal(account_sign_in_failed(&ax, "alice", &u), ACCOUNT_OK);
	assert_audit_data(ax.t, "handle", NULL, "alice");
	assert_int_equal(account_secret_read(&ax, &u, "user.password.read", 1), ACCOUNT_OK);
	assert_audit(ax.t, "user.password.read", u.id);
	abort_leaves_nothing(&ax, before);
	user_clear(&u);
}

static void
test_bootstrap(void **state)
{
	struct conf c = test_conf;
	struct store_txn *t;
	struct user u;
	(void)state;

	c.admin_handle = "first";
	c.admin_email = "first@example.com";
	assert_int_equal(account_bootstrap_needed(), 1);
	assert_int_equal(account_bootstrap(&c, "bootstrap-password"), 0);
	assert_int_equal(account_bootstrap_needed(), 0);
	load("first", &u);
	assert_true(u.admin);
	assert_true(u.must_change_pw);
	assert_int_equal(store_txn_begin(app.store, 0, &t), 0);
	assert_audit(t, "user.create", u.id);
	assert_audit_data(t, "source", NULL, "bootstrap_admin");
	store_txn_abort(t);
	user_clear(&u);
}

/* the kept count of active admins equals a full count of the store */
static void
assert_admins_counted(void)
{
	struct store_txn *t;
	size_t kept, counted;

	assert_int_equal(store_txn_begin(app.store, 0, &t), 0);
	assert_int_equal(user_admins(t, &kept), 0);
	assert_int_equal(user_count_admins(t, &counted), 0);
	store_txn_abort(t);
	assert_int_equal(kept, counted);
}

/*
 * META "admins" after a random run of creations, deletions, disables and
 * enables (refusals and aborted txns included) is the count a walk of every
 * user gives; a store without the counter (an older one) is counted once.
 */
static void
test_admin_counter(void **state)
{
	enum { POOL = 12, STEPS = 300 };
	struct user pool[POOL];
	unsigned seed = (unsigned)app_now_ms(), x;
	struct account_txn ax;
	struct store_txn *t;
	(void)state;

	print_message("admin counter seed %u\n", seed);
	x = seed | 1;
	memset(pool, 0, sizeof(pool));
	for (int step = 0; step < STEPS; step++) {
		struct user *u;
		char h[16];
		int rc, commit, creating;

		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		u = &pool[x % POOL];
		commit = (x >> 8) % 5 != 0;        /* one in five is aborted */
		begin(&ax, NULL);
		creating = u->handle[0] == '\0';
		if (creating) {
			snprintf(h, sizeof(h), "u%d", step);
			snprintf(u->handle, sizeof(u->handle), "%s", h);
			u->email = x_strdup("x@example.com");
			u->admin = (x >> 4) % 2;
			u->disabled = (x >> 5) % 4 == 0;
			assert_int_equal(user_set_password(u, "first-password", 1), 0);
			rc = create_in(&ax, u);
		} else {
			struct user cur;

			assert_int_equal(user_load(ax.t, u->id, &cur), 0);
			switch ((x >> 4) % 3) {
			case 0: rc = account_delete(&ax, &cur); break;
			case 1: rc = account_disable(&ax, &cur); break;
			default: rc = account_enable(&ax, &cur); break;
			}
			if (rc == ACCOUNT_OK && (x >> 4) % 3 == 0 && commit) {
				user_clear(u);
				memset(u, 0, sizeof(*u));
			}
			user_clear(&cur);
		}
		if (rc != ACCOUNT_OK)
			assert_int_equal(rc, ACCOUNT_LAST_ADMIN);
		if (rc == ACCOUNT_OK && commit) {
			assert_int_equal(store_txn_commit(ax.t), 0);
		} else {
			store_txn_abort(ax.t);
			if (creating) {
				/* a creation that never happened */
				user_clear(u);
				memset(u, 0, sizeof(*u));
			}
		}
		assert_admins_counted();
	}
	/* an older store has no counter: counted on demand, then once at start */
	assert_int_equal(store_txn_begin(app.store, 1, &t), 0);
	assert_int_equal(store_del(t, STORE_DB_META, "admins", 6), 0);
	assert_int_equal(store_txn_commit(t), 0);
	assert_admins_counted();
	assert_int_equal(user_admins_init(app.store), 0);
	assert_int_equal(store_txn_begin(app.store, 0, &t), 0);
	{
		void *v = NULL;
		size_t vl;

		assert_int_equal(store_get(t, STORE_DB_META, "admins", 6, &v, &vl), 0);
		assert_int_equal(vl, 8);
		free(v);
	}
	store_txn_abort(t);
	assert_admins_counted();
	for (int i = 0; i < POOL; i++)
		user_clear(&pool[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_and_rename, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disable_enable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_credentials, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sign_in_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bootstrap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_admin_counter, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

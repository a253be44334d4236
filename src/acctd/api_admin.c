/*
 * Administrator handlers: users (create, list, disable, enable, console
 * password reset), the whole audit log and its chain verification, and the
 * bootstrap of the first administrator.
 */
#include <stdlib.h>
#include <string.h>

#include "acctd.h"

static void
admin_reply_user(struct http_req *r, int status, const struct user *u,
    const char *initial_password, int wrap)
{
	struct json *j, *uj = user_json(u);

	if (wrap) {
		j = json_object();
		json_set(j, "user", uj);
	} else {
		j = uj;
	}
	if (initial_password != NULL)
		json_set_str(j, "initial_password", initial_password);
	http_reply_json(r, status, j);
	json_free(j);
}

/* build and store a new user (caller's txn); 0, 1 = handle taken, -1 */
static int
admin_user_insert(struct store_txn *t, struct user *u)
{
	char owner[SECRET_ID_LEN + 1];
	int64_t version;
	int rc = user_handle_release_chosen(t, u->handle);

	if (rc == -1)
		return -1;
	if ((rc = user_id_of_handle(t, u->handle, owner)) == 0)
		return 1;
	if (rc == -1 || secret_id(u->id, "u_") == -1)
		return -1;
	u->version_id = 1;
	u->created_at = u->updated_at = app_now();
	/* every user has a database password from the start */
	if (user_save(t, u, NULL, 0) == -1 || dbpass_rotate(t, u->id, u->created_at, &version) == -1 ||
	    outbox_recompute_user(t, u->id) == -1)
		return -1;
	return 0;
}

void
api_admin_user_create(struct http_req *r)
{
	static const char *const allowed[] = { "handle", "email", "display_name",
		"role", "password", "must_change_password", NULL };
	struct json *body, *verrs = NULL, *v, *data;
	const char *hin, *email, *dn = NULL, *role = "user", *pw = NULL, *e;
	char handle[NAME_HANDLE_MAX + 1], gen[64] = "";
	struct store_txn *t;
	struct user u;
	int rc, must_change = 1;

	memset(&u, 0, sizeof(u));
	if (api_body(r, allowed, &body) == -1)
		return;
	hin = json_str(json_get(body, "handle"));
	if (hin == NULL || api_handle_fold(hin, handle, sizeof(handle)) == -1)
		api_verr(&verrs, "body.handle",
		    "required: 1 to 39 lowercase letters, digits or single inner hyphens");
	email = json_str(json_get(body, "email"));
	if (email == NULL || (e = api_email_error(email)) != NULL)
		api_verr(&verrs, "body.email", email ? e : "required: an email address");
	if ((v = json_get(body, "display_name")) != NULL && !json_is_null(v)) {
		dn = json_str(v);
		if (dn == NULL || (e = api_display_name_error(dn)) != NULL)
			api_verr(&verrs, "body.display_name", dn ? e : "must be a string");
		if (dn != NULL && dn[0] == '\0')
			dn = NULL;      /* "" means no display name, as null does */
	}
	/* a password an admin knows is one-time unless the admin says
	 * otherwise (a service account, scripted set-ups) */
	if ((v = json_get(body, "must_change_password")) != NULL &&
	    json_bool(v, &must_change) == -1)
		api_verr(&verrs, "body.must_change_password", "must be true or false");
	if ((v = json_get(body, "role")) != NULL) {
		role = json_str(v);
		if (role == NULL || (strcmp(role, "admin") && strcmp(role, "user")))
			api_verr(&verrs, "body.role", "must be admin or user");
	}
	if ((v = json_get(body, "password")) != NULL) {
		pw = json_str(v);
		if (pw == NULL || (e = api_password_error(pw)) != NULL)
			api_verr(&verrs, "body.password", pw ? e : "must be a string");
	}
	if (verrs != NULL) {
		http_problem(r, 400, "invalid user", verrs);
		goto done;
	}
	if (pw == NULL) {
		if (secret_readable(gen, sizeof(gen), 5) == -1) {
			http_problem(r, 500, "no randomness", NULL);
			goto done;
		}
		pw = gen;
	}
	snprintf(u.handle, sizeof(u.handle), "%s", handle);
	u.email = x_strdup(email);
	u.display_name = dn ? x_strdup(dn) : NULL;
	u.admin = strcmp(role, "admin") == 0;
	u.must_change_pw = must_change != 0;
	/* the slow part before the write lock */
	if (user_set_password(&u, pw, (unsigned)app_conf()->pbkdf2_iterations) == -1 ||
	    store_txn_begin(app.store, 1, &t) == -1) {
		http_problem(r, 500, "cannot create the user", NULL);
		goto done;
	}
	rc = admin_user_insert(t, &u);
	if (rc == 1) {
		struct json *ve = NULL;

		store_txn_abort(t);
		api_verr(&ve, "body.handle", "is taken");
		http_problem(r, 409, "that handle is taken", ve);
		goto done;
	}
	data = json_object();
	json_set_str(data, "handle", u.handle);
	json_set_str(data, "email", u.email);
	json_set_str(data, "role", role);
	if (rc == -1 || api_audit(r, t, "user.create", &u, data) == -1) {
		json_free(data);
		store_txn_abort(t);
		api_write_failed(r, "cannot create the user; nothing was changed");
		goto done;
	}
	json_free(data);
	if (api_commit(r, t) == 0) {
		dns_refresh();    /* the config may name this handle as an owner */
		push_wake();
		admin_reply_user(r, 201, &u, gen[0] ? gen : NULL, 0);
	}
done:
	crypto_wipe(gen, sizeof(gen));
	user_clear(&u);
	json_free(body);
}

void
api_admin_user_list(struct http_req *r)
{
	struct store_txn *t;
	struct json *items, *ans, *verrs = NULL;
	char after[64] = "", next[NAME_HANDLE_MAX + 1], q[256] = "";
	unsigned limit;
	size_t total;
	int rc;

	if (api_limit(r, &limit) == -1)
		return;
	rc = http_query(r, "next_token", after, sizeof(after));
	if (rc == -2 || (rc == 0 && !name_handle_valid(after)))
		api_verr(&verrs, "query.next_token", "is not a token this API gave");
	/* ?q=: part of a handle or an e-mail address, case-insensitive */
	rc = http_query(r, "q", q, sizeof(q));
	if (rc == -2 || (rc == 0 && strlen(q) > 254))
		api_verr(&verrs, "query.q", "must be at most 254 characters");
	for (char *p = q; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p + 32);
	if (verrs != NULL) {
		http_problem(r, 400, "invalid query parameter", verrs);
		return;
	}
	if (store_txn_begin(app.store, 0, &t) == -1) {
		http_problem(r, 500, "cannot open the store", NULL);
		return;
	}
	if (user_list(t, after, q, limit, &items, next, sizeof(next)) == -1 ||
	    store_count(t, STORE_DB_USER, &total) == -1) {
		store_txn_abort(t);
		http_problem(r, 500, "cannot read the user store", NULL);
		return;
	}
	store_txn_abort(t);
	/* the list answer, plus how many users the appliance has */
	ans = json_object();
	json_set(ans, "items", items);
	if (next[0])
		json_set_str(ans, "next_token", next);
	json_set_int(ans, "total", (int64_t)total);
	http_reply_json(r, 200, ans);
	json_free(ans);
}

/* disable / enable / reset: one user, one change, one record */
static void
admin_user_change(struct http_req *r, const char *action)
{
	struct store_txn *t;
	struct user u;
	char gen[64] = "";
	size_t admins;
	int disable = strcmp(action, "user.disable") == 0;
	int reset = strcmp(action, "user.console_password.reset") == 0;

	if (reset && secret_readable(gen, sizeof(gen), 5) == -1) {
		http_problem(r, 500, "no randomness", NULL);
		return;
	}
	if (store_txn_begin(app.store, 1, &t) == -1) {
		http_problem(r, 500, "cannot open the store", NULL);
		return;
	}
	if (api_path_user(r, t, &u) == -1) {
		store_txn_abort(t);
		return;
	}
	if (disable && strcmp(u.id, api_ctx(r)->actor.id) == 0) {
		http_problem(r, 409, "you cannot disable your own account; another "
		    "administrator can", NULL);
		goto abort;
	}
	if (disable && u.admin && !u.disabled) {
		if (user_count_admins(t, &admins) == -1 || admins <= 1) {
			http_problem(r, 409, "the last administrator cannot be disabled", NULL);
			goto abort;
		}
	}
	if (disable)
		u.disabled = 1;
	else if (!reset)
		u.disabled = 0;
	else if (user_set_password(&u, gen, (unsigned)app_conf()->pbkdf2_iterations) == -1)
		goto fail;
	else
		u.must_change_pw = 1;     /* the admin saw it: one-time */
	u.version_id++;
	u.updated_at = app_now();
	/* disable/enable also take away / give back the database LOGIN on
	 * every node: pushed like a rotation (outbox.c, state "disabled") */
	if (user_save(t, &u, NULL, 0) == -1 ||
	    ((disable || reset) && session_delete_user(t, u.id, NULL) == -1) ||
	    (!reset && outbox_recompute_user(t, u.id) == -1) ||
	    api_audit(r, t, action, &u, NULL) == -1)
		goto fail;
	if (api_commit(r, t) == 0) {
		if (!reset)
			push_wake();
		admin_reply_user(r, 200, &u, reset ? gen : NULL, reset);
	}
	crypto_wipe(gen, sizeof(gen));
	user_clear(&u);
	return;
fail:
	api_write_failed(r, "the change could not be saved; nothing was changed");
abort:
	store_txn_abort(t);
	crypto_wipe(gen, sizeof(gen));
	user_clear(&u);
}

void
api_admin_user_disable(struct http_req *r)
{
	admin_user_change(r, "user.disable");
}

void
api_admin_user_enable(struct http_req *r)
{
	admin_user_change(r, "user.enable");
}

void
api_admin_user_password_reset(struct http_req *r)
{
	admin_user_change(r, "user.console_password.reset");
}

void
api_admin_audit(struct http_req *r)
{
	api_audit_list(r, NULL);
}

void
api_admin_audit_verify(struct http_req *r)
{
	struct store_txn *t;
	struct json *rep;

	if (store_txn_begin(app.store, 0, &t) == -1) {
		http_problem(r, 500, "cannot open the store", NULL);
		return;
	}
	if (audit_verify(t, &rep) == -1) {
		store_txn_abort(t);
		http_problem(r, 500, "cannot read the audit log", NULL);
		return;
	}
	store_txn_abort(t);
	http_reply_json(r, 200, rep);
	json_free(rep);
}

/*
 * First start: create the bootstrap administrator once. A META flag records
 * that it was done, so renaming or (with another admin) deleting it never
 * brings it back.
 */
int
api_bootstrap_needed(void)
{
	struct store_txn *t;
	void *v = NULL;
	size_t vl;
	int rc;

	if (store_txn_begin(app.store, 0, &t) == -1)
		return -1;
	rc = store_get(t, STORE_DB_META, "bootstrapped", 12, &v, &vl);
	store_txn_abort(t);
	free(v);
	return rc == STORE_NOTFOUND ? 1 : rc == 0 ? 0 : -1;
}

int
api_bootstrap_admin(const struct conf *c, const char *password)
{
	struct audit_actor a = { .ip = "" };
	struct audit_event e;
	struct store_txn *t;
	struct json *data;
	struct user u;
	int rc;

	memset(&u, 0, sizeof(u));
	snprintf(u.handle, sizeof(u.handle), "%s", c->admin_handle);
	u.email = x_strdup(c->admin_email);
	u.admin = 1;
	u.must_change_pw = 1;     /* it sits in a file: changed at first sign-in */
	if (user_set_password(&u, password, (unsigned)c->pbkdf2_iterations) == -1 ||
	    store_txn_begin(app.store, 1, &t) == -1) {
		user_clear(&u);
		return -1;
	}
	rc = admin_user_insert(t, &u);
	data = json_object();
	json_set_str(data, "handle", u.handle);
	json_set_str(data, "email", u.email);
	json_set_str(data, "role", "admin");
	json_set_str(data, "source", "bootstrap_admin");
	memset(&e, 0, sizeof(e));
	e.action = "user.create";
	e.actor = &a;
	e.identity_id = e.target_id = u.id;
	e.identity_handle = e.target_handle = u.handle;
	e.data = data;
	if (rc != 0 || store_put(t, STORE_DB_META, "bootstrapped", 12, "1", 1) == -1 ||
	    audit_append(t, (unsigned)c->audit_capacity, &e, app_now(), NULL) == -1) {
		store_txn_abort(t);
		rc = -1;
	} else {
		rc = store_txn_commit(t);
	}
	json_free(data);
	user_clear(&u);
	return rc;
}

void
api_admin_nodes(struct http_req *r)
{
	struct json *j = json_object();

	json_set(j, "items", push_nodes_json());
	http_reply_json(r, 200, j);
	json_free(j);
}

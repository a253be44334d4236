/*
 * Administrator handlers: users (create, list, disable, enable, console
 * password reset), the whole audit log and its chain verification, the
 * nodes. The changes themselves are the account layer's (account.c).
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

static const char *const admin_roles[] = { "admin", "user", NULL };
enum { CREATE_HANDLE, CREATE_EMAIL, CREATE_DISPLAY_NAME, CREATE_ROLE, CREATE_PASSWORD,
	CREATE_MUST_CHANGE };
static const struct body_field create_fields[] = {
	[CREATE_HANDLE] = { "handle", BODY_STRING, BODY_REQUIRED, 0, 0, NULL, api_handle_error },
	[CREATE_EMAIL] = { "email", BODY_STRING, BODY_REQUIRED, 0, 0, NULL, api_email_error },
	[CREATE_DISPLAY_NAME] = { "display_name", BODY_STRING, BODY_NULLABLE, 0, 100, NULL,
	    api_display_name_error },
	[CREATE_ROLE] = { "role", BODY_STRING, 0, 0, 0, admin_roles, NULL },
	[CREATE_PASSWORD] = { "password", BODY_STRING, 0, 0, 0, NULL, api_password_error },
	/* a password an admin knows is one-time unless the admin says
	 * otherwise (a service account, scripted set-ups) */
	[CREATE_MUST_CHANGE] = { "must_change_password", BODY_BOOL, 0, 0, 0, NULL, NULL },
	{ NULL, 0, 0, 0, 0, NULL, NULL },
};
static const struct body_spec create_body = { "invalid user", 0, create_fields };

/* the new user from the body, with its password verifier and its database
 * password (the slow parts, before the write lock); gen gets the console
 * password generated when none was given. -1 after a 500 */
static int
admin_new_user(struct http_req *r, const struct body_value *v, struct user *u,
    struct dbpass_new *db, char *gen, size_t genlen)
{
	const char *dn = v[CREATE_DISPLAY_NAME].str, *pw = v[CREATE_PASSWORD].str;

	memset(u, 0, sizeof(*u));
	memset(db, 0, sizeof(*db));
	api_handle_fold(v[CREATE_HANDLE].str, u->handle, sizeof(u->handle));
	/* the SCRAM verifier (4,096 iterations) only when a workspace names
	 * the user now; otherwise the first node to need it makes it */
	if ((pw == NULL && secret_readable(gen, genlen, 5) == -1) ||
	    dbpass_prepare(db, conf_names_handle(app_conf(), u->handle)) == -1) {
		http_problem(r, 500, "no randomness", NULL);
		return -1;
	}
	u->email = x_strdup(v[CREATE_EMAIL].str);
	u->display_name = dn && dn[0] ? x_strdup(dn) : NULL;   /* "" as null: none */
	u->admin = v[CREATE_ROLE].str && strcmp(v[CREATE_ROLE].str, "admin") == 0;
	u->must_change_pw = !v[CREATE_MUST_CHANGE].set || v[CREATE_MUST_CHANGE].flag;
	if (user_set_password(u, pw ? pw : gen, (unsigned)app_conf()->pbkdf2_iterations) == -1) {
		http_problem(r, 500, "cannot create the user", NULL);
		return -1;
	}
	return 0;
}

void
api_admin_user_create(struct http_req *r)
{
	struct account_txn ax;
	struct dbpass_new db;
	char gen[64] = "";
	struct body b;
	struct user u;

	if (api_body(r, &create_body, &b) == -1)
		return;
	if (admin_new_user(r, b.v, &u, &db, gen, sizeof(gen)) == -1 ||
	    api_account_begin(r, &ax, "cannot create the user") == -1)
		goto done;
	if (api_account_done(r, &ax, account_create(&ax, &u, NULL, &db),
	    "cannot create the user; nothing was changed") == 0)
		admin_reply_user(r, 201, &u, gen[0] ? gen : NULL, 0);
done:
	dbpass_new_wipe(&db);
	crypto_wipe(gen, sizeof(gen));
	user_clear(&u);
	body_free(&b);
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

/* disable / enable / reset: one user, one change, the user as the answer
 * (and, for a reset, the one-time password) */
enum admin_change { ADMIN_DISABLE, ADMIN_ENABLE, ADMIN_RESET };

static void
admin_user_change(struct http_req *r, enum admin_change what)
{
	struct account_txn ax;
	struct user_pw np;
	char pw[64] = "";
	struct user u;
	int rc;

	memset(&np, 0, sizeof(np));
	/* a reset's one-time password and its verifier before the write lock */
	if (what == ADMIN_RESET && (secret_readable(pw, sizeof(pw), 5) == -1 ||
	    user_pw_derive(&np, pw, (unsigned)app_conf()->pbkdf2_iterations) == -1)) {
		crypto_wipe(pw, sizeof(pw));
		http_problem(r, 500, "no randomness", NULL);
		return;
	}
	if (api_account_user(r, &ax, &u) == -1) {
		crypto_wipe(pw, sizeof(pw));
		crypto_wipe(&np, sizeof(np));
		return;
	}
	rc = what == ADMIN_DISABLE ? account_disable(&ax, &u) :
	    what == ADMIN_ENABLE ? account_enable(&ax, &u) :
	    account_password_reset(&ax, &u, &np);
	if (api_account_done(r, &ax, rc, "the change could not be saved; nothing was changed") == 0)
		admin_reply_user(r, 200, &u, pw[0] ? pw : NULL, what == ADMIN_RESET);
	crypto_wipe(pw, sizeof(pw));
	crypto_wipe(&np, sizeof(np));
	user_clear(&u);
}

void
api_admin_user_disable(struct http_req *r)
{
	admin_user_change(r, ADMIN_DISABLE);
}

void
api_admin_user_enable(struct http_req *r)
{
	admin_user_change(r, ADMIN_ENABLE);
}

void
api_admin_user_password_reset(struct http_req *r)
{
	admin_user_change(r, ADMIN_RESET);
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

void
api_admin_nodes(struct http_req *r)
{
	struct json *j = json_object();

	json_set(j, "items", push_nodes_json());
	http_reply_json(r, 200, j);
	json_free(j);
}

void
api_admin_audit_forward(struct http_req *r)
{
	struct json *j = forward_json();

	http_reply_json(r, 200, j);
	json_free(j);
}

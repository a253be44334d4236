/*
 * The account layer: every change to an account, under the handlers and the
 * bootstrap (mosquitto's subs.c under handle_subscribe.c). Each account_*
 * function makes one change inside the caller's write transaction: the
 * records, the change's audit record and the outbox entries it causes, all
 * or nothing (on any result but ACCOUNT_OK the caller aborts). Handlers
 * parse, authorize, call one of these and reply; they never write the store
 * themselves. What must follow a commit is gathered in ax->after and done by
 * account_after_commit, called by whoever commits.
 *
 * What each change does beyond the user's own records, in one place:
 *
 *   change                  nodes (outbox)              after the commit
 *   create                  role + password queued      DNS, push
 *   update (handle)         role renamed                DNS, push
 *   update (profile only)   -                           -
 *   delete                  role dropped ("absent")     DNS, push
 *   disable / enable        LOGIN taken away / given    push
 *                           back ("disabled"/"present")
 *   database password       new verifier queued         push
 *   token reset, console    - (the nodes know only the  -
 *   password change/reset     database password)
 *   tokens, sign-in/out     -                           -
 *
 * So disabling does touch the nodes: the user keeps their roles, but no
 * node lets them log in until they are enabled again. Sessions end on
 * disable, delete, token reset and an admin's password reset (a user's own
 * password change keeps the session that made it).
 */
#include <stdlib.h>
#include <string.h>

#include "acctd.h"

void
account_actor(struct account_txn *ax, const struct user *u, const char *ip)
{
	memset(&ax->by, 0, sizeof(ax->by));
	ax->by.ip = ip;
	ax->by_admin = u != NULL && u->admin;
	if (u != NULL) {
		ax->by.id = u->id;
		ax->by.handle = u->handle;
		ax->by.display_name = u->display_name;
		ax->by.avatar_url = u->avatar_url;
	}
}

/* a refusal or a read failure: rc, and why in words */
static int
account_refuse(struct account_txn *ax, int rc, const char *why)
{
	snprintf(ax->why, sizeof(ax->why), "%s", why);
	return rc;
}

/* the change's audit record: always the last write of an account_* */
static int
account_audit(struct account_txn *ax, const char *action, const struct user *subject,
    const struct json *data)
{
	struct audit_event e;

	memset(&e, 0, sizeof(e));
	e.action = action;
	e.actor = &ax->by;
	if (subject != NULL) {
		e.identity_id = e.target_id = subject->id;
		e.identity_handle = e.target_handle = subject->handle;
	}
	e.data = data;
	if (audit_append(ax->t, (unsigned)app_conf()->audit_capacity, &e, app_now(), NULL) == -1) {
		log_warnx("audit: cannot append %s; the change is not made", action);
		return ACCOUNT_AUDIT_FAILED;
	}
	return ACCOUNT_OK;
}

/* the same, with data {"<key>": <string>, …} (pairs end with a NULL key) */
static int
account_audit_str(struct account_txn *ax, const char *action, const struct user *subject,
    const char *const *pairs)
{
	struct json *data = json_object();
	int rc;

	for (; pairs[0] != NULL; pairs += 2)
		json_set_str(data, pairs[0], pairs[1]);
	rc = account_audit(ax, action, subject, data);
	json_free(data);
	return rc;
}

static int
account_audit_version(struct account_txn *ax, const char *action, const struct user *subject,
    int64_t version)
{
	struct json *data = json_object();
	int rc;

	json_set_int(data, "version", version);
	rc = account_audit(ax, action, subject, data);
	json_free(data);
	return rc;
}

/* u is about to lose its active admin status (what: "deleted",
 * "disabled"): refused when it is the last */
static int
account_not_last_admin(struct account_txn *ax, const struct user *u, const char *what)
{
	char why[64];
	size_t admins;

	if (!u->admin || u->disabled)
		return ACCOUNT_OK;
	if (user_admins(ax->t, &admins) == -1)
		return account_refuse(ax, ACCOUNT_READ_FAILED, "cannot read the user store");
	if (admins > 1)
		return ACCOUNT_OK;
	snprintf(why, sizeof(why), "the last administrator cannot be %s", what);
	return account_refuse(ax, ACCOUNT_LAST_ADMIN, why);
}

/* 1 when u counts as an active administrator (META "admins") */
static int
account_active_admin(const struct user *u)
{
	return u->admin && !u->disabled;
}

/* u's record, one version on */
static int
account_save(struct account_txn *ax, struct user *u)
{
	u->version_id++;
	u->updated_at = app_now();
	return user_save(ax->t, u, NULL, 0) == -1 ? ACCOUNT_FAILED : ACCOUNT_OK;
}

int
account_create(struct account_txn *ax, struct user *u, const char *source,
    const struct dbpass_new *db)
{
	char owner[SECRET_ID_LEN + 1];
	int64_t version;
	int rc = user_handle_release_chosen(ax->t, u->handle);

	if (rc == -1)
		return ACCOUNT_FAILED;
	if ((rc = user_id_of_handle(ax->t, u->handle, owner)) == 0)
		return account_refuse(ax, ACCOUNT_TAKEN, "that handle is taken");
	if (rc == -1 || secret_id(u->id, "u_") == -1)
		return ACCOUNT_FAILED;
	u->version_id = 1;
	u->created_at = u->updated_at = app_now();
	/* every user has a database password from the start */
	if (user_save(ax->t, u, NULL, 0) == -1 ||
	    user_admins_adjust(ax->t, account_active_admin(u)) == -1 ||
	    dbpass_rotate(ax->t, u->id, u->created_at, db, &version) == -1 ||
	    outbox_recompute_user(ax->t, u->id) == -1)
		return ACCOUNT_FAILED;
	{
		const char *data[] = { "handle", u->handle, "email", u->email,
		    "role", u->admin ? "admin" : "user",
		    source ? "source" : NULL, source, NULL };

		rc = account_audit_str(ax, "user.create", u, data);
	}
	if (rc == ACCOUNT_OK)
		ax->after |= ACCOUNT_AFTER_DNS | ACCOUNT_AFTER_PUSH;  /* the config may name it */
	return rc;
}

/*
 * First start: create the bootstrap administrator once. A META flag records
 * that it was done, so renaming or (with another admin) deleting it never
 * brings it back.
 */
int
account_bootstrap_needed(void)
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
account_bootstrap(const struct conf *c, const char *password)
{
	struct account_txn ax = { 0 };
	struct dbpass_new db;
	struct user u;
	int rc;

	memset(&u, 0, sizeof(u));
	snprintf(u.handle, sizeof(u.handle), "%s", c->admin_handle);
	u.email = x_strdup(c->admin_email);
	u.admin = 1;
	u.must_change_pw = 1;     /* it sits in a file: changed at first sign-in */
	account_actor(&ax, NULL, "");
	if (user_set_password(&u, password, (unsigned)c->pbkdf2_iterations) == -1 ||
	    dbpass_prepare(&db, 1) == -1) {
		user_clear(&u);
		return -1;
	}
	if (store_txn_begin(app.store, 1, &ax.t) == -1) {
		dbpass_new_wipe(&db);
		user_clear(&u);
		return -1;
	}
	if (account_create(&ax, &u, "bootstrap_admin", &db) != ACCOUNT_OK ||
	    store_put(ax.t, STORE_DB_META, "bootstrapped", 12, "1", 1) == -1) {
		store_txn_abort(ax.t);
		rc = -1;
	} else {
		rc = store_txn_commit(ax.t);
	}
	dbpass_new_wipe(&db);
	user_clear(&u);
	return rc;     /* start-up refreshes DNS and starts the push threads next */
}

static void
account_change(struct json *data, const char *k, const char *o, const char *n)
{
	struct json *c = json_object();

	json_set_str(c, "old", o);
	json_set_str(c, "new", n);
	json_set(data, k, c);
}

static int
account_str_eq(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* a profile string (display name, avatar URL) that changes: in u and data */
static void
account_set_str(struct json *data, const char *k, char **field, const char *v)
{
	if (account_str_eq(v, *field))
		return;
	account_change(data, k, *field, v);
	free(*field);
	*field = v ? x_strdup(v) : NULL;
}

/* the user's rotation period (days, 0: the policy's): in u and data */
static void
account_set_rotate_days(struct json *data, struct user *u, int days)
{
	struct json *c = json_object();

	json_set_int(c, "old", u->dbpass_rotate_days);
	json_set_int(c, "new", days);
	json_set(data, "dbpass_rotate_every_days", c);
	u->dbpass_rotate_days = days;
}

/*
 * u takes handle. Workspace membership is given by an admin, never gained by
 * renaming (docs/design.md "Handles"): a handle the config names is taken
 * only by an admin creating or renaming that user, or by its own user coming
 * back to a former handle.
 */
static int
account_rename(struct account_txn *ax, struct user *u, const char *handle,
    struct json *data)
{
	char owner[SECRET_ID_LEN + 1];
	int rc = user_id_of_handle(ax->t, handle, owner);

	if (rc == 0 && strcmp(owner, u->id) != 0)   /* another user's, now or before */
		return account_refuse(ax, ACCOUNT_TAKEN, "that handle is taken");
	if (rc == -1)
		return account_refuse(ax, ACCOUNT_READ_FAILED, "cannot read the user store");
	if (rc == STORE_NOTFOUND && !ax->by_admin && conf_names_handle(app_conf(), handle))
		return account_refuse(ax, ACCOUNT_RESERVED, "that handle is reserved");
	if (rc == 0) {
		/* back to a former handle: chosen as it was before */
		if (user_handle_chosen(ax->t, handle, &u->handle_self) != 0)
			return account_refuse(ax, ACCOUNT_READ_FAILED, "cannot read the user store");
	} else {
		u->handle_self = 1;
	}
	if (ax->by_admin)
		u->handle_self = 0;
	account_change(data, "handle", u->handle, handle);
	snprintf(u->handle, sizeof(u->handle), "%s", handle);
	return ACCOUNT_OK;
}

int
account_update(struct account_txn *ax, struct user *u, const struct account_profile *p)
{
	struct json *data = json_object();
	char old_handle[NAME_HANDLE_MAX + 1];
	int old_chosen = u->handle_self, renamed, rc = ACCOUNT_OK;

	snprintf(old_handle, sizeof(old_handle), "%s", u->handle);
	if (p->set_display_name)
		account_set_str(data, "display_name", &u->display_name, p->display_name);
	if (p->set_avatar_url)
		account_set_str(data, "avatar_url", &u->avatar_url, p->avatar_url);
	if (p->set_rotate_days && p->rotate_days != u->dbpass_rotate_days)
		account_set_rotate_days(data, u, p->rotate_days);
	renamed = p->handle != NULL && p->handle[0] && strcmp(p->handle, u->handle) != 0;
	if (renamed)
		rc = account_rename(ax, u, p->handle, data);
	if (rc == ACCOUNT_OK && json_next(data, NULL, NULL) == NULL)
		rc = ACCOUNT_UNCHANGED;
	if (rc != ACCOUNT_OK)
		goto done;
	u->version_id++;
	u->updated_at = app_now();
	if (user_save(ax->t, u, old_handle, renamed ? old_chosen : 0) == -1 ||
	    (renamed && outbox_recompute_user(ax->t, u->id) == -1) ||
	    (p->set_rotate_days && dbpass_reschedule(ax->t, u->id) == -1))
		rc = ACCOUNT_FAILED;
	else
		rc = account_audit(ax, "user.update", u, data);
	/* the workspace names move with the handle, and the role is renamed
	 * on the nodes */
	if (rc == ACCOUNT_OK && renamed)
		ax->after |= ACCOUNT_AFTER_DNS | ACCOUNT_AFTER_PUSH;
	if (rc == ACCOUNT_OK && p->set_rotate_days)
		ax->after |= ACCOUNT_AFTER_ROTATE;   /* it may be due sooner */
done:
	json_free(data);
	return rc;
}

int
account_delete(struct account_txn *ax, const struct user *u)
{
	const char *data[] = { "handle", u->handle, NULL };
	int rc = account_not_last_admin(ax, u, "deleted");

	if (rc != ACCOUNT_OK)
		return rc;
	if (session_delete_user(ax->t, u->id, NULL) == -1 || token_remove_user(ax->t, u->id) == -1 ||
	    dbpass_delete(ax->t, u->id) == -1 || totp_delete(ax->t, u->id) == -1 ||
	    user_remove(ax->t, u) == -1 ||
	    user_admins_adjust(ax->t, -account_active_admin(u)) == -1 ||
	    outbox_recompute_user(ax->t, u->id) == -1)
		return ACCOUNT_FAILED;
	rc = account_audit_str(ax, "user.delete", u, data);
	if (rc == ACCOUNT_OK)
		ax->after |= ACCOUNT_AFTER_DNS | ACCOUNT_AFTER_PUSH;
	return rc;
}

/* disable / enable: the status, the sessions, the LOGIN on every node */
static int
account_set_disabled(struct account_txn *ax, struct user *u, int disabled)
{
	int was = account_active_admin(u), rc;

	u->disabled = disabled;
	if (account_save(ax, u) != ACCOUNT_OK ||
	    user_admins_adjust(ax->t, account_active_admin(u) - was) == -1 ||
	    (disabled && session_delete_user(ax->t, u->id, NULL) == -1) ||
	    outbox_recompute_user(ax->t, u->id) == -1)
		return ACCOUNT_FAILED;
	rc = account_audit(ax, disabled ? "user.disable" : "user.enable", u, NULL);
	if (rc == ACCOUNT_OK)
		ax->after |= ACCOUNT_AFTER_PUSH;
	return rc;
}

int
account_disable(struct account_txn *ax, struct user *u)
{
	int rc;

	if (ax->by.id != NULL && strcmp(u->id, ax->by.id) == 0)
		return account_refuse(ax, ACCOUNT_SELF, "you cannot disable your own "
		    "account; another administrator can");
	if ((rc = account_not_last_admin(ax, u, "disabled")) != ACCOUNT_OK)
		return rc;
	return account_set_disabled(ax, u, 1);
}

int
account_enable(struct account_txn *ax, struct user *u)
{
	return account_set_disabled(ax, u, 0);
}

/*
 * Tokens issued before now are revoked: removed, so they neither linger in
 * the list nor count against the limit (the issued-at check in token
 * verification stays as a second guard); sessions end.
 */
int
account_token_reset(struct account_txn *ax, struct user *u)
{
	u->token_min_issued_at = app_now_ms();
	if (account_save(ax, u) != ACCOUNT_OK ||
	    session_delete_user(ax->t, u->id, NULL) == -1 ||
	    token_remove_user(ax->t, u->id) == -1)
		return ACCOUNT_FAILED;
	return account_audit(ax, "user.token_reset", u, NULL);
}

int
account_password_change(struct account_txn *ax, const char *user_id,
    const struct user_pw *p, const char *keep_sid)
{
	struct user u;
	int rc;

	if (user_load(ax->t, user_id, &u) != 0) {
		rc = account_refuse(ax, ACCOUNT_READ_FAILED, "cannot change the password");
		goto done;
	}
	user_pw_apply(&u, p);
	/* the user chose it: no longer one-time. An admin who knows a user's
	 * current password and changes it here leaves the flag as it was. */
	if (ax->by.id != NULL && strcmp(ax->by.id, u.id) == 0)
		u.must_change_pw = 0;
	if (account_save(ax, &u) != ACCOUNT_OK ||
	    session_delete_user(ax->t, u.id, keep_sid) == -1)
		rc = ACCOUNT_FAILED;
	else
		rc = account_audit(ax, "user.console_password.change", &u, NULL);
done:
	user_clear(&u);
	return rc;
}

int
account_password_reset(struct account_txn *ax, struct user *u, const struct user_pw *p)
{
	user_pw_apply(u, p);
	u->must_change_pw = 1;     /* the admin saw it: one-time */
	if (account_save(ax, u) != ACCOUNT_OK ||
	    session_delete_user(ax->t, u->id, NULL) == -1)
		return ACCOUNT_FAILED;
	return account_audit(ax, "user.console_password.reset", u, NULL);
}

int
account_dbpass_rotate(struct account_txn *ax, const struct user *u,
    const struct dbpass_new *db, struct dbpass *d, char *pw, size_t pwlen)
{
	int64_t version;
	int rc;

	if (dbpass_rotate(ax->t, u->id, app_now(), db, &version) == -1 ||
	    dbpass_get(ax->t, u->id, d, pw, pwlen) != 0 ||
	    outbox_recompute_user(ax->t, u->id) == -1)
		return ACCOUNT_FAILED;
	rc = account_audit_version(ax, "user.password.rotate", u, version);
	if (rc == ACCOUNT_OK)
		ax->after |= ACCOUNT_AFTER_PUSH;
	return rc;
}

int
account_dbpass_scheduled(struct account_txn *ax, const struct user *u,
    const struct dbpass_new *db)
{
	struct json *data;
	int64_t version;
	int rc;

	if (dbpass_rotate(ax->t, u->id, app_now(), db, &version) == -1 ||
	    outbox_recompute_user(ax->t, u->id) == -1)
		return ACCOUNT_FAILED;
	data = json_object();
	json_set_int(data, "version", version);
	json_set_str(data, "source", "scheduled");
	rc = account_audit(ax, "user.password.rotate", u, data);
	json_free(data);
	if (rc == ACCOUNT_OK)
		ax->after |= ACCOUNT_AFTER_PUSH;
	return rc;
}

int
account_token_create(struct account_txn *ax, const struct user *u, const char *title,
    int64_t expires, enum token_scope scope, struct token *k, char tok[TOKEN_LEN + 1])
{
	char (*ids)[SECRET_ID_LEN + 1] = NULL, why[96];
	int max = app_conf()->tokens_max_per_user;
	size_t n;

	memset(k, 0, sizeof(*k));
	if (token_ids(ax->t, u->id, &ids, &n) == -1)
		return account_refuse(ax, ACCOUNT_READ_FAILED, "cannot read the token store");
	free(ids);
	if (n >= (size_t)max) {
		snprintf(why, sizeof(why), "a user may have at most %d tokens; delete one first", max);
		return account_refuse(ax, ACCOUNT_TOKEN_LIMIT, why);
	}
	if (token_mint(k->id, tok, k->hmac) == -1)
		return account_refuse(ax, ACCOUNT_NO_RANDOM, "no randomness");
	snprintf(k->user_id, sizeof(k->user_id), "%s", u->id);
	k->title = title && title[0] ? x_strdup(title) : NULL;
	k->active = 1;
	memcpy(k->last4, tok + TOKEN_LEN - 4, 4);
	k->created_ms = app_now_ms();
	k->updated_at = k->created_ms / 1000;
	k->expires_at = expires;
	k->version_id = 1;
	k->scope = scope;
	if (token_save(ax->t, k) == -1)
		return ACCOUNT_FAILED;
	{
		const char *data[] = { "token_id", k->id, "last4", k->last4,
			"scope", token_scope_name(scope), NULL };

		return account_audit_str(ax, "token.create", u, data);
	}
}

int
account_token_set_active(struct account_txn *ax, const struct user *u, struct token *k,
    int active)
{
	const char *data[] = { "token_id", k->id, "last4", k->last4, NULL };

	if (k->active == active)
		return ACCOUNT_UNCHANGED;
	k->active = active;
	k->version_id++;
	k->updated_at = app_now();
	if (token_save(ax->t, k) == -1)
		return ACCOUNT_FAILED;
	return account_audit_str(ax, "token.update", u, data);
}

int
account_token_delete(struct account_txn *ax, const struct user *u, const struct token *k)
{
	const char *data[] = { "token_id", k->id, "last4", k->last4, NULL };

	if (token_remove(ax->t, k) == -1)
		return ACCOUNT_FAILED;
	return account_audit_str(ax, "token.delete", u, data);
}

/*
 * A session for u, whose password was checked (slowly) before this txn: the
 * password or the status may have changed meanwhile, so a session is only
 * created for the password that is current now.
 */
int
account_sign_in(struct account_txn *ax, const struct user *u,
    char sid[SESSION_TOKEN_LEN + 1], char csrf[SESSION_TOKEN_LEN + 1])
{
	return account_sign_in_factor(ax, u, NULL, sid, csrf);
}

int
account_sign_in_factor(struct account_txn *ax, const struct user *u, const char *factor,
    char sid[SESSION_TOKEN_LEN + 1], char csrf[SESSION_TOKEN_LEN + 1])
{
	const char *data[] = { "factor", factor, NULL };
	struct user fresh;
	int rc = user_load(ax->t, u->id, &fresh);

	if (rc == STORE_NOTFOUND || (rc == 0 && (fresh.disabled ||
	    !crypto_equal(fresh.pw_hash, u->pw_hash, sizeof(u->pw_hash)))))
		rc = account_refuse(ax, ACCOUNT_STALE, "wrong handle or password");
	else if (rc == -1 || session_create(ax->t, u->id, app_now_ms(), ax->by.ip, ax->ua,
	    sid, csrf) == -1)
		rc = ACCOUNT_FAILED;
	else
		rc = factor ? account_audit_str(ax, "session.login", u, data) :
		    account_audit(ax, "session.login", u, NULL);
	user_clear(&fresh);
	return rc;
}

int
account_sign_in_failed(struct account_txn *ax, const char *handle, const struct user *u)
{
	const char *data[] = { "handle", handle, NULL };

	return account_audit_str(ax, "session.login_failed", u && u->id[0] ? u : NULL, data);
}

int
account_sign_out(struct account_txn *ax, const struct user *u, const char *sid)
{
	if (sid != NULL && session_delete(ax->t, sid) == -1)
		return ACCOUNT_FAILED;
	return account_audit(ax, "session.logout", u, NULL);
}

int
account_session_end(struct account_txn *ax, const struct user *u, const char *id)
{
	char browser[64], ip[48];
	const char *data[] = { "session_id", id, "browser", browser, "address", ip, NULL };
	int rc = session_end(ax->t, u->id, id, browser, sizeof(browser), ip, sizeof(ip));

	if (rc == STORE_NOTFOUND)
		return ACCOUNT_UNCHANGED;
	if (rc == -1)
		return ACCOUNT_FAILED;
	return account_audit_str(ax, "session.end", u, data);
}

int
account_audit_export(struct account_txn *ax, const struct user *u, const struct json *data)
{
	return account_audit(ax, "audit.export", u, data);
}

int
account_secret_read(struct account_txn *ax, const struct user *u, const char *action,
    int64_t version)
{
	return account_audit_version(ax, action, u, version);
}

int
account_record(struct account_txn *ax, const char *action, const struct user *subject,
    const struct json *data)
{
	return account_audit(ax, action, subject, data);
}

int
account_store_event(struct account_txn *ax, const char *action, const struct json *data)
{
	return account_audit(ax, action, NULL, data);
}

void
account_after_commit(const struct account_txn *ax)
{
	if (ax->after & ACCOUNT_AFTER_DNS)
		dns_refresh();
	if (ax->after & ACCOUNT_AFTER_PUSH)
		push_wake();
	if (ax->after & ACCOUNT_AFTER_ROTATE)
		rotate_wake();      /* the push threads deliver; the answer does not wait */
}

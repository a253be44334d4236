/*
 * Handlers for a user's own account: sign-in and sign-out, the profile,
 * handle change, deletion, token reset, console password, the audit log.
 * Each change and its audit record commit in one write transaction; input
 * is validated before the store is touched.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "acctd.h"

static void
api_reply_user(struct http_req *r, int status, const struct user *u)
{
	struct json *j = user_json(u);

	http_reply_json(r, status, j);
	json_free(j);
}

/* a string field: NULL when absent; *bad set (and a verr added) when wrong */
static const char *
api_field_str(struct json *body, const char *k, struct json **verrs, int *bad)
{
	struct json *v = json_get(body, k);
	char loc[64];

	if (v == NULL)
		return NULL;
	if (json_str(v) == NULL) {
		snprintf(loc, sizeof(loc), "body.%s", k);
		api_verr(verrs, loc, "must be a string");
		*bad = 1;
		return NULL;
	}
	return json_str(v);
}

/* the limiter said wait: 429 with Retry-After, same answer whatever the cause */
static void
api_login_wait(struct http_req *r, int wait)
{
	char h[64], detail[96];

	snprintf(h, sizeof(h), "Retry-After: %d\r\n", wait);
	snprintf(detail, sizeof(detail),
	    "too many failed sign-ins; try again in %d second%s", wait,
	    wait == 1 ? "" : "s");
	http_problem_h(r, 429, detail, NULL, h);
}

/* every KDF slot is taken: the request was not counted, try again soon */
static void
api_kdf_busy(struct http_req *r)
{
	http_problem_h(r, 503, "too many sign-ins at once; try again in a second",
	    NULL, "Retry-After: 1\r\n");
}

/* the password check: 1 right, 0 wrong, -1 no KDF slot (nothing ran) */
static int
api_password_ok(const struct user *u, const char *pw)
{
	int ok;

	if (limiter_kdf_enter() == -1)
		return -1;
	if (u == NULL) {
		user_burn_password_time(pw, (unsigned)app_conf()->pbkdf2_iterations);
		ok = 0;
	} else {
		ok = user_check_password(u, pw);
	}
	limiter_kdf_leave();
	return ok;
}

static void
api_login_fail(struct http_req *r, const char *handle, const struct user *u,
    struct limiter_ticket *tk)
{
	struct store_txn *t;
	struct json *d = json_object();

	limiter_end(tk, LIMITER_FAILED, app_now(), app_conf());
	json_set_str(d, "handle", handle);
	if (store_txn_begin(app.store, 1, &t) == 0) {
		if (api_audit(r, t, "session.login_failed", u && u->id[0] ? u : NULL, d) == 0)
			store_txn_commit(t);
		else
			store_txn_abort(t);
	}
	json_free(d);
	http_problem(r, 401, "wrong handle or password", NULL);
}

/* sign-in takes JSON only: a cross-site form (urlencoded, multipart or
 * text/plain, which need no CORS preflight) cannot sign a victim in */
static int
api_json_ctype(struct http_req *r)
{
	const char *ct = http_header(r, "Content-Type");
	size_t n = strlen("application/json");

	while (ct != NULL && (*ct == ' ' || *ct == '\t'))
		ct++;
	if (ct != NULL && strncasecmp(ct, "application/json", n) == 0 &&
	    (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t'))
		return 0;
	http_problem(r, 415, "send the request body as Content-Type: application/json", NULL);
	return -1;
}

void
api_login(struct http_req *r)
{
	static const char *const allowed[] = { "handle", "password", NULL };
	const struct conf *c = app_conf();
	struct json *body = NULL, *verrs = NULL, *ans;
	const char *handle_in, *pw;
	char handle[NAME_HANDLE_MAX + 1], sid[SESSION_TOKEN_LEN + 1],
	    csrf[SESSION_TOKEN_LEN + 1];
	struct store_txn *t = NULL;
	struct limiter_ticket tk = { -1, -1 };
	struct user u, fresh;
	int bad = 0, rc, wait, ok;

	memset(&u, 0, sizeof(u));
	memset(&fresh, 0, sizeof(fresh));
	memset(sid, 0, sizeof(sid));
	memset(csrf, 0, sizeof(csrf));
	if (api_json_ctype(r) == -1 || api_body(r, allowed, &body) == -1)
		goto done;
	handle_in = api_field_str(body, "handle", &verrs, &bad);
	pw = api_field_str(body, "password", &verrs, &bad);
	if (!bad && handle_in == NULL)
		api_verr(&verrs, "body.handle", "required");
	if (!bad && pw == NULL)
		api_verr(&verrs, "body.password", "required");
	if (verrs != NULL) {
		http_problem(r, 400, "invalid sign-in request", verrs);
		goto done;
	}
	if (api_handle_fold(handle_in, handle, sizeof(handle)) == -1)
		snprintf(handle, sizeof(handle), "%.39s", "-invalid-");
	/* counted before the KDF runs: concurrent guesses cannot overtake the count */
	wait = limiter_begin(handle, r->remote_ip, app_now(), c, &tk);
	if (wait > 0) {
		api_login_wait(r, wait);
		goto done;
	}
	if (store_txn_begin(app.store, 0, &t) == -1) {
		http_problem(r, 500, "cannot read the user store", NULL);
		goto done;
	}
	rc = user_load_handle(t, handle, &u);
	store_txn_abort(t);
	t = NULL;
	if (rc == -1) {
		http_problem(r, 500, "cannot read the user store", NULL);
		goto done;
	}
	ok = api_password_ok(rc == 0 ? &u : NULL, pw);
	if (ok == -1) {
		api_kdf_busy(r);
		goto done;
	}
	if (!ok || u.disabled) {
		api_login_fail(r, handle, rc == 0 ? &u : NULL, &tk);
		goto done;
	}
	limiter_end(&tk, LIMITER_OK, app_now(), c);
	if (store_txn_begin(app.store, 1, &t) == -1) {
		http_problem(r, 500, "cannot create a session", NULL);
		goto done;
	}
	/* the password or the status may have changed while the KDF ran: a
	 * session is only created for the password that is current now */
	rc = user_load(t, u.id, &fresh);
	if (rc == 0 && (fresh.disabled || !crypto_equal(fresh.pw_hash, u.pw_hash,
	    sizeof(u.pw_hash)))) {
		store_txn_abort(t);
		t = NULL;
		http_problem(r, 401, "wrong handle or password", NULL);
		goto done;
	}
	if (rc != 0 || session_create(t, u.id, app_now_ms(), sid, csrf) == -1) {
		store_txn_abort(t);
		t = NULL;
		http_problem(r, rc == STORE_NOTFOUND ? 401 : 500, rc == STORE_NOTFOUND ?
		    "wrong handle or password" : "cannot create a session", NULL);
		goto done;
	}
	/* the record names the user who signed in */
	{
		struct api_ctx *cx = api_ctx(r);

		if (cx != NULL && !cx->authed) {
			cx->actor = u;       /* borrowed for the audit actor */
			cx->authed = 1;
			rc = api_audit(r, t, "session.login", &u, NULL);
			cx->authed = 0;
			memset(&cx->actor, 0, sizeof(cx->actor));
		} else {
			rc = api_audit(r, t, "session.login", &u, NULL);
		}
	}
	if (rc == -1) {
		store_txn_abort(t);
		http_problem(r, 500, "cannot write the audit record; not signed in", NULL);
		goto done;
	}
	if (api_commit(r, t) == -1)
		goto done;
	ans = json_object();
	json_set(ans, "user", user_json(&u));
	json_set_str(ans, "csrf_token", csrf);
	api_set_cookie(r, 200, ans, sid, c->sessions_absolute_timeout);
	json_free(ans);
done:
	limiter_end(&tk, LIMITER_CANCELLED, app_now(), c);   /* no-op once settled */
	crypto_wipe(sid, sizeof(sid));
	crypto_wipe(csrf, sizeof(csrf));
	user_clear(&u);
	user_clear(&fresh);
	json_free(body);
}

void
api_logout(struct http_req *r)
{
	struct api_ctx *c = api_ctx(r);
	struct store_txn *t;

	if (store_txn_begin(app.store, 1, &t) == -1) {
		http_problem(r, 500, "cannot open the store", NULL);
		return;
	}
	if ((c->via_cookie && session_delete(t, c->sid) == -1) ||
	    api_audit(r, t, "session.logout", &c->actor, NULL) == -1) {
		store_txn_abort(t);
		api_write_failed(r, "cannot end the session");
		return;
	}
	if (api_commit(r, t) == -1)
		return;
	api_set_cookie(r, 204, NULL, NULL, 0);
}

/*
 * The signed-in user. For a cookie session the answer also carries the
 * session's CSRF token (X-CSRF-Token header): a second tab, or a tab whose
 * token went stale when another tab signed in again, gets it from here with
 * the cookie alone. A cross-site page cannot read the answer (no CORS, and
 * the cookie is SameSite=Strict), so this gives an attacker nothing.
 */
void
api_actor_get(struct http_req *r)
{
	struct api_ctx *c = api_ctx(r);
	struct json *j = user_json(&c->actor);
	char hdr[96] = "Cache-Control: no-store\r\n";
	char *s;

	if (c->via_cookie && c->csrf[0])
		snprintf(hdr, sizeof(hdr), "Cache-Control: no-store\r\nX-CSRF-Token: %s\r\n",
		    c->csrf);
	s = json_print(j);
	http_reply(r, 200, "application/json", hdr, s, strlen(s));
	crypto_wipe(hdr, sizeof(hdr));
	free(s);
	json_free(j);
}

void
api_user_get(struct http_req *r)
{
	struct store_txn *t;
	struct user u;

	if (store_txn_begin(app.store, 0, &t) == -1) {
		http_problem(r, 500, "cannot open the store", NULL);
		return;
	}
	if (api_path_user(r, t, &u) == 0) {
		api_reply_user(r, 200, &u);
		user_clear(&u);
	}
	store_txn_abort(t);
}

static void
api_change(struct json *data, const char *k, const char *o, const char *n)
{
	struct json *c = json_object();

	json_set_str(c, "old", o);
	json_set_str(c, "new", n);
	json_set(data, k, c);
}

static int
api_str_eq(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

void
api_user_patch(struct http_req *r)
{
	static const char *const allowed[] = { "display_name", "avatar_url", "handle", NULL };
	struct json *body, *verrs = NULL, *data = NULL, *av;
	const char *dn = NULL, *url = NULL, *hin, *e, *im;
	char handle[NAME_HANDLE_MAX + 1] = "", old_handle[NAME_HANDLE_MAX + 1];
	struct store_txn *t = NULL;
	struct user u;
	int bad = 0, set_url = 0, set_dn = 0, old_chosen = 0, rc;

	memset(&u, 0, sizeof(u));
	if (api_body(r, allowed, &body) == -1)
		return;
	/* "" and null both mean: no display name */
	if ((av = json_get(body, "display_name")) != NULL) {
		set_dn = 1;
		if (!json_is_null(av)) {
			dn = api_field_str(body, "display_name", &verrs, &bad);
			if (dn && (e = api_display_name_error(dn)) != NULL)
				api_verr(&verrs, "body.display_name", e);
			if (dn && dn[0] == '\0')
				dn = NULL;
		}
	}
	if ((av = json_get(body, "avatar_url")) != NULL) {
		set_url = 1;
		if (!json_is_null(av)) {
			url = api_field_str(body, "avatar_url", &verrs, &bad);
			if (url && (e = api_avatar_url_error(url)) != NULL)
				api_verr(&verrs, "body.avatar_url", e);
		}
	}
	hin = api_field_str(body, "handle", &verrs, &bad);
	if (hin && api_handle_fold(hin, handle, sizeof(handle)) == -1)
		api_verr(&verrs, "body.handle",
		    "must be 1 to 39 lowercase letters, digits or single inner hyphens");
	if (verrs != NULL) {
		http_problem(r, 400, "invalid profile change", verrs);
		goto done;
	}
	if (store_txn_begin(app.store, 1, &t) == -1) {
		http_problem(r, 500, "cannot open the store", NULL);
		goto done;
	}
	if (api_path_user(r, t, &u) == -1)
		goto abort;
	if ((im = http_header(r, "If-Match")) != NULL) {
		char want[32];
		size_t n;

		while (*im == ' ' || *im == 'W' || *im == '/')
			im++;
		if (*im == '"')
			im++;
		n = strcspn(im, "\"");
		snprintf(want, sizeof(want), "%lld", (long long)u.version_id);
		if (n != strlen(want) || strncmp(im, want, n) != 0) {
			http_problem(r, 412, "the user changed since you read it (If-Match)", NULL);
			goto abort;
		}
	}
	data = json_object();
	snprintf(old_handle, sizeof(old_handle), "%s", u.handle);
	if (set_dn && !api_str_eq(dn, u.display_name)) {
		api_change(data, "display_name", u.display_name, dn);
		free(u.display_name);
		u.display_name = dn ? x_strdup(dn) : NULL;
	}
	if (set_url && !api_str_eq(url, u.avatar_url)) {
		api_change(data, "avatar_url", u.avatar_url, url);
		free(u.avatar_url);
		u.avatar_url = url ? x_strdup(url) : NULL;
	}
	if (handle[0] && strcmp(handle, u.handle) != 0) {
		char owner[SECRET_ID_LEN + 1];
		int by_admin = api_ctx(r)->actor.admin;

		/* taken: another user's handle, or a former handle of another user */
		rc = user_id_of_handle(t, handle, owner);
		if (rc == 0 && strcmp(owner, u.id) != 0) {
			struct json *v = NULL;

			api_verr(&v, "body.handle", "is taken");
			http_problem(r, 409, "that handle is taken", v);
			goto abort;
		}
		if (rc == -1) {
			http_problem(r, 500, "cannot read the user store", NULL);
			goto abort;
		}
		/*
		 * Workspace membership is given by an admin, never gained by
		 * renaming (docs/design.md "Handles"): a handle the config
		 * names is taken only by an admin creating or renaming that
		 * user, or by its own user coming back to a former handle.
		 */
		if (rc == STORE_NOTFOUND && !by_admin &&
		    conf_names_handle(app_conf(), handle)) {
			struct json *v = NULL;

			api_verr(&v, "body.handle", "is reserved: a workspace of "
			    "this appliance names it, and only an admin can give it "
			    "to a user");
			http_problem(r, 409, "that handle is reserved", v);
			goto abort;
		}
		old_chosen = u.handle_self;
		if (rc == 0) {
			/* back to a former handle: chosen as it was before */
			if (user_handle_chosen(t, handle, &u.handle_self) != 0) {
				http_problem(r, 500, "cannot read the user store", NULL);
				goto abort;
			}
		} else
			u.handle_self = 1;
		if (by_admin)
			u.handle_self = 0;
		api_change(data, "handle", u.handle, handle);
		snprintf(u.handle, sizeof(u.handle), "%s", handle);
	}
	if (json_next(data, NULL, NULL) != NULL) {
		u.version_id++;
		u.updated_at = app_now();
		if (user_save(t, &u, old_handle, old_chosen) == -1 ||
		    (strcmp(old_handle, u.handle) != 0 && outbox_recompute_user(t, u.id) == -1) ||
		    api_audit(r, t, "user.update", &u, data) == -1) {
			api_write_failed(r, "the change could not be saved; nothing was changed");
			goto abort;
		}
		if (api_commit(r, t) == -1) {
			t = NULL;
			goto done;
		}
		if (json_get(data, "handle") != NULL) {
			dns_refresh();     /* the workspace names move with the handle */
			push_wake();       /* and the role is renamed on the nodes */
		}
	} else {
		store_txn_abort(t);
	}
	t = NULL;
	api_reply_user(r, 200, &u);
	goto done;
abort:
	store_txn_abort(t);
done:
	json_free(data);
	json_free(body);
	user_clear(&u);
}

void
api_user_delete(struct http_req *r)
{
	struct api_ctx *c = api_ctx(r);
	struct store_txn *t;
	struct json *data;
	char confirm[64], fold[NAME_HANDLE_MAX + 1];
	struct user u;
	size_t admins;
	int self;

	if (store_txn_begin(app.store, 1, &t) == -1) {
		http_problem(r, 500, "cannot open the store", NULL);
		return;
	}
	if (api_path_user(r, t, &u) == -1) {
		store_txn_abort(t);
		return;
	}
	if (http_query(r, "confirm", confirm, sizeof(confirm)) != 0 ||
	    api_handle_fold(confirm, fold, sizeof(fold)) == -1 ||
	    strcmp(fold, u.handle) != 0) {
		struct json *v = NULL;

		api_verr(&v, "query.confirm", "must be the account's handle");
		http_problem(r, 400, "type the handle to confirm the deletion", v);
		goto abort;
	}
	if (u.admin && !u.disabled) {
		if (user_count_admins(t, &admins) == -1) {
			http_problem(r, 500, "cannot read the user store", NULL);
			goto abort;
		}
		if (admins <= 1) {
			http_problem(r, 409, "the last administrator cannot be deleted", NULL);
			goto abort;
		}
	}
	data = json_object();
	json_set_str(data, "handle", u.handle);
	if (session_delete_user(t, u.id, NULL) == -1 || token_remove_user(t, u.id) == -1 ||
	    dbpass_delete(t, u.id) == -1 || user_remove(t, &u) == -1 ||
	    outbox_recompute_user(t, u.id) == -1 ||
	    api_audit(r, t, "user.delete", &u, data) == -1) {
		json_free(data);
		api_write_failed(r, "the account could not be deleted; nothing was changed");
		goto abort;
	}
	json_free(data);
	self = strcmp(c->actor.id, u.id) == 0;
	if (api_commit(r, t) == 0) {
		dns_refresh();
		push_wake();
		if (self)
			api_set_cookie(r, 204, NULL, NULL, 0);
		else
			http_reply(r, 204, "text/plain", "Cache-Control: no-store\r\n", "", 0);
	}
	user_clear(&u);
	return;
abort:
	store_txn_abort(t);
	user_clear(&u);
}

void
api_user_token_reset(struct http_req *r)
{
	struct api_ctx *c = api_ctx(r);
	struct store_txn *t;
	struct user u;
	struct json *j;

	if (store_txn_begin(app.store, 1, &t) == -1) {
		http_problem(r, 500, "cannot open the store", NULL);
		return;
	}
	if (api_path_user(r, t, &u) == -1) {
		store_txn_abort(t);
		return;
	}
	u.token_min_issued_at = app_now_ms();
	u.version_id++;
	u.updated_at = app_now();
	/* tokens issued before now are revoked: removed, so they neither
	 * linger in the list nor count against the limit (the issued-at check
	 * in token verification stays as a second guard) */
	if (user_save(t, &u, NULL, 0) == -1 || session_delete_user(t, u.id, NULL) == -1 ||
	    token_remove_user(t, u.id) == -1 ||
	    api_audit(r, t, "user.token_reset", &u, NULL) == -1) {
		store_txn_abort(t);
		user_clear(&u);
		api_write_failed(r, "the reset could not be saved; nothing was changed");
		return;
	}
	if (api_commit(r, t) == 0) {
		j = user_json(&u);
		/* the caller's own session was issued before now: it ends too */
		if (strcmp(c->actor.id, u.id) == 0)
			api_set_cookie(r, 200, j, NULL, 0);
		else
			http_reply_json(r, 200, j);
		json_free(j);
	}
	user_clear(&u);
}

void
api_user_console_password(struct http_req *r)
{
	static const char *const allowed[] = { "current_password", "new_password", NULL };
	const struct conf *cf = app_conf();
	struct api_ctx *c = api_ctx(r);
	struct json *body, *verrs = NULL;
	const char *cur, *nw, *e;
	struct store_txn *t = NULL;
	struct limiter_ticket tk = { -1, -1 };
	struct user u, fresh;
	int bad = 0, wait, ok;

	memset(&u, 0, sizeof(u));
	memset(&fresh, 0, sizeof(fresh));
	if (api_body(r, allowed, &body) == -1)
		return;
	cur = api_field_str(body, "current_password", &verrs, &bad);
	nw = api_field_str(body, "new_password", &verrs, &bad);
	if (!bad && cur == NULL)
		api_verr(&verrs, "body.current_password", "required");
	if (!bad && nw == NULL)
		api_verr(&verrs, "body.new_password", "required");
	if (nw && (e = api_password_error(nw)) != NULL)
		api_verr(&verrs, "body.new_password", e);
	if (verrs != NULL) {
		http_problem(r, 400, "invalid password change", verrs);
		goto done;
	}
	if (store_txn_begin(app.store, 0, &t) == -1) {
		http_problem(r, 500, "cannot open the store", NULL);
		goto done;
	}
	if (api_path_user(r, t, &u) == -1) {
		store_txn_abort(t);
		goto done;
	}
	store_txn_abort(t);
	t = NULL;
	/* the current password is a sign-in secret: same limiter as login */
	wait = limiter_begin(u.handle, r->remote_ip, app_now(), cf, &tk);
	if (wait > 0) {
		char h[64];

		snprintf(h, sizeof(h), "Retry-After: %d\r\n", wait);
		http_problem_h(r, 429, "too many wrong passwords; try again later", NULL, h);
		goto done;
	}
	ok = api_password_ok(&u, cur);
	if (ok == -1) {
		api_kdf_busy(r);
		goto done;
	}
	limiter_end(&tk, ok ? LIMITER_OK : LIMITER_FAILED, app_now(), cf);
	if (!ok) {
		api_verr(&verrs, "body.current_password", "is wrong");
		http_problem(r, 400, "the current password is wrong", verrs);
		goto done;
	}
	if (u.must_change_pw && strcmp(cur, nw) == 0) {
		api_verr(&verrs, "body.new_password", "must differ from the one-time password");
		http_problem(r, 400, "choose a new password", verrs);
		goto done;
	}
	if (store_txn_begin(app.store, 1, &t) == -1 ||
	    user_load(t, u.id, &fresh) != 0 ||
	    user_set_password(&fresh, nw, (unsigned)cf->pbkdf2_iterations) == -1) {
		store_txn_abort(t);
		http_problem(r, 500, "cannot change the password", NULL);
		goto done;
	}
	fresh.version_id++;
	fresh.updated_at = app_now();
	/* the user chose it: no longer one-time. An admin who knows a user's
	 * current password and changes it here leaves the flag as it was. */
	if (strcmp(c->actor.id, fresh.id) == 0)
		fresh.must_change_pw = 0;
	if (user_save(t, &fresh, NULL, 0) == -1 ||
	    session_delete_user(t, fresh.id,
		strcmp(c->actor.id, fresh.id) == 0 && c->via_cookie ? c->sid : NULL) == -1 ||
	    api_audit(r, t, "user.console_password.change", &fresh, NULL) == -1) {
		store_txn_abort(t);
		api_write_failed(r, "cannot change the password; nothing was changed");
		goto done;
	}
	if (api_commit(r, t) == 0)
		http_reply(r, 204, "text/plain", "Cache-Control: no-store\r\n", "", 0);
done:
	limiter_end(&tk, LIMITER_CANCELLED, app_now(), cf);   /* no-op once settled */
	user_clear(&u);
	user_clear(&fresh);
	json_free(body);
}

/* lower-case letters, digits, '_' and dots, not starting with a dot */
static int
api_action_valid(const char *a)
{
	if (a[0] == '.')
		return 0;
	for (; *a; a++)
		if (!((*a >= 'a' && *a <= 'z') || (*a >= '0' && *a <= '9') || *a == '_' || *a == '.'))
			return 0;
	return 1;
}

/* ?next_token= is the sequence number to continue below */
static int
api_audit_cursor(struct http_req *r, uint64_t *before)
{
	char v[32], *end;
	unsigned long long n;

	int rc;

	*before = 0;
	rc = http_query(r, "next_token", v, sizeof(v));
	if (rc == -1)
		return 0;
	n = rc == 0 ? strtoull(v, &end, 10) : 0;
	if (rc != 0 || v[0] == '\0' || *end != '\0' || n == 0) {
		struct json *verrs = NULL;

		api_verr(&verrs, "query.next_token", "is not a token this API gave");
		http_problem(r, 400, "invalid query parameter", verrs);
		return -1;
	}
	*before = n;
	return 0;
}

/* ?action= ?actor= ?since= ?until= (audit.c's struct audit_filter) */
static int
api_audit_filter(struct http_req *r, struct audit_filter *f)
{
	static const char *const tnames[] = { "since", "until" };
	struct json *verrs = NULL;
	char v[64], loc[32];
	int rc;

	memset(f, 0, sizeof(*f));
	rc = http_query(r, "action", f->action, sizeof(f->action));
	if (rc == -2 || (rc == 0 && f->action[0] && !api_action_valid(f->action)))
		api_verr(&verrs, "query.action", "must be an action type such as "
		    "token.create, or its first part and a dot (token.)");
	rc = http_query(r, "actor", v, sizeof(v));
	if (rc == -2 || (rc == 0 && v[0] && api_handle_fold(v, f->actor, sizeof(f->actor)) == -1))
		api_verr(&verrs, "query.actor", "must be a handle");
	for (int i = 0; i < 2; i++) {
		char *out = i ? f->until : f->since;
		int64_t t;

		rc = http_query(r, tnames[i], v, sizeof(v));
		if (rc == -1 || (rc == 0 && v[0] == '\0'))
			continue;
		if (rc == -2 || (t = api_time_parse(v)) == -1) {
			snprintf(loc, sizeof(loc), "query.%s", tnames[i]);
			api_verr(&verrs, loc, "must be an RFC 3339 UTC time such as 2026-11-28T04:10:00Z");
			continue;
		}
		time_rfc3339(t, out, 24);
	}
	if (verrs != NULL) {
		http_problem(r, 400, "invalid query parameter", verrs);
		return -1;
	}
	return 0;
}

void
api_audit_list(struct http_req *r, const char *identity_id)
{
	struct store_txn *t;
	struct json *items;
	struct audit_filter f;
	uint64_t before, next;
	unsigned limit;
	char nt[32] = "";

	if (api_limit(r, &limit) == -1 || api_audit_cursor(r, &before) == -1 ||
	    api_audit_filter(r, &f) == -1)
		return;
	if (store_txn_begin(app.store, 0, &t) == -1) {
		http_problem(r, 500, "cannot open the store", NULL);
		return;
	}
	if (audit_page_filtered(t, identity_id, before, limit, &f, &items, &next) == -1) {
		store_txn_abort(t);
		http_problem(r, 500, "cannot read the audit log", NULL);
		return;
	}
	store_txn_abort(t);
	if (next)
		snprintf(nt, sizeof(nt), "%llu", (unsigned long long)next);
	api_reply_list(r, items, nt);
}

void
api_user_audit(struct http_req *r)
{
	struct store_txn *t;
	struct user u;

	if (store_txn_begin(app.store, 0, &t) == -1) {
		http_problem(r, 500, "cannot open the store", NULL);
		return;
	}
	if (api_path_user(r, t, &u) == -1) {
		store_txn_abort(t);
		return;
	}
	store_txn_abort(t);
	api_audit_list(r, u.id);
	user_clear(&u);
}

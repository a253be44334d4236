/*
 * Handlers for a user's own account: sign-in and sign-out, the profile,
 * handle change, deletion, token reset, console password, the audit log.
 * Each handler parses its body by a table (body.c), authorizes, makes its
 * change through the account layer (account.c: the change, its audit record
 * and outbox entries in one transaction) and replies; input is validated
 * before the store is touched.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "acctd.h"

/* the limiter said wait: 429 with Retry-After, same answer whatever the cause */
void
api_login_wait(struct http_req *r, int wait)
{
	char h[64], detail[96];

	snprintf(h, sizeof(h), "Retry-After: %d\r\n", wait);
	snprintf(detail, sizeof(detail),
	    "too many failed sign-ins; try again in %d second%s", wait,
	    wait == 1 ? "" : "s");
	http_problem_h(r, 429, detail, NULL, h);
	http_hold(r, HTTP_HOLD_MS);
}

/* every KDF slot is taken: the request was not counted, try again soon */
void
api_kdf_busy(struct http_req *r)
{
	http_problem_h(r, 503, "too many sign-ins at once; try again in a second",
	    NULL, "Retry-After: 1\r\n");
	http_hold(r, HTTP_HOLD_MS);
}

struct api_pw_check {
	const struct user *u;      /* NULL: nobody, the same time burnt */
	const char *pw;
	int ok;
};

static void
api_pw_check_run(void *arg)
{
	struct api_pw_check *c = arg;

	if (c->u == NULL) {
		user_burn_password_time(c->pw, (unsigned)app_conf()->pbkdf2_iterations);
		c->ok = 0;
	} else {
		c->ok = user_check_password(c->u, c->pw);
	}
}

/* the password check: 1 right, 0 wrong, -1 no KDF slot (nothing ran) */
int
api_password_ok(const struct user *u, const char *pw)
{
	struct api_pw_check c = { .u = u, .pw = pw, .ok = 0 };

	if (limiter_kdf_run(api_pw_check_run, &c) == -1)
		return -1;
	return c.ok;
}

static void
api_login_fail(struct http_req *r, const char *handle, const struct user *u,
    struct limiter_ticket *tk)
{
	struct account_txn ax;

	limiter_end(tk, LIMITER_FAILED, app_now(), app_conf());
	api_account_init(r, &ax);
	if (store_txn_begin(app.store, 1, &ax.t) == 0) {
		if (account_sign_in_failed(&ax, handle, u) == ACCOUNT_OK)
			store_txn_commit(ax.t);
		else
			store_txn_abort(ax.t);
	}
	http_problem(r, 401, "wrong handle or password", NULL);
}

/* sign-in takes JSON only: a cross-site form (urlencoded, multipart or
 * text/plain, which need no CORS preflight) cannot sign a victim in */
int
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

enum { LOGIN_HANDLE, LOGIN_PASSWORD };
static const struct body_field login_fields[] = {
	[LOGIN_HANDLE] = { "handle", BODY_STRING, BODY_REQUIRED, 0, 0, NULL, NULL },
	[LOGIN_PASSWORD] = { "password", BODY_STRING, BODY_REQUIRED, 0, 0, NULL, NULL },
	{ NULL, 0, 0, 0, 0, NULL, NULL },
};
static const struct body_spec login_body = { "invalid sign-in request", 0, login_fields };

/* the user's record, read for the password check: 0 found, 1 not, -1 after a 500 */
static int
api_login_user(struct http_req *r, const char *handle, struct user *u)
{
	struct store_txn *t;
	int rc;

	if (store_txn_begin(app.store, 0, &t) == -1) {
		http_problem(r, 500, "cannot read the user store", NULL);
		return -1;
	}
	rc = user_load_handle(t, handle, u);
	store_txn_abort(t);
	if (rc == -1)
		http_problem(r, 500, "cannot read the user store", NULL);
	return rc == STORE_NOTFOUND ? 1 : rc;
}

/* the session for u, whose password was right; the answer */
static void
api_login_session(struct http_req *r, const struct user *u)
{
	struct account_txn ax;
	char sid[SESSION_TOKEN_LEN + 1] = "", csrf[SESSION_TOKEN_LEN + 1] = "";
	int rc;

	if (api_account_begin(r, &ax, "cannot create a session") == -1)
		return;
	/* the record names the user who signed in (or a caller already
	 * signed in, who signs in as someone else) */
	if (!api_ctx(r)->authed)
		account_actor(&ax, u, r->remote_ip);
	rc = account_sign_in(&ax, u, sid, csrf);
	if (rc != ACCOUNT_OK) {
		/* a sign-in that cannot be written is a 500, full store or not */
		store_txn_abort(ax.t);
		http_problem(r, rc == ACCOUNT_STALE ? 401 : 500, rc == ACCOUNT_STALE ? ax.why :
		    rc == ACCOUNT_AUDIT_FAILED ? "cannot write the audit record; not signed in" :
		    "cannot create a session", NULL);
	} else if (api_account_commit(r, &ax) == 0) {
		api_login_reply(r, u, sid, csrf);
	}
	crypto_wipe(sid, sizeof(sid));
	crypto_wipe(csrf, sizeof(csrf));
}

void
api_login_reply(struct http_req *r, const struct user *u, const char *sid, const char *csrf)
{
	struct json *ans = json_object();

	json_set(ans, "user", user_json(u));
	json_set_str(ans, "csrf_token", csrf);
	api_set_cookie(r, 200, ans, sid, app_conf()->sessions_absolute_timeout);
	json_free(ans);
}

void
api_login(struct http_req *r)
{
	const struct conf *c = app_conf();
	const char *pw;
	char handle[NAME_HANDLE_MAX + 1];
	struct limiter_ticket tk = { -1, -1 };
	struct body b;
	struct user u;
	int rc, wait, ok;

	memset(&u, 0, sizeof(u));
	if (api_json_ctype(r) == -1 || api_body(r, &login_body, &b) == -1)
		return;
	pw = b.v[LOGIN_PASSWORD].str;
	if (api_handle_fold(b.v[LOGIN_HANDLE].str, handle, sizeof(handle)) == -1)
		snprintf(handle, sizeof(handle), "%.39s", "-invalid-");
	/* counted before the KDF runs: concurrent guesses cannot overtake the count */
	wait = limiter_begin(handle, r->remote_ip, app_now(), c, &tk);
	if (wait > 0) {
		api_login_wait(r, wait);
		goto done;
	}
	if ((rc = api_login_user(r, handle, &u)) == -1)
		goto done;
	ok = api_password_ok(rc == 0 ? &u : NULL, pw);
	if (ok == -1)
		api_kdf_busy(r);
	else if (!ok || u.disabled)
		api_login_fail(r, handle, rc == 0 ? &u : NULL, &tk);
	else if (api_totp_login(r, &u) == 0) {
		/* with a second factor the ticket stays unsettled (cancelled
		 * below): a right password alone does not reset the failures */
		limiter_end(&tk, LIMITER_OK, app_now(), c);
		api_login_session(r, &u);
	}
done:
	limiter_end(&tk, LIMITER_CANCELLED, app_now(), c);   /* no-op once settled */
	user_clear(&u);
	body_free(&b);
}

void
api_logout(struct http_req *r)
{
	struct api_ctx *c = api_ctx(r);
	struct account_txn ax;
	int rc;

	if (api_account_begin(r, &ax, NULL) == -1)
		return;
	rc = account_sign_out(&ax, &c->actor, c->via_cookie ? c->sid : NULL);
	if (api_account_done(r, &ax, rc, "cannot end the session") == 0)
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
	char hdr[96] = "Cache-Control: no-store\r\n";
	char *s = user_json_print(&c->actor);

	if (c->via_cookie && c->csrf[0])
		snprintf(hdr, sizeof(hdr), "Cache-Control: no-store\r\nX-CSRF-Token: %s\r\n",
		    c->csrf);
	http_reply(r, 200, "application/json", hdr, s, strlen(s));
	crypto_wipe(hdr, sizeof(hdr));
	free(s);
}

void
api_user_get(struct http_req *r)
{
	struct user u;

	if (api_path_read(r, &u) == 0)
		api_reply_user(r, 200, &u);
	user_clear(&u);
}

enum { PATCH_DISPLAY_NAME, PATCH_AVATAR_URL, PATCH_HANDLE, PATCH_ROTATE_DAYS };
static const struct body_field patch_fields[] = {
	/* "" and null both mean: no display name */
	[PATCH_DISPLAY_NAME] = { "display_name", BODY_STRING, BODY_NULLABLE, 0, 100, NULL,
	    api_display_name_error },
	[PATCH_AVATAR_URL] = { "avatar_url", BODY_STRING, BODY_NULLABLE, 0, 0, NULL,
	    api_avatar_url_error },
	[PATCH_HANDLE] = { "handle", BODY_STRING, 0, 0, 0, NULL, api_handle_error },
	/* 0: the appliance's passwords.rotate_every_days (rotate.c) */
	[PATCH_ROTATE_DAYS] = { "dbpass_rotate_every_days", BODY_INT, 0, 0, 3650, NULL, NULL },
	{ NULL, 0, 0, 0, 0, NULL, NULL },
};
static const struct body_spec patch_body = { "invalid profile change", 0, patch_fields };

/* a user's rotation period is never longer than the policy when it is on:
 * 0, or -1 after a 400 */
static int
api_rotate_days_check(struct http_req *r, const struct body_value *v)
{
	int policy = app_conf()->passwords_rotate_every_days;
	char msg[96];

	if (!v->set || policy == 0 || v->num <= policy)
		return 0;
	snprintf(msg, sizeof(msg), "must be an integer from 0 to %d (the appliance's "
	    "rotation policy)", policy);
	return api_invalid(r, "body.dbpass_rotate_every_days", msg, "invalid profile change");
}

void
api_user_patch(struct http_req *r)
{
	const struct body_value *v;
	struct account_profile p = { 0 };
	struct account_txn ax;
	char handle[NAME_HANDLE_MAX + 1] = "";
	struct body b;
	struct user u;

	if (api_body(r, &patch_body, &b) == -1)
		return;
	v = b.v;
	if (api_rotate_days_check(r, &v[PATCH_ROTATE_DAYS]) == -1) {
		body_free(&b);
		return;
	}
	p.set_rotate_days = v[PATCH_ROTATE_DAYS].set;
	p.rotate_days = (int)v[PATCH_ROTATE_DAYS].num;
	p.set_display_name = v[PATCH_DISPLAY_NAME].set;
	p.display_name = v[PATCH_DISPLAY_NAME].str && v[PATCH_DISPLAY_NAME].str[0] ?
	    v[PATCH_DISPLAY_NAME].str : NULL;
	p.set_avatar_url = v[PATCH_AVATAR_URL].set;
	p.avatar_url = v[PATCH_AVATAR_URL].str;
	if (v[PATCH_HANDLE].set)
		api_handle_fold(v[PATCH_HANDLE].str, handle, sizeof(handle));
	p.handle = handle;
	if (api_account_user(r, &ax, &u) == -1)
		goto done;
	if (api_if_match(r, u.version_id) == -1)
		store_txn_abort(ax.t);
	else if (api_account_done(r, &ax, account_update(&ax, &u, &p),
	    "the change could not be saved; nothing was changed") == 0)
		api_reply_user(r, 200, &u);
done:
	body_free(&b);
	user_clear(&u);
}

/* ?confirm= must name the account: 0, or -1 after a 400 */
static int
api_delete_confirmed(struct http_req *r, const struct user *u)
{
	char confirm[64], fold[NAME_HANDLE_MAX + 1];

	if (http_query(r, "confirm", confirm, sizeof(confirm)) == 0 &&
	    api_handle_fold(confirm, fold, sizeof(fold)) == 0 &&
	    strcmp(fold, u->handle) == 0)
		return 0;
	return api_invalid(r, "query.confirm", "must be the account's handle",
	    "type the handle to confirm the deletion");
}

void
api_user_delete(struct http_req *r)
{
	struct account_txn ax;
	struct user u;

	if (api_account_user(r, &ax, &u) == -1)
		return;
	if (api_delete_confirmed(r, &u) == -1)
		store_txn_abort(ax.t);
	else if (api_account_done(r, &ax, account_delete(&ax, &u),
	    "the account could not be deleted; nothing was changed") == 0) {
		if (api_is_self(r, &u))
			api_set_cookie(r, 204, NULL, NULL, 0);    /* signed out too */
		else
			api_reply_empty(r);
	}
	user_clear(&u);
}

void
api_user_token_reset(struct http_req *r)
{
	struct account_txn ax;
	struct user u;
	struct json *j;

	if (api_account_user(r, &ax, &u) == -1)
		return;
	if (api_account_done(r, &ax, account_token_reset(&ax, &u),
	    "the reset could not be saved; nothing was changed") == 0) {
		j = user_json(&u);
		/* the caller's own session was issued before now: it ends too */
		if (api_is_self(r, &u))
			api_set_cookie(r, 200, j, NULL, 0);
		else
			http_reply_json(r, 200, j);
		json_free(j);
	}
	user_clear(&u);
}

enum { PASSWORD_CURRENT, PASSWORD_NEW };
static const struct body_field password_fields[] = {
	[PASSWORD_CURRENT] = { "current_password", BODY_STRING, BODY_REQUIRED, 0, 0, NULL, NULL },
	[PASSWORD_NEW] = { "new_password", BODY_STRING, BODY_REQUIRED, 0, 0, NULL,
	    api_password_error },
	{ NULL, 0, 0, 0, 0, NULL, NULL },
};
static const struct body_spec password_body = { "invalid password change", 0, password_fields };

/* u's current password (a sign-in secret: the same limiter as sign-in) is
 * cur: 0, or -1 after a 400/429/503 */
static int
api_current_password(struct http_req *r, const struct user *u, const char *cur)
{
	const struct conf *cf = app_conf();
	struct limiter_ticket tk = { -1, -1 };
	int wait, ok;

	wait = limiter_begin(u->handle, r->remote_ip, app_now(), cf, &tk);
	if (wait > 0) {
		char h[64];

		snprintf(h, sizeof(h), "Retry-After: %d\r\n", wait);
		http_problem_h(r, 429, "too many wrong passwords; try again later", NULL, h);
		return -1;
	}
	ok = api_password_ok(u, cur);
	if (ok == -1) {
		limiter_end(&tk, LIMITER_CANCELLED, app_now(), cf);
		api_kdf_busy(r);
		return -1;
	}
	limiter_end(&tk, ok ? LIMITER_OK : LIMITER_FAILED, app_now(), cf);
	if (ok)
		return 0;
	return api_invalid(r, "body.current_password", "is wrong",
	    "the current password is wrong");
}

/* a one-time password was changed: when it was the bootstrap admin's, its
 * file goes (bootstrap.c); a failure is logged, the change stands */
static void
api_bootstrap_forget(const char *old)
{
	const char *path = app_conf()->admin_password_file;
	char err[512];
	int rc;

	rc = bootstrap_forget(path, old, err, sizeof(err));
	if (rc == 1)
		log_notice("bootstrap_admin: removed %s: the one-time password it "
		    "held was changed", path);
	else if (rc == -1)
		log_warnx("bootstrap_admin: %s; remove it by hand", err);
}

void
api_user_console_password(struct http_req *r)
{
	struct api_ctx *c = api_ctx(r);
	const char *cur, *nw;
	struct account_txn ax;
	struct user_pw np;
	struct body b;
	struct user u;
	int rc;

	memset(&np, 0, sizeof(np));
	if (api_body(r, &password_body, &b) == -1)
		return;
	cur = b.v[PASSWORD_CURRENT].str;
	nw = b.v[PASSWORD_NEW].str;
	if (api_path_read(r, &u) == -1 || api_current_password(r, &u, cur) == -1)
		goto done;
	if (u.must_change_pw && strcmp(cur, nw) == 0) {
		api_invalid(r, "body.new_password", "must differ from the one-time password",
		    "choose a new password");
		goto done;
	}
	/* the new verifier before the write lock: the KDF is the slow part */
	if (user_pw_derive(&np, nw, (unsigned)app_conf()->pbkdf2_iterations) == -1) {
		http_problem(r, 500, "cannot change the password", NULL);
		goto done;
	}
	if (api_account_begin(r, &ax, "cannot change the password") == -1)
		goto done;
	/* the user's other sessions end; the one that made the change stays */
	rc = account_password_change(&ax, u.id, &np,
	    api_is_self(r, &u) && c->via_cookie ? c->sid : NULL);
	if (api_account_done(r, &ax, rc, "cannot change the password; nothing was changed") == 0) {
		if (u.must_change_pw && api_is_self(r, &u))
			api_bootstrap_forget(cur);
		api_reply_empty(r);
	}
done:
	crypto_wipe(&np, sizeof(np));
	user_clear(&u);
	body_free(&b);
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
	if (rc != 0 || v[0] == '\0' || *end != '\0' || n == 0)
		return api_invalid(r, "query.next_token", "is not a token this API gave",
		    "invalid query parameter");
	*before = n;
	return 0;
}

/* ?action= ?actor= ?since= ?until= (audit.c's struct audit_filter) */
int
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
	struct user u;

	if (api_path_read(r, &u) == 0)
		api_audit_list(r, u.id);
	user_clear(&u);
}

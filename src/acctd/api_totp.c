/*
 * Two-factor sign-in (issue 15 part B): enrolment, confirmation, turning it
 * off, an admin's reset, the second step of sign-in, and the gate of
 * login.require_2fa_for_admins. The codes, the record and the tickets are
 * totp.c's; docs/api.md "Two-factor sign-in" is the contract.
 *
 * Every check of a code or of the password goes through the sign-in
 * limiter under the user's handle, as a password does: a wrong code is a
 * failure, so guessing six digits meets the same lockout as guessing the
 * password. Failures are audited in a txn of their own (the change's txn is
 * aborted), as a failed sign-in is.
 */
#include <stdlib.h>
#include <string.h>

#include "acctd.h"

/* the code or recovery code a request carries */
struct api_totp_proof {
	const char *code;          /* 6 digits, or NULL */
	const char *recovery;      /* a recovery code, or NULL */
	const char *password;      /* DELETE only: the console password, or NULL */
};

static const char *
api_totp_code_error(const char *s)
{
	return totp_code_parse(s) == -1 ? "must be 6 digits" : NULL;
}

/* the failure of a step ("confirm", "disable", "login"), audited on its own */
static void
api_totp_fail_audit(struct http_req *r, const struct user *u, const char *action,
    const char *factor)
{
	struct account_txn ax;
	struct json *d = json_object();

	api_account_init(r, &ax);
	if (!api_ctx(r)->authed)
		account_actor(&ax, u, r->remote_ip);
	json_set_str(d, "handle", u->handle);
	json_set_str(d, "factor", factor);
	if (store_txn_begin(app.store, 1, &ax.t) == 0) {
		if (account_record(&ax, action, u, d) == ACCOUNT_OK)
			store_txn_commit(ax.t);
		else
			store_txn_abort(ax.t);
	}
	json_free(d);
}

/* a limiter ticket for u's handle: 0, or -1 after a 429 */
static int
api_totp_limit(struct http_req *r, const struct user *u, struct limiter_ticket *tk)
{
	int wait = limiter_begin(u->handle, r->remote_ip, app_now(), app_conf(), tk);

	if (wait <= 0)
		return 0;
	api_login_wait(r, wait);
	return -1;
}

/* p checked against rec (and u's password): 1 right, 0 wrong, -1 no KDF
 * slot. A right code moves rec->last_step; a right recovery code leaves rec */
static int
api_totp_check(const struct user *u, struct totp_rec *rec, const struct api_totp_proof *p)
{
	int64_t step;

	if (p->code != NULL) {
		if (!totp_match(rec, totp_code_parse(p->code), app_now(), &step))
			return 0;
		rec->last_step = step;
		return 1;
	}
	if (p->recovery != NULL)
		return totp_recovery_use(rec, u->id, p->recovery);
	return api_password_ok(u, p->password);
}

static const char *
api_totp_factor(const struct api_totp_proof *p)
{
	return p->code ? "totp" : p->recovery ? "recovery_code" : "password";
}

/* 0 when the body gives exactly one proof, else -1 after a 400 whose
 * detail is which */
static int
api_totp_one(struct http_req *r, const struct api_totp_proof *p, const char *which)
{
	int n = (p->code != NULL) + (p->recovery != NULL) + (p->password != NULL);

	if (n == 1)
		return 0;
	return api_invalid(r, "body", n ? "give only one of them" : "required", which);
}

/* the state, as GET answers it and the other routes too */
static struct json *
api_totp_json(const struct totp_rec *rec, int found)
{
	struct json *j = json_object();

	json_set_str(j, "state", !found ? "off" : rec->state == TOTP_ON ? "on" : "pending");
	time_json_set(j, "enabled_at", found ? rec->enabled_at : 0);
	json_set_int(j, "recovery_codes_left", found ? (int64_t)rec->nrecovery : 0);
	json_set_bool(j, "required", app_conf()->login_require_2fa_admins);
	return j;
}

/* only the user themself enrols or turns off their second factor: -1
 * after a 403 naming the admin's route */
static int
api_totp_self(struct http_req *r, const struct user *u)
{
	if (api_is_self(r, u))
		return 0;
	http_problem(r, 403, "only the user manages their own second factor; an "
	    "administrator resets it (POST /api/v0/admin/user/{handle}/totp_reset)", NULL);
	return -1;
}

void
api_totp_get(struct http_req *r)
{
	struct store_txn *t;
	struct totp_rec rec;
	struct user u;
	struct json *j;
	int rc;

	if (api_path_begin(r, 0, &t, &u) == -1)
		return;
	rc = totp_load(t, u.id, &rec);
	store_txn_abort(t);
	if (rc == -1) {
		http_problem(r, 500, "cannot read the two-factor record", NULL);
	} else {
		j = api_totp_json(&rec, rc == 0);
		http_reply_json(r, 200, j);
		json_free(j);
	}
	totp_rec_wipe(&rec);
	user_clear(&u);
}

/* the enrolment's answer: the secret and its URI, shown once */
static void
api_totp_enrol_reply(struct http_req *r, const struct user *u, const struct totp_rec *rec)
{
	char b32[TOTP_B32_LEN + 1], uri[256];
	struct json *j = api_totp_json(rec, 1);

	totp_base32(rec->secret, TOTP_SECRET_LEN, b32);
	totp_uri(u->handle, rec, uri, sizeof(uri));
	json_set_str(j, "secret", b32);
	json_set_str(j, "uri", uri);
	http_reply_json(r, 201, j);
	json_free(j);        /* cJSON frees without wiping: the reply is sent */
	crypto_wipe(b32, sizeof(b32));
	crypto_wipe(uri, sizeof(uri));
}

void
api_totp_enrol(struct http_req *r)
{
	struct account_txn ax;
	struct totp_rec rec;
	struct user u;
	int rc;

	memset(&rec, 0, sizeof(rec));
	if (api_account_user(r, &ax, &u) == -1)
		return;
	if (api_totp_self(r, &u) == -1) {
		store_txn_abort(ax.t);
		goto done;
	}
	rc = totp_load(ax.t, u.id, &rec);
	if (rc == 0 && rec.state == TOTP_ON) {
		store_txn_abort(ax.t);
		http_problem(r, 409, "two-factor sign-in is on; turn it off first "
		    "(DELETE /api/v0/user/{handle}/totp)", NULL);
		goto done;
	}
	if (rc == -1 || totp_secret_new(&rec) == -1) {
		store_txn_abort(ax.t);
		http_problem(r, 500, "cannot make a two-factor secret", NULL);
		goto done;
	}
	rec.created_at = app_now();
	rc = totp_save(ax.t, u.id, &rec) == -1 ? ACCOUNT_FAILED :
	    account_record(&ax, "user.totp.enrol", &u, NULL);
	if (api_account_done(r, &ax, rc, "cannot save the two-factor secret") == 0)
		api_totp_enrol_reply(r, &u, &rec);
done:
	totp_rec_wipe(&rec);
	user_clear(&u);
}

enum { CONFIRM_CODE };
static const struct body_field confirm_fields[] = {
	[CONFIRM_CODE] = { "code", BODY_STRING, BODY_REQUIRED, 0, 0, NULL, api_totp_code_error },
	{ NULL, 0, 0, 0, 0, NULL, NULL },
};
static const struct body_spec confirm_body = { "invalid two-factor confirmation", 0,
	confirm_fields };

/* pending -> on, with ten recovery codes; the answer shows them once */
static void
api_totp_enable(struct http_req *r, struct account_txn *ax, const struct user *u,
    struct totp_rec *rec)
{
	char codes[TOTP_RECOVERY_CODES][TOTP_RECOVERY_LEN + 1];
	struct json *j, *a;
	int rc;

	rec->state = TOTP_ON;
	rec->enabled_at = app_now();
	if (totp_recovery_new(rec, u->id, codes) == -1) {
		store_txn_abort(ax->t);
		http_problem(r, 500, "cannot make recovery codes", NULL);
		return;
	}
	rc = totp_save(ax->t, u->id, rec) == -1 ? ACCOUNT_FAILED :
	    account_record(ax, "user.totp.enable", u, NULL);
	if (api_account_done(r, ax, rc, "cannot turn two-factor sign-in on") == 0) {
		j = api_totp_json(rec, 1);
		a = json_array();
		for (size_t i = 0; i < TOTP_RECOVERY_CODES; i++)
			json_push(a, json_string(codes[i]));
		json_set(j, "recovery_codes", a);
		http_reply_json(r, 200, j);
		json_free(j);
	}
	crypto_wipe(codes, sizeof(codes));
}

/* rec (read in ax->t) must be pending: -1 after a 409 / 500 (ax->t aborted) */
static int
api_totp_pending(struct http_req *r, struct account_txn *ax, int rc, const struct totp_rec *rec)
{
	if (rc == 0 && rec->state == TOTP_PENDING)
		return 0;
	store_txn_abort(ax->t);
	if (rc == -1)
		http_problem(r, 500, "cannot read the two-factor record", NULL);
	else
		http_problem(r, 409, rc == 0 ? "two-factor sign-in is on already" :
		    "nothing to confirm: enrol first (POST /api/v0/user/{handle}/totp)", NULL);
	return -1;
}

void
api_totp_confirm(struct http_req *r)
{
	struct limiter_ticket tk = { -1, -1 };
	struct api_totp_proof p = { NULL, NULL, NULL };
	struct account_txn ax;
	struct totp_rec rec;
	struct body b;
	struct user u;
	int ok;

	memset(&rec, 0, sizeof(rec));
	memset(&u, 0, sizeof(u));
	if (api_body(r, &confirm_body, &b) == -1)
		return;
	p.code = b.v[CONFIRM_CODE].str;
	if (api_path_read(r, &u) == -1 || api_totp_self(r, &u) == -1 ||
	    api_totp_limit(r, &u, &tk) == -1)
		goto done;
	if (api_account_begin(r, &ax, NULL) == -1 ||
	    api_totp_pending(r, &ax, totp_load(ax.t, u.id, &rec), &rec) == -1)
		goto done;
	ok = api_totp_check(&u, &rec, &p);
	limiter_end(&tk, ok ? LIMITER_OK : LIMITER_FAILED, app_now(), app_conf());
	if (ok) {
		api_totp_enable(r, &ax, &u, &rec);
	} else {
		store_txn_abort(ax.t);
		api_totp_fail_audit(r, &u, "user.totp.enable_failed", "totp");
		api_invalid(r, "body.code", "is wrong", "the code is wrong; check the "
		    "authenticator's clock and type the code it shows now");
	}
done:
	limiter_end(&tk, LIMITER_CANCELLED, app_now(), app_conf());
	totp_rec_wipe(&rec);
	user_clear(&u);
	body_free(&b);
}

enum { DISABLE_CODE, DISABLE_PASSWORD };
static const struct body_field disable_fields[] = {
	[DISABLE_CODE] = { "code", BODY_STRING, 0, 0, 0, NULL, api_totp_code_error },
	[DISABLE_PASSWORD] = { "password", BODY_STRING, 0, 0, 0, NULL, NULL },
	{ NULL, 0, 0, 0, 0, NULL, NULL },
};
static const struct body_spec disable_body = { "invalid request to turn two-factor "
	"sign-in off", 0, disable_fields };

/* the check of a DELETE: 0 right, -1 after a reply (ax->t aborted) */
static int
api_totp_disable_check(struct http_req *r, struct account_txn *ax, const struct user *u,
    struct totp_rec *rec, const struct api_totp_proof *p)
{
	struct limiter_ticket tk = { -1, -1 };
	int ok;

	if (api_totp_limit(r, u, &tk) == -1) {
		store_txn_abort(ax->t);
		return -1;
	}
	ok = api_totp_check(u, rec, p);
	limiter_end(&tk, ok == 1 ? LIMITER_OK : ok == 0 ? LIMITER_FAILED :
	    LIMITER_CANCELLED, app_now(), app_conf());
	if (ok == 1)
		return 0;
	store_txn_abort(ax->t);
	if (ok == -1) {
		api_kdf_busy(r);
		return -1;
	}
	api_totp_fail_audit(r, u, "user.totp.disable_failed", api_totp_factor(p));
	api_invalid(r, p->code ? "body.code" : "body.password", "is wrong",
	    "two-factor sign-in stays on");
	return -1;
}

void
api_totp_disable(struct http_req *r)
{
	struct api_totp_proof p = { NULL, NULL, NULL };
	struct account_txn ax;
	struct totp_rec rec;
	struct json *d;
	struct body b;
	struct user u;
	int rc = 0;

	memset(&rec, 0, sizeof(rec));
	if (api_body(r, &disable_body, &b) == -1)
		return;
	p.code = b.v[DISABLE_CODE].str;
	p.password = b.v[DISABLE_PASSWORD].str;
	if (api_totp_one(r, &p, "give a current code or the console password") == -1) {
		body_free(&b);
		return;
	}
	if (api_account_user(r, &ax, &u) == -1)
		goto out;
	if (api_totp_self(r, &u) == -1 || (rc = totp_load(ax.t, u.id, &rec)) != 0) {
		store_txn_abort(ax.t);
		if (r->status == 0)
			http_problem(r, rc == -1 ? 500 : 409, rc == -1 ? "cannot read the "
			    "two-factor record" : "two-factor sign-in is off", NULL);
		goto done;
	}
	if (api_totp_disable_check(r, &ax, &u, &rec, &p) == -1)
		goto done;
	d = json_object();
	json_set_str(d, "factor", api_totp_factor(&p));
	rc = totp_delete(ax.t, u.id) == -1 ? ACCOUNT_FAILED :
	    account_record(&ax, "user.totp.disable", &u, d);
	json_free(d);
	if (api_account_done(r, &ax, rc, "cannot turn two-factor sign-in off") == 0)
		api_reply_empty(r);
done:
	user_clear(&u);
out:
	totp_rec_wipe(&rec);
	body_free(&b);
}

void
api_admin_totp_reset(struct http_req *r)
{
	struct account_txn ax;
	struct totp_rec rec;
	struct user u;
	int rc;

	if (api_account_user(r, &ax, &u) == -1)
		return;
	rc = totp_load(ax.t, u.id, &rec);
	totp_rec_wipe(&rec);
	if (rc == STORE_NOTFOUND) {
		store_txn_abort(ax.t);
		http_problem(r, 409, "this user has no second factor", NULL);
	} else {
		/* also a record that does not open (-1): the reset is its remedy */
		rc = totp_delete(ax.t, u.id) == -1 ? ACCOUNT_FAILED :
		    account_record(&ax, "user.totp.reset", &u, NULL);
		if (api_account_done(r, &ax, rc, "cannot reset the second factor") == 0)
			api_reply_empty(r);
	}
	user_clear(&u);
}

int
api_totp_login(struct http_req *r, const struct user *u)
{
	char tk[TOTP_TICKET_LEN + 1];
	struct store_txn *t;
	struct json *j;
	int on;

	if (store_read_begin(app.store, &t) == -1) {
		http_problem(r, 500, "cannot read the user store", NULL);
		return -1;
	}
	on = totp_enabled(t, u->id);
	store_read_end(t);
	if (on == 0)
		return 0;
	if (on == -1 || totp_ticket_new(u, app_now(), tk) == -1) {
		http_problem(r, on == -1 ? 500 : 503, on == -1 ? "cannot read the two-factor "
		    "record" : "too many sign-ins waiting for a code; try again soon", NULL);
		return -1;
	}
	j = json_object();
	json_set_str(j, "second_factor", "totp");
	json_set_str(j, "ticket", tk);
	json_set_int(j, "expires_in", TOTP_TICKET_TTL);
	http_reply_json(r, 200, j);
	json_free(j);
	crypto_wipe(tk, sizeof(tk));
	return 1;
}

enum { LOGIN2_TICKET, LOGIN2_CODE, LOGIN2_RECOVERY };
static const struct body_field login2_fields[] = {
	[LOGIN2_TICKET] = { "ticket", BODY_STRING, BODY_REQUIRED, 0, 0, NULL, NULL },
	[LOGIN2_CODE] = { "code", BODY_STRING, 0, 0, 0, NULL, api_totp_code_error },
	[LOGIN2_RECOVERY] = { "recovery_code", BODY_STRING, 0, 0, 0, NULL, NULL },
	{ NULL, 0, 0, 0, 0, NULL, NULL },
};
static const struct body_spec login2_body = { "invalid sign-in request", 0, login2_fields };

/* the claim's user, as the password step saw them: 0, or -1 after a 401/500 */
static int
api_totp_login_user(struct http_req *r, const struct totp_claim *cl, struct user *u)
{
	struct store_txn *t;
	int rc;

	if (store_read_begin(app.store, &t) == -1) {
		http_problem(r, 500, "cannot read the user store", NULL);
		return -1;
	}
	rc = user_load(t, cl->user_id, u);
	store_read_end(t);
	if (rc == -1) {
		http_problem(r, 500, "cannot read the user store", NULL);
		return -1;
	}
	if (rc == 0 && !u->disabled && crypto_equal(u->pw_hash, cl->pw_hash, sizeof(cl->pw_hash)))
		return 0;
	http_problem(r, 401, "the account changed since the password was checked; sign in again",
	    NULL);
	return -1;
}

/* in ax->t: the proof checked against the record and, when right, the
 * record saved and the session made. 1 signed in, 0 wrong, -1 after a
 * reply (ax->t aborted either way but 1) */
static int
api_totp_login_check(struct http_req *r, struct account_txn *ax, const struct user *u,
    const struct api_totp_proof *p, char *sid, char *csrf)
{
	struct totp_rec rec;
	int rc = totp_load(ax->t, u->id, &rec), ok;

	if (rc != 0 || rec.state != TOTP_ON) {
		/* reset or turned off since the password step */
		totp_rec_wipe(&rec);
		store_txn_abort(ax->t);
		http_problem(r, rc == -1 ? 500 : 401, rc == -1 ? "cannot read the two-factor "
		    "record" : "two-factor sign-in changed meanwhile; sign in again", NULL);
		return -1;
	}
	ok = api_totp_check(u, &rec, p);
	rc = !ok ? ACCOUNT_OK : totp_save(ax->t, u->id, &rec) == -1 ? ACCOUNT_FAILED :
	    account_sign_in_factor(ax, u, api_totp_factor(p), sid, csrf);
	totp_rec_wipe(&rec);
	if (ok && rc == ACCOUNT_OK)
		return 1;
	store_txn_abort(ax->t);
	if (!ok)
		return 0;
	http_problem(r, rc == ACCOUNT_STALE ? 401 : 500, rc == ACCOUNT_STALE ? ax->why :
	    "cannot create a session", NULL);
	return -1;
}

/* the ticket's user signs in with p: the limiter, the check, the reply */
static void
api_totp_login_finish(struct http_req *r, struct totp_claim *cl, const struct user *u,
    const struct api_totp_proof *p)
{
	char sid[SESSION_TOKEN_LEN + 1] = "", csrf[SESSION_TOKEN_LEN + 1] = "";
	struct limiter_ticket tk = { -1, -1 };
	struct account_txn ax;
	int ok = -1;

	if (api_totp_limit(r, u, &tk) == -1 || api_account_begin(r, &ax,
	    "cannot create a session") == -1)
		goto done;
	account_actor(&ax, u, r->remote_ip);
	ok = api_totp_login_check(r, &ax, u, p, sid, csrf);
	if (ok == 0) {
		limiter_end(&tk, LIMITER_FAILED, app_now(), app_conf());
		totp_ticket_release(cl, TOTP_CLAIM_FAILED);
		api_totp_fail_audit(r, u, "session.login_failed", api_totp_factor(p));
		http_problem(r, 401, p->code ? "wrong code" : "wrong recovery code", NULL);
	} else if (ok == 1 && api_account_commit(r, &ax) == 0) {
		limiter_end(&tk, LIMITER_OK, app_now(), app_conf());
		totp_ticket_release(cl, TOTP_CLAIM_USED);
		api_login_reply(r, u, sid, csrf);
	}
done:
	limiter_end(&tk, LIMITER_CANCELLED, app_now(), app_conf());
	totp_ticket_release(cl, TOTP_CLAIM_CANCELLED);
	crypto_wipe(sid, sizeof(sid));
	crypto_wipe(csrf, sizeof(csrf));
}

void
api_login_totp(struct http_req *r)
{
	struct api_totp_proof p = { NULL, NULL, NULL };
	struct totp_claim cl = { .slot = -1 };
	struct body b;
	struct user u;

	memset(&u, 0, sizeof(u));
	if (api_json_ctype(r) == -1 || api_body(r, &login2_body, &b) == -1)
		return;
	p.code = b.v[LOGIN2_CODE].str;
	p.recovery = b.v[LOGIN2_RECOVERY].str;
	if (api_totp_one(r, &p, "give the code or a recovery code") == -1)
		goto done;
	if (totp_ticket_claim(b.v[LOGIN2_TICKET].str, app_now(), &cl) == -1) {
		http_problem(r, 401, "the sign-in ticket is unknown, used or expired; "
		    "sign in again", NULL);
		goto done;
	}
	if (api_totp_login_user(r, &cl, &u) == -1)
		totp_ticket_release(&cl, TOTP_CLAIM_USED);    /* no use any more */
	else
		api_totp_login_finish(r, &cl, &u, &p);
done:
	user_clear(&u);
	body_free(&b);
}

int
api_totp_gate(struct http_req *r, const struct api_ctx *c)
{
	http_handler_fn fn = r->route->fn;
	struct store_txn *t;
	int on;

	/* a one-time password comes first: api_password_gate holds such a
	 * session to the password change, then this one to the enrolment */
	if (!app_conf()->login_require_2fa_admins || !c->authed || !c->via_cookie ||
	    !c->actor.admin || c->actor.must_change_pw || fn == api_logout || fn == api_actor_get ||
	    fn == api_totp_get || fn == api_totp_enrol || fn == api_totp_confirm)
		return 0;
	if (store_read_begin(app.store, &t) == -1) {
		http_problem(r, 500, "cannot open the store", NULL);
		return -1;
	}
	on = totp_enabled(t, c->actor.id);
	store_read_end(t);
	if (on == 1)
		return 0;
	http_problem(r, on == -1 ? 500 : 403, on == -1 ? "cannot read the two-factor record" :
	    "two-factor sign-in required: administrators must enrol a second factor "
	    "first (POST /api/v0/user/{handle}/totp, then …/totp/confirm)", NULL);
	return -1;
}

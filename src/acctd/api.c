/*
 * Authentication and authorization for every route (the `auth` column of
 * the route table), and helpers the handlers share: bodies read by their
 * tables (body.c) into one problem+json 400, field checks, If-Match,
 * paging, the path's user, and the account layer's (account.c) begin,
 * commit and answer, so that every handler refuses alike.
 *
 *   HTTP_AUTH_ANYONE  no credentials needed
 *   HTTP_AUTH_USER    any signed-in user
 *   HTTP_AUTH_SELF    the signed-in user on their own /user/{handle}; an
 *                     admin on anyone's. Another user's path answers 404,
 *                     exactly like a handle that does not exist.
 *   HTTP_AUTH_ADMIN   admins; others get 403
 *   HTTP_AUTH_METRICS the scraper's bearer token (its SHA-256 is
 *                     metrics.token_sha256), or an admin as HTTP_AUTH_ADMIN
 *
 * A cookie-authenticated request that changes something must carry the
 * session's CSRF token in X-CSRF-Token (compared in constant time).
 * Anything the decision depends on that cannot be read (store error,
 * corrupt record) fails closed with 500/401, never open.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "acctd.h"

struct api_ctx *
api_ctx(struct http_req *r)
{
	return r->ctx;
}

static int
api_cookie(struct http_req *r, char *out, size_t outlen)
{
	const char *h = http_header(r, "Cookie");
	size_t nl = strlen(SESSION_COOKIE);

	while (h != NULL && *h) {
		while (*h == ' ' || *h == ';')
			h++;
		if (strncmp(h, SESSION_COOKIE, nl) == 0 && h[nl] == '=') {
			size_t n = strcspn(h + nl + 1, ";");

			if (n >= outlen)
				return -1;
			memcpy(out, h + nl + 1, n);
			out[n] = '\0';
			return 0;
		}
		h = strchr(h, ';');
	}
	return -1;
}

/* Authorization: Bearer spt_… — 0 signed in, -1 replied (401/500) */
static int
api_bearer(struct http_req *r, struct api_ctx *c, const char *authz)
{
	struct store_txn *t = NULL;
	struct token k;
	int64_t now = app_now();
	int rc;

	if (strncasecmp(authz, "Bearer ", 7) != 0) {
		http_problem_h(r, 401, "Authorization must be \"Bearer <token>\"", NULL,
		    "WWW-Authenticate: Bearer\r\n");
		return -1;
	}
	authz += 7;
	if (store_read_begin(app.store, &t) == -1)
		goto fail;
	rc = token_verify(t, authz, now, &k);
	if (rc == 0) {
		c->actor_txn = store_txn_id(t);
		rc = user_load(t, k.user_id, &c->actor);
		if (rc == 0 && (c->actor.disabled || k.created_ms < c->actor.token_min_issued_at)) {
			user_clear(&c->actor);
			rc = STORE_NOTFOUND;
		}
	}
	store_txn_abort(t);
	t = NULL;
	if (rc == -1) {
		token_clear(&k);
		goto fail;
	}
	if (rc != 0) {
		token_clear(&k);
		http_problem_h(r, 401, "the token is not valid", NULL,
		    "WWW-Authenticate: Bearer error=\"invalid_token\"\r\n");
		return -1;
	}
	c->authed = 1;
	c->via_cookie = 0;
	c->scope = k.scope;
	if (token_touch_due(k.id, now) && store_txn_begin(app.store, 1, &t) == 0) {
		struct token fresh;

		/* reload in the write txn: never write back a stale record */
		if (token_load(t, k.id, &fresh) == 0) {
			fresh.last_used_at = now;
			snprintf(fresh.last_used_ip, sizeof(fresh.last_used_ip), "%s", r->remote_ip);
			if (token_save(t, &fresh) == 0)
				store_txn_commit(t);
			else
				store_txn_abort(t);
		} else {
			store_txn_abort(t);
		}
		token_clear(&fresh);
	}
	token_clear(&k);
	return 0;
fail:
	store_txn_abort(t);
	http_problem(r, 500, "cannot read the token store", NULL);
	return -1;
}

/* an expired session is removed when it is next presented (the periodic
 * sweep gets the others); only then, so a made-up cookie never costs a
 * write */
static void
api_session_expired(const char *sid, int64_t now, const struct conf *cf)
{
	struct store_txn *t;
	struct session s;
	int stale;

	if (store_txn_begin(app.store, 1, &t) == -1)
		return;
	if (session_lookup(t, sid, now, cf->sessions_idle_timeout,
	    cf->sessions_absolute_timeout, &s, &stale) == SESSION_EXPIRED &&
	    session_delete(t, sid) == 0)
		store_txn_commit(t);
	else
		store_txn_abort(t);
	crypto_wipe(&s, sizeof(s));
}

/* a cookie request that changes something carries the session's CSRF
 * token: 0 it does (or need not), 1 it does not on a route anyone may call
 * (the request goes on anonymous), -1 after a 403 */
static int
api_csrf(struct http_req *r, struct api_ctx *c, const struct session *s)
{
	const char *tok = http_header(r, "X-CSRF-Token");

	if (strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0 ||
	    (tok != NULL && strlen(tok) == SESSION_TOKEN_LEN &&
	    crypto_equal(tok, s->csrf, SESSION_TOKEN_LEN)))
		return 0;
	crypto_wipe(c->csrf, sizeof(c->csrf));
	if (r->route->auth == HTTP_AUTH_ANYONE) {
		/* e.g. signing in again after a reload lost the token: such a
		 * request is simply anonymous */
		user_clear(&c->actor);
		c->authed = c->via_cookie = 0;
		crypto_wipe(c->sid, sizeof(c->sid));
		return 1;
	}
	http_problem(r, 403, "missing or wrong X-CSRF-Token header", NULL);
	return -1;
}

/* the cookie's session and its user, into c and s: 0, 1 none (or not
 * valid), -1 on a store error */
static int
api_session_user(const char *sid, int64_t now, struct api_ctx *c, struct session *s,
    int *stale)
{
	const struct conf *cf = app_conf();
	struct store_txn *t;
	int rc;

	if (store_read_begin(app.store, &t) == -1)
		return -1;
	rc = session_lookup(t, sid, now, cf->sessions_idle_timeout,
	    cf->sessions_absolute_timeout, s, stale);
	if (rc == 0) {
		c->actor_txn = store_txn_id(t);
		rc = user_load(t, s->user_id, &c->actor);
	}
	store_txn_abort(t);
	if (rc == SESSION_EXPIRED)
		api_session_expired(sid, now, cf);
	if (rc == -1)
		return -1;
	if (rc != 0 || c->actor.disabled || s->created_ms < c->actor.token_min_issued_at) {
		user_clear(&c->actor);
		return 1;
	}
	return 0;
}

/* 0 signed in (ctx filled), 1 no credentials, -1 replied */
static int
api_authenticate(struct http_req *r, struct api_ctx *c)
{
	const char *authz = http_header(r, "Authorization");
	struct store_txn *t;
	struct session s;
	char sid[128];
	int rc, stale = 0;
	int64_t now = app_now();

	if (authz != NULL)
		return api_bearer(r, c, authz);
	if (api_cookie(r, sid, sizeof(sid)) == -1)
		return 1;
	memset(&s, 0, sizeof(s));
	rc = api_session_user(sid, now, c, &s, &stale);
	if (rc == 0 && strlen(sid) != SESSION_TOKEN_LEN)
		rc = -1;
	if (rc == 0) {
		c->authed = 1;
		c->via_cookie = 1;
		memcpy(c->sid, sid, SESSION_TOKEN_LEN + 1);
		memcpy(c->csrf, s.csrf, SESSION_TOKEN_LEN + 1);
		rc = api_csrf(r, c, &s);
	}
	if (rc == 0 && stale && store_txn_begin(app.store, 1, &t) == 0) {
		if (session_touch(t, sid, now) == 0)
			store_txn_commit(t);
		else
			store_txn_abort(t);
	}
	crypto_wipe(&s, sizeof(s));
	crypto_wipe(sid, sizeof(sid));
	if (rc == -1 && r->status == 0)
		http_problem(r, 500, "cannot read the session store", NULL);
	return rc;
}

/* GET /metrics names nodes and users' push state: the scraper's token
 * (metrics.token_sha256, when set), else an admin like any admin route.
 * 1 = it is the scraper's token */
static int
api_metrics_token(struct http_req *r)
{
	const char *want = app_conf()->metrics_token_sha256;
	const char *authz = http_header(r, "Authorization");
	uint8_t got[CRYPTO_SHA256_LEN], exp[CRYPTO_SHA256_LEN];
	int ok;

	if (want == NULL || want[0] == '\0' || authz == NULL ||
	    strncasecmp(authz, "Bearer ", 7) != 0 ||
	    secret_unhex(want, exp, sizeof(exp)) == -1)
		return 0;
	crypto_sha256(authz + 7, strlen(authz + 7), got);
	ok = crypto_equal(got, exp, sizeof(got));
	crypto_wipe(got, sizeof(got));
	crypto_wipe(exp, sizeof(exp));
	return ok;
}

/*
 * A session signed in with a one-time password (the bootstrap admin's, or
 * one an admin set or reset) may only read who it is, change that password
 * and sign out, until the password is changed. API tokens are separate
 * credentials (docs/api.md "Password changes") and are not held back.
 */
static int
api_password_gate(struct http_req *r, struct api_ctx *c)
{
	http_handler_fn fn = r->route->fn;

	if (!c->authed || !c->via_cookie || !c->actor.must_change_pw ||
	    fn == api_logout || fn == api_actor_get)
		return 0;
	if (fn == api_user_console_password) {
		char h[NAME_HANDLE_MAX + 1];

		if (r->nparams >= 1 && api_handle_fold(r->params[0], h, sizeof(h)) == 0 &&
		    strcmp(h, c->actor.handle) == 0)
			return 0;
	}
	http_problem(r, 403, "password change required: this account signed in "
	    "with a one-time password; set a new console password first (PUT "
	    "/api/v0/user/{handle}/console_password)", NULL);
	return -1;
}

/*
 * An API token calls only the routes whose scope column holds its scope
 * (routes.c); a cookie session is full. Checked after the route's `auth`,
 * so a scope only ever narrows what the user may do.
 */
static int
api_scope_gate(struct http_req *r, const struct api_ctx *c)
{
	char detail[200];

	if (c->via_cookie || (r->route->scopes & (1u << c->scope)) != 0)
		return 0;
	snprintf(detail, sizeof(detail), "this token's scope is \"%s\", which may not "
	    "call %s %s; use a token with a wider scope", token_scope_name(c->scope),
	    r->route->method, r->route->pattern);
	http_problem(r, 403, detail, NULL);
	return -1;
}

int
api_authorize(struct http_req *r)
{
	struct api_ctx *c = x_calloc(1, sizeof(*c));
	int rc;

	r->ctx = c;
	if (r->route->auth == HTTP_AUTH_METRICS && api_metrics_token(r))
		return 0;
	rc = api_authenticate(r, c);
	if (rc == -1)
		return -1;
	switch (r->route->auth) {
	case HTTP_AUTH_ANYONE:
		return 0;
	case HTTP_AUTH_USER:
	case HTTP_AUTH_SELF:
	case HTTP_AUTH_ADMIN:
	case HTTP_AUTH_METRICS:
		if (!c->authed) {
			http_problem(r, 401, "sign in first", NULL);
			return -1;
		}
		break;
	}
	if (api_password_gate(r, c) == -1 || api_totp_gate(r, c) == -1 ||
	    api_scope_gate(r, c) == -1)
		return -1;
	if ((r->route->auth == HTTP_AUTH_ADMIN || r->route->auth == HTTP_AUTH_METRICS) &&
	    !c->actor.admin) {
		http_problem(r, 403, "administrators only", NULL);
		return -1;
	}
	if (r->route->auth == HTTP_AUTH_SELF && !c->actor.admin) {
		char h[NAME_HANDLE_MAX + 1];

		if (r->nparams < 1 || api_handle_fold(r->params[0], h, sizeof(h)) == -1 ||
		    strcmp(h, c->actor.handle) != 0) {
			http_problem(r, 404, "no such user", NULL);
			return -1;
		}
	}
	return 0;
}

void
api_cleanup(struct http_req *r)
{
	struct api_ctx *c = r->ctx;

	if (c == NULL)
		return;
	user_clear(&c->actor);
	crypto_wipe(c, sizeof(*c));
	free(c);
	r->ctx = NULL;
}

int
api_invalid(struct http_req *r, const char *location, const char *message,
    const char *detail)
{
	struct json *v = NULL;

	api_verr(&v, location, message);
	http_problem(r, 400, detail, v);
	return -1;
}

void
api_verr(struct json **verrs, const char *location, const char *message)
{
	struct json *e = json_object();

	if (*verrs == NULL)
		*verrs = json_array();
	json_set_str(e, "location", location);
	json_set_str(e, "message", message);
	json_push(*verrs, e);
}

int
api_body(struct http_req *r, const struct body_spec *spec, struct body *b)
{
	if (body_parse(spec, r->body, r->body_len, b) == 0)
		return 0;
	http_problem(r, 400, b->detail, b->errors);    /* takes the errors */
	b->errors = NULL;
	body_free(b);
	return -1;
}

int
api_if_match(struct http_req *r, int64_t version_id)
{
	const char *im = http_header(r, "If-Match");
	char want[32];
	size_t n;

	if (im == NULL)
		return 0;
	while (*im == ' ' || *im == 'W' || *im == '/')
		im++;
	if (*im == '"')
		im++;
	n = strcspn(im, "\"");
	snprintf(want, sizeof(want), "%lld", (long long)version_id);
	if (n == strlen(want) && strncmp(im, want, n) == 0)
		return 0;
	http_problem(r, 412, "the user changed since you read it (If-Match)", NULL);
	return -1;
}

int
api_limit(struct http_req *r, unsigned *limit)
{
	char v[16];
	char *end;
	long n;

	int rc;

	*limit = 25;
	rc = http_query(r, "limit", v, sizeof(v));
	if (rc == -1)
		return 0;
	n = rc == 0 ? strtol(v, &end, 10) : 0;
	if (rc != 0 || v[0] == '\0' || *end != '\0' || n < 1 || n > 100)
		return api_invalid(r, "query.limit", "must be an integer from 1 to 100",
		    "invalid query parameter");
	*limit = (unsigned)n;
	return 0;
}

int
api_handle_fold(const char *in, char *out, size_t outlen)
{
	size_t n = strlen(in);

	if (n == 0 || n >= outlen || n > NAME_HANDLE_MAX)
		return -1;
	for (size_t i = 0; i <= n; i++)
		out[i] = (in[i] >= 'A' && in[i] <= 'Z') ? (char)(in[i] + 32) : in[i];
	return name_handle_valid(out) ? 0 : -1;
}

int
api_path_user(struct http_req *r, struct store_txn *t, struct user *u)
{
	struct api_ctx *c = r->ctx;
	char h[NAME_HANDLE_MAX + 1];
	int rc;

	memset(u, 0, sizeof(*u));
	if (r->nparams < 1 || api_handle_fold(r->params[0], h, sizeof(h)) == -1) {
		rc = STORE_NOTFOUND;
	} else if (c != NULL && c->authed && c->actor_txn != 0 &&
	    c->actor_txn == store_txn_id(t) && strcmp(h, c->actor.handle) == 0) {
		/* the caller's own path, and t sees the store the caller was
		 * read from: the same record, already parsed */
		user_copy(u, &c->actor);
		rc = 0;
	} else {
		rc = user_load_handle(t, h, u);
	}
	/* another user's path answers like one that does not exist (api_authorize) */
	return api_found(r, rc, "no such user", "cannot read the user store");
}

int
api_found(struct http_req *r, int rc, const char *notfound, const char *failed)
{
	if (rc == 0)
		return 0;
	http_problem(r, rc == STORE_NOTFOUND ? 404 : 500,
	    rc == STORE_NOTFOUND ? notfound : failed, NULL);
	return -1;
}

int
api_path_read(struct http_req *r, struct user *u)
{
	struct store_txn *t;

	if (api_path_begin(r, 0, &t, u) == -1)
		return -1;
	store_txn_abort(t);
	return 0;
}

int
api_path_begin(struct http_req *r, int write, struct store_txn **t, struct user *u)
{
	memset(u, 0, sizeof(*u));
	if ((write ? store_txn_begin(app.store, 1, t) : store_read_begin(app.store, t)) == -1) {
		http_problem(r, 500, "cannot open the store", NULL);
		return -1;
	}
	if (api_path_user(r, *t, u) == -1) {
		store_txn_abort(*t);
		return -1;
	}
	return 0;
}

int
api_is_self(struct http_req *r, const struct user *u)
{
	struct api_ctx *c = r->ctx;

	return c != NULL && c->authed && strcmp(c->actor.id, u->id) == 0;
}

/*
 * The account layer (account.c) makes every change; these begin, commit and
 * answer for it. The actor is the signed-in caller (anonymous on sign-in
 * routes until api_login names the user).
 */
void
api_account_init(struct http_req *r, struct account_txn *ax)
{
	struct api_ctx *c = r->ctx;

	memset(ax, 0, sizeof(*ax));
	account_actor(ax, c != NULL && c->authed ? &c->actor : NULL, r->remote_ip);
	ax->ua = http_header(r, "User-Agent");
}

int
api_account_begin(struct http_req *r, struct account_txn *ax, const char *detail)
{
	api_account_init(r, ax);
	if (store_txn_begin(app.store, 1, &ax->t) == -1) {
		http_problem(r, 500, detail ? detail : "cannot open the store", NULL);
		return -1;
	}
	return 0;
}

int
api_account_user(struct http_req *r, struct account_txn *ax, struct user *u)
{
	memset(u, 0, sizeof(*u));
	if (api_account_begin(r, ax, NULL) == -1)
		return -1;
	if (api_path_user(r, ax->t, u) == -1) {
		store_txn_abort(ax->t);
		return -1;
	}
	return 0;
}

int
api_account_commit(struct http_req *r, struct account_txn *ax)
{
	if (api_commit(r, ax->t) == -1)
		return -1;
	account_after_commit(ax);
	return 0;
}

/* a refusal that names the body's handle */
static void
api_conflict_handle(struct http_req *r, const char *message, const char *detail)
{
	struct json *v = NULL;

	api_verr(&v, "body.handle", message);
	http_problem(r, 409, detail, v);
}

void
api_account_failed(struct http_req *r, struct account_txn *ax, int rc, const char *detail)
{
	store_txn_abort(ax->t);
	ax->t = NULL;
	switch (rc) {
	case ACCOUNT_FAILED:
	case ACCOUNT_AUDIT_FAILED:
	case ACCOUNT_UNCHANGED:
		api_write_failed(r, detail);
		break;
	case ACCOUNT_READ_FAILED:
	case ACCOUNT_NO_RANDOM:
		http_problem(r, 500, ax->why, NULL);
		break;
	case ACCOUNT_STALE:
		http_problem(r, 401, ax->why, NULL);
		break;
	case ACCOUNT_TAKEN:
		api_conflict_handle(r, "is taken", ax->why);
		break;
	case ACCOUNT_RESERVED:
		api_conflict_handle(r, "is reserved: a workspace of this appliance "
		    "names it, and only an admin can give it to a user", ax->why);
		break;
	default:
		http_problem(r, 409, ax->why, NULL);
	}
}

int
api_account_done(struct http_req *r, struct account_txn *ax, int rc, const char *detail)
{
	if (rc == ACCOUNT_UNCHANGED) {
		store_txn_abort(ax->t);
		return 0;
	}
	if (rc != ACCOUNT_OK) {
		api_account_failed(r, ax, rc, detail);
		return -1;
	}
	return api_account_commit(r, ax);
}

/*
 * A full map or a full disk (507 Insufficient Storage, RFC 4918) are the
 * write failures an operator can fix, so each is named with its remedy;
 * reads keep working meanwhile.
 */
void
api_write_failed(struct http_req *r, const char *detail)
{
	char msg[256];
	int full = store_full();

	if (!full) {
		http_problem(r, 500, detail, NULL);
		return;
	}
	snprintf(msg, sizeof(msg), "the store is full: %s; an administrator "
	    "must %s", detail, full == STORE_FULL_DISK ?
	    "free space on the disk of data_dir" : "raise map_size_mb");
	http_problem(r, 507, msg, NULL);
}

/*
 * Every change a signed-in user makes, and every audited read of a secret,
 * spends from their write budget (rate.c), administrators' too. Routes
 * anyone may call (sign-in) have no budget to spend from, and signing out
 * is never refused.
 */
static int
api_rate(struct http_req *r)
{
	const struct conf *cf = app_conf();
	struct api_ctx *c = r->ctx;
	char hdr[64], detail[160];
	int wait;

	if (c == NULL || !c->authed || r->route == NULL ||
	    r->route->auth == HTTP_AUTH_ANYONE || r->route->fn == api_logout)
		return 0;
	/* replacing a one-time password is the way in, not a routine change:
	 * it is never refused for the budget (once done, the flag is gone) */
	if (r->route->fn == api_user_console_password && c->actor.must_change_pw)
		return 0;
	wait = rate_take(c->actor.id, app_now_ms(), cf->rate_writes_per_minute,
	    cf->rate_writes_burst);
	if (wait == 0)
		return 0;
	snprintf(hdr, sizeof(hdr), "Retry-After: %d\r\n", wait);
	snprintf(detail, sizeof(detail), "too many changes: at most %d a minute "
	    "(bursts of %d); try again in %d second%s; nothing was changed",
	    cf->rate_writes_per_minute, cf->rate_writes_burst, wait,
	    wait == 1 ? "" : "s");
	http_problem_h(r, 429, detail, NULL, hdr);
	return -1;
}

int
api_commit(struct http_req *r, struct store_txn *t)
{
	if (api_rate(r) == -1) {
		store_txn_abort(t);
		return -1;
	}
	if (store_txn_commit(t) == -1) {
		api_write_failed(r, "the change could not be saved; nothing was changed");
		return -1;
	}
	return 0;
}

void
api_set_cookie(struct http_req *r, int status, const struct json *body,
    const char *sid, int64_t max_age)
{
	char hdr[256], *s = body ? json_print(body) : NULL;

	snprintf(hdr, sizeof(hdr),
	    "Cache-Control: no-store\r\n"
	    "Set-Cookie: %s=%s; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=%lld\r\n",
	    SESSION_COOKIE, sid ? sid : "", (long long)(sid ? max_age : 0));
	http_reply(r, status, s ? "application/json" : "text/plain", hdr,
	    s ? s : "", s ? strlen(s) : 0);
	crypto_wipe(hdr, sizeof(hdr));
	free(s);
}

static int
api_has_ctl(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return 1;
		/* C1 controls U+0080..U+009F are 0xc2 0x80..0x9f in UTF-8 */
		if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			return 1;
	}
	return 0;
}

const char *
api_display_name_error(const char *s)
{
	if (api_has_ctl(s))
		return "must not contain control characters";
	return NULL;
}

const char *
api_handle_error(const char *s)
{
	char h[NAME_HANDLE_MAX + 1];

	if (api_handle_fold(s, h, sizeof(h)) == -1)
		return "must be 1 to 39 lowercase letters, digits or single inner hyphens";
	return NULL;
}

const char *
api_avatar_url_error(const char *s)
{
	const char *host;

	if (strlen(s) > 2048)
		return "must be at most 2048 characters";
	if (strncasecmp(s, "https://", 8) == 0)
		host = s + 8;
	else if (strncasecmp(s, "http://", 7) == 0)
		host = s + 7;
	else
		return "must be an http or https URL";
	if (*host == '\0' || *host == '/' || *host == '?' || *host == '#')
		return "must name a host";
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == '"' || *p == '<' || *p == '>' ||
		    *p == '\\' || *p == '^' || *p == '`' || *p == '{' || *p == '|' ||
		    *p == '}' || (unsigned char)*p >= 0x7f)
			return "must be a URL without spaces or unsafe characters";
	return NULL;
}

const char *
api_email_error(const char *s)
{
	const char *at = strchr(s, '@');

	if (strlen(s) > 254 || at == NULL || at == s || at[1] == '\0' ||
	    strchr(at + 1, '@') != NULL || api_has_ctl(s) || strchr(s, ' '))
		return "must be an email address (one @ with text on both sides)";
	return NULL;
}

const char *
api_password_error(const char *s)
{
	size_t n = body_chars(s);

	if (n < 8 || strlen(s) > 1024)
		return "must be 8 to 1024 characters";
	return NULL;
}

/* list answer: {"items": [...], "next_token": "..."} */
void
api_reply_list(struct http_req *r, struct json *items, const char *next)
{
	struct json *j = json_object();

	json_set(j, "items", items);
	if (next != NULL && next[0])
		json_set_str(j, "next_token", next);
	http_reply_json(r, 200, j);
	json_free(j);
}

void
api_reply_user(struct http_req *r, int status, const struct user *u)
{
	char *s = user_json_print(u);

	http_reply(r, status, "application/json", "Cache-Control: no-store\r\n", s, strlen(s));
	free(s);
}

void
api_reply_empty(struct http_req *r)
{
	http_reply(r, 204, "text/plain", "Cache-Control: no-store\r\n", "", 0);
}

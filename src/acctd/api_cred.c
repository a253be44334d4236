/*
 * Credential handlers: the database password (read, rotate), the
 * workspaces with their connection strings, and API tokens. Every change
 * commits with its audit record; no audit record carries a secret (tokens
 * are named by id and last4 only, the password by its version).
 *
 * Reading the database password is audited like a change, as Vault audits
 * reads of secrets: GET …/password and GET …/workspace?reveal=1 write
 * "user.password.read" / "user.workspace.reveal" in their own write txn and
 * show the secret only once that record has committed. A read whose record
 * cannot be written fails closed (5xx, no secret).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acctd.h"

static int
cred_begin(struct http_req *r, int write, struct store_txn **t, struct user *u)
{
	if (store_txn_begin(app.store, write, t) == -1) {
		http_problem(r, 500, "cannot open the store", NULL);
		return -1;
	}
	if (api_path_user(r, *t, u) == -1) {
		store_txn_abort(*t);
		return -1;
	}
	return 0;
}

/* ?reveal=1|true|0|false into *show (dflt when absent); -1 after a 400 */
static int
cred_reveal(struct http_req *r, int dflt, int *show)
{
	char v[8] = "";
	int rc = http_query(r, "reveal", v, sizeof(v));

	if (rc == -1) {
		*show = dflt;
		return 0;
	}
	if (rc == 0 && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0 ||
	    strcmp(v, "0") == 0 || strcmp(v, "false") == 0)) {
		*show = v[0] == '1' || v[0] == 't';
		return 0;
	}
	{
		struct json *verrs = NULL;

		api_verr(&verrs, "query.reveal", "must be 1 or 0");
		http_problem(r, 400, "invalid query parameter", verrs);
	}
	return -1;
}

static struct json *
cred_password_json(const struct dbpass *d, const char *pw)
{
	struct json *j = json_object();
	char ts[32];

	if (pw != NULL)           /* NULL: the metadata only (?reveal=0) */
		json_set_str(j, "password", pw);
	json_set_int(j, "version", d->version);
	time_rfc3339(d->created_at, ts, sizeof(ts));
	json_set_str(j, "created_at", ts);
	return j;
}

/* the audit record of a read of u's database password (version), in t;
 * -1 after a 5xx, t aborted */
static int
cred_read_audit(struct http_req *r, struct store_txn *t, const char *action,
    const struct user *u, int64_t version)
{
	struct json *data = json_object();
	int rc;

	json_set_int(data, "version", version);
	rc = api_audit(r, t, action, u, data);
	json_free(data);
	if (rc == -1) {
		store_txn_abort(t);
		api_write_failed(r, "the read could not be recorded in the audit "
		    "log; the password is not shown");
		return -1;
	}
	return api_commit(r, t);
}

void
api_password_get(struct http_req *r)
{
	struct store_txn *t;
	struct user u;
	struct dbpass d;
	char pw[DBPASS_LEN + 8];
	struct json *j;
	int rc, show;

	/* ?reveal=0: version, creation and propagation only: no secret, so
	 * no audit record and no write (the page polls it after a rotation) */
	if (cred_reveal(r, 1, &show) == -1 || cred_begin(r, show, &t, &u) == -1)
		return;
	rc = dbpass_get(t, u.id, &d, show ? pw : NULL, sizeof(pw));
	if (rc != 0) {
		store_txn_abort(t);
		user_clear(&u);
		http_problem(r, 500, "cannot read the database password", NULL);
		return;
	}
	j = cred_password_json(&d, show ? pw : NULL);
	crypto_wipe(pw, sizeof(pw));
	json_set(j, "propagation", outbox_propagation(t, u.id));
	if (!show) {
		store_txn_abort(t);
		http_reply_json(r, 200, j);
	} else if (cred_read_audit(r, t, "user.password.read", &u, d.version) == 0)
		http_reply_json(r, 200, j);
	user_clear(&u);
	json_free(j);
}

void
api_password_rotate(struct http_req *r)
{
	struct store_txn *t;
	struct user u;
	struct dbpass d;
	struct json *data, *j;
	char pw[DBPASS_LEN + 8];
	int64_t version;

	if (cred_begin(r, 1, &t, &u) == -1)
		return;
	data = json_object();
	if (dbpass_rotate(t, u.id, app_now(), &version) == -1 ||
	    dbpass_get(t, u.id, &d, pw, sizeof(pw)) != 0 ||
	    outbox_recompute_user(t, u.id) == -1 ||
	    (json_set_int(data, "version", version), api_audit(r, t, "user.password.rotate", &u, data)) == -1) {
		store_txn_abort(t);
		api_write_failed(r, "the password could not be rotated; nothing was changed");
		goto done;
	}
	if (api_commit(r, t) == 0) {
		push_wake();      /* answers at once; the push threads deliver */
		j = cred_password_json(&d, pw);
		if (store_txn_begin(app.store, 0, &t) == 0) {
			json_set(j, "propagation", outbox_propagation(t, u.id));
			store_txn_abort(t);
		}
		http_reply_json(r, 200, j);
		json_free(j);
	}
done:
	crypto_wipe(pw, sizeof(pw));
	json_free(data);
	user_clear(&u);
}

void
api_workspace_list(struct http_req *r)
{
	const struct conf *c = app_conf();
	struct store_txn *t;
	struct user u;
	struct dbpass d;
	struct json *items;
	char pw[DBPASS_LEN + 8], masked[DBPASS_LEN + 8];
	int rc, show, shown = 0;

	if (cred_reveal(r, 0, &show) == -1)
		return;
	if (cred_begin(r, show, &t, &u) == -1)
		return;
	rc = dbpass_get(t, u.id, &d, pw, sizeof(pw));
	if (rc != 0) {
		store_txn_abort(t);
		user_clear(&u);
		http_problem(r, 500, "cannot read the database password", NULL);
		return;
	}
	dbpass_mask(pw, masked, sizeof(masked));
	items = json_array();
	for (size_t i = 0; i < c->nworkspaces; i++) {
		const struct conf_workspace *w = &c->workspaces[i];
		struct json *j;
		char host[DNS_NAME_MAX], owner[NAME_HANDLE_MAX + 1], *cs;

		/* handles resolve to who holds them now or held them before a
		 * rename: the DNS name follows the owner's new handle */
		if (!workspace_member(t, w, u.id))
			continue;
		workspace_owner(t, w, owner);
		dns_name(c, w, owner, host, sizeof(host));
		j = json_object();
		json_set_str(j, "handle", w->handle);
		json_set_str(j, "owner", owner);
		json_set_str(j, "role", strcmp(owner, u.handle) == 0 ? "owner" : "member");
		json_set_str(j, "host", host);
		json_set_int(j, "port", w->port);
		json_set_str(j, "database", w->database);
		json_set_str(j, "node", w->node);
		cs = x_asprintf("postgresql://%s:%s@%s:%d/%s", u.handle, show ? pw : masked,
		    host, w->port, w->database);
		json_set_str(j, "connection_string", cs);
		crypto_wipe(cs, strlen(cs));
		free(cs);
		json_push(items, j);
		shown++;
	}
	crypto_wipe(pw, sizeof(pw));
	/* the password is in the answer: recorded first, or not shown */
	if (show && shown > 0) {
		if (cred_read_audit(r, t, "user.workspace.reveal", &u, d.version) == 0)
			api_reply_list(r, items, NULL);
		else
			json_free(items);
	} else {
		store_txn_abort(t);
		api_reply_list(r, items, NULL);
	}
	user_clear(&u);
}

/* tokens ------------------------------------------------------------------ */

static int
cred_token_of(struct http_req *r, struct store_txn *t, const struct user *u, struct token *k)
{
	const char *id = r->nparams > 1 ? r->params[1] : "";
	int rc = STORE_NOTFOUND;

	if (secret_id_valid(id, "t_"))
		rc = token_load(t, id, k);
	if (rc == 0 && strcmp(k->user_id, u->id) != 0) {
		token_clear(k);
		rc = STORE_NOTFOUND;
	}
	if (rc == STORE_NOTFOUND)
		http_problem(r, 404, "no such token", NULL);
	else if (rc == -1)
		http_problem(r, 500, "cannot read the token store", NULL);
	return rc;
}

void
api_token_list(struct http_req *r)
{
	struct store_txn *t;
	struct user u;
	char (*ids)[SECRET_ID_LEN + 1] = NULL;
	struct json *items;
	size_t n;

	if (cred_begin(r, 0, &t, &u) == -1)
		return;
	if (token_ids(t, u.id, &ids, &n) == -1) {
		store_txn_abort(t);
		user_clear(&u);
		http_problem(r, 500, "cannot read the token store", NULL);
		return;
	}
	items = json_array();
	for (size_t i = 0; i < n; i++) {
		struct token k;

		if (token_load(t, ids[i], &k) == 0)
			json_push(items, token_json(&k));
		token_clear(&k);
	}
	store_txn_abort(t);
	free(ids);
	user_clear(&u);
	api_reply_list(r, items, NULL);
}

/* RFC 3339 UTC "YYYY-MM-DDTHH:MM:SS[.fff]Z" -> unix seconds; -1 when
 * malformed or not a real date (2099-02-30 is refused, not normalised) */
int64_t
api_time_parse(const char *s)
{
	struct tm tm, back;
	int y, mo, d, h, mi, sec, n = -1;
	const char *end;
	time_t t;

	/* the shape first: sscanf alone would take spaces and signs */
	for (int i = 0; i < 19; i++) {
		char want = "0000-00-00T00:00:00"[i];

		if (want == '0' ? (s[i] < '0' || s[i] > '9') : s[i] != want)
			return -1;
	}
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19)
		return -1;
	end = s + 19;
	if (*end == '.') {
		end++;
		if (*end < '0' || *end > '9')
			return -1;
		while (*end >= '0' && *end <= '9')
			end++;
	}
	if (strcmp(end, "Z") != 0 && strcmp(end, "+00:00") != 0)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (gmtime_r(&t, &back) == NULL || back.tm_year != y - 1900 || back.tm_mon != mo - 1 ||
	    back.tm_mday != d || back.tm_hour != h || back.tm_min != mi || back.tm_sec != sec)
		return -1;
	return (int64_t)t;
}

void
api_token_create(struct http_req *r)
{
	static const char *const allowed[] = { "title", "expires_at", NULL };
	const struct conf *c = app_conf();
	struct json *body = NULL, *verrs = NULL, *v, *data, *j;
	const char *title = NULL, *exp;
	char tok[TOKEN_LEN + 1] = "", (*ids)[SECRET_ID_LEN + 1] = NULL, msg[96];
	struct store_txn *t;
	struct token k;
	struct user u;
	int64_t expires = 0;
	size_t n;

	memset(&k, 0, sizeof(k));
	if (r->body != NULL && api_body(r, allowed, &body) == -1)
		return;
	if ((v = json_get(body, "title")) != NULL && !json_is_null(v)) {
		title = json_str(v);
		if (title == NULL || (title[0] && api_display_name_error(title) != NULL))
			api_verr(&verrs, "body.title", "must be a string of at most 100 characters, no control characters");
	}
	if ((v = json_get(body, "expires_at")) != NULL && !json_is_null(v)) {
		exp = json_str(v);
		expires = exp ? api_time_parse(exp) : -1;
		if (expires == -1)
			api_verr(&verrs, "body.expires_at", "must be an RFC 3339 UTC time like 2027-01-31T00:00:00Z");
		else if (expires <= app_now())
			api_verr(&verrs, "body.expires_at", "must be in the future");
	}
	if (verrs != NULL) {
		http_problem(r, 400, "invalid token request", verrs);
		goto done;
	}
	if (cred_begin(r, 1, &t, &u) == -1)
		goto done;
	if (token_ids(t, u.id, &ids, &n) == -1) {
		http_problem(r, 500, "cannot read the token store", NULL);
		goto abort;
	}
	if (n >= (size_t)c->tokens_max_per_user) {
		snprintf(msg, sizeof(msg), "a user may have at most %d tokens; delete one first",
		    c->tokens_max_per_user);
		http_problem(r, 409, msg, NULL);
		goto abort;
	}
	if (token_mint(k.id, tok, k.hmac) == -1) {
		http_problem(r, 500, "no randomness", NULL);
		goto abort;
	}
	snprintf(k.user_id, sizeof(k.user_id), "%s", u.id);
	k.title = title && title[0] ? x_strdup(title) : NULL;
	k.active = 1;
	memcpy(k.last4, tok + TOKEN_LEN - 4, 4);
	k.created_ms = app_now_ms();
	k.updated_at = k.created_ms / 1000;
	k.expires_at = expires;
	k.version_id = 1;
	data = json_object();
	json_set_str(data, "token_id", k.id);
	json_set_str(data, "last4", k.last4);
	if (token_save(t, &k) == -1 || api_audit(r, t, "token.create", &u, data) == -1) {
		json_free(data);
		api_write_failed(r, "the token could not be created; nothing was changed");
		goto abort;
	}
	json_free(data);
	if (api_commit(r, t) == 0) {
		j = token_json(&k);
		json_set_str(j, "token", tok);   /* the only time it is ever shown */
		http_reply_json(r, 201, j);
		json_free(j);
	}
	user_clear(&u);
	goto done;
abort:
	store_txn_abort(t);
	user_clear(&u);
done:
	crypto_wipe(tok, sizeof(tok));
	free(ids);
	token_clear(&k);
	json_free(body);
}

void
api_token_get(struct http_req *r)
{
	struct store_txn *t;
	struct user u;
	struct token k;
	struct json *j;

	if (cred_begin(r, 0, &t, &u) == -1)
		return;
	if (cred_token_of(r, t, &u, &k) == 0) {
		j = token_json(&k);
		http_reply_json(r, 200, j);
		json_free(j);
		token_clear(&k);
	}
	store_txn_abort(t);
	user_clear(&u);
}

void
api_token_patch(struct http_req *r)
{
	static const char *const allowed[] = { "status", NULL };
	struct json *body, *verrs = NULL, *data, *j;
	const char *st;
	struct store_txn *t;
	struct user u;
	struct token k;
	int want;

	if (api_body(r, allowed, &body) == -1)
		return;
	st = json_str(json_get(body, "status"));
	if (st == NULL || (strcmp(st, "active") && strcmp(st, "inactive"))) {
		api_verr(&verrs, "body.status", "must be \"active\" or \"inactive\"");
		http_problem(r, 400, "invalid token change", verrs);
		json_free(body);
		return;
	}
	want = strcmp(st, "active") == 0;
	json_free(body);     /* st points into body: not used below */
	st = NULL;
	if (cred_begin(r, 1, &t, &u) == -1)
		return;
	if (cred_token_of(r, t, &u, &k) != 0) {
		store_txn_abort(t);
		user_clear(&u);
		return;
	}
	if (k.active != want) {
		data = json_object();
		json_set_str(data, "token_id", k.id);
		json_set_str(data, "last4", k.last4);
		k.active = want;
		k.version_id++;
		k.updated_at = app_now();
		if (token_save(t, &k) == -1 || api_audit(r, t, "token.update", &u, data) == -1) {
			json_free(data);
			store_txn_abort(t);
			api_write_failed(r, "the token could not be changed; nothing was changed");
			goto done;
		}
		json_free(data);
		if (api_commit(r, t) == -1)
			goto done;
	} else {
		store_txn_abort(t);
	}
	j = token_json(&k);
	http_reply_json(r, 200, j);
	json_free(j);
done:
	token_clear(&k);
	user_clear(&u);
}

void
api_token_delete(struct http_req *r)
{
	struct store_txn *t;
	struct user u;
	struct token k;
	struct json *data;

	if (cred_begin(r, 1, &t, &u) == -1)
		return;
	if (cred_token_of(r, t, &u, &k) != 0) {
		store_txn_abort(t);
		user_clear(&u);
		return;
	}
	data = json_object();
	json_set_str(data, "token_id", k.id);
	json_set_str(data, "last4", k.last4);
	if (token_remove(t, &k) == -1 || api_audit(r, t, "token.delete", &u, data) == -1) {
		store_txn_abort(t);
		api_write_failed(r, "the token could not be deleted; nothing was changed");
	} else if (api_commit(r, t) == 0) {
		http_reply(r, 204, "text/plain", "Cache-Control: no-store\r\n", "", 0);
	}
	json_free(data);
	token_clear(&k);
	user_clear(&u);
}

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
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acctd.h"

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
	return api_invalid(r, "query.reveal", "must be 1 or 0", "invalid query parameter");
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
	time_json_set(j, "dbpass_next_rotation_at", d->due_at);   /* null: none */
	return j;
}

/* the audit record of a read of u's database password (version), in t,
 * committed: 0, or -1 after a 429/5xx (nothing is shown then) */
static int
cred_read_audit(struct http_req *r, struct store_txn *t, const char *action,
    const struct user *u, int64_t version)
{
	struct account_txn ax;
	int rc;

	api_account_init(r, &ax);
	ax.t = t;
	rc = account_secret_read(&ax, u, action, version);
	return api_account_done(r, &ax, rc, "the read could not be recorded in the audit "
	    "log; the password is not shown");
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
	if (cred_reveal(r, 1, &show) == -1 || api_path_begin(r, show, &t, &u) == -1)
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
	struct account_txn ax;
	struct user u;
	struct dbpass d;
	struct json *j;
	char pw[DBPASS_LEN + 8];
	struct dbpass_new db;
	int rc;

	/* the new password's verifier before the write lock (4,096 PBKDF2
	 * iterations) */
	if (dbpass_prepare(&db, 1) == -1) {
		http_problem(r, 500, "no randomness", NULL);
		return;
	}
	if (api_account_user(r, &ax, &u) == -1) {
		dbpass_new_wipe(&db);
		return;
	}
	rc = account_dbpass_rotate(&ax, &u, &db, &d, pw, sizeof(pw));
	dbpass_new_wipe(&db);
	if (api_account_done(r, &ax, rc, "the password could not be rotated; nothing was changed") == 0) {
		/* answers at once; the push threads deliver */
		j = cred_password_json(&d, pw);
		if (store_txn_begin(app.store, 0, &t) == 0) {
			json_set(j, "propagation", outbox_propagation(t, u.id));
			store_txn_abort(t);
		}
		http_reply_json(r, 200, j);
		json_free(j);
	}
	crypto_wipe(pw, sizeof(pw));
	user_clear(&u);
}

/*
 * GET …/workspace without reveal answers the same bytes while the store
 * (store_txn_id of the read) and the config (a reload makes a new one; old
 * ones live until exit) are the same: the last answer per user is kept with
 * both, so a repeated read costs the caller's authentication and a lookup.
 * Any commit is another store and any reload another config, so an answer
 * cannot go stale. It holds the masked password the answer shows, never the
 * password (wiped when replaced).
 */
#define CRED_WS_SLOTS 64
static struct {
	char user_id[SECRET_ID_LEN + 1];
	uint64_t txn;
	const struct conf *conf;
	char *body;
} cred_ws_memo[CRED_WS_SLOTS];
static pthread_mutex_t cred_ws_mtx = PTHREAD_MUTEX_INITIALIZER;

/* ids end in random base32: their last two characters spread the slots */
static size_t
cred_ws_slot(const char *user_id)
{
	size_t n = strlen(user_id);

	return n < 2 ? 0 : ((size_t)(uint8_t)user_id[n - 1] * 31 +
	    (uint8_t)user_id[n - 2]) % CRED_WS_SLOTS;
}

/* the kept answer (caller frees) or NULL */
static char *
cred_ws_memo_get(const char *user_id, uint64_t txn, const struct conf *c)
{
	size_t i = cred_ws_slot(user_id);
	char *s = NULL;

	pthread_mutex_lock(&cred_ws_mtx);
	if (cred_ws_memo[i].body != NULL && cred_ws_memo[i].txn == txn &&
	    cred_ws_memo[i].conf == c && strcmp(cred_ws_memo[i].user_id, user_id) == 0)
		s = x_strdup(cred_ws_memo[i].body);
	pthread_mutex_unlock(&cred_ws_mtx);
	return s;
}

static void
cred_ws_memo_put(const char *user_id, uint64_t txn, const struct conf *c, const char *body)
{
	size_t i = cred_ws_slot(user_id);
	char *old, *copy = x_strdup(body);

	pthread_mutex_lock(&cred_ws_mtx);
	old = cred_ws_memo[i].body;
	snprintf(cred_ws_memo[i].user_id, sizeof(cred_ws_memo[i].user_id), "%s", user_id);
	cred_ws_memo[i].txn = txn;
	cred_ws_memo[i].conf = c;
	cred_ws_memo[i].body = copy;
	pthread_mutex_unlock(&cred_ws_mtx);
	if (old != NULL) {
		crypto_wipe(old, strlen(old));
		free(old);
	}
}

/* u's workspaces in t's store, with pw in the connection strings */
static struct json *
cred_ws_items(struct store_txn *t, const struct conf *c, const struct user *u,
    const char *pw, size_t *shown)
{
	const struct workspace_map *m = workspace_map_get(t, c);
	struct json *items = json_array();

	*shown = 0;
	for (size_t i = 0; i < c->nworkspaces; i++) {
		const struct conf_workspace *w = &c->workspaces[i];
		struct json *j;
		char host[DNS_NAME_MAX], *cs;
		const char *owner;

		/* handles resolve to who holds them now or held them before a
		 * rename: the DNS name follows the owner's new handle */
		if (!workspace_map_member(m, i, u->id))
			continue;
		owner = workspace_map_owner(m, i);
		dns_name(c, w, owner, host, sizeof(host));
		j = json_object();
		json_set_str(j, "handle", w->handle);
		json_set_str(j, "owner", owner);
		json_set_str(j, "role", strcmp(owner, u->handle) == 0 ? "owner" : "member");
		json_set_str(j, "host", host);
		json_set_int(j, "port", w->port);
		json_set_str(j, "database", w->database);
		json_set_str(j, "node", w->node);
		cs = x_asprintf("postgresql://%s:%s@%s:%d/%s", u->handle, pw,
		    host, w->port, w->database);
		json_set_str(j, "connection_string", cs);
		crypto_wipe(cs, strlen(cs));
		free(cs);
		json_push(items, j);
		(*shown)++;
	}
	workspace_map_put(m);
	return items;
}

/* the masked answer, printed and kept (cred_ws_memo); t is ended */
static void
cred_ws_reply_masked(struct http_req *r, struct store_txn *t, const struct conf *c,
    const struct user *u, struct json *items)
{
	uint64_t txn = store_txn_id(t);
	struct json *j = json_object();
	char *s;

	store_txn_abort(t);
	json_set(j, "items", items);
	s = json_print(j);
	json_free(j);
	if (txn != 0)
		cred_ws_memo_put(u->id, txn, c, s);
	http_reply(r, 200, "application/json", "Cache-Control: no-store\r\n", s, strlen(s));
	crypto_wipe(s, strlen(s));
	free(s);
}

void
api_workspace_list(struct http_req *r)
{
	const struct conf *c = app_conf();
	struct store_txn *t;
	struct user u;
	struct dbpass d;
	struct json *items;
	char pw[DBPASS_LEN + 8], masked[DBPASS_LEN + 8], *kept;
	size_t shown;
	int show;

	if (cred_reveal(r, 0, &show) == -1 || api_path_begin(r, show, &t, &u) == -1)
		return;
	if (!show && (kept = cred_ws_memo_get(u.id, store_txn_id(t), c)) != NULL) {
		store_txn_abort(t);
		http_reply(r, 200, "application/json", "Cache-Control: no-store\r\n",
		    kept, strlen(kept));
		crypto_wipe(kept, strlen(kept));
		free(kept);
		user_clear(&u);
		return;
	}
	if (dbpass_get(t, u.id, &d, pw, sizeof(pw)) != 0) {
		store_txn_abort(t);
		user_clear(&u);
		http_problem(r, 500, "cannot read the database password", NULL);
		return;
	}
	dbpass_mask(pw, masked, sizeof(masked));
	items = cred_ws_items(t, c, &u, show ? pw : masked, &shown);
	crypto_wipe(pw, sizeof(pw));
	/* the password is in the answer: recorded first, or not shown */
	if (show && shown > 0) {
		if (cred_read_audit(r, t, "user.workspace.reveal", &u, d.version) == 0)
			api_reply_list(r, items, NULL);
		else
			json_free(items);
	} else if (show) {
		store_txn_abort(t);
		api_reply_list(r, items, NULL);
	} else {
		cred_ws_reply_masked(r, t, c, &u, items);
	}
	user_clear(&u);
}

/* tokens ------------------------------------------------------------------ */

/* the path's user and their token {id}, in a new txn: 0, or -1 after a
 * 404/500 with nothing left open */
static int
cred_token_begin(struct http_req *r, int write, struct store_txn **t, struct user *u,
    struct token *k)
{
	const char *id = r->nparams > 1 ? r->params[1] : "";
	int rc = STORE_NOTFOUND;

	memset(k, 0, sizeof(*k));
	if (api_path_begin(r, write, t, u) == -1)
		return -1;
	if (secret_id_valid(id, "t_"))
		rc = token_load(*t, id, k);
	if (rc == 0 && strcmp(k->user_id, u->id) != 0) {
		token_clear(k);
		rc = STORE_NOTFOUND;
	}
	if (api_found(r, rc, "no such token", "cannot read the token store") == 0)
		return 0;
	store_txn_abort(*t);
	user_clear(u);
	return -1;
}

void
api_token_list(struct http_req *r)
{
	struct store_txn *t;
	struct user u;
	char (*ids)[SECRET_ID_LEN + 1] = NULL;
	struct json *items;
	size_t n;

	if (api_path_begin(r, 0, &t, &u) == -1)
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

/* expires_at: in the future */
static const char *
cred_expires_error(const char *s)
{
	int64_t t = api_time_parse(s);

	if (t == -1)
		return "must be an RFC 3339 UTC time like 2027-01-31T00:00:00Z";
	return t <= app_now() ? "must be in the future" : NULL;
}

static const char *const token_scope_values[] = { "full", "read", "connect", NULL };
enum { TOKEN_TITLE, TOKEN_EXPIRES_AT, TOKEN_SCOPE };
static const struct body_field token_fields[] = {
	[TOKEN_TITLE] = { "title", BODY_STRING, BODY_NULLABLE, 0, 100, NULL,
	    api_display_name_error },
	[TOKEN_EXPIRES_AT] = { "expires_at", BODY_STRING, BODY_NULLABLE, 0, 0, NULL,
	    cred_expires_error },
	[TOKEN_SCOPE] = { "scope", BODY_STRING, 0, 0, 0, token_scope_values, NULL },
	{ NULL, 0, 0, 0, 0, NULL, NULL },
};
/* the body is optional: a full-scope token with no title that never expires */
static const struct body_spec token_body = { "invalid token request", 1, token_fields };

/* a token; tok: its secret, shown only when it is created */
static void
cred_token_reply(struct http_req *r, int status, const struct token *k, const char *tok)
{
	struct json *j = token_json(k);

	if (tok != NULL)
		json_set_str(j, "token", tok);
	http_reply_json(r, status, j);
	json_free(j);
}

void
api_token_create(struct http_req *r)
{
	const char *exp;
	char tok[TOKEN_LEN + 1] = "";
	struct account_txn ax;
	struct token k;
	struct body b;
	struct user u;
	int rc, scope;

	memset(&k, 0, sizeof(k));
	if (api_body(r, &token_body, &b) == -1)
		return;
	exp = b.v[TOKEN_EXPIRES_AT].str;
	scope = b.v[TOKEN_SCOPE].set ? token_scope_parse(b.v[TOKEN_SCOPE].str) : TOKEN_SCOPE_FULL;
	if (scope == -1) {       /* the table's oneof let no other value through */
		api_invalid(r, "body.scope", "must be full, read or connect", token_body.invalid);
		goto done;
	}
	if (api_account_user(r, &ax, &u) == -1)
		goto done;
	rc = account_token_create(&ax, &u, b.v[TOKEN_TITLE].str, exp ? api_time_parse(exp) : 0,
	    (enum token_scope)scope, &k, tok);
	if (api_account_done(r, &ax, rc, "the token could not be created; nothing was changed") == 0)
		cred_token_reply(r, 201, &k, tok);
	user_clear(&u);
done:
	crypto_wipe(tok, sizeof(tok));
	token_clear(&k);
	body_free(&b);
}

void
api_token_get(struct http_req *r)
{
	struct store_txn *t;
	struct user u;
	struct token k;

	if (cred_token_begin(r, 0, &t, &u, &k) == -1)
		return;
	store_txn_abort(t);
	cred_token_reply(r, 200, &k, NULL);
	token_clear(&k);
	user_clear(&u);
}

static const char *const token_states[] = { "active", "inactive", NULL };
static const struct body_field token_patch_fields[] = {
	{ "status", BODY_STRING, BODY_REQUIRED, 0, 0, token_states, NULL },
	{ NULL, 0, 0, 0, 0, NULL, NULL },
};
static const struct body_spec token_patch_body = { "invalid token change", 0,
	token_patch_fields };

void
api_token_patch(struct http_req *r)
{
	struct account_txn ax;
	struct user u;
	struct token k;
	struct body b;
	int want, rc;

	if (api_body(r, &token_patch_body, &b) == -1)
		return;
	want = strcmp(b.v[0].str, "active") == 0;
	body_free(&b);
	api_account_init(r, &ax);
	if (cred_token_begin(r, 1, &ax.t, &u, &k) == -1)
		return;
	rc = account_token_set_active(&ax, &u, &k, want);
	if (api_account_done(r, &ax, rc, "the token could not be changed; nothing was changed") == 0)
		cred_token_reply(r, 200, &k, NULL);
	token_clear(&k);
	user_clear(&u);
}

void
api_token_delete(struct http_req *r)
{
	struct account_txn ax;
	struct user u;
	struct token k;
	int rc;

	api_account_init(r, &ax);
	if (cred_token_begin(r, 1, &ax.t, &u, &k) == -1)
		return;
	rc = account_token_delete(&ax, &u, &k);
	if (api_account_done(r, &ax, rc, "the token could not be deleted; nothing was changed") == 0)
		api_reply_empty(r);
	token_clear(&k);
	user_clear(&u);
}

/*
 * GET and DELETE /api/v0/user/{handle}/session[/{id}]: the user's console
 * sessions (session.c), listed and ended by the user or an admin. The id is
 * a name for the session, never its cookie; ending one deletes its record,
 * so its next request is anonymous (401).
 */
#include <string.h>

#include "acctd.h"

void
api_session_list(struct http_req *r)
{
	const struct conf *cf = app_conf();
	struct api_ctx *c = api_ctx(r);
	struct store_txn *t;
	struct json *items;
	struct user u;
	int rc;

	if (api_path_begin(r, 0, &t, &u) == -1)
		return;
	rc = session_list(t, u.id, c->via_cookie ? c->sid : NULL, app_now(),
	    cf->sessions_idle_timeout, cf->sessions_absolute_timeout, &items);
	store_txn_abort(t);
	user_clear(&u);
	if (rc == -1)
		http_problem(r, 500, "cannot read the session store", NULL);
	else
		api_reply_list(r, items, NULL);
}

static int
api_session_id_valid(const char *id)
{
	return strlen(id) == SESSION_ID_LEN && strspn(id, "0123456789abcdef") == SESSION_ID_LEN;
}

void
api_session_end(struct http_req *r)
{
	const char *id = r->nparams > 1 ? r->params[1] : "";
	struct account_txn ax;
	struct user u;
	int rc;

	if (!api_session_id_valid(id)) {
		http_problem(r, 404, "no such session", NULL);
		return;
	}
	if (api_account_user(r, &ax, &u) == -1)
		return;
	rc = account_session_end(&ax, &u, id);
	if (rc == ACCOUNT_UNCHANGED) {
		store_txn_abort(ax.t);
		http_problem(r, 404, "no such session", NULL);
	} else if (api_account_done(r, &ax, rc,
	    "the session could not be ended; nothing was changed") == 0) {
		api_reply_empty(r);
	}
	user_clear(&u);
}

/*
 * The push outbox: per (node, user) the newest credential state that node
 * must apply, written in the same transaction as the change that caused it
 * (creation, rotation, rename, deletion, a reloaded config). Newest state
 * wins: a node that was down gets only the latest. Every state carries a
 * version from one appliance-wide counter, so an agent can refuse a replayed
 * or older state.
 *
 * STORE_DB_OUTBOX keys (node names and user ids contain no '/'):
 *   q/<node>/<user id>  the state to deliver, with attempts, next attempt
 *                       time, last error; "refused" (the agent's code)
 *                       when the node refused it for good: not retried,
 *                       shown until a newer state replaces it
 *   a/<node>/<user id>  the state the node last confirmed
 *
 * States: "present" (role + verifier), "disabled" (the user is disabled:
 * no LOGIN, role kept), "absent" (deleted, or no workspace there).
 *
 * Versions survive a restore of the store from an old copy: an agent that
 * holds a newer version answers 409 with it, and outbox_requeue_past gives
 * the entry a version past it (and moves the counter there), so the node
 * converges on the state acctd holds now.
 *
 * Only this file knows these keys and records: push.c sees struct
 * outbox_entry (the message to send, struct pushmsg) and reports each
 * delivery back (outbox_confirm / _retry / _refuse / _requeue_past). The
 * format is the one stores since issue 5 hold; do not change it.
 */
#include <stdlib.h>
#include <string.h>

#include "acctd.h"

/* the next version; the counter first moves to floor when it is below */
static int
outbox_next_version_past(struct store_txn *t, int64_t floor, int64_t *v)
{
	void *p = NULL;
	size_t n;
	int rc = store_get(t, STORE_DB_META, "push_seq", 8, &p, &n);
	uint8_t b[8];
	uint64_t x = 0;

	if (rc == -1)
		return -1;
	if (rc == 0 && n == 8)
		x = be_get(p, 8);
	free(p);
	if (floor > 0 && x < (uint64_t)floor)
		x = (uint64_t)floor;
	be_put(b, 8, ++x);
	if (store_put(t, STORE_DB_META, "push_seq", 8, b, 8) == -1)
		return -1;
	*v = (int64_t)x;
	return 0;
}

/* does a workspace on `node` name this user as owner or member? */
static int
outbox_serves(struct store_txn *t, const struct conf *c, const char *node,
    const char *user_id)
{
	for (size_t i = 0; i < c->nworkspaces; i++)
		if (strcmp(c->workspaces[i].node, node) == 0 &&
		    workspace_member(t, &c->workspaces[i], user_id))
			return 1;
	return 0;
}

static int
outbox_get(struct store_txn *t, char kind, const char *node, const char *user_id,
    struct json **out)
{
	char key[96], err[64];
	void *v = NULL;
	size_t vl;
	int rc;

	*out = NULL;
	snprintf(key, sizeof(key), "%c/%s/%s", kind, node, user_id);
	rc = store_get(t, STORE_DB_OUTBOX, key, strlen(key), &v, &vl);
	if (rc != 0)
		return rc;
	rc = json_parse(v, vl, out, err, sizeof(err));
	free(v);
	return rc;
}

static int
outbox_put_json(struct store_txn *t, char kind, const char *node, const char *user_id,
    const struct json *j)
{
	char key[96], *s = json_print(j);
	int rc;

	snprintf(key, sizeof(key), "%c/%s/%s", kind, node, user_id);
	rc = store_put(t, STORE_DB_OUTBOX, key, strlen(key), s, strlen(s));
	free(s);
	return rc;
}

static int
outbox_del(struct store_txn *t, char kind, const char *node, const char *user_id)
{
	char key[96];

	snprintf(key, sizeof(key), "%c/%s/%s", kind, node, user_id);
	return store_del(t, STORE_DB_OUTBOX, key, strlen(key)) == -1 ? -1 : 0;
}

static int
outbox_next_version(struct store_txn *t, int64_t *v)
{
	return outbox_next_version_past(t, 0, v);
}

int
outbox_recompute_user(struct store_txn *t, const char *user_id)
{
	const struct conf *c = app_conf();
	struct user u;
	struct dbpass d;
	int64_t version = 0;
	int exists, rc;

	if (c->nnodes == 0)
		return 0;
	rc = user_load(t, user_id, &u);
	if (rc == -1)
		return -1;
	exists = rc == 0;
	if (exists && dbpass_get(t, user_id, &d, NULL, 0) != 0) {
		user_clear(&u);
		return -1;
	}
	for (size_t i = 0; i < c->nnodes; i++) {
		const char *node = c->nodes[i].name;
		int serves = exists && outbox_serves(t, c, node, user_id);
		const char *want = !serves ? "absent" : u.disabled ? "disabled" :
		    "present";
		struct json *applied = NULL, *q = NULL;

		if (strcmp(want, "present") != 0) {
			/* only where a role may exist: applied, or queued */
			int had = outbox_get(t, 'a', node, user_id, &applied);
			int queued = outbox_get(t, 'q', node, user_id, &q);
			const char *ast = json_str(json_get(applied, "state"));
			int skip;

			json_free(q);
			if (had == -1 || queued == -1) {
				json_free(applied);
				goto fail;
			}
			skip = queued == STORE_NOTFOUND && (had == STORE_NOTFOUND ||
			    (ast != NULL && (strcmp(ast, want) == 0 ||
			    strcmp(ast, "absent") == 0)));
			json_free(applied);
			if (skip)
				continue;
		}
		/* a user made without a verifier (acctd import) gets it now */
		if (strcmp(want, "present") == 0 && dbpass_verifier_fill(t, user_id, &d) == -1)
			goto fail;
		if (version == 0 && outbox_next_version(t, &version) == -1)
			goto fail;
		q = json_object();
		json_set_int(q, "version", version);
		json_set_str(q, "state", want);
		if (strcmp(want, "present") == 0) {
			json_set_str(q, "role", u.handle);
			json_set_str(q, "verifier", d.verifier);
		}
		json_set_int(q, "attempts", 0);
		json_set_int(q, "next_at", 0);
		json_set_int(q, "queued_at", app_now());
		rc = outbox_put_json(t, 'q', node, user_id, q);
		json_free(q);
		if (rc == -1)
			goto fail;
	}
	user_clear(&u);
	return 0;
fail:
	user_clear(&u);
	return -1;
}

/* --- delivery: what push.c's threads take and report --------------------- */

struct outbox_scan {
	size_t plen;
	char prefix[80];
	int64_t now;
	struct outbox_due *d;
};

/* a queued record as the message to send (an unknown state is "absent") */
static void
outbox_entry_from(const struct json *q, const char *user_id, struct outbox_entry *e)
{
	struct pushmsg *m = &e->msg;
	const char *s;

	memset(e, 0, sizeof(*e));
	snprintf(m->user_id, sizeof(m->user_id), "%s", user_id);
	json_int(json_get(q, "version"), &m->version);
	json_int(json_get(q, "attempts"), &e->attempts);
	if (pushmsg_state_parse(json_str(json_get(q, "state")), &m->state) == -1)
		m->state = PUSHMSG_ABSENT;
	if (m->state != PUSHMSG_PRESENT)
		return;
	if ((s = json_str(json_get(q, "role"))) != NULL)
		snprintf(m->role, sizeof(m->role), "%s", s);
	if ((s = json_str(json_get(q, "verifier"))) != NULL)
		snprintf(m->verifier, sizeof(m->verifier), "%s", s);
}

/* an entry waiting for delivery: due now (in the batch), or later */
static void
outbox_due_pending(struct outbox_scan *s, const char *id, const struct json *q)
{
	struct outbox_due *d = s->d;
	int64_t next = 0;

	d->pending++;
	json_int(json_get(q, "next_at"), &next);
	if (next > s->now) {
		if (d->next_at == 0 || next < d->next_at)
			d->next_at = next;
	} else if (d->ndue < OUTBOX_BATCH) {
		outbox_entry_from(q, id, &d->due[d->ndue++]);
	} else if (d->next_at == 0 || s->now < d->next_at) {
		d->next_at = s->now;     /* more due than one batch: come back now */
	}
}

static int
outbox_due_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	struct outbox_scan *s = arg;
	struct json *q;
	const char *why;
	char err[64], id[SECRET_ID_LEN + 1];

	if (kl <= s->plen || memcmp(k, s->prefix, s->plen) != 0)
		return 1;
	if (kl - s->plen != SECRET_ID_LEN || json_parse(v, vl, &q, err, sizeof(err)) == -1)
		return 0;
	if (json_str(json_get(q, "refused")) != NULL) {
		/* refused for good: shown, not retried until replaced */
		why = json_str(json_get(q, "last_error"));
		s->d->refused++;
		snprintf(s->d->last_refusal, sizeof(s->d->last_refusal), "%s",
		    why ? why : "refused");
	} else {
		memcpy(id, (const char *)k + s->plen, SECRET_ID_LEN);
		id[SECRET_ID_LEN] = '\0';
		outbox_due_pending(s, id, q);
	}
	json_free(q);
	return 0;
}

int
outbox_due(const char *node, int64_t now, struct outbox_due *d)
{
	struct outbox_scan s = { .now = now, .d = d };
	struct store_txn *t;
	int rc;

	memset(d, 0, sizeof(*d));
	s.plen = (size_t)snprintf(s.prefix, sizeof(s.prefix), "q/%s/", node);
	if (store_txn_begin(app.store, 0, &t) == -1)
		return -1;
	rc = store_iter(t, STORE_DB_OUTBOX, s.prefix, s.plen, 0, outbox_due_cb, &s);
	store_txn_abort(t);
	if (rc == -1)
		outbox_due_wipe(d);
	return rc == -1 ? -1 : 0;
}

void
outbox_due_wipe(struct outbox_due *d)
{
	crypto_wipe(d, sizeof(*d));
}

/*
 * A write txn for settling e on node: *q the queued record while it still
 * holds e's version, else NULL (replaced by a newer state meanwhile).
 */
static int
outbox_settle_begin(const char *node, const struct outbox_entry *e,
    struct store_txn **t, struct json **q)
{
	int64_t cur = -1;

	*q = NULL;
	if (store_txn_begin(app.store, 1, t) == -1)
		return -1;
	if (outbox_get(*t, 'q', node, e->msg.user_id, q) != 0 ||
	    json_int(json_get(*q, "version"), &cur) == -1 || cur != e->msg.version) {
		json_free(*q);
		*q = NULL;
	}
	return 0;
}

/* commit when rc is 0, else abort; frees q */
static int
outbox_settle_end(struct store_txn *t, struct json *q, int rc)
{
	json_free(q);
	if (rc == -1) {
		store_txn_abort(t);
		return -1;
	}
	return store_txn_commit(t);
}

int
outbox_confirm(const char *node, const struct outbox_entry *e)
{
	struct store_txn *t;
	struct json *q, *a;
	int rc;

	if (outbox_settle_begin(node, e, &t, &q) == -1)
		return -1;
	a = json_object();
	json_set_int(a, "version", e->msg.version);
	json_set_str(a, "state", pushmsg_state_name(e->msg.state));
	json_set_int(a, "at", app_now());
	rc = outbox_put_json(t, 'a', node, e->msg.user_id, a);
	if (rc == 0 && q != NULL)
		rc = outbox_del(t, 'q', node, e->msg.user_id);
	json_free(a);
	return outbox_settle_end(t, q, rc);
}

/* one more failed attempt; code NULL: retried after delay, else refused */
static int
outbox_failed(const char *node, const struct outbox_entry *e,
    const char *error, const char *code, int64_t delay)
{
	struct store_txn *t;
	struct json *q;
	int64_t now = app_now();
	int rc = 0;

	if (outbox_settle_begin(node, e, &t, &q) == -1)
		return -1;
	if (q != NULL) {
		json_set_int(q, "attempts", e->attempts + 1);
		json_set_int(q, "last_attempt", now);
		json_set_str(q, "last_error", error);
		if (code != NULL)
			json_set_str(q, "refused", code);
		else
			json_set_int(q, "next_at", now + delay);
		rc = outbox_put_json(t, 'q', node, e->msg.user_id, q);
	}
	return outbox_settle_end(t, q, rc);
}

int
outbox_retry(const char *node, const struct outbox_entry *e,
    const char *error, int64_t delay)
{
	return outbox_failed(node, e, error, NULL, delay);
}

int
outbox_refuse(const char *node, const struct outbox_entry *e,
    enum pushmsg_code code, const char *error)
{
	const char *name = pushmsg_code_name(code);

	return outbox_failed(node, e, error, name ? name : "refused", 0);
}

int
outbox_requeue_past(const char *node, const struct outbox_entry *e,
    int64_t held, int64_t *now_version)
{
	struct store_txn *t;
	struct json *q;
	int64_t v = 0;
	int rc = 0;

	*now_version = 0;
	if (outbox_settle_begin(node, e, &t, &q) == -1)
		return -1;
	if (q != NULL) {
		rc = outbox_next_version_past(t, held, &v);
		if (rc == 0) {
			json_set_int(q, "version", v);
			json_set_int(q, "next_at", 0);
			rc = outbox_put_json(t, 'q', node, e->msg.user_id, q);
		}
	}
	if (outbox_settle_end(t, q, rc) == -1)
		return -1;
	*now_version = v;
	return 0;
}

/* for the API: {node, status (applied|pending|refused), state (the newest:
 * present|disabled|absent), applied_version, pending_version, last_error,
 * error_code (when refused), last_attempt, applied_at} */
struct json *
outbox_propagation(struct store_txn *t, const char *user_id)
{
	const struct conf *c = app_conf();
	struct json *items = json_array();

	for (size_t i = 0; i < c->nnodes; i++) {
		const char *node = c->nodes[i].name;
		struct json *a = NULL, *q = NULL, *j;
		int64_t v;
		char ts[32];

		if (outbox_get(t, 'a', node, user_id, &a) == -1 ||
		    outbox_get(t, 'q', node, user_id, &q) == -1 ||
		    (a == NULL && q == NULL)) {
			json_free(a);
			json_free(q);
			continue;
		}
		j = json_object();
		json_set_str(j, "node", node);
		json_set_str(j, "status", q == NULL ? "applied" :
		    json_str(json_get(q, "refused")) ? "refused" : "pending");
		json_set_str(j, "state", json_str(json_get(q ? q : a, "state")));
		if (q && json_str(json_get(q, "refused")))
			json_set_str(j, "error_code", json_str(json_get(q, "refused")));
		if (a && json_int(json_get(a, "version"), &v) == 0)
			json_set_int(j, "applied_version", v);
		else
			json_set_str(j, "applied_version", NULL);
		if (q && json_int(json_get(q, "version"), &v) == 0)
			json_set_int(j, "pending_version", v);
		json_set_str(j, "last_error", q ? json_str(json_get(q, "last_error")) : NULL);
		if (q && json_int(json_get(q, "last_attempt"), &v) == 0 && v > 0) {
			time_rfc3339(v, ts, sizeof(ts));
			json_set_str(j, "last_attempt", ts);
		}
		if (a && json_int(json_get(a, "at"), &v) == 0) {
			time_rfc3339(v, ts, sizeof(ts));
			json_set_str(j, "applied_at", ts);
		}
		json_push(items, j);
		json_free(a);
		json_free(q);
	}
	return items;
}

/* --- after a reload: only what the new config changed ------------------- */

/* c has a node of that name */
static int
outbox_conf_has_node(const struct conf *c, const char *node)
{
	for (size_t i = 0; i < c->nnodes; i++)
		if (strcmp(c->nodes[i].name, node) == 0)
			return 1;
	return 0;
}

/* a workspace of c on `node` (a node of c) names handle */
static int
outbox_conf_serves(const struct conf *c, const char *node, const char *handle)
{
	if (!outbox_conf_has_node(c, node))
		return 0;
	for (size_t i = 0; i < c->nworkspaces; i++)
		if (strcmp(c->workspaces[i].node, node) == 0 &&
		    workspace_names(&c->workspaces[i], handle))
			return 1;
	return 0;
}

/* handle is served by another set of n's nodes under n than under o */
static int
outbox_handle_moved(const struct conf *o, const struct conf *n, const char *handle)
{
	for (size_t i = 0; i < n->nnodes; i++)
		if (outbox_conf_serves(o, n->nodes[i].name, handle) !=
		    outbox_conf_serves(n, n->nodes[i].name, handle))
			return 1;
	return 0;
}

struct outbox_moved {
	char (*ids)[SECRET_ID_LEN + 1];
	size_t n;
};

/* the user handle means (for membership), once in m; 0 / -1 */
static int
outbox_moved_add(struct store_txn *t, struct outbox_moved *m, const char *handle)
{
	char id[SECRET_ID_LEN + 1];
	int rc = user_handle_member(t, handle, id);

	if (rc == STORE_NOTFOUND)
		return 0;             /* nobody holds it: nothing to push */
	if (rc == -1)
		return -1;
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->ids[i], id) == 0)
			return 0;
	m->ids = x_realloc(m->ids, (m->n + 1) * sizeof(*m->ids));
	memcpy(m->ids[m->n++], id, sizeof(id));
	return 0;
}

/* every handle a workspace of c names whose nodes moved from o to n */
static int
outbox_moved_conf(struct store_txn *t, const struct conf *c, const struct conf *o,
    const struct conf *n, struct outbox_moved *m)
{
	const char *h;

	for (size_t i = 0; i < c->nworkspaces; i++)
		for (size_t j = 0; (h = workspace_handle(&c->workspaces[i], j)) != NULL; j++)
			if (outbox_handle_moved(o, n, h) && outbox_moved_add(t, m, h) == -1)
				return -1;
	return 0;
}

/*
 * After a reload from o to n (n is app_conf() now). What a node must hold
 * of a user depends on the config only through which of its workspaces
 * name the user, so the users to recompute are those held by a handle that
 * is now served by another set of nodes (a workspace or member added or
 * removed, a workspace moved, a node added); a reload that changes none of
 * that (log level, limits, …) touches nothing. They are recomputed
 * OUTBOX_RESYNC_BATCH to a write txn, so a change waiting for the writer
 * waits for one batch at most, never for all of them.
 */
int
outbox_resync(const struct conf *o, const struct conf *n)
{
	struct outbox_moved m = { NULL, 0 };
	struct store_txn *t;
	size_t batches = 0;
	int rc = 0;

	if (store_txn_begin(app.store, 0, &t) == -1)
		return -1;
	if (outbox_moved_conf(t, o, o, n, &m) == -1 || outbox_moved_conf(t, n, o, n, &m) == -1)
		rc = -1;
	store_txn_abort(t);
	for (size_t i = 0; rc == 0 && i < m.n; i += OUTBOX_RESYNC_BATCH, batches++) {
		if (store_txn_begin(app.store, 1, &t) == -1) {
			rc = -1;
			break;
		}
		/* a user deleted since the read above is recomputed as absent */
		for (size_t j = i; rc == 0 && j < m.n && j < i + OUTBOX_RESYNC_BATCH; j++)
			rc = outbox_recompute_user(t, m.ids[j]);
		if (rc == 0)
			rc = store_txn_commit(t);
		else
			store_txn_abort(t);
		if (rc == 0)
			push_wake();
	}
	if (rc == 0)
		log_info("reload: workspace membership changed for %zu user(s); "
		    "recomputed in %zu batch(es)", m.n, batches);
	free(m.ids);
	return rc;
}

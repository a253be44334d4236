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
 * STORE_DB_META "outbox_synced": the workspace membership (canonical JSON,
 * outbox_members_json) the outbox was last fully synced against;
 * "outbox_syncing": the one a resync under way syncs to. See outbox_resync.
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


/* --- resync: what the outbox was last synced against ---------------------- */

/*
 * The membership a config describes: all a node's state of a user depends
 * on (which workspaces on which nodes name the user's handle). Canonical:
 * nodes sorted, members sorted and each once, workspaces sorted by handle,
 * owner, node; so two configs that differ only in order, or in settings
 * the outbox does not depend on, print the same JSON.
 */
struct outbox_ws {
	char *handle;
	char *owner;
	char *node;
	char **members;
	size_t nmembers;
};

struct outbox_members {
	char **nodes;
	size_t nnodes;
	struct outbox_ws *ws;
	size_t nws;
};

/* STORE_DB_META: the membership the outbox was last fully synced against
 * (absent in a store older than this record: every user is recomputed once),
 * and the one a resync under way is syncing it to */
#define OUTBOX_SYNCED "outbox_synced"
#define OUTBOX_SYNCING "outbox_syncing"

static int
outbox_strcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
outbox_ws_cmp(const void *a, const void *b)
{
	const struct outbox_ws *x = a, *y = b;
	int c;

	if ((c = strcmp(x->handle, y->handle)) != 0 || (c = strcmp(x->owner, y->owner)) != 0)
		return c;
	return strcmp(x->node, y->node);
}

/* sort v[0..*n) and drop repeats */
static void
outbox_strs_canon(char **v, size_t *n)
{
	size_t k = 0;

	if (*n == 0)
		return;
	qsort(v, *n, sizeof(*v), outbox_strcmp);
	for (size_t i = 1; i < *n; i++) {
		if (strcmp(v[i], v[k]) == 0)
			free(v[i]);
		else
			v[++k] = v[i];
	}
	*n = k + 1;
}

static void
outbox_members_canon(struct outbox_members *m)
{
	outbox_strs_canon(m->nodes, &m->nnodes);
	for (size_t i = 0; i < m->nws; i++)
		outbox_strs_canon(m->ws[i].members, &m->ws[i].nmembers);
	if (m->nws > 0)
		qsort(m->ws, m->nws, sizeof(*m->ws), outbox_ws_cmp);
}

void
outbox_members_free(struct outbox_members *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->nnodes; i++)
		free(m->nodes[i]);
	for (size_t i = 0; i < m->nws; i++) {
		free(m->ws[i].handle);
		free(m->ws[i].owner);
		free(m->ws[i].node);
		for (size_t j = 0; j < m->ws[i].nmembers; j++)
			free(m->ws[i].members[j]);
		free(m->ws[i].members);
	}
	free(m->nodes);
	free(m->ws);
	free(m);
}

struct outbox_members *
outbox_members_of(const struct conf *c)
{
	struct outbox_members *m = x_calloc(1, sizeof(*m));

	m->nodes = x_calloc(c->nnodes + 1, sizeof(*m->nodes));
	for (m->nnodes = 0; m->nnodes < c->nnodes; m->nnodes++)
		m->nodes[m->nnodes] = x_strdup(c->nodes[m->nnodes].name);
	m->ws = x_calloc(c->nworkspaces + 1, sizeof(*m->ws));
	for (m->nws = 0; m->nws < c->nworkspaces; m->nws++) {
		const struct conf_workspace *w = &c->workspaces[m->nws];
		struct outbox_ws *o = &m->ws[m->nws];

		o->handle = x_strdup(w->handle);
		o->owner = x_strdup(w->owner);
		o->node = x_strdup(w->node);
		o->members = x_calloc(w->nmembers + 1, sizeof(*o->members));
		for (o->nmembers = 0; o->nmembers < w->nmembers; o->nmembers++)
			o->members[o->nmembers] = x_strdup(w->members[o->nmembers]);
	}
	outbox_members_canon(m);
	return m;
}

/* a JSON array (json.c has no type test for one: it is what no other is) */
static int
outbox_json_is_array(const struct json *j)
{
	int64_t i;
	int b;

	return j != NULL && !json_is_object(j) && json_str(j) == NULL &&
	    json_int(j, &i) == -1 && json_bool(j, &b) == -1 && !json_is_null(j);
}

/* an array of strings: 0, or -1 (*v holds what was read, *n of them) */
static int
outbox_strs_parse(const struct json *a, char ***v, size_t *n)
{
	struct json *it = NULL;

	*v = x_calloc(1, sizeof(**v));
	*n = 0;
	if (!outbox_json_is_array(a))
		return -1;
	while ((it = json_item_next(a, it)) != NULL) {
		if (json_str(it) == NULL)
			return -1;
		*v = x_realloc(*v, (*n + 2) * sizeof(**v));
		(*v)[(*n)++] = x_strdup(json_str(it));
	}
	return 0;
}

/* the record outbox_members_json wrote: 0, or -1 (*out NULL) */
int
outbox_members_parse(const char *buf, size_t len, struct outbox_members **out)
{
	struct outbox_members *m = x_calloc(1, sizeof(*m));
	struct json *j = NULL, *ws, *it = NULL;
	char err[64];
	int64_t v = 0;

	*out = NULL;
	m->ws = x_calloc(1, sizeof(*m->ws));
	if (json_parse(buf, len, &j, err, sizeof(err)) == -1 ||
	    json_int(json_get(j, "v"), &v) == -1 || v != 1 ||
	    outbox_strs_parse(json_get(j, "nodes"), &m->nodes, &m->nnodes) == -1 ||
	    !outbox_json_is_array(ws = json_get(j, "workspaces")))
		goto fail;
	while ((it = json_item_next(ws, it)) != NULL) {
		struct outbox_ws *w;
		const char *h = json_str(json_get(it, "handle"));
		const char *o = json_str(json_get(it, "owner"));
		const char *n = json_str(json_get(it, "node"));

		if (h == NULL || o == NULL || n == NULL)
			goto fail;
		m->ws = x_realloc(m->ws, (m->nws + 1) * sizeof(*m->ws));
		w = &m->ws[m->nws++];
		memset(w, 0, sizeof(*w));
		w->handle = x_strdup(h);
		w->owner = x_strdup(o);
		w->node = x_strdup(n);
		if (outbox_strs_parse(json_get(it, "members"), &w->members, &w->nmembers) == -1)
			goto fail;
	}
	json_free(j);
	outbox_members_canon(m);
	*out = m;
	return 0;
fail:
	json_free(j);
	outbox_members_free(m);
	return -1;
}

static void
outbox_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static void
outbox_json_strs(FILE *f, char *const *v, size_t n)
{
	fputc('[', f);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			fputc(',', f);
		outbox_json_str(f, v[i]);
	}
	fputc(']', f);
}

char *
outbox_members_json(const struct outbox_members *m)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL)
		fatal("open_memstream");
	fputs("{\"v\":1,\"nodes\":", f);
	outbox_json_strs(f, m->nodes, m->nnodes);
	fputs(",\"workspaces\":[", f);
	for (size_t i = 0; i < m->nws; i++) {
		fputs(i ? ",{\"handle\":" : "{\"handle\":", f);
		outbox_json_str(f, m->ws[i].handle);
		fputs(",\"owner\":", f);
		outbox_json_str(f, m->ws[i].owner);
		fputs(",\"node\":", f);
		outbox_json_str(f, m->ws[i].node);
		fputs(",\"members\":", f);
		outbox_json_strs(f, m->ws[i].members, m->ws[i].nmembers);
		fputc('}', f);
	}
	fputs("]}", f);
	if (fclose(f) != 0)
		fatal("open_memstream");
	return buf;
}

static int
outbox_members_has_node(const struct outbox_members *m, const char *node)
{
	return m->nnodes > 0 && bsearch(&node, m->nodes, m->nnodes, sizeof(*m->nodes),
	    outbox_strcmp) != NULL;
}

/* a workspace of m on `node` (a node of m) names handle */
static int
outbox_members_serves(const struct outbox_members *m, const char *node, const char *handle)
{
	if (!outbox_members_has_node(m, node))
		return 0;
	for (size_t i = 0; i < m->nws; i++) {
		const struct outbox_ws *w = &m->ws[i];

		if (strcmp(w->node, node) == 0 && (strcmp(w->owner, handle) == 0 ||
		    (w->nmembers > 0 && bsearch(&handle, w->members, w->nmembers,
		    sizeof(*w->members), outbox_strcmp) != NULL)))
			return 1;
	}
	return 0;
}

/* handle is served by another set of n's nodes under n than under o */
static int
outbox_handle_moved(const struct outbox_members *o, const struct outbox_members *n,
    const char *handle)
{
	for (size_t i = 0; i < n->nnodes; i++)
		if (outbox_members_serves(o, n->nodes[i], handle) !=
		    outbox_members_serves(n, n->nodes[i], handle))
			return 1;
	return 0;
}

struct outbox_moved {
	char (*ids)[SECRET_ID_LEN + 1];
	size_t n;
};

static void
outbox_moved_push(struct outbox_moved *m, const char *id)
{
	if ((m->n & (m->n - 1)) == 0)     /* 0, 1, 2, 4, …: double */
		m->ids = x_realloc(m->ids, (m->n ? 2 * m->n : 1) * sizeof(*m->ids));
	memcpy(m->ids[m->n], id, SECRET_ID_LEN);
	m->ids[m->n++][SECRET_ID_LEN] = '\0';
}

/* the user handle means (for membership) into m; 0 / -1 */
static int
outbox_moved_add(struct store_txn *t, struct outbox_moved *m, const char *handle)
{
	char id[SECRET_ID_LEN + 1];
	int rc = user_handle_member(t, handle, id);

	if (rc == STORE_NOTFOUND)
		return 0;             /* nobody holds it: nothing to push */
	if (rc == -1)
		return -1;
	outbox_moved_push(m, id);
	return 0;
}

/* every handle a workspace of c names whose nodes moved from o to n */
static int
outbox_moved_of(struct store_txn *t, const struct outbox_members *c,
    const struct outbox_members *o, const struct outbox_members *n, struct outbox_moved *m)
{
	for (size_t i = 0; i < c->nws; i++) {
		const struct outbox_ws *w = &c->ws[i];

		for (size_t j = 0; j <= w->nmembers; j++) {
			const char *h = j == 0 ? w->owner : w->members[j - 1];

			if (outbox_handle_moved(o, n, h) && outbox_moved_add(t, m, h) == -1)
				return -1;
		}
	}
	return 0;
}

static int
outbox_user_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	char id[SECRET_ID_LEN + 1];

	(void)v;
	(void)vl;
	if (kl != SECRET_ID_LEN)
		return 0;
	memcpy(id, k, SECRET_ID_LEN);
	id[SECRET_ID_LEN] = '\0';
	outbox_moved_push(arg, id);
	return 0;
}

static int
outbox_id_cmp(const void *a, const void *b)
{
	return memcmp(a, b, SECRET_ID_LEN);
}

int
outbox_members_moved(struct store_txn *t, const struct outbox_members *o,
    const struct outbox_members *n, char (**ids)[SECRET_ID_LEN + 1], size_t *nids)
{
	struct outbox_moved m = { NULL, 0 };
	size_t k = 0;
	int rc;

	if (o == NULL)
		rc = store_iter(t, STORE_DB_USER, NULL, 0, 0, outbox_user_cb, &m) == -1 ? -1 : 0;
	else if ((rc = outbox_moved_of(t, o, o, n, &m)) == 0)
		rc = outbox_moved_of(t, n, o, n, &m);
	if (rc == -1) {
		free(m.ids);
		*ids = NULL;
		*nids = 0;
		return -1;
	}
	/* in key order, each once: a user named twice is recomputed once */
	if (m.n > 0) {
		qsort(m.ids, m.n, sizeof(*m.ids), outbox_id_cmp);
		for (size_t i = 1; i < m.n; i++)
			if (memcmp(m.ids[i], m.ids[k], SECRET_ID_LEN) != 0 && ++k != i)
				memcpy(m.ids[k], m.ids[i], sizeof(*m.ids));
		m.n = k + 1;
	}
	*ids = m.ids;
	*nids = m.n;
	return 0;
}

/* a META record as a string (caller frees): 0 / STORE_NOTFOUND / -1 */
static int
outbox_meta_str(struct store_txn *t, const char *key, char **out)
{
	void *v = NULL;
	size_t vl;
	int rc = store_get(t, STORE_DB_META, key, strlen(key), &v, &vl);

	*out = NULL;
	if (rc != 0)
		return rc;
	*out = x_realloc(v, vl + 1);
	(*out)[vl] = '\0';
	return 0;
}

/*
 * What the store says about syncing the outbox to the membership `want`
 * (canonical JSON). from: the membership to diff against, NULL for every
 * user: none recorded (a store from before this record), unreadable, or a
 * resync to another membership was cut off (its users may hold its states,
 * which no diff against the recorded one finds).
 */
struct outbox_plan {
	int same;                  /* recorded == want, none under way: nothing to do */
	int have_synced;           /* a membership is recorded */
	int syncing;               /* a resync is under way (was cut off) */
	int syncing_other;         /* … to another membership than want */
	struct outbox_members *from;
};

static int
outbox_plan_read(struct store_txn *t, const char *want, struct outbox_plan *p)
{
	char *synced = NULL, *syncing = NULL;
	int rs = outbox_meta_str(t, OUTBOX_SYNCED, &synced);
	int rp = outbox_meta_str(t, OUTBOX_SYNCING, &syncing);

	memset(p, 0, sizeof(*p));
	if (rs == -1 || rp == -1) {
		free(synced);
		free(syncing);
		return -1;
	}
	p->have_synced = rs == 0;
	p->syncing = rp == 0;
	p->syncing_other = rp == 0 && strcmp(syncing, want) != 0;
	p->same = rs == 0 && rp == STORE_NOTFOUND && strcmp(synced, want) == 0;
	if (rs == 0 && !p->syncing_other &&
	    outbox_members_parse(synced, strlen(synced), &p->from) == -1)
		log_warnx("outbox: the recorded workspace membership is unreadable");
	free(synced);
	free(syncing);
	return 0;
}

/*
 * In t: a resync to want has begun. A resync to another membership that was
 * cut off leaves users in its states, so the recorded membership goes (the
 * next resync, and one after a crash, recomputes every user).
 */
static int
outbox_plan_begin(struct store_txn *t, const struct outbox_plan *p, const char *want)
{
	if (p->syncing_other && p->have_synced &&
	    store_del(t, STORE_DB_META, OUTBOX_SYNCED, strlen(OUTBOX_SYNCED)) == -1)
		return -1;
	if (p->syncing && !p->syncing_other)
		return 0;
	return store_put(t, STORE_DB_META, OUTBOX_SYNCING, strlen(OUTBOX_SYNCING),
	    want, strlen(want));
}

/* in t: the outbox is synced with want */
static int
outbox_plan_end(struct store_txn *t, const char *want)
{
	if (store_put(t, STORE_DB_META, OUTBOX_SYNCED, strlen(OUTBOX_SYNCED), want,
	    strlen(want)) == -1)
		return -1;
	return store_del(t, STORE_DB_META, OUTBOX_SYNCING, strlen(OUTBOX_SYNCING)) == -1 ? -1 : 0;
}

int
outbox_resync_intent(const struct conf *n)
{
	struct outbox_members *m = outbox_members_of(n);
	char *want = outbox_members_json(m);
	struct outbox_plan p;
	struct store_txn *t;
	int rc = -1;

	outbox_members_free(m);
	if (store_txn_begin(app.store, 1, &t) == -1)
		goto out;
	if (outbox_plan_read(t, want, &p) == -1) {
		store_txn_abort(t);
		goto out;
	}
	outbox_members_free(p.from);
	if (p.same || (p.syncing && !p.syncing_other)) {
		store_txn_abort(t);      /* nothing to record */
		rc = 0;
	} else if (outbox_plan_begin(t, &p, want) == -1) {
		store_txn_abort(t);
	} else {
		rc = store_txn_commit(t);
	}
out:
	free(want);
	return rc;
}

/*
 * The outbox after a start or a reload (why: "start", "reload"): the users
 * whose serving nodes differ between the membership the outbox was last
 * synced against (STORE_DB_META) and the running config's. What a node must
 * hold of a user depends on the config only through which of its
 * workspaces name the user, so a config that changes none of that (log
 * level, limits, …) touches nothing. They are recomputed
 * OUTBOX_RESYNC_BATCH to a write txn, so a change waiting for the writer
 * waits for one batch at most, never for all of them; the last batch
 * records the new membership, so a resync cut off (kill -9, power cut)
 * leaves the old one recorded and is done again at the next start.
 */
int
outbox_resync(const char *why, int (*stop)(void))
{
	const struct conf *c = app_conf();
	struct outbox_members *n = outbox_members_of(c);
	char *want = outbox_members_json(n);
	char (*ids)[SECRET_ID_LEN + 1] = NULL;
	size_t nids = 0, nb, b = 0;
	struct outbox_plan p;
	struct store_txn *t;
	int rc = -1;

	memset(&p, 0, sizeof(p));
	if (store_txn_begin(app.store, 0, &t) == -1)
		goto out;
	if (outbox_plan_read(t, want, &p) == -1) {
		store_txn_abort(t);
		goto out;
	}
	if (p.same) {
		store_txn_abort(t);
		rc = 0;
		goto done;
	}
	if (p.from == NULL)
		log_info("%s: no complete record of the workspace membership the outbox "
		    "was synced with: recomputing every user once", why);
	/* without a node nothing is pushed: only the record is written */
	rc = c->nnodes == 0 ? 0 : outbox_members_moved(t, p.from, n, &ids, &nids);
	store_txn_abort(t);
	if (rc == -1)
		goto out;
	nb = nids == 0 ? 1 : (nids + OUTBOX_RESYNC_BATCH - 1) / OUTBOX_RESYNC_BATCH;
	for (; rc == 0 && b < nb; b++) {
		size_t from = b * OUTBOX_RESYNC_BATCH;

		if (b > 0 && stop != NULL && stop()) {
			log_info("%s: workspace resync stopped after %zu of %zu batch(es); "
			    "the next start goes on", why, b, nb);
			rc = 1;
			break;
		}
		/* the imported users' SCRAM verifiers, before the batch's write txn */
		if (nids > 0 && dbpass_verifiers_prepare(ids + from,
		    nids - from < OUTBOX_RESYNC_BATCH ? nids - from : OUTBOX_RESYNC_BATCH) == -1)
			log_warnx("%s: verifiers not computed ahead; the batch computes them", why);
		if (store_txn_begin(app.store, 1, &t) == -1) {
			rc = -1;
			break;
		}
		if (b == 0 && nb > 1)
			rc = outbox_plan_begin(t, &p, want);
		/* a user deleted since the read above is recomputed as absent */
		for (size_t j = from; rc == 0 && j < nids && j < from + OUTBOX_RESYNC_BATCH; j++)
			rc = outbox_recompute_user(t, ids[j]);
		if (rc == 0 && b == nb - 1)
			rc = outbox_plan_end(t, want);
		if (rc == 0)
			rc = store_txn_commit(t);
		else
			store_txn_abort(t);
		if (rc == 0) {
			push_wake();
			log_debug("%s: workspace resync batch %zu of %zu committed", why,
			    b + 1, nb);
		}
	}
done:
	if (rc == 0)
		log_info("%s: workspace membership changed for %zu user(s); "
		    "recomputed in %zu batch(es)", why, nids, b);
out:
	outbox_members_free(p.from);
	outbox_members_free(n);
	free(ids);
	free(want);
	return rc;
}

/*
 * Push: one thread per configured node delivers that node's outbox entries
 * (outbox.c) to its acctd-agent with tls_post(). Nodes are independent, so a
 * dead node delays nobody else; a handler only queues work in its own
 * transaction and calls push_wake(). Failures back off exponentially from
 * 1 s up to push.retry_max_seconds, with ±25 % jitter so nodes that come
 * back together are not hit in lockstep. Delivery is idempotent by version:
 * an entry is removed only if it still holds the version the node confirmed.
 *
 * The agent's answer (docs/agent.md "Answer") is parsed as JSON:
 *   200 with applied_version == the version sent    applied
 *   409 with applied_version past it, or code        the node holds a newer
 *       "version_reused"                             version (acctd's store
 *                                                    was restored): re-sent
 *                                                    with a version past it
 *   422 code "role_not_managed" / "role_privileged"  refused for good: kept
 *                                                    and shown, not retried;
 *                                                    a newer state is tried
 *   anything else                                    retried with backoff
 * Only the first counts as delivered.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acctd.h"

#define PUSH_BATCH 16

struct push_node {
	pthread_t thread;
	int started;
	char name[64];
	/* for /admin/nodes and /metrics, under push_mtx */
	int64_t last_attempt;
	int64_t last_success;
	char last_error[200];
	uint64_t delivered;
	uint64_t failures;
	size_t pending;            /* waiting for delivery */
	size_t refused;            /* refused for good by the node */
	char last_refusal[200];
};

static pthread_mutex_t push_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t push_cond = PTHREAD_COND_INITIALIZER;
static struct push_node *push_nodes;
static size_t push_nnodes;
/* written under push_mtx; also read without it between deliveries */
static atomic_int push_stopping;
static uint64_t push_generation;

void
push_wake(void)
{
	pthread_mutex_lock(&push_mtx);
	push_generation++;
	pthread_cond_broadcast(&push_cond);
	pthread_mutex_unlock(&push_mtx);
}

struct push_due {
	char user_id[SECRET_ID_LEN + 1];
	char state[16];            /* present, disabled, absent */
	char *body;
	int64_t version;
	int64_t attempts;
};

struct push_scan {
	const char *node;
	size_t plen;
	char prefix[80];
	int64_t now;
	int64_t next_at;           /* earliest future attempt */
	size_t pending;
	size_t refused;
	char last_refusal[200];
	struct push_due due[PUSH_BATCH];
	size_t ndue;
};

static int
push_scan_cb(void *arg, const void *k, size_t kl, const void *v, size_t vl)
{
	struct push_scan *s = arg;
	struct json *j, *b;
	int64_t next = 0, ver = 0, att = 0;
	char err[64];
	const char *st;

	if (kl <= s->plen || memcmp(k, s->prefix, s->plen) != 0)
		return 1;
	if (kl - s->plen != SECRET_ID_LEN || json_parse(v, vl, &j, err, sizeof(err)) == -1)
		return 0;
	if (json_str(json_get(j, "refused")) != NULL) {
		/* refused for good: shown, not retried until replaced */
		s->refused++;
		snprintf(s->last_refusal, sizeof(s->last_refusal), "%s",
		    json_str(json_get(j, "last_error")) ?
		    json_str(json_get(j, "last_error")) : "refused");
		json_free(j);
		return 0;
	}
	s->pending++;
	json_int(json_get(j, "next_at"), &next);
	json_int(json_get(j, "version"), &ver);
	json_int(json_get(j, "attempts"), &att);
	if (next > s->now) {
		if (s->next_at == 0 || next < s->next_at)
			s->next_at = next;
	} else if (s->ndue < PUSH_BATCH) {
		struct push_due *d = &s->due[s->ndue++];

		memcpy(d->user_id, (const char *)k + s->plen, SECRET_ID_LEN);
		d->user_id[SECRET_ID_LEN] = '\0';
		d->version = ver;
		d->attempts = att;
		b = json_object();
		json_set_str(b, "user_id", d->user_id);
		json_set_int(b, "version", ver);
		st = json_str(json_get(j, "state"));
		if (st == NULL || (strcmp(st, "present") != 0 &&
		    strcmp(st, "disabled") != 0))
			st = "absent";
		snprintf(d->state, sizeof(d->state), "%s", st);
		json_set_str(b, "state", st);
		if (strcmp(st, "present") == 0) {
			json_set_str(b, "role", json_str(json_get(j, "role")));
			json_set_str(b, "verifier", json_str(json_get(j, "verifier")));
		}
		d->body = json_print(b);
		json_free(b);
	} else if (s->next_at == 0 || s->now < s->next_at) {
		s->next_at = s->now;     /* more due than one batch: come back now */
	}
	json_free(j);
	return 0;
}

static int64_t
push_backoff(int64_t attempts, int max)
{
	int64_t d = 1;
	uint8_t r;

	for (int64_t i = 1; i < attempts && d < max; i++)
		d *= 2;
	if (d > max)
		d = max;
	if (crypto_random(&r, 1) == 0 && d >= 4)
		d += (d / 4) * ((int64_t)r - 128) / 128;   /* ±25 % */
	return d < 1 ? 1 : d;
}

enum push_outcome {
	PUSH_APPLIED,              /* the node holds this version */
	PUSH_RETRY,                /* failed: back off and send it again */
	PUSH_REFUSED,              /* refused for good (code) */
	PUSH_AHEAD                 /* the node holds a newer version: re-version */
};

/* record the outcome in the outbox, if the entry still holds `version` */
static void
push_record(const char *node, const struct push_due *d, enum push_outcome o,
    const char *error, const char *code, int64_t confirmed)
{
	const struct conf *c = app_conf();
	struct store_txn *t;
	struct json *q = NULL, *a;
	char key[96], errbuf[64];
	void *v = NULL;
	size_t vl;
	int64_t cur = -1, now = app_now(), nv = 0;
	int rc = 0;

	if (store_txn_begin(app.store, 1, &t) == -1)
		return;
	snprintf(key, sizeof(key), "q/%s/%s", node, d->user_id);
	if (store_get(t, STORE_DB_OUTBOX, key, strlen(key), &v, &vl) == 0 &&
	    json_parse(v, vl, &q, errbuf, sizeof(errbuf)) == 0)
		json_int(json_get(q, "version"), &cur);
	free(v);
	if (o == PUSH_APPLIED) {
		a = json_object();
		json_set_int(a, "version", confirmed);
		json_set_str(a, "state", d->state);
		json_set_int(a, "at", now);
		rc = outbox_put_json(t, 'a', node, d->user_id, a);
		if (rc == 0 && cur == d->version)
			rc = outbox_del(t, 'q', node, d->user_id);
		json_free(a);
	} else if (o == PUSH_AHEAD) {
		rc = outbox_requeue_past(t, node, d->user_id, d->version,
		    confirmed, &nv);
	} else if (q != NULL && cur == d->version) {
		json_set_int(q, "attempts", d->attempts + 1);
		json_set_int(q, "last_attempt", now);
		json_set_str(q, "last_error", error);
		if (o == PUSH_REFUSED)
			json_set_str(q, "refused", code);
		else
			json_set_int(q, "next_at", now + push_backoff(d->attempts + 1,
			    c->push_retry_max_seconds));
		rc = outbox_put_json(t, 'q', node, d->user_id, q);
	}
	json_free(q);
	if (rc == -1) {
		store_txn_abort(t);
		return;
	}
	if (store_txn_commit(t) == 0 && nv > 0)
		log_warnx("push: %s: %s: the node holds version %lld, newer "
		    "than %lld (was acctd's store restored?): sending the "
		    "current state as version %lld", node, d->user_id,
		    (long long)confirmed, (long long)d->version, (long long)nv);
}

/* what the agent's answer means (see the top of this file) */
static enum push_outcome
push_answer(int status, const char *resp, const struct push_due *d,
    int64_t *applied, char *err, size_t errlen, char *code, size_t codelen)
{
	struct json *j = NULL;
	const char *e = NULL, *cd = NULL;
	char perr[64];
	enum push_outcome o = PUSH_RETRY;

	*applied = 0;
	code[0] = '\0';
	if (json_parse(resp, strlen(resp), &j, perr, sizeof(perr)) == 0 &&
	    json_is_object(j)) {
		if (json_int(json_get(j, "applied_version"), applied) == -1)
			*applied = 0;
		e = json_str(json_get(j, "error"));
		cd = json_str(json_get(j, "code"));
	}
	if (status == 200 && *applied == d->version)
		o = PUSH_APPLIED;
	else if (status == 409 && (*applied > d->version || (cd != NULL &&
	    strcmp(cd, "version_reused") == 0 && *applied == d->version)))
		o = PUSH_AHEAD;
	else if (status == 422 && cd != NULL &&
	    (strcmp(cd, "role_not_managed") == 0 ||
	    strcmp(cd, "role_privileged") == 0)) {
		o = PUSH_REFUSED;
		snprintf(code, codelen, "%s", cd);
	}
	if (o == PUSH_REFUSED && e != NULL)
		snprintf(err, errlen, "%s", e);
	else if (o != PUSH_APPLIED)
		snprintf(err, errlen, "agent answered %d%s%s", status,
		    e ? ": " : "", e ? e : "");
	json_free(j);
	return o;
}

static void
push_deliver(struct push_node *pn, struct push_due *d)
{
	const struct conf *c = app_conf();
	const struct conf_node *cn = NULL;
	char resp[2048], err[200] = "", code[32] = "";
	enum push_outcome o = PUSH_RETRY;
	int status = 0;
	int64_t applied = 0;

	for (size_t i = 0; i < c->nnodes; i++)
		if (strcmp(c->nodes[i].name, pn->name) == 0)
			cn = &c->nodes[i];
	if (cn == NULL) {
		snprintf(err, sizeof(err), "node %s is no longer configured", pn->name);
	} else if (c->push_client_cert[0] == '\0') {
		snprintf(err, sizeof(err), "push.client_cert and push.client_key are not set");
	} else if (tls_post(cn->url, cn->cert, c->push_client_cert, c->push_client_key,
	    "/v1/state", d->body, &status, resp, sizeof(resp), err, sizeof(err)) == 0) {
		o = push_answer(status, resp, d, &applied, err, sizeof(err),
		    code, sizeof(code));
	}
	push_record(pn->name, d, o, err, code, applied);
	pthread_mutex_lock(&push_mtx);
	pn->last_attempt = app_now();
	if (o == PUSH_APPLIED) {
		pn->last_success = pn->last_attempt;
		pn->last_error[0] = '\0';
		pn->delivered++;
	} else if (o == PUSH_RETRY) {
		snprintf(pn->last_error, sizeof(pn->last_error), "%s", err);
		pn->failures++;
	} else if (o == PUSH_REFUSED) {
		/* reachable and answering: not failing, but shown as refused */
		snprintf(pn->last_refusal, sizeof(pn->last_refusal), "%s", err);
		pn->last_error[0] = '\0';
	}
	pthread_mutex_unlock(&push_mtx);
	if (o == PUSH_APPLIED)
		log_debug("push: %s: %s version %lld applied", pn->name, d->user_id,
		    (long long)d->version);
	else if (o != PUSH_AHEAD)
		log_warnx("push: %s: %s version %lld: %s%s", pn->name, d->user_id,
		    (long long)d->version, o == PUSH_REFUSED ? "refused: " : "",
		    err);
}

static void *
push_thread(void *arg)
{
	struct push_node *pn = arg;

	for (;;) {
		struct push_scan s;
		struct store_txn *t;
		uint64_t gen;
		int64_t wait;

		pthread_mutex_lock(&push_mtx);
		gen = push_generation;
		if (push_stopping) {
			pthread_mutex_unlock(&push_mtx);
			break;
		}
		pthread_mutex_unlock(&push_mtx);

		memset(&s, 0, sizeof(s));
		s.node = pn->name;
		s.now = app_now();
		s.plen = (size_t)snprintf(s.prefix, sizeof(s.prefix), "q/%s/", pn->name);
		if (store_txn_begin(app.store, 0, &t) == 0) {
			store_iter(t, STORE_DB_OUTBOX, s.prefix, s.plen, 0, push_scan_cb, &s);
			store_txn_abort(t);
		}
		pthread_mutex_lock(&push_mtx);
		pn->pending = s.pending;
		pn->refused = s.refused;
		if (s.refused > 0)
			snprintf(pn->last_refusal, sizeof(pn->last_refusal), "%s",
			    s.last_refusal);
		pthread_mutex_unlock(&push_mtx);
		for (size_t i = 0; i < s.ndue; i++) {
			if (!push_stopping)
				push_deliver(pn, &s.due[i]);
			crypto_wipe(s.due[i].body, strlen(s.due[i].body));
			free(s.due[i].body);
		}
		if (s.ndue > 0)
			continue;        /* rescan: more may be due */

		/* sleep until woken, the next retry, or 30 s */
		wait = s.next_at ? s.next_at - app_now() : 30;
		if (wait < 1)
			wait = 1;
		if (wait > 30)
			wait = 30;
		pthread_mutex_lock(&push_mtx);
		if (!push_stopping && push_generation == gen) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += wait;
			pthread_cond_timedwait(&push_cond, &push_mtx, &ts);
		}
		pthread_mutex_unlock(&push_mtx);
	}
	return NULL;
}

int
push_start(void)
{
	const struct conf *c = app_conf();

	push_nnodes = c->nnodes;
	push_nodes = x_calloc(push_nnodes ? push_nnodes : 1, sizeof(*push_nodes));
	for (size_t i = 0; i < push_nnodes; i++) {
		snprintf(push_nodes[i].name, sizeof(push_nodes[i].name), "%s", c->nodes[i].name);
		if (pthread_create(&push_nodes[i].thread, NULL, push_thread, &push_nodes[i]) != 0)
			return -1;
		push_nodes[i].started = 1;
	}
	if (push_nnodes > 0 && c->push_client_cert[0] == '\0')
		log_warnx("push: nodes are configured but push.client_cert is not: nothing will be delivered");
	return 0;
}

void
push_stop(void)
{
	pthread_mutex_lock(&push_mtx);
	push_stopping = 1;
	pthread_cond_broadcast(&push_cond);
	pthread_mutex_unlock(&push_mtx);
	for (size_t i = 0; i < push_nnodes; i++)
		if (push_nodes[i].started)
			pthread_join(push_nodes[i].thread, NULL);
	free(push_nodes);
	push_nodes = NULL;
	push_nnodes = 0;
}

struct json *
push_nodes_json(void)
{
	const struct conf *c = app_conf();
	struct json *items = json_array();
	char ts[32];

	pthread_mutex_lock(&push_mtx);
	for (size_t i = 0; i < push_nnodes; i++) {
		struct push_node *pn = &push_nodes[i];
		struct json *j = json_object();

		json_set_str(j, "name", pn->name);
		for (size_t n = 0; n < c->nnodes; n++)
			if (strcmp(c->nodes[n].name, pn->name) == 0)
				json_set_str(j, "url", c->nodes[n].url);
		json_set_int(j, "pending", (int64_t)pn->pending);
		json_set_int(j, "refused", (int64_t)pn->refused);
		json_set_str(j, "status", pn->last_error[0] ? "failing" :
		    pn->pending ? "pending" : pn->refused ? "refused" : "ok");
		json_set_str(j, "last_error", pn->last_error[0] ? pn->last_error :
		    pn->refused ? pn->last_refusal : NULL);
		if (pn->last_attempt) {
			time_rfc3339(pn->last_attempt, ts, sizeof(ts));
			json_set_str(j, "last_attempt", ts);
		} else {
			json_set_str(j, "last_attempt", NULL);
		}
		if (pn->last_success) {
			time_rfc3339(pn->last_success, ts, sizeof(ts));
			json_set_str(j, "last_success", ts);
		} else {
			json_set_str(j, "last_success", NULL);
		}
		json_set_int(j, "delivered", (int64_t)pn->delivered);
		json_set_int(j, "failures", (int64_t)pn->failures);
		json_push(items, j);
	}
	pthread_mutex_unlock(&push_mtx);
	return items;
}

void
push_metrics(FILE *f)
{
	pthread_mutex_lock(&push_mtx);
	fprintf(f, "# HELP acctd_push_pending Credential states waiting for a node.\n"
	    "# TYPE acctd_push_pending gauge\n");
	for (size_t i = 0; i < push_nnodes; i++)
		fprintf(f, "acctd_push_pending{node=\"%s\"} %zu\n", push_nodes[i].name,
		    push_nodes[i].pending);
	fprintf(f, "# HELP acctd_push_refused States a node refused for good "
	    "(a role acctd does not manage).\n"
	    "# TYPE acctd_push_refused gauge\n");
	for (size_t i = 0; i < push_nnodes; i++)
		fprintf(f, "acctd_push_refused{node=\"%s\"} %zu\n", push_nodes[i].name,
		    push_nodes[i].refused);
	fprintf(f, "# HELP acctd_push_delivered_total States a node confirmed.\n"
	    "# TYPE acctd_push_delivered_total counter\n");
	for (size_t i = 0; i < push_nnodes; i++)
		fprintf(f, "acctd_push_delivered_total{node=\"%s\"} %llu\n", push_nodes[i].name,
		    (unsigned long long)push_nodes[i].delivered);
	fprintf(f, "# HELP acctd_push_failures_total Failed deliveries.\n"
	    "# TYPE acctd_push_failures_total counter\n");
	for (size_t i = 0; i < push_nnodes; i++)
		fprintf(f, "acctd_push_failures_total{node=\"%s\"} %llu\n", push_nodes[i].name,
		    (unsigned long long)push_nodes[i].failures);
	pthread_mutex_unlock(&push_mtx);
}

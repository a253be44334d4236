/*
 * Push: one thread per configured node delivers that node's outbox entries
 * (outbox.c) to its acctd-agent with tls_post(). Nodes are independent, so a
 * dead node delays nobody else; a handler only queues work in its own
 * transaction and calls push_wake(). Failures back off exponentially from
 * 1 s up to push.retry_max_seconds, with ±25 % jitter so nodes that come
 * back together are not hit in lockstep. Delivery is idempotent by version:
 * an entry is removed only if it still holds the version the node confirmed.
 */
#include <pthread.h>
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
	size_t pending;
};

static pthread_mutex_t push_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t push_cond = PTHREAD_COND_INITIALIZER;
static struct push_node *push_nodes;
static size_t push_nnodes;
static int push_stopping;
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
	s->pending++;
	if (kl - s->plen != SECRET_ID_LEN || json_parse(v, vl, &j, err, sizeof(err)) == -1)
		return 0;
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
		json_set_str(b, "state", st ? st : "absent");
		if (st && strcmp(st, "present") == 0) {
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

/* record the outcome in the outbox, if the entry still holds `version` */
static void
push_record(const char *node, const struct push_due *d, int ok, const char *error,
    int64_t confirmed, const char *state)
{
	const struct conf *c = app_conf();
	struct store_txn *t;
	struct json *q = NULL, *a;
	char key[96], errbuf[64];
	void *v = NULL;
	size_t vl;
	int64_t cur = -1, now = app_now();

	if (store_txn_begin(app.store, 1, &t) == -1)
		return;
	snprintf(key, sizeof(key), "q/%s/%s", node, d->user_id);
	if (store_get(t, STORE_DB_OUTBOX, key, strlen(key), &v, &vl) == 0 &&
	    json_parse(v, vl, &q, errbuf, sizeof(errbuf)) == 0)
		json_int(json_get(q, "version"), &cur);
	free(v);
	if (ok) {
		a = json_object();
		json_set_int(a, "version", confirmed);
		json_set_str(a, "state", state);
		json_set_int(a, "at", now);
		if (outbox_put_json(t, 'a', node, d->user_id, a) == -1 ||
		    (cur == d->version && outbox_del(t, 'q', node, d->user_id) == -1)) {
			json_free(a);
			json_free(q);
			store_txn_abort(t);
			return;
		}
		json_free(a);
	} else if (q != NULL && cur == d->version) {
		json_set_int(q, "attempts", d->attempts + 1);
		json_set_int(q, "last_attempt", now);
		json_set_int(q, "next_at", now + push_backoff(d->attempts + 1, c->push_retry_max_seconds));
		json_set_str(q, "last_error", error);
		if (outbox_put_json(t, 'q', node, d->user_id, q) == -1) {
			json_free(q);
			store_txn_abort(t);
			return;
		}
	}
	json_free(q);
	store_txn_commit(t);
}

static void
push_deliver(struct push_node *pn, struct push_due *d)
{
	const struct conf *c = app_conf();
	const struct conf_node *cn = NULL;
	char resp[2048], err[200] = "", state[16] = "";
	struct json *j = NULL;
	int status = 0, ok = 0;
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
		char perr[64];

		if (json_parse(resp, strlen(resp), &j, perr, sizeof(perr)) == 0)
			json_int(json_get(j, "applied_version"), &applied);
		/* 200: applied now or before; 409: the node holds a newer state */
		if ((status == 200 || status == 409) && applied >= d->version) {
			ok = 1;
		} else {
			const char *e = json_str(json_get(j, "error"));

			snprintf(err, sizeof(err), "agent answered %d%s%s", status,
			    e ? ": " : "", e ? e : "");
		}
	}
	snprintf(state, sizeof(state), "%s", strstr(d->body, "\"state\":\"present\"") ? "present" : "absent");
	json_free(j);
	push_record(pn->name, d, ok, err, applied, state);
	pthread_mutex_lock(&push_mtx);
	pn->last_attempt = app_now();
	if (ok) {
		pn->last_success = pn->last_attempt;
		pn->last_error[0] = '\0';
		pn->delivered++;
	} else {
		snprintf(pn->last_error, sizeof(pn->last_error), "%s", err);
		pn->failures++;
	}
	pthread_mutex_unlock(&push_mtx);
	if (ok)
		log_debug("push: %s: %s version %lld applied", pn->name, d->user_id,
		    (long long)d->version);
	else
		log_warnx("push: %s: %s version %lld: %s", pn->name, d->user_id,
		    (long long)d->version, err);
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
		json_set_str(j, "status", pn->last_error[0] ? "failing" : pn->pending ? "pending" : "ok");
		json_set_str(j, "last_error", pn->last_error[0] ? pn->last_error : NULL);
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

/*
 * Push: one thread per configured node delivers what that node's outbox
 * holds for it (outbox_due) to its acctd-agent with push_tls_post(), and reports
 * each outcome back (outbox_confirm / _retry / _refuse / _requeue_past): the
 * outbox's keys and records are outbox.c's alone, the messages on the wire
 * pushmsg.c's. Nodes are independent, so a
 * dead node delays nobody else; a handler only queues work in its own
 * transaction and calls push_wake(). Failures back off exponentially from
 * 1 s up to push.retry_max_seconds, with ±25 % jitter so nodes that come
 * back together are not hit in lockstep. A failure backs off the node as
 * well as the entry: the round stops there, and until the node's backoff
 * is over nothing else is sent to it; then one due entry goes first, as a
 * probe. A node that is down costs one attempt (and one write of its
 * outcome) per backoff, not one per queued state: 100 k queued states to
 * a dead node were 100 k synced commits every round, each one queuing
 * the users' own changes behind it. Delivery is idempotent by version:
 * an entry is removed only if it still holds the version the node confirmed.
 *
 * The agent's answer (docs/agent.md "Answer", pushmsg_answer_decode):
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
 *
 * The log follows the node, not each delivery: one warning when a node
 * starts failing (with the error), one line when it delivers again (how
 * many attempts failed meanwhile, how many states are queued); the
 * failures in between are debug lines. A node that is down for a day while
 * users rotate their passwords writes two lines, not one per user per retry.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acctd.h"

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
	/* the push thread's own: the node's state for the log */
	int down;
	uint64_t down_attempts;    /* failed since it went down */
	int64_t down_until;        /* nothing sent to it before (push_mono()) */
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

/* settle e in the outbox by the outcome (logged when re-versioned) */
static void
push_record(const char *node, const struct outbox_entry *e, enum push_outcome o,
    const char *error, enum pushmsg_code code, int64_t confirmed)
{
	int64_t nv = 0;

	if (o == PUSH_APPLIED)
		outbox_confirm(node, e);
	else if (o == PUSH_REFUSED)
		outbox_refuse(node, e, code, error);
	else if (o == PUSH_RETRY)
		outbox_retry(node, e, error, push_backoff(e->attempts + 1,
		    app_conf()->push_retry_max_seconds));
	else if (outbox_requeue_past(node, e, confirmed, &nv) == 0 && nv > 0)
		log_warnx("push: %s: %s: the node holds version %lld, newer "
		    "than %lld (was acctd's store restored?): sending the "
		    "current state as version %lld", node, e->msg.user_id,
		    (long long)confirmed, (long long)e->msg.version, (long long)nv);
}

/* what the agent's answer means (see the top of this file) */
static enum push_outcome
push_answer(int status, const char *resp, const struct pushmsg *m,
    struct pushmsg_answer *a, char *err, size_t errlen)
{
	enum push_outcome o = PUSH_RETRY;
	int n = 0;

	pushmsg_answer_decode(resp, strlen(resp), a);   /* -1: a says nothing */
	if (status == 200 && a->applied_version == m->version)
		o = PUSH_APPLIED;
	else if (status == 409 && (a->applied_version > m->version ||
	    (a->code == PUSHMSG_CODE_VERSION_REUSED &&
	    a->applied_version == m->version)))
		o = PUSH_AHEAD;
	else if (status == 422 && (a->code == PUSHMSG_CODE_ROLE_NOT_MANAGED ||
	    a->code == PUSHMSG_CODE_ROLE_PRIVILEGED))
		o = PUSH_REFUSED;
	/* a reason longer than err is cut (n says by how much) */
	if (o == PUSH_REFUSED && a->error[0] != '\0')
		n = snprintf(err, errlen, "%s", a->error);
	else if (o != PUSH_APPLIED)
		n = snprintf(err, errlen, "agent answered %d%s%s", status,
		    a->error[0] ? ": " : "", a->error);
	if (n >= (int)errlen)
		log_debug("push: the agent's reason was cut to %zu bytes", errlen - 1);
	return o;
}

/* send e to the node; the outcome, with the answer in *a */
static enum push_outcome
push_send(const char *node, const struct outbox_entry *e,
    struct pushmsg_answer *a, char *err, size_t errlen)
{
	const struct conf *c = app_conf();
	const struct conf_node *cn = NULL;
	enum push_outcome o = PUSH_RETRY;
	char resp[2048], *body;
	int status = 0;

	for (size_t i = 0; i < c->nnodes; i++)
		if (strcmp(c->nodes[i].name, node) == 0)
			cn = &c->nodes[i];
	if (cn == NULL) {
		snprintf(err, errlen, "node %s is no longer configured", node);
		return o;
	}
	body = pushmsg_encode(&e->msg);
	if (push_tls_post(node, cn->url, "/v1/state", body, &status, resp,
	    sizeof(resp), err, errlen) == 0)
		o = push_answer(status, resp, &e->msg, a, err, errlen);
	crypto_wipe(body, strlen(body));
	free(body);
	return o;
}

/* one delivery's outcome in the log: a line per change of the node's
 * state, the rest at debug level */
static void
push_log(struct push_node *pn, const struct outbox_entry *e,
    enum push_outcome o, const char *err)
{
	size_t pending;

	if (o == PUSH_RETRY && !pn->down)
		log_warnx("push: node %s failing: %s (%s version %lld; retried "
		    "with backoff, one line when it delivers again)", pn->name,
		    err, e->msg.user_id, (long long)e->msg.version);
	else if (o == PUSH_RETRY)
		log_debug("push: %s: %s version %lld: %s", pn->name,
		    e->msg.user_id, (long long)e->msg.version, err);
	if (o == PUSH_RETRY) {
		pn->down = 1;
		pn->down_attempts++;
		return;
	}
	if (pn->down) {
		pthread_mutex_lock(&push_mtx);
		pending = pn->pending;
		pthread_mutex_unlock(&push_mtx);
		log_notice("push: node %s reachable again after %llu failed "
		    "attempt(s), %zu push(es) queued", pn->name,
		    (unsigned long long)pn->down_attempts, pending);
		pn->down = 0;
		pn->down_attempts = 0;
	}
	if (o == PUSH_APPLIED)
		log_debug("push: %s: %s version %lld applied", pn->name,
		    e->msg.user_id, (long long)e->msg.version);
	else if (o == PUSH_REFUSED)
		log_warnx("push: %s: %s version %lld: refused: %s", pn->name,
		    e->msg.user_id, (long long)e->msg.version, err);
}

/* seconds on the monotonic clock: a node's backoff does not follow a
 * step of the wall clock */
static int64_t
push_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

static enum push_outcome
push_deliver(struct push_node *pn, const struct outbox_entry *e)
{
	struct pushmsg_answer a = { .applied_version = -1 };
	char err[200] = "";
	enum push_outcome o = push_send(pn->name, e, &a, err, sizeof(err));

	push_record(pn->name, e, o, err, a.code, a.applied_version);
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
	push_log(pn, e, o, err);
	if (o == PUSH_RETRY)
		pn->down_until = push_mono() + push_backoff((int64_t)pn->down_attempts,
		    app_conf()->push_retry_max_seconds);
	return o;
}

/* sleep for secs, or until stopped, or (unless only_stop) woken by a
 * change queued since generation gen was read */
static void
push_sleep(uint64_t gen, int64_t secs, int only_stop)
{
	struct timespec ts;

	pthread_mutex_lock(&push_mtx);
	if (!push_stopping && (only_stop || push_generation == gen)) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += secs;
		pthread_cond_timedwait(&push_cond, &push_mtx, &ts);
	}
	pthread_mutex_unlock(&push_mtx);
}

static void *
push_thread(void *arg)
{
	struct push_node *pn = arg;

	for (;;) {
		struct outbox_due d;
		uint64_t gen;
		int64_t wait, next_at, now;
		size_t ndue;
		int failed = 0;

		pthread_mutex_lock(&push_mtx);
		gen = push_generation;
		if (push_stopping) {
			pthread_mutex_unlock(&push_mtx);
			break;
		}
		pthread_mutex_unlock(&push_mtx);

		/* a failing node: nothing before its backoff is over */
		now = push_mono();
		if (pn->down && now < pn->down_until) {
			push_sleep(gen, pn->down_until - now, 1);
			continue;
		}
		outbox_due(pn->name, app_now(), &d);
		pthread_mutex_lock(&push_mtx);
		pn->pending = d.pending;
		pn->refused = d.refused;
		if (d.refused > 0)
			snprintf(pn->last_refusal, sizeof(pn->last_refusal), "%s",
			    d.last_refusal);
		pthread_mutex_unlock(&push_mtx);
		for (size_t i = 0; i < d.ndue && !push_stopping && !failed; i++)
			failed = push_deliver(pn, &d.due[i]) == PUSH_RETRY;
		ndue = d.ndue;
		next_at = d.next_at;
		outbox_due_wipe(&d);
		if (ndue > 0)
			continue;        /* rescan: more may be due, or back off */

		/* sleep until woken, the next retry, or 30 s */
		wait = next_at ? next_at - app_now() : 30;
		if (wait < 1)
			wait = 1;
		if (wait > 30)
			wait = 30;
		push_sleep(gen, wait, 0);
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

/* t as RFC 3339, or null when 0 (never) */
static void
push_json_time(struct json *j, const char *key, int64_t t)
{
	char ts[32];

	if (t != 0)
		time_rfc3339(t, ts, sizeof(ts));
	json_set_str(j, key, t != 0 ? ts : NULL);
}

struct json *
push_nodes_json(void)
{
	const struct conf *c = app_conf();
	struct json *items = json_array();

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
		push_json_time(j, "last_attempt", pn->last_attempt);
		push_json_time(j, "last_success", pn->last_success);
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

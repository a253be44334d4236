/*
 * forward.c — the audit trail to a SIEM (audit.forward): every audit
 * record, in order, as an RFC 5424 message over TCP or TLS (forward_conn.c)
 * to the collector at audit.forward.url.
 *
 * Delivery is at least once. The cursor (META "audit_forward_cursor", 8
 * bytes big-endian) is the last seq the collector surely holds. One thread
 * reads the records after the last one it sent (audit_since, FORWARD_BATCH
 * to a read txn), writes them and moves the cursor. Plain syslog has no
 * acknowledgement, so "surely holds" means: the collector's TCP stack
 * acknowledged the batch's last byte (forward_conn_acked) and the
 * connection was still up FORWARD_CONFIRM_MS later. A collector that stops
 * closes the connection at once, and one that runs has read long before
 * then what its kernel acknowledged. When the connection breaks, every
 * record after the cursor is sent again on the next one: the duplicates are
 * the last second or so before the break, never a gap. The cursor goes to
 * the store in its own small write txn at most every FORWARD_SAVE_MS (and
 * at stop), so a crash resends at most that much more.
 *
 * A cursor behind the ring's oldest record means records were dropped
 * before they were delivered (the collector was away longer than the ring
 * holds, or forwarding was off): counted (dropped) and logged with the
 * seqs, never silent. With no cursor yet, forwarding begins at the oldest
 * record the ring holds; a cursor past the head (the store was restored
 * from an older copy) begins again after the head.
 *
 * Wake-up: audit_append asks for forward_wake once its txn has committed
 * (store_txn_on_commit); records written by another process (acctd
 * import) and configuration changes (SIGHUP: every audit.forward setting
 * applies at once) are seen within FORWARD_IDLE_MS.
 *
 * The message (docs/design.md "Audit forwarding"):
 *   LEN SP <85>1 TIMESTAMP HOSTNAME APP-NAME - AUDIT [acctd@32473 seq="…"
 *   action="…" actor="…" … prev="…" chain="…"] BOM record-json
 * facility authpriv (10), severity notice (5); 32473 is RFC 5612's
 * documentation enterprise number, a placeholder until the appliance's
 * vendor has its own. The SD-PARAMs are the record's fields for searching;
 * MSG is the record exactly as stored, so its chain hash can be checked
 * again from the SIEM's copy (with the key).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "acctd.h"

#define FORWARD_BATCH 256          /* records to a read txn and a write */
#define FORWARD_INFLIGHT 1024      /* batches written, not yet confirmed */
#define FORWARD_CONFIRM_MS 1000    /* acknowledged, and still connected after */
#define FORWARD_SAVE_MS 1000       /* the cursor is written at most this often */
#define FORWARD_IDLE_MS 1000       /* looks for other processes' records, reload */
#define FORWARD_META_CURSOR "audit_forward_cursor"
#define FORWARD_PRI "<85>"         /* authpriv (10) * 8 + notice (5) */
#define FORWARD_SD_ID "acctd@32473"
#define FORWARD_BOM "\xef\xbb\xbf"

/* what /admin/audit/forward and /metrics show; under forward_mtx */
static struct {
	int enabled;
	int loaded;               /* the cursor is known */
	int connected;
	char url[300];
	uint64_t cursor;          /* the collector surely holds records up to it */
	uint64_t sent_seq;        /* the last record written */
	uint64_t sent, resent, dropped;
	char last_error[256];
	int64_t last_attempt, last_success, connected_since;
} forward_st;

static pthread_mutex_t forward_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t forward_cond = PTHREAD_COND_INITIALIZER;
static uint64_t forward_gen;              /* under forward_mtx */
static _Atomic int forward_stopping;
static pthread_t forward_thread_id;
static int forward_started;

/* --- the message ------------------------------------------------------- */

/* an SD-PARAM, its value escaped as RFC 5424 6.3.3 asks; none for NULL */
static void
forward_sd_param(FILE *f, const char *name, const char *v)
{
	if (v == NULL)
		return;
	fprintf(f, " %s=\"", name);
	for (; *v != '\0'; v++) {
		if (*v == '"' || *v == '\\' || *v == ']')
			fputc('\\', f);
		fputc(*v, f);
	}
	fputc('"', f);
}

/* the record's members as SD-PARAMs; free text may be left out to fit */
static const struct {
	const char *param;
	const char *member;
	int free_text;
} forward_fields[] = {
	{ "action", "action_type", 0 },
	{ "actor", "actor_handle", 0 },
	{ "actor_id", "actor_id", 0 },
	{ "actor_name", "actor_display_name", 1 },
	{ "actor_avatar", "actor_avatar_url", 1 },
	{ "actor_ip", "actor_ip", 0 },
	{ "identity", "identity_handle", 0 },
	{ "identity_id", "identity_id", 0 },
	{ "target", "target_handle", 0 },
	{ "target_id", "target_id", 0 },
};

/* "2026-11-28T04:10:00Z" (time_rfc3339) is an RFC 5424 TIMESTAMP */
static const char *
forward_timestamp(const char *ts)
{
	if (ts == NULL || strlen(ts) != 20 || ts[10] != 'T' || ts[19] != 'Z' ||
	    strspn(ts, "0123456789-:TZ") != 20)
		return "-";
	return ts;
}

/* the message, unframed; full 0: without the free text (it is in MSG) */
static void
forward_msg(FILE *f, const struct forward_ident *id, const struct json *r,
    int64_t seq, const char *rec, size_t len, int full)
{
	const struct json *data = json_get(r, "data");
	char *text;

	fprintf(f, FORWARD_PRI "1 %s %s %s - AUDIT [" FORWARD_SD_ID " seq=\"%lld\"",
	    forward_timestamp(json_str(json_get(r, "created_at"))), id->hostname,
	    id->app_name, (long long)seq);
	for (size_t i = 0; i < sizeof(forward_fields) / sizeof(forward_fields[0]); i++)
		if (full || !forward_fields[i].free_text)
			forward_sd_param(f, forward_fields[i].param,
			    json_str(json_get(r, forward_fields[i].member)));
	if (full && data != NULL) {
		text = json_print(data);
		forward_sd_param(f, "data", text);
		free(text);
	}
	forward_sd_param(f, "prev", json_str(json_get(r, "prev_hash")));
	forward_sd_param(f, "chain", json_str(json_get(r, "hash")));
	fputs("] " FORWARD_BOM, f);
	fwrite(rec, 1, len, f);
}

int
forward_format(const struct forward_ident *id, const char *rec, size_t len,
    FILE *out)
{
	struct json *r;
	char err[64], *msg = NULL;
	size_t mlen = 0;
	int64_t seq;
	FILE *f;

	if (json_parse(rec, len, &r, err, sizeof(err)) == -1)
		return -1;
	if (!json_is_object(r) || json_int(json_get(r, "id"), &seq) == -1 ||
	    json_str(json_get(r, "hash")) == NULL) {
		json_free(r);
		return -1;
	}
	/* the whole record as SD-PARAMs, or when that is longer than a
	 * collector must take, without its free text */
	for (int full = 1; full >= 0; full--) {
		free(msg);
		msg = NULL;
		if ((f = open_memstream(&msg, &mlen)) == NULL)
			fatal("open_memstream");
		forward_msg(f, id, r, seq, rec, len, full);
		fclose(f);
		if (mlen <= FORWARD_MSG_MAX)
			break;
	}
	fprintf(out, "%zu ", mlen);
	fwrite(msg, 1, mlen, out);
	free(msg);
	json_free(r);
	return 0;
}

/* --- the cursor in the store ------------------------------------------ */

/* 0, STORE_NOTFOUND or -1 (also for a damaged value, logged) */
static int
forward_cursor_get(uint64_t *seq)
{
	struct store_txn *t;
	void *v;
	size_t vl;
	int rc;

	if (store_txn_begin(app.store, 0, &t) == -1)
		return -1;
	rc = store_get(t, STORE_DB_META, FORWARD_META_CURSOR,
	    sizeof(FORWARD_META_CURSOR) - 1, &v, &vl);
	store_txn_abort(t);
	if (rc != 0)
		return rc;
	if (vl == 8)
		*seq = be_get(v, 8);
	else
		log_warnx("audit forward: meta %s is damaged (%zu bytes)",
		    FORWARD_META_CURSOR, vl);
	free(v);
	return vl == 8 ? 0 : -1;
}

static int
forward_cursor_put(uint64_t seq)
{
	struct store_txn *t;
	uint8_t v[8];

	be_put(v, 8, seq);
	if (store_txn_begin(app.store, 1, &t) == -1)
		return -1;
	if (store_put(t, STORE_DB_META, FORWARD_META_CURSOR,
	    sizeof(FORWARD_META_CURSOR) - 1, v, sizeof(v)) == -1) {
		store_txn_abort(t);
		return -1;
	}
	return store_txn_commit(t);
}

/* --- the thread ------------------------------------------------------- */

/* a batch written: its last seq and where it ends on the connection */
struct forward_inflight {
	uint64_t seq;
	uint64_t end;
	int64_t acked_ms;         /* when the collector acknowledged its end */
};

/* the thread's own state */
struct forward_run {
	struct forward_conn *conn;
	char url[300];            /* of conn, or of the last attempt */
	char *ca;
	char host[256];           /* the system's host name */
	int loaded;
	uint64_t cursor;          /* confirmed */
	uint64_t saved;           /* what the store holds */
	int64_t saved_ms;
	uint64_t sent;            /* the last seq written on this connection */
	uint64_t max_sent;        /* the highest ever written: resends are below */
	uint64_t dropped_upto;    /* drops counted up to this seq */
	struct forward_inflight *fl;
	size_t fl_head, fl_n;
	int attempts;             /* failures in a row */
	int64_t next_try;         /* ms */
};

static int64_t
forward_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
forward_wake(void)
{
	pthread_mutex_lock(&forward_mtx);
	forward_gen++;
	pthread_cond_signal(&forward_cond);
	pthread_mutex_unlock(&forward_mtx);
}

/* the system's host name as RFC 5424 takes it, "-" when there is none */
static void
forward_host(char out[256])
{
	if (gethostname(out, 256) == -1)
		out[0] = '\0';
	out[255] = '\0';
	for (char *p = out; *p != '\0'; p++)
		if ((unsigned char)*p < 33 || (unsigned char)*p > 126)
			*p = '-';
	if (out[0] == '\0')
		strcpy(out, "-");
}

static void
forward_save(struct forward_run *r, int64_t now, int force)
{
	if (r->cursor == r->saved ||
	    (!force && now - r->saved_ms < FORWARD_SAVE_MS))
		return;
	r->saved_ms = now;
	if (forward_cursor_put(r->cursor) == -1) {
		log_warnx("audit forward: cannot store the cursor (seq %llu); a "
		    "restart would send again from seq %llu", (unsigned long long)
		    r->cursor, (unsigned long long)r->saved + 1);
		return;
	}
	r->saved = r->cursor;
}

/* where to begin: the stored cursor, else before the oldest record held */
static int
forward_load(struct forward_run *r)
{
	char hash[65];
	uint64_t head, first, v = 0;
	int rc;

	if (audit_head(app.store, &head, hash, &first) == -1 ||
	    (rc = forward_cursor_get(&v)) == -1)
		return -1;
	r->saved = v;
	if (rc == STORE_NOTFOUND) {
		v = first - 1;
		r->saved = UINT64_MAX;   /* store it at once */
		log_info("audit forward: first start: sending the ring from its "
		    "oldest record (seq %llu) on", (unsigned long long)first);
	} else if (v > head) {
		log_warnx("audit forward: the cursor (seq %llu) is past the audit "
		    "head (seq %llu): the store was restored from an older copy? "
		    "Sending from seq %llu on", (unsigned long long)v,
		    (unsigned long long)head, (unsigned long long)head + 1);
		v = head;
	}
	r->cursor = r->sent = r->max_sent = r->dropped_upto = v;
	r->loaded = 1;
	pthread_mutex_lock(&forward_mtx);
	forward_st.loaded = 1;
	forward_st.cursor = forward_st.sent_seq = v;
	pthread_mutex_unlock(&forward_mtx);
	return 0;
}

static int64_t
forward_backoff(int attempts, int max)
{
	int64_t d = 1;

	for (int i = 1; i < attempts && d < max; i++)
		d *= 2;
	return d > max ? max : d;
}

/* close the connection (err: why, NULL when on purpose): everything after
 * the cursor is sent again on the next one */
static void
forward_close(struct forward_run *r, const char *err)
{
	forward_conn_close(r->conn);
	r->conn = NULL;
	r->fl_n = 0;
	r->sent = r->cursor;
	pthread_mutex_lock(&forward_mtx);
	forward_st.connected = 0;
	forward_st.sent_seq = r->cursor;
	snprintf(forward_st.last_error, sizeof(forward_st.last_error), "%s",
	    err != NULL ? err : "");
	pthread_mutex_unlock(&forward_mtx);
}

/* the connection broke or could not be made: retry with backoff; one
 * warning per outage, the attempts after it at debug level */
static void
forward_fail(struct forward_run *r, const struct conf *c, const char *err)
{
	forward_close(r, err);
	if (r->attempts++ == 0)
		log_warnx("audit forward: %s: %s; records wait in the store and go "
		    "when it is back (retrying up to every %d s)", r->url, err,
		    c->forward_retry_max_seconds);
	else
		log_debug("audit forward: %s: %s", r->url, err);
	r->next_try = forward_ms() + 1000 *
	    forward_backoff(r->attempts, c->forward_retry_max_seconds);
}

static void
forward_disconnect(struct forward_run *r)
{
	forward_close(r, NULL);
	r->attempts = 0;
	r->next_try = 0;
}

/* a SIGHUP changed the collector: start over with the new one */
static void
forward_follow_conf(struct forward_run *r, const struct conf *c)
{
	if (strcmp(r->url, c->forward_url) == 0 &&
	    (r->ca != NULL && strcmp(r->ca, c->forward_ca) == 0))
		return;
	if (r->conn != NULL)
		log_info("audit forward: audit.forward changed: leaving %s for %s",
		    r->url, c->forward_url);
	forward_disconnect(r);
	snprintf(r->url, sizeof(r->url), "%s", c->forward_url);
	free(r->ca);
	r->ca = x_strdup(c->forward_ca);
	pthread_mutex_lock(&forward_mtx);
	snprintf(forward_st.url, sizeof(forward_st.url), "%s", c->forward_url);
	pthread_mutex_unlock(&forward_mtx);
}

static int
forward_connect(struct forward_run *r, const struct conf *c, int64_t now)
{
	char err[256];
	int again = r->attempts > 0;

	if (now < r->next_try)
		return -1;
	pthread_mutex_lock(&forward_mtx);
	forward_st.last_attempt = app_now();
	pthread_mutex_unlock(&forward_mtx);
	if (forward_conn_open(r->url, r->ca, &forward_stopping, &r->conn, err,
	    sizeof(err)) == -1) {
		forward_fail(r, c, err);
		return -1;
	}
	log_info("audit forward: connected to %s%s; sending from seq %llu on",
	    r->url, again ? " again" : "", (unsigned long long)r->cursor + 1);
	r->attempts = 0;
	r->sent = r->cursor;
	pthread_mutex_lock(&forward_mtx);
	forward_st.connected = 1;
	forward_st.connected_since = app_now();
	forward_st.last_error[0] = '\0';
	pthread_mutex_unlock(&forward_mtx);
	return 0;
}

/* records from..to were gone from the ring before they were sent */
static void
forward_dropped(struct forward_run *r, uint64_t from, uint64_t to)
{
	if (to <= r->dropped_upto)
		return;
	if (from <= r->dropped_upto)
		from = r->dropped_upto + 1;
	r->dropped_upto = to;
	log_warnx("audit forward: records %llu to %llu (%llu) were dropped by the "
	    "audit ring before they reached the collector; raise audit.capacity "
	    "or keep the collector reachable", (unsigned long long)from,
	    (unsigned long long)to, (unsigned long long)(to - from + 1));
	pthread_mutex_lock(&forward_mtx);
	forward_st.dropped += to - from + 1;
	pthread_mutex_unlock(&forward_mtx);
}

/* confirm the batches acknowledged FORWARD_CONFIRM_MS ago or earlier */
static void
forward_confirm(struct forward_run *r, int64_t now)
{
	uint64_t acked = forward_conn_acked(r->conn), was = r->cursor;

	for (size_t i = 0; i < r->fl_n; i++) {
		struct forward_inflight *e = &r->fl[(r->fl_head + i) % FORWARD_INFLIGHT];

		if (e->end > acked)
			break;
		if (e->acked_ms == 0)
			e->acked_ms = now;
	}
	while (r->fl_n > 0) {
		struct forward_inflight *e = &r->fl[r->fl_head];

		if (e->acked_ms == 0 || now - e->acked_ms < FORWARD_CONFIRM_MS)
			break;
		r->cursor = e->seq;
		r->fl_head = (r->fl_head + 1) % FORWARD_INFLIGHT;
		r->fl_n--;
	}
	if (r->cursor == was)
		return;
	pthread_mutex_lock(&forward_mtx);
	forward_st.cursor = r->cursor;
	forward_st.last_success = app_now();
	pthread_mutex_unlock(&forward_mtx);
}

/* a batch read from the ring */
struct forward_batch {
	FILE *out;                /* the framed messages */
	struct forward_ident id;
	uint64_t first, last;     /* seqs; first 0: none */
	uint64_t n, bad;
};

static int
forward_collect(void *arg, uint64_t seq, const char *rec, size_t len)
{
	struct forward_batch *b = arg;

	if (b->first == 0)
		b->first = seq;
	b->last = seq;
	if (forward_format(&b->id, rec, len, b->out) == 0) {
		b->n++;
		return 0;
	}
	log_warnx("audit forward: record %llu cannot be read (run verify); it "
	    "is not sent", (unsigned long long)seq);
	b->bad++;
	return 0;
}

/* the records after r->sent, up to a batch, read and formatted; 0 / -1 */
static int
forward_read(struct forward_run *r, const struct conf *c,
    struct forward_batch *b, char **buf, size_t *blen)
{
	struct store_txn *t;
	int rc;

	memset(b, 0, sizeof(*b));
	b->id.hostname = c->forward_hostname[0] ? c->forward_hostname : r->host;
	b->id.app_name = c->forward_app_name;
	*buf = NULL;
	if ((b->out = open_memstream(buf, blen)) == NULL)
		fatal("open_memstream");
	rc = store_txn_begin(app.store, 0, &t);
	if (rc == 0) {
		rc = audit_since(t, r->sent, FORWARD_BATCH, forward_collect, b);
		store_txn_abort(t);
	}
	fclose(b->out);
	if (rc == -1) {
		free(*buf);
		*buf = NULL;
		log_warnx("audit forward: cannot read the audit log");
	}
	return rc;
}

/* one batch written: 1, 0 when there is nothing to send, -1 failed */
static int
forward_send(struct forward_run *r, const struct conf *c)
{
	struct forward_batch b;
	struct forward_inflight *e;
	uint64_t again = 0;
	char *buf, err[256];
	size_t blen = 0;

	if (r->fl_n == FORWARD_INFLIGHT || forward_read(r, c, &b, &buf, &blen) == -1)
		return 0;
	if (b.first == 0) {
		free(buf);
		return 0;
	}
	if (b.first > r->sent + 1)
		forward_dropped(r, r->sent + 1, b.first - 1);
	if (blen > 0 && forward_conn_write(r->conn, buf, blen, err, sizeof(err)) == -1) {
		free(buf);
		forward_fail(r, c, err);
		return -1;
	}
	free(buf);
	e = &r->fl[(r->fl_head + r->fl_n++) % FORWARD_INFLIGHT];
	e->seq = b.last;
	e->end = forward_conn_written(r->conn);
	e->acked_ms = 0;
	if (b.first <= r->max_sent)
		again = (b.last <= r->max_sent ? b.last : r->max_sent) - b.first + 1;
	r->sent = b.last;
	if (b.last > r->max_sent)
		r->max_sent = b.last;
	pthread_mutex_lock(&forward_mtx);
	forward_st.sent_seq = b.last;
	forward_st.sent += b.n;
	forward_st.resent += again < b.n ? again : b.n;
	forward_st.dropped += b.bad;
	pthread_mutex_unlock(&forward_mtx);
	return 1;
}

/* forwarding is off (audit.forward.url ""): nothing is sent, the cursor stays */
static void
forward_off(struct forward_run *r)
{
	if (r->conn != NULL)
		log_info("audit forward: off (audit.forward.url is empty)");
	forward_disconnect(r);
	r->url[0] = '\0';
	pthread_mutex_lock(&forward_mtx);
	forward_st.enabled = 0;
	forward_st.url[0] = '\0';
	pthread_mutex_unlock(&forward_mtx);
}

/* one turn of the thread: how long to wait before the next (ms) */
static int64_t
forward_step(struct forward_run *r)
{
	const struct conf *c = app_conf();
	int64_t now = forward_ms();
	char err[256];

	if (c->forward_url[0] == '\0') {
		forward_off(r);
		return FORWARD_IDLE_MS;
	}
	pthread_mutex_lock(&forward_mtx);
	forward_st.enabled = 1;
	pthread_mutex_unlock(&forward_mtx);
	if (!r->loaded && forward_load(r) == -1)
		return FORWARD_IDLE_MS;
	forward_follow_conf(r, c);
	forward_save(r, now, 0);
	if (r->conn == NULL && forward_connect(r, c, now) == -1) {
		now = r->next_try - forward_ms();
		return now < 1 ? 1 : now < FORWARD_IDLE_MS ? now : FORWARD_IDLE_MS;
	}
	if (forward_conn_alive(r->conn, err, sizeof(err)) == -1) {
		forward_fail(r, c, err);
		return 0;
	}
	forward_confirm(r, now);
	switch (forward_send(r, c)) {
	case -1:
		return 0;
	case 1:
		return r->fl_n == FORWARD_INFLIGHT ? 50 : 0;
	}
	return r->fl_n > 0 ? 100 : FORWARD_IDLE_MS;
}

static void *
forward_thread(void *arg)
{
	struct forward_run r;
	uint64_t gen;
	int64_t wait;

	(void)arg;
	memset(&r, 0, sizeof(r));
	r.fl = x_calloc(FORWARD_INFLIGHT, sizeof(*r.fl));
	forward_host(r.host);
	for (;;) {
		pthread_mutex_lock(&forward_mtx);
		gen = forward_gen;
		pthread_mutex_unlock(&forward_mtx);
		if (atomic_load(&forward_stopping))
			break;
		if ((wait = forward_step(&r)) == 0)
			continue;
		pthread_mutex_lock(&forward_mtx);
		if (!atomic_load(&forward_stopping) && forward_gen == gen) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += wait / 1000;
			ts.tv_nsec += (wait % 1000) * 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&forward_cond, &forward_mtx, &ts);
		}
		pthread_mutex_unlock(&forward_mtx);
	}
	forward_disconnect(&r);
	if (r.loaded)
		forward_save(&r, forward_ms(), 1);
	free(r.ca);
	free(r.fl);
	return NULL;
}

int
forward_start(void)
{
	atomic_store(&forward_stopping, 0);
	if (pthread_create(&forward_thread_id, NULL, forward_thread, NULL) != 0)
		return -1;
	forward_started = 1;
	return 0;
}

void
forward_stop(void)
{
	pthread_mutex_lock(&forward_mtx);
	atomic_store(&forward_stopping, 1);
	pthread_cond_broadcast(&forward_cond);
	pthread_mutex_unlock(&forward_mtx);
	if (forward_started)
		pthread_join(forward_thread_id, NULL);
	forward_started = 0;
}

/* --- state ------------------------------------------------------------ */

/* the audit head now (0 when it cannot be read); outside forward_mtx */
static uint64_t
forward_head(void)
{
	char hash[65];
	uint64_t head, first;

	if (app.store == NULL || audit_head(app.store, &head, hash, &first) == -1)
		return 0;
	return head;
}

/* records after the cursor; under forward_mtx */
static uint64_t
forward_behind(uint64_t head)
{
	return forward_st.loaded && head > forward_st.cursor ?
	    head - forward_st.cursor : 0;
}

static const char *
forward_status(void)
{
	if (!forward_st.enabled)
		return "off";
	if (forward_st.connected)
		return "ok";
	return forward_st.last_error[0] ? "failing" : "connecting";
}

struct json *
forward_json(void)
{
	struct json *j = json_object();
	uint64_t head = forward_head();

	pthread_mutex_lock(&forward_mtx);
	json_set_str(j, "url", forward_st.enabled ? forward_st.url : NULL);
	json_set_str(j, "status", forward_status());
	json_set_bool(j, "connected", forward_st.connected);
	json_set_int(j, "cursor", (int64_t)forward_st.cursor);
	json_set_int(j, "sent_seq", (int64_t)forward_st.sent_seq);
	json_set_int(j, "head", (int64_t)head);
	json_set_int(j, "behind", (int64_t)forward_behind(head));
	json_set_int(j, "sent", (int64_t)forward_st.sent);
	json_set_int(j, "resent", (int64_t)forward_st.resent);
	json_set_int(j, "dropped", (int64_t)forward_st.dropped);
	json_set_str(j, "last_error", forward_st.last_error[0] ?
	    forward_st.last_error : NULL);
	time_json_set(j, "last_attempt", forward_st.last_attempt);
	time_json_set(j, "last_success", forward_st.last_success);
	time_json_set(j, "connected_since", forward_st.connected ?
	    forward_st.connected_since : 0);
	pthread_mutex_unlock(&forward_mtx);
	return j;
}

void
forward_metrics(FILE *f)
{
	uint64_t head = forward_head();

	pthread_mutex_lock(&forward_mtx);
	fprintf(f, "# HELP acctd_audit_forward_connected 1 while acctd is "
	    "connected to the SIEM collector (audit.forward.url).\n"
	    "# TYPE acctd_audit_forward_connected gauge\n"
	    "acctd_audit_forward_connected %d\n"
	    "# HELP acctd_audit_forward_behind Audit records the collector does "
	    "not surely hold yet.\n"
	    "# TYPE acctd_audit_forward_behind gauge\n"
	    "acctd_audit_forward_behind %llu\n"
	    "# HELP acctd_audit_forward_sent_total Audit records written to the "
	    "collector, resent ones included.\n"
	    "# TYPE acctd_audit_forward_sent_total counter\n"
	    "acctd_audit_forward_sent_total %llu\n"
	    "# HELP acctd_audit_forward_resent_total Audit records written again "
	    "after a broken connection (at-least-once duplicates).\n"
	    "# TYPE acctd_audit_forward_resent_total counter\n"
	    "acctd_audit_forward_resent_total %llu\n"
	    "# HELP acctd_audit_forward_dropped_total Audit records the ring "
	    "dropped before they reached the collector.\n"
	    "# TYPE acctd_audit_forward_dropped_total counter\n"
	    "acctd_audit_forward_dropped_total %llu\n",
	    forward_st.connected, (unsigned long long)forward_behind(head),
	    (unsigned long long)forward_st.sent,
	    (unsigned long long)forward_st.resent,
	    (unsigned long long)forward_st.dropped);
	pthread_mutex_unlock(&forward_mtx);
}

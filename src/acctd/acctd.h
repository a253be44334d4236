/*
 * acctd.h — the gateway daemon (src/acctd/): one internal header, grouped by
 * the file that implements each part; it is also the module map. What the
 * node agent shares with it is in common.h.
 */
#ifndef ACCTD_H
#define ACCTD_H

#include "common.h"

/* conf.c — the config file: its rule tables on cfg.c. See docs/config.md. */
struct conf_node {
	char *name;
	char *url;
	char *cert;
	int line;
};

struct conf_workspace {
	char *handle;
	char *owner;
	char **members;
	size_t nmembers;
	char *node;
	char *database;
	int port;
	int line;
};

struct conf {
	char *path;
	char **listen;            /* "host:port", "[v6]:port" */
	size_t nlisten;
	char *tls_cert;
	char *tls_key;
	char *data_dir;
	char *key_file;
	int map_size_mb;
	char *user;               /* "" = do not change user */
	enum log_level log_level;
	int audit_capacity;
	/* audit.forward: the audit trail to a SIEM (forward.c) */
	char *forward_url;        /* "" = off; "tcp://host:port", "tls://host:port" */
	char *forward_ca;         /* tls: the CA the collector's certificate must chain to */
	char *forward_hostname;   /* "" = the system's host name */
	char *forward_app_name;
	int forward_retry_max_seconds;
	int tokens_max_per_user;
	int passwords_rotate_every_days;   /* 0 = no scheduled rotation (rotate.c) */
	int sessions_idle_timeout;
	int sessions_absolute_timeout;
	int pbkdf2_iterations;
	int login_max_failures;
	int login_window;
	int login_lockout;
	int login_require_2fa_admins;   /* login.require_2fa_for_admins */
	char *admin_handle;
	char *admin_email;
	char *admin_password_file;
	char *dns_domain;
	char *dns_hosts_file;
	char *dns_reload_pidfile;
	char *push_client_cert;
	char *push_client_key;
	int push_retry_max_seconds;
	struct conf_node *nodes;
	size_t nnodes;
	struct conf_workspace *workspaces;
	size_t nworkspaces;
	/* acctd extension: the HTTPS server's worker pool, timeouts and
	 * limits (docs/civetweb.md "Front stage") */
	int http_threads;
	int http_keepalive_timeout_ms;
	int http_request_timeout_ms;
	int http_min_rate;                     /* bytes/s; 0 = no minimum */
	int http_max_connections;
	int http_max_connections_per_address;  /* IPv4 address or IPv6 /64 */
	/* acctd extension: GET /metrics also answers a bearer token with
	 * this SHA-256 (64 hex digits); "" = admins only */
	char *metrics_token_sha256;
	/* rate_limit: every user's write budget (rate.c) */
	int rate_writes_per_minute;
	int rate_writes_burst;
};

/*
 * Parse and check FILE. On success *out is a new conf (caller frees with
 * conf_free) and 0 is returned. Otherwise every error found is written to
 * errs as "FILE:LINE: setting: reason\n" (one pass, all errors) and -1 is
 * returned with *out NULL.
 */
int conf_load(const char *path, FILE *errs, struct conf **out);
/* conf_load, and the files and user it names exist and are right (the
 * TLS pairs match, keys are private, node certificates parse): a start
 * and `acctd -t`. A reload takes conf_load's file; its certificates are
 * checked as they are re-read (http_tls_reload, push_tls_load). */
int conf_load_start(const char *path, FILE *errs, struct conf **out);
void conf_free(struct conf *c);
/* 1 when a workspace names handle as its owner or a member */
int conf_names_handle(const struct conf *c, const char *handle);

/*
 * store.c — the LMDB environment. Values are copied out before a txn ends.
 * One write txn at a time (store_txn_begin(write) blocks until the previous
 * one ends); a write txn must be committed or aborted on the thread that
 * began it and that thread must not begin another txn meanwhile. Read txns
 * may move between threads (MDB_NOTLS). Keys are 1..511 bytes and sort as
 * bytes (memcmp), so integers in keys are stored big-endian. After any -1
 * inside a txn, the only valid call on it is store_txn_abort.
 *
 * Group commit: concurrent write txns share one synced LMDB commit. Each is
 * a nested txn of a batch that the store's writer thread commits;
 * store_txn_commit returns only once the batch is on disk, with its result
 * (a failed batch commit fails every write txn in it); store_txn_abort
 * undoes its own txn only. A write txn sees the changes of the txns before
 * it in its batch (docs/design.md "Store").
 */
#define STORE_SCHEMA_VERSION 2   /* 2: the audit chain is keyed (audit_init) */
#define STORE_SCHEMA_OLDEST 1    /* the oldest store_open accepts: migrated at start */
#define STORE_NOTFOUND 1
enum store_db {
	STORE_DB_META = 0,        /* "schema_version" and other singletons */
	STORE_DB_USER,
	STORE_DB_HANDLE,
	STORE_DB_SESSION,
	STORE_DB_TOKEN,
	STORE_DB_PASSWORD,
	STORE_DB_AUDIT,
	STORE_DB_OUTBOX,
	STORE_DB_LOGIN,
	STORE_DB_AUDIT_IDX,       /* identity id || NUL || seq -> "" (per-user audit pages) */
	STORE_DB_TOTP,            /* user id -> two-factor record (totp.c) */
	STORE_DB_COUNT
};
struct store;
struct store_txn;
/* creates dir (0700) when missing; -1 with a sentence in err */
int store_open(const char *dir, unsigned map_size_mb, struct store **out,
    char *err, size_t errlen);
void store_close(struct store *s);           /* every txn must have ended; NULL ok */
/* data_dir for this process alone (acctd restore): -1 with a sentence in
 * err while any process has the store open; store_open of it then works in
 * this process only, until store_unlock_exclusive */
int store_lock_exclusive(const char *dir, char *err, size_t errlen);
void store_unlock_exclusive(void);
int store_txn_begin(struct store *s, int write, struct store_txn **out);
int store_txn_commit(struct store_txn *t);   /* frees t, also on failure */
/* a read txn's view of the store: two read txns with the same id see the
 * same contents (a cache key); 0 for a write txn */
uint64_t store_txn_id(struct store_txn *t);
void store_txn_abort(struct store_txn *t);   /* frees t; NULL ok */
/* fn runs on the committing thread once t has committed (never after a
 * failed commit or an abort); one per txn, the last set wins. It must be
 * cheap: the writer lock is released, but the caller waits for it */
void store_txn_on_commit(struct store_txn *t, void (*fn)(void));
/* A read txn for the request path: like store_txn_begin(s, 0, out), but
 * renewed from a pool of reset ones (see store.c). store_txn_abort (or
 * store_read_end, or store_txn_commit) hands it back; it may end on
 * another thread than the one that began it. 0 / -1 */
int store_read_begin(struct store *s, struct store_txn **out);
void store_read_end(struct store_txn *t);    /* NULL ok */
/* -1 also when the map is full (logged with the map size) */
int store_put(struct store_txn *t, enum store_db db, const void *key,
    size_t klen, const void *val, size_t vlen);
/* 0 and *val (caller frees) / STORE_NOTFOUND / -1 */
int store_get(struct store_txn *t, enum store_db db, const void *key,
    size_t klen, void **val, size_t *vlen);
/* 0 / STORE_NOTFOUND / -1 */
int store_del(struct store_txn *t, enum store_db db, const void *key, size_t klen);
/*
 * Walk db in key order from start (forward: keys >= start; reverse: keys <=
 * start, descending), or from the first/last key when start is NULL or
 * startlen 0. fn sees pointers into the map, valid only during the call, and
 * must not write in t. fn returns 0 to go on, > 0 to stop (store_iter
 * returns that value) or < 0 to fail (store_iter returns -1). Returns 0 at
 * the end of db.
 */
typedef int (*store_iter_fn)(void *arg, const void *k, size_t kl,
    const void *v, size_t vl);
int store_iter(struct store_txn *t, enum store_db db, const void *start,
    size_t startlen, int reverse, store_iter_fn fn, void *arg);
int store_count(struct store_txn *t, enum store_db db, size_t *n);
/* every record of db deleted, in t (a write txn): 0 / -1 */
int store_drop(struct store_txn *t, enum store_db db);
/* LMDB's compacted copy of the whole store (free pages left out) to fd,
 * from a read txn of its own: consistent while writers go on. The file is
 * a data.mdb for machines of this word size only. 0 / -1 */
int store_copy_compact(struct store *s, int fd);
uint32_t store_schema_version(struct store *s);
uint32_t store_txn_schema(struct store_txn *t);    /* the version t writes or sees */
/* write the schema version in t (a migration); store_schema_version tells
 * it once t has committed */
int store_schema_set(struct store_txn *t, uint32_t version);
/*
 * Why the last failed write call of this thread (put, del, commit) failed,
 * when it is a full store: STORE_FULL_MAP when the map is full
 * (MDB_MAP_FULL, MDB_TXN_FULL: an operator must raise map_size_mb),
 * STORE_FULL_DISK when the file system holding data_dir is (ENOSPC, EDQUOT:
 * writes work again once space is freed, no restart). 0 otherwise. Reset by
 * store_txn_begin(write).
 */
#define STORE_FULL_MAP  1
#define STORE_FULL_DISK 2
int store_full(void);
struct store_usage {
	uint64_t map_bytes;        /* the map's size (map_size_mb, or the file's) */
	uint64_t page_bytes;
	uint64_t high_water_bytes; /* pages ever used: the file's extent */
	uint64_t used_bytes;       /* high water minus LMDB's free list */
};
int store_usage(struct store *s, struct store_usage *u);   /* thread-safe */
struct store_stats {
	uint64_t batches;          /* synced commits that succeeded */
	uint64_t changes;          /* write txns they held */
	unsigned waiting;          /* callers waiting to begin a write txn now */
	unsigned last_members;     /* write txns the last batch held */
};
void store_stats(struct store *s, struct store_stats *st);   /* thread-safe */
/* a batch closes at max_members, or once max_ms have passed since it
 * opened (checked when a child ends); direct: a lone caller commits its
 * own txn (store_batch.c); defaults 64, 4 ms and 1 */
void store_batch_limits(struct store *s, unsigned max_members, unsigned max_ms, int direct);
void store_metrics(struct store *s, FILE *f);   /* acctd_store_* for /metrics */

/* http.c — civetweb over mbedTLS; the only user of civetweb. */
#define HTTP_MAX_BODY (64 * 1024)
#define HTTP_MAX_PARAMS 4
enum http_auth { HTTP_AUTH_ANYONE = 0, HTTP_AUTH_USER, HTTP_AUTH_SELF, HTTP_AUTH_ADMIN,
	HTTP_AUTH_METRICS };       /* admins, or the metrics.token_sha256 bearer token */
/* the route table's scope column: one bit per API token scope that may call
 * the route (1u << enum token_scope); cookie sessions are not scoped */
#define HTTP_SCOPE_FULL 0x1u
#define HTTP_SCOPE_READ 0x2u
#define HTTP_SCOPE_CONNECT 0x4u
struct http_req;
typedef void (*http_handler_fn)(struct http_req *r);
struct http_route {
	const char *method;
	const char *pattern;       /* "/api/v0/user/{handle}"; {x} = one segment */
	enum http_auth auth;
	unsigned scopes;           /* HTTP_SCOPE_* bits: the token scopes allowed */
	http_handler_fn fn;
	const char *summary;       /* one line, also in openapi.json */
};
struct http_req {
	void *conn;                /* struct mg_connection */
	const char *method;
	const char *path;
	const char *query;         /* raw, NULL when absent */
	char remote_ip[48];
	char *body;                /* NUL-terminated; NULL when empty */
	size_t body_len;
	const char *params[HTTP_MAX_PARAMS];
	char param_buf[512];
	size_t nparams;
	const struct http_route *route;
	int status;                /* set once a reply is sent */
	void *ctx;                 /* the authorize hook's state */
};
struct http_server;
struct http_opts {
	char **listen;
	size_t nlisten;
	const char *tls_cert;
	const char *tls_key;
	int threads;
	int keepalive_timeout_ms;
	int request_timeout_ms;     /* handshake, head and body, all together */
	int min_rate;               /* bytes/s a handshake or request must average */
	int max_connections;
	int max_connections_per_address;
	const struct http_route *routes;   /* terminated by a NULL method */
	/* before the handler: 0 to go on, -1 when it has replied (401/403/404) */
	int (*authorize)(struct http_req *r);
	void (*cleanup)(struct http_req *r);
	/* tests/fuzz/fuzz_http.c only, never set from the config: one more
	 * listener, "127.0.0.1:PORT", WITHOUT TLS; NULL (main.c) = none */
	const char *fuzz_plain_listen;
};
int http_start(const struct http_opts *o, struct http_server **out, char *err, size_t errlen);
void http_stop(struct http_server *s);
void http_set_ready(struct http_server *s, int ready);   /* 503 until ready */
const char *http_header(struct http_req *r, const char *name);
/* 0 found, -1 absent, -2 present but too long for out */
int http_query(struct http_req *r, const char *name, char *out, size_t outlen);
/* Responses: one write of headers and body, with the security headers. */
void http_reply(struct http_req *r, int status, const char *ctype,
    const char *extra_headers, const void *body, size_t len);
void http_reply_json(struct http_req *r, int status, const struct json *body);
/* a 200 in pieces (chunked, then the connection closes): http_stream_begin
 * once, http_stream_write per piece, len 0 ends it. 0 / -1 (the client
 * left: stop) */
int http_stream_begin(struct http_req *r, const char *ctype, const char *extra_headers);
int http_stream_write(struct http_req *r, const void *buf, size_t len);
/* problem+json; verrs may be NULL (an array of {location, message}) */
void http_problem(struct http_req *r, int status, const char *detail,
    struct json *verrs);
/* once this answer is out, the connection's next request waits ms in the
 * front stage, holding no worker (a 429 or 503 asked again at once) */
#define HTTP_HOLD_MS 250
void http_hold(struct http_req *r, int ms);
void http_problem_h(struct http_req *r, int status, const char *detail,
    struct json *verrs, const char *extra_headers);
/* metrics counters */
uint64_t http_requests_total(void);

/* app.c — the daemon's shared state, read by every handler. */
/* one key per use, HKDF-SHA256(appliance key, info) (docs/design.md "Keys") */
struct app_keys {
	uint8_t session[CRYPTO_KEY_LEN];   /* "acctd session v1": session ids */
	uint8_t token[CRYPTO_KEY_LEN];     /* "acctd token v1": token secrets */
	uint8_t dbpass[CRYPTO_KEY_LEN];    /* "acctd dbpass v1": sealed passwords */
	uint8_t audit[CRYPTO_KEY_LEN];     /* "acctd audit chain v1": the chain */
	uint8_t totp[CRYPTO_KEY_LEN];      /* "acctd totp v1": sealed TOTP secrets,
	                                    * recovery code and ticket HMACs */
	/* session and token made ready for HMAC (every request uses one) */
	struct crypto_hmac_key session_mac, token_mac;
};
struct app {
	struct conf *_Atomic conf;  /* swapped on SIGHUP; old ones kept until exit */
	struct store *store;
	uint8_t key[CRYPTO_KEY_LEN];  /* the appliance key */
	struct app_keys keys;         /* derived from key by app_keys_derive */
	struct http_server *http;
	int64_t started_at;
};
extern struct app app;
const struct conf *app_conf(void);
int app_reload(const char *path);       /* 0 kept the new file, -1 kept the old */
void app_free_confs(void);
int64_t app_now(void);                  /* unix seconds */
int64_t app_now_ms(void);
/* derive app.keys from app.key, once, before any thread reads them: after
 * the key file is loaded (and after a test sets app.key). 0 or -1. */
int app_keys_derive(void);
void app_keys_wipe(void);               /* app.key and app.keys, at exit */

/* import.c — `acctd import -c FILE [-p PASSWORDS] USERS.jsonl` (see the
 * file's comment and acctd.8): the exit status */
int import_main(int argc, char *argv[]);

/* bootstrap.c — the first administrator's password file. */
/* Read the first line of the password file, or create it (0600) with a new
 * random password and set *created. out is a secret: wipe after use. */
int bootstrap_password(const char *path, char *out, size_t outlen, int *created,
    char *err, size_t errlen);
/* After a one-time password `old` was changed: remove the file when its
 * first line is `old`. 1 removed, 0 not there or another password, -1 err. */
int bootstrap_forget(const char *path, const char *old, char *err, size_t errlen);

/* routes.c — the route table (method, path, who may call it, handler). */
extern const struct http_route routes[];

/* audit.c — the append-only audit ring with a keyed (HMAC-SHA256) hash chain.
 *
 * Records live in STORE_DB_AUDIT under their sequence number (8 bytes,
 * big-endian), as JSON; STORE_DB_AUDIT_IDX indexes them by identity so one
 * user's page costs O(page). audit_append writes inside the caller's write
 * transaction: if it fails the caller aborts, so no change commits without
 * its record. When the ring holds `capacity` records the oldest is dropped
 * (and the chain's anchor moves to the next one).
 *
 * A stored record is at most AUDIT_RECORD_MAX bytes (long strings are
 * shortened, see audit.c), so that LMDB keeps it in a leaf page, two to a
 * 4 KiB page. AUDIT_RECORD_COST is what conf.c budgets per record in the
 * map: the record's half page plus its index entry and the B-trees' slack. */
#define AUDIT_RECORD_MAX 2000
#define AUDIT_RECORD_COST 2176
struct audit_actor {
	const char *id;            /* NULL for an anonymous caller */
	const char *handle;
	const char *display_name;
	const char *avatar_url;
	const char *ip;
};
struct audit_event {
	const char *action;        /* "user.update", "session.login", … */
	const struct audit_actor *actor;
	const char *identity_id;   /* whose log the record belongs to (may be NULL) */
	const char *identity_handle;
	const char *target_id;
	const char *target_handle;
	const struct json *data;   /* borrowed; what changed, never a secret; NULL = {} */
};
int audit_append(struct store_txn *t, unsigned capacity, const struct audit_event *e,
    int64_t now, uint64_t *seq_out);
/* Newest first. identity_id NULL = every record. before = 0: from the newest;
 * else records with seq < before. *items gets a JSON array (caller frees),
 * *next the seq to pass as `before` for the next page, 0 when none. */
int audit_page(struct store_txn *t, const char *identity_id, uint64_t before,
    unsigned limit, struct json **items, uint64_t *next);
/* The same, keeping only records that match f (every non-empty field):
 * action exact, or a prefix when it ends in "." ("token."); actor the
 * actor's handle; since/until RFC 3339 UTC, inclusive. Such a page examines
 * at most AUDIT_FILTER_BUDGET records, so it may hold fewer than limit with
 * a *next to go on from; it stops at the first record older than since. */
#define AUDIT_FILTER_BUDGET 20000
struct audit_filter {
	char action[64];
	char actor[40];           /* NAME_HANDLE_MAX + 1 */
	char since[24];
	char until[24];
};
int audit_page_filtered(struct store_txn *t, const char *identity_id, uint64_t before,
    unsigned limit, const struct audit_filter *f, struct json **items, uint64_t *next);
/* The records after seq `after`, oldest first, at most max: fn sees each
 * record's stored JSON (rec[0..len), not NUL-terminated, valid during the
 * call only) and returns 0 to go on or -1 to fail. A gap between `after`
 * and the first seq fn sees is records the ring dropped. 0 / -1 */
typedef int (*audit_since_fn)(void *arg, uint64_t seq, const char *rec, size_t len);
int audit_since(struct store_txn *t, uint64_t after, size_t max, audit_since_fn fn,
    void *arg);
/* Walk the whole chain. *report (caller frees):
 * {"ok":true,"records":N,"first_seq":F,"last_seq":L,"trimmed":M} or
 * {"ok":false,"records":N,"first_seq":F,"trimmed":M,"first_broken":seq,"reason":"…"}:
 * records F..L are held; M = F - 1 records were dropped by the ring before
 * them. -1 on store error. */
int audit_verify(struct store_txn *t, struct json **report);
/* At start, after store_open: migrate a schema-1 store (SHA-256 chain) to a
 * keyed chain once, then log the head. -1: do not start. */
int audit_init(struct store *s);
/* the head: its seq (0: none) and hash, and the oldest seq held; -1 when
 * unreadable. Thread-safe (own read txn). */
int audit_head(struct store *s, uint64_t *seq, char hash[65], uint64_t *first);
/* the head as t sees it (seq 0: no record): 0 / -1 */
int audit_head_at(struct store_txn *t, uint64_t *seq, char hash[65]);
/* publish the head outside the store: a log line; acctd_audit_* metrics */
void audit_head_log(struct store *s, const char *when);
void audit_metrics(struct store *s, FILE *f);

/* util: RFC 3339 UTC time ("2026-11-28T04:10:00Z") into buf (>= 21 bytes) */
void time_rfc3339(int64_t t, char *buf, size_t len);
/* o[k] = t as RFC 3339, or null when t is 0 (never, not set) */
void time_json_set(struct json *o, const char *k, int64_t t);

/* user.c — user records (JSON in STORE_DB_USER) and the handle index. */
struct user {
	char id[SECRET_ID_LEN + 1];
	char handle[NAME_HANDLE_MAX + 1];
	char *email;
	char *display_name;        /* NULL = not set */
	char *avatar_url;          /* NULL = not set */
	int admin;
	int disabled;
	int handle_self;           /* the user chose this handle (not an admin) */
	int must_change_pw;        /* a one-time password (bootstrap, set or reset
	                            * by an admin): its sessions may only change it */
	unsigned pw_iter;          /* console password: PBKDF2-HMAC-SHA256 */
	uint8_t pw_salt[16];
	uint8_t pw_hash[32];
	int64_t token_min_issued_at;   /* ms; 0 = never reset */
	int dbpass_rotate_days;    /* the user's rotation period; 0 = the policy's */
	int64_t version_id;
	int64_t created_at;        /* s */
	int64_t updated_at;        /* s */
};
void user_clear(struct user *u);               /* frees strings, wipes the verifier */
/* dst (uninitialized) becomes a copy of src with its own strings: user_clear both */
void user_copy(struct user *dst, const struct user *src);
int user_load(struct store_txn *t, const char *id, struct user *u);          /* 0 / STORE_NOTFOUND / -1 */
int user_load_handle(struct store_txn *t, const char *handle, struct user *u);
/* old_handle: the handle the index holds for u now (NULL for a new user),
 * kept as u's former handle (an alias); old_chosen: u chose it (see
 * user_handle_member) */
int user_save(struct store_txn *t, const struct user *u, const char *old_handle,
    int old_chosen);
int user_remove(struct store_txn *t, const struct user *u);
/* who holds `handle`, now or as a former handle (an alias): the config's
 * workspaces name handles, and they follow a renamed user. 0 / STORE_NOTFOUND */
int user_id_of_handle(struct store_txn *t, const char *handle, char id[SECRET_ID_LEN + 1]);
/* the user a config handle (workspace owner or member) means: as
 * user_id_of_handle, but never a handle its holder chose, now or before
 * (handle_self): membership is given by an admin, never gained by renaming */
int user_handle_member(struct store_txn *t, const char *handle, char id[SECRET_ID_LEN + 1]);
/* an admin creates a user: a former handle another user chose gives way
 * (1 released, 0 nothing to release, -1) */
int user_handle_release_chosen(struct store_txn *t, const char *handle);
/* *chosen: whoever holds handle (now or before) chose it; 0 / NOTFOUND / -1 */
int user_handle_chosen(struct store_txn *t, const char *handle, int *chosen);
/* a console password verifier, derived before the write txn */
struct user_pw {
	unsigned iter;
	uint8_t salt[16];
	uint8_t hash[32];
};
int user_pw_derive(struct user_pw *p, const char *pw, unsigned iterations);  /* wipe p */
void user_pw_apply(struct user *u, const struct user_pw *p);
/* none that any password matches (random, same cost to try): acctd import */
int user_pw_none(struct user_pw *p, unsigned iterations);
int user_set_password(struct user *u, const char *pw, unsigned iterations);
int user_check_password(const struct user *u, const char *pw);   /* 1 = right */
void user_burn_password_time(const char *pw, unsigned iterations); /* unknown handle */
struct json *user_json(const struct user *u);
/* user_json(u) printed (caller frees); memoized beside the user memo */
char *user_json_print(const struct user *u);
/* active admins by walking every user: O(users), for the checks below */
int user_count_admins(struct store_txn *t, size_t *n);
/* active admins from META "admins", kept by account.c in each change's txn
 * (O(1)); a store without the counter yet is counted instead */
int user_admins(struct store_txn *t, size_t *n);
/* after a change that made delta more (or fewer) active admins, in its txn;
 * with no counter yet the store is counted (the change included) */
int user_admins_adjust(struct store_txn *t, int delta);
/* at start: count once, in one txn, when the store has no counter (an
 * older store). 0 / -1 */
int user_admins_init(struct store *s);
/* handles in order after `after` ("" = from the start); *next "" when done.
 * Every page costs O(limit): the handle index is ordered and the walk
 * starts at `after`. q (lower case; NULL or "" = everyone): only users
 * whose handle or e-mail contains it; such a page examines at most
 * USER_SEARCH_BUDGET handles and may then hold fewer than limit items with
 * a *next to go on from (the answer stays fast on a large appliance). */
#define USER_SEARCH_BUDGET 100000
int user_list(struct store_txn *t, const char *after, const char *q, unsigned limit,
    struct json **items, char *next, size_t nextlen);

/* rec.c — compact binary records (sessions, tokens); JSON ones still read.
 * A writer grows its buffer (rec_free wipes it); a reader sets bad on any
 * overrun and the record is corrupt unless rec_done returns 0. */
struct rec {
	uint8_t *buf;
	size_t len, cap;
};
struct rec_in {
	const uint8_t *p;
	size_t left;
	int bad;
};
void rec_init(struct rec *w, uint8_t version);
void rec_free(struct rec *w);
void rec_u8(struct rec *w, uint8_t v);
void rec_i64(struct rec *w, int64_t v);
void rec_bytes(struct rec *w, const void *p, size_t n);
void rec_str(struct rec *w, const char *s);          /* NULL ok */
/* 0 when buf begins with version (a JSON record begins with '{'), else -1 */
int rec_open(struct rec_in *r, const void *buf, size_t len, uint8_t version);
uint8_t rec_get_u8(struct rec_in *r);
int64_t rec_get_i64(struct rec_in *r);
void rec_get_bytes(struct rec_in *r, void *out, size_t n);
/* into out[outlen] (NUL-terminated): 0, 1 for NULL (out ""), -1 too long */
int rec_get_str(struct rec_in *r, char *out, size_t outlen);
char *rec_get_strdup(struct rec_in *r);              /* caller frees; NULL = none */
int rec_done(const struct rec_in *r);                /* 0: read whole and intact */

/* session.c — console sessions; the id is stored only as an HMAC. */
#define SESSION_TOKEN_LEN 43       /* 32 random bytes, base64url */
#define SESSION_COOKIE "__Host-acctd_session"
#define SESSION_UA_MAX 256        /* the User-Agent kept: printable ASCII, cut */
#define SESSION_ID_LEN 32          /* the listed id: hex, not the cookie */
struct session {
	char user_id[SECRET_ID_LEN + 1];
	int64_t created_ms;
	int64_t last_seen;         /* s */
	char csrf[SESSION_TOKEN_LEN + 1];
	char ip[48];               /* "" for a session of an older build */
	char ua[SESSION_UA_MAX + 1];
};
/* ip and ua (the client's address and User-Agent, either NULL) are kept
 * for the sessions list */
int session_create(struct store_txn *t, const char *user_id, int64_t now_ms,
    const char *ip, const char *ua,
    char sid[SESSION_TOKEN_LEN + 1], char csrf[SESSION_TOKEN_LEN + 1]);
#define SESSION_EXPIRED 2
/* 0 / STORE_NOTFOUND / SESSION_EXPIRED (the record exists: delete it) / -1;
 * *stale set when last_seen should be written back (coalesced: at most
 * once a minute) */
int session_lookup(struct store_txn *t, const char *sid, int64_t now,
    int idle, int absolute, struct session *s, int *stale);
/* last_seen = now, re-read in t (a write txn): 0 / STORE_NOTFOUND when the
 * session was deleted meanwhile, and then it is not re-created / -1 */
int session_touch(struct store_txn *t, const char *sid, int64_t now);
/* Remove expired sessions, examining at most max records from cursor (all
 * zero = from the start; updated). *more: call again for the rest. */
int session_sweep(struct store_txn *t, int64_t now, int idle, int absolute,
    size_t max, uint8_t cursor[CRYPTO_SHA256_LEN], int *more, size_t *removed);
int session_delete(struct store_txn *t, const char *sid);
/* every session of user_id except `keep` (NULL = all) */
int session_delete_user(struct store_txn *t, const char *user_id, const char *keep);
/* user_id's live sessions, last seen first, as a JSON array (caller frees):
 * {id, created, last_seen, address, browser, user_agent, current}; current
 * is the one of current_sid (NULL: none). 0 / -1 */
int session_list(struct store_txn *t, const char *user_id, const char *current_sid,
    int64_t now, int idle, int absolute, struct json **items);
/* end user_id's session whose listed id is `id`; *browser (>= 64 bytes) and
 * *ip (>= 48) say which it was. 0 / STORE_NOTFOUND / -1 */
int session_end(struct store_txn *t, const char *user_id, const char *id,
    char *browser, size_t blen, char *ip, size_t iplen);

/* useragent.c — a short label ("Firefox 128 on Linux") from a User-Agent */
void useragent_label(const char *ua, char *out, size_t outlen);

/* limiter.c — the sign-in limiter (brute force) and KDF gate, in memory, never sleeps
 * (limiter_kdf_enter waits at most a second). See the file's comment. */
#define LIMITER_HANDLE_SLOTS 4096
#define LIMITER_ADDR_SLOTS 4096
struct limiter_ticket {
	int handle_slot;           /* -1: nothing reserved */
	int addr_slot;             /* -1: address not tracked */
};
enum limiter_result {
	LIMITER_OK = 0,              /* right password: the handle's failures reset */
	LIMITER_FAILED,              /* counted against handle and address */
	LIMITER_CANCELLED            /* never reached the check: not counted */
};
/* Reserve one attempt for handle from ip, before the KDF runs. 0: allowed,
 * t filled, and exactly one limiter_end must follow. Otherwise the seconds
 * to wait (>= 1): locked out, attempts in flight use up the budget, or the
 * handle table is full; nothing reserved. */
int limiter_begin(const char *handle, const char *ip, int64_t now,
    const struct conf *c, struct limiter_ticket *t);
void limiter_end(struct limiter_ticket *t, enum limiter_result res, int64_t now,
    const struct conf *c);
/* the address an attempt is counted under: IPv4 as is, IPv6 by its /64 */
void limiter_addr_key(const char *ip, char *out, size_t outlen);
void limiter_reset(void);                  /* forget every counter (tests) */
/* at most limiter_kdf_slots() password KDFs at once: 0 entered (call
 * limiter_kdf_leave after the KDF), -1 busy: answer 503 with Retry-After */
int limiter_kdf_enter(void);
void limiter_kdf_leave(void);
int limiter_kdf_slots(void);
/* fn(arg) in a KDF slot, on a KDF thread (lower priority than the request
 * threads), the caller waiting: 0 done, -1 busy (fn not called) */
int limiter_kdf_run(void (*fn)(void *), void *arg);
void limiter_kdf_stop(void);    /* the KDF threads end (after http_stop) */

/* rate.c — every user's write budget: a token bucket, in memory, never sleeps. */
/* spend one of user_id's tokens: 0 when there was one, else the seconds
 * until there is (nothing spent). NULL or "" user_id: always 0. */
int rate_take(const char *user_id, int64_t now_ms, int per_minute, int burst);

/* dbpass.c — the database password, sealed at rest, and its SCRAM verifier. */
#define DBPASS_LEN 29              /* 5 groups of 5 + 4 dashes, 125 bits */
#define DBPASS_SCRAM_ITER 4096     /* PostgreSQL's default scram_iterations */
struct dbpass {
	int64_t version;
	int64_t created_at;
	int64_t due_at;            /* scheduled rotation (rotate.c); 0 = none */
	char verifier[PUSHMSG_VERIFIER_MAX + 1];
};
int dbpass_scram_verifier(const char *pw, const uint8_t *salt, size_t saltlen,
    unsigned iter, char *out, size_t outlen);
/* a new password and its verifier, made before the write txn (the verifier
 * is 4,096 PBKDF2 iterations): a secret, dbpass_new_wipe it */
struct dbpass_new {
	char pw[DBPASS_LEN + 1];
	char verifier[PUSHMSG_VERIFIER_MAX + 1];   /* "": computed when first needed */
};
/* verifier 0: leave it for dbpass_verifier_fill (acctd import). 0 / -1 */
int dbpass_prepare(struct dbpass_new *n, int verifier);
void dbpass_new_wipe(struct dbpass_new *n);
/* n becomes user_id's password (version + 1, or 1); in the caller's txn */
int dbpass_rotate(struct store_txn *t, const char *user_id, int64_t now,
    const struct dbpass_new *n, int64_t *version);
/* d (read in t) without a verifier gets one, stored: slow, in the caller's
 * write txn; only for a record made without one. 0 / -1 */
int dbpass_verifier_fill(struct store_txn *t, const char *user_id, struct dbpass *d);
/* the verifiers ids' records lack, computed before the write txn that
 * stores them (a resync's batch of imported users). 0 / -1 */
int dbpass_verifiers_prepare(const char (*ids)[SECRET_ID_LEN + 1], size_t n);
/* 0 / STORE_NOTFOUND / -1; pw (when not NULL) gets the plaintext: wipe it;
 * d->verifier "" when it was stored without one */
int dbpass_get(struct store_txn *t, const char *user_id, struct dbpass *d,
    char *pw, size_t pwlen);
int dbpass_delete(struct store_txn *t, const char *user_id);
/* due_at recomputed for the user's period and the policy (rotate_due), the
 * index moved with it; in the caller's write txn. 0 / -1 */
int dbpass_reschedule(struct store_txn *t, const char *user_id);
void dbpass_mask(const char *pw, char *out, size_t outlen);

/* token.c — API tokens: format, checksum, HMAC at rest, records. */
#define TOKEN_SECRET_LEN 26        /* 130 bits */
#define TOKEN_CHECK_LEN 7          /* CRC32 in base32 */
#define TOKEN_LEN (4 + 20 + 1 + TOKEN_SECRET_LEN + TOKEN_CHECK_LEN)
#define TOKEN_TOUCH_EVERY 5        /* s between last_used writes per token */
/* what a token may call (the route table's scope column): everything the
 * user may; GET/HEAD routes only; the user's workspaces and who they are */
enum token_scope { TOKEN_SCOPE_FULL = 0, TOKEN_SCOPE_READ, TOKEN_SCOPE_CONNECT,
	TOKEN_SCOPE_COUNT };
struct token {
	char id[SECRET_ID_LEN + 1];
	char user_id[SECRET_ID_LEN + 1];
	char *title;               /* NULL = none */
	int active;
	char last4[5];
	uint8_t hmac[CRYPTO_SHA256_LEN];
	int64_t created_ms;
	int64_t updated_at;
	int64_t last_used_at;      /* 0 = never */
	char last_used_ip[48];
	int64_t expires_at;        /* 0 = never */
	int64_t version_id;
	enum token_scope scope;    /* records written before scopes read as full */
};
/* "full", "read", "connect"; NULL for a value out of range */
const char *token_scope_name(enum token_scope s);
/* the scope named s, or -1 */
int token_scope_parse(const char *s);
uint32_t token_crc32(const void *buf, size_t len);
int token_parse(const char *tok, char id[SECRET_ID_LEN + 1], char secret[TOKEN_SECRET_LEN + 1]);
int token_mint(char id[SECRET_ID_LEN + 1], char tok[TOKEN_LEN + 1], uint8_t hmac[CRYPTO_SHA256_LEN]);
void token_clear(struct token *k);
int token_load(struct store_txn *t, const char *id, struct token *k);
int token_save(struct store_txn *t, const struct token *k);
int token_remove(struct store_txn *t, const struct token *k);
int token_remove_user(struct store_txn *t, const char *user_id);
/* ids of user_id's tokens (caller frees *ids) */
int token_ids(struct store_txn *t, const char *user_id, char (**ids)[SECRET_ID_LEN + 1], size_t *n);
struct json *token_json(const struct token *k);
int token_verify(struct store_txn *t, const char *tok, int64_t now, struct token *k);
int token_touch_due(const char *id, int64_t now);

/* totp.c — two-factor sign-in: TOTP (RFC 6238; SHA-1, 6 digits, 30 s),
 * the record (sealed secret, last step, recovery code HMACs), sign-in
 * tickets. See the file's comment. */
#define TOTP_SECRET_LEN 20
#define TOTP_B32_LEN 32            /* base32 of the secret, no padding */
#define TOTP_STEP 30
#define TOTP_DIGITS 6
#define TOTP_RECOVERY_CODES 10
#define TOTP_RECOVERY_LEN 11       /* "xxxxx-xxxxx": 50 bits */
#define TOTP_TICKET_LEN 43         /* 32 random bytes, base64url */
#define TOTP_TICKET_TTL 300        /* s */
enum totp_state { TOTP_PENDING = 1, TOTP_ON };
struct totp_rec {                  /* holds the secret: totp_rec_wipe it */
	enum totp_state state;
	uint8_t secret[TOTP_SECRET_LEN];
	int64_t created_at, enabled_at;   /* s; enabled_at 0 while pending */
	int64_t last_step;         /* the last step accepted; 0 = none */
	size_t nrecovery;
	uint8_t recovery[TOTP_RECOVERY_CODES][CRYPTO_SHA256_LEN];
};
/* RFC 4226 HOTP-SHA1 of counter, digits 1..9 */
uint32_t totp_hotp(const uint8_t *key, size_t keylen, uint64_t counter, unsigned digits);
void totp_base32(const uint8_t *in, size_t n, char *out);   /* RFC 4648, unpadded */
int totp_code_parse(const char *s);          /* exactly 6 digits: the value, else -1 */
/* 1 when code is r's code of the step of now, or the one before or after,
 * and that step is later than r->last_step (*step gets it); else 0 */
int totp_match(const struct totp_rec *r, int code, int64_t now, int64_t *step);
/* r gets ten new recovery codes' HMACs, codes the codes (shown once: wipe) */
int totp_recovery_new(struct totp_rec *r, const char *user_id,
    char codes[TOTP_RECOVERY_CODES][TOTP_RECOVERY_LEN + 1]);
/* 1 when code (case, dash and spaces ignored) is one of r's, removed from r */
int totp_recovery_use(struct totp_rec *r, const char *user_id, const char *code);
int totp_secret_new(struct totp_rec *r);     /* pending, a fresh secret: 0 / -1 */
void totp_rec_wipe(struct totp_rec *r);
int totp_load(struct store_txn *t, const char *user_id, struct totp_rec *r); /* 0/NOTFOUND/-1 */
int totp_save(struct store_txn *t, const char *user_id, const struct totp_rec *r);
int totp_delete(struct store_txn *t, const char *user_id);   /* 0 also when none */
int totp_enabled(struct store_txn *t, const char *user_id);  /* 1 on, 0 not, -1 */
/* otpauth://totp/acctd:HANDLE?secret=…&issuer=acctd&… into out */
void totp_uri(const char *handle, const struct totp_rec *r, char *out, size_t outlen);
/* a sign-in ticket for u (its password was right): 0, or -1 when every
 * slot is taken or no randomness */
int totp_ticket_new(const struct user *u, int64_t now, char out[TOTP_TICKET_LEN + 1]);
struct totp_claim {
	int slot;
	char user_id[SECRET_ID_LEN + 1];
	uint8_t pw_hash[32];       /* the verifier the password matched */
};
/* claim tk for this request (no other may use it meanwhile): 0, or -1 when
 * unknown, expired or claimed; then exactly one totp_ticket_release */
int totp_ticket_claim(const char *tk, int64_t now, struct totp_claim *c);
#define TOTP_CLAIM_USED 1          /* signed in: the ticket is gone */
#define TOTP_CLAIM_FAILED 0        /* a wrong code: the ticket's tries go down */
#define TOTP_CLAIM_CANCELLED -1    /* never checked: as it was */
void totp_ticket_release(struct totp_claim *c, int outcome);
void totp_ticket_reset(void);      /* forget every ticket (tests) */

/*
 * account.c — every change to an account: create, update (profile and
 * handle), delete, disable, enable, token reset, console password change and
 * reset, database password rotation, tokens, sign-in and sign-out, audited
 * reads of a secret. Each account_* makes the change, its audit record and
 * its outbox entries in the caller's write transaction; on any result but
 * ACCOUNT_OK the caller aborts it (nothing was made). After a commit the
 * caller calls account_after_commit (DNS, push). The table of what each
 * change does to the nodes is at the top of account.c.
 */
struct account_txn {
	struct store_txn *t;       /* the write txn: the caller begins and ends it */
	struct audit_actor by;     /* who acts, as the audit record names them */
	int by_admin;              /* the actor is an administrator */
	const char *ua;            /* the request's User-Agent (sign-in), or NULL */
	unsigned after;            /* ACCOUNT_AFTER_*, gathered for account_after_commit */
	char why[128];             /* a result other than OK, FAILED, AUDIT_FAILED and
	                            * UNCHANGED: why, as the answer says it */
};
#define ACCOUNT_AFTER_DNS 1u       /* a workspace's DNS name may have moved */
#define ACCOUNT_AFTER_PUSH 2u      /* the outbox holds new work for the nodes */
#define ACCOUNT_AFTER_ROTATE 4u    /* a rotation may be due sooner (rotate.c) */
enum account_rc {
	ACCOUNT_FAILED = -1,       /* a write failed (store_full() says if the map is full) */
	ACCOUNT_OK = 0,
	ACCOUNT_UNCHANGED,         /* nothing to change, nothing written */
	ACCOUNT_READ_FAILED,       /* the store could not be read */
	ACCOUNT_AUDIT_FAILED,      /* the audit record could not be written */
	ACCOUNT_NO_RANDOM,         /* no randomness for a secret */
	ACCOUNT_TAKEN,             /* the handle is another user's, now or before */
	ACCOUNT_RESERVED,          /* the config names the handle: only an admin gives it */
	ACCOUNT_LAST_ADMIN,        /* it would leave no active administrator */
	ACCOUNT_SELF,              /* an administrator disabling their own account */
	ACCOUNT_STALE,             /* sign-in: the password or status changed meanwhile */
	ACCOUNT_TOKEN_LIMIT        /* the user holds tokens.max_per_user tokens */
};
/* ax->by (and by_admin) from u (NULL: anonymous); u and ip must outlive ax */
void account_actor(struct account_txn *ax, const struct user *u, const char *ip);
/* u: handle, email, display name, role, one-time flag and password verifier
 * set by the caller, db its database password from dbpass_prepare (the KDFs
 * run before the write lock); id, version and times are filled here.
 * source: the audit data's "source" (NULL: none). ACCOUNT_TAKEN */
int account_create(struct account_txn *ax, struct user *u, const char *source,
    const struct dbpass_new *db);
/* the first administrator (conf admin_*): 1 when it must still be created,
 * 0 done, -1 error; account_bootstrap creates it in its own txn: 0 / -1 */
int account_bootstrap_needed(void);
int account_bootstrap(const struct conf *c, const char *password);
struct account_profile {
	int set_display_name;      /* display_name given; NULL = none */
	const char *display_name;
	int set_avatar_url;        /* avatar_url given; NULL = none */
	const char *avatar_url;
	const char *handle;        /* folded; NULL or "" = keep */
	int set_rotate_days;       /* dbpass_rotate_every_days given */
	int rotate_days;
};
/* one "user.update" record for every field that differs; u is the new
 * state on ACCOUNT_OK. ACCOUNT_UNCHANGED / TAKEN / RESERVED / READ_FAILED */
int account_update(struct account_txn *ax, struct user *u, const struct account_profile *p);
int account_delete(struct account_txn *ax, const struct user *u);    /* LAST_ADMIN */
int account_disable(struct account_txn *ax, struct user *u);  /* SELF, LAST_ADMIN */
int account_enable(struct account_txn *ax, struct user *u);
int account_token_reset(struct account_txn *ax, struct user *u);
/* user_id's console password becomes p (user_pw_derive'd before the txn);
 * every session of the user ends except keep_sid (NULL = all). READ_FAILED */
int account_password_change(struct account_txn *ax, const char *user_id,
    const struct user_pw *p, const char *keep_sid);
/* p: a new one-time password, derived before the txn; sessions end */
int account_password_reset(struct account_txn *ax, struct user *u, const struct user_pw *p);
/* db (dbpass_prepare'd before the txn) becomes the database password: *d
 * and pw (wipe it) hold it on ACCOUNT_OK */
int account_dbpass_rotate(struct account_txn *ax, const struct user *u,
    const struct dbpass_new *db, struct dbpass *d, char *pw, size_t pwlen);
/* the same, due by the schedule (rotate.c): no actor, audit data
 * {"version":N,"source":"scheduled"} */
int account_dbpass_scheduled(struct account_txn *ax, const struct user *u,
    const struct dbpass_new *db);
/* *k (token_clear it) and tok (shown once, wipe it). READ_FAILED, TOKEN_LIMIT,
 * NO_RANDOM */
int account_token_create(struct account_txn *ax, const struct user *u, const char *title,
    int64_t expires, enum token_scope scope, struct token *k, char tok[TOKEN_LEN + 1]);
int account_token_set_active(struct account_txn *ax, const struct user *u, struct token *k,
    int active);               /* UNCHANGED */
int account_token_delete(struct account_txn *ax, const struct user *u, const struct token *k);
/* u: loaded before its password was checked. ACCOUNT_STALE */
int account_sign_in(struct account_txn *ax, const struct user *u,
    char sid[SESSION_TOKEN_LEN + 1], char csrf[SESSION_TOKEN_LEN + 1]);
/* the same after a second factor: the record's data says {"factor": factor}
 * ("totp", "recovery_code"; NULL: no data, as account_sign_in) */
int account_sign_in_factor(struct account_txn *ax, const struct user *u, const char *factor,
    char sid[SESSION_TOKEN_LEN + 1], char csrf[SESSION_TOKEN_LEN + 1]);
/* a change made by another module in ax->t (totp.c): its audit record,
 * subject u (NULL: none), data borrowed. ACCOUNT_OK / ACCOUNT_AUDIT_FAILED */
int account_record(struct account_txn *ax, const char *action, const struct user *subject,
    const struct json *data);
/* u: whom handle names (NULL: nobody) */
int account_sign_in_failed(struct account_txn *ax, const char *handle, const struct user *u);
int account_sign_out(struct account_txn *ax, const struct user *u, const char *sid);
/* end u's session listed as id ("session.end"); ACCOUNT_UNCHANGED: u has no
 * such session */
int account_session_end(struct account_txn *ax, const struct user *u, const char *id);
/* "audit.export" of u's log (NULL: the whole log); data names format, filters */
int account_audit_export(struct account_txn *ax, const struct user *u,
    const struct json *data);
/* action "user.password.read" / "user.workspace.reveal", data {"version":N} */
int account_secret_read(struct account_txn *ax, const struct user *u, const char *action,
    int64_t version);
/* the whole store was copied or replaced: "store.backup" / "store.restore",
 * data what the record says of it (backup.c, restore.c) */
int account_store_event(struct account_txn *ax, const char *action, const struct json *data);
void account_after_commit(const struct account_txn *ax);

/*
 * body.c — request bodies declared in tables (as rpcd's blobmsg policies):
 * per handler an array of fields, parsed and checked in one call that finds
 * every error at once. A body is one JSON object of at most HTTP_MAX_BODY
 * bytes; json_parse refuses malformed JSON, invalid UTF-8, nesting and
 * duplicate keys, so every field is given once at most. Messages:
 *   absent and BODY_REQUIRED          "required"
 *   wrong type (null unless nullable) "must be a string" / "must be an
 *                                     integer" / "must be true or false"
 *   string length (in characters)     "must be at most N characters",
 *                                     "… at least N …", "… N to M …"
 *   integer range                     "must be an integer from N to M"
 *   oneof                             "must be a, b or c"
 *   check                             its own message
 */
enum body_type { BODY_STRING = 0, BODY_INT, BODY_BOOL };
#define BODY_REQUIRED 1u
#define BODY_NULLABLE 2u           /* null is accepted: value .null */
#define BODY_MAX_FIELDS 8
#define BODY_MAX_ERRORS 20         /* unknown fields listed; one more counts the rest */
struct body_field {
	const char *name;          /* NULL ends the table */
	enum body_type type;
	unsigned flags;            /* BODY_REQUIRED, BODY_NULLABLE */
	int64_t min, max;          /* STRING: length in characters (max 0: any);
	                            * INT: the range (both 0: any) */
	const char *const *oneof;  /* STRING: the only values (NULL-terminated) */
	const char *(*check)(const char *s);   /* STRING: NULL when fine, else why not */
};
struct body_spec {
	const char *invalid;       /* the 400's detail when a field is wrong */
	int optional;              /* an empty body reads as {} */
	const struct body_field *fields;
};
struct body_value {
	int set;                   /* present in the body (also as null) */
	int null;
	const char *str;           /* points into the body: valid until body_free */
	int64_t num;
	int flag;
};
struct body {
	struct json *doc;
	struct body_value v[BODY_MAX_FIELDS];   /* in the order of spec->fields */
	char detail[128];          /* on -1: the problem's detail, */
	struct json *errors;       /* and its validation_errors (may be NULL) */
};
/* 0: b->v filled; -1: b->detail and b->errors say why. body_free either way */
int body_parse(const struct body_spec *spec, const char *buf, size_t len, struct body *b);
void body_free(struct body *b);
size_t body_chars(const char *s);    /* UTF-8 characters, as the limits count them */

/* api.c — authentication and authorization for routes, shared helpers. */
struct api_ctx {
	int authed;
	int via_cookie;
	struct user actor;
	uint64_t actor_txn;        /* store_txn_id of the read that loaded actor */
	char sid[SESSION_TOKEN_LEN + 1];
	char csrf[SESSION_TOKEN_LEN + 1];   /* the cookie session's CSRF token */
	enum token_scope scope;    /* a Bearer token's; FULL for a cookie session */
};
int api_authorize(struct http_req *r);           /* 0 go on; -1 replied */
void api_cleanup(struct http_req *r);
struct api_ctx *api_ctx(struct http_req *r);
/* 1 when the caller is the path's user u (not an admin acting on another) */
int api_is_self(struct http_req *r, const struct user *u);
/* r's body by spec; -1 after a 400 (b freed). body_free(b) after 0 */
int api_body(struct http_req *r, const struct body_spec *spec, struct body *b);
/* If-Match: <version_id> (quoted or weak or not); -1 after a 412 */
int api_if_match(struct http_req *r, int64_t version_id);
/* ?limit= (1-100, default 25); -1 after a 400 */
int api_limit(struct http_req *r, unsigned *limit);
/* append {location, message} */
void api_verr(struct json **verrs, const char *location, const char *message);
/* a 400 detail with one validation error {location, message}; returns -1 */
int api_invalid(struct http_req *r, const char *location, const char *message,
    const char *detail);
/* load the {handle} path user (case-folded) inside t; -1 after a 404/500 */
int api_path_user(struct http_req *r, struct store_txn *t, struct user *u);
/* a lookup's rc (0 / STORE_NOTFOUND / -1): 0, or -1 after a 404 saying
 * notfound or a 500 saying failed */
int api_found(struct http_req *r, int rc, const char *notfound, const char *failed);
/* begin a txn (write or read) and load the path user; -1 after a reply,
 * nothing left open */
int api_path_begin(struct http_req *r, int write, struct store_txn **t, struct user *u);
/* the path user, read in a txn of its own; -1 after a reply (u cleared) */
int api_path_read(struct http_req *r, struct user *u);
/* ax (no txn yet) for a change by the caller */
void api_account_init(struct http_req *r, struct account_txn *ax);
/* an account change by the caller: begin ax's write txn (detail of the 500
 * when it cannot begin; NULL = "cannot open the store"); -1 after a 500 */
int api_account_begin(struct http_req *r, struct account_txn *ax, const char *detail);
/* the same, and the path user; -1 after a reply, nothing left open */
int api_account_user(struct http_req *r, struct account_txn *ax, struct user *u);
/* api_commit, then account_after_commit; -1 after a 429/5xx */
int api_account_commit(struct http_req *r, struct account_txn *ax);
/* an account_* result other than ACCOUNT_OK, ax->t aborted: a refusal is a
 * 409 (401 for ACCOUNT_STALE) saying ax->why, a read 500, a failed write
 * api_write_failed(detail) */
void api_account_failed(struct http_req *r, struct account_txn *ax, int rc, const char *detail);
/* the end of a change: rc ACCOUNT_OK commits (api_account_commit),
 * ACCOUNT_UNCHANGED aborts (nothing to commit), else api_account_failed.
 * 0: reply with the change's result; -1: replied */
int api_account_done(struct http_req *r, struct account_txn *ax, int rc, const char *detail);
/* commit a change or an audited read; -1 after a 5xx, or a 429 when the
 * signed-in user's write budget (rate.c) is spent (t aborted) */
int api_commit(struct http_req *r, struct store_txn *t);
/* after a failed write in this thread's txn (already aborted or to be): 507
 * "the store is full: detail" when store_full(), else 500 detail */
void api_write_failed(struct http_req *r, const char *detail);
void api_reply_list(struct http_req *r, struct json *items, const char *next);
void api_reply_user(struct http_req *r, int status, const struct user *u);
void api_reply_empty(struct http_req *r);        /* 204, no-store */
void api_set_cookie(struct http_req *r, int status, const struct json *body,
    const char *sid, int64_t max_age);
int api_handle_fold(const char *in, char *out, size_t outlen);  /* lower-case + validate */
/* field checks for body tables: NULL when fine, else the message */
const char *api_handle_error(const char *s);      /* as api_handle_fold */
/* control characters only: the length is the table's (100) */
const char *api_display_name_error(const char *s);
const char *api_avatar_url_error(const char *s);
const char *api_email_error(const char *s);
const char *api_password_error(const char *s);
/* RFC 3339 UTC ("…Z" or "+00:00", optional fraction) -> unix seconds; -1 */
int64_t api_time_parse(const char *s);

/* api_user.c, api_admin.c, api_cred.c — handlers (see routes.c) */
void api_login(struct http_req *r);
void api_logout(struct http_req *r);
void api_actor_get(struct http_req *r);
void api_user_get(struct http_req *r);
void api_user_patch(struct http_req *r);
void api_user_delete(struct http_req *r);
void api_user_token_reset(struct http_req *r);
void api_user_console_password(struct http_req *r);
void api_user_audit(struct http_req *r);
void api_admin_user_create(struct http_req *r);
void api_admin_user_list(struct http_req *r);
void api_admin_user_disable(struct http_req *r);
void api_admin_user_enable(struct http_req *r);
void api_admin_user_password_reset(struct http_req *r);
void api_admin_audit(struct http_req *r);
void api_admin_audit_verify(struct http_req *r);
void api_admin_audit_forward(struct http_req *r);
void api_admin_nodes(struct http_req *r);
void api_openapi(struct http_req *r);
void api_password_get(struct http_req *r);
void api_password_rotate(struct http_req *r);
void api_workspace_list(struct http_req *r);
void api_token_list(struct http_req *r);
void api_token_create(struct http_req *r);
void api_token_get(struct http_req *r);
void api_token_patch(struct http_req *r);
void api_token_delete(struct http_req *r);
void api_audit_list(struct http_req *r, const char *identity_id);  /* NULL = all */
/* ?action= ?actor= ?since= ?until= into f; -1 after a 400 */
int api_audit_filter(struct http_req *r, struct audit_filter *f);
/* api_session.c, api_export.c — sessions list, audit log export (issue 15 C) */
void api_session_list(struct http_req *r);
void api_session_end(struct http_req *r);
void api_user_audit_export(struct http_req *r);
void api_admin_audit_export(struct http_req *r);

/*
 * backup.c — the portable backup (JSON lines, docs/backup.md): written from
 * one read txn, checked line by line when read back; acctd backup and
 * GET /api/v0/admin/backup. restore.c — acctd restore.
 */
#define BACKUP_FORMAT "acctd-backup"
#define BACKUP_FORMAT_VERSION 1
/* the backup key (HKDF of the appliance key) and its public id (16 hex) */
int backup_key(const uint8_t appkey[CRYPTO_KEY_LEN], uint8_t key[CRYPTO_KEY_LEN],
    char key_id[17]);
/* a piece of the stream: 0, or -1 to stop (the backup fails) */
typedef int (*backup_write_fn)(void *arg, const void *buf, size_t len);
/* the store as t (a read txn) sees it, in pieces of about 64 KiB; 0 / -1 */
int backup_write(struct store_txn *t, const uint8_t appkey[CRYPTO_KEY_LEN], int64_t now,
    backup_write_fn fn, void *arg, uint64_t *records);
struct backup_header {
	char acctd_version[32];
	char created_at[32];
	uint32_t schema;
	uint64_t head_seq;
	char head_hash[65];
	uint64_t counts[STORE_DB_COUNT];
};
struct backup_in {             /* a file being read: backup_in_init, then each line */
	uint8_t key[CRYPTO_KEY_LEN];
	char key_id[17];
	uint8_t digest[CRYPTO_SHA256_LEN];
	int line;                  /* the last line read (1 = the header) */
	int ended;                 /* the trailer was read and is right */
	uint64_t records;
	uint64_t counts[STORE_DB_COUNT];
	struct backup_header h;    /* from line 1 */
};
struct backup_rec {            /* one record line: backup_rec_free it */
	enum store_db db;
	uint8_t *k, *v;
	size_t kl, vl;
};
enum { BACKUP_LINE_HEADER = 0, BACKUP_LINE_RECORD, BACKUP_LINE_END };
int backup_in_init(struct backup_in *in, const uint8_t appkey[CRYPTO_KEY_LEN]);
void backup_in_wipe(struct backup_in *in);
/* one line without its newline: BACKUP_LINE_* (a RECORD fills r), or -1
 * with "line N: reason" in err. The first line must be the header. */
int backup_in_line(struct backup_in *in, const char *line, size_t len,
    struct backup_rec *r, char *err, size_t errlen);
/* after the last line: 0, or -1 ("line N: … truncated") without a trailer */
int backup_in_end(struct backup_in *in, char *err, size_t errlen);
void backup_rec_free(struct backup_rec *r);
/* acctd backup|restore -c FILE [--format jsonl|lmdb] ARG (--format only
 * with lmdb not NULL: *lmdb 1 for LMDB's own copy): 0, or -1 (usage) */
int backup_args(int argc, char *argv[], const char **conf_path, const char **file, int *lmdb);
int backup_main(int argc, char *argv[]);        /* acctd backup -c FILE OUT */
int restore_main(int argc, char *argv[]);       /* acctd restore -c FILE IN */
/* the open steps acctd's subcommands share: config, user, key, the store
 * (store 0: not opened, and key_file must exist). 0, or -1 after a line on
 * stderr */
int backup_open(const char *prog, const char *conf_path, int store);
void api_admin_backup(struct http_req *r);
/* api_user.c's sign-in pieces api_totp.c shares */
int api_json_ctype(struct http_req *r);          /* 0, or -1 after a 415 */
void api_login_wait(struct http_req *r, int wait);   /* 429: locked out */
void api_kdf_busy(struct http_req *r);           /* 503: no KDF slot */
int api_password_ok(const struct user *u, const char *pw);  /* 1 / 0 / -1 busy */
/* the 200 of a sign-in: the cookie, {user, csrf_token} */
void api_login_reply(struct http_req *r, const struct user *u, const char *sid,
    const char *csrf);
/* api_totp.c — two-factor sign-in (issue 15 part B) */
/* after a right password: 0 when u has no second factor (sign in), 1 after
 * answering with a ticket, -1 after a 500 */
int api_totp_login(struct http_req *r, const struct user *u);
/* login.require_2fa_for_admins: 0 go on, -1 after a 403 */
int api_totp_gate(struct http_req *r, const struct api_ctx *c);
void api_login_totp(struct http_req *r);
void api_totp_get(struct http_req *r);
void api_totp_enrol(struct http_req *r);
void api_totp_confirm(struct http_req *r);
void api_totp_disable(struct http_req *r);
void api_admin_totp_reset(struct http_req *r);

/* web.c — the admin page, embedded at build time (tools/embed-web.sh). */
struct web_asset {
	const char *path;          /* "/index.html", "/app.js", "/app.<hash>.js", … */
	const char *ctype;
	const char *etag;          /* quoted; the gzip form's is this + "-gz" */
	const unsigned char *data;
	size_t len;
	const unsigned char *gz;   /* the same, gzip-compressed at build time; NULL */
	size_t gzlen;
	int immutable;             /* a content-hashed name: cached for a year */
};
extern const struct web_asset web_assets[];
void web_index(struct http_req *r);
void web_asset(struct http_req *r);
size_t web_total_size(void);
/* If-None-Match (RFC 9110 13.1.2, weak comparison): 1 when it matches etag */
int web_etag_match(const char *inm, const char *etag);
/* Accept-Encoding allows gzip (q > 0) */
int web_accepts_gzip(const char *ae);

/* dns.c — workspace names for the appliance's DNS server (hosts format). */
int dns_refresh(void);       /* after any change that moves a name; cheap when nothing moved */
/* w's DNS name for owner (its owner's current handle, workspace_owner):
 * "{owner}-{workspace}.{dns.domain}"; the hosts file and the API show it.
 * out holds DNS_NAME_MAX bytes: a handle, a workspace handle (23), the
 * domain (253), two separators and the NUL */
#define DNS_NAME_MAX (NAME_HANDLE_MAX + 1 + 23 + 1 + 253 + 1)
void dns_name(const struct conf *c, const struct conf_workspace *w,
    const char *owner, char *out, size_t outlen);

/* workspace.c — who is in a configured workspace (see the file's comment). */
/* the handles w names: 0 its owner, then its members; NULL past the end */
const char *workspace_handle(const struct conf_workspace *w, size_t i);
/* 1 when w names handle (as written in the config, whoever holds it) */
int workspace_names(const struct conf_workspace *w, const char *handle);
/* 1 when a handle w names means user_id (now or before a rename; never a
 * handle its holder chose); 0 also on a store error */
int workspace_member(struct store_txn *t, const struct conf_workspace *w,
    const char *user_id);
/* the owner's current handle, or the configured one when nobody holds it */
void workspace_owner(struct store_txn *t, const struct conf_workspace *w,
    char owner[NAME_HANDLE_MAX + 1]);
/*
 * Every workspace of c resolved at once, as t sees the store: who each
 * handle means (workspace_member) and each owner's current handle
 * (workspace_owner). Shared between requests while c and the store (read
 * txns' store_txn_id) stay the same. Thread-safe; never NULL; give it back
 * with workspace_map_put. i indexes c->workspaces.
 */
struct workspace_map;
const struct workspace_map *workspace_map_get(struct store_txn *t, const struct conf *c);
void workspace_map_put(const struct workspace_map *m);
int workspace_map_member(const struct workspace_map *m, size_t i, const char *user_id);
const char *workspace_map_owner(const struct workspace_map *m, size_t i);

/*
 * outbox.c — the per (node, user) credential state to push. Changes queue
 * it in their own txn (outbox_recompute_user); push.c's threads take what is
 * due and settle each delivery through the calls below, each its own txn
 * (thread-safe), never touching the keys or the records themselves.
 */
/* recompute what every node must know of user_id, in the change's txn */
int outbox_recompute_user(struct store_txn *t, const char *user_id);
struct json *outbox_propagation(struct store_txn *t, const char *user_id);
/*
 * The membership a config describes for the outbox (nodes; workspaces:
 * handle, owner, members, node), canonical: the same for two configs that
 * differ only in order or in other settings. outbox_members_of never
 * returns NULL; _json's string (caller frees) is what STORE_DB_META keeps
 * as what the outbox was last synced against; _parse reads it back (0, or
 * -1 with *out NULL). _free takes NULL.
 */
struct outbox_members;
struct outbox_members *outbox_members_of(const struct conf *c);
char *outbox_members_json(const struct outbox_members *m);
int outbox_members_parse(const char *buf, size_t len, struct outbox_members **out);
void outbox_members_free(struct outbox_members *m);
/* the users held by a handle that n's nodes serve otherwise under n than
 * under o; o NULL: every user. *ids (caller frees) in key order, each once.
 * 0 / -1 */
int outbox_members_moved(struct store_txn *t, const struct outbox_members *o,
    const struct outbox_members *n, char (**ids)[SECRET_ID_LEN + 1], size_t *nids);
/* before n becomes the running config (at start, before any request; on
 * SIGHUP, before the swap): record that the outbox is being synced to n's
 * membership, so a change recomputed under n before outbox_resync finishes
 * is found again after a crash. Nothing is written when n changes nothing.
 * 0 / -1 */
int outbox_resync_intent(const struct conf *n);
/* after a start or a reload (why: "start", "reload"; the log lines say it):
 * the users whose workspace membership moved between the membership last
 * recorded in the store and app_conf()'s (every user when none is recorded),
 * OUTBOX_RESYNC_BATCH to a write txn, the last one recording the new
 * membership; nothing written when none moved and it is recorded already.
 * stop (NULL: never) is asked before each batch but the first: true stops
 * there, the next start goes on. Main thread. 0 done / 1 stopped / -1 */
#define OUTBOX_RESYNC_BATCH 32
int outbox_resync(const char *why, int (*stop)(void));
#define OUTBOX_BATCH 16
struct outbox_entry {
	struct pushmsg msg;        /* to send as it is; holds the verifier */
	int64_t attempts;          /* failed deliveries so far */
};
struct outbox_due {
	struct outbox_entry due[OUTBOX_BATCH];   /* due at `now`, in key order */
	size_t ndue;
	size_t pending;            /* waiting for delivery (due or later) */
	size_t refused;            /* refused for good: shown, not retried */
	char last_refusal[200];    /* the reason of the last refused one */
	int64_t next_at;           /* the earliest later attempt (0: none);
	                            * `now` when more than a batch is due */
};
/* node's queue at `now`; -1 (d empty) when the store cannot be read.
 * Wipe d with outbox_due_wipe (verifiers). */
int outbox_due(const char *node, int64_t now, struct outbox_due *d);
void outbox_due_wipe(struct outbox_due *d);
/* The outcome of delivering e. Each acts only while the queued entry still
 * holds e's version (a newer state replaced it: nothing to record), except
 * that a confirmation is always remembered as what the node holds. */
int outbox_confirm(const char *node, const struct outbox_entry *e);
/* failed: one more attempt, error kept, next try after delay seconds */
int outbox_retry(const char *node, const struct outbox_entry *e,
    const char *error, int64_t delay);
/* refused for good (code): kept and shown with error, not retried */
int outbox_refuse(const char *node, const struct outbox_entry *e,
    enum pushmsg_code code, const char *error);
/* the node holds `held`, newer than e's version (acctd's store was
 * restored): the entry gets a version past it, due now; *now_version that
 * version, or 0 when the entry had moved on */
int outbox_requeue_past(const char *node, const struct outbox_entry *e,
    int64_t held, int64_t *now_version);

/*
 * rotate.c — scheduled rotation of the database password: the period, the
 * due-time index (STORE_DB_META, moved in the change's txn) and one thread
 * that rotates what is due (see the file's comment).
 */
int64_t rotate_day_seconds(void);        /* 86400, or ACCTD_TEST_DAY_SECONDS */
/* the period in days for a user's setting (0: the policy's); 0 = none */
int rotate_days(int user_days);
/* when user_id's password made at created_at is due (0: never), in t */
int rotate_due(struct store_txn *t, const char *user_id, int64_t created_at, int64_t *due);
/* the index entry of user_id from old_due to due (0: none), in t. 0 / -1 */
int rotate_index_move(struct store_txn *t, const char *user_id, int64_t old_due, int64_t due);
int rotate_start(void);
void rotate_wake(void);                  /* the policy or a period changed */
void rotate_stop(void);

/* push.c — one delivery thread per node; never blocks a handler. */
int push_start(void);
void push_stop(void);
void push_wake(void);                    /* after a commit that queued work */
struct json *push_nodes_json(void);      /* for /admin/nodes */
void push_metrics(FILE *f);
/* http_tls.c — the HTTPS server's TLS settings (civetweb's mbedTLS). */
/* ssl_conf: civetweb's mbedtls_ssl_config (its init_ssl callback, patch
 * 0001), before the first connection: TLS 1.2-1.3 and session tickets with
 * in-memory keys from crypto_random(). 0, or -1 (logged). */
int http_tls_setup(void *ssl_conf);
void http_tls_shutdown(void);            /* after mg_stop(): wipes the ticket keys */
/* tls.cert/tls.key for every new handshake: at start (-1 with err), and
 * on SIGHUP (a bad pair is logged and the previous one kept; -1).
 * handshake_ms: the longest a handshake can take (http.request_timeout_ms) */
int http_tls_load(const char *cert, const char *key, char *err, size_t errlen);
int http_tls_reload(const char *cert, const char *key, int handshake_ms);
int64_t http_tls_not_after(void);        /* the current certificate's notAfter */

/* push_tls.c — the push client: mutual TLS with the node's certificate pinned. */
/* push.client_cert/key and every nodes[i].cert of c: at start, before the
 * privilege drop (-1 with err), and on SIGHUP (reload = 1: a file that
 * fails is logged, its previous one kept; nodes the start did not have
 * are skipped) */
int push_tls_load(const struct conf *c, int reload, char *err, size_t errlen);
void push_tls_shutdown(void);            /* after push_stop() */
void push_tls_metrics(FILE *f);          /* acctd_tls_cert_expiry_seconds */
/* POST body to node's https://host:port/path; *status and resp
 * (NUL-terminated). Resumes the node's last TLS 1.3 session when it has one
 * (see push_tls.c); calls for one node are serialised. */
int push_tls_post(const char *node, const char *url, const char *path,
    const char *body, int *status, char *resp, size_t resplen, char *err,
    size_t errlen);
/* the TLS client settings push_tls.c and forward_conn.c share: TLS 1.2-1.3,
 * the peer verified against anchors only, no tickets; drbg seeded with pers
 * from entropy. 0 or -1 with err */
struct mbedtls_ssl_config;
struct mbedtls_ctr_drbg_context;
struct mbedtls_entropy_context;
int push_tls_client_conf(struct mbedtls_ssl_config *conf,
    struct mbedtls_ctr_drbg_context *drbg, struct mbedtls_entropy_context *entropy,
    const char *pers, struct mbedtls_x509_crt *anchors, char *err, size_t errlen);
/* a TCP connection to a's host (an IP address or from /etc/hosts) within a
 * few seconds, also forward_conn.c's: the socket (blocking), or -1 with err */
int push_tls_connect(const struct addr *a, char *err, size_t errlen);

/*
 * forward.c — the audit trail to a SIEM (audit.forward): one thread sends
 * every audit record, in order, as RFC 5424 syslog to the collector and
 * keeps its cursor in the store (see the file's comment).
 */
int forward_start(void);
void forward_stop(void);
/* a record was committed: cheap, any thread (store_txn_on_commit) */
void forward_wake(void);
struct json *forward_json(void);         /* GET /api/v0/admin/audit/forward */
void forward_metrics(FILE *f);
/* what a message names besides the record: RFC 5424's HOSTNAME and APP-NAME */
struct forward_ident {
	const char *hostname;      /* PRINTUSASCII, at most 255; "-" = none */
	const char *app_name;      /* PRINTUSASCII, at most 48 */
};
/* the stored record rec[0..len) as one RFC 5424 message framed by octet
 * counting (RFC 6587 3.4.1, "LEN SP MSG"), appended to out. -1 (nothing
 * written) when rec is not a record. FORWARD_MSG_MAX: the longest message,
 * RFC 5425's minimum a receiver must take and rsyslog's default */
#define FORWARD_MSG_MAX 8192
int forward_format(const struct forward_ident *id, const char *rec, size_t len,
    FILE *out);

/* forward_conn.c — forward.c's stream to the collector: TCP, or TLS with
 * the CA of audit.forward.ca. Waits check *stop. One thread per conn. */
struct forward_conn;
int forward_conn_open(const char *url, const char *ca, const _Atomic int *stop,
    struct forward_conn **out, char *err, size_t errlen);
int forward_conn_write(struct forward_conn *c, const char *buf, size_t len,
    char *err, size_t errlen);
/* -1 with err when the collector closed the connection or it broke */
int forward_conn_alive(struct forward_conn *c, char *err, size_t errlen);
/* bytes written so far, and how many of them the collector's TCP stack
 * acknowledged */
uint64_t forward_conn_written(const struct forward_conn *c);
uint64_t forward_conn_acked(struct forward_conn *c);
void forward_conn_close(struct forward_conn *c);     /* NULL ok */

#endif /* ACCTD_H */

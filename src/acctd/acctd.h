/*
 * acctd.h — the gateway daemon (src/acctd/): one internal header, grouped by
 * the file that implements each part; it is also the module map. What the
 * node agent shares with it is in common.h.
 */
#ifndef ACCTD_H
#define ACCTD_H

#include "common.h"

/* conf.c — the config file: its rule tables on cfg.c. See DESIGN.md "Configuration". */
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
	int tokens_max_per_user;
	int sessions_idle_timeout;
	int sessions_absolute_timeout;
	int pbkdf2_iterations;
	int login_max_failures;
	int login_window;
	int login_lockout;
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
	STORE_DB_COUNT
};
struct store;
struct store_txn;
/* creates dir (0700) when missing; -1 with a sentence in err */
int store_open(const char *dir, unsigned map_size_mb, struct store **out,
    char *err, size_t errlen);
void store_close(struct store *s);           /* every txn must have ended; NULL ok */
int store_txn_begin(struct store *s, int write, struct store_txn **out);
int store_txn_commit(struct store_txn *t);   /* frees t, also on failure */
void store_txn_abort(struct store_txn *t);   /* frees t; NULL ok */
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
uint32_t store_schema_version(struct store *s);
/* write the schema version in t (a migration); store_schema_version tells
 * it once t has committed */
int store_schema_set(struct store_txn *t, uint32_t version);
/*
 * 1 when the last failed write call of this thread (put, del, commit) failed
 * because the map is full (MDB_MAP_FULL, MDB_TXN_FULL): the change cannot be
 * made until an operator raises map_size_mb. Reset by store_txn_begin(write).
 */
int store_full(void);
struct store_usage {
	uint64_t map_bytes;        /* the map's size (map_size_mb, or the file's) */
	uint64_t page_bytes;
	uint64_t high_water_bytes; /* pages ever used: the file's extent */
	uint64_t used_bytes;       /* high water minus LMDB's free list */
};
int store_usage(struct store *s, struct store_usage *u);   /* thread-safe */
void store_metrics(struct store *s, FILE *f);   /* acctd_store_* for /metrics */

/* http.c — civetweb over mbedTLS; the only user of civetweb. */
#define HTTP_MAX_BODY (64 * 1024)
#define HTTP_MAX_PARAMS 4
enum http_auth { HTTP_AUTH_ANYONE = 0, HTTP_AUTH_USER, HTTP_AUTH_SELF, HTTP_AUTH_ADMIN,
	HTTP_AUTH_METRICS };       /* admins, or the metrics.token_sha256 bearer token */
struct http_req;
typedef void (*http_handler_fn)(struct http_req *r);
struct http_route {
	const char *method;
	const char *pattern;       /* "/api/v0/user/{handle}"; {x} = one segment */
	enum http_auth auth;
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
/* problem+json; verrs may be NULL (an array of {location, message}) */
void http_problem(struct http_req *r, int status, const char *detail,
    struct json *verrs);
void http_problem_h(struct http_req *r, int status, const char *detail,
    struct json *verrs, const char *extra_headers);
/* metrics counters */
uint64_t http_requests_total(void);

/* app.c — the daemon's shared state, read by every handler. */
struct app {
	struct conf *_Atomic conf;  /* swapped on SIGHUP; old ones kept until exit */
	struct store *store;
	uint8_t key[CRYPTO_KEY_LEN];  /* the appliance key */
	struct http_server *http;
	int64_t started_at;
};
extern struct app app;
const struct conf *app_conf(void);
int app_reload(const char *path);       /* 0 kept the new file, -1 kept the old */
void app_free_confs(void);
int64_t app_now(void);                  /* unix seconds */
int64_t app_now_ms(void);

/* bootstrap.c — the first administrator's password file. */
/* Read the first line of the password file, or create it (0600) with a new
 * random password and set *created. out is a secret: wipe after use. */
int bootstrap_password(const char *path, char *out, size_t outlen, int *created,
    char *err, size_t errlen);

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
/* publish the head outside the store: a log line; acctd_audit_* metrics */
void audit_head_log(struct store *s, const char *when);
void audit_metrics(struct store *s, FILE *f);

/* util: RFC 3339 UTC time ("2026-11-28T04:10:00Z") into buf (>= 21 bytes) */
void time_rfc3339(int64_t t, char *buf, size_t len);

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
	int64_t version_id;
	int64_t created_at;        /* s */
	int64_t updated_at;        /* s */
};
void user_clear(struct user *u);               /* frees strings, wipes the verifier */
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
int user_set_password(struct user *u, const char *pw, unsigned iterations);
int user_check_password(const struct user *u, const char *pw);   /* 1 = right */
void user_burn_password_time(const char *pw, unsigned iterations); /* unknown handle */
struct json *user_json(const struct user *u);
int user_count_admins(struct store_txn *t, size_t *n);   /* active admins */
/* handles in order after `after` ("" = from the start); *next "" when done.
 * Every page costs O(limit): the handle index is ordered and the walk
 * starts at `after`. q (lower case; NULL or "" = everyone): only users
 * whose handle or e-mail contains it; such a page examines at most
 * USER_SEARCH_BUDGET handles and may then hold fewer than limit items with
 * a *next to go on from (the answer stays fast on a large appliance). */
#define USER_SEARCH_BUDGET 100000
int user_list(struct store_txn *t, const char *after, const char *q, unsigned limit,
    struct json **items, char *next, size_t nextlen);

/* session.c — console sessions; the id is stored only as an HMAC. */
#define SESSION_TOKEN_LEN 43       /* 32 random bytes, base64url */
#define SESSION_COOKIE "__Host-acctd_session"
struct session {
	char user_id[SECRET_ID_LEN + 1];
	int64_t created_ms;
	int64_t last_seen;         /* s */
	char csrf[SESSION_TOKEN_LEN + 1];
};
int session_create(struct store_txn *t, const char *user_id, int64_t now_ms,
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

/* rate.c — every user's write budget: a token bucket, in memory, never sleeps. */
/* spend one of user_id's tokens: 0 when there was one, else the seconds
 * until there is (nothing spent). NULL or "" user_id: always 0. */
int rate_take(const char *user_id, int64_t now_ms, int per_minute, int burst);

/* api.c — authentication and authorization for routes, shared helpers. */
struct api_ctx {
	int authed;
	int via_cookie;
	struct user actor;
	char sid[SESSION_TOKEN_LEN + 1];
	char csrf[SESSION_TOKEN_LEN + 1];   /* the cookie session's CSRF token */
};
int api_authorize(struct http_req *r);           /* 0 go on; -1 replied */
void api_cleanup(struct http_req *r);
struct api_ctx *api_ctx(struct http_req *r);
void api_actor(struct http_req *r, struct audit_actor *a);
/* parse r's body as an object of only the allowed keys; -1 after a 400 */
int api_body(struct http_req *r, const char *const *allowed, struct json **out);
/* ?limit= (1-100, default 25); -1 after a 400 */
int api_limit(struct http_req *r, unsigned *limit);
/* append {location, message} */
void api_verr(struct json **verrs, const char *location, const char *message);
/* load the {handle} path user (case-folded) inside t; -1 after a 404/500 */
int api_path_user(struct http_req *r, struct store_txn *t, struct user *u);
/* commit a change or an audited read; -1 after a 5xx, or a 429 when the
 * signed-in user's write budget (rate.c) is spent (t aborted) */
int api_commit(struct http_req *r, struct store_txn *t);
/* after a failed write in this thread's txn (already aborted or to be): 507
 * "the store is full: detail" when store_full(), else 500 detail */
void api_write_failed(struct http_req *r, const char *detail);
/* the audit record of a change, in its transaction; -1: abort the change */
int api_audit(struct http_req *r, struct store_txn *t, const char *action,
    const struct user *subject, const struct json *data);
void api_reply_list(struct http_req *r, struct json *items, const char *next);
void api_set_cookie(struct http_req *r, int status, const struct json *body,
    const char *sid, int64_t max_age);
int api_handle_fold(const char *in, char *out, size_t outlen);  /* lower-case + validate */
/* "" is allowed by this check: callers store it as NULL (no display name) */
const char *api_display_name_error(const char *s);
const char *api_avatar_url_error(const char *s);
const char *api_email_error(const char *s);
const char *api_password_error(const char *s);
/* RFC 3339 UTC ("…Z" or "+00:00", optional fraction) -> unix seconds; -1 */
int64_t api_time_parse(const char *s);

/* api_user.c, api_admin.c — handlers (see routes.c) */
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
/* the first admin: 1 when it must still be created, 0 done, -1 error */
int api_bootstrap_needed(void);
int api_bootstrap_admin(const struct conf *c, const char *password);

/* dbpass.c — the database password, sealed at rest, and its SCRAM verifier. */
#define DBPASS_LEN 29              /* 5 groups of 5 + 4 dashes, 125 bits */
#define DBPASS_SCRAM_ITER 4096     /* PostgreSQL's default scram_iterations */
struct dbpass {
	int64_t version;
	int64_t created_at;
	char verifier[PUSHMSG_VERIFIER_MAX + 1];
};
int dbpass_scram_verifier(const char *pw, const uint8_t *salt, size_t saltlen,
    unsigned iter, char *out, size_t outlen);
/* a new password for user_id (version + 1, or 1); in the caller's txn */
int dbpass_rotate(struct store_txn *t, const char *user_id, int64_t now, int64_t *version);
/* 0 / STORE_NOTFOUND / -1; pw (when not NULL) gets the plaintext: wipe it */
int dbpass_get(struct store_txn *t, const char *user_id, struct dbpass *d,
    char *pw, size_t pwlen);
int dbpass_delete(struct store_txn *t, const char *user_id);
void dbpass_mask(const char *pw, char *out, size_t outlen);

/* token.c — API tokens: format, checksum, HMAC at rest, records. */
#define TOKEN_SECRET_LEN 26        /* 130 bits */
#define TOKEN_CHECK_LEN 7          /* CRC32 in base32 */
#define TOKEN_LEN (4 + 20 + 1 + TOKEN_SECRET_LEN + TOKEN_CHECK_LEN)
#define TOKEN_TOUCH_EVERY 5        /* s between last_used writes per token */
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
};
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

/* outbox.c — the per (node, user) credential state to push. */
/* recompute what every node must know of user_id, in the change's txn */
int outbox_recompute_user(struct store_txn *t, const char *user_id);
int outbox_put_json(struct store_txn *t, char kind, const char *node,
    const char *user_id, const struct json *j);
int outbox_del(struct store_txn *t, char kind, const char *node, const char *user_id);
/* the node holds `held` > the queued `version`: re-version the entry past it */
int outbox_requeue_past(struct store_txn *t, const char *node, const char *user_id,
    int64_t version, int64_t held, int64_t *now_version);
struct json *outbox_propagation(struct store_txn *t, const char *user_id);
int outbox_resync_all(void);    /* after a config reload */

/* push.c — one delivery thread per node; never blocks a handler. */
int push_start(void);
void push_stop(void);
void push_wake(void);                    /* after a commit that queued work */
struct json *push_nodes_json(void);      /* for /admin/nodes */
void push_metrics(FILE *f);
/* tls.c — mbedTLS's TLS: the server's settings (for civetweb), and the push
 * client: mutual TLS with the node's certificate pinned. */
/* ssl_conf: civetweb's mbedtls_ssl_config (its init_ssl callback, patch
 * 0001), before the first connection: TLS 1.2-1.3 and session tickets with
 * in-memory keys from crypto_random(). 0, or -1 (logged). */
int tls_server_setup(void *ssl_conf);
void tls_server_shutdown(void);          /* after mg_stop(): wipes the ticket keys */
/* POST body to https://host:port/path; *status and resp (NUL-terminated) */
int tls_post(const char *url, const char *pinned_cert, const char *client_cert,
    const char *client_key, const char *path, const char *body, int *status,
    char *resp, size_t resplen, char *err, size_t errlen);

#endif /* ACCTD_H */

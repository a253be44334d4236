/*
 * agent.h — acctd-agent, the node side of the push (docs/agent.md): the
 * program that ships to every workspace node. It links src/common/ and
 * src/agent/ only: no LMDB, no civetweb, no page, no handlers.
 */
#ifndef ACCTD_AGENT_H
#define ACCTD_AGENT_H

#include "common.h"

/* agent_conf.c — its config file, on cfg.c as conf.c: FILE:LINE: setting: reason */
#define AGENT_HOOK_DEFAULT "/usr/local/libexec/acctd/apply-postgres"
struct agent_conf {
	char *path;
	char *listen;             /* "host:port", "*:port", "[v6]:port" */
	char *tls_cert;           /* the node certificate (PEM) */
	char *tls_key;            /* its key: refused when group/world readable */
	char *acctd_cert;         /* the one client certificate accepted (PEM) */
	char *state_file;
	char *hook;
	char **hook_env;          /* "NAME=value", file order, NULL-terminated */
	size_t nhook_env;
	enum log_level log_level;
	char *user;               /* "" = do not change user */
};
/* as conf_load: every error to errs, -1 with *out NULL; else 0 (caller frees) */
int agent_conf_load(const char *path, FILE *errs, struct agent_conf **out);
void agent_conf_free(struct agent_conf *c);

/*
 * agent_state.c — the applied version and role per user id, persisted in
 * state_file (JSON, rewritten atomically: temp + fsync + rename + fsync of
 * the directory) so that a restart never accepts an older version; and,
 * saved before a hook that may leave the user's role under a new name,
 * that name ("pending"), so that a crash before the outcome is saved
 * forgets no role. Every call is thread-safe; agent_state_apply runs one
 * change (a struct pushmsg, common.h) at a time.
 */
/*
 * The hook: make the node match. action "present", "disabled" or
 * "absent"; old_role "" or the names this user's role may have now (the
 * role saved before, then any pending name: a present whose outcome was
 * never saved), one space between, never role itself; verifier NULL
 * unless present. 0 when applied; -1 with a one-line reason (never a
 * secret) in err; or a refusal, with its reason: the node will not apply
 * this state while it stands, so retrying it does not help.
 */
#define AGENT_HOOK_NOT_MANAGED 4   /* role exists and acctd did not create it */
#define AGENT_HOOK_PRIVILEGED 5    /* a managed role became privileged */
typedef int (*agent_hook_fn)(void *arg, const char *action, const char *role,
    const char *old_role, const char *verifier, char *err, size_t errlen);
enum agent_apply {
	AGENT_APPLIED = 0,    /* newer: the intent saved, the hook ran, then the version */
	AGENT_REPLAY,         /* the version already applied: nothing done */
	AGENT_OLDER,          /* older than the applied one: nothing done */
	AGENT_FAILED,         /* hook or save failed (err): nothing saved but the intent */
	AGENT_REUSED,         /* the applied version, but another state: nothing done */
	AGENT_NOT_MANAGED,    /* the hook refused (err): nothing saved */
	AGENT_PRIVILEGED      /* the hook refused (err): nothing saved */
};
struct agent_state;
/* load path ("{}" written when it does not exist); -1 with a sentence in err */
int agent_state_open(const char *path, struct agent_state **out, char *err,
    size_t errlen);
void agent_state_free(struct agent_state *s);      /* NULL ok */
/* 0 and the applied version and role ("" after absent) / 1 when unknown
 * (or nothing applied yet, only a pending name) */
int agent_state_get(struct agent_state *s, const char *user_id,
    int64_t *version, char role[NAME_HANDLE_MAX + 1]);
size_t agent_state_count(struct agent_state *s);
/* *applied gets the version the node holds afterwards */
enum agent_apply agent_state_apply(struct agent_state *s,
    const struct pushmsg *ch, agent_hook_fn hook, void *arg,
    int64_t *applied, char *err, size_t errlen);

/* agent_hook.c — runs the hook: fork + execve, no shell, clean environment */
#define AGENT_HOOK_TIMEOUT_MS 30000
struct agent_hook {
	const char *path;
	char *const *env;         /* "NAME=value" from hook_env, NULL-terminated */
	int timeout_ms;           /* then the hook's process group is killed */
};
/* an agent_hook_fn; arg is a struct agent_hook */
int agent_hook_run(void *arg, const char *action, const char *role,
    const char *old_role, const char *verifier, char *err, size_t errlen);

/* agent_req.c — the one request of a connection: POST /v1/state */
#define AGENT_MAX_BODY 8192
#define AGENT_MAX_HEAD 8192
struct agent_io {            /* its functions log their own failures */
	void *ctx;
	int (*read)(void *ctx, void *buf, size_t len);   /* > 0, 0 at EOF, -1 */
	int (*write)(void *ctx, const void *buf, size_t len);  /* all or -1 */
};
/* the body is read by pushmsg_decode (common.h): its reason is the 400's */
/* read, validate, apply and answer one request; returns the status sent */
int agent_req_serve(const struct agent_io *io, struct agent_state *s,
    agent_hook_fn hook, void *arg, const char *peer);

/*
 * agent_tls.c — the mbedTLS server side: TLS 1.2, the node certificate, and
 * a client certificate required to be byte for byte acctd_cert. One struct
 * agent_tls for the process: handshakes run on agent_conn.c's poll thread
 * only (an mbedTLS key is not for two handshakes at once, see
 * toolchain/mbedtls_config.h); an authenticated
 * connection is then read and written by one worker.
 */
#define AGENT_TLS_TIMEOUT_MS 10000   /* accept to end of request; an answer's write */
#define AGENT_TLS_DONE 0
#define AGENT_TLS_WANT_READ 1
#define AGENT_TLS_WANT_WRITE 2
struct agent_tls;
struct agent_tls_conn;
/* reads the key (as root, before dropping privileges); -1 with err */
int agent_tls_new(const struct agent_conf *c, struct agent_tls **out,
    char *err, size_t errlen);
void agent_tls_free(struct agent_tls *t);          /* drops a reference; NULL ok */
int64_t agent_tls_not_after(struct agent_tls *t);  /* tls.cert's notAfter */
int64_t agent_tls_now_ms(void);                    /* CLOCK_MONOTONIC */
/* a connection on fd (non-blocking; taken over: closed by agent_tls_close),
 * to be done by deadline (agent_tls_now_ms); peer ("ip:port") names it in
 * log lines. Nothing of TLS is allocated before its first bytes. */
int agent_tls_conn_new(struct agent_tls *t, int fd, const char *peer,
    int64_t deadline, struct agent_tls_conn **out);
int agent_tls_fd(const struct agent_tls_conn *c);
const char *agent_tls_peer(const struct agent_tls_conn *c);
/* one step, never blocking: AGENT_TLS_DONE (the client is acctd),
 * AGENT_TLS_WANT_READ / _WRITE (poll, call again), -1 with err */
int agent_tls_handshake(struct agent_tls_conn *c, char *err, size_t errlen);
/* agent_io functions, after AGENT_TLS_DONE: they wait up to the deadline
 * and log their own failures and timeouts */
int agent_tls_read(void *conn, void *buf, size_t len);
int agent_tls_write(void *conn, const void *buf, size_t len);
void agent_tls_close(struct agent_tls_conn *c);    /* close_notify if done; NULL ok */

/*
 * agent_conn.c — connections: one poll thread accepts and runs every
 * handshake without blocking; only a connection whose client certificate is
 * acctd_cert reaches a worker (AGENT_WORKERS), which reads its request and
 * applies it. Connections still in their handshake are bounded (in all and
 * per client address); when full, the oldest of them is dropped, never the
 * newcomer, so acctd's next connection always gets in.
 */
#define AGENT_WORKERS 4
#define AGENT_MAX_PENDING 256        /* connections before their handshake ends */
#define AGENT_MAX_PER_ADDR 32        /* of those, from one client address */
/* listen_fd is bound and listening; threads start; takes tls's reference;
 * -1 with err */
int agent_conn_start(int listen_fd, struct agent_tls *tls, struct agent_state *st,
    agent_hook_fn hook, void *hook_arg, char *err, size_t errlen);
/* SIGHUP: later connections use tls (its reference taken); the previous one
 * lives until its last connection closes */
void agent_conn_set_tls(struct agent_tls *tls);
/* stop accepting, drop handshakes, cut requests still being read, let one
 * being applied finish and answer; returns when every thread has ended;
 * drops the agent_tls */
void agent_conn_stop(void);

#endif /* ACCTD_AGENT_H */

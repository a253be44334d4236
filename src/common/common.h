/*
 * common.h — what both programs share: acctd (the gateway daemon, src/acctd/)
 * and acctd-agent (the node agent, src/agent/). Nothing here links LMDB or
 * civetweb; the files behind it are in src/common/.
 *
 * Conventions of the whole tree: every function carries its file's prefix.
 * Functions return 0 on success and -1 (or a documented error code) on
 * failure; the caller decides what to do. Pointers marked "caller frees"
 * transfer ownership; every *_free() accepts NULL.
 */
#ifndef ACCTD_COMMON_H
#define ACCTD_COMMON_H

#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#define ACCTD_VERSION "0.1.0"

#if defined(__GNUC__)
#define ACCTD_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define ACCTD_NORETURN __attribute__((noreturn))
#else
#define ACCTD_PRINTF(f, a)
#define ACCTD_NORETURN
#endif

/*
 * Byte order: integers in store keys and values are big-endian, so that
 * LMDB's byte order is their numeric order. n is 1..8 bytes; be_get of
 * fewer than 8 gives the value zero-extended.
 */
static inline void
be_put(uint8_t *b, size_t n, uint64_t v)
{
	for (size_t i = n; i > 0; i--, v >>= 8)
		b[i - 1] = (uint8_t)v;
}

static inline uint64_t
be_get(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = v << 8 | b[i];
	return v;
}

/* log.c — stderr in the foreground, syslog otherwise. Never pass a secret. */
enum log_level { LOG_LEVEL_ERROR = 0, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };
void log_init(const char *ident, int to_stderr, enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
void log_err(const char *fmt, ...) ACCTD_PRINTF(1, 2);
void log_warn(const char *fmt, ...) ACCTD_PRINTF(1, 2);   /* appends strerror(errno) */
void log_warnx(const char *fmt, ...) ACCTD_PRINTF(1, 2);
void log_info(const char *fmt, ...) ACCTD_PRINTF(1, 2);
void log_notice(const char *fmt, ...) ACCTD_PRINTF(1, 2);  /* at every level */
void log_debug(const char *fmt, ...) ACCTD_PRINTF(1, 2);
void fatal(const char *fmt, ...) ACCTD_PRINTF(1, 2) ACCTD_NORETURN;  /* + strerror(errno) */
void fatalx(const char *fmt, ...) ACCTD_PRINTF(1, 2) ACCTD_NORETURN;

/* mem.c — allocation that never returns NULL (aborts loudly instead). */
void *x_malloc(size_t n);
void *x_calloc(size_t n, size_t size);
void *x_realloc(void *p, size_t n);
char *x_strdup(const char *s);
char *x_asprintf(const char *fmt, ...) ACCTD_PRINTF(1, 2);

/* priv.c — the user to run as, and dropping to it (fatal on failure). */
struct passwd;
struct passwd *priv_getpw(const char *name);   /* /etc/passwd, no NSS */
void priv_drop(const struct passwd *pw);

/*
 * daemon.c — the start-up acctd and acctd-agent share: the command line
 *   PROG -c FILE [-d] [-s]   |   PROG -t -c FILE   |   PROG -V
 * and, once the config is loaded, logging, signals, entropy and the user to
 * drop to. Each main() keeps what differs: what it binds, opens and serves.
 */
struct daemon {
	const char *prog;	/* "acctd", "acctd-agent": usage, -V, log ident */
	const char *path;	/* -c FILE */
	int check;		/* -t: load FILE, print "ok", exit 0 */
	int debug;		/* -d: log at debug, whatever log_level says */
	int use_syslog;		/* -s */
	sigset_t signals;	/* SIGTERM, SIGINT, SIGHUP (daemon_start) */
	struct passwd *pw;	/* the user to drop to; NULL: stay (daemon_start) */
};
/* -V prints "PROG VERSION" and exits 0; a bad command line prints the
 * usage and exits 2 */
/* more: the program's other command lines for the usage, or NULL */
void daemon_args(struct daemon *d, const char *prog, const char *more, int argc,
    char *argv[]);
/*
 * Log to stderr (syslog with -s) at level (debug with -d); block d->signals
 * in this thread and so in every thread started later (main takes them with
 * sigwait), ignore SIGPIPE; fatal without entropy. As root: d->pw is user
 * (fatal when there is no such user), or with user "" a warning.
 */
void daemon_start(struct daemon *d, enum log_level level, const char *user);

/*
 * crypto.c — every use of mbedTLS crypto. Secrets are wiped by the caller.
 * Everything here is thread-safe once crypto_init has returned 0.
 */
#define CRYPTO_KEY_LEN 32
#define CRYPTO_SHA256_LEN 32
#define CRYPTO_GCM_NONCE_LEN 12
#define CRYPTO_GCM_TAG_LEN 16
#define CRYPTO_SEAL_OVERHEAD (CRYPTO_GCM_NONCE_LEN + CRYPTO_GCM_TAG_LEN)
int crypto_init(void);                 /* -1 when the OS has no entropy: fail closed */
void crypto_shutdown(void);
/* thread-safe CTR_DRBG; -1 (buf wiped) before crypto_init or on any error */
int crypto_random(void *buf, size_t len);
void crypto_wipe(void *buf, size_t len);
int crypto_equal(const void *a, const void *b, size_t len); /* constant time; 1 = equal */
void crypto_sha256(const void *data, size_t len, uint8_t out[CRYPTO_SHA256_LEN]);
void crypto_hmac_sha256(const uint8_t *key, size_t keylen, const void *data,
    size_t len, uint8_t out[CRYPTO_SHA256_LEN]);
/* HMAC-SHA1: TOTP codes (RFC 6238) only, never a new design */
#define CRYPTO_SHA1_LEN 20
void crypto_hmac_sha1(const uint8_t *key, size_t keylen, const void *data,
    size_t len, uint8_t out[CRYPTO_SHA1_LEN]);
/* An HMAC-SHA256 key made ready once (its two pad blocks hashed), for a
 * key used on every request: crypto_hmac_sha256_ready then hashes two
 * blocks fewer than crypto_hmac_sha256 and allocates nothing; same output.
 * It is key material: crypto_wipe it with the key. */
struct crypto_hmac_key {
	uint64_t opaque[32];       /* two SHA-256 contexts (crypto.c) */
};
void crypto_hmac_key_init(struct crypto_hmac_key *k, const uint8_t *key, size_t keylen);
void crypto_hmac_sha256_ready(const struct crypto_hmac_key *k, const void *data,
    size_t len, uint8_t out[CRYPTO_SHA256_LEN]);
/* iterations >= 1; -1 on a bad argument. Two SHA-256 compressions an
 * iteration (the HMAC pads are hashed once). */
int crypto_pbkdf2_sha256(const void *pw, size_t pwlen, const uint8_t *salt,
    size_t saltlen, unsigned iterations, uint8_t *out, size_t outlen);
/* 1 when PBKDF2 runs on the CPU's SHA instructions (x86-64 SHA extensions);
 * enable 0 / 1 turns that off / back on (tests, to check both paths), -1
 * only asks */
int crypto_sha256_accel(int enable);
/* no salt; info NULL = ""; outlen <= 255 * CRYPTO_SHA256_LEN */
int crypto_hkdf_sha256(const uint8_t *ikm, size_t ikmlen, const char *info,
    uint8_t *out, size_t outlen);
/*
 * AES-256-GCM with a fresh random nonce per call. out must hold
 * ptlen + CRYPTO_SEAL_OVERHEAD bytes: nonce || ciphertext || tag; it must not
 * overlap pt. ad (may be NULL when adlen is 0) is authenticated, not stored.
 */
int crypto_seal(const uint8_t key[CRYPTO_KEY_LEN], const void *ad, size_t adlen,
    const void *pt, size_t ptlen, uint8_t *out);
/*
 * out holds inlen - CRYPTO_SEAL_OVERHEAD bytes. -1 when the tag does not
 * verify (tampered, wrong key or wrong ad) or inlen is too short; out is then
 * wiped.
 */
int crypto_open(const uint8_t key[CRYPTO_KEY_LEN], const void *ad, size_t adlen,
    const uint8_t *in, size_t inlen, uint8_t *out);

/*
 * cfg.c — the libconfig rule engine both programs' files use, and the only
 * file that includes libconfig.h. A program declares its settings in
 * cfg_rule tables (CFG_INT(...) … CFG_END) that fill its own struct, and
 * keeps only its cross-field checks. One pass reports every error, each one
 * line "FILE:LINE: setting: reason" (reasons listed in cfg.c); a setting
 * that fails is left NULL or -1 so that cross-field checks skip it.
 */
enum cfg_kind {
	CFG_KIND_INT,		/* int in [min, max] */
	CFG_KIND_BOOL,		/* int 0 / 1 from true / false */
	CFG_KIND_STR,		/* char *, per flags and check */
	CFG_KIND_LEVEL,		/* enum log_level from its name */
	CFG_KIND_STRS,		/* char ** + size_t count: array or list of strings */
	CFG_KIND_MAP,		/* group of NAME = "value" into "NAME=value" strings
				 * (char **, NULL-terminated, + size_t count);
				 * check tests each NAME */
	CFG_KIND_GROUP,		/* members in their own table, same base struct */
	CFG_KIND_LIST		/* list of groups, each into a new element struct */
};
#define CFG_REQ		0x01	/* must be present */
#define CFG_EMPTY	0x02	/* "" allowed: means off / unchanged */
#define CFG_ABS		0x04	/* an absolute path (when not "") */
#define CFG_NONEMPTY	0x08	/* CFG_KIND_STRS: at least one element */
/* a syntax check: NULL when s is fine, else the reason */
typedef const char *(*cfg_check_fn)(const char *s);
struct cfg_rule {
	const char *name;		/* NULL ends a table */
	enum cfg_kind kind;
	int flags;
	size_t off;			/* the value in the base struct */
	size_t noff;			/* STRS, MAP, LIST: the count */
	int min, max;			/* INT */
	int def;			/* INT, LEVEL: default */
	const char *sdef;		/* STR, STRS (its one element): default */
	cfg_check_fn check;		/* STR, STRS elements, MAP names */
	const char *dup;		/* STRS: reason for a repeat, + "VALUE" */
	const struct cfg_rule *sub;	/* GROUP, LIST members */
	size_t size;			/* LIST: element size */
	size_t lineoff;			/* LIST: the element's int line */
};
/* T: the struct the field f is in; d: the default */
#define CFG_INT(T, n, f, fl, lo, hi, d) { .name = (n), .kind = CFG_KIND_INT,	\
	.flags = (fl), .off = offsetof(T, f), .min = (lo), .max = (hi), .def = (d) }
#define CFG_BOOL(T, n, f, d) { .name = (n), .kind = CFG_KIND_BOOL,		\
	.off = offsetof(T, f), .def = (d) }
#define CFG_STR(T, n, f, fl, chk, d) { .name = (n), .kind = CFG_KIND_STR,	\
	.flags = (fl), .off = offsetof(T, f), .check = (chk), .sdef = (d) }
#define CFG_STRS(T, n, f, nf, fl, chk, dupr, d) { .name = (n),		\
	.kind = CFG_KIND_STRS, .flags = (fl), .off = offsetof(T, f),		\
	.noff = offsetof(T, nf), .check = (chk), .dup = (dupr), .sdef = (d) }
#define CFG_MAP(T, n, f, nf, chk) { .name = (n), .kind = CFG_KIND_MAP,	\
	.off = offsetof(T, f), .noff = offsetof(T, nf), .check = (chk) }
#define CFG_LEVEL(T, n, f, d) { .name = (n), .kind = CFG_KIND_LEVEL,		\
	.off = offsetof(T, f), .def = (d) }
#define CFG_GROUP(n, fl, s) { .name = (n), .kind = CFG_KIND_GROUP,		\
	.flags = (fl), .sub = (s) }
#define CFG_LIST(T, n, f, nf, E, s) { .name = (n), .kind = CFG_KIND_LIST,	\
	.off = offsetof(T, f), .noff = offsetof(T, nf), .sub = (s),		\
	.size = sizeof(E), .lineoff = offsetof(E, line) }
#define CFG_END { .name = NULL }
struct cfg;				/* one file being read */
/*
 * Read path (libconfig syntax, @include allowed) into base: first every
 * field the rules name gets its default, then the file's values; then
 * check(x, base) adds the cross-field errors (check may be NULL). Every
 * error goes to errs (NULL: count only). 0, or -1 when there was any;
 * base is filled as far as it could be either way (cfg_release frees it).
 */
int cfg_load(const char *path, FILE *errs, const struct cfg_rule *rules,
    void *base, void (*check)(struct cfg *x, const void *base));
void cfg_release(const struct cfg_rule *rules, void *base);
/* for cross-field checks; path is dotted ("sessions.idle_timeout") */
int cfg_has(const struct cfg *x, const char *path);
int cfg_is_list(const struct cfg *x, const char *path);  /* or an empty array */
/* one error about setting name, at the line of the setting at path (NULL
 * or absent: line 1 of the file) */
void cfg_err(struct cfg *x, const char *path, const char *name,
    const char *fmt, ...) ACCTD_PRINTF(4, 5);
/* one error about list[i].member, at the member, else at list[i] */
void cfg_err_elem(struct cfg *x, const char *list, size_t i,
    const char *member, const char *fmt, ...) ACCTD_PRINTF(5, 6);

/*
 * addr.c — "host:port" as the config files and node URLs write an address:
 * "10.0.0.1:443", "*:443", "gw.example:443", "[fd00::1]:443".
 */
#define ADDR_HOST_MAX 255
#define ADDR_EFORM (-1)		/* not host:port or [v6]:port */
#define ADDR_EPORT (-2)		/* the form is right, the port not 1..65535 */
struct addr {
	char host[ADDR_HOST_MAX + 1];	/* without the brackets */
	int v6;				/* was "[v6]": host is an IPv6 literal */
	unsigned port;
};
/*
 * Split at the last ':' (or after "]"); the port is 1+ digits. 0;
 * ADDR_EFORM when s has neither form, the host is empty, too long or (in
 * brackets) no IPv6 literal; ADDR_EPORT with a->host filled in. A host
 * without brackets is not checked further: the caller knows what it allows.
 */
int addr_split(const char *s, struct addr *a);
/* a listen address (host an IPv4 address, "*" or [v6]): NULL, or the reason
 * as the config files word it */
const char *addr_listen_check(const char *s);
/* a checked listen address as a socket address; -1 when it is none */
int addr_listen_sockaddr(const char *s, struct sockaddr_storage *ss,
    socklen_t *len);
/*
 * A node's host: an IP address, or a name from /etc/hosts, read here. No
 * getaddrinfo(): in the static ARM binaries it needs glibc's NSS modules,
 * which the box does not have, and node addresses do not come from DNS.
 * Up to max addresses (with port) into ss/lens; how many (0: none).
 */
int addr_resolve(const char *host, unsigned port, struct sockaddr_storage *ss,
    socklen_t *lens, size_t max);

/*
 * file.c — files that must survive a crash or must stay secret: the
 * appliance key, private key files, state rewritten whole.
 */
/*
 * The appliance key file: CRYPTO_KEY_LEN random bytes. Created 0600 when
 * missing (file and directory fsynced; the directory must exist); refused
 * (-1, reason in err, key wiped) when a symbolic link, group/world
 * accessible, not a regular file, or of the wrong size.
 */
int file_key_load(const char *path, uint8_t key[CRYPTO_KEY_LEN], char *err,
    size_t errlen);
/*
 * Private key files (TLS): -1 with reason when missing, not a regular file or
 * group/world accessible. Symbolic links are followed (certbot's live/ links).
 */
int file_secret_check(const char *path, char *err, size_t errlen);
/* fsync the directory holding path, so a new entry in it survives a crash;
 * 0 or -1 with errno */
int file_fsync_dir(const char *path);
/*
 * Replace path with buf[0..len) (mode for a new file): PATH.tmp, fsync,
 * rename, fsync of the directory; a crash leaves the old or the new file.
 * -1 with the reason in err (PATH.tmp removed).
 */
int file_write_atomic(const char *path, const void *buf, size_t len,
    unsigned mode, char *err, size_t errlen);

/*
 * cred.c — a certificate chain and its private key, or a pinned
 * certificate alone (key NULL), read and checked together: the key file
 * private (file_secret_check), a private key, matching the certificate.
 * Errors name the setting: "tls.key: FILE: permission denied", "tls.key:
 * FILE: is a certificate, not a private key", "tls.key: FILE does not
 * match tls.cert FILE". A cred is immutable and reference counted (any
 * thread may drop the last reference, which wipes the key).
 */
struct cred;
struct mbedtls_x509_crt;
struct mbedtls_pk_context;
int cred_load(const char *cert, const char *key, const char *cert_name,
    const char *key_name, struct cred **out, char *err, size_t errlen);
/* now within notBefore..notAfter; -1 with "NAME: expired on …" */
int cred_check_time(const struct cred *c, const char *name, char *err,
    size_t errlen);
int64_t cred_not_after(const struct cred *c);     /* Unix time */
struct mbedtls_x509_crt *cred_crt(struct cred *c);
struct mbedtls_pk_context *cred_key(struct cred *c);  /* NULL: pinned only */
int cred_same(const struct cred *a, const struct cred *b); /* same first DER */
struct cred *cred_ref(struct cred *c);            /* NULL stays NULL */
void cred_unref(struct cred *c);                  /* NULL ok */
/*
 * A slot is a struct cred * that a reload replaces: get returns a new
 * reference (cred_unref it when done), set takes c's reference and drops
 * the slot's old one (which lives on while others hold it). One mutex for
 * every slot: both calls are a few instructions.
 */
struct cred *cred_slot_get(struct cred **slot);
void cred_slot_set(struct cred **slot, struct cred *c);

/* json.c — request and response bodies (cJSON, included only here). */
struct json;                                /* an object, array or value */
struct json *json_object(void);
struct json *json_array(void);
void json_free(struct json *j);
/* setters copy their arguments; adding to an object/array takes ownership of v */
void json_set_str(struct json *o, const char *k, const char *v);   /* v NULL: null */
struct json *json_string(const char *v);     /* a string value (v NULL: null) */
void json_set_int(struct json *o, const char *k, int64_t v);
void json_set_bool(struct json *o, const char *k, int v);
void json_set(struct json *o, const char *k, struct json *v);
void json_push(struct json *a, struct json *v);
char *json_print(const struct json *j);      /* compact; caller frees */
/*
 * Parse a request body strictly: valid UTF-8, one JSON value, nesting at most
 * JSON_MAX_DEPTH, no duplicate keys. -1 with a short reason in err.
 */
#define JSON_MAX_DEPTH 16
int json_parse(const char *buf, size_t len, struct json **out, char *err, size_t errlen);
/* the same; key gets the member a field-level error is about ("" if none) */
int json_parse_at(const char *buf, size_t len, struct json **out, char *err,
    size_t errlen, char *key, size_t keylen);
int json_utf8_valid(const char *s, size_t len);
/* accessors: NULL / -1 when absent or of another type */
int json_is_object(const struct json *j);
struct json *json_get(const struct json *o, const char *k);
const char *json_str(const struct json *j);
int json_int(const struct json *j, int64_t *out);
int json_bool(const struct json *j, int *out);
int json_is_null(const struct json *j);
/* iterate an object's members: returns the next member after prev (NULL = first) */
struct json *json_next(const struct json *o, struct json *prev, const char **key);
/* iterate an array's items: the next one after prev (NULL = first) */
struct json *json_item_next(const struct json *a, struct json *prev);

/* secret.c — random identifiers and secrets, and their encodings. */
#define SECRET_ID_LEN 22           /* "u_" / "t_" + 20 chars of [0-9a-v] */
int secret_id(char out[SECRET_ID_LEN + 1], const char *prefix);  /* 100 random bits */
int secret_id_valid(const char *s, const char *prefix);
void secret_hex(const uint8_t *in, size_t n, char *out);        /* out: 2n+1 */
int secret_unhex(const char *in, uint8_t *out, size_t n);       /* exactly 2n hex chars */
void secret_b64url(const uint8_t *in, size_t n, char *out);     /* unpadded; out: 4n/3+3 */
void secret_b64(const uint8_t *in, size_t n, char *out);        /* standard, padded */
int secret_unb64(const char *in, uint8_t *out, size_t outcap, size_t *outlen);
/* "xxxxx-xxxxx-…": groups of 5 chars, 5 bits each (Crockford base32,
 * lowercase: no i, l, o, u), so URL-safe and unambiguous. 0 or -1. */
int secret_readable(char *out, size_t outlen, unsigned groups);

/* name.c — the user handle: the role name on the nodes and a DNS label. */
#define NAME_HANDLE_MAX 39
/* ^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){0,38}$ */
int name_handle_valid(const char *handle);

/* status.c — the reason phrase of an HTTP status both programs answer */
const char *status_title(int status);

/*
 * pushmsg.c — the push protocol's two messages (docs/agent.md "Protocol"),
 * defined once: acctd encodes a state and decodes the answer, the agent
 * decodes the state and encodes the answer. No I/O: bytes in, a struct or
 * a reason out.
 */
#define PUSHMSG_VERIFIER_MAX 160
enum pushmsg_state {
	PUSHMSG_ABSENT = 0,       /* no role: deleted, or no workspace there */
	PUSHMSG_PRESENT,          /* the role, LOGIN, with the verifier */
	PUSHMSG_DISABLED          /* the role kept, no LOGIN */
};
/* what a node must hold for one user: the body of POST /v1/state */
struct pushmsg {
	char user_id[SECRET_ID_LEN + 1];
	int64_t version;                           /* >= 1 */
	enum pushmsg_state state;
	char role[NAME_HANDLE_MAX + 1];            /* present only, else "" */
	char verifier[PUSHMSG_VERIFIER_MAX + 1];   /* present only; wipe after use */
};
/* a SCRAM-SHA-256 verifier as PostgreSQL stores it: 1 when well formed */
int pushmsg_verifier_valid(const char *v);
/* "present", "disabled", "absent"; pushmsg_state_parse: 0, or -1 for another word */
const char *pushmsg_state_name(enum pushmsg_state st);
int pushmsg_state_parse(const char *s, enum pushmsg_state *st);
/* the body as JSON (compact; role and verifier only when present). It
 * carries the verifier: caller wipes and frees. */
char *pushmsg_encode(const struct pushmsg *m);
/*
 * The agent's strict reading: exactly the fields of the state, each to its
 * rule. -1 with the 400 reason "field: reason" in err (a field name from
 * the body shows only [A-Za-z0-9_-]) and *m wiped; 0 with *m filled.
 */
int pushmsg_decode(const char *body, size_t len, struct pushmsg *m,
    char *err, size_t errlen);

/* the agent's answer: why a node refused a state it could read */
enum pushmsg_code {
	PUSHMSG_CODE_NONE = 0,
	PUSHMSG_CODE_OLDER_VERSION,    /* 409: it holds a newer version */
	PUSHMSG_CODE_VERSION_REUSED,   /* 409: this version, with another state */
	PUSHMSG_CODE_ROLE_NOT_MANAGED, /* 422: the role exists, acctd did not make it */
	PUSHMSG_CODE_ROLE_PRIVILEGED,  /* 422: a managed role became privileged */
	PUSHMSG_CODE_OTHER             /* a code this acctd does not know */
};
#define PUSHMSG_REASON_MAX 320
struct pushmsg_answer {
	int64_t applied_version;       /* the version the node holds; -1: not said */
	enum pushmsg_code code;
	char error[PUSHMSG_REASON_MAX];   /* "" when none */
};
/* "older_version", …; NULL for NONE and OTHER */
const char *pushmsg_code_name(enum pushmsg_code c);
/* {"applied_version":N,"error":"…","code":"…"}, each only when set; caller frees */
char *pushmsg_answer_encode(const struct pushmsg_answer *a);
/*
 * acctd's reading: what it needs and nothing more (a newer agent may add
 * fields); a member of another type counts as absent, a longer error is
 * cut. -1 when body is not a JSON object (*a then says nothing).
 */
int pushmsg_answer_decode(const char *body, size_t len, struct pushmsg_answer *a);

#endif /* ACCTD_COMMON_H */

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

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

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
/* iterations >= 1; -1 on a bad argument */
int crypto_pbkdf2_sha256(const void *pw, size_t pwlen, const uint8_t *salt,
    size_t saltlen, unsigned iterations, uint8_t *out, size_t outlen);
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
 * The appliance key file: CRYPTO_KEY_LEN random bytes. Created 0600 when
 * missing (file and directory fsynced; the directory must exist); refused
 * (-1, reason in err, key wiped) when a symbolic link, group/world
 * accessible, not a regular file, or of the wrong size.
 */
int crypto_key_file_load(const char *path, uint8_t key[CRYPTO_KEY_LEN],
    char *err, size_t errlen);
/*
 * Private key files (TLS): -1 with reason when missing, not a regular file or
 * group/world accessible. Symbolic links are followed (certbot's live/ links).
 */
int crypto_secret_file_check(const char *path, char *err, size_t errlen);

/* json.c — request and response bodies (cJSON, included only here). */
struct json;                                /* an object, array or value */
struct json *json_object(void);
struct json *json_array(void);
void json_free(struct json *j);
/* setters copy their arguments; adding to an object/array takes ownership of v */
void json_set_str(struct json *o, const char *k, const char *v);   /* v NULL: null */
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

/*
 * The database password: one per user, the password of their PostgreSQL
 * role on every workspace node and the one in their connection strings.
 *
 * - 25 characters of Crockford base32 from the CSPRNG (125 bits) in five
 *   dash-separated groups: URL-safe, so it sits in a connection string
 *   unescaped, and readable aloud.
 * - At rest it is sealed with AES-256-GCM under a key derived (HKDF) from the
 *   appliance key, a fresh nonce per seal, the user id as associated data (a
 *   sealed password moved to another user's record does not open).
 * - Beside it, its PostgreSQL SCRAM-SHA-256 verifier (RFC 5802 / 7677, as
 *   PostgreSQL stores it in pg_authid): the only form that leaves the box.
 */
#include <stdlib.h>
#include <string.h>

#include "acctd.h"

#define DBPASS_SALT_LEN 16

/*
 * SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>
 *   SaltedPassword = PBKDF2-HMAC-SHA256(password, salt, iter)
 *   StoredKey      = SHA256(HMAC(SaltedPassword, "Client Key"))
 *   ServerKey      = HMAC(SaltedPassword, "Server Key")
 * Our passwords are ASCII, which SASLprep leaves unchanged.
 */
int
dbpass_scram_verifier(const char *pw, const uint8_t *salt, size_t saltlen,
    unsigned iter, char *out, size_t outlen)
{
	uint8_t salted[32], ck[32], stored[32], server[32];
	char s64[64], st64[64], sv64[64];
	int n, rc = -1;

	if (saltlen > 40)
		return -1;
	if (crypto_pbkdf2_sha256(pw, strlen(pw), salt, saltlen, iter, salted,
	    sizeof(salted)) == -1)
		goto done;
	crypto_hmac_sha256(salted, sizeof(salted), "Client Key", 10, ck);
	crypto_sha256(ck, sizeof(ck), stored);
	crypto_hmac_sha256(salted, sizeof(salted), "Server Key", 10, server);
	secret_b64(salt, saltlen, s64);
	secret_b64(stored, sizeof(stored), st64);
	secret_b64(server, sizeof(server), sv64);
	n = snprintf(out, outlen, "SCRAM-SHA-256$%u:%s$%s:%s", iter, s64, st64, sv64);
	rc = (n > 0 && (size_t)n < outlen) ? 0 : -1;
done:
	crypto_wipe(salted, sizeof(salted));
	crypto_wipe(ck, sizeof(ck));
	return rc;
}

/* the SCRAM verifier of pw with a fresh salt: the slow part (4,096
 * PBKDF2 iterations) */
static int
dbpass_verifier_of(const char *pw, char verifier[PUSHMSG_VERIFIER_MAX + 1])
{
	uint8_t salt[DBPASS_SALT_LEN];

	if (crypto_random(salt, sizeof(salt)) == -1)
		return -1;
	return dbpass_scram_verifier(pw, salt, sizeof(salt), DBPASS_SCRAM_ITER, verifier,
	    PUSHMSG_VERIFIER_MAX + 1);
}

int
dbpass_prepare(struct dbpass_new *n, int verifier)
{
	memset(n, 0, sizeof(*n));
	if (secret_readable(n->pw, sizeof(n->pw), 5) == -1 ||
	    (verifier && dbpass_verifier_of(n->pw, n->verifier) == -1)) {
		dbpass_new_wipe(n);
		return -1;
	}
	return 0;
}

void
dbpass_new_wipe(struct dbpass_new *n)
{
	crypto_wipe(n, sizeof(*n));
}

/* the record: sealed password, its verifier when known, and when it is
 * due (d); the due-time index moved from old_due (rotate.c) */
static int
dbpass_store(struct store_txn *t, const char *user_id, const char *pw,
    const struct dbpass *d, int64_t old_due)
{
	uint8_t sealed[DBPASS_LEN + CRYPTO_SEAL_OVERHEAD];
	char sealed64[2 * sizeof(sealed)], *s;
	struct json *j;
	int rc;

	if (strlen(pw) != DBPASS_LEN ||
	    crypto_seal(app.keys.dbpass, user_id, strlen(user_id), pw, strlen(pw), sealed) == -1)
		return -1;
	secret_b64url(sealed, strlen(pw) + CRYPTO_SEAL_OVERHEAD, sealed64);
	j = json_object();
	json_set_int(j, "version", d->version);
	json_set_int(j, "created_at", d->created_at);
	json_set_str(j, "sealed", sealed64);
	if (d->verifier[0])
		json_set_str(j, "verifier", d->verifier);
	if (d->due_at)
		json_set_int(j, "due_at", d->due_at);
	s = json_print(j);
	rc = store_put(t, STORE_DB_PASSWORD, user_id, strlen(user_id), s, strlen(s));
	free(s);
	json_free(j);
	if (rc == 0)
		rc = rotate_index_move(t, user_id, old_due, d->due_at);
	return rc;
}

int
dbpass_rotate(struct store_txn *t, const char *user_id, int64_t now,
    const struct dbpass_new *n, int64_t *version)
{
	struct dbpass old, d = { 0 };
	int rc;

	rc = dbpass_get(t, user_id, &old, NULL, 0);
	if (rc == -1 || rotate_due(t, user_id, now, &d.due_at) == -1)
		return -1;
	*version = d.version = rc == STORE_NOTFOUND ? 1 : old.version + 1;
	d.created_at = now;
	strcpy(d.verifier, n->verifier);
	return dbpass_store(t, user_id, n->pw, &d, rc == STORE_NOTFOUND ? 0 : old.due_at);
}

/*
 * A record stored without its verifier (acctd import: nobody needed it
 * yet) gets it the first time a node needs it. A resync computes them ahead
 * (dbpass_verifiers_prepare); here, in the caller's write txn, only what
 * that missed is computed (one 4,096-iteration PBKDF2, a few ms).
 */
int
dbpass_verifier_fill(struct store_txn *t, const char *user_id, struct dbpass *d)
{
	char pw[DBPASS_LEN + 8];
	int rc = -1;

	if (d->verifier[0])
		return 0;
	if (dbpass_get(t, user_id, d, pw, sizeof(pw)) != 0)
		goto done;
	if (d->verifier[0] == '\0' && (dbpass_verifier_of(pw, d->verifier) == -1 ||
	    dbpass_store(t, user_id, pw, d, d->due_at) == -1))
		goto done;
	rc = 0;
done:
	crypto_wipe(pw, sizeof(pw));
	return rc;
}

/* the verifier of ids[i]'s password version, computed outside the writer */
struct dbpass_prep {
	int64_t version;
	char verifier[PUSHMSG_VERIFIER_MAX + 1];
};

/* in a read txn: the verifiers the records of ids lack, into p; how many */
static size_t
dbpass_prep_compute(const char (*ids)[SECRET_ID_LEN + 1], size_t n,
    struct dbpass_prep *p)
{
	char pw[DBPASS_LEN + 8];
	struct store_txn *t;
	struct dbpass d;
	size_t made = 0;

	if (store_txn_begin(app.store, 0, &t) == -1)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (dbpass_get(t, ids[i], &d, pw, sizeof(pw)) == 0 && d.verifier[0] == '\0' &&
		    dbpass_verifier_of(pw, p[i].verifier) == 0) {
			p[i].version = d.version;
			made++;
		}
		crypto_wipe(pw, sizeof(pw));
	}
	store_txn_abort(t);
	return made;
}

/*
 * The verifiers dbpass_verifier_fill would compute for ids (records made by
 * acctd import, without one), computed before any write txn and stored in a
 * short one: a resync that brings thousands of imported users into a
 * workspace does its 4,096-iteration PBKDF2s outside the writer. A record
 * changed in between (rotated: it has its own verifier) is left alone.
 * 0 / -1 (nothing is lost on -1: dbpass_verifier_fill still does it).
 */
int
dbpass_verifiers_prepare(const char (*ids)[SECRET_ID_LEN + 1], size_t n)
{
	struct dbpass_prep *p = x_calloc(n ? n : 1, sizeof(*p));
	char pw[DBPASS_LEN + 8];
	struct store_txn *t;
	struct dbpass d;
	int rc = 0;

	if (dbpass_prep_compute(ids, n, p) == 0)
		goto done;
	if ((rc = store_txn_begin(app.store, 1, &t)) == -1)
		goto done;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (p[i].verifier[0] == '\0')
			continue;
		rc = dbpass_get(t, ids[i], &d, pw, sizeof(pw));
		if (rc == 0 && d.verifier[0] == '\0' && d.version == p[i].version) {
			strcpy(d.verifier, p[i].verifier);
			rc = dbpass_store(t, ids[i], pw, &d, d.due_at);
		} else if (rc == STORE_NOTFOUND)
			rc = 0;                 /* deleted meanwhile */
		crypto_wipe(pw, sizeof(pw));
	}
	if (rc == 0)
		rc = store_txn_commit(t);
	else
		store_txn_abort(t);
done:
	crypto_wipe(p, (n ? n : 1) * sizeof(*p));
	free(p);
	return rc == -1 ? -1 : 0;
}

int
dbpass_get(struct store_txn *t, const char *user_id, struct dbpass *d,
    char *pw, size_t pwlen)
{
	uint8_t sealed[DBPASS_LEN + CRYPTO_SEAL_OVERHEAD + 4];
	struct json *j = NULL;
	const char *s64, *ver;
	void *v = NULL;
	size_t vl, n;
	char err[64];
	int rc;

	memset(d, 0, sizeof(*d));
	rc = store_get(t, STORE_DB_PASSWORD, user_id, strlen(user_id), &v, &vl);
	if (rc != 0)
		return rc;
	rc = -1;
	if (json_parse(v, vl, &j, err, sizeof(err)) == -1)
		goto done;
	s64 = json_str(json_get(j, "sealed"));
	ver = json_str(json_get(j, "verifier"));
	if (ver == NULL)
		ver = "";             /* not computed yet: dbpass_verifier_fill */
	if (s64 == NULL || strlen(ver) > PUSHMSG_VERIFIER_MAX ||
	    json_int(json_get(j, "version"), &d->version) == -1 ||
	    json_int(json_get(j, "created_at"), &d->created_at) == -1)
		goto done;
	if (json_int(json_get(j, "due_at"), &d->due_at) == -1)
		d->due_at = 0;        /* absent: not scheduled (older records too) */
	strcpy(d->verifier, ver);
	if (pw != NULL) {
		if (secret_unb64(s64, sealed, sizeof(sealed), &n) == -1 ||
		    n <= CRYPTO_SEAL_OVERHEAD || n - CRYPTO_SEAL_OVERHEAD >= pwlen)
			goto done;
		rc = crypto_open(app.keys.dbpass, user_id, strlen(user_id), sealed, n,
		    (uint8_t *)pw);
		if (rc == -1) {
			log_warnx("dbpass: the sealed password of %s does not open", user_id);
			goto done;
		}
		pw[n - CRYPTO_SEAL_OVERHEAD] = '\0';
	}
	rc = 0;
done:
	json_free(j);
	free(v);
	return rc;
}

int
dbpass_delete(struct store_txn *t, const char *user_id)
{
	struct dbpass d;
	int rc = dbpass_get(t, user_id, &d, NULL, 0);

	if (rc == -1 || (rc == 0 && rotate_index_move(t, user_id, d.due_at, 0) == -1))
		return -1;
	return store_del(t, STORE_DB_PASSWORD, user_id, strlen(user_id)) == -1 ? -1 : 0;
}

/* the stored record as it is (the sealed password is not opened), with
 * due_at for the period of now */
int
dbpass_reschedule(struct store_txn *t, const char *user_id)
{
	struct json *j = NULL;
	int64_t created, old = 0, due;
	void *v = NULL;
	size_t vl;
	char err[64], *s = NULL;
	int rc = store_get(t, STORE_DB_PASSWORD, user_id, strlen(user_id), &v, &vl);

	if (rc != 0)
		return rc == STORE_NOTFOUND ? 0 : -1;
	rc = -1;
	if (json_parse(v, vl, &j, err, sizeof(err)) == -1 ||
	    json_int(json_get(j, "created_at"), &created) == -1 ||
	    rotate_due(t, user_id, created, &due) == -1)
		goto done;
	(void)json_int(json_get(j, "due_at"), &old);
	rc = 0;
	if (due == old)
		goto done;
	json_set_int(j, "due_at", due);
	s = json_print(j);
	rc = store_put(t, STORE_DB_PASSWORD, user_id, strlen(user_id), s, strlen(s));
	if (rc == 0)
		rc = rotate_index_move(t, user_id, old, due);
done:
	free(s);
	json_free(j);
	free(v);
	return rc;
}

/* keep the first and last two characters and the dashes: "f3***-…-***c0" */
void
dbpass_mask(const char *pw, char *out, size_t outlen)
{
	size_t n = strlen(pw), i;

	for (i = 0; i < n && i + 1 < outlen; i++)
		out[i] = (i < 2 || i + 2 >= n || pw[i] == '-') ? pw[i] : '*';
	out[i] = '\0';
}

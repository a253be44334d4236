/*
 * Two-factor sign-in (issue 15 part B): TOTP codes (RFC 6238 over RFC
 * 4226's HOTP; SHA-1, 6 digits, 30 s steps, what every authenticator app
 * computes), the per-user record, recovery codes and sign-in tickets.
 *
 * - The record (STORE_DB_TOTP, user id -> JSON): state "pending" (enrolled,
 *   not confirmed) or "on"; the 20-byte secret sealed with AES-256-GCM under
 *   app.keys.totp with the user id as associated data, as dbpass.c seals the
 *   database password; the last time step accepted (a code of that step or
 *   an earlier one is refused: no replay); the recovery codes as
 *   HMAC-SHA256(app.keys.totp, user id || NUL || code), each removed when
 *   used. No record: two-factor sign-in is off.
 * - A ticket is what a right password earns a user with a second factor: 32
 *   random bytes, held here in memory only as their HMAC, for
 *   TOTP_TICKET_TTL seconds, claimed by one request at a time, gone once
 *   used or after TOTP_TICKET_TRIES wrong codes. A restart forgets them:
 *   the user types the password again.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "acctd.h"

#define TOTP_TICKET_SLOTS 1024
#define TOTP_TICKET_TRIES 5
/* live tickets one user may hold: a user who signs in again and again with
 * the right password replaces their own oldest, and cannot fill the table
 * that every other user's second step needs */
#define TOTP_TICKETS_PER_USER 4

uint32_t
totp_hotp(const uint8_t *key, size_t keylen, uint64_t counter, unsigned digits)
{
	uint8_t msg[8], mac[CRYPTO_SHA1_LEN];
	uint32_t bin, mod = 1;
	unsigned off;

	for (int i = 7; i >= 0; i--, counter >>= 8)
		msg[i] = (uint8_t)(counter & 0xff);
	crypto_hmac_sha1(key, keylen, msg, sizeof(msg), mac);
	off = mac[CRYPTO_SHA1_LEN - 1] & 0x0f;       /* dynamic truncation */
	bin = ((uint32_t)(mac[off] & 0x7f) << 24) | ((uint32_t)mac[off + 1] << 16) |
	    ((uint32_t)mac[off + 2] << 8) | mac[off + 3];
	crypto_wipe(mac, sizeof(mac));
	while (digits-- > 0)
		mod *= 10;
	return bin % mod;
}

void
totp_base32(const uint8_t *in, size_t n, char *out)
{
	static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	uint32_t acc = 0;
	int bits = 0;

	for (size_t i = 0; i < n; i++) {
		acc = (acc << 8) | in[i];
		for (bits += 8; bits >= 5; bits -= 5)
			*out++ = b32[(acc >> (bits - 5)) & 31];
	}
	if (bits > 0)
		*out++ = b32[(acc << (5 - bits)) & 31];
	*out = '\0';
}

int
totp_code_parse(const char *s)
{
	int v = 0;

	if (s == NULL || strlen(s) != TOTP_DIGITS)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v;
}

int
totp_match(const struct totp_rec *r, int code, int64_t now, int64_t *step)
{
	int64_t now_step = now / TOTP_STEP;
	char want[8], got[8];
	int hit = 0;

	snprintf(got, sizeof(got), "%06d", code);
	/* every candidate is computed and compared: the time taken says
	 * nothing of which one matched */
	for (int64_t s = now_step - 1; s <= now_step + 1; s++) {
		snprintf(want, sizeof(want), "%06u",
		    totp_hotp(r->secret, TOTP_SECRET_LEN, (uint64_t)s, TOTP_DIGITS));
		if (crypto_equal(want, got, TOTP_DIGITS) && s > r->last_step && !hit) {
			*step = s;
			hit = 1;
		}
	}
	crypto_wipe(want, sizeof(want));
	crypto_wipe(got, sizeof(got));
	return hit;
}

/* "ABCDE-fghij", "abcdefghij", " abcde fghij " -> "abcde-fghij"; -1 */
static int
totp_recovery_norm(const char *in, char out[TOTP_RECOVERY_LEN + 1])
{
	size_t n = 0;

	for (; *in; in++) {
		if (*in == '-' || *in == ' ')
			continue;
		if (!isalnum((unsigned char)*in) || n == 10)
			return -1;
		out[n < 5 ? n : n + 1] = (char)tolower((unsigned char)*in);
		n++;
	}
	if (n != 10)
		return -1;
	out[5] = '-';
	out[TOTP_RECOVERY_LEN] = '\0';
	return 0;
}

static void
totp_recovery_mac(const char *user_id, const char *code, uint8_t out[CRYPTO_SHA256_LEN])
{
	char buf[SECRET_ID_LEN + 1 + TOTP_RECOVERY_LEN + 1];
	size_t n = strlen(user_id);

	memcpy(buf, user_id, n + 1);          /* the NUL separates */
	memcpy(buf + n + 1, code, TOTP_RECOVERY_LEN);
	crypto_hmac_sha256(app.keys.totp, CRYPTO_KEY_LEN, buf, n + 1 + TOTP_RECOVERY_LEN, out);
	crypto_wipe(buf, sizeof(buf));
}

int
totp_recovery_new(struct totp_rec *r, const char *user_id,
    char codes[TOTP_RECOVERY_CODES][TOTP_RECOVERY_LEN + 1])
{
	for (size_t i = 0; i < TOTP_RECOVERY_CODES; i++) {
		if (secret_readable(codes[i], TOTP_RECOVERY_LEN + 1, 2) == -1) {
			crypto_wipe(codes, TOTP_RECOVERY_CODES * (TOTP_RECOVERY_LEN + 1));
			return -1;
		}
		totp_recovery_mac(user_id, codes[i], r->recovery[i]);
	}
	r->nrecovery = TOTP_RECOVERY_CODES;
	return 0;
}

int
totp_recovery_use(struct totp_rec *r, const char *user_id, const char *code)
{
	uint8_t mac[CRYPTO_SHA256_LEN];
	char norm[TOTP_RECOVERY_LEN + 1];
	size_t i, hit = SIZE_MAX;

	if (totp_recovery_norm(code, norm) == -1)
		return 0;
	totp_recovery_mac(user_id, norm, mac);
	for (i = 0; i < r->nrecovery; i++)
		if (crypto_equal(mac, r->recovery[i], sizeof(mac)) && hit == SIZE_MAX)
			hit = i;
	crypto_wipe(norm, sizeof(norm));
	if (hit == SIZE_MAX)
		return 0;
	r->nrecovery--;
	memmove(r->recovery[hit], r->recovery[hit + 1],
	    (r->nrecovery - hit) * sizeof(r->recovery[0]));
	return 1;
}

int
totp_secret_new(struct totp_rec *r)
{
	memset(r, 0, sizeof(*r));
	r->state = TOTP_PENDING;
	return crypto_random(r->secret, TOTP_SECRET_LEN);
}

void
totp_rec_wipe(struct totp_rec *r)
{
	crypto_wipe(r, sizeof(*r));
}

int
totp_save(struct store_txn *t, const char *user_id, const struct totp_rec *r)
{
	uint8_t sealed[TOTP_SECRET_LEN + CRYPTO_SEAL_OVERHEAD];
	char sealed64[2 * sizeof(sealed)], hex[2 * CRYPTO_SHA256_LEN + 1], *s;
	struct json *j = json_object(), *a = json_array();
	int rc = -1;

	if (crypto_seal(app.keys.totp, user_id, strlen(user_id), r->secret,
	    TOTP_SECRET_LEN, sealed) == -1)
		goto done;
	secret_b64url(sealed, sizeof(sealed), sealed64);
	json_set_str(j, "state", r->state == TOTP_ON ? "on" : "pending");
	json_set_str(j, "sealed", sealed64);
	json_set_int(j, "created_at", r->created_at);
	json_set_int(j, "enabled_at", r->enabled_at);
	json_set_int(j, "last_step", r->last_step);
	for (size_t i = 0; i < r->nrecovery; i++) {
		struct json *h = json_object();

		secret_hex(r->recovery[i], CRYPTO_SHA256_LEN, hex);
		json_set_str(h, "mac", hex);
		json_push(a, h);
	}
	json_set(j, "recovery", a);
	a = NULL;
	s = json_print(j);
	rc = store_put(t, STORE_DB_TOTP, user_id, strlen(user_id), s, strlen(s));
	free(s);
done:
	json_free(a);
	json_free(j);
	return rc;
}

/* the recovery HMACs of j's "recovery" array into r: 0 / -1 */
static int
totp_load_recovery(const struct json *j, struct totp_rec *r)
{
	struct json *a = json_get(j, "recovery"), *h = NULL;
	const char *hex;

	r->nrecovery = 0;
	while (a != NULL && (h = json_item_next(a, h)) != NULL) {
		hex = json_str(json_get(h, "mac"));
		if (hex == NULL || r->nrecovery == TOTP_RECOVERY_CODES ||
		    secret_unhex(hex, r->recovery[r->nrecovery], CRYPTO_SHA256_LEN) == -1)
			return -1;
		r->nrecovery++;
	}
	return 0;
}

/* the sealed secret s64 of user_id opened into r->secret: 0 / -1 */
static int
totp_open(const char *user_id, const char *s64, struct totp_rec *r)
{
	uint8_t sealed[TOTP_SECRET_LEN + CRYPTO_SEAL_OVERHEAD + 4];
	size_t n;

	if (s64 == NULL || secret_unb64(s64, sealed, sizeof(sealed), &n) == -1 ||
	    n != TOTP_SECRET_LEN + CRYPTO_SEAL_OVERHEAD)
		return -1;
	if (crypto_open(app.keys.totp, user_id, strlen(user_id), sealed, n, r->secret) == -1) {
		log_warnx("totp: the sealed secret of %s does not open", user_id);
		return -1;
	}
	return 0;
}

int
totp_load(struct store_txn *t, const char *user_id, struct totp_rec *r)
{
	struct json *j = NULL;
	const char *st;
	void *v = NULL;
	size_t vl;
	char err[64];
	int rc;

	memset(r, 0, sizeof(*r));
	rc = store_get(t, STORE_DB_TOTP, user_id, strlen(user_id), &v, &vl);
	if (rc != 0)
		return rc;
	rc = -1;
	if (json_parse(v, vl, &j, err, sizeof(err)) == -1)
		goto done;
	st = json_str(json_get(j, "state"));
	if (st == NULL || (strcmp(st, "on") != 0 && strcmp(st, "pending") != 0) ||
	    json_int(json_get(j, "created_at"), &r->created_at) == -1 ||
	    json_int(json_get(j, "enabled_at"), &r->enabled_at) == -1 ||
	    json_int(json_get(j, "last_step"), &r->last_step) == -1 ||
	    totp_load_recovery(j, r) == -1 ||
	    totp_open(user_id, json_str(json_get(j, "sealed")), r) == -1)
		goto done;
	r->state = strcmp(st, "on") == 0 ? TOTP_ON : TOTP_PENDING;
	rc = 0;
done:
	if (rc == -1)
		totp_rec_wipe(r);
	json_free(j);
	free(v);
	return rc;
}

int
totp_delete(struct store_txn *t, const char *user_id)
{
	return store_del(t, STORE_DB_TOTP, user_id, strlen(user_id)) == -1 ? -1 : 0;
}

int
totp_enabled(struct store_txn *t, const char *user_id)
{
	struct totp_rec r;
	int rc = totp_load(t, user_id, &r);
	int on = rc == 0 && r.state == TOTP_ON;

	totp_rec_wipe(&r);
	return rc == -1 ? -1 : on;
}

void
totp_uri(const char *handle, const struct totp_rec *r, char *out, size_t outlen)
{
	char b32[TOTP_B32_LEN + 1];

	totp_base32(r->secret, TOTP_SECRET_LEN, b32);
	snprintf(out, outlen, "otpauth://totp/acctd:%s?secret=%s&issuer=acctd"
	    "&algorithm=SHA1&digits=%d&period=%d", handle, b32, TOTP_DIGITS, TOTP_STEP);
	crypto_wipe(b32, sizeof(b32));
}

/* --- tickets ---------------------------------------------------------- */

static struct {
	uint8_t mac[CRYPTO_SHA256_LEN];
	char user_id[SECRET_ID_LEN + 1];
	uint8_t pw_hash[32];
	int64_t expires;           /* 0: free */
	int fails;
	int busy;                  /* claimed by a request now */
} totp_tickets[TOTP_TICKET_SLOTS];
static pthread_mutex_t totp_ticket_mu = PTHREAD_MUTEX_INITIALIZER;

static void
totp_ticket_mac(const char *tk, uint8_t out[CRYPTO_SHA256_LEN])
{
	crypto_hmac_sha256(app.keys.totp, CRYPTO_KEY_LEN, tk, strlen(tk), out);
}

static void
totp_ticket_free(int i)
{
	crypto_wipe(&totp_tickets[i], sizeof(totp_tickets[i]));
}

/* a slot for a new ticket of user_id: a free one, or the user's own oldest
 * idle one once they hold TOTP_TICKETS_PER_USER; -1 when full. With
 * totp_ticket_mu held */
static int
totp_ticket_slot(const char *user_id, int64_t now)
{
	int i, free_slot = -1, oldest = -1, mine = 0;

	for (i = 0; i < TOTP_TICKET_SLOTS; i++) {
		if (!totp_tickets[i].busy && totp_tickets[i].expires <= now) {
			if (free_slot == -1)
				free_slot = i;
			continue;
		}
		if (strcmp(totp_tickets[i].user_id, user_id) != 0)
			continue;
		mine++;
		if (!totp_tickets[i].busy && (oldest == -1 ||
		    totp_tickets[i].expires < totp_tickets[oldest].expires))
			oldest = i;
	}
	if (mine >= TOTP_TICKETS_PER_USER && oldest != -1)
		return oldest;
	return mine >= TOTP_TICKETS_PER_USER ? -1 : free_slot;
}

int
totp_ticket_new(const struct user *u, int64_t now, char out[TOTP_TICKET_LEN + 1])
{
	uint8_t rnd[32], mac[CRYPTO_SHA256_LEN];
	int slot;

	if (crypto_random(rnd, sizeof(rnd)) == -1)
		return -1;
	secret_b64url(rnd, sizeof(rnd), out);
	crypto_wipe(rnd, sizeof(rnd));
	totp_ticket_mac(out, mac);
	pthread_mutex_lock(&totp_ticket_mu);
	slot = totp_ticket_slot(u->id, now);
	if (slot != -1) {
		totp_ticket_free(slot);
		memcpy(totp_tickets[slot].mac, mac, sizeof(mac));
		snprintf(totp_tickets[slot].user_id, sizeof(totp_tickets[slot].user_id),
		    "%s", u->id);
		memcpy(totp_tickets[slot].pw_hash, u->pw_hash, sizeof(u->pw_hash));
		totp_tickets[slot].expires = now + TOTP_TICKET_TTL;
	}
	pthread_mutex_unlock(&totp_ticket_mu);
	crypto_wipe(mac, sizeof(mac));
	if (slot == -1)
		crypto_wipe(out, TOTP_TICKET_LEN + 1);
	return slot == -1 ? -1 : 0;
}

int
totp_ticket_claim(const char *tk, int64_t now, struct totp_claim *c)
{
	uint8_t mac[CRYPTO_SHA256_LEN];
	int i;

	c->slot = -1;
	if (strlen(tk) != TOTP_TICKET_LEN)
		return -1;
	totp_ticket_mac(tk, mac);
	pthread_mutex_lock(&totp_ticket_mu);
	for (i = 0; i < TOTP_TICKET_SLOTS; i++) {
		if (totp_tickets[i].expires > now && !totp_tickets[i].busy &&
		    crypto_equal(totp_tickets[i].mac, mac, sizeof(mac))) {
			totp_tickets[i].busy = 1;
			c->slot = i;
			memcpy(c->user_id, totp_tickets[i].user_id, sizeof(c->user_id));
			memcpy(c->pw_hash, totp_tickets[i].pw_hash, sizeof(c->pw_hash));
			break;
		}
	}
	pthread_mutex_unlock(&totp_ticket_mu);
	crypto_wipe(mac, sizeof(mac));
	return c->slot == -1 ? -1 : 0;
}

void
totp_ticket_release(struct totp_claim *c, int outcome)
{
	if (c->slot < 0)
		return;
	pthread_mutex_lock(&totp_ticket_mu);
	totp_tickets[c->slot].busy = 0;
	if (outcome == TOTP_CLAIM_USED || (outcome == TOTP_CLAIM_FAILED &&
	    ++totp_tickets[c->slot].fails >= TOTP_TICKET_TRIES))
		totp_ticket_free(c->slot);
	pthread_mutex_unlock(&totp_ticket_mu);
	crypto_wipe(c, sizeof(*c));
	c->slot = -1;
}

void
totp_ticket_reset(void)
{
	pthread_mutex_lock(&totp_ticket_mu);
	crypto_wipe(totp_tickets, sizeof(totp_tickets));
	pthread_mutex_unlock(&totp_ticket_mu);
}

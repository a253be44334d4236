/*
 * crypto.c against published test vectors (the key file: test_file.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

static void
hex2bin(const char *hex, uint8_t *out, size_t n)
{
	size_t i;
	unsigned int b;

	assert_int_equal(strlen(hex), 2 * n);
	for (i = 0; i < n; i++) {
		assert_int_equal(sscanf(hex + 2 * i, "%2x", &b), 1);
		out[i] = (uint8_t)b;
	}
}

static void
assert_hex(const uint8_t *got, const char *hex)
{
	size_t n = strlen(hex) / 2;
	uint8_t *want = malloc(n);

	assert_non_null(want);
	hex2bin(hex, want, n);
	assert_memory_equal(got, want, n);
	free(want);
}

static int
all_zero(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

static int
group_setup(void **state)
{
	(void)state;
	log_init("test_crypto", 1, LOG_LEVEL_ERROR);
	return crypto_init();
}

static int
group_teardown(void **state)
{
	(void)state;
	crypto_shutdown();
	return 0;
}

/* --- random -------------------------------------------------------------- */

static void
test_random_before_init(void **state)
{
	uint8_t buf[32];

	(void)state;
	crypto_shutdown();
	memset(buf, 0xaa, sizeof(buf));
	assert_int_equal(crypto_random(buf, sizeof(buf)), -1);
	assert_true(all_zero(buf, sizeof(buf)));   /* wiped, not half-filled */
	assert_int_equal(crypto_init(), 0);
	assert_int_equal(crypto_init(), 0);        /* idempotent */
	assert_int_equal(crypto_random(buf, sizeof(buf)), 0);
}

static void
test_random_draws(void **state)
{
	uint8_t a[32], b[32];

	(void)state;
	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	assert_int_equal(crypto_random(a, sizeof(a)), 0);
	assert_int_equal(crypto_random(b, sizeof(b)), 0);
	assert_false(all_zero(a, sizeof(a)));
	assert_false(all_zero(b, sizeof(b)));
	assert_memory_not_equal(a, b, sizeof(a));
	assert_int_equal(crypto_random(a, 0), 0);
}

/* more than MBEDTLS_CTR_DRBG_MAX_REQUEST (1024) in one call */
static void
test_random_large(void **state)
{
	size_t n = 5000 + 7;
	uint8_t *buf = x_calloc(1, n);

	(void)state;
	assert_int_equal(crypto_random(buf, n), 0);
	assert_false(all_zero(buf, 64));
	assert_false(all_zero(buf + n - 64, 64));
	/* the pieces are not repeats of one another */
	assert_memory_not_equal(buf, buf + 1024, 1024);
	assert_memory_not_equal(buf + 1024, buf + 2048, 1024);
	free(buf);
}

static int random_failed = 1;

/* returns NULL when every draw succeeded */
static void *
random_thread(void *arg)
{
	uint8_t buf[48];
	int i;

	(void)arg;
	for (i = 0; i < 2000; i++)
		if (crypto_random(buf, sizeof(buf)) != 0)
			return &random_failed;
	return NULL;
}

static void
test_random_threads(void **state)
{
	pthread_t th[4];
	void *r;
	int i;

	(void)state;
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, random_thread,
		    NULL), 0);
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], &r), 0);
		assert_null(r);
	}
}

/* a forked child must not produce the parent's next bytes */
static void
test_random_fork(void **state)
{
	uint8_t mine[32], theirs[32];
	int fds[2], st;
	pid_t pid;

	(void)state;
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		if (crypto_random(theirs, sizeof(theirs)) != 0 ||
		    write(fds[1], theirs, sizeof(theirs)) != sizeof(theirs))
			_exit(1);
		_exit(0);
	}
	close(fds[1]);
	assert_int_equal(crypto_random(mine, sizeof(mine)), 0);
	assert_int_equal(read(fds[0], theirs, sizeof(theirs)),
	    (ssize_t)sizeof(theirs));
	close(fds[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_memory_not_equal(mine, theirs, sizeof(mine));
}

/* --- hashes, MAC, KDFs ------------------------------------------------------ */

static void
test_sha256(void **state)
{
	uint8_t out[CRYPTO_SHA256_LEN];

	(void)state;
	crypto_sha256("abc", 3, out);
	assert_hex(out, "ba7816bf8f01cfea414140de5dae2223"
	    "b00361a396177a9cb410ff61f20015ad");
	crypto_sha256("", 0, out);
	assert_hex(out, "e3b0c44298fc1c149afbf4c8996fb924"
	    "27ae41e4649b934ca495991b7852b855");
}

/* RFC 4231 test case 2 */
static void
test_hmac_sha256(void **state)
{
	static const char data[] = "what do ya want for nothing?";
	uint8_t out[CRYPTO_SHA256_LEN];

	(void)state;
	crypto_hmac_sha256((const uint8_t *)"Jefe", 4, data,
	    sizeof(data) - 1, out);
	assert_hex(out, "5bdcc146bf60754e6a042426089575c7"
	    "5a003f089d2739839dec58b964ec3843");
}

/*
 * PBKDF2-HMAC-SHA256 known answers: RFC 7914 section 11, and random inputs
 * whose outputs Python's hashlib.pbkdf2_hmac (OpenSSL) gave when this test
 * was written: an empty password, one of exactly a block, longer ones
 * (hashed to make the key), an empty salt, outputs of 1, 40 and 100 bytes
 * (a partial last block). Each is checked on both compression paths.
 */
static const struct {
	const char *pw, *salt;    /* hex */
	unsigned iterations;
	const char *dk;           /* hex */
} pbkdf2_vectors[] = {
	/* RFC 7914 11: P = "passwd", S = "salt"; P = "Password", S = "NaCl" */
	{ "706173737764", "73616c74", 1,
	  "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
	  "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783" },
	{ "50617373776f7264", "4e61436c", 80000,
	  "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56"
	  "a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d" },
	{ "", "f289b349c305bff78ceb74004ae1bc53", 3,
	  "636d345d10de11de0e4def451741d58f682ae4d704e44791074b65234741d0f1" },
	{ "ad6b1e6626accf2c091f722ed8e339d845a0531a572acdd6f0f4c40f2a6285b6"
	  "b9c59e3a8178abbabe5b0ec3dc100d71da16c66834705b278c12dd8dffb01aeb",
	  "bc6aad90e9f3f67a55edba5d60700389", 2,
	  "b9b207a4b93c30fc5a835e6bf76a2f4f62a9d95d52e0c447617fdfe40ee39194" },
	{ "ae5b7b04147e3bb84f0ca58f3c75f4fab586e353e595178ea8e36d91820e010d"
	  "4388d7467b66def11e8414d5dc2fcf65b1bcc552084f0f1325d466c232b4609f8a",
	  "", 5,
	  "3d83d7d7e4990eae10677706a4ad43d539b6c1b4743035f9888241356829b1d8"
	  "aa27b50b32a170ca" },
	{ "fb3f6cc97d24d0b6a52aaa482e9f9f5cdfbb5a0f6bf9e3f85b1daee97aa73172"
	  "03b8bb8f67dd97704baa53edc77febeb1974d0cae11a369fb308a4ffb89d5745"
	  "f4734480fd17dbba92d190c7a44b408410c1d3d986add0c2fcc4cc5d56698238"
	  "891bb79c",
	  "469f6c0c9d15065764536497615e9f0b34baff66e5320340c9f996efb6c6d40e",
	  1000,
	  "c204d30fe9a51605631b7a15dba2d7dff1d9da1e95fe4c942ce60771823b1da9"
	  "dab992cb48f178682eb76aafa8ad180a83535a509b910b7dd5782f9b3a7ffe91"
	  "dd9ab6ebdd0267ad94e8b8f4e3afab81049445a7fac6bc3b472d4d251756f059"
	  "d4da904b" },
	{ "8e0a4ffbbb34dacfbf2442b21f7637d82b1c047f0f",
	  "390e74f369ebacd8a17bc82cac1eb948", 20000,
	  "7bd347c77a08e0bd9c12caf5415d4353b0aed9bc2bda1f4f6e4ae96dbedbbaf2" },
	{ "98", "3e", 7, "8b" },
};

static void
test_pbkdf2_vectors(void **state)
{
	uint8_t pw[128], salt[64], out[128];
	size_t i, pwlen, saltlen, dklen;
	int accel, pass;

	(void)state;
	accel = crypto_sha256_accel(-1);
	for (pass = 0; pass < 2; pass++) {
		/* pass 0: the CPU's SHA instructions when it has them; 1: mbedTLS */
		crypto_sha256_accel(pass == 0);
		for (i = 0; i < sizeof(pbkdf2_vectors) / sizeof(pbkdf2_vectors[0]); i++) {
			pwlen = strlen(pbkdf2_vectors[i].pw) / 2;
			saltlen = strlen(pbkdf2_vectors[i].salt) / 2;
			dklen = strlen(pbkdf2_vectors[i].dk) / 2;
			hex2bin(pbkdf2_vectors[i].pw, pw, pwlen);
			hex2bin(pbkdf2_vectors[i].salt, salt, saltlen);
			memset(out, 0xaa, sizeof(out));
			assert_int_equal(crypto_pbkdf2_sha256(pw, pwlen, salt, saltlen,
			    pbkdf2_vectors[i].iterations, out, dklen), 0);
			assert_hex(out, pbkdf2_vectors[i].dk);
			/* nothing written past dklen */
			assert_int_equal(out[dklen], 0xaa);
		}
	}
	crypto_sha256_accel(1);
	assert_int_equal(crypto_sha256_accel(-1), accel);
}

static void
test_pbkdf2_sha256(void **state)
{
	uint8_t out[32];

	(void)state;
	assert_int_equal(crypto_pbkdf2_sha256("password", 8,
	    (const uint8_t *)"salt", 4, 1, out, sizeof(out)), 0);
	assert_hex(out, "120fb6cffcf8b32c43e7225256c4f837"
	    "a86548c92ccc35480805987cb70be17b");
	assert_int_equal(crypto_pbkdf2_sha256("password", 8,
	    (const uint8_t *)"salt", 4, 4096, out, sizeof(out)), 0);
	assert_hex(out, "c5e478d59288c841aa530db6845c4c8d"
	    "962893a001ce4e11a4963873aa98134a");
	/* zero iterations is a caller bug, not "one" */
	assert_int_equal(crypto_pbkdf2_sha256("password", 8,
	    (const uint8_t *)"salt", 4, 0, out, sizeof(out)), -1);
	assert_true(all_zero(out, sizeof(out)));
	/* no output, or no room for it */
	assert_int_equal(crypto_pbkdf2_sha256("password", 8,
	    (const uint8_t *)"salt", 4, 1, out, 0), -1);
	assert_int_equal(crypto_pbkdf2_sha256("password", 8,
	    (const uint8_t *)"salt", 4, 1, NULL, 32), -1);
}

/* RFC 5869 test case 3: no salt, no info */
static void
test_hkdf_sha256(void **state)
{
	static const char okm[] = "8da4e775a563c18f715f802a063c5a31"
	    "b8a11f5c5ee1879ec3454e5f3c738d2d"
	    "9d201395faa4b61a96c8";
	uint8_t ikm[22], out[42], big[255 * CRYPTO_SHA256_LEN + 1];

	(void)state;
	memset(ikm, 0x0b, sizeof(ikm));
	assert_int_equal(crypto_hkdf_sha256(ikm, sizeof(ikm), "", out,
	    sizeof(out)), 0);
	assert_hex(out, okm);
	memset(out, 0, sizeof(out));
	assert_int_equal(crypto_hkdf_sha256(ikm, sizeof(ikm), NULL, out,
	    sizeof(out)), 0);
	assert_hex(out, okm);
	/* a different info gives an unrelated key */
	assert_int_equal(crypto_hkdf_sha256(ikm, sizeof(ikm), "acctd token",
	    out, sizeof(out)), 0);
	assert_memory_not_equal(out, okm, 16);
	/* RFC 5869: L <= 255 * HashLen */
	assert_int_equal(crypto_hkdf_sha256(ikm, sizeof(ikm), "", big,
	    sizeof(big)), -1);
	assert_int_equal(crypto_hkdf_sha256(ikm, sizeof(ikm), "", big,
	    sizeof(big) - 1), 0);
}

/* --- AES-256-GCM -------------------------------------------------------------- */

/*
 * GCM spec (McGrew & Viega) test case 14: AES-256, zero key, zero 96-bit
 * IV, 16 zero bytes. Checks our layout is nonce || ciphertext || tag.
 */
static void
test_open_known_answer(void **state)
{
	uint8_t key[CRYPTO_KEY_LEN], in[16 + CRYPTO_SEAL_OVERHEAD], out[16];

	(void)state;
	memset(key, 0, sizeof(key));
	memset(in, 0, CRYPTO_GCM_NONCE_LEN);
	hex2bin("cea7403d4d606b6e074ec5d3baf39d18", in + 12, 16);
	hex2bin("d0d1c8a799996bf0265b98b5d48ab919", in + 28, 16);
	memset(out, 0xaa, sizeof(out));
	assert_int_equal(crypto_open(key, NULL, 0, in, sizeof(in), out), 0);
	assert_true(all_zero(out, sizeof(out)));
	/* test case 13: empty plaintext, only the tag */
	hex2bin("530f8afbc74536b9a963b4f1c4cb738b", in + 12, 16);
	assert_int_equal(crypto_open(key, NULL, 0, in, CRYPTO_SEAL_OVERHEAD,
	    out), 0);
}

static const char msg[] = "correct horse battery staple";
static const char ad[] = "u_0123456789abcdefghij";

static void
seal_msg(const uint8_t *key, uint8_t *sealed)
{
	assert_int_equal(crypto_seal(key, ad, sizeof(ad) - 1, msg,
	    sizeof(msg), sealed), 0);
}

static void
test_seal_round_trip(void **state)
{
	uint8_t key[CRYPTO_KEY_LEN], sealed[sizeof(msg) + CRYPTO_SEAL_OVERHEAD];
	uint8_t out[sizeof(msg)], e[CRYPTO_SEAL_OVERHEAD];

	(void)state;
	assert_int_equal(crypto_random(key, sizeof(key)), 0);
	seal_msg(key, sealed);
	assert_memory_not_equal(sealed + CRYPTO_GCM_NONCE_LEN, msg, sizeof(msg));
	assert_int_equal(crypto_open(key, ad, sizeof(ad) - 1, sealed,
	    sizeof(sealed), out), 0);
	assert_memory_equal(out, msg, sizeof(msg));
	/* empty plaintext, no ad */
	assert_int_equal(crypto_seal(key, NULL, 0, NULL, 0, e), 0);
	assert_int_equal(crypto_open(key, NULL, 0, e, sizeof(e), out), 0);
	crypto_wipe(key, sizeof(key));
}

static void
test_seal_tamper(void **state)
{
	uint8_t key[CRYPTO_KEY_LEN], sealed[sizeof(msg) + CRYPTO_SEAL_OVERHEAD];
	uint8_t out[sizeof(msg)], bad_ad[sizeof(ad)];
	size_t where[] = {
		0,                                      /* nonce */
		CRYPTO_GCM_NONCE_LEN - 1,
		CRYPTO_GCM_NONCE_LEN,                   /* ciphertext */
		CRYPTO_GCM_NONCE_LEN + sizeof(msg) - 1,
		CRYPTO_GCM_NONCE_LEN + sizeof(msg),     /* tag */
		sizeof(sealed) - 1,
	};
	size_t i;

	(void)state;
	assert_int_equal(crypto_random(key, sizeof(key)), 0);
	seal_msg(key, sealed);
	for (i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
		sealed[where[i]] ^= 0x01;
		memset(out, 0xaa, sizeof(out));
		assert_int_equal(crypto_open(key, ad, sizeof(ad) - 1, sealed,
		    sizeof(sealed), out), -1);
		assert_true(all_zero(out, sizeof(out)));
		sealed[where[i]] ^= 0x01;
	}
	/* the ad is authenticated: one flipped bit, or none at all */
	memcpy(bad_ad, ad, sizeof(ad));
	bad_ad[3] ^= 0x01;
	assert_int_equal(crypto_open(key, bad_ad, sizeof(ad) - 1, sealed,
	    sizeof(sealed), out), -1);
	assert_true(all_zero(out, sizeof(out)));
	assert_int_equal(crypto_open(key, NULL, 0, sealed, sizeof(sealed),
	    out), -1);
	/* truncated input */
	assert_int_equal(crypto_open(key, ad, sizeof(ad) - 1, sealed,
	    sizeof(sealed) - 1, out), -1);
	assert_int_equal(crypto_open(key, ad, sizeof(ad) - 1, sealed,
	    CRYPTO_SEAL_OVERHEAD - 1, out), -1);
	/* untouched, it still opens */
	assert_int_equal(crypto_open(key, ad, sizeof(ad) - 1, sealed,
	    sizeof(sealed), out), 0);
	assert_memory_equal(out, msg, sizeof(msg));
}

static void
test_seal_wrong_key(void **state)
{
	uint8_t key[CRYPTO_KEY_LEN], sealed[sizeof(msg) + CRYPTO_SEAL_OVERHEAD];
	uint8_t out[sizeof(msg)];

	(void)state;
	assert_int_equal(crypto_random(key, sizeof(key)), 0);
	seal_msg(key, sealed);
	key[CRYPTO_KEY_LEN - 1] ^= 0x80;
	assert_int_equal(crypto_open(key, ad, sizeof(ad) - 1, sealed,
	    sizeof(sealed), out), -1);
	assert_true(all_zero(out, sizeof(out)));
}

static void
test_seal_fresh_nonce(void **state)
{
	uint8_t key[CRYPTO_KEY_LEN];
	uint8_t a[sizeof(msg) + CRYPTO_SEAL_OVERHEAD];
	uint8_t b[sizeof(msg) + CRYPTO_SEAL_OVERHEAD];

	(void)state;
	assert_int_equal(crypto_random(key, sizeof(key)), 0);
	seal_msg(key, a);
	seal_msg(key, b);
	assert_memory_not_equal(a, b, CRYPTO_GCM_NONCE_LEN);
	assert_memory_not_equal(a + CRYPTO_GCM_NONCE_LEN,
	    b + CRYPTO_GCM_NONCE_LEN, sizeof(msg));
}

/* --- crypto_equal, crypto_wipe ----------------------------------------------- */

static void
test_equal(void **state)
{
	uint8_t a[64], b[64];

	(void)state;
	memset(a, 0x5c, sizeof(a));
	memcpy(b, a, sizeof(b));
	assert_int_equal(crypto_equal(a, b, sizeof(a)), 1);
	assert_int_equal(crypto_equal(a, b, 0), 1);
	b[0] ^= 0x01;                           /* first byte */
	assert_int_equal(crypto_equal(a, b, sizeof(a)), 0);
	b[0] ^= 0x01;
	b[63] ^= 0x80;                          /* last byte, high bit */
	assert_int_equal(crypto_equal(a, b, sizeof(a)), 0);
	assert_int_equal(crypto_equal(a, b, 63), 1);
	crypto_wipe(a, sizeof(a));
	assert_true(all_zero(a, sizeof(a)));
	crypto_wipe(NULL, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_before_init),
		cmocka_unit_test(test_random_draws),
		cmocka_unit_test(test_random_large),
		cmocka_unit_test(test_random_threads),
		cmocka_unit_test(test_random_fork),
		cmocka_unit_test(test_sha256),
		cmocka_unit_test(test_hmac_sha256),
		cmocka_unit_test(test_pbkdf2_sha256),
		cmocka_unit_test(test_pbkdf2_vectors),
		cmocka_unit_test(test_hkdf_sha256),
		cmocka_unit_test(test_open_known_answer),
		cmocka_unit_test(test_seal_round_trip),
		cmocka_unit_test(test_seal_tamper),
		cmocka_unit_test(test_seal_wrong_key),
		cmocka_unit_test(test_seal_fresh_nonce),
		cmocka_unit_test(test_equal),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

/*
 * Every use of mbedTLS crypto: the process-wide random generator, hashes,
 * MACs, key derivation, authenticated encryption (the key file is file.c's).
 * Only this file (and *_tls.c) includes mbedTLS, and only the primitives the
 * project's reduced mbedTLS config enables: CTR_DRBG, ENTROPY, SHA-256, MD,
 * HKDF, PKCS5, GCM, AES, platform_util; and PSA's init (TLS 1.3 needs it).
 *
 * Failure policy: anything that could hand out predictable or partial
 * output returns -1 and wipes what it wrote (fail closed). The void hashes
 * cannot fail short of memory exhaustion, which is fatal everywhere in acctd
 * (see mem.c), so they stop the process rather than return garbage.
 */
/* crypto_pbkdf2_sha256 reads a SHA-256 context's state words */
#define MBEDTLS_ALLOW_PRIVATE_ACCESS

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/gcm.h>
#include <mbedtls/hkdf.h>
#include <mbedtls/md.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>
#include <psa/crypto.h>

#include "common.h"

#define CRYPTO_PERS "acctd"

/*
 * One DRBG for the process, behind one mutex. mbedTLS is built with
 * MBEDTLS_THREADING_C, so the DRBG and the entropy pool also lock
 * themselves; crypto_mtx is kept because it covers more than one call:
 * crypto_ready, the fork check and its reseed, and a request split into
 * MBEDTLS_CTR_DRBG_MAX_REQUEST pieces. crypto_ready is only read or
 * written with crypto_mtx held.
 */
static pthread_mutex_t crypto_mtx = PTHREAD_MUTEX_INITIALIZER;
static mbedtls_entropy_context crypto_entropy;
static mbedtls_ctr_drbg_context crypto_drbg;
static int crypto_ready;
static pid_t crypto_pid;     /* a forked child must not replay the parent's stream */

int
crypto_init(void)
{
	int rc, ret = -1;

	pthread_mutex_lock(&crypto_mtx);
	if (crypto_ready) {
		ret = 0;
		goto out;
	}
	mbedtls_entropy_init(&crypto_entropy);
	mbedtls_ctr_drbg_init(&crypto_drbg);
	rc = mbedtls_ctr_drbg_seed(&crypto_drbg, mbedtls_entropy_func,
	    &crypto_entropy, (const unsigned char *)CRYPTO_PERS,
	    sizeof(CRYPTO_PERS) - 1);
	if (rc != 0) {
		log_warnx("crypto: seeding the random generator failed "
		    "(mbedtls -0x%04x): no entropy source", (unsigned)-rc);
		mbedtls_ctr_drbg_free(&crypto_drbg);
		mbedtls_entropy_free(&crypto_entropy);
		goto out;
	}
	/* TLS 1.3 runs on PSA crypto (its own DRBG, seeded from the same
	 * entropy sources): ready before any TLS context is set up */
	if ((rc = (int)psa_crypto_init()) != PSA_SUCCESS) {
		log_warnx("crypto: PSA crypto init failed (%d)", rc);
		mbedtls_ctr_drbg_free(&crypto_drbg);
		mbedtls_entropy_free(&crypto_entropy);
		goto out;
	}
	crypto_pid = getpid();
	crypto_ready = 1;
	ret = 0;
 out:
	pthread_mutex_unlock(&crypto_mtx);
	return ret;
}

void
crypto_shutdown(void)
{
	pthread_mutex_lock(&crypto_mtx);
	if (crypto_ready) {
		/* both free functions zeroize their context */
		mbedtls_ctr_drbg_free(&crypto_drbg);
		mbedtls_entropy_free(&crypto_entropy);
		mbedtls_psa_crypto_free();
		crypto_ready = 0;
	}
	pthread_mutex_unlock(&crypto_mtx);
}

/*
 * mbedTLS reseeds on its own when its reseed interval is reached; we only
 * add a reseed after fork(). A request larger than the DRBG's per-call limit
 * is served in pieces.
 */
int
crypto_random(void *buf, size_t len)
{
	unsigned char *p = buf;
	size_t n;
	pid_t pid;
	int rc, ret = -1;

	pthread_mutex_lock(&crypto_mtx);
	if (!crypto_ready) {
		log_warnx("crypto: random requested before crypto_init");
		goto out;
	}
	pid = getpid();
	if (pid != crypto_pid) {
		rc = mbedtls_ctr_drbg_reseed(&crypto_drbg, NULL, 0);
		if (rc != 0) {
			log_warnx("crypto: reseed after fork failed "
			    "(mbedtls -0x%04x)", (unsigned)-rc);
			goto out;
		}
		crypto_pid = pid;
	}
	while (len > 0) {
		n = len < MBEDTLS_CTR_DRBG_MAX_REQUEST ? len :
		    MBEDTLS_CTR_DRBG_MAX_REQUEST;
		rc = mbedtls_ctr_drbg_random(&crypto_drbg, p, n);
		if (rc != 0) {
			log_warnx("crypto: random generator failed "
			    "(mbedtls -0x%04x)", (unsigned)-rc);
			goto out;
		}
		p += n;
		len -= n;
	}
	ret = 0;
 out:
	pthread_mutex_unlock(&crypto_mtx);
	if (ret != 0)
		crypto_wipe(buf, (size_t)(p - (unsigned char *)buf) + len);
	return ret;
}

void
crypto_wipe(void *buf, size_t len)
{
	if (buf != NULL)
		mbedtls_platform_zeroize(buf, len);
}

/*
 * Constant time in len: every byte is visited and no branch depends on the
 * data. The volatile accumulator keeps the compiler from turning the loop
 * into an early-exit memcmp.
 */
int
crypto_equal(const void *a, const void *b, size_t len)
{
	const volatile unsigned char *pa = a, *pb = b;
	volatile unsigned char acc = 0;
	size_t i;

	for (i = 0; i < len; i++)
		acc |= pa[i] ^ pb[i];
	return acc == 0;
}

void
crypto_sha256(const void *data, size_t len, uint8_t out[CRYPTO_SHA256_LEN])
{
	if (mbedtls_sha256(data, len, out, 0) != 0)
		fatalx("crypto: SHA-256 failed");
}

static void
crypto_hmac(mbedtls_md_type_t type, const uint8_t *key, size_t keylen, const void *data,
    size_t len, uint8_t *out)
{
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(type);

	/* fails only on allocation failure; the HMAC context is wiped inside */
	if (md == NULL || mbedtls_md_hmac(md, key, keylen, data, len, out) != 0)
		fatalx("crypto: HMAC failed");
}

void
crypto_hmac_sha256(const uint8_t *key, size_t keylen, const void *data,
    size_t len, uint8_t out[CRYPTO_SHA256_LEN])
{
	crypto_hmac(MBEDTLS_MD_SHA256, key, keylen, data, len, out);
}

void
crypto_hmac_sha1(const uint8_t *key, size_t keylen, const void *data,
    size_t len, uint8_t out[CRYPTO_SHA1_LEN])
{
	crypto_hmac(MBEDTLS_MD_SHA1, key, keylen, data, len, out);
}

/*
 * PBKDF2-HMAC-SHA256 (RFC 8018 5.2), on SHA-256's compression function.
 * mbedtls_pkcs5_pbkdf2_hmac_ext goes through the HMAC layer, which rehashes
 * the key's pad block for every iteration: four compressions where two are
 * the work. Here the inner and outer pad states are computed once per
 * password; each iteration is then exactly two compressions, of the
 * previous U under the inner state and of that digest under the outer:
 * both are 32-byte messages after a 64-byte pad, so their padding never
 * changes and the words go from one compression to the next without being
 * serialized. The compression is mbedTLS's (its Armv8-A crypto extension
 * path on aarch64 CPUs that have it, toolchain/mbedtls_config.h), or, on
 * x86-64 CPUs with the SHA extensions, the one below: mbedTLS has none, and
 * OpenSSL's is what the iteration count is compared with. Same output
 * (tests/unit/common/test_crypto.c: RFC 7914's vectors, hashlib's, both
 * paths). The SHA-256 context's state is read directly: this file is the
 * one place that knows mbedTLS's layout.
 */
#define CRYPTO_SHA256_BLOCK 64

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CRYPTO_SHA_NI 1
#include <cpuid.h>
#include <immintrin.h>

static const uint32_t crypto_sha256_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
	0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
	0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
	0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
};

/*
 * One compression with the SHA extensions (Intel's published sequence):
 * st in the usual order A..H, w the block's 16 words (already big-endian
 * decoded). sha256rnds2 wants the state as ABEF and CDGH.
 */
__attribute__((target("sha,sse4.1")))
static void
crypto_sha256_ni(uint32_t st[8], const uint32_t w[16])
{
	__m128i s0, s1, t, abef, cdgh, msg, m[4];
	int i;

	t = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&st[0]), 0xb1);
	s1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&st[4]), 0x1b);
	s0 = _mm_alignr_epi8(t, s1, 8);              /* ABEF */
	s1 = _mm_blend_epi16(s1, t, 0xf0);           /* CDGH */
	abef = s0;
	cdgh = s1;
	for (i = 0; i < 4; i++)
		m[i] = _mm_loadu_si128((const __m128i *)&w[4 * i]);
	for (i = 0; i < 16; i++) {
		if (i >= 4) {
			/* W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16] */
			t = _mm_sha256msg1_epu32(m[i & 3], m[(i + 1) & 3]);
			t = _mm_add_epi32(t,
			    _mm_alignr_epi8(m[(i + 3) & 3], m[(i + 2) & 3], 4));
			m[i & 3] = _mm_sha256msg2_epu32(t, m[(i + 3) & 3]);
		}
		msg = _mm_add_epi32(m[i & 3],
		    _mm_loadu_si128((const __m128i *)&crypto_sha256_k[4 * i]));
		s1 = _mm_sha256rnds2_epu32(s1, s0, msg);
		s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(msg, 0x0e));
	}
	s0 = _mm_add_epi32(s0, abef);
	s1 = _mm_add_epi32(s1, cdgh);
	t = _mm_shuffle_epi32(s0, 0x1b);                /* FEBA */
	s1 = _mm_shuffle_epi32(s1, 0xb1);               /* DCHG */
	_mm_storeu_si128((__m128i *)&st[0], _mm_blend_epi16(t, s1, 0xf0));
	_mm_storeu_si128((__m128i *)&st[4], _mm_alignr_epi8(s1, t, 8));
}
#endif /* x86-64 */

/* 1: crypto_sha256_words uses crypto_sha256_ni (CPUID: SHA, SSE4.1, SSSE3) */
static pthread_once_t crypto_accel_once = PTHREAD_ONCE_INIT;
static int crypto_accel;
static int crypto_accel_off;     /* crypto_sha256_accel(0): tests only */

static void
crypto_accel_init(void)
{
#ifdef CRYPTO_SHA_NI
	unsigned a, b, c, d;

	if (__get_cpuid(1, &a, &b, &c, &d) && (c & bit_SSSE3) &&
	    (c & bit_SSE4_1) && __get_cpuid_count(7, 0, &a, &b, &c, &d) &&
	    (b & bit_SHA))
		crypto_accel = 1;
#endif
}

int
crypto_sha256_accel(int enable)
{
	pthread_once(&crypto_accel_once, crypto_accel_init);
	if (enable >= 0)
		crypto_accel_off = !enable;
	return crypto_accel && !crypto_accel_off;
}

/* one compression of the block w (16 big-endian-decoded words) into st */
static int
crypto_sha256_words(mbedtls_sha256_context *c, int accel, uint32_t st[8],
    const uint32_t w[16])
{
	uint8_t b[CRYPTO_SHA256_BLOCK];
	int rc;

#ifdef CRYPTO_SHA_NI
	if (accel) {
		crypto_sha256_ni(st, w);
		return 0;
	}
#else
	(void)accel;
#endif
	for (size_t i = 0; i < 16; i++)
		be_put(b + 4 * i, 4, w[i]);
	memcpy(c->MBEDTLS_PRIVATE(state), st, sizeof(c->MBEDTLS_PRIVATE(state)));
	rc = mbedtls_internal_sha256_process(c, b);
	memcpy(st, c->MBEDTLS_PRIVATE(state), sizeof(c->MBEDTLS_PRIVATE(state)));
	return rc;
}

/* the HMAC key's two pad blocks hashed: ipad and opad contexts */
static void
crypto_hmac_pads(const void *pw, size_t pwlen, mbedtls_sha256_context *ipad,
    mbedtls_sha256_context *opad)
{
	uint8_t key[CRYPTO_SHA256_BLOCK], pad[CRYPTO_SHA256_BLOCK];
	size_t i;

	memset(key, 0, sizeof(key));
	if (pwlen > CRYPTO_SHA256_BLOCK)
		crypto_sha256(pw, pwlen, key);
	else if (pwlen > 0)
		memcpy(key, pw, pwlen);
	for (i = 0; i < sizeof(pad); i++)
		pad[i] = key[i] ^ 0x36;
	mbedtls_sha256_starts(ipad, 0);
	mbedtls_sha256_update(ipad, pad, sizeof(pad));
	for (i = 0; i < sizeof(pad); i++)
		pad[i] = key[i] ^ 0x5c;
	mbedtls_sha256_starts(opad, 0);
	mbedtls_sha256_update(opad, pad, sizeof(pad));
	crypto_wipe(key, sizeof(key));
	crypto_wipe(pad, sizeof(pad));
}

_Static_assert(2 * sizeof(mbedtls_sha256_context) <= sizeof(((struct crypto_hmac_key *)0)->opaque),
    "struct crypto_hmac_key is too small for two SHA-256 contexts");

void
crypto_hmac_key_init(struct crypto_hmac_key *k, const uint8_t *key, size_t keylen)
{
	mbedtls_sha256_context pads[2];

	mbedtls_sha256_init(&pads[0]);
	mbedtls_sha256_init(&pads[1]);
	crypto_hmac_pads(key, keylen, &pads[0], &pads[1]);
	memset(k, 0, sizeof(*k));
	memcpy(k->opaque, pads, sizeof(pads));
	mbedtls_sha256_free(&pads[0]);
	mbedtls_sha256_free(&pads[1]);
}

/* HMAC = H(opad || H(ipad || data)), from the pad blocks' hashed states */
void
crypto_hmac_sha256_ready(const struct crypto_hmac_key *k, const void *data,
    size_t len, uint8_t out[CRYPTO_SHA256_LEN])
{
	mbedtls_sha256_context pads[2], c;
	uint8_t inner[CRYPTO_SHA256_LEN];
	int rc;

	memcpy(pads, k->opaque, sizeof(pads));
	mbedtls_sha256_init(&c);
	mbedtls_sha256_clone(&c, &pads[0]);
	rc = mbedtls_sha256_update(&c, data, len);
	rc |= mbedtls_sha256_finish(&c, inner);
	mbedtls_sha256_clone(&c, &pads[1]);
	rc |= mbedtls_sha256_update(&c, inner, sizeof(inner));
	rc |= mbedtls_sha256_finish(&c, out);
	mbedtls_sha256_free(&c);
	crypto_wipe(pads, sizeof(pads));
	crypto_wipe(inner, sizeof(inner));
	if (rc != 0)
		fatalx("crypto: HMAC-SHA256 failed");
}

/*
 * T_n = U_1 ^ ... ^ U_c into t (words). U_1 = HMAC(P, S || INT(n)) through
 * the context API (the salt has any length); every later U is two blocks:
 * U || 0x80 || zeros || the message's length in bits (64 + 32 bytes).
 */
static int
crypto_pbkdf2_block(const mbedtls_sha256_context *ipad,
    const mbedtls_sha256_context *opad, const uint8_t *salt, size_t saltlen,
    uint32_t n, unsigned iterations, uint32_t t[8])
{
	mbedtls_sha256_context c;
	uint32_t iw[16], ow[16], st[8];
	uint8_t u[CRYPTO_SHA256_LEN], cnt[4];
	int accel = crypto_sha256_accel(-1), rc = 0;
	size_t k;

	memset(iw, 0, sizeof(iw));
	iw[8] = 0x80000000u;
	iw[15] = (CRYPTO_SHA256_BLOCK + CRYPTO_SHA256_LEN) * 8;
	memcpy(ow, iw, sizeof(ow));
	be_put(cnt, 4, n);

	mbedtls_sha256_init(&c);
	mbedtls_sha256_clone(&c, ipad);
	if (mbedtls_sha256_update(&c, salt, saltlen) != 0 ||
	    mbedtls_sha256_update(&c, cnt, sizeof(cnt)) != 0 ||
	    mbedtls_sha256_finish(&c, u) != 0)
		rc = -1;
	mbedtls_sha256_clone(&c, opad);
	if (mbedtls_sha256_update(&c, u, sizeof(u)) != 0 ||
	    mbedtls_sha256_finish(&c, u) != 0)
		rc = -1;
	for (k = 0; k < 8; k++)
		t[k] = iw[k] = (uint32_t)be_get(u + 4 * k, 4);

	for (unsigned i = 1; i < iterations && rc == 0; i++) {
		memcpy(st, ipad->MBEDTLS_PRIVATE(state), sizeof(st));
		rc |= crypto_sha256_words(&c, accel, st, iw);
		memcpy(ow, st, sizeof(st));
		memcpy(st, opad->MBEDTLS_PRIVATE(state), sizeof(st));
		rc |= crypto_sha256_words(&c, accel, st, ow);
		for (k = 0; k < 8; k++)
			t[k] ^= iw[k] = st[k];
	}
	mbedtls_sha256_free(&c);
	crypto_wipe(iw, sizeof(iw));
	crypto_wipe(ow, sizeof(ow));
	crypto_wipe(st, sizeof(st));
	crypto_wipe(u, sizeof(u));
	return rc == 0 ? 0 : -1;
}

int
crypto_pbkdf2_sha256(const void *pw, size_t pwlen, const uint8_t *salt,
    size_t saltlen, unsigned iterations, uint8_t *out, size_t outlen)
{
	mbedtls_sha256_context ipad, opad;
	uint32_t t[8];
	uint8_t tb[CRYPTO_SHA256_LEN];
	size_t done, n, k;
	int ret = -1;

	mbedtls_sha256_init(&ipad);
	mbedtls_sha256_init(&opad);
	if (iterations == 0 || outlen == 0 || out == NULL ||
	    (pw == NULL && pwlen > 0) || (salt == NULL && saltlen > 0)) {
		log_warnx("crypto: PBKDF2: bad arguments");
		goto fail;
	}
	/* RFC 8018: dkLen at most (2^32 - 1) * hLen */
	if (outlen / CRYPTO_SHA256_LEN >= UINT32_MAX) {
		log_warnx("crypto: PBKDF2: output too long");
		goto fail;
	}
	crypto_hmac_pads(pw, pwlen, &ipad, &opad);
	for (done = 0; done < outlen; done += n) {
		if (crypto_pbkdf2_block(&ipad, &opad, salt, saltlen,
		    (uint32_t)(done / CRYPTO_SHA256_LEN + 1), iterations, t) != 0) {
			log_warnx("crypto: PBKDF2 failed");
			goto fail;
		}
		for (k = 0; k < 8; k++)
			be_put(tb + 4 * k, 4, t[k]);
		n = outlen - done < CRYPTO_SHA256_LEN ? outlen - done :
		    CRYPTO_SHA256_LEN;
		memcpy(out + done, tb, n);
	}
	ret = 0;
 fail:
	crypto_wipe(t, sizeof(t));
	crypto_wipe(tb, sizeof(tb));
	mbedtls_sha256_free(&ipad);    /* zeroizes: the password's pad states */
	mbedtls_sha256_free(&opad);
	if (ret != 0 && out != NULL)
		crypto_wipe(out, outlen);
	return ret;
}

int
crypto_hkdf_sha256(const uint8_t *ikm, size_t ikmlen, const char *info,
    uint8_t *out, size_t outlen)
{
	const mbedtls_md_info_t *md;
	int rc;

	if (info == NULL)
		info = "";
	md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
	if (md == NULL)
		goto fail;
	rc = mbedtls_hkdf(md, NULL, 0, ikm, ikmlen,
	    (const unsigned char *)info, strlen(info), out, outlen);
	if (rc != 0) {
		log_warnx("crypto: HKDF failed (mbedtls -0x%04x)",
		    (unsigned)-rc);
		goto fail;
	}
	return 0;
 fail:
	crypto_wipe(out, outlen);
	return -1;
}

int
crypto_seal(const uint8_t key[CRYPTO_KEY_LEN], const void *ad, size_t adlen,
    const void *pt, size_t ptlen, uint8_t *out)
{
	mbedtls_gcm_context gcm;
	uint8_t *nonce = out;
	uint8_t *ct = out + CRYPTO_GCM_NONCE_LEN;
	uint8_t *tag = ct + ptlen;
	int rc, ret = -1;

	mbedtls_gcm_init(&gcm);
	/* a repeated nonce under one key is fatal to GCM: never reuse, never count */
	if (crypto_random(nonce, CRYPTO_GCM_NONCE_LEN) != 0)
		goto fail;
	rc = mbedtls_gcm_setkey(&gcm, MBEDTLS_CIPHER_ID_AES, key,
	    CRYPTO_KEY_LEN * 8);
	if (rc == 0)
		rc = mbedtls_gcm_crypt_and_tag(&gcm, MBEDTLS_GCM_ENCRYPT, ptlen,
		    nonce, CRYPTO_GCM_NONCE_LEN, ad, adlen, pt, ct,
		    CRYPTO_GCM_TAG_LEN, tag);
	if (rc != 0) {
		log_warnx("crypto: AES-GCM seal failed (mbedtls -0x%04x)",
		    (unsigned)-rc);
		goto fail;
	}
	ret = 0;
 fail:
	if (ret != 0)
		crypto_wipe(out, ptlen + CRYPTO_SEAL_OVERHEAD);
	mbedtls_gcm_free(&gcm);    /* zeroizes the key schedule */
	return ret;
}

/*
 * A failed open is not logged: it is the caller who knows whether it means
 * tampering, a wrong key or merely a stale record.
 */
int
crypto_open(const uint8_t key[CRYPTO_KEY_LEN], const void *ad, size_t adlen,
    const uint8_t *in, size_t inlen, uint8_t *out)
{
	mbedtls_gcm_context gcm;
	const uint8_t *nonce, *ct, *tag;
	size_t ptlen;
	int rc, ret = -1;

	mbedtls_gcm_init(&gcm);
	if (inlen < CRYPTO_SEAL_OVERHEAD)
		goto fail;
	ptlen = inlen - CRYPTO_SEAL_OVERHEAD;
	nonce = in;
	ct = in + CRYPTO_GCM_NONCE_LEN;
	tag = ct + ptlen;
	rc = mbedtls_gcm_setkey(&gcm, MBEDTLS_CIPHER_ID_AES, key,
	    CRYPTO_KEY_LEN * 8);
	if (rc == 0)
		rc = mbedtls_gcm_auth_decrypt(&gcm, ptlen, nonce,
		    CRYPTO_GCM_NONCE_LEN, ad, adlen, tag, CRYPTO_GCM_TAG_LEN,
		    ct, out);
	if (rc != 0) {
		crypto_wipe(out, ptlen);
		goto fail;
	}
	ret = 0;
 fail:
	mbedtls_gcm_free(&gcm);
	return ret;
}

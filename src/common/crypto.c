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
#include <mbedtls/pkcs5.h>
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

void
crypto_hmac_sha256(const uint8_t *key, size_t keylen, const void *data,
    size_t len, uint8_t out[CRYPTO_SHA256_LEN])
{
	const mbedtls_md_info_t *md;

	md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
	/* fails only on allocation failure; the HMAC context is wiped inside */
	if (md == NULL || mbedtls_md_hmac(md, key, keylen, data, len, out) != 0)
		fatalx("crypto: HMAC-SHA256 failed");
}

int
crypto_pbkdf2_sha256(const void *pw, size_t pwlen, const uint8_t *salt,
    size_t saltlen, unsigned iterations, uint8_t *out, size_t outlen)
{
	int rc, ret = -1;

	if (iterations == 0 || outlen == 0) {
		log_warnx("crypto: PBKDF2: bad arguments");
		goto fail;
	}
#if SIZE_MAX > UINT32_MAX
	if (outlen > UINT32_MAX) {
		log_warnx("crypto: PBKDF2: output too long");
		goto fail;
	}
#endif
	/* frees (and so zeroizes) its password-keyed HMAC state itself */
	rc = mbedtls_pkcs5_pbkdf2_hmac_ext(MBEDTLS_MD_SHA256, pw, pwlen, salt,
	    saltlen, iterations, (uint32_t)outlen, out);
	if (rc != 0) {
		log_warnx("crypto: PBKDF2 failed (mbedtls -0x%04x)",
		    (unsigned)-rc);
		goto fail;
	}
	ret = 0;
 fail:
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

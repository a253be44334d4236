/*
 * Every use of mbedTLS crypto: the process-wide random generator, hashes,
 * MACs, key derivation, authenticated encryption, and the appliance key file.
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
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* write all of buf, or -1 with errno set */
static int
crypto_write_all(int fd, const uint8_t *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* read exactly len bytes, or -1 (errno 0 on a short file) */
static int
crypto_read_all(int fd, uint8_t *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = read(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = 0;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* fsync the directory holding path, so a new entry in it survives a crash */
static int
crypto_fsync_dir(const char *path)
{
	char *dir = x_strdup(path), *slash;
	int fd, rc;

	slash = strrchr(dir, '/');
	if (slash == NULL) {
		free(dir);
		dir = x_strdup(".");
	} else if (slash == dir) {
		slash[1] = '\0';
	} else {
		*slash = '\0';
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/*
 * Check an open secret file: regular, no group/world bits, and (when size is
 * not -1) exactly that many bytes. 0, or -1 with the reason in err.
 */
static int
crypto_secret_stat(const char *path, const struct stat *st, off_t size,
    char *err, size_t errlen)
{
	if (!S_ISREG(st->st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		return -1;
	}
	if ((st->st_mode & 077) != 0) {
		snprintf(err, errlen, "%s: group or world accessible "
		    "(mode %04o); chmod 600 it", path,
		    (unsigned)(st->st_mode & 07777));
		return -1;
	}
	if (size >= 0 && st->st_size != size) {
		snprintf(err, errlen, "%s: must be %lld bytes, is %lld", path,
		    (long long)size, (long long)st->st_size);
		return -1;
	}
	return 0;
}

/*
 * Create a new key file. 0 created, 1 someone else created it first (the
 * caller loads it), -1 with err. A half-written file is removed so the next
 * start does not trip over it.
 */
static int
crypto_key_file_create(const char *path, uint8_t key[CRYPTO_KEY_LEN],
    char *err, size_t errlen)
{
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd < 0) {
		if (errno == EEXIST)
			return 1;
		snprintf(err, errlen, "%s: cannot create: %s", path,
		    strerror(errno));
		return -1;
	}
	if (crypto_random(key, CRYPTO_KEY_LEN) != 0) {
		snprintf(err, errlen, "%s: no random bytes for a new key", path);
		goto fail;
	}
	/* umask may only have removed bits; say exactly what we mean */
	if (fchmod(fd, 0600) != 0 ||
	    crypto_write_all(fd, key, CRYPTO_KEY_LEN) != 0 ||
	    fsync(fd) != 0) {
		snprintf(err, errlen, "%s: cannot write: %s", path,
		    strerror(errno));
		goto fail;
	}
	if (close(fd) != 0) {
		fd = -1;
		snprintf(err, errlen, "%s: cannot write: %s", path,
		    strerror(errno));
		goto fail;
	}
	fd = -1;
	if (crypto_fsync_dir(path) != 0) {
		snprintf(err, errlen, "%s: cannot sync its directory: %s",
		    path, strerror(errno));
		goto fail;
	}
	log_info("crypto: created appliance key file %s", path);
	return 0;
 fail:
	if (fd >= 0)
		close(fd);
	unlink(path);
	crypto_wipe(key, CRYPTO_KEY_LEN);
	return -1;
}

int
crypto_key_file_load(const char *path, uint8_t key[CRYPTO_KEY_LEN],
    char *err, size_t errlen)
{
	struct stat st;
	int fd = -1, rc, tries;

	/* two tries: a racing creator wins the O_EXCL, then we load its key */
	for (tries = 0; tries < 2; tries++) {
		/* O_NONBLOCK: a FIFO planted here must not hang start-up */
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd >= 0 || errno != ENOENT)
			break;
		rc = crypto_key_file_create(path, key, err, errlen);
		if (rc == 0)
			return 0;
		if (rc < 0)
			goto fail;
	}
	if (fd < 0) {
		if (errno == ELOOP)
			snprintf(err, errlen, "%s: is a symbolic link; "
			    "refusing to follow it", path);
		else
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (fstat(fd, &st) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (crypto_secret_stat(path, &st, CRYPTO_KEY_LEN, err, errlen) != 0)
		goto fail;
	if (crypto_read_all(fd, key, CRYPTO_KEY_LEN) != 0) {
		snprintf(err, errlen, "%s: cannot read: %s", path,
		    errno ? strerror(errno) : "file shrank");
		goto fail;
	}
	close(fd);
	return 0;
 fail:
	if (fd >= 0)
		close(fd);
	crypto_wipe(key, CRYPTO_KEY_LEN);
	return -1;
}

int
crypto_secret_file_check(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	return crypto_secret_stat(path, &st, -1, err, errlen);
}

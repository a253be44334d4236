/*
 * cred.c — a certificate and its private key (or a pinned certificate
 * alone), read and checked together, shared by reference so that a SIGHUP
 * can replace them while connections still use the old ones.
 *
 * Both programs present a certificate (acctd's HTTPS server and push
 * client, the agent's server) and pin one (acctd pins each node's, the
 * agent acctd's). All of them are read here, by one set of rules, so a
 * start, `-t` and a reload refuse the same files with the same words:
 * the setting, the file and the reason ("permission denied", "is a
 * certificate, not a private key", "does not match …", "expired on …").
 *
 * The key file is read by us (not by mbedTLS's parse_keyfile, whose only
 * error for every failed open is "PK - Read/write of file failed"), wiped
 * after the parse. A struct cred is immutable once loaded; its reference
 * count is atomic, so any thread may drop the last reference.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/error.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/x509_crt.h>

#include "common.h"

#define CRED_FILE_MAX (256 * 1024)	/* PEM chains are a few KiB */

struct cred {
	atomic_int refs;
	int has_key;
	mbedtls_x509_crt crt;
	mbedtls_pk_context key;
};

static int
cred_rng(void *unused, unsigned char *out, size_t len)
{
	(void)unused;
	return crypto_random(out, len) == 0 ? 0 : MBEDTLS_ERR_PK_BAD_INPUT_DATA;
}

/* how an open or read failure reads in our messages */
static const char *
cred_errno(int e)
{
	return e == EACCES ? "permission denied" : strerror(e);
}

/* the whole file, NUL-terminated (len counts the NUL, as mbedTLS's PEM
 * parsers want); -1 with "FILE: reason" in err */
static int
cred_read(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	ssize_t n;
	size_t used = 0;
	int fd;

	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1) {
		snprintf(err, errlen, "%s: %s", path, cred_errno(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > CRED_FILE_MAX) {
		snprintf(err, errlen, "%s: %s", path, !S_ISREG(st.st_mode) ?
		    "not a regular file" : "too large for a PEM file");
		close(fd);
		return -1;
	}
	buf = x_malloc((size_t)st.st_size + 1);
	while (used < (size_t)st.st_size &&
	    (n = read(fd, buf + used, (size_t)st.st_size - used)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "%s: %s", path, cred_errno(errno));
			mbedtls_platform_zeroize(buf, used);
			free(buf);
			close(fd);
			return -1;
		}
		used += (size_t)n;
	}
	close(fd);
	buf[used] = '\0';
	*out = buf;
	*len = used + 1;
	return 0;
}

/* cred_read, the error as "NAME: FILE: reason" */
static int
cred_read_named(const char *path, const char *name, char **out, size_t *len,
    char *err, size_t errlen)
{
	char why[160];

	if (cred_read(path, out, len, why, sizeof(why)) == 0)
		return 0;
	snprintf(err, errlen, "%s: %s", name, why);
	return -1;
}

static void
cred_strerror(int rc, char *buf, size_t len)
{
	mbedtls_strerror(rc, buf, len);
}

/* the certificate file: every certificate in it parses, at least one */
static int
cred_parse_crt(struct cred *c, const char *path, const char *name,
    char *err, size_t errlen)
{
	char why[160], *buf;
	size_t len;
	int rc;

	if (cred_read_named(path, name, &buf, &len, err, errlen) == -1)
		return -1;
	if (strstr(buf, "-----BEGIN CERTIFICATE-----") == NULL &&
	    strstr(buf, "PRIVATE KEY-----") != NULL) {
		snprintf(err, errlen, "%s: %s: is a private key, not a "
		    "certificate", name, path);
		rc = -1;
	} else if ((rc = mbedtls_x509_crt_parse(&c->crt,
	    (const unsigned char *)buf, len)) != 0) {
		cred_strerror(rc, why, sizeof(why));
		snprintf(err, errlen, "%s: %s: %s", name, path,
		    rc > 0 ? "not every certificate parses" : why);
	}
	free(buf);
	return rc == 0 ? 0 : -1;
}

/* the key file: private to us, a private key, the certificate's */
static int
cred_parse_key(struct cred *c, const char *path, const char *name,
    const char *cert_name, char *err, size_t errlen)
{
	char why[160], *buf;
	size_t len;
	int rc;

	if (cred_read_named(path, name, &buf, &len, err, errlen) == -1)
		return -1;
	if (file_secret_check(path, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "%s: %s", name, why);
		mbedtls_platform_zeroize(buf, len);
		free(buf);
		return -1;
	}
	rc = mbedtls_pk_parse_key(&c->key, (const unsigned char *)buf, len,
	    NULL, 0, cred_rng, NULL);
	if (rc != 0 && strstr(buf, "-----BEGIN CERTIFICATE-----") != NULL)
		snprintf(err, errlen, "%s: %s: is a certificate, not a private "
		    "key", name, path);
	else if (rc != 0) {
		cred_strerror(rc, why, sizeof(why));
		snprintf(err, errlen, "%s: %s: %s", name, path, why);
	} else if (mbedtls_pk_check_pair(&c->crt.pk, &c->key, cred_rng,
	    NULL) != 0) {
		snprintf(err, errlen, "%s: %s does not match %s", name, path,
		    cert_name);
		rc = -1;
	}
	mbedtls_platform_zeroize(buf, len);
	free(buf);
	return rc == 0 ? 0 : -1;
}

int
cred_load(const char *cert, const char *key, const char *cert_name,
    const char *key_name, struct cred **out, char *err, size_t errlen)
{
	struct cred *c = x_calloc(1, sizeof(*c));
	char cn[160];

	*out = NULL;
	atomic_init(&c->refs, 1);
	if (crypto_init() == -1) {	/* the pair check signs (-t runs early) */
		snprintf(err, errlen, "%s: no random numbers to check it with",
		    key_name != NULL ? key_name : cert_name);
		free(c);
		return -1;
	}
	mbedtls_x509_crt_init(&c->crt);
	mbedtls_pk_init(&c->key);
	if (cred_parse_crt(c, cert, cert_name, err, errlen) == -1)
		goto fail;
	snprintf(cn, sizeof(cn), "%s %s", cert_name, cert);
	if (key != NULL) {
		if (cred_parse_key(c, key, key_name, cn, err, errlen) == -1)
			goto fail;
		c->has_key = 1;
	}
	*out = c;
	return 0;
fail:
	cred_unref(c);
	return -1;
}

/* a notAfter or notBefore as Unix time (UTC) */
static int64_t
cred_time(const mbedtls_x509_time *t)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = t->year - 1900;
	tm.tm_mon = t->mon - 1;
	tm.tm_mday = t->day;
	tm.tm_hour = t->hour;
	tm.tm_min = t->min;
	tm.tm_sec = t->sec;
	return (int64_t)timegm(&tm);
}

int
cred_check_time(const struct cred *c, const char *name, char *err,
    size_t errlen)
{
	const mbedtls_x509_time *to = &c->crt.valid_to, *from = &c->crt.valid_from;

	if (mbedtls_x509_time_is_past(to)) {
		snprintf(err, errlen, "%s: expired on %04d-%02d-%02d %02d:%02d:%02d UTC",
		    name, to->year, to->mon, to->day, to->hour, to->min, to->sec);
		return -1;
	}
	if (mbedtls_x509_time_is_future(from)) {
		snprintf(err, errlen, "%s: not valid before %04d-%02d-%02d "
		    "%02d:%02d:%02d UTC (check the clock)", name, from->year,
		    from->mon, from->day, from->hour, from->min, from->sec);
		return -1;
	}
	return 0;
}

int64_t
cred_not_after(const struct cred *c)
{
	return cred_time(&c->crt.valid_to);
}

struct mbedtls_x509_crt *
cred_crt(struct cred *c)
{
	return &c->crt;
}

struct mbedtls_pk_context *
cred_key(struct cred *c)
{
	return c->has_key ? &c->key : NULL;
}

int
cred_same(const struct cred *a, const struct cred *b)
{
	return a->crt.raw.len == b->crt.raw.len &&
	    memcmp(a->crt.raw.p, b->crt.raw.p, a->crt.raw.len) == 0;
}

struct cred *
cred_ref(struct cred *c)
{
	if (c != NULL)
		atomic_fetch_add(&c->refs, 1);
	return c;
}

void
cred_unref(struct cred *c)
{
	if (c == NULL || atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	mbedtls_pk_free(&c->key);	/* zeroizes the key */
	mbedtls_x509_crt_free(&c->crt);
	free(c);
}

/* --- a slot: the current credentials of one role ----------------------- */

static pthread_mutex_t cred_slot_mu = PTHREAD_MUTEX_INITIALIZER;

struct cred *
cred_slot_get(struct cred **slot)
{
	struct cred *c;

	pthread_mutex_lock(&cred_slot_mu);
	c = cred_ref(*slot);
	pthread_mutex_unlock(&cred_slot_mu);
	return c;
}

void
cred_slot_set(struct cred **slot, struct cred *c)
{
	struct cred *old;

	pthread_mutex_lock(&cred_slot_mu);
	old = *slot;
	*slot = c;
	pthread_mutex_unlock(&cred_slot_mu);
	cred_unref(old);
}

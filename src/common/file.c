/*
 * file.c — files that must survive a crash or must stay secret, for both
 * programs: the appliance key (acctd), private key files (both), and files
 * rewritten whole (the agent's state, acctd's DNS hosts file). "fsync the
 * directory" and "write a file atomically" had a copy in each user, with
 * different error handling; here is the one each of them calls.
 *
 * The appliance key file lived in crypto.c; it is a file rule (O_EXCL,
 * O_NOFOLLOW, mode, size), not cryptography, so it is here and crypto.c
 * keeps only mbedTLS.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "common.h"

/*
 * All len bytes: read into rbuf, or (rbuf NULL) write from wbuf. 0, or -1
 * with errno set (on an early end of file: 0 reading, EIO writing).
 */
static int
file_io_all(int fd, void *rbuf, const void *wbuf, size_t len)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = rbuf != NULL ?
		    read(fd, (uint8_t *)rbuf + done, len - done) :
		    write(fd, (const uint8_t *)wbuf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = rbuf != NULL ? 0 : EIO;
			return -1;
		}
		done += (size_t)n;
	}
	return 0;
}

int
file_fsync_dir(const char *path)
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
file_secret_stat(const char *path, const struct stat *st, off_t size,
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
file_key_create(const char *path, uint8_t key[CRYPTO_KEY_LEN],
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
	    file_io_all(fd, NULL, key, CRYPTO_KEY_LEN) != 0 ||
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
	if (file_fsync_dir(path) != 0) {
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
file_key_load(const char *path, uint8_t key[CRYPTO_KEY_LEN],
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
		rc = file_key_create(path, key, err, errlen);
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
	if (file_secret_stat(path, &st, CRYPTO_KEY_LEN, err, errlen) != 0)
		goto fail;
	if (file_io_all(fd, key, NULL, CRYPTO_KEY_LEN) != 0) {
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
file_secret_check(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	return file_secret_stat(path, &st, -1, err, errlen);
}

/*
 * a new PATH.tmp holding buf, fsynced and closed; -1 with err. Its mode is
 * `mode` whatever the umask: the systemd units' UMask=0077 must not make
 * the DNS hosts file (0644) unreadable to the DNS server.
 */
static int
file_write_tmp(const char *tmp, const void *buf, size_t len, unsigned mode,
    char *err, size_t errlen)
{
	int fd;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
	    (mode_t)mode);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot create: %s", tmp,
		    strerror(errno));
		return -1;
	}
	if (fchmod(fd, (mode_t)mode) == -1 ||
	    file_io_all(fd, NULL, buf, len) == -1 || fsync(fd) == -1) {
		snprintf(err, errlen, "%s: cannot write: %s", tmp,
		    strerror(errno));
		close(fd);
		return -1;
	}
	if (close(fd) == -1) {
		snprintf(err, errlen, "%s: cannot write: %s", tmp,
		    strerror(errno));
		return -1;
	}
	return 0;
}

int
file_write_atomic(const char *path, const void *buf, size_t len,
    unsigned mode, char *err, size_t errlen)
{
	char *tmp = x_asprintf("%s.tmp", path);
	int rc = -1;

	if (file_write_tmp(tmp, buf, len, mode, err, errlen) == -1)
		goto done;
	if (rename(tmp, path) == -1) {
		snprintf(err, errlen, "%s: cannot rename to %s: %s", tmp, path,
		    strerror(errno));
		goto done;
	}
	if (file_fsync_dir(path) == -1) {
		snprintf(err, errlen, "%s: cannot sync its directory: %s", path,
		    strerror(errno));
		goto done;
	}
	rc = 0;
done:
	if (rc == -1)
		unlink(tmp);
	free(tmp);
	return rc;
}

/*
 * The bootstrap administrator's password file (docs/config.md, bootstrap_admin):
 * if the file exists its first line is the password; otherwise a random one
 * is written there, 0600; the caller shows it only on a terminal, never in
 * a log (main.c). The file is refused
 * when group or world can read it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acctd.h"

/* the first line of the open file fd (closed here); refused when group or
 * world can read it or it holds less than 8 characters */
static int
bootstrap_read(int fd, const char *path, char *out, size_t outlen, char *err,
    size_t errlen)
{
	struct stat st;
	ssize_t n;

	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen, "%s: group or world accessible (mode %04o); chmod 600 it",
		    path, (unsigned)(st.st_mode & 07777));
		close(fd);
		return -1;
	}
	n = read(fd, out, outlen - 1);
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	out[n] = '\0';
	out[strcspn(out, "\r\n")] = '\0';
	if (strlen(out) < 8) {
		snprintf(err, errlen, "%s: the first line must hold a password of at least 8 characters",
		    path);
		return -1;
	}
	return 0;
}

int
bootstrap_password(const char *path, char *out, size_t outlen, int *created,
    char *err, size_t errlen)
{
	size_t len;
	int fd;

	*created = 0;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT) {
		if (secret_readable(out, outlen, 5) == -1) {
			snprintf(err, errlen, "no randomness for the bootstrap password");
			return -1;
		}
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd == -1) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto fail;
		}
		len = strlen(out);
		if (write(fd, out, len) != (ssize_t)len || write(fd, "\n", 1) != 1 ||
		    fsync(fd) == -1) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			close(fd);
			unlink(path);
			goto fail;
		}
		close(fd);
		*created = 1;
		return 0;
	}
	if (fd == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (bootstrap_read(fd, path, out, outlen, err, errlen) == -1)
		goto fail;
	return 0;
fail:
	crypto_wipe(out, outlen);
	return -1;
}

/*
 * The bootstrap admin changed the one-time password: the file that holds it
 * has served its purpose and would only leak an old secret (a backup of
 * data_dir, a later admin). It goes when its first line is `old` (constant
 * time): a file the operator has since replaced stays.
 */
int
bootstrap_forget(const char *path, const char *old, char *err, size_t errlen)
{
	char pw[128];
	size_t len = strlen(old);
	int fd, same;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT)
		return 0;
	if (fd == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (bootstrap_read(fd, path, pw, sizeof(pw), err, errlen) == -1) {
		crypto_wipe(pw, sizeof(pw));
		return -1;
	}
	same = strlen(pw) == len && crypto_equal(pw, old, len);
	crypto_wipe(pw, sizeof(pw));
	if (!same)
		return 0;
	if (unlink(path) == -1) {
		snprintf(err, errlen, "%s: cannot remove: %s", path, strerror(errno));
		return -1;
	}
	return 1;
}

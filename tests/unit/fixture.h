/*
 * fixture.h — what the unit tests of every side share: a private temporary
 * directory per test and its removal. Header-only (static functions), so a
 * test binary links nothing beyond its own side's objects.
 */
#ifndef ACCTD_TEST_FIXTURE_H
#define ACCTD_TEST_FIXTURE_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* dir (>= 64 bytes) gets "/tmp/<name>.XXXXXX", created 0700; 0 or -1 */
static inline int
fixture_tmpdir(char *dir, size_t len, const char *name)
{
	if ((size_t)snprintf(dir, len, "/tmp/%s.XXXXXX", name) >= len)
		return -1;
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static inline int
fixture_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* remove dir and everything below it (symbolic links are not followed) */
static inline int
fixture_rmtree(const char *dir)
{
	return nftw(dir, fixture_rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

#endif /* ACCTD_TEST_FIXTURE_H */

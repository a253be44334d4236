/*
 * fixture_acctd.h — what the daemon's unit tests share beyond fixture.h: a
 * fresh store in its own temporary directory, and the appliance key with
 * its derived keys. Apart from fixture.h because it needs LMDB (store.c),
 * which the common tests must not link. Header-only, like fixture.h.
 */
#ifndef ACCTD_TEST_FIXTURE_ACCTD_H
#define ACCTD_TEST_FIXTURE_ACCTD_H

#include "acctd.h"
#include "fixture.h"

struct fixture_store {
	char dir[64];             /* the temp dir, removed by fixture_store_down */
	char *path;               /* where the store lives: dir, or dir/<sub> */
	struct store *s;
};

/*
 * A temp dir "/tmp/<name>.XXXXXX" and a store of map_mb MiB in it, or in
 * dir/sub when sub is not NULL (a directory store_open has to create).
 * 0, or -1 with the reason on stderr.
 */
static inline int
fixture_store_up(struct fixture_store *f, const char *name, const char *sub,
    unsigned map_mb)
{
	char err[512];

	memset(f, 0, sizeof(*f));
	if (fixture_tmpdir(f->dir, sizeof(f->dir), name) == -1)
		return -1;
	f->path = sub ? x_asprintf("%s/%s", f->dir, sub) : x_strdup(f->dir);
	if (store_open(f->path, map_mb, &f->s, err, sizeof(err)) != 0) {
		fprintf(stderr, "store_open: %s\n", err);
		return -1;
	}
	return 0;
}

/* close the store (NULL ok), remove the dir: 0 or -1 */
static inline int
fixture_store_down(struct fixture_store *f)
{
	int rc;

	store_close(f->s);
	f->s = NULL;
	rc = fixture_rmtree(f->dir);
	free(f->path);
	f->path = NULL;
	return rc;
}

/* cmocka: *state = a new fixture_store (see fixture_store_up) */
static inline int
fixture_store_new(void **state, const char *name, const char *sub, unsigned map_mb)
{
	struct fixture_store *f = x_calloc(1, sizeof(*f));

	*state = f;
	if (fixture_store_up(f, name, sub, map_mb) == 0)
		return 0;
	fixture_store_down(f);
	free(f);
	*state = NULL;
	return -1;
}

/* cmocka teardown of fixture_store_new */
static inline int
fixture_store_teardown(void **state)
{
	struct fixture_store *f = *state;
	int rc = fixture_store_down(f);

	free(f);
	return rc;
}

/*
 * The appliance key: every byte `fill`, or random (after crypto_init) when
 * fill < 0; then the keys derived from it, as acctd does at start. 0 or -1.
 */
static inline int
fixture_app_key(int fill)
{
	if (fill >= 0)
		memset(app.key, fill, sizeof(app.key));
	else if (crypto_init() == -1 || crypto_random(app.key, sizeof(app.key)) == -1)
		return -1;
	return app_keys_derive();
}

#endif /* ACCTD_TEST_FIXTURE_ACCTD_H */

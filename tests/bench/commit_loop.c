/*
 * The ceiling of one fsync'd commit per change on this disk: an LMDB
 * environment in DIR, one small put per write txn, each commit synced as
 * acctd's are (no MDB_NOSYNC), for SECONDS. Prints "commits/s N".
 * Built and run by tests/bench/commit.py against the same liblmdb acctd
 * links, in a directory on the same file system as acctd's data_dir.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lmdb.h>

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k, v;
	char key[32], val[200];
	double t0, secs;
	unsigned long n = 0;
	int rc;

	if (argc != 3) {
		fprintf(stderr, "usage: commit_loop DIR SECONDS\n");
		return 2;
	}
	secs = atof(argv[2]);
	memset(val, 'x', sizeof(val));
	if ((rc = mdb_env_create(&env)) != 0 ||
	    (rc = mdb_env_set_mapsize(env, (size_t)64 << 20)) != 0 ||
	    (rc = mdb_env_open(env, argv[1], MDB_NOTLS, 0600)) != 0)
		goto fail;
	t0 = now();
	while (now() - t0 < secs) {
		if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0)
			goto fail;
		if ((rc = mdb_dbi_open(txn, NULL, 0, &dbi)) != 0)
			goto fail;
		/* a handful of keys, rewritten: like a profile PATCH, not a growing file */
		snprintf(key, sizeof(key), "user%02lu", n % 32);
		k.mv_data = key;
		k.mv_size = strlen(key);
		v.mv_data = val;
		v.mv_size = sizeof(val);
		if ((rc = mdb_put(txn, dbi, &k, &v, 0)) != 0 ||
		    (rc = mdb_txn_commit(txn)) != 0)
			goto fail;
		n++;
	}
	printf("commits/s %.1f\n", (double)n / (now() - t0));
	mdb_env_close(env);
	return 0;
fail:
	fprintf(stderr, "commit_loop: %s\n", mdb_strerror(rc));
	return 1;
}

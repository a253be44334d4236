/*
 * lmdbloop.c — make bench's ceiling for one-commit-per-request writes: one
 * thread, the sysroot's LMDB, default (fully synced) environment flags as
 * acctd's store uses them, each commit one put of a small record, for
 * SECONDS; run in a directory on the same disk as acctd's data_dir.
 *
 *   lmdbloop DIR SECONDS       prints "commits/s"
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lmdb.h>

static double
lmdbloop_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k, v;
	char key[32], val[256];
	double t0, secs;
	long n;
	int rc;

	if (argc != 3) {
		fprintf(stderr, "usage: lmdbloop DIR SECONDS\n");
		return 2;
	}
	secs = atof(argv[2]);
	memset(val, 'x', sizeof(val));
	if ((rc = mdb_env_create(&env)) != 0 ||
	    (rc = mdb_env_set_mapsize(env, 64u << 20)) != 0 ||
	    (rc = mdb_env_open(env, argv[1], 0, 0600)) != 0 ||
	    (rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0 ||
	    (rc = mdb_dbi_open(txn, NULL, 0, &dbi)) != 0 ||
	    (rc = mdb_txn_commit(txn)) != 0)
		goto fail;
	t0 = lmdbloop_now();
	for (n = 0; lmdbloop_now() - t0 < secs; n++) {
		k.mv_size = (size_t)snprintf(key, sizeof(key), "k%ld", n % 4096);
		k.mv_data = key;
		v.mv_size = sizeof(val);
		v.mv_data = val;
		if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0 ||
		    (rc = mdb_put(txn, dbi, &k, &v, 0)) != 0 ||
		    (rc = mdb_txn_commit(txn)) != 0)
			goto fail;
	}
	printf("%.0f\n", n / (lmdbloop_now() - t0));
	mdb_env_close(env);
	return 0;
fail:
	fprintf(stderr, "lmdbloop: %s\n", mdb_strerror(rc));
	return 1;
}

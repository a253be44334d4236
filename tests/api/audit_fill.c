/*
 * audit-fill DATA_DIR KEY_FILE MAP_MB CAPACITY COUNT IDENTITY_ID HANDLE:
 * append COUNT audit records to a stopped acctd's store, with the real
 * audit_append (keyed chain, index, ring trim), 10000 to a transaction.
 * The records are "user.update" by HANDLE on the user IDENTITY_ID, data
 * {"fill":N}. For test_85_export and tools/export-bench.py: filling a ring
 * of 200 k records through the API would take minutes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acctd.h"

#define FILL_BATCH 10000

static int
fill_batch(struct store *s, unsigned capacity, const struct audit_event *e, long from,
    long n)
{
	struct store_txn *t;
	struct json *data;
	struct audit_event ev = *e;
	int rc = 0;

	if (store_txn_begin(s, 1, &t) == -1)
		return -1;
	for (long i = 0; rc == 0 && i < n; i++) {
		data = json_object();
		json_set_int(data, "fill", from + i);
		ev.data = data;
		rc = audit_append(t, capacity, &ev, app_now(), NULL);
		json_free(data);
	}
	if (rc == -1) {
		store_txn_abort(t);
		return -1;
	}
	return store_txn_commit(t);
}

int
main(int argc, char **argv)
{
	struct audit_actor by = { NULL, NULL, NULL, NULL, "127.0.0.1" };
	struct audit_event e;
	struct store *s;
	char err[512];
	long count;

	if (argc != 8) {
		fprintf(stderr, "usage: audit-fill DATA_DIR KEY_FILE MAP_MB CAPACITY COUNT "
		    "IDENTITY_ID HANDLE\n");
		return 2;
	}
	if (file_key_load(argv[2], app.key, err, sizeof(err)) == -1 || app_keys_derive() == -1) {
		fprintf(stderr, "audit-fill: key: %s\n", err);
		return 1;
	}
	if (store_open(argv[1], (unsigned)atoi(argv[3]), &s, err, sizeof(err)) != 0 ||
	    audit_init(s) == -1) {
		fprintf(stderr, "audit-fill: store: %s\n", err);
		return 1;
	}
	by.handle = argv[7];
	memset(&e, 0, sizeof(e));
	e.action = "user.update";
	e.actor = &by;
	e.identity_id = e.target_id = argv[6];
	e.identity_handle = e.target_handle = argv[7];
	count = atol(argv[5]);
	for (long i = 0; i < count; i += FILL_BATCH) {
		if (fill_batch(s, (unsigned)atoi(argv[4]), &e, i,
		    count - i < FILL_BATCH ? count - i : FILL_BATCH) == -1) {
			fprintf(stderr, "audit-fill: append failed at %ld\n", i);
			store_close(s);
			return 1;
		}
	}
	store_close(s);
	return 0;
}

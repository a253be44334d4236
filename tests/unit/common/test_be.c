/*
 * common.h's byte order helpers: the exact bytes the store holds (audit
 * seqs, push_seq: 8 bytes; schema_version: 4), and that byte order is
 * numeric order, which LMDB's key order relies on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common.h"

static void
test_be_bytes(void **state)
{
	static const uint8_t seq[8] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08 };
	static const uint8_t two[4] = { 0, 0, 0, 2 };
	uint8_t b[8];

	(void)state;
	be_put(b, 8, UINT64_C(0x0102030405060708));
	assert_memory_equal(b, seq, 8);
	assert_true(be_get(seq, 8) == UINT64_C(0x0102030405060708));
	memset(b, 0xff, sizeof(b));
	be_put(b, 4, 2);
	assert_memory_equal(b, two, 4);
	assert_int_equal(b[4], 0xff);            /* n bytes, not one more */
	assert_int_equal(be_get(two, 4), 2);
	be_put(b, 4, UINT64_C(0x1122334455));    /* the low n bytes */
	assert_true(be_get(b, 4) == 0x22334455);
}

static void
test_be_order(void **state)
{
	static const uint64_t v[] = { 0, 1, 255, 256, 65535, 65536,
	    UINT64_C(1) << 32, (UINT64_C(1) << 63) - 1, UINT64_MAX };
	uint8_t a[8], b[8];

	(void)state;
	for (size_t i = 0; i + 1 < sizeof(v) / sizeof(v[0]); i++) {
		be_put(a, 8, v[i]);
		be_put(b, 8, v[i + 1]);
		assert_true(memcmp(a, b, 8) < 0);
		assert_true(be_get(a, 8) == v[i]);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_be_bytes),
		cmocka_unit_test(test_be_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

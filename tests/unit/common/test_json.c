/*
 * json.c's strict parser, which every request body goes through before
 * anyone is authenticated: the UTF-8 rules (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF), the nesting limit, duplicate keys at
 * any depth, trailing bytes, NUL, the integer range of json_int, and the
 * member json_parse_at names for a field-level error. Until now these were
 * reached only through the API suite.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common.h"

/* parse s; the error ("" on success), the tree freed */
static const char *
parse_err(const char *s, size_t len)
{
	static char err[128];
	struct json *j;

	err[0] = '\0';
	if (json_parse(s, len, &j, err, sizeof(err)) == 0) {
		assert_non_null(j);
		assert_string_equal(err, "");
		json_free(j);
	} else {
		assert_null(j);
		assert_true(err[0] != '\0');
	}
	return err;
}

#define ERR(lit) parse_err((lit), sizeof(lit) - 1)

static int
utf8(const char *lit_with_len, size_t len)
{
	return json_utf8_valid(lit_with_len, len);
}

#define U8(lit) utf8((lit), sizeof(lit) - 1)

static void
test_utf8_accepts_each_length_and_its_bounds(void **state)
{
	(void)state;
	assert_true(U8(""));
	assert_true(U8("plain ascii \x7f"));
	assert_true(U8("\xc2\x80"));              /* U+0080, the first 2-byte */
	assert_true(U8("\xc3\xa9"));              /* é */
	assert_true(U8("\xe0\xa0\x80"));          /* U+0800, the first 3-byte */
	assert_true(U8("\xe2\x82\xac"));          /* € */
	assert_true(U8("\xed\x9f\xbf"));          /* U+D7FF, just below surrogates */
	assert_true(U8("\xee\x80\x80"));          /* U+E000, just above */
	assert_true(U8("\xf0\x90\x80\x80"));      /* U+10000, the first 4-byte */
	assert_true(U8("\xf4\x8f\xbf\xbf"));      /* U+10FFFF, the last */
}

static void
test_utf8_rejects_overlongs_surrogates_and_the_rest(void **state)
{
	(void)state;
	/* overlong: the shortest form is the only form */
	assert_false(U8("\xc0\xaf"));             /* '/' in two bytes */
	assert_false(U8("\xc1\xbf"));
	assert_false(U8("\xe0\x80\xaf"));         /* '/' in three */
	assert_false(U8("\xe0\x9f\xbf"));         /* U+07FF in three */
	assert_false(U8("\xf0\x80\x80\xaf"));     /* '/' in four */
	assert_false(U8("\xf0\x8f\xbf\xbf"));     /* U+FFFF in four */
	/* UTF-16 surrogates are not characters */
	assert_false(U8("\xed\xa0\x80"));         /* U+D800 */
	assert_false(U8("\xed\xbf\xbf"));         /* U+DFFF */
	assert_false(U8("\xed\xa0\xbd\xed\xb8\x80"));  /* a pair, CESU-8 */
	/* beyond Unicode, and lead bytes that never start a character */
	assert_false(U8("\xf4\x90\x80\x80"));     /* U+110000 */
	assert_false(U8("\xf8\x88\x80\x80\x80"));
	assert_false(U8("\xff"));
	assert_false(U8("\x80"));                 /* a lone continuation byte */
	/* truncated, or a continuation byte missing in the middle */
	assert_false(U8("\xe2\x82"));
	assert_false(U8("a\xf0\x9f\x98"));
	assert_false(U8("\xe2\x28\xa1"));
	/* len counts: the byte after len is not read */
	assert_false(utf8("\xc3\xa9", 1));
}

static void
test_parse_checks_utf8_before_json(void **state)
{
	(void)state;
	assert_string_equal(ERR("{\"a\":\"\xc0\xaf\"}"), "request body is not valid UTF-8");
	assert_string_equal(ERR("{\"\xed\xa0\x80\":1}"), "request body is not valid UTF-8");
	assert_string_equal(ERR("{\"a\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\"}"), "");
	/* escapes: a proper pair decodes, a lone surrogate is refused (by
	 * cJSON; json_check would refuse what it let through) */
	assert_string_equal(ERR("{\"a\":\"\\ud83d\\ude00\"}"), "");
	assert_string_equal(ERR("{\"a\":\"\\ud800\"}"), "malformed JSON at byte 6");
	assert_string_equal(ERR("{\"a\":\"\\ud800\\u0041\"}"), "malformed JSON at byte 6");
	assert_string_equal(ERR("{\"a\":\"\\udc00x\"}"), "malformed JSON at byte 6");
	assert_string_equal(ERR("{\"\\ud800\":1}"), "malformed JSON at byte 2");
}

static void
test_parse_decodes_escaped_pair(void **state)
{
	struct json *j;
	char err[64];
	(void)state;

	assert_int_equal(json_parse("{\"a\":\"\\ud83d\\ude00\"}", 20, &j, err,
	    sizeof(err)), 0);
	assert_string_equal(json_str(json_get(j, "a")), "\xf0\x9f\x98\x80");
	json_free(j);
}

/* n nested arrays around 1: "[[…[1]…]]"; caller frees */
static char *
nested(int n, char open, char close)
{
	char *s = x_malloc((size_t)n * 8 + 8), *p = s;

	for (int i = 0; i < n; i++) {
		if (open == '{')
			p += sprintf(p, "{\"k\":");
		else
			*p++ = open;
	}
	*p++ = '1';
	for (int i = 0; i < n; i++)
		*p++ = close;
	*p = '\0';
	return s;
}

static void
test_depth_limit(void **state)
{
	char *s;
	(void)state;

	assert_int_equal(JSON_MAX_DEPTH, 16);
	s = nested(JSON_MAX_DEPTH, '[', ']');
	assert_string_equal(parse_err(s, strlen(s)), "");
	free(s);
	s = nested(JSON_MAX_DEPTH + 1, '[', ']');
	assert_string_equal(parse_err(s, strlen(s)), "nesting deeper than 16 levels");
	free(s);
	s = nested(JSON_MAX_DEPTH, '{', '}');
	assert_string_equal(parse_err(s, strlen(s)), "");
	free(s);
	s = nested(JSON_MAX_DEPTH + 1, '{', '}');
	assert_string_equal(parse_err(s, strlen(s)), "nesting deeper than 16 levels");
	free(s);
	/* far deeper: cJSON's own limit stops it before any deep recursion */
	s = nested(10000, '[', ']');
	assert_string_not_equal(parse_err(s, strlen(s)), "");
	free(s);
}

/* {"k0":0,…,"k99":99,"<last>":0}: more keys than json.c keeps on the stack */
static const char *
many_keys(const char *last)
{
	static char big[2048];
	char *p = big;

	p += sprintf(p, "{");
	for (int i = 0; i < 100; i++)
		p += sprintf(p, "\"k%d\":%d,", i, i);
	sprintf(p, "\"%s\":0}", last);
	return parse_err(big, strlen(big));
}

static void
test_duplicate_keys_at_any_depth(void **state)
{
	(void)state;
	assert_string_equal(ERR("{\"a\":1,\"a\":2}"), "duplicate key");
	assert_string_equal(ERR("{\"a\":1,\"b\":2,\"a\":1}"), "duplicate key");
	assert_string_equal(ERR("{\"x\":{\"y\":{\"a\":1,\"a\":1}}}"), "duplicate key");
	assert_string_equal(ERR("[1,{\"a\":1},{\"b\":[{\"c\":1,\"c\":2}]}]"), "duplicate key");
	/* the same key in two objects, and keys that differ in case: fine */
	assert_string_equal(ERR("{\"a\":{\"a\":1},\"b\":{\"a\":2}}"), "");
	assert_string_equal(ERR("{\"a\":1,\"A\":2}"), "");
	assert_string_equal(many_keys("k7"), "duplicate key");
	assert_string_equal(many_keys("k99"), "duplicate key");
	assert_string_equal(many_keys("k100"), "");
}

static void
test_one_value_only(void **state)
{
	(void)state;
	assert_string_equal(ERR("{} \t\r\n"), "");
	assert_string_equal(ERR("{} x"), "trailing data after the JSON value");
	assert_string_equal(ERR("{}{}"), "trailing data after the JSON value");
	assert_string_equal(ERR("1 2"), "trailing data after the JSON value");
	assert_string_equal(ERR("{}\f"), "trailing data after the JSON value");
	assert_string_equal(parse_err("", 0), "request body is empty");
	assert_string_equal(parse_err(NULL, 0), "request body is empty");
	assert_string_equal(ERR("{\"a\":}"), "malformed JSON at byte 5");
	assert_string_equal(ERR("{\"a\":1,}"), "malformed JSON at byte 7");
	/* len bounds the body: what follows it is not read */
	assert_string_equal(parse_err("{}garbage", 2), "");
}

static void
test_nul(void **state)
{
	(void)state;
	assert_string_equal(ERR("{\"a\":\"x\0y\"}"), "request body contains a NUL byte");
	assert_string_equal(ERR("{\"a\":\"x\\u0000y\"}"), "must not contain \\u0000");
	/* an escaped backslash, then the text u0000: no NUL */
	assert_string_equal(ERR("{\"a\":\"x\\\\u0000\"}"), "");
	assert_string_equal(ERR("{\"a\":\"x\\\\\\u0000\"}"), "must not contain \\u0000");
}

/* the key json_parse_at reports for body, "" when none */
static const char *
key_at(const char *body, size_t keylen)
{
	static char key[64];
	struct json *j;
	char err[64];

	memset(key, 'X', sizeof(key));
	assert_int_equal(json_parse_at(body, strlen(body), &j, err, sizeof(err),
	    key, keylen), -1);
	assert_null(j);
	return key;
}

static void
test_parse_at_names_the_member(void **state)
{
	struct json *j;
	char err[64], key[16] = "stale";
	(void)state;

	assert_string_equal(key_at("{\"display_name\":\"a\\u0000b\"}", 64), "display_name");
	assert_string_equal(key_at("{ \"a\":1, \"title\" :\n \"\\u0000\" }", 64), "title");
	assert_string_equal(key_at("{\"o\":{\"in\":\"\\u0000\"}}", 64), "in");
	/* an escaped quote in the value does not end the search early */
	assert_string_equal(key_at("{\"t\":\"say \\\"hi\\\" \\u0000\"}", 64), "t");
	/* not a member's value, or a key that does not fit: "" */
	assert_string_equal(key_at("[\"\\u0000\"]", 64), "");
	assert_string_equal(key_at("{\"display_name\":\"\\u0000\"}", 8), "");
	/* other errors name no member; success clears key */
	assert_string_equal(key_at("{\"a\":1,\"a\":2}", 64), "");
	assert_int_equal(json_parse_at("{\"a\":1}", 7, &j, err, sizeof(err), key,
	    sizeof(key)), 0);
	assert_string_equal(key, "");
	json_free(j);
}

/* json_int on the first member of body */
static int
int_of(const char *body, int64_t *v)
{
	struct json *j;
	char err[64];
	int rc;

	assert_int_equal(json_parse(body, strlen(body), &j, err, sizeof(err)), 0);
	rc = json_int(json_get(j, "n"), v);
	json_free(j);
	return rc;
}

static void
test_int_range(void **state)
{
	int64_t v = 7;
	(void)state;

	assert_int_equal(int_of("{\"n\":9007199254740991}", &v), 0);
	assert_true(v == 9007199254740991LL);
	assert_int_equal(int_of("{\"n\":-9007199254740991}", &v), 0);
	assert_true(v == -9007199254740991LL);
	assert_int_equal(int_of("{\"n\":0}", &v), 0);
	assert_true(v == 0);
	v = 7;
	/* beyond 2^53 a double no longer holds every integer */
	assert_int_equal(int_of("{\"n\":9007199254740992}", &v), -1);
	assert_int_equal(int_of("{\"n\":-9007199254740992}", &v), -1);
	assert_int_equal(int_of("{\"n\":1e300}", &v), -1);
	assert_int_equal(int_of("{\"n\":1e400}", &v), -1);     /* inf */
	assert_int_equal(int_of("{\"n\":1.5}", &v), -1);
	assert_int_equal(int_of("{\"n\":\"1\"}", &v), -1);
	assert_int_equal(int_of("{\"n\":true}", &v), -1);
	assert_int_equal(int_of("{\"m\":1}", &v), -1);
	assert_true(v == 7);             /* untouched on -1 */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8_accepts_each_length_and_its_bounds),
		cmocka_unit_test(test_utf8_rejects_overlongs_surrogates_and_the_rest),
		cmocka_unit_test(test_parse_checks_utf8_before_json),
		cmocka_unit_test(test_parse_decodes_escaped_pair),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_duplicate_keys_at_any_depth),
		cmocka_unit_test(test_one_value_only),
		cmocka_unit_test(test_nul),
		cmocka_unit_test(test_parse_at_names_the_member),
		cmocka_unit_test(test_int_range),
	};

	log_init("test_json", 1, LOG_LEVEL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

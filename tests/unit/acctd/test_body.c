/*
 * body.c, the request-body tables: every kind of field (string, integer,
 * boolean, null), required, limits, allowed values and checks; every error
 * of a body in one answer, worded alike; the JSON refusals (malformed, not
 * an object, unknown and repeated fields) with the detail the API answers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "acctd.h"

static const char *
no_x(const char *s)
{
	return strchr(s, 'x') ? "must not contain x" : NULL;
}

static const char *const colours[] = { "red", "green", "blue", NULL };
enum { F_NAME, F_COUNT, F_ON, F_NOTE, F_COLOUR, F_WORD };
static const struct body_field fields[] = {
	[F_NAME] = { "name", BODY_STRING, BODY_REQUIRED, 2, 5, NULL, NULL },
	[F_COUNT] = { "count", BODY_INT, 0, 1, 100, NULL, NULL },
	[F_ON] = { "on", BODY_BOOL, 0, 0, 0, NULL, NULL },
	[F_NOTE] = { "note", BODY_STRING, BODY_NULLABLE, 0, 3, NULL, NULL },
	[F_COLOUR] = { "colour", BODY_STRING, 0, 0, 0, colours, NULL },
	[F_WORD] = { "word", BODY_STRING, 0, 0, 0, NULL, no_x },
	{ NULL, 0, 0, 0, 0, NULL, NULL },
};
static const struct body_spec spec = { "invalid thing", 0, fields };
static const struct body_spec optional = { "invalid thing", 1, fields + F_COUNT };

/* body_parse(text) refuses with detail and (when not NULL) these errors */
static void
assert_refused(const struct body_spec *s, const char *text, const char *detail,
    const char *errors)
{
	struct body b;
	char *got;

	assert_int_equal(body_parse(s, text, strlen(text), &b), -1);
	assert_string_equal(b.detail, detail);
	assert_null(b.doc);
	if (errors == NULL) {
		assert_null(b.errors);
	} else {
		got = json_print(b.errors);
		assert_string_equal(got, errors);
		free(got);
	}
	body_free(&b);
}

static void
test_values(void **state)
{
	const char *text = "{\"name\":\"\xc3\xa9t\xc3\xa9!\",\"count\":100,\"on\":false,"
	    "\"note\":null,\"colour\":\"blue\"}";
	struct body b;
	(void)state;

	assert_int_equal(body_parse(&spec, text, strlen(text), &b), 0);
	assert_string_equal(b.v[F_NAME].str, "\xc3\xa9t\xc3\xa9!");   /* 4 characters */
	assert_true(b.v[F_COUNT].set);
	assert_int_equal(b.v[F_COUNT].num, 100);
	assert_true(b.v[F_ON].set);
	assert_false(b.v[F_ON].flag);
	assert_true(b.v[F_NOTE].set);
	assert_true(b.v[F_NOTE].null);
	assert_null(b.v[F_NOTE].str);
	assert_string_equal(b.v[F_COLOUR].str, "blue");
	assert_false(b.v[F_WORD].set);
	body_free(&b);
}

static void
test_every_error_at_once(void **state)
{
	(void)state;
	assert_refused(&spec, "{\"count\":0,\"on\":1,\"note\":\"long\",\"colour\":\"pink\","
	    "\"word\":\"box\"}", "invalid thing",
	    "[{\"location\":\"body.name\",\"message\":\"required\"},"
	    "{\"location\":\"body.count\",\"message\":\"must be an integer from 1 to 100\"},"
	    "{\"location\":\"body.on\",\"message\":\"must be true or false\"},"
	    "{\"location\":\"body.note\",\"message\":\"must be at most 3 characters\"},"
	    "{\"location\":\"body.colour\",\"message\":\"must be red, green or blue\"},"
	    "{\"location\":\"body.word\",\"message\":\"must not contain x\"}]");
}

static void
test_types(void **state)
{
	(void)state;
	assert_refused(&spec, "{\"name\":null,\"count\":\"5\",\"colour\":[\"red\"],\"note\":5}",
	    "invalid thing",
	    "[{\"location\":\"body.name\",\"message\":\"must be a string\"},"
	    "{\"location\":\"body.count\",\"message\":\"must be an integer\"},"
	    "{\"location\":\"body.note\",\"message\":\"must be a string\"},"
	    "{\"location\":\"body.colour\",\"message\":\"must be a string\"}]");
	assert_refused(&spec, "{\"name\":\"a\"}", "invalid thing",
	    "[{\"location\":\"body.name\",\"message\":\"must be 2 to 5 characters\"}]");
	assert_refused(&spec, "{\"name\":\"abcdef\"}", "invalid thing",
	    "[{\"location\":\"body.name\",\"message\":\"must be 2 to 5 characters\"}]");
}

static void
test_json_refusals(void **state)
{
	char big[4096];
	size_t n = 0;
	(void)state;

	assert_refused(&spec, "{\"name\":", "malformed JSON at byte 7", NULL);
	assert_refused(&spec, "[]", "request body must be a JSON object", NULL);
	assert_refused(&spec, "", "request body is empty", NULL);
	/* every field once: a repeated key is refused by the parser */
	assert_refused(&spec, "{\"name\":\"ab\",\"name\":\"cd\"}", "duplicate key", NULL);
	assert_refused(&spec, "{\"name\":\"a\\u0000b\"}", "invalid field in the request body",
	    "[{\"location\":\"body.name\",\"message\":\"must not contain \\\\u0000\"}]");
	assert_refused(&spec, "{\"name\":\"ab\",\"nick\":1}", "the request body has unknown fields",
	    "[{\"location\":\"body.nick\",\"message\":\"unknown field\"}]");
	/* 25 unknown fields: 20 named, the rest counted */
	n += (size_t)snprintf(big + n, sizeof(big) - n, "{");
	for (int i = 0; i < 25; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "%s\"k%02d\":0", i ? "," : "", i);
	snprintf(big + n, sizeof(big) - n, "}");
	{
		struct body b;
		char *got;

		assert_int_equal(body_parse(&spec, big, strlen(big), &b), -1);
		got = json_print(b.errors);
		assert_non_null(strstr(got, "{\"location\":\"body.k19\",\"message\":\"unknown field\"},"
		    "{\"location\":\"body\",\"message\":\"5 more unknown fields not listed\"}]"));
		assert_null(strstr(got, "k20"));
		free(got);
		body_free(&b);
	}
}

static void
test_optional_body(void **state)
{
	struct body b;
	(void)state;

	assert_int_equal(body_parse(&optional, NULL, 0, &b), 0);
	assert_false(b.v[0].set);
	body_free(&b);
	assert_refused(&optional, " ", "malformed JSON at byte 0", NULL);
}

static void
test_chars(void **state)
{
	(void)state;
	assert_int_equal(body_chars(""), 0);
	assert_int_equal(body_chars("abc"), 3);
	assert_int_equal(body_chars("\xf0\x9f\x98\x80\xc3\xa9"), 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_every_error_at_once),
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_json_refusals),
		cmocka_unit_test(test_optional_body),
		cmocka_unit_test(test_chars),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

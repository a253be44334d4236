/*
 * The route table and docs/openapi.json (embedded as openapi_json) describe
 * the same API: every route has its operation with the same summary, and
 * every operation has its route. A route without its description fails here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <ctype.h>
#include <strings.h>

#include <cmocka.h>

#include "acctd.h"

extern const char openapi_json[];
extern const size_t openapi_json_len;

static struct json *
load(void)
{
	struct json *j = NULL;
	char err[128];

	assert_int_equal(json_parse(openapi_json, openapi_json_len, &j, err, sizeof(err)), 0);
	return j;
}

/* the operation's x-token-scopes as HTTP_SCOPE_* bits */
static unsigned
scopes_of(const struct json *op)
{
	struct json *it = NULL;
	unsigned bits = 0;

	while ((it = json_item_next(json_get(op, "x-token-scopes"), it)) != NULL) {
		int s = token_scope_parse(json_str(it));

		assert_true(s >= 0);
		bits |= 1u << s;
	}
	return bits;
}

static void
test_every_route_described(void **state)
{
	struct json *doc = load(), *paths = json_get(doc, "paths");
	(void)state;

	assert_non_null(paths);
	for (const struct http_route *r = routes; r->method; r++) {
		char m[8];
		struct json *op;
		size_t i;

		for (i = 0; r->method[i] && i < sizeof(m) - 1; i++)
			m[i] = (char)tolower((unsigned char)r->method[i]);
		m[i] = '\0';
		op = json_get(json_get(paths, r->pattern), m);
		if (op == NULL)
			fail_msg("route %s %s has no operation in openapi.json", r->method, r->pattern);
		assert_non_null(r->summary);
		assert_true(strlen(r->summary) > 0);
		assert_string_equal(json_str(json_get(op, "summary")), r->summary);
		assert_non_null(json_str(json_get(op, "description")));
		assert_non_null(json_get(op, "responses"));
		if (scopes_of(op) != r->scopes)
			fail_msg("route %s %s: x-token-scopes is not the table's scope column",
			    r->method, r->pattern);
		/* a scope only narrows: every route is open to full tokens */
		assert_true(r->scopes & HTTP_SCOPE_FULL);
	}
	json_free(doc);
}

static void
test_every_operation_routed(void **state)
{
	struct json *doc = load(), *paths = json_get(doc, "paths"), *p = NULL, *op;
	const char *path, *method;
	(void)state;

	assert_string_equal(json_str(json_get(doc, "openapi")), "3.0.3");
	while ((p = json_next(paths, p, &path)) != NULL) {
		op = NULL;
		while ((op = json_next(p, op, &method)) != NULL) {
			const struct http_route *r;

			for (r = routes; r->method; r++) {
				if (strcmp(r->pattern, path) == 0 &&
				    strcasecmp(r->method, method) == 0)
					break;
			}
			if (r->method == NULL)
				fail_msg("openapi.json has %s %s but no route serves it", method, path);
		}
	}
	json_free(doc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_route_described),
		cmocka_unit_test(test_every_operation_routed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

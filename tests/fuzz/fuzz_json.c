/*
 * fuzz_json: the strict request-body parser (json.c) and the field rules
 * every handler applies to what it parsed (api.c): each string member, at
 * any depth, goes through api_handle_fold and the api_*_error checks; each
 * value through the typed accessors. A body that parses must print again
 * and parse back the same way: json_print's output is what acctd answers.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acctd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_value(const struct json *v, int depth)
{
	char h[NAME_HANDLE_MAX + 1];
	const char *s, *k;
	struct json *m = NULL;
	int64_t i;
	int b;

	if ((s = json_str(v)) != NULL) {
		if (api_handle_fold(s, h, sizeof(h)) == 0 &&
		    (!name_handle_valid(h) || strlen(h) > NAME_HANDLE_MAX))
			abort();
		(void)api_display_name_error(s);
		(void)api_avatar_url_error(s);
		(void)api_email_error(s);
		(void)api_password_error(s);
		(void)name_handle_valid(s);
		(void)secret_id_valid(s, "u_");
		(void)pushmsg_verifier_valid(s);
	}
	(void)json_int(v, &i);
	(void)json_bool(v, &b);
	(void)json_is_null(v);
	if (depth > JSON_MAX_DEPTH + 1)
		abort();                /* json_parse let too deep a body in */
	while ((m = json_next(v, m, &k)) != NULL) {
		if (json_get(v, k) != m)
			abort();        /* duplicate keys were to be refused */
		fuzz_value(m, depth + 1);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json *j = NULL, *back = NULL;
	char err[128], key[100];
	char *out;

	if (size > HTTP_MAX_BODY)
		return 0;
	if (json_parse_at((const char *)data, size, &j, err, sizeof(err),
	    key, sizeof(key)) == -1) {
		if (j != NULL || err[0] == '\0' || strlen(key) >= sizeof(key))
			abort();
		return 0;
	}
	fuzz_value(j, 1);
	out = json_print(j);
	if (json_parse(out, strlen(out), &back, err, sizeof(err)) == -1)
		abort();        /* acctd's own output must pass its own parser */
	json_free(back);
	free(out);
	json_free(j);
	return 0;
}

/*
 * JSON bodies, on cJSON. Only this file includes cJSON; struct json is a
 * cJSON node seen through an opaque type.
 *
 * Parsing is strict because request bodies are hostile: the bytes must be
 * valid UTF-8 (cJSON does not check), nest at most JSON_MAX_DEPTH deep (cJSON
 * is also built with a nesting limit, so deep input never recurses far), and
 * carry no duplicate keys (cJSON would silently keep the first).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common.h"

#define C(j) ((cJSON *)(j))
#define J(c) ((struct json *)(c))

static void
json_oom(void)
{
	fatalx("json: out of memory");
}

static cJSON *
json_checked(cJSON *c)
{
	if (c == NULL)
		json_oom();
	return c;
}

struct json *
json_object(void)
{
	return J(json_checked(cJSON_CreateObject()));
}

struct json *
json_array(void)
{
	return J(json_checked(cJSON_CreateArray()));
}

void
json_free(struct json *j)
{
	cJSON_Delete(C(j));
}

void
json_set(struct json *o, const char *k, struct json *v)
{
	cJSON_DeleteItemFromObjectCaseSensitive(C(o), k);
	if (!cJSON_AddItemToObject(C(o), k, C(v)))
		json_oom();
}

struct json *
json_string(const char *v)
{
	return J(json_checked(v ? cJSON_CreateString(v) : cJSON_CreateNull()));
}

void
json_set_str(struct json *o, const char *k, const char *v)
{
	json_set(o, k, J(json_checked(v ? cJSON_CreateString(v) : cJSON_CreateNull())));
}

void
json_set_int(struct json *o, const char *k, int64_t v)
{
	json_set(o, k, J(json_checked(cJSON_CreateNumber((double)v))));
}

void
json_set_bool(struct json *o, const char *k, int v)
{
	json_set(o, k, J(json_checked(cJSON_CreateBool(v != 0))));
}

void
json_push(struct json *a, struct json *v)
{
	if (!cJSON_AddItemToArray(C(a), C(v)))
		json_oom();
}

char *
json_print(const struct json *j)
{
	char *s = cJSON_PrintUnformatted(C(j));

	if (s == NULL)
		json_oom();
	return s;
}

/* RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF */
int
json_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;

	while (p < end) {
		unsigned c = *p;
		size_t n;
		unsigned cp, min;

		if (c < 0x80) {
			p++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			n = 1; cp = c & 0x1f; min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2; cp = c & 0x0f; min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3; cp = c & 0x07; min = 0x10000;
		} else {
			return 0;
		}
		if ((size_t)(end - p) <= n)
			return 0;
		for (size_t i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		p += n + 1;
	}
	return 1;
}

static int
json_key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* 1 when two members of object c share a key: O(n log n), so a body of
 * thousands of keys costs little before anyone is authenticated */
static int
json_has_dup(const cJSON *c)
{
	const char *few[16], **keys = few;
	const cJSON *a;
	size_t n = 0, cap = sizeof(few) / sizeof(few[0]);
	int dup = 0;

	for (a = c->child; a != NULL; a = a->next) {
		if (n == cap) {
			cap *= 4;
			if (keys == few) {
				keys = x_malloc(cap * sizeof(*keys));
				memcpy(keys, few, sizeof(few));
			} else {
				keys = x_realloc(keys, cap * sizeof(*keys));
			}
		}
		keys[n++] = a->string;
	}
	qsort(keys, n, sizeof(*keys), json_key_cmp);
	for (size_t i = 1; i < n && !dup; i++)
		dup = strcmp(keys[i - 1], keys[i]) == 0;
	if (keys != few)
		free(keys);
	return dup;
}

/* depth and duplicate keys; strings decoded by cJSON are re-checked for
 * UTF-8 since \u escapes can produce lone surrogates */
static int
json_check(const cJSON *c, int depth, char *err, size_t errlen)
{
	const cJSON *a;

	/* depth counts containers: 16 nested objects/arrays are fine */
	if ((cJSON_IsObject(c) || cJSON_IsArray(c)) && depth > JSON_MAX_DEPTH) {
		snprintf(err, errlen, "nesting deeper than %d levels", JSON_MAX_DEPTH);
		return -1;
	}
	if (cJSON_IsString(c) && !json_utf8_valid(c->valuestring, strlen(c->valuestring))) {
		snprintf(err, errlen, "string is not valid UTF-8");
		return -1;
	}
	if (cJSON_IsObject(c) && json_has_dup(c)) {
		snprintf(err, errlen, "duplicate key");
		return -1;
	}
	for (a = c->child; a != NULL; a = a->next) {
		if (cJSON_IsObject(c) &&
		    !json_utf8_valid(a->string, strlen(a->string))) {
			snprintf(err, errlen, "key is not valid UTF-8");
			return -1;
		}
		if (json_check(a, depth + 1, err, errlen) == -1)
			return -1;
	}
	return 0;
}

/* the offset of a \u0000 escape (not an escaped backslash followed by
 * "u0000"), or -1 */
static long
json_nul_escape(const char *buf, size_t len)
{
	for (size_t i = 0; i + 6 <= len; i++) {
		size_t bs = 0;

		if (buf[i] != '\\' || strncmp(buf + i + 1, "u0000", 5) != 0)
			continue;
		while (bs < i && buf[i - 1 - bs] == '\\')
			bs++;
		if (bs % 2 == 0)
			return (long)i;
	}
	return -1;
}

/* best effort: the member name whose string value holds offset `at` */
static void
json_key_before(const char *buf, long at, char *key, size_t keylen)
{
	long i = at, end;

	key[0] = '\0';
	while (i > 0 && !(buf[i] == '"' && buf[i - 1] != '\\'))
		i--;                       /* the value's opening quote */
	for (i--; i >= 0 && strchr(" \t\r\n", buf[i]); i--)
		;
	if (i < 0 || buf[i] != ':')
		return;
	for (i--; i >= 0 && strchr(" \t\r\n", buf[i]); i--)
		;
	if (i < 0 || buf[i] != '"')
		return;
	end = i;
	for (i--; i >= 0 && !(buf[i] == '"' && (i == 0 || buf[i - 1] != '\\')); i--)
		;
	if (i < 0 || (size_t)(end - i - 1) >= keylen)
		return;
	memcpy(key, buf + i + 1, (size_t)(end - i - 1));
	key[end - i - 1] = '\0';
}

int
json_parse(const char *buf, size_t len, struct json **out, char *err, size_t errlen)
{
	return json_parse_at(buf, len, out, err, errlen, NULL, 0);
}

int
json_parse_at(const char *buf, size_t len, struct json **out, char *err,
    size_t errlen, char *key, size_t keylen)
{
	const char *end = NULL;
	cJSON *c;
	long nul;

	*out = NULL;
	if (key != NULL && keylen > 0)
		key[0] = '\0';
	if (buf == NULL || len == 0) {
		snprintf(err, errlen, "request body is empty");
		return -1;
	}
	if (!json_utf8_valid(buf, len)) {
		snprintf(err, errlen, "request body is not valid UTF-8");
		return -1;
	}
	if (memchr(buf, '\0', len) != NULL) {
		snprintf(err, errlen, "request body contains a NUL byte");
		return -1;
	}
	if ((nul = json_nul_escape(buf, len)) >= 0) {
		/* cJSON would decode it and the C string would end there */
		snprintf(err, errlen, "must not contain \\u0000");
		if (key != NULL && keylen > 0)
			json_key_before(buf, nul, key, keylen);
		return -1;
	}
	c = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
	if (c == NULL) {
		snprintf(err, errlen, "malformed JSON at byte %zu",
		    end && end >= buf ? (size_t)(end - buf) : (size_t)0);
		return -1;
	}
	/* only whitespace may follow the value */
	for (; end != NULL && end < buf + len; end++) {
		if (*end != ' ' && *end != '\t' && *end != '\r' && *end != '\n') {
			snprintf(err, errlen, "trailing data after the JSON value");
			cJSON_Delete(c);
			return -1;
		}
	}
	if (json_check(c, 1, err, errlen) == -1) {
		cJSON_Delete(c);
		return -1;
	}
	*out = J(c);
	return 0;
}

int
json_is_object(const struct json *j)
{
	return j != NULL && cJSON_IsObject(C(j));
}

struct json *
json_get(const struct json *o, const char *k)
{
	if (!json_is_object(o))
		return NULL;
	return J(cJSON_GetObjectItemCaseSensitive(C(o), k));
}

const char *
json_str(const struct json *j)
{
	return (j != NULL && cJSON_IsString(C(j))) ? C(j)->valuestring : NULL;
}

int
json_int(const struct json *j, int64_t *out)
{
	double d;

	if (j == NULL || !cJSON_IsNumber(C(j)))
		return -1;
	d = C(j)->valuedouble;
	if (d != floor(d) || d > 9007199254740991.0 || d < -9007199254740991.0)
		return -1;
	*out = (int64_t)d;
	return 0;
}

int
json_bool(const struct json *j, int *out)
{
	if (j == NULL || !cJSON_IsBool(C(j)))
		return -1;
	*out = cJSON_IsTrue(C(j));
	return 0;
}

int
json_is_null(const struct json *j)
{
	return j != NULL && cJSON_IsNull(C(j));
}

struct json *
json_item_next(const struct json *a, struct json *prev)
{
	if (a == NULL || !cJSON_IsArray(C(a)))
		return NULL;
	return J(prev ? C(prev)->next : C(a)->child);
}

struct json *
json_next(const struct json *o, struct json *prev, const char **key)
{
	cJSON *c;

	if (!json_is_object(o))
		return NULL;
	c = prev ? C(prev)->next : C(o)->child;
	if (c != NULL && key != NULL)
		*key = c->string;
	return J(c);
}

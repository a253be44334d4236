/*
 * Request bodies declared in tables, as OpenWrt rpcd's blobmsg policies and
 * conf.c's rules are: a handler names its fields (type, required, null,
 * limits, allowed values, a check) and gets every error of a body in one
 * answer, worded alike for every route. Nothing here knows HTTP: api.c
 * turns a refusal into the problem+json 400, and tests/unit/acctd/test_body.c
 * drives this file alone.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "acctd.h"

void
body_free(struct body *b)
{
	json_free(b->doc);
	json_free(b->errors);
	b->doc = b->errors = NULL;
}

static void
body_error(struct body *b, const char *field, const char *message)
{
	char loc[160];

	if (field != NULL)
		snprintf(loc, sizeof(loc), "body.%.100s", field);
	api_verr(&b->errors, field != NULL ? loc : "body", message);
}

static int
body_refuse(struct body *b, const char *detail)
{
	snprintf(b->detail, sizeof(b->detail), "%s", detail);
	json_free(b->doc);
	b->doc = NULL;
	return -1;
}

/* the JSON itself: one object, strictly parsed */
static int
body_document(struct body *b, const struct body_spec *spec, const char *buf, size_t len)
{
	char err[128], key[104];

	if (len == 0 && spec->optional) {
		b->doc = json_object();
		return 0;
	}
	if (json_parse_at(buf, len, &b->doc, err, sizeof(err), key, 100) == -1) {
		/* the parser names the member a field-level error is about */
		if (key[0] != '\0') {
			body_error(b, key, err);
			return body_refuse(b, "invalid field in the request body");
		}
		return body_refuse(b, err);
	}
	if (!json_is_object(b->doc))
		return body_refuse(b, "request body must be a JSON object");
	return 0;
}

static const struct body_field *
body_field_named(const struct body_field *f, const char *name)
{
	for (; f->name != NULL; f++)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

/* every member must be a field of the table; an answer stays small
 * whatever the body: past BODY_MAX_ERRORS the rest are counted */
static int
body_unknown(struct body *b, const struct body_field *fields)
{
	struct json *m = NULL;
	const char *k;
	size_t unknown = 0;

	while ((m = json_next(b->doc, m, &k)) != NULL)
		if (body_field_named(fields, k) == NULL && unknown++ < BODY_MAX_ERRORS)
			body_error(b, k, "unknown field");
	if (unknown > BODY_MAX_ERRORS) {
		char msg[64];

		snprintf(msg, sizeof(msg), "%zu more unknown fields not listed",
		    unknown - BODY_MAX_ERRORS);
		body_error(b, NULL, msg);
	}
	return unknown ? body_refuse(b, "the request body has unknown fields") : 0;
}

size_t
body_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

/* "must be a, b or c" */
static void
body_oneof_message(const char *const *oneof, char *out, size_t outlen)
{
	size_t used = (size_t)snprintf(out, outlen, "must be");

	for (size_t i = 0; oneof[i] != NULL && used < outlen; i++)
		used += (size_t)snprintf(out + used, outlen - used, "%s%s",
		    i == 0 ? " " : oneof[i + 1] == NULL ? " or " : ", ", oneof[i]);
}

static const char *
body_length_message(const struct body_field *f, size_t n, char *out, size_t outlen)
{
	if ((f->max <= 0 || (int64_t)n <= f->max) && (int64_t)n >= f->min)
		return NULL;
	if (f->max <= 0)
		snprintf(out, outlen, "must be at least %" PRId64 " characters", f->min);
	else if (f->min <= 0)
		snprintf(out, outlen, "must be at most %" PRId64 " characters", f->max);
	else
		snprintf(out, outlen, "must be %" PRId64 " to %" PRId64 " characters",
		    f->min, f->max);
	return out;
}

/* a string's limits, values and check: NULL or the message (in buf or static) */
static const char *
body_string_error(const struct body_field *f, const char *s, char *buf, size_t buflen)
{
	const char *e = body_length_message(f, body_chars(s), buf, buflen);
	size_t i;

	if (e != NULL)
		return e;
	if (f->oneof != NULL) {
		for (i = 0; f->oneof[i] != NULL && strcmp(f->oneof[i], s) != 0; i++)
			;
		if (f->oneof[i] == NULL) {
			body_oneof_message(f->oneof, buf, buflen);
			return buf;
		}
	}
	return f->check != NULL ? f->check(s) : NULL;
}

/* one member's value into v: NULL, or why it is wrong */
static const char *
body_value(const struct body_field *f, const struct json *j, struct body_value *v,
    char *buf, size_t buflen)
{
	v->set = 1;
	if (json_is_null(j) && (f->flags & BODY_NULLABLE)) {
		v->null = 1;
		return NULL;
	}
	switch (f->type) {
	case BODY_STRING:
		if ((v->str = json_str(j)) == NULL)
			return "must be a string";
		return body_string_error(f, v->str, buf, buflen);
	case BODY_INT:
		if (json_int(j, &v->num) == -1)
			return "must be an integer";
		if ((f->min || f->max) && (v->num < f->min || v->num > f->max)) {
			snprintf(buf, buflen, "must be an integer from %" PRId64 " to %" PRId64,
			    f->min, f->max);
			return buf;
		}
		return NULL;
	case BODY_BOOL:
		return json_bool(j, &v->flag) == -1 ? "must be true or false" : NULL;
	}
	return "has an unknown type";
}

int
body_parse(const struct body_spec *spec, const char *buf, size_t len, struct body *b)
{
	const struct body_field *f;
	size_t i;

	memset(b, 0, sizeof(*b));
	if (body_document(b, spec, buf, len) == -1 || body_unknown(b, spec->fields) == -1)
		return -1;
	for (i = 0, f = spec->fields; f->name != NULL && i < BODY_MAX_FIELDS; i++, f++) {
		struct json *j = json_get(b->doc, f->name);
		const char *e = NULL;
		char msg[128];

		if (j != NULL)
			e = body_value(f, j, &b->v[i], msg, sizeof(msg));
		else if (f->flags & BODY_REQUIRED)
			e = "required";
		if (e != NULL)
			body_error(b, f->name, e);
	}
	if (f->name != NULL) {
		log_warnx("body: a table has more than %d fields", BODY_MAX_FIELDS);
		return body_refuse(b, "the request body cannot be read");
	}
	if (b->errors != NULL)
		return body_refuse(b, spec->invalid);
	return 0;
}

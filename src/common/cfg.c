/*
 * cfg.c — the libconfig rule engine of both programs (acctd's conf.c,
 * acctd-agent's agent_conf.c), and the only file that includes libconfig.h.
 * Each program had its own copy of this walk and they had begun to drift;
 * one copy keeps the two files' rules, wording and line numbers the same.
 *
 * One pass reports every error. Messages come in file order, each group's
 * missing required settings after its members, then the caller's
 * cross-field checks. A setting that fails is left NULL or -1 so that those
 * skip it rather than pile a derived error on the real one.
 *
 * Every error is one line "FILE:LINE: setting: reason". FILE is the path as
 * given to cfg_open (or the @include'd file the setting came from). LINE is
 * the setting's line; for a missing setting its group's line, or 1 at the
 * top level; 0 when the file cannot be read. setting is the dotted path with
 * list indices: tls.cert, nodes[0].url, workspaces[1].members[0]. The
 * reasons this file gives (the tables' checks and the cross-field checks
 * add their own):
 *
 *   file: STRERROR                       (setting "file", LINE 0)
 *   syntax: LIBCONFIG-TEXT               (setting "syntax": "syntax error",
 *                                         "duplicate setting name", ...)
 *   unknown setting
 *   required setting missing
 *   must be an integer
 *   must be a string
 *   must be a group
 *   must be an array of strings
 *   must be a list of groups
 *   must be between MIN and MAX
 *   must not be empty
 *   must be an absolute path
 *   must be one of error, warn, info, debug
 *   DUP "VALUE"                          (a repeated element of a string list)
 *
 * libconfig 1.7 reads a decimal literal beyond the int range as a 64-bit
 * integer (1.5 wrapped it with atoi(): 4294967304 read as 8); cfg_int
 * range-checks the 64-bit value.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include "common.h"

struct cfg {
	const char *path;	/* as given to cfg_open */
	FILE *errs;		/* NULL: count only */
	int nerr;
	config_t lc;
};

/* The field at byte offset off of base, as a T. */
#define CFG_AT(base, off, T)	((T *)(void *)((char *)(base) + (off)))

static const char *const cfg_levels[] = { "error", "warn", "info", "debug" };

static void cfg_verr(struct cfg *, const config_setting_t *, const char *,
    const char *, va_list) ACCTD_PRINTF(4, 0);
static void cfg_err_at(struct cfg *, const config_setting_t *, const char *,
    const char *, ...) ACCTD_PRINTF(4, 5);
static void cfg_group(struct cfg *, const config_setting_t *, const char *,
    const struct cfg_rule *, void *);
static void cfg_close(struct cfg *);

/* --- errors and paths ------------------------------------------------- */

static void
cfg_verr(struct cfg *x, const config_setting_t *at, const char *name,
    const char *fmt, va_list ap)
{
	const char *file = x->path;
	unsigned int line = 1;

	x->nerr++;
	if (x->errs == NULL)
		return;
	if (at != NULL && at->parent != NULL)
		line = config_setting_source_line(at);
	if (at != NULL && config_setting_source_file(at) != NULL)
		file = config_setting_source_file(at);
	fprintf(x->errs, "%s:%u: %s: ", file, line, name);
	vfprintf(x->errs, fmt, ap);
	fputc('\n', x->errs);
}

/*
 * One error about setting `name`, located at `at`: the setting itself, or
 * its group when it is missing; the root or NULL give line 1.
 */
static void
cfg_err_at(struct cfg *x, const config_setting_t *at, const char *name,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cfg_verr(x, at, name, fmt, ap);
	va_end(ap);
}

void
cfg_err(struct cfg *x, const char *path, const char *name, const char *fmt,
    ...)
{
	const config_setting_t *at;
	va_list ap;

	at = path != NULL ? config_lookup(&x->lc, path) : NULL;
	va_start(ap, fmt);
	cfg_verr(x, at, name, fmt, ap);
	va_end(ap);
}

void
cfg_err_elem(struct cfg *x, const char *list, size_t i, const char *member,
    const char *fmt, ...)
{
	const config_setting_t *at = config_lookup(&x->lc, list), *m;
	va_list ap;
	char *name;

	/* at the member, else its group */
	if (at != NULL)
		at = config_setting_get_elem(at, (unsigned int)i);
	if (at != NULL && (m = config_setting_get_member(at, member)) != NULL)
		at = m;
	name = x_asprintf("%s[%zu].%s", list, i, member);
	va_start(ap, fmt);
	cfg_verr(x, at, name, fmt, ap);
	va_end(ap);
	free(name);
}

int
cfg_has(const struct cfg *x, const char *path)
{
	return config_lookup(&x->lc, path) != NULL;
}

static int
cfg_list_shape(const config_setting_t *s)
{
	return config_setting_is_list(s) ||
	    (config_setting_is_array(s) && config_setting_length(s) == 0);
}

int
cfg_is_list(const struct cfg *x, const char *path)
{
	const config_setting_t *s = config_lookup(&x->lc, path);

	return s != NULL && cfg_list_shape(s);
}

/* parent.name, or name at the top. Caller frees. */
static char *
cfg_path(const char *parent, const char *name)
{
	return parent ? x_asprintf("%s.%s", parent, name) : x_strdup(name);
}

/* --- defaults and release --------------------------------------------- */

static void
cfg_strv_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void
cfg_defaults(const struct cfg_rule *rules, void *base)
{
	const struct cfg_rule *r;
	char **v;

	for (r = rules; r->name != NULL; r++) {
		switch (r->kind) {
		case CFG_KIND_INT:
		case CFG_KIND_BOOL:
			*CFG_AT(base, r->off, int) = r->def;
			break;
		case CFG_KIND_LEVEL:
			*CFG_AT(base, r->off, enum log_level) =
			    (enum log_level)r->def;
			break;
		case CFG_KIND_STR:
			*CFG_AT(base, r->off, char *) = r->sdef ?
			    x_strdup(r->sdef) : NULL;
			break;
		case CFG_KIND_STRS:
			if (r->sdef == NULL)
				break;
			v = x_calloc(1, sizeof(*v));
			v[0] = x_strdup(r->sdef);
			*CFG_AT(base, r->off, char **) = v;
			*CFG_AT(base, r->noff, size_t) = 1;
			break;
		case CFG_KIND_GROUP:
			cfg_defaults(r->sub, base);
			break;
		case CFG_KIND_MAP:	/* none: NULL, 0 */
		case CFG_KIND_LIST:
			break;
		}
	}
}

void
cfg_release(const struct cfg_rule *rules, void *base)
{
	const struct cfg_rule *r;
	char *arr;
	size_t i, n;

	for (r = rules; r->name != NULL; r++) {
		switch (r->kind) {
		case CFG_KIND_INT:
		case CFG_KIND_BOOL:
		case CFG_KIND_LEVEL:
			break;
		case CFG_KIND_STR:
			free(*CFG_AT(base, r->off, char *));
			break;
		case CFG_KIND_STRS:
		case CFG_KIND_MAP:
			cfg_strv_free(*CFG_AT(base, r->off, char **),
			    *CFG_AT(base, r->noff, size_t));
			break;
		case CFG_KIND_GROUP:
			cfg_release(r->sub, base);
			break;
		case CFG_KIND_LIST:
			/* the field is a struct pointer: copy, do not alias */
			memcpy(&arr, CFG_AT(base, r->off, char), sizeof(arr));
			n = *CFG_AT(base, r->noff, size_t);
			for (i = 0; i < n; i++)
				cfg_release(r->sub, arr + i * r->size);
			free(arr);
			break;
		}
	}
}

/* --- typed parse ------------------------------------------------------ */

/* The string value of s after the rule's checks, or NULL (reported). */
static const char *
cfg_string(struct cfg *x, const config_setting_t *s, const char *path,
    const struct cfg_rule *r)
{
	const char *v = NULL, *why = NULL;

	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		why = "must be a string";
	else if (*(v = config_setting_get_string(s)) == '\0') {
		if (!(r->flags & CFG_EMPTY))
			why = "must not be empty";
	} else if ((r->flags & CFG_ABS) && v[0] != '/')
		why = "must be an absolute path";
	else if (r->check != NULL)
		why = r->check(v);
	if (why != NULL) {
		cfg_err_at(x, s, path, "%s", why);
		return NULL;
	}
	return v;
}

static void
cfg_int(struct cfg *x, const config_setting_t *s, const char *path,
    const struct cfg_rule *r, int *out)
{
	long long v;

	*out = -1;
	if (config_setting_type(s) != CONFIG_TYPE_INT &&
	    config_setting_type(s) != CONFIG_TYPE_INT64) {
		cfg_err_at(x, s, path, "must be an integer");
		return;
	}
	v = config_setting_get_int64(s);
	if (v < r->min || v > r->max) {
		cfg_err_at(x, s, path, "must be between %d and %d", r->min,
		    r->max);
		return;
	}
	*out = (int)v;
}

static void
cfg_bool(struct cfg *x, const config_setting_t *s, const char *path, int *out)
{
	*out = -1;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
		cfg_err_at(x, s, path, "must be true or false");
		return;
	}
	*out = config_setting_get_bool(s) ? 1 : 0;
}

static void
cfg_level(struct cfg *x, const config_setting_t *s, const char *path,
    enum log_level *out)
{
	const char *v;
	size_t i;

	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		cfg_err_at(x, s, path, "must be a string");
		return;
	}
	v = config_setting_get_string(s);
	for (i = 0; i < sizeof(cfg_levels) / sizeof(cfg_levels[0]); i++) {
		if (strcmp(v, cfg_levels[i]) == 0) {
			*out = (enum log_level)i;
			return;
		}
	}
	cfg_err_at(x, s, path, "must be one of error, warn, info, debug");
}

/* Replaces the default. A bad element is left NULL. */
static void
cfg_strs(struct cfg *x, const config_setting_t *s, const char *path,
    const struct cfg_rule *r, char ***vp, size_t *np)
{
	const config_setting_t *e;
	const char *v;
	char *p, **out;
	size_t i, j, n;

	cfg_strv_free(*vp, *np);
	*vp = NULL;
	*np = 0;
	if (!config_setting_is_array(s) && !config_setting_is_list(s)) {
		cfg_err_at(x, s, path, "must be an array of strings");
		return;
	}
	n = (size_t)config_setting_length(s);
	if (n == 0 && (r->flags & CFG_NONEMPTY)) {
		cfg_err_at(x, s, path, "must not be empty");
		return;
	}
	out = x_calloc(n, sizeof(*out));
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(s, (unsigned int)i);
		p = x_asprintf("%s[%zu]", path, i);
		if ((v = cfg_string(x, e, p, r)) != NULL) {
			for (j = 0; j < i; j++)
				if (out[j] != NULL && strcmp(out[j], v) == 0)
					break;
			if (j < i)
				cfg_err_at(x, e, p, "%s \"%s\"", r->dup, v);
			else
				out[i] = x_strdup(v);
		}
		free(p);
	}
	*vp = out;
	*np = n;
}

/* NAME = "value" members into "NAME=value", file order, NULL-terminated */
static void
cfg_map(struct cfg *x, const config_setting_t *g, const char *path,
    const struct cfg_rule *r, char ***vp, size_t *np)
{
	const config_setting_t *s;
	const char *name, *why;
	char *p, **out;
	int i, n;

	if (!config_setting_is_group(g)) {
		cfg_err_at(x, g, path, "must be a group");
		return;
	}
	cfg_strv_free(*vp, *np);
	*np = 0;
	n = config_setting_length(g);
	out = *vp = x_calloc((size_t)n + 1, sizeof(*out));
	for (i = 0; i < n; i++) {
		s = config_setting_get_elem(g, (unsigned int)i);
		name = config_setting_name(s);
		p = cfg_path(path, name);
		if (r->check != NULL && (why = r->check(name)) != NULL)
			cfg_err_at(x, s, p, "%s", why);
		else if (config_setting_type(s) != CONFIG_TYPE_STRING)
			cfg_err_at(x, s, p, "must be a string");
		else
			out[(*np)++] = x_asprintf("%s=%s", name,
			    config_setting_get_string(s));
		free(p);
	}
}

/* A list of groups into a new array of r->size elements, each defaulted. */
static void
cfg_list(struct cfg *x, const config_setting_t *s, const char *path,
    const struct cfg_rule *r, void *base)
{
	const config_setting_t *e;
	char *p, *arr, *el;
	size_t i, n;

	if (!cfg_list_shape(s)) {
		cfg_err_at(x, s, path, "must be a list of groups");
		return;
	}
	n = (size_t)config_setting_length(s);
	arr = x_calloc(n, r->size);
	/* publish first, so that cfg_release sees what the walk fills in */
	memcpy(CFG_AT(base, r->off, char), &arr, sizeof(arr));
	*CFG_AT(base, r->noff, size_t) = n;
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(s, (unsigned int)i);
		el = arr + i * r->size;
		cfg_defaults(r->sub, el);
		*CFG_AT(el, r->lineoff, int) =
		    (int)config_setting_source_line(e);
		p = x_asprintf("%s[%zu]", path, i);
		if (!config_setting_is_group(e))
			cfg_err_at(x, e, p, "must be a group");
		else
			cfg_group(x, e, p, r->sub, el);
		free(p);
	}
}

static void
cfg_value(struct cfg *x, const config_setting_t *s, const char *path,
    const struct cfg_rule *r, void *base)
{
	char **sp;
	const char *v;

	switch (r->kind) {
	case CFG_KIND_INT:
		cfg_int(x, s, path, r, CFG_AT(base, r->off, int));
		break;
	case CFG_KIND_BOOL:
		cfg_bool(x, s, path, CFG_AT(base, r->off, int));
		break;
	case CFG_KIND_STR:
		sp = CFG_AT(base, r->off, char *);
		v = cfg_string(x, s, path, r);
		free(*sp);
		*sp = v ? x_strdup(v) : NULL;
		break;
	case CFG_KIND_LEVEL:
		cfg_level(x, s, path, CFG_AT(base, r->off, enum log_level));
		break;
	case CFG_KIND_STRS:
		cfg_strs(x, s, path, r, CFG_AT(base, r->off, char **),
		    CFG_AT(base, r->noff, size_t));
		break;
	case CFG_KIND_MAP:
		cfg_map(x, s, path, r, CFG_AT(base, r->off, char **),
		    CFG_AT(base, r->noff, size_t));
		break;
	case CFG_KIND_GROUP:
		if (!config_setting_is_group(s))
			cfg_err_at(x, s, path, "must be a group");
		else
			cfg_group(x, s, path, r->sub, base);
		break;
	case CFG_KIND_LIST:
		cfg_list(x, s, path, r, base);
		break;
	}
}

/* The members of group g, in file order, then the missing required ones. */
static void
cfg_group(struct cfg *x, const config_setting_t *g, const char *path,
    const struct cfg_rule *rules, void *base)
{
	const struct cfg_rule *r;
	const config_setting_t *s;
	char *p;
	int i, n;

	n = config_setting_length(g);
	for (i = 0; i < n; i++) {
		s = config_setting_get_elem(g, (unsigned int)i);
		p = cfg_path(path, config_setting_name(s));
		for (r = rules; r->name != NULL; r++)
			if (strcmp(r->name, config_setting_name(s)) == 0)
				break;
		if (r->name == NULL)
			cfg_err_at(x, s, p, "unknown setting");
		else
			cfg_value(x, s, p, r, base);
		free(p);
	}
	for (r = rules; r->name != NULL; r++) {
		if (!(r->flags & CFG_REQ) ||
		    config_setting_get_member(g, r->name) != NULL)
			continue;
		p = cfg_path(path, r->name);
		cfg_err_at(x, g, p, "required setting missing");
		free(p);
	}
}

/* --- life cycle ------------------------------------------------------ */

/*
 * fopen, refusing a directory: libconfig's scanner would exit() on the read
 * error. NULL with errno set.
 */
static FILE *
cfg_fopen(const char *path)
{
	struct stat st;
	FILE *fp;
	int saved;

	if ((fp = fopen(path, "re")) == NULL)
		return NULL;
	if (fstat(fileno(fp), &st) == -1)
		saved = errno;
	else if (S_ISDIR(st.st_mode))
		saved = EISDIR;
	else
		return fp;
	fclose(fp);
	errno = saved;
	return NULL;
}

/* -1 when path cannot be read or parsed (the one error written) */
static int
cfg_open(const char *path, FILE *errs, struct cfg **out)
{
	struct cfg *x = x_calloc(1, sizeof(*x));
	const char *file, *text;
	FILE *fp;
	int rc;

	*out = NULL;
	x->path = path;
	x->errs = errs;
	config_init(&x->lc);
	config_set_auto_convert(&x->lc, 0);
	if ((fp = cfg_fopen(path)) == NULL) {
		if (errs != NULL)
			fprintf(errs, "%s:0: file: %s\n", path, strerror(errno));
		cfg_close(x);
		return -1;
	}
	rc = config_read(&x->lc, fp);
	fclose(fp);
	if (rc != CONFIG_TRUE) {
		file = config_error_file(&x->lc);
		text = config_error_text(&x->lc);
		if (errs != NULL)
			fprintf(errs, "%s:%d: syntax: %s\n", file ? file : path,
			    config_error_line(&x->lc), text ? text :
			    "syntax error");
		cfg_close(x);
		return -1;
	}
	*out = x;
	return 0;
}

static void
cfg_close(struct cfg *x)
{
	if (x == NULL)
		return;
	config_destroy(&x->lc);
	free(x);
}

int
cfg_load(const char *path, FILE *errs, const struct cfg_rule *rules,
    void *base, void (*check)(struct cfg *x, const void *base))
{
	struct cfg *x;
	int nerr;

	cfg_defaults(rules, base);
	if (cfg_open(path, errs, &x) == -1)
		return -1;
	cfg_group(x, config_root_setting(&x->lc), NULL, rules, base);
	if (check != NULL)
		check(x, base);
	nerr = x->nerr;
	cfg_close(x);
	return nerr > 0 ? -1 : 0;
}

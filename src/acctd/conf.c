/*
 * conf.c — the libconfig file (DESIGN.md "Configuration"). The only file
 * that includes libconfig.h.
 *
 * One pass reports every error. Each group declares its settings (name,
 * type, range or check, default, field) in a conf_rule table: a new setting
 * is one line here (plus config/acctd.conf, docs/config.md and its test).
 * Messages come in file order, then each group's missing required settings,
 * then the cross-field checks. A setting that fails is left NULL or -1 so
 * that those skip it rather than pile a derived error on the real one.
 *
 * Every error is one line "FILE:LINE: setting: reason". FILE is the path as
 * given to conf_load (or the @include'd file the setting came from). LINE is
 * the setting's line; for a missing setting its group's line, or 1 at the
 * top level; 0 when the file cannot be read. setting is the dotted path with
 * list indices: tls.cert, nodes[0].url, workspaces[1].members[0]. The
 * reasons, all of them (upper case words are filled in):
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
 *   must be host:port with an ip address or * as host
 *   must be https://host:port
 *   port must be between 1 and 65535
 *   duplicate listen address "ADDR"
 *   not a valid user handle
 *   must contain one @ with text on both sides
 *   not a valid lowercase dns name
 *   not a valid node name
 *   not a valid workspace handle
 *   not a valid database name
 *   duplicate member "HANDLE"
 *   duplicate node name "NAME"
 *   unknown node "NAME"
 *   duplicate workspace "HANDLE" of owner "OWNER"
 *   must not exceed sessions.absolute_timeout
 *   must not be less than sessions.idle_timeout
 *   required when push.client_cert is set
 *   required when push.client_key is set
 *   must be 64 lowercase hex digits (the SHA-256 of the token)
 *   N records do not fit map_size_mb = M (...)   (on audit.capacity)
 *
 * libconfig 1.7 reads a decimal literal beyond the int range as a 64-bit
 * integer (1.5 wrapped it with atoi(): 4294967304 read as 8); conf_int
 * range-checks the 64-bit value.
 */
#include <sys/stat.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include "acctd.h"

enum conf_kind {
	CONF_INT,	/* int in [min, max] */
	CONF_STR,	/* char *, per flags and check */
	CONF_LEVEL,	/* enum log_level from its name */
	CONF_STRS,	/* char ** and size_t count: array or list of strings */
	CONF_GROUP,	/* members in their own table, same base struct */
	CONF_LIST	/* list of groups, each into a new element struct */
};

#define CONF_REQ	0x01	/* must be present */
#define CONF_EMPTY	0x02	/* "" allowed: means off / unchanged */
#define CONF_ABS	0x04	/* an absolute path (when not "") */
#define CONF_NONEMPTY	0x08	/* CONF_STRS: at least one element */

/* A syntax check: NULL when s is fine, else the reason. */
typedef const char *(*conf_check_fn)(const char *s);

struct conf_rule {
	const char *name;
	enum conf_kind kind;
	int flags;
	size_t off;			/* the value in the base struct */
	size_t noff;			/* CONF_STRS, CONF_LIST: the count */
	int min, max;			/* CONF_INT */
	int def;			/* CONF_INT, CONF_LEVEL: default */
	const char *sdef;		/* CONF_STR, CONF_STRS: default */
	conf_check_fn check;		/* CONF_STR, CONF_STRS elements */
	const char *dup;		/* CONF_STRS: reason for a repeat */
	const struct conf_rule *sub;	/* CONF_GROUP, CONF_LIST members */
	size_t size;			/* CONF_LIST: element size */
	size_t lineoff;			/* CONF_LIST: element's int line */
};

/* d: the default; for R_STRS the one element of the default array */
#define R_INT(T, n, f, fl, lo, hi, d) { .name = (n), .kind = CONF_INT,	\
	.flags = (fl), .off = offsetof(T, f), .min = (lo), .max = (hi),	\
	.def = (d) }
#define R_STR(T, n, f, fl, chk, d) { .name = (n), .kind = CONF_STR,	\
	.flags = (fl), .off = offsetof(T, f), .check = (chk), .sdef = (d) }
#define R_STRS(T, n, f, nf, fl, chk, dupr, d) { .name = (n),		\
	.kind = CONF_STRS, .flags = (fl), .off = offsetof(T, f),	\
	.noff = offsetof(T, nf), .check = (chk), .dup = (dupr), .sdef = (d) }
#define R_LEVEL(T, n, f, d) { .name = (n), .kind = CONF_LEVEL,		\
	.off = offsetof(T, f), .def = (d) }
#define R_GROUP(n, fl, s) { .name = (n), .kind = CONF_GROUP,		\
	.flags = (fl), .sub = (s) }
#define R_LIST(T, n, f, nf, E, s) { .name = (n), .kind = CONF_LIST,	\
	.off = offsetof(T, f), .noff = offsetof(T, nf), .sub = (s),	\
	.size = sizeof(E), .lineoff = offsetof(E, line) }
#define R_END { .name = NULL }

/* The field at byte offset off of base, as a T. */
#define CONF_AT(base, off, T)	((T *)(void *)((char *)(base) + (off)))

struct conf_ctx {
	const char *path;	/* as given to conf_load */
	FILE *errs;		/* NULL: count only */
	int nerr;
};

/* --- value syntax (ahead of the tables that name the checks) -------- */

#define CONF_LOWER	"abcdefghijklmnopqrstuvwxyz"
#define CONF_LD		CONF_LOWER "0123456789"

/* 1 to max characters: the first from `first`, the others from `rest`. */
static int
conf_word(const char *s, const char *first, const char *rest, size_t max)
{
	size_t n = strlen(s);

	return n >= 1 && n <= max && strchr(first, s[0]) != NULL &&
	    strspn(s + 1, rest) == n - 1;
}

int
conf_names_handle(const struct conf *c, const char *handle)
{
	for (size_t i = 0; c != NULL && i < c->nworkspaces; i++)
		if (workspace_names(&c->workspaces[i], handle))
			return 1;
	return 0;
}

/* lowercase, labels of 1-63 [a-z0-9-] not starting or ending in '-' */
static int
conf_dns_name(const char *s)
{
	const char *p;
	size_t label = 0;

	if (*s == '\0' || strlen(s) > 253)
		return 0;
	for (p = s;; p++) {
		if (*p == '.' || *p == '\0') {
			if (label == 0 || label > 63 || p[-1] == '-')
				return 0;
			if (*p == '\0')
				return 1;
			label = 0;
		} else if (strchr(CONF_LD, *p) != NULL ||
		    (*p == '-' && label > 0))
			label++;
		else
			return 0;
	}
}

static const char *
conf_port(const char *p, const char *bad)
{
	long v = 0;

	if (*p == '\0')
		return bad;
	for (; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return bad;
		if (v <= 65535)
			v = v * 10 + (*p - '0');
	}
	if (v < 1 || v > 65535)
		return "port must be between 1 and 65535";
	return NULL;
}

/*
 * host:port or [ipv6]:port. A listen host is an IPv4 literal or "*"; a url
 * host is an IPv4 literal or a lowercase DNS name.
 */
static const char *
conf_hostport(const char *s, int url, const char *bad)
{
	char host[256];
	const char *end, *port;
	struct in6_addr a6;
	struct in_addr a4;
	size_t len;

	if (s[0] == '[') {
		if ((end = strchr(s, ']')) == NULL || end[1] != ':')
			return bad;
		len = (size_t)(end - s - 1);
		if (len == 0 || len >= sizeof(host))
			return bad;
		memcpy(host, s + 1, len);
		host[len] = '\0';
		if (inet_pton(AF_INET6, host, &a6) != 1)
			return bad;
		port = end + 2;
	} else {
		if ((end = strchr(s, ':')) == NULL)
			return bad;
		len = (size_t)(end - s);
		if (len == 0 || len >= sizeof(host))
			return bad;
		memcpy(host, s, len);
		host[len] = '\0';
		if (url ? !conf_dns_name(host) :
		    strcmp(host, "*") != 0 && inet_pton(AF_INET, host, &a4) != 1)
			return bad;
		port = end + 1;
	}
	return conf_port(port, bad);
}

static const char *
conf_check_listen(const char *s)
{
	return conf_hostport(s, 0,
	    "must be host:port with an ip address or * as host");
}

static const char *
conf_check_url(const char *s)
{
	static const char bad[] = "must be https://host:port";

	if (strncmp(s, "https://", 8) != 0)
		return bad;
	return conf_hostport(s + 8, 1, bad);
}

static const char *
conf_check_user(const char *s)
{
	return name_handle_valid(s) ? NULL : "not a valid user handle";
}

static const char *
conf_check_email(const char *s)
{
	const char *at = strchr(s, '@');

	if (at == NULL || at == s || at[1] == '\0' || strchr(at + 1, '@'))
		return "must contain one @ with text on both sides";
	return NULL;
}

static const char *
conf_check_domain(const char *s)
{
	return conf_dns_name(s) ? NULL : "not a valid lowercase dns name";
}

static const char *
conf_check_node_name(const char *s)
{
	return conf_word(s, CONF_LD, CONF_LD "-", 32) ? NULL :
	    "not a valid node name";
}

static const char *
conf_check_sha256(const char *s)
{
	return strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64 ? NULL :
	    "must be 64 lowercase hex digits (the SHA-256 of the token)";
}

static const char *
conf_check_ws_handle(const char *s)
{
	return conf_word(s, CONF_LD, CONF_LD, 23) ? NULL :
	    "not a valid workspace handle";
}

static const char *
conf_check_database(const char *s)
{
	return conf_word(s, CONF_LOWER "_", CONF_LD "_", 63) ? NULL :
	    "not a valid database name";
}

static void conf_verr(struct conf_ctx *, const config_setting_t *,
    const char *, const char *, va_list) ACCTD_PRINTF(4, 0);
static void conf_err(struct conf_ctx *, const config_setting_t *,
    const char *, const char *, ...) ACCTD_PRINTF(4, 5);
static void conf_err_elem(struct conf_ctx *, const config_t *, const char *,
    size_t, const char *, const char *, ...) ACCTD_PRINTF(6, 7);
static void conf_group(struct conf_ctx *, const config_setting_t *,
    const char *, const struct conf_rule *, void *);

#define C struct conf
#define N struct conf_node
#define W struct conf_workspace

static const struct conf_rule conf_tls_rules[] = {
	R_STR(C, "cert", tls_cert, CONF_REQ | CONF_ABS, NULL, NULL),
	R_STR(C, "key", tls_key, CONF_REQ | CONF_ABS, NULL, NULL),
	R_END
};
static const struct conf_rule conf_audit_rules[] = {
	R_INT(C, "capacity", audit_capacity, 0, 100, 10000000, 100000),
	R_END
};
static const struct conf_rule conf_tokens_rules[] = {
	R_INT(C, "max_per_user", tokens_max_per_user, 0, 1, 100, 2),
	R_END
};
static const struct conf_rule conf_sessions_rules[] = {
	R_INT(C, "idle_timeout", sessions_idle_timeout, 0, 60, 86400, 1800),
	R_INT(C, "absolute_timeout", sessions_absolute_timeout, 0, 300,
	    2592000, 43200),
	R_END
};
/* 1000 lets tests sign in fast; below OWASP's 600000 is for tests only */
static const struct conf_rule conf_passwords_rules[] = {
	R_INT(C, "pbkdf2_iterations", pbkdf2_iterations, 0, 1000, 10000000,
	    600000),
	R_END
};
static const struct conf_rule conf_login_rules[] = {
	R_INT(C, "max_failures", login_max_failures, 0, 1, 1000, 5),
	R_INT(C, "window", login_window, 0, 1, 86400, 300),
	R_INT(C, "lockout", login_lockout, 0, 1, 604800, 900),
	R_END
};
static const struct conf_rule conf_admin_rules[] = {
	R_STR(C, "handle", admin_handle, 0, conf_check_user, "admin"),
	R_STR(C, "email", admin_email, 0, conf_check_email,
	    "admin@localhost"),
	/* default <data_dir>/admin.password, set after the parse */
	R_STR(C, "password_file", admin_password_file, CONF_ABS, NULL, NULL),
	R_END
};
static const struct conf_rule conf_dns_rules[] = {
	R_STR(C, "domain", dns_domain, 0, conf_check_domain,
	    "ws.gateway.local"),
	R_STR(C, "hosts_file", dns_hosts_file, CONF_ABS, NULL,
	    "/run/acctd/workspaces.hosts"),
	R_STR(C, "reload_pidfile", dns_reload_pidfile, CONF_ABS | CONF_EMPTY,
	    NULL, ""),
	R_END
};
static const struct conf_rule conf_push_rules[] = {
	R_STR(C, "client_cert", push_client_cert, CONF_ABS | CONF_EMPTY, NULL,
	    ""),
	R_STR(C, "client_key", push_client_key, CONF_ABS | CONF_EMPTY, NULL,
	    ""),
	R_INT(C, "retry_max_seconds", push_retry_max_seconds, 0, 1, 86400, 300),
	R_END
};
static const struct conf_rule conf_http_rules[] = {
	R_INT(C, "threads", http_threads, 0, 2, 256, 32),
	R_INT(C, "keepalive_timeout_ms", http_keepalive_timeout_ms, 0, 0,
	    60000, 2000),
	R_INT(C, "request_timeout_ms", http_request_timeout_ms, 0, 1000,
	    120000, 10000),
	R_INT(C, "min_rate", http_min_rate, 0, 0, 1048576, 128),
	R_INT(C, "max_connections", http_max_connections, 0, 16, 16384, 512),
	R_INT(C, "max_connections_per_address", http_max_connections_per_address,
	    0, 1, 16384, 64),
	R_END
};
/* /metrics: a scraper's bearer token, by its SHA-256 (the file holds no
 * usable secret); "" = admins only */
static const struct conf_rule conf_metrics_rules[] = {
	R_STR(C, "token_sha256", metrics_token_sha256, CONF_EMPTY,
	    conf_check_sha256, ""),
	R_END
};
static const struct conf_rule conf_rate_rules[] = {
	R_INT(C, "writes_per_minute", rate_writes_per_minute, 0, 1, 60000, 60),
	R_INT(C, "writes_burst", rate_writes_burst, 0, 1, 10000, 30),
	R_END
};
static const struct conf_rule conf_node_rules[] = {
	R_STR(N, "name", name, CONF_REQ, conf_check_node_name, NULL),
	R_STR(N, "url", url, CONF_REQ, conf_check_url, NULL),
	R_STR(N, "cert", cert, CONF_REQ | CONF_ABS, NULL, NULL),
	R_END
};
static const struct conf_rule conf_workspace_rules[] = {
	R_STR(W, "handle", handle, CONF_REQ, conf_check_ws_handle, NULL),
	R_STR(W, "owner", owner, CONF_REQ, conf_check_user, NULL),
	R_STRS(W, "members", members, nmembers, 0, conf_check_user,
	    "duplicate member", NULL),
	R_STR(W, "node", node, CONF_REQ, NULL, NULL), /* checked against nodes */
	R_STR(W, "database", database, CONF_REQ, conf_check_database, NULL),
	R_INT(W, "port", port, CONF_REQ, 1, 65535, 0),
	R_END
};
static const struct conf_rule conf_rules[] = {
	R_STRS(C, "listen", listen, nlisten, CONF_NONEMPTY, conf_check_listen,
	    "duplicate listen address", "127.0.0.1:8443"),
	R_GROUP("tls", CONF_REQ, conf_tls_rules),
	R_STR(C, "data_dir", data_dir, CONF_REQ | CONF_ABS, NULL, NULL),
	/* default <data_dir>/appliance.key, set after the parse */
	R_STR(C, "key_file", key_file, CONF_ABS, NULL, NULL),
	R_INT(C, "map_size_mb", map_size_mb, 0, 8, 65536, 256),
	R_STR(C, "user", user, CONF_EMPTY, NULL, "acctd"),
	R_LEVEL(C, "log_level", log_level, LOG_LEVEL_INFO),
	R_GROUP("audit", 0, conf_audit_rules),
	R_GROUP("tokens", 0, conf_tokens_rules),
	R_GROUP("sessions", 0, conf_sessions_rules),
	R_GROUP("passwords", 0, conf_passwords_rules),
	R_GROUP("login", 0, conf_login_rules),
	R_GROUP("bootstrap_admin", 0, conf_admin_rules),
	R_GROUP("dns", 0, conf_dns_rules),
	R_GROUP("push", 0, conf_push_rules),
	R_LIST(C, "nodes", nodes, nnodes, N, conf_node_rules),
	R_LIST(C, "workspaces", workspaces, nworkspaces, W,
	    conf_workspace_rules),
	R_GROUP("http", 0, conf_http_rules),
	R_GROUP("metrics", 0, conf_metrics_rules),
	R_GROUP("rate_limit", 0, conf_rate_rules),
	R_END
};

#undef C
#undef N
#undef W

static const char *const conf_levels[] = { "error", "warn", "info", "debug" };

/* --- errors and paths ------------------------------------------------- */

static void
conf_verr(struct conf_ctx *x, const config_setting_t *at, const char *name,
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
conf_err(struct conf_ctx *x, const config_setting_t *at, const char *name,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	conf_verr(x, at, name, fmt, ap);
	va_end(ap);
}

/* An error about list[i].member, for the cross-field checks. */
static void
conf_err_elem(struct conf_ctx *x, const config_t *cfg, const char *list,
    size_t i, const char *member, const char *fmt, ...)
{
	const config_setting_t *at = config_lookup(cfg, list), *m;
	va_list ap;
	char *name;

	/* at the member, else its group */
	if (at != NULL)
		at = config_setting_get_elem(at, (unsigned int)i);
	if (at != NULL && (m = config_setting_get_member(at, member)) != NULL)
		at = m;
	name = x_asprintf("%s[%zu].%s", list, i, member);
	va_start(ap, fmt);
	conf_verr(x, at, name, fmt, ap);
	va_end(ap);
	free(name);
}

/* parent.name, or name at the top. Caller frees. */
static char *
conf_path(const char *parent, const char *name)
{
	return parent ? x_asprintf("%s.%s", parent, name) : x_strdup(name);
}

static int
conf_is_list(const config_setting_t *s)
{
	return config_setting_is_list(s) ||
	    (config_setting_is_array(s) && config_setting_length(s) == 0);
}

/* --- defaults and release --------------------------------------------- */

static void
conf_strv_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Every field the rules name in base gets its default (NULL, 0, none). */
static void
conf_defaults(const struct conf_rule *rules, void *base)
{
	const struct conf_rule *r;
	char **v;

	for (r = rules; r->name != NULL; r++) {
		switch (r->kind) {
		case CONF_INT:
			*CONF_AT(base, r->off, int) = r->def;
			break;
		case CONF_LEVEL:
			*CONF_AT(base, r->off, enum log_level) =
			    (enum log_level)r->def;
			break;
		case CONF_STR:
			*CONF_AT(base, r->off, char *) = r->sdef ?
			    x_strdup(r->sdef) : NULL;
			break;
		case CONF_STRS:
			if (r->sdef == NULL)
				break;
			v = x_calloc(1, sizeof(*v));
			v[0] = x_strdup(r->sdef);
			*CONF_AT(base, r->off, char **) = v;
			*CONF_AT(base, r->noff, size_t) = 1;
			break;
		case CONF_GROUP:
			conf_defaults(r->sub, base);
			break;
		case CONF_LIST:		/* none: conf_free copes with NULL, 0 */
			break;
		}
	}
}

/* Frees everything the rules name in base; NULL fields are fine. */
static void
conf_release(const struct conf_rule *rules, void *base)
{
	const struct conf_rule *r;
	char *arr;
	size_t i, n;

	for (r = rules; r->name != NULL; r++) {
		switch (r->kind) {
		case CONF_INT:
		case CONF_LEVEL:
			break;
		case CONF_STR:
			free(*CONF_AT(base, r->off, char *));
			break;
		case CONF_STRS:
			conf_strv_free(*CONF_AT(base, r->off, char **),
			    *CONF_AT(base, r->noff, size_t));
			break;
		case CONF_GROUP:
			conf_release(r->sub, base);
			break;
		case CONF_LIST:
			/* the field is a struct pointer: copy, do not alias */
			memcpy(&arr, CONF_AT(base, r->off, char), sizeof(arr));
			n = *CONF_AT(base, r->noff, size_t);
			for (i = 0; i < n; i++)
				conf_release(r->sub, arr + i * r->size);
			free(arr);
			break;
		}
	}
}

/* --- typed parse ------------------------------------------------------ */

/* The string value of s after the rule's checks, or NULL (reported). */
static const char *
conf_string(struct conf_ctx *x, const config_setting_t *s, const char *path,
    const struct conf_rule *r)
{
	const char *v = NULL, *why = NULL;

	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		why = "must be a string";
	else if (*(v = config_setting_get_string(s)) == '\0') {
		if (!(r->flags & CONF_EMPTY))
			why = "must not be empty";
	} else if ((r->flags & CONF_ABS) && v[0] != '/')
		why = "must be an absolute path";
	else if (r->check != NULL)
		why = r->check(v);
	if (why != NULL) {
		conf_err(x, s, path, "%s", why);
		return NULL;
	}
	return v;
}

static void
conf_int(struct conf_ctx *x, const config_setting_t *s, const char *path,
    const struct conf_rule *r, int *out)
{
	long long v;

	*out = -1;
	if (config_setting_type(s) != CONFIG_TYPE_INT &&
	    config_setting_type(s) != CONFIG_TYPE_INT64) {
		conf_err(x, s, path, "must be an integer");
		return;
	}
	v = config_setting_get_int64(s);
	if (v < r->min || v > r->max) {
		conf_err(x, s, path, "must be between %d and %d", r->min,
		    r->max);
		return;
	}
	*out = (int)v;
}

static void
conf_level(struct conf_ctx *x, const config_setting_t *s, const char *path,
    enum log_level *out)
{
	const char *v;
	size_t i;

	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		conf_err(x, s, path, "must be a string");
		return;
	}
	v = config_setting_get_string(s);
	for (i = 0; i < sizeof(conf_levels) / sizeof(conf_levels[0]); i++) {
		if (strcmp(v, conf_levels[i]) == 0) {
			*out = (enum log_level)i;
			return;
		}
	}
	conf_err(x, s, path, "must be one of error, warn, info, debug");
}

/* Replaces the default. A bad element is left NULL. */
static void
conf_strs(struct conf_ctx *x, const config_setting_t *s, const char *path,
    const struct conf_rule *r, char ***vp, size_t *np)
{
	const config_setting_t *e;
	const char *v;
	char *p, **out;
	size_t i, j, n;

	conf_strv_free(*vp, *np);
	*vp = NULL;
	*np = 0;
	if (!config_setting_is_array(s) && !config_setting_is_list(s)) {
		conf_err(x, s, path, "must be an array of strings");
		return;
	}
	n = (size_t)config_setting_length(s);
	if (n == 0 && (r->flags & CONF_NONEMPTY)) {
		conf_err(x, s, path, "must not be empty");
		return;
	}
	out = x_calloc(n, sizeof(*out));
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(s, (unsigned int)i);
		p = x_asprintf("%s[%zu]", path, i);
		if ((v = conf_string(x, e, p, r)) != NULL) {
			for (j = 0; j < i; j++)
				if (out[j] != NULL && strcmp(out[j], v) == 0)
					break;
			if (j < i)
				conf_err(x, e, p, "%s \"%s\"", r->dup, v);
			else
				out[i] = x_strdup(v);
		}
		free(p);
	}
	*vp = out;
	*np = n;
}

/* A list of groups into a new array of r->size elements, each defaulted. */
static void
conf_list(struct conf_ctx *x, const config_setting_t *s, const char *path,
    const struct conf_rule *r, void *base)
{
	const config_setting_t *e;
	char *p, *arr, *el;
	size_t i, n;

	if (!conf_is_list(s)) {
		conf_err(x, s, path, "must be a list of groups");
		return;
	}
	n = (size_t)config_setting_length(s);
	arr = x_calloc(n, r->size);
	/* publish first, so that conf_free sees what the walk fills in */
	memcpy(CONF_AT(base, r->off, char), &arr, sizeof(arr));
	*CONF_AT(base, r->noff, size_t) = n;
	for (i = 0; i < n; i++) {
		e = config_setting_get_elem(s, (unsigned int)i);
		el = arr + i * r->size;
		conf_defaults(r->sub, el);
		*CONF_AT(el, r->lineoff, int) =
		    (int)config_setting_source_line(e);
		p = x_asprintf("%s[%zu]", path, i);
		if (!config_setting_is_group(e))
			conf_err(x, e, p, "must be a group");
		else
			conf_group(x, e, p, r->sub, el);
		free(p);
	}
}

static void
conf_value(struct conf_ctx *x, const config_setting_t *s, const char *path,
    const struct conf_rule *r, void *base)
{
	char **sp;
	const char *v;

	switch (r->kind) {
	case CONF_INT:
		conf_int(x, s, path, r, CONF_AT(base, r->off, int));
		break;
	case CONF_STR:
		sp = CONF_AT(base, r->off, char *);
		v = conf_string(x, s, path, r);
		free(*sp);
		*sp = v ? x_strdup(v) : NULL;
		break;
	case CONF_LEVEL:
		conf_level(x, s, path, CONF_AT(base, r->off, enum log_level));
		break;
	case CONF_STRS:
		conf_strs(x, s, path, r, CONF_AT(base, r->off, char **),
		    CONF_AT(base, r->noff, size_t));
		break;
	case CONF_GROUP:
		if (!config_setting_is_group(s))
			conf_err(x, s, path, "must be a group");
		else
			conf_group(x, s, path, r->sub, base);
		break;
	case CONF_LIST:
		conf_list(x, s, path, r, base);
		break;
	}
}

/* The members of group g, in file order, then the missing required ones. */
static void
conf_group(struct conf_ctx *x, const config_setting_t *g, const char *path,
    const struct conf_rule *rules, void *base)
{
	const struct conf_rule *r;
	const config_setting_t *s;
	char *p;
	int i, n;

	n = config_setting_length(g);
	for (i = 0; i < n; i++) {
		s = config_setting_get_elem(g, (unsigned int)i);
		p = conf_path(path, config_setting_name(s));
		for (r = rules; r->name != NULL; r++)
			if (strcmp(r->name, config_setting_name(s)) == 0)
				break;
		if (r->name == NULL)
			conf_err(x, s, p, "unknown setting");
		else
			conf_value(x, s, p, r, base);
		free(p);
	}
	for (r = rules; r->name != NULL; r++) {
		if (!(r->flags & CONF_REQ) ||
		    config_setting_get_member(g, r->name) != NULL)
			continue;
		p = conf_path(path, r->name);
		conf_err(x, g, p, "required setting missing");
		free(p);
	}
}

/* --- cross-field checks ----------------------------------------------- */

static void
conf_check_sessions(struct conf_ctx *x, const config_t *cfg,
    const struct conf *c)
{
	const config_setting_t *s;

	if (c->sessions_idle_timeout < 0 || c->sessions_absolute_timeout < 0 ||
	    c->sessions_idle_timeout <= c->sessions_absolute_timeout)
		return;
	/* blame the one that was set; with both defaults this cannot fire */
	if ((s = config_lookup(cfg, "sessions.idle_timeout")) != NULL)
		conf_err(x, s, "sessions.idle_timeout",
		    "must not exceed sessions.absolute_timeout");
	else
		conf_err(x, config_lookup(cfg, "sessions.absolute_timeout"),
		    "sessions.absolute_timeout",
		    "must not be less than sessions.idle_timeout");
}

static void
conf_check_push(struct conf_ctx *x, const config_t *cfg, const struct conf *c)
{
	const config_setting_t *s;
	const char *missing, *other;

	/* NULL: that one had its own error */
	if (c->push_client_cert == NULL || c->push_client_key == NULL ||
	    (*c->push_client_cert == '\0') == (*c->push_client_key == '\0'))
		return;
	missing = *c->push_client_cert ? "push.client_key" : "push.client_cert";
	other = *c->push_client_cert ? "push.client_cert" : "push.client_key";
	if ((s = config_lookup(cfg, missing)) == NULL)
		s = config_lookup(cfg, "push");
	conf_err(x, s, missing, "required when %s is set", other);
}

/*
 * The audit ring must fit in the map and leave room: capacity records at
 * their worst case (AUDIT_RECORD_COST, acctd.h) plus headroom for users,
 * sessions, tokens, the outbox and LMDB's copy-on-write pages, an eighth
 * of the map and at least CONF_HEADROOM_MIN_MB. Otherwise the map fills
 * before the ring ever drops a record. docs/config.md states the rule.
 */
#define CONF_MIB		(1024ULL * 1024)
#define CONF_HEADROOM_MIN_MB	4

static void
conf_check_audit(struct conf_ctx *x, const config_t *cfg, const struct conf *c)
{
	const config_setting_t *s;
	unsigned long long map, room, ring, fit, need;

	if (c->audit_capacity < 0 || c->map_size_mb < 0)
		return;
	map = (unsigned long long)c->map_size_mb * CONF_MIB;
	room = map / 8;
	if (room < CONF_HEADROOM_MIN_MB * CONF_MIB)
		room = CONF_HEADROOM_MIN_MB * CONF_MIB;
	ring = (unsigned long long)c->audit_capacity * AUDIT_RECORD_COST;
	if (ring + room <= map)
		return;
	fit = map > room ? (map - room) / AUDIT_RECORD_COST : 0;
	need = (ring * 8 / 7 + CONF_MIB - 1) / CONF_MIB;
	if (need < 8 * CONF_HEADROOM_MIN_MB)
		need = (ring + (CONF_HEADROOM_MIN_MB + 1) * CONF_MIB - 1) / CONF_MIB;
	if ((s = config_lookup(cfg, "audit.capacity")) == NULL &&
	    (s = config_lookup(cfg, "map_size_mb")) == NULL)
		s = config_root_setting(cfg);
	conf_err(x, s, "audit.capacity", "%d records do not fit map_size_mb = "
	    "%d (%d bytes each at worst, plus %llu MB for users, sessions and "
	    "tokens): at most %llu fit; lower audit.capacity or raise "
	    "map_size_mb to at least %llu", c->audit_capacity, c->map_size_mb,
	    AUDIT_RECORD_COST, room / CONF_MIB, fit, need);
}

static const struct conf_node *
conf_node_find(const struct conf *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nnodes; i++)
		if (c->nodes[i].name && strcmp(c->nodes[i].name, name) == 0)
			return &c->nodes[i];
	return NULL;
}

static void
conf_check_nodes(struct conf_ctx *x, const config_t *cfg,
    const struct conf *c)
{
	const config_setting_t *s;
	const struct conf_workspace *w, *v;
	size_t i, j;
	int nodes_ok = 1;

	s = config_lookup(cfg, "nodes");
	if (s != NULL && !conf_is_list(s))
		nodes_ok = 0;
	for (i = 0; i < c->nnodes; i++) {
		if (c->nodes[i].name == NULL) {
			nodes_ok = 0;	/* an unknown node may be this one */
			continue;
		}
		if (conf_node_find(c, c->nodes[i].name) == &c->nodes[i])
			continue;
		conf_err_elem(x, cfg, "nodes", i, "name",
		    "duplicate node name \"%s\"", c->nodes[i].name);
	}
	for (i = 0; i < c->nworkspaces; i++) {
		w = &c->workspaces[i];
		/* the value is quoted only when it is a node name: a line
		 * break in it would forge a second error line */
		if (nodes_ok && w->node != NULL &&
		    conf_node_find(c, w->node) == NULL) {
			if (conf_check_node_name(w->node) != NULL)
				conf_err_elem(x, cfg, "workspaces", i, "node",
				    "not a valid node name");
			else
				conf_err_elem(x, cfg, "workspaces", i, "node",
				    "unknown node \"%s\"", w->node);
		}
		if (w->handle == NULL || w->owner == NULL)
			continue;
		for (j = 0; j < i; j++) {
			v = &c->workspaces[j];
			if (v->handle && v->owner &&
			    strcmp(v->handle, w->handle) == 0 &&
			    strcmp(v->owner, w->owner) == 0)
				break;
		}
		if (j < i)
			conf_err_elem(x, cfg, "workspaces", i, "handle",
			    "duplicate workspace \"%s\" of owner \"%s\"",
			    w->handle, w->owner);
	}
}

/* Caller frees. */
static char *
conf_join(const char *dir, const char *name)
{
	size_t n = strlen(dir);

	return x_asprintf("%s%s%s", dir, n && dir[n - 1] == '/' ? "" : "/",
	    name);
}

/* --- life cycle ------------------------------------------------------ */

static struct conf *
conf_new(const char *path)
{
	struct conf *c = x_calloc(1, sizeof(*c));

	c->path = x_strdup(path);
	conf_defaults(conf_rules, c);
	return c;
}

/*
 * fopen, refusing a directory: libconfig's scanner would exit() on the read
 * error. NULL with errno set.
 */
static FILE *
conf_open(const char *path)
{
	struct stat st;
	FILE *fp;
	int saved;

	if ((fp = fopen(path, "r")) == NULL)
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

int
conf_load(const char *path, FILE *errs, struct conf **out)
{
	struct conf_ctx x = { .path = path, .errs = errs, .nerr = 0 };
	struct conf *c = NULL;
	config_t cfg;
	FILE *fp;
	int rc = -1;

	*out = NULL;
	config_init(&cfg);
	config_set_auto_convert(&cfg, 0);
	if ((fp = conf_open(path)) == NULL) {
		if (errs != NULL)
			fprintf(errs, "%s:0: file: %s\n", path, strerror(errno));
		goto fail;
	}
	if (config_read(&cfg, fp) != CONFIG_TRUE) {
		if (errs != NULL)
			fprintf(errs, "%s:%d: syntax: %s\n",
			    config_error_file(&cfg) ? config_error_file(&cfg) :
			    path, config_error_line(&cfg),
			    config_error_text(&cfg) ? config_error_text(&cfg) :
			    "syntax error");
		goto fail;
	}
	c = conf_new(path);
	conf_group(&x, config_root_setting(&cfg), NULL, conf_rules, c);
	conf_check_sessions(&x, &cfg, c);
	conf_check_push(&x, &cfg, c);
	conf_check_nodes(&x, &cfg, c);
	conf_check_audit(&x, &cfg, c);
	if (x.nerr > 0)
		goto fail;
	if (c->key_file == NULL)
		c->key_file = conf_join(c->data_dir, "appliance.key");
	if (c->admin_password_file == NULL)
		c->admin_password_file = conf_join(c->data_dir,
		    "admin.password");
	*out = c;
	c = NULL;
	rc = 0;
fail:
	if (fp != NULL)
		fclose(fp);
	config_destroy(&cfg);
	conf_free(c);
	return rc;
}

void
conf_free(struct conf *c)
{
	if (c == NULL)
		return;
	free(c->path);
	conf_release(conf_rules, c);
	free(c);
}

/*
 * agent_conf.c — acctd-agent's libconfig file (docs/agent.md). Same rules
 * and wording as conf.c, which it cannot share (conf.c's tables fill a
 * struct conf): one pass reports every error, each one line
 * "FILE:LINE: setting: reason"; unknown settings are errors; a missing
 * setting is reported at its group's line (1 at the top level); LINE is 0
 * when the file cannot be read. The reasons:
 *
 *   file: STRERROR                       (setting "file", LINE 0)
 *   syntax: LIBCONFIG-TEXT
 *   unknown setting
 *   required setting missing
 *   must be a string
 *   must be a group
 *   must not be empty
 *   must be an absolute path
 *   must be one of error, warn, info, debug
 *   must be host:port with an ip address or * as host
 *   port must be between 1 and 65535
 *   not a valid environment variable name
 *   reserved: the agent sets ACCTD_* itself
 */
#include <sys/stat.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include "agent.h"

#define AC_REQ		0x01	/* must be present */
#define AC_EMPTY	0x02	/* "" allowed */
#define AC_ABS		0x04	/* an absolute path */

enum agent_conf_kind { AC_STR, AC_LEVEL, AC_GROUP, AC_ENV };

typedef const char *(*agent_conf_check_fn)(const char *s);

struct agent_conf_rule {
	const char *name;
	enum agent_conf_kind kind;
	int flags;
	size_t off;			/* AC_STR, AC_LEVEL, AC_ENV */
	const char *def;		/* AC_STR default (NULL = none) */
	agent_conf_check_fn check;	/* AC_STR */
	const struct agent_conf_rule *sub;	/* AC_GROUP */
};

struct agent_conf_ctx {
	const char *path;
	FILE *errs;
	int nerr;
};

#define AC_AT(base, off, T)	((T *)(void *)((char *)(base) + (off)))

/* --- value syntax ------------------------------------------------------ */

/* host:port (host an IPv4 address or *) or [ipv6]:port, as acctd's listen */
static const char *
agent_conf_check_listen(const char *s)
{
	static const char bad[] =
	    "must be host:port with an ip address or * as host";
	char host[64];
	const char *end, *port;
	struct in6_addr a6;
	struct in_addr a4;
	size_t len;
	long v = 0;

	if (s[0] == '[') {
		if ((end = strchr(s, ']')) == NULL || end[1] != ':')
			return bad;
		len = (size_t)(end - s - 1);
		port = end + 2;
		if (len == 0 || len >= sizeof(host))
			return bad;
		memcpy(host, s + 1, len);
		host[len] = '\0';
		if (inet_pton(AF_INET6, host, &a6) != 1)
			return bad;
	} else {
		if ((end = strrchr(s, ':')) == NULL)
			return bad;
		len = (size_t)(end - s);
		port = end + 1;
		if (len == 0 || len >= sizeof(host))
			return bad;
		memcpy(host, s, len);
		host[len] = '\0';
		if (strcmp(host, "*") != 0 && inet_pton(AF_INET, host, &a4) != 1)
			return bad;
	}
	if (*port == '\0')
		return bad;
	for (; *port != '\0'; port++) {
		if (*port < '0' || *port > '9')
			return bad;
		if (v <= 65535)
			v = v * 10 + (*port - '0');
	}
	if (v < 1 || v > 65535)
		return "port must be between 1 and 65535";
	return NULL;
}

/* a portable environment variable name, and not one the agent sets */
static const char *
agent_conf_check_env_name(const char *s)
{
	static const char first[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz_";

	if (s[0] == '\0' || strchr(first, s[0]) == NULL)
		return "not a valid environment variable name";
	for (const char *p = s; *p != '\0'; p++)
		if (strchr(first, *p) == NULL && (*p < '0' || *p > '9'))
			return "not a valid environment variable name";
	if (strncmp(s, "ACCTD_", 6) == 0)
		return "reserved: the agent sets ACCTD_* itself";
	return NULL;
}

#define A struct agent_conf
#define R_STR(n, f, fl, chk, d) { .name = (n), .kind = AC_STR,		\
	.flags = (fl), .off = offsetof(A, f), .def = (d), .check = (chk) }

static const struct agent_conf_rule agent_conf_tls_rules[] = {
	R_STR("cert", tls_cert, AC_REQ | AC_ABS, NULL, NULL),
	R_STR("key", tls_key, AC_REQ | AC_ABS, NULL, NULL),
	{ .name = NULL }
};

static const struct agent_conf_rule agent_conf_rules[] = {
	R_STR("listen", listen, 0, agent_conf_check_listen, "127.0.0.1:9443"),
	{ .name = "tls", .kind = AC_GROUP, .flags = AC_REQ,
	    .sub = agent_conf_tls_rules },
	R_STR("acctd_cert", acctd_cert, AC_REQ | AC_ABS, NULL, NULL),
	R_STR("state_file", state_file, AC_REQ | AC_ABS, NULL, NULL),
	R_STR("hook", hook, AC_ABS, NULL, AGENT_HOOK_DEFAULT),
	{ .name = "hook_env", .kind = AC_ENV, .off = offsetof(A, hook_env) },
	{ .name = "log_level", .kind = AC_LEVEL, .off = offsetof(A, log_level) },
	R_STR("user", user, AC_EMPTY, NULL, "acctd"),
	{ .name = NULL }
};

#undef R_STR
#undef A

static const char *const agent_conf_levels[] = {
	"error", "warn", "info", "debug"
};

/* --- errors ------------------------------------------------------------ */

/* at: the setting, or its group when it is missing (root: line 1) */
static void
agent_conf_err(struct agent_conf_ctx *x, const config_setting_t *at,
    const char *name, const char *reason)
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
	fprintf(x->errs, "%s:%u: %s: %s\n", file, line, name, reason);
}

static char *
agent_conf_path(const char *parent, const char *name)
{
	return parent ? x_asprintf("%s.%s", parent, name) : x_strdup(name);
}

/* --- typed parse --------------------------------------------------------- */

static void
agent_conf_defaults(const struct agent_conf_rule *rules, void *base)
{
	const struct agent_conf_rule *r;

	for (r = rules; r->name != NULL; r++) {
		if (r->kind == AC_STR)
			*AC_AT(base, r->off, char *) = r->def ?
			    x_strdup(r->def) : NULL;
		else if (r->kind == AC_LEVEL)
			*AC_AT(base, r->off, enum log_level) = LOG_LEVEL_INFO;
		else if (r->kind == AC_GROUP)
			agent_conf_defaults(r->sub, base);
	}
}

static void
agent_conf_release(const struct agent_conf_rule *rules, void *base)
{
	const struct agent_conf_rule *r;

	for (r = rules; r->name != NULL; r++) {
		if (r->kind == AC_STR)
			free(*AC_AT(base, r->off, char *));
		else if (r->kind == AC_GROUP)
			agent_conf_release(r->sub, base);
	}
}

static void
agent_conf_string(struct agent_conf_ctx *x, const config_setting_t *s,
    const char *path, const struct agent_conf_rule *r, char **out)
{
	const char *v = NULL, *why = NULL;

	free(*out);
	*out = NULL;
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		why = "must be a string";
	else if (*(v = config_setting_get_string(s)) == '\0') {
		if (!(r->flags & AC_EMPTY))
			why = "must not be empty";
	} else if ((r->flags & AC_ABS) && v[0] != '/')
		why = "must be an absolute path";
	else if (r->check != NULL)
		why = r->check(v);
	if (why != NULL)
		agent_conf_err(x, s, path, why);
	else
		*out = x_strdup(v);
}

static void
agent_conf_level(struct agent_conf_ctx *x, const config_setting_t *s,
    const char *path, enum log_level *out)
{
	const char *v;
	size_t i;

	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		agent_conf_err(x, s, path, "must be a string");
		return;
	}
	v = config_setting_get_string(s);
	for (i = 0; i < sizeof(agent_conf_levels) / sizeof(*agent_conf_levels);
	    i++) {
		if (strcmp(v, agent_conf_levels[i]) == 0) {
			*out = (enum log_level)i;
			return;
		}
	}
	agent_conf_err(x, s, path, "must be one of error, warn, info, debug");
}

/* hook_env = { NAME = "value"; … } into "NAME=value" strings */
static void
agent_conf_env(struct agent_conf_ctx *x, const config_setting_t *g,
    const char *path, struct agent_conf *c)
{
	const config_setting_t *s;
	const char *name, *why;
	char *p;
	int i, n;

	if (!config_setting_is_group(g)) {
		agent_conf_err(x, g, path, "must be a group");
		return;
	}
	n = config_setting_length(g);
	c->hook_env = x_calloc((size_t)n + 1, sizeof(*c->hook_env));
	for (i = 0; i < n; i++) {
		s = config_setting_get_elem(g, (unsigned int)i);
		name = config_setting_name(s);
		p = agent_conf_path(path, name);
		if ((why = agent_conf_check_env_name(name)) != NULL)
			agent_conf_err(x, s, p, why);
		else if (config_setting_type(s) != CONFIG_TYPE_STRING)
			agent_conf_err(x, s, p, "must be a string");
		else
			c->hook_env[c->nhook_env++] = x_asprintf("%s=%s", name,
			    config_setting_get_string(s));
		free(p);
	}
}

static void
agent_conf_group(struct agent_conf_ctx *x, const config_setting_t *g,
    const char *path, const struct agent_conf_rule *rules,
    struct agent_conf *c)
{
	const struct agent_conf_rule *r;
	const config_setting_t *s;
	char *p;
	int i, n;

	n = config_setting_length(g);
	for (i = 0; i < n; i++) {
		s = config_setting_get_elem(g, (unsigned int)i);
		p = agent_conf_path(path, config_setting_name(s));
		for (r = rules; r->name != NULL; r++)
			if (strcmp(r->name, config_setting_name(s)) == 0)
				break;
		if (r->name == NULL)
			agent_conf_err(x, s, p, "unknown setting");
		else if (r->kind == AC_STR)
			agent_conf_string(x, s, p, r, AC_AT(c, r->off, char *));
		else if (r->kind == AC_LEVEL)
			agent_conf_level(x, s, p,
			    AC_AT(c, r->off, enum log_level));
		else if (r->kind == AC_ENV)
			agent_conf_env(x, s, p, c);
		else if (!config_setting_is_group(s))
			agent_conf_err(x, s, p, "must be a group");
		else
			agent_conf_group(x, s, p, r->sub, c);
		free(p);
	}
	for (r = rules; r->name != NULL; r++) {
		if (!(r->flags & AC_REQ) ||
		    config_setting_get_member(g, r->name) != NULL)
			continue;
		p = agent_conf_path(path, r->name);
		agent_conf_err(x, g, p, "required setting missing");
		free(p);
	}
}

/* --- life cycle ---------------------------------------------------------- */

/* fopen, refusing a directory (libconfig's scanner exit()s on EISDIR) */
static FILE *
agent_conf_open(const char *path)
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

int
agent_conf_load(const char *path, FILE *errs, struct agent_conf **out)
{
	struct agent_conf_ctx x = { .path = path, .errs = errs, .nerr = 0 };
	struct agent_conf *c = NULL;
	config_t cfg;
	FILE *fp;
	int rc = -1;

	*out = NULL;
	config_init(&cfg);
	config_set_auto_convert(&cfg, 0);
	if ((fp = agent_conf_open(path)) == NULL) {
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
	c = x_calloc(1, sizeof(*c));
	c->path = x_strdup(path);
	agent_conf_defaults(agent_conf_rules, c);
	agent_conf_group(&x, config_root_setting(&cfg), NULL, agent_conf_rules,
	    c);
	if (x.nerr > 0)
		goto fail;
	if (c->hook_env == NULL)
		c->hook_env = x_calloc(1, sizeof(*c->hook_env));
	*out = c;
	c = NULL;
	rc = 0;
fail:
	if (fp != NULL)
		fclose(fp);
	config_destroy(&cfg);
	agent_conf_free(c);
	return rc;
}

void
agent_conf_free(struct agent_conf *c)
{
	size_t i;

	if (c == NULL)
		return;
	free(c->path);
	agent_conf_release(agent_conf_rules, c);
	for (i = 0; i < c->nhook_env; i++)
		free(c->hook_env[i]);
	free(c->hook_env);
	free(c);
}

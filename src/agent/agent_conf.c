/*
 * agent_conf.c — acctd-agent's libconfig file (docs/agent.md): its table,
 * on cfg.c's rule engine (shared with acctd's conf.c, so the two files have
 * the same rules, wording and line numbers). One pass reports every error,
 * each one line "FILE:LINE: setting: reason"; unknown settings are errors;
 * a missing setting is reported at its group's line (1 at the top level);
 * LINE is 0 when the file cannot be read. The reasons cfg.c gives, and:
 *
 *   must be host:port with an ip address or * as host    (addr.c)
 *   port must be between 1 and 65535
 *   not a valid environment variable name
 *   reserved: the agent sets ACCTD_* itself
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

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

static const struct cfg_rule agent_conf_tls_rules[] = {
	CFG_STR(A, "cert", tls_cert, CFG_REQ | CFG_ABS, NULL, NULL),
	CFG_STR(A, "key", tls_key, CFG_REQ | CFG_ABS, NULL, NULL),
	CFG_END
};

static const struct cfg_rule agent_conf_rules[] = {
	CFG_STR(A, "listen", listen, 0, addr_listen_check, "127.0.0.1:9443"),
	CFG_GROUP("tls", CFG_REQ, agent_conf_tls_rules),
	CFG_STR(A, "acctd_cert", acctd_cert, CFG_REQ | CFG_ABS, NULL, NULL),
	CFG_STR(A, "state_file", state_file, CFG_REQ | CFG_ABS, NULL, NULL),
	CFG_STR(A, "hook", hook, CFG_ABS, NULL, AGENT_HOOK_DEFAULT),
	CFG_MAP(A, "hook_env", hook_env, nhook_env, agent_conf_check_env_name),
	CFG_LEVEL(A, "log_level", log_level, LOG_LEVEL_INFO),
	CFG_STR(A, "user", user, CFG_EMPTY, NULL, "acctd"),
	CFG_END
};

#undef A

int
agent_conf_load(const char *path, FILE *errs, struct agent_conf **out)
{
	struct agent_conf *c = x_calloc(1, sizeof(*c));

	*out = NULL;
	c->path = x_strdup(path);
	if (cfg_load(path, errs, agent_conf_rules, c, NULL) == -1) {
		agent_conf_free(c);
		return -1;
	}
	if (c->hook_env == NULL)	/* an empty environment to add to */
		c->hook_env = x_calloc(1, sizeof(*c->hook_env));
	*out = c;
	return 0;
}

void
agent_conf_free(struct agent_conf *c)
{
	if (c == NULL)
		return;
	free(c->path);
	cfg_release(agent_conf_rules, c);
	free(c);
}

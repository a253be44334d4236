/*
 * conf.c — acctd's libconfig file (docs/config.md). The rule
 * engine is cfg.c, shared with agent_conf.c and the only file that includes
 * libconfig.h; this file holds acctd's tables, the syntax of its values and
 * the cross-field checks. A new setting is one line in a
 * table here (plus config/acctd.conf, docs/config.md and its test).
 *
 * Every error is one line "FILE:LINE: setting: reason", in file order, then
 * each group's missing required settings, then the cross-field checks;
 * cfg.c lists the reasons the engine gives and how FILE and LINE are found.
 * The reasons added here (upper case words are filled in):
 *
 *   must be host:port with an ip address or * as host    (addr.c's wording)
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
 *   must be tcp://host:port or tls://host:port
 *   must be 1 to N printable ASCII characters without spaces
 *   required when audit.forward.url is tls://
 *   only used with a tls:// audit.forward.url
 *
 * conf_load_start() (a start and `acctd -t`) also checks what the file
 * names on this machine, with the same FILE:LINE: setting: prefix:
 *
 *   user "NAME" does not exist (in /etc/passwd)          (on user)
 *   PATH: No such file or directory / permission denied  (cred.c's words)
 *   PATH: is a certificate, not a private key
 *   PATH does not match tls.cert PATH
 *   required when nodes are set                          (on push.client_cert)
 *   host "H" is not an IP address and not in /etc/hosts (…)   (nodes[i].url,
 *                                                       audit.forward.url)
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acctd.h"

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

/* the host:port of a url (after its scheme): host an IP literal or a
 * lowercase DNS name; NULL, bad, or the port's reason */
static const char *
conf_url_hostport(const char *hp, const char *bad)
{
	struct addr a;
	int rc = addr_split(hp, &a);

	if (rc == ADDR_EFORM || (!a.v6 && !conf_dns_name(a.host)))
		return bad;
	if (rc == ADDR_EPORT)
		return "port must be between 1 and 65535";
	return NULL;
}

/* https://host:port */
static const char *
conf_check_url(const char *s)
{
	static const char bad[] = "must be https://host:port";

	return strncmp(s, "https://", 8) != 0 ? bad : conf_url_hostport(s + 8, bad);
}

/* audit.forward.url: tcp://host:port or tls://host:port (RFC 6587 / 5425) */
static const char *
conf_check_forward_url(const char *s)
{
	static const char bad[] = "must be tcp://host:port or tls://host:port";

	if (strncmp(s, "tcp://", 6) != 0 && strncmp(s, "tls://", 6) != 0)
		return bad;
	return conf_url_hostport(s + 6, bad);
}

/* RFC 5424's PRINTUSASCII (33-126), 1 to max characters */
static int
conf_printusascii(const char *s, size_t max)
{
	size_t n = strlen(s);

	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 33 || (unsigned char)s[i] > 126)
			return 0;
	return n >= 1 && n <= max;
}

static const char *
conf_check_syslog_host(const char *s)
{
	return conf_printusascii(s, 255) ? NULL :
	    "must be 1 to 255 printable ASCII characters without spaces";
}

static const char *
conf_check_app_name(const char *s)
{
	return conf_printusascii(s, 48) ? NULL :
	    "must be 1 to 48 printable ASCII characters without spaces";
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

#define C struct conf
#define N struct conf_node
#define W struct conf_workspace

static const struct cfg_rule conf_tls_rules[] = {
	CFG_STR(C, "cert", tls_cert, CFG_REQ | CFG_ABS, NULL, NULL),
	CFG_STR(C, "key", tls_key, CFG_REQ | CFG_ABS, NULL, NULL),
	CFG_END
};
/* the audit trail to a SIEM (forward.c); "" = off */
static const struct cfg_rule conf_forward_rules[] = {
	CFG_STR(C, "url", forward_url, CFG_EMPTY, conf_check_forward_url, ""),
	CFG_STR(C, "ca", forward_ca, CFG_ABS | CFG_EMPTY, NULL, ""),
	CFG_STR(C, "hostname", forward_hostname, CFG_EMPTY,
	    conf_check_syslog_host, ""),
	CFG_STR(C, "app_name", forward_app_name, 0, conf_check_app_name,
	    "acctd"),
	CFG_INT(C, "retry_max_seconds", forward_retry_max_seconds, 0, 1, 3600,
	    60),
	CFG_END
};
static const struct cfg_rule conf_audit_rules[] = {
	CFG_INT(C, "capacity", audit_capacity, 0, 100, 10000000, 100000),
	CFG_GROUP("forward", 0, conf_forward_rules),
	CFG_END
};
static const struct cfg_rule conf_tokens_rules[] = {
	CFG_INT(C, "max_per_user", tokens_max_per_user, 0, 1, 100, 2),
	CFG_END
};
static const struct cfg_rule conf_sessions_rules[] = {
	CFG_INT(C, "idle_timeout", sessions_idle_timeout, 0, 60, 86400, 1800),
	CFG_INT(C, "absolute_timeout", sessions_absolute_timeout, 0, 300,
	    2592000, 43200),
	CFG_END
};
/* 1000 lets tests sign in fast; below OWASP's 600000 is for tests only */
static const struct cfg_rule conf_passwords_rules[] = {
	CFG_INT(C, "pbkdf2_iterations", pbkdf2_iterations, 0, 1000, 10000000,
	    600000),
	/* scheduled database password rotation (rotate.c); 0 = off */
	CFG_INT(C, "rotate_every_days", passwords_rotate_every_days, 0, 0, 3650, 0),
	CFG_END
};
static const struct cfg_rule conf_login_rules[] = {
	CFG_INT(C, "max_failures", login_max_failures, 0, 1, 1000, 5),
	CFG_INT(C, "window", login_window, 0, 1, 86400, 300),
	CFG_INT(C, "lockout", login_lockout, 0, 1, 604800, 900),
	/* issue 15 part B: admins' console sessions reach only the
	 * two-factor enrolment until they have a second factor (api_totp.c) */
	CFG_BOOL(C, "require_2fa_for_admins", login_require_2fa_admins, 0),
	CFG_END
};
static const struct cfg_rule conf_admin_rules[] = {
	CFG_STR(C, "handle", admin_handle, 0, conf_check_user, "admin"),
	CFG_STR(C, "email", admin_email, 0, conf_check_email,
	    "admin@localhost"),
	/* default <data_dir>/admin.password, set after the parse */
	CFG_STR(C, "password_file", admin_password_file, CFG_ABS, NULL, NULL),
	CFG_END
};
static const struct cfg_rule conf_dns_rules[] = {
	CFG_STR(C, "domain", dns_domain, 0, conf_check_domain,
	    "ws.gateway.local"),
	CFG_STR(C, "hosts_file", dns_hosts_file, CFG_ABS, NULL,
	    "/run/acctd/workspaces.hosts"),
	CFG_STR(C, "reload_pidfile", dns_reload_pidfile, CFG_ABS | CFG_EMPTY,
	    NULL, ""),
	CFG_END
};
static const struct cfg_rule conf_push_rules[] = {
	CFG_STR(C, "client_cert", push_client_cert, CFG_ABS | CFG_EMPTY, NULL,
	    ""),
	CFG_STR(C, "client_key", push_client_key, CFG_ABS | CFG_EMPTY, NULL,
	    ""),
	CFG_INT(C, "retry_max_seconds", push_retry_max_seconds, 0, 1, 86400, 300),
	CFG_END
};
static const struct cfg_rule conf_http_rules[] = {
	CFG_INT(C, "threads", http_threads, 0, 2, 256, 32),
	CFG_INT(C, "keepalive_timeout_ms", http_keepalive_timeout_ms, 0, 0,
	    60000, 2000),
	CFG_INT(C, "request_timeout_ms", http_request_timeout_ms, 0, 1000,
	    120000, 10000),
	CFG_INT(C, "min_rate", http_min_rate, 0, 0, 1048576, 128),
	CFG_INT(C, "max_connections", http_max_connections, 0, 16, 16384, 512),
	CFG_INT(C, "max_connections_per_address", http_max_connections_per_address,
	    0, 1, 16384, 64),
	CFG_END
};
/* /metrics: a scraper's bearer token, by its SHA-256 (the file holds no
 * usable secret); "" = admins only */
static const struct cfg_rule conf_metrics_rules[] = {
	CFG_STR(C, "token_sha256", metrics_token_sha256, CFG_EMPTY,
	    conf_check_sha256, ""),
	CFG_END
};
static const struct cfg_rule conf_rate_rules[] = {
	CFG_INT(C, "writes_per_minute", rate_writes_per_minute, 0, 1, 60000, 60),
	CFG_INT(C, "writes_burst", rate_writes_burst, 0, 1, 10000, 30),
	CFG_END
};
static const struct cfg_rule conf_node_rules[] = {
	CFG_STR(N, "name", name, CFG_REQ, conf_check_node_name, NULL),
	CFG_STR(N, "url", url, CFG_REQ, conf_check_url, NULL),
	CFG_STR(N, "cert", cert, CFG_REQ | CFG_ABS, NULL, NULL),
	CFG_END
};
static const struct cfg_rule conf_workspace_rules[] = {
	CFG_STR(W, "handle", handle, CFG_REQ, conf_check_ws_handle, NULL),
	CFG_STR(W, "owner", owner, CFG_REQ, conf_check_user, NULL),
	CFG_STRS(W, "members", members, nmembers, 0, conf_check_user,
	    "duplicate member", NULL),
	CFG_STR(W, "node", node, CFG_REQ, NULL, NULL), /* checked against nodes */
	CFG_STR(W, "database", database, CFG_REQ, conf_check_database, NULL),
	CFG_INT(W, "port", port, CFG_REQ, 1, 65535, 0),
	CFG_END
};
static const struct cfg_rule conf_rules[] = {
	CFG_STRS(C, "listen", listen, nlisten, CFG_NONEMPTY, addr_listen_check,
	    "duplicate listen address", "127.0.0.1:8443"),
	CFG_GROUP("tls", CFG_REQ, conf_tls_rules),
	CFG_STR(C, "data_dir", data_dir, CFG_REQ | CFG_ABS, NULL, NULL),
	/* default <data_dir>/appliance.key, set after the parse */
	CFG_STR(C, "key_file", key_file, CFG_ABS, NULL, NULL),
	CFG_INT(C, "map_size_mb", map_size_mb, 0, 8, 65536, 256),
	CFG_STR(C, "user", user, CFG_EMPTY, NULL, "acctd"),
	CFG_LEVEL(C, "log_level", log_level, LOG_LEVEL_INFO),
	CFG_GROUP("audit", 0, conf_audit_rules),
	CFG_GROUP("tokens", 0, conf_tokens_rules),
	CFG_GROUP("sessions", 0, conf_sessions_rules),
	CFG_GROUP("passwords", 0, conf_passwords_rules),
	CFG_GROUP("login", 0, conf_login_rules),
	CFG_GROUP("bootstrap_admin", 0, conf_admin_rules),
	CFG_GROUP("dns", 0, conf_dns_rules),
	CFG_GROUP("push", 0, conf_push_rules),
	CFG_LIST(C, "nodes", nodes, nnodes, N, conf_node_rules),
	CFG_LIST(C, "workspaces", workspaces, nworkspaces, W,
	    conf_workspace_rules),
	CFG_GROUP("http", 0, conf_http_rules),
	CFG_GROUP("metrics", 0, conf_metrics_rules),
	CFG_GROUP("rate_limit", 0, conf_rate_rules),
	CFG_END
};

#undef C
#undef N
#undef W

/* --- cross-field checks ----------------------------------------------- */

static void
conf_check_sessions(struct cfg *x, const struct conf *c)
{
	if (c->sessions_idle_timeout < 0 || c->sessions_absolute_timeout < 0 ||
	    c->sessions_idle_timeout <= c->sessions_absolute_timeout)
		return;
	/* blame the one that was set; with both defaults this cannot fire */
	if (cfg_has(x, "sessions.idle_timeout"))
		cfg_err(x, "sessions.idle_timeout", "sessions.idle_timeout",
		    "must not exceed sessions.absolute_timeout");
	else
		cfg_err(x, "sessions.absolute_timeout",
		    "sessions.absolute_timeout",
		    "must not be less than sessions.idle_timeout");
}

static void
conf_check_push(struct cfg *x, const struct conf *c)
{
	const char *missing, *other;

	/* NULL: that one had its own error */
	if (c->push_client_cert == NULL || c->push_client_key == NULL ||
	    (*c->push_client_cert == '\0') == (*c->push_client_key == '\0'))
		return;
	missing = *c->push_client_cert ? "push.client_key" : "push.client_cert";
	other = *c->push_client_cert ? "push.client_cert" : "push.client_key";
	cfg_err(x, cfg_has(x, missing) ? missing : "push", missing, "required when %s is set", other);
}

/* a tls:// collector needs the CA to check it by; tcp:// has no use for one */
static void
conf_check_forward(struct cfg *x, const struct conf *c)
{
	int tls;

	if (c->forward_url == NULL || c->forward_ca == NULL ||
	    c->forward_url[0] == '\0')
		return;
	tls = strncmp(c->forward_url, "tls://", 6) == 0;
	if (tls && c->forward_ca[0] == '\0')
		cfg_err(x, cfg_has(x, "audit.forward.ca") ? "audit.forward.ca" :
		    "audit.forward", "audit.forward.ca",
		    "required when audit.forward.url is tls://");
	else if (!tls && c->forward_ca[0] != '\0')
		cfg_err(x, "audit.forward.ca", "audit.forward.ca",
		    "only used with a tls:// audit.forward.url");
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
conf_check_audit(struct cfg *x, const struct conf *c)
{
	const char *at;
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
	/* at capacity, else map_size_mb, else line 1 */
	at = cfg_has(x, "audit.capacity") ? "audit.capacity" : "map_size_mb";
	cfg_err(x, at, "audit.capacity", "%d records do not fit map_size_mb = "
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
conf_check_nodes(struct cfg *x, const struct conf *c)
{
	const struct conf_workspace *w, *v;
	size_t i, j;
	int nodes_ok = !cfg_has(x, "nodes") || cfg_is_list(x, "nodes");

	for (i = 0; i < c->nnodes; i++) {
		if (c->nodes[i].name == NULL) {
			nodes_ok = 0;	/* an unknown node may be this one */
			continue;
		}
		if (conf_node_find(c, c->nodes[i].name) == &c->nodes[i])
			continue;
		cfg_err_elem(x, "nodes", i, "name",
		    "duplicate node name \"%s\"", c->nodes[i].name);
	}
	for (i = 0; i < c->nworkspaces; i++) {
		w = &c->workspaces[i];
		/* the value is quoted only when it is a node name: a line
		 * break in it would forge a second error line */
		if (nodes_ok && w->node != NULL &&
		    conf_node_find(c, w->node) == NULL) {
			if (conf_check_node_name(w->node) != NULL)
				cfg_err_elem(x, "workspaces", i, "node",
				    "not a valid node name");
			else
				cfg_err_elem(x, "workspaces", i, "node",
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
			cfg_err_elem(x, "workspaces", i, "handle",
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

/* --- the files the settings name (a start and -t only) ---------------- */

static int conf_with_files;	/* set by conf_load_start, main thread */

/* cred.c's "NAME: reason" as cfg_err's reason for setting name */
static void
conf_cred_err(struct cfg *x, const char *path, const char *name,
    const char *err)
{
	size_t n = strlen(name);

	if (strncmp(err, name, n) == 0 && strncmp(err + n, ": ", 2) == 0)
		err += n + 2;
	cfg_err(x, path, name, "%s", err);
}

static void
conf_check_pair(struct cfg *x, const char *cert, const char *key,
    const char *cert_name, const char *key_name)
{
	struct cred *cr;
	char err[512];

	if (cred_load(cert, key, cert_name, key_name, &cr, err,
	    sizeof(err)) == -1) {
		const char *name = strncmp(err, key_name, strlen(key_name)) == 0 ?
		    key_name : cert_name;

		conf_cred_err(x, name, name, err);
		return;
	}
	cred_unref(cr);
}

/* a node's host must resolve the way push_tls.c connects (addr_resolve) */
static void
conf_check_node_host(struct cfg *x, const struct conf *c, size_t i)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct addr a;
	const char *url = c->nodes[i].url;

	if (url == NULL || strncmp(url, "https://", 8) != 0 ||
	    addr_split(url + 8, &a) != 0)
		return;		/* conf_check_url said */
	if (addr_resolve(a.host, a.port, &ss, &len, 1) == 0)
		cfg_err_elem(x, "nodes", i, "url", "host \"%s\" is not an IP "
		    "address and not in /etc/hosts (acctd resolves node names "
		    "without NSS or DNS)", a.host);
}

/* the SIEM collector: its host resolves as forward_conn.c connects
 * (push_tls_connect), and its CA file reads as a certificate */
static void
conf_check_forward_files(struct cfg *x, const struct conf *c)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct cred *cr;
	struct addr a;
	char err[512];

	if (c->forward_url == NULL || c->forward_url[0] == '\0' ||
	    addr_split(c->forward_url + 6, &a) != 0)
		return;		/* off, or conf_check_forward_url said */
	if (addr_resolve(a.host, a.port, &ss, &len, 1) == 0)
		cfg_err(x, "audit.forward.url", "audit.forward.url", "host \"%s\" "
		    "is not an IP address and not in /etc/hosts (acctd resolves "
		    "host names without NSS or DNS)", a.host);
	if (c->forward_ca == NULL || c->forward_ca[0] == '\0' ||
	    strncmp(c->forward_url, "tls://", 6) != 0)
		return;		/* none, or conf_check_forward said */
	if (cred_load(c->forward_ca, NULL, "audit.forward.ca", NULL, &cr, err,
	    sizeof(err)) == -1)
		cfg_err(x, "audit.forward.ca", "audit.forward.ca", "%s",
		    err + strlen("audit.forward.ca: "));
	cred_unref(cr);
}

static void
conf_check_files(struct cfg *x, const struct conf *c)
{
	struct cred *cr;
	char err[512], name[48];

	if (c->user != NULL && c->user[0] != '\0' && priv_getpw(c->user) == NULL)
		cfg_err(x, "user", "user", "user \"%s\" does not exist (in /etc/passwd)",
		    c->user);
	if (c->tls_cert != NULL && c->tls_key != NULL)
		conf_check_pair(x, c->tls_cert, c->tls_key, "tls.cert", "tls.key");
	if (c->push_client_cert != NULL && c->push_client_key != NULL &&
	    c->push_client_cert[0] != '\0' && c->push_client_key[0] != '\0')
		conf_check_pair(x, c->push_client_cert, c->push_client_key,
		    "push.client_cert", "push.client_key");
	else if (c->nnodes > 0 && c->push_client_cert != NULL &&
	    c->push_client_key != NULL && c->push_client_cert[0] == '\0' &&
	    c->push_client_key[0] == '\0')
		cfg_err(x, "nodes", "push.client_cert",
		    "required when nodes are set");
	for (size_t i = 0; i < c->nnodes; i++) {
		conf_check_node_host(x, c, i);
		if (c->nodes[i].cert == NULL)
			continue;
		snprintf(name, sizeof(name), "nodes[%zu].cert", i);
		if (cred_load(c->nodes[i].cert, NULL, name, NULL, &cr, err,
		    sizeof(err)) == -1)
			cfg_err_elem(x, "nodes", i, "cert", "%s",
			    err + strlen(name) + 2);
		cred_unref(cr);
	}
	conf_check_forward_files(x, c);
}

/* --- life cycle ------------------------------------------------------ */

static void
conf_check(struct cfg *x, const void *base)
{
	const struct conf *c = base;

	conf_check_sessions(x, c);
	conf_check_push(x, c);
	conf_check_nodes(x, c);
	conf_check_audit(x, c);
	conf_check_forward(x, c);
	if (conf_with_files)
		conf_check_files(x, c);
}

int
conf_load_start(const char *path, FILE *errs, struct conf **out)
{
	int rc;

	conf_with_files = 1;
	rc = conf_load(path, errs, out);
	conf_with_files = 0;
	return rc;
}

int
conf_load(const char *path, FILE *errs, struct conf **out)
{
	struct conf *c = x_calloc(1, sizeof(*c));

	*out = NULL;
	c->path = x_strdup(path);
	if (cfg_load(path, errs, conf_rules, c, conf_check) == -1) {
		conf_free(c);
		return -1;
	}
	if (c->key_file == NULL)
		c->key_file = conf_join(c->data_dir, "appliance.key");
	if (c->admin_password_file == NULL)
		c->admin_password_file = conf_join(c->data_dir,
		    "admin.password");
	*out = c;
	return 0;
}

void
conf_free(struct conf *c)
{
	if (c == NULL)
		return;
	free(c->path);
	cfg_release(conf_rules, c);
	free(c);
}

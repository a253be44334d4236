/*
 * acctd-cli — a user's command line client of acctd (docs/api.md):
 *
 *   acctd-cli [--ca FILE] workspaces
 *   acctd-cli [--ca FILE] psql WORKSPACE [psql arguments…]
 *   acctd-cli [--ca FILE] token list | create [--title T] [--scope S]
 *             [--expires TIME] | delete ID
 *   acctd-cli [--ca FILE] password rotate
 *
 * ACCTD_URL (https://host[:port]), ACCTD_TOKEN (an API token: a `connect`
 * one is enough for workspaces and psql) and ACCTD_CA or --ca (the
 * server's pinned certificate) say where and who. Any failure is one line
 * on stderr naming what failed, and exit status 1.
 *
 * psql gets the connection through libpq's environment (PGHOST, PGPORT,
 * PGDATABASE, PGUSER, PGPASSWORD), never its arguments: a process's
 * arguments are readable by every local user (ps), its environment only by
 * the same user.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define CLI_PATH_MAX 512

static struct cli_target cli;

static void
cli_usage(FILE *f)
{
	fprintf(f, "usage: acctd-cli [--ca FILE] COMMAND\n"
	    "  workspaces                     the workspaces you may use\n"
	    "  psql WORKSPACE [ARGS...]       run psql on a workspace (password via PGPASSWORD)\n"
	    "  token list                     your API tokens\n"
	    "  token create [--title T] [--scope full|read|connect] [--expires RFC3339]\n"
	    "                                 a new token, printed once\n"
	    "  token delete ID                delete a token\n"
	    "  password rotate                rotate your database password\n"
	    "environment: ACCTD_URL (https://host[:port]), ACCTD_TOKEN (spt_...),\n"
	    "  ACCTD_CA (the server's certificate, PEM; or --ca FILE)\n");
}

static void ACCTD_PRINTF(1, 2) ACCTD_NORETURN
cli_die(const char *fmt, ...)
{
	va_list ap;

	fputs("acctd-cli: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* a request that must answer `want`; anything else ends the program with
 * the problem's detail. Caller frees the answer (NULL for a 204). */
static struct json *
cli_call(const char *method, const char *path, const char *body, int want)
{
	struct json *j = NULL;
	const char *detail;
	char err[300];
	int status = 0;

	if (cli_http_request(&cli, method, path, body, &status, &j, err, sizeof(err)) == -1)
		cli_die("%s %s: %s", method, path, err);
	if (status == want)
		return j;
	detail = json_str(json_get(j, "detail"));
	fprintf(stderr, "acctd-cli: %s %s: HTTP %d: %s\n", method, path, status,
	    detail ? detail : "(no detail)");
	json_free(j);
	exit(1);
}

/* the handle the token belongs to, into h */
static void
cli_actor(char *h, size_t hlen)
{
	struct json *j = cli_call("GET", "/api/v0/actor", NULL, 200);
	const char *s = json_str(json_get(j, "handle"));

	if (s == NULL || strlen(s) >= hlen || strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "0123456789-_.") != strlen(s))
		cli_die("GET /api/v0/actor: the answer has no valid handle");
	snprintf(h, hlen, "%s", s);
	json_free(j);
}

static const char *
cli_s(const struct json *o, const char *k)
{
	const char *s = json_str(json_get(o, k));

	return s ? s : "-";
}

static int
cli_workspaces(void)
{
	char h[128], path[CLI_PATH_MAX];
	struct json *j, *it = NULL, *items;
	int64_t port;

	cli_actor(h, sizeof(h));
	snprintf(path, sizeof(path), "/api/v0/user/%s/workspace", h);
	j = cli_call("GET", path, NULL, 200);
	items = json_get(j, "items");
	printf("%-20s %-8s %-40s %-6s %-16s %s\n", "WORKSPACE", "ROLE", "HOST", "PORT",
	    "DATABASE", "NODE");
	while ((it = json_item_next(items, it)) != NULL) {
		if (json_int(json_get(it, "port"), &port) == -1)
			port = 0;
		printf("%-20s %-8s %-40s %-6lld %-16s %s\n", cli_s(it, "handle"),
		    cli_s(it, "role"), cli_s(it, "host"), (long long)port,
		    cli_s(it, "database"), cli_s(it, "node"));
	}
	json_free(j);
	return 0;
}

/* %XX decoding of a URI's user or password part, in place: 0 / -1 */
static int
cli_unescape(char *s)
{
	char *o = s;

	for (; *s; s++) {
		unsigned v;

		if (*s != '%') {
			*o++ = *s;
			continue;
		}
		if (sscanf(s + 1, "%2x", &v) != 1 || v == 0)
			return -1;
		*o++ = (char)v;
		s += 2;
	}
	*o = '\0';
	return 0;
}

/* user and password of "postgresql://user:password@host:port/db" */
static int
cli_conn_userinfo(const char *cs, char *user, size_t ul, char *pw, size_t pl)
{
	const char *p = strstr(cs ? cs : "", "://"), *at, *colon;

	if (p == NULL || (at = strchr(p + 3, '@')) == NULL)
		return -1;
	p += 3;
	colon = memchr(p, ':', (size_t)(at - p));
	if (colon == NULL || (size_t)(colon - p) >= ul || (size_t)(at - colon - 1) >= pl)
		return -1;
	snprintf(user, ul, "%.*s", (int)(colon - p), p);
	snprintf(pw, pl, "%.*s", (int)(at - colon - 1), colon + 1);
	return cli_unescape(user) == -1 || cli_unescape(pw) == -1 ? -1 : 0;
}

/* libpq's environment for workspace w (its password included) */
static void
cli_psql_env(const struct json *w, const char *ws)
{
	char user[128], pw[256], port[24];
	int64_t p;

	if (cli_conn_userinfo(json_str(json_get(w, "connection_string")), user, sizeof(user),
	    pw, sizeof(pw)) == -1 || json_int(json_get(w, "port"), &p) == -1 ||
	    json_str(json_get(w, "host")) == NULL || json_str(json_get(w, "database")) == NULL)
		cli_die("workspace %s: the answer has no usable connection string", ws);
	snprintf(port, sizeof(port), "%lld", (long long)p);
	if (setenv("PGHOST", json_str(json_get(w, "host")), 1) == -1 ||
	    setenv("PGPORT", port, 1) == -1 ||
	    setenv("PGDATABASE", json_str(json_get(w, "database")), 1) == -1 ||
	    setenv("PGUSER", user, 1) == -1 || setenv("PGPASSWORD", pw, 1) == -1)
		cli_die("psql: cannot set its environment");
	crypto_wipe(pw, sizeof(pw));
}

static int
cli_psql(int argc, char **argv)
{
	char h[128], path[CLI_PATH_MAX];
	struct json *j, *it = NULL;
	char **args;

	if (argc < 1)
		cli_die("psql: which workspace? (acctd-cli workspaces lists them)");
	cli_actor(h, sizeof(h));
	snprintf(path, sizeof(path), "/api/v0/user/%s/workspace?reveal=1", h);
	j = cli_call("GET", path, NULL, 200);
	while ((it = json_item_next(json_get(j, "items"), it)) != NULL)
		if (strcmp(cli_s(it, "handle"), argv[0]) == 0)
			break;
	if (it == NULL)
		cli_die("psql: no workspace %s among yours (acctd-cli workspaces lists them)",
		    argv[0]);
	cli_psql_env(it, argv[0]);
	json_free(j);
	unsetenv("ACCTD_TOKEN");     /* psql needs the database password, not the API token */
	args = x_calloc((size_t)argc + 1, sizeof(*args));
	args[0] = "psql";
	for (int i = 1; i < argc; i++)
		args[i] = argv[i];
	execvp("psql", args);
	unsetenv("PGPASSWORD");
	cli_die("psql: cannot run it: %s (is PostgreSQL's client installed?)", strerror(errno));
}

static int
cli_token_list(const char *h)
{
	char path[CLI_PATH_MAX];
	struct json *j, *it = NULL;

	snprintf(path, sizeof(path), "/api/v0/user/%s/token", h);
	j = cli_call("GET", path, NULL, 200);
	printf("%-22s %-8s %-9s %-5s %-21s %s\n", "ID", "SCOPE", "STATUS", "LAST4", "EXPIRES",
	    "TITLE");
	while ((it = json_item_next(json_get(j, "items"), it)) != NULL)
		printf("%-22s %-8s %-9s %-5s %-21s %s\n", cli_s(it, "id"), cli_s(it, "scope"),
		    cli_s(it, "status"), cli_s(it, "last4"), cli_s(it, "expires_at"),
		    cli_s(it, "title"));
	json_free(j);
	return 0;
}

static int
cli_token_create(const char *h, int argc, char **argv)
{
	struct json *b = json_object(), *j;
	char path[CLI_PATH_MAX], *body;
	const char *tok;

	for (int i = 0; i < argc; i += 2) {
		const char *k = strcmp(argv[i], "--title") == 0 ? "title" :
		    strcmp(argv[i], "--scope") == 0 ? "scope" :
		    strcmp(argv[i], "--expires") == 0 ? "expires_at" : NULL;

		if (k == NULL || i + 1 >= argc)
			cli_die("token create: expected --title T, --scope S or --expires TIME, "
			    "not %s", argv[i]);
		json_set_str(b, k, argv[i + 1]);
	}
	body = json_print(b);
	json_free(b);
	snprintf(path, sizeof(path), "/api/v0/user/%s/token", h);
	j = cli_call("POST", path, body, 201);
	free(body);
	if ((tok = json_str(json_get(j, "token"))) == NULL)
		cli_die("POST %s: the answer holds no token", path);
	fprintf(stderr, "token %s (scope %s) created; it is shown only now:\n",
	    cli_s(j, "id"), cli_s(j, "scope"));
	printf("%s\n", tok);
	json_free(j);
	return 0;
}

static int
cli_token(int argc, char **argv)
{
	char h[128], path[CLI_PATH_MAX];

	if (argc < 1 || (strcmp(argv[0], "list") && strcmp(argv[0], "create") &&
	    strcmp(argv[0], "delete")))
		cli_die("token: expected list, create or delete");
	if (strcmp(argv[0], "delete") == 0 && (argc != 2 || strchr(argv[1], '/') ||
	    strchr(argv[1], '?')))
		cli_die("token delete: expected one token id (acctd-cli token list)");
	cli_actor(h, sizeof(h));
	if (strcmp(argv[0], "list") == 0)
		return cli_token_list(h);
	if (strcmp(argv[0], "create") == 0)
		return cli_token_create(h, argc - 1, argv + 1);
	snprintf(path, sizeof(path), "/api/v0/user/%s/token/%s", h, argv[1]);
	json_free(cli_call("DELETE", path, NULL, 204));
	printf("token %s deleted\n", argv[1]);
	return 0;
}

static int
cli_password(int argc, char **argv)
{
	char h[128], path[CLI_PATH_MAX];
	struct json *j;
	int64_t v = 0;

	if (argc != 1 || strcmp(argv[0], "rotate") != 0)
		cli_die("password: expected rotate");
	cli_actor(h, sizeof(h));
	snprintf(path, sizeof(path), "/api/v0/user/%s/password", h);
	j = cli_call("POST", path, NULL, 200);
	json_int(json_get(j, "version"), &v);
	printf("database password rotated: version %lld (acctd-cli psql uses the new one)\n",
	    (long long)v);
	json_free(j);
	return 0;
}

/* ACCTD_URL, ACCTD_TOKEN, ACCTD_CA / --ca into cli */
static void
cli_target_env(const char *ca)
{
	char err[160];

	if (cli_http_url(getenv("ACCTD_URL"), &cli, err, sizeof(err)) == -1)
		cli_die("%s", getenv("ACCTD_URL") ? err : "ACCTD_URL is not set");
	cli.token = getenv("ACCTD_TOKEN");
	if (cli.token == NULL || cli.token[0] == '\0')
		cli_die("ACCTD_TOKEN is not set (create a token on the page, Settings -> Tokens)");
	if (strpbrk(cli.token, "\r\n") != NULL)
		cli_die("ACCTD_TOKEN holds a line break");
	cli.ca = ca ? ca : getenv("ACCTD_CA");
	if (cli.ca == NULL || cli.ca[0] == '\0')
		cli_die("no pinned certificate: set ACCTD_CA or give --ca FILE");
	if (access(cli.ca, R_OK) == -1)
		cli_die("%s: %s", cli.ca, strerror(errno));
	if (crypto_init() == -1)
		cli_die("no randomness from the operating system");
}

int
main(int argc, char **argv)
{
	const char *ca = NULL;
	int i = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			cli_usage(stdout);
			return 0;
		}
		if (strcmp(argv[i], "--ca") != 0 || i + 1 >= argc) {
			cli_usage(stderr);
			cli_die("unknown option %s", argv[i]);
		}
		ca = argv[++i];
	}
	if (i >= argc) {
		cli_usage(stderr);
		return 1;
	}
	if (strcmp(argv[i], "workspaces") && strcmp(argv[i], "psql") &&
	    strcmp(argv[i], "token") && strcmp(argv[i], "password"))
		cli_die("unknown command %s (acctd-cli -h)", argv[i]);
	cli_target_env(ca);
	if (strcmp(argv[i], "workspaces") == 0)
		return cli_workspaces();
	if (strcmp(argv[i], "psql") == 0)
		return cli_psql(argc - i - 1, argv + i + 1);
	if (strcmp(argv[i], "token") == 0)
		return cli_token(argc - i - 1, argv + i + 1);
	return cli_password(argc - i - 1, argv + i + 1);
}

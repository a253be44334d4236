/*
 * acctd-agent: start-up and signals (docs/agent.md).
 *
 *   acctd-agent -c FILE [-d] [-s]   run in the foreground (-d debug, -s syslog)
 *   acctd-agent -t -c FILE          check FILE: every error as FILE:LINE: setting: reason
 *   acctd-agent -V                  version
 *
 * Start-up order: check the config; as root, read the TLS key and
 * certificates (once: only agent_conn.c's poll thread runs handshakes),
 * bind the listen address, make the state file's directory, and drop to
 * `user` (failure is fatal); then, as that user, load the state file and
 * check the hook. Only then "acctd-agent: ready on HOST:PORT".
 *
 * Connections are agent_conn.c's: one poll thread accepts and runs the
 * handshakes without blocking, AGENT_WORKERS threads serve the requests of
 * connections that proved to be acctd, so silent or slow clients cost a
 * descriptor each, not a thread. Changes are applied one at a time
 * (agent_state_apply holds a lock around hook and save). SIGTERM/SIGINT
 * stop accepting, cut requests still being read, let those being applied
 * finish and answer (the hook has 30 s), and exit 0. SIGHUP is logged and
 * otherwise ignored: restart to read a changed config.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"

static int agent_listen_fd = -1;
static struct agent_state *agent_st;
static struct agent_hook agent_hk;

static void
agent_usage(void)
{
	fprintf(stderr, "usage: acctd-agent -c FILE [-d] [-s]\n"
	    "       acctd-agent -t -c FILE\n"
	    "       acctd-agent -V\n");
	exit(2);
}

/* As root: the state file's directory exists (made 0700 for pw if not). */
static void
agent_prepare_state_dir(const char *state_file, const struct passwd *pw)
{
	const char *slash = strrchr(state_file, '/');
	char *dir;

	if (slash == NULL || slash == state_file)
		return;
	dir = x_asprintf("%.*s", (int)(slash - state_file), state_file);
	if (mkdir(dir, 0700) == 0) {
		if (pw != NULL && chown(dir, pw->pw_uid, pw->pw_gid) == -1)
			fatal("chown %s", dir);
	} else if (errno != EEXIST)
		fatal("state_file: cannot create %s", dir);
	free(dir);
}

/* listen is checked by agent_conf: host:port, *:port or [v6]:port */
static int
agent_bind(const char *listen_addr)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	char host[64];
	const char *colon = strrchr(listen_addr, ':');
	size_t hl = (size_t)(colon - listen_addr);
	socklen_t sl;
	int fd, on = 1;
	long port = strtol(colon + 1, NULL, 10);

	memset(&ss, 0, sizeof(ss));
	if (listen_addr[0] == '[') {
		snprintf(host, sizeof(host), "%.*s", (int)hl - 2, listen_addr + 1);
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			fatalx("listen: %s: bad address", listen_addr);
		sl = sizeof(*s6);
	} else {
		snprintf(host, sizeof(host), "%.*s", (int)hl, listen_addr);
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		if (strcmp(host, "*") == 0)
			s4->sin_addr.s_addr = htonl(INADDR_ANY);
		else if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			fatalx("listen: %s: bad address", listen_addr);
		sl = sizeof(*s4);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		fatal("listen: socket");
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		fatal("listen: SO_REUSEADDR");
	if (bind(fd, (struct sockaddr *)&ss, sl) == -1)
		fatal("listen: cannot bind %s", listen_addr);
	if (listen(fd, SOMAXCONN) == -1)   /* the poll loop drains it */
		fatal("listen: %s", listen_addr);
	return fd;
}

int
main(int argc, char *argv[])
{
	struct agent_tls *tls;
	struct agent_conf *c;
	struct passwd *pw = NULL;
	const char *path = NULL;
	int ch, check = 0, debug = 0, use_syslog = 0, sig;
	char err[512];
	sigset_t set;

	while ((ch = getopt(argc, argv, "c:dstV")) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'd': debug = 1; break;
		case 's': use_syslog = 1; break;
		case 't': check = 1; break;
		case 'V':
			printf("acctd-agent %s\n", ACCTD_VERSION);
			return 0;
		default: agent_usage();
		}
	}
	if (path == NULL || optind != argc)
		agent_usage();
	if (agent_conf_load(path, stderr, &c) == -1)
		return 1;
	if (check) {
		printf("ok\n");
		agent_conf_free(c);
		return 0;
	}
	log_init("acctd-agent", !use_syslog, debug ? LOG_LEVEL_DEBUG :
	    c->log_level);

	/* every thread inherits this mask; main takes signals with sigwait */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (crypto_init() == -1)
		fatalx("no entropy source: refusing to start");
	if (geteuid() == 0 && c->user[0] != '\0') {
		if ((pw = priv_getpw(c->user)) == NULL)
			fatalx("user \"%s\" does not exist (config: user)",
			    c->user);
	} else if (geteuid() == 0)
		log_warnx("running as root: set `user` to drop privileges");

	if (agent_tls_new(c, &tls, err, sizeof(err)) == -1)
		fatalx("%s", err);
	agent_listen_fd = agent_bind(c->listen);
	agent_prepare_state_dir(c->state_file, pw);
	if (pw != NULL)
		priv_drop(pw);

	if (agent_state_open(c->state_file, &agent_st, err, sizeof(err)) == -1)
		fatalx("state_file: %s", err);
	if (access(c->hook, X_OK) == -1)
		fatal("hook: %s", c->hook);
	agent_hk.path = c->hook;
	agent_hk.env = c->hook_env;
	agent_hk.timeout_ms = AGENT_HOOK_TIMEOUT_MS;
	log_info("state: %zu user ids from %s", agent_state_count(agent_st),
	    c->state_file);

	if (agent_conn_start(agent_listen_fd, tls, agent_st, agent_hook_run,
	    &agent_hk, err, sizeof(err)) == -1)
		fatalx("%s", err);
	log_notice("ready on %s", c->listen);

	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			log_info("SIGHUP ignored: restart acctd-agent to read "
			    "a changed config");
			continue;
		}
		break;
	}
	log_notice("stopping (signal %d)", sig);
	agent_conn_stop();
	agent_tls_free(tls);
	close(agent_listen_fd);
	agent_state_free(agent_st);
	crypto_shutdown();
	agent_conf_free(c);
	log_notice("stopped");
	return 0;
}

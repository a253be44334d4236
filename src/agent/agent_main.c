/*
 * acctd-agent: start-up and signals (docs/agent.md); the command line,
 * logging, signal mask and the user to run as are daemon.c's, as acctd's.
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
 * finish and answer (the hook has 30 s), and exit 0. SIGHUP reads the
 * certificates and the key again (agent_reload); other config changes
 * need a restart.
 */
#include <errno.h>
#include <grp.h>
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
	socklen_t sl;
	int fd, on = 1;

	if (addr_listen_sockaddr(listen_addr, &ss, &sl) == -1)
		fatalx("listen: %s: bad address", listen_addr);
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

/*
 * SIGHUP: tls.cert, tls.key and acctd_cert read again (as the agent's user:
 * the key must be readable by it), for the connections accepted from now
 * on; the config file itself is read at start only. A bad file is logged
 * and the running certificates stay.
 */
static void
agent_reload(const struct agent_conf *c)
{
	struct agent_tls *t;
	char err[512];

	if (agent_tls_new(c, &t, err, sizeof(err)) == -1) {
		log_warnx("reload: %s; keeping the running certificates%s", err,
		    strstr(err, "permission denied") ? " (the key must be "
		    "readable by the agent's user for a reload: chown it)" : "");
		return;
	}
	log_info("reload: tls.cert %s and acctd_cert %s loaded", c->tls_cert,
	    c->acctd_cert);
	agent_conn_set_tls(t);
}

int
main(int argc, char *argv[])
{
	struct agent_tls *tls;
	struct agent_conf *c;
	struct daemon d;
	char err[512];
	int sig;

	daemon_args(&d, "acctd-agent", argc, argv);
	if (agent_conf_load(d.path, stderr, &c) == -1)
		return 1;
	if (d.check) {
		/* the files too, as a start reads them */
		if (agent_tls_new(c, &tls, err, sizeof(err)) == -1) {
			fprintf(stderr, "%s: %s\n", d.path, err);
			agent_conf_free(c);
			return 1;
		}
		agent_tls_free(tls);
		printf("ok\n");
		agent_conf_free(c);
		return 0;
	}
	/* main takes the signals with sigwait */
	daemon_start(&d, c->log_level, c->user);

	if (agent_tls_new(c, &tls, err, sizeof(err)) == -1)
		fatalx("%s", err);
	agent_listen_fd = agent_bind(c->listen);
	agent_prepare_state_dir(c->state_file, d.pw);
	if (d.pw != NULL)
		priv_drop(d.pw);

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
		if (sigwait(&d.signals, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			agent_reload(c);
			continue;
		}
		break;
	}
	log_notice("stopping (signal %d)", sig);
	agent_conn_stop();
	close(agent_listen_fd);
	agent_state_free(agent_st);
	crypto_shutdown();
	agent_conf_free(c);
	log_notice("stopped");
	return 0;
}

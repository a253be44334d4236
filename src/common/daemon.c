/*
 * daemon.c — the start-up both programs share. acctd and acctd-agent take
 * the same command line, log the same way, block the same signals and pick
 * the user to drop to by the same rules (README "Running acctd",
 * docs/agent.md); two copies of that sequence had already begun to differ
 * in detail. What each binds, opens and serves stays in its own main().
 */
#include <pwd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

/* the usage (more: the program's other command lines, or NULL); -h prints
 * it on stdout and exits 0, a mistake on stderr and exits 2 */
static void
daemon_usage(const char *prog, const char *more, int asked)
{
	FILE *f = asked ? stdout : stderr;

	fprintf(f, "usage: %s -c FILE [-d] [-s]\n"
	    "       %s -t -c FILE\n"
	    "       %s -V\n", prog, prog, prog);
	if (more != NULL)
		fputs(more, f);
	fprintf(f, "(-d: debug log, -s: syslog, -t: check the config and the files it "
	    "names; man %s)\n", prog);
	exit(asked ? 0 : 2);
}

void
daemon_args(struct daemon *d, const char *prog, const char *more, int argc,
    char *argv[])
{
	int ch;

	memset(d, 0, sizeof(*d));
	d->prog = prog;
	while ((ch = getopt(argc, argv, "c:dhstV")) != -1) {
		switch (ch) {
		case 'c': d->path = optarg; break;
		case 'd': d->debug = 1; break;
		case 'h': daemon_usage(prog, more, 1); break;
		case 's': d->use_syslog = 1; break;
		case 't': d->check = 1; break;
		case 'V':
			printf("%s %s\n", prog, ACCTD_VERSION);
			exit(0);
		default: daemon_usage(prog, more, 0);
		}
	}
	if (d->path == NULL || optind != argc)
		daemon_usage(prog, more, 0);
}

void
daemon_start(struct daemon *d, enum log_level level, const char *user)
{
	log_init(d->prog, !d->use_syslog, d->debug ? LOG_LEVEL_DEBUG : level);

	/* every thread inherits this mask; main takes the signals itself */
	sigemptyset(&d->signals);
	sigaddset(&d->signals, SIGTERM);
	sigaddset(&d->signals, SIGINT);
	sigaddset(&d->signals, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &d->signals, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (crypto_init() == -1)
		fatalx("no entropy source: refusing to start");
	d->pw = NULL;
	if (geteuid() == 0 && user[0] != '\0') {
		if ((d->pw = priv_getpw(user)) == NULL)
			fatalx("user \"%s\" does not exist (config: user)", user);
	} else if (geteuid() == 0)
		log_warnx("running as root: set `user` to drop privileges");
}

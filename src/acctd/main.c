/*
 * acctd: start-up, signals, privilege drop, shutdown (the command line,
 * logging, signal mask and the user to run as: daemon.c, shared with
 * acctd-agent).
 *
 *   acctd -c FILE [-d] [-s]   run in the foreground (-d debug, -s syslog)
 *   acctd -t -c FILE          check FILE: every error as FILE:LINE: setting: reason
 *   acctd -V                  version
 *   acctd import|backup|restore -c FILE …   import.c, backup.c, restore.c
 *
 * Start-up order: check the config; as root, start the HTTPS server (it binds
 * the ports and reads the TLS key, which may be root-only) and drop to `user`;
 * then open the appliance key and the store as that user. The server answers
 * 503 until everything is open, then the daemon logs "acctd: ready on …" and
 * tells systemd (sd_notify READY=1).
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "acctd.h"

#define MAIN_HEAD_EVERY 3600     /* s between audit head log lines */

/* sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET */
static void
main_notify(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	size_t len;
	int fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@'))
		return;
	len = strlen(path);
	if (len >= sizeof(sa.sun_path))
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, len);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';   /* abstract namespace */
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return;
	if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) == -1)
		log_warn("sd_notify");
	close(fd);
}

/* As root: make data_dir exist and belong to pw, so the store can live there. */
static void
main_prepare_data_dir(const char *dir, const struct passwd *pw)
{
	struct stat st;

	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		fatal("%s", dir);
	if (stat(dir, &st) == -1)
		fatal("%s", dir);
	if (!S_ISDIR(st.st_mode))
		fatalx("%s: not a directory", dir);
	if (pw != NULL && st.st_uid != pw->pw_uid &&
	    chown(dir, pw->pw_uid, pw->pw_gid) == -1)
		fatal("chown %s", dir);
}

static void
main_bootstrap(const struct conf *c)
{
	char pw[128], err[256];
	int created, need;

	need = account_bootstrap_needed();
	if (need == -1)
		fatalx("cannot read the store");
	if (need == 0)
		return;
	if (bootstrap_password(c->admin_password_file, pw, sizeof(pw), &created,
	    err, sizeof(err)) == -1)
		fatalx("bootstrap_admin: %s", err);
	if (account_bootstrap(c, pw) == -1) {
		crypto_wipe(pw, sizeof(pw));
		fatalx("bootstrap_admin: cannot create \"%s\" in the store", c->admin_handle);
	}
	log_info("created the bootstrap admin \"%s\"", c->admin_handle);
	if (created && isatty(STDERR_FILENO)) {
		/* an operator at a terminal (make run): show it once */
		fprintf(stderr,
		    "acctd: bootstrap admin \"%s\" one-time password: %s\n"
		    "acctd: (also in %s, mode 0600; change it after signing in)\n",
		    c->admin_handle, pw, c->admin_password_file);
	} else if (created) {
		/* stderr is a journal (systemd, procd) or a file: the secret
		 * stays in the 0600 file, the log says where */
		fprintf(stderr,
		    "acctd: bootstrap admin \"%s\": one-time password written to %s "
		    "(mode 0600); read it there and change it after signing in\n",
		    c->admin_handle, c->admin_password_file);
	}
	crypto_wipe(pw, sizeof(pw));
}

/*
 * Expired sessions are removed when presented (api.c) and by this sweep,
 * which runs every MAIN_SWEEP_EVERY seconds on the main thread and looks at
 * no more than MAIN_SWEEP_MAX records per run (one short write txn), going
 * on where the previous run stopped.
 */
#define MAIN_SWEEP_EVERY 60
#define MAIN_SWEEP_MAX 512

static void
main_sweep(void)
{
	static uint8_t cursor[CRYPTO_SHA256_LEN];
	const struct conf *c = app_conf();
	struct store_txn *t;
	size_t removed;
	int more;

	if (store_txn_begin(app.store, 1, &t) == -1)
		return;
	if (session_sweep(t, app_now(), c->sessions_idle_timeout,
	    c->sessions_absolute_timeout, MAIN_SWEEP_MAX, cursor, &more, &removed) == -1) {
		store_txn_abort(t);
		log_warnx("cannot sweep expired sessions");
		return;
	}
	if (removed == 0) {
		store_txn_abort(t);
		return;
	}
	if (store_txn_commit(t) == -1) {
		log_warnx("cannot sweep expired sessions");
		return;
	}
	log_debug("removed %zu expired session(s)%s", removed, more ? ", more to check" : "");
}

/* a stop signal waits to be taken: a long resync gives way to it */
static int
main_stopping(void)
{
	sigset_t p;

	if (sigpending(&p) == -1)
		return 0;
	return sigismember(&p, SIGTERM) == 1 || sigismember(&p, SIGINT) == 1;
}

/*
 * The outbox against the running config's workspace membership, after the
 * start (the config may have changed while acctd was down, or a resync was
 * cut off) and after each reload; batches while requests are served. A
 * failure is retried at the next reload or start (the old membership stays
 * recorded).
 */
static void
main_resync(const char *why)
{
	if (outbox_resync(why, main_stopping) == -1)
		log_warnx("%s: cannot queue the workspace membership; the next reload "
		    "or start tries again", why);
}

static void
main_ready_line(const struct conf *c)
{
	char line[512] = "";
	size_t used = 0;

	for (size_t i = 0; i < c->nlisten; i++) {
		int n = snprintf(line + used, sizeof(line) - used, "%shttps://%s",
		    i ? ", " : "", c->listen[i]);
		if (n < 0 || (size_t)n >= sizeof(line) - used)
			break;
		used += (size_t)n;
	}
	log_notice("ready on %s", line);
	main_notify("READY=1");
}

/* SIGHUP: the certificates and keys of the running configuration, read
 * again (as acctd's user: README "Certificate renewal") */
static void
main_reload_certs(void)
{
	const struct conf *c = app_conf();
	char err[512];

	(void)http_tls_reload(c->tls_cert, c->tls_key,
	    c->http_request_timeout_ms);
	(void)push_tls_load(c, 1, err, sizeof(err));
}

int
main(int argc, char *argv[])
{
	struct daemon d;
	struct http_opts ho;
	struct conf *c;
	char err[512];
	int sig;

	if (argc > 1 && strcmp(argv[1], "import") == 0)
		return import_main(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "backup") == 0)
		return backup_main(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "restore") == 0)
		return restore_main(argc - 1, argv + 1);
	daemon_args(&d, "acctd",
	    "       acctd import -c FILE [-p PASSWORDS] USERS.jsonl\n"
	    "       acctd backup -c FILE [--format jsonl|lmdb] OUT\n"
	    "       acctd restore -c FILE IN\n",
	    argc, argv);
	if (conf_load_start(d.path, stderr, &c) == -1)
		return 1;
	if (d.check) {
		printf("ok\n");
		conf_free(c);
		return 0;
	}
	atomic_store(&app.conf, c);
	/* the main thread takes the signals with sigtimedwait */
	daemon_start(&d, c->log_level, c->user);
	app.started_at = app_now();
	main_prepare_data_dir(c->data_dir, d.pw);

	memset(&ho, 0, sizeof(ho));
	ho.listen = c->listen;
	ho.nlisten = c->nlisten;
	ho.tls_cert = c->tls_cert;
	ho.tls_key = c->tls_key;
	ho.threads = c->http_threads;
	ho.keepalive_timeout_ms = c->http_keepalive_timeout_ms;
	ho.request_timeout_ms = c->http_request_timeout_ms;
	ho.min_rate = c->http_min_rate;
	ho.max_connections = c->http_max_connections;
	ho.max_connections_per_address = c->http_max_connections_per_address;
	ho.routes = routes;
	ho.authorize = api_authorize;
	ho.cleanup = api_cleanup;
	if (http_start(&ho, &app.http, err, sizeof(err)) == -1)
		fatalx("%s", err);
	if (push_tls_load(c, 0, err, sizeof(err)) == -1)
		fatalx("%s", err);
	if (d.pw != NULL)
		priv_drop(d.pw);

	if (file_key_load(c->key_file, app.key, err, sizeof(err)) == -1)
		fatalx("key_file: %s", err);
	if (app_keys_derive() == -1)
		fatalx("key_file: cannot derive the keys");
	if (store_open(c->data_dir, (unsigned)c->map_size_mb, &app.store, err,
	    sizeof(err)) == -1)
		fatalx("%s", err);
	if (audit_init(app.store) == -1)
		fatalx("%s: cannot open the audit log", c->data_dir);
	if (user_admins_init(app.store) == -1)
		fatalx("%s: cannot count the administrators", c->data_dir);
	/* before the first change can be recomputed under c; a full store
	 * must not keep acctd from starting (reads work), main_resync retries */
	if (outbox_resync_intent(c) == -1)
		log_warnx("start: cannot record the workspace membership to push");
	main_bootstrap(c);
	dns_refresh();
	if (push_start() == -1)
		fatalx("cannot start the push threads");
	if (forward_start() == -1)
		fatalx("cannot start the audit forwarder");
	if (rotate_start() == -1)
		fatalx("cannot start the rotation scheduler");

	http_set_ready(app.http, 1);
	main_ready_line(c);
	main_resync("start");

	for (unsigned sweeps = 0;;) {
		struct timespec every = { MAIN_SWEEP_EVERY, 0 };

		sig = sigtimedwait(&d.signals, NULL, &every);
		if (sig == -1) {
			if (errno == EAGAIN) {
				main_sweep();
				/* the audit head, published hourly (audit.c) */
				if (++sweeps % (MAIN_HEAD_EVERY / MAIN_SWEEP_EVERY) == 0)
					audit_head_log(app.store, "hourly check");
			}
			continue;
		}
		if (sig == SIGHUP) {
			main_notify("RELOADING=1");
			if (app_reload(d.path) == 0) {
				dns_refresh();
				main_resync("reload");
				rotate_wake();      /* the policy may have changed */
			}
			main_reload_certs();
			main_notify("READY=1");
			continue;
		}
		break;
	}
	log_notice("stopping (signal %d)", sig);
	main_notify("STOPPING=1");
	http_stop(app.http);
	limiter_kdf_stop();
	push_stop();
	push_tls_shutdown();
	forward_stop();
	rotate_stop();
	audit_head_log(app.store, "stop");
	store_close(app.store);
	app_keys_wipe();
	crypto_shutdown();
	app_free_confs();
	log_notice("stopped");
	return 0;
}

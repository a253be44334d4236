/*
 * Workspace DNS: every workspace's name {owner}-{workspace}.{dns.domain}
 * with its node's address, in hosts format, for the appliance's DNS server
 * (dnsmasq's addn-hosts). The owner is the handle's current holder, so a
 * rename moves the names at once. The file is replaced atomically (write a
 * temporary file, fsync, rename, fsync the directory) and the DNS server
 * named by dns.reload_pidfile gets SIGHUP.
 *
 * Or no signal at all: dnsmasq's --hostsdir=DIR watches DIR (inotify) and
 * reads every file closed or moved into it, except dotfiles, and drops the
 * records of a file that changes or goes. So the temporary files are
 * dotfiles (.NAME.tmp, then .NAME), and only the final rename to NAME is
 * seen: dnsmasq never reads half a file nor keeps a temporary's names.
 * That is the recipe for Debian's dnsmasq, which runs as user dnsmasq and
 * takes no signal from acctd (README "Workspace DNS").
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acctd.h"

static pthread_mutex_t dns_mtx = PTHREAD_MUTEX_INITIALIZER;

/* "https://10.0.0.11:9443" -> "10.0.0.11"; "[fd00::1]" -> "fd00::1" */
static int
dns_node_addr(const char *url, char *out, size_t outlen)
{
	const char *h = strstr(url, "://");
	struct addr a;

	if (h == NULL || addr_split(h + 3, &a) != 0 ||
	    strlen(a.host) >= outlen)
		return -1;
	strcpy(out, a.host);
	return 0;
}

static const struct conf_node *
dns_node(const struct conf *c, const char *name)
{
	for (size_t i = 0; i < c->nnodes; i++)
		if (strcmp(c->nodes[i].name, name) == 0)
			return &c->nodes[i];
	return NULL;
}

void
dns_name(const struct conf *c, const struct conf_workspace *w,
    const char *owner, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s-%s.%s", owner, w->handle, c->dns_domain);
}

/* the hosts file's text (caller frees); -1 on a store error */
static int
dns_render(const struct conf *c, char **text)
{
	struct store_txn *t;
	size_t len = 0;
	FILE *f = open_memstream(text, &len);

	if (f == NULL)
		return -1;
	if (store_txn_begin(app.store, 0, &t) == -1) {
		fclose(f);
		free(*text);
		return -1;
	}
	fprintf(f, "# written by acctd: workspace names (do not edit)\n");
	for (size_t i = 0; i < c->nworkspaces; i++) {
		const struct conf_workspace *w = &c->workspaces[i];
		const struct conf_node *n = dns_node(c, w->node);
		char addr[64], owner[NAME_HANDLE_MAX + 1], name[DNS_NAME_MAX];

		if (n == NULL || dns_node_addr(n->url, addr, sizeof(addr)) == -1)
			continue;
		workspace_owner(t, w, owner);
		dns_name(c, w, owner, name, sizeof(name));
		fprintf(f, "%s %s\n", addr, name);
	}
	store_txn_abort(t);
	return fclose(f) == 0 ? 0 : -1;
}

/* DIR/NAME -> DIR/.NAME (caller frees) */
static char *
dns_dotname(const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t dir = slash != NULL ? (size_t)(slash - path) + 1 : 0;

	return x_asprintf("%.*s.%s", (int)dir, path, path + dir);
}

static int
dns_write_file(const char *path, const char *text)
{
	char err[512], *dot = dns_dotname(path);
	int rc = -1;

	if (file_write_atomic(dot, text, strlen(text), 0644, err,
	    sizeof(err)) == -1) {
		log_warnx("dns: %s", err);
		goto done;
	}
	if (rename(dot, path) == -1 || file_fsync_dir(path) == -1) {
		log_warn("dns: %s", path);
		unlink(dot);
		goto done;
	}
	rc = 0;
done:
	free(dot);
	return rc;
}

/* SIGHUP to the DNS server; a refusal (Debian's dnsmasq runs as another
 * user: EPERM) is said once, with the way out, until a signal gets through */
static void
dns_signal(const char *pidfile)
{
	static int warned;
	char buf[32];
	FILE *f;
	long pid;

	if (pidfile == NULL || pidfile[0] == '\0')
		return;
	f = fopen(pidfile, "re");
	if (f == NULL) {
		log_warn("dns: %s", pidfile);
		return;
	}
	if (fgets(buf, sizeof(buf), f) == NULL || (pid = strtol(buf, NULL, 10)) <= 1) {
		log_warnx("dns: %s holds no process id", pidfile);
	} else if (kill((pid_t)pid, SIGHUP) == -1) {
		if (!warned)
			log_warnx("dns: cannot signal the DNS server of "
			    "dns.reload_pidfile %s (pid %ld): %s; it will not "
			    "see renamed names (use dnsmasq's hostsdir and an "
			    "empty dns.reload_pidfile: README \"Workspace DNS\")",
			    pidfile, pid, strerror(errno));
		warned = 1;
	} else {
		warned = 0;
	}
	fclose(f);
}

/* rewrite the hosts file if its content changed, and signal the DNS server */
int
dns_refresh(void)
{
	const struct conf *c = app_conf();
	static char *last;
	char *text = NULL;
	int rc = 0;

	pthread_mutex_lock(&dns_mtx);
	if (dns_render(c, &text) == -1) {
		log_warnx("dns: cannot read the store; %s not updated", c->dns_hosts_file);
		rc = -1;
	} else if (last == NULL || strcmp(last, text) != 0) {
		if (dns_write_file(c->dns_hosts_file, text) == 0) {
			free(last);
			last = text;
			text = NULL;
			log_debug("dns: wrote %s", c->dns_hosts_file);
			dns_signal(c->dns_reload_pidfile);
		} else {
			rc = -1;
		}
	}
	free(text);
	pthread_mutex_unlock(&dns_mtx);
	return rc;
}

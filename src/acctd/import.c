/*
 * acctd import -c FILE [-p PASSWORDS] USERS.jsonl — appliance provisioning:
 * many users at once, each created and audited exactly as an admin's
 * POST /admin/user creates it (account_create: the record, its database
 * password, its outbox entries, its "user.create" record), IMPORT_BATCH
 * users to a write txn instead of one fsync'd commit each.
 *
 * Decisions (README "Provisioning", acctd.8):
 * - It works while acctd runs: LMDB serialises writers across processes,
 *   and a batch holds the writer for a few ms, so the daemon's requests
 *   wait at most that. What the daemon learns late: its push threads look
 *   at the outbox at least every 30 s (no wake-up across processes), and
 *   the DNS hosts file is rewritten here after the import.
 * - Every line is checked first, by the same rules as POST /admin/user
 *   (handle, email, display_name?, role?; unknown fields refused), and a
 *   handle already held, now or before, or given twice is an error: with
 *   any error nothing is imported (every error listed as FILE:LINE: field:
 *   reason, exit 1).
 * - The audit record is the admin create's, with data.source "import" and
 *   no actor (as the bootstrap admin's): nobody signed in did it; the
 *   operator at the appliance's shell did.
 * - Console passwords: none by default. An imported user cannot sign in
 *   until an admin gives them a one-time password (console_password_reset);
 *   their verifier is random, so a sign-in attempt costs what any costs
 *   and says nothing. With -p FILE, each user gets a one-time password
 *   (must_change_password), written to FILE (created 0600, never
 *   overwritten) as "handle<TAB>password" lines; that costs one
 *   passwords.pbkdf2_iterations KDF per user, spread over the CPUs.
 * - A database password is made for everyone (as always); its 4,096-
 *   iteration SCRAM verifier only for users a workspace names now, the
 *   others get it the first time a node needs it (dbpass_verifier_fill):
 *   100 k verifiers would take minutes.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "acctd.h"

#define IMPORT_BATCH 1000
#define IMPORT_THREADS_MAX 16

struct import_user {
	char handle[NAME_HANDLE_MAX + 1];
	char *email;
	char *display_name;        /* NULL: none */
	int admin;
	int line;
};

/* one batch's secrets, made before its txn (import_prepare) */
struct import_prep {
	struct dbpass_new db;
	struct user_pw pw;
	char console[64];          /* -p: the one-time password; else "" */
	int failed;
};

struct import {
	const char *users_path;
	const char *pw_path;
	struct import_user *u;
	size_t n;
	FILE *pw_out;
};

static const char *const import_roles[] = { "admin", "user", NULL };
enum { IMPORT_HANDLE, IMPORT_EMAIL, IMPORT_DISPLAY_NAME, IMPORT_ROLE };
static const struct body_field import_fields[] = {
	[IMPORT_HANDLE] = { "handle", BODY_STRING, BODY_REQUIRED, 0, 0, NULL, api_handle_error },
	[IMPORT_EMAIL] = { "email", BODY_STRING, BODY_REQUIRED, 0, 0, NULL, api_email_error },
	[IMPORT_DISPLAY_NAME] = { "display_name", BODY_STRING, BODY_NULLABLE, 0, 100, NULL,
	    api_display_name_error },
	[IMPORT_ROLE] = { "role", BODY_STRING, 0, 0, 0, import_roles, NULL },
	{ NULL, 0, 0, 0, 0, NULL, NULL },
};
static const struct body_spec import_body = { "invalid user", 0, import_fields };

static void
import_usage(void)
{
	fprintf(stderr, "usage: acctd import -c FILE [-p PASSWORDS] USERS.jsonl\n");
	exit(2);
}

/* every validation error of line ln as FILE:LINE: field: reason */
static void
import_line_errors(const char *path, int ln, struct body *b)
{
	struct json *e = NULL;

	if (b->errors == NULL || json_item_next(b->errors, NULL) == NULL) {
		fprintf(stderr, "%s:%d: %s\n", path, ln, b->detail);
		return;
	}
	while ((e = json_item_next(b->errors, e)) != NULL) {
		const char *loc = json_str(json_get(e, "location"));

		if (loc != NULL && strncmp(loc, "body.", 5) == 0)
			loc += 5;
		fprintf(stderr, "%s:%d: %s: %s\n", path, ln, loc ? loc : "line",
		    json_str(json_get(e, "message")));
	}
}

/* handle is not in the store (now or before) */
static int
import_handle_free(struct import *im, struct store_txn *t, const char *handle, int ln)
{
	int chosen = 0, rc = user_handle_chosen(t, handle, &chosen);

	if (rc == -1) {
		fprintf(stderr, "%s:%d: handle: cannot read the user store\n", im->users_path, ln);
		return -1;
	}
	/* a former handle its user only chose gives way, as for an admin */
	if (rc == 0 && !chosen) {
		fprintf(stderr, "%s:%d: handle: %s is taken\n", im->users_path, ln, handle);
		return -1;
	}
	return 0;
}

static int
import_cmp(const void *a, const void *b)
{
	const struct import_user *x = *(const struct import_user *const *)a;
	const struct import_user *y = *(const struct import_user *const *)b;
	int c = strcmp(x->handle, y->handle);

	return c ? c : x->line - y->line;
}

/* a handle given twice in the file: the number of such lines (listed) */
static int
import_duplicates(const struct import *im)
{
	const struct import_user **s = x_calloc(im->n ? im->n : 1, sizeof(*s));
	int errors = 0;

	for (size_t i = 0; i < im->n; i++)
		s[i] = &im->u[i];
	qsort(s, im->n, sizeof(*s), import_cmp);
	for (size_t i = 1; i < im->n; i++)
		if (strcmp(s[i]->handle, s[i - 1]->handle) == 0) {
			fprintf(stderr, "%s:%d: handle: %s is given again (line %d)\n",
			    im->users_path, s[i]->line, s[i]->handle, s[i - 1]->line);
			errors++;
		}
	free(s);
	return errors;
}

/* read and check every line; 0, or -1 after listing every error */
static int
import_read(struct import *im, FILE *f)
{
	struct store_txn *t;
	char *line = NULL;
	size_t cap = 0, nalloc = 0;
	ssize_t len;
	int ln = 0, errors = 0;

	if (store_txn_begin(app.store, 0, &t) == -1)
		return -1;
	while ((len = getline(&line, &cap, f)) != -1) {
		struct import_user *u;
		struct body b;

		ln++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0)
			continue;
		if (len > HTTP_MAX_BODY || body_parse(&import_body, line, (size_t)len, &b) == -1) {
			if (len > HTTP_MAX_BODY)
				fprintf(stderr, "%s:%d: longer than %d bytes\n", im->users_path, ln,
				    HTTP_MAX_BODY);
			else
				import_line_errors(im->users_path, ln, &b);
			if (len <= HTTP_MAX_BODY)
				body_free(&b);
			errors++;
			continue;
		}
		if (im->n == nalloc) {
			nalloc = nalloc ? 2 * nalloc : 1024;
			im->u = x_realloc(im->u, nalloc * sizeof(*im->u));
		}
		u = &im->u[im->n];
		memset(u, 0, sizeof(*u));
		api_handle_fold(b.v[IMPORT_HANDLE].str, u->handle, sizeof(u->handle));
		if (import_handle_free(im, t, u->handle, ln) == -1) {
			body_free(&b);
			errors++;
			continue;
		}
		u->line = ln;
		u->email = x_strdup(b.v[IMPORT_EMAIL].str);
		if (b.v[IMPORT_DISPLAY_NAME].str && b.v[IMPORT_DISPLAY_NAME].str[0])
			u->display_name = x_strdup(b.v[IMPORT_DISPLAY_NAME].str);
		u->admin = b.v[IMPORT_ROLE].str && strcmp(b.v[IMPORT_ROLE].str, "admin") == 0;
		im->n++;
		body_free(&b);
	}
	store_txn_abort(t);
	free(line);
	if (ferror(f)) {
		fprintf(stderr, "%s: %s\n", im->users_path, strerror(errno));
		return -1;
	}
	errors += import_duplicates(im);
	if (errors > 0) {
		fprintf(stderr, "%s: %d error(s); nothing was imported\n", im->users_path, errors);
		return -1;
	}
	return 0;
}

struct import_work {
	struct import *im;
	const struct conf *c;
	size_t from, to, step, off;   /* users from..to-1, every step-th from off */
	struct import_prep *p;        /* p[i - from] for user i */
};

static void *
import_prepare_thread(void *arg)
{
	struct import_work *w = arg;

	for (size_t i = w->from + w->off; i < w->to; i += w->step) {
		const struct import_user *u = &w->im->u[i];
		struct import_prep *p = &w->p[i - w->from];
		unsigned iter = (unsigned)w->c->pbkdf2_iterations;
		/* the verifier only for users a workspace names now */
		int member = conf_names_handle(w->c, u->handle);

		memset(p, 0, sizeof(*p));
		if (dbpass_prepare(&p->db, member) == -1)
			p->failed = 1;
		else if (w->im->pw_path == NULL)
			p->failed = user_pw_none(&p->pw, iter) == -1;
		else
			p->failed = secret_readable(p->console, sizeof(p->console), 5) == -1 ||
			    user_pw_derive(&p->pw, p->console, iter) == -1;
	}
	return NULL;
}

/* the secrets of users from..to-1, on every CPU: 0 / -1 */
static int
import_prepare(struct import *im, size_t from, size_t to, struct import_prep *p)
{
	struct import_work w[IMPORT_THREADS_MAX];
	pthread_t th[IMPORT_THREADS_MAX];
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t n = cpus < 1 ? 1 : cpus > IMPORT_THREADS_MAX ? IMPORT_THREADS_MAX : (size_t)cpus;
	size_t started = 0;

	for (size_t i = 0; i < n; i++) {
		w[i] = (struct import_work){ im, app_conf(), from, to, n, i, p };
		if (i > 0 && pthread_create(&th[i], NULL, import_prepare_thread, &w[i]) == 0)
			started++;
		else if (i > 0)
			import_prepare_thread(&w[i]);
	}
	import_prepare_thread(&w[0]);
	for (size_t i = 1; i <= started; i++)
		pthread_join(th[i], NULL);
	for (size_t i = from; i < to; i++)
		if (p[i - from].failed)
			return -1;
	return 0;
}

/* users from..to-1 in one write txn: 0, or -1 (nothing of this batch kept) */
static int
import_batch(struct import *im, size_t from, size_t to, struct import_prep *p)
{
	struct account_txn ax;
	int rc = ACCOUNT_OK;

	memset(&ax, 0, sizeof(ax));
	account_actor(&ax, NULL, "");
	if (store_txn_begin(app.store, 1, &ax.t) == -1)
		return -1;
	for (size_t i = from; rc == ACCOUNT_OK && i < to; i++) {
		const struct import_user *iu = &im->u[i];
		struct user u;

		memset(&u, 0, sizeof(u));
		snprintf(u.handle, sizeof(u.handle), "%s", iu->handle);
		u.email = x_strdup(iu->email);
		u.display_name = iu->display_name ? x_strdup(iu->display_name) : NULL;
		u.admin = iu->admin;
		u.must_change_pw = 1;      /* no password of their own yet */
		user_pw_apply(&u, &p[i - from].pw);
		rc = account_create(&ax, &u, "import", &p[i - from].db);
		if (rc != ACCOUNT_OK)
			fprintf(stderr, "%s:%d: %s: %s\n", im->users_path, iu->line, iu->handle,
			    rc == ACCOUNT_TAKEN ? ax.why : store_full() ? "the store is full; "
			    "raise map_size_mb" : "cannot create the user");
		user_clear(&u);
	}
	if (rc != ACCOUNT_OK) {
		store_txn_abort(ax.t);
		return -1;
	}
	return store_txn_commit(ax.t);
}

/* the one-time passwords of a committed batch, to the 0600 file */
static int
import_write_passwords(struct import *im, size_t from, size_t to,
    const struct import_prep *p)
{
	for (size_t i = from; im->pw_out && i < to; i++)
		if (fprintf(im->pw_out, "%s\t%s\n", im->u[i].handle, p[i - from].console) < 0)
			return -1;
	return im->pw_out && fflush(im->pw_out) != 0 ? -1 : 0;
}

static int
import_run(struct import *im)
{
	struct import_prep *p = x_calloc(IMPORT_BATCH, sizeof(*p));
	struct timespec t0, t1;
	size_t done = 0;
	int rc = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (rc == 0 && done < im->n) {
		size_t to = done + IMPORT_BATCH < im->n ? done + IMPORT_BATCH : im->n;

		if (import_prepare(im, done, to, p) == -1) {
			fprintf(stderr, "acctd import: no randomness\n");
			rc = -1;
		} else if (import_batch(im, done, to, p) == -1) {
			rc = -1;
		} else if (import_write_passwords(im, done, to, p) == -1) {
			fprintf(stderr, "%s: %s\n", im->pw_path, strerror(errno));
			rc = -1;
			done = to;
		} else {
			done = to;
		}
		crypto_wipe(p, IMPORT_BATCH * sizeof(*p));
	}
	free(p);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (done > 0)
		dns_refresh();        /* the workspaces of the new users have names */
	fprintf(stderr, "acctd import: %zu of %zu user(s) imported in %.1f s%s\n", done, im->n,
	    (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	    rc == 0 ? "" : "; the rest were not (see above)");
	return rc;
}

/* -p FILE: created 0600, never an existing file (it will hold secrets) */
static int
import_open_passwords(struct import *im)
{
	int fd;

	if (im->pw_path == NULL)
		return 0;
	fd = open(im->pw_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1 || (im->pw_out = fdopen(fd, "w")) == NULL) {
		fprintf(stderr, "acctd import: %s: %s%s\n", im->pw_path, strerror(errno),
		    errno == EEXIST ? " (it is never overwritten)" : "");
		if (fd != -1)
			close(fd);
		return -1;
	}
	return 0;
}

/* the config, the key, the store: as the daemon opens them */
static int
import_open(const char *conf_path)
{
	struct conf *c;
	char err[512];

	if (conf_load(conf_path, stderr, &c) == -1)
		return -1;
	atomic_store(&app.conf, c);
	log_init("acctd import", 1, LOG_LEVEL_WARN);
	if (crypto_init() == -1) {
		fprintf(stderr, "acctd import: no entropy source\n");
		return -1;
	}
	if (geteuid() == 0 && c->user[0] != '\0') {
		struct passwd *pw = priv_getpw(c->user);

		if (pw == NULL) {
			fprintf(stderr, "acctd import: user \"%s\" does not exist (config: user)\n",
			    c->user);
			return -1;
		}
		priv_drop(pw);        /* the store's files stay acctd's */
	}
	if (file_key_load(c->key_file, app.key, err, sizeof(err)) == -1 ||
	    app_keys_derive() == -1) {
		fprintf(stderr, "acctd import: key_file: %s\n", err);
		return -1;
	}
	if (store_open(c->data_dir, (unsigned)c->map_size_mb, &app.store, err, sizeof(err)) == -1) {
		fprintf(stderr, "acctd import: %s\n", err);
		return -1;
	}
	if (audit_init(app.store) == -1 || user_admins_init(app.store) == -1) {
		fprintf(stderr, "acctd import: %s: cannot open the store\n", c->data_dir);
		return -1;
	}
	return 0;
}

int
import_main(int argc, char *argv[])
{
	struct import im = { 0 };
	const char *conf_path = NULL;
	FILE *f = NULL;
	int ch, rc = 1;

	while ((ch = getopt(argc, argv, "c:p:")) != -1) {
		switch (ch) {
		case 'c': conf_path = optarg; break;
		case 'p': im.pw_path = optarg; break;
		default: import_usage();
		}
	}
	if (conf_path == NULL || optind != argc - 1)
		import_usage();
	im.users_path = argv[optind];
	if (import_open(conf_path) == -1)
		goto done;
	if ((f = fopen(im.users_path, "r")) == NULL) {
		fprintf(stderr, "acctd import: %s: %s\n", im.users_path, strerror(errno));
		goto done;
	}
	if (import_read(&im, f) == -1 || import_open_passwords(&im) == -1)
		goto done;
	rc = import_run(&im) == 0 ? 0 : 1;
done:
	if (f != NULL)
		fclose(f);
	if (im.pw_out != NULL && (fflush(im.pw_out) != 0 || fsync(fileno(im.pw_out)) != 0 ||
	    fclose(im.pw_out) != 0))
		rc = 1;
	for (size_t i = 0; i < im.n; i++) {
		free(im.u[i].email);
		free(im.u[i].display_name);
	}
	free(im.u);
	store_close(app.store);
	app_keys_wipe();
	crypto_shutdown();
	app_free_confs();
	return rc;
}

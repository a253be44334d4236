/*
 * The daemon's shared state. The configuration pointer is swapped
 * atomically on SIGHUP; handlers that loaded the old pointer keep using it
 * safely because old configurations are freed only at exit (a reload is rare
 * and a conf is a few KiB).
 *
 * The keys derived from the appliance key are derived here once, at start,
 * rather than on every use: a session lookup, token check, sealed password
 * or audit record then costs one HMAC, not an HKDF as well. The info
 * strings are part of the on-disk format (every stored HMAC, sealed value
 * and chain hash depends on them): never change one.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acctd.h"

struct app app;

static struct conf **app_old;
static size_t app_nold;

const struct conf *
app_conf(void)
{
	return atomic_load(&app.conf);
}

int64_t
app_now(void)
{
	return (int64_t)time(NULL);
}

/* settings that only a restart applies */
static void
app_reload_warn(const struct conf *o, const struct conf *n)
{
	int same_listen = o->nlisten == n->nlisten;

	for (size_t i = 0; same_listen && i < o->nlisten; i++)
		same_listen = strcmp(o->listen[i], n->listen[i]) == 0;
	if (!same_listen)
		log_warnx("reload: listen changes apply at the next restart");
	if (strcmp(o->data_dir, n->data_dir) || strcmp(o->key_file, n->key_file) ||
	    o->map_size_mb != n->map_size_mb)
		log_warnx("reload: data_dir, key_file and map_size_mb changes apply at the next restart");
	if (strcmp(o->user, n->user))
		log_warnx("reload: user changes apply at the next restart");
	{
		int same_nodes = o->nnodes == n->nnodes;

		for (size_t i = 0; same_nodes && i < o->nnodes; i++)
			same_nodes = strcmp(o->nodes[i].name, n->nodes[i].name) == 0;
		if (!same_nodes)
			log_warnx("reload: added or removed nodes get their push threads at the next restart");
	}
	if (o->http_threads != n->http_threads ||
	    o->http_keepalive_timeout_ms != n->http_keepalive_timeout_ms ||
	    o->http_request_timeout_ms != n->http_request_timeout_ms ||
	    o->http_min_rate != n->http_min_rate ||
	    o->http_max_connections != n->http_max_connections ||
	    o->http_max_connections_per_address !=
	    n->http_max_connections_per_address)
		log_warnx("reload: http changes apply at the next restart");
}

/* milliseconds: sessions and tokens are compared with a token reset made
 * in the same second */
int64_t
app_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
app_reload(const char *path)
{
	struct conf *n = NULL, *o;
	char *errs = NULL;
	size_t errlen = 0;
	FILE *f = open_memstream(&errs, &errlen);

	if (f == NULL)
		return -1;
	if (conf_load(path, f, &n) == -1) {
		fclose(f);
		/* one log line per error, then keep running on the old file */
		for (char *line = strtok(errs, "\n"); line; line = strtok(NULL, "\n"))
			log_warnx("reload: %s", line);
		log_warnx("reload: %s has errors; keeping the running configuration", path);
		free(errs);
		return -1;
	}
	fclose(f);
	free(errs);
	o = atomic_load(&app.conf);
	/* before any request can recompute a user under n (outbox.c) */
	if (outbox_resync_intent(n) == -1) {
		log_warnx("reload: cannot record the new workspace membership in the "
		    "store; keeping the running configuration");
		conf_free(n);
		return -1;
	}
	app_reload_warn(o, n);
	app_old = x_realloc(app_old, (app_nold + 1) * sizeof(*app_old));
	app_old[app_nold++] = o;
	atomic_store(&app.conf, n);
	log_set_level(n->log_level);
	log_info("reload: %s loaded", path);
	return 0;
}

void
app_free_confs(void)
{
	for (size_t i = 0; i < app_nold; i++)
		conf_free(app_old[i]);
	free(app_old);
	app_old = NULL;
	app_nold = 0;
	conf_free(atomic_load(&app.conf));
	atomic_store(&app.conf, NULL);
}

static const struct {
	const char *info;
	uint8_t *key;
} app_derived[] = {
	{ "acctd session v1", app.keys.session },
	{ "acctd token v1", app.keys.token },
	{ "acctd dbpass v1", app.keys.dbpass },
	{ "acctd audit chain v1", app.keys.audit },
	{ "acctd totp v1", app.keys.totp },
};

int
app_keys_derive(void)
{
	for (size_t i = 0; i < sizeof(app_derived) / sizeof(app_derived[0]); i++) {
		if (crypto_hkdf_sha256(app.key, sizeof(app.key), app_derived[i].info,
		    app_derived[i].key, CRYPTO_KEY_LEN) == -1) {
			crypto_wipe(&app.keys, sizeof(app.keys));
			return -1;
		}
	}
	crypto_hmac_key_init(&app.keys.session_mac, app.keys.session, CRYPTO_KEY_LEN);
	crypto_hmac_key_init(&app.keys.token_mac, app.keys.token, CRYPTO_KEY_LEN);
	return 0;
}

void
app_keys_wipe(void)
{
	crypto_wipe(app.key, sizeof(app.key));
	crypto_wipe(&app.keys, sizeof(app.keys));
}

/*
 * workspace.c — who is in a workspace, in one place. The config names a
 * workspace's owner and members by handle; the store says who holds a
 * handle now or held it before a rename (user_handle_member: never a
 * handle its holder chose, so membership is given by an admin and never
 * gained by renaming, docs/design.md "Handles"). The rename-proof answer is
 * needed by the push outbox (which nodes serve a user), the workspace list
 * (which workspaces a user sees) and DNS (the owner's current handle in the
 * name); the config check needs the plain one (is a handle named at all).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acctd.h"

const char *
workspace_handle(const struct conf_workspace *w, size_t i)
{
	if (i == 0)
		return w->owner;
	return i - 1 < w->nmembers ? w->members[i - 1] : NULL;
}

int
workspace_names(const struct conf_workspace *w, const char *handle)
{
	const char *h;

	for (size_t i = 0; (h = workspace_handle(w, i)) != NULL; i++)
		if (strcmp(h, handle) == 0)
			return 1;
	return 0;
}

int
workspace_member(struct store_txn *t, const struct conf_workspace *w,
    const char *user_id)
{
	char id[SECRET_ID_LEN + 1];
	const char *h;

	/* the handle index first (one get each); the user's record is parsed
	 * (for handle_self) only for a handle that is the user's: a user
	 * created or renamed is checked against every configured handle, and
	 * a parse each was O(members) record parses in the write txn */
	for (size_t i = 0; (h = workspace_handle(w, i)) != NULL; i++)
		if (user_id_of_handle(t, h, id) == 0 && strcmp(id, user_id) == 0 &&
		    user_handle_member(t, h, id) == 0 && strcmp(id, user_id) == 0)
			return 1;
	return 0;
}

void
workspace_owner(struct store_txn *t, const struct conf_workspace *w,
    char owner[NAME_HANDLE_MAX + 1])
{
	char id[SECRET_ID_LEN + 1];
	struct user u;

	memset(&u, 0, sizeof(u));
	snprintf(owner, NAME_HANDLE_MAX + 1, "%s", w->owner);
	if (user_handle_member(t, w->owner, id) == 0 && user_load(t, id, &u) == 0)
		snprintf(owner, NAME_HANDLE_MAX + 1, "%s", u.handle);
	user_clear(&u);
}

/*
 * The map: every handle the config's workspaces name, resolved once to the
 * user it means, and each owner's current handle. GET …/workspace needs
 * all of it for one user; resolving handle by handle costs a user record
 * parse per handle (user_handle_member reads handle_self) on every request.
 * A map built in a read txn is kept for the next request while the config
 * is the same (confs are never freed, so the pointer is the generation) and
 * the store is too (store_txn_id): then it is exactly what resolving again
 * would give. A map built in a write txn, or from a lookup that failed
 * (as before: that handle means nobody, that owner stays as configured),
 * serves its caller only.
 */
struct workspace_map {
	const struct conf *conf;
	uint64_t txn_id;           /* 0: not shareable */
	int refs;                  /* under workspace_map_mtx */
	size_t *first;             /* per workspace: its owner's index in id */
	char (*id)[SECRET_ID_LEN + 1];   /* per handle named: the user, "" none */
	char (*owner)[NAME_HANDLE_MAX + 1];   /* per workspace */
};

static pthread_mutex_t workspace_map_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct workspace_map *workspace_map_cur;

static void
workspace_map_free(struct workspace_map *m)
{
	if (m == NULL)
		return;
	free(m->first);
	free(m->id);
	free(m->owner);
	free(m);
}

static struct workspace_map *
workspace_map_build(struct store_txn *t, const struct conf *c)
{
	struct workspace_map *m = x_calloc(1, sizeof(*m));
	size_t i, k, n = 0, total = 0;
	const char *h;
	int ok = 1, rc;

	for (i = 0; i < c->nworkspaces; i++)
		total += 1 + c->workspaces[i].nmembers;
	m->conf = c;
	m->first = x_calloc(c->nworkspaces + 1, sizeof(*m->first));
	m->id = x_calloc(total + 1, sizeof(*m->id));
	m->owner = x_calloc(c->nworkspaces + 1, sizeof(*m->owner));
	for (i = 0; i < c->nworkspaces; i++) {
		const struct conf_workspace *w = &c->workspaces[i];
		struct user u;

		m->first[i] = n;
		for (k = 0; (h = workspace_handle(w, k)) != NULL; k++, n++) {
			rc = user_handle_member(t, h, m->id[n]);
			if (rc == -1)
				ok = 0;
		}
		/* workspace_owner, from the id just resolved */
		snprintf(m->owner[i], sizeof(m->owner[i]), "%s", w->owner);
		memset(&u, 0, sizeof(u));
		if (m->id[m->first[i]][0] != '\0') {
			rc = user_load(t, m->id[m->first[i]], &u);
			if (rc == 0)
				snprintf(m->owner[i], sizeof(m->owner[i]), "%s", u.handle);
			else if (rc == -1)
				ok = 0;
		}
		user_clear(&u);
	}
	m->txn_id = ok ? store_txn_id(t) : 0;
	return m;
}

const struct workspace_map *
workspace_map_get(struct store_txn *t, const struct conf *c)
{
	struct workspace_map *m, *old = NULL;
	uint64_t id = store_txn_id(t);

	pthread_mutex_lock(&workspace_map_mtx);
	m = workspace_map_cur;
	if (id != 0 && m != NULL && m->conf == c && m->txn_id == id) {
		m->refs++;
		pthread_mutex_unlock(&workspace_map_mtx);
		return m;
	}
	pthread_mutex_unlock(&workspace_map_mtx);

	m = workspace_map_build(t, c);
	m->refs = 1;
	if (m->txn_id == 0)
		return m;
	pthread_mutex_lock(&workspace_map_mtx);
	/* the newest store wins; an older map may still be in use elsewhere */
	if (workspace_map_cur == NULL || workspace_map_cur->txn_id <= m->txn_id ||
	    workspace_map_cur->conf != c) {
		old = workspace_map_cur;
		if (old != NULL && --old->refs > 0)
			old = NULL;
		workspace_map_cur = m;
		m->refs++;
	}
	pthread_mutex_unlock(&workspace_map_mtx);
	workspace_map_free(old);
	return m;
}

void
workspace_map_put(const struct workspace_map *cm)
{
	struct workspace_map *m = (struct workspace_map *)cm;
	int last;

	if (m == NULL)
		return;
	pthread_mutex_lock(&workspace_map_mtx);
	last = --m->refs == 0;
	pthread_mutex_unlock(&workspace_map_mtx);
	if (last)
		workspace_map_free(m);
}

int
workspace_map_member(const struct workspace_map *m, size_t i, const char *user_id)
{
	size_t k, n = 1 + m->conf->workspaces[i].nmembers;

	if (user_id[0] == '\0')
		return 0;
	for (k = 0; k < n; k++)
		if (strcmp(m->id[m->first[i] + k], user_id) == 0)
			return 1;
	return 0;
}

const char *
workspace_map_owner(const struct workspace_map *m, size_t i)
{
	return m->owner[i];
}

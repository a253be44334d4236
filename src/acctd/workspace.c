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
#include <stdio.h>
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

	for (size_t i = 0; (h = workspace_handle(w, i)) != NULL; i++)
		if (user_handle_member(t, h, id) == 0 && strcmp(id, user_id) == 0)
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

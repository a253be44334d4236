/*
 * name.c — the user handle. It becomes a PostgreSQL role on the nodes and a
 * DNS label of every workspace name, so one definition serves acctd's
 * handlers, its config checks and the agent's request checks.
 */
#include <string.h>

#include "common.h"

#define LD "abcdefghijklmnopqrstuvwxyz0123456789"

/*
 * ^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){0,38}$ without a regex engine: every
 * '-' followed by a letter or digit is: no "--", no '-' at the end.
 */
int
name_handle_valid(const char *h)
{
	size_t n;

	if (h == NULL || (n = strlen(h)) < 1 || n > NAME_HANDLE_MAX)
		return 0;
	return strchr(LD, h[0]) != NULL && strspn(h + 1, LD "-") == n - 1 &&
	    strstr(h, "--") == NULL && h[n - 1] != '-';
}

/*
 * pushmsg.c — the push message: what acctd sends a node about one user and
 * what the node checks before its hook sees it.
 */
#include <stdio.h>
#include <string.h>

#include "common.h"

int
pushmsg_verifier_valid(const char *v)
{
	unsigned iter;
	char salt[64], stored[64], server[64];
	uint8_t buf[64];
	size_t n;
	int end = -1;

	/* %n: the whole string must be consumed, nothing may follow */
	if (strlen(v) > PUSHMSG_VERIFIER_MAX ||
	    sscanf(v, "SCRAM-SHA-256$%u:%63[A-Za-z0-9+/=]$%63[A-Za-z0-9+/=]:%63[A-Za-z0-9+/=]%n",
	    &iter, salt, stored, server, &end) != 4 || end != (int)strlen(v) ||
	    iter < 4096 || iter > 10000000)
		return 0;
	if (secret_unb64(salt, buf, sizeof(buf), &n) == -1 || n < 8)
		return 0;
	if (secret_unb64(stored, buf, sizeof(buf), &n) == -1 || n != 32)
		return 0;
	if (secret_unb64(server, buf, sizeof(buf), &n) == -1 || n != 32)
		return 0;
	return 1;
}

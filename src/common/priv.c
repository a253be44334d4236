/*
 * Privileges, shared by acctd and acctd-agent: find the user to run as and
 * drop to it after binding. Failure to drop is fatal: neither daemon ever
 * serves as root by accident.
 */
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

/*
 * getpwnam() in a statically linked glibc binary dlopen()s the NSS modules of
 * the glibc it was built with, which the box may not have. The users the
 * daemons run as are local system users: read /etc/passwd directly. The
 * result is static storage, valid until the next call.
 */
struct passwd *
priv_getpw(const char *name)
{
	struct passwd *pw;
	FILE *f = fopen("/etc/passwd", "re");

	if (f == NULL)
		return NULL;
	while ((pw = fgetpwent(f)) != NULL)
		if (strcmp(pw->pw_name, name) == 0)
			break;
	fclose(f);
	return pw;
}

void
priv_drop(const struct passwd *pw)
{
	if (setgroups(1, &pw->pw_gid) == -1 || setgid(pw->pw_gid) == -1 ||
	    setuid(pw->pw_uid) == -1)
		fatal("cannot drop privileges to %s", pw->pw_name);
	if (setuid(0) != -1 || geteuid() == 0)
		fatalx("privileges still held after dropping to %s", pw->pw_name);
	log_info("running as %s (uid %u)", pw->pw_name, (unsigned)pw->pw_uid);
}

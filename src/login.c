/*
 * Brute-force limiter for console sign-in. Failures are counted per handle
 * and per client address in a fixed window; reaching login.max_failures
 * locks that handle or address out for login.lockout seconds. A locked-out
 * attempt is refused at once (429): nothing sleeps in a handler, so an
 * attacker cannot tie up workers.
 *
 * In memory, a fixed table: a restart forgets the counters (an attacker
 * cannot restart the daemon), and when the table is full the entry with the
 * oldest activity is recycled, so memory stays bounded under a spray.
 */
#include <pthread.h>
#include <string.h>

#include "acctd.h"

#define LOGIN_SLOTS 1024

struct login_slot {
	char key[64];           /* "h:handle" or "a:address" */
	int64_t window_start;
	int64_t locked_until;
	int64_t touched;
	int failures;
};

static struct login_slot login_tab[LOGIN_SLOTS];
static pthread_mutex_t login_mtx = PTHREAD_MUTEX_INITIALIZER;

static struct login_slot *
login_find(const char *kind, const char *v, int create, int64_t now)
{
	char key[64];
	struct login_slot *old = NULL;

	snprintf(key, sizeof(key), "%s:%s", kind, v);
	for (size_t i = 0; i < LOGIN_SLOTS; i++) {
		if (strcmp(login_tab[i].key, key) == 0)
			return &login_tab[i];
		/* recycle the least recently used slot that is not locked out */
		if (login_tab[i].locked_until <= now &&
		    (old == NULL || login_tab[i].touched < old->touched))
			old = &login_tab[i];
	}
	if (!create || old == NULL)
		return NULL;
	memset(old, 0, sizeof(*old));
	snprintf(old->key, sizeof(old->key), "%s", key);
	old->window_start = now;
	old->touched = now;
	return old;
}

int
login_locked(const char *handle, const char *ip, int64_t now)
{
	struct login_slot *s;
	int64_t wait = 0;

	pthread_mutex_lock(&login_mtx);
	if ((s = login_find("h", handle, 0, now)) != NULL && s->locked_until > now)
		wait = s->locked_until - now;
	if ((s = login_find("a", ip, 0, now)) != NULL && s->locked_until - now > wait)
		wait = s->locked_until - now;
	pthread_mutex_unlock(&login_mtx);
	return (int)wait;
}

static void
login_count(struct login_slot *s, int64_t now, const struct conf *c)
{
	if (now - s->window_start >= c->login_window) {
		s->window_start = now;
		s->failures = 0;
	}
	s->touched = now;
	if (++s->failures >= c->login_max_failures) {
		s->locked_until = now + c->login_lockout;
		s->failures = 0;
		s->window_start = now;
	}
}

void
login_failed(const char *handle, const char *ip, int64_t now, const struct conf *c)
{
	struct login_slot *s;

	pthread_mutex_lock(&login_mtx);
	if ((s = login_find("h", handle, 1, now)) != NULL)
		login_count(s, now, c);
	if ((s = login_find("a", ip, 1, now)) != NULL)
		login_count(s, now, c);
	pthread_mutex_unlock(&login_mtx);
}

void
login_succeeded(const char *handle)
{
	struct login_slot *s;

	pthread_mutex_lock(&login_mtx);
	if ((s = login_find("h", handle, 0, 0)) != NULL)
		s->failures = 0;
	pthread_mutex_unlock(&login_mtx);
}

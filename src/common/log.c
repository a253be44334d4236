/*
 * Logging: stderr in the foreground, syslog otherwise. Callers never pass a
 * secret; messages name ids and handles, not tokens or passwords.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "common.h"

static int log_stderr = 1;
/* set on SIGHUP while other threads log: atomic, relaxed is enough */
static _Atomic int log_level_cur = LOG_LEVEL_INFO;
static const char *log_ident = "acctd";
static _Thread_local int log_force;

void
log_init(const char *ident, int to_stderr, enum log_level level)
{
	log_ident = ident;
	log_stderr = to_stderr;
	log_set_level(level);
	if (!to_stderr)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_set_level(enum log_level level)
{
	atomic_store_explicit(&log_level_cur, (int)level, memory_order_relaxed);
}

enum log_level
log_get_level(void)
{
	return (enum log_level)atomic_load_explicit(&log_level_cur,
	    memory_order_relaxed);
}

static void log_vwrite(enum log_level, int, const char *, va_list) ACCTD_PRINTF(3, 0);

static void
log_vwrite(enum log_level lvl, int with_errno, const char *fmt, va_list ap)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	static const char *name[] = { "error: ", "warning: ", "", "debug: " };
	char msg[1024];
	int saved = errno;
	size_t n;

	if ((int)lvl > atomic_load_explicit(&log_level_cur, memory_order_relaxed) &&
	    !(lvl == LOG_LEVEL_INFO && log_force))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (with_errno) {
		n = strlen(msg);
		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(saved));
	}
	if (log_stderr) {
		/* one fprintf per line so concurrent threads do not interleave */
		fprintf(stderr, "%s: %s%s\n", log_ident, name[lvl], msg);
	} else {
		syslog(prio[lvl], "%s", msg);
	}
	errno = saved;
}

/* one function per level; e: append strerror(errno); then: after the
 * line is written (fatal and fatalx exit) */
#define LOG_FN(fn, lvl, e, then)                   \
	void fn(const char *fmt, ...)              \
	{                                          \
		va_list ap;                        \
		va_start(ap, fmt);                 \
		log_vwrite(lvl, e, fmt, ap);       \
		va_end(ap);                        \
		then;                              \
	}

LOG_FN(log_err, LOG_LEVEL_ERROR, 0, )
LOG_FN(log_warn, LOG_LEVEL_WARN, 1, )
LOG_FN(log_warnx, LOG_LEVEL_WARN, 0, )
LOG_FN(log_info, LOG_LEVEL_INFO, 0, )
LOG_FN(log_debug, LOG_LEVEL_DEBUG, 0, )
LOG_FN(fatal, LOG_LEVEL_ERROR, 1, exit(1))
LOG_FN(fatalx, LOG_LEVEL_ERROR, 0, exit(1))

/* printed at every log_level: readiness, start and stop */
void
log_notice(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_force = 1;
	log_vwrite(LOG_LEVEL_INFO, 0, fmt, ap);
	log_force = 0;
	va_end(ap);
}

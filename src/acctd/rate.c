/*
 * The write budget: a token bucket per signed-in user, so that no user (an
 * administrator neither) can churn the store or push the audit ring's
 * history out faster than rate_limit allows. A bucket holds up to
 * writes_burst tokens and refills at writes_per_minute; every committed
 * change, and every audited read of a secret, spends one. An empty bucket
 * answers 429 with Retry-After; nothing sleeps in a handler.
 *
 * In memory, a fixed table like limiter.c's: a restart refills every bucket.
 * When the table is full, a full bucket is recycled first (it is the same
 * as no bucket); failing that the fullest one, so a user can at most gain
 * the difference, and only when more than RATE_SLOTS users write at once.
 * A token is RATE_ONE units and a millisecond refills writes_per_minute
 * units: refills are exact integers at any rate.
 */
#include <pthread.h>
#include <string.h>

#include "acctd.h"

#define RATE_SLOTS 1024
#define RATE_ONE 60000           /* units of one token: ms in a minute */

struct rate_slot {
	char id[SECRET_ID_LEN + 1];  /* "" = free */
	int64_t units;               /* tokens x RATE_ONE */
	int64_t at_ms;               /* when units was last brought up to date */
};

static struct rate_slot rate_tab[RATE_SLOTS];
static pthread_mutex_t rate_mtx = PTHREAD_MUTEX_INITIALIZER;

/* bring s up to now_ms: per_minute tokens a minute, at most burst */
static void
rate_refill(struct rate_slot *s, int64_t now_ms, int per_minute, int burst)
{
	int64_t cap = (int64_t)burst * RATE_ONE, dt = now_ms - s->at_ms;

	/* dt * per_minute stays far below INT64_MAX for any real clock */
	if (dt > 0)
		s->units += dt * per_minute;
	if (dt != 0)
		s->at_ms = now_ms;     /* a clock set back starts from now */
	if (s->units > cap)
		s->units = cap;        /* also after a reload lowered burst */
}

static struct rate_slot *
rate_find(const char *id, int64_t now_ms, int per_minute, int burst)
{
	struct rate_slot *s, *spare = NULL;

	for (size_t i = 0; i < RATE_SLOTS; i++) {
		s = &rate_tab[i];
		if (strcmp(s->id, id) == 0)
			return s;
		if (s->id[0] == '\0') {
			if (spare == NULL || spare->id[0] != '\0')
				spare = s;
			continue;
		}
		if (spare != NULL && spare->id[0] == '\0')
			continue;
		rate_refill(s, now_ms, per_minute, burst);
		if (spare == NULL || s->units > spare->units)
			spare = s;
	}
	snprintf(spare->id, sizeof(spare->id), "%s", id);
	spare->units = (int64_t)burst * RATE_ONE;
	spare->at_ms = now_ms;
	return spare;
}

int
rate_take(const char *user_id, int64_t now_ms, int per_minute, int burst)
{
	struct rate_slot *s;
	int64_t wait_ms;
	int ret = 0;

	if (user_id == NULL || user_id[0] == '\0' || per_minute < 1 || burst < 1)
		return 0;
	pthread_mutex_lock(&rate_mtx);
	s = rate_find(user_id, now_ms, per_minute, burst);
	rate_refill(s, now_ms, per_minute, burst);
	if (s->units >= RATE_ONE) {
		s->units -= RATE_ONE;
	} else {
		/* until one whole token has refilled, rounded up to a second */
		wait_ms = (RATE_ONE - s->units + per_minute - 1) / per_minute;
		ret = (int)((wait_ms + 999) / 1000);
		if (ret < 1)
			ret = 1;
	}
	pthread_mutex_unlock(&rate_mtx);
	return ret;
}

/*
 * agent_conn.c — acctd-agent's connections (docs/agent.md "Connections").
 *
 * Anyone on the node network can open a TCP connection to the agent; only
 * acctd can finish the handshake (its client certificate is pinned). So a
 * connection that has not finished it must cost no thread, or a few silent
 * clients stop every push (as the first design's four workers did):
 *
 *   - One poll thread accepts (non-blocking, never waits on a client) and
 *     runs every handshake step by step (agent_tls_handshake). A connection
 *     costs a descriptor until its first bytes, then an mbedTLS context.
 *   - One deadline per connection, AGENT_TLS_TIMEOUT_MS from the accept,
 *     for the handshake and the whole request.
 *   - At most AGENT_MAX_PENDING connections are in their handshake, and
 *     AGENT_MAX_PER_ADDR from one client address. When a new connection
 *     would pass either bound, one such connection (of that address, or of
 *     all) is dropped and the newcomer is kept: the oldest that has sent
 *     nothing yet, else the one whose client was heard from longest ago.
 *     A flood of silent or reconnecting connections, even from acctd's own
 *     address, cannot keep acctd out: acctd speaks first (its ClientHello)
 *     and then every round trip, so the silent and the slow go before it.
 *   - A connection whose client is acctd goes to a queue that AGENT_WORKERS
 *     threads serve: read the request (until the deadline), apply it
 *     (agent_state_apply runs one change at a time) and answer.
 *
 * The poll thread is the only one that uses struct agent_tls's key (see
 * agent_tls.c). Stopping: the poll thread is woken through a pipe, drops
 * what is still in a handshake, the workers finish their request (reading
 * is cut by shutdown(SHUT_RD), an apply finishes and answers).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent.h"

#define AGENT_CONN_QUEUE 64          /* authenticated, waiting for a worker */
#define AGENT_CONN_ACCEPTS 64        /* accepts per turn of the loop */

struct agent_pending {
	struct agent_tls_conn *c;
	int64_t accepted;            /* ms */
	int64_t heard;               /* ms: the client's last bytes; 0 = none yet */
	short events;                /* POLLIN or POLLOUT */
	char addr[INET6_ADDRSTRLEN]; /* the client address, for the bound */
	char peer[64];
};

static struct {
	int listen_fd;
	int wake[2];                 /* the stop signal for the poll thread */
	struct agent_tls *tls;
	struct agent_state *st;
	agent_hook_fn hook;
	void *hook_arg;
	pthread_t poller;
	pthread_t workers[AGENT_WORKERS];
	int active[AGENT_WORKERS];   /* fd being served, or -1 (under mtx) */
	pthread_mutex_t mtx;
	pthread_cond_t cond;
	struct agent_tls_conn *queue[AGENT_CONN_QUEUE];
	size_t qhead, qlen;
	int stopping;
	/* the poll thread's own */
	struct agent_pending *p;
	size_t np;
	uint64_t dropped;
	int64_t dropped_logged;
} ac = { .listen_fd = -1, .wake = { -1, -1 },
	 .mtx = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static void
agent_conn_peer(const struct sockaddr_storage *ss, char *addr, size_t addrlen,
    char *peer, size_t peerlen)
{
	snprintf(addr, addrlen, "?");
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, addr, (socklen_t)addrlen);
		snprintf(peer, peerlen, "%s:%u", addr, ntohs(s4->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, addr, (socklen_t)addrlen);
		snprintf(peer, peerlen, "[%s]:%u", addr, ntohs(s6->sin6_port));
	} else
		snprintf(peer, peerlen, "?");
}

/* --- the workers ---------------------------------------------------------- */

static void *
agent_conn_worker(void *arg)
{
	int slot = (int)(intptr_t)arg;
	struct agent_tls_conn *c;
	struct agent_io io;

	for (;;) {
		pthread_mutex_lock(&ac.mtx);
		while (ac.qlen == 0 && !ac.stopping)
			pthread_cond_wait(&ac.cond, &ac.mtx);
		if (ac.qlen == 0) {
			pthread_mutex_unlock(&ac.mtx);
			break;
		}
		c = ac.queue[ac.qhead];
		ac.qhead = (ac.qhead + 1) % AGENT_CONN_QUEUE;
		ac.qlen--;
		ac.active[slot] = agent_tls_fd(c);
		if (ac.stopping)
			shutdown(ac.active[slot], SHUT_RD);
		pthread_mutex_unlock(&ac.mtx);

		io.ctx = c;
		io.read = agent_tls_read;
		io.write = agent_tls_write;
		agent_req_serve(&io, ac.st, ac.hook, ac.hook_arg,
		    agent_tls_peer(c));

		pthread_mutex_lock(&ac.mtx);
		ac.active[slot] = -1;
		pthread_mutex_unlock(&ac.mtx);
		agent_tls_close(c);
	}
	return NULL;
}

/* hand an authenticated connection to the workers; 0, or -1 when full */
static int
agent_conn_enqueue(struct agent_tls_conn *c)
{
	int rc = -1;

	pthread_mutex_lock(&ac.mtx);
	if (ac.qlen < AGENT_CONN_QUEUE) {
		ac.queue[(ac.qhead + ac.qlen) % AGENT_CONN_QUEUE] = c;
		ac.qlen++;
		pthread_cond_signal(&ac.cond);
		rc = 0;
	}
	pthread_mutex_unlock(&ac.mtx);
	return rc;
}

/* --- the poll thread -------------------------------------------------------- */

static void
agent_conn_drop(size_t i)
{
	agent_tls_close(ac.p[i].c);
	ac.p[i] = ac.p[--ac.np];
}

/* the pending connection to drop first (of addr, when not NULL): the
 * oldest that has sent nothing, else the one heard from longest ago; -1
 * when there is none. *count: how many there are. */
static long
agent_conn_victim(const char *addr, size_t *count)
{
	long v = -1;
	size_t i;

	*count = 0;
	for (i = 0; i < ac.np; i++) {
		const struct agent_pending *p = &ac.p[i];

		if (addr != NULL && strcmp(p->addr, addr) != 0)
			continue;
		(*count)++;
		if (v == -1 ||
		    (p->heard == 0 && (ac.p[v].heard != 0 ||
		    p->accepted < ac.p[v].accepted)) ||
		    (p->heard != 0 && ac.p[v].heard != 0 &&
		    p->heard < ac.p[v].heard))
			v = (long)i;
	}
	return v;
}

/* make room for a newcomer from addr: drop one over a bound */
static void
agent_conn_make_room(const char *addr, int64_t now)
{
	size_t n;
	long victim = agent_conn_victim(addr, &n);

	if (n < AGENT_MAX_PER_ADDR)
		victim = ac.np >= AGENT_MAX_PENDING ?
		    agent_conn_victim(NULL, &n) : -1;
	if (victim < 0)
		return;
	log_debug("%s: dropped before the end of its handshake to make room",
	    ac.p[victim].peer);
	agent_conn_drop((size_t)victim);
	ac.dropped++;
	if (ac.dropped_logged == 0 || now - ac.dropped_logged >= 10000) {
		log_warnx("%llu connections dropped before the end of their "
		    "handshake to make room (at most %d wait, %d per "
		    "address)", (unsigned long long)ac.dropped,
		    AGENT_MAX_PENDING, AGENT_MAX_PER_ADDR);
		ac.dropped_logged = now;
	}
}

static void
agent_conn_accept(int64_t now)
{
	struct sockaddr_storage ss;
	struct agent_pending *pd;
	socklen_t sl;
	char addr[INET6_ADDRSTRLEN], peer[64];
	int fd, k;

	for (k = 0; k < AGENT_CONN_ACCEPTS; k++) {
		sl = sizeof(ss);
		fd = accept4(ac.listen_fd, (struct sockaddr *)&ss, &sl,
		    SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				/* out of descriptors: one pending goes */
				if (ac.np > 0) {
					size_t n;

					agent_conn_drop((size_t)
					    agent_conn_victim(NULL, &n));
					continue;
				}
				log_warn("accept");
			} else if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR && errno != ECONNABORTED)
				log_warn("accept");
			return;
		}
		agent_conn_peer(&ss, addr, sizeof(addr), peer, sizeof(peer));
		agent_conn_make_room(addr, now);
		pd = &ac.p[ac.np++];
		memset(pd, 0, sizeof(*pd));
		pthread_mutex_lock(&ac.mtx);	/* ac.tls: agent_conn_set_tls */
		agent_tls_conn_new(ac.tls, fd, peer, now + AGENT_TLS_TIMEOUT_MS,
		    &pd->c);
		pthread_mutex_unlock(&ac.mtx);
		pd->accepted = now;
		pd->events = POLLIN;
		snprintf(pd->addr, sizeof(pd->addr), "%s", addr);
		snprintf(pd->peer, sizeof(pd->peer), "%s", peer);
	}
}

/* one handshake step for p[i]; 1 when it left the pending list */
static int
agent_conn_step(size_t i)
{
	struct agent_pending *pd = &ac.p[i];
	char err[320];
	int r = agent_tls_handshake(pd->c, err, sizeof(err));

	if (r == AGENT_TLS_WANT_READ || r == AGENT_TLS_WANT_WRITE) {
		pd->events = r == AGENT_TLS_WANT_READ ? POLLIN : POLLOUT;
		return 0;
	}
	if (r == AGENT_TLS_DONE) {
		log_debug("%s: acctd, after %lld ms", pd->peer,
		    (long long)(agent_tls_now_ms() - pd->accepted));
		if (agent_conn_enqueue(pd->c) == 0) {
			ac.p[i] = ac.p[--ac.np];
			return 1;
		}
		snprintf(err, sizeof(err), "%d requests already wait for a "
		    "worker", AGENT_CONN_QUEUE);
	}
	log_warnx("%s: %s", pd->peer, err);
	agent_conn_drop(i);
	return 1;
}

static void *
agent_conn_poller(void *arg)
{
	struct pollfd *pfd;
	size_t i, n;
	int64_t now, next;
	int r;

	(void)arg;
	ac.p = x_calloc(AGENT_MAX_PENDING + 1, sizeof(*ac.p));
	pfd = x_calloc(AGENT_MAX_PENDING + 2, sizeof(*pfd));
	for (;;) {
		now = agent_tls_now_ms();
		/* deadlines first: they also bound the poll below */
		next = now + 60000;
		for (i = 0; i < ac.np; ) {
			int64_t dl = ac.p[i].accepted + AGENT_TLS_TIMEOUT_MS;

			if (dl <= now) {
				log_warnx("%s: handshake timed out after %d s",
				    ac.p[i].peer, AGENT_TLS_TIMEOUT_MS / 1000);
				agent_conn_drop(i);
				continue;
			}
			if (dl < next)
				next = dl;
			i++;
		}
		pfd[0].fd = ac.wake[0];
		pfd[0].events = POLLIN;
		pfd[1].fd = ac.listen_fd;
		pfd[1].events = POLLIN;
		for (i = 0; i < ac.np; i++) {
			pfd[i + 2].fd = agent_tls_fd(ac.p[i].c);
			pfd[i + 2].events = ac.p[i].events;
			pfd[i + 2].revents = 0;
		}
		n = ac.np;
		r = poll(pfd, n + 2, (int)(next - now));
		if (r < 0) {
			if (errno != EINTR)
				log_warn("poll");
			continue;
		}
		if (pfd[0].revents != 0)
			break;
		now = agent_tls_now_ms();
		/* every ready connection one step, newest last; a connection
		 * that leaves the list is replaced by the last one, whose
		 * pollfd is moved along with it */
		for (i = n; i-- > 0; ) {
			if (pfd[i + 2].revents == 0)
				continue;
			if (pfd[i + 2].revents & POLLIN)
				ac.p[i].heard = now;
			if (agent_conn_step(i) && i < ac.np)
				pfd[i + 2] = pfd[ac.np + 2];
		}
		if (pfd[1].revents != 0)
			agent_conn_accept(now);
	}
	while (ac.np > 0)
		agent_conn_drop(ac.np - 1);
	free(pfd);
	free(ac.p);
	ac.p = NULL;
	return NULL;
}

/* --- start and stop ----------------------------------------------------------- */

int
agent_conn_start(int listen_fd, struct agent_tls *tls, struct agent_state *st,
    agent_hook_fn hook, void *hook_arg, char *err, size_t errlen)
{
	int fl;

	ac.listen_fd = listen_fd;
	ac.tls = tls;
	ac.st = st;
	ac.hook = hook;
	ac.hook_arg = hook_arg;
	if ((fl = fcntl(listen_fd, F_GETFL)) == -1 ||
	    fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK) == -1 ||
	    pipe2(ac.wake, O_CLOEXEC | O_NONBLOCK) == -1) {
		snprintf(err, errlen, "cannot set up the accept loop: %s",
		    strerror(errno));
		return -1;
	}
	for (int i = 0; i < AGENT_WORKERS; i++) {
		ac.active[i] = -1;
		if ((errno = pthread_create(&ac.workers[i], NULL,
		    agent_conn_worker, (void *)(intptr_t)i)) != 0) {
			snprintf(err, errlen, "pthread_create: %s",
			    strerror(errno));
			return -1;
		}
	}
	if ((errno = pthread_create(&ac.poller, NULL, agent_conn_poller,
	    NULL)) != 0) {
		snprintf(err, errlen, "pthread_create: %s", strerror(errno));
		return -1;
	}
	return 0;
}

void
agent_conn_set_tls(struct agent_tls *tls)
{
	struct agent_tls *old;

	pthread_mutex_lock(&ac.mtx);
	old = ac.tls;
	ac.tls = tls;
	pthread_mutex_unlock(&ac.mtx);
	agent_tls_free(old);	/* freed when its last connection closes */
}

void
agent_conn_stop(void)
{
	ssize_t w;

	w = write(ac.wake[1], "x", 1);
	(void)w;
	pthread_join(ac.poller, NULL);
	/*
	 * End the reading of requests in progress; a request being applied
	 * still finishes and gets its answer: SHUT_RD leaves the write side.
	 * The numbers are read under the lock the workers clear them under,
	 * so none is stale.
	 */
	pthread_mutex_lock(&ac.mtx);
	ac.stopping = 1;
	for (int i = 0; i < AGENT_WORKERS; i++)
		if (ac.active[i] >= 0)
			shutdown(ac.active[i], SHUT_RD);
	while (ac.qlen > 0) {
		agent_tls_close(ac.queue[ac.qhead]);
		ac.qhead = (ac.qhead + 1) % AGENT_CONN_QUEUE;
		ac.qlen--;
	}
	pthread_cond_broadcast(&ac.cond);
	pthread_mutex_unlock(&ac.mtx);
	for (int i = 0; i < AGENT_WORKERS; i++)
		pthread_join(ac.workers[i], NULL);
	close(ac.wake[0]);
	close(ac.wake[1]);
	agent_conn_set_tls(NULL);
}

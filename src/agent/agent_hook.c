/*
 * agent_hook.c — runs the hook that makes the node match a state
 * (docs/agent.md "Hook"): fork + execve, no shell, nothing of the agent's
 * own environment.
 *
 *   argv    the hook's path, nothing else
 *   env     ACCTD_ACTION=present|disabled|absent, ACCTD_ROLE=<role>,
 *           ACCTD_OLD_ROLE=<former names, space-separated, or "">,
 *           PATH (a fixed default
 *           unless hook_env sets it), then every hook_env entry
 *   stdin   present: the SCRAM verifier and a newline; absent: empty.
 *           The verifier is never in argv or the environment, which other
 *           local users can read (/proc/PID/cmdline).
 *   stdout  /dev/null
 *   stderr  a pipe: its first line is the reason a failure reports
 *   exit    0 applied; 4 and 5 refusals (AGENT_HOOK_NOT_MANAGED,
 *           AGENT_HOOK_PRIVILEGED), returned as such; anything else -1
 *
 * The hook runs in its own process group; after timeout_ms the whole group
 * is killed (psql under a shell must not outlive it). Callers serialise
 * hooks (agent_state_apply holds its lock), and between fork and execve the
 * child calls only async-signal-safe functions, as a threaded process must.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"

#define AGENT_HOOK_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:" \
	"/usr/bin:/sbin:/bin"
#define AGENT_HOOK_ERR_MAX 200		/* characters of the reason kept */

static int64_t
agent_hook_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* In the child: nothing but async-signal-safe calls until execve. */
static void ACCTD_NORETURN
agent_hook_child(const char *path, char *const argv[], char *const envp[],
    int in, int out, int errfd, int maxfd)
{
	static const char enoent[] = "acctd-agent: the hook does not exist\n";
	static const char eacces[] = "acctd-agent: the hook is not executable\n";
	static const char other[] = "acctd-agent: cannot execute the hook\n";
	sigset_t none;
	ssize_t w;
	int fd;

	setpgid(0, 0);
	if (dup2(in, 0) == -1 || dup2(out, 1) == -1 || dup2(errfd, 2) == -1)
		_exit(126);
#ifdef SYS_close_range
	if (syscall(SYS_close_range, 3U, ~0U, 0U) != 0)
#endif
		for (fd = 3; fd < maxfd; fd++)
			close(fd);
	/* the agent blocks its signals and ignores SIGPIPE: undo both */
	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve(path, argv, envp);
	if (errno == ENOENT)
		w = write(2, enoent, sizeof(enoent) - 1);
	else if (errno == EACCES)
		w = write(2, eacces, sizeof(eacces) - 1);
	else
		w = write(2, other, sizeof(other) - 1);
	(void)w;
	_exit(127);
}

/*
 * The first line of what the hook wrote, printable ASCII only, at most
 * AGENT_HOOK_ERR_MAX characters; "" when there is none. A line that holds
 * a verifier anyway is not repeated: the reason travels to acctd and logs.
 */
static void
agent_hook_reason(const char *buf, size_t len, char *out, size_t outlen)
{
	size_t i, o = 0;

	for (i = 0; i < len && buf[i] != '\n' && o + 1 < outlen &&
	    o < AGENT_HOOK_ERR_MAX; i++)
		out[o++] = (buf[i] >= 0x20 && buf[i] < 0x7f) ? buf[i] : '?';
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
	if (strstr(out, "SCRAM-SHA-256$") != NULL)
		snprintf(out, outlen, "(the hook's message held a verifier: "
		    "not shown)");
}

/* the hook's environment (see the top of this file); caller frees each
 * string and the array */
static char **
agent_hook_env(const struct agent_hook *h, const char *action,
    const char *role, const char *old_role)
{
	size_t i, n = 0;
	int has_path = 0;
	char **envp;

	for (i = 0; h->env != NULL && h->env[i] != NULL; i++)
		if (strncmp(h->env[i], "PATH=", 5) == 0)
			has_path = 1;
	envp = x_calloc(i + 5, sizeof(*envp));
	envp[n++] = x_asprintf("ACCTD_ACTION=%s", action);
	envp[n++] = x_asprintf("ACCTD_ROLE=%s", role);
	envp[n++] = x_asprintf("ACCTD_OLD_ROLE=%s", old_role ? old_role : "");
	if (!has_path)
		envp[n++] = x_strdup(AGENT_HOOK_PATH);
	for (i = 0; h->env != NULL && h->env[i] != NULL; i++)
		envp[n++] = x_strdup(h->env[i]);
	envp[n] = NULL;
	return envp;
}

static void
agent_hook_env_free(char **envp)
{
	for (size_t i = 0; envp[i] != NULL; i++)
		free(envp[i]);
	free(envp);
}

static int
agent_hook_maxfd(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		return rl.rlim_cur > 65536 ? 65536 : (int)rl.rlim_cur;
	return 1024;
}

/* the hook's stderr until EOF or the deadline: the first buflen bytes into
 * buf (returns how many), the rest drained so the hook never blocks */
static size_t
agent_hook_stderr(int fd, int64_t deadline, char *buf, size_t buflen)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t len = 0;
	char sink[512];
	ssize_t r;

	for (;;) {
		int64_t left = deadline - agent_hook_now_ms();
		int pr;

		if (left <= 0)
			break;
		pr = poll(&pfd, 1, (int)left);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			break;
		if (len < buflen)
			r = read(fd, buf + len, buflen - len);
		else
			r = read(fd, sink, sizeof(sink));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (len < buflen)
			len += (size_t)r;
	}
	return len;
}

/* the hook's exit status by the deadline: 0, 1 when it timed out (its
 * process group is then killed and reaped), -1 with err */
static int
agent_hook_wait(pid_t pid, int64_t deadline, int *status, char *err,
    size_t errlen)
{
	pid_t w;

	for (;;) {
		w = waitpid(pid, status, WNOHANG);
		if (w == pid)
			return 0;
		if (w == -1 && errno != EINTR) {
			snprintf(err, errlen, "hook: waitpid: %s", strerror(errno));
			return -1;
		}
		if (deadline - agent_hook_now_ms() <= 0)
			break;
		usleep(5000);
	}
	kill(-pid, SIGKILL);
	while (waitpid(pid, status, 0) == -1 && errno == EINTR)
		;
	return 1;
}

/* what an exit status means: 0 applied, a refusal code, or -1; err gets
 * the reason the hook wrote first, else one made from the status */
static int
agent_hook_verdict(int status, const char *reason, char *err, size_t errlen)
{
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;

	if (code == 0)
		return 0;
	if (code == AGENT_HOOK_NOT_MANAGED || code == AGENT_HOOK_PRIVILEGED) {
		snprintf(err, errlen, "%s", reason[0] != '\0' ? reason :
		    code == AGENT_HOOK_NOT_MANAGED ? "the role is not managed by "
		    "acctd" : "the role is privileged");
		return code;
	}
	if (reason[0] != '\0')
		snprintf(err, errlen, "%s", reason);
	else if (WIFEXITED(status))
		snprintf(err, errlen, "hook exited with status %d", code);
	else
		snprintf(err, errlen, "hook killed by signal %d",
		    WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	return -1;
}

static void
agent_hook_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

int
agent_hook_run(void *arg, const char *action, const char *role,
    const char *old_role, const char *verifier, char *err, size_t errlen)
{
	const struct agent_hook *h = arg;
	char *argv[2] = { (char *)h->path, NULL }, **envp, *vline = NULL;
	char ebuf[1024] = "", reason[256];
	int in[2] = { -1, -1 }, ep[2] = { -1, -1 }, devnull = -1;
	int status = 0, maxfd = agent_hook_maxfd(), rc = -1, waited;
	size_t elen;
	int64_t deadline;
	pid_t pid;

	err[0] = '\0';
	envp = agent_hook_env(h, action, role, old_role);
	if (verifier != NULL)
		vline = x_asprintf("%s\n", verifier);
	if (pipe2(in, O_CLOEXEC) == -1 || pipe2(ep, O_CLOEXEC) == -1 ||
	    (devnull = open("/dev/null", O_WRONLY | O_CLOEXEC)) == -1 ||
	    (pid = fork()) == -1) {
		snprintf(err, errlen, "cannot start the hook: %s",
		    strerror(errno));
		goto done;
	}
	if (pid == 0)
		agent_hook_child(h->path, argv, envp, in[0], devnull, ep[1],
		    maxfd);
	deadline = agent_hook_now_ms() + h->timeout_ms;
	setpgid(pid, pid);	/* also here: no window before the child's */
	agent_hook_close(&ep[1]);
	agent_hook_close(&devnull);

	/* 161 bytes at most: the pipe takes them without blocking, and while
	 * we hold its read end too, a hook that exits without reading cannot
	 * turn the write into SIGPIPE. The hook sees EOF after them. */
	if (vline != NULL && write(in[1], vline, strlen(vline)) < 0)
		log_debug("hook: stdin: %s", strerror(errno));
	agent_hook_close(&in[1]);
	agent_hook_close(&in[0]);

	/* stderr until EOF, then the exit status, all before the deadline */
	elen = agent_hook_stderr(ep[0], deadline, ebuf, sizeof(ebuf));
	if ((waited = agent_hook_wait(pid, deadline, &status, err, errlen)) == -1)
		goto done;
	agent_hook_reason(ebuf, elen, reason, sizeof(reason));
	if (waited == 1)
		snprintf(err, errlen, "hook timed out after %d s",
		    h->timeout_ms / 1000);
	else
		rc = agent_hook_verdict(status, reason, err, errlen);
done:
	agent_hook_close(&in[0]);
	agent_hook_close(&in[1]);
	agent_hook_close(&ep[0]);
	agent_hook_close(&ep[1]);
	agent_hook_close(&devnull);
	crypto_wipe(ebuf, sizeof(ebuf));
	if (vline != NULL) {
		crypto_wipe(vline, strlen(vline));
		free(vline);
	}
	agent_hook_env_free(envp);
	return rc;
}

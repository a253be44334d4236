/*
 * fuzz_agent_req: one acctd-agent connection (agent_req.c): the request
 * framing (request line, headers, Content-Length, the body read) and then
 * the push message itself, applied to a real state file on /dev/shm by a
 * hook that succeeds without running anything. The input is what the
 * client sends; reads hand it over in pieces of 1 to 16 bytes when the
 * first byte is odd (a slow sender), else all at once.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_io {
	const uint8_t *in;
	size_t len, off;
	unsigned piece;            /* 0: as much as asked */
	size_t out;
};

static char fuzz_dir[64], fuzz_state[96];
static struct agent_state *fuzz_st;
static unsigned fuzz_runs;

static int
fuzz_read(void *ctx, void *buf, size_t len)
{
	struct fuzz_io *io = ctx;
	size_t n = io->len - io->off;

	if (n > len)
		n = len;
	if (io->piece != 0 && n > io->piece)
		n = io->piece;
	memcpy(buf, io->in + io->off, n);
	io->off += n;
	if (io->piece != 0)
		io->piece = 1 + (io->piece * 7 + 3) % 16;
	return (int)n;
}

static int
fuzz_write(void *ctx, const void *buf, size_t len)
{
	struct fuzz_io *io = ctx;

	if (len < 12 || memcmp(buf, "HTTP/1.1 ", 9) != 0)
		abort();                /* every answer is a status line first */
	io->out += len;
	return 0;
}

/* "" or handles other than role, one space between */
static int
fuzz_names_valid(const char *names, const char *role)
{
	char name[NAME_HANDLE_MAX + 1];
	const char *p = names, *sp;
	size_t len;

	while (*p != '\0') {
		sp = strchr(p, ' ');
		len = sp ? (size_t)(sp - p) : strlen(p);
		if (len > NAME_HANDLE_MAX)
			return 0;
		memcpy(name, p, len);
		name[len] = '\0';
		if (!name_handle_valid(name) || strcmp(name, role) == 0)
			return 0;
		if (sp == NULL)
			break;
		p = sp + 1;
		if (*p == '\0')
			return 0;
	}
	return 1;
}

static int
fuzz_hook(void *arg, const char *action, const char *role,
    const char *old_role, const char *verifier, char *err, size_t errlen)
{
	(void)arg;
	(void)err;
	(void)errlen;
	/* the hook's contract (agent.h): a valid role, former names valid;
	 * a verifier only when present */
	if (!name_handle_valid(role) || !fuzz_names_valid(old_role, role) ||
	    (strcmp(action, "present") == 0) != (verifier != NULL) ||
	    (verifier != NULL && !pushmsg_verifier_valid(verifier)))
		abort();
	return 0;
}

static void
fuzz_state_reset(void)
{
	char err[256];

	agent_state_free(fuzz_st);
	fuzz_st = NULL;
	unlink(fuzz_state);
	if (agent_state_open(fuzz_state, &fuzz_st, err, sizeof(err)) == -1) {
		fprintf(stderr, "fuzz_agent_req: %s\n", err);
		exit(1);
	}
}

static void
fuzz_cleanup(void)
{
	agent_state_free(fuzz_st);
	unlink(fuzz_state);
	rmdir(fuzz_dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init("fuzz", 1, LOG_LEVEL_ERROR);
	snprintf(fuzz_dir, sizeof(fuzz_dir), "/dev/shm/acctd-fuzz-XXXXXX");
	if (mkdtemp(fuzz_dir) == NULL) {
		perror("mkdtemp /dev/shm");
		exit(1);
	}
	snprintf(fuzz_state, sizeof(fuzz_state), "%s/state.json", fuzz_dir);
	fuzz_state_reset();
	atexit(fuzz_cleanup);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_io io = { 0 };
	struct agent_io aio = { &io, fuzz_read, fuzz_write };
	int status;

	if (size < 1)
		return 0;
	/* a fresh state file now and then: its size stays small, its rewrite fast */
	if (++fuzz_runs % 256 == 0)
		fuzz_state_reset();
	io.in = data + 1;
	io.len = size - 1;
	io.piece = (data[0] & 1) ? 1 + data[0] % 16 : 0;
	status = agent_req_serve(&aio, fuzz_st, fuzz_hook, NULL, "fuzz");
	if ((status == 0) != (io.out == 0) || (status != 0 && (status < 200 || status > 599)))
		abort();                /* an answer, exactly when a status is returned */
	return 0;
}

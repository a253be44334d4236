/*
 * agent_req.c: whole requests through an in-memory connection: status
 * line, JSON answer, what reached the hook, and framing errors, also when
 * the request arrives one byte at a time. The body's rules are
 * pushmsg_decode's: tests/unit/common/test_pushmsg.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent.h"
#include "fixture.h"

#define U1 "u_0123456789abcdefghij"
#define V1 "SCRAM-SHA-256$4096:/UodNfQJXOzghGW2kPakqA==$" \
	"3GfW6/1tZHLtoTFJMIH1LDKicnw5X736E3EkYt8V+3s=:hiWEdXOoKv0xQb9SZb+SneIbT7B3Vt2g+WiXSCZuofY="
#define PRESENT "{\"user_id\":\"" U1 "\",\"version\":7,\"state\":\"present\"," \
	"\"role\":\"alice\",\"verifier\":\"" V1 "\"}"

static char dir[64], path[128];

/* --- whole requests ------------------------------------------------------- */

struct mem {
	const char *in;
	size_t inlen, off, chunk;
	char out[4096];
	size_t outlen;
};

static int
mem_read(void *ctx, void *buf, size_t len)
{
	struct mem *m = ctx;
	size_t n = m->inlen - m->off;

	if (n > len)
		n = len;
	if (m->chunk && n > m->chunk)
		n = m->chunk;
	memcpy(buf, m->in + m->off, n);
	m->off += n;
	return (int)n;
}

static int
mem_write(void *ctx, const void *buf, size_t len)
{
	struct mem *m = ctx;

	assert_true(m->outlen + len < sizeof(m->out));
	memcpy(m->out + m->outlen, buf, len);
	m->outlen += len;
	m->out[m->outlen] = '\0';
	return 0;
}

struct fake {
	int calls;
	char role[64], verifier[256];
};

static int
fake_hook(void *arg, const char *action, const char *role,
    const char *old_role, const char *verifier, char *err, size_t errlen)
{
	struct fake *f = arg;

	(void)action;
	(void)old_role;
	f->calls++;
	snprintf(f->role, sizeof(f->role), "%s", role);
	snprintf(f->verifier, sizeof(f->verifier), "%s", verifier ? verifier : "");
	if (strcmp(role, "ops") == 0) {
		snprintf(err, errlen, "role \"ops\" exists and is not managed "
		    "by acctd");
		return AGENT_HOOK_NOT_MANAGED;
	}
	if (strcmp(role, "broken") == 0) {
		snprintf(err, errlen, "psql:<stdin>:3: ERROR:  \"quoted\" reason");
		return -1;
	}
	return 0;
}

static struct agent_state *st;

static int
setup(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(fixture_tmpdir(dir, sizeof(dir), "test_agent_req"), 0);
	snprintf(path, sizeof(path), "%s/state.json", dir);
	assert_int_equal(agent_state_open(path, &st, err, sizeof(err)), 0);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	agent_state_free(st);
	return fixture_rmtree(dir);
}

/* serve req (chunk bytes per read, 0 = all); want: the whole answer's
 * status line and body */
static void
t_serve(const char *req, size_t chunk, struct fake *f, int want_status,
    const char *want_line, const char *want_body)
{
	struct mem m = { .in = req, .inlen = strlen(req), .chunk = chunk };
	struct agent_io io = { &m, mem_read, mem_write };
	const char *body;

	assert_int_equal(agent_req_serve(&io, st, fake_hook, f, "test"),
	    want_status);
	assert_int_equal(strncmp(m.out, want_line, strlen(want_line)), 0);
	assert_non_null(strstr(m.out, "\r\nConnection: close\r\n"));
	assert_non_null(strstr(m.out, "\r\nContent-Type: application/json\r\n"));
	body = strstr(m.out, "\r\n\r\n");
	assert_non_null(body);
	assert_string_equal(body + 4, want_body);
}

static char *
t_post(const char *body)
{
	return x_asprintf("POST /v1/state HTTP/1.1\r\nHost: node1\r\n"
	    "content-length: %zu\r\n\r\n%s", strlen(body), body);
}

static void
test_serve_versions(void **state)
{
	struct fake f = { 0 };
	char *req = t_post(PRESENT), *older;

	(void)state;
	t_serve(req, 0, &f, 200, "HTTP/1.1 200 OK\r\n", "{\"applied_version\":7}");
	assert_int_equal(f.calls, 1);
	assert_string_equal(f.role, "alice");
	assert_string_equal(f.verifier, V1);
	/* replay: same answer, nothing re-applied */
	t_serve(req, 1, &f, 200, "HTTP/1.1 200 OK\r\n", "{\"applied_version\":7}");
	assert_int_equal(f.calls, 1);
	older = t_post("{\"user_id\":\"" U1 "\",\"version\":6,"
	    "\"state\":\"absent\"}");
	t_serve(older, 0, &f, 409, "HTTP/1.1 409 Conflict\r\n",
	    "{\"applied_version\":7,\"error\":\"older version\","
	    "\"code\":\"older_version\"}");
	assert_int_equal(f.calls, 1);
	free(older);
	/* the applied version with another state: refused, not a replay */
	older = t_post("{\"user_id\":\"" U1 "\",\"version\":7,"
	    "\"state\":\"disabled\"}");
	t_serve(older, 0, &f, 409, "HTTP/1.1 409 Conflict\r\n",
	    "{\"applied_version\":7,\"error\":\"version already applied "
	    "with another state\",\"code\":\"version_reused\"}");
	assert_int_equal(f.calls, 1);
	free(older);
	free(req);
}

/* a refusing hook: 422 with the reason and a code; nothing saved */
static void
test_serve_refused(void **state)
{
	struct fake f = { 0 };
	char *req = t_post("{\"user_id\":\"" U1 "\",\"version\":3,\"state\":"
	    "\"present\",\"role\":\"ops\",\"verifier\":\"" V1 "\"}");
	int64_t v;
	char role[NAME_HANDLE_MAX + 1];

	(void)state;
	t_serve(req, 0, &f, 422, "HTTP/1.1 422 ",
	    "{\"applied_version\":0,\"error\":\"role \\\"ops\\\" exists and "
	    "is not managed by acctd\",\"code\":\"role_not_managed\"}");
	assert_int_equal(agent_state_get(st, U1, &v, role), 1);
	free(req);
}

static void
test_serve_hook_failure(void **state)
{
	struct fake f = { 0 };
	char *req = t_post("{\"user_id\":\"" U1 "\",\"version\":1,\"state\":"
	    "\"present\",\"role\":\"broken\",\"verifier\":\"" V1 "\"}");
	int64_t v;
	char role[NAME_HANDLE_MAX + 1];

	(void)state;
	t_serve(req, 0, &f, 500, "HTTP/1.1 500 Internal Server Error\r\n",
	    "{\"error\":\"psql:<stdin>:3: ERROR:  \\\"quoted\\\" reason\"}");
	assert_int_equal(agent_state_get(st, U1, &v, role), 1);
	free(req);
}

static void
test_serve_framing(void **state)
{
	struct fake f = { 0 };
	char big[AGENT_MAX_HEAD + 64], *req;

	(void)state;
	t_serve("GET /v1/state HTTP/1.1\r\n\r\n", 0, &f, 405,
	    "HTTP/1.1 405 Method Not Allowed\r\n",
	    "{\"error\":\"method not allowed\"}");
	t_serve("POST /v1/states HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", 0,
	    &f, 404, "HTTP/1.1 404 Not Found\r\n", "{\"error\":\"not found\"}");
	t_serve("POST /v1/state HTTP/1.0\r\nContent-Length: 2\r\n\r\n{}", 0,
	    &f, 505, "HTTP/1.1 505 ", "{\"error\":\"HTTP/1.1 only\"}");
	t_serve("POST  /v1/state HTTP/1.1\r\n\r\n", 0, &f, 400,
	    "HTTP/1.1 400 ", "{\"error\":\"malformed request line\"}");
	t_serve("POST /v1/state HTTP/1.1\r\nHost: x\r\n\r\n", 3, &f, 411,
	    "HTTP/1.1 411 ", "{\"error\":\"Content-Length required\"}");
	t_serve("POST /v1/state HTTP/1.1\r\nContent-Length: 8193\r\n\r\n", 0,
	    &f, 413, "HTTP/1.1 413 ",
	    "{\"error\":\"body larger than 8192 bytes\"}");
	t_serve("POST /v1/state HTTP/1.1\r\nContent-Length: 2\r\n"
	    "Content-Length: 2\r\n\r\n{}", 0, &f, 400, "HTTP/1.1 400 ",
	    "{\"error\":\"Content-Length: must be one decimal number\"}");
	t_serve("POST /v1/state HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 0,
	    &f, 400, "HTTP/1.1 400 ",
	    "{\"error\":\"Content-Length: must be one decimal number\"}");
	t_serve("POST /v1/state HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
	    "Content-Length: 2\r\n\r\n{}", 0, &f, 400, "HTTP/1.1 400 ",
	    "{\"error\":\"Transfer-Encoding is not supported: send "
	    "Content-Length\"}");
	t_serve("POST /v1/state HTTP/1.1\r\nContent Length: 2\r\n\r\n{}", 0,
	    &f, 400, "HTTP/1.1 400 ", "{\"error\":\"malformed header line\"}");
	t_serve("POST /v1/state HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}{}", 0,
	    &f, 400, "HTTP/1.1 400 ", "{\"error\":\"data after the body: one "
	    "request per connection\"}");
	t_serve("POST /v1/state HTTP/1.1\r\nContent-Length: 2\r\n\r\n[]", 1,
	    &f, 400, "HTTP/1.1 400 ", "{\"error\":\"body: must be a JSON "
	    "object\"}");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "POST /v1/state HTTP/1.1\r\nX: ", 28);
	t_serve(big, 0, &f, 431, "HTTP/1.1 431 ",
	    "{\"error\":\"request head too large\"}");
	assert_int_equal(f.calls, 0);
	/* cut short: no answer at all */
	req = t_post(PRESENT);
	req[strlen(req) - 5] = '\0';
	{
		struct mem m = { .in = req, .inlen = strlen(req) };
		struct agent_io io = { &m, mem_read, mem_write };

		assert_int_equal(agent_req_serve(&io, st, fake_hook, &f, "t"), 0);
		assert_int_equal(m.outlen, 0);
	}
	free(req);
	assert_int_equal(f.calls, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_serve_versions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_serve_hook_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_serve_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_serve_framing, setup, teardown),
	};

	log_init("test", 1, LOG_LEVEL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

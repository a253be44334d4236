/*
 * pushmsg.c: the push protocol's two messages. Every state and every
 * refusal code survives encode -> decode unchanged; the agent's decoder
 * refuses every malformed body with the exact 400 reason ("field: reason")
 * the agent answers; acctd's answer decoder takes what it needs and
 * ignores the rest.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common.h"

#define U1 "u_0123456789abcdefghij"
#define V1 "SCRAM-SHA-256$4096:/UodNfQJXOzghGW2kPakqA==$" \
	"3GfW6/1tZHLtoTFJMIH1LDKicnw5X736E3EkYt8V+3s=:hiWEdXOoKv0xQb9SZb+SneIbT7B3Vt2g+WiXSCZuofY="
#define PRESENT "{\"user_id\":\"" U1 "\",\"version\":7,\"state\":\"present\"," \
	"\"role\":\"alice\",\"verifier\":\"" V1 "\"}"

/* --- the state ------------------------------------------------------------ */

static void
t_body_err(const char *body, const char *want)
{
	struct pushmsg m;
	char err[256] = "";

	assert_int_equal(pushmsg_decode(body, strlen(body), &m, err,
	    sizeof(err)), -1);
	assert_string_equal(err, want);
	/* nothing of a refused body is left behind */
	assert_string_equal(m.user_id, "");
	assert_string_equal(m.verifier, "");
}

/* what acctd sends (push.c) is exactly what the agent read before */
static void
test_encode_wire(void **state)
{
	struct pushmsg m = { .user_id = U1, .version = 7,
	    .state = PUSHMSG_PRESENT, .role = "alice", .verifier = V1 };
	char *s;

	(void)state;
	s = pushmsg_encode(&m);
	assert_string_equal(s, PRESENT);
	free(s);
	m.version = 8;
	m.state = PUSHMSG_DISABLED;     /* role and verifier are not sent */
	s = pushmsg_encode(&m);
	assert_string_equal(s, "{\"user_id\":\"" U1 "\",\"version\":8,"
	    "\"state\":\"disabled\"}");
	free(s);
}

static void
test_round_trip_states(void **state)
{
	static const enum pushmsg_state states[] = {
		PUSHMSG_PRESENT, PUSHMSG_DISABLED, PUSHMSG_ABSENT
	};
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
		struct pushmsg m, back;
		char *s;

		memset(&m, 0, sizeof(m));
		snprintf(m.user_id, sizeof(m.user_id), "%s", U1);
		m.version = (int64_t)i + 1 + (INT64_C(1) << 40);
		m.state = states[i];
		if (m.state == PUSHMSG_PRESENT) {
			snprintf(m.role, sizeof(m.role), "%s", "alice-2");
			snprintf(m.verifier, sizeof(m.verifier), "%s", V1);
		}
		s = pushmsg_encode(&m);
		assert_int_equal(pushmsg_decode(s, strlen(s), &back, err,
		    sizeof(err)), 0);
		assert_memory_equal(&m, &back, sizeof(m));
		free(s);
	}
}

static void
test_state_names(void **state)
{
	enum pushmsg_state st = PUSHMSG_PRESENT;

	(void)state;
	assert_string_equal(pushmsg_state_name(PUSHMSG_ABSENT), "absent");
	assert_int_equal(pushmsg_state_parse("disabled", &st), 0);
	assert_int_equal(st, PUSHMSG_DISABLED);
	assert_int_equal(pushmsg_state_parse("Present", &st), -1);
	assert_int_equal(pushmsg_state_parse(NULL, &st), -1);
	assert_int_equal(st, PUSHMSG_DISABLED);
}

static void
test_decode_present_and_absent(void **state)
{
	struct pushmsg m;
	const char *absent = "{\"state\":\"absent\",\"version\":8,"
	    "\"user_id\":\"" U1 "\"}";
	char err[256];

	(void)state;
	assert_int_equal(pushmsg_decode(PRESENT, strlen(PRESENT), &m, err,
	    sizeof(err)), 0);
	assert_string_equal(m.user_id, U1);
	assert_int_equal(m.version, 7);
	assert_int_equal(m.state, PUSHMSG_PRESENT);
	assert_string_equal(m.role, "alice");
	assert_string_equal(m.verifier, V1);
	assert_int_equal(pushmsg_decode(absent, strlen(absent), &m, err,
	    sizeof(err)), 0);
	assert_int_equal(m.state, PUSHMSG_ABSENT);
	assert_int_equal(m.version, 8);
	assert_string_equal(m.role, "");
	assert_string_equal(m.verifier, "");
}

static void
test_decode_rules(void **state)
{
	(void)state;
	t_body_err("", "body: request body is empty");
	t_body_err("{", "body: malformed JSON at byte 0");
	t_body_err("[1]", "body: must be a JSON object");
	t_body_err("{\"user_id\":\"" U1 "\",\"user_id\":\"" U1 "\"}",
	    "body: duplicate key");
	t_body_err("{\"user_id\":\"" U1 "\",\"version\":1,\"state\":\"absent\","
	    "\"comment\":\"x\"}", "comment: unknown field");
	t_body_err("{\"a\\nb\\\"c\":1}", "a?b?c: unknown field");
	t_body_err("{\"version\":1,\"state\":\"absent\"}", "user_id: required");
	t_body_err("{\"user_id\":\"t_0123456789abcdefghij\"}",
	    "user_id: must be u_ and 20 characters of [0-9a-v]");
	t_body_err("{\"user_id\":\"u_0123456789abcdefghiw\"}",
	    "user_id: must be u_ and 20 characters of [0-9a-v]");
	t_body_err("{\"user_id\":7}",
	    "user_id: must be u_ and 20 characters of [0-9a-v]");
	t_body_err("{\"user_id\":\"" U1 "\"}", "version: required");
	t_body_err("{\"user_id\":\"" U1 "\",\"version\":0}",
	    "version: must be a positive integer");
	t_body_err("{\"user_id\":\"" U1 "\",\"version\":-3}",
	    "version: must be a positive integer");
	t_body_err("{\"user_id\":\"" U1 "\",\"version\":1.5}",
	    "version: must be a positive integer");
	t_body_err("{\"user_id\":\"" U1 "\",\"version\":\"2\"}",
	    "version: must be a positive integer");
	t_body_err("{\"user_id\":\"" U1 "\",\"version\":1e300}",
	    "version: must be a positive integer");
	t_body_err("{\"user_id\":\"" U1 "\",\"version\":1}", "state: required");
	t_body_err("{\"user_id\":\"" U1 "\",\"version\":1,\"state\":\"gone\"}",
	    "state: must be \"present\", \"disabled\" or \"absent\"");
	t_body_err("{\"user_id\":\"" U1 "\",\"version\":1,\"state\":\"disabled\","
	    "\"role\":\"alice\"}", "role: not allowed when state is disabled");
	t_body_err("{\"user_id\":\"" U1 "\",\"version\":1,\"state\":\"absent\","
	    "\"role\":\"alice\"}", "role: not allowed when state is absent");
	t_body_err("{\"user_id\":\"" U1 "\",\"version\":1,\"state\":\"absent\","
	    "\"verifier\":\"" V1 "\"}",
	    "verifier: not allowed when state is absent");
	t_body_err("{\"user_id\":\"" U1 "\",\"version\":1,\"state\":\"present\","
	    "\"verifier\":\"" V1 "\"}", "role: required when state is present");
	t_body_err("{\"user_id\":\"" U1 "\",\"version\":1,\"state\":\"present\","
	    "\"role\":\"Alice\",\"verifier\":\"" V1 "\"}",
	    "role: not a valid user handle");
	t_body_err("{\"user_id\":\"" U1 "\",\"version\":1,\"state\":\"present\","
	    "\"role\":\"a\\\"; DROP ROLE x; --\",\"verifier\":\"" V1 "\"}",
	    "role: not a valid user handle");
	t_body_err("{\"user_id\":\"" U1 "\",\"version\":1,\"state\":\"present\","
	    "\"role\":\"alice\"}", "verifier: required when state is present");
	t_body_err("{\"user_id\":\"" U1 "\",\"version\":1,\"state\":\"present\","
	    "\"role\":\"alice\",\"verifier\":\"md5abc\"}",
	    "verifier: not a SCRAM-SHA-256 verifier");
	t_body_err("{\"user_id\":\"" U1 "\",\"version\":1,\"state\":\"present\","
	    "\"role\":\"alice\",\"verifier\":\"" V1 "'; DROP ROLE x; --\"}",
	    "verifier: not a SCRAM-SHA-256 verifier");
	t_body_err("{\"user_id\":\"" U1 "\",\"version\":1,\"state\":\"present\","
	    "\"role\":\"alice\",\"verifier\":\"correct horse\"}",
	    "verifier: not a SCRAM-SHA-256 verifier");
}

/* --- the answer ----------------------------------------------------------- */

static void
test_answer_round_trip(void **state)
{
	static const enum pushmsg_code codes[] = {
		PUSHMSG_CODE_NONE, PUSHMSG_CODE_OLDER_VERSION,
		PUSHMSG_CODE_VERSION_REUSED, PUSHMSG_CODE_ROLE_NOT_MANAGED,
		PUSHMSG_CODE_ROLE_PRIVILEGED
	};

	(void)state;
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		struct pushmsg_answer a, back;
		char *s;

		memset(&a, 0, sizeof(a));
		a.applied_version = (int64_t)i * 1000;
		a.code = codes[i];
		if (codes[i] != PUSHMSG_CODE_NONE)
			snprintf(a.error, sizeof(a.error), "role \"ops\" exists "
			    "and is not managed by acctd (%zu)", i);
		s = pushmsg_answer_encode(&a);
		assert_int_equal(pushmsg_answer_decode(s, strlen(s), &back), 0);
		assert_memory_equal(&a, &back, sizeof(a));
		free(s);
	}
}

/* the agent's bytes, as before the messages had one definition */
static void
test_answer_wire(void **state)
{
	struct pushmsg_answer a = { .applied_version = 9,
	    .code = PUSHMSG_CODE_OLDER_VERSION, .error = "older version" };
	char *s;

	(void)state;
	s = pushmsg_answer_encode(&a);
	assert_string_equal(s, "{\"applied_version\":9,\"error\":\"older "
	    "version\",\"code\":\"older_version\"}");
	free(s);
	memset(&a, 0, sizeof(a));
	a.applied_version = -1;         /* a 500: no version, the reason only */
	snprintf(a.error, sizeof(a.error), "psql: \"x\"");
	s = pushmsg_answer_encode(&a);
	assert_string_equal(s, "{\"error\":\"psql: \\\"x\\\"\"}");
	free(s);
	assert_string_equal(pushmsg_code_name(PUSHMSG_CODE_ROLE_PRIVILEGED),
	    "role_privileged");
	assert_null(pushmsg_code_name(PUSHMSG_CODE_NONE));
}

static void
t_answer(const char *body, int rc, int64_t applied, enum pushmsg_code code,
    const char *error)
{
	struct pushmsg_answer a;

	assert_int_equal(pushmsg_answer_decode(body, strlen(body), &a), rc);
	assert_int_equal(a.applied_version, applied);
	assert_int_equal(a.code, code);
	assert_string_equal(a.error, error);
}

/* acctd reads what it acts on; the rest of a body is not its business */
static void
test_answer_lenient(void **state)
{
	char big[1200];

	(void)state;
	t_answer("", -1, -1, PUSHMSG_CODE_NONE, "");
	t_answer("<html>", -1, -1, PUSHMSG_CODE_NONE, "");
	t_answer("[1]", -1, -1, PUSHMSG_CODE_NONE, "");
	t_answer("{}", 0, -1, PUSHMSG_CODE_NONE, "");
	t_answer("{\"applied_version\":\"3\",\"error\":5}", 0, -1,
	    PUSHMSG_CODE_NONE, "");
	t_answer("{\"applied_version\":3,\"code\":\"new_thing\",\"x\":[]}", 0, 3,
	    PUSHMSG_CODE_OTHER, "");
	t_answer("{\"code\":\"version_reused\",\"applied_version\":4}", 0, 4,
	    PUSHMSG_CODE_VERSION_REUSED, "");
	/* a longer reason is cut, not refused */
	memset(big, 'a', sizeof(big));
	memcpy(big, "{\"error\":\"", 10);
	memcpy(big + sizeof(big) - 3, "\"}", 3);
	{
		struct pushmsg_answer a;

		assert_int_equal(pushmsg_answer_decode(big, strlen(big), &a), 0);
		assert_int_equal(strlen(a.error), PUSHMSG_REASON_MAX - 1);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_wire),
		cmocka_unit_test(test_round_trip_states),
		cmocka_unit_test(test_state_names),
		cmocka_unit_test(test_decode_present_and_absent),
		cmocka_unit_test(test_decode_rules),
		cmocka_unit_test(test_answer_round_trip),
		cmocka_unit_test(test_answer_wire),
		cmocka_unit_test(test_answer_lenient),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

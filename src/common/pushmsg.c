/*
 * pushmsg.c — the push protocol's two messages, in one place so that acctd
 * (which sends a state and reads the answer) and acctd-agent (which reads
 * the state and answers) cannot drift apart (docs/agent.md "Protocol"):
 *
 *   state   {"user_id":"u_…","version":7,"state":"present","role":"alice",
 *            "verifier":"SCRAM-SHA-256$4096:…$…:…"}
 *           {"user_id":"u_…","version":8,"state":"absent"}   (or "disabled")
 *   answer  {"applied_version":N,"error":"…","code":"…"}     (each optional)
 *
 * The state's decoder is the agent's whole defence against a malformed
 * request, so it is strict and touches nothing but its arguments (bytes in,
 * a struct or "field: reason" out; tests/fuzz/fuzz_agent_body.c runs it
 * alone). The answer's decoder is acctd's, and lenient: it takes what acctd
 * acts on and ignores the rest.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static const char *const pushmsg_states[] = {
	[PUSHMSG_ABSENT] = "absent",
	[PUSHMSG_PRESENT] = "present",
	[PUSHMSG_DISABLED] = "disabled",
};

static const char *const pushmsg_codes[] = {
	[PUSHMSG_CODE_NONE] = NULL,
	[PUSHMSG_CODE_OLDER_VERSION] = "older_version",
	[PUSHMSG_CODE_VERSION_REUSED] = "version_reused",
	[PUSHMSG_CODE_ROLE_NOT_MANAGED] = "role_not_managed",
	[PUSHMSG_CODE_ROLE_PRIVILEGED] = "role_privileged",
	[PUSHMSG_CODE_OTHER] = NULL,
};

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

const char *
pushmsg_state_name(enum pushmsg_state st)
{
	return (unsigned)st < sizeof(pushmsg_states) / sizeof(pushmsg_states[0]) ?
	    pushmsg_states[st] : "absent";
}

int
pushmsg_state_parse(const char *s, enum pushmsg_state *st)
{
	for (size_t i = 0; s != NULL &&
	    i < sizeof(pushmsg_states) / sizeof(pushmsg_states[0]); i++)
		if (strcmp(s, pushmsg_states[i]) == 0) {
			*st = (enum pushmsg_state)i;
			return 0;
		}
	return -1;
}

const char *
pushmsg_code_name(enum pushmsg_code c)
{
	return (unsigned)c < sizeof(pushmsg_codes) / sizeof(pushmsg_codes[0]) ?
	    pushmsg_codes[c] : NULL;
}

char *
pushmsg_encode(const struct pushmsg *m)
{
	struct json *j = json_object();
	char *s;

	json_set_str(j, "user_id", m->user_id);
	json_set_int(j, "version", m->version);
	json_set_str(j, "state", pushmsg_state_name(m->state));
	if (m->state == PUSHMSG_PRESENT) {
		json_set_str(j, "role", m->role);
		json_set_str(j, "verifier", m->verifier);
	}
	s = json_print(j);
	json_free(j);      /* cJSON frees without wiping: the copy is brief */
	return s;
}

/* --- the agent's reading of a state ------------------------------------ */

/* a key as it may appear in a reason and a log line: [A-Za-z0-9_-], 40 max */
static void
pushmsg_safe(const char *in, char *out, size_t outlen)
{
	size_t i;

	for (i = 0; in[i] != '\0' && i + 1 < outlen && i < 40; i++)
		out[i] = (strchr("abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-", in[i]) != NULL) ?
		    in[i] : '?';
	out[i] = '\0';
}

/* every member is one of the state's fields */
static int
pushmsg_known_fields(const struct json *j, char *err, size_t errlen)
{
	static const char *const allowed[] = {
		"user_id", "version", "state", "role", "verifier", NULL
	};
	struct json *m;
	const char *key;
	char safe[48];
	size_t i;

	for (m = json_next(j, NULL, &key); m != NULL; m = json_next(j, m, &key)) {
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(allowed[i], key) == 0)
				break;
		if (allowed[i] == NULL) {
			pushmsg_safe(key, safe, sizeof(safe));
			snprintf(err, errlen, "%s: unknown field", safe);
			return -1;
		}
	}
	return 0;
}

/* user_id, version and state, which every state has */
static int
pushmsg_decode_head(const struct json *j, struct pushmsg *m, char *err,
    size_t errlen)
{
	const char *s;

	if ((s = json_str(json_get(j, "user_id"))) == NULL ||
	    !secret_id_valid(s, "u_")) {
		snprintf(err, errlen, "user_id: %s", json_get(j, "user_id") ?
		    "must be u_ and 20 characters of [0-9a-v]" : "required");
		return -1;
	}
	memcpy(m->user_id, s, sizeof(m->user_id));
	if (json_int(json_get(j, "version"), &m->version) == -1 ||
	    m->version < 1) {
		snprintf(err, errlen, "version: %s", json_get(j, "version") ?
		    "must be a positive integer" : "required");
		return -1;
	}
	if (pushmsg_state_parse(json_str(json_get(j, "state")), &m->state) == -1) {
		snprintf(err, errlen, "state: %s", json_get(j, "state") ?
		    "must be \"present\", \"disabled\" or \"absent\"" :
		    "required");
		return -1;
	}
	return 0;
}

/* role and verifier: both for present, neither otherwise */
static int
pushmsg_decode_role(const struct json *j, struct pushmsg *m, char *err,
    size_t errlen)
{
	struct json *role = json_get(j, "role"), *ver = json_get(j, "verifier");
	const char *s;

	if (m->state != PUSHMSG_PRESENT) {
		if (role == NULL && ver == NULL)
			return 0;
		snprintf(err, errlen, "%s: not allowed when state is %s",
		    role != NULL ? "role" : "verifier",
		    pushmsg_state_name(m->state));
		return -1;
	}
	if ((s = json_str(role)) == NULL || !name_handle_valid(s)) {
		snprintf(err, errlen, "role: %s", role ?
		    "not a valid user handle" : "required when state is present");
		return -1;
	}
	memcpy(m->role, s, strlen(s) + 1);
	if ((s = json_str(ver)) == NULL || !pushmsg_verifier_valid(s)) {
		snprintf(err, errlen, "verifier: %s", ver ?
		    "not a SCRAM-SHA-256 verifier" :
		    "required when state is present");
		return -1;
	}
	memcpy(m->verifier, s, strlen(s) + 1);
	return 0;
}

int
pushmsg_decode(const char *body, size_t len, struct pushmsg *m, char *err,
    size_t errlen)
{
	struct json *j = NULL;
	char why[128];
	int rc = -1;

	memset(m, 0, sizeof(*m));
	if (json_parse(body, len, &j, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "body: %s", why);
		return -1;
	}
	if (!json_is_object(j))
		snprintf(err, errlen, "body: must be a JSON object");
	else if (pushmsg_known_fields(j, err, errlen) == 0 &&
	    pushmsg_decode_head(j, m, err, errlen) == 0 &&
	    pushmsg_decode_role(j, m, err, errlen) == 0)
		rc = 0;
	json_free(j);
	if (rc == -1)
		crypto_wipe(m, sizeof(*m));
	return rc;
}

/* --- the answer ---------------------------------------------------------- */

char *
pushmsg_answer_encode(const struct pushmsg_answer *a)
{
	struct json *j = json_object();
	const char *code = pushmsg_code_name(a->code);
	char *s;

	if (a->applied_version >= 0)
		json_set_int(j, "applied_version", a->applied_version);
	if (a->error[0] != '\0')
		json_set_str(j, "error", a->error);
	if (code != NULL)
		json_set_str(j, "code", code);
	s = json_print(j);
	json_free(j);
	return s;
}

int
pushmsg_answer_decode(const char *body, size_t len, struct pushmsg_answer *a)
{
	struct json *j = NULL;
	const char *s;
	char why[64];

	memset(a, 0, sizeof(*a));
	a->applied_version = -1;
	if (json_parse(body, len, &j, why, sizeof(why)) == -1)
		return -1;
	if (!json_is_object(j)) {
		json_free(j);
		return -1;
	}
	if (json_int(json_get(j, "applied_version"), &a->applied_version) == -1)
		a->applied_version = -1;
	if ((s = json_str(json_get(j, "error"))) != NULL)
		snprintf(a->error, sizeof(a->error), "%s", s);
	if ((s = json_str(json_get(j, "code"))) != NULL) {
		a->code = PUSHMSG_CODE_OTHER;
		for (size_t i = 0; i < sizeof(pushmsg_codes) / sizeof(pushmsg_codes[0]); i++)
			if (pushmsg_codes[i] != NULL && strcmp(s, pushmsg_codes[i]) == 0)
				a->code = (enum pushmsg_code)i;
	}
	json_free(j);
	return 0;
}

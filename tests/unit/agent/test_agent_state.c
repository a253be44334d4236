/*
 * agent_state.c against real files in a temp directory: the version rule
 * (newer runs the hook then saves, equal is a replay, older is refused),
 * what the hook is told (role, former role), that a failed hook or save
 * leaves memory and file as they were, persistence across a reopen, the
 * one-role-one-user rule, the file checks at load, and the write-ahead
 * intent: a crash between the hook and the save (simulated by reopening a
 * copy of the file taken while the hook ran) leaves a state whose next
 * change reaches every name the user's role may have.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent.h"
#include "fixture.h"

#define U1 "u_0123456789abcdefghij"
#define U2 "u_0000000000000000000v"
#define V1 "SCRAM-SHA-256$4096:/UodNfQJXOzghGW2kPakqA==$" \
	"3GfW6/1tZHLtoTFJMIH1LDKicnw5X736E3EkYt8V+3s=:hiWEdXOoKv0xQb9SZb+SneIbT7B3Vt2g+WiXSCZuofY="

static char dir[64], path[128];

static char snap[160];		/* the state file as a crash would leave it */

/* a hook that records its calls and fails on demand */
struct fake {
	int calls;
	int fail;               /* 1: fails; or a refusal (AGENT_HOOK_*) */
	int snapshot;           /* copy the state file to snap while "running" */
	char action[16], role[64], old[400], verifier[256];
	char log[1024];         /* every call: "action role [old];" */
};

static char *slurp(const char *p);
static void spit(const char *p, const char *text);

static int
fake_hook(void *arg, const char *action, const char *role,
    const char *old_role, const char *verifier, char *err, size_t errlen)
{
	struct fake *f = arg;

	f->calls++;
	snprintf(f->action, sizeof(f->action), "%s", action);
	snprintf(f->role, sizeof(f->role), "%s", role);
	snprintf(f->old, sizeof(f->old), "%s", old_role);
	snprintf(f->verifier, sizeof(f->verifier), "%s",
	    verifier ? verifier : "(null)");
	snprintf(f->log + strlen(f->log), sizeof(f->log) - strlen(f->log),
	    "%s %s [%s];", action, role, old_role);
	if (f->snapshot) {
		char *text = slurp(path);

		spit(snap, text);
		free(text);
	}
	if (f->fail == AGENT_HOOK_NOT_MANAGED || f->fail == AGENT_HOOK_PRIVILEGED) {
		snprintf(err, errlen, "role \"%s\" exists and is not managed "
		    "by acctd", role);
		return f->fail;
	}
	if (f->fail) {
		snprintf(err, errlen, "psql: error: connection refused");
		return -1;
	}
	return 0;
}

static int
setup(void **state)
{
	(void)state;
	assert_int_equal(fixture_tmpdir(dir, sizeof(dir), "test_agent_state"), 0);
	snprintf(path, sizeof(path), "%s/state.json", dir);
	snprintf(snap, sizeof(snap), "%s/crashed.json", dir);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	return fixture_rmtree(dir);
}

static char *
slurp(const char *p)
{
	FILE *f = fopen(p, "r");
	char *buf = x_calloc(1, 65536);
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, 65535, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void
spit(const char *p, const char *text)
{
	FILE *f = fopen(p, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static struct agent_state *
open_ok(void)
{
	struct agent_state *s = NULL;
	char err[256] = "";

	assert_int_equal(agent_state_open(path, &s, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_non_null(s);
	return s;
}

static void
change(struct pushmsg *ch, const char *id, int64_t version,
    const char *role)
{
	memset(ch, 0, sizeof(*ch));
	snprintf(ch->user_id, sizeof(ch->user_id), "%s", id);
	ch->version = version;
	ch->state = role != NULL ? PUSHMSG_PRESENT : PUSHMSG_ABSENT;
	if (role != NULL) {
		snprintf(ch->role, sizeof(ch->role), "%s", role);
		snprintf(ch->verifier, sizeof(ch->verifier), "%s", V1);
	}
}

static enum agent_apply
apply(struct agent_state *s, struct fake *f, const char *id, int64_t version,
    const char *role, int64_t *applied, char *err, size_t errlen)
{
	struct pushmsg ch;

	change(&ch, id, version, role);
	return agent_state_apply(s, &ch, fake_hook, f, applied, err, errlen);
}

/* ---------------------------------------------------------------------- */

static void
test_first_start_writes_empty_file(void **state)
{
	struct agent_state *s;
	char *text;
	int64_t v;
	char role[NAME_HANDLE_MAX + 1];

	(void)state;
	s = open_ok();
	text = slurp(path);
	assert_string_equal(text, "{\n}\n");
	free(text);
	assert_int_equal(agent_state_count(s), 0);
	assert_int_equal(agent_state_get(s, U1, &v, role), 1);
	agent_state_free(s);
}

static void
test_newer_runs_hook_then_saves(void **state)
{
	struct agent_state *s = open_ok();
	struct fake f = { 0 };
	char err[256], role[NAME_HANDLE_MAX + 1], *text;
	int64_t applied = -1, v;

	(void)state;
	assert_int_equal(apply(s, &f, U1, 3, "alice", &applied, err,
	    sizeof(err)), AGENT_APPLIED);
	assert_int_equal(applied, 3);
	assert_int_equal(f.calls, 1);
	assert_string_equal(f.action, "present");
	assert_string_equal(f.role, "alice");
	assert_string_equal(f.old, "");
	assert_string_equal(f.verifier, V1);
	assert_int_equal(agent_state_get(s, U1, &v, role), 0);
	assert_int_equal(v, 3);
	assert_string_equal(role, "alice");
	text = slurp(path);
	assert_string_equal(text, "{\n\"" U1 "\": {\"version\": 3, "
	    "\"role\": \"alice\", \"digest\": "
	    "\"6fffcf7fa6acaa8b030311db41f6a9d4\"}\n}\n");
	assert_null(strstr(text, "SCRAM"));	/* no verifier at rest */
	free(text);
	text = x_asprintf("%s.tmp", path);
	assert_int_equal(access(text, F_OK), -1);
	free(text);
	agent_state_free(s);

	/* a restart knows it: equal is a replay, older is refused */
	s = open_ok();
	assert_int_equal(apply(s, &f, U1, 3, "alice", &applied, err,
	    sizeof(err)), AGENT_REPLAY);
	assert_int_equal(applied, 3);
	assert_int_equal(apply(s, &f, U1, 2, "alice", &applied, err,
	    sizeof(err)), AGENT_OLDER);
	assert_int_equal(applied, 3);
	assert_int_equal(f.calls, 1);		/* neither ran the hook */
	agent_state_free(s);
}

static void
test_hook_failure_saves_nothing(void **state)
{
	struct agent_state *s = open_ok();
	struct fake f = { 0 };
	char err[256], role[NAME_HANDLE_MAX + 1], *before, *after;
	int64_t applied, v;

	(void)state;
	assert_int_equal(apply(s, &f, U1, 1, "alice", &applied, err,
	    sizeof(err)), AGENT_APPLIED);
	before = slurp(path);
	f.fail = 1;
	assert_int_equal(apply(s, &f, U1, 2, "alice", &applied, err,
	    sizeof(err)), AGENT_FAILED);
	assert_string_equal(err, "psql: error: connection refused");
	assert_int_equal(applied, 1);
	assert_int_equal(agent_state_get(s, U1, &v, role), 0);
	assert_int_equal(v, 1);
	after = slurp(path);
	assert_string_equal(before, after);
	free(after);
	/* the retry applies */
	f.fail = 0;
	assert_int_equal(apply(s, &f, U1, 2, "alice", &applied, err,
	    sizeof(err)), AGENT_APPLIED);
	assert_int_equal(applied, 2);
	free(before);
	agent_state_free(s);
}

static void
test_rename_passes_old_role(void **state)
{
	struct agent_state *s = open_ok();
	struct fake f = { 0 };
	char err[256], role[NAME_HANDLE_MAX + 1];
	int64_t applied, v;

	(void)state;
	assert_int_equal(apply(s, &f, U1, 1, "alice", &applied, err,
	    sizeof(err)), AGENT_APPLIED);
	assert_int_equal(apply(s, &f, U1, 2, "alice2", &applied, err,
	    sizeof(err)), AGENT_APPLIED);
	assert_string_equal(f.role, "alice2");
	assert_string_equal(f.old, "alice");
	/* the same role again: no former role */
	assert_int_equal(apply(s, &f, U1, 3, "alice2", &applied, err,
	    sizeof(err)), AGENT_APPLIED);
	assert_string_equal(f.old, "");
	assert_int_equal(agent_state_get(s, U1, &v, role), 0);
	assert_string_equal(role, "alice2");
	agent_state_free(s);
}

static void
test_absent_drops_stored_role_and_stays(void **state)
{
	struct agent_state *s = open_ok();
	struct fake f = { 0 };
	char err[256], role[NAME_HANDLE_MAX + 1];
	int64_t applied, v;

	(void)state;
	assert_int_equal(apply(s, &f, U1, 4, "alice", &applied, err,
	    sizeof(err)), AGENT_APPLIED);
	assert_int_equal(apply(s, &f, U1, 5, NULL, &applied, err,
	    sizeof(err)), AGENT_APPLIED);
	assert_int_equal(f.calls, 2);
	assert_string_equal(f.action, "absent");
	assert_string_equal(f.role, "alice");
	assert_string_equal(f.old, "");
	assert_string_equal(f.verifier, "(null)");
	assert_int_equal(agent_state_get(s, U1, &v, role), 0);
	assert_int_equal(v, 5);
	assert_string_equal(role, "");
	agent_state_free(s);

	/* a replayed older present cannot bring the role back */
	s = open_ok();
	assert_int_equal(apply(s, &f, U1, 4, "alice", &applied, err,
	    sizeof(err)), AGENT_OLDER);
	assert_int_equal(applied, 5);
	/* absent again (newer): nothing left to drop */
	assert_int_equal(apply(s, &f, U1, 6, NULL, &applied, err,
	    sizeof(err)), AGENT_APPLIED);
	assert_int_equal(f.calls, 2);
	agent_state_free(s);
}

static void
test_absent_of_unknown_user_is_recorded(void **state)
{
	struct agent_state *s = open_ok();
	struct fake f = { 0 };
	char err[256], role[NAME_HANDLE_MAX + 1];
	int64_t applied, v;

	(void)state;
	assert_int_equal(apply(s, &f, U2, 7, NULL, &applied, err,
	    sizeof(err)), AGENT_APPLIED);
	assert_int_equal(f.calls, 0);		/* no role known: no hook */
	assert_int_equal(agent_state_get(s, U2, &v, role), 0);
	assert_int_equal(v, 7);
	assert_string_equal(role, "");
	assert_int_equal(apply(s, &f, U2, 6, "bob", &applied, err,
	    sizeof(err)), AGENT_OLDER);
	agent_state_free(s);
}

static void
test_one_role_one_user(void **state)
{
	struct agent_state *s = open_ok();
	struct fake f = { 0 };
	char err[256];
	int64_t applied;

	(void)state;
	assert_int_equal(apply(s, &f, U1, 1, "alice", &applied, err,
	    sizeof(err)), AGENT_APPLIED);
	/* a new account with the handle, before the old one's deletion */
	assert_int_equal(apply(s, &f, U2, 1, "alice", &applied, err,
	    sizeof(err)), AGENT_FAILED);
	assert_string_equal(err, "role \"alice\" still belongs to " U1
	    " until its removal is applied");
	assert_int_equal(applied, 0);
	assert_int_equal(f.calls, 1);
	/* the deletion arrives, then the retry applies */
	assert_int_equal(apply(s, &f, U1, 2, NULL, &applied, err,
	    sizeof(err)), AGENT_APPLIED);
	assert_int_equal(apply(s, &f, U2, 1, "alice", &applied, err,
	    sizeof(err)), AGENT_APPLIED);
	assert_string_equal(f.action, "present");
	assert_string_equal(f.old, "");
	assert_int_equal(agent_state_count(s), 2);
	agent_state_free(s);
}

static void
test_save_failure_keeps_memory(void **state)
{
	struct agent_state *s = open_ok();
	struct fake f = { 0 };
	char err[256], role[NAME_HANDLE_MAX + 1];
	int64_t applied, v;

	(void)state;
	assert_int_equal(apply(s, &f, U1, 1, "alice", &applied, err,
	    sizeof(err)), AGENT_APPLIED);
	/* the directory goes away (root ignores permissions: remove it) */
	assert_int_equal(fixture_rmtree(dir), 0);
	assert_int_equal(apply(s, &f, U1, 2, "alice", &applied, err,
	    sizeof(err)), AGENT_FAILED);
	assert_non_null(strstr(err, "cannot save the state: "));
	assert_non_null(strstr(err, "cannot create"));
	assert_int_equal(applied, 1);
	assert_int_equal(agent_state_get(s, U1, &v, role), 0);
	assert_int_equal(v, 1);
	/* a new user id is not kept either */
	assert_int_equal(apply(s, &f, U2, 1, "bob", &applied, err,
	    sizeof(err)), AGENT_FAILED);
	assert_int_equal(agent_state_get(s, U2, &v, role), 1);
	assert_int_equal(agent_state_count(s), 1);
	agent_state_free(s);
	assert_int_equal(mkdir(dir, 0700), 0);	/* for teardown */
}

static void
t_bad_file(const char *text, const char *want_suffix)
{
	struct agent_state *s = (struct agent_state *)&s;
	char err[256] = "", *want;

	spit(path, text);
	assert_int_equal(agent_state_open(path, &s, err, sizeof(err)), -1);
	assert_null(s);
	want = x_asprintf("%s: %s", path, want_suffix);
	assert_string_equal(err, want);
	free(want);
}

static void
t_bad_pending(const char *value)
{
	char *text = x_asprintf("{\"" U1 "\": {\"version\": 1, \"role\": "
	    "\"a\", \"pending\": %s}}", value);

	t_bad_file(text, U1 ": pending: must be 1 to 8 user handles, one "
	    "space between, other than the role");
	free(text);
}

static void
test_bad_files_refused(void **state)
{
	(void)state;
	t_bad_file("", "empty file");
	t_bad_file("{", "malformed JSON at byte 0");
	t_bad_file("[]", "not a JSON object");
	t_bad_file("{\"alice\": {\"version\": 1, \"role\": \"alice\"}}",
	    "\"alice\": not a user id with an object");
	t_bad_file("{\"" U1 "\": 3}",
	    "\"" U1 "\": not a user id with an object");
	t_bad_file("{\"" U1 "\": {\"version\": 1, \"role\": \"a\", \"x\": 1}}",
	    U1 ": unknown field \"x\"");
	t_bad_file("{\"" U1 "\": {\"version\": 0, \"role\": \"a\"}}",
	    U1 ": needs a positive version and a role (\"\" or a user handle)");
	t_bad_file("{\"" U1 "\": {\"version\": 1, \"role\": \"A b\"}}",
	    U1 ": needs a positive version and a role (\"\" or a user handle)");
	t_bad_file("{\"" U1 "\": {\"version\": 1}}",
	    U1 ": needs a positive version and a role (\"\" or a user handle)");
	t_bad_file("{\"" U1 "\": {\"version\": 1, \"role\": \"a\"}, \""
	    U1 "\": {\"version\": 2, \"role\": \"a\"}}", "duplicate key");
	t_bad_file("{\"" U1 "\": {\"version\": 1, \"role\": \"a\", \"digest\": \"x\"}}",
	    U1 ": digest: must be 32 hex digits");
	/* the intent */
	t_bad_pending("3");
	t_bad_pending("\"\"");
	t_bad_pending("\"B\"");
	t_bad_pending("\"a\"");			/* the role itself */
	t_bad_pending("\"b b\"");
	t_bad_pending("\"b  c\"");
	t_bad_pending("\"b \"");
	t_bad_pending("\" b\"");
	t_bad_pending("\"b,c\"");
	t_bad_pending("\"b1 b2 b3 b4 b5 b6 b7 b8 b9\"");
	t_bad_file("{\"" U1 "\": {\"version\": 0, \"role\": \"a\", \"pending\": \"b\"}}",
	    U1 ": version 0 is only for a pending name with no role");
	t_bad_file("{\"" U1 "\": {\"version\": 0, \"role\": \"\"}}",
	    U1 ": needs a positive version and a role (\"\" or a user handle)");
	t_bad_file("{\"" U1 "\": {\"version\": -1, \"role\": \"\", \"pending\": \"b\"}}",
	    U1 ": needs a positive version and a role (\"\" or a user handle)");
}

/* the applied version again with another state: after a restore of acctd */
static void
test_reused_version_refused(void **state)
{
	struct agent_state *s = open_ok();
	struct fake f = { 0 };
	struct pushmsg ch;
	char err[256];
	int64_t applied;

	(void)state;
	assert_int_equal(apply(s, &f, U1, 5, "alice", &applied, err,
	    sizeof(err)), AGENT_APPLIED);
	change(&ch, U1, 5, "alice");
	ch.verifier[20] = ch.verifier[20] == 'A' ? 'B' : 'A';
	assert_int_equal(agent_state_apply(s, &ch, fake_hook, &f, &applied,
	    err, sizeof(err)), AGENT_REUSED);
	assert_int_equal(applied, 5);
	assert_int_equal(apply(s, &f, U1, 5, NULL, &applied, err,
	    sizeof(err)), AGENT_REUSED);
	assert_int_equal(f.calls, 1);
	agent_state_free(s);
	/* the digest survives a restart */
	s = open_ok();
	assert_int_equal(apply(s, &f, U1, 5, NULL, &applied, err,
	    sizeof(err)), AGENT_REUSED);
	assert_int_equal(apply(s, &f, U1, 5, "alice", &applied, err,
	    sizeof(err)), AGENT_REPLAY);
	agent_state_free(s);
	/* a file from before digests: equal versions are replays */
	spit(path, "{\"" U1 "\": {\"version\": 5, \"role\": \"alice\"}}\n");
	s = open_ok();
	assert_int_equal(apply(s, &f, U1, 5, NULL, &applied, err,
	    sizeof(err)), AGENT_REPLAY);
	agent_state_free(s);
}

/* disabled: the hook gets the stored role; the role stays the user's */
static void
test_disabled_keeps_role(void **state)
{
	struct agent_state *s = open_ok();
	struct fake f = { 0 };
	struct pushmsg ch;
	char err[256], role[NAME_HANDLE_MAX + 1];
	int64_t applied, v;

	(void)state;
	assert_int_equal(apply(s, &f, U1, 1, "alice", &applied, err,
	    sizeof(err)), AGENT_APPLIED);
	change(&ch, U1, 2, NULL);
	ch.state = PUSHMSG_DISABLED;
	assert_int_equal(agent_state_apply(s, &ch, fake_hook, &f, &applied,
	    err, sizeof(err)), AGENT_APPLIED);
	assert_string_equal(f.action, "disabled");
	assert_string_equal(f.role, "alice");
	assert_string_equal(f.verifier, "(null)");
	assert_int_equal(agent_state_get(s, U1, &v, role), 0);
	assert_string_equal(role, "alice");
	/* enabled under a new handle: a rename from the kept role */
	assert_int_equal(apply(s, &f, U1, 3, "alice2", &applied, err,
	    sizeof(err)), AGENT_APPLIED);
	assert_string_equal(f.action, "present");
	assert_string_equal(f.old, "alice");
	/* disabled with no role held: nothing runs, the version is kept */
	change(&ch, U2, 4, NULL);
	ch.state = PUSHMSG_DISABLED;
	f.calls = 0;
	assert_int_equal(agent_state_apply(s, &ch, fake_hook, &f, &applied,
	    err, sizeof(err)), AGENT_APPLIED);
	assert_int_equal(f.calls, 0);
	agent_state_free(s);
}

/* a refusing hook: its own result, the reason, nothing saved */
static void
test_refusal_saves_nothing(void **state)
{
	struct agent_state *s = open_ok();
	struct fake f = { 0 };
	char err[256], role[NAME_HANDLE_MAX + 1];
	int64_t applied, v;

	(void)state;
	assert_int_equal(apply(s, &f, U1, 1, "alice", &applied, err,
	    sizeof(err)), AGENT_APPLIED);
	f.fail = AGENT_HOOK_NOT_MANAGED;
	assert_int_equal(apply(s, &f, U1, 2, "ops", &applied, err,
	    sizeof(err)), AGENT_NOT_MANAGED);
	assert_string_equal(err, "role \"ops\" exists and is not managed by "
	    "acctd");
	assert_int_equal(applied, 1);
	assert_string_equal(f.old, "alice");
	f.fail = AGENT_HOOK_PRIVILEGED;
	assert_int_equal(apply(s, &f, U1, 3, "ops", &applied, err,
	    sizeof(err)), AGENT_PRIVILEGED);
	assert_int_equal(agent_state_get(s, U1, &v, role), 0);
	assert_int_equal(v, 1);
	assert_string_equal(role, "alice");
	/* a later version is tried */
	f.fail = 0;
	assert_int_equal(apply(s, &f, U1, 4, "carol", &applied, err,
	    sizeof(err)), AGENT_APPLIED);
	assert_string_equal(f.old, "alice");
	agent_state_free(s);
}

static void
test_hand_edited_file_loads(void **state)
{
	struct agent_state *s;
	char role[NAME_HANDLE_MAX + 1];
	int64_t v;

	(void)state;
	spit(path, "{ \"" U1 "\": {\"role\": \"bob\", \"version\": 9},\n"
	    "  \"" U2 "\": {\"version\": 2, \"role\": \"\"} }\n");
	s = open_ok();
	assert_int_equal(agent_state_count(s), 2);
	assert_int_equal(agent_state_get(s, U1, &v, role), 0);
	assert_int_equal(v, 9);
	assert_string_equal(role, "bob");
	assert_int_equal(agent_state_get(s, U2, &v, role), 0);
	assert_string_equal(role, "");
	agent_state_free(s);
	/* an intent, as documented; an entry of version 0 is not applied */
	spit(path, "{\"" U1 "\": {\"version\": 9, \"role\": \"bob\", "
	    "\"pending\": \"bob2 bob3\"},\n"
	    "\"" U2 "\": {\"version\": 0, \"role\": \"\", \"pending\": \"carol\"}}\n");
	s = open_ok();
	assert_int_equal(agent_state_count(s), 2);
	assert_int_equal(agent_state_get(s, U1, &v, role), 0);
	assert_string_equal(role, "bob");
	assert_int_equal(agent_state_get(s, U2, &v, role), 1);
	agent_state_free(s);
}

/* --- the write-ahead intent ------------------------------------------------ */

/* the state after a crash at the moment snap was taken: a fresh agent */
static struct agent_state *
crash(struct agent_state *s)
{
	char *text = slurp(snap);

	agent_state_free(s);
	spit(path, text);
	free(text);
	return open_ok();
}

static enum agent_apply
apply_state(struct agent_state *s, struct fake *f, const char *id,
    int64_t version, enum pushmsg_state state, int64_t *applied, char *err,
    size_t errlen)
{
	struct pushmsg ch;

	change(&ch, id, version, NULL);
	ch.state = state;
	return agent_state_apply(s, &ch, fake_hook, f, applied, err, errlen);
}

/* alice (v1) renamed to alice2 (v2), killed between the hook and the save */
static struct agent_state *
crashed_rename(struct fake *f)
{
	struct agent_state *s;
	char err[256], *text, *want;
	int64_t applied;

	unlink(path);			/* a fresh node */
	s = open_ok();
	assert_int_equal(apply(s, f, U1, 1, "alice", &applied, err,
	    sizeof(err)), AGENT_APPLIED);
	text = slurp(path);
	assert_null(strstr(text, "pending"));
	free(text);
	f->snapshot = 1;
	assert_int_equal(apply(s, f, U1, 2, "alice2", &applied, err,
	    sizeof(err)), AGENT_APPLIED);
	f->snapshot = 0;
	assert_string_equal(f->old, "alice");
	/* while the hook ran: the name it may leave behind, saved first */
	text = slurp(snap);
	want = slurp(path);
	assert_non_null(strstr(text, "\"version\": 1, \"role\": \"alice\", "));
	assert_non_null(strstr(text, ", \"pending\": \"alice2\"}"));
	/* afterwards: the outcome, and no intent */
	assert_non_null(strstr(want, "\"version\": 2, \"role\": \"alice2\", "));
	assert_null(strstr(want, "pending"));
	free(text);
	free(want);
	f->calls = 0;
	f->log[0] = '\0';
	return crash(s);
}

static void
test_crash_mid_rename_then_renamed_again(void **state)
{
	struct fake f = { 0 };
	struct agent_state *s = crashed_rename(&f);
	char err[256], role[NAME_HANDLE_MAX + 1], *text;
	int64_t applied, v;

	(void)state;
	/* the crashed state: v1, role alice, alice2 pending */
	assert_int_equal(agent_state_get(s, U1, &v, role), 0);
	assert_int_equal(v, 1);
	assert_string_equal(role, "alice");
	/* acctd's newest state is another rename: both are former roles */
	assert_int_equal(apply(s, &f, U1, 3, "alice3", &applied, err,
	    sizeof(err)), AGENT_APPLIED);
	assert_int_equal(f.calls, 1);
	assert_string_equal(f.action, "present");
	assert_string_equal(f.role, "alice3");
	assert_string_equal(f.old, "alice alice2");
	assert_int_equal(agent_state_get(s, U1, &v, role), 0);
	assert_int_equal(v, 3);
	assert_string_equal(role, "alice3");
	text = slurp(path);
	assert_null(strstr(text, "pending"));
	free(text);
	/* settled: the next rename has one former role again */
	assert_int_equal(apply(s, &f, U1, 4, "alice4", &applied, err,
	    sizeof(err)), AGENT_APPLIED);
	assert_string_equal(f.old, "alice3");
	agent_state_free(s);
}

static void
test_crash_mid_rename_then_same_or_back(void **state)
{
	struct fake f = { 0 };
	struct agent_state *s = crashed_rename(&f);
	char err[256], role[NAME_HANDLE_MAX + 1];
	int64_t applied, v;

	(void)state;
	/* acctd re-delivers v2: the pending name is the target */
	assert_int_equal(apply(s, &f, U1, 2, "alice2", &applied, err,
	    sizeof(err)), AGENT_APPLIED);
	assert_string_equal(f.old, "alice");
	assert_int_equal(agent_state_get(s, U1, &v, role), 0);
	assert_string_equal(role, "alice2");
	agent_state_free(s);

	/* renamed back: the pending name is the former role */
	f = (struct fake){ 0 };
	s = crashed_rename(&f);
	assert_int_equal(apply(s, &f, U1, 3, "alice", &applied, err,
	    sizeof(err)), AGENT_APPLIED);
	assert_string_equal(f.old, "alice2");
	assert_int_equal(agent_state_get(s, U1, &v, role), 0);
	assert_string_equal(role, "alice");
	agent_state_free(s);
}

static void
test_crash_mid_rename_then_disabled_absent(void **state)
{
	struct fake f = { 0 };
	struct agent_state *s = crashed_rename(&f);
	char err[256], role[NAME_HANDLE_MAX + 1], *text;
	int64_t applied, v;

	(void)state;
	assert_int_equal(apply_state(s, &f, U1, 3, PUSHMSG_DISABLED, &applied,
	    err, sizeof(err)), AGENT_APPLIED);
	assert_string_equal(f.log, "disabled alice [];disabled alice2 [];");
	/* still not known which name exists: the intent stays */
	assert_int_equal(agent_state_get(s, U1, &v, role), 0);
	assert_int_equal(v, 3);
	assert_string_equal(role, "alice");
	text = slurp(path);
	assert_non_null(strstr(text, "\"version\": 3, \"role\": \"alice\", "));
	assert_non_null(strstr(text, ", \"pending\": \"alice2\"}"));
	free(text);
	f.log[0] = '\0';
	assert_int_equal(apply_state(s, &f, U1, 4, PUSHMSG_ABSENT, &applied,
	    err, sizeof(err)), AGENT_APPLIED);
	assert_string_equal(f.log, "absent alice [];absent alice2 [];");
	assert_int_equal(agent_state_get(s, U1, &v, role), 0);
	assert_string_equal(role, "");
	text = slurp(path);
	assert_null(strstr(text, "pending"));
	free(text);
	agent_state_free(s);

	/* absent straight after the crash, and a hook failing on the second
	 * name: nothing saved, both again on the retry */
	f = (struct fake){ 0 };
	s = crashed_rename(&f);
	f.fail = 1;
	assert_int_equal(apply_state(s, &f, U1, 3, PUSHMSG_ABSENT, &applied,
	    err, sizeof(err)), AGENT_FAILED);
	assert_int_equal(agent_state_get(s, U1, &v, role), 0);
	assert_int_equal(v, 1);
	f.fail = 0;
	f.log[0] = '\0';
	assert_int_equal(apply_state(s, &f, U1, 3, PUSHMSG_ABSENT, &applied,
	    err, sizeof(err)), AGENT_APPLIED);
	assert_string_equal(f.log, "absent alice [];absent alice2 [];");
	agent_state_free(s);
}

/* the first present of a user, killed after its CREATE ROLE */
static void
test_crash_mid_first_create(void **state)
{
	struct agent_state *s = open_ok();
	struct fake f = { .snapshot = 1 };
	char err[256], role[NAME_HANDLE_MAX + 1], *text;
	int64_t applied, v;

	(void)state;
	assert_int_equal(apply(s, &f, U2, 5, "bob", &applied, err,
	    sizeof(err)), AGENT_APPLIED);
	f.snapshot = 0;
	assert_string_equal(f.old, "");
	text = slurp(snap);
	assert_string_equal(text, "{\n\"" U2 "\": {\"version\": 0, "
	    "\"role\": \"\", \"pending\": \"bob\"}\n}\n");
	free(text);
	s = crash(s);
	/* nothing applied yet, as far as versions go */
	assert_int_equal(agent_state_get(s, U2, &v, role), 1);
	assert_int_equal(agent_state_count(s), 1);
	/* another user id cannot take the name meanwhile */
	assert_int_equal(apply(s, &f, U1, 1, "bob", &applied, err,
	    sizeof(err)), AGENT_FAILED);
	assert_string_equal(err, "role \"bob\" still belongs to " U2
	    " until its removal is applied");
	/* renamed before the retry: the created role is a former one */
	assert_int_equal(apply(s, &f, U2, 6, "bob2", &applied, err,
	    sizeof(err)), AGENT_APPLIED);
	assert_string_equal(f.role, "bob2");
	assert_string_equal(f.old, "bob");
	assert_int_equal(agent_state_get(s, U2, &v, role), 0);
	assert_int_equal(v, 6);
	assert_string_equal(role, "bob2");
	/* and now bob is free for U1 */
	assert_int_equal(apply(s, &f, U1, 1, "bob", &applied, err,
	    sizeof(err)), AGENT_APPLIED);
	agent_state_free(s);
}

/* a hook that fails keeps the intent; one that refuses takes it back */
static void
test_failed_hook_keeps_intent_refusal_drops_it(void **state)
{
	struct agent_state *s = open_ok();
	struct fake f = { 0 };
	char err[256], *before, *after;
	int64_t applied;

	(void)state;
	assert_int_equal(apply(s, &f, U1, 1, "alice", &applied, err,
	    sizeof(err)), AGENT_APPLIED);
	before = slurp(path);
	f.fail = AGENT_HOOK_NOT_MANAGED;
	assert_int_equal(apply(s, &f, U1, 2, "ops", &applied, err,
	    sizeof(err)), AGENT_NOT_MANAGED);
	after = slurp(path);
	assert_string_equal(before, after);	/* ops is not pending */
	free(after);
	/* failed (psql lost its connection after COMMIT?): unknown outcome */
	f.fail = 1;
	assert_int_equal(apply(s, &f, U1, 3, "alice2", &applied, err,
	    sizeof(err)), AGENT_FAILED);
	after = slurp(path);
	assert_non_null(strstr(after, "\"version\": 1, \"role\": \"alice\", "));
	assert_non_null(strstr(after, ", \"pending\": \"alice2\"}"));
	free(after);
	assert_int_equal(apply(s, &f, U1, 4, "alice3", &applied, err,
	    sizeof(err)), AGENT_FAILED);
	assert_string_equal(f.old, "alice alice2");
	after = slurp(path);
	assert_non_null(strstr(after, ", \"pending\": \"alice2 alice3\"}"));
	free(after);
	/* a refusal then takes back only the name it added */
	f.fail = AGENT_HOOK_PRIVILEGED;
	assert_int_equal(apply(s, &f, U1, 5, "ops", &applied, err,
	    sizeof(err)), AGENT_PRIVILEGED);
	assert_string_equal(f.old, "alice alice2 alice3");
	after = slurp(path);
	assert_non_null(strstr(after, ", \"pending\": \"alice2 alice3\"}"));
	free(after);
	f.fail = 0;
	assert_int_equal(apply(s, &f, U1, 5, "alice4", &applied, err,
	    sizeof(err)), AGENT_APPLIED);
	assert_string_equal(f.old, "alice alice2 alice3");
	after = slurp(path);
	assert_null(strstr(after, "pending"));
	free(after);
	free(before);
	agent_state_free(s);
}

/* at most AGENT_PENDING_MAX names wait; the next new one fails, a known
 * one still applies */
static void
test_pending_names_bounded(void **state)
{
	struct agent_state *s = open_ok();
	struct fake f = { .fail = 1 };
	char err[256], name[16];
	int64_t applied;
	int i;

	(void)state;
	for (i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		assert_int_equal(apply(s, &f, U1, i + 1, name, &applied, err,
		    sizeof(err)), AGENT_FAILED);
		assert_string_equal(err, "psql: error: connection refused");
	}
	f.calls = 0;
	assert_int_equal(apply(s, &f, U1, 9, "n8", &applied, err,
	    sizeof(err)), AGENT_FAILED);
	assert_string_equal(err, "role \"n8\": 8 earlier names of " U1
	    " are still pending; apply one of them first");
	assert_int_equal(f.calls, 0);
	f.fail = 0;
	assert_int_equal(apply(s, &f, U1, 9, "n3", &applied, err,
	    sizeof(err)), AGENT_APPLIED);
	assert_string_equal(f.old, "n0 n1 n2 n4 n5 n6 n7");
	agent_state_free(s);
	s = open_ok();			/* and the file loads */
	agent_state_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_first_start_writes_empty_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_runs_hook_then_saves, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hook_failure_saves_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename_passes_old_role, setup, teardown),
		cmocka_unit_test_setup_teardown(test_absent_drops_stored_role_and_stays, setup, teardown),
		cmocka_unit_test_setup_teardown(test_absent_of_unknown_user_is_recorded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_role_one_user, setup, teardown),
		cmocka_unit_test_setup_teardown(test_save_failure_keeps_memory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_files_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reused_version_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disabled_keeps_role, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusal_saves_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hand_edited_file_loads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_mid_rename_then_renamed_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_mid_rename_then_same_or_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_mid_rename_then_disabled_absent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_mid_first_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_hook_keeps_intent_refusal_drops_it, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pending_names_bounded, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

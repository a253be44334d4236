/*
 * agent_state.c — what this node has applied, per user id: the version and
 * the role (docs/agent.md "State"). The rule that makes pushes idempotent
 * and replay-proof lives here:
 *
 *   version <  applied   refused (AGENT_OLDER), nothing runs
 *   version == applied   AGENT_REPLAY, nothing runs, when it is the same
 *                        state (its digest); else AGENT_REUSED (refused)
 *   version >  applied   the hook runs, then the new version is saved;
 *                        a failed or refusing hook, or a failed save,
 *                        leaves the old one
 *
 * "disabled" and "absent" act on the role this node holds for the user
 * (not on a name sent with them); "disabled" keeps it as the user's role.
 *
 * A write-ahead intent covers the one step the hook cannot make atomic
 * with the save: a present that creates or renames to a name other than
 * the saved role first saves that name as "pending", then runs the hook,
 * then saves the outcome (which clears it). Killed between the hook's
 * COMMIT and the save, the agent restarts knowing the user's role in
 * PostgreSQL is the saved one or a pending one; the next change treats all
 * of them as the user's: present passes them as former roles (the hook
 * renames the one that exists and takes LOGIN and the password from any
 * other), disabled and absent run on each. A hook that fails keeps the
 * intent (its outcome is unknown); one that refuses rolled back, so the
 * name it added is taken out again.
 *
 * The file is one JSON object, one user per line:
 *
 *   {
 *   "u_0123456789abcdefghij": {"version": 7, "role": "alice", "digest": "…"},
 *   "u_0123456789abcdefghik": {"version": 3, "role": "bob", "pending": "bob2"},
 *   "u_0123456789abcdefghil": {"version": 0, "role": "", "pending": "carol"},
 *   "u_0123456789abcdefghim": {"version": 3, "role": ""}
 *   }
 *
 * role "" means absent (deleted); version 0 (only with a pending name) a
 * user whose first present was interrupted: nothing applied yet. Deleted users stay in the file so that a
 * replayed older "present" cannot bring their role back: one short line per
 * deleted account. The whole file is rewritten on every change (temp file,
 * fsync, rename, fsync of the directory): an appliance has hundreds of
 * users, not millions, and a crash leaves either the old or the new file.
 *
 * Two user ids never hold one role (saved or pending): a present whose role
 * another user id still holds fails (and is retried by acctd) until that user's absent has
 * been applied, so the order in which acctd delivers a deletion and a new
 * account with the same handle cannot make the deletion drop the new role.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"

#define AGENT_STATE_MAX_FILE (16 * 1024 * 1024)

#define AGENT_DIGEST_HEX 32		/* 16 bytes of SHA-256, hex */
/*
 * Pending names of one user: one per present interrupted (killed, or a
 * failed hook) under a new name before any change of that user applied.
 * Past this, a present under yet another name fails until one applies.
 */
#define AGENT_PENDING_MAX 8
/* "a b c": the saved role and every pending name, or the file's field */
#define AGENT_NAMES_LEN ((AGENT_PENDING_MAX + 1) * (NAME_HANDLE_MAX + 1))

struct agent_entry {
	char user_id[SECRET_ID_LEN + 1];
	int64_t version;                         /* 0: none applied yet */
	char role[NAME_HANDLE_MAX + 1];          /* "" = absent */
	char digest[AGENT_DIGEST_HEX + 1];       /* of the state; "" = unknown */
	/* names a hook was started with whose outcome is not saved */
	char pending[AGENT_PENDING_MAX][NAME_HANDLE_MAX + 1];
	size_t npending;
};

struct agent_state {
	pthread_mutex_t mtx;
	char *path;
	struct agent_entry *v;
	size_t n, cap;
};

static struct agent_entry *
agent_state_find(struct agent_state *s, const char *user_id)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i].user_id, user_id) == 0)
			return &s->v[i];
	return NULL;
}

static int
agent_entry_pending(const struct agent_entry *e, const char *name)
{
	for (size_t i = 0; i < e->npending; i++)
		if (strcmp(e->pending[i], name) == 0)
			return 1;
	return 0;
}

/* the other user id that holds role (saved or pending), or NULL */
static const struct agent_entry *
agent_state_holder(struct agent_state *s, const char *role,
    const char *user_id)
{
	for (size_t i = 0; i < s->n; i++)
		if ((strcmp(s->v[i].role, role) == 0 ||
		    agent_entry_pending(&s->v[i], role)) &&
		    strcmp(s->v[i].user_id, user_id) != 0)
			return &s->v[i];
	return NULL;
}

/* the pending names, space-separated ("" when none) */
static void
agent_entry_pending_text(const struct agent_entry *e,
    char out[AGENT_NAMES_LEN])
{
	size_t off = 0;

	out[0] = '\0';
	for (size_t i = 0; i < e->npending; i++)
		off += (size_t)snprintf(out + off, AGENT_NAMES_LEN - off,
		    "%s%s", i ? " " : "", e->pending[i]);
}

/* the file's "pending": names, one space between, each a handle, none
 * twice nor the role; -1 when not */
static int
agent_entry_pending_parse(struct agent_entry *e, const char *text)
{
	const char *p = text, *sp;
	size_t len;

	e->npending = 0;
	for (;;) {
		sp = strchr(p, ' ');
		len = sp ? (size_t)(sp - p) : strlen(p);
		if (e->npending == AGENT_PENDING_MAX || len > NAME_HANDLE_MAX)
			return -1;
		memcpy(e->pending[e->npending], p, len);
		e->pending[e->npending][len] = '\0';
		if (!name_handle_valid(e->pending[e->npending]) ||
		    strcmp(e->pending[e->npending], e->role) == 0 ||
		    agent_entry_pending(e, e->pending[e->npending]))
			return -1;
		e->npending++;
		if (sp == NULL)
			return 0;
		p = sp + 1;
	}
}

/* --- the file ------------------------------------------------------------ */

/*
 * Write v[0..n) as the whole file: temp + fsync + rename + fsync(dir).
 * Values were validated on the way in (ids [u_0-9a-v], roles [a-z0-9-]),
 * so they need no JSON escaping.
 */
static int
agent_state_save(const char *path, const struct agent_entry *v, size_t n,
    char *err, size_t errlen)
{
	char *buf = NULL, *line, pending[AGENT_NAMES_LEN];
	size_t len = 0, i;
	FILE *m;
	int rc;

	if ((m = open_memstream(&buf, &len)) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	fputs("{\n", m);
	for (i = 0; i < n; i++) {
		agent_entry_pending_text(&v[i], pending);
		line = x_asprintf("\"%s\": {\"version\": %lld, \"role\": "
		    "\"%s\"%s%s%s%s%s%s}%s\n",
		    v[i].user_id, (long long)v[i].version, v[i].role,
		    v[i].digest[0] ? ", \"digest\": \"" : "", v[i].digest,
		    v[i].digest[0] ? "\"" : "",
		    pending[0] ? ", \"pending\": \"" : "", pending,
		    pending[0] ? "\"" : "", i + 1 < n ? "," : "");
		fputs(line, m);
		free(line);
	}
	fputs("}\n", m);
	if (fclose(m) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		free(buf);
		return -1;
	}
	rc = file_write_atomic(path, buf, len, 0600, err, errlen);
	free(buf);
	return rc;
}

/* the whole file, NUL-terminated: 0, 1 when it does not exist, -1 with err */
static int
agent_state_read(const char *path, char **out, size_t *outlen, char *err,
    size_t errlen)
{
	struct stat st;
	char *buf;
	size_t off = 0;
	ssize_t r;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return 1;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > AGENT_STATE_MAX_FILE) {
		snprintf(err, errlen, "%s: %s", path, fstat(fd, &st) == -1 ?
		    strerror(errno) : !S_ISREG(st.st_mode) ?
		    "not a regular file" : "too large");
		close(fd);
		return -1;
	}
	buf = x_malloc((size_t)st.st_size + 1);
	while (off < (size_t)st.st_size) {
		r = read(fd, buf + off, (size_t)st.st_size - off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			close(fd);
			free(buf);
			return -1;
		}
		if (r == 0)
			break;
		off += (size_t)r;
	}
	close(fd);
	buf[off] = '\0';
	*out = buf;
	*outlen = off;
	return 0;
}

static int
agent_state_parse(struct agent_state *s, const char *buf, size_t len,
    char *err, size_t errlen)
{
	struct json *j = NULL, *m, *f;
	struct agent_entry *e;
	const char *id, *key, *role, *digest, *pending;
	char why[128];
	int64_t version;
	int rc = -1;

	if (len == 0) {
		snprintf(err, errlen, "%s: empty file", s->path);
		return -1;
	}
	if (json_parse(buf, len, &j, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "%s: %s", s->path, why);
		return -1;
	}
	if (!json_is_object(j)) {
		snprintf(err, errlen, "%s: not a JSON object", s->path);
		goto done;
	}
	for (m = json_next(j, NULL, &id); m != NULL; m = json_next(j, m, &id)) {
		if (!secret_id_valid(id, "u_") || !json_is_object(m)) {
			snprintf(err, errlen, "%s: \"%.40s\": not a user id "
			    "with an object", s->path, id);
			goto done;
		}
		for (f = json_next(m, NULL, &key); f != NULL;
		    f = json_next(m, f, &key)) {
			if (strcmp(key, "version") != 0 &&
			    strcmp(key, "role") != 0 &&
			    strcmp(key, "digest") != 0 &&
			    strcmp(key, "pending") != 0) {
				snprintf(err, errlen, "%s: %s: unknown field "
				    "\"%.40s\"", s->path, id, key);
				goto done;
			}
		}
		role = json_str(json_get(m, "role"));
		pending = json_str(json_get(m, "pending"));
		if (json_int(json_get(m, "version"), &version) == -1 ||
		    version < 0 || (version == 0 &&
		    json_get(m, "pending") == NULL) || role == NULL ||
		    (role[0] != '\0' && !name_handle_valid(role))) {
			snprintf(err, errlen, "%s: %s: needs a positive "
			    "version and a role (\"\" or a user handle)",
			    s->path, id);
			goto done;
		}
		if (s->n == s->cap) {
			s->cap = s->cap ? 2 * s->cap : 64;
			s->v = x_realloc(s->v, s->cap * sizeof(*s->v));
		}
		digest = json_str(json_get(m, "digest"));
		if (json_get(m, "digest") != NULL && (digest == NULL ||
		    strlen(digest) != AGENT_DIGEST_HEX ||
		    strspn(digest, "0123456789abcdef") != AGENT_DIGEST_HEX)) {
			snprintf(err, errlen, "%s: %s: digest: must be %d "
			    "hex digits", s->path, id, AGENT_DIGEST_HEX);
			goto done;
		}
		e = &s->v[s->n];
		memset(e, 0, sizeof(*e));
		memcpy(e->user_id, id, sizeof(e->user_id));
		e->version = version;
		memcpy(e->role, role, strlen(role) + 1);
		if (digest != NULL)
			memcpy(e->digest, digest, AGENT_DIGEST_HEX + 1);
		if (json_get(m, "pending") != NULL && (pending == NULL ||
		    agent_entry_pending_parse(e, pending) == -1)) {
			snprintf(err, errlen, "%s: %s: pending: must be 1 to "
			    "%d user handles, one space between, other than "
			    "the role", s->path, id, AGENT_PENDING_MAX);
			goto done;
		}
		if (version == 0 && (role[0] != '\0' || e->npending == 0 ||
		    e->digest[0] != '\0')) {
			snprintf(err, errlen, "%s: %s: version 0 is only for "
			    "a pending name with no role", s->path, id);
			goto done;
		}
		s->n++;
	}
	rc = 0;
done:
	json_free(j);
	return rc;
}

/* --- the API ---------------------------------------------------------------- */

int
agent_state_open(const char *path, struct agent_state **out, char *err,
    size_t errlen)
{
	struct agent_state *s;
	size_t len;
	char *buf;
	int rc;

	*out = NULL;
	s = x_calloc(1, sizeof(*s));
	pthread_mutex_init(&s->mtx, NULL);
	s->path = x_strdup(path);
	switch (agent_state_read(path, &buf, &len, err, errlen)) {
	case 1:
		/* a first start: prove now that the file can be written */
		if (agent_state_save(path, NULL, 0, err, errlen) == -1)
			goto fail;
		break;
	case 0:
		rc = agent_state_parse(s, buf, len, err, errlen);
		free(buf);
		if (rc == -1)
			goto fail;
		break;
	default:
		goto fail;
	}
	*out = s;
	return 0;
fail:
	agent_state_free(s);
	return -1;
}

void
agent_state_free(struct agent_state *s)
{
	if (s == NULL)
		return;
	pthread_mutex_destroy(&s->mtx);
	free(s->path);
	free(s->v);
	free(s);
}

int
agent_state_get(struct agent_state *s, const char *user_id, int64_t *version,
    char role[NAME_HANDLE_MAX + 1])
{
	const struct agent_entry *e;
	int rc = 1;

	pthread_mutex_lock(&s->mtx);
	if ((e = agent_state_find(s, user_id)) != NULL && e->version > 0) {
		*version = e->version;
		memcpy(role, e->role, sizeof(e->role));
		rc = 0;
	}
	pthread_mutex_unlock(&s->mtx);
	return rc;
}

size_t
agent_state_count(struct agent_state *s)
{
	size_t n;

	pthread_mutex_lock(&s->mtx);
	n = s->n;
	pthread_mutex_unlock(&s->mtx);
	return n;
}

/*
 * Save s->v with want as its user's entry: replaced, appended when new, or
 * dropped when it holds nothing (version 0, nothing pending). Memory
 * changes only once the file has.
 */
static int
agent_state_put(struct agent_state *s, const struct agent_entry *want,
    char *err, size_t errlen)
{
	struct agent_entry *v = x_calloc(s->n + 1, sizeof(*v));
	int keep = want->version > 0 || want->npending > 0, found = 0;
	size_t i, n = 0;

	for (i = 0; i < s->n; i++) {
		if (strcmp(s->v[i].user_id, want->user_id) != 0) {
			v[n++] = s->v[i];
			continue;
		}
		found = 1;
		if (keep)
			v[n++] = *want;
	}
	if (!found && keep)
		v[n++] = *want;
	if (agent_state_save(s->path, v, n, err, errlen) == -1) {
		free(v);
		return -1;
	}
	free(s->v);
	s->v = v;
	s->n = n;
	s->cap = s->n + 1;
	return 0;
}

/*
 * What the change asks for, in short: a replay of the applied version must
 * be the same state. After acctd's store is restored from an old copy, its
 * versions start again below the node's, and one may meet the node's
 * applied version with another state: that is refused (AGENT_REUSED), not
 * taken for a replay.
 */
static void
agent_state_digest(const struct pushmsg *ch, char out[AGENT_DIGEST_HEX + 1])
{
	uint8_t h[CRYPTO_SHA256_LEN];
	char *text;

	text = x_asprintf("%s\n%s\n%s", pushmsg_state_name(ch->state),
	    ch->role, ch->verifier);
	crypto_sha256(text, strlen(text), h);
	crypto_wipe(text, strlen(text));
	free(text);
	secret_hex(h, AGENT_DIGEST_HEX / 2, out);
}

/* "a b": the saved role and the pending names of e, but not skip */
static void
agent_entry_names(const struct agent_entry *e, const char *skip,
    char out[AGENT_NAMES_LEN])
{
	size_t off = 0;

	out[0] = '\0';
	if (e->role[0] != '\0' && strcmp(e->role, skip) != 0)
		off += (size_t)snprintf(out, AGENT_NAMES_LEN, "%s", e->role);
	for (size_t i = 0; i < e->npending; i++)
		if (strcmp(e->pending[i], skip) != 0)
			off += (size_t)snprintf(out + off, AGENT_NAMES_LEN - off,
			    "%s%s", off ? " " : "", e->pending[i]);
}

/* present: the write-ahead intent, then the hook with every former name */
static int
agent_state_present(struct agent_state *s, const struct agent_entry *e,
    const struct pushmsg *ch, agent_hook_fn hook, void *arg, char *err,
    size_t errlen)
{
	const struct agent_entry *other;
	struct agent_entry intent = *e;
	char olds[AGENT_NAMES_LEN], why[256];
	int h;

	if ((other = agent_state_holder(s, ch->role, ch->user_id)) != NULL) {
		snprintf(err, errlen, "role \"%s\" still belongs to %s "
		    "until its removal is applied", ch->role, other->user_id);
		return -1;
	}
	if (strcmp(e->role, ch->role) != 0 &&
	    !agent_entry_pending(e, ch->role)) {
		if (e->npending == AGENT_PENDING_MAX) {
			snprintf(err, errlen, "role \"%s\": %d earlier names "
			    "of %s are still pending; apply one of them first",
			    ch->role, AGENT_PENDING_MAX, ch->user_id);
			return -1;
		}
		snprintf(intent.pending[intent.npending++], NAME_HANDLE_MAX + 1,
		    "%s", ch->role);
		if (agent_state_put(s, &intent, why, sizeof(why)) == -1) {
			snprintf(err, errlen, "cannot save the state: %s", why);
			return -1;
		}
	}
	agent_entry_names(e, ch->role, olds);
	h = hook(arg, "present", ch->role, olds, ch->verifier, err, errlen);
	if ((h == AGENT_HOOK_NOT_MANAGED || h == AGENT_HOOK_PRIVILEGED) &&
	    intent.npending != e->npending &&
	    agent_state_put(s, e, why, sizeof(why)) == -1)
		/* the hook rolled back: the name is harmless where it stays */
		log_warnx("%s: cannot take back pending role \"%s\": %s",
		    ch->user_id, ch->role, why);
	return h;
}

/* disabled, absent: the hook on the saved role and on each pending name */
static int
agent_state_revoke(struct agent_state *s, const struct agent_entry *e,
    const struct pushmsg *ch, agent_hook_fn hook, void *arg, char *err,
    size_t errlen)
{
	const struct agent_entry *other;
	const char *name;
	size_t i;
	int h;

	for (i = 0; i < 1 + e->npending; i++) {
		name = i == 0 ? e->role : e->pending[i - 1];
		if (name[0] == '\0')
			continue;
		if ((other = agent_state_holder(s, name, ch->user_id)) != NULL) {
			/* cannot happen through agent_state_apply; never
			 * touch theirs */
			log_warnx("%s: %s v%lld: role \"%s\" is held by %s; "
			    "left alone", ch->user_id,
			    pushmsg_state_name(ch->state),
			    (long long)ch->version, name, other->user_id);
			continue;
		}
		h = hook(arg, pushmsg_state_name(ch->state), name, "", NULL,
		    err, errlen);
		if (h != 0)
			return h;
	}
	return 0;
}

enum agent_apply
agent_state_apply(struct agent_state *s, const struct pushmsg *ch,
    agent_hook_fn hook, void *arg, int64_t *applied, char *err, size_t errlen)
{
	const struct agent_entry *found;
	struct agent_entry e, out;
	char digest[AGENT_DIGEST_HEX + 1], why[320];
	enum agent_apply rc = AGENT_FAILED;
	int h;

	err[0] = '\0';
	agent_state_digest(ch, digest);
	pthread_mutex_lock(&s->mtx);
	memset(&e, 0, sizeof(e));
	snprintf(e.user_id, sizeof(e.user_id), "%s", ch->user_id);
	if ((found = agent_state_find(s, ch->user_id)) != NULL)
		e = *found;
	*applied = e.version;
	if (ch->version < e.version) {
		rc = AGENT_OLDER;
		goto done;
	}
	if (ch->version == e.version) {
		rc = e.digest[0] == '\0' || strcmp(e.digest, digest) == 0 ?
		    AGENT_REPLAY : AGENT_REUSED;
		goto done;
	}
	why[0] = '\0';
	h = ch->state == PUSHMSG_PRESENT ?
	    agent_state_present(s, &e, ch, hook, arg, why, sizeof(why)) :
	    agent_state_revoke(s, &e, ch, hook, arg, why, sizeof(why));
	if (h != 0) {
		snprintf(err, errlen, "%s", why);
		rc = h == AGENT_HOOK_NOT_MANAGED ? AGENT_NOT_MANAGED :
		    h == AGENT_HOOK_PRIVILEGED ? AGENT_PRIVILEGED : AGENT_FAILED;
		goto done;
	}
	/* the outcome: present and absent settle every name; disabled
	 * leaves which one exists as unknown as it was */
	out = e;
	out.version = ch->version;
	memcpy(out.digest, digest, sizeof(out.digest));
	if (ch->state != PUSHMSG_DISABLED) {
		snprintf(out.role, sizeof(out.role), "%s", ch->role);
		out.npending = 0;
		memset(out.pending, 0, sizeof(out.pending));
	}
	if (agent_state_put(s, &out, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "cannot save the state: %s", why);
		goto done;
	}
	*applied = ch->version;
	rc = AGENT_APPLIED;
done:
	pthread_mutex_unlock(&s->mtx);
	return rc;
}

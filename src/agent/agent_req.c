/*
 * agent_req.c — the one request of an acctd-agent connection
 * (docs/agent.md "Protocol"):
 *
 *   POST /v1/state HTTP/1.1
 *   Content-Length: N                (required, at most AGENT_MAX_BODY)
 *
 *   {"user_id":"u_…","version":7,"state":"present","role":"alice",
 *    "verifier":"SCRAM-SHA-256$4096:…$…:…"}
 *   {"user_id":"u_…","version":8,"state":"absent"}     (or "disabled")
 *
 * Everything is validated before the state is looked at: the request line,
 * the headers (no Transfer-Encoding, one Content-Length), and the body
 * (pushmsg_decode: exactly the fields of its state, each to its rule). Then
 * agent_state_apply decides and the answer is one JSON object
 * (pushmsg_answer_encode):
 *
 *   200 {"applied_version":N}                        applied or already so
 *   409 {"applied_version":N,"error":"older version","code":"older_version"}
 *   409 {"applied_version":N,"error":"…","code":"version_reused"}
 *   422 {"applied_version":N,"error":"role \"ops\" exists and is not managed
 *        by acctd","code":"role_not_managed" | "role_privileged"}
 *   400/404/405/411/413/431 {"error":"…"}            nothing looked at
 *   500 {"error":"<the hook's first stderr line>"}   nothing saved
 *
 * The connection is closed after the answer ("Connection: close").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent.h"

/* --- the answer --------------------------------------------------------- */

/* applied < 0: no applied_version; error NULL: none */
static int
agent_req_reply(const struct agent_io *io, int status, int64_t applied,
    const char *error, enum pushmsg_code code, const char *extra)
{
	struct pushmsg_answer a = { .applied_version = applied, .code = code };
	char *body, *msg;
	int rc;

	snprintf(a.error, sizeof(a.error), "%s", error ? error : "");
	body = pushmsg_answer_encode(&a);
	msg = x_asprintf("HTTP/1.1 %d %s\r\n"
	    "Content-Type: application/json\r\n"
	    "Content-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n"
	    "%s"
	    "Connection: close\r\n\r\n%s",
	    status, status_title(status), strlen(body), extra ? extra : "",
	    body);
	rc = io->write(io->ctx, msg, strlen(msg));
	free(msg);
	free(body);
	return rc == -1 ? 0 : status;
}

static int
agent_req_fail(const struct agent_io *io, const char *peer, int status,
    const char *error, const char *extra)
{
	log_warnx("%s: %d %s", peer, status, error);
	return agent_req_reply(io, status, -1, error, PUSHMSG_CODE_NONE, extra);
}

/* --- the request -------------------------------------------------------- */

/*
 * The head in buf[0..headlen): request line and headers. 0 with the
 * Content-Length, or an HTTP status with the reason in err.
 */
static int
agent_req_head(char *buf, size_t headlen, size_t *clen, const char **extra,
    char *err, size_t errlen)
{
	char *line, *next, *end = buf + headlen, *colon, *v, *sp1, *sp2, *ws;
	int have_len = 0;
	unsigned long long n;

	*extra = NULL;
	/* the request line */
	next = strstr(buf, "\r\n");
	*next = '\0';
	if ((sp1 = strchr(buf, ' ')) == NULL ||
	    (sp2 = strchr(sp1 + 1, ' ')) == NULL || strchr(sp2 + 1, ' ')) {
		snprintf(err, errlen, "malformed request line");
		return 400;
	}
	*sp1 = *sp2 = '\0';
	if (strcmp(sp2 + 1, "HTTP/1.1") != 0) {
		snprintf(err, errlen, "HTTP/1.1 only");
		return 505;
	}
	if (strcmp(sp1 + 1, "/v1/state") != 0) {
		snprintf(err, errlen, "not found");
		return 404;
	}
	if (strcmp(buf, "POST") != 0) {
		snprintf(err, errlen, "method not allowed");
		*extra = "Allow: POST\r\n";
		return 405;
	}
	/* the headers: we need Content-Length; refuse what would change framing */
	for (line = next + 2; line < end; line = next + 2) {
		next = strstr(line, "\r\n");
		*next = '\0';
		if (*line == '\0')
			break;
		if ((colon = strchr(line, ':')) == NULL || colon == line ||
		    ((ws = strpbrk(line, " \t")) != NULL && ws < colon)) {
			snprintf(err, errlen, "malformed header line");
			return 400;
		}
		*colon = '\0';
		for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
			;
		for (char *t = v + strlen(v); t > v && (t[-1] == ' ' ||
		    t[-1] == '\t'); t--)
			t[-1] = '\0';
		if (strcasecmp(line, "Transfer-Encoding") == 0) {
			snprintf(err, errlen, "Transfer-Encoding is not "
			    "supported: send Content-Length");
			return 400;
		}
		if (strcasecmp(line, "Content-Length") != 0)
			continue;
		if (have_len || *v == '\0' || strspn(v, "0123456789") !=
		    strlen(v) || strlen(v) > 9) {
			snprintf(err, errlen, "Content-Length: must be one "
			    "decimal number");
			return 400;
		}
		have_len = 1;
		n = strtoull(v, NULL, 10);
		if (n > AGENT_MAX_BODY) {
			snprintf(err, errlen, "body larger than %d bytes",
			    AGENT_MAX_BODY);
			return 413;
		}
		*clen = (size_t)n;
	}
	if (!have_len) {
		snprintf(err, errlen, "Content-Length required");
		return 411;
	}
	return 0;
}
/*
 * Read one request: the head (up to the empty line, at most AGENT_MAX_HEAD
 * bytes), then exactly Content-Length bytes of body into buf (NUL
 * terminated). 0 with *blen; else the status already answered (0 when the
 * connection went away: nothing to answer).
 */
static int
agent_req_read(const struct agent_io *io, const char *peer, char *buf,
    size_t *blen)
{
	char err[320], *eoh = NULL;
	size_t len = 0, headlen, clen = 0;
	const char *extra;
	int r, status;

	while (eoh == NULL) {
		if (len >= AGENT_MAX_HEAD)
			return agent_req_fail(io, peer, 431,
			    "request head too large", NULL);
		r = io->read(io->ctx, buf + len, AGENT_MAX_HEAD - len);
		if (r <= 0) {
			if (r == 0 && len > 0)
				log_warnx("%s: connection closed before the "
				    "end of the request head", peer);
			return 0;
		}
		len += (size_t)r;
		eoh = memmem(buf, len, "\r\n\r\n", 4);
	}
	headlen = (size_t)(eoh - buf) + 4;
	if (memchr(buf, '\0', headlen) != NULL)
		return agent_req_fail(io, peer, 400,
		    "NUL byte in the request head", NULL);
	buf[len] = '\0';	/* every head line ends in CRLF: no search passes it */
	status = agent_req_head(buf, headlen, &clen, &extra, err, sizeof(err));
	if (status != 0)
		return agent_req_fail(io, peer, status, err, extra);
	memmove(buf, buf + headlen, len - headlen);
	len -= headlen;
	while (len < clen) {
		r = io->read(io->ctx, buf + len, clen - len);
		if (r <= 0) {
			if (r == 0)
				log_warnx("%s: connection closed before the "
				    "end of the body", peer);
			return 0;
		}
		len += (size_t)r;
	}
	if (len > clen)
		return agent_req_fail(io, peer, 400,
		    "data after the body: one request per connection", NULL);
	buf[len] = '\0';
	*blen = len;
	return -1;
}

/* answer what agent_state_apply did with ch; returns the status sent */
static int
agent_req_answer(const struct agent_io *io, const char *peer,
    const struct pushmsg *ch, enum agent_apply res, int64_t applied,
    const char *err)
{
	const char *what = pushmsg_state_name(ch->state);
	const char *as = ch->state == PUSHMSG_PRESENT ? " role " : "";
	const char *role = ch->state == PUSHMSG_PRESENT ? ch->role : "";
	long long v = (long long)ch->version;

	switch (res) {
	case AGENT_APPLIED:
		log_info("%s: %s v%lld %s%s%s: applied", peer, ch->user_id, v,
		    what, as, role);
		return agent_req_reply(io, 200, applied, NULL, PUSHMSG_CODE_NONE, NULL);
	case AGENT_REPLAY:
		log_info("%s: %s v%lld: already applied", peer, ch->user_id, v);
		return agent_req_reply(io, 200, applied, NULL, PUSHMSG_CODE_NONE, NULL);
	case AGENT_OLDER:
		log_warnx("%s: %s v%lld: older than the applied v%lld", peer,
		    ch->user_id, v, (long long)applied);
		return agent_req_reply(io, 409, applied, "older version",
		    PUSHMSG_CODE_OLDER_VERSION, NULL);
	case AGENT_REUSED:
		log_warnx("%s: %s v%lld: that version was applied with "
		    "another state", peer, ch->user_id, v);
		return agent_req_reply(io, 409, applied, "version already "
		    "applied with another state", PUSHMSG_CODE_VERSION_REUSED, NULL);
	case AGENT_NOT_MANAGED:
	case AGENT_PRIVILEGED:
		log_warnx("%s: %s v%lld %s%s%s: refused: %s", peer, ch->user_id,
		    v, what, as, role, err);
		return agent_req_reply(io, 422, applied, err,
		    res == AGENT_NOT_MANAGED ? PUSHMSG_CODE_ROLE_NOT_MANAGED :
		    PUSHMSG_CODE_ROLE_PRIVILEGED, NULL);
	default:
		log_warnx("%s: %s v%lld %s%s%s: failed: %s", peer, ch->user_id,
		    v, what, as, role, err);
		return agent_req_reply(io, 500, -1, err, PUSHMSG_CODE_NONE, NULL);
	}
}

int
agent_req_serve(const struct agent_io *io, struct agent_state *s,
    agent_hook_fn hook, void *arg, const char *peer)
{
	char buf[AGENT_MAX_HEAD + AGENT_MAX_BODY + 1], err[320];
	struct pushmsg ch;
	enum agent_apply res;
	int64_t applied;
	size_t len = 0;
	int r;

	r = agent_req_read(io, peer, buf, &len);
	if (r == -1)
		r = pushmsg_decode(buf, len, &ch, err, sizeof(err)) == -1 ?
		    agent_req_fail(io, peer, 400, err, NULL) : -1;
	crypto_wipe(buf, sizeof(buf));
	if (r != -1)
		return r;
	res = agent_state_apply(s, &ch, hook, arg, &applied, err, sizeof(err));
	r = agent_req_answer(io, peer, &ch, res, applied, err);
	crypto_wipe(&ch, sizeof(ch));
	return r;
}

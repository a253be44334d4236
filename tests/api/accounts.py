"""Helpers for the account API tests (test_10 … test_15), on top of harness.

- start_daemon(): a Daemon with login throttling relaxed, so that the wrong
  passwords a test sends on purpose never lock the shared 127.0.0.1 out;
  the lockout tests configure their own `login` group.
- admin_password(d), login(d, handle, password) -> Client (csrf set).
- make_user(): the bootstrap admin creates a user with a known password.
- Every secret a test sees (passwords it sent, csrf tokens, cookie values) is
  remembered on the daemon (d.secrets); DaemonCase.test_zz_no_secret_in_log
  checks, at the end of each class, that none of them reached acctd's stderr.

Nothing here is a TestCase, so the loader never collects it on its own.
"""
import contextlib
import http.client
import json
import os
import secrets as _secrets
import ssl
import string
import urllib.parse

from harness import Daemon, Client, assert_problem

API = "/api/v0"
COOKIE = "__Host-acctd_session"
# high threshold, tiny window: a test's deliberate failures never lock it out
RELAXED_LOGIN = {"max_failures": 1000, "window": 1, "lockout": 1}
USER_ID_RE = r"^u_[0-9a-v]{20}$"
RFC3339_RE = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$"
USER_KEYS = {"id", "handle", "email", "display_name", "avatar_url", "role", "status",
             "token_min_issued_at", "version_id", "created_at", "updated_at"}


def rand(n=12, alphabet=string.ascii_letters + string.digits):
    return "".join(_secrets.choice(alphabet) for _ in range(n))


def new_password(prefix="Pw"):
    """A password no log line or JSON text contains by chance."""
    return prefix + "-" + rand(14)


_seq = [0]


def uniq(prefix):
    """A fresh, valid handle: prefix + a counter (lower case, digits)."""
    _seq[0] += 1
    return "%s%d" % (prefix, _seq[0])


# --- the daemon -----------------------------------------------------------

def start_daemon(extra=None):
    settings = {"login": dict(RELAXED_LOGIN)}
    settings.update(extra or {})
    d = Daemon(extra=settings)
    d.secrets = set()
    return d.start()


def remember(d, *values):
    """Note secrets the daemon must never log."""
    if not hasattr(d, "secrets"):
        d.secrets = set()
    for v in values:
        if v:
            d.secrets.add(v)


def admin_password(d):
    """The bootstrap admin's password: first line of <data_dir>/admin.password."""
    with open(os.path.join(d.settings["data_dir"], "admin.password")) as f:
        pw = f.readline().strip()
    remember(d, pw)
    return pw


def assert_no_secret_in_log(tc, d):
    """No secret the tests used appears in acctd's stderr, the bootstrap
    admin's generated password included: stderr is not a terminal here, so
    it stays in its 0600 file."""
    log = d.logtext()
    admin_password(d)
    for s in sorted(d.secrets):
        n = log.count(s)
        tc.assertEqual(n, 0, "a secret (%s…, %d chars) appears %d times in "
                       "acctd's log" % (s[:3], len(s), n))


# --- clients --------------------------------------------------------------

class ApiClient(Client):
    """harness.Client, plus:
    - an optional source address (127.0.0.2 …): Linux routes all of 127/8
      to lo, so acctd sees a different peer although it listens on 127.0.0.1;
    - one reconnect when acctd has closed an idle keep-alive connection and
      the next write fails with an SSL EOF (harness.Client retries only
      on reset / broken pipe / remote disconnect)."""

    def __init__(self, daemon, source=None):
        super().__init__(daemon)
        self.source = source

    def _connect(self):
        self.conn = http.client.HTTPSConnection(
            "127.0.0.1", self.daemon.port, context=self.ctx, timeout=30,
            source_address=(self.source, 0) if self.source else None)

    def request(self, *args, **kw):
        try:
            return super().request(*args, **kw)
        except (ssl.SSLEOFError, ssl.SSLZeroReturnError):
            if self.conn:
                self.conn.close()
            self.conn = None
            return super().request(*args, **kw)


def client(d, source=None):
    return ApiClient(d, source)


def try_login(d, handle, password, source=None):
    """POST /login from a fresh client; the Response (any status) and the client."""
    c = client(d, source)
    remember(d, password)
    r = c.post(API + "/login", {"handle": handle, "password": password})
    if r.status == 200:
        c.csrf = r.json.get("csrf_token")
        remember(d, c.csrf, c.cookies.get(COOKIE))
    return r, c


def login(d, handle, password, source=None):
    """A signed-in Client (cookie kept, csrf set from the login answer)."""
    r, c = try_login(d, handle, password, source)
    if r.status != 200:
        raise AssertionError("login %r failed: %r" % (handle, r))
    c.user = r.json["user"]
    c.login_response = r
    return c


def session_cookie(c):
    return c.cookies.get(COOKIE)


def with_cookie(d, value):
    """A fresh client that presents a given session cookie value."""
    c = ApiClient(d)
    c.cookies[COOKIE] = value
    return c


@contextlib.contextmanager
def no_csrf(c):
    saved = c.csrf
    c.csrf = None
    try:
        yield c
    finally:
        c.csrf = saved


def patch(c, path, body=None, **kw):
    return c.request("PATCH", path, body=body, **kw)


def put(c, path, body=None, **kw):
    return c.request("PUT", path, body=body, **kw)


def delete(c, path, **kw):
    return c.request("DELETE", path, **kw)


def upath(handle, rest=""):
    return "%s/user/%s%s" % (API, urllib.parse.quote(handle, safe=""), rest)


# --- users -----------------------------------------------------------------

def create_user(d, admin, handle, **fields):
    """POST /admin/user; the Response. Passwords sent are remembered."""
    body = {"handle": handle, "email": fields.pop("email", "%s@example.com" % handle.lower())}
    # a password the test chose is the user's own (issue 16: an admin-set
    # password is one-time unless the admin says otherwise); tests of the
    # one-time rule pass must_change_password themselves
    if "password" in fields:
        body["must_change_password"] = False
    body.update(fields)
    remember(d, body.get("password"))
    r = admin.post(API + "/admin/user", body)
    if r.status == 201:
        remember(d, r.json.get("initial_password"))
    return r


def make_user(d, admin, handle, password=None, **fields):
    """Create a user with a known password; (user, password)."""
    password = password or new_password()
    r = create_user(d, admin, handle, password=password, **fields)
    if r.status != 201:
        raise AssertionError("creating %r failed: %r" % (handle, r))
    return r.json, password


def get_user(c, handle):
    return c.get(upath(handle))


def version_of(tc, admin, handle):
    r = get_user(admin, handle)
    tc.assertEqual(r.status, 200, r)
    return r.json["version_id"]


def check_user(tc, u):
    """A User object as docs/api.md shows it, and no secret in it."""
    tc.assertTrue(USER_KEYS.issubset(u.keys()), sorted(u.keys()))
    # must_change_password is a flag (issue 16), not a secret
    tc.assertIsInstance(u.get("must_change_password"), bool)
    for k in u:
        if k == "must_change_password":
            continue
        tc.assertNotRegex(k.lower(), "password|verifier|salt|secret|hash", "user field %r" % k)
    tc.assertRegex(u["id"], USER_ID_RE)
    tc.assertIn(u["role"], ("admin", "user"))
    tc.assertIn(u["status"], ("active", "disabled"))
    tc.assertIsInstance(u["version_id"], int)
    tc.assertNotIsInstance(u["version_id"], bool)
    tc.assertGreaterEqual(u["version_id"], 1)
    tc.assertRegex(u["created_at"], RFC3339_RE)
    tc.assertRegex(u["updated_at"], RFC3339_RE)
    if u["token_min_issued_at"] is not None:
        tc.assertRegex(u["token_min_issued_at"], RFC3339_RE)


# --- errors ----------------------------------------------------------------

def locations(p):
    return [e.get("location") for e in p.get("validation_errors") or []]


def assert_invalid(tc, r, location, status=400):
    """A problem+json answer naming `location` in validation_errors."""
    p = assert_problem(tc, r, status)
    tc.assertIn(location, locations(p), p)
    for e in p["validation_errors"]:
        tc.assertIsInstance(e.get("message"), str)
        tc.assertTrue(e["message"])
    return p


def normalized(p, *words):
    """A problem without `instance`, the given words (handles) masked: two
    answers that differ only there reveal nothing."""
    q = dict(p)
    q.pop("instance", None)
    text = json.dumps(q, sort_keys=True)
    for w in sorted(words, key=len, reverse=True):
        text = text.replace(w, "{h}")
    return text


# --- lists -----------------------------------------------------------------

def list_all(tc, c, path, limit=None, max_pages=1000):
    """Follow next_token to the end; (items, pages)."""
    items, pages = [], []
    token = None
    for _ in range(max_pages):
        q = {}
        if limit is not None:
            q["limit"] = str(limit)
        if token is not None:
            q["next_token"] = token
        r = c.get(path + ("?" + urllib.parse.urlencode(q) if q else ""))
        tc.assertEqual(r.status, 200, r)
        body = r.json
        tc.assertIsInstance(body["items"], list)
        pages.append(body)
        items.extend(body["items"])
        token = body.get("next_token")
        if token is None:
            return items, pages
        tc.assertIsInstance(token, str)
        tc.assertTrue(token)
    tc.fail("more than %d pages at %s" % (max_pages, path))


def all_audit(tc, admin, limit=100):
    return list_all(tc, admin, API + "/admin/audit", limit)[0]


# --- the per-class daemon ------------------------------------------------------

class DaemonCase:
    """Mixin for unittest.TestCase: one acctd per class (setUpClass) with
    `extra` config, the bootstrap admin signed in as cls.admin, and a last
    test checking that the daemon is alive and logged no secret."""
    extra = None

    @classmethod
    def setUpClass(cls):
        cls.d = start_daemon(cls.extra)
        try:
            cls.admin_pw = admin_password(cls.d)
            cls.admin = login(cls.d, "admin", cls.admin_pw)
        except BaseException:
            cls.d.stop(expect_rc=None)
            cls.d.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.d.stop()
        finally:
            cls.d.cleanup()

    def test_zz_alive_and_no_secret_in_log(self):
        self.assertIsNone(self.d.proc.poll(), "acctd exited:\n" + self.d.logtext())
        self.assertEqual(self.d.client().get("/healthz").status, 200)
        assert_no_secret_in_log(self, self.d)

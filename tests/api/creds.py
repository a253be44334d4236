"""Helpers for the credential tests (test_2*.py): signing in, creating
users, the workspace config, the token string format and the "no secret
leaks" check that ends every class.

Not a test module (the runner only loads test_*.py); CredCase is a mixin so
that unittest does not collect it on its own.
"""
import http.client
import itertools
import json
import os
import re
import ssl
import time
import urllib.parse
import zlib

from harness import Client, Daemon, assert_problem
import harness

API = "/api/v0"

# database password: five groups of five, Crockford-ish (no i l o u)
DBPASS_RE = re.compile(r"^[0-9a-z]{5}(-[0-9a-z]{5}){4}$")
# spt_ + id (20 of [0-9a-v]) + _ + 26 secret + 7 check chars of the alphabet below
TOKEN_RE = re.compile(r"^spt_[0-9a-v]{20}_[0-9a-hjkmnp-tv-z]{33}$")
TOKEN_ID_RE = re.compile(r"^t_[0-9a-v]{20}$")
RFC3339_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
B32 = "0123456789abcdefghjkmnpqrstvwxyz"
TOKEN_KEYS = {"id", "title", "status", "last4", "created_at", "updated_at",
              "last_used_at", "last_used_ip", "expires_at", "version_id", "scope"}
WORKSPACE_KEYS = {"handle", "owner", "role", "host", "port", "database", "node",
                  "connection_string"}

NODES = [{"name": "node1", "url": "https://127.0.0.1:9443", "cert": harness.test_cert()}]
WORKSPACES = [
    {"handle": "prod", "owner": "alice", "members": ["bob"], "node": "node1",
     "database": "dea4px", "port": 9193},
    {"handle": "dev", "owner": "alice", "node": "node1", "database": "devdb", "port": 9194},
]


def ws_extra(workspaces=None, **more):
    """Daemon(extra=…) for nodes + workspaces. The harness already sets
    dns = {domain = "ws.test"; hosts_file = <its tmp dir>/ws.hosts}."""
    e = {"nodes": NODES, "workspaces": WORKSPACES if workspaces is None else workspaces}
    e.update(more)
    return e


class RClient(Client):
    """harness.Client that also survives the server closing an idle
    keep-alive connection (keepalive_timeout_ms, default 2 s) just before a
    request is sent: that surfaces as ssl.SSLEOFError on send, which
    harness.Client does not retry, and it then leaves http.client in the
    "Request-sent" state (CannotSendRequest on every later call). A request
    that could not be sent was not processed, so one retry is safe."""

    def request(self, method, path, **kw):
        try:
            return super().request(method, path, **kw)
        except (ssl.SSLEOFError, ssl.SSLZeroReturnError,
                http.client.CannotSendRequest):
            if self.conn is not None:
                self.conn.close()
                self.conn = None
            return super().request(method, path, **kw)


def client(d):
    return RClient(d)


def admin_password(d):
    with open(os.path.join(d.dir, "data", "admin.password")) as f:
        return f.readline().strip()


def login(d, handle, password):
    """A Client signed in as handle (cookie + csrf set); fails loudly."""
    c = client(d)
    r = c.post(API + "/login", {"handle": handle, "password": password})
    if r.status != 200:
        raise AssertionError("login %s: %r" % (handle, r))
    c.csrf = r.json["csrf_token"]
    c.login_json = r.json
    return c


def create_user(admin, handle, password, email=None):
    r = admin.post(API + "/admin/user", {"handle": handle,
                                         "email": email or "%s@example.test" % handle,
                                         "password": password,
                                         "must_change_password": False})
    if r.status != 201:
        raise AssertionError("create user %s: %r" % (handle, r))
    return r.json


def bearer_client(d, token):
    """A fresh client that authenticates by the token only (no cookie, no CSRF)."""
    c = client(d)
    c.bearer = token
    return c


def crc_chars(prefix):
    """The 7 check chars: CRC32 (zlib) of prefix, 35 bits big-endian in B32."""
    c = zlib.crc32(prefix.encode()) & 0xffffffff
    out = []
    for _ in range(7):
        out.append(B32[c & 31])
        c >>= 5
    return "".join(reversed(out))


def with_checksum(body):
    """body = everything before the check chars; returns a checksum-valid token."""
    return body + crc_chars(body)


def mask(pw):
    """The masked form: first two and last two kept, dashes kept."""
    return "".join(ch if (i < 2 or i >= len(pw) - 2 or ch == "-") else "*"
                   for i, ch in enumerate(pw))


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def parse_rfc3339(s):
    import calendar
    return calendar.timegm(time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S"))


def audit_pages(admin, path=API + "/admin/audit"):
    """Every page of an audit list: [(raw body bytes, parsed json), …]."""
    pages = []
    nt = None
    for _ in range(1000):
        q = "?limit=100" + ("&next_token=" + urllib.parse.quote(nt, safe="") if nt else "")
        r = admin.get(path + q)
        if r.status != 200:
            raise AssertionError("%s: %r" % (path, r))
        pages.append((r.body, r.json))
        nt = r.json.get("next_token")
        if not nt:
            break
    return pages


def audit_records(admin, path=API + "/admin/audit"):
    return [rec for _, j in audit_pages(admin, path) for rec in j["items"]]


_n = itertools.count(1)


class CredCase:
    """Mixin for unittest.TestCase: one daemon per class (config in
    `extra`), a signed-in admin, per-test users, and the secrets check.

    Every secret a test sees (token strings, database and console passwords,
    CSRF tokens) goes to self.saw(); test_zz_* (runs last: unittest sorts by
    name) asserts none of them is in the daemon's stderr or in any page of
    /admin/audit, the bootstrap admin's generated password included (it is
    printed only when stderr is a terminal, which it is not here)."""
    extra = {}

    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(extra=cls.extra)
        try:
            cls.d.start()
            cls.seen = set()
            cls.admin = login(cls.d, "admin", admin_password(cls.d))
            cls.seen.add(admin_password(cls.d))
            cls.seen.add(cls.admin.csrf)
            cls.prepare()
        except BaseException:
            cls.d.stop(expect_rc=None)
            cls.d.cleanup()
            raise

    @classmethod
    def prepare(cls):
        """Per-class set-up after the daemon is up (users, …)."""

    @classmethod
    def tearDownClass(cls):
        try:
            cls.d.stop()
        finally:
            cls.d.cleanup()

    @classmethod
    def saw(cls, *secrets):
        for s in secrets:
            if s:
                cls.seen.add(s)

    @classmethod
    def user(cls, handle=None, password=None):
        """Create a user and sign in: (handle, client, user json)."""
        handle = handle or "u%d" % next(_n)
        password = password or "console-%s-Pw1" % handle
        u = create_user(cls.admin, handle, password)
        c = login(cls.d, handle, password)
        cls.saw(password, c.csrf)
        return handle, c, u

    @classmethod
    def relogin(cls, handle, client):
        """Sign client in again (after a token reset ended its session)."""
        password = "console-%s-Pw1" % handle
        c = login(cls.d, handle, password)
        cls.saw(c.csrf)
        client.cookies, client.csrf = c.cookies, c.csrf
        return client

    def dbpass(self, c, handle):
        r = c.get("%s/user/%s/password" % (API, handle))
        self.assertEqual(r.status, 200, r)
        self.saw(r.json["password"])
        return r.json

    def new_token(self, c, handle, body=None, status=201):
        r = c.post("%s/user/%s/token" % (API, handle), body)
        self.assertEqual(r.status, status, r)
        if status == 201:
            tok = r.json["token"]
            self.saw(tok, tok[25:])     # the whole string and the secret part alone
            return r.json
        return r

    def assert_401_bearer(self, r):
        p = assert_problem(self, r, 401)
        self.assertTrue((r.header("WWW-Authenticate") or "").startswith("Bearer"), r.headers)
        return p

    def test_zz_no_secret_in_log_or_audit(self):
        seen = sorted(type(self).seen)
        self.assertTrue(seen, "the class saw no secret at all?")
        log = self.d.logtext()
        pages = audit_pages(self.admin)
        # the audit itself stays consistent
        v = self.admin.get(API + "/admin/audit/verify")
        self.assertEqual(v.status, 200, v)
        self.assertTrue(v.json.get("ok"), v.json)
        for s in seen:
            self.assertNotIn(s, log, "a secret the test saw is in acctd's stderr")
            for raw, j in pages:
                self.assertNotIn(s.encode(), raw, "a secret is in /admin/audit")
                self.assertNotIn(s, json.dumps(j), "a secret is in /admin/audit")

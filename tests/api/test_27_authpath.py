"""The authenticated path's shared state under load (issue 12 point 4): read
txns renewed from a pool, the printed User memoized beside the user memo,
binary session and token records.

Workers sign in over and over (cookie and Bearer, each on its own
keep-alive connection) while the main thread changes the user: every change
shows on the very next request, and a revoked token, a disabled user and
their sessions are refused on the very next request, from every worker.
Under `make SANITIZE=thread` the harness fails the file on any
ThreadSanitizer report (tests/api/harness.py)."""
import signal
import threading
import time
import unittest

from accounts import (API, client, delete, login, make_user, patch, start_daemon,
                      admin_password, assert_no_secret_in_log, remember, uniq, upath)
from creds import WORKSPACES, CredCase, bearer_client, mask, ws_extra
from harness import SANITIZED, TSAN

WORKERS = 6
SLOW = 4 if (SANITIZED or TSAN) else 1


class Load:
    """WORKERS threads GETting path with their own clients until stop();
    each answer is kept with the time its request was sent"""

    def __init__(self, make_client, path="/actor"):
        self.stop_flag = threading.Event()
        self.answers = [[] for _ in range(WORKERS)]
        self.errors = []
        self.threads = [threading.Thread(target=self.run, args=(i, make_client, path))
                        for i in range(WORKERS)]
        for t in self.threads:
            t.start()

    def run(self, i, make_client, path):
        try:
            c = make_client()
            while not self.stop_flag.is_set():
                sent = time.monotonic()
                r = c.get(API + path)
                self.answers[i].append((sent, r.status, r.json if r.status == 200 else None))
        except Exception as e:      # noqa: BLE001 — reported by the test
            self.errors.append(repr(e))

    def stop(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join(timeout=30 * SLOW)
        return [a for per in self.answers for a in per]


class AuthPath(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = start_daemon({"http": {"threads": 8}})
        cls.admin = login(cls.d, "admin", admin_password(cls.d))

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    def user_with_token(self):
        h = uniq("ap")
        _, pw = make_user(self.d, self.admin, h)
        c = login(self.d, h, pw)
        r = c.post(upath(h, "/token"), {"title": "load"})
        self.assertEqual(r.status, 201, r)
        remember(self.d, r.json["token"])
        return h, c, r.json

    def bearer(self, token):
        c = client(self.d)
        c.bearer = token
        return c

    def cookie(self, c):
        k = client(self.d)
        k.cookies = dict(c.cookies)
        return k

    def test_every_change_shows_on_the_next_request(self):
        h, c, tok = self.user_with_token()
        load = Load(lambda: self.bearer(tok["token"]))
        load2 = Load(lambda: self.cookie(c))
        try:
            probe = self.bearer(tok["token"])
            for n in range(12):
                name = "Load %d" % n
                r = patch(c, upath(h), {"display_name": name})
                self.assertEqual(r.status, 200, r)
                # a request sent after the change answers it, whatever the
                # workers' requests left in the memo and the reader pool
                for pc in (probe, c):
                    r = pc.get(API + "/actor")
                    self.assertEqual((r.status, r.json["display_name"]), (200, name), r)
                    self.assertEqual(r.json["version_id"], n + 2)
        finally:
            answers = load.stop() + load2.stop()
        self.assertEqual(load.errors + load2.errors, [])
        self.assertGreater(len(answers), 24)
        for _, status, j in answers:
            self.assertEqual(status, 200)
            self.assertEqual(j["handle"], h)
            self.assertIn(j["display_name"], [None] + ["Load %d" % n for n in range(12)])
            self.assertEqual(j["display_name"] is None, j["version_id"] == 1)

    def test_revoked_token_refused_by_every_worker(self):
        h, c, tok = self.user_with_token()
        load = Load(lambda: self.bearer(tok["token"]))
        try:
            time.sleep(0.3 * SLOW)
            r = patch(c, upath(h, "/token/" + tok["id"]), {"status": "inactive"})
            self.assertEqual(r.status, 200, r)
            revoked = time.monotonic()
            r = self.bearer(tok["token"]).get(API + "/actor")
            self.assertEqual(r.status, 401, r)
            time.sleep(0.3 * SLOW)
        finally:
            answers = load.stop()
        self.assertEqual(load.errors, [])
        self.assertTrue(any(s == 200 for t, s, _ in answers if t < revoked))
        after = [s for t, s, _ in answers if t > revoked]
        self.assertTrue(after)
        self.assertEqual(set(after), {401})

    def test_disabled_user_refused_by_every_worker(self):
        h, c, tok = self.user_with_token()
        load = Load(lambda: self.bearer(tok["token"]))
        load2 = Load(lambda: self.cookie(c))
        try:
            time.sleep(0.3 * SLOW)
            r = self.admin.post(API + "/admin/user/%s/disable" % h)
            self.assertEqual(r.status, 200, r)
            disabled = time.monotonic()
            self.assertEqual(self.bearer(tok["token"]).get(API + "/actor").status, 401)
            self.assertEqual(self.cookie(c).get(API + "/actor").status, 401)
            time.sleep(0.3 * SLOW)
        finally:
            answers = load.stop() + load2.stop()
        self.assertEqual(load.errors + load2.errors, [])
        after = [s for t, s, _ in answers if t > disabled]
        self.assertTrue(after)
        self.assertEqual(set(after), {401})

    def test_signed_out_session_refused_by_every_worker(self):
        h, c, _ = self.user_with_token()
        load = Load(lambda: self.cookie(c))
        try:
            time.sleep(0.3 * SLOW)
            other = self.cookie(c)
            other.csrf = c.csrf
            self.assertEqual(other.post(API + "/logout").status, 204)
            out = time.monotonic()
            self.assertEqual(self.cookie(c).get(API + "/actor").status, 401)
            time.sleep(0.3 * SLOW)
        finally:
            answers = load.stop()
        self.assertEqual(load.errors, [])
        after = [s for t, s, _ in answers if t > out]
        self.assertTrue(after)
        self.assertEqual(set(after), {401})

    def test_deleted_token_refused_by_every_worker(self):
        h, c, tok = self.user_with_token()
        load = Load(lambda: self.bearer(tok["token"]), path="/user/%s" % h)
        try:
            time.sleep(0.3 * SLOW)
            self.assertEqual(delete(c, upath(h, "/token/" + tok["id"])).status, 204)
            gone = time.monotonic()
            self.assertEqual(self.bearer(tok["token"]).get(API + "/actor").status, 401)
            time.sleep(0.3 * SLOW)
        finally:
            answers = load.stop()
        self.assertEqual(load.errors, [])
        self.assertEqual(set(s for t, s, _ in answers if t > gone), {401})

    def test_zz_no_secret_in_log(self):
        assert_no_secret_in_log(self, self.d)


class WorkspaceAnswers(CredCase, unittest.TestCase):
    """GET …/workspace answers are kept per user while the store and the
    config are the same: a rotation, a rename and a reload each show on the
    very next request while workers read the list."""
    extra = ws_extra()

    @classmethod
    def prepare(cls):
        cls.h, cls.c, _ = cls.user("alice")

    def setUp(self):
        self.tok = self.new_token(self.c, "alice", {"title": "ws"})["token"]

    def listed(self, client=None):
        r = (client or bearer_client(self.d, self.tok)).get(API + "/user/alice/workspace")
        self.assertEqual(r.status, 200, r)
        return r.json["items"]

    def test_rotation_reload_show_at_once(self):
        load = Load(lambda: bearer_client(self.d, self.tok), path="/user/alice/workspace")
        try:
            for _ in range(3):
                r = self.c.post(API + "/user/alice/password")
                self.assertEqual(r.status, 200, r)
                self.saw(r.json["password"])
                want = mask(r.json["password"])
                for w in self.listed():
                    self.assertIn(":%s@" % want, w["connection_string"])
            self.assertEqual(sorted(w["handle"] for w in self.listed()), ["dev", "prod"])
            n = self.d.logtext().count("reload: ")
            self.d.settings["workspaces"] = WORKSPACES + [
                {"handle": "extra", "owner": "alice", "node": "node1", "database": "xdb",
                 "port": 9300}]
            self.d.write_conf()
            self.d.proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 10 * SLOW
            while self.d.logtext().count("reload: ") == n and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertIn("reload: %s loaded" % self.d.conf, self.d.logtext())
            self.assertEqual(sorted(w["handle"] for w in self.listed()), ["dev", "extra", "prod"])
        finally:
            answers = load.stop()
        self.assertEqual(load.errors, [])
        self.assertGreater(len(answers), 6)
        self.assertEqual(set(s for _, s, _ in answers), {200})
        # revealed answers are never the kept (masked) ones, and are audited
        r = bearer_client(self.d, self.tok).get(API + "/user/alice/workspace?reveal=1")
        self.assertEqual(r.status, 200, r)
        self.assertNotIn("*", r.json["items"][0]["connection_string"])
        self.saw(r.json["items"][0]["connection_string"].split(":")[2].split("@")[0])
        self.assertIn("*", self.listed()[0]["connection_string"])


if __name__ == "__main__":
    unittest.main()

"""Scheduled rotation of the database password (issue 15, part D), end to end
with real components: a PostgreSQL 15 cluster, an acctd-agent in front of it,
and acctd pushing to it over mutual TLS (test_30_push's helpers).

A day lasts one second here (ACCTD_TEST_DAY_SECONDS=1, tests only), so
"rotate every 3 days" means every 3 s."""
import calendar
import os
import shutil
import tempfile
import time
import unittest

from harness import Daemon, assert_problem
from test_30_push import AGENT, Agent, Cluster, mkcert

POLICY = 20           # passwords.rotate_every_days: 20 s here


class Rotation(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        assert os.path.exists(AGENT), "acctd-agent is not built: " + AGENT
        cls.base = tempfile.mkdtemp(prefix="acctd-rotate-")
        os.chmod(cls.base, 0o755)
        mkcert(os.path.join(cls.base, "acctd-client"), "acctd")
        client_cert = os.path.join(cls.base, "acctd-client.crt")
        cls.cluster = Cluster(cls.base, "pg1")
        cls.agent = Agent(cls.base, "node1", cls.cluster, client_cert)
        cls.agent.start()
        cls.d = Daemon(env={"ACCTD_TEST_DAY_SECONDS": "1"}, extra={
            "passwords": {"pbkdf2_iterations": 1000, "rotate_every_days": POLICY},
            "nodes": [{"name": "node1", "url": "https://127.0.0.1:%d" % cls.agent.port,
                       "cert": cls.agent.cert}],
            "workspaces": [{"handle": "prod", "owner": "alice", "node": "node1",
                            "database": "postgres", "port": cls.cluster.port}],
            "push": {"client_cert": client_cert,
                     "client_key": os.path.join(cls.base, "acctd-client.key"),
                     "retry_max_seconds": 1},
        }).start()
        cls.sign_in()
        r = cls.admin.post("/api/v0/admin/user", {"handle": "alice", "email": "a@x.test",
                                                  "password": "alice-console-1",
                                                  "must_change_password": False})
        assert r.status == 201, r

    @classmethod
    def sign_in(cls):
        pw = open(os.path.join(cls.d.dir, "data", "admin.password")).read().strip()
        cls.admin = cls.d.client()
        r = cls.admin.post("/api/v0/login", {"handle": "admin", "password": pw})
        assert r.status == 200, r
        cls.admin.csrf = r.json["csrf_token"]

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.agent.stop()
        cls.cluster.stop()
        cls.d.cleanup()
        shutil.rmtree(cls.base, ignore_errors=True)

    def tearDown(self):
        self.set_days(0)          # back to the policy: nothing due for 20 s

    def set_days(self, n):
        r = self.admin.request("PATCH", "/api/v0/user/alice",
                               body={"dbpass_rotate_every_days": n})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["dbpass_rotate_every_days"], n)
        return r.json

    def meta(self):
        """the password object without the secret (no audit record)"""
        r = self.admin.get("/api/v0/user/alice/password?reveal=0")
        self.assertEqual(r.status, 200, r)
        return r.json

    def secret(self):
        r = self.admin.get("/api/v0/user/alice/password")
        self.assertEqual(r.status, 200, r)
        return r.json

    def wait_version(self, v, timeout):
        t0 = time.monotonic()
        while True:
            j = self.meta()
            if j["version"] >= v:
                return j
            if time.monotonic() - t0 > timeout:
                self.fail("version %d not reached after %ss: %s" % (v, timeout, j))
            time.sleep(0.05)

    def wait_applied(self, timeout=15):
        t0 = time.monotonic()
        while True:
            j = self.secret()
            st = {p["node"]: p for p in j["propagation"]}
            if st.get("node1", {}).get("status") == "applied":
                return j
            if time.monotonic() - t0 > timeout:
                self.fail("not applied after %ss: %s" % (timeout, j["propagation"]))
            time.sleep(0.1)

    def scheduled(self, version):
        """the audit records of alice's scheduled rotation to version"""
        r = self.admin.get("/api/v0/user/alice/audit?action=user.password.rotate&limit=100")
        self.assertEqual(r.status, 200, r)
        return [a for a in r.json["items"] if a["data"].get("source") == "scheduled"
                and a["data"].get("version") == version]

    @staticmethod
    def ts(s):
        return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))

    def test_1_policy_shows_the_due_date(self):
        j = self.meta()
        self.assertEqual(self.ts(j["dbpass_next_rotation_at"]) - self.ts(j["created_at"]),
                         POLICY)
        r = self.admin.get("/api/v0/user/alice")
        self.assertEqual(r.json["dbpass_rotate_every_days"], 0)

    def test_2_user_setting_is_checked_and_bounded_by_the_policy(self):
        before = self.admin.get("/api/v0/user/alice").json
        for bad, msg in ((POLICY + 1, "must be an integer from 0 to %d (the appliance's "
                          "rotation policy)" % POLICY),
                         (-1, "must be an integer from 0 to 3650"),
                         ("3", "must be an integer")):
            r = self.admin.request("PATCH", "/api/v0/user/alice",
                                   body={"dbpass_rotate_every_days": bad})
            p = assert_problem(self, r, 400)
            self.assertEqual(p["validation_errors"],
                             [{"location": "body.dbpass_rotate_every_days", "message": msg}])
        self.assertEqual(self.admin.get("/api/v0/user/alice").json, before)
        j = self.set_days(5)
        m = self.meta()
        self.assertEqual(self.ts(m["dbpass_next_rotation_at"]) - self.ts(m["created_at"]), 5)
        self.assertEqual(j["version_id"], before["version_id"] + 1)

    def test_3_due_rotation_reaches_postgres_and_is_audited(self):
        old = self.wait_applied()
        self.assertTrue(self.cluster.login("alice", old["password"]))
        self.set_days(2)
        self.wait_version(old["version"] + 1, 10)
        self.set_days(0)          # no further one while we look
        new = self.wait_applied()
        self.assertEqual(new["version"], old["version"] + 1)
        self.assertNotEqual(new["password"], old["password"])
        self.assertTrue(self.cluster.login("alice", new["password"]))
        self.assertFalse(self.cluster.login("alice", old["password"]))
        recs = self.scheduled(old["version"] + 1)
        self.assertEqual(len(recs), 1, recs)
        self.assertIsNone(recs[0]["actor_id"])
        self.assertEqual(recs[0]["target_handle"], "alice")
        self.assertNotIn(new["password"], str(recs[0]))
        self.assertEqual(self.ts(new["dbpass_next_rotation_at"]) - self.ts(new["created_at"]),
                         POLICY)

    def kill9(self):
        self.d.proc.kill()
        self.d.proc.wait(10)

    def restart(self):
        self.d.start()
        type(self).sign_in()

    def test_4_kill9_right_after_a_rotation_does_not_double_it(self):
        v = self.meta()["version"]
        self.set_days(5)
        j = self.wait_version(v + 1, 10)
        self.kill9()
        self.restart()
        after = self.meta()
        self.assertEqual(after["version"], v + 1)
        self.assertEqual(after["dbpass_next_rotation_at"], j["dbpass_next_rotation_at"])
        self.assertEqual(len(self.scheduled(v + 1)), 1)
        self.assertEqual(self.scheduled(v + 2), [])

    def test_5_due_while_stopped_rotates_once_after_the_start(self):
        self.set_days(3)
        # a fresh rotation first: the next one is then 3 s away
        v = self.wait_version(self.meta()["version"] + 1, 10)["version"]
        due = self.ts(self.meta()["dbpass_next_rotation_at"])
        self.kill9()
        while time.time() < due + 2:
            time.sleep(0.2)
        self.restart()
        j = self.wait_version(v + 1, 5)
        self.assertEqual(j["version"], v + 1)
        self.assertEqual(len(self.scheduled(v + 1)), 1)
        # the next one is 3 "days" after the rotation, not after the old due time
        self.assertEqual(self.ts(j["dbpass_next_rotation_at"]) - self.ts(j["created_at"]), 3)
        self.assertGreater(self.ts(j["created_at"]), due)

    def test_6_node_down_delays_the_push_but_loses_nothing(self):
        self.wait_applied()
        self.agent.stop()
        try:
            v = self.meta()["version"]
            self.set_days(2)
            self.wait_version(v + 1, 10)
            self.set_days(0)
            t0 = time.monotonic()
            while True:
                st = {p["node"]: p for p in self.meta()["propagation"]}
                if st["node1"].get("last_error"):
                    break
                self.assertLess(time.monotonic() - t0, 15, st)
                time.sleep(0.1)
            self.assertEqual(st["node1"]["status"], "pending")
        finally:
            self.agent.start()
        j = self.wait_applied(timeout=20)
        self.assertEqual(j["version"], v + 1)
        self.assertTrue(self.cluster.login("alice", j["password"]))


if __name__ == "__main__":
    unittest.main()

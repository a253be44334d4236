"""A config reload queues pushes only for what it changed (issue 12, point 6).

SIGHUP used to recompute every user's state for every node, with a new
version each (a re-push of everyone, and the writer held for ~1 s at 100 k
users). Now only the users whose workspace membership moved are queued.
The node here is never reachable (nothing listens on its port): what acctd
queued for it stays in the outbox, with its version, for the test to see."""
import copy
import os
import signal
import time
import unittest

from harness import Daemon, free_port
import harness


class ReloadPush(unittest.TestCase):
    def setUp(self):
        self.d = Daemon(extra={
            "nodes": [{"name": "node1", "url": "https://127.0.0.1:%d" % free_port(),
                       "cert": harness.test_cert()}],
            "workspaces": [{"handle": "prod", "owner": "alice", "members": [],
                            "node": "node1", "database": "db1", "port": 9193}],
        }).start()
        pw = open(os.path.join(self.d.dir, "data", "admin.password")).read().strip()
        self.admin = self.d.client()
        r = self.admin.post("/api/v0/login", {"handle": "admin", "password": pw})
        self.assertEqual(r.status, 200, r)
        self.admin.csrf = r.json["csrf_token"]
        for h in ("alice", "bob", "carol"):
            r = self.admin.post("/api/v0/admin/user", {"handle": h, "email": h + "@x.test"})
            self.assertEqual(r.status, 201, r)

    def tearDown(self):
        self.admin.close()
        self.d.stop()
        self.d.cleanup()

    def queued(self):
        """{handle: pending version on node1, or None when nothing is queued}"""
        out = {}
        for h in ("admin", "alice", "bob", "carol"):
            r = self.admin.get("/api/v0/user/%s/password?reveal=0" % h)
            self.assertEqual(r.status, 200, r)
            p = [x for x in r.json["propagation"] if x["node"] == "node1"]
            out[h] = p[0].get("pending_version") if p else None
        return out

    def reload(self, settings):
        n = self.d.logtext().count("reload: workspace membership changed")
        self.d.write_conf(settings)
        self.d.proc.send_signal(signal.SIGHUP)
        t0 = time.monotonic()
        while self.d.logtext().count("reload: workspace membership changed") == n:
            self.assertLess(time.monotonic() - t0, 10, self.d.logtext())
            time.sleep(0.05)
        return self.d.logtext().splitlines()[-1]

    def test_unrelated_change_queues_nothing(self):
        before = self.queued()
        self.assertIsNotNone(before["alice"])
        self.assertIsNone(before["bob"])
        settings = copy.deepcopy(self.d.settings)
        settings["log_level"] = "info"
        settings["rate_limit"] = {"writes_per_minute": 50000, "writes_burst": 9000}
        self.reload(settings)
        self.assertIn("membership changed for 0 user(s)", self.d.logtext())
        self.assertEqual(self.queued(), before)

    def test_adding_a_member_pushes_exactly_that_user(self):
        before = self.queued()
        settings = copy.deepcopy(self.d.settings)
        settings["workspaces"][0]["members"] = ["bob"]
        self.reload(settings)
        self.assertIn("membership changed for 1 user(s)", self.d.logtext())
        after = self.queued()
        self.assertIsNotNone(after["bob"])
        for h in ("admin", "alice", "carol"):
            self.assertEqual(after[h], before[h], h)
        # and taking the member away again queues bob alone (as absent)
        r = self.admin.get("/api/v0/user/bob/password?reveal=0")
        self.assertEqual([p["state"] for p in r.json["propagation"]], ["present"])
        self.reload(self.d.settings)
        again = self.queued()
        self.assertGreater(again["bob"], after["bob"])
        for h in ("admin", "alice", "carol"):
            self.assertEqual(again[h], before[h], h)
        r = self.admin.get("/api/v0/user/bob/password?reveal=0")
        self.assertEqual([p["state"] for p in r.json["propagation"]], ["absent"])


if __name__ == "__main__":
    unittest.main()

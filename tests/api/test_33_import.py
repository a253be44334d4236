"""acctd import: provisioning many users at once, into a running acctd
(issue 12, point 6). Each user is created and audited as an admin's POST
/admin/user creates one (user.create, data.source "import"), the workspace
members get their outbox entries, and with -p each gets a one-time console
password in a 0600 file."""
import copy
import json
import os
import signal
import stat
import subprocess
import time
import unittest

from harness import BIN, Daemon, free_port
import harness

N = 1000


def handle(i):
    return "imp-%05d" % i


class Import(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(extra={
            "nodes": [{"name": "node1", "url": "https://127.0.0.1:%d" % free_port(),
                       "cert": harness.test_cert()}],
            "workspaces": [{"handle": "prod", "owner": "admin", "members": [handle(7)],
                            "node": "node1", "database": "db1", "port": 9193}],
        }).start()
        pw = open(os.path.join(cls.d.dir, "data", "admin.password")).read().strip()
        cls.admin = cls.d.client()
        r = cls.admin.post("/api/v0/login", {"handle": "admin", "password": pw})
        assert r.status == 200, r
        cls.admin.csrf = r.json["csrf_token"]
        cls.users = os.path.join(cls.d.dir, "users.jsonl")
        with open(cls.users, "w") as f:
            for i in range(N):
                u = {"handle": handle(i), "email": "%s@example.com" % handle(i)}
                if i % 10 == 0:
                    u["display_name"] = "User %d" % i
                if i == 3:
                    u["role"] = "admin"
                f.write(json.dumps(u) + "\n")
        cls.pwfile = os.path.join(cls.d.dir, "passwords.tsv")
        t0 = time.monotonic()
        cls.run_ = subprocess.run([BIN, "import", "-c", cls.d.conf, "-p", cls.pwfile, cls.users],
                                  capture_output=True, text=True, timeout=300)
        cls.took = time.monotonic() - t0

    @classmethod
    def tearDownClass(cls):
        cls.admin.close()
        cls.d.stop()
        cls.d.cleanup()

    def test_1_imported_while_running(self):
        self.assertEqual(self.run_.returncode, 0, self.run_.stderr)
        self.assertIn("%d of %d user(s) imported" % (N, N), self.run_.stderr)
        print("\n  acctd import: %d users (with one-time passwords) in %.1f s" % (N, self.took))
        r = self.admin.get("/api/v0/admin/user?limit=1")
        self.assertEqual(r.json["total"], N + 1)
        r = self.admin.get("/api/v0/admin/user?q=imp-00042")
        self.assertEqual([u["handle"] for u in r.json["items"]], ["imp-00042"])
        u = r.json["items"][0]
        self.assertEqual(u["email"], "imp-00042@example.com")
        self.assertTrue(u["must_change_password"])
        r = self.admin.get("/api/v0/user/imp-00010")
        self.assertEqual(r.json["display_name"], "User 10")
        self.assertEqual(self.admin.get("/api/v0/user/imp-00003").json["role"], "admin")

    def test_2_audited_like_an_admin_create(self):
        r = self.admin.get("/api/v0/user/imp-00042/audit")
        self.assertEqual(r.status, 200, r)
        recs = r.json["items"]
        self.assertEqual([a["action_type"] for a in recs], ["user.create"])
        a = recs[0]
        self.assertEqual(a["data"], {"handle": "imp-00042", "email": "imp-00042@example.com",
                                     "role": "user", "source": "import"})
        self.assertIsNone(a["actor_id"])
        self.assertEqual(a["target_handle"], "imp-00042")
        # one record per user, and the chain holds
        n, nxt = 0, ""
        while True:
            r = self.admin.get("/api/v0/admin/audit?action=user.create&limit=100" + nxt)
            n += sum(1 for x in r.json["items"] if (x["data"] or {}).get("source") == "import")
            if "next_token" not in r.json:
                break
            nxt = "&next_token=" + r.json["next_token"]
        self.assertEqual(n, N)
        r = self.admin.get("/api/v0/admin/audit/verify")
        self.assertTrue(r.json["ok"], r.json)

    def test_3_one_time_password_signs_in(self):
        st = os.stat(self.pwfile)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        lines = open(self.pwfile).read().splitlines()
        self.assertEqual(len(lines), N)
        pws = dict(l.split("\t") for l in lines)
        c = self.d.client()
        r = c.post("/api/v0/login", {"handle": "imp-00123", "password": pws["imp-00123"]})
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json["user"]["must_change_password"])
        c.close()

    def test_4_members_queued_for_their_node(self):
        r = self.admin.get("/api/v0/user/%s/password?reveal=0" % handle(7))
        self.assertEqual([(p["node"], p["state"]) for p in r.json["propagation"]],
                         [("node1", "present")])
        r = self.admin.get("/api/v0/user/%s/password?reveal=0" % handle(8))
        self.assertEqual(r.json["propagation"], [])
        # a user imported without a verifier gets one when a workspace names it
        settings = copy.deepcopy(self.d.settings)
        settings["workspaces"][0]["members"] = [handle(7), handle(8)]
        n = self.d.logtext().count("reload: workspace membership changed")
        self.d.write_conf(settings)
        self.d.proc.send_signal(signal.SIGHUP)
        t0 = time.monotonic()
        while self.d.logtext().count("reload: workspace membership changed") == n:
            self.assertLess(time.monotonic() - t0, 10, self.d.logtext())
            time.sleep(0.05)
        r = self.admin.get("/api/v0/user/%s/password?reveal=0" % handle(8))
        self.assertEqual([(p["node"], p["state"]) for p in r.json["propagation"]],
                         [("node1", "present")])

    def test_5_errors_import_nothing(self):
        bad = os.path.join(self.d.dir, "bad.jsonl")
        with open(bad, "w") as f:
            f.write(json.dumps({"handle": "new-one", "email": "n@x.test"}) + "\n")
            f.write(json.dumps({"handle": "Bad_Handle", "email": "nope"}) + "\n")
            f.write(json.dumps({"handle": "imp-00001", "email": "i@x.test"}) + "\n")
            f.write(json.dumps({"handle": "new-one", "email": "n2@x.test"}) + "\n")
            f.write(json.dumps({"handle": "other", "email": "o@x.test", "x": 1}) + "\n")
        p = subprocess.run([BIN, "import", "-c", self.d.conf, bad], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 1, p.stderr)
        err = p.stderr
        self.assertIn(bad + ":2: handle:", err)
        self.assertIn(bad + ":2: email:", err)
        self.assertIn(bad + ":5: x: unknown field", err)
        self.assertIn(bad + ":3: handle: imp-00001 is taken", err)
        self.assertIn(bad + ":4: handle: new-one is given again (line 1)", err)
        self.assertIn("nothing was imported", err)
        self.assertEqual(self.admin.get("/api/v0/user/new-one").status, 404)
        # the passwords file is never overwritten
        p = subprocess.run([BIN, "import", "-c", self.d.conf, "-p", self.pwfile, bad],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 1)


if __name__ == "__main__":
    unittest.main()

"""Workspace membership reaches the nodes across restarts and crashes.

acctd records in its store the workspace membership (nodes; workspaces:
handle, owner, members, node) the outbox was last fully synced against,
in the transaction of a resync's last batch. At every start and SIGHUP it
compares that record with the running config and recomputes the users
whose serving nodes differ. So:

- a member removed from a workspace in the config while acctd was down
  loses LOGIN on that node after the restart (a real agent and PostgreSQL);
- a resync cut off by SIGKILL (2,000 imported users, 500 under
  ThreadSanitizer, killed after its first batch) is done again at the next start and converges;
- a restart with an unchanged config queues nothing (no new version)."""
import copy
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from harness import BIN, Daemon, free_port
from test_30_push import AGENT, Agent, Cluster, mkcert
import harness


def sign_in(d):
    pw = open(os.path.join(d.dir, "data", "admin.password")).read().strip()
    c = d.client()
    r = c.post("/api/v0/login", {"handle": "admin", "password": pw})
    assert r.status == 200, r
    c.csrf = r.json["csrf_token"]
    return c


def restart(d, settings=None, kill=False):
    """stop (SIGTERM, or SIGKILL) and start d again, with settings if given;
    returns the log lines of the new process once its start resync is done"""
    if kill:
        d.proc.kill()
        d.proc.wait(10)
    else:
        d.stop()
    if settings is not None:
        d.write_conf(settings)
    n = len(d.log)
    d.start()
    t0 = time.monotonic()
    while not any("start: workspace membership changed for" in l for l in d.log[n:]):
        assert time.monotonic() - t0 < 60, d.logtext()
        time.sleep(0.05)
    return d.log[n:]


class RestartPush(unittest.TestCase):
    """A member removed while acctd was down, with a real node."""

    @classmethod
    def setUpClass(cls):
        assert os.path.exists(AGENT), "acctd-agent is not built: " + AGENT
        cls.base = tempfile.mkdtemp(prefix="acctd-resync-")
        os.chmod(cls.base, 0o755)
        mkcert(os.path.join(cls.base, "acctd-client"), "acctd")
        client_cert = os.path.join(cls.base, "acctd-client.crt")
        cls.cluster = Cluster(cls.base, "pg1")
        cls.agent = Agent(cls.base, "node1", cls.cluster, client_cert)
        cls.agent.start()
        cls.d = Daemon(extra={
            "nodes": [{"name": "node1", "url": "https://127.0.0.1:%d" % cls.agent.port,
                       "cert": cls.agent.cert}],
            "workspaces": [{"handle": "prod", "owner": "alice", "members": ["bob"],
                            "node": "node1", "database": "postgres",
                            "port": cls.cluster.port}],
            "push": {"client_cert": client_cert,
                     "client_key": os.path.join(cls.base, "acctd-client.key"),
                     "retry_max_seconds": 2},
        }).start()
        cls.admin = sign_in(cls.d)
        for h in ("alice", "bob"):
            r = cls.admin.post("/api/v0/admin/user", {"handle": h, "email": h + "@x.test"})
            assert r.status == 201, r

    @classmethod
    def tearDownClass(cls):
        cls.admin.close()
        cls.d.stop()
        cls.agent.stop()
        cls.cluster.stop()
        cls.d.cleanup()
        shutil.rmtree(cls.base, ignore_errors=True)

    def node1(self, h):
        r = self.admin.get("/api/v0/user/%s/password" % h)
        self.assertEqual(r.status, 200, r)
        p = [x for x in r.json["propagation"] if x["node"] == "node1"]
        return r.json["password"], (p[0] if p else None)

    def wait_applied(self, h, state, timeout=20):
        t0 = time.monotonic()
        while True:
            pw, p = self.node1(h)
            if p and p["status"] == "applied" and p["state"] == state:
                return pw, p
            self.assertLess(time.monotonic() - t0, timeout, p)
            time.sleep(0.05)

    def test_1_member_removed_across_a_restart_loses_login(self):
        bob_pw, _ = self.wait_applied("bob", "present")
        _, alice = self.wait_applied("alice", "present")
        self.assertTrue(self.cluster.login("bob", bob_pw))
        settings = copy.deepcopy(self.d.settings)
        settings["workspaces"][0]["members"] = []
        lines = restart(self.d, settings)
        self.assertTrue(any("start: workspace membership changed for 1 user(s)" in l
                            for l in lines), "\n".join(lines))
        self.admin = sign_in(self.d)
        self.wait_applied("bob", "absent")
        t0 = time.monotonic()
        while self.cluster.sql("select count(*) from pg_roles where rolname='bob'") != "0":
            self.assertLess(time.monotonic() - t0, 15)
            time.sleep(0.1)
        self.assertFalse(self.cluster.login("bob", bob_pw))
        # alice's membership did not move: no new version for her
        _, again = self.wait_applied("alice", "present")
        self.assertEqual(again["applied_version"], alice["applied_version"])

    def test_2_unchanged_restart_queues_nothing(self):
        before = {h: self.wait_applied(h, s)[1] for h, s in (("alice", "present"),
                                                              ("bob", "absent"))}
        pushes = len(self.agent.log)
        lines = restart(self.d)
        self.assertTrue(any("start: workspace membership changed for 0 user(s); "
                            "recomputed in 0 batch(es)" in l for l in lines), "\n".join(lines))
        self.admin = sign_in(self.d)
        time.sleep(0.5)
        for h in before:
            self.assertEqual(self.node1(h)[1], before[h], h)
        self.assertEqual(len(self.agent.log), pushes, "\n".join(self.agent.log[pushes:]))


# members removed, and as many added, by one reload; imported users no
# workspace names (2,000 in all). Under TSan, where each SCRAM verifier
# takes ten times as long (61 s for this file), a quarter: 4 resync batches
# of 32 instead of 13, each slow enough that the kill still lands after
# the first (ASan is fast enough for the full size, 19 s)
N = 50 if harness.TSAN else 200
OTHERS = 400 if harness.TSAN else 1600


class CrashMidResync(unittest.TestCase):
    """SIGKILL while a reload's resync is under way; the node is never
    reachable, so what acctd queued stays in the outbox for the test."""

    def setUp(self):
        removed = ["rm-%04d" % i for i in range(N)]
        self.added = ["ad-%04d" % i for i in range(N)]
        self.removed = removed
        others = ["ot-%04d" % i for i in range(OTHERS)]
        self.d = Daemon(extra={
            "nodes": [{"name": "node1", "url": "https://127.0.0.1:%d" % free_port(),
                       "cert": harness.test_cert()}],
            "workspaces": [{"handle": "prod", "owner": "admin", "members": removed,
                            "node": "node1", "database": "db1", "port": 9193}],
        }).start()
        users = os.path.join(self.d.dir, "users.jsonl")
        with open(users, "w") as f:
            for h in removed + self.added + others:
                f.write(json.dumps({"handle": h, "email": h + "@x.test"}) + "\n")
        run = subprocess.run([BIN, "import", "-c", self.d.conf, users],
                             capture_output=True, text=True, timeout=300)
        self.assertEqual(run.returncode, 0, run.stderr)

    def tearDown(self):
        self.d.stop()
        self.d.cleanup()

    def states(self, admin, handles):
        out = {}
        for h in handles:
            r = admin.get("/api/v0/user/%s/password?reveal=0" % h)
            self.assertEqual(r.status, 200, r)
            p = [x for x in r.json["propagation"] if x["node"] == "node1"]
            out[h] = p[0]["state"] if p else None
        return out

    def test_killed_mid_resync_converges_after_restart(self):
        # the removed members were queued present by the import
        admin = sign_in(self.d)
        self.assertEqual(set(self.states(admin, self.removed[:20]).values()), {"present"})
        admin.close()
        # the added members have no verifier yet (acctd import makes it only
        # for members): each batch computes some, so the resync takes seconds
        # (13 batches, 4 under ThreadSanitizer) and is cut off after its first
        settings = copy.deepcopy(self.d.settings)
        settings["workspaces"][0]["members"] = self.added
        self.d.write_conf(settings)
        n = len(self.d.log)
        self.d.proc.send_signal(signal.SIGHUP)
        t0 = time.monotonic()
        while not any("reload: workspace resync batch 1 of" in l for l in self.d.log[n:]):
            self.assertLess(time.monotonic() - t0, 30, self.d.logtext())
            time.sleep(0.005)
        self.d.proc.kill()
        self.d.proc.wait(10)
        time.sleep(0.1)
        self.assertFalse(any("reload: workspace membership changed" in l
                             for l in self.d.log[n:]), "the resync was not cut off")
        lines = restart(self.d)
        self.assertTrue(any("start: workspace membership changed for %d user(s)" % (2 * N)
                            in l for l in lines), "\n".join(lines))
        admin = sign_in(self.d)
        got = self.states(admin, self.removed + self.added)
        wrong = {h: s for h, s in got.items()
                 if s != ("absent" if h.startswith("rm-") else "present")}
        self.assertEqual(wrong, {})
        # and the next start finds it all done
        lines = restart(self.d)
        self.assertTrue(any("start: workspace membership changed for 0 user(s)" in l
                            for l in lines), "\n".join(lines))
        admin.close()


if __name__ == "__main__":
    unittest.main()

"""Push handshakes resumed with TLS 1.3 session tickets (issue 12, point 2),
with the real acctd-agent, PostgreSQL and acctd over mutual TLS.

acctd keeps, per node, the last session the agent gave it and offers it on
the next push: the agent then skips its certificate and both sides skip the
signatures (a fresh ECDHE still runs: psk_dhe_ke). What must hold:
  - later pushes are resumed (the agent's debug line says "(resumed)",
    acctd's /metrics counts them);
  - an agent restart (new ticket keys) costs one full handshake, no failure;
  - a new pin in acctd (SIGHUP) is never resumed into: the node must show
    the newly pinned certificate, and a node that does not is refused."""
import hashlib
import os
import re
import shutil
import signal
import tempfile
import time
import unittest

from harness import Daemon, free_port
from test_30_push import AGENT, METRICS_TOKEN, Agent, Cluster, mkcert
from test_62_cert_reload import install_file


class PushResume(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        assert os.path.exists(AGENT), "acctd-agent is not built: " + AGENT
        cls.base = tempfile.mkdtemp(prefix="acctd-resume-")
        os.chmod(cls.base, 0o755)
        mkcert(os.path.join(cls.base, "acctd-client"), "acctd")
        mkcert(os.path.join(cls.base, "other-node"), "node1")
        cls.cluster = Cluster(cls.base, "pg1")
        cls.agent = Agent(cls.base, "node1", cls.cluster,
                          os.path.join(cls.base, "acctd-client.crt"))
        cls.agent.start()
        cls.pin = os.path.join(cls.base, "node1-pin.crt")
        install_file(cls.agent.cert, cls.pin)
        cls.d = Daemon(extra={
            "nodes": [{"name": "node1", "url": "https://127.0.0.1:%d" % cls.agent.port,
                       "cert": cls.pin}],
            "workspaces": [{"handle": "prod", "owner": "alice", "node": "node1",
                            "database": "postgres", "port": cls.cluster.port}],
            "push": {"client_cert": os.path.join(cls.base, "acctd-client.crt"),
                     "client_key": os.path.join(cls.base, "acctd-client.key"),
                     "retry_max_seconds": 1},
            "metrics": {"token_sha256": hashlib.sha256(METRICS_TOKEN.encode()).hexdigest()},
        }).start()
        pw = open(os.path.join(cls.d.dir, "data", "admin.password")).read().strip()
        cls.admin = cls.d.client()
        r = cls.admin.post("/api/v0/login", {"handle": "admin", "password": pw})
        cls.admin.csrf = r.json["csrf_token"]
        r = cls.admin.post("/api/v0/admin/user", {"handle": "alice", "email": "a@x.test",
                                                  "password": "alice-console-1",
                                                  "must_change_password": False})
        assert r.status == 201, r

    @classmethod
    def tearDownClass(cls):
        cls.admin.close()
        cls.d.stop()
        cls.agent.stop()
        cls.cluster.stop()
        cls.d.cleanup()
        shutil.rmtree(cls.base, ignore_errors=True)

    def handshakes(self):
        """acctd's counts of full and resumed push handshakes to node1"""
        c = self.d.client()
        text = c.get("/metrics", headers={"Authorization": "Bearer " + METRICS_TOKEN}).body.decode()
        c.close()
        got = dict(re.findall(r'acctd_push_handshakes_total\{node="node1",kind="(\w+)"\} (\d+)',
                              text))
        return int(got["full"]), int(got["resumed"])

    def agent_lines(self, since):
        return [l for l in self.agent.log[since:] if "with acctd" in l]

    def rotate(self, timeout=20):
        """a new database password, and the wait until node1 applied it"""
        r = self.admin.post("/api/v0/user/alice/password")
        self.assertEqual(r.status, 200, r)
        version = r.json["version"]
        t0 = time.monotonic()
        while True:
            r = self.admin.get("/api/v0/user/alice/password")
            p = [x for x in r.json["propagation"] if x["node"] == "node1"][0]
            if p["status"] == "applied" and p.get("applied_version", version) >= version:
                break
            self.assertLess(time.monotonic() - t0, timeout, (p, self.d.logtext()[-3000:]))
            time.sleep(0.05)
        self.assertTrue(self.cluster.login("alice", r.json["password"]))

    def hup(self, proc, log, needle):
        n = len(log())
        proc.send_signal(signal.SIGHUP)
        t0 = time.monotonic()
        while not any(needle in l for l in log()[n:]):
            self.assertLess(time.monotonic() - t0, 10, log()[n:])
            time.sleep(0.05)

    def test_1_later_pushes_resume(self):
        self.rotate()
        full0, res0 = self.handshakes()
        since = len(self.agent.log)
        for _ in range(3):
            self.rotate()
        full1, res1 = self.handshakes()
        self.assertEqual(full1, full0, "a push after the first was not resumed")
        self.assertGreaterEqual(res1 - res0, 3)
        lines = self.agent_lines(since)
        self.assertTrue(lines and all("TLSv1.3" in l and "(resumed)" in l for l in lines), lines)

    def test_2_agent_restart_falls_back_to_a_full_handshake(self):
        self.rotate()
        self.agent.stop()
        since = len(self.agent.log)
        self.agent.start()        # new ticket keys: acctd's ticket is now useless
        full0, res0 = self.handshakes()
        self.rotate()
        self.rotate()
        full1, res1 = self.handshakes()
        self.assertEqual(full1 - full0, 1, (full0, full1))
        self.assertGreaterEqual(res1 - res0, 1)
        lines = self.agent_lines(since)
        self.assertFalse("(resumed)" in lines[0], lines)
        self.assertTrue("(resumed)" in lines[-1], lines)
        self.assertNotIn("failing", self.d.logtext()[-2000:])

    def test_3_a_new_pin_is_never_resumed_into(self):
        self.rotate()              # acctd holds a session with the agent
        # acctd now pins another certificate; the agent (and its ticket
        # keys) stay: a resumption would succeed without any certificate
        install_file(os.path.join(self.base, "other-node.crt"), self.pin)
        self.hup(self.d.proc, lambda: self.d.log, "reload: nodes[0].cert")
        since = len(self.agent.log)
        full0, res0 = self.handshakes()
        r = self.admin.post("/api/v0/user/alice/password")
        self.assertEqual(r.status, 200, r)
        t0 = time.monotonic()
        while "is not the one in nodes[0].cert" not in self.d.logtext():
            self.assertLess(time.monotonic() - t0, 15, self.d.logtext()[-3000:])
            time.sleep(0.05)
        r = self.admin.get("/api/v0/user/alice/password")
        p = [x for x in r.json["propagation"] if x["node"] == "node1"][0]
        self.assertNotEqual(p["status"], "applied", p)
        self.assertEqual(self.handshakes()[1], res0, "resumed into a changed pin")
        self.assertEqual([l for l in self.agent_lines(since) if "(resumed)" in l], [])
        # the right pin again: a full handshake, then resumed ones
        install_file(self.agent.cert, self.pin)
        self.hup(self.d.proc, lambda: self.d.log, "reload: nodes[0].cert")
        self.rotate()
        self.rotate()
        full1, res1 = self.handshakes()
        self.assertGreaterEqual(full1 - full0, 1)
        self.assertGreaterEqual(res1 - res0, 1)


if __name__ == "__main__":
    unittest.main()

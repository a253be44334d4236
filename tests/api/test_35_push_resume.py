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
import os
import re
import time
import unittest

import test_62_cert_reload as t62
from test_30_push import mkcert


class PushResume(unittest.TestCase):
    # test_62's: a real PostgreSQL, an acctd-agent in front of it, acctd
    # pinning its certificate through a file (node_pin) and an admin client
    setUpClass = classmethod(t62.PushCertReload.setUpClass.__func__)
    rotate = t62.PushCertReload.rotate_and_wait     # and the wait until applied
    hup = t62.PushCertReload.hup

    def handshakes(self):
        """acctd's counts of full and resumed push handshakes to node1"""
        text = self.admin.get("/metrics").body.decode()
        got = dict(re.findall(r'acctd_push_handshakes_total\{node="node1",kind="(\w+)"\} (\d+)',
                              text))
        return int(got["full"]), int(got["resumed"])

    def agent_lines(self, since):
        return [l for l in self.agent.log[since:] if "with acctd" in l]

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
        other = os.path.join(self.base, "other-node")
        mkcert(other, "node1")
        t62.install_file(other + ".crt", self.node_pin)
        self.hup(self.d.proc, lambda: [self.d.logtext()], "reload: nodes[0].cert")
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
        t62.install_file(self.agent.cert, self.node_pin)
        self.hup(self.d.proc, lambda: [self.d.logtext()], "reload: nodes[0].cert")
        self.rotate()
        self.rotate()
        full1, res1 = self.handshakes()
        self.assertGreaterEqual(full1 - full0, 1)
        self.assertGreaterEqual(res1 - res0, 1)


if __name__ == "__main__":
    unittest.main()

"""Workspace DNS: acctd writes {owner}-{workspace}.{domain} with the node's
address to dns.hosts_file and SIGHUPs the DNS server; a real dnsmasq
(addn-hosts) answers the names, and a handle change moves them."""
import os
import shutil
import signal
import subprocess
import time
import unittest

from harness import Daemon, free_port
import harness

NODES = [{"name": "node1", "url": "https://127.0.0.11:9443", "cert": harness.test_cert()},
         {"name": "node2", "url": "https://[::1]:9443", "cert": harness.test_cert()}]
WORKSPACES = [{"handle": "prod", "owner": "alice", "node": "node1", "database": "p", "port": 9193},
              {"handle": "dev", "owner": "alice", "node": "node2", "database": "d", "port": 9194}]


def dig(port, name, qtype="A"):
    out = subprocess.run(["dig", "@127.0.0.1", "-p", str(port), "+short", "+time=2", "+tries=1",
                          name, qtype], capture_output=True, text=True, timeout=10).stdout
    return out.strip()


class Dns(unittest.TestCase):
    def setUp(self):
        self.dnsport = free_port()
        self.d = Daemon(extra={"nodes": NODES, "workspaces": WORKSPACES})
        hosts = os.path.join(self.d.dir, "ws.hosts")
        self.pidfile = os.path.join(self.d.dir, "dnsmasq.pid")
        self.d.settings["dns"] = {"domain": "ws.test", "hosts_file": hosts,
                                  "reload_pidfile": self.pidfile}
        self.d.write_conf()
        self.hosts = hosts
        with open(hosts, "w") as f:
            f.write("")
        self.dnsmasq = subprocess.Popen(
            [shutil.which("dnsmasq"), "--keep-in-foreground", "--no-resolv", "--no-hosts",
             "--listen-address=127.0.0.1", "--bind-interfaces", "--port=%d" % self.dnsport,
             "--addn-hosts=" + hosts, "--pid-file=" + self.pidfile, "--user=root",
             "--log-facility=-"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            if os.path.exists(self.pidfile) and open(self.pidfile).read().strip():
                break
            time.sleep(0.05)
        self.d.start()
        pw = open(os.path.join(self.d.dir, "data", "admin.password")).read().strip()
        self.admin = self.d.client()
        r = self.admin.post("/api/v0/login", {"handle": "admin", "password": pw})
        self.admin.csrf = r.json["csrf_token"]

    def tearDown(self):
        self.d.stop()
        self.d.cleanup()
        self.dnsmasq.send_signal(signal.SIGTERM)
        self.dnsmasq.wait(10)

    def wait_answer(self, name, want, qtype="A", timeout=5):
        t0 = time.monotonic()
        while True:
            got = dig(self.dnsport, name, qtype)
            if got == want:
                return
            if time.monotonic() - t0 > timeout:
                self.fail("%s %s: %r, want %r" % (name, qtype, got, want))
            time.sleep(0.1)

    def test_names_written_served_and_moved_by_a_rename(self):
        text = open(self.hosts).read()
        self.assertIn("127.0.0.11 alice-prod.ws.test\n", text)
        self.assertIn("::1 alice-dev.ws.test\n", text)
        self.assertEqual(os.stat(self.hosts).st_mode & 0o777, 0o644)
        self.wait_answer("alice-prod.ws.test", "127.0.0.11")
        self.wait_answer("alice-dev.ws.test", "::1", "AAAA")
        r = self.admin.post("/api/v0/admin/user", {"handle": "alice", "email": "a@x.test",
                                                   "password": "alice-pw-1234", "must_change_password": False})
        self.assertEqual(r.status, 201, r)
        r = self.admin.request("PATCH", "/api/v0/user/alice", body={"handle": "alice2"})
        self.assertEqual(r.status, 200, r)
        # the rename rewrote the file and SIGHUPed dnsmasq: new name answers, old one not
        self.wait_answer("alice2-prod.ws.test", "127.0.0.11")
        self.wait_answer("alice-prod.ws.test", "")
        self.assertNotIn("alice-prod", open(self.hosts).read())
        self.assertFalse(os.path.exists(self.hosts + ".tmp"))
        # deleting the owner falls back to the handle the config names
        r = self.admin.request("DELETE", "/api/v0/user/alice2?confirm=alice2")
        self.assertEqual(r.status, 204, r)
        self.wait_answer("alice-prod.ws.test", "127.0.0.11")


if __name__ == "__main__":
    unittest.main()

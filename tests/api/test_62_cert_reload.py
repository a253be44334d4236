"""Certificate renewal without a restart (issue 14, point 3).

An ACME client renews tls.cert/tls.key on the box and sends SIGHUP: new
connections get the new certificate, connections opened before keep
working, a bad pair is refused with one clear log line and the old one is
still served. What a client sees is checked with `openssl s_client` and
with Python's ssl module (the DER of the peer certificate)."""
import hashlib
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

from harness import Daemon, ROOT


def mkcert(prefix, cn):
    subprocess.run([os.path.join(ROOT, "tools", "mkcert.sh"), prefix, cn], check=True)


def install(src_prefix, dst_prefix):
    """The way a renewal hook installs a pair: each file replaced whole."""
    for ext in ("crt", "key"):
        shutil.copy(src_prefix + "." + ext, dst_prefix + "." + ext + ".new")
        os.rename(dst_prefix + "." + ext + ".new", dst_prefix + "." + ext)


def hup_until(tc, proc, logtext, needle):
    """SIGHUP proc, wait for one more line holding needle; that line."""
    n = logtext().count(needle)
    proc.send_signal(signal.SIGHUP)
    t0 = time.monotonic()
    while logtext().count(needle) == n:
        tc.assertLess(time.monotonic() - t0, 10, logtext())
        time.sleep(0.05)
    return [l for l in logtext().splitlines() if needle in l][-1]


def pem_der(path):
    return ssl.PEM_cert_to_DER_cert(open(path).read())


def served_der(port):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        with ctx.wrap_socket(s) as t:
            return t.getpeercert(binary_form=True)


def s_client_fingerprint(port):
    """`openssl s_client` then `openssl x509 -fingerprint`, as an operator checks."""
    out = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port],
                         input=b"", capture_output=True, timeout=20).stdout
    fp = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha256"],
                        input=out, capture_output=True, timeout=20).stdout.decode()
    return fp.strip().split("=", 1)[1].replace(":", "").lower()


class ServerCertReload(unittest.TestCase):
    def setUp(self):
        self.d = Daemon(extra={"http": {"keepalive_timeout_ms": 60000}}, ready=True)
        self.tls = os.path.join(self.d.dir, "tls")
        mkcert(self.tls, "acctd before")
        self.d.settings["tls"] = {"cert": self.tls + ".crt", "key": self.tls + ".key"}
        shutil.copy(self.tls + ".crt", self.tls + ".first.crt")  # what clients trust
        self.d.cafile = self.tls + ".first.crt"
        self.d.write_conf()
        self.d.start()

    def tearDown(self):
        self.d.stop()
        self.d.cleanup()

    def hup_and_wait(self, needle):
        return hup_until(self, self.d.proc, self.d.logtext, needle)

    def test_renewal_new_connections_new_cert_open_ones_keep_working(self):
        old = pem_der(self.tls + ".crt")
        self.assertEqual(served_der(self.d.port), old)
        self.assertEqual(s_client_fingerprint(self.d.port), hashlib.sha256(old).hexdigest())
        keep = self.d.client()                 # keep-alive, before the renewal
        self.assertEqual(keep.get("/healthz").status, 200)

        mkcert(os.path.join(self.d.dir, "renewed"), "acctd after")
        install(os.path.join(self.d.dir, "renewed"), self.tls)
        line = self.hup_and_wait("reload: tls.cert")
        self.assertIn("reload: tls.cert %s.crt loaded" % self.tls, line)

        new = pem_der(self.tls + ".crt")
        self.assertNotEqual(new, old)
        self.assertEqual(served_der(self.d.port), new)
        self.assertEqual(s_client_fingerprint(self.d.port), hashlib.sha256(new).hexdigest())
        # the connection made before the reload: same socket, still served
        sock = keep.conn.sock
        for _ in range(3):
            self.assertEqual(keep.get("/healthz").status, 200)
        self.assertIs(keep.conn.sock, sock)
        self.assertEqual(keep.conn.sock.getpeercert(binary_form=True), old)
        keep.close()

    def test_mismatched_pair_refused_old_cert_still_served(self):
        old = pem_der(self.tls + ".crt")
        other = os.path.join(self.d.dir, "other")
        mkcert(other, "other")
        shutil.copy(other + ".crt", self.tls + ".crt")   # the key stays the old one
        line = self.hup_and_wait("still serving the previous certificate")
        self.assertIn("reload: tls.key: %s.key does not match tls.cert %s.crt; "
                      "still serving the previous certificate" % (self.tls, self.tls), line)
        self.assertEqual(served_der(self.d.port), old)
        c = self.d.client()
        self.assertEqual(c.get("/healthz").status, 200)
        c.close()

    def test_key_that_is_a_certificate_refused(self):
        old = pem_der(self.tls + ".crt")
        shutil.copy(self.tls + ".crt", self.tls + ".key")
        os.chmod(self.tls + ".key", 0o600)
        line = self.hup_and_wait("still serving the previous certificate")
        self.assertIn("reload: tls.key: %s.key: is a certificate, not a private key"
                      % self.tls, line)
        self.assertEqual(served_der(self.d.port), old)

    def test_expiry_metric(self):
        pw = open(os.path.join(self.d.dir, "data", "admin.password")).read().strip()
        c = self.d.client()
        r = c.post("/api/v0/login", {"handle": "admin", "password": pw})
        self.assertEqual(r.status, 200, r)
        r = c.get("/metrics")
        self.assertEqual(r.status, 200, r)
        m = re.search(r'^acctd_tls_cert_expiry_seconds\{cert="tls"\} (\d+)$',
                      r.body.decode(), re.M)
        self.assertIsNotNone(m, r.body)
        # tools/mkcert.sh: 825 days
        self.assertAlmostEqual(int(m.group(1)) / 86400, 825, delta=1)
        c.close()


class ReloadAsServiceUser(unittest.TestCase):
    """acctd started as root drops to `user`; a reload reads the key as
    that user. A renewed key only root can read is refused with "permission
    denied" and what to do; the old pair stays."""

    def test_root_only_key_permission_denied(self):
        d = Daemon(extra={"user": "nobody"})
        try:
            os.chmod(d.dir, 0o755)
            tls = os.path.join(d.dir, "tls")
            mkcert(tls, "acctd as nobody")
            nobody = __import__("pwd").getpwnam("nobody")
            os.chown(tls + ".key", nobody.pw_uid, nobody.pw_gid)
            d.settings["tls"] = {"cert": tls + ".crt", "key": tls + ".key"}
            d.cafile = tls + ".crt"
            d.write_conf()
            d.start()
            old = pem_der(tls + ".crt")
            mkcert(os.path.join(d.dir, "renewed"), "renewed")
            install(os.path.join(d.dir, "renewed"), tls)   # root 0600, as a hook run by root leaves it
            hup_until(self, d.proc, d.logtext, "still serving")
            self.assertIn("reload: tls.key: %s.key: permission denied; still serving the "
                          "previous certificate (the key must be readable by acctd's user "
                          "for a reload: chown it)" % tls, d.logtext())
            self.assertEqual(served_der(d.port), old)
            # the fix the line gives: chown, SIGHUP again
            os.chown(tls + ".key", nobody.pw_uid, nobody.pw_gid)
            hup_until(self, d.proc, d.logtext, "reload: tls.cert")
            self.assertEqual(served_der(d.port), pem_der(tls + ".crt"))
            d.stop()
        finally:
            d.cleanup()


class PushCertReload(unittest.TestCase):
    """The push client's certificate and a node's certificate renewed with a
    SIGHUP to each side, in the order README gives: the side that pins
    first, then the side that presents. A real agent in front of a real
    PostgreSQL; each step is proved by a rotation reaching the node."""

    @classmethod
    def setUpClass(cls):
        import test_30_push as push
        cls.push = push
        cls.base = tempfile.mkdtemp(prefix="acctd-certpush-")
        cls.addClassCleanup(shutil.rmtree, cls.base, ignore_errors=True)
        os.chmod(cls.base, 0o755)
        cls.client = os.path.join(cls.base, "push")          # acctd's push.client_cert/key
        mkcert(cls.client, "acctd push")
        cls.agent_pin = os.path.join(cls.base, "agent-acctd.crt")   # the agent's acctd_cert
        shutil.copy(cls.client + ".crt", cls.agent_pin)
        cls.cluster = push.Cluster(cls.base, "pg1")
        cls.addClassCleanup(cls.cluster.stop)
        cls.agent = push.Agent(cls.base, "node1", cls.cluster, cls.agent_pin)
        cls.addClassCleanup(cls.agent.stop)
        cls.agent.start()
        cls.node_pin = os.path.join(cls.base, "node1.crt")    # acctd's nodes[0].cert
        shutil.copy(cls.agent.cert, cls.node_pin)
        cls.d = Daemon(extra={
            "nodes": [{"name": "node1", "url": "https://127.0.0.1:%d" % cls.agent.port,
                       "cert": cls.node_pin}],
            "workspaces": [{"handle": "prod", "owner": "alice", "node": "node1",
                            "database": "postgres", "port": cls.cluster.port}],
            "push": {"client_cert": cls.client + ".crt", "client_key": cls.client + ".key",
                     "retry_max_seconds": 1},
        })
        cls.addClassCleanup(cls.d.cleanup)
        cls.addClassCleanup(cls.d.stop)
        cls.d.start()
        pw = open(os.path.join(cls.d.dir, "data", "admin.password")).read().strip()
        cls.admin = cls.d.client()
        cls.addClassCleanup(cls.admin.close)
        r = cls.admin.post("/api/v0/login", {"handle": "admin", "password": pw})
        cls.admin.csrf = r.json["csrf_token"]
        r = cls.admin.post("/api/v0/admin/user", {"handle": "alice", "email": "a@x.test"})
        assert r.status == 201, r


    def hup(self, proc, log, needle):
        hup_until(self, proc, lambda: "\n".join(log()), needle)

    def rotate_and_wait(self, timeout=20):
        r = self.admin.post("/api/v0/user/alice/password")
        self.assertIn(r.status, (200, 201), r)
        version = r.json["version"]
        t0 = time.monotonic()
        while True:
            r = self.admin.get("/api/v0/user/alice/password")
            p = [x for x in r.json["propagation"] if x["node"] == "node1"][0]
            if p["status"] == "applied" and p.get("applied_version", version) >= version:
                break
            self.assertLess(time.monotonic() - t0, timeout, (p, self.d.logtext()))
            time.sleep(0.1)
        self.assertTrue(self.cluster.login("alice", r.json["password"]))

    def test_1_push_client_cert_renewed(self):
        self.rotate_and_wait()
        new = os.path.join(self.base, "push-renewed")
        mkcert(new, "acctd push renewed")
        # 1. the agent pins the new certificate, 2. acctd presents it
        install_file(new + ".crt", self.agent_pin)
        self.hup(self.agent.proc, lambda: self.agent.log, "reload: tls.cert")
        install(new, self.client)
        self.hup(self.d.proc, lambda: [self.d.logtext()], "reload: push.client_cert")
        self.rotate_and_wait()     # the agent accepts nothing but the new one

    def test_2_node_cert_renewed(self):
        new = os.path.join(self.base, "node-renewed")
        mkcert(new, "node1 renewed")
        install(new, os.path.join(self.agent.dir, "node"))
        self.hup(self.agent.proc, lambda: self.agent.log, "reload: tls.cert")
        # acctd still pins the old one: the log names the setting
        r = self.admin.post("/api/v0/user/alice/password")
        self.assertIn(r.status, (200, 201), r)
        t0 = time.monotonic()
        while "is not the one in nodes[0].cert" not in self.d.logtext():
            self.assertLess(time.monotonic() - t0, 15, self.d.logtext())
            time.sleep(0.1)
        install_file(new + ".crt", self.node_pin)
        self.hup(self.d.proc, lambda: [self.d.logtext()], "reload: nodes[0].cert")
        self.rotate_and_wait()


def install_file(src, dst):
    shutil.copy(src, dst + ".new")
    os.rename(dst + ".new", dst)


if __name__ == "__main__":
    unittest.main()

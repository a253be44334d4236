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
        n = self.d.logtext().count(needle)
        self.d.proc.send_signal(signal.SIGHUP)
        t0 = time.monotonic()
        while self.d.logtext().count(needle) == n:
            self.assertLess(time.monotonic() - t0, 10, self.d.logtext())
            time.sleep(0.05)
        return [l for l in self.d.logtext().splitlines() if needle in l][-1]

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
            n = d.logtext().count("still serving")
            d.proc.send_signal(signal.SIGHUP)
            t0 = time.monotonic()
            while d.logtext().count("still serving") == n:
                self.assertLess(time.monotonic() - t0, 10, d.logtext())
                time.sleep(0.05)
            self.assertIn("reload: tls.key: %s.key: permission denied; still serving the "
                          "previous certificate (the key must be readable by acctd's user "
                          "for a reload: chown it)" % tls, d.logtext())
            self.assertEqual(served_der(d.port), old)
            # the fix the line gives: chown, SIGHUP again
            os.chown(tls + ".key", nobody.pw_uid, nobody.pw_gid)
            n = d.logtext().count("reload: tls.cert")
            d.proc.send_signal(signal.SIGHUP)
            t0 = time.monotonic()
            while d.logtext().count("reload: tls.cert") == n:
                self.assertLess(time.monotonic() - t0, 10, d.logtext())
                time.sleep(0.05)
            self.assertEqual(served_der(d.port), pem_der(tls + ".crt"))
            d.stop()
        finally:
            d.cleanup()


if __name__ == "__main__":
    unittest.main()

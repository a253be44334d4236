"""TLS policy with real clients (issue 10): TLS 1.3 and 1.2 only, AEAD
only, X25519 and P-256 only, the P-256 ECDSA certificate, session
resumption in both versions with ticket keys that live only in the
process; openssl s_client, curl and sslscan (Debian's) must all agree.
test_01_foundation.py keeps the older checks (1.2 suites, 1.1 and CBC and
static RSA refused, P-521 refused)."""
import os
import re
import subprocess
import tempfile
import time
import unittest

from harness import Daemon


def s_client(port, *args, wait=0.0):
    """openssl s_client; with wait, stdin stays open that long so a TLS 1.3
    ticket (sent after the handshake) is read before the close."""
    cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
           "-servername", "localhost", *args]
    for attempt in range(4):
        run = ["sh", "-c", 'sleep %s | "$@"' % wait, "sh"] + cmd if wait else cmd
        p = subprocess.run(run, stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
        out = (p.stdout + p.stderr).decode("utf-8", "replace")
        # a loaded machine may not finish the handshake and the ticket within
        # wait: saving a session without its ticket, take longer
        if not wait or "-sess_out" not in args or "session ticket lifetime hint" in out:
            break
        wait *= 2
    return p.returncode, out


class TlsPolicy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(extra={"log_level": "info"}).start()
        cls.tmp = tempfile.mkdtemp(prefix="acctd-tls-")

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.d.cleanup()
        subprocess.run(["rm", "-rf", cls.tmp])

    def ok(self, *args, wait=0.0):
        rc, out = s_client(self.d.port, *args, wait=wait)
        self.assertEqual(rc, 0, out)
        return out

    def refused(self, *args):
        rc, out = s_client(self.d.port, *args)
        self.assertNotEqual(rc, 0, out)
        self.assertNotRegex(out, r"(New|Reused), TLSv1\.[0-3], Cipher is [A-Z]")
        return out

    def test_tls13_each_aead_suite(self):
        for suite in ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                      "TLS_CHACHA20_POLY1305_SHA256"):
            out = self.ok("-tls1_3", "-ciphersuites", suite)
            self.assertIn("New, TLSv1.3, Cipher is " + suite, out)

    def test_tls13_ccm_refused(self):
        self.refused("-tls1_3", "-ciphersuites", "TLS_AES_128_CCM_SHA256")

    def test_groups_x25519_and_p256_only(self):
        # under 1.2 the client's groups also name the curves its ECDSA
        # certificates may use (RFC 8422), so P-256 stays on that list
        for version, x25519 in (("-tls1_3", "X25519"), ("-tls1_2", "X25519:P-256")):
            self.assertRegex(self.ok(version, "-groups", x25519), r"Server Temp Key: X25519")
            self.assertRegex(self.ok(version, "-groups", "P-256"),
                             r"Server Temp Key: ECDH, prime256v1")
            for g in ("P-384", "P-521", "X448", "ffdhe2048"):
                self.refused(version, "-groups", g)

    def test_ecdsa_p256_certificate(self):
        out = self.ok("-tls1_3")
        self.assertRegex(out, r"Peer signature type: ECDSA")
        self.assertRegex(out, r"Server public key is 256 bit")

    def test_tls10_and_tls11_refused(self):
        for v in ("-tls1", "-tls1_1"):
            self.refused(v, "-cipher", "DEFAULT@SECLEVEL=0")

    def test_tls12_cbc_and_static_rsa_refused(self):
        for c in ("ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA384",
                  "ECDHE-RSA-AES128-SHA256", "AES128-GCM-SHA256", "AES128-SHA"):
            self.refused("-tls1_2", "-cipher", c)

    def resumed(self, version):
        sess = os.path.join(self.tmp, "sess" + version)
        first = self.ok(version, "-sess_out", sess, wait=0.5)
        self.assertIn("New, TLSv1.", first)
        self.assertIn("TLS session ticket lifetime hint: 3600", first)
        return sess, self.ok(version, "-sess_in", sess)

    def test_tls13_resumption(self):
        _, out = self.resumed("-tls1_3")
        self.assertIn("Reused, TLSv1.3", out)

    def test_tls12_resumption(self):
        _, out = self.resumed("-tls1_2")
        self.assertIn("Reused, TLSv1.2", out)

    def test_curl(self):
        for args, want in ((["--tlsv1.3"], "TLSv1.3"), (["--tlsv1.2", "--tls-max", "1.2"], "TLSv1.2")):
            p = subprocess.run(["curl", "-sS", "-v", "--cacert", self.d.cafile] + args
                               + [self.d.url + "/healthz"], capture_output=True, text=True,
                               timeout=30)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("SSL connection using " + want, p.stderr)
            self.assertIn("ok", p.stdout)
        p = subprocess.run(["curl", "-sS", "--cacert", self.d.cafile, "--tlsv1.1", "--tls-max",
                            "1.1", "--ciphers", "DEFAULT@SECLEVEL=0", self.d.url + "/healthz"],
                           capture_output=True, text=True, timeout=30)
        self.assertNotEqual(p.returncode, 0, p.stdout)

    def test_sslscan_finds_nothing_weaker(self):
        """Debian's sslscan over everything it knows: the protocols, every
        suite, every group. Any result outside the policy fails."""
        p = subprocess.run(["sslscan", "--no-colour", "--show-sigs",
                            "127.0.0.1:%d" % self.d.port],
                           capture_output=True, text=True, timeout=180)
        out = p.stdout
        self.assertEqual(p.returncode, 0, out + p.stderr)
        protos = dict(re.findall(r"^(SSLv[23]|TLSv1\.[0-3])\s+(enabled|disabled)$", out, re.M))
        self.assertEqual(protos, {"SSLv2": "disabled", "SSLv3": "disabled",
                                  "TLSv1.0": "disabled", "TLSv1.1": "disabled",
                                  "TLSv1.2": "enabled", "TLSv1.3": "enabled"}, out)
        suites = re.findall(r"^(?:Preferred|Accepted)\s+(TLSv1\.[0-3])\s+(\d+) bits\s+(\S+)\s*(.*)$",
                            out, re.M)
        self.assertTrue(suites, out)
        for version, bits, name, kex in suites:
            self.assertIn(version, ("TLSv1.2", "TLSv1.3"), out)
            self.assertGreaterEqual(int(bits), 128, out)
            if version == "TLSv1.3":
                self.assertRegex(name, r"^TLS_(AES_(128|256)_GCM_SHA(256|384)|CHACHA20_POLY1305_SHA256)$")
            else:
                self.assertRegex(name, r"^ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$")
            self.assertRegex(kex, r"^(Curve 25519 DHE 253|Curve P-256 DHE 256)$")
        groups = re.findall(r"^(TLSv1\.[23])\s+\d+ bits\s+(.+)$",
                            out.split("Server Key Exchange Group(s):")[1].split("\n\n")[0], re.M)
        self.assertTrue(groups, out)
        for _, g in groups:
            self.assertIn(g.strip(), ("x25519", "secp256r1 (NIST P-256)"), out)
        self.assertNotIn("vulnerable to heartbleed", out.replace("not vulnerable to heartbleed", ""))
        self.assertNotRegex(out, r"Insecure session renegotiation supported|Compression enabled")
        self.assertRegex(out, r"ECC Curve Name:\s+prime256v1")


class TicketKeys(unittest.TestCase):
    def test_keys_do_not_outlive_the_process(self):
        """A ticket from one acctd process is refused by the next (same
        data dir, same certificate): the keys were only in memory."""
        d = Daemon(extra={"log_level": "info"})
        tmp = tempfile.mkdtemp(prefix="acctd-tls-")
        try:
            d.start()
            sess = os.path.join(tmp, "sess")
            rc, out = s_client(d.port, "-tls1_3", "-sess_out", sess, wait=0.5)
            self.assertEqual(rc, 0, out)
            rc, out = s_client(d.port, "-tls1_3", "-sess_in", sess)
            self.assertIn("Reused, TLSv1.3", out)
            d.stop()
            time.sleep(0.2)
            d.start()
            rc, out = s_client(d.port, "-tls1_3", "-sess_in", sess)
            self.assertEqual(rc, 0, out)
            self.assertIn("New, TLSv1.3", out)
        finally:
            d.stop()
            d.cleanup()
            subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    unittest.main()

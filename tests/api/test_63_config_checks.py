"""What a first deployment hit, following README and docs/ to the letter
(issue 14, point 7): `acctd -t` said ok, and a start said ready, with files
that could never work. Each case: `-t` exits 1 with the exact line, and a
start refuses with the same line (never "ready")."""
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

from harness import Daemon, BIN, ROOT, conf_text
import harness

AGENT = os.path.join(os.path.dirname(BIN), "acctd-agent")


def mkcert(prefix, cn):
    subprocess.run([os.path.join(ROOT, "tools", "mkcert.sh"), prefix, cn], check=True)


class ConfigChecks(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.base = tempfile.mkdtemp(prefix="acctd-checks-")
        os.chmod(cls.base, 0o755)
        cls.a = os.path.join(cls.base, "a")
        cls.b = os.path.join(cls.base, "b")
        mkcert(cls.a, "pair a")
        mkcert(cls.b, "pair b")
        # runs as another user start a copy of acctd in cls.base: the
        # checkout may sit in a directory only root can enter (mktemp -d)
        cls.bin_other = os.path.join(cls.base, "acctd")
        shutil.copy2(BIN, cls.bin_other)
        os.chmod(cls.bin_other, 0o755)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.base, ignore_errors=True)

    def setUp(self):
        self.d = Daemon(ready=False)
        os.chmod(self.d.dir, 0o755)

    def tearDown(self):
        if self.d.proc is not None and self.d.proc.poll() is None:
            self.d.proc.kill()
        self.d.cleanup()

    def line(self, prefix):
        for i, l in enumerate(open(self.d.conf).read().splitlines(), 1):
            if l.startswith(prefix):
                return i
        self.fail("no %r in %s" % (prefix, self.d.conf))

    def check(self, as_user=None):
        cmd = [BIN, "-t", "-c", self.d.conf]
        if as_user:
            cmd = ["runuser", "-u", as_user, "--", self.bin_other] + cmd[1:]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        return p.returncode, p.stdout, p.stderr

    def refused(self, setting_prefix, message, as_user=None):
        """-t and a start both print FILE:LINE: message, exit 1."""
        want = "%s:%d: %s" % (self.d.conf, self.line(setting_prefix), message)
        rc, out, err = self.check(as_user)
        self.assertEqual((rc, out), (1, ""), err)
        self.assertIn(want, err.splitlines())
        if as_user is None:
            self.d.start()
            self.assertEqual(self.d.wait_exit(), 1)
            self.assertIn(want, self.d.logtext().splitlines())
            self.assertNotIn("ready on", self.d.logtext())

    def tls(self, cert, key):
        self.d.settings["tls"] = {"cert": cert, "key": key}
        self.d.write_conf()

    def test_user_does_not_exist(self):
        self.d.settings["user"] = "no-such-user-acctd"
        self.d.write_conf()
        self.refused("user =", 'user: user "no-such-user-acctd" does not exist (in /etc/passwd)')

    def test_tls_key_missing(self):
        self.tls(self.a + ".crt", self.base + "/missing.key")
        self.refused("tls =", "tls.key: %s/missing.key: No such file or directory" % self.base)

    def test_tls_key_is_the_certificate(self):
        key = os.path.join(self.d.dir, "cert-as-key.pem")
        shutil.copy(self.a + ".crt", key)
        os.chmod(key, 0o600)
        self.tls(self.a + ".crt", key)
        self.refused("tls =", "tls.key: %s: is a certificate, not a private key" % key)

    def test_tls_key_does_not_match(self):
        self.tls(self.a + ".crt", self.b + ".key")
        self.refused("tls =", "tls.key: %s.key does not match tls.cert %s.crt" % (self.b, self.a))

    def test_tls_key_unreadable_for_the_checking_user(self):
        # a root-only key: `-t` run as another user says why it cannot read it
        self.tls(self.a + ".crt", self.a + ".key")
        os.chmod(self.d.conf, 0o644)
        self.refused("tls =", "tls.key: %s.key: permission denied" % self.a, as_user="nobody")

    def test_tls_key_group_readable(self):
        key = os.path.join(self.d.dir, "open.key")
        shutil.copy(self.a + ".key", key)
        os.chmod(key, 0o640)
        self.tls(self.a + ".crt", key)
        self.refused("tls =", "tls.key: %s: group or world accessible (mode 0640); "
                     "chmod 600 it" % key)

    def test_nodes_without_push(self):
        self.d.settings["nodes"] = [{"name": "node1", "url": "https://127.0.0.1:9443",
                                     "cert": self.b + ".crt"}]
        self.d.settings.pop("push", None)
        self.d.write_conf()
        self.refused("nodes =", "push.client_cert: required when nodes are set")

    def test_push_client_key_mode(self):
        key = os.path.join(self.d.dir, "push.key")
        shutil.copy(self.b + ".key", key)
        os.chmod(key, 0o644)
        self.d.settings["push"] = {"client_cert": self.b + ".crt", "client_key": key}
        self.d.write_conf()
        self.refused("push =", "push.client_key: %s: group or world accessible (mode 0644); "
                     "chmod 600 it" % key)

    def test_push_client_key_unreadable(self):
        self.d.settings["push"] = {"client_cert": self.b + ".crt", "client_key": self.b + ".key"}
        self.d.write_conf()
        os.chmod(self.d.conf, 0o644)
        self.refused("push =", "push.client_key: %s.key: permission denied" % self.b,
                     as_user="nobody")

    def test_node_cert_not_a_certificate(self):
        self.d.settings["nodes"] = [{"name": "node1", "url": "https://127.0.0.1:9443",
                                     "cert": "/etc/hosts"}]
        self.d.write_conf()
        want = "nodes[0].cert: /etc/hosts: "
        rc, out, err = self.check()
        self.assertEqual(rc, 1, err)
        self.assertTrue(any(l.startswith("%s:%d: %s" % (self.d.conf, self.line("nodes ="), want))
                            for l in err.splitlines()), err)

    def test_node_host_name_without_nss(self):
        # the static ARM binary has no NSS: a node is an IP address or a
        # name in /etc/hosts ("localhost" is in every /etc/hosts)
        self.d.settings["nodes"] = [{"name": "node1", "url": "https://localhost:9443",
                                     "cert": self.b + ".crt"},
                                    {"name": "node2", "url": "https://node2.invalid:9443",
                                     "cert": self.b + ".crt"}]
        self.d.settings["push"] = {"client_cert": self.b + ".crt", "client_key": self.b + ".key"}
        self.d.write_conf()
        rc, out, err = self.check()
        self.assertEqual((rc, out), (1, ""), err)
        self.assertEqual(err, '%s:%d: nodes[1].url: host "node2.invalid" is not an IP address '
                         'and not in /etc/hosts (acctd resolves node names without NSS or DNS)\n'
                         % (self.d.conf, self.line("nodes =")))

    def test_good_files_ok(self):
        self.d.settings["push"] = {"client_cert": self.b + ".crt", "client_key": self.b + ".key"}
        self.d.settings["nodes"] = [{"name": "node1", "url": "https://127.0.0.1:9443",
                                     "cert": self.b + ".crt"}]
        self.d.write_conf()
        self.assertEqual(self.check(), (0, "ok\n", ""))

    def test_listen_address_in_use(self):
        busy = socket.socket()
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            busy.bind(("127.0.0.1", self.d.port))
            busy.listen(1)
            self.d.start()
            self.assertEqual(self.d.wait_exit(), 1)
            self.assertIn("acctd: error: cannot start the HTTPS server: listen 127.0.0.1:%d: "
                          "Address already in use" % self.d.port, self.d.logtext().splitlines())
        finally:
            busy.close()


class AgentConfigChecks(unittest.TestCase):
    """acctd-agent -t reads the files a start reads, with the same words."""

    def setUp(self):
        self.base = tempfile.mkdtemp(prefix="acctd-agent-checks-")
        mkcert(os.path.join(self.base, "node"), "node")
        mkcert(os.path.join(self.base, "other"), "other")
        mkcert(os.path.join(self.base, "acctd"), "acctd")
        self.conf = os.path.join(self.base, "agent.conf")

    def tearDown(self):
        shutil.rmtree(self.base, ignore_errors=True)

    def write(self, key):
        with open(self.conf, "w") as f:
            f.write(conf_text({
                "listen": "127.0.0.1:9",
                "tls": {"cert": os.path.join(self.base, "node.crt"), "key": key},
                "acctd_cert": os.path.join(self.base, "acctd.crt"),
                "state_file": os.path.join(self.base, "state"),
                "hook": "/bin/true",
                "user": "",
            }))

    def check(self):
        p = subprocess.run([AGENT, "-t", "-c", self.conf], capture_output=True, text=True,
                           timeout=30)
        return p.returncode, p.stdout, p.stderr

    def test_ok(self):
        self.write(os.path.join(self.base, "node.key"))
        self.assertEqual(self.check(), (0, "ok\n", ""))

    def test_key_does_not_match(self):
        key = os.path.join(self.base, "other.key")
        self.write(key)
        self.assertEqual(self.check(), (1, "", "%s: tls.key: %s does not match tls.cert %s\n"
                                        % (self.conf, key, os.path.join(self.base, "node.crt"))))

    def test_key_is_a_certificate(self):
        key = os.path.join(self.base, "acctd.crt")
        self.write(key)
        rc, out, err = self.check()
        self.assertEqual((rc, out, err), (1, "", "%s: tls.key: %s: group or world accessible "
                                          "(mode 0644); chmod 600 it\n" % (self.conf, key)))
        os.chmod(key, 0o600)
        self.assertEqual(self.check(), (1, "", "%s: tls.key: %s: is a certificate, not a "
                                        "private key\n" % (self.conf, key)))


class PushLogFlood(unittest.TestCase):
    """A node down while 20 users rotate their passwords: one warning when
    it starts failing, one line when it is back, not one per user per
    retry. And one attempt per backoff of the node (every second here), not
    one per queued state: 20 states queued for 4 s are a handful of
    attempts, not 20 a round."""

    def test_node_down_two_lines(self):
        import test_30_push as push
        base = tempfile.mkdtemp(prefix="acctd-flood-")
        os.chmod(base, 0o755)
        mkcert(os.path.join(base, "client"), "acctd")
        cluster = push.Cluster(base, "pg1")
        agent = push.Agent(base, "node1", cluster, os.path.join(base, "client.crt"))
        users = ["u%02d" % i for i in range(20)]
        d = Daemon(extra={
            "nodes": [{"name": "node1", "url": "https://127.0.0.1:%d" % agent.port,
                       "cert": agent.cert}],
            "workspaces": [{"handle": "prod", "owner": "u00", "members": users[1:],
                            "node": "node1", "database": "postgres", "port": cluster.port}],
            "push": {"client_cert": os.path.join(base, "client.crt"),
                     "client_key": os.path.join(base, "client.key"), "retry_max_seconds": 1},
            "log_level": "info",
        })
        try:
            d.start()
            pw = open(os.path.join(d.dir, "data", "admin.password")).read().strip()
            c = d.client()
            r = c.post("/api/v0/login", {"handle": "admin", "password": pw})
            c.csrf = r.json["csrf_token"]
            for u in users:                      # the agent is not running yet
                self.assertEqual(c.post("/api/v0/admin/user", {"handle": u,
                                 "email": u + "@x.test"}).status, 201)
            for u in users:
                self.assertEqual(c.post("/api/v0/user/%s/password" % u).status, 200)
            time.sleep(4)                        # several retry rounds of 20 users
            agent.start()
            t0 = time.monotonic()
            while "node node1 reachable again" not in d.logtext():
                self.assertLess(time.monotonic() - t0, 30, d.logtext())
                time.sleep(0.1)
            lines = [l for l in d.logtext().splitlines() if "node1" in l]
            self.assertEqual(len(lines), 2, "\n".join(lines))
            self.assertRegex(lines[0], r"^acctd: warning: push: node node1 failing: connect "
                             r"127\.0\.0\.1:%d: Connection refused \(" % agent.port)
            self.assertRegex(lines[1], r"^acctd: push: node node1 reachable again after "
                             r"(\d+) failed attempt\(s\), \d+ push\(es\) queued$")
            attempts = int(re.search(r"after (\d+)", lines[1]).group(1))
            self.assertTrue(3 <= attempts <= 10, lines[1])
            # and every user's state is delivered once it is back
            t0 = time.monotonic()
            while True:
                n = c.get("/api/v0/admin/nodes").json["items"][0]
                if n["pending"] == 0:
                    break
                self.assertLess(time.monotonic() - t0, 20, n)
                time.sleep(0.2)
            c.close()
        finally:
            d.stop()
            agent.stop()
            cluster.stop()
            d.cleanup()
            shutil.rmtree(base, ignore_errors=True)


class DnsmasqHostsdir(unittest.TestCase):
    """Debian's dnsmasq runs as user dnsmasq: acctd's SIGHUP is refused, so
    with addn-hosts a renamed name never resolved. The recipe: dnsmasq's
    hostsdir on the directory of dns.hosts_file, no reload_pidfile; dnsmasq
    reads the renamed file by itself (inotify). A real dnsmasq, a real dig."""

    def start_dnsmasq(self, *args):
        self.dnsport = harness.free_port()
        self.dnsmasq = subprocess.Popen(
            [shutil.which("dnsmasq"), "--keep-in-foreground", "--no-resolv", "--no-hosts",
             "--listen-address=127.0.0.1", "--bind-interfaces", "--port=%d" % self.dnsport,
             "--user=root", "--log-facility=-"] + list(args),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def dig(self, name):
        return subprocess.run(["dig", "@127.0.0.1", "-p", str(self.dnsport), "+short",
                               "+time=2", "+tries=1", name, "A"],
                              capture_output=True, text=True, timeout=10).stdout.strip()

    def wait_answer(self, name, want, timeout=10):
        t0 = time.monotonic()
        while self.dig(name) != want:
            self.assertLess(time.monotonic() - t0, timeout, "%s: %r" % (name, self.dig(name)))
            time.sleep(0.1)

    def daemon(self, dns, user=""):
        d = Daemon(extra={
            "user": user, "dns": dns,
            "nodes": [{"name": "node1", "url": "https://127.0.0.12:9443",
                       "cert": harness.test_cert()}],
            "workspaces": [{"handle": "prod", "owner": "alice", "node": "node1",
                            "database": "p", "port": 9193}]})
        os.chmod(d.dir, 0o755)
        return d

    def rename(self, d, old, new):
        pw = open(os.path.join(d.dir, "data", "admin.password")).read().strip()
        c = d.client()
        r = c.post("/api/v0/login", {"handle": "admin", "password": pw})
        c.csrf = r.json["csrf_token"]
        if old == "alice":
            r = c.post("/api/v0/admin/user", {"handle": "alice", "email": "a@x.test"})
            self.assertEqual(r.status, 201, r)
        r = c.request("PATCH", "/api/v0/user/" + old, body={"handle": new})
        self.assertEqual(r.status, 200, r)
        c.close()

    def test_hostsdir_renamed_name_resolves_without_a_signal(self):
        d = self.daemon({"domain": "ws.test"})
        hostsdir = os.path.join(d.dir, "hosts")
        os.mkdir(hostsdir)
        d.settings["dns"]["hosts_file"] = os.path.join(hostsdir, "workspaces")
        d.write_conf()
        self.start_dnsmasq("--hostsdir=" + hostsdir)
        try:
            d.start()
            self.wait_answer("alice-prod.ws.test", "127.0.0.12")
            self.rename(d, "alice", "alice2")
            self.wait_answer("alice2-prod.ws.test", "127.0.0.12")
            self.wait_answer("alice-prod.ws.test", "")
            self.rename(d, "alice2", "alice3")
            self.wait_answer("alice3-prod.ws.test", "127.0.0.12")
            self.wait_answer("alice2-prod.ws.test", "")
            self.assertEqual(sorted(os.listdir(hostsdir)), ["workspaces"])
            d.stop()
        finally:
            self.dnsmasq.terminate()
            self.dnsmasq.wait(10)
            d.cleanup()

    def test_refused_signal_said_once(self):
        d = self.daemon({"domain": "ws.test"}, user="nobody")
        hostsdir = os.path.join(d.dir, "hosts")
        os.mkdir(hostsdir)
        shutil.chown(hostsdir, "nobody")
        pidfile = os.path.join(d.dir, "dnsmasq.pid")
        d.settings["dns"].update({"hosts_file": os.path.join(hostsdir, "ws.hosts"),
                                  "reload_pidfile": pidfile})
        d.write_conf()
        self.start_dnsmasq("--addn-hosts=" + os.path.join(hostsdir, "ws.hosts"),
                           "--pid-file=" + pidfile)
        try:
            for _ in range(100):
                if os.path.exists(pidfile) and open(pidfile).read().strip():
                    break
                time.sleep(0.05)
            os.chmod(pidfile, 0o644)
            d.start()
            self.rename(d, "alice", "alice2")
            self.rename(d, "alice2", "alice3")
            time.sleep(0.3)
            lines = [l for l in d.logtext().splitlines() if "cannot signal" in l]
            self.assertEqual(lines, [
                "acctd: warning: dns: cannot signal the DNS server of dns.reload_pidfile %s "
                "(pid %d): Operation not permitted; it will not see renamed names (use "
                "dnsmasq's hostsdir and an empty dns.reload_pidfile: README \"Workspace DNS\")"
                % (pidfile, self.dnsmasq.pid)])
            d.stop()
        finally:
            self.dnsmasq.terminate()
            self.dnsmasq.wait(10)
            d.cleanup()


if __name__ == "__main__":
    unittest.main()

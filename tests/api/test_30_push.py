"""Pushing credentials to workspace nodes, end to end with real components
started here: two PostgreSQL 15 clusters (one per node), an acctd-agent in
front of each, and acctd pushing to both over mutual TLS.

Requires: Debian's postgresql (make test installs it) and build/<t>/acctd-agent."""
import hashlib
import json
import os
import pwd
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from harness import Daemon, BIN, ROOT, free_port, conf_text

AGENT = os.path.join(os.path.dirname(BIN), "acctd-agent")
PGBIN = "/usr/lib/postgresql/15/bin"
# ACCTD_HOOK: another hook, e.g. an older apply-postgres, to compare against
HOOK = os.environ.get("ACCTD_HOOK", os.path.join(ROOT, "platform", "linux", "apply-postgres"))

METRICS_TOKEN = "push-test-metrics-token-0123456789"


def mkcert(prefix, cn):
    subprocess.run([os.path.join(ROOT, "tools", "mkcert.sh"), prefix, cn], check=True)


def as_postgres(*cmd, **kw):
    return subprocess.run(["runuser", "-u", "postgres", "--", *cmd], **kw)


class Cluster:
    """A throwaway PostgreSQL cluster on a loopback port (runs as postgres)."""

    def __init__(self, base, name):
        self.dir = os.path.join(base, name)
        os.makedirs(self.dir)
        shutil.chown(self.dir, "postgres", "postgres")
        self.port = free_port()
        as_postgres(PGBIN + "/initdb", "-D", self.dir + "/data", "--auth-local=trust",
                    "--auth-host=scram-sha-256", "-U", "postgres", check=True,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # API files run side by side: another may take the free port between
        # free_port() and the postmaster's bind, so a failed start is tried
        # again on another port (its log says why it failed)
        for attempt in range(3):
            p = as_postgres(PGBIN + "/pg_ctl", "-D", self.dir + "/data", "-w", "-l",
                            self.dir + "/log", "-o", "-p %d -k %s -c listen_addresses=127.0.0.1"
                            % (self.port, self.dir), "start", stdout=subprocess.DEVNULL)
            if p.returncode == 0:
                return
            with open(self.dir + "/log", errors="replace") as f:
                why = f.read()[-2000:]
            print("PostgreSQL %s did not start on port %d (attempt %d):\n%s"
                  % (name, self.port, attempt + 1, why), file=sys.stderr)
            self.port = free_port()
        raise AssertionError("PostgreSQL %s did not start" % name)

    def stop(self):
        as_postgres(PGBIN + "/pg_ctl", "-D", self.dir + "/data", "-m", "immediate", "stop",
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def sql(self, q):
        return subprocess.run(["psql", "-X", "-At", "-h", self.dir, "-p", str(self.port),
                               "-U", "postgres", "-d", "postgres", "-c", q],
                              capture_output=True, text=True, timeout=20).stdout.strip()

    def login(self, role, password):
        env = dict(os.environ, PGPASSWORD=password, PGCONNECT_TIMEOUT="5")
        p = subprocess.run(["psql", "-X", "-At", "-h", "127.0.0.1", "-p", str(self.port),
                            "-U", role, "-d", "postgres", "-c", "select 42"],
                           capture_output=True, text=True, env=env, timeout=20)
        return p.returncode == 0 and p.stdout.strip() == "42"


class Agent:
    def __init__(self, base, name, cluster, acctd_cert):
        self.name = name
        self.dir = os.path.join(base, "agent-" + name)
        os.makedirs(self.dir)
        mkcert(os.path.join(self.dir, "node"), name)
        self.port = free_port()
        self.cert = os.path.join(self.dir, "node.crt")
        self.conf = os.path.join(self.dir, "agent.conf")
        with open(self.conf, "w") as f:
            f.write(conf_text({
                "listen": "127.0.0.1:%d" % self.port,
                "tls": {"cert": self.cert, "key": os.path.join(self.dir, "node.key")},
                "acctd_cert": acctd_cert,
                "state_file": os.path.join(self.dir, "state"),
                "hook": HOOK,
                "hook_env": {"PGHOST": cluster.dir, "PGPORT": str(cluster.port),
                             "PGUSER": "postgres", "PGDATABASE": "postgres"},
                "log_level": "debug",
                "user": "",
            }))
        self.proc = None
        self.log = []

    def start(self):
        self.proc = subprocess.Popen([AGENT, "-c", self.conf], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        ready = threading.Event()

        def read():
            for raw in self.proc.stderr:
                line = raw.decode("utf-8", "replace").rstrip()
                self.log.append(line)
                if "ready on" in line:
                    ready.set()
        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(20):
            raise AssertionError("agent %s not ready:\n%s" % (self.name, "\n".join(self.log)))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)


class Push(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        assert os.path.exists(AGENT), "acctd-agent is not built: " + AGENT
        cls.base = tempfile.mkdtemp(prefix="acctd-push-")
        os.chmod(cls.base, 0o755)
        mkcert(os.path.join(cls.base, "acctd-client"), "acctd")
        mkcert(os.path.join(cls.base, "intruder"), "acctd")
        client_cert = os.path.join(cls.base, "acctd-client.crt")
        cls.clusters = [Cluster(cls.base, "pg1"), Cluster(cls.base, "pg2")]
        cls.agents = [Agent(cls.base, "node1", cls.clusters[0], client_cert),
                      Agent(cls.base, "node2", cls.clusters[1], client_cert)]
        for a in cls.agents:
            a.start()
        # the appliance's DNS server, fed by acctd's hosts file
        cls.hosts = os.path.join(cls.base, "ws.hosts")
        cls.dnspid = os.path.join(cls.base, "dnsmasq.pid")
        cls.dnsport = free_port()
        open(cls.hosts, "w").close()
        cls.dnsmasq = subprocess.Popen(
            [shutil.which("dnsmasq"), "--keep-in-foreground", "--no-resolv", "--no-hosts",
             "--listen-address=127.0.0.1", "--bind-interfaces", "--port=%d" % cls.dnsport,
             "--addn-hosts=" + cls.hosts, "--pid-file=" + cls.dnspid, "--user=root",
             "--log-facility=-"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            if os.path.exists(cls.dnspid) and open(cls.dnspid).read().strip():
                break
            time.sleep(0.05)
        cls.d = Daemon(extra={
            "dns": {"domain": "ws.test", "hosts_file": cls.hosts, "reload_pidfile": cls.dnspid},
            "nodes": [{"name": a.name, "url": "https://127.0.0.1:%d" % a.port, "cert": a.cert}
                      for a in cls.agents],
            "workspaces": [
                {"handle": "prod", "owner": "alice", "node": "node1", "database": "postgres",
                 "port": cls.clusters[0].port},
                {"handle": "dev", "owner": "alice", "node": "node2", "database": "postgres",
                 "port": cls.clusters[1].port}],
            "push": {"client_cert": client_cert,
                     "client_key": os.path.join(cls.base, "acctd-client.key"),
                     "retry_max_seconds": 2},
            "metrics": {"token_sha256": hashlib.sha256(METRICS_TOKEN.encode()).hexdigest()},
            # dozens of rotations in a row: past the default write budget
            "rate_limit": {"writes_per_minute": 6000, "writes_burst": 1000},
        }).start()
        pw = open(os.path.join(cls.d.dir, "data", "admin.password")).read().strip()
        cls.admin = cls.d.client()
        r = cls.admin.post("/api/v0/login", {"handle": "admin", "password": pw})
        cls.admin.csrf = r.json["csrf_token"]
        r = cls.admin.post("/api/v0/admin/user", {"handle": "alice", "email": "a@x.test",
                                                  "password": "alice-console-1", "must_change_password": False})
        assert r.status == 201, r
        cls.handle = "alice"

    @classmethod
    def tearDownClass(cls):
        cls.dnsmasq.send_signal(signal.SIGTERM)
        cls.dnsmasq.wait(10)
        cls.d.stop()
        for a in cls.agents:
            a.stop()
        for c in cls.clusters:
            c.stop()
        cls.d.cleanup()
        shutil.rmtree(cls.base, ignore_errors=True)

    def password(self):
        r = self.admin.get("/api/v0/user/%s/password" % self.handle)
        self.assertEqual(r.status, 200, r)
        return r.json

    def wait_applied(self, version=None, nodes=("node1", "node2"), timeout=15):
        t0 = time.monotonic()
        while True:
            j = self.password()
            st = {p["node"]: p for p in j["propagation"]}
            if all(n in st and st[n]["status"] == "applied" for n in nodes):
                return j, time.monotonic() - t0
            if time.monotonic() - t0 > timeout:
                self.fail("not applied after %ss: %s" % (timeout, j["propagation"]))
            time.sleep(0.02)

    def test_1_created_user_logs_in_on_both_nodes(self):
        j, _ = self.wait_applied()
        for c in self.clusters:
            self.assertTrue(c.login("alice", j["password"]))
            self.assertEqual(c.sql("select rolpassword like 'SCRAM-SHA-256$%' from pg_authid "
                                   "where rolname = 'alice'"), "t")
        # mutual TLS, the node's certificate pinned, over TLS 1.3 (both sides have it)
        for a in self.agents:
            self.assertTrue(any("tls: TLSv1.3 TLS1-3-" in l and "with acctd" in l
                                for l in a.log), "\n".join(a.log[-20:]))

    def test_2_rotation_applies_and_keeps_open_sessions(self):
        old, _ = self.wait_applied()
        env = dict(os.environ, PGPASSWORD=old["password"])
        held = subprocess.Popen(["psql", "-X", "-At", "-h", "127.0.0.1", "-p",
                                 str(self.clusters[0].port), "-U", "alice", "-d", "postgres"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        held.stdin.write("select 'before';\n")
        held.stdin.flush()
        self.assertEqual(held.stdout.readline().strip(), "before")
        r = self.admin.post("/api/v0/user/alice/password")
        self.assertEqual(r.status, 200, r)
        new, took = self.wait_applied()
        self.assertLess(took, 2.0)
        self.assertNotEqual(new["password"], old["password"])
        for c in self.clusters:
            self.assertTrue(c.login("alice", new["password"]))
            self.assertFalse(c.login("alice", old["password"]))
        held.stdin.write("select 'after';\n")
        held.stdin.flush()
        self.assertEqual(held.stdout.readline().strip(), "after")
        held.stdin.close()
        held.wait(10)

    def test_3_rotation_latency_median_of_20(self):
        times = []
        for _ in range(20):
            t0 = time.monotonic()
            self.assertEqual(self.admin.post("/api/v0/user/alice/password").status, 200)
            self.wait_applied()
            times.append(time.monotonic() - t0)
        print("\n  rotate -> applied on both nodes: median %.0f ms, max %.0f ms"
              % (statistics.median(times) * 1000, max(times) * 1000))

    def test_4_node_down_then_converges(self):
        self.agents[1].stop()
        r = self.admin.post("/api/v0/user/alice/password")
        self.assertEqual(r.status, 200)
        t0 = time.monotonic()
        while True:
            st = {p["node"]: p for p in self.password()["propagation"]}
            if st["node1"]["status"] == "applied" and st["node2"].get("last_error"):
                break
            self.assertLess(time.monotonic() - t0, 15, st)
            time.sleep(0.1)
        self.assertEqual(st["node2"]["status"], "pending")
        nodes = {n["name"]: n for n in self.admin.get("/api/v0/admin/nodes").json["items"]}
        self.assertEqual(nodes["node2"]["status"], "failing")
        self.assertIn('acctd_push_pending{node="node2"} 1', self.admin.get(
            "/metrics", headers={"Authorization": "Bearer " + METRICS_TOKEN}).body.decode())
        # a second rotation while down: only the newest reaches the node
        self.assertEqual(self.admin.post("/api/v0/user/alice/password").status, 200)
        newest = self.password()
        self.agents[1].start()
        j, _ = self.wait_applied(timeout=20)
        self.assertEqual(j["version"], newest["version"])
        self.assertTrue(self.clusters[1].login("alice", newest["password"]))

    def test_5_handle_change_renames_the_role(self):
        j, _ = self.wait_applied()
        r = self.admin.request("PATCH", "/api/v0/user/alice", body={"handle": "alice2"})
        self.assertEqual(r.status, 200, r)
        type(self).handle = "alice2"
        self.wait_applied()
        for c in self.clusters:
            self.assertTrue(c.login("alice2", j["password"]))
            self.assertFalse(c.login("alice", j["password"]))
            self.assertEqual(c.sql("select count(*) from pg_roles where rolname='alice'"), "0")

        def dig(name):
            return subprocess.run(["dig", "@127.0.0.1", "-p", str(self.dnsport), "+short",
                                   "+time=2", "+tries=1", name], capture_output=True,
                                  text=True, timeout=10).stdout.strip()
        t0 = time.monotonic()
        while dig("alice2-prod.ws.test") != "127.0.0.1" or dig("alice-prod.ws.test") != "":
            self.assertLess(time.monotonic() - t0, 5, open(self.hosts).read())
            time.sleep(0.1)

    def test_6_wrong_identity_and_replay_refused(self):
        a = self.agents[0]
        body = json.dumps({"user_id": "u_00000000000000000000", "version": 1,
                           "state": "present", "role": "mallory",
                           "verifier": "SCRAM-SHA-256$4096:/UodNfQJXOzghGW2kPakqA==$"
                                       "3GfW6/1tZHLtoTFJMIH1LDKicnw5X736E3EkYt8V+3s=:"
                                       "hiWEdXOoKv0xQb9SZb+SneIbT7B3Vt2g+WiXSCZuofY="})

        def post(cert, key, payload):
            ctx = ssl.create_default_context(cafile=a.cert)
            ctx.check_hostname = False
            if cert:
                ctx.load_cert_chain(cert, key)
            s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", a.port), timeout=10))
            s.sendall(("POST /v1/state HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s"
                       % (len(payload), payload)).encode())
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            s.close()
            return data.decode()

        for cert in (None, os.path.join(self.base, "intruder")):
            with self.assertRaises((ssl.SSLError, ConnectionResetError, BrokenPipeError, OSError)):
                out = post(cert and cert + ".crt", cert and cert + ".key", body)
                if out == "":
                    raise ConnectionResetError("closed without an answer")
        self.assertEqual(self.clusters[0].sql("select count(*) from pg_roles where rolname='mallory'"), "0")
        # with acctd's identity: a state older than what the node holds is refused
        own = os.path.join(self.base, "acctd-client")
        uid = self.admin.get("/api/v0/user/%s" % self.handle).json["id"]
        j, _ = self.wait_applied()
        stale = json.dumps({"user_id": uid, "version": 1, "state": "absent"})
        out = post(own + ".crt", own + ".key", stale)
        self.assertTrue(out.startswith("HTTP/1.1 409"), out)
        self.assertTrue(self.clusters[0].login(self.handle, j["password"]))
        # the version the node holds, with another state: refused too (after a
        # restore of acctd's store, a version number can come back)
        applied = [p for p in j["propagation"] if p["node"] == "node1"][0]["applied_version"]
        reused = json.dumps({"user_id": uid, "version": applied, "state": "absent"})
        out = post(own + ".crt", own + ".key", reused)
        self.assertTrue(out.startswith("HTTP/1.1 409"), out)
        self.assertIn('"applied_version":%d' % applied, out)
        self.assertIn('"code":"version_reused"', out)
        self.assertTrue(self.clusters[0].login(self.handle, j["password"]))
        # a replay of the very state the node holds is answered, not re-applied
        other = json.dumps({"user_id": "u_0000000000000000000v", "version": 5,
                            "state": "absent"})
        for _ in range(2):
            out = post(own + ".crt", own + ".key", other)
            self.assertTrue(out.startswith("HTTP/1.1 200"), out)
            self.assertIn('"applied_version":5', out)
        # the agent's stderr is read by a thread: give it a moment
        seen = lambda: sum("u_0000000000000000000v v5: already applied" in l for l in a.log)
        t0 = time.monotonic()
        while seen() < 1 and time.monotonic() - t0 < 10:
            time.sleep(0.05)
        time.sleep(0.2)
        self.assertEqual(seen(), 1)

    def test_6b_silent_and_slow_connections_do_not_stop_pushes(self):
        """Anyone on the node network can connect to an agent. 50 silent TCP
        connections and 10 that trickle a TLS record a byte at a time, kept
        open (re-opened whenever the agent drops one) on both agents: a
        rotation still lands on both PostgreSQL clusters within seconds."""
        self.wait_applied()
        stop = threading.Event()
        opened = [0]

        def connect(port):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))   # never waits on a full backlog
            opened[0] += 1
            return s

        def alive(s):
            try:
                return s.recv(1, socket.MSG_PEEK) != b""
            except BlockingIOError:
                return True
            except OSError:
                return False

        def flood(port):
            silent = [connect(port) for _ in range(50)]
            slow = [[connect(port), 0] for _ in range(10)]
            # a TLS handshake record header, then its body a byte at a time
            hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(500)
            while not stop.wait(0.25):
                for i, s in enumerate(silent):
                    if not alive(s):
                        s.close()
                        silent[i] = connect(port)
                for t in slow:
                    try:
                        t[0].send(hello[t[1]:t[1] + 1])
                        t[1] += 1
                    except OSError:
                        t[0].close()
                        t[0], t[1] = connect(port), 0
            for s in silent + [t[0] for t in slow]:
                s.close()

        threads = [threading.Thread(target=flood, args=(a.port,), daemon=True)
                   for a in self.agents]
        for t in threads:
            t.start()
        took = []
        try:
            for at in (2, 13):      # early, and after the agents' 10 s deadlines
                time.sleep(max(0, at - sum(took) - (2 if took else 0)))
                t0 = time.monotonic()
                self.assertEqual(self.admin.post("/api/v0/user/%s/password"
                                                 % self.handle).status, 200)
                j, _ = self.wait_applied(timeout=10)
                took.append(time.monotonic() - t0)
                for c in self.clusters:
                    self.assertTrue(c.login(self.handle, j["password"]))
        finally:
            stop.set()
            for t in threads:
                t.join(10)
        print("\n  with 2 x (50 silent + 10 trickling) connections held open "
              "(%d opened): rotate -> applied on both nodes: %s"
              % (opened[0], ", ".join("%.0f ms" % (x * 1000) for x in took)))

    def test_7_deletion_drops_the_role(self):
        h = self.handle
        r = self.admin.request("DELETE", "/api/v0/user/%s?confirm=%s" % (h, h))
        self.assertEqual(r.status, 204, r)
        t0 = time.monotonic()
        for c in self.clusters:
            while c.sql("select count(*) from pg_roles where rolname='%s'" % h) != "0":
                self.assertLess(time.monotonic() - t0, 15)
                time.sleep(0.1)


if __name__ == "__main__":
    unittest.main()

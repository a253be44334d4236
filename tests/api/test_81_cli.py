"""acctd-cli against a real acctd and a real PostgreSQL (issue 15, part A):
a `connect`-scoped token runs `acctd-cli psql prod -c 'select 1'` on the
workspace's cluster behind an acctd-agent (test_30_push's Cluster and
Agent), with the password in psql's environment and never in its
arguments, and is refused everything else; a full token manages tokens and
rotates the password; every failure is one line and exit status 1.

psql is reached through a wrapper first on PATH that records the argv it
was given, then execs the real psql in the same process (whose
/proc/PID/cmdline the test reads while it runs)."""
import os
import re
import shutil
import stat
import subprocess
import tempfile
import time
import unittest

import test_30_push as p30
from creds import API, TOKEN_RE, login, create_user
from harness import Daemon

CLI = os.path.join(os.path.dirname(p30.BIN), "acctd-cli")
WRAPPER = """#!/bin/sh
printf '%%s\\n' "$@" > "%(dir)s/argv.$$"
tr '\\0' '\\n' < /proc/$$/cmdline > "%(dir)s/cmdline.$$"
exec "%(psql)s" "$@"
"""


class Cli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        assert os.path.exists(CLI), "acctd-cli is not built: " + CLI
        assert os.path.exists(p30.AGENT), "acctd-agent is not built: " + p30.AGENT
        cls.base = tempfile.mkdtemp(prefix="acctd-cli-")
        os.chmod(cls.base, 0o755)
        p30.mkcert(os.path.join(cls.base, "acctd-client"), "acctd")
        p30.mkcert(os.path.join(cls.base, "stranger"), "acctd test")
        client_cert = os.path.join(cls.base, "acctd-client.crt")
        cls.cluster = p30.Cluster(cls.base, "pg1")
        cls.agent = p30.Agent(cls.base, "node1", cls.cluster, client_cert)
        cls.agent.start()
        cls.d = Daemon(extra={
            "nodes": [{"name": "node1", "url": "https://127.0.0.1:%d" % cls.agent.port,
                       "cert": cls.agent.cert}],
            "workspaces": [{"handle": "prod", "owner": "alice", "node": "node1",
                            "database": "postgres", "port": cls.cluster.port}],
            "push": {"client_cert": client_cert,
                     "client_key": os.path.join(cls.base, "acctd-client.key"),
                     "retry_max_seconds": 2},
            "tokens": {"max_per_user": 20},
        }).start()
        pw = open(os.path.join(cls.d.dir, "data", "admin.password")).read().strip()
        cls.admin = login(cls.d, "admin", pw)
        create_user(cls.admin, "alice", "alice-console-1")
        cls.alice = login(cls.d, "alice", "alice-console-1")
        cls.connect = cls.token("connect")
        cls.full = cls.token("full")
        # psql through the recording wrapper
        cls.wrapdir = os.path.join(cls.base, "bin")
        os.makedirs(cls.wrapdir)
        real = shutil.which("psql")
        assert real, "psql is not installed"
        with open(os.path.join(cls.wrapdir, "psql"), "w") as f:
            f.write(WRAPPER % {"dir": cls.wrapdir, "psql": real})
        os.chmod(os.path.join(cls.wrapdir, "psql"), 0o755)
        cls.wait_applied()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.agent.stop()
        cls.cluster.stop()
        cls.d.cleanup()
        shutil.rmtree(cls.base, ignore_errors=True)

    @classmethod
    def token(cls, scope):
        r = cls.alice.post("%s/user/alice/token" % API, {"title": scope, "scope": scope})
        assert r.status == 201, r
        return r.json["token"]

    @classmethod
    def password(cls):
        r = cls.admin.get("%s/user/alice/password" % API)
        assert r.status == 200, r
        return r.json

    @classmethod
    def wait_applied(cls, timeout=20):
        t0 = time.monotonic()
        while True:
            j = cls.password()
            if [p["status"] for p in j["propagation"]] == ["applied"]:
                return j
            if time.monotonic() - t0 > timeout:
                raise AssertionError("not applied: %s" % j["propagation"])
            time.sleep(0.05)

    def hostaddr(self):
        """The workspace's address from the appliance's DNS data (acctd's
        hosts file), for libpq's PGHOSTADDR: this machine's resolver does
        not ask the appliance's DNS server."""
        with open(self.d.settings["dns"]["hosts_file"]) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[1] == "alice-prod.ws.test":
                    return parts[0]
        self.fail("alice-prod.ws.test is not in acctd's hosts file")

    def env(self, token, **more):
        e = {k: v for k, v in os.environ.items() if not k.startswith(("ACCTD_", "PG"))}
        e.update(ACCTD_URL=self.d.url, ACCTD_TOKEN=token, ACCTD_CA=self.d.cafile,
                 PATH=self.wrapdir + ":" + os.environ["PATH"], PGHOSTADDR=self.hostaddr(),
                 PGCONNECT_TIMEOUT="5")
        e.update(more)
        return {k: v for k, v in e.items() if v is not None}

    def cli(self, token, *args, **env):
        return subprocess.run([CLI, *args], env=self.env(token, **env), capture_output=True,
                              text=True, timeout=30)

    def assert_one_line_failure(self, p, *words):
        self.assertEqual(p.returncode, 1, p)
        lines = p.stderr.strip().split("\n")
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertTrue(lines[0].startswith("acctd-cli: "), lines)
        for w in words:
            self.assertIn(w, lines[0])
        for secret in (self.connect, self.full):
            self.assertNotIn(secret, p.stderr + p.stdout)
        return lines[0]

    def recorded(self, kind):
        """Every argv / cmdline the psql wrapper recorded, and forget them."""
        out = []
        for n in sorted(os.listdir(self.wrapdir)):
            if n.startswith(kind + "."):
                with open(os.path.join(self.wrapdir, n)) as f:
                    out.append(f.read().split("\n")[:-1])
                os.unlink(os.path.join(self.wrapdir, n))
        return out

    # --- connect scope --------------------------------------------------------

    def test_1_connect_token_runs_psql_select_1(self):
        self.recorded("argv")
        p = self.cli(self.connect, "psql", "prod", "-X", "-At", "-c", "select 1")
        self.assertEqual(p.returncode, 0, p)
        self.assertEqual(p.stdout.strip(), "1")
        pw = self.password()["password"]
        argvs = self.recorded("argv")
        self.assertEqual(argvs, [["-X", "-At", "-c", "select 1"]])
        cmdlines = self.recorded("cmdline")
        self.assertEqual(len(cmdlines), 1)
        self.assertNotIn(pw, "\n".join(cmdlines[0]))
        # the role psql signed in as is alice, on the workspace's database
        p = self.cli(self.connect, "psql", "prod", "-X", "-At", "-c",
                     "select current_user || '@' || current_database()")
        self.assertEqual(p.stdout.strip(), "alice@postgres", p)

    def test_2_password_is_in_the_environment_never_in_cmdline(self):
        """Read the running psql's /proc/PID/cmdline and environ (acctd-cli
        execs the wrapper, which execs psql: one process throughout)."""
        pw = self.password()["password"]
        proc = subprocess.Popen([CLI, "psql", "prod", "-X", "-At", "-c",
                                 "select pg_sleep(1.5), 7"], env=self.env(self.connect),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        cmdlines, environ = set(), b""
        while proc.poll() is None:
            try:
                with open("/proc/%d/cmdline" % proc.pid, "rb") as f:
                    cmdlines.add(f.read())
                with open("/proc/%d/environ" % proc.pid, "rb") as f:
                    environ = f.read() or environ
            except (FileNotFoundError, ProcessLookupError):
                pass
            time.sleep(0.02)
        out, err = proc.communicate()
        self.assertEqual(proc.returncode, 0, err)
        self.assertEqual(out.strip(), "|7")
        self.assertTrue(any(b"psql" in c for c in cmdlines), cmdlines)
        for c in cmdlines:
            self.assertNotIn(pw.encode(), c)
        self.assertIn(b"PGPASSWORD=" + pw.encode(), environ.split(b"\0"))
        # psql does not inherit the API token
        self.assertNotIn(self.connect.encode(), environ)
        self.recorded("argv")
        self.recorded("cmdline")

    def test_3_connect_token_lists_workspaces(self):
        p = self.cli(self.connect, "workspaces")
        self.assertEqual(p.returncode, 0, p)
        lines = p.stdout.strip().split("\n")
        self.assertTrue(lines[0].startswith("WORKSPACE"), lines)
        self.assertEqual(lines[1].split()[:4],
                         ["prod", "owner", "alice-prod.ws.test", str(self.cluster.port)])
        self.assertNotIn(self.password()["password"], p.stdout)

    def test_4_connect_token_is_refused_everything_else(self):
        before = self.alice.get("%s/user/alice/token" % API).json["items"]
        version = self.password()["version"]
        for args in (["token", "create"], ["token", "create", "--scope", "full"],
                     ["token", "list"], ["token", "delete", before[0]["id"]],
                     ["password", "rotate"]):
            with self.subTest(args=args):
                p = self.cli(self.connect, *args)
                self.assert_one_line_failure(p, "HTTP 403", 'scope is "connect"')
                self.assertEqual(p.stdout, "")
        self.assertEqual(self.alice.get("%s/user/alice/token" % API).json["items"], before)
        self.assertEqual(self.password()["version"], version)

    # --- a full token ------------------------------------------------------------

    def test_5_full_token_manages_tokens(self):
        p = self.cli(self.full, "token", "create", "--title", "laptop", "--scope", "read")
        self.assertEqual(p.returncode, 0, p)
        tok = p.stdout.strip()
        self.assertRegex(tok, TOKEN_RE)
        self.assertIn("shown only now", p.stderr)
        p = self.cli(self.full, "token", "list")
        self.assertEqual(p.returncode, 0, p)
        row = [l.split() for l in p.stdout.split("\n") if l.endswith(" laptop")]
        self.assertEqual(len(row), 1, p.stdout)
        tid = row[0][0]
        self.assertEqual(row[0][1:4], ["read", "active", tok[-4:]])
        self.assertNotIn(tok, p.stdout)
        # the new read token lists, but may not delete
        p = self.cli(tok, "token", "list")
        self.assertEqual(p.returncode, 0, p)
        self.assert_one_line_failure(self.cli(tok, "token", "delete", tid), "HTTP 403",
                                     'scope is "read"')
        p = self.cli(self.full, "token", "delete", tid)
        self.assertEqual(p.returncode, 0, p)
        self.assertNotIn(tid, self.cli(self.full, "token", "list").stdout)
        self.assert_one_line_failure(self.cli(tok, "workspaces"), "HTTP 401")

    def test_6_full_token_rotates_and_psql_uses_the_new_password(self):
        old = self.password()
        p = self.cli(self.full, "password", "rotate")
        self.assertEqual(p.returncode, 0, p)
        self.assertIn("version %d" % (old["version"] + 1), p.stdout)
        new = self.wait_applied()
        self.assertNotEqual(new["password"], old["password"])
        self.assertNotIn(new["password"], p.stdout + p.stderr)
        p = self.cli(self.connect, "psql", "prod", "-X", "-At", "-c", "select 1")
        self.assertEqual((p.returncode, p.stdout.strip()), (0, "1"), p)
        self.recorded("argv")
        self.recorded("cmdline")

    # --- failures: one line, exit status 1 ----------------------------------------

    def test_7_help(self):
        p = subprocess.run([CLI, "-h"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0)
        for w in ("workspaces", "psql WORKSPACE", "token create", "password rotate",
                  "ACCTD_URL", "ACCTD_TOKEN", "ACCTD_CA"):
            self.assertIn(w, p.stdout)

    def test_8_clear_errors(self):
        other = os.path.join(self.base, "stranger.crt")
        cases = [
            ({"ACCTD_URL": None}, ["workspaces"], ["ACCTD_URL is not set"]),
            ({"ACCTD_URL": "http://127.0.0.1:1"}, ["workspaces"], ["https://"]),
            ({"ACCTD_TOKEN": None}, ["workspaces"], ["ACCTD_TOKEN is not set"]),
            ({"ACCTD_CA": None}, ["workspaces"], ["ACCTD_CA", "--ca"]),
            ({"ACCTD_CA": "/nonexistent.crt"}, ["workspaces"], ["/nonexistent.crt"]),
            # the pinned certificate is another one with the same name
            ({"ACCTD_CA": other}, ["workspaces"], ["does not verify", other]),
            ({"ACCTD_URL": "https://127.0.0.1:1"}, ["workspaces"], ["connect 127.0.0.1:1"]),
            ({}, ["psql", "staging"], ["no workspace staging"]),
            ({}, ["psql"], ["which workspace"]),
            ({}, ["frobnicate"], ["unknown command frobnicate"]),
            ({}, ["token", "create", "--scope", "root"], ["HTTP 400"]),
            ({}, ["token", "rename"], ["expected list, create or delete"]),
            ({}, ["password"], ["expected rotate"]),
        ]
        for env, args, words in cases:
            with self.subTest(env=env, args=args):
                p = self.cli(self.connect if args[0] == "psql" else self.full, *args, **env)
                self.assert_one_line_failure(p, *words)
        bad = self.full[:-8] + ("a" if self.full[-8] != "a" else "b") + self.full[-7:]
        self.assert_one_line_failure(self.cli(bad, "workspaces"), "HTTP 401")
        p = subprocess.run([CLI, "--ca", self.d.cafile, "workspaces"],
                           env=self.env(self.connect, ACCTD_CA=None), capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p)


if __name__ == "__main__":
    unittest.main()

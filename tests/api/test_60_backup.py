"""Backup and restore (issue 14, point 1): `acctd backup` / GET
/api/v0/admin/backup write a portable copy (JSON lines, docs/backup.md) of
the live store while acctd serves and writes; `acctd restore` refuses to run
while acctd runs, refuses a damaged or foreign file naming its line and
changing nothing, and otherwise replaces the store (the old one kept
aside). Then a real agent and PostgreSQL converge on the restored state and
a rotation after the restore reaches them, with versions that never go
backwards."""
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

from harness import BIN, Daemon, assert_problem, free_port
from test_30_push import Agent, Cluster, mkcert

IMPORTED = 2000
WRITERS = 4


def run(*args, timeout=300):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=timeout)


def sign_in(d, handle="admin", password=None):
    if password is None:
        password = open(os.path.join(d.dir, "data", "admin.password")).read().strip()
    c = d.client()
    r = c.post("/api/v0/login", {"handle": handle, "password": password})
    assert r.status == 200, r
    c.csrf = r.json["csrf_token"]
    return c


def backup_key(key_file):
    """HKDF-SHA256(appliance key, "acctd backup v1"), no salt (RFC 5869)."""
    ikm = open(key_file, "rb").read()
    prk = hmac.new(b"", ikm, hashlib.sha256).digest()
    return hmac.new(prk, b"acctd backup v1\x01", hashlib.sha256).digest()


def reseal(lines, key):
    """lines (header .. records, no trailer) with a correct trailer again."""
    d = bytes(32)
    for ln in lines:
        d = hmac.new(key, d + ln.encode(), hashlib.sha256).digest()
    recs = len(lines) - 1
    return lines + [json.dumps({"end": True, "records": recs, "digest": d.hex()},
                               separators=(",", ":"))]


class Backup(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon().start()
        cls.admin = sign_in(cls.d)
        cls.key = os.path.join(cls.d.dir, "data", "appliance.key")
        users = os.path.join(cls.d.dir, "users.jsonl")
        with open(users, "w") as f:
            for i in range(IMPORTED):
                f.write(json.dumps({"handle": "bk-%05d" % i,
                                    "email": "bk-%05d@example.com" % i}) + "\n")
        p = run("import", "-c", cls.d.conf, users)
        assert p.returncode == 0, p.stderr
        r = cls.admin.post("/api/v0/admin/user", {"handle": "carol", "email": "c@x.test",
                                                  "password": "carol-console-1",
                                                  "must_change_password": False})
        assert r.status == 201, r
        cls.file = os.path.join(cls.d.dir, "backup.jsonl")
        cls.restored = None

    @classmethod
    def tearDownClass(cls):
        cls.admin.close()
        cls.d.stop()
        if cls.restored is not None:
            cls.restored.stop()
            cls.restored.cleanup()
        cls.d.cleanup()

    def fresh(self):
        """A config for a fresh data_dir, with this appliance's key_file."""
        return Daemon(extra={"key_file": self.key})

    def fresh_other_key(self):
        """A fresh data_dir whose key_file is another appliance's."""
        d = Daemon()
        other = os.path.join(d.dir, "other.key")
        with open(os.open(other, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as k:
            k.write(os.urandom(32))
        d.settings["key_file"] = other
        d.write_conf()
        return d

    def lines(self):
        return open(self.file).read().splitlines()

    def test_1_backup_under_write_load(self):
        lock = threading.Lock()
        acked = {}          # handle -> the last display name acknowledged
        during = [0]
        stop = threading.Event()
        started = threading.Event()

        def writer(i):
            h = "bk-%05d" % i
            c = sign_in(self.d)
            n = 0
            while not stop.is_set():
                n += 1
                r = c.request("PATCH", "/api/v0/user/" + h, body={"display_name": "v%d" % n})
                self.assertEqual(r.status, 200, r)
                with lock:
                    acked[h] = n
                    if started.is_set():
                        during[0] += 1
            c.close()

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(WRITERS)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        with lock:
            before = dict(acked)
            started.set()
        t0 = time.monotonic()
        p = run("backup", "-c", self.d.conf, self.file)
        took = time.monotonic() - t0
        time.sleep(0.3)
        stop.set()
        for t in threads:
            t.join()
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("records written to " + self.file, p.stderr)
        self.assertEqual(os.stat(self.file).st_mode & 0o777, 0o600)
        self.assertGreater(during[0], 0, "no write was acknowledged while the backup ran")
        print("\n  backup of %d users under %d writers: %.2f s, %d bytes, %d writes "
              "acknowledged meanwhile" % (IMPORTED + 2, WRITERS, took,
                                          os.path.getsize(self.file), during[0]))
        self.__class__.before = before
        self.__class__.after = dict(acked)
        lines = self.lines()
        h = json.loads(lines[0])
        self.assertEqual(h["format"], "acctd-backup")
        self.assertEqual(h["schema_version"], 2)
        self.assertEqual(h["counts"]["user"], IMPORTED + 2)
        self.assertNotIn("session", h["counts"])
        self.assertTrue(json.loads(lines[-1])["end"])
        # the file never overwrites a backup
        p = run("backup", "-c", self.d.conf, self.file)
        self.assertEqual(p.returncode, 1)
        self.assertIn("File exists (a backup is never overwritten)", p.stderr)

    def test_2_refused_while_acctd_runs(self):
        data = os.path.join(self.d.dir, "data", "data.mdb")
        st = os.stat(data)
        p = run("restore", "-c", self.d.conf, self.file)
        self.assertEqual(p.returncode, 1)
        self.assertIn("the store is in use (acctd, acctd import or acctd backup runs on it); "
                      "stop acctd first; nothing was changed", p.stderr)
        self.assertEqual(os.stat(data).st_ino, st.st_ino)
        self.assertFalse(os.path.exists(os.path.join(self.d.dir, "data", "restore.tmp")))
        # and acctd keeps serving
        self.assertEqual(self.admin.get("/api/v0/actor").status, 200)

    def check_refused(self, lines, expect, conf=None, raw=None):
        d = self.fresh()
        try:
            bad = os.path.join(d.dir, "bad.jsonl")
            with open(bad, "w") as f:
                f.write(raw if raw is not None else "\n".join(lines) + "\n")
            p = run("restore", "-c", conf or d.conf, bad)
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            self.assertIn(expect, p.stderr)
            self.assertTrue(p.stderr.endswith("nothing was changed\n"), p.stderr)
            self.assertEqual(len(p.stderr.splitlines()), 1, p.stderr)
            data = d.settings["data_dir"]
            left = os.listdir(data) if os.path.isdir(data) else []
            self.assertEqual([f for f in left if f != "appliance.key"], [])
        finally:
            d.cleanup()

    def test_3_damaged_files_refused(self):
        lines = self.lines()
        n = len(lines)
        key = backup_key(self.key)
        # truncated: no trailer, and a last line cut off
        self.check_refused(lines[:-1], "line %d: the file ends without its trailer "
                           "(it is truncated)" % n)
        cut = "\n".join(lines[:-1]) + "\n" + lines[-1][:20]
        self.check_refused(None, "line %d: the last line is cut off" % n, raw=cut)
        # one record changed: the digest
        edited = list(lines)
        i = next(i for i, ln in enumerate(lines) if '"db":"user"' in ln and "carol" in ln)
        edited[i] = edited[i].replace('\\"role\\":\\"user\\"', '\\"role\\":\\"admin\\"')
        self.assertNotEqual(edited[i], lines[i])
        self.check_refused(edited, "line %d: digest: does not match the file" % n)
        # the trailer's digest itself
        tr = json.loads(lines[-1])
        tr["digest"] = "0" * 64
        self.check_refused(lines[:-1] + [json.dumps(tr)], "line %d: digest: does not match" % n)
        # not JSON
        garbled = list(lines)
        garbled[5] = garbled[5][:-3]
        self.check_refused(garbled, "line 6: not a JSON object")
        # a record of a database a backup does not have
        odd = list(lines)
        odd[4] = '{"db":"session","k":"x","v":"y"}'
        self.check_refused(reseal(odd[:-1], key), 'line 5: db: no database "session"')
        # a newer schema
        h = json.loads(lines[0])
        h["schema_version"] = 99
        self.check_refused(reseal([json.dumps(h)] + lines[1:-1], key),
                           "line 1: schema_version: this acctd restores schema 1 to 2")
        # a broken audit chain, with a digest that is right again
        chain = list(lines)
        i = next(i for i, ln in enumerate(lines) if '"db":"audit"' in ln
                 and "bk-00042@example.com" in ln)
        chain[i] = chain[i].replace("bk-00042@example.com", "bk-00042@evil.test")
        self.check_refused(reseal(chain[:-1], key), "line %d: audit chain: " % (i + 1))
        # made with another key_file
        d = self.fresh_other_key()
        self.check_refused(lines, "line 1: key_id: made with another key_file", conf=d.conf)
        d.cleanup()

    def test_4_restore_into_a_fresh_data_dir(self):
        d = self.fresh()
        self.__class__.restored = d
        p = run("restore", "-c", d.conf, self.file)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("acctd restore: restored ", p.stdout)
        self.assertIn("%d users" % (IMPORTED + 2), p.stdout)
        # a fresh data_dir: nothing replaced, nothing set aside
        self.assertNotIn("the replaced store is in", p.stdout)
        self.assertEqual(os.listdir(d.settings["data_dir"]), ["data.mdb"])
        d.start()
        c = sign_in(d, password=open(os.path.join(self.d.dir, "data",
                                                  "admin.password")).read().strip())
        for h, n in self.before.items():
            got = c.get("/api/v0/user/" + h).json["display_name"]
            v = int(got[1:])
            self.assertGreaterEqual(v, n, "%s: acknowledged v%d before the backup, "
                                    "restored %s" % (h, n, got))
            self.assertLessEqual(v, self.after[h])
        self.assertEqual(c.get("/api/v0/admin/user?limit=1").json["total"], IMPORTED + 2)
        v = c.get("/api/v0/admin/audit/verify").json
        self.assertTrue(v["ok"], v)
        acts = [a["action_type"] for a in c.get("/api/v0/admin/audit?limit=3").json["items"]]
        self.assertIn("store.restore", acts)
        self.assertIn("store.backup", acts)
        rec = c.get("/api/v0/admin/audit?action=store.restore").json["items"][0]
        self.assertEqual(rec["data"]["replaced"], None)
        self.assertEqual(rec["data"]["backup_created_at"], json.loads(self.lines()[0])["created_at"])
        # a user signs in with the console password the backup holds
        sign_in(d, "carol", "carol-console-1").close()
        # sessions are not in a backup: the old admin session is unknown
        old = d.client()
        old.cookies = dict(self.admin.cookies)
        self.assertEqual(old.get("/api/v0/actor").status, 401)
        c.close()

    def test_5_api_download(self):
        r = self.admin.get("/api/v0/admin/backup")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Content-Type"), "application/x-ndjson")
        self.assertEqual(r.header("Transfer-Encoding"), "chunked")
        self.assertRegex(r.header("Content-Disposition"),
                         r'^attachment; filename="acctd-backup-\d{8}T\d{6}Z\.jsonl"$')
        lines = r.body.decode().splitlines()
        self.assertEqual(json.loads(lines[0])["format"], "acctd-backup")
        self.assertTrue(json.loads(lines[-1])["end"])
        a = self.admin.get("/api/v0/admin/audit?limit=1").json["items"][0]
        self.assertEqual(a["action_type"], "store.backup")
        self.assertEqual(a["actor_handle"], "admin")
        self.assertEqual(a["data"], {"via": "api", "format": "jsonl"})
        # what the API gives restores like the command's file
        d = self.fresh()
        try:
            f = os.path.join(d.dir, "api.jsonl")
            open(f, "wb").write(r.body)
            p = run("restore", "-c", d.conf, f)
            self.assertEqual(p.returncode, 0, p.stderr)
        finally:
            d.cleanup()
        user = sign_in(self.d, "carol", "carol-console-1")
        assert_problem(self, user.get("/api/v0/admin/backup"), 403)
        user.close()
        anon = self.d.client()
        assert_problem(self, anon.get("/api/v0/admin/backup"), 401)

    def test_6_lmdb_copy_same_word_size(self):
        f = os.path.join(self.d.dir, "backup.mdb")
        p = run("backup", "-c", self.d.conf, "--format", "lmdb", f)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("LMDB copy (this word size only) written to " + f, p.stderr)
        self.assertEqual(os.stat(f).st_mode & 0o777, 0o600)
        a = self.admin.get("/api/v0/admin/audit?limit=1").json["items"][0]
        self.assertEqual((a["action_type"], a["data"]), ("store.backup",
                                                         {"via": "cli", "format": "lmdb"}))
        self.assertEqual(run("backup", "-c", self.d.conf, "--format", "tar", f + "2").returncode, 2)
        # garbage that is no JSON is taken for an LMDB file, and refused as one
        self.check_refused(None, "not an acctd backup, nor an LMDB store this machine can "
                           "open", raw="\x00garbage" * 100)
        # another key: the chain (keyed) does not verify
        d = self.fresh_other_key()
        p = run("restore", "-c", d.conf, f)
        self.assertEqual(p.returncode, 1)
        self.assertIn("audit chain: ", p.stderr)
        self.assertIn("(a damaged copy, or another key_file); nothing was changed", p.stderr)
        self.assertEqual(os.listdir(d.settings["data_dir"]), [])
        d.cleanup()
        d = self.fresh()
        try:
            p = run("restore", "-c", d.conf, f)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("restored an LMDB copy (%d users" % (IMPORTED + 2), p.stdout)
            d.start()
            c = sign_in(d, password=open(os.path.join(self.d.dir, "data",
                                                      "admin.password")).read().strip())
            self.assertTrue(c.get("/api/v0/admin/audit/verify").json["ok"])
            rec = c.get("/api/v0/admin/audit?action=store.restore").json["items"][0]
            self.assertEqual(rec["data"]["format"], "lmdb")
            # the copy held sessions; a restore drops them
            old = d.client()
            old.cookies = dict(self.admin.cookies)
            self.assertEqual(old.get("/api/v0/actor").status, 401)
            c.close()
            d.stop()
        finally:
            d.cleanup()

    def test_7_older_store_round_trip(self):
        """The store an older build wrote (test_50's fixture), backed up with
        acctd stopped, restores into a fresh data_dir: the sealed database
        password still opens with its key."""
        fx = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures",
                          "store-lmdb-0.9.24")
        want = json.load(open(os.path.join(fx, "expect.json")))
        src = Daemon(extra={"map_size_mb": 8, "audit": {"capacity": 100}})
        dst = Daemon(extra={"map_size_mb": 8, "audit": {"capacity": 100},
                            "key_file": os.path.join(src.dir, "data", "appliance.key")})
        try:
            data = os.path.join(src.dir, "data")
            os.makedirs(data, mode=0o700)
            for name in ("data.mdb", "appliance.key"):
                shutil.copyfile(os.path.join(fx, name), os.path.join(data, name))
                os.chmod(os.path.join(data, name), 0o600)
            f = os.path.join(src.dir, "old.jsonl")
            p = run("backup", "-c", src.conf, f)
            self.assertEqual(p.returncode, 0, p.stderr)
            p = run("restore", "-c", dst.conf, f)
            self.assertEqual(p.returncode, 0, p.stderr)
            dst.start()
            c = sign_in(dst, password=want["admin_password"])
            r = c.get("/api/v0/user/alice/password")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json["password"], want["alice_password"]["password"])
            self.assertTrue(c.get("/api/v0/admin/audit/verify").json["ok"])
            c.close()
        finally:
            dst.stop()
            dst.cleanup()
            src.cleanup()


class BackupPush(unittest.TestCase):
    """A restore from an older copy on a box whose node holds newer states."""

    @classmethod
    def setUpClass(cls):
        cls.base = tempfile.mkdtemp(prefix="acctd-backup-push-")
        os.chmod(cls.base, 0o755)
        mkcert(os.path.join(cls.base, "acctd-client"), "acctd")
        client_cert = os.path.join(cls.base, "acctd-client.crt")
        cls.pg = Cluster(cls.base, "pg1")
        cls.agent = Agent(cls.base, "node1", cls.pg, client_cert)
        cls.agent.start()
        cls.d = Daemon(extra={
            "nodes": [{"name": "node1", "url": "https://127.0.0.1:%d" % cls.agent.port,
                       "cert": cls.agent.cert}],
            "workspaces": [{"handle": "prod", "owner": "alice", "members": ["bob"],
                            "node": "node1", "database": "postgres", "port": cls.pg.port}],
            "push": {"client_cert": client_cert,
                     "client_key": os.path.join(cls.base, "acctd-client.key"),
                     "retry_max_seconds": 2},
        }).start()
        cls.admin = sign_in(cls.d)

    @classmethod
    def tearDownClass(cls):
        cls.admin.close()
        cls.d.stop()
        cls.agent.stop()
        cls.pg.stop()
        cls.d.cleanup()
        shutil.rmtree(cls.base, ignore_errors=True)

    def applied(self, handle, timeout=20):
        t0 = time.monotonic()
        while True:
            j = self.admin.get("/api/v0/user/%s/password" % handle).json
            p = j["propagation"]
            if p and all(x["status"] == "applied" for x in p):
                return j["password"], p[0]["applied_version"]
            if time.monotonic() - t0 > timeout:
                self.fail("not applied after %ss: %s\n%s" % (timeout, p, self.d.logtext()[-3000:]))
            time.sleep(0.05)

    def rotate(self, handle):
        r = self.admin.post("/api/v0/user/%s/password" % handle)
        self.assertEqual(r.status, 200, r)
        return self.applied(handle)

    def test_restore_older_copy_then_rotate(self):
        r = self.admin.post("/api/v0/admin/user", {"handle": "alice", "email": "a@x.test"})
        self.assertEqual(r.status, 201, r)
        pw1, v1 = self.applied("alice")
        self.assertTrue(self.pg.login("alice", pw1))
        f = os.path.join(self.d.dir, "old.jsonl")
        p = run("backup", "-c", self.d.conf, f)
        self.assertEqual(p.returncode, 0, p.stderr)
        # after the backup: alice rotates, bob is created; both reach the node
        pw2, v2 = self.rotate("alice")
        r = self.admin.post("/api/v0/admin/user", {"handle": "bob", "email": "b@x.test"})
        self.assertEqual(r.status, 201, r)
        bobpw, _ = self.applied("bob")
        self.assertTrue(self.pg.login("alice", pw2))
        self.assertTrue(self.pg.login("bob", bobpw))
        self.d.stop()
        p = run("restore", "-c", self.d.conf, f)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("every user is queued for a full push to 1 node(s) (2 confirmation(s) "
                      "taken from the replaced store, 1 user(s) only the nodes knew sent "
                      "absent)\n", p.stdout)
        self.assertNotIn("could not be read", p.stdout + p.stderr)
        aside = [x for x in os.listdir(os.path.join(self.d.dir, "data"))
                 if x.startswith("replaced-")]
        self.assertEqual(len(aside), 1)
        self.assertTrue(os.path.exists(os.path.join(self.d.dir, "data", aside[0], "data.mdb")))
        self.d.start()
        self.__class__.admin = sign_in(self.d)
        # the node converges on the restored state: alice's password of the
        # copy, at a version past everything sent before; bob is gone
        pw, v = self.applied("alice")
        self.assertEqual(pw, pw1)
        self.assertGreater(v, v2)
        self.assertTrue(self.pg.login("alice", pw1))
        self.assertFalse(self.pg.login("alice", pw2))
        t0 = time.monotonic()
        while self.pg.login("bob", bobpw) and time.monotonic() - t0 < 20:
            time.sleep(0.2)
        self.assertFalse(self.pg.login("bob", bobpw), "bob, unknown to the copy, "
                         "still signs in on the node")
        # a rotation after the restore reaches the agent and PostgreSQL
        pw3, v3 = self.rotate("alice")
        self.assertGreater(v3, v)
        self.assertTrue(self.pg.login("alice", pw3))
        self.assertFalse(self.pg.login("alice", pw1))
        self.assertFalse(self.pg.login("alice", pw2))
        self.assertEqual(self.admin.get("/api/v0/admin/audit/verify").json["ok"], True)


if __name__ == "__main__":
    unittest.main()

"""A backup moves between word sizes (issue 14, point 7): LMDB files do not
(armhf refuses a data.mdb written on a 64-bit box), but a backup made by
the host's acctd restores with the armhf and aarch64 builds (under
qemu-user), and their backups restore on the host, where acctd starts on
the result with every record, the sealed database passwords and a chain
that verifies.

Run by `make backup-cross` after both ARM builds (a stage of make test):
$ACCTD_CROSS lists the ARM binaries, each as "qemu-xxx:sysroot:binary"."""
import os
import shutil
import subprocess
import unittest

from harness import BIN, Daemon

CROSS = [x.split(":") for x in os.environ.get("ACCTD_CROSS", "").split()]


def sign_in(d, pw):
    c = d.client()
    r = c.post("/api/v0/login", {"handle": "admin", "password": pw})
    assert r.status == 200, r
    c.csrf = r.json["csrf_token"]
    return c


class CrossBackup(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        assert len(CROSS) == 2, "ACCTD_CROSS must name the aarch64 and armhf builds"
        cls.d = Daemon().start()
        cls.pw = open(os.path.join(cls.d.dir, "data", "admin.password")).read().strip()
        c = sign_in(cls.d, cls.pw)
        for i in range(20):
            r = c.post("/api/v0/admin/user", {"handle": "x%02d" % i, "email": "x%d@x.test" % i})
            assert r.status == 201, r
        cls.dbpw = c.get("/api/v0/user/x07/password").json["password"]
        c.close()
        cls.file = os.path.join(cls.d.dir, "host.jsonl")
        p = subprocess.run([BIN, "backup", "-c", cls.d.conf, cls.file], capture_output=True,
                           text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        cls.d.stop()
        cls.key = os.path.join(cls.d.dir, "data", "appliance.key")

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def arm(self, target, *args):
        qemu, sysroot, binary = target
        self.assertTrue(os.path.exists(binary), binary + " is not built")
        return subprocess.run([qemu, "-L", sysroot, binary, *args], capture_output=True,
                              text=True, timeout=300)

    def round_trip(self, target):
        a = Daemon(extra={"key_file": self.key})
        h = Daemon(extra={"key_file": self.key})
        try:
            p = self.arm(target, "restore", "-c", a.conf, self.file)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("(21 users", p.stdout)
            back = os.path.join(a.dir, "arm.jsonl")
            p = self.arm(target, "backup", "-c", a.conf, back)
            self.assertEqual(p.returncode, 0, p.stderr)
            p = subprocess.run([BIN, "restore", "-c", h.conf, back], capture_output=True,
                               text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            h.start()
            c = sign_in(h, self.pw)
            self.assertEqual(c.get("/api/v0/admin/user?limit=1").json["total"], 21)
            self.assertEqual(c.get("/api/v0/user/x07/password").json["password"], self.dbpw)
            self.assertTrue(c.get("/api/v0/admin/audit/verify").json["ok"])
            acts = [x["action_type"] for x in c.get("/api/v0/admin/audit?limit=8").json["items"]]
            self.assertEqual(acts.count("store.restore"), 2, acts)
            c.close()
        finally:
            h.stop()
            h.cleanup()
            a.cleanup()

    def test_aarch64(self):
        self.round_trip(CROSS[0])

    def test_armhf(self):
        self.round_trip(CROSS[1])

    def test_armhf_refuses_the_host_lmdb_file(self):
        """Why the backup is JSON: the 64-bit data.mdb itself does not open."""
        a = Daemon(extra={"key_file": self.key})
        try:
            os.makedirs(a.settings["data_dir"], mode=0o700)
            shutil.copyfile(os.path.join(self.d.dir, "data", "data.mdb"),
                            os.path.join(a.settings["data_dir"], "data.mdb"))
            p = self.arm(CROSS[1], "backup", "-c", a.conf, os.path.join(a.dir, "x.jsonl"))
            self.assertEqual(p.returncode, 1)
            self.assertIn("cannot open the store: MDB_INVALID", p.stderr)
        finally:
            a.cleanup()


if __name__ == "__main__":
    unittest.main()

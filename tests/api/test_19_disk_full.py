"""A full disk under data_dir (not a full LMDB map: test_16 has that) is
answered like a full map: 507 problem+json naming the remedy, nothing
changed, reads keep working, and writes work again once space is freed,
without a restart. data_dir is on a 4 MiB tmpfs (root only: make test
runs as root; anything else fails here rather than skip)."""
import os
import subprocess
import tempfile
import unittest

from harness import Daemon, assert_problem

API = "/api/v0"


class DiskFull(unittest.TestCase):
    def setUp(self):
        self.mnt = tempfile.mkdtemp(prefix="acctd-diskfull-")
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", self.mnt],
                           capture_output=True, text=True)
        if r.returncode:
            os.rmdir(self.mnt)
            self.fail("cannot mount a tmpfs for data_dir (root needed): " + r.stderr)
        data = os.path.join(self.mnt, "data")
        self.d = Daemon(extra={"map_size_mb": 64, "audit": {"capacity": 1000}})
        self.d.settings["data_dir"] = data
        self.d.settings["bootstrap_admin"]["password_file"] = os.path.join(data, "admin.password")
        self.d.write_conf()
        self.d.start()

    def tearDown(self):
        try:
            self.d.stop()
            self.d.cleanup()
        finally:
            subprocess.run(["umount", self.mnt])
            os.rmdir(self.mnt)

    def fill(self):
        path = os.path.join(self.mnt, "filler")
        with open(path, "wb", buffering=0) as f:
            for bs in (1 << 20, 1 << 16, 1 << 12, 512):
                try:
                    while True:
                        f.write(b"\0" * bs)
                except OSError:
                    pass
        return path

    def test_full_disk_is_507_then_writes_resume(self):
        c = self.d.client()
        pw = open(self.d.settings["bootstrap_admin"]["password_file"]).read().strip()
        r = c.post(API + "/login", {"handle": "admin", "password": pw})
        self.assertEqual(r.status, 200, r)
        c.csrf = r.json["csrf_token"]
        filler = self.fill()
        # LMDB reuses the pages it freed before, so a few changes may still
        # fit; the disk is full when one does not
        for i in range(200):
            r = c.request("PATCH", API + "/user/admin", body={"display_name": "Full %d" % i})
            if r.status != 200:
                break
        p = assert_problem(self, r, 507)
        self.assertTrue(p["detail"].startswith("the store is full: "), p)
        self.assertIn("free space on the disk of data_dir", p["detail"])
        r = c.get(API + "/user/admin")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["display_name"], "Full %d" % (i - 1) if i else None)
        os.unlink(filler)
        r = c.request("PATCH", API + "/user/admin", body={"display_name": "Room again"})
        self.assertEqual(r.status, 200, r)
        r = c.get(API + "/admin/audit/verify")
        self.assertTrue(r.json["ok"], r)


if __name__ == "__main__":
    unittest.main()

"""A data directory written by an older build opens unchanged.

tests/api/fixtures/store-lmdb-0.9.24/ was written by the build before the
move to Debian 13's libraries (LMDB 0.9.24, mbedTLS 2.28; see
fixtures/make_store.py). LMDB 0.9.31 keeps the 0.9 file format, and acctd's
records and its AES-GCM / HMAC / audit-chain use of the appliance key must
read the same under mbedTLS 3.6: every secret and hash below was made by
the old build and is checked with the new one."""
import json
import os
import shutil
import unittest

from harness import Daemon

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures",
                       "store-lmdb-0.9.24")


class OldStore(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(os.path.join(FIXTURE, "expect.json")) as f:
            cls.want = json.load(f)
        cls.d = Daemon(extra={"map_size_mb": 8, "audit": {"capacity": 100}})
        data = os.path.join(cls.d.dir, "data")
        os.makedirs(data, mode=0o700)
        for name in ("data.mdb", "appliance.key"):
            shutil.copyfile(os.path.join(FIXTURE, name), os.path.join(data, name))
            os.chmod(os.path.join(data, name), 0o600)
        cls.d.start()
        cls.c = cls.d.client()
        r = cls.c.post("/api/v0/login", {"handle": "admin", "password": cls.want["admin_password"]})
        assert r.status == 200, r
        cls.c.csrf = r.json["csrf_token"]

    @classmethod
    def tearDownClass(cls):
        cls.c.close()
        cls.d.stop()
        cls.d.cleanup()

    def test_users_read_back(self):
        r = self.c.get("/api/v0/user/alice")
        self.assertEqual(r.status, 200, r)
        # fields added since the fixture was made come with their defaults
        want = dict(self.want["alice"], must_change_password=False, dbpass_rotate_every_days=0)
        self.assertEqual(r.json, want)

    def test_console_password_verifies(self):
        c = self.d.client()
        r = c.post("/api/v0/login", {"handle": "alice", "password": "fixture-alice-Pw-0924"})
        self.assertEqual(r.status, 200, r)
        c.close()

    def test_sealed_database_password_opens(self):
        r = self.c.get("/api/v0/user/alice/password")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["password"], self.want["alice_password"]["password"])
        self.assertEqual(r.json["version"], self.want["alice_password"]["version"])

    def test_token_hmac_verifies(self):
        c = self.d.client()
        c.bearer = self.want["token"]
        r = c.get("/api/v0/actor")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["handle"], "admin")
        c.close()

    def test_zz_audit_chain_unchanged_then_extended(self):
        r = self.c.get("/api/v0/admin/audit?limit=100")
        ids = [a["id"] for a in r.json["items"]]
        self.assertEqual(ids[-len(self.want["audit_ids"]):], self.want["audit_ids"])
        r = self.c.get("/api/v0/admin/audit/verify")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json["ok"], r)
        self.assertEqual(r.json["first_seq"], 1)
        # a write under the new build chains onto the old records
        r = self.c.post("/api/v0/user/alice/password")
        self.assertIn(r.status, (200, 202), r)
        r = self.c.get("/api/v0/admin/audit/verify")
        self.assertTrue(r.json["ok"], r)
        self.assertGreater(r.json["last_seq"], self.want["audit_verify"]["last_seq"])


if __name__ == "__main__":
    unittest.main()

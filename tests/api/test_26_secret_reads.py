"""Reading a secret is audited (issue 9, finding 11): GET …/password and
GET …/workspace?reveal=1 each leave an audit record (never the secret),
written in its own transaction before the secret is shown; a read whose
record cannot be written fails closed: 5xx, no secret."""
import json
import os
import unittest

from harness import assert_problem
from accounts import API, DaemonCase, login, make_user, upath, all_audit
from creds import NODES, WORKSPACES


def records(tc, admin, action):
    return [r for r in all_audit(tc, admin) if r["action_type"] == action]


class SecretReads(DaemonCase, unittest.TestCase):
    extra = {"nodes": NODES, "workspaces": WORKSPACES}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.alice, cls.pw = make_user(cls.d, cls.admin, "alice")

    def test_password_read_is_recorded(self):
        c = login(self.d, "alice", self.pw)
        before = records(self, self.admin, "user.password.read")
        r = c.get(upath("alice", "/password"))
        self.assertEqual(r.status, 200, r)
        secret = r.json["password"]
        after = records(self, self.admin, "user.password.read")
        self.assertEqual(len(after), len(before) + 1)
        rec = after[0]
        self.assertEqual(rec["actor_id"], self.alice["id"])
        self.assertEqual(rec["identity_id"], self.alice["id"])
        self.assertEqual(rec["target_handle"], "alice")
        self.assertEqual(rec["actor_ip"], "127.0.0.1")
        self.assertEqual(rec["data"], {"version": r.json["version"]})
        self.assertNotIn(secret, json.dumps(rec))
        # in the user's own log too
        mine = c.get(upath("alice", "/audit")).json["items"]
        self.assertEqual(mine[0]["id"], rec["id"])
        # an admin's read of another user's password names the admin
        r = self.admin.get(upath("alice", "/password"))
        self.assertEqual(r.status, 200, r)
        rec = records(self, self.admin, "user.password.read")[0]
        self.assertEqual(rec["actor_handle"], "admin")
        self.assertEqual(rec["identity_handle"], "alice")

    def test_password_metadata_is_not_a_secret_read(self):
        # the page shows the version and the propagation, and polls them
        # after a rotation: that must not flood the audit log nor spend the
        # user's write budget
        c = login(self.d, "alice", self.pw)
        n = len(records(self, self.admin, "user.password.read"))
        for _ in range(40):
            r = c.get(upath("alice", "/password?reveal=0"))
            self.assertEqual(r.status, 200, r)
        self.assertNotIn("password", r.json)
        self.assertEqual(set(r.json), {"version", "created_at", "dbpass_next_rotation_at",
                                          "propagation"})
        self.assertEqual(len(records(self, self.admin, "user.password.read")), n)
        r = c.get(upath("alice", "/password?reveal=maybe"))
        assert_problem(self, r, 400)
        self.assertEqual(r.json["validation_errors"][0]["location"], "query.reveal")

    def test_reveal_is_recorded_masked_is_not(self):
        c = login(self.d, "alice", self.pw)
        n = len(records(self, self.admin, "user.workspace.reveal"))
        r = c.get(upath("alice", "/workspace"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(records(self, self.admin, "user.workspace.reveal")), n)
        r = c.get(upath("alice", "/workspace?reveal=1"))
        self.assertEqual(r.status, 200, r)
        secret = c.get(upath("alice", "/password")).json["password"]
        self.assertIn(secret, r.json["items"][0]["connection_string"])
        recs = records(self, self.admin, "user.workspace.reveal")
        self.assertEqual(len(recs), n + 1)
        self.assertEqual(recs[0]["actor_id"], self.alice["id"])
        self.assertNotIn(secret, json.dumps(recs[0]))
        # a user who sees no workspace reveals nothing and leaves no record
        u, pw = make_user(self.d, self.admin, "nows")
        w = login(self.d, "nows", pw).get(upath("nows", "/workspace?reveal=1"))
        self.assertEqual(w.json, {"items": []})
        self.assertEqual(len(records(self, self.admin, "user.workspace.reveal")), n + 1)


class SecretReadFailsClosed(DaemonCase, unittest.TestCase):
    """The audit log's head is damaged on disk, so no record can be
    appended: the secret must not be shown."""
    extra = {"nodes": NODES, "workspaces": WORKSPACES}

    def test_no_record_no_secret(self):
        d = self.d
        _, pw = make_user(d, self.admin, "alice")
        c = login(d, "alice", pw)
        secret = c.get(upath("alice", "/password")).json["password"]
        d.stop()
        path = os.path.join(d.settings["data_dir"], "data.mdb")
        with open(path, "rb") as f:
            blob = bytearray(f.read())
        at, hits = 0, 0
        while (at := blob.find(b"audit_last", at)) != -1:
            blob[at + 10 + 8] = ord("z")     # the head's hash is no longer hex
            at += 10
            hits += 1
        self.assertGreater(hits, 0)
        with open(path, "r+b") as f:
            f.write(blob)
        d.start()
        for path in (upath("alice", "/password"), upath("alice", "/workspace?reveal=1")):
            r = c.get(path)
            self.assertGreaterEqual(r.status, 500, r)
            assert_problem(self, r, r.status)
            self.assertNotIn(secret.encode(), r.body)
        # the masked list needs no record and still works
        r = c.get(upath("alice", "/workspace"))
        self.assertEqual(r.status, 200, r)
        self.assertNotIn(secret.encode(), r.body)


if __name__ == "__main__":
    unittest.main()

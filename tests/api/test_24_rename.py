"""A handle change renames every workspace DNS name at once: the config names
owners and members by handle, and a former handle keeps pointing at its user
(nobody else can take it)."""
import os
import unittest

from harness import Daemon
import harness

WS = {
    "nodes": [{"name": "node1", "url": "https://127.0.0.1:9443", "cert": harness.test_cert()}],
    "workspaces": [
        {"handle": "prod", "owner": "alice", "members": ["bob"], "node": "node1",
         "database": "dea4px", "port": 9193},
    ],
}


class Rename(unittest.TestCase):
    def setUp(self):
        self.d = Daemon(extra=WS).start()
        self.admin = self.login("admin", open(os.path.join(self.d.dir, "data", "admin.password")).read().strip())
        for h in ("alice", "bob"):
            r = self.admin.post("/api/v0/admin/user", {"handle": h, "email": h + "@x.test",
                                                       "password": "pw-" + h + "-12345", "must_change_password": False})
            self.assertEqual(r.status, 201, r)

    def tearDown(self):
        self.d.stop()
        self.d.cleanup()

    def login(self, h, pw):
        c = self.d.client()
        r = c.post("/api/v0/login", {"handle": h, "password": pw})
        self.assertEqual(r.status, 200, r)
        c.csrf = r.json["csrf_token"]
        return c

    def test_dns_names_follow_the_handle(self):
        alice = self.login("alice", "pw-alice-12345")
        bob = self.login("bob", "pw-bob-12345")
        ws = alice.get("/api/v0/user/alice/workspace").json["items"]
        self.assertEqual([w["host"] for w in ws], ["alice-prod.ws.test"])
        r = alice.request("PATCH", "/api/v0/user/alice", body={"handle": "alice2"})
        self.assertEqual(r.status, 200, r)
        ws = alice.get("/api/v0/user/alice2/workspace?reveal=1").json["items"]
        self.assertEqual(len(ws), 1)
        self.assertEqual(ws[0]["host"], "alice2-prod.ws.test")
        self.assertEqual(ws[0]["owner"], "alice2")
        self.assertTrue(ws[0]["connection_string"].startswith("postgresql://alice2:"))
        self.assertTrue(ws[0]["connection_string"].endswith("@alice2-prod.ws.test:9193/dea4px"))
        # the member sees the new name too
        ws = bob.get("/api/v0/user/bob/workspace").json["items"]
        self.assertEqual(ws[0]["host"], "alice2-prod.ws.test")
        self.assertEqual(ws[0]["role"], "member")
        # the old handle answers 404 and nobody else may take it
        self.assertEqual(alice.get("/api/v0/user/alice").status, 404)
        r = self.admin.post("/api/v0/admin/user", {"handle": "alice", "email": "x@x.test"})
        self.assertEqual(r.status, 409, r)
        r = bob.request("PATCH", "/api/v0/user/bob", body={"handle": "alice"})
        self.assertEqual(r.status, 409, r)
        # the user may take it back
        r = alice.request("PATCH", "/api/v0/user/alice2", body={"handle": "alice"})
        self.assertEqual(r.status, 200, r)
        ws = alice.get("/api/v0/user/alice/workspace").json["items"]
        self.assertEqual(ws[0]["host"], "alice-prod.ws.test")
        # admin's user list shows handles only, never the reserved names
        handles = [u["handle"] for u in self.admin.get("/api/v0/admin/user").json["items"]]
        self.assertEqual(handles, ["admin", "alice", "bob"])

    def test_deleting_frees_former_handles(self):
        alice = self.login("alice", "pw-alice-12345")
        self.assertEqual(alice.request("PATCH", "/api/v0/user/alice", body={"handle": "al"}).status, 200)
        r = self.admin.request("DELETE", "/api/v0/user/al?confirm=al")
        self.assertEqual(r.status, 204, r)
        r = self.admin.post("/api/v0/admin/user", {"handle": "alice", "email": "new@x.test",
                                                   "password": "pw-new-alice-1", "must_change_password": False})
        self.assertEqual(r.status, 201, r)


if __name__ == "__main__":
    unittest.main()

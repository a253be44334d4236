"""Workspace membership cannot be gained by renaming (issue 9, finding 3).

The config names workspace owners and members by handle. A user who renames
themselves to such a handle, or to one the config names only later, must not
gain the workspace, its node role or its connection string, nor block the
admin from creating the real user."""
import copy
import os
import signal
import time
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


class Squat(unittest.TestCase):
    def setUp(self):
        self.d = Daemon(extra=copy.deepcopy(WS)).start()
        pw = open(os.path.join(self.d.dir, "data", "admin.password")).read().strip()
        self.admin = self.login("admin", pw)
        for h in ("alice", "mallory"):
            r = self.admin.post("/api/v0/admin/user", {"handle": h, "email": h + "@x.test",
                                                       "password": "pw-" + h + "-12345", "must_change_password": False})
            self.assertEqual(r.status, 201, r)
        self.mallory = self.login("mallory", "pw-mallory-12345")

    def tearDown(self):
        self.d.stop()
        self.d.cleanup()

    def login(self, h, pw):
        c = self.d.client()
        r = c.post("/api/v0/login", {"handle": h, "password": pw})
        self.assertEqual(r.status, 200, r)
        c.csrf = r.json["csrf_token"]
        return c

    def rename(self, c, old, new):
        return c.request("PATCH", "/api/v0/user/" + old, body={"handle": new})

    def workspaces(self, c, handle):
        r = c.get("/api/v0/user/%s/workspace?reveal=1" % handle)
        self.assertEqual(r.status, 200, r)
        return r.json["items"]

    def reload(self, settings):
        n = self.d.logtext().count("reload: ")
        self.d.write_conf(settings)
        self.d.proc.send_signal(signal.SIGHUP)
        t0 = time.monotonic()
        while self.d.logtext().count("reload: ") == n:
            self.assertLess(time.monotonic() - t0, 10, self.d.logtext())
            time.sleep(0.05)

    def test_a_handle_the_config_names_is_reserved(self):
        # the member "bob" has no account yet: mallory may not become bob
        r = self.rename(self.mallory, "mallory", "bob")
        self.assertEqual(r.status, 409, r)
        self.assertEqual(r.json["validation_errors"][0]["location"], "body.handle")
        self.assertIn("reserved", r.json["validation_errors"][0]["message"])
        self.assertEqual(self.workspaces(self.mallory, "mallory"), [])
        # nor the owner's former handle once alice has moved on
        alice = self.login("alice", "pw-alice-12345")
        self.assertEqual(self.rename(alice, "alice", "alice2").status, 200)
        self.assertEqual(self.rename(self.mallory, "mallory", "alice").status, 409)
        # the admin creates bob, who gets the workspace
        r = self.admin.post("/api/v0/admin/user", {"handle": "bob", "email": "b@x.test",
                                                   "password": "pw-bob-12345", "must_change_password": False})
        self.assertEqual(r.status, 201, r)
        bob = self.login("bob", "pw-bob-12345")
        self.assertEqual([w["role"] for w in self.workspaces(bob, "bob")], ["member"])
        self.assertEqual(self.workspaces(self.mallory, "mallory"), [])

    def test_a_chosen_former_handle_gives_way_to_the_admin(self):
        self.assertEqual(self.rename(self.mallory, "mallory", "carol").status, 200)
        self.assertEqual(self.rename(self.mallory, "carol", "mallory").status, 200)
        # carol stays mallory's former handle: no other user takes it …
        r = self.admin.post("/api/v0/admin/user", {"handle": "erin", "email": "e@x.test",
                                                   "password": "pw-erin-12345", "must_change_password": False})
        self.assertEqual(r.status, 201, r)
        erin = self.login("erin", "pw-erin-12345")
        self.assertEqual(self.rename(erin, "erin", "carol").status, 409)
        # … but a handle she only chose never blocks the admin
        r = self.admin.post("/api/v0/admin/user", {"handle": "carol", "email": "c@x.test"})
        self.assertEqual(r.status, 201, r)

    def test_config_naming_a_chosen_handle_later_gives_nothing(self):
        # mallory takes "dave" before the admin adds dave's workspace
        self.assertEqual(self.rename(self.mallory, "mallory", "dave").status, 200)
        settings = copy.deepcopy(self.d.settings)
        settings["workspaces"].append({"handle": "dev", "owner": "dave", "members": [],
                                       "node": "node1", "database": "d2", "port": 9194})
        self.reload(settings)
        self.assertEqual(self.workspaces(self.mallory, "dave"), [])
        # the admin creates the real dave once mallory has moved on: her
        # former handle never blocks that, nor gives her the workspace
        self.assertEqual(self.rename(self.mallory, "dave", "mallory").status, 200)
        self.assertEqual(self.workspaces(self.mallory, "mallory"), [])
        r = self.admin.post("/api/v0/admin/user", {"handle": "dave", "email": "d@x.test",
                                                   "password": "pw-dave-12345", "must_change_password": False})
        self.assertEqual(r.status, 201, r)
        dave = self.login("dave", "pw-dave-12345")
        self.assertEqual([w["role"] for w in self.workspaces(dave, "dave")], ["owner"])
        self.assertEqual(self.workspaces(self.mallory, "mallory"), [])

    def test_an_admin_may_give_a_reserved_handle(self):
        r = self.rename(self.admin, "mallory", "bob")
        self.assertEqual(r.status, 200, r)
        self.assertEqual([w["role"] for w in self.workspaces(self.mallory, "bob")], ["member"])
        # and the workspace follows her through her own later renames
        self.assertEqual(self.rename(self.mallory, "bob", "bobby").status, 200)
        self.assertEqual([w["role"] for w in self.workspaces(self.mallory, "bobby")], ["member"])
        self.assertEqual(self.rename(self.mallory, "bobby", "bob").status, 200)
        self.assertEqual([w["role"] for w in self.workspaces(self.mallory, "bob")], ["member"])


if __name__ == "__main__":
    unittest.main()

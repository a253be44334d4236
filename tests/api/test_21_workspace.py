"""Workspaces from the config: who sees which, the DNS name, the
connection string (masked unless ?reveal=1) with the caller's CURRENT
handle and password.

Handle changes (docs/api.md, "Handles"): the config names owners and
members by handle; a former handle stays reserved for its user and still
resolves to them, so a renamed user keeps their workspaces, and the DNS name
{owner}-{workspace}.{domain} and the connection strings follow the new
handle at once.
"""
import unittest

from creds import (API, WORKSPACES, WORKSPACE_KEYS, CredCase, client, mask, ws_extra)
from harness import assert_problem


class Workspaces(CredCase, unittest.TestCase):
    extra = ws_extra()

    @classmethod
    def prepare(cls):
        cls.alice = cls.user("alice")[1]
        cls.bob = cls.user("bob")[1]
        cls.carol = cls.user("carol")[1]

    def ws(self, c, handle, q=""):
        r = c.get("%s/user/%s/workspace%s" % (API, handle, q))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(set(r.json), {"items"}, r.json)   # no paging
        for w in r.json["items"]:
            self.assertEqual(set(w), WORKSPACE_KEYS, w)
        return {w["handle"]: w for w in r.json["items"]}, r

    def test_owner_sees_both_masked(self):
        pw = self.dbpass(self.alice, "alice")["password"]
        items, r = self.ws(self.alice, "alice")
        self.assertEqual(sorted(items), ["dev", "prod"])
        m = pw[:2] + "***-*****-*****-*****-***" + pw[-2:]
        self.assertEqual(mask(pw), m)
        self.assertEqual(items["prod"], {
            "handle": "prod", "owner": "alice", "role": "owner",
            "host": "alice-prod.ws.test", "port": 9193, "database": "dea4px",
            "node": "node1",
            "connection_string": "postgresql://alice:%s@alice-prod.ws.test:9193/dea4px" % m})
        self.assertEqual(items["dev"], {
            "handle": "dev", "owner": "alice", "role": "owner",
            "host": "alice-dev.ws.test", "port": 9194, "database": "devdb",
            "node": "node1",
            "connection_string": "postgresql://alice:%s@alice-dev.ws.test:9194/devdb" % m})
        self.assertNotIn(pw.encode(), r.body)
        # nothing of the middle of the password leaks through the mask
        self.assertNotIn(pw[2:-2].encode(), r.body)

    def test_owner_reveal(self):
        pw = self.dbpass(self.alice, "alice")["password"]
        for q in ("?reveal=1",):
            items, _ = self.ws(self.alice, "alice", q)
            self.assertEqual(items["prod"]["connection_string"],
                             "postgresql://alice:%s@alice-prod.ws.test:9193/dea4px" % pw)
            self.assertEqual(items["dev"]["connection_string"],
                             "postgresql://alice:%s@alice-dev.ws.test:9194/devdb" % pw)
        for q in ("?reveal=0",):
            items, r = self.ws(self.alice, "alice", q)
            self.assertNotIn(pw.encode(), r.body)
            self.assertIn(mask(pw), items["prod"]["connection_string"])

    def test_member_sees_prod_only_with_own_credentials(self):
        bpw = self.dbpass(self.bob, "bob")["password"]
        apw = self.dbpass(self.alice, "alice")["password"]
        items, r = self.ws(self.bob, "bob")
        self.assertEqual(list(items), ["prod"])
        self.assertEqual(items["prod"], {
            "handle": "prod", "owner": "alice", "role": "member",
            "host": "alice-prod.ws.test", "port": 9193, "database": "dea4px",
            "node": "node1",
            "connection_string": "postgresql://bob:%s@alice-prod.ws.test:9193/dea4px" % mask(bpw)})
        items, r = self.ws(self.bob, "bob", "?reveal=1")
        self.assertEqual(items["prod"]["connection_string"],
                         "postgresql://bob:%s@alice-prod.ws.test:9193/dea4px" % bpw)
        self.assertNotIn(apw.encode(), r.body)        # never the owner's password

    def test_no_workspace_is_empty_list(self):
        items, r = self.ws(self.carol, "carol")
        self.assertEqual(r.json, {"items": []})
        items, r = self.ws(self.carol, "carol", "?reveal=1")
        self.assertEqual(r.json, {"items": []})

    def test_bad_reveal_is_400(self):
        for q in ("abc", "2", "yes", "1x"):
            p = assert_problem(self, self.alice.get(API + "/user/alice/workspace?reveal=" + q), 400)
            self.assertIn("query.reveal", [e["location"] for e in p.get("validation_errors", [])], p)

    def test_other_users_workspaces_are_404(self):
        apw = self.dbpass(self.alice, "alice")["password"]
        for q in ("", "?reveal=1"):
            r = self.bob.get(API + "/user/alice/workspace" + q)
            assert_problem(self, r, 404)
            self.assertNotIn(apw.encode(), r.body)
            assert_problem(self, self.carol.get(API + "/user/bob/workspace" + q), 404)
        assert_problem(self, client(self.d).get(API + "/user/alice/workspace"), 401)

    def test_admin_reads_a_users_workspaces(self):
        # an admin may act on anyone's /user/{handle}/…: alice's view, alice's credentials
        a, _ = self.ws(self.alice, "alice", "?reveal=1")
        b, _ = self.ws(self.admin, "alice", "?reveal=1")
        self.assertEqual(a, b)

    def test_rotation_is_reflected_at_once(self):
        # bob's only: the other tests read the current password each time
        old = self.dbpass(self.bob, "bob")["password"]
        r = self.bob.post(API + "/user/bob/password")
        self.assertEqual(r.status, 200, r)
        new = r.json["password"]
        self.saw(new)
        items, raw = self.ws(self.bob, "bob", "?reveal=1")
        self.assertEqual(items["prod"]["connection_string"],
                         "postgresql://bob:%s@alice-prod.ws.test:9193/dea4px" % new)
        self.assertNotIn(old.encode(), raw.body)
        items, raw = self.ws(self.bob, "bob")
        self.assertEqual(items["prod"]["connection_string"],
                         "postgresql://bob:%s@alice-prod.ws.test:9193/dea4px" % mask(new))


class HandleChange(CredCase, unittest.TestCase):
    """Renames of owners and members, against the contract's workspaces."""
    extra = ws_extra(WORKSPACES + [
        {"handle": "qa", "owner": "frank", "node": "node1", "database": "qadb", "port": 9200},
        {"handle": "stage", "owner": "nobody", "members": ["erin2"], "node": "node1",
         "database": "stagedb", "port": 9201},
    ])

    @classmethod
    def prepare(cls):
        cls.alice = cls.user("alice")[1]
        cls.bob = cls.user("bob")[1]
        cls.carol = cls.user("carol")[1]

    def ws(self, c, handle, q="?reveal=1"):
        r = c.get("%s/user/%s/workspace%s" % (API, handle, q))
        self.assertEqual(r.status, 200, r)
        return {w["handle"]: w for w in r.json["items"]}

    def rename(self, c, old, new):
        r = c.request("PATCH", "%s/user/%s" % (API, old), body={"handle": new})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["handle"], new)

    def test_owner_and_member_renames_follow_at_once(self):
        apw = self.dbpass(self.alice, "alice")["password"]
        bpw = self.dbpass(self.bob, "bob")["password"]
        self.rename(self.alice, "alice", "alice2")
        items = self.ws(self.alice, "alice2")
        self.assertEqual(sorted(items), ["dev", "prod"])
        self.assertEqual(items["prod"], {
            "handle": "prod", "owner": "alice2", "role": "owner",
            "host": "alice2-prod.ws.test", "port": 9193, "database": "dea4px", "node": "node1",
            "connection_string": "postgresql://alice2:%s@alice2-prod.ws.test:9193/dea4px" % apw})
        self.assertEqual(items["dev"]["host"], "alice2-dev.ws.test")
        self.assertEqual(items["dev"]["connection_string"],
                         "postgresql://alice2:%s@alice2-dev.ws.test:9194/devdb" % apw)
        # the member sees the owner's new DNS name
        items = self.ws(self.bob, "bob")
        self.assertEqual(items["prod"]["owner"], "alice2")
        self.assertEqual(items["prod"]["connection_string"],
                         "postgresql://bob:%s@alice2-prod.ws.test:9193/dea4px" % bpw)
        # the member renames: still a member, with the new handle in the string
        self.rename(self.bob, "bob", "bob2")
        items = self.ws(self.bob, "bob2")
        self.assertEqual(list(items), ["prod"])
        self.assertEqual(items["prod"]["role"], "member")
        self.assertEqual(items["prod"]["connection_string"],
                         "postgresql://bob2:%s@alice2-prod.ws.test:9193/dea4px" % bpw)
        # a second rename keeps them too, and taking the first handle back works
        self.rename(self.bob, "bob2", "bob3")
        self.assertEqual(self.ws(self.bob, "bob3")["prod"]["connection_string"],
                         "postgresql://bob3:%s@alice2-prod.ws.test:9193/dea4px" % bpw)
        self.rename(self.bob, "bob3", "bob")
        self.assertEqual(self.ws(self.bob, "bob")["prod"]["connection_string"],
                         "postgresql://bob:%s@alice2-prod.ws.test:9193/dea4px" % bpw)
        self.rename(self.alice, "alice2", "alice")
        self.assertEqual(self.ws(self.alice, "alice")["prod"]["host"], "alice-prod.ws.test")

    def test_a_former_handle_cannot_be_taken_over(self):
        # carol grabbing a renamed user's handle would get their workspaces
        h, c, _ = self.user("gina")
        self.rename(c, "gina", "gina2")
        r = self.carol.request("PATCH", API + "/user/carol", body={"handle": "gina"})
        assert_problem(self, r, 409)
        r = self.admin.post(API + "/admin/user", {"handle": "gina", "email": "g@x.test",
                                                  "password": "whatever-1", "must_change_password": False})
        assert_problem(self, r, 409)
        self.assertEqual(self.ws(self.carol, "carol"), {})

    def test_rename_into_a_configured_handle(self):
        # the config names a member "erin2" before anyone has that handle:
        # only an admin gives it (issue 9: membership is never gained by renaming)
        h, erin, _ = self.user("erin")
        self.assertEqual(self.ws(erin, "erin"), {})
        r = erin.request("PATCH", API + "/user/erin", body={"handle": "erin2"})
        assert_problem(self, r, 409)
        self.assertEqual(self.ws(erin, "erin"), {})
        r = self.admin.request("PATCH", API + "/user/erin", body={"handle": "erin2"})
        self.assertEqual(r.status, 200, r)
        pw = self.dbpass(erin, "erin2")["password"]
        items = self.ws(erin, "erin2")
        self.assertEqual(list(items), ["stage"])
        self.assertEqual((items["stage"]["role"], items["stage"]["owner"]), ("member", "nobody"))
        self.assertEqual(items["stage"]["connection_string"],
                         "postgresql://erin2:%s@nobody-stage.ws.test:9201/stagedb" % pw)
        assert_problem(self, erin.get(API + "/user/erin/workspace"), 404)

    def test_rotation_after_rename(self):
        h, frank, _ = self.user("frank")
        self.rename(frank, "frank", "frank9")
        r = frank.post(API + "/user/frank9/password")
        self.assertEqual(r.status, 200, r)
        self.saw(r.json["password"])
        w = self.ws(frank, "frank9")["qa"]
        self.assertEqual((w["role"], w["owner"], w["host"]), ("owner", "frank9", "frank9-qa.ws.test"))
        self.assertEqual(w["connection_string"],
                         "postgresql://frank9:%s@frank9-qa.ws.test:9200/qadb" % r.json["password"])


if __name__ == "__main__":
    unittest.main()

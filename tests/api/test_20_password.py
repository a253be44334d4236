"""The database password: read, rotate (version + 1, the old one gone from
every answer), its audit record, and who may call."""
import unittest

from creds import (API, CredCase, DBPASS_RE, RFC3339_RE, audit_pages, audit_records,
                   bearer_client, client, mask, ws_extra)
from harness import assert_problem



def strip(j):
    """the answer without its propagation part, which the push threads move on"""
    return {k: v for k, v in j.items() if k != "propagation"}

class DatabasePassword(CredCase, unittest.TestCase):
    extra = ws_extra()

    @classmethod
    def prepare(cls):
        cls.alice = cls.user("alice")[1]
        cls.bob = cls.user("bob")[1]
        cls.carol = cls.user("carol")[1]

    def check_shape(self, j):
        self.assertEqual(set(j), {"password", "version", "created_at", "dbpass_next_rotation_at",
                                  "propagation"}, j)
        for p in j["propagation"]:
            self.assertIn(p["status"], ("pending", "applied"), p)
            self.assertEqual(p["node"], "node1", p)
        pw = j["password"]
        self.assertRegex(pw, DBPASS_RE)
        for ch in "ilou":
            self.assertNotIn(ch, pw)
        self.assertIsInstance(j["version"], int)
        self.assertRegex(j["created_at"], RFC3339_RE)

    def test_get_new_user_version_1(self):
        j = self.dbpass(self.carol, "carol")
        self.check_shape(j)
        self.assertEqual(j["version"], 1)
        # stable: reading does not change it
        self.assertEqual(strip(self.dbpass(self.carol, "carol")), strip(j))

    def test_each_user_has_own_password(self):
        a = self.dbpass(self.bob, "bob")["password"]
        c = self.dbpass(self.carol, "carol")["password"]
        self.assertNotEqual(a, c)

    def test_rotate(self):
        old = self.dbpass(self.alice, "alice")
        self.assertEqual(old["version"], 1)
        r = self.alice.post(API + "/user/alice/password")
        self.assertEqual(r.status, 200, r)
        new = r.json
        self.saw(new["password"])
        self.check_shape(new)
        self.assertEqual(new["version"], 2)
        self.assertNotEqual(new["password"], old["password"])
        self.assertEqual(strip(self.dbpass(self.alice, "alice")), strip(new))

        # the old password appears nowhere afterwards; the new one is in use
        for q in ("", "?reveal=1"):
            r = self.alice.get(API + "/user/alice/workspace" + q)
            self.assertEqual(r.status, 200, r)
            self.assertNotIn(old["password"].encode(), r.body)
            self.assertEqual(len(r.json["items"]), 2, r.json)
            want = new["password"] if q else mask(new["password"])
            for w in r.json["items"]:
                self.assertIn("postgresql://alice:%s@" % want, w["connection_string"])
        r = self.alice.get(API + "/user/alice/password")
        self.assertNotIn(old["password"].encode(), r.body)

        # audit: user.password.rotate, data {"version": 2}, no password anywhere
        recs = [a for a in audit_records(self.admin)
                if a["action_type"] == "user.password.rotate" and a["target_handle"] == "alice"]
        self.assertEqual(len(recs), 1, recs)
        self.assertEqual(recs[0]["data"], {"version": 2})
        self.assertEqual(recs[0]["actor_handle"], "alice")
        mine = [a for a in audit_records(self.alice, API + "/user/alice/audit")
                if a["action_type"] == "user.password.rotate"]
        self.assertEqual([a["id"] for a in mine], [recs[0]["id"]])
        for raw, _ in audit_pages(self.admin) + audit_pages(self.alice, API + "/user/alice/audit"):
            self.assertNotIn(old["password"].encode(), raw)
            self.assertNotIn(new["password"].encode(), raw)

    def test_rotate_again_counts_up(self):
        h, c, _ = self.user()
        seen = {self.dbpass(c, h)["password"]}
        for v in (2, 3):
            r = c.post("%s/user/%s/password" % (API, h))
            self.assertEqual(r.status, 200, r)
            self.saw(r.json["password"])
            self.assertEqual(r.json["version"], v)
            self.assertNotIn(r.json["password"], seen)
            seen.add(r.json["password"])

    def test_other_users_password_is_404(self):
        before = self.dbpass(self.carol, "carol")
        for m in ("GET", "POST"):
            p = assert_problem(self, self.bob.request(m, API + "/user/carol/password"), 404)
            self.assertNotIn(before["password"], str(p))
        self.assertEqual(strip(self.dbpass(self.carol, "carol")), strip(before))

    def test_admin_reads_anyones(self):
        r = self.admin.get(API + "/user/carol/password")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(strip(r.json), strip(self.dbpass(self.carol, "carol")))

    def test_rotate_without_csrf_is_403_and_changes_nothing(self):
        h, c, _ = self.user()
        before = self.dbpass(c, h)
        csrf, c.csrf = c.csrf, None
        assert_problem(self, c.post("%s/user/%s/password" % (API, h)), 403)
        c.csrf = csrf
        self.assertEqual(self.dbpass(c, h), before)

    def test_not_signed_in_is_401(self):
        c = client(self.d)
        assert_problem(self, c.get(API + "/user/carol/password"), 401)
        assert_problem(self, c.post(API + "/user/carol/password"), 401)

    def test_rotate_with_bearer(self):
        h, c, _ = self.user()
        before = self.dbpass(c, h)
        tok = self.new_token(c, h)["token"]
        b = bearer_client(self.d, tok)
        r = b.post("%s/user/%s/password" % (API, h))
        self.assertEqual(r.status, 200, r)
        self.saw(r.json["password"])
        self.assertEqual(r.json["version"], before["version"] + 1)
        self.assertEqual(self.dbpass(c, h)["password"], r.json["password"])


if __name__ == "__main__":
    unittest.main()

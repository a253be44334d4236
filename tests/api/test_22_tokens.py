"""API tokens: create (shown once), list/read (never the secret), the
per-user limit, deactivate/activate, delete, validation, expiry, token
reset, and their audit records (token_id and last4 only)."""
import time
import unittest

from creds import (API, TOKEN_ID_RE, TOKEN_KEYS, TOKEN_RE, RFC3339_RE, CredCase,
                   audit_records, bearer_client, parse_rfc3339, rfc3339)
from harness import assert_problem


class Tokens(CredCase, unittest.TestCase):
    extra = {}     # tokens.max_per_user: default 2

    def path(self, h, tid=None):
        return "%s/user/%s/token%s" % (API, h, "/" + tid if tid else "")

    def works(self, tok, h):
        r = bearer_client(self.d, tok).get(API + "/actor")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["handle"], h)

    def refused(self, tok):
        self.assert_401_bearer(bearer_client(self.d, tok).get(API + "/actor"))

    def listing(self, c, h):
        r = c.get(self.path(h))
        self.assertEqual(r.status, 200, r)
        return r

    def test_create(self):
        h, c, _ = self.user()
        t0 = time.time()
        j = self.new_token(c, h, {"title": "ci"})
        self.assertEqual(set(j), TOKEN_KEYS | {"token"}, j)
        tok = j["token"]
        self.assertRegex(tok, TOKEN_RE)
        self.assertRegex(j["id"], TOKEN_ID_RE)
        self.assertEqual(tok[4:24], j["id"][2:])
        self.assertEqual(j["last4"], tok[-4:])
        self.assertEqual(j["title"], "ci")
        self.assertEqual(j["status"], "active")
        self.assertEqual(j["version_id"], 1)
        self.assertIsNone(j["last_used_at"])
        self.assertIsNone(j["last_used_ip"])
        self.assertIsNone(j["expires_at"])
        for k in ("created_at", "updated_at"):
            self.assertRegex(j[k], RFC3339_RE)
        self.assertLessEqual(abs(parse_rfc3339(j["created_at"]) - t0), 5)
        self.works(tok, h)

    def test_create_without_body(self):
        h, c, _ = self.user()
        j = self.new_token(c, h)
        self.assertIsNone(j["title"])
        self.assertRegex(j["token"], TOKEN_RE)
        j2 = self.new_token(c, h, {})
        self.assertNotEqual(j["id"], j2["id"])
        self.assertNotEqual(j["token"], j2["token"])
        self.assertEqual(c.request("DELETE", self.path(h, j["id"])).status, 204)
        r = c.post(self.path(h), raw=b"")      # Content-Length: 0
        self.assertEqual(r.status, 201, r)
        self.saw(r.json["token"])

    def test_list_and_get_never_show_the_secret(self):
        h, c, _ = self.user()
        a = self.new_token(c, h, {"title": "one"})
        b = self.new_token(c, h, {"title": "two"})
        r = self.listing(c, h)
        self.assertEqual(set(r.json), {"items"})
        items = {t["id"]: t for t in r.json["items"]}
        self.assertEqual(set(items), {a["id"], b["id"]})
        for t, created in ((items[a["id"]], a), (items[b["id"]], b)):
            self.assertEqual(set(t), TOKEN_KEYS, t)
            want = dict(created)
            del want["token"]
            self.assertEqual(t, want)
        for tok in (a["token"], b["token"]):
            self.assertNotIn(tok[25:].encode(), r.body)
        g = c.get(self.path(h, a["id"]))
        self.assertEqual(g.status, 200, g)
        self.assertEqual(g.json, items[a["id"]])
        self.assertNotIn(a["token"][25:].encode(), g.body)

    def test_limit_is_2_by_default(self):
        h, c, _ = self.user()
        self.new_token(c, h)
        self.new_token(c, h)
        r = self.new_token(c, h, {"title": "third"}, status=409)
        p = assert_problem(self, r, 409)
        self.assertIn("2", p["detail"])
        self.assertNotIn("token", r.json)
        self.assertEqual(len(self.listing(c, h).json["items"]), 2)

    def test_other_users_token_is_404(self):
        h1, c1, _ = self.user()
        h2, c2, _ = self.user()
        t = self.new_token(c2, h2)
        for m, body in (("GET", None), ("PATCH", {"status": "inactive"}), ("DELETE", None)):
            # by id under one's own handle, and under the other's handle
            assert_problem(self, c1.request(m, self.path(h1, t["id"]), body=body), 404)
            assert_problem(self, c1.request(m, self.path(h2, t["id"]), body=body), 404)
        assert_problem(self, c1.get(self.path(h2)), 404)
        assert_problem(self, c1.post(self.path(h2)), 404)
        assert_problem(self, c1.get(self.path(h1, "t_00000000000000000000")), 404)
        assert_problem(self, c1.get(self.path(h1, "nonsense")), 404)
        g = c2.get(self.path(h2, t["id"]))
        self.assertEqual((g.json["status"], g.json["version_id"]), ("active", 1))
        self.works(t["token"], h2)

    def test_deactivate_and_activate(self):
        h, c, _ = self.user()
        t = self.new_token(c, h, {"title": "ci"})
        self.works(t["token"], h)
        r = c.request("PATCH", self.path(h, t["id"]), body={"status": "inactive"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(set(r.json), TOKEN_KEYS)
        self.assertEqual(r.json["status"], "inactive")
        self.assertEqual(r.json["version_id"], 2)
        self.assertEqual(r.json["title"], "ci")
        self.assertEqual(c.get(self.path(h, t["id"])).json["status"], "inactive")
        self.refused(t["token"])
        r = c.request("PATCH", self.path(h, t["id"]), body={"status": "active"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["status"], "active")
        self.assertEqual(r.json["version_id"], 3)
        self.works(t["token"], h)

    def test_patch_validation(self):
        h, c, _ = self.user()
        t = self.new_token(c, h)
        for body in ({"status": "revoked"}, {"status": None}, {}, {"status": "active", "title": "x"},
                     {"title": "x"}):
            assert_problem(self, c.request("PATCH", self.path(h, t["id"]), body=body), 400)
        g = c.get(self.path(h, t["id"])).json
        self.assertEqual((g["status"], g["version_id"]), ("active", 1))

    def test_delete(self):
        h, c, _ = self.user()
        a = self.new_token(c, h)
        b = self.new_token(c, h)
        r = c.request("DELETE", self.path(h, a["id"]))
        self.assertEqual(r.status, 204, r)
        self.assertEqual(r.body, b"")
        assert_problem(self, c.get(self.path(h, a["id"])), 404)
        assert_problem(self, c.request("DELETE", self.path(h, a["id"])), 404)
        self.refused(a["token"])
        self.works(b["token"], h)
        self.assertEqual([t["id"] for t in self.listing(c, h).json["items"]], [b["id"]])
        n = self.new_token(c, h)           # the freed slot can be used again
        self.works(n["token"], h)

    def test_create_validation(self):
        h, c, _ = self.user()
        past = rfc3339(time.time() - 60)
        bad = [
            ({"expires_at": past}, "body.expires_at"),
            ({"expires_at": "tomorrow"}, "body.expires_at"),
            ({"expires_at": "2099-13-01T00:00:00Z"}, "body.expires_at"),
            ({"expires_at": "2099-01-01"}, "body.expires_at"),
            ({"expires_at": "2099-02-30T00:00:00Z"}, "body.expires_at"),   # no such day
            ({"expires_at": " 2099-01-01T00:00:00Z"}, "body.expires_at"),
            ({"expires_at": ""}, "body.expires_at"),
            ({"expires_at": 4102444800}, "body.expires_at"),
            ({"title": "x" * 101}, "body.title"),
            ({"title": 5}, "body.title"),
            ({"name": "ci"}, None),
            ({"title": "ci", "status": "inactive"}, None),
        ]
        for body, loc in bad:
            with self.subTest(body=str(body)[:60]):
                r = c.post(self.path(h), body)
                if r.status == 201:
                    self.saw(r.json["token"])
                    c.request("DELETE", self.path(h, r.json["id"]))
                p = assert_problem(self, r, 400)
                if loc:
                    self.assertIn(loc, [e["location"] for e in p.get("validation_errors", [])])
        assert_problem(self, c.post(self.path(h), raw=b"{not json"), 400)
        assert_problem(self, c.post(self.path(h), raw=b"[]"), 400)
        # nothing was created
        self.assertEqual(self.listing(c, h).json["items"], [])
        # the edges that are fine
        j = self.new_token(c, h, {"title": "x" * 100, "expires_at": "2099-01-01T00:00:00Z"})
        self.assertEqual(j["title"], "x" * 100)
        self.assertEqual(j["expires_at"], "2099-01-01T00:00:00Z")

    def test_expiry(self):
        h, c, _ = self.user()
        end = int(time.time()) + 3     # 2..3 s from now, whole seconds
        j = self.new_token(c, h, {"expires_at": rfc3339(end)})
        self.assertEqual(j["expires_at"], rfc3339(end))
        self.works(j["token"], h)
        time.sleep(max(0, end + 1 - time.time()))
        self.refused(j["token"])
        # still listed, for the user to see and delete
        self.assertEqual([t["id"] for t in self.listing(c, h).json["items"]], [j["id"]])

    def test_token_reset(self):
        h, c, _ = self.user()
        a = self.new_token(c, h)
        self.works(a["token"], h)
        time.sleep(0.01)
        r = c.post("%s/user/%s/token_reset" % (API, h))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["handle"], h)
        self.assertRegex(r.json["token_min_issued_at"], RFC3339_RE)
        self.refused(a["token"])
        # the caller's session is revoked too
        assert_problem(self, c.get(API + "/actor"), 401)
        self.relogin(h, c)
        time.sleep(0.01)
        b = self.new_token(c, h)
        self.works(b["token"], h)
        self.refused(a["token"])

    def test_token_reset_at_the_limit(self):
        """The Advanced page's "Revoke tokens" on a user who has the
        maximum (2): afterwards the user can create a new working token
        without first having to delete the revoked ones."""
        h, c, _ = self.user()
        a = self.new_token(c, h)
        b = self.new_token(c, h)
        time.sleep(0.01)
        self.assertEqual(c.post("%s/user/%s/token_reset" % (API, h)).status, 200)
        self.refused(a["token"])
        self.refused(b["token"])
        self.relogin(h, c)
        time.sleep(0.01)
        r = c.post(self.path(h), {"title": "after reset"})
        self.assertEqual(r.status, 201, "revoked tokens still fill the limit: %r; list: %s"
                         % (r, self.listing(c, h).body.decode()))
        self.saw(r.json["token"])
        self.works(r.json["token"], h)

    def test_deleted_users_tokens_are_401(self):
        h, c, _ = self.user()
        t = self.new_token(c, h)
        self.works(t["token"], h)
        r = c.request("DELETE", "%s/user/%s?confirm=%s" % (API, h, h))
        self.assertEqual(r.status, 204, r)
        self.refused(t["token"])
        # a new account with the same handle does not inherit the token
        self.user(h)
        self.refused(t["token"])

    def test_token_reset_by_bearer(self):
        # a reset done with a token revokes that token too
        h, c, _ = self.user()
        a = self.new_token(c, h)
        r = bearer_client(self.d, a["token"]).post("%s/user/%s/token_reset" % (API, h))
        self.assertEqual(r.status, 200, r)
        self.refused(a["token"])

    def test_audit_records_carry_token_id_last4_and_scope_only(self):
        h, c, _ = self.user()
        t = self.new_token(c, h, {"title": "audited"})
        c.request("PATCH", self.path(h, t["id"]), body={"status": "inactive"})
        c.request("DELETE", self.path(h, t["id"]))
        recs = [a for a in audit_records(self.admin)
                if a["target_handle"] == h and a["action_type"].startswith("token.")]
        self.assertEqual(sorted(a["action_type"] for a in recs),
                         ["token.create", "token.delete", "token.update"])
        for a in recs:
            self.assertEqual(a["actor_handle"], h)
        want = {"token_id": t["id"], "last4": t["last4"]}
        self.assertEqual({a["action_type"]: a["data"] for a in recs},
                         {"token.create": dict(want, scope="full"),
                          "token.update": want, "token.delete": want})
        mine = {a["id"] for a in audit_records(c, "%s/user/%s/audit" % (API, h))}
        self.assertTrue({a["id"] for a in recs} <= mine)


class TokenLimit3(CredCase, unittest.TestCase):
    extra = {"tokens": {"max_per_user": 3}}

    def test_three_allowed_fourth_409(self):
        h, c, _ = self.user()
        toks = [self.new_token(c, h)["token"] for _ in range(3)]
        p = assert_problem(self, c.post("%s/user/%s/token" % (API, h)), 409)
        self.assertIn("3", p["detail"])
        for tok in toks:
            r = bearer_client(self.d, tok).get(API + "/actor")
            self.assertEqual(r.status, 200, r)


if __name__ == "__main__":
    unittest.main()

"""Ending things: DELETE /user/{handle}?confirm=, the last active admin, and
POST /user/{handle}/token_reset."""
import unittest

from harness import assert_problem
from accounts import (API, DaemonCase, login, try_login, make_user, delete, patch, upath,
                      assert_invalid, list_all, uniq, RFC3339_RE, check_user)


def handles(tc, admin):
    return [u["handle"] for u in list_all(tc, admin, API + "/admin/user", 100)[0]]


class Delete(DaemonCase, unittest.TestCase):
    def user(self, prefix="del", **kw):
        h = uniq(prefix)
        u, pw = make_user(self.d, self.admin, h, **kw)
        return h, u, pw

    def assert_exists(self, h, pw):
        self.assertEqual(self.admin.get(upath(h)).status, 200)
        self.assertIn(h, handles(self, self.admin))
        self.assertEqual(try_login(self.d, h, pw)[0].status, 200)

    def test_without_confirm_400(self):
        h, _, pw = self.user()
        c = login(self.d, h, pw)
        for path in (upath(h), upath(h, "?confirm="), upath(h, "?confirm")):
            with self.subTest(path=path):
                assert_invalid(self, delete(c, path), "query.confirm")
        self.assert_exists(h, pw)
        self.assertEqual(c.get(API + "/actor").status, 200)

    def test_wrong_confirm_400(self):
        h, _, pw = self.user()
        c = login(self.d, h, pw)
        for bad in ("admin", h + "x", h[:-1], "yes", "true"):
            with self.subTest(confirm=bad):
                assert_invalid(self, delete(c, upath(h, "?confirm=" + bad)), "query.confirm")
        # and by the admin
        assert_invalid(self, delete(self.admin, upath(h, "?confirm=admin")), "query.confirm")
        self.assert_exists(h, pw)

    def test_admin_deletes_user(self):
        h, _, pw = self.user()
        c = login(self.d, h, pw)
        r = delete(self.admin, upath(h, "?confirm=" + h))
        self.assertEqual(r.status, 204, r)
        self.assertEqual(r.body, b"")
        assert_problem(self, self.admin.get(upath(h)), 404)
        self.assertNotIn(h, handles(self, self.admin))
        assert_problem(self, try_login(self.d, h, pw)[0], 401)
        # the deleted user's session is gone with the account
        assert_problem(self, c.get(API + "/actor"), 401)
        # deleting again: 404
        assert_problem(self, delete(self.admin, upath(h, "?confirm=" + h)), 404)

    def test_delete_self_ends_the_session(self):
        h, _, pw = self.user()
        other = login(self.d, h, pw)
        c = login(self.d, h, pw)
        r = delete(c, upath(h, "?confirm=" + h))
        self.assertEqual(r.status, 204, r)
        assert_problem(self, c.get(API + "/actor"), 401)
        assert_problem(self, other.get(API + "/actor"), 401)
        assert_problem(self, try_login(self.d, h, pw)[0], 401)
        self.assertNotIn(h, handles(self, self.admin))

    def test_handle_is_free_after_delete(self):
        h, u, _ = self.user()
        self.assertEqual(delete(self.admin, upath(h, "?confirm=" + h)).status, 204)
        u2, pw2 = make_user(self.d, self.admin, h)
        self.assertNotEqual(u2["id"], u["id"])
        self.assertEqual(try_login(self.d, h, pw2)[0].status, 200)

    def test_former_handles_are_freed_by_delete(self):
        h, u, pw = self.user()
        h2 = uniq("del")
        c = login(self.d, h, pw)
        self.assertEqual(patch(c, upath(h), {"handle": h2}).status, 200)
        # reserved while the account lives …
        self.assertEqual(self.admin.post(API + "/admin/user",
                                         {"handle": h, "email": "x@example.com"}).status, 409)
        self.assertEqual(delete(c, upath(h2, "?confirm=" + h2)).status, 204)
        # … and free once it is deleted, both the former and the last handle
        for handle in (h, h2):
            u2, pw2 = make_user(self.d, self.admin, handle)
            self.assertNotEqual(u2["id"], u["id"])

    def test_delete_unknown_404(self):
        assert_problem(self, delete(self.admin, upath("nosuchuser", "?confirm=nosuchuser")), 404)

    def test_last_active_admin_409(self):
        # the bootstrap admin is the only admin: it cannot delete itself
        r = delete(self.admin, upath("admin", "?confirm=admin"))
        assert_problem(self, r, 409)
        self.assertEqual(self.admin.get(API + "/actor").status, 200)
        # a second admin that is disabled does not count
        h2, _, pw2 = self.user("adm", role="admin")
        self.assertEqual(self.admin.post(API + "/admin/user/%s/disable" % h2).status, 200)
        assert_problem(self, delete(self.admin, upath("admin", "?confirm=admin")), 409)
        self.assertEqual(self.admin.get(upath("admin")).status, 200)
        # an admin that is not the last can go, also by itself
        self.assertEqual(self.admin.post(API + "/admin/user/%s/enable" % h2).status, 200)
        c2 = login(self.d, h2, pw2)
        r = delete(c2, upath(h2, "?confirm=" + h2))
        self.assertEqual(r.status, 204, r)
        assert_problem(self, c2.get(API + "/actor"), 401)
        # and the bootstrap admin is the last one again
        assert_problem(self, delete(self.admin, upath("admin", "?confirm=admin")), 409)
        self.assertEqual(self.admin.get(API + "/actor").status, 200)


class TokenReset(DaemonCase, unittest.TestCase):
    def test_reset_own_revokes_every_session(self):
        h = uniq("tr")
        _, pw = make_user(self.d, self.admin, h)
        other = login(self.d, h, pw)
        c = login(self.d, h, pw)
        r = c.post(upath(h, "/token_reset"))
        self.assertEqual(r.status, 200, r)
        check_user(self, r.json)
        self.assertEqual(r.json["handle"], h)
        self.assertRegex(r.json["token_min_issued_at"] or "", RFC3339_RE)
        # the caller's session too
        assert_problem(self, c.get(API + "/actor"), 401)
        assert_problem(self, other.get(API + "/actor"), 401)
        # signing in again right away works, and that session stays valid
        fresh = login(self.d, h, pw)
        self.assertEqual(fresh.get(API + "/actor").status, 200)
        self.assertEqual(fresh.get(upath(h)).json["token_min_issued_at"],
                         r.json["token_min_issued_at"])

    def test_admin_resets_a_user(self):
        h = uniq("tr")
        _, pw = make_user(self.d, self.admin, h)
        c = login(self.d, h, pw)
        r = self.admin.post(upath(h, "/token_reset"))
        self.assertEqual(r.status, 200, r)
        self.assertIsNotNone(r.json["token_min_issued_at"])
        assert_problem(self, c.get(API + "/actor"), 401)
        # the admin's own session is not touched
        self.assertEqual(self.admin.get(API + "/actor").status, 200)
        self.assertEqual(login(self.d, h, pw).get(API + "/actor").status, 200)

    def test_reset_leaves_other_users_alone(self):
        h1, h2 = uniq("tr"), uniq("tr")
        _, pw1 = make_user(self.d, self.admin, h1)
        _, pw2 = make_user(self.d, self.admin, h2)
        c1 = login(self.d, h1, pw1)
        c2 = login(self.d, h2, pw2)
        self.assertEqual(c1.post(upath(h1, "/token_reset")).status, 200)
        self.assertEqual(c2.get(API + "/actor").status, 200)
        self.assertIsNone(c2.get(upath(h2)).json["token_min_issued_at"])


if __name__ == "__main__":
    unittest.main()

"""The profile: GET /actor, GET and PATCH /user/{handle} (display name,
avatar URL, handle, If-Match), and PUT /user/{handle}/console_password."""
import unittest

from harness import assert_problem
from accounts import (API, DaemonCase, login, try_login, make_user, create_user, remember,
                      patch, put, upath, check_user, assert_invalid, new_password, uniq, rand,
                      ApiClient)


class ProfileBase(DaemonCase):
    def setUp(self):
        self.h = uniq("pro")
        self.u, self.pw = make_user(self.d, self.admin, self.h)
        self.c = login(self.d, self.h, self.pw)

    def me(self, h=None):
        r = self.c.get(upath(h or self.h))
        self.assertEqual(r.status, 200, r)
        return r.json


class Profile(ProfileBase, unittest.TestCase):
    def test_get_user_and_actor(self):
        u = self.me()
        check_user(self, u)
        self.assertEqual(u["handle"], self.h)
        self.assertEqual(u["email"], "%s@example.com" % self.h)
        self.assertEqual(u["role"], "user")
        self.assertEqual(u["status"], "active")
        self.assertIsNone(u["token_min_issued_at"])
        self.assertEqual(u, self.u)
        a = self.c.get(API + "/actor")
        self.assertEqual(a.status, 200, a)
        self.assertEqual(a.header("Content-Type"), "application/json")
        self.assertEqual(a.json, u)

    def test_handle_in_path_is_case_folded(self):
        r = self.c.get(upath(self.h.upper()))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["handle"], self.h)

    def test_display_name_valid(self):
        v = self.me()["version_id"]
        for name in ("A", "x" * 100, "\u00e9" * 100, "\U0001F600" * 100, "J\u00fcrgen O'Neil-\u5f20"):
            with self.subTest(name=name[:12]):
                r = patch(self.c, upath(self.h), {"display_name": name})
                self.assertEqual(r.status, 200, r)
                check_user(self, r.json)
                self.assertEqual(r.json["display_name"], name)
                v += 1
                self.assertEqual(r.json["version_id"], v)
                self.assertEqual(self.me(), r.json)

    def test_display_name_invalid(self):
        patch(self.c, upath(self.h), {"display_name": "Before"})
        for name in ("x" * 101, "\u00e9" * 101, "\U0001F600" * 101, "a\u0000b", "a\u0007b",
                     "a\nb", "a\tb", "a\rb", "\u001b[31mred", "a\u007fb", "a\u009bb"):
            with self.subTest(name=repr(name[:12])):
                before = self.me()
                r = patch(self.c, upath(self.h), {"display_name": name})
                assert_invalid(self, r, "body.display_name")
                self.assertEqual(self.me(), before)

    def test_display_name_empty_or_null_clears_it(self):
        """Issue 16: "" and null both mean no display name."""
        for empty in ("", None):
            with self.subTest(empty=empty):
                r = patch(self.c, upath(self.h), {"display_name": "Someone"})
                self.assertEqual(r.json["display_name"], "Someone")
                r = patch(self.c, upath(self.h), {"display_name": empty})
                self.assertEqual(r.status, 200, r)
                check_user(self, r.json)
                self.assertIsNone(r.json["display_name"])
                self.assertEqual(self.me(), r.json)
        # with no display name, the avatar alone can be saved (the page sends "")
        r = patch(self.c, upath(self.h), {"display_name": "", "avatar_url": "https://example.com/me.png"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["display_name"], r.json["avatar_url"]), (None, "https://example.com/me.png"))
        # "" with no name set is no change: nothing written
        v = r.json["version_id"]
        self.assertEqual(patch(self.c, upath(self.h), {"display_name": ""}).json["version_id"], v)

    def test_avatar_url_valid(self):
        v = self.me()["version_id"]
        long_url = "https://example.com/"
        long_url += "a" * (2048 - len(long_url))
        for url in ("https://example.com/a.png", "http://example.com", "https://127.0.0.1:8443/x?y=1#z",
                    long_url, None, "https://cdn.example.com/u/1.png"):
            with self.subTest(url=(url or "null")[:40]):
                r = patch(self.c, upath(self.h), {"avatar_url": url})
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.json["avatar_url"], url)
                v += 1
                self.assertEqual(r.json["version_id"], v)
                self.assertEqual(self.me()["avatar_url"], url)

    def test_avatar_url_null_clears(self):
        patch(self.c, upath(self.h), {"avatar_url": "https://example.com/a.png"})
        r = patch(self.c, upath(self.h), {"avatar_url": None})
        self.assertEqual(r.status, 200, r)
        self.assertIsNone(r.json["avatar_url"])
        self.assertIsNone(self.me()["avatar_url"])

    def test_avatar_url_invalid(self):
        patch(self.c, upath(self.h), {"avatar_url": "https://example.com/before.png"})
        too_long = "https://example.com/"
        too_long += "a" * (2049 - len(too_long))
        for url in ("", "ftp://example.com/a.png", "javascript:alert(1)", "JavaScript:alert(1)",
                    "data:image/png;base64,iVBORw0KGgo=", "file:///etc/passwd", "https://",
                    "http://", "http:///a.png", "//example.com/a.png", "example.com/a.png",
                    too_long, "https://exa\nmple.com/"):
            with self.subTest(url=repr(url[:40])):
                before = self.me()
                r = patch(self.c, upath(self.h), {"avatar_url": url})
                assert_invalid(self, r, "body.avatar_url")
                self.assertEqual(self.me(), before)

    def test_version_id_increments_by_one(self):
        v0 = self.me()["version_id"]
        r1 = patch(self.c, upath(self.h), {"display_name": "One"})
        r2 = patch(self.c, upath(self.h), {"display_name": "Two", "avatar_url": "https://e.example/2"})
        self.assertEqual((r1.status, r2.status), (200, 200), (r1, r2))
        self.assertEqual(r1.json["version_id"], v0 + 1)
        self.assertEqual(r2.json["version_id"], v0 + 2)
        self.assertEqual(r2.json["display_name"], "Two")
        self.assertEqual(r2.json["avatar_url"], "https://e.example/2")

    def test_one_invalid_field_changes_nothing(self):
        before = self.me()
        r = patch(self.c, upath(self.h), {"display_name": "Fine", "avatar_url": "javascript:x"})
        assert_invalid(self, r, "body.avatar_url")
        r = patch(self.c, upath(self.h), {"display_name": "Fine", "handle": "-bad"})
        assert_invalid(self, r, "body.handle")
        self.assertEqual(self.me(), before)

    def test_if_match(self):
        v = self.me()["version_id"]
        r = patch(self.c, upath(self.h), {"display_name": "Matched"}, headers={"If-Match": str(v)})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["version_id"], v + 1)
        after = self.me()
        for stale in (str(v), str(v + 5), "0"):
            with self.subTest(if_match=stale):
                r = patch(self.c, upath(self.h), {"display_name": "Stale"},
                          headers={"If-Match": stale})
                assert_problem(self, r, 412)
                self.assertEqual(self.me(), after)
        r = patch(self.c, upath(self.h), {"display_name": "Again"},
                  headers={"If-Match": str(v + 1)})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["display_name"], "Again")

    def test_handle_change(self):
        new = uniq("renamed")
        r = patch(self.c, upath(self.h), {"handle": new})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["handle"], new)
        self.assertEqual(r.json["id"], self.u["id"])
        self.assertEqual(r.json["version_id"], self.u["version_id"] + 1)
        # the new handle works, the old one is gone (for the user and the admin)
        self.assertEqual(self.me(new)["id"], self.u["id"])
        assert_problem(self, self.c.get(upath(self.h)), 404)
        assert_problem(self, self.admin.get(upath(self.h)), 404)
        self.assertEqual(self.admin.get(upath(new)).status, 200)
        # the session survives its own handle change, CSRF included
        a = self.c.get(API + "/actor")
        self.assertEqual(a.status, 200, a)
        self.assertEqual(a.json["handle"], new)
        r = patch(self.c, upath(new), {"display_name": "Still me"})
        self.assertEqual(r.status, 200, r)
        # sign-in follows the handle
        self.assertEqual(try_login(self.d, self.h, self.pw)[0].status, 401)
        self.assertEqual(try_login(self.d, new, self.pw)[0].status, 200)
        # the former handle stays reserved for its user: nobody else gets it,
        # the user can take it back
        r = create_user(self.d, self.admin, self.h, password=new_password())
        assert_problem(self, r, 409)
        oh = uniq("oth")
        _, opw = make_user(self.d, self.admin, oh)
        r = patch(login(self.d, oh, opw), upath(oh), {"handle": self.h})
        assert_problem(self, r, 409)
        r = patch(self.c, upath(new), {"handle": self.h})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["handle"], self.h)
        self.assertEqual(self.me()["id"], self.u["id"])
        self.assertEqual(try_login(self.d, self.h, self.pw)[0].status, 200)

    def test_handle_case_folded(self):
        new = uniq("Bob")
        r = patch(self.c, upath(self.h), {"handle": new})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["handle"], new.lower())
        self.assertEqual(self.me(new.lower())["id"], self.u["id"])

    def test_handle_boundaries_valid(self):
        for new in (uniq("a-b"), uniq("0"), "q", "z" + "9" * 38):
            with self.subTest(handle=new):
                r = patch(self.c, upath(self.h), {"handle": new})
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.json["handle"], new)
                self.h = new

    def test_handle_invalid(self):
        for bad in ("-a", "a-", "a--b", "a" * 40, "a_b", "", "a.b", "a b", "\u00e4b", "a/b",
                    "-", "a\u0000", "a\u0000b", " a", "a\n"):
            with self.subTest(handle=repr(bad)):
                # (the current handle, in case an earlier case renamed the user)
                before = self.c.get(API + "/actor").json
                r = patch(self.c, upath(before["handle"]), {"handle": bad})
                assert_invalid(self, r, "body.handle")
                self.assertEqual(self.me(before["handle"]), before)

    def test_handle_taken_409(self):
        other = uniq("taken")
        make_user(self.d, self.admin, other)
        before = self.me()
        for h in ("admin", "ADMIN", other, other.upper()):
            with self.subTest(handle=h):
                r = patch(self.c, upath(self.h), {"handle": h})
                assert_problem(self, r, 409)
                self.assertEqual(self.me(), before)
        self.assertEqual(self.admin.get(upath(other)).json["handle"], other)

    def test_admin_edits_another_users_profile(self):
        r = patch(self.admin, upath(self.h), {"display_name": "Set by admin"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.me()["display_name"], "Set by admin")


class ConsolePassword(ProfileBase, unittest.TestCase):
    def change(self, c, h, current, new):
        remember(self.d, current, new)
        return put(c, upath(h, "/console_password"),
                   {"current_password": current, "new_password": new})

    def test_wrong_current_400(self):
        r = self.change(self.c, self.h, new_password("Wrong"), new_password())
        assert_invalid(self, r, "body.current_password")
        self.assertEqual(try_login(self.d, self.h, self.pw)[0].status, 200)

    def test_missing_current_400(self):
        new = new_password()
        remember(self.d, new)
        r = put(self.c, upath(self.h, "/console_password"), {"new_password": new})
        assert_invalid(self, r, "body.current_password")
        self.assertEqual(try_login(self.d, self.h, new)[0].status, 401)

    def test_new_too_short_or_long_400(self):
        for new in ("Sh0rt-7", "L" * 1025, ""):
            with self.subTest(length=len(new)):
                r = self.change(self.c, self.h, self.pw, new)
                assert_invalid(self, r, "body.new_password")
        self.assertEqual(try_login(self.d, self.h, self.pw)[0].status, 200)

    def test_length_boundaries(self):
        pw = self.pw
        for new in ("Qz8kLm2w", "Lq" + rand(1022)):
            with self.subTest(length=len(new)):
                r = self.change(self.c, self.h, pw, new)
                self.assertEqual(r.status, 204, r)
                self.assertEqual(try_login(self.d, self.h, new)[0].status, 200)
                pw = new

    def test_success_ends_other_sessions_only(self):
        other = login(self.d, self.h, self.pw)
        new = new_password("New")
        r = self.change(self.c, self.h, self.pw, new)
        self.assertEqual(r.status, 204, r)
        self.assertEqual(r.body, b"")
        # the caller's session stays, the user's other session ends
        self.assertEqual(self.c.get(API + "/actor").status, 200)
        assert_problem(self, other.get(API + "/actor"), 401)
        # the old password no longer signs in, the new one does
        assert_problem(self, try_login(self.d, self.h, self.pw)[0], 401)
        self.assertEqual(try_login(self.d, self.h, new)[0].status, 200)
        # the user record is otherwise untouched
        r = self.c.get(upath(self.h))
        self.assertEqual(r.json["handle"], self.h)

    def test_password_change_and_reset_policy(self):
        """docs/api.md "Password changes": the user's own change ends their
        other sessions and keeps the caller's; an admin reset ends every
        session; API tokens are separate credentials and stay in both cases
        (POST /user/{handle}/token_reset ends everything)."""
        r = self.c.post(upath(self.h, "/token"), {"title": "ci"})
        self.assertEqual(r.status, 201, r)
        tok = r.json["token"]
        remember(self.d, tok)
        bearer = ApiClient(self.d)
        bearer.bearer = tok
        other = login(self.d, self.h, self.pw)
        new = new_password("New")
        remember(self.d, new)
        r = put(self.c, upath(self.h, "/console_password"),
                {"current_password": self.pw, "new_password": new})
        self.assertEqual(r.status, 204, r)
        self.assertEqual(self.c.get(API + "/actor").status, 200)
        assert_problem(self, other.get(API + "/actor"), 401)
        self.assertEqual(bearer.get(API + "/actor").status, 200)
        # an admin reset: every session ends, the token stays
        r = self.admin.post(API + "/admin/user/%s/console_password_reset" % self.h)
        self.assertEqual(r.status, 200, r)
        remember(self.d, r.json["initial_password"])
        assert_problem(self, self.c.get(API + "/actor"), 401)
        self.assertEqual(bearer.get(API + "/actor").status, 200)
        # the reset password is one-time (issue 16): that session may only
        # change it; then token_reset is the way to end tokens too
        ip = r.json["initial_password"]
        c = login(self.d, self.h, ip)
        self.assertIs(c.user["must_change_password"], True)
        p = assert_problem(self, c.post(upath(self.h, "/token_reset")), 403)
        self.assertIn("password change required", p["detail"])
        new2 = new_password("New")
        remember(self.d, new2)
        self.assertEqual(put(c, upath(self.h, "/console_password"),
                             {"current_password": ip, "new_password": new2}).status, 204)
        self.assertEqual(c.post(upath(self.h, "/token_reset")).status, 200)
        assert_problem(self, bearer.get(API + "/actor"), 401)


if __name__ == "__main__":
    unittest.main()

"""Admin user management (/admin/user …) and the authorization matrix of
every route in docs/api.md: anonymous, a user on their own and on another
user's resources, a user on /admin/…, an admin on anyone's."""
import hashlib
import random
import unittest

from harness import assert_problem
from accounts import (API, DaemonCase, login, try_login, make_user, create_user, remember,
                      patch, put, delete, upath, check_user, assert_invalid, list_all,
                      normalized, new_password, uniq, client)


class AdminUsers(DaemonCase, unittest.TestCase):
    # the admin provisions more users at once than the default write burst
    # (30) allows; test_16_store checks the budget itself
    extra = {"rate_limit": {"writes_burst": 200}}

    def test_create_without_password(self):
        h = uniq("new")
        r = create_user(self.d, self.admin, h, display_name="New One")
        self.assertEqual(r.status, 201, r)
        body = r.json
        ip = body.pop("initial_password", None)
        self.assertIsInstance(ip, str, "no initial_password in %r" % r)
        self.assertGreaterEqual(len(ip), 8)
        check_user(self, body)
        self.assertEqual(body["handle"], h)
        self.assertEqual(body["email"], "%s@example.com" % h)
        self.assertEqual(body["display_name"], "New One")
        self.assertIsNone(body["avatar_url"])
        self.assertEqual(body["role"], "user")
        self.assertEqual(body["status"], "active")
        self.assertEqual(body["version_id"], 1)
        c = login(self.d, h, ip)
        self.assertEqual(c.user["id"], body["id"])
        # shown once: never again in the user object
        self.assertNotIn("initial_password", self.admin.get(upath(h)).json)
        self.assertNotIn(ip.encode(), self.admin.get(API + "/admin/user?limit=100").body)
        # every user gets their own
        r2 = create_user(self.d, self.admin, uniq("new"))
        self.assertEqual(r2.status, 201, r2)
        self.assertNotEqual(r2.json["initial_password"], ip)

    def test_create_with_password(self):
        h = uniq("new")
        pw = new_password()
        r = create_user(self.d, self.admin, h, password=pw)
        self.assertEqual(r.status, 201, r)
        self.assertNotIn("initial_password", r.json)
        self.assertNotIn(pw.encode(), r.body)
        check_user(self, r.json)
        self.assertIsNone(r.json["display_name"])
        self.assertEqual(login(self.d, h, pw).user["handle"], h)

    def test_create_roles(self):
        ha, hu = uniq("adm"), uniq("usr")
        ua, pa = make_user(self.d, self.admin, ha, role="admin")
        uu, pu = make_user(self.d, self.admin, hu, role="user")
        self.assertEqual((ua["role"], uu["role"]), ("admin", "user"))
        ca, cu = login(self.d, ha, pa), login(self.d, hu, pu)
        self.assertEqual(ca.get(API + "/admin/user").status, 200)
        assert_problem(self, cu.get(API + "/admin/user"), 403)

    def test_create_handle_case_folded(self):
        h = uniq("Carol")
        r = create_user(self.d, self.admin, h, password=new_password())
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["handle"], h.lower())

    def test_duplicate_handle_409(self):
        h = uniq("dup")
        u, _ = make_user(self.d, self.admin, h)
        for again in (h, h.upper(), "admin", "Admin"):
            with self.subTest(handle=again):
                r = create_user(self.d, self.admin, again, email="other@example.com",
                                password=new_password())
                assert_problem(self, r, 409)
        self.assertEqual(self.admin.get(upath(h)).json, u)

    def test_invalid_fields_400(self):
        pw = new_password()
        cases = [
            ("body.email", {"email": "no-at-sign"}),
            ("body.email", {"email": "a@"}),
            ("body.email", {"email": "@example.com"}),
            ("body.email", {"email": "a@b@example.com"}),
            ("body.email", {"email": ""}),
            ("body.email", {"email": "x" * (255 - len("@example.com")) + "@example.com"}),
            ("body.handle", {"handle": "-bad"}),
            ("body.handle", {"handle": "a--b"}),
            ("body.handle", {"handle": "a_b"}),
            ("body.handle", {"handle": "a" * 40}),
            ("body.handle", {"handle": ""}),
            ("body.role", {"role": "root"}),
            ("body.role", {"role": "Admin "}),
            ("body.role", {"role": ""}),
            ("body.password", {"password": "Sh0rt-7"}),
            ("body.password", {"password": "L" * 1025}),
            ("body.display_name", {"display_name": 7}),
            ("body.display_name", {"display_name": "x" * 101}),
        ]
        for loc, fields in cases:
            h = uniq("inv")
            body = {"handle": h, "email": h + "@example.com", "password": pw}
            body.update(fields)
            with self.subTest(loc=loc, value=repr(list(fields.values())[0])[:30]):
                remember(self.d, body.get("password"))
                r = self.admin.post(API + "/admin/user", body)
                assert_invalid(self, r, loc)
                if body["handle"]:
                    self.assertIn(self.admin.get(upath(body["handle"].lower())).status, (400, 404))
                self.assertEqual(try_login(self.d, h, pw)[0].status, 401)

    def test_missing_required_400(self):
        for missing in ("handle", "email"):
            h = uniq("mis")
            body = {"handle": h, "email": h + "@example.com"}
            del body[missing]
            with self.subTest(missing=missing):
                assert_invalid(self, self.admin.post(API + "/admin/user", body), "body." + missing)
                self.assertEqual(self.admin.get(upath(h)).status, 404)

    def test_email_boundary(self):
        h = uniq("mail")
        email = "x" * (254 - len("@example.com")) + "@example.com"
        r = create_user(self.d, self.admin, h, email=email, password=new_password())
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["email"], email)

    def test_list_paged(self):
        made = ["pg%02d" % i for i in range(30)]
        order = made[:]
        random.shuffle(order)
        for h in order:
            make_user(self.d, self.admin, h)
        items, pages = list_all(self, self.admin, API + "/admin/user", limit=7)
        hs = [u["handle"] for u in items]
        self.assertEqual(len(hs), len(set(hs)), "overlapping pages")
        self.assertEqual(hs, sorted(hs), "not sorted by handle")
        self.assertTrue(set(made) | {"admin"} <= set(hs))
        for p in pages[:-1]:
            self.assertEqual(len(p["items"]), 7)
            self.assertIn("next_token", p)
        self.assertLessEqual(len(pages[-1]["items"]), 7)
        self.assertNotIn("next_token", pages[-1])
        for u in items:
            check_user(self, u)
        # the same set with the default page size (25) and with 100
        first = self.admin.get(API + "/admin/user")
        self.assertEqual(first.status, 200, first)
        self.assertEqual(len(first.json["items"]), 25)
        self.assertIn("next_token", first.json)
        all100 = self.admin.get(API + "/admin/user?limit=100").json
        self.assertNotIn("next_token", all100)
        self.assertEqual([u["handle"] for u in all100["items"]], hs)
        self.assertEqual([u["handle"] for u in list_all(self, self.admin, API + "/admin/user",
                                                          limit=1)[0]], hs)

    def test_list_bad_limit_400(self):
        for bad in ("0", "101", "abc", "-1", "7.5", "1e1", "99999999999999999999"):
            with self.subTest(limit=bad):
                assert_invalid(self, self.admin.get(API + "/admin/user?limit=" + bad), "query.limit")

    def test_disable_and_enable(self):
        h = uniq("dis")
        _, pw = make_user(self.d, self.admin, h)
        c = login(self.d, h, pw)
        r = self.admin.post(API + "/admin/user/%s/disable" % h)
        self.assertEqual(r.status, 200, r)
        check_user(self, r.json)
        self.assertEqual(r.json["status"], "disabled")
        self.assertEqual(self.admin.get(upath(h)).json["status"], "disabled")
        assert_problem(self, c.get(API + "/actor"), 401)
        assert_problem(self, try_login(self.d, h, pw)[0], 401)
        r = self.admin.post(API + "/admin/user/%s/enable" % h)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["status"], "active")
        # the old session stays ended; a new sign-in works
        assert_problem(self, c.get(API + "/actor"), 401)
        self.assertEqual(login(self.d, h, pw).get(API + "/actor").status, 200)

    def test_disable_enable_unknown_404(self):
        for action in ("disable", "enable", "console_password_reset"):
            with self.subTest(action=action):
                r = self.admin.post(API + "/admin/user/nosuchuser/" + action)
                assert_problem(self, r, 404)

    def test_console_password_reset(self):
        h = uniq("rst")
        u, pw = make_user(self.d, self.admin, h)
        c = login(self.d, h, pw)
        r = self.admin.post(API + "/admin/user/%s/console_password_reset" % h)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(set(r.json), {"user", "initial_password"})
        check_user(self, r.json["user"])
        self.assertEqual(r.json["user"]["id"], u["id"])
        ip1 = r.json["initial_password"]
        remember(self.d, ip1)
        self.assertIsInstance(ip1, str)
        self.assertGreaterEqual(len(ip1), 8)
        assert_problem(self, c.get(API + "/actor"), 401)
        assert_problem(self, try_login(self.d, h, pw)[0], 401)
        c1 = login(self.d, h, ip1)
        # a second reset: a new password; the first one stops working
        r = self.admin.post(API + "/admin/user/%s/console_password_reset" % h)
        self.assertEqual(r.status, 200, r)
        ip2 = r.json["initial_password"]
        remember(self.d, ip2)
        self.assertNotEqual(ip1, ip2)
        assert_problem(self, c1.get(API + "/actor"), 401)
        assert_problem(self, try_login(self.d, h, ip1)[0], 401)
        self.assertEqual(login(self.d, h, ip2).get(API + "/actor").status, 200)


# --- the authorization matrix ------------------------------------------------------

# every /user/{handle}/… route of docs/api.md, in an order a user can run
# them on their own account (token_create provides the id for token_*;
# token_reset and delete end the session and come last); with the status
# the owner (or an admin) gets
OWN_ROUTES = [("get", 200), ("patch", 200), ("audit", 200), ("password_get", 200),
              ("password_rotate", 200), ("workspace", 200), ("token_list", 200),
              ("token_create", 201), ("token_get", 200), ("token_patch", 200),
              ("token_delete", 204), ("console_password", 204), ("token_reset", 200),
              ("delete", 204)]
ADMIN_ROUTES = [
    ("POST", "/admin/user", {"handle": "eve", "email": "eve@example.com"}),
    ("GET", "/admin/user", None),
    ("POST", "/admin/user/{h}/disable", None),
    ("POST", "/admin/user/{h}/enable", None),
    ("POST", "/admin/user/{h}/console_password_reset", None),
    ("GET", "/admin/audit", None),
    ("GET", "/admin/audit/verify", None),
]


class Authorization(DaemonCase, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.alice, cls.alice_pw = make_user(cls.d, cls.admin, "alice")
        cls.bob, cls.bob_pw = make_user(cls.d, cls.admin, "bob")
        r = cls.admin.post(upath("bob", "/token"), {"title": "bob's"})
        if r.status != 201:
            raise AssertionError("admin creating bob's token: %r" % r)
        remember(cls.d, r.json["token"])
        cls.bob_token = r.json["id"]

    def call(self, c, route, h, password=None, token_id=None):
        """One user route on handle h; password = h's current console
        password, token_id = one of h's tokens."""
        token_id = token_id or self.bob_token
        if route == "password_get":
            r = c.get(upath(h, "/password"))
            if r.status == 200:
                remember(self.d, r.json.get("password"))
            return r
        if route == "password_rotate":
            r = c.post(upath(h, "/password"))
            if r.status == 200:
                remember(self.d, r.json.get("password"))
            return r
        if route == "workspace":
            return c.get(upath(h, "/workspace?reveal=1"))
        if route == "token_list":
            return c.get(upath(h, "/token"))
        if route == "token_create":
            r = c.post(upath(h, "/token"), {"title": "matrix"})
            if r.status == 201:
                remember(self.d, r.json.get("token"))
            return r
        if route == "token_get":
            return c.get(upath(h, "/token/" + token_id))
        if route == "token_patch":
            return patch(c, upath(h, "/token/" + token_id), {"status": "inactive"})
        if route == "token_delete":
            return delete(c, upath(h, "/token/" + token_id))
        if route == "get":
            return c.get(upath(h))
        if route == "patch":
            return patch(c, upath(h), {"display_name": "Changed by %s" % route})
        if route == "audit":
            return c.get(upath(h, "/audit"))
        if route == "console_password":
            new = new_password()
            remember(self.d, password, new)
            r = put(c, upath(h, "/console_password"),
                    {"current_password": password or new_password(), "new_password": new})
            r.new_password = new
            return r
        if route == "token_reset":
            return c.post(upath(h, "/token_reset"))
        if route == "delete":
            return delete(c, upath(h, "?confirm=" + h))
        raise ValueError(route)

    def snapshot(self, h):
        r = self.admin.get(upath(h))
        self.assertEqual(r.status, 200, r)
        return r.json

    def test_anyone_routes(self):
        c = client(self.d)
        r = c.get(API + "/openapi.json")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json["openapi"].startswith("3."))
        self.assertEqual(c.get("/healthz").status, 200)
        # /metrics is for admins and the scraper's token (MetricsAccess)
        assert_problem(self, c.get("/metrics"), 401)

    def test_anonymous_401(self):
        c = client(self.d)
        assert_problem(self, c.post(API + "/logout"), 401)
        assert_problem(self, c.get(API + "/actor"), 401)
        for route, _ in OWN_ROUTES:
            with self.subTest(route=route):
                p1 = assert_problem(self, self.call(c, route, "bob", self.bob_pw), 401)
                p2 = assert_problem(self, self.call(c, route, "nosuch"), 401)
                # no enumeration for anonymous callers either
                self.assertEqual(normalized(p1, "bob"), normalized(p2, "nosuch"))
        for method, path, body in ADMIN_ROUTES:
            with self.subTest(route=path):
                r = c.request(method, API + path.replace("{h}", "bob"), body=body)
                assert_problem(self, r, 401)
        self.assert_bob_untouched()

    def assert_bob_untouched(self):
        u = self.snapshot("bob")
        self.assertEqual(u["version_id"], self.bob["version_id"])
        self.assertEqual(u["status"], "active")
        self.assertIsNone(u["token_min_issued_at"])
        self.assertEqual(try_login(self.d, "bob", self.bob_pw)[0].status, 200)
        assert_problem(self, self.admin.get(upath("eve")), 404)

    def test_user_on_another_user_404_like_nonexistent(self):
        a = login(self.d, "alice", self.alice_pw)
        b = login(self.d, "bob", self.bob_pw)
        for target in ("bob", "admin"):
            for route, _ in OWN_ROUTES:
                with self.subTest(target=target, route=route):
                    pw = self.bob_pw if target == "bob" else self.admin_pw
                    p1 = assert_problem(self, self.call(a, route, target, pw), 404)
                    p2 = assert_problem(self, self.call(a, route, "nosuch"), 404)
                    self.assertEqual(normalized(p1, target), normalized(p2, "nosuch"))
        # invalid input on another user's resource is still 404, never 400
        r = patch(a, upath("bob"), {"display_name": ""})
        assert_problem(self, r, 404)
        r = delete(a, upath("bob"))
        assert_problem(self, r, 404)
        r = patch(a, upath("bob", "/token/" + self.bob_token), {"status": "bogus"})
        assert_problem(self, r, 404)
        # bob's token id under alice's own path: not hers, 404
        p = assert_problem(self, a.get(upath("alice", "/token/" + self.bob_token)), 404)
        p2 = assert_problem(self, a.get(upath("alice", "/token/t_" + "0" * 20)), 404)
        self.assertEqual(normalized(p, self.bob_token), normalized(p2, "t_" + "0" * 20))
        # bob's token and database password are untouched
        r = self.admin.get(upath("bob", "/token/" + self.bob_token))
        self.assertEqual((r.status, r.json["status"]), (200, "active"), r)
        r = self.admin.get(upath("bob", "/password"))
        self.assertEqual((r.status, r.json["version"]), (200, 1), r)
        # nothing happened to bob, his session or to alice's
        self.assert_bob_untouched()
        self.assertEqual(b.get(API + "/actor").status, 200)
        self.assertEqual(a.get(API + "/actor").status, 200)
        self.assertEqual(self.admin.get(API + "/actor").status, 200)

    def test_user_on_admin_routes_403(self):
        a = login(self.d, "alice", self.alice_pw)
        for method, path, body in ADMIN_ROUTES:
            for h in ("bob", "nosuch"):
                with self.subTest(route=path, h=h):
                    r = a.request(method, API + path.replace("{h}", h), body=body)
                    assert_problem(self, r, 403)
        self.assertEqual(self.snapshot("alice")["role"], "user")
        self.assert_bob_untouched()

    def test_user_on_own_2xx(self):
        h = uniq("own")
        _, pw = make_user(self.d, self.admin, h)
        c = login(self.d, h, pw)
        tid = None
        for route, status in OWN_ROUTES:
            with self.subTest(route=route):
                r = self.call(c, route, h, pw, tid)
                self.assertEqual(r.status, status, r)
                if route == "token_create":
                    tid = r.json["id"]
                if route == "console_password":
                    pw = r.new_password
                if route == "token_reset":      # ends the caller's session too
                    c = login(self.d, h, pw)
        assert_problem(self, self.admin.get(upath(h)), 404)

    def test_admin_on_another_user_2xx(self):
        h = uniq("vic")
        _, pw = make_user(self.d, self.admin, h)
        tid = None
        for route, status in OWN_ROUTES:
            with self.subTest(route=route):
                r = self.call(self.admin, route, h, pw, tid)
                self.assertEqual(r.status, status, r)
                if route == "token_create":
                    tid = r.json["id"]
                if route == "console_password":
                    pw = r.new_password
                    self.assertEqual(try_login(self.d, h, pw)[0].status, 200)
                if route == "patch":
                    self.assertEqual(r.json["display_name"], "Changed by patch")
        self.assertEqual(self.admin.get(API + "/actor").status, 200)
        assert_problem(self, self.admin.get(upath(h)), 404)

    def test_admin_on_admin_routes_2xx(self):
        h = uniq("adr")
        make_user(self.d, self.admin, h)
        for method, path, body in ADMIN_ROUTES:
            with self.subTest(route=path):
                if body:
                    body = dict(body, handle=uniq("eve"))
                r = self.admin.request(method, API + path.replace("{h}", h), body=body)
                self.assertIn(r.status, (200, 201), r)
                if r.status == 201 or path.endswith("reset"):
                    remember(self.d, r.json.get("initial_password"))


METRICS_TOKEN = "metrics-" + "k" * 40


class MetricsAccess(DaemonCase, unittest.TestCase):
    """Issue 9, finding 11: /metrics answered anyone and names the nodes.
    It answers the scraper's bearer token (metrics.token_sha256) and admins
    (session or API token); nobody else."""
    extra = {"metrics": {"token_sha256": hashlib.sha256(METRICS_TOKEN.encode()).hexdigest()}}

    def test_metrics_needs_its_token_or_an_admin(self):
        remember(self.d, METRICS_TOKEN)
        c = client(self.d)
        for headers in ({}, {"Authorization": "Bearer " + METRICS_TOKEN + "x"},
                        {"Authorization": "Bearer " + METRICS_TOKEN[:-1]},
                        {"Authorization": "Basic " + METRICS_TOKEN},
                        {"Authorization": "Bearer "}):
            with self.subTest(headers=headers):
                r = c.get("/metrics", headers=headers)
                assert_problem(self, r, 401)
                self.assertNotIn(b"acctd_", r.body)
        r = c.get("/metrics", headers={"Authorization": "Bearer " + METRICS_TOKEN})
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.header("Content-Type").startswith("text/plain"))
        self.assertIn(b"acctd_up 1", r.body)
        # an admin reads it with a session or an API token; a user does not
        self.assertIn(b"acctd_up 1", self.admin.get("/metrics").body)
        r = self.admin.post(upath("admin", "/token"), {"title": "metrics"})
        self.assertEqual(r.status, 201, r)
        remember(self.d, r.json["token"])
        b = client(self.d)
        b.bearer = r.json["token"]
        self.assertEqual(b.get("/metrics").status, 200)
        u, upw = make_user(self.d, self.admin, uniq("met"))
        assert_problem(self, login(self.d, u["handle"], upw).get("/metrics"), 403)


class MetricsDefault(DaemonCase, unittest.TestCase):
    """Without metrics.token_sha256 only admins read /metrics."""

    def test_anonymous_401_admin_200(self):
        assert_problem(self, client(self.d).get("/metrics"), 401)
        self.assertEqual(self.admin.get("/metrics").status, 200)


if __name__ == "__main__":
    unittest.main()

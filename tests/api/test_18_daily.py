"""Issue 16 (the page as a daily tool), the API side: the CSRF token from
GET /actor for a second tab, one-time passwords, refusing to disable
yourself, user search with a total and fast paging, audit filters, singular
units, and the page's assets (precompressed, content-hashed, 304s)."""
import gzip
import re
import time
import unittest
import urllib.parse

from harness import assert_problem
from accounts import (API, COOKIE, DaemonCase, login, try_login, make_user, create_user,
                      remember, put, patch, upath, with_cookie, new_password, list_all,
                      assert_invalid, start_daemon, admin_password)


def pages(tc, c, path, limit=None):
    """list_all for a path that has a query already: every item, following next_token"""
    items, token = [], None
    for _ in range(1000):
        q = "&limit=%d" % limit if limit else ""
        if token:
            q += "&next_token=" + urllib.parse.quote(token)
        r = c.get(path + q)
        tc.assertEqual(r.status, 200, r)
        items += r.json["items"]
        token = r.json.get("next_token")
        if not token:
            return items
    tc.fail("too many pages")


class SecondTab(DaemonCase, unittest.TestCase):
    def test_actor_gives_the_sessions_csrf_token(self):
        _, pw = make_user(self.d, self.admin, "tabs")
        first = login(self.d, "tabs", pw)
        # a second tab has the cookie only
        second = with_cookie(self.d, first.cookies[COOKIE])
        r = second.get(API + "/actor")
        self.assertEqual(r.status, 200, r)
        tok = r.header("X-CSRF-Token")
        remember(self.d, tok)
        self.assertEqual(tok, first.csrf, "the token is the session's")
        self.assertEqual(r.header("Cache-Control"), "no-store")
        second.csrf = tok
        self.assertEqual(patch(second, upath("tabs"), {"display_name": "Two"}).status, 200)
        self.assertEqual(patch(first, upath("tabs"), {"display_name": "One"}).status, 200)
        # signing in again elsewhere: the old tab's token is stale (403),
        # and /actor with the new cookie hands out the new one
        again = login(self.d, "tabs", pw)
        first.cookies[COOKIE] = again.cookies[COOKIE]
        p = assert_problem(self, patch(first, upath("tabs"), {"display_name": "X"}), 403)
        self.assertIn("X-CSRF-Token", p["detail"])
        first.csrf = first.get(API + "/actor").header("X-CSRF-Token")
        self.assertEqual(first.csrf, again.csrf)
        self.assertEqual(patch(first, upath("tabs"), {"display_name": "Three"}).status, 200)

    def test_no_token_for_bearer(self):
        r = self.admin.post(upath("admin", "/token"), {"title": "t"})
        self.assertEqual(r.status, 201, r)
        remember(self.d, r.json["token"])
        b = self.d.client()
        b.bearer = r.json["token"]
        r2 = b.get(API + "/actor")
        self.assertEqual(r2.status, 200)
        self.assertIsNone(r2.header("X-CSRF-Token"))
        self.admin.request("DELETE", upath("admin", "/token/" + r.json["id"]))


class OneTimePasswords(DaemonCase, unittest.TestCase):
    def check_limited(self, c, handle, pw):
        self.assertIs(c.user["must_change_password"], True)
        self.assertIs(c.get(API + "/actor").json["must_change_password"], True)
        for method, path in (("GET", upath(handle)), ("GET", upath(handle, "/password")),
                             ("POST", upath(handle, "/token")), ("GET", API + "/admin/user"),
                             ("PATCH", upath(handle))):
            r = c.request(method, path, body={} if method != "GET" else None)
            p = assert_problem(self, r, 403)
            self.assertTrue(p["detail"].startswith("password change required"), p)
        # the same password again is refused; another one frees the session
        p = assert_invalid(self, put(c, upath(handle, "/console_password"),
                                     {"current_password": pw, "new_password": pw}), "body.new_password")
        new = new_password("Mine")
        remember(self.d, new)
        self.assertEqual(put(c, upath(handle, "/console_password"),
                             {"current_password": pw, "new_password": new}).status, 204)
        self.assertIs(c.get(API + "/actor").json["must_change_password"], False)
        self.assertEqual(c.get(upath(handle, "/password")).status, 200)
        # and the next sign-in is not limited
        self.assertIs(login(self.d, handle, new).user["must_change_password"], False)
        return new

    def test_bootstrap_admin(self):
        d = start_daemon()
        try:
            d.first_sign_in = False
            pw = d.bootstrap_password
            r, c = try_login(d, "admin", pw)
            # the harness already changed it: the file's first password is gone
            self.assertEqual(r.status, 401)
        finally:
            d.stop()
            d.cleanup()
        from harness import Daemon
        d = Daemon(extra={"login": {"max_failures": 1000, "window": 1, "lockout": 1}}, first_sign_in=False)
        d.secrets = set()
        d.start()
        try:
            pw = admin_password(d)
            c = login(d, "admin", pw)
            self.d, saved = d, self.d
            try:
                self.check_limited(c, "admin", pw)
            finally:
                self.d = saved
        finally:
            d.stop()
            d.cleanup()

    def test_created_and_reset(self):
        r = create_user(self.d, self.admin, "fresh1")
        self.assertIs(r.json["must_change_password"], True)
        c = login(self.d, "fresh1", r.json["initial_password"])
        self.check_limited(c, "fresh1", r.json["initial_password"])
        # a password the admin chose is one-time too, unless said otherwise
        pw = new_password()
        r = create_user(self.d, self.admin, "fresh2", password=pw, must_change_password=True)
        self.assertIs(r.json["must_change_password"], True)
        self.check_limited(login(self.d, "fresh2", pw), "fresh2", pw)
        assert_invalid(self, create_user(self.d, self.admin, "fresh3", password=pw,
                                         must_change_password="no"), "body.must_change_password")
        # a reset
        r = self.admin.post(API + "/admin/user/fresh1/console_password_reset")
        remember(self.d, r.json["initial_password"])
        self.assertIs(r.json["user"]["must_change_password"], True)
        self.check_limited(login(self.d, "fresh1", r.json["initial_password"]), "fresh1",
                           r.json["initial_password"])
        # the admin list shows who still has to
        items = pages(self, self.admin, API + "/admin/user?q=fresh")
        self.assertEqual({u["handle"]: u["must_change_password"] for u in items},
                         {"fresh1": False, "fresh2": False})


class DisableYourself(DaemonCase, unittest.TestCase):
    def test_refused(self):
        make_user(self.d, self.admin, "adm2", role="admin")
        p = assert_problem(self, self.admin.post(API + "/admin/user/admin/disable"), 409)
        self.assertIn("your own account", p["detail"])
        self.assertEqual(self.admin.get(API + "/actor").json["status"], "active")


class UserSearch(DaemonCase, unittest.TestCase):
    def test_search_total_paging(self):
        for i in range(12):
            make_user(self.d, self.admin, "srch%02d" % i, email="person%02d@%s.example" % (i, "Corp" if i % 3 == 0 else "home"))
        r = self.admin.get(API + "/admin/user?limit=5")
        self.assertEqual(r.json["total"], 13)
        self.assertEqual(len(r.json["items"]), 5)
        items = pages(self, self.admin, API + "/admin/user?q=SRCH1", limit=1)
        self.assertEqual([u["handle"] for u in items], ["srch10", "srch11"])
        items = pages(self, self.admin, API + "/admin/user?q=corp.EX", limit=2)
        self.assertEqual([u["handle"] for u in items], ["srch00", "srch03", "srch06", "srch09"])
        r = self.admin.get(API + "/admin/user?q=" + urllib.parse.quote("nobody@"))
        self.assertEqual((r.json["items"], r.json["total"]), ([], 13))
        assert_invalid(self, self.admin.get(API + "/admin/user?q=" + "x" * 255), "query.q")


class AuditFilters(DaemonCase, unittest.TestCase):
    def test_filters(self):
        _, pw = make_user(self.d, self.admin, "aud1")
        c = login(self.d, "aud1", pw)
        patch(c, upath("aud1"), {"display_name": "A"})
        c.post(upath("aud1", "/token"), {"title": "x"})
        t0 = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
        q = lambda s: pages(self, self.admin, API + "/admin/audit?" + s, limit=3)
        self.assertEqual({r["action_type"] for r in q("action=token.create")}, {"token.create"})
        self.assertEqual({r["action_type"] for r in q("action=token.")}, {"token.create"})
        self.assertEqual({r["actor_handle"] for r in q("actor=AUD1")}, {"aud1"})
        mine = q("actor=aud1&action=user.update")
        self.assertEqual(len(mine), 1)
        self.assertEqual(mine[0]["data"], {"display_name": {"old": None, "new": "A"}})
        self.assertEqual(q("until=" + t0), [])
        self.assertEqual(len(q("since=" + t0)), len(q("")))
        self.assertEqual(pages(self, c, upath("aud1", "/audit?action=token.create"))[0]["action_type"],
                         "token.create")
        for bad, loc in (("action=Token", "query.action"), ("actor=-x", "query.actor"),
                         ("since=yesterday", "query.since"), ("until=2026-13-01T00:00:00Z", "query.until")):
            assert_invalid(self, self.admin.get(API + "/admin/audit?" + bad), loc)


class Units(DaemonCase, unittest.TestCase):
    extra = {"login": {"max_failures": 1, "window": 60, "lockout": 1}}

    def test_one_second(self):
        make_user(self.d, self.admin, "unit1")
        # the lockout lasts 1 s: on a loaded machine the second attempt may
        # come after it (401); then the pair is tried again
        for _ in range(5):
            try_login(self.d, "unit1", "wrong-password")
            t0 = time.monotonic()
            r, _ = try_login(self.d, "unit1", "wrong-password")
            if r.status != 401 or time.monotonic() - t0 < 0.9:
                break
            time.sleep(1.1)
        p = assert_problem(self, r, 429)
        self.assertEqual(r.header("Retry-After"), "1")
        self.assertTrue(p["detail"].endswith("try again in 1 second"), p["detail"])


class PageAssets(DaemonCase, unittest.TestCase):
    def test_precompressed_hashed_cached(self):
        c = self.d.client()
        r = c.get("/", headers={"Accept-Encoding": "gzip, deflate, br"})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Encoding"), "gzip")
        self.assertEqual(r.header("Cache-Control"), "no-cache")
        self.assertEqual(r.header("Vary"), "Accept-Encoding")
        html = gzip.decompress(r.body).decode()
        names = re.findall(r'"/assets/([^"]+)"', html)
        # app.js, app.css, logo.svg, and each part's script (web/<part>.js)
        self.assertTrue({"app", "logo"} <= {n.split(".")[0] for n in names}, names)
        self.assertEqual(len({n for n in names if n.startswith("app.")}), 2, names)
        etag = r.header("ETag")
        for name in set(names):
            self.assertRegex(name, r"^[a-z]+\.[0-9a-f]{10}\.(js|css|svg)$")
            a = c.get("/assets/" + name, headers={"Accept-Encoding": "gzip"})
            self.assertEqual(a.status, 200)
            self.assertEqual(a.header("Cache-Control"), "public, max-age=31536000, immutable")
            plain = c.get("/assets/" + name)
            self.assertIsNone(plain.header("Content-Encoding"))
            self.assertEqual(gzip.decompress(a.body) if a.header("Content-Encoding") else a.body, plain.body)
            self.assertNotEqual(a.header("ETag"), plain.header("ETag"))
            # the plain name is the same bytes, revalidated
            old = c.get("/assets/" + re.sub(r"\.[0-9a-f]{10}\.", ".", name))
            self.assertEqual((old.status, old.body, old.header("Cache-Control")), (200, plain.body, "no-cache"))
        # If-None-Match: exact, weak, in a list, "*"; else 200
        for inm, status in ((etag, 304), ("W/" + etag, 304), ('"x", ' + etag + ', "y"', 304),
                            ("*", 304), ('"nope"', 200), ('W/"nope", "other"', 200),
                            (etag.replace("-gz", ""), 200)):
            with self.subTest(inm=inm):
                r = c.get("/", headers={"Accept-Encoding": "gzip", "If-None-Match": inm})
                self.assertEqual(r.status, status)
                if status == 304:
                    self.assertEqual(r.body, b"")
                    self.assertEqual(r.header("ETag"), etag)
        # gzip;q=0 refuses the gzip form
        r = c.get("/", headers={"Accept-Encoding": "gzip;q=0, identity"})
        self.assertIsNone(r.header("Content-Encoding"))
        self.assertEqual(r.body.decode(), html)


if __name__ == "__main__":
    unittest.main()

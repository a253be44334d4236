"""Sessions list (issue 15 part C): GET /user/{handle}/session lists the
user's console sessions with a non-secret id, times, address, a browser
label from the User-Agent and which one is the caller's; DELETE ends one
(self or admin), its next request is 401, and the end is audited."""
import re
import unittest

from harness import assert_problem
from accounts import (API, DaemonCase, ApiClient, login, make_user, delete, upath,
                      session_cookie, with_cookie, remember, all_audit, RFC3339_RE, COOKIE)

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI_IOS = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
              "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1")
EDGE_WIN = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.87")
KEYS = {"id", "created", "last_seen", "address", "browser", "user_agent", "current"}


class UAClient(ApiClient):
    """A client that sends a User-Agent (and, optionally, a source address)."""

    def __init__(self, d, ua, source=None):
        super().__init__(d, source)
        self.ua = ua

    def request(self, method, path, body=None, headers=None, raw=None):
        h = {"User-Agent": self.ua}
        h.update(headers or {})
        return super().request(method, path, body=body, headers=h, raw=raw)


def ua_login(d, handle, password, ua, source=None):
    c = UAClient(d, ua, source)
    remember(d, password)
    r = c.post(API + "/login", {"handle": handle, "password": password})
    if r.status != 200:
        raise AssertionError("login %r failed: %r" % (handle, r))
    c.csrf = r.json.get("csrf_token")
    remember(d, c.csrf, session_cookie(c))
    return c


def sessions(tc, c, handle):
    r = c.get(upath(handle, "/session"))
    tc.assertEqual(r.status, 200, r)
    return r.json["items"]


class Sessions(DaemonCase, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.carol, cls.pw = make_user(cls.d, cls.admin, "carol")
        cls.dave, cls.dpw = make_user(cls.d, cls.admin, "dave")

    def test_list_shows_each_session_with_browser_and_current(self):
        fx = ua_login(self.d, "carol", self.pw, FIREFOX)
        ios = ua_login(self.d, "carol", self.pw, SAFARI_IOS, source="127.0.0.2")
        edge = ua_login(self.d, "carol", self.pw, EDGE_WIN)
        items = sessions(self, fx, "carol")
        self.assertGreaterEqual(len(items), 3)
        for s in items:
            self.assertEqual(set(s), KEYS, s)
            self.assertRegex(s["id"], r"^[0-9a-f]{32}$")
            self.assertRegex(s["created"], RFC3339_RE)
            self.assertRegex(s["last_seen"], RFC3339_RE)
        # never the cookie value, nor anything containing it
        for c in (fx, ios, edge):
            self.assertNotIn(session_cookie(c), repr(items))
            self.assertNotIn(c.csrf, repr(items))
        labels = {s["browser"]: s for s in items}
        self.assertIn("Firefox 128 on Linux", labels)
        self.assertIn("Safari 17 on iOS", labels)
        self.assertIn("Edge 126 on Windows", labels)
        self.assertEqual(labels["Safari 17 on iOS"]["address"], "127.0.0.2")
        self.assertEqual(labels["Firefox 128 on Linux"]["address"], "127.0.0.1")
        self.assertEqual(labels["Firefox 128 on Linux"]["user_agent"], FIREFOX)
        self.assertEqual([s["browser"] for s in items if s["current"]], ["Firefox 128 on Linux"])
        cur = [s["browser"] for s in sessions(self, ios, "carol") if s["current"]]
        self.assertEqual(cur, ["Safari 17 on iOS"])

    def test_user_agent_is_cut_and_sanitised(self):
        c = ua_login(self.d, "dave", self.dpw, "Evil\xe9<script>" + "x" * 600)
        mine = [s for s in sessions(self, c, "dave") if s["current"]][0]
        self.assertEqual(mine["browser"], "Unknown browser")
        self.assertEqual(len(mine["user_agent"]), 256)
        self.assertTrue(mine["user_agent"].startswith("Evil?<script>xxx"), mine)

    def test_end_one_session_its_next_request_is_401(self):
        a = ua_login(self.d, "carol", self.pw, FIREFOX)
        b = ua_login(self.d, "carol", self.pw, SAFARI_IOS)
        target = [s for s in sessions(self, b, "carol") if s["current"]][0]
        r = delete(a, upath("carol", "/session/" + target["id"]))
        self.assertEqual(r.status, 204, r)
        assert_problem(self, b.get(upath("carol")), 401)
        self.assertEqual(a.get(upath("carol")).status, 200)
        ids = [s["id"] for s in sessions(self, a, "carol")]
        self.assertNotIn(target["id"], ids)
        # once: a second end finds nothing
        assert_problem(self, delete(a, upath("carol", "/session/" + target["id"])), 404)
        rec = [x for x in all_audit(self, self.admin) if x["action_type"] == "session.end"
               and x["data"].get("session_id") == target["id"]]
        self.assertEqual(len(rec), 1, rec)
        self.assertEqual(rec[0]["actor_handle"], "carol")
        self.assertEqual(rec[0]["identity_handle"], "carol")
        self.assertEqual(rec[0]["data"]["browser"], "Safari 17 on iOS")

    def test_end_own_current_session_signs_out(self):
        a = ua_login(self.d, "carol", self.pw, FIREFOX)
        mine = [s for s in sessions(self, a, "carol") if s["current"]][0]
        self.assertEqual(delete(a, upath("carol", "/session/" + mine["id"])).status, 204)
        assert_problem(self, a.get(upath("carol", "/session")), 401)

    def test_admin_lists_and_ends_another_users_session(self):
        u = ua_login(self.d, "dave", self.dpw, FIREFOX)
        theirs = [s for s in sessions(self, self.admin, "dave") if s["browser"] == "Firefox 128 on Linux"]
        self.assertTrue(theirs)
        self.assertFalse(any(s["current"] for s in sessions(self, self.admin, "dave")))
        for s in theirs:
            self.assertEqual(delete(self.admin, upath("dave", "/session/" + s["id"])).status, 204)
        assert_problem(self, u.get(upath("dave")), 401)
        rec = [x for x in all_audit(self, self.admin) if x["action_type"] == "session.end"
               and x["identity_handle"] == "dave"]
        self.assertTrue(rec)
        self.assertEqual(rec[0]["actor_handle"], "admin")
        self.assertEqual(rec[0]["target_handle"], "dave")

    def test_another_user_cannot_see_or_end(self):
        c = ua_login(self.d, "carol", self.pw, FIREFOX)
        d = ua_login(self.d, "dave", self.dpw, FIREFOX)
        did = [s for s in sessions(self, d, "dave") if s["current"]][0]["id"]
        assert_problem(self, c.get(upath("dave", "/session")), 404)
        assert_problem(self, delete(c, upath("dave", "/session/" + did)), 404)
        # nor through their own path: the id is only looked up among theirs
        assert_problem(self, delete(c, upath("carol", "/session/" + did)), 404)
        self.assertEqual(d.get(upath("dave")).status, 200)

    def test_bad_ids_and_csrf(self):
        c = ua_login(self.d, "carol", self.pw, FIREFOX)
        for bad in ("nope", "0" * 31, "g" * 32, "0" * 33, session_cookie(c)):
            assert_problem(self, delete(c, upath("carol", "/session/" + bad)), 404)
        sid = [s for s in sessions(self, c, "carol") if s["current"]][0]["id"]
        saved, c.csrf = c.csrf, None
        assert_problem(self, delete(c, upath("carol", "/session/" + sid)), 403)
        c.csrf = saved
        self.assertEqual(c.get(upath("carol")).status, 200)
        anon = with_cookie(self.d, "x" * 43)
        assert_problem(self, anon.get(upath("carol", "/session")), 401)

    def test_bearer_token_lists_sessions_none_current(self):
        c = ua_login(self.d, "carol", self.pw, FIREFOX)
        r = c.post(upath("carol", "/token"), {"title": "t84"})
        self.assertEqual(r.status, 201, r)
        tok = r.json["token"]
        remember(self.d, tok)
        b = ApiClient(self.d)
        b.bearer = tok
        items = sessions(self, b, "carol")
        self.assertTrue(items)
        self.assertFalse(any(s["current"] for s in items))


if __name__ == "__main__":
    unittest.main()

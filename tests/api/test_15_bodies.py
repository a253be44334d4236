"""Request bodies: whatever arrives, the answer is a 4xx problem+json, the
daemon lives on, and nothing is written (same version_id, no audit record)."""
import itertools
import json
import string
import unittest

from harness import assert_problem
from accounts import (API, DaemonCase, login, try_login, make_user, remember, patch, put,
                      upath, assert_invalid, all_audit, new_password, client)

LIMIT = 64 * 1024


def nest(depth, inner=b'"x"'):
    return b"[" * depth + inner + b"]" * depth


def nest_obj(depth):
    return b'{"a":' * depth + b'"x"' + b"}" * depth


# (name, raw body, expected status, validation location or None)
BAD_BODIES = [
    # malformed JSON
    ("unterminated", b'{"display_name":', 400, None),
    ("unterminated string", b'{"display_name":"x', 400, None),
    ("missing brace", b'{"display_name":"x"', 400, None),
    ("unquoted key", b'{display_name:"x"}', 400, None),
    ("single quotes", b"{'display_name':'x'}", 400, None),
    ("trailing comma", b'{"display_name":"x",}', 400, None),
    ("comment", b'{"display_name":"x" /* hi */}', 400, None),
    ("bare word", b"nul", 400, None),
    ("NaN", b'{"display_name":NaN}', 400, None),
    ("bad escape", b'{"display_name":"\\q"}', 400, None),
    ("raw newline in string", b'{"display_name":"a\nb"}', 400, None),
    # not an object
    ("array", b"[]", 400, None),
    ("string", b'"x"', 400, None),
    ("null", b"null", 400, None),
    ("number", b"5", 400, None),
    # wrong types
    ("display_name number", b'{"display_name":5}', 400, "body.display_name"),
    ("display_name bool", b'{"display_name":true}', 400, "body.display_name"),
    ("display_name array", b'{"display_name":["x"]}', 400, "body.display_name"),
    ("display_name object", b'{"display_name":{"a":1}}', 400, "body.display_name"),
    ("display_name huge number", b'{"display_name":1e999}', 400, None),
    ("avatar_url number", b'{"avatar_url":5}', 400, "body.avatar_url"),
    ("handle number", b'{"handle":5}', 400, "body.handle"),
    ("handle null", b'{"handle":null}', 400, "body.handle"),
    # unknown fields (incl. ones the caller must never set)
    ("unknown field", b'{"display_name":"x","nickname":"y"}', 400, "body.nickname"),
    ("role", b'{"role":"admin"}', 400, "body.role"),
    ("status", b'{"status":"disabled"}', 400, "body.status"),
    ("id", b'{"id":"u_aaaaaaaaaaaaaaaaaaaa"}', 400, "body.id"),
    ("version_id", b'{"version_id":99}', 400, "body.version_id"),
    ("email", b'{"email":"x@example.com"}', 400, "body.email"),
    ("key case", b'{"Display_Name":"x"}', 400, "body.Display_Name"),
    # invalid UTF-8 (and UTF-8 that is not Unicode text)
    ("invalid byte", b'{"display_name":"\xff"}', 400, None),
    ("truncated sequence", b'{"display_name":"\xc3"}', 400, None),
    ("overlong slash", b'{"display_name":"\xc0\xaf"}', 400, None),
    ("encoded surrogate", b'{"display_name":"\xed\xa0\x80"}', 400, None),
    ("above U+10FFFF", b'{"display_name":"\xf4\x90\x80\x80"}', 400, None),
    ("invalid byte in key", b'{"display_name\xff":"x"}', 400, None),
    ("lone surrogate escape", b'{"display_name":"\\ud800"}', 400, None),
    ("lone low surrogate escape", b'{"display_name":"a\\udc00b"}', 400, None),
    # nesting
    ("array nesting 20", b'{"display_name":' + nest(20) + b"}", 400, None),
    ("object nesting 20", b'{"display_name":' + nest_obj(20) + b"}", 400, None),
    ("nesting 17 at top", b"[" * 17 + b"]" * 17, 400, None),
    ("object nesting 17 at top", b'{"a":' * 16 + b"{}" + b"}" * 16, 400, None),
    ("nesting 30000", b'{"display_name":' + nest(30000) + b"}", 400, None),
    ("unclosed nesting 60000", b"[" * 60000, 400, None),
    # duplicate keys
    ("duplicate key", b'{"display_name":"a","display_name":"b"}', 400, None),
    ("duplicate key apart", b'{"display_name":"a","avatar_url":null,"display_name":"a"}', 400, None),
    ("duplicate escaped key", b'{"display_name":"a","display\\u005fname":"b"}', 400, None),
    # trailing garbage
    ("trailing word", b'{"display_name":"x"} x', 400, None),
    ("two objects", b'{"display_name":"x"}{}', 400, None),
    ("trailing NUL", b'{"display_name":"x"}\x00', 400, None),
    ("NUL inside", b'{"display_name":"x"\x00}', 400, None),
    # empty
    ("empty body", b"", 400, None),
    ("only whitespace", b" \r\n\t ", 400, None),
    # too large
    ("64 KiB + 1, valid JSON", b'{"display_name":"x"}' + b" " * (LIMIT + 1 - 20), 413, None),
    ("70 KB string", b'{"display_name":"' + b"x" * 70000 + b'"}', 413, None),
]


class Bodies(DaemonCase, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.u, cls.pw = make_user(cls.d, cls.admin, "body", display_name="Body")
        cls.c = login(cls.d, "body", cls.pw)

    def state(self):
        r = self.admin.get(upath("body"))
        self.assertEqual(r.status, 200, r)
        return r.json

    def test_patch_bad_bodies(self):
        before = self.state()
        n_audit = len(all_audit(self, self.admin))
        for name, raw, status, loc in BAD_BODIES:
            with self.subTest(body=name):
                self.assertEqual(status == 413, len(raw) > LIMIT)
                r = patch(self.c, upath("body"), raw=raw)
                assert_problem(self, r, status)
                if loc:
                    assert_invalid(self, r, loc)
                self.assertEqual(self.state(), before)
        self.assertEqual(len(all_audit(self, self.admin)), n_audit)
        self.assertEqual(client(self.d).get("/healthz").status, 200)
        self.assertEqual(self.c.get(API + "/actor").status, 200)

    def test_exactly_64k_is_accepted(self):
        raw = b'{"display_name":"Sixty-four"}'
        raw += b" " * (LIMIT - len(raw))
        self.assertEqual(len(raw), LIMIT)
        v = self.state()["version_id"]
        r = patch(self.c, upath("body"), raw=raw)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["display_name"], "Sixty-four")
        self.assertEqual(r.json["version_id"], v + 1)

    def test_nesting_16_is_not_a_syntax_error(self):
        # 16 levels of containers (the object + 15 arrays, the innermost
        # empty) pass the parser; the value is then of the wrong type
        raw = b'{"display_name":' + b"[" * 15 + b"]" * 15 + b"}"
        r = patch(self.c, upath("body"), raw=raw)
        assert_invalid(self, r, "body.display_name")
        # 17 levels do not
        raw = b'{"display_name":' + b"[" * 16 + b"]" * 16 + b"}"
        p = assert_problem(self, patch(self.c, upath("body"), raw=raw), 400)
        self.assertNotIn("body.display_name", [e.get("location") for e in
                                                p.get("validation_errors") or []])

    def test_escaped_unicode_is_fine(self):
        r = patch(self.c, upath("body"), raw=b'{"display_name":"\\u00e9t\\u00e9 \\ud83d\\ude00"}')
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["display_name"], "\u00e9t\u00e9 \U0001F600")

    def test_login_bad_bodies(self):
        n_audit = len(all_audit(self, self.admin))
        # every bad body is bad for /login too (its fields are only handle, password)
        for name, raw, status, _ in BAD_BODIES:
            with self.subTest(body=name):
                r = client(self.d).post(API + "/login", raw=raw)
                assert_problem(self, r, status)
        for name, body in (("no password", {"handle": "body"}),
                           ("no handle", {"password": self.pw}),
                           ("number password", {"handle": "body", "password": 12345678}),
                           ("extra field", {"handle": "body", "password": self.pw, "remember": True})):
            with self.subTest(body=name):
                r = client(self.d).post(API + "/login", body)
                assert_problem(self, r, 400)
                self.assertIsNone(r.header("Set-Cookie"))
        self.assertEqual(len(all_audit(self, self.admin)), n_audit)

    def test_thousands_of_keys_answer_small(self):
        """Issue 9, finding 10: 7,766 unknown keys in 62 KB used to cost
        0.13 s of CPU (an O(n^2) duplicate check) and a 388 KB answer listing
        every key. The check is O(n log n) now and validation_errors lists
        20 fields plus one entry counting the rest."""
        alpha = string.ascii_lowercase + string.digits
        keys = ["".join(t) for t in itertools.islice(itertools.product(alpha, repeat=3), 7766)]
        raw = ("{" + ",".join('"%s":0' % k for k in keys) + "}").encode()
        self.assertLessEqual(len(raw), LIMIT)
        for path, c in ((API + "/login", client(self.d)), (upath("body"), self.c)):
            with self.subTest(path=path):
                r = c.request("POST" if path.endswith("login") else "PATCH", path, raw=raw)
                p = assert_problem(self, r, 400)
                self.assertLess(len(r.body), 4096, "a %d-byte answer" % len(r.body))
                v = p["validation_errors"]
                self.assertEqual(len(v), 21)
                self.assertEqual([e["location"] for e in v[:20]], ["body." + k for k in keys[:20]])
                self.assertEqual(v[20], {"location": "body",
                                         "message": "7746 more unknown fields not listed"})
        # the same keys with the first repeated at the end: one duplicate
        dup = raw[:-1] + (',"%s":1}' % keys[0]).encode()
        p = assert_problem(self, client(self.d).post(API + "/login", raw=dup), 400)
        self.assertEqual(p["detail"], "duplicate key")
        self.assertEqual(client(self.d).get("/healthz").status, 200)

    def test_admin_create_bad_bodies(self):
        pw = new_password()
        remember(self.d, pw)
        for name, body in (
                ("unknown field", {"handle": "zz1", "email": "zz@example.com", "is_admin": True}),
                ("status", {"handle": "zz2", "email": "zz@example.com", "status": "active"}),
                ("id", {"handle": "zz3", "email": "zz@example.com", "id": "u_aaaaaaaaaaaaaaaaaaaa"}),
                ("role number", {"handle": "zz4", "email": "zz@example.com", "role": 1}),
                ("password number", {"handle": "zz5", "email": "zz@example.com", "password": 12345678}),
                ("handle array", {"handle": ["zz6"], "email": "zz@example.com"})):
            with self.subTest(body=name):
                r = self.admin.post(API + "/admin/user", body)
                assert_problem(self, r, 400)
        for h in ("zz1", "zz2", "zz3", "zz4", "zz5", "zz6"):
            assert_problem(self, self.admin.get(upath(h)), 404)
        r = self.admin.post(API + "/admin/user",
                            raw=b'{"handle":"zz7","email":"zz@example.com","handle":"zz8"}')
        assert_problem(self, r, 400)
        assert_problem(self, self.admin.get(upath("zz7")), 404)
        assert_problem(self, self.admin.get(upath("zz8")), 404)

    def test_console_password_bad_bodies(self):
        new = new_password()
        remember(self.d, new)
        for name, raw in (
                ("extra field", json.dumps({"current_password": self.pw, "new_password": new,
                                            "logout_others": False}).encode()),
                ("number", json.dumps({"current_password": self.pw, "new_password": 123456789}).encode()),
                ("duplicate", ('{"current_password":%s,"new_password":%s,"new_password":%s}'
                               % (json.dumps(self.pw), json.dumps(new), json.dumps(new))).encode()),
                ("trailing", json.dumps({"current_password": self.pw,
                                         "new_password": new}).encode() + b"]"),
                ("empty", b"")):
            with self.subTest(body=name):
                r = put(self.c, upath("body", "/console_password"), raw=raw)
                assert_problem(self, r, 400)
                self.assertNotIn(self.pw.encode(), r.body)
                self.assertNotIn(new.encode(), r.body)
        self.assertEqual(try_login(self.d, "body", self.pw)[0].status, 200)
        self.assertEqual(try_login(self.d, "body", new)[0].status, 401)


if __name__ == "__main__":
    unittest.main()

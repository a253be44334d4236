"""Authorization: Bearer spt_…: who it signs in, no CSRF needed, the same
reach as the user (404 on other users, 403 on /admin), every kind of bad
token is a 401 that leaves the daemon serving, last_used_at/_ip, and a
throughput note (Bearer vs session cookie)."""
import random
import time
import unittest

from creds import (API, B32, CredCase, bearer_client, client, crc_chars,
                   parse_rfc3339, with_checksum)
from harness import assert_problem


class Bearer(CredCase, unittest.TestCase):
    extra = {"tokens": {"max_per_user": 5}}

    @classmethod
    def prepare(cls):
        cls.bob_h, cls.bob, cls.bob_u = cls.user("bob")

    def setUp(self):
        self.h, self.c, self.u = self.user()
        self.t = self.new_token(self.c, self.h, {"title": "bearer"})
        self.tok = self.t["token"]
        self.b = bearer_client(self.d, self.tok)

    def test_actor(self):
        r = self.b.get(API + "/actor")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["handle"], self.h)
        self.assertEqual(r.json["id"], self.u["id"])
        self.assertEqual(self.b.cookies, {})         # a token never gets a session
        r = self.b.get("%s/user/%s" % (API, self.h))
        self.assertEqual((r.status, r.json["id"]), (200, self.u["id"]))

    def test_patch_profile_without_csrf(self):
        self.assertIsNone(self.b.csrf)
        r = self.b.request("PATCH", "%s/user/%s" % (API, self.h), body={"display_name": "Via Token"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["display_name"], "Via Token")
        self.assertEqual(self.c.get("%s/user/%s" % (API, self.h)).json["display_name"], "Via Token")
        # the audit names the user as the actor
        recs = self.c.get("%s/user/%s/audit" % (API, self.h)).json["items"]
        self.assertEqual((recs[0]["action_type"], recs[0]["actor_handle"]), ("user.update", self.h))

    def test_other_users_paths_are_404(self):
        before = self.bob.get(API + "/user/bob/token").json["items"]
        pw = self.bob.get(API + "/user/bob/password").json
        self.saw(pw["password"])
        for m, p in (("GET", "/user/bob"), ("GET", "/user/bob/token"), ("POST", "/user/bob/token"),
                     ("GET", "/user/bob/password"), ("POST", "/user/bob/password"),
                     ("GET", "/user/bob/workspace"), ("GET", "/user/bob/audit"),
                     ("PATCH", "/user/bob"), ("POST", "/user/bob/token_reset")):
            body = {"display_name": "x"} if m == "PATCH" else None
            assert_problem(self, self.b.request(m, API + p, body=body), 404)
        # nothing of bob's changed
        self.assertEqual(self.bob.get(API + "/user/bob/token").json["items"], before)
        self.assertEqual(self.bob.get(API + "/actor").status, 200)    # bob's session lives
        self.assertEqual(self.bob.get(API + "/user/bob/password").json, pw)
        self.assertIsNone(self.bob.get(API + "/user/bob").json["display_name"])

    def test_non_admin_on_admin_routes_is_403(self):
        assert_problem(self, self.b.get(API + "/admin/user"), 403)
        assert_problem(self, self.b.post(API + "/admin/user", {"handle": "mallory", "email": "m@x.test"}), 403)
        assert_problem(self, self.b.get(API + "/admin/audit"), 403)

    def test_admin_token_reaches_admin_routes(self):
        t = self.new_token(self.admin, "admin")
        r = bearer_client(self.d, t["token"]).get(API + "/admin/user")
        self.assertEqual(r.status, 200, r)
        r = self.admin.request("DELETE", "%s/user/admin/token/%s" % (API, t["id"]))
        self.assertEqual(r.status, 204, r)

    def test_checksum_encoder_matches_the_daemon(self):
        for _ in range(3):
            tok = self.new_token(self.c, self.h)["token"]
            self.assertEqual(crc_chars(tok[:-7]), tok[-7:], tok)
            self.assertEqual(with_checksum(tok[:-7]), tok)

    def tampered(self):
        tok = self.tok
        self.assertEqual(crc_chars(tok[:-7]), tok[-7:])
        sec_at = 25 + 10                      # a char inside the 26 secret chars
        other = B32[(B32.index(tok[sec_at]) + 1) % 32]
        changed = tok[:sec_at] + other + tok[sec_at + 1:]
        rnd_id = "".join(random.choice("0123456789abcdefghijklmnopqrstuv") for _ in range(20))
        bob_tok = self.new_token(self.bob, "bob")
        return {
            "secret char changed, old checksum": changed,
            "secret char changed, checksum recomputed": with_checksum(changed[:-7]),
            "check char changed": tok[:-1] + B32[(B32.index(tok[-1]) + 1) % 32],
            "wrong prefix": "x" + tok[1:],
            "wrong prefix, checksum recomputed": with_checksum("x" + tok[1:-7]),
            "unknown id, valid checksum": with_checksum("spt_" + rnd_id + tok[24:-7]),
            "bob's id with this secret, valid checksum":
                with_checksum("spt_" + bob_tok["id"][2:] + tok[24:-7]),
            "upper case": tok.upper(),
            "truncated": tok[:-1],
            "one char more": tok + "a",
            "empty": "",
            "spaces": "   ",
            "10 KB": "spt_" + "a" * 10240,
            "not ascii": tok[:-7] + "\u00e9" * 7,
        }

    def test_bad_tokens_are_401_and_the_daemon_lives(self):
        for why, bad in self.tampered().items():
            if bad != "":
                self.assertNotEqual(bad, self.tok, why)
            c = client(self.d)
            h = {"Authorization": ("Bearer " + bad).encode("utf-8")}
            r = c.request("GET", API + "/actor", headers=h)
            with self.subTest(why):
                self.assert_401_bearer(r)
            c.close()
            self.assertEqual(client(self.d).get("/healthz").status, 200, why)
        # other schemes
        for authz in ("Basic eHl6OnBhc3M=", "Basic xyz", "Bearer", "bearer", "Token " + self.tok,
                      self.tok):
            r = client(self.d).request("GET", API + "/actor", headers={"Authorization": authz})
            with self.subTest(authz[:20]):
                self.assert_401_bearer(r)
        # the real token still works after all that, and was never marked used
        g = self.c.get("%s/user/%s/token/%s" % (API, self.h, self.t["id"])).json
        self.assertIsNone(g["last_used_at"])
        self.assertEqual(self.b.get(API + "/actor").status, 200)

    def test_valid_cookie_does_not_rescue_a_bad_token(self):
        bad = self.tok[:-1] + ("1" if self.tok[-1] == "0" else "0")
        self.assert_401_bearer(self.c.get(API + "/actor", headers={"Authorization": "Bearer " + bad}))

    def test_disabled_users_token_is_401(self):
        self.assertEqual(self.b.get(API + "/actor").status, 200)
        r = self.admin.post("%s/admin/user/%s/disable" % (API, self.h))
        self.assertEqual(r.status, 200, r)
        self.assert_401_bearer(self.b.get(API + "/actor"))
        r = self.admin.post("%s/admin/user/%s/enable" % (API, self.h))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.b.get(API + "/actor").status, 200)

    def test_token_survives_a_handle_change(self):
        new = self.h + "x"
        r = self.b.request("PATCH", "%s/user/%s" % (API, self.h), body={"handle": new})
        self.assertEqual(r.status, 200, r)
        r = self.b.get(API + "/actor")
        self.assertEqual((r.status, r.json["handle"]), (200, new))
        r = self.b.get("%s/user/%s/token/%s" % (API, new, self.t["id"]))
        self.assertEqual(r.status, 200, r)
        assert_problem(self, self.b.get("%s/user/%s" % (API, self.h)), 404)

    def test_last_used(self):
        path = "%s/user/%s/token/%s" % (API, self.h, self.t["id"])
        g = self.c.get(path).json
        self.assertIsNone(g["last_used_at"])
        self.assertIsNone(g["last_used_ip"])
        t0 = time.time()
        self.assertEqual(self.b.get(API + "/actor").status, 200)
        g = self.c.get(path).json
        self.assertIsNotNone(g["last_used_at"])
        self.assertLessEqual(abs(parse_rfc3339(g["last_used_at"]) - t0), 5)
        self.assertEqual(g["last_used_ip"], "127.0.0.1")
        # using a token is not a change of the token
        self.assertEqual(g["version_id"], 1)

    def test_burst_of_requests(self):
        path = "%s/user/%s/token/%s" % (API, self.h, self.t["id"])
        for _ in range(50):
            self.assertEqual(self.b.get(API + "/actor").status, 200)
        g = self.c.get(path).json
        # written at most once per ~5 s: only "it was written" is asserted
        self.assertIsNotNone(g["last_used_at"])
        self.assertEqual(g["last_used_ip"], "127.0.0.1")

    def test_perf_note_bearer_vs_cookie(self):
        """Not an assertion: requests/s of GET /api/v0/actor, one keep-alive
        connection each, 2 s each."""
        def rate(c):
            c.get(API + "/actor")
            n, t0 = 0, time.monotonic()
            while time.monotonic() - t0 < 2.0:
                r = c.get(API + "/actor")
                self.assertEqual(r.status, 200, r)
                n += 1
            return n / (time.monotonic() - t0)
        b = rate(bearer_client(self.d, self.tok))
        s = rate(self.c)
        print("\n    perf: GET /api/v0/actor: Bearer %.0f req/s, session cookie %.0f req/s "
              "(one keep-alive connection each)" % (b, s), end=" ... ")


if __name__ == "__main__":
    unittest.main()

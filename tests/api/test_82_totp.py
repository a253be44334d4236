"""Two-factor sign-in (issue 15 part B): enrolment, confirmation, sign-in
with a TOTP code or a recovery code, clock skew, replay, the limiter,
turning it off. Codes are computed here, independently of acctd, with
Python's hmac/hashlib and base64 (RFC 6238: SHA-1, 6 digits, 30 s)."""
import base64
import hashlib
import hmac
import struct
import time
import unittest
import urllib.parse

from harness import assert_problem
from accounts import (API, COOKIE, DaemonCase, all_audit, assert_invalid, client,
                      delete, login, make_user, remember, uniq, upath)


def hotp(secret_b32, counter, digits=6):
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    off = mac[-1] & 0x0F
    n = struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF
    return "%0*d" % (digits, n % 10 ** digits)


def step_now(margin=4):
    """The current 30 s step, at least `margin` seconds from either edge, so
    the daemon sees the same step when the request arrives."""
    while True:
        t = time.time()
        if margin <= t % 30 <= 30 - margin:
            return int(t // 30)
        time.sleep(30 - t % 30 + margin + 0.1 if t % 30 > 30 - margin else margin - t % 30 + 0.1)


def code(secret, delta=0):
    return hotp(secret, step_now() + delta)


def enrol(tc, c, handle, delta=0):
    """POST …/totp then …/confirm with the code of the current step + delta:
    (secret, recovery codes)."""
    r = c.post(upath(handle, "/totp"))
    tc.assertEqual(r.status, 201, r)
    secret = r.json["secret"]
    remember(c.daemon, secret)
    r2 = c.post(upath(handle, "/totp/confirm"), {"code": code(secret, delta)})
    tc.assertEqual(r2.status, 200, r2)
    remember(c.daemon, *r2.json["recovery_codes"])
    return secret, r2.json["recovery_codes"]


def password_step(tc, d, handle, pw):
    """POST /login for a user with a second factor: the ticket."""
    c = client(d)
    remember(d, pw)
    r = c.post(API + "/login", {"handle": handle, "password": pw})
    tc.assertEqual(r.status, 200, r)
    tc.assertEqual(set(r.json), {"second_factor", "ticket", "expires_in"})
    tc.assertEqual(r.json["second_factor"], "totp")
    tc.assertIsNone(c.cookies.get(COOKIE), "no session before the second factor")
    remember(d, r.json["ticket"])
    return c, r.json["ticket"]


def second_step(c, ticket, **proof):
    body = {"ticket": ticket}
    body.update(proof)
    r = c.post(API + "/login/totp", body)
    if r.status == 200:
        c.csrf = r.json["csrf_token"]
        remember(c.daemon, c.csrf, c.cookies.get(COOKIE))
    return r


class Totp(DaemonCase, unittest.TestCase):
    def user(self):
        """A fresh user signed in, with their password and client."""
        h = uniq("tf")
        _, pw = make_user(self.d, self.admin, h)
        return h, pw, login(self.d, h, pw)

    def test_enrol_answer_and_state(self):
        h, _, c = self.user()
        self.assertEqual(c.get(upath(h, "/totp")).json["state"], "off")
        r = c.post(upath(h, "/totp"))
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.header("Cache-Control"), "no-store")
        secret = r.json["secret"]
        remember(self.d, secret)
        self.assertRegex(secret, r"^[A-Z2-7]{32}$")          # 20 bytes, base32
        self.assertEqual(len(base64.b32decode(secret)), 20)
        u = urllib.parse.urlparse(r.json["uri"])
        self.assertEqual((u.scheme, u.netloc, urllib.parse.unquote(u.path)),
                         ("otpauth", "totp", "/acctd:" + h))
        q = urllib.parse.parse_qs(u.query)
        self.assertEqual(q["secret"], [secret])
        self.assertEqual(q["issuer"], ["acctd"])
        self.assertEqual(r.json["state"], "pending")
        self.assertEqual(c.get(upath(h, "/totp")).json["state"], "pending")
        # a second enrolment while pending replaces the secret
        r2 = c.post(upath(h, "/totp"))
        self.assertEqual(r2.status, 201, r2)
        remember(self.d, r2.json["secret"])
        self.assertNotEqual(r2.json["secret"], secret)
        # the old secret's code no longer confirms
        assert_invalid(self, c.post(upath(h, "/totp/confirm"), {"code": code(secret)}),
                       "body.code")
        r3 = c.post(upath(h, "/totp/confirm"), {"code": code(r2.json["secret"])})
        self.assertEqual(r3.status, 200, r3)
        codes = r3.json["recovery_codes"]
        remember(self.d, *codes)
        self.assertEqual(len(codes), 10)
        self.assertEqual(len(set(codes)), 10)
        st = c.get(upath(h, "/totp")).json
        self.assertEqual(st["state"], "on")
        self.assertEqual(st["recovery_codes_left"], 10)
        self.assertNotIn("secret", st)
        # on: no new enrolment until it is turned off
        assert_problem(self, c.post(upath(h, "/totp")), 409)
        # the secret is never in the store in the clear
        data = open(self.d.settings["data_dir"] + "/data.mdb", "rb").read()
        self.assertNotIn(r2.json["secret"].encode(), data)
        self.assertNotIn(base64.b32decode(r2.json["secret"]), data)
        for rc in codes:
            self.assertNotIn(rc.encode(), data)

    def test_confirm_bad_input(self):
        h, _, c = self.user()
        assert_problem(self, c.post(upath(h, "/totp/confirm"), {"code": "123456"}), 409)
        c.post(upath(h, "/totp"))
        for bad in ("12345", "1234567", "abcdef", ""):
            p = assert_invalid(self, c.post(upath(h, "/totp/confirm"), {"code": bad}),
                               "body.code")
            self.assertIn("6 digits", str(p))
        assert_invalid(self, c.post(upath(h, "/totp/confirm"), {}), "body.code")
        self.assertEqual(c.get(upath(h, "/totp")).json["state"], "pending")

    def test_sign_in_with_code_and_skew(self):
        h, pw, c = self.user()
        # the authenticator's clock one step behind: the confirmation takes it
        secret, _ = enrol(self, c, h, delta=-1)
        first = step_now()
        # a sign-in one step behind needs a step not used yet: wait for the next
        while step_now() <= first:
            time.sleep(1)
        # -1 step, then +1: both accepted
        for delta in (-1, 1):
            c2, tk = password_step(self, self.d, h, pw)
            r = second_step(c2, tk, code=code(secret, delta))
            self.assertEqual(r.status, 200, (delta, r))
            self.assertEqual(set(r.json), {"user", "csrf_token"})
            self.assertEqual(r.json["user"]["handle"], h)
            self.assertEqual(c2.get(API + "/actor").status, 200)
        # ±2 steps refused; the ticket survives a wrong code
        c3, tk = password_step(self, self.d, h, pw)
        for delta in (-2, 2):
            p = assert_problem(self, second_step(c3, tk, code=code(secret, delta)), 401)
            self.assertEqual(p["detail"], "wrong code")
        self.assertIsNone(c3.cookies.get(COOKIE))
        # +2 stays refused however often it is tried: nothing moved
        p = assert_problem(self, second_step(c3, tk, code=code(secret, 2)), 401)

    def test_replay_refused(self):
        h, pw, c = self.user()
        secret, _ = enrol(self, c, h)
        # the confirmation used the current step: it cannot sign in
        c1, tk = password_step(self, self.d, h, pw)
        assert_problem(self, second_step(c1, tk, code=code(secret)), 401)
        # a later step works once, then neither it nor an earlier one
        r = second_step(c1, tk, code=code(secret, 1))
        self.assertEqual(r.status, 200, r)
        c2, tk2 = password_step(self, self.d, h, pw)
        assert_problem(self, second_step(c2, tk2, code=code(secret, 1)), 401)
        assert_problem(self, second_step(c2, tk2, code=code(secret, 0)), 401)

    def test_ticket_single_use_and_unknown(self):
        h, pw, c = self.user()
        secret, codes = enrol(self, c, h)
        c1, tk = password_step(self, self.d, h, pw)
        self.assertEqual(second_step(c1, tk, recovery_code=codes[0]).status, 200)
        p = assert_problem(self, second_step(client(self.d), tk, recovery_code=codes[1]), 401)
        self.assertIn("sign in again", p["detail"])
        assert_problem(self, second_step(client(self.d), "x" * 43, code="123456"), 401)
        # a malformed second step is a 400 naming the field
        assert_invalid(self, client(self.d).post(API + "/login/totp", {"code": "123456"}),
                       "body.ticket")
        assert_invalid(self, client(self.d).post(API + "/login/totp",
                                                 {"ticket": tk, "code": "12"}), "body.code")
        assert_problem(self, client(self.d).post(API + "/login/totp",
                                                 {"ticket": tk, "code": "123456",
                                                  "recovery_code": codes[2]}), 400)

    def test_recovery_code_single_use(self):
        h, pw, c = self.user()
        _, codes = enrol(self, c, h)
        c1, tk = password_step(self, self.d, h, pw)
        r = second_step(c1, tk, recovery_code=codes[3].upper())
        self.assertEqual(r.status, 200, r)
        self.assertEqual(c.get(upath(h, "/totp")).json["recovery_codes_left"], 9)
        c2, tk2 = password_step(self, self.d, h, pw)
        p = assert_problem(self, second_step(c2, tk2, recovery_code=codes[3]), 401)
        self.assertEqual(p["detail"], "wrong recovery code")
        self.assertEqual(second_step(c2, tk2, recovery_code=codes[4]).status, 200)

    def test_wrong_password_no_ticket(self):
        h, pw, c = self.user()
        enrol(self, c, h)
        r = client(self.d).post(API + "/login", {"handle": h, "password": pw + "x"})
        assert_problem(self, r, 401)
        self.assertNotIn("ticket", r.json)

    def test_disable(self):
        h, pw, c = self.user()
        secret, _ = enrol(self, c, h)
        r = delete(c, upath(h, "/totp"), body={})
        assert_invalid(self, r, "body")
        assert_invalid(self, delete(c, upath(h, "/totp"), body={"password": pw + "x"}),
                       "body.password")
        assert_invalid(self, delete(c, upath(h, "/totp"), body={"code": "000000"
                                                                if code(secret) != "000000"
                                                                else "111111"}),
                       "body.code")
        self.assertEqual(c.get(upath(h, "/totp")).json["state"], "on")
        r = delete(c, upath(h, "/totp"), body={"password": pw})
        self.assertEqual(r.status, 204, r)
        self.assertEqual(c.get(upath(h, "/totp")).json["state"], "off")
        assert_problem(self, delete(c, upath(h, "/totp"), body={"password": pw}), 409)
        # sign-in is one step again
        self.assertEqual(login(self.d, h, pw).get(API + "/actor").status, 200)
        # re-enrol, turn off with a code
        secret, _ = enrol(self, c, h)
        self.assertEqual(delete(c, upath(h, "/totp"), body={"code": code(secret, 1)}).status,
                         204)

    def test_admin_cannot_enrol_for_others(self):
        h, _, _ = self.user()
        p = assert_problem(self, self.admin.post(upath(h, "/totp")), 403)
        self.assertIn("totp_reset", p["detail"])
        # and another user cannot see it at all
        h2, _, c2 = self.user()
        assert_problem(self, c2.get(upath(h, "/totp")), 404)

    def test_audit_records(self):
        h, pw, c = self.user()
        secret, codes = enrol(self, c, h)
        c1, tk = password_step(self, self.d, h, pw)
        assert_problem(self, second_step(c1, tk, code=code(secret, -2)), 401)
        self.assertEqual(second_step(c1, tk, code=code(secret, 1)).status, 200)
        c2, tk2 = password_step(self, self.d, h, pw)
        self.assertEqual(second_step(c2, tk2, recovery_code=codes[0]).status, 200)
        self.assertEqual(delete(c, upath(h, "/totp"), body={"password": pw}).status, 204)
        recs = [a for a in all_audit(self, self.admin) if a.get("identity_handle") == h]
        acts = [(a["action_type"], (a.get("data") or {}).get("factor")) for a in recs]
        for want in (("user.totp.enrol", None), ("user.totp.enable", None),
                     ("session.login_failed", "totp"), ("session.login", "totp"),
                     ("session.login", "recovery_code"), ("user.totp.disable", "password")):
            self.assertIn(want, acts, acts)
        text = str(recs)
        for s in [secret] + codes:
            self.assertNotIn(s, text)


class TotpLimiter(DaemonCase, unittest.TestCase):
    extra = {"login": {"max_failures": 3, "window": 300, "lockout": 60}}

    def test_second_factor_failures_lock_out(self):
        h = uniq("lim")
        _, pw = make_user(self.d, self.admin, h)
        c = login(self.d, h, pw)
        secret, _ = enrol(self, c, h)
        wrong = "000000" if code(secret) != "000000" else "111111"
        c1, tk = password_step(self, self.d, h, pw)
        for _ in range(3):
            assert_problem(self, second_step(c1, tk, code=wrong), 401)
        # locked out: even the right code is refused now, and so is a password
        r = second_step(c1, tk, code=code(secret, 1))
        assert_problem(self, r, 429)
        self.assertTrue(r.header("Retry-After"))
        assert_problem(self, client(self.d).post(API + "/login",
                                                 {"handle": h, "password": pw}), 429)


if __name__ == "__main__":
    unittest.main()

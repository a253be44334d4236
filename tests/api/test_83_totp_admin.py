"""Two-factor sign-in, the administrator's side (issue 15 part B): an
admin resets a user's second factor; login.require_2fa_for_admins holds an
admin's console session to the enrolment routes until they have one; the
setting's config check."""
import os
import subprocess
import unittest

from harness import BIN, Daemon, assert_problem
from accounts import (API, DaemonCase, all_audit, client, delete, login, make_user,
                      remember, uniq, upath)
from test_82_totp import code, enrol, password_step, second_step


class TotpReset(DaemonCase, unittest.TestCase):
    def test_admin_reset(self):
        h = uniq("rs")
        _, pw = make_user(self.d, self.admin, h)
        c = login(self.d, h, pw)
        enrol(self, c, h)
        # the user cannot reset themself by the admin route
        assert_problem(self, c.post(API + "/admin/user/%s/totp_reset" % h), 403)
        r = self.admin.post(API + "/admin/user/%s/totp_reset" % h)
        self.assertEqual(r.status, 204, r)
        self.assertEqual(self.admin.get(upath(h, "/totp")).json["state"], "off")
        # one step again
        self.assertEqual(login(self.d, h, pw).get(API + "/actor").status, 200)
        assert_problem(self, self.admin.post(API + "/admin/user/%s/totp_reset" % h), 409)
        assert_problem(self, self.admin.post(API + "/admin/user/nosuchuser/totp_reset"), 404)
        recs = [a for a in all_audit(self, self.admin)
                if a["action_type"] == "user.totp.reset" and a.get("target_handle") == h]
        self.assertEqual(len(recs), 1, recs)
        self.assertEqual(recs[0]["actor_handle"], "admin")

    def test_reset_voids_pending_ticket(self):
        h = uniq("rt")
        _, pw = make_user(self.d, self.admin, h)
        c = login(self.d, h, pw)
        secret, _ = enrol(self, c, h)
        c1, tk = password_step(self, self.d, h, pw)
        self.assertEqual(self.admin.post(API + "/admin/user/%s/totp_reset" % h).status, 204)
        p = assert_problem(self, second_step(c1, tk, code=code(secret, 1)), 401)
        self.assertIn("sign in again", p["detail"])


class RequireForAdmins(DaemonCase, unittest.TestCase):
    extra = {"login": {"max_failures": 1000, "window": 1, "lockout": 1,
                       "require_2fa_for_admins": True}}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # the bootstrap admin enrols first: until then it may not create users
        r = cls.admin.post(API + "/admin/user", {"handle": "early", "email": "e@example.com"})
        assert r.status == 403, r
        r = cls.admin.post(upath("admin", "/totp"))
        assert r.status == 201, r
        remember(cls.d, r.json["secret"])
        r = cls.admin.post(upath("admin", "/totp/confirm"), {"code": code(r.json["secret"])})
        assert r.status == 200, r
        remember(cls.d, *r.json["recovery_codes"])

    def test_admin_held_to_enrolment(self):
        h = uniq("boss")
        _, pw = make_user(self.d, self.admin, h, role="admin")
        c = login(self.d, h, pw)
        p = assert_problem(self, c.get(API + "/admin/user"), 403)
        self.assertIn("two-factor", p["detail"])
        assert_problem(self, c.get(upath(h)), 403)
        self.assertEqual(c.get(API + "/actor").status, 200)
        st = c.get(upath(h, "/totp"))
        self.assertEqual(st.status, 200, st)
        self.assertTrue(st.json["required"])
        secret, _ = enrol(self, c, h)
        self.assertEqual(c.get(API + "/admin/user").status, 200)
        # next sign-in asks for the code
        c2, tk = password_step(self, self.d, h, pw)
        self.assertEqual(second_step(c2, tk, code=code(secret, 1)).status, 200)
        self.assertEqual(c2.get(API + "/admin/user").status, 200)

    def test_users_not_held(self):
        h = uniq("pl")
        _, pw = make_user(self.d, self.admin, h)
        c = login(self.d, h, pw)
        self.assertEqual(c.get(upath(h)).status, 200)


class ConfigCheck(unittest.TestCase):
    def test_bool_setting_checked(self):
        d = Daemon(extra={"login": {"require_2fa_for_admins": 1}})
        try:
            r = subprocess.run([BIN, "-t", "-c", d.conf], capture_output=True, text=True,
                               timeout=30)
            self.assertNotEqual(r.returncode, 0)
            self.assertRegex(r.stderr, r"acctd\.conf:\d+: login\.require_2fa_for_admins: "
                             r"must be true or false")
        finally:
            d.cleanup()


if __name__ == "__main__":
    unittest.main()

"""The store's limits (issue 9, finding 5): a full store answers 507 and
says so, writes nothing half and keeps serving reads, and the audit chain
still verifies; /metrics shows how full the map is; every user's writes
spend from a budget (429 with Retry-After); `acctd -t` refuses an audit
ring that cannot fit the map."""
import os
import re
import subprocess
import time
import unittest

from harness import BIN, Daemon, assert_problem
from accounts import (API, DaemonCase, login, make_user, patch, upath, list_all,
                      all_audit, new_password, remember)

MIB = 1024 * 1024
NAME = "\U0001F600" * 100                    # 100 characters, 400 bytes
AVATAR = "https://example.com/" + "a" * 2028  # 2048 characters, the longest


def metrics(c):
    r = c.get("/metrics")
    if r.status != 200:
        raise AssertionError(r)
    out = {}
    for line in r.body.decode().splitlines():
        m = re.match(r"^([a-z_]+)(\{[^}]*\})? (\S+)$", line)
        if m:
            out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


class StoreFull(DaemonCase, unittest.TestCase):
    """The smallest map the config allows, filled by an admin creating users
    with every field at its longest until the store refuses."""
    extra = {"map_size_mb": 8, "audit": {"capacity": 100},
             "rate_limit": {"writes_per_minute": 60000, "writes_burst": 10000}}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.fill()
        except BaseException:
            super().tearDownClass()
            raise

    @classmethod
    def fill(cls):
        admin = cls.admin
        cls.created = []
        cls.full = None
        for i in range(6000):
            h = "fill%d" % i
            r = admin.post(API + "/admin/user", {
                "handle": h, "email": "%s@%s.example" % (h, "x" * 200),
                "display_name": NAME, "password": "Fill-password-1"})
            if r.status != 201:
                cls.full = (r, h, "create")
                break
            cls.created.append(h)
            r = patch(admin, upath(h), {"avatar_url": AVATAR})
            if r.status != 200:
                cls.full = (r, h, "patch")
                break
        cls.metrics_at_full = metrics(admin)

    def test_full_store_answers_507(self):
        self.assertIsNotNone(self.full, "8 MB never filled")
        r, h, what = self.full
        p = assert_problem(self, r, 507)
        self.assertTrue(p["detail"].startswith("the store is full: "), p)
        self.assertIn("map_size_mb", p["detail"])
        self.assertTrue(self.d.wait_log("MDB_MAP_FULL"), self.d.logtext())

    def test_nothing_half_written(self):
        r, h, what = self.full
        users, _ = list_all(self, self.admin, API + "/admin/user", limit=100)
        handles = {u["handle"] for u in users}
        self.assertEqual(handles, set(self.created) | {"admin"})
        creates = [x for x in all_audit(self, self.admin)
                   if x["identity_handle"] == h]
        if what == "create":
            assert_problem(self, self.admin.get(upath(h)), 404)
            self.assertEqual(creates, [])
        else:
            u = self.admin.get(upath(h))
            self.assertEqual(u.status, 200, u)
            self.assertIsNone(u.json["avatar_url"])
            self.assertNotIn("user.update", [x["action_type"] for x in creates])

    def test_reads_keep_working(self):
        self.assertEqual(self.admin.get(API + "/actor").status, 200)
        r = self.admin.get(upath(self.created[0]))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["display_name"], NAME)
        self.assertEqual(self.admin.get(API + "/admin/audit?limit=100").status, 200)
        self.assertEqual(self.d.client().get("/healthz").status, 200)

    def test_audit_chain_verifies(self):
        r = self.admin.get(API + "/admin/audit/verify")
        self.assertEqual(r.status, 200, r)
        v = r.json
        self.assertIs(v["ok"], True, v)
        self.assertEqual(v["records"], 100)
        # the ring dropped its oldest and says so
        self.assertEqual(v["trimmed"], v["first_seq"] - 1)
        self.assertGreater(v["trimmed"], 1000)
        self.assertEqual(v["last_seq"] - v["first_seq"] + 1, 100)
        self.assertIn("audit: the ring is at its capacity (100 records)", self.d.logtext())

    def test_metrics_show_the_map_in_use(self):
        m = self.metrics_at_full
        self.assertEqual(m["acctd_store_map_bytes"], 8 * MIB)
        self.assertLessEqual(m["acctd_store_used_bytes"], m["acctd_store_high_water_bytes"])
        self.assertLessEqual(m["acctd_store_high_water_bytes"], 8 * MIB)
        # full: within a few pages of the end
        self.assertGreater(m["acctd_store_used_bytes"], 7 * MIB, m)
        print("\n  store full after %d users: used %d of %d bytes (high water %d)"
              % (len(self.created), m["acctd_store_used_bytes"], m["acctd_store_map_bytes"],
                 m["acctd_store_high_water_bytes"]))


class WriteBudget(DaemonCase, unittest.TestCase):
    """One change a minute, three at once: the fourth is refused."""
    extra = {"rate_limit": {"writes_per_minute": 1, "writes_burst": 3}}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # two of the admin's three
        cls.pw1 = make_user(cls.d, cls.admin, "budget1")[1]
        cls.pw2 = make_user(cls.d, cls.admin, "budget2")[1]

    def test_user_changes_are_limited(self):
        c = login(self.d, "budget1", self.pw1)
        for i in range(3):
            r = patch(c, upath("budget1"), {"display_name": "B%d" % i})
            self.assertEqual(r.status, 200, r)
        before = [x["id"] for x in all_audit(self, self.admin)]
        r = patch(c, upath("budget1"), {"display_name": "B3"})
        p = assert_problem(self, r, 429)
        wait = int(r.header("Retry-After"))
        self.assertTrue(1 <= wait <= 60, wait)
        self.assertIn("too many changes", p["detail"])
        # nothing changed, nothing recorded
        self.assertEqual(c.get(upath("budget1")).json["display_name"], "B2")
        self.assertEqual([x["id"] for x in all_audit(self, self.admin)], before)
        # reads are not limited; signing out is never refused
        self.assertEqual(c.get(upath("budget1")).status, 200)
        self.assertEqual(c.post(API + "/logout").status, 204)
        # the budget is the user's: another user is not held back
        c2 = login(self.d, "budget2", self.pw2)
        self.assertEqual(patch(c2, upath("budget2"), {"display_name": "Other"}).status, 200)

    def test_admins_too(self):
        a = login(self.d, "admin", self.admin_pw)
        statuses = []
        for i in range(5):
            r = patch(a, upath("admin"), {"display_name": "Admin %d" % i})
            statuses.append(r.status)
            if r.status == 429:
                assert_problem(self, r, 429)
                self.assertIsNotNone(r.header("Retry-After"))
        self.assertEqual(statuses, [200, 429, 429, 429, 429])


class WriteBudgetRefills(DaemonCase, unittest.TestCase):
    extra = {"rate_limit": {"writes_per_minute": 60, "writes_burst": 1}}

    def test_refills_after_retry_after(self):
        u, pw = make_user(self.d, self.admin, "refill")
        c = login(self.d, "refill", pw)
        self.assertEqual(patch(c, upath("refill"), {"display_name": "One"}).status, 200)
        r = patch(c, upath("refill"), {"display_name": "Two"})
        assert_problem(self, r, 429)
        self.assertEqual(r.header("Retry-After"), "1")
        time.sleep(1.1)
        r = patch(c, upath("refill"), {"display_name": "Two"})
        self.assertEqual(r.status, 200, r)


class RingMustFitMap(unittest.TestCase):
    """acctd -t (and start-up) refuse an audit.capacity the map cannot hold."""

    def check(self, settings):
        d = Daemon(extra=settings)
        try:
            r = subprocess.run([BIN, "-t", "-c", d.conf], capture_output=True, text=True,
                               timeout=30)
            lines = open(d.conf).read().splitlines()
            return r, lines, d
        finally:
            d.cleanup()

    def line_of(self, lines, prefix):
        return next(i + 1 for i, l in enumerate(lines) if l.startswith(prefix))

    def test_capacity_that_cannot_fit(self):
        r, lines, d = self.check({"map_size_mb": 8, "audit": {"capacity": 5000}})
        self.assertEqual(r.returncode, 1, r)
        self.assertEqual(r.stdout, "")
        n = self.line_of(lines, "audit = ")
        self.assertEqual(r.stderr, "%s:%d: audit.capacity: 5000 records do not fit "
                         "map_size_mb = 8 (2176 bytes each at worst, plus 4 MB for users, "
                         "sessions and tokens): at most 1927 fit; lower audit.capacity or "
                         "raise map_size_mb to at least 15\n" % (d.conf, n))

    def test_default_capacity_needs_a_big_enough_map(self):
        r, lines, d = self.check({"map_size_mb": 64})
        self.assertEqual(r.returncode, 1, r)
        n = self.line_of(lines, "map_size_mb = ")
        self.assertIn("%s:%d: audit.capacity: 100000 records do not fit map_size_mb = 64 "
                      % (d.conf, n), r.stderr)
        self.assertIn("raise map_size_mb to at least 238", r.stderr)

    def test_the_boundary(self):
        """The defaults fit; one record more than fits is refused."""
        for settings, fits in (({}, True), ({"map_size_mb": 238}, True),
                               ({"map_size_mb": 237}, False),
                               ({"map_size_mb": 8, "audit": {"capacity": 1927}}, True),
                               ({"map_size_mb": 8, "audit": {"capacity": 1928}}, False)):
            r, _, _ = self.check(settings)
            if fits:
                self.assertEqual((r.returncode, r.stdout, r.stderr), (0, "ok\n", ""), settings)
            else:
                self.assertEqual(r.returncode, 1, settings)
                self.assertIn(": audit.capacity: ", r.stderr)

    def test_start_refused_too(self):
        d = Daemon(extra={"map_size_mb": 8})
        try:
            r = subprocess.run([BIN, "-c", d.conf], capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 1, r)
            self.assertIn("audit.capacity: 100000 records do not fit map_size_mb = 8", r.stderr)
            self.assertFalse(os.path.exists(d.settings["data_dir"]))
        finally:
            d.cleanup()


if __name__ == "__main__":
    unittest.main()

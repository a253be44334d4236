"""The audit log: one record per action with who, from where, on whom and
what changed (never a secret); newest first, paged; each user sees only
their own; the hash chain verifies, and an edited record is found."""
import json
import os
import re
import unittest
import urllib.parse

from harness import assert_problem
from accounts import (API, DaemonCase, login, try_login, make_user, remember, patch, put,
                      delete, upath, assert_invalid, list_all, all_audit, new_password, rand,
                      RFC3339_RE, USER_ID_RE)

WRONG = new_password("Wrong")
AVATAR = "https://example.com/alice.png"
ANY = object()


def ok(r, status):
    if r.status != status:
        raise AssertionError("expected %d: %r" % (status, r))
    return r


def raw_pages(c, path, limit):
    """Every page of a list as raw bytes."""
    out, token = [], None
    for _ in range(1000):
        q = {"limit": str(limit)}
        if token:
            q["next_token"] = token
        r = ok(c.get(path + "?" + urllib.parse.urlencode(q)), 200)
        out.append(r.body)
        token = r.json.get("next_token")
        if not token:
            return out
    raise AssertionError("endless paging at " + path)


class Audit(DaemonCase, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.scenario()
        except BaseException:
            super().tearDownClass()
            raise

    @classmethod
    def scenario(cls):
        """Every audited action once; cls.expected lists them in order."""
        d, admin = cls.d, cls.admin
        remember(d, WRONG)
        cls.alice, pa = make_user(d, admin, "alice")
        cls.bob, pb = make_user(d, admin, "bob")
        a = login(d, "alice", pa)
        ok(try_login(d, "alice", WRONG)[0], 401)
        ok(patch(a, upath("alice"), {"display_name": "Alice A"}), 200)
        ok(patch(a, upath("alice"), {"display_name": "Alice B", "avatar_url": AVATAR}), 200)
        ok(patch(a, upath("alice"), {"handle": "alice2"}), 200)
        pa2 = new_password("New")
        remember(d, pa2)
        ok(put(a, upath("alice2", "/console_password"),
               {"current_password": pa, "new_password": pa2}), 204)
        ok(a.post(upath("alice2", "/token_reset")), 200)
        a = login(d, "alice2", pa2)
        ok(a.post(API + "/logout"), 204)
        login(d, "bob", pb)
        ok(patch(admin, upath("bob"), {"display_name": "Bobby"}), 200)
        ok(admin.post(API + "/admin/user/bob/disable"), 200)
        ok(admin.post(API + "/admin/user/bob/enable"), 200)
        r = ok(admin.post(API + "/admin/user/bob/console_password_reset"), 200)
        cls.bob_pw = r.json["initial_password"]
        remember(d, cls.bob_pw)
        cls.carol, _ = make_user(d, admin, "carol")
        ok(delete(admin, upath("carol", "?confirm=carol")), 204)
        cls.alice_pw = pa2
        # (action, actor_handle, identity_handle, target_handle, data); ANY = not checked
        cls.expected = [
            ("user.create", "admin", "alice", "alice", ANY),
            ("user.create", "admin", "bob", "bob", ANY),
            ("session.login", "alice", "alice", "alice", ANY),
            ("session.login_failed", ANY, "alice", ANY, ANY),
            ("user.update", "alice", "alice", "alice",
             {"display_name": {"old": None, "new": "Alice A"}}),
            ("user.update", "alice", "alice", "alice",
             {"display_name": {"old": "Alice A", "new": "Alice B"},
              "avatar_url": {"old": None, "new": AVATAR}}),
            ("user.update", ANY, ANY, ANY, {"handle": {"old": "alice", "new": "alice2"}}),
            ("user.console_password.change", "alice2", "alice2", "alice2", ANY),
            ("user.token_reset", "alice2", "alice2", "alice2", ANY),
            ("session.login", "alice2", "alice2", "alice2", ANY),
            ("session.logout", "alice2", "alice2", "alice2", ANY),
            ("session.login", "bob", "bob", "bob", ANY),
            ("user.update", "admin", "bob", "bob", {"display_name": {"old": None, "new": "Bobby"}}),
            ("user.disable", "admin", "bob", "bob", ANY),
            ("user.enable", "admin", "bob", "bob", ANY),
            ("user.console_password.reset", "admin", "bob", "bob", ANY),
            ("user.create", "admin", "carol", "carol", ANY),
            ("user.delete", "admin", "carol", "carol", ANY),
        ]

    def ids(self):
        return {"alice": self.alice["id"], "alice2": self.alice["id"], "bob": self.bob["id"],
                "carol": self.carol["id"], "admin": self.admin.user["id"]}

    def find_in_order(self, records):
        """The records matching cls.expected, in order (ids increasing)."""
        oldest_first = sorted(records, key=lambda x: x["id"])
        ids = self.ids()
        found, i = [], 0
        for spec in self.expected:
            action, actor, identity, target, data = spec
            while i < len(oldest_first):
                rec = oldest_first[i]
                i += 1
                if rec["action_type"] != action:
                    continue
                if actor is not ANY and rec.get("actor_handle") != actor:
                    continue
                if identity is not ANY and rec.get("identity_handle") != identity:
                    continue
                if target is not ANY and rec.get("target_handle") != target:
                    continue
                if data is not ANY and rec.get("data") != data:
                    continue
                found.append((spec, rec))
                break
            else:
                self.fail("no record %r after the previous ones in:\n%s"
                          % (spec, json.dumps(oldest_first, indent=1)[:6000]))
        return found

    def test_each_action_recorded(self):
        ids = self.ids()
        for (action, actor, identity, target, data), rec in self.find_in_order(all_audit(self, self.admin)):
            with self.subTest(action=action, id=rec["id"]):
                self.assertEqual(rec["actor_ip"], "127.0.0.1")
                self.assertRegex(rec["created_at"], RFC3339_RE)
                self.assertIsInstance(rec["id"], int)
                self.assertIsInstance(rec["data"], dict)
                if actor is not ANY:
                    self.assertEqual(rec["actor_id"], ids[actor])
                if identity is not ANY:
                    self.assertEqual(rec["identity_id"], ids[identity])
                if target is not ANY:
                    self.assertEqual(rec["target_id"], ids[target])

    def test_record_fields(self):
        recs = all_audit(self, self.admin)
        keys = {"id", "created_at", "action_type", "actor_id", "actor_handle",
                "actor_display_name", "actor_avatar_url", "actor_ip", "identity_id",
                "identity_handle", "target_id", "target_handle", "data", "prev_hash", "hash"}
        types = {"user.create", "user.update", "user.delete", "user.disable", "user.enable",
                 "user.console_password.change", "user.console_password.reset",
                 "user.token_reset", "session.login", "session.login_failed", "session.logout",
                 "user.password.rotate", "token.create", "token.update", "token.delete",
                 "user.password.read", "user.workspace.reveal"}
        for rec in recs:
            self.assertTrue(keys <= set(rec), sorted(set(rec) ^ keys))
            self.assertIn(rec["action_type"], types)
            if rec["actor_id"] is not None:
                self.assertRegex(rec["actor_id"], USER_ID_RE)

    def test_actor_display_and_avatar_snapshot(self):
        # the update made after "Alice B"/AVATAR were set carries them for its actor
        recs = [r for r in all_audit(self, self.admin)
                if r["action_type"] == "user.console_password.change"
                and r["actor_handle"] != "admin"]    # the harness's first sign-in
        self.assertEqual(len(recs), 1, recs)
        self.assertEqual(recs[0]["actor_display_name"], "Alice B")
        self.assertEqual(recs[0]["actor_avatar_url"], AVATAR)

    def test_login_failed_identity(self):
        recs = [r for r in all_audit(self, self.admin)
                if r["action_type"] == "session.login_failed"]
        self.assertEqual(len(recs), 1, recs)
        r = recs[0]
        self.assertEqual(r["identity_id"], self.alice["id"])
        self.assertEqual(r["identity_handle"], "alice")
        self.assertEqual(r["actor_ip"], "127.0.0.1")
        self.assertNotIn(WRONG, json.dumps(r))

    def test_no_secret_in_any_record(self):
        c = login(self.d, "alice2", self.alice_pw)
        bodies = []
        for limit in (1, 7, 100):
            bodies += raw_pages(self.admin, API + "/admin/audit", limit)
        bodies += raw_pages(c, upath("alice2", "/audit"), 5)
        bodies += raw_pages(self.admin, upath("bob", "/audit"), 5)
        secrets = set(self.d.secrets) | {WRONG, self.alice_pw, self.bob_pw}
        self.assertGreaterEqual(len(secrets), 8)
        for body in bodies:
            text = body.decode("utf-8")
            for s in secrets:
                self.assertNotIn(s, text, "a secret (%s…) in an audit page" % s[:3])
                # nor JSON-escaped
                self.assertNotIn(json.dumps(s)[1:-1], text)

    def test_newest_first_and_chained(self):
        recs = all_audit(self, self.admin)
        self.assertGreaterEqual(len(recs), len(self.expected))
        ids = [r["id"] for r in recs]
        self.assertEqual(ids, sorted(ids, reverse=True), "not newest first")
        self.assertEqual(len(ids), len(set(ids)))
        times = [r["created_at"] for r in recs]
        self.assertEqual(times, sorted(times, reverse=True))
        for newer, older in zip(recs, recs[1:]):
            self.assertRegex(newer["hash"], r"^[0-9a-f]{64}$")
            self.assertEqual(newer["prev_hash"], older["hash"], "chain broken at %d" % newer["id"])
        self.assertRegex(recs[-1]["prev_hash"], r"^[0-9a-f]{64}$")

    def test_paging(self):
        for path in (API + "/admin/audit", upath("bob", "/audit")):
            with self.subTest(path=path):
                whole, pages = list_all(self, self.admin, path, limit=100)
                self.assertEqual(len(pages), 1)
                for limit in (1, 3, 7):
                    items, pages = list_all(self, self.admin, path, limit=limit)
                    self.assertEqual([r["id"] for r in items], [r["id"] for r in whole])
                    for p in pages[:-1]:
                        self.assertEqual(len(p["items"]), limit)
                    self.assertNotIn("next_token", pages[-1])
                # default page size
                r = self.admin.get(path)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.json["items"], whole[:25])
                self.assertEqual("next_token" in r.json, len(whole) > 25)
                for bad in ("0", "101", "abc", "-3"):
                    assert_invalid(self, self.admin.get(path + "?limit=" + bad), "query.limit")

    def test_user_sees_only_own(self):
        a = login(self.d, "alice2", self.alice_pw)
        b = login(self.d, "bob", self.bob_pw)
        # bob's password was reset by the admin: one-time (issue 16)
        bob_new = new_password("Bob")
        remember(self.d, bob_new)
        self.assertEqual(put(b, upath("bob", "/console_password"),
                             {"current_password": self.bob_pw, "new_password": bob_new}).status, 204)
        type(self).bob_pw = bob_new
        every = all_audit(self, self.admin)
        mine_a, _ = list_all(self, a, upath("alice2", "/audit"), limit=4)
        mine_b, _ = list_all(self, b, upath("bob", "/audit"), limit=4)
        for who, mine in ((self.alice["id"], mine_a), (self.bob["id"], mine_b)):
            self.assertTrue(mine)
            for rec in mine:
                self.assertEqual(rec["identity_id"], who, rec)
            self.assertEqual([r["id"] for r in mine],
                             [r["id"] for r in every if r["identity_id"] == who])
        self.assertFalse({r["id"] for r in mine_a} & {r["id"] for r in mine_b})
        # alice's log keeps the records from before her rename, and her failed login
        kinds = [r["action_type"] for r in mine_a]
        self.assertIn("session.login_failed", kinds)
        self.assertIn("user.create", kinds)
        # and the other user's log is not found
        assert_problem(self, a.get(upath("bob", "/audit")), 404)
        assert_problem(self, b.get(upath("alice2", "/audit")), 404)

    def test_verify_ok(self):
        every = all_audit(self, self.admin)
        r = self.admin.get(API + "/admin/audit/verify")
        self.assertEqual(r.status, 200, r)
        # nothing dropped yet: the ring holds every record since the first
        self.assertEqual(r.json, {"ok": True, "records": len(every), "first_seq": 1,
                                  "last_seq": every[0]["id"], "trimmed": 0,
                                  "head_hash": every[0]["hash"]})

    def test_failed_request_writes_nothing(self):
        before = all_audit(self, self.admin)
        c = login(self.d, "alice2", self.alice_pw)
        after_login = all_audit(self, self.admin)
        self.assertEqual(len(after_login), len(before) + 1)
        assert_invalid(self, patch(c, upath("alice2"), {"display_name": "x" * 101}), "body.display_name")
        assert_problem(self, patch(c, upath("alice2"), {"handle": "bob"}), 409)
        assert_problem(self, patch(c, upath("alice2"), {"display_name": "X"},
                                   headers={"If-Match": "9999"}), 412)
        assert_problem(self, patch(c, upath("bob"), {"display_name": "X"}), 404)
        assert_invalid(self, delete(c, upath("alice2", "?confirm=nope")), "query.confirm")
        self.assertEqual([r["id"] for r in all_audit(self, self.admin)],
                         [r["id"] for r in after_login])


class AuditTamper(DaemonCase, unittest.TestCase):
    def test_edited_record_is_found(self):
        d = self.d
        mark1, mark2, mark3 = ("Xq7" + rand(17) for _ in range(3))
        make_user(d, self.admin, "tamp", display_name=mark1)
        ok(patch(self.admin, upath("tamp"), {"display_name": mark2}), 200)
        ok(patch(self.admin, upath("tamp"), {"display_name": mark3}), 200)
        recs = [r for r in all_audit(self, self.admin)
                if r["data"] == {"display_name": {"old": mark1, "new": mark2}}]
        self.assertEqual(len(recs), 1)
        victim = recs[0]["id"]
        r = ok(self.admin.get(API + "/admin/audit/verify"), 200)
        self.assertIs(r.json["ok"], True, r.json)
        d.stop()

        # records are compact JSON text in data.mdb: change mark1 (the "old"
        # value of that one update) in place, same length
        path = os.path.join(d.settings["data_dir"], "data.mdb")
        with open(path, "rb") as f:
            blob = bytearray(f.read())
        pat = re.compile(rb'"old"\s*:\s*"(' + re.escape(mark1.encode()) + rb')"')
        hits = list(pat.finditer(blob))
        self.assertTrue(hits, "the record's JSON was not found in data.mdb")
        forged = ("Yq7" + rand(17)).encode()
        for m in hits:
            blob[m.start(1):m.end(1)] = forged
        with open(path, "r+b") as f:
            f.write(blob)

        d.start()
        self.admin = login(d, "admin", self.admin_pw)
        type(self).admin = self.admin
        r = ok(self.admin.get(API + "/admin/audit/verify"), 200)
        self.assertIs(r.json["ok"], False, r.json)
        self.assertEqual(r.json["first_broken"], victim)
        self.assertIsInstance(r.json["records"], int)
        self.assertIsInstance(r.json["reason"], str)
        self.assertTrue(r.json["reason"])
        # the daemon still serves the log
        self.assertEqual(self.admin.get(API + "/admin/audit").status, 200)


if __name__ == "__main__":
    unittest.main()

"""Audit export (issue 15 part C): GET /user/{handle}/audit/export and
/admin/audit/export stream the filtered log as JSON lines or CSV (RFC 4180,
formula cells defused), as an attachment, chunked, audited (audit.export).
A ring of 200 k records (filled by build/<target>/tests/audit-fill with the
real audit_append while acctd is stopped) streams whole while acctd's heap
stays flat."""
import csv
import http.client
import io
import json
import os
import re
import ssl
import subprocess
import threading
import time
import unittest
import urllib.parse

from harness import assert_problem, BIN, SANITIZED, TSAN
from accounts import (API, DaemonCase, login, make_user, patch, upath, all_audit, list_all,
                      assert_invalid)

FORMULA = '=HYPERLINK("http://evil.example","x")'
TRICKY = 'Frank, "the" tester'
COLUMNS = ["id", "created_at", "action_type", "actor_id", "actor_handle",
           "actor_display_name", "actor_ip", "identity_id", "identity_handle",
           "target_id", "target_handle", "data", "prev_hash", "hash"]
FILL = os.path.join(os.path.dirname(BIN), "tests", "audit-fill")


def qs(path, **q):
    return path + ("?" + urllib.parse.urlencode(q) if q else "")


def list_filtered(tc, c, path, q):
    """Every page of a filtered audit list."""
    items, q = [], dict(q, limit="100")
    for _ in range(10000):
        r = c.get(qs(path, **q))
        tc.assertEqual(r.status, 200, r)
        items.extend(r.json["items"])
        if not r.json.get("next_token"):
            return items
        q["next_token"] = r.json["next_token"]
    tc.fail("endless paging")


def jsonl(tc, r):
    tc.assertEqual(r.status, 200, r)
    tc.assertTrue(r.body.endswith(b"\n") or r.body == b"", r.body[-100:])
    return [json.loads(line) for line in r.body.decode().splitlines()]


def csv_rows(tc, r):
    tc.assertEqual(r.status, 200, r)
    text = r.body.decode()
    tc.assertTrue(text.endswith("\r\n"))
    rows = list(csv.reader(io.StringIO(text, newline="")))
    tc.assertEqual(rows[0], COLUMNS)
    return [dict(zip(COLUMNS, row)) for row in rows[1:]]


def cell(v):
    """What a CSV cell holds for a JSON value (formula guard included)."""
    if v is None:
        return ""
    if isinstance(v, dict):
        v = json.dumps(v, separators=(",", ":"))
    v = str(v)
    return "'" + v if v[:1] in ("=", "+", "-", "@", "\t", "\r") else v


class Export(DaemonCase, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.erin_u, pw = make_user(cls.d, cls.admin, "erin")
        cls.frank_u, fpw = make_user(cls.d, cls.admin, "frank")
        cls.erin = login(cls.d, "erin", pw)
        cls.frank = login(cls.d, "frank", fpw)
        for name in (FORMULA, TRICKY, "+1 caller", "@at", "-minus", "plain"):
            r = patch(cls.erin, upath("erin"), {"display_name": name})
            assert r.status == 200, r
        assert patch(cls.frank, upath("frank"), {"display_name": TRICKY}).status == 200

    def test_user_jsonl_is_the_users_log(self):
        r = self.erin.get(qs(upath("erin", "/audit/export"), format="jsonl"))
        recs = jsonl(self, r)
        self.assertEqual(r.header("Content-Type"), "application/x-ndjson")
        self.assertEqual(r.header("Transfer-Encoding"), "chunked")
        self.assertEqual(r.header("Cache-Control"), "no-store")
        self.assertRegex(r.header("Content-Disposition"),
                         r'^attachment; filename="acctd-audit-erin-\d{8}T\d{6}Z\.jsonl"$')
        listed = list_all(self, self.erin, upath("erin", "/audit"), 100)[0]
        # the list, read after, holds the export's own record too, and it
        # is the first (newest) record of the export: it commits first
        self.assertEqual([x["id"] for x in recs], [x["id"] for x in listed])
        self.assertEqual(recs, listed)
        self.assertEqual(recs[0]["action_type"], "audit.export")
        self.assertEqual(recs[0]["data"], {"format": "jsonl"})
        self.assertEqual(recs[0]["actor_handle"], "erin")
        self.assertTrue(all(x["identity_handle"] == "erin" for x in recs))

    def test_default_format_is_jsonl(self):
        r = self.erin.get(upath("erin", "/audit/export"))
        self.assertEqual(r.header("Content-Type"), "application/x-ndjson")
        self.assertTrue(jsonl(self, r))

    def test_csv_quotes_and_defuses_formulas(self):
        r = self.erin.get(qs(upath("erin", "/audit/export"), format="csv"))
        self.assertEqual(r.header("Content-Type"), "text/csv; charset=utf-8")
        self.assertRegex(r.header("Content-Disposition"),
                         r'^attachment; filename="acctd-audit-erin-\d{8}T\d{6}Z\.csv"$')
        rows = csv_rows(self, r)
        recs = jsonl(self, self.erin.get(qs(upath("erin", "/audit/export"), format="jsonl")))
        # the jsonl export is one record newer (its own audit.export)
        by_id = {str(x["id"]): x for x in recs}
        self.assertEqual(len(rows) + 1, len(recs))
        for row in rows:
            rec = by_id[row["id"]]
            for k in COLUMNS:
                if k != "data":
                    self.assertEqual(row[k], cell(rec.get(k)), (k, row, rec))
            self.assertEqual(json.loads(row["data"]), rec["data"])
        names = {row["actor_display_name"] for row in rows}
        for want in ("'" + FORMULA, TRICKY, "'+1 caller", "'@at", "'-minus", "plain"):
            self.assertIn(want, names)
        raw = r.body.decode()
        self.assertIn('"\'=HYPERLINK(""http://evil.example"",""x"")"', raw)
        self.assertIn('"Frank, ""the"" tester"', raw)

    def test_filters_match_the_admin_list(self):
        for q in ({"action": "user.update"}, {"actor": "frank"}, {"action": "user."},
                  {"since": "2000-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z",
                   "action": "session.login"}):
            got = jsonl(self, self.admin.get(qs(API + "/admin/audit/export", **q)))
            want = list_filtered(self, self.admin, API + "/admin/audit", q)
            self.assertTrue(got, q)
            # records may be appended between the two reads (this export's
            # own record is one): compare what both saw
            last = min(x["id"] for x in got)
            top = max(x["id"] for x in got)
            self.assertEqual(got, [x for x in want if last <= x["id"] <= top], q)
        got = jsonl(self, self.admin.get(qs(API + "/admin/audit/export", actor="frank",
                                            action="user.update")))
        self.assertTrue(got)
        self.assertTrue(all(x["actor_handle"] == "frank" and x["action_type"] == "user.update"
                            for x in got))
        none = jsonl(self, self.admin.get(qs(API + "/admin/audit/export",
                                             until="2001-01-01T00:00:00Z")))
        self.assertEqual(none, [])
        r = self.admin.get(qs(API + "/admin/audit/export", format="csv", until="2001-01-01T00:00:00Z"))
        self.assertEqual(r.body.decode(), ",".join(COLUMNS) + "\r\n")

    def test_export_is_audited_with_its_filters(self):
        r = self.admin.get(qs(API + "/admin/audit/export", format="csv", action="token.",
                              actor="erin", since="2020-01-01T00:00:00Z"))
        self.assertEqual(r.status, 200, r)
        rec = all_audit(self, self.admin)[0]
        self.assertEqual(rec["action_type"], "audit.export")
        self.assertEqual(rec["actor_handle"], "admin")
        self.assertIsNone(rec["identity_id"])
        self.assertEqual(rec["data"], {"format": "csv", "action": "token.", "actor": "erin",
                                       "since": "2020-01-01T00:00:00Z"})
        self.assertEqual(self.admin.get(qs(upath("frank", "/audit/export"))).status, 200)
        rec = all_audit(self, self.admin)[0]
        self.assertEqual((rec["action_type"], rec["actor_handle"], rec["identity_handle"]),
                         ("audit.export", "admin", "frank"))

    def test_bad_input_is_refused_and_writes_nothing(self):
        before = all_audit(self, self.admin)[0]["id"]
        for q, loc in (({"format": "xml"}, "query.format"), ({"format": ""}, "query.format"),
                       ({"since": "yesterday"}, "query.since"), ({"action": "DROP"}, "query.action"),
                       ({"actor": "not a handle"}, "query.actor")):
            assert_invalid(self, self.admin.get(qs(API + "/admin/audit/export", **q)), loc)
            assert_invalid(self, self.erin.get(qs(upath("erin", "/audit/export"), **q)), loc)
        self.assertEqual(all_audit(self, self.admin)[0]["id"], before)

    def test_who_may_export(self):
        assert_problem(self, self.erin.get(upath("frank", "/audit/export")), 404)
        assert_problem(self, self.erin.get(API + "/admin/audit/export"), 403)
        anon = self.erin.__class__(self.d)
        assert_problem(self, anon.get(upath("erin", "/audit/export")), 401)
        assert_problem(self, anon.get(API + "/admin/audit/export"), 401)


def rss_kb(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(field)


class ExportLarge(DaemonCase, unittest.TestCase):
    """200 k records stream whole, newest first, with a flat heap. Under
    ASan or TSan (ten times slower) 50 k records, and the heap is not
    measured: ASan's quarantine keeps freed memory on purpose."""
    N = 50000 if SANITIZED or TSAN else 200000
    extra = {"map_size_mb": 1024, "audit": {"capacity": 250000}}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.bulk, pw = make_user(cls.d, cls.admin, "bulk")
            cls.d.stop()
            t0 = time.monotonic()
            data = cls.d.settings["data_dir"]
            subprocess.run([FILL, data, os.path.join(data, "appliance.key"), "1024", "250000",
                            str(cls.N), cls.bulk["id"], "bulk"], check=True, timeout=300)
            cls.fill_seconds = time.monotonic() - t0
            cls.d.first_sign_in = False
            cls.d.start()
            cls.admin = login(cls.d, "admin", cls.admin_pw)
            cls.bulk_c = login(cls.d, "bulk", pw)
        except BaseException:
            super().tearDownClass()
            raise

    def stream(self, path, cookie):
        """GET path, read in small pieces as a slow client would; (status,
        headers, lines, peak RssAnon growth in kB)."""
        pid = self.d.proc.pid
        base = rss_kb(pid, "RssAnon")
        peak = [base]
        done = threading.Event()

        def sample():
            while not done.wait(0.02):
                peak[0] = max(peak[0], rss_kb(pid, "RssAnon"))
        th = threading.Thread(target=sample)
        th.start()
        try:
            ctx = ssl.create_default_context(cafile=self.d.cafile)
            conn = http.client.HTTPSConnection("127.0.0.1", self.d.port, context=ctx, timeout=120)
            conn.request("GET", path, headers={"Cookie": cookie})
            r = conn.getresponse()
            lines, rest = [], b""
            while True:
                piece = r.read(65536)
                if not piece:
                    break
                rest += piece
                *full, rest = rest.split(b"\n")
                lines.extend(full)
            conn.close()
        finally:
            done.set()
            th.join()
        self.assertEqual(rest, b"")
        return r.status, r.getheaders(), lines, peak[0] - base

    def assert_flat(self, grew):
        if not (SANITIZED or TSAN):
            self.assertLess(grew, 32 * 1024, "acctd's heap grew by %d kB" % grew)

    def cookie(self, c):
        return "; ".join("%s=%s" % kv for kv in c.cookies.items())

    def test_jsonl_streams_every_record_with_a_flat_heap(self):
        t0 = time.monotonic()
        st, hdrs, lines, grew = self.stream(upath("bulk", "/audit/export"), self.cookie(self.bulk_c))
        secs = time.monotonic() - t0
        self.assertEqual(st, 200)
        self.assertIn(("Transfer-Encoding", "chunked"), hdrs)
        recs = [json.loads(x) for x in lines]
        fills = [x["data"]["fill"] for x in recs if x["action_type"] == "user.update"
                 and "fill" in x["data"]]
        self.assertEqual(fills, list(range(self.N - 1, -1, -1)))
        ids = [x["id"] for x in recs]
        self.assertEqual(ids, sorted(ids, reverse=True))
        self.assertEqual(recs[0]["action_type"], "audit.export")
        print("\n  export of %d records (jsonl): %.1f s, heap grew %d kB (fill %.1f s)"
              % (len(recs), secs, grew, self.fill_seconds))
        self.assert_flat(grew)

    def test_admin_csv_streams_every_record(self):
        st, hdrs, lines, grew = self.stream(qs(API + "/admin/audit/export", format="csv",
                                              action="user.update"), self.cookie(self.admin))
        self.assertEqual(st, 200)
        rows = list(csv.reader(io.StringIO(b"\n".join(lines).decode() + "\n", newline="")))
        self.assertEqual(rows[0], COLUMNS)
        fills = [json.loads(r[11]).get("fill") for r in rows[1:] if r[4] == "bulk"]
        self.assertEqual(fills, list(range(self.N - 1, -1, -1)))
        self.assert_flat(grew)

    def test_a_client_that_leaves_early_costs_nothing(self):
        ctx = ssl.create_default_context(cafile=self.d.cafile)
        conn = http.client.HTTPSConnection("127.0.0.1", self.d.port, context=ctx, timeout=30)
        conn.request("GET", API + "/admin/audit/export", headers={"Cookie": self.cookie(self.admin)})
        r = conn.getresponse()
        self.assertEqual(r.status, 200)
        self.assertTrue(r.read(100000))
        conn.close()
        self.assertTrue(self.d.wait_log("audit export: the download to 127.0.0.1 stopped", 30),
                        self.d.logtext()[-2000:])
        self.assertEqual(self.admin.get(upath("admin")).status, 200)


if __name__ == "__main__":
    unittest.main()

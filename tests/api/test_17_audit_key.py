"""The audit chain is keyed (issue 9, finding 12a): a record rewritten in
data.mdb with every hash after it recomputed as plain SHA-256 (what anyone
who can write the file could do to the old chain) is found by verify; the
chain's head is published outside the store, in the log and /metrics."""
import hashlib
import os
import re
import unittest

from accounts import API, DaemonCase, login, make_user, patch, upath, all_audit, rand

RECORD = re.compile(rb'\{"id":(\d+),"created_at":"[^"]*".*?,"hash":"([0-9a-f]{64})"\}')


def ok(r, status=200):
    if r.status != status:
        raise AssertionError("expected %d: %r" % (status, r))
    return r


def head_metrics(c):
    text = ok(c.get("/metrics")).body.decode()
    seq = int(re.search(r"^acctd_audit_head_seq (\d+)$", text, re.M).group(1))
    prefix = re.search(r'^acctd_audit_head_info\{hash_prefix="([0-9a-f]{16})"\} 1$',
                       text, re.M).group(1)
    first = int(re.search(r"^acctd_audit_first_seq (\d+)$", text, re.M).group(1))
    return seq, prefix, first


class AuditKey(DaemonCase, unittest.TestCase):
    def test_sha256_rewrite_is_detected(self):
        d = self.d
        mark1, mark2, mark3 = ("Xq7" + rand(17) for _ in range(3))
        make_user(d, self.admin, "tamp", display_name=mark1)
        ok(patch(self.admin, upath("tamp"), {"display_name": mark2}))
        ok(patch(self.admin, upath("tamp"), {"display_name": mark3}))
        victim = [r for r in all_audit(self, self.admin)
                  if r["data"] == {"display_name": {"old": mark1, "new": mark2}}][0]["id"]
        self.assertIs(ok(self.admin.get(API + "/admin/audit/verify")).json["ok"], True)
        d.stop()

        path = os.path.join(d.settings["data_dir"], "data.mdb")
        with open(path, "rb") as f:
            blob = f.read()
        recs = {}
        for m in RECORD.finditer(blob):
            recs[int(m.group(1))] = m.group(0)
        head = max(recs)
        self.assertIn(victim, recs)
        # the forger: edit the record, recompute its SHA-256 hash and every
        # one after it (relinked), move the head; same lengths, in place
        forged = ("Yq7" + rand(17)).encode()
        prev = None
        for seq in range(victim, head + 1):
            old = recs[seq]
            body = old[:old.rindex(b',"hash":"')] + b"}"
            if seq == victim:
                body = body.replace(mark1.encode(), forged)
                prev = re.search(rb'"prev_hash":"([0-9a-f]{64})"', body).group(1)
            body = re.sub(rb'"prev_hash":"[0-9a-f]{64}"', b'"prev_hash":"' + prev + b'"', body)
            h = hashlib.sha256(prev + b"\n" + body).hexdigest().encode()
            new = body[:-1] + b',"hash":"' + h + b'"}'
            self.assertEqual(len(new), len(old))
            blob = blob.replace(old, new)
            old_hash = re.search(rb',"hash":"([0-9a-f]{64})"\}$', old).group(1)
            blob = blob.replace(old_hash, h)       # the head in meta audit_last
            prev = h
        with open(path, "r+b") as f:
            f.write(blob)

        d.start()
        admin = login(d, "admin", self.admin_pw)
        type(self).admin = admin
        r = ok(admin.get(API + "/admin/audit/verify")).json
        self.assertIs(r["ok"], False, r)
        self.assertEqual(r["first_broken"], victim)
        self.assertEqual(r["reason"], "record %d was modified" % victim)

    def test_head_is_published(self):
        d = self.d
        ok(patch(self.admin, upath("admin"), {"display_name": "Head " + rand(6)}))
        newest = all_audit(self, self.admin)[0]
        seq, prefix, first = head_metrics(self.admin)
        self.assertEqual(seq, newest["id"])
        self.assertEqual(prefix, newest["hash"][:16])
        self.assertEqual(first, 1)
        v = ok(self.admin.get(API + "/admin/audit/verify")).json
        self.assertEqual((v["last_seq"], v["head_hash"]), (newest["id"], newest["hash"]))
        self.assertRegex(d.logtext(), r"audit: head at start: seq \d+ hash [0-9a-f]{16}")
        # at stop, the last head; at the next start, the same one
        d.stop()
        d.start()
        admin = login(d, "admin", self.admin_pw)
        type(self).admin = admin
        last = "audit: head at stop: seq %d hash %s" % (newest["id"], newest["hash"][:16])
        stops = [l for l in d.log if "audit: head at stop:" in l]
        starts = [l for l in d.log if "audit: head at start:" in l]
        self.assertTrue(stops and stops[-1].endswith(last + " (records 1 to %d)" % newest["id"]),
                        stops)
        self.assertIn("seq %d hash %s" % (newest["id"], newest["hash"][:16]), starts[-1])


if __name__ == "__main__":
    unittest.main()

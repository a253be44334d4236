"""Group commit (issue 12, point 3): concurrent changes share synced LMDB
commits, and that changes nothing a client can see: every answered change
is there in order (If-Match chains never break), a refused change in the
same batch leaves the others whole, and the audit chain stays dense and
verifies. Durability across SIGKILL is the storm's (tests/storm)."""
import threading
import unittest

from accounts import API, DaemonCase, login, make_user, patch, upath, all_audit
from test_16_store import metrics

CLIENTS = 16
CHANGES = 10


class GroupCommit(DaemonCase, unittest.TestCase):

    def test_concurrent_changes_all_kept_in_order(self):
        clients, versions = [], []
        for i in range(CLIENTS):
            u, pw = make_user(self.d, self.admin, "gc%02d" % i)
            clients.append(login(self.d, u["handle"], pw))
            versions.append(u["version_id"])
        before = metrics(self.admin)
        go = threading.Barrier(CLIENTS)
        answers = [[] for _ in range(CLIENTS)]

        def run(i):
            c, v = clients[i], versions[i]
            go.wait()
            for n in range(CHANGES):
                # every other client also sends one stale If-Match: refused
                # (412) inside a batch of others that are kept
                if i % 2 and n == CHANGES // 2:
                    answers[i].append(patch(c, upath(c.user["handle"]), {"display_name": "stale"},
                                            headers={"If-Match": '"%d"' % (v - 1)}).status)
                r = patch(c, upath(c.user["handle"]), {"display_name": "n%d" % n},
                          headers={"If-Match": '"%d"' % v})
                answers[i].append(r.status)
                if r.status == 200:
                    v = r.json["version_id"]
            versions[i] = v

        threads = [threading.Thread(target=run, args=(i,)) for i in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for i in range(CLIENTS):
            want = [200] * CHANGES
            if i % 2:
                want.insert(CHANGES // 2, 412)
            self.assertEqual(answers[i], want)
            u = clients[i].get(upath(clients[i].user["handle"])).json
            self.assertEqual(u["display_name"], "n%d" % (CHANGES - 1))
            self.assertEqual(u["version_id"], versions[i])
        after = metrics(self.admin)
        changes = after["acctd_store_changes_total"] - before["acctd_store_changes_total"]
        commits = after["acctd_store_commits_total"] - before["acctd_store_commits_total"]
        self.assertGreaterEqual(changes, CLIENTS * CHANGES)
        self.assertLess(commits, changes, "no two changes ever shared a commit")
        # one record per change, dense and chained
        every = all_audit(self, self.admin)
        seqs = [r["id"] for r in every]
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] - len(seqs), -1)))
        updates = [r for r in every if r["action_type"] == "user.update"]
        self.assertEqual(len(updates), CLIENTS * CHANGES)
        r = self.admin.get(API + "/admin/audit/verify")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json["ok"], r.json)
        self.assertEqual(r.json["last_seq"], seqs[0])


if __name__ == "__main__":
    unittest.main()

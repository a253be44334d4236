"""Which roles the push may touch, end to end with real PostgreSQL clusters
(issue 9): a user who renames themselves to an existing role (`ops`, a
member of `postgres`) must not take it over; the node refuses, acctd shows
the refusal per node and stops retrying that version; disabling a user
takes their LOGIN away on every node and enabling gives it back; a
restore of acctd's store from an old copy still converges; and an agent
killed between the hook and its save leaves no role with LOGIN behind.

Reuses test_30_push's clusters and agents."""
import base64
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import test_30_push as p30
from harness import Daemon

REFUSAL = 'role "ops" exists and is not managed by acctd'

# what an attacker would change: password, attributes, memberships
SNAPSHOT = ("select rolpassword, rolcanlogin, rolsuper, rolinherit, rolcreaterole, "
            "(select string_agg(g.rolname, ',' order by g.rolname) from pg_auth_members m "
            " join pg_roles g on g.oid = m.roleid where m.member = a.oid), "
            "(select string_agg(x.rolname, ',' order by x.rolname) from pg_auth_members m "
            " join pg_roles x on x.oid = m.member where m.roleid = a.oid) "
            "from pg_authid a where rolname = 'ops'")
# every role that could log in with a password
LOGINS = ("select coalesce(string_agg(rolname, ',' order by rolname), '') from pg_authid "
          "where rolcanlogin and rolpassword is not null")


def logins(cluster):
    return set(filter(None, cluster.sql(LOGINS).split(",")))


class Roles(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        assert os.path.exists(p30.AGENT), "acctd-agent is not built: " + p30.AGENT
        cls.base = tempfile.mkdtemp(prefix="acctd-roles-")
        os.chmod(cls.base, 0o755)
        p30.mkcert(os.path.join(cls.base, "acctd-client"), "acctd")
        client_cert = os.path.join(cls.base, "acctd-client.crt")
        cls.clusters = [p30.Cluster(cls.base, "pg1"), p30.Cluster(cls.base, "pg2")]
        # a role the node's administrators made: a member of the superuser on
        # one node, of a pg_* role that runs programs on the other
        cls.clusters[0].sql("CREATE ROLE ops LOGIN PASSWORD 'ops-secret'; GRANT postgres TO ops")
        cls.clusters[1].sql("CREATE ROLE ops LOGIN PASSWORD 'ops-secret'; "
                            "GRANT pg_execute_server_program TO ops")
        cls.ops = [c.sql(SNAPSHOT) for c in cls.clusters]
        assert all("SCRAM-SHA-256$" in s for s in cls.ops), cls.ops
        cls.agents = [p30.Agent(cls.base, "node1", cls.clusters[0], client_cert),
                      p30.Agent(cls.base, "node2", cls.clusters[1], client_cert)]
        for a in cls.agents:
            a.start()
        cls.d = Daemon(extra={
            "nodes": [{"name": a.name, "url": "https://127.0.0.1:%d" % a.port, "cert": a.cert}
                      for a in cls.agents],
            "workspaces": [
                {"handle": "prod", "owner": "bob", "node": "node1", "database": "postgres",
                 "port": cls.clusters[0].port, "members": ["carol"]},
                {"handle": "dev", "owner": "bob", "node": "node2", "database": "postgres",
                 "port": cls.clusters[1].port, "members": ["carol"]}],
            "push": {"client_cert": client_cert,
                     "client_key": os.path.join(cls.base, "acctd-client.key"),
                     "retry_max_seconds": 1},
            # the admin renames, disables and restores in a row: past the
            # default write budget
            "rate_limit": {"writes_per_minute": 6000, "writes_burst": 1000},
        }).start()
        cls.login_admin()
        for h in ("bob", "carol"):
            r = cls.admin.post("/api/v0/admin/user", {"handle": h, "email": h + "@x.test",
                                                      "password": h + "-console-1", "must_change_password": False})
            assert r.status == 201, r
        cls.handle = "bob"

    @classmethod
    def login_admin(cls):
        pw = open(os.path.join(cls.d.dir, "data", "admin.password")).read().strip()
        cls.admin = cls.d.client()
        r = cls.admin.post("/api/v0/login", {"handle": "admin", "password": pw})
        assert r.status == 200, r
        cls.admin.csrf = r.json["csrf_token"]

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        for a in cls.agents:
            a.stop()
        for c in cls.clusters:
            c.stop()
        cls.d.cleanup()
        shutil.rmtree(cls.base, ignore_errors=True)

    # --- helpers ---------------------------------------------------------

    def password(self, handle=None):
        r = self.admin.get("/api/v0/user/%s/password" % (handle or self.handle))
        self.assertEqual(r.status, 200, r)
        return r.json

    def wait_status(self, status, timeout=15, handle=None):
        """every node's propagation in `status` for the newest version"""
        t0 = time.monotonic()
        while True:
            j = self.password(handle)
            st = {p["node"]: p for p in j["propagation"]}
            if len(st) == 2 and all(p["status"] == status for p in st.values()):
                return j, st
            if time.monotonic() - t0 > timeout:
                self.fail("not %s after %ss: %s" % (status, timeout, j["propagation"]))
            time.sleep(0.05)

    def rename(self, new):
        r = self.admin.request("PATCH", "/api/v0/user/%s" % self.handle, body={"handle": new})
        self.assertEqual(r.status, 200, r)
        type(self).handle = new

    def assert_ops_untouched(self):
        for c, snap in zip(self.clusters, self.ops):
            self.assertEqual(c.sql(SNAPSHOT), snap)
            self.assertTrue(c.login("ops", "ops-secret"))

    def refusals(self, agent):
        return sum(1 for line in agent.log if "refused: " + REFUSAL in line)

    # --- tests -----------------------------------------------------------

    def test_1_rename_onto_an_existing_role_is_refused(self):
        j, _ = self.wait_status("applied")
        for c in self.clusters:
            self.assertTrue(c.login("bob", j["password"]))
        self.rename("ops")
        time.sleep(1.5)    # ample for a push to land (median 0.3 s)
        for c in self.clusters:
            self.assertFalse(c.login("ops", j["password"]), "ops was taken over")
        self.assert_ops_untouched()
        j, st = self.wait_status("refused")
        for p in st.values():
            self.assertEqual(p["last_error"], REFUSAL)
            self.assertEqual(p["error_code"], "role_not_managed")
            self.assertEqual(p["state"], "present")
        for c in self.clusters:
            # bob is acctd's: a member of the marker, and of nothing else
            self.assertEqual(c.sql("select string_agg(g.rolname, ',') from pg_auth_members m "
                                   "join pg_roles g on g.oid = m.roleid "
                                   "where m.member = 'bob'::regrole"), "acctd_managed")
            # the user keeps the role they had: the rename did not happen there
            self.assertTrue(c.login("bob", j["password"]))
        # shown for the admin too
        t0 = time.monotonic()
        while True:
            nodes = {n["name"]: n for n in self.admin.get("/api/v0/admin/nodes").json["items"]}
            if all(nodes[n]["refused"] == 1 for n in nodes) or time.monotonic() - t0 > 5:
                break
            time.sleep(0.05)
        for n in ("node1", "node2"):
            self.assertEqual(nodes[n]["status"], "refused", nodes[n])
            self.assertEqual(nodes[n]["refused"], 1, nodes[n])
            self.assertEqual(nodes[n]["last_error"], REFUSAL)
        metrics = self.admin.get("/metrics").body.decode()
        self.assertIn('acctd_push_refused{node="node1"} 1', metrics)
        self.assertIn('acctd_push_pending{node="node2"} 0', metrics)
        # a refusal is not retried (retry_max_seconds is 1)
        seen = [self.refusals(a) for a in self.agents]
        self.assertEqual(seen, [1, 1])
        time.sleep(3)
        self.assertEqual([self.refusals(a) for a in self.agents], seen)
        # a newer version is tried, and refused again
        self.assertEqual(self.admin.post("/api/v0/user/ops/password").status, 200)
        j, _ = self.wait_status("refused")
        t0 = time.monotonic()
        while [self.refusals(a) for a in self.agents] != [2, 2]:
            self.assertLess(time.monotonic() - t0, 10, [a.log[-3:] for a in self.agents])
            time.sleep(0.05)
        self.assert_ops_untouched()
        # the superuser's name is no better
        self.rename("postgres")
        self.wait_status("refused")
        for c in self.clusters:
            self.assertFalse(c.login("postgres", j["password"]))
            self.assertEqual(c.sql("select rolpassword is null from pg_authid "
                                   "where rolname = 'postgres'"), "t")
        # renamed again to a free name: the role follows, ops never moved
        self.rename("bob2")
        j, _ = self.wait_status("applied")
        for c in self.clusters:
            self.assertTrue(c.login("bob2", j["password"]))
            self.assertEqual(c.sql("select count(*) from pg_roles where rolname = 'bob'"), "0")
            self.assertEqual(logins(c) - {"carol"}, {"bob2", "ops"})
        self.assert_ops_untouched()
        self.assertIn("acctd_push_refused{node=\"node1\"} 0",
                      self.admin.get("/metrics").body.decode())

    def test_2_disable_takes_login_away_enable_gives_it_back(self):
        j, _ = self.wait_status("applied", handle="carol")
        env = dict(os.environ, PGPASSWORD=j["password"])
        held = subprocess.Popen(["psql", "-X", "-At", "-h", "127.0.0.1", "-p",
                                 str(self.clusters[0].port), "-U", "carol", "-d", "postgres"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True, env=env)
        held.stdin.write("select 'before';\n")
        held.stdin.flush()
        self.assertEqual(held.stdout.readline().strip(), "before")
        self.clusters[0].sql("CREATE TABLE kept (x int); ALTER TABLE kept OWNER TO %s"
                             % "carol")
        r = self.admin.post("/api/v0/admin/user/carol/disable")
        self.assertEqual(r.status, 200, r)
        time.sleep(1.5)    # ample for a push to land (median 0.3 s)
        for c in self.clusters:
            self.assertFalse(c.login("carol", j["password"]), "disabled, and still logs in")
        _, st = self.wait_status("applied", handle="carol")
        self.assertEqual({p["state"] for p in st.values()}, {"disabled"})
        for c in self.clusters:
            self.assertFalse(c.login("carol", j["password"]))
            self.assertEqual(c.sql("select rolcanlogin, rolpassword is null from pg_authid "
                                   "where rolname = '%s'" % "carol"), "f|t")
            self.assertNotIn("carol", logins(c))
            t0 = time.monotonic()
            while c.sql("select count(*) from pg_stat_activity where usename = 'carol'") != "0":
                self.assertLess(time.monotonic() - t0, 5, "carol's session still there")
                time.sleep(0.05)
        held.stdin.write("select 'after';\n")  # its session was ended
        held.stdin.close()
        self.assertNotEqual(held.wait(10), 0)
        self.assertEqual(held.stdout.read().strip(), "")
        # the role stays, with what it owns
        self.assertEqual(self.clusters[0].sql("select tableowner from pg_tables "
                                              "where tablename = 'kept'"), "carol")
        r = self.admin.post("/api/v0/admin/user/carol/enable")
        self.assertEqual(r.status, 200, r)
        j2, st = self.wait_status("applied", handle="carol")
        self.assertEqual({p["state"] for p in st.values()}, {"present"})
        self.assertEqual(j2["password"], j["password"])
        for c in self.clusters:
            self.assertTrue(c.login("carol", j["password"]))
        self.assert_ops_untouched()

    def restart_from(self, data_copy):
        self.d.stop()
        data = os.path.join(self.d.dir, "data")
        shutil.rmtree(data)
        shutil.copytree(data_copy, data)
        self.d.start()
        self.login_admin()

    def node_versions(self):
        uid = self.admin.get("/api/v0/user/carol").json["id"]
        out = []
        for a in self.agents:
            out.append(json.load(open(os.path.join(a.dir, "state")))[uid]["version"])
        return out

    def test_3_restore_from_an_old_copy_converges(self):
        self.wait_status("applied", handle="carol")
        for rotations_after_copy in (1, 2):
            copy = os.path.join(self.base, "backup-%d" % rotations_after_copy)
            self.d.stop()
            shutil.copytree(os.path.join(self.d.dir, "data"), copy)
            self.d.start()
            self.login_admin()
            for _ in range(rotations_after_copy):
                self.assertEqual(self.admin.post("/api/v0/user/carol/password").status, 200)
                self.wait_status("applied", handle="carol")
            held = self.node_versions()
            self.restart_from(copy)
            seen = self.d.logtext().count("was acctd's store restored?")
            r = self.admin.post("/api/v0/user/carol/password")
            self.assertEqual(r.status, 200)
            j, st = self.wait_status("applied", handle="carol")
            for c in self.clusters:
                self.assertTrue(c.login("carol", j["password"]),
                                "node holds another state than acctd: %s" % st)
            # the node was ahead (version reused, then older), and said so
            self.assertEqual(self.d.logtext().count("was acctd's store restored?"), seen + 2)
            for p, v in zip(sorted(st.values(), key=lambda p: p["node"]), held):
                self.assertGreater(p["applied_version"], v)

    def test_4_deletion_leaves_no_login(self):
        h = self.handle
        self.clusters[0].sql("DROP TABLE kept")
        # while renamed onto ops (refused), then deleted
        self.rename("ops")
        self.wait_status("refused")
        r = self.admin.request("DELETE", "/api/v0/user/ops?confirm=ops")
        self.assertEqual(r.status, 204, r)
        t0 = time.monotonic()
        for c in self.clusters:
            while c.sql("select count(*) from pg_roles where rolname = '%s'" % h) != "0":
                self.assertLess(time.monotonic() - t0, 15, c.sql(LOGINS))
                time.sleep(0.1)
            self.assertEqual(logins(c) & {"bob", "bob2", "postgres"}, set())
            self.assertIn("ops", logins(c))
            self.assertEqual(c.sql("select count(*) from pg_auth_members m join pg_roles x "
                                   "on x.oid = m.member where m.roleid = "
                                   "'acctd_managed'::regrole and x.rolname like 'bob%'"), "0")
        self.assert_ops_untouched()

    def test_5_agent_killed_between_hook_and_save(self):
        """The agent is killed after the hook renamed carol to carol2 in
        PostgreSQL and before it saved that: its state file still says
        carol, with carol2 pending (the write-ahead intent). Meanwhile the
        user is renamed again, to carol3, and their password rotated:
        acctd pushes only that newest state. No role may be left with
        LOGIN and the old password."""
        j, _ = self.wait_status("applied", handle="carol")
        old_pw = j["password"]
        uid = self.admin.get("/api/v0/user/carol").json["id"]
        for a in self.agents:
            a.stop()
        r = self.admin.request("PATCH", "/api/v0/user/carol", body={"handle": "carol2"})
        self.assertEqual(r.status, 200, r)
        # what the killed agent left: PostgreSQL renamed, the state not
        for a, c in zip(self.agents, self.clusters):
            c.sql("ALTER ROLE carol RENAME TO carol2")
            self.assertTrue(c.login("carol2", old_pw))
            path = os.path.join(a.dir, "state")
            state = json.load(open(path))
            self.assertEqual(state[uid]["role"], "carol")
            state[uid]["pending"] = "carol2"
            with open(path, "w") as f:
                json.dump(state, f)
        r = self.admin.request("PATCH", "/api/v0/user/carol2", body={"handle": "carol3"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.admin.post("/api/v0/user/carol3/password").status, 200)
        for a in self.agents:
            a.start()
        j, st = self.wait_status("applied", handle="carol3")
        self.assertEqual({p["state"] for p in st.values()}, {"present"})
        self.assertNotEqual(j["password"], old_pw)
        for a, c in zip(self.agents, self.clusters):
            # exactly one managed role of this user can log in: carol3
            managed = c.sql("select coalesce(string_agg(x.rolname || ':' || x.rolcanlogin || ':' "
                            "|| (x.rolpassword is not null), ',' order by x.rolname), '') "
                            "from pg_authid x join pg_auth_members m on m.member = x.oid "
                            "where m.roleid = 'acctd_managed'::regrole "
                            "and x.rolname in ('carol', 'carol2', 'carol3')")
            roles = dict((f.split(":")[0], f.split(":", 1)[1]) for f in managed.split(","))
            self.assertEqual(roles.pop("carol3"), "true:true", managed)
            for name, attrs in roles.items():
                self.assertEqual(attrs, "false:false", "%s on %s: %s" % (name, a.name, managed))
            self.assertEqual(logins(c) & {"carol", "carol2"}, set())
            self.assertTrue(c.login("carol3", j["password"]))
            for name in ("carol", "carol2", "carol3"):
                self.assertFalse(c.login(name, old_pw), "%s logs in with the old password" % name)
            entry = json.load(open(os.path.join(a.dir, "state")))[uid]
            self.assertEqual(entry["role"], "carol3")
            self.assertNotIn("pending", entry)

    def hook(self, cluster, action, role, old="", verifier=""):
        env = {"PATH": os.environ["PATH"], "ACCTD_ACTION": action, "ACCTD_ROLE": role,
               "ACCTD_OLD_ROLE": old, "PGHOST": cluster.dir, "PGPORT": str(cluster.port),
               "PGUSER": "postgres", "PGDATABASE": "postgres"}
        p = subprocess.run([p30.HOOK], input=verifier + "\n" if verifier else "", env=env,
                           capture_output=True, text=True, timeout=30)
        return p.returncode, p.stderr.strip()

    def test_6_hook_with_two_former_names(self):
        """apply-postgres with ACCTD_OLD_ROLE naming several roles: the first
        managed one that exists is renamed, every other managed one loses
        LOGIN and its password in the same run, an unmanaged one is never
        touched, and a malformed list is refused."""
        c = self.clusters[0]
        for name, pw in (("hk1", "pw-one-1234"), ("hk2", "pw-two-1234")):
            self.assertEqual(self.hook(c, "present", name, verifier=scram(pw)), (0, ""))
            self.assertTrue(c.login(name, pw))
        rc = self.hook(c, "present", "hk3", "ops nothere hk1 hk2", scram("pw-three-1234"))
        self.assertEqual(rc, (0, ""))
        self.assertTrue(c.login("hk3", "pw-three-1234"))
        self.assertEqual(c.sql("select count(*) from pg_roles where rolname = 'hk1'"), "0")
        self.assertEqual(c.sql("select rolcanlogin, rolpassword is null from pg_authid "
                               "where rolname = 'hk2'"), "f|t")
        self.assertFalse(c.login("hk2", "pw-two-1234"))
        self.assert_ops_untouched()
        # again, and with the target among the former names: nothing moves
        self.assertEqual(self.hook(c, "present", "hk3", "hk1 hk3 hk2", scram("pw-three-1234")),
                         (0, ""))
        self.assertTrue(c.login("hk3", "pw-three-1234"))
        for bad in ("hk1 ", " hk1", "hk1  hk2", "hk1 HK2", "hk1,hk2", "hk1 *"):
            self.assertEqual(self.hook(c, "present", "hk4", bad, scram("pw-four-1234")),
                             (1, "apply-postgres: ACCTD_OLD_ROLE is not a valid role name"), bad)
        self.assertEqual(c.sql("select count(*) from pg_roles where rolname = 'hk4'"), "0")
        for name in ("hk2", "hk3"):
            self.assertEqual(self.hook(c, "absent", name), (0, ""))
        self.assertEqual(c.sql("select count(*) from pg_roles where rolname like 'hk%'"), "0")
        self.assert_ops_untouched()


def scram(password, iterations=4096):
    """the SCRAM-SHA-256 verifier PostgreSQL stores for password"""
    salt = os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    stored = hashlib.sha256(hmac.new(salted, b"Client Key", "sha256").digest()).digest()
    server = hmac.new(salted, b"Server Key", "sha256").digest()
    def b64(b):
        return base64.b64encode(b).decode()
    return "SCRAM-SHA-256$%d:%s$%s:%s" % (iterations, b64(salt), b64(stored), b64(server))


if __name__ == "__main__":
    unittest.main()

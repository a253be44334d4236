"""Fault storms (issue 13): a real acctd (real LMDB files, real TLS), a real
acctd-agent in front of a real PostgreSQL, and a mixed workload of N clients
while the box misbehaves. A checker keeps the history of acknowledged (2xx)
answers and proves after every restart that the store holds exactly what
was acknowledged, nothing half-done, with its audit records.

  storm.py [--rounds N] [--clients N] [--seconds S] [--flap-seconds S] [SCENARIO...]

Scenarios (all by default, in this order):
  kill9     SIGKILL at a random moment of each round, restart on the same data_dir
  restart   (rounds/5, at least 2) SIGHUP reloads during load, SIGTERM under load, clients released
            while acctd is starting (503 "acctd is starting" is the one 5xx allowed)
  flaps     the agent stopped (SIGTERM; with --agent-kill SIGKILL half the time) and started at random while
            the clients rotate and rename, for --flap-seconds
  diskfull  data_dir on a small tmpfs, filled while writes run, then freed

Each scenario prints `storm <name>: R rounds, N operations checked, V
violations` and the run ends with `storm: N passed, N failed`; exit 1 on any
violation. Needs root (tmpfs mount, PostgreSQL run as postgres) and
build/host/acctd + acctd-agent ($ACCTD_BIN).
"""
import argparse
import collections
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "api"))

from harness import Daemon, BIN, conf_text  # noqa: E402
import test_30_push as push  # noqa: E402  (Cluster, Agent, mkcert)

API = "/api/v0"
PASSWORD = "storm-console-pw-1"
DOMAIN = "ws.test"


class Gone(Exception):
    """The daemon did not answer: the request may or may not have been
    processed (unless `sent` is False: refused before a byte was sent)."""

    def __init__(self, sent, why):
        super().__init__(why)
        self.sent = sent


class Client:
    """One keep-alive HTTPS connection, verifying the certificate, with a
    session cookie and CSRF token. Unlike harness.Client it never resends a
    request on its own: after a SIGKILL a resend would turn "maybe done"
    into "refused", and the checker must know which it was."""

    def __init__(self, d):
        self.d = d
        self.ctx = ssl.create_default_context(cafile=d.cafile)
        self.conn = None
        self.cookie = None
        self.csrf = None

    def close(self):
        if self.conn:
            self.conn.close()
            self.conn = None

    def request(self, method, path, body=None, headers=None):
        h = {"Content-Type": "application/json"} if body is not None else {}
        if self.cookie:
            h["Cookie"] = self.cookie
        if self.csrf and method != "GET":
            h["X-CSRF-Token"] = self.csrf
        h.update(headers or {})
        raw = json.dumps(body).encode() if body is not None else None
        if self.conn is None:
            try:
                sock = socket.create_connection(("127.0.0.1", self.d.port), timeout=30)
            except OSError as e:
                raise Gone(False, "connect: %s" % e)
            try:
                tls = self.ctx.wrap_socket(sock, server_hostname="127.0.0.1")
            except (OSError, ssl.SSLError) as e:
                sock.close()
                raise Gone(False, "handshake: %s" % e)
            self.conn = http.client.HTTPSConnection("127.0.0.1", self.d.port,
                                                    context=self.ctx, timeout=30)
            self.conn.sock = tls
        try:
            self.conn.request(method, path, body=raw, headers=h)
            r = self.conn.getresponse()
            data = r.read()
        except (OSError, http.client.HTTPException, ssl.SSLError) as e:
            self.close()
            raise Gone(True, "%s %s: %r" % (method, path, e))
        for k, v in r.getheaders():
            if k.lower() == "set-cookie" and v.startswith("__Host-acctd_session="):
                val = v.split(";", 1)[0]
                self.cookie = val if val.split("=", 1)[1] else None
        if (r.getheader("Connection") or "").lower() == "close":
            self.close()
        try:
            j = json.loads(data) if data else None
        except ValueError:
            j = None
        return r.status, j, r.getheader("Content-Type")

    def login(self, handle, password):
        st, j, _ = self.request("POST", API + "/login", {"handle": handle, "password": password})
        if st == 200:
            self.csrf = j["csrf_token"]
        return st, j


def reads(c, method, path, tries=200):
    """A read (or the checker's own request) retried until acctd answers."""
    for _ in range(tries):
        try:
            st, j, ct = c.request(method, path)
            if st == 503:
                time.sleep(0.05)
                continue
            return st, j
        except Gone:
            time.sleep(0.05)
    raise AssertionError("acctd does not answer %s %s" % (method, path))


# --- the world: PostgreSQL, agent, acctd -------------------------------------

class World:
    def __init__(self, name, workspace_owners, data_dir=None, extra=None):
        self.base = tempfile.mkdtemp(prefix="acctd-storm-%s-" % name)
        os.chmod(self.base, 0o755)
        push.mkcert(os.path.join(self.base, "acctd-client"), "acctd")
        cc = os.path.join(self.base, "acctd-client.crt")
        self.cluster = push.Cluster(self.base, "pg1")
        self.agent = push.Agent(self.base, "node1", self.cluster, cc)
        self.agent.start()
        settings = {
            "login": {"max_failures": 1000, "window": 1, "lockout": 1},
            # no idle close during a round: a failed request is then always
            # "maybe processed", never a benign keep-alive race
            "http": {"keepalive_timeout_ms": 60000},
            "nodes": [{"name": "node1", "url": "https://127.0.0.1:%d" % self.agent.port,
                       "cert": self.agent.cert}],
            "workspaces": [{"handle": "db", "owner": o, "node": "node1", "database": "postgres",
                            "port": self.cluster.port} for o in workspace_owners],
            "push": {"client_cert": cc, "client_key": os.path.join(self.base, "acctd-client.key"),
                     "retry_max_seconds": 1},
            "log_level": "info",
            # the checker counts every acknowledged change's audit record, so
            # the ring must not wrap during a run: a 3-minute flap storm
            # writes about 100,000 records (the default capacity)
            "map_size_mb": 1024,
            "audit": {"capacity": 400000},
        }
        settings.update(extra or {})
        self.d = Daemon(extra=settings)
        if data_dir:
            self.d.settings["data_dir"] = data_dir
            self.d.settings["bootstrap_admin"]["password_file"] = os.path.join(data_dir, "admin.password")
            self.d.write_conf()
        self.d.start()
        self.admin = Client(self.d)
        pw = open(self.d.settings["bootstrap_admin"]["password_file"]).read().strip()
        st, j = self.admin.login("admin", pw)
        assert st == 200, (st, j)

    def restart_agent(self):
        self.agent.start()

    def close(self):
        try:
            if self.d.proc and self.d.proc.poll() is None:
                self.d.proc.kill()
                self.d.proc.wait()
        finally:
            self.agent.stop()
            self.cluster.stop()
            self.d.cleanup()
            shutil.rmtree(self.base, ignore_errors=True)


# --- the model: what acctd acknowledged --------------------------------------

class Checker:
    """Acknowledged history, violations and the audit counts."""

    def __init__(self, name):
        self.name = name
        self.lock = threading.Lock()
        self.violations = []
        self.ops = 0                      # operations checked
        self.expect = collections.Counter()   # (action, key) -> records owed
        self.logins = collections.Counter()   # actor id -> acknowledged sign-ins
        self.seen = collections.Counter()     # (action, key) -> records found
        self.seen_login = collections.Counter()
        self.audit_last = 0
        self.statuses = collections.Counter()
        self.inflight = 0     # changes without an answer when acctd died
        self.inflight_done = 0    # ... of which the store shows all

    def violation(self, msg):
        with self.lock:
            self.violations.append(msg)
            if len(self.violations) <= 30:
                print("  VIOLATION: " + msg, flush=True)

    def acked(self, action, key, resolved=False):
        with self.lock:
            self.expect[(action, key)] += 1
            self.inflight_done += resolved

    def answer(self, status):
        with self.lock:
            self.statuses[status] += 1


class User:
    """One storm client's account; only its own thread changes it."""

    def __init__(self, i, j):
        self.i = i
        self.id = j["id"]
        self.handle = j["handle"]
        self.version = j["version_id"]
        self.display_name = j["display_name"]
        self.tokens = {}          # id -> status
        self.dbpass = None        # version
        self.pending = None       # (kind, data) of a request left without answer
        self.renames = 0
        self.n = 0


class Worker(threading.Thread):
    """Runs the mixed workload for its user while `go` is set; on a request
    without answer it records the op as pending and waits for the checker."""

    KINDS = ("login", "patch", "patch", "token", "token", "rotate", "rename")

    def __init__(self, world, chk, user, kinds=None, seed=0):
        super().__init__(daemon=True)
        self.w, self.chk, self.u = world, chk, user
        self.kinds = kinds or self.KINDS
        self.rnd = random.Random(seed)
        self.c = Client(world.d)
        self.go = threading.Event()
        self.idle = threading.Event()
        self.idle.set()
        self.stop = False
        self.starting_ok = False   # 503 "starting" allowed (restart storm)
        self.started503 = 0

    def run(self):
        while not self.stop:
            if not self.go.wait(0.1):
                continue
            self.idle.clear()
            try:
                while self.go.is_set() and not self.stop:
                    self.step()
            except Gone as e:
                if not e.sent and self.u.pending and self.u.pending[0] != "login":
                    self.u.pending = None      # refused before sending: not done
                self.go.clear()
            except Exception as e:      # a bug in the storm itself
                self.chk.violation("worker %d: %r" % (self.u.i, e))
                self.go.clear()
            finally:
                self.c.close()
                self.idle.set()

    def call(self, method, path, body=None, headers=None):
        while True:
            try:
                st, j, ct = self.c.request(method, path, body, headers)
            except Gone as e:
                if not e.sent and self.starting_ok and self.go.is_set():
                    time.sleep(0.05)     # acctd not listening yet
                    continue
                raise
            self.chk.answer(st)
            if st == 503 and self.starting_ok and j and j.get("detail", j.get("title", "")).find("starting") >= 0:
                self.started503 += 1
                time.sleep(0.05)
                continue
            if st == 503 and j and "sign-ins at once" in j.get("title", "") + j.get("detail", ""):
                # the KDF gate's documented answer under load (nothing was
                # changed): do what its Retry-After says
                time.sleep(0.2)
                continue
            if st >= 500:
                self.chk.violation("%s %s answered %d %r" % (method, path, st, j))
            return st, j

    def upath(self, rest=""):
        return API + "/user/" + self.u.handle + rest

    def step(self):
        u = self.u
        if self.c.cookie is None:
            self.do_login()
        kind = self.rnd.choice(self.kinds)
        getattr(self, "do_" + kind)()

    def done(self, what):
        self.u.pending = None
        with self.chk.lock:
            self.chk.ops += 1

    def unexpected(self, what, st, j):
        self.chk.violation("user %s: %s answered %d %r" % (self.u.handle, what, st, j))
        self.u.pending = None
        self.go.clear()
        raise Gone(False, "unexpected")

    def do_login(self):
        self.u.pending = ("login", None)
        self.c.cookie = None
        self.c.close()
        st, j = self.call("POST", API + "/login", {"handle": self.u.handle, "password": PASSWORD})
        if st != 200:
            self.unexpected("login", st, j)
        self.c.csrf = j["csrf_token"]
        with self.chk.lock:
            self.chk.logins[self.u.id] += 1
        self.done("login")

    def user_answer(self, j):
        self.u.version = j["version_id"]
        self.u.display_name = j["display_name"]
        self.u.handle = j["handle"]

    def do_patch(self):
        u = self.u
        u.n += 1
        name = "Storm %d.%d" % (u.i, u.n)
        u.pending = ("patch", {"display_name": name, "version": u.version})
        st, j = self.call("PATCH", self.upath(), {"display_name": name},
                          {"If-Match": str(u.version)})
        if st != 200 or j["display_name"] != name or j["version_id"] <= u.version:
            self.unexpected("PATCH", st, j)
        self.user_answer(j)
        self.chk.acked("user.update", u.id)
        self.done("patch")

    def do_rename(self):
        u = self.u
        u.renames += 1
        new = "c%dx%d" % (u.i, u.renames)
        u.pending = ("rename", {"old": u.handle, "new": new, "version": u.version})
        st, j = self.call("PATCH", self.upath(), {"handle": new}, {"If-Match": str(u.version)})
        if st != 200 or j["handle"] != new:
            self.unexpected("rename", st, j)
        self.user_answer(j)
        self.chk.acked("user.update", u.id)
        self.done("rename")

    def do_rotate(self):
        u = self.u
        u.pending = ("rotate", {"version": u.dbpass})
        st, j = self.call("POST", self.upath("/password"))
        if st != 200 or (u.dbpass is not None and j["version"] != u.dbpass + 1):
            self.unexpected("rotate", st, j)
        u.dbpass = j["version"]
        self.chk.acked("user.password.rotate", u.id)
        self.done("rotate")

    def do_token(self):
        u = self.u
        if len(u.tokens) < 2 and self.rnd.random() < 0.6:
            u.n += 1
            title = "t%d.%d" % (u.i, u.n)
            u.pending = ("token.create", {"title": title, "before": dict(u.tokens)})
            st, j = self.call("POST", self.upath("/token"), {"title": title})
            if st != 201 or j["title"] != title:
                self.unexpected("token create", st, j)
            u.tokens[j["id"]] = j["status"]
            self.chk.acked("token.create", u.id)
        elif u.tokens and self.rnd.random() < 0.5:
            tid = self.rnd.choice(sorted(u.tokens))
            new = "inactive" if u.tokens[tid] == "active" else "active"
            u.pending = ("token.update", {"id": tid, "old": u.tokens[tid], "new": new})
            st, j = self.call("PATCH", self.upath("/token/" + tid), {"status": new})
            if st != 200 or j["status"] != new:
                self.unexpected("token patch", st, j)
            u.tokens[tid] = new
            self.chk.acked("token.update", u.id)
        elif u.tokens:
            tid = self.rnd.choice(sorted(u.tokens))
            u.pending = ("token.delete", {"id": tid, "old": u.tokens[tid]})
            st, j = self.call("DELETE", self.upath("/token/" + tid))
            if st != 204:
                self.unexpected("token delete", st, j)
            del u.tokens[tid]
            self.chk.acked("token.delete", u.id)
        else:
            return
        self.done("token")


class Churn(Worker):
    """The admin creates and deletes users churn0..3 (each owns a workspace,
    so a deletion is pushed to the node as `absent`)."""

    def __init__(self, world, chk, seed=0):
        super().__init__(world, chk, None, seed=seed)
        self.c = Client(world.d)
        self.c.cookie, self.c.csrf = world.admin.cookie, world.admin.csrf
        self.present = {}          # handle -> id
        self.pending = None

    def step(self):
        h = "churn%d" % self.rnd.randrange(4)
        if h in self.present:
            self.pending = ("delete", h)
            st, j = self.call("DELETE", API + "/user/%s?confirm=%s" % (h, h))
            if st != 204:
                return self.unexpected_admin("delete " + h, st, j)
            del self.present[h]
            self.chk.acked("user.delete", h)
        else:
            self.pending = ("create", h)
            st, j = self.call("POST", API + "/admin/user",
                              {"handle": h, "email": h + "@example.test", "password": PASSWORD,
                               "must_change_password": False})
            if st != 201:
                return self.unexpected_admin("create " + h, st, j)
            self.present[h] = j["id"]
            self.chk.acked("user.create", h)
        self.pending = None
        with self.chk.lock:
            self.chk.ops += 1

    def unexpected_admin(self, what, st, j):
        self.chk.violation("admin: %s answered %d %r" % (what, st, j))
        self.pending = None
        self.go.clear()
        raise Gone(False, "unexpected")

    def run(self):
        self.u = type("A", (), {"pending": None})()
        while not self.stop:
            if not self.go.wait(0.1):
                continue
            self.idle.clear()
            try:
                while self.go.is_set() and not self.stop:
                    self.step()
                    time.sleep(0.02)
            except Gone as e:
                if not e.sent:
                    self.pending = None
                self.go.clear()
            except Exception as e:
                self.chk.violation("churn: %r" % (e,))
                self.go.clear()
            finally:
                self.c.close()
                self.idle.set()


# --- the checks ----------------------------------------------------------------

def check_state(w, chk, workers, churn):
    """After a restart, with every client idle: resolve each request left
    without answer from what the store shows (it must show either all of it
    or none of it), then compare every account with the acknowledged model."""
    a = w.admin
    for wk in workers:
        u = wk.u
        p = u.pending
        kind = p[0] if p else None
        if kind and kind != "login":
            chk.inflight += 1
        if kind == "rename":
            st, j = reads(a, "GET", API + "/user/" + p[1]["new"])
            st0, j0 = reads(a, "GET", API + "/user/" + p[1]["old"])
            if st == 200 and j["id"] == u.id and st0 == 404:
                u.handle = p[1]["new"]
                chk.acked("user.update", u.id, True)
            elif st == 404 and st0 == 200 and j0["id"] == u.id:
                pass
            else:
                chk.violation("rename %s -> %s half-visible: new %d, old %d"
                              % (p[1]["old"], p[1]["new"], st, st0))
        st, j = reads(a, "GET", API + "/user/" + u.handle)
        if st != 200 or j["id"] != u.id:
            chk.violation("user %s (%s) missing: %d %r" % (u.handle, u.id, st, j))
            continue
        if kind == "patch":
            if j["display_name"] == p[1]["display_name"] and j["version_id"] > p[1]["version"]:
                chk.acked("user.update", u.id, True)
                u.display_name, u.version = j["display_name"], j["version_id"]
        elif kind == "rename" and j["handle"] == p[1]["new"]:
            u.version = j["version_id"]
        if j["display_name"] != u.display_name or j["version_id"] != u.version \
                or j["handle"] != u.handle:
            chk.violation("user %s: store has %r v%d %s, acknowledged %r v%d %s" % (
                u.id, j["display_name"], j["version_id"], j["handle"],
                u.display_name, u.version, u.handle))
            u.display_name, u.version, u.handle = j["display_name"], j["version_id"], j["handle"]
        # tokens
        st, j = reads(a, "GET", API + "/user/%s/token" % u.handle)
        have = {t["id"]: t["status"] for t in j["items"]}
        if kind == "token.create":
            new = set(have) - set(u.tokens)
            if len(new) == 1:
                t = [x for x in j["items"] if x["id"] in new][0]
                if t["title"] == p[1]["title"]:
                    u.tokens[t["id"]] = t["status"]
                    chk.acked("token.create", u.id, True)
        elif kind == "token.update" and have.get(p[1]["id"]) == p[1]["new"]:
            u.tokens[p[1]["id"]] = p[1]["new"]
            chk.acked("token.update", u.id, True)
        elif kind == "token.delete" and p[1]["id"] not in have:
            u.tokens.pop(p[1]["id"], None)
            chk.acked("token.delete", u.id, True)
        if have != u.tokens:
            chk.violation("user %s tokens: store %r, acknowledged %r" % (u.handle, have, u.tokens))
            u.tokens = have
        # database password version
        st, j = reads(a, "GET", API + "/user/%s/password?reveal=0" % u.handle)
        if kind == "rotate" and u.dbpass is not None and j["version"] == u.dbpass + 1:
            u.dbpass = j["version"]
            chk.acked("user.password.rotate", u.id, True)
        if u.dbpass is None and kind != "rotate":
            u.dbpass = j["version"]
        if j["version"] != u.dbpass:
            if kind == "rotate" and u.dbpass is None:
                u.dbpass = j["version"]
            else:
                chk.violation("user %s: db password v%s, acknowledged v%s"
                              % (u.handle, j["version"], u.dbpass))
                u.dbpass = j["version"]
        u.pending = None
        with chk.lock:
            chk.ops += 1
    if churn:
        p = churn.pending
        chk.inflight += p is not None
        for k in range(4):
            h = "churn%d" % k
            st, j = reads(a, "GET", API + "/user/" + h)
            if p and p[1] == h:
                if p[0] == "create" and st == 200:
                    churn.present[h] = j["id"]
                    chk.acked("user.create", h, True)
                elif p[0] == "delete" and st == 404:
                    churn.present.pop(h, None)
                    chk.acked("user.delete", h, True)
            if (st == 200) != (h in churn.present):
                chk.violation("%s: store answers %d, acknowledged %s" % (
                    h, st, "present" if h in churn.present else "absent"))
        churn.pending = None
    check_hosts(w, chk, workers, churn)
    check_audit(w, chk)


def check_hosts(w, chk, workers, churn):
    """The DNS names follow the handles: every workspace under its owner's
    current handle (the configured one while nobody holds it), nothing
    else (an old name left over is half a rename)."""
    want = {"%s-db.%s" % (wk.u.handle, DOMAIN) for wk in workers}
    if churn:
        want |= {"churn%d-db.%s" % (k, DOMAIN) for k in range(4)}
    with open(w.d.settings["dns"]["hosts_file"]) as f:
        have = {x for line in f for x in line.split()[1:] if not line.startswith("#")}
    if have != want:
        chk.violation("hosts file: extra %s, missing %s" % (sorted(have - want)[:5],
                                                          sorted(want - have)[:5]))


def check_audit(w, chk):
    """Every acknowledged change has its record (exactly one: a change and
    its record are one transaction), the chain verifies, nothing was
    trimmed and nothing acknowledged earlier went missing."""
    a = w.admin
    new = []
    path = API + "/admin/audit?limit=100"
    while path:
        st, j = reads(a, "GET", path)
        stop = False
        for rec in j["items"]:
            if rec["id"] <= chk.audit_last:
                stop = True
                break
            new.append(rec)
        path = None if stop or not j.get("next_token") else \
            API + "/admin/audit?limit=100&next_token=" + j["next_token"]
    for rec in new:
        act = rec["action_type"]
        if act == "session.login":
            chk.seen_login[rec["actor_id"]] += 1
        elif act in ("user.create", "user.delete"):
            chk.seen[(act, rec["target_handle"])] += 1
        else:
            chk.seen[(act, rec.get("target_id"))] += 1
    if new:
        chk.audit_last = max(r["id"] for r in new)
    st, v = reads(a, "GET", API + "/admin/audit/verify")
    if not v.get("ok") or v.get("trimmed") or v.get("last_seq") != chk.audit_last:
        chk.violation("audit verify: %r (last record seen %d)" % (v, chk.audit_last))
    for key, n in chk.expect.items():
        if chk.seen[key] != n:
            chk.violation("audit: %d records %s for %s, %d changes acknowledged"
                          % (chk.seen[key], key[0], key[1], n))
            chk.seen[key] = n      # report once
    for uid, n in chk.logins.items():
        if chk.seen_login[uid] < n:
            chk.violation("audit: %d session.login for %s, %d acknowledged"
                          % (chk.seen_login[uid], uid, n))
            chk.seen_login[uid] = n


def managed_roles(w):
    out = w.cluster.sql("SELECT r.rolname FROM pg_roles r JOIN pg_auth_members m ON m.member = r.oid "
                        "JOIN pg_roles g ON g.oid = m.roleid WHERE g.rolname = 'acctd_managed' "
                        "ORDER BY 1")
    return set(out.split()) if out else set()


def check_converged(w, chk, workers, churn, timeout=60):
    """Every node ends with the newest state for every user: acctd's outbox
    empties, the agent applied each user's newest version, the managed
    PostgreSQL roles are exactly the workspace owners' handles, and each
    signs in with the password acctd shows now (an older one would fail)."""
    a = w.admin
    t0 = time.monotonic()
    while True:
        st, j = reads(a, "GET", API + "/admin/nodes")
        pend = sum(n.get("pending", 0) for n in j["items"])
        props = {}
        for wk in workers:
            st, p = reads(a, "GET", API + "/user/%s/password?reveal=0" % wk.u.handle)
            props[wk.u.handle] = p["propagation"]
        if pend == 0 and all(pr and all(x["status"] == "applied" for x in pr)
                             for pr in props.values()):
            break
        if time.monotonic() - t0 > timeout:
            chk.violation("outbox not converged after %ds: pending %d, %r" % (
                timeout, pend, [(h, pr) for h, pr in props.items()
                                if not pr or any(x["status"] != "applied" for x in pr)][:3]))
            return
        time.sleep(0.2)
    want = {wk.u.handle for wk in workers} | (set(churn.present) if churn else set())
    have = managed_roles(w)
    if have != want:
        chk.violation("PostgreSQL roles: extra %s, missing %s" % (sorted(have - want),
                                                                 sorted(want - have)))
    for wk in workers:
        st, p = reads(a, "GET", API + "/user/%s/password" % wk.u.handle)
        if p["version"] != wk.u.dbpass:
            chk.violation("%s: password v%d, acknowledged v%s" % (wk.u.handle, p["version"], wk.u.dbpass))
        if not w.cluster.login(wk.u.handle, p["password"]):
            chk.violation("%s cannot sign in to PostgreSQL with its newest password (v%d)"
                          % (wk.u.handle, p["version"]))
        with chk.lock:
            chk.ops += 1
    check_agent_order(w, chk)


APPLIED = re.compile(r": (u_[0-9a-v]+) v(\d+) .*: applied$")


def check_agent_order(w, chk):
    """The agent applied each user's versions in increasing order, across
    its restarts (its log: `peer: user vN …: applied`)."""
    last = {}
    n = 0
    for line in list(w.agent.log):
        m = APPLIED.search(line)
        if not m:
            continue
        uid, v = m.group(1), int(m.group(2))
        n += 1
        if v <= last.get(uid, 0):
            chk.violation("agent applied %s v%d after v%d" % (uid, v, last[uid]))
        last[uid] = v
    if n == 0:
        chk.violation("the agent applied nothing")


# --- scenarios ------------------------------------------------------------------

def setup_users(w, chk, n, kinds=None, seed=1):
    workers = []
    for i in range(n):
        h = "c%d" % i
        st, j, _ = w.admin.request("POST", API + "/admin/user", {
            "handle": h, "email": h + "@example.test", "password": PASSWORD,
            "must_change_password": False})
        assert st == 201, (st, j)
        chk.acked("user.create", h)
        wk = Worker(w, chk, User(i, j), kinds=kinds, seed=seed * 1000 + i)
        wk.start()
        workers.append(wk)
    return workers


def release(ws):
    for wk in ws:
        wk.go.set()


def pause(ws):
    for wk in ws:
        wk.go.clear()
    for wk in ws:
        if not wk.idle.wait(60):
            raise AssertionError("a client did not stop")


def spawn(d):
    """Start acctd without waiting for its readiness line."""
    d.wait_ready = False
    d.start()
    d.wait_ready = True


def wait_ready(d, timeout=30):
    if not d._ready.wait(timeout):
        raise AssertionError("acctd not ready:\n" + d.logtext()[-3000:])


def kill9(w):
    w.d.proc.kill()
    w.d.proc.wait()


def report(chk, rounds):
    print("storm %s: %d changes left without an answer by a fault, %d of them "
          "found whole in the store, the rest not at all" % (chk.name, chk.inflight, chk.inflight_done))
    print("storm %s: %d rounds, %d operations checked, %d violations"
          % (chk.name, rounds, chk.ops, len(chk.violations)), flush=True)
    return not chk.violations


def storm_kill9(args, rnd):
    chk = Checker("kill9")
    w = World("kill9", ["c%d" % i for i in range(args.clients)] + ["churn%d" % k for k in range(4)])
    try:
        workers = setup_users(w, chk, args.clients, seed=2)
        churn = Churn(w, chk, seed=3)
        churn.start()
        allw = workers + [churn]
        check_state(w, chk, workers, churn)
        for rnd_i in range(1, args.rounds + 1):
            release(allw)
            time.sleep(rnd.uniform(0.2, args.round_seconds))
            kill9(w)                          # at a random moment of the load
            pause(allw)
            w.d.start()
            check_state(w, chk, workers, churn)
            if rnd_i % 10 == 0 or rnd_i == args.rounds:
                check_converged(w, chk, workers, churn)
            print("  kill9 round %d: %d operations, %d violations"
                  % (rnd_i, chk.ops, len(chk.violations)), flush=True)
        for wk in allw:
            wk.stop = True
        return report(chk, args.rounds)
    finally:
        w.close()


def storm_restart(args, rnd):
    """SIGHUP reloads (a different write budget each time) and SIGTERM while
    the clients run; the clients are let go while acctd is still starting."""
    chk = Checker("restart")
    w = World("restart", ["c%d" % i for i in range(args.clients)])
    try:
        workers = setup_users(w, chk, args.clients, seed=4)
        check_state(w, chk, workers, None)
        hups = 0
        rounds = max(2, args.rounds // 5)
        for rnd_i in range(1, rounds + 1):
            w.d.proc.send_signal(signal.SIGTERM)
            if w.d.proc.wait(20) != 0:
                chk.violation("acctd exited %d on SIGTERM" % w.d.proc.returncode)
            for wk in workers:
                wk.starting_ok = True
            spawn(w.d)
            release(workers)                  # while acctd starts: 503 or refused
            wait_ready(w.d)
            t_end = time.monotonic() + rnd.uniform(0.5, args.round_seconds)
            while time.monotonic() < t_end:
                time.sleep(rnd.uniform(0.1, 0.4))
                s = dict(w.d.settings)
                s["rate_limit"] = {"writes_per_minute": rnd.randrange(50000, 60000),
                                   "writes_burst": 10000}
                w.d.write_conf(s)
                w.d.proc.send_signal(signal.SIGHUP)
                hups += 1
            w.d.proc.send_signal(signal.SIGTERM)   # under load
            rc = w.d.proc.wait(20)
            if rc != 0:
                chk.violation("acctd exited %d on SIGTERM under load" % rc)
            pause(workers)
            for wk in workers:
                wk.starting_ok = False
            w.d.start()
            check_state(w, chk, workers, None)
            print("  restart round %d: %d operations, %d violations"
                  % (rnd_i, chk.ops, len(chk.violations)), flush=True)
        check_converged(w, chk, workers, None)
        reloads = w.d.logtext().count("reload")
        n503 = sum(wk.started503 for wk in workers)
        print("  restart: %d SIGHUP sent, %d reload log lines, %d answers 503 while starting, "
              "answers %s" % (hups, reloads, n503, dict(sorted(chk.statuses.items()))))
        bad = {s: n for s, n in chk.statuses.items() if s >= 500 and s != 503}
        if bad:
            chk.violation("5xx answers other than 503 while starting: %r" % bad)
        for wk in workers:
            wk.stop = True
        return report(chk, rounds)
    finally:
        w.close()


def storm_flaps(args, rnd):
    chk = Checker("flaps")
    w = World("flaps", ["c%d" % i for i in range(args.clients)])
    try:
        workers = setup_users(w, chk, args.clients, kinds=("rotate", "rotate", "rename"), seed=5)
        for wk in workers:
            wk.rnd.seed(wk.u.i)
        check_state(w, chk, workers, None)
        release(workers)
        flaps = 0
        t_end = time.monotonic() + args.flap_seconds
        while time.monotonic() < t_end:
            time.sleep(rnd.uniform(0.2, 2.0))
            if args.agent_kill and rnd.random() < 0.5:
                w.agent.proc.kill()
                w.agent.proc.wait()
            else:
                w.agent.stop()
            time.sleep(rnd.uniform(0.1, 1.5))
            w.restart_agent()
            flaps += 1
            # the clients pace themselves a little: rotations are writes
            # with a push each, and the node must see many of them
        pause(workers)
        check_state(w, chk, workers, None)
        check_converged(w, chk, workers, None)
        print("  flaps: agent stopped %d times in %ds" % (flaps, args.flap_seconds))
        for wk in workers:
            wk.stop = True
        return report(chk, flaps)
    finally:
        w.close()


def storm_diskfull(args, rnd):
    """data_dir on a small tmpfs, filled to the brim while writes run."""
    chk = Checker("diskfull")
    mnt = tempfile.mkdtemp(prefix="acctd-storm-tmpfs-")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m,mode=0700", "tmpfs", mnt],
                       capture_output=True, text=True)
    if r.returncode != 0:
        os.rmdir(mnt)
        print("storm diskfull: cannot mount a tmpfs (%s): the disk-full storm needs root"
              % r.stderr.strip())
        return False
    w = None
    try:
        data = os.path.join(mnt, "data")
        w = World("diskfull", ["c%d" % i for i in range(args.clients)], data_dir=data,
                  extra={"map_size_mb": 64, "audit": {"capacity": 20000}})
        workers = setup_users(w, chk, args.clients, kinds=("patch", "token", "rotate"), seed=6)
        check_state(w, chk, workers, None)
        results = collections.Counter()
        bad = []
        stop = threading.Event()

        for wk in workers:           # signed in while there is room
            st, j = wk.c.login(wk.u.handle, PASSWORD)
            assert st == 200, (st, j)

        def writer(wk):
            c = wk.c
            while not stop.is_set():
                u = wk.u
                u.n += 1
                if u.n % 3:
                    name = "Full %d.%d" % (u.i, u.n)
                    u.pending = ("patch", {"display_name": name, "version": u.version})
                    st, j, ct = c.request("PATCH", API + "/user/" + u.handle,
                                          {"display_name": name}, {"If-Match": str(u.version)})
                else:
                    u.pending = ("rotate", {"version": u.dbpass})
                    st, j, ct = c.request("POST", API + "/user/%s/password" % u.handle)
                results[st] += 1
                if st == 200 and u.pending[0] == "patch":
                    wk.user_answer(j)
                    chk.acked("user.update", u.id)
                elif st == 200:
                    u.dbpass = j["version"]
                    chk.acked("user.password.rotate", u.id)
                elif st == 507:
                    if ct != "application/problem+json" or not j["detail"].startswith("the store is full"):
                        bad.append((st, ct, j))
                else:
                    bad.append((st, ct, j))
                u.pending = None
                # reads keep working
                st, j, ct = c.request("GET", API + "/user/%s/token" % u.handle)
                if st != 200:
                    bad.append(("read", st, j))
                with chk.lock:
                    chk.ops += 1

        ths = [threading.Thread(target=writer, args=(wk,), daemon=True) for wk in workers]
        for t in ths:
            t.start()
        time.sleep(0.5)
        # fill the file system to the brim, 4 KiB at a time at the end
        filler = os.path.join(mnt, "filler")
        with open(filler, "wb", buffering=0) as f:
            for bs in (1 << 20, 1 << 16, 1 << 12):
                while True:
                    try:
                        f.write(b"\0" * bs)
                        f.flush()
                    except OSError:
                        break
        st = os.statvfs(mnt)
        print("  diskfull: tmpfs filled, %d bytes free" % (st.f_bavail * st.f_frsize))
        time.sleep(args.full_seconds)
        full = dict(results)
        n507 = results[507]
        if n507 == 0:
            chk.violation("no write met the full disk (answers %r)" % full)
        os.unlink(filler)
        results.clear()
        time.sleep(1.5)
        stop.set()
        for t in ths:
            t.join(30)
        after = dict(results)
        print("  diskfull: answers while full %r, after freeing %r" % (full, after))
        if not after.get(200):
            chk.violation("no write succeeded after freeing space: %r" % after)
        for b in bad[:5]:
            chk.violation("while the disk was full: %r" % (b,))
        # the store is whole: same daemon, then after a SIGKILL on the same files
        check_state(w, chk, workers, None)
        kill9(w)
        w.d.start()
        check_state(w, chk, workers, None)
        check_converged(w, chk, workers, None)
        for wk in workers:
            wk.stop = True
        return report(chk, 1)
    finally:
        if w:
            w.close()
        subprocess.run(["umount", mnt])
        os.rmdir(mnt)


SCENARIOS = {"kill9": storm_kill9, "restart": storm_restart, "flaps": storm_flaps,
             "diskfull": storm_diskfull}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=50)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=1.5, dest="round_seconds",
                    help="longest load of a round before the fault")
    ap.add_argument("--flap-seconds", type=float, default=180)
    ap.add_argument("--full-seconds", type=float, default=3)
    ap.add_argument("--agent-kill", action="store_true",
                    help="flaps: stop the agent with SIGKILL half the time (else SIGTERM)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("scenarios", nargs="*", default=list(SCENARIOS))
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    print("storm: seed %d, %d rounds, %d clients, rounds up to %.1fs, flaps %ds (%s)"
          % (seed, args.rounds, args.clients, args.round_seconds, args.flap_seconds, BIN))
    passed = failed = 0
    t0 = time.monotonic()
    for name in args.scenarios:
        rnd = random.Random("%d-%s" % (seed, name))
        t1 = time.monotonic()
        try:
            ok = SCENARIOS[name](args, rnd)
        except Exception as e:
            import traceback
            traceback.print_exc()
            print("storm %s: aborted: %r" % (name, e))
            ok = False
        print("storm %s: %.0fs" % (name, time.monotonic() - t1), flush=True)
        passed += ok
        failed += not ok
    print("storm (%.0fs, seed %d):" % (time.monotonic() - t0, seed))
    print("storm: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

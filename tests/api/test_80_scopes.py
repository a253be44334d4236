"""Scoped API tokens (issue 15, part A): `full` (the default, what a token
always could), `read` (GET routes only) and `connect` (who am I, and the
user's workspaces with their connection strings). Every route of the route
table is called with each scope, from the table itself as the daemon serves
it (GET /api/v0/openapi.json, whose x-token-scopes test_routes checks against
routes.c), and the answers are what a user sees: a refused call is a 403
problem naming the token's scope and changes nothing."""
import json
import unittest

from creds import (API, TOKEN_KEYS, CredCase, assert_problem, audit_records, bearer_client,
                   ws_extra)

ANYONE = {("GET", "/"), ("GET", "/assets/{name}"), ("GET", "/healthz"),
          ("GET", "/api/v0/openapi.json"), ("POST", "/api/v0/login"), ("POST", "/api/v0/login/totp")}
CONNECT = {("GET", "/api/v0/actor"), ("GET", "/api/v0/user/{handle}/workspace")}
# GET routes a `read` token may not call: the backup carries every user's
# credential material (token HMACs, SCRAM verifiers, sealed secrets)
FULL_ONLY_GETS = {("GET", "/api/v0/admin/backup")}


class Scopes(CredCase, unittest.TestCase):
    extra = ws_extra(tokens={"max_per_user": 20})

    @classmethod
    def prepare(cls):
        r = cls.admin.get(API + "/openapi.json")
        assert r.status == 200, r
        cls.ops = [(m.upper(), p, op) for p, ops in r.json["paths"].items()
                   for m, op in ops.items()]
        cls.alice, cls.ac, _ = cls.user("alice")
        cls.saw(*cls.ac.cookies.values())

    def token(self, c, h, scope=None, status=201):
        body = {"title": "t-%s" % scope} if scope is None else {"title": scope, "scope": scope}
        return self.new_token(c, h, body, status)

    def concrete(self, path, h, tid):
        return (path.replace("{handle}", h).replace("{id}", tid)
                .replace("{name}", "app.js"))

    def call(self, c, method, path, h, tid):
        """One call of a route with a harmless body (the scope check comes
        before the handler reads it)."""
        p = self.concrete(path, h, tid)
        if method == "DELETE" and path == "/api/v0/user/{handle}":
            p += "?confirm=" + h
        body = None if method in ("GET", "DELETE") else {}
        return c.request(method, p, body=body)

    def assert_scope_refused(self, r, scope):
        p = assert_problem(self, r, 403)
        self.assertIn('scope is "%s"' % scope, p["detail"])
        return p

    def snapshot(self, h):
        """What a refused call must not change: the user, tokens, password, audit."""
        u = self.admin.get("%s/user/%s" % (API, h)).json
        toks = self.admin.get("%s/user/%s/token" % (API, h)).json["items"]
        pw = self.admin.get("%s/user/%s/password?reveal=0" % (API, h)).json
        for t in toks:
            t.pop("last_used_at", None)
            t.pop("last_used_ip", None)
        return (u["version_id"], u["status"], json.dumps(toks, sort_keys=True), pw["version"],
                max(a["id"] for a in audit_records(self.admin)))

    # --- the token itself ---------------------------------------------------

    def test_create_with_each_scope_shows_it(self):
        h, c, _ = self.user()
        for scope in ("full", "read", "connect"):
            t = self.token(c, h, scope)
            self.assertEqual(t["scope"], scope)
            self.assertEqual(set(t), TOKEN_KEYS | {"token"})
            g = c.get("%s/user/%s/token/%s" % (API, h, t["id"]))
            self.assertEqual(g.json["scope"], scope)
        plain = self.token(c, h)
        self.assertEqual(plain["scope"], "full")
        listed = {t["title"]: t["scope"] for t in
                  c.get("%s/user/%s/token" % (API, h)).json["items"]}
        self.assertEqual(listed, {"full": "full", "read": "read", "connect": "connect",
                                  "t-None": "full"})

    def test_unknown_scope_is_400_and_creates_nothing(self):
        h, c, _ = self.user()
        for bad in ("admin", "", "READ", 1, None, ["read"]):
            with self.subTest(scope=bad):
                r = c.post("%s/user/%s/token" % (API, h), {"scope": bad})
                p = assert_problem(self, r, 400)
                self.assertIn("body.scope", [e["location"] for e in p["validation_errors"]])
        self.assertEqual(c.get("%s/user/%s/token" % (API, h)).json["items"], [])

    def test_create_is_audited_with_the_scope(self):
        h, c, _ = self.user()
        t = self.token(c, h, "connect")
        recs = [a for a in audit_records(self.admin)
                if a["action_type"] == "token.create" and a["target_handle"] == h]
        self.assertEqual([a["data"] for a in recs],
                         [{"token_id": t["id"], "last4": t["last4"], "scope": "connect"}])

    # --- every route of the table, per scope --------------------------------

    def sweep(self, scope, allowed):
        """Call every route with a `scope` token of alice's; allowed(method,
        path) says whether the scope may. Refused: a 403 naming the scope and
        nothing changed; allowed: anything but that 403."""
        tok = self.token(self.ac, self.alice, scope)
        other = self.token(self.ac, self.alice, "full")     # a token id for {id}
        c = bearer_client(self.d, tok["token"])
        before = self.snapshot(self.alice)
        calls = refused = 0
        for method, path, op in self.ops:
            ok = allowed(method, path)
            self.assertEqual(scope in op["x-token-scopes"], ok, (method, path))
            if ok and method != "GET":
                continue        # login with {} is a 400; an allowed mutation is not run
            with self.subTest(scope=scope, route="%s %s" % (method, path)):
                r = self.call(c, method, path, self.alice, other["id"])
                calls += 1
                if ok:
                    if r.status == 403:
                        self.assertNotIn("scope", r.json["detail"])
                    else:
                        self.assertLess(r.status, 400, r)
                else:
                    refused += 1
                    self.assert_scope_refused(r, scope)
        # the audited secret reads (password, workspace ?reveal) are reads;
        # the refused calls themselves changed nothing else
        after = self.snapshot(self.alice)
        self.assertEqual(before[:4], after[:4])
        self.assertGreaterEqual(len(self.ops), 32)
        self.assertEqual(refused, sum(not allowed(m, p) for m, p, _ in self.ops), calls)
        self.assertGreaterEqual(refused, 13)
        return c

    def test_read_token_gets_every_get_route_and_no_mutation(self):
        c = self.sweep("read", lambda m, p: (m == "GET" and (m, p) not in FULL_ONLY_GETS)
                       or (m, p) in ANYONE)
        r = c.get("%s/user/%s/token" % (API, self.alice))
        self.assertEqual(r.status, 200, r)

    def test_connect_token_reads_workspaces_and_nothing_else(self):
        c = self.sweep("connect", lambda m, p: (m, p) in CONNECT | ANYONE)
        r = c.get("%s/user/%s/workspace?reveal=1" % (API, self.alice))
        self.assertEqual(r.status, 200, r)
        ws = {w["handle"]: w for w in r.json["items"]}
        self.assertEqual(set(ws), {"prod", "dev"})
        pw = self.dbpass(self.ac, self.alice)["password"]
        self.assertIn(":%s@" % pw, ws["prod"]["connection_string"])
        r = c.get("%s/user/%s/password" % (API, self.alice))
        self.assert_scope_refused(r, "connect")

    def test_full_token_may_call_every_route(self):
        for method, path, op in self.ops:
            self.assertIn("full", op["x-token-scopes"], (method, path))

    def test_admin_read_token_reads_admin_routes_but_changes_nothing(self):
        h, c, _ = self.user()
        tok = self.token(self.admin, "admin", "read")
        ac = bearer_client(self.d, tok["token"])
        for path in ("/admin/user", "/admin/audit", "/admin/audit/verify", "/admin/nodes"):
            self.assertEqual(ac.get(API + path).status, 200, path)
        r = ac.post(API + "/admin/user/%s/disable" % h)
        self.assert_scope_refused(r, "read")
        r = ac.get(API + "/admin/backup")
        self.assert_scope_refused(r, "read")
        self.assertEqual([a for a in audit_records(self.admin) if a["action_type"] == "store.backup"],
                         [], "a refused backup is neither made nor audited")
        self.assertEqual(self.admin.get("%s/user/%s" % (API, h)).json["status"], "active")
        r = ac.post(API + "/admin/user", {"handle": "viaread", "email": "v@example.test"})
        self.assert_scope_refused(r, "read")
        self.assertEqual(self.admin.get(API + "/user/viaread").status, 404)

    def test_scope_does_not_widen_self(self):
        """A scope narrows what the user may: another user's path is still 404."""
        h, c, _ = self.user()
        tok = self.token(c, h, "connect")
        r = bearer_client(self.d, tok["token"]).get("%s/user/%s/workspace" % (API, self.alice))
        assert_problem(self, r, 404)

    def test_cookie_session_is_not_scoped(self):
        h, c, _ = self.user()
        t = self.token(c, h, "read")
        r = c.request("PATCH", "%s/user/%s/token/%s" % (API, h, t["id"]),
                      body={"status": "inactive"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["scope"], "read")
        self.assertEqual(r.json["status"], "inactive")


if __name__ == "__main__":
    unittest.main()

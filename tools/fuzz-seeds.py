#!/usr/bin/env python3
"""Write the seed corpora of the fuzz targets: tests/fuzz/corpus/<target>/.

The seeds are the requests, bodies and configs the test suites send
(tests/api/*.py, tests/unit/test_agent_req.c, config/*.conf), written out
once by this script so that the committed corpus stays small (tens of files
per target) and can be remade after an API change:

    tools/fuzz-seeds.py            rewrite every target's seeds
    tools/fuzz-seeds.py fuzz_http  one target

fuzz_http's requests name the harness's fixture with placeholders (@SID@,
@CSRF@, @USID@, @UCSRF@, @TOKEN@, @TOKID@; see tests/fuzz/fuzz_http.c).
Files are named by what they are; regression inputs that the fuzzers found
are kept beside them as crash-*/regress-* and never removed by this script.
"""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "tests", "fuzz", "corpus")

U1 = "u_0123456789abcdefghij"
V1 = ("SCRAM-SHA-256$4096:/UodNfQJXOzghGW2kPakqA==$"
      "3GfW6/1tZHLtoTFJMIH1LDKicnw5X736E3EkYt8V+3s=:"
      "hiWEdXOoKv0xQb9SZb+SneIbT7B3Vt2g+WiXSCZuofY=")
API = "/api/v0"
ADMIN = ("Cookie: __Host-acctd_session=@SID@\r\n", "X-CSRF-Token: @CSRF@\r\n")
ALICE = ("Cookie: __Host-acctd_session=@USID@\r\n", "X-CSRF-Token: @UCSRF@\r\n")
BEARER = ("Authorization: Bearer @TOKEN@\r\n", "")

# request bodies as the API tests send them (test_10 .. test_23)
BODIES = {
    "login": {"handle": "admin", "password": "fuzz-admin-password-1"},
    "login-wrong": {"handle": "Alice", "password": "not the password"},
    "profile": {"display_name": "Ada Lovelace", "avatar_url": "https://img.example/a.png"},
    "profile-null-url": {"avatar_url": None},
    "handle": {"handle": "alice-2"},
    "console-password": {"current_password": "wrong-password-1",
                         "new_password": "correct horse battery"},
    "user-create": {"handle": "bob", "email": "bob@example.com",
                    "display_name": "Bob", "role": "user"},
    "user-create-admin": {"handle": "carol", "email": "carol@example.com",
                          "role": "admin", "password": "carol-password-1"},
    "token-create": {"title": "ci deploy", "expires_at": "2099-12-31T23:59:59Z"},
    "token-create-frac": {"title": None, "expires_at": "2099-02-28T00:00:00.125+00:00"},
    "token-status": {"status": "inactive"},
    "token-active": {"status": "active"},
}
RAW_BODIES = {
    "unicode": '{"display_name":"Z\\u00fcrich \\ud83d\\ude00","handle":"ZURICH"}',
    "nul-escape": '{"display_name":"a\\u0000b"}',
    "dup": '{"handle":"a","handle":"b"}',
    "deep": '{"a":' * 17 + '1' + '}' * 17,
    "numbers": '{"expires_at":1e400,"title":-0.0,"status":12345678901234567890}',
    "unknown": '{"x":1,"y":[true,false,null],"z":{"w":"v"}}',
    "trailing": '{"status":"active"} x',
    "array": '[{"status":"active"}]',
    "controls": '{"display_name":"a\\u0085b\\u007f"}',
}


def req(method, path, auth=None, body=None, extra="", csrf=True):
    head = "%s %s HTTP/1.1\r\nHost: 127.0.0.1:8443\r\n" % (method, path)
    if auth:
        head += auth[0] + (auth[1] if csrf else "")
    head += extra
    if body is not None:
        raw = body if isinstance(body, str) else json.dumps(body)
        head += "Content-Type: application/json\r\nContent-Length: %d\r\n" % len(raw.encode())
        return head + "\r\n" + raw
    return head + "\r\n"


def http_seeds():
    s = {}
    s["get-root"] = req("GET", "/")
    s["get-asset"] = req("GET", "/assets/app.js", extra='If-None-Match: "x"\r\n')
    s["healthz-keepalive"] = req("GET", "/healthz", extra="Connection: keep-alive\r\n") * 2
    s["metrics-admin"] = req("GET", "/metrics", ADMIN)
    s["metrics-bearer"] = req("GET", "/metrics", ("Authorization: Bearer abc\r\n", ""))
    s["openapi"] = req("GET", API + "/openapi.json")
    s["login"] = req("POST", API + "/login", body=BODIES["login"])
    s["login-wrong"] = req("POST", API + "/login", body=BODIES["login-wrong"])
    s["login-form"] = req("POST", API + "/login", body="handle=admin&password=x").replace(
        "application/json", "application/x-www-form-urlencoded")
    s["logout-alice"] = req("POST", API + "/logout", ALICE)
    s["actor-cookie"] = req("GET", API + "/actor", ADMIN, csrf=False)
    s["actor-bearer"] = req("GET", API + "/actor", BEARER)
    s["actor-bad-bearer"] = req("GET", API + "/actor",
                                ("Authorization: Bearer spt_0123456789abcdefghij_x\r\n", ""))
    s["actor-basic"] = req("GET", API + "/actor", ("Authorization: Basic YTpi\r\n", ""))
    s["actor-two-cookies"] = req("GET", API + "/actor", (
        "Cookie: theme=dark; __Host-acctd_session=@USID@; x=y\r\n", ""))
    s["user-get"] = req("GET", API + "/user/ALICE", ADMIN)
    s["user-get-other"] = req("GET", API + "/user/admin", ALICE)
    s["user-patch"] = req("PATCH", API + "/user/alice", ALICE, BODIES["profile"],
                          extra='If-Match: W/"1"\r\n')
    s["user-patch-null"] = req("PATCH", API + "/user/alice", ALICE, BODIES["profile-null-url"])
    s["user-patch-handle"] = req("PATCH", API + "/user/alice", ADMIN, BODIES["handle"],
                                 extra='If-Match: "999"\r\n')
    s["user-patch-nocsrf"] = req("PATCH", API + "/user/alice", ALICE, BODIES["profile"],
                                 csrf=False)
    s["user-delete-noconfirm"] = req("DELETE", API + "/user/alice", ALICE)
    s["user-delete"] = req("DELETE", API + "/user/bob?confirm=bob", ADMIN)
    s["token-reset"] = req("POST", API + "/user/bob/token_reset", ADMIN)
    s["console-password"] = req("PUT", API + "/user/alice/console_password", ALICE,
                                BODIES["console-password"])
    s["audit-user"] = req("GET", API + "/user/admin/audit?limit=2&next_token=5", BEARER)
    s["password-get"] = req("GET", API + "/user/alice/password", ALICE)
    s["password-rotate"] = req("POST", API + "/user/alice/password", ALICE)
    s["workspace"] = req("GET", API + "/user/alice/workspace?reveal=1", ALICE)
    s["token-list"] = req("GET", API + "/user/admin/token?limit=100", BEARER)
    s["token-create"] = req("POST", API + "/user/alice/token", ALICE, BODIES["token-create"])
    s["token-create-frac"] = req("POST", API + "/user/admin/token", BEARER,
                                 BODIES["token-create-frac"])
    s["token-get"] = req("GET", API + "/user/admin/token/@TOKID@", ADMIN)
    s["token-patch"] = req("PATCH", API + "/user/admin/token/@TOKID@", ADMIN,
                           BODIES["token-active"])
    s["token-delete-other"] = req("DELETE", API + "/user/admin/token/t_aaaaabbbbbcccccddddd", ADMIN)
    s["admin-user-create"] = req("POST", API + "/admin/user", ADMIN, BODIES["user-create"])
    s["admin-user-create-admin"] = req("POST", API + "/admin/user", BEARER,
                                       BODIES["user-create-admin"])
    s["admin-user-list"] = req("GET", API + "/admin/user?limit=1&next_token=alice", ADMIN)
    s["admin-disable"] = req("POST", API + "/admin/user/bob/disable", ADMIN)
    s["admin-enable"] = req("POST", API + "/admin/user/bob/enable", ADMIN)
    s["admin-pw-reset"] = req("POST", API + "/admin/user/bob/console_password_reset", ADMIN)
    s["admin-nodes"] = req("GET", API + "/admin/nodes", ADMIN)
    s["admin-audit"] = req("GET", API + "/admin/audit?limit=3", ADMIN)
    s["admin-verify"] = req("GET", API + "/admin/audit/verify", BEARER)
    s["admin-as-alice"] = req("GET", API + "/admin/user", ALICE)
    s["method-not-allowed"] = req("PUT", API + "/actor", ADMIN, body={})
    s["not-found-encoded"] = req("GET", API + "/user/%61lice/../token%2f?limit=%41", ADMIN)
    s["chunked"] = ("PATCH %s/user/alice HTTP/1.1\r\nHost: x\r\n%s%s"
                    "Transfer-Encoding: chunked\r\n\r\n5\r\n{\"dis\r\n"
                    "17\r\nplay_name\":\"chunky\"}\r\n0\r\n\r\n") % (API, ALICE[0], ALICE[1])
    s["too-large"] = ("POST %s/login HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n{" % API)
    s["short-body"] = ("POST %s/login HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n\r\n{}" % API)
    s["http10"] = "GET /healthz HTTP/1.0\r\n\r\n"
    s["bad-line"] = "GET  /healthz  HTTP/1.1\r\nHost\r\n\r\n"
    for k in ("unicode", "nul-escape", "dup", "numbers"):
        s["body-" + k] = req("PATCH", API + "/user/alice", ALICE, RAW_BODIES[k])
    return s


def json_seeds():
    s = {k: json.dumps(v) for k, v in BODIES.items()}
    s.update(RAW_BODIES)
    return s


def token_seeds():
    # the first byte: odd = the harness writes the right checksum
    good = "spt_0123456789abcdefghij_" + "abcdefghjkmnpqrstvwxyz0123" + "0000000"
    return {
        "token-fixed": "\x01" + good,
        "token-as-is": "\x00" + good,
        "token-upper": "\x01" + good.upper(),
        "user-id": "\x00" + U1,
        "hex": "\x00" + "00ff" * 16,
        "b64": "\x00" + "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        "verifier": "\x00" + V1,
    }


def conf_seeds():
    s = {}
    for name in ("acctd.conf", "acctd.dev.conf"):
        with open(os.path.join(ROOT, "config", name)) as f:
            s[name] = f.read()
    # the API harness's config (tests/api/harness.py) with nodes and
    # workspaces as test_30_push.py and test_21_workspace.py write them
    s["harness.conf"] = (
        'listen = [ "127.0.0.1:8443", "[::1]:8443", "*:9443" ];\n'
        'tls = { cert = "/tmp/c/tls.crt"; key = "/tmp/c/tls.key"; };\n'
        'data_dir = "/tmp/d/data";\nuser = "";\nlog_level = "debug";\n'
        'map_size_mb = 64;\naudit = { capacity = 1000; };\n'
        'tokens = { max_per_user = 3; };\n'
        'sessions = { idle_timeout = 60; absolute_timeout = 300; };\n'
        'passwords = { pbkdf2_iterations = 1000; };\n'
        'login = { max_failures = 3; window = 60; lockout = 120; };\n'
        'bootstrap_admin = { handle = "admin"; email = "admin@localhost";\n'
        '    password_file = "/tmp/d/data/admin.password"; };\n'
        'dns = { domain = "ws.test"; hosts_file = "/tmp/d/ws.hosts"; reload_pidfile = "/run/dnsmasq.pid"; };\n'
        'push = { client_cert = "/tmp/c/client.crt"; client_key = "/tmp/c/client.key"; retry_max_seconds = 5; };\n'
        'http = { threads = 4; keepalive_timeout_ms = 500; request_timeout_ms = 2000;\n'
        '    min_rate = 0; max_connections = 64; max_connections_per_address = 8; };\n'
        'metrics = { token_sha256 = "' + "ab" * 32 + '"; };\n'
        'rate_limit = { writes_per_minute = 60000; writes_burst = 10000; };\n'
        'nodes = ( { name = "node1"; url = "https://127.0.0.1:9443"; cert = "/tmp/c/node1.crt"; },\n'
        '          { name = "node-2"; url = "https://[::1]:9444"; cert = "/tmp/c/node2.crt"; } );\n'
        'workspaces = ( { handle = "prod"; owner = "alice"; members = [ "bob", "carol" ];\n'
        '                 node = "node1"; database = "dea4px"; port = 9193; },\n'
        '               { handle = "dev"; owner = "bob"; members = [ ];\n'
        '                 node = "node-2"; database = "db_2"; port = 5432; } );\n')
    s["errors.conf"] = (
        'listen = [ "127.0.0.1:8443", "127.0.0.1:8443", "host:1" ];\n'
        'tls = { cert = "relative"; key = ""; };\ndata_dir = 7;\n'
        'sessions = { idle_timeout = 900; absolute_timeout = 300; };\n'
        'audit = { capacity = 10000000; };\nmap_size_mb = 1;\n'
        'push = { client_cert = "/x"; };\nbogus = 1L;\n'
        'workspaces = ( { handle = "Prod"; owner = "a--b"; members = [ "x", "x" ];\n'
        '                 node = "nowhere"; database = "1db"; port = 70000; } );\n')
    return s


def agent_conf_seeds():
    with open(os.path.join(ROOT, "config", "acctd-agent.conf")) as f:
        sample = f.read()
    return {
        "acctd-agent.conf": sample,
        "full.conf": (
            'listen = "[::]:9443";\ntls = { cert = "/etc/acctd/node.crt"; key = "/etc/acctd/node.key"; };\n'
            'acctd_cert = "/etc/acctd/acctd.crt";\nstate_file = "/var/lib/acctd-agent/state.json";\n'
            'hook = "/usr/local/libexec/acctd/apply-postgres";\n'
            'hook_env = { PGHOST = "/run/postgresql"; PGPORT = "5432"; PGUSER = "postgres"; };\n'
            'log_level = "debug";\nuser = "postgres";\n'),
        "errors.conf": (
            'listen = "localhost:99999";\ntls = { cert = ""; };\nacctd_cert = 1;\n'
            'hook_env = { ACCTD_X = "y"; "1BAD" = "z"; };\nlog_level = "loud";\nextra = true;\n'),
    }


def agent_seeds():
    bodies = {
        "present": {"user_id": U1, "version": 7, "state": "present", "role": "alice",
                    "verifier": V1},
        "absent": {"user_id": U1, "version": 8, "state": "absent"},
        "disabled": {"user_id": U1, "version": 9, "state": "disabled"},
        "renamed": {"user_id": "u_aaaaabbbbbcccccddddd", "version": 2, "state": "present",
                    "role": "alice-2", "verifier": V1},
    }
    body = {k: json.dumps(v, separators=(",", ":")) for k, v in bodies.items()}
    body["bad-role"] = body["present"].replace('"alice"', '"a\\"; DROP ROLE x; --"')
    body["unknown"] = '{"user_id":"%s","version":1,"state":"absent","comment":"x"}' % U1

    def post(b, head="POST /v1/state HTTP/1.1\r\nHost: node1:9443\r\n"):
        return head + "Content-Length: %d\r\n\r\n%s" % (len(b), b)

    req = {}
    for k, b in body.items():
        req[k] = "\x00" + post(b)                 # first byte: how reads split
    req["present-slow"] = "\x05" + post(body["present"])
    req["get"] = "\x00GET /v1/state HTTP/1.1\r\n\r\n"
    req["not-found"] = "\x00POST /v1/states HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"
    req["http10"] = "\x00POST /v1/state HTTP/1.0\r\nContent-Length: 2\r\n\r\n{}"
    req["chunked"] = ("\x00POST /v1/state HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                      "Content-Length: 2\r\n\r\n{}")
    req["two-lengths"] = ("\x00POST /v1/state HTTP/1.1\r\nContent-Length: 2\r\n"
                          "Content-Length: 2\r\n\r\n{}")
    req["extra-data"] = "\x00POST /v1/state HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}{}"
    req["bad-header"] = "\x00POST /v1/state HTTP/1.1\r\nContent Length: 2\r\n\r\n{}"
    return body, req


def write(target, files):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    for name in os.listdir(d):
        if not name.startswith(("crash-", "regress-")):
            os.unlink(os.path.join(d, name))
    for name, data in files.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data)
    print("%s: %d seeds" % (target, len(files)))


def main(argv):
    agent_body, agent_req = agent_seeds()
    targets = {
        "fuzz_http": http_seeds,
        "fuzz_json": json_seeds,
        "fuzz_token": token_seeds,
        "fuzz_conf": conf_seeds,
        "fuzz_agent_conf": agent_conf_seeds,
        "fuzz_agent_body": lambda: agent_body,
        "fuzz_agent_req": lambda: agent_req,
    }
    for t in argv or sorted(targets):
        write(t, targets[t]())


if __name__ == "__main__":
    main(sys.argv[1:])

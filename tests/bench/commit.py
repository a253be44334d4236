"""Group commit: fsync'd mutations/s against the one-commit-per-change ceiling.

Measures, in one run and on one disk (every directory below is under the
same temporary directory as acctd's data_dir):
  - the ceiling: an LMDB environment, one small put per write txn, each
    commit fsync'd as acctd's are, in a loop (commit_loop.c, built here
    against the liblmdb acctd links);
  - acctd: CLIENTS clients (one wrk thread and keep-alive TLS connection
    each, one user and one API token each) PATCHing their own profile with
    If-Match, each request carrying the version the previous answer gave.
    Every answer must be a 200 (a 412 would mean a lost or reordered
    change); acctd commits each change fsync'd before it answers.
The figure that matters is the ratio: acctd's PATCH/s over the commit
loop's commits/s. Set ACCTD_BASE_BIN to a second acctd binary (e.g. one
without group commit) to measure it too, in the same run.

  ACCTD_BIN=build/host/acctd python3 tests/bench/commit.py
  env: BENCH_SECONDS (5), BENCH_CLIENTS (32), ACCTD_BASE_BIN, SYSROOT"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(HERE, "..", "api"))
import harness  # noqa: E402

DURATION = os.environ.get("BENCH_SECONDS", "5")
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "32"))

# one wrk thread = one connection = one user: the thread remembers the
# version its last answer carried and sends it as If-Match
PATCH_LUA = r"""
local users, threads = {}, {}
for line in io.lines(os.getenv("BENCH_USERS")) do
  local h, t, v = line:match("(%S+) (%S+) (%d+)")
  users[#users + 1] = { h = h, t = t, v = v }
end
local nth = 0
function setup(thread)
  nth = nth + 1
  local u = users[nth]
  thread:set("handle", u.h)
  thread:set("tok", u.t)
  thread:set("ver", u.v)
  threads[#threads + 1] = thread
end
local n = 0
function request()
  n = n + 1
  return wrk.format("PATCH", "/api/v0/user/" .. handle,
    { ["Authorization"] = "Bearer " .. tok, ["If-Match"] = '"' .. ver .. '"',
      ["Content-Type"] = "application/json" },
    '{"display_name":"n' .. n .. '"}')
end
function response(status, headers, body)
  local v = body:match('"version_id":%s*(%d+)')
  if status == 200 and v then ver = v end
end
"""


def build_loop(out_dir):
    sysroot = os.environ.get("SYSROOT", os.path.join(ROOT, "build", "host", "sysroot"))
    exe = os.path.join(out_dir, "commit_loop")
    subprocess.run(["cc", "-O2", "-I" + os.path.join(sysroot, "include"),
                    os.path.join(HERE, "commit_loop.c"),
                    os.path.join(sysroot, "lib", "liblmdb.a"), "-lpthread", "-o", exe],
                   check=True)
    return exe


def commit_loop(exe, parent):
    d = tempfile.mkdtemp(prefix="commit-loop-", dir=parent)
    try:
        out = subprocess.run([exe, d, DURATION], capture_output=True, text=True,
                             check=True, timeout=120).stdout
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return float(re.search(r"commits/s ([\d.]+)", out).group(1))


def users(d, n):
    """n users, each with an API token: lines "handle token version"."""
    c = d.client()
    pw = open(os.path.join(d.dir, "data", "admin.password")).read().strip()
    r = c.post("/api/v0/login", {"handle": "admin", "password": pw})
    assert r.status == 200, r
    c.csrf = r.json["csrf_token"]
    lines = []
    for i in range(n):
        h = "bench%02d" % i
        r = c.post("/api/v0/admin/user", {"handle": h, "email": h + "@localhost",
                                           "password": "bench-password-%d" % i,
                                           "must_change_password": False})
        assert r.status == 201, r
        tok = c.post("/api/v0/user/%s/token" % h, {"title": "bench"})
        assert tok.status == 201, tok
        lines.append("%s %s %d" % (h, tok.json["token"], r.json["version_id"]))
    c.close()
    return lines


def patch_rate(bin_path):
    """PATCH/s of CLIENTS clients against a fresh acctd from bin_path."""
    harness.BIN = bin_path
    with harness.Daemon(extra={"log_level": "warn"}) as d:
        path = os.path.join(d.dir, "users.txt")
        with open(path, "w") as f:
            f.write("\n".join(users(d, CLIENTS)) + "\n")
        lua = os.path.join(d.dir, "patch.lua")
        with open(lua, "w") as f:
            f.write(PATCH_LUA)
        env = dict(os.environ, BENCH_USERS=path)
        out = subprocess.run(["wrk", "-t%d" % CLIENTS, "-c%d" % CLIENTS, "-d" + DURATION + "s",
                              "--latency", "-s", lua, d.url + "/api/v0/user/x"],
                             capture_output=True, text=True, timeout=120, env=env).stdout
        m = re.search(r"Requests/sec:\s+([\d.]+)", out)
        if not m or re.search(r"Non-2xx or 3xx responses", out):
            raise SystemExit("wrk PATCH failed:\n" + out)
        p50 = re.search(r"50%\s+(\S+)", out)
        p99 = re.search(r"99%\s+(\S+)", out)
        return (float(m.group(1)), p50.group(1) if p50 else "?", p99.group(1) if p99 else "?",
                d.dir)


def main():
    bins = [("acctd", os.environ.get("ACCTD_BIN", harness.BIN))]
    if os.environ.get("ACCTD_BASE_BIN"):
        bins.append(("acctd (ACCTD_BASE_BIN)", os.environ["ACCTD_BASE_BIN"]))
    out_dir = os.path.join(ROOT, "build", "bench")
    os.makedirs(out_dir, exist_ok=True)
    exe = build_loop(out_dir)
    parent = tempfile.mkdtemp(prefix="acctd-commit-")   # where acctd's data_dir lives too
    try:
        ceiling = commit_loop(exe, parent)
        rows = []
        for name, b in bins:
            rps, p50, p99, _ = patch_rate(b)
            rows.append(("%s: PATCH, %d clients" % (name, CLIENTS), rps, p50, p99))
        ceiling2 = commit_loop(exe, parent)    # the disk may have changed meanwhile
    finally:
        shutil.rmtree(parent, ignore_errors=True)
    base = (ceiling + ceiling2) / 2
    print("\n%-40s %10s %8s %8s %8s" % ("fsync'd changes", "per s", "p50", "p99", "ratio"))
    print("%-40s %10.0f %8s %8s %8.2f" % ("LMDB one-put commit loop (ceiling)", base, "", "", 1.0))
    for name, rps, p50, p99 in rows:
        print("%-40s %10.0f %8s %8s %8.2f" % (name, rps, p50, p99, rps / base))
    print("(commit loop before / after: %.0f / %.0f per s)" % (ceiling, ceiling2))
    with open(os.path.join(out_dir, "commit.csv"), "w") as f:
        f.write("what,per_s,ratio\n")
        f.write("commit loop,%.1f,1.00\n" % base)
        for name, rps, _, _ in rows:
            f.write("%s,%.1f,%.2f\n" % (name, rps, rps / base))


if __name__ == "__main__":
    main()

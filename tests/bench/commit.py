"""Group commit: fsync'd mutations/s against the one-commit-per-change ceiling.

Measures, in one run and on one disk (every directory below is under the
same temporary directory as acctd's data_dir, or BENCH_DIR):
  (a) the ceiling: an LMDB environment, one small put per write txn, each
      commit fsync'd as acctd's are, in a loop (lmdbloop.c, make bench's
      too, built here against the liblmdb acctd links);
  (b) acctd: CLIENTS clients (one wrk thread and keep-alive TLS connection
      each, one user and one API token each) PATCHing their own profile
      with If-Match, each request carrying the version the previous answer
      gave. Every answer must be a 200 (a 412 would mean a lost or
      reordered change); acctd commits each change fsync'd before it
      answers;
  (c) the same with ACCTD_TEST_NOSYNC=1 (commits not synced): what the
      request path, wrk included, does on this machine's CPUs without the
      disk, the upper limit of (b).
and the mean members per synced commit in (b) (/metrics: changes over
commits). The figure that matters is (b)/(a); (b) close to (c) means the
CPU, not the disk, is the limit. Set ACCTD_BASE_BIN to a second acctd
binary (e.g. one without group commit) to measure it too, in the same run.

  ACCTD_BIN=build/host/acctd python3 tests/bench/commit.py
  env: BENCH_SECONDS (5), BENCH_CLIENTS (32), ACCTD_BASE_BIN, SYSROOT,
       BENCH_DIR (a directory on the disk to measure; default: /tmp's)"""
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
    exe = os.path.join(out_dir, "lmdbloop")
    subprocess.run(["cc", "-O2", "-I" + os.path.join(sysroot, "include"),
                    os.path.join(HERE, "lmdbloop.c"),
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
    return float(out)


def admin(d):
    c = d.client()
    pw = open(os.path.join(d.dir, "data", "admin.password")).read().strip()
    r = c.post("/api/v0/login", {"handle": "admin", "password": pw})
    assert r.status == 200, r
    c.csrf = r.json["csrf_token"]
    return c


def store_counts(c):
    """(changes, synced commits) so far, from /metrics"""
    r = c.get("/metrics")
    assert r.status == 200, r
    got = dict(re.findall(r"^acctd_store_(changes|commits)_total (\d+)$", r.body.decode(), re.M))
    return int(got["changes"]), int(got["commits"])


def users(c, n):
    """n users, each with an API token: lines "handle token version"."""
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
    return lines


def patch_rate(bin_path, nosync=False):
    """PATCH/s of CLIENTS clients against a fresh acctd from bin_path whose
    data_dir is in the temporary directory; p50, p99 and the mean members per commit."""
    harness.BIN = bin_path
    env = {"ACCTD_TEST_NOSYNC": "1"} if nosync else {}
    with harness.Daemon(extra={"log_level": "warn"}, env=env) as d:
        c = admin(d)
        path = os.path.join(d.dir, "users.txt")
        with open(path, "w") as f:
            f.write("\n".join(users(c, CLIENTS)) + "\n")
        before = store_counts(c)
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
        p50 = re.search(r"^\s*50%\s+(\S+)", out, re.M)
        p99 = re.search(r"^\s*99%\s+(\S+)", out, re.M)
        after = store_counts(c)
        c.close()
        changes, commits = after[0] - before[0], after[1] - before[1]
        return (float(m.group(1)), p50.group(1) if p50 else "?", p99.group(1) if p99 else "?",
                changes / commits if commits else 0.0)


def main():
    bins = [("acctd", os.environ.get("ACCTD_BIN", harness.BIN))]
    if os.environ.get("ACCTD_BASE_BIN"):
        bins.append(("acctd (ACCTD_BASE_BIN)", os.environ["ACCTD_BASE_BIN"]))
    out_dir = os.path.join(ROOT, "build", "bench")
    os.makedirs(out_dir, exist_ok=True)
    exe = build_loop(out_dir)
    if os.environ.get("BENCH_DIR"):
        tempfile.tempdir = os.environ["BENCH_DIR"]    # acctd's data_dir (harness) too
    parent = tempfile.mkdtemp(prefix="acctd-commit-")
    try:
        ceiling = commit_loop(exe, parent)
        rows = []
        for name, b in bins:
            rps, p50, p99, batch = patch_rate(b)
            rows.append(("%s: PATCH, %d clients" % (name, CLIENTS), rps, p50, p99, batch))
        rps, p50, p99, batch = patch_rate(bins[0][1], nosync=True)
        rows.append(("%s, not synced" % rows[0][0], rps, p50, p99, batch))
        ceiling2 = commit_loop(exe, parent)    # the disk may have changed meanwhile
    finally:
        shutil.rmtree(parent, ignore_errors=True)
    base = (ceiling + ceiling2) / 2
    print("\n%-44s %10s %8s %8s %8s %8s" % ("fsync'd changes", "per s", "p50", "p99",
                                             "batch", "ratio"))
    print("%-44s %10.0f %8s %8s %8s %8.2f" % ("LMDB one-put commit loop (ceiling)", base,
                                              "", "", "", 1.0))
    for name, rps, p50, p99, batch in rows:
        print("%-44s %10.0f %8s %8s %8.1f %8.2f" % (name, rps, p50, p99, batch, rps / base))
    print("(commit loop before / after: %.0f / %.0f per s; batch: changes per commit)"
          % (ceiling, ceiling2))
    with open(os.path.join(out_dir, "commit.csv"), "w") as f:
        f.write("what,per_s,batch,ratio\n")
        f.write("commit loop,%.1f,1.0,1.00\n" % base)
        for name, rps, _, _, batch in rows:
            f.write("%s,%.1f,%.1f,%.2f\n" % (name, rps, batch, rps / base))


if __name__ == "__main__":
    main()

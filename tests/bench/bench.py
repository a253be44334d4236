"""make bench: the performance table.

Starts a real acctd (default PBKDF2 iterations) and measures, with wrk over
keep-alive TLS on loopback, requests/s of:
  - GET /healthz                      the baseline (no auth, no store)
  - GET /api/v0/actor, session cookie
  - GET /api/v0/actor, Bearer token
and the latency of POST /api/v0/login at the configured iterations. Speeds
are reported as ratios to the baseline measured in the same run, never as
pass/fail thresholds: the absolute numbers depend on the machine."""
import json
import os
import re
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "api"))
from harness import Daemon  # noqa: E402

DURATION = os.environ.get("BENCH_SECONDS", "5")


def wrk(d, path, headers):
    args = ["wrk", "-t2", "-c8", "-d" + DURATION + "s", "--latency"]
    for h in headers:
        args += ["-H", h]
    out = subprocess.run(args + [d.url + path], capture_output=True, text=True, timeout=120).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errs = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if not m or errs:
        raise SystemExit("wrk failed on %s:\n%s" % (path, out))
    p50 = re.search(r"50%\s+([\d.]+\w+)", out)
    return float(m.group(1)), p50.group(1) if p50 else "?"


def main():
    with Daemon(extra={"log_level": "warn", "passwords": {"pbkdf2_iterations": 600000}}) as d:
        c = d.client()
        pw = open(os.path.join(d.dir, "data", "admin.password")).read().strip()
        times = []
        for _ in range(5):
            c.cookies.clear()
            t0 = time.monotonic()
            r = c.post("/api/v0/login", {"handle": "admin", "password": pw})
            times.append(time.monotonic() - t0)
            assert r.status == 200, r
        csrf = r.json["csrf_token"]
        cookie = "__Host-acctd_session=" + c.cookies["__Host-acctd_session"]
        c.csrf = csrf
        tok = c.post("/api/v0/user/admin/token", {"title": "bench"}).json["token"]
        rows = [("GET /healthz (baseline)", wrk(d, "/healthz", [])),
                ("GET /api/v0/actor, cookie", wrk(d, "/api/v0/actor", ["Cookie: " + cookie])),
                ("GET /api/v0/actor, Bearer", wrk(d, "/api/v0/actor", ["Authorization: Bearer " + tok]))]
        base = rows[0][1][0]
        print("\n%-34s %10s %8s %8s" % ("what", "req/s", "p50", "ratio"))
        for name, (rps, p50) in rows:
            print("%-34s %10.0f %8s %8.2f" % (name, rps, p50, rps / base))
        print("%-34s %10s %8.0fms" % ("POST /api/v0/login (600000 it.)", "",
                                      statistics.median(times) * 1000))


if __name__ == "__main__":
    main()

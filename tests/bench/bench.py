"""make bench: the performance table.

Starts a real acctd (default PBKDF2 iterations) and measures, with wrk over
keep-alive TLS on loopback, requests/s of:
  - GET /healthz                      the baseline (no auth, no store)
  - GET /api/v0/actor, session cookie
  - GET /api/v0/actor, Bearer token
and the latency of POST /api/v0/login at the configured iterations; the
TLS handshakes per second, full and resumed, over TLS 1.3 and 1.2 (two
client threads, a new connection and one GET /healthz each) with the
daemon's CPU time per handshake; then
GET /healthz p99 alone and during a sign-in flood (wrong passwords for ever
new handles, the limiter relaxed as if they came from many addresses, so
every attempt wants a PBKDF2): the KDF gate should keep /healthz answering.
Speeds are reported as ratios to the baseline measured in the same run,
never as pass/fail thresholds: the absolute numbers depend on the machine."""
import json
import os
import re
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "api"))
from harness import Daemon  # noqa: E402

DURATION = os.environ.get("BENCH_SECONDS", "5")

# wrong passwords, a new handle each time: only the KDF gate limits them
FLOOD_LUA = r"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
n = 0
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil,
    '{"handle":"flood' .. n .. '","password":"not-the-password"}')
end
"""


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


def ms(text):
    """wrk's '456.00us' / '1.23ms' / '1.02s' in milliseconds."""
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    return float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[m.group(2)]


def healthz_p99(d):
    """(p99 ms, req/s) of GET /healthz over 4 keep-alive connections."""
    args = ["wrk", "-t1", "-c4", "-d" + DURATION + "s", "--latency", d.url + "/healthz"]
    out = subprocess.run(args, capture_output=True, text=True, timeout=120).stdout
    p99 = re.search(r"99%\s+([\d.]+\w+)", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not p99 or not rps or "Non-2xx" in out:
        raise SystemExit("wrk failed on /healthz:\n" + out)
    return ms(p99.group(1)), float(rps.group(1))


def handshakes(d, version, resume):
    """(handshakes/s, daemon CPU ms per handshake, share resumed) of new
    connections, each one GET /healthz, for DURATION seconds on 2 threads.
    A version the daemon refuses gives None."""
    ctx = ssl.create_default_context(cafile=d.cafile)
    ctx.minimum_version = ctx.maximum_version = version
    stop = time.monotonic() + float(DURATION)
    counts = []
    lock = threading.Lock()

    def one(session):
        with socket.create_connection(("127.0.0.1", d.port), timeout=10) as raw:
            # as browsers do: else the request after a 1.2 resumption (whose
            # last flight is the client's) waits ~40 ms for a delayed ACK
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1", session=session) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                while s.recv(4096):
                    pass
                return s.session, s.session_reused

    def loop():
        n = reused = 0
        session = None
        while time.monotonic() < stop:
            sess, was = one(session if resume else None)
            if resume and (session is None or not was):
                session = sess
            n += 1
            reused += was
        with lock:
            counts.append((n, reused))

    try:
        one(None)
    except (ssl.SSLError, OSError):
        return None
    cpu0, t0 = d.cpu_seconds(), time.monotonic()
    threads = [threading.Thread(target=loop) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall, cpu = time.monotonic() - t0, d.cpu_seconds() - cpu0
    n = sum(c[0] for c in counts)
    return n / wall, cpu * 1000 / n, sum(c[1] for c in counts) / n


def flood_rows(d):
    """/healthz without, then during, a sign-in flood on 16 connections."""
    quiet = healthz_p99(d)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(FLOOD_LUA)
    try:
        flood = subprocess.Popen(["wrk", "-t1", "-c16", "-d%ds" % (int(DURATION) + 2),
                                  "-s", f.name, d.url + "/api/v0/login"],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(1)
        busy = healthz_p99(d)
        out = flood.communicate(timeout=120)[0]
    finally:
        os.unlink(f.name)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return quiet, busy, float(rps.group(1)) if rps else 0.0


def main():
    with Daemon(extra={"log_level": "warn", "passwords": {"pbkdf2_iterations": 600000},
                       # many attackers' addresses: the limiter never stops the flood
                       "login": {"max_failures": 1000, "window": 1, "lockout": 1}}) as d:
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
        print("\n%-34s %10s %8s %8s" % ("TLS handshakes (new conn. + GET)", "conn/s",
                                        "CPU/hs", "resumed"))
        for vname, v in (("1.3", ssl.TLSVersion.TLSv1_3), ("1.2", ssl.TLSVersion.TLSv1_2)):
            for kind, resume in (("full", False), ("resumed", True)):
                r = handshakes(d, v, resume)
                name = "TLS %s %s" % (vname, kind)
                if r is None:
                    print("%-34s %10s" % (name, "refused"))
                else:
                    print("%-34s %10.0f %6.2fms %7.0f%%" % (name, r[0], r[1], r[2] * 100))
        quiet, busy, frps = flood_rows(d)
        print("\n%-34s %10s %8s %8s" % ("GET /healthz p99", "req/s", "p99", "ratio"))
        print("%-34s %10.0f %6.1fms %8.2f" % ("no flood (baseline)", quiet[1], quiet[0], 1.0))
        print("%-34s %10.0f %6.1fms %8.2f" % ("during a sign-in flood (16 conn.)", busy[1],
                                              busy[0], busy[0] / quiet[0]))
        print("%-34s %10.0f" % ("  the flood's sign-ins (401/503)", frps))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Time an audit export of N records (default 1 M) and acctd's peak memory.

  ACCTD_BIN=build/host/acctd python3 tools/export-bench.py [N]

Fills a fresh store's ring with build/<target>/tests/audit-fill (make api
builds it), then streams GET /api/v0/admin/audit/export (jsonl, then csv)
and samples /proc/PID/status every 20 ms: RssAnon is acctd's heap; RssFile
is LMDB's map pages the kernel may drop (they are the file, not memory
acctd holds). Prints one line per format."""
import http.client
import os
import ssl
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "api"))
from harness import BIN  # noqa: E402
from accounts import start_daemon, admin_password, login, make_user  # noqa: E402


def status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                out[k] = int(v.split()[0])
    return out


def export(d, cookie, fmt):
    pid, peak, done = d.proc.pid, {}, threading.Event()
    base = status(pid)

    def sample():
        while not done.wait(0.02):
            for k, v in status(pid).items():
                peak[k] = max(peak.get(k, 0), v)
    th = threading.Thread(target=sample)
    th.start()
    t0 = time.monotonic()
    conn = http.client.HTTPSConnection("127.0.0.1", d.port, timeout=600,
                                       context=ssl.create_default_context(cafile=d.cafile))
    conn.request("GET", "/api/v0/admin/audit/export?format=" + fmt, headers={"Cookie": cookie})
    r = conn.getresponse()
    size = lines = 0
    while True:
        piece = r.read(1 << 20)
        if not piece:
            break
        size += len(piece)
        lines += piece.count(b"\n")
    secs = time.monotonic() - t0
    done.set()
    th.join()
    print("%s: %d lines, %.0f MB in %.1f s; acctd RSS %d -> peak %d MB (heap RssAnon %d -> "
          "peak %d MB, map pages RssFile peak %d MB)" % (
              fmt, lines, size / 1e6, secs, base["VmRSS"] // 1024, peak["VmRSS"] // 1024,
              base["RssAnon"] // 1024, peak["RssAnon"] // 1024, peak["RssFile"] // 1024))


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
    cap = max(n + 1000, 100000)
    map_mb = max(1024, cap * 2300 // (1 << 20) + 256)
    d = start_daemon({"map_size_mb": map_mb, "audit": {"capacity": cap}})
    try:
        admin = login(d, "admin", admin_password(d))
        bulk, _ = make_user(d, admin, "bulk")
        d.stop()
        data = d.settings["data_dir"]
        t0 = time.monotonic()
        subprocess.run([os.path.join(os.path.dirname(BIN), "tests", "audit-fill"), data,
                        os.path.join(data, "appliance.key"), str(map_mb), str(cap), str(n),
                        bulk["id"], "bulk"], check=True)
        print("fill: %d records in %.1f s" % (n, time.monotonic() - t0))
        d.first_sign_in = False
        d.start()
        admin = login(d, "admin", admin_password(d))
        cookie = "; ".join("%s=%s" % kv for kv in admin.cookies.items())
        for fmt in ("jsonl", "csv"):
            export(d, cookie, fmt)
    finally:
        d.stop()
        d.cleanup()


if __name__ == "__main__":
    main()

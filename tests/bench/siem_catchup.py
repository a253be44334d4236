"""make bench-siem: how long the SIEM forwarder (audit.forward) takes to
catch up after a collector outage.

A 10-minute outage under a realistic load (100 audited changes a second,
well above what an appliance's admins and users make) leaves 60,000 records
behind. The fastest real way to write that many is `acctd import` of 60,000
users (one user.create record each), beside the running acctd while its
collector, Debian's rsyslogd on a loopback port, is stopped. Then the
collector starts and the clock runs until (1) its file holds the newest
record and (2) acctd's GET /api/v0/admin/audit/forward says behind 0 (every
record confirmed: acknowledged by the collector's TCP stack and the
connection up a second after). Prints both, records/s, and the duplicates
(should be none: nothing breaks during the catch-up).

Environment: SIEM_RECORDS (60000), SIEM_TLS (0; 1 = tls:// with the
pinned CA). No assertion: numbers for reading (README "Audit forwarding").
"""
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "api"))

from harness import BIN, Daemon, cert_dir                     # noqa: E402
from accounts import API, admin_password, login                # noqa: E402
from test_61_audit_forward import Collector, wait_for          # noqa: E402

N = int(os.environ.get("SIEM_RECORDS", "60000"))
TLS = os.environ.get("SIEM_TLS", "0") == "1"


def main():
    cd = cert_dir()
    pair = (os.path.join(cd, "tls.crt"), os.path.join(cd, "tls.key"))
    col = Collector(pair if TLS else None)
    fwd = {"url": "%s://127.0.0.1:%d" % ("tls" if TLS else "tcp", col.port),
           "retry_max_seconds": 1}
    if TLS:
        fwd["ca"] = pair[0]
    d = Daemon(extra={"map_size_mb": 1024, "audit": {"capacity": max(100000, N + 1000),
                                                     "forward": fwd}})
    try:
        d.start()
        admin = login(d, "admin", admin_password(d))
        state = lambda: admin.get(API + "/admin/audit/forward").json
        wait_for("the forwarder to fail", lambda: state()["status"] == "failing")
        users = os.path.join(d.dir, "users.jsonl")
        with open(users, "w") as f:
            for i in range(N):
                f.write(json.dumps({"handle": "u%d" % i, "email": "u%d@example.com" % i}) + "\n")
        t = time.monotonic()
        subprocess.run([BIN, "import", "-c", d.conf, users], check=True,
                       stdout=subprocess.DEVNULL)
        print("siem: %d records written by acctd import in %.1f s" % (N, time.monotonic() - t))
        st = wait_for("the forwarder to see them", lambda: (lambda s: s if s["behind"] >= N
                      else None)(state()), 30)
        head = st["head"]
        print("siem: collector down, behind %d (head %d)" % (st["behind"], head))
        t0 = time.monotonic()
        col.start()
        wait_for("a connection", lambda: state()["connected"], 120, 0.02)
        tc = time.monotonic()
        wait_for("the collector to write seq %d" % head,
                 lambda: subprocess.run(["tail", "-c", "4096", col.raw], capture_output=True,
                                        text=True).stdout.find('seq="%d"' % head) >= 0,
                 600, 0.05)
        t1 = time.monotonic()
        wait_for("behind 0", lambda: state()["behind"] == 0, 600, 0.05)
        t2 = time.monotonic()
        seqs = col.seqs()
        st = state()
        print("siem: %s, %d records behind: reconnected after %.2f s (the retry backoff, "
              "retry_max_seconds 1); from then, all in the collector's file after %.2f s "
              "(%.0f records/s), confirmed (behind 0) after %.2f s"
              % ("tls" if TLS else "tcp", head, tc - t0, t1 - tc, head / (t1 - tc), t2 - tc))
        print("siem: the collector holds %d messages for %d seqs (%d duplicates); "
              "forwarder: sent %d, resent %d, dropped %d"
              % (len(seqs), len(set(seqs)), len(seqs) - len(set(seqs)), st["sent"],
                 st["resent"], st["dropped"]))
    finally:
        d.stop(expect_rc=None)
        d.cleanup()
        col.cleanup()


if __name__ == "__main__":
    main()

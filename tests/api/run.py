"""Runs every tests/api/test_*.py (unittest) against $ACCTD_BIN and ends
with the line 'api: N passed, N failed, N skipped' (skips are counted and
named, never reported as passes). Exit status 1 on any failure or error.

usage: run.py [PATTERN]        PATTERN: which files, default test_*.py

The files run side by side, API_JOBS at a time (default 4), each in its own
Python process with its own daemons, directories and ports: most of the
suite's wall time is waiting (deadlines, lockouts, retries, daemon starts),
not CPU; the files in ALONE (latency under load) run first, by themselves.
Each file's output is printed whole when it ends. API_JOBS=1 runs
everything in this process, one file after another."""
import glob
import os
import subprocess
import sys
import threading
import time
import unittest

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)

# files that measure latency under load (slow clients beside /healthz) run
# alone, before the others, on the sanitizer builds: beside two other files
# their probes missed the deadline (TSan) or waited in the front long enough
# to be the connection that gives way at the address cap (ASan), on two
# cores; API_ALONE=1 asks for it on any build. On the plain build they
# start first, beside the others
ALONE = ["test_40_slow.py"]
ALONE_NOW = (os.environ.get("API_ALONE") == "1"
             or any(b in os.environ.get("ACCTD_BIN", "") for b in ("-tsan", "-asan")))
# the longest files start first, so the last one to end is a short one
LONGEST_FIRST = ALONE + ["test_34_resync.py", "test_30_push.py", "test_31_roles.py",
                 "test_10_login.py", "test_16_store.py", "test_01_foundation.py",
                 "test_19_disk_full.py"]


def run_here(pattern):
    """(passed, failed, skipped names) of the files matching pattern, run in
    this process with unittest's verbose output on stdout."""
    suite = unittest.defaultTestLoader.discover(here, pattern=pattern, top_level_dir=here)
    res = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    failed = len(res.failures) + len(res.errors) + len(res.unexpectedSuccesses)
    skipped = ["%s: %s" % (t.id(), why) for t, why in res.skipped]
    return res.testsRun - failed - len(skipped), failed, skipped


def child(pattern):
    """--one FILE: run one file, then one machine-readable summary line each."""
    sys.stdout.flush()
    passed, failed, skipped = run_here(pattern)
    sys.stdout.flush()
    for s in skipped:
        print("@@skipped %s" % s)
    print("@@result %d %d" % (passed, failed))
    return 0


class Pool:
    def __init__(self, files, jobs):
        self.queue = sorted(files, key=lambda f: (f not in LONGEST_FIRST,
                                                  LONGEST_FIRST.index(f) if f in LONGEST_FIRST else 0, f))
        self.jobs = jobs
        self.lock = threading.Lock()
        self.passed = self.failed = 0
        self.skipped, self.seconds = [], {}

    def next_file(self):
        with self.lock:
            return self.queue.pop(0) if self.queue else None

    def worker(self):
        while (f := self.next_file()) is not None:
            self.run_one(f)

    def run_one(self, f):
        t0 = time.monotonic()
        p = subprocess.run([sys.executable, os.path.abspath(__file__), "--one", f],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           errors="replace")
        self.report(f, p.stdout, p.returncode, time.monotonic() - t0)

    def report(self, f, out, rc, secs):
        lines = out.splitlines()
        res = [x for x in lines if x.startswith("@@result ")]
        with self.lock:
            self.seconds[f] = secs
            for x in lines:
                if x.startswith("@@skipped "):
                    self.skipped.append(x[len("@@skipped "):])
                elif not x.startswith("@@"):
                    print(x)
            if res and rc == 0:
                p, fl = res[-1].split()[1:3]
                self.passed += int(p)
                self.failed += int(fl)
            else:
                print("api: %s ended without its summary (exit status %d)" % (f, rc))
                self.failed += 1
            print("--- %s: %.0fs" % (f, secs), flush=True)

    def run(self):
        alone = [f for f in self.queue if f in ALONE and ALONE_NOW]
        self.queue = [f for f in self.queue if f not in alone]
        for f in alone:
            self.run_one(f)
        threads = [threading.Thread(target=self.worker) for _ in range(self.jobs)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        return child(sys.argv[2])
    pattern = sys.argv[1] if len(sys.argv) > 1 else "test_*.py"
    files = [os.path.basename(f) for f in sorted(glob.glob(os.path.join(here, pattern)))]
    jobs = max(1, int(os.environ.get("API_JOBS", "4")))
    label = os.path.basename(os.path.dirname(os.environ.get("ACCTD_BIN", "?")))
    t0 = time.monotonic()
    if jobs == 1 or len(files) < 2:
        passed, failed, skipped = run_here(pattern)
        slow = ""
    else:
        pool = Pool(files, jobs)
        pool.run()
        passed, failed, skipped = pool.passed, pool.failed, pool.skipped
        top = sorted(pool.seconds.items(), key=lambda kv: -kv[1])[:8]
        slow = ", ".join("%s %.0fs" % kv for kv in top)
    print("api (%s, %.0fs, %d at a time):" % (label, time.monotonic() - t0, jobs))
    if slow:
        print("  slowest files: " + slow)
    for s in skipped:
        print("  skipped: %s" % s)
    print("api: %d passed, %d failed, %d skipped" % (passed, failed, len(skipped)))
    if passed + failed + len(skipped) == 0:
        print("no API test ran")
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

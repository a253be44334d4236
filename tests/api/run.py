"""Runs every tests/api/test_*.py (unittest) against $ACCTD_BIN and ends
with the line 'N passed, N failed' (skips are counted and named, never
reported as passes). Exit status 1 on any failure or error."""
import os
import sys
import time
import unittest

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)


class Result(unittest.TextTestResult):
    module_seconds = {}

    def startTest(self, test):
        self._t0 = time.monotonic()
        super().startTest(test)

    def stopTest(self, test):
        mod = test.id().split(".")[0]
        Result.module_seconds[mod] = Result.module_seconds.get(mod, 0) + time.monotonic() - self._t0
        super().stopTest(test)


def main():
    pattern = sys.argv[1] if len(sys.argv) > 1 else "test_*.py"
    suite = unittest.defaultTestLoader.discover(here, pattern=pattern, top_level_dir=here)
    runner = unittest.TextTestRunner(verbosity=2, resultclass=Result, stream=sys.stdout)
    t0 = time.monotonic()
    res = runner.run(suite)
    failed = len(res.failures) + len(res.errors) + len(res.unexpectedSuccesses)
    skipped = len(res.skipped)
    passed = res.testsRun - failed - skipped
    print("api (%s, %.0fs):" % (os.path.basename(os.path.dirname(os.environ.get("ACCTD_BIN", "?"))),
                               time.monotonic() - t0))
    slow = sorted(Result.module_seconds.items(), key=lambda kv: -kv[1])[:8]
    print("  slowest files: " + ", ".join("%s %.0fs" % kv for kv in slow))
    for t, why in res.skipped:
        print("  skipped: %s: %s" % (t.id(), why))
    print("api: %d passed, %d failed, %d skipped" % (passed, failed, skipped))
    if res.testsRun == 0:
        print("no API test ran")
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

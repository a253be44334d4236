#!/usr/bin/env python3
"""make docs-check (a make test stage): the manuals, the init scripts and
the systemd units.

  tests/man/check.py DIST SBINDIR_FOR_VERIFY

- mandoc -T lint -W warning on every docs/man page: no message at all;
- every setting of docs/config.md's tables is an entry of acctd.conf(5) and
  every entry of acctd.conf(5) is a setting there; the same for
  docs/agent.md's configuration table and acctd-agent.conf(5). An entry is
  a `.TP` line followed by `.B NAME`; a nodes / workspaces member is
  written `nodes[].name`;
- sh -n and shellcheck on every shell script that ships (the rendered init
  scripts in DIST, apply-postgres, the package scripts);
- systemd-analyze verify on the rendered units (DIST/verify, rendered with
  the build's binaries so ExecStart= exists), and systemd-analyze security
  --offline: each unit's exposure at most MAX_EXPOSURE.

Prints one line per failure, saying what is missing where, then
`docs-check: N passed, N failed`; exit 1 on any failure.
"""
import glob
import os
import re
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAX_EXPOSURE = 4.0
passed = 0
failed = 0


def result(ok, what, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print("ok    " + what)
    else:
        failed += 1
        print("FAIL  " + what + (":\n" + detail.rstrip() if detail else ""))


def md_tables(path):
    """{header first cell: [(first cell, section prefix)]} for each table"""
    lines = open(path, encoding="utf-8").read().split("\n")
    names, prefix = [], ""
    for i, line in enumerate(lines):
        m = re.match(r"^`(nodes|workspaces)` entries", line)
        if m:
            prefix = m.group(1) + "[]."
        if not line.startswith("| ") or i + 1 >= len(lines) or not lines[i + 1].startswith("| ---"):
            continue
        head = line.split("|")[1].strip()
        if head not in ("setting", "member"):
            continue
        if head == "setting":
            prefix = ""
        for row in lines[i + 2:]:
            if not row.startswith("|"):
                break
            cell = row.split("|")[1].strip()
            m = re.match(r"^`([a-z_.\[\]0-9]+)`$", cell)
            if m:
                names.append(prefix + m.group(1))
    return names


def man_entries(path):
    lines = open(path, encoding="utf-8").read().split("\n")
    out = []
    for i, line in enumerate(lines[:-1]):
        if line.strip() == ".TP":
            m = re.match(r"^\.B (\S+)$", lines[i + 1].strip())
            if m:
                out.append(m.group(1).replace("\\", ""))
    return out


def compare(doc, man, only_prefixes=None):
    want = md_tables(os.path.join(TOP, doc))
    have = man_entries(os.path.join(TOP, man))
    if only_prefixes is not None:   # a man page may list other things (options)
        have = [h for h in have if h in want or re.match(r"^[a-z_]+(\.|\[\]\.)?[a-z_0-9]*$", h)]
    missing = [w for w in want if w not in have]
    extra = [h for h in have if h not in want]
    result(not missing, "%s: every setting of %s" % (man, doc),
           "".join("  %s: setting `%s` has no entry in %s (add `.TP` + `.B %s`)\n"
                   % (doc, w, man, w) for w in missing))
    result(not extra, "%s: only settings %s lists" % (man, doc),
           "".join("  %s: entry `%s` is not a setting in %s's tables\n"
                   % (man, h, doc) for h in extra))
    return want


def run(cmd, **kw):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, **kw)
    return p.returncode, p.stdout


def check_mandoc():
    for page in sorted(glob.glob(os.path.join(TOP, "docs/man/*.[0-9]"))):
        rc, out = run(["mandoc", "-T", "lint", "-W", "warning", page])
        result(rc == 0 and out.strip() == "", "mandoc -T lint " + os.path.relpath(page, TOP), out)


def check_scripts(dist):
    scripts = [os.path.join(TOP, p) for p in (
        "platform/linux/apply-postgres", "platform/adduser.sh", "platform/render.sh",
        "platform/deb/build.sh", "platform/deb/prerm", "platform/deb/postrm",
        "tests/pkg/test_deb.sh")]
    scripts += sorted(glob.glob(os.path.join(dist, "busybox/*")))
    openwrt = sorted(glob.glob(os.path.join(dist, "openwrt/*")))
    for s in scripts + openwrt:
        rc, out = run(["sh", "-n", s])
        result(rc == 0, "sh -n " + os.path.relpath(s, TOP), out)
    rc, out = run(["shellcheck", "-s", "sh"] + scripts)
    result(rc == 0, "shellcheck (%d scripts)" % len(scripts), out)
    # rc.common sets START/STOP/USE_PROCD's readers and the procd_* functions
    rc, out = run(["shellcheck", "-s", "sh", "-e", "SC2034"] + openwrt)
    result(rc == 0, "shellcheck OpenWrt procd scripts", out)


def check_units(dist):
    units = sorted(glob.glob(os.path.join(dist, "verify/systemd/*.service")))
    result(len(units) == 2, "two units rendered", "found: %r" % units)
    for u in units:
        # the manuals are not installed here (tests/pkg/test_deb.sh verifies
        # the installed units with their man: links)
        rc, out = run(["systemd-analyze", "verify", "--man=no", u])
        result(rc == 0 and out.strip() == "", "systemd-analyze verify " + os.path.basename(u), out)
        rc, out = run(["systemd-analyze", "security", "--offline=true", "--no-pager", u])
        m = re.search(r"Overall exposure level for \S+: ([0-9.]+) (\S+)", out)
        level = float(m.group(1)) if m else 99.0
        result(m is not None and level <= MAX_EXPOSURE,
               "systemd-analyze security %s: %s (at most %.1f)"
               % (os.path.basename(u), m.group(1) + " " + m.group(2) if m else "?", MAX_EXPOSURE),
               "" if m else out[-2000:])


def main():
    dist = sys.argv[1]
    check_mandoc()
    compare("docs/config.md", "docs/man/acctd.conf.5")
    compare("docs/agent.md", "docs/man/acctd-agent.conf.5")
    check_scripts(dist)
    check_units(dist)
    print("docs-check: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""The audit trail to a SIEM (audit.forward, issue 14): a real acctd sends
every audit record as RFC 5424 syslog (octet-counted, over TCP or TLS) to a
real rsyslogd of Debian's that the test starts on a loopback port and
stops and starts again. Each test checks what the collector wrote: valid
RFC 5424 (parsed here, and by rsyslog's own parser), the record's fields
and chain hash as GET /api/v0/admin/audit shows them, in order, none
missing; duplicates only around a reconnect (at least once). And the
state (GET /api/v0/admin/audit/forward, /metrics) while it is behind."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from harness import BIN, Daemon, cert_dir, free_port
from accounts import API, admin_password, login, patch, upath, all_audit, make_user

RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
BOM = "\ufeff"
HEADER = re.compile(r"^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) ")
# fields of a record and the SD-PARAM that carries each (forward.c)
PARAMS = [("action", "action_type"), ("actor", "actor_handle"), ("actor_id", "actor_id"),
          ("actor_name", "actor_display_name"), ("actor_avatar", "actor_avatar_url"),
          ("actor_ip", "actor_ip"), ("identity", "identity_handle"),
          ("identity_id", "identity_id"), ("target", "target_handle"),
          ("target_id", "target_id"), ("prev", "prev_hash"), ("chain", "hash")]
TRICKY = 'Zoë "quoted" ]bracket[ back\\slash 名前'


def wait_for(what, pred, timeout=30, step=0.1):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(step)


def parse_sd(line, pos):
    """One SD-ELEMENT at line[pos] ("[" …): (id, {name: value}, end)."""
    if line[pos] != "[":
        raise ValueError("no structured data at %d" % pos)
    m = re.compile(r"[^ =\]\"]{1,32}").match(line, pos + 1)
    sd_id, pos, params = m.group(0), m.end(), {}
    while line[pos] == " ":
        m = re.compile(r"([^ =\]\"]{1,32})=\"").match(line, pos + 1)
        if not m:
            raise ValueError("bad SD-PARAM at %d" % (pos + 1))
        pos, value = m.end(), []
        while line[pos] != '"':
            if line[pos] == "]":
                raise ValueError("unescaped ] in a PARAM-VALUE at %d" % pos)
            if line[pos] == "\\" and line[pos + 1] in '"\\]':
                pos += 1
            value.append(line[pos])
            pos += 1
        if m.group(1) in params:
            raise ValueError("SD-PARAM %s twice" % m.group(1))
        params[m.group(1)] = "".join(value)
        pos += 1
    if line[pos] != "]":
        raise ValueError("SD-ELEMENT not closed at %d" % pos)
    return sd_id, params, pos + 1


def parse_5424(line):
    """An RFC 5424 message as acctd writes it: a dict of its parts."""
    m = HEADER.match(line)
    if not m:
        raise ValueError("not an RFC 5424 header: %r" % line[:80])
    sd_id, params, pos = parse_sd(line, m.end())
    if not line.startswith(" " + BOM, pos):
        raise ValueError("MSG is not BOM + UTF-8 text")
    return {"pri": int(m.group(1)), "timestamp": m.group(2), "hostname": m.group(3),
            "app": m.group(4), "procid": m.group(5), "msgid": m.group(6), "sd_id": sd_id,
            "params": params, "msg": line[pos + 2:]}


class Collector:
    """Debian's rsyslogd, our own instance (not the system's): imtcp on a
    loopback port, optionally TLS (gtls, anonymous clients), each received
    message written as rsyslog got it (%rawmsg%) and as its RFC 5424 parser
    read it (app-name, msgid, structured-data)."""

    def __init__(self, tls=None):
        if not os.path.exists(RSYSLOGD):
            raise AssertionError("rsyslogd is missing: `make prereqs-test` installs "
                                 "Debian's rsyslog and rsyslog-gnutls")
        self.dir = tempfile.mkdtemp(prefix="acctd-siem-")
        self.port = free_port()
        self.raw = os.path.join(self.dir, "raw.log")
        self.parsed = os.path.join(self.dir, "parsed.log")
        self.conf = os.path.join(self.dir, "rsyslog.conf")
        self.pidfile = os.path.join(self.dir, "rsyslogd.pid")
        self.proc = None
        g = 'global(workDirectory="%s" maxMessageSize="8k"' % self.dir
        m, i = 'module(load="imtcp"', 'input(type="imtcp" address="127.0.0.1" port="%d"' % self.port
        if tls:
            g += (' DefaultNetstreamDriver="gtls" DefaultNetstreamDriverCAFile="%s"'
                  ' DefaultNetstreamDriverCertFile="%s" DefaultNetstreamDriverKeyFile="%s"'
                  % (tls[0], tls[0], tls[1]))
            m += ' StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon"'
        with open(self.conf, "w") as f:
            f.write(g + ")\n" + m + ")\n" + i + ' ruleset="siem")\n'
                    'template(name="raw" type="string" string="%rawmsg%\\n")\n'
                    'template(name="parsed" type="string" '
                    'string="%app-name%|%msgid%|%structured-data%\\n")\n'
                    'ruleset(name="siem") {\n'
                    '  action(type="omfile" file="' + self.raw + '" template="raw")\n'
                    '  action(type="omfile" file="' + self.parsed + '" template="parsed")\n'
                    '}\n')

    def listening(self):
        want = ":%04X" % self.port
        with open("/proc/net/tcp") as f:
            return any(l.split()[1].endswith(want) and l.split()[3] == "0A"
                       for l in f.readlines()[1:])

    def start(self):
        self.err = open(os.path.join(self.dir, "rsyslogd.stderr"), "ab")
        self.proc = subprocess.Popen([RSYSLOGD, "-n", "-f", self.conf, "-i", self.pidfile],
                                     stdin=subprocess.DEVNULL, stdout=self.err, stderr=self.err)
        wait_for("rsyslogd to listen on %d" % self.port, self.listening)
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(20)
        self.proc = None
        self.err.close()

    def cleanup(self):
        self.stop() if self.proc else None
        shutil.rmtree(self.dir, ignore_errors=True)

    def lines(self, path=None):
        try:
            with open(path or self.raw, encoding="utf-8") as f:
                return [l.rstrip("\n") for l in f if l.strip()]
        except FileNotFoundError:
            return []

    def messages(self):
        return [parse_5424(l) for l in self.lines()]

    def seqs(self):
        return [int(m["params"]["seq"]) for m in self.messages()]


def forward_settings(url, **more):
    s = {"url": url, "retry_max_seconds": 1}
    s.update(more)
    return {"audit": {"forward": s}, "login": {"max_failures": 1000, "window": 1, "lockout": 1}}


class ForwardCase(unittest.TestCase):
    """A collector and an acctd sending to it, per test."""
    tls = False

    def start(self, extra=None, collector=True, **fwd):
        c = self.collector = Collector(self.tls_pair() if self.tls else None)
        self.addCleanup(c.cleanup)
        if collector:
            c.start()
        scheme = "tls" if self.tls else "tcp"
        settings = forward_settings("%s://127.0.0.1:%d" % (scheme, c.port), **fwd)
        settings.update(extra or {})
        d = self.d = Daemon(extra=settings)
        self.addCleanup(d.cleanup)
        self.addCleanup(lambda: d.stop(expect_rc=None) if d.proc and d.proc.poll() is None else None)
        d.start()
        self.admin = login(d, "admin", admin_password(d))
        return d

    def tls_pair(self):
        cd = cert_dir()
        return (os.path.join(cd, "tls.crt"), os.path.join(cd, "tls.key"))

    def state(self):
        r = self.admin.get(API + "/admin/audit/forward")
        self.assertEqual(r.status, 200, r)
        return r.json

    def metrics(self):
        r = self.admin.get("/metrics")
        self.assertEqual(r.status, 200, r)
        return {l.split()[0]: int(l.split()[1]) for l in r.body.decode().splitlines()
                if l.startswith("acctd_audit_forward_")}

    def changes(self, n, prefix="n"):
        for i in range(n):
            r = patch(self.admin, upath("admin"), {"display_name": "%s%d" % (prefix, i)})
            self.assertEqual(r.status, 200, r)

    def caught_up(self, timeout=30):
        """Until the collector surely holds every record: behind 0."""
        st = wait_for("behind to reach 0", lambda: (lambda s: s if s["behind"] == 0
                      and s["cursor"] == s["head"] else None)(self.state()), timeout)
        wait_for("the collector to write seq %d" % st["head"],
                 lambda: st["head"] in self.collector.seqs() or st["head"] == 0, 10)
        return st

    def check_messages(self, msgs, records):
        """Each message is its record: header, SD-PARAMs, MSG."""
        host = socket.gethostname()
        for m in msgs:
            rec = records[int(m["params"]["seq"])]
            self.assertEqual((m["pri"], m["app"], m["procid"], m["msgid"], m["sd_id"]),
                             (85, "acctd", "-", "AUDIT", "acctd@32473"))
            self.assertEqual(m["hostname"], host)
            self.assertEqual(m["timestamp"], rec["created_at"])
            self.assertEqual(json.loads(m["msg"]), rec)          # the record, whole
            want = {"seq": str(rec["id"]), "data": rec["data"]}
            for p, field in PARAMS:
                if rec[field] is not None:
                    want[p] = rec[field]
            got = dict(m["params"])
            got["data"] = json.loads(got["data"])
            self.assertEqual(got, want)


class Delivery(ForwardCase):
    def test_records_arrive_as_rfc5424_in_order(self):
        d = self.start()
        _, pw = make_user(d, self.admin, "alice", display_name=TRICKY)
        alice = login(d, "alice", pw)
        self.assertEqual(patch(alice, upath("alice"), {"display_name": TRICKY + "]]",
                                                       "avatar_url": "https://x.test/a]b[c"}).status, 200)
        self.assertEqual(alice.post(API + "/logout").status, 204)
        self.changes(20)
        st = self.caught_up()
        records = {r["id"]: r for r in all_audit(self, self.admin)}
        head = max(records)
        self.assertEqual(st["head"], head)
        msgs = self.collector.messages()
        # in order, each once, nothing missing
        self.assertEqual([int(m["params"]["seq"]) for m in msgs], list(range(1, head + 1)))
        self.check_messages(msgs, records)
        for a, b in zip(msgs, msgs[1:]):
            self.assertEqual(b["params"]["prev"], a["params"]["chain"])
        names = [m["params"].get("actor_name") for m in msgs]
        self.assertIn(TRICKY, names)
        self.assertIn(TRICKY + "]]", names)
        # rsyslog's own RFC 5424 parser read the same messages
        parsed = self.collector.lines(self.collector.parsed)
        self.assertEqual(len(parsed), head)
        for line in parsed:
            self.assertRegex(line, r'^acctd\|AUDIT\|\[acctd@32473 seq="\d+" action="')
        self.assertEqual({k: st[k] for k in ("status", "connected", "cursor", "sent_seq", "behind",
                                             "sent", "resent", "dropped", "last_error", "url")},
                         {"status": "ok", "connected": True, "cursor": head, "sent_seq": head,
                          "behind": 0, "sent": head, "resent": 0, "dropped": 0,
                          "last_error": None,
                          "url": "tcp://127.0.0.1:%d" % self.collector.port})
        self.assertRegex(st["last_success"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        m = self.metrics()
        self.assertEqual((m["acctd_audit_forward_connected"], m["acctd_audit_forward_behind"],
                          m["acctd_audit_forward_sent_total"], m["acctd_audit_forward_dropped_total"]),
                         (1, 0, head, 0))

    def test_collector_restart_in_the_middle(self):
        """Changes keep coming while the collector is stopped and started
        again: every record arrives, in order; a record arrives twice only
        when it was sent but not yet confirmed when the connection broke."""
        self.start()
        done, errors = threading.Event(), []

        def writer():
            c = login(self.d, "admin", admin_password(self.d))
            i = 0
            while not done.is_set():
                r = patch(c, upath("admin"), {"display_name": "w%d" % i})
                if r.status != 200:
                    errors.append(r)
                i += 1
                time.sleep(0.01)

        t = threading.Thread(target=writer)
        t.start()
        try:
            time.sleep(1.5)
            confirmed = self.state()["cursor"]
            self.collector.stop()
            st = wait_for("the forwarder to notice", lambda: (lambda s: s if not s["connected"]
                          and s["behind"] > 50 else None)(self.state()))
            self.assertEqual(st["status"], "failing")
            self.assertTrue(st["last_error"])
            m = self.metrics()
            self.assertEqual(m["acctd_audit_forward_connected"], 0)
            self.assertGreater(m["acctd_audit_forward_behind"], 50)
            time.sleep(1)
            self.collector.start()
            restarted_head = self.state()["head"]
            time.sleep(1.5)
        finally:
            done.set()
            t.join()
        self.assertEqual(errors, [])
        st = self.caught_up()
        seqs = self.collector.seqs()
        seen = set()
        first = [s for s in seqs if not (s in seen or seen.add(s))]
        self.assertEqual(first, list(range(1, st["head"] + 1)))     # in order, none missing
        dups = sorted(s for s in set(seqs) if seqs.count(s) > 1)
        for s in dups:      # never a confirmed record; only what the break caught in flight
            self.assertGreater(s, confirmed)
            self.assertLessEqual(s, restarted_head)
        # every duplicate is a resend; a resend that is no duplicate was
        # written into the dying connection and never read: the case
        # at-least-once is for
        self.assertGreaterEqual(st["resent"], len(seqs) - len(set(seqs)))
        print("\n  collector restart: %d records, %d resent, %d delivered twice (seqs %s)"
              % (st["head"], st["resent"], len(dups),
                 "%d-%d" % (dups[0], dups[-1]) if dups else "none"))
        self.check_messages(self.collector.messages(),
                            {r["id"]: r for r in all_audit(self, self.admin)})

    def test_acctd_restart_resumes_from_the_stored_cursor(self):
        d = self.start()
        self.changes(10)
        self.caught_up()
        time.sleep(2.5)                    # the cursor is stored within ~2 s
        self.collector.stop()
        wait_for("the forwarder to notice", lambda: not self.state()["connected"])
        self.changes(30, "down")
        before = self.collector.seqs()
        st = self.state()
        self.assertEqual(st["behind"], 30)
        d.stop()
        d.start()
        self.admin = login(d, "admin", admin_password(d))
        self.collector.start()
        st = self.caught_up()
        after = self.collector.seqs()[len(before):]
        # nothing delivered before the restart is sent again
        self.assertEqual(after, list(range(before[-1] + 1, st["head"] + 1)))
        self.assertRegex(d.logtext(), r"audit forward: connected to tcp://127\.0\.0\.1:%d"
                         r"( again)?; sending from seq %d on" % (self.collector.port, before[-1] + 1))


class Off(unittest.TestCase):
    def test_off_by_default_and_for_admins_only(self):
        d = Daemon(extra={"login": {"max_failures": 1000, "window": 1, "lockout": 1}})
        self.addCleanup(d.cleanup)
        self.addCleanup(lambda: d.stop(expect_rc=None))
        d.start()
        admin = login(d, "admin", admin_password(d))
        st = admin.get(API + "/admin/audit/forward").json
        self.assertEqual({k: st[k] for k in ("url", "status", "connected", "behind", "sent",
                                             "last_error", "last_attempt")},
                         {"url": None, "status": "off", "connected": False, "behind": 0,
                          "sent": 0, "last_error": None, "last_attempt": None})
        self.assertRegex(admin.get("/metrics").body.decode(),
                         r"(?m)^acctd_audit_forward_connected 0$")
        _, pw = make_user(d, admin, "bob")
        self.assertEqual(login(d, "bob", pw).get(API + "/admin/audit/forward").status, 403)
        self.assertNotIn("audit forward", d.logtext())


class Ring(ForwardCase):
    def test_records_dropped_by_the_ring_are_counted(self):
        """The collector is away longer than the ring holds: the records
        lost are counted and logged, the rest arrive."""
        c = self.collector = Collector()
        self.addCleanup(c.cleanup)
        settings = forward_settings("tcp://127.0.0.1:%d" % c.port)
        settings["audit"]["capacity"] = 100
        d = self.d = Daemon(extra=settings)
        self.addCleanup(d.cleanup)
        self.addCleanup(lambda: d.stop(expect_rc=None) if d.proc and d.proc.poll() is None else None)
        d.start()
        self.admin = login(d, "admin", admin_password(d))
        wait_for("a failed connect", lambda: self.state()["status"] == "failing")
        self.changes(150)
        self.assertGreater(self.state()["behind"], 100)
        c.start()
        st = self.caught_up()
        verify = self.admin.get(API + "/admin/audit/verify").json
        first = verify["first_seq"]
        self.assertGreater(first, 1)
        self.assertEqual(c.seqs(), list(range(first, st["head"] + 1)))
        self.assertEqual(st["dropped"], first - 1)
        self.assertEqual(self.metrics()["acctd_audit_forward_dropped_total"], first - 1)
        self.assertIn("audit forward: records 1 to %d (%d) were dropped by the audit ring "
                      "before they reached the collector" % (first - 1, first - 1), d.logtext())


class Tls(ForwardCase):
    tls = True

    def reload(self, **fwd):
        d = self.d
        d.settings["audit"]["forward"].update(fwd)
        d.write_conf()
        n = d.logtext().count("reload: %s loaded" % d.conf)
        d.proc.send_signal(signal.SIGHUP)
        wait_for("the reload", lambda: d.logtext().count("reload: %s loaded" % d.conf) > n)

    def test_tls_with_the_pinned_ca_and_a_wrong_one(self):
        d = self.start(ca=self.tls_pair()[0])
        self.changes(5)
        st = self.caught_up()
        self.assertEqual(self.collector.seqs(), list(range(1, st["head"] + 1)))
        self.check_messages(self.collector.messages(),
                            {r["id"]: r for r in all_audit(self, self.admin)})
        self.assertEqual(st["url"], "tls://127.0.0.1:%d" % self.collector.port)

        # another CA: the collector's certificate is refused, nothing is sent
        other = os.path.join(d.dir, "other")
        subprocess.run([os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__)))), "tools", "mkcert.sh"), other, "not the collector"],
            check=True)
        self.reload(ca=other + ".crt")
        self.changes(3, "wrongca")
        st = wait_for("the refusal", lambda: (lambda s: s if s["status"] == "failing"
                      else None)(self.state()))
        self.assertRegex(st["last_error"], r"^tls handshake: the collector's certificate: ")
        self.assertFalse(st["connected"])
        self.assertEqual(st["behind"], 3)
        self.assertEqual(self.metrics()["acctd_audit_forward_connected"], 0)
        time.sleep(1.5)
        self.assertEqual(max(self.collector.seqs()), st["head"] - 3)

        # the right CA again: the three records follow
        self.reload(ca=self.tls_pair()[0])
        st = self.caught_up()
        self.assertEqual(self.collector.seqs(), list(range(1, st["head"] + 1)))

        # HOSTNAME and APP-NAME follow a reload too
        self.reload(hostname="gw1.example", app_name="acctd-gw1")
        self.changes(1, "named")
        st = self.caught_up()
        m = self.collector.messages()[-1]
        self.assertEqual((m["params"]["seq"], m["hostname"], m["app"]),
                         (str(st["head"]), "gw1.example", "acctd-gw1"))


class Config(unittest.TestCase):
    def check(self, forward, want):
        d = Daemon()
        try:
            with open(d.conf, "a") as f:
                f.write("audit = {\n  forward = {\n" + forward + "  };\n};\n")
            r = subprocess.run([BIN, "-t", "-c", d.conf], capture_output=True, text=True)
            self.assertEqual((r.returncode, r.stdout), (1, ""))
            n = len(open(d.conf).read().splitlines())
            self.assertEqual(r.stderr.splitlines(), [
                "%s:%d: %s" % (d.conf, n - 4 + line, msg) for line, msg in want])
        finally:
            d.cleanup()

    def test_errors(self):
        self.check('    url = "udp://10.0.0.1:514";\n',
                   [(2, "audit.forward.url: must be tcp://host:port or tls://host:port")])
        self.check('    url = "tcp://10.0.0.1:0";\n',
                   [(2, "audit.forward.url: port must be between 1 and 65535")])
        self.check('    url = "tcp://Bad_Host:514";\n',
                   [(2, "audit.forward.url: must be tcp://host:port or tls://host:port")])
        self.check('    url = "tls://10.0.0.1:6514";\n',
                   [(1, "audit.forward.ca: required when audit.forward.url is tls://")])
        self.check('    url = "tcp://[fd00::1]:514"; ca = "/etc/ca.crt";\n',
                   [(2, "audit.forward.ca: only used with a tls:// audit.forward.url")])
        self.check('    url = "tls://10.0.0.1:6514"; ca = "ca.crt";\n',
                   [(2, "audit.forward.ca: must be an absolute path")])
        self.check('    app_name = "my app";\n',
                   [(2, "audit.forward.app_name: must be 1 to 48 printable ASCII characters "
                        "without spaces")])
        self.check('    hostname = "gw 1";\n',
                   [(2, "audit.forward.hostname: must be 1 to 255 printable ASCII characters "
                        "without spaces")])
        self.check('    retry_max_seconds = 0;\n',
                   [(2, "audit.forward.retry_max_seconds: must be between 1 and 3600")])
        self.check('    port = 514;\n', [(2, "audit.forward.port: unknown setting")])
        # what -t checks on this machine: the host resolves without NSS or
        # DNS (as the forwarder connects), the CA file is a certificate
        self.check('    url = "tcp://siem.invalid:514";\n',
                   [(2, 'audit.forward.url: host "siem.invalid" is not an IP address and '
                        'not in /etc/hosts (acctd resolves host names without NSS or DNS)')])
        self.check('    url = "tls://127.0.0.1:6514"; ca = "/nonexistent/ca.crt";\n',
                   [(2, "audit.forward.ca: /nonexistent/ca.crt: No such file or directory")])

    def test_valid(self):
        d = Daemon()
        try:
            with open(d.conf, "a") as f:
                f.write('audit = { forward = { url = "tls://127.0.0.1:6514"; '
                        'ca = "%s"; hostname = "gw1.example"; ' % d.cafile +
                        'app_name = "acctd-gw1"; retry_max_seconds = 30; }; };\n')
            r = subprocess.run([BIN, "-t", "-c", d.conf], capture_output=True, text=True)
            self.assertEqual((r.returncode, r.stdout, r.stderr), (0, "ok\n", ""))
        finally:
            d.cleanup()


if __name__ == "__main__":
    unittest.main()

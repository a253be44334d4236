"""The daemon's life: check mode, version, start-up refusals, readiness,
sd_notify, SIGHUP reload, privilege drop, bootstrap password, SIGTERM."""
import os
import pwd
import signal
import socket
import stat
import subprocess
import tempfile
import time
import unittest

from harness import Daemon, BIN, ROOT, conf_text
import harness


def run(*args):
    p = subprocess.run([BIN, *args], capture_output=True, timeout=30)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


class CheckMode(unittest.TestCase):
    def test_version(self):
        rc, out, _ = run("-V")
        self.assertEqual(rc, 0)
        self.assertRegex(out, r"^acctd \d+\.\d+\.\d+\n$")

    def test_sample_config_ok(self):
        # -t also checks the files and the user it names: give it them
        text = open(os.path.join(ROOT, "config", "acctd.conf")).read()
        crt, key = harness.test_cert(), harness.test_cert()[:-3] + "key"
        for name, path in (("tls.crt", crt), ("tls.key", key), ("push.crt", crt),
                           ("push.key", key), ("node1.crt", crt)):
            text = text.replace('"/etc/acctd/%s"' % name, '"%s"' % path)
        text = text.replace('user = "acctd";', 'user = "root";')
        with tempfile.NamedTemporaryFile("w", suffix=".conf") as f:
            f.write(text)
            f.flush()
            rc, out, err = run("-t", "-c", f.name)
        self.assertEqual((rc, out, err), (0, "ok\n", ""))

    def test_errors_with_file_and_line(self):
        d = Daemon()
        try:
            with open(d.conf, "a") as f:
                f.write("map_size_mb = 1;\nbogus = 1;\n")
            rc, out, err = run("-t", "-c", d.conf)
            self.assertEqual(rc, 1)
            self.assertEqual(out, "")
            lines = err.strip().splitlines()
            n = len(open(d.conf).read().splitlines())
            self.assertIn("%s:%d: map_size_mb: must be between 8 and 65536" % (d.conf, n - 1), lines)
            self.assertIn("%s:%d: bogus: unknown setting" % (d.conf, n), lines)
        finally:
            d.cleanup()

    def test_bad_config_refuses_to_start(self):
        d = Daemon(extra={"log_level": "loud"}, ready=False)
        try:
            d.start()
            self.assertEqual(d.wait_exit(), 1)
            self.assertIn("log_level: must be one of error, warn, info, debug", d.logtext())
        finally:
            d.cleanup()


class StartUp(unittest.TestCase):
    def test_ready_line_notify_and_files(self):
        sock_path = os.path.join("/tmp", "acctd-notify-%d" % os.getpid())
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(sock_path)
        s.settimeout(20)
        try:
            with Daemon(env={"NOTIFY_SOCKET": sock_path}) as d:
                self.assertIn("acctd: ready on https://127.0.0.1:%d" % d.port, d.logtext())
                self.assertEqual(s.recv(100), b"READY=1")
                key = os.path.join(d.dir, "data", "appliance.key")
                st = os.stat(key)
                self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
                self.assertEqual(st.st_size, 32)
                pwf = os.path.join(d.dir, "data", "admin.password")
                self.assertEqual(stat.S_IMODE(os.stat(pwf).st_mode), 0o600)
                password = open(pwf).read().strip()
                self.assertRegex(password, r"^[0-9a-z]{5}(-[0-9a-z]{5}){4}$")
                # stderr is a pipe (a journal, in production): the log says
                # where the password is, never the password (issue 9, 9)
                self.assertNotIn(password, d.logtext())
                self.assertIn('acctd: bootstrap admin "admin": one-time password written to %s '
                              '(mode 0600)' % pwf, d.logtext())
                d.stop()
                self.assertIn("acctd: stopped", d.logtext())
                # second start: the password is not printed again
                n = len(d.log)
                d.start()
                self.assertNotIn(password, "\n".join(d.log[n:]))
        finally:
            s.close()
            os.unlink(sock_path)

    def test_bootstrap_password_file_removed_once_changed(self):
        """Issue 14: the file holding the bootstrap admin's one-time password
        goes when that password is changed (logged, never the password); a
        file the operator has since replaced stays when another user changes
        their one-time password."""
        from harness import Client
        with Daemon(first_sign_in=False) as d:
            pwf = os.path.join(d.dir, "data", "admin.password")
            old = open(pwf).read().strip()
            c = Client(d)
            r = c.post("/api/v0/login", {"handle": "admin", "password": old})
            self.assertEqual(r.status, 200, r)
            self.assertTrue(r.json["user"]["must_change_password"])
            c.csrf = r.json["csrf_token"]
            new = "a passphrase of my own"
            r = c.request("PUT", "/api/v0/user/admin/console_password",
                          body={"current_password": old, "new_password": new})
            self.assertEqual(r.status, 204, r)
            self.assertFalse(os.path.exists(pwf))
            self.assertTrue(d.wait_log("acctd: bootstrap_admin: removed %s: the one-time password "
                                       "it held was changed" % pwf), d.logtext())
            self.assertNotIn(old, d.logtext())
            # the change itself is audited as every password change
            r = c.get("/api/v0/admin/audit?action=user.console_password.change")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(len(r.json["items"]), 1)
            # another one-time password changed: a replaced file stays
            r = c.post("/api/v0/admin/user", {"handle": "bob", "email": "bob@example.com"})
            self.assertEqual(r.status, 201, r)
            bob_pw = r.json["initial_password"]
            with open(os.open(pwf, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
                f.write("kept by the operator\n")
            b = Client(d)
            r = b.post("/api/v0/login", {"handle": "bob", "password": bob_pw})
            self.assertEqual(r.status, 200, r)
            b.csrf = r.json["csrf_token"]
            r = b.request("PUT", "/api/v0/user/bob/console_password",
                          body={"current_password": bob_pw, "new_password": "bob's own words"})
            self.assertEqual(r.status, 204, r)
            self.assertEqual(open(pwf).read(), "kept by the operator\n")
            # a restart does not bring a bootstrap password back
            os.unlink(pwf)
            d.stop()
            d.start()
            self.assertFalse(os.path.exists(pwf))
            c.close()
            b.close()

    def test_bootstrap_password_on_a_terminal_only(self):
        """Issue 9, finding 9: under a journal (stderr a pipe) the one-time
        password is not printed; on a terminal (make run) it is shown once."""
        import pty
        import select
        d = Daemon(ready=False)
        try:
            d.start()
            deadline = time.monotonic() + 30
            while "acctd: ready on" not in d.logtext() and time.monotonic() < deadline:
                time.sleep(0.05)
            d.stop()
            pwf = os.path.join(d.dir, "data", "admin.password")
            piped = open(pwf).read().strip()
            self.assertNotIn(piped, d.logtext())
            self.assertIn("one-time password written to %s" % pwf, d.logtext())
            # a fresh data dir, stderr a terminal
            import shutil
            shutil.rmtree(os.path.join(d.dir, "data"))
            master, slave = pty.openpty()
            p = subprocess.Popen([BIN, "-c", d.conf], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=slave)
            os.close(slave)
            out = b""
            try:
                deadline = time.monotonic() + 30
                while b"ready on" not in out and time.monotonic() < deadline:
                    if select.select([master], [], [], 0.2)[0]:
                        out += os.read(master, 4096)
            finally:
                p.send_signal(signal.SIGTERM)
                p.wait(20)
                os.close(master)
            shown = open(pwf).read().strip()
            text = out.decode("utf-8", "replace")
            self.assertIn('acctd: bootstrap admin "admin" one-time password: %s' % shown, text)
            self.assertEqual(text.count(shown), 1)
        finally:
            d.cleanup()

    def _refused(self, prepare, expect):
        d = Daemon(ready=False)
        try:
            os.makedirs(os.path.join(d.dir, "data"), mode=0o700)
            prepare(d)
            d.start()
            self.assertEqual(d.wait_exit(), 1, d.logtext())
            self.assertIn(expect, d.logtext())
        finally:
            d.cleanup()

    def test_key_file_world_readable_refused(self):
        key = None

        def prep(d):
            nonlocal key
            key = os.path.join(d.dir, "data", "appliance.key")
            with open(key, "wb") as f:
                f.write(os.urandom(32))
            os.chmod(key, 0o644)
        self._refused(prep, "group or world accessible (mode 0644)")

    def test_tls_key_world_readable_refused(self):
        def prep(d):
            import shutil
            k = os.path.join(d.dir, "tls.key")
            shutil.copy(d.settings["tls"]["key"], k)
            os.chmod(k, 0o640)
            d.settings["tls"] = dict(d.settings["tls"], key=k)
            d.write_conf()
        self._refused(prep, "group or world accessible (mode 0640)")

    def test_port_in_use_refused(self):
        busy = socket.socket()
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        d = Daemon(ready=False)
        try:
            busy.bind(("127.0.0.1", d.port))
            busy.listen(1)
            d.start()
            self.assertEqual(d.wait_exit(), 1)
            self.assertIn("cannot start the HTTPS server", d.logtext())
        finally:
            busy.close()
            d.cleanup()

    @unittest.skipUnless(os.geteuid() == 0, "privilege drop needs root")
    def test_drops_privileges_to_user(self):
        nobody = pwd.getpwnam("nobody")
        d = Daemon(extra={"user": "nobody"})
        try:
            os.chmod(d.dir, 0o755)
            d.start()
            with open("/proc/%d/status" % d.proc.pid) as f:
                uid_line = [l for l in f if l.startswith("Uid:")][0].split()
            self.assertEqual(set(uid_line[1:]), {str(nobody.pw_uid)})
            self.assertEqual(os.stat(os.path.join(d.dir, "data")).st_uid, nobody.pw_uid)
            self.assertEqual(d.client().get("/healthz").status, 200)
            d.stop()
        finally:
            d.cleanup()

    def test_unknown_user_refused(self):
        if os.geteuid() != 0:
            self.skipTest("user is only used when started as root")
        d = Daemon(extra={"user": "no-such-user-acctd"}, ready=False)
        try:
            d.start()
            self.assertEqual(d.wait_exit(), 1)
            self.assertIn('user "no-such-user-acctd" does not exist', d.logtext())
        finally:
            d.cleanup()


class Quiet(unittest.TestCase):
    def test_ready_line_at_every_log_level(self):
        # scripts wait for it: log_level = "error" must not hide it
        with Daemon(extra={"log_level": "error"}) as d:
            lines = d.log[:]
            self.assertEqual(d.client().get("/healthz").status, 200)
        self.assertTrue(any(l.startswith("acctd: ready on https://") for l in lines), lines)
        self.assertFalse(any("running as root" in l for l in lines), lines)


class Reload(unittest.TestCase):
    def test_sighup_keeps_valid_and_rejects_invalid(self):
        with Daemon(extra={"log_level": "info"}) as d:
            d.settings["log_level"] = "debug"
            d.write_conf()
            d.proc.send_signal(signal.SIGHUP)
            self._wait_log(d, "reload: %s loaded" % d.conf)
            with open(d.conf, "a") as f:
                f.write("audit = { capacity = 5; };\n")
            d.proc.send_signal(signal.SIGHUP)
            self._wait_log(d, "keeping the running configuration")
            self.assertIn("audit.capacity: must be between", d.logtext())
            self.assertEqual(d.client().get("/healthz").status, 200)

    def _wait_log(self, d, text, timeout=10):
        t0 = time.monotonic()
        while text not in d.logtext():
            if time.monotonic() - t0 > timeout:
                self.fail("no %r in log:\n%s" % (text, d.logtext()))
            time.sleep(0.05)


if __name__ == "__main__":
    unittest.main()

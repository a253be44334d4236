"""API test harness: starts the real acctd on a free loopback port with a
fresh data dir and its own config, waits for its readiness line, talks HTTPS
to it (verifying the test certificate), and stops it.

Every later API test builds on Daemon and Client. Nothing here mocks acctd:
the binary under test is $ACCTD_BIN.
"""
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("ACCTD_BIN", os.path.join(ROOT, "build", "host", "acctd"))
SANITIZED = "-asan" in BIN
# ThreadSanitizer build (make SANITIZE=thread): a data race report stops
# acctd with exit status 66, and Daemon.stop() fails on any report
TSAN = "-tsan" in BIN
TSAN_OPTIONS = ("halt_on_error=1 exitcode=66 second_deadlock_stack=1 suppressions="
                + os.path.join(ROOT, "tests", "api", "tsan.supp"))
_CERT_DIR = None


def cert_dir():
    """One self-signed P-256 certificate for the whole run (tools/mkcert.sh)."""
    global _CERT_DIR
    if _CERT_DIR is None:
        _CERT_DIR = tempfile.mkdtemp(prefix="acctd-cert-")
        subprocess.run([os.path.join(ROOT, "tools", "mkcert.sh"),
                        os.path.join(_CERT_DIR, "tls"), "acctd test"], check=True)
    return _CERT_DIR


def test_cert():
    """The run's certificate file: the pinned certificate of nodes that a
    test never reaches (a start checks that every nodes[i].cert parses)."""
    return os.path.join(cert_dir(), "tls.crt")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def conf_text(settings):
    """Render a dict as libconfig; nested dicts are groups, lists arrays."""
    def val(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int):
            return str(v)
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, dict):
            return "{ " + " ".join("%s = %s;" % (k, val(x)) for k, x in v.items()) + " }"
        if isinstance(v, list):
            if v and isinstance(v[0], dict):
                return "( " + ", ".join(val(x) for x in v) + " )"
            return "[ " + ", ".join(val(x) for x in v) + " ]"
        raise TypeError(v)
    return "".join("%s = %s;\n" % (k, val(v)) for k, v in settings.items())


class Daemon:
    """A running acctd. Use as a context manager or call start()/stop()."""

    def __init__(self, extra=None, env=None, ready=True, first_sign_in=True):
        self.dir = tempfile.mkdtemp(prefix="acctd-test-")
        self.port = free_port()
        cd = cert_dir()
        self.cafile = os.path.join(cd, "tls.crt")
        self.settings = {
            "listen": ["127.0.0.1:%d" % self.port],
            "tls": {"cert": os.path.join(cd, "tls.crt"), "key": os.path.join(cd, "tls.key")},
            "data_dir": os.path.join(self.dir, "data"),
            "user": "",
            "log_level": "debug",
            "passwords": {"pbkdf2_iterations": 1000},
            "bootstrap_admin": {"handle": "admin", "email": "admin@localhost",
                                "password_file": os.path.join(self.dir, "data", "admin.password")},
            "dns": {"domain": "ws.test", "hosts_file": os.path.join(self.dir, "ws.hosts")},
            # suites make hundreds of changes in a few seconds; the write
            # budget itself is tested with its own settings (test_16_store)
            "rate_limit": {"writes_per_minute": 60000, "writes_burst": 10000},
        }
        for k, v in (extra or {}).items():
            if v is None:
                self.settings.pop(k, None)
            else:
                self.settings[k] = v
        if self.settings.get("nodes") and "push" not in self.settings:
            # a start refuses nodes without a client certificate to push with
            self.settings["push"] = {"client_cert": os.path.join(cd, "tls.crt"),
                                     "client_key": os.path.join(cd, "tls.key")}
        self.conf = os.path.join(self.dir, "acctd.conf")
        self.env = dict(os.environ)
        if TSAN:
            self.env.setdefault("TSAN_OPTIONS", TSAN_OPTIONS)
        self.env.update(env or {})
        self.proc = None
        self.log = []           # every stderr line the daemon printed
        self._log_lock = threading.Lock()
        self._ready = threading.Event()
        self.wait_ready = ready
        self.first_sign_in = first_sign_in
        self.write_conf()

    def write_conf(self, settings=None):
        with open(self.conf, "w") as f:
            f.write(conf_text(settings or self.settings))

    @property
    def url(self):
        return "https://127.0.0.1:%d" % self.port

    def _reader(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._log_lock:
                self.log.append(line)
            if "acctd: ready on " in line:
                self._ready.set()

    def start(self, timeout=30):
        self._ready.clear()
        self.proc = subprocess.Popen([BIN, "-c", self.conf], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=self.env)
        threading.Thread(target=self._reader, daemon=True).start()
        if not self.wait_ready:
            return self
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.05):
            if self.proc.poll() is not None:
                time.sleep(0.1)
                if (not getattr(self, "_port_retried", False) and "Address already in use"
                        in self.logtext() and self.settings["listen"] == ["127.0.0.1:%d" % self.port]):
                    # API files run side by side: another took the free port
                    # between free_port() and acctd's bind; once, on another
                    self._port_retried = True
                    self.port = free_port()
                    self.settings["listen"] = ["127.0.0.1:%d" % self.port]
                    self.write_conf()
                    with self._log_lock:
                        self.log.clear()
                    return self.start(timeout)
                raise AssertionError("acctd exited %s before ready:\n%s"
                                     % (self.proc.returncode, self.logtext()))
            if time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError("acctd not ready after %ss:\n%s" % (timeout, self.logtext()))
        if self.first_sign_in:
            self.change_bootstrap_password()
        return self

    def change_bootstrap_password(self):
        """The bootstrap admin's password is one-time (issue 16): its first
        session may only change it. Tests sign in as that admin all the time,
        so the harness does what its operator does once, through the API:
        signs in, sets a new password (of the same readable shape), and
        writes it over the password file, where every test reads it. Nothing
        is done when the admin has changed it already (a restart)."""
        ba = self.settings.get("bootstrap_admin") or {}
        pwf = ba.get("password_file")
        if not pwf or not os.path.exists(pwf):
            return
        with open(pwf) as f:
            old = f.readline().strip()
        c = Client(self)
        try:
            r = c.post("/api/v0/login", {"handle": ba.get("handle", "admin"), "password": old})
            if r.status != 200 or not r.json["user"].get("must_change_password"):
                return
            c.csrf = r.json["csrf_token"]
            alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
            new = "-".join("".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(5))
            r = c.request("PUT", "/api/v0/user/%s/console_password" % r.json["user"]["handle"],
                          body={"current_password": old, "new_password": new})
            if r.status != 204:
                raise AssertionError("changing the bootstrap password: %r" % r)
            c.post("/api/v0/logout")
            tmp = pwf + ".new"
            with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
                f.write(new + "\n")
            os.replace(tmp, pwf)
            self.bootstrap_password = old
        finally:
            c.close()

    def wait_exit(self, timeout=15):
        rc = self.proc.wait(timeout)
        time.sleep(0.05)     # let the reader drain stderr
        return rc

    def stop(self, expect_rc=0):
        if self.proc is None:
            return None
        if self.proc.poll() is not None:
            time.sleep(0.1)      # let the reader drain stderr
            self.assert_no_tsan_report()
            return self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.wait_exit(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError("acctd did not stop on SIGTERM:\n" + self.logtext())
        self.assert_no_tsan_report()
        if expect_rc is not None and rc != expect_rc:
            raise AssertionError("acctd exited %d:\n%s" % (rc, self.logtext()))
        return rc

    def assert_no_tsan_report(self):
        """ThreadSanitizer prints its reports to stderr; one is a failure
        whatever the test checked (exit status 66 when it halted acctd)."""
        text = self.logtext()
        if "WARNING: ThreadSanitizer" in text or "ERROR: ThreadSanitizer" in text:
            raise AssertionError("ThreadSanitizer report:\n" + text[-20000:])

    def wait_log(self, text, timeout=10):
        """True once a line containing text is in the daemon's log (the
        reader thread gets stderr a moment after the answer)"""
        deadline = time.monotonic() + timeout
        while text not in self.logtext():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def logtext(self):
        with self._log_lock:
            return "\n".join(self.log)

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        try:
            self.stop()
        finally:
            self.cleanup()

    def client(self):
        return Client(self)

    def cpu_seconds(self):
        """utime + stime of the daemon, from /proc."""
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    @property
    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return "<%d %r>" % (self.status, self.body[:300])


class Client:
    """HTTPS over one keep-alive connection, verifying the test certificate.
    Remembers cookies (like a browser) and a CSRF token when given one."""

    def __init__(self, daemon):
        self.daemon = daemon
        self.ctx = ssl.create_default_context(cafile=daemon.cafile)
        self.conn = None
        self.cookies = {}
        self.csrf = None
        self.bearer = None

    def _connect(self):
        self.conn = http.client.HTTPSConnection("127.0.0.1", self.daemon.port,
                                                context=self.ctx, timeout=30)

    def request(self, method, path, body=None, headers=None, raw=None):
        h = {}
        if body is not None:
            raw = json.dumps(body).encode()
        if raw is not None:
            h["Content-Type"] = "application/json"
        if self.cookies:
            h["Cookie"] = "; ".join("%s=%s" % kv for kv in self.cookies.items())
        if self.csrf and method not in ("GET", "HEAD"):
            h["X-CSRF-Token"] = self.csrf
        if self.bearer:
            h["Authorization"] = "Bearer " + self.bearer
        h.update(headers or {})
        for attempt in (0, 1):
            if self.conn is None:
                self._connect()
            try:
                self.conn.request(method, path, body=raw, headers=h)
                r = self.conn.getresponse()
                data = r.read()
                break
            except (http.client.RemoteDisconnected, http.client.CannotSendRequest,
                    ssl.SSLEOFError, ConnectionResetError, BrokenPipeError):
                # the server may close an idle keep-alive connection
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        hdrs = r.getheaders()
        for k, v in hdrs:
            if k.lower() == "set-cookie":
                name, _, rest = v.partition("=")
                val = rest.split(";", 1)[0]
                if val:
                    self.cookies[name] = val
                else:
                    self.cookies.pop(name, None)
        if r.getheader("Connection", "").lower() == "close":
            self.conn.close()
            self.conn = None
        return Response(r.status, hdrs, data)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    def close(self):
        if self.conn:
            self.conn.close()
            self.conn = None


def assert_problem(tc, r, status):
    """A problem+json answer with the given status."""
    tc.assertEqual(r.status, status, r)
    tc.assertEqual(r.header("Content-Type"), "application/problem+json")
    p = r.json
    for k in ("type", "title", "status", "detail", "instance"):
        tc.assertIn(k, p)
    tc.assertEqual(p["status"], status)
    return p

"""make bench: acctd's performance as ratios to baselines measured in the
same run, on the same machine (README "Performance" says what each row means).

Servers, all started once and measured interleaved (BENCH_RUNS rounds; every
figure is the median of the rounds, and the spread max/min is printed so the
noise of a shared machine shows):
  acctd   the daemon under test ($ACCTD_BIN), PBKDF2 at 600,000 iterations
  ping    tests/bench/ping.c: a bare civetweb server built from the same
          patched civetweb + mbedTLS (front stage, tickets), one handler
  nginx   Debian's nginx + OpenSSL, when installed (make bench installs it),
          `return 200` with the same body; same ECDSA P-256 certificate
Yardsticks run in the same rounds:
  ecbench tests/bench/ecbench.c: the mbedTLS math of a full handshake (one
          ephemeral ECDHE key pair + shared secret, one ECDSA P-256 signature)
  lmdbloop tests/bench/lmdbloop.c: one fsync'd LMDB commit per put, in a
          directory next to acctd's data_dir (same disk)
  hashlib Python's (OpenSSL's) PBKDF2-HMAC-SHA256, same iterations

Keep-alive rates are counted by the servers (acctd's /metrics counter,
ping's /count, nginx's stub_status) over BENCH_SECONDS once every wrk
connection is established, so the handshakes of the ramp do not dilute them.
No assertion anywhere: the numbers are for reading, `make test` has none.

Environment: BENCH_SECONDS (4), BENCH_RUNS (3), BENCH_BIN (the directory of
ping, ecbench, lmdbloop), BENCH_OUT (where bench.csv goes), BENCH_CONNS
("8,64,256,1024"), BENCH_ONLY (a comma-separated subset of the
sections keepalive, handshake, idle, write, login, flood, admin, push).

push: the push client's handshake (pushbench, push_tls.c's settings) against
a real acctd-agent, TLS 1.3 and 1.2, full and resumed: pushes/s and the
client's CPU per push, resumed / full in the same run.
"""
import csv
import hashlib
import http.client
import json
import os
import re
import resource
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "api"))
from harness import BIN, Daemon, cert_dir, conf_text, free_port  # noqa: E402

DURATION = float(os.environ.get("BENCH_SECONDS", "4"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
BENCH_BIN = os.environ.get("BENCH_BIN", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                     "..", "..", "build", "host", "bench"))
OUT = os.environ.get("BENCH_OUT", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                               "..", "..", "build", "bench"))
# a subset while working on one thing: "keepalive,handshake,idle,write,login,flood,admin,push"
ONLY = set(filter(None, os.environ.get("BENCH_ONLY", "").split(",")))
CONNS = [int(x) for x in os.environ.get("BENCH_CONNS", "8,64,256,1024").split(",")]
ITERATIONS = 600000
IDLE_CONNS = 1024
BODY = '{"status":"ok","version":"0.1.0"}'
# the authenticated reads of issue 12 point 4 (label, path, header, goal),
# compared with acctd's own /healthz at 8 connections
AUTHED = (("GET /api/v0/actor, cookie, 8 conns", "/api/v0/actor",
           "Cookie: %s", ">= 0.9 (point 4)"),
          ("GET /api/v0/actor, Bearer, 8 conns", "/api/v0/actor",
           "Authorization: Bearer %s", ">= 0.9 (point 4)"),
          ("GET /api/v0/user/admin/workspace, Bearer, 8 conns", "/api/v0/user/admin/workspace",
           "Authorization: Bearer %s", ">= 0.8 (point 4)"))

# PATCH /api/v0/user/admin with a new display name each time (one fsync'd
# commit each); the token is the admin's
PATCH_LUA = r"""
wrk.method = "PATCH"
wrk.headers["Content-Type"] = "application/json"
n = 0
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, '{"display_name":"bench ' .. n .. '"}')
end
"""
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


# --- the servers ---------------------------------------------------------------
def proc_cpu(pids):
    """utime + stime (s) of these processes, threads included."""
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total / os.sysconf("SC_CLK_TCK")


def proc_rss_anon(pids):
    """RssAnon (KiB) summed over these processes."""
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/status" % pid) as f:
                m = re.search(r"RssAnon:\s+(\d+) kB", f.read())
            total += int(m.group(1)) if m else 0
        except OSError:
            pass
    return total


def answered(port, skip=None, segs=5):
    """server-side connections on 127.0.0.1:port whose client has sent at
    least `segs` data segments: its ClientHello, its Finished and 3
    requests, so its handshake is over and it has had answers (wrk sends
    a request when the last was answered). A TCP connection is established
    long before its TLS handshake ends: at 1,024 connections the handshakes
    take seconds, and a rate counted then is the handshakes' (ss -i).
    skip: the client port of a connection not to count (the counter's)."""
    out = subprocess.run(["ss", "-tinH", "state", "established", "( sport = :%d )" % port],
                         capture_output=True, text=True).stdout
    n, peer = 0, None
    for line in out.splitlines():
        if not line[:1].isspace():
            peer = line.split()[-1].rsplit(":", 1)[-1]      # a socket's line
            continue
        m = re.search(r"data_segs_in:(\d+)", line)           # its details
        if m and int(m.group(1)) >= segs and peer != str(skip):
            n += 1
    return n


def established(port):
    """server-side established TCP connections on 127.0.0.1:port"""
    n = 0
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    p = line.split()
                    if p[3] == "01" and int(p[1].rsplit(":", 1)[1], 16) == port:
                        n += 1
        except OSError:
            pass
    return n


class Server:
    name = "?"
    port = 0
    cafile = None

    @property
    def url(self):
        return "https://127.0.0.1:%d" % self.port

    def pids(self):
        raise NotImplementedError

    def requests(self):
        """requests the server has answered so far (its own counter)"""
        raise NotImplementedError

    def get(self, path, headers=None):
        """GET over one kept-alive connection, opened before the load: a
        counter read during a burst of connects must not wait for a
        handshake behind a thousand others"""
        for attempt in (0, 1):
            if getattr(self, "_conn", None) is None:
                ctx = ssl.create_default_context(cafile=self.cafile)
                self._conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=30,
                                                         context=ctx)
            try:
                self._conn.request("GET", path, headers=headers or {})
                r = self._conn.getresponse()
                body = r.read()
                if r.status != 200:
                    raise SystemExit("bench: %s %s: %d" % (self.name, path, r.status))
                return body
            except (OSError, http.client.HTTPException):
                self._conn.close()
                self._conn = None
                if attempt:
                    raise

    def cpu(self):
        return proc_cpu(self.pids())

    def rss(self):
        return proc_rss_anon(self.pids())


class Acctd(Server):
    name = "acctd"

    def __init__(self, env=None):
        self.d = Daemon(env=env, extra={
            "log_level": "warn", "passwords": {"pbkdf2_iterations": ITERATIONS},
            # many attackers' addresses: the limiter never stops the flood
            "login": {"max_failures": 1000, "window": 1, "lockout": 1},
            "rate_limit": {"writes_per_minute": 60000, "writes_burst": 10000},
            # every bench connection comes from 127.0.0.1, and the idle
            # ones must stay open while RSS is read
            "http": {"threads": 32, "keepalive_timeout_ms": 60000,
                     "max_connections": 4096, "max_connections_per_address": 4096},
            # GET /api/v0/user/admin/workspace lists these: two the admin
            # owns, one it is a member of, one it is not in
            "nodes": [{"name": "node1", "url": "https://127.0.0.1:%d" % free_port(),
                       "cert": os.path.join(cert_dir(), "tls.crt")}],
            "workspaces": [{"handle": "w%d" % i, "owner": ("admin", "admin", "u1", "u2")[i],
                            "members": ["admin"] if i == 2 else [], "node": "node1",
                            "database": "db%d" % i, "port": 9100 + i} for i in range(4)]})
        self.d.start()
        self.port, self.cafile = self.d.port, self.d.cafile
        self.metrics_token = None

    def pids(self):
        return [self.d.proc.pid]

    def requests(self):
        body = self.get("/metrics", {"Authorization": "Bearer " + self.metrics_token})
        m = re.search(rb"\nacctd_http_requests_total (\d+)", body)
        if not m:
            raise SystemExit("bench: no acctd_http_requests_total in /metrics:\n%r" % body[:500])
        return int(m.group(1)) - 1      # not this request

    def stop(self):
        self.d.stop()
        self.d.cleanup()


class Ping(Server):
    name = "ping"

    def __init__(self, pem):
        self.port = free_port()
        self.cafile = os.path.join(cert_dir(), "tls.crt")
        self.proc = subprocess.Popen([os.path.join(BENCH_BIN, "ping"), str(self.port), pem,
                                      "32", "4096", "60000"], stdout=subprocess.PIPE)
        if self.proc.stdout.readline().strip() != b"ready":
            raise SystemExit("bench: ping did not start")

    def pids(self):
        return [self.proc.pid]

    def requests(self):
        return int(self.get("/count")) - 1

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(20)


NGINX_CONF = """
worker_processes 2;
worker_rlimit_nofile 8192;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
daemon off;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    keepalive_timeout 60s;
    keepalive_requests 1000000;
    ssl_session_cache shared:bench:10m;
    ssl_session_tickets on;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {crt};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        location = /nginx_status {{ stub_status; }}
        location / {{ default_type application/json; return 200 '{body}'; }}
    }}
}}
"""


class Nginx(Server):
    name = "nginx"

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="acctd-bench-nginx-")
        self.port = free_port()
        cd = cert_dir()
        self.cafile = os.path.join(cd, "tls.crt")
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(dir=self.dir, port=self.port, crt=self.cafile,
                                      key=os.path.join(cd, "tls.key"), body=BODY))
        self.proc = subprocess.Popen(["nginx", "-c", conf, "-p", self.dir],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise SystemExit("bench: nginx did not start: %s"
                                     % self.proc.stderr.read().decode(errors="replace"))
                time.sleep(0.05)

    def pids(self):
        pids = [self.proc.pid]
        try:
            with open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)) as f:
                pids += [int(x) for x in f.read().split()]
        except OSError:
            pass
        return pids

    def requests(self):
        m = re.search(rb"\n\s*\d+\s+\d+\s+(\d+)", self.get("/nginx_status"))
        return int(m.group(1)) - 1

    def stop(self):
        self.proc.send_signal(signal.SIGQUIT)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


# --- measurements ----------------------------------------------------------------
def wrk_args(conns, seconds, extra=()):
    threads = 2 if conns >= 2 else 1
    return ["wrk", "-t%d" % threads, "-c%d" % conns, "-d%ds" % max(1, round(seconds))] + list(extra)


def keepalive(srv, conns, path="/healthz", headers=()):
    """requests/s the server answered over DURATION with `conns` keep-alive
    connections, counted once every connection has been answered (its
    handshake is over) and the rate is steady; the note says when that did
    not happen within the ramp's time, or wrk saw connect errors"""
    extra = []
    for h in headers:
        extra += ["-H", h]
    ramp = 3 + conns * 0.01
    srv.requests()      # the counter's connection, before the load
    p = subprocess.Popen(wrk_args(conns, ramp + DURATION + 2, extra) + [srv.url + path],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        # the ramp: every connection's handshake done and answered, then
        # two 0.3 s windows at a steady rate
        deadline = time.monotonic() + ramp
        skip = srv._conn.sock.getsockname()[1] if getattr(srv, "_conn", None) else None
        ready = 0
        while time.monotonic() < deadline:
            ready = answered(srv.port, skip)
            if ready >= conns:
                break
            time.sleep(0.2)     # ss -i over 1,024 sockets is not free
        prev, last = 0, srv.requests()
        while time.monotonic() < deadline:
            time.sleep(0.3)
            cur = srv.requests()
            rate, last = cur - last - 1, cur
            if rate > 0 and prev > 0 and 0.8 < rate / prev < 1.25:
                break
            prev = rate
        r0, t0 = srv.requests(), time.monotonic()
        time.sleep(DURATION)
        r1, t1 = srv.requests(), time.monotonic()
    finally:
        out = p.communicate(timeout=ramp + DURATION + 60)[0]
    if "Non-2xx" in out or not re.search(r"Requests/sec", out):
        raise SystemExit("bench: wrk failed on %s %s:\n%s" % (srv.name, path, out))
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    notes = []
    if ready < conns:
        notes.append("counted during the ramp: %d of %d answered" % (ready, conns))
    if errs and int(errs.group(1)):
        notes.append("%s connect errors" % errs.group(1))
    note = "; ".join(notes)
    return (r1 - r0 - 1) / (t1 - t0), note


def wrk_rate(srv, conns, path, headers=(), script=None):
    """wrk's own requests/s (few connections: the ramp is negligible) and
    how many answers were not 2xx/3xx"""
    extra = []
    for h in headers:
        extra += ["-H", h]
    f = None
    if script:
        f = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
        f.write(script)
        f.close()
        extra += ["-s", f.name]
    try:
        out = subprocess.run(wrk_args(conns, DURATION, extra) + [srv.url + path],
                             capture_output=True, text=True, timeout=DURATION + 60).stdout
    finally:
        if f:
            os.unlink(f.name)
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not m:
        raise SystemExit("bench: wrk failed on %s:\n%s" % (path, out))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return float(m.group(1)), int(bad.group(1)) if bad else 0


def handshakes(srv, version, resume, group=None):
    """(handshakes/s, server CPU ms per handshake, share resumed) of new
    connections, each one GET /healthz, for DURATION seconds on 2 client
    threads (Python's OpenSSL)"""
    ctx = ssl.create_default_context(cafile=srv.cafile)
    ctx.minimum_version = ctx.maximum_version = version
    if group:
        ctx.set_ecdh_curve(group)
    stop = time.monotonic() + DURATION
    counts = []
    lock = threading.Lock()

    def one(session):
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as raw:
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

    one(None)
    cpu0, t0 = srv.cpu(), time.monotonic()
    threads = [threading.Thread(target=loop) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall, cpu = time.monotonic() - t0, srv.cpu() - cpu0
    n = sum(c[0] for c in counts)
    return n / wall, cpu * 1000 / n, sum(c[1] for c in counts) / n


def idle_rss(srv, n=IDLE_CONNS):
    """(RssAnon KiB before, after `n` idle keep-alive TLS connections that
    each made one request, KiB per connection)"""
    ctx = ssl.create_default_context(cafile=srv.cafile)
    before = srv.rss()
    socks = []
    session = None
    try:
        for _ in range(n):
            raw = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
            s = ctx.wrap_socket(raw, server_hostname="127.0.0.1", session=session)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while BODY.encode() not in data:
                b = s.recv(4096)
                if not b:
                    raise SystemExit("bench: %s closed an idle connection" % srv.name)
                data += b
            session = s.session
            socks.append(s)
        time.sleep(0.5)
        after = srv.rss()
        alive = established(srv.port)
    finally:
        for s in socks:
            s.close()
    if alive < n:
        raise SystemExit("bench: %s kept only %d of %d idle connections" % (srv.name, alive, n))
    return before, after, (after - before) / n


def ecbench(keyfile):
    out = subprocess.run([os.path.join(BENCH_BIN, "ecbench"), keyfile, "1"],
                         capture_output=True, text=True, check=True).stdout
    return {k: float(v) / 1000 for k, v in (line.split() for line in out.splitlines())}


class PushAgent:
    """a real acctd-agent for pushbench (its hook never runs: 404s)"""

    def __init__(self):
        root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
        self.dir = tempfile.mkdtemp(prefix="pushbench-")
        for name, cn in (("node", "node1"), ("client", "acctd")):
            subprocess.run([os.path.join(root, "tools", "mkcert.sh"),
                            os.path.join(self.dir, name), cn], check=True)
        self.port = free_port()
        conf = os.path.join(self.dir, "agent.conf")
        with open(conf, "w") as f:
            f.write(conf_text({
                "listen": "127.0.0.1:%d" % self.port,
                "tls": {"cert": self.path("node.crt"), "key": self.path("node.key")},
                "acctd_cert": self.path("client.crt"), "state_file": self.path("state"),
                "hook": "/bin/true", "log_level": "warn", "user": ""}))
        self.log = open(self.path("agent.log"), "w")
        self.proc = subprocess.Popen([os.path.join(os.path.dirname(BIN), "acctd-agent"),
                                      "-c", conf], stdout=subprocess.DEVNULL, stderr=self.log)
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise SystemExit("bench: acctd-agent did not start: %s" % open(self.path("agent.log")).read())

    def path(self, name):
        return os.path.join(self.dir, name)

    def run(self):
        """{mode: (pushes/s, client CPU us per push, agent CPU us per push, resumed share)}"""
        out = {}
        for mode in ("tls13-full", "tls13-resumed", "tls12-full", "tls12-resumed"):
            c0 = proc_cpu([self.proc.pid])
            line = subprocess.run(
                [os.path.join(BENCH_BIN, "pushbench"), "127.0.0.1", str(self.port),
                 self.path("node.crt"), self.path("client.crt"), self.path("client.key"),
                 str(DURATION), mode], capture_output=True, text=True, check=True).stdout.split()
            rate, cpu, share = float(line[1]), float(line[2]), float(line[3])
            agent = (proc_cpu([self.proc.pid]) - c0) / (rate * DURATION) * 1e6
            out[mode] = (rate, cpu, agent, share)
        return out

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(10)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def push_rows(R):
    ag = PushAgent()
    try:
        for mode, (rate, cpu, agent, share) in ag.run().items():
            R.add("push", mode, "rate", rate, "push/s")
            R.add("push", mode, "cpu", cpu / 1000, "ms")
            R.add("push", mode, "agent", agent / 1000, "ms")
            R.add("push", mode, "share", share * 100, "%")
    finally:
        ag.stop()


def lmdb_ceiling(datadir):
    d = tempfile.mkdtemp(prefix="lmdbloop-", dir=os.path.dirname(datadir))
    try:
        out = subprocess.run([os.path.join(BENCH_BIN, "lmdbloop"), d, str(DURATION)],
                             capture_output=True, text=True, check=True).stdout
        return float(out)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def login_ms(a, pw):
    c = a.d.client()
    times = []
    for _ in range(3):
        c.cookies.clear()
        t0 = time.monotonic()
        r = c.post("/api/v0/login", {"handle": "admin", "password": pw})
        times.append(time.monotonic() - t0)
        if r.status != 200:
            raise SystemExit("bench: sign-in failed: %r" % r)
    c.close()
    return statistics.median(times) * 1000


def hashlib_ms():
    t0 = time.process_time()
    hashlib.pbkdf2_hmac("sha256", b"correct horse battery staple", b"0123456789abcdef", ITERATIONS)
    return (time.process_time() - t0) * 1000


def healthz_probe(srv, seconds, every=0.005):
    """(p99 ms, p50 ms) of GET /healthz sent one at a time on one kept-alive
    connection, one every `every` s (the next at once when one took longer):
    a client's view of the server, which does not load it (a wrk run that
    saturates both cores measures its own queueing, not the server's idle
    latency)"""
    ctx = ssl.create_default_context(cafile=srv.cafile)
    c = http.client.HTTPSConnection("127.0.0.1", srv.port, timeout=30, context=ctx)
    lat = []
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            t0 = time.monotonic()
            c.request("GET", "/healthz")
            r = c.getresponse()
            r.read()
            if r.status != 200:
                raise SystemExit("bench: /healthz probe: %d" % r.status)
            dt = time.monotonic() - t0
            lat.append(dt * 1000)
            if dt < every:
                time.sleep(every - dt)
    finally:
        c.close()
    lat.sort()
    return lat[min(len(lat) - 1, int(len(lat) * 0.99))], lat[len(lat) // 2]


def flood(a):
    """/healthz p99 (healthz_probe) idle, then during a flood of failing
    sign-ins on 64 connections."""
    quiet = healthz_probe(a, DURATION)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(FLOOD_LUA)
    try:
        fl = subprocess.Popen(wrk_args(64, DURATION + 2, ["-s", f.name]) + [a.url + "/api/v0/login"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(1)
        busy = healthz_probe(a, DURATION)
        out = fl.communicate(timeout=DURATION + 60)[0]
    finally:
        os.unlink(f.name)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return quiet, busy, float(rps.group(1)) if rps else 0.0


def admin_paths(n):
    """The admin paths of issue 12 point 6 on a store with n users, provisioned
    by `acctd import` into a fresh daemon (10 of them admins, 4 workspaces so a
    reload has membership to resync). Medians of 7 (latencies, ms):
    disabling (and enabling) an admin, a PATCH sent 50 ms after a SIGHUP that
    moves 200 imported users into a workspace and 200 out, and
    the rate of 40 admin user creations one after another (users/s)."""
    ws = [{"handle": "w%d" % i, "owner": "u%06d" % i, "members": ["u%06d" % (i + 1)],
           "node": "node1", "database": "db%d" % i, "port": 9100 + i} for i in range(4)]
    d = Daemon(extra={"nodes": [{"name": "node1", "url": "https://127.0.0.1:%d" % free_port(),
                                 "cert": os.path.join(cert_dir(), "tls.crt")}],
                      "workspaces": ws, "log_level": "warn",
                      "map_size_mb": 2048, "audit": {"capacity": 400000}})
    users = os.path.join(d.dir, "users.jsonl")
    with open(users, "w") as f:
        for i in range(n):
            u = {"handle": "u%06d" % i, "email": "u%06d@example.com" % i}
            if i < 10:
                u["role"] = "admin"
            f.write(json.dumps(u) + "\n")
    d.start()
    try:
        subprocess.run([BIN, "import", "-c", d.conf, users], check=True,
                       capture_output=True, timeout=600)
        c = d.client()
        pw = open(d.settings["bootstrap_admin"]["password_file"]).read().strip()
        r = c.post("/api/v0/login", {"handle": "admin", "password": pw})
        c.csrf = r.json["csrf_token"]

        def ms(method, path, body=None, want=200):
            t0 = time.monotonic()
            r = c.request(method, path, body=body)
            if r.status != want:
                raise RuntimeError("%s %s: %r" % (method, path, r))
            return (time.monotonic() - t0) * 1000

        dis, hup = [], []
        for k in range(7):
            dis.append(ms("POST", "/api/v0/admin/user/u000003/disable"))
            ms("POST", "/api/v0/admin/user/u000003/enable")
            # a reload that moves 200 imported users into workspace w0 (their
            # SCRAM verifiers are computed then) and 200 out
            d.settings["workspaces"][0]["members"] = [
                "u%06d" % (10 + (200 * k + j) % (n - 10)) for j in range(200)]
            d.write_conf()
            d.proc.send_signal(signal.SIGHUP)
            time.sleep(0.05)
            hup.append(ms("PATCH", "/api/v0/user/admin", {"display_name": "after HUP %d" % k}))
            time.sleep(0.5)
        t0 = time.monotonic()
        for k in range(40):
            ms("POST", "/api/v0/admin/user", {"handle": "new%d-%d" % (n, k),
                                             "email": "new%d@example.com" % k}, want=201)
        rate = 40 / (time.monotonic() - t0)
        c.close()
        return statistics.median(dis), statistics.median(hup), rate
    finally:
        d.stop()
        d.cleanup()


def admin_100k():
    """{row: (value at 100 k, unit, value at 1 k)} for the report"""
    small, big = admin_paths(1000), admin_paths(100000)
    return {"admin disables an admin": (big[0], "ms", small[0]),
            "PATCH just after SIGHUP": (big[1], "ms", small[1]),
            "admin creates users": (big[2], "users/s", small[2])}


# --- the table ---------------------------------------------------------------------
class Results:
    """values per (section, row, server) across rounds; medians at the end"""

    def __init__(self):
        self.v = {}
        self.order = []
        self.notes = {}

    def add(self, section, row, server, value, unit):
        k = (section, row, server)
        if k not in self.v:
            self.v[k] = ([], unit)
            self.order.append(k)
        self.v[k][0].append(value)

    def med(self, section, row, server):
        k = (section, row, server)
        return statistics.median(self.v[k][0]) if k in self.v and self.v[k][0] else None

    def spread(self, k):
        vals = self.v[k][0]
        lo = min(vals)
        return max(vals) / lo if lo > 0 else float("nan")


def fmt(x, unit):
    if x is None:
        return "-"
    if unit in ("ms", "KiB", "x"):
        return "%.2f" % x if abs(x) < 10 else "%.1f" % x if abs(x) < 100 else "%.0f" % x
    return "%.0f" % x


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 16384:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(hard, 16384), hard), hard))
    os.makedirs(OUT, exist_ok=True)
    cd = cert_dir()
    keyfile = os.path.join(cd, "tls.key")
    pem = os.path.join(cd, "tls.pem")
    with open(pem, "w") as f:
        f.write(open(os.path.join(cd, "tls.crt")).read() + open(keyfile).read())
    os.chmod(pem, 0o600)

    a = Acctd()
    servers = [a, Ping(pem)]
    if shutil.which("nginx"):
        servers.append(Nginx())
    R = Results()
    try:
        cookie, pw = admin_sign_in(a)
        bearer = "Authorization: Bearer " + a.metrics_token

        for rnd in range(RUNS):
            print("bench: round %d of %d" % (rnd + 1, RUNS), file=sys.stderr, flush=True)
            # keep-alive: every count on every server, interleaved
            for n in (CONNS if want("keepalive") else ()):
                for s in servers:
                    rps, note = keepalive(s, n)
                    R.add("keepalive", "GET /healthz, %d conns" % n, s.name, rps, "req/s")
                    if note:
                        R.notes[("keepalive", "GET /healthz, %d conns" % n, s.name)] = note
            for label, path, h, _ in () if not want("keepalive") else AUTHED:
                rps, _ = keepalive(a, 8, path, [h % (cookie if h.startswith("Cookie") else a.metrics_token)])
                R.add("keepalive", label, "acctd", rps, "req/s")
            # handshakes and their math
            math = ecbench(keyfile) if want("handshake") else {}
            for k, v in math.items():
                R.add("math", k, "mbedtls", v, "ms")
            for vname, v in (("1.3", ssl.TLSVersion.TLSv1_3), ("1.2", ssl.TLSVersion.TLSv1_2)):
                if not want("handshake"):
                    break
                for kind, resume, group in (("full X25519", False, None),
                                            ("full P-256", False, "prime256v1"),
                                            ("resumed", True, None)):
                    for s in servers:
                        if group and s.name != "acctd":
                            continue
                        hs, cpu, share = handshakes(s, v, resume, group)
                        row = "TLS %s %s" % (vname, kind)
                        R.add("handshake", row, s.name, hs, "conn/s")
                        R.add("handshake-cpu", row, s.name, cpu, "ms")
                        if resume:
                            R.add("handshake-resumed", row, s.name, share * 100, "%")
            # idle connections' memory, on fresh servers: a process that
            # has served the keep-alive runs keeps their freed memory
            for make in ((lambda: Acctd(), lambda: Ping(pem))
                         + ((lambda: Nginx(),) if len(servers) > 2 else ())
                         if want("idle") else ()):
                s = make()
                try:
                    before, after, per = idle_rss(s)
                finally:
                    s.stop()
                R.add("idle", "RssAnon, no connections", s.name, before, "KiB")
                R.add("idle", "RssAnon, %d idle TLS conns" % IDLE_CONNS, s.name, after, "KiB")
                R.add("idle", "per idle TLS connection", s.name, per, "KiB")
            # fsync'd mutations vs the disk's one-commit ceiling
            if want("write"):
                write_rows(R, a, bearer)
            if want("login"):
                R.add("login", "POST /api/v0/login (%d it.)" % ITERATIONS, "acctd", login_ms(a, pw), "ms")
                R.add("login", "PBKDF2-HMAC-SHA256 %d it." % ITERATIONS, "hashlib", hashlib_ms(), "ms")
            if want("push"):
                push_rows(R)
            if want("flood"):
                quiet, busy, frps = flood(a)
                R.add("flood", "GET /healthz p99, idle", "acctd", quiet[0], "ms")
                R.add("flood", "GET /healthz p99, 64-conn sign-in flood", "acctd", busy[0], "ms")
                R.add("flood", "  the flood's sign-ins (401/503)", "acctd", frps, "req/s")
        admin = admin_100k() if want("admin") else {}
    finally:
        for s in servers:
            s.stop()
    report(R, [s.name for s in servers], admin)


def want(section):
    return not ONLY or section in ONLY


def admin_sign_in(a):
    """the admin's session cookie and password; a.metrics_token: an API token"""
    c = a.d.client()
    pw = open(os.path.join(a.d.dir, "data", "admin.password")).read().strip()
    r = c.post("/api/v0/login", {"handle": "admin", "password": pw})
    assert r.status == 200, r
    c.csrf = r.json["csrf_token"]
    cookie = "__Host-acctd_session=" + c.cookies["__Host-acctd_session"]
    a.metrics_token = c.post("/api/v0/user/admin/token", {"title": "bench"}).json["token"]
    c.close()
    return cookie, pw


def store_counts(a):
    """(changes, synced commits) so far, from /metrics"""
    body = a.get("/metrics", {"Authorization": "Bearer " + a.metrics_token}).decode()
    got = dict(re.findall(r"^acctd_store_(changes|commits)_total (\d+)$", body, re.M))
    return int(got["changes"]), int(got["commits"])


def patch_rows(R, a, name):
    """PATCH/s of 32 clients and the mean changes per synced commit"""
    row = "PATCH /api/v0/user/admin, 32 clients"
    before = store_counts(a)
    rps, bad = wrk_rate(a, 32, "/api/v0/user/admin",
                        ["Authorization: Bearer " + a.metrics_token], PATCH_LUA)
    after = store_counts(a)
    R.add("write", row, name, rps, "req/s")
    if bad:
        R.notes[("write", row, name)] = "%d non-2xx" % bad
    if after[1] > before[1]:
        R.add("write-batch", row, name, (after[0] - before[0]) / (after[1] - before[1]), "x")


def write_rows(R, a, bearer):
    """fsync'd mutations vs the disk's one-commit ceiling, and the same
    request path with commits not synced (ACCTD_TEST_NOSYNC): its CPU limit
    on this machine"""
    patch_rows(R, a, "acctd")
    R.add("write", "LMDB one-put fsync'd commits", "lmdbloop",
          lmdb_ceiling(a.d.settings["data_dir"]), "commit/s")
    n = Acctd(env={"ACCTD_TEST_NOSYNC": "1"})
    try:
        admin_sign_in(n)
        patch_rows(R, n, "acctd-nosync")
    finally:
        n.stop()


def report(R, names, admin):
    rows = []   # (section, what, value, unit, baseline name, baseline, ratio, goal, spread)

    def row(section, what, value, unit, bname="", base=None, goal="", spread=None, ratio=None):
        if value is None and ratio is None:
            return      # a section left out (BENCH_ONLY)
        if ratio is None and value is not None and base:
            ratio = value / base
        rows.append((section, what, value, unit, bname, base, ratio, goal, spread))

    def sp(section, r, server):
        k = (section, r, server)
        return R.spread(k) if k in R.v else None

    ka8 = "GET /healthz, 8 conns"
    for n in CONNS:
        r = "GET /healthz, %d conns" % n
        for s in names:
            v = R.med("keepalive", r, s)
            row("keep-alive", "%s: %s" % (s, r), v, "req/s", "%s 8 conns" % s,
                R.med("keepalive", ka8, s), "acctd >= 0.9" if s == "acctd" and n > 8 else "",
                sp("keepalive", r, s))
        for s in names:
            if s != "acctd":
                if R.med("keepalive", r, s):
                    row("keep-alive", "acctd / %s: %s" % (s, r), None, "", s, None, "", None,
                        ratio=R.med("keepalive", r, "acctd") / R.med("keepalive", r, s))
    for r, _, _, goal in AUTHED:
        row("keep-alive", "acctd: " + r, R.med("keepalive", r, "acctd"), "req/s",
            "acctd /healthz 8", R.med("keepalive", ka8, "acctd"), goal,
            sp("keepalive", r, "acctd"))

    for k in ("ecdhe-x25519-psa", "ecdhe-p256-psa", "ecdhe-x25519", "ecdhe-p256", "ecdsa-p256-sign"):
        row("handshake math", "mbedTLS " + k, R.med("math", k, "mbedtls"), "ms", spread=sp("math", k, "mbedtls"))
    sign = R.med("math", "ecdsa-p256-sign", "mbedtls")
    maths = {"TLS 1.3 full X25519": ("ecdhe-x25519-psa", "X25519+ECDSA"),
             "TLS 1.3 full P-256": ("ecdhe-p256-psa", "P-256+ECDSA"),
             "TLS 1.2 full X25519": ("ecdhe-x25519", "X25519+ECDSA"),
             "TLS 1.2 full P-256": ("ecdhe-p256", "P-256+ECDSA")}
    for v in ("1.3", "1.2"):
        for kind in ("full X25519", "full P-256", "resumed"):
            r = "TLS %s %s" % (v, kind)
            for s in names:
                hs = R.med("handshake", r, s)
                if hs is None:
                    continue
                cpu = R.med("handshake-cpu", r, s)
                full = "TLS %s full X25519" % v
                if kind == "resumed":
                    row("handshakes", "%s: %s conn/s" % (s, r), hs, "conn/s", "%s full" % s,
                        R.med("handshake", full, s), ">= 5" if s == "acctd" else "", sp("handshake", r, s))
                    row("handshakes", "%s: %s CPU/hs (%.0f%% resumed)" % (
                        s, r, R.med("handshake-resumed", r, s)), cpu, "ms", "%s full CPU/hs" % s,
                        R.med("handshake-cpu", full, s), "", sp("handshake-cpu", r, s),
                        ratio=(R.med("handshake-cpu", full, s) / cpu) if cpu else None)
                else:
                    row("handshakes", "%s: %s conn/s" % (s, r), hs, "conn/s", "", None, "",
                        sp("handshake", r, s))
                    mk, mname = maths[r]
                    m = R.med("math", mk, "mbedtls") + sign if sign else None
                    row("handshakes", "%s: %s CPU/hs" % (s, r), cpu, "ms", "mbedTLS " + mname, m,
                        "<= 1.3" if s == "acctd" else "", sp("handshake-cpu", r, s))

    for s in names:
        for r in ("RssAnon, no connections", "RssAnon, %d idle TLS conns" % IDLE_CONNS,
                  "per idle TLS connection"):
            row("memory", "%s: %s" % (s, r), R.med("idle", r, s), "KiB", spread=sp("idle", r, s))

    w = R.med("write", "PATCH /api/v0/user/admin, 32 clients", "acctd")
    ceil = R.med("write", "LMDB one-put fsync'd commits", "lmdbloop")
    row("writes", "acctd: fsync'd PATCH, 32 clients", w, "req/s", "LMDB one-commit loop", ceil,
        ">= 3 (point 3)", sp("write", "PATCH /api/v0/user/admin, 32 clients", "acctd"))
    row("writes", "lmdbloop: one put per fsync'd commit", ceil, "commit/s",
        spread=sp("write", "LMDB one-put fsync'd commits", "lmdbloop"))
    row("writes", "acctd: changes per synced commit (mean)",
        R.med("write-batch", "PATCH /api/v0/user/admin, 32 clients", "acctd"), "x")
    row("writes", "acctd, commits not synced: PATCH, 32 clients (CPU limit)",
        R.med("write", "PATCH /api/v0/user/admin, 32 clients", "acctd-nosync"), "req/s",
        "LMDB one-commit loop", ceil, "",
        sp("write", "PATCH /api/v0/user/admin, 32 clients", "acctd-nosync"))
    lg = R.med("login", "POST /api/v0/login (%d it.)" % ITERATIONS, "acctd")
    hl = R.med("login", "PBKDF2-HMAC-SHA256 %d it." % ITERATIONS, "hashlib")
    row("login", "acctd: POST /api/v0/login, %d it." % ITERATIONS, lg, "ms", "hashlib PBKDF2", hl,
        "<= 1.2 (point 5)", sp("login", "POST /api/v0/login (%d it.)" % ITERATIONS, "acctd"))
    row("login", "hashlib: PBKDF2-HMAC-SHA256, %d it." % ITERATIONS, hl, "ms")
    q = R.med("flood", "GET /healthz p99, idle", "acctd")
    row("flood", "acctd: /healthz p99, idle (paced probe)", q, "ms")
    row("flood", "acctd: /healthz p99, 64-conn sign-in flood", R.med("flood", "GET /healthz p99, 64-conn sign-in flood", "acctd"),
        "ms", "idle", q, "<= 5 (point 5)")
    row("flood", "acctd: the flood's sign-ins (401/503)", R.med("flood", "  the flood's sign-ins (401/503)", "acctd"),
        "req/s")
    for v in ("13", "12"):
        full, res = "tls%s-full" % v, "tls%s-resumed" % v
        used = " (what acctd uses)" if v == "13" else " (not used: no PFS)"
        name = "TLS 1.%s" % v[1]
        row("push", "%s full: pushes/s" % name, R.med("push", full, "rate"), "push/s")
        row("push", "%s resumed%s: pushes/s (%s%% resumed)" % (
            name, used, fmt(R.med("push", res, "share"), "x")), R.med("push", res, "rate"),
            "push/s", "full", R.med("push", full, "rate"), ">= 5" if v == "13" else "")
        row("push", "%s full: client CPU/push" % name, R.med("push", full, "cpu"), "ms")
        c = R.med("push", res, "cpu")
        row("push", "%s resumed: client CPU/push" % name, c, "ms", "full / resumed",
            R.med("push", full, "cpu"), "", ratio=(R.med("push", full, "cpu") / c) if c else None)
        row("push", "%s full: agent CPU/push" % name, R.med("push", full, "agent"), "ms")
        a = R.med("push", res, "agent")
        row("push", "%s resumed: agent CPU/push" % name, a, "ms", "full / resumed",
            R.med("push", full, "agent"), "", ratio=(R.med("push", full, "agent") / a) if a else None)
    for what, (v, unit, v1k) in admin.items():
        row("100 k-user admin paths", "acctd: %s, 100 k users" % what, v, unit, "1 k users", v1k,
            ">= 0.5 (point 6)" if unit != "ms" else "<= 2 (point 6)")
    print("\nmake bench: %d round(s) of %g s, medians; 'spread' is max/min over the rounds"
          % (RUNS, DURATION))
    section = None
    for (sec, what, value, unit, bname, base, ratio, goal, spread) in rows:
        if sec != section:
            section = sec
            print("\n%-58s %10s %-7s %8s %-8s %6s  %s" % ("[" + sec + "]", "value", "unit",
                                                         "ratio", "goal", "spread", "vs"))
        note = ""
        for k, n in R.notes.items():
            if k[2] + ": " + k[1] == what:
                note = "  (" + n + ")"
        print("%-58s %10s %-7s %8s %-8s %6s  %s%s" % (
            what, fmt(value, unit), unit, "%.2f" % ratio if ratio is not None else "",
            goal, "%.2f" % spread if spread else "", bname, note))
    path = os.path.join(OUT, "bench.csv")
    with open(path, "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(["section", "what", "value", "unit", "baseline", "baseline_value", "ratio",
                     "goal", "spread", "rounds", "seconds"])
        for (sec, what, value, unit, bname, base, ratio, goal, spread) in rows:
            wr.writerow([sec, what, "" if value is None else "%.4g" % value, unit, bname,
                         "" if base is None else "%.4g" % base,
                         "" if ratio is None else "%.3f" % ratio, goal,
                         "" if spread is None else "%.2f" % spread, RUNS, DURATION])
    stamp = time.strftime("%Y%m%d-%H%M%S")
    shutil.copy(path, os.path.join(OUT, "bench-%s.csv" % stamp))
    print("\nCSV: %s (and bench-%s.csv)" % (path, stamp))


if __name__ == "__main__":
    main()

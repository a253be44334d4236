"""Slow and silent clients (issue 9, finding 2): they must not hold workers.

civetweb used to give each connection a worker for its whole life, so
http.threads clients trickling their TLS handshake, headers or body stopped
/healthz. Now a front stage (docs/civetweb.md) handshakes and reads whole
requests before a worker sees them, cuts a request at its deadline or when it
sends too slowly, and caps connections per client address.

Every client here is on loopback; the slow ones run in bounded loops and stop
by themselves."""
import socket
import ssl
import statistics
import threading
import time
import unittest

from harness import Daemon, SANITIZED, TSAN

# healthz answer, seconds. A starved server misses it by the request
# deadline (10 s and more); a sanitized build on two busy cores can take a
# few seconds for one handshake, which is not starvation.
LIMIT = 5.0 if TSAN else 3.0 if SANITIZED else 1.0


def tls_ctx(d):
    return ssl.create_default_context(cafile=d.cafile)


def connect(d, src="127.0.0.1", timeout=5):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect(("127.0.0.1", d.port))
    return s


def healthz(d, src="127.0.0.1", timeout=5):
    """GET /healthz on a fresh TLS connection: (seconds, status or error)."""
    t0 = time.monotonic()
    try:
        s = connect(d, src, timeout)
        t = tls_ctx(d).wrap_socket(s, server_hostname="localhost")
        t.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while b"\r\n" not in data:
            chunk = t.recv(4096)
            if not chunk:
                break
            data += chunk
        t.close()
        status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else repr(data[:40])
    except (OSError, ssl.SSLError) as e:
        status = repr(e)
    return time.monotonic() - t0, status


def client_hello(d):
    """The bytes of a TLS ClientHello for this daemon."""
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = tls_ctx(d).wrap_bio(inc, out, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def closed_by_peer(sock):
    """True when the server has closed (EOF or reset), False on timeout."""
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                return True
            if data.startswith(b"HTTP/1.1 408"):
                return True
    except (ConnectionResetError, BrokenPipeError, ssl.SSLEOFError, ssl.SSLZeroReturnError):
        return True
    except (socket.timeout, ssl.SSLWantReadError):
        return False
    except (OSError, ssl.SSLError):
        return True


class Trickler:
    """One slow client, by kind, in a bounded loop: reconnects whenever the
    server cuts it, until stop is set. kinds:
      silent     TCP connected, nothing sent
      handshake  the ClientHello, one byte per interval
      headers    TLS up, then a request head one byte per interval
      body       TLS up, a whole head with Content-Length: 1000, then the
                 body one byte per interval"""

    def __init__(self, d, kind, stop, interval=1.0):
        self.d, self.kind, self.stop, self.interval = d, kind, stop, interval
        self.cuts = 0
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def _drip(self, send, data):
        for i in range(len(data)):
            if self.stop.wait(self.interval):
                return
            send(data[i:i + 1])

    def run(self):
        hello = client_hello(self.d) if self.kind == "handshake" else None
        deadline = time.monotonic() + 120
        while not self.stop.is_set() and time.monotonic() < deadline:
            s = None
            try:
                s = connect(self.d, timeout=10)
                if self.kind == "silent":
                    s.settimeout(0.5)
                    while not self.stop.is_set() and not closed_by_peer(s):
                        pass
                elif self.kind == "handshake":
                    self._drip(s.sendall, hello)
                else:
                    t = tls_ctx(self.d).wrap_socket(s, server_hostname="localhost")
                    s = t
                    if self.kind == "headers":
                        self._drip(t.sendall, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: " + b"a" * 200)
                    else:
                        t.sendall(b"POST /api/v0/login HTTP/1.1\r\nHost: x\r\n"
                                  b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
                        self._drip(t.sendall, b"{" + b" " * 998 + b"}")
            except (OSError, ssl.SSLError):
                pass            # cut by the server: what it should do
            finally:
                if s is not None:
                    s.close()
            if not self.stop.is_set():
                self.cuts += 1
                time.sleep(0.05)


def probe(d, seconds, every=0.4):
    """healthz from fresh connections for a while: list of (latency, status)."""
    out = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        out.append(healthz(d))
        time.sleep(every)
    return out


def summary(res):
    lat = sorted(t for t, _ in res)
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    return "n=%d p50=%.0fms p99=%.0fms max=%.0fms" % (
        len(lat), statistics.median(lat) * 1000, p99 * 1000, lat[-1] * 1000)


class SlowClients(unittest.TestCase):
    THREADS = 4

    def _under(self, kinds, per_kind):
        """per_kind slow clients of each kind, then healthz repeatedly."""
        with Daemon(extra={"log_level": "info",
                           "http": {"threads": self.THREADS, "request_timeout_ms": 30000}}) as d:
            stop = threading.Event()
            clients = [Trickler(d, k, stop) for k in kinds for _ in range(per_kind)]
            try:
                time.sleep(1.5)      # every slow client is connected and started
                res = probe(d, 5)
            finally:
                stop.set()
                for c in clients:
                    c.thread.join(15)
            print("\n  healthz beside %d x %s: %s" % (per_kind, "+".join(kinds), summary(res)))
            bad = [(round(t, 2), st) for t, st in res if st != 200 or t >= LIMIT]
            self.assertEqual(bad, [], "healthz slower than %.1fs or failed: %s" % (LIMIT, summary(res)))

    def test_each_kind_4x_threads(self):
        # 4 x http.threads clients of each kind (16 of each)
        self._under(["silent", "handshake"], 4 * self.THREADS)
        self._under(["headers", "body"], 4 * self.THREADS)

    def test_all_kinds_past_the_address_cap(self):
        # 4 x 16 slow clients and healthz, all from 127.0.0.1: past the
        # default per-address cap (64) the oldest waiting connection gives
        # way, so the health check from the same host still gets in
        self._under(["silent", "handshake", "headers", "body"], 4 * self.THREADS + 2)


class Deadlines(unittest.TestCase):
    def test_trickled_requests_are_cut(self):
        # request_timeout_ms 3000 is one deadline for handshake, head and
        # body; a byte a second is below the default min_rate (128 B/s)
        # and is cut once the 2 s grace is over; a client steady above the
        # rate but never done is cut at the deadline
        with Daemon(extra={"log_level": "info", "http": {"request_timeout_ms": 3000}}) as d:
            hello = client_hello(d)
            took = {}

            def timed(name, fn):
                s = connect(d, timeout=0.25)
                t0 = time.monotonic()
                try:
                    fn(s)
                    took[name] = time.monotonic() - t0
                except (OSError, ssl.SSLError):
                    took[name] = time.monotonic() - t0
                finally:
                    s.close()

            def drip(send, data, every, check):
                """send data in pieces every `every` s until the server cuts;
                raises when it does, returns after 10 s if it never does"""
                end = time.monotonic() + 10
                i = 0
                while time.monotonic() < end:
                    send(data[i:i + 1] if len(data) > i else b" ")
                    i += 1
                    t = time.monotonic() + every
                    while time.monotonic() < t:
                        if check():
                            raise ConnectionResetError("cut")
                raise AssertionError("never cut")

            def handshake(s):
                drip(s.sendall, hello, 1.0, lambda: closed_by_peer(s))

            def tls(s):
                s.settimeout(5)
                t = tls_ctx(d).wrap_socket(s, server_hostname="localhost")
                t.settimeout(0.25)
                return t

            def headers(s):
                t = tls(s)
                drip(t.sendall, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * 100, 1.0,
                     lambda: closed_by_peer(t))

            def body(s):
                t = tls(s)
                t.sendall(b"POST /api/v0/login HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
                drip(t.sendall, b"{" + b" " * 998, 1.0, lambda: closed_by_peer(t))

            def steady_body(s):
                # 64 bytes every 0.25 s = 256 B/s, above min_rate, for ever
                t = tls(s)
                t.sendall(b"POST /api/v0/login HTTP/1.1\r\nHost: x\r\nContent-Length: 60000\r\n\r\n")
                end = time.monotonic() + 10
                while time.monotonic() < end:
                    t.sendall(b" " * 64)
                    if closed_by_peer(t):
                        raise ConnectionResetError("cut")
                raise AssertionError("never cut")

            kinds = {"handshake": handshake, "headers": headers, "body": body,
                     "steady_body": steady_body}
            ts = [threading.Thread(target=timed, args=(k, f)) for k, f in kinds.items()]
            for t in ts:
                t.start()
            for t in ts:
                t.join(30)
            print("\n  cut after: " + ", ".join("%s %.1fs" % kv for kv in sorted(took.items())))
            slack = 3.0 if (SANITIZED or TSAN) else 1.5
            for k in ("handshake", "headers", "body"):
                # min_rate: before the deadline
                self.assertLess(took.get(k, 99), 3.0 + slack, "%s: %r" % (k, took))
            # the deadline, not later
            self.assertLess(took.get("steady_body", 99), 3.0 + slack, took)
            self.assertGreater(took.get("steady_body", 0), 2.5, took)
            self.assertEqual(healthz(d)[1], 200)


class IdleKeepAlive(unittest.TestCase):
    def test_idle_keepalive_connections_hold_no_worker(self):
        # 16 keep-alive connections, each after one request, idle for a
        # long keep-alive timeout, beside 4 workers: newcomers are answered,
        # and the idle connections still work afterwards
        with Daemon(extra={"log_level": "info",
                           "http": {"threads": 4, "keepalive_timeout_ms": 30000}}) as d:
            conns = []
            for _ in range(16):
                t = tls_ctx(d).wrap_socket(connect(d), server_hostname="localhost")
                t.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                data = t.recv(4096)
                self.assertTrue(data.startswith(b"HTTP/1.1 200"), data)
                self.assertIn(b"Connection: keep-alive", data)
                conns.append(t)
            res = [healthz(d) for _ in range(5)]
            self.assertEqual([st for _, st in res], [200] * 5, res)
            self.assertLess(max(t for t, _ in res), LIMIT, summary(res))
            for t in conns:
                t.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertTrue(t.recv(4096).startswith(b"HTTP/1.1 200"))
                t.close()


class PerAddressCap(unittest.TestCase):
    @staticmethod
    def _healthz_soon(d):
        """healthz, retried for 2 s while the place of a connection that
        was just closed is still taken"""
        end = time.monotonic() + 2
        while True:
            st = healthz(d)[1]
            if st == 200 or time.monotonic() > end:
                return st
            time.sleep(0.05)

    def test_the_oldest_waiting_connection_gives_way(self):
        with Daemon(extra={"http": {"max_connections_per_address": 4}}) as d:
            held = []
            for _ in range(4):
                held.append(tls_ctx(d).wrap_socket(connect(d), server_hostname="localhost"))
                time.sleep(0.05)
            # a fifth from 127.0.0.1 is served: the oldest idle one gave way
            took, st = healthz(d)
            self.assertEqual(st, 200)
            held[0].settimeout(2)
            self.assertEqual(held[0].recv(1), b"", "the oldest connection was not closed")
            # the others are still open and serve a request
            for t in held[1:]:
                t.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                t.settimeout(5)
                self.assertTrue(t.recv(64).startswith(b"HTTP/1.1 200"))
            # another address never gives way for this one
            held = [tls_ctx(d).wrap_socket(connect(d, src="127.0.0.2"),
                                           server_hostname="localhost") for _ in range(4)]
            for _ in range(6):
                self.assertEqual(self._healthz_soon(d), 200)
            for t in held:
                t.settimeout(0.2)
                try:
                    self.assertNotEqual(t.recv(1), b"", "127.0.0.2 lost a connection")
                except (socket.timeout, ssl.SSLError, TimeoutError):
                    pass          # still open, nothing to read: right
                t.close()


if __name__ == "__main__":
    unittest.main()

"""Concurrent TLS handshakes (issue 9, finding 6).

civetweb shares one mbedTLS configuration, DRBG and server key between its
threads; mbedTLS is built with MBEDTLS_THREADING_C. Handshake steps run on
the workers, one step at a time whenever the client's bytes are there, and
the front stage only waits (docs/civetweb.md). Here 16 clients handshake at
once, beside 4 workers, and only then send their requests: no handshake may
hold a worker while its client is silent, and every request is answered. Under `make SANITIZE=thread` the harness fails the test
on any ThreadSanitizer report (tests/api/harness.py)."""
import socket
import ssl
import threading
import unittest

from harness import Daemon, SANITIZED, TSAN

CLIENTS = 16
ROUNDS = 3
WAIT = 20.0 if (SANITIZED or TSAN) else 5.0


class ConcurrentHandshakes(unittest.TestCase):
    def test_16_concurrent_handshakes_then_requests(self):
        with Daemon(extra={"log_level": "info", "http": {"threads": 4}}) as d:
            ctx = ssl.create_default_context(cafile=d.cafile)
            for rnd in range(ROUNDS):
                # every client's handshake completes before any request is sent
                barrier = threading.Barrier(CLIENTS, timeout=WAIT)
                results = [None] * CLIENTS

                def client(i):
                    try:
                        s = socket.create_connection(("127.0.0.1", d.port), timeout=WAIT)
                        t = ctx.wrap_socket(s, server_hostname="localhost")
                        barrier.wait()
                        t.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                        data = t.recv(4096)
                        results[i] = data.split(b"\r\n", 1)[0]
                        t.close()
                    except (OSError, ssl.SSLError, threading.BrokenBarrierError) as e:
                        results[i] = repr(e)

                ts = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
                for t in ts:
                    t.start()
                for t in ts:
                    t.join(WAIT * 3)
                self.assertEqual(results, [b"HTTP/1.1 200 OK"] * CLIENTS, "round %d" % rnd)


if __name__ == "__main__":
    unittest.main()

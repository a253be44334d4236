"""The embedded admin page: served at / and /assets/…, strict CSP, ETags."""
import re
import unittest

from harness import Daemon


class Page(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon().start()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.d.cleanup()

    def test_index(self):
        r = self.d.client().get("/")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Type"), "text/html; charset=utf-8")
        csp = r.header("Content-Security-Policy")
        self.assertIn("default-src 'self'", csp)
        self.assertIn("script-src 'self'", csp)
        self.assertNotIn("unsafe-inline", csp)
        self.assertIn("frame-ancestors 'none'", csp)
        html = r.body.decode()
        self.assertNotRegex(html, r"<script>|<script [^>]*>[^<]+</script>|style=")
        for ref in re.findall(r'(?:src|href)="([^"#][^"]*)"', html):
            self.assertTrue(ref.startswith("/"), "external reference " + ref)
            self.assertEqual(self.d.client().get(ref).status, 200, ref)

    def test_assets_types_and_etag(self):
        c = self.d.client()
        r = c.get("/assets/app.js")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Type"), "text/javascript; charset=utf-8")
        etag = r.header("ETag")
        self.assertRegex(etag, r'^"[0-9a-f]{16}"$')
        r2 = c.get("/assets/app.js", headers={"If-None-Match": etag})
        self.assertEqual(r2.status, 304)
        self.assertEqual(r2.body, b"")
        self.assertEqual(c.get("/assets/app.css").header("Content-Type"), "text/css; charset=utf-8")

    def test_unknown_asset_404(self):
        r = self.d.client().get("/assets/nope.js")
        self.assertEqual(r.status, 404)
        r = self.d.client().get("/assets/../acctd.conf")
        self.assertEqual(r.status, 404)


if __name__ == "__main__":
    unittest.main()

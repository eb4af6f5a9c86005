"""Early refusals that stock clients can read: Debian 12's curl 7.88 uploads a 4 MB photo that the
gateway refuses before it has read the body (a bad clave 400, unsigned 401, a clave the device is
not enrolled for 403, too large 413, not a JPEG 415) and must still get the status and the problem
document, and so must Chromium's fetch. The gateway reads and drops the rest of a refused body up
to --refusal-drain and resets the stream only past it (docs/api.md, "Refusals before the body").
curl and prep-upload stop sending by themselves once the answer is in; nghttp goes on, and shows
the drain and its bound."""

import json
import os
import re
import subprocess
import tempfile
import time

from harness import (CLAVE, SignedTestCase, curl_request, nghttp_request, read_bytes,
                     upload_path)

BODY_BYTES = 4_000_000
E2E = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e")


class CurlRefusalTest(SignedTestCase):
    client = "curl-h2c"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # A real JPEG at the front, padded to 4 MB: what matters is that the body is long.
        head = read_bytes(os.path.join(cls.env.fixtures, "small", "ok_o1.jpg"))
        cls.big = os.path.join(cls.env.tmp, f"{cls.db}-4mb.jpg")
        with open(cls.big, "wb") as f:
            f.write(head + os.urandom(BODY_BYTES - len(head)))

    def curl_upload(self, clave=CLAVE, headers=(), content_type="image/jpeg", tls=False):
        hdrs = list(headers) + [f"Content-Type: {content_type}"]
        return curl_request(self.gw, "POST", upload_path(clave), self.big, hdrs, tls=tls)

    def logged(self, status):
        """req_bytes of every logged request answered with |status|, oldest first."""
        return [int(n) for n in re.findall(rf"msg=request .*?status={status} .*?req_bytes=(\d+)",
                                           self.gw.stderr_text())]

    def next_logged(self, status, before):
        """req_bytes of the first request with |status| logged after the |before| ones (a
        stream is logged when it closes, which may be a moment after the client is done)."""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            found = self.logged(status)
            if len(found) > before:
                return found[before]
            time.sleep(0.05)
        self.fail(f"no new request with status {status} in the gateway log")

    def assertReadable(self, r, status, problem):
        self.assertIn("curl exit 0", r.raw, f"curl failed: {r!r}")
        self.assertProblem(r, status, problem)
        self.assertEqual(r.headers.get("content-type"), "application/problem+json", r)

    def test_early_refusals_reach_curl(self):
        cases = [
            ("bad clave", dict(clave="140338X010002"), 400, "invalid-clave-acta"),
            ("unsigned", dict(), 401, "signature-required"),
            ("not a JPEG", dict(headers=self.headers(self.big), content_type="image/png"), 415,
             "unsupported-media-type"),
            ("clave not enrolled", dict(clave="140339B010002",
                                        headers=self.headers(self.big, clave="140339B010002")),
             403, "clave-not-enrolled"),
        ]
        for what, kw, status, problem in cases:
            for tls in (False, True):
                with self.subTest(refusal=what, tls=tls):
                    r = self.curl_upload(tls=tls, **kw)
                    self.assertReadable(r, status, problem)
        self.assertEqual(self.photo_rows(), 0)

    def test_too_large_reaches_curl(self):
        self.gw.stop()
        try:
            self.gw.start(extra_args=["--max-body", "1MiB"])
            r = self.curl_upload(headers=self.headers(self.big))
            self.assertReadable(r, 413, "payload-too-large")
        finally:
            self.gw.stop()
            self.gw.start(extra_args=[])

    def nghttp_unsigned(self):
        # nghttp, unlike curl, goes on sending its body after the answer.
        before = len(self.logged(401))
        r = nghttp_request(self.gw, upload_path(), self.big, ["content-type: image/jpeg"])
        self.assertProblem(r, 401, "signature-required")
        return self.next_logged(401, before)

    def test_refused_body_is_drained(self):
        # Within --refusal-drain (default 32 MiB) the rest of the body is read and dropped.
        self.assertEqual(self.nghttp_unsigned(), BODY_BYTES)

    def test_reset_past_the_drain_bound(self):
        # Past --refusal-drain the stream is reset (RFC 9113 section 8.1): the gateway stops
        # reading long before the 4 MB are in.
        self.gw.stop()
        try:
            self.gw.start(extra_args=["--refusal-drain", "256KiB"])
            self.assertLess(self.nghttp_unsigned(), 1_000_000)
        finally:
            self.gw.stop()
            self.gw.start(extra_args=[])

    def test_prep_upload_stops_sending(self):
        # Our own client reads the refusal and cancels the rest of its body itself.
        upload_bin = os.environ["PREP_UPLOAD"]
        state = tempfile.mkdtemp(prefix="prep-upload-", dir=self.env.tmp)
        p = subprocess.run([upload_bin, "enrol", "--code", self.new_code("140338B01*"),
                            "--server", self.gw.url(""), "--label", "L", "--state", state],
                           capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p)
        time.sleep(0.5)  # the new device reaches the gateway's copy
        before = len(self.logged(403))
        p = subprocess.run([upload_bin, "send", "--state", state, "--no-progress", "--json",
                            "--clave", "140339B010002", self.big], capture_output=True,
                           timeout=120)
        self.assertEqual(p.returncode, 1, p)
        self.assertIn(b"clave-not-enrolled", p.stdout, p)
        self.assertLess(self.next_logged(403, before), 1_000_000)

    def test_chromium_fetch_reads_refusals(self):
        pw_dir = self.browser()
        other = "140339B010002"
        signed = dict(h.split(": ", 1) for h in self.headers(self.big, clave=other))
        cases = [
            {"name": "bad clave", "path": upload_path("140338X010002"),
             "headers": {"content-type": "image/jpeg"}, "want": (400, "invalid-clave-acta")},
            {"name": "unsigned", "path": upload_path(),
             "headers": {"content-type": "image/jpeg"}, "want": (401, "signature-required")},
            {"name": "not enrolled", "path": upload_path(other),
             "headers": {**signed, "content-type": "image/jpeg"},
             "want": (403, "clave-not-enrolled")},
            {"name": "not a JPEG", "path": upload_path(),
             "headers": {**signed, "content-type": "text/plain"},
             "want": (415, "unsupported-media-type")},
        ]
        profile = tempfile.mkdtemp(prefix="chromium-", dir=self.env.tmp)
        p = subprocess.run(["node", os.path.join(E2E, "refusal.mjs"), self.gw.url("", tls=True),
                            self.big, json.dumps(cases), profile], capture_output=True,
                           timeout=180, env=dict(os.environ, HOME=profile))
        lines = p.stdout.decode(errors="replace").strip().splitlines()
        self.assertTrue(lines, f"no output (exit {p.returncode}): {p.stderr.decode()[-2000:]}")
        res = json.loads(lines[-1])
        self.assertTrue(res.get("ok"), res)
        got = {r["name"]: r for r in res["results"]}
        for c in cases:
            with self.subTest(refusal=c["name"]):
                r = got[c["name"]]
                status, problem = c["want"]
                self.assertEqual((r["status"], r.get("type")), (status, "/problems/" + problem),
                                 r)
                self.assertEqual(r.get("content_type"), "application/problem+json", r)

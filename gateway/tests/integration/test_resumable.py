"""Resumable uploads (draft-ietf-httpbis-resumable-upload-15) on the photo endpoint, with curl as
the client: the POST, HEAD and PATCH sequence of docs/api.md, an upload cut at about half and
resumed from the gateway's offset (also across a gateway restart), the offset mismatch, the
take-over of an upload still held by a stalled connection, cancellation, expiry, and refused
bytes that remove the upload."""

import hashlib
import json
import os
import re
import socket
import subprocess
import time

from harness import GatewayTestCase, SignedTestCase, curl_request, read_bytes, upload_path
from test_protocol import PREFACE, frame, frames_until, hpack_literal

UPLOAD_LOCATION = re.compile(r"^/v1/uploads/[0-9a-f]{32}$")


def data_of_stream(sock, stream_id, timeout=10.0):
    """The DATA payload the peer sends on |stream_id| until END_STREAM (or a reset, a close or
    |timeout|)."""
    sock.settimeout(0.2)
    buf, out = b"", b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        if not chunk:
            break
        buf += chunk
        while len(buf) >= 9 and len(buf) >= 9 + int.from_bytes(buf[:3], "big"):
            length, ftype, flags = int.from_bytes(buf[:3], "big"), buf[3], buf[4]
            sid = int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
            payload, buf = buf[9:9 + length], buf[9 + length:]
            if sid == stream_id and ftype == 0:
                out += payload
            if sid == stream_id and (ftype == 3 or (ftype == 0 and flags & 1)):
                return out
    return out


class ResumableTest(SignedTestCase):
    status_timeout = 30.0

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.photo = cls.env.gen_acta(seed=1501, width=4000, height=3000, noise=6)
        cls.data = read_bytes(cls.photo)

    def part_file(self, data, name):
        path = os.path.join(self.env.tmp, f"{self.id()}-{name}.bin")
        with open(path, "wb") as f:
            f.write(data)
        return path

    def create(self, data, sent, complete=False, src=None):
        """A signed POST of the first |sent| bytes of |data| (signed for all of |data|) with
        Upload-Complete and Upload-Length."""
        hdrs = self.headers(src or self.photo if data is self.data else data)
        hdrs += ["Content-Type: image/jpeg", f"Upload-Complete: ?{int(complete)}",
                 f"Upload-Length: {len(data)}"]
        return curl_request(self.gw, "POST", upload_path(), self.part_file(data[:sent], "head"),
                            hdrs)

    def head(self, location):
        return curl_request(self.gw, "HEAD", location)

    def append(self, location, data, offset, complete=True, offset_header=None):
        hdrs = ["Content-Type: application/partial-upload",
                f"Upload-Offset: {offset if offset_header is None else offset_header}",
                f"Upload-Complete: ?{int(complete)}"]
        return curl_request(self.gw, "PATCH", location, self.part_file(data[offset:], "tail"),
                            hdrs)

    def cut_post(self, rate, seconds):
        """curl POSTs the whole photo resumably (Upload-Complete: ?1) at |rate| bytes a second
        and is cut after |seconds|; returns its verbose stderr (the 104's Location is there)."""
        hdrs = self.headers(self.photo) + ["Content-Type: image/jpeg", "Upload-Complete: ?1",
                                           f"Upload-Length: {len(self.data)}"]
        cmd = ["curl", "-sS", "-v", "--http2-prior-knowledge", "--limit-rate", str(rate),
               "--max-time", str(seconds), "--data-binary", "@" + self.photo,
               self.gw.url(upload_path())]
        for h in hdrs:
            cmd += ["-H", h]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        self.assertNotEqual(p.returncode, 0, "the upload was meant to be cut")
        return p.stderr.decode(errors="replace")

    def uploads_dir(self):
        return os.path.join(self.data_dir, "spool", "uploads")

    def assertCompleted(self, r, data):
        self.assertIn(r.status, (200, 201), f"completing append: {r!r}")
        self.assertEqual(r.headers.get("upload-complete"), "?1", r.headers)
        receipt = r.json()
        self.assertEqual(receipt["sha256"], hashlib.sha256(data).hexdigest())
        self.assertEqual(receipt["bytes"], len(data))
        self.assertEqual(receipt["device"], self.device)
        return receipt

    def test_post_head_patch_sequence(self):
        half = len(self.data) // 2
        r = self.create(self.data, half)
        self.assertEqual(r.status, 201, f"creation with Upload-Complete: ?0: {r!r}")
        location = r.headers.get("location", "")
        self.assertRegex(location, UPLOAD_LOCATION)
        self.assertEqual(r.headers.get("upload-complete"), "?0")
        self.assertEqual(r.headers.get("upload-offset"), str(half))
        self.assertRegex(r.headers.get("upload-limit", ""), r"max-size=\d+, max-age=\d+")

        h = self.head(location)
        self.assertEqual(h.status, 204, f"HEAD: {h!r}")
        self.assertEqual(h.headers.get("upload-offset"), str(half))
        self.assertEqual(h.headers.get("upload-complete"), "?0")
        self.assertEqual(h.headers.get("upload-length"), str(len(self.data)))
        self.assertEqual(h.headers.get("cache-control"), "no-store")

        receipt = self.assertCompleted(self.append(location, self.data, half), self.data)
        self.wait_status(receipt["photo_id"], "queued")
        self.assertEqual(self.photo_rows(receipt["photo_id"]), 1)
        h = self.head(location)
        self.assertEqual((h.status, h.headers.get("upload-complete")), (204, "?1"), h)
        self.assertFalse(os.path.exists(os.path.join(self.uploads_dir(),
                                                     location[-32:] + ".part")),
                         "a completed upload's partial bytes are removed")
        # A completed upload takes no more bytes.
        r = self.append(location, self.data, len(self.data) - 10, offset_header=len(self.data))
        self.assertProblem(r, 400, "inconsistent-upload-length")

    def test_interrupted_post_resumes_from_the_offset(self):
        """curl sends the whole photo with Upload-Complete: ?1 and is cut at about half; the 104
        told it where the upload lives, HEAD gives the offset, PATCH sends the rest."""
        err = self.cut_post(2_000_000, len(self.data) / 2 / 2_000_000)
        self.assertRegex(err, r"< HTTP/2 104", f"curl saw no 104:\n{err[-2000:]}")
        location = re.search(r"< location: (\S+)", err).group(1)
        self.assertRegex(location, UPLOAD_LOCATION)

        h = self.head(location)
        self.assertEqual(h.status, 204, h)
        offset = int(h.headers["upload-offset"])
        self.assertGreater(offset, len(self.data) // 5, "the gateway kept what it received")
        self.assertLess(offset, len(self.data) * 4 // 5)
        receipt = self.assertCompleted(self.append(location, self.data, offset), self.data)
        self.wait_status(receipt["photo_id"], "queued")

    def test_slow_phone_keeps_what_it_sent(self):
        """A phone on a slow link sends less than a spool write batch (half a stream window)
        before its connection drops: the bytes it sent reached the disk anyway (the batch's
        flush timer), so it resumes from there rather than from zero."""
        rate = 20_000
        err = self.cut_post(rate, 3)
        location = re.search(r"< location: (\S+)", err).group(1)
        h = self.head(location)
        self.assertEqual(h.status, 204, h)
        offset = int(h.headers["upload-offset"])
        self.assertGreaterEqual(offset, rate, "what the slow phone sent was kept")
        self.assertLess(offset, 128 << 10, "less than a batch was sent")
        receipt = self.assertCompleted(self.append(location, self.data, offset), self.data)
        self.wait_status(receipt["photo_id"], "queued")

    def test_resumes_after_a_gateway_restart(self):
        third = len(self.data) // 3
        r = self.create(self.data, third)
        self.assertEqual(r.status, 201, r)
        location = r.headers["location"]
        self.gw.kill()
        self.gw.start()
        h = self.head(location)
        self.assertEqual(h.status, 204, f"the upload survives SIGKILL: {h!r}")
        self.assertEqual(h.headers.get("upload-offset"), str(third))
        receipt = self.assertCompleted(self.append(location, self.data, third), self.data)
        self.wait_status(receipt["photo_id"], "queued")
        self.assertEqual(self.photo_rows(receipt["photo_id"]), 1)

    def test_wrong_offset_is_409_with_the_right_one(self):
        data = read_bytes(self.env.gen_acta(seed=1502, width=1600, height=1200))
        src = self.part_file(data, "photo")
        r = self.create(data, 1000, src=src)
        self.assertEqual(r.status, 201, r)
        location = r.headers["location"]
        r = self.append(location, data, 500)
        self.assertProblem(r, 409, "mismatching-upload-offset")
        self.assertEqual(r.headers.get("upload-offset"), "1000")
        doc = r.json()
        self.assertEqual((doc.get("expected-offset"), doc.get("provided-offset")), (1000, 500))
        self.assertCompleted(self.append(location, data, 1000), data)

    def test_inconsistent_length_is_refused(self):
        data = read_bytes(self.env.gen_acta(seed=1503, width=1600, height=1200))
        src = self.part_file(data, "photo")
        r = self.create(data, 1000, src=src)
        location = r.headers["location"]
        r = curl_request(self.gw, "PATCH", location, self.part_file(data[1000:], "tail"),
                         ["Content-Type: application/partial-upload", "Upload-Offset: 1000",
                          "Upload-Complete: ?1", f"Upload-Length: {len(data) + 1}"])
        self.assertProblem(r, 400, "inconsistent-upload-length")

    def test_cancel_removes_the_upload(self):
        data = read_bytes(self.env.gen_acta(seed=1504, width=1600, height=1200))
        r = self.create(data, 5000, src=self.part_file(data, "photo"))
        location = r.headers["location"]
        token = location[-32:]
        self.assertTrue(os.path.exists(os.path.join(self.uploads_dir(), token + ".part")))
        r = curl_request(self.gw, "DELETE", location)
        self.assertEqual(r.status, 204, r)
        self.assertProblem(self.append(location, data, 5000), 404, "upload-not-found")
        self.assertEqual(self.head(location).status, 404)
        self.assertEqual([f for f in os.listdir(self.uploads_dir()) if f.startswith(token)], [])

    def test_expired_upload_is_gone(self):
        data = read_bytes(self.env.gen_acta(seed=1505, width=1600, height=1200))
        r = self.create(data, 5000, src=self.part_file(data, "photo"))
        token = r.headers["location"][-32:]
        state = os.path.join(self.uploads_dir(), token + ".json")
        with open(state) as f:
            doc = json.load(f)
        # As if it had been created more than --upload-expiry (a day) ago.
        doc["created"] -= 86400 + 1
        with open(state, "w") as f:
            json.dump(doc, f)
        h = self.head(r.headers["location"])
        self.assertEqual(h.status, 404, h)
        self.assertEqual([f for f in os.listdir(self.uploads_dir()) if f.startswith(token)], [])

    def test_digest_mismatch_removes_the_upload(self):
        data = read_bytes(self.env.gen_acta(seed=1506, width=1600, height=1200))
        other = bytearray(data)
        other[-100] ^= 0xFF  # inside the entropy-coded data: still a JPEG, other bytes
        r = self.create(data, 4000, src=self.part_file(data, "photo"))
        location = r.headers["location"]
        r = self.append(location, bytes(other), 4000)
        self.assertProblem(r, 400, "digest-mismatch")
        self.assertEqual(r.headers.get("upload-complete"), "?1")
        self.assertEqual(self.head(location).status, 404)

    def test_not_a_jpeg_is_refused_and_removed(self):
        junk = b"this is not a jpeg at all" * 400
        before = set(os.listdir(self.uploads_dir()))
        r = self.create(junk, 5000, src=self.part_file(junk, "junk"))
        self.assertProblem(r, 415, "unsupported-media-type")
        self.assertEqual(set(os.listdir(self.uploads_dir())) - before, set(),
                         "refused bytes leave no upload behind")

    def test_options_announce_partial_upload(self):
        r = curl_request(self.gw, "OPTIONS", upload_path())
        self.assertEqual(r.status, 204, r)
        self.assertEqual(r.headers.get("accept-patch"), "application/partial-upload")
        self.assertRegex(r.headers.get("upload-limit", ""), r"max-size=\d+")

    def test_stalled_connection_is_taken_over(self):
        """A phone's first connection dies silently mid-upload (it still looks open to the
        gateway); its next request takes the upload over at once, without waiting for the old
        one to time out, and the old stream can no longer write."""
        data = self.data
        hdrs = {k.lower(): v.strip() for k, v in (h.split(":", 1) for h in
                                                  self.headers(self.photo))}
        block = b"".join(hpack_literal(n, v) for n, v in [
            (":method", "POST"), (":scheme", "http"), (":authority", "localhost"),
            (":path", upload_path()), ("content-type", "image/jpeg"),
            ("content-length", str(len(data))), ("upload-complete", "?1"),
            ("upload-length", str(len(data))), *hdrs.items()])
        before = set(os.listdir(self.uploads_dir()))
        s = socket.create_connection(("127.0.0.1", self.gw.h2c_port), timeout=10)
        s.sendall(PREFACE + frame(4, 0, 0) + frame(1, 4, 1, block))
        seen, _ = frames_until(s, lambda t, fl, sid: t == 1 and sid == 1)  # the 104
        self.assertIn((1, 4, 1), seen, "no interim response on the first connection")
        sent, chunk = 0, 16384
        while sent < 40000:  # what the initial window lets in, then it stalls (we never ack)
            s.sendall(frame(0, 0, 1, data[sent:sent + chunk]))
            sent += chunk
        # The 104's Location, read from the spool rather than decoding HPACK here.
        new = [f for f in set(os.listdir(self.uploads_dir())) - before if f.endswith(".json")]
        self.assertEqual(len(new), 1, new)
        location = "/v1/uploads/" + new[0][:32]
        time.sleep(0.5)

        h = self.head(location)
        self.assertEqual(h.status, 204, h)
        offset = int(h.headers["upload-offset"])
        self.assertLessEqual(offset, sent)
        receipt = self.assertCompleted(self.append(location, data, offset), data)
        # The old stream's late bytes are refused, not appended.
        s.sendall(frame(0, 0, 1, data[sent:sent + chunk]))
        body = data_of_stream(s, 1)
        s.close()
        self.assertIn(b"/problems/upload-superseded", body,
                      "the old stream must be refused once the upload was taken over")
        self.wait_status(receipt["photo_id"], "queued")
        self.assertEqual(self.photo_rows(receipt["photo_id"]), 1)


class CurlDocTest(GatewayTestCase):
    """The curl sequence of docs/api.md, run as written (only PHOTO and GW changed)."""

    def test_docs_curl_sequence(self):
        with open(os.path.join(os.path.dirname(__file__), "..", "..", "..", "docs",
                               "api.md")) as f:
            doc = f.read()
        block = doc.split("<!-- resumable-curl:begin -->")[1].split("<!-- resumable-curl:end -->")[0]
        script = block.split("```sh\n", 1)[1].rsplit("```", 1)[0]
        self.assertTrue(script.startswith("PHOTO=acta.jpg GW=http://127.0.0.1:8080\n"), script)
        photo = self.env.gen_acta(seed=1510, width=3000, height=2250)
        script = f"set -euo pipefail\nPHOTO={photo} GW={self.gw.url('')}\n" + \
            script.split("\n", 1)[1]
        work = os.path.join(self.env.tmp, "curl-doc")
        os.makedirs(work, exist_ok=True)
        p = subprocess.run(["bash", "-c", script], cwd=work, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        receipt = json.loads(p.stdout)
        data = read_bytes(photo)
        self.assertEqual(receipt["sha256"], hashlib.sha256(data).hexdigest())
        self.assertEqual(receipt["bytes"], len(data))
        self.wait_status(receipt["photo_id"], "queued", timeout=30)


class ShutdownTest(SignedTestCase):
    """SIGTERM while a resumable upload is in flight: the gateway drains, cuts what did not
    finish within --shutdown-timeout, exits 0, and after the restart the upload goes on from
    what reached the disk."""

    gateway_args = ("--shutdown-timeout", "2")

    def test_sigterm_leaves_the_upload_resumable(self):
        photo = self.env.gen_acta(seed=1520, width=3000, height=2250)
        data = read_bytes(photo)
        hdrs = {k.lower(): v.strip() for k, v in (h.split(":", 1) for h in
                                                  self.headers(photo))}
        block = b"".join(hpack_literal(n, v) for n, v in [
            (":method", "POST"), (":scheme", "http"), (":authority", "localhost"),
            (":path", upload_path()), ("content-type", "image/jpeg"),
            ("content-length", str(len(data))), ("upload-complete", "?1"), *hdrs.items()])
        uploads = os.path.join(self.data_dir, "spool", "uploads")
        before = set(os.listdir(uploads))
        s = socket.create_connection(("127.0.0.1", self.gw.h2c_port), timeout=10)
        s.sendall(PREFACE + frame(4, 0, 0) + frame(1, 4, 1, block))
        frames_until(s, lambda t, fl, sid: t == 1 and sid == 1)  # the 104
        for off in range(0, 48000, 16000):
            s.sendall(frame(0, 0, 1, data[off:off + 16000]))
        time.sleep(0.5)
        token = [f for f in set(os.listdir(uploads)) - before if f.endswith(".json")][0][:32]
        self.assertEqual(self.gw.stop(), 0, "SIGTERM must drain and exit 0")
        s.close()
        self.gw.start()
        location = f"/v1/uploads/{token}"
        h = curl_request(self.gw, "HEAD", location)
        self.assertEqual(h.status, 204, h)
        offset = int(h.headers["upload-offset"])
        self.assertEqual(offset, 48000, "what reached the disk before the cut is kept")
        r = curl_request(self.gw, "PATCH", location,
                         self._body_file(data[offset:]),
                         ["Content-Type: application/partial-upload",
                          f"Upload-Offset: {offset}", "Upload-Complete: ?1"])
        self.assertIn(r.status, (200, 201), r)
        self.assertEqual(r.json()["sha256"], hashlib.sha256(data).hexdigest())

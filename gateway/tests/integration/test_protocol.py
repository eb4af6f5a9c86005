"""HTTP/2 hardening: advertised limits, oversized headers, timeouts, TLS without h2, and a
gateway whose PostgreSQL is away. Raw frames are built here with struct, no HTTP/2 library."""

import os
import socket
import struct
import subprocess
import time

from harness import CLAVE, GatewayTestCase, read_bytes, upload_path

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
SETTINGS, HEADERS, DATA, GOAWAY = 0x4, 0x1, 0x0, 0x7
END_STREAM, END_HEADERS = 0x1, 0x4


def frame(ftype, flags, stream_id, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", stream_id) + payload


def hpack_literal(name, value):
    """A literal header field without indexing, new name, no Huffman coding."""
    n, v = name.encode(), value.encode()
    assert len(n) < 127 and len(v) < 127
    return b"\x00" + bytes([len(n)]) + n + bytes([len(v)]) + v


def read_frames(sock, until_close_s):
    """Reads frames until the peer closes or |until_close_s| passes. Returns (types, closed)."""
    sock.settimeout(0.2)
    buf, types, closed = b"", [], False
    deadline = time.monotonic() + until_close_s
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            closed = True
            break
        if not chunk:
            closed = True
            break
        buf += chunk
        while len(buf) >= 9:
            length = int.from_bytes(buf[:3], "big")
            if len(buf) < 9 + length:
                break
            types.append(buf[3])
            buf = buf[9 + length:]
    return types, closed


class LimitsTest(GatewayTestCase):
    gateway_args = ("--idle-timeout", "2", "--header-timeout", "2", "--body-timeout", "2")

    def connect(self):
        s = socket.create_connection(("127.0.0.1", self.gw.h2c_port), timeout=5)
        self.addCleanup(s.close)
        return s

    def test_settings_advertise_the_limits(self):
        p = subprocess.run(["nghttp", "-v", self.gw.url("/healthz")], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=30)
        out = p.stdout.decode("latin-1")
        recv = out[out.find("recv SETTINGS frame"):]
        self.assertIn("SETTINGS_MAX_CONCURRENT_STREAMS(0x03):8", recv, out)
        # 64 KiB until an upload is authorised; then the stream gets 256 KiB.
        self.assertIn("SETTINGS_INITIAL_WINDOW_SIZE(0x04):65536", recv, out)
        self.assertIn("SETTINGS_MAX_HEADER_LIST_SIZE(0x06):16384", recv, out)
        # The connection window is opened to 1 MiB, no more.
        self.assertRegex(out, r"recv WINDOW_UPDATE frame <length=4, flags=0x00, stream_id=0>\s*"
                              r"\(window_size_increment=983041\)")

    def test_oversized_headers_get_431(self):
        big = [f"x-filler-{i}: " + "a" * 100 for i in range(200)]  # ~27 KB decoded
        r = self.request("GET", "/healthz", headers=big, client="nghttp")
        self.assertProblem(r, 431, "headers-too-large")
        self.assertEqual(self.get("/healthz").status, 200)

    def test_silent_connection_is_closed(self):
        s = self.connect()
        types, closed = read_frames(s, 8)
        self.assertTrue(closed, "a connection that never sent the preface must be closed")

    def test_idle_connection_gets_goaway(self):
        s = self.connect()
        s.sendall(PREFACE + frame(SETTINGS, 0, 0))
        t0 = time.monotonic()
        types, closed = read_frames(s, 10)
        self.assertTrue(closed, "idle connection still open after 10 s")
        self.assertIn(GOAWAY, types)
        self.assertGreater(time.monotonic() - t0, 1.5)

    def test_unfinished_header_block_is_cut(self):
        s = self.connect()
        block = b"\x83\x86\x84"  # :method POST, :scheme http, :path / (static table)
        # HEADERS without END_HEADERS: the server must wait for CONTINUATION, but not forever.
        s.sendall(PREFACE + frame(SETTINGS, 0, 0) + frame(HEADERS, 0, 1, block))
        types, closed = read_frames(s, 10)
        self.assertTrue(closed, "a half-sent header block kept the connection open")
        self.assertEqual(self.get("/healthz").status, 200)

    def test_stalled_body_gets_408(self):
        data = read_bytes(os.path.join(self.env.fixtures, "small", "ok_o1.jpg"))
        before = self.data_files()
        s = self.connect()
        block = (b"\x83\x86" + hpack_literal(":path", upload_path(CLAVE)) +
                 hpack_literal(":authority", "127.0.0.1") +
                 hpack_literal("content-type", "image/jpeg") +
                 hpack_literal("content-length", str(len(data))))
        s.sendall(PREFACE + frame(SETTINGS, 0, 0) + frame(HEADERS, END_HEADERS, 1, block) +
                  frame(DATA, 0, 1, data[:1000]))
        s.settimeout(10)
        got = b""
        deadline = time.monotonic() + 10
        while b"request-timeout" not in got and time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        self.assertIn(b"/problems/request-timeout", got)
        time.sleep(0.5)
        self.assertEqual(self.data_files(), before, "a stalled upload left files behind")
        self.assertEqual(self.photo_rows(), 0)

    def test_tls_without_h2_is_refused(self):
        p = subprocess.run(["curl", "-sS", "-k", "--http1.1", "--max-time", "10",
                            f"https://127.0.0.1:{self.gw.tls_port}/healthz"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        self.assertNotEqual(p.returncode, 0, "TLS without ALPN h2 must not be served")
        self.assertIn(b"alert", p.stderr.lower() + p.stdout.lower())

    def test_http1_on_h2c_port_is_refused(self):
        p = subprocess.run(["curl", "-sS", "--http1.1", "--max-time", "10",
                            self.gw.url("/healthz")],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        self.assertNotEqual(p.returncode, 0)


class NoDatabaseTest(GatewayTestCase):
    """PostgreSQL unreachable from the start: intake and receipts go on, readiness says no."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.gw.stop()
        bad = f"host={os.path.join(cls.env.tmp, 'no-such-dir')} port=1 user=prep dbname=x"
        cls.gw.start(conninfo=bad)

    def test_receipt_and_status_without_database(self):
        path = os.path.join(self.env.fixtures, "small", "ok_o1.jpg")
        receipt = self.assertCreated(self.upload(path), read_bytes(path))
        status, doc = self.get_json(f"/v1/photos/{receipt['photo_id']}")
        self.assertEqual(status, 200)
        self.assertEqual(doc["status"], "received")
        self.assertEqual(doc["sha256"], receipt["sha256"])
        r = self.get("/readyz")
        self.assertProblem(r, 503, "not-ready")
        self.assertEqual(self.get("/healthz").status, 200)
        r = self.get("/v1/photos/00000000-0000-8000-8000-000000000000")
        self.assertProblem(r, 503, "service-unavailable")


class DroppedConnectionTest(GatewayTestCase):
    def test_half_sent_upload_leaves_nothing(self):
        data = read_bytes(os.path.join(self.env.fixtures, "small", "ok_o2.jpg"))
        before = self.data_files()
        s = socket.create_connection(("127.0.0.1", self.gw.h2c_port), timeout=5)
        block = (b"\x83\x86" + hpack_literal(":path", upload_path(CLAVE)) +
                 hpack_literal(":authority", "127.0.0.1") +
                 hpack_literal("content-type", "image/jpeg") +
                 hpack_literal("content-length", str(len(data))))
        s.sendall(PREFACE + frame(SETTINGS, 0, 0) + frame(HEADERS, END_HEADERS, 1, block) +
                  frame(DATA, 0, 1, data[:len(data) // 2]))
        time.sleep(0.5)
        s.close()  # the phone lost its signal half-way
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and self.data_files() != before:
            time.sleep(0.1)
        self.assertEqual(self.data_files(), before, "a dropped upload left files behind")
        self.assertEqual(self.photo_rows(), 0)
        # The same photo sent in full afterwards is a normal first upload.
        self.assertCreated(self.upload(data), data)


class DiskFullTest(GatewayTestCase):
    """The data folder on a 3 MiB tmpfs: an upload that does not fit is refused with 507 before
    its body is accepted, nothing partial stays, and the gateway keeps serving."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.gw.stop()
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", cls.data_dir],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if p.returncode != 0:
            raise AssertionError("this test needs root to mount a tmpfs: " + p.stdout.decode())
        cls.mounted = True
        cls.gw.start()

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            if getattr(cls, "mounted", False):
                subprocess.run(["umount", "-l", cls.data_dir])

    def test_full_disk_is_507(self):
        small = os.path.join(self.env.fixtures, "small", "ok_o3.jpg")
        big = self.env.gen_acta(seed=77, width=3000, height=2250, quality=97, noise=8)
        self.assertGreater(os.path.getsize(big), 3 << 20, "the big photo must not fit")
        r = self.upload(big, client="nghttp")
        self.assertProblem(r, 507, "insufficient-storage")
        self.assertEqual(os.listdir(os.path.join(self.data_dir, "spool", "tmp")), [])
        self.assertEqual(self.get("/healthz").status, 200)
        self.assertCreated(self.upload(small), read_bytes(small))

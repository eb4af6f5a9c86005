"""HTTP/2 hardening: advertised limits, oversized headers, timeouts, TLS without h2, a
gateway whose PostgreSQL is away, and flow control paced by the disk. Raw frames are built here
with struct, no HTTP/2 library."""

import glob
import hashlib
import json
import os
import socket
import ssl
import struct
import subprocess
import time

from harness import CLAVE, GatewayTestCase, TmpfsDataTestCase, read_bytes, upload_path

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
SETTINGS, HEADERS, DATA, GOAWAY = 0x4, 0x1, 0x0, 0x7
RST_STREAM, WINDOW_UPDATE = 0x3, 0x8
END_STREAM, END_HEADERS, ACK = 0x1, 0x4, 0x1
SETTINGS_INITIAL_WINDOW_SIZE = 0x4


def frame(ftype, flags, stream_id, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", stream_id) + payload


def hpack_literal(name, value):
    """A literal header field without indexing, new name, no Huffman coding."""
    return b"\x00" + hpack_string(name.encode()) + hpack_string(value.encode())


def hpack_string(b):
    """An HPACK string literal of any length (7-bit prefix integer, no Huffman coding)."""
    n, out = len(b), bytearray()
    if n < 127:
        out.append(n)
    else:
        out.append(127)
        n -= 127
        while n >= 128:
            out.append((n & 127) | 128)
            n >>= 7
        out.append(n)
    return bytes(out) + b


def frames_until(sock, want, timeout=10.0):
    """Reads frames until one satisfies |want(type, flags, stream_id)|, the peer closes or
    |timeout| passes. Returns (the frames as (type, flags, stream_id), closed)."""
    sock.settimeout(0.2)
    buf, seen, closed = b"", [], False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except (socket.timeout, ssl.SSLWantReadError):
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
            f = (buf[3], buf[4], int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF)
            seen.append(f)
            buf = buf[9 + length:]
            if want(*f):
                return seen, closed
    return seen, closed


def read_frames(sock, until_close_s):
    """Reads frames until the peer closes or |until_close_s| passes. Returns (types, closed)."""
    seen, closed = frames_until(sock, lambda t, f, sid: False, until_close_s)
    return [t for t, _, _ in seen], closed


class LimitsTest(GatewayTestCase):
    gateway_args = ("--idle-timeout", "2", "--header-timeout", "2", "--body-timeout", "2",
                    "--tls-handshake-timeout", "2")

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

    def test_silent_tls_connection_is_closed(self):
        """A TCP connection to the TLS port that never finishes (here: never starts) its
        handshake is closed like a silent h2c one."""
        s = socket.create_connection(("127.0.0.1", self.gw.tls_port), timeout=5)
        self.addCleanup(s.close)
        s.sendall(b"\x16\x03\x01\x02\x00")  # the first bytes of a ClientHello, then nothing
        types, closed = read_frames(s, 8)
        self.assertTrue(closed, "a TLS connection stuck in its handshake must be closed")
        self.assertEqual(self.get("/healthz").status, 200)

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


class DiskFullTest(TmpfsDataTestCase):
    """The data folder on a 3 MiB tmpfs: an upload that does not fit is refused with 503 (and
    Retry-After) before its body is accepted, nothing partial stays, and the gateway keeps
    serving."""

    tmpfs_size = "3m"

    def test_full_disk_is_503(self):
        small = os.path.join(self.env.fixtures, "small", "ok_o3.jpg")
        big = self.env.gen_acta(seed=77, width=3000, height=2250, quality=97, noise=8)
        self.assertGreater(os.path.getsize(big), 3 << 20, "the big photo must not fit")
        r = self.upload(big, client="nghttp")
        self.assertProblem(r, 503, "insufficient-storage")
        self.assertTrue(r.headers.get("retry-after", "").isdigit(), r.headers)
        self.assertEqual(os.listdir(os.path.join(self.data_dir, "spool", "tmp")), [])
        self.assertEqual(self.get("/healthz").status, 200)
        self.assertCreated(self.upload(small), read_bytes(small))


class DiskPacedFlowControlTest(GatewayTestCase):
    """The shape everything rests on: the gateway opens an upload's stream window only as its
    bytes reach the spool file, so a fast sender is paced by the disk and the gateway never holds
    more than one window of it in memory.

    The gateway is a test build (meson -Dtest_hooks=true) told to take 150 ms longer over each
    spool write. A raw HTTP/2 client sends a phone-sized photo as fast as its credit allows and,
    at every WINDOW_UPDATE for the stream, compares the credit granted so far with what the spool
    file holds: credit beyond one stream window must be backed by bytes on disk. A gateway that
    opened the window when bytes arrived (nghttp2's automatic window updates) would grant
    megabytes that are still in memory."""

    gateway_env = {"PREP_TEST_SPOOL_WRITE_DELAY_MS": "150"}
    STREAM_WINDOW = 256 << 10  # serve's --stream-window default
    # nghttp2 widens the window relative to its own view of the stream's initial window, 65535
    # until our SETTINGS ACK arrives and 65536 after, so its grant may run one byte over ours.
    SETTINGS_RACE = 65536 - 65535
    MAX_FRAME = 16384

    def written(self, data):
        """How much of |data| the spool file holds (it is preallocated: the rest reads as 0)."""
        parts = glob.glob(os.path.join(self.data_dir, "spool", "tmp", "*.part"))
        self.assertLessEqual(len(parts), 1, parts)
        if not parts:
            return 0
        try:
            with open(parts[0], "rb") as f:
                got = f.read(len(data))
        except FileNotFoundError:  # committed meanwhile: all of it is on disk
            return len(data)
        n, block = 0, 4096
        while n < len(got) and got[n:n + block] == data[n:n + block]:
            n += block
        while n < len(got) and got[n] == data[n]:
            n += 1
        return min(n, len(got))

    def paced_upload(self, data, clave, ack_late=False):
        """Sends |data| as fast as the credit allows, checking at every stream WINDOW_UPDATE
        that credit beyond one window is backed by bytes on disk. With |ack_late| the client
        holds its SETTINGS ACK, and its DATA, until the stream's window is widened, as a peer
        whose ACK is still in flight does. Returns (the receipt, times the sender ran out of
        credit, stream WINDOW_UPDATEs, most bytes sent and not on disk while out of credit)."""
        self.assertIn("test build", self.gw.stderr_text(),
                      "the gateway under test must be built with -Dtest_hooks=true (./test.sh "
                      "builds build-asan so)")
        self.assertGreater(len(data), 2 << 20)
        s = socket.create_connection(("127.0.0.1", self.gw.h2c_port), timeout=5)
        self.addCleanup(s.close)
        block = (b"\x83\x86" + hpack_literal(":path", upload_path(clave)) +
                 hpack_literal(":authority", "127.0.0.1") +
                 hpack_literal("content-type", "image/jpeg") +
                 hpack_literal("content-length", str(len(data))))
        s.sendall(PREFACE + frame(SETTINGS, 0, 0) + frame(HEADERS, END_HEADERS, 1, block))
        s.setblocking(False)

        stream_credit = conn_credit = 65535  # RFC 9113 defaults until the SETTINGS arrive
        sent, buf, body = 0, b"", b""
        updates = blocked = 0
        max_ahead = 0  # most bytes sent but not yet on disk, seen while out of credit
        done = False
        held_ack = False  # a SETTINGS ACK owed and not sent yet (ack_late)
        deadline = time.monotonic() + 120
        while not done:
            self.assertLess(time.monotonic(), deadline, f"upload stalled at {sent} bytes")
            # Send what the credit allows.
            while sent < len(data) and not (ack_late and (held_ack or updates == 0)):
                n = min(self.MAX_FRAME, len(data) - sent, stream_credit - sent,
                        conn_credit - sent)
                if n <= 0:
                    blocked += 1
                    max_ahead = max(max_ahead, sent - self.written(data))
                    break
                last = sent + n == len(data)
                try:
                    s.sendall(frame(DATA, END_STREAM if last else 0, 1, data[sent:sent + n]))
                except BlockingIOError:
                    break
                sent += n
            # Read the gateway's frames.
            try:
                s.settimeout(0.05)
                chunk = s.recv(65536)
                if not chunk:
                    self.fail(f"the gateway closed the connection at {sent} bytes")
                buf += chunk
            except (socket.timeout, BlockingIOError):
                pass
            finally:
                s.setblocking(False)
            while len(buf) >= 9 and len(buf) >= 9 + int.from_bytes(buf[:3], "big"):
                length = int.from_bytes(buf[:3], "big")
                ftype, flags = buf[3], buf[4]
                sid = int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
                payload, buf = buf[9:9 + length], buf[9 + length:]
                if ftype == SETTINGS and not flags & ACK:
                    for i in range(0, len(payload), 6):
                        ident, value = struct.unpack(">HI", payload[i:i + 6])
                        if ident == SETTINGS_INITIAL_WINDOW_SIZE:
                            stream_credit += value - 65535
                    held_ack = True
                    if not ack_late:
                        s.setblocking(True)
                        s.sendall(frame(SETTINGS, ACK, 0))
                        s.setblocking(False)
                        held_ack = False
                elif ftype == WINDOW_UPDATE and sid == 0:
                    conn_credit += int.from_bytes(payload, "big") & 0x7FFFFFFF
                elif ftype == WINDOW_UPDATE and sid == 1:
                    stream_credit += int.from_bytes(payload, "big") & 0x7FFFFFFF
                    updates += 1
                    if held_ack:
                        s.setblocking(True)
                        s.sendall(frame(SETTINGS, ACK, 0))
                        s.setblocking(False)
                        held_ack = False
                    on_disk = self.written(data)
                    self.assertLessEqual(
                        stream_credit - self.STREAM_WINDOW - self.SETTINGS_RACE, on_disk,
                        f"after {updates} stream WINDOW_UPDATEs the gateway granted "
                        f"{stream_credit} bytes of credit with only {on_disk} on disk")
                elif ftype == DATA and sid == 1:
                    body += payload
                    done = bool(flags & END_STREAM)
                elif ftype in (RST_STREAM, GOAWAY):
                    self.fail(f"frame {ftype} from the gateway: {payload!r}")

        return json.loads(body), blocked, updates, max_ahead

    def test_window_opens_only_as_bytes_reach_the_disk(self):
        data = read_bytes(self.env.gen_acta(seed=5150))
        receipt, blocked, updates, max_ahead = self.paced_upload(data, CLAVE)
        self.assertEqual(receipt["sha256"], hashlib.sha256(data).hexdigest())
        # The disk, not the sender, set the pace: the sender ran out of credit again and again,
        # was more than the first window ahead of the file, never more than one stream window,
        # and the window kept reopening as writes landed.
        self.assertGreater(blocked, 5)
        self.assertGreater(updates, 5)
        self.assertGreater(max_ahead, 64 << 10)
        self.assertLessEqual(max_ahead, self.STREAM_WINDOW + self.SETTINGS_RACE)

    def test_a_late_settings_ack_gets_its_extra_byte(self):
        """The stream is widened before the peer's ACK of our SETTINGS arrives, so nghttp2 grants
        a window one byte wider than ours, and the peer may fill all of it before the first write
        lands: the upload's buffer must hold that byte too (a buffer of one stream window would
        refuse the upload with "flow-control window exceeded")."""
        data = read_bytes(self.env.gen_acta(seed=5151))
        receipt, blocked, _, max_ahead = self.paced_upload(data, "140338B010003", ack_late=True)
        self.assertEqual(receipt["sha256"], hashlib.sha256(data).hexdigest())
        self.assertGreater(blocked, 5)
        self.assertEqual(max_ahead, self.STREAM_WINDOW + self.SETTINGS_RACE)


PING, CONTINUATION = 0x6, 0x9
CANCEL = 0x8


class FloodTest(GatewayTestCase):
    """HTTP/2 floods from one hostile client: the connection is cut, the process stays up, its
    memory does not follow the flood, and it keeps serving everyone else. Each attack is sent raw,
    as fast as the socket takes it."""

    # ASan keeps freed memory in quarantine (256 MB by default), which would read as growth.
    gateway_env = {"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=4"}

    def connect(self):
        s = socket.create_connection(("127.0.0.1", self.gw.h2c_port), timeout=5)
        self.addCleanup(s.close)
        return s

    def blast(self, s, chunks):
        """Sends |chunks| until they run out or the gateway closes on us. Returns the count sent."""
        sent = 0
        try:
            for c in chunks:
                s.sendall(c)
                sent += 1
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            pass
        return sent

    def assertCut(self, s, what):
        types, closed = read_frames(s, 20)
        self.assertTrue(closed, f"{what}: the connection was not closed")
        self.assertTrue(self.gw.alive(), f"{what}: the gateway died")
        self.assertEqual(self.get("/healthz").status, 200)
        return types

    def rss_kib(self):
        with open(f"/proc/{self.gw.pid}/status") as f:
            return int(next(l for l in f if l.startswith("VmRSS:")).split()[1])

    def healthz_block(self):
        return (b"\x82\x86" + hpack_literal(":path", "/healthz") +
                hpack_literal(":authority", "127.0.0.1"))

    def test_rapid_reset(self):
        """CVE-2023-44487: open a stream and cancel it at once, thousands of times."""
        s = self.connect()
        s.sendall(PREFACE + frame(SETTINGS, 0, 0))
        block = self.healthz_block()
        pairs = (frame(HEADERS, END_HEADERS | END_STREAM, sid, block) +
                 frame(RST_STREAM, 0, sid, struct.pack(">I", CANCEL))
                 for sid in range(1, 2 * 20000, 2))
        self.blast(s, pairs)
        self.assertIn(GOAWAY, self.assertCut(s, "rapid reset"))

    def flood_without_reading(self, opening, burst, what):
        """Sends |opening|, then |burst| 2400 times without reading a byte: the gateway must
        stop taking it, cut the connection and not grow by 16 MiB or more."""
        s = self.connect()
        s.sendall(opening)
        before = self.rss_kib()
        sent = self.blast(s, (burst for _ in range(2400)))
        self.assertLess(sent, 2400, f"the gateway took every {what} without reading a reply")
        self.assertCut(s, f"{what} flood")
        self.assertLess(self.rss_kib() - before, 16 << 10, "the flood grew the gateway's memory")

    def test_ping_flood_without_reading(self):
        """40 MB of frames that each need an answer, from a client that never reads: far more
        answers than the socket buffers hold, so they pile up in the gateway unless it stops."""
        self.flood_without_reading(
            PREFACE + frame(SETTINGS, 0, 0),
            b"".join(frame(PING, 0, 0, struct.pack(">Q", i)) for i in range(1000)), "PING")

    def test_settings_flood(self):
        self.flood_without_reading(
            PREFACE,
            b"".join(frame(SETTINGS, 0, 0, struct.pack(">HI", 0x3, 100)) for _ in range(1000)),
            "SETTINGS")

    def test_continuation_flood(self):
        """CVE-2024-27316 class: a header block that never ends, in many small pieces."""
        s = self.connect()
        s.sendall(PREFACE + frame(SETTINGS, 0, 0) + frame(HEADERS, 0, 1, b"\x82\x86"))
        self.blast(s, (frame(CONTINUATION, 0, 1, hpack_literal(f"x-{i % 1000}", "y"))
                       for i in range(100000)))
        self.assertCut(s, "CONTINUATION flood")

    def test_others_are_served_during_a_flood(self):
        """While one client floods PINGs, connection after connection, another uploads photos
        and gets their receipts."""
        import threading
        stop = threading.Event()
        cuts = []
        burst = b"".join(frame(PING, 0, 0, struct.pack(">Q", i)) for i in range(1000))

        def flood():
            while not stop.is_set():
                try:
                    with socket.create_connection(("127.0.0.1", self.gw.h2c_port),
                                                  timeout=5) as f:
                        f.sendall(PREFACE + frame(SETTINGS, 0, 0))
                        while not stop.is_set():
                            f.sendall(burst)
                except OSError:
                    cuts.append(1)

        t = threading.Thread(target=flood, daemon=True)
        t.start()
        try:
            time.sleep(0.3)
            for name in ("ok_o5.jpg", "ok_o6.jpg", "ok_o7.jpg"):
                data = read_bytes(os.path.join(self.env.fixtures, "small", name))
                self.assertCreated(self.upload(data), data)
        finally:
            stop.set()
            t.join(timeout=30)
        self.assertGreater(len(cuts), 0, "the flooding connections were never cut")
        self.assertTrue(self.gw.alive())

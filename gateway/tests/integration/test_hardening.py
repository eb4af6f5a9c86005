"""Slow and abusive clients, each cut by its own named limit while a legitimate client is served
alongside: a body trickled just fast enough to beat --body-timeout (--min-body-rate), a reader
that never opens its window (--write-timeout), a connection that never asks for anything
(--first-request-timeout), a connection flood from one address (--max-conns-per-address), and a
device with more uploads in flight than a phone sends (--max-uploads-per-device); and two attacks
the fixed limits stop: an HPACK bomb (SETTINGS_MAX_HEADER_LIST_SIZE) and streams over
SETTINGS_MAX_CONCURRENT_STREAMS; and a storm of reconnections from one address
(--conn-rate-per-address); requests over the rate of an address or a device (429 with
Retry-After, --request-rate-per-address, --request-rate-per-device), a client that goes on
regardless (cut, and its address refused for --flood-penalty), and the decoded header list cap
(--max-header-bytes) at its boundary.
Loopback only; the abusers use 127.0.0.2 as their address."""

import os
import re
import socket
import struct
import subprocess
import tempfile
import threading
import time

import test_protocol as tp
from harness import (CLAVE, GatewayTestCase, Response, SignedTestCase, parse_curl_headers,
                     read_bytes, upload_path)
from test_signals import frames_until

ATTACKER = "127.0.0.2"


class HardeningTest(GatewayTestCase):
    gateway_args = ("--body-timeout", "2", "--min-body-rate", "20000", "--write-timeout", "2",
                    "--first-request-timeout", "2", "--max-conns-per-address", "5")

    def attacker(self, port=None):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((ATTACKER, 0))
        s.settimeout(5)
        s.connect(("127.0.0.1", port or self.gw.h2c_port))
        self.addCleanup(s.close)
        return s

    def legit_upload(self, seed):
        r = self.upload(self.env.gen_acta(seed=seed, width=800, height=600))
        self.assertEqual(r.status, 201, r)
        return r

    def test_slow_body_is_cut(self):
        data = read_bytes(os.path.join(self.env.fixtures, "small", "ok_o1.jpg"))
        s = self.attacker()
        block = (b"\x83\x86" + tp.hpack_literal(":path", upload_path(CLAVE)) +
                 tp.hpack_literal(":authority", "127.0.0.1") +
                 tp.hpack_literal("content-type", "image/jpeg") +
                 tp.hpack_literal("content-length", str(len(data))))
        s.sendall(tp.PREFACE + tp.frame(tp.SETTINGS, 0, 0) +
                  tp.frame(tp.HEADERS, tp.END_HEADERS, 1, block))
        t0 = time.monotonic()
        stop = threading.Event()

        def trickle():
            # 2 KB/s: progress every half second, so only the rate rule can stop it.
            off = 0
            while not stop.is_set() and off < len(data) - 1000:
                try:
                    s.sendall(tp.frame(tp.DATA, 0, 1, data[off:off + 1000]))
                except OSError:
                    return
                off += 1000
                time.sleep(0.5)

        th = threading.Thread(target=trickle)
        th.start()
        try:
            self.legit_upload(701)  # served meanwhile
            seen = frames_until(s, lambda t, f, sid: t in (tp.HEADERS, tp.RST_STREAM), 15)
        finally:
            stop.set()
            th.join()
        took = time.monotonic() - t0
        self.assertIn(tp.HEADERS, [t for t, _, _ in seen], "the slow body was not answered")
        self.assertLess(took, 10, "the slow body was not cut by the rate rule")
        self.assertIn("problem=request-timeout", self.gw.stderr_text())
        self.assertEqual(os.listdir(os.path.join(self.data_dir, "spool", "tmp")), [])

    def test_reader_that_never_reads_is_cut(self):
        s = self.attacker()
        block = (b"\x82\x86" + tp.hpack_literal(":path", "/metrics") +
                 tp.hpack_literal(":authority", "127.0.0.1"))
        # A stream window of 0: the response can never be sent.
        s.sendall(tp.PREFACE +
                  tp.frame(tp.SETTINGS, 0, 0, struct.pack(">HI", tp.SETTINGS_INITIAL_WINDOW_SIZE,
                                                          0)) +
                  tp.frame(tp.HEADERS, tp.END_HEADERS | tp.END_STREAM, 1, block))
        t0 = time.monotonic()
        seen = frames_until(s, lambda t, f, sid: t == tp.RST_STREAM and sid == 1, 15)
        self.assertIn((tp.RST_STREAM, 1), [(t, sid) for t, _, sid in seen],
                      "a response nobody reads was kept")
        self.assertLess(time.monotonic() - t0, 10)
        self.legit_upload(702)

    def test_connection_without_request_is_closed(self):
        s = self.attacker()
        s.sendall(tp.PREFACE + tp.frame(tp.SETTINGS, 0, 0))
        types, closed = tp.read_frames(s, 10)
        self.assertIn(tp.GOAWAY, types)
        self.assertIn('reason="no request in time"', self.gw.stderr_text())

    def test_hpack_bomb_is_cut(self):
        # One 4 KB header put in the HPACK dynamic table, then referenced 200 times with a byte
        # each: 800 KB of decoded headers from a 4 KB header block.
        s = self.attacker()
        big = b"x" * 4000
        block = (b"\x82\x86" + tp.hpack_literal(":path", "/healthz") +
                 tp.hpack_literal(":authority", "127.0.0.1") +
                 b"\x40" + tp.hpack_string(b"x-bomb") + tp.hpack_string(big))
        block += b"\xbe" * 200  # indexed field 62: the newest dynamic table entry
        s.sendall(tp.PREFACE + tp.frame(tp.SETTINGS, 0, 0) +
                  tp.frame(tp.HEADERS, tp.END_HEADERS | tp.END_STREAM, 1, block))
        seen, closed = tp.frames_until(
            s, lambda t, f, sid: (t == tp.HEADERS and sid == 1) or t in (tp.GOAWAY,
                                                                        tp.RST_STREAM), 10)
        self.assertTrue(seen and seen[-1][0] in (tp.HEADERS, tp.GOAWAY, tp.RST_STREAM),
                        f"the bomb was neither refused nor cut: {seen}")
        if seen[-1][0] == tp.HEADERS:
            self.assertIn("status=431", self.gw.stderr_text())
        self.assertTrue(self.gw.alive())
        self.legit_upload(704)

    def test_control_frame_flood_is_cut(self):
        # A few PINGs are answered; more than 100 a second close the connection, even from a
        # client that reads every answer.
        s = self.attacker()
        s.sendall(tp.PREFACE + tp.frame(tp.SETTINGS, 0, 0) +
                  b"".join(tp.frame(0x6, 0, 0, struct.pack(">Q", i)) for i in range(20)))
        seen, closed = tp.frames_until(s, lambda t, f, sid: False, 1.0)
        self.assertEqual(sum(1 for t, f, _ in seen if t == 0x6 and f & tp.ACK), 20)
        self.assertFalse(closed)
        s.sendall(b"".join(tp.frame(0x6, 0, 0, struct.pack(">Q", i)) for i in range(150)))
        seen, closed = tp.frames_until(s, lambda t, f, sid: False, 3.0)
        self.assertTrue(closed, "a control frame flood was served")
        self.assertIn('reason="control frame flood"', self.gw.stderr_text())
        self.legit_upload(707)

    def test_streams_over_the_limit_are_refused(self):
        # SETTINGS_MAX_CONCURRENT_STREAMS is 8: a ninth open stream is refused, the eight go on.
        s = self.attacker()
        out = tp.PREFACE + tp.frame(tp.SETTINGS, 0, 0)
        for i in range(9):
            block = (b"\x83\x86" + tp.hpack_literal(":path", upload_path(CLAVE)) +
                     tp.hpack_literal(":authority", "127.0.0.1") +
                     tp.hpack_literal("content-type", "image/jpeg") +
                     tp.hpack_literal("content-length", "100000"))
            out += tp.frame(tp.HEADERS, tp.END_HEADERS, 1 + 2 * i, block)
        s.sendall(out)
        seen, closed = tp.frames_until(s, lambda t, f, sid: t == tp.RST_STREAM and sid == 17, 10)
        self.assertIn((tp.RST_STREAM, 17), [(t, sid) for t, _, sid in seen],
                      "a ninth concurrent stream was taken")
        self.assertTrue(self.gw.alive())
        self.legit_upload(705)

    def test_connection_flood_from_one_address(self):
        held = [self.attacker() for _ in range(5)]
        for s in held:
            s.sendall(tp.PREFACE + tp.frame(tp.SETTINGS, 0, 0))
        # Each of the five is served (its SETTINGS came) before the sixth connects: the two
        # event loops accept in their own order, and the sixth accepted is the one refused.
        for s in held:
            self.assertNotEqual(s.recv(100), b"", "one of the first five was refused")
        # The sixth from that address is closed at once, before any HTTP/2.
        extra = self.attacker()
        extra.settimeout(3)
        try:
            got = extra.recv(100)
        except ConnectionResetError:
            got = b""
        self.assertEqual(got, b"", "a sixth connection from one address was served")
        self.assertIn("msg=\"connections refused\" peer=127.0.0.2", self.gw.stderr_text())
        # Another address is not affected.
        self.legit_upload(703)
        # Once they close, that address may connect again.
        for s in held:
            s.close()
        deadline = time.monotonic() + 5
        while True:
            s = self.attacker()
            s.sendall(tp.PREFACE + tp.frame(tp.SETTINGS, 0, 0))
            types, closed = tp.read_frames(s, 0.5)
            if tp.SETTINGS in types:
                break
            self.assertLess(time.monotonic() - deadline, 0, "the address stays refused")


class DeviceCapTest(SignedTestCase):
    gateway_args = ("--max-uploads-per-device", "2")

    def start_signed(self, data):
        """A signed upload of |data| whose body stops halfway: it stays in flight."""
        s = socket.create_connection(("127.0.0.1", self.gw.h2c_port), timeout=5)
        self.addCleanup(s.close)
        block = b"\x83\x86" + tp.hpack_literal(":path", upload_path(CLAVE)) + \
            tp.hpack_literal(":authority", "127.0.0.1") + \
            tp.hpack_literal("content-type", "image/jpeg") + \
            tp.hpack_literal("content-length", str(len(data)))
        for line in self.headers(data):
            name, value = line.split(": ", 1)
            block += (b"\x00" + tp.hpack_string(name.lower().encode()) +
                      tp.hpack_string(value.encode()))
        s.sendall(tp.PREFACE + tp.frame(tp.SETTINGS, 0, 0) +
                  tp.frame(tp.HEADERS, tp.END_HEADERS, 1, block) +
                  tp.frame(tp.DATA, 0, 1, data[:16000]))
        return s

    def test_uploads_in_flight_per_device(self):
        data = read_bytes(os.path.join(self.env.fixtures, "small", "ok_o1.jpg"))
        # Two uploads of this device in flight (different bytes: different photos).
        held = [self.start_signed(data + bytes([i]) * 10) for i in range(2)]
        time.sleep(0.5)  # their signatures are checked on the disk pool
        third = self.signed(data)
        self.assertProblem(third, 429, "too-many-uploads")
        # Once one ends (its connection drops), the device may upload again.
        held[0].close()
        deadline = time.monotonic() + 5
        while True:
            r = self.signed(data)
            if r.status == 201:
                break
            self.assertProblem(r, 429, "too-many-uploads")
            self.assertLess(time.monotonic(), deadline, "the device stays refused")
            time.sleep(0.1)


class ConnectionRateTest(GatewayTestCase):
    gateway_args = ("--conn-rate-per-address", "5")  # bursts of 20, then 5 a second

    def test_reconnect_storm_is_turned_away(self):
        socks = []
        for _ in range(60):  # within well under a second
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((ATTACKER, 0))
            s.settimeout(2)
            s.connect(("127.0.0.1", self.gw.h2c_port))
            self.addCleanup(s.close)
            try:
                s.sendall(tp.PREFACE + tp.frame(tp.SETTINGS, 0, 0))
            except OSError:
                pass  # already closed by the gateway
            socks.append(s)
        served = 0
        for s in socks:
            try:
                types, closed = tp.read_frames(s, 0.3)
            except OSError:
                continue
            served += tp.SETTINGS in types
        self.assertLess(served, 35, "a reconnect storm was served in full")
        self.assertGreaterEqual(served, 20, "the burst was not served")
        self.assertIn("reason=\"more than 5 a second", self.gw.stderr_text())
        # Another address is not affected.
        r = self.upload(self.env.gen_acta(seed=706, width=800, height=600))
        self.assertEqual(r.status, 201, r)


def curl_from(gw, addr, path):
    """A GET of |path| from |addr| (curl 7.88 fails on the second request over one h2c
    connection: each is a connection of its own)."""
    with tempfile.NamedTemporaryFile(dir=gw.env.tmp) as hf, \
            tempfile.NamedTemporaryFile(dir=gw.env.tmp) as bf:
        p = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "--interface", addr,
                            "--max-time", "30", "-w", "%{http_code}", "-D", hf.name, "-o", bf.name,
                            gw.url(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=60)
        hdrs = parse_curl_headers(open(hf.name, "rb").read().decode("latin-1"))
        body = read_bytes(bf.name)
    code = p.stdout.decode()
    return Response(int(code) if code.isdigit() else 0, hdrs, body, "2", p.stderr.decode())


class RequestRateTest(GatewayTestCase):
    # Bursts of 20, then 1 a second, per address; a flood cut costs its address 2 s.
    gateway_args = ("--request-rate-per-address", "1", "--request-burst-per-address", "20",
                    "--conn-rate-per-address", "100", "--flood-penalty", "2")

    def test_address_over_its_rate_gets_429(self):
        results = [curl_from(self.gw, ATTACKER, "/healthz") for _ in range(40)]
        codes = [r.status for r in results]
        self.assertEqual(codes[:20], [200] * 20, f"the burst was not served: {results[0]!r}")
        self.assertIn(429, codes[20:], f"an address over its rate was served: {codes}")
        r = results[-1]
        self.assertProblem(r, 429, "too-many-requests")
        retry = int(r.headers.get("retry-after", "0"))
        self.assertEqual(retry, 1, f"Retry-After: {r!r}")
        # Another address is not affected (the suite's client is 127.0.0.1).
        self.assertEqual(self.get("/healthz").status, 200)
        # Once Retry-After has passed, the address is served again.
        time.sleep(retry)
        self.assertEqual(curl_from(self.gw, ATTACKER, "/healthz").status, 200)

    def test_client_that_ignores_429_is_cut(self):
        # HEADERS then RST_STREAM at once, 150 times: 20 served, then refusals, and after 100
        # of those in a row the connection is cut and the address refused for a while.
        s = self.attacker_socket()
        block = (b"\x82\x86" + tp.hpack_literal(":path", "/healthz") +
                 tp.hpack_literal(":authority", "127.0.0.1"))
        out = tp.PREFACE + tp.frame(tp.SETTINGS, 0, 0)
        for sid in range(1, 301, 2):
            out += (tp.frame(tp.HEADERS, tp.END_HEADERS | tp.END_STREAM, sid, block) +
                    tp.frame(tp.RST_STREAM, 0, sid, struct.pack(">I", 8)))
        try:
            s.sendall(out)
        except OSError:
            pass  # cut while sending
        seen, closed = tp.frames_until(s, lambda t, f, sid: t == tp.GOAWAY, 10)
        self.assertIn(tp.GOAWAY, [t for t, _, _ in seen], "a client ignoring 429 was not cut")
        text = self.gw.stderr_text()
        self.assertIn('reason="requests over the rate after being refused"', text)
        self.assertIn('msg="address penalised" peer=127.0.0.2', text)
        self.assertIn("refused_at=syn", text)
        # Penalised: the kernel drops the address's SYNs, so a new connection is never made.
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(t.close)
        t.bind((ATTACKER, 0))
        t.settimeout(1)
        with self.assertRaises(socket.timeout, msg="a penalised address could connect"):
            t.connect(("127.0.0.1", self.gw.h2c_port))
        self.assertEqual(self.get("/healthz").status, 200)  # another address is not
        time.sleep(3.5)  # 2 s of penalty, and the requests' own bucket refills
        self.assertEqual(curl_from(self.gw, ATTACKER, "/healthz").status, 200)

    def attacker_socket(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((ATTACKER, 0))
        s.settimeout(5)
        s.connect(("127.0.0.1", self.gw.h2c_port))
        self.addCleanup(s.close)
        return s


class DeviceRateTest(SignedTestCase):
    # Bursts of 3 signed requests a device, then 1 a second.
    gateway_args = ("--request-rate-per-device", "1", "--request-burst-per-device", "3")

    def test_device_over_its_rate_gets_429(self):
        data = read_bytes(os.path.join(self.env.fixtures, "small", "ok_o1.jpg"))
        # Signed in advance, so that the uploads follow each other closely.
        hdrs = [self.headers(data) for _ in range(8)]
        results = [self.signed(data, hdrs=h) for h in hdrs]
        statuses = [r.status for r in results]
        self.assertTrue(all(st in (200, 201) for st in statuses[:3]), statuses)
        refused = [r for r in results if r.status == 429]
        self.assertTrue(refused, f"a device over its rate was served: {statuses}")
        self.assertProblem(refused[0], 429, "too-many-requests")
        self.assertGreaterEqual(int(refused[0].headers.get("retry-after", "0")), 1)
        self.assertIn("for this device", refused[0].json().get("detail", ""))
        self.assertIn("problem=too-many-requests", self.gw.stderr_text())
        # Another device is not affected, though it uploads from the same address.
        key = os.path.join(self.env.tmp, f"{self.db}-device2.pem")
        pub = subprocess.run([self.signer, "genkey", key], check=True,
                             stdout=subprocess.PIPE).stdout.decode().strip()
        other = self.enrol(self.new_code(self.actas), pub)["device_id"]
        time.sleep(0.5)  # the device reaches the gateway's copy
        r = self.signed(data + b"\x00", key=key, keyid=other)
        self.assertIn(r.status, (200, 201), r)
        # A forged keyid spends the bucket of the device it names, not the forger's own.
        r = self.signed(data + b"\x01", key=key, keyid=self.device)
        self.assertIn(r.status, (401, 429), r)


class HeaderListCapTest(GatewayTestCase):
    gateway_args = ("--max-header-bytes", "2048")

    def request_with_filler(self, path, filler_len):
        s = socket.create_connection(("127.0.0.1", self.gw.h2c_port), timeout=5)
        self.addCleanup(s.close)
        # RFC 9113 counts name + value + 32 per field, the pseudo-headers too:
        # 42 (:method GET) + 43 (:scheme http) + 5 + len(path) + 32 + 51 (:authority
        # 127.0.0.1) + 3 + filler_len + 32 (x-f).
        block = (b"\x82\x86" + tp.hpack_literal(":path", path) +
                 tp.hpack_literal(":authority", "127.0.0.1") +
                 b"\x00" + tp.hpack_string(b"x-f") + tp.hpack_string(b"a" * filler_len))
        s.sendall(tp.PREFACE + tp.frame(tp.SETTINGS, 0, 0) +
                  tp.frame(tp.HEADERS, tp.END_HEADERS | tp.END_STREAM, 1, block))
        seen, closed = tp.frames_until(s, lambda t, f, sid: t == tp.HEADERS and sid == 1, 10)
        self.assertIn((tp.HEADERS, 1), [(t, sid) for t, _, sid in seen], "no answer")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            m = re.search(r'path="%s" status=(\d+)' % re.escape(path), self.gw.stderr_text())
            if m:
                return int(m.group(1))
            time.sleep(0.05)
        self.fail(f"no log line for {path}")

    def test_header_list_cap_boundary(self):
        path = "/healthz?a"
        fixed = 42 + 43 + 5 + len(path) + 32 + 51 + 3 + 32
        self.assertNotEqual(self.request_with_filler(path, 2048 - fixed), 431,
                            "a header list of exactly --max-header-bytes was refused")
        path = "/healthz?b"
        self.assertEqual(self.request_with_filler(path, 2048 - fixed + 1), 431,
                         "a header list over --max-header-bytes was taken")


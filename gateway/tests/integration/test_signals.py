"""Signals an operator sends: SIGHUP swaps the TLS certificate without dropping a connection (a
new connection sees the new certificate while an old one keeps working), and SIGTERM drains: a
GOAWAY, no new connection, the upload in flight finishes and is kept, then a clean exit."""

import os
import shutil
import signal
import socket
import ssl
import time

import test_protocol as tp
from harness import CLAVE, GatewayTestCase, read_bytes, run, upload_path


def make_cert(directory, cn):
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "1", "-subj", f"/CN={cn}",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key, "-out", cert])
    return cert, key


def frames_until(sock, want, timeout=10.0):
    """test_protocol.frames_until() without the closed flag."""
    return tp.frames_until(sock, want, timeout)[0]


def get_healthz(stream_id):
    block = (b"\x82\x86" + tp.hpack_literal(":path", "/healthz") +
             tp.hpack_literal(":authority", "127.0.0.1"))
    return tp.frame(tp.HEADERS, tp.END_HEADERS | tp.END_STREAM, stream_id, block)


class SighupTest(GatewayTestCase):
    @classmethod
    def setUpClass(cls):
        # The gateway reads its certificate from files the test replaces later.
        cls.tls_dir = os.path.join(os.environ["PREP_TMP"], f"sighup-{os.getpid()}")
        os.makedirs(cls.tls_dir, exist_ok=True)
        cls.cert, cls.key = make_cert(cls.tls_dir, "first")
        cls.gateway_args = ("--cert", cls.cert, "--key", cls.key)
        super().setUpClass()

    def tls_connect(self):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(["h2"])
        raw = socket.create_connection(("127.0.0.1", self.gw.tls_port), timeout=5)
        s = ctx.wrap_socket(raw, server_hostname="localhost")
        self.addCleanup(s.close)
        self.assertEqual(s.selected_alpn_protocol(), "h2")
        s.sendall(tp.PREFACE + tp.frame(tp.SETTINGS, 0, 0))
        return s

    def test_sighup_swaps_the_certificate(self):
        old = self.tls_connect()
        first = old.getpeercert(binary_form=True)
        old.sendall(get_healthz(1))
        seen = frames_until(old, lambda t, f, sid: t == tp.HEADERS and sid == 1)
        self.assertIn(tp.HEADERS, [t for t, _, _ in seen], "no answer on the first connection")

        # The operator renews the certificate in place and sends SIGHUP.
        new_dir = os.path.join(self.tls_dir, "new")
        os.makedirs(new_dir, exist_ok=True)
        cert, key = make_cert(new_dir, "second")
        shutil.copy(cert, self.cert)
        shutil.copy(key, self.key)
        os.kill(self.gw.pid, signal.SIGHUP)
        deadline = time.monotonic() + 10
        while "TLS certificate reloaded" not in self.gw.stderr_text():
            self.assertLess(time.monotonic(), deadline, self.gw.stderr_tail())
            time.sleep(0.05)

        fresh = self.tls_connect()
        second = fresh.getpeercert(binary_form=True)
        self.assertNotEqual(first, second, "a new connection still gets the old certificate")
        self.assertEqual(second, ssl.PEM_cert_to_DER_cert(open(self.cert).read()))
        # The connection opened before the swap still works, with its old certificate.
        old.sendall(get_healthz(3))
        seen = frames_until(old, lambda t, f, sid: t == tp.HEADERS and sid == 3)
        self.assertIn((tp.HEADERS, 3), [(t, sid) for t, _, sid in seen],
                      "the old connection stopped working after SIGHUP")
        self.assertTrue(self.gw.alive())

    def test_sighup_with_a_broken_certificate_keeps_the_old_one(self):
        before = self.tls_connect().getpeercert(binary_form=True)
        saved = read_bytes(self.cert)
        with open(self.cert, "wb") as f:
            f.write(b"not a certificate\n")
        try:
            os.kill(self.gw.pid, signal.SIGHUP)
            deadline = time.monotonic() + 10
            while "could not load TLS certificate" not in self.gw.stderr_text():
                self.assertLess(time.monotonic(), deadline, self.gw.stderr_tail())
                time.sleep(0.05)
            self.assertTrue(self.gw.alive())
            self.assertEqual(self.tls_connect().getpeercert(binary_form=True), before)
        finally:
            with open(self.cert, "wb") as f:
                f.write(saved)


class SigtermTest(GatewayTestCase):
    gateway_args = ("--shutdown-timeout", "20")

    def test_sigterm_drains_an_upload_in_flight(self):
        data = read_bytes(os.path.join(self.env.fixtures, "small", "ok_o1.jpg"))
        s = socket.create_connection(("127.0.0.1", self.gw.h2c_port), timeout=5)
        self.addCleanup(s.close)
        block = (b"\x83\x86" + tp.hpack_literal(":path", upload_path(CLAVE)) +
                 tp.hpack_literal(":authority", "127.0.0.1") +
                 tp.hpack_literal("content-type", "image/jpeg") +
                 tp.hpack_literal("content-length", str(len(data))))
        half = 32000  # two DATA frames of 16000 (the frame size limit is 16384)
        s.sendall(tp.PREFACE + tp.frame(tp.SETTINGS, 0, 0) +
                  tp.frame(tp.HEADERS, tp.END_HEADERS, 1, block) +
                  tp.frame(tp.DATA, 0, 1, data[:16000]) + tp.frame(tp.DATA, 0, 1, data[16000:half]))
        time.sleep(0.3)

        self.gw.proc.send_signal(signal.SIGTERM)
        seen = frames_until(s, lambda t, f, sid: t == tp.GOAWAY)
        self.assertIn(tp.GOAWAY, [t for t, _, _ in seen], "no GOAWAY after SIGTERM")
        # A new connection is refused at once while the upload finishes.
        deadline = time.monotonic() + 5
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.gw.h2c_port), timeout=1).close()
            except (ConnectionRefusedError, ConnectionResetError):
                # Reset: the connect reached the listen queue just before the listener closed.
                break
            self.assertLess(time.monotonic(), deadline, "new connections still accepted")
            time.sleep(0.05)
        self.assertTrue(self.gw.alive(), "the gateway exited with an upload in flight")

        for off in range(half, len(data), 16000):
            chunk = data[off:off + 16000]
            last = off + len(chunk) >= len(data)
            s.sendall(tp.frame(tp.DATA, tp.END_STREAM if last else 0, 1, chunk))
        seen = frames_until(s, lambda t, f, sid: t == tp.HEADERS and sid == 1)
        self.assertIn((tp.HEADERS, 1), [(t, sid) for t, _, sid in seen], "no receipt")
        rc = self.gw.proc.wait(timeout=20)
        self.gw.exits.append((self.gw.logs[-1], rc, True))
        self.assertEqual(rc, 0, self.gw.stderr_tail())
        log = self.gw.stderr_text()
        self.assertRegex(log, r"msg=request .*method=POST .*status=201 ")
        self.assertIn("connections_left=0", log)

        # Acknowledged, so kept: after a restart the photo is there.
        self.gw.start()
        r = self.upload(data)
        self.assertEqual(r.status, 200, r)
        self.wait_status(r.json()["photo_id"], "queued")

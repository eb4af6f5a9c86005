"""prep-upload, the reference client, against a real gateway: enrolment with a one-time code,
signed uploads over h2c and TLS, idempotent retries, receipts that verify offline (and stop
verifying when a byte changes), backoff while the gateway is down, 4xx answers that are final,
and (ClientResumeTest) an upload cut halfway that resumes instead of starting again.

PREP_UPLOAD (set by ./test.sh) is the prep-upload binary."""

import json
import os
import re
import socket
import stat
import subprocess
import tempfile
import threading
import time

import harness
from harness import CLAVE, GatewayTestCase, read_bytes, sha256_hex

ACTAS = "140338B01*"


class ClientHelpers:
    """prep-upload and prep-gateway runs for a GatewayTestCase, and one enrolled device."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.upload_bin = os.environ.get("PREP_UPLOAD", "")
        cls._device = None

    def cli(self, *args, timeout=180, cwd=None):
        if not self.upload_bin or not os.access(self.upload_bin, os.X_OK):
            self.fail(f"PREP_UPLOAD={self.upload_bin!r} is not an executable (run via ./test.sh)")
        env = {k: v for k, v in os.environ.items() if k != "PREP_UPLOAD_STATE"}
        p = subprocess.run([self.upload_bin, *args], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout, cwd=cwd, env=env)
        return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")

    def gateway_cli(self, *args):
        p = subprocess.run([self.env.gateway, *args], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=120,
                           env={**os.environ, "PREP_DB": self.conninfo})
        return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")

    def device_code(self, actas=ACTAS, label="L"):
        rc, out, err = self.gateway_cli("device", "code", "--label", label, "--actas", actas,
                                        "--expires", "1h", "--json", "--db", self.conninfo)
        if rc != 0:
            self.fail("`prep-gateway device code` failed or does not exist yet, so prep-upload "
                      f"cannot enrol (exit {rc}):\n{out}{err}")
        doc = json.loads(out)
        self.assertIsInstance(doc.get("code"), str, doc)
        self.assertIn("expires_at", doc)
        return doc["code"]

    def new_state(self):
        return tempfile.mkdtemp(prefix="prep-upload-", dir=self.env.tmp)

    def enrol(self, state, actas=ACTAS, label="L"):
        code = self.device_code(actas, label)
        rc, out, err = self.cli("enrol", "--code", code, "--server", self.gw.url(""),
                                "--label", label, "--state", state, "--json")
        self.assertEqual(rc, 0, f"enrol failed:\n{out}{err}")
        return code, json.loads(out)

    def device(self):
        """A state folder enrolled once for the class (actas 140338B01*)."""
        cls = type(self)
        if cls._device is None:
            state = self.new_state()
            self.enrol(state)
            cls._device = state
        return cls._device

    def send(self, state, *files, clave=CLAVE, extra=()):
        rc, out, err = self.cli("send", "--clave", clave, "--state", state, "--json", *extra,
                                *files)
        lines = [json.loads(l) for l in out.splitlines() if l.strip()]
        return rc, lines, err

    def gateway_pubkey(self):
        rc, out, err = self.gateway_cli("key", "show", "--data", self.data_dir, "--json")
        self.assertEqual(rc, 0, out + err)
        return json.loads(out)


class ClientTest(ClientHelpers, GatewayTestCase):

    def test_1_enrol(self):
        state = os.path.join(self.new_state(), "s")
        code, doc = self.enrol(state)
        self.assertIsInstance(doc.get("device_id"), str, doc)
        self.assertTrue(doc["device_id"], doc)
        self.assertEqual(stat.S_IMODE(os.stat(state).st_mode), 0o700)
        key = os.path.join(state, "device-ed25519.pem")
        self.assertEqual(stat.S_IMODE(os.stat(key).st_mode), 0o600)
        with open(os.path.join(state, "device.json")) as f:
            dev = json.load(f)
        self.assertEqual(dev["device_id"], doc["device_id"])
        self.assertEqual(dev["server"], self.gw.url(""))
        self.assertIn("actas", dev)
        gk = self.gateway_pubkey()
        self.assertEqual(dev["gateway_key"]["public_key"], gk["public_key"])
        self.assertEqual(dev["gateway_key"]["fingerprint"], gk["fingerprint"])

        # A code works once.
        other = self.new_state()
        rc, out, err = self.cli("enrol", "--code", code, "--server", self.gw.url(""),
                                "--state", other)
        self.assertNotEqual(rc, 0, out + err)
        self.assertIn("HTTP 4", err)
        self.assertFalse(os.path.exists(os.path.join(other, "device.json")))

    def test_2_send_verify_and_resend(self):
        state = self.device()
        small = os.path.join(self.env.fixtures, "small", "ok_o1.jpg")
        big = self.env.gen_acta(seed=4242)  # phone-sized: many DATA frames, flow control
        rc, lines, err = self.send(state, small, big)
        self.assertEqual(rc, 0, f"{lines}\n{err}")
        self.assertEqual([l["status"] for l in lines], [201, 201], lines)
        saved = {}
        for line, path in zip(lines, (small, big)):
            self.assertEqual(line["file"], path)
            receipt = line["receipt"]
            self.assertEqual(receipt, os.path.join(state, "receipts", line["photo_id"] + ".json"))
            doc = json.loads(read_bytes(receipt))
            self.assertReceipt(doc, read_bytes(path))
            self.assertEqual(doc["photo_id"], line["photo_id"])
            self.assertIn("signature", doc)
            saved[path] = read_bytes(receipt)
            rc, out, err = self.cli("verify", "--state", state, receipt)
            self.assertEqual(rc, 0, out + err)
            self.assertTrue(out.startswith("valid "), out)
            # Without --state, a kept receipt is checked with the key of the folder it is in,
            # named absolutely or relative to the current folder.
            for cwd, name in ((self.env.tmp, receipt),
                              (state, os.path.join("receipts", os.path.basename(receipt)))):
                rc, out, err = self.cli("verify", name, cwd=cwd)
                self.assertEqual(rc, 0, out + err)
                self.assertTrue(out.startswith("valid "), out)
            rc, out, err = self.gateway_cli("receipt", "verify", receipt, "--data", self.data_dir)
            self.assertEqual(rc, 0, out + err)

        # The same photo again: 200 and the identical receipt.
        rc, lines2, err = self.send(state, small)
        self.assertEqual(rc, 0, f"{lines2}\n{err}")
        self.assertEqual(lines2[0]["status"], 200, lines2)
        self.assertEqual(lines2[0]["photo_id"], lines[0]["photo_id"])
        self.assertEqual(read_bytes(lines2[0]["receipt"]), saved[small])

        # Over TLS, the certificate checked against the test CA: still the same receipt.
        rc, lines3, err = self.send(state, small, extra=("--server", self.gw.url("", tls=True),
                                                         "--cacert", self.env.cert))
        self.assertEqual(rc, 0, f"{lines3}\n{err}")
        self.assertEqual(lines3[0]["status"], 200, lines3)
        self.assertEqual(read_bytes(lines3[0]["receipt"]), saved[small])
        # Against the system store the self-signed certificate is refused, and not retried.
        t0 = time.monotonic()
        rc, lines4, err = self.send(state, small, extra=("--server", self.gw.url("", tls=True)))
        self.assertEqual(rc, 1, f"{lines4}\n{err}")
        self.assertIn("certificate", lines4[0]["error"])
        self.assertNotIn("retry", err)
        self.assertLess(time.monotonic() - t0, 10)

    def test_3_flipped_byte_fails_verify(self):
        state = self.device()
        photo = os.path.join(self.env.fixtures, "small", "ok_o8.jpg")
        rc, lines, err = self.send(state, photo)
        self.assertEqual(rc, 0, f"{lines}\n{err}")
        good = lines[0]["receipt"]
        data = bytearray(read_bytes(good))
        # One byte inside the ledger hash (still valid JSON and hex).
        i = data.index(b'"hash":"') + len(b'"hash":"') + 10
        data[i] = ord("0") if data[i] != ord("0") else ord("1")
        bad = os.path.join(self.env.tmp, "flipped-receipt.json")
        with open(bad, "wb") as f:
            f.write(data)
        gk = self.gateway_pubkey()
        rc, out, err = self.cli("verify", "--json", "--pubkey", gk["public_key"], good, bad)
        self.assertEqual(rc, 1, out + err)
        verdicts = [json.loads(l) for l in out.splitlines()]
        self.assertEqual([v["valid"] for v in verdicts], [True, False], verdicts)
        rc, out, err = self.gateway_cli("receipt", "verify", bad, "--json", "--data",
                                        self.data_dir)
        self.assertEqual(rc, 1, out + err)
        self.assertEqual(json.loads(out)["reason"], verdicts[1]["reason"])

        # Damage to another signed field (the photo's SHA-256): same verdicts from both tools.
        # (Some members are not signed: status, width, height, ledger.prev, request_id.)
        data = bytearray(read_bytes(good))
        data[data.index(b'"sha256":"') + len(b'"sha256":"') + 32] ^= 0x01
        with open(bad, "wb") as f:
            f.write(data)
        rc1, out1, _ = self.cli("verify", "--json", "--state", state, bad)
        rc2, out2, _ = self.gateway_cli("receipt", "verify", bad, "--json", "--data",
                                        self.data_dir)
        self.assertEqual(rc1, 1)
        self.assertEqual(rc2, 1)
        self.assertEqual(json.loads(out1)["reason"], json.loads(out2)["reason"])

    def test_4_retries_until_the_gateway_is_up(self):
        state = self.device()
        photo = self.env.gen_acta(seed=4243)
        ports = (self.gw.h2c_port, self.gw.tls_port)
        self.gw.stop()
        proc = subprocess.Popen([self.upload_bin, "send", "--clave", CLAVE, "--state", state,
                                 "--retries", "8", "--json", photo],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            time.sleep(2.0)
            self.assertIsNone(proc.poll(), "prep-upload gave up while the gateway was down")
            # The gateway comes back on the same port within the retry window.
            real = harness.free_ports
            harness.free_ports = lambda n: list(ports)
            try:
                self.gw.start()
            finally:
                harness.free_ports = real
            out, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        out, err = out.decode(), err.decode()
        self.assertEqual(proc.returncode, 0, out + err)
        self.assertIn("retry 1 of 8", err)
        line = json.loads(out)
        self.assertEqual(line["status"], 201, line)
        rc, vout, verr = self.cli("verify", "--state", state, line["receipt"])
        self.assertEqual(rc, 0, vout + verr)

    def test_6_progress_on_request(self):
        """--progress draws "FILE: N% of M MB" on stderr (by default only on a terminal); stdout
        keeps the receipt paths alone."""
        state = self.device()
        big = self.env.gen_acta(seed=4343)
        rc, out, err = self.cli("send", "--clave", "140338B010003", "--state", state,
                                "--progress", big)
        self.assertEqual(rc, 0, out + err)
        self.assertRegex(err, r"\r" + re.escape(big) + r": 100% of \d+\.\d MB")
        self.assertEqual(len(out.splitlines()), 1, out)
        self.assertTrue(out.strip().endswith(".json"), out)
        # Not a terminal, no --progress: no progress line.
        rc, out, err = self.cli("send", "--clave", "140338B010003", "--state", state, big)
        self.assertEqual(rc, 0, out + err)
        self.assertNotIn("%", err)

    def test_5_refusals_are_final(self):
        state = self.device()
        photo = os.path.join(self.env.fixtures, "small", "ok_o1.jpg")
        # A malformed clave never leaves the phone.
        rc, out, err = self.cli("send", "--clave", "140338X010002", "--state", state, photo)
        self.assertEqual(rc, 2, out + err)
        self.assertIn("not a valid CLAVE_ACTA", err)

        # A well-formed clave outside the enrolment (140338B01*): 403 from the gateway, no retry.
        before = self.data_files(("spool",))
        t0 = time.monotonic()
        rc, lines, err = self.send(state, photo, clave="150338B010002")
        self.assertEqual(rc, 1, f"{lines}\n{err}")
        self.assertEqual(lines[0]["status"], 403, lines)
        self.assertIn("problem", lines[0])
        self.assertEqual(lines[0]["problem"].get("status"), 403, lines)
        self.assertNotIn("retry", err)
        self.assertIn("HTTP 403", err)
        self.assertLess(time.monotonic() - t0, 10)
        after = self.data_files(("spool",))
        self.assertEqual(
            {p for p in after - before if "receipts" in p}, set(),
            "a refused upload left a receipt in the spool")


class CuttingProxy:
    """A TCP proxy in front of the gateway's h2c port: forwards both directions, and cuts its
    first connection (closes both sockets) once `cut_after` bytes of it went client -> server;
    later connections are forwarded whole. `upstream` counts every byte forwarded client ->
    server, over all connections."""

    def __init__(self, port, cut_after, on_cut=None):
        self.port = port
        self.cut_after = cut_after
        self.on_cut = on_cut  # called (in the proxy's thread) once the cut is made
        self.upstream = 0
        self.connections = 0
        self.cut = False
        self._lock = threading.Lock()
        self._socks = []
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(8)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        for s in [self._listener] + self._socks:
            self._kill(s)

    @staticmethod
    def _kill(s):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()

    def _accept(self):
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                port = self.port() if callable(self.port) else self.port
                server = socket.create_connection(("127.0.0.1", port))
            except OSError:
                self._kill(client)  # the gateway is down (restarting): as a refused connection
                continue
            with self._lock:
                first = self.connections == 0
                self.connections += 1
                self._socks += [client, server]
            threading.Thread(target=self._pump, args=(client, server, first, True),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False, False),
                             daemon=True).start()

    def _pump(self, src, dst, cutting, upstream):
        sent = 0
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            if cutting:
                data = data[:self.cut_after - sent]
            try:
                dst.sendall(data)
            except OSError:
                break
            sent += len(data)
            if upstream:
                with self._lock:
                    self.upstream += len(data)
            if cutting and sent >= self.cut_after:
                self.cut = True
                break
        # One side ended (or the cut): end both, as a dropped mobile link does.
        self._kill(src)
        self._kill(dst)
        if cutting and self.cut and self.on_cut:
            self.on_cut()


class ClientResumeTest(ClientHelpers, GatewayTestCase):
    """An upload cut halfway by the network resumes (IETF Resumable Uploads for HTTP): the retry
    asks the gateway how much it holds and sends only the rest, and gets the same receipt."""

    def send_through(self, photo, cut_after, extra=(), on_cut=None):
        state = self.device()
        # The port is looked up for each connection: a restarted gateway listens on another.
        with CuttingProxy(lambda: self.gw.h2c_port, cut_after, on_cut) as proxy:
            rc, lines, err = self.send(state, photo,
                                       extra=("--server", proxy.url, "--retries", "4", *extra))
        self.assertTrue(proxy.cut, f"the proxy never cut the upload:\n{lines}\n{err}")
        self.assertEqual(rc, 0, f"{lines}\n{err}")
        self.assertEqual(len(lines), 1, lines)
        line = lines[0]
        self.assertEqual(line["status"], 201, line)
        data = read_bytes(photo)
        doc = json.loads(read_bytes(line["receipt"]))
        self.assertEqual(doc["sha256"], sha256_hex(data), doc)
        self.assertEqual(doc["bytes"], len(data), doc)
        rc, out, verr = self.cli("verify", "--state", state, line["receipt"])
        self.assertEqual(rc, 0, out + verr)
        return proxy, line, err

    def test_1_cut_upload_resumes(self):
        photo = self.env.gen_acta(seed=5151, quality=97, noise=10)  # about 8 MB
        size = os.path.getsize(photo)
        proxy, line, err = self.send_through(photo, size // 2)
        self.assertRegex(
            err, r"the gateway holds \d+\.\d MB; sending the remaining \d+\.\d MB",
            "prep-upload did not resume the upload: the gateway must answer the POST with "
            "104 and a Location (draft-ietf-httpbis-resumable-upload), and HEAD/PATCH "
            f"/v1/uploads/<token>:\n{err}")
        self.assertRegex(err, r"connection lost at \d+% \(\d+\.\d of \d+\.\d MB\); "
                              r"resuming in \d+\.\d s \(retry 1 of 4\)", err)
        # Half went up before the cut, the rest after it: a restart from byte 0 would make it
        # 1.5 times the photo.
        self.assertLess(proxy.upstream, 1.3 * size,
                        f"{proxy.upstream} bytes went up for a {size}-byte photo: the retry "
                        f"started again from the start\n{err}")
        self.assertGreater(line["resumed_from"], 0, line)
        self.assertLessEqual(line["resumed_from"], size // 2, line)
        self.assertEqual(proxy.connections, 2, err)

    def test_1b_resumes_across_a_gateway_restart(self):
        """The link drops at half and the gateway is killed (SIGKILL) and restarted meanwhile:
        prep-upload retries until it is back, and resumes from what reached its disk."""
        photo = self.env.gen_acta(seed=5153, quality=97, noise=10)
        size = os.path.getsize(photo)

        def restart():
            self.gw.kill()
            self.gw.start()

        proxy, line, err = self.send_through(photo, size // 2, extra=("--retries", "8"),
                                             on_cut=restart)
        self.assertRegex(err, r"the gateway holds \d+\.\d MB; sending the remaining", err)
        self.assertLess(proxy.upstream, 1.3 * size, err)
        self.assertGreater(line["resumed_from"], 0, line)

    def test_2_no_resume_starts_again(self):
        """--no-resume: the same cut costs a whole second upload (what test_1 measures against)."""
        photo = self.env.gen_acta(seed=5152, quality=97, noise=10)
        size = os.path.getsize(photo)
        proxy, line, err = self.send_through(photo, size // 2, extra=("--no-resume",))
        self.assertNotIn("the gateway holds", err)
        self.assertIn("retry 1 of 4", err)
        self.assertEqual(line["resumed_from"], 0, line)
        self.assertGreaterEqual(proxy.upstream, 1.45 * size, err)

    def test_3_refused_upload_is_cancelled(self):
        """A photo refused after its 104 (not a JPEG): final, and its upload resource is
        DELETEd rather than left to expire."""
        state = self.device()
        bad = os.path.join(self.env.tmp, "not-a-photo.jpg")
        with open(bad, "wb") as f:
            f.write(os.urandom(1 << 20))
        # The server named, as test_1b restarted the gateway on other ports.
        rc, lines, err = self.send(state, bad, extra=("--server", self.gw.url("")))
        self.assertEqual(rc, 1, f"{lines}\n{err}")
        self.assertGreaterEqual(lines[0]["status"], 400, lines)
        self.assertLess(lines[0]["status"], 500, lines)
        self.assertNotIn("retry", err)
        log = self.gw.stderr_text()
        self.assertRegex(log, r'method=DELETE path="/v1/uploads/[0-9a-f]{32}"', err)

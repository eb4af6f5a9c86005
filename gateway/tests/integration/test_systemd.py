"""The gateway under systemd: the sd_notify protocol spoken to a real notification socket (READY
once it listens, WATCHDOG at the interval systemd asks for, STOPPING on SIGTERM), a wedged event
loop starving the watchdog (a test-build hook stalls loop 0), and the unit file in the tree
checked by systemd-analyze: `verify` on a root holding the unit, the binary and systemd's own
units, and `security` with the exposure docs/operations.md states."""

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from harness import GatewayTestCase

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
UNIT = os.path.join(ROOT, "deploy", "systemd", "prep-gateway.service")


class NotifySocket:
    """A datagram socket standing in for systemd's $NOTIFY_SOCKET: every message it receives,
    with the time it came."""

    def __init__(self, directory):
        self.path = os.path.join(directory, f"notify-{os.getpid()}-{id(self)}.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.messages = []  # (monotonic time, {field: value})
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        while not self.done.is_set():
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            with self.lock:
                self.messages.append((time.monotonic(), fields))

    def times(self, key, value="1"):
        with self.lock:
            return [t for t, f in self.messages if f.get(key) == value]

    def wait_for(self, key, value="1", timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for _, f in self.messages:
                    if f.get(key) == value:
                        return f
            time.sleep(0.05)
        raise AssertionError(f"no {key}={value} within {timeout} s; got {self.messages!r}")

    def close(self):
        self.done.set()
        self.thread.join(timeout=2)
        self.sock.close()
        os.unlink(self.path)


class NotifyTestCase(GatewayTestCase):
    watchdog_usec = 1500000

    @classmethod
    def setUpClass(cls):
        cls.notify = NotifySocket(os.environ["PREP_TMP"])
        cls.gateway_env = {**cls.gateway_env, "NOTIFY_SOCKET": cls.notify.path,
                           "WATCHDOG_USEC": str(cls.watchdog_usec)}
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.notify.close()


class NotifyTest(NotifyTestCase):
    def test_1_ready_once_listening(self):
        ready = self.notify.wait_for("READY")
        self.assertEqual(ready.get("STATUS"), "receiving uploads")
        self.assertEqual(len(self.notify.times("READY")), 1)
        # READY came from a gateway that answers (the harness waited for /healthz as well).
        self.assertEqual(self.get("/healthz").status, 200)

    def test_2_watchdog_fed_at_half_the_interval(self):
        before = len(self.notify.times("WATCHDOG"))
        time.sleep(3.2)
        fed = self.notify.times("WATCHDOG")
        # Every 0.75 s for WatchdogSec=1.5 s: 4 in 3.2 s, give or take one.
        self.assertGreaterEqual(len(fed) - before, 3, f"watchdog fed {len(fed) - before} times")
        self.assertLessEqual(len(fed) - before, 5)
        gaps = [b - a for a, b in zip(fed, fed[1:])]
        self.assertLess(max(gaps), 1.4, f"a gap near the watchdog's 1.5 s: {gaps}")

    def test_3_stopping_on_sigterm(self):
        self.assertEqual(self.gw.stop(signal.SIGTERM), 0)
        stopping = self.notify.wait_for("STOPPING", timeout=2)
        self.assertIn("finishing", stopping.get("STATUS", ""))
        ready, stop = self.notify.times("READY")[0], self.notify.times("STOPPING")[0]
        self.assertLess(ready, stop)


class StalledLoopTest(NotifyTestCase):
    # Loop 0 stops ticking 3 s after it starts; WatchdogSec=2 s, so the gateway checks every second
    # and gives up on a loop silent for 5 s.
    watchdog_usec = 2000000
    gateway_env = {"PREP_TEST_STALL_LOOP_AFTER_S": "3"}

    @classmethod
    def tearDownClass(cls):
        # A wedged loop cannot drain: this gateway is killed, as systemd would.
        cls.gw.kill()
        super().tearDownClass()

    def test_wedged_loop_starves_the_watchdog(self):
        if "test build" not in self.gw.stderr_text():
            self.skipTest("needs the test-hooks build (build-asan)")
        deadline = time.monotonic() + 20
        while 'msg="event loop stalled' not in self.gw.stderr_text():
            self.assertLess(time.monotonic(), deadline, "the stall was not noticed:\n" +
                            self.gw.stderr_tail())
            time.sleep(0.2)
        self.assertIn("loop=0", self.gw.stderr_text())
        fed_before = self.notify.times("WATCHDOG")
        self.assertGreaterEqual(len(fed_before), 2, "the watchdog was never fed before the stall")
        time.sleep(3)
        self.assertEqual(self.notify.times("WATCHDOG"), fed_before,
                         "the watchdog was fed while a loop was wedged")
        self.assertTrue(self.gw.alive())  # it is systemd's job to kill it, not the gateway's


class UnitFileTest(unittest.TestCase):
    def test_verify(self):
        """systemd-analyze verify on a root that has what the unit names: the binary where
        ExecStart= says, /bin/kill, and systemd's own units (the targets it orders against)."""
        root = tempfile.mkdtemp(prefix="unit-root-", dir=os.environ["PREP_TMP"])
        self.addCleanup(shutil.rmtree, root, ignore_errors=True)
        exe = re.search(r"^ExecStart=(\S+)", open(UNIT).read(), re.M).group(1)
        for path, src in ((exe, os.environ["PREP_GATEWAY"]), ("/bin/kill", "/bin/kill")):
            os.makedirs(os.path.dirname(root + path), exist_ok=True)
            shutil.copy(src, root + path)
        shutil.copytree("/usr/lib/systemd/system", root + "/usr/lib/systemd/system",
                        symlinks=True)
        os.makedirs(root + "/etc/systemd/system")
        shutil.copy(UNIT, root + "/etc/systemd/system/")
        p = subprocess.run(["systemd-analyze", "verify", f"--root={root}",
                            "prep-gateway.service"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        out = p.stdout.decode()
        self.assertEqual(p.returncode, 0, out)
        self.assertNotIn("prep-gateway.service:", out, f"systemd-analyze has remarks:\n{out}")

    def test_security_exposure_is_the_documented_one(self):
        p = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager", UNIT],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        out = p.stdout.decode()
        m = re.search(r"Overall exposure level for prep-gateway.service: ([0-9.]+) (\w+)", out)
        self.assertIsNotNone(m, out[-2000:])
        docs = open(os.path.join(ROOT, "docs", "operations.md")).read()
        said = re.search(r"gives an overall\s+exposure of ([0-9.]+)", docs)
        self.assertIsNotNone(said, "docs/operations.md does not state the exposure level")
        self.assertEqual(m.group(1), said.group(1),
                         f"systemd-analyze says {m.group(1)} {m.group(2)}; the docs say "
                         f"{said.group(1)}")
        self.assertLessEqual(float(m.group(1)), 2.0, out)


if __name__ == "__main__":
    unittest.main()

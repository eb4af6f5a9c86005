"""--max-buffered: the upload bytes the gateway holds in memory, all uploads together, are
bounded; past the bound a new upload gets 503 before any of its bytes are read, and intake
resumes as soon as memory is freed."""

import os
import socket
import time

from harness import GatewayTestCase, read_bytes, upload_path
from test_protocol import PREFACE, frame, hpack_literal


class BufferCapTest(GatewayTestCase):
    # One upload's first buffer (64 KiB) fills the cap.
    gateway_args = ("--max-buffered", "64KiB")

    def stalled_upload(self, data):
        """An upload that sent its first 16 KiB and then waits, holding its buffer."""
        block = b"".join(hpack_literal(n, v) for n, v in [
            (":method", "POST"), (":scheme", "http"), (":authority", "localhost"),
            (":path", upload_path()), ("content-type", "image/jpeg"),
            ("content-length", str(len(data)))])
        s = socket.create_connection(("127.0.0.1", self.gw.h2c_port), timeout=10)
        s.sendall(PREFACE + frame(4, 0, 0) + frame(1, 4, 1, block) +
                  frame(0, 0, 1, data[:16384]))
        return s

    def test_uploads_wait_for_memory(self):
        path = self.env.gen_acta(seed=1601, width=2000, height=1500)
        data = read_bytes(path)
        s = self.stalled_upload(data)
        time.sleep(0.5)
        r = self.upload(path)
        self.assertProblem(r, 503, "service-unavailable")
        s.close()
        deadline = time.monotonic() + 10
        while True:
            r = self.upload(path)
            if r.status == 201 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertCreated(r, data)


class PriorityTest(GatewayTestCase):
    """Image processing runs at a lower CPU priority than intake (the event loops and the
    spool writers), so that receipts are not late while photos are decoded."""

    def test_workers_are_niced(self):
        nice = {}
        task_dir = f"/proc/{self.gw.pid}/task"
        for tid in os.listdir(task_dir):
            with open(os.path.join(task_dir, tid, "stat")) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(os.path.join(task_dir, tid, "comm")) as f:
                nice[tid] = (f.read().strip(), int(fields[16]))  # field 19 of stat: nice
        values = [n for _, n in nice.values()]
        base = os.getpriority(os.PRIO_PROCESS, 0)  # the gateway inherits ours
        # --workers 2 by default: two processing threads 10 nicer, the rest (loops, pools) not.
        self.assertEqual(values.count(min(base + 10, 19)), 2, nice)
        self.assertGreaterEqual(values.count(base), 4, nice)

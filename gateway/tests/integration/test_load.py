"""Fifty concurrent 8 MB uploads of the same photo: all succeed, one photo is stored."""

import hashlib
import os
import re
import subprocess

from harness import GatewayTestCase, read_bytes, upload_path

BIG = 8 * 1024 * 1024


def vm_hwm_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc/PID/status")


class LoadTest(GatewayTestCase):
    def big_jpeg(self):
        """An acta JPEG of at least 8 MiB (noise is what JPEG compresses worst)."""
        tries = [(4000, 3000, 97, 10), (4500, 3375, 96, 10), (5000, 3750, 97, 10),
                 (6000, 4500, 98, 16)]
        for w, h, q, noise in tries:
            path = self.env.gen_acta(seed=401, width=w, height=h, quality=q, noise=noise)
            if os.path.getsize(path) >= BIG:
                return path
        self.fail(f"acta-gen did not reach {BIG} bytes (last {os.path.getsize(path)})")

    def test_h2load_50_uploads(self):
        path = self.big_jpeg()
        data = read_bytes(path)
        cmd = ["h2load", "-c", "10", "-m", "5", "-n", "50", "-d", path,
               "-H", "Content-Type: image/jpeg", self.gw.url(upload_path())]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
        out = p.stdout.decode(errors="replace")
        m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                      r"(\d+) failed, (\d+) errored, (\d+) timeout", out)
        self.assertIsNotNone(m, f"no request summary in h2load output:\n{out}")
        total, _, done, succeeded, failed, errored, timeout = map(int, m.groups())
        # The gateway's own account of the requests that did not succeed.
        refused = "\n".join(l[:300] for l in self.gw.stderr_text().splitlines()
                            if "status=20" not in l and "msg=queued" not in l)
        self.assertEqual((total, done, succeeded, failed, errored, timeout),
                         (50, 50, 50, 0, 0, 0), f"h2load:\n{out}\ngateway:\n{refused}")
        m = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
        self.assertIsNotNone(m, f"no status code summary in h2load output:\n{out}")
        self.assertEqual(int(m.group(1)), 50, f"all 50 must be 2xx:\n{out}")
        self.assertTrue(self.gw.alive(), "the gateway died under load")
        print(f"    load: 50 x {len(data)} bytes, gateway VmHWM "
              f"{vm_hwm_kib(self.gw.pid) / 1024:.1f} MiB (ASan build)", flush=True)

        # One photo: a retry names it, one row holds it, one original is on disk.
        r = self.upload(path)
        self.assertEqual(r.status, 200, f"after the load, the same bytes are a retry: {r!r}")
        receipt = r.json()
        self.assertReceipt(receipt, data)
        self.wait_status(receipt["photo_id"], "queued", timeout=30)
        self.assertEqual(self.photo_rows(), 1, "exactly one row in photos")
        sha = hashlib.sha256(data).hexdigest()
        copies = [f for f in self.data_files(("store",)) if sha in f and f.endswith(".jpg")]
        self.assertLessEqual(len(copies), 1, f"originals stored more than once: {copies}")
        tmp = os.path.join(self.data_dir, "spool", "tmp")
        self.assertEqual(os.listdir(tmp) if os.path.isdir(tmp) else [], [],
                         "uploads left behind in spool/tmp")
        self.assertEqual(self.get("/healthz").status, 200)

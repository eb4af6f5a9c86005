"""Durability: a receipt survives SIGKILL, and intake never waits on PostgreSQL."""

import hashlib
import os

from harness import GatewayTestCase, free_ports, read_bytes


class CrashTest(GatewayTestCase):
    def assertOriginalOnDisk(self, sha):
        path = os.path.join(self.data_dir, "store", "originals", f"{sha}.jpg")
        self.assertTrue(os.path.exists(path), f"original not at {path}")
        self.assertEqual(hashlib.sha256(read_bytes(path)).hexdigest(), sha,
                         "the stored original's bytes do not match the receipt")

    def test_sigkill_after_receipt(self):
        path = self.env.gen_acta(seed=501, width=3000, height=2250)
        data = read_bytes(path)
        receipt = self.assertCreated(self.upload(path), data)
        self.gw.kill()

        self.gw.start()
        r = self.get(f"/v1/photos/{receipt['photo_id']}")
        self.assertEqual(r.status, 200, f"the photo must survive SIGKILL: {r!r}")
        self.assertEqual(r.json().get("sha256"), receipt["sha256"])
        doc = self.wait_status(receipt["photo_id"], "queued")
        self.assertEqual(doc.get("sha256"), hashlib.sha256(data).hexdigest())
        self.assertEqual(doc.get("bytes"), len(data))
        self.assertOriginalOnDisk(receipt["sha256"])
        # A retry after the crash is still a retry.
        again = self.upload(path)
        self.assertEqual(again.status, 200, f"retry after restart: {again!r}")
        self.assertEqual(again.json(), receipt)
        self.assertEqual(self.photo_rows(receipt["photo_id"]), 1)
        self.fetch_review(receipt["photo_id"])

    def test_intake_without_postgresql(self):
        good = self.conninfo
        # Nothing listens there: a socket directory that does not exist and a free port.
        bad = (f"host={os.path.join(self.env.tmp, 'no-such-socket-dir')} "
               f"port={free_ports(1)[0]} user=prep dbname={self.db} connect_timeout=2")
        self.gw.stop()
        try:
            self.gw.start(conninfo=bad)
            path = self.env.gen_acta(seed=502, width=2000, height=1500)
            data = read_bytes(path)
            receipt = self.assertCreated(self.upload(path, timeout=30), data)
            status, doc = self.get_json(f"/v1/photos/{receipt['photo_id']}")
            self.assertEqual(status, 200, "the local receipt answers while PostgreSQL is away")
            self.assertEqual(doc.get("status"), "received", f"without PostgreSQL: {doc}")
            self.assertEqual(self.photo_rows(receipt["photo_id"]), 0)
            self.gw.stop()
        finally:
            if self.gw.alive():
                self.gw.stop()
            self.gw.start(conninfo=good)
        self.wait_status(receipt["photo_id"], "queued")
        self.assertEqual(self.photo_rows(receipt["photo_id"]), 1)
        self.assertOriginalOnDisk(receipt["sha256"])

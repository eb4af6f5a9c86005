"""Durability: a receipt survives SIGKILL, and intake never waits on PostgreSQL."""

import hashlib
import os
import time

from harness import GatewayTestCase, TmpfsDataTestCase, free_ports, read_bytes


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


class PoisonPhotoTest(GatewayTestCase):
    """A photo whose decoding crashes the gateway is marked failed after 3 crashes, while a kill
    under a photo that is being processed never counts against it (test build hook
    PREP_TEST_CRASH_DECODING_CLAVE: decoding a photo of that clave aborts)."""

    POISON = "140338B010077"
    gateway_env = {"PREP_TEST_CRASH_DECODING_CLAVE": POISON}
    status_timeout = 30.0

    def wait_death(self, timeout=30):
        deadline = time.monotonic() + timeout
        while self.gw.alive():
            if time.monotonic() > deadline:
                self.fail("the gateway did not crash on the poison photo")
            time.sleep(0.1)
        # Expected: not a problem of the gateway under test.
        self.gw.exits.append((self.gw.logs[-1], self.gw.proc.returncode, False))

    def test_poison_photo_fails_after_three_crashes(self):
        self.assertIn("test build", self.gw.stderr_text(),
                      "the gateway under test must be built with -Dtest_hooks=true")
        path = self.env.gen_acta(seed=503, width=800, height=600)
        receipt = self.assertCreated(self.upload(path, clave=self.POISON), read_bytes(path),
                                     clave=self.POISON)
        for crash in range(3):
            self.wait_death()
            self.gw.start()
        doc = self.wait_status(receipt["photo_id"], "failed")
        self.assertEqual(doc.get("status"), "failed")
        row = self.psql(f"SELECT attempts, status_reason FROM photos"
                        f" WHERE photo_id = '{receipt['photo_id']}'")
        self.assertEqual(row[0][1], "processing did not complete in 3 attempts", row)
        self.assertTrue(self.gw.alive(), "the gateway went on crashing")
        # The gateway goes on with the next photos.
        other = self.env.gen_acta(seed=504, width=800, height=600)
        self.wait_status(self.assertCreated(self.upload(other), read_bytes(other))["photo_id"],
                         "queued")

    def test_kills_do_not_count(self):
        path = self.env.gen_acta(seed=505, width=800, height=600)
        receipt = self.assertCreated(self.upload(path), read_bytes(path))
        pid = receipt["photo_id"]
        self.wait_status(pid, "queued")
        # As a gateway killed three times while it processed the photo leaves it: a claim per
        # kill, the last one still held.
        self.gw.kill()
        self.psql(f"UPDATE photos SET status = 'processing', claimed_at = now(), attempts = 3"
                  f" WHERE photo_id = '{pid}'")
        self.gw.start()
        self.wait_status(pid, "queued")
        self.assertEqual(self.psql(f"SELECT attempts FROM photos WHERE photo_id = '{pid}'"),
                         [["3"]])


class FullDiskProcessingTest(TmpfsDataTestCase):
    """A photo processed while the data folder (a small tmpfs) is full cannot have its review
    image stored: it goes back to the queue and is queued soon after there is room again, not
    after its 300 s processing lease."""

    tmpfs_size = "40m"

    def test_review_image_without_room(self):
        good = self.conninfo
        bad = (f"host={os.path.join(self.env.tmp, 'no-such-socket-dir')} "
               f"port={free_ports(1)[0]} user=prep dbname={self.db} connect_timeout=2")
        # Received while PostgreSQL is away, so processed only at the next start.
        self.gw.stop()
        self.gw.start(conninfo=bad)
        path = self.env.gen_acta(seed=506, width=2000, height=1500)
        receipt = self.assertCreated(self.upload(path), read_bytes(path))
        self.gw.stop()
        st = os.statvfs(self.data_dir)
        filler = os.path.join(self.data_dir, "filler")
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            os.posix_fallocate(fd, 0, st.f_bavail * st.f_frsize)
        finally:
            os.close(fd)
        try:
            self.gw.start(conninfo=good)
            deadline = time.monotonic() + 20
            while "could not store review image" not in self.gw.stderr_text():
                self.assertLess(time.monotonic(), deadline, "the photo was not processed")
                time.sleep(0.2)
        finally:
            os.unlink(filler)
        doc = self.wait_status(receipt["photo_id"], "queued", timeout=15)
        self.assertEqual(doc.get("sha256"), receipt["sha256"])
        self.assertEqual(self.psql(f"SELECT attempts FROM photos"
                                   f" WHERE photo_id = '{receipt['photo_id']}'"), [["1"]])

"""Provenance so far: signed receipts that verify offline, and a hash-chained ledger whose
spool and PostgreSQL copies `prep-gateway ledger verify` checks, tampering included."""

import json
import os
import subprocess

from harness import GatewayTestCase, TmpfsDataTestCase, read_bytes


class LedgerTest(GatewayTestCase):
    def cli(self, *args):
        p = subprocess.run([self.env.gateway, *args], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def receipt_file(self, receipt, name):
        path = os.path.join(self.env.tmp, f"{self.db}-{name}.json")
        with open(path, "w") as f:
            json.dump(receipt, f, separators=(",", ":"))
        return path

    def upload_fixture(self, name):
        path = os.path.join(self.env.fixtures, "small", name)
        return self.assertCreated(self.upload(path), read_bytes(path))

    def test_1_receipts_verify_offline(self):
        receipt = self.upload_fixture("ok_o4.jpg")
        self.assertEqual(receipt["ledger"]["seq"], 1)
        self.assertEqual(receipt["ledger"]["prev"], "0" * 64)
        rc, out, err = self.cli("key", "show", "--data", self.data_dir, "--json")
        self.assertEqual(rc, 0, err)
        key = json.loads(out)
        self.assertEqual(receipt["gateway_key"], key["fingerprint"])

        good = self.receipt_file(receipt, "good")
        rc, out, err = self.cli("receipt", "verify", good, "--pubkey", key["public_key"])
        self.assertEqual(rc, 0, out + err)
        # One byte flipped anywhere the signature covers: detected.
        for field, value in (("bytes", receipt["bytes"] + 1),
                             ("clave_acta", "140338B010001"),
                             ("received_at", receipt["received_at"].replace(":", ";", 1))):
            bad = dict(receipt, **{field: value})
            rc, out, err = self.cli("receipt", "verify", self.receipt_file(bad, field),
                                    "--pubkey", key["public_key"], "--json")
            self.assertEqual(rc, 1, f"flipping {field} went unnoticed: {out}{err}")
            self.assertFalse(json.loads(out)["valid"])
        # A retry returns the same signed receipt, and the ledger does not grow.
        again = self.upload(os.path.join(self.env.fixtures, "small", "ok_o4.jpg"))
        self.assertEqual(again.status, 200)
        self.assertEqual(again.json(), receipt)

    def test_2_ledger_verify_and_tamper(self):
        second = self.upload_fixture("ok_o5.jpg")
        self.assertEqual(second["ledger"]["seq"], 2)
        self.wait_status(second["photo_id"], "queued")
        rc, out, err = self.cli("ledger", "verify", "--data", self.data_dir, "--db",
                                self.conninfo, "--json")
        self.assertEqual(rc, 0, out + err)
        doc = json.loads(out)
        self.assertEqual((doc["entries"], doc["database_rows"]), (2, 2))

        rc, out, err = self.cli("ledger", "checkpoint", "--data", self.data_dir, "--json")
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["length"], 2)

        # A DBA edits a row behind the trigger's back: ledger verify names it.
        self.psql("ALTER TABLE ledger DISABLE TRIGGER ledger_append_only;"
                  "UPDATE ledger SET sha256 = repeat('0', 64) WHERE seq = 2;"
                  "ALTER TABLE ledger ENABLE TRIGGER ledger_append_only")
        rc, out, err = self.cli("ledger", "verify", "--data", self.data_dir, "--db",
                                self.conninfo, "--json")
        self.assertEqual(rc, 1, out + err)
        self.assertEqual(json.loads(out)["seq"], 2)
        with self.assertRaises(Exception):
            self.psql("DELETE FROM ledger WHERE seq = 1")

    def test_3_sigkill_keeps_the_chain(self):
        receipt = self.upload_fixture("ok_o6.jpg")
        self.gw.kill()
        self.gw.start()
        third = self.upload_fixture("ok_o7.jpg")
        self.assertEqual(third["ledger"]["seq"], receipt["ledger"]["seq"] + 1)
        self.assertEqual(third["ledger"]["prev"], receipt["ledger"]["hash"])
        # The spool's copy still verifies whatever happened to the database's.
        path = os.path.join(self.data_dir, "ledger.jsonl")
        with open(path) as f:
            self.assertEqual(len(f.readlines()), third["ledger"]["seq"])


class FullDiskLedgerTest(TmpfsDataTestCase):
    """The data folder on a small tmpfs filled so that a photo's bytes fit but its receipt does
    not: the ledger entry appended for it is taken back, so the chain (file and table) stays one
    entry per acknowledged photo; and a gateway that starts on a full disk with an entry whose
    receipt was never written starts all the same."""

    tmpfs_size = "40m"

    def fill(self, leave):
        """A filler file that leaves |leave| bytes free; returns its path."""
        st = os.statvfs(self.data_dir)
        path = os.path.join(self.data_dir, f"filler-{leave}")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            os.posix_fallocate(fd, 0, st.f_bavail * st.f_frsize - leave)
        finally:
            os.close(fd)
        return path

    def ledger_lines(self):
        with open(os.path.join(self.data_dir, "ledger.jsonl")) as f:
            return f.read().count("\n")

    def verify(self, want):
        p = subprocess.run([self.env.gateway, "ledger", "verify", "--data", self.data_dir,
                            "--db", self.conninfo, "--json"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout.decode() + p.stderr.decode())
        doc = json.loads(p.stdout)
        self.assertEqual((doc["entries"], doc["database_rows"]), (want, want), doc)

    def photo(self, seed):
        path = self.env.gen_acta(seed=seed, width=800, height=600)
        return path, read_bytes(path)

    def test_1_receipt_without_room(self):
        path, data = self.photo(611)
        first = self.assertCreated(self.upload(path), data)
        self.wait_status(first["photo_id"], "queued")
        path, data = self.photo(612)
        # Room for the photo's pages (it is preallocated), none for its receipt.
        filler = self.fill((len(data) + 4095) // 4096 * 4096)
        self.assertProblem(self.upload(path, client="nghttp"), 503, "insufficient-storage")
        os.unlink(filler)
        self.assertEqual(self.ledger_lines(), 1, "the entry of an unacknowledged photo stayed")
        again = self.assertCreated(self.upload(path), data)
        self.assertEqual(again["ledger"]["seq"], 2)
        self.assertEqual(again["ledger"]["prev"], first["ledger"]["hash"])
        self.wait_status(again["photo_id"], "queued")
        self.verify(2)

    def test_2_start_on_a_full_disk(self):
        path, data = self.photo(613)
        receipt = self.assertCreated(self.upload(path), data)
        self.wait_status(receipt["photo_id"], "queued")
        seq = receipt["ledger"]["seq"]
        # As if the process died after the ledger append, before the receipt was written.
        self.gw.kill()
        for folder in ("pending", "receipts"):
            name = os.path.join(self.data_dir, "spool", folder, receipt["photo_id"] + ".json")
            if os.path.exists(name):
                os.unlink(name)
        self.psql(f"ALTER TABLE ledger DISABLE TRIGGER ledger_append_only;"
                  f"DELETE FROM ledger WHERE seq = {seq};"
                  f"ALTER TABLE ledger ENABLE TRIGGER ledger_append_only;"
                  f"DELETE FROM verification_queue WHERE photo_id = '{receipt['photo_id']}';"
                  f"DELETE FROM photos WHERE photo_id = '{receipt['photo_id']}'")
        filler = self.fill(0)
        try:
            self.gw.start()  # before: "could not open the ledger", exit 1
            self.assertEqual(self.ledger_lines(), seq - 1)
            self.assertProblem(self.upload(path, client="nghttp"), 503, "insufficient-storage")
        finally:
            os.unlink(filler)
        again = self.assertCreated(self.upload(path), data)
        self.assertEqual(again["ledger"]["seq"], seq)
        self.wait_status(again["photo_id"], "queued")
        self.verify(seq)

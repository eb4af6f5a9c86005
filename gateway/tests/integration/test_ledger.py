"""Provenance so far: signed receipts that verify offline, and a hash-chained ledger whose
spool and PostgreSQL copies `prep-gateway ledger verify` checks, tampering included."""

import json
import os
import subprocess

from harness import GatewayTestCase, read_bytes


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

"""Backups and their restore (docs/operations.md, "Backups"): a pg_dump of the database and a copy
of the data folder, restored into a new database and folder, give a gateway whose ledger verifies
against its database, that serves the photos it had and whose new uploads chain onto the old
ledger. A copy of the folder older than the dump is caught by `ledger verify` before it serves."""

import os
import shutil
import subprocess

from harness import GatewayTestCase, read_bytes


class BackupRestoreTest(GatewayTestCase):
    status_timeout = 60.0

    def pg(self, tool, *args):
        path = os.path.join(os.path.dirname(self.env.psql_bin), tool)
        p = subprocess.run([path if os.path.exists(path) else tool, "-h", self.env.pg_sockdir,
                            "-p", self.env.pg_port, "-U", "prep", *args],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout.decode())

    def verify(self, data, conninfo):
        p = subprocess.run([self.env.gateway, "ledger", "verify", "--data", data, "--db",
                            conninfo], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=120)
        return p.returncode, p.stdout.decode()

    def backup(self, label):
        """The documented backup, taken with the gateway stopped: pg_dump -Fc and the folder."""
        dump = os.path.join(self.env.tmp, f"backup-{label}-{os.getpid()}.dump")
        self.pg("pg_dump", "-Fc", "-f", dump, self.db)
        folder = os.path.join(self.env.tmp, f"backup-{label}-{os.getpid()}-data")
        shutil.copytree(self.data_dir, folder, symlinks=True)
        return dump, folder

    def restore(self, dump, label):
        db = self.env.create_db(f"restored_{label}")
        self.pg("pg_restore", "--no-owner", "-d", db, dump)
        return self.env.conninfo(db)

    def test_b_restore_verifies_serves_and_goes_on(self):
        photos = [self.env.gen_acta(seed=7200 + i, width=800, height=600) for i in range(5)]
        receipts = [self.assertCreated(self.upload(p), read_bytes(p)) for p in photos]
        for rec in receipts:
            self.wait_status(rec["photo_id"], "queued")
        self.gw.stop()
        dump, folder = self.backup("night")
        self.gw.start()

        conninfo = self.restore(dump, "night")
        rc, out = self.verify(folder, conninfo)
        self.assertEqual(rc, 0, out)
        # The class's gateway, moved onto the restored copy (the last test of the class).
        self.gw.stop()
        self.gw.data_dir = folder
        self.gw.start(conninfo=conninfo)
        for rec in receipts:
            r = self.get(f"/v1/photos/{rec['photo_id']}")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["status"], "queued")
            self.assertEqual(self.get(f"/v1/photos/{rec['photo_id']}/review.webp").status, 200)
        extra = self.env.gen_acta(seed=7299, width=800, height=600)
        new = self.assertCreated(self.upload(extra), read_bytes(extra))
        self.assertEqual(new["ledger"]["seq"], receipts[-1]["ledger"]["seq"] + 1)
        self.assertEqual(new["ledger"]["prev"], receipts[-1]["ledger"]["hash"])
        self.wait_status(new["photo_id"], "queued")
        self.gw.stop()
        rc, out = self.verify(folder, conninfo)
        self.assertEqual(rc, 0, out)

    def test_a_stale_folder_copy_is_caught(self):
        first = self.env.gen_acta(seed=7300, width=800, height=600)
        self.wait_status(self.assertCreated(self.upload(first), read_bytes(first))["photo_id"],
                         "queued")
        self.gw.stop()
        _, old_folder = self.backup("stale")
        self.gw.start()
        later = self.env.gen_acta(seed=7301, width=800, height=600)
        self.wait_status(self.assertCreated(self.upload(later), read_bytes(later))["photo_id"],
                         "queued")
        self.gw.stop()
        dump, _ = self.backup("later")
        self.gw.start()
        rc, out = self.verify(old_folder, self.restore(dump, "later"))
        self.assertNotEqual(rc, 0, "a folder older than the dump must not verify:\n" + out)


if __name__ == "__main__":
    import unittest
    unittest.main()

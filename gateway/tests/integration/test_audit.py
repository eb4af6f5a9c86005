"""The audit ceremony: a signed manifest of the installed files that catches a changed byte in
the gateway binary, and the signed "en ceros" statement that holds only on empty databases."""

import json
import os
import shutil
import subprocess

from harness import GatewayTestCase, read_bytes


class AuditTest(GatewayTestCase):
    def cli(self, binary, *args):
        p = subprocess.run([binary, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=300)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def test_1_zero_then_not_zero(self):
        rc, out, err = self.cli(self.env.gateway, "audit", "zero", "--data", self.data_dir,
                                "--db", self.conninfo, "--json")
        self.assertEqual(rc, 0, out + err)
        doc = json.loads(out)
        self.assertTrue(doc["zero"])
        self.assertEqual(doc["counts"]["photos"], 0)
        self.assertIn("signature", doc)

        path = os.path.join(self.env.fixtures, "small", "ok_o8.jpg")
        self.assertCreated(self.upload(path), read_bytes(path))
        rc, out, err = self.cli(self.env.gateway, "audit", "zero", "--data", self.data_dir,
                                "--db", self.conninfo)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("NOT empty", err)
        self.assertIn("spool/receipts=1", err)

    def test_2_manifest_catches_a_changed_binary(self):
        install = os.path.join(self.env.tmp, f"install-{self.db}")
        os.makedirs(install, exist_ok=True)
        binary = os.path.join(install, "prep-gateway")
        shutil.copy2(self.env.gateway, binary)
        config = os.path.join(install, "gateway.conf")
        with open(config, "w") as f:
            f.write("--max-body 20MiB\n")
        manifest = os.path.join(install, "manifest.json")

        rc, out, err = self.cli(binary, "audit", "manifest", "--out", manifest, "--data",
                                self.data_dir, "--include", config)
        self.assertEqual(rc, 0, out + err)
        listed = [f["path"] for f in json.load(open(manifest))["files"]]
        self.assertIn(os.path.realpath(binary), listed)
        self.assertTrue(any(p.endswith(".sql") for p in listed), "the schema is not listed")
        rc, out, err = self.cli(self.env.gateway, "audit", "verify", manifest, "--data",
                                self.data_dir)
        self.assertEqual(rc, 0, out + err)

        # One byte of the installed binary changes (its last byte: the section table).
        data = bytearray(read_bytes(binary))
        data[-1] ^= 0x01
        with open(binary, "wb") as f:
            f.write(data)
        rc, out, err = self.cli(self.env.gateway, "audit", "verify", manifest, "--data",
                                self.data_dir, "--json")
        self.assertEqual(rc, 1, out + err)
        problems = json.loads(out)["problems"]
        self.assertIn({"status": "changed", "path": os.path.realpath(binary)}, problems)

        # A file added next to the configuration, and the configuration removed.
        with open(os.path.join(install, "extra.conf"), "w") as f:
            f.write("x\n")
        os.unlink(config)
        rc, out, err = self.cli(self.env.gateway, "audit", "verify", manifest, "--data",
                                self.data_dir)
        self.assertEqual(rc, 1)
        self.assertIn("missing", out)
        self.assertIn(os.path.realpath(config), out)

        # A manifest whose list was edited no longer carries a valid signature.
        doc = json.load(open(manifest))
        doc["files"][0]["sha256"] = "0" * 64
        edited = os.path.join(install, "edited.json")
        json.dump(doc, open(edited, "w"))
        rc, out, err = self.cli(self.env.gateway, "audit", "verify", edited, "--data",
                                self.data_dir)
        self.assertEqual(rc, 1)
        self.assertIn("bad-signature", out)

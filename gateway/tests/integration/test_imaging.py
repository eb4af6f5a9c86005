"""GET /v1/photos/{id} shows the imaging verdicts: legibility, the QR code against the URL's
clave, and duplicates or conflicts among the photos of one clave. None of them refuses a photo."""

import json
import os
import subprocess

from harness import CLAVE, GatewayTestCase


class ImagingTest(GatewayTestCase):
    # Under ASan a 2400x1800 photo with analysis takes a few seconds.
    status_timeout = 60.0

    def queued(self, path, clave=CLAVE):
        r = self.upload(path, clave=clave)
        self.assertIn(r.status, (200, 201), repr(r))
        doc = self.wait_status(r.json()["photo_id"], "queued")
        return r.json()["photo_id"], doc.get("metadata") or {}

    def verify_receipt(self, doc):
        """`prep-gateway receipt verify` on |doc| written to a file: (exit code, output)."""
        path = os.path.join(self.env.tmp, f"{self.db}-{doc['photo_id']}-receipt.json")
        with open(path, "w") as f:
            json.dump(doc, f)
        p = subprocess.run([self.env.gateway, "receipt", "verify", path, "--data", self.data_dir],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        return p.returncode, p.stdout.decode(errors="replace")

    def test_status_carries_the_signed_verdict(self):
        path = self.env.gen_acta(seed=408, degrade="dark:0.2", width=2400, height=1800,
                                 quality=85, noise=3)
        r = self.upload(path)
        self.assertEqual(r.status, 201, r)
        first = r.json()
        self.assertNotIn("legibility", first)  # the receipt of the bytes comes before processing
        doc = self.wait_status(first["photo_id"], "queued")
        leg = doc.get("legibility") or {}
        self.assertEqual(leg.get("verdict"), "retake", doc)
        self.assertIn("dark", leg["reasons"])
        self.assertTrue(leg["reason"].startswith("Tome la foto otra vez: "), leg)
        self.assertIn("oscura", leg["reason"])
        self.assertEqual(sorted(leg["measures"]), ["clipped", "coverage", "focus", "glare",
                                                   "luma"])
        self.assertLess(leg["measures"]["luma"], 105)
        receipt = doc["receipt"]
        self.assertEqual(receipt["legibility"], leg)
        for k in ("photo_id", "clave_acta", "sha256", "bytes", "received_at", "ledger"):
            self.assertEqual(receipt[k], first[k], k)
        self.assertNotIn("receipt", doc["metadata"])
        rc, out = self.verify_receipt(receipt)
        self.assertEqual(rc, 0, out)
        # The verdict is signed: a phone cannot be told "ok" by anyone but the gateway.
        forged = json.loads(json.dumps(receipt))
        forged["legibility"]["verdict"] = "ok"
        rc, out = self.verify_receipt(forged)
        self.assertNotEqual(rc, 0, out)
        forged = json.loads(json.dumps(receipt))
        forged["legibility"]["measures"]["luma"] += 50
        self.assertNotEqual(self.verify_receipt(forged)[0], 0)
        # The phone's own receipt stays as it was: a retry gets it unchanged.
        again = self.upload(path)
        self.assertEqual(again.status, 200, again)
        self.assertEqual(again.json(), first)

    def test_sharp_photo_says_legible(self):
        path = self.env.gen_acta(seed=409, width=2400, height=1800, quality=85, noise=3)
        r = self.upload(path, clave="140338B010008")
        self.assertEqual(r.status, 201, r)
        doc = self.wait_status(r.json()["photo_id"], "queued")
        self.assertEqual(doc["legibility"]["verdict"], "ok", doc)
        self.assertEqual(doc["legibility"]["reasons"], [])
        self.assertEqual(doc["legibility"]["reason"], "La foto se puede leer.")
        self.assertEqual(self.verify_receipt(doc["receipt"])[0], 0)

    def test_sharp_photo_with_matching_qr(self):
        clave = "140338B010006"  # its own clave: no other photo of the class to compare with
        path = self.env.gen_acta(seed=401, qr=True, clave=clave, width=2400, height=1800,
                                 quality=85, noise=3, orientation=6)
        _, meta = self.queued(path, clave)
        leg = meta.get("legibility") or {}
        self.assertEqual(leg.get("verdict"), "ok", meta)
        self.assertEqual(leg.get("reasons"), [], meta)
        for k in ("focus", "luma", "clipped", "glare", "coverage"):
            self.assertIn(k, leg)
        self.assertEqual(meta.get("qr"), {"readable": True, "payload": clave,
                                          "matches_clave": True}, meta)
        self.assertEqual(meta.get("flags"), [], meta)

    def test_qr_of_another_acta_is_a_flag(self):
        path = self.env.gen_acta(seed=402, qr=True, clave="140338B010003", width=2400,
                                 height=1800, quality=85, noise=3)
        _, meta = self.queued(path)
        self.assertEqual(meta["qr"]["payload"], "140338B010003")
        self.assertFalse(meta["qr"]["matches_clave"])
        self.assertIn("qr_mismatch", meta["flags"])

    def test_small_qr_is_read_at_full_resolution(self):
        # The sheet fills a third of the frame: at the DCT scale the code's modules are under
        # zbar's ~3 pixels, so the gateway reads it again from the full-resolution luma.
        clave = "140338B010007"
        path = self.env.gen_acta(seed=407, qr=True, clave=clave, degrade="small:0.3",
                                 orientation=8)
        _, meta = self.queued(path, clave)
        self.assertEqual(meta["qr"], {"readable": True, "payload": clave, "matches_clave": True,
                                      "full_resolution": True}, meta)

    def test_no_qr_is_a_flag(self):
        path = self.env.gen_acta(seed=403, width=2400, height=1800, quality=85, noise=3)
        _, meta = self.queued(path)
        self.assertEqual(meta["qr"], {"readable": False})
        self.assertIn("qr_unreadable", meta["flags"])

    def test_dark_photo_asks_for_a_retake(self):
        path = self.env.gen_acta(seed=404, qr=True, degrade="dark:0.2", width=2400, height=1800,
                                 quality=85, noise=3)
        _, meta = self.queued(path)
        self.assertEqual(meta["legibility"]["verdict"], "retake", meta)
        self.assertIn("dark", meta["legibility"]["reasons"])
        self.assertIn("retake", meta["flags"])

    def test_blurred_photo_asks_for_a_retake(self):
        path = self.env.gen_acta(seed=405, qr=True, degrade="defocus:0.0025", width=2400,
                                 height=1800, quality=85, noise=3)
        _, meta = self.queued(path)
        self.assertEqual(meta["legibility"]["verdict"], "retake", meta)
        self.assertIn("blurry", meta["legibility"]["reasons"])

    def test_reencode_and_conflict_within_a_clave(self):
        clave = "140338B010005"
        first = self.env.gen_acta(seed=406, qr=True, clave=clave, width=2400, height=1800,
                                  quality=90, noise=3)
        first_id, meta = self.queued(first, clave)
        self.assertEqual(meta.get("duplicates"), [])
        self.assertEqual(meta.get("conflicts"), [])
        self.assertIsInstance(meta.get("signature"), str)
        # The same picture saved again at another quality: a re-encode of the first.
        again = self.env.gen_acta(seed=406, qr=True, clave=clave, width=2400, height=1800,
                                  quality=70, noise=3)
        _, meta = self.queued(again, clave)
        dups = meta.get("duplicates") or []
        self.assertEqual([(d["photo_id"], d["kind"]) for d in dups], [(first_id, "reencode")],
                         meta)
        self.assertIn("duplicate", meta["flags"])
        # Another acta of the same template filed under the same clave: a conflict, not merged.
        other = self.env.gen_acta(seed=407, qr=True, clave=clave, width=2400, height=1800,
                                  quality=90, noise=3)
        _, meta = self.queued(other, clave)
        self.assertEqual(meta.get("duplicates"), [], meta)
        self.assertIn(first_id, [c["photo_id"] for c in meta.get("conflicts") or []])
        self.assertIn("conflict", meta["flags"])

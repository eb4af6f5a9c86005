"""Enrolled devices and signed uploads (RFC 9421 + RFC 9530): every refusal with its status and
problem type, nothing stored for a refused upload, revocation at once, and the metrics."""

import json
import os
import re
import subprocess
import time
import uuid

from harness import SignedTestCase, nghttp_request, read_bytes


class DevicesTest(SignedTestCase):
    gateway_args = ("--signature-skew", "120")
    actas = "140338B01*,140338B02001"

    def photo(self, name):
        path = os.path.join(self.env.fixtures, "small", name)
        return path, read_bytes(path)

    def assertRefused(self, r, status, problem):
        before_rows = self.photo_rows()
        self.assertProblem(r, status, problem)
        time.sleep(0.2)
        self.assertEqual(self.photo_rows(), before_rows)
        self.assertEqual(os.listdir(os.path.join(self.data_dir, "spool", "tmp")), [])

    def test_01_unsigned_is_refused(self):
        path, _ = self.photo("ok_o1.jpg")
        before = self.data_files()
        self.assertRefused(self.upload(path, client="nghttp"), 401, "signature-required")
        self.assertEqual(self.data_files(), before)

    def test_02_signed_upload(self):
        path, data = self.photo("ok_o1.jpg")
        r = self.signed(path)
        receipt = self.assertCreated(r, data)
        self.assertEqual(receipt["device"], self.device)
        doc = self.wait_status(receipt["photo_id"], "queued")
        self.assertEqual(doc["sha256"], receipt["sha256"])
        self.assertEqual(self.psql(f"SELECT source FROM photos WHERE photo_id = "
                                   f"'{receipt['photo_id']}'")[0][0], self.device)
        # A retry with a fresh signature is the same photo.
        again = self.signed(path)
        self.assertEqual(again.status, 200)
        self.assertEqual(again.json(), receipt)

    def own_photos(self, key=None, keyid=None, **opts):
        """GET /v1/devices/self/photos signed by |key| (the class's device by default) over the
        digest of the empty body; opts: method (signed instead of GET), nonce."""
        empty = os.path.join(self.env.tmp, "empty-body")
        open(empty, "wb").close()
        path = "/v1/devices/self/photos"
        args = [self.signer, "sign", key or self.key, keyid or self.device, path, empty,
                "--method", opts.get("method", "GET")]
        if "nonce" in opts:
            args += ["--nonce", opts["nonce"]]
        out = subprocess.run(args, check=True, stdout=subprocess.PIPE).stdout.decode()
        return nghttp_request(self.gw, path, headers=[l for l in out.splitlines() if l])

    def test_02b_own_photos_and_only_those(self):
        """The app's view of its photos: signed as an upload is, and a device sees only its
        own (docs/api.md, GET /v1/devices/self/photos)."""
        path, data = self.photo("ok_o8.jpg")
        receipt = self.assertCreated(self.signed(path), data)
        self.wait_status(receipt["photo_id"], "queued")
        r = self.own_photos()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers.get("cache-control"), "no-store")
        doc = r.json()
        self.assertEqual(doc["device_id"], self.device)
        mine = {p["photo_id"]: p for p in doc["photos"]}
        self.assertIn(receipt["photo_id"], mine)
        p = mine[receipt["photo_id"]]
        self.assertEqual((p["sha256"], p["bytes"], p["status"]), (receipt["sha256"], len(data),
                                                                 "queued"))
        self.assertEqual(p["verification"]["state"], "waiting")
        self.assertIsNone(p["retake_of"])
        # Another phone, enrolled for the same actas, sees none of them.
        other_key = os.path.join(self.env.tmp, f"{self.db}-own-photos-other.pem")
        other_pub = subprocess.run([self.signer, "genkey", other_key], check=True,
                                   stdout=subprocess.PIPE).stdout.decode().strip()
        other = self.enrol(self.new_code("140338B01*"), other_pub)["device_id"]
        time.sleep(0.5)
        r = self.own_photos(key=other_key, keyid=other)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"device_id": other, "photos": []})
        # Unsigned, a POST's signature, a replayed nonce, another method.
        r = nghttp_request(self.gw, "/v1/devices/self/photos")
        self.assertProblem(r, 401, "signature-required")
        self.assertProblem(self.own_photos(method="POST"), 401, "bad-signature")
        self.assertEqual(self.own_photos(nonce="app-nonce-1").status, 200)
        self.assertProblem(self.own_photos(nonce="app-nonce-1"), 401, "replayed-nonce")

    def test_03_enrolment_refusals(self):
        code = self.new_code("140338B01*")
        other = os.path.join(self.env.tmp, f"{self.db}-other.pem")
        pub = subprocess.run([self.signer, "genkey", other], check=True,
                             stdout=subprocess.PIPE).stdout.decode().strip()
        status, doc = self.enrol_raw("AAAA-BBBB-CCCC-DDDD", pub)
        self.assertEqual((status, doc.get("type")), (403, "/problems/enrolment-refused"))
        status, doc = self.enrol_raw(code, self.pub)  # this key is enrolled already
        self.assertEqual((status, doc.get("type")), (409, "/problems/device-key-enrolled"))
        self.assertEqual(self.enrol_raw(code, pub)[0], 201)
        status, doc = self.enrol_raw(code, pub)  # a code works once
        self.assertEqual((status, doc.get("type")), (403, "/problems/enrolment-refused"))

    def test_04_unknown_device(self):
        path, _ = self.photo("ok_o2.jpg")
        r = self.signed(path, keyid=str(uuid.uuid4()))
        self.assertRefused(r, 401, "unknown-device")

    def test_05_bad_signature(self):
        path, _ = self.photo("ok_o2.jpg")
        stranger = os.path.join(self.env.tmp, f"{self.db}-stranger.pem")
        subprocess.run([self.signer, "genkey", stranger], check=True, stdout=subprocess.PIPE)
        self.assertRefused(self.signed(path, key=stranger), 401, "bad-signature")
        # Signed for one acta, sent to another: the path is covered.
        hdrs = self.headers(path, clave="140338B010001")
        self.assertRefused(self.signed(path, hdrs=hdrs), 401, "bad-signature")

    def test_06_clock_skew(self):
        path, _ = self.photo("ok_o2.jpg")
        self.assertRefused(self.signed(path, created=int(time.time()) - 3600), 401,
                           "signature-expired")
        self.assertRefused(self.signed(path, created=int(time.time()) + 3600), 401,
                           "signature-expired")

    def test_07_replay(self):
        path, data = self.photo("ok_o3.jpg")
        hdrs = self.headers(path, nonce="cmVwbGF5LW5vbmNl")
        self.assertCreated(self.signed(path, hdrs=hdrs), data)
        self.assertRefused(self.signed(path, hdrs=hdrs), 401, "replayed-nonce")

    def test_08_clave_outside_enrolment(self):
        path, _ = self.photo("ok_o4.jpg")
        self.assertRefused(self.signed(path, clave="140339B010002"), 403, "clave-not-enrolled")
        # An exact entry of the list is within it.
        _, data = self.photo("ok_o4.jpg")
        self.assertCreated(self.signed(path, clave="140338B02001"), data,
                           clave="140338B02001")

    def test_09_digest_mismatch(self):
        path, _ = self.photo("ok_o5.jpg")
        other, _ = self.photo("ok_o6.jpg")
        before = self.data_files()
        r = self.signed(path, digest_file=other)
        self.assertRefused(r, 400, "digest-mismatch")
        self.assertEqual({f for f in self.data_files() if "originals" in f},
                         {f for f in before if "originals" in f})

    def test_10_revocation_applies_at_once(self):
        path, data = self.photo("ok_o7.jpg")
        self.cli("device", "revoke", self.device)
        deadline = time.monotonic() + 2
        r = self.signed(path)
        while r.status != 401 and time.monotonic() < deadline:
            time.sleep(0.1)
            r = self.signed(path)
        self.assertRefused(r, 401, "device-revoked")
        listed = json.loads(self.cli("device", "list", "--json"))["devices"]
        mine = [d for d in listed if d["device_id"] == self.device][0]
        self.assertIsNotNone(mine.get("revoked_at"))

    def test_11_metrics_count_refusals(self):
        r = self.get("/metrics")
        self.assertEqual(r.status, 200)
        text = r.body.decode()
        for kind in ("signature-required", "unknown-device", "bad-signature",
                     "signature-expired", "replayed-nonce", "clave-not-enrolled",
                     "digest-mismatch", "device-revoked"):
            m = re.search(r'prep_problems_total\{type="%s"\} (\d+)' % kind, text)
            self.assertTrue(m and int(m.group(1)) >= 1, f"{kind} not counted:\n{text}")

    def test_12_open_uploads_only_with_the_flag_and_a_warning(self):
        warning = "--insecure-open-uploads: unsigned uploads are accepted"
        self.assertNotIn(warning, self.gw.stderr_text())
        secure_args = list(self.gw.extra_args)
        self.gw.stop()
        try:
            self.gw.start(extra_args=secure_args + ["--insecure-open-uploads"])
            self.assertIn("level=warn", next(l for l in self.gw.stderr_text().splitlines()
                                            if warning in l))
            path, data = self.photo("ok_o6.jpg")
            self.assertCreated(self.upload(path, client="nghttp"), data)
        finally:
            self.gw.stop()
            self.gw.start(extra_args=secure_args)
        path, _ = self.photo("ok_o7.jpg")
        self.assertRefused(self.upload(path, client="nghttp"), 401, "signature-required")

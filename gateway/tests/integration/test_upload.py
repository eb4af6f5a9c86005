"""The happy path, once per client: receipt, idempotent retry, processing, review derivative."""

import harness
from harness import CLAVE, GatewayTestCase, read_bytes, sha256_hex


class UploadTest(GatewayTestCase):
    # Each client uploads a different photo (seed) so that each test sees a 201 of its own.
    def check_client(self, client, seed):
        path = self.env.gen_acta(seed=seed, width=4000, height=3000)
        data = read_bytes(path)

        r = self.upload(path, client=client)
        if client == "nghttp":
            self.assertIn(":status: 201", r.raw, "nghttp output must show :status: 201")
        if client == "curl-tls":
            self.assertEqual(r.http_version, "2", f"TLS response not over HTTP/2: {r!r}")
        receipt = self.assertCreated(r, data)
        photo_id = receipt["photo_id"]

        again = self.upload(path, client=client)
        self.assertEqual(again.status, 200, f"retry of the same bytes: {again!r}")
        self.assertEqual(again.json(), receipt, "a retry must return the original receipt")

        doc = self.wait_status(photo_id, "queued")
        self.assertEqual(doc.get("photo_id"), photo_id)
        self.assertEqual(doc.get("sha256"), receipt["sha256"])
        self.assertEqual(self.photo_rows(photo_id), 1, "exactly one row in photos")
        self.assertEqual(self.psql(
            f"SELECT encode(sha256, 'hex'), clave_acta, bytes FROM photos "
            f"WHERE photo_id = '{photo_id}'"), [[receipt["sha256"], CLAVE, str(len(data))]])

        r, webp = self.fetch_review(photo_id)
        etag = r.headers["etag"]
        self.assertEqual(etag, f'"{sha256_hex(webp)}"')
        self.assertIn("immutable", r.headers.get("cache-control", ""))
        review = doc.get("review") or {}
        if review:
            self.assertEqual(review.get("sha256"), sha256_hex(webp), f"review in GET: {review}")
        cached = self.get(f"/v1/photos/{photo_id}/review.webp", headers=[f"If-None-Match: {etag}"])
        self.assertEqual(cached.status, 304, f"If-None-Match: {cached!r}")
        self.assertEqual(cached.body, b"", "a 304 has no body")

        w, h, luma = harness.webp_luma(self.env, webp)
        self.assertEqual((w, h), (2000, 1500), "review of a 4000x3000 photo")
        problem = harness.upright_problem(w, h, luma)
        if problem:
            self.fail(problem)

    def test_curl_h2c(self):
        self.check_client("curl-h2c", seed=101)

    def test_curl_tls(self):
        self.check_client("curl-tls", seed=102)

    def test_nghttp(self):
        self.check_client("nghttp", seed=103)

    def test_same_bytes_other_clave_is_another_photo(self):
        path = self.env.gen_acta(seed=104, width=1600, height=1200)
        data = read_bytes(path)
        first = self.assertCreated(self.upload(path), data)
        other = self.assertCreated(self.upload(path, clave="140338C010001"), data,
                                   clave="140338C010001")
        self.assertNotEqual(first["photo_id"], other["photo_id"])

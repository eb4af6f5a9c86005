"""Every EXIF orientation comes out upright in review.webp, with no upscaling."""

from harness import GatewayTestCase, jpeg_dimensions, read_bytes


class OrientationTest(GatewayTestCase):
    def check_orientation(self, orientation):
        path = self.env.gen_acta(seed=200 + orientation, orientation=orientation,
                                 width=2400, height=1800, quality=85, noise=2)
        data = read_bytes(path)
        receipt = self.assertCreated(self.upload(path), data)
        doc = self.wait_status(receipt["photo_id"], "queued")
        exif = ((doc.get("metadata") or {}).get("exif") or {})
        if "orientation" in exif:
            self.assertEqual(exif["orientation"], orientation, f"metadata.exif: {exif}")
        w, h = self.assertUprightReview(receipt["photo_id"], 2000)
        self.assertEqual((w, h), (2000, 1500), "the upright scene is landscape 4:3")

    def test_orientation_1(self):
        self.check_orientation(1)

    def test_orientation_2(self):
        self.check_orientation(2)

    def test_orientation_3(self):
        self.check_orientation(3)

    def test_orientation_4(self):
        self.check_orientation(4)

    def test_orientation_5(self):
        self.check_orientation(5)

    def test_orientation_6(self):
        self.check_orientation(6)

    def test_orientation_7(self):
        self.check_orientation(7)

    def test_orientation_8(self):
        self.check_orientation(8)

    def test_manifest_ok_orientations(self):
        """fixtures/small/ok_o1..ok_o8: upright, long side kept when under 2000 px."""
        rows = [r for r in self.env.manifest() if r["file"].startswith("ok_o")]
        self.assertEqual(sorted(r["file"] for r in rows),
                         [f"ok_o{i}.jpg" for i in range(1, 9)],
                         "the manifest must list ok_o1.jpg .. ok_o8.jpg")
        for row in rows:
            # subTest: one bad orientation does not hide the others.
            with self.subTest(fixture=row["file"]):
                data = read_bytes(row["path"])
                r = self.upload(row["path"])
                self.assertIn(r.status, (200, 201), f"{row['file']}: {r!r}")
                self.assertReceipt(r.json(), data)
                photo_id = r.json()["photo_id"]
                self.wait_status(photo_id, "queued")
                # No upscaling: a photo smaller than 2000 px keeps its long side.
                self.assertUprightReview(photo_id, min(2000, max(jpeg_dimensions(data))))

"""The officials' app (web/app/, docs/app.md) end to end in real headless Chromium
(gateway/tests/e2e/app.mjs, driven by npm playwright-core as the review tests are), with
Chromium's fake camera playing a Y4M made here from a generated acta (a dark frame, then a good
one, in a loop) and Playwright's offline mode (CDP network emulation, which also covers the
service worker). The gateway takes only signed uploads. Checked here, on the gateway's side:
enrolment and a refused reuse of the code; the hint on a dark frame, then a signed upload whose
digest is the photo's and whose receipt the app verified; two photos taken without signal and a
reload, then both received exactly once and in order; a 9 MB upload cut at a third that resumes
and arrives once; a clerk's "ilegible" in the review app shown on the phone and a retake linked
to the first; the page killed in the middle of a send with its queue intact; the first load's
size; the screenshots in docs/ (PREP_UPDATE_SCREENSHOTS=1 copies them there)."""

import gzip
import json
import os
import shutil
import subprocess
import tempfile

from harness import HARNESS_PASSWORD, SignedTestCase, png_size, read_bytes, sha256_hex

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "e2e", "app.mjs")
DOCS = os.path.join(HERE, "..", "..", "..", "docs")
CLAVE = "140338B010002"
MiB = 1 << 20
# What the app's first load may weigh, compressed (the issue: a 2019 low-end Android on 3G).
FIRST_LOAD_MAX = 200 * 1024
CLAVES = {"enrol": "140338B010002", "photo": "140338B010003", "offline": "140338B010004",
          "cut": "140338B010005", "retake": "140338B010006", "kill": "140338B010007",
          "fallback": "140338B010008"}
SCREENSHOTS = ("app-enrol", "app-hint", "app-received", "app-offline", "app-retake")


def y4m_from_jpeg(env, jpeg, out, darken=0.22):
    """Writes |out|, a Y4M (4:2:0, 1 frame/s: Chromium's fake camera does not start below) of
    four frames: twice |jpeg| darkened, then as it is, then a little brighter (two good photos in
    a row are then not byte-identical, as a real camera's never are; the gateway would take the
    same bytes twice as one photo). The fake camera plays it in a loop."""
    ppm = subprocess.run(["djpeg", "-pnm", jpeg], check=True, stdout=subprocess.PIPE).stdout
    fields = ppm.split(maxsplit=4)
    if fields[0] != b"P6" or fields[3] != b"255":
        raise AssertionError("djpeg did not write an 8-bit PPM")
    w, h, rgb = int(fields[1]), int(fields[2]), fields[4]
    r, g, b = rgb[0::3], rgb[1::3], rgb[2::3]
    y = bytes(min(255, (77 * r[i] + 150 * g[i] + 29 * b[i]) >> 8) for i in range(w * h))
    u = bytearray()
    v = bytearray()
    for yy in range(0, h, 2):
        for xx in range(0, w, 2):
            i = yy * w + xx
            u.append(max(0, min(255, 128 + ((-43 * r[i] - 85 * g[i] + 128 * b[i]) >> 8))))
            v.append(max(0, min(255, 128 + ((128 * r[i] - 107 * g[i] - 21 * b[i]) >> 8))))
    dark_y = bytes(int(p * darken) for p in y)
    bright_y = bytes(min(255, p + 12) for p in y)
    with open(out, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F1:1 Ip A1:1 C420jpeg\n".encode())
        for plane_y in (dark_y, dark_y, y, bright_y):
            f.write(b"FRAME\n" + plane_y + bytes(u) + bytes(v))
    return out


def scan_qr(env, rows, scale=12, margin=100):
    """The text of the QR code printed as |rows| of half blocks (light drawn: U+2588 both halves,
    U+2580 the top, U+2584 the bottom), drawn into a JPEG and read by prep-image (imaging/qr.c)."""
    light = []
    for row in rows:
        light.append([c in "\u2588\u2580" for c in row])
        light.append([c in "\u2588\u2584" for c in row])
    w, h = len(light[0]) * scale + 2 * margin, len(light) * scale + 2 * margin
    img = bytearray(b"\xff" * (w * h))
    for y, line in enumerate(light):
        for x, on in enumerate(line):
            if not on:
                for yy in range(scale):
                    o = (margin + y * scale + yy) * w + margin + x * scale
                    img[o:o + scale] = b"\x00" * scale
    pgm = os.path.join(env.tmp, "enrol-qr.pgm")
    with open(pgm, "wb") as f:
        f.write(f"P5 {w} {h} 255\n".encode() + bytes(img))
    jpg = os.path.join(env.tmp, "enrol-qr.jpg")
    with open(jpg, "wb") as f:
        subprocess.run(["cjpeg", "-quality", "95", pgm], check=True, stdout=f)
    tool = os.path.join(os.path.dirname(env.gateway), "..", "tools", "prep-image")
    out = subprocess.run([tool, "process", jpg], stdout=subprocess.PIPE, timeout=60).stdout
    return json.loads(out.decode().strip().splitlines()[-1]).get("qr")


class AppBrowserTest(SignedTestCase):
    actas = "140338B01*"
    gateway_args = ("--review-lease", "300")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.y4m = os.path.join(cls.env.tmp, "app-camera.y4m")
        if not os.path.exists(cls.y4m):
            y4m_from_jpeg(cls.env, cls.env.gen_acta(seed=41, clave=CLAVE, width=1280, height=960,
                                                    noise=3), cls.y4m)
        cls.big = cls.env.gen_acta(seed=5, clave=CLAVE, width=4000, height=3000, quality=97,
                                   noise=16)
        cls.shots = tempfile.mkdtemp(prefix="app-shots-", dir=cls.env.tmp)

    def run_app(self, scenario, code=None, link=None, timeout=300):
        """Runs app.mjs's |scenario| (the code and link of the enrolment: a new code by default)
        and returns its results."""
        # One acta per scenario: the gateway takes the same bytes for the same acta once, and
        # the fake camera's frames are the same in every scenario.
        clave = CLAVES[scenario]
        plan = {"scenario": scenario, "base": self.gw.url("", tls=True), "shots": self.shots,
                "code": code or self.new_code(self.actas), "y4m": self.y4m, "big": self.big,
                "clave": clave, "link": link, "clerk": {"username": "harness-clerk",
                                          "password": HARNESS_PASSWORD}}
        path = os.path.join(self.env.tmp, f"app-plan-{scenario}.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(plan, f)
        res = self.run_e2e(SCRIPT, [path], timeout=timeout)
        self.assertEqual(res["errors"], [])
        self.res = res
        return res

    def device_photos(self, device):
        """The device's photos in the database, in the order they were received."""
        return self.psql(f"SELECT photo_id, encode(sha256, 'hex'), bytes, clave_acta FROM photos"
                         f" WHERE source = '{device}' ORDER BY received_at")

    def assertAllSigned(self, res):
        """Every request that sends photo bytes to a new upload is signed with the digest."""
        posts = [r for r in res["requests"] if r["method"] == "POST" and "/photos" in r["url"]]
        self.assertTrue(posts)
        for r in posts:
            self.assertTrue(r["signed"], r)
            self.assertTrue(r["digest"] and r["digest"].startswith("sha-256=:"), r)

    def assertReceived(self, item, row):
        """Queue item |item| holds the receipt (verified by the app) of database row |row|."""
        self.assertEqual(item["state"], "received", item)
        self.assertEqual(item["photo_id"], row[0])
        self.assertEqual(item["sha256"], row[1])
        self.assertEqual(item["receipt"]["sha256"], row[1])
        self.assertEqual(item["size"], int(row[2]))
        self.assertEqual(item["clave"], row[3])
        self.assertEqual(item["receipt"]["device"], self.res["device"]["device_id"])
        self.assertIsNone(item["blob"], "the photo is dropped from the phone once received")
        self.assertTrue(item["receipt"]["signature"])

    def printed_code(self):
        """A code made as the operator does (`device code --url ... --qr`): returns the code and
        the link printed, after checking the QR block printed between them."""
        out = self.cli("device", "code", "--label", "casilla 0338 B", "--actas", self.actas,
                       "--expires", "1h", "--url", self.gw.url("", tls=True) + "/", "--qr")
        lines = out.splitlines()
        fields = dict(l.split(":", 1) for l in lines if l[:1].isalpha() and ":" in l[:12])
        code, link = fields["code"].strip(), fields["link"].strip()
        self.assertEqual(link, self.gw.url("/app/#enrol=", tls=True) + code)
        qr = [l for l in lines if l and set(l) <= set("\u2580\u2584\u2588 ")]
        # Version v has 17 + 4v modules, plus the quiet zone of 2 on each side; two rows a line.
        width = len(qr[0])
        self.assertEqual((width - 4 - 17) % 4, 0, width)
        self.assertEqual(len(qr), (width + 1) // 2)
        self.assertTrue(all(len(l) == width for l in qr))
        self.assertEqual(qr[0], "\u2588" * width, "the quiet zone is light")
        # And it scans: drawn as an image (12 pixels a module, light around it), read by the
        # gateway's own QR reader (zbar, through prep-image).
        self.assertEqual(scan_qr(self.env, qr), link)
        return code, link

    def test_enrol_once_and_reuse_refused(self):
        code, link = self.printed_code()
        res = self.run_app("enrol", code=code, link=link)
        dev = res["device"]
        self.assertEqual(res["code_prefilled"], code)
        self.assertIs(dev["extractable"], False, "the private key must be non-extractable")
        self.assertIsNone(dev["lib"], "Chromium has WebCrypto Ed25519: no fallback")
        self.assertIsNone(res["enrol_note"]["crypto"])
        self.assertEqual(dev["actas"], self.actas)
        self.assertEqual(self.psql(f"SELECT label, public_key FROM devices"
                                   f" WHERE device_id = '{dev['device_id']}'"),
                         [["casilla 0338 B", dev["public_key"]]])
        self.assertEqual(res["reuse_type"], "enrolment-refused")
        self.assertIn("ya se usó", res["reuse_message"])
        self.assertEqual(res["reuse_screen"], "enrol")

    def test_photo_hint_retake_send_verified_receipt(self):
        res = self.run_app("photo")
        dev = res["device"]["device_id"]
        self.assertIn("dark", res["dark"]["hints"].split(","))
        self.assertEqual(res["good"]["hints"], "")
        self.assertAllSigned(res)
        rows = self.device_photos(dev)
        self.assertEqual(len(rows), 1, rows)
        self.assertEqual(len(res["queue"]), 1)
        self.assertReceived(res["queue"][0], rows[0])
        self.assertIn("acuse verificado", res["item_text"])
        # The gateway kept the device's signature over the digest of these very bytes.
        photo = self.psql(f"SELECT encode(sha256, 'hex') FROM photos"
                          f" WHERE photo_id = '{rows[0][0]}'")[0][0]
        self.assertEqual(photo, res["queue"][0]["sha256"])
        # First load: the page fetched only files of web/app/, and all of web/app/ (the shell,
        # the service worker, the manifest, the icon), as the gateway serves it and gzipped,
        # weighs under 200 KB.
        app_dir = os.path.join(HERE, "..", "..", "..", "web", "app")
        files = sorted(os.path.relpath(os.path.join(d, f), app_dir)
                       for d, _, fs in os.walk(app_dir) for f in fs)
        # The Ed25519 fallback (scripts/lib.sh prep_app_vendor) counts too.
        self.assertIn("vendor/noble-ed25519.js", files)
        loaded = {r["url"]: r for r in res["first_load"] if r["status"] == 200}
        for f in ("/app/", "/app/app.js", "/app/store.js", "/app/hints.js", "/app/app.css"):
            self.assertIn(f, loaded, sorted(loaded))
        for url in loaded:
            self.assertIn(url[len("/app/"):] or "index.html", files)
        total = raw = 0
        for name in files:
            r = self.get("/app/" + name, auth=False)
            self.assertEqual(r.status, 200, name)
            raw += len(r.body)
            total += len(gzip.compress(r.body, 9))
        print(f"    first load: {len(files)} files, {raw} bytes, {total} bytes gzip", flush=True)
        self.assertLess(total, FIRST_LOAD_MAX)
        page = loaded["/app/"]["headers"]
        csp = page.get("content-security-policy", "")
        for d in ("default-src 'self'", "script-src 'self'", "connect-src 'self'"):
            self.assertIn(d, csp)
        self.assertNotIn("http", csp)
        self.assertEqual(page.get("cache-control"), "no-cache")
        r = self.get("/app/manifest.webmanifest", auth=False)
        self.assertEqual(r.headers.get("content-type"), "application/manifest+json")
        self.assertEqual(json.loads(r.body)["start_url"], "/app/")

    def test_offline_two_photos_reload_then_both_once_in_order(self):
        res = self.run_app("offline")
        dev = res["device"]["device_id"]
        self.assertEqual(res["net_pill"], "Sin señal")
        # The page showed both waiting (app.mjs waited for it) before and after the reload; the
        # queue, read just after, may show one being tried again: still unsent, whole.
        for when in ("before_reload", "after_reload"):
            self.assertEqual(len(res[when]), 2)
            for p in res[when]:
                self.assertIn(p["state"], ("waiting", "sending"), when)
                self.assertIsNone(p["receipt"])
                self.assertEqual(p["blob"], p["size"])
        self.assertEqual([p["sha256"] for p in res["after_reload"]],
                         [p["sha256"] for p in res["before_reload"]])
        rows = self.device_photos(dev)
        self.assertEqual(len(rows), 2, rows)
        queue = sorted(res["queue"], key=lambda p: p["local_id"])
        for item, row in zip(queue, rows):
            self.assertReceived(item, row)
        self.assertEqual(len(self.psql(f"SELECT 1 FROM ledger l JOIN photos p USING (photo_id)"
                                       f" WHERE p.source = '{dev}'")), 2)
        self.assertAllSigned(res)

    def test_cut_in_the_middle_of_9mb_resumes_once(self):
        size = os.path.getsize(self.big)
        self.assertGreater(size, 9 * 10**6)
        res = self.run_app("cut")
        dev = res["device"]["device_id"]
        self.assertGreaterEqual(res["cut_at"], 3 * MiB)
        self.assertIn("Esperando señal", res["waiting_text"])
        w = res["waiting"][0]
        self.assertEqual(w["blob"], size)
        self.assertTrue((w["upload_url"] or "").startswith("/v1/uploads/"), (w, res["requests"]))
        self.assertGreaterEqual(w["offset"], 3 * MiB)
        rows = self.device_photos(dev)
        self.assertEqual(len(rows), 1, rows)
        self.assertEqual(rows[0][1], sha256_hex(read_bytes(self.big)))
        self.assertReceived(res["queue"][0], rows[0])
        # Resumed, not restarted: one upload created, a HEAD after the cut, and no byte sent
        # much more than once.
        reqs = res["requests"]
        self.assertEqual(len([r for r in reqs if r["method"] == "POST"
                              and "/photos" in r["url"]]), 1)
        self.assertTrue(any(r["method"] == "HEAD" for r in reqs))
        # (Chromium does not report a Blob body's length: each request carries one chunk, or
        # what is left, from its offset.)
        sent = sum(min(MiB, size - int(r["offset"] or 0)) for r in reqs
                   if r["method"] == "PATCH" or (r["method"] == "POST" and "/photos" in r["url"]))
        self.assertLess(sent, size + 2 * MiB, "resumed from the start?")
        self.assertAllSigned(res)

    def test_clerk_asks_for_retake_and_the_retake_is_linked(self):
        res = self.run_app("retake")
        dev = res["device"]["device_id"]
        self.assertIn("ilegible", res["clerk_status"])
        self.assertIn("Piden otra foto", res["retake_text"])
        self.assertIn("ilegible", res["retake_text"])
        first, second = res["first"]["photo_id"], res["second"]["photo_id"]
        self.assertNotEqual(first, second)
        self.assertEqual(res["second_retake_of"], first)
        rows = self.device_photos(dev)
        self.assertEqual([r[0] for r in rows], [first, second])
        self.assertEqual(self.psql(f"SELECT state FROM verification_queue"
                                   f" WHERE photo_id = '{first}'"), [["rejected"]])
        self.assertEqual(self.psql(f"SELECT reason FROM review_decisions"
                                   f" WHERE photo_id = '{first}'"), [["ilegible"]])

    def test_without_webcrypto_ed25519_the_bundled_fallback_signs(self):
        res = self.run_app("fallback")
        dev = res["device"]
        self.assertEqual(res["enrol_note"]["crypto"], "fallback")
        self.assertIn("@noble/ed25519 2.1.0", res["enrol_note"]["text"])
        self.assertEqual(dev["lib"], "@noble/ed25519 2.1.0")
        self.assertIsNone(dev["extractable"])
        self.assertEqual(self.psql(f"SELECT public_key FROM devices"
                                   f" WHERE device_id = '{dev['device_id']}'"),
                         [[dev["public_key"]]])
        rows = self.device_photos(dev["device_id"])
        self.assertEqual(len(rows), 1, rows)
        self.assertReceived(res["queue"][0], rows[0])
        self.assertAllSigned(res)

    def test_killed_mid_send_keeps_the_queue(self):
        size = os.path.getsize(self.big)
        res = self.run_app("kill")
        dev = res["device"]["device_id"]
        self.assertGreaterEqual(res["killed_at"], 2 * MiB)
        after = res["after_kill"]
        self.assertEqual(len(after), 1, after)
        self.assertEqual(after[0]["blob"], size, "the photo must still be whole on the phone")
        self.assertIsNone(after[0]["receipt"])
        self.assertEqual(after[0]["sha256"], sha256_hex(read_bytes(self.big)))
        rows = self.device_photos(dev)
        self.assertEqual(len(rows), 1, rows)
        self.assertReceived(res["queue"][0], rows[0])
        self.assertAllSigned(res)

    def test_zz_screenshots(self):
        """The screenshots of the runs above (this class's tests run in name order) are of the
        phone's width, not blank; the committed ones in docs/ are of the same screens."""
        for name in SCREENSHOTS:
            shot = os.path.join(self.shots, name + ".png")
            self.assertTrue(os.path.exists(shot), f"{name}.png was not taken (a test above failed?)")
            self.assertGreater(os.path.getsize(shot), 8000, f"{name}.png looks blank")
            self.assertEqual(png_size(shot), (412, 860))
            committed = os.path.join(DOCS, name + ".png")
            if os.environ.get("PREP_UPDATE_SCREENSHOTS") == "1":
                shutil.copy(shot, committed)
            self.assertTrue(os.path.exists(committed), f"{committed} missing")
            self.assertEqual(png_size(committed), (412, 860))

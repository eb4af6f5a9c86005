"""The clerks' web application end to end in real headless Chromium (Debian's chromium driven by
npm playwright-core, which ./test.sh installs pinned under build/e2e): log in (a wrong password
first), claim, zoom, decide with the keyboard, see the live counter move, and screenshots of the
review page and the dashboard compared with the committed ones in docs/."""

import json
import os
import shutil
import subprocess
import tempfile

from harness import GatewayTestCase, png_size

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "e2e", "review.mjs")
DOCS = os.path.join(HERE, "..", "..", "..", "docs")


class BrowserTest(GatewayTestCase):
    def test_login_claim_zoom_decide_counter_screenshots(self):
        pw_dir = self.browser()
        self.env.user_add(self.conninfo, "lucia", "clerk", "contraseña-de-lucia")
        self.psql("INSERT INTO catalog VALUES ('140338B010002', 14, 10, 'Zapopan', 338, 'B', 712)")
        ids = []
        for seed in (61, 62, 63):
            r = self.upload(self.env.gen_acta(seed=seed, width=900, height=1200))
            self.assertIn(r.status, (200, 201), r)
            ids.append(r.json()["photo_id"])
        for pid in ids:
            self.wait_status(pid, "queued", timeout=60)
        shots = tempfile.mkdtemp(prefix="shots-", dir=self.env.tmp)
        profile = tempfile.mkdtemp(prefix="chromium-", dir=self.env.tmp)
        env = dict(os.environ, PREP_PLAYWRIGHT_DIR=pw_dir, HOME=profile)
        p = subprocess.run(["node", SCRIPT, self.gw.url("", tls=True), "lucia",
                            "contraseña-de-lucia", shots, profile], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=240, env=env)
        lines = p.stdout.decode(errors="replace").strip().splitlines()
        self.assertTrue(lines, f"no output (exit {p.returncode}): {p.stderr.decode()[-2000:]}")
        res = json.loads(lines[-1])
        self.assertTrue(res.get("ok"), f"{res}\n{p.stderr.decode()[-2000:]}")
        self.assertEqual(p.returncode, 0, res)
        self.assertIn("incorrectos", res["wrong_password_message"])
        self.assertIn(res["first"], ids)
        self.assertEqual(res["clave"], "140338B010002")
        self.assertGreater(res["accepted_after"], res["accepted_before"])
        self.assertIn("ilegible", res["status_after_reject"])
        self.assertEqual(res["errors"], [])
        # The browser's decisions are in the database, by lucia, once each.
        rows = self.psql("SELECT d.photo_id, d.decision, coalesce(d.reason, '') FROM"
                         " review_decisions d JOIN users u USING (user_id)"
                         " WHERE u.username = 'lucia' ORDER BY decision_id")
        self.assertEqual(rows, [[res["first"], "accept", ""],
                                [res["second"], "reject", "ilegible"]])
        # Screenshot test: the page rendered at the viewport size, not blank, and the committed
        # screenshots in docs/ are of the same page at the same size.
        for name in ("review", "dashboard"):
            shot = os.path.join(shots, name + ".png")
            self.assertGreater(os.path.getsize(shot), 20000, f"{name}.png looks blank")
            w, h = png_size(shot)
            self.assertEqual(w, 1400)
            if name == "review":
                self.assertEqual(h, 900)
                committed = os.path.join(DOCS, "review-page.png")
            else:
                committed = os.path.join(DOCS, "dashboard.png")
            if os.environ.get("PREP_UPDATE_SCREENSHOTS") == "1":
                shutil.copy(shot, committed)
            self.assertTrue(os.path.exists(committed), f"{committed} missing")
            self.assertEqual(png_size(committed)[0], 1400)

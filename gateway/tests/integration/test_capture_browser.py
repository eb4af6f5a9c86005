"""The capture page end to end in real headless Chromium (gateway/tests/e2e/capture.mjs, driven
by npm playwright-core as test_review_browser is): photos are uploaded and accepted through the
review API, then two capturists and a supervisor work with the keyboard alone, at a modelled
typing speed. Checked here, through the API and the database: two agreeing captures make an acta
captured; a disagreement puts it in dispute, and the supervisor's capture in the browser decides
it; the second capturist's and the supervisor's pages never show (DOM) nor receive (network) the
other captures' figures; an acta of 12 fields takes under 30 s; sending back as illegible reaches
review; leaving the page releases the lease; the supervisors' counters move live. The
screenshots in docs/ come from this run (PREP_UPDATE_SCREENSHOTS=1 copies them there)."""

import json
import os
import shutil
import subprocess
import tempfile
import time

from harness import GatewayTestCase, png_size

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "e2e", "capture.mjs")
DOCS = os.path.join(HERE, "..", "..", "..", "docs")
ELECTION = os.path.join(os.environ.get("PREP_FIXTURES", "fixtures"), "elections",
                        "jalisco-2021-diputaciones-locales.json")
PASSWORD = "una-clave-muy-larga"
# acta-gen writes up to 7 x 260 votes on a sheet: a lista nominal that holds them all.
NOMINAL = 1200

# The Jalisco fixture's acta type 2 (17 fields).
JALISCO = ["pan", "pri", "prd", "pvem", "pt", "mc", "morena", "pes", "rsp", "fxm", "hagamos",
           "futuro", "pt_morena", "ind_1", "no_registrados", "nulos", "total"]
# No acta type of the fixture has 12 fields: the timing case uses a test election of its own
# (acta type 3), written by the test.
TWELVE = ["pan", "pri", "prd", "pvem", "pt", "mc", "morena", "hagamos", "futuro",
          "no_registrados", "nulos", "total"]
KINDS = {"no_registrados": "no_registrados", "nulos": "nulos", "total": "total"}


def with_total(figs):
    """|figs| with "total" the sum of the numeric votes (as a correct acta has it)."""
    out = dict(figs)
    out["total"] = sum(v for k, v in figs.items() if k != "total" and isinstance(v, int))
    return out


class CaptureBrowserTest(GatewayTestCase):
    gateway_args = ("--review-lease", "300")

    def api(self, method, path, token=None, body=None):
        hdrs = ["Authorization: Bearer " + token] if token else []
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            hdrs.append("Content-Type: application/json")
        return self.request(method, path, hdrs, data, client="curl-h2c")

    def token(self, user):
        r = self.login(user, PASSWORD)
        self.assertEqual(r.status, 200, r)
        return r.json()["token"]

    def import_election(self, path):
        p = subprocess.run([self.env.gateway, "election", "import", path, "--db", self.conninfo],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr.decode())

    def test_two_capturists_and_a_supervisor_with_the_keyboard(self):
        pw_dir = self.browser()
        for name, role in (("ana", "clerk"), ("beto", "capturist"), ("carla", "capturist"),
                           ("sofia", "supervisor")):
            self.env.user_add(self.conninfo, name, role, PASSWORD)

        # The elections: Jalisco's fixture, and a test acta type of 12 fields.
        self.import_election(ELECTION)
        twelve = os.path.join(self.env.tmp, "prueba-12-campos.json")
        with open(twelve, "w", encoding="utf-8") as f:
            json.dump({"election_id": "prueba-12-campos", "name": "Prueba: acta de 12 campos",
                       "illustrative": True, "acta_types": [{
                           "acta_type": 3, "name": "Prueba de 12 campos",
                           "representatives_allowance": 18,
                           "fields": [{"id": i, "label": i.replace("_", " ").upper(),
                                       "kind": KINDS.get(i, "party")} for i in TWELVE]}]}, f)
        self.import_election(twelve)

        # Five actas of district 5 (P3 of acta type 3, the others of type 2), and one more
        # catalogued acta that never arrives.
        keys = ["P1", "P2", "P3", "P4", "P5"]
        claves = {k: f"1402{11 + i:02d}B0100{'03' if k == 'P3' else '02'}"
                  for i, k in enumerate(keys)}
        csv = os.path.join(self.env.tmp, "catalogo-captura-navegador.csv")
        with open(csv, "w", encoding="utf-8") as f:
            f.write("clave_acta,state,district,municipality,section,casilla_type,nominal_list\n")
            for c in list(claves.values()) + ["140299B010002"]:
                f.write(f"{c},14,5,Zapopan,{int(c[2:6])},B,{NOMINAL}\n")
        p = subprocess.run([self.env.gateway, "catalog", "import", csv, "--db", self.conninfo],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr.decode())

        # Upload each photo, and the clerk accepts them in this order (the capture order).
        ids = {}
        for i, k in enumerate(keys):
            r = self.upload(self.env.gen_acta(seed=81 + i, clave=claves[k], width=900,
                                              height=1200), clave=claves[k])
            self.assertEqual(r.status, 201, r)
            ids[k] = r.json()["photo_id"]
            self.wait_status(ids[k], "queued", timeout=60)
        ana = self.token("ana")
        for k in keys:
            claim = self.api("POST", "/v1/review/claim", ana)
            self.assertEqual(claim.status, 200, claim)
            self.assertEqual(claim.json()["photo_id"], ids[k])
            r = self.api("POST", f"/v1/review/{ids[k]}/decision", ana,
                         {"lease_token": claim.json()["lease_token"], "decision": "accept"})
            self.assertEqual(r.status, 200, r)

        # The figures are those acta-gen wrote on each sheet (seeded: the same on every run),
        # for the parties it draws; the fields it has no row for are typed as blank (B), and
        # P1's independent candidacy as illegible (I). P2: carla misreads PT and MORENA (the
        # numbers only beto typed must never reach carla's or sofia's page).
        blank = {f: "sin_dato" for f in ("pes", "rsp", "fxm", "hagamos", "futuro", "pt_morena")}
        p1 = dict(blank, pan=49, pri=226, prd=141, pvem=37, pt=65, mc=109, morena=243,
                  ind_1="ilegible", no_registrados=11, nulos=6, total=887)
        p2a = dict(blank, pan=212, pri=161, prd=63, pvem=68, pt=220, mc=171, morena=248,
                   ind_1="sin_dato", no_registrados=1, nulos=17, total=1161)
        p2b = dict(p2a, pt=228, morena=243)  # the same total written: the sum is 3 over it
        p3 = {"pan": 255, "pri": 97, "prd": 77, "pvem": 219, "pt": 173, "mc": 139,
              "morena": 185, "hagamos": "sin_dato", "futuro": "sin_dato", "no_registrados": 19,
              "nulos": 4, "total": 1168}
        for figs in (p1, p2a, p3):
            self.assertEqual(with_total(figs), figs)
        self.assertEqual(set(p1), set(JALISCO))
        self.assertEqual(list(p3), TWELVE)
        secret = {"P2a": [220, 248], "P2b": [228, 243]}
        # Neither capturist's page may show the other's numbers on its own account.
        carla_numbers = [v for v in list(p1.values()) + list(p2b.values()) if isinstance(v, int)]
        carla_numbers += [with_total(p2b)["total"], 3]
        self.assertFalse(set(secret["P2a"]) & set(carla_numbers))
        note = "borrosa, sin enfoque"
        shots = tempfile.mkdtemp(prefix="shots-", dir=self.env.tmp)
        plan = {
            "base": self.gw.url("", tls=True), "shots": shots, "note": note,
            "users": {"cap1": {"username": "beto", "password": PASSWORD},
                      "cap2": {"username": "carla", "password": PASSWORD},
                      "sup": {"username": "sofia", "password": PASSWORD}},
            "actas": {k: {"photo_id": ids[k], "clave": claves[k]} for k in keys},
            "figures": {"P1": p1, "P2a": p2a, "P2b": p2b, "P3": p3},
            "secret": secret,
        }
        plan_path = os.path.join(self.env.tmp, "capture-plan.json")
        with open(plan_path, "w", encoding="utf-8") as f:
            json.dump(plan, f)
        profile = tempfile.mkdtemp(prefix="chromium-", dir=self.env.tmp)
        env = dict(os.environ, PREP_PLAYWRIGHT_DIR=pw_dir, HOME=profile)
        proc = subprocess.Popen(["node", SCRIPT, plan_path], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env)
        try:
            stdout, stderr = proc.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
            self.fail(f"capture.mjs hung; its progress:\n{stderr.decode()[-3000:]}")
        lines = stdout.decode(errors="replace").strip().splitlines()
        self.assertTrue(lines, f"no output (exit {proc.returncode}): {stderr.decode()[-3000:]}")
        res = json.loads(lines[-1])
        self.assertTrue(res.get("ok"), f"{res}\n{stderr.decode()[-3000:]}")
        self.assertEqual(proc.returncode, 0, res)
        self.assertEqual(res["errors"], [])

        # The pages: a capturist who logs in from / lands on the capture page; the keys.
        self.assertEqual(res["cap1_url"], "/capture/")
        self.assertGreater(res["zoom"]["after"], res["zoom"]["before"] * 1.4, res["zoom"])
        self.assertEqual((res["zoom"]["x"], res["zoom"]["y"]), (-80, -80), res["zoom"])
        self.assertAlmostEqual(res["zoom"]["fitted"], res["zoom"]["before"], places=2)
        self.assertEqual(res["letter_ignored"], "")
        self.assertEqual(res["claims"], {"cap1": [ids[k] for k in keys],
                                         "cap2": [ids["P1"], ids["P2"], ids["P3"]],
                                         "sup": [ids["P2"]]})

        # What the pages said after each submission, and what the API says now.
        self.assertEqual([res[k]["state"] for k in ("P1_cap1", "P1_cap2", "P2_cap1", "P2_cap2",
                                                    "P3_cap1", "P3_cap2", "P2_sup")],
                         ["pending", "captured", "pending", "in_dispute", "pending", "captured",
                          "captured"])
        self.assertIn("coincide", res["P1_cap1"]["verdict"])
        self.assertIn("no coincide", res["P2_cap2_final"])
        self.assertIn("diferencia de 3.", res["P2_cap2_final"])
        sofia = self.token("sofia")

        def acta(k):
            r = self.api("GET", f"/v1/capture/{ids[k]}", sofia)
            self.assertEqual(r.status, 200, r)
            return r.json()

        a1 = acta("P1")
        self.assertEqual(a1["state"], "captured")
        self.assertEqual([(c["user"], c["figures"]) for c in a1["captures"]],
                         [("beto", p1), ("carla", p1)])
        a2 = acta("P2")
        self.assertEqual(a2["state"], "captured")
        self.assertEqual([(c["user"], c["kind"], c["figures"]) for c in a2["captures"]],
                         [("beto", "blind", p2a), ("carla", "blind", p2b),
                          ("sofia", "supervisor", p2a)])
        self.assertEqual(a2["result"], a2["captures"][2]["capture_id"])
        self.assertIn("total_distinto_de_suma", a2["captures"][1]["observations"])
        a3 = acta("P3")
        self.assertEqual(a3["state"], "captured")
        self.assertEqual([(c["user"], c["figures"]) for c in a3["captures"]],
                         [("beto", p3), ("carla", p3)])
        self.assertEqual(res["P3_cap1"]["fields"], 12)
        self.assertEqual(res["P3_cap2"]["fields"], 12)

        # Blind: the second capturist's page never showed nor received beto's figures of P2,
        # nor asked for anything but its claims, images and leases; the supervisor saw which
        # fields differ and no value of either capture.
        self.assertEqual(res["cap2_dom_leak"], [])
        self.assertEqual(res["cap2_network_leak"], [])
        self.assertNotIn("figures", res["cap2_keys"])
        self.assertNotIn("captures", res["cap2_keys"])
        allowed = ("GET /capture/", "GET /login/", "GET /static/", "GET /v1/session",
                   "POST /v1/login", "POST /v1/capture/claim", "GET /v1/photos/{id}/review.webp",
                   "POST /v1/capture/{id}/figures", "POST /v1/capture/{id}/release", "GET blob:")
        for req in res["cap2_requests"]:
            self.assertTrue(req.startswith(allowed), req)
        self.assertEqual(sorted(res["disputed_marked"]), ["morena", "pt"])
        self.assertIn("2 campos", res["dispute_note"])
        self.assertEqual(res["sup_dom_leak"], [])
        self.assertEqual(res["sup_network_leak"], [])
        self.assertNotIn("figures", res["sup_keys"])

        # P4 went back to review as illegible, with the note; P5's lease was given back when
        # beto left the page.
        self.assertIn(claves["P4"], res["P4_status"])
        self.assertEqual(self.psql(f"SELECT state FROM verification_queue"
                                   f" WHERE photo_id = '{ids['P4']}'"), [["waiting"]])
        self.assertEqual(self.psql(
            f"SELECT d.decision, d.note FROM review_decisions d JOIN users u USING (user_id)"
            f" WHERE d.photo_id = '{ids['P4']}' AND u.username = 'beto'"),
            [["reopen", f"captura: ilegible: {note}"]])
        released = None
        for _ in range(50):
            released = self.psql(
                f"SELECT l.expires <= now() AND NOT l.used FROM capture_leases l"
                f" JOIN users u USING (user_id)"
                f" WHERE l.photo_id = '{ids['P5']}' AND u.username = 'beto'")
            if released == [["t"]]:
                break
            time.sleep(0.1)
        self.assertEqual(released, [["t"]])

        # The counters: live during the run (SSE), and at the end for district 5.
        self.assertGreater(res["counters_live_captured"], res["counters_before"])
        self.assertGreaterEqual(res["counters_live_in_dispute"], 1)
        want = {"expected": 6, "received": 5, "accepted": 4, "captured_once": 0, "captured": 3,
                "in_dispute": 0, "contabilizadas": 3, "no_contabilizadas": 0}
        self.assertEqual(res["counters"]["districts"]["14-5"], want)
        r = self.api("GET", "/v1/capture/counters", sofia)
        d5 = [d for d in r.json()["districts"] if d["district"] == 5][0]
        self.assertEqual({k: d5[k] for k in want}, want)
        self.assertEqual(res["counters"]["total"], {k: r.json()["total"][k] for k in want})

        # The acta of 12 fields: under 30 s from the first key to the answer on the page.
        times = {k: res[k]["seconds_typed"] for k in ("P1_cap1", "P1_cap2", "P2_cap1",
                                                      "P3_cap1", "P3_cap2")}
        print(f"    capture times (s, first key to the answer): 17 fields {times['P1_cap1']:.1f}"
              f" / {times['P1_cap2']:.1f} / {times['P2_cap1']:.1f};"
              f" 12 fields {times['P3_cap1']:.1f} / {times['P3_cap2']:.1f}", flush=True)
        self.assertLess(times["P3_cap1"], 30)
        self.assertLess(times["P3_cap2"], 30)

        # The pages are served as the others are (CSP, no-cache).
        for page in ("/capture/", "/capture/counters/", "/static/capture.js",
                     "/static/capture-counters.js"):
            r = self.get(page)
            self.assertEqual(r.status, 200, page)
            if page.endswith("/"):
                self.assertIn("script-src 'self'", r.headers.get("content-security-policy", ""))

        # Screenshots: rendered at the viewport width, not blank; the committed ones in docs/
        # are of the same pages at the same width.
        for name, committed in (("capture-page", "capture-page.png"),
                                ("capture-dispute", "capture-dispute.png"),
                                ("capture-counters", "capture-counters.png")):
            shot = os.path.join(shots, name + ".png")
            self.assertGreater(os.path.getsize(shot), 20000, f"{name}.png looks blank")
            self.assertEqual(png_size(shot)[0], 1400)
            committed = os.path.join(DOCS, committed)
            if os.environ.get("PREP_UPDATE_SCREENSHOTS") == "1":
                shutil.copy(shot, committed)
            self.assertTrue(os.path.exists(committed), f"{committed} missing")
            self.assertEqual(png_size(committed)[0], 1400)

"""Double-blind capture (issue 12): the election structure, two blind captures that agree or go
to a supervisor's deciding capture, leases, roles, the checks and contabilizada, sending an acta
back to review as illegible, and the counters. Real PostgreSQL, real gateway, real uploads that a
clerk accepts through the review API."""

import json
import os
import subprocess
import threading
import time

from harness import GatewayTestCase

PASSWORD = "una-clave-muy-larga"
ELECTION = os.path.join(os.environ.get("PREP_FIXTURES", "fixtures"), "elections",
                        "jalisco-2021-diputaciones-locales.json")
FIELDS = ["pan", "pri", "prd", "pvem", "pt", "mc", "morena", "pes", "rsp", "fxm", "hagamos",
          "futuro", "pt_morena", "ind_1", "no_registrados", "nulos", "total"]
NOMINAL = 100      # lista nominal of every catalogued casilla below
ALLOWANCE = 26     # representatives_allowance of acta type 2 in the fixture


def clave(section):
    """A Jalisco (14) clave of acta type 02 for |section|."""
    return f"14{section:04d}B010002"


def figures(**votes):
    """A capture of every field: |votes| given, 1 elsewhere; total the sum unless given."""
    out = {f: 1 for f in FIELDS if f != "total"}
    out.update({k: v for k, v in votes.items() if k != "total"})
    if "total" in votes:
        out["total"] = votes["total"]
    else:
        out["total"] = sum(v for k, v in out.items() if isinstance(v, int))
    return out


class CaptureTest(GatewayTestCase):
    gateway_args = ("--review-lease", "60")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for name, role in (("ana", "clerk"), ("cap1", "capturist"), ("cap2", "capturist"),
                           ("cap3", "capturist"), ("sofia", "supervisor")):
            cls.env.user_add(cls.conninfo, name, role, PASSWORD)
        p = subprocess.run([cls.env.gateway, "election", "import", ELECTION, "--json",
                            "--db", cls.conninfo], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        if p.returncode != 0:
            raise AssertionError(f"election import: {p.stderr.decode()}")
        cls.import_summary = json.loads(p.stdout)
        csv = os.path.join(cls.env.tmp, "catalogo-captura.csv")
        with open(csv, "w", encoding="utf-8") as f:
            f.write("clave_acta,state,district,municipality,section,casilla_type,nominal_list\n")
            for sec in range(101, 131):
                f.write(f"{clave(sec)},14,{1 + sec % 2},Guadalajara,{sec},B,{NOMINAL}\n")
            for sec in range(901, 905):  # district 9: the counters test's own
                f.write(f"{clave(sec)},14,9,Tlaquepaque,{sec},B,{NOMINAL}\n")
        p = subprocess.run([cls.env.gateway, "catalog", "import", csv, "--db", cls.conninfo],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        if p.returncode != 0:
            raise AssertionError(f"catalog import: {p.stderr.decode()}")
        cls.next_section = 101
        cls.photo = cls.env.gen_acta(seed=71, width=800, height=1100)

    def setUp(self):
        super().setUp()
        # Each test starts from empty queues: what earlier tests left is put out of the way.
        self.psql("UPDATE verification_queue SET state = 'rejected', lease_token = NULL"
                  " WHERE state = 'waiting'")
        self.psql("UPDATE capture_queue SET state = 'returned'"
                  " WHERE state IN ('pending', 'in_dispute')")

    # -- helpers --

    def accepted_acta(self, section=None):
        """Uploads the test photo for a new clave, lets clerk ana accept it through the review
        API, and returns (photo_id, clave)."""
        if section is None:
            section = type(self).next_section
            type(self).next_section += 1
        c = clave(section)
        return self.accept_upload(self.photo, c, "ana"), c

    def claim(self, user, dispute=False):
        return self.api("POST", "/v1/capture/disputes/claim" if dispute else "/v1/capture/claim",
                        user)

    def submit(self, user, pid, token, figs):
        return self.api("POST", f"/v1/capture/{pid}/figures", user,
                        {"lease_token": token, "figures": figs})

    def capture(self, user, pid, figs):
        """|user| claims (it must be |pid|) and submits |figs|; returns the answer's JSON."""
        r = self.claim(user)
        self.assertEqual(r.status, 200, r)
        doc = r.json()
        self.assertEqual(doc["photo_id"], pid)
        r = self.submit(user, pid, doc["lease_token"], figs)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def acta(self, pid):
        r = self.api("GET", f"/v1/capture/{pid}", "sofia")
        self.assertEqual(r.status, 200, r)
        return r.json()

    # -- tests --

    def test_election_import_command(self):
        self.assertEqual(self.import_summary, {"election_id": "jalisco-2021-diputaciones-locales",
                                               "acta_types": 1, "fields": len(FIELDS)})
        p = subprocess.run([self.env.gateway, "election", "--help"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(p.returncode, 0)
        self.assertIn(b"election import FILE.json", p.stdout + p.stderr)
        bad = os.path.join(self.env.tmp, "bad-election.json")
        with open(bad, "w") as f:
            json.dump({"election_id": "x", "name": "x", "illustrative": True,
                       "acta_types": [{"acta_type": 5, "name": "x", "representatives_allowance": 0,
                                       "fields": [{"id": "pan", "label": "PAN",
                                                   "kind": "party"}]}]}, f)
        p = subprocess.run([self.env.gateway, "election", "import", bad, "--db", self.conninfo],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"exactly one total", p.stderr)
        self.assertEqual(self.psql("SELECT count(*) FROM acta_types WHERE acta_type = 5"), [["0"]])
        with open(bad, "w") as f:
            f.write("{not json")
        p = subprocess.run([self.env.gateway, "election", "import", bad, "--db", self.conninfo],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"bad-election.json:1", p.stderr)

    def test_two_agreeing_captures_make_it_captured(self):
        pid, c = self.accepted_acta()
        r = self.claim("cap1")
        self.assertEqual(r.status, 200, r)
        doc = r.json()
        self.assertEqual((doc["photo_id"], doc["clave_acta"], doc["acta_type"], doc["kind"]),
                         (pid, c, 2, "blind"))
        self.assertEqual(doc["review_url"], f"/v1/photos/{pid}/review.webp")
        self.assertEqual([f["id"] for f in doc["fields"]], FIELDS)
        self.assertEqual(doc["fields"][-1]["kind"], "total")
        self.assertRegex(doc["lease_token"], r"^[0-9a-f-]{36}$")
        # A capturist may read the review image of what they capture.
        img = self.get(doc["review_url"], auth=False,
                       headers=["Authorization: Bearer " + self.session("cap1")["token"]])
        self.assertEqual(img.status, 200, img)
        figs = figures(pan=37, morena=41)
        r = self.submit("cap1", pid, doc["lease_token"], figs)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["state"], "pending")
        self.assertTrue(r.json()["checks"]["contabilizada"])
        # The same lease again: refused, not a second capture.
        r = self.submit("cap1", pid, doc["lease_token"], figs)
        self.assertProblem(r, 409, "already-captured")
        # cap1 is never given this acta again.
        self.assertEqual(self.claim("cap1").status, 204)
        # cap2 gets it, and nothing of cap1's figures.
        r = self.claim("cap2")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["photo_id"], pid)
        self.assertNotIn(b"figures", r.body)
        for f in r.json()["fields"]:
            self.assertEqual(set(f), {"id", "label", "kind"})
        self.assertEqual(set(r.json()), {"photo_id", "clave_acta", "acta_type", "acta_type_name",
                                         "round", "kind", "lease_token", "lease_expires",
                                         "review_url", "fields"})
        # Same figures in another order: they agree.
        again = dict(reversed(list(figs.items())))
        r2 = self.submit("cap2", pid, r.json()["lease_token"], again)
        self.assertEqual(r2.status, 200, r2)
        self.assertEqual(r2.json()["state"], "captured")
        self.assertEqual(self.claim("cap3").status, 204)
        acta = self.acta(pid)
        self.assertEqual(acta["state"], "captured")
        self.assertEqual([x["user"] for x in acta["captures"]], ["cap1", "cap2"])
        self.assertEqual(acta["result"], acta["captures"][1]["capture_id"])
        # The captures are append-only in the database itself.
        with self.assertRaises(AssertionError):
            self.psql("UPDATE captures SET figures = '{}'")

    def test_disagreement_goes_to_a_supervisor_and_is_kept(self):
        pid, _ = self.accepted_acta()
        first = figures(pt=12)
        self.capture("cap1", pid, first)
        second = figures(pt=21, total=first["total"])
        self.assertEqual(self.capture("cap2", pid, second)["state"], "in_dispute")
        self.assertEqual(self.claim("cap3").status, 204)  # two blind captures are made
        self.assertProblem(self.claim("cap3", dispute=True), 403, "forbidden")
        r = self.claim("sofia", dispute=True)
        self.assertEqual(r.status, 200, r)
        doc = r.json()
        self.assertEqual((doc["photo_id"], doc["kind"]), (pid, "supervisor"))
        self.assertEqual(doc["disputed_fields"], ["pt"])
        self.assertNotIn(b"figures", r.body)
        # Only one supervisor at a time; the lease holds it.
        self.assertEqual(self.claim("sofia", dispute=True).status, 204)
        r = self.submit("sofia", pid, doc["lease_token"], figures(pt=12))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["state"], "captured")
        acta = self.acta(pid)
        self.assertEqual(acta["state"], "captured")
        self.assertEqual([(x["user"], x["kind"], x["figures"]["pt"]) for x in acta["captures"]],
                         [("cap1", "blind", 12), ("cap2", "blind", 21),
                          ("sofia", "supervisor", 12)])
        self.assertEqual(acta["result"], acta["captures"][2]["capture_id"])

    def test_roles(self):
        self.assertProblem(self.claim("ana"), 403, "forbidden")  # a clerk cannot capture
        self.assertProblem(self.api("POST", "/v1/review/claim", "cap1"), 403, "forbidden")
        self.assertProblem(self.api("GET", "/v1/capture/counters", "cap1"), 403, "forbidden")
        self.assertProblem(self.api("GET", "/v1/progress", "cap1"), 403, "forbidden")
        self.assertProblem(self.claim(None), 401, "unauthenticated")
        r = self.api("GET", "/v1/session", "cap1")
        self.assertEqual(r.json()["role"], "capturist")
        self.assertProblem(self.api("GET", "/v1/capture/claim", "cap1"), 405,
                           "method-not-allowed")

    def test_checks_and_contabilizada(self):
        cases = [
            # (figures, contabilizada, reason, observations)
            (figures(pan=50, total=95), True, None, ["total_distinto_de_suma"]),
            (figures(pan=NOMINAL + ALLOWANCE), False, "excede_lista_nominal", []),
            (figures(pan=NOMINAL + ALLOWANCE - 15), True, None, []),  # sum at the bound
            (figures(pri="ilegible", pt="sin_dato"), True, None,
             ["campos_ilegibles", "campos_sin_dato"]),
            ({f: "ilegible" if i % 2 else "sin_dato" for i, f in enumerate(FIELDS)}, False,
             "sin_datos_legibles", ["campos_ilegibles", "campos_sin_dato"]),
        ]
        for figs, cont, reason, obs in cases:
            with self.subTest(figs=figs):
                pid, _ = self.accepted_acta()
                r = self.claim("cap1")
                self.assertEqual(r.json()["photo_id"], pid)
                checks = self.submit("cap1", pid, r.json()["lease_token"], figs).json()["checks"]
                self.assertEqual((checks["contabilizada"], checks["reason"], checks["observations"]),
                                 (cont, reason, obs), checks)
                self.assertEqual((checks["nominal_list"], checks["allowance"]), (NOMINAL, ALLOWANCE))
                self.assertEqual(checks["sum_votes"],
                                 sum(v for k, v in figs.items() if k != "total" and isinstance(v, int)))
        # What does not fit the acta type is refused, and the lease stays usable.
        pid, _ = self.accepted_acta()
        token = self.claim("cap1").json()["lease_token"]
        bad = figures()
        del bad["nulos"]
        r = self.submit("cap1", pid, token, bad)
        self.assertProblem(r, 422, "invalid-capture")
        self.assertIn("nulos", r.json()["detail"])
        r = self.submit("cap1", pid, token, dict(figures(), otro=1))
        self.assertProblem(r, 422, "invalid-capture")
        r = self.submit("cap1", pid, token, dict(figures(), pan=-1))
        self.assertProblem(r, 422, "invalid-capture")
        r = self.submit("cap1", pid, token, dict(figures(), pan="12"))
        self.assertProblem(r, 422, "invalid-capture")
        r = self.submit("cap2", pid, token, figures())  # another user's lease
        self.assertProblem(r, 409, "stale-lease")
        r = self.request("POST", f"/v1/capture/{pid}/figures",
                         ["Authorization: Bearer " + self.session("cap1")["token"],
                          "Content-Type: text/plain"],
                         json.dumps({"lease_token": token, "figures": figures()}).encode())
        self.assertProblem(r, 415, "unsupported-media-type")
        r = self.submit("cap1", "6f1c2a43-1d0e-4b6a-9c33-0f2b6b1e2a7d", token, figures())
        self.assertProblem(r, 404, "not-found")
        self.assertProblem(self.api("GET", "/v1/capture/6f1c2a43-1d0e-4b6a-9c33-0f2b6b1e2a7d",
                                    "sofia"), 404, "not-found")
        self.assertProblem(self.api("POST", f"/v1/capture/{pid}/nope", "cap1", {}), 404,
                           "not-found")
        self.assertEqual(self.submit("cap1", pid, token, figures()).status, 200)

    def test_send_back_as_illegible(self):
        pid, c = self.accepted_acta()
        doc = self.claim("cap1").json()
        self.assertEqual(doc["photo_id"], pid)
        r = self.api("POST", f"/v1/capture/{pid}/illegible", "cap1",
                     {"lease_token": doc["lease_token"], "note": "borrosa"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["state"], "returned")
        self.assertEqual(self.psql(f"SELECT q.state, c.state FROM verification_queue q"
                                   f" JOIN capture_queue c USING (photo_id)"
                                   f" WHERE photo_id = '{pid}'"), [["waiting", "returned"]])
        self.assertEqual(self.claim("cap2").status, 204)  # out of capture
        # Back in review, first in the queue, with the send-back in its history: a clerk asks
        # the casilla for a new photo (retake) as for any illegible photo.
        claim = self.api("POST", "/v1/review/claim", "ana").json()
        self.assertEqual(claim["photo_id"], pid)
        self.assertEqual(claim["history"][-1]["decision"], "reopen")
        self.assertEqual(claim["history"][-1]["user"], "cap1")
        self.assertEqual(claim["history"][-1]["note"], "captura: ilegible: borrosa")
        r = self.api("POST", f"/v1/review/{pid}/decision", "ana",
                     {"lease_token": claim["lease_token"], "decision": "retake"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.psql(f"SELECT state FROM verification_queue"
                                   f" WHERE photo_id = '{pid}'"), [["retake"]])
        acta = self.acta(pid)
        self.assertEqual((acta["state"], acta["returns"][0]["user"]), ("returned", "cap1"))
        # Accepted again after all, the acta starts a new round of capture.
        self.psql(f"SELECT review_reopen('{pid}', 1, 'test')")
        claim = self.api("POST", "/v1/review/claim", "ana").json()
        self.api("POST", f"/v1/review/{pid}/decision", "ana",
                 {"lease_token": claim["lease_token"], "decision": "accept"})
        doc = self.claim("cap1").json()
        self.assertEqual((doc["photo_id"], doc["round"]), (pid, 2))

    def test_release_gives_the_acta_to_someone_else(self):
        pid, _ = self.accepted_acta()
        doc = self.claim("cap1").json()
        self.assertEqual(self.claim("cap2").json()["photo_id"], pid)  # two leases at once
        self.assertEqual(self.claim("cap3").status, 204)
        r = self.api("POST", f"/v1/capture/{pid}/release", "cap1",
                     {"lease_token": doc["lease_token"]})
        self.assertEqual(r.status, 204, r)
        self.assertEqual(self.claim("cap3").json()["photo_id"], pid)
        self.assertEqual(self.claim("cap1").status, 204)  # never the same acta twice

    def test_expired_lease(self):
        pid, _ = self.accepted_acta()
        token = self.claim("cap1").json()["lease_token"]
        self.psql(f"UPDATE capture_leases SET expires = now() - interval '1 s'"
                  f" WHERE lease_token = '{token}'")
        self.assertProblem(self.submit("cap1", pid, token, figures()), 409, "stale-lease")
        self.assertEqual(self.claim("cap1").status, 204)  # seen once is enough
        self.assertEqual(self.claim("cap2").json()["photo_id"], pid)

    def test_simultaneous_submissions(self):
        pid, _ = self.accepted_acta()
        tokens = {u: self.claim(u).json()["lease_token"] for u in ("cap1", "cap2")}
        answers = {}

        def send(user):
            answers[user] = self.submit(user, pid, tokens[user], figures(mc=9))

        threads = [threading.Thread(target=send, args=(u,)) for u in tokens]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        states = sorted(a.json()["state"] for a in answers.values())
        self.assertEqual(states, ["captured", "pending"], answers)
        self.assertEqual(self.acta(pid)["state"], "captured")
        self.assertEqual(self.psql(f"SELECT blind_captures, state FROM capture_queue"
                                   f" WHERE photo_id = '{pid}'"), [["2", "captured"]])

    def test_events_carry_the_capture_totals(self):
        out = os.path.join(self.env.tmp, "capture-events.txt")
        with open(out, "wb") as f:
            proc = subprocess.Popen(["curl", "-sS", "-N", "--http2-prior-knowledge",
                                     "--max-time", "5", "-H",
                                     "Authorization: Bearer " + self.session("sofia")["token"],
                                     self.gw.url("/v1/review/events")], stdout=f,
                                    stderr=subprocess.STDOUT)
        time.sleep(1.0)
        pid, _ = self.accepted_acta()
        for user in ("cap1", "cap2"):
            self.capture(user, pid, figures())
        captured = self.api("GET", "/v1/capture/counters", "sofia").json()["total"]["captured"]
        proc.wait(timeout=20)
        with open(out, "rb") as f:
            text = f.read().decode()
        totals = [json.loads(line[6:])["capture"] for line in text.splitlines()
                  if line.startswith("data: ")]
        self.assertTrue(totals, text)
        self.assertIn(captured - 1, [t["captured"] for t in totals], text)
        self.assertEqual(totals[-1]["captured"], captured, text)

    def test_counters_add_up(self):
        # One acta at a time: the claim order (captured once first, then the oldest) is not
        # what this test is about.
        agreed, _ = self.accepted_acta(901)
        for user in ("cap1", "cap2"):
            self.capture(user, agreed, figures(pan=NOMINAL + ALLOWANCE))  # not contabilizada
        disputed, _ = self.accepted_acta(903)
        self.capture("cap1", disputed, figures(pri=3))
        self.capture("cap2", disputed, figures(pri=4))
        once, _ = self.accepted_acta(902)
        self.capture("cap1", once, figures())
        r = self.api("GET", "/v1/capture/counters", "sofia")
        self.assertEqual(r.status, 200, r)
        doc = r.json()
        d9 = [d for d in doc["districts"] if d["district"] == 9][0]
        self.assertEqual(d9, {"state": 14, "district": 9, "expected": 4, "received": 3,
                              "accepted": 3, "captured_once": 1, "captured": 1, "in_dispute": 1,
                              "contabilizadas": 0, "no_contabilizadas": 1})
        total = doc["total"]
        for key in total:
            self.assertEqual(total[key], sum(d[key] for d in doc["districts"]), key)
        self.assertEqual(total["captured"], total["contabilizadas"] + total["no_contabilizadas"])
        self.assertLessEqual(total["captured_once"] + total["captured"] + total["in_dispute"],
                             total["accepted"])
        self.assertLessEqual(total["accepted"], total["received"])
        self.assertLessEqual(total["received"], total["expected"])
        self.assertEqual(total["expected"], 34)

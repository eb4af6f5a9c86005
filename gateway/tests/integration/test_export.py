"""Publication (issue 12): `prep-gateway export prep-csv` on a small election whose actas are
uploaded, accepted through the review API and captured twice through the capture API. The test
then sets every time the cut depends on (receipts, decisions, captures) to fixed values, so that
the export is compared byte for byte with fixtures/export/jalisco-cut-2100.csv, which was checked
by hand against docs/export.md."""

import hashlib
import json
import os
import subprocess
import tempfile

from harness import GatewayTestCase, sanitizer_findings

PASSWORD = "una-clave-muy-larga"
FIXTURES = os.environ.get("PREP_FIXTURES", "fixtures")
ELECTION = os.path.join(FIXTURES, "elections", "jalisco-2021-diputaciones-locales.json")
EXPECTED = os.path.join(FIXTURES, "export", "jalisco-cut-2100.csv")
ELECTION_ID = "jalisco-2021-diputaciones-locales"
FIELDS = ["pan", "pri", "prd", "pvem", "pt", "mc", "morena", "pes", "rsp", "fxm", "hagamos",
          "futuro", "pt_morena", "ind_1", "no_registrados", "nulos", "total"]
CUT = "2021-06-06 21:00:00-05"
EARLY = "2021-06-06 19:30:00-05"
TZ = "America/Mexico_City"


def clave(section):
    return f"14{section:04d}B010002"


def figures(**votes):
    out = {f: 2 for f in FIELDS if f != "total"}
    out.update(votes)
    if "total" not in votes:
        out["total"] = sum(v for k, v in out.items() if isinstance(v, int))
    return out


class ExportTest(GatewayTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for name, role in (("ana", "clerk"), ("cap1", "capturist"), ("cap2", "capturist")):
            cls.env.user_add(cls.conninfo, name, role, PASSWORD)
        cls.cli_ok("election", "import", ELECTION)
        csv = os.path.join(cls.env.tmp, "catalogo-export.csv")
        with open(csv, "w", encoding="utf-8") as f:
            f.write("clave_acta,state,district,municipality,section,casilla_type,nominal_list\n")
            for sec in (301, 302, 303, 304, 305):
                f.write(f"{clave(sec)},14,3,Zapopan,{sec},B,100\n")
        cls.cli_ok("catalog", "import", csv)
        cls.photo = cls.env.gen_acta(seed=72, width=800, height=1100)

    @classmethod
    def cli(cls, *args):
        p = subprocess.run([cls.env.gateway, *args, "--db", cls.conninfo], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=120)
        findings = sanitizer_findings(p.stderr.decode(errors="replace"))
        if findings:
            raise AssertionError(f"{args}: sanitizer: {findings}")
        return p

    @classmethod
    def cli_ok(cls, *args):
        p = cls.cli(*args)
        if p.returncode != 0:
            raise AssertionError(f"{args}: exit {p.returncode}: {p.stderr.decode()}")
        return p

    def accept(self, section):
        return self.accept_upload(self.photo, clave(section), "ana")

    def capture(self, pid, figs):
        for user in ("cap1", "cap2"):
            r = self.api("POST", "/v1/capture/claim", user)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["photo_id"], pid)
            r = self.api("POST", f"/v1/capture/{pid}/figures", user,
                         {"lease_token": r.json()["lease_token"], "figures": figs})
            self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["state"], "captured")
        return r.json()["checks"]

    def set_times(self, section, minute):
        """Receipt at 19:MM, accept at 19:MM+5, captures at 20:MM and 20:MM:30 (UTC-5)."""
        c = clave(section)
        t = f"2021-06-06 %s:{minute:02d}:%s-05"
        self.psql(f"UPDATE photos SET received_at = '{t % ('19', '00')}' WHERE clave_acta = '{c}'")
        self.psql("ALTER TABLE review_decisions DISABLE TRIGGER review_decisions_append_only;"
                  f" UPDATE review_decisions SET decided_at = '{t % ('19', '00')}'::timestamptz"
                  f" + interval '5 minutes' WHERE clave_acta = '{c}';"
                  " ALTER TABLE review_decisions ENABLE TRIGGER review_decisions_append_only")
        self.psql("ALTER TABLE captures DISABLE TRIGGER captures_append_only;"
                  f" UPDATE captures x SET captured_at = '{t % ('20', '00')}'::timestamptz"
                  " + (SELECT count(*) FROM captures y WHERE y.clave_acta = x.clave_acta"
                  "    AND y.capture_id < x.capture_id) * interval '30 seconds'"
                  f" WHERE clave_acta = '{c}';"
                  " ALTER TABLE captures ENABLE TRIGGER captures_append_only")

    def export(self, *args):
        p = self.cli_ok("export", "prep-csv", "--tz", TZ, "--data", self.data_dir, *args)
        return p.stdout, p.stderr.decode()

    def test_export(self):
        # 301: captured and contabilizada; 302: votes over the lista nominal (100 + 26): not
        # contabilizada; 303: one illegible field and one left blank; 304 and 305 never arrive.
        checks = {}
        for sec, figs in ((301, figures(pan=30, morena=25)),
                          (302, figures(pan=90, pri=40)),
                          (303, figures(prd="ilegible", pt="sin_dato"))):
            checks[sec] = self.capture(self.accept(sec), figs)
            self.set_times(sec, sec - 300)
        self.assertTrue(checks[301]["contabilizada"])
        self.assertEqual(checks[302]["reason"], "excede_lista_nominal")
        self.assertTrue(checks[303]["contabilizada"])

        out, err = self.export("--at", CUT)
        with open(EXPECTED, "rb") as f:
            expected = f.read()
        if out != expected:
            got = os.path.join(self.env.tmp, "export-got.csv")
            with open(got, "wb") as f:
                f.write(out)
            self.fail(f"the cut differs from {EXPECTED}; got {got}:\n{out.decode()}")
        sha = hashlib.sha256(out).hexdigest()
        self.assertIn(f"sha256={sha}", err)

        # The cut is recorded once, with its hash, in the chain of cuts.
        rows = self.psql(f"SELECT sha256, bytes, actas FROM export_cuts WHERE sha256 = '{sha}'")
        self.assertEqual(rows, [[sha, str(len(out)), "5"]])

        # Later events do not change a cut: a new acta captured now, then the same cut again.
        self.capture(self.accept(305), figures(pan=10))
        again, err = self.export("--at", CUT)
        self.assertEqual(again, out)
        self.assertIn("(recorded before)", err)
        self.assertEqual(self.psql(f"SELECT count(*) FROM export_cuts WHERE sha256 = '{sha}'"),
                         [["1"]])

        # An earlier cut has the receipts but no decision or capture yet; a cut now has 305.
        early, _ = self.export("--at", EARLY)
        self.assertNotEqual(early, out)
        lines = early.decode().split("\n")
        self.assertEqual(lines[3], "5,3,0,0,0.0000,0,0.0000,0,0,0,0,0.0000")
        now, err = self.export()
        self.assertNotEqual(now, out)
        self.assertIn(clave(305) + ",14,JALISCO", now.decode())
        self.assertEqual(now.decode().split("\n")[3].split(",")[:4], ["5", "4", "0", "4"])
        # The cut now is linked to the photo ledger's head.
        head = self.psql("SELECT seq, hash FROM ledger ORDER BY seq DESC LIMIT 1")[0]
        self.assertIn(f"ledger_seq={head[0]}", err)
        self.assertEqual(self.psql("SELECT ledger_seq, ledger_head FROM export_cuts"
                                   " ORDER BY cut_id DESC LIMIT 1"), [head])

        # The chain of cuts holds, each is signed by the gateway key, and the photo ledger still
        # verifies: `ledger verify` checks both.
        self.assertEqual(self.psql("SELECT count(*) FROM export_cuts_check()"), [["0"]])
        self.assertEqual(self.psql("SELECT count(*) FROM export_cuts"), [["3"]])
        key = json.loads(subprocess.run(
            [self.env.gateway, "key", "show", "--data", self.data_dir, "--json"],
            stdout=subprocess.PIPE, check=True, timeout=60).stdout)
        self.assertEqual(self.psql("SELECT DISTINCT gateway_key FROM export_cuts"),
                         [[key["fingerprint"]]])
        p = self.cli("ledger", "verify", "--data", self.data_dir, "--json")
        self.assertEqual(p.returncode, 0, p.stdout.decode() + p.stderr.decode())
        doc = json.loads(p.stdout)
        self.assertEqual((doc["valid"], doc["export_cuts"]), (True, 3), doc)
        # An edited cut is found (as the owner, with the trigger set aside): its hash no longer
        # matches, and, the hash recomputed, the signature does not either.
        first = self.psql("SELECT min(cut_id) FROM export_cuts")[0][0]
        self.edit_cut(f"bytes = bytes + 1 WHERE cut_id = {first}")
        self.assertEqual(self.psql("SELECT cut_id, why FROM export_cuts_check()"),
                         [[first, "hash does not match the row"]])
        p = self.cli("ledger", "verify", "--data", self.data_dir)
        self.assertEqual(p.returncode, 1)
        self.assertIn(f"BROKEN export cuts at cut {first}: hash does not match".encode(),
                      p.stdout)
        self.edit_cut(f"bytes = bytes - 1 WHERE cut_id = {first}")
        self.assertEqual(self.cli("ledger", "verify", "--data", self.data_dir).returncode, 0)
        # The last cut edited and its hash recomputed: the chain holds, the signature does not.
        last = self.psql("SELECT max(cut_id) FROM export_cuts")[0][0]
        self.edit_cut(f"actas = actas + 1 WHERE cut_id = {last}")
        self.edit_cut(f"hash = export_cut_hash(export_cuts) WHERE cut_id = {last}")
        self.assertEqual(self.psql("SELECT count(*) FROM export_cuts_check()"), [["0"]])
        p = self.cli("ledger", "verify", "--data", self.data_dir)
        self.assertEqual(p.returncode, 1)
        self.assertIn(f"BROKEN export cuts at cut {last}: the signature does not match".encode(),
                      p.stdout)

    def edit_cut(self, assignment):
        """UPDATE export_cuts SET |assignment|, as the owner, with its trigger set aside."""
        self.psql("ALTER TABLE export_cuts DISABLE TRIGGER export_cuts_append_only;"
                  f" UPDATE export_cuts SET {assignment};"
                  " ALTER TABLE export_cuts ENABLE TRIGGER export_cuts_append_only")

    def test_out_file_and_schedule(self):
        d = tempfile.mkdtemp(prefix="export-", dir=self.env.tmp)
        path = os.path.join(d, "cut.csv")
        out, _ = self.export("--at", CUT)
        self.export("--at", CUT, "--out", path)
        with open(path, "rb") as f:
            self.assertEqual(f.read(), out)
        # Scheduled: one cut at the current minute into the folder, under its time, and latest.
        sched = tempfile.mkdtemp(prefix="export-every-", dir=self.env.tmp)
        _, err = self.export("--every", "1", "--count", "1", "--out", sched)
        names = sorted(os.listdir(sched))
        self.assertEqual(len(names), 2, names)
        self.assertEqual(names[1], "latest.csv")
        self.assertRegex(names[0], r"^[0-9]{8}_[0-9]{4}_PREP_" + ELECTION_ID + r"\.csv$")
        self.assertEqual(os.readlink(os.path.join(sched, "latest.csv")), names[0])
        with open(os.path.join(sched, names[0]), "rb") as f:
            data = f.read()
        self.assertIn(f"sha256={hashlib.sha256(data).hexdigest()}", err)
        # The election's name has a comma: quoted (RFC 4180).
        self.assertTrue(data.startswith(b'"Jalisco, proceso electoral'), data[:80])

    def test_usage(self):
        p = subprocess.run([self.env.gateway, "export", "--help"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(p.returncode, 0)
        self.assertIn(b"export prep-csv", p.stdout)
        p = self.cli("export", "prep-csv", "--data", self.data_dir, "--election",
                     "no-such-election")
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"no such election", p.stderr)
        p = self.cli("export", "prep-csv", "--data", self.data_dir, "--every", "1")
        self.assertEqual(p.returncode, 2)

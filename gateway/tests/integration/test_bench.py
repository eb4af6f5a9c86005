"""prep-bench, the capacity testers' load generator, against a real gateway: simulated phones
(devices enrolled by bench/enrol-devices.sh through the real enrolment) send signed uploads of
distinct photos and verify their receipts. A scenario replayed at a speed factor writes the JSON
result and the HTML report, which headless Chromium opens with the network off and finds its
plots drawn; the open model shows a 2 s stall of the gateway (SIGSTOP) in p99 where the closed
model, as every closed-loop tool, records it once per phone; --require fails the run."""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time

from harness import SignedTestCase

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
REPORT_JS = os.path.join(HERE, "..", "e2e", "bench-report.mjs")
DEVICES = 16  # the gateway lets a device have 4 uploads in flight: spread them


class BenchCase(SignedTestCase):
    """Enrolled simulated phones, a pool of photos and a prep-bench runner; no tests."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        upload = os.environ["PREP_UPLOAD"]
        cls.bench = os.path.join(os.path.dirname(os.path.dirname(upload)), "bench", "prep-bench")
        cls.devices = tempfile.mkdtemp(prefix="bench-devices-", dir=cls.env.tmp)
        p = subprocess.run([os.path.join(ROOT, "bench", "enrol-devices.sh"), "--db",
                            cls.conninfo, "--server", cls.gw.url(""), "--dir", cls.devices,
                            "-n", str(DEVICES), "--actas", "14*", "--gateway", cls.env.gateway,
                            "--upload", upload], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=300)
        assert p.returncode == 0, p.stdout.decode(errors="replace")
        # A pool of distinct phone-like photos (small, to keep the suite quick).
        cls.photos = tempfile.mkdtemp(prefix="bench-photos-", dir=cls.env.tmp)
        for seed in range(1, 7):
            src = cls.env.gen_acta(seed=200 + seed, width=900, height=1200)
            shutil.copy(src, os.path.join(cls.photos, f"acta-{seed}.jpg"))
        time.sleep(0.5)  # the device records reach the gateway's copy
        cls.clave_base = 0

    def prep_bench(self, *args, expect_rc=0, timeout=300):
        """Runs prep-bench with fresh claves; returns (result JSON, stderr, the run's folder)."""
        out = tempfile.mkdtemp(prefix="bench-run-", dir=self.env.tmp)
        cls = type(self)
        base, cls.clave_base = cls.clave_base, cls.clave_base + 1000
        cmd = [self.bench, "--server", self.gw.url(""), "--devices", self.devices, "--photos",
               self.photos, "--clave-base", str(base), "--out", os.path.join(out, "r.json"),
               "--html", os.path.join(out, "r.html"), *args]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
        err = p.stderr.decode(errors="replace")
        self.assertEqual(p.returncode, expect_rc, f"{cmd}\n{p.stdout.decode()}\n{err}")
        with open(os.path.join(out, "r.json")) as f:
            return json.load(f), err, out

    @staticmethod
    def claves(base, n):
        """The claves of uploads 0..n-1 from --clave-base |base|, as SQL literals."""
        return ",".join(f"'14{(base + i) % 9999 + 1:04d}B{(base + i) // 9999 % 99 + 1:02d}0002'"
                        for i in range(n))

    def wait_queued(self, base, n):
        """Waits until the |n| photos from |base| are queued; returns [distinct bodies, queued]."""
        for _ in range(600):
            rows = self.psql("SELECT count(DISTINCT sha256), count(*) FILTER (WHERE status ="
                             " 'queued') FROM photos WHERE clave_acta IN"
                             f" ({self.claves(base, n)})")
            if int(rows[0][1]) == n:
                break
            time.sleep(0.1)
        return [int(v) for v in rows[0]]

    def stall_after(self, delay, length):
        """Stops the gateway for |length| s, |delay| s from now, in a thread."""
        def stall():
            time.sleep(delay)
            os.kill(self.gw.pid, signal.SIGSTOP)
            time.sleep(length)
            os.kill(self.gw.pid, signal.SIGCONT)
        t = threading.Thread(target=stall)
        t.start()
        return t



class BenchTest(BenchCase):
    def test_scenario_json_and_report_drawn_offline(self):
        pw_dir = self.browser()
        scen = os.path.join(self.env.tmp, "bench-short-scenario")
        with open(scen, "w") as f:
            f.write("# a short evening: 20 uploads in the first minute, 40 in the second\n"
                    "18:00 20\n18:01 40\n18:02 0\n")
        res, _, out = self.prep_bench("--scenario", scen, "--speed", "12", "-c", "16",
                                      "--require", "errors<0.1%")
        self.assertEqual(res["model"], "open")
        self.assertEqual((res["planned"], res["done"], res["ok"]), (60, 60, 60), res)
        self.assertEqual(res["receipts_verified"], 60)
        self.assertEqual(res["error_classes"], {})
        # 120 s of evening at speed 12 last about 10 s, not as fast as the gateway can go
        self.assertGreater(res["seconds"], 9.5)
        self.assertLess(res["seconds"], 40)
        self.assertEqual(res["latency"]["count"], 60)
        self.assertLessEqual(res["latency"]["p50_ms"], res["latency"]["p99_ms"])
        self.assertLessEqual(res["latency"]["p99_ms"], res["latency"]["max_ms"])
        series = res["series"]
        offered = sum(r[0] for r in series["rows"]) * series["step_s"]
        self.assertEqual(round(offered), 60)
        # each upload is a photo of its own clave, from the pool's bytes, by the enrolled phones
        # (test_distinct_bodies... makes bodies of its own: those photos carry no pool bytes)
        claves, bodies, phones = self.psql("SELECT count(DISTINCT clave_acta),"
                                           " count(DISTINCT sha256), count(DISTINCT source)"
                                           " FROM photos WHERE sha256 IN (SELECT sha256 FROM"
                                           " photos GROUP BY sha256 HAVING count(*) > 1)")[0]
        self.assertGreaterEqual(int(claves), 60)
        self.assertEqual(int(bodies), 6)
        self.assertEqual(int(phones), DEVICES)
        # The report opens offline in Chromium and its four plots are drawn.
        profile = tempfile.mkdtemp(prefix="chromium-", dir=self.env.tmp)
        env = dict(os.environ, PREP_PLAYWRIGHT_DIR=pw_dir, HOME=profile)
        p = subprocess.run(["node", REPORT_JS, os.path.join(out, "r.html"), profile],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120, env=env)
        lines = p.stdout.decode(errors="replace").strip().splitlines()
        self.assertTrue(lines, f"no output (exit {p.returncode}): {p.stderr.decode()[-2000:]}")
        page = json.loads(lines[-1])
        self.assertTrue(page["ok"], page)
        self.assertEqual(page["requests"], [], "the report asked for something besides itself")
        self.assertEqual(page["errors"], [])
        ids = [c["id"] for c in page["canvases"]]
        self.assertEqual(ids, ["throughput", "latency", "distribution", "errors"])
        for c in page["canvases"]:
            self.assertGreater(c["drawn"], 3, c)
            self.assertGreater(c["colour"], 200, f"{c['id']}: no plotted line")
        self.assertIn("60 / 60", page["summary"])

    def test_open_loop_p99_shows_a_stall_closed_loop_hides(self):
        # Open: 8 arrivals a second for 8 s; the gateway stops for 2 s from the 3rd second.
        t = self.stall_after(3.0, 2.0)
        try:
            opened, _, _ = self.prep_bench("--rate", "8", "--duration", "8", "-c", "40")
        finally:
            t.join()
        # Closed: 2 phones for 8 s, the same stall.
        t = self.stall_after(3.0, 2.0)
        try:
            closed, _, _ = self.prep_bench("-c", "2", "--duration", "8")
        finally:
            t.join()
        o, c = opened["latency"], closed["latency"]
        print(f"\nopen: {opened['ok']} uploads, p50 {o['p50_ms']:.0f} ms, p99 {o['p99_ms']:.0f} ms,"
              f" {o['over_1s']} over 1 s; closed: {closed['ok']} uploads, p50 {c['p50_ms']:.0f} ms,"
              f" p99 {c['p99_ms']:.0f} ms, {c['over_1s']} over 1 s")
        self.assertEqual(opened["ok"], 64, opened)
        self.assertEqual(closed["errors"], 0, closed)
        # Both saw the stall once at least...
        self.assertGreaterEqual(o["max_ms"], 1900)
        self.assertGreaterEqual(c["max_ms"], 1900)
        # ...but only the open model counts the uploads that were due during it: p99 >= 2 s.
        # (the worst but one of 64 uploads at 8/s: within two arrival intervals of the stall)
        self.assertGreaterEqual(o["p99_ms"], 1700)
        self.assertGreaterEqual(o["over_1s"], 5)
        # the closed run recorded one slow upload per phone, whatever the run's length
        self.assertLessEqual(c["over_1s"], 2)
        self.assertGreater(o["over_1s"], 2 * c["over_1s"])

    def test_distinct_bodies_are_each_stored_and_processed(self):
        # --distinct: 12 uploads from a pool of 6 are 12 bodies, each processed to `queued`
        base = type(self).clave_base
        res, _, _ = self.prep_bench("-c", "2", "-n", "12", "--distinct")
        self.assertEqual((res["ok"], res["receipts_verified"]), (12, 12), res)
        self.assertEqual(self.wait_queued(base, 12), [12, 12])

    def test_drop_cuts_and_resumes_uploads(self):
        # --drop 50: about half the uploads are cut mid-body (connection reset, no GOAWAY) and
        # resumed with HEAD and PATCH; every one ends with a verified receipt and one photo row
        base = type(self).clave_base
        res, _, _ = self.prep_bench("-c", "3", "-n", "16", "--drop", "50", "--distinct")
        self.assertEqual((res["ok"], res["receipts_verified"]), (16, 16), res)
        self.assertGreaterEqual(res["dropped"], 4, res)
        self.assertEqual(res["resumed"], res["dropped"], res)
        self.assertGreater(res["kept_pct"], 0, "the gateway kept bytes across the cuts")
        self.assertLess(res["kept_pct"], 100, res)
        self.assertEqual(self.wait_queued(base, 16), [16, 16])
        # the same uploads are cut in every run
        again, _, _ = self.prep_bench("-c", "3", "-n", "16", "--drop", "50", "--distinct")
        self.assertEqual((again["ok"], again["dropped"]), (16, res["dropped"]), again)

    def test_delay_until_queued_matches_the_database(self):
        # --queued: each receipt starts a wait that the device's own photo list (signed GET
        # /v1/devices/self/photos, as the app polls it) ends once the photo is queued; the waits
        # agree with the database's received_at -> processed_at within the poll interval
        for _ in range(1200):  # the other tests' photos processed first: no backlog to wait on
            if self.psql("SELECT count(*) FROM photos WHERE status IN ('received',"
                         " 'processing')")[0][0] == "0":
                break
            time.sleep(0.1)
        base = type(self).clave_base
        res, _, _ = self.prep_bench("-c", "2", "-n", "8", "--distinct", "--queued", "--poll",
                                    "0.2", "--queued-timeout", "120")
        self.assertEqual((res["ok"], res["tracked"], res["queued"]), (8, 8, 8), res)
        rows = self.psql("SELECT count(*), max(extract(epoch FROM processed_at - received_at)) "
                         "FROM photos WHERE status = 'queued' AND clave_acta IN "
                         f"({self.claves(base, 8)})")
        self.assertEqual(int(rows[0][0]), 8)
        db_max_ms = float(rows[0][1]) * 1000
        seen_max_ms = res["to_queued"]["max_ms"]
        self.assertGreaterEqual(seen_max_ms, db_max_ms - 100, res["to_queued"])
        self.assertLessEqual(seen_max_ms, db_max_ms + 200 + 500, res["to_queued"])

    def test_abusive_clients_are_refused_beside_the_phones(self):
        # --abusive: hostile clients from another address, counted apart from the phones, which
        # all get their receipts; the gateway refuses every hostile upload
        for kind, want in (("bad-signature", "http 401 bad-signature"),
                           ("unsigned", "http 401 signature-required")):
            res, _, _ = self.prep_bench("-c", "2", "-n", "6", "--abusive", "2", "--abuse", kind,
                                        "--abuse-from", "127.0.0.2")
            self.assertEqual((res["ok"], res["receipts_verified"]), (6, 6), res)
            abuse = res["abuse"]
            self.assertEqual((abuse["kind"], abuse["clients"]), (kind, 2), abuse)
            self.assertGreater(abuse["classes"].get(want, 0), 0, abuse)
            self.assertEqual(abuse["sent"], sum(abuse["classes"].values()), abuse)
            self.assertFalse([k for k in abuse["classes"] if k.startswith("accepted")], abuse)
        p = subprocess.run([self.bench, "--abuse", "flood", "--plan"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--abuse", p.stderr.decode())

    def test_require_fails_the_run(self):
        res, err, _ = self.prep_bench("-c", "2", "-n", "4", "--require",
                                      "p99<1us,errors<50%,after_body.max<1us,after_body.p50<60s",
                                      expect_rc=3)
        self.assertEqual(res["ok"], 4)
        self.assertIn("require p99<1us: FAILED", err)
        self.assertIn("require errors<50%: ok", err)
        self.assertIn("require after_body.max<1us: FAILED", err)
        self.assertIn("require after_body.p50<60s: ok", err)
        # no upload reached a gateway: a latency that nothing measured does not pass
        p = subprocess.run([self.bench, "--server", "http://127.0.0.1:1", "--devices",
                            self.devices, "--photos", self.photos, "-n", "1", "--require",
                            "after_body.p99<1s"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(p.returncode, 3)
        self.assertIn("require after_body.p99<1s: FAILED", p.stderr.decode())
        for spec in ("p99~1s", "after_body.errors<1%", "after_body.p98<1s"):
            p = subprocess.run([self.bench, "--server", self.gw.url(""), "--devices",
                                self.devices, "--photos", self.photos, "--require", spec],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
            self.assertEqual(p.returncode, 2, spec)
            self.assertIn("--require", p.stderr.decode())

    def test_rtt_delays_each_phones_bytes(self):
        # --rtt: the phones' connections go through a relay that holds each byte half the round
        # trip each way: an upload takes at least two (the headers and first bytes, then the
        # window the signature check opens; the answer), and a cut still reaches the gateway,
        # which keeps the bytes for the resumption
        res, _, _ = self.prep_bench("-c", "2", "-n", "6", "--rtt", "300", "--drop", "50")
        self.assertEqual((res["ok"], res["receipts_verified"]), (6, 6), res)
        self.assertEqual(res["phone_rtt_ms"], 300, res)
        self.assertGreaterEqual(res["service"]["p50_ms"], 2 * 300 * 0.95, res)
        self.assertGreater(res["dropped"], 0, res)
        self.assertEqual(res["resumed"], res["dropped"], res)

    def test_kbps_paces_each_phone(self):
        size = os.path.getsize(os.path.join(self.photos, "acta-1.jpg"))
        res, _, _ = self.prep_bench("-c", "1", "-n", "2", "--kbps", "4000")
        self.assertEqual(res["ok"], 2, res)
        # at 4000 kbit/s a photo takes its size * 8 / 4e6 seconds at least
        want_ms = min(os.path.getsize(os.path.join(self.photos, f)) for f in
                      os.listdir(self.photos)) * 8 / 4000
        self.assertGreater(size, 100000)
        self.assertGreaterEqual(res["service"]["p50_ms"], want_ms * 0.95)
        # that time is the link's: the receipt comes soon after the last byte
        self.assertEqual(res["after_body"]["count"], 2, res)
        self.assertLess(res["after_body"]["max_ms"], want_ms / 2, res)
        fast, _, _ = self.prep_bench("-c", "1", "-n", "2")
        self.assertLess(fast["service"]["p50_ms"], want_ms / 2)


class PoolTest(BenchCase):
    def test_make_pool_writes_the_photos_prep_bench_sends(self):
        # bench/make-pool.sh, the pool a capacity tester makes for --photos: acta-gen's
        # 4000x3000 photos, distinct, the same bytes for the same options
        pools = []
        for _ in range(2):
            pool = tempfile.mkdtemp(prefix="bench-pool-", dir=self.env.tmp)
            p = subprocess.run([os.path.join(ROOT, "bench", "make-pool.sh"), pool, "-n", "2",
                                "--light", "--seed", "77"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=300)
            self.assertEqual(p.returncode, 0, p.stdout.decode(errors="replace"))
            self.assertEqual(sorted(os.listdir(pool)), ["acta-0001.jpg", "acta-0002.jpg"])
            pools.append([open(os.path.join(pool, n), "rb").read()
                          for n in sorted(os.listdir(pool))])
        a, b = pools[0]
        self.assertTrue(a.startswith(b"\xff\xd8") and b.startswith(b"\xff\xd8"))
        self.assertGreater(min(len(a), len(b)), 1 << 20)
        self.assertNotEqual(a, b)
        self.assertEqual(pools[0], pools[1])
        res, _, _ = self.prep_bench("-c", "2", "-n", "2", "--photos", pool)
        self.assertEqual((res["ok"], res["receipts_verified"]), (2, 2), res)
        bad = subprocess.run([os.path.join(ROOT, "bench", "make-pool.sh"), pool, "-n", "x"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(bad.returncode, 2)
        self.assertIn(b"Usage", bad.stderr)


class SlowAbuseTest(BenchCase):
    """The slow abusive kind against a gateway whose body timeout is short, as
    test_hardening's: each slow client's upload gets its 408 within the run."""

    gateway_args = ("--body-timeout", "2", "--min-body-rate", "20000")

    def test_slow_clients_get_408_beside_the_phones(self):
        res, _, _ = self.prep_bench("-c", "2", "--rate", "2", "--duration", "6", "--abusive", "2",
                                    "--abuse", "slow", "--abuse-from", "127.0.0.2")
        self.assertEqual(res["ok"], res["receipts_verified"], res)
        self.assertGreaterEqual(res["ok"], 10, res)
        self.assertEqual(res["errors"], 0, res)
        abuse = res["abuse"]
        self.assertEqual((abuse["kind"], abuse["clients"]), ("slow", 2), abuse)
        timed_out = sum(n for k, n in abuse["classes"].items() if k.startswith("http 408"))
        self.assertGreater(timed_out, 0, abuse)
        self.assertFalse([k for k in abuse["classes"] if k.startswith("accepted")], abuse)

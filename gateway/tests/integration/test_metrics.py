"""GET /metrics and /readyz as monitoring sees them: the exposition checked by Prometheus's own
`promtool check metrics` and its values after real uploads; the metrics listener of its own
(--metrics, plain HTTP/1.1) with the same figures; a real Prometheus (Debian's) scraping both,
the gateway's TLS listener over HTTP/2 and the metrics listener, and answering a query; /readyz turning 503 with the reason when
the database is unreachable, and when the spool's disk is full; the example alert rules of
deploy/prometheus checked by `promtool check rules`, every metric they name being one the
gateway exports."""

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import unittest
import urllib.request

from harness import GatewayTestCase, TmpfsDataTestCase, free_ports, read_bytes

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))


def samples(text):
    """{'name{labels}': value} of an exposition's sample lines."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


class MetricsTest(GatewayTestCase):
    @classmethod
    def setUpClass(cls):
        cls.metrics_port = free_ports(1)[0]
        cls.gateway_args = ("--metrics", f"127.0.0.1:{cls.metrics_port}")
        super().setUpClass()

    def listener(self, path, method="GET"):
        """(status, body) of |method| |path| on the metrics listener, over HTTP/1.1."""
        req = urllib.request.Request(f"http://127.0.0.1:{self.metrics_port}{path}", method=method)
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def metrics(self):
        r = self.get("/metrics")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers.get("content-type", "").startswith("text/plain; version=0.0.4"),
                        r.headers)
        return r.body.decode()

    def test_1_exposition_passes_promtool_and_counts_uploads(self):
        photo = os.path.join(self.env.fixtures, "small", "ok_o1.jpg")
        before = samples(self.metrics())
        r = self.upload(photo)
        self.assertEqual(r.status, 201, r)
        self.wait_status(r.json()["photo_id"], "queued")
        self.assertEqual(self.upload(photo).status, 200)  # a retry of the same photo
        text = self.metrics()
        p = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        self.assertEqual(p.returncode, 0, "promtool: " + p.stdout.decode() + "\n" + text)
        self.assertEqual(p.stdout.decode().strip(), "", "promtool's lint has remarks")
        now = samples(text)

        def grew(key):
            return now[key] - before.get(key, 0)

        self.assertEqual(grew('prep_uploads_total{result="created"}'), 1)
        self.assertEqual(grew('prep_uploads_total{result="retry"}'), 1)
        self.assertEqual(grew("prep_upload_bytes_total"), len(read_bytes(photo)))
        self.assertEqual(grew("prep_upload_duration_seconds_count"), 2)
        self.assertEqual(grew('prep_upload_duration_seconds_bucket{le="+Inf"}'), 2)
        self.assertGreater(grew("prep_upload_duration_seconds_sum"), 0)
        self.assertEqual(grew('prep_stage_duration_seconds_count{stage="ingest"}'), 1)
        self.assertEqual(grew('prep_stage_duration_seconds_count{stage="process"}'), 1)
        self.assertEqual(now["prep_uploads_in_flight"], 0)
        self.assertEqual(now["prep_database_up"], 1)
        self.assertGreaterEqual(now['prep_photos{status="queued"}'], 1)
        self.assertGreaterEqual(now['prep_review_queue{state="waiting"}'], 1)
        self.assertEqual(now["prep_spool_pending"], 0)
        self.assertGreater(now["prep_spool_free_bytes"], 0)
        # Buckets are cumulative.
        buckets = [(k, v) for k, v in now.items()
                   if k.startswith("prep_upload_duration_seconds_bucket")]
        values = [v for _, v in buckets]
        self.assertEqual(values, sorted(values), buckets)
        # A refusal is counted by its problem type.
        key = 'prep_problems_total{type="invalid-clave-acta"}'
        n = now.get(key, 0)
        self.assertEqual(self.upload(photo, clave="14X").status, 400)
        self.assertEqual(samples(self.metrics())[key], n + 1)

    def test_1b_metrics_listener_of_its_own(self):
        status, text = self.listener("/metrics")
        self.assertEqual(status, 200)
        p = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout.decode())
        # The same figures as the public listeners' /metrics.
        mine, public = samples(text), samples(self.metrics())
        for key in ('prep_uploads_total{result="created"}', "prep_upload_bytes_total",
                    "prep_database_up", 'prep_photos{status="queued"}'):
            self.assertEqual(mine[key], public[key], key)
        self.assertEqual(self.listener("/healthz"), (200, '{"status":"ok"}'))
        self.assertEqual(self.listener("/v1/photos")[0], 404)
        self.assertEqual(self.listener("/metrics", "POST")[0], 405)
        # Uploads are not served there: it is not an API listener.
        self.assertEqual(self.listener("/v1/actas/140338B010002/photos", "POST")[0], 404)

    def test_2_scraped_by_prometheus(self):
        if not os.access(PROMETHEUS, os.X_OK):
            self.fail("prometheus is not installed (scripts/lib.sh installs it)")
        work = tempfile.mkdtemp(prefix="prometheus-", dir=self.env.tmp)
        self.addCleanup(shutil.rmtree, work, ignore_errors=True)
        port = free_ports(1)[0]
        config = os.path.join(work, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: prep-gateway\n    scheme: https\n"
                    "    tls_config:\n      insecure_skip_verify: true\n"
                    f"    static_configs:\n      - targets: ['127.0.0.1:{self.gw.tls_port}']\n"
                    "  - job_name: prep-gateway-metrics\n"
                    f"    static_configs:\n      - targets: ['127.0.0.1:{self.metrics_port}']\n")
        log = open(os.path.join(work, "prometheus.log"), "wb")
        prom = subprocess.Popen([PROMETHEUS, f"--config.file={config}",
                                 f"--storage.tsdb.path={work}/data",
                                 f"--web.listen-address=127.0.0.1:{port}"],
                                stdout=log, stderr=subprocess.STDOUT)
        self.addCleanup(prom.wait, 30)
        self.addCleanup(prom.terminate)

        def query(q):
            url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": q})
            with urllib.request.urlopen(url, timeout=5) as resp:
                return json.load(resp)["data"]["result"]

        deadline, last = time.monotonic() + 60, None
        while time.monotonic() < deadline:
            try:
                up = query('up{job=~"prep-gateway|prep-gateway-metrics"} == 1')
                got = query('prep_uploads_total{job="prep-gateway",result="created"}')
                if len(up) == 2 and got:
                    break
                last = (up, got)
            except OSError as e:
                last = e
            time.sleep(0.5)
        else:
            log.flush()
            self.fail(f"Prometheus did not scrape the gateway: {last!r}\n" +
                      open(os.path.join(work, "prometheus.log")).read()[-3000:])
        # What Prometheus stored is what the gateway says now.
        value = float(got[0]["value"][1])
        self.assertEqual(value, samples(self.metrics())['prep_uploads_total{result="created"}'])
        # It scraped over HTTP/2: the gateway speaks nothing else.
        self.assertRegex(self.gw.stderr_text(), r'method=GET path="/metrics" status=200')


class ReadyDatabaseDownTest(GatewayTestCase):
    def test_readyz_says_the_database_is_unreachable(self):
        self.assertEqual(self.get("/readyz").status, 200)
        # The same gateway, its database now at a port where nothing listens.
        self.gw.stop()
        dead = re.sub(r"port=\d+", f"port={free_ports(1)[0]}", self.conninfo)
        self.assertNotEqual(dead, self.conninfo)
        self.gw.start(conninfo=dead)
        try:
            r = self.get("/readyz")
            self.assertProblem(r, 503, "not-ready")
            self.assertIn("database unreachable", r.json()["detail"])
            # Uploads still get receipts (the spool first), and /metrics says the database is down.
            self.assertEqual(self.upload(os.path.join(self.env.fixtures, "small",
                                                      "ok_o1.jpg")).status, 201)
            now = samples(self.get("/metrics").body.decode())
            self.assertEqual(now["prep_database_up"], 0)
            self.assertGreaterEqual(now["prep_spool_pending"], 1)
        finally:
            self.gw.stop()
            self.gw.start(conninfo=self.conninfo)
        self.assertEqual(self.get("/readyz").status, 200)


class ReadyDiskFullTest(TmpfsDataTestCase):
    tmpfs_size = "40m"

    def test_readyz_says_the_spool_is_full(self):
        self.assertEqual(self.get("/readyz").status, 200)
        filler = os.path.join(self.data_dir, "filler")
        with open(filler, "wb") as f:
            try:
                while True:
                    f.write(b"\0" * (1 << 20))
                    f.flush()
            except OSError:
                pass
        try:
            r = self.get("/readyz")
            self.assertProblem(r, 503, "not-ready")
            self.assertIn("spool full", r.json()["detail"])
            self.assertLess(samples(self.get("/metrics").body.decode())["prep_spool_free_bytes"],
                            1 << 20)
        finally:
            os.unlink(filler)
        self.assertEqual(self.get("/readyz").status, 200)


class AlertRulesTest(unittest.TestCase):
    def test_example_rules_are_valid_and_name_real_metrics(self):
        rules = os.path.join(ROOT, "deploy", "prometheus", "alerts.yml")
        p = subprocess.run([PROMTOOL, "check", "rules", rules], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout.decode())
        named = set(re.findall(r"\b(prep_[a-z_]+)", open(rules).read()))
        source = open(os.path.join(ROOT, "gateway", "gw_metrics.c")).read()
        for name in named:
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            self.assertIn(f'"{base}', source, f"{name}: no such metric in gw_metrics.c")

"""Several central gateways on one PostgreSQL (issue 13, acceptance 2), behind the real HAProxy
(Debian's) running the tree's deploy/haproxy/prep-gateway.cfg: a stream of signed uploads through
the load balancer and two clerks claiming and deciding through both gateways; one gateway killed
with SIGKILL mid-load. Every acknowledged photo reaches `queued` (the survivor processes what the
dead one had received, from the originals in the database, and takes over its processing claims
once their lease lapses), no review lease is lost or held twice, and `prep-gateway ledger
verify` passes for both gateways' chains. A third gateway cut from the database acknowledges
photos into its spool and dies: `prep-gateway spool list` shows them, `spool ingest` pushes them
from its disk, and the survivor queues them."""

import json
import os
import socket
import subprocess
import tarfile
import tempfile
import threading
import time

from harness import (CLAVE, Gateway, SignedTestCase, curl_request, free_ports, sanitizer_findings,
                     upload_path)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
HAPROXY_CFG = os.path.join(ROOT, "deploy", "haproxy", "prep-gateway.cfg")
CLERKS = ("clerk-a", "clerk-b")


class Balancer:
    """The HAProxy frontend, addressed as curl_request() addresses a gateway (TLS only)."""

    def __init__(self, env, port):
        self.env, self.tls_port = env, port

    def url(self, path, tls=True):
        assert tls, "the balancer passes TLS through"
        return f"https://127.0.0.1:{self.tls_port}{path}"


class MultiGatewayTest(SignedTestCase):
    status_timeout = 120.0

    @classmethod
    def setUpClass(cls):
        metrics_a, metrics_b, lb_port = free_ports(3)
        # Short leases, so that what the dead gateway held is taken over within the test: its
        # processing claims, and a clerk's review claim whose answer died with it.
        common = ("--processing-lease", "5", "--review-lease", "10", "--workers", "1")
        cls.gateway_args = ("--gateway-id", "gw-a", "--metrics", f"127.0.0.1:{metrics_a}") + common
        super().setUpClass()  # gateway A, and the phone's device enrolled through it
        cls.data_b = tempfile.mkdtemp(prefix="MultiGateway-b-", dir=cls.env.tmp)
        cls.gw_b = Gateway(cls.env, cls.conninfo, cls.data_b,
                           ("--gateway-id", "gw-b", "--metrics", f"127.0.0.1:{metrics_b}",
                            ) + common, label="MultiGateway-b")
        cls.gw_b.start()
        for name in CLERKS:
            cls.env.user_add(cls.conninfo, name, "clerk", cls.users_password)
        env = {**os.environ, "PREP_LB_BIND": f"127.0.0.1:{lb_port}",
               "PREP_GW1": f"127.0.0.1:{cls.gw.tls_port}", "PREP_GW1_CHECK": str(metrics_a),
               "PREP_GW2": f"127.0.0.1:{cls.gw_b.tls_port}", "PREP_GW2_CHECK": str(metrics_b)}
        cls.haproxy_env = env
        cls.haproxy_log = os.path.join(cls.env.tmp, "MultiGateway-haproxy.log")
        with open(cls.haproxy_log, "wb") as f:
            # -db: in the foreground, as the test's child.
            cls.haproxy = subprocess.Popen(["haproxy", "-db", "-f", HAPROXY_CFG], env=env,
                                           stdin=subprocess.DEVNULL, stdout=f, stderr=f,
                                           start_new_session=True)
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", lb_port), timeout=1).close()
                break
            except OSError:
                assert cls.haproxy.poll() is None, "haproxy exited"
                assert time.monotonic() < deadline, "haproxy not listening"
                time.sleep(0.1)
        cls.lb = Balancer(cls.env, lb_port)

    @classmethod
    def tearDownClass(cls):
        try:
            if getattr(cls, "haproxy", None) is not None:
                cls.haproxy.terminate()
                cls.haproxy.wait(timeout=10)
            b = getattr(cls, "gw_b", None)
            if b is not None:
                b.stop(expect_clean=b.alive())
                problems = [p for p in b.problems() if "exit status" not in p]
                assert not problems, "gateway B: " + "\n".join(problems)
        finally:
            super().tearDownClass()

    # -- helpers --

    def lb_upload(self, photo, clave=CLAVE, to=None):
        """A signed upload (fresh signature and nonce) via the balancer, or to gateway |to|."""
        return curl_request(to or self.lb, "POST", upload_path(clave), photo,
                            self.headers(photo, clave) + ["Content-Type: image/jpeg"],
                            tls=True, timeout=60)

    def clerk_api(self, gw, method, path, clerk, body=None):
        saved = self.gw
        try:
            type(self).gw = gw  # api() addresses the class's gateway
            return self.api(method, path, clerk, body)
        finally:
            type(self).gw = saved

    def ledger_verify(self, data):
        p = subprocess.run([self.env.gateway, "ledger", "verify", "--data", data, "--db",
                            self.conninfo], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=120)
        out = p.stdout.decode(errors="replace")
        self.assertEqual(p.returncode, 0, out)
        self.assertEqual(sanitizer_findings(out), [], out)
        return out

    def spool_cmd(self, *args):
        p = subprocess.run([self.env.gateway, "spool", *args, "--db", self.conninfo],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        out = p.stdout.decode(errors="replace")
        self.assertEqual(sanitizer_findings(out), [], out)
        return p.returncode, out

    # -- the tests --

    def test_haproxy_config_is_valid(self):
        p = subprocess.run(["haproxy", "-c", "-f", HAPROXY_CFG], env=self.haproxy_env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout.decode())

    def test_a_kill_one_gateway_under_load(self):
        photos = [self.env.gen_acta(seed=1300 + i, width=640, height=480) for i in range(36)]
        acked = {}          # photo path -> photo_id, from the receipts the clients got
        refused = []
        lock = threading.Lock()
        killed = threading.Event()
        stop_clerks = threading.Event()
        decisions = {}      # photo_id -> clerks that decided it
        holding = {}        # photo_id -> clerk holding its lease now
        overlaps = []

        def stream(mine):
            for photo in mine:
                # A phone retries until it has its receipt: idempotent on either gateway.
                for _ in range(20):
                    r = self.lb_upload(photo)
                    if r.status in (200, 201):
                        with lock:
                            if photo in acked:
                                self.assertEqual(acked[photo], r.json()["photo_id"])
                            acked[photo] = r.json()["photo_id"]
                            if len(acked) == 14:
                                killed.set()
                        break
                    with lock:
                        refused.append(r.status)
                    time.sleep(0.3)
                time.sleep(0.05)

        def clerk(name, gw_first):
            gw = gw_first
            while not stop_clerks.is_set():
                if not gw.alive():
                    gw = self.gw
                r = self.clerk_api(gw, "POST", "/v1/review/claim", name)
                if r.status != 200:
                    time.sleep(0.2)
                    continue
                pid, token = r.json()["photo_id"], r.json()["lease_token"]
                with lock:
                    if pid in holding:
                        overlaps.append((pid, holding[pid], name))
                    holding[pid] = name
                time.sleep(0.05)
                if not gw.alive():
                    gw = self.gw
                d = self.clerk_api(gw, "POST", f"/v1/review/{pid}/decision", name,
                                   {"lease_token": token, "decision": "accept"})
                with lock:
                    holding.pop(pid, None)
                    if d.status == 200:
                        decisions.setdefault(pid, []).append(name)

        # The same photo sent to both gateways is one photo (the id is f(clave, SHA-256)).
        twice = self.env.gen_acta(seed=1299, width=640, height=480)
        r_a, r_b = self.lb_upload(twice, to=self.gw), self.lb_upload(twice, to=self.gw_b)
        self.assertEqual((r_a.status, r_b.status), (201, 201), (r_a, r_b))
        self.assertEqual(r_a.json()["photo_id"], r_b.json()["photo_id"])
        acked[twice] = r_a.json()["photo_id"]
        photos.append(twice)

        streams = [threading.Thread(target=stream, args=(photos[:-1][i::2],)) for i in range(2)]
        clerks = [threading.Thread(target=clerk, args=(CLERKS[0], self.gw)),
                  threading.Thread(target=clerk, args=(CLERKS[1], self.gw_b))]
        for t in streams + clerks:
            t.start()
        self.assertTrue(killed.wait(300), "the stream did not get going")
        # Both gateways have taken uploads through the balancer before one dies.
        by_gw = dict(self.psql("SELECT gateway, count(*) FROM photos GROUP BY 1"))
        self.assertIn("gw-a", by_gw)
        self.assertIn("gw-b", by_gw)
        claims_b = self.psql("SELECT count(*) FROM photos WHERE status = 'processing'"
                             " AND claimed_by LIKE 'gw-b/%'")[0][0]
        self.gw_b.kill()
        print(f"    gateway B killed with {len(acked)} photos acknowledged, {claims_b} processing "
              f"claims held by it", flush=True)
        for t in streams:
            t.join(timeout=600)
            self.assertFalse(t.is_alive())
        self.assertEqual(len(acked), len(photos), f"not acknowledged; refusals {refused}")

        # What B acknowledged but held only in its spool: listed, then pushed from its disk.
        rc, listed = self.spool_cmd("list", "--data", self.data_b)
        self.assertEqual(rc, 0, listed)
        pending = sorted(n[:-5] for n in os.listdir(os.path.join(self.data_b, "spool", "pending"))
                         if n.endswith(".json"))
        for pid in pending:
            self.assertIn(pid, listed)
        self.assertIn(f"{len(pending)} pending receipt(s)", listed)
        rc, out = self.spool_cmd("ingest", "--data", self.data_b, "--gateway-id", "gw-b")
        self.assertEqual(rc, 0, out)
        print(f"    {len(pending)} receipts only in B's spool, ingested from its disk", flush=True)

        # Every acknowledged photo reaches `queued`, processed by the survivor where B could not.
        ids = set(acked.values())
        for pid in ids:
            self.wait_status(pid, "queued")
        rows = self.psql("SELECT photo_id, status FROM photos")
        self.assertEqual(sorted(r[0] for r in rows if r[0] in ids), sorted(ids))
        self.assertEqual(int(self.psql("SELECT count(*) FROM blobs b JOIN photos p ON"
                                       " b.sha256 = p.sha256 WHERE b.kind = 'original'")[0][0]),
                         len(rows))
        # Nothing is claimed for processing any more (B's claims were taken over).
        self.assertEqual(self.psql("SELECT count(*) FROM photos WHERE status = 'processing'"),
                         [["0"]], f"B held {claims_b} claims when killed")

        # The clerks drain the queue; no photo was held by two clerks at once or decided twice.
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            waiting = int(self.psql("SELECT count(*) FROM verification_queue"
                                    " WHERE state = 'waiting'")[0][0])
            if waiting == 0:
                break
            time.sleep(0.5)
        stop_clerks.set()
        for t in clerks:
            t.join(timeout=120)
            self.assertFalse(t.is_alive())
        self.assertEqual(overlaps, [])
        self.assertEqual({p: len(c) for p, c in decisions.items() if len(c) != 1}, {})
        states = dict(self.psql("SELECT photo_id, state FROM verification_queue"))
        self.assertEqual({p for p in ids if states.get(p) != "accepted"}, set(),
                         "photos not decided (a lease stuck or lost)")
        self.assertEqual(set(decisions), ids & set(states))
        self.assertTrue(all(len(decisions[p]) == 1 for p in ids))

        # The review image of a photo B processed is served by A, from the database.
        by_b = self.psql("SELECT photo_id FROM photos p WHERE gateway = 'gw-b'"
                         " AND status = 'queued' LIMIT 1")
        if by_b:
            r = self.get(f"/v1/photos/{by_b[0][0]}/review.webp")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body[:4], b"RIFF")

        # Both chains verify, each against its spool's file; the table holds two chains.
        n_a, n_b = (int(self.psql(f"SELECT count(*) FROM ledger WHERE gateway = '{g}'")[0][0])
                    for g in ("gw-a", "gw-b"))
        out = self.ledger_verify(self.data_dir)
        self.assertIn(f"(2 gateway chains, {n_a} rows in this spool's)", out)
        out = self.ledger_verify(self.data_b)
        self.assertIn(f"{n_b} entries in the spool, {n_a + n_b} in PostgreSQL (2 gateway chains,"
                      f" {n_b} rows in this spool's)", out)
        self.assertEqual(self.psql("SELECT gateway, count(*) = max(seq) FROM ledger GROUP BY 1"
                                   " ORDER BY 1"), [["gw-a", "t"], ["gw-b", "t"]])
        # A publication cut links to one entry, the latest of either chain (008's function
        # failed with two rows of the same seq).
        latest = self.psql("SELECT seq, hash FROM ledger ORDER BY time::timestamptz DESC,"
                           " seq DESC, gateway LIMIT 1")[0]
        link = self.psql("SELECT ledger_seq, ledger_head FROM export_cut_prepare('e', now(),"
                         " repeat('0', 64), 1, 1, 'k')")[0]
        self.assertEqual(link, latest)

        # The evidence bundle of the acta from B's data folder: B's photos, verified offline by
        # prep-upload (review images A made come from the database); A's photos named.
        out_tar = os.path.join(self.env.tmp, "multi-evidence-b.tar")
        p = subprocess.run([self.env.gateway, "evidence", CLAVE, "--out", out_tar, "--data",
                            self.data_b, "--db", self.conninfo, "--gateway-id", "gw-b"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout.decode())
        p = subprocess.run([os.environ["PREP_UPLOAD"], "verify-bundle", out_tar],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout.decode())
        with tarfile.open(out_tar) as t:
            acta = json.load(t.extractfile("acta.json"))
        mine = {r[0] for r in self.psql("SELECT photo_id FROM photos WHERE gateway = 'gw-b'")}
        self.assertEqual({x["photo_id"] for x in acta["photos"]}, mine)
        self.assertEqual({x["photo_id"] for x in acta["received_by_other_gateways"]},
                         {r[0] for r in rows} - mine)

    def test_b_dead_gateway_cut_from_the_database(self):
        # Gateway C cannot reach its database (a name that does not exist on the server): it
        # acknowledges into its spool only. Then it dies.
        data_c = tempfile.mkdtemp(prefix="MultiGateway-c-", dir=self.env.tmp)
        cut = self.conninfo.replace(f"dbname={self.db}", "dbname=no_such_database")
        self.assertNotEqual(cut, self.conninfo)
        gw_c = Gateway(self.env, cut, data_c, ("--gateway-id", "gw-c", "--insecure-open-uploads"),
                       label="MultiGateway-c")
        gw_c.start()
        saved = self.gw
        acked = []
        try:
            type(self).gw = gw_c
            for i in range(4):
                r = self.upload(self.env.gen_acta(seed=1400 + i, width=640, height=480))
                self.assertEqual(r.status, 201, r)
                acked.append(r.json()["photo_id"])
        finally:
            type(self).gw = saved
            gw_c.kill()
        self.assertEqual(gw_c.problems(), [])
        for pid in acked:
            self.assertEqual(self.photo_rows(pid), 0)
        rc, listed = self.spool_cmd("list", "--data", data_c)
        self.assertEqual(rc, 0, listed)
        for pid in acked:
            self.assertIn(f"{pid} ", listed)
        self.assertEqual(listed.count("only-in-spool"), len(acked), listed)
        rc, out = self.spool_cmd("ingest", "--data", data_c)
        self.assertEqual(rc, 2, out)  # the chain's gateway id is needed
        rc, out = self.spool_cmd("ingest", "--data", data_c, "--gateway-id", "gw-c")
        self.assertEqual(rc, 0, out)
        self.assertIn("4 pending receipt(s) ingested; 0 failed", out)
        for pid in acked:
            self.wait_status(pid, "queued")  # by gateway A, from the original in the database
        rc, listed = self.spool_cmd("list", "--data", data_c)
        self.assertIn("0 pending receipt(s)", listed)
        out = self.ledger_verify(data_c)
        self.assertIn("4 entries in the spool", out)


if __name__ == "__main__":
    import unittest
    unittest.main()

"""PostgreSQL going away under the gateway, on a cluster of the test's own (so that the shared one
of the other suites is not touched): stopped for a while, uploads keep getting their receipts;
once it is back, every photo reaches `queued` within a minute, in arrival order. Killed with an
immediate shutdown in the middle of a stream of uploads (transactions cut), nothing acknowledged
is lost or recorded twice."""

import os
import subprocess
import threading
import time

from harness import GatewayTestCase, private_pg, scripts_lib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))


def lib(*cmd, timeout=120):
    return scripts_lib(*cmd, timeout=timeout, label="test_outage")


class OutageTest(GatewayTestCase):
    # One processing worker, so that "in arrival order" is a property, not luck.
    gateway_args = ("--workers", "1")
    status_timeout = 60.0

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        base = os.path.join(cls.env.tmp, f"outage-{os.getpid()}")
        cls.pg_data, cls.pg_sock = base + "-pg", base + "-sock"
        cls.pg_port = str(5500 + os.getpid() % 400)
        # Durable, unlike the shared test cluster (fsync and synchronous_commit off there): an
        # immediate shutdown must not take back what PostgreSQL said was committed.
        lib("prep_pg_start", cls.pg_data, cls.pg_sock, cls.pg_port)
        lib("prep_createdb", cls.pg_sock, cls.pg_port, "outage")
        cls.outage_db = lib("prep_conninfo", cls.pg_sock, cls.pg_port, "outage")
        cls.bindir = lib("prep_pg_bindir")
        cls.env.migrate(cls.outage_db)
        cls.gw.stop()
        cls.gw.start(conninfo=cls.outage_db)

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            lib("prep_pg_stop", cls.pg_data)

    def sql(self, query):
        conn = dict(kv.split("=", 1) for kv in self.outage_db.split())
        p = subprocess.run([os.path.join(self.bindir, "psql"), "-X", "-q", "-t", "-A",
                            "-h", conn["host"], "-p", conn["port"], "-U", "prep", "-d", "outage",
                            "-c", query], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        return [line for line in p.stdout.decode().splitlines() if line]

    def pg(self, mode):
        """pg_ctl stop -m |mode| (fast, immediate) on the test's cluster, or starts it."""
        private_pg(mode, self.pg_data, self.pg_sock, self.pg_port, label="test_outage")

    def photo(self, seed):
        return self.env.gen_acta(seed=seed, width=800, height=600)

    def test_1_stopped_database(self):
        before = [self.upload(self.photo(s)).json()["photo_id"] for s in (801, 802)]
        for pid in before:
            self.wait_status(pid, "queued")
        self.pg("fast")
        try:
            down = []
            for seed in range(803, 809):
                r = self.upload(self.photo(seed))
                self.assertEqual(r.status, 201, r)  # the receipt needs no database
                down.append(r.json()["photo_id"])
            # The phone can still ask: the spool answers for what PostgreSQL has not seen.
            r = self.get(f"/v1/photos/{down[0]}")
            self.assertEqual((r.status, r.json().get("status")), (200, "received"), r)
            time.sleep(3)
        finally:
            self.pg("start")
        t0 = time.monotonic()
        for pid in down:
            self.wait_status(pid, "queued", timeout=60)
        self.assertLess(time.monotonic() - t0, 60)
        # In arrival order: ingested and processed in the order the receipts were given.
        order = self.sql("SELECT photo_id FROM photos ORDER BY processed_at")
        self.assertEqual(order, before + down)
        self.assertEqual(self.sql("SELECT count(*) FROM photos"), [str(len(before + down))])

    def test_2_immediate_shutdown_mid_stream(self):
        acked, errors = [], []

        def stream():
            for seed in range(820, 840):
                r = self.upload(self.photo(seed))
                if r.status in (200, 201):
                    acked.append(r.json()["photo_id"])
                else:
                    errors.append(r)

        th = threading.Thread(target=stream)
        th.start()
        time.sleep(1.0)
        self.pg("immediate")  # transactions in flight are cut, nothing is flushed politely
        time.sleep(2)
        self.pg("start")
        th.join()
        self.assertEqual(errors, [], "uploads were refused while PostgreSQL was down")
        self.assertEqual(len(acked), 20)
        for pid in acked:
            self.wait_status(pid, "queued", timeout=60)
        ids = self.sql("SELECT photo_id FROM photos WHERE photo_id IN (%s)" %
                       ",".join(f"'{p}'" for p in acked))
        self.assertEqual(sorted(ids), sorted(acked), "an acknowledged photo is missing or doubled")
        rows = self.sql("SELECT count(*) FROM ledger")
        self.assertEqual(rows, self.sql("SELECT count(*) FROM photos"))

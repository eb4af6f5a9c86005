"""PostgreSQL failover under a stream of uploads (issue 13): a primary and a streaming standby of
the test's own (pg_basebackup, synchronous replication), the gateway given both through libpq's
multi-host conninfo with target_session_attrs=read-write. Mid-stream the primary dies (immediate
shutdown) and the standby is promoted with pg_ctl promote: uploads keep their receipts, the
gateway's stages reconnect to the new primary by themselves, every acknowledged photo reaches
`queued` there exactly once, and ledger verification passes against it."""

import os
import subprocess
import threading
import time

from harness import GatewayTestCase, private_pg, scripts_lib


def lib(*cmd, timeout=180):
    return scripts_lib(*cmd, timeout=timeout, label="test_failover")


class FailoverTest(GatewayTestCase):
    status_timeout = 90.0

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        base = os.path.join(cls.env.tmp, f"failover-{os.getpid()}")
        cls.primary = {"data": base + "-primary", "sock": base + "-s1",
                       "port": str(5900 + os.getpid() % 40)}
        cls.standby = {"data": base + "-standby", "sock": base + "-s2",
                       "port": str(5950 + os.getpid() % 40)}
        cls.bindir = lib("prep_pg_bindir")
        p = cls.primary
        lib("prep_pg_start", p["data"], p["sock"], p["port"])
        lib("prep_createdb", p["sock"], p["port"], "failover")
        cls.env.migrate(lib("prep_conninfo", p["sock"], p["port"], "failover"))
        # The standby: a base backup of the primary that follows it (-R writes standby.signal and
        # primary_conninfo), named so that the primary can wait for it.
        s = cls.standby
        lib("prep_pg_mkdir", s["data"])
        lib('prep_pg_run "$(prep_pg_bindir)/pg_basebackup"', "-h", p["sock"], "-p", p["port"],
            "-U", "prep", "-D", s["data"], "-R", "-X", "stream",
            "-d", f"'host={p['sock']} port={p['port']} user=prep application_name=standby1'")
        lib("prep_pg_start", s["data"], s["sock"], s["port"])
        # Synchronous replication: a commit the primary acknowledged is on the standby too, so
        # that losing the primary loses nothing the stages had moved out of the spool.
        cls.sql(p, "ALTER SYSTEM SET synchronous_standby_names = 'standby1'")
        cls.sql(p, "SELECT pg_reload_conf()")
        deadline = time.monotonic() + 60
        while cls.sql(p, "SELECT sync_state FROM pg_stat_replication") != ["sync"]:
            assert time.monotonic() < deadline, "the standby did not become synchronous"
            time.sleep(0.2)
        cls.multi = (f"host={p['sock']},{s['sock']} port={p['port']},{s['port']} user=prep "
                     "dbname=failover target_session_attrs=read-write")
        cls.gw.stop()
        cls.gw.start(conninfo=cls.multi)

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            for c in (cls.standby, cls.primary):
                lib("prep_pg_stop", c["data"], ">/dev/null 2>&1 || true")

    @classmethod
    def sql(cls, c, query, db="failover"):
        p = subprocess.run([os.path.join(cls.bindir, "psql"), "-X", "-q", "-t", "-A",
                            "-h", c["sock"], "-p", c["port"], "-U", "prep", "-d", db,
                            "-c", query], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=60)
        assert p.returncode == 0, p.stderr.decode()
        return [line for line in p.stdout.decode().splitlines() if line]

    def test_promoted_standby_loses_nothing_acknowledged(self):
        photos = [self.env.gen_acta(seed=900 + i, width=640, height=480) for i in range(30)]
        acked, failed = [], []
        half = threading.Event()

        def stream():
            for i, photo in enumerate(photos):
                r = self.upload(photo)
                if r.status in (200, 201):
                    acked.append(r.json()["photo_id"])
                else:
                    failed.append(r)
                if i == len(photos) // 3:
                    half.set()
                time.sleep(0.1)

        t = threading.Thread(target=stream)
        t.start()
        self.assertTrue(half.wait(120))
        # The primary dies mid-stream; the standby takes over.
        private_pg("immediate", self.primary["data"], self.primary["sock"], self.primary["port"],
                   label="test_failover")
        lib('prep_pg_run "$(prep_pg_bindir)/pg_ctl"', "-D", self.standby["data"], "-w",
            "promote", ">/dev/null")
        t.join(timeout=300)
        self.assertFalse(t.is_alive())
        self.assertEqual(failed, [], "uploads refused during the failover")
        self.assertEqual(len(acked), len(photos))
        # Every acknowledged photo reaches `queued` on the new primary, exactly once.
        for pid in acked:
            self.wait_status(pid, "queued")
        s = self.standby
        self.assertEqual(self.sql(s, "SELECT pg_is_in_recovery()"), ["f"])
        rows = self.sql(s, "SELECT photo_id, status FROM photos")
        got = {}
        for row in rows:
            pid, status = row.split("|")
            got.setdefault(pid, []).append(status)
        for pid in acked:
            self.assertEqual(got.get(pid), ["queued"], pid)
        self.assertEqual(self.sql(s, "SELECT count(*) FROM verification_queue"),
                         [str(len(set(acked)))])
        # The spool's ledger and the new primary's copy of it agree.
        p = subprocess.run([self.env.gateway, "ledger", "verify", "--data", self.data_dir,
                            "--db", self.multi], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout.decode())
        log = self.gw.stderr_text()
        self.assertIn("database unavailable", log)  # it did lose the primary, and came back

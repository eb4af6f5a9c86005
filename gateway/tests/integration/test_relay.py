"""A CATD edge relay in front of a central gateway (issue 13, acceptance 1): both on loopback, the
edge forwarding to the centre over TLS through a TCP relay of the test that can cut the uplink.
A stream of signed uploads goes to the edge while its uplink is cut for 60 s: the edge keeps
acknowledging, and once the link is back every acknowledged photo is at the centre exactly once,
accepted on the phone's own signature (the centre's clock skew is shorter than the cut, so the
photos that waited pass only because a trusted edge vouched for them), in the edge's order up to
the relay's concurrency, processed to `queued`, with both ledgers verifying and cross-referencing
each other. Also: the centre refuses a relay claim it cannot trust, and an edge serves intake and
status only."""

import json
import os
import re
import select
import socket
import subprocess
import threading
import time

from harness import (CLAVE, Env, Gateway, SignedTestCase, curl_request, free_ports, nghttp_request,
                     upload_path)

CUT_S = 60
STREAMS = 2  # --relay-streams of the edge: the centre may see its photos this far out of order


class Uplink:
    """A TCP relay 127.0.0.1:port -> target that the test can cut (every connection reset, new
    ones refused) and restore, as a CATD's internet link going down and up."""

    def __init__(self, target_port):
        self.target = ("127.0.0.1", target_port)
        self.port = free_ports(1)[0]
        self.lock = threading.Lock()
        self.conns = []
        self.listener = None
        self.restore()

    def restore(self):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(64)
        self.listener = s
        threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    def cut(self):
        with self.lock:
            listener, self.listener = self.listener, None
            conns, self.conns = self.conns, []
        listener.close()
        for c in conns:
            try:
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
                c.close()  # RST: the link is gone
            except OSError:
                pass

    def _accept(self, listener):
        while True:
            try:
                a, _ = listener.accept()
            except OSError:
                return
            try:
                b = socket.create_connection(self.target)
            except OSError:
                a.close()
                continue
            with self.lock:
                if self.listener is not listener:
                    a.close()
                    b.close()
                    return
                self.conns += [a, b]
            threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(a, b):
        peers = {a: b, b: a}
        try:
            while True:
                ready, _, _ = select.select([a, b], [], [], 1.0)
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    peers[s].sendall(data)
        except OSError:
            return
        finally:
            for s in (a, b):
                try:
                    s.close()
                except OSError:
                    pass


def metrics_text(gw):
    p = subprocess.run(["curl", "--http2-prior-knowledge", "-sS", "--max-time", "10",
                        gw.url("/metrics")], stdout=subprocess.PIPE, timeout=20)
    return p.stdout.decode()


def metric(gw, name):
    m = re.search(rf"^{re.escape(name)} (\S+)$", metrics_text(gw), re.M)
    return float(m.group(1)) if m else None


class EdgeRelayTest(SignedTestCase):
    status_timeout = 120.0

    @classmethod
    def setUpClass(cls):
        env = Env.get()
        # The edge's key first: the centre must trust it from its start (--relay-trust).
        cls.edge_data = os.path.join(env.tmp, f"relay-edge-{os.getpid()}")
        cls.edge_pub = cls.key_init(env, cls.edge_data)
        cls.trust = os.path.join(env.tmp, f"relay-trust-{os.getpid()}")
        with open(cls.trust, "w") as f:
            f.write("# edges this centre trusts\ncatd-01 " + cls.edge_pub + "\n")
        # A clock skew shorter than the cut: what waits at the edge passes only as relayed.
        cls.gateway_args = ("--relay-trust", cls.trust, "--signature-skew", "20")
        super().setUpClass()
        cls.central_pub = cls.key_init(env, cls.data_dir)
        cls.uplink = Uplink(cls.gw.tls_port)
        edge_db = env.create_db("relay_edge")
        cls.edge_conninfo = env.conninfo(edge_db)
        env.migrate(cls.edge_conninfo)
        cls.edge = Gateway(env, cls.edge_conninfo, cls.edge_data, [
            "--upstream", f"https://127.0.0.1:{cls.uplink.port}", "--upstream-ca", env.cert,
            "--upstream-key", cls.central_pub, "--edge-id", "catd-01",
            "--relay-streams", str(STREAMS), "--devices-db", cls.conninfo], label="edge")
        cls.edge.start()
        deadline = time.monotonic() + 30
        while not cls.edge_knows_device():
            assert time.monotonic() < deadline, "the edge never loaded the centre's devices"
            time.sleep(0.3)

    @classmethod
    def tearDownClass(cls):
        edge = getattr(cls, "edge", None)
        problems = []
        if edge is not None:
            edge.stop()
            problems = edge.problems()
        super().tearDownClass()
        assert not problems, "edge problems:\n" + "\n".join(problems) + edge.stderr_tail()

    @classmethod
    def key_init(cls, env, data):
        p = subprocess.run([env.gateway, "key", "init", "--data", data, "--json"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        assert p.returncode == 0, p.stderr.decode()
        return json.loads(p.stdout)["public_key"]

    @classmethod
    def edge_knows_device(cls):
        n = metric(cls.edge, "prep_devices")
        return n is not None and n >= 1

    def send(self, gw, photo, hdrs=None, extra=()):
        hdrs = hdrs if hdrs is not None else self.headers(photo)
        return nghttp_request(gw, upload_path(CLAVE), photo,
                              hdrs + ["content-type: image/jpeg"] + list(extra))

    def test_uplink_cut_for_60s_under_a_stream_of_uploads(self):
        acked = []  # (photo_id, sha256, sent_during_cut) in the order the edge acknowledged them
        cut_at = restored_at = None
        start = time.monotonic()
        i = 0
        during_cut_backlog = None
        while True:
            now = time.monotonic() - start
            if cut_at is None and now >= 8:
                self.uplink.cut()
                cut_at = now
            if cut_at is not None and restored_at is None and now >= cut_at + CUT_S:
                during_cut_backlog = (metric(self.edge, "prep_relay_backlog"),
                                      metric(self.edge, "prep_relay_uplink_up"))
                self.uplink.restore()
                restored_at = now
            if restored_at is not None and now >= restored_at + 8:
                break
            photo = self.env.gen_acta(seed=9100 + i, width=640, height=480)
            i += 1
            r = self.send(self.edge, photo)
            self.assertEqual(r.status, 201, r)
            rec = r.json()
            during = cut_at is not None and restored_at is None
            acked.append((rec["photo_id"], rec["sha256"], during))
            time.sleep(1.5)
        during = [a for a in acked if a[2]]
        print(f"\n    edge: {len(acked)} acknowledged, {len(during)} of them while the uplink was"
              f" cut for {CUT_S} s", flush=True)
        self.assertGreaterEqual(len(during), 20, "the edge must keep acknowledging while cut")
        # While cut, the edge said so: photos waiting, the centre unreachable.
        backlog, up = during_cut_backlog
        self.assertGreaterEqual(backlog, len(during) - STREAMS, during_cut_backlog)
        self.assertEqual(up, 0.0)

        # Once the link is back the edge catches up by itself.
        deadline = time.monotonic() + 120
        while metric(self.edge, "prep_relay_backlog") != 0.0:
            self.assertLess(time.monotonic(), deadline, "the edge did not catch up")
            time.sleep(0.5)
        print(f"    backlog {backlog:.0f} at the end of the cut, drained "
              f"{time.monotonic() - start - restored_at:.1f} s after the link came back "
              f"(8 s of new uploads included)", flush=True)

        # At the centre: each photo exactly once, from the phone's device, in the edge's order.
        central_seq = []
        for photo_id, sha, _ in acked:
            rows = self.env.psql(self.db, "SELECT seq, device, sha256 FROM ledger "
                                          f"WHERE photo_id = '{photo_id}'")
            self.assertEqual(len(rows), 1, (photo_id, rows))
            central_seq.append(int(rows[0][0]))
            self.assertEqual(rows[0][1:], [self.device, sha])
            # The centre kept the phone's own signature, and the edge's claim beside it.
            with open(os.path.join(self.data_dir, "spool", "signatures", photo_id + ".json")) as f:
                rec = json.load(f)
            self.assertIn(f'keyid="{self.device}"', rec["signature-input"])
            self.assertTrue(rec["prep-relay"].startswith('edge="catd-01", seq='), rec)
        for k, seq in enumerate(central_seq):
            later_smaller = [s for s in central_seq[k + STREAMS:] if s < seq]
            self.assertEqual(later_smaller, [], f"out of order beyond {STREAMS}: {central_seq}")

        # Every photo reaches the clerks' queue at the centre.
        ids = ",".join(f"'{a[0]}'" for a in acked)
        deadline = time.monotonic() + 120
        while True:
            left = self.env.psql(self.db, f"SELECT count(*) FROM photos WHERE photo_id IN ({ids}) "
                                          "AND status <> 'queued'")
            if left == [["0"]]:
                break
            self.assertLess(time.monotonic(), deadline, f"not queued at the centre: {left}")
            time.sleep(0.5)

        # Both ledgers verify, and the edge's names the centre's entry of each photo.
        for data, conninfo in ((self.data_dir, self.conninfo),
                               (self.edge_data, self.edge_conninfo)):
            p = subprocess.run([self.env.gateway, "ledger", "verify", "--data", data, "--db",
                                conninfo], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=120)
            self.assertEqual(p.returncode, 0, p.stdout.decode())
        p = subprocess.run([self.env.gateway, "relay", "verify", "--data", self.edge_data,
                            "--pubkey", self.central_pub, "--json"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr.decode() + p.stdout.decode())
        v = json.loads(p.stdout)
        self.assertEqual((v["relayed"], v["waiting"], v["invalid"], v["refused"]),
                         (len(acked), 0, 0, 0), v)
        by_photo = {e["photo_id"]: e["central_seq"] for e in v["photos"]}
        self.assertEqual([by_photo[a[0]] for a in acked], central_seq)

        # The phone's next poll at the edge carries the centre's receipt, which verifies.
        photo_id = during[0][0]
        r = curl_request(self.edge, "GET", f"/v1/photos/{photo_id}")
        self.assertEqual(r.status, 200, r)
        central = r.json()["central_receipt"]
        path = os.path.join(self.env.tmp, f"central-receipt-{photo_id}.json")
        with open(path, "w") as f:
            json.dump(central, f)
        p = subprocess.run([self.env.gateway, "receipt", "verify", path, "--pubkey",
                            self.central_pub], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout.decode())
        self.assertEqual(central["device"], self.device)

    def test_centre_checks_the_phone_and_the_edge(self):
        photo = self.env.gen_acta(seed=9001, width=640, height=480)
        old = int(time.time()) - 600
        # Ten minutes old, sent directly: outside the centre's skew.
        r = self.send(self.gw, photo, self.headers(photo, created=old))
        self.assertEqual((r.status, r.json()["type"].rsplit("/", 1)[-1]),
                         (401, "signature-expired"), r)
        # The same with a relay claim that no trusted edge signed.
        forged = ('edge="catd-01", seq=1, hash="' + "a" * 64 + '", sig=:' +
                  "A" * 86 + "==:")
        r = self.send(self.gw, photo, self.headers(photo, created=old),
                      [f"prep-relay: {forged}"])
        self.assertEqual((r.status, r.json()["type"].rsplit("/", 1)[-1]),
                         (401, "relay-not-trusted"), r)
        # An edge name the centre does not know.
        r = self.send(self.gw, photo, self.headers(photo, created=old),
                      [f"prep-relay: {forged.replace('catd-01', 'catd-99')}"])
        self.assertEqual(r.status, 401, r)
        self.assertIn("does not trust", r.json()["detail"])

    def test_edge_serves_intake_and_status_only(self):
        for path in ("/v1/review/claim", "/v1/capture/claim", "/review/", "/v1/login"):
            r = curl_request(self.edge, "GET", path)
            self.assertEqual(r.status, 404, (path, r))
            self.assertTrue(r.json()["type"].endswith("/not-on-edge"), (path, r.body))
        r = curl_request(self.edge, "GET", "/healthz")
        self.assertEqual(r.status, 200)


if __name__ == "__main__":
    import unittest
    unittest.main()

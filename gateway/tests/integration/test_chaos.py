"""Chaos: a steady stream of signed uploads from several phones while the gateway is SIGKILLed
at random moments (20 times or more, each time restarted on the same data folder and port),
PostgreSQL is stopped for 30 s and, in another phase, killed with an immediate shutdown in the
middle of a transaction, and the spool's filesystem (a tmpfs mounted for the test) is filled up.
Then: every upload that got a receipt is in PostgreSQL exactly once and reaches `queued`, its
original on disk hashes to the receipt's SHA-256, `prep-gateway ledger verify` passes, every
upload was acknowledged in the end (the phones' retries get through once the disk has room
again), and nothing partial is left behind.

Environment (besides ./test.sh's):
  PREP_CHAOS_SEED  the seed of the schedule and of the photos (default: random, printed at the
                   start); run N of a multi-run uses seed + N - 1 and prints it
  PREP_CHAOS_RUNS  how many runs, each on a fresh database, data folder and phones (default 1);
                   each run is its own test (test_chaos_run_01, ...)
  PREP_KEEP_TMP=1  (./test.sh's) also keeps each run's data folder but the photos' bytes, as
                   DIR-runN-data beside the phones' folders, for a post-mortem

Needs root (./test.sh's tests run as root) to mount the tmpfs: without it the test fails."""

import errno
import glob
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import threading
import time

import harness
from harness import (Gateway, GatewayTestCase, nghttp_request, private_pg, scripts_lib,
                     upload_path)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))

DEVICES = 4
ACTAS = "140338B01*"
KILLS_MIN = 20
# The phones' uploads are spread over the chaos (about one a second, see Run.spacing); they go
# on while it lasts, up to UPLOADS_MAX.
UPLOADS_MIN, UPLOADS_TARGET, UPLOADS_MAX = 60, 100, 120
PAUSE_S = (0.3, 1.5)  # at least this between two photos of one phone
KILL_GAP_S = (1.0, 5.0)
PG_STOP_S = 30
# After the disk has room again, photos claimed before must be queued this soon, without a
# restart to help them along.
RECOVERY_S = 15
# Room for a run's originals (about 2 MB on average, 110 at most) and review images.
TMPFS_SIZE = "512m"
# prep-upload's backoff tops out at 8 s: this many retries outlast every phase of the run.
RETRIES = 40
QUEUED_DEADLINE_S = 150
# The photos' sizes: (weight, acta-gen options), 55 KB to 9.2 MB.
SIZES = [
    (2, dict(width=800, height=600, quality=60)),
    (2, dict(width=1024, height=768, quality=80)),
    (2, dict(width=1600, height=1200, quality=85)),
    (2, dict(width=2400, height=1800, quality=90)),
    (2, dict(width=3200, height=2400, quality=92)),
    (1, dict(width=4000, height=3000, quality=96, noise=8)),
    (1, dict(width=4000, height=3000, quality=98, noise=10)),
]


def lib(*cmd, timeout=120):
    return scripts_lib(*cmd, timeout=timeout, label="test_chaos")


def seed_from_env():
    text = os.environ.get("PREP_CHAOS_SEED", "").strip()
    if text:
        return int(text)
    return random.SystemRandom().randrange(1, 2 ** 31)


def with_comment(jpeg, text):
    """|jpeg| with a COM segment carrying |text| after its APPn segments: other bytes, the same
    picture, a photo of its own for the gateway."""
    if jpeg[:2] != b"\xff\xd8":
        raise AssertionError("not a JPEG")
    i = 2
    while i + 4 <= len(jpeg) and jpeg[i] == 0xFF and 0xE0 <= jpeg[i + 1] <= 0xEF:
        i += 2 + int.from_bytes(jpeg[i + 2:i + 4], "big")
    body = text.encode()[:65000]
    return jpeg[:i] + b"\xff\xfe" + (len(body) + 2).to_bytes(2, "big") + body + jpeg[i:]


class PinnedGateway(Gateway):
    """Restarts on the ports of its first start, as a gateway behind its address does: the
    phones' enrolments name that address."""

    ports = None

    def start(self, conninfo=None, extra_args=None):
        if self.ports is None:
            super().start(conninfo, extra_args)
            self.ports = (self.h2c_port, self.tls_port)
            return self
        real = harness.free_ports
        harness.free_ports = lambda n: list(self.ports)
        try:
            return super().start(conninfo, extra_args)
        finally:
            harness.free_ports = real


class Upload:
    """One photo a phone sends, and how that went."""

    def __init__(self, n, device, path, data, clave):
        self.n, self.device, self.path, self.clave = n, device, path, clave
        self.sha256, self.bytes = hashlib.sha256(data).hexdigest(), len(data)
        self.rc = None
        self.result = {}
        self.stderr = ""
        self.retries = 0
        self.statuses = []  # the HTTP statuses of the attempts that were retried

    def finish(self, rc, out, err):
        self.rc, self.stderr = rc, err
        lines = [line for line in out.splitlines() if line.strip()]
        try:
            self.result = json.loads(lines[-1]) if lines else {}
        except ValueError:
            self.result = {"unparsed": out[-500:]}
        retries = re.findall(r"; retry (\d+) of \d+", err)
        self.retries = int(retries[-1]) if retries else 0
        self.statuses = [int(s) for s in re.findall(r": HTTP (\d{3}); retry", err)]


class Run:
    """The state of one chaos run, shared by the phone threads and the chaos (main) thread."""

    def __init__(self, index, seed):
        self.index, self.seed = index, seed
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.stop = threading.Event()     # the phones stop at once (abort)
        self.chaos_done = threading.Event()
        self.started = 0
        self.t0 = time.monotonic()
        self.spacing = 1.0  # seconds between the starts of two uploads (chaos() sets it)
        self.uploads = []
        self.procs = set()
        self.devices = []                 # (state folder, device id)
        self.findings = []                # what went wrong, reported at the end
        self.kills = self.kills_full = 0
        self.pg_outages = []
        self.disk_full = 0
        self.probes_full = 0


class ChaosTest(GatewayTestCase):
    open_uploads = False

    @classmethod
    def setUpClass(cls):
        # Not GatewayTestCase's: each run makes its own database, data folder and gateway.
        cls.env = harness.Env.get()
        cls.gw = None
        cls.base_seed = seed_from_env()
        print(f"test_chaos: seed {cls.base_seed} (replay: PREP_CHAOS_SEED={cls.base_seed} "
              f"./test.sh -k test_chaos)", flush=True)
        cls.upload_bin = os.environ.get("PREP_UPLOAD", "")
        cls.signer = os.environ.get("PREP_SIGN_REQUEST", "")
        for name, path in (("PREP_UPLOAD", cls.upload_bin), ("PREP_SIGN_REQUEST", cls.signer)):
            if not os.access(path, os.X_OK):
                raise AssertionError(f"{name}={path!r} is not an executable (run via ./test.sh)")
        base = os.path.join(cls.env.tmp, f"chaos-{os.getpid()}")
        cls.work = base
        cls.pg_data, cls.pg_sock = base + "-pg", base + "-sock"
        cls.pg_port = str(5500 + (os.getpid() + 211) % 400)
        # Durable, unlike the shared test cluster (fsync and synchronous_commit off there): an
        # immediate shutdown must not take back what PostgreSQL said was committed.
        lib("prep_pg_start", cls.pg_data, cls.pg_sock, cls.pg_port)
        cls.bindir = lib("prep_pg_bindir")
        cls.sockdir = lib("prep_pg_place", cls.pg_sock, "sock")
        # The photos' pictures, made once; each upload gets bytes of its own (with_comment).
        cls.bases = [(w, harness.read_bytes(cls.env.gen_acta(seed=900 + i, **opts)))
                     for i, (w, opts) in enumerate(SIZES)]

    @classmethod
    def tearDownClass(cls):
        lib("prep_pg_stop", cls.pg_data)

    def setUp(self):
        pass

    def tearDown(self):
        pass

    # -- helpers --

    def sql(self, db, query):
        p = subprocess.run([os.path.join(self.bindir, "psql"), "-X", "-q", "-t", "-A", "-F", "\t",
                            "-h", self.sockdir, "-p", self.pg_port, "-U", "prep", "-d", db,
                            "-v", "ON_ERROR_STOP=1", "-c", query],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        if p.returncode != 0:
            raise AssertionError(f"psql: {p.stderr.decode()}")
        return [line.split("\t") for line in p.stdout.decode().splitlines() if line]

    def pg(self, mode):
        """pg_ctl stop -m |mode| (fast, immediate) on the test's cluster, or starts it."""
        private_pg(mode, self.pg_data, self.pg_sock, self.pg_port, label="test_chaos")

    def pg_running(self):
        return lib(f"prep_pg_running_pid \"$(prep_pg_place '{self.pg_data}')\"") != ""

    def gateway_cli(self, *args, timeout=60):
        p = subprocess.run([self.env.gateway, *args], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout)
        return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")

    def enrol(self, run, conninfo, gw, n):
        state = os.path.join(run.dir, f"phone-{n}")
        rc, out, err = self.gateway_cli("device", "code", "--label", f"chaos phone {n}",
                                        "--actas", ACTAS, "--expires", "1h", "--json",
                                        "--db", conninfo)
        self.assertEqual(rc, 0, out + err)
        code = json.loads(out)["code"]
        p = subprocess.run([self.upload_bin, "enrol", "--code", code, "--server", gw.url(""),
                            "--label", f"chaos phone {n}", "--state", state, "--json"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout.decode() + p.stderr.decode())
        return state, json.loads(p.stdout.decode())["device_id"]

    def free_bytes(self, mount):
        st = os.statvfs(mount)
        return st.f_bavail * st.f_frsize

    # -- the phones --

    def phone(self, run, n):
        state, _ = run.devices[n]
        rng = random.Random(f"{run.seed}/phone/{n}")
        weights = [w for w, _ in self.bases]
        photos = os.path.join(run.dir, "photos")
        k = 0
        while not run.stop.is_set():
            with run.lock:
                if run.started >= UPLOADS_MAX or (run.chaos_done.is_set() and
                                                  run.started >= UPLOADS_MIN):
                    return
                run.started += 1
                number = run.started
            # A steady stream: upload N starts N spacings after the first, whichever phone is
            # free then.
            if run.stop.wait(max(0.0, run.t0 + number * run.spacing - time.monotonic())):
                return
            k += 1
            _, jpeg = rng.choices(self.bases, weights)[0]
            data = with_comment(jpeg, f"prep chaos seed {run.seed} phone {n} photo {k} "
                                      + "x" * rng.randrange(0, 4000))
            clave = f"140338B0100{rng.randrange(1, 10)}"
            path = os.path.join(photos, f"{n}-{k}.jpg")
            with open(path, "wb") as f:
                f.write(data)
            up = Upload(number, n, path, data, clave)
            with run.lock:
                run.uploads.append(up)
            proc = subprocess.Popen([self.upload_bin, "send", "--clave", clave, "--state", state,
                                     "--retries", str(RETRIES), "--json", path],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            with run.lock:
                run.procs.add(proc)
            out, err = proc.communicate()
            with run.lock:
                run.procs.discard(proc)
            up.finish(proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"))
            if run.stop.wait(rng.uniform(*PAUSE_S)):
                return

    # -- the chaos --

    def restart(self, run, gw, why):
        """Starts |gw| again; a start that fails is a finding (and is tried again)."""
        for attempt in range(3):
            try:
                gw.start()
                return True
            except AssertionError as e:
                run.findings.append(f"gateway did not start ({why}, attempt {attempt + 1}): "
                                    + str(e)[-1500:])
                if gw.alive():
                    gw.kill()
        return False

    def kill(self, run, gw, why="random kill"):
        if not gw.alive():
            run.findings.append(f"gateway found dead before a kill (exit {gw.proc.returncode}):\n"
                                + gw.stderr_tail(30))
            gw.exits.append((gw.logs[-1], gw.proc.returncode, False))
        else:
            gw.kill()
        run.kills += 1
        if not self.restart(run, gw, why):
            raise AssertionError("the gateway does not start any more:\n" +
                                 "\n".join(run.findings[-3:]))

    def kills_for(self, run, gw, seconds):
        """Kills and restarts |gw| at random moments for |seconds|."""
        end = time.monotonic() + seconds
        while True:
            gap = run.rng.uniform(*KILL_GAP_S)
            if time.monotonic() + gap > end:
                time.sleep(max(0.0, end - time.monotonic()))
                return
            time.sleep(gap)
            self.kill(run, gw)

    def pg_stop_phase(self, run, gw):
        self.pg("fast")
        t0 = time.monotonic()
        try:
            self.kills_for(run, gw, PG_STOP_S)  # the gateway also restarts without a database
        finally:
            self.pg("start")
        run.pg_outages.append(f"stopped {time.monotonic() - t0:.0f} s")

    def pg_immediate_phase(self, run, db):
        """An immediate shutdown as soon as a gateway transaction is seen in flight."""
        caught = False
        deadline = time.monotonic() + 10
        q = ("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
             " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
             " AND state IN ('active', 'idle in transaction')")
        while time.monotonic() < deadline:
            if int(self.sql(db, q)[0][0]) > 0:
                caught = True
                break
            time.sleep(0.02)
        self.pg("immediate")
        time.sleep(run.rng.uniform(1, 4))
        self.pg("start")
        run.pg_outages.append("immediate shutdown " +
                              ("mid-transaction" if caught else "(no transaction caught)"))

    def probe(self, run, gw, state, device, why):
        """A new photo while the disk is full: 503 insufficient-storage with Retry-After."""
        path = os.path.join(run.dir, f"probe-{run.disk_full}-{run.probes_full}.jpg")
        with open(path, "wb") as f:
            f.write(with_comment(self.bases[3][1], f"chaos probe {run.seed} {path}"))
        out = subprocess.run([self.signer, "sign", os.path.join(state, "device-ed25519.pem"),
                              device, upload_path(), path], check=True,
                             stdout=subprocess.PIPE).stdout.decode()
        hdrs = [line for line in out.splitlines() if line]
        r = nghttp_request(gw, upload_path(), path, hdrs + ["content-type: image/jpeg"])
        try:
            self.assertProblem(r, 503, "insufficient-storage")
            retry = r.headers.get("retry-after", "")
            self.assertTrue(retry.isdigit() and int(retry) >= 1, f"Retry-After: {r!r}")
            run.probes_full += 1
        except AssertionError as e:
            run.findings.append(f"new upload on a full disk ({why}): {e}")

    def disk_full_phase(self, run, gw, db, mount):
        """Fills the spool's filesystem: first leaving a little room (uploads that fit get in,
        the next ones do not), then all of it, kept full for a while; one kill lands meanwhile.
        Then, without a kill to help: the photos claimed for processing before there was room
        again must be done within RECOVERY_S."""
        run.disk_full += 1
        state, device = run.devices[0]
        fillers = [os.path.join(mount, f"filler-{run.disk_full}-{i}") for i in (1, 2)]
        slack = int(run.rng.uniform(0.2, 8) * 1e6)
        full = threading.Event()
        done = threading.Event()

        def keep_full():
            # Whatever the gateway frees (an aborted upload, tmp/ emptied at start) is taken.
            fd = os.open(fillers[1], os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                size = 0
                while not done.is_set():
                    free = self.free_bytes(mount)
                    while free > 0:
                        try:
                            os.posix_fallocate(fd, size, free)
                            size += free
                        except OSError as e:
                            if e.errno != errno.ENOSPC:
                                raise
                            free //= 2
                            if free < 4096:
                                break
                        free = self.free_bytes(mount)
                    full.set()
                    done.wait(0.02)
            finally:
                os.close(fd)

        fd = os.open(fillers[0], os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            # The phones keep writing: what was free a moment ago may be taken before the
            # fallocate; measure again, unless there is already less room than the slack.
            for _ in range(100):
                try:
                    os.posix_fallocate(fd, 0, max(4096, self.free_bytes(mount) - slack))
                    break
                except OSError as e:
                    if e.errno != errno.ENOSPC:
                        raise
                    if self.free_bytes(mount) <= slack:
                        break
        finally:
            os.close(fd)
        th = threading.Thread(target=keep_full, daemon=True)
        try:
            time.sleep(run.rng.uniform(2, 5))
            th.start()
            if not full.wait(10):
                raise AssertionError("could not fill the tmpfs")
            self.probe(run, gw, state, device, "full disk")
            time.sleep(run.rng.uniform(0.5, 3))
            # A kill with the disk full: the gateway must start and refuse politely.
            self.kill(run, gw, "restart on a full disk")
            run.kills_full += 1
            self.probe(run, gw, state, device, "after a restart on a full disk")
            time.sleep(run.rng.uniform(3, 8))
        finally:
            done.set()
            if th.is_alive():
                th.join()
            for f in fillers:
                if os.path.exists(f):
                    os.unlink(f)
        released = self.sql(db, "SELECT now()")[0][0]
        time.sleep(RECOVERY_S)
        stuck = self.sql(db, "SELECT photo_id, attempts FROM photos WHERE status = 'processing'"
                             f" AND claimed_at < '{released}'")
        if stuck:
            run.findings.append(f"{len(stuck)} photos still in processing {RECOVERY_S} s after "
                                f"the disk had room again (photo, attempts): {stuck[:5]}")

    def plan(self, run):
        """The phases in a random order, and after how many random kills each comes (about 10
        more kills land while PostgreSQL is stopped, one on the full disk); sets the stream's
        pace so that the uploads last as long as the chaos should."""
        phases = ["pg_stop", "pg_immediate", "disk_full"]
        run.rng.shuffle(phases)
        rest = run.rng.randint(11, 14)
        cuts = sorted(run.rng.sample(range(1, rest), len(phases)))
        # A kill costs its gap and about a second of restart.
        expect = 2 + rest * (sum(KILL_GAP_S) / 2 + 1) + PG_STOP_S + 5 + 12 + RECOVERY_S
        run.spacing = expect / UPLOADS_TARGET
        run.t0 = time.monotonic()
        return phases, cuts, rest

    def chaos(self, run, gw, db, mount, plan):
        phases, cuts, rest = plan
        time.sleep(run.rng.uniform(1, 3))
        done = 0
        for i, kills in enumerate(cuts + [rest]):
            while done < kills:
                time.sleep(run.rng.uniform(*KILL_GAP_S))
                self.kill(run, gw)
                done += 1
            if i < len(phases):
                print(f"test_chaos: run {run.index}: {phases[i]} after {run.kills} kills",
                      flush=True)
                if phases[i] == "pg_stop":
                    self.pg_stop_phase(run, gw)
                elif phases[i] == "pg_immediate":
                    self.pg_immediate_phase(run, db)
                else:
                    self.disk_full_phase(run, gw, db, mount)
        while run.kills < KILLS_MIN:
            time.sleep(run.rng.uniform(*KILL_GAP_S))
            self.kill(run, gw)

    # -- the checks --

    def wait_queued(self, run, db, acked, data):
        """Waits until every photo of |acked| is queued; returns the photos table and what is
        wrong: a photo failed, not queued in time, or missing with nothing left to ingest."""
        deadline = time.monotonic() + QUEUED_DEADLINE_S
        gone = {}  # photo -> when it was first seen neither in PostgreSQL nor in pending/
        while True:
            rows = {r[0]: r[1:] for r in self.sql(
                db, "SELECT photo_id, status, coalesce(status_reason, '') FROM photos")}
            failed = {p: rows[p] for p in acked if p in rows and rows[p][0] == "failed"}
            waiting = [p for p in acked if p not in rows or rows[p][0] != "queued"]
            if failed:
                return rows, [f"acknowledged photo {p} ended failed: {r[1]}"
                              for p, r in sorted(failed.items())]
            if not waiting:
                return rows, []
            now = time.monotonic()
            for p in waiting:
                if p in rows or os.path.exists(os.path.join(data, "spool", "pending",
                                                            p + ".json")):
                    gone.pop(p, None)
                else:
                    gone.setdefault(p, now)
            # Ingest reads pending/ before it removes an entry: a few seconds rule out a race.
            lost = sorted(p for p, t in gone.items() if now - t > 5)
            if lost:
                return rows, [f"{len(lost)} acknowledged photos neither in PostgreSQL nor in "
                              f"spool/pending: {lost[:5]}"]
            if time.monotonic() > deadline:
                return rows, [f"{len(waiting)} acknowledged photos not queued within "
                              f"{QUEUED_DEADLINE_S} s, e.g. " + ", ".join(
                                  f"{p}: {rows.get(p, ['not in photos'])[0]}"
                                  for p in waiting[:5])]
            time.sleep(0.5)

    def check(self, run, gw, db, conninfo, data):
        bad = list(run.findings)
        # What the phones hold: every receipt prep-upload kept after a 2xx.
        acked = {}
        for state, _ in run.devices:
            for path in glob.glob(os.path.join(state, "receipts", "*.json")):
                with open(path) as f:
                    receipt = json.load(f)
                if receipt["photo_id"] in acked:
                    bad.append(f"photo {receipt['photo_id']} acknowledged to two phones")
                acked[receipt["photo_id"]] = receipt
        by_sha = {(u.clave, u.sha256): u for u in run.uploads}
        for pid, r in acked.items():
            u = by_sha.get((r.get("clave_acta"), r.get("sha256")))
            if u is None or r.get("bytes") != u.bytes:
                bad.append(f"receipt {pid} matches no photo sent: {r}")
        for u in run.uploads:
            if u.rc != 0 or u.result.get("status") not in (200, 201):
                tail = "\n".join(u.stderr.splitlines()[-6:])
                bad.append(f"upload {u.n} ({u.bytes} bytes, phone {u.device}) not acknowledged "
                           f"(exit {u.rc}, {u.result}):\n{tail}")
            elif u.result.get("photo_id") not in acked:
                bad.append(f"upload {u.n}: prep-upload reported {u.result} but kept no receipt")

        rows, late = self.wait_queued(run, db, acked, data)
        bad += late
        missing = sorted(set(acked) - set(rows))
        extra = sorted(set(rows) - set(acked))
        if missing:
            bad.append(f"{len(missing)} acknowledged photos missing from PostgreSQL: {missing[:5]}")
        if extra:
            bad.append(f"{len(extra)} photos in PostgreSQL that no phone has a receipt for: "
                       f"{extra[:5]}")
        for clave, sha, n in self.sql(db, "SELECT clave_acta, encode(sha256, 'hex'), count(*)"
                                          " FROM photos GROUP BY 1, 2 HAVING count(*) > 1"):
            bad.append(f"photo {clave}/{sha} recorded {n} times")
        for pid, n in self.sql(db, "SELECT photo_id, count(*) FROM ledger GROUP BY 1"
                                   " HAVING count(*) > 1"):
            bad.append(f"photo {pid} has {n} ledger rows")
        ledger_rows = int(self.sql(db, "SELECT count(*) FROM ledger")[0][0])
        if ledger_rows != len(acked):
            bad.append(f"{ledger_rows} ledger rows for {len(acked)} acknowledged photos")
        for pid, r in sorted(acked.items()):
            path = os.path.join(data, "store", "originals", f"{r['sha256']}.jpg")
            try:
                with open(path, "rb") as f:
                    got = hashlib.sha256(f.read()).hexdigest()
            except OSError as e:
                bad.append(f"original of {pid}: {e}")
                continue
            if got != r["sha256"]:
                bad.append(f"original of {pid} hashes to {got}, the receipt says {r['sha256']}")

        rc, out, err = self.gateway_cli("ledger", "verify", "--data", data, "--db", conninfo,
                                        "--json")
        if rc != 0:
            bad.append(f"prep-gateway ledger verify failed (exit {rc}): {out}{err}")
        else:
            doc = json.loads(out)
            if (doc.get("entries"), doc.get("database_rows")) != (len(acked), len(acked)):
                bad.append(f"ledger verify: {doc} for {len(acked)} acknowledged photos")
        pending = os.listdir(os.path.join(data, "spool", "pending"))
        if pending:
            bad.append(f"{len(pending)} receipts never ingested: {pending[:5]}")

        # Partial uploads: what a start finds in tmp/ is removed; a resumable upload's
        # spool/uploads/<token>.part (and .json) must be an upload the gateway still offers.
        gw.stop()
        if not self.restart(run, gw, "final restart"):
            bad.append("the gateway did not start for the final checks")
        else:
            tmp = os.listdir(os.path.join(data, "spool", "tmp"))
            if tmp:
                bad.append(f"spool/tmp not emptied at start: {tmp[:5]}")
            bad += self.check_resumable(gw, data)
            gw.stop()
        bad += gw.problems()
        return acked, bad

    def check_resumable(self, gw, data):
        folder = os.path.join(data, "spool", "uploads")
        if not os.path.isdir(folder):
            return []  # resumable uploads are not there yet
        bad = []
        tokens = {os.path.splitext(n)[0] for n in os.listdir(folder)
                  if n.endswith((".part", ".json"))}
        for token in sorted(tokens):
            p = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "-I", "-o",
                                "/dev/null", "-w", "%{http_code}", "--max-time", "10",
                                gw.url(f"/v1/uploads/{token}")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            code = p.stdout.decode()
            leftover = [n for n in (token + ".part", token + ".json")
                        if os.path.exists(os.path.join(folder, n))]
            if code != "204" and leftover:
                bad.append(f"partial upload {token} left in spool/uploads ({leftover}) but "
                           f"HEAD /v1/uploads/{token} answers {code or p.stderr.decode()}")
        return bad

    # -- one run --

    def one_run(self, index):
        seed = self.base_seed + index - 1
        run = Run(index, seed)
        print(f"test_chaos: run {index} seed {seed} (replay it alone: PREP_CHAOS_SEED={seed})",
              flush=True)
        run.dir = f"{self.work}-run{index}"
        shutil.rmtree(run.dir, ignore_errors=True)
        data = os.path.join(run.dir, "data")
        os.makedirs(data)
        os.makedirs(os.path.join(run.dir, "photos"))
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE},mode=0750",
                            "tmpfs", data], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if p.returncode != 0:
            self.fail("test_chaos puts the gateway's data folder on a tmpfs of its own, to fill "
                      f"it up, and could not mount one at {data} (it needs root): "
                      + p.stdout.decode(errors="replace"))
        gw = None
        threads = []
        t0 = time.monotonic()
        try:
            if not self.pg_running():
                self.pg("start")
            db = f"chaos{index}"
            lib("prep_createdb", self.pg_sock, self.pg_port, db)
            conninfo = lib("prep_conninfo", self.pg_sock, self.pg_port, db)
            self.env.migrate(conninfo)
            gw = PinnedGateway(self.env, conninfo, data, label=f"chaos-run{index}")
            gw.start()
            run.devices = [self.enrol(run, conninfo, gw, n) for n in range(DEVICES)]
            time.sleep(0.5)  # the devices' records reach the gateway's copy
            plan = self.plan(run)
            threads = [threading.Thread(target=self.phone, args=(run, n), daemon=True)
                       for n in range(DEVICES)]
            for th in threads:
                th.start()
            self.chaos(run, gw, db, data, plan)
            run.chaos_done.set()
            t_chaos = time.monotonic() - t0
            for th in threads:
                th.join(timeout=600)
            t_stream = time.monotonic() - t0
            if not gw.alive():
                self.restart(run, gw, "after the stream")
            acked, bad = self.check(run, gw, db, conninfo, data)
        except BaseException:
            if run.findings:
                print(f"test_chaos: run {index}: before it stopped:\n" + "\n".join(run.findings),
                      flush=True)
            raise
        finally:
            run.stop.set()
            run.chaos_done.set()
            with run.lock:
                for proc in run.procs:
                    proc.kill()
            for th in threads:
                th.join(timeout=30)
            if gw is not None and gw.alive():
                gw.stop(expect_clean=False)
            if not self.pg_running():
                self.pg("start")
            if os.environ.get("PREP_KEEP_TMP") == "1":
                # For a post-mortem: all but the photos' bytes (the tmpfs goes).
                shutil.copytree(data, run.dir + "-data", ignore=shutil.ignore_patterns(
                    "originals", "review", "filler-*"), dirs_exist_ok=True)
            if subprocess.run(["umount", data]).returncode != 0:
                subprocess.run(["umount", "-l", data])

        retried = [u for u in run.uploads if u.retries > 0]
        refused = sum(u.statuses.count(503) for u in run.uploads)
        print(f"test_chaos: run {index} seed {seed}: {run.kills} kills "
              f"({run.kills_full} on a full disk), {len(run.pg_outages)} PostgreSQL outages "
              f"({', '.join(run.pg_outages)}), {run.disk_full} disk-full episodes "
              f"({run.probes_full} probes answered 503, {refused} phone attempts refused 503), "
              f"{len(run.uploads)} uploads ({sum(u.bytes for u in run.uploads) / 1e6:.0f} MB): "
              f"{len(acked)} acknowledged, {len(retried)} retried "
              f"({sum(u.retries for u in run.uploads)} retries); chaos {t_chaos:.0f} s, "
              f"stream {t_stream:.0f} s, total {time.monotonic() - t0:.0f} s", flush=True)
        if bad:
            self.fail(f"run {index} (seed {seed}): {len(bad)} problems:\n" + "\n".join(bad))
        self.assertGreaterEqual(run.kills, KILLS_MIN)
        self.assertGreaterEqual(len(run.uploads), UPLOADS_MIN)


def _make_run(index):
    def test(self):
        self.one_run(index)
    test.__name__ = f"test_chaos_run_{index:02d}"
    test.__doc__ = f"chaos run {index}"
    return test


for _i in range(1, max(1, int(os.environ.get("PREP_CHAOS_RUNS", "1") or "1")) + 1):
    setattr(ChaosTest, f"test_chaos_run_{_i:02d}", _make_run(_i))

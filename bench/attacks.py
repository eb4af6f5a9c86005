#!/usr/bin/env python3
"""bench/attacks.py: a legitimate phone's uploads while the gateway is attacked, one attack class
at a time, against the same phone with no attack.

Builds build/ (release), starts a durable PostgreSQL of its own and the gateway with its default
limits on loopback, enrols one device, then for the baseline and for each attack runs
bench/prep-load (signed uploads from that device, one at a time, each a new photo) while the
attack runs from 127.0.0.2, and prints per attack the legitimate uploads that succeeded and their
p50/p99 against the baseline. The goal (issue 10): >= 99 % succeed and p99 < 3x the baseline.

Fair to both sides: each round starts once the gateway has processed every photo of the rounds
before (processing a photo takes far longer than receiving it, so a later round would otherwise
compete with the backlog of the earlier ones). The attacker is a process of its own (this script
with --attacker), never throttled: it sends as fast as its sockets take, by default at the
niceness of everything else (the gateway, PostgreSQL, the phone: all inherit this script's). On
this 2-core machine the attacker's own CPU (80 % of a core for the floods) then comes out of the
gateway's share, which a remote attacker's does not: --attacker-nice 19 models that, the attacker
getting whatever CPU the gateway's side leaves. It reports what it sent, and the table shows it.
Every attack loop sends only to 127.0.0.1.

usage: bench/attacks.py [--uploads N=100] [--only WORD] [--attacker-nice N=0] [--addresses N=1]
                        [--write]
       (--write: the table into docs/operations.md; --only: the attacks whose name has WORD;
        --addresses: a connection from each of N source addresses in turn, as a botnet's)
"""

import argparse
import json
import os
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(ROOT, "gateway", "tests", "integration"))
import test_protocol as tp  # noqa: E402  (frame and HPACK helpers, no test is run from here)



def lib(*words):
    """A shell line with scripts/lib.sh loaded; returns its stdout."""
    p = subprocess.run(["bash", "-c", f". {ROOT}/scripts/lib.sh; " + " ".join(words)],
                       stdout=subprocess.PIPE, env=dict(os.environ, PREP_LOG_PREFIX="attacks"),
                       cwd=ROOT, timeout=1200)
    if p.returncode != 0:
        sys.exit(f"bench/attacks.py: failed: {' '.join(words)}")
    return p.stdout.decode().strip()


# --- attacks: each is a loop that runs until |stop| is set ---------------------------------------

class Sent:
    """What the attacker sent: connections opened and bytes, from all its threads."""
    lock = threading.Lock()
    conns = 0
    bytes = 0

    @classmethod
    def add(cls, conns, n):
        with cls.lock:
            cls.conns += conns
            cls.bytes += n


class AttackSocket(socket.socket):
    """A socket that counts what it sends (the attack's rate goes into the table)."""

    def sendall(self, data, *flags):
        super().sendall(data, *flags)
        Sent.add(0, len(data))


class Addresses:
    """The attacker's source addresses, taken in turn: 127.0.0.2 alone by default, or the next
    of --addresses N (127.0.0.2 onwards) for each connection, as a botnet's would be."""
    lock = threading.Lock()
    count = 1
    turn = 0

    @classmethod
    def next(cls):
        with cls.lock:
            cls.turn += 1
            k = cls.turn % cls.count
        return f"127.0.0.{k + 2}"


def connect(port):
    s = AttackSocket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((Addresses.next(), 0))
    s.settimeout(2)
    try:
        s.connect(("127.0.0.1", port))
    except OSError:
        s.close()
        raise
    Sent.add(1, 0)
    return s


def get_block(path="/healthz"):
    return b"\x82\x86" + tp.hpack_literal(":path", path) + tp.hpack_literal(":authority", "x")


def upload_block(length):
    return (b"\x83\x86" + tp.hpack_literal(":path", "/v1/actas/140338B010002/photos") +
            tp.hpack_literal(":authority", "x") + tp.hpack_literal("content-type", "image/jpeg") +
            tp.hpack_literal("content-length", str(length)))


def session(port, stop, body):
    """Opens attacker connections one after the other and runs |body(sock, stop)| on each."""
    while not stop.is_set():
        try:
            s = connect(port)
        except OSError:
            time.sleep(0.01)
            continue
        try:
            s.sendall(tp.PREFACE + tp.frame(tp.SETTINGS, 0, 0))
            body(s, stop)
        except OSError:
            pass  # cut by the gateway: that is the point; open another
        finally:
            s.close()


def rapid_reset(s, stop):
    sid = 1
    while not stop.is_set() and sid < 20000:
        s.sendall(tp.frame(tp.HEADERS, tp.END_HEADERS | tp.END_STREAM, sid, get_block()) +
                  tp.frame(tp.RST_STREAM, 0, sid, struct.pack(">I", 8)))
        sid += 2


def continuation_flood(s, stop):
    s.sendall(tp.frame(tp.HEADERS, 0, 1, b"\x82\x86"))
    for i in range(100000):
        if stop.is_set():
            return
        s.sendall(tp.frame(0x9, 0, 1, tp.hpack_literal(f"x-{i % 1000}", "y")))


def hpack_bomb(s, stop):
    block = get_block() + b"\x40" + tp.hpack_string(b"x-bomb") + tp.hpack_string(b"x" * 4000)
    s.sendall(tp.frame(tp.HEADERS, tp.END_HEADERS | tp.END_STREAM, 1, block + b"\xbe" * 1000))
    tp.read_frames(s, 0.5)


def settings_flood(s, stop):
    burst = b"".join(tp.frame(tp.SETTINGS, 0, 0, struct.pack(">HI", 3, 100)) for _ in range(500))
    while not stop.is_set():
        s.sendall(burst)


def ping_flood(s, stop):
    burst = b"".join(tp.frame(0x6, 0, 0, struct.pack(">Q", i)) for i in range(500))
    while not stop.is_set():
        s.sendall(burst)


def slowloris(s, stop):
    # A header block that never ends, one small CONTINUATION now and then.
    s.sendall(tp.frame(tp.HEADERS, 0, 1, b"\x82\x86"))
    while not stop.wait(1.0):
        s.sendall(tp.frame(0x9, 0, 1, tp.hpack_literal("x-slow", "y")))


def slow_body(s, stop):
    s.sendall(tp.frame(tp.HEADERS, tp.END_HEADERS, 1, upload_block(1000000)) +
              tp.frame(tp.DATA, 0, 1, b"\xff\xd8"))
    while not stop.wait(0.5):
        s.sendall(tp.frame(tp.DATA, 0, 1, b"\x00" * 100))


def zero_window(s, stop):
    s.sendall(tp.frame(tp.SETTINGS, 0, 0, struct.pack(">HI", tp.SETTINGS_INITIAL_WINDOW_SIZE, 0)))
    for sid in range(1, 16, 2):
        s.sendall(tp.frame(tp.HEADERS, tp.END_HEADERS | tp.END_STREAM, sid, get_block("/metrics")))
    while not stop.wait(0.5):
        pass


def stream_limit(s, stop):
    for sid in range(1, 41, 2):
        s.sendall(tp.frame(tp.HEADERS, tp.END_HEADERS, sid, upload_block(100000)))
    while not stop.wait(0.5):
        pass


def connection_flood(port, stop):
    held = []
    while not stop.is_set():
        try:
            held.append(connect(port))
        except OSError:
            time.sleep(0.01)
        if len(held) > 400:
            for s in held:
                s.close()
            held = []
    for s in held:
        s.close()


ATTACKS = [
    ("Rapid Reset (CVE-2023-44487)", rapid_reset, 2),
    ("CONTINUATION flood", continuation_flood, 2),
    ("HPACK bomb", hpack_bomb, 2),
    ("SETTINGS flood, never reading", settings_flood, 2),
    ("PING flood, never reading", ping_flood, 2),
    ("slowloris (header block never ends)", slowloris, 50),
    ("slow body", slow_body, 50),
    ("zero-window reader", zero_window, 20),
    ("stream-limit abuse", stream_limit, 10),
    ("connection flood from one address", None, 2),
]


# --- the run -------------------------------------------------------------------------------------

def attacker(index, port):
    """The attacker process (--attacker): runs attack |index| until its stdin closes, then
    prints what it sent as one JSON line."""
    name, body, threads = ATTACKS[index]
    stop = threading.Event()
    if body is None:
        ts = [threading.Thread(target=connection_flood, args=(port, stop)) for _ in range(threads)]
    else:
        ts = [threading.Thread(target=session, args=(port, stop, body)) for _ in range(threads)]
    t0 = time.monotonic()
    for t in ts:
        t.daemon = True
        t.start()
    sys.stdin.read()
    stop.set()
    took = time.monotonic() - t0
    for t in ts:
        t.join(timeout=10)
    print(json.dumps({"seconds": took, "conns": Sent.conns, "bytes": Sent.bytes,
                      "cpu_s": sum(os.times()[:2])}), flush=True)


def legit(port, state, photo, n):
    p = subprocess.run([os.path.join(ROOT, "build", "bench", "prep-load"), "--server",
                        f"http://127.0.0.1:{port}", "--state", state, "--file", photo, "-c", "1",
                        "-m", "1", "-n", str(n), "--claves", str(n), "--entidad", "14", "--json"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
    if p.returncode not in (0, 1) or not p.stdout.strip():
        sys.exit(f"prep-load failed: {p.stderr.decode()[-500:]}")
    return json.loads(p.stdout.decode().strip().splitlines()[-1])


def settle(db, data):
    """Waits until every photo received so far is processed, so that a round does not compete
    with the backlog of the rounds before it."""
    query = "SELECT count(*) FROM photos WHERE status IN ('received', 'processing')"
    for _ in range(6000):
        pending = os.path.join(data, "spool", "pending")
        left = subprocess.run(["psql", "-X", "-qtA", "-d", db, "-c", query], check=True,
                              stdout=subprocess.PIPE).stdout.decode().strip()
        if left == "0" and not (os.path.isdir(pending) and os.listdir(pending)):
            return
        time.sleep(0.1)
    sys.exit("bench/attacks.py: photos not processed in 600 s")


def rate(a):
    """What the attacker sent a second, for the table."""
    s = max(a["seconds"], 1e-3)
    return (f"{a['conns'] / s:,.0f} conn/s, {a['bytes'] / s / 1e6:.1f} MB/s, "
            f"{100 * a['cpu_s'] / s:.0f} % CPU")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--uploads", type=int, default=100)
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--only", metavar="WORD", help="run only the attacks whose name has WORD")
    ap.add_argument("--attacker-nice", type=int, default=0, metavar="N",
                    help="the attacker this much nicer than the gateway's side (19: its CPU "
                         "is not the gateway's, as for a remote attacker)")
    ap.add_argument("--addresses", type=int, default=1, metavar="N",
                    help="the attacker's source addresses, 127.0.0.2 onwards, one connection "
                         "from each in turn (default 1)")
    ap.add_argument("--attacker", type=int, help=argparse.SUPPRESS)  # internal: one attack
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    Addresses.count = max(1, args.addresses)
    if args.attacker is not None:
        return attacker(args.attacker, args.port)
    if args.write and args.only:
        sys.exit("bench/attacks.py: --write needs every attack (no --only)")
    if Addresses.count > 254:
        sys.exit("bench/attacks.py: --addresses: at most 254 (127.0.0.2-127.0.0.255)")

    lib("prep_deps; prep_build build -Dbuildtype=release >&2")
    scratch = tempfile.mkdtemp(prefix="prep-bench-attacks.")
    os.chmod(scratch, 0o755)
    pg_port, gw = "5498", None
    try:
        lib("prep_pg_start", f"{scratch}/pg", f"{scratch}/run", pg_port)
        lib("prep_createdb", f"{scratch}/run", pg_port, "bench")
        db = lib("prep_conninfo", f"{scratch}/run", pg_port, "bench")
        gwbin = os.path.join(ROOT, "build", "gateway", "prep-gateway")
        subprocess.run([gwbin, "migrate", "--db", db], check=True, stdout=subprocess.DEVNULL)
        port = 20000 + os.getpid() % 20000
        log = open(os.path.join(scratch, "gateway.log"), "wb")
        # The default limits, but one: prep-load sends every upload as one device, at tens a
        # second, which no phone does (the per-device rate is not what is measured here).
        gw = subprocess.Popen([gwbin, "serve", "--h2c", f"127.0.0.1:{port}", "--tls", "off",
                               "--db", db, "--data", f"{scratch}/data",
                               "--request-rate-per-device", "0"], stderr=log)
        print(f"gateway pid {gw.pid}, log {scratch}/gateway.log", file=sys.stderr)
        for _ in range(100):
            if subprocess.run(["curl", "-fsS", "--http2-prior-knowledge", "-o", "/dev/null",
                               f"http://127.0.0.1:{port}/healthz"],
                              stderr=subprocess.DEVNULL).returncode == 0:
                break
            time.sleep(0.1)
        code = json.loads(subprocess.run(
            [gwbin, "device", "code", "--db", db, "--label", "bench", "--actas", "14*",
             "--expires", "1h", "--json"], check=True, stdout=subprocess.PIPE).stdout)["code"]
        state = os.path.join(scratch, "device")
        subprocess.run([os.path.join(ROOT, "build", "client", "prep-upload"), "enrol", "--code",
                        code, "--server", f"http://127.0.0.1:{port}", "--state", state],
                       check=True, stdout=subprocess.DEVNULL)
        time.sleep(1)  # the device reaches the gateway's copy

        def photo(seed):
            """A phone-sized photo of its own for each round: every upload is a new photo for
            the gateway to process, in every round alike."""
            path = os.path.join(scratch, f"photo-{seed}.jpg")
            subprocess.run([os.path.join(ROOT, "build", "fixtures", "acta-gen"), "--out", path,
                            "--seed", str(seed)], check=True, stderr=subprocess.DEVNULL)
            return path

        size = os.path.getsize(photo(7))

        # Unmeasured: the first uploads after a start are slower (caches, connections).
        legit(port, state, photo(6), 20)
        chosen = [i for i, (name, _, _) in enumerate(ATTACKS)
                  if not args.only or args.only.lower() in name.lower()]
        # The no-attack rounds are spread over the run (before the attacks, after every third
        # and at the end): the machine drifts over minutes, and each attack is compared with
        # the median of them rather than with the first round alone.
        schedule = [None]
        for k, i in enumerate(chosen):
            schedule.append(i)
            if k % 3 == 2 or k == len(chosen) - 1:
                schedule.append(None)
        rows, bases = [], []
        for seq, i in enumerate(schedule):
            path = photo(8 + seq)
            settle(db, f"{scratch}/data")
            if i is None:
                r = legit(port, state, path, args.uploads)
                bases.append(r)
                print(f"no attack: {r['2xx']}/{args.uploads}, p50 {r['p50_ms']} ms, "
                      f"p99 {r['p99_ms']} ms", file=sys.stderr)
                continue
            name = ATTACKS[i][0]
            att = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--attacker",
                                    str(i), "--port", str(port), "--addresses",
                                    str(Addresses.count)], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE,
                                   preexec_fn=lambda: os.nice(args.attacker_nice))
            time.sleep(1)
            try:
                r = legit(port, state, path, args.uploads)
            finally:
                out, _ = att.communicate(b"", timeout=30)  # stdin closed: the attack stops
            a = json.loads(out.decode().strip().splitlines()[-1])
            alive = gw.poll() is None
            rows.append((name, r, a))
            print(f"{name}: {r['2xx']}/{args.uploads}, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} "
                  f"ms; attacker {rate(a)}; gateway {'alive' if alive else 'DEAD'}",
                  file=sys.stderr)
            if not alive:
                sys.exit("the gateway died")
    finally:
        if gw is not None:
            gw.terminate()
            gw.wait(timeout=90)
        lib("prep_pg_stop", f"{scratch}/pg", ">/dev/null 2>&1 || true")
        if not os.environ.get("PREP_KEEP_TMP"):
            shutil.rmtree(scratch, ignore_errors=True)

    n = args.uploads
    base = {k: statistics.median(r[k] for r in bases) for k in ("2xx", "p50_ms", "p99_ms")}
    spread = ", ".join(f"{r['p99_ms']:.0f}" for r in bases)
    nice_arg = f" --attacker-nice {args.attacker_nice}" if args.attacker_nice else ""
    if Addresses.count > 1:
        nice_arg += f" --addresses {Addresses.count}"
    source = ("127.0.0.2" if Addresses.count == 1 else
              f"{Addresses.count} addresses (127.0.0.2 onwards, a connection from each in turn)")
    where = (f"{args.attacker_nice} nicer than the gateway, PostgreSQL and the phone (its CPU is "
             "not the gateway's, as for a remote attacker)" if args.attacker_nice else
             "the niceness of the gateway, PostgreSQL and the phone")
    out = [f"Command: `nice bench/attacks.py --uploads {n}{nice_arg}` (release build, h2c, "
           "PostgreSQL with "
           f"fsync on, 2 cores, {time.strftime('%Y-%m-%d')}). The legitimate phone: "
           f"bench/prep-load, {n} signed uploads one after the other, each a new photo of about "
           f"{size} bytes. The attacker: one process from {source} at {where}, "
           "sending as fast as its sockets take (its rates "
           "are in the last column). The gateway with its default limits, but "
           "`--request-rate-per-device 0` (prep-load is one device sending tens a second). Each "
           "round starts once the photos of the rounds before are processed; \"no attack\" is "
           f"the median of {len(bases)} rounds spread over the run (their p99: {spread} ms).",
           "", "| attack | legitimate uploads that succeeded | p50 ms | p99 ms | p99 / no attack | "
           "goal (>= 99 %, < 3x) | what the attacker sent |", "|---|---|---|---|---|---|---|",
           f"| no attack | {base['2xx']:.0f}/{n} | {base['p50_ms']:.0f} | {base['p99_ms']:.0f} | "
           "1.00x | - | - |"]
    for name, r, a in rows:
        ratio = r["p99_ms"] / base["p99_ms"] if base["p99_ms"] else 0
        ok = r["2xx"] >= 0.99 * n and ratio < 3
        out.append(f"| {name} | {r['2xx']}/{n} | {r['p50_ms']:.0f} | {r['p99_ms']:.0f} | "
                   f"{ratio:.2f}x | {'met' if ok else 'NOT met'} | {rate(a)} |")
    text = "\n".join(out)
    print(text)
    if args.write:
        path = os.path.join(ROOT, "docs", "operations.md")
        doc = open(path).read()
        # One block for the single-address run and one for the many-address run.
        mark = "attacks" if Addresses.count == 1 else "attacks-addresses"
        begin, end = f"<!-- {mark}:begin -->", f"<!-- {mark}:end -->"
        a, b = doc.index(begin) + len(begin), doc.index(end)
        open(path, "w").write(doc[:a] + "\n" + text + "\n" + doc[b:])


if __name__ == "__main__":
    main()

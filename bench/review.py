#!/usr/bin/python3
"""Verification queue bench: N concurrent API clerks drain a queue of synthetic photos.

Inserts PHOTOS processed photos and their queue rows straight into PostgreSQL, starts the
release gateway with a short --review-lease, and runs CLERKS clerks (bench/review-clerks, C, one
thread and one HTTP/2 connection each) that loop: claim (POST /v1/review/claim), then decide
(accept/reject/retake). One claim in ABANDON is dropped
without a decision, as a clerk whose laptop died would, so that expired leases must be
recovered. At the end it checks in SQL that every photo has exactly one decision, that no photo
was handed to two clerks while a lease was live, and reports claim latency: the gateway's own
per-request time (its log's dur_ms) and the client round trip measured by bench/review-clerks,
which keeps one HTTP/2 connection per clerk.
Run through bench/review.sh."""

import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "gateway", "tests",
                                "integration"))
from harness import Env, Gateway, stop_all_gateways  # noqa: E402

PHOTOS = int(os.environ.get("BENCH_PHOTOS", 10000))
CLERKS = int(os.environ.get("BENCH_CLERKS", 20))
ABANDON = int(os.environ.get("BENCH_ABANDON", 200))
THINK_MS = int(os.environ.get("BENCH_THINK_MS", 500))
LEASE = 3


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p / 100))] if v else float("nan")


def main():
    env = Env.get()
    db = env.create_db("bench_review")
    conninfo = env.conninfo(db)
    env.migrate(conninfo)
    for i in range(CLERKS):
        env.user_add(conninfo, f"clerk{i:02d}", "clerk", "bench-password-1234")
    env.psql(db, "INSERT INTO photos (photo_id, clave_acta, sha256, bytes, width, height,"
             " received_at, received_text, status, review_sha256, review_bytes, review_width,"
             " review_height) SELECT gen_random_uuid(),"
             " lpad((i % 32 + 1)::text, 2, '0') || lpad((i % 9999 + 1)::text, 4, '0') || 'B'"
             " || lpad((i / 9999 % 99 + 1)::text, 2, '0') || '002',"
             " sha256(('b' || i)::bytea), 1000, 100, 100, now() + i * interval '1 us', 'bench',"
             f" 'queued', sha256(('r' || i)::bytea), 10, 100, 100 FROM generate_series(1, {PHOTOS}) i")
    env.psql(db, "INSERT INTO verification_queue (photo_id, clave_acta, enqueued_at)"
             " SELECT photo_id, clave_acta, received_at FROM photos")
    data = os.path.join(env.tmp, "bench-data")
    gw = Gateway(env, conninfo, data, ["--review-lease", str(LEASE), "--loops", "2"],
                 label="bench")
    gw.start()
    tokens = {}
    for i in range(CLERKS):
        body = json.dumps({"username": f"clerk{i:02d}", "password": "bench-password-1234"})
        out = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "-H",
                              "Content-Type: application/json", "--data-binary", body,
                              gw.url("/v1/login")], stdout=subprocess.PIPE, check=True).stdout
        tokens[i] = json.loads(out)["token"]
    # The clerks: bench/review-clerks, one kept-alive HTTP/2 connection each (client/pu_h2), so
    # the round trip measured is the gateway's and PostgreSQL's, not a client process starting.
    token_file = os.path.join(env.tmp, "tokens")
    with open(token_file, "w") as f:
        f.write("".join(tokens[i] + "\n" for i in range(CLERKS)))
    claims_file = os.path.join(env.tmp, "claims.tsv")
    clerks = os.path.join(os.path.dirname(__file__), "..", "build", "bench", "review-clerks")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    t0 = time.monotonic()
    p = subprocess.run([clerks, "--server", gw.url("/"), "--tokens", token_file,
                        "--abandon-every", str(max(1, PHOTOS // max(1, ABANDON))),
                        "--idle-exit", str(LEASE + 2), "--think-ms", str(THINK_MS),
                        "--out", claims_file],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wall = time.monotonic() - t0
    summary = json.loads(p.stdout.decode() or "{}")
    errors = [line for line in p.stderr.decode().splitlines() if line]
    if p.returncode not in (0, 1) or not os.path.exists(claims_file):
        sys.exit("review-clerks failed: " + p.stderr.decode()[-2000:])
    claims = []
    with open(claims_file) as f:
        for line in f:
            pid, who, when, _ = line.rstrip("\n").split("\t")
            claims.append((pid, int(who), float(when)))
    abandoned = [summary.get("abandoned", 0)]
    gw.stop()
    server = []
    for line in gw.stderr_text().splitlines():
        if 'path="/v1/review/claim"' in line and "status=200" in line:
            server.append(int(line.split("dur_ms=")[1].split()[0]))
    check = env.psql(db, "SELECT (SELECT count(*) FROM verification_queue WHERE state <> 'waiting'),"
                         " (SELECT count(*) FROM review_decisions),"
                         " (SELECT count(DISTINCT photo_id) FROM review_decisions),"
                         " (SELECT count(*) FROM verification_queue WHERE leases > 1)")[0]
    per_photo = {}
    for pid, who, when in claims:
        per_photo.setdefault(pid, []).append(when)
    # A photo handed out again before its lease could have expired is a double claim.
    double = sum(1 for ts in per_photo.values()
                 for a, b in zip(sorted(ts), sorted(ts)[1:]) if b - a < LEASE - 0.5)
    res = {
        "photos": PHOTOS, "clerks": CLERKS, "think_ms": THINK_MS,
        "abandoned_claims": abandoned[0],
        "decided_photos": int(check[0]), "decisions": int(check[1]),
        "distinct_decided": int(check[2]), "photos_leased_more_than_once": int(check[3]),
        "double_claims": double, "errors": len(errors), "wall_s": round(wall, 1),
        "claims_per_s": round(len(claims) / wall, 1),
        "claim_server_ms": {"p50": pct(server, 50), "p99": pct(server, 99), "max": max(server)},
        "claim_roundtrip_ms": summary.get("claim_roundtrip_ms"),
    }
    print(json.dumps(res, indent=1))
    ok = (res["decided_photos"] == PHOTOS and res["decisions"] == PHOTOS and
          res["distinct_decided"] == PHOTOS and double == 0 and not errors and
          # Every photo decided once proves the abandoned ones came back; a photo can be
          # abandoned twice, so count photos leased again, not abandons.
          (abandoned[0] == 0 or res["photos_leased_more_than_once"] > 0) and
          res["claim_roundtrip_ms"] and res["claim_roundtrip_ms"]["p99"] < 20)
    if errors:
        print("\n".join(errors[:10]), file=sys.stderr)
    print("bench review: " + ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        stop_all_gateways()

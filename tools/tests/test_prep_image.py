#!/usr/bin/env python3
"""prep-image against fixtures/manifest.tsv: every fixture gets its manifest outcome from the
same library code the gateway runs, and the eight EXIF orientations come out upright.

usage: test_prep_image.py PREP_IMAGE SOURCE_ROOT
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import testlib
from testlib import check, read_ppm

# The gateway's problem types (fixtures/README.md) and the imaging error behind each.
PROBLEM_TO_ERROR = {
    "empty-body": {"NOT_JPEG"},
    "unsupported-media-type": {"NOT_JPEG"},
    "invalid-jpeg": {"MALFORMED"},
    "truncated-jpeg": {"TRUNCATED"},
    "image-dimensions": {"DIMENSIONS"},
    "unsupported-jpeg": {"UNSUPPORTED"},
    "too-many-scans": {"TOO_MANY_SCANS"},
}

def run(prep, cmd, files, *extra):
    r = subprocess.run([prep, cmd, "--json", "--quiet", *extra, *files], capture_output=True,
                       text=True, timeout=120)
    out = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
    check(len(out) == len(files), f"{cmd}: {len(out)} results for {len(files)} files")
    return r.returncode, {os.path.basename(d["file"]): d for d in out}


def corner_means(w, h, px):
    """Mean luma of the four W/4 x H/4 corner boxes: tl, tr, bl, br."""
    def box(x0, y0):
        s = n = 0
        for y in range(y0, y0 + h // 4, 2):
            row = px[3 * (y * w + x0): 3 * (y * w + x0 + w // 4)]
            for i in range(0, len(row), 6):
                s += (77 * row[i] + 150 * row[i + 1] + 29 * row[i + 2]) >> 8
                n += 1
        return s / n
    return box(0, 0), box(w - w // 4, 0), box(0, h - h // 4), box(w - w // 4, h - h // 4)


def main():
    prep, root, gen = sys.argv[1], sys.argv[2], sys.argv[3]
    small = os.path.join(root, "fixtures", "small")
    with open(os.path.join(root, "fixtures", "manifest.tsv"), encoding="utf-8") as f:
        rows = [l.rstrip("\n").split("\t") for l in f if l.strip()][1:]
    files = [os.path.join(small, r[0]) for r in rows]
    rc_probe, probe = run(prep, "probe", files)
    tmp = tempfile.mkdtemp(prefix="prep-image-test.")
    try:
        rc_proc, proc = run(prep, "process", files, "--out", tmp, "--jobs", "2")
        check(rc_probe == 1 and rc_proc == 1, "exit status 1 when some files are refused")
        for name, status, problem, final, _ in rows:
            p, q = probe[name], proc[name]
            if status == "201":
                check(p["ok"], f"{name}: probe refused it: {p}")
                if final == "queued":
                    check(q["ok"], f"{name}: process refused it: {q}")
                    check("legibility" in q and q["output"]["bytes"] > 0, f"{name}: {q}")
                else:
                    check(not q["ok"] and q["error"] in ("DECODE", "TRUNCATED"),
                          f"{name}: expected a decode failure: {q}")
            else:
                want = PROBLEM_TO_ERROR[problem]
                check(not p["ok"] and p["error"] in want, f"{name}: probe {p}, want {want}")
                check(not q["ok"] and q["error"] in want, f"{name}: process {q}, want {want}")
        # The eight orientations: the fiducial (darkest corner by far) ends up top-left.
        dwebp = shutil.which("dwebp")
        check(dwebp is not None, "dwebp (Debian package webp) is needed")
        for o in range(1, 9):
            name = f"ok_o{o}.jpg"
            out = proc[name]["output"]["path"]
            ppm = out + ".ppm"
            subprocess.run([dwebp, "-quiet", out, "-ppm", "-o", ppm], check=True)
            w, h, px = read_ppm(ppm)
            check((w, h) == (800, 600), f"{name}: review is {w}x{h}, want 800x600 upright")
            tl, *others = corner_means(w, h, px)
            check(tl + 20 < min(others), f"{name}: not upright: corners {tl:.0f} {others}")
            check(proc[name]["exif"]["orientation"] == o, f"{name}: {proc[name]['exif']}")
        # The JPEG fallback and the byte budget.
        _, j = run(prep, "process", [files[0]], "--format", "jpeg", "--out", tmp)
        out = j[rows[0][0]]["output"]
        check(out["format"] == "jpeg" and out["path"].endswith(".jpg"), f"jpeg: {out}")
        with open(out["path"], "rb") as f:
            data = f.read()
        check(data[:2] == b"\xff\xd8" and b"\xff\xc2" in data and b"Exif" not in data,
              "a progressive JPEG without EXIF")
        _, b = run(prep, "process", [files[0]], "--max-bytes", "20000")
        out = b[rows[0][0]]["output"]
        check(out["quality"] < 75 and (out["bytes"] <= 20000 or out["quality"] == 30),
              f"byte budget: {out}")
        # The full-resolution QR retry: for a small sheet (its code too small at the DCT scale),
        # read or not; never for a sheet that fills the frame (a code not read there is absent).
        acta = {}
        for name, args in (("big_noqr", []), ("small_qr", ["--qr", "--degrade", "small:0.3"]),
                           ("small_noqr", ["--degrade", "small:0.3"])):
            acta[name] = os.path.join(tmp, name + ".jpg")
            subprocess.run([gen, "--out", acta[name], "--seed", "407", "--clave", "140338B010007",
                            *args], check=True, capture_output=True)
        _, a = run(prep, "process", list(acta.values()), "--jobs", "2")
        big, sq, sn = (a[os.path.basename(acta[n])] for n in ("big_noqr", "small_qr", "small_noqr"))
        check(big["qr"] is None and not big["qr_full_scan"] and big["legibility"]["coverage"] >= 0.4,
              f"a sheet filling the frame gets no full-resolution retry: {big}")
        check(sq["qr"] == "140338B010007" and sq["qr_full_scan"], f"small sheet: {sq}")
        check(sn["qr"] is None and sn["qr_full_scan"], f"small sheet without a code: {sn}")
        # hash: deterministic and different for different pictures.
        _, h1 = run(prep, "hash", [files[0], files[1]])
        _, h2 = run(prep, "hash", [files[0]])
        a, b = h1[rows[0][0]], h1[rows[1][0]]
        check(a["signature"] == h2[rows[0][0]]["signature"], "hash is deterministic")
        check(len(a["sha256"]) == 64 and a["sha256"] != b["sha256"], "sha256")
        # --help and usage errors
        r = subprocess.run([prep, "--help"], capture_output=True, text=True)
        check(r.returncode == 0 and "usage: prep-image" in r.stdout, "--help")
        r = subprocess.run([prep, "frobnicate", files[0]], capture_output=True, text=True)
        check(r.returncode == 2, "unknown command is a usage error")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"test_prep_image: {len(rows)} fixtures, {testlib.failures} failures")
    return 1 if testlib.failures else 0


if __name__ == "__main__":
    sys.exit(main())

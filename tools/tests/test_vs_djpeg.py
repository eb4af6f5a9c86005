#!/usr/bin/env python3
"""Every CMYK, YCCK and arithmetic-coded JPEG among libjpeg-turbo's own test images
(fixtures/libjpeg-turbo/) and the committed fixtures (fixtures/small/) comes out of the pipeline
(prep-image process) as a correct upright WebP: decoded by dwebp, it matches djpeg's decode of
the same JPEG, turned upright by its EXIF orientation here, by luma SSIM >= 0.98 at the same size
and within a few levels in the mean of each of R, G and B (which a luma measure alone would not
see: swapped or inverted channels). Each file is checked at full size and at the DCT scale 4/8
(djpeg -scale 4/8, and a long side the pipeline reaches by DCT scaling alone, so that neither
side resizes). The WebP is encoded at quality 95 (WEBP_QUALITY): at the production 75 the lossy
encoder alone costs these small, noisy images some 0.03 of SSIM, for any JPEG (ok_o1.jpg, plain
YCbCr, scores 0.96), and this test is about the decode; bench/imaging measures the encoder.

djpeg reads every four-component JPEG as Adobe's inverted CMYK, which is right only when the
Adobe APP14 marker is there. A plain (non-Adobe) CMYK fixture is therefore compared with djpeg's
decode of its Adobe twin, the same scene written by acta-gen with the same arguments
(make-small.sh), in TWINS.

usage: test_vs_djpeg.py PREP_IMAGE IMG_SSIM SOURCE_ROOT
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import testlib
from testlib import check, read_ppm

MIN_SSIM = 0.98
MAX_MEAN_SHIFT = 6.0  # levels, per channel
WEBP_QUALITY = 95
TWINS = {"cmyk_plain.jpg": "cmyk.jpg"}
# The files the selection below must find, so that the test cannot pass on an empty list.
EXPECTED = {"testimgari.jpg", "cmyk.jpg", "cmyk_plain.jpg", "ycck.jpg", "ycck_arithmetic.jpg",
            "arithmetic.jpg", "arithmetic_progressive.jpg", "ok_scans_253.jpg"}

def headers(data):
    """SOF marker, component count, Adobe APP14 seen, EXIF orientation (1 without EXIF)."""
    i, sof, comps, adobe, orientation = 2, 0, 0, False, 1
    while i + 4 <= len(data) and data[i] == 0xFF:
        m = data[i + 1]
        if m == 0xFF:
            i += 1
            continue
        if m == 0xDA or m == 0xD9:
            break
        n = struct.unpack(">H", data[i + 2:i + 4])[0]
        seg = data[i + 4:i + 2 + n]
        if 0xC0 <= m <= 0xCF and m not in (0xC4, 0xC8, 0xCC):
            sof, comps = m, seg[5]
        elif m == 0xEE and seg[:5] == b"Adobe":
            adobe = True
        elif m == 0xE1 and seg[:6] == b"Exif\0\0":
            orientation = exif_orientation(seg[6:])
        i += 2 + n
    return sof, comps, adobe, orientation


def exif_orientation(tiff):
    """IFD0's Orientation; 1 when the EXIF is malformed, as the pipeline does."""
    try:
        return exif_orientation_or_raise(tiff)
    except (struct.error, IndexError):
        return 1


def exif_orientation_or_raise(tiff):
    end = "<" if tiff[:2] == b"II" else ">"
    ifd = struct.unpack(end + "I", tiff[4:8])[0]
    count = struct.unpack(end + "H", tiff[ifd:ifd + 2])[0]
    for k in range(count):
        e = ifd + 2 + 12 * k
        tag, typ = struct.unpack(end + "HH", tiff[e:e + 4])
        if tag == 0x0112 and typ == 3:
            return struct.unpack(end + "H", tiff[e + 8:e + 10])[0]
    return 1


def write_ppm(path, w, h, px):
    with open(path, "wb") as f:
        f.write(b"P6\n%d %d\n255\n" % (w, h) + px)


def orient(w, h, px, o):
    """The raster a viewer shows for EXIF orientation |o|: (w, h, px) upright."""
    def at(x, y):
        return px[3 * (y * w + x):3 * (y * w + x) + 3]
    # For each upright pixel (ux, uy): the stored pixel it comes from.
    src = {
        1: (w, h, lambda ux, uy: (ux, uy)),
        2: (w, h, lambda ux, uy: (w - 1 - ux, uy)),
        3: (w, h, lambda ux, uy: (w - 1 - ux, h - 1 - uy)),
        4: (w, h, lambda ux, uy: (ux, h - 1 - uy)),
        5: (h, w, lambda ux, uy: (uy, ux)),
        6: (h, w, lambda ux, uy: (uy, h - 1 - ux)),
        7: (h, w, lambda ux, uy: (w - 1 - uy, h - 1 - ux)),
        8: (h, w, lambda ux, uy: (w - 1 - uy, ux)),
    }[o if 1 <= o <= 8 else 1]
    uw, uh, f = src
    return uw, uh, b"".join(at(*f(ux, uy)) for uy in range(uh) for ux in range(uw))


def channel_means(px):
    n = len(px) // 3
    return [sum(px[c::3]) / n for c in range(3)]


def run(args):
    r = subprocess.run(args, capture_output=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(args), r.returncode,
                                                r.stderr.decode(errors="replace").strip()))
    return r.stdout


def main():
    prep, ssim_tool, root = sys.argv[1:4]
    djpeg, dwebp = shutil.which("djpeg"), shutil.which("dwebp")
    if not djpeg or not dwebp:
        # Not a skip: CI installs both (scripts/lib.sh, libjpeg-turbo-progs and webp).
        print("FAIL: djpeg and dwebp are needed (Debian: libjpeg-turbo-progs, webp)",
              file=sys.stderr)
        return 1
    files = {}
    for sub in ("libjpeg-turbo", "small"):
        d = os.path.join(root, "fixtures", sub)
        for name in sorted(os.listdir(d)):
            if name.endswith(".jpg"):
                files[name] = os.path.join(d, name)
    chosen = []
    for name, path in files.items():
        with open(path, "rb") as f:
            try:
                sof, comps, adobe, o = headers(f.read())
            except (struct.error, IndexError):
                continue  # the broken fixtures of the manifest; none has four components
        if comps == 4 or sof in (0xC9, 0xCA):
            chosen.append((name, path, sof, comps, adobe, o))
    names = {c[0] for c in chosen}
    check(EXPECTED <= names, "not found: %s" % sorted(EXPECTED - names))

    tmp = tempfile.mkdtemp(prefix="vs-djpeg.")
    try:
        for name, path, sof, comps, adobe, o in chosen:
            ref_name = name
            if comps == 4 and not adobe:
                check(name in TWINS, "%s: plain CMYK without an Adobe twin in TWINS" % name)
                ref_name = TWINS.get(name, name)
            ref_path = files[ref_name]
            with open(ref_path, "rb") as f:
                ref_o = headers(f.read())[3]
            for num in (8, 4):
                tag = "%s@%d/8" % (name, num)
                try:
                    ppm = os.path.join(tmp, "ref.ppm")
                    with open(ppm, "wb") as f:
                        f.write(run([djpeg, "-scale", "%d/8" % num, "-ppm", ref_path]))
                    rw, rh, rpx = orient(*read_ppm(ppm), ref_o)
                    write_ppm(ppm, rw, rh, rpx)
                    out = os.path.join(tmp, "out")
                    shutil.rmtree(out, ignore_errors=True)
                    os.mkdir(out)
                    # The long side djpeg's scale gives is one the DCT scale reaches exactly.
                    res = json.loads(run([prep, "process", "--json", "--quiet", "--no-analyse",
                                          "--quality", str(WEBP_QUALITY), "--long-side", str(max(rw, rh)), "--out", out, path]))
                    check(res.get("ok") is True, "%s: refused: %s" % (tag, res))
                    webp = os.path.join(out, os.path.splitext(name)[0] + ".webp")
                    cand = os.path.join(tmp, "cand.ppm")
                    run([dwebp, "-quiet", webp, "-ppm", "-o", cand])
                    cw, ch, cpx = read_ppm(cand)
                    check((cw, ch) == (rw, rh),
                          "%s: WebP is %dx%d, djpeg upright %dx%d" % (tag, cw, ch, rw, rh))
                    if (cw, ch) != (rw, rh):
                        continue
                    ssim = float(run([ssim_tool, ppm, cand]).split()[0])
                    shift = max(abs(a - b) for a, b in zip(channel_means(rpx),
                                                           channel_means(cpx)))
                    print("%-34s SOF%X %d comp%s orientation %d %dx%d  SSIM %.4f  "
                          "mean shift %.2f%s" % (tag, sof - 0xC0, comps,
                                                 " Adobe" if adobe else "", o, cw, ch, ssim,
                                                 shift,
                                                 "" if ref_name == name else
                                                 "  (reference %s)" % ref_name))
                    check(ssim >= MIN_SSIM, "%s: SSIM %.4f < %.2f" % (tag, ssim, MIN_SSIM))
                    check(shift <= MAX_MEAN_SHIFT,
                          "%s: a channel mean is %.2f levels off" % (tag, shift))
                except (RuntimeError, ValueError, OSError) as e:
                    check(False, "%s: %s" % (tag, e))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d files, %d failures" % (len(chosen), testlib.failures))
    return 1 if testlib.failures else 0


if __name__ == "__main__":
    sys.exit(main())

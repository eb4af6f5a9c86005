#!/usr/bin/env python3
"""docs/imaging.md documents the thresholds and limits the code uses: every row of its
threshold table names a #define of imaging/ and gives its value; they must be equal, and every
calibrated threshold of legibility.h and dup.h must be in the table.

usage: test_thresholds.py SOURCE_ROOT
"""
import os
import re
import sys


def defines(path):
    out = {}
    for m in re.finditer(r"^#define (IMG_[A-Z_]+)\s+\(?([0-9.]+)u?", open(path).read(), re.M):
        out[m.group(1)] = float(m.group(2))
    return out


def main():
    root = sys.argv[1]
    code = {}
    for h in ("legibility.h", "dup.h", "img_limits.h", "process.h", "qr.h", "webp.h"):
        code.update(defines(os.path.join(root, "imaging", h)))
    doc = open(os.path.join(root, "docs", "imaging.md")).read()
    rows = re.findall(r"^\| `(IMG_[A-Z_]+)` \| ([0-9][0-9,.]*) \|", doc, re.M)
    failures = 0
    seen = set()
    for name, value in rows:
        seen.add(name)
        v = float(value.replace(",", ""))
        if name not in code:
            print(f"FAIL: docs/imaging.md lists {name}, which imaging/ does not define")
            failures += 1
        elif code[name] != v:
            print(f"FAIL: {name} is {code[name]:g} in the code, {v:g} in docs/imaging.md")
            failures += 1
    required = [n for n in code if n.startswith(("IMG_LEG_", "IMG_DUP_")) and
                not n.startswith(("IMG_LEG_BLURRY", "IMG_LEG_DARK", "IMG_LEG_BRIGHT",
                                  "IMG_LEG_GLARE", "IMG_LEG_SMALL", "IMG_LEG_NO_SHEET",
                                  "IMG_DUP_HEX_LEN", "IMG_DUP_THUMB", "IMG_DUP_INK_"))]
    required = [n for n in required if n not in ("IMG_LEG_GLARE_MAX",)] + ["IMG_LEG_GLARE_MAX"]
    for name in required:
        if name not in seen:
            print(f"FAIL: {name} is not documented in docs/imaging.md's threshold table")
            failures += 1
    print(f"test_thresholds: {len(rows)} documented values, {failures} failures")
    return 1 if failures or not rows else 0


if __name__ == "__main__":
    sys.exit(main())

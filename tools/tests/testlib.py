"""What the tools' tests share: soft checks that count failures, and reading the binary PPM (P6,
maxval 255) files that acta-gen and djpeg write."""

import sys

failures = 0


def check(cond, msg):
    """Counts and reports a failed |cond|; the test goes on and exits 1 at the end."""
    global failures
    if not cond:
        failures += 1
        print("FAIL:", msg, file=sys.stderr)


def read_ppm(path):
    """(width, height, RGB bytes) of the P6 file |path|."""
    with open(path, "rb") as f:
        data = f.read()
    fields, pos = [], 0
    while len(fields) < 4:
        while data[pos:pos + 1].isspace():
            pos += 1
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    assert fields[0] == b"P6" and fields[3] == b"255", path
    w, h = int(fields[1]), int(fields[2])
    return w, h, data[pos + 1:pos + 1 + 3 * w * h]

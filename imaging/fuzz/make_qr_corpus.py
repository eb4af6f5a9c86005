#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_qr (see the layout in fuzz_qr.c) into corpus/qr/.

Codes are drawn with libqrencode (through ctypes, as imaging/tests/test_qr.c draws them in C), so
the corpus holds images zbar really reads, next to near misses and degenerate ones. Run it from
anywhere; the output is deterministic and committed.
"""
import ctypes
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "qr")
BLACK, WHITE = 15, 235


class QRcode(ctypes.Structure):
    _fields_ = [("version", ctypes.c_int), ("width", ctypes.c_int),
                ("data", ctypes.POINTER(ctypes.c_ubyte))]


def modules(text):
    lib = ctypes.CDLL("libqrencode.so.4")
    lib.QRcode_encodeString.restype = ctypes.POINTER(QRcode)
    lib.QRcode_encodeString.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_int,
                                        ctypes.c_int, ctypes.c_int]
    lib.QRcode_free.argtypes = [ctypes.POINTER(QRcode)]
    q = lib.QRcode_encodeString(text.encode(), 0, 1, 2, 1)  # QR_ECLEVEL_M, QR_MODE_8
    n = q.contents.width
    rows = [[q.contents.data[j * n + i] & 1 for i in range(n)] for j in range(n)]
    lib.QRcode_free(q)
    return rows


def header(rgb, cell, cw, ch, rect):
    return bytes([(1 if rgb else 0) | (cell - 1) << 1]) + struct.pack(">HHHHHH", cw - 1, ch - 1,
                                                                     *rect)


def qr_seed(text, rgb=False, cell=3, quiet=4):
    m = modules(text)
    n = len(m) + 2 * quiet
    cells = bytearray()
    for j in range(n):
        for i in range(n):
            mj, mi = j - quiet, i - quiet
            dark = 0 <= mj < len(m) and 0 <= mi < len(m) and m[mj][mi]
            cells += bytes([BLACK if dark else WHITE]) * (3 if rgb else 1)
    return header(rgb, cell, n, n, (0, 0, 0xFFFF, 0xFFFF)) + bytes(cells)


def main():
    os.makedirs(OUT, exist_ok=True)
    seeds = {
        "qr_gray": qr_seed("140338B010002"),
        "qr_rgb": qr_seed("240101C0102", rgb=True, cell=4),
        # Non-ASCII payload: printed as '?'.
        "qr_binary": qr_seed("clave\x01\x7f\u00e9"),
        # A code with no quiet zone, and one cropped through its middle.
        "qr_no_quiet": qr_seed("140338B010002", quiet=0),
        "qr_cropped": qr_seed("140338B010002")[:13 + 29 * 15],
        "blank": header(False, 1, 64, 64, (0, 0, 64, 64)),
        "one_pixel": header(False, 1, 1, 1, (0, 0, 1, 1)) + b"\x00",
        "origin_outside": header(True, 2, 8, 8, (100, 0, 4, 4)) + bytes(range(192)),
        "stripes": header(False, 2, 60, 60, (5, 5, 50, 50)) + bytes(
            (0 if (i // 3) % 2 else 255) for i in range(3600)),
    }
    for name, data in seeds.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_h2 into corpus/h2/: client frame sequences as they follow the
preface and SETTINGS that fuzz_h2.c sends first. Headers are HPACK literals without indexing
(RFC 7541 section 6.2.2) and a few static-table entries, so each seed is easy to read back here.
The output is deterministic and committed; run it from anywhere.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "h2")

DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, \
    CONTINUATION = range(10)
END_STREAM, ACK, END_HEADERS, PADDED, PRIO = 0x1, 0x1, 0x4, 0x8, 0x20


def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", stream) + payload


def hpack_int(value, prefix_bits, first=0):
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = bytearray([first | limit])
    value -= limit
    while value >= 128:
        out.append(value % 128 + 128)
        value //= 128
    out.append(value)
    return bytes(out)


def hpack_str(s):
    b = s.encode() if isinstance(s, str) else s
    return hpack_int(len(b), 7) + b


def block(fields):
    out = bytearray()
    for name, value in fields:
        out += b"\x00" + hpack_str(name) + hpack_str(value)
    return bytes(out)


def request(method, path, extra=()):
    return block([(":method", method), (":scheme", "http"), (":authority", "gw"),
                  (":path", path)] + list(extra))


def settings(*pairs):
    return frame(SETTINGS, 0, 0, b"".join(struct.pack(">HI", k, v) for k, v in pairs))


def window_update(stream, inc):
    return frame(WINDOW_UPDATE, 0, stream, struct.pack(">I", inc))


def seeds():
    get = request("GET", "/healthz")
    post = request("POST", "/body", [("content-type", "application/json"),
                                     ("content-length", "17")])
    upload = request("POST", "/upload/v1/actas/140338B010002/photos",
                     [("content-type", "image/jpeg"), ("content-length", "10000"),
                      ("signature", "sig1=:AAAA:")])
    yield "get_healthz", frame(HEADERS, END_STREAM | END_HEADERS, 1, get)
    yield "get_static_table", frame(HEADERS, END_STREAM | END_HEADERS, 1,
                                    bytes([0x82, 0x86, 0x84]) + block([(":authority", "gw")]))
    yield "post_body", frame(HEADERS, END_HEADERS, 1, post) + \
        frame(DATA, 0, 1, b'{"decision":') + frame(DATA, END_STREAM, 1, b'"ok"}')
    yield "post_too_large", frame(HEADERS, END_HEADERS, 3, request(
        "POST", "/body", [("content-length", "5000")])) + frame(DATA, END_STREAM, 3, b"x" * 5000)
    yield "continuation", frame(HEADERS, END_STREAM, 1, get[:10]) + \
        frame(CONTINUATION, 0, 1, get[10:20]) + frame(CONTINUATION, END_HEADERS, 1, get[20:])
    yield "rst_stream", frame(HEADERS, END_HEADERS, 1, upload) + \
        frame(DATA, 0, 1, b"\xff\xd8" + b"\x00" * 1000) + \
        frame(RST_STREAM, 0, 1, struct.pack(">I", 8)) + \
        frame(HEADERS, END_STREAM | END_HEADERS, 3, get)
    yield "upload_refused", frame(HEADERS, END_HEADERS, 1, upload) + \
        b"".join(frame(DATA, 0, 1, b"\x55" * 2000) for _ in range(4)) + \
        frame(DATA, END_STREAM, 1, b"\x55" * 2000)
    yield "ping", frame(PING, 0, 0, b"12345678") + frame(PING, ACK, 0, b"abcdefgh") + \
        frame(HEADERS, END_STREAM | END_HEADERS, 1, get) + frame(PING, 0, 0, b"87654321")
    yield "window_update", window_update(0, 1 << 20) + \
        frame(HEADERS, END_STREAM | END_HEADERS, 1, request("GET", "/events")) + \
        window_update(1, 65535) + frame(HEADERS, END_STREAM | END_HEADERS, 3, get)
    # A stream window past 2^31 - 1 (a stream error), then an increment of 0 (a connection one).
    yield "window_update_bad", frame(HEADERS, END_STREAM | END_HEADERS, 1, get) + \
        window_update(1, 0x7fffffff) + window_update(0, 0)
    yield "settings_odd", settings((1, 0), (2, 1), (3, 0), (4, 0), (5, 16384), (6, 1),
                                   (0xff, 7)) + frame(SETTINGS, ACK, 0) + \
        settings((4, 0x7fffffff), (5, 0xffffff)) + \
        frame(HEADERS, END_STREAM | END_HEADERS, 1, get)
    yield "priority_padded", frame(PRIORITY, 0, 5, struct.pack(">IB", 0, 16)) + \
        frame(HEADERS, END_STREAM | END_HEADERS | PADDED | PRIO, 1,
              bytes([4]) + struct.pack(">IB", 0, 200) + get + b"\x00" * 4)
    yield "many_streams", b"".join(
        frame(HEADERS, END_STREAM | END_HEADERS, sid, request("GET", "/nothing/%d" % sid))
        for sid in range(1, 40, 2))
    big = request("GET", "/healthz", [("cookie", "a" * 40000), ("x-" + "n" * 200, "v")])
    yield "big_header", frame(HEADERS, END_STREAM, 1, big[:16000]) + \
        frame(CONTINUATION, 0, 1, big[16000:32000]) + \
        frame(CONTINUATION, END_HEADERS, 1, big[32000:]) + \
        frame(HEADERS, END_STREAM | END_HEADERS, 3, get)
    yield "long_path", frame(HEADERS, END_STREAM | END_HEADERS, 1,
                             request("GET", "/" + "p" * 700))
    yield "goaway", frame(HEADERS, END_STREAM | END_HEADERS, 1, get) + \
        frame(GOAWAY, 0, 0, struct.pack(">II", 1, 0) + b"bye")
    yield "push_promise", frame(PUSH_PROMISE, END_HEADERS, 1, struct.pack(">I", 2) + get)
    yield "half_closed_data", frame(HEADERS, END_STREAM | END_HEADERS, 1, get) + \
        frame(DATA, 0, 1, b"late")


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in seeds():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()

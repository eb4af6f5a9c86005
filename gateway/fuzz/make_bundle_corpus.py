#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_bundle into corpus/bundle/: small evidence bundles in the exact
ustar form of docs/evidence.md, whose statement and checkpoint are signed with a fixed Ed25519
key (so that mutations get past the signature to every later check), and a few broken ones.
The photo members are stand-ins (a few bytes), so the receipt check is where the valid seed
stops. Needs python3-cryptography. The output is deterministic and committed.
"""
import base64
import hashlib
import json
import os

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "bundle")
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
PUB = KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
FP = hashlib.sha256(PUB).hexdigest()
CLAVE = "140338B010002"
PHOTO = "2a0c5f34-edd9-8cf6-bf96-9a4677690cbd"
TIME = "2026-12-07T01:58:30.870+00:00"


def header(name, size):
    h = bytearray(512)
    h[0:len(name)] = name.encode()
    h[100:108] = b"0000644\0"
    h[108:116] = b"0000000\0"
    h[116:124] = b"0000000\0"
    h[124:136] = b"%011o\0" % size
    h[136:148] = b"%011o\0" % 1765072710
    h[156] = ord("0")
    h[257:263] = b"ustar\0"
    h[263:265] = b"00"
    h[148:156] = b" " * 8
    h[148:156] = b"%06o\0 " % sum(h)
    return bytes(h)


def tar(members):
    out = b""
    for name, data in members:
        out += header(name, len(data)) + data + bytes(-len(data) % 512)
    return out + bytes(1024)


def bundle(extra=()):
    cp = f"prep-casilla checkpoint v2\nlength=1\nhead={'a' * 64}\nroot={'b' * 64}\ntime={TIME}\n"
    cp += f"gateway_key={FP}\nsignature={base64.b64encode(KEY.sign(cp.encode())).decode()}\n"
    members = [
        ("keys/gateway.pub", base64.b64encode(PUB) + b"\n"),
        ("checkpoint.txt", cp.encode()),
        ("acta.json", json.dumps({"version": 1, "clave": CLAVE, "photos": [
            {"photo_id": PHOTO, "review_sha256": None}]}).encode() + b"\n"),
        ("decisions.json", json.dumps({"version": 1, "clave": CLAVE, "review": [
            {"photo_id": PHOTO, "decision": "accept", "username": "ana",
             "decided_at": TIME}], "capture": []}).encode() + b"\n"),
        (f"photos/{PHOTO}/receipt.json", b'{"photo_id":"%s"}\n' % PHOTO.encode()),
        (f"photos/{PHOTO}/original.jpg", b"\xff\xd8\xff\xd9"),
        *extra,
    ]
    st = f"prep-casilla evidence v1\nclave={CLAVE}\ncreated={TIME}\ngateway_key={FP}\n"
    for name, data in members:
        st += f"member={hashlib.sha256(data).hexdigest()} {len(data)} {name}\n"
    sig = base64.b64encode(KEY.sign(st.encode())) + b"\n"
    return tar([("evidence.txt", st.encode()), ("evidence.sig", sig), *members])


def main():
    os.makedirs(OUT, exist_ok=True)
    good = bundle()
    seeds = {
        "signed.tar": good,
        "signature-record.tar": bundle([(f"photos/{PHOTO}/signature.json", json.dumps({
            "method": "POST", "path": f"/v1/actas/{CLAVE}/photos",
            "signature-input": 'sig1=("@method" "@path" "content-digest");created=1;'
                               'nonce="n";keyid="d";alg="ed25519"',
            "signature": "sig1=:" + "A" * 86 + "==:",
            "content-digest": "sha-256=:" + "A" * 43 + "=:"}).encode())]),
        "empty.tar": bytes(1024),
        "cut.tar": good[:len(good) // 2],
    }
    for name, data in seeds.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()

"""Evidence bundles (docs/evidence.md): `prep-gateway evidence CLAVE --out FILE` of an acta
uploaded with prep-upload (signed, resumable and plain), reviewed by a clerk and captured twice
by two capturists (docs/capture.md), checked offline
by `prep-upload verify-bundle`; one flipped byte in any member, or in the archive's own bytes,
fails with a message naming the part; an unknown clave is a clear error; a resumable upload
finished after a gateway restart keeps the device's signature (EvidenceResumedTest). The Merkle tree head of
`ledger checkpoint` and the bundle's inclusion proofs are also recomputed here in Python, from
the text of docs/evidence.md alone, as a third party's verifier would."""

import hashlib
import json
import os
import subprocess
import tarfile

from harness import (CLAVE, GatewayTestCase, SignedTestCase, curl_request, read_bytes,
                     upload_path)
from test_client import ClientHelpers

PASSWORD = "una-clave-muy-larga"
ELECTION = os.path.join(os.environ.get("PREP_FIXTURES", "fixtures"), "elections",
                        "jalisco-2021-diputaciones-locales.json")
# A capture of every field of the fixture's acta type 02: 1 vote each, total 16.
FIGURES = {f: 1 for f in ("pan", "pri", "prd", "pvem", "pt", "mc", "morena", "pes", "rsp", "fxm",
                          "hagamos", "futuro", "pt_morena", "ind_1", "no_registrados", "nulos")}
FIGURES["total"] = len(FIGURES)


def h(data):
    return hashlib.sha256(data).digest()


def mth(leaves):
    """RFC 9162 tree head of already hashed leaves."""
    if not leaves:
        return h(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return h(b"\x01" + mth(leaves[:k]) + mth(leaves[k:]))


def root_from_path(index, size, leaf, path):
    """RFC 9162 section 2.1.3.2: the root an audit path leads to, or None."""
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = h(b"\x01" + p + r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = h(b"\x01" + r + p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


class EvidenceTest(ClientHelpers, GatewayTestCase):
    open_uploads = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for name, role in (("ana", "clerk"), ("cap1", "capturist"), ("cap2", "capturist")):
            cls.env.user_add(cls.conninfo, name, role, PASSWORD)
        p = subprocess.run([cls.env.gateway, "election", "import", ELECTION, "--db",
                            cls.conninfo], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=60)
        if p.returncode != 0:
            raise AssertionError(f"election import: {p.stderr.decode()}")
        cls.bundle = None

    def evidence(self, clave, out, *extra):
        return self.gateway_cli("evidence", clave, "--out", out, "--data", self.data_dir,
                                "--db", self.conninfo, *extra)

    def verify(self, path, *extra):
        return self.cli("verify-bundle", path, *extra)

    def make_bundle(self):
        """An acta with two signed photos (one resumable, one plain), one accepted by a clerk."""
        cls = type(self)
        if cls.bundle:
            return cls.bundle
        state = self.device()
        first = os.path.join(self.env.fixtures, "small", "ok_o1.jpg")
        second = self.env.gen_acta(seed=777)
        rc, lines, err = self.send(state, first)
        self.assertEqual(rc, 0, f"{lines}\n{err}")
        rc, more, err = self.send(state, second, extra=("--no-resume",))
        self.assertEqual(rc, 0, f"{more}\n{err}")
        ids = [lines[0]["photo_id"], more[0]["photo_id"]]
        for pid in ids:
            self.wait_status(pid, "queued", timeout=60)
        r = self.login("ana", PASSWORD)
        self.assertEqual(r.status, 200, r)
        auth = "Authorization: Bearer " + r.json()["token"]
        r = self.request("POST", "/v1/review/claim", [auth], client="curl-h2c")
        self.assertEqual(r.status, 200, r)
        doc = r.json()
        body = json.dumps({"lease_token": doc["lease_token"], "decision": "accept"}).encode()
        r = self.request("POST", f"/v1/review/{doc['photo_id']}/decision",
                         [auth, "Content-Type: application/json"], body, client="curl-h2c")
        self.assertEqual(r.status, 200, r)
        # Two capturists capture the accepted acta alike: it is captured, and both captures are
        # decisions of the bundle.
        for user in ("cap1", "cap2"):
            r = self.login(user, PASSWORD)
            self.assertEqual(r.status, 200, r)
            cap = "Authorization: Bearer " + r.json()["token"]
            r = self.request("POST", "/v1/capture/claim", [cap], client="curl-h2c")
            self.assertEqual(r.status, 200, r)
            claim = r.json()
            self.assertEqual(claim["photo_id"], doc["photo_id"])
            body = json.dumps({"lease_token": claim["lease_token"], "figures": FIGURES}).encode()
            r = self.request("POST", f"/v1/capture/{doc['photo_id']}/figures",
                             [cap, "Content-Type: application/json"], body, client="curl-h2c")
            self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json().get("state"), "captured", r.json())
        out = os.path.join(self.env.tmp, f"{self.db}-bundle.tar")
        rc, text, err = self.evidence(CLAVE, out, "--json")
        self.assertEqual(rc, 0, text + err)
        summary = json.loads(text)
        self.assertEqual((summary["photos"], summary["review_decisions"]), (2, 1), summary)
        cls.bundle = (out, ids, doc["photo_id"])
        return cls.bundle

    def test_1_bundle_verifies(self):
        out, ids, reviewed = self.make_bundle()
        rc, text, err = self.verify(out, "--pubkey", self.gateway_pubkey()["public_key"])
        self.assertEqual(rc, 0, text + err)
        self.assertTrue(text.startswith("VALID "), text)
        for pid in ids:
            self.assertIn(f"photos/{pid}/original.jpg", text)
        self.assertIn("is byte for byte what device", text)
        self.assertIn("as ledger entry", text)
        self.assertIn("is in the checkpoint of length", text)
        self.assertIn(f"review: accept of photo {reviewed} by ana", text)
        for user in ("cap1", "cap2"):
            self.assertIn(f"capture: blind (round 1) of photo {reviewed} by {user} at ", text)
        self.assertIn("2 capture decision(s)", text)
        # Without --pubkey the bundle's own key is used, and its fingerprint printed to compare.
        rc, text, err = self.verify(out)
        self.assertEqual(rc, 0, text + err)
        self.assertIn(self.gateway_pubkey()["fingerprint"], text)
        # Another gateway key given: refused, naming the key.
        other = "A" * 43 + "="
        rc, text, err = self.verify(out, "--pubkey", other)
        self.assertEqual(rc, 1, text + err)
        self.assertIn("keys/gateway.pub", text)

    def test_2_layout_and_proofs_by_the_document(self):
        """What docs/evidence.md says, checked with Python's tarfile and hashlib only."""
        out, ids, _ = self.make_bundle()
        with tarfile.open(out) as t:
            names = t.getnames()
            data = {m.name: t.extractfile(m).read() for m in t.getmembers()}
        self.assertEqual(names[:2], ["evidence.txt", "evidence.sig"])
        for name in ("keys/gateway.pub", "checkpoint.txt", "acta.json", "decisions.json"):
            self.assertIn(name, names)
        decisions = json.loads(data["decisions.json"])
        caps = decisions["capture"]
        self.assertEqual([(c["kind"], c["round"], c["username"]) for c in caps],
                         [("blind", 1, "cap1"), ("blind", 1, "cap2")], caps)
        for c in caps:
            self.assertEqual((c["figures"], c["sum_votes"], c["contabilizada"]),
                             (FIGURES, FIGURES["total"], True), c)
        lines = data["evidence.txt"].decode().splitlines()
        listed = {}
        for line in lines[4:]:
            digest, size, name = line[len("member="):].split(" ", 2)
            listed[name] = (digest, int(size))
        self.assertEqual(set(listed), set(names[2:]))
        for name, (digest, size) in listed.items():
            self.assertEqual((hashlib.sha256(data[name]).hexdigest(), len(data[name])),
                             (digest, size), name)
        cp = dict(l.split("=", 1) for l in data["checkpoint.txt"].decode().splitlines()[1:])
        with open(os.path.join(self.data_dir, "ledger.jsonl")) as f:
            entries = [json.loads(l) for l in f]
        leaves = [h(b"\x00" + bytes.fromhex(e["hash"])) for e in entries]
        self.assertEqual(int(cp["length"]), len(entries))
        self.assertEqual(cp["root"], mth(leaves).hex())
        for pid in ids:
            entry = data[f"photos/{pid}/ledger-entry.txt"]
            proof = json.loads(data[f"photos/{pid}/inclusion.json"])
            leaf = h(b"\x00" + h(entry))
            self.assertEqual(proof["leaf_hash"], leaf.hex())
            got = root_from_path(proof["leaf_index"], proof["tree_size"], leaf,
                                 [bytes.fromhex(p) for p in proof["path"]])
            self.assertEqual(got.hex() if got else None, cp["root"], pid)
            sig = json.loads(data[f"photos/{pid}/signature.json"])
            self.assertEqual(sig["path"], f"/v1/actas/{CLAVE}/photos")
        # `ledger checkpoint` says the same tree head.
        rc, text, err = self.gateway_cli("ledger", "checkpoint", "--data", self.data_dir,
                                         "--json")
        self.assertEqual(rc, 0, err)
        doc = json.loads(text)
        self.assertEqual((doc["version"], doc["root"]), (2, mth(leaves).hex()))

    def flipped(self, raw, offset, label):
        bad = bytearray(raw)
        if offset is not None:
            bad[offset] ^= 0x01
        path = os.path.join(self.env.tmp, f"{self.db}-flip-{label}.tar")
        with open(path, "wb") as f:
            f.write(bad)
        return path

    def test_3_one_flipped_byte_names_the_part(self):
        out, _, _ = self.make_bundle()
        with open(out, "rb") as f:
            raw = f.read()
        with tarfile.open(out) as t:
            members = t.getmembers()
        for i, m in enumerate(members):
            path = self.flipped(raw, m.offset_data + m.size // 2, str(i))
            rc, text, err = self.verify(path)
            self.assertEqual(rc, 1, f"flipping a byte of {m.name} went unnoticed: {text}{err}")
            self.assertTrue(text.startswith("INVALID "), text)
            self.assertIn(m.name, text, f"the message does not name {m.name}")
        # The archive itself: a header byte (name, size, checksum), a member's zero padding,
        # and the end-of-archive blocks.
        last = members[-1]
        end = last.offset_data + (last.size + 511) // 512 * 512
        padded = next(m for m in members if m.size % 512)
        for label, offset in (("name", members[3].offset + 5), ("size", members[2].offset + 130),
                              ("chksum", members[1].offset + 150),
                              ("padding", padded.offset_data + padded.size),
                              ("end", end + 100)):
            path = self.flipped(raw, offset, label)
            rc, text, err = self.verify(path)
            self.assertEqual(rc, 1, f"flipping the archive's {label} went unnoticed: {text}")
            self.assertIn("the archive", text, label)
        # Cut short (a copy that did not finish), at a block boundary and in a member.
        for cut in (members[-1].offset, len(raw) // 2):
            rc, text, err = self.verify(self.flipped(raw[:cut], None, f"cut-{cut}"))
            self.assertEqual(rc, 1, text)
            self.assertIn("the archive", text)

    def test_4_unknown_clave_and_usage(self):
        out = os.path.join(self.env.tmp, f"{self.db}-none.tar")
        rc, text, err = self.evidence("140338B010099", out)
        self.assertEqual(rc, 1, text + err)
        self.assertIn("no photo of acta 140338B010099", err)
        self.assertFalse(os.path.exists(out))
        rc, text, err = self.evidence("not-a-clave", out)
        self.assertEqual(rc, 2, text + err)
        rc, text, err = self.gateway_cli("evidence", "--help")
        self.assertEqual(rc, 0, err)
        self.assertIn("--out FILE", text)
        rc, text, err = self.verify(os.path.join(self.env.tmp, "no-such-bundle.tar"))
        self.assertEqual(rc, 1, text + err)


class EvidenceResumedTest(SignedTestCase):
    """A resumable upload cut by a SIGKILL of the gateway and finished after its restart: the
    creating POST's signature was kept in the upload's state, reaches spool/signatures/ at the
    end, and the bundle proves the device signed the photo."""

    def test_resumed_upload_keeps_its_signature(self):
        photo = self.env.gen_acta(seed=2718)
        data = read_bytes(photo)
        third = len(data) // 3
        head = os.path.join(self.env.tmp, f"{self.db}-head.bin")
        tail = os.path.join(self.env.tmp, f"{self.db}-tail.bin")
        with open(head, "wb") as f:
            f.write(data[:third])
        with open(tail, "wb") as f:
            f.write(data[third:])
        hdrs = self.headers(photo) + ["Content-Type: image/jpeg", "Upload-Complete: ?0",
                                      f"Upload-Length: {len(data)}"]
        r = curl_request(self.gw, "POST", upload_path(), head, hdrs)
        self.assertEqual(r.status, 201, r)
        location = r.headers["location"]
        self.gw.kill()
        self.gw.start()
        r = curl_request(self.gw, "PATCH", location, tail,
                         ["Content-Type: application/partial-upload",
                          f"Upload-Offset: {third}", "Upload-Complete: ?1"])
        self.assertIn(r.status, (200, 201), r)
        pid = r.json()["photo_id"]
        with open(os.path.join(self.data_dir, "spool", "signatures", pid + ".json")) as f:
            record = json.load(f)
        self.assertEqual((record["method"], record["path"]), ("POST", upload_path()))
        self.wait_status(pid, "queued", timeout=60)
        out = os.path.join(self.env.tmp, f"{self.db}-resumed.tar")
        p = subprocess.run([self.env.gateway, "evidence", CLAVE, "--out", out, "--data",
                            self.data_dir, "--db", self.conninfo], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        p = subprocess.run([os.environ["PREP_UPLOAD"], "verify-bundle", out],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        text = p.stdout.decode()
        self.assertEqual(p.returncode, 0, text + p.stderr.decode())
        self.assertIn(f"is byte for byte what device {self.device}", text)
        self.assertIn("0 review decision(s)", text)

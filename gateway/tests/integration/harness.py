#!/usr/bin/python3
"""Black-box integration harness for prep-gateway.

Each test class gets its own PostgreSQL database (in the cluster that ./test.sh started), runs
`prep-gateway migrate` on it and starts `prep-gateway serve` on free ports with a fresh data
directory. Tests talk to the gateway only the way phones and clerks do: over HTTP/2 with curl,
nghttp and h2load, plus read-only looks at the database and the data directory to check that
nothing was stored where nothing should be.

A gateway that crashes, or prints AddressSanitizer/UBSan/LeakSanitizer output, fails the test
during which it happened (checked after every test) and, for what only shows at exit (leaks),
the class's teardown.

Run through ./test.sh, which sets the environment:
  PREP_GATEWAY     the prep-gateway binary under test
  PREP_ACTA_GEN    the fixture generator (fixtures/gen/acta_gen.c)
  PREP_FIXTURES    the repository's fixtures/ (manifest.tsv, small/)
  PREP_SCHEMA      the repository's schema/
  PREP_PG_SOCKDIR  PREP_PG_PORT   the cluster's unix socket (user `prep`, trust)
  PREP_TMP         scratch directory
  PREP_TLS_CERT    PREP_TLS_KEY   optional; a certificate is made with openssl otherwise

As a program, it is the runner: `harness.py [-k PATTERN]...` runs every test_*.py beside it,
prints `PASS name` or `FAIL name` per test and ends with `integration: N passed, N failed`.
Skipped tests count as failed: nothing is skipped silently.
"""

import fnmatch
import hashlib
import importlib
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import unittest
import uuid
from datetime import datetime, timedelta, timezone

CLAVE = "140338B010002"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
RFC3339_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
SANITIZER_MARKS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",
    "SUMMARY: UndefinedBehaviorSanitizer",
    "AddressSanitizer:DEADLYSIGNAL",
)
HEALTH_TIMEOUT = 20.0
HARNESS_PASSWORD = "harness-clerk-password"
# Every gateway this process started, so that an interrupted run stops them all.
_GATEWAYS = []


def upload_path(clave=CLAVE):
    return f"/v1/actas/{clave}/photos"


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


# --- environment -------------------------------------------------------------------------------

class Env:
    """The run's configuration, read from the environment once."""

    _instance = None

    def __init__(self):
        missing = [n for n in ("PREP_GATEWAY", "PREP_FIXTURES", "PREP_SCHEMA", "PREP_PG_SOCKDIR",
                               "PREP_PG_PORT", "PREP_TMP") if not os.environ.get(n)]
        if missing:
            raise RuntimeError("environment not set (run through ./test.sh): " + " ".join(missing))
        self.gateway = os.environ["PREP_GATEWAY"]
        self.acta_gen = os.environ.get("PREP_ACTA_GEN", "")
        self.fixtures = os.environ["PREP_FIXTURES"]
        self.schema = os.environ["PREP_SCHEMA"]
        self.pg_sockdir = os.environ["PREP_PG_SOCKDIR"]
        self.pg_port = os.environ["PREP_PG_PORT"]
        self.tmp = os.environ["PREP_TMP"]
        os.makedirs(self.tmp, exist_ok=True)
        if not os.access(self.gateway, os.X_OK):
            raise RuntimeError(f"PREP_GATEWAY={self.gateway} is not an executable (not built?)")
        bindir = "/usr/lib/postgresql/15/bin"
        have = os.path.isdir(bindir)
        self.psql_bin = os.path.join(bindir, "psql") if have else "psql"
        self.createdb_bin = os.path.join(bindir, "createdb") if have else "createdb"
        self.cert = os.environ.get("PREP_TLS_CERT")
        self.key = os.environ.get("PREP_TLS_KEY")
        if not (self.cert and self.key):
            self.cert, self.key = self._make_cert()
        self._gen_cache = {}

    @classmethod
    def get(cls):
        if cls._instance is None:
            cls._instance = Env()
        return cls._instance

    def _make_cert(self):
        d = os.path.join(self.tmp, "tls")
        cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        if not os.path.exists(key):
            os.makedirs(d, exist_ok=True)
            run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                 "ec_paramgen_curve:P-256", "-nodes", "-days", "30", "-subj", "/CN=localhost",
                 "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                 "-keyout", key, "-out", cert])
        return cert, key

    def conninfo(self, dbname):
        return f"host={self.pg_sockdir} port={self.pg_port} user=prep dbname={dbname}"

    def create_db(self, label):
        name = re.sub(r"[^a-z0-9_]", "_", f"it_{label}_{os.getpid()}".lower())[:60]
        run([self.psql_bin, "-h", self.pg_sockdir, "-p", self.pg_port, "-U", "prep", "-d",
             "postgres", "-XAtq", "-c", f'DROP DATABASE IF EXISTS "{name}"'])
        run([self.createdb_bin, "-h", self.pg_sockdir, "-p", self.pg_port, "-U", "prep", name])
        return name

    def psql(self, dbname, sql):
        """Runs |sql| and returns its rows as lists of strings."""
        out = run([self.psql_bin, "-h", self.pg_sockdir, "-p", self.pg_port, "-U", "prep",
                   "-d", dbname, "-XAtq", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql])
        return [line.split("\t") for line in out.decode().splitlines() if line != ""]

    def user_add(self, conninfo, username, role, password):
        """Creates an account with `prep-gateway user add` (the password on stdin)."""
        p = subprocess.run([self.gateway, "user", "add", username, "--role", role,
                            "--db", conninfo], input=(password + "\n").encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        out = p.stdout.decode(errors="replace")
        if p.returncode != 0 or sanitizer_findings(out):
            raise AssertionError(f"prep-gateway user add failed (exit {p.returncode}):\n{out}")
        return out

    def migrate(self, conninfo):
        p = subprocess.run([self.gateway, "migrate", "--db", conninfo, "--schema", self.schema],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        out = p.stdout.decode(errors="replace")
        if p.returncode != 0 or sanitizer_findings(out):
            raise AssertionError(f"prep-gateway migrate failed (exit {p.returncode}):\n{out}")

    def gen_acta(self, **opts):
        """Generates (once per set of options) an acta JPEG and returns its path.

        Options map to acta-gen flags: seed, clave, orientation, width, height, quality, noise,
        progressive (bool), gray (bool)."""
        if not self.acta_gen or not os.access(self.acta_gen, os.X_OK):
            raise AssertionError(f"PREP_ACTA_GEN={self.acta_gen!r} is not an executable")
        key = tuple(sorted(opts.items()))
        if key in self._gen_cache:
            return self._gen_cache[key]
        args = []
        for k, v in sorted(opts.items()):
            if isinstance(v, bool):
                if v:
                    args.append("--" + k)
            else:
                args += ["--" + k, str(v)]
        name = "acta-" + hashlib.sha1(repr(key).encode()).hexdigest()[:12] + ".jpg"
        out = os.path.join(self.tmp, name)
        run([self.acta_gen, "--out", out] + args, timeout=300)
        self._gen_cache[key] = out
        return out

    def manifest(self):
        """fixtures/manifest.tsv as a list of dicts (columns of its header line)."""
        path = os.path.join(self.fixtures, "manifest.tsv")
        with open(path, encoding="utf-8") as f:
            lines = [l.rstrip("\n") for l in f if l.strip() and not l.startswith("#")]
        header = lines[0].split("\t")
        want = ["file", "http_status", "problem_type", "final_status", "description"]
        if header[:len(want)] != want:
            raise AssertionError(f"{path}: unexpected header {header}")
        rows = []
        for n, line in enumerate(lines[1:], start=2):
            cells = line.split("\t")
            if len(cells) < 4:
                raise AssertionError(f"{path}:{n}: too few columns: {line!r}")
            row = dict(zip(header, cells))
            row["path"] = os.path.join(self.fixtures, "small", row["file"])
            row["http_status"] = int(row["http_status"])
            rows.append(row)
        if not rows:
            raise AssertionError(f"{path}: no fixtures listed")
        return rows


def run(cmd, timeout=120, input=None):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                       input=input)
    if p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed (exit {p.returncode}):\n"
                             f"{p.stderr.decode(errors='replace')}")
    return p.stdout


def free_ports(n):
    """|n| distinct TCP ports that were free a moment ago on 127.0.0.1."""
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def sanitizer_findings(text):
    return [m for m in SANITIZER_MARKS if m in text]


# --- the gateway process -----------------------------------------------------------------------

class Gateway:
    """One `prep-gateway serve`, restartable on the same data directory and database."""

    def __init__(self, env, conninfo, data_dir, extra_args=(), label="gw", environ=None):
        self.env = env
        self.environ = dict(environ or {})  # added to the gateway's environment
        self.conninfo = conninfo
        self.data_dir = data_dir
        self.extra_args = list(extra_args)
        self.label = label
        self.proc = None
        self.logs = []          # stderr files of every start, checked at the end
        self.h2c_port = self.tls_port = None
        self.exits = []         # (log, returncode, expected) of every stop

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def url(self, path, tls=False):
        if tls:
            return f"https://127.0.0.1:{self.tls_port}{path}"
        return f"http://127.0.0.1:{self.h2c_port}{path}"

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, conninfo=None, extra_args=None):
        assert not self.alive(), "gateway already running"
        if conninfo is not None:
            self.conninfo = conninfo
        if extra_args is not None:
            self.extra_args = list(extra_args)
        self.h2c_port, self.tls_port = free_ports(2)
        log = os.path.join(self.env.tmp, f"{self.label}-{len(self.logs) + 1}.stderr")
        self.logs.append(log)
        cmd = [self.env.gateway, "serve",
               "--h2c", f"127.0.0.1:{self.h2c_port}", "--tls", f"127.0.0.1:{self.tls_port}",
               "--cert", self.env.cert, "--key", self.env.key,
               "--db", self.conninfo, "--data", self.data_dir,
               # A stop waits for requests in flight; the suites' own stops need not wait long.
               "--shutdown-timeout", "10",
               # Every client of the suites is 127.0.0.1, opening a connection per request, and
               # many send faster than a phone, as one device: test_hardening checks these
               # limits on gateways of its own.
               "--conn-rate-per-address", "0", "--request-rate-per-address", "0",
               "--request-rate-per-device", "0"] + self.extra_args
        with open(log, "wb") as f:
            f.write(("# " + " ".join(cmd) + "\n").encode())
            f.flush()
            # Own session: a Ctrl-C on the terminal reaches the runner, which stops us in order.
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=f, stderr=f,
                                         env={**os.environ, **self.environ},
                                         start_new_session=True)
        _GATEWAYS.append(self)
        pids = os.path.join(self.env.tmp, "gateway.pids")
        with open(pids, "a") as f:
            f.write(f"{self.proc.pid}\n")
        self._wait_healthy()
        return self

    def _wait_healthy(self):
        deadline = time.monotonic() + HEALTH_TIMEOUT
        last = ""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"gateway exited with {self.proc.returncode} while starting:\n"
                                     + self.stderr_tail())
            p = subprocess.run(["curl", "--http2-prior-knowledge", "-s", "-o", "/dev/null",
                                "-w", "%{http_code}", "--max-time", "2",
                                self.url("/healthz")], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL)
            last = p.stdout.decode()
            if last == "200":
                return
            time.sleep(0.1)
        self.stop(expect_clean=False)
        raise AssertionError(f"gateway not healthy within {HEALTH_TIMEOUT:.0f} s "
                             f"(last /healthz status {last!r}):\n" + self.stderr_tail())

    def stderr_text(self, which=-1):
        try:
            with open(self.logs[which], "rb") as f:
                return f.read().decode(errors="replace")
        except (IndexError, OSError):
            return ""

    def stderr_tail(self, lines=60):
        return "\n".join(self.stderr_text().splitlines()[-lines:])

    def stop(self, sig=signal.SIGTERM, timeout=30, expect_clean=True):
        """Stops the gateway with |sig| and returns its exit status (None if not running).
        With |expect_clean| the exit must be 0, which check() verifies."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
            self.exits.append((self.logs[-1], f"did not exit within {timeout} s of {sig!s}", True))
            return rc
        self.exits.append((self.logs[-1], rc, expect_clean))
        return rc

    def kill(self):
        """SIGKILL, as a crash or power loss would; not counted against the gateway."""
        return self.stop(signal.SIGKILL, expect_clean=False)

    def problems(self):
        """Crashes, unclean exits and sanitizer reports seen so far, as readable strings."""
        out = []
        if self.proc is not None and self.proc.poll() is not None and \
                not any(e[0] == self.logs[-1] for e in self.exits):
            out.append(f"gateway died unexpectedly (exit {self.proc.returncode})")
            self.exits.append((self.logs[-1], self.proc.returncode, True))
        for log, rc, expect_clean in self.exits:
            if expect_clean and rc != 0:
                out.append(f"gateway exit status {rc} ({log})")
        for i, log in enumerate(self.logs):
            text = self.stderr_text(i)
            found = sanitizer_findings(text)
            if found:
                # The report itself, which may sit in an earlier log than the last one.
                start = min(text.find(m) for m in found)
                excerpt = "\n".join(text[text.rfind("\n", 0, start) + 1:].splitlines()[:40])
                out.append(f"sanitizer output {found} in {log}:\n{excerpt}")
        return out


def stop_all_gateways():
    for gw in _GATEWAYS:
        try:
            gw.stop(timeout=10)
        except Exception:  # noqa: BLE001 - best effort on the way out
            pass


# --- HTTP clients ------------------------------------------------------------------------------

class Response:
    def __init__(self, status, headers, body, http_version="", raw=""):
        self.status = status
        self.headers = headers      # lower-case name -> value (last one wins)
        self.body = body
        self.http_version = http_version
        self.raw = raw              # client diagnostics, for failure messages

    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise AssertionError(f"response body is not JSON ({e}): {self.body[:300]!r}") from None

    def __repr__(self):
        return (f"<HTTP/{self.http_version} {self.status} {self.headers} "
                f"{self.body[:300]!r} {self.raw[-500:]}>")


def parse_curl_headers(text):
    # -D writes one block per response (informational ones first): keep the last block.
    blocks = [b for b in re.split(r"\r?\n\r?\n", text) if b.strip()]
    headers = {}
    if not blocks:
        return headers
    for line in blocks[-1].splitlines()[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return headers


def curl_request(gw, method, path, data_file=None, headers=(), tls=False, timeout=120):
    tmp = gw.env.tmp
    with tempfile.NamedTemporaryFile(dir=tmp, delete=False) as hf, \
            tempfile.NamedTemporaryFile(dir=tmp, delete=False) as bf:
        hdr_path, body_path = hf.name, bf.name
    cmd = ["curl", "-sS", "--max-time", str(timeout), "-X", method, "-D", hdr_path,
           "-o", body_path, "-w", "%{http_code} %{http_version}"]
    if tls:
        cmd += ["--http2", "-k", gw.url(path, tls=True)]
    else:
        cmd += ["--http2-prior-knowledge", gw.url(path)]
    if data_file is not None:
        cmd += ["--data-binary", "@" + data_file]
    for h in headers:
        cmd += ["-H", h]
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout + 10)
        code, _, version = p.stdout.decode().partition(" ")
        with open(hdr_path, "rb") as f:
            hdrs = parse_curl_headers(f.read().decode("latin-1"))
        body = read_bytes(body_path)
    finally:
        os.unlink(hdr_path)
        os.unlink(body_path)
    status = int(code) if code.isdigit() else 0
    return Response(status, hdrs, body, version,
                    f"curl exit {p.returncode}: {p.stderr.decode(errors='replace')}")


def nghttp_request(gw, path, data_file=None, headers=(), timeout=120, method=None):
    """A request with nghttp over h2c: POST when |data_file| is given, else GET, unless
    |method| overrides it."""
    cmd = ["nghttp", "-v"]
    if data_file is not None:
        cmd += ["-d", data_file]
    if method is not None:
        cmd += ["-H", f":method: {method}"]
    for h in headers:
        cmd += ["-H", h]
    cmd.append(gw.url(path))
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    out = p.stdout.decode("latin-1")
    status, hdrs, status_pos = 0, {}, -1
    for m in re.finditer(r"recv \(stream_id=\d+\) (:?[!-9;-~]+): (.*)", out):
        name, value = m.group(1).lower(), m.group(2).rstrip("\r")
        if name == ":status":
            status, status_pos = int(value), m.end()
        elif not name.startswith(":"):
            hdrs[name] = value
    # With -v the body is printed between the frame log lines: the JSON after the headers.
    body = b""
    if status_pos >= 0:
        dec = json.JSONDecoder()
        i = out.find("{", status_pos)
        while i >= 0:
            try:
                obj, end = dec.raw_decode(out, i)
                body = out[i:end].encode("latin-1")
                break
            except ValueError:
                i = out.find("{", i + 1)
    return Response(status, hdrs, body, "2", f"nghttp exit {p.returncode}:\n{out[-3000:]}")


# --- images ------------------------------------------------------------------------------------

def jpeg_dimensions(data):
    """(width, height) from the first SOFn marker of a JPEG as stored (before EXIF rotation)."""
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            i += 1
            continue
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
            i += 2 if marker != 0xFF else 1
            continue
        (seglen,) = struct.unpack(">H", data[i + 2:i + 4])
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE,
                      0xCF):
            h, w = struct.unpack(">HH", data[i + 5:i + 9])
            return w, h
        i += 2 + seglen
    raise AssertionError("no SOF marker in JPEG")


def png_size(path):
    """(width, height) of the PNG file |path| (the browser tests' screenshots)."""
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        raise AssertionError(f"{path} is not a PNG")
    return struct.unpack(">II", head[16:24])


def webp_dimensions(data):
    """(width, height) from a WebP file's header (VP8, VP8L or VP8X)."""
    if len(data) < 30 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise AssertionError(f"not a WebP file: {data[:16]!r}")
    chunk = data[12:16]
    if chunk == b"VP8X":
        w = 1 + int.from_bytes(data[24:27], "little")
        h = 1 + int.from_bytes(data[27:30], "little")
    elif chunk == b"VP8 ":
        if data[23:26] != b"\x9d\x01\x2a":
            raise AssertionError("bad VP8 start code")
        w, h = struct.unpack("<HH", data[26:30])
        w, h = w & 0x3FFF, h & 0x3FFF
    elif chunk == b"VP8L":
        if data[20] != 0x2F:
            raise AssertionError("bad VP8L signature")
        bits = int.from_bytes(data[21:25], "little")
        w, h = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    else:
        raise AssertionError(f"unknown WebP chunk {chunk!r}")
    return w, h


def webp_luma(env, data):
    """Decodes WebP |data| with `dwebp -pgm` and returns (width, height, luma plane bytes).

    dwebp -pgm writes the raw YUV 4:2:0 planes as one grey image: width W and height
    H + (H+1)/2, the luma plane in the first H rows."""
    w, h = webp_dimensions(data)
    fd, src = tempfile.mkstemp(suffix=".webp", dir=env.tmp)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    dst = src[:-5] + ".pgm"
    try:
        run(["dwebp", src, "-pgm", "-o", dst])
        pgm = read_bytes(dst)
    finally:
        for p in (src, dst):
            if os.path.exists(p):
                os.unlink(p)
    m = re.match(rb"P5\s+(\d+)\s+(\d+)\s+255\s", pgm)
    if not m:
        raise AssertionError(f"dwebp -pgm output is not a PGM: {pgm[:20]!r}")
    pw, ph = int(m.group(1)), int(m.group(2))
    if pw != w or ph != h + (h + 1) // 2:
        raise AssertionError(f"PGM {pw}x{ph} does not match WebP {w}x{h}")
    return w, h, pgm[m.end():m.end() + w * h]


def corner_means(w, h, luma, frac=0.12):
    """Mean luma of the four corner regions, each |frac| of the width and of the height."""
    rw, rh = max(1, int(w * frac)), max(1, int(h * frac))

    def mean(x0, y0):
        total = 0
        for y in range(y0, y0 + rh):
            row = luma[y * w + x0:y * w + x0 + rw]
            total += sum(row)
        return total / (rw * rh)

    return {"top-left": mean(0, 0), "top-right": mean(w - rw, 0),
            "bottom-left": mean(0, h - rh), "bottom-right": mean(w - rw, h - rh)}


def upright_problem(w, h, luma, margin=8.0):
    """None when the fiducial (darkest corner) is top-left by |margin| levels, else why not."""
    means = corner_means(w, h, luma)
    tl = means["top-left"]
    others = min(v for k, v in means.items() if k != "top-left")
    if tl + margin <= others:
        return None
    darkest = min(means, key=means.get)
    return (f"not upright: darkest corner is {darkest}; corner means "
            + ", ".join(f"{k}={v:.1f}" for k, v in means.items()))


# --- the test case base ------------------------------------------------------------------------

class GatewayTestCase(unittest.TestCase):
    """A class's tests share one database and one gateway (started in setUpClass)."""

    gateway_args = ()   # extra `serve` arguments for this class
    gateway_env = {}    # extra environment variables of its gateway
    # Most suites upload unsigned photos: the gateway must be told to accept them. The
    # provenance suites set this to False and sign every upload.
    open_uploads = True
    # The client of upload() and request() unless a call names one. Some refusal suites use
    # nghttp, which reports every frame; curl reads refusals too (test_refusal_curl).
    client = "curl-h2c"
    status_timeout = 5.0

    @classmethod
    def setUpClass(cls):
        cls.env = Env.get()
        cls.db = cls.env.create_db(cls.__name__)
        cls.conninfo = cls.env.conninfo(cls.db)
        cls.env.migrate(cls.conninfo)
        # Review images are for clerks: the harness has one (see clerk_auth).
        cls.env.user_add(cls.conninfo, "harness-clerk", "clerk", HARNESS_PASSWORD)
        cls._clerk_auth = None
        cls.data_dir = tempfile.mkdtemp(prefix=cls.__name__ + "-data-", dir=cls.env.tmp)
        args = tuple(cls.gateway_args)
        if cls.open_uploads:
            args += ("--insecure-open-uploads",)
        cls.gw = Gateway(cls.env, cls.conninfo, cls.data_dir, args, label=cls.__name__,
                         environ=cls.gateway_env)
        cls.gw.start()

    @classmethod
    def tearDownClass(cls):
        gw = getattr(cls, "gw", None)
        if gw is None:
            return
        gw.stop()
        new = cls._new_problems()
        if new:
            raise AssertionError("gateway problems:\n" + "\n".join(new) +
                                 "\n--- gateway stderr (tail) ---\n" + gw.stderr_tail())

    @classmethod
    def _new_problems(cls):
        """Problems of the gateway not reported yet (each is reported once, where first seen)."""
        reported = cls.__dict__.get("_reported")
        if reported is None:
            reported = cls._reported = set()
        new = [p for p in cls.gw.problems() if p not in reported]
        reported.update(new)
        return new

    def setUp(self):
        # A gateway that died in an earlier test (which failed for it) is restarted, so that one
        # crash does not fail every later test for the same reason.
        if not self.gw.alive():
            self.gw.start()

    def tearDown(self):
        new = self._new_problems()
        if new:
            self.fail("gateway problems during this test:\n" + "\n".join(new) +
                      "\n--- gateway stderr (tail) ---\n" + self.gw.stderr_tail())

    # -- requests --

    def _body_file(self, src):
        if isinstance(src, (bytes, bytearray)):
            fd, path = tempfile.mkstemp(suffix=".bin", dir=self.env.tmp)
            with os.fdopen(fd, "wb") as f:
                f.write(src)
            return path
        return src

    def upload(self, src, clave=CLAVE, client=None, content_type="image/jpeg",
               headers=(), timeout=120):
        """POSTs |src| (a path or bytes) to /v1/actas/|clave|/photos.

        |client| is "curl-h2c", "curl-tls" or "nghttp" (default: the class's |client|);
        |content_type| None sends none. Returns a Response (status, headers, body)."""
        client = client or self.client
        path = self._body_file(src)
        hdrs = list(headers)
        if client == "nghttp":
            if content_type is not None:
                hdrs.append(f"content-type: {content_type}")
            return nghttp_request(self.gw, upload_path(clave), path, hdrs, timeout=timeout)
        # curl would add its own form Content-Type: an empty value removes it.
        hdrs.append(f"Content-Type: {content_type}" if content_type is not None else
                    "Content-Type:")
        if client not in ("curl-h2c", "curl-tls"):
            raise ValueError(client)
        return curl_request(self.gw, "POST", upload_path(clave), path, hdrs,
                            tls=client == "curl-tls", timeout=timeout)

    def request(self, method, path, headers=(), data=None, client=None):
        """|method| |path| with an optional body |data| (bytes or a path)."""
        client = client or self.client
        body = None if data is None else self._body_file(data)
        if client == "nghttp":
            return nghttp_request(self.gw, path, body, headers, method=method)
        return curl_request(self.gw, method, path, body, headers, tls=client == "curl-tls")

    def get(self, path, headers=(), auth=True):
        """GET |path|; review images carry the harness clerk's session unless |auth| is False."""
        if auth and path.endswith("/review.webp"):
            headers = [*headers, self.clerk_auth()]
        return curl_request(self.gw, "GET", path, headers=headers)

    def login(self, username, password):
        """POST /v1/login; returns the Response."""
        body = json.dumps({"username": username, "password": password}).encode()
        return self.request("POST", "/v1/login", ["Content-Type: application/json"], body,
                            client="curl-h2c")

    # -- the JSON API as named users (review, capture, export suites) --

    users_password = "una-clave-muy-larga"  # of the users a suite adds with env.user_add()

    def session(self, name):
        """{'token', 'csrf_token', ...} of a login of |name|, made once per class."""
        sessions = type(self).__dict__.get("_sessions")
        if sessions is None:
            sessions = type(self)._sessions = {}
        if name not in sessions:
            r = self.login(name, self.users_password)
            self.assertEqual(r.status, 200, r)
            doc = r.json()
            self.assertIn("prep_session=" + doc["token"], r.headers.get("set-cookie", ""))
            sessions[name] = doc
        return sessions[name]

    def api(self, method, path, user=None, body=None, headers=()):
        """|method| |path| with |body| as JSON, as |user| (a bearer token) or anonymous."""
        hdrs = list(headers)
        if user:
            hdrs.append("Authorization: Bearer " + self.session(user)["token"])
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            hdrs.append("Content-Type: application/json")
        return self.request(method, path, hdrs, data, client="curl-h2c")

    def accept_upload(self, photo, clave, clerk):
        """Uploads |photo| for |clave|, waits until it is queued, and has |clerk| claim it and
        accept it through the review API; returns its photo_id."""
        r = self.upload(photo, clave=clave)
        self.assertEqual(r.status, 201, r)
        pid = r.json()["photo_id"]
        self.wait_status(pid, "queued")
        claim = self.api("POST", "/v1/review/claim", clerk)
        self.assertEqual(claim.status, 200, claim)
        self.assertEqual(claim.json()["photo_id"], pid)
        r = self.api("POST", f"/v1/review/{pid}/decision", clerk,
                     {"lease_token": claim.json()["lease_token"], "decision": "accept"})
        self.assertEqual(r.status, 200, r)
        return pid

    def browser(self):
        """PREP_PLAYWRIGHT_DIR, once it is checked to hold playwright-core and Chromium is there
        (./test.sh installs both)."""
        pw_dir = os.environ.get("PREP_PLAYWRIGHT_DIR", "")
        self.assertTrue(os.path.isdir(os.path.join(pw_dir, "node_modules", "playwright-core")),
                        f"PREP_PLAYWRIGHT_DIR={pw_dir!r} has no playwright-core (./test.sh "
                        "installs it)")
        self.assertTrue(os.access("/usr/bin/chromium", os.X_OK), "no /usr/bin/chromium")
        return pw_dir

    def run_e2e(self, script, args, timeout=300):
        """Runs the node |script| (gateway/tests/e2e/*.mjs) with |args| against playwright-core
        and Chromium, with a fresh HOME, and returns its last stdout line as JSON after checking
        it says ok and the exit status is 0 (its stderr, its progress, goes in the failure)."""
        pw_dir = self.browser()
        profile = tempfile.mkdtemp(prefix="chromium-", dir=self.env.tmp)
        env = dict(os.environ, PREP_PLAYWRIGHT_DIR=pw_dir, HOME=profile)
        name = os.path.basename(script)
        proc = subprocess.Popen(["node", script, *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env)
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
            self.fail(f"{name} hung; its progress:\n{stderr.decode()[-3000:]}")
        lines = stdout.decode(errors="replace").strip().splitlines()
        self.assertTrue(lines, f"{name}: no output (exit {proc.returncode}): "
                               f"{stderr.decode()[-3000:]}")
        res = json.loads(lines[-1])
        self.assertTrue(res.get("ok"), f"{name}: {res.get('error')}\n{stderr.decode()[-3000:]}")
        self.assertEqual(proc.returncode, 0, res)
        return res

    def clerk_auth(self):
        """The `Authorization: Bearer` header of the harness clerk's session."""
        cls = type(self)
        if cls._clerk_auth is None:
            r = self.login("harness-clerk", HARNESS_PASSWORD)
            self.assertEqual(r.status, 200, f"harness clerk login: {r!r}")
            cls._clerk_auth = "Authorization: Bearer " + r.json()["token"]
        return cls._clerk_auth

    def get_json(self, path):
        """(status, parsed body) of GET |path|."""
        r = self.get(path)
        return r.status, r.json()

    def wait_status(self, photo_id, want, timeout=None):
        """Polls GET /v1/photos/|photo_id| until its status is |want|; returns the document.
        Fails at once on a final status that is not |want|."""
        timeout = self.status_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        doc, status = None, None
        while True:
            r = self.get(f"/v1/photos/{photo_id}")
            if r.status == 200:
                doc = r.json()
                status = doc.get("status")
                if status == want:
                    return doc
                if status in ("queued", "failed"):
                    self.fail(f"photo {photo_id} ended {status!r}, wanted {want!r}: {doc}")
            if time.monotonic() > deadline:
                self.fail(f"photo {photo_id} not {want!r} within {timeout} s; last: "
                          f"HTTP {r.status} {doc if doc else r.body[:300]!r}")
            time.sleep(0.1)

    def psql(self, sql):
        return self.env.psql(self.db, sql)

    def photo_rows(self, photo_id=None):
        if photo_id is None:
            return int(self.psql("SELECT count(*) FROM photos")[0][0])
        return int(self.psql(f"SELECT count(*) FROM photos WHERE photo_id = '{photo_id}'")[0][0])

    def data_files(self, subdirs=("spool", "store")):
        """Relative paths of the files under DATA/<subdir> for each of |subdirs|."""
        found = set()
        for sub in subdirs:
            top = os.path.join(self.data_dir, sub)
            for root, _, files in os.walk(top):
                for name in files:
                    found.add(os.path.relpath(os.path.join(root, name), self.data_dir))
        return found

    # -- assertions --

    def assertProblem(self, r, status, type_name=None):
        self.assertEqual(r.status, status, f"wanted HTTP {status}: {r!r}")
        ctype = r.headers.get("content-type", "")
        self.assertTrue(ctype.startswith("application/problem+json"),
                        f"problem Content-Type, got {ctype!r}: {r!r}")
        doc = r.json()
        if type_name is not None:
            self.assertEqual(doc.get("type"), f"/problems/{type_name}", f"problem type: {doc}")
        self.assertEqual(doc.get("status"), status, f"problem status member: {doc}")
        self.assertIsInstance(doc.get("title"), str, f"problem title: {doc}")
        # Every answer names its request, as its log line does (test_errors.RequestIdTest).
        self.assertRegex(str(doc.get("request_id")), r"^[0-9a-f]{24}$", f"request_id: {doc}")
        if r.headers:
            self.assertEqual(r.headers.get("request-id"), doc["request_id"], f"{r!r}")
        return doc

    def assertReceipt(self, receipt, data, clave=CLAVE):
        self.assertIsInstance(receipt, dict)
        self.assertRegex(str(receipt.get("photo_id")), UUID_RE, f"photo_id: {receipt}")
        self.assertEqual(receipt.get("clave_acta"), clave, f"clave_acta: {receipt}")
        self.assertEqual(receipt.get("sha256"), sha256_hex(data), f"sha256: {receipt}")
        self.assertEqual(receipt.get("bytes"), len(data), f"bytes: {receipt}")
        self.assertEqual(receipt.get("status"), "received", f"status: {receipt}")
        when = str(receipt.get("received_at"))
        self.assertRegex(when, RFC3339_RE, f"received_at is not RFC 3339 with offset: {receipt}")
        ts = datetime.fromisoformat(when.replace("Z", "+00:00"))
        self.assertIsNotNone(ts.tzinfo)
        now = datetime.now(timezone.utc)
        self.assertLess(abs(now - ts), timedelta(minutes=10), f"received_at far from now: {when}")

    def assertCreated(self, r, data, clave=CLAVE):
        """A 201 with Location and a valid receipt for |data|; returns the receipt."""
        self.assertEqual(r.status, 201, f"wanted 201 Created: {r!r}")
        receipt = r.json()
        self.assertReceipt(receipt, data, clave)
        self.assertEqual(r.headers.get("location"), f"/v1/photos/{receipt['photo_id']}",
                         f"Location header: {r.headers}")
        return receipt

    def fetch_review(self, photo_id):
        """GET review.webp; checks the ETag; returns (response, webp bytes)."""
        r = self.get(f"/v1/photos/{photo_id}/review.webp")
        self.assertEqual(r.status, 200, f"review.webp: {r!r}")
        self.assertEqual(r.headers.get("etag"), f'"{sha256_hex(r.body)}"',
                         "review.webp ETag must be the quoted SHA-256 of its bytes")
        return r, r.body

    def assertUprightReview(self, photo_id, long_side):
        """review.webp exists, its long side is |long_side| and the fiducial is top-left."""
        _, webp = self.fetch_review(photo_id)
        w, h, luma = webp_luma(self.env, webp)
        self.assertEqual(max(w, h), long_side, f"review is {w}x{h}")
        problem = upright_problem(w, h, luma)
        if problem:
            self.fail(f"review of {photo_id} ({w}x{h}): {problem}")
        return w, h


# --- the runner --------------------------------------------------------------------------------

def scripts_lib(*cmd, timeout=120, label="test"):
    """Runs a shell line with scripts/lib.sh loaded (its PostgreSQL helpers handle root) and
    returns its output; fails on a non-zero exit."""
    root = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                         ".."))
    p = subprocess.run(["bash", "-c", f". {root}/scripts/lib.sh; " + " ".join(cmd)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                       env=dict(os.environ, PREP_LOG_PREFIX=label))
    assert p.returncode == 0, p.stderr.decode()
    return p.stdout.decode().strip()


def private_pg(mode, pg_data, pg_sock, pg_port, label="test"):
    """Starts a test's own PostgreSQL cluster (|mode| "start") or stops it with pg_ctl -m |mode|
    (fast, immediate)."""
    if mode == "start":
        scripts_lib("prep_pg_start", pg_data, pg_sock, pg_port, label=label)
    else:
        scripts_lib('prep_pg_run "$(prep_pg_bindir)/pg_ctl" -D', f"'{pg_data}'", "-m", mode,
                    "-w -t 60 stop >/dev/null", label=label)


class TmpfsDataTestCase(GatewayTestCase):
    """A gateway whose data folder is a tmpfs of |tmpfs_size| mounted for the class, so that a
    test can fill the disk. Needs root (./test.sh runs as root); without it the class fails."""

    tmpfs_size = "40m"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.gw.stop()
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={cls.tmpfs_size}", "tmpfs",
                            cls.data_dir], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if p.returncode != 0:
            raise AssertionError("this test needs root to mount a tmpfs: " + p.stdout.decode())
        cls.mounted = True
        cls.gw.start()

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            if getattr(cls, "mounted", False):
                subprocess.run(["umount", "-l", cls.data_dir])


class SignedTestCase(GatewayTestCase):
    """A gateway that takes only signed uploads, and one device enrolled for |actas| with a key
    made by sign-request (PREP_SIGN_REQUEST, set by ./test.sh): |signer|, |key|, |pub|,
    |device|."""

    open_uploads = False
    actas = "140338B01*"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.signer = os.environ["PREP_SIGN_REQUEST"]
        cls.key = os.path.join(cls.env.tmp, f"{cls.db}-device.pem")
        cls.pub = subprocess.run([cls.signer, "genkey", cls.key], check=True,
                                 stdout=subprocess.PIPE).stdout.decode().strip()
        cls.device = cls.enrol(cls.new_code(cls.actas), cls.pub)["device_id"]
        # A photo is refused unless the device record reached the gateway's copy.
        time.sleep(0.5)

    @classmethod
    def cli(cls, *args):
        p = subprocess.run([cls.env.gateway, *args, "--db", cls.conninfo],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        assert p.returncode == 0, p.stderr.decode()
        return p.stdout.decode()

    @classmethod
    def new_code(cls, actas):
        out = cls.cli("device", "code", "--label", "casilla 0338 B", "--actas", actas,
                      "--expires", "1h", "--json")
        return json.loads(out)["code"]

    @classmethod
    def enrol_raw(cls, code, pub):
        body = os.path.join(cls.env.tmp, f"{cls.db}-enrol-{uuid.uuid4().hex}.json")
        with open(body, "w") as f:
            json.dump({"code": code, "public_key": pub, "label": "test phone"}, f)
        p = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "-X", "POST",
                            "-H", "Content-Type: application/json", "--data-binary", "@" + body,
                            "-w", "\n%{http_code}", cls.gw.url("/v1/devices")],
                           stdout=subprocess.PIPE, timeout=30)
        text, _, code = p.stdout.decode().rpartition("\n")
        return int(code), json.loads(text) if text else {}

    @classmethod
    def enrol(cls, code, pub):
        status, doc = cls.enrol_raw(code, pub)
        assert status == 201, (status, doc)
        return doc

    def headers(self, path_or_data, clave=CLAVE, key=None, keyid=None, **opts):
        """The signature header lines of an upload of |path_or_data| for |clave|."""
        args = [self.signer, "sign", key or self.key, keyid or self.device, upload_path(clave),
                self._body_file(path_or_data)]
        for k, v in opts.items():
            args += ["--" + k.replace("_", "-"), str(v)]
        out = subprocess.run(args, check=True, stdout=subprocess.PIPE).stdout.decode()
        return [line for line in out.splitlines() if line]

    def signed(self, src, clave=CLAVE, hdrs=None, **opts):
        """A signed upload of |src| for |clave| with nghttp."""
        hdrs = hdrs if hdrs is not None else self.headers(src, clave, **opts)
        return nghttp_request(self.gw, upload_path(clave), self._body_file(src),
                              hdrs + ["content-type: image/jpeg"])


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout("test timed out")


def _interrupt(signum, frame):
    raise KeyboardInterrupt()


def _outcome(result):
    """('PASS'|'FAIL'|'SKIP', detail) of a one-test TestResult."""
    bad = [t for _, t in result.errors + result.failures]
    if bad:
        return "FAIL", "\n".join(bad)
    if result.unexpectedSuccesses:
        return "FAIL", "unexpected success of a test marked expectedFailure"
    if result.skipped:
        reason = result.skipped[0][1]
        # Only a skip that says it is expected is not a failure.
        if reason.startswith("expected:"):
            return "SKIP", reason
        return "FAIL", f"skipped: {reason} (skips count as failures)"
    return "PASS", ""


def _matches(name, patterns):
    if not patterns:
        return True
    for p in patterns:
        if any(c in p for c in "*?["):
            if fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(name, f"*{p}*"):
                return True
        elif p in name:
            return True
    return False


def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(description="Runs the prep-gateway integration tests.")
    ap.add_argument("-k", action="append", default=[], metavar="PATTERN",
                    help="only tests whose module.Class.method contains PATTERN (or matches "
                         "it as a glob); may be repeated")
    ap.add_argument("--timeout", type=int, default=int(os.environ.get("PREP_TEST_TIMEOUT", 600)),
                    help="seconds per test and per class set-up (default 600)")
    args = ap.parse_args(argv)

    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)
    # Run as a program this file is __main__, while the tests import it as `harness`: the
    # gateways they start are in that module's registry.
    registry = importlib.import_module("harness")
    signal.signal(signal.SIGALRM, _alarm)
    signal.signal(signal.SIGTERM, _interrupt)
    passed = failed = 0

    def report(verdict, name, seconds=None, detail=""):
        nonlocal passed, failed
        took = f" ({seconds:.1f}s)" if seconds is not None else ""
        print(f"{verdict} {name}{took}", flush=True)
        if detail:
            print("    " + detail.rstrip().replace("\n", "\n    "), flush=True)
        if verdict == "PASS":
            passed += 1
        elif verdict == "FAIL":
            failed += 1

    loader = unittest.TestLoader()
    try:
        for fname in sorted(os.listdir(here)):
            if not (fname.startswith("test_") and fname.endswith(".py")):
                continue
            modname = fname[:-3]
            try:
                mod = importlib.import_module(modname)
            except Exception:  # noqa: BLE001 - reported as a failure
                if _matches(modname, args.k):
                    report("FAIL", f"{modname} (import)", detail=traceback.format_exc())
                continue
            classes = [c for c in vars(mod).values()
                       if isinstance(c, type) and issubclass(c, unittest.TestCase)
                       and c.__module__ == modname]
            for cls in classes:
                names = [n for n in loader.getTestCaseNames(cls)
                         if _matches(f"{modname}.{cls.__name__}.{n}", args.k)]
                if not names:
                    continue
                prefix = f"{modname}.{cls.__name__}"
                t0 = time.monotonic()
                try:
                    signal.alarm(args.timeout)
                    cls.setUpClass()
                    signal.alarm(0)
                except (Exception, _Timeout):  # noqa: BLE001
                    signal.alarm(0)
                    detail = "class set-up failed:\n" + traceback.format_exc()
                    for n in names:
                        report("FAIL", f"{prefix}.{n}", detail=detail)
                        detail = "class set-up failed (see above)"
                    try:
                        cls.tearDownClass()
                    except Exception:  # noqa: BLE001 - the set-up failure is reported
                        pass
                    continue
                for n in names:
                    result = unittest.TestResult()
                    t0 = time.monotonic()
                    signal.alarm(args.timeout)
                    try:
                        cls(n).run(result)
                    except _Timeout:
                        result.errors.append((None, f"timed out after {args.timeout} s"))
                    finally:
                        signal.alarm(0)
                    verdict, detail = _outcome(result)
                    gw = getattr(cls, "gw", None)
                    if verdict == "FAIL" and gw is not None and gw.logs:
                        # What the gateway said last is most of a post-mortem in CI.
                        detail += "\n--- gateway stderr (last 15 lines) ---\n" + "\n".join(
                            line[:300] for line in gw.stderr_text().splitlines()[-15:])
                    report(verdict, f"{prefix}.{n}", time.monotonic() - t0, detail)
                try:
                    cls.tearDownClass()
                except Exception:  # noqa: BLE001
                    report("FAIL", f"{prefix} (class teardown)", detail=traceback.format_exc())
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        failed += 1
    finally:
        registry.stop_all_gateways()

    if passed + failed == 0:
        print("no test matched" + (f" {args.k}" if args.k else ""), flush=True)
        failed += 1
    print(f"integration: {passed} passed, {failed} failed", flush=True)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

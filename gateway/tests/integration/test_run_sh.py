"""./run.sh as a newcomer runs it: secure by default. It starts its own PostgreSQL cluster under
PREP_VAR, enrols a demo device and prints a `prep-upload send` line (h2c and TLS) that works as
printed; unsigned uploads are refused with 401 signature-required; a second ./run.sh on the same
state folder refuses to start; Ctrl-C stops the gateway and the cluster.

run.sh builds build/ (release) itself; ./test.sh has built it already, so this costs the start of
a cluster and a gateway."""

import json
import os
import shlex
import signal
import subprocess
import tempfile
import time
import unittest

import harness
from harness import CLAVE, Env, free_ports

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__)))))
READY_MARK = "Ctrl-C stops the gateway and PostgreSQL"
START_TIMEOUT = 300.0


class RunShTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = Env.get()
        cls.var = tempfile.mkdtemp(prefix="run-sh-", dir=cls.env.tmp)
        os.chmod(cls.var, 0o755)  # as root, the cluster runs as postgres
        cls.h2c_port, cls.tls_port = free_ports(2)
        cls.run_env = {**os.environ, "PREP_VAR": cls.var, "PREP_H2C_PORT": str(cls.h2c_port),
                       "PREP_TLS_PORT": str(cls.tls_port),
                       "PREP_PG_PORT": str(int(cls.env.pg_port) + 100)}
        for name in ("PREP_OPEN_UPLOADS", "PREP_UPLOAD_STATE", "PREP_DB"):
            cls.run_env.pop(name, None)
        cls.start(cls.run_env)

    @classmethod
    def start(cls, env):
        """Starts ./run.sh with |env| and waits until it printed its upload lines."""
        cls.log_path = os.path.join(cls.var, f"run.sh-{time.monotonic_ns()}.log")
        cls.log = open(cls.log_path, "wb")
        cls.proc = subprocess.Popen([os.path.join(ROOT, "run.sh")], cwd=ROOT, env=env,
                                    stdin=subprocess.DEVNULL, stdout=cls.log,
                                    stderr=subprocess.STDOUT, start_new_session=True,
                                    preexec_fn=cls._terminal_signals)
        deadline = time.monotonic() + START_TIMEOUT
        while READY_MARK not in cls.output():
            if cls.proc.poll() is not None:
                raise AssertionError(f"./run.sh exited with {cls.proc.returncode} before it was "
                                     f"ready:\n{cls.output()[-4000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"./run.sh not ready after {START_TIMEOUT:.0f} s:\n"
                                     f"{cls.output()[-4000:]}")
            time.sleep(0.2)

    @staticmethod
    def _terminal_signals():
        # As from a terminal: a shell started in the background (`./test.sh &`) ignores SIGINT and
        # SIGQUIT, and a signal ignored on entry cannot be trapped, so run.sh could not be
        # stopped by the Ctrl-C of test_4.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGQUIT, signal.SIG_DFL)

    @classmethod
    def tearDownClass(cls):
        if cls.proc.poll() is None:
            os.killpg(cls.proc.pid, signal.SIGKILL)
            cls.proc.wait()
            # PostgreSQL (a daemon of its own) outlives a SIGKILLed run.sh: stop what still names
            # this state folder.
            subprocess.run(["pkill", "-KILL", "-f", cls.var])
        cls.log.close()

    @classmethod
    def output(cls):
        with open(cls.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def printed_commands(self, program):
        """The command lines run.sh printed for |program|, in order."""
        return [shlex.split(l.strip()) for l in self.output().splitlines()
                if l.strip().startswith(program)]

    def run_printed(self, argv):
        p = subprocess.run(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=120, env={k: v for k, v in os.environ.items()
                                             if k != "PREP_UPLOAD_STATE"})
        return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")

    def test_1_prints_signed_upload_lines_that_work(self):
        out = self.output()
        self.assertIn("signed uploads only", out)
        self.assertNotIn("curl --http2", out)
        self.assertIn("enrolled a demo device", out)
        lines = self.printed_commands("build/client/prep-upload send")
        self.assertEqual(len(lines), 2, out)  # h2c, then TLS
        self.assertIn(f"http://127.0.0.1:{self.h2c_port}", lines[0])
        self.assertIn(f"https://127.0.0.1:{self.tls_port}", lines[1])
        receipts = []
        for argv in lines:
            rc, stdout, stderr = self.run_printed(argv)
            self.assertEqual(rc, 0, f"{shlex.join(argv)}\n{stdout}{stderr}")
            receipt = stdout.strip().splitlines()[-1]
            self.assertTrue(os.path.isfile(receipt), stdout)
            receipts.append(receipt)
        # The same photo twice: one photo, one receipt, signed by the gateway and verified
        # offline with the key the demo device got at enrolment.
        self.assertEqual(receipts[0], receipts[1])
        with open(receipts[0]) as f:
            doc = json.load(f)
        self.assertEqual(doc["clave_acta"], CLAVE)
        self.assertIn("signature", doc)
        self.assertEqual(doc["device"], json.load(open(os.path.join(
            self.var, "demo-device", "device.json")))["device_id"])
        rc, stdout, stderr = self.run_printed([os.path.join(ROOT, "build", "client",
                                                            "prep-upload"), "verify",
                                               receipts[0]])
        self.assertEqual(rc, 0, stdout + stderr)

    def test_1a_readme_night_runs_as_written(self):
        """README's "whole night" block, as a newcomer pastes it: upload, review, capture twice,
        export, evidence bundle verified. Only run.sh's ports and state folder differ here."""
        readme = open(os.path.join(ROOT, "README.md")).read()
        block = readme[readme.index("<!-- night:begin -->"):readme.index("<!-- night:end -->")]
        script = block.split("```sh\n", 1)[1].rsplit("```", 1)[0]
        script = (script.replace("http://127.0.0.1:8080", f"http://127.0.0.1:{self.h2c_port}")
                  .replace("var/", self.var + "/"))
        p = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=ROOT,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300,
                           env={**self.run_env, "PREP_VAR": self.var})
        out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
        self.assertEqual(p.returncode, 0, f"the README block failed:\n{out}\n{err}")
        answers = [json.loads(l) for l in out.splitlines() if l.startswith('{"photo_id"')]
        self.assertEqual([a.get("state") for a in answers][-2:], ["pending", "captured"], out)
        row = [l for l in out.splitlines() if "140338B010002" in l and "," in l]
        self.assertTrue(row, out)
        self.assertIn("108", row[0])
        self.assertIn("VALID", out)
        self.assertIn("capture: blind (round 1)", out)

    def test_2_unsigned_upload_is_refused(self):
        body = os.path.join(self.var, "unsigned.bin")
        with open(body, "wb") as f:
            f.write(b"\xff\xd8" + b"\0" * 1000)
        p = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "-X", "POST",
                            "--data-binary", "@" + body, "-H", "Content-Type: image/jpeg",
                            "-w", "\n%{http_code} %{content_type}",
                            f"http://127.0.0.1:{self.h2c_port}/v1/actas/{CLAVE}/photos"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        text = p.stdout.decode(errors="replace")
        problem, _, status = text.rpartition("\n")
        self.assertEqual(status, "401 application/problem+json", text)
        self.assertTrue(json.loads(problem)["type"].endswith("/signature-required"), problem)

    def test_3_second_run_on_the_same_state_is_refused(self):
        p = subprocess.run([os.path.join(ROOT, "run.sh")], cwd=ROOT,
                           env={**self.run_env, "PREP_H2C_PORT": str(free_ports(1)[0])},
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=120)
        out = p.stdout.decode(errors="replace")
        self.assertNotEqual(p.returncode, 0, out)
        self.assertIn("another ./run.sh", out)
        self.assertIsNone(self.proc.poll(), "the first ./run.sh must keep running")

    def test_4_ctrl_c_stops_gateway_and_cluster(self):
        os.killpg(self.proc.pid, signal.SIGINT)
        rc = self.proc.wait(timeout=90)
        out = self.output()
        self.assertEqual(rc, 130, out[-3000:])
        self.assertIn("stopping the gateway", out)
        self.assertIn("stopping PostgreSQL", out)
        self.assertFalse(os.path.exists(os.path.join(self.var, "run.pid")))
        left = subprocess.run(["pgrep", "-f", self.var], stdout=subprocess.PIPE).stdout
        self.assertEqual(left.decode().split(), [], "processes left running")

    def test_5_open_uploads_on_request(self):
        """PREP_OPEN_UPLOADS=1: the gateway warns, and the printed curl line uploads unsigned."""
        self.log.close()
        self.start({**self.run_env, "PREP_OPEN_UPLOADS": "1"})
        out = self.output()
        self.assertIn("--insecure-open-uploads: unsigned uploads are accepted", out)
        lines = [l.strip() for l in out.splitlines()
                 if l.strip().startswith("curl --http2-prior-knowledge")]
        self.assertEqual(len(lines), 1, out)
        p = subprocess.run(["bash", "-c", lines[0] + " -w '\\n%{http_code}'"], cwd=ROOT,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        text = p.stdout.decode(errors="replace")
        receipt, _, status = text.rpartition("\n")
        self.assertIn(status, ("200", "201"), text + p.stderr.decode(errors="replace"))
        self.assertEqual(json.loads(receipt)["clave_acta"], CLAVE)
        os.killpg(self.proc.pid, signal.SIGINT)
        self.assertEqual(self.proc.wait(timeout=90), 130, self.output()[-3000:])


if __name__ == "__main__":
    harness.main()

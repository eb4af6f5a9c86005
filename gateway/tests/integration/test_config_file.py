"""The configuration file: `prep-gateway config check` on a good file (every key printed with the
value serve would use), on mistakes (each named with its file and line, exit 2) and on the
example in deploy/systemd; and a gateway started with --config running with the file's values,
the command line overriding them."""

import os
import subprocess

from harness import GatewayTestCase

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))


class ConfigFileTest(GatewayTestCase):
    @classmethod
    def setUpClass(cls):
        cls.conf = os.path.join(os.environ["PREP_TMP"], "config-file-test.conf")
        with open(cls.conf, "w") as f:
            f.write("# a small gateway\ntls = off\nmax-body = 64KiB   # smaller than any photo\n"
                    "max-streams = 4\nupload-expiry = 3600\n")
        cls.gateway_args = ("--config", cls.conf)
        super().setUpClass()

    def check(self, path, *extra):
        p = subprocess.run([self.env.gateway, "config", "check", path, *extra],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def test_check_prints_what_serve_would_use(self):
        rc, out, err = self.check(self.conf, "--loops", "3")
        self.assertEqual(rc, 0, err)
        for line in ("max-body = 65536", "max-streams = 4", "upload-expiry = 3600",
                     "loops = 3", "body-timeout = 30", "h2c = 127.0.0.1:8080"):
            self.assertIn(line + "\n", out)

    def test_mistakes_name_their_line(self):
        cases = [("workers = 2\nmax-bodi = 1MiB\n", ":2: unknown key `max-bodi`"),
                 ("loops = 2\n\nloops = 4\n", ":3: `loops` again (first on line 1)"),
                 ("max-body = lots\n", ":1: invalid value for `max-body`: `lots`"),
                 ("just words\n", ":1: expected `key = value`"),
                 ("h2c = off\ntls = off\n", "both listeners are off")]
        for i, (text, want) in enumerate(cases):
            path = os.path.join(self.env.tmp, f"bad-{i}.conf")
            with open(path, "w") as f:
                f.write(text)
            rc, out, err = self.check(path)
            self.assertEqual(rc, 2, f"{text!r}: {out}{err}")
            self.assertIn(want, err, text)
        rc, out, err = self.check(os.path.join(self.env.tmp, "missing.conf"))
        self.assertEqual(rc, 2)
        self.assertIn("No such file", err)

    def test_example_file_is_valid(self):
        rc, out, err = self.check(os.path.join(ROOT, "deploy", "systemd", "gateway.conf.example"))
        self.assertEqual(rc, 0, err)
        self.assertIn("tls = 0.0.0.0:8443\n", out)

    def test_serve_runs_with_the_files_values(self):
        big = os.path.join(self.env.fixtures, "small", "ok_o1.jpg")
        self.assertGreater(os.path.getsize(big), 64 << 10)
        r = self.upload(big)
        self.assertProblem(r, 413, "payload-too-large")

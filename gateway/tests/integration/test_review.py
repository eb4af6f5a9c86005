"""The verification queue and the clerks' API (issue 5): leases, exactly-once decisions, the
history, clave groups, the catalogue and progress, accounts, CSRF and roles, live events and the
web pages. Everything goes through the real gateway and a real PostgreSQL."""

import json
import os
import re
import subprocess
import threading
import time
import uuid

from harness import CLAVE, GatewayTestCase

PASSWORD = "una-clave-muy-larga"


def synth_photos(tc, n, prefix="14"):
    """Inserts |n| processed photos straight into PostgreSQL and queues them (the bench does the
    same at scale). Returns their ids in queue order."""
    tag = uuid.uuid4().hex[:8]
    tc.psql(
        "INSERT INTO photos (photo_id, clave_acta, sha256, bytes, width, height, received_at,"
        " received_text, status, review_sha256, review_bytes, review_width, review_height)"
        f" SELECT gen_random_uuid(), '{prefix}' || lpad(i::text, 4, '0') || 'B01002',"
        f" sha256(('{tag}' || i)::bytea), 1000, 100, 100,"
        " now() - interval '1 hour' + i * interval '1 ms',"
        f" '{tag}', 'queued', sha256(('r{tag}' || i)::bytea), 10, 100, 100"
        f" FROM generate_series(1, {n}) i")
    tc.psql("INSERT INTO verification_queue (photo_id, clave_acta, enqueued_at)"
            " SELECT photo_id, clave_acta, received_at FROM photos"
            f" WHERE received_text = '{tag}' ORDER BY received_at")
    # As the processing stage does, so that live counters move.
    tc.psql("SELECT pg_notify('photo_queued', 'synthetic')")
    return [r[0] for r in tc.psql(
        f"SELECT photo_id FROM photos WHERE received_text = '{tag}' ORDER BY received_at")]


class ReviewCase(GatewayTestCase):
    gateway_args = ("--review-lease", "2")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for name, role in (("ana", "clerk"), ("beto", "clerk"), ("sofia", "supervisor")):
            cls.env.user_add(cls.conninfo, name, role, PASSWORD)

    def setUp(self):
        super().setUp()
        # Each test starts from an empty queue.
        self.psql("UPDATE verification_queue SET state = 'rejected', lease_token = NULL"
                  " WHERE state = 'waiting'")

    def claim(self, user):
        return self.api("POST", "/v1/review/claim", user)

    def decide(self, user, photo_id, token, decision="accept", **extra):
        return self.api("POST", f"/v1/review/{photo_id}/decision", user,
                        {"lease_token": token, "decision": decision, **extra})


class QueueTest(ReviewCase):
    def test_empty_queue_is_204(self):
        r = self.claim("ana")
        self.assertEqual(r.status, 204, r)
        self.assertEqual(r.body, b"")

    def test_real_photo_claim_accept_history_and_capture(self):
        receipt = self.upload(self.env.gen_acta(seed=51, width=800, height=1100)).json()
        pid = receipt["photo_id"]
        self.wait_status(pid, "queued")
        r = self.claim("ana")
        self.assertEqual(r.status, 200, r)
        doc = r.json()
        self.assertEqual(doc["photo_id"], pid)
        self.assertEqual(doc["clave_acta"], CLAVE)
        self.assertRegex(doc["lease_token"], r"^[0-9a-f-]{36}$")
        self.assertEqual(doc["photo"]["review_url"], f"/v1/photos/{pid}/review.webp")
        self.assertEqual(doc["flag"], "fuera_de_catalogo")  # no catalogue loaded
        self.assertIsInstance(doc["group"], list)
        self.assertIn("exif", doc["photo"]["metadata"])
        # The review image needs a clerk: with ana's session it is served.
        img = self.get(f"/v1/photos/{pid}/review.webp", auth=False,
                       headers=["Authorization: Bearer " + self.session("ana")["token"]])
        self.assertEqual(img.status, 200, img)
        r = self.decide("ana", pid, doc["lease_token"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["decided_by"], "ana")
        # The same decision again (a retry) is refused, not recorded twice.
        r = self.decide("ana", pid, doc["lease_token"])
        self.assertProblem(r, 409, "already-decided")
        rows = self.psql(f"SELECT decision, user_id FROM review_decisions WHERE photo_id = '{pid}'")
        self.assertEqual(len(rows), 1, rows)
        cap = self.psql(f"SELECT clave_acta, sha256, review_sha256, jsonb_array_length(history)"
                        f" FROM capture_actas WHERE photo_id = '{pid}'")
        self.assertEqual(cap, [[CLAVE, receipt["sha256"], doc["photo"]["review_sha256"], "1"]])
        # History is append-only, in the database itself.
        with self.assertRaises(AssertionError):
            self.psql("DELETE FROM review_decisions")
        # A second photo of the accepted clave comes back flagged, with the first beside it.
        other = self.upload(self.env.gen_acta(seed=52, width=800, height=1100)).json()
        self.wait_status(other["photo_id"], "queued")
        doc2 = self.claim("beto").json()
        self.assertEqual(doc2["photo_id"], other["photo_id"])
        self.assertEqual(doc2["flag"], "posible_correccion")
        self.assertEqual([g["photo_id"] for g in doc2["group"]], [pid])
        self.assertEqual(doc2["group"][0]["review_state"], "accepted")
        self.assertEqual([h["decision"] for h in doc2["history"]], ["accept"])
        r = self.decide("beto", other["photo_id"], doc2["lease_token"], "duplicate",
                        duplicate_of=pid)
        self.assertEqual(r.status, 200, r)

    def test_stale_lease_after_release_is_409(self):
        (pid,) = synth_photos(self, 1)
        doc = self.claim("ana").json()
        self.assertEqual(doc["photo_id"], pid)
        r = self.api("POST", f"/v1/review/{pid}/release", "ana",
                     {"lease_token": doc["lease_token"]})
        self.assertEqual(r.status, 204, r)
        self.assertProblem(self.decide("ana", pid, doc["lease_token"]), 409, "stale-lease")
        # Released: the next claim gets it with a new token.
        again = self.claim("beto").json()
        self.assertEqual(again["photo_id"], pid)
        self.assertNotEqual(again["lease_token"], doc["lease_token"])
        # Another clerk's token is not yours.
        self.assertProblem(self.decide("ana", pid, again["lease_token"]), 409, "stale-lease")
        self.assertEqual(self.decide("beto", pid, again["lease_token"], "reject",
                                     reason="ilegible").status, 200)

    def test_expired_lease_returns_to_queue(self):
        (pid,) = synth_photos(self, 1)
        first = self.claim("ana").json()
        self.assertEqual(self.claim("beto").status, 204)  # held by ana
        time.sleep(2.5)  # --review-lease 2
        second = self.claim("beto").json()
        self.assertEqual(second["photo_id"], pid)
        self.assertProblem(self.decide("ana", pid, first["lease_token"]), 409, "stale-lease")
        self.assertEqual(self.decide("beto", pid, second["lease_token"], "retake").status, 200)
        leases = self.psql(f"SELECT leases, state FROM verification_queue WHERE photo_id = '{pid}'")
        self.assertEqual(leases, [["2", "retake"]])
        # The casilla polling its photo learns that a new one is wanted.
        status, doc = self.get_json(f"/v1/photos/{pid}")
        self.assertEqual(status, 200)
        self.assertEqual(doc["verification"]["state"], "retake")
        self.assertEqual(doc["verification"]["decision"], "retake")

    def test_concurrent_clerks_never_share_a_photo(self):
        ids = synth_photos(self, 60)
        claims, errors = [], []
        lock = threading.Lock()

        def clerk(user):
            while True:
                r = self.claim(user)
                if r.status == 204:
                    return
                if r.status != 200:
                    errors.append(repr(r))
                    return
                doc = r.json()
                d = self.decide(user, doc["photo_id"], doc["lease_token"])
                with lock:
                    claims.append(doc["photo_id"])
                    if d.status != 200:
                        errors.append(repr(d))

        threads = [threading.Thread(target=clerk, args=(u,))
                   for u in ("ana", "beto", "sofia", "ana", "beto", "sofia")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(sorted(claims), sorted(ids), "every photo claimed exactly once")
        per = self.psql("SELECT count(*), count(DISTINCT photo_id) FROM review_decisions"
                        " WHERE photo_id IN (" + ",".join(f"'{i}'" for i in ids) + ")")
        self.assertEqual(per, [["60", "60"]])

    def test_invalid_decisions_are_422(self):
        (pid,) = synth_photos(self, 1)
        doc = self.claim("ana").json()
        tok = doc["lease_token"]
        self.assertProblem(self.decide("ana", pid, tok, "reject"), 422, "invalid-decision")
        self.assertProblem(self.decide("ana", pid, tok, "reject", reason="borroso"), 422,
                           "invalid-decision")
        self.assertProblem(self.decide("ana", pid, tok, "approve"), 422, "invalid-decision")
        self.assertProblem(self.decide("ana", pid, tok, "duplicate"), 422, "invalid-decision")
        self.assertProblem(self.decide("ana", pid, tok, "duplicate", duplicate_of=pid), 422,
                           "invalid-decision")
        self.assertProblem(self.decide("ana", pid, tok, "duplicate",
                                       duplicate_of=str(uuid.uuid4())), 422, "invalid-decision")
        self.assertProblem(self.decide("ana", pid, "nope"), 422, "invalid-decision")
        self.assertProblem(self.decide("ana", str(uuid.uuid4()), tok), 404, "not-found")
        self.assertEqual(self.decide("ana", pid, tok, "reject", reason="sin_acta").status, 200)

    def test_supervisor_reopens_and_prioritises(self):
        a, b = synth_photos(self, 2, prefix="15")
        doc = self.claim("ana").json()
        self.assertEqual(doc["photo_id"], a)
        self.assertEqual(self.decide("ana", a, doc["lease_token"], "reject",
                                     reason="incompleta").status, 200)
        # A clerk may not reopen or read the history.
        self.assertProblem(self.api("POST", f"/v1/review/{a}/reopen", "beto", {"note": "x"}),
                           403, "forbidden")
        self.assertProblem(self.api("GET", "/v1/review/history", "beto"), 403, "forbidden")
        r = self.api("POST", f"/v1/review/{a}/reopen", "sofia", {"note": "se ve bien"})
        self.assertEqual(r.status, 200, r)
        self.assertProblem(self.api("POST", f"/v1/review/{a}/reopen", "sofia", {}), 409,
                           "not-decided")
        hist = self.api("GET", f"/v1/review/history?photo_id={a}", "sofia").json()
        self.assertEqual([(h["decision"], h["user"]) for h in hist],
                         [("reopen", "sofia"), ("reject", "ana")])
        self.assertEqual(hist[1]["reason"], "incompleta")
        # The reopened photo comes first (priority), then b.
        self.assertEqual(self.claim("beto").json()["photo_id"], a)
        # Priority by district: catalogue b's clave in district 7 and prioritise it.
        clave_b = self.psql(f"SELECT clave_acta FROM photos WHERE photo_id = '{b}'")[0][0]
        self.psql("INSERT INTO catalog VALUES ('%s', 15, 7, 'Toluca', 1, 'B', 500)" % clave_b)
        c, = synth_photos(self, 1, prefix="16")  # older than nothing: queued last
        r = self.api("POST", "/v1/review/priority", "sofia", {"state": 15, "district": 7})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["queued_photos"], 1)
        self.assertEqual(self.claim("ana").json()["photo_id"], b)
        self.assertEqual(self.claim("ana").json()["photo_id"], c)


class AuthTest(ReviewCase):
    def test_no_session_is_401(self):
        for method, path in (("POST", "/v1/review/claim"), ("GET", "/v1/progress"),
                             ("GET", "/v1/review/events"), ("GET", "/v1/session")):
            self.assertProblem(self.api(method, path), 401, "unauthenticated")
        pid = synth_photos(self, 1)[0]
        self.assertProblem(self.get(f"/v1/photos/{pid}/review.webp", auth=False), 401,
                           "unauthenticated")

    def test_device_credentials_cannot_read_the_queue(self):
        # A phone's credentials are not a clerk session, whatever their form.
        for auth in ("Authorization: Bearer " + "d" * 43, "Authorization: Device k1:sig",
                     "Cookie: prep_session=" + "x" * 43):
            self.assertProblem(self.api("POST", "/v1/review/claim", headers=[auth]), 401,
                               "unauthenticated")
        # A real enrolled device, with a valid HTTP Message Signature over the request, is
        # still no clerk: neither the queue nor a photo's image.
        signer = os.environ["PREP_SIGN_REQUEST"]
        pem = os.path.join(self.env.tmp, f"{self.db}-phone.pem")
        pub = subprocess.run([signer, "genkey", pem], check=True,
                             stdout=subprocess.PIPE).stdout.decode().strip()
        code = json.loads(subprocess.run(
            [self.env.gateway, "device", "code", "--db", self.conninfo, "--label", "phone",
             "--actas", "14*", "--expires", "1h", "--json"], check=True,
            stdout=subprocess.PIPE).stdout)["code"]
        r = self.api("POST", "/v1/devices", body={"code": code, "public_key": pub})
        self.assertEqual(r.status, 201, r)
        device = r.json()["device_id"]
        empty = os.path.join(self.env.tmp, f"{self.db}-empty")
        open(empty, "wb").close()
        pid = synth_photos(self, 1)[0]
        for method, path in (("POST", "/v1/review/claim"),
                             ("GET", f"/v1/photos/{pid}/review.webp")):
            hdrs = subprocess.run([signer, "sign", pem, device, path, empty], check=True,
                                  stdout=subprocess.PIPE).stdout.decode().splitlines()
            self.assertProblem(self.api(method, path, headers=hdrs), 401, "unauthenticated")

    def test_wrong_password_then_backoff(self):
        self.env.user_add(self.conninfo, "carla", "clerk", PASSWORD)
        self.assertProblem(self.login("carla", "wrong-password!"), 401, "invalid-credentials")
        self.assertProblem(self.login("nadie", "wrong-password!"), 401, "invalid-credentials")
        self.assertProblem(self.login("carla", "wrong-password!"), 401, "invalid-credentials")
        self.assertProblem(self.login("carla", "wrong-password!"), 401, "invalid-credentials")
        # Three failures: the account waits, even for the right password.
        r = self.login("carla", PASSWORD)
        self.assertProblem(r, 429, "login-locked")
        self.assertGreaterEqual(int(r.headers.get("retry-after", "0")), 1)
        time.sleep(1.2)
        self.assertEqual(self.login("carla", PASSWORD).status, 200)

    def test_cookie_posts_need_the_csrf_token(self):
        s = self.session("ana")
        cookie = "Cookie: prep_session=" + s["token"]
        synth_photos(self, 1)
        r = self.api("POST", "/v1/review/claim", headers=[cookie])
        self.assertProblem(r, 403, "csrf-token-invalid")
        r = self.api("POST", "/v1/review/claim", headers=[cookie, "X-CSRF-Token: " + "a" * 43])
        self.assertProblem(r, 403, "csrf-token-invalid")
        r = self.api("POST", "/v1/review/claim", headers=[cookie, "X-CSRF-Token: " +
                                                          s["csrf_token"]])
        self.assertEqual(r.status, 200, r)
        # GETs with the cookie alone are fine.
        self.assertEqual(self.api("GET", "/v1/session", headers=[cookie]).status, 200)

    def test_logout_and_disable_end_sessions(self):
        self.env.user_add(self.conninfo, "dora", "clerk", PASSWORD)
        tok = self.login("dora", PASSWORD).json()["token"]
        bearer = "Authorization: Bearer " + tok
        self.assertEqual(self.api("GET", "/v1/session", headers=[bearer]).status, 200)
        p = subprocess.run([self.env.gateway, "user", "disable", "dora", "--db", self.conninfo],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertProblem(self.api("GET", "/v1/session", headers=[bearer]), 401,
                           "unauthenticated")
        self.assertProblem(self.login("dora", PASSWORD), 401, "invalid-credentials")
        tok = self.login("beto", PASSWORD).json()["token"]
        bearer = "Authorization: Bearer " + tok
        self.assertEqual(self.api("POST", "/v1/logout", headers=[bearer]).status, 204)
        self.assertProblem(self.api("GET", "/v1/session", headers=[bearer]), 401,
                           "unauthenticated")

    def test_user_command_refusals(self):
        def run(*args, stdin=""):
            return subprocess.run([self.env.gateway, "user", *args, "--db", self.conninfo],
                                  input=stdin.encode(), stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, timeout=60)
        self.assertEqual(run("add", "ana", "--role", "clerk", stdin=PASSWORD + "\n").returncode, 1)
        self.assertEqual(run("add", "eva", "--role", "clerk", stdin="corta\n").returncode, 1)
        self.assertEqual(run("add", "Eva!", "--role", "clerk",
                             stdin=PASSWORD + "\n").returncode, 1)
        self.assertEqual(run("add", "eva", "--role", "rey", stdin=PASSWORD + "\n").returncode, 2)
        self.assertEqual(run("passwd", "nadie", stdin=PASSWORD + "\n").returncode, 1)
        p = run("list", "--json")
        self.assertEqual(p.returncode, 0, p.stdout)
        users = {u["username"]: u["role"] for u in json.loads(p.stdout)}
        self.assertEqual(users["sofia"], "supervisor")
        stored = self.psql("SELECT password_hash FROM users WHERE username = 'ana'")[0][0]
        self.assertTrue(stored.startswith("$argon2id$v=19$"), stored)


class ProgressEventsPagesTest(ReviewCase):
    def test_catalog_import_and_progress(self):
        csv = os.path.join(self.env.tmp, "catalogo.csv")
        with open(csv, "w", encoding="utf-8") as f:
            f.write("clave_acta,state,district,municipality,section,casilla_type,nominal_list\n"
                    "170001B01002,17,1,Cuernavaca,1,B,600\n"
                    "170002B01002,17,1,Cuernavaca,2,B,700\n"
                    '170003B01002,17,2,"Emiliano Zapata, Mor.",3,B,650\n')
        p = subprocess.run([self.env.gateway, "catalog", "import", csv, "--json",
                            "--db", self.conninfo], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["inserted"], 3)
        self.assertIn(b"100%", p.stderr)
        bad = csv + ".bad"
        with open(bad, "w") as f:
            f.write("clave_acta,state,district,municipality,section,casilla_type,nominal_list\n"
                    "170009B01002,99,1,X,1,B,1\n")
        p = subprocess.run([self.env.gateway, "catalog", "import", bad, "--db", self.conninfo],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(p.returncode, 1)
        (pid,) = synth_photos(self, 1, prefix="17")  # clave 170001B01002
        doc = self.claim("ana").json()
        self.assertIsNone(doc["flag"])
        self.assertEqual(doc["catalog"]["municipality"], "Cuernavaca")
        self.decide("ana", pid, doc["lease_token"])
        prog = self.api("GET", "/v1/progress", "ana").json()
        self.assertEqual(prog["total"]["expected"], 3)
        self.assertEqual(prog["total"]["received"], 1)
        self.assertEqual(prog["total"]["verified"], 1)
        self.assertGreaterEqual(prog["total"]["out_of_catalogue"], 0)
        d1 = [d for d in prog["districts"] if d["state"] == 17 and d["district"] == 1][0]
        self.assertEqual((d1["expected"], d1["received"], d1["verified"]), (2, 1, 1))
        m = [m for m in prog["municipalities"] if m["municipality"] == "Emiliano Zapata, Mor."]
        self.assertEqual(m[0]["expected"], 1)

    def test_events_stream_counts_live(self):
        synth_photos(self, 2)
        tok = self.session("beto")["token"]
        out = os.path.join(self.env.tmp, "events.txt")
        with open(out, "wb") as f:
            proc = subprocess.Popen(["curl", "-sS", "-N", "--http2-prior-knowledge",
                                     "--max-time", "6", "-H", "Authorization: Bearer " + tok,
                                     self.gw.url("/v1/review/events")], stdout=f,
                                    stderr=subprocess.STDOUT)
        time.sleep(1.0)
        doc = self.claim("ana").json()
        self.decide("ana", doc["photo_id"], doc["lease_token"])
        proc.wait(timeout=20)
        with open(out, "rb") as f:
            text = f.read().decode()
        counts = [json.loads(line[6:]) for line in text.splitlines()
                  if line.startswith("data: ")]
        # Two waiting when the stream opened (the snapshot, or the notification right after),
        # then one, once ana's decision was announced.
        firsts = [i for i, c in enumerate(counts) if c["waiting"] == 2]
        self.assertTrue(firsts, text)
        self.assertTrue(any(c["waiting"] == 1 and c["in_review"] == 0
                            for c in counts[firsts[0] + 1:]), text)

    def test_pages_and_static_files(self):
        r = self.get("/review/")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers["content-type"].startswith("text/html"))
        self.assertIn("script-src 'self'", r.headers.get("content-security-policy", ""))
        self.assertIn(b'lang="es"', r.body)
        etag = r.headers["etag"]
        self.assertEqual(self.get("/review/", headers=[f"If-None-Match: {etag}"]).status, 304)
        self.assertEqual(self.get("/").status, 303)
        for page in ("/login/", "/dashboard/", "/history/", "/static/app.css",
                     "/static/review.js"):
            self.assertEqual(self.get(page).status, 200, page)
        self.assertTrue(self.get("/static/review.js").headers["content-type"]
                        .startswith("text/javascript"))
        for bad in ("/static/../README.md", "/static/%2e%2e/README.md", "/static/.hidden",
                    "/static//app.css", "/static/nope.js"):
            self.assertProblem(self.get(bad), 404, "not-found")
        for raw in ("/static/../../README.md", "/review/../../schema/001_photos.sql"):
            p = subprocess.run(["curl", "-sS", "--path-as-is", "--http2-prior-knowledge", "-o",
                                "/dev/null", "-w", "%{http_code}", self.gw.url(raw)],
                               stdout=subprocess.PIPE, timeout=30)
            self.assertEqual(p.stdout, b"404", raw)


class LoginThrottleTest(GatewayTestCase):
    """Failed logins are counted per client address too: one client spraying a password over
    many user names (known or not) waits after a few, while the accounts themselves stay
    unlocked for their clerks."""

    gateway_args = ("--login-address-free", "3")

    def test_spraying_one_address_waits_accounts_stay_open(self):
        self.env.user_add(self.conninfo, "dora", "clerk", PASSWORD)
        for name in ("dora", "eva", "fer", "gil"):  # four names, one failure each
            self.assertProblem(self.login(name, "Primavera2026!"), 401, "invalid-credentials")
        # Four failures from this address, three free: it waits now, whoever it logs in as.
        r = self.login("dora", PASSWORD)
        self.assertProblem(r, 429, "login-locked")
        self.assertIn("address", r.json()["detail"])
        self.assertGreaterEqual(int(r.headers.get("retry-after", "0")), 1)
        time.sleep(1.2)
        # dora herself failed once only: her account is open.
        self.assertEqual(self.login("dora", PASSWORD).status, 200)
        # A success does not wash the address's failures away: the next one waits 2 s (less
        # the time this client took to ask again).
        self.assertProblem(self.login("eva", "Primavera2026!"), 401, "invalid-credentials")
        r = self.login("dora", PASSWORD)
        self.assertProblem(r, 429, "login-locked")
        self.assertIn(r.headers.get("retry-after"), ("1", "2"))


class LoginFloodTest(GatewayTestCase):
    """A flood of logins (each an Argon2id hash) queues on the login thread alone: past 64 waiting
    it is answered 503 with Retry-After at once, and a request that needs PostgreSQL for
    something else (a phone polling its photo) does not wait behind the queued logins: at most a
    few of them finish while it is served (had they shared its threads, dozens would)."""

    gateway_args = ("--login-address-free", "100000")

    def test_flood_is_bounded_and_isolated(self):
        photo = os.path.join(self.env.fixtures, "small", "ok_o1.jpg")
        r = self.upload(photo)
        self.assertIn(r.status, (200, 201), r)
        photo_id = r.json()["photo_id"]
        body = os.path.join(self.env.tmp, "flood-login.json")
        with open(body, "w") as f:
            json.dump({"username": "nadie", "password": "Primavera2026!"}, f)
        log = os.path.join(self.env.tmp, "flood-login.tsv")
        flood = subprocess.Popen(
            ["h2load", "-n", "100", "-c", "10", "-m", "8", "-d", body, "--log-file", log,
             "-H", "content-type: application/json", self.gw.url("/v1/login")],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            time.sleep(0.5)  # the flood is queued by now
            self.assertIsNone(flood.poll(), "the flood ended too soon to test anything")
            sent = time.time()
            status = self.get(f"/v1/photos/{photo_id}")
            answered = time.time()
            self.assertEqual(status.status, 200, status)
            out, _ = flood.communicate(timeout=300)
        finally:
            if flood.poll() is None:
                flood.kill()
        text = out.decode(errors="replace")
        codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text)
        self.assertIsNotNone(codes, text)
        ok2, _, c4, c5 = map(int, codes.groups())
        self.assertEqual((ok2, c4 + c5), (0, 100), text)  # every request answered, none let in
        self.assertGreater(c5, 0, "more than 64 logins waited and none was turned away")
        self.assertGreater(c4, 64, text)
        # Password checks that ended while the status request was in flight.
        checked = 0
        with open(log) as f:
            for line in f:
                start_us, code, took_us = line.split("\t")[:3]
                end = (int(start_us) + int(took_us)) / 1e6
                checked += code == "401" and sent < end < answered
        self.assertLess(checked, 10, f"{checked} logins were answered before the photo status")
        self.assertEqual(self.get("/healthz").status, 200)

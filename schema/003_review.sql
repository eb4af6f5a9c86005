-- Verification: accounts, the catalogue of expected actas, leases on the queue, the decision
-- history and the hand-over to capture (issue 5).
--
-- The queue's rules live here, in one place, so that every client (the gateway's API, psql, a
-- future capture application) sees the same semantics:
--   * a photo is held by at most one clerk: review_claim() takes the oldest waiting row with
--     FOR UPDATE SKIP LOCKED and stamps a fresh lease token and expiry; a lease past its expiry
--     simply stops counting, so the photo is claimable again without any sweeper;
--   * review_decide() accepts a decision only with the current, unexpired lease token of the
--     deciding clerk, and writes exactly one history row per lease (unique lease_token);
--   * review_decisions is append-only (a trigger refuses UPDATE and DELETE); a supervisor's
--     reopen is one more row, never an edit;
--   * accepted photos are announced on NOTIFY channel 'acta_accepted' (payload: photo_id) and
--     listed by the view capture_actas.

CREATE TYPE user_role AS ENUM ('clerk', 'supervisor', 'admin');

CREATE TABLE users (
    user_id         bigserial PRIMARY KEY,
    username        text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
    role            user_role NOT NULL,
    password_hash   text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    disabled        boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    password_set_at timestamptz NOT NULL DEFAULT now(),
    -- Login backoff: after 3 consecutive failures each further attempt waits 2^(n-3) s,
    -- at most 15 min (see gw_auth.h).
    failed_logins   integer NOT NULL DEFAULT 0,
    locked_until    timestamptz
);

-- Sessions: the token itself is only ever in the client's cookie or Authorization header; the
-- database keeps its SHA-256, so a leaked dump does not open sessions.
CREATE TABLE sessions (
    token_sha256 bytea PRIMARY KEY CHECK (length(token_sha256) = 32),
    user_id      bigint NOT NULL REFERENCES users (user_id),
    csrf_token   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

-- The catalogue of expected actas (prep-gateway catalog import).
CREATE TABLE catalog (
    clave_acta    text PRIMARY KEY
                  CHECK (clave_acta ~ '^[0-9]{2}[0-9]{4}[BCESV][0-9]{2}[0-9]{2}[0-9]{1,2}$'),
    state         smallint NOT NULL CHECK (state BETWEEN 1 AND 32),
    district      smallint NOT NULL CHECK (district > 0),
    municipality  text NOT NULL,
    section       integer NOT NULL CHECK (section > 0),
    casilla_type  text NOT NULL,
    nominal_list  integer NOT NULL CHECK (nominal_list >= 0)
);
CREATE INDEX catalog_district ON catalog (state, district);
CREATE INDEX catalog_municipality ON catalog (state, municipality);

-- Districts or municipalities a supervisor put first.
CREATE TABLE review_priorities (
    priority_id  bigserial PRIMARY KEY,
    state        smallint NOT NULL,
    district     smallint,
    municipality text,
    weight       integer NOT NULL DEFAULT 10 CHECK (weight BETWEEN 1 AND 1000),
    set_by       bigint NOT NULL REFERENCES users (user_id),
    set_at       timestamptz NOT NULL DEFAULT now(),
    CHECK ((district IS NULL) <> (municipality IS NULL))
);

-- The queue: a row per processed photo, for good. state 'waiting' rows are claimable when their
-- lease is absent or expired; the other states record the current decision.
ALTER TABLE verification_queue
    ADD COLUMN state         text NOT NULL DEFAULT 'waiting'
        CHECK (state IN ('waiting', 'accepted', 'rejected', 'retake', 'duplicate')),
    ADD COLUMN priority      integer NOT NULL DEFAULT 0,
    ADD COLUMN flag          text CHECK (flag IN ('fuera_de_catalogo', 'posible_correccion')),
    ADD COLUMN lease_token   uuid,
    ADD COLUMN lease_user    bigint REFERENCES users (user_id),
    ADD COLUMN lease_expires timestamptz,
    ADD COLUMN leases        integer NOT NULL DEFAULT 0,
    ADD COLUMN decided_at    timestamptz;
DROP INDEX verification_queue_order;
CREATE INDEX verification_queue_order ON verification_queue (priority DESC, enqueued_at, photo_id)
    WHERE state = 'waiting';
CREATE INDEX verification_queue_clave ON verification_queue (clave_acta);

-- The flags and the priority of a photo entering the queue. A second photo of a clave that is
-- already accepted does not replace the first: it waits, flagged, for a clerk to decide.
CREATE FUNCTION verification_queue_enter() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    cat catalog%ROWTYPE;
BEGIN
    SELECT * INTO cat FROM catalog WHERE clave_acta = NEW.clave_acta;
    IF NOT FOUND THEN
        NEW.flag := 'fuera_de_catalogo';
    ELSE
        SELECT coalesce(max(weight), 0) INTO NEW.priority FROM review_priorities r
            WHERE r.state = cat.state
              AND (r.district = cat.district OR r.municipality = cat.municipality);
    END IF;
    IF EXISTS (SELECT 1 FROM verification_queue q
               WHERE q.clave_acta = NEW.clave_acta AND q.state = 'accepted') THEN
        NEW.flag := 'posible_correccion';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER verification_queue_enter BEFORE INSERT ON verification_queue
    FOR EACH ROW EXECUTE FUNCTION verification_queue_enter();

-- Append-only history of every decision, including reopenings.
CREATE TABLE review_decisions (
    decision_id  bigserial PRIMARY KEY,
    photo_id     uuid NOT NULL REFERENCES photos (photo_id),
    clave_acta   text NOT NULL,
    user_id      bigint NOT NULL REFERENCES users (user_id),
    decided_at   timestamptz NOT NULL DEFAULT now(),
    decision     text NOT NULL
                 CHECK (decision IN ('accept', 'reject', 'retake', 'duplicate', 'reopen')),
    reason       text CHECK (reason IN ('ilegible', 'sin_acta', 'no_es_acta', 'acta_equivocada',
                                        'incompleta')),
    duplicate_of uuid REFERENCES photos (photo_id),
    note         text CHECK (length(note) <= 500),
    lease_token  uuid UNIQUE, -- one decision per lease: the exactly-once guarantee
    CHECK ((decision = 'reject') = (reason IS NOT NULL)),
    CHECK ((decision = 'duplicate') = (duplicate_of IS NOT NULL)),
    CHECK (duplicate_of IS DISTINCT FROM photo_id)
);
CREATE INDEX review_decisions_photo ON review_decisions (photo_id, decision_id);
CREATE INDEX review_decisions_time ON review_decisions (decided_at DESC);

CREATE FUNCTION review_decisions_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'review_decisions is append-only';
END $$;
CREATE TRIGGER review_decisions_append_only BEFORE UPDATE OR DELETE ON review_decisions
    FOR EACH STATEMENT EXECUTE FUNCTION review_decisions_append_only();

-- Claims the next photo for |p_user| for |p_lease_s| seconds. Returns no row when nothing waits.
CREATE FUNCTION review_claim(p_user bigint, p_lease_s integer)
RETURNS TABLE (photo_id uuid, clave_acta text, lease_token uuid, lease_expires timestamptz,
               flag text)
LANGUAGE sql AS $$
    WITH c AS (
        SELECT q.photo_id FROM verification_queue q
        WHERE q.state = 'waiting' AND (q.lease_expires IS NULL OR q.lease_expires < now())
        ORDER BY q.priority DESC, q.enqueued_at, q.photo_id
        LIMIT 1 FOR UPDATE SKIP LOCKED)
    UPDATE verification_queue q
       SET lease_token = gen_random_uuid(), lease_user = p_user,
           lease_expires = clock_timestamp() + make_interval(secs => p_lease_s),
           leases = q.leases + 1
      FROM c WHERE q.photo_id = c.photo_id
    RETURNING q.photo_id, q.clave_acta, q.lease_token, q.lease_expires, q.flag
$$;

-- Records a decision. Returns 'ok', 'not_found' (not in the queue), 'decided' (already decided)
-- or 'stale' (the lease token is not the current one, belongs to another clerk, or expired).
CREATE FUNCTION review_decide(p_photo uuid, p_token uuid, p_user bigint, p_decision text,
                              p_reason text, p_duplicate_of uuid, p_note text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    q verification_queue%ROWTYPE;
BEGIN
    SELECT * INTO q FROM verification_queue WHERE photo_id = p_photo FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'not_found';
    END IF;
    IF q.lease_token IS DISTINCT FROM p_token OR q.lease_user IS DISTINCT FROM p_user
       OR q.lease_expires < clock_timestamp() THEN
        IF q.state <> 'waiting' THEN
            RETURN 'decided';
        END IF;
        RETURN 'stale';
    END IF;
    INSERT INTO review_decisions (photo_id, clave_acta, user_id, decision, reason, duplicate_of,
                                  note, lease_token)
        VALUES (p_photo, q.clave_acta, p_user, p_decision, p_reason, p_duplicate_of, p_note,
                p_token);
    UPDATE verification_queue
       SET state = CASE p_decision WHEN 'accept' THEN 'accepted' WHEN 'reject' THEN 'rejected'
                                   ELSE p_decision END,
           lease_token = NULL, lease_expires = NULL, decided_at = now()
     WHERE photo_id = p_photo;
    PERFORM pg_notify('review_changed', p_photo::text);
    IF p_decision = 'accept' THEN
        PERFORM pg_notify('acta_accepted', p_photo::text);
    END IF;
    RETURN 'ok';
END $$;

-- A supervisor returns a decided photo to the queue; recorded like any decision.
CREATE FUNCTION review_reopen(p_photo uuid, p_user bigint, p_note text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    q verification_queue%ROWTYPE;
BEGIN
    SELECT * INTO q FROM verification_queue WHERE photo_id = p_photo FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'not_found';
    END IF;
    IF q.state = 'waiting' THEN
        RETURN 'waiting';
    END IF;
    INSERT INTO review_decisions (photo_id, clave_acta, user_id, decision, note)
        VALUES (p_photo, q.clave_acta, p_user, 'reopen', p_note);
    UPDATE verification_queue
       SET state = 'waiting', lease_token = NULL, lease_user = NULL, lease_expires = NULL,
           decided_at = NULL, priority = greatest(priority, 100)
     WHERE photo_id = p_photo;
    PERFORM pg_notify('review_changed', p_photo::text);
    RETURN 'ok';
END $$;

-- For capture: every accepted photo with its clave, the review image, both hashes and the
-- decision history (oldest first). A capture application LISTENs on 'acta_accepted' (payload: the
-- photo_id) and reads this view; a reopened photo leaves the view until accepted again.
CREATE VIEW capture_actas AS
SELECT q.photo_id, q.clave_acta,
       encode(p.sha256, 'hex') AS sha256,
       encode(p.review_sha256, 'hex') AS review_sha256,
       '/v1/photos/' || q.photo_id || '/review.webp' AS review_url,
       q.decided_at AS accepted_at, q.flag,
       (SELECT jsonb_agg(jsonb_build_object(
                   'decision_id', d.decision_id, 'decision', d.decision, 'reason', d.reason,
                   'duplicate_of', d.duplicate_of, 'note', d.note,
                   'user', u.username, 'decided_at', d.decided_at) ORDER BY d.decision_id)
          FROM review_decisions d JOIN users u USING (user_id)
         WHERE d.photo_id = q.photo_id) AS history
  FROM verification_queue q JOIN photos p USING (photo_id)
 WHERE q.state = 'accepted';

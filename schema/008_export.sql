-- Publication (issue 12): the acta-by-acta state of an election at a cut time, for
-- `prep-gateway export prep-csv` (docs/export.md), and the record of every cut published.
--
-- A cut at time T uses only what was decided up to T, by the timestamps of the append-only
-- history, never the current state of a queue:
--   * a photo counts when it was received at or before T (photos.received_at, the receipt's time);
--   * it is accepted at T when its last review decision at or before T is 'accept'
--     (review_decisions); the number of accepts up to T is the capture round it is in, since every
--     accept starts a round (capture_follow_review in 007_capture.sql);
--   * its result at T is that round's supervisor capture made at or before T, else the later of
--     two blind captures made at or before T whose figures are equal (capture_submit()'s rule);
--   * the acta of a clave is its photo with a result, else its accepted photo, else its latest
--     photo; ties go to the latest result, then the latest receipt, then the photo id.
-- So the same cut gives the same rows later, whatever happened after T.

-- The review and capture state of photo |p_photo| at |p_cut|: when it was accepted (NULL: not
-- accepted at the cut), its result capture, and the time of the first capture of its round.
CREATE FUNCTION export_photo_at(p_photo uuid, p_cut timestamptz, OUT accepted_at timestamptz,
                                OUT result bigint, OUT first_capture_at timestamptz)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    n_accept integer;
    last_decision text;
    last_at timestamptz;
BEGIN
    SELECT count(*) FILTER (WHERE d.decision = 'accept'),
           (array_agg(d.decision ORDER BY d.decision_id DESC))[1],
           (array_agg(d.decided_at ORDER BY d.decision_id DESC))[1]
      INTO n_accept, last_decision, last_at
      FROM review_decisions d WHERE d.photo_id = p_photo AND d.decided_at <= p_cut;
    IF last_decision IS DISTINCT FROM 'accept' THEN
        RETURN;
    END IF;
    accepted_at := last_at;
    SELECT min(c.captured_at) INTO first_capture_at FROM captures c
     WHERE c.photo_id = p_photo AND c.round = n_accept AND c.captured_at <= p_cut;
    SELECT c.capture_id INTO result FROM captures c
     WHERE c.photo_id = p_photo AND c.round = n_accept AND c.kind = 'supervisor'
       AND c.captured_at <= p_cut
     ORDER BY c.capture_id LIMIT 1;
    IF result IS NULL THEN
        SELECT max(c.capture_id) INTO result FROM captures c
         WHERE c.photo_id = p_photo AND c.round = n_accept AND c.kind = 'blind'
           AND c.captured_at <= p_cut
        HAVING count(*) = 2 AND count(DISTINCT c.figures) = 1;
    END IF;
END $$;

-- One row per acta of election |p_election| at |p_cut|: every catalogued acta of the election's
-- acta types, and every clave outside the catalogue with a photo received by the cut. Times are
-- text in zone |p_tz| as 'DD/MM/YYYY HH24:MI:SS'. Ordered by clave, so a cut is always the same
-- sequence of rows.
CREATE FUNCTION export_prep_rows(p_election text, p_cut timestamptz, p_tz text)
RETURNS TABLE (clave_acta text, in_catalog boolean, state smallint, district smallint,
               section integer, nominal_list integer, allowance integer, sha256 text,
               received text, first_capture text, result_at text, figures jsonb,
               sum_votes integer, contabilizada boolean, reason text, observations text[])
LANGUAGE sql STABLE AS $$
    WITH types AS (
        SELECT t.acta_type, t.representatives_allowance FROM acta_types t
         WHERE t.election_id = p_election),
    photos_at AS (
        SELECT p.photo_id, p.clave_acta, p.received_at, encode(p.sha256, 'hex') AS sha,
               a.accepted_at, a.result, a.first_capture_at
          FROM photos p CROSS JOIN LATERAL export_photo_at(p.photo_id, p_cut) a
         WHERE p.received_at <= p_cut
           AND capture_acta_type(p.clave_acta) IN (SELECT acta_type FROM types)),
    best AS (
        SELECT DISTINCT ON (b.clave_acta) b.* FROM photos_at b
         ORDER BY b.clave_acta, (b.result IS NOT NULL) DESC, (b.accepted_at IS NOT NULL) DESC,
                  b.result DESC NULLS LAST, b.received_at DESC, b.photo_id),
    actas AS (
        SELECT c.clave_acta FROM catalog c
         WHERE capture_acta_type(c.clave_acta) IN (SELECT acta_type FROM types)
        UNION
        SELECT b.clave_acta FROM best b)
    SELECT a.clave_acta, c.clave_acta IS NOT NULL, c.state, c.district, c.section,
           c.nominal_list, t.representatives_allowance, b.sha,
           to_char(b.received_at AT TIME ZONE p_tz, 'DD/MM/YYYY HH24:MI:SS'),
           to_char(b.first_capture_at AT TIME ZONE p_tz, 'DD/MM/YYYY HH24:MI:SS'),
           to_char(x.captured_at AT TIME ZONE p_tz, 'DD/MM/YYYY HH24:MI:SS'),
           x.figures, x.sum_votes, x.contabilizada, x.reason, x.observations
      FROM actas a
      LEFT JOIN catalog c ON c.clave_acta = a.clave_acta
      LEFT JOIN types t ON t.acta_type = capture_acta_type(a.clave_acta)
      LEFT JOIN best b ON b.clave_acta = a.clave_acta
      LEFT JOIN captures x ON x.capture_id = b.result
     ORDER BY a.clave_acta COLLATE "C"
$$;

-- Every cut published: its election, time and the SHA-256 of its bytes, linked to the photo
-- ledger (the last entry received by the cut: its seq and hash), chained to the previous cut
-- (prev, hash) so that a removed, edited or reordered cut breaks every later link as in the
-- ledger, and signed with the gateway key (Ed25519 over export_cut_text(), as a checkpoint is).
-- Append-only.
CREATE TABLE export_cuts (
    cut_id        bigserial PRIMARY KEY,
    election_id   text NOT NULL REFERENCES elections (election_id),
    cut_at        timestamptz NOT NULL,
    sha256        text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    bytes         bigint NOT NULL CHECK (bytes > 0),
    actas         integer NOT NULL,
    ledger_seq    bigint NOT NULL, -- 0: no entry received by the cut
    ledger_head   text NOT NULL,   -- '' then
    prev          text NOT NULL CHECK (prev ~ '^[0-9a-f]{64}$'),
    gateway_key   text NOT NULL CHECK (gateway_key ~ '^[0-9a-f]{64}$'), -- its fingerprint
    signature     text NOT NULL,  -- base64
    hash          text NOT NULL UNIQUE CHECK (hash ~ '^[0-9a-f]{64}$'),
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (election_id, cut_at, sha256)
);
CREATE TRIGGER export_cuts_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON export_cuts
    FOR EACH STATEMENT EXECUTE FUNCTION capture_append_only();

-- The text a cut's signature is made over: fixed lines that anyone can rebuild from the row.
CREATE FUNCTION export_cut_text(p_election text, p_cut timestamptz, p_sha256 text, p_bytes bigint,
                                p_actas integer, p_ledger_seq bigint, p_ledger_head text,
                                p_prev text, p_key text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT 'prep-casilla cut v1' || E'\n'
        || 'election=' || p_election || E'\n'
        || 'cut_at=' || to_char(p_cut AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
        || E'\n'
        || 'sha256=' || p_sha256 || E'\n'
        || 'bytes=' || p_bytes || E'\n'
        || 'actas=' || p_actas || E'\n'
        || 'ledger_seq=' || p_ledger_seq || E'\n'
        || 'ledger_head=' || p_ledger_head || E'\n'
        || 'prev=' || p_prev || E'\n'
        || 'gateway_key=' || p_key || E'\n'
$$;

-- A cut's hash: the SHA-256 of its text followed by its signature line.
CREATE FUNCTION export_cut_hash(c export_cuts) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT encode(sha256(convert_to(
        export_cut_text(c.election_id, c.cut_at, c.sha256, c.bytes, c.actas, c.ledger_seq,
                        c.ledger_head, c.prev, c.gateway_key)
        || 'signature=' || c.signature || E'\n', 'UTF8')), 'hex')
$$;

-- Step 1 of recording the cut of |p_election| at |p_cut| whose bytes have SHA-256 |p_sha256|,
-- in a transaction that step 2 ends: takes the cuts' lock (so the chain never forks), and
-- returns either the record of the same cut with the same bytes (found: it is recorded once) or
-- the ledger link, prev and text to sign for a new one.
CREATE FUNCTION export_cut_prepare(p_election text, p_cut timestamptz, p_sha256 text,
                                   p_bytes bigint, p_actas integer, p_key text)
RETURNS TABLE (recorded_before boolean, cut_id bigint, hash text, ledger_seq bigint,
               ledger_head text, prev text, text_to_sign text)
LANGUAGE plpgsql AS $$
DECLARE
    r export_cuts%ROWTYPE;
    v_seq bigint;
    v_head text;
    v_last text;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('export_cuts'));
    SELECT * INTO r FROM export_cuts x
     WHERE x.election_id = p_election AND x.cut_at = p_cut AND x.sha256 = p_sha256;
    IF FOUND THEN
        RETURN QUERY SELECT true, r.cut_id, r.hash, r.ledger_seq, r.ledger_head, r.prev,
                            NULL::text;
        RETURN;
    END IF;
    SELECT coalesce(max(l.seq), 0) INTO v_seq FROM ledger l WHERE l.time::timestamptz <= p_cut;
    v_head := coalesce((SELECT l.hash FROM ledger l WHERE l.seq = v_seq), '');
    v_last := coalesce((SELECT x.hash FROM export_cuts x ORDER BY x.cut_id DESC LIMIT 1),
                       repeat('0', 64));
    RETURN QUERY SELECT false, NULL::bigint, NULL::text, v_seq, v_head, v_last,
                        export_cut_text(p_election, p_cut, p_sha256, p_bytes, p_actas, v_seq,
                                        v_head, v_last, p_key);
END $$;

-- Step 2: appends the cut prepared in this transaction with its signature. Returns its id and
-- hash.
CREATE FUNCTION export_cut_insert(p_election text, p_cut timestamptz, p_sha256 text,
                                  p_bytes bigint, p_actas integer, p_ledger_seq bigint,
                                  p_ledger_head text, p_prev text, p_key text, p_signature text)
RETURNS TABLE (cut_id bigint, hash text)
LANGUAGE plpgsql AS $$
DECLARE
    r export_cuts%ROWTYPE;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('export_cuts'));
    IF p_prev <> coalesce((SELECT x.hash FROM export_cuts x ORDER BY x.cut_id DESC LIMIT 1),
                          repeat('0', 64)) THEN
        RAISE EXCEPTION 'the chain of cuts moved since the cut was prepared';
    END IF;
    r.cut_id := nextval(pg_get_serial_sequence('export_cuts', 'cut_id'));
    r.election_id := p_election;
    r.cut_at := p_cut;
    r.sha256 := p_sha256;
    r.bytes := p_bytes;
    r.actas := p_actas;
    r.ledger_seq := p_ledger_seq;
    r.ledger_head := p_ledger_head;
    r.prev := p_prev;
    r.gateway_key := p_key;
    r.signature := p_signature;
    r.recorded_at := now();
    r.hash := export_cut_hash(r);
    INSERT INTO export_cuts SELECT r.*;
    RETURN QUERY SELECT r.cut_id, r.hash;
END $$;

-- The first cut whose link does not hold (prev is not the previous cut's hash, or hash is not
-- the hash of the row), or no row when the chain holds.
CREATE FUNCTION export_cuts_check() RETURNS TABLE (cut_id bigint, why text)
LANGUAGE sql STABLE AS $$
    SELECT s.cut_id,
           CASE WHEN s.hash <> export_cut_hash(s.c) THEN 'hash does not match the row'
                ELSE 'prev is not the previous cut''s hash' END
      FROM (SELECT c, c.cut_id, c.hash, c.prev,
                   coalesce(lag(c.hash) OVER (ORDER BY c.cut_id), repeat('0', 64)) AS want_prev
              FROM export_cuts c) s
     WHERE s.hash <> export_cut_hash(s.c) OR s.prev <> s.want_prev
     ORDER BY s.cut_id LIMIT 1
$$;

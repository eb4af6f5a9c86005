-- Capture (captura), double-blind (issue 12): the election structure, the capture queue, its
-- leases, the captures and the checks that decide whether an acta is contabilizada.
--
-- The rules live here, in one place, as the review queue's do (003_review.sql):
--   * an acta enters capture_queue when its photo is accepted (trigger on verification_queue) and
--     leaves it ('returned') when the photo leaves 'accepted' (a reopen); accepted again, it starts
--     a new round, and the captures of earlier rounds stay;
--   * each round needs two blind captures by two different users; capture_claim() leases an acta
--     with FOR UPDATE SKIP LOCKED and a fresh token, as review_claim() does; an expired lease stops
--     counting, so no sweeper is needed; a user is never leased the same acta twice in a round
--     (any lease of theirs, live, expired or used, excludes it), so they never capture it twice;
--   * capture_submit() takes figures only with the current, unexpired lease of the same user and
--     once per lease (unique lease_token); two agreeing blind captures make the acta 'captured',
--     two differing ones 'in_dispute', and then a supervisor's capture (a third, with its own
--     lease from capture_claim_dispute()) decides; every capture stays (append-only);
--   * capture_check() is the one place where the checks of INE's PREP are computed (sum against
--     the total written, lista nominal plus representatives, illegible and blank fields,
--     contabilizada and its reason); docs/capture.md gives the rules and their sources;
--   * capture_return() sends an acta back to review as illegible through review_reopen(), so the
--     clerks' retake flow applies.

-- 'capturist' is not used as a user_role value anywhere in this file: a value added by ALTER TYPE
-- cannot be used in the transaction that adds it. Role checks compare role::text.
ALTER TYPE user_role ADD VALUE IF NOT EXISTS 'capturist';

-- The election structure (prep-gateway election import FILE.json, docs/capture.md).
CREATE TABLE elections (
    election_id  text PRIMARY KEY CHECK (election_id ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
    name         text NOT NULL,
    illustrative boolean NOT NULL,
    doc          jsonb NOT NULL, -- the file as imported, with its notes and sources
    imported_at  timestamptz NOT NULL DEFAULT now()
);

-- One acta type per code: the last 1-2 digits of CLAVE_ACTA.
CREATE TABLE acta_types (
    acta_type     smallint PRIMARY KEY CHECK (acta_type BETWEEN 0 AND 99),
    election_id   text NOT NULL REFERENCES elections (election_id),
    name          text NOT NULL,
    -- Added to the lista nominal before comparing it with the votes: the representatives of
    -- parties and independent candidates who may vote in the casilla (docs/capture.md).
    representatives_allowance integer NOT NULL CHECK (representatives_allowance >= 0)
);

-- The fields of an acta type, in the order they are written on the acta.
CREATE TABLE acta_fields (
    acta_type smallint NOT NULL REFERENCES acta_types (acta_type) ON DELETE CASCADE,
    position  smallint NOT NULL CHECK (position > 0),
    field_id  text NOT NULL CHECK (field_id ~ '^[a-z0-9][a-z0-9_]{0,31}$'),
    label     text NOT NULL CHECK (length(label) BETWEEN 1 AND 120),
    kind      text NOT NULL CHECK (kind IN ('party', 'coalition', 'independent', 'no_registrados',
                                             'nulos', 'total')),
    PRIMARY KEY (acta_type, field_id),
    UNIQUE (acta_type, position)
);

-- The acta type of a CLAVE_ACTA: everything after the 11th character (gw_clave.h).
CREATE FUNCTION capture_acta_type(p_clave text) RETURNS smallint LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p_clave ~ '^[0-9]{2}[0-9]{4}[BCESV][0-9]{4}[0-9]{1,2}$'
                THEN substring(p_clave FROM 12)::smallint END
$$;

-- One row per accepted photo. state: 'pending' (fewer than two blind captures, or two being
-- made), 'captured' (agreed, or decided by a supervisor), 'in_dispute', 'returned' (the photo
-- left 'accepted': sent back as illegible or reopened by a supervisor).
CREATE TABLE capture_queue (
    photo_id       uuid PRIMARY KEY REFERENCES photos (photo_id),
    clave_acta     text NOT NULL,
    acta_type      smallint,
    round          integer NOT NULL DEFAULT 1,
    state          text NOT NULL DEFAULT 'pending'
                   CHECK (state IN ('pending', 'captured', 'in_dispute', 'returned')),
    blind_captures integer NOT NULL DEFAULT 0 CHECK (blind_captures BETWEEN 0 AND 2),
    entered_at     timestamptz NOT NULL DEFAULT now(),
    captured_at    timestamptz,
    result         bigint -- captures.capture_id of the figures that count, once 'captured'
);
CREATE INDEX capture_queue_order ON capture_queue (blind_captures DESC, entered_at, photo_id)
    WHERE state = 'pending';
CREATE INDEX capture_queue_clave ON capture_queue (clave_acta);

-- Every lease ever given; kind 'blind' (a capturist's) or 'supervisor' (a dispute's third).
CREATE TABLE capture_leases (
    lease_token uuid PRIMARY KEY,
    photo_id    uuid NOT NULL REFERENCES capture_queue (photo_id),
    round       integer NOT NULL,
    user_id     bigint NOT NULL REFERENCES users (user_id),
    kind        text NOT NULL CHECK (kind IN ('blind', 'supervisor')),
    leased_at   timestamptz NOT NULL DEFAULT now(),
    expires     timestamptz NOT NULL,
    used        boolean NOT NULL DEFAULT false -- figures submitted, or sent back
);
CREATE INDEX capture_leases_photo ON capture_leases (photo_id, round);

-- Append-only: every capture, agreeing or not, with the checks computed when it was made.
CREATE TABLE captures (
    capture_id    bigserial PRIMARY KEY,
    photo_id      uuid NOT NULL REFERENCES capture_queue (photo_id),
    clave_acta    text NOT NULL,
    round         integer NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('blind', 'supervisor')),
    user_id       bigint NOT NULL REFERENCES users (user_id),
    captured_at   timestamptz NOT NULL DEFAULT now(),
    lease_token   uuid NOT NULL UNIQUE REFERENCES capture_leases (lease_token),
    -- {"field_id": count | "ilegible" | "sin_dato", ...}, every field of the acta type
    figures       jsonb NOT NULL,
    sum_votes     integer NOT NULL,
    total_written integer,
    nominal_list  integer,
    allowance     integer NOT NULL,
    contabilizada boolean NOT NULL,
    reason        text CHECK (reason IN ('excede_lista_nominal', 'sin_datos_legibles')),
    observations  text[] NOT NULL,
    CHECK (contabilizada = (reason IS NULL)),
    UNIQUE (photo_id, round, user_id)
);
CREATE INDEX captures_photo ON captures (photo_id, round, capture_id);

-- Sent back to review as illegible.
CREATE TABLE capture_returns (
    return_id   bigserial PRIMARY KEY,
    photo_id    uuid NOT NULL REFERENCES capture_queue (photo_id),
    round       integer NOT NULL,
    user_id     bigint NOT NULL REFERENCES users (user_id),
    lease_token uuid NOT NULL UNIQUE REFERENCES capture_leases (lease_token),
    note        text CHECK (length(note) <= 500),
    returned_at timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION capture_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END $$;
CREATE TRIGGER captures_append_only BEFORE UPDATE OR DELETE ON captures
    FOR EACH STATEMENT EXECUTE FUNCTION capture_append_only();
CREATE TRIGGER capture_returns_append_only BEFORE UPDATE OR DELETE ON capture_returns
    FOR EACH STATEMENT EXECUTE FUNCTION capture_append_only();

-- Review decides what capture sees: accepted photos enter, photos leaving 'accepted' leave.
CREATE FUNCTION capture_follow_review() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.state = 'accepted' AND OLD.state IS DISTINCT FROM 'accepted' THEN
        INSERT INTO capture_queue (photo_id, clave_acta, acta_type)
            VALUES (NEW.photo_id, NEW.clave_acta, capture_acta_type(NEW.clave_acta))
        ON CONFLICT (photo_id) DO UPDATE
            SET round = capture_queue.round + 1, state = 'pending', blind_captures = 0,
                entered_at = now(), captured_at = NULL, result = NULL;
        PERFORM pg_notify('capture_changed', NEW.photo_id::text);
    ELSIF OLD.state = 'accepted' AND NEW.state <> 'accepted' THEN
        UPDATE capture_queue SET state = 'returned' WHERE photo_id = NEW.photo_id;
        PERFORM pg_notify('capture_changed', NEW.photo_id::text);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER capture_follow_review AFTER UPDATE OF state ON verification_queue
    FOR EACH ROW EXECUTE FUNCTION capture_follow_review();

INSERT INTO capture_queue (photo_id, clave_acta, acta_type)
    SELECT photo_id, clave_acta, capture_acta_type(clave_acta) FROM verification_queue
     WHERE state = 'accepted';

-- Loads (or replaces) an election structure from the JSON document of docs/capture.md. An acta
-- type that already has captures cannot have its fields changed. Returns a summary.
CREATE FUNCTION election_import(p_doc jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    t jsonb;
    f jsonb;
    pos integer;
    code integer;
    types integer := 0;
    fields integer := 0;
    old_fields jsonb;
    new_fields jsonb;
BEGIN
    IF jsonb_typeof(p_doc) IS DISTINCT FROM 'object' OR jsonb_typeof(p_doc->'election_id') <> 'string'
       OR jsonb_typeof(p_doc->'name') <> 'string'
       OR jsonb_typeof(p_doc->'illustrative') IS DISTINCT FROM 'boolean'
       OR jsonb_typeof(p_doc->'acta_types') IS DISTINCT FROM 'array'
       OR jsonb_array_length(p_doc->'acta_types') = 0 THEN
        RAISE EXCEPTION 'the file needs election_id, name, illustrative (true or false) and a non-empty acta_types array';
    END IF;
    INSERT INTO elections (election_id, name, illustrative, doc)
        VALUES (p_doc->>'election_id', p_doc->>'name', (p_doc->>'illustrative')::boolean, p_doc)
    ON CONFLICT (election_id) DO UPDATE
        SET name = EXCLUDED.name, illustrative = EXCLUDED.illustrative, doc = EXCLUDED.doc,
            imported_at = now();
    FOR t IN SELECT * FROM jsonb_array_elements(p_doc->'acta_types') LOOP
        IF jsonb_typeof(t->'acta_type') IS DISTINCT FROM 'number' OR jsonb_typeof(t->'name') <> 'string'
           OR jsonb_typeof(t->'fields') IS DISTINCT FROM 'array'
           OR jsonb_typeof(t->'representatives_allowance') IS DISTINCT FROM 'number' THEN
            RAISE EXCEPTION 'each acta type needs acta_type, name, representatives_allowance and fields';
        END IF;
        code := (t->>'acta_type')::integer;
        new_fields := (SELECT jsonb_agg(jsonb_build_object('id', e->>'id', 'label', e->>'label',
                                                           'kind', e->>'kind') ORDER BY n)
                         FROM jsonb_array_elements(t->'fields') WITH ORDINALITY AS x (e, n));
        old_fields := (SELECT jsonb_agg(jsonb_build_object('id', field_id, 'label', label,
                                                           'kind', kind) ORDER BY position)
                         FROM acta_fields WHERE acta_type = code);
        IF old_fields IS DISTINCT FROM new_fields AND EXISTS (
               SELECT 1 FROM captures c JOIN capture_queue q USING (photo_id)
                WHERE q.acta_type = code) THEN
            RAISE EXCEPTION 'acta type % has captures already: its fields cannot change', code;
        END IF;
        INSERT INTO acta_types (acta_type, election_id, name, representatives_allowance)
            VALUES (code, p_doc->>'election_id', t->>'name',
                    (t->>'representatives_allowance')::integer)
        ON CONFLICT (acta_type) DO UPDATE
            SET election_id = EXCLUDED.election_id, name = EXCLUDED.name,
                representatives_allowance = EXCLUDED.representatives_allowance;
        DELETE FROM acta_fields WHERE acta_type = code;
        pos := 0;
        FOR f IN SELECT * FROM jsonb_array_elements(t->'fields') LOOP
            pos := pos + 1;
            IF jsonb_typeof(f->'id') IS DISTINCT FROM 'string'
               OR jsonb_typeof(f->'label') IS DISTINCT FROM 'string'
               OR jsonb_typeof(f->'kind') IS DISTINCT FROM 'string' THEN
                RAISE EXCEPTION 'acta type %, field %: id, label and kind must be strings', code, pos;
            END IF;
            INSERT INTO acta_fields (acta_type, position, field_id, label, kind)
                VALUES (code, pos, f->>'id', f->>'label', f->>'kind');
        END LOOP;
        IF (SELECT count(*) FROM acta_fields WHERE acta_type = code AND kind = 'total') <> 1
           OR (SELECT count(*) FROM acta_fields WHERE acta_type = code AND kind = 'nulos') <> 1
           OR (SELECT count(*) FROM acta_fields WHERE acta_type = code
                AND kind = 'no_registrados') <> 1
           OR NOT EXISTS (SELECT 1 FROM acta_fields WHERE acta_type = code AND kind = 'party') THEN
            RAISE EXCEPTION 'acta type % needs at least one party and exactly one total, one nulos and one no_registrados field', code;
        END IF;
        types := types + 1;
        fields := fields + pos;
    END LOOP;
    RETURN jsonb_build_object('election_id', p_doc->>'election_id', 'acta_types', types,
                              'fields', fields);
END $$;

-- Why |p_figures| is not a capture of acta type |p_type|, or NULL when it is one: an object with
-- every field of the type and nothing else, each a count 0-100000, "ilegible" or "sin_dato".
CREATE FUNCTION capture_validate(p_type smallint, p_figures jsonb) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN jsonb_typeof(p_figures) IS DISTINCT FROM 'object'
            THEN 'figures must be an object of field id to count, "ilegible" or "sin_dato"'
        WHEN EXISTS (SELECT 1 FROM jsonb_object_keys(p_figures) k
                     WHERE NOT EXISTS (SELECT 1 FROM acta_fields f
                                       WHERE f.acta_type = p_type AND f.field_id = k))
            THEN 'figures has a field this acta type does not have: '
                 || (SELECT min(k) FROM jsonb_object_keys(p_figures) k
                     WHERE NOT EXISTS (SELECT 1 FROM acta_fields f
                                       WHERE f.acta_type = p_type AND f.field_id = k))
        WHEN EXISTS (SELECT 1 FROM acta_fields f WHERE f.acta_type = p_type
                     AND NOT p_figures ? f.field_id)
            THEN 'figures lacks the field '
                 || (SELECT f.field_id FROM acta_fields f WHERE f.acta_type = p_type
                     AND NOT p_figures ? f.field_id ORDER BY f.position LIMIT 1)
        WHEN EXISTS (SELECT 1 FROM jsonb_each(p_figures) e
                     WHERE NOT (e.value IN ('"ilegible"', '"sin_dato"')
                                OR (jsonb_typeof(e.value) = 'number'
                                    AND e.value::text ~ '^[0-9]{1,6}$'
                                    AND e.value::text::integer <= 100000)))
            THEN 'each figure is a whole number 0-100000, "ilegible" or "sin_dato"'
    END
$$;

-- THE checks of a capture (docs/capture.md, "Checks"): the sum of the vote fields (illegible and
-- blank ones count 0), the total written on the acta, the lista nominal plus the allowance,
-- whether the acta is contabilizada and, when not, why; observations that do not stop it.
CREATE FUNCTION capture_check(p_type smallint, p_figures jsonb, p_nominal integer,
                              OUT sum_votes integer, OUT total_written integer,
                              OUT allowance integer, OUT contabilizada boolean,
                              OUT reason text, OUT observations text[])
LANGUAGE plpgsql STABLE AS $$
DECLARE
    n_fields integer;
    n_illegible integer;
    n_blank integer;
    total jsonb;
BEGIN
    SELECT coalesce(sum(CASE WHEN jsonb_typeof(p_figures->f.field_id) = 'number'
                             THEN (p_figures->>f.field_id)::integer ELSE 0 END)
                    FILTER (WHERE f.kind <> 'total'), 0),
           count(*),
           count(*) FILTER (WHERE p_figures->>f.field_id = 'ilegible'),
           count(*) FILTER (WHERE p_figures->>f.field_id = 'sin_dato')
      INTO sum_votes, n_fields, n_illegible, n_blank
      FROM acta_fields f WHERE f.acta_type = p_type;
    SELECT t.representatives_allowance INTO allowance FROM acta_types t WHERE t.acta_type = p_type;
    total := p_figures->(SELECT f.field_id FROM acta_fields f
                          WHERE f.acta_type = p_type AND f.kind = 'total');
    total_written := CASE WHEN jsonb_typeof(total) = 'number' THEN total::text::integer END;
    observations := '{}';
    IF total_written IS NOT NULL AND total_written <> sum_votes THEN
        observations := observations || 'total_distinto_de_suma'::text;
    END IF;
    IF n_illegible > 0 THEN
        observations := observations || 'campos_ilegibles'::text;
    END IF;
    IF n_blank > 0 THEN
        observations := observations || 'campos_sin_dato'::text;
    END IF;
    IF coalesce(p_nominal, 0) = 0 THEN
        observations := observations || 'sin_lista_nominal'::text;
    END IF;
    contabilizada := true;
    reason := NULL;
    IF n_illegible + n_blank = n_fields THEN
        contabilizada := false;
        reason := 'sin_datos_legibles';
    ELSIF coalesce(p_nominal, 0) > 0 AND sum_votes > p_nominal + allowance THEN
        contabilizada := false;
        reason := 'excede_lista_nominal';
    END IF;
END $$;

-- Leases the next acta for a blind capture by |p_user| for |p_lease_s| seconds: an acta waiting
-- for a capture whose type is loaded, fewer than two blind captures made or being made, never one
-- |p_user| was leased in this round. Actas captured once go first, then the oldest accepted.
CREATE FUNCTION capture_claim(p_user bigint, p_lease_s integer)
RETURNS TABLE (photo_id uuid, clave_acta text, acta_type smallint, lease_token uuid,
               lease_expires timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
    q capture_queue%ROWTYPE;
    tok uuid := gen_random_uuid();
    exp timestamptz := clock_timestamp() + make_interval(secs => p_lease_s);
BEGIN
    SELECT c.* INTO q FROM capture_queue c
     WHERE c.state = 'pending'
       AND EXISTS (SELECT 1 FROM acta_types t WHERE t.acta_type = c.acta_type)
       AND NOT EXISTS (SELECT 1 FROM capture_leases l WHERE l.photo_id = c.photo_id
                       AND l.round = c.round AND l.user_id = p_user)
       AND c.blind_captures + (SELECT count(*) FROM capture_leases l
                               WHERE l.photo_id = c.photo_id AND l.round = c.round
                                 AND l.kind = 'blind' AND NOT l.used
                                 AND l.expires >= clock_timestamp()) < 2
     ORDER BY c.blind_captures DESC, c.entered_at, c.photo_id
     LIMIT 1 FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    INSERT INTO capture_leases (lease_token, photo_id, round, user_id, kind, expires)
        VALUES (tok, q.photo_id, q.round, p_user, 'blind', exp);
    RETURN QUERY SELECT q.photo_id, q.clave_acta, q.acta_type, tok, exp;
END $$;

-- Leases the oldest acta in dispute to supervisor |p_user| for the deciding capture: one nobody
-- holds a live supervisor lease on, and whose blind captures are not |p_user|'s.
CREATE FUNCTION capture_claim_dispute(p_user bigint, p_lease_s integer)
RETURNS TABLE (photo_id uuid, clave_acta text, acta_type smallint, lease_token uuid,
               lease_expires timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
    q capture_queue%ROWTYPE;
    tok uuid := gen_random_uuid();
    exp timestamptz := clock_timestamp() + make_interval(secs => p_lease_s);
BEGIN
    SELECT c.* INTO q FROM capture_queue c
     WHERE c.state = 'in_dispute'
       AND NOT EXISTS (SELECT 1 FROM captures x WHERE x.photo_id = c.photo_id
                       AND x.round = c.round AND x.user_id = p_user)
       AND NOT EXISTS (SELECT 1 FROM capture_leases l WHERE l.photo_id = c.photo_id
                       AND l.round = c.round AND l.kind = 'supervisor' AND NOT l.used
                       AND l.expires >= clock_timestamp())
     ORDER BY c.entered_at, c.photo_id
     LIMIT 1 FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    INSERT INTO capture_leases (lease_token, photo_id, round, user_id, kind, expires)
        VALUES (tok, q.photo_id, q.round, p_user, 'supervisor', exp);
    RETURN QUERY SELECT q.photo_id, q.clave_acta, q.acta_type, tok, exp;
END $$;

-- The lease |p_token| of |p_user| on |p_photo| if it is current: 'ok', else 'not_found' (not in
-- capture), 'done' (this lease was used, or the round is over: a retry) or 'stale'.
CREATE FUNCTION capture_lease_check(p_photo uuid, p_token uuid, p_user bigint,
                                    OUT outcome text, OUT q capture_queue, OUT l capture_leases)
LANGUAGE plpgsql AS $$
BEGIN
    SELECT * INTO q FROM capture_queue c WHERE c.photo_id = p_photo FOR UPDATE;
    IF NOT FOUND THEN
        outcome := 'not_found';
        RETURN;
    END IF;
    SELECT * INTO l FROM capture_leases x WHERE x.lease_token = p_token FOR UPDATE;
    IF NOT FOUND OR l.photo_id <> p_photo OR l.user_id <> p_user THEN
        outcome := 'stale';
    ELSIF l.used OR l.round <> q.round
          OR q.state <> (CASE l.kind WHEN 'blind' THEN 'pending' ELSE 'in_dispute' END) THEN
        outcome := 'done';
    ELSIF l.expires < clock_timestamp() THEN
        outcome := 'stale';
    ELSE
        outcome := 'ok';
    END IF;
END $$;

-- Records |p_user|'s figures for |p_photo| under |p_token|. Returns (outcome, detail, state,
-- checks): outcome 'ok' (state is then the acta's: pending, captured or in_dispute; checks this
-- capture's capture_check()), 'invalid' (detail says why), or capture_lease_check()'s
-- 'not_found', 'done', 'stale'.
CREATE FUNCTION capture_submit(p_photo uuid, p_token uuid, p_user bigint, p_figures jsonb,
                               OUT outcome text, OUT detail text, OUT state text,
                               OUT checks jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    lc record;
    chk record;
    nominal integer;
    new_id bigint;
    other jsonb;
BEGIN
    SELECT * INTO lc FROM capture_lease_check(p_photo, p_token, p_user);
    outcome := lc.outcome;
    IF outcome <> 'ok' THEN
        RETURN;
    END IF;
    detail := capture_validate((lc.q).acta_type, p_figures);
    IF detail IS NOT NULL THEN
        outcome := 'invalid';
        RETURN;
    END IF;
    SELECT c.nominal_list INTO nominal FROM catalog c WHERE c.clave_acta = (lc.q).clave_acta;
    SELECT * INTO chk FROM capture_check((lc.q).acta_type, p_figures, nominal);
    INSERT INTO captures (photo_id, clave_acta, round, kind, user_id, lease_token, figures,
                          sum_votes, total_written, nominal_list, allowance, contabilizada,
                          reason, observations)
        VALUES (p_photo, (lc.q).clave_acta, (lc.q).round, (lc.l).kind, p_user, p_token,
                p_figures, chk.sum_votes, chk.total_written, nominal, chk.allowance,
                chk.contabilizada, chk.reason, chk.observations)
        RETURNING capture_id INTO new_id;
    checks := jsonb_build_object('capture_id', new_id, 'sum_votes', chk.sum_votes,
                                 'total_written', chk.total_written, 'nominal_list', nominal,
                                 'allowance', chk.allowance, 'contabilizada', chk.contabilizada,
                                 'reason', chk.reason, 'observations', to_jsonb(chk.observations));
    UPDATE capture_leases SET used = true WHERE lease_token = p_token;
    IF (lc.l).kind = 'supervisor' THEN
        state := 'captured';
        UPDATE capture_queue SET state = 'captured', captured_at = now(), result = new_id
         WHERE photo_id = p_photo;
    ELSIF (lc.q).blind_captures = 0 THEN
        state := 'pending';
        UPDATE capture_queue SET blind_captures = 1 WHERE photo_id = p_photo;
    ELSE
        SELECT x.figures INTO other FROM captures x
         WHERE x.photo_id = p_photo AND x.round = (lc.q).round AND x.kind = 'blind'
           AND x.capture_id <> new_id;
        -- jsonb equality: the same fields with the same values, whatever the order.
        state := CASE WHEN other = p_figures THEN 'captured' ELSE 'in_dispute' END;
        UPDATE capture_queue
           SET blind_captures = 2, state = capture_submit.state,
               captured_at = CASE WHEN capture_submit.state = 'captured' THEN now() END,
               result = CASE WHEN capture_submit.state = 'captured' THEN new_id END
         WHERE photo_id = p_photo;
    END IF;
    PERFORM pg_notify('capture_changed', p_photo::text);
END $$;

-- Gives back a live lease unused. Returns 'ok' or capture_lease_check()'s outcome.
CREATE FUNCTION capture_release(p_photo uuid, p_token uuid, p_user bigint) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    lc record;
BEGIN
    SELECT * INTO lc FROM capture_lease_check(p_photo, p_token, p_user);
    IF lc.outcome = 'ok' THEN
        -- The lease still names the user, so the acta is not offered to them again.
        UPDATE capture_leases SET expires = clock_timestamp() WHERE lease_token = p_token;
    END IF;
    RETURN lc.outcome;
END $$;

-- Sends |p_photo| back to review as illegible, under |p_user|'s live lease: recorded in
-- capture_returns, and the photo is reopened as a supervisor's reopen does (review_reopen()),
-- which takes it out of capture (capture_follow_review). Returns 'ok' or the lease check's outcome.
CREATE FUNCTION capture_return(p_photo uuid, p_token uuid, p_user bigint, p_note text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    lc record;
BEGIN
    SELECT * INTO lc FROM capture_lease_check(p_photo, p_token, p_user);
    IF lc.outcome <> 'ok' THEN
        RETURN lc.outcome;
    END IF;
    INSERT INTO capture_returns (photo_id, round, user_id, lease_token, note)
        VALUES (p_photo, (lc.q).round, p_user, p_token, p_note);
    UPDATE capture_leases SET used = true WHERE lease_token = p_token;
    PERFORM review_reopen(p_photo, p_user,
                          'captura: ilegible' || coalesce(': ' || p_note, ''));
    RETURN 'ok';
END $$;

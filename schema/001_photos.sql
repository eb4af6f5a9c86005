-- Photos received by the gateway and the verification queue they feed.
--
-- The image bytes live on the gateway's disk, content-addressed by SHA-256 (see
-- docs/architecture.md); PostgreSQL is the system of record for which photos exist and in what
-- state they are.

CREATE TYPE photo_status AS ENUM ('received', 'processing', 'queued', 'failed');

CREATE TABLE photos (
    photo_id        uuid PRIMARY KEY,
    clave_acta      text NOT NULL
                    CHECK (clave_acta ~ '^[0-9]{2}[0-9]{4}[BCESV][0-9]{2}[0-9]{2}[0-9]{1,2}$'),
    source          text NOT NULL DEFAULT 'open-upload',  -- device id once devices enrol
    sha256          bytea NOT NULL CHECK (length(sha256) = 32),
    bytes           bigint NOT NULL CHECK (bytes > 0),
    width           integer NOT NULL CHECK (width > 0),
    height          integer NOT NULL CHECK (height > 0),
    received_at     timestamptz NOT NULL,
    received_text   text NOT NULL,                        -- the receipt's exact RFC 3339 text
    ingested_at     timestamptz NOT NULL DEFAULT now(),
    status          photo_status NOT NULL DEFAULT 'received',
    status_reason   text,
    attempts        integer NOT NULL DEFAULT 0,
    claimed_at      timestamptz,
    processed_at    timestamptz,
    review_sha256   bytea CHECK (length(review_sha256) = 32),
    review_bytes    integer,
    review_width    integer,
    review_height   integer,
    metadata        jsonb NOT NULL DEFAULT '{}',
    CONSTRAINT photos_clave_sha256_key UNIQUE (clave_acta, sha256),
    CONSTRAINT photos_review_complete CHECK (
        status <> 'queued' OR (review_sha256 IS NOT NULL AND review_width IS NOT NULL))
);

-- The processing stage's work list: oldest received first.
CREATE INDEX photos_todo ON photos (received_at) WHERE status IN ('received', 'processing');
CREATE INDEX photos_clave ON photos (clave_acta);

-- Photos waiting for a verification clerk.
CREATE TABLE verification_queue (
    photo_id    uuid PRIMARY KEY REFERENCES photos (photo_id),
    clave_acta  text NOT NULL,
    enqueued_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX verification_queue_order ON verification_queue (enqueued_at);

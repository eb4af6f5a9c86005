-- The ledger of accepted photos, mirrored from the gateway's spool (ledger.jsonl) by the ingest
-- stage. Each row carries the hash of the previous one; `prep-gateway ledger verify` recomputes
-- every hash from the row's fields, so an edited, removed or reordered row is found.

CREATE TABLE ledger (
    seq         bigint PRIMARY KEY CHECK (seq > 0),
    prev        text NOT NULL CHECK (prev ~ '^[0-9a-f]{64}$'),
    hash        text NOT NULL UNIQUE CHECK (hash ~ '^[0-9a-f]{64}$'),
    photo_id    uuid NOT NULL,
    clave_acta  text NOT NULL,
    device      text NOT NULL,
    sha256      text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    bytes       bigint NOT NULL,
    width       integer NOT NULL,
    height      integer NOT NULL,
    time        text NOT NULL,                 -- the receipt's received_at, exactly
    recorded_at timestamptz NOT NULL DEFAULT now()
);

-- Append-only for everyone who does not own the table: rows are never updated or deleted.
CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only';
END
$$;
CREATE TRIGGER ledger_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON ledger
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();

ALTER TABLE photos ADD COLUMN ledger_seq bigint;
ALTER TABLE photos ADD COLUMN receipt_signature text;

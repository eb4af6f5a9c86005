-- Several gateways on one database (docs/architecture.md, "Several gateways").
--
-- blobs: the photo originals, and the review derivatives, by SHA-256, so that PostgreSQL's
-- replication carries them and any gateway can process or serve any photo: an original is
-- stored in the same statement that records the photo `received`, before it can be `queued`.
-- bytea, sent as a binary parameter (no escaping), rather than large objects: a photo is at
-- most --max-body (20 MiB by default, under bytea's 1 GB), a row is written once and read
-- whole, and bytea rows go with the photo's transaction, pg_dump and streaming replication
-- without lo_unlink bookkeeping.
CREATE TABLE blobs (
    sha256    bytea PRIMARY KEY CHECK (length(sha256) = 32),
    kind      text NOT NULL CHECK (kind IN ('original', 'review')),
    data      bytea NOT NULL,
    stored_at timestamptz NOT NULL DEFAULT now(),
    CHECK (sha256 = sha256(data))
);
-- Stored already compressed (JPEG, WebP): no TOAST compression to try.
ALTER TABLE blobs ALTER COLUMN data SET STORAGE EXTERNAL;

-- Which gateway received the photo (its --gateway-id): the spool that holds its receipt.
ALTER TABLE photos ADD COLUMN gateway text NOT NULL DEFAULT 'main';

-- One hash chain per gateway: each keeps its own ledger.jsonl in its spool, so the key is
-- (gateway, seq). Rows from before this migration were the single gateway's, 'main'.
ALTER TABLE ledger ADD COLUMN gateway text NOT NULL DEFAULT 'main';
ALTER TABLE ledger DROP CONSTRAINT ledger_pkey;
ALTER TABLE ledger ADD PRIMARY KEY (gateway, seq);
ALTER TABLE ledger DROP CONSTRAINT ledger_hash_key;
ALTER TABLE ledger ADD CONSTRAINT ledger_gateway_hash_key UNIQUE (gateway, hash);

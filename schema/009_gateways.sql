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

-- A publication cut links to the ledger entry current at the cut: with several chains, the
-- latest entry received at or before it, of whichever gateway (its seq is of that chain, its hash
-- names it). With one chain this is the entry of the highest seq, as in 008.
CREATE OR REPLACE FUNCTION export_cut_prepare(p_election text, p_cut timestamptz, p_sha256 text,
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
    SELECT l.seq, l.hash INTO v_seq, v_head FROM ledger l WHERE l.time::timestamptz <= p_cut
     ORDER BY l.time::timestamptz DESC, l.seq DESC, l.gateway LIMIT 1;
    v_seq := coalesce(v_seq, 0);
    v_head := coalesce(v_head, '');
    v_last := coalesce((SELECT x.hash FROM export_cuts x ORDER BY x.cut_id DESC LIMIT 1),
                       repeat('0', 64));
    RETURN QUERY SELECT false, NULL::bigint, NULL::text, v_seq, v_head, v_last,
                        export_cut_text(p_election, p_cut, p_sha256, p_bytes, p_actas, v_seq,
                                        v_head, v_last, p_key);
END $$;

-- Who holds a photo's processing claim: a token of the worker (made at its start), so that a
-- worker whose connection broke in the middle of a claim gives back exactly its own claims when it
-- reconnects (the claim may have committed while its answer was lost), at once instead of after
-- the 300 s lease, and with several gateways on one database none gives back another's.
ALTER TABLE photos ADD COLUMN claimed_by text;

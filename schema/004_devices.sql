-- Enrolled devices (the phones of polling-station officials) and their one-time enrolment codes.
-- A device may upload only for the actas of its enrolment: "actas" is a comma-separated list of
-- claves or prefixes ending in '*' (e.g. "140338B01*,140339*").

CREATE TABLE enrolment_codes (
    code_sha256 text PRIMARY KEY,         -- the code is shown once; only its hash is kept
    label       text NOT NULL,
    actas       text NOT NULL CHECK (actas <> ''),
    expires_at  timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    used_at     timestamptz,
    device_id   uuid
);

CREATE TABLE devices (
    device_id   uuid PRIMARY KEY,
    public_key  text NOT NULL UNIQUE,     -- base64 of the 32 raw Ed25519 public key bytes
    label       text NOT NULL,
    actas       text NOT NULL,
    enrolled_at timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

-- Every gateway keeps the device list in memory (intake never waits on PostgreSQL); this tells
-- it to reload at once, so a revocation takes effect immediately.
CREATE FUNCTION devices_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('devices_changed', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER devices_changed AFTER INSERT OR UPDATE OR DELETE ON devices
    FOR EACH STATEMENT EXECUTE FUNCTION devices_changed();

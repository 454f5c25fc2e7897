-- Retention (README "Retention"; same tables and columns as ../sqlite).
-- The upkeep task purges rows past their retention, found by time.

CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);
CREATE INDEX grants_created ON grants (created_at);

-- The last sign-in, for the dormant-account policy (NULL: none since this
-- column exists; the account's creation counts instead).
ALTER TABLE citizens ADD COLUMN last_signed_in_at BIGINT;

-- What a deleted account leaves: which claims went to which service, when,
-- detached from the person (no citizen id, no subject, no session), kept for
-- the legal retention period (SESAME_RETENTION_RELEASE_RECORDS).
CREATE TABLE release_records (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_id   TEXT NOT NULL,
    client_name TEXT NOT NULL,                  -- as named then
    target      TEXT NOT NULL,                  -- id_token | userinfo
    scope       TEXT NOT NULL,                  -- space-separated
    claims      TEXT NOT NULL,                  -- JSON array of claim names, never values
    acr         TEXT NOT NULL,
    at          BIGINT NOT NULL                 -- when the claims were released
);
CREATE INDEX release_records_at ON release_records (at);

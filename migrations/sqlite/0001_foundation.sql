-- Foundation: settings the provider keeps about itself, signing keys,
-- browser sessions and short-lived state (used when Redis is not configured).
-- Timestamps are Unix seconds (BIGINT); flags are 0/1 integers; the same
-- columns exist on PostgreSQL (see ../postgres), checked by a test.

CREATE TABLE provider_meta (
    name  TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY NOT NULL,
    alg          TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    activates_at BIGINT NOT NULL,
    retires_at   BIGINT,
    public_jwk   TEXT NOT NULL,
    private_key  BLOB NOT NULL
);
CREATE INDEX signing_keys_alg ON signing_keys (alg, activates_at);

CREATE TABLE browser_sessions (
    id_hash    TEXT PRIMARY KEY NOT NULL,
    data       BLOB NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX browser_sessions_expiry ON browser_sessions (expires_at);

CREATE TABLE ephemeral_state (
    key        TEXT PRIMARY KEY NOT NULL,
    value      BLOB NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX ephemeral_state_expiry ON ephemeral_state (expires_at);

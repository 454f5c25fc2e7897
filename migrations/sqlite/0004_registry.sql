-- The registry of territorial services: organisations, the metadata clients
-- register (RFC 7591/7592), secret rotation, initial access tokens,
-- administrator tokens and the administrators' action log.
-- Every token is a 256-bit random value stored only as its SHA-256.

CREATE TABLE organisations (
    organisation_id TEXT PRIMARY KEY NOT NULL,
    name            TEXT NOT NULL,
    kind            TEXT NOT NULL,                -- commune | intercommunalite | departement | region | syndicat | other
    official_code   TEXT NOT NULL UNIQUE,         -- SIREN (9 digits) or INSEE code
    contacts        TEXT NOT NULL,                -- JSON array of e-mail addresses
    created_at      BIGINT NOT NULL
);

-- organisation_id is nullable only for clients registered before this
-- migration; every client created since belongs to an organisation.
ALTER TABLE clients ADD COLUMN organisation_id TEXT REFERENCES organisations (organisation_id);
ALTER TABLE clients ADD COLUMN metadata TEXT NOT NULL DEFAULT '{}';               -- JSON: what the provider only shows
ALTER TABLE clients ADD COLUMN registration_token_hash TEXT;                      -- RFC 7592 registration access token
ALTER TABLE clients ADD COLUMN previous_secret_hash TEXT;                         -- accepted until previous_secret_expires_at
ALTER TABLE clients ADD COLUMN previous_secret_expires_at BIGINT;
ALTER TABLE clients ADD COLUMN secret_overlap BIGINT NOT NULL DEFAULT 86400;      -- seconds the old secret outlives a rotation
ALTER TABLE clients ADD COLUMN skip_consent BIGINT NOT NULL DEFAULT 0;            -- first-party service (administrators only)
ALTER TABLE clients ADD COLUMN registered_by TEXT NOT NULL DEFAULT 'administrator'; -- administrator | registration
ALTER TABLE clients ADD COLUMN version BIGINT NOT NULL DEFAULT 1;                 -- optimistic concurrency
CREATE INDEX clients_organisation ON clients (organisation_id);

CREATE TABLE initial_access_tokens (
    token_id        TEXT PRIMARY KEY NOT NULL,
    token_hash      TEXT NOT NULL UNIQUE,
    organisation_id TEXT NOT NULL REFERENCES organisations (organisation_id),
    description     TEXT NOT NULL,
    single_use      BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    used_at         BIGINT,
    revoked_at      BIGINT
);

CREATE TABLE admin_tokens (
    token_id        TEXT PRIMARY KEY NOT NULL,
    token_hash      TEXT NOT NULL UNIQUE,
    organisation_id TEXT REFERENCES organisations (organisation_id),  -- NULL: every organisation
    description     TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    revoked_at      BIGINT
);

-- Append-only: what administrators (CLI, admin API) and registering
-- developers did.
CREATE TABLE admin_events (
    event_id        TEXT PRIMARY KEY NOT NULL,
    at              BIGINT NOT NULL,
    actor           TEXT NOT NULL,                -- cli | admin-token:<id> | initial-access-token:<id> | registration:<client_id>
    action          TEXT NOT NULL,
    organisation_id TEXT,
    target          TEXT NOT NULL,
    detail          TEXT NOT NULL                 -- JSON
);
CREATE INDEX admin_events_at ON admin_events (at);

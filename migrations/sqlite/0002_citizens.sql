-- Citizens and how they sign in: the identity record with its citizen
-- identifier, their passkeys, one-time recovery codes, the logins (browser
-- sessions) they can see and end, and the append-only audit log.
-- Same tables and columns on postgres (see ../postgres), checked by a test.

CREATE TABLE citizens (
    id          TEXT PRIMARY KEY NOT NULL,      -- internal UUID, also the WebAuthn user handle
    identifier  TEXT NOT NULL UNIQUE,           -- canonical citizen identifier, never reissued
    given_name  TEXT NOT NULL,
    family_name TEXT NOT NULL,
    email       TEXT,
    created_at  BIGINT NOT NULL
);

CREATE TABLE passkeys (
    credential_id   TEXT PRIMARY KEY NOT NULL,  -- base64url; unique across citizens
    citizen_id      TEXT NOT NULL REFERENCES citizens (id),
    name            TEXT NOT NULL,
    passkey         TEXT NOT NULL,              -- webauthn-rs Passkey, JSON
    sign_count      BIGINT NOT NULL,
    backup_eligible BIGINT NOT NULL,            -- 0/1
    backup_state    BIGINT NOT NULL,            -- 0/1
    created_at      BIGINT NOT NULL,
    last_used_at    BIGINT
);
CREATE INDEX passkeys_citizen ON passkeys (citizen_id);

CREATE TABLE recovery_codes (
    code_hash  TEXT PRIMARY KEY NOT NULL,       -- SHA-256 of citizen id and code
    citizen_id TEXT NOT NULL REFERENCES citizens (id),
    created_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX recovery_codes_citizen ON recovery_codes (citizen_id);

CREATE TABLE login_sessions (
    sid        TEXT PRIMARY KEY NOT NULL,       -- OIDC sid
    citizen_id TEXT NOT NULL REFERENCES citizens (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    device     TEXT NOT NULL,                   -- browser summary shown on /account
    amr        TEXT NOT NULL                    -- space-separated
);
CREATE INDEX login_sessions_citizen ON login_sessions (citizen_id);

CREATE TABLE audit_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    citizen_id TEXT NOT NULL,
    kind       TEXT NOT NULL,
    details    TEXT NOT NULL,                   -- JSON object
    at         BIGINT NOT NULL
);
CREATE INDEX audit_events_citizen ON audit_events (citizen_id, id);

-- OpenID Connect core: registered clients, consents, grants, refresh tokens.
-- Authorization codes, pending requests and revoked access-token ids are
-- short-lived and live in the cache (Redis or ephemeral_state).

CREATE TABLE clients (
    client_id                    TEXT PRIMARY KEY NOT NULL,
    client_secret_hash           TEXT,
    client_name                  TEXT NOT NULL,
    redirect_uris                TEXT NOT NULL,   -- JSON array, exact match
    post_logout_redirect_uris    TEXT NOT NULL,   -- JSON array
    grant_types                  TEXT NOT NULL,   -- JSON array
    token_endpoint_auth_method   TEXT NOT NULL,
    scope                        TEXT NOT NULL,   -- space-separated scopes it may get
    id_token_signed_response_alg TEXT NOT NULL,
    userinfo_signed_response_alg TEXT,
    subject_type                 TEXT NOT NULL,   -- pairwise | public
    sector                       TEXT NOT NULL,   -- pairwise sector (host)
    jwks                         TEXT,            -- JSON, for private_key_jwt
    created_at                   BIGINT NOT NULL,
    updated_at                   BIGINT NOT NULL
);

CREATE TABLE consents (
    citizen_id TEXT NOT NULL,
    client_id  TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    scope      TEXT NOT NULL,                     -- space-separated, sorted
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (citizen_id, client_id)
);

-- One row per redeemed authorization: what the citizen granted the client.
CREATE TABLE grants (
    grant_id   TEXT PRIMARY KEY NOT NULL,
    client_id  TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    citizen_id TEXT NOT NULL,
    sid        TEXT NOT NULL,
    scope      TEXT NOT NULL,
    claims     TEXT NOT NULL,                     -- JSON: the claims request
    auth_time  BIGINT NOT NULL,
    acr        TEXT NOT NULL,
    amr        TEXT NOT NULL,                     -- JSON array
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX grants_citizen ON grants (citizen_id, client_id);

CREATE TABLE refresh_tokens (
    token_hash          TEXT PRIMARY KEY NOT NULL,
    family_id           TEXT NOT NULL,            -- all rotations of one grant
    grant_id            TEXT NOT NULL,
    client_id           TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    citizen_id          TEXT NOT NULL,
    sid                 TEXT NOT NULL,
    scope               TEXT NOT NULL,
    claims              TEXT NOT NULL,            -- JSON: the claims request
    auth_time           BIGINT NOT NULL,
    acr                 TEXT NOT NULL,
    amr                 TEXT NOT NULL,            -- JSON array
    offline             BIGINT NOT NULL,          -- 1 when offline_access was granted
    created_at          BIGINT NOT NULL,
    expires_at          BIGINT NOT NULL,          -- idle expiry of this token
    family_expires_at   BIGINT NOT NULL,          -- absolute expiry of the family
    rotated_at          BIGINT,
    revoked_at          BIGINT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_grant ON refresh_tokens (grant_id);
CREATE INDEX refresh_tokens_citizen ON refresh_tokens (citizen_id, client_id);

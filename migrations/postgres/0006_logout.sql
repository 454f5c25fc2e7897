-- Back-channel logout (OIDC Back-Channel Logout 1.0): a durable outbox
-- (same tables and columns as ../sqlite).
-- A row is written before the citizen's logout answer; replicas claim due
-- rows with a lease, deliver, and retry with backoff until they give up.

CREATE TABLE logout_deliveries (
    delivery_id     TEXT PRIMARY KEY NOT NULL,
    client_id       TEXT NOT NULL,
    uri             TEXT NOT NULL,
    logout_token    TEXT NOT NULL,
    jti             TEXT NOT NULL UNIQUE,
    reason          TEXT NOT NULL,               -- logout | deletion | consent_revoked | session_revoked
    created_at      BIGINT NOT NULL,
    attempts        BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    lease_owner     TEXT,
    lease_until     BIGINT,
    delivered_at    BIGINT,
    gave_up_at      BIGINT,
    last_error      TEXT
);
CREATE INDEX logout_deliveries_due ON logout_deliveries (next_attempt_at);

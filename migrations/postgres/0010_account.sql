-- The citizen's account, complete (same tables and columns as ../sqlite): mail (a durable outbox delivered like the
-- back-channel logout one), email verification challenges, and the
-- citizen's mail settings. Same tables and columns on both backends.

-- Mail waiting for the SMTP server, written in the transaction of the change
-- that causes it; replicas claim due rows with a lease, deliver, retry with
-- backoff, and blank the bodies once delivered or given up (a verification
-- code is never kept past its delivery).
CREATE TABLE mail_outbox (
    mail_id         TEXT PRIMARY KEY NOT NULL,
    citizen_id      TEXT,                        -- NULL once the account is deleted
    recipient       TEXT NOT NULL,
    kind            TEXT NOT NULL,               -- email_code | notice.<what>
    lang            TEXT NOT NULL,               -- fr | en
    subject         TEXT NOT NULL,
    text_body       TEXT NOT NULL,
    html_body       TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    attempts        BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    lease_owner     TEXT,
    lease_until     BIGINT,
    delivered_at    BIGINT,
    gave_up_at      BIGINT,
    last_error      TEXT
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at);

-- One pending email verification per citizen: the code and the link's
-- secret as SHA-256 only, 30 minutes, single use; sends and wrong guesses counted.
CREATE TABLE email_challenges (
    citizen_id   TEXT PRIMARY KEY NOT NULL REFERENCES citizens (id),
    email        TEXT NOT NULL,
    code_hash    TEXT NOT NULL,
    link_hash    TEXT NOT NULL UNIQUE,
    expires_at   BIGINT NOT NULL,
    sends        BIGINT NOT NULL,                -- within the window that began at window_start
    window_start BIGINT NOT NULL,
    failures     BIGINT NOT NULL
);

-- The language the citizen's mail is written in, and whether the
-- non-critical security notices are wanted (0/1).
ALTER TABLE citizens ADD COLUMN mail_lang TEXT;
ALTER TABLE citizens ADD COLUMN quiet_notices BIGINT NOT NULL DEFAULT 0;

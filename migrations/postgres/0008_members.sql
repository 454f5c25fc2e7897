-- Named members of organisations: a citizen account acting for an
-- organisation in a role (agent: verifies identities at the counter;
-- developer: manages the organisation's services; admin: manages members
-- and everything else of the organisation). One row per role held.
-- Same tables and columns on both backends, checked by a test.

CREATE TABLE organisation_members (
    organisation_id TEXT NOT NULL REFERENCES organisations (organisation_id),
    citizen_id      TEXT NOT NULL REFERENCES citizens (id),
    role            TEXT NOT NULL,                -- admin | developer | agent
    added_at        BIGINT NOT NULL,
    added_by        TEXT NOT NULL,                -- the actor, as the administrators' log names it
    PRIMARY KEY (organisation_id, citizen_id, role)
);
CREATE INDEX organisation_members_citizen ON organisation_members (citizen_id);

-- Single-use invitations to become a member; the link's secret is stored
-- only as its SHA-256.
CREATE TABLE member_invitations (
    invitation_id   TEXT PRIMARY KEY NOT NULL,
    token_hash      TEXT NOT NULL UNIQUE,
    organisation_id TEXT NOT NULL REFERENCES organisations (organisation_id),
    role            TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    accepted_at     BIGINT,
    accepted_by     TEXT,                         -- citizen id; emptied when that account is deleted
    revoked_at      BIGINT
);
CREATE INDEX member_invitations_organisation ON member_invitations (organisation_id);

-- Identity verifications at a counter (and, later, by trusted upstream
-- providers): who verified which of a citizen's attributes, how, with which
-- evidence, when. The citizen reads them on /account; services receive them
-- as verified_claims (OpenID Connect for Identity Assurance 1.0). Same
-- tables and columns on both backends, checked by a test.

CREATE TABLE identity_verifications (
    verification_id   TEXT PRIMARY KEY NOT NULL,
    citizen_id        TEXT NOT NULL REFERENCES citizens (id),
    kind              TEXT NOT NULL,      -- verification | recovery
    organisation_id   TEXT NOT NULL,      -- who verified (kept if the organisation goes)
    organisation_name TEXT NOT NULL,      -- as it was named then
    agent_id          TEXT NOT NULL,      -- the member (a citizen id) who checked
    method            TEXT NOT NULL,      -- pipp: physical in-person proofing (OIDC4IDA)
    document_type     TEXT NOT NULL,      -- idcard | passport | residence_permit
    document_issuer   TEXT NOT NULL,      -- issuing country, ISO 3166-1 alpha-3
    document_hash     TEXT NOT NULL,      -- keyed hash of the document's type, issuer and number
    document_expires  TEXT NOT NULL,      -- YYYY-MM-DD
    attributes        TEXT NOT NULL,      -- JSON array of the attribute names verified
    verified_at       BIGINT NOT NULL
);
CREATE INDEX identity_verifications_citizen ON identity_verifications (citizen_id);

-- One account per identity document: the verification that first used a
-- document owns it; another account presenting it is refused.
CREATE TABLE identity_documents (
    document_hash   TEXT PRIMARY KEY NOT NULL,
    verification_id TEXT NOT NULL REFERENCES identity_verifications (verification_id)
);
CREATE INDEX identity_documents_verification ON identity_documents (verification_id);

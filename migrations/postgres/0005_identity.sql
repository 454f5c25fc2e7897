-- The identity record ("identité pivot") and its assurance, and account
-- deletion. Same tables and columns on both backends, checked by a test.
--
-- citizens keeps the names and email declared at sign-up; every other
-- attribute (birthdate YYYY-MM-DD or partial YYYY-MM-00 / YYYY-00-00,
-- gender, birthplace and birthcountry as INSEE codes, phone_number,
-- address as a JSON object) is a row of citizen_attributes. A row also
-- records a verification of a citizens column (given_name, family_name,
-- email): its value is the value that was verified, so a later correction
-- of the column is unverified until checked again.

CREATE TABLE citizen_attributes (
    citizen_id  TEXT NOT NULL REFERENCES citizens (id),
    name        TEXT NOT NULL,
    value       TEXT NOT NULL,
    verified_by TEXT,                           -- who checked it: counter agent, trusted provider; NULL = self-declared
    verified_at BIGINT,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (citizen_id, name)
);

-- A deleted account keeps its row (id, identifier, created_at, deleted_at)
-- with every personal field emptied: the identifier keeps occupying the
-- unique index, so it is never issued again.
ALTER TABLE citizens ADD COLUMN deleted_at BIGINT;

-- Operations (issue 6): API tokens for integrations, and the erasure of a person's clinical data.
--
-- API tokens: created by an admin for one user of one clinic; the token acts with that user's
-- rights, narrowed by its scope ('read' = safe methods only, 'write' = also state-changing).
-- Only the SHA-256 of the secret is stored, beside a short visible prefix that identifies the
-- token in lists. Revocation sets revoked_at; the next request with the token is refused.
CREATE TABLE api_tokens (
    clinic_id     TEXT   NOT NULL REFERENCES clinics (clinic_id),
    token_id      TEXT   NOT NULL,
    token_hash    TEXT   NOT NULL,
    prefix        TEXT   NOT NULL,
    user_id       TEXT   NOT NULL,
    label         TEXT   NOT NULL,
    scope         TEXT   NOT NULL CHECK (scope IN ('read', 'write')),
    created_at    BIGINT NOT NULL,
    created_by    TEXT   NOT NULL,
    expires_at    BIGINT,
    last_used_at  BIGINT,
    revoked_at    BIGINT,
    revoked_by    TEXT,
    PRIMARY KEY (clinic_id, token_id),
    UNIQUE (clinic_id, token_hash),
    FOREIGN KEY (clinic_id, user_id) REFERENCES users (clinic_id, user_id)
);

-- The tombstone of an erasure (GDPR art. 17): that a person's clinical data was removed, by
-- whom, when and why; `erasure_counts` says how many rows of each table went. It holds no clinical content and
-- no client code or name: only the client's random id. Never updated or deleted.
CREATE TABLE erasures (
    clinic_id   TEXT   NOT NULL REFERENCES clinics (clinic_id),
    erasure_id  TEXT   NOT NULL,
    client_id   TEXT   NOT NULL,
    erased_by   TEXT   NOT NULL,
    erased_at   BIGINT NOT NULL,
    reason      TEXT   NOT NULL,
    PRIMARY KEY (clinic_id, erasure_id),
    UNIQUE (clinic_id, client_id)
);
-- The cases removed whole by an erasure (the person was their only client).
CREATE TABLE erased_cases (
    clinic_id   TEXT NOT NULL,
    case_id     TEXT NOT NULL,
    erasure_id  TEXT NOT NULL,
    PRIMARY KEY (clinic_id, case_id),
    FOREIGN KEY (clinic_id, erasure_id) REFERENCES erasures (clinic_id, erasure_id)
);
CREATE TABLE erasure_counts (
    clinic_id   TEXT    NOT NULL,
    erasure_id  TEXT    NOT NULL,
    table_name  TEXT    NOT NULL,
    row_count   BIGINT  NOT NULL,
    PRIMARY KEY (clinic_id, erasure_id, table_name),
    FOREIGN KEY (clinic_id, erasure_id) REFERENCES erasures (clinic_id, erasure_id)
);
CREATE TRIGGER erasures_are_immutable BEFORE UPDATE ON erasures
BEGIN
    SELECT RAISE(ABORT, 'erasure records are immutable');
END;
CREATE TRIGGER erasures_are_kept BEFORE DELETE ON erasures
BEGIN
    SELECT RAISE(ABORT, 'erasure records are never deleted');
END;
CREATE TRIGGER erasure_counts_are_immutable BEFORE UPDATE ON erasure_counts
BEGIN
    SELECT RAISE(ABORT, 'erasure records are immutable');
END;
CREATE TRIGGER erasure_counts_are_kept BEFORE DELETE ON erasure_counts
BEGIN
    SELECT RAISE(ABORT, 'erasure records are never deleted');
END;
CREATE TRIGGER erased_cases_are_immutable BEFORE UPDATE ON erased_cases
BEGIN
    SELECT RAISE(ABORT, 'erasure records are immutable');
END;
CREATE TRIGGER erased_cases_are_kept BEFORE DELETE ON erased_cases
BEGIN
    SELECT RAISE(ABORT, 'erasure records are never deleted');
END;

-- Immutable records may now be deleted on one path only: an erasure. The refusal stays for
-- every other row; a row is released only when an erasure record for its client (or its
-- case, removed whole) exists, written first in the same transaction as the deletes. Updates
-- stay refused without exception.
DROP TRIGGER responses_are_kept;
CREATE TRIGGER responses_are_kept BEFORE DELETE ON responses
WHEN NOT EXISTS (SELECT 1 FROM erasures e WHERE e.clinic_id = OLD.clinic_id AND e.client_id = OLD.client_id)
 AND NOT EXISTS (SELECT 1 FROM erased_cases c WHERE c.clinic_id = OLD.clinic_id AND c.case_id = OLD.case_id)
BEGIN
    SELECT RAISE(ABORT, 'responses are never deleted: record a correction instead');
END;

DROP TRIGGER agreements_log_is_kept;
CREATE TRIGGER agreements_log_is_kept BEFORE DELETE ON agreements_log
WHEN NOT EXISTS (SELECT 1 FROM erased_cases c WHERE c.clinic_id = OLD.clinic_id AND c.case_id = OLD.case_id)
 AND NOT (OLD.object_type = 'consent' AND EXISTS (
        SELECT 1 FROM consent_records r JOIN erasures e ON e.clinic_id = r.clinic_id AND e.client_id = r.client_id
        WHERE r.clinic_id = OLD.clinic_id AND r.consent_id = OLD.object_id))
BEGIN
    SELECT RAISE(ABORT, 'the agreements log is never deleted');
END;

DROP TRIGGER formulations_are_kept;
CREATE TRIGGER formulations_are_kept BEFORE DELETE ON formulations
WHEN NOT EXISTS (SELECT 1 FROM erased_cases c WHERE c.clinic_id = OLD.clinic_id AND c.case_id = OLD.case_id)
BEGIN
    SELECT RAISE(ABORT, 'formulation versions are never deleted');
END;

DROP TRIGGER consent_records_are_kept;
CREATE TRIGGER consent_records_are_kept BEFORE DELETE ON consent_records
WHEN NOT EXISTS (SELECT 1 FROM erasures e WHERE e.clinic_id = OLD.clinic_id AND e.client_id = OLD.client_id)
BEGIN
    SELECT RAISE(ABORT, 'consent records are never deleted');
END;

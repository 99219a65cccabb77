-- Operations (issue 6), PostgreSQL twin of sqlite/0007_operations.sql: API tokens, and the
-- erasure of a person's clinical data (see the SQLite file for the reasoning).

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

CREATE FUNCTION bordin_erasure_records_are_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'erasure records are immutable and never deleted';
END;
$$;
CREATE TRIGGER erasures_are_kept BEFORE UPDATE OR DELETE ON erasures
    FOR EACH ROW EXECUTE FUNCTION bordin_erasure_records_are_kept();
CREATE TRIGGER erased_cases_are_kept BEFORE UPDATE OR DELETE ON erased_cases
    FOR EACH ROW EXECUTE FUNCTION bordin_erasure_records_are_kept();
CREATE TRIGGER erasure_counts_are_kept BEFORE UPDATE OR DELETE ON erasure_counts
    FOR EACH ROW EXECUTE FUNCTION bordin_erasure_records_are_kept();

-- Deletes of immutable records are refused unless an erasure record for the row's client (or
-- its case, removed whole) exists; updates stay refused by the original triggers.
CREATE FUNCTION bordin_refuse_delete_unless_erased() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    released BOOLEAN := FALSE;
BEGIN
    IF TG_TABLE_NAME IN ('responses', 'agreements_log', 'formulations') THEN
        released := EXISTS (SELECT 1 FROM erased_cases c
                            WHERE c.clinic_id = OLD.clinic_id AND c.case_id = OLD.case_id);
    END IF;
    IF NOT released AND TG_TABLE_NAME IN ('responses', 'consent_records') THEN
        released := EXISTS (SELECT 1 FROM erasures e
                            WHERE e.clinic_id = OLD.clinic_id AND e.client_id = OLD.client_id);
    END IF;
    IF NOT released AND TG_TABLE_NAME = 'agreements_log' AND OLD.object_type = 'consent' THEN
        released := EXISTS (SELECT 1 FROM consent_records r
                            JOIN erasures e ON e.clinic_id = r.clinic_id AND e.client_id = r.client_id
                            WHERE r.clinic_id = OLD.clinic_id AND r.consent_id = OLD.object_id);
    END IF;
    IF released THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION '% rows are never deleted (only an erasure may remove them)', TG_TABLE_NAME;
END;
$$;

DROP TRIGGER IF EXISTS responses_are_kept ON responses;
CREATE TRIGGER responses_are_kept BEFORE DELETE ON responses
    FOR EACH ROW EXECUTE FUNCTION bordin_refuse_delete_unless_erased();
DROP TRIGGER IF EXISTS agreements_log_is_kept ON agreements_log;
CREATE TRIGGER agreements_log_is_kept BEFORE DELETE ON agreements_log
    FOR EACH ROW EXECUTE FUNCTION bordin_refuse_delete_unless_erased();
DROP TRIGGER IF EXISTS formulations_are_kept ON formulations;
CREATE TRIGGER formulations_are_kept BEFORE DELETE ON formulations
    FOR EACH ROW EXECUTE FUNCTION bordin_refuse_delete_unless_erased();
DROP TRIGGER IF EXISTS consent_records_are_kept ON consent_records;
CREATE TRIGGER consent_records_are_kept BEFORE DELETE ON consent_records
    FOR EACH ROW EXECUTE FUNCTION bordin_refuse_delete_unless_erased();

-- Encryption at rest for clinical free text (issue 7, item 5); see crates/store/src/seal.rs.
-- Sealed values are stored as text ('sealed:v1:KEY_ID:…') in the columns that held plain text,
-- so no column changes type. What changes: the append-only tables may now have their free-text
-- columns rewritten by key rotation (`bordin keys rotate`), and only with sealed values; every
-- other column stays immutable, and deletes stay refused.


-- Refuses an UPDATE unless it changes only the named free-text columns (TG_ARGV[1:]) and leaves
-- each of them NULL or sealed. TG_ARGV[0] is the message.
CREATE FUNCTION bordin_reseal_only() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    sealed text[] := TG_ARGV[1:];
    col text;
    v text;
BEGIN
    IF (to_jsonb(NEW) - sealed) IS DISTINCT FROM (to_jsonb(OLD) - sealed) THEN
        RAISE EXCEPTION '%', TG_ARGV[0];
    END IF;
    FOREACH col IN ARRAY sealed LOOP
        v := to_jsonb(NEW) ->> col;
        IF (v IS NULL) <> ((to_jsonb(OLD) ->> col) IS NULL) OR (v IS NOT NULL AND substr(v, 1, 10) <> 'sealed:v1:') THEN
            RAISE EXCEPTION '% (only re-encryption may rewrite its text)', TG_ARGV[0];
        END IF;
    END LOOP;
    RETURN NEW;
END;
$$;

DROP TRIGGER IF EXISTS responses_are_immutable ON responses;
CREATE TRIGGER responses_are_immutable BEFORE UPDATE ON responses
    FOR EACH ROW EXECUTE FUNCTION bordin_reseal_only('responses are immutable: record a correction instead', 'correction_reason');

DROP TRIGGER IF EXISTS formulations_are_immutable ON formulations;
CREATE TRIGGER formulations_are_immutable BEFORE UPDATE ON formulations
    FOR EACH ROW EXECUTE FUNCTION bordin_reseal_only('formulation versions are immutable: save a new version', 'presenting_concerns', 'preferences', 'strengths', 'identities_context', 'reason');

DROP TRIGGER IF EXISTS consent_records_are_append_only ON consent_records;
CREATE TRIGGER consent_records_are_append_only BEFORE UPDATE ON consent_records
    FOR EACH ROW EXECUTE FUNCTION bordin_reseal_only('consent records are append-only: record a new decision', 'note');

DROP TRIGGER IF EXISTS agreements_log_is_append_only ON agreements_log;
CREATE TRIGGER agreements_log_is_append_only BEFORE UPDATE ON agreements_log
    FOR EACH ROW EXECUTE FUNCTION bordin_reseal_only('the agreements log is append-only', 'reason', 'snapshot');

DROP TRIGGER IF EXISTS alert_events_are_append_only ON alert_events;
CREATE TRIGGER alert_events_are_append_only BEFORE UPDATE ON alert_events
    FOR EACH ROW EXECUTE FUNCTION bordin_reseal_only('alert events are append-only', 'note');

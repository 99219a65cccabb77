-- Encryption at rest for clinical free text (issue 7, item 5); see crates/store/src/seal.rs.
-- Sealed values are stored as text ('sealed:v1:KEY_ID:…') in the columns that held plain text,
-- so no column changes type. What changes: the append-only tables may now have their free-text
-- columns rewritten by key rotation (`bordin keys rotate`), and only with sealed values; every
-- other column stays immutable, and deletes stay refused.


DROP TRIGGER responses_are_immutable;
CREATE TRIGGER responses_are_immutable BEFORE UPDATE OF clinic_id, response_id, administration_id, case_id, session_id, client_id, instrument_id, instrument_version, respondent, answers, submitted_at, entered_by, source, version, supersedes ON responses
BEGIN
    SELECT RAISE(ABORT, 'responses are immutable: record a correction instead');
END;
CREATE TRIGGER responses_reseal_only BEFORE UPDATE OF correction_reason ON responses
WHEN (NEW.correction_reason IS NULL) <> (OLD.correction_reason IS NULL) OR substr(NEW.correction_reason, 1, 10) <> 'sealed:v1:'
BEGIN
    SELECT RAISE(ABORT, 'responses are immutable: record a correction instead (only re-encryption may rewrite its text)');
END;

DROP TRIGGER formulations_are_immutable;
CREATE TRIGGER formulations_are_immutable BEFORE UPDATE OF clinic_id, case_id, version, goal_ids, created_at, created_by, created_by_role ON formulations
BEGIN
    SELECT RAISE(ABORT, 'formulation versions are immutable: save a new version');
END;
CREATE TRIGGER formulations_reseal_only BEFORE UPDATE OF presenting_concerns, preferences, strengths, identities_context, reason ON formulations
WHEN (NEW.presenting_concerns IS NULL) <> (OLD.presenting_concerns IS NULL) OR substr(NEW.presenting_concerns, 1, 10) <> 'sealed:v1:' OR (NEW.preferences IS NULL) <> (OLD.preferences IS NULL) OR substr(NEW.preferences, 1, 10) <> 'sealed:v1:' OR (NEW.strengths IS NULL) <> (OLD.strengths IS NULL) OR substr(NEW.strengths, 1, 10) <> 'sealed:v1:' OR (NEW.identities_context IS NULL) <> (OLD.identities_context IS NULL) OR substr(NEW.identities_context, 1, 10) <> 'sealed:v1:' OR (NEW.reason IS NULL) <> (OLD.reason IS NULL) OR substr(NEW.reason, 1, 10) <> 'sealed:v1:'
BEGIN
    SELECT RAISE(ABORT, 'formulation versions are immutable: save a new version (only re-encryption may rewrite its text)');
END;

DROP TRIGGER consent_records_are_append_only;
CREATE TRIGGER consent_records_are_append_only BEFORE UPDATE OF clinic_id, consent_id, case_id, client_id, kind, decision, at, recorded_by, recorded_by_role ON consent_records
BEGIN
    SELECT RAISE(ABORT, 'consent records are append-only: record a new decision');
END;
CREATE TRIGGER consent_records_reseal_only BEFORE UPDATE OF note ON consent_records
WHEN (NEW.note IS NULL) <> (OLD.note IS NULL) OR substr(NEW.note, 1, 10) <> 'sealed:v1:'
BEGIN
    SELECT RAISE(ABORT, 'consent records are append-only: record a new decision (only re-encryption may rewrite its text)');
END;

DROP TRIGGER agreements_log_is_append_only;
CREATE TRIGGER agreements_log_is_append_only BEFORE UPDATE OF clinic_id, entry_id, case_id, seq, object_type, object_id, version, action, actor_role, actor, at ON agreements_log
BEGIN
    SELECT RAISE(ABORT, 'the agreements log is append-only');
END;
CREATE TRIGGER agreements_log_reseal_only BEFORE UPDATE OF reason, snapshot ON agreements_log
WHEN (NEW.reason IS NULL) <> (OLD.reason IS NULL) OR substr(NEW.reason, 1, 10) <> 'sealed:v1:' OR (NEW.snapshot IS NULL) <> (OLD.snapshot IS NULL) OR substr(NEW.snapshot, 1, 10) <> 'sealed:v1:'
BEGIN
    SELECT RAISE(ABORT, 'the agreements log is append-only (only re-encryption may rewrite its text)');
END;

DROP TRIGGER alert_events_are_append_only;
CREATE TRIGGER alert_events_are_append_only BEFORE UPDATE OF clinic_id, alert_id, at, actor, action ON alert_events
BEGIN
    SELECT RAISE(ABORT, 'alert events are append-only');
END;
CREATE TRIGGER alert_events_reseal_only BEFORE UPDATE OF note ON alert_events
WHEN (NEW.note IS NULL) <> (OLD.note IS NULL) OR substr(NEW.note, 1, 10) <> 'sealed:v1:'
BEGIN
    SELECT RAISE(ABORT, 'alert events are append-only (only re-encryption may rewrite its text)');
END;

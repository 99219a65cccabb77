-- The audit trail (issue 7, item 4): one hash-chained, append-only log per clinic.
-- h_i = SHA-256(h_{i-1} || canonical bytes of entry i); see crates/store/src/audit.rs.
-- Appends lock the clinic's audit_heads row FOR UPDATE, so concurrent appends serialise.

CREATE TABLE audit_log (
    clinic_id    TEXT   NOT NULL,
    seq          BIGINT NOT NULL CHECK (seq >= 1),
    at           BIGINT NOT NULL,
    actor_kind   TEXT   NOT NULL CHECK (actor_kind IN ('user', 'link', 'token', 'system')),
    actor_id     TEXT   NOT NULL,
    action       TEXT   NOT NULL,
    object_type  TEXT   NOT NULL,
    object_id    TEXT   NOT NULL,
    case_id      TEXT,
    outcome      TEXT   NOT NULL CHECK (outcome IN ('ok', 'denied')),
    source       TEXT   NOT NULL,
    prev_hash    TEXT   NOT NULL,
    hash         TEXT   NOT NULL,
    PRIMARY KEY (clinic_id, seq)
);
CREATE INDEX audit_log_by_case ON audit_log (clinic_id, case_id, seq);
CREATE INDEX audit_log_by_actor ON audit_log (clinic_id, actor_id, seq);
CREATE INDEX audit_log_by_time ON audit_log (clinic_id, at);

CREATE FUNCTION audit_log_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only and never deleted';
END;
$$;
CREATE TRIGGER audit_log_is_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse();

CREATE TABLE audit_heads (
    clinic_id  TEXT   NOT NULL PRIMARY KEY,
    seq        BIGINT NOT NULL CHECK (seq >= 0),
    hash       TEXT   NOT NULL
);
CREATE FUNCTION audit_heads_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'audit chain heads are never deleted';
    END IF;
    IF NEW.seq <> OLD.seq + 1 OR NEW.clinic_id <> OLD.clinic_id THEN
        RAISE EXCEPTION 'an audit chain head only moves on by one entry';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER audit_heads_move_by_one BEFORE UPDATE OR DELETE ON audit_heads
    FOR EACH ROW EXECUTE FUNCTION audit_heads_guard();
CREATE TRIGGER audit_log_is_kept_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse();

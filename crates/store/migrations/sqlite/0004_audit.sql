-- The audit trail (issue 7, item 4): one hash-chained, append-only log per clinic.
-- h_i = SHA-256(h_{i-1} || canonical bytes of entry i); see crates/store/src/audit.rs.
-- Entries hold ids, kinds and outcomes only, never clinical content.

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

CREATE TRIGGER audit_log_is_append_only BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit trail is append-only');
END;
CREATE TRIGGER audit_log_is_kept BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit trail is never deleted');
END;

-- The chain head per clinic: the row every append reads and moves on by one, in the same
-- transaction as the entry (the serialisation point for concurrent appends).
CREATE TABLE audit_heads (
    clinic_id  TEXT   NOT NULL PRIMARY KEY,
    seq        BIGINT NOT NULL CHECK (seq >= 0),
    hash       TEXT   NOT NULL
);
CREATE TRIGGER audit_heads_move_by_one BEFORE UPDATE ON audit_heads
WHEN NEW.seq <> OLD.seq + 1 OR NEW.clinic_id <> OLD.clinic_id
BEGIN
    SELECT RAISE(ABORT, 'an audit chain head only moves on by one entry');
END;
CREATE TRIGGER audit_heads_are_kept BEFORE DELETE ON audit_heads
BEGIN
    SELECT RAISE(ABORT, 'audit chain heads are never deleted');
END;

-- The audit chain head moves with the entries (issue 6, load): inserting an entry moves its
-- clinic's head to it, in the INSERT itself, instead of an UPDATE of the application's (the
-- PostgreSQL migration says why it matters there; SQLite does the same so that both backends
-- keep one rule). The head still only moves forward, to an entry of its chain
-- (audit_heads_move_by_one checks this UPDATE as it checked the application's); a head already
-- at or past the entry is left alone.
CREATE TRIGGER audit_log_moves_head AFTER INSERT ON audit_log
BEGIN
    UPDATE audit_heads SET seq = NEW.seq, hash = NEW.hash
    WHERE clinic_id = NEW.clinic_id AND seq < NEW.seq;
END;

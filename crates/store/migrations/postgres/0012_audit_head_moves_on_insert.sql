-- The audit chain head moves with the entries (issue 6, load): inserting entries moves their
-- clinic's head to the last of them, in the INSERT itself, instead of an UPDATE of its own. On
-- PostgreSQL every statement of an append is a network round trip made while the clinic's head
-- is locked, and every other append of the clinic waits for that lock; this takes one of them
-- away. The head still only moves forward, to an entry of its chain (audit_heads_move_by_one
-- checks the UPDATE below as it checked the application's). A head already at or past the
-- inserted entries (a pg_restore that loads audit_heads before audit_log) is left alone.
CREATE FUNCTION audit_log_move_head() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE audit_heads h SET seq = last.seq, hash = last.hash
    FROM (SELECT DISTINCT ON (clinic_id) clinic_id, seq, hash
          FROM appended ORDER BY clinic_id, seq DESC) last
    WHERE h.clinic_id = last.clinic_id AND h.seq < last.seq;
    RETURN NULL;
END;
$$;
CREATE TRIGGER audit_log_moves_head AFTER INSERT ON audit_log
    REFERENCING NEW TABLE AS appended
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_move_head();

-- Group appends (issue 6, load): a group of audit entries is inserted with one statement and the
-- clinic's chain head moved once, to the group's last entry. The head may therefore move forward
-- by more than one entry, but only to an entry of its own chain (same sequence number and hash);
-- entries can never be removed (audit_log_is_kept), so no entry can be skipped by this.
CREATE OR REPLACE FUNCTION audit_heads_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'audit chain heads are never deleted';
    END IF;
    IF NEW.clinic_id <> OLD.clinic_id
       OR NEW.seq <= OLD.seq
       OR NOT EXISTS (SELECT 1 FROM audit_log WHERE clinic_id = NEW.clinic_id AND seq = NEW.seq AND hash = NEW.hash) THEN
        RAISE EXCEPTION 'an audit chain head only moves forward, to an entry of its chain';
    END IF;
    RETURN NEW;
END;
$$;

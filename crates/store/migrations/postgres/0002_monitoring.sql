-- Monitoring: per-case series (a read model derived from scores) and alerts with their lifecycle.

-- One row per case: every monitored measure's scores by session, and which sessions were
-- attended, as JSON. Rebuilt from `scores` and `sessions` inside the same transaction that
-- changes them, so it is never out of date; whole-clinic evaluation reads one row per case.
CREATE TABLE case_series (
    clinic_id   TEXT   NOT NULL,
    case_id     TEXT   NOT NULL,
    series      TEXT   NOT NULL,
    sessions    TEXT   NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (clinic_id, case_id),
    FOREIGN KEY (clinic_id, case_id) REFERENCES cases (clinic_id, case_id)
);

-- Signals that need (or record) a clinician's attention. `event_key` identifies the event
-- (e.g. 'rupture:wai_sr.goal:7'): an alert is raised once per event, so a resolved alert does
-- not come back for the same event.
CREATE TABLE alerts (
    clinic_id        TEXT    NOT NULL,
    alert_id         TEXT    NOT NULL,
    case_id          TEXT    NOT NULL,
    kind             TEXT    NOT NULL,
    measure          TEXT    NOT NULL,
    session_number   BIGINT  NOT NULL,
    event_key        TEXT    NOT NULL,
    urgency          TEXT    NOT NULL CHECK (urgency IN ('red', 'amber', 'green')),
    message          TEXT    NOT NULL,
    detail           TEXT    NOT NULL,
    status           TEXT    NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved', 'info')),
    raised_at        BIGINT  NOT NULL,
    acknowledged_at  BIGINT,
    acknowledged_by  TEXT,
    resolved_at      BIGINT,
    resolved_by      TEXT,
    action_taken     TEXT,
    PRIMARY KEY (clinic_id, alert_id),
    UNIQUE (clinic_id, case_id, event_key),
    FOREIGN KEY (clinic_id, case_id) REFERENCES cases (clinic_id, case_id)
);
CREATE INDEX alerts_by_status ON alerts (clinic_id, status, urgency);

-- Every change of an alert: who, when, what, and the note (append-only).
CREATE TABLE alert_events (
    clinic_id  TEXT   NOT NULL,
    alert_id   TEXT   NOT NULL,
    at         BIGINT NOT NULL,
    actor      TEXT   NOT NULL,
    action     TEXT   NOT NULL CHECK (action IN ('raised', 'acknowledged', 'resolved', 'reopened')),
    note       TEXT,
    PRIMARY KEY (clinic_id, alert_id, at, action),
    FOREIGN KEY (clinic_id, alert_id) REFERENCES alerts (clinic_id, alert_id)
);

CREATE TRIGGER alert_events_are_append_only BEFORE UPDATE ON alert_events
    FOR EACH ROW EXECUTE FUNCTION bordin_refuse('alert events are append-only');

-- Goals, tasks, case formulation, consent and the agreements log (issue 4).
--
-- Goals and tasks are edited in place with a `version` that every change raises by one; an edit
-- names the version it was made from and fails if the row has moved on (optimistic concurrency:
-- nothing is silently overwritten). Each version's full row is kept as a snapshot in the
-- append-only `agreements_log`, written in the same transaction as the change. Formulation
-- versions and consent records are rows of their own and never change.

CREATE TABLE goals (
    clinic_id        TEXT    NOT NULL,
    goal_id          TEXT    NOT NULL,
    case_id          TEXT    NOT NULL,
    words            TEXT    NOT NULL,
    why              TEXT,
    priority         BIGINT  NOT NULL CHECK (priority BETWEEN 1 AND 5),
    target_date      TEXT,
    how_we_know      TEXT,
    -- JSON array of the five descriptions of levels -2..+2, or NULL when not scaled.
    gas_levels       TEXT,
    status           TEXT    NOT NULL CHECK (status IN ('proposed', 'active', 'reached', 'dropped')),
    proposed_by      TEXT    NOT NULL CHECK (proposed_by IN ('client', 'clinician')),
    version          BIGINT  NOT NULL CHECK (version >= 1),
    created_at       BIGINT  NOT NULL,
    created_by       TEXT    NOT NULL,
    updated_at       BIGINT  NOT NULL,
    updated_by       TEXT    NOT NULL,
    updated_by_role  TEXT    NOT NULL CHECK (updated_by_role IN ('client', 'clinician')),
    PRIMARY KEY (clinic_id, goal_id),
    FOREIGN KEY (clinic_id, case_id) REFERENCES cases (clinic_id, case_id)
);
CREATE INDEX goals_by_case ON goals (clinic_id, case_id);

-- Ratings of a goal: agreement (how important to work on it, 0-10, by client or clinician),
-- progress (0-10), GAS attainment level (-2..+2), satisfaction when reached (0-10).
CREATE TABLE goal_ratings (
    clinic_id   TEXT    NOT NULL,
    rating_id   TEXT    NOT NULL,
    goal_id     TEXT    NOT NULL,
    case_id     TEXT    NOT NULL,
    session_id  TEXT,
    rater       TEXT    NOT NULL CHECK (rater IN ('client', 'clinician')),
    kind        TEXT    NOT NULL CHECK (kind IN ('agreement', 'progress', 'gas', 'satisfaction')),
    value       BIGINT  NOT NULL,
    rated_by    TEXT    NOT NULL,
    rated_at    BIGINT  NOT NULL,
    PRIMARY KEY (clinic_id, rating_id),
    FOREIGN KEY (clinic_id, goal_id) REFERENCES goals (clinic_id, goal_id),
    FOREIGN KEY (clinic_id, case_id) REFERENCES cases (clinic_id, case_id),
    FOREIGN KEY (clinic_id, session_id) REFERENCES sessions (clinic_id, session_id),
    CHECK ((kind = 'gas' AND value BETWEEN -2 AND 2) OR (kind <> 'gas' AND value BETWEEN 0 AND 10))
);
CREATE INDEX goal_ratings_by_case ON goal_ratings (clinic_id, case_id, rated_at);

CREATE TABLE tasks (
    clinic_id        TEXT    NOT NULL,
    task_id          TEXT    NOT NULL,
    case_id          TEXT    NOT NULL,
    goal_id          TEXT    NOT NULL,
    title            TEXT    NOT NULL,
    rationale        TEXT    NOT NULL,
    owner            TEXT    NOT NULL CHECK (owner IN ('client', 'clinician', 'both')),
    difficulty       BIGINT  NOT NULL CHECK (difficulty BETWEEN 1 AND 5),
    due_on           TEXT,
    status           TEXT    NOT NULL CHECK (status IN ('agreed', 'done', 'skipped', 'dropped')),
    version          BIGINT  NOT NULL CHECK (version >= 1),
    created_at       BIGINT  NOT NULL,
    created_by       TEXT    NOT NULL,
    updated_at       BIGINT  NOT NULL,
    updated_by       TEXT    NOT NULL,
    updated_by_role  TEXT    NOT NULL CHECK (updated_by_role IN ('client', 'clinician')),
    PRIMARY KEY (clinic_id, task_id),
    FOREIGN KEY (clinic_id, case_id) REFERENCES cases (clinic_id, case_id),
    FOREIGN KEY (clinic_id, goal_id) REFERENCES goals (clinic_id, goal_id)
);
CREATE INDEX tasks_by_case ON tasks (clinic_id, case_id);

-- The client's reports on a task: completed or skipped, how helpful and how relevant (0-10).
CREATE TABLE task_reports (
    clinic_id    TEXT    NOT NULL,
    report_id    TEXT    NOT NULL,
    task_id      TEXT    NOT NULL,
    case_id      TEXT    NOT NULL,
    session_id   TEXT,
    outcome      TEXT    NOT NULL CHECK (outcome IN ('completed', 'skipped')),
    helpful      BIGINT  CHECK (helpful BETWEEN 0 AND 10),
    relevant     BIGINT  CHECK (relevant BETWEEN 0 AND 10),
    note         TEXT,
    reporter     TEXT    NOT NULL CHECK (reporter IN ('client', 'clinician')),
    reported_by  TEXT    NOT NULL,
    reported_at  BIGINT  NOT NULL,
    PRIMARY KEY (clinic_id, report_id),
    FOREIGN KEY (clinic_id, task_id) REFERENCES tasks (clinic_id, task_id),
    FOREIGN KEY (clinic_id, case_id) REFERENCES cases (clinic_id, case_id),
    FOREIGN KEY (clinic_id, session_id) REFERENCES sessions (clinic_id, session_id)
);
CREATE INDEX task_reports_by_case ON task_reports (clinic_id, case_id, reported_at);

-- Case formulation, one row per version; the current one is the highest version of the case.
CREATE TABLE formulations (
    clinic_id            TEXT    NOT NULL,
    case_id              TEXT    NOT NULL,
    version              BIGINT  NOT NULL CHECK (version >= 1),
    presenting_concerns  TEXT,
    preferences          TEXT,
    strengths            TEXT,
    identities_context   TEXT,
    -- JSON array of the linked goal ids.
    goal_ids             TEXT    NOT NULL,
    created_at           BIGINT  NOT NULL,
    created_by           TEXT    NOT NULL,
    created_by_role      TEXT    NOT NULL CHECK (created_by_role IN ('client', 'clinician')),
    reason               TEXT,
    PRIMARY KEY (clinic_id, case_id, version),
    FOREIGN KEY (clinic_id, case_id) REFERENCES cases (clinic_id, case_id)
);
CREATE TRIGGER formulations_are_immutable BEFORE UPDATE ON formulations
    FOR EACH ROW EXECUTE FUNCTION bordin_refuse('formulation versions are immutable: save a new version');
CREATE TRIGGER formulations_are_kept BEFORE DELETE ON formulations
    FOR EACH ROW EXECUTE FUNCTION bordin_refuse('formulation versions are never deleted');
CREATE TRIGGER formulations_are_kept_truncate BEFORE TRUNCATE ON formulations
    FOR EACH STATEMENT EXECUTE FUNCTION bordin_refuse('formulation versions are never deleted');

-- What a client agreed to (or withdrew), when and recorded by whom. Append-only: the latest
-- record per client and kind is in force.
CREATE TABLE consent_records (
    clinic_id         TEXT   NOT NULL,
    consent_id        TEXT   NOT NULL,
    case_id           TEXT   NOT NULL,
    client_id         TEXT   NOT NULL,
    kind              TEXT   NOT NULL CHECK (kind IN ('questionnaires', 'transcript_analysis', 'live_copilot', 'research_export')),
    decision          TEXT   NOT NULL CHECK (decision IN ('granted', 'withdrawn')),
    at                BIGINT NOT NULL,
    recorded_by       TEXT   NOT NULL,
    recorded_by_role  TEXT   NOT NULL CHECK (recorded_by_role IN ('client', 'clinician')),
    note              TEXT,
    PRIMARY KEY (clinic_id, consent_id),
    FOREIGN KEY (clinic_id, case_id) REFERENCES cases (clinic_id, case_id),
    FOREIGN KEY (clinic_id, client_id) REFERENCES clients (clinic_id, client_id)
);
CREATE INDEX consent_records_by_case ON consent_records (clinic_id, case_id, at);
CREATE TRIGGER consent_records_are_append_only BEFORE UPDATE ON consent_records
    FOR EACH ROW EXECUTE FUNCTION bordin_refuse('consent records are append-only: record a new decision');
CREATE TRIGGER consent_records_are_kept BEFORE DELETE ON consent_records
    FOR EACH ROW EXECUTE FUNCTION bordin_refuse('consent records are never deleted');
CREATE TRIGGER consent_records_are_kept_truncate BEFORE TRUNCATE ON consent_records
    FOR EACH STATEMENT EXECUTE FUNCTION bordin_refuse('consent records are never deleted');

-- Every change to goals, tasks, formulation and consent: who, when, why, and the object as it
-- stood after the change (JSON). `seq` orders a case's entries (1, 2, 3, ...). Append-only.
CREATE TABLE agreements_log (
    clinic_id    TEXT    NOT NULL,
    entry_id     TEXT    NOT NULL,
    case_id      TEXT    NOT NULL,
    seq          BIGINT  NOT NULL CHECK (seq >= 1),
    object_type  TEXT    NOT NULL CHECK (object_type IN ('goal', 'task', 'formulation', 'consent')),
    object_id    TEXT    NOT NULL,
    version      BIGINT  NOT NULL CHECK (version >= 1),
    action       TEXT    NOT NULL CHECK (action IN ('created', 'edited', 'renegotiated', 'status', 'rated', 'reported', 'granted', 'withdrawn')),
    actor_role   TEXT    NOT NULL CHECK (actor_role IN ('client', 'clinician')),
    actor        TEXT    NOT NULL,
    at           BIGINT  NOT NULL,
    reason       TEXT,
    snapshot     TEXT    NOT NULL,
    PRIMARY KEY (clinic_id, entry_id),
    UNIQUE (clinic_id, case_id, seq),
    FOREIGN KEY (clinic_id, case_id) REFERENCES cases (clinic_id, case_id)
);
CREATE INDEX agreements_log_by_object ON agreements_log (clinic_id, object_type, object_id, seq);
CREATE TRIGGER agreements_log_is_append_only BEFORE UPDATE ON agreements_log
    FOR EACH ROW EXECUTE FUNCTION bordin_refuse('the agreements log is append-only');
CREATE TRIGGER agreements_log_is_kept BEFORE DELETE ON agreements_log
    FOR EACH ROW EXECUTE FUNCTION bordin_refuse('the agreements log is never deleted');
CREATE TRIGGER agreements_log_is_kept_truncate BEFORE TRUNCATE ON agreements_log
    FOR EACH STATEMENT EXECUTE FUNCTION bordin_refuse('the agreements log is never deleted');

-- A client's link to their own page of a case (goals, tasks, progress), without an account.
-- Only the SHA-256 of the link's secret is stored, beside the clinic id.
CREATE TABLE case_links (
    clinic_id   TEXT    NOT NULL,
    token_hash  TEXT    NOT NULL,
    case_id     TEXT    NOT NULL,
    client_id   TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    created_by  TEXT    NOT NULL,
    expires_at  BIGINT,
    revoked     BIGINT  NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)),
    PRIMARY KEY (clinic_id, token_hash),
    FOREIGN KEY (clinic_id, case_id) REFERENCES cases (clinic_id, case_id),
    FOREIGN KEY (clinic_id, client_id) REFERENCES clients (clinic_id, client_id)
);
CREATE INDEX case_links_by_case ON case_links (clinic_id, case_id);

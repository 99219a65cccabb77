-- Session transcripts and their analysis (issue 5: listening).
--
-- A transcript belongs to one session of a case. What it says (the text as uploaded, the
-- speakers' names and their roles, and the full analysis, which quotes turns) lives in
-- `transcript_texts`, sealed, and is DELETED when the clinic's retention period has passed.
-- `transcripts` keeps the facts and the summary numbers (shares, counts, goal ids): never text.
-- Upload and analysis need the client's recorded transcript-analysis consent (checked by the
-- server before anything is written here).

-- How long a clinic keeps transcript text; without a row the store's default applies.
CREATE TABLE transcript_settings (
    clinic_id       TEXT    NOT NULL PRIMARY KEY REFERENCES clinics (clinic_id),
    retention_days  INTEGER NOT NULL CHECK (retention_days >= 1 AND retention_days <= 3650),
    updated_at      BIGINT  NOT NULL,
    updated_by      TEXT    NOT NULL
);

CREATE TABLE transcripts (
    clinic_id      TEXT   NOT NULL,
    transcript_id  TEXT   NOT NULL,
    case_id        TEXT   NOT NULL,
    session_id     TEXT   NOT NULL,
    -- 'upload': a file after the session; 'live': the turns of a live co-pilot session.
    source         TEXT   NOT NULL CHECK (source IN ('upload', 'live')),
    format         TEXT   NOT NULL CHECK (format IN ('vtt', 'srt', 'json', 'txt')),
    -- 'needs_roles': waiting for the user to say who is who; 'analysed'; 'purged': text deleted.
    status         TEXT   NOT NULL CHECK (status IN ('needs_roles', 'analysed', 'purged')),
    created_at     BIGINT NOT NULL,
    created_by     TEXT   NOT NULL,
    analysed_at    BIGINT,
    purged_at      BIGINT,
    -- JSON of numbers and ids only (talk shares, marker counts, goals touched); kept after purge.
    summary        TEXT,
    PRIMARY KEY (clinic_id, transcript_id),
    FOREIGN KEY (clinic_id, case_id) REFERENCES cases (clinic_id, case_id),
    FOREIGN KEY (clinic_id, session_id) REFERENCES sessions (clinic_id, session_id)
);
CREATE INDEX transcripts_by_case ON transcripts (clinic_id, case_id, created_at);
CREATE INDEX transcripts_by_age ON transcripts (clinic_id, status, created_at);

CREATE TABLE transcript_texts (
    clinic_id      TEXT NOT NULL,
    transcript_id  TEXT NOT NULL,
    body           TEXT NOT NULL,
    speakers       TEXT NOT NULL,
    analysis       TEXT,
    PRIMARY KEY (clinic_id, transcript_id),
    FOREIGN KEY (clinic_id, transcript_id) REFERENCES transcripts (clinic_id, transcript_id)
);

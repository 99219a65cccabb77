-- Historical data brought in with `bordin import scores` (issue 6). Each case of the source file
-- is recorded by its key, so importing the same file twice is refused instead of doubling the
-- clinic's history (and its expected courses).
CREATE TABLE imported_cases (
    clinic_id    TEXT   NOT NULL,
    source_key   TEXT   NOT NULL,
    case_id      TEXT   NOT NULL,
    imported_at  BIGINT NOT NULL,
    imported_by  TEXT   NOT NULL,
    PRIMARY KEY (clinic_id, source_key),
    FOREIGN KEY (clinic_id, case_id) REFERENCES cases (clinic_id, case_id)
);

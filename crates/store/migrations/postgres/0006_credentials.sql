-- Second factor (TOTP, RFC 6238) of a user. One row per user; `confirmed_at` is NULL while the
-- user has been shown a secret but has not yet typed a code from it. `last_step` is the last
-- 30-second step whose code was accepted: a code is accepted only for a later step, so the same
-- code cannot be used twice.
CREATE TABLE user_totp (
    clinic_id     TEXT   NOT NULL,
    user_id       TEXT   NOT NULL,
    secret_base32 TEXT   NOT NULL,
    created_at    BIGINT NOT NULL,
    confirmed_at  BIGINT,
    last_step     BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (clinic_id, user_id),
    FOREIGN KEY (clinic_id, user_id) REFERENCES users (clinic_id, user_id)
);

//! Credentials beside the password: the TOTP second factor, password changes.

use sqlx::Row;

use crate::seal::{open_col, seal_col};
use crate::{Result, Store};

/// A user's TOTP enrolment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpRow {
    /// The shared secret, base32 (RFC 4648, no padding) as authenticator apps take it.
    pub secret_base32: String,
    /// When the user proved their app works; `None` while enrolment is pending.
    pub confirmed_at: Option<i64>,
    /// The last time step whose code was accepted.
    pub last_step: i64,
}

impl Store {
    pub async fn totp(&self, clinic_id: &str, user_id: &str) -> Result<Option<TotpRow>> {
        let r = sqlx::query(
            "SELECT secret_base32, confirmed_at, last_step FROM user_totp WHERE clinic_id = $1 AND user_id = $2",
        )
        .bind(clinic_id)
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        r.map(|r| {
            Ok(TotpRow {
                // Sealed under the clinic's key like clinical free text: a copy of the
                // database alone must not be enough to produce valid second-factor codes.
                secret_base32: open_col(
                    self.keys(),
                    clinic_id,
                    "user_totp",
                    "secret_base32",
                    r.try_get("secret_base32")?,
                )?,
                confirmed_at: r.try_get("confirmed_at")?,
                last_step: r.try_get("last_step")?,
            })
        })
        .transpose()
    }

    /// Starts (or restarts) enrolment with a new secret. An enrolment already confirmed is left
    /// alone (returns false): the second factor is switched off explicitly, never replaced.
    pub async fn start_totp(
        &self,
        clinic_id: &str,
        user_id: &str,
        secret_base32: &str,
        at: i64,
    ) -> Result<bool> {
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "DELETE FROM user_totp WHERE clinic_id = $1 AND user_id = $2 AND confirmed_at IS NULL",
        )
        .bind(clinic_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        let done = sqlx::query(
            "INSERT INTO user_totp (clinic_id, user_id, secret_base32, created_at, confirmed_at, last_step)
             VALUES ($1, $2, $3, $4, NULL, 0) ON CONFLICT DO NOTHING",
        )
        .bind(clinic_id)
        .bind(user_id)
        .bind(seal_col(
            self.keys(),
            clinic_id,
            "user_totp",
            "secret_base32",
            secret_base32,
        )?)
        .bind(at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(done == 1)
    }

    /// Accepts the code of time step `step` if no code of this or a later step was accepted
    /// before (one atomic update: a replayed code loses). Confirms a pending enrolment.
    pub async fn use_totp_step(
        &self,
        clinic_id: &str,
        user_id: &str,
        step: i64,
        at: i64,
    ) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE user_totp SET last_step = $3, confirmed_at = COALESCE(confirmed_at, $4)
             WHERE clinic_id = $1 AND user_id = $2 AND last_step < $3",
        )
        .bind(clinic_id)
        .bind(user_id)
        .bind(step)
        .bind(at)
        .execute(&self.writer)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Switches the second factor off.
    pub async fn delete_totp(&self, clinic_id: &str, user_id: &str) -> Result<()> {
        sqlx::query("DELETE FROM user_totp WHERE clinic_id = $1 AND user_id = $2")
            .bind(clinic_id)
            .bind(user_id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Replaces a user's password hash and ends their other login sessions.
    pub async fn change_password(
        &self,
        clinic_id: &str,
        user_id: &str,
        password_hash: &str,
        keep_session_hash: &str,
    ) -> Result<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query("UPDATE users SET password_hash = $3 WHERE clinic_id = $1 AND user_id = $2")
            .bind(clinic_id)
            .bind(user_id)
            .bind(password_hash)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "DELETE FROM auth_sessions WHERE clinic_id = $1 AND user_id = $2 AND session_hash <> $3",
        )
        .bind(clinic_id)
        .bind(user_id)
        .bind(keep_session_hash)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

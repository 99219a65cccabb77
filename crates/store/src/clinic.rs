//! Clinics, users and login sessions.

use bordin_core::care::Role;
use bordin_core::Setting;
use sqlx::Row;

use crate::{new_id, Result, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClinicRow {
    pub clinic_id: String,
    pub name: String,
    pub setting: Setting,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub clinic_id: String,
    pub user_id: String,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub password_hash: String,
    pub active: bool,
}

/// A login session as stored (the secret itself is never stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthSession {
    pub clinic_id: String,
    pub user_id: String,
    pub csrf_token: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
}

fn setting(s: &str) -> Result<Setting> {
    Setting::parse(s).ok_or_else(|| StoreError::Corrupt(format!("unknown setting '{s}'")))
}

fn user_from(r: &sqlx::any::AnyRow) -> Result<UserRow> {
    let role: String = r.try_get("role")?;
    Ok(UserRow {
        clinic_id: r.try_get("clinic_id")?,
        user_id: r.try_get("user_id")?,
        email: r.try_get("email")?,
        display_name: r.try_get("display_name")?,
        role: Role::parse(&role)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown role '{role}'")))?,
        password_hash: r.try_get("password_hash")?,
        active: r.try_get::<i64, _>("active")? != 0,
    })
}

const USER_COLUMNS: &str = "clinic_id, user_id, email, display_name, role, password_hash, active";

impl Store {
    pub async fn create_clinic(&self, name: &str, setting: Setting, at: i64) -> Result<ClinicRow> {
        let id = new_id();
        sqlx::query(
            "INSERT INTO clinics (clinic_id, name, setting, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&id)
        .bind(name)
        .bind(setting.as_str())
        .bind(at)
        .execute(&self.writer)
        .await?;
        Ok(ClinicRow {
            clinic_id: id,
            name: name.to_owned(),
            setting,
        })
    }

    pub async fn clinics(&self) -> Result<Vec<ClinicRow>> {
        let rows = sqlx::query(
            "SELECT clinic_id, name, setting FROM clinics ORDER BY created_at, clinic_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ClinicRow {
                    clinic_id: r.try_get("clinic_id")?,
                    name: r.try_get("name")?,
                    setting: setting(&r.try_get::<String, _>("setting")?)?,
                })
            })
            .collect()
    }

    pub async fn clinic(&self, clinic_id: &str) -> Result<ClinicRow> {
        let r = sqlx::query("SELECT clinic_id, name, setting FROM clinics WHERE clinic_id = $1")
            .bind(clinic_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound { what: "clinic" })?;
        Ok(ClinicRow {
            clinic_id: r.try_get("clinic_id")?,
            name: r.try_get("name")?,
            setting: setting(&r.try_get::<String, _>("setting")?)?,
        })
    }

    pub async fn create_user(
        &self,
        clinic_id: &str,
        email: &str,
        display_name: &str,
        role: Role,
        password_hash: &str,
        at: i64,
    ) -> Result<UserRow> {
        let id = new_id();
        let email = email.trim().to_lowercase();
        sqlx::query(
            "INSERT INTO users (clinic_id, user_id, email, display_name, role, password_hash, active, created_at) VALUES ($1, $2, $3, $4, $5, $6, 1, $7)",
        )
        .bind(clinic_id)
        .bind(&id)
        .bind(&email)
        .bind(display_name)
        .bind(role.as_str())
        .bind(password_hash)
        .bind(at)
        .execute(&self.writer)
        .await?;
        Ok(UserRow {
            clinic_id: clinic_id.to_owned(),
            user_id: id,
            email,
            display_name: display_name.to_owned(),
            role,
            password_hash: password_hash.to_owned(),
            active: true,
        })
    }

    /// Users with this email in any clinic (login looks them all up; emails are unique per clinic).
    pub async fn users_by_email(&self, email: &str) -> Result<Vec<UserRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE email = $1 ORDER BY clinic_id"
        ))
        .bind(email.trim().to_lowercase())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(user_from).collect()
    }

    pub async fn user(&self, clinic_id: &str, user_id: &str) -> Result<UserRow> {
        let r = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE clinic_id = $1 AND user_id = $2"
        ))
        .bind(clinic_id)
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound { what: "user" })?;
        user_from(&r)
    }

    pub async fn users(&self, clinic_id: &str) -> Result<Vec<UserRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE clinic_id = $1 ORDER BY display_name"
        ))
        .bind(clinic_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(user_from).collect()
    }

    pub async fn add_supervision(
        &self,
        clinic_id: &str,
        supervisor_id: &str,
        clinician_id: &str,
    ) -> Result<()> {
        sqlx::query("INSERT INTO supervisions (clinic_id, supervisor_id, clinician_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(clinic_id)
            .bind(supervisor_id)
            .bind(clinician_id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Clinicians a supervisor supervises.
    pub async fn supervisees(&self, clinic_id: &str, supervisor_id: &str) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT clinician_id FROM supervisions WHERE clinic_id = $1 AND supervisor_id = $2",
        )
        .bind(clinic_id)
        .bind(supervisor_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok(r.try_get("clinician_id")?))
            .collect()
    }

    pub async fn create_auth_session(&self, session_hash: &str, s: &AuthSession) -> Result<()> {
        sqlx::query(
            "INSERT INTO auth_sessions (clinic_id, session_hash, user_id, csrf_token, created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&s.clinic_id)
        .bind(session_hash)
        .bind(&s.user_id)
        .bind(&s.csrf_token)
        .bind(s.created_at)
        .bind(s.last_seen_at)
        .bind(s.expires_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn auth_session(
        &self,
        clinic_id: &str,
        session_hash: &str,
    ) -> Result<Option<AuthSession>> {
        let r = sqlx::query(
            "SELECT clinic_id, user_id, csrf_token, created_at, last_seen_at, expires_at FROM auth_sessions WHERE clinic_id = $1 AND session_hash = $2",
        )
        .bind(clinic_id)
        .bind(session_hash)
        .fetch_optional(&self.pool)
        .await?;
        r.map(|r| {
            Ok(AuthSession {
                clinic_id: r.try_get("clinic_id")?,
                user_id: r.try_get("user_id")?,
                csrf_token: r.try_get("csrf_token")?,
                created_at: r.try_get("created_at")?,
                last_seen_at: r.try_get("last_seen_at")?,
                expires_at: r.try_get("expires_at")?,
            })
        })
        .transpose()
    }

    pub async fn touch_auth_session(
        &self,
        clinic_id: &str,
        session_hash: &str,
        at: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE auth_sessions SET last_seen_at = $3 WHERE clinic_id = $1 AND session_hash = $2",
        )
        .bind(clinic_id)
        .bind(session_hash)
        .bind(at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn delete_auth_session(&self, clinic_id: &str, session_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM auth_sessions WHERE clinic_id = $1 AND session_hash = $2")
            .bind(clinic_id)
            .bind(session_hash)
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}

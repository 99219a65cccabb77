//! API tokens for integrations: stored as the SHA-256 of their secret, with a visible prefix.

use sqlx::Row;

use crate::{new_id, Result, Store, StoreError};

/// What a token may do: `Read` allows safe methods only, `Write` also state-changing ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenScope {
    Read,
    Write,
}

impl TokenScope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "read" => Some(Self::Read),
            "write" => Some(Self::Write),
            _ => None,
        }
    }
}

/// A token as stored (never the secret itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTokenRow {
    pub clinic_id: String,
    pub token_id: String,
    /// The first characters of the secret, shown in lists so that a token can be recognised.
    pub prefix: String,
    /// The user whose rights the token carries.
    pub user_id: String,
    pub label: String,
    pub scope: TokenScope,
    pub created_at: i64,
    pub created_by: String,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub revoked_by: Option<String>,
}

impl ApiTokenRow {
    /// Usable now: not revoked and not expired.
    pub fn is_live(&self, now: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| now < e)
    }
}

/// A token to store.
#[derive(Debug, Clone)]
pub struct NewApiToken<'a> {
    pub clinic_id: &'a str,
    pub token_hash: &'a str,
    pub prefix: &'a str,
    pub user_id: &'a str,
    pub label: &'a str,
    pub scope: TokenScope,
    pub created_by: &'a str,
    pub created_at: i64,
    pub expires_at: Option<i64>,
}

const COLUMNS: &str = "clinic_id, token_id, prefix, user_id, label, scope, created_at, created_by, expires_at, last_used_at, revoked_at, revoked_by";

fn token_from(r: &sqlx::any::AnyRow) -> Result<ApiTokenRow> {
    let scope: String = r.try_get("scope")?;
    Ok(ApiTokenRow {
        clinic_id: r.try_get("clinic_id")?,
        token_id: r.try_get("token_id")?,
        prefix: r.try_get("prefix")?,
        user_id: r.try_get("user_id")?,
        label: r.try_get("label")?,
        scope: TokenScope::parse(&scope)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown token scope '{scope}'")))?,
        created_at: r.try_get("created_at")?,
        created_by: r.try_get("created_by")?,
        expires_at: r.try_get("expires_at")?,
        last_used_at: r.try_get("last_used_at")?,
        revoked_at: r.try_get("revoked_at")?,
        revoked_by: r.try_get("revoked_by")?,
    })
}

impl Store {
    /// Stores a new token; the user must belong to the clinic (foreign key).
    pub async fn create_api_token(&self, t: &NewApiToken<'_>) -> Result<ApiTokenRow> {
        let id = new_id();
        sqlx::query(
            "INSERT INTO api_tokens (clinic_id, token_id, token_hash, prefix, user_id, label, scope, created_at, created_by, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(t.clinic_id)
        .bind(&id)
        .bind(t.token_hash)
        .bind(t.prefix)
        .bind(t.user_id)
        .bind(t.label)
        .bind(t.scope.as_str())
        .bind(t.created_at)
        .bind(t.created_by)
        .bind(t.expires_at)
        .execute(&self.writer)
        .await?;
        Ok(ApiTokenRow {
            clinic_id: t.clinic_id.to_owned(),
            token_id: id,
            prefix: t.prefix.to_owned(),
            user_id: t.user_id.to_owned(),
            label: t.label.to_owned(),
            scope: t.scope,
            created_at: t.created_at,
            created_by: t.created_by.to_owned(),
            expires_at: t.expires_at,
            last_used_at: None,
            revoked_at: None,
            revoked_by: None,
        })
    }

    /// The clinic's tokens, newest first (revoked ones included, for the record).
    pub async fn api_tokens(&self, clinic_id: &str) -> Result<Vec<ApiTokenRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM api_tokens WHERE clinic_id = $1 ORDER BY created_at DESC, token_id DESC"
        ))
        .bind(clinic_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(token_from).collect()
    }

    /// The token with this secret hash in this clinic, live or not.
    pub async fn api_token_by_hash(
        &self,
        clinic_id: &str,
        token_hash: &str,
    ) -> Result<Option<ApiTokenRow>> {
        let r = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM api_tokens WHERE clinic_id = $1 AND token_hash = $2"
        ))
        .bind(clinic_id)
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        r.as_ref().map(token_from).transpose()
    }

    /// Revokes a token (again: no change); false when the clinic has no such token.
    pub async fn revoke_api_token(
        &self,
        clinic_id: &str,
        token_id: &str,
        by: &str,
        at: i64,
    ) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $3, revoked_by = $4 WHERE clinic_id = $1 AND token_id = $2 AND revoked_at IS NULL",
        )
        .bind(clinic_id)
        .bind(token_id)
        .bind(at)
        .bind(by)
        .execute(&self.writer)
        .await?
        .rows_affected();
        if n == 1 {
            return Ok(true);
        }
        let exists =
            sqlx::query("SELECT token_id FROM api_tokens WHERE clinic_id = $1 AND token_id = $2")
                .bind(clinic_id)
                .bind(token_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(exists.is_some())
    }

    /// Records when a token was last used.
    pub async fn touch_api_token(&self, clinic_id: &str, token_id: &str, at: i64) -> Result<()> {
        sqlx::query(
            "UPDATE api_tokens SET last_used_at = $3 WHERE clinic_id = $1 AND token_id = $2",
        )
        .bind(clinic_id)
        .bind(token_id)
        .bind(at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }
}

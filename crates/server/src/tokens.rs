//! API tokens for integrations: issued by an admin for one user of the clinic, shown once,
//! stored as SHA-256, revocable at once. Shared by the admin page, the JSON API and the CLI.
//!
//! A token reads `bdn_<clinic id>_<secret>`: the clinic id lets every lookup be keyed by clinic
//! (as link and session secrets are); the secret is 256 random bits, URL-safe base64. Only its
//! hash is stored, with its first [`PREFIX_LEN`] characters as a visible prefix so that an admin
//! can tell tokens apart in a list (and match a leaked one to its row).

use base64::Engine as _;
use bordin_store::{hash_secret, ApiTokenRow, NewApiToken, Store, TokenScope};
use rand::RngCore as _;

use crate::error::AppError;

pub const TOKEN_PREFIX: &str = "bdn_";
/// Characters of the secret shown in lists (48 of its 256 bits).
pub const PREFIX_LEN: usize = 8;
/// Longest label accepted.
pub const LABEL_MAX: usize = 100;

/// A token just issued: the row, and the token itself, which is never available again.
#[derive(Debug, Clone)]
pub struct Issued {
    pub row: ApiTokenRow,
    pub token: String,
}

/// Splits a token into (clinic id, secret); `None` when it is not shaped like one.
pub fn parse(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix(TOKEN_PREFIX)?;
    // A clinic id is a UUID (hex and '-'): the first '_' ends it; the secret may contain '_'.
    let (clinic, secret) = rest.split_once('_')?;
    let clinic_ok = !clinic.is_empty()
        && clinic.len() <= 64
        && clinic.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    (clinic_ok && secret.len() >= 32).then_some((clinic, secret))
}

/// What the admin asks for.
#[derive(Debug, Clone)]
pub struct TokenRequest<'a> {
    pub clinic_id: &'a str,
    /// The user whose rights the token carries (of the same clinic, active).
    pub user_id: &'a str,
    pub scope: TokenScope,
    pub label: &'a str,
    /// Days until the token stops working; `None` = until revoked.
    pub expires_in_days: Option<i64>,
    pub created_by: &'a str,
    pub now: i64,
}

/// Issues a token. The label must name the integration (1–100 characters); the user must be
/// an active user of the clinic.
pub async fn issue(store: &Store, req: &TokenRequest<'_>) -> Result<Issued, AppError> {
    let label = req.label.trim();
    if label.is_empty() || label.chars().count() > LABEL_MAX {
        return Err(AppError::BadRequest(format!(
            "label: give the token a name of 1 to {LABEL_MAX} characters (e.g. the system that uses it)"
        )));
    }
    if let Some(d) = req.expires_in_days {
        if !(1..=3650).contains(&d) {
            return Err(AppError::BadRequest(
                "expires_in_days: must be between 1 and 3650".into(),
            ));
        }
    }
    let user = match store.user(req.clinic_id, req.user_id).await {
        Ok(u) => u,
        Err(bordin_store::StoreError::NotFound { .. }) => {
            return Err(AppError::BadRequest(
                "user: no such user in this clinic".into(),
            ))
        }
        Err(e) => return Err(e.into()),
    };
    if !user.active {
        return Err(AppError::BadRequest(
            "user: this user is deactivated; a token would not work".into(),
        ));
    }
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let token = format!("{TOKEN_PREFIX}{}_{secret}", req.clinic_id);
    let prefix: String = secret.chars().take(PREFIX_LEN).collect();
    let row = store
        .create_api_token(&NewApiToken {
            clinic_id: req.clinic_id,
            token_hash: &hash_secret(&secret),
            prefix: &prefix,
            user_id: req.user_id,
            label,
            scope: req.scope,
            created_by: req.created_by,
            created_at: req.now,
            expires_at: req.expires_in_days.map(|d| req.now + d * 86_400_000),
        })
        .await?;
    tracing::info!(token_id = %row.token_id, scope = row.scope.as_str(), "API token issued");
    Ok(Issued { row, token })
}

/// Revokes a token of the clinic; the next request with it is refused.
pub async fn revoke(
    store: &Store,
    clinic_id: &str,
    token_id: &str,
    by: &str,
    now: i64,
) -> Result<(), AppError> {
    if store.revoke_api_token(clinic_id, token_id, by, now).await? {
        tracing::info!(token_id = %token_id, "API token revoked");
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

/// How a token is shown in lists: `bdn_…<prefix>`.
pub fn display(row: &ApiTokenRow) -> String {
    format!("{TOKEN_PREFIX}…{}", row.prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_split_into_clinic_and_secret() {
        let secret = "a_b-cdefghijklmnopqrstuvwxyz0123456789ABCDEF";
        let t = format!("bdn_0191e0a2-7c4e-7d7a-9a53-1b2c3d4e5f60_{secret}");
        assert_eq!(
            parse(&t),
            Some(("0191e0a2-7c4e-7d7a-9a53-1b2c3d4e5f60", secret))
        );
        assert_eq!(parse("bdn_xyz_secret"), None, "clinic id must be hex");
        assert_eq!(parse("bdn_abc_short"), None, "secret too short");
        assert_eq!(parse("Bearer abc"), None);
        assert_eq!(parse(""), None);
    }
}

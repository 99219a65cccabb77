//! The optional second factor: time-based one-time codes (TOTP, RFC 6238: HMAC-SHA-1, 30-second
//! steps, 6 digits, the defaults every authenticator app uses), through the `totp-rs` crate.
//!
//! A code is accepted for the current step or one step either side (clock drift, RFC 6238
//! §5.2), and only for a step later than the last accepted one (the store updates `last_step`
//! atomically), so an observed code cannot be replayed.

use rand::RngCore as _;
use totp_rs::{Algorithm, Secret, TOTP};

use crate::error::AppError;

pub const STEP_SECONDS: u64 = 30;
pub const DIGITS: usize = 6;
const ISSUER: &str = "Bordin";

/// A fresh 160-bit secret (the length RFC 4226 §4 recommends), base32 without padding.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    Secret::Raw(bytes.to_vec()).to_encoded().to_string()
}

fn totp(secret_base32: &str) -> Result<TOTP, AppError> {
    let bytes = Secret::Encoded(secret_base32.to_owned())
        .to_bytes()
        .map_err(|e| AppError::Internal(format!("stored TOTP secret unreadable: {e:?}")))?;
    TOTP::new(Algorithm::SHA1, DIGITS, 1, STEP_SECONDS, bytes)
        .map_err(|e| AppError::Internal(format!("TOTP secret refused: {e:?}")))
}

/// The `otpauth://` URI an authenticator app imports (Key Uri Format, as Google Authenticator
/// documents it): `otpauth://totp/Bordin:EMAIL?secret=…&issuer=Bordin&algorithm=SHA1&digits=6&period=30`.
pub fn otpauth_uri(secret_base32: &str, account: &str) -> String {
    format!(
        "otpauth://totp/{ISSUER}:{}?secret={secret_base32}&issuer={ISSUER}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        percent(account)
    )
}

fn percent(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The time step (Unix seconds / 30) whose code `code` is, among the current one and one either
/// side; `None` when it matches none. Spaces in the typed code are ignored.
pub fn matching_step(
    secret_base32: &str,
    code: &str,
    now_ms: i64,
) -> Result<Option<i64>, AppError> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    let t = totp(secret_base32)?;
    let now_step = (now_ms.max(0) as u64 / 1000) / STEP_SECONDS;
    for step in [now_step.saturating_sub(1), now_step, now_step + 1] {
        let expected = t.generate(step * STEP_SECONDS);
        if crate::auth::constant_time_eq(&expected, &code) {
            return Ok(i64::try_from(step).ok());
        }
    }
    Ok(None)
}

/// The code of a secret at a time (for tests and the enrolment page's self-check).
pub fn code_at(secret_base32: &str, unix_seconds: u64) -> Result<String, AppError> {
    Ok(totp(secret_base32)?.generate(unix_seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B: SHA-1 secret "12345678901234567890", T = 59 s → 94287082 (8
    /// digits); the 6-digit code is its last six digits, 287082.
    #[test]
    fn matches_the_rfc_6238_test_vector() {
        let secret = Secret::Raw(b"12345678901234567890".to_vec())
            .to_encoded()
            .to_string();
        assert_eq!(code_at(&secret, 59).unwrap(), "287082");
        // T = 1111111109 → 07081804 → 081804.
        assert_eq!(code_at(&secret, 1_111_111_109).unwrap(), "081804");
        assert_eq!(
            matching_step(&secret, "081 804", 1_111_111_109_000).unwrap(),
            Some(1_111_111_109 / 30)
        );
        assert_eq!(
            matching_step(&secret, "000000", 1_111_111_109_000).unwrap(),
            None
        );
        assert_eq!(matching_step(&secret, "abc", 0).unwrap(), None);
    }

    #[test]
    fn the_uri_names_the_issuer_and_account() {
        assert_eq!(
            otpauth_uri("ABC", "a b@x.org"),
            "otpauth://totp/Bordin:a%20b@x.org?secret=ABC&issuer=Bordin&algorithm=SHA1&digits=6&period=30"
        );
    }
}

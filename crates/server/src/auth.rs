//! Authentication: password hashing (argon2id) and login sessions.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// Argon2id with OWASP's minimum configuration: m = 19 MiB (19,456 KiB), t = 2, p = 1
/// (OWASP Password Storage Cheat Sheet; shared/reference/security.md).
pub const ARGON2_M_KIB: u32 = 19_456;
pub const ARGON2_T: u32 = 2;
pub const ARGON2_P: u32 = 1;

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

fn argon2() -> Result<Argon2<'static>, HashError> {
    let params = Params::new(ARGON2_M_KIB, ARGON2_T, ARGON2_P, None)
        .map_err(|e| HashError(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password with a fresh random salt (PHC string format, parameters included).
pub fn hash_password(password: &str) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(argon2()?
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| HashError(e.to_string()))?
        .to_string())
}

/// Checks a password against a stored PHC hash in constant time. A malformed hash never matches.
pub fn verify_password(password: &str, hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    argon2().is_ok_and(|a| a.verify_password(password.as_bytes(), &parsed).is_ok())
}

/// How many password hashes (argon2id: 19 MiB and tens of milliseconds of one core each) may run
/// at once: half the machine's cores, at least one.
///
/// `spawn_blocking` alone keeps the hashing off the async workers but not off the CPU: its pool
/// grows to 512 threads, so a burst of logins (or a password-guessing flood) would run as many
/// hashes side by side, take every core from the workers that answer all other requests, and
/// hold 19 MiB each. With this bound, excess logins wait their turn (cheaply, as futures) and the
/// other half of the cores stays free for everything else. Measured in BENCHMARKS.md (load,
/// logins) and RELIABILITY.md.
pub fn hashing_slots() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().div_ceil(2))
}

fn hashing_permits() -> &'static tokio::sync::Semaphore {
    static PERMITS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    PERMITS.get_or_init(|| tokio::sync::Semaphore::new(hashing_slots()))
}

/// Runs password hashing or verification `work` on the blocking pool, at most
/// [`hashing_slots`] at a time across the process.
pub async fn hashing<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    let _permit = hashing_permits()
        .acquire()
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| AppError::Internal(e.to_string()))
}

// ---------------------------------------------------------------------------------------------
// Login sessions

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum_extra::extract::cookie::{Cookie, SameSite};
use base64::Engine as _;
use bordin_store::{hash_secret, AuthSession, TokenScope, UserRow};
use rand::RngCore as _;

use crate::error::AppError;
use crate::state::{now_ms, AppState};

pub const SESSION_COOKIE: &str = "bordin_session";

/// A fresh 128-bit random secret, URL-safe base64 (22 characters).
pub fn random_secret() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Compares two secrets in time independent of where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The logged-in user of a request, with the session's CSRF token.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub user: UserRow,
    pub csrf: String,
    /// Red alerts not yet acknowledged on cases this user may see: (case id, case title,
    /// message). Shown on every page until acknowledged.
    pub urgent: Vec<(String, String, String)>,
    /// How the request proved who it is.
    pub via: Credential,
    session_hash: String,
}

/// The credential a request came with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A login session (cookie): a person at a browser or API client; CSRF applies.
    Session,
    /// An API token (`Authorization: Bearer`), acting with the rights of the user it was issued
    /// for, narrowed by its scope (see `policy::token_may`). No CSRF: the header is not sent by
    /// browsers on their own.
    Token { token_id: String, scope: TokenScope },
}

impl CurrentUser {
    pub fn clinic_id(&self) -> &str {
        &self.user.clinic_id
    }

    /// Rejects a state-changing request whose CSRF token does not match the session's.
    pub fn check_csrf(&self, given: &str) -> Result<(), AppError> {
        if constant_time_eq(given, &self.csrf) {
            Ok(())
        } else {
            Err(AppError::Csrf)
        }
    }
}

fn session_cookie_value(headers: &HeaderMap) -> Option<String> {
    let jar = axum_extra::extract::CookieJar::from_headers(headers);
    jar.get(SESSION_COOKIE).map(|c| c.value().to_owned())
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // The route table's guard has already authenticated this request: reuse its answer.
        if let Some(user) = parts.extensions.get::<CurrentUser>() {
            return Ok(user.clone());
        }
        // API tokens are accepted on the JSON surfaces only; pages and forms ignore them.
        let path = parts.uri.path();
        if path.starts_with("/api/") || path.starts_with("/fhir/") {
            if let Some(token) = bearer(&parts.headers) {
                return token_user(state, token).await;
            }
        }
        let value = session_cookie_value(&parts.headers).ok_or(AppError::Unauthenticated)?;
        let (clinic_id, secret) = value.split_once('.').ok_or(AppError::Unauthenticated)?;
        let hash = hash_secret(secret);
        let session = state
            .store
            .auth_session(clinic_id, &hash)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        let now = now_ms();
        let idle_ms = state.config.session_idle_minutes * 60_000;
        if now >= session.expires_at || now - session.last_seen_at >= idle_ms {
            state.store.delete_auth_session(clinic_id, &hash).await?;
            return Err(AppError::Unauthenticated);
        }
        let user = state.store.user(clinic_id, &session.user_id).await?;
        if !user.active {
            return Err(AppError::Unauthenticated);
        }
        crate::audit::set_user(&user.user_id);
        // Touch at most once a minute to keep writes off the hot path.
        if now - session.last_seen_at > 60_000 {
            state
                .store
                .touch_auth_session(clinic_id, &hash, now)
                .await?;
        }
        let urgent = urgent_alerts(state, &user).await?;
        Ok(Self {
            user,
            csrf: session.csrf_token,
            urgent,
            via: Credential::Session,
            session_hash: hash,
        })
    }
}

/// The token of an `Authorization: Bearer …` header, if there is one.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The user an API token acts for. Unknown, malformed, revoked and expired tokens, and tokens
/// of deactivated users, all get the same answer (401).
async fn token_user(state: &AppState, token: &str) -> Result<CurrentUser, AppError> {
    let (clinic_id, secret) = crate::tokens::parse(token).ok_or(AppError::Unauthenticated)?;
    let row = state
        .store
        .api_token_by_hash(clinic_id, &hash_secret(secret))
        .await?
        .ok_or(AppError::Unauthenticated)?;
    let now = now_ms();
    if !row.is_live(now) {
        return Err(AppError::Unauthenticated);
    }
    let user = state.store.user(clinic_id, &row.user_id).await?;
    if !user.active {
        return Err(AppError::Unauthenticated);
    }
    // The trail names the token (which names its user and scope in `api_tokens`).
    bordin_store::audit::set_actor(bordin_store::AuditActor::token(&row.token_id));
    // Last use is recorded to the minute, keeping writes off the hot path.
    if row.last_used_at.is_none_or(|t| now - t > 60_000) {
        state
            .store
            .touch_api_token(clinic_id, &row.token_id, now)
            .await?;
    }
    Ok(CurrentUser {
        user,
        // A token request never carries a CSRF token; this one matches nothing.
        csrf: random_secret(),
        urgent: Vec::new(),
        via: Credential::Token {
            token_id: row.token_id,
            scope: row.scope,
        },
        session_hash: String::new(),
    })
}

/// The user of a JSON request (`/api/...`, `/fhir/...`): a login session, whose
/// state-changing calls must send the session's CSRF token in `X-CSRF-Token`, or an API token
/// (`Authorization: Bearer`), which needs no CSRF token but may only do what its scope allows
/// (`policy::token_may`).
pub struct ApiUser(pub CurrentUser);

impl FromRequestParts<AppState> for ApiUser {
    type Rejection = crate::error::ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let user = CurrentUser::from_request_parts(parts, state).await?;
        match &user.via {
            Credential::Token { scope, .. } => crate::policy::token_may(*scope, &parts.method)?,
            Credential::Session => {
                if !crate::policy::is_safe_method(&parts.method) {
                    let given = parts
                        .headers
                        .get("x-csrf-token")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    user.check_csrf(given)?;
                }
            }
        }
        Ok(Self(user))
    }
}

/// Red alerts still open (not acknowledged) on the cases a user may see.
async fn urgent_alerts(
    state: &AppState,
    user: &UserRow,
) -> Result<Vec<(String, String, String)>, AppError> {
    let open = state.store.alerts(&user.clinic_id, None, &["open"]).await?;
    let red: Vec<_> = open.into_iter().filter(|a| a.urgency == "red").collect();
    if red.is_empty() {
        return Ok(Vec::new());
    }
    let visible = crate::policy::visible_case_ids(state, user).await?;
    let mut out = Vec::new();
    for a in red
        .into_iter()
        .filter(|a| visible.binary_search(&a.case_id).is_ok())
    {
        let title = state
            .store
            .case(&user.clinic_id, &a.case_id)
            .await
            .map(|c| c.title)
            .unwrap_or_default();
        out.push((a.case_id, title, a.message));
    }
    Ok(out)
}

/// What a login attempt came to.
pub enum LoginOutcome {
    /// Logged in: the session's cookie and CSRF token.
    Ok {
        user: Box<UserRow>,
        cookie: Cookie<'static>,
        csrf: String,
    },
    /// The email and password (or the code) do not match. The same for unknown accounts.
    Refused,
    /// The password matched and the account has a second factor: ask for the code.
    CodeNeeded,
    /// The password matched but the code did not (or was used before).
    CodeRefused,
    /// Too many failures for this account or from this address: try again at this time (ms).
    Throttled { retry_at: i64 },
}

/// Checks an email, password and (when the account has one) TOTP code; on success starts a
/// session.
///
/// The same answer (`Refused`) is given for an unknown email and a wrong password, an unknown
/// email still costs one hash, and unknown emails are throttled like real ones, so neither the
/// answer nor its timing reveals which accounts exist. Throttling rules: [`crate::security`].
pub async fn login(
    state: &AppState,
    email: &str,
    password: &str,
    code: Option<&str>,
    source: &str,
) -> Result<LoginOutcome, AppError> {
    let now = now_ms();
    if let Some(retry_at) = state.throttle.login_retry_at(email, source, now) {
        // No email or address in the log: both are personal data.
        tracing::warn!("login refused: throttled");
        return Ok(LoginOutcome::Throttled { retry_at });
    }
    let candidates = state.store.users_by_email(email).await?;
    let password = password.to_owned();
    let hashes: Vec<String> = candidates.iter().map(|u| u.password_hash.clone()).collect();
    // Argon2id is deliberately slow (tens of ms): keep it off the async workers, and bounded.
    let matched = hashing(move || {
        if hashes.is_empty() {
            let _ = verify_password(&password, dummy_hash());
            return None;
        }
        hashes.iter().position(|h| verify_password(&password, h))
    })
    .await?;
    let user = match matched.map(|i| candidates[i].clone()) {
        Some(u) if u.active => u,
        _ => {
            state.throttle.login_failed(email, source, now);
            tracing::info!("login refused: email and password do not match");
            return Ok(LoginOutcome::Refused);
        }
    };
    if let Some(totp) = state.store.totp(&user.clinic_id, &user.user_id).await? {
        if totp.confirmed_at.is_some() {
            let Some(code) = code.filter(|c| !c.trim().is_empty()) else {
                return Ok(LoginOutcome::CodeNeeded);
            };
            let step = crate::totp::matching_step(&totp.secret_base32, code, now)?;
            let accepted = match step {
                Some(step) => {
                    state
                        .store
                        .use_totp_step(&user.clinic_id, &user.user_id, step, now)
                        .await?
                }
                None => false,
            };
            if !accepted {
                state.throttle.login_failed(email, source, now);
                tracing::info!(user = %user.user_id, "login refused: wrong or reused code");
                return Ok(LoginOutcome::CodeRefused);
            }
        }
    }
    state.throttle.login_succeeded(email);
    tracing::info!(user = %user.user_id, "logged in");
    let secret = random_secret();
    let csrf = random_secret();
    let session = AuthSession {
        clinic_id: user.clinic_id.clone(),
        user_id: user.user_id.clone(),
        csrf_token: csrf.clone(),
        created_at: now,
        last_seen_at: now,
        expires_at: now + state.config.session_absolute_minutes * 60_000,
    };
    state
        .store
        .create_auth_session(&hash_secret(&secret), &session)
        .await?;
    let cookie = Cookie::build((SESSION_COOKIE, format!("{}.{}", user.clinic_id, secret)))
        .http_only(true)
        .secure(state.config.secure_cookies)
        .same_site(SameSite::Lax)
        .path("/")
        .build();
    Ok(LoginOutcome::Ok {
        user: Box::new(user),
        cookie,
        csrf,
    })
}

/// The session id hash of the current request (to keep this session when ending the others).
impl CurrentUser {
    pub fn session_hash(&self) -> &str {
        &self.session_hash
    }
}

/// Ends the session on the server and returns a cookie that clears it in the browser.
pub async fn logout(state: &AppState, user: &CurrentUser) -> Result<Cookie<'static>, AppError> {
    state
        .store
        .delete_auth_session(user.clinic_id(), &user.session_hash)
        .await?;
    Ok(Cookie::build((SESSION_COOKIE, ""))
        .path("/")
        .max_age(time::Duration::ZERO)
        .build())
}

/// A real argon2id hash, verified against when the email is unknown so that both paths cost
/// the same.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password(&random_secret()).unwrap_or_default())
}

//! The user's own account: change password, set up or switch off the second factor (TOTP);
//! and the admin's list of accounts with the "let them log in again" button (login back-off).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;
use bordin_core::care::Role;
use maud::{html, Markup};
use serde::Deserialize;

use super::layout::page;
use crate::auth::{self, CurrentUser};
use crate::error::AppError;
use crate::state::{now_ms, AppState};

fn notice(message: Option<(&str, bool)>) -> Markup {
    html! {
        @if let Some((m, ok)) = message {
            @if ok { p.notice role="status" { (m) } } @else { p.notice.urgent role="alert" { (m) } }
        }
    }
}

async fn account_page(
    state: &AppState,
    user: &CurrentUser,
    message: Option<(&str, bool)>,
) -> Result<Markup, AppError> {
    let totp = state
        .store
        .totp(user.clinic_id(), &user.user.user_id)
        .await?;
    let enrolled = totp.is_some_and(|t| t.confirmed_at.is_some());
    let min = state.passwords.min_chars();
    Ok(page(
        "Your account",
        user,
        html! {
            h1 { "Your account" }
            (notice(message))
            h2 { "Change password" }
            p { "At least " (min) " characters. Any characters, spaces included: a few unrelated words make a strong password. Passwords found in lists of breached passwords are refused." }
            form method="post" action="/account/password" {
                input type="hidden" name="csrf" value=(user.csrf);
                label.field for="current" { "Current password" }
                input id="current" type="password" name="current" autocomplete="current-password" required;
                label.field for="new" { "New password" }
                input id="new" type="password" name="new" autocomplete="new-password" minlength=(min) required;
                label.field for="confirm" { "New password again" }
                input id="confirm" type="password" name="confirm" autocomplete="new-password" minlength=(min) required;
                p { button type="submit" { "Change password" } }
            }
            h2 { "Two-step login" }
            @if enrolled {
                p { "On: logging in asks for a code from your authenticator app." }
                form method="post" action="/account/totp/off" {
                    input type="hidden" name="csrf" value=(user.csrf);
                    label.field for="off-password" { "Your password, to switch it off" }
                    input id="off-password" type="password" name="password" autocomplete="current-password" required;
                    p { button type="submit" { "Switch two-step login off" } }
                }
            } @else {
                p { "Off. " a href="/account/totp" { "Set up an authenticator app" } }
            }
        },
    ))
}

pub async fn show(State(state): State<AppState>, user: CurrentUser) -> Result<Markup, AppError> {
    account_page(&state, &user, None).await
}

#[derive(Deserialize)]
pub struct PasswordInput {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    confirm: String,
}

/// Changes the password: the current one must match, the new one must follow the rules
/// (`security::PasswordRules`); other sessions of the user end.
pub async fn change_password(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(input): Form<PasswordInput>,
) -> Result<Response, AppError> {
    user.check_csrf(&input.csrf)?;
    let (current, hash) = (input.current.clone(), user.user.password_hash.clone());
    let matches = tokio::task::spawn_blocking(move || auth::verify_password(&current, &hash))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    if !matches {
        return refuse(
            &state,
            &user,
            "current password: that is not your current password.",
        )
        .await;
    }
    if input.new != input.confirm {
        return refuse(&state, &user, "new password: the two new passwords differ.").await;
    }
    if let Err(p) = state.passwords.check(&input.new, &user.user.email) {
        return refuse(&state, &user, &format!("new password: {p}.")).await;
    }
    let new = input.new.clone();
    let hash = tokio::task::spawn_blocking(move || auth::hash_password(&new))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .map_err(|e| AppError::Internal(e.to_string()))?;
    state
        .store
        .change_password(
            user.clinic_id(),
            &user.user.user_id,
            &hash,
            user.session_hash(),
        )
        .await?;
    tracing::info!(user = %user.user.user_id, "password changed");
    Ok(account_page(
        &state,
        &user,
        Some((
            "Password changed. Your other sessions were logged out.",
            true,
        )),
    )
    .await?
    .into_response())
}

async fn refuse(state: &AppState, user: &CurrentUser, message: &str) -> Result<Response, AppError> {
    Ok((
        StatusCode::UNPROCESSABLE_ENTITY,
        account_page(state, user, Some((message, false))).await?,
    )
        .into_response())
}

/// Starts enrolment: a new secret, shown as text and as an `otpauth://` URI.
pub async fn totp_show(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Response, AppError> {
    let (clinic, me) = (user.clinic_id().to_owned(), user.user.user_id.clone());
    if state
        .store
        .totp(&clinic, &me)
        .await?
        .is_some_and(|t| t.confirmed_at.is_some())
    {
        return Ok(
            account_page(&state, &user, Some(("Two-step login is already on.", true)))
                .await?
                .into_response(),
        );
    }
    let secret = crate::totp::new_secret();
    state
        .store
        .start_totp(&clinic, &me, &secret, now_ms())
        .await?;
    Ok(totp_page(&user, &secret, None).into_response())
}

fn totp_page(user: &CurrentUser, secret: &str, problem: Option<&str>) -> Markup {
    let uri = crate::totp::otpauth_uri(secret, &user.user.email);
    page(
        "Set up two-step login",
        user,
        html! {
            h1 { "Set up two-step login" }
            (notice(problem.map(|p| (p, false))))
            p { "Add this account to an authenticator app (one that follows RFC 6238: 6 digits, every 30 seconds). Type the key, or open the link on the phone that has the app:" }
            p { "Key: " code id="totp-secret" { (secret) } }
            p { "Link: " code id="totp-uri" { (uri) } }
            form method="post" action="/account/totp" {
                input type="hidden" name="csrf" value=(user.csrf);
                label.field for="code" { "The code your app shows now" }
                input id="code" type="text" name="code" inputmode="numeric" autocomplete="one-time-code" maxlength="16" required;
                p { button type="submit" { "Turn two-step login on" } }
            }
        },
    )
}

#[derive(Deserialize)]
pub struct CodeInput {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
}

/// Confirms enrolment with a code from the app.
pub async fn totp_confirm(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(input): Form<CodeInput>,
) -> Result<Response, AppError> {
    user.check_csrf(&input.csrf)?;
    let (clinic, me) = (user.clinic_id().to_owned(), user.user.user_id.clone());
    let Some(totp) = state.store.totp(&clinic, &me).await? else {
        return Err(AppError::BadRequest(
            "No set-up is in progress: open the two-step login page again.".into(),
        ));
    };
    if totp.confirmed_at.is_some() {
        return Ok(
            account_page(&state, &user, Some(("Two-step login is already on.", true)))
                .await?
                .into_response(),
        );
    }
    let now = now_ms();
    let ok = match crate::totp::matching_step(&totp.secret_base32, &input.code, now)? {
        Some(step) => state.store.use_totp_step(&clinic, &me, step, now).await?,
        None => false,
    };
    if !ok {
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            totp_page(
                &user,
                &totp.secret_base32,
                Some("code: that code does not match; check the phone's clock and type the newest code."),
            ),
        )
            .into_response());
    }
    tracing::info!(user = %me, "two-step login switched on");
    Ok(account_page(
        &state,
        &user,
        Some((
            "Two-step login is on. From now on, logging in asks for a code.",
            true,
        )),
    )
    .await?
    .into_response())
}

#[derive(Deserialize)]
pub struct PasswordOnly {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
}

/// Switches the second factor off (the password is asked again).
pub async fn totp_off(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(input): Form<PasswordOnly>,
) -> Result<Response, AppError> {
    user.check_csrf(&input.csrf)?;
    let (pw, hash) = (input.password.clone(), user.user.password_hash.clone());
    let matches = tokio::task::spawn_blocking(move || auth::verify_password(&pw, &hash))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    if !matches {
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            account_page(
                &state,
                &user,
                Some(("password: that is not your password.", false)),
            )
            .await?,
        )
            .into_response());
    }
    state
        .store
        .delete_totp(user.clinic_id(), &user.user.user_id)
        .await?;
    tracing::info!(user = %user.user.user_id, "two-step login switched off");
    Ok(
        account_page(&state, &user, Some(("Two-step login is off.", true)))
            .await?
            .into_response(),
    )
}

/// The admin's list of the clinic's accounts, with their current login back-off.
pub async fn users(State(state): State<AppState>, user: CurrentUser) -> Result<Markup, AppError> {
    users_page(&state, &user, None).await
}

async fn users_page(
    state: &AppState,
    user: &CurrentUser,
    message: Option<&str>,
) -> Result<Markup, AppError> {
    let users = state.store.users(user.clinic_id()).await?;
    Ok(page(
        "Accounts",
        user,
        html! {
            h1 { "Accounts" }
            (notice(message.map(|m| (m, true))))
            p { "After 5 failed logins an account waits before the next try (30 seconds, doubling, at most 15 minutes). Nothing is locked for good; you can let someone try again at once." }
            table {
                thead { tr { th { "Name" } th { "Email" } th { "Role" } th { "Failed logins in a row" } th {} } }
                tbody {
                    @for u in &users {
                        @let failures = state.throttle.account_failures(&u.email);
                        tr {
                            td { (u.display_name) }
                            td { (u.email) }
                            td { (u.role.as_str()) }
                            td { (failures) }
                            td {
                                @if failures > 0 {
                                    form method="post" action=(format!("/admin/users/{}/unlock", u.user_id)) {
                                        input type="hidden" name="csrf" value=(user.csrf);
                                        button type="submit" { "Let them try again now" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    ))
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// Clears an account's login back-off (admin of the same clinic only).
pub async fn unlock(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(user_id): Path<String>,
    Form(input): Form<CsrfOnly>,
) -> Result<Response, AppError> {
    user.check_csrf(&input.csrf)?;
    if user.user.role != Role::Admin {
        return Err(AppError::NotFound);
    }
    // Keyed by the admin's own clinic: another clinic's user is simply not found.
    let target = state
        .store
        .user(user.clinic_id(), &user_id)
        .await
        .map_err(|_| AppError::NotFound)?;
    state.throttle.clear_account(&target.email);
    tracing::info!(admin = %user.user.user_id, user = %target.user_id, "login back-off cleared");
    Ok(users_page(
        &state,
        &user,
        Some(&format!("{} may log in again now.", target.display_name)),
    )
    .await?
    .into_response())
}

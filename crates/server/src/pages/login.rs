//! Login and logout.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use axum_extra::extract::CookieJar;
use maud::{html, Markup};
use serde::Deserialize;

use super::layout::bare_page;
use crate::auth::{self, CurrentUser, LoginOutcome};
use crate::error::AppError;
use crate::routes::SourceAddress;
use crate::state::AppState;

fn login_form(email: &str, problem: Option<&str>) -> Markup {
    login_page(email, problem, false)
}

fn login_page(email: &str, problem: Option<&str>, code_needed: bool) -> Markup {
    bare_page(
        "Log in",
        html! {
            h1 { "Log in to Bordin" }
            @if let Some(p) = problem { p.notice.urgent role="alert" { (p) } }
            form method="post" action="/login" {
                label.field for="email" { "Email" }
                input id="email" type="email" name="email" value=(email) autocomplete="username" required;
                label.field for="password" { "Password" }
                input id="password" type="password" name="password" autocomplete="current-password" required;
                label.field for="code" {
                    "Code from your authenticator app"
                    @if !code_needed { " (only if you set one up)" }
                }
                input id="code" type="text" name="code" inputmode="numeric" autocomplete="one-time-code" maxlength="16" required[code_needed];
                p { button type="submit" { "Log in" } }
            }
        },
    )
}

pub async fn show() -> Markup {
    login_form("", None)
}

#[derive(Deserialize)]
pub struct LoginInput {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    code: String,
}

pub async fn submit(
    State(state): State<AppState>,
    SourceAddress(source): SourceAddress,
    headers: HeaderMap,
    jar: CookieJar,
    Form(input): Form<LoginInput>,
) -> Result<Response, AppError> {
    let refused = |status, message: &str, code_needed| {
        Ok((status, login_page(&input.email, Some(message), code_needed)).into_response())
    };
    // No session exists yet to hold a CSRF token: a login posted from another site's page
    // (login CSRF: signing the victim into an account the attacker controls) is refused by its
    // Origin before any password is checked.
    if !crate::security::same_origin(&state, &headers) {
        return refused(StatusCode::FORBIDDEN, CROSS_SITE, false);
    }
    match auth::login(
        &state,
        &input.email,
        &input.password,
        Some(&input.code),
        &source,
    )
    .await?
    {
        LoginOutcome::Ok { cookie, .. } => {
            Ok((jar.add(cookie), Redirect::to("/caseload")).into_response())
        }
        LoginOutcome::Refused => refused(StatusCode::UNAUTHORIZED, REFUSED, false),
        LoginOutcome::CodeNeeded => refused(StatusCode::UNAUTHORIZED, CODE_NEEDED, true),
        LoginOutcome::CodeRefused => refused(StatusCode::UNAUTHORIZED, CODE_REFUSED, true),
        LoginOutcome::Throttled { retry_at } => refused(
            StatusCode::TOO_MANY_REQUESTS,
            &throttled_message(retry_at),
            false,
        ),
    }
}

pub const CROSS_SITE: &str =
    "This sign-in came from another site's page. Open Bordin's own sign-in page and try again.";
pub const REFUSED: &str = "That email and password do not match an account.";
pub const CODE_REFUSED: &str =
    "That code does not match, or it was used already: type the newest code from your authenticator app.";
pub const CODE_NEEDED: &str =
    "This account also asks for the code from your authenticator app: enter it with your password.";

/// The answer while an account or address must wait (the same for unknown accounts).
pub fn throttled_message(retry_at: i64) -> String {
    format!(
        "Too many failed attempts. For your safety, logging in is paused until {}; nothing is locked for good.",
        crate::state::format_ms(retry_at + 59_999)
    )
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

pub async fn logout(
    State(state): State<AppState>,
    user: CurrentUser,
    jar: CookieJar,
    Form(input): Form<CsrfOnly>,
) -> Result<Response, AppError> {
    user.check_csrf(&input.csrf)?;
    let cookie = auth::logout(&state, &user).await?;
    Ok((jar.add(cookie), Redirect::to("/login")).into_response())
}

pub async fn home(user: Result<CurrentUser, AppError>) -> Redirect {
    if user.is_ok() {
        Redirect::to("/caseload")
    } else {
        Redirect::to("/login")
    }
}

//! Login and logout.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use axum_extra::extract::CookieJar;
use maud::{html, Markup};
use serde::Deserialize;

use super::layout::bare_page;
use crate::auth::{self, CurrentUser};
use crate::error::AppError;
use crate::state::AppState;

fn login_form(email: &str, problem: Option<&str>) -> Markup {
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
}

pub async fn submit(
    State(state): State<AppState>,
    jar: CookieJar,
    Form(input): Form<LoginInput>,
) -> Result<Response, AppError> {
    match auth::login(&state, &input.email, &input.password).await? {
        Some((_, cookie, _)) => Ok((jar.add(cookie), Redirect::to("/caseload")).into_response()),
        None => Ok((
            StatusCode::UNAUTHORIZED,
            login_form(
                &input.email,
                Some("That email and password do not match an account."),
            ),
        )
            .into_response()),
    }
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

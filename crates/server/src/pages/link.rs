//! The client-facing form behind a link: no account, mobile-first, says thanks.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form as PostForm;
use maud::html;

use super::layout::bare_page;
use super::questionnaire::{questionnaire, Entered};
use crate::actions::{self, LinkState, SubmitOutcome};
use crate::error::AppError;
use crate::state::AppState;

pub fn invalid_link() -> Response {
    // Unknown, guessed, expired and cancelled links all get this same page.
    (
        StatusCode::NOT_FOUND,
        bare_page(
            "Link not valid",
            html! {
                h1 { "This link is not valid" }
                p { "It may have expired, or it was never issued. Please ask the person you are working with for a new link." }
            },
        ),
    )
        .into_response()
}

fn thanks(already: bool) -> Response {
    bare_page(
        "Thank you",
        html! {
            h1 { "Thank you" }
            @if already {
                p { "Your answers have already been received. Nothing more is needed." }
            } @else {
                p { "Your answers have been sent. They help shape the work to fit you." }
            }
            p.muted { "You can close this page now." }
        },
    )
    .into_response()
}

fn form_page(
    form: &bordin_core::registry::Form,
    action: &str,
    entered: &Entered,
    status: StatusCode,
) -> Response {
    let n = form.items.len();
    (
        status,
        bare_page(
            &form.title,
            html! {
                h1 { (form.title) }
                p.muted.small { (n) " questions · about a minute · your answers go only to the people you are working with" }
                (questionnaire(form, action, entered, &[], "Send my answers"))
            },
        ),
    )
        .into_response()
}

pub async fn show(
    State(state): State<AppState>,
    Path((clinic, token)): Path<(String, String)>,
) -> Result<Response, AppError> {
    Ok(match actions::open_link(&state, &clinic, &token).await? {
        LinkState::Open { form, .. } => form_page(
            &form,
            &format!("/f/{clinic}/{token}"),
            &Entered::default(),
            StatusCode::OK,
        ),
        LinkState::Completed => thanks(true),
        LinkState::Invalid => invalid_link(),
    })
}

pub async fn submit(
    State(state): State<AppState>,
    Path((clinic, token)): Path<(String, String)>,
    PostForm(pairs): PostForm<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    Ok(
        match actions::submit_link(&state, &clinic, &token, &pairs).await? {
            SubmitOutcome::Stored { .. } => thanks(false),
            SubmitOutcome::AlreadyStored { .. } => thanks(true),
            SubmitOutcome::Invalid { form, errors } => form_page(
                &form,
                &format!("/f/{clinic}/{token}"),
                &Entered::new(&pairs, &errors),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            SubmitOutcome::LinkInvalid => invalid_link(),
        },
    )
}

//! The server's error type, mapped to HTTP once, here.
//!
//! Users see a clear message; the log gets the cause. Nothing reachable from a request panics,
//! and storage failures become a 500 page that names no internals.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use bordin_store::StoreError;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Not logged in (or the session expired): HTML goes to the login page, JSON gets 401.
    #[error("please log in")]
    Unauthenticated,
    /// Logged in, but this record is not yours to see. Shown as "not found" so that the
    /// existence of other clinics' records does not leak.
    #[error("not found")]
    NotFound,
    #[error("the form's security token did not match; reload the page and try again")]
    Csrf,
    /// Known, but not allowed in this way (e.g. a read-only API token asked to write).
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(String),
    /// Input refused as a whole before any handler (e.g. a form field over its size limit).
    #[error("{0}")]
    Unprocessable(String),
    /// The client has not agreed to this use (or withdrew). Names the client's code and the
    /// consent; `kind` is the machine-readable consent kind.
    #[error("Client {client} has not given consent to {consent} (or has withdrawn it). Record their consent on the case's goals page before going on.")]
    ConsentRequired {
        client: String,
        consent: &'static str,
        kind: &'static str,
    },
    #[error("storage error: {0}")]
    Store(#[from] StoreError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Csrf | Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Conflict(_) | Self::ConsentRequired { .. } => StatusCode::CONFLICT,
            Self::Store(StoreError::NotFound { .. }) => StatusCode::NOT_FOUND,
            Self::Store(StoreError::Conflict(_)) => StatusCode::CONFLICT,
            Self::Store(_) | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message a user may read (internal causes are not shown).
    pub fn public_message(&self) -> String {
        match self.status() {
            StatusCode::INTERNAL_SERVER_ERROR => "Something went wrong on our side. Nothing you entered was lost; please try again in a moment.".into(),
            StatusCode::NOT_FOUND => "Not found.".into(),
            _ => self.to_string(),
        }
    }

    fn log(&self) {
        if self.status() == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %self, "request failed");
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        self.log();
        if matches!(self, Self::Unauthenticated) {
            return Redirect::to("/login").into_response();
        }
        let status = self.status();
        let body = crate::pages::layout::error_page(status, &self.public_message());
        (status, body).into_response()
    }
}

/// The same errors, rendered as JSON for `/api/...`.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl<E: Into<AppError>> From<E> for ApiError {
    fn from(e: E) -> Self {
        Self(e.into())
    }
}

/// Error body of every JSON endpoint.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Machine-readable kind: `unauthenticated`, `not_found`, `csrf`, `forbidden`, `bad_request`, `conflict`, `consent_required`, `invalid_answers`, `internal`.
    pub error: String,
    /// What went wrong, in words.
    pub message: String,
    /// Per-item problems, for `invalid_answers`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<ItemProblem>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ItemProblem {
    pub item: String,
    pub message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        e.log();
        let kind = match &e {
            AppError::Unauthenticated => "unauthenticated",
            AppError::NotFound => "not_found",
            AppError::Csrf => "csrf",
            AppError::Forbidden(_) => "forbidden",
            AppError::BadRequest(_) => "bad_request",
            AppError::Unprocessable(_) => "unprocessable",
            AppError::Conflict(_) => "conflict",
            AppError::ConsentRequired { .. } => "consent_required",
            AppError::Store(StoreError::NotFound { .. }) => "not_found",
            AppError::Store(StoreError::Conflict(_)) => "conflict",
            AppError::Store(_) | AppError::Internal(_) => "internal",
        };
        (
            e.status(),
            axum::Json(ErrorBody {
                error: kind.into(),
                message: e.public_message(),
                items: vec![],
            }),
        )
            .into_response()
    }
}

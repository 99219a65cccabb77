//! # bordin-server
//!
//! The HTTP surface of Bordin: server-rendered HTML for clinicians ([`pages`]) and for clients
//! answering through a link, and the JSON API ([`api`]) with its OpenAPI document.
//!
//! Request flow: a handler parses input → [`policy`] decides access and hands back a capability
//! → [`actions`] does the work through `bordin-core` (validation, scoring) and `bordin-store`
//! (one transaction) → the handler renders HTML or JSON. Errors are mapped to HTTP once, in
//! [`error`].

pub mod actions;
pub mod api;
pub mod audit;
pub mod auth;
pub mod config;
pub mod error;
pub mod goals;
pub mod monitor;
pub mod pages;
pub mod policy;
pub mod state;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use tower_http::set_header::SetResponseHeaderLayer;

pub use config::Config;
pub use state::AppState;

/// Largest request body accepted (forms and JSON are small; transcripts get their own limit).
pub const BODY_LIMIT: usize = 256 * 1024;

/// The whole application: pages, client links, API, OpenAPI document, health check.
pub fn app(state: AppState) -> Router {
    let (api_routes, openapi) = api::router();
    let openapi_json = std::sync::Arc::new(openapi);
    Router::new()
        .route("/", get(pages::login::home))
        .route("/healthz", get(healthz))
        .route("/static/app.css", get(css))
        .route("/login", get(pages::login::show).post(pages::login::submit))
        .route("/logout", axum::routing::post(pages::login::logout))
        .route("/caseload", get(pages::caseload::show))
        .route("/clients/new", get(pages::caseload::new_form))
        .route("/clients", axum::routing::post(pages::caseload::create))
        .route("/cases/{case_id}", get(pages::case::show))
        .route("/cases/{case_id}/send", axum::routing::post(pages::case::send))
        .route("/cases/{case_id}/sessions", axum::routing::post(pages::case::add_session))
        .route("/cases/{case_id}/enter", get(pages::case::enter_form).post(pages::case::enter_submit))
        .route("/cases/{case_id}/clients", axum::routing::post(pages::case::add_client))
        .route("/cases/{case_id}/clinicians", axum::routing::post(pages::case::share))
        .route("/cases/{case_id}/agreement", get(pages::agreement::show))
        .route("/cases/{case_id}/consent", axum::routing::post(pages::goals::consent))
        .route("/cases/{case_id}/goals", get(pages::goals::show).post(pages::goals::add_goal))
        .route("/cases/{case_id}/goals/link", axum::routing::post(pages::goals::create_link))
        .route("/cases/{case_id}/goals/{goal_id}/edit", axum::routing::post(pages::goals::edit_goal))
        .route("/cases/{case_id}/goals/{goal_id}/rate", axum::routing::post(pages::goals::rate))
        .route("/cases/{case_id}/goals/{goal_id}/status", axum::routing::post(pages::goals::set_status))
        .route("/cases/{case_id}/goals/{goal_id}/tasks", axum::routing::post(pages::goals::add_task))
        .route("/cases/{case_id}/formulation", axum::routing::post(pages::goals::save_formulation))
        .route("/alerts/{alert_id}", get(pages::monitoring::show_alert))
        .route("/alerts/{alert_id}/acknowledge", axum::routing::post(pages::monitoring::acknowledge))
        .route("/alerts/{alert_id}/resolve", axum::routing::post(pages::monitoring::resolve))
        .route("/supervision", get(pages::supervision::show))
        .route("/audit", get(audit::page))
        .route("/instruments", get(pages::instruments::show))
        .route("/responses/{response_id}", get(pages::response::show))
        .route("/responses/{response_id}/correct", axum::routing::post(pages::response::correct))
        .route("/f/{clinic_id}/{secret}", get(pages::link::show).post(pages::link::submit))
        .route("/g/{clinic_id}/{secret}", get(pages::client_goals::show))
        .route("/g/{clinic_id}/{secret}/goals", axum::routing::post(pages::client_goals::propose))
        .route("/g/{clinic_id}/{secret}/goals/{goal_id}", axum::routing::post(pages::client_goals::edit))
        .route("/g/{clinic_id}/{secret}/goals/{goal_id}/rate", axum::routing::post(pages::client_goals::rate))
        .route("/g/{clinic_id}/{secret}/tasks/{task_id}/report", axum::routing::post(pages::client_goals::report))
        .merge(api_routes)
        .route("/api/openapi.json", get(move || async move { Json((*openapi_json).clone()) }))
        .fallback(|| async { error::AppError::NotFound })
        // Every request runs in its audit context (source address; actor once known).
        .layer(axum::middleware::from_fn(audit::context))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
        ))
        .layer(SetResponseHeaderLayer::overriding(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::overriding(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        // Links carry secrets in their path: never send them on as a referrer.
        .layer(SetResponseHeaderLayer::overriding(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
        .layer(SetResponseHeaderLayer::if_not_present(header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .layer(SetResponseHeaderLayer::overriding(HeaderName::from_static("cross-origin-opener-policy"), HeaderValue::from_static("same-origin")))
        .with_state(state)
}

async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        pages::layout::CSS,
    )
}

/// Liveness and database reachability.
async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, Json(serde_json::json!({"status": "ok"}))),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({"status": "database unavailable"})),
            )
        }
    }
}

/// Serves the app on a bound listener until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Peer addresses are the audit trail's source addresses.
    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

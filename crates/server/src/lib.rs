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
pub mod admin_api;
pub mod api;
pub mod auth;
pub mod config;
pub mod error;
pub mod goals;
pub mod metrics;
pub mod monitor;
pub mod pages;
pub mod policy;
pub mod privacy;
pub mod state;
pub mod tokens;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post, MethodRouter};
use axum::{Json, Router};
use tower_http::set_header::SetResponseHeaderLayer;

pub use config::Config;
pub use state::AppState;

/// Largest request body accepted (forms and JSON are small; transcripts get their own limit).
pub const BODY_LIMIT: usize = 256 * 1024;

/// Every route outside the JSON API, as (path template, handler). The API's routes come from
/// [`api::router`], which builds them together with the OpenAPI document; a JSON route added
/// here instead (under `/api/` or `/fhir/`) would be undocumented, and the OpenAPI coverage test
/// (`tests/it/basics.rs`) fails on it.
fn page_routes() -> Vec<(&'static str, MethodRouter<AppState>)> {
    vec![
        ("/", get(pages::login::home)),
        ("/healthz", get(healthz)),
        ("/metrics", get(metrics::show)),
        ("/static/app.css", get(css)),
        ("/login", get(pages::login::show).post(pages::login::submit)),
        ("/logout", post(pages::login::logout)),
        ("/caseload", get(pages::caseload::show)),
        ("/clients/new", get(pages::caseload::new_form)),
        ("/clients", post(pages::caseload::create)),
        ("/cases/{case_id}", get(pages::case::show)),
        ("/cases/{case_id}/send", post(pages::case::send)),
        ("/cases/{case_id}/sessions", post(pages::case::add_session)),
        (
            "/cases/{case_id}/enter",
            get(pages::case::enter_form).post(pages::case::enter_submit),
        ),
        ("/cases/{case_id}/clients", post(pages::case::add_client)),
        ("/cases/{case_id}/clinicians", post(pages::case::share)),
        ("/cases/{case_id}/agreement", get(pages::agreement::show)),
        ("/cases/{case_id}/consent", post(pages::goals::consent)),
        (
            "/cases/{case_id}/goals",
            get(pages::goals::show).post(pages::goals::add_goal),
        ),
        (
            "/cases/{case_id}/goals/link",
            post(pages::goals::create_link),
        ),
        (
            "/cases/{case_id}/goals/{goal_id}/edit",
            post(pages::goals::edit_goal),
        ),
        (
            "/cases/{case_id}/goals/{goal_id}/rate",
            post(pages::goals::rate),
        ),
        (
            "/cases/{case_id}/goals/{goal_id}/status",
            post(pages::goals::set_status),
        ),
        (
            "/cases/{case_id}/goals/{goal_id}/tasks",
            post(pages::goals::add_task),
        ),
        (
            "/cases/{case_id}/formulation",
            post(pages::goals::save_formulation),
        ),
        ("/alerts/{alert_id}", get(pages::monitoring::show_alert)),
        (
            "/alerts/{alert_id}/acknowledge",
            post(pages::monitoring::acknowledge),
        ),
        (
            "/alerts/{alert_id}/resolve",
            post(pages::monitoring::resolve),
        ),
        ("/supervision", get(pages::supervision::show)),
        ("/instruments", get(pages::instruments::show)),
        ("/admin", get(pages::admin::show)),
        ("/admin/tokens", post(pages::admin::create_token)),
        (
            "/admin/tokens/{token_id}/revoke",
            post(pages::admin::revoke_token),
        ),
        ("/admin/clients/export", post(pages::admin::export_client)),
        ("/admin/clients/erase", post(pages::admin::erase_client)),
        ("/responses/{response_id}", get(pages::response::show)),
        (
            "/responses/{response_id}/correct",
            post(pages::response::correct),
        ),
        (
            "/f/{clinic_id}/{secret}",
            get(pages::link::show).post(pages::link::submit),
        ),
        ("/g/{clinic_id}/{secret}", get(pages::client_goals::show)),
        (
            "/g/{clinic_id}/{secret}/goals",
            post(pages::client_goals::propose),
        ),
        (
            "/g/{clinic_id}/{secret}/goals/{goal_id}",
            post(pages::client_goals::edit),
        ),
        (
            "/g/{clinic_id}/{secret}/goals/{goal_id}/rate",
            post(pages::client_goals::rate),
        ),
        (
            "/g/{clinic_id}/{secret}/tasks/{task_id}/report",
            post(pages::client_goals::report),
        ),
    ]
}

/// The path of the OpenAPI document.
pub const OPENAPI_PATH: &str = "/api/openapi.json";

/// Every path template the application serves: the page routes, the documented API routes
/// and the OpenAPI document itself (for the test that compares them with the document).
pub fn served_paths() -> Vec<String> {
    let (_, openapi) = api::router();
    let mut paths: Vec<String> = page_routes()
        .into_iter()
        .map(|(p, _)| p.to_owned())
        .chain(openapi.paths.paths.keys().cloned())
        .chain(std::iter::once(OPENAPI_PATH.to_owned()))
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

/// The whole application: pages, client links, API, OpenAPI document, health check, metrics.
pub fn app(state: AppState) -> Router {
    let (api_routes, openapi) = api::router();
    let openapi_json = std::sync::Arc::new(openapi);
    let mut router = Router::new();
    for (path, handler) in page_routes() {
        router = router.route(path, handler);
    }
    router
        .merge(api_routes)
        .route(OPENAPI_PATH, get(move || async move { Json((*openapi_json).clone()) }))
        .fallback(|| async { error::AppError::NotFound })
        // Counted and logged by route template (runs after routing, so the template is known).
        .layer(axum::middleware::from_fn_with_state(state.clone(), metrics::track))
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
    // The peer address is kept for `/metrics` (loopback-only access); it is never logged.
    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

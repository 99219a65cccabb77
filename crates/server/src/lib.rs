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
pub mod api_transcripts;
pub mod audit;
pub mod auth;
pub mod config;
pub mod consent;
pub mod error;
pub mod fhir;
pub mod goals;
pub mod live;
pub mod metrics;
pub mod monitor;
pub mod pages;
pub mod policy;
pub mod privacy;
pub mod research;
pub mod routes;
pub mod security;
pub mod state;
pub mod tokens;
pub mod totp;
pub mod transcripts;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::{Json, Router};
use tower_http::set_header::SetResponseHeaderLayer;

pub use config::Config;
pub use routes::{Access, RouteInfo, Routes};
pub use state::AppState;
use utoipa::OpenApi as _;

/// Largest request body accepted (forms and JSON are small; transcripts get their own limit).
pub const BODY_LIMIT: usize = 256 * 1024;

/// Every route of the server with its access rule: the one place routes are registered
/// (see [`routes`] for how to add one). JSON routes come from [`api::routes`].
pub fn table() -> Routes {
    use pages::*;
    use Access::*;
    let t = Routes::new(api::ApiDoc::openapi())
        .get("/", Public, login::home)
        .get("/healthz", Public, healthz)
        // Access decided inside by the configuration (off / loopback / token): metrics::show.
        .get("/metrics", Public, metrics::show)
        .get("/static/app.css", Public, css)
        .get("/api/openapi.json", Public, openapi_json)
        .get("/login", Public, login::show)
        .post("/login", Public, login::submit)
        .post("/logout", AnyUser, login::logout)
        .get("/account", AnyUser, account::show)
        .post("/account/password", AnyUser, account::change_password)
        .get("/account/totp", AnyUser, account::totp_show)
        .post("/account/totp", AnyUser, account::totp_confirm)
        .post("/account/totp/off", AnyUser, account::totp_off)
        .get("/admin/users", Admin, account::users)
        .get("/admin/research-export.csv", Admin, research::download_csv)
        .get(
            "/admin/research-codebook.json",
            Admin,
            research::download_codebook,
        )
        .post("/admin/users/{user_id}/unlock", Admin, account::unlock)
        .get("/admin", Admin, admin::show)
        .post("/admin/tokens", Admin, admin::create_token)
        .post(
            "/admin/tokens/{token_id}/revoke",
            Admin,
            admin::revoke_token,
        )
        .post("/admin/clients/export", Admin, admin::export_client)
        .post("/admin/clients/erase", Admin, admin::erase_client)
        .get("/caseload", AnyUser, caseload::show)
        .get("/clients/new", AnyUser, caseload::new_form)
        .post("/clients", AnyUser, caseload::create)
        .get("/cases/{case_id}", CaseRead, case::show)
        .post("/cases/{case_id}/send", CaseWrite, case::send)
        .post("/cases/{case_id}/sessions", CaseWrite, case::add_session)
        .get("/cases/{case_id}/enter", CaseRead, case::enter_form)
        .post("/cases/{case_id}/enter", CaseWrite, case::enter_submit)
        .post("/cases/{case_id}/clients", CaseWrite, case::add_client)
        .post("/cases/{case_id}/clinicians", CaseWrite, case::share)
        .get("/cases/{case_id}/agreement", CaseRead, agreement::show)
        .post("/cases/{case_id}/consent", CaseWrite, pages::goals::consent)
        .get("/cases/{case_id}/goals", CaseRead, pages::goals::show)
        .post("/cases/{case_id}/goals", CaseWrite, pages::goals::add_goal)
        .post(
            "/cases/{case_id}/goals/link",
            CaseWrite,
            pages::goals::create_link,
        )
        .post(
            "/cases/{case_id}/goals/{goal_id}/edit",
            CaseWrite,
            pages::goals::edit_goal,
        )
        .post(
            "/cases/{case_id}/goals/{goal_id}/rate",
            CaseWrite,
            pages::goals::rate,
        )
        .post(
            "/cases/{case_id}/goals/{goal_id}/status",
            CaseWrite,
            pages::goals::set_status,
        )
        .post(
            "/cases/{case_id}/goals/{goal_id}/tasks",
            CaseWrite,
            pages::goals::add_task,
        )
        .post(
            "/cases/{case_id}/formulation",
            CaseWrite,
            pages::goals::save_formulation,
        )
        .get("/alerts/{alert_id}", CaseRead, monitoring::show_alert)
        .post(
            "/alerts/{alert_id}/acknowledge",
            CaseWrite,
            monitoring::acknowledge,
        )
        .post("/alerts/{alert_id}/resolve", CaseWrite, monitoring::resolve)
        .get("/supervision", Supervisor, supervision::show)
        .get("/audit", Supervisor, crate::audit::page)
        .get("/instruments", AnyUser, instruments::show)
        .get("/responses/{response_id}", CaseRead, response::show)
        .post(
            "/responses/{response_id}/correct",
            CaseWrite,
            response::correct,
        )
        .get("/f/{clinic_id}/{secret}", ClientLink, link::show)
        .post("/f/{clinic_id}/{secret}", ClientLink, link::submit)
        .get("/g/{clinic_id}/{secret}", ClientLink, client_goals::show)
        .post(
            "/g/{clinic_id}/{secret}/goals",
            ClientLink,
            client_goals::propose,
        )
        .post(
            "/g/{clinic_id}/{secret}/goals/{goal_id}",
            ClientLink,
            client_goals::edit,
        )
        .post(
            "/g/{clinic_id}/{secret}/goals/{goal_id}/rate",
            ClientLink,
            client_goals::rate,
        )
        .post(
            "/g/{clinic_id}/{secret}/tasks/{task_id}/report",
            ClientLink,
            client_goals::report,
        );
    let t = transcript_routes(t);
    let t = fhir::routes(t);
    api::routes(t)
}

/// Transcripts and the live co-pilot (issue 5). The upload takes bodies up to
/// [`transcripts::TRANSCRIPT_LIMIT`]; everything else keeps [`BODY_LIMIT`].
fn transcript_routes(t: Routes) -> Routes {
    use axum::handler::Handler as _;
    use pages::{live, transcripts as tr};
    use Access::*;
    let upload_limit = DefaultBodyLimit::max(transcripts::TRANSCRIPT_LIMIT + 64 * 1024);
    t.get("/cases/{case_id}/transcripts/new", CaseRead, tr::new_form)
        .post(
            "/cases/{case_id}/transcripts",
            CaseWrite,
            tr::upload.layer(upload_limit),
        )
        .get(
            "/cases/{case_id}/transcripts/{transcript_id}",
            CaseRead,
            tr::show,
        )
        .get(
            "/cases/{case_id}/transcripts/{transcript_id}/roles",
            CaseRead,
            tr::roles_form,
        )
        .post(
            "/cases/{case_id}/transcripts/{transcript_id}/roles",
            CaseWrite,
            tr::roles_submit,
        )
        .get("/cases/{case_id}/live", CaseRead, live::show)
        .get("/cases/{case_id}/live/ws", CaseRead, live::socket)
        .get("/live/replay", AnyUser, live::replay_page)
        .get("/live/replay/ws", AnyUser, live::replay_socket)
        .post("/transcripts/retention", Admin, tr::set_retention)
        .get("/static/copilot.js", Public, live::js)
}

/// The route table (method, path, access rule) of [`app`], for tests and documentation.
pub fn route_table() -> Vec<RouteInfo> {
    table().table().to_vec()
}

/// The path of the OpenAPI document.
pub const OPENAPI_PATH: &str = "/api/openapi.json";

/// The whole application: pages, client links, API, OpenAPI document, health check, metrics.
pub fn app(state: AppState) -> Router {
    let (routes, _) = table().into_router(&state);
    routes
        .fallback(|| async { error::AppError::NotFound })
        // Counted and logged by route template (runs after routing, so the template is known).
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        // Every request runs in its audit context (source address; actor once known), outside
        // the access rules so that their decisions are recorded with it.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            audit::context,
        ))
        .layer(axum::middleware::from_fn(form_field_limits))
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
        .layer(SetResponseHeaderLayer::if_not_present(header::STRICT_TRANSPORT_SECURITY, hsts(&state.config)))
        .with_state(state)
}

/// HSTS (one year, subdomains) when the configured public URL is `https://…`; otherwise
/// nothing is sent. Over plain HTTP the header would be ignored
/// by browsers anyway (RFC 6797 §8.1), and sending it on a local test server would be wrong.
fn hsts(config: &Config) -> Option<HeaderValue> {
    config
        .public_url
        .as_deref()
        .is_some_and(|u| u.to_ascii_lowercase().starts_with("https://"))
        .then(|| HeaderValue::from_static("max-age=31536000; includeSubDomains"))
}

/// Checks every form body against the per-field limits of `bordin_core::formbody` before any
/// handler sees it; a refusal names the field (422). Bodies over [`BODY_LIMIT`] get 413.
async fn form_field_limits(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return next.run(req).await;
    }
    let is_api = req.uri().path().starts_with("/api/");
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, BODY_LIMIT).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "The form is too large.").into_response();
    };
    if let Err(e) = bordin_core::formbody::decode(&bytes, &bordin_core::formbody::FORM_LIMITS) {
        let e = error::AppError::Unprocessable(format!("{e}."));
        return if is_api {
            error::ApiError(e).into_response()
        } else {
            e.into_response()
        };
    }
    next.run(axum::extract::Request::from_parts(
        parts,
        axum::body::Body::from(bytes),
    ))
    .await
}

/// The OpenAPI document of the JSON routes (built once from the route table).
async fn openapi_json() -> impl IntoResponse {
    static DOC: std::sync::OnceLock<utoipa::openapi::OpenApi> = std::sync::OnceLock::new();
    Json(DOC.get_or_init(|| table().into_openapi()).clone())
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
    // Transcript retention: swept at start-up and every hour while the server runs.
    let sweeper = transcripts::spawn_sweeper(state.clone());
    let served = axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    sweeper.abort();
    served
}

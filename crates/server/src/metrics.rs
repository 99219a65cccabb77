//! `/metrics` in the Prometheus text exposition format 0.0.4, and the request log.
//!
//! The `prometheus` crate (tikv) is used rather than `prometheus-client`: the latter writes the
//! OpenMetrics format (`# EOF`, counter families without `_total`), while the issue asks for the
//! 0.0.4 text format, which `prometheus::TextEncoder` writes exactly; it is built without its
//! protobuf feature.
//!
//! Labels never carry personal data or ids: requests are labelled by the route *template*
//! (`/cases/{case_id}`, `/f/{clinic_id}/{secret}`), never the path itself, plus method and
//! status class. The request log line follows the same rule: method, route template, status,
//! duration — never the path, query, headers, tokens or bodies.

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry, TextEncoder,
};

use crate::auth::constant_time_eq;
use crate::config::MetricsAccess;
use crate::state::AppState;

/// Bordin's metrics, registered in their own registry (nothing global).
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    submissions: IntCounterVec,
    alerts_raised: IntCounter,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

/// Latency buckets in seconds: 1 ms to 10 s (a form submission commits in milliseconds; a
/// whole-clinic page may take a second).
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

impl Metrics {
    /// A fresh set of metrics. Registration only fails for duplicate or malformed names, which
    /// are constants here; such a failure is a bug caught by every test.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "bordin_http_requests_total",
                "HTTP requests answered, by method, route template and status class.",
            ),
            &["method", "route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "bordin_http_request_duration_seconds",
                "Time from request to response head, by route template.",
            )
            .buckets(BUCKETS.to_vec()),
            &["route"],
        )?;
        let submissions = IntCounterVec::new(
            Opts::new(
                "bordin_form_submissions_total",
                "Questionnaire responses stored, by source (link or clinician).",
            ),
            &["source"],
        )?;
        let alerts_raised = IntCounter::new(
            "bordin_alerts_raised_total",
            "Monitoring alerts raised (each event once).",
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(submissions.clone()))?;
        registry.register(Box::new(alerts_raised.clone()))?;
        Ok(Self {
            registry,
            requests,
            latency,
            submissions,
            alerts_raised,
        })
    }

    /// A stored questionnaire response (`source`: `link` or `clinician`).
    pub fn form_submitted(&self, source: &str) {
        self.submissions.with_label_values(&[source]).inc();
    }

    pub fn alerts_raised(&self, n: usize) {
        self.alerts_raised.inc_by(u64::try_from(n).unwrap_or(0));
    }

    /// The metrics in the text format 0.0.4.
    pub fn render(&self) -> Result<String, prometheus::Error> {
        let mut buf = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buf)?;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }
}

fn status_class(s: StatusCode) -> &'static str {
    match s.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// Middleware: counts and times every request by route template, and logs one line per
/// request without anything that could identify a person or carry a secret.
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let response = next.run(req).await;
    let elapsed = start.elapsed();
    let status = response.status();
    let m = &state.metrics;
    m.requests
        .with_label_values(&[method.as_str(), route.as_str(), status_class(status)])
        .inc();
    m.latency
        .with_label_values(&[route.as_str()])
        .observe(elapsed.as_secs_f64());
    tracing::info!(
        target: "bordin::http",
        method = %method,
        route = %route,
        status = status.as_u16(),
        ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        "request"
    );
    response
}

/// `GET /metrics`: allowed as the configuration says (`metrics = off | loopback | token`).
/// Refusals answer 404 (off, or not from loopback) or 401 (token missing or wrong).
pub async fn show(State(state): State<AppState>, headers: HeaderMap, req: Request) -> Response {
    let allowed = match state.config.metrics {
        MetricsAccess::Off => return StatusCode::NOT_FOUND.into_response(),
        MetricsAccess::Loopback => req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .is_some_and(|ConnectInfo(addr)| addr.ip().is_loopback()),
        MetricsAccess::Token => {
            let given = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or("");
            let Some(expected) = &state.config.metrics_token else {
                return StatusCode::NOT_FOUND.into_response();
            };
            if !constant_time_eq(given, expected.expose()) {
                return StatusCode::UNAUTHORIZED.into_response();
            }
            true
        }
    };
    if !allowed {
        return StatusCode::NOT_FOUND.into_response();
    }
    match state.metrics.render() {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "metrics could not be encoded");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

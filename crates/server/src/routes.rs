//! The route table: every route of the server with its method, path and access rule, declared
//! in one place ([`crate::table`]) and enforced before any handler or body extractor runs.
//!
//! A route cannot be registered without an [`Access`] rule: the builder's methods take one, and
//! `app()` is built only from this table. The authorisation matrix test
//! (`tests/it/matrix.rs`) walks [`route_table`] and requests every route as every role.
//!
//! Adding a route (one line):
//! ```text
//! .get("/cases/{case_id}/notes", Access::CaseRead, pages::notes::show)     // HTML
//! .api(Access::CaseWrite, routes!(create_note))                            // JSON (utoipa)
//! ```
//! `CaseRead`/`CaseWrite` routes must name the case in their path through one of the parameters
//! [`policy::CASE_OBJECT_PARAMS`] knows (`case_id`, `goal_id`, `task_id`, `alert_id`,
//! `response_id`); a new kind of object needs a line in `policy::case_of_object`. Building the
//! table panics, naming the route, when a case rule has no such parameter, so every test fails.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, RawPathParams, Request, State};
use axum::handler::Handler;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};

use crate::auth::CurrentUser;
use crate::error::{ApiError, AppError};
use crate::policy;
use crate::state::{now_ms, AppState};

/// Who may call a route. Deny by default: a rule names who is let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// Anyone, no account (login page, health check, static files, API description).
    Public,
    /// The client's link: the secret in the path is the credential. Rate-limited per source
    /// address; an unknown, expired or guessed secret answers like a missing one.
    ClientLink,
    /// Any logged-in user of any role.
    AnyUser,
    /// A logged-in user that `policy::case` lets read the case named by the path.
    CaseRead,
    /// A logged-in user that `policy::case` lets change the case named by the path.
    CaseWrite,
    /// Supervisors and admins (e.g. the supervision overview).
    Supervisor,
    /// Admins of the clinic.
    Admin,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::ClientLink => "client link",
            Self::AnyUser => "any user",
            Self::CaseRead => "case read",
            Self::CaseWrite => "case write",
            Self::Supervisor => "supervisor",
            Self::Admin => "admin",
        }
    }
}

/// One row of the route table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteInfo {
    pub method: Method,
    /// The axum path, with `{param}` placeholders.
    pub path: String,
    pub access: Access,
}

impl std::fmt::Display for RouteInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} ({})",
            self.method,
            self.path,
            self.access.as_str()
        )
    }
}

enum Pending {
    Plain(String, MethodRouter<AppState>),
    Api(UtoipaMethodRouter<AppState>),
}

/// The builder every route goes through.
pub struct Routes {
    openapi: utoipa::openapi::OpenApi,
    entries: Vec<(Access, Pending)>,
    table: Vec<RouteInfo>,
}

impl Routes {
    pub fn new(openapi: utoipa::openapi::OpenApi) -> Self {
        Self {
            openapi,
            entries: Vec::new(),
            table: Vec::new(),
        }
    }

    fn plain(
        mut self,
        method: Method,
        path: &str,
        access: Access,
        mr: MethodRouter<AppState>,
    ) -> Self {
        check_rule(&method, path, access);
        self.table.push(RouteInfo {
            method,
            path: path.to_owned(),
            access,
        });
        self.entries
            .push((access, Pending::Plain(path.to_owned(), mr)));
        self
    }

    pub fn get<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &str,
        access: Access,
        h: H,
    ) -> Self {
        self.plain(Method::GET, path, access, axum::routing::get(h))
    }

    pub fn post<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &str,
        access: Access,
        h: H,
    ) -> Self {
        self.plain(Method::POST, path, access, axum::routing::post(h))
    }

    /// A JSON route from a `#[utoipa::path]` handler: `routes!(handler)`, one handler per call
    /// so that each method gets its own rule.
    pub fn api(mut self, access: Access, r: UtoipaMethodRouter<AppState>) -> Self {
        for (path, item) in r.1.paths.iter() {
            for (method, op) in [
                (Method::GET, &item.get),
                (Method::POST, &item.post),
                (Method::PUT, &item.put),
                (Method::DELETE, &item.delete),
                (Method::PATCH, &item.patch),
            ] {
                if op.is_some() {
                    check_rule(&method, path, access);
                    self.table.push(RouteInfo {
                        method,
                        path: path.clone(),
                        access,
                    });
                }
            }
        }
        self.entries.push((access, Pending::Api(r)));
        self
    }

    /// The table, in registration order.
    pub fn table(&self) -> &[RouteInfo] {
        &self.table
    }

    /// The OpenAPI document of the JSON routes.
    pub fn into_openapi(self) -> utoipa::openapi::OpenApi {
        let mut router = OpenApiRouter::<AppState>::with_openapi(self.openapi);
        for (_, pending) in self.entries {
            if let Pending::Api(r) = pending {
                router = router.routes(r);
            }
        }
        router.split_for_parts().1
    }

    /// The axum router (every route behind its rule) and the OpenAPI document.
    pub fn into_router(
        self,
        state: &AppState,
    ) -> (axum::Router<AppState>, utoipa::openapi::OpenApi) {
        let mut router = OpenApiRouter::with_openapi(self.openapi);
        for (access, pending) in self.entries {
            let guard = axum::middleware::from_fn_with_state(
                state.clone(),
                move |State(st): State<AppState>,
                      params: RawPathParams,
                      req: Request,
                      next: Next| { enforce(st, access, params, req, next) },
            );
            router = match pending {
                Pending::Plain(path, mr) => router.route(&path, mr.route_layer(guard)),
                Pending::Api((schemas, paths, mr)) => {
                    router.routes((schemas, paths, mr.route_layer(guard)))
                }
            };
        }
        router.split_for_parts()
    }
}

/// Refuses, at start-up, a case rule on a route whose path names no case object.
fn check_rule(method: &Method, path: &str, access: Access) {
    if matches!(access, Access::CaseRead | Access::CaseWrite)
        && !policy::CASE_OBJECT_PARAMS
            .iter()
            .any(|p| path.contains(&format!("{{{p}}}")))
    {
        panic!(
            "route {method} {path} has rule {:?} but its path names none of {:?}; \
             add the object to policy::case_of_object or choose another rule",
            access,
            policy::CASE_OBJECT_PARAMS
        );
    }
}

/// The source address of a request: the peer, or (when `trust_forwarded_for` is set because a
/// reverse proxy terminates connections) the last address the proxy appended.
pub fn source_address(state: &AppState, req_parts: &axum::http::request::Parts) -> String {
    if state.config.security.trust_forwarded_for {
        if let Some(v) = req_parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
        {
            if let Some(last) = v.rsplit(',').next() {
                return last.trim().to_owned();
            }
        }
    }
    req_parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// The request's source address as an extractor (see [`source_address`]).
pub struct SourceAddress(pub String);

impl FromRequestParts<AppState> for SourceAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(source_address(state, parts)))
    }
}

async fn enforce(
    state: AppState,
    access: Access,
    params: RawPathParams,
    req: Request,
    next: Next,
) -> Response {
    let is_api = req.uri().path().starts_with("/api/");
    let is_fhir = req.uri().path().starts_with("/fhir/");
    let deny = |e: AppError| {
        if is_api {
            ApiError(e).into_response()
        } else if is_fhir {
            crate::fhir::FhirError::from(e).into_response()
        } else {
            e.into_response()
        }
    };
    let (mut parts, body) = req.into_parts();
    match access {
        Access::Public => next.run(Request::from_parts(parts, body)).await,
        Access::ClientLink => {
            let source = source_address(&state, &parts);
            let now = now_ms();
            if !state.throttle.link_allowed(&source, now) {
                return too_many(is_api);
            }
            let params: Vec<(&str, &str)> = params.iter().collect();
            let path = parts.uri.path().to_owned();
            match policy::client_link(&state, &path, &params).await {
                Ok(true) => next.run(Request::from_parts(parts, body)).await,
                Ok(false) => {
                    // Only failed look-ups count: a client with a real link is never slowed.
                    state.throttle.link_failed(&source, now);
                    if is_api {
                        ApiError(AppError::NotFound).into_response()
                    } else if path.starts_with("/g/") {
                        crate::pages::client_goals::invalid_link()
                    } else {
                        crate::pages::link::invalid_link()
                    }
                }
                Err(e) => deny(e),
            }
        }
        _ => {
            let user = match CurrentUser::from_request_parts(&mut parts, &state).await {
                Ok(u) => u,
                Err(e) => return deny(e),
            };
            let params: Vec<(&str, &str)> = params.iter().collect();
            let decision = match access {
                Access::AnyUser => Ok(()),
                Access::Supervisor => policy::require_supervisor(&user),
                Access::Admin => policy::require_admin(&user),
                Access::CaseRead | Access::CaseWrite => {
                    policy::case_of_object(&state, &user, &params)
                        .await
                        .map(|_| ())
                }
                Access::Public | Access::ClientLink => Ok(()),
            };
            if let Err(e) = decision {
                return deny(e);
            }
            parts.extensions.insert(user);
            next.run(Request::from_parts(parts, body)).await
        }
    }
}

fn too_many(is_api: bool) -> Response {
    let msg = "Too many requests from your address. Please wait a few minutes and try again.";
    if is_api {
        (
            StatusCode::TOO_MANY_REQUESTS,
            axum::Json(crate::error::ErrorBody {
                error: "too_many_requests".into(),
                message: msg.into(),
                items: vec![],
            }),
        )
            .into_response()
    } else {
        (
            StatusCode::TOO_MANY_REQUESTS,
            crate::pages::layout::error_page(StatusCode::TOO_MANY_REQUESTS, msg),
        )
            .into_response()
    }
}

//! The page shell shared by every HTML page, and the error page.

use axum::http::StatusCode;
use maud::{html, Markup, DOCTYPE};

use crate::auth::CurrentUser;

pub const CSS: &str = include_str!("../../static/app.css");

/// A page for a logged-in user: header with navigation and a logout button.
pub fn page(title: &str, user: &CurrentUser, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head { (head(title)) }
            body {
                header.top {
                    a.brand href="/caseload" { "Bordin" }
                    nav aria-label="Main" {
                        a href="/caseload" { "Caseload" }
                        a href="/clients/new" { "New client" }
                        a href="/instruments" { "Instruments" }
                        @if user.user.role != bordin_core::care::Role::Clinician { a href="/supervision" { "Supervision" } a href="/audit" { "Audit trail" } }
                        @if user.user.role == bordin_core::care::Role::Admin { a href="/admin" { "Admin" } }
                    }
                    div.who {
                        a href="/account" { (user.user.display_name) } span { " · " (user.user.role.as_str()) }
                        @if user.user.role == bordin_core::care::Role::Admin { " · " a href="/admin/users" { "Accounts" } }
                        form method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(user.csrf);
                            button.link type="submit" { "Log out" }
                        }
                    }
                }
                @if !user.urgent.is_empty() {
                    div.risk-banner role="alert" {
                        @for (case_id, title, message) in &user.urgent {
                            p { strong { "Urgent — " } a href={ "/cases/" (case_id) "#alerts" } { (title) } ": " (message) }
                        }
                        p.small { "This stays on every page until the alert is acknowledged." }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// A page without a logged-in user (login, client forms): no navigation.
pub fn bare_page(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head { (head(title)) }
            body { main.narrow { (body) } }
        }
    }
}

fn head(title: &str) -> Markup {
    html! {
        meta charset="utf-8";
        meta name="viewport" content="width=device-width, initial-scale=1";
        meta name="referrer" content="no-referrer";
        title { (title) " · Bordin" }
        link rel="stylesheet" href="/static/app.css";
    }
}

pub fn error_page(status: StatusCode, message: &str) -> Markup {
    bare_page(
        status.canonical_reason().unwrap_or("Error"),
        html! {
            h1 { (status.canonical_reason().unwrap_or("Error")) }
            p { (message) }
            p { a href="/" { "Back to Bordin" } }
        },
    )
}

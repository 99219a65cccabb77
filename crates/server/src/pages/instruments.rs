//! The instruments this clinic can use, with their licence and whether they can be shown.

use axum::extract::State;
use maud::{html, Markup};

use super::layout::page;
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::state::AppState;

pub async fn show(State(state): State<AppState>, user: CurrentUser) -> Result<Markup, AppError> {
    let registry = state.registry(user.clinic_id()).await?;
    let words = state.store.clinic(user.clinic_id()).await?.setting.words();
    Ok(page(
        "Instruments",
        &user,
        html! {
            h1 { "Instruments" }
            table {
                thead { tr { th { "Instrument" } th { "Filled by" } th { "Licence" } th { "Wording" } th { "Can be shown" } } }
                tbody {
                    @for s in registry.status() {
                        tr {
                            td { (s.title) br; span.small.muted { (s.id) " v" (s.version) " · " (s.items) " items" } }
                            td { (s.respondent) }
                            td { (s.licence) }
                            td { (s.wording) }
                            td {
                                @if s.can_administer { "yes" } @else {
                                    @if let Err(e) = registry.form(&s.id, &words) { span.small { (e.reason) " " (e.fix) } }
                                }
                            }
                        }
                    }
                }
            }
            @for i in registry.instruments() {
                @if i.kind == bordin_core::instrument::InstrumentKind::FeedbackCheck {
                    p.small.muted { (i.title) " is a feedback check written by the Bordin project, not a validated psychometric instrument. Its scores are read against each client's own earlier answers." }
                }
            }
        },
    ))
}

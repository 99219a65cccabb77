//! The printable one-page agreement summary of a case (`/cases/{id}/agreement`): the goals being
//! worked on in the client's own words, both parties' latest agreement and the client's latest
//! progress, the agreed tasks with their rationale, the current formulation, and lines to sign.
//! Read-only; styled for paper (`@media print` in `static/app.css`).

use axum::extract::{Path, State};
use bordin_core::goals::{GoalStatus, Rater, RatingKind, TaskStatus};
use bordin_store::{FormulationRow, GoalRatingRow, GoalRow, TaskRow};
use maud::{html, Markup};

use super::layout::page;
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::policy;
use crate::state::{today, AppState};

/// The latest rating of one goal, of one kind, by one rater.
fn latest<'a>(
    ratings: &'a [GoalRatingRow],
    goal_id: &str,
    rater: Rater,
    kind: RatingKind,
) -> Option<&'a GoalRatingRow> {
    ratings
        .iter()
        .filter(|r| r.goal_id == goal_id && r.rater == rater && r.kind == kind)
        .max_by_key(|r| r.rated_at)
}

fn rating(r: Option<&GoalRatingRow>) -> Markup {
    html! {
        @match r {
            Some(r) => { strong { (r.value) } "/10" }
            None => { span.muted { "not yet rated" } }
        }
    }
}

fn owner_words(t: &TaskRow, client: &str, helper: &str) -> String {
    match t.owner {
        bordin_core::goals::TaskOwner::Client => client.to_owned(),
        bordin_core::goals::TaskOwner::Clinician => helper.to_owned(),
        bordin_core::goals::TaskOwner::Both => format!("{client} and {helper}"),
    }
}

fn formulation_block(f: Option<&FormulationRow>) -> Markup {
    html! {
        @match f {
            None => p.muted { "No formulation recorded yet." }
            Some(f) => {
                dl.agreement-formulation {
                    @for (label, text) in [
                        ("Presenting concerns", &f.presenting_concerns),
                        ("Preferences (pace, approach, what is not wanted)", &f.preferences),
                        ("Strengths", &f.strengths),
                        ("Identities and context to consider", &f.identities_context),
                    ] {
                        @if let Some(t) = text { dt { (label) } dd { (t) } }
                    }
                }
                p.small.muted { "Formulation version " (f.version) }
            }
        }
    }
}

/// `GET /cases/{case_id}/agreement`: the one-page summary, ready to print.
pub async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(case_id): Path<String>,
) -> Result<Markup, AppError> {
    let access = policy::case(&state, &user, &case_id).await?;
    let (c, k) = (access.clinic_id(), access.case_id());
    let case = state.store.case(c, k).await?;
    let goals = state.store.goals(c, k).await?;
    let ratings = state.store.goal_ratings(c, k).await?;
    let tasks = state.store.tasks(c, k).await?;
    let formulation = state.store.formulation(c, k).await?;

    let words = case.setting.words();
    let mut active: Vec<&GoalRow> = goals
        .iter()
        .filter(|g| matches!(g.status, GoalStatus::Active | GoalStatus::Proposed))
        .collect();
    active.sort_by_key(|g| (g.status != GoalStatus::Active, g.priority, g.created_at));
    let who = case
        .clients
        .iter()
        .map(|cl| match &cl.display_name {
            Some(n) => format!("{} ({n})", cl.code),
            None => cl.code.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let helpers = case
        .clinicians
        .iter()
        .map(|(_, name, _)| name.clone())
        .collect::<Vec<_>>()
        .join(", ");
    let cap = |s: &str| {
        let mut ch = s.chars();
        ch.next()
            .map(|f| f.to_uppercase().collect::<String>() + ch.as_str())
            .unwrap_or_default()
    };

    let body = html! {
        p.small.no-print {
            a href={ "/cases/" (case.case_id) "/goals" } { "← Goals and tasks" }
            " · Print this page from the browser (Ctrl/⌘ P)."
        }
        article.agreement {
            h1 { "Our agreement" }
            p.agreement-meta {
                (cap(words.client)) ": " strong { (who) }
                " · " (cap(words.helper)) ": " strong { (helpers) }
                " · " (cap(words.work))
                " · Date: " strong { (today()) }
            }
            h2 { "Goals" }
            @if active.is_empty() { p.muted { "No goals agreed yet." } }
            @for (n, g) in active.iter().enumerate() {
                section.agreement-goal {
                    h3 { (n + 1) ". “" (g.words) "”"
                        @if g.status == GoalStatus::Proposed { " " span.small.muted { "(proposed, not yet agreed)" } } }
                    @if let Some(w) = &g.why { p { span.muted { "Why it matters: " } (w) } }
                    @if let Some(h) = &g.how_we_know { p { span.muted { "How we'll know: " } (h) } }
                    p.small {
                        "Priority " (g.priority)
                        @if let Some(d) = &g.target_date { " · target " (d) }
                    }
                    p {
                        "Agreement — " (words.client) ": " (rating(latest(&ratings, &g.goal_id, Rater::Client, RatingKind::Agreement)))
                        " · " (words.helper) ": " (rating(latest(&ratings, &g.goal_id, Rater::Clinician, RatingKind::Agreement)))
                        " · Progress: " (rating(latest(&ratings, &g.goal_id, Rater::Client, RatingKind::Progress)))
                    }
                    @let agreed: Vec<&TaskRow> = tasks.iter()
                        .filter(|t| t.goal_id == g.goal_id && t.status == TaskStatus::Agreed)
                        .collect();
                    @if agreed.is_empty() {
                        p.small.muted { "No agreed tasks for this goal." }
                    } @else {
                        table.agreement-tasks {
                            thead { tr { th { "Task" } th { "Why it helps this goal" } th { "Whose" } th { "Due" } } }
                            tbody {
                                @for t in agreed {
                                    tr {
                                        td { (t.title) }
                                        td { (t.rationale) }
                                        td { (owner_words(t, words.client, words.helper)) }
                                        td { (t.due_on.as_deref().unwrap_or("—")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            h2 { "Formulation" }
            (formulation_block(formulation.as_ref()))
            div.signatures {
                div.signature { div.sign-line {} p.small { (cap(words.client)) " — signature and date" } }
                div.signature { div.sign-line {} p.small { (cap(words.helper)) " — signature and date" } }
            }
        }
    };
    Ok(page(&format!("Agreement · {}", case.title), &user, body))
}

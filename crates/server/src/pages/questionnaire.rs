//! Rendering a questionnaire form: one fieldset per item, one tap per answer, problems named at
//! the item, and what the person entered kept when the form comes back with a problem.

use std::collections::HashMap;

use bordin_core::instrument::ResponseScaleKind;
use bordin_core::registry::{Form, WordingSource};
use bordin_core::{AnswerError, AnswerProblem};
use maud::{html, Markup};

/// What was entered, and the problems per item, when a form is shown again.
#[derive(Default)]
pub struct Entered {
    pub values: HashMap<String, String>,
    pub errors: HashMap<String, String>,
}

impl Entered {
    pub fn new(pairs: &[(String, String)], errors: &[AnswerError]) -> Self {
        let values = pairs.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let errors = errors
            .iter()
            .map(|e| {
                let msg = match &e.problem {
                    AnswerProblem::Required => {
                        "Please choose an answer to this question.".to_owned()
                    }
                    AnswerProblem::Invalid { expected, .. } => {
                        format!("This answer could not be used; please choose {expected}.")
                    }
                    AnswerProblem::UnknownItem => {
                        "This question is not part of the form.".to_owned()
                    }
                    AnswerProblem::Duplicate => {
                        "This question was answered twice; please choose one answer.".to_owned()
                    }
                };
                (e.item.clone(), msg)
            })
            .collect();
        Self { values, errors }
    }
}

/// The `<form>` of a questionnaire. `hidden` carries extra hidden fields (e.g. the CSRF token).
pub fn questionnaire(
    form: &Form,
    action: &str,
    entered: &Entered,
    hidden: &[(&str, &str)],
    submit: &str,
) -> Markup {
    questionnaire_with(form, action, entered, hidden, html! {}, submit)
}

/// [`questionnaire`] with extra fields (e.g. a correction's reason) before the submit button.
pub fn questionnaire_with(
    form: &Form,
    action: &str,
    entered: &Entered,
    hidden: &[(&str, &str)],
    extra: Markup,
    submit: &str,
) -> Markup {
    let count = form.items.len();
    html! {
        @if let WordingSource::TextPack { placeholder: true, .. } = form.wording {
            p.notice.warn { "Demo wording: the texts below are placeholders, not the licensed questionnaire." }
        }
        @if !entered.errors.is_empty() {
            div.notice.urgent role="alert" id="form-problems" {
                p { strong { "Please check " (entered.errors.len()) " " (if entered.errors.len() == 1 { "answer" } else { "answers" }) " below." } }
                ul {
                    @for item in form.items.iter().filter(|i| entered.errors.contains_key(&i.id)) {
                        li { a href={ "#item-" (item.id) } { "Question " (position(form, &item.id)) } }
                    }
                    @for (id, msg) in entered.errors.iter().filter(|(id, _)| form.items.iter().all(|i| &&i.id != id)) {
                        li { (id) ": " (msg) }
                    }
                }
            }
        }
        @if let Some(instr) = &form.instructions { p { (instr) } }
        form.questionnaire method="post" action=(action) novalidate {
            @for (name, value) in hidden { input type="hidden" name=(name) value=(value); }
            @for (n, item) in form.items.iter().enumerate() {
                @let err = entered.errors.get(&item.id);
                @let chosen = entered.values.get(&item.id).map(String::as_str).unwrap_or("");
                fieldset.item.invalid[err.is_some()] id={ "item-" (item.id) } aria-describedby=[err.map(|_| format!("err-{}", item.id))] {
                    legend { span.visually-hidden { "Question " (n + 1) " of " (count) ": " } (item.text) }
                    @if let Some(e) = err { p.error id={ "err-" (item.id) } { (e) } }
                    @match &item.response_scale.kind {
                        ResponseScaleKind::Choice { points } => {
                            @let ten = points.len() > 6;
                            div.options.ten[ten] {
                                @for p in points {
                                    @let v = p.value.to_string();
                                    label.opt {
                                        input type="radio" name=(item.id) value=(v) checked[chosen == v] required[item.required];
                                        @if ten && p.label != v {
                                            // Number on the button; the full label for screen readers.
                                            span aria-hidden="true" { (v) }
                                            span.visually-hidden { (p.label) }
                                        } @else {
                                            span { (p.label) }
                                        }
                                    }
                                }
                            }
                            @if ten {
                                div.anchors aria-hidden="true" {
                                    span { (points.first().map(|p| p.label.as_str()).unwrap_or("")) }
                                    span { (points.last().map(|p| p.label.as_str()).unwrap_or("")) }
                                }
                            }
                        }
                        ResponseScaleKind::VisualAnalogue { min, max, step, min_label, max_label } => {
                            label.field for={ "vas-" (item.id) } { (min_label) " (" (bordin_core::format_value(*min, 1)) ") to " (max_label) " (" (bordin_core::format_value(*max, 1)) ")" }
                            input id={ "vas-" (item.id) } type="number" name=(item.id) value=(chosen)
                                min=(bordin_core::format_value(*min, 2)) max=(bordin_core::format_value(*max, 2)) step=(bordin_core::format_value(*step, 2)) inputmode="decimal";
                        }
                    }
                }
            }
            (extra)
            button type="submit" { (submit) }
        }
    }
}

fn position(form: &Form, id: &str) -> usize {
    form.items
        .iter()
        .position(|i| i.id == id)
        .map_or(0, |p| p + 1)
}

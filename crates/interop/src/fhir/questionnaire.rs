//! An instrument, with its wording resolved by the registry, as a FHIR R4 `Questionnaire`.
//!
//! The wording comes from a [`Form`], which the registry builds only when the instrument may be
//! shown: from the instrument file, or from the clinic's text pack for a licence-gated
//! instrument. Without a pack the registry refuses (`NotAdministrable`), and so does the export:
//! the structure of WAI-SR is never published with wording that the clinic has not installed.

use serde::{Deserialize, Serialize};

use bordin_core::instrument::ResponseScaleKind;
use bordin_core::registry::Form;

use super::{codes, decimal, fhir_id, questionnaire_url, Coding, Extension, ORDINAL_VALUE};

/// `Questionnaire`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Questionnaire {
    pub resource_type: String,
    pub id: String,
    pub url: String,
    pub version: String,
    pub name: String,
    pub title: String,
    pub status: String,
    pub subject_type: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub copyright: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub code: Vec<Coding>,
    pub item: Vec<QuestionnaireItem>,
}

/// `Questionnaire.item`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuestionnaireItem {
    pub link_id: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub code: Vec<Coding>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(rename = "type")]
    pub item_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extension: Vec<Extension>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub answer_option: Vec<AnswerOption>,
}

/// `Questionnaire.item.answerOption` with its weight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnswerOption {
    pub extension: Vec<Extension>,
    pub value_coding: Coding,
}

/// The Questionnaire of a form (an instrument whose wording the registry resolved).
pub fn questionnaire(form: &Form) -> Questionnaire {
    let inst = &form.instrument;
    let mut item = Vec::with_capacity(form.items.len() + 1);
    if let Some(text) = &form.instructions {
        item.push(QuestionnaireItem {
            link_id: "instructions".into(),
            code: vec![],
            text: Some(text.clone()),
            item_type: "display".into(),
            required: None,
            extension: vec![],
            answer_option: vec![],
        });
    }
    for fi in &form.items {
        let mut code: Vec<Coding> = codes::item(&inst.id, &fi.id).into_iter().collect();
        code.push(Coding::new(
            &format!("{}/item", questionnaire_url(&inst.id)),
            &fi.id,
            None,
        ));
        let rs = &fi.response_scale;
        let (item_type, answer_option, extension) = match &rs.kind {
            ResponseScaleKind::Choice { points } => (
                "choice",
                points
                    .iter()
                    .map(|p| AnswerOption {
                        extension: vec![Extension {
                            url: ORDINAL_VALUE.into(),
                            value_decimal: Some(serde_json::Number::from(p.value)),
                        }],
                        value_coding: codes::answer_coding(
                            &inst.id,
                            &rs.id,
                            p.value,
                            Some(&p.label),
                        ),
                    })
                    .collect(),
                vec![],
            ),
            ResponseScaleKind::VisualAnalogue { min, max, .. } => (
                "decimal",
                vec![],
                vec![
                    Extension {
                        url: "http://hl7.org/fhir/StructureDefinition/minValue".into(),
                        value_decimal: Some(decimal(*min, 6)),
                    },
                    Extension {
                        url: "http://hl7.org/fhir/StructureDefinition/maxValue".into(),
                        value_decimal: Some(decimal(*max, 6)),
                    },
                ],
            ),
        };
        item.push(QuestionnaireItem {
            link_id: fi.id.clone(),
            code,
            text: Some(fi.text.clone()).filter(|t| !t.is_empty()),
            item_type: item_type.into(),
            required: Some(fi.required),
            extension,
            answer_option,
        });
    }
    Questionnaire {
        resource_type: "Questionnaire".into(),
        id: fhir_id(&inst.id),
        url: questionnaire_url(&inst.id),
        version: inst.version.clone(),
        // `name` is computer-friendly: letters, digits and '_' starting upper-case (inv-0).
        name: computer_name(&inst.short_title),
        title: inst.title.clone(),
        status: "active".into(),
        subject_type: vec!["Patient".into()],
        description: Some(inst.citation.clone()),
        copyright: Some(format!(
            "{} ({})",
            inst.licence.holder,
            inst.licence.note.trim()
        ))
        .filter(|_| !inst.licence.holder.is_empty()),
        code: codes::panel(&inst.id).into_iter().collect(),
        item,
    }
}

/// `PHQ-9` → `PHQ9`: the `name` element must match `[A-Z]([A-Za-z0-9_]){0,254}`.
fn computer_name(s: &str) -> String {
    let mut out: String = s
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(255)
        .collect();
    match out.chars().next() {
        Some(c) if c.is_ascii_uppercase() => {}
        Some(c) if c.is_ascii_lowercase() => {
            let upper = c.to_ascii_uppercase();
            out.replace_range(..1, &upper.to_string());
        }
        _ => out.insert(0, 'Q'),
    }
    out.truncate(255);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use bordin_core::{Registry, Setting};

    #[test]
    fn phq9_carries_its_loinc_panel_item_and_answer_codes() {
        let reg = Registry::builtin().unwrap();
        let form = reg.form("phq9", &Setting::Therapy.words()).unwrap();
        let q = questionnaire(&form);
        assert_eq!(q.code[0].code.as_deref(), Some("44249-1"));
        assert_eq!(q.name, "PHQ9");
        let q9 = q.item.iter().find(|i| i.link_id == "q9").unwrap();
        assert_eq!(q9.code[0].code.as_deref(), Some("44260-8"));
        assert_eq!(q9.item_type, "choice");
        let codes: Vec<_> = q9
            .answer_option
            .iter()
            .map(|o| o.value_coding.code.clone().unwrap())
            .collect();
        assert_eq!(codes, ["LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9"]);
        assert_eq!(
            q9.answer_option[3].extension[0].value_decimal,
            Some(serde_json::Number::from(3))
        );
        // Item 10 has no verified LOINC code: Bordin's own coding only.
        let q10 = q.item.iter().find(|i| i.link_id == "q10").unwrap();
        assert_eq!(q10.code.len(), 1);
        assert_eq!(q10.required, Some(false));
    }

    #[test]
    fn wai_sr_without_a_text_pack_cannot_become_a_questionnaire() {
        let reg = Registry::builtin().unwrap();
        assert!(reg.form("wai_sr", &Setting::Therapy.words()).is_err());
    }
}

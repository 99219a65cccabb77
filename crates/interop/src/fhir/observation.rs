//! Scores as `Observation`s tied to their `QuestionnaireResponse`, and clients as `Patient`s.

use serde::{Deserialize, Serialize};

use bordin_core::{Instrument, ScoreSheet};

use super::{
    client_code_system, codes, decimal, CodeableConcept, Coding, Identifier, Quantity, Reference,
};

/// `Observation` (the elements Bordin writes for a derived score).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Observation {
    pub resource_type: String,
    pub id: String,
    pub status: String,
    pub category: Vec<CodeableConcept>,
    pub code: CodeableConcept,
    pub subject: Reference,
    pub effective_date_time: String,
    pub value_quantity: Quantity,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interpretation: Vec<CodeableConcept>,
    pub derived_from: Vec<Reference>,
}

/// One Observation per scored scale of a response (scales that could not be scored under their
/// missing-item rule have no value and get no Observation). Ids are `{response id}-{scale}`
/// with `_` written as `-` so that they are valid FHIR ids.
pub fn observations(
    response_id: &str,
    instrument: &Instrument,
    sheet: &ScoreSheet,
    subject: &Reference,
    effective: &str,
) -> Vec<Observation> {
    instrument
        .scales
        .iter()
        .zip(&sheet.scales)
        .filter_map(|(def, s)| {
            let v = s.value?;
            let mut coding: Vec<Coding> =
                codes::scale(&instrument.id, &def.id).into_iter().collect();
            coding.push(Coding::new(
                &codes::score_system(),
                &format!("{}.{}", instrument.id, def.id),
                Some(&def.title),
            ));
            Some(Observation {
                resource_type: "Observation".into(),
                id: format!("{response_id}-{}", super::fhir_id(&def.id)),
                status: "final".into(),
                category: vec![CodeableConcept {
                    coding: vec![Coding::new(
                        "http://terminology.hl7.org/CodeSystem/observation-category",
                        "survey",
                        Some("Survey"),
                    )],
                    text: None,
                }],
                code: CodeableConcept {
                    coding,
                    text: Some(def.title.clone()),
                },
                subject: subject.clone(),
                effective_date_time: effective.to_owned(),
                value_quantity: Quantity {
                    value: decimal(v, def.decimals),
                    system: "http://unitsofmeasure.org".into(),
                    code: "{score}".into(),
                    unit: "score".into(),
                },
                interpretation: s
                    .band
                    .and_then(|b| def.bands.get(b))
                    .map(|b| CodeableConcept {
                        coding: vec![],
                        text: Some(b.label.clone()),
                    })
                    .into_iter()
                    .collect(),
                derived_from: vec![Reference {
                    reference: Some(format!("QuestionnaireResponse/{response_id}")),
                    identifier: None,
                }],
            })
        })
        .collect()
}

/// `Patient`: the pseudonymous code only, unless the clinic allows names to leave Bordin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Patient {
    pub resource_type: String,
    pub id: String,
    pub identifier: Vec<Identifier>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub name: Vec<HumanName>,
}

/// `HumanName` (text only: Bordin keeps one display name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HumanName {
    pub text: String,
}

/// The Patient of a client. `display_name` is written only when `names_allowed`.
pub fn patient(
    clinic_id: &str,
    client_id: &str,
    code: &str,
    display_name: Option<&str>,
    names_allowed: bool,
) -> Patient {
    Patient {
        resource_type: "Patient".into(),
        id: client_id.to_owned(),
        identifier: vec![Identifier {
            system: client_code_system(clinic_id),
            value: code.to_owned(),
        }],
        name: display_name
            .filter(|_| names_allowed)
            .map(|n| HumanName { text: n.to_owned() })
            .into_iter()
            .collect(),
    }
}

/// The reference to a client's Patient (by id, with the pseudonymous code as identifier).
pub fn patient_reference(clinic_id: &str, client_id: &str, code: &str) -> Reference {
    Reference {
        reference: Some(format!("Patient/{client_id}")),
        identifier: Some(Identifier {
            system: client_code_system(clinic_id),
            value: code.to_owned(),
        }),
    }
}

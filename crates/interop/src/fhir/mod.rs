//! FHIR R4 (4.0.1) JSON for the resources Bordin exchanges.
//!
//! Why hand-written types and not a FHIR crate: the maintained Rust FHIR model crates
//! (`fhirbolt`, `fhir-sdk`/`fhir-model`, `fhir`, `fhirkit`) are generated from the whole
//! specification — every resource and datatype of a release, hundreds of thousands of lines
//! (fhirbolt: ~1.5 M lines, 75 MB) — and would dominate a 2-core CI build for the six resources
//! used here; `fhir-model` ships R4B/R5 but not R4, and `fhirbolt` has had no release since 2023.
//! So this module has lean serde types for exactly the elements Bordin writes, and reads input as
//! `serde_json::Value` walked by hand so that every problem names its element as a FHIRPath
//! expression (`QuestionnaireResponse.item[3].answer[0].valueCoding`) in an
//! [`OperationOutcome`].
//!
//! - [`questionnaire`]: an instrument (with its resolved wording) → `Questionnaire`.
//! - [`response`]: `QuestionnaireResponse` ↔ Bordin answers, with validation.
//! - [`observation`]: scores → `Observation`s `derivedFrom` their response; `Patient`.
//! - [`bundle`]: `Bundle` (searchset out; transaction/collection/batch in).
//! - [`validate`]: the R4 rules for the resources Bordin writes, checked on JSON (used by tests).

pub mod bundle;
pub mod codes;
pub mod observation;
pub mod outcome;
pub mod questionnaire;
pub mod response;
pub mod validate;

use serde::{Deserialize, Serialize};

pub use outcome::{Issue, IssueCode, OperationOutcome};

/// The media type of FHIR JSON.
pub const MEDIA_TYPE: &str = "application/fhir+json";

/// Namespace of Bordin's own canonical URLs (Questionnaires, code systems, identifier systems).
/// It names definitions; it is not fetched (Bordin does no network I/O at run time).
pub const CANONICAL_BASE: &str = "https://bordin.example/fhir";

/// LOINC's system URI.
pub const LOINC: &str = "http://loinc.org";

/// The R4 extension that carries an answer option's numeric weight (renamed `itemWeight` in R5).
pub const ORDINAL_VALUE: &str = "http://hl7.org/fhir/StructureDefinition/ordinalValue";

/// A FHIR `id` is `[A-Za-z0-9\-\.]{1,64}`; Bordin's instrument ids use `_`, so `wai_sr` is
/// published as `wai-sr`. The mapping is reversible because instrument ids never contain `-`.
pub fn fhir_id(instrument_id: &str) -> String {
    instrument_id.replace('_', "-")
}

/// The instrument id behind a FHIR id (`wai-sr` → `wai_sr`); also accepts the id itself.
pub fn instrument_id(fhir_id: &str) -> String {
    fhir_id.replace('-', "_")
}

/// Whether `s` is a valid FHIR `id`.
pub fn is_fhir_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// The canonical URL of an instrument's Questionnaire.
pub fn questionnaire_url(instrument_id: &str) -> String {
    format!("{CANONICAL_BASE}/Questionnaire/{}", fhir_id(instrument_id))
}

/// The identifier system of a clinic's pseudonymous client codes.
pub fn client_code_system(clinic_id: &str) -> String {
    format!("{CANONICAL_BASE}/clinic/{clinic_id}/client-code")
}

/// `Coding`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Coding {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
}

impl Coding {
    pub fn new(system: &str, code: &str, display: Option<&str>) -> Self {
        Self {
            system: Some(system.to_owned()),
            code: Some(code.to_owned()),
            display: display.map(str::to_owned),
        }
    }
}

/// `CodeableConcept`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CodeableConcept {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub coding: Vec<Coding>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// `Identifier`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identifier {
    pub system: String,
    pub value: String,
}

/// `Reference`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Reference {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identifier: Option<Identifier>,
}

/// `Extension` with the value types Bordin writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Extension {
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_decimal: Option<serde_json::Number>,
}

/// `Quantity`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quantity {
    pub value: serde_json::Number,
    pub system: String,
    pub code: String,
    pub unit: String,
}

/// A decimal as a JSON number, exact to `decimals` places (rounded half away from zero, as
/// Bordin formats every score).
pub fn decimal(v: bordin_core::Value, decimals: u8) -> serde_json::Number {
    let text = bordin_core::exact_decimal(v)
        .filter(|t| t.split('.').nth(1).map_or(0, str::len) <= usize::from(decimals))
        .unwrap_or_else(|| bordin_core::format_value(v, decimals));
    match text.parse::<i64>() {
        Ok(i) => serde_json::Number::from(i),
        Err(_) => serde_json::Number::from_f64(bordin_core::to_f64(v))
            .map(|n| {
                // Round-trip the formatted text so that 17.33 stays 17.33, not 17.333333.
                text.parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .unwrap_or(n)
            })
            .unwrap_or_else(|| serde_json::Number::from(0)),
    }
}

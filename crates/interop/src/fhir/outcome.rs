//! `OperationOutcome`: what was wrong with a resource, element by element.

use serde::{Deserialize, Serialize};

/// The `IssueType` codes Bordin uses (value set http://hl7.org/fhir/ValueSet/issue-type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IssueCode {
    /// Content invalid against the specification or a profile.
    Invalid,
    /// A structural problem (wrong JSON type, not an object).
    Structure,
    /// A required element is missing.
    Required,
    /// An element's value is not allowed.
    Value,
    /// A business rule stops the operation (e.g. only completed responses are scored).
    BusinessRule,
    /// The content is valid but not supported (unknown Questionnaire, other version).
    NotSupported,
    /// A referenced resource (Patient, Questionnaire) was not found.
    NotFound,
    /// Not allowed (e.g. licence-gated wording without the clinic's text pack).
    Forbidden,
    /// The request could not be handled for a reason on the server's side.
    Exception,
    /// Not logged in.
    Login,
    /// CSRF or permission failure.
    Security,
}

/// One problem, at one element.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    /// `fatal`, `error`, `warning` or `information`.
    pub severity: String,
    pub code: IssueCode,
    pub diagnostics: String,
    /// FHIRPath of the element, e.g. `QuestionnaireResponse.item[3].answer[0]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expression: Vec<String>,
}

impl Issue {
    pub fn error(code: IssueCode, expression: &str, diagnostics: impl Into<String>) -> Self {
        Self {
            severity: "error".into(),
            code,
            diagnostics: diagnostics.into(),
            expression: if expression.is_empty() {
                vec![]
            } else {
                vec![expression.to_owned()]
            },
        }
    }
}

impl std::fmt::Display for Issue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.expression.first() {
            Some(e) => write!(f, "{e}: {}", self.diagnostics),
            None => f.write_str(&self.diagnostics),
        }
    }
}

/// `OperationOutcome`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationOutcome {
    pub resource_type: String,
    pub issue: Vec<Issue>,
}

impl OperationOutcome {
    pub fn new(issue: Vec<Issue>) -> Self {
        Self {
            resource_type: "OperationOutcome".into(),
            issue,
        }
    }

    pub fn single(code: IssueCode, expression: &str, diagnostics: impl Into<String>) -> Self {
        Self::new(vec![Issue::error(code, expression, diagnostics)])
    }
}

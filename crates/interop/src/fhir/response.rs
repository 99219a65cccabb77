//! `QuestionnaireResponse` ↔ Bordin answers.
//!
//! Reading checks what FHIR R4 and the instrument require, and names every problem as a FHIRPath
//! expression: the resource type, `questionnaire` (known instrument, same version), `status`
//! (value set; only `completed` and `amended` are scored), `subject` (a Patient by pseudonymous
//! code or id), `authored` (a dateTime with at least a full date), every `item.linkId` known and
//! used once, at most one answer per (non-repeating) item, the answer type matching the item
//! type (`valueCoding` for choice items, `valueDecimal` for decimal ones), the answer being one
//! of the item's options or in range, and required items answered. Everything found is
//! reported, not just the first problem.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use bordin_core::instrument::ResponseScaleKind;
use bordin_core::registry::Form;
use bordin_core::{Answers, Instrument, Registry};

use super::outcome::{Issue, IssueCode};
use super::{codes, decimal, instrument_id, questionnaire_url, Coding, Reference};

/// `QuestionnaireResponse`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuestionnaireResponse {
    pub resource_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub questionnaire: String,
    pub status: String,
    pub subject: Reference,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authored: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub item: Vec<ResponseItem>,
}

/// `QuestionnaireResponse.item`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponseItem {
    pub link_id: String,
    pub answer: Vec<ResponseAnswer>,
}

/// `QuestionnaireResponse.item.answer` with the value types Bordin writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponseAnswer {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_coding: Option<Coding>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_decimal: Option<serde_json::Number>,
}

/// The statuses of R4's `QuestionnaireResponseStatus` value set.
pub const STATUSES: [&str; 5] = [
    "in-progress",
    "completed",
    "amended",
    "entered-in-error",
    "stopped",
];

/// Who the response is about, as the resource names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// `subject.identifier.value`: the client's pseudonymous code.
    Code(String),
    /// `subject.reference` = `Patient/{x}`: a code or Bordin's client id.
    Id(String),
}

/// A QuestionnaireResponse read and checked: answers valid for the instrument.
#[derive(Debug, Clone)]
pub struct ReadResponse {
    pub instrument: Arc<Instrument>,
    pub subject: Subject,
    /// The calendar date of `authored` (`YYYY-MM-DD`), when given.
    pub authored_on: Option<String>,
    pub answers: Answers,
    /// FHIRPath of the resource (`QuestionnaireResponse`, `Bundle.entry[2].resource`), for
    /// errors found later (e.g. an unknown patient).
    pub at: String,
}

/// Reads a QuestionnaireResponse or a Bundle of them from JSON text. Every entry is checked
/// before anything is returned, so a caller that stores only on `Ok` never imports part of a bad
/// bundle.
pub fn read(text: &[u8], registry: &Registry) -> Result<Vec<ReadResponse>, Vec<Issue>> {
    let json: Json = serde_json::from_slice(text).map_err(|e| {
        vec![Issue::error(
            IssueCode::Structure,
            "",
            format!("not JSON: {e} (line {}, column {})", e.line(), e.column()),
        )]
    })?;
    match json.get("resourceType").and_then(Json::as_str) {
        Some("QuestionnaireResponse") => {
            read_response(&json, "QuestionnaireResponse", registry).map(|r| vec![r])
        }
        Some("Bundle") => read_bundle(&json, registry),
        Some(other) => Err(vec![Issue::error(
            IssueCode::NotSupported,
            "",
            format!("resourceType '{other}' is not accepted: send a QuestionnaireResponse or a Bundle of them"),
        )]),
        None => Err(vec![Issue::error(
            IssueCode::Required,
            "",
            "resourceType is missing: send a QuestionnaireResponse or a Bundle of them",
        )]),
    }
}

fn read_bundle(json: &Json, registry: &Registry) -> Result<Vec<ReadResponse>, Vec<Issue>> {
    let mut issues = Vec::new();
    match json.get("type").and_then(Json::as_str) {
        Some("transaction" | "batch" | "collection") => {}
        Some(t) => issues.push(Issue::error(
            IssueCode::NotSupported,
            "Bundle.type",
            format!("Bundle type '{t}' is not accepted for import (use transaction, batch or collection)"),
        )),
        None => issues.push(Issue::error(IssueCode::Required, "Bundle.type", "Bundle.type is required")),
    }
    let entries = match json.get("entry") {
        None => &[][..],
        Some(Json::Array(a)) => a.as_slice(),
        Some(_) => {
            issues.push(Issue::error(
                IssueCode::Structure,
                "Bundle.entry",
                "entry must be an array",
            ));
            &[][..]
        }
    };
    if entries.is_empty() && issues.is_empty() {
        issues.push(Issue::error(
            IssueCode::Required,
            "Bundle.entry",
            "the Bundle has no entries",
        ));
    }
    let mut out = Vec::with_capacity(entries.len());
    for (i, e) in entries.iter().enumerate() {
        let at = format!("Bundle.entry[{i}].resource");
        match e.get("resource") {
            Some(r)
                if r.get("resourceType").and_then(Json::as_str)
                    == Some("QuestionnaireResponse") =>
            {
                match read_response(r, &at, registry) {
                    Ok(r) => out.push(r),
                    Err(mut e) => issues.append(&mut e),
                }
            }
            Some(_) => issues.push(Issue::error(
                IssueCode::NotSupported,
                &at,
                "only QuestionnaireResponse entries are accepted",
            )),
            None => issues.push(Issue::error(
                IssueCode::Required,
                &at,
                "the entry has no resource",
            )),
        }
    }
    if issues.is_empty() {
        Ok(out)
    } else {
        Err(issues)
    }
}

fn str_at<'a>(json: &'a Json, key: &str, at: &str, issues: &mut Vec<Issue>) -> Option<&'a str> {
    match json.get(key) {
        None => None,
        Some(Json::String(s)) => Some(s.as_str()),
        Some(_) => {
            issues.push(Issue::error(
                IssueCode::Structure,
                &format!("{at}.{key}"),
                format!("{key} must be a string"),
            ));
            None
        }
    }
}

/// Reads one QuestionnaireResponse found at FHIRPath `at`.
pub fn read_response(
    json: &Json,
    at: &str,
    registry: &Registry,
) -> Result<ReadResponse, Vec<Issue>> {
    let mut issues = Vec::new();
    if !json.is_object() {
        return Err(vec![Issue::error(
            IssueCode::Structure,
            at,
            "a resource must be a JSON object",
        )]);
    }
    if let Some(id) = str_at(json, "id", at, &mut issues) {
        if !super::is_fhir_id(id) {
            issues.push(Issue::error(
                IssueCode::Value,
                &format!("{at}.id"),
                "id must be 1-64 letters, digits, '-' or '.'",
            ));
        }
    }
    // status
    match str_at(json, "status", at, &mut issues) {
        None if json.get("status").is_none() => issues.push(Issue::error(
            IssueCode::Required,
            &format!("{at}.status"),
            "status is required",
        )),
        None => {}
        Some(s) if !STATUSES.contains(&s) => issues.push(Issue::error(
            IssueCode::Value,
            &format!("{at}.status"),
            format!(
                "status '{s}' is not a QuestionnaireResponse status ({})",
                STATUSES.join(", ")
            ),
        )),
        Some("completed" | "amended") => {}
        Some(s) => issues.push(Issue::error(
            IssueCode::BusinessRule,
            &format!("{at}.status"),
            format!("only completed (or amended) responses are scored; this one is '{s}'"),
        )),
    }
    // subject
    let subject = read_subject(json.get("subject"), at, &mut issues);
    // authored
    let authored_on = match str_at(json, "authored", at, &mut issues) {
        None => None,
        Some(s) => match authored_date(s) {
            Some(d) => Some(d),
            None => {
                issues.push(Issue::error(
                    IssueCode::Value,
                    &format!("{at}.authored"),
                    format!("authored '{s}' is not a FHIR dateTime with a full date (YYYY-MM-DD or YYYY-MM-DDThh:mm:ss+zz:zz)"),
                ));
                None
            }
        },
    };
    // questionnaire
    let instrument = match str_at(json, "questionnaire", at, &mut issues) {
        None => {
            if json.get("questionnaire").is_none() {
                issues.push(Issue::error(
                    IssueCode::Required,
                    &format!("{at}.questionnaire"),
                    "questionnaire is required: the canonical URL of the Questionnaire answered",
                ));
            }
            None
        }
        Some(q) => resolve_questionnaire(q, registry, &format!("{at}.questionnaire"), &mut issues),
    };
    let Some(instrument) = instrument else {
        return Err(issues);
    };
    let mut values = vec![None; instrument.items.len()];
    let mut seen = vec![false; instrument.items.len()];
    if let Some(items) = json.get("item") {
        read_items(
            items,
            &format!("{at}.item"),
            &instrument,
            &mut values,
            &mut seen,
            &mut issues,
        );
    }
    let answers = match Answers::from_values(&instrument, values) {
        Ok(a) => Some(a),
        Err(errs) => {
            for e in errs {
                issues.push(Issue::error(
                    IssueCode::Value,
                    &format!("{at}.item"),
                    e.to_string(),
                ));
            }
            None
        }
    };
    if let Some(a) = &answers {
        for e in a.missing_required(&instrument) {
            issues.push(Issue::error(
                IssueCode::Required,
                &format!("{at}.item"),
                format!(
                    "item with linkId '{}' is required in a completed response and has no answer",
                    e.item
                ),
            ));
        }
    }
    match (issues.is_empty(), answers, subject) {
        (true, Some(answers), Some(subject)) => Ok(ReadResponse {
            instrument,
            subject,
            authored_on,
            answers,
            at: at.to_owned(),
        }),
        _ => Err(issues),
    }
}

fn read_subject(subject: Option<&Json>, at: &str, issues: &mut Vec<Issue>) -> Option<Subject> {
    let path = format!("{at}.subject");
    let Some(subject) = subject else {
        issues.push(Issue::error(
            IssueCode::Required,
            &path,
            "subject is required: a Patient reference ('Patient/{code}') or identifier with the client's pseudonymous code",
        ));
        return None;
    };
    if let Some(v) = subject
        .get("identifier")
        .and_then(|i| i.get("value"))
        .and_then(Json::as_str)
    {
        return Some(Subject::Code(v.to_owned()));
    }
    match subject.get("reference").and_then(Json::as_str) {
        Some(r) => match r.strip_prefix("Patient/") {
            Some(id) if !id.is_empty() && !id.contains('/') => Some(Subject::Id(id.to_owned())),
            _ => {
                issues.push(Issue::error(
                    IssueCode::Value,
                    &format!("{path}.reference"),
                    format!("'{r}' is not a Patient reference (expected 'Patient/{{id or code}}')"),
                ));
                None
            }
        },
        None => {
            issues.push(Issue::error(
                IssueCode::Required,
                &path,
                "subject needs a reference ('Patient/{code}') or an identifier.value",
            ));
            None
        }
    }
}

/// Finds the instrument behind a Questionnaire canonical (`…/Questionnaire/phq9|1`, or a bare id).
fn resolve_questionnaire(
    q: &str,
    registry: &Registry,
    path: &str,
    issues: &mut Vec<Issue>,
) -> Option<Arc<Instrument>> {
    let (url, version) = match q.split_once('|') {
        Some((u, v)) => (u, Some(v)),
        None => (q, None),
    };
    let id = url.rsplit('/').next().unwrap_or(url);
    let Some(instrument) = registry.get(&instrument_id(id)) else {
        issues.push(Issue::error(
            IssueCode::NotFound,
            path,
            format!("no Questionnaire '{id}' is known here (GET /fhir/Questionnaire/{{id}} lists the form; ids: phq9, gad7, wai-sr, …)"),
        ));
        return None;
    };
    if url.contains('/') && url != questionnaire_url(&instrument.id) {
        issues.push(Issue::error(
            IssueCode::NotSupported,
            path,
            format!(
                "'{url}' is not Bordin's canonical URL for this Questionnaire ({})",
                questionnaire_url(&instrument.id)
            ),
        ));
        return None;
    }
    if let Some(v) = version {
        if v != instrument.version {
            issues.push(Issue::error(
                IssueCode::NotSupported,
                path,
                format!(
                    "version '{v}' of {} is not installed (installed: {})",
                    instrument.short_title, instrument.version
                ),
            ));
            return None;
        }
    }
    Some(instrument.clone())
}

fn read_items(
    items: &Json,
    path: &str,
    instrument: &Instrument,
    values: &mut [Option<bordin_core::Value>],
    seen: &mut [bool],
    issues: &mut Vec<Issue>,
) {
    let Some(items) = items.as_array() else {
        issues.push(Issue::error(
            IssueCode::Structure,
            path,
            "item must be an array",
        ));
        return;
    };
    for (i, item) in items.iter().enumerate() {
        let at = format!("{path}[{i}]");
        let Some(link_id) = item.get("linkId").and_then(Json::as_str) else {
            issues.push(Issue::error(
                IssueCode::Required,
                &format!("{at}.linkId"),
                "linkId is required",
            ));
            continue;
        };
        let answers = item.get("answer");
        // A group: its children carry the answers.
        if answers.is_none() {
            if let Some(children) = item.get("item") {
                if instrument.item_position(link_id).is_none() {
                    read_items(
                        children,
                        &format!("{at}.item"),
                        instrument,
                        values,
                        seen,
                        issues,
                    );
                    continue;
                }
            }
        }
        let Some(pos) = instrument.item_position(link_id) else {
            if link_id == "instructions" {
                continue; // the display item of Bordin's own Questionnaire
            }
            issues.push(Issue::error(
                IssueCode::Value,
                &format!("{at}.linkId"),
                format!(
                    "linkId '{link_id}' is not an item of the Questionnaire {}",
                    instrument.short_title
                ),
            ));
            continue;
        };
        if std::mem::replace(&mut seen[pos], true) {
            issues.push(Issue::error(
                IssueCode::Value,
                &format!("{at}.linkId"),
                format!("linkId '{link_id}' appears more than once"),
            ));
            continue;
        }
        let answers = match answers {
            None => continue,
            Some(Json::Array(a)) => a,
            Some(_) => {
                issues.push(Issue::error(
                    IssueCode::Structure,
                    &format!("{at}.answer"),
                    "answer must be an array",
                ));
                continue;
            }
        };
        if answers.len() > 1 {
            issues.push(Issue::error(
                IssueCode::Value,
                &format!("{at}.answer"),
                format!(
                    "item '{link_id}' does not repeat: give at most one answer ({} given)",
                    answers.len()
                ),
            ));
            continue;
        }
        let Some(answer) = answers.first() else {
            continue;
        };
        let apath = format!("{at}.answer[0]");
        match answer_value(instrument, pos, answer, &apath) {
            Ok(v) => values[pos] = Some(v),
            Err(issue) => issues.push(issue),
        }
    }
}

fn answer_value(
    instrument: &Instrument,
    pos: usize,
    answer: &Json,
    apath: &str,
) -> Result<bordin_core::Value, Issue> {
    let item = &instrument.items[pos];
    let rs = instrument.response_scale_of(pos);
    match &rs.kind {
        ResponseScaleKind::Choice { points } => {
            let Some(coding) = answer.get("valueCoding") else {
                let given = answer
                    .as_object()
                    .and_then(|o| o.keys().find(|k| k.starts_with("value")).cloned())
                    .unwrap_or_else(|| "no value".into());
                return Err(Issue::error(
                    IssueCode::Value,
                    apath,
                    format!("item '{}' is a choice item: the answer must be a valueCoding (got {given})", item.id),
                ));
            };
            let path = format!("{apath}.valueCoding");
            let code = coding.get("code").and_then(Json::as_str);
            let system = coding.get("system").and_then(Json::as_str);
            let found = points.iter().find(|p| {
                let c = codes::answer_coding(&instrument.id, &rs.id, p.value, None);
                code == c.code.as_deref() && system.is_none_or(|s| Some(s) == c.system.as_deref())
            });
            match found {
                Some(p) => Ok(bordin_core::Value::from_integer(p.value)),
                None => {
                    let options: Vec<String> = points
                        .iter()
                        .filter_map(|p| {
                            codes::answer_coding(&instrument.id, &rs.id, p.value, None).code
                        })
                        .collect();
                    Err(Issue::error(
                        IssueCode::Value,
                        &path,
                        format!(
                            "{}{} is not an answer option of item '{}' (codes: {}, system {})",
                            code.map_or("a coding without code".to_owned(), |c| format!(
                                "code '{c}'"
                            )),
                            system.map_or(String::new(), |s| format!(" in system '{s}'")),
                            item.id,
                            options.join(", "),
                            codes::answer_coding(
                                &instrument.id,
                                &rs.id,
                                points.first().map_or(0, |p| p.value),
                                None
                            )
                            .system
                            .unwrap_or_default()
                        ),
                    ))
                }
            }
        }
        ResponseScaleKind::VisualAnalogue { .. } => {
            let Some(n) = answer.get("valueDecimal").and_then(Json::as_number) else {
                return Err(Issue::error(
                    IssueCode::Value,
                    apath,
                    format!(
                        "item '{}' is a decimal item: the answer must be a valueDecimal number",
                        item.id
                    ),
                ));
            };
            let path = format!("{apath}.valueDecimal");
            let v = bordin_core::parse_decimal(&n.to_string()).ok_or_else(|| {
                Issue::error(
                    IssueCode::Value,
                    &path,
                    format!("{n} is not a plain decimal number"),
                )
            })?;
            if rs.accepts(v) {
                Ok(v)
            } else {
                Err(Issue::error(
                    IssueCode::Value,
                    &path,
                    format!(
                        "{n} is not a valid answer to item '{}' (expected {})",
                        item.id,
                        rs.describe()
                    ),
                ))
            }
        }
    }
}

/// The date of a FHIR `dateTime` that has at least a full date; `None` when malformed.
pub fn authored_date(s: &str) -> Option<String> {
    let date = s.get(..10)?;
    if !bordin_core::goals::is_calendar_date(date) {
        return None;
    }
    let rest = &s[10..];
    if rest.is_empty() {
        return Some(date.to_owned());
    }
    // Thh:mm:ss(.fraction)?(Z|±hh:mm): FHIR requires a zone when the time is given.
    let b = rest.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|x| x.iter().all(u8::is_ascii_digit));
    if b.len() < 10
        || b[0] != b'T'
        || !digits(1..3)
        || b[3] != b':'
        || !digits(4..6)
        || b[6] != b':'
        || !digits(7..9)
    {
        return None;
    }
    let mut i = 9;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    let zone = &b[i..];
    let ok = zone == b"Z"
        || (zone.len() == 6
            && (zone[0] == b'+' || zone[0] == b'-')
            && zone[1..3].iter().all(u8::is_ascii_digit)
            && zone[3] == b':'
            && zone[4..6].iter().all(u8::is_ascii_digit));
    ok.then(|| date.to_owned())
}

/// What is needed to write a stored response as a QuestionnaireResponse.
pub struct ResponseOut<'a> {
    /// Bordin's response id (a UUID: a valid FHIR id).
    pub id: &'a str,
    pub instrument: &'a Instrument,
    /// The form, when its wording may be shown: answer codings then carry the display labels.
    pub form: Option<&'a Form>,
    pub answers: &'a Answers,
    /// A corrected response (version > 1) is `amended`.
    pub amended: bool,
    pub subject: Reference,
    /// `authored` as a FHIR dateTime.
    pub authored: String,
}

/// A stored response as a QuestionnaireResponse (answered items only, in item order).
pub fn questionnaire_response(r: &ResponseOut<'_>) -> QuestionnaireResponse {
    let inst = r.instrument;
    let item = inst
        .items
        .iter()
        .enumerate()
        .filter_map(|(pos, it)| {
            let v = r.answers.values().get(pos).copied().flatten()?;
            let rs = inst.response_scale_of(pos);
            let answer = match &rs.kind {
                ResponseScaleKind::Choice { .. } => {
                    let value = *v.numer();
                    let label = r
                        .form
                        .and_then(|f| f.items.get(pos))
                        .and_then(|fi| fi.response_scale.points().iter().find(|p| p.value == value))
                        .map(|p| p.label.as_str());
                    ResponseAnswer {
                        value_coding: Some(codes::answer_coding(&inst.id, &rs.id, value, label)),
                        value_decimal: None,
                    }
                }
                ResponseScaleKind::VisualAnalogue { .. } => ResponseAnswer {
                    value_coding: None,
                    value_decimal: Some(decimal(v, 9)),
                },
            };
            Some(ResponseItem {
                link_id: it.id.clone(),
                answer: vec![answer],
            })
        })
        .collect();
    QuestionnaireResponse {
        resource_type: "QuestionnaireResponse".into(),
        id: Some(r.id.to_owned()),
        questionnaire: format!("{}|{}", questionnaire_url(&inst.id), inst.version),
        status: if r.amended { "amended" } else { "completed" }.into(),
        subject: r.subject.clone(),
        authored: Some(r.authored.clone()),
        item,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn phq9_answers(vals: [&str; 9]) -> Json {
        let items: Vec<Json> = vals
            .iter()
            .enumerate()
            .map(|(i, code)| json!({"linkId": format!("q{}", i + 1), "answer": [{"valueCoding": {"system": "http://loinc.org", "code": code}}]}))
            .collect();
        json!({
            "resourceType": "QuestionnaireResponse",
            "questionnaire": "https://bordin.example/fhir/Questionnaire/phq9|1",
            "status": "completed",
            "subject": {"reference": "Patient/C-001"},
            "authored": "2026-03-02T10:00:00+01:00",
            "item": items
        })
    }

    const ALL_SEVERAL: [&str; 9] = ["LA6569-3"; 9];

    #[test]
    fn a_phq9_response_reads_into_answers() {
        let reg = Registry::builtin().unwrap();
        let text = phq9_answers(ALL_SEVERAL).to_string();
        let r = read(text.as_bytes(), &reg).unwrap();
        assert_eq!(r.len(), 1);
        let sheet = r[0].instrument.score(&r[0].answers);
        assert_eq!(
            sheet.value(&r[0].instrument, "total"),
            Some(bordin_core::Value::from_integer(9))
        );
        assert_eq!(r[0].subject, Subject::Id("C-001".into()));
        assert_eq!(r[0].authored_on.as_deref(), Some("2026-03-02"));
    }

    #[test]
    fn problems_name_their_element() {
        let reg = Registry::builtin().unwrap();
        let mut j = phq9_answers(ALL_SEVERAL);
        j["item"][3]["answer"][0]["valueCoding"]["code"] = json!("LA9999-9");
        j["item"][4]["answer"] = json!([{"valueInteger": 2}]);
        j["item"][5]["linkId"] = json!("q99");
        j["status"] = json!("done");
        let errs = read(j.to_string().as_bytes(), &reg).unwrap_err();
        let exprs: Vec<&str> = errs.iter().map(|i| i.expression[0].as_str()).collect();
        assert!(exprs.contains(&"QuestionnaireResponse.status"), "{exprs:?}");
        assert!(exprs.contains(&"QuestionnaireResponse.item[3].answer[0].valueCoding"));
        assert!(exprs.contains(&"QuestionnaireResponse.item[4].answer[0]"));
        assert!(exprs.contains(&"QuestionnaireResponse.item[5].linkId"));
    }

    #[test]
    fn a_bad_entry_in_a_bundle_rejects_the_bundle_and_names_the_entry() {
        let reg = Registry::builtin().unwrap();
        let good = phq9_answers(ALL_SEVERAL);
        let mut bad = good.clone();
        bad["item"][1]["answer"] =
            json!([{"valueCoding": {"code": "LA6568-5"}}, {"valueCoding": {"code": "LA6569-3"}}]);
        let b = json!({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": good}, {"resource": bad}]});
        let errs = read(b.to_string().as_bytes(), &reg).unwrap_err();
        assert_eq!(
            errs[0].expression[0],
            "Bundle.entry[1].resource.item[1].answer"
        );
        // The repeated answer is not taken, so q2 is also reported unanswered; entry 0 is fine.
        assert!(errs
            .iter()
            .all(|e| e.expression[0].starts_with("Bundle.entry[1].")));
    }

    #[test]
    fn required_items_must_be_answered() {
        let reg = Registry::builtin().unwrap();
        let mut j = phq9_answers(ALL_SEVERAL);
        j["item"].as_array_mut().unwrap().remove(8);
        let errs = read(j.to_string().as_bytes(), &reg).unwrap_err();
        assert_eq!(errs[0].code, IssueCode::Required);
        assert!(errs[0].diagnostics.contains("'q9'"));
    }

    #[test]
    fn authored_dates() {
        assert_eq!(authored_date("2026-01-31").as_deref(), Some("2026-01-31"));
        assert_eq!(
            authored_date("2026-01-31T09:30:00Z").as_deref(),
            Some("2026-01-31")
        );
        assert_eq!(
            authored_date("2026-01-31T09:30:00.123-05:00").as_deref(),
            Some("2026-01-31")
        );
        assert_eq!(authored_date("2026-01-31T09:30:00"), None);
        assert_eq!(authored_date("2026-02-30"), None);
        assert_eq!(authored_date("2026"), None);
    }
}

//! The FHIR R4 rules for the resources Bordin writes, checked on their JSON.
//!
//! No official R4 validator or JSON schema is available to the build as a cheap registry package
//! (the HL7 validator is a Java program; the R4 JSON schema is a 4 MB file outside crates.io), so
//! the rules that matter for these six resources are encoded here from the R4 specification
//! (hl7.org/fhir/R4: json.html, questionnaire.html, questionnaireresponse.html,
//! observation.html, patient.html, bundle.html, operationoutcome.html):
//!
//! - JSON representation: `resourceType` present; no `null`, no empty strings, arrays or
//!   objects (ele-1); `id` matches `[A-Za-z0-9\-\.]{1,64}`.
//! - Cardinalities (1..1 / 1..*) of the required elements, and required value sets
//!   (`PublicationStatus`, `QuestionnaireItemType`, `QuestionnaireResponseStatus`,
//!   `ObservationStatus`, `BundleType`, `SearchEntryMode`, `IssueSeverity`, `IssueType`).
//! - Questionnaire: linkIds unique (que-2), `name` computer-friendly (inv-0), display items carry
//!   no `required` (que-6) and no answers, answerOption only on choice items (que-5), groups
//!   have items (que-1), each answerOption one value\[x\].
//! - QuestionnaireResponse: every linkId in the Questionnaire, answer type matching item type,
//!   at most one answer for a non-repeating item, not both `item` and `answer` on an item
//!   (qrs-1), required items answered when `completed`.
//! - References are `Type/id` with a valid id; dateTimes carry a full date and, with a time, a zone.
//!
//! Used by the tests of this crate, the server and the CLI on everything Bordin exports.

use std::collections::{HashMap, HashSet};

use serde_json::Value as Json;

fn is_id(s: &str) -> bool {
    super::is_fhir_id(s)
}

/// Checks a resource; returns every violation as `path: rule`.
pub fn resource(json: &Json) -> Vec<String> {
    let mut out = Vec::new();
    json_rules(json, "", &mut out);
    let rt = json
        .get("resourceType")
        .and_then(Json::as_str)
        .unwrap_or("");
    match rt {
        "Questionnaire" => questionnaire(json, &mut out),
        "QuestionnaireResponse" => questionnaire_response(json, None, &mut out),
        "Observation" => observation(json, &mut out),
        "Patient" => patient(json, &mut out),
        "OperationOutcome" => operation_outcome(json, &mut out),
        "Bundle" => bundle(json, &mut out),
        "" => out.push("resourceType: required".into()),
        other => out.push(format!("resourceType: '{other}' is not checked here")),
    }
    if let Some(id) = json.get("id") {
        if !id.as_str().is_some_and(is_id) {
            out.push(format!("{rt}.id: not a valid id"));
        }
    }
    out
}

/// Checks a QuestionnaireResponse against its Questionnaire (both as JSON).
pub fn response_against(qr: &Json, q: &Json) -> Vec<String> {
    let mut out = resource(qr);
    questionnaire_response(qr, Some(q), &mut out);
    out
}

fn json_rules(v: &Json, path: &str, out: &mut Vec<String>) {
    match v {
        Json::Null => out.push(format!("{path}: null is not allowed")),
        Json::String(s) if s.is_empty() => out.push(format!("{path}: empty string")),
        Json::String(s) if s.trim() != s.as_str() && !path.ends_with("div") => {
            out.push(format!("{path}: leading or trailing whitespace"))
        }
        Json::Array(a) if a.is_empty() => out.push(format!("{path}: empty array")),
        Json::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                json_rules(x, &format!("{path}[{i}]"), out);
            }
        }
        Json::Object(o) if o.is_empty() => out.push(format!("{path}: empty object")),
        Json::Object(o) => {
            for (k, x) in o {
                json_rules(x, &format!("{path}.{k}"), out);
            }
        }
        _ => {}
    }
}

fn s<'a>(j: &'a Json, k: &str) -> Option<&'a str> {
    j.get(k).and_then(Json::as_str)
}

fn arr<'a>(j: &'a Json, k: &str) -> &'a [Json] {
    j.get(k).and_then(Json::as_array).map_or(&[], Vec::as_slice)
}

fn required_in(j: &Json, k: &str, path: &str, set: &[&str], out: &mut Vec<String>) {
    match s(j, k) {
        None => out.push(format!("{path}.{k}: required (1..1)")),
        Some(v) if !set.contains(&v) => out.push(format!(
            "{path}.{k}: '{v}' is not in the required value set"
        )),
        _ => {}
    }
}

fn coding(c: &Json, path: &str, out: &mut Vec<String>) {
    if s(c, "system").is_none() || s(c, "code").is_none() {
        out.push(format!("{path}: a Coding needs system and code"));
    }
    if let Some(sys) = s(c, "system") {
        if !sys.contains(':') {
            out.push(format!("{path}.system: not a URI"));
        }
    }
}

fn reference(r: &Json, path: &str, out: &mut Vec<String>) {
    match (s(r, "reference"), r.get("identifier")) {
        (None, None) => out.push(format!("{path}: a Reference needs reference or identifier")),
        (Some(x), _) => {
            let ok = x.split_once('/').is_some_and(|(t, id)| {
                t.chars().next().is_some_and(|c| c.is_ascii_uppercase()) && is_id(id)
            });
            if !ok {
                out.push(format!("{path}.reference: '{x}' is not Type/id"));
            }
        }
        _ => {}
    }
}

fn date_time(v: Option<&str>, path: &str, out: &mut Vec<String>) {
    match v {
        Some(d) if super::response::authored_date(d).is_some() => {}
        Some(d) => out.push(format!("{path}: '{d}' is not a dateTime with a full date")),
        None => {}
    }
}

const ITEM_TYPES: [&str; 17] = [
    "group",
    "display",
    "boolean",
    "decimal",
    "integer",
    "date",
    "dateTime",
    "time",
    "string",
    "text",
    "url",
    "choice",
    "open-choice",
    "attachment",
    "reference",
    "quantity",
    "question",
];

/// linkId → (type, required, repeats).
fn questionnaire_items(q: &Json) -> HashMap<String, (String, bool, bool)> {
    fn walk(items: &[Json], out: &mut HashMap<String, (String, bool, bool)>) {
        for it in items {
            if let Some(l) = s(it, "linkId") {
                out.insert(
                    l.to_owned(),
                    (
                        s(it, "type").unwrap_or("").to_owned(),
                        it.get("required").and_then(Json::as_bool).unwrap_or(false),
                        it.get("repeats").and_then(Json::as_bool).unwrap_or(false),
                    ),
                );
            }
            walk(arr(it, "item"), out);
        }
    }
    let mut out = HashMap::new();
    walk(arr(q, "item"), &mut out);
    out
}

fn questionnaire(q: &Json, out: &mut Vec<String>) {
    required_in(
        q,
        "status",
        "Questionnaire",
        &["draft", "active", "retired", "unknown"],
        out,
    );
    if let Some(n) = s(q, "name") {
        let ok = n.chars().next().is_some_and(|c| c.is_ascii_uppercase())
            && n.len() <= 255
            && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            out.push("Questionnaire.name: inv-0 (computer-friendly name)".into());
        }
    }
    for (i, c) in arr(q, "code").iter().enumerate() {
        coding(c, &format!("Questionnaire.code[{i}]"), out);
    }
    let mut seen = HashSet::new();
    fn walk(items: &[Json], path: &str, seen: &mut HashSet<String>, out: &mut Vec<String>) {
        for (i, it) in items.iter().enumerate() {
            let p = format!("{path}[{i}]");
            match s(it, "linkId") {
                None => out.push(format!("{p}.linkId: required (1..1)")),
                Some(l) => {
                    if !seen.insert(l.to_owned()) {
                        out.push(format!("{p}.linkId: que-2 linkId '{l}' is not unique"));
                    }
                }
            }
            required_in(it, "type", &p, &ITEM_TYPES, out);
            let t = s(it, "type").unwrap_or("");
            let options = arr(it, "answerOption");
            if t == "display" && (it.get("required").is_some() || it.get("repeats").is_some()) {
                out.push(format!(
                    "{p}: que-6 display items cannot be required or repeat"
                ));
            }
            if t == "display" && it.get("text").is_none() {
                out.push(format!("{p}: a display item needs text"));
            }
            if !options.is_empty() && !matches!(t, "choice" | "open-choice") {
                out.push(format!("{p}: que-5 answerOption only on choice items"));
            }
            if t == "group" && arr(it, "item").is_empty() {
                out.push(format!("{p}: que-1 a group must have items"));
            }
            for (k, o) in options.iter().enumerate() {
                let op = format!("{p}.answerOption[{k}]");
                let values: Vec<&String> = o
                    .as_object()
                    .map(|m| m.keys().filter(|k| k.starts_with("value")).collect())
                    .unwrap_or_default();
                if values.len() != 1 {
                    out.push(format!("{op}: exactly one value[x] required"));
                }
                if let Some(c) = o.get("valueCoding") {
                    coding(c, &format!("{op}.valueCoding"), out);
                }
                for (e, x) in arr(o, "extension").iter().enumerate() {
                    if s(x, "url").is_none() {
                        out.push(format!("{op}.extension[{e}].url: required"));
                    }
                }
            }
            for (k, c) in arr(it, "code").iter().enumerate() {
                coding(c, &format!("{p}.code[{k}]"), out);
            }
            walk(arr(it, "item"), &format!("{p}.item"), seen, out);
        }
    }
    walk(arr(q, "item"), "Questionnaire.item", &mut seen, out);
}

/// The answer value\[x\] each item type accepts.
fn answer_type_for(item_type: &str) -> &'static [&'static str] {
    match item_type {
        "boolean" => &["valueBoolean"],
        "decimal" => &["valueDecimal"],
        "integer" => &["valueInteger"],
        "date" => &["valueDate"],
        "dateTime" => &["valueDateTime"],
        "time" => &["valueTime"],
        "string" | "text" => &["valueString"],
        "url" => &["valueUri"],
        "choice" => &["valueCoding"],
        "open-choice" => &["valueCoding", "valueString"],
        "attachment" => &["valueAttachment"],
        "reference" => &["valueReference"],
        "quantity" => &["valueQuantity"],
        _ => &[],
    }
}

fn questionnaire_response(qr: &Json, q: Option<&Json>, out: &mut Vec<String>) {
    let p = "QuestionnaireResponse";
    required_in(
        qr,
        "status",
        p,
        &[
            "in-progress",
            "completed",
            "amended",
            "entered-in-error",
            "stopped",
        ],
        out,
    );
    if q.is_none() {
        if s(qr, "questionnaire").is_none_or(|c| !c.contains(':')) {
            out.push(format!("{p}.questionnaire: a canonical URL is expected"));
        }
        if let Some(r) = qr.get("subject") {
            reference(r, &format!("{p}.subject"), out);
        }
        date_time(s(qr, "authored"), &format!("{p}.authored"), out);
    }
    let Some(q) = q else {
        return;
    };
    let defs = questionnaire_items(q);
    let mut answered = HashSet::new();
    fn walk(
        items: &[Json],
        path: &str,
        defs: &HashMap<String, (String, bool, bool)>,
        answered: &mut HashSet<String>,
        out: &mut Vec<String>,
    ) {
        for (i, it) in items.iter().enumerate() {
            let ip = format!("{path}[{i}]");
            let Some(l) = s(it, "linkId") else {
                out.push(format!("{ip}.linkId: required (1..1)"));
                continue;
            };
            if it.get("answer").is_some() && it.get("item").is_some() {
                out.push(format!("{ip}: qrs-1 not both item and answer"));
            }
            let Some((t, _, repeats)) = defs.get(l) else {
                out.push(format!("{ip}.linkId: '{l}' is not in the Questionnaire"));
                continue;
            };
            let answers = arr(it, "answer");
            if !answers.is_empty() {
                answered.insert(l.to_owned());
            }
            if answers.len() > 1 && !repeats {
                out.push(format!("{ip}.answer: '{l}' does not repeat"));
            }
            let allowed = answer_type_for(t);
            for (k, a) in answers.iter().enumerate() {
                let values: Vec<&String> = a
                    .as_object()
                    .map(|m| m.keys().filter(|k| k.starts_with("value")).collect())
                    .unwrap_or_default();
                if values.len() != 1 || !allowed.contains(&values[0].as_str()) {
                    out.push(format!(
                        "{ip}.answer[{k}]: item type '{t}' takes {allowed:?}, found {values:?}"
                    ));
                }
                if let Some(c) = a.get("valueCoding") {
                    coding(c, &format!("{ip}.answer[{k}].valueCoding"), out);
                }
            }
            walk(arr(it, "item"), &format!("{ip}.item"), defs, answered, out);
        }
    }
    walk(
        arr(qr, "item"),
        "QuestionnaireResponse.item",
        &defs,
        &mut answered,
        out,
    );
    if s(qr, "status") == Some("completed") {
        for (l, (_, required, _)) in &defs {
            if *required && !answered.contains(l) {
                out.push(format!(
                    "QuestionnaireResponse.item: required item '{l}' unanswered"
                ));
            }
        }
    }
    if let (Some(c), Some(url)) = (s(qr, "questionnaire"), s(q, "url")) {
        if c.split('|').next() != Some(url) {
            out.push(format!(
                "QuestionnaireResponse.questionnaire: '{c}' is not {url}"
            ));
        }
    }
}

fn observation(o: &Json, out: &mut Vec<String>) {
    let p = "Observation";
    required_in(
        o,
        "status",
        p,
        &[
            "registered",
            "preliminary",
            "final",
            "amended",
            "corrected",
            "cancelled",
            "entered-in-error",
            "unknown",
        ],
        out,
    );
    match o.get("code") {
        None => out.push(format!("{p}.code: required (1..1)")),
        Some(c) => {
            for (i, x) in arr(c, "coding").iter().enumerate() {
                coding(x, &format!("{p}.code.coding[{i}]"), out);
            }
        }
    }
    for (i, c) in arr(o, "category").iter().enumerate() {
        for (k, x) in arr(c, "coding").iter().enumerate() {
            coding(x, &format!("{p}.category[{i}].coding[{k}]"), out);
        }
    }
    if let Some(r) = o.get("subject") {
        reference(r, &format!("{p}.subject"), out);
    }
    for (i, r) in arr(o, "derivedFrom").iter().enumerate() {
        reference(r, &format!("{p}.derivedFrom[{i}]"), out);
    }
    date_time(
        s(o, "effectiveDateTime"),
        &format!("{p}.effectiveDateTime"),
        out,
    );
    let values = o
        .as_object()
        .map(|m| m.keys().filter(|k| k.starts_with("value")).count())
        .unwrap_or(0);
    if values > 1 {
        out.push(format!("{p}.value[x]: at most one"));
    }
    if let Some(q) = o.get("valueQuantity") {
        if !q.get("value").is_some_and(Json::is_number) {
            out.push(format!("{p}.valueQuantity.value: a number is expected"));
        }
        if q.get("code").is_some() && s(q, "system").is_none() {
            out.push(format!("{p}.valueQuantity: qty-3 a code needs a system"));
        }
    }
}

fn patient(pt: &Json, out: &mut Vec<String>) {
    for (i, id) in arr(pt, "identifier").iter().enumerate() {
        if s(id, "value").is_none() {
            out.push(format!("Patient.identifier[{i}].value: expected"));
        }
    }
}

const ISSUE_TYPES: [&str; 31] = [
    "invalid",
    "structure",
    "required",
    "value",
    "invariant",
    "security",
    "login",
    "unknown",
    "expired",
    "forbidden",
    "suppressed",
    "processing",
    "not-supported",
    "duplicate",
    "multiple-matches",
    "not-found",
    "deleted",
    "too-long",
    "code-invalid",
    "extension",
    "too-costly",
    "business-rule",
    "conflict",
    "transient",
    "lock-error",
    "no-store",
    "exception",
    "timeout",
    "incomplete",
    "throttled",
    "informational",
];

fn operation_outcome(o: &Json, out: &mut Vec<String>) {
    let issues = arr(o, "issue");
    if issues.is_empty() {
        out.push("OperationOutcome.issue: required (1..*)".into());
    }
    for (i, x) in issues.iter().enumerate() {
        let p = format!("OperationOutcome.issue[{i}]");
        required_in(
            x,
            "severity",
            &p,
            &["fatal", "error", "warning", "information"],
            out,
        );
        required_in(x, "code", &p, &ISSUE_TYPES, out);
    }
}

fn bundle(b: &Json, out: &mut Vec<String>) {
    required_in(
        b,
        "type",
        "Bundle",
        &[
            "document",
            "message",
            "transaction",
            "transaction-response",
            "batch",
            "batch-response",
            "history",
            "searchset",
            "collection",
        ],
        out,
    );
    let t = s(b, "type").unwrap_or("");
    if b.get("total").is_some() && !matches!(t, "searchset" | "history") {
        out.push("Bundle.total: bdl-1 only for searchset or history".into());
    }
    for (i, e) in arr(b, "entry").iter().enumerate() {
        let p = format!("Bundle.entry[{i}]");
        if e.get("search").is_some() && t != "searchset" {
            out.push(format!("{p}.search: bdl-2 only in a searchset"));
        }
        if let Some(m) = e.get("search") {
            required_in(
                m,
                "mode",
                &format!("{p}.search"),
                &["match", "include", "outcome"],
                out,
            );
        }
        match e.get("resource") {
            Some(r) => {
                if let (Some(url), Some(rt), Some(id)) =
                    (s(e, "fullUrl"), s(r, "resourceType"), s(r, "id"))
                {
                    if !url.ends_with(&format!("{rt}/{id}")) {
                        out.push(format!("{p}.fullUrl: bdl-8 does not end with {rt}/{id}"));
                    }
                }
                for v in resource(r) {
                    out.push(format!("{p}.resource: {v}"));
                }
            }
            None if t == "searchset" => out.push(format!("{p}.resource: expected in a searchset")),
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_validator_catches_what_it_claims_to() {
        let q = json!({"resourceType": "Questionnaire", "status": "published", "name": "phq",
            "item": [{"linkId": "a", "type": "choice", "answerOption": [{"valueCoding": {"code": "1"}}]},
                     {"linkId": "a", "type": "display", "required": true, "text": "x"},
                     {"linkId": "g", "type": "group"},
                     {"linkId": "d", "type": "decimal", "answerOption": [{"valueInteger": 1}]}]});
        let v = resource(&q).join("\n");
        for want in [
            "status: 'published'",
            "inv-0",
            "que-2",
            "que-6",
            "que-1",
            "que-5",
            "needs system and code",
        ] {
            assert!(v.contains(want), "missing {want} in\n{v}");
        }
        let good_q = json!({"resourceType": "Questionnaire", "status": "active", "url": "https://x.example/Q/a",
            "item": [{"linkId": "a", "type": "choice", "required": true,
                "answerOption": [{"valueCoding": {"system": "http://loinc.org", "code": "LA6568-5"}}]}]});
        assert!(resource(&good_q).is_empty(), "{:?}", resource(&good_q));
        let qr = json!({"resourceType": "QuestionnaireResponse", "status": "completed",
            "questionnaire": "https://x.example/Q/a", "subject": {"reference": "Patient/p 1"},
            "item": [{"linkId": "a", "answer": [{"valueInteger": 1}, {"valueInteger": 2}]}, {"linkId": "zz", "answer": [{"valueCoding": {"system": "s:x", "code": "1"}}]}]});
        let v = response_against(&qr, &good_q).join("\n");
        for want in [
            "does not repeat",
            "takes [\"valueCoding\"]",
            "'zz' is not in",
            "is not Type/id",
        ] {
            assert!(v.contains(want), "missing {want} in\n{v}");
        }
        let qr2 = json!({"resourceType": "QuestionnaireResponse", "status": "completed", "questionnaire": "https://x.example/Q/a", "item": []});
        let v = response_against(&qr2, &good_q).join("\n");
        assert!(
            v.contains("empty array") && v.contains("required item 'a' unanswered"),
            "{v}"
        );
        let obs = json!({"resourceType": "Observation", "status": "done", "valueQuantity": {"value": "3", "code": "{score}"}, "valueInteger": 3});
        let v = resource(&obs).join("\n");
        for want in [
            "status: 'done'",
            "code: required",
            "at most one",
            "a number",
            "qty-3",
        ] {
            assert!(v.contains(want), "missing {want} in\n{v}");
        }
    }
}
